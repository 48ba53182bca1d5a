/* Connection and upstream lifecycles, idle pool; see px/conn.h. */
#include "px/conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "mesh/log.h"
#include "mesh/mem.h"
#include "px/err.h"
#include "px/h2.h"

void (*px_h2_serve)(px_conn_t *conn) = px_h2_serve_conn;

void px_labels_target(px_labels_t *l, const px_addr_t *a)
{
    char addr[80], ip[INET6_ADDRSTRLEN] = "", port[8] = "";
    px_addr_format((const struct sockaddr *)&a->sa, addr, sizeof(addr));
    if (a->sa.ss_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)&a->sa;
        inet_ntop(AF_INET, &v4->sin_addr, ip, sizeof(ip));
        snprintf(port, sizeof(port), "%u", ntohs(v4->sin_port));
    } else if (a->sa.ss_family == AF_INET6) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)&a->sa;
        inet_ntop(AF_INET6, &v6->sin6_addr, ip, sizeof(ip));
        snprintf(port, sizeof(port), "%u", ntohs(v6->sin6_port));
    }
    px_labels_adds(l, "target_addr", addr);
    px_labels_adds(l, "target_ip", ip);
    px_labels_adds(l, "target_port", port);
}

void px_labels_tcp(px_labels_t *l, px_dir_t dir, bool src, const px_addr_t *target)
{
    px_labels_init(l);
    px_labels_adds(l, "direction", dir == PX_DIR_INBOUND ? "inbound" : "outbound");
    px_labels_adds(l, "peer", src ? "src" : "dst");
    px_labels_target(l, target);
    px_labels_adds(l, "tls", "disabled");
}

const px_addr_t *px_conn_label_addr(const px_conn_t *conn)
{
    return conn->has_target ? &conn->target : &conn->w->listeners[conn->dir].addr;
}

void px_conn_count_error(px_worker_t *w, px_dir_t dir, const char *error)
{
    px_labels_t l;
    px_labels_init(&l);
    px_labels_adds(&l, "error", error);
    px_metrics_inc(w->metrics,
                   dir == PX_DIR_INBOUND ? PX_M_INBOUND_TCP_ERRORS_TOTAL : PX_M_OUTBOUND_TCP_ERRORS_TOTAL,
                   &l, 1, px_loop_now(w->loop));
}

/* tcp_close_total{errno}, bytes, and the open gauge, for either side. */
static void count_close(px_worker_t *w, px_dir_t dir, bool src, const px_addr_t *target,
                        const px_sock_t *s, int err)
{
    uint64_t now = px_loop_now(w->loop);
    px_labels_t l;
    px_labels_tcp(&l, dir, src, target);
    px_metrics_inc(w->metrics, PX_M_TCP_READ_BYTES_TOTAL, &l, s->bytes_in, now);
    px_metrics_inc(w->metrics, PX_M_TCP_WRITE_BYTES_TOTAL, &l, s->bytes_out, now);
    px_metrics_gauge_add(w->metrics, PX_M_TCP_OPEN_CONNECTIONS, &l, -1, now);
    px_labels_adds(&l, "errno", px_errno_name(err ? err : s->last_errno));
    px_metrics_inc(w->metrics, PX_M_TCP_CLOSE_TOTAL, &l, 1, now);
}

static void conn_free(px_deferred_t *d)
{
    px_conn_t *conn = MESH_CONTAINER_OF(d, px_conn_t, free_d);
    mesh_free(conn);
}

void px_conn_close(px_conn_t *conn, int err)
{
    if (conn->closed)
        return;
    conn->closed = true;
    px_worker_t *w = conn->w;
    px_timer_cancel(w->loop, &conn->timer);
    count_close(w, conn->dir, true, px_conn_label_addr(conn), &conn->sock, err);
    if (conn->proto_ops && conn->proto_ops->free)
        conn->proto_ops->free(conn);
    conn->proto = NULL;
    px_sock_close(&conn->sock);
    px_list_unlink(&conn->link);
    w->nconns--;
    px_loop_defer(w->loop, &conn->free_d, conn_free);
}

/* --- upstreams ------------------------------------------------------------------ */

static void up_free(px_deferred_t *d)
{
    px_upstream_t *up = MESH_CONTAINER_OF(d, px_upstream_t, free_d);
    mesh_free(up);
}

void px_upstream_close(px_upstream_t *up, int err)
{
    if (up->closed)
        return;
    up->closed = true;
    px_worker_t *w = up->w;
    px_timer_cancel(w->loop, &up->timer);
    if (px_list_linked(&up->pool_link)) {
        px_list_unlink(&up->pool_link);
        w->npool--;
    }
    if (up->connected)
        count_close(w, up->dir, false, &up->addr, &up->sock, err);
    px_sock_close(&up->sock);
    w->nupstreams--;
    px_loop_defer(w->loop, &up->free_d, up_free);
}

static void up_on_timer(px_timer_t *t)
{
    px_upstream_t *up = MESH_CONTAINER_OF(t, px_upstream_t, timer);
    if (px_list_linked(&up->pool_link)) {
        if (!up->shrunk) {
            up->shrunk = true;
            px_sock_shrink(&up->sock);
            if (px_timer_arm(up->w->loop, &up->timer,
                             PX_POOL_IDLE_TIMEOUT_MS - PX_POOL_SHRINK_MS) == 0)
                return;
        }
        px_upstream_close(up, 0); /* idle in the pool too long */
        return;
    }
    px_conn_count_error(up->w, up->dir, "connect_timeout");
    px_upstream_close(up, ETIMEDOUT);
    up->on_connect(up, PX_ERR_TIMEOUT);
}

static void up_on_connect(px_sock_t *s, int status)
{
    px_upstream_t *up = s->data;
    px_timer_cancel(up->w->loop, &up->timer);
    if (status != 0) {
        px_conn_count_error(up->w, up->dir, status == PX_ERR_REFUSED ? "connect_refused" : "connect_error");
        px_upstream_close(up, s->last_errno);
        up->on_connect(up, status);
        return;
    }
    up->connected = true;
    uint64_t now = px_loop_now(up->w->loop);
    px_labels_t l;
    px_labels_tcp(&l, up->dir, false, &up->addr);
    px_metrics_inc(up->w->metrics, PX_M_TCP_OPEN_TOTAL, &l, 1, now);
    px_metrics_gauge_add(up->w->metrics, PX_M_TCP_OPEN_CONNECTIONS, &l, 1, now);
    up->on_connect(up, 0);
}

px_upstream_t *px_upstream_connect(px_worker_t *w, px_dir_t dir, const px_addr_t *addr,
                                   void (*on_connect)(px_upstream_t *, int), void *data,
                                   int *err)
{
    px_upstream_t *up = mesh_calloc(1, sizeof(*up));
    if (up == NULL) {
        *err = PX_ERR_NOMEM;
        return NULL;
    }
    up->w = w;
    up->dir = dir;
    up->addr = *addr;
    up->on_connect = on_connect;
    up->data = data;
    px_list_init(&up->pool_link);
    px_timer_init(&up->timer, up_on_timer);
    px_deferred_init(&up->free_d);
    int r = px_sock_connect(&up->sock, &w->queue, (const struct sockaddr *)&addr->sa, addr->len, up);
    if (r != 0) {
        px_conn_count_error(w, dir, r == PX_ERR_REFUSED ? "connect_refused" : "connect_error");
        mesh_free(up);
        *err = r;
        return NULL;
    }
    up->sock.on_connect = up_on_connect;
    w->nupstreams++;
    uint64_t t = dir == PX_DIR_INBOUND ? w->cfg->inbound_connect_timeout_ms
                                       : w->cfg->outbound_connect_timeout_ms;
    if (px_timer_arm(w->loop, &up->timer, t) != 0) {
        px_upstream_close(up, ENOMEM);
        *err = PX_ERR_NOMEM;
        return NULL;
    }
    return up;
}

static bool same_addr(const px_addr_t *a, const px_addr_t *b)
{
    return a->len == b->len && memcmp(&a->sa, &b->sa, a->len) == 0;
}

/* A pooled connection became readable: the server closed it or sent bytes
 * nobody asked for. Either way it is unusable. */
static void pooled_on_read(px_sock_t *s, int status)
{
    (void)status;
    px_upstream_close(s->data, 0);
}

px_upstream_t *px_upstream_take(px_worker_t *w, const px_addr_t *addr)
{
    for (px_list_t *n = w->pool.next; n != &w->pool; n = n->next) {
        px_upstream_t *up = MESH_CONTAINER_OF(n, px_upstream_t, pool_link);
        if (!same_addr(&up->addr, addr))
            continue;
        px_list_unlink(&up->pool_link);
        w->npool--;
        px_timer_cancel(w->loop, &up->timer);
        px_sock_read_stop(&up->sock);
        return up;
    }
    return NULL;
}

void px_upstream_release(px_upstream_t *up, bool reusable)
{
    px_worker_t *w = up->w;
    if (!reusable || w->draining || w->npool >= PX_POOL_MAX_IDLE || up->sock.in.len > 0 ||
        (up->sock.flags & (PX_SOCK_FLAG_EOF | PX_SOCK_FLAG_ERROR | PX_SOCK_FLAG_SHUT_PENDING))) {
        px_upstream_close(up, 0);
        return;
    }
    up->shrunk = false;
    up->sock.on_read = pooled_on_read;
    up->sock.on_written = NULL;
    up->sock.data = up;
    up->data = NULL;
    px_sock_read_start(&up->sock);
    /* Most recently used first: it is the least likely to have been closed. */
    px_list_insert(w->pool.next, &up->pool_link);
    w->npool++;
    if (px_timer_arm(w->loop, &up->timer, PX_POOL_SHRINK_MS) != 0)
        px_upstream_close(up, 0);
}
