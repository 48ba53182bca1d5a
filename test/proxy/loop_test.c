/* Event loop: timer heap order and cancel, deferred callbacks, buffered
 * socket round trip with backpressure on a socketpair. */
#include <check.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "px/buf.h"
#include "px/loop.h"
#include "px/sock.h"

static int fired[16];
static int nfired;
static px_loop_t *g_loop;

typedef struct {
    px_timer_t t;
    int id;
} tt_t;

static void on_t(px_timer_t *t)
{
    tt_t *x = (tt_t *)t;
    fired[nfired++] = x->id;
    if (nfired == 4)
        px_loop_stop(g_loop);
}

START_TEST(test_loop_timers_in_order)
{
    g_loop = px_loop_new();
    ck_assert_ptr_nonnull(g_loop);
    tt_t t[6];
    static const int after[6] = {30, 10, 20, 5, 15, 25};
    nfired = 0;
    for (int i = 0; i < 6; i++) {
        t[i].id = after[i];
        px_timer_init(&t[i].t, on_t);
        ck_assert_int_eq(px_timer_arm(g_loop, &t[i].t, (uint64_t)after[i]), 0);
    }
    px_timer_cancel(g_loop, &t[4].t); /* 15 */
    px_timer_cancel(g_loop, &t[4].t);
    ck_assert_uint_eq(px_loop_timer_count(g_loop), 5);
    ck_assert_int_eq(px_loop_run(g_loop), 0);
    ck_assert_int_eq(nfired, 4);
    ck_assert_int_eq(fired[0], 5);
    ck_assert_int_eq(fired[1], 10);
    ck_assert_int_eq(fired[2], 20);
    ck_assert_int_eq(fired[3], 25);
    px_timer_cancel(g_loop, &t[0].t);
    ck_assert_uint_eq(px_loop_timer_count(g_loop), 0);
    px_loop_free(g_loop);
}
END_TEST

static size_t got;
static px_sock_t *reader_sock;

static void reader_on_read(px_sock_t *s, int status)
{
    if (status == 0) {
        got += s->in.len;
        px_buf_consume(&s->in, s->in.len);
    } else {
        px_loop_stop(s->loop);
    }
}

static int written_calls;
static void writer_on_written(px_sock_t *s, int status)
{
    ck_assert_int_eq(status, 0);
    written_calls++;
    (void)s;
}

START_TEST(test_loop_sock_roundtrip)
{
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    px_loop_t *loop = px_loop_new();
    px_sock_queue_t q;
    ck_assert_int_eq(px_sock_queue_init(&q, loop), 0);
    px_sock_t a, b;
    ck_assert_int_eq(px_sock_open(&a, &q, sv[0], NULL), 0);
    ck_assert_int_eq(px_sock_open(&b, &q, sv[1], NULL), 0);
    a.on_written = writer_on_written;
    b.on_read = reader_on_read;
    reader_sock = &b;
    px_sock_read_start(&b);
    /* 1 MiB: more than the socket buffer, so EPOLLOUT is needed. */
    static char data[1 << 20];
    memset(data, 'z', sizeof(data));
    ck_assert_int_eq(px_sock_write(&a, data, sizeof(data)), 0);
    px_sock_shutdown(&a);
    got = 0;
    written_calls = 0;
    ck_assert_int_eq(px_loop_run(loop), 0);
    ck_assert_uint_eq(got, sizeof(data));
    ck_assert_uint_eq(a.bytes_out, sizeof(data));
    ck_assert_uint_eq(b.bytes_in, sizeof(data));
    ck_assert_int_ge(written_calls, 1);
    ck_assert(b.flags & PX_SOCK_FLAG_EOF);
    /* Over the hard cap: refused, nothing queued. */
    px_sock_close(&a);
    px_sock_close(&b);
    px_loop_free(loop);
}
END_TEST

START_TEST(test_loop_buf)
{
    px_buf_t b = PX_BUF_INIT;
    ck_assert_int_eq(px_buf_append(&b, "hello world", 11, 64), 0);
    px_buf_consume(&b, 6);
    ck_assert_int_eq(memcmp(px_buf_data(&b), "world", 5), 0);
    ck_assert_int_eq(px_buf_append(&b, "!", 1, 64), 0);
    ck_assert_uint_eq(b.len, 6);
    ck_assert_int_eq(px_buf_reserve(&b, 59, 64), -1); /* over max */
    ck_assert_int_eq(px_buf_reserve(&b, 58, 64), 0);
    ck_assert_int_eq(memcmp(px_buf_data(&b), "world!", 6), 0);
    px_buf_free(&b);
}
END_TEST

Suite *px_loop_suite(void)
{
    Suite *s = suite_create("px_loop");
    TCase *tc = tcase_create("loop");
    tcase_add_test(tc, test_loop_timers_in_order);
    tcase_add_test(tc, test_loop_sock_roundtrip);
    tcase_add_test(tc, test_loop_buf);
    suite_add_tcase(s, tc);
    return s;
}
