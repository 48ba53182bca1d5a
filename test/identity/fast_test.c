/*
 * The fast CSR path and the template leaf against OpenSSL: every verdict the
 * fast path gives must be id_csr_check's, and every leaf must read back
 * through OpenSSL's X509 parser (and `openssl verify`) as the template says.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/x509v3.h>

#include "id/ca.h"
#include "idfix.h"
#include "mesh/pki.h"

#define ID "web.emojivoto.serviceaccount.identity.cmesh.cluster.local"
#define DAY 86400L

/* The fast verdict, or FALLBACK, next to OpenSSL's. Returns 1 when the fast
 * path judged the request. */
static int agree(const unsigned char *der, size_t len, const char *identity)
{
    id_csr_key_t key;
    const char *why_fast = NULL, *why_slow = NULL;
    int fast = id_csr_check_fast(der, len, identity, &key, &why_fast);
    X509_REQ *req = NULL;
    id_code_t slow = id_csr_check(der, len, identity, &req, &why_slow);
    if (fast == ID_CSR_FALLBACK) {
        X509_REQ_free(req);
        return 0;
    }
    ck_assert_msg(fast == (int)slow, "fast %d (%s) vs OpenSSL %d (%s)", fast, why_fast ? why_fast : "",
                  (int)slow, why_slow ? why_slow : "");
    if (fast != ID_OK) {
        ck_assert_str_eq(why_fast, why_slow);
    } else {
        unsigned char spki[ID_SPKI_MAX], *p = spki;
        int n = i2d_X509_PUBKEY(X509_REQ_get_X509_PUBKEY(req), &p);
        ck_assert_int_eq(n, (int)key.len);
        ck_assert_mem_eq(spki, key.spki, key.len);
    }
    X509_REQ_free(req);
    return 1;
}

START_TEST(test_fast_agrees_with_openssl)
{
    static const struct {
        idfix_csr_t spec;
        int judged; /* 1: the fast path must decide it itself */
    } cases[] = {
        {{IDFIX_P256, ID, "DNS:" ID, 0, 0}, 1},
        {{IDFIX_P256, NULL, "DNS:" ID, 0, 0}, 1},
        {{IDFIX_P256, ID, "DNS:" ID, 0, 1}, 1},              /* bad signature */
        {{IDFIX_P256, "other", "DNS:" ID, 0, 0}, 1},          /* CN */
        {{IDFIX_P256, ID, "DNS:other.example", 0, 0}, 1},     /* SAN */
        {{IDFIX_P256, ID, NULL, 0, 0}, 1},                    /* no SAN */
        {{IDFIX_P256, ID, "DNS:" ID ",DNS:x.example", 0, 0}, 0},
        {{IDFIX_P256, ID, "IP:10.0.0.1", 0, 0}, 0},
        {{IDFIX_P256, ID, "URI:spiffe://x/y", 0, 0}, 0},
        {{IDFIX_P256, ID, "email:a@b.c", 0, 0}, 0},
        {{IDFIX_P256, ID, "DNS:" ID, 1, 0}, 0},               /* CA:TRUE */
        {{IDFIX_P384, ID, "DNS:" ID, 0, 0}, 0},
        {{IDFIX_RSA, ID, "DNS:" ID, 0, 0}, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len;
        unsigned char *der = idfix_csr_der(&cases[i].spec, &len, NULL);
        int judged = agree(der, len, ID);
        if (cases[i].judged)
            ck_assert_msg(judged, "case %zu fell back", i);
        /* Every single-byte change and every truncation: whatever the fast
         * path decides, OpenSSL decides the same. */
        if (i < 3) {
            for (size_t j = 0; j < len; j++) {
                for (int bit = 0; bit < 8; bit += 3) {
                    der[j] ^= (unsigned char)(1u << bit);
                    agree(der, len, ID);
                    der[j] ^= (unsigned char)(1u << bit);
                }
                agree(der, j, ID);
            }
        }
        free(der);
    }
}
END_TEST

/* A CSR with an ignored extension and an explicit CA:FALSE, as some clients
 * send: still judged by the fast path. */
START_TEST(test_fast_ignored_extensions)
{
    EVP_PKEY *key = mesh_pki_key_generate_p256();
    X509_REQ *req = X509_REQ_new();
    X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req), "O", MBSTRING_ASC,
                               (const unsigned char *)"emojivoto", -1, -1, 0);
    X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req), "CN", MBSTRING_ASC,
                               (const unsigned char *)ID, -1, -1, 0);
    X509_REQ_set_pubkey(req, key);
    STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
    sk_X509_EXTENSION_push(exts, X509V3_EXT_conf_nid(NULL, NULL, NID_key_usage, "critical,digitalSignature"));
    sk_X509_EXTENSION_push(exts, X509V3_EXT_conf_nid(NULL, NULL, NID_basic_constraints, "CA:FALSE"));
    sk_X509_EXTENSION_push(exts, X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, "DNS:" ID));
    X509_REQ_add_extensions(req, exts);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    ck_assert(X509_REQ_sign(req, key, EVP_sha256()) > 0);
    unsigned char *der = NULL;
    int n = i2d_X509_REQ(req, &der);
    ck_assert_int_gt(n, 0);
    ck_assert(agree(der, (size_t)n, ID));
    id_csr_key_t k;
    ck_assert_int_eq(id_csr_check_fast(der, (size_t)n, ID, &k, NULL), ID_OK);
    OPENSSL_free(der);
    X509_REQ_free(req);
    EVP_PKEY_free(key);
}
END_TEST

/* What OpenSSL reads from a template leaf. */
static void check_leaf(const id_issuer_t *iss, idfix_pki_t *p, const id_leaf_t *leaf, EVP_PKEY *key,
                       const char *identity, time_t nb, time_t na)
{
    const unsigned char *q = leaf->der;
    X509 *c = d2i_X509(NULL, &q, (long)leaf->der_len);
    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_eq(q, leaf->der + leaf->der_len);
    /* OpenSSL re-encodes it to the same bytes: the DER is canonical. */
    unsigned char *re = NULL;
    int n = i2d_X509(c, &re);
    ck_assert_int_eq(n, (int)leaf->der_len);
    ck_assert_mem_eq(re, leaf->der, leaf->der_len);
    OPENSSL_free(re);
    char err[256];
    ck_assert_msg(mesh_pki_verify(c, p->chain, p->anchors, nb + 1, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(X509_verify(c, p->issuer_key), 1);
    ck_assert_int_eq(X509_get_version(c), 2);
    ck_assert_int_eq(X509_get_signature_nid(c), NID_ecdsa_with_SHA256);
    ck_assert_int_eq(X509_NAME_cmp(X509_get_issuer_name(c), X509_get_subject_name(id_issuer_cert(iss))), 0);
    ck_assert_int_eq(mesh_pki_not_before(c), nb);
    ck_assert_int_eq(mesh_pki_not_after(c), na);
    ck_assert_int_eq(leaf->not_after, na);
    ck_assert_int_eq(EVP_PKEY_eq(X509_get0_pubkey(c), key), 1);
    ck_assert(!mesh_pki_is_ca(c));
    ck_assert_int_eq(X509_check_ca(c), 0);
    ck_assert_uint_eq(X509_get_key_usage(c), KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT);
    ck_assert_uint_eq(X509_get_extended_key_usage(c), XKU_SSL_SERVER | XKU_SSL_CLIENT);
    ck_assert_int_eq(X509_get_ext_count(c), 5);
    GENERAL_NAMES *sans = X509_get_ext_d2i(c, NID_subject_alt_name, NULL, NULL);
    ck_assert_int_eq(sk_GENERAL_NAME_num(sans), 1);
    const GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, 0);
    ck_assert_int_eq(g->type, GEN_DNS);
    ck_assert_int_eq(ASN1_STRING_length(g->d.dNSName), (int)strlen(identity));
    ck_assert_mem_eq(ASN1_STRING_get0_data(g->d.dNSName), identity, strlen(identity));
    GENERAL_NAMES_free(sans);
    char cn[ID_NAME_MAX + 1];
    ck_assert_int_eq(X509_NAME_get_text_by_NID(X509_get_subject_name(c), NID_commonName, cn, sizeof(cn)),
                     (int)strlen(identity));
    ck_assert_str_eq(cn, identity);
    const ASN1_OCTET_STRING *aki = X509_get0_authority_key_id(c);
    const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(id_issuer_cert(iss));
    ck_assert_ptr_nonnull(aki);
    ck_assert_int_eq(ASN1_OCTET_STRING_cmp(aki, ski), 0);
    const ASN1_INTEGER *serial = X509_get0_serialNumber(c);
    ck_assert_int_eq(ASN1_STRING_length(serial), 16);
    X509_free(c);
}

START_TEST(test_fast_leaf_reads_back)
{
    time_t now = time(NULL);
    idfix_pki_t p;
    idfix_pki_make(&p, now, 365 * DAY, 30 * DAY);
    char err[256];
    id_issuer_t *iss = NULL;
    ck_assert_msg(id_issuer_new(p.chain, p.issuer_key, p.anchors, now, &iss, err, sizeof(err)) == 0, "%s", err);
    /* Identity lengths around every DER length boundary, up to the maximum. */
    static const size_t lens[] = {1, 20, 100, 118, 119, 120, 127, 128, 129, 200, 240, 253};
    id_lifetime_t lt = {DAY, 20};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        char identity[ID_NAME_MAX + 1];
        for (size_t j = 0; j < lens[i]; j++)
            identity[j] = (char)('a' + (j * 7 + i) % 26);
        identity[lens[i]] = '\0';
        char san[ID_NAME_MAX + 8];
        snprintf(san, sizeof(san), "DNS:%s", identity);
        idfix_csr_t spec = {IDFIX_P256, identity, san, 0, 0};
        EVP_PKEY *key = NULL;
        size_t len;
        unsigned char *der = idfix_csr_der(&spec, &len, &key);
        id_csr_key_t k;
        ck_assert_int_eq(id_csr_check_fast(der, len, identity, &k, NULL), ID_OK);
        id_leaf_t leaf;
        ck_assert_int_eq(id_ca_sign_spki(iss, k.spki, k.len, identity, now, &lt, &leaf), ID_OK);
        check_leaf(iss, &p, &leaf, key, identity, now - 20, now + DAY + 20);
        id_leaf_free(&leaf);
        /* The same through id_ca_sign with the EVP key. */
        ck_assert_int_eq(id_ca_sign(iss, key, identity, now, &lt, &leaf), ID_OK);
        check_leaf(iss, &p, &leaf, key, identity, now - 20, now + DAY + 20);
        id_leaf_free(&leaf);
        free(der);
        EVP_PKEY_free(key);
    }
    /* Clamped to the issuer's NotAfter. */
    EVP_PKEY *key = mesh_pki_key_generate_p256();
    id_leaf_t leaf;
    id_lifetime_t long_lt = {60 * DAY, 20};
    ck_assert_int_eq(id_ca_sign(iss, key, ID, now, &long_lt, &leaf), ID_OK);
    check_leaf(iss, &p, &leaf, key, ID, now - 20, id_issuer_not_after(iss));
    id_leaf_free(&leaf);
    EVP_PKEY_free(key);
    id_issuer_unref(iss);
    idfix_pki_free(&p);
}
END_TEST

/* Past 2049 the times are GeneralizedTime (RFC 5280 4.1.2.5). */
START_TEST(test_fast_leaf_generalized_time)
{
    time_t now = time(NULL);
    idfix_pki_t p;
    idfix_pki_make(&p, now, 60 * 365 * DAY, 50 * 365 * DAY);
    char err[256];
    id_issuer_t *iss = NULL;
    ck_assert_msg(id_issuer_new(p.chain, p.issuer_key, p.anchors, now, &iss, err, sizeof(err)) == 0, "%s", err);
    EVP_PKEY *key = mesh_pki_key_generate_p256();
    id_lifetime_t lt = {40 * 365 * DAY, 20};
    id_leaf_t leaf;
    ck_assert_int_eq(id_ca_sign(iss, key, ID, now, &lt, &leaf), ID_OK);
    check_leaf(iss, &p, &leaf, key, ID, now - 20, now + 40 * 365 * DAY + 20);
    const unsigned char *q = leaf.der;
    X509 *c = d2i_X509(NULL, &q, (long)leaf.der_len);
    ck_assert_int_eq(ASN1_STRING_type(X509_get0_notAfter(c)), V_ASN1_GENERALIZEDTIME);
    ck_assert_int_eq(ASN1_STRING_type(X509_get0_notBefore(c)), V_ASN1_UTCTIME);
    X509_free(c);
    id_leaf_free(&leaf);
    EVP_PKEY_free(key);
    id_issuer_unref(iss);
    idfix_pki_free(&p);
}
END_TEST

/* The openssl command line accepts a template leaf against the anchors with
 * the issuer as intermediate, for serverAuth and clientAuth. */
START_TEST(test_fast_leaf_openssl_verify)
{
    time_t now = time(NULL);
    idfix_pki_t p;
    idfix_pki_make(&p, now, 365 * DAY, 30 * DAY);
    char err[256];
    id_issuer_t *iss = NULL;
    ck_assert_msg(id_issuer_new(p.chain, p.issuer_key, p.anchors, now, &iss, err, sizeof(err)) == 0, "%s", err);
    EVP_PKEY *key = mesh_pki_key_generate_p256();
    id_lifetime_t lt = {DAY, 20};
    X509 *leaf_cert = NULL;
    id_leaf_t leaf;
    ck_assert_int_eq(id_ca_sign_cert(iss, key, ID, now, &lt, &leaf, &leaf_cert), ID_OK);
    char dir[] = "/tmp/idfast-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char a[64], i[64], l[64], cmd[512];
    snprintf(a, sizeof(a), "%s/a.pem", dir);
    snprintf(i, sizeof(i), "%s/i.pem", dir);
    snprintf(l, sizeof(l), "%s/l.pem", dir);
    idfix_write_cert(a, p.anchor);
    idfix_write_cert(i, p.issuer);
    idfix_write_cert(l, leaf_cert);
    for (int k = 0; k < 2; k++) {
        snprintf(cmd, sizeof(cmd), "openssl verify -purpose %s -CAfile %s -untrusted %s %s >/dev/null 2>&1",
                 k ? "sslclient" : "sslserver", a, i, l);
        ck_assert_int_eq(system(cmd), 0);
    }
    /* And refuses it without the issuer: the check can fail. */
    snprintf(cmd, sizeof(cmd), "openssl verify -CAfile %s %s >/dev/null 2>&1", a, l);
    ck_assert_int_ne(system(cmd), 0);
    unlink(a);
    unlink(i);
    unlink(l);
    rmdir(dir);
    X509_free(leaf_cert);
    id_leaf_free(&leaf);
    EVP_PKEY_free(key);
    id_issuer_unref(iss);
    idfix_pki_free(&p);
}
END_TEST

Suite *fast_suite(void)
{
    Suite *s = suite_create("fast");
    TCase *tc = tcase_create("fast");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_fast_agrees_with_openssl);
    tcase_add_test(tc, test_fast_ignored_extensions);
    tcase_add_test(tc, test_fast_leaf_reads_back);
    tcase_add_test(tc, test_fast_leaf_generalized_time);
    tcase_add_test(tc, test_fast_leaf_openssl_verify);
    suite_add_tcase(s, tc);
    return s;
}
