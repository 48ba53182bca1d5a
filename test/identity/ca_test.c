/* The CA core: issuer validation, CSR checks, leaf template. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/x509v3.h>

#include "id/ca.h"
#include "idfix.h"
#include "mesh/mem.h"
#include "mesh/pki.h"

#define ID "web.emojivoto.serviceaccount.identity.cmesh.cluster.local"
#define NOW ((time_t)1700000000)
#define DAY 86400L

static id_issuer_t *make_issuer(idfix_pki_t *p)
{
    char err[256] = "";
    id_issuer_t *iss = NULL;
    int rc = id_issuer_new(p->chain, p->issuer_key, p->anchors, time(NULL), &iss, err, sizeof(err));
    ck_assert_msg(rc == 0, "issuer refused: %s", err);
    return iss;
}

static X509 *d2i_cert(const unsigned char *der, size_t len)
{
    const unsigned char *p = der;
    X509 *c = d2i_X509(NULL, &p, (long)len);
    ck_assert_ptr_nonnull(c);
    return c;
}

START_TEST(test_ca_sign_leaf_template)
{
    time_t now = time(NULL);
    idfix_pki_t p;
    idfix_pki_make(&p, now, 365 * DAY, 30 * DAY);
    id_issuer_t *iss = make_issuer(&p);
    EVP_PKEY *key = mesh_pki_key_generate_p256();
    id_lifetime_t lt = {DAY, 20};
    id_leaf_t leaf, leaf2;
    ck_assert_int_eq(id_ca_sign(iss, key, ID, now, &lt, &leaf), ID_OK);
    ck_assert_int_eq(id_ca_sign(iss, key, ID, now, &lt, &leaf2), ID_OK);
    X509 *c = d2i_cert(leaf.der, leaf.der_len);
    X509 *c2 = d2i_cert(leaf2.der, leaf2.der_len);

    char err[256];
    ck_assert_msg(mesh_pki_verify(c, p.chain, p.anchors, now, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(X509_get_signature_nid(c), NID_ecdsa_with_SHA256);
    ck_assert_int_eq(mesh_pki_not_before(c), now - 20);
    ck_assert_int_eq(mesh_pki_not_after(c), now + DAY + 20);
    ck_assert_int_eq(leaf.not_after, now + DAY + 20);
    ck_assert(!mesh_pki_is_ca(c));
    ck_assert_int_eq(X509_check_ca(c), 0);
    ck_assert_uint_eq(X509_get_key_usage(c), KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT);
    ck_assert_uint_eq(X509_get_extended_key_usage(c), XKU_SSL_SERVER | XKU_SSL_CLIENT);
    GENERAL_NAMES *sans = X509_get_ext_d2i(c, NID_subject_alt_name, NULL, NULL);
    ck_assert_int_eq(sk_GENERAL_NAME_num(sans), 1);
    const GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, 0);
    ck_assert_int_eq(g->type, GEN_DNS);
    ck_assert_str_eq((const char *)ASN1_STRING_get0_data(g->d.dNSName), ID);
    GENERAL_NAMES_free(sans);
    ck_assert_int_eq(X509_check_host(c, ID, 0, 0, NULL), 1);
    /* 128-bit random serial: 16 bytes, different every time. */
    const ASN1_INTEGER *s1 = X509_get0_serialNumber(c), *s2 = X509_get0_serialNumber(c2);
    ck_assert_int_eq(ASN1_STRING_length(s1), 16);
    ck_assert_int_ne(ASN1_INTEGER_cmp(s1, s2), 0);
    ck_assert_int_eq(X509_cmp(c, c2) != 0, 1);
    /* The public key is the requester's. */
    ck_assert_int_eq(EVP_PKEY_eq(X509_get0_pubkey(c), key), 1);
    ck_assert_uint_eq(id_issuer_chain_len(iss), 1);
    size_t n;
    const unsigned char *d = id_issuer_chain_der(iss, 0, &n);
    X509 *ic = d2i_cert(d, n);
    ck_assert_int_eq(X509_cmp(ic, p.issuer), 0);
    ck_assert_ptr_null(id_issuer_chain_der(iss, 1, &n));
    X509_free(ic);
    X509_free(c);
    X509_free(c2);
    id_leaf_free(&leaf);
    id_leaf_free(&leaf2);
    EVP_PKEY_free(key);
    id_issuer_unref(iss);
    idfix_pki_free(&p);
}
END_TEST

START_TEST(test_ca_sign_clamps_to_chain)
{
    time_t now = time(NULL);
    id_lifetime_t lt = {DAY, 20};
    EVP_PKEY *key = mesh_pki_key_generate_p256();
    /* The issuer ends in one hour. */
    idfix_pki_t p;
    idfix_pki_make(&p, now, 365 * DAY, 3600);
    id_issuer_t *iss = make_issuer(&p);
    id_leaf_t leaf;
    ck_assert_int_eq(id_ca_sign(iss, key, ID, now, &lt, &leaf), ID_OK);
    ck_assert_int_eq(leaf.not_after, mesh_pki_not_after(p.issuer));
    ck_assert_int_eq(id_issuer_not_after(iss), now + 3600);
    id_leaf_free(&leaf);
    /* Past the issuer's end, it refuses rather than issue expired leaves. */
    ck_assert_int_eq(id_ca_sign(iss, key, ID, now + 3600, &lt, &leaf), ID_UNAVAILABLE);
    ck_assert_ptr_null(leaf.der);
    ck_assert(!id_issuer_usable(iss, now + 3601));
    id_issuer_unref(iss);
    idfix_pki_free(&p);

    /* The anchor ends before the issuer: the anchor bounds the leaf. */
    idfix_pki_make(&p, now, 7200, 30 * DAY);
    iss = make_issuer(&p);
    ck_assert_int_eq(id_ca_sign(iss, key, ID, now, &lt, &leaf), ID_OK);
    ck_assert_int_eq(leaf.not_after, now + 7200);
    X509 *c = d2i_cert(leaf.der, leaf.der_len);
    ck_assert_int_eq(mesh_pki_not_after(c), now + 7200);
    X509_free(c);
    id_leaf_free(&leaf);
    id_issuer_unref(iss);
    idfix_pki_free(&p);
    EVP_PKEY_free(key);
}
END_TEST

static void expect_refused(STACK_OF(X509) *chain, EVP_PKEY *key, STACK_OF(X509) *anchors, time_t now,
                           const char *substr)
{
    char err[256] = "";
    id_issuer_t *iss = (id_issuer_t *)1;
    ck_assert_int_eq(id_issuer_new(chain, key, anchors, now, &iss, err, sizeof(err)), -1);
    ck_assert_ptr_null(iss);
    ck_assert_msg(strstr(err, substr) != NULL, "error \"%s\" lacks \"%s\"", err, substr);
}

START_TEST(test_ca_issuer_refusals)
{
    time_t now = time(NULL);
    char err[256];
    idfix_pki_t p, other;
    idfix_pki_make(&p, now, 365 * DAY, 30 * DAY);
    idfix_pki_make(&other, now, 365 * DAY, 30 * DAY);

    /* Wrong key. */
    expect_refused(p.chain, other.issuer_key, p.anchors, now, "does not match");
    /* Not chained to these anchors. */
    expect_refused(p.chain, p.issuer_key, other.anchors, now, "does not verify");
    /* Expired issuer, and not yet valid. */
    expect_refused(p.chain, p.issuer_key, p.anchors, now + 31 * DAY, "expired");
    expect_refused(p.chain, p.issuer_key, p.anchors, now - 2 * 3600, "not yet valid");
    /* Not a CA: a leaf signed by the anchor. */
    mesh_pki_cert_spec_t ls = {"leaf", NULL, 0, 0, -1, now - 60, now + DAY};
    X509 *leaf = mesh_pki_cert_make(&ls, p.issuer_key, p.anchor, p.anchor_key, err, sizeof(err));
    ck_assert_ptr_nonnull(leaf);
    STACK_OF(X509) *lchain = sk_X509_new_null();
    sk_X509_push(lchain, leaf);
    expect_refused(lchain, p.issuer_key, p.anchors, now, "not a CA");
    sk_X509_pop_free(lchain, X509_free);
    /* An RSA issuer cannot produce ECDSA-SHA256 leaves. */
    EVP_PKEY *rsa = EVP_RSA_gen(2048);
    mesh_pki_cert_spec_t rs = {"rsa-issuer", NULL, 0, 1, 0, now - 60, now + DAY};
    X509 *rsa_cert = mesh_pki_cert_make(&rs, rsa, p.anchor, p.anchor_key, err, sizeof(err));
    STACK_OF(X509) *rchain = sk_X509_new_null();
    sk_X509_push(rchain, rsa_cert);
    expect_refused(rchain, rsa, p.anchors, now, "not an ECDSA");
    sk_X509_pop_free(rchain, X509_free);
    EVP_PKEY_free(rsa);
    /* Missing pieces. */
    expect_refused(NULL, p.issuer_key, p.anchors, now, "required");
    STACK_OF(X509) *empty = sk_X509_new_null();
    expect_refused(p.chain, p.issuer_key, empty, now, "required");
    sk_X509_free(empty);
    idfix_pki_free(&p);
    idfix_pki_free(&other);
}
END_TEST

START_TEST(test_ca_issuer_intermediate_chain)
{
    time_t now = time(NULL);
    char err[256];
    idfix_pki_t p;
    idfix_pki_make(&p, now, 365 * DAY, 30 * DAY);
    /* anchor -> p.issuer (intermediate) -> sub issuer */
    EVP_PKEY *sk = mesh_pki_key_generate_p256();
    mesh_pki_cert_spec_t s = {"sub", NULL, 0, 1, 0, now - 60, now + 10 * DAY};
    ck_assert_int_eq(X509_check_ca(p.issuer), 1);
    X509 *sub = mesh_pki_cert_make(&s, sk, p.issuer, p.issuer_key, err, sizeof(err));
    ck_assert_ptr_nonnull(sub);
    /* The issuer's pathlen:0 forbids a CA below it, so use a pathlen-free
     * intermediate instead. */
    EVP_PKEY *ik = mesh_pki_key_generate_p256();
    mesh_pki_cert_spec_t is = {"inter", NULL, 0, 1, -1, now - 60, now + 20 * DAY};
    X509 *inter = mesh_pki_cert_make(&is, ik, p.anchor, p.anchor_key, err, sizeof(err));
    X509_free(sub);
    sub = mesh_pki_cert_make(&s, sk, inter, ik, err, sizeof(err));
    STACK_OF(X509) *chain = sk_X509_new_null();
    sk_X509_push(chain, sub);
    /* Without the intermediate the chain does not verify. */
    expect_refused(chain, sk, p.anchors, now, "does not verify");
    sk_X509_push(chain, inter);
    id_issuer_t *iss = NULL;
    ck_assert_msg(id_issuer_new(chain, sk, p.anchors, now, &iss, err, sizeof(err)) == 0, "%s", err);
    ck_assert_uint_eq(id_issuer_chain_len(iss), 2);
    ck_assert_int_eq(id_issuer_not_after(iss), now + 10 * DAY);
    ck_assert_int_eq(strlen(id_issuer_fingerprint(iss)), 64);
    EVP_PKEY *key = mesh_pki_key_generate_p256();
    id_lifetime_t lt = {DAY, 20};
    id_leaf_t leaf;
    ck_assert_int_eq(id_ca_sign(iss, key, ID, now, &lt, &leaf), ID_OK);
    X509 *c = d2i_cert(leaf.der, leaf.der_len);
    ck_assert_msg(mesh_pki_verify(c, chain, p.anchors, now, err, sizeof(err)) == 0, "%s", err);
    X509_free(c);
    id_leaf_free(&leaf);
    EVP_PKEY_free(key);
    id_issuer_unref(iss);
    sk_X509_pop_free(chain, X509_free);
    EVP_PKEY_free(sk);
    EVP_PKEY_free(ik);
    idfix_pki_free(&p);
}
END_TEST

/* A reference taken before a swap keeps signing after the owner drops it. */
START_TEST(test_ca_issuer_refcount)
{
    time_t now = time(NULL);
    idfix_pki_t p;
    idfix_pki_make(&p, now, 365 * DAY, 30 * DAY);
    id_issuer_t *cur = make_issuer(&p);
    id_issuer_t *mine = id_issuer_ref(cur);
    id_issuer_unref(cur); /* the service swapped it out */
    idfix_pki_free(&p);   /* and the loader's objects are gone too */
    EVP_PKEY *key = mesh_pki_key_generate_p256();
    id_lifetime_t lt = {DAY, 20};
    id_leaf_t leaf;
    ck_assert_int_eq(id_ca_sign(mine, key, ID, now, &lt, &leaf), ID_OK);
    id_leaf_free(&leaf);
    id_issuer_unref(mine);
    id_issuer_unref(NULL);
    EVP_PKEY_free(key);
}
END_TEST

START_TEST(test_ca_issuer_load_files)
{
    time_t now = time(NULL);
    char dir[] = "/tmp/idtest-XXXXXX", path[256], err[256];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    idfix_pki_t p;
    idfix_pki_make(&p, now, 365 * DAY, 30 * DAY);
    snprintf(path, sizeof(path), "%s/tls.crt", dir);
    idfix_write_cert(path, p.issuer);
    snprintf(path, sizeof(path), "%s/tls.key", dir);
    idfix_write_key(path, p.issuer_key);
    snprintf(path, sizeof(path), "%s/ca-bundle.crt", dir);
    idfix_write_cert(path, p.anchor);
    id_issuer_t *iss = NULL;
    /* linkerd.io/tls names are absent here. */
    ck_assert_int_eq(id_issuer_load(dir, ID_SCHEME_LINKERD, path, now, &iss, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "crt.pem") != NULL, "%s", err);
    ck_assert_int_eq(id_issuer_load(dir, ID_SCHEME_K8S, path, now, &iss, err, sizeof(err)), 0);
    id_issuer_unref(iss);
    id_scheme_t s;
    ck_assert_int_eq(id_scheme_parse("kubernetes.io/tls", &s), 0);
    ck_assert_int_eq(s, ID_SCHEME_K8S);
    ck_assert_int_eq(id_scheme_parse("linkerd.io/tls", &s), 0);
    ck_assert_int_eq(s, ID_SCHEME_LINKERD);
    ck_assert_int_eq(id_scheme_parse("tls", &s), -1);
    /* A garbage key file. */
    snprintf(path, sizeof(path), "%s/tls.key", dir);
    FILE *f = fopen(path, "w");
    fputs("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", f);
    fclose(f);
    snprintf(path, sizeof(path), "%s/ca-bundle.crt", dir);
    ck_assert_int_eq(id_issuer_load(dir, ID_SCHEME_K8S, path, now, &iss, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "tls.key") != NULL, "%s", err);
    const char *names[] = {"tls.crt", "tls.key", "ca-bundle.crt"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
    idfix_pki_free(&p);
}
END_TEST

/* Identities are routinely longer than X.509's 64-byte CN bound; they must
 * still sign (OpenSSL's string table would refuse them by default). */
START_TEST(test_ca_sign_long_identity)
{
    const char *long_id = "cmesh-destination.some-long-namespace.serviceaccount.identity.cmesh.cluster.local";
    ck_assert_int_gt(strlen(long_id), 64);
    time_t now = time(NULL);
    idfix_pki_t p;
    idfix_pki_make(&p, now, 365 * DAY, 30 * DAY);
    id_issuer_t *iss = make_issuer(&p);
    idfix_csr_t spec = {IDFIX_P256, long_id, NULL, 0, 0};
    char san[200];
    snprintf(san, sizeof(san), "DNS:%s", long_id);
    spec.san = san;
    size_t len;
    unsigned char *der = idfix_csr_der(&spec, &len, NULL);
    X509_REQ *req = NULL;
    ck_assert_int_eq(id_csr_check(der, len, long_id, &req, NULL), ID_OK);
    EVP_PKEY *pub = X509_REQ_get_pubkey(req);
    id_lifetime_t lt = {DAY, 20};
    id_leaf_t leaf;
    ck_assert_int_eq(id_ca_sign(iss, pub, long_id, now, &lt, &leaf), ID_OK);
    X509 *c = d2i_cert(leaf.der, leaf.der_len);
    ck_assert_int_eq(X509_check_host(c, long_id, 0, 0, NULL), 1);
    X509_free(c);
    id_leaf_free(&leaf);
    EVP_PKEY_free(pub);
    X509_REQ_free(req);
    free(der);
    id_issuer_unref(iss);
    idfix_pki_free(&p);
}
END_TEST

struct csr_case {
    const char *name;
    idfix_csr_t spec;
    id_code_t want;
};

static const struct csr_case csr_cases[] = {
    {"good", {IDFIX_P256, ID, "DNS:" ID, 0, 0}, ID_OK},
    {"good without CN", {IDFIX_P256, NULL, "DNS:" ID, 0, 0}, ID_OK},
    {"bad signature", {IDFIX_P256, ID, "DNS:" ID, 0, 1}, ID_INVALID_ARGUMENT},
    {"other CN", {IDFIX_P256, "evil.ns.serviceaccount.identity.cmesh.cluster.local", "DNS:" ID, 0, 0},
     ID_FAILED_PRECONDITION},
    {"other SAN", {IDFIX_P256, ID, "DNS:evil.ns.serviceaccount.identity.cmesh.cluster.local", 0, 0},
     ID_FAILED_PRECONDITION},
    {"extra DNS SAN", {IDFIX_P256, ID, "DNS:" ID ",DNS:other.example", 0, 0}, ID_FAILED_PRECONDITION},
    {"extra IP SAN", {IDFIX_P256, ID, "DNS:" ID ",IP:10.0.0.1", 0, 0}, ID_FAILED_PRECONDITION},
    {"extra URI SAN", {IDFIX_P256, ID, "DNS:" ID ",URI:spiffe://cluster.local/ns/a/sa/b", 0, 0},
     ID_FAILED_PRECONDITION},
    {"extra email SAN", {IDFIX_P256, ID, "DNS:" ID ",email:a@b.c", 0, 0}, ID_FAILED_PRECONDITION},
    {"only IP SAN", {IDFIX_P256, ID, "IP:10.0.0.1", 0, 0}, ID_FAILED_PRECONDITION},
    {"no SAN", {IDFIX_P256, ID, NULL, 0, 0}, ID_FAILED_PRECONDITION},
    {"P-384 key", {IDFIX_P384, ID, "DNS:" ID, 0, 0}, ID_FAILED_PRECONDITION},
    {"RSA key", {IDFIX_RSA, ID, "DNS:" ID, 0, 0}, ID_FAILED_PRECONDITION},
    {"CA:true", {IDFIX_P256, ID, "DNS:" ID, 1, 0}, ID_FAILED_PRECONDITION},
};

START_TEST(test_ca_csr_matrix)
{
    const struct csr_case *c = &csr_cases[_i];
    size_t len;
    unsigned char *der = idfix_csr_der(&c->spec, &len, NULL);
    X509_REQ *req = NULL;
    const char *why = NULL;
    id_code_t got = id_csr_check(der, len, ID, &req, &why);
    ck_assert_msg(got == c->want, "%s: got %s (%s), want %s", c->name, id_code_name(got),
                  why ? why : "", id_code_name(c->want));
    if (got == ID_OK) {
        ck_assert_ptr_nonnull(req);
        X509_REQ_free(req);
    } else {
        ck_assert_ptr_null(req);
        ck_assert_ptr_nonnull(why);
    }
    free(der);
}
END_TEST

START_TEST(test_ca_csr_bytes)
{
    X509_REQ *req;
    const char *why;
    idfix_csr_t good = {IDFIX_P256, ID, "DNS:" ID, 0, 0};
    size_t len;
    unsigned char *der = idfix_csr_der(&good, &len, NULL);
    ck_assert_int_eq(id_csr_check(NULL, 0, ID, &req, &why), ID_INVALID_ARGUMENT);
    ck_assert_int_eq(id_csr_check(der, 0, ID, &req, &why), ID_INVALID_ARGUMENT);
    /* Truncated and with trailing garbage. */
    ck_assert_int_eq(id_csr_check(der, len - 1, ID, &req, &why), ID_INVALID_ARGUMENT);
    unsigned char *longer = malloc(len + 1);
    memcpy(longer, der, len);
    longer[len] = 0;
    ck_assert_int_eq(id_csr_check(longer, len + 1, ID, &req, &why), ID_INVALID_ARGUMENT);
    ck_assert_str_eq(why, "trailing bytes after the DER CSR");
    /* PEM is not DER. */
    const char pem[] = "-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n";
    ck_assert_int_eq(id_csr_check((const unsigned char *)pem, sizeof(pem) - 1, ID, &req, &why),
                     ID_INVALID_ARGUMENT);
    /* A certificate is not a CSR. */
    time_t now = time(NULL);
    idfix_pki_t p;
    idfix_pki_make(&p, now, DAY, DAY);
    size_t clen;
    unsigned char *cder = mesh_pki_cert_der(p.issuer, &clen);
    ck_assert_int_eq(id_csr_check(cder, clen, ID, &req, &why), ID_INVALID_ARGUMENT);
    mesh_free(cder);
    idfix_pki_free(&p);
    /* Oversized. */
    unsigned char *big = calloc(1, ID_CSR_MAX + 1);
    ck_assert_int_eq(id_csr_check(big, ID_CSR_MAX + 1, ID, &req, &why), ID_INVALID_ARGUMENT);
    ck_assert_str_eq(why, "CSR too large");
    /* The same good CSR asked for another identity. */
    ck_assert_int_eq(id_csr_check(der, len, "web.other.serviceaccount.identity.cmesh.cluster.local",
                                  &req, &why), ID_FAILED_PRECONDITION);
    ck_assert_int_eq(id_csr_check(der, len, ID, &req, &why), ID_OK);
    X509_REQ_free(req);
    free(big);
    free(longer);
    free(der);
}
END_TEST

Suite *ca_suite(void)
{
    Suite *s = suite_create("ca");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_ca_sign_leaf_template);
    tcase_add_test(tc, test_ca_sign_clamps_to_chain);
    tcase_add_test(tc, test_ca_sign_long_identity);
    tcase_add_test(tc, test_ca_issuer_refusals);
    tcase_add_test(tc, test_ca_issuer_intermediate_chain);
    tcase_add_test(tc, test_ca_issuer_refcount);
    tcase_add_test(tc, test_ca_issuer_load_files);
    tcase_add_loop_test(tc, test_ca_csr_matrix, 0, (int)MESH_ARRAY_LEN(csr_cases));
    tcase_add_test(tc, test_ca_csr_bytes);
    suite_add_tcase(s, tc);
    return s;
}
