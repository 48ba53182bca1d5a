/* The cmesh-identity process; see id/daemon.h. */
#include "id/daemon.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "id/service.h"
#include "id/tokenreview.h"
#include "id_grpc.h"
#include "mesh/admin.h"
#include "mesh/duration.h"
#include "mesh/k8s_client.h"
#include "mesh/k8s_config.h"
#include "mesh/log.h"
#include "mesh/mem.h"
#include "mesh/metrics.h"
#include "mesh/opts.h"
#include "mesh/signal.h"

#define MOD "identity"
/* The serving certificate is renewed at this fraction of its lifetime. */
#define SERVING_RENEW_PERCENT 70
/* How often the main loop wakes to renew and refresh gauges. */
#define TICK_MS 1000

typedef struct daemon_opts {
    char *addr;
    char *admin_addr;
    char *trust_domain;
    char *controller_ns;
    char *scheme;
    int64_t lifetime_ns;
    int64_t skew_ns;
    char *issuer;
    char *anchors;
    char *service_account;
    char *kubeconfig;
    uint64_t qps;
    uint64_t burst;
    int64_t recheck_ns;
    bool insecure;
    char *log_level;
    char *log_format;
} daemon_opts_t;

/* Ready once Certify is being served and the issuer is usable. */
static atomic_bool serving;

static bool on_ready(void *ud)
{
    return atomic_load(&serving) && id_service_ready(ud);
}

/* Issues the service its serving certificate and hands it to the server. */
static int renew_serving(id_service_t *svc, id_grpc_t *g, time_t *renew_at, uint64_t *gen)
{
    char *cert = NULL, *key = NULL;
    time_t na;
    if (id_service_serving_cert(svc, &cert, &key, &na, gen) != 0) {
        mesh_log_error(MOD, "cannot issue the service's own certificate");
        return -1;
    }
    int rc = id_grpc_set_tls(g, cert, key);
    mesh_free(cert);
    mesh_free(key);
    time_t now = time(NULL);
    *renew_at = now + (na - now) * SERVING_RENEW_PERCENT / 100;
    if (rc == 0)
        mesh_log_info(MOD, "serving certificate for %s valid until %ld", id_service_name(svc), (long)na);
    return rc;
}

static int run(const daemon_opts_t *o)
{
    int rc = 1;
    char err[512];
    id_scheme_t scheme;
    mesh_k8s_config_t *kcfg = NULL;
    mesh_k8s_client_t *kc = NULL;
    mesh_metrics_t *metrics = NULL;
    id_service_t *svc = NULL;
    mesh_admin_t *admin = NULL;
    id_grpc_t *grpc = NULL;

    if (id_scheme_parse(o->scheme, &scheme) != 0) {
        mesh_log_error(MOD, "--identity-scheme: unknown scheme \"%s\" (linkerd.io/tls or kubernetes.io/tls)",
                       o->scheme);
        return 2;
    }
    if (o->kubeconfig != NULL && o->kubeconfig[0] != '\0') {
        if (mesh_k8s_config_from_kubeconfig(o->kubeconfig, NULL, &kcfg, err, sizeof(err)) != 0) {
            mesh_log_error(MOD, "kubeconfig: %s", err);
            goto out;
        }
    } else if (mesh_k8s_config_in_cluster(NULL, &kcfg, err, sizeof(err)) != 0) {
        mesh_log_error(MOD, "Kubernetes API: %s (use --kubeconfig outside a cluster)", err);
        goto out;
    }
    mesh_k8s_client_opts_t copts = {(double)o->qps, (int)o->burst, 0, 0, 0, NULL};
    if ((kc = mesh_k8s_client_new(kcfg, &copts)) == NULL) {
        mesh_log_error(MOD, "cannot create the Kubernetes client");
        goto out;
    }
    if ((metrics = mesh_metrics_new()) == NULL)
        goto out;
    mesh_metrics_enable_process(metrics, true);

    id_service_config_t scfg = {
        o->issuer, scheme, o->anchors, o->controller_ns, o->trust_domain, o->service_account,
        {o->lifetime_ns / MESH_NS_PER_SEC, o->skew_ns / MESH_NS_PER_SEC},
        id_tokenreview_check, kc, metrics, (int)(o->recheck_ns / MESH_NS_PER_MS),
    };
    if ((svc = id_service_new(&scfg, err, sizeof(err))) == NULL) {
        mesh_log_error(MOD, "issuer %s refused: %s", o->issuer, err);
        goto out;
    }
    id_issuer_t *iss = id_service_issuer(svc);
    mesh_log_info(MOD, "issuer loaded: sha256 %s, expires in %lds; identities end in .%s.%s",
                  id_issuer_fingerprint(iss), (long)(id_issuer_not_after(iss) - time(NULL)),
                  o->controller_ns, o->trust_domain);
    id_issuer_unref(iss);
    if (id_service_watch_start(svc) != 0) {
        mesh_log_error(MOD, "cannot watch %s for issuer rotation", o->issuer);
        goto out;
    }

    if ((admin = mesh_admin_new(metrics)) == NULL)
        goto out;
    mesh_admin_set_ready(admin, on_ready, svc);
    int arc = mesh_admin_start(admin, o->admin_addr);
    if (arc != 0) {
        mesh_log_error(MOD, "admin server on %s: %s", o->admin_addr, mesh_admin_strerror(arc));
        goto out;
    }

    if ((grpc = id_grpc_new(svc, o->insecure)) == NULL)
        goto out;
    time_t renew_at = 0;
    uint64_t served_gen = 0;
    if (!o->insecure && renew_serving(svc, grpc, &renew_at, &served_gen) != 0)
        goto out;
    if (id_grpc_start(grpc, o->addr, err, sizeof(err)) != 0) {
        mesh_log_error(MOD, "gRPC server on %s: %s", o->addr, err);
        goto out;
    }
    atomic_store(&serving, true);
    mesh_log_info(MOD, "serving Certify on %s (%s) as %s; admin on %s", o->addr,
                  o->insecure ? "plaintext" : "TLS", id_service_name(svc), o->admin_addr);

    while (mesh_signal_wait(TICK_MS) == 0) {
        id_service_ready(svc); /* refreshes issuer_cert_ttl_seconds */
        /* Renew at SERVING_RENEW_PERCENT of the lifetime, and as soon as the
         * issuer rotates so that clients see a chain from the new issuer. A
         * renewal is swapped in under the running server (id_grpc.h). */
        if (!o->insecure &&
            (time(NULL) >= renew_at || id_service_generation(svc) != served_gen))
            renew_serving(svc, grpc, &renew_at, &served_gen);
    }
    mesh_log_info(MOD, "shutting down");
    rc = 0;
out:
    id_grpc_free(grpc);
    mesh_admin_free(admin);
    id_service_free(svc);
    mesh_metrics_free(metrics);
    mesh_k8s_client_free(kc);
    mesh_k8s_config_free(kcfg);
    return rc;
}

int id_daemon_main(int argc, char **argv)
{
    daemon_opts_t o = {0};
    const mesh_opt_t table[] = {
        {"addr", MESH_OPT_STRING, &o.addr, ":8080", "address to serve Certify on"},
        {"admin-addr", MESH_OPT_STRING, &o.admin_addr, ":9990", "address of the admin server"},
        {"identity-trust-domain", MESH_OPT_STRING, &o.trust_domain, "cluster.local", "trust domain"},
        {"controller-namespace", MESH_OPT_STRING, &o.controller_ns, "cmesh", "control-plane namespace"},
        {"identity-scheme", MESH_OPT_STRING, &o.scheme, "linkerd.io/tls",
         "issuer file names: linkerd.io/tls (crt.pem, key.pem) or kubernetes.io/tls (tls.crt, tls.key)"},
        {"identity-issuance-lifetime", MESH_OPT_DURATION, &o.lifetime_ns, "24h", "leaf lifetime",
         MESH_NS_PER_MIN, 365 * MESH_NS_PER_DAY},
        {"identity-clock-skew-allowance", MESH_OPT_DURATION, &o.skew_ns, "20s",
         "back-dating of NotBefore (and added to NotAfter)", 0, MESH_NS_PER_HOUR},
        {"issuer", MESH_OPT_STRING, &o.issuer, "/var/run/linkerd/identity/issuer", "issuer directory"},
        {"trust-anchors", MESH_OPT_STRING, &o.anchors,
         "/var/run/linkerd/identity/trust-roots/ca-bundle.crt", "trust anchors bundle (PEM)"},
        {"service-account", MESH_OPT_STRING, &o.service_account, "cmesh-identity",
         "own ServiceAccount, for the serving certificate"},
        {"kubeconfig", MESH_OPT_STRING, &o.kubeconfig, "", "kubeconfig file (default: in-cluster)"},
        {"kube-apiclient-qps", MESH_OPT_UINT, &o.qps, "100", "API requests per second", 1, 100000},
        {"kube-apiclient-burst", MESH_OPT_UINT, &o.burst, "200", "API request burst", 1, 100000},
        {"issuer-recheck-interval", MESH_OPT_DURATION, &o.recheck_ns, "10s",
         "periodic re-check of the issuer files", 100 * MESH_NS_PER_MS, MESH_NS_PER_HOUR},
        {"insecure", MESH_OPT_BOOL, &o.insecure, "false", "serve plaintext gRPC (tests only)"},
        {"log-level", MESH_OPT_STRING, &o.log_level, "info", "error, warn, info, debug, trace"},
        {"log-format", MESH_OPT_STRING, &o.log_format, "plain", "plain or json"},
        {NULL},
    };
    mesh_log_set_component("identity");
    int n = mesh_opts_parse_or_exit(table, argc, argv, "cmesh-identity [options]");
    int rc = 2;
    if (n > 0) {
        mesh_log_error(MOD, "unexpected argument \"%s\"", argv[1]);
        goto out;
    }
    if (mesh_log_set_filter(o.log_level) != 0 || mesh_log_set_format_str(o.log_format) != 0) {
        mesh_log_error(MOD, "bad --log-level or --log-format");
        goto out;
    }
    if (o.trust_domain[0] == '\0' || o.scheme[0] == '\0') {
        mesh_log_info(MOD, "identity disabled (empty trust domain or scheme)");
        rc = 0;
        goto out;
    }
    if (mesh_signal_install() != 0) {
        mesh_log_error(MOD, "cannot install signal handlers");
        rc = 1;
        goto out;
    }
    rc = run(&o);
out:
    mesh_opts_free(table);
    return rc;
}
