/*
 * px/h1.h - HTTP/1.1 message parsing, framing and head rewriting.
 *
 * Pure (picohttpparser-style): the parsers read a byte range and return
 * pointer+length pairs into it, with nothing copied and nothing allocated;
 * the result stays valid as long as those bytes do. No I/O, no logging.
 *
 * Strictness (RFC 9112, with the request-smuggling defences of
 * doc/reliability §2.4/§8.2): every line ends in CRLF (a bare CR or LF is an
 * error), header names are tokens with no whitespace before the colon,
 * obs-fold is refused, field values hold no CTL but HTAB, the method is a
 * token, the target has no CTL or space, the version is HTTP/1.0 or 1.1.
 */
#ifndef PX_H1_H
#define PX_H1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "px/buf.h"

/* A header block (request or status line included) larger than this is
 * refused with 431. */
#define PX_H1_MAX_HEAD (64 * 1024)
/* More header fields than this are refused with 431. */
#define PX_H1_MAX_HEADERS 100
/* Longest chunk-size line (size + extensions). */
#define PX_H1_MAX_CHUNK_LINE 4096
/* Largest trailer section after the last chunk. */
#define PX_H1_MAX_TRAILERS (16 * 1024)

/* Parser results besides a positive head length. */
#define PX_H1_INCOMPLETE (-1) /* need more bytes */
#define PX_H1_ERR_BAD (-2)    /* malformed: 400 (or 502 for a response) */
#define PX_H1_ERR_LARGE (-3)  /* over PX_H1_MAX_HEAD / PX_H1_MAX_HEADERS: 431 */

typedef struct px_h1_header {
    const char *name;
    size_t name_len;
    const char *value; /* leading and trailing whitespace removed */
    size_t value_len;
} px_h1_header_t;

typedef struct px_h1_msg {
    const char *method; /* requests */
    size_t method_len;
    const char *target;
    size_t target_len;
    int status;         /* responses: 100..999 */
    const char *reason;
    size_t reason_len;
    int minor_version;  /* 0 or 1 */
    size_t nheaders;
    px_h1_header_t headers[PX_H1_MAX_HEADERS];
} px_h1_msg_t;

/* Parse a request / response head from p[0..n). Return the head's length
 * (through the empty line) when complete, else PX_H1_INCOMPLETE or a
 * PX_H1_ERR_*. An incomplete head already longer than PX_H1_MAX_HEAD is
 * PX_H1_ERR_LARGE. */
int px_h1_parse_request(const char *p, size_t n, px_h1_msg_t *m);
int px_h1_parse_response(const char *p, size_t n, px_h1_msg_t *m);

typedef enum {
    PX_H1_BODY_NONE = 0,  /* no body */
    PX_H1_BODY_LENGTH,    /* Content-Length bytes */
    PX_H1_BODY_CHUNKED,   /* chunked transfer coding */
    PX_H1_BODY_CLOSE,     /* until the connection closes (responses only) */
} px_h1_body_t;

/* What a message's headers say about framing and the connection. */
typedef struct px_h1_framing {
    px_h1_body_t body;
    uint64_t length;        /* for PX_H1_BODY_LENGTH */
    bool keep_alive;        /* persistent per version and Connection */
    bool expect_continue;   /* Expect: 100-continue */
    bool upgrade;           /* Connection: upgrade with an Upgrade header */
    const char *authority;  /* Host value (requests), NULL if none */
    size_t authority_len;
    int grpc_status;        /* grpc-status header value, -1 if none */
} px_h1_framing_t;

/* Validates a parsed request's framing headers. Returns 0, or the status to
 * answer with: 400 (CL with TE, several or bad Content-Length, TE with
 * chunked not last or repeated, several Host, no Host on 1.1), or 501
 * (a transfer coding other than chunked). */
int px_h1_request_framing(const px_h1_msg_t *m, px_h1_framing_t *f);
/* The same for a response to a request with method `head_request` (HEAD)
 * and whether the request asked for an upgrade. Returns 0 or 502 (the
 * upstream sent something we will not relay). */
int px_h1_response_framing(const px_h1_msg_t *m, bool head_request, px_h1_framing_t *f);

/* Appends the head to forward: the start line as received, every header
 * except hop-by-hop ones (Connection and the names it lists, Keep-Alive,
 * Proxy-Connection, TE, Transfer-Encoding, Upgrade; Trailer is end-to-end
 * and kept, since trailers are forwarded), then
 * Transfer-Encoding: chunked when `chunked`, Connection: close when `close`,
 * or Connection: upgrade + the Upgrade header when `upgrade`, then CRLF.
 * Returns 0 or -1 (buffer limit `max` or no memory). */
int px_h1_write_head(px_buf_t *out, size_t max, const px_h1_msg_t *m, bool request,
                     bool chunked, bool close, bool upgrade) __attribute__((warn_unused_result));

/* Incremental chunked-body decoder (RFC 9112 §7.1). Zero-init to start. */
typedef struct px_h1_chunked {
    int state;           /* internal state */
    uint64_t remaining;  /* data bytes left in the current chunk */
    size_t line;         /* bytes of the current size line or trailer section */
    unsigned digits;     /* hex digits seen in the size */
    bool keep_trailers;  /* set by the caller: stop before the trailer section
                          * (px_h1_chunked_at_trailers) instead of skipping it */
} px_h1_chunked_t;

/* Decodes from p[0..n). Returns the number of bytes consumed (>= 0) and sets
 * *data and *data_len to a span of body data inside those bytes (length 0 when
 * only framing was consumed); *done becomes true once the last chunk and
 * trailers are complete (bytes after that are not consumed). Returns 0 with
 * no data when more input is needed. PX_H1_ERR_BAD on a malformed size line,
 * a size over 2^60, a missing CRLF after data, or oversized trailers. */
long px_h1_chunked_decode(px_h1_chunked_t *d, const char *p, size_t n, const char **data,
                          size_t *data_len, bool *done);

/* True when a decoder with keep_trailers has consumed the last chunk's size
 * line and stopped before the trailer section: the caller parses the section
 * with px_h1_parse_trailers, then calls px_h1_chunked_finish. */
bool px_h1_chunked_at_trailers(const px_h1_chunked_t *d);
/* Marks the body complete (after the caller consumed the trailer section). */
void px_h1_chunked_finish(px_h1_chunked_t *d);

/* Parses a trailer section (zero or more field lines, then CRLF) from
 * p[0..n) with the same strictness as a head. Returns its length (through
 * the empty line), PX_H1_INCOMPLETE, PX_H1_ERR_BAD, or PX_H1_ERR_LARGE when
 * it exceeds PX_H1_MAX_TRAILERS bytes or PX_H1_MAX_HEADERS fields. Only
 * m->nheaders and m->headers are set. */
int px_h1_parse_trailers(const char *p, size_t n, px_h1_msg_t *m);
/* Appends the end of a chunked body: "0" CRLF, the trailer fields of `m`
 * except hop-by-hop ones and those RFC 9110 §6.5.1 forbids in trailers
 * (framing and routing: Content-Length, Transfer-Encoding, Host, Trailer,
 * and the names Connection lists), then CRLF. `m` NULL writes no fields.
 * Returns 0 or -1 (limit `max` or no memory). */
int px_h1_write_trailers(px_buf_t *out, size_t max, const px_h1_msg_t *m)
    __attribute__((warn_unused_result));

/* Case-insensitive compare of a length-delimited string with a C string. */
bool px_h1_iequal(const char *a, size_t an, const char *b);

#endif
