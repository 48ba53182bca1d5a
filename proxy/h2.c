/* HTTP/2 proxying: downstream server sessions, shared upstream client
 * sessions, streams joining them; see px/h2.h.
 *
 * Objects (all owned by one worker thread):
 *   h2_down_t  one accepted connection (conn->proto) and its server session;
 *   h2_up_t    one upstream connection and its client session, shared by
 *              the downstream connections of this worker to the same target
 *              (refs counts them; a downstream connection holds up to
 *              PX_H2_CONN_TARGETS of them, one per target its requests
 *              named, so the struct outlives its session until the last
 *              reference goes);
 *   h2_stream_t one exchange: a downstream half (stream down_id on d) and an
 *              upstream half (stream up_id on u). It is freed once both halves
 *              are gone, so a stream the client reset still counts against
 *              PX_H2_MAX_INFLIGHT until its upstream stream has ended.
 *
 * nghttp2 forbids mem_send / session_del on a session from within its own
 * callbacks. So callbacks only change state and mark sessions "dirty"; every
 * entry point (socket callbacks, timers, drain, free) ends in run(), which
 * sends what the dirty sessions have to send and closes the ones that are
 * finished, outside any callback.
 *
 * Flow control: both sessions run with automatic WINDOW_UPDATEs off. Bytes
 * of a DATA frame wait in the stream's buffer (req or resp) and are
 * consumed on their source session only when the sink session's data
 * provider takes them, which is when the sink's socket has room. So one
 * stream holds at most one stream window per direction.
 *
 * Targets: the connection's original destination, or, outbound without one
 * (CMESH_PROXY_OUTBOUND_TARGET_FROM_HOST), each stream's :authority.
 *
 * Timeouts: each stream has one timer: first the response timeout (request
 * head to response head), then the idle timeout, which DATA in either
 * direction only postpones by stamping last_ms (no heap operation per frame).
 *
 * REFUSED_STREAM from upstream (or a GOAWAY that leaves our stream out)
 * means the server processed nothing (RFC 9113 §8.7), so the request is sent
 * again, once, on a usable session: its head kept in retry_h, the body bytes
 * already given upstream in replay (up to PX_H2_REPLAY_MAX; they go first
 * again, without being acknowledged downstream a second time, req_acked).
 *
 * Drain (px/h2.h): PING, hold, notice GOAWAY + PING, final GOAWAY; the two
 * frames of ours are written between nghttp2's at a frame boundary
 * (px_h2_framer_t over everything pump_down sends).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/log.h"
#include "mesh/mem.h"
#include "px/conn.h"
#include "px/err.h"
#include "px/h2.h"

/* How long a connection we decided to close may take to flush its GOAWAY. */
#define PX_H2_LINGER_MS 2000
/* Safety cap of a stream body buffer: flow control keeps it under one
 * window; a peer that overruns it loses the stream. */
#define PX_H2_BODY_BUF_MAX (2 * PX_H2_STREAM_WINDOW)
/* Request body bytes kept, once given upstream, for a REFUSED_STREAM /
 * GOAWAY retry (one stream window); a longer body is not retried. */
#define PX_H2_REPLAY_MAX PX_H2_STREAM_WINDOW
/* Upstream sessions one downstream connection keeps referenced (targets
 * named by its requests); past it the oldest reference is dropped. */
#define PX_H2_CONN_TARGETS 8
/* Error text of synthesized timeout answers (grpc-message, l5d-proxy-error). */
#define PX_H2_TIMEOUT_MESSAGE "response timeout"

typedef struct h2_up h2_up_t;
typedef struct h2_down h2_down_t;

/* Graceful shutdown of a downstream connection, step by step (px/h2.h). */
typedef enum {
    DRAIN_NONE,    /* serving */
    DRAIN_PING1,   /* PING 1 goes out at the next frame boundary */
    DRAIN_HOLD,    /* PING 1 sent; no output until its ACK */
    DRAIN_NOTICE,  /* notice GOAWAY + PING 2 go out at the next frame boundary */
    DRAIN_PING2,   /* waiting for PING 2's ACK */
    DRAIN_FINAL,   /* final GOAWAY submitted: no new stream */
} h2_drain_t;

/* Opaque data of the two drain PINGs. */
static const uint8_t drain_ping1[8] = "cmesh-d1", drain_ping2[8] = "cmesh-d2";

/* What is common to both kinds of session. */
typedef struct h2_side {
    nghttp2_session *ng;
    px_list_t dirty_link;  /* in T.dirty while it may have output or be finished */
    bool is_up;
} h2_side_t;

/* A header block being received: name/value rcbufs held by reference. */
typedef struct h2_hl {
    nghttp2_rcbuf **rc;    /* name0, value0, name1, value1, ... */
    size_t n;              /* fields */
    size_t cap;            /* fields allocated */
} h2_hl_t;

typedef struct h2_stream {
    px_worker_t *w;
    px_timer_t timer;      /* response timeout, then idle timeout */
    uint64_t last_ms;      /* last DATA either way (idle timeout) */
    px_addr_t target;      /* upstream address of this request */
    h2_hl_t retry_h;       /* request head as submitted, until a response or the retry */
    uint64_t req_sent;     /* request body bytes given to the upstream session */
    px_buf_t replay;       /* those bytes, while a retry may need them */
    bool no_replay;        /* more than PX_H2_REPLAY_MAX went upstream */
    bool req_trailers_sent; /* request trailers given upstream (not kept) */
    size_t req_acked;      /* bytes at the head of req replayed: window given back already */
    bool retried;          /* already sent again after REFUSED_STREAM */
    bool grpc;             /* content-type application/grpc* */
    bool resp_head;        /* final response head received from upstream */
    h2_down_t *d;          /* downstream connection (NULL once it is freed) */
    h2_up_t *u;            /* upstream session (NULL once the half is gone) */
    int32_t down_id, up_id; /* up_id 0 until submitted */
    bool down_open, up_open; /* halves alive in their sessions */
    px_list_t d_link, u_link;
    h2_hl_t req_h, resp_h;  /* current header block from each side */
    px_h2_hdr_acct_t acct_req, acct_resp;
    px_buf_t req, resp;     /* body bytes not yet taken by the other side */
    bool req_eof, resp_eof; /* the source ended its half */
    bool req_trailers, resp_trailers; /* req_h / resp_h hold trailers to send */
    bool req_deferred, resp_deferred; /* a data provider waits for bytes */
    bool resp_submitted;    /* response headers submitted downstream */
    bool counted;           /* request_total counted; response_total pending */
    int status;             /* response status (0 none) */
    int grpc_status;        /* -1 none */
    const char *error;      /* error label, "" if none */
    uint64_t t0;
    px_labels_t labels;
} h2_stream_t;

struct h2_down {
    h2_side_t side;
    px_conn_t *conn;
    px_worker_t *w;
    h2_up_t *ups[PX_H2_CONN_TARGETS]; /* referenced upstream sessions, oldest first */
    size_t nups;
    px_list_t streams;
    size_t ninflight;       /* h2_stream_t alive (either half) */
    px_h2_rate_t resets;
    px_h2_framer_t framer;  /* frame boundaries of what we sent */
    h2_drain_t drain;
    bool dead;              /* close at the next run() */
    bool close_after_flush; /* close once the output is sent (GOAWAY) */
    px_deferred_t free_d;
};

struct h2_up {
    h2_side_t side;
    px_upstream_t *px;      /* NULL once closed */
    px_worker_t *w;
    px_dir_t dir;
    px_addr_t addr;
    px_list_t link;         /* in T.ups while usable for new streams */
    px_list_t streams;
    size_t refs;            /* downstream connections using it */
    bool connected;
    bool no_new;            /* GOAWAY received or failing: no new streams */
    bool dead;              /* close at the next run() */
    bool closed;            /* session gone; freed once refs drops to 0 */
    const char *error;      /* why it failed, for response_total */
    px_deferred_t free_d;
};

/* Per worker thread. */
static _Thread_local struct {
    bool init;
    bool running;
    px_list_t dirty;        /* h2_side_t */
    px_list_t ups;          /* h2_up_t open to new streams */
} T;

static nghttp2_session_callbacks *down_cbs, *up_cbs;

static void run(void);

static void tls_init(void)
{
    if (T.init)
        return;
    T.init = true;
    px_list_init(&T.dirty);
    px_list_init(&T.ups);
}

static void mark(h2_side_t *s)
{
    if (!px_list_linked(&s->dirty_link))
        px_list_insert(&T.dirty, &s->dirty_link);
}

/* --- header lists ------------------------------------------------------------ */

static int hl_add(h2_hl_t *h, nghttp2_rcbuf *name, nghttp2_rcbuf *value)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 16;
        nghttp2_rcbuf **rc = mesh_realloc(h->rc, cap * 2 * sizeof(*rc));
        if (rc == NULL)
            return -1;
        h->rc = rc;
        h->cap = cap;
    }
    nghttp2_rcbuf_incref(name);
    nghttp2_rcbuf_incref(value);
    h->rc[2 * h->n] = name;
    h->rc[2 * h->n + 1] = value;
    h->n++;
    return 0;
}

static void hl_clear(h2_hl_t *h)
{
    for (size_t i = 0; i < 2 * h->n; i++)
        nghttp2_rcbuf_decref(h->rc[i]);
    h->n = 0;
}

static void hl_free(h2_hl_t *h)
{
    hl_clear(h);
    MESH_FREE(&h->rc);
    h->cap = 0;
}

/* The forwarded fields of h as an nv array (mesh_free it); NULL on no
 * memory. nghttp2 copies names and values on submit. */
static nghttp2_nv *hl_nv(const h2_hl_t *h, size_t *n)
{
    nghttp2_nv *nv = mesh_malloc((h->n ? h->n : 1) * sizeof(*nv));
    if (nv == NULL)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < h->n; i++) {
        nghttp2_vec nm = nghttp2_rcbuf_get_buf(h->rc[2 * i]);
        nghttp2_vec v = nghttp2_rcbuf_get_buf(h->rc[2 * i + 1]);
        if (!px_h2_forward_field(nm.base, nm.len))
            continue;
        nv[k].name = nm.base;
        nv[k].namelen = nm.len;
        nv[k].value = v.base;
        nv[k].valuelen = v.len;
        nv[k].flags = NGHTTP2_NV_FLAG_NONE;
        k++;
    }
    *n = k;
    return nv;
}

/* --- metrics ------------------------------------------------------------------ */

static void count_response(h2_stream_t *s)
{
    if (!s->counted)
        return;
    s->counted = false;
    uint64_t now = px_loop_now(s->w->loop);
    char st[16] = "", gs[16] = "";
    if (s->status)
        snprintf(st, sizeof(st), "%d", s->status);
    if (s->grpc_status >= 0)
        snprintf(gs, sizeof(gs), "%d", s->grpc_status);
    bool failure = s->status >= 500 || s->status == 0 || s->error[0] || s->grpc_status > 0;
    px_labels_t l = s->labels;
    px_labels_adds(&l, "status_code", st);
    px_labels_adds(&l, "classification", failure ? "failure" : "success");
    px_labels_adds(&l, "grpc_status", gs);
    px_labels_adds(&l, "error", s->error);
    px_metrics_inc(s->w->metrics, PX_M_RESPONSE_TOTAL, &l, 1, now);
}

static void observe_latency(h2_stream_t *s)
{
    uint64_t now = px_loop_now(s->w->loop);
    char st[16];
    snprintf(st, sizeof(st), "%d", s->status);
    px_labels_t l = s->labels;
    px_labels_adds(&l, "status_code", st);
    px_metrics_observe_ms(s->w->metrics, PX_M_RESPONSE_LATENCY_MS, &l, (double)(now - s->t0), now);
}

/* --- streams -------------------------------------------------------------------- */

static void stream_free(h2_stream_t *s)
{
    count_response(s);
    if (s->d) {
        px_list_unlink(&s->d_link);
        s->d->ninflight--;
        if (s->d->ninflight == 0 && s->d->drain == DRAIN_NONE && !s->d->close_after_flush &&
            !s->d->conn->closed)
            px_timer_arm(s->w->loop, &s->d->conn->timer, s->w->cfg->http_idle_timeout_ms);
    }
    px_list_unlink(&s->u_link);
    px_timer_cancel(s->w->loop, &s->timer);
    hl_free(&s->retry_h);
    hl_free(&s->req_h);
    hl_free(&s->resp_h);
    px_buf_free(&s->req);
    px_buf_free(&s->replay);
    px_buf_free(&s->resp);
    mesh_free(s);
}

static void maybe_free(h2_stream_t *s)
{
    if (!s->down_open && !s->up_open)
        stream_free(s);
}

/* Gives the source session's window back for bytes that will never be sent. */
static void discard(px_buf_t *b, nghttp2_session *src)
{
    if (b->len && src)
        nghttp2_session_consume_connection(src, b->len);
    px_buf_free(b);
}

/* discard() for the request body: replayed bytes were given back already. */
static void discard_req(h2_stream_t *s, nghttp2_session *src)
{
    if (s->req.len > s->req_acked && src)
        nghttp2_session_consume_connection(src, s->req.len - s->req_acked);
    px_buf_free(&s->req);
    px_buf_free(&s->replay);
    s->req_acked = 0;
}

static int submit_status(h2_stream_t *s, int status)
{
    char st[8];
    int n = snprintf(st, sizeof(st), "%d", status);
    nghttp2_nv nv = {(uint8_t *)":status", (uint8_t *)st, 7, (size_t)n, NGHTTP2_NV_FLAG_NONE};
    s->status = status;
    s->resp_submitted = true;
    return nghttp2_submit_response(s->d->side.ng, s->down_id, &nv, 1, NULL);
}

/* The upstream half ended before a complete response: tell the client. */
static void fail_downstream(h2_stream_t *s, uint32_t code, const char *error)
{
    if (!s->down_open || s->d == NULL)
        return;
    if (!s->error[0])
        s->error = error;
    if (!s->resp_submitted && code != NGHTTP2_REFUSED_STREAM) {
        if (submit_status(s, 502) != 0)
            nghttp2_submit_rst_stream(s->d->side.ng, NGHTTP2_FLAG_NONE, s->down_id, NGHTTP2_INTERNAL_ERROR);
    } else {
        /* REFUSED_STREAM tells the client nothing was processed (it may
         * retry); otherwise the response is cut short. */
        nghttp2_submit_rst_stream(s->d->side.ng, NGHTTP2_FLAG_NONE, s->down_id,
                                  code ? code : NGHTTP2_INTERNAL_ERROR);
    }
    mark(&s->d->side);
}

static bool retry_refused(h2_stream_t *s);

/* Detaches the upstream half (its stream closed, or the session failed). */
static void up_half_gone(h2_stream_t *s, uint32_t code, bool session_alive)
{
    h2_up_t *u = s->u;
    s->up_open = false;
    s->u = NULL;
    px_list_unlink(&s->u_link);
    if (u && session_alive && s->up_id > 0)
        nghttp2_session_set_stream_user_data(u->side.ng, s->up_id, NULL);
    if (code == NGHTTP2_REFUSED_STREAM && retry_refused(s)) {
        if (u && u->refs == 0 && px_list_empty(&u->streams))
            mark(&u->side);
        return;
    }
    /* Request bytes the upstream will never take: give the window back. */
    discard_req(s, s->down_open && s->d ? s->d->side.ng : NULL);
    if (s->resp_eof && code == NGHTTP2_NO_ERROR) {
        /* A complete response still waiting for the client: resp_read can
         * no longer consume it on a stream that is gone, so the upstream
         * connection window is given back now. Without this every response
         * that outlived its upstream stream leaked its body size from the
         * 1 MiB connection window until the upstream session stalled. */
        if (s->resp.len && u && session_alive) {
            nghttp2_session_consume_connection(u->side.ng, s->resp.len);
            mark(&u->side);
        }
    } else {
        discard(&s->resp, u && session_alive ? u->side.ng : NULL);
        const char *why = u && u->error ? u->error
                          : code == NGHTTP2_REFUSED_STREAM ? "refused" : "upstream_reset";
        fail_downstream(s, code, why);
    }
    if (u && u->refs == 0 && px_list_empty(&u->streams))
        mark(&u->side);
    maybe_free(s);
}

/* Detaches the downstream half; the upstream stream is cancelled if busy.
 * dng: the downstream session, NULL when it is being deleted. */
static void down_half_gone(h2_stream_t *s, uint32_t code, nghttp2_session *dng)
{
    s->down_open = false;
    if (dng)
        nghttp2_session_set_stream_user_data(dng, s->down_id, NULL);
    discard_req(s, dng);
    if (code != NGHTTP2_NO_ERROR && !s->error[0])
        s->error = s->resp_submitted ? "stream_reset" : "client_reset";
    if (s->up_open && s->u) {
        if (s->up_id > 0) {
            nghttp2_submit_rst_stream(s->u->side.ng, NGHTTP2_FLAG_NONE, s->up_id, NGHTTP2_CANCEL);
            mark(&s->u->side);
        } else {
            up_half_gone(s, NGHTTP2_CANCEL, true);
            return;
        }
    }
    count_response(s);
    maybe_free(s);
}

/* --- upstream sessions ---------------------------------------------------------- */

static void up_on_read(px_sock_t *sk, int status);
static void up_on_written(px_sock_t *sk, int status);

static void up_on_connect(px_upstream_t *px, int status)
{
    h2_up_t *u = px->data;
    if (status != 0) {
        u->px = NULL; /* closed by the upstream layer */
        u->dead = true;
        u->error = status == PX_ERR_TIMEOUT ? "connect_timeout" : "connect_error";
        mark(&u->side);
        run();
        return;
    }
    u->connected = true;
    px->sock.data = u;
    px->sock.on_read = up_on_read;
    px->sock.on_written = up_on_written;
    px_sock_read_start(&px->sock);
    mark(&u->side);
    run();
}

static void up_free_deferred(px_deferred_t *dd)
{
    mesh_free(MESH_CONTAINER_OF(dd, h2_up_t, free_d));
}

static void up_free_maybe(h2_up_t *u)
{
    if (u->closed && u->refs == 0) {
        px_deferred_init(&u->free_d);
        px_loop_defer(u->w->loop, &u->free_d, up_free_deferred);
    }
}

/* Drops a downstream connection's reference. */
static void up_unref(h2_up_t *u)
{
    u->refs--;
    if (u->closed)
        up_free_maybe(u);
    else
        mark(&u->side);
}

/* Outside callbacks only (run). */
static void up_close(h2_up_t *u)
{
    if (u->closed)
        return;
    u->no_new = true;
    px_list_unlink(&u->link);
    px_list_unlink(&u->side.dirty_link);
    bool failed = u->dead;
    while (!px_list_empty(&u->streams)) {
        h2_stream_t *s = MESH_CONTAINER_OF(u->streams.next, h2_stream_t, u_link);
        up_half_gone(s, failed ? NGHTTP2_INTERNAL_ERROR : NGHTTP2_CANCEL, false);
    }
    if (u->px) {
        px_upstream_t *px = u->px;
        u->px = NULL;
        px_upstream_close(px, failed ? px->sock.last_errno : 0);
    }
    nghttp2_session_del(u->side.ng);
    u->side.ng = NULL;
    u->closed = true;
    up_free_maybe(u);
}

static h2_up_t *up_get(px_worker_t *w, px_dir_t dir, const px_addr_t *addr)
{
    for (px_list_t *n = T.ups.next; n != &T.ups; n = n->next) {
        h2_up_t *u = MESH_CONTAINER_OF(n, h2_up_t, link);
        if (u->w == w && u->dir == dir && !u->no_new && !u->dead && !u->closed && u->addr.len == addr->len &&
            memcmp(&u->addr.sa, &addr->sa, addr->len) == 0)
            return u;
    }
    h2_up_t *u = mesh_calloc(1, sizeof(*u));
    if (u == NULL)
        return NULL;
    u->w = w;
    u->dir = dir;
    u->addr = *addr;
    u->side.is_up = true;
    px_list_init(&u->side.dirty_link);
    px_list_init(&u->streams);
    px_list_init(&u->link);
    if (px_h2_session_new(&u->side.ng, false, up_cbs, u) != 0) {
        mesh_free(u);
        return NULL;
    }
    int err = 0;
    u->px = px_upstream_connect(w, dir, addr, up_on_connect, u, &err);
    if (u->px == NULL) {
        nghttp2_session_del(u->side.ng);
        mesh_free(u);
        return NULL;
    }
    px_list_insert(&T.ups, &u->link);
    return u;
}

static void up_on_read(px_sock_t *sk, int status)
{
    h2_up_t *u = sk->data;
    if (sk->in.len) {
        ssize_t r = nghttp2_session_mem_recv(u->side.ng, (const uint8_t *)px_buf_data(&sk->in), sk->in.len);
        px_buf_consume(&sk->in, sk->in.len);
        if (r < 0) {
            mesh_log_debug("h2", "upstream protocol error: %s", nghttp2_strerror((int)r));
            u->dead = true;
            u->error = "upstream_protocol";
        }
    }
    if (status != 0 && !u->dead) {
        u->dead = true; /* EOF or error: streams still open are cut */
        u->error = status == PX_ERR_EOF ? "upstream_closed" : "upstream_error";
    }
    mark(&u->side);
    run();
}

static void up_on_written(px_sock_t *sk, int status)
{
    h2_up_t *u = sk->data;
    if (status != 0)
        u->dead = true;
    mark(&u->side);
    run();
}

/* --- streams: request path ----------------------------------------------------- */

static ssize_t req_read(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t length,
                        uint32_t *flags, nghttp2_data_source *src, void *ud);
static ssize_t resp_read(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t length,
                         uint32_t *flags, nghttp2_data_source *src, void *ud);

/* The request's authority (:authority, else Host) and whether it is gRPC. */
static void scan_request(h2_stream_t *s, const char **auth, size_t *alen)
{
    *auth = "";
    *alen = 0;
    bool have_authority = false;
    for (size_t i = 0; i < s->req_h.n; i++) {
        nghttp2_vec nm = nghttp2_rcbuf_get_buf(s->req_h.rc[2 * i]);
        nghttp2_vec v = nghttp2_rcbuf_get_buf(s->req_h.rc[2 * i + 1]);
        if ((nm.len == 10 && memcmp(nm.base, ":authority", 10) == 0) ||
            (!have_authority && nm.len == 4 && memcmp(nm.base, "host", 4) == 0)) {
            have_authority = nm.len == 10;
            *auth = (const char *)v.base;
            *alen = v.len;
        } else if (nm.len == 12 && memcmp(nm.base, "content-type", 12) == 0) {
            s->grpc = v.len >= 16 && memcmp(v.base, "application/grpc", 16) == 0;
        }
    }
}

static void request_labels(h2_stream_t *s, const char *auth, size_t alen)
{
    px_conn_t *conn = s->d->conn;
    px_labels_init(&s->labels);
    px_labels_adds(&s->labels, "direction", conn->dir == PX_DIR_INBOUND ? "inbound" : "outbound");
    px_labels_add(&s->labels, "authority", auth, alen);
    px_labels_target(&s->labels, px_conn_label_target(conn, &s->target));
    px_labels_adds(&s->labels, "tls", "disabled");
}

/* The connection's upstream session for `addr`: one it references already,
 * or a usable shared one (or a new one), which it then references. */
static h2_up_t *down_up(h2_down_t *d, const px_addr_t *addr)
{
    size_t k = 0;
    h2_up_t *found = NULL;
    for (size_t i = 0; i < d->nups; i++) {
        h2_up_t *u = d->ups[i];
        if (u->no_new || u->dead || u->closed) {
            up_unref(u); /* finished with: forget it */
            continue;
        }
        if (u->addr.len == addr->len && memcmp(&u->addr.sa, &addr->sa, addr->len) == 0)
            found = u;
        d->ups[k++] = u;
    }
    d->nups = k;
    if (found)
        return found;
    h2_up_t *u = up_get(d->w, d->conn->dir, addr);
    if (u == NULL)
        return NULL;
    if (d->nups == PX_H2_CONN_TARGETS) {
        up_unref(d->ups[0]);
        memmove(&d->ups[0], &d->ups[1], (PX_H2_CONN_TARGETS - 1) * sizeof(d->ups[0]));
        d->nups--;
    }
    d->ups[d->nups++] = u;
    u->refs++;
    return u;
}

static void stream_on_timer(px_timer_t *t);

/* Arms the stream timer for its current phase (no-op when disabled). */
static void stream_timer_arm(h2_stream_t *s, uint64_t now)
{
    const px_config_t *cfg = s->w->cfg;
    uint64_t at;
    if (!s->resp_head) {
        if (cfg->h2_response_timeout_ms == 0)
            return;
        at = s->t0 + cfg->h2_response_timeout_ms;
    } else {
        if (cfg->h2_stream_idle_timeout_ms == 0)
            return;
        at = s->last_ms + cfg->h2_stream_idle_timeout_ms;
    }
    px_timer_arm(s->w->loop, &s->timer, at > now ? at - now : 0);
}

/* Submits the request head (req_h, or retry_h on a retry) on u. Returns 0
 * or -1 (nothing submitted). From any callback: u is another session than
 * the caller's, or the call is a submit, which nghttp2 allows there. */
static int submit_upstream(h2_stream_t *s, h2_up_t *u)
{
    h2_hl_t *head = s->retry_h.n ? &s->retry_h : &s->req_h;
    size_t n;
    nghttp2_nv *nv = hl_nv(head, &n);
    if (nv == NULL)
        return -1;
    nghttp2_data_provider dp = {.source.ptr = s, .read_callback = req_read};
    s->req_deferred = false;
    bool no_body = s->req_eof && s->req.len == 0 && !s->req_trailers;
    int32_t id = nghttp2_submit_request(u->side.ng, NULL, nv, n, no_body ? NULL : &dp, s);
    mesh_free(nv);
    if (id < 0)
        return -1;
    if (head == &s->req_h && !s->retried) {
        /* Keep the head (references, not copies) for a REFUSED_STREAM retry;
         * req_h then collects trailers. */
        h2_hl_t t = s->retry_h;
        s->retry_h = s->req_h;
        s->req_h = t;
    } else {
        hl_free(&s->retry_h); /* after the submit: nv pointed into it */
    }
    s->u = u;
    s->up_id = id;
    s->up_open = true;
    px_list_insert(&u->streams, &s->u_link);
    mark(&u->side);
    return 0;
}

/* The request head is complete: count it and submit it upstream. Called
 * from a downstream callback (the upstream session is another one). */
static void start_request(h2_stream_t *s)
{
    h2_down_t *d = s->d;
    px_conn_t *conn = d->conn;
    s->t0 = s->last_ms = px_loop_now(s->w->loop);
    const char *auth;
    size_t alen;
    scan_request(s, &auth, &alen);
    if (conn->has_target) {
        s->target = conn->connect_to;
    } else if (px_conn_target_from_authority(conn, auth, alen, &s->target) != 0) {
        hl_clear(&s->req_h);
        px_conn_count_error(s->w, conn->dir, "no_target");
        s->error = "no_target";
        submit_status(s, 502);
        return;
    }
    request_labels(s, auth, alen);
    px_metrics_inc(s->w->metrics, PX_M_REQUEST_TOTAL, &s->labels, 1, s->t0);
    s->counted = true;
    h2_up_t *u = down_up(d, &s->target);
    if (u == NULL) {
        hl_clear(&s->req_h);
        s->error = "connect_error";
        submit_status(s, 502);
        return;
    }
    if (submit_upstream(s, u) != 0) {
        hl_clear(&s->req_h);
        s->error = "upstream_submit";
        submit_status(s, 502);
        return;
    }
    stream_timer_arm(s, s->t0);
}

/* See the top of the file: REFUSED_STREAM before any response and before
 * any body byte went upstream is sent again, once. Called with the upstream
 * half detached. Returns true when the request is on its way again. */
static bool retry_refused(h2_stream_t *s)
{
    if (s->retried || !s->down_open || s->d == NULL || s->resp_head || s->resp_submitted ||
        s->no_replay || s->req_trailers_sent || s->retry_h.n == 0)
        return false;
    s->retried = true;
    if (s->replay.len) {
        /* The body goes again from its first byte: what was given upstream
         * (its window given back already, so not consumed twice), then what
         * waits. */
        size_t replayed = s->replay.len;
        if (px_buf_append(&s->replay, px_buf_data(&s->req), s->req.len,
                          PX_H2_REPLAY_MAX + PX_H2_BODY_BUF_MAX) != 0) {
            hl_free(&s->retry_h);
            return false;
        }
        px_buf_t t = s->req;
        s->req = s->replay;
        s->replay = t;
        px_buf_free(&s->replay);
        s->req_acked = replayed;
        s->req_sent = 0;
    }
    h2_up_t *u = down_up(s->d, &s->target);
    if (u == NULL || submit_upstream(s, u) != 0) {
        hl_free(&s->retry_h);
        return false;
    }
    mesh_log_debug("h2", "stream refused upstream: sent again");
    return true;
}

/* Cancels the upstream half now (timeouts): RST_STREAM CANCEL, and every
 * byte it still held is given back to the flow-control windows. */
static void cancel_upstream(h2_stream_t *s)
{
    h2_up_t *u = s->u;
    if (!s->up_open || u == NULL)
        return;
    nghttp2_submit_rst_stream(u->side.ng, NGHTTP2_FLAG_NONE, s->up_id, NGHTTP2_CANCEL);
    nghttp2_session_set_stream_user_data(u->side.ng, s->up_id, NULL);
    s->up_open = false;
    s->u = NULL;
    px_list_unlink(&s->u_link);
    discard_req(s, s->down_open && s->d ? s->d->side.ng : NULL);
    discard(&s->resp, u->side.ng);
    hl_free(&s->retry_h);
    mark(&u->side);
}

/* No response head in time: the client gets Linkerd's answer to a response
 * timeout - 504, or for gRPC a trailers-only grpc-status 4 (DEADLINE_EXCEEDED)
 * - and the upstream stream is cancelled. */
static void response_timeout(h2_stream_t *s)
{
    cancel_upstream(s);
    if (!s->error[0])
        s->error = "response_timeout";
    if (!s->down_open || s->d == NULL || s->resp_submitted)
        return;
    static const char msg[] = PX_H2_TIMEOUT_MESSAGE;
#define NV(n, v) {(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, sizeof(v) - 1, NGHTTP2_NV_FLAG_NONE}
    nghttp2_nv grpc[] = {NV(":status", "200"), NV("content-type", "application/grpc"),
                         NV("grpc-status", "4"), NV("grpc-message", msg),
                         NV("l5d-proxy-error", msg)};
    nghttp2_nv http[] = {NV(":status", "504"), NV("content-length", "0"),
                         NV("l5d-proxy-error", msg)};
#undef NV
    s->resp_submitted = true;
    s->status = s->grpc ? 200 : 504;
    if (s->grpc)
        s->grpc_status = 4;
    int rv = s->grpc ? nghttp2_submit_response(s->d->side.ng, s->down_id, grpc, 5, NULL)
                     : nghttp2_submit_response(s->d->side.ng, s->down_id, http, 3, NULL);
    if (rv != 0)
        nghttp2_submit_rst_stream(s->d->side.ng, NGHTTP2_FLAG_NONE, s->down_id, NGHTTP2_CANCEL);
    mark(&s->d->side);
}

static void stream_on_timer(px_timer_t *t)
{
    h2_stream_t *s = MESH_CONTAINER_OF(t, h2_stream_t, timer);
    uint64_t now = px_loop_now(s->w->loop);
    const px_config_t *cfg = s->w->cfg;
    if (!s->resp_head) {
        mesh_log_debug("h2", "stream %d: no response in %llu ms", s->down_id,
                       (unsigned long long)cfg->h2_response_timeout_ms);
        response_timeout(s);
    } else if (now - s->last_ms < cfg->h2_stream_idle_timeout_ms) {
        stream_timer_arm(s, now); /* there was traffic since it was armed */
        return;
    } else {
        mesh_log_debug("h2", "stream %d: idle for %llu ms", s->down_id,
                       (unsigned long long)cfg->h2_stream_idle_timeout_ms);
        if (!s->error[0])
            s->error = "stream_idle_timeout";
        cancel_upstream(s);
        if (s->down_open && s->d) {
            nghttp2_submit_rst_stream(s->d->side.ng, NGHTTP2_FLAG_NONE, s->down_id, NGHTTP2_CANCEL);
            mark(&s->d->side);
        }
    }
    maybe_free(s);
    run();
}

/* Upstream data provider: the request body from s->req. */
static ssize_t req_read(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t length,
                        uint32_t *flags, nghttp2_data_source *src, void *ud)
{
    (void)src;
    (void)ud;
    h2_stream_t *s = nghttp2_session_get_stream_user_data(ng, id);
    if (s == NULL)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    size_t n = s->req.len < length ? s->req.len : length;
    if (n) {
        memcpy(buf, px_buf_data(&s->req), n);
        px_buf_consume(&s->req, n);
        s->req_sent += n;
        s->last_ms = px_loop_now(s->w->loop);
        /* Kept for a retry until answered (retry_h goes with the answer). */
        if (!s->retried && !s->no_replay && s->retry_h.n &&
            px_buf_append(&s->replay, buf, n, PX_H2_REPLAY_MAX) != 0) {
            s->no_replay = true;
            px_buf_free(&s->replay);
        }
        size_t replayed = n < s->req_acked ? n : s->req_acked;
        size_t fresh = n - replayed;
        s->req_acked -= replayed;
        if (fresh && s->down_open) {
            nghttp2_session_consume(s->d->side.ng, s->down_id, fresh);
            mark(&s->d->side);
        } else if (fresh && s->d) {
            nghttp2_session_consume_connection(s->d->side.ng, fresh);
            mark(&s->d->side);
        }
    }
    if (s->req.len == 0 && s->req_eof) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        if (s->req_trailers) {
            size_t tn;
            nghttp2_nv *nv = hl_nv(&s->req_h, &tn);
            s->req_trailers_sent = true;
            if (nv && nghttp2_submit_trailer(ng, id, nv, tn) == 0)
                *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
            mesh_free(nv);
            hl_clear(&s->req_h);
            s->req_trailers = false;
        }
        return (ssize_t)n;
    }
    if (n == 0) {
        s->req_deferred = true;
        return NGHTTP2_ERR_DEFERRED;
    }
    return (ssize_t)n;
}

static void req_resume(h2_stream_t *s)
{
    if (s->req_deferred && s->up_open && s->u) {
        s->req_deferred = false;
        nghttp2_session_resume_data(s->u->side.ng, s->up_id);
        mark(&s->u->side);
    }
}

/* Downstream data provider: the response body from s->resp. */
static ssize_t resp_read(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t length,
                         uint32_t *flags, nghttp2_data_source *src, void *ud)
{
    (void)src;
    (void)ud;
    h2_stream_t *s = nghttp2_session_get_stream_user_data(ng, id);
    if (s == NULL)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    size_t n = s->resp.len < length ? s->resp.len : length;
    if (n) {
        memcpy(buf, px_buf_data(&s->resp), n);
        px_buf_consume(&s->resp, n);
        s->last_ms = px_loop_now(s->w->loop);
        if (s->up_open && s->u) {
            nghttp2_session_consume(s->u->side.ng, s->up_id, n);
            mark(&s->u->side);
        }
    }
    if (s->resp.len == 0 && s->resp_eof) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        if (s->resp_trailers) {
            size_t tn;
            nghttp2_nv *nv = hl_nv(&s->resp_h, &tn);
            if (nv && nghttp2_submit_trailer(ng, id, nv, tn) == 0)
                *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
            mesh_free(nv);
            hl_clear(&s->resp_h);
            s->resp_trailers = false;
        }
        return (ssize_t)n;
    }
    if (n == 0) {
        s->resp_deferred = true;
        return NGHTTP2_ERR_DEFERRED;
    }
    return (ssize_t)n;
}

static void resp_resume(h2_stream_t *s)
{
    if (s->resp_deferred && s->down_open && s->d) {
        s->resp_deferred = false;
        nghttp2_session_resume_data(s->d->side.ng, s->down_id);
        mark(&s->d->side);
    }
}

/* --- downstream callbacks (server session) ---------------------------------------- */

static int d_on_begin_headers(nghttp2_session *ng, const nghttp2_frame *f, void *ud)
{
    h2_down_t *d = ud;
    if (f->hd.type != NGHTTP2_HEADERS)
        return 0;
    if (f->headers.cat != NGHTTP2_HCAT_REQUEST) {
        h2_stream_t *s = nghttp2_session_get_stream_user_data(ng, f->hd.stream_id);
        if (s)
            px_h2_hdr_acct_reset(&s->acct_req);
        return 0;
    }
    if (d->ninflight >= PX_H2_MAX_INFLIGHT || d->drain == DRAIN_FINAL) {
        nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, f->hd.stream_id, NGHTTP2_REFUSED_STREAM);
        return 0;
    }
    h2_stream_t *s = mesh_calloc(1, sizeof(*s));
    if (s == NULL)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    s->w = d->w;
    s->d = d;
    s->down_id = f->hd.stream_id;
    s->down_open = true;
    s->grpc_status = -1;
    s->error = "";
    px_timer_init(&s->timer, stream_on_timer);
    px_list_init(&s->u_link);
    px_list_insert(&d->streams, &s->d_link);
    d->ninflight++;
    if (d->drain == DRAIN_NONE)
        px_timer_cancel(d->w->loop, &d->conn->timer); /* idle timeout; a drain keeps its timer */
    nghttp2_session_set_stream_user_data(ng, s->down_id, s);
    return 0;
}

static int d_on_header(nghttp2_session *ng, const nghttp2_frame *f, nghttp2_rcbuf *name,
                       nghttp2_rcbuf *value, uint8_t flags, void *ud)
{
    (void)flags;
    (void)ud;
    h2_stream_t *s = nghttp2_session_get_stream_user_data(ng, f->hd.stream_id);
    if (s == NULL)
        return 0;
    nghttp2_vec nm = nghttp2_rcbuf_get_buf(name), v = nghttp2_rcbuf_get_buf(value);
    if (px_h2_hdr_acct_add(&s->acct_req, nm.len, v.len) != 0) {
        s->error = "header_too_large";
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* resets the stream */
    }
    return hl_add(&s->req_h, name, value) == 0 ? 0 : NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
}

static void drain_final(h2_down_t *d);

static int d_on_frame_recv(nghttp2_session *ng, const nghttp2_frame *f, void *ud)
{
    h2_down_t *d = ud;
    if (f->hd.type == NGHTTP2_PING && (f->hd.flags & NGHTTP2_FLAG_ACK)) {
        /* The client processed everything up to our PING (frames are
         * processed in order, and it wrote the streams it opened meanwhile
         * before this ACK). */
        const uint8_t *o = f->ping.opaque_data;
        if (d->drain == DRAIN_HOLD && memcmp(o, drain_ping1, 8) == 0) {
            d->drain = DRAIN_NOTICE;
            mark(&d->side);
        } else if (d->drain == DRAIN_PING2 && memcmp(o, drain_ping2, 8) == 0) {
            drain_final(d);
        }
        return 0;
    }
    if (f->hd.type == NGHTTP2_RST_STREAM) {
        if (!px_h2_rate_take(&d->resets, px_loop_now(d->w->loop))) {
            mesh_log_info("h2", "rapid reset: closing connection");
            px_conn_count_error(d->w, d->conn->dir, "h2_reset_flood");
            nghttp2_session_terminate_session(ng, NGHTTP2_ENHANCE_YOUR_CALM);
            d->close_after_flush = true;
        }
        return 0;
    }
    if (f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA)
        return 0;
    h2_stream_t *s = nghttp2_session_get_stream_user_data(ng, f->hd.stream_id);
    if (s == NULL)
        return 0;
    bool end = (f->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    if (f->hd.type == NGHTTP2_HEADERS) {
        if (f->headers.cat == NGHTTP2_HCAT_REQUEST) {
            s->req_eof = end;
            start_request(s);
            return 0;
        }
        s->req_trailers = true; /* trailers always end the stream */
        s->req_eof = true;
        if (s->u == NULL)
            hl_clear(&s->req_h);
    } else if (end) {
        s->req_eof = true;
    }
    req_resume(s);
    return 0;
}

static int d_on_data(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *data,
                     size_t len, void *ud)
{
    (void)flags;
    h2_down_t *d = ud;
    h2_stream_t *s = nghttp2_session_get_stream_user_data(ng, id);
    if (s == NULL || !s->up_open) {
        nghttp2_session_consume(ng, id, len);
        mark(&d->side);
        return 0;
    }
    /* Replayed bytes ahead of these are outside the flow-control window. */
    if (px_buf_append(&s->req, data, len, PX_H2_BODY_BUF_MAX + s->req_acked) != 0) {
        nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, id, NGHTTP2_FLOW_CONTROL_ERROR);
        nghttp2_session_consume(ng, id, len);
        return 0;
    }
    s->last_ms = px_loop_now(s->w->loop);
    req_resume(s);
    return 0;
}

static int d_on_stream_close(nghttp2_session *ng, int32_t id, uint32_t code, void *ud)
{
    (void)ud;
    h2_stream_t *s = nghttp2_session_get_stream_user_data(ng, id);
    if (s)
        down_half_gone(s, code, ng);
    return 0;
}

/* --- upstream callbacks (client session) ---------------------------------------- */

static int u_on_begin_headers(nghttp2_session *ng, const nghttp2_frame *f, void *ud)
{
    (void)ud;
    h2_stream_t *s = f->hd.type == NGHTTP2_HEADERS ? nghttp2_session_get_stream_user_data(ng, f->hd.stream_id) : NULL;
    if (s)
        px_h2_hdr_acct_reset(&s->acct_resp);
    return 0;
}

static int parse_int(const uint8_t *p, size_t n)
{
    int v = 0;
    if (n == 0 || n > 6)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

static int u_on_header(nghttp2_session *ng, const nghttp2_frame *f, nghttp2_rcbuf *name,
                       nghttp2_rcbuf *value, uint8_t flags, void *ud)
{
    (void)flags;
    (void)ud;
    h2_stream_t *s = nghttp2_session_get_stream_user_data(ng, f->hd.stream_id);
    if (s == NULL)
        return 0;
    nghttp2_vec nm = nghttp2_rcbuf_get_buf(name), v = nghttp2_rcbuf_get_buf(value);
    if (px_h2_hdr_acct_add(&s->acct_resp, nm.len, v.len) != 0) {
        s->error = "response_header_too_large";
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    if (nm.len == 7 && memcmp(nm.base, ":status", 7) == 0 && !s->resp_submitted)
        s->status = parse_int(v.base, v.len);
    else if (nm.len == 11 && memcmp(nm.base, "grpc-status", 11) == 0)
        s->grpc_status = parse_int(v.base, v.len);
    return hl_add(&s->resp_h, name, value) == 0 ? 0 : NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
}

static void submit_response(h2_stream_t *s)
{
    size_t n;
    nghttp2_nv *nv = hl_nv(&s->resp_h, &n);
    int rv = -1;
    if (nv) {
        nghttp2_data_provider dp = {.source.ptr = s, .read_callback = resp_read};
        rv = nghttp2_submit_response(s->d->side.ng, s->down_id, nv, n, s->resp_eof ? NULL : &dp);
        mesh_free(nv);
    }
    hl_clear(&s->resp_h);
    s->resp_submitted = true;
    if (rv != 0)
        nghttp2_submit_rst_stream(s->d->side.ng, NGHTTP2_FLAG_NONE, s->down_id, NGHTTP2_INTERNAL_ERROR);
    mark(&s->d->side);
}

static int u_on_frame_recv(nghttp2_session *ng, const nghttp2_frame *f, void *ud)
{
    h2_up_t *u = ud;
    if (f->hd.type == NGHTTP2_GOAWAY) {
        u->no_new = true; /* streams past last_stream_id close as REFUSED */
        px_list_unlink(&u->link);
        return 0;
    }
    if (f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA)
        return 0;
    h2_stream_t *s = nghttp2_session_get_stream_user_data(ng, f->hd.stream_id);
    if (s == NULL)
        return 0;
    bool end = (f->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    if (f->hd.type == NGHTTP2_HEADERS) {
        if (!s->resp_submitted) {
            if (s->status >= 100 && s->status < 200 && !end) {
                hl_clear(&s->resp_h); /* interim responses are not relayed */
                s->status = 0;
                return 0;
            }
            s->resp_eof = end;
            s->resp_head = true;
            hl_free(&s->retry_h); /* answered: no retry any more */
            px_buf_free(&s->replay);
            s->last_ms = px_loop_now(s->w->loop);
            stream_timer_arm(s, s->last_ms);
            observe_latency(s);
            if (!s->down_open) {
                hl_clear(&s->resp_h);
                s->resp_submitted = true;
                return 0;
            }
            submit_response(s);
            return 0;
        }
        s->resp_trailers = s->down_open;
        s->resp_eof = true;
        if (!s->down_open)
            hl_clear(&s->resp_h);
    } else if (end) {
        s->resp_eof = true;
    }
    resp_resume(s);
    return 0;
}

static int u_on_data(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *data,
                     size_t len, void *ud)
{
    (void)flags;
    h2_up_t *u = ud;
    h2_stream_t *s = nghttp2_session_get_stream_user_data(ng, id);
    if (s == NULL || !s->down_open) {
        nghttp2_session_consume(ng, id, len);
        mark(&u->side);
        return 0;
    }
    if (px_buf_append(&s->resp, data, len, PX_H2_BODY_BUF_MAX) != 0) {
        nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, id, NGHTTP2_FLOW_CONTROL_ERROR);
        nghttp2_session_consume(ng, id, len);
        return 0;
    }
    s->last_ms = px_loop_now(s->w->loop);
    resp_resume(s);
    return 0;
}

static int u_on_stream_close(nghttp2_session *ng, int32_t id, uint32_t code, void *ud)
{
    (void)ud;
    h2_stream_t *s = nghttp2_session_get_stream_user_data(ng, id);
    if (s)
        up_half_gone(s, code, true);
    return 0;
}

/* --- run: send and close, outside callbacks --------------------------------------- */

static void down_close(h2_down_t *d, int err) { px_conn_close(d->conn, err); }

/* Sends what the session has while the socket has room. Returns 0, or -1
 * when the session failed. */
static int pump(nghttp2_session *ng, px_sock_t *sk)
{
    while (px_sock_pending(sk) < PX_SOCK_OUT_HIGH) {
        const uint8_t *data;
        ssize_t n = nghttp2_session_mem_send(ng, &data);
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        if (px_sock_write(sk, data, (size_t)n) != 0)
            return -1;
    }
    return 0;
}

/* Writes frames of our own for the drain step due, at a frame boundary. */
static int drain_write(h2_down_t *d)
{
    px_sock_t *sk = &d->conn->sock;
    uint8_t out[PX_H2_GOAWAY_FRAME + PX_H2_PING_FRAME];
    if (d->drain == DRAIN_PING1) {
        px_h2_ping_frame(out, drain_ping1);
        d->drain = DRAIN_HOLD;
        return px_sock_write(sk, out, PX_H2_PING_FRAME);
    }
    if (d->drain == DRAIN_NOTICE) {
        /* Straight after PING 1 (nothing was sent while holding): the client
         * reads the notice before anything else that could make it open a
         * stream. nghttp2 does not know of it, so it keeps reading until
         * the final GOAWAY (no close on a momentarily idle session). */
        px_h2_goaway_frame(out, INT32_MAX, NGHTTP2_NO_ERROR);
        px_h2_ping_frame(out + PX_H2_GOAWAY_FRAME, drain_ping2);
        d->drain = DRAIN_PING2;
        if (px_timer_arm(d->w->loop, &d->conn->timer, PX_H2_DRAIN_ACK_MS) != 0)
            return -1;
        return px_sock_write(sk, out, sizeof(out));
    }
    return 0;
}

/* pump() for the downstream session: tracks frame boundaries, puts the
 * drain frames in between, and sends nothing while holding for PING 1. */
static int pump_down(h2_down_t *d)
{
    px_sock_t *sk = &d->conn->sock;
    for (;;) {
        if (px_h2_framer_at_boundary(&d->framer)) {
            if ((d->drain == DRAIN_PING1 || d->drain == DRAIN_NOTICE) && drain_write(d) != 0)
                return -1;
            if (d->drain == DRAIN_HOLD && !d->close_after_flush)
                return 0; /* (a connection being closed flushes its GOAWAY) */
        }
        if (px_sock_pending(sk) >= PX_SOCK_OUT_HIGH)
            return 0;
        const uint8_t *data;
        ssize_t n = nghttp2_session_mem_send(d->side.ng, &data);
        if (n < 0)
            return -1;
        if (n == 0)
            return 0;
        px_h2_framer_feed(&d->framer, data, (size_t)n);
        if (px_sock_write(sk, data, (size_t)n) != 0)
            return -1;
    }
}

static void run_down(h2_down_t *d)
{
    px_conn_t *conn = d->conn;
    if (d->dead) {
        down_close(d, 0);
        return;
    }
    if (pump_down(d) != 0) {
        down_close(d, EPROTO);
        return;
    }
    bool done = !nghttp2_session_want_read(d->side.ng) && !nghttp2_session_want_write(d->side.ng);
    if ((done || d->close_after_flush) && px_sock_pending(&conn->sock) == 0) {
        down_close(d, 0);
        return;
    }
    if (done || d->close_after_flush) {
        px_sock_read_stop(&conn->sock);
        if (!px_timer_armed(&conn->timer))
            px_timer_arm(d->w->loop, &conn->timer, PX_H2_LINGER_MS);
        return;
    }
    /* A client that does not read its responses is not read either. */
    if (px_sock_pending(&conn->sock) >= PX_SOCK_OUT_HIGH)
        px_sock_read_stop(&conn->sock);
    else
        px_sock_read_start(&conn->sock);
}

static void run_up(h2_up_t *u)
{
    if (u->closed)
        return;
    if (u->dead || u->px == NULL) {
        up_close(u);
        return;
    }
    if (!u->connected)
        return;
    px_sock_t *sk = &u->px->sock;
    if (pump(u->side.ng, sk) != 0) {
        u->dead = true;
        up_close(u);
        return;
    }
    bool idle = u->refs == 0 && px_list_empty(&u->streams);
    bool done = !nghttp2_session_want_read(u->side.ng) && !nghttp2_session_want_write(u->side.ng);
    if ((idle || done || (u->no_new && px_list_empty(&u->streams))) && px_sock_pending(sk) == 0) {
        up_close(u);
        return;
    }
    if (px_sock_pending(sk) >= PX_SOCK_OUT_HIGH)
        px_sock_read_stop(sk);
    else
        px_sock_read_start(sk);
}

static void run(void)
{
    if (T.running)
        return;
    T.running = true;
    while (!px_list_empty(&T.dirty)) {
        h2_side_t *side = MESH_CONTAINER_OF(T.dirty.next, h2_side_t, dirty_link);
        px_list_unlink(&side->dirty_link);
        if (side->is_up)
            run_up(MESH_CONTAINER_OF(side, h2_up_t, side));
        else
            run_down(MESH_CONTAINER_OF(side, h2_down_t, side));
    }
    T.running = false;
}

/* --- downstream connection --------------------------------------------------------- */

static void d_on_read(px_sock_t *sk, int status)
{
    px_conn_t *conn = sk->data;
    h2_down_t *d = conn->proto;
    if (sk->in.len && !d->close_after_flush) {
        ssize_t r = nghttp2_session_mem_recv(d->side.ng, (const uint8_t *)px_buf_data(&sk->in), sk->in.len);
        if (r < 0) {
            /* nghttp2 queued a GOAWAY where it could (flood, bad preface,
             * protocol error): send it, then close. */
            mesh_log_debug("h2", "downstream protocol error: %s", nghttp2_strerror((int)r));
            if (r == NGHTTP2_ERR_FLOODED || r == NGHTTP2_ERR_BAD_CLIENT_MAGIC)
                d->dead = true;
            px_conn_count_error(d->w, conn->dir, "h2_protocol");
            d->close_after_flush = true;
        }
    }
    px_buf_consume(&sk->in, sk->in.len);
    if (status != 0)
        d->dead = true;
    mark(&d->side);
    run();
}

static void d_on_written(px_sock_t *sk, int status)
{
    px_conn_t *conn = sk->data;
    h2_down_t *d = conn->proto;
    if (status != 0)
        d->dead = true;
    mark(&d->side);
    run();
}

static void d_on_timer(px_timer_t *t)
{
    px_conn_t *conn = MESH_CONTAINER_OF(t, px_conn_t, timer);
    h2_down_t *d = conn->proto;
    if (d->close_after_flush || (d->drain == DRAIN_FINAL && d->ninflight == 0)) {
        d->dead = true; /* linger over: the GOAWAY could not be flushed */
    } else if (d->drain == DRAIN_PING1 || d->drain == DRAIN_HOLD) {
        mesh_log_debug("h2", "drain: no PING ACK in %d ms, notice sent anyway", PX_H2_DRAIN_ACK_MS);
        d->drain = DRAIN_NOTICE;
    } else if (d->drain == DRAIN_PING2) {
        mesh_log_debug("h2", "drain: no PING ACK in %d ms, final GOAWAY sent anyway", PX_H2_DRAIN_ACK_MS);
        drain_final(d);
    } else if (d->drain == DRAIN_NONE && d->ninflight == 0) {
        /* Idle timeout. */
        d->drain = DRAIN_FINAL;
        nghttp2_submit_goaway(d->side.ng, NGHTTP2_FLAG_NONE,
                              nghttp2_session_get_last_proc_stream_id(d->side.ng), NGHTTP2_NO_ERROR,
                              NULL, 0);
        d->close_after_flush = true;
    }
    mark(&d->side);
    run();
}

static void d_free_deferred(px_deferred_t *dd)
{
    mesh_free(MESH_CONTAINER_OF(dd, h2_down_t, free_d));
}

static void h2_free(px_conn_t *conn)
{
    h2_down_t *d = conn->proto;
    px_list_unlink(&d->side.dirty_link);
    while (!px_list_empty(&d->streams)) {
        h2_stream_t *s = MESH_CONTAINER_OF(d->streams.next, h2_stream_t, d_link);
        /* An upstream half still running finishes without us. */
        px_list_unlink(&s->d_link);
        s->d = NULL;
        d->ninflight--;
        if (s->down_open) {
            if (!s->error[0] && !s->resp_eof)
                s->error = "client_closed";
            down_half_gone(s, NGHTTP2_CANCEL, NULL);
        }
    }
    for (size_t i = 0; i < d->nups; i++)
        up_unref(d->ups[i]);
    d->nups = 0;
    nghttp2_session_del(d->side.ng);
    d->side.ng = NULL;
    px_loop_defer(d->w->loop, &d->free_d, d_free_deferred);
    run();
}

/* Step 3 of the drain: the final GOAWAY names the last stream received.
 * From a callback too (a submit). */
static void drain_final(h2_down_t *d)
{
    d->drain = DRAIN_FINAL;
    px_timer_cancel(d->w->loop, &d->conn->timer);
    nghttp2_submit_goaway(d->side.ng, NGHTTP2_FLAG_NONE,
                          nghttp2_session_get_last_proc_stream_id(d->side.ng), NGHTTP2_NO_ERROR, NULL,
                          0);
    mark(&d->side);
}

/* Begins the drain (px/h2.h): even an idle connection goes through every
 * step, since the client may have a stream on the wire. */
static void drain_begin(h2_down_t *d)
{
    if (d->drain != DRAIN_NONE)
        return;
    d->drain = DRAIN_PING1;
    if (px_timer_arm(d->w->loop, &d->conn->timer, PX_H2_DRAIN_ACK_MS) != 0)
        d->close_after_flush = true; /* no timer, no way to finish: just close */
    mark(&d->side);
}

static void h2_drain(px_conn_t *conn)
{
    drain_begin(conn->proto);
    run();
}

static const px_conn_proto_t h2_proto = {"h2", h2_drain, h2_free};

static int init_callbacks(void)
{
    nghttp2_session_callbacks *d = NULL, *u = NULL;
    if (nghttp2_session_callbacks_new(&d) != 0 || nghttp2_session_callbacks_new(&u) != 0) {
        nghttp2_session_callbacks_del(d);
        return -1;
    }
    nghttp2_session_callbacks_set_on_begin_headers_callback(d, d_on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback2(d, d_on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(d, d_on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(d, d_on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(d, d_on_stream_close);
    nghttp2_session_callbacks_set_on_begin_headers_callback(u, u_on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback2(u, u_on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(u, u_on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(u, u_on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(u, u_on_stream_close);
    down_cbs = d;
    up_cbs = u;
    return 0;
}

static pthread_once_t cb_once = PTHREAD_ONCE_INIT;
static int cb_status = -1;
static void cb_init_once(void) { cb_status = init_callbacks(); }

void px_h2_serve_conn(px_conn_t *conn)
{
    tls_init();
    pthread_once(&cb_once, cb_init_once);
    h2_down_t *d = cb_status == 0 ? mesh_calloc(1, sizeof(*d)) : NULL;
    if (d == NULL) {
        px_conn_close(conn, ENOMEM);
        return;
    }
    d->conn = conn;
    d->w = conn->w;
    px_list_init(&d->side.dirty_link);
    px_list_init(&d->streams);
    px_deferred_init(&d->free_d);
    px_h2_rate_init(&d->resets, PX_H2_RESET_BURST, PX_H2_RESET_RATE, px_loop_now(conn->w->loop));
    if (px_h2_session_new(&d->side.ng, true, down_cbs, d) != 0) {
        mesh_free(d);
        px_conn_close(conn, ENOMEM);
        return;
    }
    conn->proto = d;
    conn->proto_ops = &h2_proto;
    conn->sock.data = conn;
    conn->sock.on_read = d_on_read;
    conn->sock.on_written = d_on_written;
    px_timer_cancel(conn->w->loop, &conn->timer);
    conn->timer.cb = d_on_timer;
    if (conn->w->draining)
        drain_begin(d);
    else
        px_timer_arm(conn->w->loop, &conn->timer, conn->w->cfg->http_idle_timeout_ms);
    /* The preface and whatever followed it are already in sock.in. */
    d_on_read(&conn->sock, 0);
}
