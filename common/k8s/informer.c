/* Informer lifecycle and the list+watch loop against an API server; see
 * mesh/k8s_informer.h. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "internal.h"
#include "mesh/log.h"
#include "mesh/mem.h"

/* ---- sources ------------------------------------------------------------- */

mesh_k8s_source_t *mesh_k8s_source_api(mesh_k8s_client_t *client)
{
    mesh_k8s_source_t *s = mesh_calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->type = K8S_SRC_API;
    s->client = client;
    return s;
}

mesh_k8s_source_t *mesh_k8s_source_objdir(const char *dir, uint64_t recheck_ms)
{
    mesh_k8s_source_t *s = mesh_calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->type = K8S_SRC_OBJDIR;
    s->recheck_ms = recheck_ms ? recheck_ms : MESH_K8S_OBJDIR_RECHECK_MS;
    if ((s->dir = mesh_strdup(dir)) == NULL) {
        mesh_free(s);
        return NULL;
    }
    return s;
}

void mesh_k8s_source_free(mesh_k8s_source_t *s)
{
    if (s == NULL)
        return;
    mesh_free(s->dir);
    mesh_free(s);
}

/* ---- lifecycle ----------------------------------------------------------- */

static int dup_opt(char **dst, const char *src)
{
    if (src == NULL || *src == '\0')
        return 0;
    *dst = mesh_strdup(src);
    return *dst ? 0 : -1;
}

mesh_k8s_informer_t *mesh_k8s_informer_new(mesh_k8s_source_t *src, const mesh_k8s_informer_opts_t *o)
{
    if (src == NULL || o == NULL || o->res.version == NULL || o->res.resource == NULL) {
        mesh_log_error("k8s", "informer: a source, res.version and res.resource are required");
        return NULL;
    }
    if (o->label_selector != NULL && mesh_k8s_label_selector_match(o->label_selector, NULL) < 0) {
        mesh_log_error("k8s", "informer: bad label selector \"%s\"", o->label_selector);
        return NULL;
    }
    mesh_k8s_informer_t *inf = mesh_calloc(1, sizeof(*inf));
    if (inf == NULL)
        return NULL;
    inf->src = src;
    inf->wake_fd = -1;
    if (dup_opt(&inf->group, o->res.group) || dup_opt(&inf->version, o->res.version) ||
        dup_opt(&inf->resource, o->res.resource) || dup_opt(&inf->kind, o->res.kind) ||
        dup_opt(&inf->ns, o->ns) || dup_opt(&inf->selector, o->label_selector))
        goto fail;
    inf->transform = o->transform;
    inf->transform_ud = o->transform_ud;
    inf->timeout_min_s = o->watch_timeout_min_s ? o->watch_timeout_min_s : MESH_K8S_WATCH_TIMEOUT_MIN_S;
    inf->timeout_max_s = o->watch_timeout_max_s ? o->watch_timeout_max_s : MESH_K8S_WATCH_TIMEOUT_MAX_S;
    if (inf->timeout_max_s <= inf->timeout_min_s)
        inf->timeout_max_s = inf->timeout_min_s + 1;
    inf->backoff = o->backoff;
    mesh_k8s_backoff_init(&inf->backoff);
    inf->sleep_fn = o->sleep_fn;
    inf->sleep_ud = o->sleep_ud;
    inf->short_watch_ms = o->short_watch_ms ? o->short_watch_ms : MESH_K8S_SHORT_WATCH_MS;
    inf->short_relist_after = o->short_watch_relist_after ? o->short_watch_relist_after
                                                          : MESH_K8S_SHORT_WATCH_RELIST_AFTER;
    inf->rng = (uint64_t)(uintptr_t)inf ^ (mesh_k8s_now_ms() << 20) ^ 0x2545F4914F6CDD1Dull;
    inf->objs = json_object();
    inf->rvs = json_object();
    if (inf->objs == NULL || inf->rvs == NULL)
        goto fail;
    pthread_rwlock_init(&inf->cache_lock, NULL);
    pthread_mutex_init(&inf->dispatch_mu, NULL);
    pthread_mutex_init(&inf->state_mu, NULL);
    pthread_cond_init(&inf->state_cv, NULL);
    mesh_k8s_watch_handle_init(&inf->wh);
    atomic_init(&inf->stop, 0);
    return inf;
fail:
    json_decref(inf->objs);
    json_decref(inf->rvs);
    mesh_free(inf->group);
    mesh_free(inf->version);
    mesh_free(inf->resource);
    mesh_free(inf->kind);
    mesh_free(inf->ns);
    mesh_free(inf->selector);
    mesh_free(inf);
    return NULL;
}

int mesh_k8s_informer_start(mesh_k8s_informer_t *inf)
{
    if (inf->running)
        return 0;
    if (inf->src->type == K8S_SRC_OBJDIR && (inf->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
        return -1;
    void *(*fn)(void *) = inf->src->type == K8S_SRC_API ? k8s__api_thread : k8s__objdir_thread;
    if (pthread_create(&inf->thread, NULL, fn, inf) != 0)
        return -1;
    inf->running = 1;
    return 0;
}

void mesh_k8s_informer_stop(mesh_k8s_informer_t *inf)
{
    atomic_store(&inf->stop, 1);
    mesh_k8s_watch_cancel(&inf->wh);
    pthread_mutex_lock(&inf->state_mu);
    pthread_cond_broadcast(&inf->state_cv);
    pthread_mutex_unlock(&inf->state_mu);
    if (inf->wake_fd >= 0) {
        uint64_t one = 1;
        ssize_t w = write(inf->wake_fd, &one, sizeof(one));
        (void)w;
    }
    if (inf->running) {
        pthread_join(inf->thread, NULL);
        inf->running = 0;
    }
}

void mesh_k8s_informer_free(mesh_k8s_informer_t *inf)
{
    if (inf == NULL)
        return;
    mesh_k8s_informer_stop(inf);
    if (inf->wake_fd >= 0)
        close(inf->wake_fd);
    mesh_k8s_watch_handle_destroy(&inf->wh);
    pthread_cond_destroy(&inf->state_cv);
    pthread_mutex_destroy(&inf->state_mu);
    pthread_mutex_destroy(&inf->dispatch_mu);
    pthread_rwlock_destroy(&inf->cache_lock);
    json_decref(inf->objs);
    json_decref(inf->rvs);
    mesh_free(inf->handlers);
    mesh_free(inf->last_rv);
    mesh_free(inf->group);
    mesh_free(inf->version);
    mesh_free(inf->resource);
    mesh_free(inf->kind);
    mesh_free(inf->ns);
    mesh_free(inf->selector);
    mesh_free(inf);
}

int mesh_k8s_informer_synced(mesh_k8s_informer_t *inf)
{
    pthread_mutex_lock(&inf->state_mu);
    int s = inf->synced;
    pthread_mutex_unlock(&inf->state_mu);
    return s;
}

int mesh_k8s_informer_wait_synced(mesh_k8s_informer_t *inf, uint64_t timeout_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)(timeout_ms / 1000);
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&inf->state_mu);
    while (!inf->synced) {
        if (pthread_cond_timedwait(&inf->state_cv, &inf->state_mu, &ts) != 0)
            break;
    }
    int s = inf->synced;
    pthread_mutex_unlock(&inf->state_mu);
    return s;
}

char *mesh_k8s_informer_last_rv(mesh_k8s_informer_t *inf)
{
    pthread_mutex_lock(&inf->state_mu);
    char *rv = inf->last_rv ? mesh_strdup(inf->last_rv) : NULL;
    pthread_mutex_unlock(&inf->state_mu);
    return rv;
}

void mesh_k8s_informer_stats(mesh_k8s_informer_t *inf, mesh_k8s_informer_stats_t *out)
{
    pthread_mutex_lock(&inf->state_mu);
    *out = inf->stats;
    pthread_mutex_unlock(&inf->state_mu);
}

/* ---- list ---------------------------------------------------------------- */

enum { ST_OK = 0, ST_ERR = -1, ST_EXPIRED = -2, ST_TOO_LARGE = -3, ST_STOPPED = -4 };

static char *base_path(mesh_k8s_informer_t *inf)
{
    char *p = mesh_k8s_path(inf->group, inf->version, inf->ns, inf->resource, NULL);
    if (p != NULL && inf->selector != NULL && mesh_k8s_path_add_query(&p, "labelSelector", inf->selector)) {
        mesh_free(p);
        return NULL;
    }
    return p;
}

static int too_large_rv(const mesh_k8s_result_t *r)
{
    if (r->status != 504)
        return 0;
    json_t *c0 = json_array_get(json_object_get(json_object_get(r->body, "details"), "causes"), 0);
    const char *reason = json_string_value(json_object_get(c0, "reason"));
    return (reason && strcmp(reason, "ResourceVersionTooLarge") == 0) ||
           (r->message && strstr(r->message, "Too large resource version"));
}

/* Lists everything (paging on continue). rv: "0" first time, last RV on a
 * relist, NULL for a consistent read. Delivers the list on success. */
static int do_list(mesh_k8s_informer_t *inf, const char *rv)
{
    mesh_k8s_client_t *c = inf->src->client;
    json_t *items = json_array();
    char *list_rv = NULL, *cont = NULL;
    int rc = ST_ERR;
    if (items == NULL)
        return ST_ERR;
    for (;;) {
        char *path = base_path(inf);
        int bad = path == NULL;
        if (!bad && cont != NULL)
            bad = mesh_k8s_path_add_query(&path, "continue", cont);
        else if (!bad && rv != NULL)
            bad = mesh_k8s_path_add_query(&path, "resourceVersion", rv);
        /* A limit with an RV other than "0" forces an etcd read: page only
         * the cache-served first list and consistent reads. */
        if (!bad && (rv == NULL || strcmp(rv, "0") == 0 || cont != NULL))
            bad = mesh_k8s_path_add_query(&path, "limit", "500");
        if (bad) {
            mesh_free(path);
            break;
        }
        mesh_k8s_result_t res;
        int r = mesh_k8s_get_cancellable(c, path, &inf->wh, &res);
        mesh_free(path);
        if (r == 1 || atomic_load(&inf->stop)) {
            mesh_k8s_result_free(&res);
            rc = ST_STOPPED;
            break;
        }
        if (r != 0 || !json_is_array(json_object_get(res.body, "items"))) {
            rc = res.status == 410 ? ST_EXPIRED : too_large_rv(&res) ? ST_TOO_LARGE : ST_ERR;
            mesh_log_warn("k8s", "list %s: %ld %s: %s", inf->resource, res.status,
                          res.reason ? res.reason : "", res.message ? res.message : "no items");
            mesh_k8s_result_free(&res);
            break;
        }
        json_t *md = json_object_get(res.body, "metadata");
        if (list_rv == NULL) {
            const char *lrv = json_string_value(json_object_get(md, "resourceVersion"));
            list_rv = mesh_strdup(lrv ? lrv : "");
        }
        json_array_extend(items, json_object_get(res.body, "items"));
        const char *next = json_string_value(json_object_get(md, "continue"));
        mesh_free(cont);
        cont = next && *next ? mesh_strdup(next) : NULL;
        mesh_k8s_result_free(&res);
        if (cont == NULL) {
            rc = ST_OK;
            break;
        }
    }
    if (rc == ST_OK) {
        k8s__deliver_list(inf, items);
        k8s__set_last_rv(inf, list_rv);
    }
    mesh_free(cont);
    mesh_free(list_rv);
    json_decref(items);
    return rc;
}

/* ---- watch --------------------------------------------------------------- */

typedef struct {
    mesh_k8s_informer_t *inf;
    mesh_k8s_watch_parser_t parser;
    unsigned long events; /* events of any kind in this watch */
    int expired;          /* an ERROR 410 arrived */
    int error_event;      /* another ERROR arrived */
} watch_ctx_t;

static int on_event(const mesh_k8s_watch_event_t *ev, void *ud)
{
    watch_ctx_t *w = ud;
    mesh_k8s_informer_t *inf = w->inf;
    if (atomic_load(&inf->stop))
        return 1;
    w->events++;
    switch (ev->type) {
    case MESH_K8S_EV_ERROR:
        if (mesh_k8s_status_is_expired(ev->object)) {
            w->expired = 1;
        } else {
            w->error_event = 1;
            mesh_log_warn("k8s", "watch %s: error event: %s", inf->resource,
                          json_string_value(json_object_get(ev->object, "message")) ?: "?");
        }
        return 1; /* the server ends the stream after an ERROR */
    case MESH_K8S_EV_BOOKMARK:
        K8S_STAT(inf, bookmarks, 1);
        k8s__set_last_rv(inf, ev->rv);
        return 0;
    default:
        k8s__deliver_event(inf, ev->type, ev->object);
        k8s__set_last_rv(inf, ev->rv);
        return 0;
    }
}

static int on_data(const char *data, size_t len, void *ud)
{
    watch_ctx_t *w = ud;
    int rc = mesh_k8s_watch_feed(&w->parser, data, len, on_event, w);
    if (rc == MESH_K8S_WATCH_ESTOPPED)
        return 1;
    if (rc != 0) {
        K8S_STAT(w->inf, bad_events, 1);
        mesh_log_warn("k8s", "watch %s: %s", w->inf->resource, mesh_k8s_watch_error(&w->parser));
    }
    return 0;
}

static uint64_t next_rand(mesh_k8s_informer_t *inf)
{
    uint64_t x = inf->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return inf->rng = x;
}

/* One watch from the last RV. *events gets the number of events seen. */
static int do_watch(mesh_k8s_informer_t *inf, unsigned long *events)
{
    char *rv = mesh_k8s_informer_last_rv(inf);
    char *path = base_path(inf);
    char tmo[24];
    unsigned span = inf->timeout_max_s - inf->timeout_min_s;
    snprintf(tmo, sizeof(tmo), "%u", inf->timeout_min_s + (unsigned)(next_rand(inf) % span));
    int bad = path == NULL || mesh_k8s_path_add_query(&path, "watch", "true") ||
              mesh_k8s_path_add_query(&path, "resourceVersion", rv ? rv : "") ||
              mesh_k8s_path_add_query(&path, "allowWatchBookmarks", "true") ||
              mesh_k8s_path_add_query(&path, "timeoutSeconds", tmo);
    mesh_free(rv);
    *events = 0;
    if (bad) {
        mesh_free(path);
        return ST_ERR;
    }
    watch_ctx_t w = {.inf = inf};
    mesh_k8s_watch_parser_init(&w.parser, 0);
    mesh_k8s_result_t res;
    K8S_STAT(inf, watches, 1);
    int r = mesh_k8s_watch_stream(inf->src->client, path, &inf->wh, on_data, &w, &res);
    mesh_free(path);
    *events = w.events;
    int rc;
    if (atomic_load(&inf->stop)) {
        rc = ST_STOPPED;
    } else if (w.expired || (r < 0 && res.status == 410)) {
        rc = ST_EXPIRED;
    } else if (r == 0 && !w.error_event) {
        rc = mesh_k8s_watch_finish(&w.parser) == 0 ? ST_OK : ST_ERR;
    } else {
        if (r < 0)
            mesh_log_debug("k8s", "watch %s: %ld %s", inf->resource, res.status,
                           res.message ? res.message : "");
        rc = ST_ERR;
    }
    if (rc == ST_EXPIRED)
        K8S_STAT(inf, expired, 1);
    if (rc == ST_ERR)
        K8S_STAT(inf, watch_errors, 1);
    mesh_k8s_watch_parser_free(&w.parser);
    mesh_k8s_result_free(&res);
    return rc;
}

enum { RELIST_NONE = 0, RELIST_EXPIRED, RELIST_SHORT };

void *k8s__api_thread(void *arg)
{
    mesh_k8s_informer_t *inf = arg;
    int need_list = 1, first = 1, reason = RELIST_NONE, short_run = 0;
    while (!atomic_load(&inf->stop)) {
        if (need_list) {
            char *rv = first ? NULL : mesh_k8s_informer_last_rv(inf);
            int lr = do_list(inf, first ? "0" : rv);
            if (lr == ST_EXPIRED || lr == ST_TOO_LARGE)
                lr = do_list(inf, NULL);
            mesh_free(rv);
            if (lr == ST_STOPPED)
                break;
            if (lr != ST_OK) {
                if (k8s__sleep(inf, mesh_k8s_backoff_next(&inf->backoff)))
                    break;
                continue;
            }
            if (!first) {
                K8S_STAT(inf, relists, 1);
                if (reason == RELIST_EXPIRED)
                    K8S_STAT(inf, relists_expired, 1);
                else if (reason == RELIST_SHORT)
                    K8S_STAT(inf, relists_short, 1);
            }
            need_list = 0;
            first = 0;
            reason = RELIST_NONE;
        }
        uint64_t t0 = mesh_k8s_now_ms();
        unsigned long events = 0;
        int wr = do_watch(inf, &events);
        if (wr == ST_STOPPED)
            break;
        if (events > 0)
            mesh_k8s_backoff_success(&inf->backoff);
        if (wr == ST_OK) {
            if (events > 0 || mesh_k8s_now_ms() - t0 >= inf->short_watch_ms) {
                short_run = 0;
                continue; /* clean end: re-watch at once from the last RV */
            }
            if (++short_run >= inf->short_relist_after) {
                short_run = 0;
                need_list = 1;
                reason = RELIST_SHORT;
            }
        } else if (wr == ST_EXPIRED) {
            short_run = 0;
            need_list = 1;
            reason = RELIST_EXPIRED;
        }
        if (k8s__sleep(inf, mesh_k8s_backoff_next(&inf->backoff)))
            break;
    }
    return NULL;
}
