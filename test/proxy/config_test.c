/* Proxy environment configuration: every injected variable accepted, the
 * ones in use take effect, errors reported together. */
#include <arpa/inet.h>
#include <check.h>
#include <string.h>

#include "mesh/buf.h"
#include "px/config.h"

typedef struct {
    const char *const (*kv)[2];
    size_t n;
} table_t;

static const char *tget(void *ud, const char *name)
{
    table_t *t = ud;
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->kv[i][0], name) == 0)
            return t->kv[i][1];
    return NULL;
}

static void teach(void *ud, void (*fn)(void *, const char *), void *arg)
{
    table_t *t = ud;
    for (size_t i = 0; i < t->n; i++)
        fn(arg, t->kv[i][0]);
}

/* Values as the injector writes them (linkerd.md §4.5). */
static const char *const injected[][2] = {
    {"_pod_name", "web-0"},
    {"LINKERD2_PROXY_CORES", "2"},
    {"LINKERD2_PROXY_CORES_MIN", "1"},
    {"LINKERD2_PROXY_CORES_MAX", "4"},
    {"LINKERD2_PROXY_CORES_MAX_RATIO", "0.5"},
    {"LINKERD2_PROXY_LOG", "warn,linkerd=info,hickory=error,[{headers}]=off,[{request}]=off"},
    {"LINKERD2_PROXY_LOG_FORMAT", "json"},
    {"LINKERD2_PROXY_SHUTDOWN_ENDPOINT_ENABLED", "false"},
    {"LINKERD2_PROXY_DESTINATION_SVC_ADDR", "linkerd-dst-headless.linkerd.svc.cluster.local.:8086"},
    {"LINKERD2_PROXY_DESTINATION_SVC_NAME", "linkerd-destination.linkerd.serviceaccount.identity.linkerd.cluster.local"},
    {"LINKERD2_PROXY_DESTINATION_PROFILE_NETWORKS", "10.0.0.0/8,100.64.0.0/10,172.16.0.0/12,192.168.0.0/16,fd00::/8"},
    {"LINKERD2_PROXY_DESTINATION_PROFILE_SUFFIXES", "svc.cluster.local."},
    {"LINKERD2_PROXY_DESTINATION_CONTEXT", "{\"ns\":\"default\", \"nodeName\":\"n1\", \"pod\":\"web-0\"}"},
    {"LINKERD2_PROXY_POLICY_SVC_ADDR", "linkerd-policy.linkerd.svc.cluster.local.:8090"},
    {"LINKERD2_PROXY_POLICY_SVC_NAME", "linkerd-destination.linkerd.serviceaccount.identity.linkerd.cluster.local"},
    {"LINKERD2_PROXY_POLICY_WORKLOAD", "{\"ns\":\"default\", \"pod\":\"web-0\"}"},
    {"LINKERD2_PROXY_POLICY_CLUSTER_NETWORKS", "10.0.0.0/8,100.64.0.0/10,172.16.0.0/12,192.168.0.0/16,fd00::/8"},
    {"LINKERD2_PROXY_INBOUND_DEFAULT_POLICY", "all-unauthenticated"},
    {"LINKERD2_PROXY_CONTROL_STREAM_INITIAL_TIMEOUT", "3s"},
    {"LINKERD2_PROXY_CONTROL_STREAM_IDLE_TIMEOUT", "5m"},
    {"LINKERD2_PROXY_CONTROL_STREAM_LIFETIME", "1h"},
    {"LINKERD2_PROXY_INBOUND_CONNECT_TIMEOUT", "100ms"},
    {"LINKERD2_PROXY_OUTBOUND_CONNECT_TIMEOUT", "1000ms"},
    {"LINKERD2_PROXY_OUTBOUND_DISCOVERY_IDLE_TIMEOUT", "5s"},
    {"LINKERD2_PROXY_INBOUND_DISCOVERY_IDLE_TIMEOUT", "90s"},
    {"LINKERD2_PROXY_OUTBOUND_DETECT_TIMEOUT", "365d"},
    {"LINKERD2_PROXY_INBOUND_DETECT_TIMEOUT", "365d"},
    {"LINKERD2_PROXY_CONTROL_LISTEN_ADDR", "[::]:4190"},
    {"LINKERD2_PROXY_ADMIN_LISTEN_ADDR", "0.0.0.0:4191"},
    {"LINKERD2_PROXY_OUTBOUND_LISTEN_ADDR", "127.0.0.1:4140"},
    {"LINKERD2_PROXY_OUTBOUND_LISTEN_ADDRS", "127.0.0.1:4140,[::1]:4140"},
    {"LINKERD2_PROXY_INBOUND_LISTEN_ADDR", "0.0.0.0:4143"},
    {"LINKERD2_PROXY_INBOUND_IPS", "10.1.2.3,fd00::3"},
    {"LINKERD2_PROXY_INBOUND_PORTS", "80,9090"},
    {"LINKERD2_PROXY_INBOUND_PORTS_DISABLE_PROTOCOL_DETECTION", "25,587,3306,4444,5432,6379,9300,11211"},
    {"LINKERD2_PROXY_INBOUND_PORTS_REQUIRE_IDENTITY", "8080"},
    {"LINKERD2_PROXY_INBOUND_PORTS_REQUIRE_TLS", "8443,9000-9010"},
    {"LINKERD2_PROXY_INBOUND_ACCEPT_KEEPALIVE", "10000ms"},
    {"LINKERD2_PROXY_OUTBOUND_CONNECT_KEEPALIVE", "10000ms"},
    {"LINKERD2_PROXY_INBOUND_ACCEPT_USER_TIMEOUT", "30s"},
    {"LINKERD2_PROXY_OUTBOUND_CONNECT_USER_TIMEOUT", "30s"},
    {"LINKERD2_PROXY_OUTBOUND_METRICS_HOSTNAME_LABELS", "false"},
    {"LINKERD2_PROXY_INBOUND_SERVER_HTTP2_KEEP_ALIVE_INTERVAL", "10s"},
    {"LINKERD2_PROXY_INBOUND_SERVER_HTTP2_KEEP_ALIVE_TIMEOUT", "3s"},
    {"LINKERD2_PROXY_OUTBOUND_SERVER_HTTP2_KEEP_ALIVE_INTERVAL", "10s"},
    {"LINKERD2_PROXY_OUTBOUND_SERVER_HTTP2_KEEP_ALIVE_TIMEOUT", "3s"},
    {"LINKERD2_PROXY_IDENTITY_DIR", "/var/run/linkerd/identity/end-entity"},
    {"LINKERD2_PROXY_IDENTITY_TRUST_ANCHORS", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"},
    {"LINKERD2_PROXY_IDENTITY_TOKEN_FILE", "/var/run/secrets/tokens/linkerd-identity-token"},
    {"LINKERD2_PROXY_IDENTITY_SVC_ADDR", "linkerd-identity-headless.linkerd.svc.cluster.local.:8080"},
    {"LINKERD2_PROXY_IDENTITY_SVC_NAME", "linkerd-identity.linkerd.serviceaccount.identity.linkerd.cluster.local"},
    {"LINKERD2_PROXY_IDENTITY_LOCAL_NAME", "default.default.serviceaccount.identity.linkerd.cluster.local"},
    {"LINKERD2_PROXY_INGRESS_MODE", "true"},
    {"LINKERD2_PROXY_INBOUND_GATEWAY_SUFFIXES", "svc.cluster.local."},
    {"LINKERD2_PROXY_ACCESS_LOG", "apache"},
    {"LINKERD2_PROXY_SHUTDOWN_GRACE_PERIOD", "30s"},
    {"LINKERD2_PROXY_TAP_SVC_NAME", "tap.linkerd-viz.serviceaccount.identity.linkerd.cluster.local"},
    {"LINKERD2_PROXY_TRACE_COLLECTOR_SVC_ADDR", "collector.linkerd-jaeger:55678"},
    {"LINKERD2_PROXY_TRACE_COLLECTOR_SVC_NAME", "collector.linkerd-jaeger.serviceaccount.identity.linkerd.cluster.local"},
};

static int load(const char *const (*kv)[2], size_t n, px_config_t *cfg, mesh_buf_t *errs,
                mesh_buf_t *warns)
{
    table_t t = {kv, n};
    px_env_t env = {tget, teach, &t};
    return px_config_load(cfg, &env, errs, warns);
}

static unsigned port_of(const px_addr_t *a)
{
    return ntohs(((const struct sockaddr_in *)&a->sa)->sin_port);
}

START_TEST(test_config_injected_all_accepted)
{
    px_config_t cfg;
    mesh_buf_t errs = MESH_BUF_INIT, warns = MESH_BUF_INIT;
    int n = load(injected, sizeof(injected) / sizeof(injected[0]), &cfg, &errs, &warns);
    ck_assert_msg(n == 0, "errors: %s", errs.base ? errs.base : "");
    ck_assert_ptr_null(warns.base);
    ck_assert_uint_eq(cfg.cores, 2);
    ck_assert_int_eq(cfg.log_level, MESH_LOG_INFO);
    ck_assert_int_eq(cfg.log_format, MESH_LOG_JSON);
    ck_assert_uint_eq(cfg.inbound_connect_timeout_ms, 100);
    ck_assert_uint_eq(cfg.outbound_connect_timeout_ms, 1000);
    ck_assert_uint_eq(cfg.inbound_detect_timeout_ms, 365ull * 24 * 3600 * 1000);
    ck_assert_uint_eq(cfg.shutdown_grace_ms, 30000);
    ck_assert_uint_eq(port_of(&cfg.inbound_addr), 4143);
    ck_assert_uint_eq(port_of(&cfg.admin_addr), 4191);
    ck_assert_int_eq(cfg.outbound_addr.sa.ss_family, AF_INET);
    ck_assert_uint_eq(port_of(&cfg.outbound_addr), 4140);
    ck_assert(px_config_port_opaque(&cfg, 3306));
    ck_assert(px_config_port_opaque(&cfg, 11211));
    ck_assert(!px_config_port_opaque(&cfg, 80));
    ck_assert(!px_config_port_opaque(&cfg, 3307));
    mesh_buf_free(&errs);
    mesh_buf_free(&warns);
}
END_TEST

START_TEST(test_config_defaults)
{
    px_config_t cfg;
    int n = load(NULL, 0, &cfg, NULL, NULL);
    ck_assert_int_eq(n, 0);
    char s[80];
    px_addr_format((struct sockaddr *)&cfg.inbound_addr.sa, s, sizeof(s));
    ck_assert_str_eq(s, "0.0.0.0:4143");
    px_addr_format((struct sockaddr *)&cfg.outbound_addr.sa, s, sizeof(s));
    ck_assert_str_eq(s, "127.0.0.1:4140");
    px_addr_format((struct sockaddr *)&cfg.admin_addr.sa, s, sizeof(s));
    ck_assert_str_eq(s, "0.0.0.0:4191");
    ck_assert_uint_eq(cfg.cores, 1);
    ck_assert_uint_eq(cfg.inbound_connect_timeout_ms, 300);
    ck_assert_uint_eq(cfg.inbound_detect_timeout_ms, 10000);
    ck_assert_uint_eq(cfg.shutdown_grace_ms, 120000);
    ck_assert_uint_eq(cfg.metrics_retain_idle_ms, 600000);
    ck_assert_uint_eq(cfg.inbound_forward_addr.len, 0);
    ck_assert(!cfg.outbound_target_from_host);
}
END_TEST

START_TEST(test_config_errors_reported_together)
{
    static const char *const bad[][2] = {
        {"LINKERD2_PROXY_INBOUND_CONNECT_TIMEOUT", "100"},
        {"LINKERD2_PROXY_ADMIN_LISTEN_ADDR", "localhost:4191"},
        {"LINKERD2_PROXY_INBOUND_PORTS_DISABLE_PROTOCOL_DETECTION", "25,70000"},
        {"LINKERD2_PROXY_LOG", "warn,linkerd=loud"},
        {"LINKERD2_PROXY_CORES", "0"},
        {"LINKERD2_PROXY_SHUTDOWN_ENDPOINT_ENABLED", "yes"},
        {"LINKERD2_PROXY_INBOUND_DEFAULT_POLICY", "allow"},
        {"CMESH_PROXY_INBOUND_FORWARD_ADDR", "127.0.0.1"},
        {"LINKERD2_PROXY_MADE_UP", "x"},
    };
    px_config_t cfg;
    mesh_buf_t errs = MESH_BUF_INIT, warns = MESH_BUF_INIT;
    int n = load(bad, sizeof(bad) / sizeof(bad[0]), &cfg, &errs, &warns);
    ck_assert_int_eq(n, 8);
    for (size_t i = 0; i < 8; i++)
        ck_assert_msg(strstr(errs.base, bad[i][0]) != NULL, "%s not reported", bad[i][0]);
    /* The unknown variable is a warning, not an error. */
    ck_assert_ptr_null(strstr(errs.base, "MADE_UP"));
    ck_assert_ptr_nonnull(strstr(warns.base, "LINKERD2_PROXY_MADE_UP"));
    mesh_buf_free(&errs);
    mesh_buf_free(&warns);
}
END_TEST

/* Loads one port-list variable; returns the error count. */
static int load_ports(const char *name, const char *val, px_config_t *cfg)
{
    const char *const kv[][2] = {{name, val}};
    mesh_buf_t errs = MESH_BUF_INIT;
    int n = load(kv, 1, cfg, &errs, NULL);
    if (n > 0)
        ck_assert_ptr_nonnull(strstr(errs.base, "invalid port list"));
    mesh_buf_free(&errs);
    return n;
}

START_TEST(test_config_port_lists)
{
    static const char *const vars[] = {
        "LINKERD2_PROXY_INBOUND_PORTS", "LINKERD2_PROXY_INBOUND_PORTS_DISABLE_PROTOCOL_DETECTION",
        "LINKERD2_PROXY_INBOUND_PORTS_REQUIRE_IDENTITY", "LINKERD2_PROXY_INBOUND_PORTS_REQUIRE_TLS"};
    static const char *const good[] = {"25,443,1000-2000", " 25 , 443 ", "0", "0-65535", "007"};
    /* Empty items have always been refused here; names never taken. */
    static const char *const bad[] = {"", "1,,2", "1,", "5,9-3", "65536", "http", "1000:2000"};
    static px_config_t cfg;
    for (size_t v = 0; v < sizeof(vars) / sizeof(vars[0]); v++) {
        for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
            ck_assert_msg(load_ports(vars[v], good[i], &cfg) == 0, "%s=\"%s\" refused", vars[v],
                          good[i]);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
            ck_assert_msg(load_ports(vars[v], bad[i], &cfg) == 1, "%s=\"%s\" accepted", vars[v],
                          bad[i]);
    }
    const char *opaque = "LINKERD2_PROXY_INBOUND_PORTS_DISABLE_PROTOCOL_DETECTION";
    ck_assert_int_eq(load_ports(opaque, "25,443,1000-2000", &cfg), 0);
    ck_assert(px_config_port_opaque(&cfg, 25));
    ck_assert(px_config_port_opaque(&cfg, 1500));
    ck_assert(!px_config_port_opaque(&cfg, 2001));
    ck_assert(!px_config_port_opaque(&cfg, 26));
    /* A refused list leaves the bitmap as the defaults have it. */
    ck_assert_int_eq(load_ports(opaque, "5,9-3", &cfg), 1);
    ck_assert(!px_config_port_opaque(&cfg, 5));
    ck_assert(!px_config_port_opaque(&cfg, 25));
}
END_TEST

START_TEST(test_config_values)
{
    px_addr_t a;
    char s[80];
    ck_assert_int_eq(px_parse_addr("[::]:4143", &a), 0);
    ck_assert_int_eq(a.sa.ss_family, AF_INET6);
    px_addr_format((struct sockaddr *)&a.sa, s, sizeof(s));
    ck_assert_str_eq(s, "[::]:4143");
    ck_assert_int_eq(px_parse_addr("0.0.0.0:65536", &a), -1);
    ck_assert_int_eq(px_parse_addr("::1:80", &a), -1);
    ck_assert_int_eq(px_parse_addr("1.2.3.4:", &a), -1);

    uint64_t ms;
    ck_assert_int_eq(px_parse_duration_ms("10000ms", &ms), 0);
    ck_assert_uint_eq(ms, 10000);
    ck_assert_int_eq(px_parse_duration_ms("2m", &ms), 0);
    ck_assert_uint_eq(ms, 120000);
    ck_assert_int_eq(px_parse_duration_ms("1us", &ms), 0);
    ck_assert_uint_eq(ms, 1);
    ck_assert_int_eq(px_parse_duration_ms("10", &ms), -1);
    ck_assert_int_eq(px_parse_duration_ms("-1s", &ms), -1);

    mesh_log_level_t l;
    ck_assert_int_eq(px_parse_log_filter("warn,linkerd=info,linkerd_proxy=debug", &l), 0);
    ck_assert_int_eq(l, MESH_LOG_DEBUG);
    ck_assert_int_eq(px_parse_log_filter("off", &l), 0);
    ck_assert_int_eq(l, MESH_LOG_OFF);
    ck_assert_int_eq(px_parse_log_filter("warn,linkerd=", &l), -1);
}
END_TEST

START_TEST(test_config_cores_clamped)
{
    static const char *const kv[][2] = {
        {"LINKERD2_PROXY_CORES", "8"},
        {"LINKERD2_PROXY_CORES_MAX", "3"},
        {"CMESH_PROXY_OUTBOUND_TARGET_FROM_HOST", "true"},
        {"CMESH_PROXY_INBOUND_FORWARD_ADDR", "127.0.0.1:8080"},
    };
    px_config_t cfg;
    ck_assert_int_eq(load(kv, 4, &cfg, NULL, NULL), 0);
    ck_assert_uint_eq(cfg.cores, 3);
    ck_assert(cfg.outbound_target_from_host);
    ck_assert_uint_eq(port_of(&cfg.inbound_forward_addr), 8080);
}
END_TEST

Suite *px_config_suite(void)
{
    Suite *s = suite_create("px_config");
    TCase *tc = tcase_create("config");
    tcase_add_test(tc, test_config_injected_all_accepted);
    tcase_add_test(tc, test_config_defaults);
    tcase_add_test(tc, test_config_errors_reported_together);
    tcase_add_test(tc, test_config_values);
    tcase_add_test(tc, test_config_port_lists);
    tcase_add_test(tc, test_config_cores_clamped);
    suite_add_tcase(s, tc);
    return s;
}
