/*
 * mesh/grpc_server.h - a gRPC server over grpc core that moves bytes.
 *
 * Handlers are registered by full method path ("/pkg.Service/Method") and
 * get the request message as bytes; they answer with bytes. Two kinds:
 *   UNARY            handler returns status + message + response bytes;
 *   SERVER-STREAMING handler gets a stream object that may be written from
 *                    any thread, at any time, until it is finished.
 * Unknown methods are answered with UNIMPLEMENTED by the layer.
 *
 * THREADING CONTRACT
 *   - One completion-queue thread (the "cq thread") drives every call's state
 *     machine: it owns all grpc batches. It never runs a handler unless the
 *     server was created with workers = 0.
 *   - A worker pool (cfg.workers threads) runs handlers, unary and streaming,
 *     so a slow handler blocks only its worker, never the cq thread.
 *   - on_done (streaming) runs on the cq thread. It must not block; it may
 *     call any mesh_grpc_stream_* function (on any stream).
 *   - mesh_grpc_stream_send/finish/set_data/data/ref/release are thread-safe
 *     and may be called from any thread, including handlers and on_done.
 *   - A send from a thread other than the cq thread wakes the cq thread through
 *     an immediate grpc event (a connectivity watch with a deadline in the past
 *     on an idle private channel): the cq thread waits with no timeout and is
 *     never polling.
 *   - mesh_grpc_server_new, _add_unary, _add_stream, _start, _stop and _free are for the owning thread; do
 *     not call them from handlers or callbacks.
 *
 * OWNERSHIP
 *   - Request bytes, call info and metadata passed to a handler belong to the
 *     layer and are valid only until the handler returns (copy what you keep).
 *   - Unary: the handler appends its response into reply->body (a mesh_buf_t
 *     owned by the layer) and may fill reply->message; the layer frees both.
 *   - mesh_grpc_stream_send copies the bytes; the caller keeps its buffer.
 *   - Streams are reference counted. The application holds one reference from
 *     the moment its stream handler is called and must drop it exactly once
 *     with mesh_grpc_stream_release (or mesh_grpc_stream_finish_release).
 *     The layer holds its own reference until on_done has returned. A stream
 *     must not be used after the caller's last release.
 *   - Strings in the config are copied by mesh_grpc_server_new.
 *
 * LIFECYCLE OF A STREAM
 *   handler(stream) -> any number of send() -> finish(code, msg) -> on_done
 *   If the client cancels, its deadline passes, the connection drops or the
 *   server stops, on_done(cancelled = 1) runs instead and every later send or
 *   finish returns MESH_GRPC_ECLOSED. on_done runs exactly once per stream whose
 *   handler was called, always after that handler has returned.
 *
 * SHUTDOWN
 *   mesh_grpc_server_stop stops accepting, cancels every call in flight
 *   (open streams see on_done(cancelled = 1)), waits for running handlers,
 *   drains grpc and joins all threads. grpc_init/grpc_shutdown are called once
 *   each, by new and free.
 */
#ifndef MESH_GRPC_SERVER_H
#define MESH_GRPC_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "mesh/buf.h"
#include "mesh/grpc_common.h"

/* Limits and defaults (reliability.md section 5). */
#define MESH_GRPC_DEFAULT_WORKERS 2
#define MESH_GRPC_MAX_WORKERS 64
#define MESH_GRPC_DEFAULT_STREAM_QUEUE 64          /* messages waiting per stream */
#define MESH_GRPC_MAX_STREAM_QUEUE 65536
#define MESH_GRPC_DEFAULT_MAX_CONCURRENT_STREAMS 4096 /* per HTTP/2 connection */
#define MESH_GRPC_MIN_PING_INTERVAL_MS (5 * 60 * 1000) /* pings without data closer
                                                       * than this are strikes */
#define MESH_GRPC_MAX_PING_STRIKES 2               /* then GOAWAY too_many_pings */
#define MESH_GRPC_PENDING_ACCEPTS 8                /* request_call slots kept open */

typedef struct mesh_grpc_server mesh_grpc_server_t;
typedef struct mesh_grpc_stream mesh_grpc_stream_t;

typedef struct mesh_grpc_server_config {
    /* "host:port"; port 0 picks a free port (read it with _port). Required. */
    const char *listen_addr;
    /* TLS: both set = TLS with this PEM chain and key; both NULL = plaintext. */
    const char *tls_cert_file;
    const char *tls_key_file;
    /* Optional PEM bundle of client CAs. When set, client certs are requested
     * and verified; require_client_cert = 1 makes them mandatory (mTLS). */
    const char *tls_client_ca_file;
    int require_client_cert;
    /* Handler threads; 0 = MESH_GRPC_DEFAULT_WORKERS. Negative = no pool:
     * handlers run on the cq thread (tests and tiny tools only). */
    int workers;
    /* Messages a stream may have waiting (not yet handed to grpc) before send
     * returns MESH_GRPC_EFULL; 0 = MESH_GRPC_DEFAULT_STREAM_QUEUE. One more
     * message may be in flight in grpc besides these. */
    size_t stream_queue_max;
    /* Largest request message accepted; 0 = MESH_GRPC_DEFAULT_MAX_RECV. A
     * larger one fails the call with RESOURCE_EXHAUSTED (grpc core). */
    size_t max_recv_message;
    /* HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS; 0 = the default above. */
    int max_concurrent_streams;
    /* Ready-made server credentials (e.g. mesh_grpc_creds_reloadable from
     * mesh/grpc_reload.h), used instead of the tls_* files when set.
     * Borrowed: used only inside mesh_grpc_server_new; the caller releases
     * them after it returns. */
    struct grpc_server_credentials *creds;
} mesh_grpc_server_config_t;

/* What a handler knows about its call. Valid only during the handler. */
typedef struct mesh_grpc_call_info {
    const char *method;          /* "/pkg.Service/Method" */
    const char *host;            /* :authority, or "" */
    const char *peer;            /* grpc peer string, "ipv4:127.0.0.1:40000" */
    long long deadline_ms;       /* ms left before the client's deadline, -1 = none */
    const mesh_grpc_md_t *md;    /* request metadata */
    size_t md_count;
} mesh_grpc_call_info_t;

/* A unary answer, filled in by the handler. */
typedef struct mesh_grpc_reply {
    mesh_buf_t body;  /* response message bytes (sent only when status is OK) */
    char message[MESH_GRPC_STATUS_MESSAGE_MAX]; /* status message, "" by default */
} mesh_grpc_reply_t;

/* Unary handler: returns a gRPC status code (MESH_GRPC_STATUS_*). Runs on a
 * worker. A code outside 0..16 is sent as UNKNOWN. If the body cannot be
 * built (out of memory), return MESH_GRPC_STATUS_RESOURCE_EXHAUSTED. */
typedef int (*mesh_grpc_unary_cb)(void *user, const mesh_grpc_call_info_t *info,
                                  const uint8_t *req, size_t req_len,
                                  mesh_grpc_reply_t *reply);

/* Streaming handler: runs on a worker; the application now holds one
 * reference to `stream` (see OWNERSHIP). To refuse the call, finish it with an
 * error code and release it. */
typedef void (*mesh_grpc_stream_cb)(void *user, const mesh_grpc_call_info_t *info,
                                    const uint8_t *req, size_t req_len,
                                    mesh_grpc_stream_t *stream);

/* The RPC of `stream` has ended; cancelled = 1 when it ended by client cancel,
 * deadline, connection loss or server stop rather than by our finish. Runs on
 * the cq thread, once. The typical body: unsubscribe, then release. */
typedef void (*mesh_grpc_done_cb)(void *user, mesh_grpc_stream_t *stream, int cancelled);

/* Creates the server and binds the listen address (so the port is known
 * before start). Calls grpc_init. Returns 0, MESH_GRPC_EINVAL, ENOMEM, ETLS
 * (PEM files) or EBIND. *out is NULL on error. */
int mesh_grpc_server_new(const mesh_grpc_server_config_t *cfg, mesh_grpc_server_t **out)
    __attribute__((warn_unused_result));

/* Registers handlers before start. `path` is copied; `user` is passed back.
 * Returns 0, MESH_GRPC_EINVAL (path not "/x/y"), EEXIST, ESTATE, ENOMEM. */
int mesh_grpc_server_add_unary(mesh_grpc_server_t *srv, const char *path,
                               mesh_grpc_unary_cb cb, void *user);
/* on_done may be NULL only if the handler always finishes before releasing. */
int mesh_grpc_server_add_stream(mesh_grpc_server_t *srv, const char *path,
                                mesh_grpc_stream_cb cb, mesh_grpc_done_cb on_done,
                                void *user);

/* Starts the cq thread and workers. 0, ESTATE (twice), ENOMEM. */
int mesh_grpc_server_start(mesh_grpc_server_t *srv) __attribute__((warn_unused_result));

/* The bound TCP port. */
int mesh_grpc_server_port(const mesh_grpc_server_t *srv);

/* Stops as described under SHUTDOWN; blocks until done. Idempotent. */
void mesh_grpc_server_stop(mesh_grpc_server_t *srv);

/* Stops if needed, frees everything, calls grpc_shutdown. NULL is a no-op.
 * Streams the application still holds stay valid (every call on them returns
 * MESH_GRPC_ECLOSED) until released. */
void mesh_grpc_server_free(mesh_grpc_server_t *srv);

/* Queues one message (copied). Returns 0; MESH_GRPC_EFULL when
 * stream_queue_max messages are already waiting (the message is not queued:
 * the caller decides, e.g. finish with RESOURCE_EXHAUSTED); MESH_GRPC_ECLOSED
 * after finish or once the RPC has ended; MESH_GRPC_ENOMEM. */
int mesh_grpc_stream_send(mesh_grpc_stream_t *stream, const void *msg, size_t len)
    __attribute__((warn_unused_result));

/* Ends the RPC with `code` and `message` (NULL = ""; truncated to
 * MESH_GRPC_STATUS_MESSAGE_MAX - 1). With code OK the status follows every
 * queued message; with an error code the messages still waiting are dropped
 * (one already in flight still goes first). Returns 0 or MESH_GRPC_ECLOSED
 * (already finished or ended). Does not release. */
int mesh_grpc_stream_finish(mesh_grpc_stream_t *stream, int code, const char *message);

/* finish (result ignored) then release: the usual one-liner. */
void mesh_grpc_stream_finish_release(mesh_grpc_stream_t *stream, int code, const char *message);

/* Reference counting (see OWNERSHIP). ref is for handing the stream to a
 * second owner; each ref needs one release. */
void mesh_grpc_stream_ref(mesh_grpc_stream_t *stream);
void mesh_grpc_stream_release(mesh_grpc_stream_t *stream);

/* One opaque pointer for the application (e.g. its subscription). */
void mesh_grpc_stream_set_data(mesh_grpc_stream_t *stream, void *data);
void *mesh_grpc_stream_data(mesh_grpc_stream_t *stream);

/* Messages waiting in the stream's queue right now (for metrics/tests). */
size_t mesh_grpc_stream_queued(mesh_grpc_stream_t *stream);

#endif
