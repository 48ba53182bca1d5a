/*
 * wh/cache.h - what the injector needs to know about the cluster, from shared
 * informers: namespaces (annotations) and the metadata of ReplicaSets and
 * Jobs (to name a pod's workload). The informers are fed by the API server
 * (--kubeconfig or in-cluster) or by a directory of manifests
 * (--objects-dir); admission never waits on the API.
 *
 * The lookups of wh_cache_lookup() are thread-safe (informer read locks).
 */
#ifndef WH_CACHE_H
#define WH_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "mesh/k8s_informer.h"
#include "wh/review.h"

typedef struct wh_cache wh_cache_t;

/* Informers over `src` (not owned; must outlive the cache). Not started. */
wh_cache_t *wh_cache_new(mesh_k8s_source_t *src);
int wh_cache_start(wh_cache_t *c);
/* 1 once every informer delivered its first list. */
bool wh_cache_synced(wh_cache_t *c);
int wh_cache_wait_synced(wh_cache_t *c, uint64_t timeout_ms);
/* Lookups for wh_review_handle, valid while the cache lives. */
wh_lookup_t wh_cache_lookup(wh_cache_t *c);
void wh_cache_free(wh_cache_t *c);

#endif
