/* Objects in, topics and streams out; see dst/watcher.h. */
#include "dst/watcher.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "dst/encode.h"
#include "dst/profile.h"
#include "map.h"
#include "mesh/log.h"
#include "mesh/mem.h"

#define LABEL_SERVICE_NAME "kubernetes.io/service-name"
/* "ns/name" with both parts DNS labels or names (<= 253). */
#define KEY_MAX 520
/* Deleted TrafficSplits remembered to ignore a lagging version's stale view;
 * past this many the memory is dropped (a late stale event may then briefly
 * show an old split again until its own delete arrives). */
#define SPLIT_TOMBSTONES_MAX 4096

typedef struct topic topic_t;

struct dst_sub {
    dst_sub_t *prev, *next; /* in the topic's list while linked */
    topic_t *topic;         /* NULL once unlinked */
    dst_sink_t sink;        /* where messages go */
    uint64_t since_ms;      /* when it subscribed (sync wait) */
    int pending;            /* the first message is not sent yet */
    int ended;              /* sink->end was called */
};

struct topic {
    int is_profile;            /* GetProfile topic, else Get */
    char *key;                 /* map key, owned */
    dst_authority_t auth;      /* the target */
    char svckey[KEY_MAX];      /* "ns/svc" for service targets */
    /* Get */
    int computed;              /* snap/exists hold a computed state */
    int exists;                /* the service existed at the last compute */
    dst_endpoint_set_t snap;   /* endpoints as the subscribers know them */
    dst_blob_t *initial;       /* cached first message for new subscribers */
    /* GetProfile */
    dst_blob_t *last;          /* last profile sent, for duplicate suppression */
    dst_sub_t *subs;           /* subscribers */
    size_t nsubs;
};

struct dst_watcher {
    pthread_mutex_t mu;
    dst_config_t cfg;             /* strings below are owned copies */
    json_t *objs[DST_RES_COUNT];  /* "ns/name" -> object, per resource */
    json_t *slices_by_svc;        /* "ns/svc" -> {"ns/slice": slice} */
    json_t *pod_by_ip;            /* IP text -> pod key */
    json_t *svc_by_ip;            /* cluster IP text -> service key */
    json_t *split_gone;           /* "ns/name" -> resourceVersion at deletion */
    dst_map_t ep_topics;          /* key -> topic_t (Get) */
    dst_map_t prof_topics;        /* key -> topic_t (GetProfile) */
    int synced;
    dst_watcher_stats_t st;
};

/* ---- helpers ---------------------------------------------------------- */

static const char *meta(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(json_object_get(o, "metadata"), k));
}

static int obj_key(dst_res_t res, const json_t *o, char *buf, size_t cap)
{
    (void)res;
    const char *ns = meta(o, "namespace"), *name = meta(o, "name");
    if (name == NULL)
        return -1;
    int n = snprintf(buf, cap, "%s/%s", ns ? ns : "", name);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

/* metadata.resourceVersion as a number; 0 when missing or not decimal. */
static uint64_t obj_rv(const json_t *o)
{
    const char *s = meta(o, "resourceVersion");
    uint64_t v = 0;
    if (s == NULL || *s == '\0')
        return 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
            return 0;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    return v;
}

/*
 * Both TrafficSplit versions are served from one storage, so two informers
 * report every split, each at its own pace: one may still deliver an old
 * state (or a relist's view) after the other delivered a newer one. Keeping
 * one entry per version would then flip the overrides back and forth. So
 * the watcher keeps one entry per split, the newest by resourceVersion, and
 * remembers deletions so a lagging version cannot bring a split back.
 * Resource versions are opaque in general; comparing them is sound here
 * only because both views come from the same storage. Objects without a
 * numeric resourceVersion (tests, --objects-dir) always apply.
 * Returns 1 when the event should be applied, 0 when it is stale.
 */
static int split_admit(dst_watcher_t *w, const char *key, const json_t *old, const json_t *obj)
{
    const json_t *cur = json_object_get(w->objs[DST_RES_SPLIT], key);
    uint64_t r = obj_rv(obj ? obj : old), cur_rv = obj_rv(cur);
    json_t *gone = json_object_get(w->split_gone, key);
    uint64_t gone_rv = gone ? (uint64_t)json_integer_value(gone) : 0;
    if (r == 0)
        return 1;
    if (obj != NULL) {
        if (gone && r <= gone_rv)
            return 0;
        if (gone)
            json_object_del(w->split_gone, key);
        return cur == NULL || cur_rv == 0 || r > cur_rv;
    }
    if (cur != NULL && cur_rv > r)
        return 0; /* this view's delete lags a newer state; that view's delete will follow */
    if (json_object_size(w->split_gone) >= SPLIT_TOMBSTONES_MAX)
        json_object_clear(w->split_gone);
    uint64_t t = r > cur_rv ? r : cur_rv;
    if (t > gone_rv)
        json_object_set_new(w->split_gone, key, json_integer((json_int_t)t));
    return cur != NULL;
}

static int topic_ns_is(const topic_t *t, const char *ns)
{
    return t->auth.kind == DST_AUTH_SERVICE && ns != NULL && strcmp(t->auth.ns, ns) == 0;
}

/* ---- sending ---------------------------------------------------------- */

static void unlink_sub(dst_sub_t *s)
{
    topic_t *t = s->topic;
    if (t == NULL)
        return;
    if (s->prev)
        s->prev->next = s->next;
    else
        t->subs = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->prev = s->next = NULL;
    s->topic = NULL;
    t->nsubs--;
}

static void end_sub(dst_watcher_t *w, dst_sub_t *s, int status, const char *msg)
{
    if (!s->ended) {
        s->ended = 1;
        s->sink.end(s->sink.ud, status, msg);
    }
    if (s->pending)
        w->st.pending--;
    s->pending = 0;
    unlink_sub(s);
}

/* Queues b on one subscriber; a full queue ends it. */
static void send_one(dst_watcher_t *w, dst_sub_t *s, dst_blob_t *b)
{
    if (s->sink.send(s->sink.ud, b) == 0) {
        w->st.updates_sent++;
        return;
    }
    w->st.overflows++;
    mesh_log_warn("destination", "stream queue full, ending it: %s", s->topic ? s->topic->key : "?");
    end_sub(w, s, DST_STATUS_RESOURCE_EXHAUSTED, "update queue full");
}

static void broadcast(dst_watcher_t *w, topic_t *t, dst_blob_t *b)
{
    dst_sub_t *s = t->subs;
    while (s) {
        dst_sub_t *next = s->next; /* send_one may unlink s */
        if (!s->pending)
            send_one(w, s, b);
        s = next;
    }
}

/* ---- Get topics ------------------------------------------------------- */

static json_t *lookup(void *ud, dst_obj_kind_t kind, const char *ns, const char *name)
{
    dst_watcher_t *w = ud;
    char key[KEY_MAX];
    snprintf(key, sizeof key, "%s/%s", ns, name);
    dst_res_t r = kind == DST_OBJ_POD ? DST_RES_POD : kind == DST_OBJ_REPLICASET ? DST_RES_REPLICASET : DST_RES_JOB;
    json_t *o = json_object_get(w->objs[r], key);
    return o ? json_incref(o) : NULL;
}

/* The endpoint set of a service target now; DST_OK or DST_ERR_NOMEM. */
static int compute_set(dst_watcher_t *w, const char *svckey, uint16_t port, const char *instance,
                       dst_endpoint_set_t *out, int *exists)
{
    const json_t *svc = json_object_get(w->objs[DST_RES_SERVICE], svckey);
    *exists = svc != NULL;
    if (svc == NULL)
        return DST_OK;
    const json_t *byname = json_object_get(w->slices_by_svc, svckey);
    size_t n = json_object_size(byname), i = 0;
    json_t **v = n ? mesh_malloc(n * sizeof *v) : NULL;
    if (n && v == NULL)
        return DST_ERR_NOMEM;
    const char *k;
    json_t *sl;
    json_object_foreach((json_t *)byname, k, sl)
        v[i++] = sl;
    dst_lookup_t lk = {lookup, w};
    int rc = dst_endpoints_translate(&w->cfg, svc, port, instance, v, n, &lk, out);
    mesh_free(v);
    return rc;
}

static dst_blob_t *initial_blob(topic_t *t)
{
    if (t->initial)
        return t->initial;
    if (!t->exists) {
        t->initial = dst_encode_no_endpoints(false);
    } else if (t->snap.n == 0) {
        t->initial = dst_encode_no_endpoints(true);
    } else {
        const dst_endpoint_t **all = mesh_malloc(t->snap.n * sizeof *all);
        if (all == NULL)
            return NULL;
        for (size_t i = 0; i < t->snap.n; i++)
            all[i] = &t->snap.v[i];
        t->initial = dst_encode_add(all, t->snap.n, t->auth.svc, t->auth.ns);
        mesh_free(all);
    }
    return t->initial;
}

static void send_blob(dst_watcher_t *w, topic_t *t, dst_blob_t *b)
{
    if (b == NULL) {
        mesh_log_error("destination", "no memory to encode an update for %s", t->key);
        return;
    }
    broadcast(w, t, b);
    dst_blob_unref(b);
}

static void ep_recompute(dst_watcher_t *w, topic_t *t)
{
    dst_endpoint_set_t cur = DST_ENDPOINT_SET_INIT;
    int exists;
    if (compute_set(w, t->svckey, t->auth.port, t->auth.instance, &cur, &exists) != DST_OK) {
        mesh_log_error("destination", "no memory to recompute %s; keeping the last state", t->key);
        return;
    }
    if (!t->computed) {
        t->snap = cur;
        t->exists = exists;
        t->computed = 1;
        return;
    }
    int changed = 1;
    if (!exists) {
        if (t->exists)
            send_blob(w, t, dst_encode_no_endpoints(false));
        else
            changed = 0;
    } else if (cur.n == 0) {
        if (t->snap.n || !t->exists)
            send_blob(w, t, dst_encode_no_endpoints(true));
        else
            changed = 0;
    } else if (!t->exists || t->snap.n == 0) {
        const dst_endpoint_t **all = mesh_malloc(cur.n * sizeof *all);
        if (all != NULL) {
            for (size_t i = 0; i < cur.n; i++)
                all[i] = &cur.v[i];
            send_blob(w, t, dst_encode_add(all, cur.n, t->auth.svc, t->auth.ns));
            mesh_free(all);
        } else {
            mesh_log_error("destination", "no memory for an update of %s", t->key);
        }
    } else {
        const dst_endpoint_t **add, **rm;
        size_t na, nr;
        if (dst_endpoint_set_diff(&t->snap, &cur, &add, &na, &rm, &nr) != DST_OK) {
            mesh_log_error("destination", "no memory to diff %s; keeping the last state", t->key);
            dst_endpoint_set_clear(&cur);
            return;
        }
        changed = na || nr;
        if (na)
            send_blob(w, t, dst_encode_add(add, na, t->auth.svc, t->auth.ns));
        if (nr)
            send_blob(w, t, dst_encode_remove(rm, nr));
        mesh_free(add);
        mesh_free(rm);
    }
    if (changed) {
        dst_blob_unref(t->initial);
        t->initial = NULL;
    }
    dst_endpoint_set_clear(&t->snap);
    t->snap = cur;
    t->exists = exists;
}

/* ---- GetProfile topics ------------------------------------------------ */

static const json_t *find_split(dst_watcher_t *w, const char *ns, const char *svc)
{
    const char *k, *best = NULL;
    json_t *o, *found = NULL;
    json_object_foreach(w->objs[DST_RES_SPLIT], k, o) {
        const char *apex = json_string_value(json_object_get(json_object_get(o, "spec"), "service"));
        const char *ons = meta(o, "namespace");
        if (apex && ons && strcmp(apex, svc) == 0 && strcmp(ons, ns) == 0 && (best == NULL || strcmp(k, best) < 0)) {
            best = k;
            found = o;
        }
    }
    return found;
}

static int endpoint_for_pod(dst_watcher_t *w, const json_t *pod, int family, const uint8_t *ip, uint16_t port,
                            dst_endpoint_t *ep)
{
    dst_lookup_t lk = {lookup, w};
    int rc = dst_endpoint_from_pod(&w->cfg, family, ip, port, pod, NULL, NULL, &lk, ep);
    const char *ns = meta(pod, "namespace");
    if (rc == DST_OK && ns)
        rc = dst_endpoint_set_label(ep, "namespace", ns);
    if (rc != DST_OK)
        dst_endpoint_clear(ep);
    return rc;
}

static dst_blob_t *profile_now(dst_watcher_t *w, topic_t *t)
{
    const dst_authority_t *a = &t->auth;
    dst_profile_input_t in = {NULL, NULL, a->port, NULL, NULL, NULL};
    dst_endpoint_t ep;
    memset(&ep, 0, sizeof ep);
    char fqn[DST_AUTH_PATH_MAX], key[KEY_MAX];
    dst_endpoint_set_t set = DST_ENDPOINT_SET_INIT;
    const json_t *svc = NULL;
    if (a->kind == DST_AUTH_IP) {
        char ipt[INET6_ADDRSTRLEN];
        inet_ntop(a->family, a->ip, ipt, sizeof ipt);
        const char *sk = json_string_value(json_object_get(w->svc_by_ip, ipt));
        const char *pk = json_string_value(json_object_get(w->pod_by_ip, ipt));
        if (sk != NULL) {
            svc = json_object_get(w->objs[DST_RES_SERVICE], sk);
        } else if (pk != NULL) {
            const json_t *pod = json_object_get(w->objs[DST_RES_POD], pk);
            if (pod && endpoint_for_pod(w, pod, a->family, a->ip, a->port, &ep) != DST_OK)
                return NULL;
            if (pod)
                in.endpoint = &ep;
        }
    } else if (a->instance[0] != '\0') {
        int exists;
        if (compute_set(w, t->svckey, a->port, a->instance, &set, &exists) != DST_OK)
            return NULL;
        if (set.n > 0) {
            if (dst_endpoint_set_label(&set.v[0], "namespace", a->ns) != DST_OK) {
                dst_endpoint_set_clear(&set);
                return NULL;
            }
            in.endpoint = &set.v[0];
        }
    } else {
        svc = json_object_get(w->objs[DST_RES_SERVICE], t->svckey);
    }
    if (svc != NULL && in.endpoint == NULL) {
        const char *name = meta(svc, "name"), *ns = meta(svc, "namespace");
        if (name && ns) {
            snprintf(fqn, sizeof fqn, "%s.%s.svc.%s", name, ns, w->cfg.cluster_domain);
            snprintf(key, sizeof key, "%s/%s", ns, fqn);
            in.fqn = fqn;
            in.svc = svc;
            in.sp = json_object_get(w->objs[DST_RES_PROFILE], key);
            in.split = find_split(w, ns, name);
        }
    }
    dst_blob_t *b = NULL;
    if (dst_profile_build(&w->cfg, &in, &b) != DST_OK)
        b = NULL;
    dst_endpoint_clear(&ep);
    dst_endpoint_set_clear(&set);
    return b;
}

static void prof_recompute(dst_watcher_t *w, topic_t *t)
{
    dst_blob_t *b = profile_now(w, t);
    if (b == NULL) {
        mesh_log_error("destination", "no memory to build the profile of %s", t->key);
        return;
    }
    if (dst_blob_eq(b, t->last)) {
        dst_blob_unref(b);
        return;
    }
    dst_blob_unref(t->last);
    t->last = b;
    broadcast(w, t, b);
}

/* ---- change propagation ----------------------------------------------- */

typedef struct {
    dst_watcher_t *w;
    dst_res_t res;
    const char *ns;
    const char *svckey; /* service/slice changes */
    const char *pod;    /* pod changes */
} change_t;

static int slices_reference_pod(dst_watcher_t *w, const char *svckey, const char *ns, const char *pod)
{
    const char *k;
    json_t *sl;
    json_object_foreach(json_object_get(w->slices_by_svc, svckey), k, sl) {
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(sl, "endpoints"), i, e) {
            const json_t *ref = json_object_get(e, "targetRef");
            const char *rn = json_string_value(json_object_get(ref, "name"));
            const char *rns = json_string_value(json_object_get(ref, "namespace"));
            if (rn && strcmp(rn, pod) == 0 && (rns == NULL || strcmp(rns, ns) == 0))
                return 1;
        }
    }
    return 0;
}

static void on_ep_topic(const char *key, void *val, void *ud)
{
    (void)key;
    change_t *c = ud;
    topic_t *t = val;
    switch (c->res) {
    case DST_RES_SERVICE:
    case DST_RES_SLICE:
        if (strcmp(t->svckey, c->svckey) == 0)
            ep_recompute(c->w, t);
        break;
    case DST_RES_POD:
        if (topic_ns_is(t, c->ns) && slices_reference_pod(c->w, t->svckey, c->ns, c->pod))
            ep_recompute(c->w, t);
        break;
    case DST_RES_REPLICASET:
    case DST_RES_JOB:
        if (topic_ns_is(t, c->ns))
            ep_recompute(c->w, t);
        break;
    default:
        break;
    }
}

static void on_prof_topic(const char *key, void *val, void *ud)
{
    (void)key;
    change_t *c = ud;
    topic_t *t = val;
    /* IP targets can follow any service or pod; name targets their namespace. */
    if (t->auth.kind == DST_AUTH_IP || topic_ns_is(t, c->ns))
        prof_recompute(c->w, t);
}

/* ---- object caches ---------------------------------------------------- */

static void index_ips(json_t *index, const json_t *obj, const char *key, int add, int is_pod)
{
    const json_t *holder = json_object_get(obj, is_pod ? "status" : "spec");
    const char *one = json_string_value(json_object_get(holder, is_pod ? "podIP" : "clusterIP"));
    const json_t *list = json_object_get(holder, is_pod ? "podIPs" : "clusterIPs");
    const char *ips[8];
    size_t n = 0, i;
    const json_t *x;
    if (one)
        ips[n++] = one;
    json_array_foreach(list, i, x) {
        const char *s = json_is_string(x) ? json_string_value(x) : json_string_value(json_object_get(x, "ip"));
        if (s && n < MESH_ARRAY_LEN(ips))
            ips[n++] = s;
    }
    for (i = 0; i < n; i++) {
        uint8_t b[16];
        /* "None" (headless) and garbage are not addresses. */
        if (inet_pton(AF_INET, ips[i], b) != 1 && inet_pton(AF_INET6, ips[i], b) != 1)
            continue;
        char norm[INET6_ADDRSTRLEN];
        inet_ntop(strchr(ips[i], ':') ? AF_INET6 : AF_INET, b, norm, sizeof norm);
        if (add) {
            json_object_set_new(index, norm, json_string(key));
        } else {
            const char *cur = json_string_value(json_object_get(index, norm));
            if (cur && strcmp(cur, key) == 0)
                json_object_del(index, norm);
        }
    }
}

static void slice_index(dst_watcher_t *w, const json_t *sl, const char *key, int add)
{
    const char *svc = json_string_value(json_object_get(json_object_get(json_object_get(sl, "metadata"), "labels"),
                                                        LABEL_SERVICE_NAME));
    const char *ns = meta(sl, "namespace");
    if (svc == NULL || ns == NULL)
        return;
    char sk[KEY_MAX];
    snprintf(sk, sizeof sk, "%s/%s", ns, svc);
    json_t *m = json_object_get(w->slices_by_svc, sk);
    if (add) {
        if (m == NULL) {
            m = json_object();
            if (m == NULL || json_object_set_new(w->slices_by_svc, sk, m) != 0)
                return;
        }
        json_object_set(m, key, (json_t *)sl);
    } else if (m != NULL) {
        json_object_del(m, key);
        if (json_object_size(m) == 0)
            json_object_del(w->slices_by_svc, sk);
    }
}

static const char *slice_service(const json_t *sl)
{
    return json_string_value(json_object_get(json_object_get(json_object_get(sl, "metadata"), "labels"),
                                             LABEL_SERVICE_NAME));
}

void dst_watcher_apply(dst_watcher_t *w, dst_res_t res, const json_t *old, const json_t *obj)
{
    const json_t *any = obj ? obj : old;
    char key[KEY_MAX];
    if (res >= DST_RES_COUNT || any == NULL || obj_key(res, any, key, sizeof key) != 0)
        return;
    pthread_mutex_lock(&w->mu);
    if (res == DST_RES_SPLIT && !split_admit(w, key, old, obj)) {
        pthread_mutex_unlock(&w->mu);
        return;
    }
    const json_t *prev = json_object_get(w->objs[res], key);
    json_incref((json_t *)prev); /* keep it across the replace below */
    if (res == DST_RES_SLICE) {
        if (prev)
            slice_index(w, prev, key, 0);
        if (obj)
            slice_index(w, obj, key, 1);
    } else if (res == DST_RES_SERVICE || res == DST_RES_POD) {
        json_t *index = res == DST_RES_POD ? w->pod_by_ip : w->svc_by_ip;
        if (prev)
            index_ips(index, prev, key, 0, res == DST_RES_POD);
        if (obj)
            index_ips(index, obj, key, 1, res == DST_RES_POD);
    }
    if (obj)
        json_object_set(w->objs[res], key, (json_t *)obj);
    else
        json_object_del(w->objs[res], key);

    if (w->synced) {
        const char *ns = meta(any, "namespace");
        change_t c = {w, res, ns, NULL, meta(any, "name")};
        char sk[KEY_MAX];
        if (res == DST_RES_SERVICE) {
            c.svckey = key;
            dst_map_foreach(&w->ep_topics, on_ep_topic, &c);
        } else if (res == DST_RES_SLICE) {
            /* A slice may move between services (label edit): both change. */
            const char *svcs[2] = {prev ? slice_service(prev) : NULL, obj ? slice_service(obj) : NULL};
            for (int i = 0; i < 2; i++) {
                if (svcs[i] == NULL || (i == 1 && svcs[0] && strcmp(svcs[0], svcs[1]) == 0))
                    continue;
                snprintf(sk, sizeof sk, "%s/%s", ns ? ns : "", svcs[i]);
                c.svckey = sk;
                dst_map_foreach(&w->ep_topics, on_ep_topic, &c);
            }
        } else {
            dst_map_foreach(&w->ep_topics, on_ep_topic, &c);
        }
        if (res != DST_RES_SLICE || w->prof_topics.n)
            dst_map_foreach(&w->prof_topics, on_prof_topic, &c);
    }
    json_decref((json_t *)prev);
    pthread_mutex_unlock(&w->mu);
}

/* ---- subscriptions ---------------------------------------------------- */

static void compute_topic(const char *key, void *val, void *ud)
{
    (void)key;
    dst_watcher_t *w = ud;
    topic_t *t = val;
    if (t->is_profile)
        prof_recompute(w, t);
    else
        ep_recompute(w, t);
}

static void send_first(dst_watcher_t *w, dst_sub_t *s)
{
    topic_t *t = s->topic;
    dst_blob_t *b = t->is_profile ? t->last : initial_blob(t);
    s->pending = 0;
    w->st.pending--;
    if (b == NULL) {
        end_sub(w, s, DST_STATUS_UNAVAILABLE, "out of memory");
        return;
    }
    send_one(w, s, b);
}

static void flush_pending(const char *key, void *val, void *ud)
{
    (void)key;
    topic_t *t = val;
    dst_sub_t *s = t->subs;
    while (s) {
        dst_sub_t *next = s->next;
        if (s->pending)
            send_first(ud, s);
        s = next;
    }
}

void dst_watcher_set_synced(dst_watcher_t *w)
{
    pthread_mutex_lock(&w->mu);
    if (!w->synced) {
        w->synced = 1;
        dst_map_foreach(&w->ep_topics, compute_topic, w);
        dst_map_foreach(&w->prof_topics, compute_topic, w);
        dst_map_foreach(&w->ep_topics, flush_pending, w);
        dst_map_foreach(&w->prof_topics, flush_pending, w);
    }
    pthread_mutex_unlock(&w->mu);
}

int dst_watcher_synced(dst_watcher_t *w)
{
    pthread_mutex_lock(&w->mu);
    int s = w->synced;
    pthread_mutex_unlock(&w->mu);
    return s;
}

typedef struct {
    dst_watcher_t *w;
    uint64_t now, wait;
} expire_t;

static void expire_topic(const char *key, void *val, void *ud)
{
    (void)key;
    expire_t *e = ud;
    topic_t *t = val;
    dst_sub_t *s = t->subs;
    while (s) {
        dst_sub_t *next = s->next;
        if (s->pending && e->now >= s->since_ms + e->wait)
            end_sub(e->w, s, DST_STATUS_UNAVAILABLE, "discovery not synced yet");
        s = next;
    }
}

void dst_watcher_expire_pending(dst_watcher_t *w, uint64_t now_ms, uint64_t wait_ms)
{
    pthread_mutex_lock(&w->mu);
    if (!w->synced && w->st.pending) {
        expire_t e = {w, now_ms, wait_ms};
        dst_map_foreach(&w->ep_topics, expire_topic, &e);
        dst_map_foreach(&w->prof_topics, expire_topic, &e);
    }
    pthread_mutex_unlock(&w->mu);
}

static void topic_free(topic_t *t)
{
    dst_endpoint_set_clear(&t->snap);
    dst_blob_unref(t->initial);
    dst_blob_unref(t->last);
    mesh_free(t->key);
    mesh_free(t);
}

static topic_t *topic_get(dst_watcher_t *w, int is_profile, const dst_authority_t *a)
{
    char key[KEY_MAX + 96];
    if (a->kind == DST_AUTH_IP) {
        char ipt[INET6_ADDRSTRLEN];
        inet_ntop(a->family, a->ip, ipt, sizeof ipt);
        snprintf(key, sizeof key, "ip/%s/%u", ipt, a->port);
    } else {
        snprintf(key, sizeof key, "svc/%s/%s/%u/%s", a->ns, a->svc, a->port, a->instance);
    }
    dst_map_t *m = is_profile ? &w->prof_topics : &w->ep_topics;
    topic_t *t = dst_map_get(m, key);
    if (t != NULL)
        return t;
    t = mesh_calloc(1, sizeof *t);
    if (t == NULL || (t->key = mesh_strdup(key)) == NULL)
        goto fail;
    t->is_profile = is_profile;
    t->auth = *a;
    if (a->kind == DST_AUTH_SERVICE)
        snprintf(t->svckey, sizeof t->svckey, "%s/%s", a->ns, a->svc);
    if (dst_map_put(m, key, t) != 0)
        goto fail;
    w->st.topics++;
    if (w->synced) {
        if (is_profile)
            prof_recompute(w, t);
        else
            ep_recompute(w, t);
    }
    return t;
fail:
    if (t)
        mesh_free(t->key);
    mesh_free(t);
    return NULL;
}

static int subscribe(dst_watcher_t *w, int is_profile, const dst_authority_t *a, const dst_sink_t *sink,
                     uint64_t now_ms, dst_sub_t **out)
{
    *out = NULL;
    pthread_mutex_lock(&w->mu);
    if (!is_profile) {
        char sk[KEY_MAX];
        snprintf(sk, sizeof sk, "%s/%s", a->ns, a->svc);
        const json_t *svc = json_object_get(w->objs[DST_RES_SERVICE], sk);
        const char *type = json_string_value(json_object_get(json_object_get(svc, "spec"), "type"));
        if (type && strcmp(type, "ExternalName") == 0) {
            pthread_mutex_unlock(&w->mu);
            return DST_STATUS_INVALID_ARGUMENT;
        }
    }
    dst_sub_t *s = mesh_calloc(1, sizeof *s);
    topic_t *t = s ? topic_get(w, is_profile, a) : NULL;
    if (t == NULL) {
        mesh_free(s);
        pthread_mutex_unlock(&w->mu);
        return DST_STATUS_UNAVAILABLE;
    }
    s->sink = *sink;
    s->since_ms = now_ms;
    s->topic = t;
    s->next = t->subs;
    if (t->subs)
        t->subs->prev = s;
    t->subs = s;
    t->nsubs++;
    s->pending = 1;
    w->st.pending++;
    w->st.streams++;
    if (w->synced)
        send_first(w, s);
    *out = s;
    pthread_mutex_unlock(&w->mu);
    return DST_OK;
}

int dst_watcher_subscribe(dst_watcher_t *w, const dst_authority_t *a, const dst_sink_t *sink,
                          uint64_t now_ms, dst_sub_t **out)
{
    if (a->kind != DST_AUTH_SERVICE) {
        *out = NULL;
        return DST_STATUS_INVALID_ARGUMENT;
    }
    return subscribe(w, 0, a, sink, now_ms, out);
}

int dst_watcher_subscribe_profile(dst_watcher_t *w, const dst_authority_t *a, const dst_sink_t *sink,
                                  uint64_t now_ms, dst_sub_t **out)
{
    return subscribe(w, 1, a, sink, now_ms, out);
}

void dst_watcher_unsubscribe(dst_watcher_t *w, dst_sub_t *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&w->mu);
    topic_t *t = s->topic;
    if (s->pending)
        w->st.pending--;
    unlink_sub(s);
    w->st.streams--;
    if (t != NULL && t->nsubs == 0) {
        dst_map_del(t->is_profile ? &w->prof_topics : &w->ep_topics, t->key);
        topic_free(t);
        w->st.topics--;
    }
    pthread_mutex_unlock(&w->mu);
    mesh_free(s);
}

void dst_watcher_stats(dst_watcher_t *w, dst_watcher_stats_t *out)
{
    pthread_mutex_lock(&w->mu);
    *out = w->st;
    pthread_mutex_unlock(&w->mu);
}

/* ---- lifecycle -------------------------------------------------------- */

dst_watcher_t *dst_watcher_new(const dst_config_t *cfg)
{
    dst_watcher_t *w = mesh_calloc(1, sizeof *w);
    if (w == NULL)
        return NULL;
    pthread_mutex_init(&w->mu, NULL);
    w->cfg.h2_upgrade = cfg->h2_upgrade;
    int ok = (w->cfg.controller_ns = mesh_strdup(cfg->controller_ns ? cfg->controller_ns : "")) &&
             (w->cfg.trust_domain = mesh_strdup(cfg->trust_domain ? cfg->trust_domain : "")) &&
             (w->cfg.cluster_domain = mesh_strdup(cfg->cluster_domain ? cfg->cluster_domain : "cluster.local")) &&
             (w->cfg.default_opaque_ports = mesh_strdup(cfg->default_opaque_ports ? cfg->default_opaque_ports : "")) &&
             (w->slices_by_svc = json_object()) && (w->pod_by_ip = json_object()) &&
             (w->svc_by_ip = json_object()) && (w->split_gone = json_object());
    for (int i = 0; ok && i < DST_RES_COUNT; i++)
        ok = (w->objs[i] = json_object()) != NULL;
    if (!ok) {
        dst_watcher_free(w);
        return NULL;
    }
    return w;
}

static void free_topic_cb(const char *key, void *val, void *ud)
{
    (void)key;
    (void)ud;
    topic_t *t = val;
    for (dst_sub_t *s = t->subs; s; s = s->next)
        s->topic = NULL;
    topic_free(t);
}

void dst_watcher_free(dst_watcher_t *w)
{
    if (w == NULL)
        return;
    dst_map_foreach(&w->ep_topics, free_topic_cb, NULL);
    dst_map_foreach(&w->prof_topics, free_topic_cb, NULL);
    dst_map_free(&w->ep_topics);
    dst_map_free(&w->prof_topics);
    for (int i = 0; i < DST_RES_COUNT; i++)
        json_decref(w->objs[i]);
    json_decref(w->slices_by_svc);
    json_decref(w->pod_by_ip);
    json_decref(w->svc_by_ip);
    json_decref(w->split_gone);
    mesh_free((char *)w->cfg.controller_ns);
    mesh_free((char *)w->cfg.trust_domain);
    mesh_free((char *)w->cfg.cluster_domain);
    mesh_free((char *)w->cfg.default_opaque_ports);
    pthread_mutex_destroy(&w->mu);
    mesh_free(w);
}
