/*
 * px/h2.h - HTTP/2 (h2c with prior knowledge) and gRPC proxying on nghttp2.
 *
 * Two layers:
 *
 *   The core (h2core.c) does no I/O: the limits below, the nghttp2 options
 *   and SETTINGS every session of ours starts with, a token bucket for the
 *   peer's stream resets, and the decoded-header accounting. nghttp2 itself
 *   is driven with nghttp2_session_mem_recv / nghttp2_session_mem_send, so
 *   a session can be fed bytes and its output read back in a test or a fuzz
 *   target without a socket.
 *
 *   The proxy (h2.c) binds sessions to sockets. A downstream connection
 *   detected as HTTP/2 becomes a server session; its streams are forwarded
 *   onto ONE upstream client session per (worker, target), shared by every
 *   downstream connection of that worker to that target. Bodies are not
 *   buffered beyond the flow-control windows: both sessions run without
 *   automatic WINDOW_UPDATEs, and bytes received on one side are
 *   acknowledged (nghttp2_session_consume) only once the other side's
 *   session has taken them for sending. Trailers (grpc-status) are carried
 *   through; request_total / response_total / response_latency_ms are
 *   recorded per stream as the HTTP/1 path records them, with the same
 *   target labels (px_conn_label_target).
 *
 *   The target is the connection's original destination, or - outbound
 *   without one, with CMESH_PROXY_OUTBOUND_TARGET_FROM_HOST - each stream's
 *   :authority (else Host); a downstream connection keeps references to
 *   the upstream sessions of up to 8 such targets. A stream whose authority
 *   names no usable target gets 502 (outbound_tcp_errors_total{error=
 *   "no_target"}).
 *
 *   Timeouts per stream (px/config.h): no response head within
 *   h2_response_timeout_ms -> the client gets 504 with l5d-proxy-error, or
 *   for a gRPC request (content-type application/grpc*) a trailers-only
 *   200 with grpc-status 4, and the upstream stream is reset (CANCEL); no
 *   DATA either way for h2_stream_idle_timeout_ms after the response head
 *   -> both halves reset with CANCEL. error label "response_timeout" /
 *   "stream_idle_timeout".
 *
 *   An upstream REFUSED_STREAM (or a GOAWAY excluding the stream) before
 *   any response sends the request again, once, on a usable session, its
 *   body too: the body bytes given upstream are kept until the response
 *   head, up to one stream window (a longer body, or request trailers
 *   already sent, are not retried); a second refusal reaches the client as
 *   REFUSED_STREAM.
 *
 * Abuse limits, all per downstream connection:
 *   - SETTINGS_MAX_CONCURRENT_STREAMS = PX_H2_MAX_CONCURRENT_STREAMS;
 *     exchanges still alive upstream (a reset stream stays counted until its
 *     upstream stream is gone too) are capped at PX_H2_MAX_INFLIGHT, past
 *     which new streams are refused (REFUSED_STREAM);
 *   - RST_STREAM from the client beyond a token bucket of
 *     PX_H2_RESET_BURST, refilled at PX_H2_RESET_RATE per second, ends the
 *     connection (GOAWAY ENHANCE_YOUR_CALM) - rapid reset;
 *   - at most PX_H2_MAX_CONTINUATIONS CONTINUATION frames per header block
 *     (nghttp2 ends the connection past that) - CONTINUATION flood;
 *   - decoded headers of one block over PX_H2_MAX_HEADER_BYTES (name +
 *     value + 32 per field, as SETTINGS_MAX_HEADER_LIST_SIZE counts) or
 *     over PX_H2_MAX_HEADER_FIELDS fields (each cookie crumb counts) reset
 *     the stream, and nothing is forwarded;
 *   - queued SETTINGS/PING ACKs and SETTINGS entries bounded by nghttp2,
 *     whose own reset limiter (1000 burst, 33/s) stays on as a backstop.
 *
 * Graceful shutdown (RFC 9113 §6.8), in three steps, each gated on the
 * client having read what came before, so that no stream the client opens
 * is refused:
 *   1. a PING, then no more output until its ACK: the client has then
 *      processed everything sent so far;
 *   2. the shutdown notice GOAWAY (last stream id 2^31-1) as the first bytes
 *      after that PING, so a client reacting to responses in the same read
 *      (h2load opens its next stream from the stream-close callback) sees
 *      the notice before any of them and opens nothing it cannot send; a
 *      second PING right behind it;
 *   3. on the second ACK, every stream the client opened before it saw the
 *      notice has arrived: the final GOAWAY names the last of them; those
 *      streams complete, then the connection closes.
 * The two frames of ours are written between nghttp2's frames, at a frame
 * boundary (px_h2_framer_t). A client that does not answer a PING within
 * PX_H2_DRAIN_ACK_MS moves on to the next step anyway.
 */
#ifndef PX_H2_H
#define PX_H2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nghttp2/nghttp2.h>

/* Advertised SETTINGS_MAX_CONCURRENT_STREAMS (nghttp2 defaults to 2^31-1). */
#define PX_H2_MAX_CONCURRENT_STREAMS 100
/* Exchanges of one downstream connection alive at once, counting streams the
 * client reset whose upstream half is not finished yet. */
#define PX_H2_MAX_INFLIGHT (2 * PX_H2_MAX_CONCURRENT_STREAMS)
/* Client RST_STREAM budget: burst, then per second. */
#define PX_H2_RESET_BURST 200
#define PX_H2_RESET_RATE 100
/* CONTINUATION frames allowed after one HEADERS. */
#define PX_H2_MAX_CONTINUATIONS 8
/* Decoded header list cap, bytes (RFC 9113 accounting) and fields. */
#define PX_H2_MAX_HEADER_BYTES (64 * 1024)
#define PX_H2_MAX_HEADER_FIELDS 100
/* Per-entry overhead of the accounting (RFC 9113 §6.5.2). */
#define PX_H2_FIELD_OVERHEAD 32
/* Flow-control windows we grant: per stream (SETTINGS_INITIAL_WINDOW_SIZE)
 * and per connection. They bound what the proxy holds per stream / per
 * connection in each direction. */
#define PX_H2_STREAM_WINDOW 65535
#define PX_H2_CONN_WINDOW (1024 * 1024)
/* Pending ACKs and SETTINGS entries nghttp2 accepts before ending the
 * connection. */
#define PX_H2_MAX_OUTBOUND_ACK 1000
#define PX_H2_MAX_SETTINGS 32
/* Graceful shutdown: how long a drain step waits for the client's PING ACK
 * before going on without it. */
#define PX_H2_DRAIN_ACK_MS 1000
/* Largest header block we emit (a forwarded block can not grow past it). */
#define PX_H2_MAX_SEND_HEADER_BLOCK (PX_H2_MAX_HEADER_BYTES + 16 * 1024)

/* --- core: no I/O -------------------------------------------------------------- */

/* Token bucket over loop milliseconds. */
typedef struct px_h2_rate {
    double tokens;     /* available now */
    double burst;      /* capacity */
    double per_ms;     /* refill per millisecond */
    uint64_t last_ms;  /* last refill */
} px_h2_rate_t;

void px_h2_rate_init(px_h2_rate_t *r, unsigned burst, unsigned per_second, uint64_t now_ms);
/* Takes one token; false when the bucket is empty (the limit is exceeded). */
bool px_h2_rate_take(px_h2_rate_t *r, uint64_t now_ms);

/* Decoded header accounting for one header block. */
typedef struct px_h2_hdr_acct {
    size_t bytes;   /* sum of name + value + PX_H2_FIELD_OVERHEAD */
    size_t fields;  /* number of fields, cookie crumbs included */
} px_h2_hdr_acct_t;

static inline void px_h2_hdr_acct_reset(px_h2_hdr_acct_t *a) { a->bytes = a->fields = 0; }
/* Adds a field; returns 0, or -1 once a limit is exceeded. */
int px_h2_hdr_acct_add(px_h2_hdr_acct_t *a, size_t namelen, size_t valuelen);

/* Whether a request or response field is forwarded: everything but
 * connection-specific fields (nghttp2's messaging checks already refuse
 * them on receipt; this keeps the rule in one place for what we emit). */
bool px_h2_forward_field(const uint8_t *name, size_t namelen);

/* Frame boundaries in a stream of HTTP/2 frames (our own output), so that a
 * frame of ours can be put between nghttp2's: never inside one, nor between
 * a HEADERS / PUSH_PROMISE without END_HEADERS and its CONTINUATIONs. Works
 * whatever the chunking of the bytes fed. */
#define PX_H2_FRAME_HEADER 9
typedef struct px_h2_framer {
    uint8_t hdr[PX_H2_FRAME_HEADER]; /* header of the current frame so far */
    uint8_t hlen;                    /* bytes of it seen */
    uint32_t left;                   /* payload bytes still to come */
    bool in_block;                   /* a header block is open */
} px_h2_framer_t;

void px_h2_framer_feed(px_h2_framer_t *f, const uint8_t *p, size_t n);
static inline bool px_h2_framer_at_boundary(const px_h2_framer_t *f)
{
    return f->hlen == 0 && f->left == 0 && !f->in_block;
}

/* Size of the PING and GOAWAY (no debug data) frames built below. */
#define PX_H2_PING_FRAME (PX_H2_FRAME_HEADER + 8)
#define PX_H2_GOAWAY_FRAME (PX_H2_FRAME_HEADER + 8)
/* A PING (not an ACK) carrying `opaque`. */
void px_h2_ping_frame(uint8_t out[PX_H2_PING_FRAME], const uint8_t opaque[8]);
/* A GOAWAY with no debug data. */
void px_h2_goaway_frame(uint8_t out[PX_H2_GOAWAY_FRAME], int32_t last_stream_id, uint32_t error_code);

/* nghttp2 allocator routed through mesh_malloc (failure injection). */
nghttp2_mem *px_h2_mem(void);

/* A session with our options (no automatic WINDOW_UPDATE, CONTINUATION cap, ACK/SETTINGS caps, header block cap). The initial
 * SETTINGS (MAX_CONCURRENT_STREAMS for servers, INITIAL_WINDOW_SIZE,
 * MAX_HEADER_LIST_SIZE, ENABLE_PUSH=0) and the connection window increase
 * are queued. Returns 0 or a nghttp2 error code. */
int px_h2_session_new(nghttp2_session **out, bool server, const nghttp2_session_callbacks *cb,
                      void *user_data);

/* --- proxy ------------------------------------------------------------------- */

typedef struct px_conn px_conn_t;

/* Serves a downstream connection detected as HTTP/2 (the preface is still in
 * conn->sock.in). Installed as px_h2_serve. */
void px_h2_serve_conn(px_conn_t *conn);

#endif
