/* Admin HTTP server on libmicrohttpd; see mesh/admin.h. */
#include "mesh/admin.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

#include "mesh/addr.h"
#include "mesh/log.h"
#include "mesh/mem.h"

#define LISTEN_BACKLOG 64
#define TEXT_PLAIN "text/plain; charset=utf-8"

struct mesh_admin {
    mesh_metrics_t *metrics;       /* rendered on /metrics; not owned */
    mesh_admin_ready_cb ready;     /* NULL: always ready */
    void *ready_ud;
    struct {
        char *prefix;              /* owned */
        mesh_admin_handler_cb cb;
        void *ud;
    } handlers[MESH_ADMIN_HANDLERS_MAX];
    size_t nhandlers;
    struct MHD_Daemon *daemon;     /* NULL when stopped */
    uint16_t port;                 /* bound port */
};

/* Per-request state, kept in MHD's con_cls between upload calls. */
typedef struct {
    mesh_buf_t body;
    bool too_large;
} request_state_t;

static void on_mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    if (MESH_LOG_WARN <= mesh_log_level)
        mesh__log_vemit(MESH_LOG_WARN, "admin", fmt, ap);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)c, (void)toe;
    request_state_t *st = *con_cls;
    if (st != NULL) {
        mesh_buf_free(&st->body);
        mesh_free(st);
        *con_cls = NULL;
    }
}

static enum MHD_Result send_response(struct MHD_Connection *c, mesh_admin_response_t *r)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(r->body.len, r->body.base ? r->body.base : (void *)"",
                                        MHD_RESPMEM_MUST_COPY);
    mesh_buf_free(&r->body);
    if (resp == NULL)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
    if (r->status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result rc = MHD_queue_response(c, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static int set_text(mesh_admin_response_t *r, int status, const char *text)
{
    r->status = status;
    r->content_type = TEXT_PLAIN;
    mesh_buf_reset(&r->body);
    return mesh_buf_appends(&r->body, text);
}

/* The built-in endpoints; returns 1 when `path` was one of them. */
static int builtin(mesh_admin_t *a, const char *method, const char *path, mesh_admin_response_t *r)
{
    int rc;
    if (strcmp(path, "/metrics") != 0 && strcmp(path, "/ready") != 0 && strcmp(path, "/live") != 0)
        return 0;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        rc = set_text(r, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
    else if (strcmp(path, "/live") == 0)
        rc = set_text(r, MHD_HTTP_OK, "live\n");
    else if (strcmp(path, "/ready") == 0)
        rc = a->ready == NULL || a->ready(a->ready_ud) ? set_text(r, MHD_HTTP_OK, "ready\n")
                                                       : set_text(r, MHD_HTTP_SERVICE_UNAVAILABLE, "not ready\n");
    else {
        r->content_type = MESH_METRICS_CONTENT_TYPE;
        rc = a->metrics ? mesh_metrics_render(a->metrics, &r->body) : 0;
    }
    if (rc != 0)
        set_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    return 1;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size,
                                  void **con_cls)
{
    mesh_admin_t *a = cls;
    request_state_t *st = *con_cls;
    (void)version;

    if (st == NULL) {
        /* First call: headers only. Keep state to collect the body. */
        if ((st = mesh_calloc(1, sizeof(*st))) == NULL)
            return MHD_NO;
        *con_cls = st;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        if (st->body.len + *upload_size > MESH_ADMIN_BODY_MAX || mesh_buf_append(&st->body, upload, *upload_size) != 0)
            st->too_large = true;
        *upload_size = 0;
        return MHD_YES;
    }

    mesh_admin_response_t r = {MHD_HTTP_OK, TEXT_PLAIN, MESH_BUF_INIT};
    if (st->too_large) {
        set_text(&r, MHD_HTTP_CONTENT_TOO_LARGE, "request body too large\n");
        return send_response(c, &r);
    }
    if (builtin(a, method, url, &r))
        return send_response(c, &r);

    size_t best = 0, best_len = 0;
    for (size_t i = 0; i < a->nhandlers; i++) {
        size_t n = strlen(a->handlers[i].prefix);
        if (n > best_len && strncmp(url, a->handlers[i].prefix, n) == 0)
            best = i, best_len = n;
    }
    if (best_len == 0) {
        set_text(&r, MHD_HTTP_NOT_FOUND, "not found\n");
        return send_response(c, &r);
    }
    mesh_admin_request_t req = {method, url, st->body.base ? st->body.base : "", st->body.len, c};
    if (a->handlers[best].cb(&req, &r, a->handlers[best].ud) != 0)
        set_text(&r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error\n");
    return send_response(c, &r);
}

mesh_admin_t *mesh_admin_new(mesh_metrics_t *metrics)
{
    mesh_admin_t *a = mesh_calloc(1, sizeof(*a));
    if (a != NULL)
        a->metrics = metrics;
    return a;
}

void mesh_admin_set_ready(mesh_admin_t *a, mesh_admin_ready_cb cb, void *ud)
{
    a->ready = cb;
    a->ready_ud = ud;
}

int mesh_admin_handle(mesh_admin_t *a, const char *prefix, mesh_admin_handler_cb cb, void *ud)
{
    if (a->daemon != NULL || a->nhandlers == MESH_ADMIN_HANDLERS_MAX || prefix == NULL || prefix[0] == '\0')
        return MESH_ADMIN_ERR_STATE;
    char *copy = mesh_strdup(prefix);
    if (copy == NULL)
        return MESH_ADMIN_ERR_NOMEM;
    a->handlers[a->nhandlers].prefix = copy;
    a->handlers[a->nhandlers].cb = cb;
    a->handlers[a->nhandlers].ud = ud;
    a->nhandlers++;
    return 0;
}

static int bind_socket(const char *listen_addr, uint16_t *port, char *bound, size_t cap)
{
    mesh_addr_t addr;
    struct sockaddr_storage ss;
    socklen_t len;
    if (mesh_addr_parse(listen_addr, &addr) != 0 || mesh_addr_resolve(&addr, &ss, &len) != 0)
        return MESH_ADMIN_ERR_ADDR;
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return MESH_ADMIN_ERR_BIND;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, LISTEN_BACKLOG) != 0)
        goto fail;
    len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        goto fail;
    mesh_addr_format_sockaddr((struct sockaddr *)&ss, bound, cap);
    *port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                           : ((struct sockaddr_in *)&ss)->sin_port);
    return fd;
fail:;
    int saved = errno;
    close(fd);
    errno = saved;
    return MESH_ADMIN_ERR_BIND;
}

int mesh_admin_start(mesh_admin_t *a, const char *listen_addr)
{
    if (a->daemon != NULL)
        return MESH_ADMIN_ERR_STATE;
    uint16_t port = 0;
    char bound[MESH_ADDR_STR_MAX] = "";
    int fd = bind_socket(listen_addr, &port, bound, sizeof(bound));
    if (fd < 0)
        return fd;
    a->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, a,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
        MHD_OPTION_LISTEN_SOCKET, fd,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)MESH_ADMIN_CONN_TIMEOUT_S,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)MESH_ADMIN_CONN_MAX,
        MHD_OPTION_END);
    if (a->daemon == NULL) {
        close(fd);
        return MESH_ADMIN_ERR_START;
    }
    a->port = port;
    mesh_log_info("admin", "serving on %s", bound);
    return 0;
}

uint16_t mesh_admin_port(const mesh_admin_t *a)
{
    return a->port;
}

void mesh_admin_stop(mesh_admin_t *a)
{
    if (a->daemon == NULL)
        return;
    /* MHD closes the listen socket it was given. */
    MHD_stop_daemon(a->daemon);
    a->daemon = NULL;
    a->port = 0;
}

void mesh_admin_free(mesh_admin_t *a)
{
    if (a == NULL)
        return;
    mesh_admin_stop(a);
    for (size_t i = 0; i < a->nhandlers; i++)
        mesh_free(a->handlers[i].prefix);
    mesh_free(a);
}

const char *mesh_admin_query(const mesh_admin_request_t *req, const char *key)
{
    return MHD_lookup_connection_value(req->_conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *mesh_admin_header(const mesh_admin_request_t *req, const char *name)
{
    return MHD_lookup_connection_value(req->_conn, MHD_HEADER_KIND, name);
}

bool mesh_admin_peer_is_loopback(const mesh_admin_request_t *req)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(req->_conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci == NULL || ci->client_addr == NULL)
        return false;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(a6) || (IN6_IS_ADDR_V4MAPPED(a6) && a6->s6_addr[12] == 127);
    }
    return false;
}

const char *mesh_admin_strerror(int err)
{
    switch (err) {
    case 0:
        return "ok";
    case MESH_ADMIN_ERR_ADDR:
        return "invalid listen address";
    case MESH_ADMIN_ERR_BIND:
        return "cannot bind the listen address";
    case MESH_ADMIN_ERR_START:
        return "HTTP server did not start";
    case MESH_ADMIN_ERR_NOMEM:
        return "out of memory";
    case MESH_ADMIN_ERR_STATE:
        return "admin server already started or handler table full";
    default:
        return "unknown admin error";
    }
}
