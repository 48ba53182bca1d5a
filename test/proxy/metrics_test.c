/* Metrics: label escaping, rendering, shard merge, series cap, eviction. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "mesh/buf.h"
#include "px/metrics.h"

START_TEST(test_metrics_escape)
{
    char out[64];
    const char in[] = "a\"b\\c\nd";
    px_metrics_escape(out, sizeof(out), in, strlen(in));
    ck_assert_str_eq(out, "a\\\"b\\\\c\\nd");
    px_labels_t l;
    px_labels_init(&l);
    px_labels_adds(&l, "authority", "evil\"} 1\nrequest_total{x=\"");
    px_labels_adds(&l, "tls", "disabled");
    ck_assert_str_eq(l.buf, "authority=\"evil\\\"} 1\\nrequest_total{x=\\\"\",tls=\"disabled\"");
    /* Long values are cut. */
    char big[1000];
    memset(big, 'x', sizeof(big));
    px_labels_init(&l);
    px_labels_add(&l, "authority", big, sizeof(big));
    ck_assert_uint_eq(l.len, strlen("authority=\"\"") + PX_METRICS_LABEL_VALUE_MAX);
}
END_TEST

START_TEST(test_metrics_render_merge)
{
    px_metrics_t *m = px_metrics_new(2, 100, 1000);
    px_labels_t l;
    px_labels_init(&l);
    px_labels_adds(&l, "direction", "inbound");
    px_metrics_inc(px_metrics_shard(m, 0), PX_M_REQUEST_TOTAL, &l, 2, 10);
    px_metrics_inc(px_metrics_shard(m, 1), PX_M_REQUEST_TOTAL, &l, 3, 10);
    px_metrics_observe_ms(px_metrics_shard(m, 0), PX_M_RESPONSE_LATENCY_MS, &l, 3.5, 10);
    px_metrics_observe_ms(px_metrics_shard(m, 1), PX_M_RESPONSE_LATENCY_MS, &l, 70000, 10);
    px_metrics_gauge_add(px_metrics_shard(m, 0), PX_M_TCP_OPEN_CONNECTIONS, &l, 1, 10);
    px_metrics_gauge_add(px_metrics_shard(m, 1), PX_M_TCP_OPEN_CONNECTIONS, &l, -1, 10);
    mesh_buf_t out = MESH_BUF_INIT;
    ck_assert_int_eq(px_metrics_render(m, &out), 0);
    ck_assert_ptr_nonnull(strstr(out.base, "\nrequest_total{direction=\"inbound\"} 5\n"));
    ck_assert_ptr_nonnull(strstr(out.base, "response_latency_ms_bucket{direction=\"inbound\",le=\"3\"} 0\n"));
    ck_assert_ptr_nonnull(strstr(out.base, "response_latency_ms_bucket{direction=\"inbound\",le=\"4\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(out.base, "response_latency_ms_bucket{direction=\"inbound\",le=\"50000\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(out.base, "response_latency_ms_bucket{direction=\"inbound\",le=\"+Inf\"} 2\n"));
    ck_assert_ptr_nonnull(strstr(out.base, "response_latency_ms_count{direction=\"inbound\"} 2\n"));
    ck_assert_ptr_nonnull(strstr(out.base, "tcp_open_connections{direction=\"inbound\"} 0\n"));
    ck_assert_ptr_nonnull(strstr(out.base, "# TYPE response_latency_ms histogram\n"));
    ck_assert_ptr_nonnull(strstr(out.base, "process_resident_memory_bytes "));
    ck_assert_ptr_nonnull(strstr(out.base, "process_open_fds "));
    /* Only one request_total line although two shards hold it. */
    char *first = strstr(out.base, "\nrequest_total{");
    ck_assert_ptr_null(strstr(first + 1, "\nrequest_total{"));
    mesh_buf_free(&out);
    px_metrics_free(m);
}
END_TEST

START_TEST(test_metrics_series_cap)
{
    px_metrics_t *m = px_metrics_new(1, 10, 1000);
    px_metrics_shard_t *sh = px_metrics_shard(m, 0);
    for (int i = 0; i < 25; i++) {
        char v[16];
        snprintf(v, sizeof(v), "host%d", i);
        px_labels_t l;
        px_labels_init(&l);
        px_labels_adds(&l, "authority", v);
        px_metrics_inc(sh, PX_M_REQUEST_TOTAL, &l, 1, 5);
    }
    ck_assert_uint_eq(px_metrics_series_count(m), 10);
    ck_assert_uint_eq(px_metrics_overflow(m), 15);
    mesh_buf_t out = MESH_BUF_INIT;
    ck_assert_int_eq(px_metrics_render(m, &out), 0);
    ck_assert_ptr_nonnull(strstr(out.base, "cmesh_metrics_series_overflow_total 15\n"));
    ck_assert_ptr_null(strstr(out.base, "host10\""));
    mesh_buf_free(&out);
    px_metrics_free(m);
}
END_TEST

START_TEST(test_metrics_evict_idle)
{
    px_metrics_t *m = px_metrics_new(1, 100, 1000);
    px_metrics_shard_t *sh = px_metrics_shard(m, 0);
    px_labels_t a, b;
    px_labels_init(&a);
    px_labels_adds(&a, "authority", "old");
    px_labels_init(&b);
    px_labels_adds(&b, "authority", "live");
    px_metrics_inc(sh, PX_M_REQUEST_TOTAL, &a, 1, 100);
    px_metrics_gauge_add(sh, PX_M_TCP_OPEN_CONNECTIONS, &b, 1, 100);
    px_metrics_evict(sh, 1000); /* not idle long enough */
    ck_assert_uint_eq(px_metrics_series_count(m), 2);
    px_metrics_evict(sh, 5000);
    /* The open-connections gauge is not zero, so it stays. */
    ck_assert_uint_eq(px_metrics_series_count(m), 1);
    px_metrics_gauge_add(sh, PX_M_TCP_OPEN_CONNECTIONS, &b, -1, 5000);
    px_metrics_evict(sh, 7000);
    ck_assert_uint_eq(px_metrics_series_count(m), 0);
    /* Freed room is usable again. */
    px_metrics_inc(sh, PX_M_REQUEST_TOTAL, &a, 1, 7000);
    ck_assert_uint_eq(px_metrics_series_count(m), 1);
    px_metrics_free(m);
}
END_TEST

START_TEST(test_metrics_ref_survives_until_eviction)
{
    px_metrics_t *m = px_metrics_new(1, 100, 1000);
    px_metrics_shard_t *sh = px_metrics_shard(m, 0);
    px_labels_t a, b;
    px_labels_init(&a);
    px_labels_adds(&a, "authority", "cached");
    px_labels_init(&b);
    px_labels_adds(&b, "authority", "other");
    px_metrics_ref_t ref = PX_METRICS_REF_INIT, lat = PX_METRICS_REF_INIT;
    ck_assert(!px_metrics_ref_valid(sh, &ref));
    ck_assert(px_metrics_ref_get(sh, PX_M_REQUEST_TOTAL, &a, 100, &ref));
    ck_assert(px_metrics_ref_get(sh, PX_M_RESPONSE_LATENCY_MS, &a, 100, &lat));
    px_metrics_inc(sh, PX_M_REQUEST_TOTAL, &b, 1, 100);
    ck_assert(px_metrics_ref_valid(sh, &ref));
    px_metrics_ref_inc(&ref, 2, 100);
    px_metrics_ref_observe_ms(&lat, 7.0, 100);
    /* Updates through the ref keep the series alive: only "other" goes,
     * which still invalidates every ref (they cannot tell which went). */
    px_metrics_ref_inc(&ref, 1, 4000);
    px_metrics_ref_observe_ms(&lat, 7.0, 4000);
    px_metrics_evict(sh, 4500);
    ck_assert_uint_eq(px_metrics_series_count(m), 2);
    ck_assert(!px_metrics_ref_valid(sh, &ref));
    /* The same labels find the same series again, with the counts so far. */
    px_metrics_inc(sh, PX_M_REQUEST_TOTAL, &a, 1, 4500);
    mesh_buf_t out = MESH_BUF_INIT;
    ck_assert_int_eq(px_metrics_render(m, &out), 0);
    ck_assert_ptr_nonnull(strstr(out.base, "request_total{authority=\"cached\"} 4\n"));
    ck_assert_ptr_nonnull(strstr(out.base, "response_latency_ms_count{authority=\"cached\"} 2\n"));
    ck_assert_ptr_null(strstr(out.base, "other"));
    mesh_buf_free(&out);
    /* A ref taken after the eviction is valid; nothing freed, no bump. */
    ck_assert(px_metrics_ref_get(sh, PX_M_REQUEST_TOTAL, &a, 4500, &ref));
    px_metrics_evict(sh, 4600);
    ck_assert(px_metrics_ref_valid(sh, &ref));
    px_metrics_free(m);
}
END_TEST

Suite *px_metrics_suite(void)
{
    Suite *s = suite_create("px_metrics");
    TCase *tc = tcase_create("metrics");
    tcase_add_test(tc, test_metrics_escape);
    tcase_add_test(tc, test_metrics_render_merge);
    tcase_add_test(tc, test_metrics_series_cap);
    tcase_add_test(tc, test_metrics_evict_idle);
    tcase_add_test(tc, test_metrics_ref_survives_until_eviction);
    suite_add_tcase(s, tc);
    return s;
}
