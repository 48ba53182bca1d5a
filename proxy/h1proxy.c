/* HTTP/1.1 proxying: one downstream connection, one exchange at a time.
 *
 * States (the exchange in flight is in h1_t):
 *   IDLE      between requests; idle timer armed; nothing buffered
 *   HEAD      some of a request head has arrived; header timer armed
 *   EXCHANGE  the head was forwarded; request body and response flow
 *   CLOSING   the last response is queued; FIN after it, then close
 *
 * Bodies are streamed in both directions with backpressure: a source is read
 * only while its sink holds less than PX_SOCK_OUT_HIGH unsent bytes, and the
 * sink's on_written (drained) resumes it. Chunked bodies are decoded and
 * re-encoded (extensions are dropped, trailers are parsed, filtered and
 * forwarded), so what reaches the peer is framed by us, never passed through
 * unchecked. A close-delimited response is re-framed as chunked toward an
 * HTTP/1.1 client, so its connection stays reusable. Pipelined requests wait
 * in the downstream buffer (bounded by its in_max) until the exchange before
 * them completes.
 *
 * A pooled upstream connection may have been closed by the server just as
 * we reused it (the keep-alive race, RFC 9112 §9.3.1): when it fails before
 * any response byte, the request is sent again, once, on a new connection.
 * That needs every request byte already sent: the head is still in
 * `scratch`, and body bytes are copied to `replay` (up to PX_H1_REPLAY_MAX)
 * while the connection is a reused one.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "mesh/log.h"
#include "mesh/mem.h"
#include "px/conn.h"
#include "px/err.h"
#include "px/h1.h"

/* After the last response of a connection is queued, how long the client
 * gets to read it before the connection is dropped. */
#define PX_H1_LINGER_MS 5000
/* Largest request head we re-write (ours may add a few headers). */
#define PX_H1_SCRATCH_MAX (PX_H1_MAX_HEAD + 1024)
/* An idle connection keeps its buffers this long (a keep-alive client's
 * next request usually comes sooner), then frees them. */
#define PX_H1_SHRINK_MS 1000
/* Request body bytes kept for a retry on a reused upstream connection; a
 * request that streams more than this is not retried. */
#define PX_H1_REPLAY_MAX (64 * 1024)

enum { H1_IDLE, H1_HEAD, H1_EXCHANGE, H1_CLOSING };

/* The series of a connection's last exchange, reused while requests keep
 * the same authority and target (and responses the same status): a
 * keep-alive client asks the same host again and again, so the labels are
 * formatted and looked up once per connection, not per request. */
typedef struct h1_series {
    px_metrics_ref_t req;     /* request_total */
    px_metrics_ref_t resp;    /* response_total{resp_status, success, no grpc/error} */
    px_metrics_ref_t lat;     /* response_latency_ms{lat_status} */
    int resp_status;          /* status `resp` was taken for, 0 = none */
    int lat_status;           /* status `lat` was taken for, 0 = none */
    px_addr_t target;         /* target_* labels */
    size_t auth_len;          /* authority label value (cut like the label) */
    char auth[PX_METRICS_LABEL_VALUE_MAX];
} h1_series_t;

typedef struct h1 {
    px_conn_t *conn;          /* downstream */
    int state;                /* H1_* */
    px_upstream_t *up;        /* upstream of the current exchange */
    px_addr_t target;         /* where this request goes */
    px_deferred_t free_d;     /* used when the connection becomes a tunnel */
    px_buf_t scratch;         /* head being re-written */
    bool counted;             /* request_total was counted for this exchange */
    bool reused;              /* the upstream came from the idle pool */
    bool replay_ok;           /* every body byte sent upstream is in `replay` */
    px_buf_t replay;          /* request body as sent upstream (reused upstream only) */
    uint64_t up_in0;          /* up->sock.bytes_in when this exchange took it */
    bool head_req;            /* the request is HEAD */
    bool upgrade_req;         /* the request asked for an upgrade */
    bool req_keep_alive;      /* the client allows another request */
    int req_minor;            /* request HTTP/1.x minor version */
    px_h1_body_t req_body;    /* request body framing */
    uint64_t req_left;        /* Content-Length bytes still to relay */
    px_h1_chunked_t req_ch;   /* request chunk decoder */
    bool req_done;            /* request fully relayed */
    bool resp_head;           /* final response head relayed */
    bool resp_started;        /* any response bytes (even 1xx) sent downstream */
    bool resp_done;           /* response fully relayed */
    bool resp_keep_alive;     /* the upstream allows reuse */
    bool resp_chunk_out;      /* close-delimited response re-framed as chunked */
    px_h1_body_t resp_body;   /* response body framing */
    uint64_t resp_left;
    px_h1_chunked_t resp_ch;
    bool close_down;          /* close downstream after this response */
    bool shrunk;              /* idle, and the buffers were released */
    int status;               /* final response status */
    int grpc_status;          /* -1 if none */
    uint64_t t0;              /* request head received (loop ms) */
    h1_series_t series;       /* metric series of the current authority/target */
} h1_t;

static void on_down_read(px_sock_t *s, int status);
static void on_down_written(px_sock_t *s, int status);
static void on_up_read(px_sock_t *s, int status);
static void on_up_written(px_sock_t *s, int status);
static void try_parse(h1_t *h);
static void pump_req(h1_t *h);
static void pump_resp(h1_t *h, bool eof);

static const char *reason_of(int status)
{
    switch (status) {
    case 400: return "Bad Request";
    case 408: return "Request Timeout";
    case 431: return "Request Header Fields Too Large";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    }
    return "Error";
}

static bool same_addr(const px_addr_t *a, const px_addr_t *b);

/* The request labels of the current exchange (the slow path only). */
static void request_labels(h1_t *h, px_labels_t *l)
{
    px_labels_init(l);
    px_labels_adds(l, "direction", h->conn->dir == PX_DIR_INBOUND ? "inbound" : "outbound");
    px_labels_add(l, "authority", h->series.auth, h->series.auth_len);
    px_labels_target(l, &h->series.target);
    px_labels_adds(l, "tls", "disabled");
}

/* `target` is what the target_* labels name: the address the client dialled
 * (px_conn_label_target), which on inbound is not where we connect. */
static void count_request(h1_t *h, const char *auth, size_t auth_len, const px_addr_t *target)
{
    px_worker_t *w = h->conn->w;
    h1_series_t *hs = &h->series;
    if (auth_len > sizeof(hs->auth))
        auth_len = sizeof(hs->auth); /* the label value is cut there too */
    if (!px_metrics_ref_valid(w->metrics, &hs->req) || hs->auth_len != auth_len ||
        memcmp(hs->auth, auth, auth_len) != 0 || !same_addr(&hs->target, target)) {
        memcpy(hs->auth, auth, auth_len);
        hs->auth_len = auth_len;
        hs->target = *target;
        hs->resp_status = hs->lat_status = 0;
        px_labels_t l;
        request_labels(h, &l);
        if (!px_metrics_ref_get(w->metrics, PX_M_REQUEST_TOTAL, &l, h->t0, &hs->req))
            return;
    }
    px_metrics_ref_inc(&hs->req, 1, h->t0);
}

static void count_response(h1_t *h, int status, const char *error)
{
    if (!h->counted)
        return;
    h->counted = false;
    px_worker_t *w = h->conn->w;
    h1_series_t *hs = &h->series;
    uint64_t now = px_loop_now(w->loop);
    bool plain = status != 0 && !error[0] && h->grpc_status < 0;
    if (plain && status == hs->resp_status && px_metrics_ref_valid(w->metrics, &hs->resp)) {
        px_metrics_ref_inc(&hs->resp, 1, now);
        return;
    }
    char st[16], gs[16] = "";
    snprintf(st, sizeof(st), "%d", status);
    if (h->grpc_status >= 0)
        snprintf(gs, sizeof(gs), "%d", h->grpc_status);
    bool failure = status >= 500 || status == 0 || error[0] || h->grpc_status > 0;
    px_labels_t l;
    request_labels(h, &l);
    px_labels_adds(&l, "status_code", status ? st : "");
    px_labels_adds(&l, "classification", failure ? "failure" : "success");
    px_labels_adds(&l, "grpc_status", gs);
    px_labels_adds(&l, "error", error);
    if (!plain) {
        px_metrics_inc(w->metrics, PX_M_RESPONSE_TOTAL, &l, 1, now);
        return;
    }
    hs->resp_status = 0;
    if (px_metrics_ref_get(w->metrics, PX_M_RESPONSE_TOTAL, &l, now, &hs->resp)) {
        hs->resp_status = status;
        px_metrics_ref_inc(&hs->resp, 1, now);
    }
}

static void observe_latency(h1_t *h, int status)
{
    px_worker_t *w = h->conn->w;
    h1_series_t *hs = &h->series;
    uint64_t now = px_loop_now(w->loop);
    if (status != hs->lat_status || !px_metrics_ref_valid(w->metrics, &hs->lat)) {
        char st[16];
        snprintf(st, sizeof(st), "%d", status);
        px_labels_t l;
        request_labels(h, &l);
        px_labels_adds(&l, "status_code", st);
        hs->lat_status = 0;
        if (!px_metrics_ref_get(w->metrics, PX_M_RESPONSE_LATENCY_MS, &l, now, &hs->lat))
            return;
        hs->lat_status = status;
    }
    px_metrics_ref_observe_ms(&hs->lat, (double)(now - h->t0), now);
}

static void drop_upstream(h1_t *h, int err)
{
    px_upstream_t *up = h->up;
    h->up = NULL;
    if (up)
        px_upstream_close(up, err);
}

/* Tears everything down now (an error after the response began). */
static void abort_exchange(h1_t *h, int err, const char *error)
{
    count_response(h, h->resp_head ? h->status : 0, error);
    drop_upstream(h, err);
    px_conn_close(h->conn, err);
}

static void enter_closing(h1_t *h)
{
    px_conn_t *conn = h->conn;
    h->state = H1_CLOSING;
    px_buf_free(&h->replay);
    px_sock_read_stop(&conn->sock);
    px_sock_shutdown(&conn->sock);
    px_timer_arm(conn->w->loop, &conn->timer, PX_H1_LINGER_MS);
}

/* The upstream broke the message it was sending (a bad chunk, say): the
 * upstream connection is closed, and the client gets what was already
 * relayed followed by a close, so the unterminated body shows the failure. */
static void abort_response(h1_t *h, int err, const char *error)
{
    count_response(h, h->resp_head ? h->status : 0, error);
    px_conn_count_error(h->conn->w, h->conn->dir, error);
    drop_upstream(h, err);
    enter_closing(h);
}

/* Answers with an error status and closes; only before any response byte. */
static void respond_error(h1_t *h, int status, const char *error)
{
    if (h->resp_started) {
        abort_exchange(h, EIO, error);
        return;
    }
    drop_upstream(h, 0);
    count_response(h, status, error);
    char msg[192];
    int n = snprintf(msg, sizeof(msg),
                     "HTTP/1.1 %d %s\r\ncontent-type: text/plain\r\ncontent-length: %zu\r\n"
                     "connection: close\r\n\r\n%s\n",
                     status, reason_of(status), strlen(reason_of(status)) + 1, reason_of(status));
    if (px_sock_write(&h->conn->sock, msg, (size_t)n) != 0) {
        px_conn_close(h->conn, EIO);
        return;
    }
    h->resp_started = true;
    enter_closing(h);
}

static void reset_exchange(h1_t *h)
{
    h->up = NULL;
    h->counted = h->head_req = h->upgrade_req = false;
    h->reused = h->replay_ok = false;
    h->req_done = h->resp_head = h->resp_started = h->resp_done = h->resp_keep_alive = false;
    h->resp_chunk_out = false;
    h->req_body = h->resp_body = PX_H1_BODY_NONE;
    h->req_left = h->resp_left = 0;
    memset(&h->req_ch, 0, sizeof(h->req_ch));
    memset(&h->resp_ch, 0, sizeof(h->resp_ch));
    h->req_ch.keep_trailers = h->resp_ch.keep_trailers = true;
    h->status = 0;
    h->grpc_status = -1;
}

static void finish_exchange(h1_t *h)
{
    px_conn_t *conn = h->conn;
    count_response(h, h->status, "");
    if (!h->req_done) {
        /* RFC 9112 §9.3: the response came before the whole request; the
         * rest of the request cannot be told from a next one. */
        h->close_down = true;
        h->resp_keep_alive = false;
    }
    px_upstream_t *up = h->up;
    h->up = NULL;
    if (up)
        px_upstream_release(up, h->resp_keep_alive && h->req_minor == 1 && h->req_done);
    px_buf_free(&h->replay);
    if (h->close_down || conn->w->draining || !h->req_keep_alive) {
        enter_closing(h);
        return;
    }
    reset_exchange(h);
    h->state = H1_IDLE;
    if (conn->sock.in.len > 0) {
        try_parse(h); /* a pipelined request is already here */
        return;
    }
    if (conn->sock.flags & PX_SOCK_FLAG_EOF) {
        enter_closing(h); /* half-closed: every request it sent is answered */
        return;
    }
    /* The buffers stay for a back-to-back next request; on_timer frees
     * them after PX_H1_SHRINK_MS of idleness. */
    uint64_t idle = conn->w->cfg->http_idle_timeout_ms;
    h->shrunk = idle <= PX_H1_SHRINK_MS;
    px_timer_arm(conn->w->loop, &conn->timer, h->shrunk ? idle : PX_H1_SHRINK_MS);
    px_sock_read_start(&conn->sock);
}

/* --- targets ------------------------------------------------------------------ */

static bool same_addr(const px_addr_t *a, const px_addr_t *b)
{
    return a->len == b->len && memcmp(&a->sa, &b->sa, a->len) == 0;
}

/* --- exchange start --------------------------------------------------------------- */

static void on_connect(px_upstream_t *up, int status);
static void attach_upstream(h1_t *h, px_upstream_t *up);

/* Sends the request again on a new connection when the reused one failed
 * before answering (see the top of the file). Returns true when the retry is
 * under way (h->up replaced), false when the caller must report the error. */
static bool retry_stale(h1_t *h, int err)
{
    px_upstream_t *up = h->up;
    if (up == NULL || !h->reused || !h->replay_ok || h->resp_started ||
        up->sock.bytes_in != h->up_in0 || up->sock.in.len > 0)
        return false;
    px_worker_t *w = h->conn->w;
    h->reused = false; /* a fresh connection is never retried */
    drop_upstream(h, err);
    int cerr = 0;
    up = px_upstream_connect(w, h->conn->dir, &h->target, on_connect, h, &cerr);
    if (up == NULL)
        return false;
    attach_upstream(h, up);
    if (px_sock_write(&up->sock, px_buf_data(&h->scratch), h->scratch.len) != 0 ||
        px_sock_write(&up->sock, px_buf_data(&h->replay), h->replay.len) != 0)
        return false;
    px_buf_free(&h->replay);
    return true;
}

static void on_connect(px_upstream_t *up, int status)
{
    h1_t *h = up->data;
    if (status != 0) {
        h->up = NULL; /* closed by the upstream layer */
        respond_error(h, status == PX_ERR_TIMEOUT ? 504 : 502,
                      status == PX_ERR_TIMEOUT ? "connect_timeout" : "connect_error");
        return;
    }
    px_sock_read_start(&up->sock);
    pump_req(h);
}

static void attach_upstream(h1_t *h, px_upstream_t *up)
{
    h->up = up;
    up->data = h;
    up->sock.data = up;
    up->sock.on_read = on_up_read;
    up->sock.on_written = on_up_written;
    up->sock.flags |= PX_SOCK_FLAG_KEEP_BUFS;
}

static void start_exchange(h1_t *h, const px_h1_msg_t *m, const px_h1_framing_t *f, size_t head_len)
{
    px_conn_t *conn = h->conn;
    px_worker_t *w = conn->w;
    px_timer_cancel(w->loop, &conn->timer);
    h->state = H1_EXCHANGE;
    h->t0 = px_loop_now(w->loop);
    h->head_req = px_h1_iequal(m->method, m->method_len, "HEAD");
    h->upgrade_req = f->upgrade;
    h->req_keep_alive = f->keep_alive;
    h->req_minor = m->minor_version;
    h->grpc_status = -1;

    if (f->body == PX_H1_BODY_CHUNKED) {
        /* Check the chunk framing already received before anything goes
         * upstream, so a malformed body is a clean 400 with nothing sent.
         * (Later bytes are checked as they stream; since we re-frame every
         * chunk, a bad one then only truncates what the upstream sees.) */
        px_h1_chunked_t probe = {0};
        const char *p = px_buf_data(&conn->sock.in) + head_len;
        size_t n = conn->sock.in.len - head_len;
        while (n > 0) {
            const char *d;
            size_t dl;
            bool done;
            long c = px_h1_chunked_decode(&probe, p, n, &d, &dl, &done);
            if (c < 0) {
                respond_error(h, 400, "invalid_body");
                return;
            }
            if (done || (c == 0 && dl == 0))
                break;
            p += c;
            n -= (size_t)c;
        }
    }
    if (conn->has_target) {
        h->target = conn->connect_to;
    } else if (!f->authority ||
               px_conn_target_from_authority(conn, f->authority, f->authority_len, &h->target) != 0) {
        px_conn_count_error(w, conn->dir, "no_target");
        respond_error(h, 502, "no_target");
        return;
    }
    count_request(h, f->authority ? f->authority : "", f->authority ? f->authority_len : 0,
                  px_conn_label_target(conn, &h->target));
    h->counted = true;

    h->req_body = f->body;
    h->req_left = f->length;
    h->req_done = f->body == PX_H1_BODY_NONE;
    px_buf_consume(&h->scratch, h->scratch.len);
    if (px_h1_write_head(&h->scratch, PX_H1_SCRATCH_MAX, m, true, f->body == PX_H1_BODY_CHUNKED,
                         false, f->upgrade) != 0) {
        respond_error(h, 431, "head_too_large");
        return;
    }
    px_buf_consume(&conn->sock.in, head_len); /* m is invalid from here */

    px_upstream_t *up = px_upstream_take(w, &h->target);
    bool pooled = up != NULL;
    h->reused = pooled;
    h->replay_ok = pooled;
    if (!pooled) {
        int err = 0;
        up = px_upstream_connect(w, conn->dir, &h->target, on_connect, h, &err);
        if (up == NULL) {
            respond_error(h, 502, "connect_error");
            return;
        }
    }
    attach_upstream(h, up);
    h->up_in0 = up->sock.bytes_in;
    if (px_sock_write(&up->sock, px_buf_data(&h->scratch), h->scratch.len) != 0) {
        respond_error(h, 502, "io");
        return;
    }
    if (pooled)
        px_sock_read_start(&up->sock);
    pump_req(h);
}

static void try_parse(h1_t *h)
{
    px_conn_t *conn = h->conn;
    px_h1_msg_t m;
    px_h1_framing_t f;
    int r = px_h1_parse_request(px_buf_data(&conn->sock.in), conn->sock.in.len, &m);
    if (r == PX_H1_INCOMPLETE) {
        if (conn->sock.flags & PX_SOCK_FLAG_EOF) {
            /* A partial head with FIN is dropped; a response still queued
             * (the client half-closed) is flushed first. */
            if (px_sock_pending(&conn->sock) == 0)
                px_conn_close(conn, 0);
            else
                enter_closing(h);
            return;
        }
        if (h->state == H1_IDLE && conn->sock.in.len > 0) {
            h->state = H1_HEAD;
            px_timer_arm(conn->w->loop, &conn->timer, conn->w->cfg->http_header_timeout_ms);
        }
        px_sock_read_start(&conn->sock);
        return;
    }
    if (r < 0) {
        respond_error(h, r == PX_H1_ERR_LARGE ? 431 : 400, "");
        return;
    }
    int st = px_h1_request_framing(&m, &f);
    if (st != 0) {
        respond_error(h, st, "");
        return;
    }
    start_exchange(h, &m, &f, (size_t)r);
}

/* --- request body ------------------------------------------------------------------ */

static int write_chunk(px_sock_t *s, const char *p, size_t n)
{
    char hdr[24];
    int hn = snprintf(hdr, sizeof(hdr), "%zx\r\n", n);
    if (px_sock_write(s, hdr, (size_t)hn) || px_sock_write(s, p, n) || px_sock_write(s, "\r\n", 2))
        return -1;
    return 0;
}

/* The trailer section of a chunked body, once all of it is buffered: parsed,
 * filtered, and written after the last chunk. Returns as relay_body. */
static __attribute__((noinline)) int relay_trailers(px_sock_t *src, px_sock_t *dst,
                                                    px_h1_chunked_t *ch)
{
    const char *p = px_buf_data(&src->in);
    size_t n = src->in.len;
    if (n >= 2 && p[0] == '\r' && p[1] == '\n') { /* none: the usual case */
        px_buf_consume(&src->in, 2);
        px_h1_chunked_finish(ch);
        return px_sock_write(dst, "0\r\n\r\n", 5) ? -2 : 1;
    }
    px_h1_msg_t *m = mesh_malloc(sizeof(*m));
    if (m == NULL)
        return -2;
    int r = px_h1_parse_trailers(p, n, m), ret = 0;
    if (r == PX_H1_INCOMPLETE) {
        ret = 0; /* PX_H1_MAX_TRAILERS < in_max: the rest can still come */
    } else if (r < 0) {
        ret = -1;
    } else {
        px_buf_t out = PX_BUF_INIT;
        ret = px_h1_write_trailers(&out, PX_H1_MAX_TRAILERS + 16, m) != 0 ||
                      px_sock_write(dst, px_buf_data(&out), out.len) != 0
                  ? -2
                  : 1;
        px_buf_free(&out);
        px_buf_consume(&src->in, (size_t)r);
        px_h1_chunked_finish(ch);
    }
    mesh_free(m);
    return ret;
}

/* Moves body bytes from src->in to dst per framing (`chunk_out`: frame a
 * close-delimited body as chunks). Returns 1 when the body is complete, 0
 * when more is needed (or dst is full), -1 malformed, -2 I/O. */
static int relay_body(px_sock_t *src, px_sock_t *dst, px_h1_body_t body, uint64_t *left,
                      px_h1_chunked_t *ch, bool chunk_out)
{
    while (src->in.len > 0) {
        if (px_sock_pending(dst) >= PX_SOCK_OUT_HIGH)
            return 0;
        const char *p = px_buf_data(&src->in);
        size_t n = src->in.len;
        if (body == PX_H1_BODY_LENGTH || body == PX_H1_BODY_CLOSE) {
            if (body == PX_H1_BODY_LENGTH && n > *left)
                n = (size_t)*left;
            if (n > PX_SOCK_OUT_HIGH)
                n = PX_SOCK_OUT_HIGH;
            if ((chunk_out ? write_chunk(dst, p, n) : px_sock_write(dst, p, n)) != 0)
                return -2;
            px_buf_consume(&src->in, n);
            if (body == PX_H1_BODY_LENGTH) {
                *left -= n;
                if (*left == 0)
                    return 1;
            }
            continue;
        }
        if (px_h1_chunked_at_trailers(ch))
            return relay_trailers(src, dst, ch);
        const char *data;
        size_t dlen;
        bool done;
        long c = px_h1_chunked_decode(ch, p, n, &data, &dlen, &done);
        if (c < 0)
            return -1;
        if (dlen && write_chunk(dst, data, dlen) != 0)
            return -2;
        px_buf_consume(&src->in, (size_t)c);
        if (done)
            return px_sock_write(dst, "0\r\n\r\n", 5) ? -2 : 1;
        if (c == 0 && !px_h1_chunked_at_trailers(ch))
            return 0;
    }
    return body == PX_H1_BODY_LENGTH && *left == 0 ? 1 : 0;
}

static void pump_req(h1_t *h)
{
    px_conn_t *conn = h->conn;
    if (h->state != H1_EXCHANGE || h->up == NULL)
        return;
    if (!h->req_done) {
        px_sock_t *us = &h->up->sock;
        size_t before = us->out.len;
        int r = relay_body(&conn->sock, us, h->req_body, &h->req_left, &h->req_ch, false);
        if (h->replay_ok && us->out.len > before) {
            /* What relay_body appended is the tail of `out` (nothing is
             * sent before the loop's flush hook). */
            if (px_buf_append(&h->replay, px_buf_data(&us->out) + before, us->out.len - before,
                              PX_H1_REPLAY_MAX) != 0) {
                h->replay_ok = false;
                px_buf_free(&h->replay);
            }
        }
        if (r == -1) {
            respond_error(h, 400, "invalid_body");
            return;
        }
        if (r == -2) {
            abort_exchange(h, EIO, "io");
            return;
        }
        h->req_done = r == 1;
        if (!h->req_done && (conn->sock.flags & PX_SOCK_FLAG_EOF) && conn->sock.in.len == 0) {
            abort_exchange(h, ECONNRESET, "client_closed");
            return;
        }
    }
    if (h->req_done || px_sock_pending(&h->up->sock) >= PX_SOCK_OUT_HIGH)
        px_sock_read_stop(&conn->sock);
    else
        px_sock_read_start(&conn->sock);
    if (h->req_done && h->resp_done)
        finish_exchange(h);
}

/* --- response ----------------------------------------------------------------------- */

static void become_tunnel(h1_t *h);

static void pump_resp(h1_t *h, bool eof)
{
    px_conn_t *conn = h->conn;
    px_upstream_t *up = h->up;
    while (!h->resp_head) {
        px_h1_msg_t m;
        px_h1_framing_t f;
        int r = px_h1_parse_response(px_buf_data(&up->sock.in), up->sock.in.len, &m);
        if (r == PX_H1_INCOMPLETE) {
            if (eof) {
                if (!retry_stale(h, ECONNRESET))
                    respond_error(h, 502, "upstream_closed");
                return;
            }
            return;
        }
        if (r < 0 || px_h1_response_framing(&m, h->head_req, &f) != 0) {
            respond_error(h, 502, "invalid_response");
            return;
        }
        if (m.status == 101) {
            if (!h->upgrade_req || !f.upgrade) {
                respond_error(h, 502, "unexpected_upgrade");
                return;
            }
            observe_latency(h, 101);
            h->status = 101;
            px_buf_consume(&h->scratch, h->scratch.len);
            if (px_h1_write_head(&h->scratch, PX_H1_SCRATCH_MAX, &m, false, false, false, true) ||
                px_sock_write(&conn->sock, px_buf_data(&h->scratch), h->scratch.len)) {
                abort_exchange(h, EIO, "io");
                return;
            }
            px_buf_consume(&up->sock.in, (size_t)r);
            become_tunnel(h);
            return;
        }
        bool interim = m.status < 200;
        if (!interim) {
            h->status = m.status;
            h->grpc_status = f.grpc_status;
            observe_latency(h, m.status);
            h->resp_body = f.body;
            h->resp_left = f.length;
            h->resp_keep_alive = f.keep_alive;
            /* An HTTP/1.1 client gets a close-delimited body as chunks and
             * keeps its connection; an HTTP/1.0 one cannot parse chunks, so
             * its connection closes with the body. */
            h->resp_chunk_out = f.body == PX_H1_BODY_CLOSE && h->req_minor == 1;
            if ((f.body == PX_H1_BODY_CLOSE && !h->resp_chunk_out) || !h->req_keep_alive ||
                !h->req_done || conn->w->draining)
                h->close_down = true;
        }
        h->resp_started = true;
        h->replay_ok = false;
        px_buf_free(&h->replay);
        px_buf_consume(&h->scratch, h->scratch.len);
        if (px_h1_write_head(&h->scratch, PX_H1_SCRATCH_MAX, &m, false,
                             !interim && (f.body == PX_H1_BODY_CHUNKED || h->resp_chunk_out),
                             !interim && h->close_down, false) ||
            px_sock_write(&conn->sock, px_buf_data(&h->scratch), h->scratch.len)) {
            abort_exchange(h, EIO, "io");
            return;
        }
        px_buf_consume(&up->sock.in, (size_t)r);
        if (!interim) {
            h->resp_head = true;
            h->resp_done = f.body == PX_H1_BODY_NONE;
        }
    }
    if (!h->resp_done) {
        int r = relay_body(&up->sock, &conn->sock, h->resp_body, &h->resp_left, &h->resp_ch,
                           h->resp_chunk_out);
        if (r == -1) {
            abort_response(h, EPROTO, "invalid_body");
            return;
        }
        if (r == -2) {
            abort_exchange(h, EIO, "io");
            return;
        }
        h->resp_done = r == 1;
        if (!h->resp_done && eof && up->sock.in.len == 0) {
            if (h->resp_body != PX_H1_BODY_CLOSE) {
                abort_response(h, ECONNRESET, "upstream_closed");
                return;
            }
            if (h->resp_chunk_out && px_sock_write(&conn->sock, "0\r\n\r\n", 5) != 0) {
                abort_exchange(h, EIO, "io");
                return;
            }
            h->resp_done = true;
        }
    }
    if (h->resp_done) {
        if (!h->req_done)
            px_sock_read_stop(&conn->sock);
        finish_exchange(h);
        return;
    }
    if (px_sock_pending(&conn->sock) >= PX_SOCK_OUT_HIGH)
        px_sock_read_stop(&up->sock);
    else
        px_sock_read_start(&up->sock);
}

/* --- socket callbacks ---------------------------------------------------------------- */

static void on_down_read(px_sock_t *s, int status)
{
    px_conn_t *conn = s->data;
    h1_t *h = conn->proto;
    if (status != 0 && status != PX_ERR_EOF) {
        if (h->state == H1_EXCHANGE)
            abort_exchange(h, s->last_errno, "client_error");
        else
            px_conn_close(conn, s->last_errno);
        return;
    }
    switch (h->state) {
    case H1_IDLE:
    case H1_HEAD:
        /* On FIN try_parse drops a partial head, but only after the last
         * response (possibly still queued) is flushed. */
        try_parse(h);
        return;
    case H1_EXCHANGE:
        /* A FIN after a whole request is a half-close: the response in
         * flight (and any pipelined request's) is still delivered, then
         * finish_exchange closes. */
        pump_req(h);
        return;
    case H1_CLOSING:
        /* Discard what a client sends after we decided to close. */
        px_buf_consume(&s->in, s->in.len);
        if (status == PX_ERR_EOF && px_sock_pending(s) == 0)
            px_conn_close(conn, 0);
        return;
    }
}

static void on_down_written(px_sock_t *s, int status)
{
    px_conn_t *conn = s->data;
    h1_t *h = conn->proto;
    if (status != 0) {
        abort_exchange(h, s->last_errno, "client_error");
        return;
    }
    if (h->state == H1_CLOSING) {
        if (s->flags & PX_SOCK_FLAG_SHUT) {
            /* Our FIN is out; read until the client's (or the linger
             * timer) so the kernel does not reset unread data. */
            px_sock_read_start(s);
            if (s->flags & PX_SOCK_FLAG_EOF)
                px_conn_close(conn, 0);
        }
        return;
    }
    if (h->state == H1_EXCHANGE && h->up && !h->resp_done)
        pump_resp(h, (h->up->sock.flags & PX_SOCK_FLAG_EOF) != 0);
}

static void on_up_read(px_sock_t *s, int status)
{
    px_upstream_t *up = s->data;
    h1_t *h = up->data;
    if (status != 0 && status != PX_ERR_EOF) {
        if (!retry_stale(h, s->last_errno))
            respond_error(h, 502, "upstream_error");
        return;
    }
    pump_resp(h, status == PX_ERR_EOF);
}

static void on_up_written(px_sock_t *s, int status)
{
    px_upstream_t *up = s->data;
    h1_t *h = up->data;
    if (status != 0) {
        if (!retry_stale(h, s->last_errno))
            respond_error(h, 502, "upstream_error");
        return;
    }
    pump_req(h);
}

static void on_timer(px_timer_t *t)
{
    px_conn_t *conn = MESH_CONTAINER_OF(t, px_conn_t, timer);
    h1_t *h = conn->proto;
    if (h->state == H1_HEAD) {
        respond_error(h, 408, "");
    } else if (h->state == H1_IDLE && !h->shrunk) {
        h->shrunk = true;
        px_buf_free(&h->scratch);
        px_sock_shrink(&conn->sock);
        if (px_timer_arm(conn->w->loop, &conn->timer,
                         conn->w->cfg->http_idle_timeout_ms - PX_H1_SHRINK_MS) != 0)
            px_conn_close(conn, ENOMEM);
    } else
        px_conn_close(conn, h->state == H1_CLOSING ? ETIMEDOUT : 0);
}

/* --- lifecycle ------------------------------------------------------------------------ */

static void h1_free_deferred(px_deferred_t *d)
{
    h1_t *h = MESH_CONTAINER_OF(d, h1_t, free_d);
    px_buf_free(&h->scratch);
    px_buf_free(&h->replay);
    mesh_free(h);
}

static void h1_free(px_conn_t *conn)
{
    h1_t *h = conn->proto;
    drop_upstream(h, 0);
    px_loop_defer(conn->w->loop, &h->free_d, h1_free_deferred);
}

static void h1_drain(px_conn_t *conn)
{
    h1_t *h = conn->proto;
    if (h->state == H1_IDLE)
        px_conn_close(conn, 0);
    /* Otherwise the response in flight carries Connection: close (or, if its
     * head is already out, the connection closes after it). */
}

static const px_conn_proto_t h1_proto = {"http/1", h1_drain, h1_free};

static void become_tunnel(h1_t *h)
{
    px_conn_t *conn = h->conn;
    px_upstream_t *up = h->up;
    h->up = NULL;
    count_response(h, 101, "");
    conn->proto_ops = NULL;
    conn->proto = NULL;
    px_loop_defer(conn->w->loop, &h->free_d, h1_free_deferred);
    conn->sock.flags &= ~PX_SOCK_FLAG_KEEP_BUFS; /* the relay frees as it drains */
    up->sock.flags &= ~PX_SOCK_FLAG_KEEP_BUFS;
    px_tcp_relay(conn, up);
}

void px_h1_serve(px_conn_t *conn)
{
    h1_t *h = mesh_calloc(1, sizeof(*h));
    if (h == NULL) {
        px_conn_close(conn, ENOMEM);
        return;
    }
    h->conn = conn;
    px_deferred_init(&h->free_d);
    reset_exchange(h);
    h->state = H1_IDLE;
    conn->proto = h;
    conn->proto_ops = &h1_proto;
    conn->sock.on_read = on_down_read;
    conn->sock.on_written = on_down_written;
    conn->sock.data = conn;
    conn->sock.flags |= PX_SOCK_FLAG_KEEP_BUFS;
    conn->timer.cb = on_timer;
    px_timer_cancel(conn->w->loop, &conn->timer);
    try_parse(h);
}
