/* Endpoint translator: slices + pods + service -> endpoint set, diffs, encoding. */
#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "destination.pb-c.h"
#include "dst/encode.h"
#include "dst/endpoints.h"
#include "mesh/mem.h"

static const dst_config_t CFG = {"cmesh", "cluster.local", "cluster.local",
                                 "25,587,3306,4444,5432,6379,9300,11211", true};

static json_t *J(const char *s)
{
    json_error_t e;
    json_t *j = json_loads(s, 0, &e);
    ck_assert_msg(j != NULL, "bad test json: %s: %s", e.text, s);
    return j;
}

/* Lookup over {"<kind>/<ns>/<name>": obj}. */
static json_t *objs;
static json_t *lookup(void *ud, dst_obj_kind_t kind, const char *ns, const char *name)
{
    (void)ud;
    char key[256];
    snprintf(key, sizeof key, "%d/%s/%s", (int)kind, ns, name);
    json_t *o = json_object_get(objs, key);
    return o ? json_incref(o) : NULL;
}
static const dst_lookup_t LK = {lookup, NULL};

static void put(dst_obj_kind_t kind, const char *ns, const char *name, const char *js)
{
    char key[256];
    snprintf(key, sizeof key, "%d/%s/%s", (int)kind, ns, name);
    json_object_set_new(objs, key, J(js));
}

static void setup(void) { objs = json_object(); }
static void teardown(void) { json_decref(objs); }

static const char *SVC =
    "{\"metadata\":{\"name\":\"web\",\"namespace\":\"demo\"},\"spec\":{\"ports\":["
    "{\"name\":\"http\",\"port\":80,\"targetPort\":\"http\"},"
    "{\"name\":\"admin\",\"port\":9000,\"targetPort\":9001},"
    "{\"name\":\"db\",\"port\":5432}]}}";

static json_t *slice(const char *addr_type, const char *eps, const char *ports)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "{\"addressType\":\"%s\",\"endpoints\":%s,\"ports\":%s}", addr_type, eps, ports);
    return J(buf);
}

static const dst_endpoint_t *find(const dst_endpoint_set_t *s, const char *ip, unsigned port)
{
    uint8_t b[16] = {0};
    int fam = strchr(ip, ':') ? AF_INET6 : AF_INET;
    ck_assert_int_eq(inet_pton(fam, ip, b), 1);
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].family == fam && memcmp(s->v[i].ip, b, sizeof b) == 0 && s->v[i].port == port)
            return &s->v[i];
    return NULL;
}

START_TEST(test_endpoints_ready_and_ports)
{
    json_t *svc = J(SVC);
    json_t *sl[2];
    sl[0] = slice("IPv4",
                  "[{\"addresses\":[\"10.0.0.2\"],\"conditions\":{\"ready\":true},\"zone\":\"z1\"},"
                  "{\"addresses\":[\"10.0.0.1\"]},"
                  "{\"addresses\":[\"10.0.0.3\"],\"conditions\":{\"ready\":false}},"
                  "{\"addresses\":[\"10.0.0.4\"],\"conditions\":{\"ready\":null}}]",
                  "[{\"name\":\"http\",\"port\":8080},{\"name\":\"admin\",\"port\":9001}]");
    sl[1] = slice("IPv6", "[{\"addresses\":[\"fd00::5\"]},{\"addresses\":[\"10.0.0.9\"]}]",
                  "[{\"name\":\"http\",\"port\":8080}]");
    dst_endpoint_set_t s = DST_ENDPOINT_SET_INIT;
    ck_assert_int_eq(dst_endpoints_translate(&CFG, svc, 80, NULL, sl, 2, &LK, &s), DST_OK);
    /* 10.0.0.3 not ready; "10.0.0.9" is not an IPv6 address; sorted v4 first. */
    ck_assert_uint_eq(s.n, 4);
    ck_assert_ptr_nonnull(find(&s, "10.0.0.1", 8080));
    ck_assert_ptr_nonnull(find(&s, "10.0.0.2", 8080));
    ck_assert_ptr_nonnull(find(&s, "10.0.0.4", 8080));
    ck_assert_ptr_nonnull(find(&s, "fd00::5", 8080));
    ck_assert_ptr_eq(find(&s, "10.0.0.1", 8080), &s.v[0]);
    ck_assert_int_eq(s.v[3].family, AF_INET6);
    ck_assert_str_eq(dst_endpoint_label(find(&s, "10.0.0.2", 8080), "zone"), "z1");
    ck_assert_str_eq(dst_endpoint_label(find(&s, "10.0.0.1", 8080), "zone"), "");
    ck_assert_uint_eq(s.v[0].weight, 10000);
    ck_assert_int_eq(s.v[0].hint, DST_HINT_NONE);
    ck_assert_ptr_null(s.v[0].identity);
    dst_endpoint_set_clear(&s);

    /* numeric targetPort 9001 */
    ck_assert_int_eq(dst_endpoints_translate(&CFG, svc, 9000, NULL, sl, 1, &LK, &s), DST_OK);
    ck_assert_uint_eq(s.n, 3);
    ck_assert_ptr_nonnull(find(&s, "10.0.0.1", 9001));
    dst_endpoint_set_clear(&s);
    /* no targetPort: the port itself */
    ck_assert_int_eq(dst_endpoints_translate(&CFG, svc, 5432, NULL, sl, 1, &LK, &s), DST_OK);
    ck_assert_ptr_nonnull(find(&s, "10.0.0.1", 5432));
    dst_endpoint_set_clear(&s);
    /* a port the service does not declare maps to itself */
    ck_assert_int_eq(dst_endpoints_translate(&CFG, svc, 7777, NULL, sl, 1, &LK, &s), DST_OK);
    ck_assert_ptr_nonnull(find(&s, "10.0.0.2", 7777));
    dst_endpoint_set_clear(&s);
    json_decref(sl[0]);
    json_decref(sl[1]);
    json_decref(svc);
}
END_TEST

START_TEST(test_endpoints_named_port_unresolved_and_dupes)
{
    json_t *svc = J(SVC);
    json_t *sl[3];
    sl[0] = slice("IPv4", "[{\"addresses\":[\"10.0.0.1\"]}]", "[{\"name\":\"other\",\"port\":1}]");
    sl[1] = slice("IPv4", "[{\"addresses\":[\"10.0.0.2\"]},{\"addresses\":[\"10.0.0.2\"]}]",
                  "[{\"name\":\"http\",\"port\":8080}]");
    sl[2] = slice("FQDN", "[{\"addresses\":[\"x.example\"]}]", "[{\"name\":\"http\",\"port\":8080}]");
    dst_endpoint_set_t s = DST_ENDPOINT_SET_INIT;
    ck_assert_int_eq(dst_endpoints_translate(&CFG, svc, 80, NULL, sl, 3, &LK, &s), DST_OK);
    ck_assert_uint_eq(s.n, 1);
    ck_assert_ptr_nonnull(find(&s, "10.0.0.2", 8080));
    dst_endpoint_set_clear(&s);
    for (int i = 0; i < 3; i++)
        json_decref(sl[i]);
    json_decref(svc);
}
END_TEST

START_TEST(test_endpoints_instance_filter)
{
    json_t *svc = J(SVC);
    json_t *sl = slice("IPv4", "[{\"addresses\":[\"10.0.0.1\"],\"hostname\":\"web-0\"},"
                               "{\"addresses\":[\"10.0.0.2\"],\"hostname\":\"web-1\"},{\"addresses\":[\"10.0.0.3\"]}]",
                       "[{\"name\":\"http\",\"port\":8080}]");
    dst_endpoint_set_t s = DST_ENDPOINT_SET_INIT;
    ck_assert_int_eq(dst_endpoints_translate(&CFG, svc, 80, "web-1", &sl, 1, &LK, &s), DST_OK);
    ck_assert_uint_eq(s.n, 1);
    ck_assert_ptr_nonnull(find(&s, "10.0.0.2", 8080));
    ck_assert_str_eq(s.v[0].hostname, "web-1");
    dst_endpoint_set_clear(&s);
    json_decref(sl);
    json_decref(svc);
}
END_TEST

static const char *EP_REF =
    "[{\"addresses\":[\"10.0.0.1\"],\"zone\":\"z1\",\"targetRef\":{\"kind\":\"Pod\",\"namespace\":\"demo\",\"name\":\"web-abc\"}},"
    " {\"addresses\":[\"10.0.0.2\"],\"targetRef\":{\"kind\":\"Pod\",\"namespace\":\"demo\",\"name\":\"job-xyz\"}},"
    " {\"addresses\":[\"10.0.0.3\"],\"targetRef\":{\"kind\":\"Pod\",\"namespace\":\"demo\",\"name\":\"db-0\"}}]";

START_TEST(test_endpoints_pods_owner_identity_hint)
{
    put(DST_OBJ_POD, "demo", "web-abc",
        "{\"metadata\":{\"name\":\"web-abc\",\"namespace\":\"demo\","
        "\"labels\":{\"linkerd.io/control-plane-ns\":\"cmesh\",\"pod-template-hash\":\"5d9c\"},"
        "\"ownerReferences\":[{\"kind\":\"ReplicaSet\",\"name\":\"web-5d9c\",\"controller\":true}]},"
        "\"spec\":{\"serviceAccountName\":\"web-sa\"}}");
    put(DST_OBJ_REPLICASET, "demo", "web-5d9c",
        "{\"metadata\":{\"name\":\"web-5d9c\",\"ownerReferences\":[{\"kind\":\"Deployment\",\"name\":\"web\",\"controller\":true}]}}");
    put(DST_OBJ_POD, "demo", "job-xyz",
        "{\"metadata\":{\"name\":\"job-xyz\",\"namespace\":\"demo\",\"ownerReferences\":[{\"kind\":\"Job\",\"name\":\"nightly-123\"}]}}");
    put(DST_OBJ_JOB, "demo", "nightly-123",
        "{\"metadata\":{\"name\":\"nightly-123\",\"ownerReferences\":[{\"kind\":\"CronJob\",\"name\":\"nightly\"}]}}");
    put(DST_OBJ_POD, "demo", "db-0",
        "{\"metadata\":{\"name\":\"db-0\",\"namespace\":\"demo\",\"labels\":{\"linkerd.io/control-plane-ns\":\"other\"},"
        "\"ownerReferences\":[{\"kind\":\"StatefulSet\",\"name\":\"db\"}]}}");
    json_t *svc = J(SVC);
    json_t *sl = slice("IPv4", EP_REF, "[{\"name\":\"http\",\"port\":8080}]");
    dst_endpoint_set_t s = DST_ENDPOINT_SET_INIT;
    ck_assert_int_eq(dst_endpoints_translate(&CFG, svc, 80, NULL, &sl, 1, &LK, &s), DST_OK);
    ck_assert_uint_eq(s.n, 3);
    const dst_endpoint_t *w = find(&s, "10.0.0.1", 8080);
    ck_assert_str_eq(dst_endpoint_label(w, "pod"), "web-abc");
    ck_assert_str_eq(dst_endpoint_label(w, "deployment"), "web");
    ck_assert_ptr_null(dst_endpoint_label(w, "replicaset"));
    ck_assert_str_eq(dst_endpoint_label(w, "serviceaccount"), "web-sa");
    ck_assert_str_eq(dst_endpoint_label(w, "control_plane_ns"), "cmesh");
    ck_assert_str_eq(dst_endpoint_label(w, "pod_template_hash"), "5d9c");
    ck_assert_str_eq(dst_endpoint_label(w, "zone"), "z1");
    ck_assert_str_eq(w->identity, "web-sa.demo.serviceaccount.identity.cmesh.cluster.local");
    ck_assert_int_eq(w->hint, DST_HINT_H2);

    const dst_endpoint_t *j = find(&s, "10.0.0.2", 8080);
    ck_assert_str_eq(dst_endpoint_label(j, "cronjob"), "nightly");
    ck_assert_str_eq(dst_endpoint_label(j, "serviceaccount"), "default");
    ck_assert_ptr_null(j->identity);
    ck_assert_int_eq(j->hint, DST_HINT_NONE);

    /* meshed by another control plane: no identity, no hint */
    const dst_endpoint_t *d = find(&s, "10.0.0.3", 8080);
    ck_assert_str_eq(dst_endpoint_label(d, "statefulset"), "db");
    ck_assert_ptr_null(d->identity);
    ck_assert_int_eq(d->hint, DST_HINT_NONE);
    dst_endpoint_set_clear(&s);

    /* Job without a CronJob owner, ReplicaSet unknown */
    json_object_set_new(objs, "3/demo/nightly-123", J("{\"metadata\":{\"name\":\"nightly-123\"}}"));
    json_object_del(objs, "2/demo/web-5d9c");
    ck_assert_int_eq(dst_endpoints_translate(&CFG, svc, 80, NULL, &sl, 1, &LK, &s), DST_OK);
    ck_assert_str_eq(dst_endpoint_label(find(&s, "10.0.0.2", 8080), "k8s_job"), "nightly-123");
    ck_assert_str_eq(dst_endpoint_label(find(&s, "10.0.0.1", 8080), "replicaset"), "web-5d9c");
    dst_endpoint_set_clear(&s);
    json_decref(sl);
    json_decref(svc);
}
END_TEST

START_TEST(test_endpoints_opaque_and_skip)
{
    put(DST_OBJ_POD, "demo", "web-abc",
        "{\"metadata\":{\"name\":\"web-abc\",\"namespace\":\"demo\","
        "\"labels\":{\"linkerd.io/control-plane-ns\":\"cmesh\"},"
        "\"annotations\":{\"config.linkerd.io/opaque-ports\":\"4000-4100, 8080\",\"config.linkerd.io/skip-inbound-ports\":\"9001\"}}}");
    put(DST_OBJ_POD, "demo", "db-0",
        "{\"metadata\":{\"name\":\"db-0\",\"namespace\":\"demo\",\"labels\":{\"linkerd.io/control-plane-ns\":\"cmesh\"}}}");
    json_t *svc = J(SVC);
    json_t *sl = slice("IPv4", EP_REF, "[{\"name\":\"http\",\"port\":8080},{\"name\":\"admin\",\"port\":9001}]");
    dst_endpoint_set_t s = DST_ENDPOINT_SET_INIT;
    ck_assert_int_eq(dst_endpoints_translate(&CFG, svc, 80, NULL, &sl, 1, &LK, &s), DST_OK);
    ck_assert_int_eq(find(&s, "10.0.0.1", 8080)->hint, DST_HINT_OPAQUE);
    ck_assert_int_eq(find(&s, "10.0.0.3", 8080)->hint, DST_HINT_H2);
    dst_endpoint_set_clear(&s);
    ck_assert_int_eq(dst_endpoints_translate(&CFG, svc, 9000, NULL, &sl, 1, &LK, &s), DST_OK);
    ck_assert_int_eq(find(&s, "10.0.0.1", 9001)->hint, DST_HINT_NONE); /* skipped port */
    ck_assert_ptr_null(find(&s, "10.0.0.1", 9001)->identity);
    dst_endpoint_set_clear(&s);
    ck_assert_int_eq(dst_endpoints_translate(&CFG, svc, 5432, NULL, &sl, 1, &LK, &s), DST_OK);
    ck_assert_int_eq(find(&s, "10.0.0.3", 5432)->hint, DST_HINT_OPAQUE); /* default list */
    ck_assert_int_eq(find(&s, "10.0.0.1", 5432)->hint, DST_HINT_H2);     /* annotation replaces it */
    dst_endpoint_set_clear(&s);
    dst_config_t noh2 = CFG;
    noh2.h2_upgrade = false;
    noh2.trust_domain = "";
    ck_assert_int_eq(dst_endpoints_translate(&noh2, svc, 80, NULL, &sl, 1, &LK, &s), DST_OK);
    ck_assert_int_eq(find(&s, "10.0.0.3", 8080)->hint, DST_HINT_NONE);
    ck_assert_ptr_null(find(&s, "10.0.0.3", 8080)->identity);
    dst_endpoint_set_clear(&s);
    json_decref(sl);
    json_decref(svc);
}
END_TEST

START_TEST(test_endpoints_named_opaque_ports)
{
    json_t *pod = J("{\"metadata\":{\"name\":\"db-0\",\"namespace\":\"demo\"},\"spec\":{\"containers\":["
                    "{\"ports\":[{\"name\":\"mysql\",\"containerPort\":3306},{\"name\":\"admin\",\"containerPort\":9001}]},"
                    "{\"ports\":[{\"name\":\"metrics\",\"containerPort\":9102}]}]}}");
    ck_assert(dst_pod_ports_contains(pod, "mysql", 3306));
    ck_assert(dst_pod_ports_contains(pod, " 25 , metrics ,4000-4001", 9102));
    ck_assert(dst_pod_ports_contains(pod, "25, metrics", 25));
    ck_assert(!dst_pod_ports_contains(pod, "mysql", 9001));   /* the name is another port's */
    ck_assert(!dst_pod_ports_contains(pod, "mysq", 3306));    /* no prefix matches */
    ck_assert(!dst_pod_ports_contains(pod, "unknown", 3306));
    ck_assert(!dst_pod_ports_contains(NULL, "mysql", 3306));
    ck_assert(!dst_pod_ports_contains(pod, NULL, 3306));
    ck_assert(!dst_pod_ports_contains(pod, "", 3306));
    /* A bad item between good ones changes nothing; a bad name is no name. */
    ck_assert(dst_pod_ports_contains(pod, "80x, Mysql ,my_sql,mysql", 3306));
    ck_assert(!dst_pod_ports_contains(pod, "80x, Mysql ,my_sql", 3306));
    ck_assert(dst_pod_ports_contains(pod, "bad!,metrics", 9102));
    ck_assert(!dst_pod_ports_contains(pod, "unknown", 0)); /* unresolved is not port 0 */
    json_decref(pod);

    /* through the translator: a name in the pod's annotation makes its port opaque */
    put(DST_OBJ_POD, "demo", "web-abc",
        "{\"metadata\":{\"name\":\"web-abc\",\"namespace\":\"demo\","
        "\"labels\":{\"linkerd.io/control-plane-ns\":\"cmesh\"},"
        "\"annotations\":{\"config.linkerd.io/opaque-ports\":\"http\",\"config.linkerd.io/skip-inbound-ports\":\"admin\"}},"
        "\"spec\":{\"containers\":[{\"ports\":[{\"name\":\"http\",\"containerPort\":8080},{\"name\":\"admin\",\"containerPort\":9001}]}]}}");
    json_t *svc = J(SVC);
    json_t *sl = slice("IPv4", EP_REF, "[{\"name\":\"http\",\"port\":8080},{\"name\":\"admin\",\"port\":9001}]");
    dst_endpoint_set_t s = DST_ENDPOINT_SET_INIT;
    ck_assert_int_eq(dst_endpoints_translate(&CFG, svc, 80, NULL, &sl, 1, &LK, &s), DST_OK);
    ck_assert_int_eq(find(&s, "10.0.0.1", 8080)->hint, DST_HINT_OPAQUE);
    dst_endpoint_set_clear(&s);
    ck_assert_int_eq(dst_endpoints_translate(&CFG, svc, 9000, NULL, &sl, 1, &LK, &s), DST_OK);
    ck_assert_ptr_null(find(&s, "10.0.0.1", 9001)->identity); /* skipped by name */
    dst_endpoint_set_clear(&s);
    json_decref(sl);
    json_decref(svc);
}
END_TEST

START_TEST(test_endpoints_ports_contains)
{
    ck_assert_int_eq(dst_ports_contains("25,587,3306", 587), 1);
    ck_assert_int_eq(dst_ports_contains("25,587,3306", 588), 0);
    ck_assert_int_eq(dst_ports_contains(" 4000-4100 ,9", 4100), 1);
    ck_assert_int_eq(dst_ports_contains("4000-4100", 3999), 0);
    ck_assert_int_eq(dst_ports_contains("http,80", 80), 1);
    ck_assert_int_eq(dst_ports_contains("100-90", 95), 0);
    ck_assert_int_eq(dst_ports_contains("70000", 4464), 0);
    ck_assert_int_eq(dst_ports_contains("80x", 80), 0);
    ck_assert_int_eq(dst_ports_contains("", 80), 0);
    ck_assert_int_eq(dst_ports_contains(NULL, 80), 0);
    /* Lenient: a bad item is skipped, the items around it still count. */
    ck_assert_int_eq(dst_ports_contains("80x,25,100-90,0,70000,1000:2000,http,443", 443), 1);
    ck_assert_int_eq(dst_ports_contains("80x,25,100-90,0,70000,1000:2000,http,443", 25), 1);
    ck_assert_int_eq(dst_ports_contains("80x,25,100-90,0,70000,1000:2000,http,443", 1000), 0);
    ck_assert_int_eq(dst_ports_contains("80x,25,100-90,0,70000,1000:2000,http,443", 0), 0);
    ck_assert_int_eq(dst_ports_contains(",, 7 ,\t8-9\t,", 9), 1);
    ck_assert_int_eq(dst_ports_contains("1-65535", 65535), 1);
}
END_TEST

static void add_ep(dst_endpoint_set_t *s, const char *ip, uint16_t port, const char *pod)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 4;
        s->v = mesh_realloc(s->v, s->cap * sizeof *s->v);
    }
    dst_endpoint_t *e = &s->v[s->n++];
    memset(e, 0, sizeof *e);
    e->family = AF_INET;
    inet_pton(AF_INET, ip, e->ip);
    e->port = port;
    e->weight = DST_ENDPOINT_WEIGHT;
    ck_assert_int_eq(dst_endpoint_set_label(e, "pod", pod), DST_OK);
}

START_TEST(test_endpoints_diff)
{
    dst_endpoint_set_t a = DST_ENDPOINT_SET_INIT, b = DST_ENDPOINT_SET_INIT;
    add_ep(&a, "10.0.0.1", 80, "p1");
    add_ep(&a, "10.0.0.2", 80, "p2");
    add_ep(&a, "10.0.0.3", 80, "p3");
    add_ep(&b, "10.0.0.2", 80, "p2");
    add_ep(&b, "10.0.0.3", 80, "p3-new");
    add_ep(&b, "10.0.0.4", 80, "p4");
    const dst_endpoint_t **add, **rm;
    size_t na, nr;
    ck_assert_int_eq(dst_endpoint_set_diff(&a, &b, &add, &na, &rm, &nr), DST_OK);
    ck_assert_uint_eq(na, 2);
    ck_assert_str_eq(dst_endpoint_label(add[0], "pod"), "p3-new");
    ck_assert_str_eq(dst_endpoint_label(add[1], "pod"), "p4");
    ck_assert_uint_eq(nr, 1);
    ck_assert_str_eq(dst_endpoint_label(rm[0], "pod"), "p1");
    mesh_free(add);
    mesh_free(rm);
    ck_assert_int_eq(dst_endpoint_set_diff(&b, &b, &add, &na, &rm, &nr), DST_OK);
    ck_assert_uint_eq(na + nr, 0);
    ck_assert_ptr_null(add);
    dst_endpoint_set_t c = DST_ENDPOINT_SET_INIT;
    ck_assert_int_eq(dst_endpoint_set_copy(&c, &b), DST_OK);
    ck_assert_int_eq(dst_endpoint_set_diff(&b, &c, &add, &na, &rm, &nr), DST_OK);
    ck_assert_uint_eq(na + nr, 0);
    dst_endpoint_set_clear(&a);
    dst_endpoint_set_clear(&b);
    dst_endpoint_set_clear(&c);
}
END_TEST

START_TEST(test_endpoints_encode)
{
    dst_endpoint_set_t s = DST_ENDPOINT_SET_INIT;
    add_ep(&s, "10.1.2.3", 8080, "p1");
    s.v[0].identity = mesh_strdup("sa.ns.serviceaccount.identity.cmesh.cluster.local");
    s.v[0].hint = DST_HINT_OPAQUE;
    const dst_endpoint_t *ptrs[1] = {&s.v[0]};
    dst_blob_t *b = dst_encode_add(ptrs, 1, "web", "demo");
    ck_assert_ptr_nonnull(b);
    Io__Linkerd__Proxy__Destination__Update *u = io__linkerd__proxy__destination__update__unpack(NULL, b->len, b->data);
    ck_assert_ptr_nonnull(u);
    ck_assert_int_eq(u->update_case, IO__LINKERD__PROXY__DESTINATION__UPDATE__UPDATE_ADD);
    ck_assert_uint_eq(u->add->n_addrs, 1);
    ck_assert_uint_eq(u->add->n_metric_labels, 2);
    ck_assert_str_eq(u->add->metric_labels[1]->key, "service");
    ck_assert_str_eq(u->add->metric_labels[1]->value, "web");
    Io__Linkerd__Proxy__Destination__WeightedAddr *w = u->add->addrs[0];
    ck_assert_uint_eq(w->addr->ip->ipv4, 0x0A010203);
    ck_assert_uint_eq(w->addr->port, 8080);
    ck_assert_uint_eq(w->weight, 10000);
    ck_assert_str_eq(w->tls_identity->dns_like_identity->name, s.v[0].identity);
    ck_assert_str_eq(w->tls_identity->server_name->name, s.v[0].identity);
    ck_assert_int_eq(w->protocol_hint->protocol_case, IO__LINKERD__PROXY__DESTINATION__PROTOCOL_HINT__PROTOCOL_OPAQUE);
    io__linkerd__proxy__destination__update__free_unpacked(u, NULL);
    dst_blob_t *b2 = dst_encode_add(ptrs, 1, "web", "demo");
    ck_assert(dst_blob_eq(b, b2));
    dst_blob_unref(b2);
    dst_blob_unref(b);

    b = dst_encode_remove(ptrs, 1);
    u = io__linkerd__proxy__destination__update__unpack(NULL, b->len, b->data);
    ck_assert_int_eq(u->update_case, IO__LINKERD__PROXY__DESTINATION__UPDATE__UPDATE_REMOVE);
    ck_assert_uint_eq(u->remove->addrs[0]->ip->ipv4, 0x0A010203);
    io__linkerd__proxy__destination__update__free_unpacked(u, NULL);
    dst_blob_unref(b);

    b = dst_encode_no_endpoints(false);
    u = io__linkerd__proxy__destination__update__unpack(NULL, b->len, b->data);
    ck_assert_int_eq(u->update_case, IO__LINKERD__PROXY__DESTINATION__UPDATE__UPDATE_NO_ENDPOINTS);
    ck_assert(!u->no_endpoints->exists);
    io__linkerd__proxy__destination__update__free_unpacked(u, NULL);
    dst_blob_unref(b);
    dst_endpoint_set_clear(&s);
}
END_TEST

START_TEST(test_endpoints_nomem)
{
    /* Every allocation failure point releases what it took (ASan checks). */
    put(DST_OBJ_POD, "demo", "web-abc",
        "{\"metadata\":{\"name\":\"web-abc\",\"namespace\":\"demo\",\"labels\":{\"linkerd.io/control-plane-ns\":\"cmesh\"}}}");
    json_t *svc = J(SVC);
    json_t *sl = slice("IPv4", EP_REF, "[{\"name\":\"http\",\"port\":8080}]");
    int failures = 0;
    for (long n = 0; n < 200; n++) {
        dst_endpoint_set_t s = DST_ENDPOINT_SET_INIT;
        mesh_mem_fail_after(n);
        int rc = dst_endpoints_translate(&CFG, svc, 80, NULL, &sl, 1, &LK, &s);
        mesh_mem_fail_after(-1);
        if (rc == DST_OK) {
            ck_assert_uint_eq(s.n, 3);
            dst_endpoint_set_clear(&s);
            break;
        }
        ck_assert_int_eq(rc, DST_ERR_NOMEM);
        ck_assert_uint_eq(s.n, 0);
        failures++;
    }
    ck_assert_int_gt(failures, 5);
    json_decref(sl);
    json_decref(svc);
}
END_TEST

Suite *dst_endpoints_suite(void)
{
    Suite *s = suite_create("dst_endpoints");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_endpoints_ready_and_ports);
    tcase_add_test(tc, test_endpoints_named_port_unresolved_and_dupes);
    tcase_add_test(tc, test_endpoints_instance_filter);
    tcase_add_test(tc, test_endpoints_pods_owner_identity_hint);
    tcase_add_test(tc, test_endpoints_opaque_and_skip);
    tcase_add_test(tc, test_endpoints_named_opaque_ports);
    tcase_add_test(tc, test_endpoints_ports_contains);
    tcase_add_test(tc, test_endpoints_diff);
    tcase_add_test(tc, test_endpoints_encode);
    tcase_add_test(tc, test_endpoints_nomem);
    suite_add_tcase(s, tc);
    return s;
}
