/* The objects-dir source: add, modify, delete, multi-document files, List,
 * filtering by resource and selector, synthetic resourceVersions. */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mesh/k8s_informer.h"

static char dir[64];

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/cmesh-objdir-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static void put(const char *name, const char *text)
{
    char p[256], tmp[256];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name);
    FILE *f = fopen(tmp, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    ck_assert_int_eq(rename(tmp, p), 0); /* atomic, like kubelet's ..data swap */
}

typedef struct {
    pthread_mutex_t mu;
    char log[4096];
    int n;
} rec_t;

static void rec(rec_t *r, const char *op, const json_t *o)
{
    json_t *md = json_object_get(o, "metadata");
    pthread_mutex_lock(&r->mu);
    size_t n = strlen(r->log);
    snprintf(r->log + n, sizeof(r->log) - n, "%s:%s;", op, json_string_value(json_object_get(md, "name")));
    r->n++;
    pthread_mutex_unlock(&r->mu);
}
static void on_add(const json_t *o, void *ud) { rec(ud, "add", o); }
static void on_update(const json_t *old, const json_t *o, void *ud)
{
    /* Synthetic RVs change with the content. */
    const char *a = json_string_value(json_object_get(json_object_get(old, "metadata"), "resourceVersion"));
    const char *b = json_string_value(json_object_get(json_object_get(o, "metadata"), "resourceVersion"));
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_str_ne(a, b);
    rec(ud, "upd", o);
}
static void on_delete(const json_t *o, void *ud) { rec(ud, "del", o); }

/* Waits until the log has at least n entries, then returns and clears it. */
static void wait_log(rec_t *r, int n, char *out, size_t cap)
{
    for (int i = 0; i < 400; i++) {
        pthread_mutex_lock(&r->mu);
        int have = r->n;
        pthread_mutex_unlock(&r->mu);
        if (have >= n)
            break;
        usleep(10000);
    }
    usleep(100000); /* nothing more should come */
    pthread_mutex_lock(&r->mu);
    snprintf(out, cap, "%s", r->log);
    r->log[0] = 0;
    r->n = 0;
    pthread_mutex_unlock(&r->mu);
}

START_TEST(test_objdir_diffs)
{
    put("a.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\nspec: {ports: [{port: 80}]}\n"
                  "---\napiVersion: v1\nkind: Pod\nmetadata: {name: p1, namespace: shop, labels: {app: web}}\n"
                  "---\napiVersion: v1\nkind: Pod\nmetadata: {name: p2, namespace: shop, labels: {app: db}}\n");
    put("b.json", "{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":["
                  "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p3\",\"namespace\":\"shop\",\"labels\":{\"app\":\"web\"}}},"
                  "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p4\",\"namespace\":\"other\",\"labels\":{\"app\":\"web\"}}}]}");
    put("ignored.txt", "apiVersion: v1\nkind: Pod\nmetadata: {name: nope, namespace: shop}\n");
    put("c.yaml", "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: web-1, namespace: shop}\n");

    mesh_k8s_source_t *src = mesh_k8s_source_objdir(dir, 60000); /* inotify must do the work */
    mesh_k8s_informer_opts_t o = {0};
    o.res.version = "v1";
    o.res.resource = "pods";
    o.ns = "shop";
    o.label_selector = "app=web";
    mesh_k8s_informer_t *inf = mesh_k8s_informer_new(src, &o);
    mesh_k8s_informer_opts_t eo = {0};
    eo.res.group = "discovery.k8s.io";
    eo.res.version = "v1";
    eo.res.resource = "endpointslices";
    mesh_k8s_informer_t *eps = mesh_k8s_informer_new(src, &eo);
    rec_t r = {.mu = PTHREAD_MUTEX_INITIALIZER};
    mesh_k8s_handler_t h = {on_add, on_update, on_delete, NULL, &r};
    mesh_k8s_informer_add_handler(inf, &h);
    ck_assert_int_eq(mesh_k8s_informer_start(inf), 0);
    ck_assert_int_eq(mesh_k8s_informer_start(eps), 0);
    ck_assert_int_eq(mesh_k8s_informer_wait_synced(inf, 5000), 1);
    ck_assert_int_eq(mesh_k8s_informer_wait_synced(eps, 5000), 1);
    char log[4096];
    wait_log(&r, 2, log, sizeof(log));
    /* p1 and p3 match (namespace shop, app=web); p2 (db), p4 (other ns), the
     * Service and the .txt do not. */
    ck_assert_msg(strcmp(log, "add:p1;add:p3;") == 0 || strcmp(log, "add:p3;add:p1;") == 0, "%s", log);
    ck_assert_uint_eq(mesh_k8s_informer_size(eps), 1);
    json_t *p1 = mesh_k8s_informer_get(inf, "shop", "p1");
    ck_assert_ptr_nonnull(p1);
    const char *rv1 = json_string_value(json_object_get(json_object_get(p1, "metadata"), "resourceVersion"));
    ck_assert_ptr_nonnull(rv1);
    ck_assert_int_ne(rv1[0], '0');
    json_decref(p1);

    /* Modify p1 (content change -> update), drop p2 (never seen -> nothing). */
    put("a.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: p1, namespace: shop, labels: {app: web}}\nspec: {x: 1}\n");
    wait_log(&r, 1, log, sizeof(log));
    ck_assert_str_eq(log, "upd:p1;");
    /* Rewriting the same content changes nothing. */
    put("a.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: p1, namespace: shop, labels: {app: web}}\nspec: {x: 1}\n");
    wait_log(&r, 1, log, sizeof(log));
    ck_assert_str_eq(log, "");
    /* A label change moves p3 out of the selector -> delete; a new file adds. */
    put("b.json", "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p3\",\"namespace\":\"shop\",\"labels\":{\"app\":\"db\"}}}");
    put("d.yml", "kind: Pod\napiVersion: v1\nmetadata:\n  name: p5\n  namespace: shop\n  labels:\n    app: web\n");
    wait_log(&r, 2, log, sizeof(log));
    ck_assert_msg(strcmp(log, "del:p3;add:p5;") == 0 || strcmp(log, "add:p5;del:p3;") == 0, "%s", log);
    /* A broken file is skipped as a whole: its objects vanish. */
    put("d.yml", "kind: Pod\n  bad: [indent\n");
    wait_log(&r, 1, log, sizeof(log));
    ck_assert_str_eq(log, "del:p5;");
    char p[256];
    snprintf(p, sizeof(p), "%s/a.yaml", dir);
    unlink(p);
    wait_log(&r, 1, log, sizeof(log));
    ck_assert_str_eq(log, "del:p1;");
    ck_assert_uint_eq(mesh_k8s_informer_size(inf), 0);

    uint64_t t0 = mesh_k8s_now_ms();
    mesh_k8s_informer_free(inf);
    mesh_k8s_informer_free(eps);
    ck_assert_uint_lt(mesh_k8s_now_ms() - t0, 500); /* stop does not wait for the recheck */
    mesh_k8s_source_free(src);
}
END_TEST

START_TEST(test_objdir_kind_from_resource)
{
    /* the plural rules used when no kind is given */
    mesh_k8s_source_t *src = mesh_k8s_source_objdir(dir, 50);
    put("x.yaml", "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: np, namespace: a}\n---\n"
                  "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: ing, namespace: a}\n---\n"
                  "apiVersion: split.smi-spec.io/v1alpha2\nkind: TrafficSplit\nmetadata: {name: ts, namespace: a}\n");
    const char *res[][3] = {{"networking.k8s.io", "networkpolicies", "a/np"},
                            {"networking.k8s.io", "ingresses", "a/ing"},
                            {"split.smi-spec.io", "trafficsplits", "a/ts"}};
    for (int i = 0; i < 3; i++) {
        mesh_k8s_informer_opts_t o = {0};
        o.res.group = res[i][0];
        o.res.version = i == 2 ? "v1alpha2" : "v1";
        o.res.resource = res[i][1];
        mesh_k8s_informer_t *inf = mesh_k8s_informer_new(src, &o);
        mesh_k8s_informer_start(inf);
        ck_assert_int_eq(mesh_k8s_informer_wait_synced(inf, 5000), 1);
        ck_assert_uint_eq(mesh_k8s_informer_size(inf), 1);
        json_t *obj = mesh_k8s_informer_get_key(inf, res[i][2]);
        ck_assert_ptr_nonnull(obj);
        json_decref(obj);
        mesh_k8s_informer_free(inf);
    }
    mesh_k8s_source_free(src);
}
END_TEST

Suite *k8s_objdir_suite(void)
{
    Suite *s = suite_create("k8s_objdir");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 30);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_objdir_diffs);
    tcase_add_test(tc, test_objdir_kind_from_resource);
    suite_add_tcase(s, tc);
    return s;
}
