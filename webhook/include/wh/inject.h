/*
 * wh/inject.h - the proxy injector as a pure function: a pod (or a workload's
 * pod template), its namespace's annotations, its owner and the values in; a
 * JSON Patch (RFC 6902) or the reason to leave it alone out.
 *
 * No I/O, no logging, no global state: the webhook and `cmesh inject --manual`
 * share it, and it is thread-safe as long as the inputs are not mutated.
 *
 * Decision (Linkerd's rules, doc: linkerd.md §4.2): the namespace's and the
 * pod's `linkerd.io/inject` (enabled | ingress | disabled; any other value
 * skips), hostNetwork, an existing proxy or init container (Linkerd's or
 * ours), then the config.linkerd.io overrides, which must all parse.
 *
 * The patch: all `add` operations, in the order of linkerd.md §4.8, with keys
 * escaped as JSON Pointer requires (`~` -> `~0`, `/` -> `~1`), every missing
 * map or array created first, and paths under `path_prefix` ("" for a Pod,
 * "/spec/template" for a workload, "/spec/jobTemplate/spec/template" for a
 * CronJob). An injected pod is always skipped (sidecar_already_exists), so
 * injection is idempotent.
 */
#ifndef WH_INJECT_H
#define WH_INJECT_H

#include <jansson.h>
#include <stdbool.h>

#include "wh/values.h"

/* Why a pod is or is not injected. Labels are Linkerd's skip reasons. */
typedef enum {
    WH_DECISION_INJECT = 0,
    WH_SKIP_INVALID_NS_ANNOTATION,  /* invalid_inject_annotation_at_ns */
    WH_SKIP_INVALID_POD_ANNOTATION, /* invalid_inject_annotation_at_workload */
    WH_SKIP_DISABLED,               /* injection_disable_annotation_present */
    WH_SKIP_ENABLE_ABSENT,          /* injection_enable_annotation_absent */
    WH_SKIP_HOST_NETWORK,           /* host_network_enabled */
    WH_SKIP_SIDECAR_EXISTS,         /* sidecar_already_exists */
    WH_SKIP_NO_TOKEN,               /* automount_service_account_token_disabled */
    WH_SKIP_INVALID_CONFIG,         /* invalid_config_annotation */
    WH_SKIP_UNSUPPORTED,            /* unsupported_resource (no pod spec) */
    WH_DECISION_COUNT
} wh_decision_t;

/* Errors (negative returns). */
#define WH_ERR_INVALID (-1) /* the object does not decode as a pod */
#define WH_ERR_NOMEM (-2)

/* Linkerd's label for a decision ("injected" for WH_DECISION_INJECT). */
const char *wh_decision_name(wh_decision_t d);

typedef struct wh_inject_input {
    const json_t *pod;            /* the Pod, or a pod template {metadata, spec} */
    const char *namespace_name;   /* the pod's namespace ("" when unknown) */
    const json_t *ns_annotations; /* the namespace's annotations object, or NULL */
    const char *owner_kind;       /* lower-case workload kind for the
                                     linkerd.io/proxy-<kind> label, or NULL */
    const char *owner_name;       /* its name, or NULL */
    const char *created_by;       /* value of linkerd.io/created-by */
    const char *path_prefix;      /* JSON Pointer of the pod in the object, "" */
    bool force;                   /* skip the inject-annotation rules (--manual) */
} wh_inject_input_t;

typedef struct wh_inject_result {
    wh_decision_t decision;
    json_t *patch;     /* new reference when injected, else NULL */
    char message[256]; /* why skipped / why invalid, for logs and replies */
} wh_inject_result_t;

/* Decides and builds the patch. Returns 0 (see out->decision; out->patch is
 * set only for WH_DECISION_INJECT), WH_ERR_INVALID when a field the injector
 * reads has the wrong type (out->message says which), or WH_ERR_NOMEM. */
int wh_inject_pod(const wh_values_t *v, const wh_inject_input_t *in, wh_inject_result_t *out)
    __attribute__((warn_unused_result));

/* The opaque-ports annotation patch for a Service (linkerd.md §4.2): when the
 * Service lacks config.linkerd.io/opaque-ports, the namespace's value, or the
 * default opaque ports the Service exposes. *patch is NULL when nothing is to
 * be added. 0, WH_ERR_INVALID or WH_ERR_NOMEM. */
int wh_inject_service(const wh_values_t *v, const json_t *svc, const json_t *ns_annotations,
                      json_t **patch, char *msg, size_t msglen)
    __attribute__((warn_unused_result));

/* Appends `key` escaped as a JSON Pointer token (RFC 6901 §3) to `out`
 * (capacity cap, NUL-terminated). Returns the full length it needs. */
size_t wh_pointer_escape(char *out, size_t cap, const char *key);

/* The annotation keys a namespace passes down to its pods (NULL-terminated). */
extern const char *const wh_inherited_annotations[];

#endif
