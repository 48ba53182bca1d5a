/*
 * Blocking gRPC client: one channel, a pluck completion queue per call.
 *
 * A queue per call keeps calls independent across threads (grpc caps the
 * number of concurrent pluckers on one queue) and makes a timed-out stream
 * read easy to resume: the RECV_MESSAGE batch stays armed and the next wait
 * plucks the same tag.
 */
#include <string.h>

#include <grpc/byte_buffer_reader.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>

#include "internal.h"
#include "mesh/log.h"
#include "mesh/mem.h"

struct mesh_grpc_client {
    grpc_channel *ch;
};

struct mesh_grpc_client_stream {
    grpc_completion_queue *cq;
    grpc_call *call;
    grpc_metadata_array init_md;   /* server initial metadata (unused, required) */
    grpc_metadata_array trail_md;  /* trailers */
    grpc_byte_buffer *recv_buf;    /* the RECV_MESSAGE target */
    grpc_status_code code;
    grpc_slice details;
    char *message;                 /* status message, set once the status is in */
    bool recv_armed;               /* a RECV_MESSAGE batch is outstanding */
    bool first_recv;               /* RECV_INITIAL_METADATA goes with it */
    bool eos;                      /* no more messages */
    bool have_status;              /* the status batch has been plucked */
    char tag_recv, tag_status;     /* addresses used as tags */
};

int mesh_grpc_client_new(const mesh_grpc_client_config_t *cfg, mesh_grpc_client_t **out)
{
    *out = NULL;
    if (cfg == NULL || cfg->target == NULL || cfg->target[0] == '\0' ||
        cfg->max_recv_message > INT32_MAX)
        return MESH_GRPC_EINVAL;
    mesh_grpc_client_t *c = mesh_calloc(1, sizeof(*c));
    if (c == NULL)
        return MESH_GRPC_ENOMEM;
    grpc_init();
    grpc_channel_credentials *creds;
    int rc = mesh__grpc_channel_creds(cfg, &creds);
    if (rc) {
        mesh_free(c);
        grpc_shutdown();
        return rc;
    }
    grpc_arg args[2];
    size_t n = 0;
    args[n].type = GRPC_ARG_INTEGER;
    args[n].key = (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    args[n++].value.integer = cfg->max_recv_message ? (int)cfg->max_recv_message
                                                    : (int)MESH_GRPC_DEFAULT_MAX_RECV;
    if (cfg->tls_server_name) {
        args[n].type = GRPC_ARG_STRING;
        args[n].key = (char *)GRPC_SSL_TARGET_NAME_OVERRIDE_ARG;
        args[n++].value.string = (char *)cfg->tls_server_name; /* copied by grpc */
    }
    grpc_channel_args chargs = {n, args};
    c->ch = grpc_channel_create(cfg->target, creds, &chargs);
    grpc_channel_credentials_release(creds);
    *out = c;
    return 0;
}

void mesh_grpc_client_free(mesh_grpc_client_t *c)
{
    if (c == NULL)
        return;
    grpc_channel_destroy(c->ch);
    mesh_free(c);
    grpc_shutdown();
}

static void cq_destroy(grpc_completion_queue *cq)
{
    grpc_completion_queue_shutdown(cq);
    while (grpc_completion_queue_pluck(cq, NULL, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL).type !=
           GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(cq);
}

/* Copies a received message out of grpc; NULL on no memory. */
static uint8_t *take_message(grpc_byte_buffer *bb, size_t *len)
{
    grpc_byte_buffer_reader rd;
    *len = 0;
    if (!grpc_byte_buffer_reader_init(&rd, bb))
        return NULL;
    grpc_slice all = grpc_byte_buffer_reader_readall(&rd);
    grpc_byte_buffer_reader_destroy(&rd);
    size_t n = GRPC_SLICE_LENGTH(all);
    uint8_t *p = mesh_malloc(n + 1);
    if (p) {
        memcpy(p, GRPC_SLICE_START_PTR(all), n);
        p[n] = 0; /* handy for text payloads; not counted in len */
        *len = n;
    }
    grpc_slice_unref(all);
    return p;
}

static grpc_call *new_call(mesh_grpc_client_t *c, grpc_completion_queue *cq, const char *method,
                           long timeout_ms)
{
    grpc_slice m = grpc_slice_from_copied_string(method);
    grpc_call *call = grpc_channel_create_call(c->ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq, m, NULL,
                                               mesh__grpc_deadline(timeout_ms), NULL);
    grpc_slice_unref(m);
    return call;
}

int mesh_grpc_client_unary(mesh_grpc_client_t *c, const char *method, const void *req,
                           size_t req_len, long timeout_ms, mesh_grpc_result_t *res)
{
    if (c == NULL || method == NULL || method[0] != '/' || res == NULL || (req == NULL && req_len))
        return MESH_GRPC_EINVAL;
    memset(res, 0, sizeof(*res));
    grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
    grpc_call *call = new_call(c, cq, method, timeout_ms);
    grpc_slice body = grpc_slice_from_copied_buffer(req, req_len);
    grpc_byte_buffer *send = grpc_raw_byte_buffer_create(&body, 1);
    grpc_slice_unref(body);
    grpc_byte_buffer *recv = NULL;
    grpc_metadata_array init_md, trail_md;
    grpc_metadata_array_init(&init_md);
    grpc_metadata_array_init(&trail_md);
    grpc_status_code code = GRPC_STATUS_UNKNOWN;
    grpc_slice details = grpc_empty_slice();
    grpc_op ops[6];
    memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = send;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &init_md;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &recv;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.status = &code;
    ops[5].data.recv_status_on_client.status_details = &details;
    ops[5].data.recv_status_on_client.trailing_metadata = &trail_md;
    int rc = 0;
    char tag;
    if (grpc_call_start_batch(call, ops, MESH_ARRAY_LEN(ops), &tag, NULL) != GRPC_CALL_OK) {
        rc = MESH_GRPC_ECALL;
    } else {
        /* The call's own deadline bounds this wait. */
        grpc_completion_queue_pluck(cq, &tag, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
        res->code = (int)code;
        char *m = grpc_slice_to_c_string(details);
        res->message = mesh_strdup(m);
        gpr_free(m);
        if (recv) {
            res->body = take_message(recv, &res->len);
            if (res->body == NULL)
                rc = MESH_GRPC_ENOMEM;
        }
        if (res->message == NULL)
            rc = MESH_GRPC_ENOMEM;
        if (rc)
            mesh_grpc_result_free(res);
    }
    if (recv)
        grpc_byte_buffer_destroy(recv);
    grpc_byte_buffer_destroy(send);
    grpc_slice_unref(details);
    grpc_metadata_array_destroy(&init_md);
    grpc_metadata_array_destroy(&trail_md);
    grpc_call_unref(call);
    cq_destroy(cq);
    return rc;
}

void mesh_grpc_result_free(mesh_grpc_result_t *res)
{
    if (res == NULL)
        return;
    MESH_FREE(&res->message);
    MESH_FREE(&res->body);
    res->len = 0;
}

int mesh_grpc_client_stream_open(mesh_grpc_client_t *c, const char *method, const void *req,
                                 size_t req_len, long timeout_ms, mesh_grpc_client_stream_t **out)
{
    *out = NULL;
    if (c == NULL || method == NULL || method[0] != '/' || (req == NULL && req_len))
        return MESH_GRPC_EINVAL;
    mesh_grpc_client_stream_t *st = mesh_calloc(1, sizeof(*st));
    if (st == NULL)
        return MESH_GRPC_ENOMEM;
    st->cq = grpc_completion_queue_create_for_pluck(NULL);
    st->call = new_call(c, st->cq, method, timeout_ms);
    grpc_metadata_array_init(&st->init_md);
    grpc_metadata_array_init(&st->trail_md);
    st->details = grpc_empty_slice();
    st->first_recv = true;

    grpc_slice body = grpc_slice_from_copied_buffer(req, req_len);
    grpc_byte_buffer *send = grpc_raw_byte_buffer_create(&body, 1);
    grpc_slice_unref(body);
    grpc_op ops[3];
    memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = send;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    grpc_op st_op;
    memset(&st_op, 0, sizeof(st_op));
    st_op.op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    st_op.data.recv_status_on_client.status = &st->code;
    st_op.data.recv_status_on_client.status_details = &st->details;
    st_op.data.recv_status_on_client.trailing_metadata = &st->trail_md;
    char tag_send;
    int rc = 0;
    /* The status batch goes first so that it is armed whatever happens. */
    if (grpc_call_start_batch(st->call, &st_op, 1, &st->tag_status, NULL) != GRPC_CALL_OK) {
        rc = MESH_GRPC_ECALL;
        st->have_status = true; /* nothing to pluck for it */
    } else if (grpc_call_start_batch(st->call, ops, 3, &tag_send, NULL) != GRPC_CALL_OK) {
        rc = MESH_GRPC_ECALL;
    } else {
        /* Completes once the request is handed to the transport, or the call
         * failed (the status then says why). */
        grpc_completion_queue_pluck(st->cq, &tag_send, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
    }
    grpc_byte_buffer_destroy(send);
    if (rc) {
        mesh_grpc_client_stream_free(st);
        return rc;
    }
    *out = st;
    return 0;
}

int mesh_grpc_client_stream_next(mesh_grpc_client_stream_t *st, long timeout_ms, uint8_t **msg,
                                 size_t *len)
{
    *msg = NULL;
    *len = 0;
    if (st->eos)
        return 0;
    if (!st->recv_armed) {
        grpc_op ops[2];
        size_t n = 0;
        memset(ops, 0, sizeof(ops));
        if (st->first_recv) {
            ops[n].op = GRPC_OP_RECV_INITIAL_METADATA;
            ops[n++].data.recv_initial_metadata.recv_initial_metadata = &st->init_md;
        }
        ops[n].op = GRPC_OP_RECV_MESSAGE;
        ops[n++].data.recv_message.recv_message = &st->recv_buf;
        if (grpc_call_start_batch(st->call, ops, n, &st->tag_recv, NULL) != GRPC_CALL_OK) {
            st->eos = true;
            return MESH_GRPC_ECALL;
        }
        st->first_recv = false;
        st->recv_armed = true;
    }
    grpc_event ev = grpc_completion_queue_pluck(st->cq, &st->tag_recv, mesh__grpc_deadline(timeout_ms), NULL);
    if (ev.type == GRPC_QUEUE_TIMEOUT)
        return MESH_GRPC_ETIMEDOUT;
    st->recv_armed = false;
    if (!ev.success || st->recv_buf == NULL) {
        st->eos = true;
        return 0;
    }
    *msg = take_message(st->recv_buf, len);
    grpc_byte_buffer_destroy(st->recv_buf);
    st->recv_buf = NULL;
    return *msg ? 1 : MESH_GRPC_ENOMEM;
}

static void wait_status(mesh_grpc_client_stream_t *st)
{
    if (st->have_status)
        return;
    grpc_completion_queue_pluck(st->cq, &st->tag_status, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
    st->have_status = true;
    char *m = grpc_slice_to_c_string(st->details);
    st->message = mesh_strdup(m);
    gpr_free(m);
}

int mesh_grpc_client_stream_status(mesh_grpc_client_stream_t *st, const char **message)
{
    wait_status(st);
    if (message)
        *message = st->message ? st->message : "";
    return (int)st->code;
}

void mesh_grpc_client_stream_cancel(mesh_grpc_client_stream_t *st)
{
    grpc_call_cancel(st->call, NULL);
}

void mesh_grpc_client_stream_free(mesh_grpc_client_stream_t *st)
{
    if (st == NULL)
        return;
    if (!st->have_status)
        grpc_call_cancel(st->call, NULL); /* a no-op if it already ended */
    wait_status(st);
    if (st->recv_armed)
        grpc_completion_queue_pluck(st->cq, &st->tag_recv, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
    if (st->recv_buf)
        grpc_byte_buffer_destroy(st->recv_buf);
    grpc_call_unref(st->call);
    grpc_metadata_array_destroy(&st->init_md);
    grpc_metadata_array_destroy(&st->trail_md);
    grpc_slice_unref(st->details);
    cq_destroy(st->cq);
    mesh_free(st->message);
    mesh_free(st);
}
