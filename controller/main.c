/* cmesh-destination: wiring only. Discovery state lives in watcher.c, the
 * gRPC handlers in service.c, translation in endpoints.c and profile.c. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "dst/service.h"
#include "dst/watcher.h"
#include "mesh/admin.h"
#include "mesh/grpc_server.h"
#include "mesh/k8s_client.h"
#include "mesh/k8s_config.h"
#include "mesh/k8s_informer.h"
#include "mesh/log.h"
#include "mesh/mem.h"
#include "mesh/metrics.h"
#include "mesh/opts.h"
#include "mesh/signal.h"

#define MOD "destination"
/* How often the main loop expires streams waiting for sync and refreshes metrics. */
#define TICK_MS 100

static struct {
    char *addr, *admin_addr, *tls_cert, *tls_key, *kubeconfig, *objects_dir;
    char *controller_ns, *cluster_domain, *trust_domain, *opaque_ports, *log_level, *log_format;
    bool insecure, h2_upgrade;
    uint64_t queue_capacity, workers;
} cfg;

static const mesh_opt_t options[] = {
    {"addr", MESH_OPT_STRING, &cfg.addr, ":8086", "gRPC address of the Destination API"},
    {"admin-addr", MESH_OPT_STRING, &cfg.admin_addr, ":9996", "admin address (/metrics /ready /live)"},
    {"tls-cert", MESH_OPT_STRING, &cfg.tls_cert, "", "serving certificate (PEM)"},
    {"tls-key", MESH_OPT_STRING, &cfg.tls_key, "", "serving key (PEM)"},
    {"insecure", MESH_OPT_BOOL, &cfg.insecure, "false", "serve plaintext gRPC (no --tls-cert/--tls-key)"},
    {"kubeconfig", MESH_OPT_STRING, &cfg.kubeconfig, "", "kubeconfig (default: in-cluster)"},
    {"objects-dir", MESH_OPT_STRING, &cfg.objects_dir, "", "read objects from manifests here instead of an API server"},
    {"controller-namespace", MESH_OPT_STRING, &cfg.controller_ns, "cmesh", "control-plane namespace"},
    {"cluster-domain", MESH_OPT_STRING, &cfg.cluster_domain, "cluster.local", "cluster DNS domain"},
    {"identity-trust-domain", MESH_OPT_STRING, &cfg.trust_domain, "cluster.local", "trust domain of workload identities ('' = no identities)"},
    {"default-opaque-ports", MESH_OPT_STRING, &cfg.opaque_ports, "25,587,3306,4444,5432,6379,9300,11211", "ports treated as opaque unless annotated"},
    {"enable-h2-upgrade", MESH_OPT_BOOL, &cfg.h2_upgrade, "true", "hint h2 for meshed endpoints"},
    {"stream-queue-capacity", MESH_OPT_UINT, &cfg.queue_capacity, "100", "updates queued per stream before it is ended", .min = 1, .max = 65536},
    {"workers", MESH_OPT_UINT, &cfg.workers, "2", "gRPC handler threads", .min = 1, .max = 64},
    {"log-level", MESH_OPT_STRING, &cfg.log_level, "info", "log level"},
    {"log-format", MESH_OPT_STRING, &cfg.log_format, "plain", "plain or json"},
    {NULL},
};

typedef struct feed {
    dst_watcher_t *w;
    dst_res_t res;
    const char *version; /* TrafficSplit: stamped on each object */
} feed_t;

static json_t *stamp(const feed_t *f, const json_t *o)
{
    if (f->version == NULL || o == NULL)
        return json_incref((json_t *)o);
    json_t *c = json_copy((json_t *)o);
    if (c)
        json_object_set_new(c, "apiVersion", json_string(f->version));
    return c;
}

static void feed_apply(const feed_t *f, const json_t *old, const json_t *obj)
{
    json_t *o = stamp(f, old), *n = stamp(f, obj);
    dst_watcher_apply(f->w, f->res, o, n);
    json_decref(o);
    json_decref(n);
}

static void on_add(const json_t *obj, void *ud) { feed_apply(ud, NULL, obj); }
static void on_update(const json_t *old, const json_t *obj, void *ud) { feed_apply(ud, old, obj); }
static void on_delete(const json_t *obj, void *ud) { feed_apply(ud, obj, NULL); }

static bool ready(void *ud) { return dst_watcher_synced(ud); }

static mesh_k8s_source_t *open_source(mesh_k8s_client_t **client, mesh_k8s_config_t **kcfg)
{
    char err[512];
    if (cfg.objects_dir[0])
        return mesh_k8s_source_objdir(cfg.objects_dir, 0);
    int rc = cfg.kubeconfig[0] ? mesh_k8s_config_from_kubeconfig(cfg.kubeconfig, NULL, kcfg, err, sizeof err)
                               : mesh_k8s_config_in_cluster(NULL, kcfg, err, sizeof err);
    if (rc < 0) {
        mesh_log_error(MOD, "kubernetes config: %s", err);
        return NULL;
    }
    mesh_k8s_client_opts_t co = {.user_agent = "cmesh-destination/" CMESH_VERSION};
    *client = mesh_k8s_client_new(*kcfg, &co);
    return *client ? mesh_k8s_source_api(*client) : NULL;
}

int main(int argc, char **argv)
{
    mesh_opts_parse_or_exit(options, argc, argv, "cmesh-destination [options]");
    mesh_log_set_component("destination");
    if (mesh_log_set_filter(cfg.log_level) < 0 || mesh_log_set_format_str(cfg.log_format) < 0) {
        fprintf(stderr, "cmesh-destination: bad --log-level or --log-format\n");
        return 2;
    }
    int tls = cfg.tls_cert[0] || cfg.tls_key[0];
    if (tls == cfg.insecure || (tls && !(cfg.tls_cert[0] && cfg.tls_key[0]))) {
        fprintf(stderr, "cmesh-destination: give both --tls-cert and --tls-key, or --insecure\n");
        return 2;
    }
    int rc = 1;
    mesh_k8s_client_t *client = NULL;
    mesh_k8s_config_t *kcfg = NULL;
    mesh_k8s_source_t *src = NULL;
    mesh_k8s_factory_t *fac = NULL;
    mesh_grpc_server_t *srv = NULL;
    mesh_admin_t *admin = NULL;
    mesh_metrics_t *metrics = NULL;
    dst_config_t dc = {cfg.controller_ns, cfg.trust_domain, cfg.cluster_domain, cfg.opaque_ports, cfg.h2_upgrade};
    dst_watcher_t *w = dst_watcher_new(&dc);
    dst_service_t svc = {w, cfg.cluster_domain};
    if (w == NULL || mesh_signal_install() != 0)
        goto out;

    static const struct { mesh_k8s_resource_t r; dst_res_t res; } kinds[] = {
        {{"", "v1", "services", "Service"}, DST_RES_SERVICE},
        {{"discovery.k8s.io", "v1", "endpointslices", "EndpointSlice"}, DST_RES_SLICE},
        {{"", "v1", "pods", "Pod"}, DST_RES_POD},
        {{"apps", "v1", "replicasets", "ReplicaSet"}, DST_RES_REPLICASET},
        {{"batch", "v1", "jobs", "Job"}, DST_RES_JOB},
        {{"linkerd.io", "v1alpha2", "serviceprofiles", "ServiceProfile"}, DST_RES_PROFILE},
        {{"split.smi-spec.io", "v1alpha1", "trafficsplits", "TrafficSplit"}, DST_RES_SPLIT},
        {{"split.smi-spec.io", "v1alpha2", "trafficsplits", "TrafficSplit"}, DST_RES_SPLIT},
    };
    static feed_t feeds[MESH_ARRAY_LEN(kinds)];
    if ((src = open_source(&client, &kcfg)) == NULL || (fac = mesh_k8s_factory_new(src)) == NULL)
        goto out;
    for (size_t i = 0; i < MESH_ARRAY_LEN(kinds); i++) {
        feeds[i] = (feed_t){w, kinds[i].res, kinds[i].res == DST_RES_SPLIT ? kinds[i].r.version : NULL};
        if (feeds[i].version) {
            static char vbuf[2][64];
            snprintf(vbuf[i & 1], sizeof vbuf[0], "%s/%s", kinds[i].r.group, kinds[i].r.version);
            feeds[i].version = vbuf[i & 1];
        }
        mesh_k8s_informer_opts_t io = {.res = kinds[i].r, .transform = dst_watcher_transform,
                                       .transform_ud = (void *)(intptr_t)kinds[i].res};
        mesh_k8s_informer_t *inf = mesh_k8s_factory_informer(fac, &io);
        mesh_k8s_handler_t h = {on_add, on_update, on_delete, NULL, &feeds[i]};
        if (inf == NULL || mesh_k8s_informer_add_handler(inf, &h) != 0) {
            mesh_log_error(MOD, "cannot watch %s", kinds[i].r.resource);
            goto out;
        }
    }

    metrics = mesh_metrics_new();
    mesh_metric_family_t *f_open = mesh_metrics_gauge(metrics, "destination_streams_open", "Get and GetProfile streams open", NULL);
    mesh_metric_family_t *f_topics = mesh_metrics_gauge(metrics, "destination_targets_watched", "distinct targets with subscribers", NULL);
    mesh_metric_family_t *f_sent = mesh_metrics_counter(metrics, "destination_updates_sent", "messages queued on streams", NULL);
    mesh_metric_family_t *f_over = mesh_metrics_counter(metrics, "endpoint_updates_queue_overflow", "streams ended because their update queue was full", NULL);
    if (!metrics || !f_open || !f_topics || !f_sent || !f_over || (admin = mesh_admin_new(metrics)) == NULL)
        goto out;
    mesh_metrics_enable_process(metrics, true);
    mesh_admin_set_ready(admin, ready, w);
    if (mesh_admin_start(admin, cfg.admin_addr) != 0) {
        mesh_log_error(MOD, "cannot serve admin on %s", cfg.admin_addr);
        goto out;
    }

    mesh_grpc_server_config_t gc = {
        .listen_addr = cfg.addr[0] == ':' ? NULL : cfg.addr,
        .tls_cert_file = tls ? cfg.tls_cert : NULL,
        .tls_key_file = tls ? cfg.tls_key : NULL,
        .workers = (int)cfg.workers,
        .stream_queue_max = cfg.queue_capacity,
    };
    char any[64];
    if (gc.listen_addr == NULL) {
        snprintf(any, sizeof any, "0.0.0.0%s", cfg.addr);
        gc.listen_addr = any;
    }
    int grc = mesh_grpc_server_new(&gc, &srv);
    if (grc != 0 || dst_service_register(&svc, srv) != 0 || mesh_grpc_server_start(srv) != 0) {
        mesh_log_error(MOD, "cannot serve gRPC on %s (%s)", cfg.addr, mesh_grpc_strerror(grc));
        goto out;
    }
    if (mesh_k8s_factory_start(fac) != 0)
        goto out;
    mesh_log_info(MOD, "serving %s on %s, admin on %s", tls ? "TLS" : "plaintext", cfg.addr, cfg.admin_addr);

    dst_watcher_stats_t last = {0};
    while (!mesh_signal_requested()) {
        mesh_signal_wait(TICK_MS);
        if (!dst_watcher_synced(w)) {
            if (mesh_k8s_factory_wait_synced(fac, 0)) {
                dst_watcher_set_synced(w);
                mesh_log_info(MOD, "informers synced");
            } else {
                dst_watcher_expire_pending(w, dst_now_ms(), DST_SYNC_WAIT_MS);
            }
        }
        dst_watcher_stats_t st;
        dst_watcher_stats(w, &st);
        mesh_metrics_set(mesh_metrics_series(f_open, NULL), (double)st.streams);
        mesh_metrics_set(mesh_metrics_series(f_topics, NULL), (double)st.topics);
        mesh_metrics_add(mesh_metrics_series(f_sent, NULL), st.updates_sent - last.updates_sent);
        mesh_metrics_add(mesh_metrics_series(f_over, NULL), st.overflows - last.overflows);
        last = st;
    }
    mesh_log_info(MOD, "shutting down");
    rc = 0;
out:
    /* gRPC first: its on_done unsubscribes from the watcher. */
    if (srv)
        mesh_grpc_server_free(srv);
    if (fac)
        mesh_k8s_factory_free(fac);
    if (src)
        mesh_k8s_source_free(src);
    if (client)
        mesh_k8s_client_free(client);
    if (kcfg)
        mesh_k8s_config_free(kcfg);
    if (admin) {
        mesh_admin_stop(admin);
        mesh_admin_free(admin);
    }
    if (metrics)
        mesh_metrics_free(metrics);
    dst_watcher_free(w);
    mesh_opts_free(options);
    return rc;
}
