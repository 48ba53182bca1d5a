/*
 * dst/watcher.h - the destination's state: objects in, streams out
 * (STYLE.md §51: watcher -> listener -> translator -> stream).
 *
 * The watcher holds the objects the answers need (Services, EndpointSlices,
 * Pods, ReplicaSets, Jobs, ServiceProfiles, TrafficSplits), fed by
 * dst_watcher_apply from the informers' handlers (or by tests). Subscribers
 * are grouped into topics:
 *
 *   Get:        one topic per (service, port, instance); its snapshot is the
 *               last endpoint set sent. On each change of the service, its
 *               slices, or a pod or owner they point at, the set is
 *               recomputed once, diffed against the snapshot, encoded once,
 *               and the same blobs are queued on every subscriber: `add`
 *               (new or changed endpoints) then `remove`; a set that
 *               becomes empty sends no_endpoints{exists:true}, a deleted
 *               service no_endpoints{exists:false}.
 *   GetProfile: one topic per target (service port, or IP:port); the
 *               profile is rebuilt on every related change and sent only
 *               when its bytes differ from the last one sent.
 *
 * The first message of a stream is the topic's current state (add of every
 * endpoint / no_endpoints{exists:true} / no_endpoints{exists:false}; the
 * profile). It goes out at subscription when the watcher is synced; a stream
 * opened earlier waits and gets it at dst_watcher_set_synced, or is ended
 * with DST_STATUS_UNAVAILABLE by dst_watcher_expire_pending once it waited
 * longer than the given limit.
 *
 * Fairness: sink->send must never block. When it reports a full queue, the
 * watcher ends that stream with DST_STATUS_RESOURCE_EXHAUSTED (a status
 * proxies retry, unlike InvalidArgument / FailedPrecondition), counts an
 * overflow, drops it from its topic, and goes on with the others.
 *
 * Threading: every function takes the watcher's one lock; sinks are called
 * with it held and must not call back into the watcher. A subscription
 * belongs to its caller, who frees it with dst_watcher_unsubscribe exactly
 * once (also after the watcher ended it), never from inside a sink callback.
 */
#ifndef DST_WATCHER_H
#define DST_WATCHER_H

#include <jansson.h>
#include <stdint.h>

#include "dst/authority.h"
#include "dst/blob.h"
#include "dst/endpoints.h"

/* gRPC status codes the watcher ends streams with (grpc/status.h values). */
#define DST_STATUS_INVALID_ARGUMENT 3
#define DST_STATUS_NOT_FOUND 5
#define DST_STATUS_RESOURCE_EXHAUSTED 8
#define DST_STATUS_UNAVAILABLE 14

/* How long a stream opened before sync may wait for it. */
#define DST_SYNC_WAIT_MS 2000

typedef enum {
    DST_RES_SERVICE = 0,
    DST_RES_SLICE,
    DST_RES_POD,
    DST_RES_REPLICASET,
    DST_RES_JOB,
    DST_RES_PROFILE,
    DST_RES_SPLIT,
    DST_RES_COUNT,
} dst_res_t;

/* Where a subscription's messages go. */
typedef struct dst_sink {
    /* Queues a blob (taking a reference when it keeps it). 0, or -1 when the
     * queue is full or the stream is gone. Must not block. */
    int (*send)(void *ud, dst_blob_t *b);
    /* Ends the stream with a gRPC status; called at most once. */
    void (*end)(void *ud, int status, const char *msg);
    void *ud;
} dst_sink_t;

typedef struct dst_watcher dst_watcher_t;
typedef struct dst_sub dst_sub_t;

typedef struct dst_watcher_stats {
    uint64_t streams;        /* open subscriptions (Get + GetProfile) */
    uint64_t updates_sent;   /* messages queued on streams */
    uint64_t overflows;      /* streams ended for a full queue */
    uint64_t pending;        /* streams waiting for sync */
    uint64_t topics;         /* distinct targets being watched */
} dst_watcher_stats_t;

/* A watcher with a copy of *cfg (strings copied). NULL on no memory. */
dst_watcher_t *dst_watcher_new(const dst_config_t *cfg);
/* Frees everything; no subscription may remain. */
void dst_watcher_free(dst_watcher_t *w);

/* An object was added or changed (obj set) or deleted (obj NULL, old set).
 * Objects are borrowed; the watcher keeps its own references. TrafficSplits
 * arrive from one informer per served version, all showing the same stored
 * objects: the watcher keeps one entry per ns/name, the newest by
 * resourceVersion, and ignores a lagging version's older states and deletes
 * (see split_admit in watcher.c). */
void dst_watcher_apply(dst_watcher_t *w, dst_res_t res, const json_t *old, const json_t *obj);
/* Marks the watcher synced and sends every waiting stream its first message. */
void dst_watcher_set_synced(dst_watcher_t *w);
int dst_watcher_synced(dst_watcher_t *w);
/* Ends with DST_STATUS_UNAVAILABLE every stream that has waited for sync
 * longer than wait_ms at now_ms (a monotonic clock in ms). */
void dst_watcher_expire_pending(dst_watcher_t *w, uint64_t now_ms, uint64_t wait_ms);

/*
 * Get: subscribes `sink` to a parsed service authority. Returns DST_OK with
 * *out set, or a DST_STATUS_* with *out NULL and nothing sent:
 * DST_STATUS_INVALID_ARGUMENT for an IP or an ExternalName service.
 * now_ms is the time used for the sync wait. May send the first message
 * before returning.
 */
int dst_watcher_subscribe(dst_watcher_t *w, const dst_authority_t *a, const dst_sink_t *sink,
                          uint64_t now_ms, dst_sub_t **out);
/* GetProfile: the same for a service name or an IP. Never refuses a parsed
 * authority (unknown targets get a default profile). */
int dst_watcher_subscribe_profile(dst_watcher_t *w, const dst_authority_t *a, const dst_sink_t *sink,
                                  uint64_t now_ms, dst_sub_t **out);
/* Drops and frees a subscription (NULL is a no-op). */
void dst_watcher_unsubscribe(dst_watcher_t *w, dst_sub_t *s);

void dst_watcher_stats(dst_watcher_t *w, dst_watcher_stats_t *out);

/* Transform for the informers: keeps only the fields the watcher reads for
 * resource `res` (passed as (void *)(intptr_t)res). Consumes obj. */
json_t *dst_watcher_transform(json_t *obj, void *ud);

#endif
