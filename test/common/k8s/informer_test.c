/* Informer against a scripted server: list, watch, bookmarks, every 410 form,
 * relist diffs, re-watch on errors, prompt stop, handlers, factory. */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "fakeapi.h"
#include "mesh/k8s_informer.h"
#include "mesh/mem.h"

typedef struct {
    pthread_mutex_t mu;
    char log[8192];
    int synced;
} rec_t;

static void rec(rec_t *r, const char *op, const json_t *o)
{
    json_t *md = json_object_get(o, "metadata");
    pthread_mutex_lock(&r->mu);
    size_t n = strlen(r->log);
    snprintf(r->log + n, sizeof(r->log) - n, "%s:%s@%s;", op,
             json_string_value(json_object_get(md, "name")),
             json_string_value(json_object_get(md, "resourceVersion")) ?: "-");
    pthread_mutex_unlock(&r->mu);
}
static void on_add(const json_t *o, void *ud) { rec(ud, "add", o); }
static void on_update(const json_t *old, const json_t *o, void *ud) { (void)old; rec(ud, "upd", o); }
static void on_delete(const json_t *o, void *ud) { rec(ud, "del", o); }
static void on_synced(void *ud)
{
    rec_t *r = ud;
    pthread_mutex_lock(&r->mu);
    r->synced++;
    size_t n = strlen(r->log);
    snprintf(r->log + n, sizeof(r->log) - n, "synced;");
    pthread_mutex_unlock(&r->mu);
}

static void take_log(rec_t *r, char *out, size_t n)
{
    pthread_mutex_lock(&r->mu);
    snprintf(out, n, "%s", r->log);
    r->log[0] = 0;
    pthread_mutex_unlock(&r->mu);
}

typedef struct {
    pthread_mutex_t mu;
    uint64_t delays[64];
    int n;
} sleeps_t;

static int fake_sleep(void *ud, uint64_t ms)
{
    sleeps_t *s = ud;
    pthread_mutex_lock(&s->mu);
    if (s->n < 64)
        s->delays[s->n++] = ms;
    pthread_mutex_unlock(&s->mu);
    return 0;
}

#define POD(name, rv) "{\"metadata\":{\"name\":\"" name "\",\"namespace\":\"ns\",\"resourceVersion\":\"" rv "\"}}"
#define EV(t, name, rv) "{\"type\":\"" t "\",\"object\":" POD(name, rv) "}\n"
#define LIST(rv, items) "{\"kind\":\"PodList\",\"metadata\":{\"resourceVersion\":\"" rv "\"},\"items\":[" items "]}"
#define STATUS410(reason) \
    "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\"," \
    "\"message\":\"too old resource version: 1 (5)\",\"reason\":\"" reason "\",\"code\":410}"

static mesh_k8s_informer_opts_t pod_opts(sleeps_t *s)
{
    mesh_k8s_informer_opts_t o = {0};
    o.res.version = "v1";
    o.res.resource = "pods";
    o.sleep_fn = fake_sleep;
    o.sleep_ud = s;
    o.backoff.base_ms = 10;
    o.backoff.max_ms = 40;
    return o;
}

START_TEST(test_informer_list_watch_410_forms)
{
    fakeapi_t *f = fakeapi_start();
    ck_assert_ptr_nonnull(f);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", fakeapi_port(f));
    mesh_k8s_config_t *cfg = mesh_k8s_config_new_plain(url);
    mesh_k8s_client_opts_t co = {.qps = -1};
    mesh_k8s_client_t *c = mesh_k8s_client_new(cfg, &co);
    mesh_k8s_source_t *src = mesh_k8s_source_api(c);

    /* 0 */ fakeapi_push(f, 200, NULL, LIST("10", POD("a", "5") "," POD("b", "6") "," POD("c", "7")));
    /* 1 */ fakeapi_push(f, 200, NULL, EV("MODIFIED", "a", "11") "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"15\"}}}\n");
    /* 2 */ fakeapi_push(f, 200, NULL, "{\"type\":\"ERROR\",\"object\":" STATUS410("Expired") "}\n");
    /* 3 */ fakeapi_push(f, 200, NULL, LIST("20", POD("a", "11") "," POD("b", "16") "," POD("d", "17")));
    /* 4 */ fakeapi_push(f, 200, NULL, "{\"type\":\"ERROR\",\"object\":" STATUS410("Gone") "}\n");
    /* 5 */ fakeapi_push(f, 200, NULL, LIST("21", POD("a", "11") "," POD("b", "16") "," POD("d", "17")));
    /* 6 */ fakeapi_push(f, 410, NULL, STATUS410("Expired"));
    /* 7 */ fakeapi_push(f, 200, NULL, LIST("22", POD("a", "11") "," POD("d", "17")));
    /* 8 */ fakeapi_push(f, 500, NULL, "{\"kind\":\"Status\",\"code\":500,\"reason\":\"InternalError\"}");
    /* 9 */ fakeapi_push(f, 429, "text/plain", "Too many requests, please try again later.\n");
    /* 10 */ fakeapi_push(f, FAKE_CUT, NULL, EV("ADDED", "e", "23"));
    /* 11: held open (idle watch) */

    sleeps_t sl = {.mu = PTHREAD_MUTEX_INITIALIZER};
    mesh_k8s_informer_opts_t o = pod_opts(&sl);
    mesh_k8s_informer_t *inf = mesh_k8s_informer_new(src, &o);
    ck_assert_ptr_nonnull(inf);
    rec_t r = {.mu = PTHREAD_MUTEX_INITIALIZER};
    mesh_k8s_handler_t h = {on_add, on_update, on_delete, on_synced, &r};
    ck_assert_int_eq(mesh_k8s_informer_add_handler(inf, &h), 0);
    ck_assert_int_eq(mesh_k8s_informer_synced(inf), 0);
    ck_assert_int_eq(mesh_k8s_informer_start(inf), 0);
    ck_assert_int_eq(mesh_k8s_informer_wait_synced(inf, 5000), 1);
    ck_assert(fakeapi_wait_requests(f, 12, 10000));

    /* The request sequence is the reflector's. */
    ck_assert_str_eq(fakeapi_request(f, 0), "/api/v1/pods?resourceVersion=0&limit=500");
    ck_assert_ptr_nonnull(strstr(fakeapi_request(f, 1), "watch=true&resourceVersion=10&allowWatchBookmarks=true&timeoutSeconds="));
    ck_assert_ptr_nonnull(strstr(fakeapi_request(f, 2), "resourceVersion=15&")); /* bookmark advanced */
    ck_assert_str_eq(fakeapi_request(f, 3), "/api/v1/pods?resourceVersion=15"); /* relist, no limit */
    ck_assert_ptr_nonnull(strstr(fakeapi_request(f, 4), "watch=true&resourceVersion=20&"));
    ck_assert_str_eq(fakeapi_request(f, 5), "/api/v1/pods?resourceVersion=20");
    ck_assert_ptr_nonnull(strstr(fakeapi_request(f, 6), "watch=true&resourceVersion=21&"));
    ck_assert_str_eq(fakeapi_request(f, 7), "/api/v1/pods?resourceVersion=21");
    ck_assert_ptr_nonnull(strstr(fakeapi_request(f, 8), "watch=true&resourceVersion=22&"));
    ck_assert_ptr_nonnull(strstr(fakeapi_request(f, 9), "watch=true&resourceVersion=22&")); /* no relist after 500 */
    ck_assert_ptr_nonnull(strstr(fakeapi_request(f, 10), "watch=true&resourceVersion=22&")); /* nor after 429 */
    ck_assert_ptr_nonnull(strstr(fakeapi_request(f, 11), "watch=true&resourceVersion=23&")); /* cut: from last event */

    char log[8192];
    take_log(&r, log, sizeof(log));
    /* Relists deliver only the difference. */
    ck_assert_str_eq(log, "add:a@5;add:b@6;add:c@7;synced;upd:a@11;"
                          "upd:b@16;add:d@17;del:c@7;" /* after Expired */
                          /* after Gone: nothing changed, nothing told */
                          "del:b@16;"                  /* after HTTP 410 */
                          "add:e@23;");
    mesh_k8s_informer_stats_t st;
    mesh_k8s_informer_stats(inf, &st);
    ck_assert_uint_eq(st.relists, 3);
    ck_assert_uint_eq(st.relists_expired, 3);
    ck_assert_uint_eq(st.expired, 3);
    ck_assert_uint_eq(st.bookmarks, 1);
    ck_assert_uint_eq(st.watch_errors, 3); /* 500, 429, cut */
    ck_assert_uint_eq(mesh_k8s_informer_size(inf), 3);
    json_t *a = mesh_k8s_informer_get(inf, "ns", "a");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(a, "metadata"), "resourceVersion")), "11");
    json_decref(a);
    ck_assert_ptr_null(mesh_k8s_informer_get(inf, "ns", "c"));
    /* Backoff waits happened for each failure, growing from the base. */
    ck_assert_int_ge(sl.n, 6);
    ck_assert_uint_ge(sl.delays[0], 10);
    ck_assert_uint_lt(sl.delays[0], 20);

    /* A late handler gets the current state replayed, then synced. */
    rec_t r2 = {.mu = PTHREAD_MUTEX_INITIALIZER};
    mesh_k8s_handler_t h2 = {on_add, NULL, NULL, on_synced, &r2};
    ck_assert_int_eq(mesh_k8s_informer_add_handler(inf, &h2), 0);
    ck_assert_int_eq(r2.synced, 1);
    ck_assert_ptr_nonnull(strstr(r2.log, "add:e@23;"));

    /* Stop is prompt although a watch is held open by the server. */
    uint64_t t0 = mesh_k8s_now_ms();
    mesh_k8s_informer_stop(inf);
    ck_assert_uint_lt(mesh_k8s_now_ms() - t0, 500);
    mesh_k8s_informer_free(inf);
    fakeapi_stop(f);
    mesh_k8s_source_free(src);
    mesh_k8s_client_free(c);
    mesh_k8s_config_free(cfg);
}
END_TEST

START_TEST(test_informer_short_watches_relist_and_relist_fallback)
{
    fakeapi_t *f = fakeapi_start();
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", fakeapi_port(f));
    mesh_k8s_config_t *cfg = mesh_k8s_config_new_plain(url);
    mesh_k8s_client_opts_t co = {.qps = -1};
    mesh_k8s_client_t *c = mesh_k8s_client_new(cfg, &co);
    mesh_k8s_source_t *src = mesh_k8s_source_api(c);
    fakeapi_push(f, 200, NULL, LIST("10", POD("a", "5")));
    fakeapi_push(f, 200, NULL, ""); /* three empty clean watches in a row */
    fakeapi_push(f, 200, NULL, "");
    fakeapi_push(f, 200, NULL, "");
    fakeapi_push(f, 410, NULL, STATUS410("Expired")); /* relist at RV 10 is too old too */
    fakeapi_push(f, 200, NULL, LIST("30", POD("a", "5")));
    sleeps_t sl = {.mu = PTHREAD_MUTEX_INITIALIZER};
    mesh_k8s_informer_opts_t o = pod_opts(&sl);
    o.ns = "ns";
    o.label_selector = "app=web";
    o.transform = mesh_k8s_transform_metadata_only;
    mesh_k8s_informer_t *inf = mesh_k8s_informer_new(src, &o);
    mesh_k8s_informer_start(inf);
    ck_assert(fakeapi_wait_requests(f, 7, 5000));
    ck_assert_str_eq(fakeapi_request(f, 0),
                     "/api/v1/namespaces/ns/pods?labelSelector=app%3Dweb&resourceVersion=0&limit=500");
    ck_assert_str_eq(fakeapi_request(f, 4), "/api/v1/namespaces/ns/pods?labelSelector=app%3Dweb&resourceVersion=10");
    /* 410 on the cached relist: at once a consistent list (no RV). */
    ck_assert_str_eq(fakeapi_request(f, 5), "/api/v1/namespaces/ns/pods?labelSelector=app%3Dweb&limit=500");
    ck_assert_ptr_nonnull(strstr(fakeapi_request(f, 6), "resourceVersion=30&"));
    mesh_k8s_informer_stats_t st;
    mesh_k8s_informer_stats(inf, &st);
    ck_assert_uint_eq(st.relists_short, 1);
    json_t *a = mesh_k8s_informer_get(inf, "ns", "a");
    ck_assert_ptr_nonnull(a);
    json_decref(a);
    mesh_k8s_informer_free(inf);
    fakeapi_stop(f);
    mesh_k8s_source_free(src);
    mesh_k8s_client_free(c);
    mesh_k8s_config_free(cfg);
}
END_TEST

START_TEST(test_informer_factory_shares)
{
    fakeapi_t *f = fakeapi_start();
    /* Two informers list at once: one's watch must not take the other's list. */
    fakeapi_hold_watches(f);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", fakeapi_port(f));
    mesh_k8s_config_t *cfg = mesh_k8s_config_new_plain(url);
    mesh_k8s_client_t *c = mesh_k8s_client_new(cfg, NULL);
    mesh_k8s_source_t *src = mesh_k8s_source_api(c);
    fakeapi_push(f, 200, NULL, LIST("10", POD("a", "5")));
    mesh_k8s_factory_t *fac = mesh_k8s_factory_new(src);
    sleeps_t sl = {.mu = PTHREAD_MUTEX_INITIALIZER};
    mesh_k8s_informer_opts_t o = pod_opts(&sl);
    mesh_k8s_informer_t *i1 = mesh_k8s_factory_informer(fac, &o);
    mesh_k8s_informer_t *i2 = mesh_k8s_factory_informer(fac, &o);
    ck_assert_ptr_eq(i1, i2);
    o.res.resource = "services";
    mesh_k8s_informer_t *i3 = mesh_k8s_factory_informer(fac, &o);
    ck_assert_ptr_ne(i1, i3);
    rec_t r1 = {.mu = PTHREAD_MUTEX_INITIALIZER}, r2 = {.mu = PTHREAD_MUTEX_INITIALIZER};
    mesh_k8s_handler_t h1 = {on_add, on_update, on_delete, NULL, &r1};
    mesh_k8s_handler_t h2 = {on_add, on_update, on_delete, NULL, &r2};
    mesh_k8s_informer_add_handler(i1, &h1);
    mesh_k8s_informer_add_handler(i2, &h2);
    /* Both informers list concurrently and either may get either answer. */
    fakeapi_push(f, 200, NULL, LIST("10", POD("a", "5")));
    ck_assert_int_eq(mesh_k8s_factory_start(fac), 0);
    ck_assert_int_eq(mesh_k8s_factory_wait_synced(fac, 5000), 1);
    ck_assert_str_eq(r1.log, "add:a@5;");
    ck_assert_str_eq(r2.log, "add:a@5;");
    mesh_k8s_factory_free(fac);
    fakeapi_stop(f);
    mesh_k8s_source_free(src);
    mesh_k8s_client_free(c);
    mesh_k8s_config_free(cfg);
}
END_TEST

START_TEST(test_informer_label_selector)
{
    json_t *l = json_pack("{s:s, s:s}", "app", "web", "tier", "front");
    ck_assert_int_eq(mesh_k8s_label_selector_match("app=web", l), 1);
    ck_assert_int_eq(mesh_k8s_label_selector_match("app==web,tier", l), 1);
    ck_assert_int_eq(mesh_k8s_label_selector_match("app!=web", l), 0);
    ck_assert_int_eq(mesh_k8s_label_selector_match("!canary", l), 1);
    ck_assert_int_eq(mesh_k8s_label_selector_match("!app", l), 0);
    ck_assert_int_eq(mesh_k8s_label_selector_match("tier in (back, front)", l), 1);
    ck_assert_int_eq(mesh_k8s_label_selector_match("tier notin (back,front)", l), 0);
    ck_assert_int_eq(mesh_k8s_label_selector_match("missing notin (x)", l), 1);
    ck_assert_int_eq(mesh_k8s_label_selector_match("app=web,,x", l), -1);
    ck_assert_int_eq(mesh_k8s_label_selector_match("tier in front", l), -1);
    ck_assert_int_eq(mesh_k8s_label_selector_match("app=web", NULL), 0);
    json_decref(l);
}
END_TEST

START_TEST(test_informer_key_and_transform)
{
    json_t *o = json_loads("{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\",\"namespace\":\"n\","
                           "\"managedFields\":[1],\"resourceVersion\":\"3\"},\"spec\":{\"x\":1}}", 0, NULL);
    char *k = mesh_k8s_object_key(o);
    ck_assert_str_eq(k, "n/p");
    mesh_free(k);
    json_t *t = mesh_k8s_transform_metadata_only(json_incref(o), NULL);
    ck_assert_ptr_null(json_object_get(t, "spec"));
    ck_assert_ptr_null(json_object_get(json_object_get(t, "metadata"), "managedFields"));
    ck_assert_str_eq(json_string_value(json_object_get(t, "kind")), "Pod");
    ck_assert_ptr_nonnull(json_object_get(o, "spec")); /* the input is not modified */
    json_decref(t);
    json_decref(o);
    json_t *cl = json_loads("{\"metadata\":{\"name\":\"node1\"}}", 0, NULL);
    k = mesh_k8s_object_key(cl);
    ck_assert_str_eq(k, "node1");
    mesh_free(k);
    json_decref(cl);
}
END_TEST

Suite *k8s_informer_suite(void)
{
    Suite *s = suite_create("k8s_informer");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_informer_list_watch_410_forms);
    tcase_add_test(tc, test_informer_short_watches_relist_and_relist_fallback);
    tcase_add_test(tc, test_informer_factory_shares);
    tcase_add_test(tc, test_informer_label_selector);
    tcase_add_test(tc, test_informer_key_and_transform);
    suite_add_tcase(s, tc);
    return s;
}
