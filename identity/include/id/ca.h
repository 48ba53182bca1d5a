/*
 * id/ca.h - the certificate authority core of the identity service.
 *
 * Pure: no sockets, no logging, no clock (callers pass `now`). Three pieces:
 *
 *   id_issuer_t  an immutable, reference-counted issuer (certificate, chain,
 *                key, trust anchors, DER chain ready to send). The daemon
 *                swaps the current pointer under a lock on rotation; a
 *                request that took a reference keeps signing with the issuer
 *                it started with, so a swap never fails a request in flight.
 *   id_csr_check validates a DER PKCS#10 request against the requested name.
 *   id_ca_sign   signs a leaf from a fixed template (never copies CSR
 *                extensions, so a CSR cannot ask for CA:TRUE).
 *
 * Result codes are the gRPC status numbers the service returns, so the
 * server can pass them through unchanged.
 */
#ifndef ID_CA_H
#define ID_CA_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

typedef enum {
    ID_OK = 0,
    ID_INVALID_ARGUMENT = 3,
    ID_FAILED_PRECONDITION = 9,
    ID_INTERNAL = 13,
    ID_UNAVAILABLE = 14,
} id_code_t;

/* "OK", "InvalidArgument", ... */
const char *id_code_name(id_code_t code);

/* Limits on what a client may send. */
#define ID_CSR_MAX 16384        /* DER CSR bytes */
#define ID_TOKEN_MAX 16384      /* ServiceAccount token bytes */
#define ID_NAME_MAX 253         /* a DNS name */

/* How the issuer Secret names its files. */
typedef enum {
    ID_SCHEME_LINKERD = 0, /* linkerd.io/tls: crt.pem + key.pem */
    ID_SCHEME_K8S,         /* kubernetes.io/tls: tls.crt + tls.key */
} id_scheme_t;

/* Parses "linkerd.io/tls" / "kubernetes.io/tls"; 0 or -1. */
int id_scheme_parse(const char *s, id_scheme_t *out);
/* The certificate and key file names of a scheme. */
const char *id_scheme_cert_file(id_scheme_t s);
const char *id_scheme_key_file(id_scheme_t s);

typedef struct id_issuer id_issuer_t;

/*
 * Builds an issuer from its certificate `chain` (the issuer first, then any
 * intermediates up to an anchor), its private `key` and the trust `anchors`.
 * Takes a new reference to every object given (callers keep their own).
 * Checks, in order, each failing with a one-line reason in `err`:
 *   - the certificate is a CA (basicConstraints CA:TRUE);
 *   - the key is the certificate's key;
 *   - the chain verifies against the anchors at `now` (so an expired or
 *     not-yet-valid issuer, intermediate or anchor is refused).
 * Returns 0 with *out holding one reference, or -1.
 */
int id_issuer_new(STACK_OF(X509) *chain, EVP_PKEY *key, STACK_OF(X509) *anchors, time_t now,
                  id_issuer_t **out, char *err, size_t errlen);

/* Reads DIR/<cert file> and DIR/<key file> for `scheme` and the anchors
 * from `anchors_path`, then as id_issuer_new. */
int id_issuer_load(const char *dir, id_scheme_t scheme, const char *anchors_path, time_t now,
                   id_issuer_t **out, char *err, size_t errlen);

/* Reference counting (atomic). unref(NULL) is a no-op. */
id_issuer_t *id_issuer_ref(id_issuer_t *iss);
void id_issuer_unref(id_issuer_t *iss);

/* 1 when the issuer may sign at `now`: inside the validity of the issuer, its
 * chain and the anchor that verified it. */
int id_issuer_usable(const id_issuer_t *iss, time_t now);

/* Earliest NotAfter of the issuer, its intermediates and its anchor. */
time_t id_issuer_not_after(const id_issuer_t *iss);
/* The issuer certificate (borrowed; lives as long as the issuer). */
X509 *id_issuer_cert(const id_issuer_t *iss);
/* The anchors (borrowed). */
STACK_OF(X509) *id_issuer_anchors(const id_issuer_t *iss);
/* The DER chain sent with every leaf, issuer first (borrowed). */
size_t id_issuer_chain_len(const id_issuer_t *iss);
const unsigned char *id_issuer_chain_der(const id_issuer_t *iss, size_t i, size_t *len);
/* SHA-256 of the issuer certificate in hex (65 bytes with NUL). */
const char *id_issuer_fingerprint(const id_issuer_t *iss);

/*
 * Validates a DER CSR for `identity`:
 *   InvalidArgument:    empty, larger than ID_CSR_MAX, not exactly one DER
 *                       PKCS#10 structure, or its signature does not verify
 *                       with its own key (no proof of possession);
 *   FailedPrecondition: a key that is not ECDSA P-256 with a named curve; a
 *                       subject CN other than `identity`; SANs other than
 *                       exactly one DNS name equal to `identity`; any other
 *                       subject attribute type besides CN; a requested
 *                       basicConstraints CA:TRUE.
 * On ID_OK *out holds the request (X509_REQ_free); `why` (may be NULL) gets a
 * static reason string on failure.
 */
id_code_t id_csr_check(const unsigned char *der, size_t len, const char *identity, X509_REQ **out,
                       const char **why);

/* The public key of a checked CSR: its SubjectPublicKeyInfo DER, copied into
 * the leaf as is. 128 bytes hold any encoding of a P-256 key. */
#define ID_SPKI_MAX 128
typedef struct id_csr_key {
    unsigned char spki[ID_SPKI_MAX];
    size_t len;
} id_csr_key_t;

/* Returned by id_csr_check_fast when it leaves the verdict to id_csr_check. */
#define ID_CSR_FALLBACK (-1)

/*
 * The fast path of id_csr_verify: a strict DER walk (id/der.h) that judges
 * only requests of the usual shape (named-curve P-256 key as an uncompressed
 * point, ecdsa-with-SHA256, version 1, printable-ASCII string subject values,
 * no attribute but one extensionRequest whose SAN, if any, is one dNSName and
 * whose basicConstraints, if any, is empty) and returns ID_CSR_FALLBACK for
 * everything else. When it returns a code, it is the code id_csr_check gives
 * (and `why` its reason): InvalidArgument for a bad signature,
 * FailedPrecondition for names, ID_OK with *key filled. Exposed for tests.
 */
int id_csr_check_fast(const unsigned char *der, size_t len, const char *identity, id_csr_key_t *key,
                      const char **why);

/* id_csr_check's verdict, computed by the fast path when it can and by
 * id_csr_check otherwise; on ID_OK *key holds the request's public key. */
id_code_t id_csr_verify(const unsigned char *der, size_t len, const char *identity, id_csr_key_t *key,
                        const char **why);

/* Leaf validity settings (seconds). */
typedef struct id_lifetime {
    int64_t lifetime; /* issuance lifetime, e.g. 86400 */
    int64_t skew;     /* clock skew allowance, e.g. 20 */
} id_lifetime_t;

/* A signed leaf. */
typedef struct id_leaf {
    unsigned char *der; /* mesh_malloc'd; id_leaf_free */
    size_t der_len;
    time_t not_after;
} id_leaf_t;

void id_leaf_free(id_leaf_t *leaf);

/*
 * Signs a leaf for `pub` naming `identity`: serial = 128 random bits,
 * subject CN and the one DNS SAN = identity, KeyUsage digitalSignature +
 * keyEncipherment, EKU serverAuth + clientAuth, CA:FALSE,
 * NotBefore = now - skew, NotAfter = min(now + lifetime + skew,
 * id_issuer_not_after). ECDSA-SHA256 with the issuer key. Returns ID_OK, or
 * ID_UNAVAILABLE when the issuer is not usable at `now`, or ID_INTERNAL.
 */
id_code_t id_ca_sign(const id_issuer_t *iss, EVP_PKEY *pub, const char *identity, time_t now,
                     const id_lifetime_t *lt, id_leaf_t *out);

/* Same as id_ca_sign for a key given as SubjectPublicKeyInfo DER (copied
 * into the leaf unchanged; id_csr_verify checked it). The leaf's DER is
 * written from a template without building X509 objects: version 3, serial,
 * ecdsa-with-SHA256, the issuer's subject as encoded in its certificate,
 * validity (UTCTime through 2049, then GeneralizedTime, as ASN1_TIME_set),
 * subject CN, the key, then basicConstraints, keyUsage, extKeyUsage, the
 * authorityKeyIdentifier when the issuer has an SKI, and the SAN. */
id_code_t id_ca_sign_spki(const id_issuer_t *iss, const unsigned char *spki, size_t spki_len,
                          const char *identity, time_t now, const id_lifetime_t *lt, id_leaf_t *out);

/* Same, and also returns the leaf as an X509 (for the service's own serving
 * certificate). *cert may be NULL to skip. */
id_code_t id_ca_sign_cert(const id_issuer_t *iss, EVP_PKEY *pub, const char *identity, time_t now,
                          const id_lifetime_t *lt, id_leaf_t *out, X509 **cert);

#endif
