/* Lost-event stress of the informer against the stand-in API server
 * apiserver/kubeapi.py (see test/apiserver/watch_race_test.py for the raw
 * server-side version).
 *
 * Several informers watch one namespace with timeoutSeconds of 1-2 s and
 * bookmarks every 0.1 s, so they reconnect continually from their last RV,
 * while writer threads create, PUT, merge-patch and delete ConfigMaps as fast
 * as the server answers. The history is large enough that no 410 (and so no
 * relist) can hide a loss: each informer's handlers must then see exactly the
 * writers' create/update RVs, in strictly increasing order, and as many
 * deletes as the writers made; its cache must equal the server's list, RVs
 * included. The figures go to stderr on one line starting "k8s-watch-race:",
 * with the worst write-to-handler delay. */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kapiproc.h"
#include "mesh/k8s_informer.h"
#include "mesh/mem.h"

#define INFORMERS 4
#define WRITERS 2
#define WRITE_MS 6000
#define CATCH_UP_MS 10000
#define OBJECTS 10             /* names the writers pick from */
#define MAX_RVS 200000         /* RV table size: far above WRITE_MS of writes */
#define MIN_WRITES 200         /* fewer stresses nothing: a broken setup */
#define HISTORY "1000000"
#define BOOKMARK_INTERVAL "0.1"
#define NS "race"
#define CM_PATH "/api/v1/namespaces/" NS "/configmaps"

#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "failed: %s (line %d)\n", #cond, __LINE__); fails++; } } while (0)

/* ---- the stand-in server ------------------------------------------------ */

/* ---- what was written, when --------------------------------------------- */

static _Atomic uint64_t written_at[MAX_RVS]; /* RV -> ms of the write's answer, 0 = none */
static atomic_ulong deletes_made;

static long long rv_of(const json_t *o)
{
    const char *s = json_string_value(json_object_get(json_object_get(o, "metadata"), "resourceVersion"));
    return s ? strtoll(s, NULL, 10) : -1;
}

/* ---- what one informer's handlers saw ----------------------------------- */

typedef struct {
    pthread_mutex_t mu;
    long long *rvs;            /* add/update RVs in arrival order */
    size_t n;
    unsigned long deletes;
    uint64_t worst_delay_ms;
    long long worst_rv;
} seen_t;

static void saw(seen_t *s, const json_t *o)
{
    long long rv = rv_of(o);
    uint64_t now = mesh_k8s_now_ms();
    pthread_mutex_lock(&s->mu);
    if (s->n < MAX_RVS)
        s->rvs[s->n++] = rv;
    if (rv > 0 && rv < MAX_RVS) {
        uint64_t at = atomic_load(&written_at[rv]);
        /* The writer stamps after the answer: the event may beat it. */
        if (at != 0 && now > at && now - at > s->worst_delay_ms) {
            s->worst_delay_ms = now - at;
            s->worst_rv = rv;
        }
    }
    pthread_mutex_unlock(&s->mu);
}

static void h_add(const json_t *o, void *ud) { saw(ud, o); }
static void h_update(const json_t *old, const json_t *o, void *ud)
{
    (void)old;
    saw(ud, o);
}
static void h_delete(const json_t *o, void *ud)
{
    (void)o;
    seen_t *s = ud;
    pthread_mutex_lock(&s->mu);
    s->deletes++;
    pthread_mutex_unlock(&s->mu);
}

/* ---- the writers -------------------------------------------------------- */

typedef struct {
    mesh_k8s_client_t *c;
    unsigned rng;
    uint64_t until_ms;
    unsigned long writes, failures;
} writer_t;

static void stamp(const mesh_k8s_result_t *r)
{
    long long rv = rv_of(r->body);
    if (rv > 0 && rv < MAX_RVS)
        atomic_store(&written_at[rv], mesh_k8s_now_ms());
}

static void *write_loop(void *arg)
{
    writer_t *w = arg;
    while (mesh_k8s_now_ms() < w->until_ms) {
        char name[32], path[128], val[16];
        snprintf(name, sizeof(name), "cm-%d", rand_r(&w->rng) % OBJECTS);
        snprintf(path, sizeof(path), CM_PATH "/%s", name);
        snprintf(val, sizeof(val), "%d", rand_r(&w->rng));
        int op = rand_r(&w->rng) % 20;
        mesh_k8s_result_t r;
        int rc, del = 0;
        if (op < 8) {
            /* PUT without an RV (no precondition); create when missing. */
            json_t *o = json_pack("{s:s, s:s, s:{s:s}, s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap",
                                  "metadata", "name", name, "data", "v", val);
            char *body = json_dumps(o, JSON_COMPACT);
            rc = mesh_k8s_request(w->c, "PUT", path, "application/json", body, strlen(body), &r);
            if (rc != 0 && r.status == 404) {
                mesh_k8s_result_free(&r);
                rc = mesh_k8s_create(w->c, CM_PATH, o, &r);
            }
            free(body);
            json_decref(o);
        } else if (op < 17) {
            json_t *p = json_pack("{s:{s:s}}", "data", "p", val);
            rc = mesh_k8s_patch(w->c, path, MESH_K8S_PATCH_MERGE, p, &r);
            json_decref(p);
        } else {
            rc = mesh_k8s_delete(w->c, path, &r);
            del = 1;
        }
        if (rc == 0) {
            w->writes++;
            if (del)
                atomic_fetch_add(&deletes_made, 1);
            else
                stamp(&r); /* a delete's answer carries its RV too: not an add/update */
        } else if (r.status != 404 && r.status != 409) { /* races between the writers */
            w->failures++;
            fprintf(stderr, "write %s: %ld %s\n", path, r.status, r.message ? r.message : "");
        }
        mesh_k8s_result_free(&r);
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

static int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

START_TEST(test_reconnecting_informers_lose_no_event)
{
    int fails = 0;
    memset(written_at, 0, sizeof(written_at));
    atomic_store(&deletes_made, 0);
    kapi_proc_t srv = {0};
    ck_assert_msg(kapi_proc_start(&srv, HISTORY, BOOKMARK_INTERVAL, NULL, NULL, NULL) == 0, "cannot start apiserver/kubeapi.py");
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", srv.port);
    mesh_k8s_config_t *cfg = mesh_k8s_config_new_plain(url);
    mesh_k8s_client_opts_t fast = {.qps = -1, .max_retries = -1};
    /* The informers share a client with the default rate limits, as the
     * controllers' informers do. */
    mesh_k8s_client_opts_t dflt = {0};
    mesh_k8s_client_t *ctl = mesh_k8s_client_new(cfg, &fast);
    mesh_k8s_client_t *inf_client = mesh_k8s_client_new(cfg, &dflt);
    mesh_k8s_result_t r;
    json_t *ns = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Namespace", "metadata", "name", NS);
    CHECK(mesh_k8s_create(ctl, "/api/v1/namespaces", ns, &r) == 0);
    json_decref(ns);
    mesh_k8s_result_free(&r);

    mesh_k8s_source_t *src = mesh_k8s_source_api(inf_client);
    mesh_k8s_informer_t *inf[INFORMERS];
    seen_t seen[INFORMERS];
    for (int i = 0; i < INFORMERS; i++) {
        seen[i] = (seen_t){.mu = PTHREAD_MUTEX_INITIALIZER, .rvs = mesh_calloc(MAX_RVS, sizeof(long long))};
        mesh_k8s_informer_opts_t o = {0};
        o.res.version = "v1";
        o.res.resource = "configmaps";
        o.ns = NS;
        o.watch_timeout_min_s = 1;
        o.watch_timeout_max_s = 2; /* timeoutSeconds is 1 every time */
        inf[i] = mesh_k8s_informer_new(src, &o);
        ck_assert_ptr_nonnull(inf[i]);
        mesh_k8s_handler_t h = {h_add, h_update, h_delete, NULL, &seen[i]};
        mesh_k8s_informer_add_handler(inf[i], &h);
        mesh_k8s_informer_start(inf[i]);
    }
    for (int i = 0; i < INFORMERS; i++)
        CHECK(mesh_k8s_informer_wait_synced(inf[i], 5000));

    writer_t w[WRITERS];
    pthread_t wt[WRITERS];
    uint64_t until = mesh_k8s_now_ms() + WRITE_MS;
    for (int i = 0; i < WRITERS; i++) {
        w[i] = (writer_t){.c = mesh_k8s_client_new(cfg, &fast), .rng = 7u + (unsigned)i, .until_ms = until};
        pthread_create(&wt[i], NULL, write_loop, &w[i]);
    }
    unsigned long writes = 0, failures = 0;
    for (int i = 0; i < WRITERS; i++) {
        pthread_join(wt[i], NULL);
        writes += w[i].writes;
        failures += w[i].failures;
        mesh_k8s_client_free(w[i].c);
    }

    /* The truth, and the RVs every informer must have seen. */
    CHECK(mesh_k8s_list(ctl, CM_PATH, &r) == 0);
    const char *final_rv_s = json_string_value(json_object_get(json_object_get(r.body, "metadata"), "resourceVersion"));
    long long final_rv = final_rv_s ? strtoll(final_rv_s, NULL, 10) : -1;
    json_t *truth = json_object();
    size_t idx;
    json_t *o;
    json_array_foreach(json_object_get(r.body, "items"), idx, o) {
        char *k = mesh_k8s_object_key(o);
        json_object_set(truth, k, json_object_get(json_object_get(o, "metadata"), "resourceVersion"));
        mesh_free(k);
    }
    mesh_k8s_result_free(&r);
    long long *want = mesh_calloc(MAX_RVS, sizeof(long long));
    size_t nwant = 0;
    for (long long rv = 1; rv < MAX_RVS; rv++)
        if (atomic_load(&written_at[rv]) != 0)
            want[nwant++] = rv;
    unsigned long ndel = atomic_load(&deletes_made);
    CHECK(failures == 0);
    CHECK(writes >= MIN_WRITES);
    CHECK(nwant + ndel == writes); /* each write made exactly one event */

    /* Catch up: every informer's last RV reaches the final one. */
    uint64_t t0 = mesh_k8s_now_ms();
    for (int i = 0; i < INFORMERS; i++) {
        for (;;) {
            char *lrv = mesh_k8s_informer_last_rv(inf[i]);
            long long v = lrv ? strtoll(lrv, NULL, 10) : -1;
            mesh_free(lrv);
            if (v >= final_rv || mesh_k8s_now_ms() - t0 > CATCH_UP_MS)
                break;
            usleep(10000);
        }
    }
    uint64_t worst = 0;
    unsigned long watches = 0, watch_errors = 0, bookmarks = 0;
    for (int i = 0; i < INFORMERS; i++) {
        mesh_k8s_informer_stop(inf[i]);
        mesh_k8s_informer_stats_t st;
        mesh_k8s_informer_stats(inf[i], &st);
        watches += st.watches;
        watch_errors += st.watch_errors;
        bookmarks += st.bookmarks;
        CHECK(st.relists == 0);
        CHECK(st.watches >= 4); /* it did reconnect */
        seen_t *s = &seen[i];
        size_t out_of_order = 0, missing = 0, extra = 0;
        for (size_t j = 1; j < s->n; j++)
            if (s->rvs[j] <= s->rvs[j - 1])
                out_of_order++;
        qsort(s->rvs, s->n, sizeof(long long), cmp_ll);
        size_t a = 0, b = 0;
        long long first_missing = -1;
        while (a < nwant || b < s->n) {
            if (b >= s->n || (a < nwant && want[a] < s->rvs[b])) {
                if (first_missing < 0)
                    first_missing = want[a];
                missing++;
                a++;
            } else if (a >= nwant || s->rvs[b] < want[a]) {
                extra++;
                b++;
            } else {
                a++;
                b++;
            }
        }
        json_t *mine = json_object();
        mesh_k8s_informer_foreach(inf[i], collect_rv, mine);
        int same = json_equal(mine, truth);
        json_decref(mine);
        if (out_of_order || missing || extra || s->deletes != ndel || !same)
            fprintf(stderr, "informer %d: %zu out of order, %zu missing (first %lld), %zu extra, "
                    "%lu/%lu deletes, cache %s truth\n", i, out_of_order, missing, first_missing, extra,
                    s->deletes, ndel, same ? "equals" : "differs from");
        CHECK(out_of_order == 0);
        CHECK(missing == 0);
        CHECK(extra == 0);
        CHECK(s->deletes == ndel);
        CHECK(same);
        if (s->worst_delay_ms > worst)
            worst = s->worst_delay_ms;
    }
    fprintf(stderr, "k8s-watch-race: %lu writes (%lu deletes) to RV %lld, %d informers: %lu watches, "
            "%lu watch errors, %lu bookmarks, worst write-to-handler delay %llu ms, caught up in %llu ms\n",
            writes, ndel, final_rv, INFORMERS, watches, watch_errors, bookmarks, (unsigned long long)worst,
            (unsigned long long)(mesh_k8s_now_ms() - t0));

    for (int i = 0; i < INFORMERS; i++) {
        mesh_k8s_informer_free(inf[i]);
        mesh_free(seen[i].rvs);
    }
    mesh_free(want);
    json_decref(truth);
    mesh_k8s_source_free(src);
    mesh_k8s_client_free(inf_client);
    mesh_k8s_client_free(ctl);
    mesh_k8s_config_free(cfg);
    kapi_proc_stop(&srv);
    ck_assert_int_eq(fails, 0);
}
END_TEST

Suite *k8s_watch_race_suite(void)
{
    Suite *s = suite_create("k8s_watch_race");
    TCase *tc = tcase_create("apiserver");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_reconnecting_informers_lose_no_event);
    suite_add_tcase(s, tc);
    return s;
}
