/*
 * mesh/pki.h - small OpenSSL 3 helpers shared by the identity service, the CLI
 * and (later) the proxy: load certificates and keys from PEM, make ECDSA P-256
 * keys and certificates, verify a chain against trust anchors.
 *
 * Ownership: every function returning an OpenSSL object returns a new
 * reference the caller frees (X509_free, EVP_PKEY_free,
 * sk_X509_pop_free(s, X509_free)). Inputs are borrowed.
 *
 * Errors: functions that can fail take `err`/`errlen` and write one line of
 * explanation there (never logged here); they return NULL or -1.
 * The OpenSSL error queue is cleared before returning so that a later caller
 * does not read stale entries.
 */
#ifndef MESH_PKI_H
#define MESH_PKI_H

#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/* Largest PEM file we read (an anchor bundle of a few hundred certificates). */
#define MESH_PKI_PEM_MAX (1024 * 1024)

/* Every certificate in a PEM file / buffer, in file order. At least one
 * certificate must be present, else NULL with "no certificate in ...". */
STACK_OF(X509) *mesh_pki_certs_load(const char *path, char *err, size_t errlen);
STACK_OF(X509) *mesh_pki_certs_parse(const char *pem, size_t len, char *err, size_t errlen);

/* The private key of a PEM file / buffer (PKCS#8, SEC1 or PKCS#1; not
 * encrypted). */
EVP_PKEY *mesh_pki_key_load(const char *path, char *err, size_t errlen);
EVP_PKEY *mesh_pki_key_parse(const char *pem, size_t len, char *err, size_t errlen);

/* A fresh ECDSA key on P-256 (prime256v1); NULL on failure. */
EVP_PKEY *mesh_pki_key_generate_p256(void);

/* 1 when `key` is an EC key on P-256 with a named curve, else 0. */
int mesh_pki_key_is_p256(const EVP_PKEY *key);

/* 1 when `key` is the private half of the public key in `cert`, else 0. */
int mesh_pki_key_matches(X509 *cert, EVP_PKEY *key);

/* Sets a random positive 128-bit serial number; 0 or -1. */
int mesh_pki_set_random_serial(X509 *cert);

/* What mesh_pki_cert_make builds. */
typedef struct mesh_pki_cert_spec {
    const char *common_name;  /* subject CN (required) */
    const char *const *dns;   /* DNS SANs, `ndns` of them (may be 0) */
    size_t ndns;
    int is_ca;                /* CA:TRUE + keyCertSign/cRLSign, else a TLS leaf */
    int path_len;             /* CA only: pathLenConstraint, -1 for none */
    time_t not_before;        /* absolute times */
    time_t not_after;
} mesh_pki_cert_spec_t;

/* A certificate for `pub` (its public key is used) signed by `signer_key`,
 * with `signer` as issuer, or self-signed when signer is NULL (then
 * signer_key must be the key of `pub`). ECDSA-SHA256 (or SHA256 with RSA). A
 * leaf gets KeyUsage digitalSignature+keyEncipherment and EKU
 * serverAuth+clientAuth; both get SKI/AKI. */
X509 *mesh_pki_cert_make(const mesh_pki_cert_spec_t *spec, EVP_PKEY *pub, X509 *signer,
                         EVP_PKEY *signer_key, char *err, size_t errlen);

/* Verifies `cert` up to one of `anchors`, with `untrusted` (may be NULL) as
 * intermediates, at time `at` (0: now). Purpose is not checked. 0, or -1 with
 * the OpenSSL reason in err. */
int mesh_pki_verify(X509 *cert, STACK_OF(X509) *untrusted, STACK_OF(X509) *anchors, time_t at,
                    char *err, size_t errlen);

/* The certificate's NotAfter / NotBefore as a time_t; -1 when unreadable. */
time_t mesh_pki_not_after(const X509 *cert);
time_t mesh_pki_not_before(const X509 *cert);

/* 1 when basicConstraints says CA:TRUE. */
int mesh_pki_is_ca(X509 *cert);

/* PEM text of a certificate / a private key (PKCS#8) into a mesh_malloc'd
 * NUL-terminated string; NULL on failure. */
char *mesh_pki_cert_pem(X509 *cert, size_t *len);
char *mesh_pki_key_pem(EVP_PKEY *key, size_t *len);

/* DER encoding of a certificate into a mesh_malloc'd buffer. */
unsigned char *mesh_pki_cert_der(X509 *cert, size_t *len);

/* Writes `data` to `path` through a temporary file and rename(2), with the
 * given mode (0600 for keys). 0 or -1 (errno kept). */
int mesh_pki_write_file(const char *path, const char *data, size_t len, int mode);

#endif
