/* GetProfile translation: defaults, ServiceProfile routes, TrafficSplit weights. */
#include <arpa/inet.h>
#include <check.h>
#include <string.h>

#include "destination.pb-c.h"
#include "dst/profile.h"
#include "mesh/mem.h"

typedef Io__Linkerd__Proxy__Destination__DestinationProfile prof_t;

static const dst_config_t CFG = {"cmesh", "cluster.local", "cluster.local", "25,3306,5432", true};

static json_t *J(const char *s)
{
    json_error_t e;
    json_t *j = json_loads(s, 0, &e);
    ck_assert_msg(j != NULL, "bad json: %s", e.text);
    return j;
}

static const char *SVC = "{\"metadata\":{\"name\":\"web\",\"namespace\":\"demo\"},"
                         "\"spec\":{\"ports\":[{\"port\":80},{\"port\":5432}]}}";

static prof_t *build(const json_t *svc, uint16_t port, const json_t *sp, const json_t *split)
{
    dst_profile_input_t in = {"web.demo.svc.cluster.local", svc, port, sp, split, NULL};
    dst_blob_t *b = NULL;
    ck_assert_int_eq(dst_profile_build(&CFG, &in, &b), DST_OK);
    prof_t *p = io__linkerd__proxy__destination__destination_profile__unpack(NULL, b->len, b->data);
    ck_assert_ptr_nonnull(p);
    dst_blob_unref(b);
    return p;
}

static void pfree(prof_t *p) { io__linkerd__proxy__destination__destination_profile__free_unpacked(p, NULL); }

START_TEST(test_profile_default)
{
    json_t *svc = J(SVC);
    prof_t *p = build(svc, 80, NULL, NULL);
    ck_assert_str_eq(p->fully_qualified_name, "web.demo.svc.cluster.local");
    ck_assert_uint_eq(p->n_routes, 0);
    ck_assert_uint_eq(p->n_dst_overrides, 0);
    ck_assert_float_eq_tol(p->retry_budget->retry_ratio, 0.2, 1e-6);
    ck_assert_uint_eq(p->retry_budget->min_retries_per_second, 10);
    ck_assert_int_eq(p->retry_budget->ttl->seconds, 10);
    ck_assert(!p->opaque_protocol);
    ck_assert_str_eq(p->parent_ref->resource->kind, "Service");
    ck_assert_str_eq(p->parent_ref->resource->name, "web");
    ck_assert_str_eq(p->parent_ref->resource->namespace_, "demo");
    ck_assert_uint_eq(p->parent_ref->resource->port, 80);
    ck_assert_ptr_null(p->profile_ref);
    pfree(p);
    p = build(svc, 5432, NULL, NULL);
    ck_assert(p->opaque_protocol);
    pfree(p);
    /* port not on the service: empty profile */
    p = build(svc, 81, NULL, NULL);
    ck_assert_str_eq(p->fully_qualified_name, "");
    ck_assert_ptr_null(p->retry_budget);
    pfree(p);
    /* unknown service: just a retry budget */
    p = build(NULL, 80, NULL, NULL);
    ck_assert_str_eq(p->fully_qualified_name, "");
    ck_assert_ptr_nonnull(p->retry_budget);
    pfree(p);
    json_decref(svc);
}
END_TEST

START_TEST(test_profile_quantity)
{
    static const struct { const char *js; long long milli; } ok[] = {
        {"1", 1000}, {"\"1\"", 1000}, {"\"900m\"", 900}, {"\"100m\"", 100}, {"\"0.5\"", 500},
        {"\"2k\"", 2000000}, {"\"1Ki\"", 1024000}, {"\"1e3\"", 1000000}, {"\"1.5e-3\"", 2},
        {"\"1u\"", 1}, {"0", 0}, {"0.25", 250}, {"\"+3\"", 3000}, {"\"007\"", 7000},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        json_t *q = json_loads(ok[i].js, JSON_DECODE_ANY, NULL);
        uint64_t m = 0;
        ck_assert_msg(dst_quantity_milli(q, &m) == DST_OK, "%s", ok[i].js);
        ck_assert_msg(m == (uint64_t)ok[i].milli, "%s: %llu", ok[i].js, (unsigned long long)m);
        json_decref(q);
    }
    static const char *bad[] = {"-1", "\"-1\"", "\"\"", "\"m\"", "\"1x\"", "\"1.2.3\"", "\"1e\"",
                                "\"99999999999999999999\"", "\"1Ei\"", "true", "null", "\"1e99\""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *q = json_loads(bad[i], JSON_DECODE_ANY, NULL);
        uint64_t m;
        ck_assert_msg(dst_quantity_milli(q, &m) == DST_ERR_INVALID || dst_weight_from_quantity(q, (uint32_t *)&m) == DST_ERR_INVALID, "%s", bad[i]);
        json_decref(q);
    }
    uint32_t w;
    json_t *q = json_string("900m");
    ck_assert_int_eq(dst_weight_from_quantity(q, &w), DST_OK);
    ck_assert_uint_eq(w, 9000);
    json_decref(q);
    q = json_integer(429496); /* 429496 * 10000 fits */
    ck_assert_int_eq(dst_weight_from_quantity(q, &w), DST_OK);
    ck_assert_uint_eq(w, 4294960000u);
    json_decref(q);
    q = json_integer(429497); /* would overflow uint32 */
    ck_assert_int_eq(dst_weight_from_quantity(q, &w), DST_ERR_INVALID);
    json_decref(q);
}
END_TEST

static const char *SPLIT_A1 =
    "{\"apiVersion\":\"split.smi-spec.io/v1alpha1\",\"kind\":\"TrafficSplit\",\"metadata\":{\"name\":\"s\",\"namespace\":\"demo\"},"
    "\"spec\":{\"service\":\"web\",\"backends\":[{\"service\":\"web-v1\",\"weight\":\"900m\"},{\"service\":\"web-v2\",\"weight\":\"100m\"}]}}";
static const char *SPLIT_A2 =
    "{\"apiVersion\":\"split.smi-spec.io/v1alpha2\",\"kind\":\"TrafficSplit\",\"metadata\":{\"name\":\"s\",\"namespace\":\"demo\"},"
    "\"spec\":{\"service\":\"web\",\"backends\":[{\"service\":\"web-v1\",\"weight\":90},{\"service\":\"web-v2\",\"weight\":10}]}}";

START_TEST(test_profile_split)
{
    json_t *svc = J(SVC), *s1 = J(SPLIT_A1), *s2 = J(SPLIT_A2);
    prof_t *p = build(svc, 80, NULL, s1);
    ck_assert_uint_eq(p->n_dst_overrides, 2);
    ck_assert_str_eq(p->dst_overrides[0]->authority, "web-v1.demo.svc.cluster.local:80");
    ck_assert_uint_eq(p->dst_overrides[0]->weight, 9000);
    ck_assert_str_eq(p->dst_overrides[1]->authority, "web-v2.demo.svc.cluster.local:80");
    ck_assert_uint_eq(p->dst_overrides[1]->weight, 1000);
    ck_assert_str_eq(p->dst_overrides[1]->backend_ref->resource->name, "web-v2");
    pfree(p);
    p = build(svc, 80, NULL, s2);
    ck_assert_uint_eq(p->n_dst_overrides, 2);
    ck_assert_uint_eq(p->dst_overrides[0]->weight, 900000);
    ck_assert_uint_eq(p->dst_overrides[1]->weight, 100000);
    pfree(p);
    /* one overflowing weight refuses the split as a whole */
    json_object_set_new(json_array_get(json_object_get(json_object_get(s2, "spec"), "backends"), 1), "weight",
                        json_integer(5000000));
    p = build(svc, 80, NULL, s2);
    ck_assert_uint_eq(p->n_dst_overrides, 0);
    pfree(p);
    json_decref(s1);
    json_decref(s2);
    json_decref(svc);
}
END_TEST

static const char *SP =
    "{\"metadata\":{\"name\":\"web.demo.svc.cluster.local\",\"namespace\":\"demo\"},\"spec\":{"
    "\"routes\":["
    " {\"name\":\"GET /books\",\"condition\":{\"method\":\"GET\",\"pathRegex\":\"/books/\\\\d+\"},"
    "  \"isRetryable\":true,\"timeout\":\"300ms\","
    "  \"responseClasses\":[{\"condition\":{\"status\":{\"min\":500,\"max\":599}},\"isFailure\":true},"
    "                      {\"condition\":{\"not\":{\"status\":{\"min\":200}}}}]},"
    " {\"name\":\"bad\",\"condition\":{}},"
    " {\"name\":\"any\",\"condition\":{\"any\":[{\"method\":\"PURGE\"},{\"not\":{\"pathRegex\":\"/x\"}}]}}],"
    "\"retryBudget\":{\"retryRatio\":0.5,\"minRetriesPerSecond\":3,\"ttl\":\"1m\"},"
    "\"dstOverrides\":[{\"authority\":\"web-v3.demo.svc.cluster.local.:80\",\"weight\":\"1\"},"
    "                  {\"authority\":\"web-v4\",\"weight\":\"500m\"},{\"authority\":\"10.0.0.1:80\",\"weight\":1}]}}";

START_TEST(test_profile_service_profile)
{
    json_t *svc = J(SVC), *sp = J(SP), *s1 = J(SPLIT_A1);
    prof_t *p = build(svc, 80, sp, s1);
    ck_assert_uint_eq(p->n_routes, 2);
    Io__Linkerd__Proxy__Destination__Route *r = p->routes[0];
    ck_assert_str_eq(r->metrics_labels[0]->key, "route");
    ck_assert_str_eq(r->metrics_labels[0]->value, "GET /books");
    ck_assert(r->is_retryable);
    ck_assert_int_eq(r->timeout->seconds, 0);
    ck_assert_int_eq(r->timeout->nanos, 300000000);
    ck_assert_int_eq(r->condition->match_case, IO__LINKERD__PROXY__DESTINATION__REQUEST_MATCH__MATCH_ALL);
    ck_assert_uint_eq(r->condition->all->n_matches, 2);
    ck_assert_str_eq(r->condition->all->matches[0]->path->regex, "/books/\\d+");
    ck_assert_int_eq(r->condition->all->matches[1]->method->registered,
                     IO__LINKERD__PROXY__HTTP_TYPES__HTTP_METHOD__REGISTERED__GET);
    ck_assert_uint_eq(r->n_response_classes, 2);
    ck_assert(r->response_classes[0]->is_failure);
    ck_assert_uint_eq(r->response_classes[0]->condition->status->min, 500);
    ck_assert_uint_eq(r->response_classes[0]->condition->status->max, 599);
    ck_assert_int_eq(r->response_classes[1]->condition->match_case, IO__LINKERD__PROXY__DESTINATION__RESPONSE_MATCH__MATCH_NOT);
    ck_assert_uint_eq(r->response_classes[1]->condition->not_->status->max, 200);
    Io__Linkerd__Proxy__Destination__RequestMatch *any = p->routes[1]->condition;
    ck_assert_int_eq(any->match_case, IO__LINKERD__PROXY__DESTINATION__REQUEST_MATCH__MATCH_ANY);
    ck_assert_str_eq(any->any->matches[0]->method->unregistered, "PURGE");
    ck_assert_str_eq(any->any->matches[1]->not_->path->regex, "/x");
    ck_assert_float_eq_tol(p->retry_budget->retry_ratio, 0.5, 1e-6);
    ck_assert_uint_eq(p->retry_budget->min_retries_per_second, 3);
    ck_assert_int_eq(p->retry_budget->ttl->seconds, 60);
    ck_assert_str_eq(p->profile_ref->resource->kind, "ServiceProfile");
    /* ServiceProfile overrides win over the split; the IP one is dropped. */
    ck_assert_uint_eq(p->n_dst_overrides, 2);
    ck_assert_str_eq(p->dst_overrides[0]->authority, "web-v3.demo.svc.cluster.local:80");
    ck_assert_uint_eq(p->dst_overrides[0]->weight, 10000);
    ck_assert_str_eq(p->dst_overrides[1]->authority, "web-v4.demo.svc.cluster.local:80");
    ck_assert_uint_eq(p->dst_overrides[1]->weight, 5000);
    pfree(p);
    /* A ServiceProfile without overrides leaves the split in charge. */
    json_object_del(json_object_get(sp, "spec"), "dstOverrides");
    p = build(svc, 80, sp, s1);
    ck_assert_uint_eq(p->n_dst_overrides, 2);
    ck_assert_uint_eq(p->dst_overrides[0]->weight, 9000);
    pfree(p);
    json_decref(sp);
    json_decref(s1);
    json_decref(svc);
}
END_TEST

START_TEST(test_profile_endpoint_and_dedupe)
{
    dst_endpoint_t ep;
    memset(&ep, 0, sizeof ep);
    ep.family = AF_INET;
    inet_pton(AF_INET, "10.9.8.7", ep.ip);
    ep.port = 3306;
    ep.weight = DST_ENDPOINT_WEIGHT;
    ep.hint = DST_HINT_OPAQUE;
    ck_assert_int_eq(dst_endpoint_set_label(&ep, "namespace", "demo"), DST_OK);
    dst_profile_input_t in = {NULL, NULL, 3306, NULL, NULL, &ep};
    dst_blob_t *b = NULL, *b2 = NULL;
    ck_assert_int_eq(dst_profile_build(&CFG, &in, &b), DST_OK);
    ck_assert_int_eq(dst_profile_build(&CFG, &in, &b2), DST_OK);
    ck_assert(dst_blob_eq(b, b2));
    prof_t *p = io__linkerd__proxy__destination__destination_profile__unpack(NULL, b->len, b->data);
    ck_assert(p->opaque_protocol);
    ck_assert_uint_eq(p->endpoint->addr->ip->ipv4, 0x0A090807);
    ck_assert_str_eq(p->endpoint->metric_labels[0]->value, "demo");
    pfree(p);
    dst_blob_unref(b);
    dst_blob_unref(b2);
    dst_endpoint_clear(&ep);
}
END_TEST

START_TEST(test_profile_nomem)
{
    json_t *svc = J(SVC), *sp = J(SP);
    int failures = 0;
    for (long n = 0; n < 200; n++) {
        dst_profile_input_t in = {"web.demo.svc.cluster.local", svc, 80, sp, NULL, NULL};
        dst_blob_t *b = NULL;
        mesh_mem_fail_after(n);
        int rc = dst_profile_build(&CFG, &in, &b);
        mesh_mem_fail_after(-1);
        if (rc == DST_OK) {
            ck_assert_ptr_nonnull(b);
            dst_blob_unref(b);
            break;
        }
        ck_assert_int_eq(rc, DST_ERR_NOMEM);
        ck_assert_ptr_null(b);
        failures++;
    }
    ck_assert_int_gt(failures, 0);
    json_decref(sp);
    json_decref(svc);
}
END_TEST

Suite *dst_profile_suite(void)
{
    Suite *s = suite_create("dst_profile");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_profile_default);
    tcase_add_test(tc, test_profile_quantity);
    tcase_add_test(tc, test_profile_split);
    tcase_add_test(tc, test_profile_service_profile);
    tcase_add_test(tc, test_profile_endpoint_and_dedupe);
    tcase_add_test(tc, test_profile_nomem);
    suite_add_tcase(s, tc);
    return s;
}
