/*
 * dst/endpoints.h - the endpoint model and its translator (linkerd.md §2.3-2.4).
 *
 * A Service's endpoint set for one service port is computed from the Service,
 * all its EndpointSlices (discovery.k8s.io/v1) and the Pods they point at:
 *
 *   - only endpoints whose conditions.ready is not false (missing = ready);
 *   - the first address of each endpoint; IPv4 and IPv6 slices both count,
 *     FQDN slices are skipped;
 *   - the port is the Service's targetPort for the requested service port:
 *     a number is used as is; a name is resolved through the slice's ports
 *     (the entry named like the service port, else like the targetPort); a
 *     slice that cannot resolve it contributes nothing; a service port the
 *     Service does not declare is used as its own target;
 *   - with an instance (pod hostname), only endpoints with that hostname;
 *   - the same ip:port in two slices (a slice update in flight) is one
 *     endpoint; the set is sorted by (family, ip, port).
 *
 * Each endpoint carries weight DST_ENDPOINT_WEIGHT and, when backed by a Pod
 * (targetRef kind Pod found through the lookup), labels `pod`, the owner
 * (`deployment` through a ReplicaSet, `cronjob` through a Job, `statefulset`,
 * `daemonset`, `replicaset`, `k8s_job`, `replicationcontroller`, other kinds
 * lower-cased), `serviceaccount` ("default" when unset), `control_plane_ns`
 * and `pod_template_hash` when the pod has those labels; every endpoint has
 * `zone` (the slice's zone or ""). A pod is meshed when its label
 * linkerd.io/control-plane-ns equals cfg->controller_ns; unless the port is
 * listed in its config.linkerd.io/skip-inbound-ports annotation, a meshed
 * pod's endpoint gets the identity
 * "<sa>.<ns>.serviceaccount.identity.<controller ns>.<trust domain>" (only
 * when the trust domain is set) and a protocol hint: opaque when the port is
 * in the pod's config.linkerd.io/opaque-ports annotation (or, without that
 * annotation, in cfg->default_opaque_ports), else h2 when cfg->h2_upgrade.
 *
 * Pure: objects come in as jansson values (borrowed, never modified) and
 * through the lookup callback; nothing here logs or does I/O.
 */
#ifndef DST_ENDPOINTS_H
#define DST_ENDPOINTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DST_ENDPOINT_WEIGHT 10000u

/* Error codes shared by the dst_ modules. */
typedef enum {
    DST_OK = 0,
    DST_ERR_NOMEM = -1,   /* an allocation failed; outputs are released */
    DST_ERR_INVALID = -2, /* an object or argument does not have the required shape */
} dst_err_t;

typedef enum {
    DST_HINT_NONE = 0, /* unmeshed: the proxy does not know the protocol */
    DST_HINT_H2 = 1,   /* meshed, may upgrade HTTP/1 to HTTP/2 */
    DST_HINT_OPAQUE = 2,
} dst_hint_t;

typedef struct dst_label {
    char *key;   /* owned */
    char *value; /* owned */
} dst_label_t;

typedef struct dst_endpoint {
    int family;          /* AF_INET or AF_INET6 */
    uint8_t ip[16];      /* network order */
    uint16_t port;       /* target port */
    uint32_t weight;     /* DST_ENDPOINT_WEIGHT */
    dst_hint_t hint;
    char *identity;      /* owned; NULL = no mTLS to this endpoint */
    char *hostname;      /* owned; the slice's hostname or NULL */
    char *pod;           /* owned; the backing pod's name or NULL */
    dst_label_t *labels; /* owned; sorted by key, keys unique */
    size_t nlabels;
} dst_endpoint_t;

/* A sorted set of endpoints, unique by (family, ip, port). */
typedef struct dst_endpoint_set {
    dst_endpoint_t *v;
    size_t n, cap;
} dst_endpoint_set_t;

#define DST_ENDPOINT_SET_INIT {NULL, 0, 0}

/* Settings of the controller that shape endpoints. Strings are borrowed. */
typedef struct dst_config {
    const char *controller_ns;        /* "cmesh" */
    const char *trust_domain;         /* "" or NULL = no identities */
    const char *cluster_domain;       /* "cluster.local" */
    const char *default_opaque_ports; /* "25,587,..." */
    bool h2_upgrade;
} dst_config_t;

typedef enum {
    DST_OBJ_POD = 1,
    DST_OBJ_REPLICASET = 2,
    DST_OBJ_JOB = 3,
} dst_obj_kind_t;

/* Object lookup used for pods and owners: returns a new reference or NULL
 * when the object is unknown. */
typedef struct dst_lookup {
    json_t *(*get)(void *ud, dst_obj_kind_t kind, const char *ns, const char *name);
    void *ud;
} dst_lookup_t;

/*
 * Computes the endpoint set of `svc` (a Service; may be NULL, then only
 * numeric ports work and service labels are not needed) for service port
 * `port`, keeping only hostname `instance` when non-empty, from `nslices`
 * EndpointSlices. *out must be empty (DST_ENDPOINT_SET_INIT or cleared).
 * Returns DST_OK or DST_ERR_NOMEM (then *out is empty).
 */
int dst_endpoints_translate(const dst_config_t *cfg, const json_t *svc, uint16_t port,
                            const char *instance, json_t *const *slices, size_t nslices,
                            const dst_lookup_t *lk, dst_endpoint_set_t *out)
    __attribute__((warn_unused_result));

/*
 * Fills *ep for `ip`:`port` backed by `pod` (may be NULL), as the translator
 * does; `zone` may be NULL. *ep must be zeroed. Used by GetProfile for a pod
 * IP. Returns DST_OK or DST_ERR_NOMEM (then *ep is cleared).
 */
int dst_endpoint_from_pod(const dst_config_t *cfg, int family, const uint8_t *ip, uint16_t port,
                          const json_t *pod, const char *zone, const char *hostname,
                          const dst_lookup_t *lk, dst_endpoint_t *ep)
    __attribute__((warn_unused_result));

/* Adds (or replaces) a label; DST_OK or DST_ERR_NOMEM. */
int dst_endpoint_set_label(dst_endpoint_t *ep, const char *key, const char *value)
    __attribute__((warn_unused_result));
/* The value of a label or NULL. */
const char *dst_endpoint_label(const dst_endpoint_t *ep, const char *key);
/* 1 when every field is the same. */
int dst_endpoint_eq(const dst_endpoint_t *a, const dst_endpoint_t *b);
/* Order by (family, ip, port): <0, 0, >0. */
int dst_endpoint_addr_cmp(const dst_endpoint_t *a, const dst_endpoint_t *b);
void dst_endpoint_clear(dst_endpoint_t *ep);

void dst_endpoint_set_clear(dst_endpoint_set_t *s);
/* Deep copy; DST_OK or DST_ERR_NOMEM. *dst must be empty. */
int dst_endpoint_set_copy(dst_endpoint_set_t *dst, const dst_endpoint_set_t *src)
    __attribute__((warn_unused_result));

/*
 * The difference from `old` to `cur`: `added` gets pointers (into cur) to
 * endpoints that are new or whose fields changed, `removed` pointers (into
 * old) to addresses that are gone. Arrays are mesh_malloc'ed (NULL when
 * empty) and must be mesh_free'd; the pointers are borrowed. DST_OK or
 * DST_ERR_NOMEM (then both are NULL).
 */
int dst_endpoint_set_diff(const dst_endpoint_set_t *old, const dst_endpoint_set_t *cur,
                          const dst_endpoint_t ***added, size_t *nadded,
                          const dst_endpoint_t ***removed, size_t *nremoved)
    __attribute__((warn_unused_result));

/*
 * 1 when `port` is in a list like "25,587,3306-3310" (mesh/portlist.h syntax:
 * blanks around items, empty items skipped), 0 when not; list may be NULL.
 * Items that are not a port or a range (port names, "0", "20-10", "80x") are
 * skipped and the others still count, so one bad item in an annotation
 * neither matches by accident nor disables the rest.
 */
int dst_ports_contains(const char *list, unsigned port);

/*
 * dst_ports_contains, plus named ports: an item that is the name of one of
 * `pod`'s container ports (spec.containers[].ports[].name) matches that
 * port's containerPort, as Linkerd resolves names in
 * config.linkerd.io/opaque-ports and skip-inbound-ports. pod may be NULL
 * (names then match nothing).
 */
int dst_pod_ports_contains(const json_t *pod, const char *list, unsigned port);

/* The value of metadata.<field>.<key> as a string, or NULL. */
const char *dst_meta_str(const json_t *obj, const char *field, const char *key);

#endif
