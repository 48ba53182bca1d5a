/* EndpointSlices + Pods + Service -> endpoint set; see dst/endpoints.h. */
#include "dst/endpoints.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/mem.h"
#include "mesh/portlist.h"

#define LABEL_CP_NS "linkerd.io/control-plane-ns"
#define LABEL_TEMPLATE_HASH "pod-template-hash"
#define ANN_OPAQUE "config.linkerd.io/opaque-ports"
#define ANN_SKIP_INBOUND "config.linkerd.io/skip-inbound-ports"
/* Longest owner kind label we derive from a Kind ("replicationcontroller"). */
#define KIND_LABEL_MAX 64

const char *dst_meta_str(const json_t *obj, const char *field, const char *key)
{
    const json_t *m = json_object_get(json_object_get(obj, "metadata"), field);
    return json_string_value(json_object_get(m, key));
}

static const char *str_at(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

/* The annotations are read from running pods: one bad item must not change
 * every port, so the lists are read leniently. */
int dst_ports_contains(const char *list, unsigned port)
{
    mesh_portlist_item_t it;
    const char *cur = list;
    while (mesh_portlist_next(&cur, MESH_PORTLIST_LENIENT, &it) > 0)
        if (mesh_portlist_contains(&it, 1, port))
            return 1;
    return 0;
}

/* The containerPort of `pod`'s port named `name`, or 0. */
static unsigned pod_port_named(const json_t *pod, const char *name)
{
    size_t i, k;
    const json_t *c, *pt;
    json_array_foreach(json_object_get(json_object_get(pod, "spec"), "containers"), i, c) {
        json_array_foreach(json_object_get(c, "ports"), k, pt) {
            const char *pn = json_string_value(json_object_get(pt, "name"));
            json_int_t cp = json_integer_value(json_object_get(pt, "containerPort"));
            if (pn && strcmp(pn, name) == 0 && cp > 0 && cp <= 65535)
                return (unsigned)cp;
        }
    }
    return 0;
}

int dst_pod_ports_contains(const json_t *pod, const char *list, unsigned port)
{
    mesh_portlist_item_t it;
    const char *cur = list;
    /* Without a pod, names resolve to nothing: skip them like bad items. */
    unsigned flags = MESH_PORTLIST_LENIENT | (pod != NULL ? MESH_PORTLIST_NAMES : 0);
    while (mesh_portlist_next(&cur, flags, &it) > 0) {
        if (it.name[0] != '\0' ? port != 0 && pod_port_named(pod, it.name) == port
                                : mesh_portlist_contains(&it, 1, port))
            return 1;
    }
    return 0;
}

/* ---- endpoint basics -------------------------------------------------- */

void dst_endpoint_clear(dst_endpoint_t *ep)
{
    for (size_t i = 0; i < ep->nlabels; i++) {
        mesh_free(ep->labels[i].key);
        mesh_free(ep->labels[i].value);
    }
    mesh_free(ep->labels);
    mesh_free(ep->identity);
    mesh_free(ep->hostname);
    mesh_free(ep->pod);
    memset(ep, 0, sizeof *ep);
}

int dst_endpoint_set_label(dst_endpoint_t *ep, const char *key, const char *value)
{
    size_t i = 0;
    while (i < ep->nlabels && strcmp(ep->labels[i].key, key) < 0)
        i++;
    char *v = mesh_strdup(value);
    if (v == NULL)
        return DST_ERR_NOMEM;
    if (i < ep->nlabels && strcmp(ep->labels[i].key, key) == 0) {
        mesh_free(ep->labels[i].value);
        ep->labels[i].value = v;
        return DST_OK;
    }
    char *k = mesh_strdup(key);
    dst_label_t *nl = k ? mesh_realloc(ep->labels, (ep->nlabels + 1) * sizeof *nl) : NULL;
    if (nl == NULL) {
        mesh_free(k);
        mesh_free(v);
        return DST_ERR_NOMEM;
    }
    ep->labels = nl;
    memmove(nl + i + 1, nl + i, (ep->nlabels - i) * sizeof *nl);
    nl[i].key = k;
    nl[i].value = v;
    ep->nlabels++;
    return DST_OK;
}

const char *dst_endpoint_label(const dst_endpoint_t *ep, const char *key)
{
    for (size_t i = 0; i < ep->nlabels; i++)
        if (strcmp(ep->labels[i].key, key) == 0)
            return ep->labels[i].value;
    return NULL;
}

static int streq_null(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}

int dst_endpoint_addr_cmp(const dst_endpoint_t *a, const dst_endpoint_t *b)
{
    if (a->family != b->family)
        return a->family < b->family ? -1 : 1;
    int c = memcmp(a->ip, b->ip, sizeof a->ip);
    if (c)
        return c;
    return (int)a->port - (int)b->port;
}

int dst_endpoint_eq(const dst_endpoint_t *a, const dst_endpoint_t *b)
{
    if (dst_endpoint_addr_cmp(a, b) || a->weight != b->weight || a->hint != b->hint ||
        !streq_null(a->identity, b->identity) || !streq_null(a->hostname, b->hostname) ||
        !streq_null(a->pod, b->pod) || a->nlabels != b->nlabels)
        return 0;
    for (size_t i = 0; i < a->nlabels; i++)
        if (strcmp(a->labels[i].key, b->labels[i].key) || strcmp(a->labels[i].value, b->labels[i].value))
            return 0;
    return 1;
}

static int endpoint_copy(dst_endpoint_t *d, const dst_endpoint_t *s)
{
    memset(d, 0, sizeof *d);
    d->family = s->family;
    memcpy(d->ip, s->ip, sizeof d->ip);
    d->port = s->port;
    d->weight = s->weight;
    d->hint = s->hint;
    if ((s->identity && !(d->identity = mesh_strdup(s->identity))) ||
        (s->hostname && !(d->hostname = mesh_strdup(s->hostname))) ||
        (s->pod && !(d->pod = mesh_strdup(s->pod))))
        goto fail;
    if (s->nlabels) {
        d->labels = mesh_calloc(s->nlabels, sizeof *d->labels);
        if (d->labels == NULL)
            goto fail;
        for (size_t i = 0; i < s->nlabels; i++) {
            d->labels[i].key = mesh_strdup(s->labels[i].key);
            d->labels[i].value = mesh_strdup(s->labels[i].value);
            d->nlabels = i + 1;
            if (!d->labels[i].key || !d->labels[i].value)
                goto fail;
        }
    }
    return DST_OK;
fail:
    dst_endpoint_clear(d);
    return DST_ERR_NOMEM;
}

void dst_endpoint_set_clear(dst_endpoint_set_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        dst_endpoint_clear(&s->v[i]);
    mesh_free(s->v);
    s->v = NULL;
    s->n = s->cap = 0;
}

static dst_endpoint_t *set_push(dst_endpoint_set_t *s)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        dst_endpoint_t *nv = mesh_realloc(s->v, cap * sizeof *nv);
        if (nv == NULL)
            return NULL;
        s->v = nv;
        s->cap = cap;
    }
    dst_endpoint_t *ep = &s->v[s->n];
    memset(ep, 0, sizeof *ep);
    return ep;
}

int dst_endpoint_set_copy(dst_endpoint_set_t *dst, const dst_endpoint_set_t *src)
{
    for (size_t i = 0; i < src->n; i++) {
        dst_endpoint_t *ep = set_push(dst);
        if (ep == NULL || endpoint_copy(ep, &src->v[i]) != DST_OK) {
            dst_endpoint_set_clear(dst);
            return DST_ERR_NOMEM;
        }
        dst->n++;
    }
    return DST_OK;
}

int dst_endpoint_set_diff(const dst_endpoint_set_t *old, const dst_endpoint_set_t *cur,
                          const dst_endpoint_t ***added, size_t *nadded,
                          const dst_endpoint_t ***removed, size_t *nremoved)
{
    *added = *removed = NULL;
    *nadded = *nremoved = 0;
    const dst_endpoint_t **a = cur->n ? mesh_malloc(cur->n * sizeof *a) : NULL;
    const dst_endpoint_t **r = old->n ? mesh_malloc(old->n * sizeof *r) : NULL;
    if ((cur->n && a == NULL) || (old->n && r == NULL)) {
        mesh_free(a);
        mesh_free(r);
        return DST_ERR_NOMEM;
    }
    size_t i = 0, j = 0, na = 0, nr = 0;
    while (i < old->n || j < cur->n) {
        int c = i == old->n ? 1 : j == cur->n ? -1 : dst_endpoint_addr_cmp(&old->v[i], &cur->v[j]);
        if (c < 0) {
            r[nr++] = &old->v[i++];
        } else if (c > 0) {
            a[na++] = &cur->v[j++];
        } else {
            /* Same address with new metadata: re-adding replaces it in the proxy. */
            if (!dst_endpoint_eq(&old->v[i], &cur->v[j]))
                a[na++] = &cur->v[j];
            i++;
            j++;
        }
    }
    if (na == 0)
        MESH_FREE(&a);
    if (nr == 0)
        MESH_FREE(&r);
    *added = a;
    *nadded = na;
    *removed = r;
    *nremoved = nr;
    return DST_OK;
}

/* ---- pods and owners -------------------------------------------------- */

static const json_t *controller_owner(const json_t *obj)
{
    const json_t *refs = json_object_get(json_object_get(obj, "metadata"), "ownerReferences");
    size_t i;
    const json_t *r, *first = NULL;
    json_array_foreach(refs, i, r) {
        if (first == NULL)
            first = r;
        if (json_is_true(json_object_get(r, "controller")))
            return r;
    }
    return first;
}

static void kind_label(const char *kind, char out[KIND_LABEL_MAX])
{
    static const struct { const char *kind, *label; } map[] = {
        {"Deployment", "deployment"}, {"ReplicaSet", "replicaset"},
        {"StatefulSet", "statefulset"}, {"DaemonSet", "daemonset"},
        {"Job", "k8s_job"}, {"CronJob", "cronjob"},
        {"ReplicationController", "replicationcontroller"}, {"Pod", "pod"},
    };
    for (size_t i = 0; i < MESH_ARRAY_LEN(map); i++) {
        if (strcmp(kind, map[i].kind) == 0) {
            snprintf(out, KIND_LABEL_MAX, "%s", map[i].label);
            return;
        }
    }
    size_t k = 0;
    for (; kind[k] && k < KIND_LABEL_MAX - 1; k++)
        out[k] = (char)tolower((unsigned char)kind[k]);
    out[k] = '\0';
}

/* Sets the owner label: one level up through ReplicaSets and Jobs. */
static int set_owner_label(dst_endpoint_t *ep, const json_t *pod, const char *ns, const dst_lookup_t *lk)
{
    const json_t *ref = controller_owner(pod);
    const char *kind = str_at(ref, "kind"), *name = str_at(ref, "name");
    if (kind == NULL || name == NULL)
        return DST_OK;
    char label[KIND_LABEL_MAX];
    json_t *parent = NULL;
    if (lk != NULL && lk->get != NULL) {
        if (strcmp(kind, "ReplicaSet") == 0)
            parent = lk->get(lk->ud, DST_OBJ_REPLICASET, ns, name);
        else if (strcmp(kind, "Job") == 0)
            parent = lk->get(lk->ud, DST_OBJ_JOB, ns, name);
    }
    const json_t *pref = parent ? controller_owner(parent) : NULL;
    const char *pk = str_at(pref, "kind"), *pn = str_at(pref, "name");
    int rc;
    if (pk != NULL && pn != NULL) {
        kind_label(pk, label);
        rc = dst_endpoint_set_label(ep, label, pn);
    } else {
        kind_label(kind, label);
        rc = dst_endpoint_set_label(ep, label, name);
    }
    json_decref(parent);
    return rc;
}

int dst_endpoint_from_pod(const dst_config_t *cfg, int family, const uint8_t *ip, uint16_t port,
                          const json_t *pod, const char *zone, const char *hostname,
                          const dst_lookup_t *lk, dst_endpoint_t *ep)
{
    ep->family = family;
    memcpy(ep->ip, ip, family == AF_INET ? 4 : 16);
    ep->port = port;
    ep->weight = DST_ENDPOINT_WEIGHT;
    if (hostname && !(ep->hostname = mesh_strdup(hostname)))
        goto nomem;
    if (dst_endpoint_set_label(ep, "zone", zone ? zone : ""))
        goto nomem;
    if (pod == NULL)
        return DST_OK;

    const char *name = json_string_value(json_object_get(json_object_get(pod, "metadata"), "name"));
    const char *ns = json_string_value(json_object_get(json_object_get(pod, "metadata"), "namespace"));
    const char *sa = str_at(json_object_get(pod, "spec"), "serviceAccountName");
    if (sa == NULL || sa[0] == '\0')
        sa = "default";
    if (name) {
        if (!(ep->pod = mesh_strdup(name)) || dst_endpoint_set_label(ep, "pod", name))
            goto nomem;
    }
    if (dst_endpoint_set_label(ep, "serviceaccount", sa) || set_owner_label(ep, pod, ns, lk))
        goto nomem;
    const char *cpns = dst_meta_str(pod, "labels", LABEL_CP_NS);
    const char *hash = dst_meta_str(pod, "labels", LABEL_TEMPLATE_HASH);
    if ((cpns && dst_endpoint_set_label(ep, "control_plane_ns", cpns)) ||
        (hash && dst_endpoint_set_label(ep, "pod_template_hash", hash)))
        goto nomem;

    int meshed = cpns != NULL && cfg->controller_ns != NULL && strcmp(cpns, cfg->controller_ns) == 0;
    if (!meshed || dst_pod_ports_contains(pod, dst_meta_str(pod, "annotations", ANN_SKIP_INBOUND), port))
        return DST_OK;
    if (cfg->trust_domain != NULL && cfg->trust_domain[0] != '\0' && ns != NULL) {
        size_t n = strlen(sa) + strlen(ns) + strlen(cfg->controller_ns) + strlen(cfg->trust_domain) + 40;
        ep->identity = mesh_malloc(n);
        if (ep->identity == NULL)
            goto nomem;
        snprintf(ep->identity, n, "%s.%s.serviceaccount.identity.%s.%s", sa, ns, cfg->controller_ns,
                 cfg->trust_domain);
    }
    const char *opaque = dst_meta_str(pod, "annotations", ANN_OPAQUE);
    if (opaque == NULL)
        opaque = cfg->default_opaque_ports;
    if (dst_pod_ports_contains(pod, opaque, port))
        ep->hint = DST_HINT_OPAQUE;
    else if (cfg->h2_upgrade)
        ep->hint = DST_HINT_H2;
    return DST_OK;
nomem:
    dst_endpoint_clear(ep);
    return DST_ERR_NOMEM;
}

/* ---- the translator --------------------------------------------------- */

typedef struct {
    unsigned num;       /* numeric target port, 0 when named */
    const char *name;   /* named targetPort */
    const char *sport;  /* the service port's name ("" when unnamed) */
} target_t;

static target_t service_target(const json_t *svc, uint16_t port)
{
    target_t t = {port, NULL, ""};
    size_t i;
    const json_t *p;
    json_array_foreach(json_object_get(json_object_get(svc, "spec"), "ports"), i, p) {
        if (json_integer_value(json_object_get(p, "port")) != port)
            continue;
        const char *pn = str_at(p, "name");
        t.sport = pn ? pn : "";
        const json_t *tp = json_object_get(p, "targetPort");
        if (json_is_integer(tp) && json_integer_value(tp) > 0 && json_integer_value(tp) <= 65535) {
            t.num = (unsigned)json_integer_value(tp);
        } else if (json_is_string(tp)) {
            /* IntOrString may carry digits as a string. */
            char *end = NULL;
            const char *s = json_string_value(tp);
            unsigned long v = strtoul(s, &end, 10);
            if (s[0] != '\0' && *end == '\0' && v > 0 && v <= 65535) {
                t.num = (unsigned)v;
            } else {
                t.num = 0;
                t.name = s;
            }
        }
        break;
    }
    return t;
}

static unsigned slice_port(const json_t *slice, const target_t *t)
{
    if (t->num)
        return t->num;
    const json_t *p;
    size_t i;
    unsigned by_tp = 0;
    json_array_foreach(json_object_get(slice, "ports"), i, p) {
        const char *n = str_at(p, "name");
        json_int_t v = json_integer_value(json_object_get(p, "port"));
        if (n == NULL)
            n = "";
        if (v <= 0 || v > 65535)
            continue;
        if (strcmp(n, t->sport) == 0)
            return (unsigned)v;
        if (strcmp(n, t->name) == 0)
            by_tp = (unsigned)v;
    }
    return by_tp;
}

static int cmp_ep(const void *a, const void *b)
{
    return dst_endpoint_addr_cmp(a, b);
}

static int add_endpoint(const dst_config_t *cfg, const json_t *e, int family, unsigned port,
                        const char *instance, const dst_lookup_t *lk, dst_endpoint_set_t *out)
{
    const json_t *ready = json_object_get(json_object_get(e, "conditions"), "ready");
    if (json_is_false(ready))
        return DST_OK;
    const char *addr = json_string_value(json_array_get(json_object_get(e, "addresses"), 0));
    const char *hostname = str_at(e, "hostname");
    uint8_t ip[16] = {0};
    if (addr == NULL || inet_pton(family, addr, ip) != 1)
        return DST_OK;
    if (instance && instance[0] && (hostname == NULL || strcmp(hostname, instance) != 0))
        return DST_OK;
    json_t *pod = NULL;
    const json_t *ref = json_object_get(e, "targetRef");
    const char *rk = str_at(ref, "kind"), *rn = str_at(ref, "name"), *rns = str_at(ref, "namespace");
    if (rk && rn && rns && strcmp(rk, "Pod") == 0 && lk != NULL && lk->get != NULL)
        pod = lk->get(lk->ud, DST_OBJ_POD, rns, rn);
    dst_endpoint_t *ep = set_push(out);
    int rc = ep ? dst_endpoint_from_pod(cfg, family, ip, (uint16_t)port, pod, str_at(e, "zone"),
                                        hostname, lk, ep)
                : DST_ERR_NOMEM;
    json_decref(pod);
    if (rc == DST_OK)
        out->n++;
    return rc;
}

int dst_endpoints_translate(const dst_config_t *cfg, const json_t *svc, uint16_t port,
                            const char *instance, json_t *const *slices, size_t nslices,
                            const dst_lookup_t *lk, dst_endpoint_set_t *out)
{
    target_t t = service_target(svc, port);
    for (size_t s = 0; s < nslices; s++) {
        const char *at = str_at(slices[s], "addressType");
        int family = at && strcmp(at, "IPv4") == 0 ? AF_INET : at && strcmp(at, "IPv6") == 0 ? AF_INET6 : 0;
        if (family == 0)
            continue;
        unsigned p = slice_port(slices[s], &t);
        if (p == 0)
            continue;
        size_t i;
        const json_t *e;
        json_array_foreach(json_object_get(slices[s], "endpoints"), i, e) {
            if (add_endpoint(cfg, e, family, p, instance, lk, out) != DST_OK) {
                dst_endpoint_set_clear(out);
                return DST_ERR_NOMEM;
            }
        }
    }
    if (out->n > 1) {
        qsort(out->v, out->n, sizeof *out->v, cmp_ep);
        size_t w = 1;
        for (size_t r = 1; r < out->n; r++) {
            if (dst_endpoint_addr_cmp(&out->v[w - 1], &out->v[r]) == 0)
                dst_endpoint_clear(&out->v[r]);
            else
                out->v[w++] = out->v[r];
        }
        out->n = w;
    }
    return DST_OK;
}
