/*
 * mesh/metrics.h - a metrics registry rendered in the Prometheus text
 * exposition format 0.0.4 (the format Linkerd's components and proxies serve
 * on /metrics).
 *
 * A registry holds families (a name, HELP text, TYPE and label names); a
 * family holds series, one per distinct tuple of label values. Counters are
 * uint64, gauges are doubles, histograms have fixed bucket upper bounds
 * given at registration (rendered cumulatively, with le="+Inf", _sum and
 * _count).
 *
 * Threads: everything is thread-safe. mesh_metrics_series() finds an existing
 * series without locking (series are published with release stores and never
 * removed before mesh_metrics_free); only creating a series takes the
 * family's mutex. Updating a series (inc/add/set/observe) is one or a few
 * atomic operations, never a lock, so hot paths should keep the
 * mesh_metric_t pointer. Rendering takes each family's mutex in turn and
 * reads values with relaxed atomics: a scrape may see some increments of a
 * concurrent burst and not others, but a histogram's +Inf bucket always
 * equals its _count.
 *
 * Label values may come from clients, so each family caps its series count
 * (MESH_METRICS_SERIES_MAX by default). Past the cap, mesh_metrics_series()
 * returns the family's sink series (updated but never rendered) and counts
 * the miss; the render then shows
 *     cmesh_metrics_series_overflow_total{family="<name>"} <misses>
 * for each family that overflowed. Values longer than
 * MESH_METRICS_VALUE_MAX bytes are cut there. Label values are escaped as the
 * format requires (\\, \", \n); HELP text escapes \\ and \n.
 *
 * Family order in the output is registration order; series order is
 * creation order.
 */
#ifndef MESH_METRICS_H
#define MESH_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mesh/buf.h"

#define MESH_METRICS_LABELS_MAX 16    /* label names per family */
#define MESH_METRICS_BUCKETS_MAX 64   /* histogram bounds, +Inf not counted */
#define MESH_METRICS_SERIES_MAX 10000 /* default series cap per family */
#define MESH_METRICS_VALUE_MAX 512    /* bytes kept of a label value */

/* The Content-Type of the rendered text. */
#define MESH_METRICS_CONTENT_TYPE "text/plain; version=0.0.4"

typedef enum {
    MESH_METRIC_COUNTER,
    MESH_METRIC_GAUGE,
    MESH_METRIC_HISTOGRAM,
} mesh_metric_kind_t;

typedef struct mesh_metrics mesh_metrics_t;
typedef struct mesh_metric_family mesh_metric_family_t;
typedef struct mesh_metric mesh_metric_t;

/* A new, empty registry, or NULL (no memory). */
mesh_metrics_t *mesh_metrics_new(void);
/* Frees the registry, its families and series. No other thread may use them. */
void mesh_metrics_free(mesh_metrics_t *r);

/* Adds process_cpu_seconds_total, process_resident_memory_bytes,
 * process_virtual_memory_bytes, process_open_fds, process_max_fds and
 * process_start_time_seconds, read from /proc at each render. */
void mesh_metrics_enable_process(mesh_metrics_t *r, bool on);

/* Registers a family. `labels` is a NULL-terminated array of label names
 * (NULL for none); names and help are copied. Returns NULL when the metric
 * or a label name is invalid ([a-zA-Z_:][a-zA-Z0-9_:]*, labels without ':'
 * and not "__"-prefixed, histograms may not use "le"), the name is already
 * registered, there are too many labels/bounds, bounds are not strictly
 * increasing, or memory runs out. */
mesh_metric_family_t *mesh_metrics_counter(mesh_metrics_t *r, const char *name, const char *help,
                                           const char *const *labels);
mesh_metric_family_t *mesh_metrics_gauge(mesh_metrics_t *r, const char *name, const char *help,
                                         const char *const *labels);
mesh_metric_family_t *mesh_metrics_histogram(mesh_metrics_t *r, const char *name, const char *help,
                                             const char *const *labels, const double *bounds,
                                             size_t nbounds);

/* Changes the family's series cap (existing series stay). */
void mesh_metrics_set_series_max(mesh_metric_family_t *f, size_t max);
/* How many series creations the cap (or a lack of memory) refused. */
uint64_t mesh_metrics_overflow(const mesh_metric_family_t *f);

/* The series for `values` (one per label name, in order; NULL for a family
 * without labels; a NULL array or entry reads as ""), created on first use. Never NULL: past the cap, or out
 * of memory, it is the family's unrendered sink series. The pointer lives as
 * long as the registry. */
mesh_metric_t *mesh_metrics_series(mesh_metric_family_t *f, const char *const *values);

/* Updates. A call of the wrong kind for the series is ignored. */
void mesh_metrics_inc(mesh_metric_t *m);                /* counter += 1 */
void mesh_metrics_add(mesh_metric_t *m, uint64_t n);    /* counter += n */
void mesh_metrics_set(mesh_metric_t *m, double v);      /* gauge = v */
void mesh_metrics_gauge_add(mesh_metric_t *m, double d); /* gauge += d (negative to decrease) */
void mesh_metrics_observe(mesh_metric_t *m, double v);  /* histogram: le bucket, _sum, _count */

/* Reads (for tests and readiness logic). */
uint64_t mesh_metrics_counter_value(const mesh_metric_t *m);
double mesh_metrics_gauge_value(const mesh_metric_t *m);
uint64_t mesh_metrics_histogram_count(const mesh_metric_t *m);

/* Appends the whole registry in text format 0.0.4. Returns 0, or -1 when
 * memory ran out (out then holds a partial text). */
int mesh_metrics_render(mesh_metrics_t *r, mesh_buf_t *out) __attribute__((warn_unused_result));

#endif
