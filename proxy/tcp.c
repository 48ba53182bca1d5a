/* Raw TCP relay with half-close and backpressure; see px/conn.h.
 *
 * Each direction moves bytes from the source's `in` to the sink's `out`.
 * When the sink holds PX_SOCK_OUT_HIGH unsent bytes the source stops being
 * read; the sink's on_written (its output drained) resumes it. A FIN from one
 * side becomes a shutdown(SHUT_WR) on the other once its output is sent; the
 * relay ends when both directions have seen their FIN, or on any error.
 */
#include <errno.h>

#include "mesh/log.h"
#include "mesh/mem.h"
#include "px/conn.h"
#include "px/err.h"

typedef struct relay {
    px_conn_t *conn;    /* downstream (a) */
    px_upstream_t *up;  /* upstream (b) */
    bool a_eof, b_eof;  /* FIN seen from a / from b */
    bool connected;     /* upstream connect finished */
} relay_t;

static void relay_end(relay_t *r, int err)
{
    px_upstream_t *up = r->up;
    px_conn_t *conn = r->conn;
    r->up = NULL;
    if (up)
        px_upstream_close(up, err);
    px_conn_close(conn, err); /* frees r through proto_free */
}

static void relay_maybe_done(relay_t *r)
{
    if (r->a_eof && r->b_eof && px_sock_pending(&r->conn->sock) == 0 &&
        (r->up == NULL || px_sock_pending(&r->up->sock) == 0))
        relay_end(r, 0);
}

/* Moves src->in into dst->out; pauses src when dst is backed up. */
static int pump(px_sock_t *src, px_sock_t *dst)
{
    if (src->in.len > 0) {
        int rc = px_sock_write(dst, px_buf_data(&src->in), src->in.len);
        if (rc != 0)
            return rc;
        px_buf_consume(&src->in, src->in.len);
    }
    if (px_sock_pending(dst) >= PX_SOCK_OUT_HIGH)
        px_sock_read_stop(src);
    return 0;
}

static void on_read_a(px_sock_t *s, int status)
{
    relay_t *r = ((px_conn_t *)s->data)->proto;
    if (status != 0 && status != PX_ERR_EOF) {
        relay_end(r, s->last_errno);
        return;
    }
    if (pump(s, &r->up->sock) != 0) {
        relay_end(r, EIO);
        return;
    }
    if (status == PX_ERR_EOF) {
        r->a_eof = true;
        px_sock_shutdown(&r->up->sock);
        relay_maybe_done(r);
    }
}

static void on_read_b(px_sock_t *s, int status)
{
    relay_t *r = ((px_upstream_t *)s->data)->data;
    if (status != 0 && status != PX_ERR_EOF) {
        relay_end(r, s->last_errno);
        return;
    }
    if (pump(s, &r->conn->sock) != 0) {
        relay_end(r, EIO);
        return;
    }
    if (status == PX_ERR_EOF) {
        r->b_eof = true;
        px_sock_shutdown(&r->conn->sock);
        relay_maybe_done(r);
    }
}

static void on_written_a(px_sock_t *s, int status)
{
    relay_t *r = ((px_conn_t *)s->data)->proto;
    if (status != 0) {
        relay_end(r, s->last_errno);
        return;
    }
    if (r->connected && !r->b_eof)
        px_sock_read_start(&r->up->sock);
    relay_maybe_done(r);
}

static void on_written_b(px_sock_t *s, int status)
{
    relay_t *r = ((px_upstream_t *)s->data)->data;
    if (status != 0) {
        relay_end(r, s->last_errno);
        return;
    }
    if (!r->a_eof)
        px_sock_read_start(&r->conn->sock);
    relay_maybe_done(r);
}

static void start_relaying(relay_t *r)
{
    r->connected = true;
    px_upstream_t *up = r->up;
    up->data = r;
    up->sock.data = up;
    up->sock.on_read = on_read_b;
    up->sock.on_written = on_written_b;
    r->conn->sock.on_read = on_read_a;
    r->conn->sock.on_written = on_written_a;
    /* Bytes read during detection (or after the 101) go first. */
    if (pump(&r->conn->sock, &up->sock) != 0 || pump(&up->sock, &r->conn->sock) != 0) {
        relay_end(r, EIO);
        return;
    }
    if (r->conn->sock.flags & PX_SOCK_FLAG_EOF) {
        r->a_eof = true;
        px_sock_shutdown(&up->sock);
    } else if (px_sock_pending(&up->sock) < PX_SOCK_OUT_HIGH) {
        px_sock_read_start(&r->conn->sock);
    }
    if (up->sock.flags & PX_SOCK_FLAG_EOF) {
        r->b_eof = true;
        px_sock_shutdown(&r->conn->sock);
    } else if (px_sock_pending(&r->conn->sock) < PX_SOCK_OUT_HIGH) {
        px_sock_read_start(&up->sock);
    }
    relay_maybe_done(r);
}

static void on_connect(px_upstream_t *up, int status)
{
    relay_t *r = up->data;
    if (status != 0) {
        r->up = NULL; /* already closed by the upstream layer */
        mesh_log_debug("proxy", "tcp connect failed: %s", px_strerror(status));
        px_conn_close(r->conn, ECONNREFUSED);
        return;
    }
    start_relaying(r);
}

static void relay_free(px_conn_t *conn)
{
    relay_t *r = conn->proto;
    if (r->up)
        px_upstream_close(r->up, 0);
    mesh_free(r);
}

static void relay_drain(px_conn_t *conn)
{
    (void)conn; /* opaque streams run to completion or the grace period */
}

static const px_conn_proto_t tcp_proto = {"tcp", relay_drain, relay_free};

static relay_t *relay_new(px_conn_t *conn)
{
    relay_t *r = mesh_calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->conn = conn;
    conn->proto = r;
    conn->proto_ops = &tcp_proto;
    px_timer_cancel(conn->w->loop, &conn->timer);
    px_sock_read_stop(&conn->sock);
    return r;
}

void px_tcp_relay(px_conn_t *conn, px_upstream_t *up)
{
    relay_t *r = relay_new(conn);
    if (r == NULL) {
        px_upstream_close(up, ENOMEM);
        px_conn_close(conn, ENOMEM);
        return;
    }
    r->up = up;
    start_relaying(r);
}

void px_tcp_serve(px_conn_t *conn)
{
    relay_t *r = relay_new(conn);
    if (r == NULL) {
        px_conn_close(conn, ENOMEM);
        return;
    }
    int err = 0;
    r->up = px_upstream_connect(conn->w, conn->dir, &conn->connect_to, on_connect, r, &err);
    if (r->up == NULL)
        px_conn_close(conn, ECONNREFUSED);
}
