/* The injection decision and the patch that adds linkerd-init and
 * linkerd-proxy to a pod (linkerd.md §4.2-4.8). */
#include "wh/inject.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "mesh/mem.h"
#include "mesh/portlist.h"

#define ANN_INJECT "linkerd.io/inject"
#define CFG "config.linkerd.io/"
#define CFG_ALPHA "config.alpha.linkerd.io/"
#define CFG_BETA "config.beta.linkerd.io/"
#define PROXY_NAME "linkerd-proxy"
#define INIT_NAME "linkerd-init"
#define VOL_END_ENTITY "linkerd-identity-end-entity"
#define VOL_TOKEN "linkerd-identity-token"
#define END_ENTITY_DIR "/var/run/linkerd/identity/end-entity"
#define TOKEN_DIR "/var/run/secrets/tokens"
#define TOKEN_AUDIENCE "identity.l5d.io"
#define TOKEN_EXPIRY 86400
#define LEGACY_TOKEN_FILE "/var/run/secrets/kubernetes.io/serviceaccount/token"
#define AWAIT_TIMEOUT "2m"
#define PATH_MAX_LEN 512

const char *const wh_inherited_annotations[] = {
    ANN_INJECT,
    CFG "proxy-image", CFG "proxy-version", CFG "image-pull-policy",
    CFG "inbound-port", CFG "outbound-port", CFG "admin-port", CFG "control-port",
    CFG "skip-inbound-ports", CFG "skip-outbound-ports", CFG "skip-subnets",
    CFG "opaque-ports", CFG "pod-inbound-ports",
    CFG "proxy-cpu-request", CFG "proxy-cpu-limit", CFG "proxy-memory-request",
    CFG "proxy-memory-limit", CFG "proxy-ephemeral-storage-request",
    CFG "proxy-ephemeral-storage-limit",
    CFG "proxy-uid", CFG "proxy-gid", CFG "proxy-log-level", CFG "proxy-log-format",
    CFG "proxy-admin-shutdown", CFG "proxy-await", CFG "proxy-enable-native-sidecar",
    CFG_ALPHA "proxy-enable-native-sidecar", CFG_BETA "proxy-enable-native-sidecar",
    CFG_ALPHA "proxy-wait-before-exit-seconds", CFG "default-inbound-policy",
    CFG "proxy-outbound-connect-timeout", CFG "proxy-inbound-connect-timeout",
    CFG "enable-external-profiles",
    NULL,
};

static const char *const decision_names[WH_DECISION_COUNT] = {
    [WH_DECISION_INJECT] = "injected",
    [WH_SKIP_INVALID_NS_ANNOTATION] = "invalid_inject_annotation_at_ns",
    [WH_SKIP_INVALID_POD_ANNOTATION] = "invalid_inject_annotation_at_workload",
    [WH_SKIP_DISABLED] = "injection_disable_annotation_present",
    [WH_SKIP_ENABLE_ABSENT] = "injection_enable_annotation_absent",
    [WH_SKIP_HOST_NETWORK] = "host_network_enabled",
    [WH_SKIP_SIDECAR_EXISTS] = "sidecar_already_exists",
    [WH_SKIP_NO_TOKEN] = "automount_service_account_token_disabled",
    [WH_SKIP_INVALID_CONFIG] = "invalid_config_annotation",
    [WH_SKIP_UNSUPPORTED] = "unsupported_resource",
};

const char *wh_decision_name(wh_decision_t d)
{
    return (unsigned)d < WH_DECISION_COUNT ? decision_names[d] : "unknown";
}

size_t wh_pointer_escape(char *out, size_t cap, const char *key)
{
    size_t n = 0;
    for (const char *p = key; *p != '\0'; p++) {
        const char *rep = *p == '~' ? "~0" : *p == '/' ? "~1" : NULL;
        size_t k = rep ? 2 : 1;
        if (cap > 0 && n + k < cap)
            memcpy(out + n, rep ? rep : p, k);
        n += k;
    }
    if (cap > 0)
        out[n < cap ? n : cap - 1] = '\0';
    return n;
}

/* ------------------------------------------------------------------------ */
/* Decoding: only the fields we read, only their types.                      */

static int invalid(wh_inject_result_t *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int invalid(wh_inject_result_t *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->message, sizeof out->message, fmt, ap);
    va_end(ap);
    return WH_ERR_INVALID;
}

/* NULL for absent or null; otherwise the node. */
static json_t *field(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_null(v) ? NULL : v;
}

static bool is_intlike(const json_t *v)
{
    return json_is_integer(v);
}

static int check_string_map(const json_t *m, const char *what, wh_inject_result_t *out)
{
    if (m == NULL)
        return 0;
    if (!json_is_object(m))
        return invalid(out, "%s: expected an object", what);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)m, k, v) {
        if (!json_is_string(v))
            return invalid(out, "%s[\"%.64s\"]: expected a string", what, k);
    }
    return 0;
}

static int check_probe(const json_t *c, const char *key, const char *where,
                       wh_inject_result_t *out)
{
    json_t *p = field(c, key);
    if (p == NULL)
        return 0;
    if (!json_is_object(p))
        return invalid(out, "%s.%s: expected an object", where, key);
    json_t *hg = field(p, "httpGet");
    if (hg != NULL) {
        if (!json_is_object(hg))
            return invalid(out, "%s.%s.httpGet: expected an object", where, key);
        json_t *port = field(hg, "port");
        if (port != NULL && !json_is_string(port) && !is_intlike(port))
            return invalid(out, "%s.%s.httpGet.port: expected an integer or a name", where, key);
    }
    return 0;
}

static int check_containers(const json_t *spec, const char *key, wh_inject_result_t *out)
{
    json_t *arr = field(spec, key);
    if (arr == NULL)
        return 0;
    if (!json_is_array(arr))
        return invalid(out, "spec.%s: expected an array", key);
    size_t i;
    json_t *c;
    json_array_foreach(arr, i, c) {
        char where[64];
        snprintf(where, sizeof where, "spec.%s[%zu]", key, i);
        if (!json_is_object(c))
            return invalid(out, "%s: expected an object", where);
        static const char *const strs[] = {"name", "image", "restartPolicy"};
        for (size_t s = 0; s < MESH_ARRAY_LEN(strs); s++) {
            json_t *v = field(c, strs[s]);
            if (v != NULL && !json_is_string(v))
                return invalid(out, "%s.%s: expected a string", where, strs[s]);
        }
        json_t *ports = field(c, "ports");
        if (ports != NULL) {
            if (!json_is_array(ports))
                return invalid(out, "%s.ports: expected an array", where);
            size_t j;
            json_t *p;
            json_array_foreach(ports, j, p) {
                if (!json_is_object(p))
                    return invalid(out, "%s.ports[%zu]: expected an object", where, j);
                json_t *cp = field(p, "containerPort");
                if (cp != NULL && !is_intlike(cp))
                    return invalid(out, "%s.ports[%zu].containerPort: expected an integer",
                                   where, j);
                json_t *nm = field(p, "name");
                if (nm != NULL && !json_is_string(nm))
                    return invalid(out, "%s.ports[%zu].name: expected a string", where, j);
            }
        }
        json_t *sc = field(c, "securityContext");
        if (sc != NULL && !json_is_object(sc))
            return invalid(out, "%s.securityContext: expected an object", where);
        static const char *const probes[] = {"livenessProbe", "readinessProbe", "startupProbe"};
        for (size_t s = 0; s < MESH_ARRAY_LEN(probes); s++)
            if (check_probe(c, probes[s], where, out) < 0)
                return WH_ERR_INVALID;
    }
    return 0;
}

/* Checks the types of the pod fields the injector reads. */
static int check_pod(const json_t *pod, wh_inject_result_t *out)
{
    if (!json_is_object(pod))
        return invalid(out, "the object is not a JSON object");
    json_t *md = field(pod, "metadata");
    if (md != NULL) {
        if (!json_is_object(md))
            return invalid(out, "metadata: expected an object");
        if (check_string_map(field(md, "annotations"), "metadata.annotations", out) < 0 ||
            check_string_map(field(md, "labels"), "metadata.labels", out) < 0)
            return WH_ERR_INVALID;
        static const char *const strs[] = {"name", "namespace", "generateName"};
        for (size_t s = 0; s < MESH_ARRAY_LEN(strs); s++) {
            json_t *v = field(md, strs[s]);
            if (v != NULL && !json_is_string(v))
                return invalid(out, "metadata.%s: expected a string", strs[s]);
        }
    }
    json_t *spec = field(pod, "spec");
    if (spec == NULL)
        return 0;
    if (!json_is_object(spec))
        return invalid(out, "spec: expected an object");
    static const char *const bools[] = {"hostNetwork", "automountServiceAccountToken"};
    for (size_t s = 0; s < MESH_ARRAY_LEN(bools); s++) {
        json_t *v = field(spec, bools[s]);
        if (v != NULL && !json_is_boolean(v))
            return invalid(out, "spec.%s: expected a boolean", bools[s]);
    }
    json_t *vols = field(spec, "volumes");
    if (vols != NULL && !json_is_array(vols))
        return invalid(out, "spec.volumes: expected an array");
    if (check_containers(spec, "containers", out) < 0 ||
        check_containers(spec, "initContainers", out) < 0)
        return WH_ERR_INVALID;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Decision                                                                  */

static bool valid_inject_value(const char *s)
{
    return strcmp(s, "enabled") == 0 || strcmp(s, "disabled") == 0 || strcmp(s, "ingress") == 0;
}

static bool enables(const char *s)
{
    return s != NULL && (strcmp(s, "enabled") == 0 || strcmp(s, "ingress") == 0);
}

static bool has_prefix(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

static bool is_proxy_image(const wh_values_t *v, const char *img)
{
    size_t n = strlen(v->proxy_image);
    return has_prefix(img, "cr.l5d.io/linkerd/proxy:") ||
           has_prefix(img, "gcr.io/istio-release/proxyv2:") || has_prefix(img, "cmesh/proxy:") ||
           (strncmp(img, v->proxy_image, n) == 0 && (img[n] == ':' || img[n] == '@'));
}

static bool sidecar_exists(const wh_values_t *v, const json_t *spec)
{
    static const char *const keys[] = {"containers", "initContainers"};
    for (size_t k = 0; k < 2; k++) {
        size_t i;
        json_t *c;
        json_array_foreach(field(spec, keys[k]), i, c) {
            const char *name = json_string_value(field(c, "name"));
            const char *img = json_string_value(field(c, "image"));
            if (name != NULL && (strcmp(name, PROXY_NAME) == 0 || strcmp(name, "istio-proxy") == 0))
                return true;
            if (img != NULL && is_proxy_image(v, img))
                return true;
            if (k == 1 && name != NULL &&
                (strcmp(name, INIT_NAME) == 0 || strcmp(name, "istio-init") == 0))
                return true;
            if (k == 1 && img != NULL &&
                (has_prefix(img, "cr.l5d.io/linkerd/proxy-init:") ||
                 has_prefix(img, "gcr.io/istio-release/proxy_init:")))
                return true;
        }
    }
    return false;
}

/* ------------------------------------------------------------------------ */
/* Effective configuration: annotation (pod, else namespace) over values.    */

typedef struct cfg {
    const char *image, *version, *pull_policy;
    long long port_in, port_out, port_admin, port_ctl;
    long long uid, gid;
    const char *log_level, *log_format;
    bool native, await, ingress, shutdown, external_profiles;
    const char *skip_in, *skip_out, *skip_subnets;
    const char *opaque;            /* annotation value, or NULL */
    const char *pod_inbound_ports; /* annotation value, or NULL */
    const char *cpu_req, *cpu_lim, *mem_req, *mem_lim, *eph_req, *eph_lim;
    const char *default_policy;
    const char *out_connect_timeout, *in_connect_timeout;
    long long wait_before_exit;
} cfg_t;

typedef struct ctx {
    const wh_values_t *v;
    const wh_inject_input_t *in;
    const json_t *pod_ann; /* may be NULL */
    const json_t *spec;
    wh_inject_result_t *out;
    cfg_t c;
    json_t *ops;
    char path[PATH_MAX_LEN];
    int err; /* set on the first allocation failure */
} ctx_t;

static bool inherited(const char *key)
{
    for (const char *const *k = wh_inherited_annotations; *k != NULL; k++)
        if (strcmp(*k, key) == 0)
            return true;
    return false;
}

static const char *ann(ctx_t *x, const char *key)
{
    const char *s = json_string_value(field(x->pod_ann, key));
    if (s == NULL && x->in->ns_annotations != NULL && inherited(key))
        s = json_string_value(field(x->in->ns_annotations, key));
    return s;
}

static int bad_config(ctx_t *x, const char *key, const char *val, const char *want)
{
    x->out->decision = WH_SKIP_INVALID_CONFIG;
    snprintf(x->out->message, sizeof x->out->message, "annotation %s=\"%.64s\": %s", key, val,
             want);
    return -1;
}

static int ann_port(ctx_t *x, const char *key, long long def, long long *out)
{
    const char *s = ann(x, key);
    *out = def;
    if (s != NULL && !wh__parse_int(s, 1, 65535, out))
        return bad_config(x, key, s, "expected a port number in 1..65535");
    return 0;
}

static int ann_bool(ctx_t *x, const char *key, const char *yes, const char *no, bool def,
                    bool *out)
{
    const char *s = ann(x, key);
    *out = def;
    if (s == NULL)
        return 0;
    if (strcasecmp(s, yes) == 0)
        *out = true;
    else if (strcasecmp(s, no) == 0)
        *out = false;
    else {
        char want[64];
        snprintf(want, sizeof want, "expected %s or %s", yes, no);
        return bad_config(x, key, s, want);
    }
    return 0;
}

static int ann_quantity(ctx_t *x, const char *key, const char *def, const char **out)
{
    const char *s = ann(x, key);
    *out = s != NULL ? s : def;
    if (s != NULL && !wh__quantity_valid(s))
        return bad_config(x, key, s, "expected a resource quantity such as 100m or 64Mi");
    return 0;
}

static int ann_ports(ctx_t *x, const char *key, bool names, const char **out)
{
    mesh_portlist_item_t items[MESH_PORTLIST_MAX];
    const char *s = ann(x, key);
    *out = s;
    unsigned flags = names ? MESH_PORTLIST_NAMES : 0;
    if (s != NULL && mesh_portlist_parse(s, flags, items, MESH_PORTLIST_MAX) < 0)
        return bad_config(x, key, s, names ? "expected ports, ranges or port names"
                                           : "expected a list of ports or ranges");
    return 0;
}

static int ann_duration_ms(ctx_t *x, const char *key, const char *def, const char **out)
{
    /* Kept as written: the proxy parses durations itself; we only refuse
     * what is clearly not one. */
    const char *s = ann(x, key);
    *out = s != NULL ? s : def;
    if (s == NULL)
        return 0;
    size_t n = strlen(s);
    if (n == 0 || n > 32 || !(s[0] >= '0' && s[0] <= '9') || (s[n - 1] >= '0' && s[n - 1] <= '9'))
        return bad_config(x, key, s, "expected a duration such as 100ms or 2s");
    return 0;
}

static int read_config(ctx_t *x, const char *inject_value)
{
    const wh_values_t *v = x->v;
    cfg_t *c = &x->c;
    c->ingress = inject_value != NULL && strcmp(inject_value, "ingress") == 0;
    const char *s;
    c->image = (s = ann(x, CFG "proxy-image")) != NULL && s[0] ? s : v->proxy_image;
    c->version = (s = ann(x, CFG "proxy-version")) != NULL && s[0] ? s : v->proxy_version;
    c->pull_policy = v->proxy_pull_policy;
    if ((s = ann(x, CFG "image-pull-policy")) != NULL) {
        if (strcmp(s, "Always") && strcmp(s, "IfNotPresent") && strcmp(s, "Never"))
            return bad_config(x, CFG "image-pull-policy", s,
                              "expected Always, IfNotPresent or Never");
        c->pull_policy = s;
    }
    if (ann_port(x, CFG "inbound-port", v->port_inbound, &c->port_in) < 0 ||
        ann_port(x, CFG "outbound-port", v->port_outbound, &c->port_out) < 0 ||
        ann_port(x, CFG "admin-port", v->port_admin, &c->port_admin) < 0 ||
        ann_port(x, CFG "control-port", v->port_control, &c->port_ctl) < 0)
        return -1;
    c->uid = v->proxy_uid;
    if ((s = ann(x, CFG "proxy-uid")) != NULL && !wh__parse_int(s, 0, 2147483647, &c->uid))
        return bad_config(x, CFG "proxy-uid", s, "expected a user id");
    c->gid = v->proxy_gid;
    if ((s = ann(x, CFG "proxy-gid")) != NULL && !wh__parse_int(s, 0, 2147483647, &c->gid))
        return bad_config(x, CFG "proxy-gid", s, "expected a group id");
    c->log_level = v->log_level;
    if ((s = ann(x, CFG "proxy-log-level")) != NULL) {
        if (s[0] == '\0' || strpbrk(s, " \t\r\n") != NULL)
            return bad_config(x, CFG "proxy-log-level", s, "expected a log filter");
        c->log_level = s;
    }
    c->log_format = v->log_format;
    if ((s = ann(x, CFG "proxy-log-format")) != NULL) {
        if (strcasecmp(s, "plain") && strcasecmp(s, "json"))
            return bad_config(x, CFG "proxy-log-format", s, "expected plain or json");
        c->log_format = s;
    }
    if (ann_bool(x, CFG "proxy-await", "enabled", "disabled", v->await, &c->await) < 0 ||
        ann_bool(x, CFG "proxy-admin-shutdown", "enabled", "disabled", v->shutdown_endpoint,
                 &c->shutdown) < 0 ||
        ann_bool(x, CFG "enable-external-profiles", "true", "false", v->external_profiles,
                 &c->external_profiles) < 0)
        return -1;
    c->native = v->native_sidecar;
    static const char *const native_keys[] = {CFG_BETA "proxy-enable-native-sidecar",
                                              CFG_ALPHA "proxy-enable-native-sidecar",
                                              CFG "proxy-enable-native-sidecar"};
    for (size_t i = 0; i < MESH_ARRAY_LEN(native_keys); i++) /* the last one wins */
        if (ann_bool(x, native_keys[i], "true", "false", c->native, &c->native) < 0)
            return -1;
    if (ann_ports(x, CFG "skip-inbound-ports", false, &c->skip_in) < 0 ||
        ann_ports(x, CFG "skip-outbound-ports", false, &c->skip_out) < 0 ||
        ann_ports(x, CFG "opaque-ports", true, &c->opaque) < 0 ||
        ann_ports(x, CFG "pod-inbound-ports", false, &c->pod_inbound_ports) < 0)
        return -1;
    c->skip_subnets = v->skip_subnets[0] ? v->skip_subnets : NULL;
    if ((s = ann(x, CFG "skip-subnets")) != NULL) {
        if (!wh__cidrs_valid(s))
            return bad_config(x, CFG "skip-subnets", s, "expected a list of CIDRs");
        c->skip_subnets = s;
    }
    if (ann_quantity(x, CFG "proxy-cpu-request", v->cpu_request, &c->cpu_req) < 0 ||
        ann_quantity(x, CFG "proxy-cpu-limit", v->cpu_limit, &c->cpu_lim) < 0 ||
        ann_quantity(x, CFG "proxy-memory-request", v->mem_request, &c->mem_req) < 0 ||
        ann_quantity(x, CFG "proxy-memory-limit", v->mem_limit, &c->mem_lim) < 0 ||
        ann_quantity(x, CFG "proxy-ephemeral-storage-request", v->eph_request, &c->eph_req) < 0 ||
        ann_quantity(x, CFG "proxy-ephemeral-storage-limit", v->eph_limit, &c->eph_lim) < 0)
        return -1;
    c->default_policy = v->default_inbound_policy;
    if ((s = ann(x, CFG "default-inbound-policy")) != NULL) {
        static const char *const pol[] = {"all-unauthenticated", "all-authenticated",
                                          "cluster-unauthenticated", "cluster-authenticated",
                                          "deny", "audit"};
        bool ok = false;
        for (size_t i = 0; i < MESH_ARRAY_LEN(pol); i++)
            ok |= strcmp(s, pol[i]) == 0;
        if (!ok)
            return bad_config(x, CFG "default-inbound-policy", s, "expected a default policy");
        c->default_policy = s;
    }
    if (ann_duration_ms(x, CFG "proxy-outbound-connect-timeout", v->outbound_connect_timeout,
                        &c->out_connect_timeout) < 0 ||
        ann_duration_ms(x, CFG "proxy-inbound-connect-timeout", v->inbound_connect_timeout,
                        &c->in_connect_timeout) < 0)
        return -1;
    c->wait_before_exit = v->wait_before_exit;
    if ((s = ann(x, CFG_ALPHA "proxy-wait-before-exit-seconds")) != NULL &&
        !wh__parse_int(s, 0, 86400, &c->wait_before_exit))
        return bad_config(x, CFG_ALPHA "proxy-wait-before-exit-seconds", s,
                          "expected seconds in 0..86400");
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Patch building                                                            */

/* Sets o[key] = value (key a constant ASCII name) and returns o; steals
 * value and, on failure, o too (NULL). Cheaper than json_pack, whose format
 * parsing and UTF-8 checks of constant names were a fifth of an admission
 * (~60 env entries and ~40 operations per pod). */
static json_t *pair(json_t *o, const char *key, json_t *value)
{
    if (o == NULL || value == NULL) {
        json_decref(value);
        json_decref(o);
        return NULL;
    }
    if (json_object_set_new_nocheck(o, key, value) < 0) { /* value already released */
        json_decref(o);
        return NULL;
    }
    return o;
}

static void op_add(ctx_t *x, json_t *value, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void op_add(ctx_t *x, json_t *value, const char *fmt, ...)
{
    char tail[PATH_MAX_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tail, sizeof tail, fmt, ap);
    va_end(ap);
    snprintf(x->path, sizeof x->path, "%s%s", x->in->path_prefix ? x->in->path_prefix : "", tail);
    json_t *op = pair(pair(json_object(), "op", json_string_nocheck("add")), "path",
                      json_string(x->path));
    op = pair(op, "value", value);
    if (op == NULL || json_array_append_new(x->ops, op) < 0)
        x->err = 1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* One add per key of `m`, sorted, under `base` ("/metadata/annotations"). */
static void add_sorted(ctx_t *x, const char *base, json_t *m)
{
    size_t n = json_object_size(m), i = 0;
    const char **keys = mesh_malloc((n ? n : 1) * sizeof *keys);
    if (keys == NULL) {
        x->err = 1;
        return;
    }
    const char *k;
    json_t *val;
    json_object_foreach(m, k, val) keys[i++] = k;
    qsort(keys, n, sizeof *keys, cmp_str);
    for (i = 0; i < n; i++) {
        char esc[256];
        if (wh_pointer_escape(esc, sizeof esc, keys[i]) >= sizeof esc) {
            x->err = 1;
            break;
        }
        op_add(x, json_incref(json_object_get(m, keys[i])), "%s/%s", base, esc);
    }
    mesh_free(keys);
}

static json_t *str(const char *s)
{
    return json_string(s);
}

/* A command line of words separated by spaces (values like
 * "/usr/bin/cmesh-proxy await"), as an exec array; never NULL on success. */
static json_t *words(const char *line)
{
    json_t *a = json_array();
    const char *p = line;
    while (a != NULL && *p) {
        while (*p == ' ')
            p++;
        size_t n = strcspn(p, " ");
        if (n > 0)
            json_array_append_new(a, json_stringn(p, n));
        p += n;
    }
    return a;
}

static json_t *strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static json_t *strf(const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof buf)
        return NULL;
    return json_string(buf);
}

/* Containers' declared ports and numeric HTTP probe ports, sorted, unique. */
static void inbound_ports(const json_t *spec, char *out, size_t cap)
{
    char seen[65536 / 8] = {0};
    size_t i, j;
    json_t *c, *p;
    json_array_foreach(field(spec, "containers"), i, c) {
        json_array_foreach(field(c, "ports"), j, p) {
            json_int_t port = json_integer_value(field(p, "containerPort"));
            if (port > 0 && port < 65536)
                seen[port / 8] |= (char)(1 << (port % 8));
        }
        static const char *const probes[] = {"livenessProbe", "readinessProbe", "startupProbe"};
        for (size_t k = 0; k < MESH_ARRAY_LEN(probes); k++) {
            json_t *port = field(field(field(c, probes[k]), "httpGet"), "port");
            json_int_t n = json_integer_value(port);
            if (json_is_integer(port) && n > 0 && n < 65536)
                seen[n / 8] |= (char)(1 << (n % 8));
        }
    }
    size_t len = 0;
    out[0] = '\0';
    /* The set is sparse: skip empty 64-port words rather than test 65535 bits. */
    for (int base = 0; base < 65536; base += 64) {
        uint64_t word;
        memcpy(&word, seen + base / 8, sizeof word);
        if (word == 0)
            continue;
        for (int port = base == 0 ? 1 : base; port < base + 64; port++) {
            if (!(seen[port / 8] & (1 << (port % 8))))
                continue;
            int w = snprintf(out + len, cap - len, "%s%d", len ? "," : "", port);
            if (w < 0 || (size_t)w >= cap - len)
                return;
            len += (size_t)w;
        }
    }
}

/* The containerPort named `name` in any container, or 0. */
static int named_port(const json_t *spec, const char *name)
{
    size_t i, j;
    json_t *c, *p;
    json_array_foreach(field(spec, "containers"), i, c) {
        json_array_foreach(field(c, "ports"), j, p) {
            const char *n = json_string_value(field(p, "name"));
            if (n != NULL && strcmp(n, name) == 0)
                return (int)json_integer_value(field(p, "containerPort"));
        }
    }
    return 0;
}

/* Rewrites a port list with named ports resolved (unknown names dropped). */
static void resolve_ports(const json_t *spec, const char *list, char *out, size_t cap)
{
    mesh_portlist_item_t items[MESH_PORTLIST_MAX];
    int n = mesh_portlist_parse(list, MESH_PORTLIST_NAMES, items, MESH_PORTLIST_MAX);
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        int lo = items[i].lo, hi = items[i].hi;
        if (items[i].name[0] != '\0') {
            lo = hi = named_port(spec, items[i].name);
            if (lo <= 0)
                continue;
        }
        int w = lo == hi ? snprintf(out + len, cap - len, "%s%d", len ? "," : "", lo)
                         : snprintf(out + len, cap - len, "%s%d-%d", len ? "," : "", lo, hi);
        if (w < 0 || (size_t)w >= cap - len)
            break;
        len += (size_t)w;
    }
}

/* The default opaque ports this pod exposes, in the order it declares them. */
static void filtered_opaque(const wh_values_t *v, const json_t *spec, char *out, size_t cap)
{
    mesh_portlist_item_t items[MESH_PORTLIST_MAX];
    int n = mesh_portlist_parse(v->opaque_ports, 0, items, MESH_PORTLIST_MAX);
    char seen[65536 / 8] = {0};
    size_t len = 0, i, j;
    json_t *c, *p;
    out[0] = '\0';
    json_array_foreach(field(spec, "containers"), i, c) {
        json_array_foreach(field(c, "ports"), j, p) {
            json_int_t port = json_integer_value(field(p, "containerPort"));
            if (port <= 0 || port >= 65536 || (seen[port / 8] & (1 << (port % 8))) ||
                !mesh_portlist_contains(items, n, (unsigned)port))
                continue;
            seen[port / 8] |= (char)(1 << (port % 8));
            int w = snprintf(out + len, cap - len, "%s%d", len ? "," : "", (int)port);
            if (w < 0 || (size_t)w >= cap - len)
                return;
            len += (size_t)w;
        }
    }
}

/* Appends {"name": name, "value": value}; name is a constant ASCII name. */
static void env_value(json_t *env, const char *name, json_t *value)
{
    json_t *e = pair(json_object(), "name", json_string_nocheck(name));
    json_array_append_new(env, pair(e, "value", value));
}

/* Appends {"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}}. */
static void env_field(json_t *env, const char *name, const char *path)
{
    json_t *ref = pair(json_object(), "fieldPath", json_string_nocheck(path));
    json_t *from = pair(json_object(), "fieldRef", ref);
    json_t *e = pair(json_object(), "name", json_string_nocheck(name));
    json_array_append_new(env, pair(e, "valueFrom", from));
}

static long long cores(const ctx_t *x)
{
    long long lim = x->c.cpu_lim[0] ? wh__cpu_millis(x->c.cpu_lim) : -1;
    long long req = x->c.cpu_req[0] ? wh__cpu_millis(x->c.cpu_req) : -1;
    long long n = x->v->workers_min;
    if (lim > 0)
        n = (lim + 999) / 1000;
    else if (req > 0 && (req + 999) / 1000 > n)
        n = (req + 999) / 1000;
    return n;
}

static json_t *proxy_env(ctx_t *x)
{
    const wh_values_t *v = x->v;
    const cfg_t *c = &x->c;
    const char *ns = v->control_plane_ns, *td = v->trust_domain, *cd = v->cluster_domain;
    json_t *env = json_array();
    if (env == NULL)
        return NULL;
    env_field(env, "_pod_name", "metadata.name");
    env_field(env, "_pod_ns", "metadata.namespace");
    env_field(env, "_pod_uid", "metadata.uid");
    env_field(env, "_pod_ip", "status.podIP");
    env_field(env, "_pod_nodeName", "spec.nodeName");
    env_field(env, "_pod_sa", "spec.serviceAccountName");
    env_value(env, "_pod_containerName", str(PROXY_NAME));
    env_value(env, "_l5d_ns", str(ns));
    env_value(env, "_l5d_trustdomain", str(td));
    env_value(env, "LINKERD2_PROXY_CORES", strf("%lld", cores(x)));
    env_value(env, "LINKERD2_PROXY_SHUTDOWN_ENDPOINT_ENABLED", str(c->shutdown ? "true" : "false"));
    if (strcmp(v->log_http_headers, "insecure") == 0)
        env_value(env, "LINKERD2_PROXY_LOG", str(c->log_level));
    else
        env_value(env, "LINKERD2_PROXY_LOG", strf("%s,[{headers}]=off,[{request}]=off", c->log_level));
    env_value(env, "LINKERD2_PROXY_LOG_FORMAT", str(c->log_format));
    env_value(env, "LINKERD2_PROXY_DESTINATION_SVC_ADDR",
              strf("cmesh-dst-headless.%s.svc.%s.:8086", ns, cd));
    env_value(env, "LINKERD2_PROXY_DESTINATION_PROFILE_NETWORKS", str(v->cluster_networks));
    env_value(env, "LINKERD2_PROXY_POLICY_SVC_ADDR", strf("cmesh-policy.%s.svc.%s.:8090", ns, cd));
    env_value(env, "LINKERD2_PROXY_POLICY_WORKLOAD",
              str("{\"ns\":\"$(_pod_ns)\", \"pod\":\"$(_pod_name)\"}"));
    env_value(env, "LINKERD2_PROXY_INBOUND_DEFAULT_POLICY", str(c->default_policy));
    env_value(env, "LINKERD2_PROXY_POLICY_CLUSTER_NETWORKS", str(v->cluster_networks));
    env_value(env, "LINKERD2_PROXY_CONTROL_STREAM_INITIAL_TIMEOUT", str(v->ctl_initial_timeout));
    env_value(env, "LINKERD2_PROXY_CONTROL_STREAM_IDLE_TIMEOUT", str(v->ctl_idle_timeout));
    env_value(env, "LINKERD2_PROXY_CONTROL_STREAM_LIFETIME", str(v->ctl_lifetime));
    env_value(env, "LINKERD2_PROXY_INBOUND_CONNECT_TIMEOUT", str(c->in_connect_timeout));
    env_value(env, "LINKERD2_PROXY_OUTBOUND_CONNECT_TIMEOUT", str(c->out_connect_timeout));
    env_value(env, "LINKERD2_PROXY_OUTBOUND_DISCOVERY_IDLE_TIMEOUT", str(v->outbound_discovery_idle));
    env_value(env, "LINKERD2_PROXY_INBOUND_DISCOVERY_IDLE_TIMEOUT", str(v->inbound_discovery_idle));
    if (v->disable_outbound_detect_timeout)
        env_value(env, "LINKERD2_PROXY_OUTBOUND_DETECT_TIMEOUT", str("365d"));
    if (v->disable_inbound_detect_timeout)
        env_value(env, "LINKERD2_PROXY_INBOUND_DETECT_TIMEOUT", str("365d"));
    const char *any = v->disable_ipv6 ? "0.0.0.0" : "[::]";
    env_value(env, "LINKERD2_PROXY_CONTROL_LISTEN_ADDR", strf("%s:%lld", any, c->port_ctl));
    env_value(env, "LINKERD2_PROXY_ADMIN_LISTEN_ADDR", strf("%s:%lld", any, c->port_admin));
    env_value(env, "LINKERD2_PROXY_OUTBOUND_LISTEN_ADDR", strf("127.0.0.1:%lld", c->port_out));
    if (v->disable_ipv6)
        env_value(env, "LINKERD2_PROXY_OUTBOUND_LISTEN_ADDRS", strf("127.0.0.1:%lld", c->port_out));
    else
        env_value(env, "LINKERD2_PROXY_OUTBOUND_LISTEN_ADDRS",
                  strf("127.0.0.1:%lld,[::1]:%lld", c->port_out, c->port_out));
    env_value(env, "LINKERD2_PROXY_INBOUND_LISTEN_ADDR", strf("%s:%lld", any, c->port_in));
    env_field(env, "LINKERD2_PROXY_INBOUND_IPS", "status.podIPs");
    char ports[8192];
    if (c->pod_inbound_ports != NULL)
        resolve_ports(x->spec, c->pod_inbound_ports, ports, sizeof ports);
    else
        inbound_ports(x->spec, ports, sizeof ports);
    if (ports[0] != '\0')
        env_value(env, "LINKERD2_PROXY_INBOUND_PORTS", str(ports));
    env_value(env, "LINKERD2_PROXY_DESTINATION_PROFILE_SUFFIXES",
              c->external_profiles ? str(".") : strf("svc.%s.", cd));
    env_value(env, "LINKERD2_PROXY_INBOUND_ACCEPT_KEEPALIVE", str("10000ms"));
    env_value(env, "LINKERD2_PROXY_OUTBOUND_CONNECT_KEEPALIVE", str("10000ms"));
    env_value(env, "LINKERD2_PROXY_INBOUND_ACCEPT_USER_TIMEOUT", str("30s"));
    env_value(env, "LINKERD2_PROXY_OUTBOUND_CONNECT_USER_TIMEOUT", str("30s"));
    env_value(env, "LINKERD2_PROXY_INBOUND_SERVER_HTTP2_KEEP_ALIVE_INTERVAL", str(v->in_h2_ka_interval));
    env_value(env, "LINKERD2_PROXY_INBOUND_SERVER_HTTP2_KEEP_ALIVE_TIMEOUT", str(v->in_h2_ka_timeout));
    env_value(env, "LINKERD2_PROXY_OUTBOUND_SERVER_HTTP2_KEEP_ALIVE_INTERVAL", str(v->out_h2_ka_interval));
    env_value(env, "LINKERD2_PROXY_OUTBOUND_SERVER_HTTP2_KEEP_ALIVE_TIMEOUT", str(v->out_h2_ka_timeout));
    char opaque[8192];
    resolve_ports(x->spec, c->opaque != NULL ? c->opaque : v->opaque_ports, opaque, sizeof opaque);
    if (opaque[0] != '\0')
        env_value(env, "LINKERD2_PROXY_INBOUND_PORTS_DISABLE_PROTOCOL_DETECTION", str(opaque));
    env_value(env, "LINKERD2_PROXY_DESTINATION_CONTEXT",
              str("{\"ns\":\"$(_pod_ns)\", \"nodeName\":\"$(_pod_nodeName)\", \"pod\":\"$(_pod_name)\"}"));
    env_value(env, "LINKERD2_PROXY_IDENTITY_DIR", str(END_ENTITY_DIR));
    env_value(env, "LINKERD2_PROXY_IDENTITY_TRUST_ANCHORS", str(v->trust_anchors_pem));
    env_value(env, "LINKERD2_PROXY_IDENTITY_TOKEN_FILE",
              v->token_projection ? str(TOKEN_DIR "/" VOL_TOKEN) : str(LEGACY_TOKEN_FILE));
    env_value(env, "LINKERD2_PROXY_IDENTITY_SVC_ADDR",
              strf("cmesh-identity-headless.%s.svc.%s.:8080", ns, cd));
    env_value(env, "LINKERD2_PROXY_IDENTITY_LOCAL_NAME",
              strf("$(_pod_sa).$(_pod_ns).serviceaccount.identity.%s.%s", ns, td));
    env_value(env, "LINKERD2_PROXY_IDENTITY_SVC_NAME",
              strf("cmesh-identity.%s.serviceaccount.identity.%s.%s", ns, ns, td));
    env_value(env, "LINKERD2_PROXY_DESTINATION_SVC_NAME",
              strf("cmesh-destination.%s.serviceaccount.identity.%s.%s", ns, ns, td));
    env_value(env, "LINKERD2_PROXY_POLICY_SVC_NAME",
              strf("cmesh-destination.%s.serviceaccount.identity.%s.%s", ns, ns, td));
    env_value(env, "LINKERD2_PROXY_OUTBOUND_METRICS_HOSTNAME_LABELS",
              str(v->metrics_hostname_labels ? "true" : "false"));
    if (c->ingress)
        env_value(env, "LINKERD2_PROXY_INGRESS_MODE", str("true"));
    /* json_array_append_new(NULL) fails, so a short array means no memory. */
    return env;
}

static json_t *resources(const cfg_t *c)
{
    json_t *r = json_object(), *req = json_object(), *lim = json_object();
    if (r == NULL || req == NULL || lim == NULL)
        goto fail;
    if (c->cpu_req[0])
        json_object_set_new(req, "cpu", str(c->cpu_req));
    if (c->mem_req[0])
        json_object_set_new(req, "memory", str(c->mem_req));
    if (c->eph_req[0])
        json_object_set_new(req, "ephemeral-storage", str(c->eph_req));
    if (c->cpu_lim[0])
        json_object_set_new(lim, "cpu", str(c->cpu_lim));
    if (c->mem_lim[0])
        json_object_set_new(lim, "memory", str(c->mem_lim));
    if (c->eph_lim[0])
        json_object_set_new(lim, "ephemeral-storage", str(c->eph_lim));
    if (json_object_size(lim))
        json_object_set(r, "limits", lim);
    if (json_object_size(req))
        json_object_set(r, "requests", req);
    json_decref(req);
    json_decref(lim);
    if (json_object_size(r) == 0) {
        json_decref(r);
        return NULL;
    }
    return r;
fail:
    json_decref(r);
    json_decref(req);
    json_decref(lim);
    return NULL;
}

static json_t *http_probe(const char *path, long long port)
{
    return json_pack("{s:{s:s, s:I}}", "httpGet", "path", path, "port", (json_int_t)port);
}

static json_t *proxy_container(ctx_t *x)
{
    const cfg_t *c = &x->c;
    const wh_values_t *v = x->v;
    json_t *env = proxy_env(x);
    json_t *sc = json_pack("{s:b, s:b, s:b, s:I, s:{s:s}}", "allowPrivilegeEscalation", 0,
                           "readOnlyRootFilesystem", 1, "runAsNonRoot", 1, "runAsUser",
                           (json_int_t)c->uid, "seccompProfile", "type", "RuntimeDefault");
    if (sc != NULL && c->gid >= 0)
        json_object_set_new(sc, "runAsGroup", json_integer(c->gid));
    /* The proxy gets the first application container's capabilities, as
     * Linkerd does, so a pod whose policy drops ALL still admits it. */
    json_t *caps = field(field(json_array_get(field(x->spec, "containers"), 0), "securityContext"),
                         "capabilities");
    if (sc != NULL && caps != NULL)
        json_object_set_new(sc, "capabilities", json_deep_copy(caps));
    json_t *live = http_probe("/live", c->port_admin);
    json_t *ready = http_probe("/ready", c->port_admin);
    if (live != NULL) {
        json_object_set_new(live, "initialDelaySeconds", json_integer(v->liveness_delay));
        json_object_set_new(live, "timeoutSeconds", json_integer(v->liveness_timeout));
    }
    if (ready != NULL) {
        json_object_set_new(ready, "initialDelaySeconds", json_integer(v->readiness_delay));
        json_object_set_new(ready, "timeoutSeconds", json_integer(v->readiness_timeout));
    }
    json_t *pc = json_pack(
        "{s:s, s:o, s:s, s:[s], s:o, s:[{s:I, s:s}, {s:I, s:s}], s:o, s:o, s:o, s:s,"
        " s:[{s:s, s:s}, {s:s, s:s}]}",
        "name", PROXY_NAME, "image", strf("%s:%s", c->image, c->version), "imagePullPolicy",
        c->pull_policy, "command", v->proxy_command, "env", env, "ports", "containerPort",
        (json_int_t)c->port_in, "name", "linkerd-proxy", "containerPort",
        (json_int_t)c->port_admin, "name", "linkerd-admin", "livenessProbe", live,
        "readinessProbe", ready, "securityContext", sc, "terminationMessagePolicy",
        "FallbackToLogsOnError", "volumeMounts", "mountPath", END_ENTITY_DIR, "name",
        VOL_END_ENTITY, "mountPath", TOKEN_DIR, "name", VOL_TOKEN);
    if (pc == NULL)
        return NULL;
    if (!v->token_projection)
        json_array_remove(json_object_get(pc, "volumeMounts"), 1);
    json_t *res = resources(c);
    if (res != NULL)
        json_object_set_new(pc, "resources", res);
    if (c->native) {
        json_object_set_new(pc, "restartPolicy", str("Always"));
        if (c->await) {
            json_t *sp = http_probe("/ready", c->port_admin);
            if (sp != NULL) {
                json_object_set_new(sp, "initialDelaySeconds", json_integer(v->startup_delay));
                json_object_set_new(sp, "periodSeconds", json_integer(v->startup_period));
                json_object_set_new(sp, "failureThreshold", json_integer(v->startup_failures));
            }
            json_object_set_new(pc, "startupProbe", sp);
        }
    } else {
        json_t *lc = json_object();
        if (c->await) {
            json_t *cmd = words(v->await_command);
            json_array_append_new(cmd, strf("--timeout=%s", AWAIT_TIMEOUT));
            json_array_append_new(cmd, strf("--port=%lld", c->port_admin));
            json_object_set_new(lc, "postStart", json_pack("{s:{s:o}}", "exec", "command", cmd));
        }
        if (c->wait_before_exit > 0)
            json_object_set_new(lc, "preStop",
                                json_pack("{s:{s:[s, o]}}", "exec", "command", "/bin/sleep",
                                          strf("%lld", c->wait_before_exit)));
        if (json_object_size(lc))
            json_object_set(pc, "lifecycle", lc);
        json_decref(lc);
    }
    return pc;
}

static void push_arg(json_t *args, const char *a)
{
    json_array_append_new(args, json_string(a));
}

static json_t *init_container(ctx_t *x)
{
    const cfg_t *c = &x->c;
    const wh_values_t *v = x->v;
    json_t *args = json_array();
    char buf[4096];
    if (args == NULL)
        return NULL;
    if (strcmp(v->iptables_mode, "nft") == 0) {
        push_arg(args, "--firewall-bin-path");
        push_arg(args, "iptables-nft");
        push_arg(args, "--firewall-save-bin-path");
        push_arg(args, "iptables-nft-save");
    } else if (strcmp(v->iptables_mode, "plain") == 0) {
        push_arg(args, "--firewall-bin-path");
        push_arg(args, "iptables");
        push_arg(args, "--firewall-save-bin-path");
        push_arg(args, "iptables-save");
    }
    push_arg(args, v->disable_ipv6 ? "--ipv6=false" : "--ipv6=true");
    push_arg(args, "--incoming-proxy-port");
    snprintf(buf, sizeof buf, "%lld", c->port_in);
    push_arg(args, buf);
    push_arg(args, "--outgoing-proxy-port");
    snprintf(buf, sizeof buf, "%lld", c->port_out);
    push_arg(args, buf);
    push_arg(args, "--proxy-uid");
    snprintf(buf, sizeof buf, "%lld", c->uid);
    push_arg(args, buf);
    if (c->gid >= 0) {
        push_arg(args, "--proxy-gid");
        snprintf(buf, sizeof buf, "%lld", c->gid);
        push_arg(args, buf);
    }
    /* The proxy's own control and admin ports are never redirected. */
    snprintf(buf, sizeof buf, "%lld,%lld%s%s%s%s", c->port_ctl, c->port_admin,
             v->ignore_inbound_ports[0] ? "," : "", v->ignore_inbound_ports,
             c->skip_in && c->skip_in[0] ? "," : "", c->skip_in ? c->skip_in : "");
    push_arg(args, "--inbound-ports-to-ignore");
    push_arg(args, buf);
    snprintf(buf, sizeof buf, "%s%s%s", v->ignore_outbound_ports,
             v->ignore_outbound_ports[0] && c->skip_out && c->skip_out[0] ? "," : "",
             c->skip_out ? c->skip_out : "");
    if (buf[0] != '\0') {
        push_arg(args, "--outbound-ports-to-ignore");
        push_arg(args, buf);
    }
    if (c->skip_subnets != NULL) {
        push_arg(args, "--subnets-to-ignore");
        push_arg(args, c->skip_subnets);
    }
    if (v->init_log_level[0]) {
        push_arg(args, "--log-level");
        push_arg(args, v->init_log_level);
    }
    if (v->init_log_format[0]) {
        push_arg(args, "--log-format");
        push_arg(args, v->init_log_format);
    }
    if (v->close_wait_secs > 0) {
        push_arg(args, "--timeout-close-wait-secs");
        snprintf(buf, sizeof buf, "%lld", v->close_wait_secs);
        push_arg(args, buf);
    }
    bool root = v->init_run_as_root || v->close_wait_secs > 0;
    bool priv = v->init_privileged || v->close_wait_secs > 0;
    json_t *sc = json_pack("{s:b, s:{s:[s, s]}, s:b, s:b, s:I, s:b, s:I, s:{s:s}}",
                           "allowPrivilegeEscalation", priv, "capabilities", "add", "NET_ADMIN",
                           "NET_RAW", "privileged", priv, "readOnlyRootFilesystem", 1,
                           "runAsGroup", (json_int_t)(root ? 0 : v->init_gid), "runAsNonRoot",
                           !root, "runAsUser", (json_int_t)(root ? 0 : v->init_uid),
                           "seccompProfile", "type", "RuntimeDefault");
    return json_pack("{s:s, s:o, s:s, s:[s], s:o, s:o, s:s, s:[{s:s, s:s}]}", "name", INIT_NAME,
                     "image", strf("%s:%s", c->image, c->version), "imagePullPolicy",
                     c->pull_policy, "command", v->init_command, "args", args, "securityContext",
                     sc, "terminationMessagePolicy", "FallbackToLogsOnError", "volumeMounts",
                     "mountPath", v->xt_mount_path, "name", v->xt_volume_name);
}

static void add_labels_and_annotations(ctx_t *x, const json_t *md)
{
    const wh_values_t *v = x->v;
    json_t *anns = json_object(), *labels = json_object();
    if (anns == NULL || labels == NULL) {
        x->err = 1;
        goto out;
    }
    /* Namespace configuration the pod does not override (§4.3). */
    if (x->in->ns_annotations != NULL) {
        for (const char *const *k = wh_inherited_annotations; *k != NULL; k++) {
            json_t *nv = field(x->in->ns_annotations, *k);
            if (json_is_string(nv) && field(x->pod_ann, *k) == NULL)
                json_object_set(anns, *k, nv);
        }
    }
    if (field(x->pod_ann, CFG "opaque-ports") == NULL &&
        json_object_get(anns, CFG "opaque-ports") == NULL) {
        char list[8192];
        filtered_opaque(v, x->spec, list, sizeof list);
        if (list[0] != '\0')
            json_object_set_new(anns, CFG "opaque-ports", str(list));
    }
    json_object_set_new(anns, "linkerd.io/created-by",
                        str(x->in->created_by ? x->in->created_by : "cmesh"));
    json_object_set_new(anns, "linkerd.io/proxy-version", str(x->c.version));
    json_object_set_new(anns, "linkerd.io/trust-root-sha256", str(v->trust_root_sha256));

    json_object_set_new(labels, "linkerd.io/control-plane-ns", str(v->control_plane_ns));
    const char *podns = x->in->namespace_name;
    if (podns == NULL || podns[0] == '\0')
        podns = json_string_value(field(md, "namespace"));
    if (podns != NULL && podns[0] != '\0')
        json_object_set_new(labels, "linkerd.io/workload-ns", str(podns));
    if (x->in->owner_kind != NULL && x->in->owner_name != NULL && x->in->owner_name[0]) {
        char key[128];
        snprintf(key, sizeof key, "linkerd.io/proxy-%s", x->in->owner_kind);
        json_object_set_new(labels, key, str(x->in->owner_name));
    }

    if (md == NULL || json_object_size(md) == 0)
        op_add(x, json_object(), "/metadata");
    if (x->pod_ann == NULL)
        op_add(x, json_object(), "/metadata/annotations");
    add_sorted(x, "/metadata/annotations", anns);
    if (field(md, "labels") == NULL)
        op_add(x, json_object(), "/metadata/labels");
    add_sorted(x, "/metadata/labels", labels);
out:
    json_decref(anns);
    json_decref(labels);
}

static void build_patch(ctx_t *x, const json_t *md)
{
    const wh_values_t *v = x->v;
    bool init = !v->cni_enabled;
    add_labels_and_annotations(x, md);
    if (field(x->spec, "volumes") == NULL)
        op_add(x, json_array(), "/spec/volumes");
    if (field(x->spec, "initContainers") == NULL && (init || x->c.native))
        op_add(x, json_array(), "/spec/initContainers");
    if (field(x->spec, "containers") == NULL)
        op_add(x, json_array(), "/spec/containers");
    if (init) {
        op_add(x, json_pack("{s:s, s:{}}", "name", v->xt_volume_name, "emptyDir"),
               "/spec/volumes/-");
        op_add(x, init_container(x), x->c.native ? "/spec/initContainers/0"
                                                 : "/spec/initContainers/-");
    }
    op_add(x, json_pack("{s:s, s:{s:s}}", "name", VOL_END_ENTITY, "emptyDir", "medium", "Memory"),
           "/spec/volumes/-");
    if (v->token_projection)
        op_add(x,
               json_pack("{s:s, s:{s:[{s:{s:s, s:i, s:s}}]}}", "name", VOL_TOKEN, "projected",
                         "sources", "serviceAccountToken", "audience", TOKEN_AUDIENCE,
                         "expirationSeconds", TOKEN_EXPIRY, "path", VOL_TOKEN),
               "/spec/volumes/-");
    json_t *pc = proxy_container(x);
    if (x->c.native)
        op_add(x, pc, init ? "/spec/initContainers/1" : "/spec/initContainers/0");
    else if (x->c.await)
        op_add(x, pc, "/spec/containers/0");
    else
        op_add(x, pc, "/spec/containers/-");
}

int wh_inject_pod(const wh_values_t *v, const wh_inject_input_t *in, wh_inject_result_t *out)
{
    memset(out, 0, sizeof *out);
    if (check_pod(in->pod, out) < 0)
        return WH_ERR_INVALID;
    if (in->ns_annotations != NULL && !json_is_object(in->ns_annotations))
        return invalid(out, "namespace annotations: expected an object");
    ctx_t x = {.v = v, .in = in, .out = out};
    const json_t *md = field(in->pod, "metadata");
    x.pod_ann = field(md, "annotations");
    x.spec = field(in->pod, "spec");

    const char *nsv = json_string_value(field(in->ns_annotations, ANN_INJECT));
    const char *podv = json_string_value(field(x.pod_ann, ANN_INJECT));
    if (nsv != NULL && !valid_inject_value(nsv)) {
        out->decision = WH_SKIP_INVALID_NS_ANNOTATION;
        snprintf(out->message, sizeof out->message,
                 "the namespace's %s annotation \"%.64s\" is not enabled, ingress or disabled",
                 ANN_INJECT, nsv);
        return 0;
    }
    if (podv != NULL && !valid_inject_value(podv)) {
        out->decision = WH_SKIP_INVALID_POD_ANNOTATION;
        snprintf(out->message, sizeof out->message,
                 "the pod's %s annotation \"%.64s\" is not enabled, ingress or disabled",
                 ANN_INJECT, podv);
        return 0;
    }
    if (podv != NULL && strcmp(podv, "disabled") == 0) {
        out->decision = WH_SKIP_DISABLED;
        snprintf(out->message, sizeof out->message, "the pod has %s: disabled", ANN_INJECT);
        return 0;
    }
    if (!in->force && !enables(nsv) && !enables(podv)) {
        out->decision = WH_SKIP_ENABLE_ABSENT;
        snprintf(out->message, sizeof out->message,
                 "neither the pod nor its namespace has %s: enabled", ANN_INJECT);
        return 0;
    }
    if (x.spec == NULL) {
        out->decision = WH_SKIP_UNSUPPORTED;
        snprintf(out->message, sizeof out->message, "the object has no pod spec");
        return 0;
    }
    if (json_is_true(field(x.spec, "hostNetwork"))) {
        out->decision = WH_SKIP_HOST_NETWORK;
        snprintf(out->message, sizeof out->message, "hostNetwork is enabled");
        return 0;
    }
    if (sidecar_exists(v, x.spec)) {
        out->decision = WH_SKIP_SIDECAR_EXISTS;
        snprintf(out->message, sizeof out->message, "the pod already has a proxy sidecar");
        return 0;
    }
    if (json_is_false(field(x.spec, "automountServiceAccountToken")) && !v->token_projection) {
        out->decision = WH_SKIP_NO_TOKEN;
        snprintf(out->message, sizeof out->message,
                 "automountServiceAccountToken is false and token projection is off");
        return 0;
    }
    if (read_config(&x, podv != NULL ? podv : nsv) < 0)
        return 0; /* decision and message set */

    x.ops = json_array();
    if (x.ops == NULL)
        return WH_ERR_NOMEM;
    build_patch(&x, md);
    if (x.err) {
        json_decref(x.ops);
        return WH_ERR_NOMEM;
    }
    out->decision = WH_DECISION_INJECT;
    out->patch = x.ops;
    snprintf(out->message, sizeof out->message, "proxy injected");
    return 0;
}

/* The default opaque ports a Service exposes: a port with no targetPort whose
 * port is in the list, or whose numeric targetPort is (named ones skipped). */
static void service_opaque(const wh_values_t *v, const json_t *spec, char *out, size_t cap)
{
    mesh_portlist_item_t items[MESH_PORTLIST_MAX];
    int n = mesh_portlist_parse(v->opaque_ports, 0, items, MESH_PORTLIST_MAX);
    size_t len = 0, i;
    json_t *p;
    out[0] = '\0';
    json_array_foreach(field(spec, "ports"), i, p) {
        json_t *tp = field(p, "targetPort");
        json_int_t port;
        if (tp == NULL)
            port = json_integer_value(field(p, "port"));
        else if (json_is_integer(tp))
            port = json_integer_value(tp);
        else
            continue;
        if (port <= 0 || port > 65535 || !mesh_portlist_contains(items, n, (unsigned)port))
            continue;
        int w = snprintf(out + len, cap - len, "%s%d", len ? "," : "", (int)port);
        if (w < 0 || (size_t)w >= cap - len)
            return;
        len += (size_t)w;
    }
}

int wh_inject_service(const wh_values_t *v, const json_t *svc, const json_t *ns_annotations,
                      json_t **patch, char *msg, size_t msglen)
{
    *patch = NULL;
    wh_inject_result_t r = {0};
    if (!json_is_object(svc)) {
        snprintf(msg, msglen, "the object is not a JSON object");
        return WH_ERR_INVALID;
    }
    json_t *md = field(svc, "metadata");
    if (md != NULL && !json_is_object(md)) {
        snprintf(msg, msglen, "metadata: expected an object");
        return WH_ERR_INVALID;
    }
    if (check_string_map(field(md, "annotations"), "metadata.annotations", &r) < 0) {
        snprintf(msg, msglen, "%s", r.message);
        return WH_ERR_INVALID;
    }
    json_t *spec = field(svc, "spec");
    json_t *ports = field(spec, "ports");
    if ((spec != NULL && !json_is_object(spec)) || (ports != NULL && !json_is_array(ports))) {
        snprintf(msg, msglen, "spec.ports: expected an array");
        return WH_ERR_INVALID;
    }
    size_t i;
    json_t *p;
    json_array_foreach(ports, i, p) {
        json_t *tp = field(p, "targetPort"), *pp = field(p, "port");
        if (!json_is_object(p) || (pp != NULL && !json_is_integer(pp)) ||
            (tp != NULL && !json_is_integer(tp) && !json_is_string(tp))) {
            snprintf(msg, msglen, "spec.ports[%zu]: expected {port: integer, targetPort}", i);
            return WH_ERR_INVALID;
        }
    }
    json_t *anns = field(md, "annotations");
    if (field(anns, CFG "opaque-ports") != NULL)
        return 0;
    char list[8192];
    const char *nsval = json_string_value(field(ns_annotations, CFG "opaque-ports"));
    if (nsval != NULL)
        snprintf(list, sizeof list, "%s", nsval);
    else
        service_opaque(v, spec, list, sizeof list);
    if (list[0] == '\0')
        return 0;
    json_t *ops = json_array();
    if (ops == NULL)
        return WH_ERR_NOMEM;
    if (md == NULL || json_object_size(md) == 0)
        json_array_append_new(ops, json_pack("{s:s,s:s,s:{}}", "op", "add", "path", "/metadata",
                                             "value"));
    if (anns == NULL)
        json_array_append_new(ops, json_pack("{s:s,s:s,s:{}}", "op", "add", "path",
                                             "/metadata/annotations", "value"));
    json_array_append_new(ops, json_pack("{s:s,s:s,s:s}", "op", "add", "path",
                                         "/metadata/annotations/config.linkerd.io~1opaque-ports",
                                         "value", list));
    *patch = ops;
    return 0;
}
