/* The admission HTTPS server on libmicrohttpd. */
#include "wh/server.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <microhttpd.h>

#include "mesh/addr.h"
#include "mesh/buf.h"
#include "mesh/mem.h"

struct wh_server {
    wh_server_opts_t opts;    /* handler, callbacks; strings below are copies */
    char *cert_file, *key_file;
    int fd;                   /* the listening socket, shared by daemons */
    uint16_t port;            /* bound port */
    pthread_mutex_t lock;     /* serialises reloads */
    struct MHD_Daemon *d;     /* the daemon serving now */
    char *cert_pem, *key_pem; /* its certificate pair (MHD reads them) */
    unsigned reloads;
};

/* Per-request state, from the first callback to the completion notice. */
struct req {
    mesh_buf_t body;
    int too_large; /* the body passed the limit: discard the rest */
};

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned status, const char *text)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result too_large(wh_server_t *s, struct MHD_Connection *c)
{
    if (s->opts.on_too_large != NULL)
        s->opts.on_too_large(s->opts.ud);
    return send_text(c, MHD_HTTP_CONTENT_TOO_LARGE, "request body too large\n");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload, size_t *upload_size, void **con_cls)
{
    wh_server_t *s = cls;
    struct req *r = *con_cls;
    (void)url;
    (void)version;
    if (r == NULL) {
        if (strcmp(method, MHD_HTTP_METHOD_POST) != 0)
            return send_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "POST an AdmissionReview\n");
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl != NULL && strtoull(cl, NULL, 10) > WH_REVIEW_BODY_MAX)
            return too_large(s, c); /* before a byte of the body is read */
        r = mesh_calloc(1, sizeof *r);
        if (r == NULL)
            return MHD_NO;
        *con_cls = r;
        return MHD_YES;
    }
    if (*upload_size != 0) {
        if (!r->too_large && r->body.len + *upload_size > WH_REVIEW_BODY_MAX) {
            r->too_large = 1;
            mesh_buf_free(&r->body);
        }
        if (!r->too_large && mesh_buf_append(&r->body, upload, *upload_size) < 0)
            return MHD_NO;
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->too_large)
        return too_large(s, c);
    wh_review_reply_t reply;
    if (s->opts.handler(r->body.base ? r->body.base : "", r->body.len, &reply, s->opts.ud) != 0)
        return send_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error\n");
    struct MHD_Response *resp =
        MHD_create_response_from_buffer_with_free_callback(reply.body_len, reply.body, mesh_free);
    if (resp == NULL) {
        wh_review_reply_free(&reply);
        return MHD_NO;
    }
    reply.body = NULL; /* owned by the response now */
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, reply.content_type);
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)reply.status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    struct req *r = *con_cls;
    if (r != NULL) {
        mesh_buf_free(&r->body);
        mesh_free(r);
        *con_cls = NULL;
    }
}

static char *read_pem(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    mesh_buf_t b = MESH_BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (b.len + n > WH_SERVER_PEM_MAX || mesh_buf_append(&b, chunk, n) < 0) {
            snprintf(err, errlen, "%s: too large or out of memory", path);
            fclose(f);
            mesh_buf_free(&b);
            return NULL;
        }
    }
    fclose(f);
    if (b.len == 0 || strstr(b.base, "-----BEGIN") == NULL) {
        snprintf(err, errlen, "%s: no PEM data", path);
        mesh_buf_free(&b);
        return NULL;
    }
    return mesh_buf_steal(&b);
}

static struct MHD_Daemon *start_daemon(wh_server_t *s, const char *cert, const char *key)
{
    unsigned threads = s->opts.threads ? s->opts.threads : WH_SERVER_THREADS_DEFAULT;
    return MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_TLS | MHD_USE_ITC, 0, NULL,
        NULL, on_request, s, MHD_OPTION_LISTEN_SOCKET, s->fd, MHD_OPTION_HTTPS_MEM_CERT, cert,
        MHD_OPTION_HTTPS_MEM_KEY, key, MHD_OPTION_THREAD_POOL_SIZE, threads,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)WH_SERVER_CONN_TIMEOUT_S,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)WH_SERVER_CONN_MAX, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, s, MHD_OPTION_END);
}

static int listen_on(const char *addr, uint16_t *port, char *err, size_t errlen)
{
    mesh_addr_t a;
    struct sockaddr_storage ss;
    socklen_t len;
    if (mesh_addr_parse(addr, &a) < 0 || mesh_addr_resolve(&a, &ss, &len) < 0) {
        snprintf(err, errlen, "bad listen address \"%s\"", addr);
        return -1;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 512) < 0) {
        snprintf(err, errlen, "listen on %s: %s", addr, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    len = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &len);
    *port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                           : ((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

wh_server_t *wh_server_start(const wh_server_opts_t *opts, char *err, size_t errlen)
{
    wh_server_t *s = mesh_calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->opts = *opts;
    s->fd = -1;
    pthread_mutex_init(&s->lock, NULL);
    s->cert_file = mesh_strdup(opts->cert_file);
    s->key_file = mesh_strdup(opts->key_file);
    if (s->cert_file == NULL || s->key_file == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if ((s->cert_pem = read_pem(s->cert_file, err, errlen)) == NULL ||
        (s->key_pem = read_pem(s->key_file, err, errlen)) == NULL)
        goto fail;
    if ((s->fd = listen_on(opts->addr, &s->port, err, errlen)) < 0)
        goto fail;
    s->d = start_daemon(s, s->cert_pem, s->key_pem);
    if (s->d == NULL) {
        snprintf(err, errlen, "cannot start the HTTPS server (bad certificate or key?)");
        goto fail;
    }
    return s;
fail:
    wh_server_stop(s);
    return NULL;
}

int wh_server_reload(wh_server_t *s, char *err, size_t errlen)
{
    int rc = -1;
    pthread_mutex_lock(&s->lock);
    char *cert = read_pem(s->cert_file, err, errlen);
    char *key = cert ? read_pem(s->key_file, err, errlen) : NULL;
    if (key == NULL)
        goto out;
    struct MHD_Daemon *nd = start_daemon(s, cert, key);
    if (nd == NULL) {
        snprintf(err, errlen, "the new certificate or key was refused; keeping the old pair");
        goto out;
    }
    /* The new daemon accepts on the shared socket before the old one stops
     * listening, so no connection attempt is refused during the swap. */
    struct MHD_Daemon *old = s->d;
    MHD_quiesce_daemon(old);
    s->d = nd;
    MHD_stop_daemon(old);
    mesh_free(s->cert_pem);
    mesh_free(s->key_pem);
    s->cert_pem = cert;
    s->key_pem = key;
    cert = key = NULL;
    s->reloads++;
    rc = 0;
out:
    mesh_free(cert);
    mesh_free(key);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

unsigned wh_server_reloads(const wh_server_t *s)
{
    return s->reloads;
}

uint16_t wh_server_port(const wh_server_t *s)
{
    return s->port;
}

void wh_server_stop(wh_server_t *s)
{
    if (s == NULL)
        return;
    if (s->d != NULL) {
        /* Quiesce first so MHD leaves our listening socket to us. */
        MHD_quiesce_daemon(s->d);
        MHD_stop_daemon(s->d);
    }
    if (s->fd >= 0)
        close(s->fd);
    mesh_free(s->cert_pem);
    mesh_free(s->key_pem);
    mesh_free(s->cert_file);
    mesh_free(s->key_file);
    pthread_mutex_destroy(&s->lock);
    mesh_free(s);
}
