/*
 * mesh/grpc_common.h - names shared by the gRPC server and client layers.
 *
 * The layer moves serialized bytes over grpc core (gRPC 1.51); it knows no
 * protos. Callers never need <grpc/grpc.h>: status codes, metadata and errors
 * are spelled here.
 *
 * Two kinds of failure are kept apart:
 *   - a gRPC status (MESH_GRPC_STATUS_*, 0..16) is the outcome of an RPC and
 *     travels on the wire;
 *   - a layer error (MESH_GRPC_E*, negative) is a local failure of one of our
 *     functions (bad argument, no memory, queue full, stream already ended).
 */
#ifndef MESH_GRPC_COMMON_H
#define MESH_GRPC_COMMON_H

#include <stddef.h>

/* gRPC status codes, same numbers as grpc/status.h and the gRPC spec. */
enum {
    MESH_GRPC_STATUS_OK = 0,
    MESH_GRPC_STATUS_CANCELLED = 1,
    MESH_GRPC_STATUS_UNKNOWN = 2,
    MESH_GRPC_STATUS_INVALID_ARGUMENT = 3,
    MESH_GRPC_STATUS_DEADLINE_EXCEEDED = 4,
    MESH_GRPC_STATUS_NOT_FOUND = 5,
    MESH_GRPC_STATUS_ALREADY_EXISTS = 6,
    MESH_GRPC_STATUS_PERMISSION_DENIED = 7,
    MESH_GRPC_STATUS_RESOURCE_EXHAUSTED = 8,
    MESH_GRPC_STATUS_FAILED_PRECONDITION = 9,
    MESH_GRPC_STATUS_ABORTED = 10,
    MESH_GRPC_STATUS_OUT_OF_RANGE = 11,
    MESH_GRPC_STATUS_UNIMPLEMENTED = 12,
    MESH_GRPC_STATUS_INTERNAL = 13,
    MESH_GRPC_STATUS_UNAVAILABLE = 14,
    MESH_GRPC_STATUS_DATA_LOSS = 15,
    MESH_GRPC_STATUS_UNAUTHENTICATED = 16,
};

/* Layer errors: 0 is success, every error is negative. */
enum {
    MESH_GRPC_EINVAL = -1,    /* bad argument (NULL, empty path, bad address) */
    MESH_GRPC_ENOMEM = -2,    /* an allocation failed */
    MESH_GRPC_EFULL = -3,     /* a stream's bounded send queue is full */
    MESH_GRPC_ECLOSED = -4,   /* the stream or call has ended (finished, cancelled) */
    MESH_GRPC_EBIND = -5,     /* the listen address could not be bound */
    MESH_GRPC_ETLS = -6,      /* a PEM file is missing, unreadable or not PEM */
    MESH_GRPC_ETIMEDOUT = -7, /* a blocking wait reached its timeout */
    MESH_GRPC_ESTATE = -8,    /* wrong moment (e.g. add a method after start) */
    MESH_GRPC_EEXIST = -9,    /* a method path is registered twice */
    MESH_GRPC_ECALL = -10,    /* grpc core refused an operation (a bug) */
};

/* Default and bounds, named so callers and tests agree on them. */
#define MESH_GRPC_DEFAULT_MAX_RECV (4u << 20)     /* grpc core's own default: 4 MiB */
#define MESH_GRPC_STATUS_MESSAGE_MAX 1024         /* longest status message we send */
#define MESH_GRPC_PEM_MAX (1u << 20)              /* largest PEM file we read */

/* One request metadata entry. Keys are lowercase ASCII; values are bytes
 * (binary "-bin" headers arrive already base64-decoded by grpc core). The
 * pointers are not NUL-terminated and are valid only while the callback that
 * received them runs. */
typedef struct mesh_grpc_md {
    const char *key;
    size_t key_len;
    const char *value;
    size_t value_len;
} mesh_grpc_md_t;

/* Constant text for a layer error ("queue full") or "unknown error". */
const char *mesh_grpc_strerror(int err);
/* Canonical upper-case name of a gRPC status ("RESOURCE_EXHAUSTED"), or
 * "UNKNOWN_CODE" for numbers outside 0..16. */
const char *mesh_grpc_status_name(int code);

#endif
