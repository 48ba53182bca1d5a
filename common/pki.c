/* OpenSSL helpers for certificates and keys; see mesh/pki.h. */
#include "mesh/pki.h"

#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "mesh/mem.h"

static void seterr(char *err, size_t errlen, const char *what)
{
    unsigned long e = ERR_peek_last_error();
    if (err != NULL && errlen > 0) {
        if (e != 0)
            snprintf(err, errlen, "%s: %s", what, ERR_reason_error_string(e) ? ERR_reason_error_string(e) : "OpenSSL error");
        else
            snprintf(err, errlen, "%s", what);
    }
    ERR_clear_error();
}

/* Reads a whole (bounded) file into memory. */
static char *read_file(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = mesh_malloc(MESH_PKI_PEM_MAX + 1);
    if (buf == NULL) {
        fclose(f);
        snprintf(err, errlen, "out of memory reading %s", path);
        return NULL;
    }
    size_t n = fread(buf, 1, MESH_PKI_PEM_MAX + 1, f);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        snprintf(err, errlen, "cannot read %s", path);
        mesh_free(buf);
        return NULL;
    }
    if (n > MESH_PKI_PEM_MAX) {
        snprintf(err, errlen, "%s is larger than %d bytes", path, MESH_PKI_PEM_MAX);
        mesh_free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

STACK_OF(X509) *mesh_pki_certs_parse(const char *pem, size_t len, char *err, size_t errlen)
{
    if (len > MESH_PKI_PEM_MAX || len > INT32_MAX) {
        snprintf(err, errlen, "PEM input too large");
        return NULL;
    }
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    STACK_OF(X509) *out = sk_X509_new_null();
    if (bio == NULL || out == NULL) {
        seterr(err, errlen, "out of memory");
        goto fail;
    }
    for (;;) {
        X509 *c = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        if (c == NULL)
            break;
        if (!sk_X509_push(out, c)) {
            X509_free(c);
            seterr(err, errlen, "out of memory");
            goto fail;
        }
    }
    unsigned long e = ERR_peek_last_error();
    /* The loop ends on "no start line" at EOF; anything else is damage. */
    if (e != 0 && !(ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE)) {
        seterr(err, errlen, "bad PEM certificate");
        goto fail;
    }
    ERR_clear_error();
    if (sk_X509_num(out) == 0) {
        snprintf(err, errlen, "no certificate in PEM input");
        goto fail;
    }
    BIO_free(bio);
    return out;
fail:
    sk_X509_pop_free(out, X509_free);
    BIO_free(bio);
    return NULL;
}

STACK_OF(X509) *mesh_pki_certs_load(const char *path, char *err, size_t errlen)
{
    size_t len;
    char *buf = read_file(path, &len, err, errlen);
    if (buf == NULL)
        return NULL;
    char why[200];
    STACK_OF(X509) *s = mesh_pki_certs_parse(buf, len, why, sizeof(why));
    if (s == NULL)
        snprintf(err, errlen, "%s: %s", path, why);
    mesh_free(buf);
    return s;
}

EVP_PKEY *mesh_pki_key_parse(const char *pem, size_t len, char *err, size_t errlen)
{
    if (len > MESH_PKI_PEM_MAX || len > INT32_MAX) {
        snprintf(err, errlen, "PEM input too large");
        return NULL;
    }
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    if (bio == NULL) {
        seterr(err, errlen, "out of memory");
        return NULL;
    }
    /* An empty passphrase callback result makes encrypted keys fail instead
     * of prompting on a terminal. */
    EVP_PKEY *k = PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"");
    BIO_free(bio);
    if (k == NULL) {
        seterr(err, errlen, "no usable private key in PEM input");
        return NULL;
    }
    ERR_clear_error();
    return k;
}

EVP_PKEY *mesh_pki_key_load(const char *path, char *err, size_t errlen)
{
    size_t len;
    char *buf = read_file(path, &len, err, errlen);
    if (buf == NULL)
        return NULL;
    char why[200];
    EVP_PKEY *k = mesh_pki_key_parse(buf, len, why, sizeof(why));
    if (k == NULL)
        snprintf(err, errlen, "%s: %s", path, why);
    OPENSSL_cleanse(buf, len);
    mesh_free(buf);
    return k;
}

EVP_PKEY *mesh_pki_key_generate_p256(void)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    ERR_clear_error();
    return k;
}

int mesh_pki_key_is_p256(const EVP_PKEY *key)
{
    if (key == NULL || EVP_PKEY_get_base_id(key) != EVP_PKEY_EC)
        return 0;
    char name[64];
    size_t n = 0;
    /* Explicit-parameter keys have no group name, so they fail here. */
    if (!EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof(name), &n)) {
        ERR_clear_error();
        return 0;
    }
    return strcmp(name, "prime256v1") == 0 || strcmp(name, "P-256") == 0;
}

int mesh_pki_key_matches(X509 *cert, EVP_PKEY *key)
{
    int ok = X509_check_private_key(cert, key) == 1;
    ERR_clear_error();
    return ok;
}

int mesh_pki_set_random_serial(X509 *cert)
{
    unsigned char b[16];
    if (RAND_bytes(b, sizeof(b)) != 1)
        return -1;
    b[0] &= 0x7f; /* positive */
    b[0] |= 0x01; /* never zero, and always 16 bytes long */
    BIGNUM *bn = BN_bin2bn(b, sizeof(b), NULL);
    if (bn == NULL)
        return -1;
    ASN1_INTEGER *ai = BN_to_ASN1_INTEGER(bn, NULL);
    BN_free(bn);
    if (ai == NULL)
        return -1;
    int rc = X509_set_serialNumber(cert, ai) == 1 ? 0 : -1;
    ASN1_INTEGER_free(ai);
    return rc;
}

static int add_ext(X509 *cert, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *ex = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
    if (ex == NULL)
        return -1;
    int rc = X509_add_ext(cert, ex, -1) == 1 ? 0 : -1;
    X509_EXTENSION_free(ex);
    return rc;
}

static int add_san(X509 *cert, const char *const *dns, size_t ndns)
{
    GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
    if (gens == NULL)
        return -1;
    for (size_t i = 0; i < ndns; i++) {
        GENERAL_NAME *g = GENERAL_NAME_new();
        ASN1_IA5STRING *s = ASN1_IA5STRING_new();
        if (g == NULL || s == NULL || !ASN1_STRING_set(s, dns[i], (int)strlen(dns[i]))) {
            GENERAL_NAME_free(g);
            ASN1_IA5STRING_free(s);
            GENERAL_NAMES_free(gens);
            return -1;
        }
        GENERAL_NAME_set0_value(g, GEN_DNS, s);
        if (!sk_GENERAL_NAME_push(gens, g)) {
            GENERAL_NAME_free(g);
            GENERAL_NAMES_free(gens);
            return -1;
        }
    }
    int rc = X509_add1_ext_i2d(cert, NID_subject_alt_name, gens, 0, 0) == 1 ? 0 : -1;
    GENERAL_NAMES_free(gens);
    return rc;
}

X509 *mesh_pki_cert_make(const mesh_pki_cert_spec_t *spec, EVP_PKEY *pub, X509 *signer,
                         EVP_PKEY *signer_key, char *err, size_t errlen)
{
    X509 *c = X509_new();
    X509_NAME *name = X509_NAME_new();
    if (c == NULL || name == NULL)
        goto fail;
    if (!X509_set_version(c, 2) || mesh_pki_set_random_serial(c) != 0)
        goto fail;
    if (!X509_NAME_add_entry_by_txt(name, "CN", V_ASN1_UTF8STRING,
                                    (const unsigned char *)spec->common_name, -1, -1, 0))
        goto fail;
    if (!X509_set_subject_name(c, name))
        goto fail;
    if (!X509_set_issuer_name(c, signer ? X509_get_subject_name(signer) : name))
        goto fail;
    if (!ASN1_TIME_set(X509_getm_notBefore(c), spec->not_before) ||
        !ASN1_TIME_set(X509_getm_notAfter(c), spec->not_after))
        goto fail;
    if (!X509_set_pubkey(c, pub))
        goto fail;

    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, signer ? signer : c, c, NULL, NULL, 0);
    if (spec->is_ca) {
        char bc[64];
        if (spec->path_len >= 0)
            snprintf(bc, sizeof(bc), "critical,CA:TRUE,pathlen:%d", spec->path_len);
        else
            snprintf(bc, sizeof(bc), "critical,CA:TRUE");
        if (add_ext(c, &ctx, NID_basic_constraints, bc) != 0 ||
            add_ext(c, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign") != 0)
            goto fail;
    } else {
        if (add_ext(c, &ctx, NID_basic_constraints, "critical,CA:FALSE") != 0 ||
            add_ext(c, &ctx, NID_key_usage, "critical,digitalSignature,keyEncipherment") != 0 ||
            add_ext(c, &ctx, NID_ext_key_usage, "serverAuth,clientAuth") != 0)
            goto fail;
    }
    if (add_ext(c, &ctx, NID_subject_key_identifier, "hash") != 0)
        goto fail;
    if (signer != NULL && add_ext(c, &ctx, NID_authority_key_identifier, "keyid:always") != 0)
        goto fail;
    if (spec->ndns > 0 && add_san(c, spec->dns, spec->ndns) != 0)
        goto fail;
    if (X509_sign(c, signer_key, EVP_sha256()) <= 0)
        goto fail;
    X509_NAME_free(name);
    ERR_clear_error();
    return c;
fail:
    seterr(err, errlen, "cannot build certificate");
    X509_NAME_free(name);
    X509_free(c);
    return NULL;
}

int mesh_pki_verify(X509 *cert, STACK_OF(X509) *untrusted, STACK_OF(X509) *anchors, time_t at,
                    char *err, size_t errlen)
{
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    int rc = -1;
    if (store == NULL || ctx == NULL) {
        seterr(err, errlen, "out of memory");
        goto out;
    }
    for (int i = 0; i < sk_X509_num(anchors); i++) {
        if (!X509_STORE_add_cert(store, sk_X509_value(anchors, i))) {
            seterr(err, errlen, "cannot add trust anchor");
            goto out;
        }
    }
    if (!X509_STORE_CTX_init(ctx, store, cert, untrusted)) {
        seterr(err, errlen, "cannot start verification");
        goto out;
    }
    if (at != 0)
        X509_STORE_CTX_set_time(ctx, 0, at);
    if (X509_verify_cert(ctx) == 1) {
        rc = 0;
    } else {
        int e = X509_STORE_CTX_get_error(ctx);
        snprintf(err, errlen, "%s", X509_verify_cert_error_string(e));
    }
out:
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    ERR_clear_error();
    return rc;
}

static time_t asn1_to_time(const ASN1_TIME *t)
{
    struct tm tm;
    if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
        return -1;
    return timegm(&tm);
}

time_t mesh_pki_not_after(const X509 *cert)
{
    return asn1_to_time(X509_get0_notAfter(cert));
}

time_t mesh_pki_not_before(const X509 *cert)
{
    return asn1_to_time(X509_get0_notBefore(cert));
}

int mesh_pki_is_ca(X509 *cert)
{
    /* X509_check_ca also accepts v1 roots and keyCertSign-only certs; we
     * want an explicit basicConstraints CA:TRUE. */
    BASIC_CONSTRAINTS *bc = X509_get_ext_d2i(cert, NID_basic_constraints, NULL, NULL);
    int ca = bc != NULL && bc->ca;
    BASIC_CONSTRAINTS_free(bc);
    ERR_clear_error();
    return ca;
}

static char *bio_to_string(BIO *bio, size_t *len)
{
    char *data;
    long n = BIO_get_mem_data(bio, &data);
    char *s = n >= 0 ? mesh_malloc((size_t)n + 1) : NULL;
    if (s != NULL) {
        memcpy(s, data, (size_t)n);
        s[n] = '\0';
        if (len != NULL)
            *len = (size_t)n;
    }
    return s;
}

char *mesh_pki_cert_pem(X509 *cert, size_t *len)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *s = NULL;
    if (bio != NULL && PEM_write_bio_X509(bio, cert))
        s = bio_to_string(bio, len);
    BIO_free(bio);
    ERR_clear_error();
    return s;
}

char *mesh_pki_key_pem(EVP_PKEY *key, size_t *len)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *s = NULL;
    if (bio != NULL && PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL))
        s = bio_to_string(bio, len);
    BIO_free_all(bio);
    ERR_clear_error();
    return s;
}

unsigned char *mesh_pki_cert_der(X509 *cert, size_t *len)
{
    int n = i2d_X509(cert, NULL);
    if (n <= 0)
        return NULL;
    unsigned char *buf = mesh_malloc((size_t)n);
    if (buf == NULL)
        return NULL;
    unsigned char *p = buf;
    if (i2d_X509(cert, &p) != n) {
        mesh_free(buf);
        return NULL;
    }
    *len = (size_t)n;
    return buf;
}

int mesh_pki_write_file(const char *path, const char *data, size_t len, int mode)
{
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= sizeof(tmp)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return -1;
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            goto fail;
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        fd = -1;
        goto fail;
    }
    if (rename(tmp, path) != 0) {
        fd = -1;
        goto fail;
    }
    return 0;
fail:
    {
        int e = errno;
        if (fd >= 0)
            close(fd);
        unlink(tmp);
        errno = e;
    }
    return -1;
}
