/* AdmissionReview decoding and reply building (kubernetes-api.md §6). */
#include "wh/review.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "internal.h"
#include "mesh/buf.h"
#include "mesh/mem.h"

#define API_V1 "admission.k8s.io/v1"
#define API_V1BETA1 "admission.k8s.io/v1beta1"
#define TEXT_PLAIN "text/plain; charset=utf-8"
#define APP_JSON "application/json"
/* A sidecar patch is about 8 KiB: start there instead of growing to it. */
#define PATCH_BUF_INITIAL 16384

static const char *const result_names[WH_RESULT_COUNT] = {
    [WH_RESULT_INJECTED] = "injected",   [WH_RESULT_ANNOTATED] = "annotated",
    [WH_RESULT_SKIPPED] = "skipped",     [WH_RESULT_IGNORED] = "ignored",
    [WH_RESULT_DENIED] = "denied",       [WH_RESULT_BAD_REQUEST] = "bad_request",
    [WH_RESULT_TOO_LARGE] = "too_large",
};

const char *wh_review_result_name(wh_review_result_t r)
{
    return (unsigned)r < WH_RESULT_COUNT ? result_names[r] : "unknown";
}

void wh_review_reply_free(wh_review_reply_t *reply)
{
    MESH_FREE(&reply->body);
}

static json_t *nn(json_t *v)
{
    return json_is_null(v) ? NULL : v;
}

static int bad_request(wh_review_reply_t *r, const char *why)
{
    r->status = 400;
    r->result = WH_RESULT_BAD_REQUEST;
    r->content_type = TEXT_PLAIN;
    snprintf(r->message, sizeof r->message, "%s", why);
    size_t n = strlen(why);
    r->body = mesh_malloc(n + 2);
    if (r->body == NULL)
        return WH_ERR_NOMEM;
    memcpy(r->body, why, n);
    r->body[n] = '\n';
    r->body[n + 1] = '\0';
    r->body_len = n + 1;
    return 0;
}

/* Builds the 200 reply around `response` (consumed). */
static int reply_json(wh_review_reply_t *r, const char *api, json_t *response)
{
    json_t *doc = json_pack("{s:s, s:s, s:o}", "apiVersion", api, "kind", "AdmissionReview",
                            "response", response);
    if (doc == NULL)
        return WH_ERR_NOMEM;
    mesh_buf_t out = MESH_BUF_INIT;
    int rc = wh__json_dump(doc, &out);
    json_decref(doc);
    r->body_len = out.len;
    r->body = rc == 0 ? mesh_buf_steal(&out) : NULL;
    mesh_buf_free(&out);
    if (r->body == NULL)
        return WH_ERR_NOMEM;
    r->status = 200;
    r->content_type = APP_JSON;
    return 0;
}

/* The injected answer, written directly rather than through a second
 * json_t: the base64 patch is most of the body and needs no escaping, so
 * running it through jansson's string encoder again is pure cost. The bytes
 * are those reply_json() would give for the same response (jansson keeps
 * insertion order; JSON_COMPACT has no spaces). */
static int allow_patch(wh_review_reply_t *r, const char *api, const char *uid, json_t *patch)
{
    mesh_buf_t ps = MESH_BUF_INIT, out = MESH_BUF_INIT;
    json_t *juid = json_string(uid);
    if (juid == NULL || mesh_buf_reserve(&ps, PATCH_BUF_INITIAL) < 0 ||
        wh__json_dump(patch, &ps) < 0)
        goto nomem;
    size_t b64_len = 4 * ((ps.len + 2) / 3);
    if (mesh_buf_appendf(&out, "{\"apiVersion\":\"%s\",\"kind\":\"AdmissionReview\","
                               "\"response\":{\"uid\":", api) < 0 ||
        wh__json_dump(juid, &out) < 0 ||
        mesh_buf_appendf(&out, ",\"allowed\":true,\"patchType\":\"JSONPatch\",\"patch\":\"") < 0 ||
        mesh_buf_reserve(&out, b64_len + 4) < 0)
        goto nomem;
    EVP_EncodeBlock((unsigned char *)out.base + out.len, (const unsigned char *)ps.base, (int)ps.len);
    out.len += b64_len;
    if (mesh_buf_append(&out, "\"}}", 3) < 0)
        goto nomem;
    json_decref(juid);
    mesh_buf_free(&ps);
    r->body_len = out.len;
    r->body = mesh_buf_steal(&out);
    if (r->body == NULL)
        return WH_ERR_NOMEM;
    r->status = 200;
    r->content_type = APP_JSON;
    return 0;
nomem:
    json_decref(juid);
    mesh_buf_free(&ps);
    mesh_buf_free(&out);
    return WH_ERR_NOMEM;
}

static int allow(wh_review_reply_t *r, const char *api, const char *uid, json_t *patch)
{
    if (patch != NULL)
        return allow_patch(r, api, uid, patch);
    json_t *resp = json_pack("{s:s, s:b}", "uid", uid, "allowed", 1);
    if (resp == NULL)
        return WH_ERR_NOMEM;
    return reply_json(r, api, resp);
}

static int deny(wh_review_reply_t *r, const char *api, const char *uid, const char *msg)
{
    r->result = WH_RESULT_DENIED;
    snprintf(r->message, sizeof r->message, "%s", msg);
    json_t *resp = json_pack("{s:s, s:b, s:{s:s, s:s, s:s, s:i}}", "uid", uid, "allowed", 0,
                             "status", "status", "Failure", "message", msg, "reason",
                             "BadRequest", "code", 400);
    if (resp == NULL)
        return WH_ERR_NOMEM;
    return reply_json(r, api, resp);
}

static void lower(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

/* The controller ownerReference of `obj` (or its first one): kind and name. */
static int controller_of(const json_t *obj, const char **kind, const char **name)
{
    json_t *refs = nn(json_object_get(nn(json_object_get(obj, "metadata")), "ownerReferences"));
    json_t *pick = NULL, *ref;
    size_t i;
    json_array_foreach(refs, i, ref) {
        if (!json_is_string(json_object_get(ref, "kind")) ||
            !json_is_string(json_object_get(ref, "name")))
            continue;
        if (pick == NULL || json_is_true(json_object_get(ref, "controller"))) {
            pick = ref;
            if (json_is_true(json_object_get(ref, "controller")))
                break;
        }
    }
    if (pick == NULL)
        return -1;
    *kind = json_string_value(json_object_get(pick, "kind"));
    *name = json_string_value(json_object_get(pick, "name"));
    return 0;
}

int wh_review_owner(const wh_lookup_t *lk, const json_t *pod, const char *ns, char *kind,
                    size_t kcap, char *name, size_t ncap)
{
    const char *k, *n;
    if (controller_of(pod, &k, &n) < 0)
        return -1;
    snprintf(kind, kcap, "%s", k);
    snprintf(name, ncap, "%s", n);
    /* A ReplicaSet is named after its Deployment and a Job after its
     * CronJob only by convention: ask the cache for the real owner. */
    if ((strcmp(k, "ReplicaSet") == 0 || strcmp(k, "Job") == 0) && lk != NULL &&
        lk->owner_metadata != NULL) {
        json_t *md = lk->owner_metadata(lk->ud, k, ns, n);
        json_t *wrap = md ? json_pack("{s:O}", "metadata", md) : NULL;
        const char *k2, *n2;
        if (wrap != NULL && controller_of(wrap, &k2, &n2) == 0 &&
            (strcmp(k2, "Deployment") == 0 || strcmp(k2, "CronJob") == 0)) {
            snprintf(kind, kcap, "%s", k2);
            snprintf(name, ncap, "%s", n2);
        }
        json_decref(wrap);
        json_decref(md);
    }
    lower(kind);
    return 0;
}

static int check_owner_refs(const json_t *obj, char *msg, size_t cap)
{
    json_t *refs = nn(json_object_get(nn(json_object_get(obj, "metadata")), "ownerReferences"));
    if (refs == NULL)
        return 0;
    if (!json_is_array(refs)) {
        snprintf(msg, cap, "metadata.ownerReferences: expected an array");
        return -1;
    }
    size_t i;
    json_t *ref;
    json_array_foreach(refs, i, ref) {
        json_t *k = nn(json_object_get(ref, "kind")), *n = nn(json_object_get(ref, "name"));
        json_t *c = nn(json_object_get(ref, "controller"));
        if (!json_is_object(ref) || (k && !json_is_string(k)) || (n && !json_is_string(n)) ||
            (c && !json_is_boolean(c))) {
            snprintf(msg, cap, "metadata.ownerReferences[%zu]: malformed", i);
            return -1;
        }
    }
    return 0;
}

static int handle_pod(const wh_values_t *v, const wh_lookup_t *lk, const char *created_by,
                      const char *api, const char *uid, const char *ns, json_t *obj,
                      wh_review_reply_t *r)
{
    char msg[256];
    if (json_is_object(obj) && check_owner_refs(obj, msg, sizeof msg) < 0) {
        char m[300];
        snprintf(m, sizeof m, "the object does not decode as a Pod: %s", msg);
        return deny(r, api, uid, m);
    }
    if (json_is_object(obj) && (ns == NULL || ns[0] == '\0'))
        ns = json_string_value(nn(json_object_get(nn(json_object_get(obj, "metadata")), "namespace")));
    json_t *ns_ann = (lk && lk->ns_annotations && ns && ns[0]) ? lk->ns_annotations(lk->ud, ns) : NULL;
    char okind[64] = "", oname[256] = "";
    int has_owner = json_is_object(obj) &&
                    wh_review_owner(lk, obj, ns ? ns : "", okind, sizeof okind, oname,
                                    sizeof oname) == 0;
    wh_inject_input_t in = {
        .pod = obj,
        .namespace_name = ns ? ns : "",
        .ns_annotations = json_is_object(ns_ann) ? ns_ann : NULL,
        .owner_kind = has_owner ? okind : NULL,
        .owner_name = has_owner ? oname : NULL,
        .created_by = created_by,
        .path_prefix = "",
    };
    wh_inject_result_t res;
    int rc = wh_inject_pod(v, &in, &res);
    json_decref(ns_ann);
    if (rc == WH_ERR_NOMEM)
        return rc;
    if (rc == WH_ERR_INVALID) {
        char m[300];
        snprintf(m, sizeof m, "the object does not decode as a Pod: %s", res.message);
        return deny(r, api, uid, m);
    }
    r->decision = res.decision;
    snprintf(r->message, sizeof r->message, "%s", res.message);
    r->result = res.decision == WH_DECISION_INJECT ? WH_RESULT_INJECTED : WH_RESULT_SKIPPED;
    rc = allow(r, api, uid, res.patch);
    json_decref(res.patch);
    return rc;
}

static int handle_service(const wh_values_t *v, const wh_lookup_t *lk, const char *api,
                          const char *uid, const char *ns, json_t *obj, wh_review_reply_t *r)
{
    if (json_is_object(obj) && (ns == NULL || ns[0] == '\0'))
        ns = json_string_value(nn(json_object_get(nn(json_object_get(obj, "metadata")), "namespace")));
    json_t *ns_ann = (lk && lk->ns_annotations && ns && ns[0]) ? lk->ns_annotations(lk->ud, ns) : NULL;
    json_t *patch = NULL;
    char msg[256] = "";
    int rc = wh_inject_service(v, obj, json_is_object(ns_ann) ? ns_ann : NULL, &patch, msg,
                               sizeof msg);
    json_decref(ns_ann);
    if (rc == WH_ERR_NOMEM)
        return rc;
    if (rc == WH_ERR_INVALID) {
        char m[300];
        snprintf(m, sizeof m, "the object does not decode as a Service: %s", msg);
        return deny(r, api, uid, m);
    }
    r->result = patch ? WH_RESULT_ANNOTATED : WH_RESULT_IGNORED;
    snprintf(r->message, sizeof r->message, "%s",
             patch ? "opaque-ports annotation added" : "service left unchanged");
    rc = allow(r, api, uid, patch);
    json_decref(patch);
    return rc;
}

int wh_review_handle(const wh_values_t *v, const wh_lookup_t *lk, const char *created_by,
                     const char *body, size_t len, wh_review_reply_t *r)
{
    memset(r, 0, sizeof *r);
    r->decision = WH_DECISION_COUNT;
    if (len > WH_REVIEW_BODY_MAX) {
        r->result = WH_RESULT_TOO_LARGE;
        return bad_request(r, "request body too large");
    }
    json_error_t jerr;
    json_t *doc = json_loadb(body, len, 0, &jerr);
    if (doc == NULL)
        return bad_request(r, "the body is not JSON");
    int rc;
    const char *api = json_string_value(json_object_get(doc, "apiVersion"));
    const char *kind = json_string_value(json_object_get(doc, "kind"));
    json_t *req = nn(json_object_get(doc, "request"));
    if (!json_is_object(doc) || api == NULL || kind == NULL ||
        (strcmp(api, API_V1) != 0 && strcmp(api, API_V1BETA1) != 0) ||
        strcmp(kind, "AdmissionReview") != 0) {
        rc = bad_request(r, "the body is not an admission.k8s.io/v1 or v1beta1 AdmissionReview");
        goto out;
    }
    if (!json_is_object(req)) {
        rc = bad_request(r, "the AdmissionReview has no request");
        goto out;
    }
    const char *uid = json_string_value(json_object_get(req, "uid"));
    if (uid == NULL || uid[0] == '\0') {
        rc = bad_request(r, "the AdmissionReview request has no uid");
        goto out;
    }
    /* Fields of the request itself: a wrong type means the review does not
     * decode, which is the client's error (400), not the object's. */
    json_t *gvk = nn(json_object_get(req, "kind"));
    json_t *op = nn(json_object_get(req, "operation"));
    json_t *ns = nn(json_object_get(req, "namespace"));
    json_t *sub = nn(json_object_get(req, "subResource"));
    if ((gvk != NULL && !json_is_object(gvk)) || (op != NULL && !json_is_string(op)) ||
        (ns != NULL && !json_is_string(ns)) || (sub != NULL && !json_is_string(sub))) {
        rc = bad_request(r, "the AdmissionReview request is malformed");
        goto out;
    }
    json_t *gk = nn(json_object_get(gvk, "kind")), *gg = nn(json_object_get(gvk, "group"));
    if ((gk != NULL && !json_is_string(gk)) || (gg != NULL && !json_is_string(gg))) {
        rc = bad_request(r, "the AdmissionReview request kind is malformed");
        goto out;
    }
    const char *k = json_string_value(gk), *g = json_string_value(gg);
    const char *o = json_string_value(op), *sr = json_string_value(sub);
    bool core = g == NULL || g[0] == '\0';
    bool create = o != NULL && strcmp(o, "CREATE") == 0;
    bool pod = core && k != NULL && strcmp(k, "Pod") == 0;
    bool svc = core && k != NULL && strcmp(k, "Service") == 0;
    if (!create || (!pod && !svc) || (sr != NULL && sr[0] != '\0')) {
        r->result = WH_RESULT_IGNORED;
        snprintf(r->message, sizeof r->message, "%s %s: not handled", o ? o : "-", k ? k : "-");
        rc = allow(r, api, uid, NULL);
        goto out;
    }
    json_t *obj = nn(json_object_get(req, "object"));
    const char *nsname = json_string_value(ns);
    if (pod)
        rc = handle_pod(v, lk, created_by, api, uid, nsname, obj, r);
    else
        rc = handle_service(v, lk, api, uid, nsname, obj, r);
out:
    json_decref(doc);
    return rc;
}
