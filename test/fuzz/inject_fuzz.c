/* libFuzzer target: AdmissionReview bytes -> reply (webhook/review.c), and for
 * every injected pod, the patch applied and the result re-admitted, which must
 * leave it alone (idempotence). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "wh/jsonpatch.h"
#include "wh/review.h"
#include "wh/values.h"

static wh_values_t values;

static json_t *ns_ann(void *ud, const char *ns)
{
    (void)ud;
    return strcmp(ns, "shop") == 0 ? json_pack("{s:s}", "linkerd.io/inject", "enabled") : NULL;
}

static const wh_lookup_t lookup = {ns_ann, NULL, NULL};

static void check_idempotent(const char *body, size_t len, const wh_review_reply_t *r)
{
    json_t *req = json_loadb(body, len, 0, NULL);
    json_t *resp = json_loads(r->body, 0, NULL);
    const char *b64 = json_string_value(json_object_get(json_object_get(resp, "response"), "patch"));
    if (req == NULL || resp == NULL || b64 == NULL)
        abort();
    size_t n = strlen(b64);
    unsigned char *raw = malloc(n + 1);
    int m = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)n);
    if (m < 0)
        abort();
    while (m > 0 && raw[m - 1] == '\0')
        m--;
    json_t *patch = json_loadb((const char *)raw, (size_t)m, 0, NULL);
    json_t *request = json_object_get(req, "request");
    json_t *obj = json_deep_copy(json_object_get(request, "object"));
    char err[256];
    if (patch == NULL || wh_jsonpatch_apply(&obj, patch, err, sizeof err) < 0)
        abort(); /* our own patch must apply */
    json_object_set_new(request, "object", obj);
    char *again = json_dumps(req, JSON_COMPACT);
    wh_review_reply_t r2;
    if (wh_review_handle(&values, &lookup, "fuzz", again, strlen(again), &r2) == 0) {
        if (r2.result != WH_RESULT_SKIPPED)
            abort(); /* an injected pod was changed again */
        wh_review_reply_free(&r2);
    }
    free(again);
    json_decref(patch);
    free(raw);
    json_decref(resp);
    json_decref(req);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    if (!init) {
        char err[256];
        if (wh_values_load(&values, NULL, err, sizeof err) < 0 ||
            wh_values_set_anchors(&values, "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n") < 0)
            abort();
        init = 1;
    }
    wh_review_reply_t r;
    if (wh_review_handle(&values, &lookup, "fuzz", (const char *)data, size, &r) != 0)
        return 0;
    if (r.status != 200 && r.status != 400)
        abort();
    if (r.result == WH_RESULT_INJECTED)
        check_idempotent((const char *)data, size, &r);
    wh_review_reply_free(&r);
    return 0;
}
