/* Private to common/k8s/: the informer's state, shared by informer.c (the
 * API loop), cache.c (cache and dispatch) and objdir.c (the directory loop). */
#ifndef MESH_K8S_INTERNAL_H
#define MESH_K8S_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "mesh/k8s_informer.h"
#include "mesh/k8s_watch.h"

enum { K8S_SRC_API = 1, K8S_SRC_OBJDIR };

struct mesh_k8s_source {
    int type;                  /* K8S_SRC_* */
    mesh_k8s_client_t *client; /* API: not owned */
    char *dir;                 /* OBJDIR: the directory */
    uint64_t recheck_ms;       /* OBJDIR: periodic re-read */
};

struct mesh_k8s_informer {
    mesh_k8s_source_t *src;
    /* options (strings owned) */
    char *group, *version, *resource, *kind, *ns, *selector;
    mesh_k8s_transform_fn transform;
    void *transform_ud;
    unsigned timeout_min_s, timeout_max_s;
    mesh_k8s_backoff_t backoff;
    int (*sleep_fn)(void *ud, uint64_t ms);
    void *sleep_ud;
    uint64_t short_watch_ms;
    int short_relist_after;

    /* cache: key -> transformed object, key -> resourceVersion string */
    pthread_rwlock_t cache_lock;
    json_t *objs;
    json_t *rvs;

    /* handlers; dispatch_mu serialises cache changes + their callbacks with
     * handler registration, so a late handler misses nothing. */
    pthread_mutex_t dispatch_mu;
    mesh_k8s_handler_t *handlers;
    size_t nhandlers;

    /* lifecycle */
    pthread_t thread;
    int running;
    atomic_int stop;
    pthread_mutex_t state_mu; /* guards synced, last_rv, stats; pairs with state_cv */
    pthread_cond_t state_cv;  /* signals synced and stop */
    int synced;
    char *last_rv;
    mesh_k8s_informer_stats_t stats;
    mesh_k8s_watch_handle_t wh; /* cancels the open request on stop */
    int wake_fd;                /* eventfd: wakes the objdir loop on stop */
    uint64_t rng;               /* watch timeout jitter */
};

/* cache.c */
/* Applies one watch event (ADDED/MODIFIED/DELETED) and calls handlers. */
void k8s__deliver_event(mesh_k8s_informer_t *inf, mesh_k8s_ev_type_t type, json_t *obj);
/* Replaces the cache with `items` (raw objects, borrowed), calls handlers
 * with the difference, and on the first call marks the informer synced. */
void k8s__deliver_list(mesh_k8s_informer_t *inf, json_t *items);
void k8s__set_last_rv(mesh_k8s_informer_t *inf, const char *rv);
/* Waits ms using the injectable sleep; 1 when stop was requested. */
int k8s__sleep(mesh_k8s_informer_t *inf, uint64_t ms);
void k8s__stat_add(mesh_k8s_informer_t *inf, size_t offset, unsigned long n);
#define K8S_STAT(inf, field, n) k8s__stat_add((inf), offsetof(mesh_k8s_informer_stats_t, field), (n))

/* objdir.c */
void *k8s__objdir_thread(void *arg);
/* Loads the objects of `inf`'s resource from dir (synthetic RVs set) into a
 * new array. 0, or -1 when the directory cannot be read. */
int k8s__objdir_load(mesh_k8s_informer_t *inf, const char *dir, json_t **items);
int k8s__kind_matches(const char *kind, const char *resource, const char *want_kind);

/* informer.c */
void *k8s__api_thread(void *arg);

#endif
