/* A development PKI for `cmesh certs generate`; see id/devpki.h. */
#include "id/devpki.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mesh/duration.h"
#include "mesh/mem.h"
#include "mesh/pki.h"

/* Serving certificates are for development; a year like the anchor. */
#define CERTS_NAME_MAX 256


/* Writes DIR[/SUB]/CNAME (the certificate, followed by `chain` when given, so
 * a server presents the path to the anchor) and DIR[/SUB]/KNAME (the key). */
static int write_pair(const char *dir, const char *sub, const char *cname, const char *kname, X509 *c,
                      X509 *chain, EVP_PKEY *k, FILE *err_out)
{
    char d[4096], path[4200];
    if (sub != NULL)
        snprintf(d, sizeof(d), "%s/%s", dir, sub);
    else
        snprintf(d, sizeof(d), "%s", dir);
    if (mkdir(d, 0755) != 0 && errno != EEXIST) {
        fprintf(err_out, "certs: cannot create %s: %s\n", d, strerror(errno));
        return -1;
    }
    size_t n, cn = 0;
    char *pem = mesh_pki_cert_pem(c, &n);
    char *cpem = chain != NULL ? mesh_pki_cert_pem(chain, &cn) : NULL;
    if (pem != NULL && cpem != NULL) {
        char *both = mesh_realloc(pem, n + cn);
        if (both != NULL)
            memcpy(both + n, cpem, cn);
        else
            mesh_free(pem);
        pem = both;
        n += cn;
    } else if (chain != NULL) {
        MESH_FREE(&pem);
    }
    mesh_free(cpem);
    snprintf(path, sizeof(path), "%s/%s", d, cname);
    if (pem == NULL || mesh_pki_write_file(path, pem, n, 0644) != 0) {
        fprintf(err_out, "certs: cannot write %s: %s\n", path, strerror(errno));
        mesh_free(pem);
        return -1;
    }
    mesh_free(pem);
    pem = mesh_pki_key_pem(k, &n);
    snprintf(path, sizeof(path), "%s/%s", d, kname);
    if (pem == NULL || mesh_pki_write_file(path, pem, n, 0600) != 0) {
        fprintf(err_out, "certs: cannot write %s: %s\n", path, strerror(errno));
        mesh_free(pem);
        return -1;
    }
    mesh_free(pem);
    return 0;
}

static void print_cert(FILE *out, const char *what, const char *path, X509 *c)
{
    char life[MESH_DURATION_FMT_MAX], until[64];
    time_t na = mesh_pki_not_after(c), nb = mesh_pki_not_before(c);
    struct tm tm;
    gmtime_r(&na, &tm);
    strftime(until, sizeof(until), "%Y-%m-%dT%H:%M:%SZ", &tm);
    mesh_duration_format((int64_t)(na - nb) * MESH_NS_PER_SEC, life, sizeof(life));
    char cn[CERTS_NAME_MAX] = "";
    X509_NAME_get_text_by_NID(X509_get_subject_name(c), NID_commonName, cn, sizeof(cn));
    fprintf(out, "%-12s %-40s CN=%s lifetime %s (until %s)\n", what, path, cn, life, until);
}

int id_devpki_generate(const id_devpki_opts_t *o, FILE *out, FILE *err_out)
{
    char err[256] = "", check[4200];
    snprintf(check, sizeof(check), "%s/ca-bundle.crt", o->out);
    if (!o->force && access(check, F_OK) == 0) {
        fprintf(err_out, "certs: %s exists; use --force to replace the PKI\n", check);
        return 1;
    }
    if (mkdir(o->out, 0755) != 0 && errno != EEXIST) {
        fprintf(err_out, "certs: cannot create %s: %s\n", o->out, strerror(errno));
        return 1;
    }
    time_t now = time(NULL);
    int rc = 1;
    EVP_PKEY *ak = mesh_pki_key_generate_p256(), *ik = mesh_pki_key_generate_p256();
    EVP_PKEY *dk = mesh_pki_key_generate_p256(), *wk = mesh_pki_key_generate_p256();
    X509 *anchor = NULL, *issuer = NULL, *dst = NULL, *wh = NULL;
    if (ak == NULL || ik == NULL || dk == NULL || wk == NULL) {
        fprintf(err_out, "certs: cannot generate P-256 keys\n");
        goto out;
    }
    char root_cn[CERTS_NAME_MAX], iss_cn[CERTS_NAME_MAX], dst_name[CERTS_NAME_MAX], wh_name[CERTS_NAME_MAX];
    snprintf(root_cn, sizeof(root_cn), "root.%s.%s", o->ns, o->trust_domain);
    snprintf(iss_cn, sizeof(iss_cn), "identity.%s.%s", o->ns, o->trust_domain);
    snprintf(dst_name, sizeof(dst_name), "cmesh-destination.%s.serviceaccount.identity.%s.%s", o->ns,
             o->ns, o->trust_domain);
    snprintf(wh_name, sizeof(wh_name), "cmesh-webhook.%s.svc", o->ns);
    time_t a_end = now + (time_t)(o->anchor_life / MESH_NS_PER_SEC);
    time_t i_end = now + (time_t)(o->issuer_life / MESH_NS_PER_SEC);
    time_t s_end = now + (time_t)(o->serving_life / MESH_NS_PER_SEC);
    /* The issuer and the serving certificates must not outlive the anchor. */
    if (i_end > a_end)
        i_end = a_end;
    if (s_end > i_end)
        s_end = i_end;
    mesh_pki_cert_spec_t as = {root_cn, NULL, 0, 1, 1, now - 60, a_end};
    mesh_pki_cert_spec_t is = {iss_cn, NULL, 0, 1, 0, now - 60, i_end};
    const char *dsan[] = {dst_name};
    mesh_pki_cert_spec_t ds = {dst_name, dsan, 1, 0, -1, now - 60, s_end};
    const char *wsan[] = {wh_name, "cmesh-webhook", "localhost"};
    mesh_pki_cert_spec_t ws = {wh_name, wsan, MESH_ARRAY_LEN(wsan), 0, -1, now - 60, s_end};
    if ((anchor = mesh_pki_cert_make(&as, ak, NULL, ak, err, sizeof(err))) == NULL ||
        (issuer = mesh_pki_cert_make(&is, ik, anchor, ak, err, sizeof(err))) == NULL ||
        (dst = mesh_pki_cert_make(&ds, dk, issuer, ik, err, sizeof(err))) == NULL ||
        (wh = mesh_pki_cert_make(&ws, wk, anchor, ak, err, sizeof(err))) == NULL) {
        fprintf(err_out, "certs: %s\n", err);
        goto out;
    }
    if (write_pair(o->out, NULL, "ca-bundle.crt", "ca.key", anchor, NULL, ak, err_out) != 0 ||
        write_pair(o->out, "issuer", "crt.pem", "key.pem", issuer, NULL, ik, err_out) != 0 ||
        write_pair(o->out, "destination", "crt.pem", "key.pem", dst, issuer, dk, err_out) != 0 ||
        write_pair(o->out, "webhook", "crt.pem", "key.pem", wh, NULL, wk, err_out) != 0)
        goto out;
    print_cert(out, "trust anchor", "ca-bundle.crt", anchor);
    print_cert(out, "issuer", "issuer/crt.pem", issuer);
    print_cert(out, "destination", "destination/crt.pem", dst);
    print_cert(out, "webhook", "webhook/crt.pem", wh);
    fprintf(out, "wrote %s\n", o->out);
    rc = 0;
out:
    X509_free(anchor);
    X509_free(issuer);
    X509_free(dst);
    X509_free(wh);
    EVP_PKEY_free(ak);
    EVP_PKEY_free(ik);
    EVP_PKEY_free(dk);
    EVP_PKEY_free(wk);
    return rc;
}

