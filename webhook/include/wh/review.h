/*
 * wh/review.h - one AdmissionReview in, one HTTP answer out (no I/O).
 *
 * The body is decoded, the request checked, the object injected (pods) or
 * annotated (services), and the reply built in the version received
 * (admission.k8s.io/v1 or v1beta1), echoing apiVersion, kind and uid:
 *
 *   not JSON, not an AdmissionReview, no request or no uid    -> 400, text body
 *   an object that does not decode as its declared kind       -> 200, allowed
 *                                                                false + message
 *   another kind, group, operation or subresource; a skipped
 *   pod; a service with nothing to add                        -> 200, allowed true
 *   an injected pod / an annotated service                    -> 200, allowed true,
 *                                                                patchType JSONPatch,
 *                                                                base64 patch
 * The 413 for oversized bodies belongs to the server (it must not read them).
 *
 * Namespaces and owners come from the caller's lookups, which must be safe to
 * call from several threads at once; a lookup that knows nothing returns NULL.
 */
#ifndef WH_REVIEW_H
#define WH_REVIEW_H

#include <stddef.h>

#include <jansson.h>

#include "wh/inject.h"
#include "wh/values.h"

/* The largest body accepted (Linkerd's limit). */
#define WH_REVIEW_BODY_MAX ((size_t)10 << 20)

typedef struct wh_lookup {
    /* New reference to the annotations object of namespace `ns`, or NULL
     * when the namespace is unknown or has none. */
    json_t *(*ns_annotations)(void *ud, const char *ns);
    /* New reference to the metadata of a ReplicaSet or Job ("ReplicaSet",
     * "Job"), or NULL when unknown. */
    json_t *(*owner_metadata)(void *ud, const char *kind, const char *ns, const char *name);
    void *ud;
} wh_lookup_t;

typedef enum {
    WH_RESULT_INJECTED = 0, /* pod patched */
    WH_RESULT_ANNOTATED,    /* service patched */
    WH_RESULT_SKIPPED,      /* pod left alone (see decision) */
    WH_RESULT_IGNORED,      /* not ours: other kind or operation, unchanged service */
    WH_RESULT_DENIED,       /* allowed: false */
    WH_RESULT_BAD_REQUEST,  /* 400 */
    WH_RESULT_TOO_LARGE,    /* 413 (set by the server) */
    WH_RESULT_COUNT
} wh_review_result_t;

const char *wh_review_result_name(wh_review_result_t r);

typedef struct wh_review_reply {
    int status;                  /* HTTP status: 200 or 400 */
    char *body;                  /* mesh_malloc'd, NUL-terminated; caller frees */
    size_t body_len;
    const char *content_type;    /* static */
    wh_review_result_t result;
    wh_decision_t decision;      /* for pods: why skipped or injected */
    char message[256];           /* for logs */
} wh_review_reply_t;

/* Handles one review. `created_by` is the linkerd.io/created-by value.
 * Returns 0 with *reply filled, or WH_ERR_NOMEM. */
int wh_review_handle(const wh_values_t *v, const wh_lookup_t *lk, const char *created_by,
                     const char *body, size_t len, wh_review_reply_t *reply)
    __attribute__((warn_unused_result));

void wh_review_reply_free(wh_review_reply_t *reply);

/* The workload a pod belongs to, from its controller ownerReference and, for
 * ReplicaSets and Jobs, their own owner (Deployment, CronJob): writes the
 * lower-case kind and the name. 0, or -1 when the pod has no owner. */
int wh_review_owner(const wh_lookup_t *lk, const json_t *pod, const char *ns, char *kind,
                    size_t kcap, char *name, size_t ncap);

#endif
