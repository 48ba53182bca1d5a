/* The identity service's state and rotation; see id/service.h. */
#include "id/service.h"

#include <libgen.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "id/name.h"
#include "mesh/buf.h"
#include "mesh/fswatch.h"
#include "mesh/log.h"
#include "mesh/mem.h"
#include "mesh/pki.h"

#define MOD "identity"

struct id_service {
    id_service_config_t cfg;          /* borrowed strings */
    id_certify_config_t certify;      /* derived from cfg */
    pthread_mutex_t lock;             /* guards `current` (pointer swap only) */
    id_issuer_t *current;             /* the slot's reference */
    pthread_mutex_t reload_lock;      /* one reload at a time (two watchers) */
    atomic_uint_least64_t generation; /* installed issuers */
    char name[ID_NAME_MAX + 1];       /* own identity */
    char anchors_dir[4096];           /* directory of anchors_path */
    const char *anchors_file[2];      /* {basename, NULL} for the watcher */
    char anchors_base[256];
    mesh_fswatch_t *issuer_watch;
    mesh_fswatch_t *anchors_watch;
    /* metrics: NULL without a registry */
    mesh_metric_family_t *requests;
    mesh_metric_t *by_code[5];        /* OK, InvalidArgument, FailedPrecondition, Internal, Unavailable */
    mesh_metric_t *reload_ok, *reload_refused;
    mesh_metric_t *ttl;
};

static const id_code_t codes[] = {ID_OK, ID_INVALID_ARGUMENT, ID_FAILED_PRECONDITION, ID_INTERNAL,
                                  ID_UNAVAILABLE};

static void metrics_init(id_service_t *svc)
{
    mesh_metrics_t *r = svc->cfg.metrics;
    if (r == NULL)
        return;
    static const char *const code_label[] = {"grpc_code", NULL};
    static const char *const result_label[] = {"result", NULL};
    svc->requests = mesh_metrics_counter(r, "identity_certify_requests_total",
                                         "Certify calls by gRPC status code", code_label);
    if (svc->requests != NULL)
        for (size_t i = 0; i < MESH_ARRAY_LEN(codes); i++) {
            const char *v[] = {id_code_name(codes[i]), NULL};
            svc->by_code[i] = mesh_metrics_series(svc->requests, v);
        }
    mesh_metric_family_t *rl = mesh_metrics_counter(r, "identity_issuer_reloads_total",
                                                    "Issuer reloads by result (ok, refused)",
                                                    result_label);
    if (rl != NULL) {
        const char *ok[] = {"ok", NULL}, *bad[] = {"refused", NULL};
        svc->reload_ok = mesh_metrics_series(rl, ok);
        svc->reload_refused = mesh_metrics_series(rl, bad);
    }
    mesh_metric_family_t *ttl = mesh_metrics_gauge(r, "issuer_cert_ttl_seconds",
                                                   "Seconds until the issuer certificate (or its chain) expires",
                                                   NULL);
    if (ttl != NULL)
        svc->ttl = mesh_metrics_series(ttl, NULL);
}

static void install(id_service_t *svc, id_issuer_t *iss)
{
    pthread_mutex_lock(&svc->lock);
    id_issuer_t *old = svc->current;
    svc->current = iss;
    pthread_mutex_unlock(&svc->lock);
    atomic_fetch_add(&svc->generation, 1);
    /* Requests still holding `old` keep it alive until they finish. */
    id_issuer_unref(old);
    if (svc->ttl != NULL)
        mesh_metrics_set(svc->ttl, (double)(id_issuer_not_after(iss) - time(NULL)));
}

static int load(id_service_t *svc, id_issuer_t **out, char *err, size_t errlen)
{
    return id_issuer_load(svc->cfg.issuer_dir, svc->cfg.scheme, svc->cfg.anchors_path, time(NULL), out,
                          err, errlen);
}

id_service_t *id_service_new(const id_service_config_t *cfg, char *err, size_t errlen)
{
    id_service_t *svc = mesh_calloc(1, sizeof(*svc));
    if (svc == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    svc->cfg = *cfg;
    pthread_mutex_init(&svc->lock, NULL);
    pthread_mutex_init(&svc->reload_lock, NULL);
    svc->certify = (id_certify_config_t){cfg->controller_ns, cfg->trust_domain, cfg->lifetime,
                                         cfg->review, cfg->review_user};
    if (id_name_make(svc->name, sizeof(svc->name), cfg->service_account, cfg->controller_ns,
                     cfg->controller_ns, cfg->trust_domain) < 0) {
        snprintf(err, errlen, "service identity is longer than %d bytes", ID_NAME_MAX);
        goto fail;
    }
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s", cfg->anchors_path);
    snprintf(svc->anchors_dir, sizeof(svc->anchors_dir), "%s", dirname(tmp));
    snprintf(tmp, sizeof(tmp), "%s", cfg->anchors_path);
    snprintf(svc->anchors_base, sizeof(svc->anchors_base), "%s", basename(tmp));
    svc->anchors_file[0] = svc->anchors_base;
    svc->anchors_file[1] = NULL;

    id_issuer_t *iss = NULL;
    if (load(svc, &iss, err, errlen) != 0)
        goto fail;
    metrics_init(svc);
    install(svc, iss);
    return svc;
fail:
    pthread_mutex_destroy(&svc->lock);
    pthread_mutex_destroy(&svc->reload_lock);
    mesh_free(svc);
    return NULL;
}

int id_service_reload(id_service_t *svc)
{
    char err[512];
    id_issuer_t *iss = NULL;
    pthread_mutex_lock(&svc->reload_lock);
    int rc = load(svc, &iss, err, sizeof(err));
    if (rc == 0) {
        install(svc, iss);
        mesh_log_info(MOD, "issuer updated: sha256 %s, expires in %lds", id_issuer_fingerprint(iss),
                      (long)(id_issuer_not_after(iss) - time(NULL)));
        if (svc->reload_ok)
            mesh_metrics_inc(svc->reload_ok);
    } else {
        mesh_log_warn(MOD, "new issuer refused, keeping the current one: %s", err);
        if (svc->reload_refused)
            mesh_metrics_inc(svc->reload_refused);
    }
    pthread_mutex_unlock(&svc->reload_lock);
    return rc;
}

static void on_change(void *ud)
{
    id_service_reload(ud);
}

int id_service_watch_start(id_service_t *svc)
{
    static const char *const files[3][3] = {
        {"crt.pem", "key.pem", NULL},
        {"tls.crt", "tls.key", NULL},
    };
    mesh_fswatch_config_t wc = {svc->cfg.issuer_dir, files[svc->cfg.scheme == ID_SCHEME_K8S ? 1 : 0],
                                0, svc->cfg.recheck_ms, on_change, svc};
    svc->issuer_watch = mesh_fswatch_start(&wc);
    if (svc->issuer_watch == NULL)
        return -1;
    mesh_fswatch_config_t ac = {svc->anchors_dir, svc->anchors_file, 0, svc->cfg.recheck_ms, on_change, svc};
    svc->anchors_watch = mesh_fswatch_start(&ac);
    return svc->anchors_watch ? 0 : -1;
}

id_issuer_t *id_service_issuer(id_service_t *svc)
{
    pthread_mutex_lock(&svc->lock);
    id_issuer_t *iss = id_issuer_ref(svc->current);
    pthread_mutex_unlock(&svc->lock);
    return iss;
}

void id_service_certify(id_service_t *svc, const uint8_t *req, size_t len, id_certify_result_t *res)
{
    id_issuer_t *iss = id_service_issuer(svc);
    id_certify(&svc->certify, iss, req, len, time(NULL), res);
    id_issuer_unref(iss);
    for (size_t i = 0; i < MESH_ARRAY_LEN(codes); i++)
        if (codes[i] == res->code && svc->by_code[i] != NULL)
            mesh_metrics_inc(svc->by_code[i]);
}

bool id_service_ready(id_service_t *svc)
{
    id_issuer_t *iss = id_service_issuer(svc);
    time_t now = time(NULL);
    bool ok = id_issuer_usable(iss, now);
    if (svc->ttl != NULL && iss != NULL)
        mesh_metrics_set(svc->ttl, (double)(id_issuer_not_after(iss) - now));
    id_issuer_unref(iss);
    return ok;
}

const char *id_service_name(const id_service_t *svc)
{
    return svc->name;
}

uint64_t id_service_generation(id_service_t *svc)
{
    return atomic_load(&svc->generation);
}

int id_service_serving_cert(id_service_t *svc, char **cert_pem, char **key_pem, time_t *not_after,
                            uint64_t *issuer_generation)
{
    *cert_pem = *key_pem = NULL;
    uint64_t gen = id_service_generation(svc);
    id_issuer_t *iss = id_service_issuer(svc);
    EVP_PKEY *key = mesh_pki_key_generate_p256();
    X509 *leaf = NULL;
    id_leaf_t out = {0};
    mesh_buf_t chain = MESH_BUF_INIT;
    int rc = -1;
    if (key == NULL)
        goto out;
    if (id_ca_sign_cert(iss, key, svc->name, time(NULL), &svc->cfg.lifetime, &out, &leaf) != ID_OK)
        goto out;
    char *pem = mesh_pki_cert_pem(leaf, NULL);
    if (pem == NULL)
        goto out;
    int bad = mesh_buf_appends(&chain, pem);
    mesh_free(pem);
    /* Clients verify up to the anchors, so the issuer chain follows the leaf. */
    for (size_t i = 0; i < id_issuer_chain_len(iss) && !bad; i++) {
        size_t n;
        const unsigned char *d = id_issuer_chain_der(iss, i, &n);
        X509 *c = d2i_X509(NULL, &d, (long)n);
        pem = c ? mesh_pki_cert_pem(c, NULL) : NULL;
        X509_free(c);
        bad = pem == NULL || mesh_buf_appends(&chain, pem) != 0;
        mesh_free(pem);
    }
    if (bad)
        goto out;
    *key_pem = mesh_pki_key_pem(key, NULL);
    if (*key_pem == NULL)
        goto out;
    *cert_pem = mesh_buf_steal(&chain);
    if (*cert_pem == NULL) {
        MESH_FREE(key_pem);
        goto out;
    }
    *not_after = out.not_after;
    if (issuer_generation != NULL)
        *issuer_generation = gen;
    rc = 0;
out:
    mesh_buf_free(&chain);
    id_leaf_free(&out);
    X509_free(leaf);
    EVP_PKEY_free(key);
    id_issuer_unref(iss);
    return rc;
}

void id_service_free(id_service_t *svc)
{
    if (svc == NULL)
        return;
    mesh_fswatch_stop(svc->issuer_watch);
    mesh_fswatch_stop(svc->anchors_watch);
    id_issuer_unref(svc->current);
    pthread_mutex_destroy(&svc->lock);
    pthread_mutex_destroy(&svc->reload_lock);
    mesh_free(svc);
}
