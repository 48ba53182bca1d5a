/* Reloadable TLS server credentials; see mesh/grpc_reload.h. */
#include "mesh/grpc_reload.h"

#include <pthread.h>
#include <string.h>

#include <grpc/grpc.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "mesh/grpc_common.h"
#include "mesh/mem.h"

struct mesh_grpc_reload {
    pthread_mutex_t lock; /* guards everything below */
    char *cert;           /* current chain, PEM */
    char *key;            /* current key, PEM */
    uint64_t gen;         /* bumped by every accepted set */
    uint64_t sent_gen;    /* generation last handed to grpc, 0 = none yet */
    uint64_t delivered;   /* pairs handed to grpc */
};

/* 0 when the PEM key is the private half of the first PEM certificate. */
static int pair_matches(const char *cert_pem, const char *key_pem)
{
    int rc = MESH_GRPC_ETLS;
    BIO *cb = BIO_new_mem_buf(cert_pem, -1), *kb = BIO_new_mem_buf(key_pem, -1);
    X509 *cert = cb ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL;
    EVP_PKEY *key = kb ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) : NULL;
    if (cert != NULL && key != NULL && X509_check_private_key(cert, key) == 1)
        rc = 0;
    X509_free(cert);
    EVP_PKEY_free(key);
    BIO_free(cb);
    BIO_free(kb);
    ERR_clear_error();
    return rc;
}

static int store(mesh_grpc_reload_t *r, const char *cert_pem, const char *key_pem)
{
    if (cert_pem == NULL || key_pem == NULL)
        return MESH_GRPC_EINVAL;
    int rc = pair_matches(cert_pem, key_pem);
    if (rc != 0)
        return rc;
    char *cert = mesh_strdup(cert_pem), *key = mesh_strdup(key_pem);
    if (cert == NULL || key == NULL) {
        mesh_free(cert);
        mesh_free(key);
        return MESH_GRPC_ENOMEM;
    }
    pthread_mutex_lock(&r->lock);
    char *old_cert = r->cert, *old_key = r->key;
    r->cert = cert;
    r->key = key;
    r->gen++;
    pthread_mutex_unlock(&r->lock);
    mesh_free(old_cert);
    if (old_key != NULL) {
        memset(old_key, 0, strlen(old_key));
        mesh_free(old_key);
    }
    return 0;
}

int mesh_grpc_reload_new(const char *cert_pem, const char *key_pem, mesh_grpc_reload_t **out)
{
    *out = NULL;
    mesh_grpc_reload_t *r = mesh_calloc(1, sizeof(*r));
    if (r == NULL)
        return MESH_GRPC_ENOMEM;
    pthread_mutex_init(&r->lock, NULL);
    int rc = store(r, cert_pem, key_pem);
    if (rc != 0) {
        pthread_mutex_destroy(&r->lock);
        mesh_free(r);
        return rc;
    }
    grpc_init();
    *out = r;
    return 0;
}

int mesh_grpc_reload_set(mesh_grpc_reload_t *r, const char *cert_pem, const char *key_pem)
{
    return r == NULL ? MESH_GRPC_EINVAL : store(r, cert_pem, key_pem);
}

/* Runs in grpc's handshake path: cheap when nothing changed. grpc copies the
 * strings into the config, so the lock covers only the copy. */
static grpc_ssl_certificate_config_reload_status on_fetch(void *user,
                                                          grpc_ssl_server_certificate_config **config)
{
    mesh_grpc_reload_t *r = user;
    grpc_ssl_certificate_config_reload_status st = GRPC_SSL_CERTIFICATE_CONFIG_RELOAD_UNCHANGED;
    pthread_mutex_lock(&r->lock);
    if (r->sent_gen != r->gen) {
        grpc_ssl_pem_key_cert_pair pair = {r->key, r->cert};
        /* grpc 1.51 asserts on a reloaded config without client roots even
         * when no client certificate is requested; the chain itself serves
         * as that never-consulted bundle. */
        *config = grpc_ssl_server_certificate_config_create(r->cert, &pair, 1);
        if (*config == NULL) {
            st = GRPC_SSL_CERTIFICATE_CONFIG_RELOAD_FAIL;
        } else {
            r->sent_gen = r->gen;
            r->delivered++;
            st = GRPC_SSL_CERTIFICATE_CONFIG_RELOAD_NEW;
        }
    }
    pthread_mutex_unlock(&r->lock);
    return st;
}

grpc_server_credentials *mesh_grpc_creds_reloadable(mesh_grpc_reload_t *r)
{
    if (r == NULL)
        return NULL;
    /* New credentials fetch their first pair when the port is added. */
    pthread_mutex_lock(&r->lock);
    r->sent_gen = 0;
    pthread_mutex_unlock(&r->lock);
    grpc_ssl_server_credentials_options *opts = grpc_ssl_server_credentials_create_options_using_config_fetcher(
        GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE, on_fetch, r);
    return opts ? grpc_ssl_server_credentials_create_with_options(opts) : NULL;
}

uint64_t mesh_grpc_reload_delivered(mesh_grpc_reload_t *r)
{
    pthread_mutex_lock(&r->lock);
    uint64_t n = r->delivered;
    pthread_mutex_unlock(&r->lock);
    return n;
}

void mesh_grpc_reload_free(mesh_grpc_reload_t *r)
{
    if (r == NULL)
        return;
    mesh_free(r->cert);
    if (r->key != NULL) {
        memset(r->key, 0, strlen(r->key));
        mesh_free(r->key);
    }
    pthread_mutex_destroy(&r->lock);
    mesh_free(r);
    grpc_shutdown();
}
