/*
 * Benchmark of the identity signing path alone: decode the CertifyRequest,
 * parse and verify the CSR, sign the leaf, encode the response (id_certify
 * with an in-memory token reviewer, so no I/O). N worker threads share one
 * issuer, as the daemon's handlers do.
 *
 *   identity_sign CONCURRENCY SECONDS
 * prints: conc=N requests=R seconds=S rps=X cpu_s=C per_cpu_s=Y p50_us=A p99_us=B
 * (per_cpu_s: requests per second of CPU time, user + system, over all
 * threads: the figure comparable with `openssl speed`, which counts CPU time,
 * on a machine that other work shares).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>

#include <openssl/x509v3.h>

#include "id/certify.h"
#include "identity.pb-c.h"
#include "mesh/pki.h"

#define ID "web.emojivoto.serviceaccount.identity.cmesh.cluster.local"
#define MAX_SAMPLES 2000000

static id_code_t review(void *user, const uint8_t *t, size_t n, id_review_t *out)
{
    (void)user;
    (void)t;
    (void)n;
    out->authenticated = 1;
    snprintf(out->username, sizeof(out->username), "system:serviceaccount:emojivoto:web");
    return ID_OK;
}

static id_issuer_t *issuer;
static uint8_t *req;
static size_t req_len;
static atomic_int stop;
static double *lat;
static atomic_long nlat;
static const id_certify_config_t cfg = {"cmesh", "cluster.local", {86400, 20}, review, NULL};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *worker(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop)) {
        double t0 = now_s();
        id_certify_result_t res;
        id_certify(&cfg, issuer, req, req_len, time(NULL), &res);
        if (res.code != ID_OK) {
            fprintf(stderr, "certify failed: %s\n", res.message);
            exit(1);
        }
        id_certify_result_free(&res);
        long i = atomic_fetch_add(&nlat, 1);
        if (i < MAX_SAMPLES)
            lat[i] = now_s() - t0;
    }
    return NULL;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec / 1e6;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void setup(void)
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
    if (id_issuer_new(chain, ik, anchors, now, &issuer, err, sizeof(err)) != 0) {
        fprintf(stderr, "issuer: %s\n", err);
        exit(1);
    }
    /* The CSR a proxy sends: CN and one DNS SAN. */
    EVP_PKEY *k = mesh_pki_key_generate_p256();
    X509_REQ *r = X509_REQ_new();
    X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(r), "CN", V_ASN1_UTF8STRING,
                               (const unsigned char *)ID, -1, -1, 0);
    X509_REQ_set_pubkey(r, k);
    STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
    sk_X509_EXTENSION_push(exts, X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, "DNS:" ID));
    X509_REQ_add_extensions(r, exts);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    X509_REQ_sign(r, k, EVP_sha256());
    unsigned char *der = NULL;
    int n = i2d_X509_REQ(r, &der);
    Io__Linkerd__Proxy__Identity__CertifyRequest m = IO__LINKERD__PROXY__IDENTITY__CERTIFY_REQUEST__INIT;
    m.identity = (char *)ID;
    m.token.data = (uint8_t *)"token";
    m.token.len = 5;
    m.certificate_signing_request.data = der;
    m.certificate_signing_request.len = (size_t)n;
    req_len = io__linkerd__proxy__identity__certify_request__get_packed_size(&m);
    req = malloc(req_len);
    io__linkerd__proxy__identity__certify_request__pack(&m, req);
    OPENSSL_free(der);
    X509_REQ_free(r);
    EVP_PKEY_free(k);
    sk_X509_pop_free(anchors, X509_free);
    sk_X509_pop_free(chain, X509_free);
    EVP_PKEY_free(ak);
    EVP_PKEY_free(ik);
}

int main(int argc, char **argv)
{
    int conc = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 1;
    double secs = argc > 2 ? strtod(argv[2], NULL) : 3.0;
    if (conc < 1 || conc > 1024 || secs <= 0) {
        fprintf(stderr, "usage: identity_sign CONCURRENCY SECONDS\n");
        return 2;
    }
    setup();
    lat = malloc(sizeof(double) * MAX_SAMPLES);
    pthread_t *th = calloc((size_t)conc, sizeof(*th));
    double c0 = cpu_s();
    double t0 = now_s();
    for (int i = 0; i < conc; i++)
        pthread_create(&th[i], NULL, worker, NULL);
    struct timespec ts = {(time_t)secs, (long)((secs - (double)(time_t)secs) * 1e9)};
    nanosleep(&ts, NULL);
    atomic_store(&stop, 1);
    for (int i = 0; i < conc; i++)
        pthread_join(th[i], NULL);
    double el = now_s() - t0;
    double cpu = cpu_s() - c0;
    long n = atomic_load(&nlat);
    long k = n < MAX_SAMPLES ? n : MAX_SAMPLES;
    qsort(lat, (size_t)k, sizeof(double), cmp);
    printf("conc=%d requests=%ld seconds=%.2f rps=%.0f cpu_s=%.2f per_cpu_s=%.0f p50_us=%.0f p99_us=%.0f\n",
           conc, n, el, n / el, cpu, cpu > 0 ? n / cpu : 0.0, lat[k / 2] * 1e6, lat[(long)(k * 0.99)] * 1e6);
    free(lat);
    free(th);
    free(req);
    id_issuer_unref(issuer);
    return 0;
}
