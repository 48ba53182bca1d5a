/* Event loop: epoll + timer heap + before-sleep hooks + deferred frees; see px/loop.h. */
#include "px/loop.h"

#include <errno.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "mesh/mem.h"
#include "px/err.h"

/* Events fetched per epoll_wait. */
#define PX_LOOP_BATCH 256

typedef struct {
    px_hook_cb cb;
    void *data;
} hook_t;

struct px_loop {
    int epfd;                   /* the epoll instance */
    int wakefd;                 /* eventfd written by px_loop_wake */
    px_io_t wake_io;            /* watches wakefd */
    px_hook_cb wake_cb;         /* run on the loop after a wake */
    void *wake_data;
    uint64_t now;               /* cached clock, ms */
    bool stop;                  /* px_loop_stop was called */
    px_timer_t **heap;          /* min-heap of armed timers by deadline */
    size_t heap_len, heap_cap;
    hook_t hooks[PX_LOOP_MAX_HOOKS];
    size_t nhooks;
    px_list_t deferred;         /* px_deferred_t to run after dispatch */
};

static uint64_t clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

double px_wall_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

uint64_t px_loop_now(const px_loop_t *loop) { return loop->now; }

static void on_wake(px_io_t *io, unsigned events)
{
    (void)events;
    px_loop_t *loop = MESH_CONTAINER_OF(io, px_loop_t, wake_io);
    uint64_t v;
    while (read(loop->wakefd, &v, sizeof(v)) > 0)
        ;
    if (loop->wake_cb)
        loop->wake_cb(loop, loop->wake_data);
}

px_loop_t *px_loop_new(void)
{
    px_loop_t *loop = mesh_calloc(1, sizeof(*loop));
    if (loop == NULL)
        goto fail;
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epfd < 0)
        goto fail_ep;
    loop->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (loop->wakefd < 0)
        goto fail_wake;
    px_list_init(&loop->deferred);
    loop->now = clock_ms();
    if (px_io_start(loop, &loop->wake_io, loop->wakefd, PX_IO_READ, on_wake) != 0)
        goto fail_io;
    return loop;

fail_io:
    close(loop->wakefd);
fail_wake:
    close(loop->epfd);
fail_ep:
    mesh_free(loop);
fail:
    return NULL;
}

void px_loop_free(px_loop_t *loop)
{
    if (loop == NULL)
        return;
    px_io_stop(loop, &loop->wake_io);
    close(loop->wakefd);
    close(loop->epfd);
    mesh_free(loop->heap);
    mesh_free(loop);
}

void px_loop_stop(px_loop_t *loop) { loop->stop = true; }

void px_loop_wake(px_loop_t *loop)
{
    uint64_t one = 1;
    /* EAGAIN means the counter is already non-zero: the wake is pending. */
    ssize_t r = write(loop->wakefd, &one, sizeof(one));
    (void)r;
}

void px_loop_set_wake_cb(px_loop_t *loop, px_hook_cb cb, void *data)
{
    loop->wake_cb = cb;
    loop->wake_data = data;
}

int px_loop_add_before_sleep(px_loop_t *loop, px_hook_cb cb, void *data)
{
    if (loop->nhooks == PX_LOOP_MAX_HOOKS)
        return PX_ERR_LIMIT;
    loop->hooks[loop->nhooks++] = (hook_t){cb, data};
    return 0;
}

static uint32_t to_epoll(unsigned want)
{
    return (want & PX_IO_READ ? EPOLLIN | EPOLLRDHUP : 0) | (want & PX_IO_WRITE ? EPOLLOUT : 0);
}

int px_io_start(px_loop_t *loop, px_io_t *io, int fd, unsigned want, px_io_cb cb)
{
    struct epoll_event ev = {.events = to_epoll(want), .data.ptr = io};
    if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
        return px_err_from_errno(errno);
    io->fd = fd;
    io->want = want;
    io->cb = cb;
    io->_active = true;
    return 0;
}

int px_io_set(px_loop_t *loop, px_io_t *io, unsigned want)
{
    if (!io->_active || io->want == want)
        return 0;
    struct epoll_event ev = {.events = to_epoll(want), .data.ptr = io};
    if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, io->fd, &ev) != 0)
        return px_err_from_errno(errno);
    io->want = want;
    return 0;
}

void px_io_stop(px_loop_t *loop, px_io_t *io)
{
    if (!io->_active)
        return;
    epoll_ctl(loop->epfd, EPOLL_CTL_DEL, io->fd, NULL);
    io->_active = false;
    io->want = 0;
}

/* --- timer heap -------------------------------------------------------------- */

static void heap_place(px_loop_t *loop, size_t i, px_timer_t *t)
{
    loop->heap[i] = t;
    t->_slot = i + 1;
}

static void heap_up(px_loop_t *loop, size_t i)
{
    px_timer_t *t = loop->heap[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (loop->heap[p]->at <= t->at)
            break;
        heap_place(loop, i, loop->heap[p]);
        i = p;
    }
    heap_place(loop, i, t);
}

static void heap_down(px_loop_t *loop, size_t i)
{
    px_timer_t *t = loop->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= loop->heap_len)
            break;
        if (c + 1 < loop->heap_len && loop->heap[c + 1]->at < loop->heap[c]->at)
            c++;
        if (t->at <= loop->heap[c]->at)
            break;
        heap_place(loop, i, loop->heap[c]);
        i = c;
    }
    heap_place(loop, i, t);
}

void px_timer_init(px_timer_t *t, px_timer_cb cb)
{
    t->at = 0;
    t->_slot = 0;
    t->cb = cb;
}

void px_timer_cancel(px_loop_t *loop, px_timer_t *t)
{
    if (t->_slot == 0)
        return;
    size_t i = t->_slot - 1;
    t->_slot = 0;
    px_timer_t *last = loop->heap[--loop->heap_len];
    if (i == loop->heap_len)
        return;
    heap_place(loop, i, last);
    heap_up(loop, i);
    heap_down(loop, last->_slot - 1);
}

int px_timer_arm(px_loop_t *loop, px_timer_t *t, uint64_t after_ms)
{
    px_timer_cancel(loop, t);
    if (loop->heap_len == loop->heap_cap) {
        size_t cap = loop->heap_cap ? loop->heap_cap * 2 : 64;
        px_timer_t **h = mesh_realloc(loop->heap, cap * sizeof(*h));
        if (h == NULL)
            return PX_ERR_NOMEM;
        loop->heap = h;
        loop->heap_cap = cap;
    }
    t->at = loop->now + after_ms;
    heap_place(loop, loop->heap_len++, t);
    heap_up(loop, loop->heap_len - 1);
    return 0;
}

size_t px_loop_timer_count(const px_loop_t *loop) { return loop->heap_len; }

static void run_timers(px_loop_t *loop)
{
    while (loop->heap_len > 0 && loop->heap[0]->at <= loop->now) {
        px_timer_t *t = loop->heap[0];
        px_timer_cancel(loop, t);
        t->cb(t);
    }
}

/* --- deferred ---------------------------------------------------------------- */

void px_loop_defer(px_loop_t *loop, px_deferred_t *d, px_deferred_cb cb)
{
    if (px_list_linked(&d->_link))
        return;
    d->cb = cb;
    px_list_insert(&loop->deferred, &d->_link);
}

static void run_deferred(px_loop_t *loop)
{
    /* A deferred callback may defer more work; it runs in this same pass. */
    while (!px_list_empty(&loop->deferred)) {
        px_list_t *n = loop->deferred.next;
        px_list_unlink(n);
        px_deferred_t *d = MESH_CONTAINER_OF(n, px_deferred_t, _link);
        d->cb(d);
    }
}

void px_loop_flush_deferred(px_loop_t *loop) { run_deferred(loop); }

int px_loop_run(px_loop_t *loop)
{
    struct epoll_event evs[PX_LOOP_BATCH];
    loop->stop = false;
    while (!loop->stop) {
        for (size_t i = 0; i < loop->nhooks; i++)
            loop->hooks[i].cb(loop, loop->hooks[i].data);
        run_deferred(loop);
        int timeout = -1;
        if (loop->heap_len > 0) {
            uint64_t now = clock_ms(), at = loop->heap[0]->at;
            timeout = at <= now ? 0 : (int)(at - now > INT32_MAX ? INT32_MAX : at - now);
        }
        int n = epoll_wait(loop->epfd, evs, PX_LOOP_BATCH, timeout);
        if (n < 0 && errno != EINTR)
            return px_err_from_errno(errno);
        loop->now = clock_ms();
        for (int i = 0; i < n; i++) {
            px_io_t *io = evs[i].data.ptr;
            if (!io->_active)
                continue; /* stopped earlier in this round */
            unsigned ev = 0;
            if (evs[i].events & (EPOLLIN | EPOLLRDHUP))
                ev |= PX_IO_READ;
            if (evs[i].events & EPOLLOUT)
                ev |= PX_IO_WRITE;
            if (evs[i].events & (EPOLLERR | EPOLLHUP))
                ev |= PX_IO_ERR;
            io->cb(io, ev);
        }
        run_timers(loop);
        run_deferred(loop);
    }
    return 0;
}
