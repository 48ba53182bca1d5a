/*
 * px/conn.h - accepted connections, upstream connections and the per-thread
 * worker that owns them. This is the layer protocol handlers (HTTP/1, raw
 * TCP, later HTTP/2) are written against.
 *
 * Lifecycle of an accepted connection (px_conn_t):
 *   accept -> target chosen (original destination) -> detect (first bytes,
 *   PX_PROTO_*) -> a protocol handler takes the downstream socket -> the
 *   handler calls px_conn_close -> tcp_close_total counted, the socket closed,
 *   handler state released through conn->proto_free, memory freed after the
 *   current dispatch round (px_loop_defer).
 * An upstream (px_upstream_t) lives the same way: px_upstream_connect ->
 * on_connect -> use -> px_upstream_release (back to the worker's idle pool
 * when reusable) or px_upstream_close.
 *
 * Everything here runs on the worker's loop thread; nothing is locked.
 */
#ifndef PX_CONN_H
#define PX_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "px/config.h"
#include "px/list.h"
#include "px/loop.h"
#include "px/metrics.h"
#include "px/sock.h"

typedef enum { PX_DIR_INBOUND = 0, PX_DIR_OUTBOUND = 1 } px_dir_t;

typedef struct px_proxy px_proxy_t;
typedef struct px_worker px_worker_t;
typedef struct px_conn px_conn_t;
typedef struct px_upstream px_upstream_t;

/* Idle upstream connections kept per worker, and how long. */
#define PX_POOL_MAX_IDLE 256
#define PX_POOL_IDLE_TIMEOUT_MS 10000
/* A pooled connection idle this long releases its buffers (reused sooner,
 * it keeps them: no allocation per request). */
#define PX_POOL_SHRINK_MS 1000
/* Housekeeping period (metric eviction, drain checks, heap trimming). */
#define PX_WORKER_TICK_MS 1000
/* Buffer bytes freed since the last tick above which the worker returns
 * free heap pages to the kernel (malloc_trim). */
#define PX_WORKER_TRIM_BYTES (1024 * 1024)

typedef struct px_listener {
    px_io_t io;          /* accept readiness */
    int fd;              /* listening socket, -1 when closed */
    px_dir_t dir;        /* inbound or outbound */
    px_addr_t addr;      /* bound address (port resolved) */
    px_worker_t *worker;
} px_listener_t;

struct px_worker {
    px_proxy_t *proxy;       /* process-wide state */
    const px_config_t *cfg;  /* shared, read-only */
    unsigned id;             /* 0..cores-1 */
    px_loop_t *loop;
    px_sock_queue_t queue;   /* sockets with output to flush */
    px_metrics_shard_t *metrics; /* this thread's shard */
    px_listener_t listeners[2]; /* [PX_DIR_INBOUND], [PX_DIR_OUTBOUND] */
    px_list_t conns;         /* px_conn_t, for draining */
    size_t nconns;           /* accepted connections alive */
    px_list_t pool;          /* idle px_upstream_t */
    size_t npool;
    size_t nupstreams;       /* upstream connections alive (pooled included) */
    bool draining;           /* graceful shutdown begun */
    px_timer_t tick;         /* housekeeping */
    void *admin;             /* admin server (worker 0 only) */
};

/* A protocol handler's hooks on an accepted connection. */
typedef struct px_conn_proto {
    const char *name;                 /* "http/1", "tcp", "h2" */
    void (*drain)(px_conn_t *conn);   /* graceful shutdown began; may close */
    void (*free)(px_conn_t *conn);    /* release handler state (conn->proto) */
} px_conn_proto_t;

struct px_conn {
    px_sock_t sock;            /* downstream socket (first: see px_conn_of) */
    px_worker_t *w;
    px_dir_t dir;
    px_list_t link;            /* in w->conns */
    px_timer_t timer;          /* detect / header / idle timeout, owned by the handler */
    px_deferred_t free_d;      /* deferred free */
    px_addr_t peer;            /* client address */
    px_addr_t target;          /* original destination, or the forward address */
    bool has_target;           /* false: no original destination */
    px_addr_t connect_to;      /* where upstream connections go */
    const px_conn_proto_t *proto_ops; /* installed handler, NULL while detecting */
    void *proto;               /* handler state */
    bool closed;
};

struct px_upstream {
    px_sock_t sock;            /* the connection to the target */
    px_worker_t *w;
    px_dir_t dir;
    px_addr_t addr;            /* target */
    px_list_t pool_link;       /* in w->pool while idle */
    px_timer_t timer;          /* connect timeout, then pool idle timeout */
    px_deferred_t free_d;
    bool connected;            /* tcp_open counted */
    bool closed;
    bool shrunk;               /* pooled, and its buffers were released */
    /* on_connect(up, 0) connected; (up, PX_ERR_TIMEOUT/REFUSED/...) failed,
     * and the upstream is then already closed. */
    void (*on_connect)(px_upstream_t *up, int status);
    void *data;                /* the user */
};

/* Closes an accepted connection (idempotent): metrics, socket, handler state;
 * memory is freed after this dispatch round. `err` is an errno (0 = clean)
 * for the tcp_close_total errno label. */
void px_conn_close(px_conn_t *conn, int err);

/* Starts a connection to `addr` with the worker's connect timeout for
 * `dir`. Returns NULL (out of memory or immediate failure: *err set to a
 * PX_ERR_*) or the upstream; the outcome arrives via on_connect. */
px_upstream_t *px_upstream_connect(px_worker_t *w, px_dir_t dir, const px_addr_t *addr,
                                   void (*on_connect)(px_upstream_t *, int), void *data,
                                   int *err);
/* An idle pooled connection to `addr`, or NULL. */
px_upstream_t *px_upstream_take(px_worker_t *w, const px_addr_t *addr);
/* Returns the connection to the idle pool when `reusable` (and the pool has
 * room and the worker is not draining), else closes it. */
void px_upstream_release(px_upstream_t *up, bool reusable);
/* Closes (idempotent); err as for px_conn_close. */
void px_upstream_close(px_upstream_t *up, int err);

/* Target labels target_addr/target_ip/target_port for an address. */
void px_labels_target(px_labels_t *l, const px_addr_t *a);
/* The tcp_* label set: direction, peer ("src" for accepted connections,
 * "dst" for upstreams), target_*, tls. Built when a connection opens and
 * again when it closes (not kept: 2 KiB per connection otherwise). */
void px_labels_tcp(px_labels_t *l, px_dir_t dir, bool src, const px_addr_t *target);
/* The address an accepted connection's tcp labels name. */
const px_addr_t *px_conn_label_addr(const px_conn_t *conn);

/* The target of a request on an outbound connection without an original
 * destination, from its Host / :authority ("host[:port]", port 80 when
 * absent; "localhost" is 127.0.0.1; a name is resolved synchronously - this
 * mode exists for `make run` and benchmarks without iptables). Returns 0, or
 * -1 when the mode is off (CMESH_PROXY_OUTBOUND_TARGET_FROM_HOST), the
 * connection is inbound, the authority does not parse or resolve, or it names
 * the outbound listener itself (the proxy never dials itself). */
int px_conn_target_from_authority(const px_conn_t *conn, const char *authority, size_t n,
                                  px_addr_t *out);
/* What the target_addr/target_ip/target_port labels of an HTTP request name:
 * the address the client dialled - the original destination on both
 * directions (on inbound the pod's address and port, not the 127.0.0.1:port
 * we connect to), the forward address with CMESH_PROXY_INBOUND_FORWARD_ADDR,
 * or `request_target` when the target came from the request's authority. The
 * same rule holds for HTTP/1 and HTTP/2, and for the tcp_* labels of accepted
 * connections (peer="src"); upstream connections (peer="dst") name the
 * address connected to. */
static inline const px_addr_t *px_conn_label_target(const px_conn_t *conn,
                                                    const px_addr_t *request_target)
{
    return conn->has_target ? &conn->target : request_target;
}

/* Protocol entry points (handlers take over conn->sock; bytes already read
 * during detection are still in conn->sock.in). */
void px_tcp_serve(px_conn_t *conn);
void px_h1_serve(px_conn_t *conn);
/* Relays raw bytes between conn and an upstream (connected or not): used for
 * opaque connections and for HTTP/1 after a 101 Switching Protocols. */
void px_tcp_relay(px_conn_t *conn, px_upstream_t *up);
/* HTTP/2 handler (px_h2_serve_conn); while NULL an HTTP/2 connection is
 * relayed as opaque TCP. */
extern void (*px_h2_serve)(px_conn_t *conn);

/* Counts an error in {inbound,outbound}_tcp_errors_total{error=...}. */
void px_conn_count_error(px_worker_t *w, px_dir_t dir, const char *error);

#endif
