/* Test fixtures for the identity service: a CA hierarchy and CSRs built with
 * OpenSSL, so the code under test never builds its own inputs. */
#ifndef TEST_IDFIX_H
#define TEST_IDFIX_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

typedef struct idfix_pki {
    EVP_PKEY *anchor_key;
    X509 *anchor;
    EVP_PKEY *issuer_key;
    X509 *issuer;
    STACK_OF(X509) *anchors; /* {anchor} */
    STACK_OF(X509) *chain;   /* {issuer} */
} idfix_pki_t;

/* Anchor valid [now-3600, now+anchor_life], issuer [now-60, now+issuer_life]. */
void idfix_pki_make(idfix_pki_t *p, time_t now, long anchor_life, long issuer_life);
void idfix_pki_free(idfix_pki_t *p);

enum idfix_key { IDFIX_P256 = 0, IDFIX_P384, IDFIX_RSA };

typedef struct idfix_csr {
    enum idfix_key key_type;
    const char *cn;        /* NULL: no CN */
    const char *san;       /* OpenSSL SAN syntax "DNS:a,IP:1.2.3.4"; NULL: none */
    int ca;                /* add basicConstraints CA:TRUE */
    int corrupt_sig;       /* flip a bit of the signature */
} idfix_csr_t;

/* DER CSR (free with free()); *key receives the key when not NULL. */
unsigned char *idfix_csr_der(const idfix_csr_t *spec, size_t *len, EVP_PKEY **key);

/* A packed CertifyRequest (free with free()). */
uint8_t *idfix_request(const char *identity, const char *token, const unsigned char *csr,
                       size_t csr_len, size_t *len);

/* Writes PEM of a cert / key to a file. */
void idfix_write_cert(const char *path, X509 *c);
void idfix_write_key(const char *path, EVP_PKEY *k);

#endif
