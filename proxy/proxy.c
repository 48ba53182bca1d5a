/* Workers, listeners, accept, original destination, detection, shutdown;
 * see px/proxy.h. */
#include "px/proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mesh/log.h"
#include "mesh/mem.h"
#include "px/detect.h"
#include "px/err.h"

/* getsockopt names of the pre-NAT destination (linux/netfilter_ipv4.h,
 * linux/netfilter_ipv6/ip6_tables.h), spelled out to avoid those headers. */
#define PX_SO_ORIGINAL_DST 80
#define PX_IP6T_SO_ORIGINAL_DST 80

struct px_proxy {
    const px_config_t *cfg;
    px_metrics_t *metrics;
    unsigned nworkers;
    px_worker_t *workers;
    pthread_t *threads;
    bool started;
    _Atomic bool ready;
    _Atomic bool draining;
    _Atomic bool stop_now;
    _Atomic unsigned running;
    px_addr_t bound[2];  /* resolved inbound / outbound addresses */
    px_addr_t admin_bound;
};

static void on_accept(px_io_t *io, unsigned ev);

/* --- listeners ---------------------------------------------------------------- */

static int listen_on(const px_addr_t *a, bool reuseport, px_addr_t *bound, char *eb, size_t cap)
{
    int fd = socket(a->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    char name[80];
    px_addr_format((const struct sockaddr *)&a->sa, name, sizeof(name));
    if (fd < 0) {
        snprintf(eb, cap, "socket for %s: %s", name, strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (reuseport)
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    if (bind(fd, (const struct sockaddr *)&a->sa, a->len) != 0 || listen(fd, PX_LISTEN_BACKLOG) != 0) {
        snprintf(eb, cap, "listen on %s: %s", name, strerror(errno));
        close(fd);
        return -1;
    }
    bound->len = sizeof(bound->sa);
    getsockname(fd, (struct sockaddr *)&bound->sa, &bound->len);
    return fd;
}

static void close_listeners(px_worker_t *w)
{
    for (int d = 0; d < 2; d++) {
        px_listener_t *l = &w->listeners[d];
        if (l->fd < 0)
            continue;
        px_io_stop(w->loop, &l->io);
        close(l->fd);
        l->fd = -1;
    }
}

/* --- targets ------------------------------------------------------------------ */

static bool same_addr(const px_addr_t *a, const px_addr_t *b)
{
    if (a->sa.ss_family != b->sa.ss_family)
        return false;
    if (a->sa.ss_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)&a->sa, *y = (const void *)&b->sa;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    const struct sockaddr_in6 *x = (const void *)&a->sa, *y = (const void *)&b->sa;
    return x->sin6_port == y->sin6_port && memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
}

/* The pre-NAT destination, when iptables redirected the connection. The
 * listener's own address (no redirect, or conntrack without NAT) counts as
 * none, which also keeps the proxy from connecting to itself. */
static bool original_dst(int fd, px_addr_t *out)
{
    px_addr_t local;
    local.len = sizeof(local.sa);
    if (getsockname(fd, (struct sockaddr *)&local.sa, &local.len) != 0)
        return false;
    memset(out, 0, sizeof(*out));
    out->len = sizeof(out->sa);
    int r = local.sa.ss_family == AF_INET6
                ? getsockopt(fd, SOL_IPV6, PX_IP6T_SO_ORIGINAL_DST, &out->sa, &out->len)
                : getsockopt(fd, SOL_IP, PX_SO_ORIGINAL_DST, &out->sa, &out->len);
    if (r != 0)
        return false;
    out->len = out->sa.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    return !same_addr(out, &local);
}

static uint16_t port_of(const px_addr_t *a)
{
    return ntohs(a->sa.ss_family == AF_INET6 ? ((const struct sockaddr_in6 *)&a->sa)->sin6_port
                                             : ((const struct sockaddr_in *)&a->sa)->sin_port);
}

/* --- detection -------------------------------------------------------------------- */

static void dispatch(px_conn_t *conn, px_proto_t proto)
{
    px_timer_cancel(conn->w->loop, &conn->timer);
    mesh_log_debug("proxy", "connection detected as %s", px_proto_name(proto));
    /* Without an original destination only HTTP can go anywhere: each
     * request names its target (CMESH_PROXY_OUTBOUND_TARGET_FROM_HOST). */
    if (proto == PX_PROTO_H1) {
        px_h1_serve(conn);
        return;
    }
    if (proto == PX_PROTO_H2 && px_h2_serve) {
        px_h2_serve(conn);
        return;
    }
    if (!conn->has_target) {
        px_conn_count_error(conn->w, conn->dir, "no_target");
        px_conn_close(conn, 0);
        return;
    }
    px_tcp_serve(conn); /* opaque, or HTTP/2 until its handler exists */
}

static void detect_on_read(px_sock_t *s, int status)
{
    px_conn_t *conn = s->data;
    if (status != 0 && (status != PX_ERR_EOF || s->in.len == 0)) {
        px_conn_close(conn, status == PX_ERR_EOF ? 0 : s->last_errno);
        return;
    }
    px_proto_t p = px_detect(px_buf_data(&s->in), s->in.len);
    if (p == PX_PROTO_NEED_MORE && (status == PX_ERR_EOF || s->in.len >= PX_DETECT_MAX))
        p = PX_PROTO_OPAQUE;
    if (p != PX_PROTO_NEED_MORE)
        dispatch(conn, p);
}

static void detect_on_timeout(px_timer_t *t)
{
    px_conn_t *conn = MESH_CONTAINER_OF(t, px_conn_t, timer);
    /* Server-speaks-first protocols send nothing: treat as opaque. */
    dispatch(conn, PX_PROTO_OPAQUE);
}

/* --- accept ----------------------------------------------------------------------- */

static void serve_accepted(px_worker_t *w, px_dir_t dir, int fd, const px_addr_t *peer)
{
    const px_config_t *cfg = w->cfg;
    px_conn_t *conn = mesh_calloc(1, sizeof(*conn));
    if (conn == NULL) {
        close(fd);
        return;
    }
    if (px_sock_open(&conn->sock, &w->queue, fd, conn) != 0) {
        close(fd);
        mesh_free(conn);
        return;
    }
    conn->w = w;
    conn->dir = dir;
    conn->peer = *peer;
    px_timer_init(&conn->timer, detect_on_timeout);
    px_deferred_init(&conn->free_d);
    px_list_insert(&w->conns, &conn->link);
    w->nconns++;

    px_addr_t orig;
    if (original_dst(fd, &orig)) {
        conn->has_target = true;
        conn->target = orig;
        conn->connect_to = orig;
        if (dir == PX_DIR_INBOUND) {
            /* The application listens on loopback at the original port. */
            char lit[32];
            snprintf(lit, sizeof(lit), "127.0.0.1:%u", port_of(&orig));
            px_parse_addr(lit, &conn->connect_to);
        }
    } else if (dir == PX_DIR_INBOUND && cfg->inbound_forward_addr.len) {
        conn->has_target = true;
        conn->target = cfg->inbound_forward_addr;
        conn->connect_to = cfg->inbound_forward_addr;
    }
    px_labels_t tl;
    px_labels_tcp(&tl, dir, true, px_conn_label_addr(conn));
    uint64_t now = px_loop_now(w->loop);
    px_metrics_inc(w->metrics, PX_M_TCP_OPEN_TOTAL, &tl, 1, now);
    px_metrics_gauge_add(w->metrics, PX_M_TCP_OPEN_CONNECTIONS, &tl, 1, now);

    if (!conn->has_target && !(dir == PX_DIR_OUTBOUND && cfg->outbound_target_from_host)) {
        mesh_log_info("proxy", "refused %s connection: no original destination",
                      dir == PX_DIR_INBOUND ? "inbound" : "outbound");
        px_conn_count_error(w, dir, "no_target");
        px_conn_close(conn, 0);
        return;
    }
    if (dir == PX_DIR_INBOUND && conn->has_target && px_config_port_opaque(cfg, port_of(&conn->target))) {
        px_tcp_serve(conn);
        return;
    }
    conn->sock.on_read = detect_on_read;
    px_timer_arm(w->loop, &conn->timer,
                 dir == PX_DIR_INBOUND ? cfg->inbound_detect_timeout_ms : cfg->outbound_detect_timeout_ms);
    px_sock_read_start(&conn->sock);
}

static void on_accept(px_io_t *io, unsigned ev)
{
    (void)ev;
    px_listener_t *l = MESH_CONTAINER_OF(io, px_listener_t, io);
    for (int i = 0; i < PX_ACCEPT_BATCH; i++) {
        px_addr_t peer;
        peer.len = sizeof(peer.sa);
        int fd = accept4(l->fd, (struct sockaddr *)&peer.sa, &peer.len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                mesh_log_warn("proxy", "accept: %s", strerror(errno));
            return;
        }
        serve_accepted(l->worker, l->dir, fd, &peer);
    }
}

/* --- draining --------------------------------------------------------------------- */

static void check_drained(px_worker_t *w)
{
    if (w->draining && w->nconns == 0 && w->nupstreams == w->npool)
        px_loop_stop(w->loop);
}

static void begin_drain(px_worker_t *w)
{
    if (w->draining)
        return;
    w->draining = true;
    close_listeners(w);
    while (!px_list_empty(&w->pool))
        px_upstream_close(MESH_CONTAINER_OF(w->pool.next, px_upstream_t, pool_link), 0);
    /* drain() may close the connection, which unlinks it: walk carefully. */
    for (px_list_t *n = w->conns.next, *next; n != &w->conns; n = next) {
        next = n->next;
        px_conn_t *conn = MESH_CONTAINER_OF(n, px_conn_t, link);
        if (conn->proto_ops == NULL)
            px_conn_close(conn, 0); /* still detecting: nothing in flight */
        else if (conn->proto_ops->drain)
            conn->proto_ops->drain(conn);
    }
    px_timer_arm(w->loop, &w->tick, 20);
}

static void on_wake(px_loop_t *loop, void *data)
{
    px_worker_t *w = data;
    if (atomic_load(&w->proxy->stop_now)) {
        px_loop_stop(loop);
        return;
    }
    if (atomic_load(&w->proxy->draining))
        begin_drain(w);
}

static void on_tick(px_timer_t *t)
{
    px_worker_t *w = MESH_CONTAINER_OF(t, px_worker_t, tick);
    px_metrics_evict(w->metrics, px_loop_now(w->loop));
    /* Connections that went idle freed their buffers, but malloc keeps the
     * pages mapped; after a burst, give them back (idle RSS is a goal). The
     * call walks the heap, so only when enough was freed. */
    if (px_buf_freed_take() >= PX_WORKER_TRIM_BYTES)
        malloc_trim(0);
    if (w->draining) {
        check_drained(w);
        px_timer_arm(w->loop, &w->tick, 20);
        return;
    }
    px_timer_arm(w->loop, &w->tick, PX_WORKER_TICK_MS);
}

/* --- workers ------------------------------------------------------------------------ */

static void *worker_main(void *arg)
{
    px_worker_t *w = arg;
    int r = px_loop_run(w->loop);
    if (r != 0)
        mesh_log_error("proxy", "worker %u: event loop failed: %s", w->id, px_strerror(r));
    /* Grace period over or drained: close what is left. */
    while (!px_list_empty(&w->conns))
        px_conn_close(MESH_CONTAINER_OF(w->conns.next, px_conn_t, link), 0);
    while (!px_list_empty(&w->pool))
        px_upstream_close(MESH_CONTAINER_OF(w->pool.next, px_upstream_t, pool_link), 0);
    if (w->admin)
        px__admin_stop(w);
    close_listeners(w);
    px_loop_flush_deferred(w->loop);
    atomic_fetch_sub(&w->proxy->running, 1);
    return NULL;
}

static int worker_init(px_proxy_t *p, unsigned id, char *eb, size_t cap)
{
    px_worker_t *w = &p->workers[id];
    w->proxy = p;
    w->cfg = p->cfg;
    w->id = id;
    w->listeners[0].fd = w->listeners[1].fd = -1;
    px_list_init(&w->conns);
    px_list_init(&w->pool);
    px_timer_init(&w->tick, on_tick);
    w->metrics = px_metrics_shard(p->metrics, id);
    w->loop = px_loop_new();
    if (w->loop == NULL) {
        snprintf(eb, cap, "cannot create event loop");
        return PX_ERR_NOMEM;
    }
    if (px_sock_queue_init(&w->queue, w->loop) != 0 ||
        px_timer_arm(w->loop, &w->tick, PX_WORKER_TICK_MS) != 0) {
        snprintf(eb, cap, "cannot set up event loop");
        return PX_ERR_NOMEM;
    }
    px_loop_set_wake_cb(w->loop, on_wake, w);
    const px_addr_t *cfg_addr[2] = {&p->cfg->inbound_addr, &p->cfg->outbound_addr};
    for (int d = 0; d < 2; d++) {
        px_listener_t *l = &w->listeners[d];
        /* Workers after the first bind the port the first one got, so port 0
         * (tests) still gives one shared SO_REUSEPORT group. */
        const px_addr_t *a = id == 0 ? cfg_addr[d] : &p->bound[d];
        l->fd = listen_on(a, true, &l->addr, eb, cap);
        if (l->fd < 0)
            return PX_ERR_IO;
        if (id == 0)
            p->bound[d] = l->addr;
        l->dir = (px_dir_t)d;
        l->worker = w;
        if (px_io_start(w->loop, &l->io, l->fd, PX_IO_READ, on_accept) != 0) {
            snprintf(eb, cap, "cannot watch listener");
            return PX_ERR_IO;
        }
    }
    if (id == 0) {
        int fd = listen_on(&p->cfg->admin_addr, false, &p->admin_bound, eb, cap);
        if (fd < 0)
            return PX_ERR_IO;
        if (px__admin_start(w, fd) != 0) {
            close(fd);
            snprintf(eb, cap, "cannot start admin server");
            return PX_ERR_NOMEM;
        }
    }
    return 0;
}

static void worker_fini(px_worker_t *w)
{
    if (w->loop == NULL)
        return;
    if (w->admin)
        px__admin_stop(w);
    close_listeners(w);
    px_timer_cancel(w->loop, &w->tick);
    px_loop_flush_deferred(w->loop);
    px_loop_free(w->loop);
    w->loop = NULL;
}

px_proxy_t *px_proxy_new(const px_config_t *cfg, int *err, char *eb, size_t cap)
{
    px_proxy_t *p = mesh_calloc(1, sizeof(*p));
    if (p == NULL)
        goto fail_nomem;
    p->cfg = cfg;
    p->nworkers = cfg->cores ? cfg->cores : 1;
    p->metrics = px_metrics_new(p->nworkers, PX_METRICS_MAX_SERIES, cfg->metrics_retain_idle_ms);
    p->workers = mesh_calloc(p->nworkers, sizeof(*p->workers));
    p->threads = mesh_calloc(p->nworkers, sizeof(*p->threads));
    if (p->metrics == NULL || p->workers == NULL || p->threads == NULL)
        goto fail_free;
    for (unsigned i = 0; i < p->nworkers; i++) {
        int r = worker_init(p, i, eb, cap);
        if (r != 0) {
            *err = r;
            goto fail_workers;
        }
    }
    return p;

fail_workers:
    for (unsigned i = 0; i < p->nworkers; i++)
        worker_fini(&p->workers[i]);
    mesh_free(p->threads);
    mesh_free(p->workers);
    px_metrics_free(p->metrics);
    mesh_free(p);
    return NULL;
fail_free:
    mesh_free(p->threads);
    mesh_free(p->workers);
    px_metrics_free(p->metrics);
    mesh_free(p);
fail_nomem:
    snprintf(eb, cap, "out of memory");
    *err = PX_ERR_NOMEM;
    return NULL;
}

int px_proxy_start(px_proxy_t *p)
{
    for (unsigned i = 0; i < p->nworkers; i++) {
        atomic_fetch_add(&p->running, 1);
        if (pthread_create(&p->threads[i], NULL, worker_main, &p->workers[i]) != 0) {
            atomic_fetch_sub(&p->running, 1);
            /* Stop the ones started; px_proxy_free joins them. */
            p->nworkers = i;
            px_proxy_stop_now(p);
            return PX_ERR_NOMEM;
        }
    }
    p->started = true;
    atomic_store(&p->ready, true);
    return 0;
}

void px_proxy_shutdown(px_proxy_t *p)
{
    atomic_store(&p->ready, false);
    atomic_store(&p->draining, true);
    for (unsigned i = 0; i < p->nworkers; i++)
        px_loop_wake(p->workers[i].loop);
}

void px_proxy_stop_now(px_proxy_t *p)
{
    atomic_store(&p->stop_now, true);
    for (unsigned i = 0; i < p->nworkers; i++)
        px_loop_wake(p->workers[i].loop);
}

unsigned px_proxy_running(px_proxy_t *p) { return atomic_load(&p->running); }

void px_proxy_free(px_proxy_t *p)
{
    if (p == NULL)
        return;
    if (p->started || p->nworkers) {
        for (unsigned i = 0; i < p->nworkers && p->started; i++)
            pthread_join(p->threads[i], NULL);
    }
    for (unsigned i = 0; i < p->nworkers; i++)
        worker_fini(&p->workers[i]);
    mesh_free(p->threads);
    mesh_free(p->workers);
    px_metrics_free(p->metrics);
    mesh_free(p);
}

const px_addr_t *px_proxy_listen_addr(px_proxy_t *p, px_dir_t dir) { return &p->bound[dir]; }
const px_addr_t *px_proxy_admin_addr(px_proxy_t *p) { return &p->admin_bound; }
px_metrics_t *px_proxy_metrics(px_proxy_t *p) { return p->metrics; }
bool px_proxy_ready(px_proxy_t *p) { return atomic_load(&p->ready); }
bool px__proxy_draining(px_proxy_t *p);
bool px__proxy_draining(px_proxy_t *p) { return atomic_load(&p->draining); }
void px__proxy_request_shutdown(px_worker_t *w);
void px__proxy_request_shutdown(px_worker_t *w) { px_proxy_shutdown(w->proxy); }
