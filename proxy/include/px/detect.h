/*
 * px/detect.h - protocol detection on the first bytes of a connection.
 *
 * Pure: bytes in, verdict out; no I/O, no allocation, no logging.
 *
 *   - the HTTP/2 connection preface "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
 *     -> PX_PROTO_H2;
 *   - a request line "TOKEN SP TARGET SP HTTP/1.x CRLF" -> PX_PROTO_H1; a
 *     well-known method (GET, POST, ...) followed by SP is enough, so that a
 *     malformed rest of the line gets a 400 rather than an opaque relay;
 *   - anything else -> PX_PROTO_OPAQUE, as soon as the bytes rule out both;
 *   - a prefix of either form -> PX_PROTO_NEED_MORE; the caller gives up
 *     (opaque) after its detect timeout or PX_DETECT_MAX bytes.
 */
#ifndef PX_DETECT_H
#define PX_DETECT_H

#include <stddef.h>

/* Bytes examined at most: a request line longer than this is opaque. */
#define PX_DETECT_MAX 8192

typedef enum {
    PX_PROTO_NEED_MORE = 0,
    PX_PROTO_OPAQUE,
    PX_PROTO_H1,
    PX_PROTO_H2,
} px_proto_t;

#define PX_H2_PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define PX_H2_PREFACE_LEN 24

px_proto_t px_detect(const char *p, size_t n);
/* "http/1", "h2", "opaque" or "unknown". */
const char *px_proto_name(px_proto_t p);

#endif
