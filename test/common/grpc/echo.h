/*
 * Test service shared by the Check tests (linked into the runner) and by the
 * stand-alone echo server the Python test builds (echo_server.c with
 * -DECHO_SERVER_MAIN).
 *
 * Unary /x.Test/Echo, by request text:
 *   "fail:CODE:MSG"  answers status CODE with message MSG
 *   "sleep:MS"       sleeps MS ms on its worker, then answers "slept"
 *   "info"           answers "method=.. peer=.. deadline=.. x-test=.."
 *   "big:N"          answers N bytes of 'b'
 *   anything else    is echoed back
 * Server-streaming /x.Test/Stream:
 *   "count:N[:SIZE]" a separate thread sends "m0".."m<N-1>" (padded with '.'
 *                    to SIZE bytes), retrying while the queue is full, then OK
 *   "flood:SIZE[:US]" a separate thread sends SIZE-byte messages (pausing US
 *                    microseconds after each) until send reports the queue
 *                    full, then finishes RESOURCE_EXHAUSTED
 *   "hold"           sends "ready" and keeps the stream open until it ends
 *   "reject:CODE"    finishes at once with CODE
 */
#ifndef TEST_GRPC_ECHO_H
#define TEST_GRPC_ECHO_H

#include "mesh/grpc_server.h"

#define ECHO_UNARY "/x.Test/Echo"
#define ECHO_STREAM "/x.Test/Stream"

typedef struct echo_stats {
    int held;            /* "hold" streams currently open */
    int done;            /* on_done calls */
    int done_cancelled;  /* ... with cancelled = 1 */
    int flood_sent;      /* messages the last flood sent before the queue filled */
    int flood_full;      /* floods that saw MESH_GRPC_EFULL */
    int senders;         /* sender threads still running */
} echo_stats_t;

/* Registers both methods. */
int echo_register(mesh_grpc_server_t *srv);
/* Resets the counters (between tests in one process). */
void echo_reset(void);
/* A copy of the counters. */
echo_stats_t echo_stats(void);
/* Waits until pred-like condition: field selected by `which` reaches at least
 * `want`, up to timeout_ms. Returns 1 when reached. which: "held", "done",
 * "done_cancelled", "flood_full", "senders0" (senders == 0). */
int echo_wait(const char *which, int want, int timeout_ms);

#endif
