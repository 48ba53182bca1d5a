/*
 * dst/queue.h - a bounded FIFO of blobs for one subscriber.
 *
 * The watcher pushes without ever blocking; a push into a full queue fails
 * (the watcher then ends that stream) so a slow reader can never hold memory
 * without bound or delay the others. The reader pops, waiting up to a
 * timeout. Thread-safe: one lock per queue.
 */
#ifndef DST_QUEUE_H
#define DST_QUEUE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "dst/blob.h"

/* Linkerd's -stream-queue-capacity default. */
#define DST_QUEUE_CAPACITY_DEFAULT 100

typedef struct dst_queue {
    pthread_mutex_t _mu;
    pthread_cond_t _cv;
    dst_blob_t **_ring; /* capacity slots */
    size_t cap, _head, n;
    int closed;         /* set by dst_queue_close: pops drain, then fail */
} dst_queue_t;

/* 0, or -1 on no memory. capacity must be > 0. */
int dst_queue_init(dst_queue_t *q, size_t capacity) __attribute__((warn_unused_result));
/* Drops queued blobs and frees the ring. */
void dst_queue_destroy(dst_queue_t *q);
/* Appends a reference to b: 0, or -1 when full or closed. Never blocks. */
int dst_queue_push(dst_queue_t *q, dst_blob_t *b);
/* Removes the oldest blob (the caller owns that reference): 1, 0 on
 * timeout, -1 when closed and empty. timeout_ms < 0 waits forever. */
int dst_queue_pop(dst_queue_t *q, dst_blob_t **out, int64_t timeout_ms);
/* Wakes waiting readers; later pushes fail. */
void dst_queue_close(dst_queue_t *q);
size_t dst_queue_len(dst_queue_t *q);

#endif
