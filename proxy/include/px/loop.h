/*
 * px/loop.h - one event loop per worker thread: epoll, timers, before-sleep
 * hooks and deferred frees (redis ae.c + beforeSleep; h2o evloop; libuv close_cb).
 *
 * One iteration:
 *   1. run the before-sleep hooks (sockets flush pending output there);
 *   2. epoll_wait until the next timer is due (or forever);
 *   3. dispatch I/O events, then due timers;
 *   4. run deferred callbacks (frees), queued by px_loop_defer during 1-3.
 * Because frees wait for step 4, an object may be closed inside a callback and
 * still receive (and ignore) a later event of the same batch: px_io_t records
 * whether it is still registered and the loop skips stale events.
 *
 * Timers are px_timer_t entries embedded in the objects that own them, kept in
 * a binary heap keyed by deadline (ms, CLOCK_MONOTONIC).
 *
 * Not thread-safe, except px_loop_wake, which any thread may call.
 */
#ifndef PX_LOOP_H
#define PX_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "px/list.h"

typedef struct px_loop px_loop_t;
typedef struct px_io px_io_t;
typedef struct px_timer px_timer_t;
typedef struct px_deferred px_deferred_t;

/* Readiness bits passed to px_io_cb; PX_IO_ERR covers EPOLLERR/EPOLLHUP. */
#define PX_IO_READ 1u
#define PX_IO_WRITE 2u
#define PX_IO_ERR 4u

typedef void (*px_io_cb)(px_io_t *io, unsigned events);
typedef void (*px_timer_cb)(px_timer_t *t);
typedef void (*px_deferred_cb)(px_deferred_t *d);
typedef void (*px_hook_cb)(px_loop_t *loop, void *data);

/* A file descriptor watched by the loop. Embed it; zero-init is "stopped". */
struct px_io {
    int fd;           /* the descriptor (not owned: the owner closes it) */
    unsigned want;    /* PX_IO_READ|PX_IO_WRITE currently registered */
    bool _active;     /* registered with epoll */
    px_io_cb cb;      /* called with the ready bits */
};

/* A one-shot timer. Embed it; px_timer_init before first use. */
struct px_timer {
    uint64_t at;      /* deadline, loop ms */
    size_t _slot;     /* heap index + 1; 0 when not armed */
    px_timer_cb cb;   /* called once when due (after disarming) */
};

/* A callback run after the current dispatch round (for frees). */
struct px_deferred {
    px_list_t _link;  /* in the loop's deferred queue */
    px_deferred_cb cb;
};

/* Creates a loop; NULL on failure (no memory, epoll/eventfd limits). */
px_loop_t *px_loop_new(void);
/* Frees the loop. Every io must be stopped and every timer cancelled. */
void px_loop_free(px_loop_t *loop);

/* Runs until px_loop_stop; returns 0, or a negative PX_ERR_* if epoll fails. */
int px_loop_run(px_loop_t *loop);
/* Makes px_loop_run return after the current iteration (loop thread only). */
void px_loop_stop(px_loop_t *loop);
/* Wakes the loop from any thread; the wake callback then runs on the loop. */
void px_loop_wake(px_loop_t *loop);
void px_loop_set_wake_cb(px_loop_t *loop, px_hook_cb cb, void *data);
/* Adds a hook run before each sleep; at most PX_LOOP_MAX_HOOKS. Returns 0 or
 * PX_ERR_LIMIT. */
#define PX_LOOP_MAX_HOOKS 4
int px_loop_add_before_sleep(px_loop_t *loop, px_hook_cb cb, void *data);

/* The loop's clock (ms since an arbitrary start), refreshed once per wake-up. */
uint64_t px_loop_now(const px_loop_t *loop);
/* Wall-clock seconds, for metric timestamps. */
double px_wall_seconds(void);

/* Registers fd for `want` (0 allowed: only errors). Returns 0 or PX_ERR_*. */
int px_io_start(px_loop_t *loop, px_io_t *io, int fd, unsigned want, px_io_cb cb)
    __attribute__((warn_unused_result));
/* Changes the interest set; a no-op when unchanged. Returns 0 or PX_ERR_*. */
int px_io_set(px_loop_t *loop, px_io_t *io, unsigned want);
/* Unregisters (idempotent). Pending events of this round are dropped. */
void px_io_stop(px_loop_t *loop, px_io_t *io);

void px_timer_init(px_timer_t *t, px_timer_cb cb);
/* (Re)arms the timer to fire `after_ms` from now. Returns 0 or PX_ERR_NOMEM
 * (the heap could not grow; the timer is then not armed). */
int px_timer_arm(px_loop_t *loop, px_timer_t *t, uint64_t after_ms);
/* Disarms (idempotent). */
void px_timer_cancel(px_loop_t *loop, px_timer_t *t);
static inline bool px_timer_armed(const px_timer_t *t) { return t->_slot != 0; }

/* Queues cb(d) to run after this dispatch round; queuing twice is a no-op. */
void px_loop_defer(px_loop_t *loop, px_deferred_t *d, px_deferred_cb cb);
static inline void px_deferred_init(px_deferred_t *d) { px_list_init(&d->_link); d->cb = NULL; }

/* Runs the deferred queue now (after px_loop_run returned, for cleanup). */
void px_loop_flush_deferred(px_loop_t *loop);

/* Number of armed timers (tests). */
size_t px_loop_timer_count(const px_loop_t *loop);

#endif
