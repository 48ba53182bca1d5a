/*
 * px/metrics.h - Linkerd-compatible proxy metrics with per-thread shards.
 *
 * Each worker thread owns one shard. On the request path a thread finds (or
 * creates) its series in its own shard's hash table without a lock and bumps
 * relaxed atomics; the shard's mutex is taken only to add or evict a series,
 * and by the scraper, which merges all shards (summing equal series) when
 * /metrics is rendered. The owning thread evicts idle series (retain_idle,
 * Linkerd's 10 minutes); a gauge that is not zero is never evicted. A hot
 * path may keep a px_metrics_ref_t to a series across events: each eviction
 * that frees anything bumps the shard's generation, which invalidates every
 * reference taken before it.
 *
 * Label values come from clients (authority), so the number of series is
 * capped (max_series over all shards); past it, updates are dropped and
 * counted in cmesh_metrics_series_overflow_total. Values are escaped as the
 * Prometheus text format requires and cut at PX_METRICS_LABEL_VALUE_MAX.
 */
#ifndef PX_METRICS_H
#define PX_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mesh/buf.h"

/* Default cap of live series over all shards. */
#define PX_METRICS_MAX_SERIES 10000
/* Label values longer than this are cut (a client may send a 60 KiB Host). */
#define PX_METRICS_LABEL_VALUE_MAX 256
/* Size of one rendered label set. */
#define PX_METRICS_LABELS_MAX 2048
/* response_latency_ms buckets (Linkerd's), plus +Inf. */
#define PX_METRICS_NBUCKETS 26

typedef enum {
    PX_M_REQUEST_TOTAL = 0,
    PX_M_RESPONSE_TOTAL,
    PX_M_RESPONSE_LATENCY_MS,
    PX_M_TCP_OPEN_TOTAL,
    PX_M_TCP_CLOSE_TOTAL,
    PX_M_TCP_OPEN_CONNECTIONS,
    PX_M_TCP_READ_BYTES_TOTAL,
    PX_M_TCP_WRITE_BYTES_TOTAL,
    PX_M_INBOUND_TCP_ERRORS_TOTAL,
    PX_M_OUTBOUND_TCP_ERRORS_TOTAL,
    PX_M_FAMILIES
} px_metric_family_t;

typedef struct px_metrics px_metrics_t;
typedef struct px_metrics_shard px_metrics_shard_t;

/* A label set being built: `key="escaped value"` pairs, comma-separated. */
typedef struct px_labels {
    char buf[PX_METRICS_LABELS_MAX];
    size_t len;
    bool truncated; /* a pair did not fit and was dropped */
} px_labels_t;

static inline void px_labels_init(px_labels_t *l) { l->len = 0; l->truncated = false; l->buf[0] = 0; }
/* Appends key="value" (value escaped: \\ \" \n; cut at the value limit). */
void px_labels_add(px_labels_t *l, const char *key, const char *value, size_t vlen);
void px_labels_adds(px_labels_t *l, const char *key, const char *value);
/* Appends another label set. */
void px_labels_cat(px_labels_t *l, const px_labels_t *other);
/* Escapes `in` into out (cap >= 1); returns the length written. Exposed for tests. */
size_t px_metrics_escape(char *out, size_t cap, const char *in, size_t n);

/* Creates the registry with `nshards` shards. NULL on no memory. */
px_metrics_t *px_metrics_new(unsigned nshards, size_t max_series, uint64_t retain_idle_ms);
void px_metrics_free(px_metrics_t *m);
px_metrics_shard_t *px_metrics_shard(px_metrics_t *m, unsigned i);

/* Updates on the calling thread's shard (`now` = loop ms, for idleness).
 * Silently dropped (and counted as overflow) when the series cap is hit. */
void px_metrics_inc(px_metrics_shard_t *sh, px_metric_family_t fam, const px_labels_t *l,
                    uint64_t n, uint64_t now);
void px_metrics_gauge_add(px_metrics_shard_t *sh, px_metric_family_t fam, const px_labels_t *l,
                          int64_t delta, uint64_t now);
void px_metrics_observe_ms(px_metrics_shard_t *sh, px_metric_family_t fam,
                           const px_labels_t *l, double ms, uint64_t now);

/* A cached pointer to one series, for a hot path that updates the same
 * series request after request (skipping label formatting and the hash
 * lookup). Zero-init (PX_METRICS_REF_INIT) is "not taken". Owner thread only. */
typedef struct px_metrics_ref {
    void *_series;  /* series_t of the shard */
    uint64_t _gen;  /* shard generation it was taken in */
} px_metrics_ref_t;
#define PX_METRICS_REF_INIT {NULL, 0}

/* Finds or creates the series and points *ref at it. Returns false (ref
 * cleared; the cap overflow is counted) when it cannot be created. */
bool px_metrics_ref_get(px_metrics_shard_t *sh, px_metric_family_t fam, const px_labels_t *l,
                        uint64_t now, px_metrics_ref_t *ref);
/* True while no eviction happened since the ref was taken. */
bool px_metrics_ref_valid(const px_metrics_shard_t *sh, const px_metrics_ref_t *ref);
/* Updates through a valid ref (check px_metrics_ref_valid first). */
void px_metrics_ref_inc(px_metrics_ref_t *ref, uint64_t n, uint64_t now);
void px_metrics_ref_observe_ms(px_metrics_ref_t *ref, double ms, uint64_t now);

/* Drops series idle since before now - retain_idle (owner thread only). */
void px_metrics_evict(px_metrics_shard_t *sh, uint64_t now);

/* Renders every family (merged over shards) plus process_* in the
 * Prometheus text format. Any thread. Returns 0 or -1 (no memory). */
int px_metrics_render(px_metrics_t *m, mesh_buf_t *out) __attribute__((warn_unused_result));

/* Live series over all shards, and updates dropped at the cap (tests). */
size_t px_metrics_series_count(px_metrics_t *m);
uint64_t px_metrics_overflow(px_metrics_t *m);

#endif
