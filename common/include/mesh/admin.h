/*
 * mesh/admin.h - the plaintext admin HTTP server every daemon runs.
 *
 * Built-in endpoints (GET or HEAD; other methods get 405):
 *   /metrics  200, Content-Type "text/plain; version=0.0.4", the registry
 *             rendered by mesh_metrics_render (empty without a registry)
 *   /ready    200 "ready\n", or 503 "not ready\n" while the readiness
 *             callback returns false (no callback: always ready)
 *   /live     200 "live\n"
 *   anything else: the registered handler with the longest matching path
 *             prefix, or 404 "not found\n".
 *
 * Runs on libmicrohttpd with its own internal polling thread; callbacks
 * (readiness and handlers) run on that thread. The server binds the socket
 * itself, so "127.0.0.1:0" works and mesh_admin_port() reports the port the
 * kernel chose. Listen addresses are mesh/addr.h forms (":9990" binds
 * 0.0.0.0, "[::]:4191" binds IPv6).
 *
 * Lifetime: mesh_admin_new, then mesh_admin_set_ready / mesh_admin_handle,
 * then mesh_admin_start; mesh_admin_stop joins the server thread and closes
 * the socket (requests in flight are cut); mesh_admin_free stops if needed.
 * Request bodies above MESH_ADMIN_BODY_MAX get 413.
 */
#ifndef MESH_ADMIN_H
#define MESH_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mesh/buf.h"
#include "mesh/metrics.h"

#define MESH_ADMIN_HANDLERS_MAX 16
#define MESH_ADMIN_BODY_MAX (1 << 20)
/* Idle connections are closed after this many seconds. */
#define MESH_ADMIN_CONN_TIMEOUT_S 30
#define MESH_ADMIN_CONN_MAX 128

typedef enum {
    MESH_ADMIN_ERR_ADDR = -1,  /* the listen address does not parse or resolve */
    MESH_ADMIN_ERR_BIND = -2,  /* socket/bind/listen failed (errno kept) */
    MESH_ADMIN_ERR_START = -3, /* libmicrohttpd did not start */
    MESH_ADMIN_ERR_NOMEM = -4,
    MESH_ADMIN_ERR_STATE = -5, /* already started, or too many handlers */
} mesh_admin_err_t;

typedef struct mesh_admin mesh_admin_t;

typedef struct mesh_admin_request {
    const char *method; /* "GET", "PUT"... */
    const char *path;   /* without the query string */
    const char *body;   /* NUL-terminated; "" when none */
    size_t body_len;
    void *_conn;        /* the MHD connection, for the accessors below */
} mesh_admin_request_t;

typedef struct mesh_admin_response {
    int status;               /* preset to 200 */
    const char *content_type; /* preset to "text/plain; charset=utf-8"; static string */
    mesh_buf_t body;          /* preset empty; freed by the server */
} mesh_admin_response_t;

/* A handler fills *resp. Returning non-zero sends 500 instead. */
typedef int (*mesh_admin_handler_cb)(const mesh_admin_request_t *req, mesh_admin_response_t *resp,
                                     void *ud);
/* True when the daemon is ready to serve. */
typedef bool (*mesh_admin_ready_cb)(void *ud);

/* A server that will render `metrics` (may be NULL; not owned). NULL when
 * out of memory. */
mesh_admin_t *mesh_admin_new(mesh_metrics_t *metrics);
void mesh_admin_set_ready(mesh_admin_t *a, mesh_admin_ready_cb cb, void *ud);
/* Routes paths starting with `prefix` (copied) to cb. Before start only.
 * Returns 0, MESH_ADMIN_ERR_STATE or MESH_ADMIN_ERR_NOMEM. */
int mesh_admin_handle(mesh_admin_t *a, const char *prefix, mesh_admin_handler_cb cb, void *ud);
/* Binds `listen_addr` and starts serving. Returns 0 or a mesh_admin_err_t. */
int mesh_admin_start(mesh_admin_t *a, const char *listen_addr) __attribute__((warn_unused_result));
/* The bound port (host order), 0 before start. */
uint16_t mesh_admin_port(const mesh_admin_t *a);
void mesh_admin_stop(mesh_admin_t *a);
void mesh_admin_free(mesh_admin_t *a);

/* Request accessors for handlers: a query argument or header value (NULL
 * when absent), and whether the peer is a loopback address (Linkerd keeps
 * some admin endpoints local-only). */
const char *mesh_admin_query(const mesh_admin_request_t *req, const char *key);
const char *mesh_admin_header(const mesh_admin_request_t *req, const char *name);
bool mesh_admin_peer_is_loopback(const mesh_admin_request_t *req);

const char *mesh_admin_strerror(int err);

#endif
