/* Fixtures for identity tests; see idfix.h. */
#include "idfix.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "identity.pb-c.h"
#include "mesh/pki.h"

void idfix_pki_make(idfix_pki_t *p, time_t now, long anchor_life, long issuer_life)
{
    char err[256] = "";
    memset(p, 0, sizeof(*p));
    p->anchor_key = mesh_pki_key_generate_p256();
    p->issuer_key = mesh_pki_key_generate_p256();
    ck_assert_ptr_nonnull(p->anchor_key);
    ck_assert_ptr_nonnull(p->issuer_key);
    mesh_pki_cert_spec_t a = {"root.linkerd.cluster.local", NULL, 0, 1, -1, now - 3600, now + anchor_life};
    p->anchor = mesh_pki_cert_make(&a, p->anchor_key, NULL, p->anchor_key, err, sizeof(err));
    ck_assert_msg(p->anchor != NULL, "%s", err);
    mesh_pki_cert_spec_t i = {"identity.linkerd.cluster.local", NULL, 0, 1, 0, now - 60, now + issuer_life};
    p->issuer = mesh_pki_cert_make(&i, p->issuer_key, p->anchor, p->anchor_key, err, sizeof(err));
    ck_assert_msg(p->issuer != NULL, "%s", err);
    p->anchors = sk_X509_new_null();
    p->chain = sk_X509_new_null();
    sk_X509_push(p->anchors, p->anchor);
    X509_up_ref(p->anchor);
    sk_X509_push(p->chain, p->issuer);
    X509_up_ref(p->issuer);
}

void idfix_pki_free(idfix_pki_t *p)
{
    EVP_PKEY_free(p->anchor_key);
    EVP_PKEY_free(p->issuer_key);
    X509_free(p->anchor);
    X509_free(p->issuer);
    sk_X509_pop_free(p->anchors, X509_free);
    sk_X509_pop_free(p->chain, X509_free);
    memset(p, 0, sizeof(*p));
}

static EVP_PKEY *make_key(enum idfix_key t)
{
    switch (t) {
    case IDFIX_P256: return EVP_EC_gen("P-256");
    case IDFIX_P384: return EVP_EC_gen("P-384");
    case IDFIX_RSA: return EVP_RSA_gen(2048);
    }
    return NULL;
}

unsigned char *idfix_csr_der(const idfix_csr_t *spec, size_t *len, EVP_PKEY **keyp)
{
    EVP_PKEY *key = make_key(spec->key_type);
    ck_assert_ptr_nonnull(key);
    X509_REQ *req = X509_REQ_new();
    ck_assert_ptr_nonnull(req);
    X509_REQ_set_version(req, 0);
    X509_NAME *name = X509_REQ_get_subject_name(req);
    if (spec->cn)
        ck_assert(X509_NAME_add_entry_by_txt(name, "CN", V_ASN1_UTF8STRING, (const unsigned char *)spec->cn, -1, -1, 0));
    X509_REQ_set_pubkey(req, key);
    STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
    if (spec->san) {
        X509_EXTENSION *ex = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, spec->san);
        ck_assert_msg(ex != NULL, "bad SAN spec %s", spec->san);
        sk_X509_EXTENSION_push(exts, ex);
    }
    if (spec->ca) {
        X509_EXTENSION *ex = X509V3_EXT_conf_nid(NULL, NULL, NID_basic_constraints, "critical,CA:TRUE");
        ck_assert_ptr_nonnull(ex);
        sk_X509_EXTENSION_push(exts, ex);
    }
    if (sk_X509_EXTENSION_num(exts) > 0)
        ck_assert(X509_REQ_add_extensions(req, exts));
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    ck_assert(X509_REQ_sign(req, key, EVP_sha256()) > 0);
    if (spec->corrupt_sig) {
        const ASN1_BIT_STRING *sig;
        X509_REQ_get0_signature(req, &sig, NULL);
        /* The last byte of the DER signature belongs to s: flipping it keeps
         * the structure valid but breaks the signature. */
        unsigned char *d = (unsigned char *)ASN1_STRING_get0_data(sig);
        d[ASN1_STRING_length(sig) - 1] ^= 0x01;
    }
    int n = i2d_X509_REQ(req, NULL);
    ck_assert_int_gt(n, 0);
    unsigned char *der = malloc((size_t)n), *p = der;
    ck_assert_int_eq(i2d_X509_REQ(req, &p), n);
    *len = (size_t)n;
    X509_REQ_free(req);
    if (keyp)
        *keyp = key;
    else
        EVP_PKEY_free(key);
    return der;
}

uint8_t *idfix_request(const char *identity, const char *token, const unsigned char *csr,
                       size_t csr_len, size_t *len)
{
    Io__Linkerd__Proxy__Identity__CertifyRequest r = IO__LINKERD__PROXY__IDENTITY__CERTIFY_REQUEST__INIT;
    r.identity = (char *)(identity ? identity : "");
    r.token.data = (uint8_t *)token;
    r.token.len = token ? strlen(token) : 0;
    r.certificate_signing_request.data = (uint8_t *)csr;
    r.certificate_signing_request.len = csr_len;
    *len = io__linkerd__proxy__identity__certify_request__get_packed_size(&r);
    uint8_t *out = malloc(*len ? *len : 1);
    io__linkerd__proxy__identity__certify_request__pack(&r, out);
    return out;
}

void idfix_write_cert(const char *path, X509 *c)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    PEM_write_X509(f, c);
    fclose(f);
}

void idfix_write_key(const char *path, EVP_PKEY *k)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
    fclose(f);
}
