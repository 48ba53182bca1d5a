/* The watcher: first messages, diffs under churn, sync gate, overflow, profiles. */
#include <arpa/inet.h>
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "destination.pb-c.h"
#include "dst/queue.h"
#include "dst/watcher.h"

typedef Io__Linkerd__Proxy__Destination__Update upd_t;

static const dst_config_t CFG = {"cmesh", "cluster.local", "cluster.local", "3306", true};

typedef struct {
    dst_queue_t q;
    int ended, status;
} fake_t;

static int f_send(void *ud, dst_blob_t *b) { return dst_queue_push(&((fake_t *)ud)->q, b); }
static void f_end(void *ud, int status, const char *msg)
{
    (void)msg;
    fake_t *f = ud;
    f->ended++;
    f->status = status;
}

static void fake_init(fake_t *f, size_t cap, dst_sink_t *sink)
{
    memset(f, 0, sizeof *f);
    ck_assert_int_eq(dst_queue_init(&f->q, cap), 0);
    sink->send = f_send;
    sink->end = f_end;
    sink->ud = f;
}

static upd_t *next_upd(fake_t *f)
{
    dst_blob_t *b = NULL;
    if (dst_queue_pop(&f->q, &b, 0) != 1)
        return NULL;
    upd_t *u = io__linkerd__proxy__destination__update__unpack(NULL, b->len, b->data);
    dst_blob_unref(b);
    ck_assert_ptr_nonnull(u);
    return u;
}

static void ufree(upd_t *u) { io__linkerd__proxy__destination__update__free_unpacked(u, NULL); }

static json_t *J(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static json_t *J(const char *fmt, ...)
{
    static char buf[16384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    json_error_t e;
    json_t *j = json_loads(buf, 0, &e);
    ck_assert_msg(j != NULL, "bad json %s: %s", e.text, buf);
    return j;
}

static void apply(dst_watcher_t *w, dst_res_t r, json_t *o)
{
    dst_watcher_apply(w, r, NULL, o);
    json_decref(o);
}

static void del(dst_watcher_t *w, dst_res_t r, json_t *o)
{
    dst_watcher_apply(w, r, o, NULL);
    json_decref(o);
}

static json_t *svc(const char *name)
{
    return J("{\"metadata\":{\"name\":\"%s\",\"namespace\":\"demo\"},\"spec\":{\"clusterIP\":\"10.96.0.10\","
             "\"ports\":[{\"port\":80,\"targetPort\":8080}]}}", name);
}

/* A slice of web with IPs 10.0.0.<first..first+n-1>, the last one's ready = ready_last. */
static json_t *slice(const char *name, int first, int n, const char *ready_last)
{
    char eps[8192] = "";
    size_t off = 0;
    for (int i = 0; i < n; i++)
        off += (size_t)snprintf(eps + off, sizeof eps - off,
                                "%s{\"addresses\":[\"10.0.0.%d\"],\"conditions\":{\"ready\":%s},"
                                "\"targetRef\":{\"kind\":\"Pod\",\"namespace\":\"demo\",\"name\":\"p%d\"}}",
                                i ? "," : "", first + i, i == n - 1 ? ready_last : "true", first + i);
    return J("{\"metadata\":{\"name\":\"%s\",\"namespace\":\"demo\",\"labels\":{\"kubernetes.io/service-name\":\"web\"}},"
             "\"addressType\":\"IPv4\",\"endpoints\":[%s],\"ports\":[{\"port\":8080}]}", name, eps);
}

static dst_authority_t auth(const char *path)
{
    dst_authority_t a;
    ck_assert_int_eq(dst_authority_parse(path, "cluster.local", &a), DST_AUTH_OK);
    return a;
}

static int has_ip(const Io__Linkerd__Proxy__Net__TcpAddress *t, int last_octet)
{
    return t->ip->ipv4 == (0x0A000000u | (unsigned)last_octet);
}

START_TEST(test_watcher_first_and_diffs)
{
    dst_watcher_t *w = dst_watcher_new(&CFG);
    apply(w, DST_RES_SERVICE, svc("web"));
    apply(w, DST_RES_SLICE, slice("web-a", 1, 2, "true"));
    dst_watcher_set_synced(w);
    fake_t f;
    dst_sink_t sink;
    fake_init(&f, 16, &sink);
    dst_sub_t *s;
    dst_authority_t a = auth("web.demo.svc.cluster.local:80");
    ck_assert_int_eq(dst_watcher_subscribe(w, &a, &sink, 0, &s), DST_OK);
    upd_t *u = next_upd(&f);
    ck_assert_int_eq(u->update_case, IO__LINKERD__PROXY__DESTINATION__UPDATE__UPDATE_ADD);
    ck_assert_uint_eq(u->add->n_addrs, 2);
    ck_assert_uint_eq(u->add->addrs[0]->addr->port, 8080);
    ufree(u);
    ck_assert_ptr_null(next_upd(&f));

    /* scale up with a second slice */
    apply(w, DST_RES_SLICE, slice("web-b", 3, 1, "true"));
    u = next_upd(&f);
    ck_assert_int_eq(u->update_case, IO__LINKERD__PROXY__DESTINATION__UPDATE__UPDATE_ADD);
    ck_assert_uint_eq(u->add->n_addrs, 1);
    ck_assert(has_ip(u->add->addrs[0]->addr, 3));
    ufree(u);
    /* readiness flip of 10.0.0.2 */
    apply(w, DST_RES_SLICE, slice("web-a", 1, 2, "false"));
    u = next_upd(&f);
    ck_assert_int_eq(u->update_case, IO__LINKERD__PROXY__DESTINATION__UPDATE__UPDATE_REMOVE);
    ck_assert_uint_eq(u->remove->n_addrs, 1);
    ck_assert(has_ip(u->remove->addrs[0], 2));
    ufree(u);
    /* no-op change sends nothing */
    apply(w, DST_RES_SLICE, slice("web-a", 1, 2, "false"));
    ck_assert_ptr_null(next_upd(&f));
    /* a pod appearing changes labels: re-add of that endpoint */
    apply(w, DST_RES_POD, J("{\"metadata\":{\"name\":\"p3\",\"namespace\":\"demo\"},\"spec\":{\"serviceAccountName\":\"x\"}}"));
    u = next_upd(&f);
    ck_assert_int_eq(u->update_case, IO__LINKERD__PROXY__DESTINATION__UPDATE__UPDATE_ADD);
    ck_assert_uint_eq(u->add->n_addrs, 1);
    ck_assert(has_ip(u->add->addrs[0]->addr, 3));
    ufree(u);
    /* scale to zero */
    del(w, DST_RES_SLICE, slice("web-b", 3, 1, "true"));
    ufree(next_upd(&f));
    del(w, DST_RES_SLICE, slice("web-a", 1, 2, "true"));
    u = next_upd(&f);
    ck_assert_int_eq(u->update_case, IO__LINKERD__PROXY__DESTINATION__UPDATE__UPDATE_NO_ENDPOINTS);
    ck_assert(u->no_endpoints->exists);
    ufree(u);
    /* back up: a full add */
    apply(w, DST_RES_SLICE, slice("web-a", 1, 2, "true"));
    u = next_upd(&f);
    ck_assert_int_eq(u->update_case, IO__LINKERD__PROXY__DESTINATION__UPDATE__UPDATE_ADD);
    ck_assert_uint_eq(u->add->n_addrs, 2);
    ufree(u);
    /* service deleted */
    del(w, DST_RES_SERVICE, svc("web"));
    u = next_upd(&f);
    ck_assert_int_eq(u->update_case, IO__LINKERD__PROXY__DESTINATION__UPDATE__UPDATE_NO_ENDPOINTS);
    ck_assert(!u->no_endpoints->exists);
    ufree(u);
    dst_watcher_stats_t st;
    dst_watcher_stats(w, &st);
    ck_assert_uint_eq(st.streams, 1);
    ck_assert_uint_eq(st.updates_sent, 8);
    dst_watcher_unsubscribe(w, s);
    dst_watcher_stats(w, &st);
    ck_assert_uint_eq(st.streams, 0);
    ck_assert_uint_eq(st.topics, 0);
    dst_queue_destroy(&f.q);
    dst_watcher_free(w);
}
END_TEST

START_TEST(test_watcher_unknown_empty_and_invalid)
{
    dst_watcher_t *w = dst_watcher_new(&CFG);
    apply(w, DST_RES_SERVICE, svc("empty"));
    apply(w, DST_RES_SERVICE, J("{\"metadata\":{\"name\":\"ext\",\"namespace\":\"demo\"},\"spec\":{\"type\":\"ExternalName\"}}"));
    dst_watcher_set_synced(w);
    fake_t f1, f2;
    dst_sink_t k1, k2;
    fake_init(&f1, 4, &k1);
    fake_init(&f2, 4, &k2);
    dst_sub_t *s1, *s2, *s3;
    dst_authority_t a = auth("nope.demo.svc.cluster.local:80");
    ck_assert_int_eq(dst_watcher_subscribe(w, &a, &k1, 0, &s1), DST_OK);
    upd_t *u = next_upd(&f1);
    ck_assert_int_eq(u->update_case, IO__LINKERD__PROXY__DESTINATION__UPDATE__UPDATE_NO_ENDPOINTS);
    ck_assert(!u->no_endpoints->exists);
    ufree(u);
    a = auth("empty.demo.svc.cluster.local:80");
    ck_assert_int_eq(dst_watcher_subscribe(w, &a, &k2, 0, &s2), DST_OK);
    u = next_upd(&f2);
    ck_assert(u->no_endpoints->exists);
    ufree(u);
    a = auth("ext.demo.svc.cluster.local:80");
    ck_assert_int_eq(dst_watcher_subscribe(w, &a, &k2, 0, &s3), DST_STATUS_INVALID_ARGUMENT);
    ck_assert_ptr_null(s3);
    a = auth("10.0.0.1:80");
    ck_assert_int_eq(dst_watcher_subscribe(w, &a, &k2, 0, &s3), DST_STATUS_INVALID_ARGUMENT);
    /* the unknown service appears */
    apply(w, DST_RES_SERVICE, J("{\"metadata\":{\"name\":\"nope\",\"namespace\":\"demo\"},\"spec\":{\"ports\":[{\"port\":80}]}}"));
    u = next_upd(&f1);
    ck_assert(u->no_endpoints->exists);
    ufree(u);
    dst_watcher_unsubscribe(w, s1);
    dst_watcher_unsubscribe(w, s2);
    dst_queue_destroy(&f1.q);
    dst_queue_destroy(&f2.q);
    dst_watcher_free(w);
}
END_TEST

START_TEST(test_watcher_sync_gate)
{
    dst_watcher_t *w = dst_watcher_new(&CFG);
    fake_t f1, f2;
    dst_sink_t k1, k2;
    fake_init(&f1, 4, &k1);
    fake_init(&f2, 4, &k2);
    dst_sub_t *s1, *s2;
    dst_authority_t a = auth("web.demo.svc.cluster.local:80");
    ck_assert_int_eq(dst_watcher_subscribe(w, &a, &k1, 1000, &s1), DST_OK);
    ck_assert_int_eq(dst_watcher_subscribe(w, &a, &k2, 2500, &s2), DST_OK);
    apply(w, DST_RES_SERVICE, svc("web"));
    apply(w, DST_RES_SLICE, slice("web-a", 1, 3, "true"));
    ck_assert_ptr_null(next_upd(&f1));
    /* s1 waited 2 s: Unavailable; s2 has not yet */
    dst_watcher_expire_pending(w, 3000, DST_SYNC_WAIT_MS);
    ck_assert_int_eq(f1.ended, 1);
    ck_assert_int_eq(f1.status, DST_STATUS_UNAVAILABLE);
    ck_assert_int_eq(f2.ended, 0);
    dst_watcher_set_synced(w);
    upd_t *u = next_upd(&f2);
    ck_assert_int_eq(u->update_case, IO__LINKERD__PROXY__DESTINATION__UPDATE__UPDATE_ADD);
    ck_assert_uint_eq(u->add->n_addrs, 3);
    ufree(u);
    ck_assert_ptr_null(next_upd(&f1));
    dst_watcher_unsubscribe(w, s1);
    dst_watcher_unsubscribe(w, s2);
    dst_queue_destroy(&f1.q);
    dst_queue_destroy(&f2.q);
    dst_watcher_free(w);
}
END_TEST

START_TEST(test_watcher_overflow_isolated)
{
    dst_watcher_t *w = dst_watcher_new(&CFG);
    apply(w, DST_RES_SERVICE, svc("web"));
    apply(w, DST_RES_SLICE, slice("web-a", 1, 1, "true"));
    dst_watcher_set_synced(w);
    fake_t slow, fast;
    dst_sink_t ks, kf;
    fake_init(&slow, 3, &ks);
    fake_init(&fast, 64, &kf);
    dst_sub_t *s1, *s2;
    dst_authority_t a = auth("web.demo.svc.cluster.local:80");
    ck_assert_int_eq(dst_watcher_subscribe(w, &a, &ks, 0, &s1), DST_OK);
    ck_assert_int_eq(dst_watcher_subscribe(w, &a, &kf, 0, &s2), DST_OK);
    for (int i = 2; i < 12; i++) {
        apply(w, DST_RES_SLICE, slice("web-a", 1, i, "true"));
        /* the fast reader keeps up */
        dst_blob_t *b;
        while (dst_queue_pop(&fast.q, &b, 0) == 1)
            dst_blob_unref(b);
    }
    ck_assert_int_eq(slow.ended, 1);
    ck_assert_int_eq(slow.status, DST_STATUS_RESOURCE_EXHAUSTED);
    ck_assert_int_eq(fast.ended, 0);
    dst_watcher_stats_t st;
    dst_watcher_stats(w, &st);
    ck_assert_uint_eq(st.overflows, 1);
    apply(w, DST_RES_SLICE, slice("web-a", 1, 20, "true"));
    upd_t *u = next_upd(&fast);
    ck_assert_uint_eq(u->add->n_addrs, 9);
    ufree(u);
    dst_watcher_unsubscribe(w, s1);
    dst_watcher_unsubscribe(w, s2);
    dst_queue_destroy(&slow.q);
    dst_queue_destroy(&fast.q);
    dst_watcher_free(w);
}
END_TEST

typedef Io__Linkerd__Proxy__Destination__DestinationProfile prof_t;
static prof_t *next_prof(fake_t *f)
{
    dst_blob_t *b = NULL;
    if (dst_queue_pop(&f->q, &b, 0) != 1)
        return NULL;
    prof_t *p = io__linkerd__proxy__destination__destination_profile__unpack(NULL, b->len, b->data);
    dst_blob_unref(b);
    return p;
}

START_TEST(test_watcher_profiles)
{
    dst_watcher_t *w = dst_watcher_new(&CFG);
    apply(w, DST_RES_SERVICE, svc("web"));
    apply(w, DST_RES_POD, J("{\"metadata\":{\"name\":\"p9\",\"namespace\":\"demo\",\"labels\":{\"linkerd.io/control-plane-ns\":\"cmesh\"}},"
                            "\"status\":{\"podIP\":\"10.0.0.9\"}}"));
    dst_watcher_set_synced(w);
    fake_t f1, f2, f3;
    dst_sink_t k1, k2, k3;
    fake_init(&f1, 8, &k1);
    fake_init(&f2, 8, &k2);
    fake_init(&f3, 8, &k3);
    dst_sub_t *s1, *s2, *s3;
    dst_authority_t a = auth("web.demo.svc.cluster.local:80");
    ck_assert_int_eq(dst_watcher_subscribe_profile(w, &a, &k1, 0, &s1), DST_OK);
    prof_t *p = next_prof(&f1);
    ck_assert_str_eq(p->fully_qualified_name, "web.demo.svc.cluster.local");
    ck_assert_uint_eq(p->n_dst_overrides, 0);
    io__linkerd__proxy__destination__destination_profile__free_unpacked(p, NULL);
    /* cluster IP resolves to the service */
    a = auth("10.96.0.10:80");
    ck_assert_int_eq(dst_watcher_subscribe_profile(w, &a, &k2, 0, &s2), DST_OK);
    p = next_prof(&f2);
    ck_assert_str_eq(p->fully_qualified_name, "web.demo.svc.cluster.local");
    io__linkerd__proxy__destination__destination_profile__free_unpacked(p, NULL);
    /* pod IP: endpoint profile */
    a = auth("10.0.0.9:3306");
    ck_assert_int_eq(dst_watcher_subscribe_profile(w, &a, &k3, 0, &s3), DST_OK);
    p = next_prof(&f3);
    ck_assert_ptr_nonnull(p->endpoint);
    ck_assert(p->opaque_protocol);
    ck_assert_str_eq(p->endpoint->tls_identity->dns_like_identity->name,
                     "default.demo.serviceaccount.identity.cmesh.cluster.local");
    io__linkerd__proxy__destination__destination_profile__free_unpacked(p, NULL);
    /* a split appears, then is edited; an unrelated change sends nothing */
    apply(w, DST_RES_SPLIT, J("{\"metadata\":{\"name\":\"s\",\"namespace\":\"demo\"},\"spec\":{\"service\":\"web\","
                              "\"backends\":[{\"service\":\"web-v1\",\"weight\":\"900m\"},{\"service\":\"web-v2\",\"weight\":\"100m\"}]}}"));
    p = next_prof(&f1);
    ck_assert_uint_eq(p->n_dst_overrides, 2);
    ck_assert_uint_eq(p->dst_overrides[0]->weight, 9000);
    io__linkerd__proxy__destination__destination_profile__free_unpacked(p, NULL);
    apply(w, DST_RES_SPLIT, J("{\"metadata\":{\"name\":\"s\",\"namespace\":\"demo\"},\"spec\":{\"service\":\"web\","
                              "\"backends\":[{\"service\":\"web-v1\",\"weight\":\"500m\"},{\"service\":\"web-v2\",\"weight\":\"500m\"}]}}"));
    p = next_prof(&f1);
    ck_assert_uint_eq(p->dst_overrides[0]->weight, 5000);
    io__linkerd__proxy__destination__destination_profile__free_unpacked(p, NULL);
    apply(w, DST_RES_POD, J("{\"metadata\":{\"name\":\"other\",\"namespace\":\"demo\"}}"));
    ck_assert_ptr_null(next_prof(&f1));
    /* a ServiceProfile with overrides wins */
    apply(w, DST_RES_PROFILE, J("{\"metadata\":{\"name\":\"web.demo.svc.cluster.local\",\"namespace\":\"demo\"},"
                                "\"spec\":{\"dstOverrides\":[{\"authority\":\"web-v3\",\"weight\":1}]}}"));
    p = next_prof(&f1);
    ck_assert_uint_eq(p->n_dst_overrides, 1);
    ck_assert_str_eq(p->dst_overrides[0]->authority, "web-v3.demo.svc.cluster.local:80");
    io__linkerd__proxy__destination__destination_profile__free_unpacked(p, NULL);
    dst_watcher_unsubscribe(w, s1);
    dst_watcher_unsubscribe(w, s2);
    dst_watcher_unsubscribe(w, s3);
    dst_queue_destroy(&f1.q);
    dst_queue_destroy(&f2.q);
    dst_queue_destroy(&f3.q);
    dst_watcher_free(w);
}
END_TEST

/* A TrafficSplit as one version's informer reports it. */
static json_t *split_at(const char *ver, int rv, const char *w1, const char *w2)
{
    return J("{\"apiVersion\":\"split.smi-spec.io/%s\",\"metadata\":{\"name\":\"s\",\"namespace\":\"demo\","
             "\"resourceVersion\":\"%d\"},\"spec\":{\"service\":\"web\",\"backends\":[{\"service\":\"web-v1\","
             "\"weight\":\"%s\"},{\"service\":\"web-v2\",\"weight\":\"%s\"}]}}", ver, rv, w1, w2);
}

static uint32_t first_weight(fake_t *f, int *got)
{
    prof_t *p = next_prof(f);
    *got = p != NULL;
    uint32_t wt = p && p->n_dst_overrides ? p->dst_overrides[0]->weight : 0;
    if (p)
        io__linkerd__proxy__destination__destination_profile__free_unpacked(p, NULL);
    return wt;
}

/* Two informers (v1alpha1, v1alpha2) see one split; the lagging one must
 * never bring back an older state or a deleted split. */
START_TEST(test_watcher_split_versions_newest_wins)
{
    dst_watcher_t *w = dst_watcher_new(&CFG);
    apply(w, DST_RES_SERVICE, svc("web"));
    dst_watcher_set_synced(w);
    fake_t f;
    dst_sink_t k;
    fake_init(&f, 16, &k);
    dst_sub_t *s;
    dst_authority_t a = auth("web.demo.svc.cluster.local:80");
    ck_assert_int_eq(dst_watcher_subscribe_profile(w, &a, &k, 0, &s), DST_OK);
    int got;
    first_weight(&f, &got);
    ck_assert(got);
    apply(w, DST_RES_SPLIT, split_at("v1alpha2", 10, "900m", "100m"));
    ck_assert_uint_eq(first_weight(&f, &got), 9000);
    apply(w, DST_RES_SPLIT, split_at("v1alpha2", 12, "500m", "500m"));
    ck_assert_uint_eq(first_weight(&f, &got), 5000);
    /* the v1alpha1 informer catches up: nothing changes */
    apply(w, DST_RES_SPLIT, split_at("v1alpha1", 10, "900m", "100m"));
    first_weight(&f, &got);
    ck_assert(!got);
    apply(w, DST_RES_SPLIT, split_at("v1alpha1", 12, "500m", "500m"));
    first_weight(&f, &got);
    ck_assert(!got);
    /* deleted through one version: gone, and the other's stale view or
     * late delete do not bring it back */
    del(w, DST_RES_SPLIT, split_at("v1alpha2", 13, "500m", "500m"));
    ck_assert_uint_eq(first_weight(&f, &got), 0);
    ck_assert(got);
    apply(w, DST_RES_SPLIT, split_at("v1alpha1", 12, "500m", "500m"));
    del(w, DST_RES_SPLIT, split_at("v1alpha1", 12, "500m", "500m"));
    first_weight(&f, &got);
    ck_assert(!got);
    /* created again, later */
    apply(w, DST_RES_SPLIT, split_at("v1alpha1", 20, "300m", "700m"));
    ck_assert_uint_eq(first_weight(&f, &got), 3000);
    dst_watcher_unsubscribe(w, s);
    dst_queue_destroy(&f.q);
    dst_watcher_free(w);
}
END_TEST

START_TEST(test_watcher_transform)
{
    json_t *pod = J("{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\",\"namespace\":\"n\","
                    "\"managedFields\":[{}],\"labels\":{\"app\":\"x\",\"linkerd.io/control-plane-ns\":\"cmesh\"},"
                    "\"ownerReferences\":[{\"kind\":\"ReplicaSet\",\"name\":\"r\",\"uid\":\"u\"}]},"
                    "\"spec\":{\"containers\":[{\"name\":\"c\"}],\"serviceAccountName\":\"sa\"},\"status\":{\"podIP\":\"1.2.3.4\",\"phase\":\"Running\"}}");
    json_t *t = dst_watcher_transform(pod, (void *)(intptr_t)DST_RES_POD);
    ck_assert_ptr_null(json_object_get(json_object_get(t, "metadata"), "managedFields"));
    ck_assert_ptr_null(json_object_get(json_object_get(json_object_get(t, "metadata"), "labels"), "app"));
    ck_assert_ptr_nonnull(json_object_get(json_object_get(json_object_get(t, "metadata"), "labels"), "linkerd.io/control-plane-ns"));
    ck_assert_ptr_null(json_object_get(json_object_get(t, "spec"), "containers"));
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(t, "status"), "podIP")), "1.2.3.4");
    ck_assert_ptr_null(json_object_get(json_object_get(t, "status"), "phase"));
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(json_object_get(t, "metadata"), "ownerReferences"), 0), "name")), "r");
    json_decref(t);
    /* named container ports are kept (name and number only), others dropped */
    pod = J("{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"ports\":"
            "[{\"containerPort\":80},{\"name\":\"http\",\"containerPort\":8080,\"protocol\":\"TCP\"}]}]}}");
    t = dst_watcher_transform(pod, (void *)(intptr_t)DST_RES_POD);
    json_t *ctr = json_array_get(json_object_get(json_object_get(t, "spec"), "containers"), 0);
    ck_assert_ptr_null(json_object_get(ctr, "image"));
    ck_assert_uint_eq(json_array_size(json_object_get(ctr, "ports")), 1);
    json_t *pt = json_array_get(json_object_get(ctr, "ports"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(pt, "name")), "http");
    ck_assert_int_eq(json_integer_value(json_object_get(pt, "containerPort")), 8080);
    ck_assert_ptr_null(json_object_get(pt, "protocol"));
    json_decref(t);
}
END_TEST

Suite *dst_watcher_suite(void)
{
    Suite *s = suite_create("dst_watcher");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_watcher_first_and_diffs);
    tcase_add_test(tc, test_watcher_unknown_empty_and_invalid);
    tcase_add_test(tc, test_watcher_sync_gate);
    tcase_add_test(tc, test_watcher_overflow_isolated);
    tcase_add_test(tc, test_watcher_profiles);
    tcase_add_test(tc, test_watcher_split_versions_newest_wins);
    tcase_add_test(tc, test_watcher_transform);
    suite_add_tcase(s, tc);
    return s;
}
