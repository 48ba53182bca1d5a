/* id_certify: the whole request path with a fake token reviewer. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "google/protobuf/timestamp.pb-c.h"
#include "id/certify.h"
#include "id/name.h"
#include "identity.pb-c.h"
#include "idfix.h"
#include "mesh/mem.h"
#include "mesh/pki.h"

#define ID "web.emojivoto.serviceaccount.identity.cmesh.cluster.local"
#define DAY 86400L

/* Fake API: token "web" is emojivoto/web, "other" is emojivoto/other,
 * "node" is a non-serviceaccount user, "down" is an API error, anything
 * else is not authenticated. */
static int review_calls;
static id_code_t fake_review(void *user, const uint8_t *token, size_t len, id_review_t *out)
{
    (void)user;
    review_calls++;
    char t[64] = "";
    if (len < sizeof(t))
        memcpy(t, token, len);
    if (strcmp(t, "down") == 0) {
        snprintf(out->error, sizeof(out->error), "connection refused");
        return ID_INTERNAL;
    }
    out->authenticated = 1;
    if (strcmp(t, "web") == 0)
        snprintf(out->username, sizeof(out->username), "system:serviceaccount:emojivoto:web");
    else if (strcmp(t, "other") == 0)
        snprintf(out->username, sizeof(out->username), "system:serviceaccount:emojivoto:other");
    else if (strcmp(t, "node") == 0)
        snprintf(out->username, sizeof(out->username), "system:node:web");
    else if (strcmp(t, "colon") == 0)
        snprintf(out->username, sizeof(out->username), "system:serviceaccount:emojivoto:web:x");
    else {
        out->authenticated = 0;
        snprintf(out->error, sizeof(out->error), "invalid bearer token");
    }
    return ID_OK;
}

static const id_certify_config_t cfg = {"cmesh", "cluster.local", {DAY, 20}, fake_review, NULL};

START_TEST(test_certify_ok)
{
    time_t now = time(NULL);
    idfix_pki_t p;
    idfix_pki_make(&p, now, 365 * DAY, 30 * DAY);
    char err[256];
    id_issuer_t *iss;
    ck_assert_int_eq(id_issuer_new(p.chain, p.issuer_key, p.anchors, now, &iss, err, sizeof(err)), 0);
    idfix_csr_t spec = {IDFIX_P256, ID, "DNS:" ID, 0, 0};
    size_t clen, rlen;
    EVP_PKEY *key;
    unsigned char *csr = idfix_csr_der(&spec, &clen, &key);
    uint8_t *req = idfix_request(ID, "web", csr, clen, &rlen);
    id_certify_result_t res;
    id_certify(&cfg, iss, req, rlen, now, &res);
    ck_assert_msg(res.code == ID_OK, "%s: %s", id_code_name(res.code), res.message);
    ck_assert_str_eq(res.identity, ID);
    Io__Linkerd__Proxy__Identity__CertifyResponse *rsp =
        io__linkerd__proxy__identity__certify_response__unpack(NULL, res.response_len, res.response);
    ck_assert_ptr_nonnull(rsp);
    ck_assert_uint_eq(rsp->n_intermediate_certificates, 1);
    ck_assert_ptr_nonnull(rsp->valid_until);
    ck_assert_int_eq(rsp->valid_until->seconds, now + DAY + 20);
    ck_assert_int_eq(res.not_after, now + DAY + 20);
    const unsigned char *d = rsp->leaf_certificate.data;
    X509 *leaf = d2i_X509(NULL, &d, (long)rsp->leaf_certificate.len);
    d = rsp->intermediate_certificates[0].data;
    X509 *inter = d2i_X509(NULL, &d, (long)rsp->intermediate_certificates[0].len);
    ck_assert_ptr_nonnull(leaf);
    ck_assert_int_eq(X509_cmp(inter, p.issuer), 0);
    STACK_OF(X509) *untrusted = sk_X509_new_null();
    sk_X509_push(untrusted, inter);
    ck_assert_msg(mesh_pki_verify(leaf, untrusted, p.anchors, now, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(EVP_PKEY_eq(X509_get0_pubkey(leaf), key), 1);
    sk_X509_pop_free(untrusted, X509_free);
    X509_free(leaf);
    io__linkerd__proxy__identity__certify_response__free_unpacked(rsp, NULL);
    id_certify_result_free(&res);
    EVP_PKEY_free(key);
    free(req);
    free(csr);
    id_issuer_unref(iss);
    idfix_pki_free(&p);
}
END_TEST

enum csr_kind { CSR_GOOD, CSR_NONE, CSR_GARBAGE, CSR_BADSIG, CSR_WRONG_SAN, CSR_RSA };

struct req_case {
    const char *name;
    const char *identity;
    const char *token;
    enum csr_kind csr;
    int issuer; /* 0 none, 1 good, 2 expired by now */
    id_code_t want;
    int reviews; /* token reviews expected */
};

static const struct req_case req_cases[] = {
    {"empty identity", "", "web", CSR_GOOD, 1, ID_INVALID_ARGUMENT, 0},
    {"empty token", ID, "", CSR_GOOD, 1, ID_INVALID_ARGUMENT, 0},
    {"empty csr", ID, "web", CSR_NONE, 1, ID_INVALID_ARGUMENT, 0},
    {"csr not DER", ID, "web", CSR_GARBAGE, 1, ID_INVALID_ARGUMENT, 0},
    {"csr bad signature", ID, "web", CSR_BADSIG, 1, ID_INVALID_ARGUMENT, 0},
    {"csr wrong SAN", ID, "web", CSR_WRONG_SAN, 1, ID_FAILED_PRECONDITION, 0},
    {"csr RSA key", ID, "web", CSR_RSA, 1, ID_FAILED_PRECONDITION, 0},
    {"no issuer", ID, "web", CSR_GOOD, 0, ID_UNAVAILABLE, 0},
    {"expired issuer", ID, "web", CSR_GOOD, 2, ID_UNAVAILABLE, 0},
    {"unauthenticated token", ID, "bogus", CSR_GOOD, 1, ID_FAILED_PRECONDITION, 1},
    {"other serviceaccount", ID, "other", CSR_GOOD, 1, ID_FAILED_PRECONDITION, 1},
    {"not a serviceaccount", ID, "node", CSR_GOOD, 1, ID_FAILED_PRECONDITION, 1},
    {"five-part username", ID, "colon", CSR_GOOD, 1, ID_FAILED_PRECONDITION, 1},
    {"API error", ID, "down", CSR_GOOD, 1, ID_INTERNAL, 1},
    {"good", ID, "web", CSR_GOOD, 1, ID_OK, 1},
};

START_TEST(test_certify_matrix)
{
    const struct req_case *c = &req_cases[_i];
    time_t now = time(NULL);
    idfix_pki_t p;
    idfix_pki_make(&p, now, 365 * DAY, 3600);
    char err[256];
    id_issuer_t *iss = NULL;
    ck_assert_int_eq(id_issuer_new(p.chain, p.issuer_key, p.anchors, now, &iss, err, sizeof(err)), 0);
    time_t at = c->issuer == 2 ? now + 3600 : now;

    unsigned char *csr = NULL;
    size_t clen = 0;
    idfix_csr_t spec = {IDFIX_P256, ID, "DNS:" ID, 0, 0};
    switch (c->csr) {
    case CSR_NONE: break;
    case CSR_GARBAGE: csr = (unsigned char *)strdup("not a csr at all"); clen = strlen((char *)csr); break;
    case CSR_BADSIG: spec.corrupt_sig = 1; csr = idfix_csr_der(&spec, &clen, NULL); break;
    case CSR_WRONG_SAN: spec.san = "DNS:web.other.serviceaccount.identity.cmesh.cluster.local";
        csr = idfix_csr_der(&spec, &clen, NULL); break;
    case CSR_RSA: spec.key_type = IDFIX_RSA; csr = idfix_csr_der(&spec, &clen, NULL); break;
    case CSR_GOOD: csr = idfix_csr_der(&spec, &clen, NULL); break;
    }
    size_t rlen;
    uint8_t *req = idfix_request(c->identity, c->token, csr, clen, &rlen);
    review_calls = 0;
    id_certify_result_t res;
    id_certify(&cfg, c->issuer ? iss : NULL, req, rlen, at, &res);
    ck_assert_msg(res.code == c->want, "%s: got %s (%s), want %s", c->name, id_code_name(res.code),
                  res.message, id_code_name(c->want));
    ck_assert_int_eq(review_calls, c->reviews);
    if (c->want == ID_OK) {
        ck_assert_ptr_nonnull(res.response);
    } else {
        ck_assert_ptr_null(res.response);
        ck_assert_uint_eq(res.response_len, 0);
        ck_assert_msg(res.message[0] != '\0', "%s: no message", c->name);
    }
    id_certify_result_free(&res);
    free(req);
    free(csr);
    id_issuer_unref(iss);
    idfix_pki_free(&p);
}
END_TEST

START_TEST(test_certify_bad_bytes)
{
    time_t now = time(NULL);
    id_certify_result_t res;
    const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
    id_certify(&cfg, NULL, junk, sizeof(junk), now, &res);
    ck_assert_int_eq(res.code, ID_INVALID_ARGUMENT);
    /* An empty message decodes to all-empty fields. */
    id_certify(&cfg, NULL, junk, 0, now, &res);
    ck_assert_int_eq(res.code, ID_INVALID_ARGUMENT);
    ck_assert_str_eq(res.message, "missing identity");
    /* Oversized token. */
    char *tok = malloc(ID_TOKEN_MAX + 2);
    memset(tok, 'a', ID_TOKEN_MAX + 1);
    tok[ID_TOKEN_MAX + 1] = '\0';
    size_t rlen;
    uint8_t *req = idfix_request(ID, tok, (const unsigned char *)"x", 1, &rlen);
    id_certify(&cfg, NULL, req, rlen, now, &res);
    ck_assert_int_eq(res.code, ID_INVALID_ARGUMENT);
    ck_assert_str_eq(res.message, "token too large");
    free(req);
    free(tok);
}
END_TEST

/* Every allocation of a good request failing in turn: a clean error, no
 * leak (run with CK_FORK=no under ASan to see leaks). */
START_TEST(test_certify_oom)
{
    time_t now = time(NULL);
    idfix_pki_t p;
    idfix_pki_make(&p, now, 365 * DAY, 30 * DAY);
    char err[256];
    id_issuer_t *iss;
    ck_assert_int_eq(id_issuer_new(p.chain, p.issuer_key, p.anchors, now, &iss, err, sizeof(err)), 0);
    idfix_csr_t spec = {IDFIX_P256, ID, "DNS:" ID, 0, 0};
    size_t clen, rlen;
    unsigned char *csr = idfix_csr_der(&spec, &clen, NULL);
    uint8_t *req = idfix_request(ID, "web", csr, clen, &rlen);
    int ok = 0;
    for (long n = 0; n < 40 && !ok; n++) {
        id_certify_result_t res;
        mesh_mem_fail_after(n);
        id_certify(&cfg, iss, req, rlen, now, &res);
        mesh_mem_fail_after(-1);
        if (res.code == ID_OK)
            ok = 1;
        else
            ck_assert_msg(res.code == ID_INTERNAL || res.code == ID_INVALID_ARGUMENT,
                          "alloc %ld: %s", n, id_code_name(res.code));
        id_certify_result_free(&res);
    }
    ck_assert(ok);
    free(req);
    free(csr);
    id_issuer_unref(iss);
    idfix_pki_free(&p);
}
END_TEST

START_TEST(test_name_mapping)
{
    char out[ID_NAME_MAX + 1];
    ck_assert_int_gt(id_name_from_username(out, sizeof(out), "system:serviceaccount:emojivoto:web",
                                           "cmesh", "cluster.local"), 0);
    ck_assert_str_eq(out, ID);
    const char *bad[] = {
        "system:serviceaccount:emojivoto", "system:serviceaccount::web",
        "system:serviceaccount:emojivoto:", "system:serviceaccount:Emoji:web",
        "system:serviceaccount:emojivoto:web:extra", "system:node:web", "serviceaccount:a:b",
        "system:serviceaccount:-a:web", "system:serviceaccount:a.b:web", "",
    };
    for (size_t i = 0; i < MESH_ARRAY_LEN(bad); i++)
        ck_assert_msg(id_name_from_username(out, sizeof(out), bad[i], "cmesh", "cluster.local") == -1,
                      "accepted %s", bad[i]);
    ck_assert_int_eq(id_name_make(out, 10, "a", "b", "c", "d"), -1);
    ck_assert(id_name_is_label("a-1", 3));
    ck_assert(!id_name_is_label("a-", 2));
    char big[70];
    memset(big, 'a', 64);
    big[64] = '\0';
    ck_assert(!id_name_is_label(big, 64));
}
END_TEST

Suite *certify_suite(void)
{
    Suite *s = suite_create("certify");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_certify_ok);
    tcase_add_loop_test(tc, test_certify_matrix, 0, (int)MESH_ARRAY_LEN(req_cases));
    tcase_add_test(tc, test_certify_bad_bytes);
    tcase_add_test(tc, test_certify_oom);
    tcase_add_test(tc, test_name_mapping);
    suite_add_tcase(s, tc);
    return s;
}
