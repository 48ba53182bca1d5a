/* `cmesh inject` / `uninject` on parsed manifests. */
#include "wh/manifest.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "wh/inject.h"
#include "wh/jsonpatch.h"

/* The pod template of a workload and its owner kind, or NULL. */
static json_t *pod_template(json_t *doc, const char **kind_out)
{
    const char *kind = json_string_value(json_object_get(doc, "kind"));
    *kind_out = kind;
    if (kind == NULL)
        return NULL;
    json_t *spec = json_object_get(doc, "spec");
    if (strcmp(kind, "Pod") == 0)
        return doc;
    if (strcmp(kind, "CronJob") == 0)
        return json_object_get(json_object_get(json_object_get(spec, "jobTemplate"), "spec"),
                               "template");
    static const char *const kinds[] = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet",
                                        "Job", "ReplicationController"};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(kind, kinds[i]) == 0)
            return json_object_get(spec, "template");
    return NULL;
}

static json_t *ensure_object(json_t *parent, const char *key)
{
    json_t *o = json_object_get(parent, key);
    if (!json_is_object(o)) {
        o = json_object();
        if (o == NULL || json_object_set_new(parent, key, o) < 0)
            return NULL;
    }
    return o;
}

int wh_manifest_inject(const wh_values_t *v, json_t *doc, bool manual, const char *created_by,
                       wh_manifest_report_t *rep, char *err, size_t errlen)
{
    if (!json_is_object(doc)) {
        rep->unchanged++;
        return 0;
    }
    const char *kind;
    json_t *tmpl = pod_template(doc, &kind);
    if (kind != NULL && strcmp(kind, "List") == 0) {
        size_t i;
        json_t *it;
        json_array_foreach(json_object_get(doc, "items"), i, it) {
            if (wh_manifest_inject(v, it, manual, created_by, rep, err, errlen) < 0)
                return -1;
        }
        return 0;
    }
    if (kind != NULL && strcmp(kind, "Namespace") == 0) {
        json_t *ann = ensure_object(ensure_object(doc, "metadata"), "annotations");
        if (ann == NULL || json_object_set_new(ann, "linkerd.io/inject", json_string("enabled")) < 0)
            return -1;
        rep->injected++;
        return 0;
    }
    if (!json_is_object(tmpl)) {
        rep->unchanged++;
        return 0;
    }
    if (!manual) {
        json_t *ann = ensure_object(ensure_object(tmpl, "metadata"), "annotations");
        if (ann == NULL || json_object_set_new(ann, "linkerd.io/inject", json_string("enabled")) < 0)
            return -1;
        rep->injected++;
        return 0;
    }
    json_t *md = json_object_get(doc, "metadata");
    char owner[64] = "";
    for (size_t i = 0; kind[i] && i + 1 < sizeof owner; i++)
        owner[i] = (char)tolower((unsigned char)kind[i]), owner[i + 1] = '\0';
    bool is_pod = strcmp(kind, "Pod") == 0;
    wh_inject_input_t in = {
        .pod = tmpl,
        .namespace_name = json_string_value(json_object_get(md, "namespace")),
        .owner_kind = is_pod ? NULL : owner,
        .owner_name = is_pod ? NULL : json_string_value(json_object_get(md, "name")),
        .created_by = created_by,
        .path_prefix = "",
        .force = true,
    };
    wh_inject_result_t res;
    int rc = wh_inject_pod(v, &in, &res);
    if (rc < 0) {
        snprintf(err, errlen, "%s %s: %s", kind,
                 json_string_value(json_object_get(md, "name")) ?: "?", res.message);
        return -1;
    }
    if (res.patch == NULL) {
        rep->skipped++;
        snprintf(rep->last_skip, sizeof rep->last_skip, "%.64s %.64s: %.120s", kind,
                 json_string_value(json_object_get(md, "name")) ?: "?", res.message);
        return 0;
    }
    json_t *target = tmpl;
    json_incref(target);
    rc = wh_jsonpatch_apply_consume(&target, res.patch, err, errlen);
    json_decref(target);
    if (rc < 0)
        return -1;
    rep->injected++;
    return 0;
}

static void remove_named(json_t *arr, const char *const *names)
{
    for (size_t i = json_array_size(arr); i-- > 0;) {
        const char *n = json_string_value(json_object_get(json_array_get(arr, i), "name"));
        for (const char *const *p = names; n && *p; p++)
            if (strcmp(n, *p) == 0) {
                json_array_remove(arr, i);
                break;
            }
    }
}

static void drop_if_empty(json_t *parent, const char *key)
{
    json_t *x = json_object_get(parent, key);
    if ((json_is_object(x) && json_object_size(x) == 0) || (json_is_array(x) && json_array_size(x) == 0))
        json_object_del(parent, key);
}

int wh_manifest_uninject(json_t *doc, wh_manifest_report_t *rep)
{
    if (!json_is_object(doc))
        return 0;
    const char *kind;
    json_t *tmpl = pod_template(doc, &kind);
    if (kind != NULL && strcmp(kind, "List") == 0) {
        size_t i;
        json_t *it;
        json_array_foreach(json_object_get(doc, "items"), i, it) wh_manifest_uninject(it, rep);
        return 0;
    }
    if (kind != NULL && strcmp(kind, "Namespace") == 0)
        tmpl = doc;
    if (!json_is_object(tmpl)) {
        rep->unchanged++;
        return 0;
    }
    static const char *const conts[] = {"linkerd-proxy", "linkerd-init", NULL};
    static const char *const vols[] = {"linkerd-identity-end-entity", "linkerd-identity-token",
                                       "linkerd-proxy-init-xtables-lock", NULL};
    static const char *const anns[] = {"linkerd.io/inject", "linkerd.io/created-by",
                                       "linkerd.io/proxy-version", "linkerd.io/trust-root-sha256"};
    json_t *spec = json_object_get(tmpl, "spec");
    if (json_is_object(spec) && strcmp(kind ? kind : "", "Namespace") != 0) {
        remove_named(json_object_get(spec, "containers"), conts);
        remove_named(json_object_get(spec, "initContainers"), conts);
        remove_named(json_object_get(spec, "volumes"), vols);
        drop_if_empty(spec, "initContainers");
        drop_if_empty(spec, "volumes");
    }
    json_t *md = json_object_get(tmpl, "metadata");
    json_t *a = json_object_get(md, "annotations"), *l = json_object_get(md, "labels");
    for (size_t i = 0; i < sizeof anns / sizeof anns[0]; i++)
        json_object_del(a, anns[i]);
    const char *k;
    json_t *x;
    void *tmp;
    json_object_foreach_safe(l, tmp, k, x) {
        if (strcmp(k, "linkerd.io/control-plane-ns") == 0 ||
            strcmp(k, "linkerd.io/workload-ns") == 0 || strncmp(k, "linkerd.io/proxy-", 17) == 0)
            json_object_del(l, k);
    }
    drop_if_empty(md, "annotations");
    drop_if_empty(md, "labels");
    if (tmpl != doc)
        drop_if_empty(tmpl, "metadata");
    rep->injected++;
    return 0;
}
