/*
 * dst/service.h - Destination.Get and Destination.GetProfile over gRPC.
 *
 * Binds a dst_watcher_t to a mesh_grpc_server_t: each call parses its
 * GetDestination, checks the authority (dst/authority.h), and subscribes the
 * stream to the watcher; the watcher's blobs go to mesh_grpc_stream_send,
 * whose bounded queue (stream_queue_max) is the per-stream queue: when it is
 * full the watcher ends the stream with RESOURCE_EXHAUSTED. When the call
 * ends (client cancel, server stop, or our finish) on_done unsubscribes.
 *
 * Status codes: a request that does not decode, a bad authority, an IP for
 * Get, or an ExternalName service -> INVALID_ARGUMENT; a stream waiting for
 * sync past DST_SYNC_WAIT_MS -> UNAVAILABLE (through the watcher).
 */
#ifndef DST_SERVICE_H
#define DST_SERVICE_H

#include "dst/watcher.h"
#include "mesh/grpc_server.h"

#define DST_PATH_GET "/io.linkerd.proxy.destination.Destination/Get"
#define DST_PATH_GET_PROFILE "/io.linkerd.proxy.destination.Destination/GetProfile"

typedef struct dst_service {
    dst_watcher_t *watcher;     /* not owned */
    const char *cluster_domain; /* not owned */
} dst_service_t;

/* Registers both methods on srv (before mesh_grpc_server_start); svc must
 * outlive the server. 0 or the mesh_grpc error. */
int dst_service_register(dst_service_t *svc, mesh_grpc_server_t *srv);

/* Monotonic milliseconds (the watcher's clock for the sync wait). */
uint64_t dst_now_ms(void);

#endif
