/* The Certify endpoint; see id_grpc.h. */
#include "id_grpc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mesh/grpc_server.h"
#include "mesh/log.h"
#include "mesh/mem.h"
#include "mesh/pki.h"

#define MOD "identity"

struct id_grpc {
    id_service_t *svc;           /* borrowed */
    bool insecure;               /* plaintext */
    mesh_grpc_server_t *srv;     /* the running server, NULL before start */
    char dir[64];                /* private directory for the PEM files */
    char cert_path[128], key_path[128];
    unsigned version;            /* PEM files written so far */
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
    const char *tmp = getenv("TMPDIR");
    snprintf(g->dir, sizeof(g->dir), "%s/cmesh-identity-XXXXXX",
             tmp && strlen(tmp) < sizeof(g->dir) - 24 ? tmp : "/tmp");
    if (!insecure && mkdtemp(g->dir) == NULL) {
        mesh_log_error(MOD, "cannot create a private directory for the serving certificate: %s",
                       strerror(errno));
        mesh_free(g);
        return NULL;
    }
    return g;
}

static int make_server(id_grpc_t *g, const char *addr, mesh_grpc_server_t **out)
{
    mesh_grpc_server_config_t cfg = {0};
    cfg.listen_addr = addr;
    if (!g->insecure) {
        cfg.tls_cert_file = g->cert_path;
        cfg.tls_key_file = g->key_path;
    }
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    cfg.workers = ncpu < ID_GRPC_MIN_WORKERS ? ID_GRPC_MIN_WORKERS
                  : ncpu > ID_GRPC_MAX_WORKERS ? ID_GRPC_MAX_WORKERS : (int)ncpu;
    /* A request is three bounded fields. */
    cfg.max_recv_message = ID_CSR_MAX + ID_TOKEN_MAX + ID_NAME_MAX + 64;
    mesh_grpc_server_t *srv = NULL;
    int rc = mesh_grpc_server_new(&cfg, &srv);
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
    char cert[128], key[128];
    unsigned v = g->version + 1;
    snprintf(cert, sizeof(cert), "%s/tls-%u.crt", g->dir, v);
    snprintf(key, sizeof(key), "%s/tls-%u.key", g->dir, v);
    if (mesh_pki_write_file(cert, cert_pem, strlen(cert_pem), 0600) != 0 ||
        mesh_pki_write_file(key, key_pem, strlen(key_pem), 0600) != 0) {
        mesh_log_error(MOD, "cannot write the serving certificate: %s", strerror(errno));
        unlink(cert);
        return -1;
    }
    char old_cert[128], old_key[128];
    snprintf(old_cert, sizeof(old_cert), "%s", g->cert_path);
    snprintf(old_key, sizeof(old_key), "%s", g->key_path);
    snprintf(g->cert_path, sizeof(g->cert_path), "%s", cert);
    snprintf(g->key_path, sizeof(g->key_path), "%s", key);
    g->version = v;
    if (g->srv != NULL) {
        mesh_grpc_server_t *next = NULL;
        int rc = make_server(g, g->listen, &next);
        if (rc != 0) {
            mesh_log_error(MOD, "cannot start a server with the renewed certificate (%d); keeping the old one", rc);
            snprintf(g->cert_path, sizeof(g->cert_path), "%s", old_cert);
            snprintf(g->key_path, sizeof(g->key_path), "%s", old_key);
            unlink(cert);
            unlink(key);
            return -1;
        }
        mesh_grpc_server_free(g->srv);
        g->srv = next;
    }
    if (old_cert[0] != '\0') {
        unlink(old_cert);
        unlink(old_key);
    }
    return 0;
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
    /* Pin the port so a renewal binds the same one. */
    char *colon = strrchr(g->listen, ':');
    if (colon != NULL)
        snprintf(colon + 1, sizeof(g->listen) - (size_t)(colon + 1 - g->listen), "%d",
                 mesh_grpc_server_port(g->srv));
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
    mesh_grpc_server_free(g->srv);
    if (g->cert_path[0] != '\0') {
        unlink(g->cert_path);
        unlink(g->key_path);
    }
    if (!g->insecure)
        rmdir(g->dir);
    mesh_free(g);
}
