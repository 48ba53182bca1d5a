/* TokenReview client; see id/tokenreview.h. */
#include "id/tokenreview.h"

#include <stdio.h>
#include <string.h>

#include "mesh/k8s_client.h"
#include "mesh/mem.h"

json_t *id_tokenreview_body(const uint8_t *token, size_t len, int with_audience)
{
    json_t *tok = json_stringn((const char *)token, len);
    if (tok == NULL)
        return NULL;
    json_t *spec = json_object();
    json_t *obj = json_object();
    if (spec == NULL || obj == NULL || json_object_set_new(spec, "token", tok) != 0)
        goto fail;
    tok = NULL;
    if (with_audience) {
        json_t *aud = json_array();
        if (aud == NULL || json_array_append_new(aud, json_string(ID_TOKEN_AUDIENCE)) != 0 ||
            json_object_set_new(spec, "audiences", aud) != 0) {
            json_decref(aud);
            goto fail;
        }
    }
    if (json_object_set_new(obj, "apiVersion", json_string("authentication.k8s.io/v1")) != 0 ||
        json_object_set_new(obj, "kind", json_string("TokenReview")) != 0 ||
        json_object_set_new(obj, "spec", spec) != 0) {
        spec = NULL;
        goto fail;
    }
    return obj;
fail:
    json_decref(tok);
    json_decref(spec);
    json_decref(obj);
    return NULL;
}

int id_tokenreview_parse(const json_t *review, id_review_t *out)
{
    memset(out, 0, sizeof(*out));
    json_t *status = json_object_get(review, "status");
    if (!json_is_object(status)) {
        snprintf(out->error, sizeof(out->error), "TokenReview answer has no status");
        return -1;
    }
    const char *err = json_string_value(json_object_get(status, "error"));
    if (err != NULL)
        snprintf(out->error, sizeof(out->error), "%s", err);
    if (!json_is_true(json_object_get(status, "authenticated")))
        return 0;
    const char *user = json_string_value(json_object_get(json_object_get(status, "user"), "username"));
    if (user == NULL || strlen(user) >= sizeof(out->username)) {
        /* Authenticated but nameless: treat as not authenticated. */
        snprintf(out->error, sizeof(out->error), "TokenReview answer has no usable username");
        return 0;
    }
    memcpy(out->username, user, strlen(user) + 1);
    out->authenticated = 1;
    return 0;
}

int id_tokenreview_audience_problem(const char *msg)
{
    return msg != NULL && strstr(msg, "audience") != NULL;
}

/* One POST. Returns ID_OK with *out filled, or ID_INTERNAL; *refused is set
 * when the API refused the request itself for its audiences. */
static id_code_t review_once(mesh_k8s_client_t *c, const uint8_t *token, size_t len, int with_aud,
                             id_review_t *out, int *refused)
{
    *refused = 0;
    memset(out, 0, sizeof(*out));
    json_t *body = id_tokenreview_body(token, len, with_aud);
    if (body == NULL) {
        /* Not UTF-8: no API server would accept it as a token. */
        snprintf(out->error, sizeof(out->error), "token is not valid UTF-8");
        return ID_OK;
    }
    mesh_k8s_result_t res;
    memset(&res, 0, sizeof(res));
    int rc = mesh_k8s_create(c, ID_TOKENREVIEW_PATH, body, &res);
    json_decref(body);
    id_code_t code = ID_OK;
    if (rc != 0) {
        if (res.status >= 400 && res.status < 500 && res.status != 401 && res.status != 403 &&
            id_tokenreview_audience_problem(res.message))
            *refused = 1;
        if (res.status == 0)
            snprintf(out->error, sizeof(out->error), "API unreachable: %s", res.message ? res.message : "?");
        else
            snprintf(out->error, sizeof(out->error), "API answered %ld: %s", res.status,
                     res.message ? res.message : (res.reason ? res.reason : ""));
        code = ID_INTERNAL;
    } else if (id_tokenreview_parse(res.body, out) != 0) {
        code = ID_INTERNAL;
    }
    mesh_k8s_result_free(&res);
    return code;
}

id_code_t id_tokenreview_check(void *user, const uint8_t *token, size_t len, id_review_t *out)
{
    mesh_k8s_client_t *c = user;
    int refused;
    id_code_t code = review_once(c, token, len, 1, out, &refused);
    int retry = (code == ID_OK && !out->authenticated && id_tokenreview_audience_problem(out->error)) ||
                (code != ID_OK && refused);
    if (retry)
        code = review_once(c, token, len, 0, out, &refused);
    return code;
}
