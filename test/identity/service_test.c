/* id_service: load at start, rotation through a kubelet-style "..data" swap,
 * refusal of bad issuers, requests during swaps. */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/x509v3.h>

#include "id/service.h"
#include "idfix.h"
#include "mesh/pki.h"

#define ID "web.emojivoto.serviceaccount.identity.cmesh.cluster.local"
#define DAY 86400L

static id_code_t review_web(void *user, const uint8_t *token, size_t len, id_review_t *out)
{
    (void)user;
    (void)token;
    (void)len;
    out->authenticated = 1;
    snprintf(out->username, sizeof(out->username), "system:serviceaccount:emojivoto:web");
    return ID_OK;
}

typedef struct env {
    char root[64];
    char issuer_dir[256];
    char anchors[256];
    int version;
} env_t;

/* Writes an issuer version the way the kubelet does: a new hidden
 * directory, then an atomic rename of a fresh "..data" symlink. */
static void kubelet_write(env_t *e, X509 *cert, EVP_PKEY *key)
{
    char dir[300], path[400], link[300], tmp[400];
    snprintf(dir, sizeof(dir), "%s/..v%d", e->issuer_dir, ++e->version);
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    snprintf(path, sizeof(path), "%s/crt.pem", dir);
    idfix_write_cert(path, cert);
    snprintf(path, sizeof(path), "%s/key.pem", dir);
    idfix_write_key(path, key);
    snprintf(tmp, sizeof(tmp), "%s/..data_tmp", e->issuer_dir);
    snprintf(link, sizeof(link), "..v%d", e->version);
    ck_assert_int_eq(symlink(link, tmp), 0);
    snprintf(path, sizeof(path), "%s/..data", e->issuer_dir);
    ck_assert_int_eq(rename(tmp, path), 0);
    if (e->version == 1) {
        snprintf(path, sizeof(path), "%s/crt.pem", e->issuer_dir);
        ck_assert_int_eq(symlink("..data/crt.pem", path), 0);
        snprintf(path, sizeof(path), "%s/key.pem", e->issuer_dir);
        ck_assert_int_eq(symlink("..data/key.pem", path), 0);
    }
}

static void env_init(env_t *e, idfix_pki_t *p)
{
    memset(e, 0, sizeof(*e));
    snprintf(e->root, sizeof(e->root), "/tmp/idsvc-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(e->root));
    snprintf(e->issuer_dir, sizeof(e->issuer_dir), "%s/issuer", e->root);
    ck_assert_int_eq(mkdir(e->issuer_dir, 0755), 0);
    char d[200];
    snprintf(d, sizeof(d), "%s/roots", e->root);
    ck_assert_int_eq(mkdir(d, 0755), 0);
    snprintf(e->anchors, sizeof(e->anchors), "%s/ca-bundle.crt", d);
    idfix_write_cert(e->anchors, p->anchor);
    kubelet_write(e, p->issuer, p->issuer_key);
}

static void env_free(env_t *e)
{
    char cmd[200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->root);
    ck_assert_int_eq(system(cmd), 0);
}

static id_service_config_t make_cfg(env_t *e, mesh_metrics_t *m)
{
    id_service_config_t c = {e->issuer_dir, ID_SCHEME_LINKERD, e->anchors, "cmesh", "cluster.local",
                             "cmesh-identity", {DAY, 20}, review_web, NULL, m, 200};
    return c;
}

static uint64_t wait_generation(id_service_t *svc, uint64_t above, int ms)
{
    for (int i = 0; i < ms / 10; i++) {
        uint64_t g = id_service_generation(svc);
        if (g > above)
            return g;
        usleep(10000);
    }
    return id_service_generation(svc);
}

START_TEST(test_service_start_refusals)
{
    time_t now = time(NULL);
    idfix_pki_t p, other;
    idfix_pki_make(&p, now, 365 * DAY, 30 * DAY);
    idfix_pki_make(&other, now, 365 * DAY, 30 * DAY);
    env_t e;
    env_init(&e, &p);
    char err[512];
    id_service_config_t cfg = make_cfg(&e, NULL);
    id_service_t *svc = id_service_new(&cfg, err, sizeof(err));
    ck_assert_msg(svc != NULL, "%s", err);
    ck_assert_str_eq(id_service_name(svc), "cmesh-identity.cmesh.serviceaccount.identity.cmesh.cluster.local");
    ck_assert(id_service_ready(svc));
    /* Its serving certificate chains to the anchors with its own name. */
    char *cert_pem, *key_pem;
    time_t na;
    ck_assert_int_eq(id_service_serving_cert(svc, &cert_pem, &key_pem, &na, NULL), 0);
    STACK_OF(X509) *certs = mesh_pki_certs_parse(cert_pem, strlen(cert_pem), err, sizeof(err));
    ck_assert_int_eq(sk_X509_num(certs), 2);
    X509 *leaf = sk_X509_shift(certs);
    ck_assert_int_eq(X509_check_host(leaf, id_service_name(svc), 0, 0, NULL), 1);
    ck_assert_msg(mesh_pki_verify(leaf, certs, p.anchors, 0, err, sizeof(err)) == 0, "%s", err);
    EVP_PKEY *k = mesh_pki_key_parse(key_pem, strlen(key_pem), err, sizeof(err));
    ck_assert(mesh_pki_key_matches(leaf, k));
    ck_assert(na >= now + DAY + 20 && na <= time(NULL) + DAY + 20);
    EVP_PKEY_free(k);
    X509_free(leaf);
    sk_X509_pop_free(certs, X509_free);
    free(cert_pem);
    free(key_pem);
    id_service_free(svc);

    /* Wrong key at start: refused with a clear reason. */
    kubelet_write(&e, p.issuer, other.issuer_key);
    ck_assert_ptr_null(id_service_new(&cfg, err, sizeof(err)));
    ck_assert_msg(strstr(err, "does not match") != NULL, "%s", err);
    /* Not chained. */
    kubelet_write(&e, other.issuer, other.issuer_key);
    ck_assert_ptr_null(id_service_new(&cfg, err, sizeof(err)));
    ck_assert_msg(strstr(err, "does not verify") != NULL, "%s", err);
    /* Missing directory. */
    cfg.issuer_dir = "/nonexistent/issuer";
    ck_assert_ptr_null(id_service_new(&cfg, err, sizeof(err)));
    ck_assert_msg(strstr(err, "/nonexistent/issuer/crt.pem") != NULL, "%s", err);
    env_free(&e);
    idfix_pki_free(&p);
    idfix_pki_free(&other);
}
END_TEST

struct loop_arg {
    id_service_t *svc;
    const uint8_t *req;
    size_t len;
    atomic_int stop;
    atomic_int ok, failed;
};

static void *certify_loop(void *ap)
{
    struct loop_arg *a = ap;
    while (!atomic_load(&a->stop)) {
        id_certify_result_t res;
        id_service_certify(a->svc, a->req, a->len, &res);
        if (res.code == ID_OK)
            atomic_fetch_add(&a->ok, 1);
        else
            atomic_fetch_add(&a->failed, 1);
        id_certify_result_free(&res);
    }
    return NULL;
}

START_TEST(test_service_rotation)
{
    time_t now = time(NULL);
    idfix_pki_t p;
    idfix_pki_make(&p, now, 365 * DAY, 30 * DAY);
    env_t e;
    env_init(&e, &p);
    mesh_metrics_t *m = mesh_metrics_new();
    char err[512];
    id_service_config_t cfg = make_cfg(&e, m);
    id_service_t *svc = id_service_new(&cfg, err, sizeof(err));
    ck_assert_msg(svc != NULL, "%s", err);
    ck_assert_int_eq(id_service_watch_start(svc), 0);
    uint64_t g0 = id_service_generation(svc);

    idfix_csr_t spec = {IDFIX_P256, ID, "DNS:" ID, 0, 0};
    size_t clen, rlen;
    unsigned char *csr = idfix_csr_der(&spec, &clen, NULL);
    uint8_t *req = idfix_request(ID, "web", csr, clen, &rlen);
    struct loop_arg a = {svc, req, rlen};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, certify_loop, &a);

    /* A new issuer from the same anchor, swapped in atomically. */
    EVP_PKEY *k2 = mesh_pki_key_generate_p256();
    mesh_pki_cert_spec_t s2 = {"issuer-2", NULL, 0, 1, 0, now - 60, now + 20 * DAY};
    X509 *i2 = mesh_pki_cert_make(&s2, k2, p.anchor, p.anchor_key, err, sizeof(err));
    kubelet_write(&e, i2, k2);
    uint64_t g1 = wait_generation(svc, g0, 5000);
    ck_assert_uint_gt(g1, g0);
    id_issuer_t *cur = id_service_issuer(svc);
    ck_assert_int_eq(X509_cmp(id_issuer_cert(cur), i2), 0);
    id_issuer_unref(cur);
    /* Leaves now chain to the new issuer. */
    id_certify_result_t res;
    id_service_certify(svc, req, rlen, &res);
    ck_assert_int_eq(res.code, ID_OK);
    ck_assert(res.not_after >= now + DAY + 20 && res.not_after <= time(NULL) + DAY + 20);
    id_certify_result_free(&res);

    /* A bad issuer written in place, non-atomically: a CA not chained to
     * the anchors. Refused; the current issuer stays. */
    idfix_pki_t other;
    idfix_pki_make(&other, now, 365 * DAY, 30 * DAY);
    char path[300];
    snprintf(path, sizeof(path), "%s/..v%d/crt.pem", e.issuer_dir, e.version);
    idfix_write_cert(path, other.issuer);
    snprintf(path, sizeof(path), "%s/..v%d/key.pem", e.issuer_dir, e.version);
    idfix_write_key(path, other.issuer_key);
    /* Wait on the refusal being counted, not on time. */
    char *text = NULL;
    for (int i = 0; i < 500; i++) {
        mesh_buf_t b = MESH_BUF_INIT;
        ck_assert_int_eq(mesh_metrics_render(m, &b), 0);
        text = mesh_buf_steal(&b);
        if (strstr(text, "identity_issuer_reloads_total{result=\"refused\"} 0") == NULL)
            break;
        free(text);
        text = NULL;
        usleep(10000);
    }
    ck_assert_msg(text != NULL, "no refusal counted");
    ck_assert_msg(strstr(text, "identity_issuer_reloads_total{result=\"ok\"} 1") != NULL, "%s", text);
    ck_assert_ptr_nonnull(strstr(text, "issuer_cert_ttl_seconds"));
    free(text);
    cur = id_service_issuer(svc);
    ck_assert_int_eq(X509_cmp(id_issuer_cert(cur), i2), 0);
    id_issuer_unref(cur);

    atomic_store(&a.stop, 1);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    ck_assert_int_gt(atomic_load(&a.ok), 0);
    ck_assert_int_eq(atomic_load(&a.failed), 0);

    mesh_buf_t b = MESH_BUF_INIT;
    ck_assert_int_eq(mesh_metrics_render(m, &b), 0);
    ck_assert_msg(strstr(b.base, "identity_certify_requests_total{grpc_code=\"OK\"}") != NULL, "%s", b.base);
    mesh_buf_free(&b);

    id_service_free(svc);
    mesh_metrics_free(m);
    X509_free(i2);
    EVP_PKEY_free(k2);
    free(req);
    free(csr);
    env_free(&e);
    idfix_pki_free(&other);
    idfix_pki_free(&p);
}
END_TEST

Suite *service_suite(void)
{
    Suite *s = suite_create("service");
    TCase *tc = tcase_create("rotation");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_service_start_refusals);
    tcase_add_test(tc, test_service_rotation);
    suite_add_tcase(s, tc);
    return s;
}
