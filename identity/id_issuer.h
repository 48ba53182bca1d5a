/*
 * identity/id_issuer.h (private) - what the leaf writer (leaf.c) needs from
 * an issuer beyond id/ca.h. All borrowed for the issuer's lifetime.
 */
#ifndef ID_ISSUER_H
#define ID_ISSUER_H

#include <stddef.h>

#include "id/ca.h"

/* The issuer certificate's subject Name, DER as it appears in the certificate. */
const unsigned char *id__issuer_subject_der(const id_issuer_t *iss, size_t *len);
/* The leaf's fixed extensions (basicConstraints, keyUsage, extKeyUsage, and
 * the AKI when the issuer has an SKI), each a DER Extension, back to back. */
const unsigned char *id__issuer_exts_der(const id_issuer_t *iss, size_t *len);
/* ECDSA signature (DER) of the digest `md` with the issuer key, on a context
 * from the issuer's pool; thread-safe. *siglen holds the capacity of `sig`
 * on entry (72 bytes fit P-256). 0 or -1. */
int id__issuer_sign_digest(const id_issuer_t *iss, const unsigned char *md, size_t mdlen,
                           unsigned char *sig, size_t *siglen);

#endif
