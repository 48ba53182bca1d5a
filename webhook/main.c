/* cmesh-webhook: the proxy injector's admission server. Wiring only: the
 * decision and the patch live in inject.c/review.c, HTTPS in server.c. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mesh/admin.h"
#include "mesh/fswatch.h"
#include "mesh/k8s_client.h"
#include "mesh/k8s_config.h"
#include "mesh/log.h"
#include "mesh/mem.h"
#include "mesh/metrics.h"
#include "mesh/opts.h"
#include "mesh/signal.h"
#include "wh/cache.h"
#include "wh/review.h"
#include "wh/server.h"
#include "wh/values.h"

#ifndef CMESH_VERSION
#define CMESH_VERSION "0.0.0-unknown"
#endif

#define MOD "webhook"
#define SYNC_WAIT_MS 60000

static struct {
    char *addr, *admin_addr, *tls_cert, *tls_key, *config, *kubeconfig, *objects_dir;
    char *controller_ns, *anchors_file, *log_level, *log_format, *review;
    uint64_t threads;
} cfg;

static const mesh_opt_t options[] = {
    {"addr", MESH_OPT_STRING, &cfg.addr, ":8443", "HTTPS address for AdmissionReviews"},
    {"admin-addr", MESH_OPT_STRING, &cfg.admin_addr, ":9995", "admin address (/metrics /ready /live)"},
    {"tls-cert", MESH_OPT_STRING, &cfg.tls_cert, "/var/run/linkerd/tls/tls.crt", "serving certificate (PEM), reloaded on change"},
    {"tls-key", MESH_OPT_STRING, &cfg.tls_key, "/var/run/linkerd/tls/tls.key", "serving key (PEM), reloaded on change"},
    {"config", MESH_OPT_STRING, &cfg.config, "", "Helm values file (Linkerd keys) over the chart's defaults"},
    {"kubeconfig", MESH_OPT_STRING, &cfg.kubeconfig, "", "kubeconfig (default: in-cluster)"},
    {"objects-dir", MESH_OPT_STRING, &cfg.objects_dir, "", "read namespaces and owners from manifests here instead of an API server"},
    {"controller-namespace", MESH_OPT_STRING, &cfg.controller_ns, "linkerd", "control-plane namespace"},
    {"identity-trust-anchors-file", MESH_OPT_STRING, &cfg.anchors_file, "", "trust anchors PEM (overrides identityTrustAnchorsPEM)"},
    {"log-level", MESH_OPT_STRING, &cfg.log_level, "info", "log level"},
    {"log-format", MESH_OPT_STRING, &cfg.log_format, "plain", "plain or json"},
    {"threads", MESH_OPT_UINT, &cfg.threads, "2", "HTTPS worker threads", .min = 1, .max = 64},
    {"review", MESH_OPT_STRING, &cfg.review, "", "answer the AdmissionReview in this file ('-': stdin), print the reply and exit"},
    {NULL},
};

typedef struct app {
    wh_values_t values;
    wh_lookup_t lookup;
    char created_by[128];
    mesh_metrics_t *metrics;
    mesh_metric_family_t *responses; /* {result, skip_reason} */
    mesh_metric_family_t *requests;
    mesh_metric_family_t *latency;
    wh_cache_t *cache;
    wh_server_t *server;
} app_t;

static const double latency_bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void count(app_t *a, wh_review_result_t result, wh_decision_t decision)
{
    if (a->metrics == NULL)
        return;
    const char *reason = result == WH_RESULT_SKIPPED ? wh_decision_name(decision) : "";
    const char *vals[] = {wh_review_result_name(result), reason};
    mesh_metrics_inc(mesh_metrics_series(a->responses, vals));
}

static int on_review(const char *body, size_t len, wh_review_reply_t *reply, void *ud)
{
    app_t *a = ud;
    double t0 = now_s();
    mesh_metrics_inc(mesh_metrics_series(a->requests, NULL));
    if (wh_review_handle(&a->values, &a->lookup, a->created_by, body, len, reply) != 0) {
        mesh_log_error(MOD, "out of memory while answering a review");
        return -1;
    }
    count(a, reply->result, reply->decision);
    mesh_metrics_observe(mesh_metrics_series(a->latency, NULL), now_s() - t0);
    if (reply->result == WH_RESULT_INJECTED || reply->result == WH_RESULT_DENIED ||
        reply->result == WH_RESULT_BAD_REQUEST)
        mesh_log_info(MOD, "%s: %s", wh_review_result_name(reply->result), reply->message);
    else
        mesh_log_debug(MOD, "%s: %s", wh_review_result_name(reply->result), reply->message);
    return 0;
}

static void on_too_large(void *ud)
{
    app_t *a = ud;
    mesh_metrics_inc(mesh_metrics_series(a->requests, NULL));
    count(a, WH_RESULT_TOO_LARGE, WH_DECISION_COUNT);
}

static bool ready(void *ud)
{
    app_t *a = ud;
    return a->cache == NULL || wh_cache_synced(a->cache);
}

static void on_cert_change(void *ud)
{
    app_t *a = ud;
    char err[256];
    if (wh_server_reload(a->server, err, sizeof err) == 0)
        mesh_log_info(MOD, "reloaded the serving certificate");
    else
        mesh_log_warn(MOD, "certificate reload failed: %s", err);
}

static char *slurp(const char *path, size_t max, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (f == NULL)
        return NULL;
    mesh_buf_t b = MESH_BUF_INIT;
    char chunk[65536];
    size_t n;
    int ok = 1;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (b.len + n > max || mesh_buf_append(&b, chunk, n) < 0) {
            ok = 0;
            break;
        }
    if (f != stdin)
        fclose(f);
    if (!ok) {
        mesh_buf_free(&b);
        return NULL;
    }
    *len = b.len;
    return mesh_buf_steal(&b);
}

static mesh_k8s_source_t *open_source(mesh_k8s_client_t **client, mesh_k8s_config_t **kcfg)
{
    char err[512];
    if (cfg.objects_dir[0])
        return mesh_k8s_source_objdir(cfg.objects_dir, 0);
    int rc = cfg.kubeconfig[0]
                 ? mesh_k8s_config_from_kubeconfig(cfg.kubeconfig, NULL, kcfg, err, sizeof err)
                 : mesh_k8s_config_in_cluster(NULL, kcfg, err, sizeof err);
    if (rc < 0) {
        mesh_log_error(MOD, "kubernetes config: %s", err);
        return NULL;
    }
    *client = mesh_k8s_client_new(*kcfg, NULL);
    return *client ? mesh_k8s_source_api(*client) : NULL;
}

static int run_one_review(app_t *a)
{
    size_t len = 0;
    char *body = slurp(cfg.review, WH_REVIEW_BODY_MAX + 1, &len);
    if (body == NULL) {
        fprintf(stderr, "cmesh-webhook: cannot read %s\n", cfg.review);
        return 1;
    }
    wh_review_reply_t reply;
    int rc = 1;
    if (wh_review_handle(&a->values, &a->lookup, a->created_by, body, len, &reply) == 0) {
        printf("%d\n%s%s", reply.status, reply.body, reply.status == 200 ? "\n" : "");
        wh_review_reply_free(&reply);
        rc = 0;
    }
    mesh_free(body);
    return rc;
}

int main(int argc, char **argv)
{
    mesh_opts_parse_or_exit(options, argc, argv, "cmesh-webhook [options]");
    mesh_log_set_component("proxy-injector");
    if (mesh_log_set_filter(cfg.log_level) < 0 || mesh_log_set_format_str(cfg.log_format) < 0) {
        fprintf(stderr, "cmesh-webhook: bad --log-level or --log-format\n");
        return 2;
    }
    app_t a = {0};
    int rc = 1;
    char err[512];
    mesh_k8s_client_t *client = NULL;
    mesh_k8s_config_t *kcfg = NULL;
    mesh_k8s_source_t *src = NULL;
    mesh_admin_t *admin = NULL;
    mesh_fswatch_t *watch = NULL;

    if (wh_values_load_file(&a.values, cfg.config[0] ? cfg.config : NULL, err, sizeof err) < 0) {
        fprintf(stderr, "cmesh-webhook: %s\n", err);
        goto out_opts;
    }
    a.values.control_plane_ns = cfg.controller_ns;
    if (cfg.anchors_file[0]) {
        size_t n;
        char *pem = slurp(cfg.anchors_file, 1 << 20, &n);
        if (pem == NULL || wh_values_set_anchors(&a.values, pem) < 0) {
            fprintf(stderr, "cmesh-webhook: cannot read %s\n", cfg.anchors_file);
            mesh_free(pem);
            goto out_values;
        }
        mesh_free(pem);
    }
    snprintf(a.created_by, sizeof a.created_by, "cmesh/proxy-injector %s", CMESH_VERSION);

    if (cfg.review[0]) {
        /* Offline: namespaces and owners from --objects-dir, if given. */
        if (cfg.objects_dir[0]) {
            src = mesh_k8s_source_objdir(cfg.objects_dir, 0);
            a.cache = src ? wh_cache_new(src) : NULL;
            if (a.cache == NULL || wh_cache_start(a.cache) < 0 ||
                !wh_cache_wait_synced(a.cache, SYNC_WAIT_MS)) {
                fprintf(stderr, "cmesh-webhook: cannot read %s\n", cfg.objects_dir);
                goto out_cache;
            }
            a.lookup = wh_cache_lookup(a.cache);
        }
        rc = run_one_review(&a);
        goto out_cache;
    }

    if (a.values.trust_anchors_pem[0] == '\0') {
        fprintf(stderr, "cmesh-webhook: no trust anchors: set identityTrustAnchorsPEM in --config "
                        "or --identity-trust-anchors-file\n");
        goto out_values;
    }
    if (mesh_signal_install() < 0)
        goto out_values;
    a.metrics = mesh_metrics_new();
    static const char *const resp_labels[] = {"result", "skip_reason", NULL};
    a.responses = a.metrics ? mesh_metrics_counter(a.metrics, "proxy_inject_admission_responses_total",
                                                   "AdmissionReviews answered, by result and skip reason",
                                                   resp_labels)
                            : NULL;
    a.requests = a.metrics ? mesh_metrics_counter(a.metrics, "proxy_inject_admission_requests_total",
                                                  "AdmissionReviews received", NULL)
                           : NULL;
    a.latency = a.metrics ? mesh_metrics_histogram(a.metrics, "proxy_inject_admission_duration_seconds",
                                                   "Time to answer one AdmissionReview", NULL,
                                                   latency_bounds, MESH_ARRAY_LEN(latency_bounds))
                          : NULL;
    if (a.responses == NULL || a.requests == NULL || a.latency == NULL)
        goto out_metrics;
    mesh_metrics_enable_process(a.metrics, true);

    src = open_source(&client, &kcfg);
    a.cache = src ? wh_cache_new(src) : NULL;
    if (a.cache == NULL || wh_cache_start(a.cache) < 0) {
        mesh_log_error(MOD, "cannot start the namespace and owner informers");
        goto out_cache;
    }
    a.lookup = wh_cache_lookup(a.cache);

    admin = mesh_admin_new(a.metrics);
    if (admin == NULL)
        goto out_cache;
    mesh_admin_set_ready(admin, ready, &a);
    int arc = mesh_admin_start(admin, cfg.admin_addr);
    if (arc != 0) {
        mesh_log_error(MOD, "admin server on %s: %s", cfg.admin_addr, mesh_admin_strerror(arc));
        goto out_admin;
    }
    wh_server_opts_t so = {
        .addr = cfg.addr, .cert_file = cfg.tls_cert, .key_file = cfg.tls_key,
        .threads = (unsigned)cfg.threads, .handler = on_review, .on_too_large = on_too_large,
        .ud = &a,
    };
    a.server = wh_server_start(&so, err, sizeof err);
    if (a.server == NULL) {
        mesh_log_error(MOD, "%s", err);
        goto out_admin;
    }
    /* Watch the certificate's directory (a mounted Secret swaps ..data). */
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", cfg.tls_cert);
    char *slash = strrchr(dir, '/');
    const char *files[3] = {NULL, NULL, NULL};
    if (slash != NULL) {
        *slash = '\0';
        files[0] = slash + 1;
        const char *kslash = strrchr(cfg.tls_key, '/');
        if (kslash != NULL && (size_t)(kslash - cfg.tls_key) == strlen(dir) &&
            strncmp(cfg.tls_key, dir, strlen(dir)) == 0)
            files[1] = kslash + 1;
    } else {
        snprintf(dir, sizeof dir, ".");
        files[0] = cfg.tls_cert;
    }
    mesh_fswatch_config_t fw = {.dir = dir, .files = files, .on_change = on_cert_change, .ud = &a};
    watch = mesh_fswatch_start(&fw);
    if (watch == NULL)
        mesh_log_warn(MOD, "cannot watch %s: certificates will not be reloaded", dir);

    mesh_log_info(MOD, "serving AdmissionReviews on %s (port %u), admin on %s (port %u)", cfg.addr,
                  wh_server_port(a.server), cfg.admin_addr, mesh_admin_port(admin));
    mesh_signal_wait(-1);
    mesh_log_info(MOD, "shutting down");
    rc = 0;

    mesh_fswatch_stop(watch);
    wh_server_stop(a.server);
out_admin:
    mesh_admin_free(admin);
out_cache:
    wh_cache_free(a.cache);
    mesh_k8s_source_free(src);
    mesh_k8s_client_free(client);
    mesh_k8s_config_free(kcfg);
out_metrics:
    mesh_metrics_free(a.metrics);
out_values:
    wh_values_free(&a.values);
out_opts:
    mesh_opts_free(options);
    return rc;
}
