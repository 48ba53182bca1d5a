/* In-cluster and kubeconfig configuration; see mesh/k8s_config.h. */
#include "mesh/k8s_config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mesh/mem.h"
#include "mesh/yamljson.h"

uint64_t mesh_k8s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static mesh_k8s_config_t *config_alloc(void)
{
    mesh_k8s_config_t *c = mesh_calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    pthread_mutex_init(&c->_lock, NULL);
    c->token_refresh_ms = MESH_K8S_TOKEN_REFRESH_MS;
    return c;
}

void mesh_k8s_config_free(mesh_k8s_config_t *c)
{
    if (c == NULL)
        return;
    mesh_free(c->server);
    mesh_free(c->ns);
    mesh_free(c->ca_file);
    mesh_free(c->ca_pem);
    mesh_free(c->tls_server_name);
    mesh_free(c->client_cert_file);
    mesh_free(c->client_key_file);
    mesh_free(c->client_cert_pem);
    mesh_free(c->client_key_pem);
    mesh_free(c->token);
    mesh_free(c->token_file);
    mesh_free(c->_cached_token);
    pthread_mutex_destroy(&c->_lock);
    mesh_free(c);
}

mesh_k8s_config_t *mesh_k8s_config_new_plain(const char *server)
{
    mesh_k8s_config_t *c = config_alloc();
    if (c == NULL)
        return NULL;
    c->server = mesh_strdup(server);
    c->ns = mesh_strdup("default");
    if (c->server == NULL || c->ns == NULL) {
        mesh_k8s_config_free(c);
        return NULL;
    }
    size_t n = strlen(c->server);
    while (n > 0 && c->server[n - 1] == '/')
        c->server[--n] = '\0';
    return c;
}

/* Reads a small file whole; -1 with errno set on failure. */
static int read_small_file(const char *path, char **out, size_t *outlen)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return -1;
    char *buf = mesh_malloc(MESH_K8S_MAX_CRED_FILE + 1);
    if (buf == NULL) {
        fclose(f);
        errno = ENOMEM;
        return -1;
    }
    size_t n = fread(buf, 1, MESH_K8S_MAX_CRED_FILE + 1, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || n > MESH_K8S_MAX_CRED_FILE) {
        mesh_free(buf);
        errno = bad ? EIO : EFBIG;
        return -1;
    }
    buf[n] = '\0';
    *out = buf;
    if (outlen)
        *outlen = n;
    return 0;
}

static void trim(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    size_t i = 0;
    while (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')
        i++;
    if (i > 0)
        memmove(s, s + i, n - i + 1);
}

int mesh_k8s_base64_decode(const char *in, char **out, size_t *outlen)
{
    size_t n = strlen(in);
    char *o = mesh_malloc(n / 4 * 3 + 4);
    if (o == NULL)
        return -1;
    uint32_t acc = 0;
    int bits = 0, pad = 0;
    size_t len = 0;
    for (const char *p = in; *p; p++) {
        int v;
        char ch = *p;
        if (ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t')
            continue;
        if (ch == '=') {
            pad++;
            continue;
        }
        if (pad)
            goto bad; /* data after padding */
        if (ch >= 'A' && ch <= 'Z')
            v = ch - 'A';
        else if (ch >= 'a' && ch <= 'z')
            v = ch - 'a' + 26;
        else if (ch >= '0' && ch <= '9')
            v = ch - '0' + 52;
        else if (ch == '+')
            v = 62;
        else if (ch == '/')
            v = 63;
        else
            goto bad;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            o[len++] = (char)((acc >> bits) & 0xff);
        }
    }
    if (bits >= 6 || pad > 2) /* a lone trailing sextet cannot encode a byte */
        goto bad;
    o[len] = '\0';
    *out = o;
    if (outlen)
        *outlen = len;
    return 0;
bad:
    mesh_free(o);
    return -1;
}

int mesh_k8s_config_in_cluster(const mesh_k8s_incluster_opts_t *opts, mesh_k8s_config_t **out,
                               char *err, size_t errlen)
{
    mesh_k8s_incluster_opts_t none = {0};
    if (opts == NULL)
        opts = &none;
    const char *host = opts->host ? opts->host : getenv("KUBERNETES_SERVICE_HOST");
    const char *port = opts->port ? opts->port : getenv("KUBERNETES_SERVICE_PORT");
    const char *dir = opts->sa_dir ? opts->sa_dir : MESH_K8S_SA_DIR;
    if (host == NULL || *host == '\0' || port == NULL || *port == '\0') {
        snprintf(err, errlen,
                 "not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT "
                 "must both be set");
        return -1;
    }
    char server[512], path[1024];
    snprintf(server, sizeof(server), strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host,
             port);
    mesh_k8s_config_t *c = mesh_k8s_config_new_plain(server);
    if (c == NULL)
        goto nomem;
    snprintf(path, sizeof(path), "%s/token", dir);
    if ((c->token_file = mesh_strdup(path)) == NULL)
        goto nomem;
    char *tok = NULL;
    if (mesh_k8s_config_token(c, &tok, err, errlen) != 0)
        goto fail;
    mesh_free(tok);
    snprintf(path, sizeof(path), "%s/ca.crt", dir);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, errlen, "in-cluster CA file %s: %s", path, strerror(errno));
        goto fail;
    }
    fclose(f);
    if ((c->ca_file = mesh_strdup(path)) == NULL)
        goto nomem;
    const char *podns = getenv("POD_NAMESPACE");
    char *ns = NULL;
    snprintf(path, sizeof(path), "%s/namespace", dir);
    if (podns != NULL && *podns) {
        ns = mesh_strdup(podns);
    } else if (read_small_file(path, &ns, NULL) == 0) {
        trim(ns);
        if (*ns == '\0')
            MESH_FREE(&ns);
    }
    if (ns != NULL) {
        mesh_free(c->ns);
        c->ns = ns;
    }
    *out = c;
    return 0;
nomem:
    snprintf(err, errlen, "out of memory");
fail:
    mesh_k8s_config_free(c);
    return -1;
}

int mesh_k8s_config_token(mesh_k8s_config_t *c, char **out, char *err, size_t errlen)
{
    *out = NULL;
    pthread_mutex_lock(&c->_lock);
    int rc = 0;
    if (c->token_file != NULL) {
        uint64_t now = mesh_k8s_now_ms();
        if (c->_cached_token == NULL || c->_cached_at_ms == 0 ||
            now - c->_cached_at_ms >= c->token_refresh_ms) {
            char *t;
            if (read_small_file(c->token_file, &t, NULL) == 0) {
                trim(t);
                mesh_free(c->_cached_token);
                c->_cached_token = t;
                c->_cached_at_ms = now ? now : 1;
            } else if (c->_cached_token == NULL) {
                snprintf(err, errlen, "token file %s: %s", c->token_file, strerror(errno));
                rc = -1;
            }
        }
        if (c->_cached_token != NULL && (*out = mesh_strdup(c->_cached_token)) == NULL)
            rc = -1;
    } else if (c->token != NULL) {
        if ((*out = mesh_strdup(c->token)) == NULL)
            rc = -1;
    }
    pthread_mutex_unlock(&c->_lock);
    return rc;
}

void mesh_k8s_config_token_invalidate(mesh_k8s_config_t *c)
{
    pthread_mutex_lock(&c->_lock);
    c->_cached_at_ms = 0;
    pthread_mutex_unlock(&c->_lock);
}

/* ---- kubeconfig ---------------------------------------------------------- */

/* Finds the `name` entry of a named list (clusters, users, contexts) and
 * returns its inner object (`cluster`, `user`, `context`). */
static json_t *named_entry(json_t *root, const char *list, const char *inner, const char *name)
{
    json_t *arr = json_object_get(root, list);
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e) {
        const char *n = json_string_value(json_object_get(e, "name"));
        if (n != NULL && strcmp(n, name) == 0) {
            json_t *in = json_object_get(e, inner);
            return json_is_object(in) ? in : NULL;
        }
    }
    return NULL;
}

static const char *str_field(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) && json_string_length(v) > 0 ? json_string_value(v) : NULL;
}

/* Resolves a kubeconfig-relative path into a new string. */
static char *resolve(const char *base_dir, const char *p)
{
    if (p[0] == '/' || base_dir == NULL)
        return mesh_strdup(p);
    size_t n = strlen(base_dir) + strlen(p) + 2;
    char *r = mesh_malloc(n);
    if (r != NULL)
        snprintf(r, n, "%s/%s", base_dir, p);
    return r;
}

static int take_b64(const char *path, const char *field, const char *v, char **out, size_t *len,
                    char *err, size_t errlen)
{
    if (mesh_k8s_base64_decode(v, out, len) != 0) {
        snprintf(err, errlen, "%s: %s is not valid base64", path, field);
        return -1;
    }
    return 0;
}

int mesh_k8s_config_from_kubeconfig(const char *path, const char *context, mesh_k8s_config_t **out,
                                    char *err, size_t errlen)
{
    json_t *docs = NULL;
    char yerr[512];
    if (mesh_yaml_load_file(path, &docs, yerr, sizeof(yerr)) != 0) {
        snprintf(err, errlen, "kubeconfig %s", yerr);
        return -1;
    }
    mesh_k8s_config_t *c = NULL;
    char *dir = NULL;
    json_t *root = json_array_get(docs, 0);
    if (json_array_size(docs) != 1 || !json_is_object(root)) {
        snprintf(err, errlen, "kubeconfig %s: not a YAML mapping", path);
        goto fail;
    }
    const char *ctxname = context ? context : str_field(root, "current-context");
    if (ctxname == NULL) {
        snprintf(err, errlen, "kubeconfig %s: current-context is not set", path);
        goto fail;
    }
    json_t *ctx = named_entry(root, "contexts", "context", ctxname);
    if (ctx == NULL) {
        snprintf(err, errlen, "kubeconfig %s: context \"%s\" not found in contexts", path, ctxname);
        goto fail;
    }
    const char *clname = str_field(ctx, "cluster");
    const char *uname = str_field(ctx, "user");
    if (clname == NULL) {
        snprintf(err, errlen, "kubeconfig %s: context \"%s\" has no cluster", path, ctxname);
        goto fail;
    }
    json_t *cl = named_entry(root, "clusters", "cluster", clname);
    if (cl == NULL) {
        snprintf(err, errlen, "kubeconfig %s: cluster \"%s\" not found in clusters", path, clname);
        goto fail;
    }
    const char *server = str_field(cl, "server");
    if (server == NULL) {
        snprintf(err, errlen, "kubeconfig %s: cluster \"%s\" has no server", path, clname);
        goto fail;
    }
    if ((c = mesh_k8s_config_new_plain(server)) == NULL)
        goto nomem;
    const char *slash = strrchr(path, '/');
    if (slash != NULL && (dir = mesh_strndup(path, (size_t)(slash - path))) == NULL)
        goto nomem;
    const char *ns = str_field(ctx, "namespace");
    if (ns != NULL) {
        mesh_free(c->ns);
        if ((c->ns = mesh_strdup(ns)) == NULL)
            goto nomem;
    }
    json_t *insecure = json_object_get(cl, "insecure-skip-tls-verify");
    if (insecure != NULL && !json_is_boolean(insecure)) {
        snprintf(err, errlen, "kubeconfig %s: cluster \"%s\": insecure-skip-tls-verify must be a bool",
                 path, clname);
        goto fail;
    }
    c->insecure = json_is_true(insecure);
    const char *v;
    if ((v = str_field(cl, "certificate-authority-data")) != NULL) {
        if (take_b64(path, "certificate-authority-data", v, &c->ca_pem, &c->ca_pem_len, err, errlen))
            goto fail;
    } else if ((v = str_field(cl, "certificate-authority")) != NULL) {
        if ((c->ca_file = resolve(dir, v)) == NULL)
            goto nomem;
    }
    if (c->insecure && (c->ca_pem || c->ca_file)) {
        snprintf(err, errlen,
                 "kubeconfig %s: cluster \"%s\": insecure-skip-tls-verify cannot be combined with "
                 "a certificate authority",
                 path, clname);
        goto fail;
    }
    if ((v = str_field(cl, "tls-server-name")) != NULL && (c->tls_server_name = mesh_strdup(v)) == NULL)
        goto nomem;

    if (uname != NULL) {
        json_t *u = named_entry(root, "users", "user", uname);
        if (u == NULL) {
            snprintf(err, errlen, "kubeconfig %s: user \"%s\" not found in users", path, uname);
            goto fail;
        }
        static const char *const unsupported[] = {"exec", "auth-provider", "username", "password",
                                                  "as", NULL};
        for (int i = 0; unsupported[i]; i++) {
            if (json_object_get(u, unsupported[i]) != NULL) {
                snprintf(err, errlen, "kubeconfig %s: user \"%s\": %s is not supported by cmesh",
                         path, uname, unsupported[i]);
                goto fail;
            }
        }
        if ((v = str_field(u, "token")) != NULL && (c->token = mesh_strdup(v)) == NULL)
            goto nomem;
        if ((v = str_field(u, "tokenFile")) != NULL && (c->token_file = resolve(dir, v)) == NULL)
            goto nomem;
        if ((v = str_field(u, "client-certificate-data")) != NULL) {
            if (take_b64(path, "client-certificate-data", v, &c->client_cert_pem,
                         &c->client_cert_pem_len, err, errlen))
                goto fail;
        } else if ((v = str_field(u, "client-certificate")) != NULL) {
            if ((c->client_cert_file = resolve(dir, v)) == NULL)
                goto nomem;
        }
        if ((v = str_field(u, "client-key-data")) != NULL) {
            if (take_b64(path, "client-key-data", v, &c->client_key_pem, &c->client_key_pem_len, err,
                         errlen))
                goto fail;
        } else if ((v = str_field(u, "client-key")) != NULL) {
            if ((c->client_key_file = resolve(dir, v)) == NULL)
                goto nomem;
        }
        int has_cert = c->client_cert_pem || c->client_cert_file;
        int has_key = c->client_key_pem || c->client_key_file;
        if (has_cert != has_key) {
            snprintf(err, errlen, "kubeconfig %s: user \"%s\": %s without %s", path, uname,
                     has_cert ? "client-certificate" : "client-key",
                     has_cert ? "client-key" : "client-certificate");
            goto fail;
        }
    }
    mesh_free(dir);
    json_decref(docs);
    *out = c;
    return 0;
nomem:
    snprintf(err, errlen, "kubeconfig %s: out of memory", path);
fail:
    mesh_free(dir);
    mesh_k8s_config_free(c);
    json_decref(docs);
    return -1;
}
