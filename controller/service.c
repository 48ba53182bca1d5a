/* Get/GetProfile handlers over the gRPC layer; see dst/service.h. */
#include "dst/service.h"

#include <stdio.h>
#include <time.h>

#include "destination.pb-c.h"
#include "mesh/log.h"

uint64_t dst_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int sink_send(void *ud, dst_blob_t *b)
{
    return mesh_grpc_stream_send(ud, b->data, b->len) == 0 ? 0 : -1;
}

static void sink_end(void *ud, int status, const char *msg)
{
    /* The stream stays ours until on_done; finish only ends the RPC. */
    (void)mesh_grpc_stream_finish(ud, status, msg);
}

static void handle(dst_service_t *svc, int is_profile, const mesh_grpc_call_info_t *info,
                   const uint8_t *req, size_t len, mesh_grpc_stream_t *stream)
{
    Io__Linkerd__Proxy__Destination__GetDestination *gd =
        io__linkerd__proxy__destination__get_destination__unpack(NULL, len, req);
    if (gd == NULL) {
        mesh_grpc_stream_finish_release(stream, MESH_GRPC_STATUS_INVALID_ARGUMENT, "malformed GetDestination");
        return;
    }
    dst_authority_t a;
    char msg[DST_AUTH_PATH_MAX + 96];
    int rc = dst_authority_parse(gd->path, svc->cluster_domain, &a);
    if (rc == DST_AUTH_OK && !is_profile && a.kind == DST_AUTH_IP) {
        snprintf(msg, sizeof msg, "IP queries not supported by Get: %.*s", DST_AUTH_PATH_MAX, gd->path);
        rc = -1;
    } else if (rc != DST_AUTH_OK) {
        snprintf(msg, sizeof msg, "invalid authority \"%.*s\": %s", DST_AUTH_PATH_MAX, gd->path,
                 dst_authority_strerror(rc));
    }
    if (rc != DST_AUTH_OK) {
        mesh_log_debug("destination", "%s %s", info->method, msg);
        io__linkerd__proxy__destination__get_destination__free_unpacked(gd, NULL);
        mesh_grpc_stream_finish_release(stream, MESH_GRPC_STATUS_INVALID_ARGUMENT, msg);
        return;
    }
    dst_sink_t sink = {sink_send, sink_end, stream};
    dst_sub_t *sub = NULL;
    rc = is_profile ? dst_watcher_subscribe_profile(svc->watcher, &a, &sink, dst_now_ms(), &sub)
                    : dst_watcher_subscribe(svc->watcher, &a, &sink, dst_now_ms(), &sub);
    if (rc != DST_OK) {
        snprintf(msg, sizeof msg, "%s: %.*s", rc == DST_STATUS_INVALID_ARGUMENT ? "not a discoverable service" : "cannot subscribe",
                 DST_AUTH_PATH_MAX, gd->path);
        io__linkerd__proxy__destination__get_destination__free_unpacked(gd, NULL);
        mesh_grpc_stream_finish_release(stream, rc, msg);
        return;
    }
    mesh_log_debug("destination", "%s %s subscribed", info->method, gd->path);
    io__linkerd__proxy__destination__get_destination__free_unpacked(gd, NULL);
    /* on_done runs only after we return, so it always sees the subscription. */
    mesh_grpc_stream_set_data(stream, sub);
}

static void on_get(void *user, const mesh_grpc_call_info_t *info, const uint8_t *req, size_t len,
                   mesh_grpc_stream_t *stream)
{
    handle(user, 0, info, req, len, stream);
}

static void on_get_profile(void *user, const mesh_grpc_call_info_t *info, const uint8_t *req, size_t len,
                           mesh_grpc_stream_t *stream)
{
    handle(user, 1, info, req, len, stream);
}

static void on_done(void *user, mesh_grpc_stream_t *stream, int cancelled)
{
    (void)cancelled;
    dst_service_t *svc = user;
    dst_sub_t *sub = mesh_grpc_stream_data(stream);
    if (sub == NULL)
        return; /* refused in the handler, which already released */
    mesh_grpc_stream_set_data(stream, NULL);
    dst_watcher_unsubscribe(svc->watcher, sub);
    mesh_grpc_stream_release(stream);
}

int dst_service_register(dst_service_t *svc, mesh_grpc_server_t *srv)
{
    int rc = mesh_grpc_server_add_stream(srv, DST_PATH_GET, on_get, on_done, svc);
    if (rc == 0)
        rc = mesh_grpc_server_add_stream(srv, DST_PATH_GET_PROFILE, on_get_profile, on_done, svc);
    return rc;
}
