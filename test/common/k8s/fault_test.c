/* The informer fault test (the foundation issue's acceptance test) and client
 * tests, against the stand-in API server apiserver/kubeapi.py.
 *
 * A driver thread creates, changes and deletes ConfigMaps while the test
 * injects 1,000 faults (cut and clean watch drops, compactions answered with
 * the in-stream ERROR 410 and with HTTP 410, 429s and 500s on watches and
 * lists). At the end the informer's cache must equal the server's truth,
 * resourceVersions included; every object's versions must have arrived in
 * strictly increasing order; no object may be deleted while it lived; and the
 * informer may relist no more often than a 410 actually hit one of its
 * watches. The figures are printed on one line starting "k8s-fault:". */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kapiproc.h"
#include "mesh/k8s_informer.h"
#include "mesh/mem.h"

#define FAULTS 1000
#define TEST_BUDGET_MS 60000 /* the whole test, start to verdict */
#define INJECT_BUDGET_MS 42000
#define CONVERGE_MS 10000
#define MAX_LIVE 40
#define NS "fault"
#define CM_PATH "/api/v1/namespaces/" NS "/configmaps"

/* Records a failure without leaving the test, so the server is always stopped. */
#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "failed: %s (line %d)\n", #cond, __LINE__); fails++; } } while (0)

/* ---- the stand-in server ------------------------------------------------ */

static int post_fault(mesh_k8s_client_t *c, const char *body)
{
    mesh_k8s_result_t r;
    int rc = mesh_k8s_request(c, "POST", "/_cmesh/faults", "application/json", body, strlen(body), &r);
    mesh_k8s_result_free(&r);
    return rc;
}

static long stat_of(mesh_k8s_client_t *c, const char *key)
{
    mesh_k8s_result_t r;
    long v = -1;
    if (mesh_k8s_get(c, "/_cmesh/stats", &r) == 0)
        v = (long)json_integer_value(json_object_get(r.body, key));
    mesh_k8s_result_free(&r);
    return v;
}

/* ---- what the handlers saw ---------------------------------------------- */

typedef struct {
    pthread_mutex_t mu;
    json_t *last_rv;        /* key -> highest RV seen (integer) */
    json_t *deleting;       /* keys the driver is deleting or deleted */
    json_t *deleted_seen;   /* keys the informer deleted */
    unsigned long out_of_order, premature_deletes, resurrected, callbacks;
} seen_t;

static long long rv_num(const json_t *o)
{
    const char *s = json_string_value(json_object_get(json_object_get(o, "metadata"), "resourceVersion"));
    return s ? strtoll(s, NULL, 10) : -1;
}

static void saw_version(seen_t *s, const json_t *o)
{
    char *key = mesh_k8s_object_key(o);
    long long rv = rv_num(o);
    pthread_mutex_lock(&s->mu);
    s->callbacks++;
    json_t *prev = json_object_get(s->last_rv, key);
    if (prev != NULL && json_integer_value(prev) >= rv)
        s->out_of_order++;
    if (json_object_get(s->deleted_seen, key) != NULL)
        s->resurrected++;
    json_object_set_new(s->last_rv, key, json_integer(rv));
    pthread_mutex_unlock(&s->mu);
    mesh_free(key);
}

static void h_add(const json_t *o, void *ud) { saw_version(ud, o); }
static void h_update(const json_t *old, const json_t *o, void *ud)
{
    (void)old;
    saw_version(ud, o);
}
static void h_delete(const json_t *o, void *ud)
{
    seen_t *s = ud;
    char *key = mesh_k8s_object_key(o);
    pthread_mutex_lock(&s->mu);
    s->callbacks++;
    if (json_object_get(s->deleting, key) == NULL)
        s->premature_deletes++;
    json_object_set_new(s->deleted_seen, key, json_true());
    pthread_mutex_unlock(&s->mu);
    mesh_free(key);
}

/* ---- the driver --------------------------------------------------------- */

typedef struct {
    mesh_k8s_client_t *c;
    seen_t *seen;
    atomic_int stop;
    unsigned long creates, updates, deletes, failures;
    uint64_t last_change_ms;
    unsigned rng;
} driver_t;

static void *drive(void *arg)
{
    driver_t *d = arg;
    char live[MAX_LIVE][32];
    int nlive = 0, next = 0;
    while (!atomic_load(&d->stop)) {
        int r = rand_r(&d->rng) % 10;
        mesh_k8s_result_t res;
        char path[128];
        if (nlive < 5 || (r < 3 && nlive < MAX_LIVE)) {
            char name[32];
            snprintf(name, sizeof(name), "cm-%d", next++);
            json_t *o = json_pack("{s:s, s:s, s:{s:s}, s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap",
                                  "metadata", "name", name, "data", "v", "0");
            int rc = mesh_k8s_create(d->c, CM_PATH, o, &res);
            json_decref(o);
            if (rc == 0 || res.status == 409) {
                snprintf(live[nlive++], sizeof(live[0]), "%s", name);
                d->creates++;
            } else {
                d->failures++;
            }
        } else if (r < 8) {
            int i = rand_r(&d->rng) % nlive;
            snprintf(path, sizeof(path), CM_PATH "/%s", live[i]);
            char v[16];
            snprintf(v, sizeof(v), "%d", rand_r(&d->rng));
            json_t *p = json_pack("{s:{s:s}}", "data", "v", v);
            if (mesh_k8s_patch(d->c, path, MESH_K8S_PATCH_MERGE, p, &res) == 0)
                d->updates++;
            else
                d->failures++;
            json_decref(p);
        } else {
            int i = rand_r(&d->rng) % nlive;
            char key[64];
            snprintf(key, sizeof(key), NS "/%s", live[i]);
            pthread_mutex_lock(&d->seen->mu);
            json_object_set_new(d->seen->deleting, key, json_true());
            pthread_mutex_unlock(&d->seen->mu);
            snprintf(path, sizeof(path), CM_PATH "/%s", live[i]);
            if (mesh_k8s_delete(d->c, path, &res) == 0 || res.status == 404) {
                d->deletes++;
                memmove(live[i], live[i + 1], (size_t)(nlive - i - 1) * sizeof(live[0]));
                nlive--;
            } else {
                d->failures++; /* still live: a later delete will retry */
            }
        }
        mesh_k8s_result_free(&res);
        d->last_change_ms = mesh_k8s_now_ms();
        usleep(2000);
    }
    return NULL;
}

/* ---- comparison --------------------------------------------------------- */

static int collect_rv(const char *key, const char *rv, const json_t *obj, void *ud)
{
    (void)obj;
    json_object_set_new(ud, key, json_string(rv));
    return 0;
}

/* Keys whose RV differs between the informer and the server, plus extras. */
static long mismatches(mesh_k8s_informer_t *inf, mesh_k8s_client_t *c)
{
    mesh_k8s_result_t r;
    if (mesh_k8s_list(c, CM_PATH, &r) != 0) {
        mesh_k8s_result_free(&r);
        return -1;
    }
    json_t *truth = json_object();
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(r.body, "items"), i, o) {
        char *k = mesh_k8s_object_key(o);
        json_object_set(truth, k, json_object_get(json_object_get(o, "metadata"), "resourceVersion"));
        mesh_free(k);
    }
    mesh_k8s_result_free(&r);
    json_t *mine = json_object();
    mesh_k8s_informer_foreach(inf, collect_rv, mine);
    long bad = 0;
    const char *k;
    json_t *v;
    json_object_foreach(truth, k, v) {
        const char *m = json_string_value(json_object_get(mine, k));
        if (m == NULL || strcmp(m, json_string_value(v)) != 0)
            bad++;
    }
    json_object_foreach(mine, k, v) {
        if (json_object_get(truth, k) == NULL)
            bad++;
    }
    json_decref(truth);
    json_decref(mine);
    return bad;
}

START_TEST(test_fault_informer_1000_faults)
{
    uint64_t t_start = mesh_k8s_now_ms();
    kapi_proc_t srv = {0};
    ck_assert_msg(kapi_proc_start(&srv, "300", "0.3", NULL, NULL, NULL) == 0, "cannot start apiserver/kubeapi.py");
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", srv.port);
    mesh_k8s_config_t *cfg = mesh_k8s_config_new_plain(url);
    mesh_k8s_client_opts_t fast = {.qps = -1, .max_retry_after_ms = 200};
    mesh_k8s_client_t *inf_client = mesh_k8s_client_new(cfg, &fast);
    mesh_k8s_client_t *drv_client = mesh_k8s_client_new(cfg, &fast);
    mesh_k8s_client_opts_t noretry = {.qps = -1, .max_retries = -1};
    mesh_k8s_client_t *ctl = mesh_k8s_client_new(cfg, &noretry);
    mesh_k8s_result_t r;
    json_t *ns = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Namespace", "metadata", "name", NS);
    int ns_rc = mesh_k8s_create(ctl, "/api/v1/namespaces", ns, &r);
    json_decref(ns);
    mesh_k8s_result_free(&r);

    seen_t seen = {.mu = PTHREAD_MUTEX_INITIALIZER, .last_rv = json_object(), .deleting = json_object(),
                   .deleted_seen = json_object()};
    mesh_k8s_source_t *src = mesh_k8s_source_api(inf_client);
    mesh_k8s_informer_opts_t o = {0};
    o.res.version = "v1";
    o.res.resource = "configmaps";
    o.ns = NS;
    o.watch_timeout_min_s = 2; /* clean server-side ends happen too */
    o.watch_timeout_max_s = 4;
    o.backoff.base_ms = 2;
    o.backoff.max_ms = 20;
    o.backoff.jitter = 1.0;
    mesh_k8s_informer_t *inf = mesh_k8s_informer_new(src, &o);
    mesh_k8s_handler_t h = {h_add, h_update, h_delete, NULL, &seen};
    mesh_k8s_informer_add_handler(inf, &h);
    mesh_k8s_informer_start(inf);
    int synced = mesh_k8s_informer_wait_synced(inf, 5000);

    driver_t d = {.c = drv_client, .seen = &seen, .rng = 42};
    atomic_init(&d.stop, 0);
    pthread_t dt;
    pthread_create(&dt, NULL, drive, &d);

    /* Inject, each kind in turn. A compaction only forces a relist when the
     * informer is behind it, so compactions are staged: cut the watch and
     * fail the next re-watches (the informer backs off while the driver keeps
     * changing objects), then compact; the form of the 410 alternates. */
    static const char *const kinds[] = {
        "{\"drop_watches\":true}",
        "{\"watch_410\":\"event\",\"compact\":true}",
        "{\"fail_next\":1,\"status\":429,\"retry_after\":0,\"verb\":\"watch\",\"drop_watches\":true}",
        "{\"watch_410\":\"http\",\"compact\":true}",
        "{\"fail_next\":1,\"status\":500,\"verb\":\"watch\",\"drop_watches\":true}",
        "{\"drop_watches\":\"clean\"}",
        "{\"fail_next\":1,\"status\":429,\"retry_after\":0,\"verb\":\"list\",\"drop_watches\":true}",
        "{\"fail_next\":1,\"status\":500,\"verb\":\"list\",\"drop_watches\":true}",
    };
    static const char stage[] = "{\"fail_next\":3,\"status\":500,\"verb\":\"watch\",\"drop_watches\":true}";
    unsigned long injected = 0, per_kind[8] = {0}, rejected = 0, posts = 0, unaimed = 0;
    uint64_t t_inject = mesh_k8s_now_ms(), post_ms = 0;
    long opened = stat_of(ctl, "watches_opened");
    while (injected < FAULTS && mesh_k8s_now_ms() - t_inject < INJECT_BUDGET_MS) {
        /* Aim every fault at a live watch: wait until the informer has
         * re-established one since the previous fault, and let it carry a
         * few of the driver's changes. */
        long now_opened = opened;
        uint64_t tw = mesh_k8s_now_ms();
        while ((now_opened = stat_of(ctl, "watches_opened")) <= opened && mesh_k8s_now_ms() - tw < 500)
            usleep(2000);
        if (now_opened <= opened)
            unaimed++;
        opened = now_opened;
        usleep(3000 + (useconds_t)(rand() % 5000));
        int k = (int)(injected % 8);
        uint64_t t0 = mesh_k8s_now_ms();
        int ok = 1;
        if (k == 1 || k == 3) {
            ok = post_fault(ctl, stage) == 0;
            posts++;
            usleep(10000);
        }
        ok = ok && post_fault(ctl, kinds[k]) == 0;
        posts++;
        post_ms += mesh_k8s_now_ms() - t0 - ((k == 1 || k == 3) ? 10 : 0);
        if (ok) {
            injected++;
            per_kind[k]++;
        } else {
            rejected++;
        }
    }
    post_fault(ctl, "{\"reset\":true}");
    atomic_store(&d.stop, 1);
    pthread_join(dt, NULL);
    uint64_t t_quiet = mesh_k8s_now_ms();
    /* Converge: the cache must equal the truth, RVs included. */
    long bad = -1;
    uint64_t t_conv = 0;
    while (mesh_k8s_now_ms() - t_quiet < CONVERGE_MS) {
        bad = mismatches(inf, ctl);
        if (bad == 0) {
            t_conv = mesh_k8s_now_ms() - t_quiet;
            break;
        }
        usleep(10000);
    }
    mesh_k8s_informer_stats_t st;
    mesh_k8s_informer_stats(inf, &st);
    long gone = stat_of(ctl, "gone_410");
    long dropped = stat_of(ctl, "watches_dropped");
    size_t objects = mesh_k8s_informer_size(inf);
    uint64_t t_stop = mesh_k8s_now_ms();
    mesh_k8s_informer_free(inf);
    uint64_t stop_ms = mesh_k8s_now_ms() - t_stop;
    mesh_k8s_source_free(src);
    mesh_k8s_client_free(inf_client);
    mesh_k8s_client_free(drv_client);
    mesh_k8s_client_free(ctl);
    mesh_k8s_config_free(cfg);
    kapi_proc_stop(&srv);
    uint64_t elapsed = mesh_k8s_now_ms() - t_start;

    printf("k8s-fault: faults survived %lu/%d (cut drops %lu, clean drops %lu, compactions %lu "
           "[410 hits %ld], 429 %lu, 500 %lu), updates lost %ld, relists %lu (410-caused %lu, "
           "short-watch %lu; allowed %ld), out-of-order %lu, premature deletes %lu, time to converge %llu ms, "
           "objects %zu, driver ops %lu/%lu/%lu (+%lu failed), events %lu, bookmarks %lu, watches %lu "
           "(dropped by server %ld, faults not aimed at a live watch %lu), fault POST %.1f ms avg, stop %llu ms, total %.1f s\n",
           injected, FAULTS, per_kind[0] + per_kind[2] + per_kind[4] + per_kind[6] + per_kind[7],
           per_kind[5], per_kind[1] + per_kind[3], gone, per_kind[2] + per_kind[6], per_kind[4] + per_kind[7], bad, st.relists, st.relists_expired, st.relists_short, gone,
           seen.out_of_order, seen.premature_deletes, (unsigned long long)t_conv, objects, d.creates,
           d.updates, d.deletes, d.failures, st.events, st.bookmarks, st.watches, dropped, unaimed,
           posts ? (double)post_ms / (double)posts : 0.0, (unsigned long long)stop_ms, (double)elapsed / 1000.0);
    fflush(stdout);

    ck_assert_msg(ns_rc == 0, "namespace create failed");
    ck_assert(synced);
    ck_assert_uint_eq(injected, FAULTS);
    ck_assert_uint_eq(rejected, 0);
    ck_assert_int_eq(bad, 0);
    ck_assert_uint_eq(seen.out_of_order, 0);
    ck_assert_uint_eq(seen.premature_deletes, 0);
    ck_assert_uint_eq(seen.resurrected, 0);
    ck_assert_int_ge(gone, 1);
    ck_assert_uint_le(st.relists, (unsigned long)gone);
    ck_assert_uint_gt(d.updates, 100);
    ck_assert_uint_gt(d.deletes, 20);
    ck_assert_uint_lt(stop_ms, 1000);
    ck_assert_uint_le(elapsed, TEST_BUDGET_MS);
    json_decref(seen.last_rv);
    json_decref(seen.deleting);
    json_decref(seen.deleted_seen);
}
END_TEST

/* ---- client behaviour against the stand-in --------------------------------- */

START_TEST(test_fault_client_retry_after_and_status)
{
    kapi_proc_t srv = {0};
    ck_assert_msg(kapi_proc_start(&srv, "100", "0.3", NULL, NULL, NULL) == 0, "cannot start apiserver/kubeapi.py");
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", srv.port);
    mesh_k8s_config_t *cfg = mesh_k8s_config_new_plain(url);
    mesh_k8s_client_opts_t co = {.qps = -1};
    mesh_k8s_client_t *c = mesh_k8s_client_new(cfg, &co);
    mesh_k8s_client_opts_t nr = {.qps = -1, .max_retries = -1};
    mesh_k8s_client_t *ctl = mesh_k8s_client_new(cfg, &nr);
    mesh_k8s_result_t r;
    int fails = 0;

    /* 429 with Retry-After: 1 is waited out and retried. */
    CHECK(post_fault(ctl, "{\"fail_next\":1,\"status\":429,\"retry_after\":1,\"verb\":\"list\"}") == 0);
    uint64_t t0 = mesh_k8s_now_ms();
    CHECK(mesh_k8s_list(c, "/api/v1/namespaces/default/configmaps", &r) == 0);
    uint64_t dt = mesh_k8s_now_ms() - t0;
    CHECK(dt >= 1000 && dt < 5000);
    CHECK(r.retries == 1);
    mesh_k8s_result_free(&r);
    /* Without retries the plain-text 429 decodes to a Status-like result. */
    CHECK(post_fault(ctl, "{\"fail_next\":1,\"status\":429,\"retry_after\":3,\"verb\":\"list\"}") == 0);
    CHECK(mesh_k8s_list(ctl, "/api/v1/namespaces/default/configmaps", &r) == -1);
    CHECK(r.status == 429 && r.retry_after_s == 3);
    CHECK(r.reason && strcmp(r.reason, "TooManyRequests") == 0);
    CHECK(r.message && strstr(r.message, "Too many requests"));
    mesh_k8s_result_free(&r);
    /* A client capping Retry-After at 100 ms: 503 with Retry-After retried
     * quickly; retries are bounded; 500 without Retry-After is not retried. */
    mesh_k8s_client_opts_t two = {.qps = -1, .max_retries = 2, .max_retry_after_ms = 100};
    mesh_k8s_client_t *c2 = mesh_k8s_client_new(cfg, &two);
    CHECK(post_fault(ctl, "{\"fail_next\":2,\"status\":503,\"retry_after\":1,\"verb\":\"list\"}") == 0);
    t0 = mesh_k8s_now_ms();
    CHECK(mesh_k8s_list(c2, "/api/v1/namespaces/default/configmaps", &r) == 0 && r.retries == 2);
    CHECK(mesh_k8s_now_ms() - t0 < 900);
    mesh_k8s_result_free(&r);
    CHECK(post_fault(ctl, "{\"fail_next\":5,\"status\":429,\"retry_after\":1,\"verb\":\"get\"}") == 0);
    CHECK(mesh_k8s_get(c2, "/api/v1/namespaces/default", &r) == -1);
    CHECK(r.status == 429 && r.retries == 2);
    mesh_k8s_result_free(&r);
    CHECK(post_fault(ctl, "{\"reset\":true}") == 0);
    CHECK(post_fault(ctl, "{\"fail_next\":1,\"status\":500,\"verb\":\"list\"}") == 0);
    CHECK(mesh_k8s_list(c, "/api/v1/namespaces/default/configmaps", &r) == -1);
    CHECK(r.status == 500 && r.retries == 0 && r.reason && strcmp(r.reason, "InternalError") == 0);
    mesh_k8s_result_free(&r);
    CHECK(post_fault(ctl, "{\"reset\":true}") == 0);
    mesh_k8s_client_free(c2);

    /* create / conflict / patch flavours / get / delete / not found. */
    json_t *cm = json_pack("{s:s, s:s, s:{s:s}, s:{s:s, s:s}}", "apiVersion", "v1", "kind", "ConfigMap",
                           "metadata", "name", "c1", "data", "a", "1", "b", "2");
    CHECK(mesh_k8s_create(c, "/api/v1/namespaces/default/configmaps", cm, &r) == 0 && r.status == 201);
    mesh_k8s_result_free(&r);
    CHECK(mesh_k8s_create(c, "/api/v1/namespaces/default/configmaps", cm, &r) == -1);
    CHECK(r.status == 409 && r.reason && strcmp(r.reason, "AlreadyExists") == 0);
    mesh_k8s_result_free(&r);
    json_decref(cm);
    const char *p = "/api/v1/namespaces/default/configmaps/c1";
    json_t *mp = json_loads("{\"data\":{\"a\":null,\"c\":\"3\"}}", 0, NULL);
    CHECK(mesh_k8s_patch(c, p, MESH_K8S_PATCH_MERGE, mp, &r) == 0);
    CHECK(json_object_get(json_object_get(r.body, "data"), "a") == NULL);
    mesh_k8s_result_free(&r);
    json_decref(mp);
    json_t *jp = json_loads("[{\"op\":\"add\",\"path\":\"/data/d\",\"value\":\"4\"}]", 0, NULL);
    CHECK(mesh_k8s_patch(c, p, MESH_K8S_PATCH_JSON, jp, &r) == 0);
    mesh_k8s_result_free(&r);
    json_decref(jp);
    json_t *sp = json_loads("{\"data\":{\"e\":\"5\"}}", 0, NULL);
    CHECK(mesh_k8s_patch(c, p, MESH_K8S_PATCH_STRATEGIC, sp, &r) == 0);
    mesh_k8s_result_free(&r);
    json_decref(sp);
    CHECK(mesh_k8s_get(c, p, &r) == 0);
    json_t *data = json_object_get(r.body, "data");
    CHECK(json_object_size(data) == 4 && strcmp(json_string_value(json_object_get(data, "d")) ?: "", "4") == 0);
    mesh_k8s_result_free(&r);
    CHECK(mesh_k8s_delete(c, p, &r) == 0);
    mesh_k8s_result_free(&r);
    CHECK(mesh_k8s_get(c, p, &r) == -1);
    CHECK(r.status == 404 && r.reason && strcmp(r.reason, "NotFound") == 0 && r.message && strstr(r.message, "c1"));
    mesh_k8s_result_free(&r);
    /* Transport failure: status 0 and a message. */
    mesh_k8s_client_free(c);
    mesh_k8s_client_free(ctl);
    mesh_k8s_config_free(cfg);
    kapi_proc_stop(&srv);
    mesh_k8s_config_t *dead = mesh_k8s_config_new_plain("http://127.0.0.1:1");
    mesh_k8s_client_t *dc = mesh_k8s_client_new(dead, &co);
    CHECK(mesh_k8s_get(dc, "/api", &r) == -1 && r.status == 0 && r.message != NULL);
    mesh_k8s_result_free(&r);
    mesh_k8s_client_free(dc);
    mesh_k8s_config_free(dead);
    ck_assert_int_eq(fails, 0);
}
END_TEST

/* TLS from a kubeconfig (CA data, wrong CA), bearer token from a token file,
 * and a 401 making the client re-read a rotated token. */
START_TEST(test_fault_client_tls_kubeconfig_token)
{
    char dir[64] = "/tmp/cmesh-k8stls-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout key.pem "
             "-out crt.pem -days 1 -subj /CN=kube -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1 && "
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout other.key "
             "-out other.pem -days 1 -subj /CN=other >/dev/null 2>&1 && "
             "printf 'tok-1\n' > token",
             dir);
    ck_assert_int_eq(system(cmd), 0);
    char crt[128], key[128];
    snprintf(crt, sizeof(crt), "%s/crt.pem", dir);
    snprintf(key, sizeof(key), "%s/key.pem", dir);
    kapi_proc_t srv = {0};
    /* The server accepts one token; the token file will rotate away from it and back. */
    int started = kapi_proc_start(&srv, "100", "0.3", crt, key, "tok-1") == 0;
    int fails = 0;
    if (started) {
        /* kubeconfig: CA as base64 data, token from a relative tokenFile. */
        snprintf(cmd, sizeof(cmd),
                 "cd %s && { printf 'current-context: t\\ncontexts:\\n- name: t\\n  context: {cluster: c, user: u}\\n"
                 "clusters:\\n- name: c\\n  cluster:\\n    server: https://127.0.0.1:%d\\n"
                 "    certificate-authority-data: '; base64 -w0 crt.pem; printf '\\nusers:\\n- name: u\\n  user: {tokenFile: token}\\n'; } > kc && "
                 "{ printf 'current-context: t\\ncontexts:\\n- name: t\\n  context: {cluster: c, user: u}\\n"
                 "clusters:\\n- name: c\\n  cluster:\\n    server: https://127.0.0.1:%d\\n"
                 "    certificate-authority: other.pem\\nusers:\\n- name: u\\n  user: {tokenFile: token}\\n'; } > kc-wrong",
                 dir, srv.port, srv.port);
        CHECK(system(cmd) == 0);
        char kc[128], err[512];
        snprintf(kc, sizeof(kc), "%s/kc", dir);
        mesh_k8s_config_t *cfg = NULL;
        CHECK(mesh_k8s_config_from_kubeconfig(kc, NULL, &cfg, err, sizeof(err)) == 0);
        if (cfg != NULL) {
            mesh_k8s_client_opts_t co = {.qps = -1};
            mesh_k8s_client_t *c = mesh_k8s_client_new(cfg, &co);
            mesh_k8s_result_t r;
            CHECK(mesh_k8s_get(c, "/api/v1/namespaces/default", &r) == 0 && r.status == 200);
            mesh_k8s_result_free(&r);
            /* The file rotates to a token the server refuses: still cached,
             * so the request succeeds; after the cache is dropped, 401. */
            snprintf(cmd, sizeof(cmd), "printf 'bad\\n' > %s/token", dir);
            CHECK(system(cmd) == 0);
            CHECK(mesh_k8s_get(c, "/api/v1/namespaces/default", &r) == 0);
            mesh_k8s_result_free(&r);
            mesh_k8s_config_token_invalidate(cfg);
            CHECK(mesh_k8s_get(c, "/api/v1/namespaces/default", &r) == -1 && r.status == 401);
            CHECK(r.reason && strcmp(r.reason, "Unauthorized") == 0);
            mesh_k8s_result_free(&r);
            /* The 401 itself invalidated the cache: fixing the file is enough. */
            snprintf(cmd, sizeof(cmd), "printf 'tok-1\\n' > %s/token", dir);
            CHECK(system(cmd) == 0);
            CHECK(mesh_k8s_get(c, "/api/v1/namespaces/default", &r) == 0);
            mesh_k8s_result_free(&r);
            mesh_k8s_client_free(c);
            mesh_k8s_config_free(cfg);
        }
        /* A CA that did not sign the server's certificate: TLS fails. */
        snprintf(kc, sizeof(kc), "%s/kc-wrong", dir);
        cfg = NULL;
        CHECK(mesh_k8s_config_from_kubeconfig(kc, NULL, &cfg, err, sizeof(err)) == 0);
        if (cfg != NULL) {
            mesh_k8s_client_t *c = mesh_k8s_client_new(cfg, NULL);
            mesh_k8s_result_t r;
            CHECK(mesh_k8s_get(c, "/api", &r) == -1 && r.status == 0 && r.message != NULL);
            mesh_k8s_result_free(&r);
            mesh_k8s_client_free(c);
            mesh_k8s_config_free(cfg);
        }
        kapi_proc_stop(&srv);
    }
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
    ck_assert_msg(started, "cannot start apiserver/kubeapi.py with TLS");
    ck_assert_int_eq(fails, 0);
}
END_TEST

Suite *k8s_fault_suite(void)
{
    Suite *s = suite_create("k8s_fault");
    TCase *tc = tcase_create("apiserver");
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, test_fault_client_retry_after_and_status);
    tcase_add_test(tc, test_fault_client_tls_kubeconfig_token);
    tcase_add_test(tc, test_fault_informer_1000_faults);
    suite_add_tcase(s, tc);
    return s;
}
