/* Informer transforms: keep only what the watcher reads (dst/watcher.h). */
#include <stdint.h>
#include <string.h>

#include "dst/watcher.h"

/* Copies src[key] into dst when present. */
static void keep(json_t *dst, const json_t *src, const char *key)
{
    json_t *v = json_object_get(src, key);
    if (v != NULL)
        json_object_set(dst, key, v);
}

static json_t *pick_map(const json_t *m, const char *const *keys)
{
    json_t *out = json_object();
    for (; out && *keys; keys++)
        keep(out, m, *keys);
    return out;
}

static json_t *meta_min(const json_t *md, const char *const *labels, const char *const *anns, int owners)
{
    json_t *out = json_object();
    if (out == NULL)
        return NULL;
    keep(out, md, "name");
    keep(out, md, "namespace");
    keep(out, md, "resourceVersion");
    if (labels && json_object_get(md, "labels"))
        json_object_set_new(out, "labels", pick_map(json_object_get(md, "labels"), labels));
    if (anns && json_object_get(md, "annotations"))
        json_object_set_new(out, "annotations", pick_map(json_object_get(md, "annotations"), anns));
    if (owners) {
        json_t *refs = json_array();
        size_t i;
        json_t *r;
        json_array_foreach(json_object_get(md, "ownerReferences"), i, r) {
            json_t *o = json_object();
            keep(o, r, "kind");
            keep(o, r, "name");
            keep(o, r, "controller");
            json_array_append_new(refs, o);
        }
        json_object_set_new(out, "ownerReferences", refs);
    }
    return out;
}

json_t *dst_watcher_transform(json_t *obj, void *ud)
{
    dst_res_t res = (dst_res_t)(intptr_t)ud;
    static const char *const pod_labels[] = {"linkerd.io/control-plane-ns", "pod-template-hash", NULL};
    static const char *const pod_anns[] = {"config.linkerd.io/opaque-ports", "config.linkerd.io/skip-inbound-ports", NULL};
    static const char *const svc_anns[] = {"config.linkerd.io/opaque-ports", NULL};
    static const char *const slice_labels[] = {"kubernetes.io/service-name", NULL};
    const json_t *md = json_object_get(obj, "metadata");
    json_t *out = json_object();
    if (out == NULL) {
        json_decref(obj);
        return NULL;
    }
    keep(out, obj, "apiVersion");
    keep(out, obj, "kind");
    switch (res) {
    case DST_RES_SERVICE: {
        json_object_set_new(out, "metadata", meta_min(md, NULL, svc_anns, 0));
        static const char *const spec_keys[] = {"ports", "clusterIP", "clusterIPs", "type", NULL};
        json_object_set_new(out, "spec", pick_map(json_object_get(obj, "spec"), spec_keys));
        break;
    }
    case DST_RES_SLICE: {
        json_object_set_new(out, "metadata", meta_min(md, slice_labels, NULL, 0));
        keep(out, obj, "addressType");
        keep(out, obj, "ports");
        json_t *eps = json_array();
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(obj, "endpoints"), i, e) {
            static const char *const ek[] = {"addresses", "conditions", "hostname", "zone", "targetRef", NULL};
            json_array_append_new(eps, pick_map(e, ek));
        }
        json_object_set_new(out, "endpoints", eps);
        break;
    }
    case DST_RES_POD: {
        json_object_set_new(out, "metadata", meta_min(md, pod_labels, pod_anns, 1));
        static const char *const spec_keys[] = {"serviceAccountName", NULL};
        static const char *const status_keys[] = {"podIP", "podIPs", NULL};
        json_t *spec = pick_map(json_object_get(obj, "spec"), spec_keys);
        /* Named container ports, for names in the opaque/skip annotations. */
        json_t *ctrs = json_array();
        size_t i, k;
        json_t *c, *pt;
        json_array_foreach(json_object_get(json_object_get(obj, "spec"), "containers"), i, c) {
            json_t *ports = json_array();
            json_array_foreach(json_object_get(c, "ports"), k, pt) {
                static const char *const pk[] = {"name", "containerPort", NULL};
                if (json_object_get(pt, "name"))
                    json_array_append_new(ports, pick_map(pt, pk));
            }
            if (json_array_size(ports)) {
                json_t *one = json_object();
                json_object_set_new(one, "ports", ports);
                json_array_append_new(ctrs, one);
            } else {
                json_decref(ports);
            }
        }
        if (spec && json_array_size(ctrs))
            json_object_set(spec, "containers", ctrs);
        json_decref(ctrs);
        json_object_set_new(out, "spec", spec);
        json_object_set_new(out, "status", pick_map(json_object_get(obj, "status"), status_keys));
        break;
    }
    case DST_RES_REPLICASET:
    case DST_RES_JOB:
        json_object_set_new(out, "metadata", meta_min(md, NULL, NULL, 1));
        break;
    default:
        /* ServiceProfiles and TrafficSplits are read whole (small, rare). */
        json_object_set_new(out, "metadata", meta_min(md, NULL, NULL, 0));
        keep(out, obj, "spec");
        break;
    }
    json_decref(obj);
    return out;
}
