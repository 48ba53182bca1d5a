/* The injector's values: embedded chart defaults + a user file, read through a
 * descriptor table (STYLE §39). */
#include "wh/values.h"

#include <stdio.h>
#include <string.h>

#include <openssl/sha.h>

#include "mesh/embed.h"
#include "mesh/mem.h"
#include "mesh/yamljson.h"

#ifndef CMESH_VERSION
#define CMESH_VERSION "0.0.0-unknown"
#endif

enum field_type { F_STR, F_INT, F_BOOL };

struct field {
    const char *path; /* dotted key path in the values tree */
    enum field_type type;
    size_t off;       /* offsetof the wh_values_t member */
    long long min, max;
};

#define S(p, m) {p, F_STR, offsetof(wh_values_t, m), 0, 0}
#define I(p, m, lo, hi) {p, F_INT, offsetof(wh_values_t, m), lo, hi}
#define B(p, m) {p, F_BOOL, offsetof(wh_values_t, m), 0, 0}
#define PORT(p, m) I(p, m, 1, 65535)
#define ID_MAX 2147483647LL

static const struct field fields[] = {
    S("clusterDomain", cluster_domain),
    S("identityTrustDomain", trust_domain),
    S("identityTrustAnchorsPEM", trust_anchors_pem),
    S("clusterNetworks", cluster_networks),
    S("imagePullPolicy", image_pull_policy),
    S("linkerdVersion", linkerd_version),
    B("disableIPv6", disable_ipv6),
    B("cniEnabled", cni_enabled),
    B("identity.serviceAccountTokenProjection", token_projection),
    S("proxy.image.name", proxy_image),
    S("proxy.image.version", proxy_version),
    S("proxy.image.pullPolicy", proxy_pull_policy),
    S("proxy.command", proxy_command),
    S("proxy.awaitCommand", await_command),
    PORT("proxy.ports.admin", port_admin),
    PORT("proxy.ports.control", port_control),
    PORT("proxy.ports.inbound", port_inbound),
    PORT("proxy.ports.outbound", port_outbound),
    I("proxy.uid", proxy_uid, 0, ID_MAX),
    I("proxy.gid", proxy_gid, -1, ID_MAX),
    S("proxy.logLevel", log_level),
    S("proxy.logFormat", log_format),
    S("proxy.logHTTPHeaders", log_http_headers),
    S("proxy.opaquePorts", opaque_ports),
    S("proxy.defaultInboundPolicy", default_inbound_policy),
    B("proxy.nativeSidecar", native_sidecar),
    B("proxy.await", await),
    S("proxy.outboundConnectTimeout", outbound_connect_timeout),
    S("proxy.inboundConnectTimeout", inbound_connect_timeout),
    S("proxy.outboundDiscoveryCacheUnusedTimeout", outbound_discovery_idle),
    S("proxy.inboundDiscoveryCacheUnusedTimeout", inbound_discovery_idle),
    B("proxy.disableOutboundProtocolDetectTimeout", disable_outbound_detect_timeout),
    B("proxy.disableInboundProtocolDetectTimeout", disable_inbound_detect_timeout),
    S("proxy.control.streams.initialTimeout", ctl_initial_timeout),
    S("proxy.control.streams.idleTimeout", ctl_idle_timeout),
    S("proxy.control.streams.lifetime", ctl_lifetime),
    I("proxy.livenessProbe.initialDelaySeconds", liveness_delay, 0, 86400),
    I("proxy.livenessProbe.timeoutSeconds", liveness_timeout, 1, 86400),
    I("proxy.readinessProbe.initialDelaySeconds", readiness_delay, 0, 86400),
    I("proxy.readinessProbe.timeoutSeconds", readiness_timeout, 1, 86400),
    I("proxy.startupProbe.initialDelaySeconds", startup_delay, 0, 86400),
    I("proxy.startupProbe.periodSeconds", startup_period, 1, 86400),
    I("proxy.startupProbe.failureThreshold", startup_failures, 1, 100000),
    I("proxy.runtime.workers.minimum", workers_min, 1, 1024),
    S("proxy.resources.cpu.request", cpu_request),
    S("proxy.resources.cpu.limit", cpu_limit),
    S("proxy.resources.memory.request", mem_request),
    S("proxy.resources.memory.limit", mem_limit),
    S("proxy.resources.ephemeral-storage.request", eph_request),
    S("proxy.resources.ephemeral-storage.limit", eph_limit),
    B("proxy.enableExternalProfiles", external_profiles),
    B("proxy.enableShutdownEndpoint", shutdown_endpoint),
    B("proxy.metricsHostnameLabels", metrics_hostname_labels),
    I("proxy.waitBeforeExitSeconds", wait_before_exit, 0, 86400),
    S("proxy.inbound.server.http2.keepAliveInterval", in_h2_ka_interval),
    S("proxy.inbound.server.http2.keepAliveTimeout", in_h2_ka_timeout),
    S("proxy.outbound.server.http2.keepAliveInterval", out_h2_ka_interval),
    S("proxy.outbound.server.http2.keepAliveTimeout", out_h2_ka_timeout),
    S("proxyInit.command", init_command),
    S("proxyInit.iptablesMode", iptables_mode),
    S("proxyInit.ignoreInboundPorts", ignore_inbound_ports),
    S("proxyInit.ignoreOutboundPorts", ignore_outbound_ports),
    S("proxyInit.skipSubnets", skip_subnets),
    S("proxyInit.logLevel", init_log_level),
    S("proxyInit.logFormat", init_log_format),
    I("proxyInit.runAsUser", init_uid, 0, ID_MAX),
    I("proxyInit.runAsGroup", init_gid, 0, ID_MAX),
    B("proxyInit.runAsRoot", init_run_as_root),
    B("proxyInit.privileged", init_privileged),
    I("proxyInit.closeWaitTimeoutSecs", close_wait_secs, 0, 86400),
    S("proxyInit.xtMountPath.mountPath", xt_mount_path),
    S("proxyInit.xtMountPath.name", xt_volume_name),
};

int wh_values_merge(json_t *dst, const json_t *src)
{
    const char *k;
    json_t *sv;
    json_object_foreach((json_t *)src, k, sv) {
        json_t *dv = json_object_get(dst, k);
        if (json_is_object(dv) && json_is_object(sv)) {
            if (wh_values_merge(dv, sv) < 0)
                return -1;
        } else if (json_object_set_new(dst, k, json_deep_copy(sv)) < 0) {
            return -1;
        }
    }
    return 0;
}

/* The node at a dotted path, or NULL. */
static json_t *lookup(json_t *root, const char *path)
{
    char key[128];
    json_t *cur = root;
    const char *p = path;
    while (cur != NULL) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (n >= sizeof key)
            return NULL;
        memcpy(key, p, n);
        key[n] = '\0';
        cur = json_object_get(cur, key);
        if (dot == NULL)
            return cur;
        p = dot + 1;
    }
    return NULL;
}

static int read_field(wh_values_t *v, const struct field *f, char *err, size_t errlen)
{
    json_t *n = lookup(v->_root, f->path);
    char *slot = (char *)v + f->off;
    switch (f->type) {
    case F_STR:
        if (n == NULL || json_is_null(n)) {
            *(const char **)slot = "";
        } else if (json_is_string(n)) {
            *(const char **)slot = json_string_value(n);
        } else {
            snprintf(err, errlen, "%s: must be a string", f->path);
            return -1;
        }
        return 0;
    case F_INT: {
        long long x;
        if (json_is_integer(n)) {
            x = json_integer_value(n);
        } else {
            snprintf(err, errlen, "%s: must be an integer", f->path);
            return -1;
        }
        if (x < f->min || x > f->max) {
            snprintf(err, errlen, "%s: must be an integer in %lld..%lld", f->path, f->min, f->max);
            return -1;
        }
        *(long long *)slot = x;
        return 0;
    }
    case F_BOOL:
        if (!json_is_boolean(n)) {
            snprintf(err, errlen, "%s: must be true or false", f->path);
            return -1;
        }
        *(bool *)slot = json_is_true(n);
        return 0;
    }
    return -1;
}

static void digest_anchors(wh_values_t *v)
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)v->trust_anchors_pem, strlen(v->trust_anchors_pem), md);
    for (size_t i = 0; i < sizeof md; i++)
        snprintf(v->trust_root_sha256 + 2 * i, 3, "%02x", md[i]);
}

static int validate(wh_values_t *v, char *err, size_t errlen)
{
    static const char *const modes[] = {"nft", "legacy", "plain"};
    int ok = 0;
    for (size_t i = 0; i < MESH_ARRAY_LEN(modes); i++)
        ok |= strcmp(v->iptables_mode, modes[i]) == 0;
    if (!ok) {
        snprintf(err, errlen, "proxyInit.iptablesMode: must be nft, legacy or plain, not \"%s\"",
                 v->iptables_mode);
        return -1;
    }
    if (v->proxy_image[0] == '\0' || v->proxy_command[0] == '\0' || v->init_command[0] == '\0') {
        snprintf(err, errlen, "proxy.image.name, proxy.command and proxyInit.command must be set");
        return -1;
    }
    if (v->cluster_domain[0] == '\0') {
        snprintf(err, errlen, "clusterDomain: must not be empty");
        return -1;
    }
    return 0;
}

int wh_values_load(wh_values_t *v, const json_t *overrides, char *err, size_t errlen)
{
    memset(v, 0, sizeof *v);
    const struct mesh_embedded_file *f = mesh_embed_find(WH_VALUES_EMBED_PATH);
    if (f == NULL) {
        snprintf(err, errlen, "%s is not embedded in this binary", WH_VALUES_EMBED_PATH);
        return -1;
    }
    char yerr[256] = "";
    if (mesh_yaml_load_one((const char *)f->data, f->len, &v->_root, yerr, sizeof yerr) < 0) {
        snprintf(err, errlen, "embedded %s: %s", WH_VALUES_EMBED_PATH, yerr);
        return -1;
    }
    if (!json_is_object(v->_root)) {
        snprintf(err, errlen, "embedded %s: not a mapping", WH_VALUES_EMBED_PATH);
        goto fail;
    }
    if (overrides != NULL) {
        if (!json_is_object(overrides)) {
            snprintf(err, errlen, "values: the top level must be a mapping");
            goto fail;
        }
        if (wh_values_merge(v->_root, overrides) < 0) {
            snprintf(err, errlen, "values: out of memory");
            goto fail;
        }
    }
    for (size_t i = 0; i < MESH_ARRAY_LEN(fields); i++)
        if (read_field(v, &fields[i], err, errlen) < 0)
            goto fail;
    if (validate(v, err, errlen) < 0)
        goto fail;
    if (v->trust_domain[0] == '\0')
        v->trust_domain = v->cluster_domain;
    if (v->linkerd_version[0] == '\0')
        v->linkerd_version = CMESH_VERSION;
    if (v->proxy_version[0] == '\0')
        v->proxy_version = v->linkerd_version;
    if (v->proxy_pull_policy[0] == '\0')
        v->proxy_pull_policy = v->image_pull_policy;
    v->control_plane_ns = WH_DEFAULT_CONTROL_PLANE_NS;
    digest_anchors(v);
    return 0;
fail:
    json_decref(v->_root);
    v->_root = NULL;
    return -1;
}

int wh_values_load_file(wh_values_t *v, const char *path, char *err, size_t errlen)
{
    if (path == NULL)
        return wh_values_load(v, NULL, err, errlen);
    json_t *docs = NULL;
    char yerr[256] = "";
    if (mesh_yaml_load_file(path, &docs, yerr, sizeof yerr) < 0) {
        snprintf(err, errlen, "%s: %s", path, yerr);
        return -1;
    }
    int rc;
    if (json_array_size(docs) > 1) {
        snprintf(err, errlen, "%s: a values file holds one document", path);
        rc = -1;
    } else {
        json_t *doc = json_array_get(docs, 0); /* NULL for an empty file: defaults */
        rc = wh_values_load(v, json_is_null(doc) ? NULL : doc, err, errlen);
        if (rc < 0 && strncmp(err, "values:", 7) != 0) {
            char tmp[512];
            snprintf(tmp, sizeof tmp, "%s: %s", path, err);
            snprintf(err, errlen, "%s", tmp);
        }
    }
    json_decref(docs);
    return rc;
}

int wh_values_set_anchors(wh_values_t *v, const char *pem)
{
    json_t *s = json_string(pem);
    if (s == NULL || json_object_set_new(v->_root, "identityTrustAnchorsPEM", s) < 0)
        return -1;
    v->trust_anchors_pem = json_string_value(json_object_get(v->_root, "identityTrustAnchorsPEM"));
    digest_anchors(v);
    return 0;
}

void wh_values_free(wh_values_t *v)
{
    json_decref(v->_root);
    memset(v, 0, sizeof *v);
}
