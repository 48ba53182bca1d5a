/*
 * The CSR fast path: a strict walk over the DER of a PKCS#10 request shaped
 * the way proxies send it (P-256 key, ecdsa-with-SHA256, printable subject,
 * one extensionRequest), with the signature checked on a key built straight
 * from the point. OpenSSL 3.0 spends most of a Certify in d2i_X509_REQ and
 * its key decoders; this walk costs a few microseconds.
 *
 * Anything outside that shape is not judged here: the caller falls back to
 * id_csr_check (OpenSSL's parser), so both paths agree on every verdict the
 * fast path gives (the differential fuzz target checks exactly that).
 */
#include "id/ca.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "id/der.h"

/* id-ecPublicKey + prime256v1, then the BIT STRING header of an uncompressed
 * point: the first 27 bytes of every named-curve P-256 SPKI (RFC 5480). */
static const uint8_t P256_SPKI_PREFIX[] = {
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06,
    0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04,
};
#define P256_SPKI_LEN 91
/* AlgorithmIdentifier ecdsa-with-SHA256, parameters absent (RFC 5758 3.2). */
static const uint8_t ECDSA_SHA256_ALG[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02};
static const uint8_t OID_CN[] = {0x55, 0x04, 0x03};
static const uint8_t OID_EXT_REQ[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x0e};
static const uint8_t OID_SAN[] = {0x55, 0x1d, 0x11};
static const uint8_t OID_BC[] = {0x55, 0x1d, 0x13};
static const uint8_t VERSION_1[] = {0x00};
static const uint8_t BC_EMPTY[] = {0x30, 0x00};

#define FALLBACK ID_CSR_FALLBACK

/* A name value we can judge without OpenSSL's string canonicalisation: one
 * of the string types proxies use, printable ASCII only. */
static int plain_string(const id_der_tlv_t *v)
{
    if (v->tag != ID_DER_UTF8STRING && v->tag != ID_DER_PRINTABLESTRING && v->tag != ID_DER_IA5STRING)
        return 0;
    for (size_t i = 0; i < v->content.len; i++)
        if (v->content.p[i] < 0x20 || v->content.p[i] > 0x7e)
            return 0;
    return 1;
}

/* Walks the subject; *cn gets the CN value (len 0 when none), *ncn their
 * count. 0, or FALLBACK. */
static int walk_subject(id_der_t name, id_der_t *cn, int *ncn)
{
    *ncn = 0;
    cn->p = NULL;
    cn->len = 0;
    while (name.len > 0) {
        id_der_t rdn;
        if (id_der_expect(&name, ID_DER_SET, &rdn, NULL) != 0 || rdn.len == 0)
            return FALLBACK;
        while (rdn.len > 0) {
            id_der_t atv, oid;
            id_der_tlv_t val;
            if (id_der_expect(&rdn, ID_DER_SEQUENCE, &atv, NULL) != 0 ||
                id_der_expect(&atv, ID_DER_OID, &oid, NULL) != 0 || !id_der_oid_valid(&oid) ||
                id_der_read(&atv, &val) != 0 || atv.len != 0 || !plain_string(&val))
                return FALLBACK;
            if (id_der_eq(&oid, OID_CN, sizeof(OID_CN))) {
                if (++*ncn == 1)
                    *cn = val.content;
            }
        }
    }
    return 0;
}

/* The fields of one extension, when its shape is plain. */
typedef struct ext {
    id_der_t oid;
    id_der_t value; /* contents of the extnValue OCTET STRING */
} ext_t;

static int read_ext(id_der_t *exts, ext_t *e)
{
    id_der_t ext, crit;
    if (id_der_expect(exts, ID_DER_SEQUENCE, &ext, NULL) != 0 ||
        id_der_expect(&ext, ID_DER_OID, &e->oid, NULL) != 0 || !id_der_oid_valid(&e->oid))
        return FALLBACK;
    /* DER encodes a FALSE critical flag by leaving it out (X.690 11.5). */
    if (id_der_expect(&ext, ID_DER_BOOLEAN, &crit, NULL) == 0 && !id_der_eq(&crit, "\xff", 1))
        return FALLBACK;
    if (id_der_expect(&ext, ID_DER_OCTET_STRING, &e->value, NULL) != 0 || ext.len != 0)
        return FALLBACK;
    return 0;
}

/* The attributes: none, or exactly one extensionRequest with one value.
 * *exts gets the contents of its SEQUENCE OF Extension (len 0 when none). */
static int walk_attributes(id_der_t attrs, id_der_t *exts)
{
    exts->p = NULL;
    exts->len = 0;
    if (attrs.len == 0)
        return 0;
    id_der_t attr, oid, values;
    if (id_der_expect(&attrs, ID_DER_SEQUENCE, &attr, NULL) != 0 || attrs.len != 0 ||
        id_der_expect(&attr, ID_DER_OID, &oid, NULL) != 0 ||
        !id_der_eq(&oid, OID_EXT_REQ, sizeof(OID_EXT_REQ)) ||
        id_der_expect(&attr, ID_DER_SET, &values, NULL) != 0 || attr.len != 0 ||
        id_der_expect(&values, ID_DER_SEQUENCE, exts, NULL) != 0 || values.len != 0)
        return FALLBACK;
    /* Check the shape of every extension before judging any, so that a
     * verdict is never given on a request OpenSSL would not parse. */
    id_der_t cur = *exts;
    int nsan = 0;
    while (cur.len > 0) {
        ext_t e;
        if (read_ext(&cur, &e) != 0)
            return FALLBACK;
        if (id_der_eq(&e.oid, OID_SAN, sizeof(OID_SAN))) {
            id_der_t seq = e.value, names;
            id_der_tlv_t gn;
            /* Exactly one dNSName; any other form is for OpenSSL to judge. */
            if (++nsan > 1 || id_der_expect(&seq, ID_DER_SEQUENCE, &names, NULL) != 0 || seq.len != 0 ||
                id_der_read(&names, &gn) != 0 || names.len != 0 || gn.tag != ID_DER_CTX_PRIM(2))
                return FALLBACK;
        } else if (id_der_eq(&e.oid, OID_BC, sizeof(OID_BC))) {
            if (!id_der_eq(&e.value, BC_EMPTY, sizeof(BC_EMPTY)))
                return FALLBACK;
        }
    }
    return 0;
}

/* The verdict on names, in id_csr_check's order and words. */
static id_code_t judge_names(const id_der_t *cn, int ncn, id_der_t exts, const char *identity,
                             const char **why)
{
    size_t idlen = strlen(identity);
    /* id_csr_check stops at the first CN that differs, before counting. */
    if (ncn >= 1 && !id_der_eq(cn, identity, idlen)) {
        *why = "CSR subject CN is not the requested identity";
        return ID_FAILED_PRECONDITION;
    }
    if (ncn > 1) {
        *why = "CSR subject has more than one CN";
        return ID_FAILED_PRECONDITION;
    }
    int nsan = 0;
    while (exts.len > 0) {
        ext_t e;
        read_ext(&exts, &e); /* shape checked by walk_attributes */
        if (!id_der_eq(&e.oid, OID_SAN, sizeof(OID_SAN)))
            continue;
        nsan++;
        id_der_t names, dns;
        id_der_expect(&e.value, ID_DER_SEQUENCE, &names, NULL);
        id_der_expect(&names, ID_DER_CTX_PRIM(2), &dns, NULL);
        if (!id_der_eq(&dns, identity, idlen)) {
            *why = "CSR DNS SAN is not the requested identity";
            return ID_FAILED_PRECONDITION;
        }
    }
    if (nsan == 0) {
        *why = "CSR has no SAN; it must name the requested identity";
        return ID_FAILED_PRECONDITION;
    }
    return ID_OK;
}

/* 1 when `sig` is a valid ECDSA-SHA256 signature of `msg` by the P-256 point
 * (65 bytes, uncompressed); 0 when it is not; -1 when the point is not one
 * OpenSSL accepts (not on the curve), which the slow path reports. */
static int verify_p256(const uint8_t *point, const id_der_t *msg, const id_der_t *sig)
{
    uint8_t md[SHA256_DIGEST_LENGTH];
    SHA256(msg->p, msg->len, md);
    int rc = -1;
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *vctx = NULL;
    EVP_PKEY_CTX *kctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)"prime256v1", 0),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)point, 65),
        OSSL_PARAM_construct_end(),
    };
    if (kctx == NULL || EVP_PKEY_fromdata_init(kctx) != 1 ||
        EVP_PKEY_fromdata(kctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
        goto out;
    if ((vctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL)) == NULL || EVP_PKEY_verify_init(vctx) != 1)
        goto out;
    rc = EVP_PKEY_verify(vctx, sig->p, sig->len, md, sizeof(md)) == 1;
out:
    EVP_PKEY_CTX_free(vctx);
    EVP_PKEY_free(pkey);
    EVP_PKEY_CTX_free(kctx);
    ERR_clear_error();
    return rc;
}

int id_csr_check_fast(const unsigned char *der, size_t len, const char *identity, id_csr_key_t *key,
                      const char **why)
{
    const char *dummy;
    if (why == NULL)
        why = &dummy;
    *why = NULL;
    key->len = 0;
    id_der_t in = {der, len}, req, info, info_whole, version, subject, spki, attrs, alg, alg_oid, sig;
    if (id_der_expect(&in, ID_DER_SEQUENCE, &req, NULL) != 0 || in.len != 0 ||
        id_der_expect(&req, ID_DER_SEQUENCE, &info, &info_whole) != 0 ||
        id_der_expect(&req, ID_DER_SEQUENCE, &alg, NULL) != 0 ||
        id_der_expect(&req, ID_DER_BIT_STRING, &sig, NULL) != 0 || req.len != 0)
        return FALLBACK;
    if (id_der_expect(&alg, ID_DER_OID, &alg_oid, NULL) != 0 || alg.len != 0 ||
        !id_der_eq(&alg_oid, ECDSA_SHA256_ALG, sizeof(ECDSA_SHA256_ALG)))
        return FALLBACK;
    /* No unused bits: an ECDSA signature is whole octets. */
    if (sig.len < 2 || sig.p[0] != 0)
        return FALLBACK;
    sig.p++;
    sig.len--;
    if (id_der_expect(&info, ID_DER_INTEGER, &version, NULL) != 0 ||
        !id_der_eq(&version, VERSION_1, sizeof(VERSION_1)) ||
        id_der_expect(&info, ID_DER_SEQUENCE, &subject, NULL) != 0 ||
        id_der_expect(&info, ID_DER_SEQUENCE, NULL, &spki) != 0)
        return FALLBACK;
    /* attributes [0] IMPLICIT SET OF: OpenSSL also reads requests without it. */
    attrs.p = NULL;
    attrs.len = 0;
    if (info.len > 0 && (id_der_expect(&info, ID_DER_CTX_CONS(0), &attrs, NULL) != 0 || info.len != 0))
        return FALLBACK;
    if (spki.len != P256_SPKI_LEN || memcmp(spki.p, P256_SPKI_PREFIX, sizeof(P256_SPKI_PREFIX)) != 0)
        return FALLBACK;
    id_der_t cn, exts;
    int ncn;
    if (walk_subject(subject, &cn, &ncn) != 0 || walk_attributes(attrs, &exts) != 0)
        return FALLBACK;
    /* Proof of possession before any verdict on names, as id_csr_check. */
    int ok = verify_p256(spki.p + sizeof(P256_SPKI_PREFIX) - 1, &info_whole, &sig);
    if (ok < 0)
        return FALLBACK;
    if (ok == 0) {
        *why = "CSR signature does not verify";
        return ID_INVALID_ARGUMENT;
    }
    id_code_t code = judge_names(&cn, ncn, exts, identity, why);
    if (code != ID_OK)
        return code;
    memcpy(key->spki, spki.p, spki.len);
    key->len = spki.len;
    return ID_OK;
}

id_code_t id_csr_verify(const unsigned char *der, size_t len, const char *identity, id_csr_key_t *key,
                        const char **why)
{
    const char *dummy;
    if (why == NULL)
        why = &dummy;
    key->len = 0;
    if (der != NULL && len > 0 && len <= ID_CSR_MAX) {
        int fast = id_csr_check_fast(der, len, identity, key, why);
        if (fast != FALLBACK)
            return (id_code_t)fast;
    }
    X509_REQ *req = NULL;
    id_code_t code = id_csr_check(der, len, identity, &req, why);
    if (code != ID_OK)
        return code;
    /* The slow path took a P-256 key of another encoding (e.g. compressed):
     * the leaf carries the key as OpenSSL re-encodes it. */
    unsigned char *p = key->spki;
    int n = i2d_X509_PUBKEY(X509_REQ_get_X509_PUBKEY(req), NULL);
    if (n <= 0 || (size_t)n > sizeof(key->spki) || i2d_X509_PUBKEY(X509_REQ_get_X509_PUBKEY(req), &p) != n) {
        *why = "CSR public key does not encode";
        code = ID_INTERNAL;
    } else {
        key->len = (size_t)n;
    }
    X509_REQ_free(req);
    ERR_clear_error();
    return code;
}
