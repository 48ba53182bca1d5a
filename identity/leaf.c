/*
 * Leaf signing: the certificate's DER is written from a template around the
 * few per-request fields, hashed and signed, with no X509 objects involved
 * (building and encoding those costs OpenSSL 3.0 several times the
 * signature itself). The shape is the one fixed in id/ca.h.
 */
#include "id/ca.h"

#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "id/der.h"
#include "id_issuer.h"
#include "mesh/mem.h"

/* Room for the per-request parts besides the issuer name, the key and the
 * fixed extensions: version, serial, algorithm, validity, subject, SAN and
 * every header (the identity is at most ID_NAME_MAX bytes, twice). */
#define LEAF_FIXED_ROOM (2 * ID_NAME_MAX + 256)
/* An ECDSA signature in DER: up to P-521 (139 bytes). */
#define SIG_MAX 160
#define SERIAL_LEN 16

static const uint8_t VERSION_3[] = {0xa0, 0x03, 0x02, 0x01, 0x02};
static const uint8_t ALG_ECDSA_SHA256[] = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48,
                                           0xce, 0x3d, 0x04, 0x03, 0x02};
static const uint8_t OID_CN[] = {0x06, 0x03, 0x55, 0x04, 0x03};
static const uint8_t OID_SAN[] = {0x06, 0x03, 0x55, 0x1d, 0x11};

void id_leaf_free(id_leaf_t *leaf)
{
    MESH_FREE(&leaf->der);
    leaf->der_len = 0;
}

/* RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050 (what
 * ASN1_TIME_set picks too); always in UTC with seconds and a Z. */
static int put_time(id_der_out_t *o, time_t t)
{
    struct tm tm;
    char s[24];
    if (gmtime_r(&t, &tm) == NULL)
        return -1;
    int year = tm.tm_year + 1900;
    int n;
    if (year >= 1950 && year < 2050)
        n = snprintf(s, sizeof(s), "%02d%02d%02d%02d%02d%02dZ", year % 100, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec);
    else if (year >= 0 && year <= 9999)
        n = snprintf(s, sizeof(s), "%04d%02d%02d%02d%02d%02dZ", year, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec);
    else
        return -1;
    id_der_put_tlv(o, year < 2050 ? ID_DER_UTCTIME : ID_DER_GENERALIZEDTIME, s, (size_t)n);
    return 0;
}

/* Writes the TBSCertificate into `o`. */
static int put_tbs(id_der_out_t *o, const id_issuer_t *iss, const unsigned char *spki, size_t spki_len,
                   const char *identity, time_t nb, time_t na)
{
    size_t idlen = strlen(identity);
    uint8_t serial[SERIAL_LEN];
    if (RAND_bytes(serial, sizeof(serial)) != 1)
        return -1;
    serial[0] &= 0x7f; /* positive */
    serial[0] |= 0x01; /* never zero, so the INTEGER is always 16 bytes (minimal) */

    uint8_t vbuf[48];
    id_der_out_t v = {vbuf, sizeof(vbuf), 0, 0};
    if (put_time(&v, nb) != 0 || put_time(&v, na) != 0 || v.err)
        return -1;

    /* Subject: one RDN holding CN = identity as a UTF8String. */
    size_t cn_val = id_der_header_len(idlen) + idlen;
    size_t atv = sizeof(OID_CN) + cn_val;
    size_t rdn = id_der_header_len(atv) + atv;
    size_t name = id_der_header_len(rdn) + rdn;

    /* SAN: GeneralNames holding one dNSName [2] IA5String. */
    size_t gn = id_der_header_len(idlen) + idlen;
    size_t gns = id_der_header_len(gn) + gn;
    size_t octets = id_der_header_len(gns) + gns;
    size_t san = sizeof(OID_SAN) + octets;

    size_t subj_len, fixed_len;
    const unsigned char *subj = id__issuer_subject_der(iss, &subj_len);
    const unsigned char *fixed = id__issuer_exts_der(iss, &fixed_len);
    size_t exts = fixed_len + id_der_header_len(san) + san;
    size_t exts_seq = id_der_header_len(exts) + exts;

    size_t tbs = sizeof(VERSION_3) + 2 + SERIAL_LEN + sizeof(ALG_ECDSA_SHA256) + subj_len +
                 id_der_header_len(v.len) + v.len + id_der_header_len(name) + name + spki_len +
                 id_der_header_len(exts_seq) + exts_seq;

    id_der_put_header(o, ID_DER_SEQUENCE, tbs);
    id_der_put(o, VERSION_3, sizeof(VERSION_3));
    id_der_put_tlv(o, ID_DER_INTEGER, serial, sizeof(serial));
    id_der_put(o, ALG_ECDSA_SHA256, sizeof(ALG_ECDSA_SHA256));
    id_der_put(o, subj, subj_len);
    id_der_put_tlv(o, ID_DER_SEQUENCE, v.buf, v.len);
    id_der_put_header(o, ID_DER_SEQUENCE, name);
    id_der_put_header(o, ID_DER_SET, rdn);
    id_der_put_header(o, ID_DER_SEQUENCE, atv);
    id_der_put(o, OID_CN, sizeof(OID_CN));
    id_der_put_tlv(o, ID_DER_UTF8STRING, identity, idlen);
    id_der_put(o, spki, spki_len);
    id_der_put_header(o, ID_DER_CTX_CONS(3), exts_seq);
    id_der_put_header(o, ID_DER_SEQUENCE, exts);
    id_der_put(o, fixed, fixed_len);
    id_der_put_header(o, ID_DER_SEQUENCE, san);
    id_der_put(o, OID_SAN, sizeof(OID_SAN));
    id_der_put_header(o, ID_DER_OCTET_STRING, gns);
    id_der_put_header(o, ID_DER_SEQUENCE, gn);
    id_der_put_tlv(o, ID_DER_CTX_PRIM(2), identity, idlen);
    return o->err ? -1 : 0;
}

id_code_t id_ca_sign_spki(const id_issuer_t *iss, const unsigned char *spki, size_t spki_len,
                          const char *identity, time_t now, const id_lifetime_t *lt, id_leaf_t *out)
{
    out->der = NULL;
    out->der_len = 0;
    if (!id_issuer_usable(iss, now))
        return ID_UNAVAILABLE;
    if (strlen(identity) > ID_NAME_MAX || lt->lifetime <= 0 || lt->skew < 0 || spki_len == 0 ||
        spki_len > ID_SPKI_MAX)
        return ID_INTERNAL;
    time_t nb = now - (time_t)lt->skew;
    time_t na = now + (time_t)lt->lifetime + (time_t)lt->skew;
    if (na > id_issuer_not_after(iss))
        na = id_issuer_not_after(iss);

    size_t subj_len, fixed_len;
    id__issuer_subject_der(iss, &subj_len);
    id__issuer_exts_der(iss, &fixed_len);
    size_t cap = LEAF_FIXED_ROOM + subj_len + fixed_len + spki_len + sizeof(ALG_ECDSA_SHA256) + SIG_MAX;
    /* The TBS is written after room for the outer header (at most 6 bytes)
     * so the certificate is assembled in place. */
    uint8_t *buf = mesh_malloc(cap);
    if (buf == NULL)
        return ID_INTERNAL;
    enum { HDR_ROOM = 6 };
    id_der_out_t tbs = {buf + HDR_ROOM, cap - HDR_ROOM, 0, 0};
    unsigned char md[SHA256_DIGEST_LENGTH], sig[SIG_MAX];
    size_t siglen = sizeof(sig);
    if (put_tbs(&tbs, iss, spki, spki_len, identity, nb, na) != 0)
        goto fail;
    SHA256(tbs.buf, tbs.len, md);
    if (id__issuer_sign_digest(iss, md, sizeof(md), sig, &siglen) != 0)
        goto fail;
    size_t body = tbs.len + sizeof(ALG_ECDSA_SHA256) + id_der_header_len(siglen + 1) + siglen + 1;
    size_t hl = id_der_header_len(body);
    id_der_out_t cert = {buf + HDR_ROOM - hl, cap - HDR_ROOM + hl, 0, 0};
    id_der_put_header(&cert, ID_DER_SEQUENCE, body);
    cert.len += tbs.len; /* already in place */
    id_der_put(&cert, ALG_ECDSA_SHA256, sizeof(ALG_ECDSA_SHA256));
    id_der_put_header(&cert, ID_DER_BIT_STRING, siglen + 1);
    id_der_put(&cert, "", 1); /* no unused bits */
    id_der_put(&cert, sig, siglen);
    if (cert.err)
        goto fail;
    memmove(buf, cert.buf, cert.len);
    out->der = buf;
    out->der_len = cert.len;
    out->not_after = na;
    return ID_OK;
fail:
    mesh_free(buf);
    ERR_clear_error();
    return ID_INTERNAL;
}

id_code_t id_ca_sign_cert(const id_issuer_t *iss, EVP_PKEY *pub, const char *identity, time_t now,
                          const id_lifetime_t *lt, id_leaf_t *out, X509 **cert)
{
    out->der = NULL;
    out->der_len = 0;
    if (cert != NULL)
        *cert = NULL;
    unsigned char spki[ID_SPKI_MAX], *p = spki;
    int n = i2d_PUBKEY(pub, NULL);
    if (n <= 0 || (size_t)n > sizeof(spki) || i2d_PUBKEY(pub, &p) != n) {
        ERR_clear_error();
        return id_issuer_usable(iss, now) ? ID_INTERNAL : ID_UNAVAILABLE;
    }
    id_code_t code = id_ca_sign_spki(iss, spki, (size_t)n, identity, now, lt, out);
    if (code != ID_OK || cert == NULL)
        return code;
    const unsigned char *q = out->der;
    *cert = d2i_X509(NULL, &q, (long)out->der_len);
    if (*cert == NULL) {
        id_leaf_free(out);
        ERR_clear_error();
        return ID_INTERNAL;
    }
    return ID_OK;
}

id_code_t id_ca_sign(const id_issuer_t *iss, EVP_PKEY *pub, const char *identity, time_t now,
                     const id_lifetime_t *lt, id_leaf_t *out)
{
    return id_ca_sign_cert(iss, pub, identity, now, lt, out, NULL);
}
