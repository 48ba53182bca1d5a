/* The Certify endpoint; see id_grpc.h. */
#include "id_grpc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mesh/grpc_reload.h"
#include "mesh/grpc_server.h"
#include "mesh/log.h"
#include "mesh/mem.h"
#include "mesh/pki.h"

#define MOD "identity"

struct id_grpc {
    id_service_t *svc;           /* borrowed */
    bool insecure;               /* plaintext */
    mesh_grpc_server_t *srv;     /* the running server, NULL before start */
    mesh_grpc_reload_t *tls;     /* serving certificate, swapped in place */
    char listen[300];            /* "host:port" as bound */
};

static int on_certify(void *user, const mesh_grpc_call_info_t *info, const uint8_t *req, size_t len,
                      mesh_grpc_reply_t *reply)
{
    id_grpc_t *g = user;
    id_certify_result_t res;
    id_service_certify(g->svc, req, len, &res);
    int code = (int)res.code;
    if (res.code == ID_OK) {
        if (mesh_buf_append(&reply->body, res.response, res.response_len) != 0)
            code = MESH_GRPC_STATUS_RESOURCE_EXHAUSTED;
        mesh_log_debug(MOD, "certified %s until %ld (peer %s)", res.identity, (long)res.not_after, info->peer);
    } else {
        snprintf(reply->message, sizeof(reply->message), "%s", res.message);
        mesh_log_info(MOD, "Certify %s for \"%s\" from %s: %s", id_code_name(res.code), res.identity,
                      info->peer, res.message);
    }
    id_certify_result_free(&res);
    return code;
}

id_grpc_t *id_grpc_new(id_service_t *svc, bool insecure)
{
    id_grpc_t *g = mesh_calloc(1, sizeof(*g));
    if (g == NULL)
        return NULL;
    g->svc = svc;
    g->insecure = insecure;
    return g;
}

static int make_server(id_grpc_t *g, const char *addr, mesh_grpc_server_t **out)
{
    mesh_grpc_server_config_t cfg = {0};
    cfg.listen_addr = addr;
    if (!g->insecure) {
        if (g->tls == NULL || (cfg.creds = mesh_grpc_creds_reloadable(g->tls)) == NULL)
            return MESH_GRPC_ETLS;
    }
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    cfg.workers = ncpu < ID_GRPC_MIN_WORKERS ? ID_GRPC_MIN_WORKERS
                  : ncpu > ID_GRPC_MAX_WORKERS ? ID_GRPC_MAX_WORKERS : (int)ncpu;
    /* A request is three bounded fields. */
    cfg.max_recv_message = ID_CSR_MAX + ID_TOKEN_MAX + ID_NAME_MAX + 64;
    mesh_grpc_server_t *srv = NULL;
    int rc = mesh_grpc_server_new(&cfg, &srv);
    if (cfg.creds != NULL)
        grpc_server_credentials_release(cfg.creds);
    if (rc != 0)
        return rc;
    if ((rc = mesh_grpc_server_add_unary(srv, ID_CERTIFY_PATH, on_certify, g)) != 0 ||
        (rc = mesh_grpc_server_start(srv)) != 0) {
        mesh_grpc_server_free(srv);
        return rc;
    }
    *out = srv;
    return 0;
}

int id_grpc_set_tls(id_grpc_t *g, const char *cert_pem, const char *key_pem)
{
    int rc = g->tls == NULL ? mesh_grpc_reload_new(cert_pem, key_pem, &g->tls)
                            : mesh_grpc_reload_set(g->tls, cert_pem, key_pem);
    if (rc != 0) {
        mesh_log_error(MOD, "serving certificate refused (%d); keeping the current one", rc);
        return -1;
    }
    return 0;
}

uint64_t id_grpc_tls_delivered(id_grpc_t *g)
{
    return g->tls ? mesh_grpc_reload_delivered(g->tls) : 0;
}

int id_grpc_start(id_grpc_t *g, const char *addr, char *err, size_t errlen)
{
    /* ":8080" means every IPv4 address, as Go's net.Listen reads it. */
    if (addr[0] == ':')
        snprintf(g->listen, sizeof(g->listen), "0.0.0.0%s", addr);
    else
        snprintf(g->listen, sizeof(g->listen), "%s", addr);
    int rc = make_server(g, g->listen, &g->srv);
    if (rc != 0) {
        snprintf(err, errlen, "%s", rc == MESH_GRPC_EBIND ? "cannot bind" :
                                    rc == MESH_GRPC_ETLS ? "bad TLS material" : "cannot start");
        return -1;
    }
    return 0;
}

int id_grpc_port(const id_grpc_t *g)
{
    return g->srv ? mesh_grpc_server_port(g->srv) : 0;
}

void id_grpc_free(id_grpc_t *g)
{
    if (g == NULL)
        return;
    /* The server's credentials point at the holder: server first. */
    mesh_grpc_server_free(g->srv);
    mesh_grpc_reload_free(g->tls);
    mesh_free(g);
}
