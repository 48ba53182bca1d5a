/*
 * libFuzzer target for the identity service's request path.
 *
 * Input byte 0 picks the entry point, the rest is the payload:
 *   even: a CertifyRequest, through id_certify with a real issuer and a fake
 *         token reviewer (token "web" = emojivoto/web), so valid requests
 *         reach the signer;
 *   odd:  a bare DER CSR, through id_csr_check against a fixed identity,
 *         and differentially through the fast path (id_csr_check_fast):
 *         whenever the fast path gives a verdict it must be OpenSSL's, with
 *         the same reason and, on success, the same public key.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "id/certify.h"
#include "mesh/pki.h"

#define ID "web.emojivoto.serviceaccount.identity.cmesh.cluster.local"

static id_issuer_t *issuer;

static id_code_t review(void *user, const uint8_t *token, size_t len, id_review_t *out)
{
    (void)user;
    if (len == 3 && memcmp(token, "web", 3) == 0) {
        out->authenticated = 1;
        snprintf(out->username, sizeof(out->username), "system:serviceaccount:emojivoto:web");
    } else if (len == 4 && memcmp(token, "down", 4) == 0) {
        return ID_INTERNAL;
    }
    return ID_OK;
}

static void make_issuer(void)
{
    char err[256];
    time_t now = time(NULL);
    EVP_PKEY *ak = mesh_pki_key_generate_p256(), *ik = mesh_pki_key_generate_p256();
    mesh_pki_cert_spec_t as = {"root", NULL, 0, 1, -1, now - 60, now + 86400 * 365};
    mesh_pki_cert_spec_t is = {"issuer", NULL, 0, 1, 0, now - 60, now + 86400 * 30};
    X509 *a = mesh_pki_cert_make(&as, ak, NULL, ak, err, sizeof(err));
    X509 *i = mesh_pki_cert_make(&is, ik, a, ak, err, sizeof(err));
    STACK_OF(X509) *anchors = sk_X509_new_null(), *chain = sk_X509_new_null();
    sk_X509_push(anchors, a);
    sk_X509_push(chain, i);
    if (id_issuer_new(chain, ik, anchors, now, &issuer, err, sizeof(err)) != 0)
        abort();
    sk_X509_pop_free(anchors, X509_free);
    sk_X509_pop_free(chain, X509_free);
    EVP_PKEY_free(ak);
    EVP_PKEY_free(ik);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (issuer == NULL)
        make_issuer();
    if (size < 1)
        return 0;
    if (data[0] & 1) {
        X509_REQ *req = NULL;
        const char *why;
        id_code_t c = id_csr_check(data + 1, size - 1, ID, &req, &why);
        if ((c == ID_OK) != (req != NULL))
            abort();
        id_csr_key_t key;
        const char *why_fast = NULL;
        int fast = id_csr_check_fast(data + 1, size - 1, ID, &key, &why_fast);
        if (fast != ID_CSR_FALLBACK) {
            if (fast != (int)c || (c != ID_OK && strcmp(why, why_fast) != 0))
                abort();
            if (c == ID_OK) {
                unsigned char spki[ID_SPKI_MAX], *p = spki;
                int n = i2d_X509_PUBKEY(X509_REQ_get_X509_PUBKEY(req), &p);
                if (n != (int)key.len || memcmp(spki, key.spki, key.len) != 0)
                    abort();
            }
        }
        X509_REQ_free(req);
        return 0;
    }
    static const id_certify_config_t cfg = {"cmesh", "cluster.local", {86400, 20}, review, NULL};
    id_certify_result_t res;
    id_certify(&cfg, issuer, data + 1, size - 1, time(NULL), &res);
    if ((res.code == ID_OK) != (res.response != NULL))
        abort();
    id_certify_result_free(&res);
    return 0;
}
