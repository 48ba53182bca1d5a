/* Watching a kubelet-style Secret mount: atomic ..data swaps, no-op writes,
 * bursts, and the periodic check that covers missed events. */
#include <check.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mesh/fswatch.h"

static char root[64];

typedef struct {
    atomic_int calls;
    pthread_mutex_t lock;
    char seen[64]; /* crt.pem as read inside the callback */
} probe_t;

static void put(const char *rel, const char *content)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/%s", root, rel);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs(content, f);
    fclose(f);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* What the kubelet does: a new timestamped dir, then rename a fresh ..data
 * symlink over the old one. */
static void kubelet_swap(const char *dir, const char *content)
{
    char p[256], tmp[256], data[256];
    snprintf(p, sizeof(p), "%s/%s", root, dir);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    snprintf(p, sizeof(p), "%s/crt.pem", dir);
    put(p, content);
    snprintf(tmp, sizeof(tmp), "%s/..data_tmp", root);
    snprintf(data, sizeof(data), "%s/..data", root);
    ck_assert_int_eq(symlink(dir, tmp), 0);
    ck_assert_int_eq(rename(tmp, data), 0);
}

static void on_change(void *ud)
{
    probe_t *pr = ud;
    char p[256];
    snprintf(p, sizeof(p), "%s/crt.pem", root);
    pthread_mutex_lock(&pr->lock);
    FILE *f = fopen(p, "r");
    size_t n = f ? fread(pr->seen, 1, sizeof(pr->seen) - 1, f) : 0;
    pr->seen[n] = '\0';
    if (f)
        fclose(f);
    pthread_mutex_unlock(&pr->lock);
    atomic_fetch_add(&pr->calls, 1);
}

static int wait_calls(probe_t *pr, int want, int timeout_ms)
{
    for (int t = 0; t < timeout_ms && atomic_load(&pr->calls) < want; t += 10)
        sleep_ms(10);
    return atomic_load(&pr->calls);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void setup(void)
{
    snprintf(root, sizeof(root), "/tmp/cmesh-fswatch-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(root));
    kubelet_swap("..2026_a", "one");
    char p[256];
    snprintf(p, sizeof(p), "%s/crt.pem", root);
    ck_assert_int_eq(symlink("..data/crt.pem", p), 0);
}

static void teardown(void)
{
    nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static mesh_fswatch_t *start(probe_t *pr, const char *const *files, int settle_ms, int interval_ms)
{
    memset(pr, 0, sizeof(*pr));
    pthread_mutex_init(&pr->lock, NULL);
    mesh_fswatch_config_t cfg = {root, files, settle_ms, interval_ms, on_change, pr};
    mesh_fswatch_t *w = mesh_fswatch_start(&cfg);
    ck_assert_ptr_nonnull(w);
    return w;
}

static const char *const crt[] = {"crt.pem", NULL};

START_TEST(test_fswatch_kubelet_swap)
{
    probe_t pr;
    /* A long interval: only inotify can explain a quick callback. */
    mesh_fswatch_t *w = start(&pr, crt, 50, 60000);
    sleep_ms(100);
    ck_assert_int_eq(atomic_load(&pr.calls), 0); /* no callback for the initial state */
    kubelet_swap("..2026_b", "two");
    ck_assert_int_eq(wait_calls(&pr, 1, 3000), 1);
    pthread_mutex_lock(&pr.lock);
    ck_assert_str_eq(pr.seen, "two");
    pthread_mutex_unlock(&pr.lock);

    /* Removing the old dir, swapping to identical bytes, rewriting the same
     * bytes in place: events, but no change. */
    char p[256];
    snprintf(p, sizeof(p), "%s/..2026_a/crt.pem", root);
    ck_assert_int_eq(unlink(p), 0);
    snprintf(p, sizeof(p), "%s/..2026_a", root);
    ck_assert_int_eq(rmdir(p), 0);
    kubelet_swap("..2026_c", "two");
    put("..2026_c/crt.pem", "two");
    put("unrelated-but-visible", "x"); /* not in the watched file list */
    sleep_ms(400);
    ck_assert_int_eq(atomic_load(&pr.calls), 1);

    kubelet_swap("..2026_d", "three");
    ck_assert_int_eq(wait_calls(&pr, 2, 3000), 2);
    pthread_mutex_lock(&pr.lock);
    ck_assert_str_eq(pr.seen, "three");
    pthread_mutex_unlock(&pr.lock);
    mesh_fswatch_stop(w);
}
END_TEST

START_TEST(test_fswatch_burst_coalesced)
{
    probe_t pr;
    mesh_fswatch_t *w = start(&pr, crt, 300, 60000);
    kubelet_swap("..2026_b", "b");
    kubelet_swap("..2026_c", "c");
    kubelet_swap("..2026_d", "d");
    ck_assert_int_eq(wait_calls(&pr, 1, 3000), 1);
    sleep_ms(500);
    ck_assert_int_eq(atomic_load(&pr.calls), 1);
    pthread_mutex_lock(&pr.lock);
    ck_assert_str_eq(pr.seen, "d");
    pthread_mutex_unlock(&pr.lock);
    mesh_fswatch_stop(w);
}
END_TEST

START_TEST(test_fswatch_missed_event_periodic)
{
    probe_t fast, slow;
    mesh_fswatch_t *wf = start(&fast, crt, 50, 200);
    mesh_fswatch_t *ws = start(&slow, crt, 50, 60000);
    unsigned long long before = mesh_fswatch_fingerprint(wf);
    /* Editing the target inside the timestamped dir raises no event on the
     * watched directory: only the periodic check can notice. */
    put("..2026_a/crt.pem", "edited in place");
    ck_assert(mesh_fswatch_fingerprint(wf) != before);
    ck_assert_int_eq(wait_calls(&fast, 1, 3000), 1);
    pthread_mutex_lock(&fast.lock);
    ck_assert_str_eq(fast.seen, "edited in place");
    pthread_mutex_unlock(&fast.lock);
    sleep_ms(300);
    ck_assert_int_eq(atomic_load(&slow.calls), 0);
    ck_assert_int_eq(atomic_load(&fast.calls), 1); /* once per change, not per check */
    mesh_fswatch_stop(ws);
    mesh_fswatch_stop(wf);
}
END_TEST

START_TEST(test_fswatch_directory_mode)
{
    probe_t pr;
    mesh_fswatch_t *w = start(&pr, NULL, 50, 60000);
    put("key.pem", "k"); /* a new visible file counts in directory mode */
    ck_assert_int_eq(wait_calls(&pr, 1, 3000), 1);
    put("..hidden", "h"); /* hidden entries do not */
    sleep_ms(300);
    ck_assert_int_eq(atomic_load(&pr.calls), 1);
    kubelet_swap("..2026_b", "two");
    ck_assert_int_eq(wait_calls(&pr, 2, 3000), 2);
    mesh_fswatch_stop(w);
}
END_TEST

START_TEST(test_fswatch_dir_appears_later)
{
    probe_t pr;
    char sub[128];
    snprintf(sub, sizeof(sub), "%s/later", root);
    memset(&pr, 0, sizeof(pr));
    pthread_mutex_init(&pr.lock, NULL);
    mesh_fswatch_config_t cfg = {sub, crt, 50, 200, on_change, &pr};
    mesh_fswatch_t *w = mesh_fswatch_start(&cfg);
    ck_assert_ptr_nonnull(w);
    ck_assert_int_eq(mkdir(sub, 0755), 0);
    put("later/crt.pem", "new");
    ck_assert_int_eq(wait_calls(&pr, 1, 3000), 1);
    /* The watch is in place now: a swap-like rename is seen quickly. */
    put("later/crt.tmp", "newer");
    char a[256], b[256];
    snprintf(a, sizeof(a), "%s/crt.tmp", sub);
    snprintf(b, sizeof(b), "%s/crt.pem", sub);
    ck_assert_int_eq(rename(a, b), 0);
    ck_assert_int_eq(wait_calls(&pr, 2, 3000), 2);
    mesh_fswatch_stop(w);
    mesh_fswatch_stop(NULL);
}
END_TEST

Suite *fswatch_suite(void)
{
    Suite *s = suite_create("fswatch");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 20);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_fswatch_kubelet_swap);
    tcase_add_test(tc, test_fswatch_burst_coalesced);
    tcase_add_test(tc, test_fswatch_missed_event_periodic);
    tcase_add_test(tc, test_fswatch_directory_mode);
    tcase_add_test(tc, test_fswatch_dir_appears_later);
    suite_add_tcase(s, tc);
    return s;
}
