/* The informer cache: applying events and lists, diffing, dispatch to
 * handlers, cache reads, keys, label selectors, transforms. */
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "mesh/log.h"
#include "mesh/mem.h"

char *mesh_k8s_object_key(const json_t *obj)
{
    json_t *md = json_object_get(obj, "metadata");
    const char *name = json_string_value(json_object_get(md, "name"));
    const char *ns = json_string_value(json_object_get(md, "namespace"));
    if (name == NULL || *name == '\0')
        return NULL;
    size_t n = strlen(name) + (ns ? strlen(ns) : 0) + 2;
    char *k = mesh_malloc(n);
    if (k == NULL)
        return NULL;
    if (ns != NULL && *ns)
        snprintf(k, n, "%s/%s", ns, name);
    else
        snprintf(k, n, "%s", name);
    return k;
}

static const char *object_rv(const json_t *obj)
{
    return json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
}

json_t *mesh_k8s_transform_metadata_only(json_t *obj, void *ud)
{
    (void)ud;
    json_t *out = json_object();
    if (out == NULL) {
        json_decref(obj);
        return NULL;
    }
    static const char *const keep[] = {"apiVersion", "kind", NULL};
    for (int i = 0; keep[i]; i++) {
        json_t *v = json_object_get(obj, keep[i]);
        if (v != NULL)
            json_object_set(out, keep[i], v);
    }
    json_t *md = json_object_get(obj, "metadata");
    if (json_is_object(md)) {
        json_t *copy = json_copy(md);
        if (copy != NULL) {
            json_object_del(copy, "managedFields");
            json_object_set_new(out, "metadata", copy);
        }
    }
    json_decref(obj);
    return out;
}

void k8s__stat_add(mesh_k8s_informer_t *inf, size_t offset, unsigned long n)
{
    pthread_mutex_lock(&inf->state_mu);
    *(unsigned long *)((char *)&inf->stats + offset) += n;
    pthread_mutex_unlock(&inf->state_mu);
}

void k8s__set_last_rv(mesh_k8s_informer_t *inf, const char *rv)
{
    if (rv == NULL || *rv == '\0')
        return;
    char *copy = mesh_strdup(rv);
    if (copy == NULL)
        return; /* keeping the older RV is safe: at worst a few duplicate events */
    pthread_mutex_lock(&inf->state_mu);
    mesh_free(inf->last_rv);
    inf->last_rv = copy;
    pthread_mutex_unlock(&inf->state_mu);
}

int k8s__sleep(mesh_k8s_informer_t *inf, uint64_t ms)
{
    K8S_STAT(inf, backoffs, 1);
    if (inf->sleep_fn != NULL)
        return inf->sleep_fn(inf->sleep_ud, ms) != 0 || atomic_load(&inf->stop);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&inf->state_mu);
    while (!atomic_load(&inf->stop)) {
        if (pthread_cond_timedwait(&inf->state_cv, &inf->state_mu, &ts) != 0)
            break;
    }
    pthread_mutex_unlock(&inf->state_mu);
    return atomic_load(&inf->stop);
}

/* ---- changes and dispatch ------------------------------------------------ */

enum { CH_ADD = 1, CH_UPDATE, CH_DELETE };
typedef struct {
    int op;
    json_t *old; /* UPDATE/DELETE: previous cached object */
    json_t *obj; /* ADD/UPDATE: new cached object */
} change_t;
typedef struct {
    change_t *v;
    size_t n, cap;
} changes_t;

static int push(changes_t *c, int op, json_t *old, json_t *obj)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        change_t *v = mesh_realloc(c->v, cap * sizeof(*v));
        if (v == NULL)
            return -1;
        c->v = v;
        c->cap = cap;
    }
    c->v[c->n].op = op;
    c->v[c->n].old = old ? json_incref(old) : NULL;
    c->v[c->n].obj = obj ? json_incref(obj) : NULL;
    c->n++;
    return 0;
}

/* Calls handlers for each change, then releases them. Caller holds dispatch_mu. */
static void dispatch(mesh_k8s_informer_t *inf, changes_t *c)
{
    for (size_t i = 0; i < c->n; i++) {
        change_t *ch = &c->v[i];
        for (size_t h = 0; h < inf->nhandlers; h++) {
            mesh_k8s_handler_t *hd = &inf->handlers[h];
            if (ch->op == CH_ADD && hd->on_add)
                hd->on_add(ch->obj, hd->ud);
            else if (ch->op == CH_UPDATE && hd->on_update)
                hd->on_update(ch->old, ch->obj, hd->ud);
            else if (ch->op == CH_DELETE && hd->on_delete)
                hd->on_delete(ch->old, hd->ud);
        }
        json_decref(ch->old);
        json_decref(ch->obj);
    }
    mesh_free(c->v);
    memset(c, 0, sizeof(*c));
}

/* Transforms a raw object (borrowed) for caching; new reference or NULL. */
static json_t *prepare(mesh_k8s_informer_t *inf, json_t *raw)
{
    if (inf->transform == NULL)
        return json_incref(raw);
    return inf->transform(json_incref(raw), inf->transform_ud);
}

void k8s__deliver_event(mesh_k8s_informer_t *inf, mesh_k8s_ev_type_t type, json_t *raw)
{
    char *key = mesh_k8s_object_key(raw);
    const char *rv = object_rv(raw);
    if (key == NULL) {
        K8S_STAT(inf, bad_events, 1);
        return;
    }
    changes_t ch = {0};
    pthread_mutex_lock(&inf->dispatch_mu);
    if (type == MESH_K8S_EV_DELETED) {
        pthread_rwlock_wrlock(&inf->cache_lock);
        json_t *old = json_incref(json_object_get(inf->objs, key));
        json_object_del(inf->objs, key);
        json_object_del(inf->rvs, key);
        pthread_rwlock_unlock(&inf->cache_lock);
        if (old != NULL) /* a delete for an unknown key has nothing to tell */
            push(&ch, CH_DELETE, old, NULL);
        json_decref(old);
    } else {
        json_t *obj = prepare(inf, raw);
        json_t *rvj = json_string(rv ? rv : "");
        if (obj != NULL && rvj != NULL) {
            pthread_rwlock_wrlock(&inf->cache_lock);
            json_t *old = json_incref(json_object_get(inf->objs, key));
            int ok = json_object_set(inf->objs, key, obj) == 0 &&
                     json_object_set(inf->rvs, key, rvj) == 0;
            pthread_rwlock_unlock(&inf->cache_lock);
            if (ok)
                push(&ch, old ? CH_UPDATE : CH_ADD, old, obj);
            json_decref(old);
        }
        json_decref(obj);
        json_decref(rvj);
    }
    dispatch(inf, &ch);
    pthread_mutex_unlock(&inf->dispatch_mu);
    K8S_STAT(inf, events, 1);
    mesh_free(key);
}

void k8s__deliver_list(mesh_k8s_informer_t *inf, json_t *items)
{
    json_t *objs = json_object(), *rvs = json_object();
    changes_t ch = {0};
    if (objs == NULL || rvs == NULL)
        goto out_nolock;
    pthread_mutex_lock(&inf->dispatch_mu);
    /* Build the new cache, reusing cached objects whose RV did not change
     * (nothing to tell about them, and no transform to redo). */
    size_t i;
    json_t *raw;
    pthread_rwlock_rdlock(&inf->cache_lock);
    json_array_foreach(items, i, raw) {
        char *key = mesh_k8s_object_key(raw);
        const char *rv = object_rv(raw);
        if (key == NULL)
            continue;
        const char *oldrv = json_string_value(json_object_get(inf->rvs, key));
        json_t *old = json_object_get(inf->objs, key);
        if (old != NULL && oldrv != NULL && rv != NULL && strcmp(oldrv, rv) == 0) {
            json_object_set(objs, key, old);
        } else {
            json_t *obj = prepare(inf, raw);
            if (obj != NULL) {
                json_object_set_new(objs, key, obj);
                push(&ch, old ? CH_UPDATE : CH_ADD, old, obj);
            }
        }
        json_object_set_new(rvs, key, json_string(rv ? rv : ""));
        mesh_free(key);
    }
    const char *k;
    json_t *old;
    json_object_foreach(inf->objs, k, old) {
        if (json_object_get(objs, k) == NULL)
            push(&ch, CH_DELETE, old, NULL);
    }
    pthread_rwlock_unlock(&inf->cache_lock);
    pthread_rwlock_wrlock(&inf->cache_lock);
    json_t *prev_objs = inf->objs, *prev_rvs = inf->rvs;
    inf->objs = objs;
    inf->rvs = rvs;
    objs = prev_objs;
    rvs = prev_rvs;
    pthread_rwlock_unlock(&inf->cache_lock);
    dispatch(inf, &ch);
    pthread_mutex_lock(&inf->state_mu);
    int first = !inf->synced;
    inf->synced = 1;
    inf->stats.lists++;
    pthread_cond_broadcast(&inf->state_cv);
    pthread_mutex_unlock(&inf->state_mu);
    if (first) {
        for (size_t h = 0; h < inf->nhandlers; h++)
            if (inf->handlers[h].on_synced)
                inf->handlers[h].on_synced(inf->handlers[h].ud);
    }
    pthread_mutex_unlock(&inf->dispatch_mu);
out_nolock:
    json_decref(objs);
    json_decref(rvs);
}

int mesh_k8s_informer_add_handler(mesh_k8s_informer_t *inf, const mesh_k8s_handler_t *h)
{
    pthread_mutex_lock(&inf->dispatch_mu);
    mesh_k8s_handler_t *v = mesh_realloc(inf->handlers, (inf->nhandlers + 1) * sizeof(*v));
    if (v == NULL) {
        pthread_mutex_unlock(&inf->dispatch_mu);
        return -1;
    }
    inf->handlers = v;
    inf->handlers[inf->nhandlers++] = *h;
    /* Replay the current state to the newcomer only. */
    json_t *snap;
    pthread_rwlock_rdlock(&inf->cache_lock);
    snap = json_copy(inf->objs); /* shallow: values are shared references */
    pthread_rwlock_unlock(&inf->cache_lock);
    if (snap != NULL && h->on_add) {
        const char *k;
        json_t *o;
        json_object_foreach(snap, k, o) h->on_add(o, h->ud);
    }
    json_decref(snap);
    pthread_mutex_lock(&inf->state_mu);
    int synced = inf->synced;
    pthread_mutex_unlock(&inf->state_mu);
    if (synced && h->on_synced)
        h->on_synced(h->ud);
    pthread_mutex_unlock(&inf->dispatch_mu);
    return 0;
}

/* ---- reads --------------------------------------------------------------- */

json_t *mesh_k8s_informer_get_key(mesh_k8s_informer_t *inf, const char *key)
{
    pthread_rwlock_rdlock(&inf->cache_lock);
    json_t *o = json_incref(json_object_get(inf->objs, key));
    pthread_rwlock_unlock(&inf->cache_lock);
    return o;
}

json_t *mesh_k8s_informer_get(mesh_k8s_informer_t *inf, const char *ns, const char *name)
{
    char key[512];
    if (ns != NULL && *ns)
        snprintf(key, sizeof(key), "%s/%s", ns, name);
    else
        snprintf(key, sizeof(key), "%s", name);
    return mesh_k8s_informer_get_key(inf, key);
}

size_t mesh_k8s_informer_foreach(mesh_k8s_informer_t *inf,
                                 int (*fn)(const char *key, const char *rv, const json_t *obj, void *ud),
                                 void *ud)
{
    size_t n = 0;
    pthread_rwlock_rdlock(&inf->cache_lock);
    const char *k;
    json_t *o;
    json_object_foreach(inf->objs, k, o) {
        n++;
        if (fn(k, json_string_value(json_object_get(inf->rvs, k)), o, ud) != 0)
            break;
    }
    pthread_rwlock_unlock(&inf->cache_lock);
    return n;
}

size_t mesh_k8s_informer_size(mesh_k8s_informer_t *inf)
{
    pthread_rwlock_rdlock(&inf->cache_lock);
    size_t n = json_object_size(inf->objs);
    pthread_rwlock_unlock(&inf->cache_lock);
    return n;
}

/* ---- label selectors ----------------------------------------------------- */

static void strip(const char **s, const char **e)
{
    while (*s < *e && isspace((unsigned char)**s))
        (*s)++;
    while (*e > *s && isspace((unsigned char)(*e)[-1]))
        (*e)--;
}

static int eqn(const char *a, size_t n, const char *b)
{
    return b != NULL && strlen(b) == n && memcmp(a, b, n) == 0;
}

/* Is `val` (may be NULL) in the set "(a, b, c)" given as [s,e)? -1 on syntax. */
static int in_set(const char *s, const char *e, const char *val)
{
    strip(&s, &e);
    if (s >= e || *s != '(' || e[-1] != ')')
        return -1;
    s++;
    e--;
    int found = 0;
    while (s <= e) {
        const char *c = memchr(s, ',', (size_t)(e - s));
        const char *end = c ? c : e;
        const char *a = s, *b = end;
        strip(&a, &b);
        if (a == b)
            return -1;
        if (eqn(a, (size_t)(b - a), val))
            found = 1;
        if (c == NULL)
            break;
        s = c + 1;
    }
    return found;
}

static int term_match(const char *s, const char *e, const json_t *labels)
{
    strip(&s, &e);
    if (s == e)
        return -1;
    char key[317];
    const char *ops = s;
    while (ops < e && !isspace((unsigned char)*ops) && *ops != '=' && *ops != '!')
        ops++;
    if (*s == '!') { /* !key */
        const char *ks = s + 1, *ke = e;
        strip(&ks, &ke);
        if (ks == ke || (size_t)(ke - ks) >= sizeof(key))
            return -1;
        snprintf(key, sizeof(key), "%.*s", (int)(ke - ks), ks);
        return json_object_get(labels, key) == NULL;
    }
    if ((size_t)(ops - s) >= sizeof(key))
        return -1;
    snprintf(key, sizeof(key), "%.*s", (int)(ops - s), s);
    const char *val = json_string_value(json_object_get(labels, key));
    const char *r = ops;
    while (r < e && isspace((unsigned char)*r))
        r++;
    if (r == e) /* key: exists */
        return val != NULL;
    const char *vs;
    int neg = 0;
    if (e - r >= 2 && r[0] == '!' && r[1] == '=') {
        neg = 1;
        vs = r + 2;
    } else if (e - r >= 2 && r[0] == '=' && r[1] == '=') {
        vs = r + 2;
    } else if (r[0] == '=') {
        vs = r + 1;
    } else if (e - r > 3 && strncmp(r, "in", 2) == 0 && (isspace((unsigned char)r[2]) || r[2] == '(')) {
        return in_set(r + 2, e, val);
    } else if (e - r > 6 && strncmp(r, "notin", 5) == 0 &&
               (isspace((unsigned char)r[5]) || r[5] == '(')) {
        int m = in_set(r + 5, e, val);
        return m < 0 ? -1 : !m;
    } else {
        return -1;
    }
    const char *ve = e;
    strip(&vs, &ve);
    int eq = eqn(vs, (size_t)(ve - vs), val);
    return neg ? !eq : eq;
}

int mesh_k8s_label_selector_match(const char *sel, const json_t *labels)
{
    if (sel == NULL)
        return 1;
    const char *s = sel;
    int result = 1;
    for (;;) {
        /* split on commas outside parentheses */
        const char *p = s;
        int depth = 0;
        while (*p && (*p != ',' || depth > 0)) {
            if (*p == '(')
                depth++;
            else if (*p == ')')
                depth--;
            p++;
        }
        const char *a = s, *b = p;
        strip(&a, &b);
        if (a != b) {
            int m = term_match(a, b, labels);
            if (m < 0)
                return -1;
            if (!m)
                result = 0;
        } else if (*p == ',' || s != sel) {
            return -1; /* empty term */
        }
        if (*p == '\0')
            break;
        s = p + 1;
    }
    return result;
}
