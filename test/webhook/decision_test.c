/* The injector's decision rules (linkerd.md §4.2) through wh_inject_pod,
 * and the reply envelope of wh_review_handle. */
#include <check.h>
#include <string.h>

#include "mesh/mem.h"
#include "wh/inject.h"
#include "wh/review.h"
#include "wh/values.h"

#define ANCHORS "-----BEGIN CERTIFICATE-----\nMIIBtest\n-----END CERTIFICATE-----\n"

static wh_values_t values;

static void setup(void)
{
    char err[256];
    ck_assert_msg(wh_values_load_file(&values, NULL, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(wh_values_set_anchors(&values, ANCHORS), 0);
    values.control_plane_ns = "linkerd";
}

static void teardown(void)
{
    wh_values_free(&values);
}

/* Decision for a pod with pod annotations `pod_ann` (JSON object text or
 * NULL), extra spec members `spec_extra` and namespace annotations `ns_ann`. */
static wh_decision_t decide_full(const char *pod_ann, const char *spec_extra, const char *ns_ann,
                                 bool force, json_t **patch)
{
    char doc[2048];
    snprintf(doc, sizeof doc,
             "{\"metadata\":{\"name\":\"p\"%s%s},\"spec\":{\"containers\":[{\"name\":\"app\","
             "\"image\":\"nginx\"}]%s%s}}",
             pod_ann ? ",\"annotations\":" : "", pod_ann ? pod_ann : "", spec_extra ? "," : "",
             spec_extra ? spec_extra : "");
    json_error_t e;
    json_t *pod = json_loads(doc, 0, &e);
    ck_assert_msg(pod != NULL, "%s: %s", doc, e.text);
    json_t *ns = ns_ann ? json_loads(ns_ann, 0, NULL) : NULL;
    wh_inject_input_t in = {.pod = pod, .namespace_name = "shop", .ns_annotations = ns,
                            .created_by = "test", .path_prefix = "", .force = force};
    wh_inject_result_t out;
    ck_assert_int_eq(wh_inject_pod(&values, &in, &out), 0);
    if (patch != NULL)
        *patch = out.patch;
    else
        json_decref(out.patch);
    ck_assert_msg((out.patch != NULL) == (out.decision == WH_DECISION_INJECT), "%s", out.message);
    json_decref(ns);
    json_decref(pod);
    return out.decision;
}

static wh_decision_t decide(const char *pod_ann, const char *ns_ann)
{
    return decide_full(pod_ann, NULL, ns_ann, false, NULL);
}

#define EN "{\"linkerd.io/inject\":\"enabled\"}"
#define DIS "{\"linkerd.io/inject\":\"disabled\"}"
#define ING "{\"linkerd.io/inject\":\"ingress\"}"
#define BAD "{\"linkerd.io/inject\":\"yes\"}"

START_TEST(test_decision_annotation_precedence)
{
    ck_assert_int_eq(decide(NULL, NULL), WH_SKIP_ENABLE_ABSENT);
    ck_assert_int_eq(decide(NULL, "{}"), WH_SKIP_ENABLE_ABSENT);
    ck_assert_int_eq(decide(EN, NULL), WH_DECISION_INJECT);
    ck_assert_int_eq(decide(NULL, EN), WH_DECISION_INJECT);
    ck_assert_int_eq(decide(ING, NULL), WH_DECISION_INJECT);
    ck_assert_int_eq(decide(NULL, ING), WH_DECISION_INJECT);
    /* the pod's annotation wins over its namespace's */
    ck_assert_int_eq(decide(DIS, EN), WH_SKIP_DISABLED);
    ck_assert_int_eq(decide(EN, DIS), WH_DECISION_INJECT);
    /* a namespace that is disabled or silent needs the pod to opt in (§4.2 row 4) */
    ck_assert_int_eq(decide(NULL, DIS), WH_SKIP_ENABLE_ABSENT);
    ck_assert_int_eq(decide(ING, DIS), WH_DECISION_INJECT);
    /* values other than enabled/ingress/disabled skip */
    ck_assert_int_eq(decide(BAD, NULL), WH_SKIP_INVALID_POD_ANNOTATION);
    ck_assert_int_eq(decide(NULL, BAD), WH_SKIP_INVALID_NS_ANNOTATION);
    ck_assert_str_eq(wh_decision_name(WH_SKIP_ENABLE_ABSENT), "injection_enable_annotation_absent");
    ck_assert_str_eq(wh_decision_name(WH_DECISION_INJECT), "injected");
}
END_TEST

START_TEST(test_decision_pod_shape)
{
    ck_assert_int_eq(decide_full(EN, "\"hostNetwork\":true", NULL, false, NULL), WH_SKIP_HOST_NETWORK);
    ck_assert_int_eq(decide_full(EN, "\"hostNetwork\":false", NULL, false, NULL), WH_DECISION_INJECT);
    ck_assert_int_eq(decide_full(EN, "\"initContainers\":[{\"name\":\"linkerd-init\"}]", NULL, false,
                                 NULL),
                     WH_SKIP_SIDECAR_EXISTS);
    ck_assert_int_eq(decide_full(NULL, NULL, "{\"config.linkerd.io/proxy-uid\":\"x\"}", true, NULL),
                     WH_SKIP_INVALID_CONFIG);
}
END_TEST

START_TEST(test_decision_force_and_idempotence)
{
    /* --manual injects without any annotation */
    json_t *patch = NULL;
    ck_assert_int_eq(decide_full(NULL, NULL, NULL, true, &patch), WH_DECISION_INJECT);
    ck_assert_ptr_nonnull(patch);
    ck_assert(json_is_array(patch));
    ck_assert_uint_gt(json_array_size(patch), 5);
    /* every operation is an add with a pointer path */
    size_t i;
    json_t *op;
    json_array_foreach(patch, i, op) {
        ck_assert_str_eq(json_string_value(json_object_get(op, "op")), "add");
        ck_assert_int_eq(json_string_value(json_object_get(op, "path"))[0], '/');
    }
    json_decref(patch);
    /* an existing proxy container (ours or Linkerd's) is never injected again */
    ck_assert_int_eq(decide_full(NULL, "\"initContainers\":[{\"name\":\"linkerd-proxy\"}]", NULL, true,
                                 NULL),
                     WH_SKIP_SIDECAR_EXISTS);
}
END_TEST

static char *review_reply(const char *body, int *status, wh_review_result_t *result)
{
    wh_review_reply_t r;
    ck_assert_int_eq(wh_review_handle(&values, NULL, "test", body, strlen(body), &r), 0);
    *status = r.status;
    *result = r.result;
    ck_assert_uint_eq(strlen(r.body), r.body_len);
    char *copy = strdup(r.body);
    wh_review_reply_free(&r);
    return copy;
}

START_TEST(test_decision_review_envelope)
{
    int status;
    wh_review_result_t res;
    /* injected: the directly written reply decodes and echoes the envelope */
    const char *inj = "{\"apiVersion\":\"admission.k8s.io/v1beta1\",\"kind\":\"AdmissionReview\","
                      "\"request\":{\"uid\":\"u-\\\"1\\\"\",\"kind\":{\"group\":\"\",\"version\":\"v1\","
                      "\"kind\":\"Pod\"},\"operation\":\"CREATE\",\"namespace\":\"shop\",\"object\":"
                      "{\"metadata\":{\"name\":\"p\",\"annotations\":" EN "},\"spec\":{\"containers\":"
                      "[{\"name\":\"app\",\"image\":\"nginx\"}]}}}}";
    char *body = review_reply(inj, &status, &res);
    ck_assert_int_eq(status, 200);
    ck_assert_int_eq(res, WH_RESULT_INJECTED);
    json_t *j = json_loads(body, 0, NULL);
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(json_string_value(json_object_get(j, "apiVersion")), "admission.k8s.io/v1beta1");
    json_t *resp = json_object_get(j, "response");
    ck_assert_str_eq(json_string_value(json_object_get(resp, "uid")), "u-\"1\"");
    ck_assert(json_is_true(json_object_get(resp, "allowed")));
    ck_assert_str_eq(json_string_value(json_object_get(resp, "patchType")), "JSONPatch");
    /* byte-identical to what jansson writes for the same tree */
    char *again = json_dumps(j, JSON_COMPACT);
    ck_assert_str_eq(again, body);
    free(again);
    json_decref(j);
    free(body);

    /* not JSON, and no uid: 400 */
    body = review_reply("{", &status, &res);
    ck_assert_int_eq(status, 400);
    ck_assert_int_eq(res, WH_RESULT_BAD_REQUEST);
    free(body);
    body = review_reply("{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\","
                        "\"request\":{}}",
                        &status, &res);
    ck_assert_int_eq(status, 400);
    free(body);
}
END_TEST

Suite *decision_suite(void)
{
    Suite *s = suite_create("decision");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_decision_annotation_precedence);
    tcase_add_test(tc, test_decision_pod_shape);
    tcase_add_test(tc, test_decision_force_and_idempotence);
    tcase_add_test(tc, test_decision_review_envelope);
    suite_add_tcase(s, tc);
    return s;
}
