/* Shutdown signals: the fd wakes pollers, SIGPIPE is ignored. */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "mesh/signal.h"

static int readable(int fd, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN);
}

START_TEST(test_signal_sigterm_makes_fd_readable)
{
    ck_assert_int_eq(mesh_signal_install(), 0);
    mesh_signal_reset(); /* state is process-wide: also right under CK_FORK=no */
    int fd = mesh_signal_fd();
    ck_assert_int_ge(fd, 0);
    ck_assert(!mesh_signal_requested());
    ck_assert(!readable(fd, 0));
    ck_assert_int_eq(mesh_signal_wait(20), 0);

    ck_assert_int_eq(raise(SIGTERM), 0);
    ck_assert(mesh_signal_requested());
    ck_assert_int_eq(mesh_signal_number(), SIGTERM);
    ck_assert(readable(fd, 0));
    /* The fd is never drained: every poller keeps seeing it. */
    ck_assert(readable(fd, 0));
    ck_assert_int_eq(mesh_signal_wait(-1), 1);
    /* A second signal changes nothing and does not kill us. */
    ck_assert_int_eq(raise(SIGINT), 0);
    ck_assert(readable(fd, 0));

    mesh_signal_reset();
    ck_assert(!mesh_signal_requested());
    ck_assert(!readable(fd, 0));
}
END_TEST

static void *poller(void *arg)
{
    (void)arg;
    return (void *)(long)readable(mesh_signal_fd(), 5000);
}

START_TEST(test_signal_wakes_other_thread)
{
    ck_assert_int_eq(mesh_signal_install(), 0);
    mesh_signal_reset(); /* state is process-wide: also right under CK_FORK=no */
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, poller, NULL), 0);
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
    ck_assert_int_eq(kill(getpid(), SIGINT), 0);
    void *woke = NULL;
    pthread_join(t, &woke);
    ck_assert_int_eq((long)woke, 1);
    ck_assert_int_eq(mesh_signal_number(), SIGINT);
}
END_TEST

START_TEST(test_signal_trigger_and_sigpipe)
{
    ck_assert_int_eq(mesh_signal_install(), 0);
    mesh_signal_reset(); /* state is process-wide: also right under CK_FORK=no */
    ck_assert_int_eq(mesh_signal_install(), 0); /* idempotent */
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    close(p[0]);
    errno = 0;
    ck_assert_int_eq(write(p[1], "x", 1), -1); /* would have killed us with SIGPIPE */
    ck_assert_int_eq(errno, EPIPE);
    close(p[1]);
    ck_assert(!mesh_signal_requested());
    mesh_signal_trigger();
    ck_assert(mesh_signal_requested());
    ck_assert_int_eq(mesh_signal_number(), 0);
    ck_assert_int_eq(mesh_signal_wait(0), 1);
    mesh_signal_reset();
}
END_TEST

Suite *signal_suite(void)
{
    Suite *s = suite_create("signal");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_signal_sigterm_makes_fd_readable);
    tcase_add_test(tc, test_signal_wakes_other_thread);
    tcase_add_test(tc, test_signal_trigger_and_sigpipe);
    suite_add_tcase(s, tc);
    return s;
}
