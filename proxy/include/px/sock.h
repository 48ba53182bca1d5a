/*
 * px/sock.h - a non-blocking stream socket with its own input and output
 * buffers, behind a transport vtable (redis ConnectionType).
 *
 * Layers: the transport (plain TCP now; TLS later as another px_sock_type_t)
 * moves bytes between the fd and `in`/`out`; everything above sees plaintext
 * in `in` and writes plaintext with px_sock_write. Protocol handlers consume
 * from `in` (px_buf_consume) and never touch the fd.
 *
 * Writes are buffered: px_sock_write appends to `out` and queues the socket on
 * its px_sock_queue_t; the queue's before-sleep hook sends what it can and
 * asks for EPOLLOUT only when the kernel did not take everything (redis
 * putClientInPendingWriteQueue / beforeSleep). on_written(s, 0) is called each
 * time `out` becomes empty, which is the handler's signal to resume reading a
 * source it paused for backpressure.
 *
 * Reads happen only while reading is enabled (px_sock_read_start), at most
 * PX_SOCK_READ_CHUNK bytes per readiness event and never past `in_max` bytes
 * buffered: a handler that stops consuming therefore stops the reading too.
 *
 * Lifetime: the px_sock_t is embedded in a handler-owned object. px_sock_close
 * releases the fd and buffers at once; the owner frees its object later, via
 * px_loop_defer, so that callbacks further up the stack return safely.
 */
#ifndef PX_SOCK_H
#define PX_SOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "px/buf.h"
#include "px/list.h"
#include "px/loop.h"

/* Bytes read per readiness event. */
#define PX_SOCK_READ_CHUNK (16 * 1024)
/* Default cap of buffered input (a header block may reach 64 KiB). */
#define PX_SOCK_IN_MAX (80 * 1024)
/* Hard cap of buffered output; handlers pause sources well before it. */
#define PX_SOCK_OUT_MAX (4 * 1024 * 1024)
/* A handler relaying a body stops reading its source above this much
 * unsent output on the sink. */
#define PX_SOCK_OUT_HIGH (64 * 1024)

typedef struct px_sock px_sock_t;
typedef struct px_sock_queue px_sock_queue_t;

/* Transport operations (plain TCP, later TLS). recv/send follow read(2)/
 * write(2): >0 bytes, 0 EOF (recv only), -1 with errno (EAGAIN included). */
typedef struct px_sock_type {
    const char *name;
    ssize_t (*recv)(px_sock_t *s, void *p, size_t n);
    ssize_t (*send)(px_sock_t *s, const void *p, size_t n);
    int (*shutdown_write)(px_sock_t *s);
} px_sock_type_t;

extern const px_sock_type_t px_sock_tcp;

/* status: 0 = new bytes in `in`; PX_ERR_EOF = the peer half-closed (no more
 * reads will come); other negative = error (the handler should close). */
typedef void (*px_sock_read_cb)(px_sock_t *s, int status);
/* status: 0 = `out` is now empty; negative = the send failed. */
typedef void (*px_sock_written_cb)(px_sock_t *s, int status);
/* status: 0 = connected; negative PX_ERR_* otherwise. */
typedef void (*px_sock_connect_cb)(px_sock_t *s, int status);

#define PX_SOCK_FLAG_READING 0x01u    /* read interest enabled */
#define PX_SOCK_FLAG_EOF 0x02u        /* the peer sent FIN */
#define PX_SOCK_FLAG_SHUT_PENDING 0x04u /* shutdown(SHUT_WR) after `out` drains */
#define PX_SOCK_FLAG_SHUT 0x08u       /* our FIN has been sent */
#define PX_SOCK_FLAG_CONNECTING 0x10u /* non-blocking connect in progress */
#define PX_SOCK_FLAG_CLOSED 0x20u     /* px_sock_close was called */
#define PX_SOCK_FLAG_ERROR 0x40u      /* a send or recv failed */
#define PX_SOCK_FLAG_PARKED 0x80u     /* off epoll after a hang-up, until interest returns */
/* Set by the handler: keep `out` allocated when it drains (the handler
 * calls px_sock_shrink once the connection has been idle a while). Without
 * it `out` is freed each time it empties. */
#define PX_SOCK_FLAG_KEEP_BUFS 0x100u

struct px_sock {
    const px_sock_type_t *type; /* transport */
    px_loop_t *loop;            /* owning loop */
    px_sock_queue_t *queue;     /* flush queue of that loop */
    int fd;                     /* the socket, -1 once closed */
    unsigned flags;             /* PX_SOCK_FLAG_* */
    int last_errno;             /* errno of the first failure, 0 if none */
    px_io_t io;                 /* epoll registration */
    px_buf_t in;                /* received, not yet consumed by the handler */
    px_buf_t out;               /* written by the handler, not yet sent */
    size_t in_max;              /* cap of `in` (PX_SOCK_IN_MAX by default) */
    px_list_t _pending;         /* link in queue->pending while out is non-empty */
    px_sock_read_cb on_read;
    px_sock_written_cb on_written;
    px_sock_connect_cb on_connect;
    void *data;                 /* the handler's object */
    uint64_t bytes_in;          /* bytes received from the peer */
    uint64_t bytes_out;         /* bytes sent to the peer */
};

/* The per-loop list of sockets with output to flush. */
struct px_sock_queue {
    px_list_t pending;
    px_loop_t *loop;
};

/* Registers the queue's flush hook on the loop. Returns 0 or PX_ERR_LIMIT. */
int px_sock_queue_init(px_sock_queue_t *q, px_loop_t *loop);
/* Sends pending output now (the hook calls this; exposed for tests). */
void px_sock_queue_flush(px_sock_queue_t *q);

/* Wraps an already non-blocking connected fd (the socket then owns it).
 * Reading starts disabled. Returns 0 or PX_ERR_*. On error the fd is left
 * open for the caller. */
int px_sock_open(px_sock_t *s, px_sock_queue_t *q, int fd, void *data)
    __attribute__((warn_unused_result));
/* Creates a socket and starts a non-blocking connect to `addr`; on_connect
 * reports the outcome (never from within this call). */
int px_sock_connect(px_sock_t *s, px_sock_queue_t *q, const struct sockaddr *addr,
                    socklen_t alen, void *data) __attribute__((warn_unused_result));

void px_sock_read_start(px_sock_t *s);
void px_sock_read_stop(px_sock_t *s);
/* Queues bytes for sending. Returns 0, PX_ERR_LIMIT (over PX_SOCK_OUT_MAX) or
 * PX_ERR_NOMEM; nothing is queued on error. */
int px_sock_write(px_sock_t *s, const void *p, size_t n) __attribute__((warn_unused_result));
/* Sends FIN once `out` is empty. */
void px_sock_shutdown(px_sock_t *s);
/* Closes the fd now and frees the buffers; unsent output is dropped. A second
 * call is a no-op. */
void px_sock_close(px_sock_t *s);
/* Frees `in` and `out` if they hold no bytes (an idle connection keeps
 * no buffer memory). */
void px_sock_shrink(px_sock_t *s);
/* Bytes waiting in `out`. */
static inline size_t px_sock_pending(const px_sock_t *s) { return s->out.len; }

/* Symbolic errno name for metrics ("ECONNRESET"), "" for 0. */
const char *px_errno_name(int e);

#endif
