/*
 * wh/values.h - the injector's configuration: the chart's Helm values.
 *
 * Defaults come from charts/cmesh-control-plane/values.yaml, compiled into the
 * binary (mesh/embed.h); a user values file (Linkerd's keys) is merged over
 * them key by key: mappings merge recursively, anything else replaces. The
 * merged tree is then read through a table of descriptors (key path, type,
 * bounds, offset), so every key the injector uses is checked once, at start.
 *
 * Ownership: a wh_values_t owns the merged JSON tree; every `const char *`
 * field points into it and lives until wh_values_free().
 *
 * Errors: the load functions return 0, or -1 with one line in `err` naming
 * the key ("proxy.ports.admin: must be an integer in 1..65535").
 */
#ifndef WH_VALUES_H
#define WH_VALUES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define WH_VALUES_EMBED_PATH "charts/cmesh-control-plane/values.yaml"
/* The control plane's namespace when nobody says otherwise. */
#define WH_DEFAULT_CONTROL_PLANE_NS "linkerd"

typedef struct wh_values {
    json_t *_root; /* merged values; owns every string below */

    const char *cluster_domain;     /* clusterDomain */
    const char *trust_domain;       /* identityTrustDomain, else clusterDomain */
    const char *trust_anchors_pem;  /* identityTrustAnchorsPEM (may be "") */
    char trust_root_sha256[65];     /* hex SHA-256 of trust_anchors_pem */
    const char *cluster_networks;   /* clusterNetworks */
    const char *image_pull_policy;  /* imagePullPolicy */
    const char *linkerd_version;    /* linkerdVersion ("" -> CMESH_VERSION) */
    bool disable_ipv6;              /* disableIPv6 */
    bool cni_enabled;               /* cniEnabled: no linkerd-init */
    bool token_projection;          /* identity.serviceAccountTokenProjection */

    const char *proxy_image;        /* proxy.image.name */
    const char *proxy_version;      /* proxy.image.version, else the version above */
    const char *proxy_pull_policy;  /* proxy.image.pullPolicy, else imagePullPolicy */
    const char *proxy_command;      /* proxy.command (cmesh) */
    const char *await_command;      /* proxy.awaitCommand (cmesh) */
    long long port_admin, port_control, port_inbound, port_outbound; /* proxy.ports.* */
    long long proxy_uid, proxy_gid; /* proxy.uid / proxy.gid (gid < 0: unset) */
    const char *log_level, *log_format, *log_http_headers;
    const char *opaque_ports;       /* proxy.opaquePorts */
    const char *default_inbound_policy;
    bool native_sidecar, await;     /* proxy.nativeSidecar / proxy.await */
    const char *outbound_connect_timeout, *inbound_connect_timeout;
    const char *outbound_discovery_idle, *inbound_discovery_idle;
    bool disable_outbound_detect_timeout, disable_inbound_detect_timeout;
    const char *ctl_initial_timeout, *ctl_idle_timeout, *ctl_lifetime;
    long long liveness_delay, liveness_timeout;
    long long readiness_delay, readiness_timeout;
    long long startup_delay, startup_period, startup_failures;
    long long workers_min;          /* proxy.runtime.workers.minimum */
    const char *cpu_request, *cpu_limit, *mem_request, *mem_limit;
    const char *eph_request, *eph_limit; /* proxy.resources.ephemeral-storage */
    bool external_profiles, shutdown_endpoint, metrics_hostname_labels;
    long long wait_before_exit;     /* proxy.waitBeforeExitSeconds */
    const char *in_h2_ka_interval, *in_h2_ka_timeout;
    const char *out_h2_ka_interval, *out_h2_ka_timeout;

    const char *init_command;       /* proxyInit.command (cmesh) */
    const char *iptables_mode;      /* nft | legacy | plain */
    const char *ignore_inbound_ports, *ignore_outbound_ports;
    const char *skip_subnets;       /* proxyInit.skipSubnets */
    const char *init_log_level, *init_log_format;
    long long init_uid, init_gid;
    bool init_run_as_root, init_privileged;
    long long close_wait_secs;
    const char *xt_mount_path, *xt_volume_name;

    const char *control_plane_ns;   /* not a chart key: set by the caller */
} wh_values_t;

/* Loads the embedded defaults, merges `overrides` (a values tree, may be
 * NULL; borrowed) over them and reads the result. */
int wh_values_load(wh_values_t *v, const json_t *overrides, char *err, size_t errlen);

/* Same with a YAML values file (NULL path: defaults only). */
int wh_values_load_file(wh_values_t *v, const char *path, char *err, size_t errlen);

/* Replaces the trust anchors (e.g. from --identity-trust-anchors-file) and
 * recomputes the digest. The string is copied into the tree. 0 or -1. */
int wh_values_set_anchors(wh_values_t *v, const char *pem);

void wh_values_free(wh_values_t *v);

/* Deep merge: `src` over `dst` (objects merge, others replace). 0 or -1. */
int wh_values_merge(json_t *dst, const json_t *src);

#endif
