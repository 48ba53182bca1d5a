/*
 * common/grpc/internal.h - private to the gRPC layer (the .c files of common/grpc).
 *
 * Shapes shared by server.c (lifecycle, cq loop, wake-up), server_call.c (per
 * call state machine), queue.c (bounded message queue), workers.c (handler
 * pool) and creds.c (PEM files into grpc credentials).
 */
#ifndef MESH_GRPC_INTERNAL_H
#define MESH_GRPC_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include <grpc/grpc.h>
#include <grpc/grpc_security.h>

#include "mesh/grpc_client.h"
#include "mesh/grpc_server.h"

#define MESH_GRPC_LOG "grpc"

/* ---- queue.c: bounded FIFO of owned messages -------------------------- */

typedef struct mesh__grpc_msg {
    struct mesh__grpc_msg *next;
    size_t len;
    uint8_t data[]; /* the bytes, allocated with the node */
} mesh__grpc_msg_t;

typedef struct mesh__grpc_msgq {
    mesh__grpc_msg_t *head;  /* oldest, next to send */
    mesh__grpc_msg_t *tail;  /* newest */
    size_t count;            /* messages in the list */
    size_t max;              /* push fails with EFULL at this count */
} mesh__grpc_msgq_t;

void mesh__grpc_msgq_init(mesh__grpc_msgq_t *q, size_t max);
/* Copies len bytes into a new node at the tail. 0, MESH_GRPC_EFULL (count ==
 * max, unless force), MESH_GRPC_ENOMEM. */
int mesh__grpc_msgq_push(mesh__grpc_msgq_t *q, const void *p, size_t len, bool force);
/* Unlinks and returns the head (caller frees with mesh_free), or NULL. */
mesh__grpc_msg_t *mesh__grpc_msgq_pop(mesh__grpc_msgq_t *q);
void mesh__grpc_msgq_clear(mesh__grpc_msgq_t *q);

/* ---- workers.c: fixed pool running jobs in FIFO order ------------------ */

typedef struct mesh__grpc_job {
    struct mesh__grpc_job *next;
    void (*fn)(struct mesh__grpc_job *job);
} mesh__grpc_job_t;

typedef struct mesh__grpc_pool {
    pthread_mutex_t lock;
    pthread_cond_t cond;     /* signalled on push and on quit */
    mesh__grpc_job_t *head, *tail;
    pthread_t *threads;
    size_t nthreads;         /* threads actually started */
    bool quit;               /* set by stop: workers exit once the queue is empty */
} mesh__grpc_pool_t;

int mesh__grpc_pool_start(mesh__grpc_pool_t *p, size_t n);
void mesh__grpc_pool_push(mesh__grpc_pool_t *p, mesh__grpc_job_t *job);
/* Runs what is queued, then joins every thread. */
void mesh__grpc_pool_stop(mesh__grpc_pool_t *p);

/* ---- creds.c ----------------------------------------------------------- */

/* Reads a PEM file (<= MESH_GRPC_PEM_MAX, must contain "-----BEGIN") into a
 * NUL-terminated mesh_malloc'd string. 0, MESH_GRPC_ETLS, MESH_GRPC_ENOMEM. */
int mesh__grpc_read_pem(const char *path, char **out);
int mesh__grpc_server_creds(const mesh_grpc_server_config_t *cfg, grpc_server_credentials **out);
int mesh__grpc_channel_creds(const mesh_grpc_client_config_t *cfg, grpc_channel_credentials **out);
gpr_timespec mesh__grpc_deadline(long timeout_ms);

/* ---- server ------------------------------------------------------------ */

typedef enum {
    MESH__GRPC_UNARY,
    MESH__GRPC_STREAM,
} mesh__grpc_kind_t;

typedef struct mesh__grpc_method {
    char *path;
    mesh__grpc_kind_t kind;
    mesh_grpc_unary_cb unary;
    mesh_grpc_stream_cb stream;
    mesh_grpc_done_cb on_done;
    void *user;
} mesh__grpc_method_t;

/* What a completion-queue tag means. Every tag points at one of these, so
 * the cq thread recovers the owner and the event from the tag alone. */
typedef enum {
    MESH__TAG_ACCEPT,   /* grpc_server_request_call matched a new call */
    MESH__TAG_START,    /* SEND_INITIAL_METADATA + RECV_MESSAGE done */
    MESH__TAG_SEND,     /* one SEND_MESSAGE (maybe with the status) done */
    MESH__TAG_STATUS,   /* SEND_STATUS_FROM_SERVER done */
    MESH__TAG_CLOSE,    /* RECV_CLOSE_ON_SERVER: the call is over */
    MESH__TAG_WAKE,     /* the doorbell: another thread queued work */
    MESH__TAG_SHUTDOWN, /* grpc_server_shutdown_and_notify finished */
} mesh__grpc_tag_kind_t;

typedef struct mesh__grpc_tag {
    mesh__grpc_tag_kind_t kind;
    struct mesh_grpc_stream *call; /* NULL for server-level tags */
} mesh__grpc_tag_t;

/* One server call, unary or streaming (the public name is the stream's).
 * Fields marked (cq) are touched only by the cq thread; (lock) under `lock`. */
struct mesh_grpc_stream {
    mesh_grpc_server_t *srv;
    pthread_mutex_t lock;
    int refs;                        /* (lock) layer + worker job + ready list + app */
    int app_refs;                    /* (lock) the application's share of refs */
    grpc_call *call;                 /* (cq) NULL once unref'd */
    grpc_call_details details;       /* (cq) method, host, deadline */
    grpc_metadata_array md;          /* (cq) request metadata */
    const mesh__grpc_method_t *method; /* NULL = unknown method */
    mesh__grpc_tag_t tag_accept, tag_start, tag_send, tag_status, tag_close;
    grpc_byte_buffer *recv_buf;      /* (cq) request, from the START batch */
    grpc_byte_buffer *send_buf;      /* (cq) the message in flight, or NULL */
    grpc_slice status_details;       /* (cq) kept alive until STATUS completes */
    int close_cancelled;             /* (cq) RECV_CLOSE_ON_SERVER output */
    unsigned outstanding;            /* (cq) batches started, not yet completed */
    bool live;                       /* (cq) counted in srv->live_calls */
    bool closed;                     /* (cq) RECV_CLOSE completed */
    bool initial_sent;               /* (cq) SEND_INITIAL_METADATA is started */
    bool status_started;             /* (cq) the final status batch is started */
    bool done_fired;                 /* (cq) on_done ran / layer ref dropped */
    bool handler_called;             /* (lock) the app was given the stream */
    bool handler_running;            /* (lock) a worker owns the handler step */
    bool ended;                      /* (lock) no more send/finish accepted */
    bool finish_requested;           /* (lock) finish() or unary result given */
    int finish_code;                 /* (lock) */
    char *finish_msg;                /* (lock) mesh_malloc'd, or NULL */
    mesh__grpc_msgq_t q;             /* (lock) messages waiting */
    bool on_ready;                   /* (srv->ready_lock) linked in ready list */
    struct mesh_grpc_stream *ready_next;
    uint8_t *req;                    /* request copy for the worker */
    size_t req_len;
    mesh__grpc_job_t job;            /* the handler step, on the pool */
    void *data;                      /* (lock) application pointer */
};

struct mesh_grpc_server {
    mesh_grpc_server_config_t cfg;   /* strings point at the copies below */
    char *addr, *cert, *key, *ca;
    grpc_server *server;
    grpc_completion_queue *cq;
    grpc_channel *bell;              /* idle channel whose watches wake the cq */
    atomic_bool bell_armed;          /* a wake event is already on its way */
    mesh__grpc_tag_t tag_wake, tag_shutdown;
    int port;
    mesh__grpc_method_t *methods;
    size_t nmethods;
    mesh__grpc_pool_t pool;
    bool use_pool;
    pthread_t cq_thread;
    bool started, stopped;
    atomic_bool stopping;            /* shutdown requested: accept no new work */
    atomic_bool cancel_done;         /* stop() no longer touches srv->server */
    bool shutdown_done;              /* (cq) TAG_SHUTDOWN arrived */
    size_t live_calls;               /* (cq) calls grpc or a handler still owns */
    size_t accepts_pending;          /* (cq) request_call slots outstanding */
    pthread_mutex_t ready_lock;
    struct mesh_grpc_stream *ready_head, *ready_tail;
};

/* server_call.c */
struct mesh_grpc_stream *mesh__grpc_call_new(mesh_grpc_server_t *srv);
void mesh__grpc_call_unref(struct mesh_grpc_stream *c);
int mesh__grpc_call_request(struct mesh_grpc_stream *c);
void mesh__grpc_call_event(struct mesh_grpc_stream *c, mesh__grpc_tag_kind_t kind, bool ok);
void mesh__grpc_call_pump(struct mesh_grpc_stream *c);
/* pump, then run on_done / release grpc if the call is over (cq thread). */
void mesh__grpc_call_poke(struct mesh_grpc_stream *c);

/* server.c */
/* Puts c on the ready list (taking a reference) and wakes the cq thread.
 * Called with c->lock held. */
void mesh__grpc_server_schedule(mesh_grpc_server_t *srv, struct mesh_grpc_stream *c);
bool mesh__grpc_on_cq_thread(const mesh_grpc_server_t *srv);

#endif
