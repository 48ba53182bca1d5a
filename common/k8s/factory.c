/* Shared informers: one per (group/version/resource, namespace, selector). */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "mesh/mem.h"

typedef struct {
    char *key;
    mesh_k8s_informer_t *inf;
} entry_t;

struct mesh_k8s_factory {
    mesh_k8s_source_t *src;
    pthread_mutex_t mu;
    entry_t *v;
    size_t n;
    int started;
};

mesh_k8s_factory_t *mesh_k8s_factory_new(mesh_k8s_source_t *src)
{
    mesh_k8s_factory_t *f = mesh_calloc(1, sizeof(*f));
    if (f == NULL)
        return NULL;
    f->src = src;
    pthread_mutex_init(&f->mu, NULL);
    return f;
}

static char *factory_key(const mesh_k8s_informer_opts_t *o)
{
    char buf[1024];
    int n = snprintf(buf, sizeof(buf), "%s/%s/%s|%s|%s", o->res.group ? o->res.group : "",
                     o->res.version ? o->res.version : "", o->res.resource ? o->res.resource : "",
                     o->ns ? o->ns : "", o->label_selector ? o->label_selector : "");
    if (n < 0 || (size_t)n >= sizeof(buf))
        return NULL;
    return mesh_strdup(buf);
}

mesh_k8s_informer_t *mesh_k8s_factory_informer(mesh_k8s_factory_t *f, const mesh_k8s_informer_opts_t *o)
{
    char *key = factory_key(o);
    if (key == NULL)
        return NULL;
    mesh_k8s_informer_t *inf = NULL;
    pthread_mutex_lock(&f->mu);
    for (size_t i = 0; i < f->n; i++) {
        if (strcmp(f->v[i].key, key) == 0) {
            inf = f->v[i].inf;
            break;
        }
    }
    if (inf == NULL) {
        entry_t *v = mesh_realloc(f->v, (f->n + 1) * sizeof(*v));
        if (v != NULL) {
            f->v = v;
            inf = mesh_k8s_informer_new(f->src, o);
            if (inf != NULL) {
                f->v[f->n].key = key;
                f->v[f->n].inf = inf;
                f->n++;
                key = NULL;
                if (f->started && mesh_k8s_informer_start(inf) != 0)
                    inf = NULL; /* stays owned by the factory, freed with it */
            }
        }
    }
    pthread_mutex_unlock(&f->mu);
    mesh_free(key);
    return inf;
}

int mesh_k8s_factory_start(mesh_k8s_factory_t *f)
{
    int rc = 0;
    pthread_mutex_lock(&f->mu);
    f->started = 1;
    for (size_t i = 0; i < f->n; i++)
        rc |= mesh_k8s_informer_start(f->v[i].inf);
    pthread_mutex_unlock(&f->mu);
    return rc ? -1 : 0;
}

int mesh_k8s_factory_wait_synced(mesh_k8s_factory_t *f, uint64_t timeout_ms)
{
    uint64_t deadline = mesh_k8s_now_ms() + timeout_ms;
    pthread_mutex_lock(&f->mu);
    size_t n = f->n;
    pthread_mutex_unlock(&f->mu);
    for (size_t i = 0; i < n; i++) {
        pthread_mutex_lock(&f->mu);
        mesh_k8s_informer_t *inf = f->v[i].inf;
        pthread_mutex_unlock(&f->mu);
        uint64_t now = mesh_k8s_now_ms();
        if (!mesh_k8s_informer_wait_synced(inf, deadline > now ? deadline - now : 0))
            return 0;
    }
    return 1;
}

void mesh_k8s_factory_free(mesh_k8s_factory_t *f)
{
    if (f == NULL)
        return;
    for (size_t i = 0; i < f->n; i++)
        mesh_k8s_informer_stop(f->v[i].inf); /* stop all first: they may share a client */
    for (size_t i = 0; i < f->n; i++) {
        mesh_k8s_informer_free(f->v[i].inf);
        mesh_free(f->v[i].key);
    }
    mesh_free(f->v);
    pthread_mutex_destroy(&f->mu);
    mesh_free(f);
}
