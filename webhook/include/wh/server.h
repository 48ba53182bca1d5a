/*
 * wh/server.h - the admission HTTPS server (libmicrohttpd over GnuTLS).
 *
 * Every POST, whatever its path (the API server adds "?timeout=10s"), is a
 * review: its body is collected and handed to the handler, whose reply is
 * sent. A body over WH_REVIEW_BODY_MAX gets 413 without being buffered: at
 * once when Content-Length says so (the connection is then closed), else as
 * soon as the chunks pass the limit (the rest is discarded, not kept).
 * Other methods get 405.
 *
 * Certificates: the key and certificate files are read at start and again on
 * wh_server_reload(). A reload starts a second daemon on the same listening
 * socket with the new pair, then quiesces and stops the old one, so new
 * connections get the new certificate at once and none is refused. (With
 * GnuTLS underneath, MHD_OPTION_HTTPS_CERT_CALLBACK would need us to link
 * GnuTLS directly; the swap needs nothing but libmicrohttpd.) Connections
 * open on the old daemon are closed by the swap; clients reconnect.
 *
 * Threads: a pool of `threads` epoll workers; the handler runs on them
 * concurrently and must be thread-safe.
 */
#ifndef WH_SERVER_H
#define WH_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "wh/review.h"

#define WH_SERVER_THREADS_DEFAULT 2
#define WH_SERVER_CONN_TIMEOUT_S 60
#define WH_SERVER_CONN_MAX 1024
#define WH_SERVER_PEM_MAX (1 << 20)

/* Fills *reply for one body. Returns 0, or non-zero for a 500. */
typedef int (*wh_server_handler_cb)(const char *body, size_t len, wh_review_reply_t *reply,
                                    void *ud);
/* Told about every 413 (for metrics). May be NULL. */
typedef void (*wh_server_too_large_cb)(void *ud);

typedef struct wh_server_opts {
    const char *addr;      /* listen address, mesh/addr.h form (":8443") */
    const char *cert_file; /* PEM certificate chain */
    const char *key_file;  /* PEM private key */
    unsigned threads;      /* 0 = WH_SERVER_THREADS_DEFAULT */
    wh_server_handler_cb handler;
    wh_server_too_large_cb on_too_large;
    void *ud;
} wh_server_opts_t;

typedef struct wh_server wh_server_t;

/* Binds and starts. NULL with a message in err on failure. */
wh_server_t *wh_server_start(const wh_server_opts_t *opts, char *err, size_t errlen);
/* Re-reads the files and swaps daemons. 0, or -1 (old pair kept) with err. */
int wh_server_reload(wh_server_t *s, char *err, size_t errlen);
/* How many reloads succeeded. */
unsigned wh_server_reloads(const wh_server_t *s);
uint16_t wh_server_port(const wh_server_t *s);
void wh_server_stop(wh_server_t *s);

#endif
