/*
 * px/config.h - the proxy's configuration, read from environment variables
 * only (Linkerd's LINKERD2_PROXY_* set as the injector writes them, plus a
 * few CMESH_PROXY_* for running without iptables).
 *
 * Every LINKERD2_PROXY_* variable the injector may set is accepted and its
 * format checked; the ones the data path uses today take effect (listen
 * addresses, connect and detect timeouts, opaque ports, log level and format,
 * cores, shutdown grace, metrics retention). An unknown LINKERD2_PROXY_* name
 * is a warning, never an error. All errors are collected, so one run reports
 * every bad variable.
 *
 * The environment is read through px_env_t so tests feed a table.
 * The parser allocates nothing and never logs.
 */
#ifndef PX_CONFIG_H
#define PX_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "mesh/buf.h"
#include "mesh/log.h"
#include "mesh/portlist.h"

/* HTTP/2 stream timeouts (defaults; 0 disables). Response: from the request
 * head to the response head; a stream that gets none is answered 504 (gRPC:
 * trailers-only grpc-status 4, as Linkerd answers its response timeouts) and
 * its upstream stream cancelled. Idle: no DATA in either direction after the
 * response head; both halves are reset with CANCEL. Both are generous
 * because a long-poll gRPC stream may legitimately wait minutes: they exist
 * so a stalled upstream cannot hold a stream slot and its buffers forever. */
#define PX_H2_RESPONSE_TIMEOUT_MS (5 * 60 * 1000)
#define PX_H2_STREAM_IDLE_TIMEOUT_MS (10 * 60 * 1000)

/* Upper bound of LINKERD2_PROXY_CORES. */
#define PX_CONFIG_MAX_CORES 64

typedef struct px_addr {
    struct sockaddr_storage sa; /* AF_INET or AF_INET6, port set */
    socklen_t len;              /* 0 when unset */
} px_addr_t;

/* Where environment variables come from. */
typedef struct px_env {
    /* The value of `name`, or NULL when unset. */
    const char *(*get)(void *ud, const char *name);
    /* Calls fn(arg, name) for every variable set (may be NULL: then unknown
     * names are not detected). */
    void (*each)(void *ud, void (*fn)(void *arg, const char *name), void *arg);
    void *ud;
} px_env_t;

/* The process environment (getenv / environ). */
extern const px_env_t px_env_process;

typedef struct px_config {
    px_addr_t inbound_addr;     /* LINKERD2_PROXY_INBOUND_LISTEN_ADDR [0.0.0.0:4143] */
    px_addr_t outbound_addr;    /* ..._OUTBOUND_LISTEN_ADDR(S), first IPv4 [127.0.0.1:4140] */
    px_addr_t admin_addr;       /* ..._ADMIN_LISTEN_ADDR [0.0.0.0:4191] */
    uint64_t inbound_connect_timeout_ms;  /* [300ms] */
    uint64_t outbound_connect_timeout_ms; /* [1s] */
    uint64_t inbound_detect_timeout_ms;   /* [10s] */
    uint64_t outbound_detect_timeout_ms;  /* [10s] */
    /* ..._INBOUND_PORTS_DISABLE_PROTOCOL_DETECTION, one bit per port */
    uint8_t opaque_ports[MESH_PORTLIST_BITMAP_BYTES];
    mesh_log_level_t log_level;           /* most verbose level in LINKERD2_PROXY_LOG [warn] */
    mesh_log_format_t log_format;         /* ..._LOG_FORMAT [plain] */
    unsigned cores;                       /* ..._CORES [1], clamped by CORES_MIN/MAX */
    uint64_t shutdown_grace_ms;           /* ..._SHUTDOWN_GRACE_PERIOD [2m] */
    uint64_t metrics_retain_idle_ms;      /* ..._METRICS_RETAIN_IDLE [10m] */
    bool shutdown_endpoint;               /* ..._SHUTDOWN_ENDPOINT_ENABLED [false] */
    uint64_t http_header_timeout_ms;      /* CMESH_PROXY_HTTP_HEADER_TIMEOUT [10s] */
    uint64_t http_idle_timeout_ms;        /* CMESH_PROXY_HTTP_IDLE_TIMEOUT [60s] */
    uint64_t h2_response_timeout_ms;      /* CMESH_PROXY_HTTP2_RESPONSE_TIMEOUT [5m] */
    uint64_t h2_stream_idle_timeout_ms;   /* CMESH_PROXY_HTTP2_STREAM_IDLE_TIMEOUT [10m] */
    bool outbound_target_from_host;       /* CMESH_PROXY_OUTBOUND_TARGET_FROM_HOST [false] */
    px_addr_t inbound_forward_addr;       /* CMESH_PROXY_INBOUND_FORWARD_ADDR [unset] */
} px_config_t;

/* Fills `cfg` from `env`. Returns the number of errors; each error (and each
 * warning, such as an unknown variable) is appended to `errors` / `warnings`
 * as one line "NAME: message\n". Either buffer may be NULL. */
int px_config_load(px_config_t *cfg, const px_env_t *env, mesh_buf_t *errors,
                   mesh_buf_t *warnings);

/* The defaults alone. */
void px_config_defaults(px_config_t *cfg);

/* Whether inbound port `port` skips protocol detection. */
static inline bool px_config_port_opaque(const px_config_t *cfg, uint16_t port)
{
    return mesh_portlist_bitmap_has(cfg->opaque_ports, port);
}

/* Single-value parsers, exposed for tests. Each returns 0 or -1. */
int px_parse_addr(const char *s, px_addr_t *out);
int px_parse_duration_ms(const char *s, uint64_t *out_ms);
/* A tracing-style filter; *out = the most verbose level it names. */
int px_parse_log_filter(const char *s, mesh_log_level_t *out);

/* "ip:port" / "[ip6]:port" of an address into out (cap >= 64). */
void px_addr_format(const struct sockaddr *sa, char *out, size_t cap);

#endif
