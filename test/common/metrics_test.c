/* Metrics registry: exact text, escaping, histograms, concurrency, caps. */
#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mesh/metrics.h"

static char *render(mesh_metrics_t *r)
{
    static mesh_buf_t b;
    mesh_buf_reset(&b);
    ck_assert_int_eq(mesh_metrics_render(r, &b), 0);
    return b.base ? b.base : "";
}

START_TEST(test_metrics_render_exact)
{
    mesh_metrics_t *r = mesh_metrics_new();
    mesh_metric_family_t *c =
        mesh_metrics_counter(r, "request_total", "Total requests.", (const char *[]){"direction", "authority", NULL});
    mesh_metric_family_t *g = mesh_metrics_gauge(r, "tcp_open_connections", "Open connections.", NULL);
    const double bounds[] = {1, 2.5, 10};
    mesh_metric_family_t *h =
        mesh_metrics_histogram(r, "response_latency_ms", "Latency.", (const char *[]){"direction", NULL}, bounds, 3);
    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_nonnull(g);
    ck_assert_ptr_nonnull(h);

    mesh_metric_t *in = mesh_metrics_series(c, (const char *[]){"inbound", "web.svc"});
    for (int i = 0; i < 3; i++)
        mesh_metrics_inc(in);
    mesh_metrics_add(mesh_metrics_series(c, (const char *[]){"outbound", "x"}), 5);
    ck_assert_ptr_eq(mesh_metrics_series(c, (const char *[]){"inbound", "web.svc"}), in);
    mesh_metric_t *gm = mesh_metrics_series(g, NULL);
    mesh_metrics_set(gm, 2);
    mesh_metrics_gauge_add(gm, -0.5);
    mesh_metric_t *hm = mesh_metrics_series(h, (const char *[]){"inbound"});
    mesh_metrics_observe(hm, 0.5);
    mesh_metrics_observe(hm, 1); /* le is inclusive */
    mesh_metrics_observe(hm, 2);
    mesh_metrics_observe(hm, 100);
    /* Wrong-kind updates are ignored. */
    mesh_metrics_inc(gm);
    mesh_metrics_set(in, 99);
    mesh_metrics_observe(in, 1);

    ck_assert_str_eq(render(r),
                     "# HELP request_total Total requests.\n"
                     "# TYPE request_total counter\n"
                     "request_total{direction=\"inbound\",authority=\"web.svc\"} 3\n"
                     "request_total{direction=\"outbound\",authority=\"x\"} 5\n"
                     "# HELP tcp_open_connections Open connections.\n"
                     "# TYPE tcp_open_connections gauge\n"
                     "tcp_open_connections 1.5\n"
                     "# HELP response_latency_ms Latency.\n"
                     "# TYPE response_latency_ms histogram\n"
                     "response_latency_ms_bucket{direction=\"inbound\",le=\"1\"} 2\n"
                     "response_latency_ms_bucket{direction=\"inbound\",le=\"2.5\"} 3\n"
                     "response_latency_ms_bucket{direction=\"inbound\",le=\"10\"} 3\n"
                     "response_latency_ms_bucket{direction=\"inbound\",le=\"+Inf\"} 4\n"
                     "response_latency_ms_sum{direction=\"inbound\"} 103.5\n"
                     "response_latency_ms_count{direction=\"inbound\"} 4\n");
    ck_assert_uint_eq(mesh_metrics_counter_value(in), 3);
    ck_assert_uint_eq(mesh_metrics_histogram_count(hm), 4);
    mesh_metrics_free(r);
}
END_TEST

START_TEST(test_metrics_escaping_and_values)
{
    mesh_metrics_t *r = mesh_metrics_new();
    mesh_metric_family_t *c = mesh_metrics_counter(r, "x_total", "Back\\slash\nnewline \"quotes\" kept.",
                                                   (const char *[]){"v", NULL});
    mesh_metrics_inc(mesh_metrics_series(c, (const char *[]){"a\\b\"c\nd"}));
    mesh_metric_family_t *g = mesh_metrics_gauge(r, "g", "", (const char *[]){"k", NULL});
    mesh_metrics_set(mesh_metrics_series(g, (const char *[]){"tenth"}), 0.1);
    mesh_metrics_set(mesh_metrics_series(g, (const char *[]){"big"}), 1e300);
    mesh_metrics_set(mesh_metrics_series(g, (const char *[]){"inf"}), -INFINITY);
    mesh_metrics_set(mesh_metrics_series(g, (const char *[]){"third"}), 1.0 / 3.0);
    ck_assert_str_eq(render(r),
                     "# HELP x_total Back\\\\slash\\nnewline \"quotes\" kept.\n"
                     "# TYPE x_total counter\n"
                     "x_total{v=\"a\\\\b\\\"c\\nd\"} 1\n"
                     "# HELP g \n"
                     "# TYPE g gauge\n"
                     "g{k=\"tenth\"} 0.1\n"
                     "g{k=\"big\"} 1e+300\n"
                     "g{k=\"inf\"} -Inf\n"
                     "g{k=\"third\"} 0.33333333333333331\n");
    mesh_metrics_free(r);
}
END_TEST

START_TEST(test_metrics_invalid_registrations)
{
    mesh_metrics_t *r = mesh_metrics_new();
    const double up[] = {1, 2}, flat[] = {1, 1};
    ck_assert_ptr_nonnull(mesh_metrics_counter(r, "ok_total", "", NULL));
    ck_assert_ptr_null(mesh_metrics_counter(r, "ok_total", "", NULL));
    ck_assert_ptr_null(mesh_metrics_gauge(r, "ok_total", "", NULL));
    ck_assert_ptr_null(mesh_metrics_counter(r, "1abc", "", NULL));
    ck_assert_ptr_null(mesh_metrics_counter(r, "a-b", "", NULL));
    ck_assert_ptr_null(mesh_metrics_counter(r, "", "", NULL));
    ck_assert_ptr_null(mesh_metrics_counter(r, "a", "", (const char *[]){"__x", NULL}));
    ck_assert_ptr_null(mesh_metrics_counter(r, "b", "", (const char *[]){"a:b", NULL}));
    ck_assert_ptr_null(mesh_metrics_histogram(r, "h1", "", (const char *[]){"le", NULL}, up, 2));
    ck_assert_ptr_null(mesh_metrics_histogram(r, "h2", "", NULL, flat, 2));
    ck_assert_ptr_nonnull(mesh_metrics_histogram(r, "h3", "", NULL, up, 2));
    ck_assert_ptr_nonnull(mesh_metrics_counter(r, "ns:sub_total", "", (const char *[]){"le", NULL}));
    mesh_metrics_free(r);
}
END_TEST

#define THREADS 4
#define INCS 100000

static mesh_metric_family_t *conc_c, *conc_h;

static void *hammer(void *arg)
{
    (void)arg;
    mesh_metric_t *hm = mesh_metrics_series(conc_h, NULL);
    for (int i = 0; i < INCS; i++) {
        char v[16];
        snprintf(v, sizeof(v), "v%d", i % 8);
        mesh_metrics_inc(mesh_metrics_series(conc_c, (const char *[]){v}));
        mesh_metrics_observe(hm, (double)(i % 3));
    }
    return NULL;
}

START_TEST(test_metrics_concurrent_increments)
{
    mesh_metrics_t *r = mesh_metrics_new();
    const double b[] = {0, 1};
    conc_c = mesh_metrics_counter(r, "hits_total", "", (const char *[]){"k", NULL});
    conc_h = mesh_metrics_histogram(r, "obs", "", NULL, b, 2);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, hammer, NULL), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    uint64_t total = 0;
    for (int i = 0; i < 8; i++) {
        char v[16];
        snprintf(v, sizeof(v), "v%d", i);
        uint64_t n = mesh_metrics_counter_value(mesh_metrics_series(conc_c, (const char *[]){v}));
        ck_assert_uint_eq(n, THREADS * INCS / 8);
        total += n;
    }
    ck_assert_uint_eq(total, THREADS * INCS);
    ck_assert_uint_eq(mesh_metrics_overflow(conc_c), 0);
    const char *text = render(r);
    ck_assert_ptr_nonnull(strstr(text, "obs_count 400000\n"));
    ck_assert_ptr_nonnull(strstr(text, "obs_bucket{le=\"+Inf\"} 400000\n"));
    /* i % 3 over 100000: 33334 zeros, 33333 ones, 33333 twos per thread. */
    ck_assert_ptr_nonnull(strstr(text, "obs_bucket{le=\"0\"} 133336\n"));
    ck_assert_ptr_nonnull(strstr(text, "obs_bucket{le=\"1\"} 266668\n"));
    ck_assert_ptr_nonnull(strstr(text, "obs_sum 399996\n"));
    mesh_metrics_free(r);
}
END_TEST

START_TEST(test_metrics_series_cap)
{
    mesh_metrics_t *r = mesh_metrics_new();
    mesh_metric_family_t *c = mesh_metrics_counter(r, "by_client_total", "", (const char *[]){"client", NULL});
    mesh_metrics_set_series_max(c, 3);
    mesh_metric_t *first = NULL;
    for (int i = 0; i < 5; i++) {
        char v[16];
        snprintf(v, sizeof(v), "c%d", i);
        mesh_metric_t *m = mesh_metrics_series(c, (const char *[]){v});
        ck_assert_ptr_nonnull(m);
        mesh_metrics_inc(m);
        if (i == 0)
            first = m;
    }
    /* Existing series stay reachable and do not count as overflow. */
    ck_assert_ptr_eq(mesh_metrics_series(c, (const char *[]){"c0"}), first);
    ck_assert_uint_eq(mesh_metrics_overflow(c), 2);
    const char *text = render(r);
    ck_assert_ptr_nonnull(strstr(text, "by_client_total{client=\"c2\"} 1\n"));
    ck_assert_ptr_null(strstr(text, "c3"));
    ck_assert_ptr_null(strstr(text, "c4"));
    ck_assert_ptr_nonnull(strstr(text, "# TYPE cmesh_metrics_series_overflow_total counter\n"
                                       "cmesh_metrics_series_overflow_total{family=\"by_client_total\"} 2\n"));
    mesh_metrics_free(r);
}
END_TEST

static double value_of(const char *text, const char *name)
{
    char key[128];
    snprintf(key, sizeof(key), "\n%s ", name);
    const char *p = strstr(text, key);
    ck_assert_msg(p != NULL, "%s missing", name);
    return strtod(p + strlen(key), NULL);
}

START_TEST(test_metrics_process)
{
    mesh_metrics_t *r = mesh_metrics_new();
    mesh_metrics_enable_process(r, true);
    const char *text = render(r);
    ck_assert_ptr_nonnull(strstr(text, "# TYPE process_cpu_seconds_total counter\n"));
    ck_assert(value_of(text, "process_cpu_seconds_total") >= 0);
    ck_assert(value_of(text, "process_resident_memory_bytes") > 1e6);
    ck_assert(value_of(text, "process_open_fds") >= 3);
    ck_assert(value_of(text, "process_max_fds") >= value_of(text, "process_open_fds"));
    double start = value_of(text, "process_start_time_seconds");
    double now = (double)time(NULL);
    ck_assert_msg(start <= now + 1 && start > now - 3600, "start %f now %f", start, now);
    mesh_metrics_enable_process(r, false);
    ck_assert_ptr_null(strstr(render(r), "process_"));
    mesh_metrics_free(r);
}
END_TEST

Suite *metrics_suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_metrics_render_exact);
    tcase_add_test(tc, test_metrics_escaping_and_values);
    tcase_add_test(tc, test_metrics_invalid_registrations);
    tcase_add_test(tc, test_metrics_concurrent_increments);
    tcase_add_test(tc, test_metrics_series_cap);
    tcase_add_test(tc, test_metrics_process);
    suite_add_tcase(s, tc);
    return s;
}
