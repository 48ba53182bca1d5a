/*
 * mesh/k8s_config.h - where the Kubernetes API is and how to authenticate.
 *
 * Two sources, as client-go has them:
 *   - in cluster: KUBERNETES_SERVICE_HOST/PORT plus the service-account files
 *     `token`, `ca.crt` and `namespace` under MESH_K8S_SA_DIR;
 *   - a kubeconfig file (`--kubeconfig FILE`): current-context (or a named
 *     context) -> cluster (server, certificate-authority[-data],
 *     insecure-skip-tls-verify, tls-server-name) and user (token, tokenFile,
 *     client-certificate[-data], client-key[-data]). Relative paths resolve
 *     against the kubeconfig's directory; `-data` values are base64 PEM and win
 *     over the file forms; `exec`, `auth-provider` and basic auth are refused.
 *
 * Bearer tokens read from a file are cached at most token_refresh_ms
 * (MESH_K8S_TOKEN_REFRESH_MS = 60 s, client-go's period) and re-read after a
 * 401 (mesh_k8s_config_token_invalidate). When both `token` and `tokenFile`
 * are set, the file wins.
 *
 * Errors: every constructor returns 0, or -1 with a message in `err` that
 * names the file and the missing or bad field. A config is immutable after
 * construction except for its token cache, which is thread-safe.
 */
#ifndef MESH_K8S_CONFIG_H
#define MESH_K8S_CONFIG_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define MESH_K8S_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
#define MESH_K8S_TOKEN_REFRESH_MS 60000
/* Largest token, CA or key file we read. */
#define MESH_K8S_MAX_CRED_FILE ((size_t)1 << 20)

typedef struct mesh_k8s_config {
    char *server;          /* "https://host:port[/prefix]", no trailing slash */
    char *ns;              /* own / context namespace; "default" when unknown */
    char *ca_file;         /* CA bundle path, or NULL */
    char *ca_pem;          /* CA bundle bytes (from -data), or NULL; wins over ca_file */
    size_t ca_pem_len;
    int insecure;          /* skip server certificate verification */
    char *tls_server_name; /* name to verify instead of the URL host, or NULL */
    char *client_cert_file, *client_key_file; /* mTLS files, or NULL */
    char *client_cert_pem, *client_key_pem;   /* mTLS bytes (from -data), or NULL */
    size_t client_cert_pem_len, client_key_pem_len;
    char *token;      /* static bearer token, or NULL */
    char *token_file; /* bearer token file, or NULL; wins over token */
    uint64_t token_refresh_ms; /* cache period for token_file */

    /* token cache (private) */
    pthread_mutex_t _lock;
    char *_cached_token;
    uint64_t _cached_at_ms; /* monotonic ms of the last read; 0 = never/invalid */
} mesh_k8s_config_t;

/* Overrides for mesh_k8s_config_in_cluster; NULL fields use the environment
 * (KUBERNETES_SERVICE_HOST/PORT, POD_NAMESPACE) and MESH_K8S_SA_DIR. */
typedef struct {
    const char *sa_dir;
    const char *host;
    const char *port;
} mesh_k8s_incluster_opts_t;

/* In-cluster config. Fails with "not running in a cluster" when host or port
 * is missing, and names the missing file when the token or CA is absent. */
int mesh_k8s_config_in_cluster(const mesh_k8s_incluster_opts_t *opts, mesh_k8s_config_t **out,
                               char *err, size_t errlen);

/* Kubeconfig file; `context` NULL means current-context. */
int mesh_k8s_config_from_kubeconfig(const char *path, const char *context, mesh_k8s_config_t **out,
                                    char *err, size_t errlen);

/* A bare config for `server` (http:// allowed: tests and local stand-ins). */
mesh_k8s_config_t *mesh_k8s_config_new_plain(const char *server);

/* The bearer token to send now (a copy for the caller to mesh_free), or NULL
 * when the config has none. A token file is re-read when the cached copy is
 * older than token_refresh_ms or was invalidated; a read failure keeps the
 * last good token. Returns 0, or -1 when a token file exists in the config but
 * has never been readable (message in err). */
int mesh_k8s_config_token(mesh_k8s_config_t *cfg, char **out, char *err, size_t errlen);
/* Forget the cached file token (after a 401): the next call re-reads it. */
void mesh_k8s_config_token_invalidate(mesh_k8s_config_t *cfg);

void mesh_k8s_config_free(mesh_k8s_config_t *cfg);

/* Base64 (standard alphabet, padding optional, whitespace ignored) into a new
 * NUL-terminated buffer; *outlen excludes the NUL. -1 on bad input. */
int mesh_k8s_base64_decode(const char *in, char **out, size_t *outlen);

/* Monotonic milliseconds (CLOCK_MONOTONIC). */
uint64_t mesh_k8s_now_ms(void);

#endif
