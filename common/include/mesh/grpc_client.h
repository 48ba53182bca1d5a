/*
 * mesh/grpc_client.h - a blocking gRPC client over grpc core that moves bytes.
 *
 * Used by the CLI's diagnostics and by benchmarks: one channel per client,
 * blocking unary calls with a deadline, and server-streaming calls read one
 * message at a time.
 *
 * THREADING: a client may be shared by threads (calls are independent; each
 * call has its own completion queue). A client stream is used by one thread
 * at a time, except mesh_grpc_client_stream_cancel, which any thread may call.
 *
 * OWNERSHIP: strings in the config are copied. Result bodies, messages and
 * stream messages are mesh_malloc'd and belong to the caller (free with
 * mesh_grpc_result_free / mesh_free).
 *
 * grpc_init is called by mesh_grpc_client_new and grpc_shutdown by _free.
 */
#ifndef MESH_GRPC_CLIENT_H
#define MESH_GRPC_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "mesh/grpc_common.h"

typedef struct mesh_grpc_client mesh_grpc_client_t;
typedef struct mesh_grpc_client_stream mesh_grpc_client_stream_t;

typedef struct mesh_grpc_client_config {
    const char *target;          /* "host:port" (any grpc target URI). Required. */
    /* TLS when set: PEM bundle of trusted roots. NULL = plaintext. */
    const char *tls_root_ca_file;
    /* Name the server certificate must carry instead of the target's host
     * (grpc.ssl_target_name_override). NULL = the target's host. */
    const char *tls_server_name;
    /* Optional client certificate (mTLS): both or neither. */
    const char *tls_cert_file;
    const char *tls_key_file;
    size_t max_recv_message;     /* 0 = MESH_GRPC_DEFAULT_MAX_RECV */
} mesh_grpc_client_config_t;

/* The outcome of a unary call. */
typedef struct mesh_grpc_result {
    int code;          /* gRPC status (MESH_GRPC_STATUS_*) */
    char *message;     /* status message, never NULL after a call ("" if none) */
    uint8_t *body;     /* response bytes (NULL when there was no message) */
    size_t len;
} mesh_grpc_result_t;

/* Creates the channel (it connects lazily, on the first call). Returns 0,
 * MESH_GRPC_EINVAL, ENOMEM or ETLS. */
int mesh_grpc_client_new(const mesh_grpc_client_config_t *cfg, mesh_grpc_client_t **out)
    __attribute__((warn_unused_result));
/* Frees the channel; every stream must have been freed first. NULL is a no-op. */
void mesh_grpc_client_free(mesh_grpc_client_t *c);

/* Calls `method` with `req` and waits for the outcome; timeout_ms < 0 means no
 * deadline. Returns 0 when the call completed (its gRPC status, possibly an
 * error such as UNAVAILABLE or DEADLINE_EXCEEDED, is in res->code), or a
 * negative layer error (nothing to free then). Free res with
 * mesh_grpc_result_free. */
int mesh_grpc_client_unary(mesh_grpc_client_t *c, const char *method, const void *req,
                           size_t req_len, long timeout_ms, mesh_grpc_result_t *res)
    __attribute__((warn_unused_result));
void mesh_grpc_result_free(mesh_grpc_result_t *res);

/* Starts a server-streaming call; timeout_ms (< 0 = none) is the deadline of
 * the whole call. Returns 0 or a layer error. Errors of the RPC itself (no
 * server, TLS failure, UNIMPLEMENTED) show up as the final status. */
int mesh_grpc_client_stream_open(mesh_grpc_client_t *c, const char *method, const void *req,
                                 size_t req_len, long timeout_ms,
                                 mesh_grpc_client_stream_t **out)
    __attribute__((warn_unused_result));

/* Waits up to timeout_ms (< 0 = until the call ends) for the next message.
 * Returns 1 with *msg (mesh_malloc'd, caller frees) and *len; 0 at the end of
 * the stream (then read the status); MESH_GRPC_ETIMEDOUT when nothing arrived
 * in time (the read stays armed: call next again). */
int mesh_grpc_client_stream_next(mesh_grpc_client_stream_t *st, long timeout_ms,
                                 uint8_t **msg, size_t *len);

/* The final status; blocks until the call has ended, so call it after next
 * returned 0 (or after cancel). *message stays owned by the stream. */
int mesh_grpc_client_stream_status(mesh_grpc_client_stream_t *st, const char **message);

/* Cancels the call (the server sees a client cancel). Any thread. */
void mesh_grpc_client_stream_cancel(mesh_grpc_client_stream_t *st);

/* Cancels if still running, waits for grpc to let go, frees. NULL: no-op. */
void mesh_grpc_client_stream_free(mesh_grpc_client_stream_t *st);

#endif
