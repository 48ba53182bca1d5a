/* Kubernetes API HTTP client; see mesh/k8s_client.h. */
#include "mesh/k8s_client.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "mesh/buf.h"
#include "mesh/k8s_backoff.h"
#include "mesh/log.h"
#include "mesh/mem.h"

#ifndef CMESH_VERSION
#define CMESH_VERSION "dev"
#endif

struct mesh_k8s_client {
    mesh_k8s_config_t *cfg;
    mesh_k8s_ratelimit_t rl;
    int max_retries;
    long max_retry_after_ms;
    long timeout_ms;
    char *user_agent;
    pthread_mutex_t lock; /* pool and stats */
    CURL *pool[MESH_K8S_POOL_MAX];
    int npool;
    mesh_k8s_client_stats_t stats;
    char *connect_to; /* "name:port:host:port" when tls_server_name is set */
    char *url_base;   /* server URL, host replaced by tls_server_name if set */
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Sleeps `ms`, in small steps so a cancel on `h` cuts it short. Returns 1 when cancelled. */
static int sleep_cancellable(uint64_t ms, mesh_k8s_watch_handle_t *h)
{
    while (ms > 0) {
        if (h != NULL && atomic_load(&h->cancel))
            return 1;
        uint64_t step = ms > 10 ? 10 : ms;
        struct timespec ts = {(time_t)(step / 1000), (long)(step % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        ms -= step;
    }
    return h != NULL && atomic_load(&h->cancel);
}

void mesh_k8s_result_free(mesh_k8s_result_t *r)
{
    json_decref(r->body);
    mesh_free(r->reason);
    mesh_free(r->message);
    memset(r, 0, sizeof(*r));
}

void mesh_k8s_watch_handle_init(mesh_k8s_watch_handle_t *h)
{
    atomic_init(&h->cancel, 0);
    pthread_mutex_init(&h->lock, NULL);
    h->fd = -1;
}

void mesh_k8s_watch_handle_destroy(mesh_k8s_watch_handle_t *h)
{
    pthread_mutex_destroy(&h->lock);
}

void mesh_k8s_watch_cancel(mesh_k8s_watch_handle_t *h)
{
    atomic_store(&h->cancel, 1);
    pthread_mutex_lock(&h->lock);
    /* shutdown, not close: curl still owns the descriptor and closes it. */
    if (h->fd >= 0)
        shutdown(h->fd, SHUT_RDWR);
    pthread_mutex_unlock(&h->lock);
}

static char *build_connect_to(mesh_k8s_config_t *cfg, char **url_base)
{
    /* With tls-server-name the URL names the certificate's host and
     * CURLOPT_CONNECT_TO sends the connection to the real address. */
    CURLU *u = curl_url();
    char *host = NULL, *port = NULL, *url = NULL, *res = NULL;
    if (u == NULL || curl_url_set(u, CURLUPART_URL, cfg->server, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK ||
        curl_url_set(u, CURLUPART_HOST, cfg->tls_server_name, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_URL, &url, 0) != CURLUE_OK)
        goto out;
    size_t n = strlen(cfg->tls_server_name) + strlen(host) + 2 * strlen(port) + 8;
    if ((res = mesh_malloc(n)) == NULL)
        goto out;
    snprintf(res, n, "%s:%s:%s:%s", cfg->tls_server_name, port, host, port);
    size_t ul = strlen(url);
    while (ul > 0 && url[ul - 1] == '/')
        url[--ul] = '\0';
    if ((*url_base = mesh_strdup(url)) == NULL)
        MESH_FREE(&res);
out:
    curl_free(host);
    curl_free(port);
    curl_free(url);
    curl_url_cleanup(u);
    return res;
}

mesh_k8s_client_t *mesh_k8s_client_new(mesh_k8s_config_t *cfg, const mesh_k8s_client_opts_t *opts)
{
    pthread_once(&curl_once, curl_init_once);
    mesh_k8s_client_opts_t none = {0};
    if (opts == NULL)
        opts = &none;
    mesh_k8s_client_t *c = mesh_calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->cfg = cfg;
    double qps = opts->qps == 0 ? MESH_K8S_QPS_DEFAULT : opts->qps;
    mesh_k8s_ratelimit_init(&c->rl, qps, opts->burst ? opts->burst : MESH_K8S_BURST_DEFAULT);
    c->max_retries = opts->max_retries == 0 ? MESH_K8S_MAX_RETRIES
                     : opts->max_retries < 0 ? 0
                                             : opts->max_retries;
    c->max_retry_after_ms = opts->max_retry_after_ms ? opts->max_retry_after_ms
                                                     : MESH_K8S_MAX_RETRY_AFTER_MS;
    c->timeout_ms = opts->timeout_ms ? opts->timeout_ms : MESH_K8S_REQUEST_TIMEOUT_MS;
    c->user_agent = mesh_strdup(opts->user_agent ? opts->user_agent : "cmesh/" CMESH_VERSION);
    pthread_mutex_init(&c->lock, NULL);
    if (cfg->tls_server_name != NULL) {
        c->connect_to = build_connect_to(cfg, &c->url_base);
        if (c->connect_to == NULL) {
            mesh_log_error("k8s", "cannot apply tls-server-name %s to server %s",
                           cfg->tls_server_name, cfg->server);
            mesh_k8s_client_free(c);
            return NULL;
        }
    } else {
        c->url_base = mesh_strdup(cfg->server);
    }
    if (c->user_agent == NULL || c->url_base == NULL) {
        mesh_k8s_client_free(c);
        return NULL;
    }
    return c;
}

void mesh_k8s_client_free(mesh_k8s_client_t *c)
{
    if (c == NULL)
        return;
    for (int i = 0; i < c->npool; i++)
        curl_easy_cleanup(c->pool[i]);
    mesh_k8s_ratelimit_destroy(&c->rl);
    pthread_mutex_destroy(&c->lock);
    mesh_free(c->user_agent);
    mesh_free(c->connect_to);
    mesh_free(c->url_base);
    mesh_free(c);
}

mesh_k8s_config_t *mesh_k8s_client_config(mesh_k8s_client_t *c)
{
    return c->cfg;
}

void mesh_k8s_client_stats(mesh_k8s_client_t *c, mesh_k8s_client_stats_t *out)
{
    pthread_mutex_lock(&c->lock);
    *out = c->stats;
    pthread_mutex_unlock(&c->lock);
}

static CURL *take_handle(mesh_k8s_client_t *c)
{
    CURL *h = NULL;
    pthread_mutex_lock(&c->lock);
    if (c->npool > 0)
        h = c->pool[--c->npool];
    pthread_mutex_unlock(&c->lock);
    if (h != NULL) {
        curl_easy_reset(h); /* keeps the connection cache */
        return h;
    }
    return curl_easy_init();
}

static void give_handle(mesh_k8s_client_t *c, CURL *h, int reusable)
{
    if (reusable) {
        pthread_mutex_lock(&c->lock);
        if (c->npool < MESH_K8S_POOL_MAX) {
            c->pool[c->npool++] = h;
            h = NULL;
        }
        pthread_mutex_unlock(&c->lock);
    }
    if (h != NULL)
        curl_easy_cleanup(h);
}

/* State of one HTTP exchange. */
typedef struct {
    CURL *curl;
    mesh_buf_t body;       /* collected body (non-streaming or error responses) */
    int too_big;           /* body passed MESH_K8S_MAX_BODY */
    long retry_after_s;    /* parsed Retry-After, -1 if none */
    mesh_k8s_data_cb on_data; /* streaming sink for 200 bodies, or NULL */
    void *ud;
    int stopped;           /* on_data asked to stop */
    mesh_k8s_watch_handle_t *h;
} xfer_t;

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
    xfer_t *x = ud;
    size_t n = size * nmemb;
    if (x->on_data != NULL) {
        long code = 0;
        curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &code);
        if (code == 200) {
            if (x->on_data(ptr, n, x->ud) != 0) {
                x->stopped = 1;
                return 0; /* aborts the transfer */
            }
            return n;
        }
    }
    if (x->body.len + n > MESH_K8S_MAX_BODY) {
        x->too_big = 1;
        return 0;
    }
    return mesh_buf_append(&x->body, ptr, n) == 0 ? n : 0;
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *ud)
{
    xfer_t *x = ud;
    size_t n = size * nitems;
    static const char name[] = "retry-after:";
    if (n > sizeof(name) - 1 && strncasecmp(buf, name, sizeof(name) - 1) == 0) {
        char tmp[32];
        size_t l = n - (sizeof(name) - 1);
        if (l >= sizeof(tmp))
            l = sizeof(tmp) - 1;
        memcpy(tmp, buf + sizeof(name) - 1, l);
        tmp[l] = '\0';
        char *end;
        long v = strtol(tmp, &end, 10);
        while (*end == ' ' || *end == '\r' || *end == '\n')
            end++;
        /* Only delta-seconds; an HTTP date is rare from the apiserver. */
        if (end != tmp && *end == '\0' && v >= 0)
            x->retry_after_s = v;
    }
    return n;
}

static int on_xferinfo(void *ud, curl_off_t a, curl_off_t b, curl_off_t c2, curl_off_t d)
{
    (void)a, (void)b, (void)c2, (void)d;
    xfer_t *x = ud;
    return x->h != NULL && atomic_load(&x->h->cancel) ? 1 : 0;
}

static curl_socket_t on_opensocket(void *ud, curlsocktype purpose, struct curl_sockaddr *addr)
{
    (void)purpose;
    xfer_t *x = ud;
    curl_socket_t fd = socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
    if (fd >= 0 && x->h != NULL) {
        pthread_mutex_lock(&x->h->lock);
        x->h->fd = fd;
        pthread_mutex_unlock(&x->h->lock);
    }
    return fd;
}

static int on_closesocket(void *ud, curl_socket_t fd)
{
    mesh_k8s_watch_handle_t *h = ud;
    if (h != NULL) {
        pthread_mutex_lock(&h->lock);
        if (h->fd == fd)
            h->fd = -1;
        pthread_mutex_unlock(&h->lock);
    }
    return close(fd);
}

static const char *reason_for(long code)
{
    switch (code) {
    case 400: return "BadRequest";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "NotFound";
    case 405: return "MethodNotAllowed";
    case 406: return "NotAcceptable";
    case 409: return "Conflict";
    case 410: return "Expired";
    case 413: return "RequestEntityTooLarge";
    case 415: return "UnsupportedMediaType";
    case 422: return "Invalid";
    case 429: return "TooManyRequests";
    case 500: return "InternalError";
    case 503: return "ServiceUnavailable";
    case 504: return "Timeout";
    }
    return "";
}

/* Fills res from a finished exchange. */
static void decode_result(xfer_t *x, long status, mesh_k8s_result_t *res)
{
    res->status = status;
    res->retry_after_s = x->retry_after_s;
    json_decref(res->body);
    res->body = NULL;
    MESH_FREE(&res->reason);
    MESH_FREE(&res->message);
    if (x->body.len > 0)
        res->body = json_loadb(x->body.base, x->body.len, 0, NULL);
    if (status < 400)
        return;
    const char *reason = NULL, *message = NULL;
    if (json_is_object(res->body) &&
        strcmp(json_string_value(json_object_get(res->body, "kind")) ?: "", "Status") == 0) {
        reason = json_string_value(json_object_get(res->body, "reason"));
        message = json_string_value(json_object_get(res->body, "message"));
    }
    res->reason = mesh_strdup(reason && *reason ? reason : reason_for(status));
    if (message != NULL) {
        res->message = mesh_strdup(message);
    } else if (x->body.len > 0 && res->body == NULL) {
        /* Plain-text errors (429 from APF, Go's 404 page): keep the first line. */
        size_t n = strcspn(x->body.base, "\r\n");
        res->message = mesh_strndup(x->body.base, n > 200 ? 200 : n);
    } else {
        char tmp[64];
        snprintf(tmp, sizeof(tmp), "HTTP %ld", status);
        res->message = mesh_strdup(tmp);
    }
}

/* One request, with Retry-After retries unless streaming. */
static int do_request(mesh_k8s_client_t *c, const char *method, const char *path,
                      const char *content_type, const char *body, size_t body_len,
                      mesh_k8s_watch_handle_t *h, mesh_k8s_data_cb on_data, void *ud,
                      mesh_k8s_result_t *res)
{
    memset(res, 0, sizeof(*res));
    res->retry_after_s = -1;
    size_t ulen = strlen(c->url_base) + strlen(path) + 1;
    char *url = mesh_malloc(ulen);
    if (url == NULL) {
        res->message = mesh_strdup("out of memory");
        return -1;
    }
    snprintf(url, ulen, "%s%s", c->url_base, path);
    mesh_k8s_config_t *cfg = c->cfg;
    int rc = -1;
    for (int attempt = 0;; attempt++) {
        uint64_t wait = mesh_k8s_ratelimit_reserve(&c->rl, now_us());
        if (wait > 0) {
            pthread_mutex_lock(&c->lock);
            c->stats.throttled_us += wait;
            pthread_mutex_unlock(&c->lock);
            if (sleep_cancellable((wait + 999) / 1000, h)) {
                rc = 1;
                break;
            }
        }
        char *token = NULL;
        char terr[256] = "";
        if (mesh_k8s_config_token(cfg, &token, terr, sizeof(terr)) != 0) {
            mesh_free(res->message);
            res->message = mesh_strdup(terr[0] ? terr : "cannot read token");
            break;
        }
        CURL *curl = take_handle(c);
        if (curl == NULL) {
            mesh_free(token);
            res->message = mesh_strdup("curl_easy_init failed");
            break;
        }
        xfer_t x = {.curl = curl, .retry_after_s = -1, .on_data = on_data, .ud = ud, .h = h};
        mesh_buf_init(&x.body);
        struct curl_slist *hdrs = NULL;
        char line[64 + 4096];
        hdrs = curl_slist_append(hdrs, "Accept: application/json");
        if (content_type != NULL) {
            snprintf(line, sizeof(line), "Content-Type: %s", content_type);
            hdrs = curl_slist_append(hdrs, line);
        }
        if (token != NULL && *token) {
            snprintf(line, sizeof(line), "Authorization: Bearer %s", token);
            hdrs = curl_slist_append(hdrs, line);
        }
        if (token != NULL) {
            memset(token, 0, strlen(token));
            mesh_free(token);
        }
        curl_easy_setopt(curl, CURLOPT_URL, url);
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(curl, CURLOPT_USERAGENT, c->user_agent);
        curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
        curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, (long)MESH_K8S_CONNECT_TIMEOUT_MS);
        curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, on_data ? 0L : c->timeout_ms);
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_write);
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, &x);
        curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(curl, CURLOPT_HEADERDATA, &x);
        curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_xferinfo);
        curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &x);
        if (h != NULL) {
            /* Watches get their own connection so cancel can shut it down
             * without touching a pooled one another thread might reuse. */
            curl_easy_setopt(curl, CURLOPT_FRESH_CONNECT, 1L);
            curl_easy_setopt(curl, CURLOPT_FORBID_REUSE, 1L);
        }
        if (h != NULL) {
            curl_easy_setopt(curl, CURLOPT_OPENSOCKETFUNCTION, on_opensocket);
            curl_easy_setopt(curl, CURLOPT_OPENSOCKETDATA, &x);
            curl_easy_setopt(curl, CURLOPT_CLOSESOCKETFUNCTION, on_closesocket);
            curl_easy_setopt(curl, CURLOPT_CLOSESOCKETDATA, h);
        }
        if (body != NULL) {
            curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
            curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
        }
        if (cfg->ca_pem != NULL) {
            struct curl_blob blob = {cfg->ca_pem, cfg->ca_pem_len, CURL_BLOB_COPY};
            curl_easy_setopt(curl, CURLOPT_CAINFO_BLOB, &blob);
        } else if (cfg->ca_file != NULL) {
            curl_easy_setopt(curl, CURLOPT_CAINFO, cfg->ca_file);
        }
        if (cfg->insecure) {
            curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
            curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
        }
        if (cfg->client_cert_pem != NULL) {
            struct curl_blob cb = {cfg->client_cert_pem, cfg->client_cert_pem_len, CURL_BLOB_COPY};
            curl_easy_setopt(curl, CURLOPT_SSLCERT_BLOB, &cb);
            curl_easy_setopt(curl, CURLOPT_SSLCERTTYPE, "PEM");
        } else if (cfg->client_cert_file != NULL) {
            curl_easy_setopt(curl, CURLOPT_SSLCERT, cfg->client_cert_file);
        }
        if (cfg->client_key_pem != NULL) {
            struct curl_blob kb = {cfg->client_key_pem, cfg->client_key_pem_len, CURL_BLOB_COPY};
            curl_easy_setopt(curl, CURLOPT_SSLKEY_BLOB, &kb);
            curl_easy_setopt(curl, CURLOPT_SSLKEYTYPE, "PEM");
        } else if (cfg->client_key_file != NULL) {
            curl_easy_setopt(curl, CURLOPT_SSLKEY, cfg->client_key_file);
        }
        struct curl_slist *cto = NULL;
        if (c->connect_to != NULL) {
            cto = curl_slist_append(NULL, c->connect_to);
            curl_easy_setopt(curl, CURLOPT_CONNECT_TO, cto);
        }

        CURLcode cc = curl_easy_perform(curl);
        long status = 0;
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        pthread_mutex_lock(&c->lock);
        c->stats.requests++;
        pthread_mutex_unlock(&c->lock);
        int cancelled = h != NULL && atomic_load(&h->cancel);
        if (cc == CURLE_OK || (status > 0 && status != 200) || x.stopped || cancelled) {
            decode_result(&x, status, res);
        } else {
            res->status = status;
        }
        if (cc != CURLE_OK && !(status > 0 && status != 200 && !x.too_big)) {
            mesh_free(res->message);
            res->message = mesh_strdup(x.too_big ? "response body larger than MESH_K8S_MAX_BODY"
                                                 : curl_easy_strerror(cc));
        }
        curl_slist_free_all(hdrs);
        curl_slist_free_all(cto);
        mesh_buf_free(&x.body);
        give_handle(c, curl, h == NULL && cc == CURLE_OK);

        if (x.stopped || cancelled) {
            rc = 1;
            break;
        }
        if (cc != CURLE_OK) {
            /* A transport error after a 200 header: the stream was cut. */
            rc = -1;
            break;
        }
        if (status == 401)
            mesh_k8s_config_token_invalidate(cfg);
        if (status >= 200 && status < 300) {
            rc = 0;
            break;
        }
        int retryable = (status == 429 || status >= 500) && res->retry_after_s >= 0;
        if (on_data != NULL || !retryable || attempt >= c->max_retries) {
            rc = -1;
            break;
        }
        uint64_t ms = (uint64_t)res->retry_after_s * 1000u;
        if (ms > (uint64_t)c->max_retry_after_ms)
            ms = (uint64_t)c->max_retry_after_ms;
        pthread_mutex_lock(&c->lock);
        c->stats.retries++;
        pthread_mutex_unlock(&c->lock);
        res->retries = attempt + 1;
        if (sleep_cancellable(ms, h)) {
            rc = 1;
            break;
        }
        int retries = res->retries;
        mesh_k8s_result_free(res);
        res->retry_after_s = -1;
        res->retries = retries;
    }
    mesh_free(url);
    return rc;
}

int mesh_k8s_request(mesh_k8s_client_t *c, const char *method, const char *path,
                     const char *content_type, const char *body, size_t body_len,
                     mesh_k8s_result_t *res)
{
    int rc = do_request(c, method, path, content_type, body, body_len, NULL, NULL, NULL, res);
    return rc == 0 ? 0 : -1;
}

int mesh_k8s_get(mesh_k8s_client_t *c, const char *path, mesh_k8s_result_t *res)
{
    return mesh_k8s_request(c, "GET", path, NULL, NULL, 0, res);
}

int mesh_k8s_list(mesh_k8s_client_t *c, const char *path, mesh_k8s_result_t *res)
{
    int rc = mesh_k8s_get(c, path, res);
    if (rc == 0 && !json_is_array(json_object_get(res->body, "items"))) {
        mesh_free(res->message);
        res->message = mesh_strdup("list response has no items array");
        return -1;
    }
    return rc;
}

static int send_json(mesh_k8s_client_t *c, const char *method, const char *path, const char *ct,
                     const json_t *v, mesh_k8s_result_t *res)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (s == NULL) {
        memset(res, 0, sizeof(*res));
        res->message = mesh_strdup("cannot encode JSON body");
        return -1;
    }
    int rc = mesh_k8s_request(c, method, path, ct, s, strlen(s), res);
    free(s);
    return rc;
}

int mesh_k8s_create(mesh_k8s_client_t *c, const char *path, const json_t *obj, mesh_k8s_result_t *res)
{
    return send_json(c, "POST", path, "application/json", obj, res);
}

int mesh_k8s_patch(mesh_k8s_client_t *c, const char *path, mesh_k8s_patch_t type,
                   const json_t *patch, mesh_k8s_result_t *res)
{
    static const char *const ct[] = {
        [MESH_K8S_PATCH_MERGE] = "application/merge-patch+json",
        [MESH_K8S_PATCH_JSON] = "application/json-patch+json",
        [MESH_K8S_PATCH_STRATEGIC] = "application/strategic-merge-patch+json",
        [MESH_K8S_PATCH_APPLY] = "application/apply-patch+yaml",
    };
    if ((unsigned)type > MESH_K8S_PATCH_APPLY) {
        memset(res, 0, sizeof(*res));
        res->message = mesh_strdup("unknown patch type");
        return -1;
    }
    return send_json(c, "PATCH", path, ct[type], patch, res);
}

int mesh_k8s_delete(mesh_k8s_client_t *c, const char *path, mesh_k8s_result_t *res)
{
    return mesh_k8s_request(c, "DELETE", path, NULL, NULL, 0, res);
}

int mesh_k8s_watch_stream(mesh_k8s_client_t *c, const char *path, mesh_k8s_watch_handle_t *h,
                          mesh_k8s_data_cb on_data, void *ud, mesh_k8s_result_t *res)
{
    if (atomic_load(&h->cancel)) {
        memset(res, 0, sizeof(*res));
        return 1;
    }
    return do_request(c, "GET", path, NULL, NULL, 0, h, on_data, ud, res);
}

int mesh_k8s_get_cancellable(mesh_k8s_client_t *c, const char *path, mesh_k8s_watch_handle_t *h,
                             mesh_k8s_result_t *res)
{
    if (atomic_load(&h->cancel)) {
        memset(res, 0, sizeof(*res));
        return 1;
    }
    return do_request(c, "GET", path, NULL, NULL, 0, h, NULL, NULL, res);
}

/* ---- paths --------------------------------------------------------------- */

char *mesh_k8s_path(const char *group, const char *version, const char *ns, const char *resource,
                    const char *name)
{
    mesh_buf_t b = MESH_BUF_INIT;
    int rc = 0;
    if (group == NULL || *group == '\0')
        rc |= mesh_buf_appendf(&b, "/api/%s", version);
    else
        rc |= mesh_buf_appendf(&b, "/apis/%s/%s", group, version);
    if (ns != NULL && *ns)
        rc |= mesh_buf_appendf(&b, "/namespaces/%s", ns);
    rc |= mesh_buf_appendf(&b, "/%s", resource);
    if (name != NULL)
        rc |= mesh_buf_appendf(&b, "/%s", name);
    if (rc != 0) {
        mesh_buf_free(&b);
        return NULL;
    }
    return mesh_buf_steal(&b);
}

int mesh_k8s_path_add_query(char **path, const char *key, const char *value)
{
    mesh_buf_t b = MESH_BUF_INIT;
    int rc = mesh_buf_appends(&b, *path);
    rc |= mesh_buf_appends(&b, strchr(*path, '?') ? "&" : "?");
    rc |= mesh_buf_appends(&b, key);
    rc |= mesh_buf_appends(&b, "=");
    for (const unsigned char *p = (const unsigned char *)value; *p && rc == 0; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~')
            rc |= mesh_buf_append(&b, p, 1);
        else
            rc |= mesh_buf_appendf(&b, "%%%02X", *p);
    }
    char *s = rc == 0 ? mesh_buf_steal(&b) : NULL;
    mesh_buf_free(&b);
    if (s == NULL)
        return -1;
    mesh_free(*path);
    *path = s;
    return 0;
}
