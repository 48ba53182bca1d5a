/*
 * px/proxy.h - the whole data plane of one process: worker threads (one
 * event loop each, LINKERD2_PROXY_CORES of them), their inbound and outbound
 * listeners (SO_REUSEPORT, so the kernel spreads connections and no lock is
 * shared), the admin server on worker 0, and graceful shutdown.
 */
#ifndef PX_PROXY_H
#define PX_PROXY_H

#include <stdbool.h>
#include <stdint.h>

#include "px/config.h"
#include "px/conn.h"
#include "px/metrics.h"

/* Listen backlog of every listener. */
#define PX_LISTEN_BACKLOG 1024
/* Connections accepted per readiness event, so one listener cannot starve
 * the rest of the loop. */
#define PX_ACCEPT_BATCH 64

/* Binds every listener and creates the workers (threads not started).
 * `cfg` must outlive the proxy. Returns NULL with *err = PX_ERR_* and a
 * message in errbuf (cap bytes) on failure. */
px_proxy_t *px_proxy_new(const px_config_t *cfg, int *err, char *errbuf, size_t cap);
/* Starts the worker threads; /ready answers 200 from then on. 0 or PX_ERR_*. */
int px_proxy_start(px_proxy_t *p);
/* Begins graceful shutdown: listeners close, idle HTTP/1 connections close,
 * responses in flight get Connection: close, workers exit once idle. Any
 * thread, idempotent. */
void px_proxy_shutdown(px_proxy_t *p);
/* Ends every worker loop now (grace period over). Any thread. */
void px_proxy_stop_now(px_proxy_t *p);
/* Number of worker threads still running. */
unsigned px_proxy_running(px_proxy_t *p);
/* Joins the threads (after they stop) and frees everything. */
void px_proxy_free(px_proxy_t *p);

/* Bound addresses (after px_proxy_new), for tests using port 0. */
const px_addr_t *px_proxy_listen_addr(px_proxy_t *p, px_dir_t dir);
const px_addr_t *px_proxy_admin_addr(px_proxy_t *p);

/* Used by the admin server. */
px_metrics_t *px_proxy_metrics(px_proxy_t *p);
bool px_proxy_ready(px_proxy_t *p);

/* Admin server on worker 0 (admin.c). fd is a listening socket it takes. */
int px__admin_start(px_worker_t *w, int fd);
void px__admin_stop(px_worker_t *w);

#endif
