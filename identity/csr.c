/* CSR validation: the request must name exactly the identity asked for. */
#include "id/ca.h"

#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "mesh/pki.h"

#define FAIL(c, reason) \
    do {                \
        code = (c);     \
        *why = (reason); \
        goto out;       \
    } while (0)

/* 1 when the ASN.1 string holds exactly `s` (no embedded NULs). */
static int asn1_eq(const ASN1_STRING *a, const char *s)
{
    size_t n = strlen(s);
    return a != NULL && (size_t)ASN1_STRING_length(a) == n &&
           memcmp(ASN1_STRING_get0_data(a), s, n) == 0;
}

/* Subject: only CN entries count, and there may be at most one, equal to the
 * identity. Other attributes are never copied into the leaf, so they are
 * harmless and tolerated. */
static id_code_t check_subject(X509_REQ *req, const char *identity, const char **why)
{
    const X509_NAME *subj = X509_REQ_get_subject_name(req);
    int ncn = 0;
    for (int i = 0; i < X509_NAME_entry_count(subj); i++) {
        const X509_NAME_ENTRY *e = X509_NAME_get_entry(subj, i);
        if (OBJ_obj2nid(X509_NAME_ENTRY_get_object(e)) != NID_commonName)
            continue;
        if (++ncn > 1) {
            *why = "CSR subject has more than one CN";
            return ID_FAILED_PRECONDITION;
        }
        if (!asn1_eq(X509_NAME_ENTRY_get_data(e), identity)) {
            *why = "CSR subject CN is not the requested identity";
            return ID_FAILED_PRECONDITION;
        }
    }
    return ID_OK;
}

static id_code_t check_extensions(X509_REQ *req, const char *identity, const char **why)
{
    STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
    id_code_t code = ID_OK;
    int nsan = 0;
    for (int i = 0; i < sk_X509_EXTENSION_num(exts); i++) {
        X509_EXTENSION *ex = sk_X509_EXTENSION_value(exts, i);
        int nid = OBJ_obj2nid(X509_EXTENSION_get_object(ex));
        if (nid == NID_subject_alt_name) {
            if (++nsan > 1)
                FAIL(ID_FAILED_PRECONDITION, "CSR has more than one subjectAltName extension");
            GENERAL_NAMES *gens = X509V3_EXT_d2i(ex);
            if (gens == NULL)
                FAIL(ID_FAILED_PRECONDITION, "CSR subjectAltName does not parse");
            int n = sk_GENERAL_NAME_num(gens);
            const GENERAL_NAME *g = n == 1 ? sk_GENERAL_NAME_value(gens, 0) : NULL;
            int type = g ? g->type : -1;
            int ok = g != NULL && type == GEN_DNS && asn1_eq(g->d.dNSName, identity);
            GENERAL_NAMES_free(gens);
            if (n != 1)
                FAIL(ID_FAILED_PRECONDITION, "CSR must have exactly one SAN, the requested identity");
            if (type != GEN_DNS)
                FAIL(ID_FAILED_PRECONDITION, "CSR SAN is not a DNS name");
            if (!ok)
                FAIL(ID_FAILED_PRECONDITION, "CSR DNS SAN is not the requested identity");
        } else if (nid == NID_basic_constraints) {
            BASIC_CONSTRAINTS *bc = X509V3_EXT_d2i(ex);
            int ca = bc == NULL || bc->ca;
            BASIC_CONSTRAINTS_free(bc);
            if (ca)
                FAIL(ID_FAILED_PRECONDITION, "CSR asks for a CA certificate");
        }
        /* Anything else is ignored: the leaf is built from a fixed template. */
    }
    if (nsan == 0)
        FAIL(ID_FAILED_PRECONDITION, "CSR has no SAN; it must name the requested identity");
out:
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    return code;
}

id_code_t id_csr_check(const unsigned char *der, size_t len, const char *identity, X509_REQ **out,
                       const char **why)
{
    const char *dummy;
    if (why == NULL)
        why = &dummy;
    *out = NULL;
    *why = NULL;
    id_code_t code = ID_OK;
    X509_REQ *req = NULL;
    EVP_PKEY *pub = NULL;
    if (der == NULL || len == 0)
        FAIL(ID_INVALID_ARGUMENT, "empty CSR");
    if (len > ID_CSR_MAX)
        FAIL(ID_INVALID_ARGUMENT, "CSR too large");
    const unsigned char *p = der;
    req = d2i_X509_REQ(NULL, &p, (long)len);
    if (req == NULL)
        FAIL(ID_INVALID_ARGUMENT, "CSR is not a DER PKCS#10 request");
    if (p != der + len)
        FAIL(ID_INVALID_ARGUMENT, "trailing bytes after the DER CSR");
    pub = X509_REQ_get_pubkey(req);
    if (pub == NULL)
        FAIL(ID_INVALID_ARGUMENT, "CSR public key does not parse");
    /* Proof of possession: the requester holds the private key. */
    if (X509_REQ_verify(req, pub) != 1)
        FAIL(ID_INVALID_ARGUMENT, "CSR signature does not verify");
    if (!mesh_pki_key_is_p256(pub))
        FAIL(ID_FAILED_PRECONDITION, "CSR key is not ECDSA P-256");
    if ((code = check_subject(req, identity, why)) != ID_OK)
        goto out;
    if ((code = check_extensions(req, identity, why)) != ID_OK)
        goto out;
    *out = req;
    req = NULL;
out:
    EVP_PKEY_free(pub);
    X509_REQ_free(req);
    ERR_clear_error();
    return code;
}
