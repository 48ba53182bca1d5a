/* ServiceProfile + TrafficSplit -> DestinationProfile; see dst/profile.h. */
#include "dst/profile.h"

#include <stdio.h>
#include <string.h>

#include "dst/authority.h"
#include "mesh/duration.h"
#include "pb.h"

#define ANN_OPAQUE "config.linkerd.io/opaque-ports"
/* "<svc>.<ns>.svc.<domain>:<port>" with labels at most 63 bytes each. */
#define AUTHORITY_MAX (DST_AUTH_PATH_MAX + 1)

static const char *str_at(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static pb_duration_t *duration_ns(dst_arena_t *a, int64_t ns)
{
    pb_duration_t *d = PB_NEW(a, pb_duration_t, GOOGLE__PROTOBUF__DURATION__INIT);
    if (d != NULL) {
        d->seconds = ns / MESH_NS_PER_SEC;
        d->nanos = (int32_t)(ns % MESH_NS_PER_SEC);
    }
    return d;
}

static pb_budget_t *budget(dst_arena_t *a, const json_t *rb)
{
    pb_budget_t *b = PB_NEW(a, pb_budget_t, IO__LINKERD__PROXY__DESTINATION__RETRY_BUDGET__INIT);
    if (b == NULL)
        return NULL;
    b->retry_ratio = DST_RETRY_RATIO_DEFAULT;
    b->min_retries_per_second = DST_RETRY_MIN_PER_SEC_DEFAULT;
    int64_t ttl = DST_RETRY_TTL_S_DEFAULT * MESH_NS_PER_SEC;
    if (json_is_object(rb)) {
        const json_t *r = json_object_get(rb, "retryRatio");
        const json_t *m = json_object_get(rb, "minRetriesPerSecond");
        int64_t t;
        if (json_is_number(r) && json_number_value(r) >= 0)
            b->retry_ratio = (float)json_number_value(r);
        if (json_is_integer(m) && json_integer_value(m) >= 0 && json_integer_value(m) <= UINT32_MAX)
            b->min_retries_per_second = (uint32_t)json_integer_value(m);
        if (mesh_duration_parse(str_at(rb, "ttl"), &t) == 0 && t >= 0)
            ttl = t;
    }
    b->ttl = duration_ns(a, ttl);
    return b->ttl ? b : NULL;
}

static pb_meta_t *resource(dst_arena_t *a, const char *group, const char *kind, const char *name,
                           const char *ns, uint32_t port)
{
    pb_meta_t *m = PB_NEW(a, pb_meta_t, IO__LINKERD__PROXY__META__METADATA__INIT);
    pb_resource_t *r = PB_NEW(a, pb_resource_t, IO__LINKERD__PROXY__META__RESOURCE__INIT);
    if (m == NULL || r == NULL)
        return NULL;
    r->group = dst_arena_strdup(a, group);
    r->kind = dst_arena_strdup(a, kind);
    r->name = dst_arena_strdup(a, name ? name : "");
    r->namespace_ = dst_arena_strdup(a, ns ? ns : "");
    r->port = port;
    m->kind_case = IO__LINKERD__PROXY__META__METADATA__KIND_RESOURCE;
    m->resource = r;
    return a->failed ? NULL : m;
}

/* ---- request and response matches ------------------------------------ */

/* Returns the match, NULL when there is nothing usable (or no memory: the
 * arena records that). */
static pb_reqm_t *req_match(dst_arena_t *a, const json_t *m, int depth);

static pb_reqm_t *req_seq(dst_arena_t *a, const json_t *arr, int any, int depth)
{
    if (!json_is_array(arr) || json_array_size(arr) == 0)
        return NULL;
    pb_reqm_seq_t *seq = PB_NEW(a, pb_reqm_seq_t, IO__LINKERD__PROXY__DESTINATION__REQUEST_MATCH__SEQ__INIT);
    pb_reqm_t *r = PB_NEW(a, pb_reqm_t, IO__LINKERD__PROXY__DESTINATION__REQUEST_MATCH__INIT);
    if (seq == NULL || r == NULL)
        return NULL;
    seq->matches = dst_arena_alloc(a, json_array_size(arr) * sizeof *seq->matches);
    if (seq->matches == NULL)
        return NULL;
    size_t i;
    const json_t *x;
    json_array_foreach(arr, i, x) {
        pb_reqm_t *sub = req_match(a, x, depth + 1);
        if (sub == NULL)
            return NULL; /* one bad branch would change the meaning */
        seq->matches[seq->n_matches++] = sub;
    }
    r->match_case = any ? IO__LINKERD__PROXY__DESTINATION__REQUEST_MATCH__MATCH_ANY
                        : IO__LINKERD__PROXY__DESTINATION__REQUEST_MATCH__MATCH_ALL;
    if (any)
        r->any = seq;
    else
        r->all = seq;
    return r;
}

static pb_method_t *method(dst_arena_t *a, const char *name)
{
    static const char *const reg[] = {"GET", "POST", "PUT", "DELETE", "PATCH",
                                      "OPTIONS", "CONNECT", "HEAD", "TRACE"};
    pb_method_t *m = PB_NEW(a, pb_method_t, IO__LINKERD__PROXY__HTTP_TYPES__HTTP_METHOD__INIT);
    if (m == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof reg / sizeof reg[0]; i++) {
        if (strcmp(name, reg[i]) == 0) {
            m->type_case = IO__LINKERD__PROXY__HTTP_TYPES__HTTP_METHOD__TYPE_REGISTERED;
            m->registered = (Io__Linkerd__Proxy__HttpTypes__HttpMethod__Registered)i;
            return m;
        }
    }
    m->type_case = IO__LINKERD__PROXY__HTTP_TYPES__HTTP_METHOD__TYPE_UNREGISTERED;
    m->unregistered = dst_arena_strdup(a, name);
    return m->unregistered ? m : NULL;
}

static pb_reqm_t *req_match(dst_arena_t *a, const json_t *m, int depth)
{
    if (!json_is_object(m) || depth > DST_MATCH_DEPTH_MAX)
        return NULL;
    pb_reqm_t *parts[5];
    int n = 0;
    const char *path = str_at(m, "pathRegex"), *meth = str_at(m, "method");
    if (path != NULL) {
        pb_reqm_t *r = PB_NEW(a, pb_reqm_t, IO__LINKERD__PROXY__DESTINATION__REQUEST_MATCH__INIT);
        pb_path_t *p = PB_NEW(a, pb_path_t, IO__LINKERD__PROXY__DESTINATION__PATH_MATCH__INIT);
        if (r == NULL || p == NULL || (p->regex = dst_arena_strdup(a, path)) == NULL)
            return NULL;
        r->match_case = IO__LINKERD__PROXY__DESTINATION__REQUEST_MATCH__MATCH_PATH;
        r->path = p;
        parts[n++] = r;
    }
    if (meth != NULL) {
        pb_reqm_t *r = PB_NEW(a, pb_reqm_t, IO__LINKERD__PROXY__DESTINATION__REQUEST_MATCH__INIT);
        if (r == NULL || (r->method = method(a, meth)) == NULL)
            return NULL;
        r->match_case = IO__LINKERD__PROXY__DESTINATION__REQUEST_MATCH__MATCH_METHOD;
        parts[n++] = r;
    }
    const json_t *all = json_object_get(m, "all"), *any = json_object_get(m, "any");
    const json_t *not = json_object_get(m, "not");
    if (all != NULL) {
        if ((parts[n] = req_seq(a, all, 0, depth)) == NULL)
            return NULL;
        n++;
    }
    if (any != NULL) {
        if ((parts[n] = req_seq(a, any, 1, depth)) == NULL)
            return NULL;
        n++;
    }
    if (not != NULL) {
        pb_reqm_t *inner = json_is_array(not) ? req_seq(a, not, 0, depth) : req_match(a, not, depth + 1);
        pb_reqm_t *r = PB_NEW(a, pb_reqm_t, IO__LINKERD__PROXY__DESTINATION__REQUEST_MATCH__INIT);
        if (inner == NULL || r == NULL)
            return NULL;
        r->match_case = IO__LINKERD__PROXY__DESTINATION__REQUEST_MATCH__MATCH_NOT;
        r->not_ = inner;
        parts[n++] = r;
    }
    if (n == 0)
        return NULL;
    if (n == 1)
        return parts[0];
    pb_reqm_seq_t *seq = PB_NEW(a, pb_reqm_seq_t, IO__LINKERD__PROXY__DESTINATION__REQUEST_MATCH__SEQ__INIT);
    pb_reqm_t *r = PB_NEW(a, pb_reqm_t, IO__LINKERD__PROXY__DESTINATION__REQUEST_MATCH__INIT);
    if (seq == NULL || r == NULL || (seq->matches = dst_arena_alloc(a, (size_t)n * sizeof *seq->matches)) == NULL)
        return NULL;
    memcpy(seq->matches, parts, (size_t)n * sizeof *parts);
    seq->n_matches = (size_t)n;
    r->match_case = IO__LINKERD__PROXY__DESTINATION__REQUEST_MATCH__MATCH_ALL;
    r->all = seq;
    return r;
}

static pb_rspm_t *rsp_match(dst_arena_t *a, const json_t *m, int depth);

static pb_rspm_t *rsp_seq(dst_arena_t *a, const json_t *arr, int any, int depth)
{
    if (!json_is_array(arr) || json_array_size(arr) == 0)
        return NULL;
    pb_rspm_seq_t *seq = PB_NEW(a, pb_rspm_seq_t, IO__LINKERD__PROXY__DESTINATION__RESPONSE_MATCH__SEQ__INIT);
    pb_rspm_t *r = PB_NEW(a, pb_rspm_t, IO__LINKERD__PROXY__DESTINATION__RESPONSE_MATCH__INIT);
    if (seq == NULL || r == NULL ||
        (seq->matches = dst_arena_alloc(a, json_array_size(arr) * sizeof *seq->matches)) == NULL)
        return NULL;
    size_t i;
    const json_t *x;
    json_array_foreach(arr, i, x) {
        pb_rspm_t *sub = rsp_match(a, x, depth + 1);
        if (sub == NULL)
            return NULL;
        seq->matches[seq->n_matches++] = sub;
    }
    r->match_case = any ? IO__LINKERD__PROXY__DESTINATION__RESPONSE_MATCH__MATCH_ANY
                        : IO__LINKERD__PROXY__DESTINATION__RESPONSE_MATCH__MATCH_ALL;
    if (any)
        r->any = seq;
    else
        r->all = seq;
    return r;
}

static int status_code(const json_t *v, uint32_t *out)
{
    if (!json_is_integer(v) || json_integer_value(v) < 100 || json_integer_value(v) > 599)
        return -1;
    *out = (uint32_t)json_integer_value(v);
    return 0;
}

static pb_rspm_t *rsp_match(dst_arena_t *a, const json_t *m, int depth)
{
    if (!json_is_object(m) || depth > DST_MATCH_DEPTH_MAX)
        return NULL;
    pb_rspm_t *parts[4];
    int n = 0;
    const json_t *st = json_object_get(m, "status");
    if (st != NULL) {
        const json_t *jmin = json_object_get(st, "min"), *jmax = json_object_get(st, "max");
        uint32_t lo = 0, hi = 0;
        if (jmin == NULL && jmax == NULL)
            return NULL;
        if ((jmin && status_code(jmin, &lo)) || (jmax && status_code(jmax, &hi)))
            return NULL;
        if (jmin == NULL)
            lo = hi;
        if (jmax == NULL)
            hi = lo;
        if (hi < lo)
            return NULL;
        pb_rspm_t *r = PB_NEW(a, pb_rspm_t, IO__LINKERD__PROXY__DESTINATION__RESPONSE_MATCH__INIT);
        pb_status_t *s = PB_NEW(a, pb_status_t, IO__LINKERD__PROXY__DESTINATION__HTTP_STATUS_RANGE__INIT);
        if (r == NULL || s == NULL)
            return NULL;
        s->min = lo;
        s->max = hi;
        r->match_case = IO__LINKERD__PROXY__DESTINATION__RESPONSE_MATCH__MATCH_STATUS;
        r->status = s;
        parts[n++] = r;
    }
    const json_t *all = json_object_get(m, "all"), *any = json_object_get(m, "any");
    const json_t *not = json_object_get(m, "not");
    if (all != NULL) {
        if ((parts[n] = rsp_seq(a, all, 0, depth)) == NULL)
            return NULL;
        n++;
    }
    if (any != NULL) {
        if ((parts[n] = rsp_seq(a, any, 1, depth)) == NULL)
            return NULL;
        n++;
    }
    if (not != NULL) {
        pb_rspm_t *inner = json_is_array(not) ? rsp_seq(a, not, 0, depth) : rsp_match(a, not, depth + 1);
        pb_rspm_t *r = PB_NEW(a, pb_rspm_t, IO__LINKERD__PROXY__DESTINATION__RESPONSE_MATCH__INIT);
        if (inner == NULL || r == NULL)
            return NULL;
        r->match_case = IO__LINKERD__PROXY__DESTINATION__RESPONSE_MATCH__MATCH_NOT;
        r->not_ = inner;
        parts[n++] = r;
    }
    if (n == 0)
        return NULL;
    if (n == 1)
        return parts[0];
    pb_rspm_seq_t *seq = PB_NEW(a, pb_rspm_seq_t, IO__LINKERD__PROXY__DESTINATION__RESPONSE_MATCH__SEQ__INIT);
    pb_rspm_t *r = PB_NEW(a, pb_rspm_t, IO__LINKERD__PROXY__DESTINATION__RESPONSE_MATCH__INIT);
    if (seq == NULL || r == NULL || (seq->matches = dst_arena_alloc(a, (size_t)n * sizeof *seq->matches)) == NULL)
        return NULL;
    memcpy(seq->matches, parts, (size_t)n * sizeof *parts);
    seq->n_matches = (size_t)n;
    r->match_case = IO__LINKERD__PROXY__DESTINATION__RESPONSE_MATCH__MATCH_ALL;
    r->all = seq;
    return r;
}

static pb_route_t *route(dst_arena_t *a, const json_t *jr)
{
    const char *name = str_at(jr, "name");
    pb_reqm_t *cond = req_match(a, json_object_get(jr, "condition"), 0);
    if (name == NULL || cond == NULL)
        return NULL;
    pb_route_t *r = PB_NEW(a, pb_route_t, IO__LINKERD__PROXY__DESTINATION__ROUTE__INIT);
    pb_route_label_t *l = PB_NEW(a, pb_route_label_t, IO__LINKERD__PROXY__DESTINATION__ROUTE__METRICS_LABELS_ENTRY__INIT);
    if (r == NULL || l == NULL || (r->metrics_labels = dst_arena_alloc(a, sizeof *r->metrics_labels)) == NULL)
        return NULL;
    r->condition = cond;
    l->key = (char *)"route";
    if ((l->value = dst_arena_strdup(a, name)) == NULL)
        return NULL;
    r->metrics_labels[0] = l;
    r->n_metrics_labels = 1;
    r->is_retryable = json_is_true(json_object_get(jr, "isRetryable"));
    int64_t t;
    if (mesh_duration_parse(str_at(jr, "timeout"), &t) == 0 && t > 0 && (r->timeout = duration_ns(a, t)) == NULL)
        return NULL;
    const json_t *rcs = json_object_get(jr, "responseClasses");
    if (json_array_size(rcs) > 0) {
        r->response_classes = dst_arena_alloc(a, json_array_size(rcs) * sizeof *r->response_classes);
        if (r->response_classes == NULL)
            return NULL;
        size_t i;
        const json_t *rc;
        json_array_foreach(rcs, i, rc) {
            pb_rspm_t *c = rsp_match(a, json_object_get(rc, "condition"), 0);
            if (c == NULL) {
                if (a->failed)
                    return NULL;
                continue; /* an unusable class classifies nothing */
            }
            pb_rclass_t *k = PB_NEW(a, pb_rclass_t, IO__LINKERD__PROXY__DESTINATION__RESPONSE_CLASS__INIT);
            if (k == NULL)
                return NULL;
            k->condition = c;
            k->is_failure = json_is_true(json_object_get(rc, "isFailure"));
            r->response_classes[r->n_response_classes++] = k;
        }
    }
    return r;
}

/* ---- overrides -------------------------------------------------------- */

/* Completes a ServiceProfile override authority into buf; 0 when Get
 * would accept the result. */
static int complete_authority(const char *auth, const char *ns, const char *domain, uint16_t port,
                              char *buf, size_t cap)
{
    char host[AUTHORITY_MAX];
    const char *colon = strrchr(auth, ':');
    size_t hn = colon ? (size_t)(colon - auth) : strlen(auth);
    if (hn == 0 || hn >= sizeof host)
        return -1;
    memcpy(host, auth, hn);
    host[hn] = '\0';
    if (hn > 0 && host[hn - 1] == '.')
        host[--hn] = '\0';
    int dots = 0;
    for (size_t i = 0; i < hn; i++)
        dots += host[i] == '.';
    char full[AUTHORITY_MAX];
    int w;
    size_t hl = strlen(host);
    if (dots == 0)
        w = snprintf(full, sizeof full, "%s.%s.svc.%s", host, ns, domain);
    else if (dots == 1)
        w = snprintf(full, sizeof full, "%s.svc.%s", host, domain);
    else if (dots == 2 && hl > 4 && strcmp(host + hl - 4, ".svc") == 0)
        w = snprintf(full, sizeof full, "%s.%s", host, domain);
    else
        w = snprintf(full, sizeof full, "%s", host);
    if (w < 0 || (size_t)w >= sizeof full)
        return -1;
    if (colon)
        w = snprintf(buf, cap, "%s%s", full, colon);
    else
        w = snprintf(buf, cap, "%s:%u", full, port);
    if (w < 0 || (size_t)w >= cap)
        return -1;
    dst_authority_t parsed;
    return dst_authority_parse(buf, domain, &parsed) == DST_AUTH_OK && parsed.kind == DST_AUTH_SERVICE ? 0 : -1;
}

/* Fills p->dst_overrides from the ServiceProfile's list; 1 when used, 0 when
 * absent or refused, -1 on no memory. */
static int sp_overrides(dst_arena_t *a, const dst_config_t *cfg, const json_t *sp, const char *ns,
                        uint16_t port, pb_profile_t *p)
{
    const json_t *list = json_object_get(json_object_get(sp, "spec"), "dstOverrides");
    size_t n = json_array_size(list);
    if (n == 0)
        return 0;
    pb_wdst_t **v = dst_arena_alloc(a, n * sizeof *v);
    if (v == NULL)
        return -1;
    size_t k = 0, i;
    const json_t *o;
    json_array_foreach(list, i, o) {
        uint32_t wt;
        char buf[AUTHORITY_MAX];
        const char *auth = str_at(o, "authority");
        if (dst_weight_from_quantity(json_object_get(o, "weight"), &wt) != DST_OK)
            return 0;
        if (auth == NULL || complete_authority(auth, ns, cfg->cluster_domain, port, buf, sizeof buf))
            continue;
        pb_wdst_t *d = PB_NEW(a, pb_wdst_t, IO__LINKERD__PROXY__DESTINATION__WEIGHTED_DST__INIT);
        if (d == NULL || (d->authority = dst_arena_strdup(a, buf)) == NULL)
            return -1;
        d->weight = wt;
        v[k++] = d;
    }
    if (k == 0)
        return 0;
    p->dst_overrides = v;
    p->n_dst_overrides = k;
    return 1;
}

static int split_overrides(dst_arena_t *a, const dst_config_t *cfg, const json_t *split, const char *ns,
                           uint16_t port, pb_profile_t *p)
{
    const json_t *list = json_object_get(json_object_get(split, "spec"), "backends");
    size_t n = json_array_size(list);
    if (n == 0)
        return 0;
    pb_wdst_t **v = dst_arena_alloc(a, n * sizeof *v);
    if (v == NULL)
        return -1;
    size_t k = 0, i;
    const json_t *b;
    json_array_foreach(list, i, b) {
        uint32_t wt;
        char buf[AUTHORITY_MAX];
        const char *svc = str_at(b, "service");
        if (dst_weight_from_quantity(json_object_get(b, "weight"), &wt) != DST_OK)
            return 0;
        if (svc == NULL || complete_authority(svc, ns, cfg->cluster_domain, port, buf, sizeof buf))
            continue;
        pb_wdst_t *d = PB_NEW(a, pb_wdst_t, IO__LINKERD__PROXY__DESTINATION__WEIGHTED_DST__INIT);
        if (d == NULL || (d->authority = dst_arena_strdup(a, buf)) == NULL ||
            (d->backend_ref = resource(a, "core", "Service", svc, ns, port)) == NULL)
            return -1;
        d->weight = wt;
        v[k++] = d;
    }
    if (k == 0)
        return 0;
    p->dst_overrides = v;
    p->n_dst_overrides = k;
    return 1;
}

static int service_has_port(const json_t *svc, uint16_t port)
{
    size_t i;
    const json_t *p;
    json_array_foreach(json_object_get(json_object_get(svc, "spec"), "ports"), i, p)
        if (json_integer_value(json_object_get(p, "port")) == port)
            return 1;
    return 0;
}

static int build(dst_arena_t *a, const dst_config_t *cfg, const dst_profile_input_t *in, pb_profile_t *p)
{
    if (in->endpoint != NULL) {
        if ((p->retry_budget = budget(a, NULL)) == NULL || (p->endpoint = dst__pb_waddr(a, in->endpoint)) == NULL)
            return DST_ERR_NOMEM;
        p->opaque_protocol = in->endpoint->hint == DST_HINT_OPAQUE;
        return DST_OK;
    }
    if (in->svc == NULL) {
        p->retry_budget = budget(a, NULL);
        return p->retry_budget ? DST_OK : DST_ERR_NOMEM;
    }
    if (!service_has_port(in->svc, in->port))
        return DST_OK;
    const json_t *md = json_object_get(in->svc, "metadata");
    const char *name = str_at(md, "name"), *ns = str_at(md, "namespace");
    if (ns == NULL)
        ns = "default";
    const json_t *spec = json_object_get(in->sp, "spec");
    if ((p->fully_qualified_name = dst_arena_strdup(a, in->fqn ? in->fqn : "")) == NULL ||
        (p->parent_ref = resource(a, "core", "Service", name, ns, in->port)) == NULL ||
        (p->retry_budget = budget(a, json_object_get(spec, "retryBudget"))) == NULL)
        return DST_ERR_NOMEM;
    const char *opaque = dst_meta_str(in->svc, "annotations", ANN_OPAQUE);
    p->opaque_protocol = dst_ports_contains(opaque ? opaque : cfg->default_opaque_ports, in->port) == 1;
    if (in->sp != NULL) {
        const json_t *spmd = json_object_get(in->sp, "metadata");
        if ((p->profile_ref = resource(a, "linkerd.io", "ServiceProfile", str_at(spmd, "name"),
                                       str_at(spmd, "namespace"), 0)) == NULL)
            return DST_ERR_NOMEM;
        const json_t *routes = json_object_get(spec, "routes");
        if (json_array_size(routes) > 0) {
            p->routes = dst_arena_alloc(a, json_array_size(routes) * sizeof *p->routes);
            if (p->routes == NULL)
                return DST_ERR_NOMEM;
            size_t i;
            const json_t *jr;
            json_array_foreach(routes, i, jr) {
                pb_route_t *r = route(a, jr);
                if (a->failed)
                    return DST_ERR_NOMEM;
                if (r != NULL)
                    p->routes[p->n_routes++] = r;
            }
        }
    }
    int rc = in->sp ? sp_overrides(a, cfg, in->sp, ns, in->port, p) : 0;
    if (rc == 0 && in->split != NULL)
        rc = split_overrides(a, cfg, in->split, ns, in->port, p);
    return rc < 0 || a->failed ? DST_ERR_NOMEM : DST_OK;
}

int dst_profile_build(const dst_config_t *cfg, const dst_profile_input_t *in, dst_blob_t **out)
{
    dst_arena_t a = DST_ARENA_INIT;
    pb_profile_t p = IO__LINKERD__PROXY__DESTINATION__DESTINATION_PROFILE__INIT;
    *out = NULL;
    int rc = build(&a, cfg, in, &p);
    if (rc == DST_OK && (*out = dst_blob_pack(&p.base)) == NULL)
        rc = DST_ERR_NOMEM;
    dst_arena_free(&a);
    return rc;
}
