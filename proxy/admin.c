/* The admin server (port 4191) on worker 0's loop: /metrics, /ready, /live,
 * /proxy-log-level (GET shows the filter, PUT sets it; loopback clients
 * only, as Linkerd's), optional POST /shutdown. One request per connection
 * (Connection: close), which is all probes and Prometheus need. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mesh/buf.h"
#include "mesh/log.h"
#include "mesh/mem.h"
#include "px/err.h"
#include "px/h1.h"
#include "px/proxy.h"

/* A client that sends no complete request within this time is dropped. */
#define PX_ADMIN_TIMEOUT_MS 10000
/* Admin requests are small. */
#define PX_ADMIN_IN_MAX (16 * 1024)
/* Longest log filter accepted by PUT /proxy-log-level. */
#define PX_ADMIN_LOG_FILTER_MAX 512

void px__proxy_request_shutdown(px_worker_t *w);

typedef struct admin {
    px_worker_t *w;
    px_io_t io;        /* listening socket */
    int fd;
    px_list_t conns;   /* admin_conn_t */
    char log_filter[PX_ADMIN_LOG_FILTER_MAX + 1]; /* as last set (GET /proxy-log-level) */
} admin_t;

typedef struct admin_conn {
    px_sock_t sock;
    admin_t *admin;
    px_list_t link;
    px_timer_t timer;
    px_deferred_t free_d;
    bool responded;
    bool closed;
} admin_conn_t;

static void conn_free(px_deferred_t *d)
{
    mesh_free(MESH_CONTAINER_OF(d, admin_conn_t, free_d));
}

static void conn_close(admin_conn_t *c)
{
    if (c->closed)
        return;
    c->closed = true;
    px_timer_cancel(c->admin->w->loop, &c->timer);
    px_sock_close(&c->sock);
    px_list_unlink(&c->link);
    px_loop_defer(c->admin->w->loop, &c->free_d, conn_free);
}

static void respond(admin_conn_t *c, int status, const char *reason, const char *ctype,
                    const char *body, size_t len)
{
    mesh_buf_t b = MESH_BUF_INIT;
    if (mesh_buf_appendf(&b, "HTTP/1.1 %d %s\r\ncontent-type: %s\r\ncontent-length: %zu\r\n"
                             "connection: close\r\n\r\n", status, reason, ctype, len) != 0 ||
        px_sock_write(&c->sock, b.base, b.len) != 0 || px_sock_write(&c->sock, body, len) != 0) {
        mesh_buf_free(&b);
        conn_close(c);
        return;
    }
    mesh_buf_free(&b);
    c->responded = true;
    px_sock_read_stop(&c->sock);
    px_sock_shutdown(&c->sock);
}

static bool from_loopback(const px_sock_t *s)
{
    struct sockaddr_storage ss;
    socklen_t l = sizeof(ss);
    if (getpeername(s->fd, (struct sockaddr *)&ss, &l) != 0)
        return false;
    if (ss.ss_family == AF_INET)
        return (ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr) >> 24) == 127;
    return ss.ss_family == AF_INET6 &&
           IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)&ss)->sin6_addr);
}

static const char *level_name(mesh_log_level_t l)
{
    static const char *const names[] = {"off", "error", "warn", "info", "debug", "trace"};
    return (unsigned)l < sizeof(names) / sizeof(names[0]) ? names[l] : "warn";
}

/* GET shows the filter; PUT with the new filter as the body sets it. The
 * threshold is one global the log macros read; a store of an enum is
 * atomic on every target we build for, and a stale read only logs one
 * line more or less. */
static void log_level(admin_conn_t *c, const px_h1_msg_t *m, const char *body, size_t len)
{
    admin_t *a = c->admin;
    if (!from_loopback(&c->sock)) {
        respond(c, 403, "Forbidden", "text/plain", "forbidden\n", 10);
        return;
    }
    if (px_h1_iequal(m->method, m->method_len, "GET")) {
        char out[PX_ADMIN_LOG_FILTER_MAX + 2];
        int n = snprintf(out, sizeof(out), "%s\n", a->log_filter);
        respond(c, 200, "OK", "text/plain", out, (size_t)n);
        return;
    }
    if (!px_h1_iequal(m->method, m->method_len, "PUT")) {
        respond(c, 405, "Method Not Allowed", "text/plain", "method not allowed\n", 19);
        return;
    }
    while (len > 0 && (body[len - 1] == '\n' || body[len - 1] == '\r' || body[len - 1] == ' '))
        len--;
    char filter[PX_ADMIN_LOG_FILTER_MAX + 1];
    memcpy(filter, body, len);
    filter[len] = 0;
    if (len == 0 || memchr(filter, 0, len) != NULL || mesh_log_set_filter(filter) != 0) {
        respond(c, 400, "Bad Request", "text/plain", "invalid log level\n", 18);
        return;
    }
    memcpy(a->log_filter, filter, len + 1);
    mesh_log_info("admin", "log level set to %s", filter);
    respond(c, 204, "No Content", "text/plain", "", 0);
}

static void route(admin_conn_t *c, const px_h1_msg_t *m, const char *body, size_t body_len)
{
    px_proxy_t *p = c->admin->w->proxy;
    size_t pl = m->target_len;
    const char *q = memchr(m->target, '?', pl);
    if (q)
        pl = (size_t)(q - m->target);
    bool get = px_h1_iequal(m->method, m->method_len, "GET") ||
               px_h1_iequal(m->method, m->method_len, "HEAD");
    if (get && px_h1_iequal(m->target, pl, "/metrics")) {
        mesh_buf_t text = MESH_BUF_INIT;
        if (px_metrics_render(px_proxy_metrics(p), &text) != 0) {
            mesh_buf_free(&text);
            respond(c, 500, "Internal Server Error", "text/plain", "error\n", 6);
            return;
        }
        respond(c, 200, "OK", "text/plain; version=0.0.4", text.base ? text.base : "", text.len);
        mesh_buf_free(&text);
    } else if (get && px_h1_iequal(m->target, pl, "/ready")) {
        if (px_proxy_ready(p))
            respond(c, 200, "OK", "text/plain", "ready\n", 6);
        else
            respond(c, 503, "Service Unavailable", "text/plain", "not ready\n", 10);
    } else if (get && px_h1_iequal(m->target, pl, "/live")) {
        respond(c, 200, "OK", "text/plain", "live\n", 5);
    } else if (px_h1_iequal(m->target, pl, "/proxy-log-level")) {
        log_level(c, m, body, body_len);
    } else if (px_h1_iequal(m->target, pl, "/shutdown") &&
               px_h1_iequal(m->method, m->method_len, "POST") && c->admin->w->cfg->shutdown_endpoint) {
        if (!from_loopback(&c->sock)) {
            respond(c, 403, "Forbidden", "text/plain", "forbidden\n", 10);
            return;
        }
        respond(c, 200, "OK", "text/plain", "shutdown\n", 9);
        px__proxy_request_shutdown(c->admin->w);
    } else {
        respond(c, 404, "Not Found", "text/plain", "not found\n", 10);
    }
}

static void on_read(px_sock_t *s, int status)
{
    admin_conn_t *c = s->data;
    if (status != 0) {
        conn_close(c);
        return;
    }
    if (c->responded) {
        px_buf_consume(&s->in, s->in.len);
        return;
    }
    px_h1_msg_t *m = mesh_malloc(sizeof(*m));
    if (m == NULL) {
        conn_close(c);
        return;
    }
    int r = px_h1_parse_request(px_buf_data(&s->in), s->in.len, m);
    if (r == PX_H1_INCOMPLETE && s->in.len < PX_ADMIN_IN_MAX) {
        mesh_free(m);
        return;
    }
    px_h1_framing_t f = {0};
    if (r >= 0 && px_h1_request_framing(m, &f) != 0)
        f.body = PX_H1_BODY_NONE; /* probes are not held to proxy rules; a PUT then fails */
    if (r < 0) {
        respond(c, 400, "Bad Request", "text/plain", "bad request\n", 12);
    } else if (f.body == PX_H1_BODY_CHUNKED) {
        respond(c, 411, "Length Required", "text/plain", "length required\n", 16);
    } else if (f.body == PX_H1_BODY_LENGTH && f.length > PX_ADMIN_LOG_FILTER_MAX) {
        respond(c, 413, "Content Too Large", "text/plain", "too large\n", 10);
    } else if (f.body == PX_H1_BODY_LENGTH && s->in.len - (size_t)r < f.length) {
        mesh_free(m); /* the body is still coming */
        return;
    } else {
        route(c, m, px_buf_data(&s->in) + r, f.body == PX_H1_BODY_LENGTH ? (size_t)f.length : 0);
    }
    mesh_free(m);
}

static void on_written(px_sock_t *s, int status)
{
    admin_conn_t *c = s->data;
    if (status != 0 || (c->responded && (s->flags & PX_SOCK_FLAG_SHUT)))
        conn_close(c);
}

static void on_timeout(px_timer_t *t)
{
    conn_close(MESH_CONTAINER_OF(t, admin_conn_t, timer));
}

static void on_accept(px_io_t *io, unsigned ev)
{
    (void)ev;
    admin_t *a = MESH_CONTAINER_OF(io, admin_t, io);
    for (int i = 0; i < PX_ACCEPT_BATCH; i++) {
        int fd = accept4(a->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        admin_conn_t *c = mesh_calloc(1, sizeof(*c));
        if (c == NULL || px_sock_open(&c->sock, &a->w->queue, fd, c) != 0) {
            close(fd);
            mesh_free(c);
            continue;
        }
        c->admin = a;
        c->sock.in_max = PX_ADMIN_IN_MAX;
        c->sock.on_read = on_read;
        c->sock.on_written = on_written;
        px_timer_init(&c->timer, on_timeout);
        px_deferred_init(&c->free_d);
        px_list_insert(&a->conns, &c->link);
        px_timer_arm(a->w->loop, &c->timer, PX_ADMIN_TIMEOUT_MS);
        px_sock_read_start(&c->sock);
    }
}

int px__admin_start(px_worker_t *w, int fd)
{
    admin_t *a = mesh_calloc(1, sizeof(*a));
    if (a == NULL)
        return PX_ERR_NOMEM;
    a->w = w;
    a->fd = fd;
    snprintf(a->log_filter, sizeof(a->log_filter), "%s", level_name(mesh_log_level));
    px_list_init(&a->conns);
    int r = px_io_start(w->loop, &a->io, fd, PX_IO_READ, on_accept);
    if (r != 0) {
        mesh_free(a);
        return r;
    }
    w->admin = a;
    return 0;
}

void px__admin_stop(px_worker_t *w)
{
    admin_t *a = w->admin;
    if (a == NULL)
        return;
    while (!px_list_empty(&a->conns))
        conn_close(MESH_CONTAINER_OF(a->conns.next, admin_conn_t, link));
    px_io_stop(w->loop, &a->io);
    close(a->fd);
    px_loop_flush_deferred(w->loop);
    mesh_free(a);
    w->admin = NULL;
}
