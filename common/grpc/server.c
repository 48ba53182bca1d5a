/*
 * The gRPC server: lifecycle, the completion-queue thread and its wake-up.
 *
 * Wake-up without polling: grpc core's C API has no alarm, and nothing but
 * grpc may post to a completion queue. A connectivity watch on a channel that
 * is never asked to connect, with a deadline already past, completes at once
 * with our tag: that is the doorbell. At most one is in flight (bell_armed),
 * so a burst of sends from many threads costs one wake-up.
 */
#include <string.h>

#include <grpc/support/time.h>

#include "internal.h"
#include "mesh/log.h"
#include "mesh/mem.h"

/* The server whose cq thread this is, so sends made from on_done or inline
 * handlers skip the doorbell: the cq thread drains the ready list after
 * every event anyway. */
static __thread const mesh_grpc_server_t *tl_cq_server;

/* Never dialled: the bell channel stays IDLE because nothing calls on it. */
#define BELL_TARGET "127.0.0.1:1"

bool mesh__grpc_on_cq_thread(const mesh_grpc_server_t *srv)
{
    return tl_cq_server == srv;
}

/* Called with ready_lock held: the cq thread destroys the bell under the same
 * lock, so a late ring (stop() racing the final drain) finds NULL, not a
 * freed channel. */
static void ring_locked(mesh_grpc_server_t *srv)
{
    if (srv->bell == NULL || atomic_exchange(&srv->bell_armed, true))
        return;
    grpc_channel_watch_connectivity_state(srv->bell, GRPC_CHANNEL_IDLE,
                                          gpr_inf_past(GPR_CLOCK_MONOTONIC), srv->cq,
                                          &srv->tag_wake);
}

void mesh__grpc_server_schedule(mesh_grpc_server_t *srv, struct mesh_grpc_stream *c)
{
    pthread_mutex_lock(&srv->ready_lock);
    bool added = !c->on_ready;
    if (added) {
        c->on_ready = true;
        c->refs++; /* the ready list's; c->lock is held by the caller */
        c->ready_next = NULL;
        if (srv->ready_tail)
            srv->ready_tail->ready_next = c;
        else
            srv->ready_head = c;
        srv->ready_tail = c;
        if (!mesh__grpc_on_cq_thread(srv))
            ring_locked(srv);
    }
    pthread_mutex_unlock(&srv->ready_lock);
}

static void drain_ready(mesh_grpc_server_t *srv)
{
    for (;;) {
        pthread_mutex_lock(&srv->ready_lock);
        struct mesh_grpc_stream *c = srv->ready_head;
        if (c) {
            srv->ready_head = c->ready_next;
            if (srv->ready_head == NULL)
                srv->ready_tail = NULL;
            c->on_ready = false;
        }
        pthread_mutex_unlock(&srv->ready_lock);
        if (c == NULL)
            return;
        mesh__grpc_call_poke(c);
        mesh__grpc_call_unref(c);
    }
}

static void *cq_main(void *arg)
{
    mesh_grpc_server_t *srv = arg;
    tl_cq_server = srv;
    bool finishing = false;
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(srv->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            break;
        if (ev.type != GRPC_OP_COMPLETE)
            continue;
        mesh__grpc_tag_t *tag = ev.tag;
        if (tag->kind == MESH__TAG_WAKE)
            atomic_store(&srv->bell_armed, false);
        else if (tag->kind == MESH__TAG_SHUTDOWN)
            srv->shutdown_done = true;
        else
            mesh__grpc_call_event(tag->call, tag->kind, ev.success != 0);
        drain_ready(srv);
        if (!finishing && srv->shutdown_done && atomic_load(&srv->cancel_done) &&
            srv->live_calls == 0 && srv->accepts_pending == 0) {
            /* Every call has ended, so no thread can ring again; a wake-up
             * still in flight is drained below with the queue. */
            finishing = true;
            grpc_server_destroy(srv->server);
            srv->server = NULL;
            pthread_mutex_lock(&srv->ready_lock);
            grpc_channel_destroy(srv->bell);
            srv->bell = NULL;
            pthread_mutex_unlock(&srv->ready_lock);
            grpc_completion_queue_shutdown(srv->cq);
        }
    }
    tl_cq_server = NULL;
    return NULL;
}

static char *dup_opt(const char *s, bool *fail)
{
    if (s == NULL)
        return NULL;
    char *d = mesh_strdup(s);
    if (d == NULL)
        *fail = true;
    return d;
}

int mesh_grpc_server_new(const mesh_grpc_server_config_t *cfg, mesh_grpc_server_t **out)
{
    *out = NULL;
    if (cfg == NULL || cfg->listen_addr == NULL || cfg->listen_addr[0] == '\0' ||
        cfg->workers > MESH_GRPC_MAX_WORKERS || cfg->max_concurrent_streams < 0)
        return MESH_GRPC_EINVAL;
    mesh_grpc_server_t *srv = mesh_calloc(1, sizeof(*srv));
    if (srv == NULL)
        return MESH_GRPC_ENOMEM;
    bool oom = false;
    srv->cfg = *cfg;
    srv->addr = dup_opt(cfg->listen_addr, &oom);
    srv->cert = dup_opt(cfg->tls_cert_file, &oom);
    srv->key = dup_opt(cfg->tls_key_file, &oom);
    srv->ca = dup_opt(cfg->tls_client_ca_file, &oom);
    if (oom) {
        mesh_free(srv->addr);
        mesh_free(srv->cert);
        mesh_free(srv->key);
        mesh_free(srv->ca);
        mesh_free(srv);
        return MESH_GRPC_ENOMEM;
    }
    srv->cfg.listen_addr = srv->addr;
    srv->cfg.tls_cert_file = srv->cert;
    srv->cfg.tls_key_file = srv->key;
    srv->cfg.tls_client_ca_file = srv->ca;
    if (srv->cfg.workers == 0)
        srv->cfg.workers = MESH_GRPC_DEFAULT_WORKERS;
    srv->use_pool = srv->cfg.workers > 0;
    if (srv->cfg.stream_queue_max == 0)
        srv->cfg.stream_queue_max = MESH_GRPC_DEFAULT_STREAM_QUEUE;
    if (srv->cfg.stream_queue_max > MESH_GRPC_MAX_STREAM_QUEUE)
        srv->cfg.stream_queue_max = MESH_GRPC_MAX_STREAM_QUEUE;
    if (srv->cfg.max_recv_message == 0 || srv->cfg.max_recv_message > INT32_MAX)
        srv->cfg.max_recv_message = MESH_GRPC_DEFAULT_MAX_RECV;
    if (srv->cfg.max_concurrent_streams == 0)
        srv->cfg.max_concurrent_streams = MESH_GRPC_DEFAULT_MAX_CONCURRENT_STREAMS;
    srv->tag_wake = (mesh__grpc_tag_t){MESH__TAG_WAKE, NULL};
    srv->tag_shutdown = (mesh__grpc_tag_t){MESH__TAG_SHUTDOWN, NULL};
    pthread_mutex_init(&srv->ready_lock, NULL);
    grpc_init();

    grpc_server_credentials *creds = cfg->creds;
    srv->cfg.creds = NULL; /* borrowed only for this call */
    int rc = creds != NULL ? 0 : mesh__grpc_server_creds(&srv->cfg, &creds);
    if (rc)
        goto fail;
    grpc_arg args[] = {
        {GRPC_ARG_INTEGER, (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, {.integer = (int)srv->cfg.max_recv_message}},
        {GRPC_ARG_INTEGER, (char *)GRPC_ARG_MAX_CONCURRENT_STREAMS, {.integer = srv->cfg.max_concurrent_streams}},
        {GRPC_ARG_INTEGER, (char *)GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
         {.integer = MESH_GRPC_MIN_PING_INTERVAL_MS}},
        {GRPC_ARG_INTEGER, (char *)GRPC_ARG_HTTP2_MAX_PING_STRIKES, {.integer = MESH_GRPC_MAX_PING_STRIKES}},
    };
    grpc_channel_args chargs = {MESH_ARRAY_LEN(args), args};
    srv->cq = grpc_completion_queue_create_for_next(NULL);
    srv->server = grpc_server_create(&chargs, NULL);
    grpc_server_register_completion_queue(srv->server, srv->cq, NULL);
    srv->port = grpc_server_add_http2_port(srv->server, srv->addr, creds);
    if (creds != cfg->creds)
        grpc_server_credentials_release(creds);
    if (srv->port <= 0) {
        mesh_log_error(MESH_GRPC_LOG, "cannot listen on %s", srv->addr);
        rc = MESH_GRPC_EBIND;
        goto fail;
    }
    grpc_channel_credentials *bell_creds = grpc_insecure_credentials_create();
    srv->bell = grpc_channel_create(BELL_TARGET, bell_creds, NULL);
    grpc_channel_credentials_release(bell_creds);
    *out = srv;
    return 0;
fail:
    mesh_grpc_server_free(srv);
    return rc;
}

static int add_method(mesh_grpc_server_t *srv, const char *path, mesh__grpc_method_t m)
{
    if (srv == NULL || path == NULL || path[0] != '/' || strchr(path + 1, '/') == NULL ||
        path[1] == '/' || path[strlen(path) - 1] == '/')
        return MESH_GRPC_EINVAL;
    if (srv->started)
        return MESH_GRPC_ESTATE;
    for (size_t i = 0; i < srv->nmethods; i++)
        if (strcmp(srv->methods[i].path, path) == 0)
            return MESH_GRPC_EEXIST;
    mesh__grpc_method_t *grown = mesh_realloc(srv->methods, (srv->nmethods + 1) * sizeof(*grown));
    if (grown == NULL)
        return MESH_GRPC_ENOMEM;
    srv->methods = grown;
    if ((m.path = mesh_strdup(path)) == NULL)
        return MESH_GRPC_ENOMEM;
    srv->methods[srv->nmethods++] = m;
    return 0;
}

int mesh_grpc_server_add_unary(mesh_grpc_server_t *srv, const char *path, mesh_grpc_unary_cb cb,
                               void *user)
{
    if (cb == NULL)
        return MESH_GRPC_EINVAL;
    return add_method(srv, path, (mesh__grpc_method_t){.kind = MESH__GRPC_UNARY, .unary = cb, .user = user});
}

int mesh_grpc_server_add_stream(mesh_grpc_server_t *srv, const char *path, mesh_grpc_stream_cb cb,
                                mesh_grpc_done_cb on_done, void *user)
{
    if (cb == NULL)
        return MESH_GRPC_EINVAL;
    return add_method(srv, path, (mesh__grpc_method_t){.kind = MESH__GRPC_STREAM, .stream = cb,
                                                        .on_done = on_done, .user = user});
}

int mesh_grpc_server_start(mesh_grpc_server_t *srv)
{
    if (srv == NULL)
        return MESH_GRPC_EINVAL;
    if (srv->started || srv->stopped)
        return MESH_GRPC_ESTATE;
    if (srv->use_pool && mesh__grpc_pool_start(&srv->pool, (size_t)srv->cfg.workers) != 0)
        return MESH_GRPC_ENOMEM;
    grpc_server_start(srv->server);
    srv->started = true;
    for (int i = 0; i < MESH_GRPC_PENDING_ACCEPTS; i++) {
        struct mesh_grpc_stream *c = mesh__grpc_call_new(srv);
        if (c == NULL || mesh__grpc_call_request(c) != 0) {
            if (c) {
                grpc_call_details_destroy(&c->details);
                grpc_metadata_array_destroy(&c->md);
                mesh__grpc_call_unref(c);
            }
            break;
        }
        srv->accepts_pending++;
    }
    if (pthread_create(&srv->cq_thread, NULL, cq_main, srv) != 0) {
        /* Without the thread nothing drains the queue: stop inline. */
        mesh_log_error(MESH_GRPC_LOG, "cannot start the completion-queue thread");
        srv->started = false;
        grpc_server_shutdown_and_notify(srv->server, srv->cq, &srv->tag_shutdown);
        grpc_server_cancel_all_calls(srv->server);
        atomic_store(&srv->cancel_done, true);
        cq_main(srv);
        srv->stopped = true;
        if (srv->use_pool)
            mesh__grpc_pool_stop(&srv->pool);
        return MESH_GRPC_ENOMEM;
    }
    mesh_log_info(MESH_GRPC_LOG, "serving gRPC on %s (port %d, %s)", srv->addr, srv->port,
                  srv->cert ? "TLS" : "plaintext");
    return 0;
}

int mesh_grpc_server_port(const mesh_grpc_server_t *srv)
{
    return srv ? srv->port : 0;
}

void mesh_grpc_server_stop(mesh_grpc_server_t *srv)
{
    if (srv == NULL || !srv->started || srv->stopped)
        return;
    atomic_store(&srv->stopping, true);
    grpc_server_shutdown_and_notify(srv->server, srv->cq, &srv->tag_shutdown);
    grpc_server_cancel_all_calls(srv->server);
    /* From here on the cq thread may destroy srv->server; make it look. */
    atomic_store(&srv->cancel_done, true);
    pthread_mutex_lock(&srv->ready_lock);
    ring_locked(srv);
    pthread_mutex_unlock(&srv->ready_lock);
    pthread_join(srv->cq_thread, NULL);
    if (srv->use_pool)
        mesh__grpc_pool_stop(&srv->pool);
    srv->stopped = true;
}

void mesh_grpc_server_free(mesh_grpc_server_t *srv)
{
    if (srv == NULL)
        return;
    mesh_grpc_server_stop(srv);
    if (srv->server) {
        /* Never started: grpc insists on a shutdown before destroy once a
         * port is bound, and its notification arrives on our queue. */
        grpc_server_shutdown_and_notify(srv->server, srv->cq, &srv->tag_shutdown);
        grpc_event ev;
        do
            ev = grpc_completion_queue_next(srv->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
        while (ev.type == GRPC_OP_COMPLETE && ev.tag != &srv->tag_shutdown);
        grpc_server_destroy(srv->server);
        srv->server = NULL;
    }
    if (srv->bell) {
        grpc_channel_destroy(srv->bell);
        srv->bell = NULL;
    }
    if (srv->cq) {
        if (!srv->started && !srv->stopped) {
            grpc_completion_queue_shutdown(srv->cq);
            while (grpc_completion_queue_next(srv->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL).type !=
                   GRPC_QUEUE_SHUTDOWN)
                ;
        }
        grpc_completion_queue_destroy(srv->cq);
    }
    for (size_t i = 0; i < srv->nmethods; i++)
        mesh_free(srv->methods[i].path);
    mesh_free(srv->methods);
    pthread_mutex_destroy(&srv->ready_lock);
    mesh_free(srv->addr);
    mesh_free(srv->cert);
    mesh_free(srv->key);
    mesh_free(srv->ca);
    mesh_free(srv);
    grpc_shutdown();
}
