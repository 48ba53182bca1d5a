/*
 * mesh/k8s_informer.h - list+watch informers with a local cache, the way
 * client-go's reflector does it (kubernetes-api.md §1.5, §11).
 *
 * An informer keeps the objects of one resource (optionally one namespace and
 * a label selector) in a cache keyed "namespace/name" ("name" when
 * cluster-scoped) and tells registered handlers about adds, updates and
 * deletes. It runs one thread:
 *
 *   1. list (first time `resourceVersion=0&limit=500`, paging on `continue`);
 *      later relists with `resourceVersion=<last RV>`, and when that answers
 *      410 or "too large RV", at once again with no RV (consistent read);
 *      the list REPLACES the cache and handlers see only the difference:
 *      adds for new keys, updates for keys whose RV changed, deletes for keys
 *      that vanished, nothing for unchanged ones;
 *   2. watch from the list's RV with allowWatchBookmarks=true and a
 *      timeoutSeconds drawn from [watch_timeout_min_s, watch_timeout_max_s);
 *      every ADDED/MODIFIED/DELETED/BOOKMARK event advances the last RV;
 *   3. a clean end of the stream re-watches at once from the last RV;
 *   4. "too old" in every form (an ERROR event whose Status has code 410,
 *      reason Expired or Gone; an HTTP 410 on the watch request) backs off
 *      then relists (1);
 *   5. any other failure (429, 5xx, refused, a cut stream, garbage) backs off
 *      with jitter and re-watches from the last RV, no relist; a watch that
 *      ends cleanly with no event in under short_watch_ms counts as a failure,
 *      and short_watch_relist_after of those in a row force a relist (the
 *      kubernetes#104171 hot loop).
 *
 * The same interface is served from a directory of manifests
 * (--objects-dir, see mesh_k8s_source_objdir) instead of an API server.
 *
 * Threading: handlers run on the informer's thread, one event at a time, in
 * order, without the cache lock held, so they may call the cache read API.
 * They must not call mesh_k8s_informer_add_handler or _free (deadlock).
 * Objects passed to handlers are borrowed (json_incref to keep them) and are
 * the transformed, cached objects: never modify them.
 */
#ifndef MESH_K8S_INFORMER_H
#define MESH_K8S_INFORMER_H

#include <jansson.h>
#include <stdint.h>

#include "mesh/k8s_backoff.h"
#include "mesh/k8s_client.h"

#define MESH_K8S_WATCH_TIMEOUT_MIN_S 300
#define MESH_K8S_WATCH_TIMEOUT_MAX_S 600
#define MESH_K8S_LIST_PAGE 500
#define MESH_K8S_SHORT_WATCH_MS 1000
#define MESH_K8S_SHORT_WATCH_RELIST_AFTER 3
#define MESH_K8S_OBJDIR_RECHECK_MS 5000

/* What to watch. kind is needed only by the objects-dir source (it matches
 * manifests by apiVersion + kind); NULL derives it from the plural resource
 * name case-insensitively ("pods" matches kind Pod, "endpointslices" matches
 * EndpointSlice). */
typedef struct {
    const char *group;    /* "" or NULL for the core group */
    const char *version;  /* "v1" */
    const char *resource; /* plural, "pods" */
    const char *kind;     /* "Pod", optional */
} mesh_k8s_resource_t;

typedef struct {
    void (*on_add)(const json_t *obj, void *ud);
    void (*on_update)(const json_t *old_obj, const json_t *new_obj, void *ud);
    void (*on_delete)(const json_t *obj, void *ud);
    void (*on_synced)(void *ud); /* once, after the first list was delivered */
    void *ud;
} mesh_k8s_handler_t;

/* Called on each object before it is cached, with a new reference it must
 * consume; returns the object to cache (a new reference) or NULL to drop this
 * one (e.g. no memory). The cache reads the key and resourceVersion before the
 * transform, so a transform may drop any field. */
typedef json_t *(*mesh_k8s_transform_fn)(json_t *obj, void *ud);

/* A transform keeping apiVersion, kind and metadata (minus managedFields). */
json_t *mesh_k8s_transform_metadata_only(json_t *obj, void *ud);

/* Where objects come from; shared by many informers, freed after them. */
typedef struct mesh_k8s_source mesh_k8s_source_t;
/* The API server behind `client` (not owned). */
mesh_k8s_source_t *mesh_k8s_source_api(mesh_k8s_client_t *client);
/* A directory of YAML/JSON manifests (*.yaml, *.yml, *.json; several
 * documents per file and `kind: List` allowed), re-read on inotify events and
 * every recheck_ms (0 = MESH_K8S_OBJDIR_RECHECK_MS). */
mesh_k8s_source_t *mesh_k8s_source_objdir(const char *dir, uint64_t recheck_ms);
void mesh_k8s_source_free(mesh_k8s_source_t *s);

typedef struct {
    mesh_k8s_resource_t res;
    const char *ns;             /* NULL or "" = all namespaces */
    const char *label_selector; /* NULL = everything; "k=v,k2!=x,k3,!k4" */
    mesh_k8s_transform_fn transform;
    void *transform_ud;
    unsigned watch_timeout_min_s, watch_timeout_max_s; /* 0 = defaults above */
    /* Backoff knobs (base/max/jitter/reset/clock/rand); zero = reflector
     * defaults. Copied. */
    mesh_k8s_backoff_t backoff;
    /* Injectable sleep: waits `ms` and returns non-zero when it was cut short
     * by stop. NULL = a condition-variable wait that stop interrupts. */
    int (*sleep_fn)(void *ud, uint64_t ms);
    void *sleep_ud;
    uint64_t short_watch_ms;      /* 0 = MESH_K8S_SHORT_WATCH_MS */
    int short_watch_relist_after; /* 0 = MESH_K8S_SHORT_WATCH_RELIST_AFTER */
} mesh_k8s_informer_opts_t;

typedef struct mesh_k8s_informer mesh_k8s_informer_t;

/* Creates a stopped informer; opts strings are copied. NULL on bad options or
 * no memory. */
mesh_k8s_informer_t *mesh_k8s_informer_new(mesh_k8s_source_t *src, const mesh_k8s_informer_opts_t *opts);
/* Adds a handler. If the informer already holds objects, the new handler
 * first gets an add for each of them (and on_synced when synced), so late
 * consumers of a shared informer see the same state. Returns 0 or -1. */
int mesh_k8s_informer_add_handler(mesh_k8s_informer_t *inf, const mesh_k8s_handler_t *h);
/* Starts the thread (idempotent). 0 or -1. */
int mesh_k8s_informer_start(mesh_k8s_informer_t *inf);
/* Stops the thread promptly (cancels an open watch) and joins it. */
void mesh_k8s_informer_stop(mesh_k8s_informer_t *inf);
/* Stops and frees. */
void mesh_k8s_informer_free(mesh_k8s_informer_t *inf);

/* Synced: the first list has been delivered to handlers. */
int mesh_k8s_informer_synced(mesh_k8s_informer_t *inf);
/* Waits up to timeout_ms for synced; 1 synced, 0 timed out. */
int mesh_k8s_informer_wait_synced(mesh_k8s_informer_t *inf, uint64_t timeout_ms);

/* Cache reads (under a read lock). get returns a new reference or NULL. */
json_t *mesh_k8s_informer_get(mesh_k8s_informer_t *inf, const char *ns, const char *name);
json_t *mesh_k8s_informer_get_key(mesh_k8s_informer_t *inf, const char *key);
/* Calls fn for each cached object (key, resourceVersion, object) while
 * holding the read lock: fn must not block or call back into the informer's
 * write paths. Stops early when fn returns non-zero. Returns the count seen. */
size_t mesh_k8s_informer_foreach(mesh_k8s_informer_t *inf,
                                 int (*fn)(const char *key, const char *rv, const json_t *obj, void *ud),
                                 void *ud);
size_t mesh_k8s_informer_size(mesh_k8s_informer_t *inf);
/* The last resourceVersion seen (copy to mesh_free), or NULL. */
char *mesh_k8s_informer_last_rv(mesh_k8s_informer_t *inf);

typedef struct {
    unsigned long lists;          /* successful lists, the first included */
    unsigned long relists;        /* lists after the first */
    unsigned long relists_expired;/* ... caused by a 410 */
    unsigned long relists_short;  /* ... caused by repeated short empty watches */
    unsigned long watches;        /* watch requests made */
    unsigned long watch_errors;   /* watches that failed or were cut */
    unsigned long expired;        /* 410s seen (event or HTTP form) */
    unsigned long events;         /* ADDED/MODIFIED/DELETED applied */
    unsigned long bookmarks;
    unsigned long bad_events;     /* undecodable stream data */
    unsigned long backoffs;       /* backoff waits taken */
} mesh_k8s_informer_stats_t;
void mesh_k8s_informer_stats(mesh_k8s_informer_t *inf, mesh_k8s_informer_stats_t *out);

/* Cache key of an object: "ns/name", or "name" without a namespace. New
 * string, NULL when metadata.name is missing. */
char *mesh_k8s_object_key(const json_t *obj);

/* 1 when the labels object matches the selector ("k=v", "k==v", "k!=v", "k",
 * "!k", comma-separated, all ANDed; also "k in (a,b)" / "k notin (a,b)"),
 * 0 when not, -1 when the selector does not parse. */
int mesh_k8s_label_selector_match(const char *selector, const json_t *labels);

/*
 * Shared informers: one informer per (resource, namespace, selector) per
 * factory, so every consumer of pods shares one list+watch. The first caller's
 * opts (transform, timeouts, backoff) configure the informer; later callers
 * get the same one and add their handlers. Informers created by the factory
 * are owned by it.
 */
typedef struct mesh_k8s_factory mesh_k8s_factory_t;
mesh_k8s_factory_t *mesh_k8s_factory_new(mesh_k8s_source_t *src);
mesh_k8s_informer_t *mesh_k8s_factory_informer(mesh_k8s_factory_t *f, const mesh_k8s_informer_opts_t *opts);
/* Starts every informer created so far. 0 or -1. */
int mesh_k8s_factory_start(mesh_k8s_factory_t *f);
/* Waits until all are synced; 1, or 0 on timeout. */
int mesh_k8s_factory_wait_synced(mesh_k8s_factory_t *f, uint64_t timeout_ms);
/* Stops and frees every informer, then the factory. */
void mesh_k8s_factory_free(mesh_k8s_factory_t *f);

#endif
