/*
 * dst/profile.h - GetProfile answers (linkerd.md §2.5, §9; kubernetes-api.md §10).
 *
 * dst_profile_build turns what the watchers know about one target into one
 * encoded io.linkerd.proxy.destination.DestinationProfile:
 *
 *   endpoint set (a pod IP)   -> retry_budget default, endpoint = that
 *                                WeightedAddr, opaque_protocol when its hint
 *                                is opaque;
 *   no service (unknown name  -> retry_budget default only;
 *   or unknown IP)
 *   service without the port  -> an empty DestinationProfile{} (the proxy then
 *                                relies on other discovery);
 *   service with the port     -> fully_qualified_name (without port),
 *                                parent_ref (core/Service/name/ns/port),
 *                                retry_budget (the ServiceProfile's or the
 *                                default), the ServiceProfile's routes,
 *                                profile_ref when there is one,
 *                                opaque_protocol from the Service's
 *                                config.linkerd.io/opaque-ports annotation (or
 *                                the default list without it), and
 *                                dst_overrides: the ServiceProfile's
 *                                dstOverrides when it has a usable list, else
 *                                the TrafficSplit's backends.
 *
 * Weights: a Quantity (JSON integer, number, or string such as "900m", "1",
 * "2k", "1Ki", "1e3") becomes its milli-value x 10, so "1" is 10000 and
 * "900m" is 9000; v1alpha2's integer 90 is 900000 (the same ratio as 90:10
 * in any unit). A list in which any weight is negative, malformed, or does not
 * fit uint32 is refused as a whole (a partial split would send traffic to the
 * wrong place): the overrides then come from the next source, or are empty.
 *
 * Authorities: split backends become "<backend>.<ns>.svc.<domain>:<port>";
 * ServiceProfile overrides are completed the same way ("svc", "svc.ns",
 * "svc.ns.svc" get the missing parts, a missing port is the requested one)
 * and an override that Destination.Get would refuse is dropped.
 *
 * Routes: `condition` fields pathRegex -> path, method -> method, all / any
 * -> Seq, not -> not (an object, or the CRD's array form meaning not(all));
 * several fields in one match are ANDed into all{}. A route without a usable
 * condition is dropped. Response classes map status{min,max} (one missing
 * means the other), all, any, not. timeout is a Go duration; a bad one is
 * ignored. metrics_labels is {"route": name}.
 *
 * Pure: no I/O, no logging; output is deterministic for equal input, so
 * callers suppress duplicates by comparing blobs.
 */
#ifndef DST_PROFILE_H
#define DST_PROFILE_H

#include <jansson.h>
#include <stdint.h>

#include "dst/blob.h"
#include "dst/endpoints.h"

#define DST_RETRY_RATIO_DEFAULT 0.2f
#define DST_RETRY_MIN_PER_SEC_DEFAULT 10u
#define DST_RETRY_TTL_S_DEFAULT 10
/* Deepest all/any/not nesting we follow in a ServiceProfile match. */
#define DST_MATCH_DEPTH_MAX 16

typedef struct dst_profile_input {
    const char *fqn;                /* "svc.ns.svc.domain"; with svc */
    const json_t *svc;              /* the Service, or NULL */
    uint16_t port;                  /* requested port */
    const json_t *sp;               /* ServiceProfile, or NULL */
    const json_t *split;            /* TrafficSplit on this apex, or NULL */
    const dst_endpoint_t *endpoint; /* for a pod IP, or NULL */
} dst_profile_input_t;

/* Builds the profile into *out (a new blob). DST_OK or DST_ERR_NOMEM. */
int dst_profile_build(const dst_config_t *cfg, const dst_profile_input_t *in, dst_blob_t **out)
    __attribute__((warn_unused_result));

/* A Kubernetes Quantity's milli-value, rounded up as Go's MilliValue does.
 * DST_OK, or DST_ERR_INVALID for a malformed or negative quantity or one
 * whose milli-value exceeds UINT64_MAX / 1000. */
int dst_quantity_milli(const json_t *q, uint64_t *out) __attribute__((warn_unused_result));

/* The wire weight of a Quantity: milli-value x 10. DST_OK, or
 * DST_ERR_INVALID when malformed, negative, or above UINT32_MAX. */
int dst_weight_from_quantity(const json_t *q, uint32_t *out) __attribute__((warn_unused_result));

#endif
