/*
 * destination_load: a Destination.Get load client over grpc core, for
 * bench/destination_bench.sh (not a test).
 *
 *   destination_load ADDR AUTHORITY CHANNELS STREAMS_PER_CHANNEL [ROOTS NAME]
 *
 * Opens CHANNELS channels, each on its own TCP (or TLS, with ROOTS as trust
 * anchors and NAME as the expected server name) connection, and
 * STREAMS_PER_CHANNEL Get streams on each, all driven by one completion
 * queue on one thread. Protocol on stdout, one line each:
 *
 *   READY <streams> <ms>      every stream has its first message
 *   UPDATE <i> <first> <last> every stream has its i-th later message;
 *                             first/last: CLOCK_MONOTONIC seconds of the
 *                             earliest and latest arrival
 *   END <code> <message>      a stream ended (the run is then invalid)
 *
 * It runs until stdin closes (the driver's cue), then cancels everything.
 */
#include <grpc/byte_buffer.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "destination.pb-c.h"

/* Later updates a run may follow; each gets its own arrival counters. */
#define MAX_UPDATES 4096
#define PATH_GET "/io.linkerd.proxy.destination.Destination/Get"

typedef struct call {
    grpc_call *c;
    grpc_byte_buffer *recv;       /* the RECV_MESSAGE target */
    grpc_metadata_array md, trailers;
    grpc_status_code status;
    grpc_slice details;
    int started;                  /* the first batch completed */
    long got;                     /* messages received */
    int tag_kind;                 /* 0 start, 1 recv, 2 status */
} call_t;

/* Tags point into the call: one per kind, told apart by address. */
typedef struct tagbox {
    call_t *call;
    int kind;
} tagbox_t;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long counts[MAX_UPDATES + 1];
static double first_at[MAX_UPDATES + 1], last_at[MAX_UPDATES + 1];

static void start_recv(call_t *c, tagbox_t *t)
{
    grpc_op op = {0};
    op.op = GRPC_OP_RECV_MESSAGE;
    op.data.recv_message.recv_message = &c->recv;
    if (grpc_call_start_batch(c->c, &op, 1, t, NULL) != GRPC_CALL_OK) {
        fprintf(stderr, "destination_load: cannot start a receive\n");
        exit(1);
    }
}

int main(int argc, char **argv)
{
    if (argc != 5 && argc != 7) {
        fprintf(stderr, "usage: destination_load ADDR AUTHORITY CHANNELS STREAMS_PER_CHANNEL [ROOTS NAME]\n");
        return 2;
    }
    const char *addr = argv[1], *auth = argv[2];
    long nch = strtol(argv[3], NULL, 10), per = strtol(argv[4], NULL, 10);
    if (nch < 1 || per < 1 || nch * per > 1000000) {
        fprintf(stderr, "destination_load: bad counts\n");
        return 2;
    }
    long total = nch * per;
    grpc_init();
    grpc_completion_queue *cq = grpc_completion_queue_create_for_next(NULL);
    grpc_channel_credentials *creds = NULL;
    char *roots = NULL;
    if (argc == 7) {
        FILE *f = fopen(argv[5], "rb");
        if (f == NULL) {
            perror(argv[5]);
            return 1;
        }
        roots = calloc(1, 1 << 20);
        size_t n = fread(roots, 1, (1 << 20) - 1, f);
        fclose(f);
        roots[n] = '\0';
        creds = grpc_ssl_credentials_create(roots, NULL, NULL, NULL);
    } else {
        creds = grpc_insecure_credentials_create();
    }
    /* A local subchannel pool per channel: otherwise channels with equal
     * arguments share one connection and CHANNELS would not mean anything. */
    grpc_arg args[3];
    int nargs = 0;
    args[nargs].type = GRPC_ARG_INTEGER;
    args[nargs].key = (char *)GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL;
    args[nargs++].value.integer = 1;
    args[nargs].type = GRPC_ARG_INTEGER;
    args[nargs].key = (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    args[nargs++].value.integer = 64 << 20;
    if (argc == 7) {
        args[nargs].type = GRPC_ARG_STRING;
        args[nargs].key = (char *)GRPC_SSL_TARGET_NAME_OVERRIDE_ARG;
        args[nargs++].value.string = argv[6];
    }
    grpc_channel_args cargs = {(size_t)nargs, args};

    Io__Linkerd__Proxy__Destination__GetDestination gd = IO__LINKERD__PROXY__DESTINATION__GET_DESTINATION__INIT;
    gd.scheme = (char *)"k8s";
    gd.path = (char *)auth;
    size_t reqlen = protobuf_c_message_get_packed_size(&gd.base);
    uint8_t *req = malloc(reqlen);
    protobuf_c_message_pack(&gd.base, req);

    grpc_channel **chans = calloc((size_t)nch, sizeof *chans);
    call_t *calls = calloc((size_t)total, sizeof *calls);
    tagbox_t *tags = calloc((size_t)total * 3, sizeof *tags);
    if (!chans || !calls || !tags) {
        fprintf(stderr, "destination_load: no memory\n");
        return 1;
    }
    double t_start = now_s();
    for (long i = 0; i < nch; i++)
        chans[i] = grpc_channel_create(addr, creds, &cargs);
    grpc_slice method = grpc_slice_from_static_string(PATH_GET);
    for (long i = 0; i < total; i++) {
        call_t *c = &calls[i];
        for (int k = 0; k < 3; k++)
            tags[i * 3 + k] = (tagbox_t){c, k};
        c->c = grpc_channel_create_call(chans[i % nch], NULL, GRPC_PROPAGATE_DEFAULTS, cq, method, NULL,
                                        gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        grpc_metadata_array_init(&c->md);
        grpc_metadata_array_init(&c->trailers);
        grpc_slice s = grpc_slice_from_copied_buffer((const char *)req, reqlen);
        grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
        grpc_slice_unref(s);
        grpc_op ops[4];
        memset(ops, 0, sizeof ops);
        ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
        ops[1].op = GRPC_OP_SEND_MESSAGE;
        ops[1].data.send_message.send_message = bb;
        ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
        ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
        ops[3].data.recv_initial_metadata.recv_initial_metadata = &c->md;
        if (grpc_call_start_batch(c->c, ops, 4, &tags[i * 3 + 0], NULL) != GRPC_CALL_OK) {
            fprintf(stderr, "destination_load: cannot start call %ld\n", i);
            return 1;
        }
        grpc_byte_buffer_destroy(bb);
        grpc_op st = {0};
        st.op = GRPC_OP_RECV_STATUS_ON_CLIENT;
        st.data.recv_status_on_client.trailing_metadata = &c->trailers;
        st.data.recv_status_on_client.status = &c->status;
        st.data.recv_status_on_client.status_details = &c->details;
        if (grpc_call_start_batch(c->c, &st, 1, &tags[i * 3 + 2], NULL) != GRPC_CALL_OK) {
            fprintf(stderr, "destination_load: cannot wait for status %ld\n", i);
            return 1;
        }
        start_recv(c, &tags[i * 3 + 1]);
    }
    free(req);
    setvbuf(stdout, NULL, _IOLBF, 0);

    long first_done = 0;
    int stopping = 0;
    long outstanding = total * 3;
    while (outstanding > 0) {
        if (!stopping) {
            struct pollfd p = {0, POLLIN, 0};
            if (poll(&p, 1, 0) == 1) {
                char buf[64];
                if (read(0, buf, sizeof buf) <= 0) {
                    stopping = 1;
                    for (long i = 0; i < total; i++)
                        grpc_call_cancel(calls[i].c, NULL);
                }
            }
        }
        grpc_event ev = grpc_completion_queue_next(
            cq, gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(50, GPR_TIMESPAN)), NULL);
        if (ev.type == GRPC_QUEUE_TIMEOUT)
            continue;
        if (ev.type != GRPC_OP_COMPLETE)
            break;
        tagbox_t *t = ev.tag;
        call_t *c = t->call;
        outstanding--;
        if (t->kind == 0) {
            c->started = 1;
        } else if (t->kind == 1) {
            if (!ev.success || c->recv == NULL) {
                continue; /* the stream ended; the status tag tells why */
            }
            double at = now_s();
            grpc_byte_buffer_destroy(c->recv);
            c->recv = NULL;
            long k = c->got++;
            if (k == 0) {
                if (++first_done == total)
                    printf("READY %ld %.0f\n", total, (at - t_start) * 1000);
            } else if (k <= MAX_UPDATES) {
                if (counts[k]++ == 0 || at < first_at[k])
                    first_at[k] = at;
                if (at > last_at[k])
                    last_at[k] = at;
                if (counts[k] == total)
                    printf("UPDATE %ld %.6f %.6f\n", k, first_at[k], last_at[k]);
            }
            outstanding++;
            start_recv(c, t);
        } else {
            if (!stopping) {
                char *d = grpc_slice_to_c_string(c->details);
                printf("END %d %s\n", (int)c->status, d);
                gpr_free(d);
            }
        }
    }
    for (long i = 0; i < total; i++) {
        grpc_call_unref(calls[i].c);
        grpc_metadata_array_destroy(&calls[i].md);
        grpc_metadata_array_destroy(&calls[i].trailers);
        grpc_slice_unref(calls[i].details);
    }
    for (long i = 0; i < nch; i++)
        grpc_channel_destroy(chans[i]);
    grpc_channel_credentials_release(creds);
    grpc_completion_queue_shutdown(cq);
    while (grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type != GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(cq);
    grpc_shutdown();
    free(chans);
    free(calls);
    free(tags);
    free(roots);
    return 0;
}
