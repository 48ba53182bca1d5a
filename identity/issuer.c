/* The issuer: validation at load, reference counting, and leaf signing. */
#include "id/ca.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "id_issuer.h"
#include "mesh/mem.h"
#include "mesh/pki.h"

/* Signing contexts kept ready per issuer: one per thread signing at once is
 * enough, more are freed after use. */
#define SIGN_POOL_MAX 16

struct id_issuer {
    atomic_int refs;              /* owners: the service's current slot + requests */
    X509 *cert;                   /* the issuer certificate */
    EVP_PKEY *key;                /* its private key */
    STACK_OF(X509) *chain;        /* issuer first, then intermediates as given */
    STACK_OF(X509) *anchors;      /* trust anchors the chain verified against */
    time_t not_before;            /* latest NotBefore over issuer, chain, anchor */
    time_t not_after;             /* earliest NotAfter over the same */
    unsigned char **chain_der;    /* DER of `chain`, ready for responses */
    size_t *chain_der_len;
    size_t nchain;
    X509_EXTENSION *leaf_exts[4]; /* the fixed leaf template: BC, KU, EKU, AKI */
    size_t nexts;
    char fingerprint[65];         /* hex SHA-256 of the issuer DER */
    unsigned char *subject_der;   /* the issuer's subject Name, DER: the leaf's issuer */
    size_t subject_der_len;
    unsigned char *exts_der;      /* leaf_exts encoded back to back */
    size_t exts_der_len;
    pthread_mutex_t pool_lock;    /* guards pool/npool */
    EVP_PKEY_CTX *pool[SIGN_POOL_MAX]; /* sign-initialised contexts for `key` */
    size_t npool;
};

const char *id_code_name(id_code_t code)
{
    switch (code) {
    case ID_OK: return "OK";
    case ID_INVALID_ARGUMENT: return "InvalidArgument";
    case ID_FAILED_PRECONDITION: return "FailedPrecondition";
    case ID_INTERNAL: return "Internal";
    case ID_UNAVAILABLE: return "Unavailable";
    }
    return "Unknown";
}

int id_scheme_parse(const char *s, id_scheme_t *out)
{
    if (strcmp(s, "linkerd.io/tls") == 0)
        *out = ID_SCHEME_LINKERD;
    else if (strcmp(s, "kubernetes.io/tls") == 0)
        *out = ID_SCHEME_K8S;
    else
        return -1;
    return 0;
}

const char *id_scheme_cert_file(id_scheme_t s)
{
    return s == ID_SCHEME_K8S ? "tls.crt" : "crt.pem";
}

const char *id_scheme_key_file(id_scheme_t s)
{
    return s == ID_SCHEME_K8S ? "tls.key" : "key.pem";
}

static void issuer_free(id_issuer_t *iss)
{
    X509_free(iss->cert);
    EVP_PKEY_free(iss->key);
    sk_X509_pop_free(iss->chain, X509_free);
    sk_X509_pop_free(iss->anchors, X509_free);
    for (size_t i = 0; i < iss->nchain; i++)
        mesh_free(iss->chain_der[i]);
    mesh_free(iss->chain_der);
    mesh_free(iss->chain_der_len);
    for (size_t i = 0; i < iss->nexts; i++)
        X509_EXTENSION_free(iss->leaf_exts[i]);
    mesh_free(iss->subject_der);
    mesh_free(iss->exts_der);
    for (size_t i = 0; i < iss->npool; i++)
        EVP_PKEY_CTX_free(iss->pool[i]);
    pthread_mutex_destroy(&iss->pool_lock);
    mesh_free(iss);
}

id_issuer_t *id_issuer_ref(id_issuer_t *iss)
{
    if (iss != NULL)
        atomic_fetch_add_explicit(&iss->refs, 1, memory_order_relaxed);
    return iss;
}

void id_issuer_unref(id_issuer_t *iss)
{
    if (iss == NULL)
        return;
    if (atomic_fetch_sub_explicit(&iss->refs, 1, memory_order_acq_rel) == 1)
        issuer_free(iss);
}

/* Copies a stack taking a reference on each certificate. */
static STACK_OF(X509) *dup_certs(STACK_OF(X509) *in)
{
    STACK_OF(X509) *out = sk_X509_new_null();
    if (out == NULL)
        return NULL;
    for (int i = 0; i < sk_X509_num(in); i++) {
        X509 *c = sk_X509_value(in, i);
        if (!sk_X509_push(out, c)) {
            sk_X509_pop_free(out, X509_free);
            return NULL;
        }
        X509_up_ref(c);
    }
    return out;
}

/* Verifies the chain and records the validity window of the path found. */
static int verify_chain(id_issuer_t *iss, time_t now, char *err, size_t errlen)
{
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    STACK_OF(X509) *untrusted = sk_X509_new_null();
    int rc = -1;
    if (store == NULL || ctx == NULL || untrusted == NULL) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    for (int i = 0; i < sk_X509_num(iss->anchors); i++)
        if (!X509_STORE_add_cert(store, sk_X509_value(iss->anchors, i))) {
            snprintf(err, errlen, "cannot use trust anchor %d", i);
            goto out;
        }
    for (int i = 1; i < sk_X509_num(iss->chain); i++)
        if (!sk_X509_push(untrusted, sk_X509_value(iss->chain, i))) {
            snprintf(err, errlen, "out of memory");
            goto out;
        }
    if (!X509_STORE_CTX_init(ctx, store, iss->cert, untrusted)) {
        snprintf(err, errlen, "cannot start chain verification");
        goto out;
    }
    X509_STORE_CTX_set_time(ctx, 0, now);
    if (X509_verify_cert(ctx) != 1) {
        snprintf(err, errlen, "issuer certificate does not verify against the trust anchors: %s",
                 X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
        goto out;
    }
    STACK_OF(X509) *path = X509_STORE_CTX_get0_chain(ctx);
    iss->not_before = 0;
    iss->not_after = (time_t)LLONG_MAX;
    for (int i = 0; i < sk_X509_num(path); i++) {
        X509 *c = sk_X509_value(path, i);
        time_t nb = mesh_pki_not_before(c), na = mesh_pki_not_after(c);
        if (nb < 0 || na < 0) {
            snprintf(err, errlen, "unreadable validity in certificate %d of the chain", i);
            goto out;
        }
        if (nb > iss->not_before)
            iss->not_before = nb;
        if (na < iss->not_after)
            iss->not_after = na;
    }
    rc = 0;
out:
    sk_X509_free(untrusted);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    ERR_clear_error();
    return rc;
}

static int build_template(id_issuer_t *iss)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, iss->cert, NULL, NULL, NULL, 0);
    static const struct {
        int nid;
        const char *value;
    } fixed[] = {
        {NID_basic_constraints, "critical,CA:FALSE"},
        {NID_key_usage, "critical,digitalSignature,keyEncipherment"},
        {NID_ext_key_usage, "serverAuth,clientAuth"},
    };
    for (size_t i = 0; i < MESH_ARRAY_LEN(fixed); i++) {
        X509_EXTENSION *ex = X509V3_EXT_conf_nid(NULL, &ctx, fixed[i].nid, fixed[i].value);
        if (ex == NULL)
            return -1;
        iss->leaf_exts[iss->nexts++] = ex;
    }
    /* The AKI names the issuer's SKI when it has one (path building in
     * clients relies on it); without an SKI, leave the AKI out. */
    const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(iss->cert);
    if (ski != NULL) {
        AUTHORITY_KEYID *akid = AUTHORITY_KEYID_new();
        if (akid == NULL)
            return -1;
        akid->keyid = ASN1_OCTET_STRING_dup(ski);
        X509_EXTENSION *ex = akid->keyid ? X509V3_EXT_i2d(NID_authority_key_identifier, 0, akid) : NULL;
        AUTHORITY_KEYID_free(akid);
        if (ex == NULL)
            return -1;
        iss->leaf_exts[iss->nexts++] = ex;
    }
    return 0;
}

/* Encodes one OpenSSL object into a mesh_malloc'd buffer. */
#define ENCODE(i2d, obj, out, outlen)                                   \
    do {                                                                \
        int n_ = i2d(obj, NULL);                                        \
        unsigned char *p_;                                              \
        if (n_ <= 0 || ((out) = p_ = mesh_malloc((size_t)n_)) == NULL) \
            return -1;                                                  \
        if (i2d(obj, &p_) != n_)                                        \
            return -1;                                                  \
        *(outlen) = (size_t)n_;                                         \
    } while (0)

/* The parts of every leaf that depend only on the issuer, as DER, so a
 * signature never has to build X509 objects (see leaf.c). */
static int encode_template(id_issuer_t *iss)
{
    ENCODE(i2d_X509_NAME, X509_get_subject_name(iss->cert), iss->subject_der, &iss->subject_der_len);
    size_t total = 0;
    for (size_t i = 0; i < iss->nexts; i++) {
        int n = i2d_X509_EXTENSION(iss->leaf_exts[i], NULL);
        if (n <= 0)
            return -1;
        total += (size_t)n;
    }
    if ((iss->exts_der = mesh_malloc(total)) == NULL)
        return -1;
    unsigned char *p = iss->exts_der;
    for (size_t i = 0; i < iss->nexts; i++)
        if (i2d_X509_EXTENSION(iss->leaf_exts[i], &p) <= 0)
            return -1;
    iss->exts_der_len = total;
    return 0;
}

static int encode_chain(id_issuer_t *iss)
{
    size_t n = (size_t)sk_X509_num(iss->chain);
    iss->chain_der = mesh_calloc(n, sizeof(*iss->chain_der));
    iss->chain_der_len = mesh_calloc(n, sizeof(*iss->chain_der_len));
    if (iss->chain_der == NULL || iss->chain_der_len == NULL)
        return -1;
    for (size_t i = 0; i < n; i++) {
        iss->chain_der[i] = mesh_pki_cert_der(sk_X509_value(iss->chain, (int)i), &iss->chain_der_len[i]);
        if (iss->chain_der[i] == NULL)
            return -1;
        iss->nchain = i + 1;
    }
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (!X509_digest(iss->cert, EVP_sha256(), md, &mdlen) || mdlen != 32)
        return -1;
    for (unsigned i = 0; i < mdlen; i++)
        snprintf(iss->fingerprint + 2 * i, 3, "%02x", md[i]);
    return 0;
}

int id_issuer_new(STACK_OF(X509) *chain, EVP_PKEY *key, STACK_OF(X509) *anchors, time_t now,
                  id_issuer_t **out, char *err, size_t errlen)
{
    *out = NULL;
    if (chain == NULL || sk_X509_num(chain) < 1 || key == NULL || anchors == NULL ||
        sk_X509_num(anchors) < 1) {
        snprintf(err, errlen, "issuer certificate, key and trust anchors are all required");
        return -1;
    }
    id_issuer_t *iss = mesh_calloc(1, sizeof(*iss));
    if (iss == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    atomic_init(&iss->refs, 1);
    pthread_mutex_init(&iss->pool_lock, NULL);
    iss->cert = sk_X509_value(chain, 0);
    X509_up_ref(iss->cert);
    iss->key = key;
    EVP_PKEY_up_ref(key);
    iss->chain = dup_certs(chain);
    iss->anchors = dup_certs(anchors);
    if (iss->chain == NULL || iss->anchors == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (!mesh_pki_is_ca(iss->cert)) {
        snprintf(err, errlen, "issuer certificate is not a CA (basicConstraints CA:TRUE missing)");
        goto fail;
    }
    if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC) {
        snprintf(err, errlen, "issuer key is not an ECDSA key");
        goto fail;
    }
    if (!mesh_pki_key_matches(iss->cert, key)) {
        snprintf(err, errlen, "issuer key does not match the issuer certificate");
        goto fail;
    }
    if (verify_chain(iss, now, err, errlen) != 0)
        goto fail;
    if (build_template(iss) != 0 || encode_template(iss) != 0 || encode_chain(iss) != 0) {
        snprintf(err, errlen, "cannot prepare the issuer (out of memory?)");
        goto fail;
    }
    ERR_clear_error();
    *out = iss;
    return 0;
fail:
    ERR_clear_error();
    issuer_free(iss);
    return -1;
}

int id_issuer_load(const char *dir, id_scheme_t scheme, const char *anchors_path, time_t now,
                   id_issuer_t **out, char *err, size_t errlen)
{
    char cpath[4096], kpath[4096];
    *out = NULL;
    if ((size_t)snprintf(cpath, sizeof(cpath), "%s/%s", dir, id_scheme_cert_file(scheme)) >= sizeof(cpath) ||
        (size_t)snprintf(kpath, sizeof(kpath), "%s/%s", dir, id_scheme_key_file(scheme)) >= sizeof(kpath)) {
        snprintf(err, errlen, "issuer directory path too long");
        return -1;
    }
    int rc = -1;
    STACK_OF(X509) *chain = NULL, *anchors = NULL;
    EVP_PKEY *key = NULL;
    if ((chain = mesh_pki_certs_load(cpath, err, errlen)) == NULL)
        goto out;
    if ((key = mesh_pki_key_load(kpath, err, errlen)) == NULL)
        goto out;
    if ((anchors = mesh_pki_certs_load(anchors_path, err, errlen)) == NULL)
        goto out;
    rc = id_issuer_new(chain, key, anchors, now, out, err, errlen);
out:
    sk_X509_pop_free(chain, X509_free);
    sk_X509_pop_free(anchors, X509_free);
    EVP_PKEY_free(key);
    return rc;
}

int id_issuer_usable(const id_issuer_t *iss, time_t now)
{
    return iss != NULL && now >= iss->not_before && now < iss->not_after;
}

time_t id_issuer_not_after(const id_issuer_t *iss)
{
    return iss->not_after;
}

X509 *id_issuer_cert(const id_issuer_t *iss)
{
    return iss->cert;
}

STACK_OF(X509) *id_issuer_anchors(const id_issuer_t *iss)
{
    return iss->anchors;
}

size_t id_issuer_chain_len(const id_issuer_t *iss)
{
    return iss->nchain;
}

const unsigned char *id_issuer_chain_der(const id_issuer_t *iss, size_t i, size_t *len)
{
    if (i >= iss->nchain)
        return NULL;
    *len = iss->chain_der_len[i];
    return iss->chain_der[i];
}

const char *id_issuer_fingerprint(const id_issuer_t *iss)
{
    return iss->fingerprint;
}

const unsigned char *id__issuer_subject_der(const id_issuer_t *iss, size_t *len)
{
    *len = iss->subject_der_len;
    return iss->subject_der;
}

const unsigned char *id__issuer_exts_der(const id_issuer_t *iss, size_t *len)
{
    *len = iss->exts_der_len;
    return iss->exts_der;
}

int id__issuer_sign_digest(const id_issuer_t *iss, const unsigned char *md, size_t mdlen,
                           unsigned char *sig, size_t *siglen)
{
    /* The pool is the one mutable part of an issuer; the const is for callers. */
    id_issuer_t *m = (id_issuer_t *)iss;
    EVP_PKEY_CTX *ctx = NULL;
    pthread_mutex_lock(&m->pool_lock);
    if (m->npool > 0)
        ctx = m->pool[--m->npool];
    pthread_mutex_unlock(&m->pool_lock);
    if (ctx == NULL) {
        ctx = EVP_PKEY_CTX_new(m->key, NULL);
        if (ctx == NULL || EVP_PKEY_sign_init(ctx) != 1) {
            EVP_PKEY_CTX_free(ctx);
            ERR_clear_error();
            return -1;
        }
    }
    int rc = EVP_PKEY_sign(ctx, sig, siglen, md, mdlen) == 1 ? 0 : -1;
    ERR_clear_error();
    pthread_mutex_lock(&m->pool_lock);
    if (m->npool < SIGN_POOL_MAX) {
        m->pool[m->npool++] = ctx;
        ctx = NULL;
    }
    pthread_mutex_unlock(&m->pool_lock);
    EVP_PKEY_CTX_free(ctx);
    return rc;
}
