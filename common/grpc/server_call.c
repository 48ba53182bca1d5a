/*
 * One server call's state machine, driven by the cq thread.
 *
 *   ACCEPT  -> start RECV_CLOSE_ON_SERVER (tells us when the call is over,
 *              including client cancel) and {SEND_INITIAL_METADATA,
 *              RECV_MESSAGE}; unknown methods go straight to UNIMPLEMENTED.
 *   START   -> copy the request, hand the handler step to a worker.
 *   worker  -> unary: store status + body; stream: give the app the stream.
 *   pump    -> at most one SEND_MESSAGE batch in flight (grpc allows one per
 *              op type); the status rides with the last message when it can.
 *   CLOSE   -> no more sends; once no batch is outstanding and no handler
 *              runs, on_done fires and grpc's call is released.
 *
 * Application threads never start batches: they queue under the call's lock
 * and schedule the call, and the cq thread pumps it.
 */
#include <stdio.h>
#include <string.h>

#include <grpc/byte_buffer_reader.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>

#include "internal.h"
#include "mesh/log.h"
#include "mesh/mem.h"

static void run_handler(mesh__grpc_job_t *job);

struct mesh_grpc_stream *mesh__grpc_call_new(mesh_grpc_server_t *srv)
{
    struct mesh_grpc_stream *c = mesh_calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->srv = srv;
    pthread_mutex_init(&c->lock, NULL);
    c->refs = 1; /* the layer's, dropped when the call is done */
    grpc_call_details_init(&c->details);
    grpc_metadata_array_init(&c->md);
    c->tag_accept = (mesh__grpc_tag_t){MESH__TAG_ACCEPT, c};
    c->tag_start = (mesh__grpc_tag_t){MESH__TAG_START, c};
    c->tag_send = (mesh__grpc_tag_t){MESH__TAG_SEND, c};
    c->tag_status = (mesh__grpc_tag_t){MESH__TAG_STATUS, c};
    c->tag_close = (mesh__grpc_tag_t){MESH__TAG_CLOSE, c};
    c->status_details = grpc_empty_slice();
    mesh__grpc_msgq_init(&c->q, srv->cfg.stream_queue_max);
    c->job.fn = run_handler;
    return c;
}

/* grpc-owned parts go back on the cq thread, while grpc is surely alive;
 * the struct itself may outlive the server in an application's hands. */
static void release_grpc(struct mesh_grpc_stream *c)
{
    if (c->call) {
        grpc_call_unref(c->call);
        c->call = NULL;
    }
    grpc_call_details_destroy(&c->details);
    grpc_metadata_array_destroy(&c->md);
    if (c->recv_buf) {
        grpc_byte_buffer_destroy(c->recv_buf);
        c->recv_buf = NULL;
    }
    if (c->send_buf) {
        grpc_byte_buffer_destroy(c->send_buf);
        c->send_buf = NULL;
    }
    grpc_slice_unref(c->status_details);
    c->status_details = grpc_empty_slice();
}

void mesh__grpc_call_unref(struct mesh_grpc_stream *c)
{
    pthread_mutex_lock(&c->lock);
    int left = --c->refs;
    pthread_mutex_unlock(&c->lock);
    if (left > 0)
        return;
    mesh__grpc_msgq_clear(&c->q);
    mesh_free(c->finish_msg);
    mesh_free(c->req);
    pthread_mutex_destroy(&c->lock);
    mesh_free(c);
}

int mesh__grpc_call_request(struct mesh_grpc_stream *c)
{
    mesh_grpc_server_t *srv = c->srv;
    grpc_call_error e = grpc_server_request_call(srv->server, &c->call, &c->details, &c->md,
                                                 srv->cq, srv->cq, &c->tag_accept);
    return e == GRPC_CALL_OK ? 0 : MESH_GRPC_ECALL;
}

/* Sets the outcome unless one is set already. Called with c->lock held. */
static void set_finish(struct mesh_grpc_stream *c, int code, const char *msg)
{
    if (c->finish_requested)
        return;
    c->finish_requested = true;
    c->finish_code = (code >= 0 && code <= MESH_GRPC_STATUS_UNAUTHENTICATED) ? code
                                                                             : MESH_GRPC_STATUS_UNKNOWN;
    if (msg && *msg)
        c->finish_msg = mesh_strndup(msg, MESH_GRPC_STATUS_MESSAGE_MAX - 1);
}

static void start_batch(struct mesh_grpc_stream *c, const grpc_op *ops, size_t n, void *tag)
{
    grpc_call_error e = grpc_call_start_batch(c->call, ops, n, tag, NULL);
    if (e == GRPC_CALL_OK) {
        c->outstanding++;
        return;
    }
    /* Only our own sequencing mistakes get here; fail the call rather than
     * leave the client waiting. RECV_CLOSE then ends it. */
    mesh_log_error(MESH_GRPC_LOG, "start_batch refused (%d); cancelling call", (int)e);
    grpc_call_cancel_with_status(c->call, GRPC_STATUS_INTERNAL, "server batch error", NULL);
}

static void accept_more(mesh_grpc_server_t *srv)
{
    struct mesh_grpc_stream *n = mesh__grpc_call_new(srv);
    if (n && mesh__grpc_call_request(n) == 0) {
        srv->accepts_pending++;
        return;
    }
    mesh_log_error(MESH_GRPC_LOG, "cannot re-arm request_call (%zu slots left)",
                   srv->accepts_pending);
    if (n) {
        release_grpc(n);
        mesh__grpc_call_unref(n);
    }
}

static const mesh__grpc_method_t *find_method(const mesh_grpc_server_t *srv, grpc_slice path)
{
    size_t len = GRPC_SLICE_LENGTH(path);
    for (size_t i = 0; i < srv->nmethods; i++) {
        const char *p = srv->methods[i].path;
        if (strlen(p) == len && memcmp(p, GRPC_SLICE_START_PTR(path), len) == 0)
            return &srv->methods[i];
    }
    return NULL;
}

static void on_accept(struct mesh_grpc_stream *c)
{
    mesh_grpc_server_t *srv = c->srv;
    c->live = true;
    srv->live_calls++;
    grpc_op close_op = {.op = GRPC_OP_RECV_CLOSE_ON_SERVER};
    close_op.data.recv_close_on_server.cancelled = &c->close_cancelled;
    start_batch(c, &close_op, 1, &c->tag_close);
    if (atomic_load(&srv->stopping)) {
        grpc_call_cancel_with_status(c->call, GRPC_STATUS_UNAVAILABLE, "server stopping", NULL);
        return;
    }
    c->method = find_method(srv, c->details.method);
    if (c->method == NULL) {
        char *path = grpc_slice_to_c_string(c->details.method);
        char msg[256];
        snprintf(msg, sizeof(msg), "unknown method %.200s", path);
        gpr_free(path);
        pthread_mutex_lock(&c->lock);
        set_finish(c, MESH_GRPC_STATUS_UNIMPLEMENTED, msg);
        pthread_mutex_unlock(&c->lock);
        return; /* the caller pumps */
    }
    grpc_op ops[2] = {{.op = GRPC_OP_SEND_INITIAL_METADATA}, {.op = GRPC_OP_RECV_MESSAGE}};
    ops[1].data.recv_message.recv_message = &c->recv_buf;
    c->initial_sent = true;
    start_batch(c, ops, 2, &c->tag_start);
}

static void on_start(struct mesh_grpc_stream *c, bool ok)
{
    mesh_grpc_server_t *srv = c->srv;
    if (!ok)
        return; /* the call broke; RECV_CLOSE will tell */
    if (c->recv_buf == NULL) {
        pthread_mutex_lock(&c->lock);
        set_finish(c, MESH_GRPC_STATUS_INTERNAL, "request message missing");
        pthread_mutex_unlock(&c->lock);
        return;
    }
    grpc_byte_buffer_reader rd;
    int rd_ok = grpc_byte_buffer_reader_init(&rd, c->recv_buf);
    grpc_slice all = rd_ok ? grpc_byte_buffer_reader_readall(&rd) : grpc_empty_slice();
    if (rd_ok)
        grpc_byte_buffer_reader_destroy(&rd);
    grpc_byte_buffer_destroy(c->recv_buf);
    c->recv_buf = NULL;
    c->req_len = GRPC_SLICE_LENGTH(all);
    c->req = mesh_malloc(c->req_len + 1); /* +1: a zero-length request still allocates */
    if (c->req)
        memcpy(c->req, GRPC_SLICE_START_PTR(all), c->req_len);
    grpc_slice_unref(all);
    pthread_mutex_lock(&c->lock);
    if (!rd_ok || c->req == NULL) {
        set_finish(c, rd_ok ? MESH_GRPC_STATUS_RESOURCE_EXHAUSTED : MESH_GRPC_STATUS_INTERNAL,
                   rd_ok ? "out of memory" : "cannot read request");
        pthread_mutex_unlock(&c->lock);
        return;
    }
    c->handler_running = true;
    c->refs++; /* the job's */
    pthread_mutex_unlock(&c->lock);
    if (srv->use_pool)
        mesh__grpc_pool_push(&srv->pool, &c->job);
    else
        run_handler(&c->job);
}

static long long deadline_left_ms(gpr_timespec d)
{
    if (gpr_time_cmp(d, gpr_inf_future(d.clock_type)) == 0)
        return -1;
    gpr_timespec left = gpr_time_sub(gpr_convert_clock_type(d, GPR_CLOCK_MONOTONIC),
                                     gpr_now(GPR_CLOCK_MONOTONIC));
    long long ms = gpr_time_to_millis(left);
    return ms < 0 ? 0 : ms;
}

/* The handler step, on a worker (or inline with workers < 0). The call is
 * live while handler_running, so grpc's parts of it stay valid here. */
static void run_handler(mesh__grpc_job_t *job)
{
    struct mesh_grpc_stream *c = MESH_CONTAINER_OF(job, struct mesh_grpc_stream, job);
    const mesh__grpc_method_t *m = c->method;
    pthread_mutex_lock(&c->lock);
    bool skip = c->ended;
    pthread_mutex_unlock(&c->lock);

    mesh_grpc_md_t *md = NULL;
    char *method = NULL, *host = NULL, *peer = NULL;
    if (skip)
        goto out;
    if (c->md.count && (md = mesh_calloc(c->md.count, sizeof(*md))) == NULL)
        goto oom;
    for (size_t i = 0; i < c->md.count; i++) {
        const grpc_metadata *e = &c->md.metadata[i];
        md[i] = (mesh_grpc_md_t){(const char *)GRPC_SLICE_START_PTR(e->key), GRPC_SLICE_LENGTH(e->key),
                                 (const char *)GRPC_SLICE_START_PTR(e->value),
                                 GRPC_SLICE_LENGTH(e->value)};
    }
    method = grpc_slice_to_c_string(c->details.method);
    host = grpc_slice_to_c_string(c->details.host);
    peer = grpc_call_get_peer(c->call);
    mesh_grpc_call_info_t info = {method, host, peer ? peer : "", deadline_left_ms(c->details.deadline),
                                  md, c->md.count};
    if (m->kind == MESH__GRPC_UNARY) {
        mesh_grpc_reply_t *reply = mesh_malloc(sizeof(*reply));
        if (reply == NULL)
            goto oom;
        mesh_buf_init(&reply->body);
        reply->message[0] = '\0';
        int code = m->unary(m->user, &info, c->req, c->req_len, reply);
        reply->message[sizeof(reply->message) - 1] = '\0';
        pthread_mutex_lock(&c->lock);
        if (!c->ended) {
            if (code == MESH_GRPC_STATUS_OK &&
                mesh__grpc_msgq_push(&c->q, reply->body.base, reply->body.len, true) != 0)
                set_finish(c, MESH_GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
            set_finish(c, code, reply->message);
        }
        pthread_mutex_unlock(&c->lock);
        mesh_buf_free(&reply->body);
        mesh_free(reply);
    } else {
        pthread_mutex_lock(&c->lock);
        c->handler_called = true;
        c->refs++;
        c->app_refs++;
        pthread_mutex_unlock(&c->lock);
        m->stream(m->user, &info, c->req, c->req_len, c);
    }
    goto out;
oom:
    pthread_mutex_lock(&c->lock);
    set_finish(c, MESH_GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    pthread_mutex_unlock(&c->lock);
out:
    gpr_free(method);
    gpr_free(host);
    gpr_free(peer);
    mesh_free(md);
    MESH_FREE(&c->req);
    /* The request metadata array (~0.5 KB, sized by grpc to every header of
     * the request) and the method/host refs serve only the handler, yet a
     * stream lives for hours: let go of them now rather than at the end of
     * the call. The cq thread does not touch them while handler_running, and
     * release_grpc later finds them empty. */
    grpc_call_details_destroy(&c->details);
    grpc_call_details_init(&c->details);
    grpc_metadata_array_destroy(&c->md);
    grpc_metadata_array_init(&c->md);
    pthread_mutex_lock(&c->lock);
    c->handler_running = false;
    mesh__grpc_server_schedule(c->srv, c);
    pthread_mutex_unlock(&c->lock);
    mesh__grpc_call_unref(c);
}

static void free_msg(void *p)
{
    mesh_free(p);
}

void mesh__grpc_call_pump(struct mesh_grpc_stream *c)
{
    if (c->call == NULL || c->closed || c->status_started || c->send_buf)
        return;
    grpc_op ops[3];
    size_t n = 0;
    memset(ops, 0, sizeof(ops));
    pthread_mutex_lock(&c->lock);
    if (c->finish_requested && c->finish_code != MESH_GRPC_STATUS_OK)
        mesh__grpc_msgq_clear(&c->q);
    mesh__grpc_msg_t *m = mesh__grpc_msgq_pop(&c->q);
    bool with_status = c->finish_requested && c->q.count == 0;
    if (!c->initial_sent) {
        ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
        c->initial_sent = true;
    }
    if (m) {
        grpc_slice s;
        if (m->len) {
            s = grpc_slice_new_with_user_data(m->data, m->len, free_msg, m);
        } else {
            s = grpc_empty_slice();
            mesh_free(m);
        }
        c->send_buf = grpc_raw_byte_buffer_create(&s, 1);
        grpc_slice_unref(s);
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n++].data.send_message.send_message = c->send_buf;
    }
    if (with_status) {
        c->status_details = grpc_slice_from_copied_string(c->finish_msg ? c->finish_msg : "");
        ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
        ops[n].data.send_status_from_server.status = (grpc_status_code)c->finish_code;
        ops[n++].data.send_status_from_server.status_details = &c->status_details;
        c->status_started = true;
    }
    pthread_mutex_unlock(&c->lock);
    if (m == NULL && !with_status)
        return; /* at most an orphan SEND_INITIAL_METADATA: never happens alone */
    start_batch(c, ops, n, m ? &c->tag_send : &c->tag_status);
}

/* Runs on_done and lets go of grpc once nothing can touch the call. */
static void maybe_done(struct mesh_grpc_stream *c)
{
    mesh_grpc_server_t *srv = c->srv;
    if (c->done_fired || !c->live || !c->closed || c->outstanding)
        return;
    pthread_mutex_lock(&c->lock);
    bool running = c->handler_running, called = c->handler_called;
    pthread_mutex_unlock(&c->lock);
    if (running)
        return;
    c->done_fired = true;
    if (called && c->method->on_done)
        c->method->on_done(c->method->user, c, c->close_cancelled != 0);
    release_grpc(c);
    c->live = false;
    srv->live_calls--;
    mesh__grpc_call_unref(c);
}

void mesh__grpc_call_event(struct mesh_grpc_stream *c, mesh__grpc_tag_kind_t kind, bool ok)
{
    mesh_grpc_server_t *srv = c->srv;
    switch (kind) {
    case MESH__TAG_ACCEPT:
        srv->accepts_pending--;
        if (!ok) { /* the server is shutting down */
            release_grpc(c);
            mesh__grpc_call_unref(c);
            return;
        }
        if (!atomic_load(&srv->stopping))
            accept_more(srv);
        on_accept(c);
        break;
    case MESH__TAG_START:
        c->outstanding--;
        on_start(c, ok);
        break;
    case MESH__TAG_SEND:
        c->outstanding--;
        grpc_byte_buffer_destroy(c->send_buf);
        c->send_buf = NULL;
        break;
    case MESH__TAG_STATUS:
        c->outstanding--;
        break;
    case MESH__TAG_CLOSE:
        c->outstanding--;
        c->closed = true;
        pthread_mutex_lock(&c->lock);
        c->ended = true;
        mesh__grpc_msgq_clear(&c->q);
        pthread_mutex_unlock(&c->lock);
        break;
    default:
        return;
    }
    mesh__grpc_call_pump(c);
    maybe_done(c);
}

void mesh__grpc_call_poke(struct mesh_grpc_stream *c)
{
    mesh__grpc_call_pump(c);
    maybe_done(c);
}

/* ---- the public stream API (any thread) -------------------------------- */

int mesh_grpc_stream_send(mesh_grpc_stream_t *s, const void *msg, size_t len)
{
    if (s == NULL || (msg == NULL && len))
        return MESH_GRPC_EINVAL;
    pthread_mutex_lock(&s->lock);
    int rc = MESH_GRPC_ECLOSED;
    if (!s->ended && !s->finish_requested) {
        rc = mesh__grpc_msgq_push(&s->q, msg, len, false);
        if (rc == 0)
            mesh__grpc_server_schedule(s->srv, s);
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int mesh_grpc_stream_finish(mesh_grpc_stream_t *s, int code, const char *message)
{
    if (s == NULL)
        return MESH_GRPC_EINVAL;
    pthread_mutex_lock(&s->lock);
    int rc = MESH_GRPC_ECLOSED;
    if (!s->ended && !s->finish_requested) {
        set_finish(s, code, message);
        mesh__grpc_server_schedule(s->srv, s);
        rc = 0;
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

void mesh_grpc_stream_ref(mesh_grpc_stream_t *s)
{
    pthread_mutex_lock(&s->lock);
    s->refs++;
    s->app_refs++;
    pthread_mutex_unlock(&s->lock);
}

void mesh_grpc_stream_release(mesh_grpc_stream_t *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->lock);
    if (--s->app_refs == 0 && !s->ended && !s->finish_requested) {
        /* Nobody can finish it any more: do not leave the client hanging. */
        set_finish(s, MESH_GRPC_STATUS_INTERNAL, "stream released without a status");
        mesh__grpc_server_schedule(s->srv, s);
    }
    pthread_mutex_unlock(&s->lock);
    mesh__grpc_call_unref(s);
}

void mesh_grpc_stream_finish_release(mesh_grpc_stream_t *s, int code, const char *message)
{
    (void)mesh_grpc_stream_finish(s, code, message);
    mesh_grpc_stream_release(s);
}

void mesh_grpc_stream_set_data(mesh_grpc_stream_t *s, void *data)
{
    pthread_mutex_lock(&s->lock);
    s->data = data;
    pthread_mutex_unlock(&s->lock);
}

void *mesh_grpc_stream_data(mesh_grpc_stream_t *s)
{
    pthread_mutex_lock(&s->lock);
    void *d = s->data;
    pthread_mutex_unlock(&s->lock);
    return d;
}

size_t mesh_grpc_stream_queued(mesh_grpc_stream_t *s)
{
    pthread_mutex_lock(&s->lock);
    size_t n = s->q.count;
    pthread_mutex_unlock(&s->lock);
    return n;
}
