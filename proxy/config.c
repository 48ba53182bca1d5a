/* Environment configuration; see px/config.h. */
#include "px/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mesh/duration.h"
#include "mesh/mem.h"
#include "mesh/portlist.h"

#define PFX "LINKERD2_PROXY_"

/* How a variable's value is checked. Types without a field are only checked. */
typedef enum {
    T_DURATION, /* Go/Rust-style duration: 10000ms, 3s, 365d */
    T_ADDR,     /* ip:port or [ip6]:port */
    T_ADDRS,    /* comma-separated T_ADDR */
    T_HOSTPORT, /* name:port, where the name may be DNS */
    T_STRING,   /* anything, may be empty */
    T_NONEMPTY, /* anything non-empty */
    T_BOOL,     /* true/false */
    T_PORTS,    /* 25,443,1000-2000 */
    T_NETS,     /* comma-separated CIDRs */
    T_IPS,      /* comma-separated IPs */
    T_SUFFIXES, /* comma-separated DNS suffixes or "." */
    T_UINT,     /* non-negative integer */
    T_RATIO,    /* decimal in (0, 1] */
    T_LOG,      /* tracing filter */
    T_LOGFMT,   /* plain / json */
    T_POLICY,   /* inbound default policy */
    T_JSON,     /* a JSON object (checked for braces only) */
} vtype_t;

typedef struct {
    const char *name;
    vtype_t type;
    size_t off; /* offsetof into px_config_t, or NO_FIELD */
} var_t;

#define NO_FIELD ((size_t)-1)
#define F(f) offsetof(px_config_t, f)

static const var_t vars[] = {
    {PFX "CORES", T_UINT, F(cores)},
    {PFX "CORES_MIN", T_UINT, NO_FIELD},
    {PFX "CORES_MAX", T_UINT, NO_FIELD},
    {PFX "CORES_MAX_RATIO", T_RATIO, NO_FIELD},
    {PFX "LOG", T_LOG, F(log_level)},
    {PFX "LOG_FORMAT", T_LOGFMT, F(log_format)},
    {PFX "SHUTDOWN_ENDPOINT_ENABLED", T_BOOL, F(shutdown_endpoint)},
    {PFX "DESTINATION_SVC_ADDR", T_HOSTPORT, NO_FIELD},
    {PFX "DESTINATION_SVC_NAME", T_NONEMPTY, NO_FIELD},
    {PFX "DESTINATION_PROFILE_NETWORKS", T_NETS, NO_FIELD},
    {PFX "DESTINATION_PROFILE_SUFFIXES", T_SUFFIXES, NO_FIELD},
    {PFX "DESTINATION_CONTEXT", T_JSON, NO_FIELD},
    {PFX "POLICY_SVC_ADDR", T_HOSTPORT, NO_FIELD},
    {PFX "POLICY_SVC_NAME", T_NONEMPTY, NO_FIELD},
    {PFX "POLICY_WORKLOAD", T_JSON, NO_FIELD},
    {PFX "POLICY_CLUSTER_NETWORKS", T_NETS, NO_FIELD},
    {PFX "INBOUND_DEFAULT_POLICY", T_POLICY, NO_FIELD},
    {PFX "CONTROL_STREAM_INITIAL_TIMEOUT", T_DURATION, NO_FIELD},
    {PFX "CONTROL_STREAM_IDLE_TIMEOUT", T_DURATION, NO_FIELD},
    {PFX "CONTROL_STREAM_LIFETIME", T_DURATION, NO_FIELD},
    {PFX "INBOUND_CONNECT_TIMEOUT", T_DURATION, F(inbound_connect_timeout_ms)},
    {PFX "OUTBOUND_CONNECT_TIMEOUT", T_DURATION, F(outbound_connect_timeout_ms)},
    {PFX "INBOUND_DISCOVERY_IDLE_TIMEOUT", T_DURATION, NO_FIELD},
    {PFX "OUTBOUND_DISCOVERY_IDLE_TIMEOUT", T_DURATION, NO_FIELD},
    {PFX "INBOUND_DETECT_TIMEOUT", T_DURATION, F(inbound_detect_timeout_ms)},
    {PFX "OUTBOUND_DETECT_TIMEOUT", T_DURATION, F(outbound_detect_timeout_ms)},
    {PFX "CONTROL_LISTEN_ADDR", T_ADDR, NO_FIELD},
    {PFX "ADMIN_LISTEN_ADDR", T_ADDR, F(admin_addr)},
    {PFX "OUTBOUND_LISTEN_ADDR", T_ADDR, F(outbound_addr)},
    {PFX "OUTBOUND_LISTEN_ADDRS", T_ADDRS, F(outbound_addr)},
    {PFX "INBOUND_LISTEN_ADDR", T_ADDR, F(inbound_addr)},
    {PFX "INBOUND_IPS", T_IPS, NO_FIELD},
    {PFX "INBOUND_PORTS", T_PORTS, NO_FIELD},
    {PFX "INBOUND_PORTS_DISABLE_PROTOCOL_DETECTION", T_PORTS, F(opaque_ports)},
    {PFX "INBOUND_PORTS_REQUIRE_IDENTITY", T_PORTS, NO_FIELD},
    {PFX "INBOUND_PORTS_REQUIRE_TLS", T_PORTS, NO_FIELD},
    {PFX "INBOUND_ACCEPT_KEEPALIVE", T_DURATION, NO_FIELD},
    {PFX "OUTBOUND_CONNECT_KEEPALIVE", T_DURATION, NO_FIELD},
    {PFX "INBOUND_ACCEPT_USER_TIMEOUT", T_DURATION, NO_FIELD},
    {PFX "OUTBOUND_CONNECT_USER_TIMEOUT", T_DURATION, NO_FIELD},
    {PFX "OUTBOUND_METRICS_HOSTNAME_LABELS", T_BOOL, NO_FIELD},
    {PFX "INBOUND_SERVER_HTTP2_KEEP_ALIVE_INTERVAL", T_DURATION, NO_FIELD},
    {PFX "INBOUND_SERVER_HTTP2_KEEP_ALIVE_TIMEOUT", T_DURATION, NO_FIELD},
    {PFX "OUTBOUND_SERVER_HTTP2_KEEP_ALIVE_INTERVAL", T_DURATION, NO_FIELD},
    {PFX "OUTBOUND_SERVER_HTTP2_KEEP_ALIVE_TIMEOUT", T_DURATION, NO_FIELD},
    {PFX "IDENTITY_DIR", T_NONEMPTY, NO_FIELD},
    {PFX "IDENTITY_TRUST_ANCHORS", T_NONEMPTY, NO_FIELD},
    {PFX "IDENTITY_TOKEN_FILE", T_NONEMPTY, NO_FIELD},
    {PFX "IDENTITY_SVC_ADDR", T_HOSTPORT, NO_FIELD},
    {PFX "IDENTITY_SVC_NAME", T_NONEMPTY, NO_FIELD},
    {PFX "IDENTITY_LOCAL_NAME", T_NONEMPTY, NO_FIELD},
    {PFX "IDENTITY_MIN_REFRESH", T_DURATION, NO_FIELD},
    {PFX "IDENTITY_MAX_REFRESH", T_DURATION, NO_FIELD},
    {PFX "INGRESS_MODE", T_BOOL, NO_FIELD},
    {PFX "INBOUND_GATEWAY_SUFFIXES", T_SUFFIXES, NO_FIELD},
    {PFX "ACCESS_LOG", T_STRING, NO_FIELD},
    {PFX "SHUTDOWN_GRACE_PERIOD", T_DURATION, F(shutdown_grace_ms)},
    {PFX "METRICS_RETAIN_IDLE", T_DURATION, F(metrics_retain_idle_ms)},
    {PFX "TAP_SVC_NAME", T_NONEMPTY, NO_FIELD},
    {PFX "TRACE_COLLECTOR_SVC_ADDR", T_HOSTPORT, NO_FIELD},
    {PFX "TRACE_COLLECTOR_SVC_NAME", T_STRING, NO_FIELD},
    {PFX "TRACE_ATTRIBUTES_PATH", T_STRING, NO_FIELD},
    {PFX "TRACE_PROTOCOL", T_STRING, NO_FIELD},
    {PFX "TRACE_SERVICE_NAME", T_STRING, NO_FIELD},
    {PFX "TRACE_EXTRA_ATTRIBUTES", T_STRING, NO_FIELD},
    {"CMESH_PROXY_HTTP_HEADER_TIMEOUT", T_DURATION, F(http_header_timeout_ms)},
    {"CMESH_PROXY_HTTP_IDLE_TIMEOUT", T_DURATION, F(http_idle_timeout_ms)},
    {"CMESH_PROXY_HTTP2_RESPONSE_TIMEOUT", T_DURATION, F(h2_response_timeout_ms)},
    {"CMESH_PROXY_HTTP2_STREAM_IDLE_TIMEOUT", T_DURATION, F(h2_stream_idle_timeout_ms)},
    {"CMESH_PROXY_OUTBOUND_TARGET_FROM_HOST", T_BOOL, F(outbound_target_from_host)},
    {"CMESH_PROXY_INBOUND_FORWARD_ADDR", T_ADDR, F(inbound_forward_addr)},
};

static const char *proc_get(void *ud, const char *name)
{
    (void)ud;
    return getenv(name);
}

extern char **environ;

static void proc_each(void *ud, void (*fn)(void *arg, const char *name), void *arg)
{
    (void)ud;
    char name[256];
    for (char **e = environ; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        size_t n = eq ? (size_t)(eq - *e) : strlen(*e);
        if (n >= sizeof(name))
            continue;
        memcpy(name, *e, n);
        name[n] = 0;
        fn(arg, name);
    }
}

const px_env_t px_env_process = {proc_get, proc_each, NULL};

void px_config_defaults(px_config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    px_parse_addr("0.0.0.0:4143", &cfg->inbound_addr);
    px_parse_addr("127.0.0.1:4140", &cfg->outbound_addr);
    px_parse_addr("0.0.0.0:4191", &cfg->admin_addr);
    cfg->inbound_connect_timeout_ms = 300;
    cfg->outbound_connect_timeout_ms = 1000;
    cfg->inbound_detect_timeout_ms = 10000;
    cfg->outbound_detect_timeout_ms = 10000;
    cfg->log_level = MESH_LOG_WARN;
    cfg->log_format = MESH_LOG_PLAIN;
    cfg->cores = 1;
    cfg->shutdown_grace_ms = 120000;
    cfg->metrics_retain_idle_ms = 600000;
    cfg->http_header_timeout_ms = 10000;
    cfg->http_idle_timeout_ms = 60000;
    cfg->h2_response_timeout_ms = PX_H2_RESPONSE_TIMEOUT_MS;
    cfg->h2_stream_idle_timeout_ms = PX_H2_STREAM_IDLE_TIMEOUT_MS;
}

/* --- single values ----------------------------------------------------------- */

static int parse_u64(const char *s, size_t n, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
        if (v > max)
            return -1;
    }
    *out = v;
    return 0;
}

int px_parse_addr(const char *s, px_addr_t *out)
{
    char host[64];
    const char *colon, *hs;
    size_t hn;
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (rb == NULL || rb[1] != ':')
            return -1;
        hs = s + 1;
        hn = (size_t)(rb - hs);
        colon = rb + 1;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL)
            return -1;
        hs = s;
        hn = (size_t)(colon - s);
    }
    uint64_t port;
    if (hn == 0 || hn >= sizeof(host) || parse_u64(colon + 1, strlen(colon + 1), 65535, &port))
        return -1;
    memcpy(host, hs, hn);
    host[hn] = 0;
    px_addr_t a;
    memset(&a, 0, sizeof(a));
    struct sockaddr_in *v4 = (struct sockaddr_in *)&a.sa;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&a.sa;
    if (s[0] != '[' && inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        a.len = sizeof(*v4);
    } else if (s[0] == '[' && inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        a.len = sizeof(*v6);
    } else {
        return -1;
    }
    *out = a;
    return 0;
}

void px_addr_format(const struct sockaddr *sa, char *out, size_t cap)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &v4->sin_addr, ip, sizeof(ip));
        snprintf(out, cap, "%s:%u", ip, ntohs(v4->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &v6->sin6_addr, ip, sizeof(ip));
        snprintf(out, cap, "[%s]:%u", ip, ntohs(v6->sin6_port));
    } else {
        snprintf(out, cap, "?");
    }
}

/* Calls fn on each comma-separated item (trimmed of spaces); an empty item
 * is an error. Returns 0 or -1. */
static int each_item(const char *s, int (*fn)(const char *p, size_t n, void *arg), void *arg)
{
    const char *p = s;
    for (;;) {
        const char *c = strchr(p, ',');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        const char *q = p;
        while (n > 0 && *q == ' ')
            q++, n--;
        while (n > 0 && q[n - 1] == ' ')
            n--;
        if (n == 0 || fn(q, n, arg) != 0)
            return -1;
        if (c == NULL)
            return 0;
        p = c + 1;
    }
}

int px_parse_duration_ms(const char *s, uint64_t *out_ms)
{
    int64_t ns;
    if (mesh_duration_parse(s, &ns) != 0 || ns < 0)
        return -1;
    /* Round up: "1us" must not become a zero (= immediate) timeout. */
    *out_ms = (uint64_t)(ns / MESH_NS_PER_MS) + (ns % MESH_NS_PER_MS ? 1 : 0);
    return 0;
}

static int copy_item(const char *p, size_t n, char *out, size_t cap)
{
    if (n >= cap)
        return -1;
    memcpy(out, p, n);
    out[n] = 0;
    return 0;
}

static int log_item(const char *p, size_t n, void *arg)
{
    mesh_log_level_t *best = arg, l;
    char buf[64];
    /* LEVEL, TARGET=LEVEL, or [SPAN{FIELDS}]=LEVEL; only the level matters. */
    const char *eq = NULL;
    for (size_t i = 0; i < n; i++)
        if (p[i] == '=')
            eq = p + i;
    const char *lv = eq ? eq + 1 : p;
    size_t ln = n - (size_t)(lv - p);
    if (copy_item(lv, ln, buf, sizeof(buf)) || mesh_log_parse_level(buf, &l) != 0) {
        /* A bare target name without "=level" enables everything for it
         * (tracing's rule); accept identifiers as trace. */
        if (eq)
            return -1;
        for (size_t i = 0; i < n; i++)
            if (!isalnum((unsigned char)p[i]) && p[i] != '_' && p[i] != ':')
                return -1;
        l = MESH_LOG_TRACE;
    }
    if (l > *best)
        *best = l;
    return 0;
}

int px_parse_log_filter(const char *s, mesh_log_level_t *out)
{
    mesh_log_level_t best = MESH_LOG_OFF;
    if (each_item(s, log_item, &best) != 0)
        return -1;
    *out = best;
    return 0;
}

static int addr_item(const char *p, size_t n, void *arg)
{
    char buf[80];
    px_addr_t a, *first = arg;
    if (copy_item(p, n, buf, sizeof(buf)) || px_parse_addr(buf, &a))
        return -1;
    /* The first IPv4 address wins: our outbound listener is single-stack. */
    if (first->len == 0 || (first->sa.ss_family != AF_INET && a.sa.ss_family == AF_INET))
        *first = a;
    return 0;
}

static int net_item(const char *p, size_t n, void *arg)
{
    (void)arg;
    char buf[64];
    unsigned char tmp[16];
    if (copy_item(p, n, buf, sizeof(buf)))
        return -1;
    char *slash = strchr(buf, '/');
    uint64_t bits = 0;
    if (slash)
        *slash = 0;
    int v6 = strchr(buf, ':') != NULL;
    if (inet_pton(v6 ? AF_INET6 : AF_INET, buf, tmp) != 1)
        return -1;
    if (slash && parse_u64(slash + 1, strlen(slash + 1), v6 ? 128 : 32, &bits))
        return -1;
    return 0;
}

static int ip_item(const char *p, size_t n, void *arg)
{
    (void)arg;
    char buf[64];
    unsigned char tmp[16];
    if (copy_item(p, n, buf, sizeof(buf)))
        return -1;
    return inet_pton(strchr(buf, ':') ? AF_INET6 : AF_INET, buf, tmp) == 1 ? 0 : -1;
}

static int suffix_item(const char *p, size_t n, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)p[i]) && p[i] != '.' && p[i] != '-')
            return -1;
    return 0;
}

static int parse_hostport(const char *s)
{
    const char *c = strrchr(s, ':');
    uint64_t port;
    if (c == NULL || c == s || parse_u64(c + 1, strlen(c + 1), 65535, &port))
        return -1;
    if (s[0] == '[')
        return strchr(s, ']') == c - 1 ? 0 : -1;
    for (const char *p = s; p < c; p++)
        if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-')
            return -1;
    return 0;
}

static int parse_bool(const char *s, bool *out)
{
    if (strcasecmp(s, "true") == 0 || strcmp(s, "1") == 0)
        *out = true;
    else if (strcasecmp(s, "false") == 0 || strcmp(s, "0") == 0)
        *out = false;
    else
        return -1;
    return 0;
}

/* Parses one variable; `field` is where the value goes (NULL: check only).
 * Returns NULL or a static error message. */
static const char *parse_var(const var_t *v, const char *val, void *field)
{
    uint64_t u;
    bool b;
    mesh_log_level_t lvl;
    px_addr_t a;
    switch (v->type) {
    case T_DURATION:
        if (px_parse_duration_ms(val, &u) != 0)
            return "invalid duration (expected e.g. 100ms, 3s, 5m, 365d)";
        if (field)
            *(uint64_t *)field = u;
        return NULL;
    case T_ADDR:
        if (px_parse_addr(val, &a) != 0)
            return "invalid address (expected IP:PORT or [IPv6]:PORT)";
        if (field)
            *(px_addr_t *)field = a;
        return NULL;
    case T_ADDRS:
        memset(&a, 0, sizeof(a));
        if (each_item(val, addr_item, &a) != 0)
            return "invalid address list (expected IP:PORT,[IPv6]:PORT)";
        if (field)
            *(px_addr_t *)field = a;
        return NULL;
    case T_HOSTPORT:
        return parse_hostport(val) ? "invalid address (expected HOST:PORT)" : NULL;
    case T_STRING:
        return NULL;
    case T_NONEMPTY:
        return val[0] ? NULL : "must not be empty";
    case T_BOOL:
        if (parse_bool(val, &b) != 0)
            return "invalid boolean (expected true or false)";
        if (field)
            *(bool *)field = b;
        return NULL;
    case T_PORTS:
        /* Any u16, as Linkerd's proxy reads these; an empty item has
         * always been an error here. */
        return mesh_portlist_bitmap(val, MESH_PORTLIST_ZERO | MESH_PORTLIST_NO_EMPTY, field) < 0
                   ? "invalid port list (expected e.g. 25,443,1000-2000)"
                   : NULL;
    case T_NETS:
        return each_item(val, net_item, NULL) ? "invalid network list (expected CIDRs)" : NULL;
    case T_IPS:
        return each_item(val, ip_item, NULL) ? "invalid IP list" : NULL;
    case T_SUFFIXES:
        return each_item(val, suffix_item, NULL) ? "invalid DNS suffix list" : NULL;
    case T_UINT:
        if (parse_u64(val, strlen(val), UINT32_MAX, &u) != 0)
            return "invalid non-negative integer";
        if (field)
            *(unsigned *)field = (unsigned)u;
        return NULL;
    case T_RATIO: {
        char *end;
        errno = 0;
        double d = strtod(val, &end);
        return (errno || *end || end == val || !(d > 0.0 && d <= 1.0)) ? "invalid ratio (0 < r <= 1)"
                                                                          : NULL;
    }
    case T_LOG:
        if (px_parse_log_filter(val, &lvl) != 0)
            return "invalid log filter (expected e.g. warn,linkerd=info)";
        if (field)
            *(mesh_log_level_t *)field = lvl;
        return NULL;
    case T_LOGFMT:
        if (strcasecmp(val, "plain") == 0)
            lvl = (mesh_log_level_t)MESH_LOG_PLAIN;
        else if (strcasecmp(val, "json") == 0)
            lvl = (mesh_log_level_t)MESH_LOG_JSON;
        else
            return "invalid log format (expected plain or json)";
        if (field)
            *(mesh_log_format_t *)field = (mesh_log_format_t)lvl;
        return NULL;
    case T_POLICY: {
        static const char *const ok[] = {"all-unauthenticated", "all-authenticated",
                                         "cluster-unauthenticated", "cluster-authenticated",
                                         "deny", "audit"};
        for (size_t i = 0; i < MESH_ARRAY_LEN(ok); i++)
            if (strcmp(val, ok[i]) == 0)
                return NULL;
        return "invalid default policy";
    }
    case T_JSON: {
        size_t n = strlen(val);
        return (n >= 2 && val[0] == '{' && val[n - 1] == '}') ? NULL : "invalid JSON object";
    }
    }
    return "unknown variable type";
}

typedef struct {
    mesh_buf_t *warnings;
} unknown_arg_t;

static void check_unknown(void *arg, const char *name)
{
    unknown_arg_t *u = arg;
    if (strncmp(name, PFX, strlen(PFX)) != 0 && strncmp(name, "CMESH_PROXY_", 12) != 0)
        return;
    for (size_t i = 0; i < MESH_ARRAY_LEN(vars); i++)
        if (strcmp(vars[i].name, name) == 0)
            return;
    if (u->warnings && mesh_buf_appendf(u->warnings, "%s: unknown variable, ignored\n", name))
        return;
}

static void report(mesh_buf_t *b, const char *name, const char *msg, const char *val)
{
    if (b && mesh_buf_appendf(b, "%s: %s (got \"%.80s\")\n", name, msg, val) != 0)
        return;
}

int px_config_load(px_config_t *cfg, const px_env_t *env, mesh_buf_t *errors,
                   mesh_buf_t *warnings)
{
    int nerr = 0;
    px_config_defaults(cfg);
    bool outbound_set = false;
    for (size_t i = 0; i < MESH_ARRAY_LEN(vars); i++) {
        const var_t *v = &vars[i];
        const char *val = env->get(env->ud, v->name);
        if (val == NULL)
            continue;
        /* Both OUTBOUND_LISTEN_ADDR and _ADDRS may be set; the list wins. */
        void *field = v->off == NO_FIELD ? NULL : (char *)cfg + v->off;
        if (v->type == T_ADDR && field == &cfg->outbound_addr && outbound_set)
            field = NULL;
        const char *msg = parse_var(v, val, field);
        if (msg) {
            report(errors, v->name, msg, val);
            nerr++;
        } else if (field == &cfg->outbound_addr) {
            outbound_set = v->type == T_ADDRS;
        }
    }
    /* CORES_MIN/MAX bound CORES, as Linkerd's injector sets them from the
     * CPU request and limit. */
    uint64_t mn = 0, mx = 0;
    const char *s;
    if ((s = env->get(env->ud, PFX "CORES_MIN")) && parse_u64(s, strlen(s), UINT32_MAX, &mn) == 0 &&
        cfg->cores < mn)
        cfg->cores = (unsigned)mn;
    if ((s = env->get(env->ud, PFX "CORES_MAX")) && parse_u64(s, strlen(s), UINT32_MAX, &mx) == 0 &&
        mx > 0 && cfg->cores > mx)
        cfg->cores = (unsigned)mx;
    if (cfg->cores == 0 || cfg->cores > PX_CONFIG_MAX_CORES) {
        report(errors, PFX "CORES", "must be between 1 and 64", env->get(env->ud, PFX "CORES") ?: "");
        nerr++;
    }
    if (env->each) {
        unknown_arg_t u = {warnings};
        env->each(env->ud, check_unknown, &u);
    }
    return nerr;
}
