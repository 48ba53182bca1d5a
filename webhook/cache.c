/* Namespaces and owners from shared informers (metadata only). */
#include "wh/cache.h"

#include <string.h>

#include "mesh/mem.h"

struct wh_cache {
    mesh_k8s_factory_t *factory;   /* owns the informers below */
    mesh_k8s_informer_t *ns;       /* namespaces, metadata only */
    mesh_k8s_informer_t *rs;       /* apps/v1 ReplicaSets, metadata only */
    mesh_k8s_informer_t *jobs;     /* batch/v1 Jobs, metadata only */
};

static mesh_k8s_informer_t *informer(mesh_k8s_factory_t *f, const char *group, const char *res,
                                     const char *kind)
{
    mesh_k8s_informer_opts_t o = {0};
    o.res.group = group;
    o.res.version = "v1";
    o.res.resource = res;
    o.res.kind = kind;
    o.transform = mesh_k8s_transform_metadata_only;
    return mesh_k8s_factory_informer(f, &o);
}

wh_cache_t *wh_cache_new(mesh_k8s_source_t *src)
{
    wh_cache_t *c = mesh_calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->factory = mesh_k8s_factory_new(src);
    if (c->factory == NULL)
        goto fail;
    c->ns = informer(c->factory, "", "namespaces", "Namespace");
    c->rs = informer(c->factory, "apps", "replicasets", "ReplicaSet");
    c->jobs = informer(c->factory, "batch", "jobs", "Job");
    if (c->ns == NULL || c->rs == NULL || c->jobs == NULL)
        goto fail;
    return c;
fail:
    wh_cache_free(c);
    return NULL;
}

int wh_cache_start(wh_cache_t *c)
{
    return mesh_k8s_factory_start(c->factory);
}

bool wh_cache_synced(wh_cache_t *c)
{
    return mesh_k8s_informer_synced(c->ns) && mesh_k8s_informer_synced(c->rs) &&
           mesh_k8s_informer_synced(c->jobs);
}

int wh_cache_wait_synced(wh_cache_t *c, uint64_t timeout_ms)
{
    return mesh_k8s_factory_wait_synced(c->factory, timeout_ms);
}

static json_t *ns_annotations(void *ud, const char *ns)
{
    wh_cache_t *c = ud;
    json_t *obj = mesh_k8s_informer_get(c->ns, NULL, ns);
    json_t *a = json_object_get(json_object_get(obj, "metadata"), "annotations");
    json_incref(a);
    json_decref(obj);
    return a;
}

static json_t *owner_metadata(void *ud, const char *kind, const char *ns, const char *name)
{
    wh_cache_t *c = ud;
    mesh_k8s_informer_t *inf = strcmp(kind, "ReplicaSet") == 0 ? c->rs
                               : strcmp(kind, "Job") == 0      ? c->jobs
                                                               : NULL;
    if (inf == NULL)
        return NULL;
    json_t *obj = mesh_k8s_informer_get(inf, ns, name);
    json_t *md = json_object_get(obj, "metadata");
    json_incref(md);
    json_decref(obj);
    return md;
}

wh_lookup_t wh_cache_lookup(wh_cache_t *c)
{
    wh_lookup_t l = {ns_annotations, owner_metadata, c};
    return l;
}

void wh_cache_free(wh_cache_t *c)
{
    if (c == NULL)
        return;
    mesh_k8s_factory_free(c->factory);
    mesh_free(c);
}
