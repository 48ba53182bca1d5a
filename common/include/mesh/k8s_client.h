/*
 * mesh/k8s_client.h - HTTP client for the Kubernetes API (libcurl + jansson).
 *
 * One client per process, shared by every informer thread: it is thread-safe.
 * Each call borrows a curl easy handle from a small pool (so connections are
 * reused) and returns it afterwards. Requests pass a token bucket first
 * (qps/burst, client-go defaults 5/10 unless configured). A 429 or 503 that
 * carries Retry-After (seconds) is retried after that delay, at most
 * max_retries times and never sleeping more than max_retry_after_ms per try;
 * other failures are returned to the caller. A 401 invalidates the cached
 * file token so the next request re-reads it.
 *
 * Results: every request fills a mesh_k8s_result_t. `status` is the HTTP code
 * (0 when no response arrived: then `error` holds curl's message). `body` is
 * the parsed JSON when the response was JSON; for codes >= 400 `reason`,
 * `message` and `code` come from the Status body, or are synthesised from the
 * code when the body is not a Status (plain-text 429s, Go's 404 page).
 */
#ifndef MESH_K8S_CLIENT_H
#define MESH_K8S_CLIENT_H

#include <jansson.h>
#include <stdatomic.h>
#include <stddef.h>

#include "mesh/k8s_config.h"

#define MESH_K8S_MAX_RETRIES 10          /* client-go's cap for Retry-After retries */
#define MESH_K8S_MAX_RETRY_AFTER_MS 30000 /* longest single Retry-After sleep honoured */
#define MESH_K8S_MAX_BODY ((size_t)64 << 20) /* largest non-watch response body */
#define MESH_K8S_CONNECT_TIMEOUT_MS 10000
#define MESH_K8S_REQUEST_TIMEOUT_MS 60000 /* non-watch requests */
#define MESH_K8S_POOL_MAX 8               /* idle easy handles kept */

typedef struct mesh_k8s_client mesh_k8s_client_t;

typedef struct {
    double qps;              /* 0 = MESH_K8S_QPS_DEFAULT; < 0 = unlimited */
    int burst;               /* 0 = MESH_K8S_BURST_DEFAULT */
    int max_retries;         /* 0 = MESH_K8S_MAX_RETRIES; < 0 = none */
    long max_retry_after_ms; /* 0 = MESH_K8S_MAX_RETRY_AFTER_MS */
    long timeout_ms;         /* 0 = MESH_K8S_REQUEST_TIMEOUT_MS */
    const char *user_agent;  /* NULL = "cmesh/<version>" */
} mesh_k8s_client_opts_t;

typedef struct {
    long status;    /* HTTP status, 0 = transport failure */
    json_t *body;   /* parsed JSON body or NULL (owned) */
    char *reason;   /* Status reason for errors ("NotFound"...), or NULL (owned) */
    char *message;  /* Status message or transport error text, or NULL (owned) */
    long retry_after_s; /* Retry-After of the last response, -1 when absent */
    int retries;    /* Retry-After retries taken */
} mesh_k8s_result_t;

void mesh_k8s_result_free(mesh_k8s_result_t *r);

/* The client keeps a pointer to cfg (not a copy): cfg must outlive it. */
mesh_k8s_client_t *mesh_k8s_client_new(mesh_k8s_config_t *cfg, const mesh_k8s_client_opts_t *opts);
void mesh_k8s_client_free(mesh_k8s_client_t *c);
mesh_k8s_config_t *mesh_k8s_client_config(mesh_k8s_client_t *c);

/* Patch flavours and their Content-Type. */
typedef enum {
    MESH_K8S_PATCH_MERGE = 0,  /* application/merge-patch+json */
    MESH_K8S_PATCH_JSON,       /* application/json-patch+json */
    MESH_K8S_PATCH_STRATEGIC,  /* application/strategic-merge-patch+json */
    MESH_K8S_PATCH_APPLY,      /* application/apply-patch+yaml */
} mesh_k8s_patch_t;

/* `path` is the absolute API path including any query ("/api/v1/pods?...").
 * Each returns 0 when a 2xx response arrived, -1 otherwise; `res` is filled
 * in both cases and must be freed with mesh_k8s_result_free. */
int mesh_k8s_get(mesh_k8s_client_t *c, const char *path, mesh_k8s_result_t *res);
int mesh_k8s_list(mesh_k8s_client_t *c, const char *path, mesh_k8s_result_t *res);
int mesh_k8s_create(mesh_k8s_client_t *c, const char *path, const json_t *obj, mesh_k8s_result_t *res);
int mesh_k8s_patch(mesh_k8s_client_t *c, const char *path, mesh_k8s_patch_t type,
                   const json_t *patch, mesh_k8s_result_t *res);
int mesh_k8s_delete(mesh_k8s_client_t *c, const char *path, mesh_k8s_result_t *res);
/* Any method with an optional body (NULL) of the given content type. */
int mesh_k8s_request(mesh_k8s_client_t *c, const char *method, const char *path,
                     const char *content_type, const char *body, size_t body_len,
                     mesh_k8s_result_t *res);

/*
 * Streams a watch. Bytes of a 200 body go to on_data as they arrive; for any
 * other status the body is collected and decoded into res like a normal
 * request (so an HTTP 410 shows as res->status 410 with reason "Expired").
 * The call returns when the server ends the stream, the connection drops,
 * on_data returns non-zero, or mesh_k8s_watch_cancel() is called on `handle`.
 * Return: 0 clean end (the server finished the body), 1 cancelled/stopped,
 * -1 error (non-200 status, transport error or cut stream: see res).
 * No Retry-After retries here: the informer paces watches itself.
 */
typedef int (*mesh_k8s_data_cb)(const char *data, size_t len, void *ud);

typedef struct {
    atomic_int cancel;   /* set by mesh_k8s_watch_cancel */
    pthread_mutex_t lock;
    int fd;              /* the socket of the running watch, -1 if none */
} mesh_k8s_watch_handle_t;

void mesh_k8s_watch_handle_init(mesh_k8s_watch_handle_t *h);
void mesh_k8s_watch_handle_destroy(mesh_k8s_watch_handle_t *h);
/* Thread-safe, async: shuts the watch socket down so the blocked call
 * returns at once; also makes any later watch on this handle return 1. */
void mesh_k8s_watch_cancel(mesh_k8s_watch_handle_t *h);

int mesh_k8s_watch_stream(mesh_k8s_client_t *c, const char *path, mesh_k8s_watch_handle_t *h,
                          mesh_k8s_data_cb on_data, void *ud, mesh_k8s_result_t *res);

/* GET that mesh_k8s_watch_cancel(h) can interrupt (also during Retry-After
 * waits): 0 on 2xx, 1 cancelled, -1 otherwise. For informer lists. */
int mesh_k8s_get_cancellable(mesh_k8s_client_t *c, const char *path, mesh_k8s_watch_handle_t *h,
                             mesh_k8s_result_t *res);

/* Counters for tests and metrics. */
typedef struct {
    unsigned long requests;       /* HTTP exchanges attempted, retries included */
    unsigned long retries;        /* Retry-After retries */
    unsigned long throttled_us;   /* total time spent waiting on the token bucket */
} mesh_k8s_client_stats_t;
void mesh_k8s_client_stats(mesh_k8s_client_t *c, mesh_k8s_client_stats_t *out);

/* Builds "/api/v1[/namespaces/NS]/RES" or "/apis/G/V[/namespaces/NS]/RES"
 * (+ "/NAME" when name is not NULL) into a new string. */
char *mesh_k8s_path(const char *group, const char *version, const char *ns, const char *resource,
                    const char *name);
/* Appends a URL-escaped query parameter to *path (realloc'd): "?k=v" or "&k=v". */
int mesh_k8s_path_add_query(char **path, const char *key, const char *value);

#endif
