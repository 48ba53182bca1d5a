/* Sharded metrics registry and Prometheus rendering; see px/metrics.h. */
#include "px/metrics.h"

#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "mesh/mem.h"

/* Hash buckets per shard (power of two). */
#define SHARD_BUCKETS 1024

static const double bucket_ms[PX_METRICS_NBUCKETS - 1] = {
    1, 2, 3, 4, 5, 10, 20, 30, 40, 50, 100, 200, 300, 400, 500,
    1000, 2000, 3000, 4000, 5000, 10000, 20000, 30000, 40000, 50000};

static const struct {
    const char *name, *type, *help;
} families[PX_M_FAMILIES] = {
    [PX_M_REQUEST_TOTAL] = {"request_total", "counter", "Total count of HTTP requests."},
    [PX_M_RESPONSE_TOTAL] = {"response_total", "counter", "Total count of HTTP responses."},
    [PX_M_RESPONSE_LATENCY_MS] = {"response_latency_ms", "histogram",
                                  "Elapsed times between a request's headers being received and its response's first bytes."},
    [PX_M_TCP_OPEN_TOTAL] = {"tcp_open_total", "counter", "Total count of opened connections."},
    [PX_M_TCP_CLOSE_TOTAL] = {"tcp_close_total", "counter", "Total count of closed connections."},
    [PX_M_TCP_OPEN_CONNECTIONS] = {"tcp_open_connections", "gauge", "Number of currently-open connections."},
    [PX_M_TCP_READ_BYTES_TOTAL] = {"tcp_read_bytes_total", "counter", "Total count of bytes read from peers."},
    [PX_M_TCP_WRITE_BYTES_TOTAL] = {"tcp_write_bytes_total", "counter", "Total count of bytes written to peers."},
    [PX_M_INBOUND_TCP_ERRORS_TOTAL] = {"inbound_tcp_errors_total", "counter", "Inbound connections that failed."},
    [PX_M_OUTBOUND_TCP_ERRORS_TOTAL] = {"outbound_tcp_errors_total", "counter", "Outbound connections that failed."},
};

typedef struct series {
    struct series *next;     /* hash chain */
    struct series *all_next; /* shard-wide list, for scrape and eviction */
    struct series **all_prev;
    uint64_t hash;
    px_metric_family_t fam;
    uint64_t last_used;      /* loop ms of the last update (owner thread) */
    _Atomic uint64_t value;  /* counter; gauge as int64 bits */
    _Atomic uint64_t buckets[PX_METRICS_NBUCKETS]; /* histograms only: per-bucket counts */
    _Atomic uint64_t sum_us; /* histograms: sum in microseconds */
    size_t labels_len;
    char labels[];           /* rendered label set */
} series_t;

struct px_metrics_shard {
    px_metrics_t *owner;
    pthread_mutex_t lock;    /* guards structure (add/evict) against the scraper */
    series_t *buckets[SHARD_BUCKETS];
    series_t *all;
    uint64_t gen;            /* bumped by each eviction that frees a series (owner thread) */
};

struct px_metrics {
    unsigned nshards;
    size_t max_series;
    uint64_t retain_idle_ms;
    _Atomic size_t nseries;
    _Atomic uint64_t overflow;
    double start_time;
    px_metrics_shard_t *shards;
};

/* --- labels ------------------------------------------------------------------ */

size_t px_metrics_escape(char *out, size_t cap, const char *in, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        const char *rep = NULL;
        char c = in[i];
        if (c == '\\')
            rep = "\\\\";
        else if (c == '"')
            rep = "\\\"";
        else if (c == '\n')
            rep = "\\n";
        size_t need = rep ? 2 : 1;
        if (o + need >= cap)
            break;
        if (rep) {
            out[o++] = rep[0];
            out[o++] = rep[1];
        } else {
            out[o++] = c;
        }
    }
    out[o] = 0;
    return o;
}

void px_labels_add(px_labels_t *l, const char *key, const char *value, size_t vlen)
{
    char esc[2 * PX_METRICS_LABEL_VALUE_MAX + 1];
    if (vlen > PX_METRICS_LABEL_VALUE_MAX)
        vlen = PX_METRICS_LABEL_VALUE_MAX;
    size_t en = px_metrics_escape(esc, sizeof(esc), value ? value : "", value ? vlen : 0);
    int n = snprintf(l->buf + l->len, sizeof(l->buf) - l->len, "%s%s=\"%.*s\"",
                     l->len ? "," : "", key, (int)en, esc);
    if (n < 0 || (size_t)n >= sizeof(l->buf) - l->len) {
        l->buf[l->len] = 0;
        l->truncated = true;
        return;
    }
    l->len += (size_t)n;
}

void px_labels_adds(px_labels_t *l, const char *key, const char *value)
{
    px_labels_add(l, key, value, value ? strlen(value) : 0);
}

void px_labels_cat(px_labels_t *l, const px_labels_t *o)
{
    if (o->len == 0)
        return;
    size_t need = o->len + (l->len ? 1 : 0);
    if (l->len + need >= sizeof(l->buf)) {
        l->truncated = true;
        return;
    }
    if (l->len)
        l->buf[l->len++] = ',';
    memcpy(l->buf + l->len, o->buf, o->len);
    l->len += o->len;
    l->buf[l->len] = 0;
}

/* --- registry ------------------------------------------------------------------ */

px_metrics_t *px_metrics_new(unsigned nshards, size_t max_series, uint64_t retain_idle_ms)
{
    px_metrics_t *m = mesh_calloc(1, sizeof(*m));
    if (m == NULL)
        return NULL;
    m->shards = mesh_calloc(nshards, sizeof(*m->shards));
    if (m->shards == NULL) {
        mesh_free(m);
        return NULL;
    }
    m->nshards = nshards;
    m->max_series = max_series;
    m->retain_idle_ms = retain_idle_ms;
    m->start_time = (double)time(NULL);
    for (unsigned i = 0; i < nshards; i++) {
        m->shards[i].owner = m;
        m->shards[i].gen = 1; /* a zeroed ref is never valid */
        pthread_mutex_init(&m->shards[i].lock, NULL);
    }
    return m;
}

void px_metrics_free(px_metrics_t *m)
{
    if (m == NULL)
        return;
    for (unsigned i = 0; i < m->nshards; i++) {
        series_t *s = m->shards[i].all;
        while (s) {
            series_t *n = s->all_next;
            mesh_free(s);
            s = n;
        }
        pthread_mutex_destroy(&m->shards[i].lock);
    }
    mesh_free(m->shards);
    mesh_free(m);
}

px_metrics_shard_t *px_metrics_shard(px_metrics_t *m, unsigned i) { return &m->shards[i]; }

static uint64_t hash_of(px_metric_family_t fam, const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull ^ (uint64_t)fam;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
    return h;
}

static series_t *lookup(px_metrics_shard_t *sh, px_metric_family_t fam, const px_labels_t *l,
                        uint64_t now)
{
    uint64_t h = hash_of(fam, l->buf, l->len);
    series_t **b = &sh->buckets[h & (SHARD_BUCKETS - 1)];
    for (series_t *s = *b; s; s = s->next) {
        if (s->hash == h && s->fam == fam && s->labels_len == l->len &&
            memcmp(s->labels, l->buf, l->len) == 0) {
            s->last_used = now;
            return s;
        }
    }
    px_metrics_t *m = sh->owner;
    if (atomic_fetch_add(&m->nseries, 1) >= m->max_series) {
        atomic_fetch_sub(&m->nseries, 1);
        atomic_fetch_add_explicit(&m->overflow, 1, memory_order_relaxed);
        return NULL;
    }
    series_t *s = mesh_calloc(1, sizeof(*s) + l->len + 1);
    if (s == NULL) {
        atomic_fetch_sub(&m->nseries, 1);
        return NULL;
    }
    s->hash = h;
    s->fam = fam;
    s->last_used = now;
    s->labels_len = l->len;
    memcpy(s->labels, l->buf, l->len);
    pthread_mutex_lock(&sh->lock);
    s->next = *b;
    *b = s;
    s->all_next = sh->all;
    if (sh->all)
        sh->all->all_prev = &s->all_next;
    s->all_prev = &sh->all;
    sh->all = s;
    pthread_mutex_unlock(&sh->lock);
    return s;
}

void px_metrics_inc(px_metrics_shard_t *sh, px_metric_family_t fam, const px_labels_t *l,
                    uint64_t n, uint64_t now)
{
    series_t *s = lookup(sh, fam, l, now);
    if (s)
        atomic_fetch_add_explicit(&s->value, n, memory_order_relaxed);
}

void px_metrics_gauge_add(px_metrics_shard_t *sh, px_metric_family_t fam, const px_labels_t *l,
                          int64_t delta, uint64_t now)
{
    series_t *s = lookup(sh, fam, l, now);
    if (s)
        atomic_fetch_add_explicit(&s->value, (uint64_t)delta, memory_order_relaxed);
}

static void observe(series_t *s, double ms)
{
    size_t b = 0;
    while (b < PX_METRICS_NBUCKETS - 1 && ms > bucket_ms[b])
        b++;
    atomic_fetch_add_explicit(&s->buckets[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->sum_us, (uint64_t)(ms * 1000.0), memory_order_relaxed);
    atomic_fetch_add_explicit(&s->value, 1, memory_order_relaxed);
}

void px_metrics_observe_ms(px_metrics_shard_t *sh, px_metric_family_t fam,
                           const px_labels_t *l, double ms, uint64_t now)
{
    series_t *s = lookup(sh, fam, l, now);
    if (s)
        observe(s, ms);
}

bool px_metrics_ref_get(px_metrics_shard_t *sh, px_metric_family_t fam, const px_labels_t *l,
                        uint64_t now, px_metrics_ref_t *ref)
{
    series_t *s = lookup(sh, fam, l, now);
    ref->_series = s;
    ref->_gen = s ? sh->gen : 0;
    return s != NULL;
}

bool px_metrics_ref_valid(const px_metrics_shard_t *sh, const px_metrics_ref_t *ref)
{
    return ref->_series != NULL && ref->_gen == sh->gen;
}

void px_metrics_ref_inc(px_metrics_ref_t *ref, uint64_t n, uint64_t now)
{
    series_t *s = ref->_series;
    s->last_used = now;
    atomic_fetch_add_explicit(&s->value, n, memory_order_relaxed);
}

void px_metrics_ref_observe_ms(px_metrics_ref_t *ref, double ms, uint64_t now)
{
    series_t *s = ref->_series;
    s->last_used = now;
    observe(s, ms);
}

void px_metrics_evict(px_metrics_shard_t *sh, uint64_t now)
{
    px_metrics_t *m = sh->owner;
    if (now < m->retain_idle_ms)
        return;
    uint64_t cutoff = now - m->retain_idle_ms;
    bool freed = false;
    pthread_mutex_lock(&sh->lock);
    for (size_t i = 0; i < SHARD_BUCKETS; i++) {
        series_t **pp = &sh->buckets[i];
        while (*pp) {
            series_t *s = *pp;
            bool live_gauge = s->fam == PX_M_TCP_OPEN_CONNECTIONS && atomic_load(&s->value) != 0;
            if (s->last_used >= cutoff || live_gauge) {
                pp = &s->next;
                continue;
            }
            *pp = s->next;
            *s->all_prev = s->all_next;
            if (s->all_next)
                s->all_next->all_prev = s->all_prev;
            mesh_free(s);
            atomic_fetch_sub(&m->nseries, 1);
            freed = true;
        }
    }
    if (freed)
        sh->gen++; /* every cached px_metrics_ref_t is now stale */
    pthread_mutex_unlock(&sh->lock);
}

size_t px_metrics_series_count(px_metrics_t *m) { return atomic_load(&m->nseries); }
uint64_t px_metrics_overflow(px_metrics_t *m) { return atomic_load(&m->overflow); }

/* --- rendering ------------------------------------------------------------------ */

typedef struct {
    px_metric_family_t fam;
    const char *labels;      /* copy owned by the snapshot arena */
    size_t labels_len;
    uint64_t value;
    uint64_t buckets[PX_METRICS_NBUCKETS];
    uint64_t sum_us;
} snap_t;

static int snap_cmp(const void *a, const void *b)
{
    const snap_t *x = a, *y = b;
    if (x->fam != y->fam)
        return x->fam < y->fam ? -1 : 1;
    size_t n = x->labels_len < y->labels_len ? x->labels_len : y->labels_len;
    int c = memcmp(x->labels, y->labels, n);
    if (c)
        return c;
    return x->labels_len < y->labels_len ? -1 : x->labels_len > y->labels_len;
}

static int render_process(px_metrics_t *m, mesh_buf_t *out)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
                 ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
            pages = rss = 0;
        fclose(f);
    }
    long psz = sysconf(_SC_PAGESIZE);
    int fds = 0;
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL)
            fds += e->d_name[0] != '.';
        closedir(d);
        fds--; /* the directory stream itself */
    }
    struct rlimit rl = {0, 0};
    getrlimit(RLIMIT_NOFILE, &rl);
    return mesh_buf_appendf(out,
        "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n"
        "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total %.6f\n"
        "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
        "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %ld\n"
        "# HELP process_virtual_memory_bytes Virtual memory size in bytes.\n"
        "# TYPE process_virtual_memory_bytes gauge\nprocess_virtual_memory_bytes %ld\n"
        "# HELP process_open_fds Number of open file descriptors.\n"
        "# TYPE process_open_fds gauge\nprocess_open_fds %d\n"
        "# HELP process_max_fds Maximum number of open file descriptors.\n"
        "# TYPE process_max_fds gauge\nprocess_max_fds %llu\n"
        "# HELP process_start_time_seconds Time that the process started (in seconds since the UNIX epoch).\n"
        "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds %.0f\n"
        "# HELP cmesh_metrics_series_overflow_total Metric updates dropped at the series cap.\n"
        "# TYPE cmesh_metrics_series_overflow_total counter\ncmesh_metrics_series_overflow_total %llu\n",
        cpu, rss * psz, pages * psz, fds, (unsigned long long)rl.rlim_cur, m->start_time,
        (unsigned long long)atomic_load(&m->overflow));
}

static int render_one(mesh_buf_t *out, const snap_t *s)
{
    const char *name = families[s->fam].name;
    const char *sep = s->labels_len ? "," : "";
    if (s->fam != PX_M_RESPONSE_LATENCY_MS) {
        if (s->fam == PX_M_TCP_OPEN_CONNECTIONS)
            return mesh_buf_appendf(out, "%s{%.*s} %lld\n", name, (int)s->labels_len, s->labels,
                                    (long long)(int64_t)s->value);
        return mesh_buf_appendf(out, "%s{%.*s} %llu\n", name, (int)s->labels_len, s->labels,
                                (unsigned long long)s->value);
    }
    uint64_t cum = 0;
    for (size_t b = 0; b < PX_METRICS_NBUCKETS; b++) {
        cum += s->buckets[b];
        int r;
        if (b < PX_METRICS_NBUCKETS - 1)
            r = mesh_buf_appendf(out, "%s_bucket{%.*s%sle=\"%g\"} %llu\n", name, (int)s->labels_len,
                                 s->labels, sep, bucket_ms[b], (unsigned long long)cum);
        else
            r = mesh_buf_appendf(out, "%s_bucket{%.*s%sle=\"+Inf\"} %llu\n", name,
                                 (int)s->labels_len, s->labels, sep, (unsigned long long)cum);
        if (r)
            return r;
    }
    return mesh_buf_appendf(out, "%s_sum{%.*s} %.3f\n%s_count{%.*s} %llu\n", name,
                            (int)s->labels_len, s->labels, (double)s->sum_us / 1000.0, name,
                            (int)s->labels_len, s->labels, (unsigned long long)cum);
}

int px_metrics_render(px_metrics_t *m, mesh_buf_t *out)
{
    int rc = -1;
    size_t cap = 0, n = 0;
    snap_t *snaps = NULL;
    mesh_buf_t arena = MESH_BUF_INIT; /* label copies, referenced by offset until sorted */
    for (unsigned i = 0; i < m->nshards; i++) {
        px_metrics_shard_t *sh = &m->shards[i];
        pthread_mutex_lock(&sh->lock);
        for (series_t *s = sh->all; s; s = s->all_next) {
            if (n == cap) {
                size_t nc = cap ? cap * 2 : 256;
                snap_t *ns = mesh_realloc(snaps, nc * sizeof(*ns));
                if (ns == NULL) {
                    pthread_mutex_unlock(&sh->lock);
                    goto out;
                }
                snaps = ns;
                cap = nc;
            }
            snap_t *p = &snaps[n];
            p->fam = s->fam;
            p->labels = (const char *)(uintptr_t)arena.len;
            p->labels_len = s->labels_len;
            p->value = atomic_load_explicit(&s->value, memory_order_relaxed);
            p->sum_us = atomic_load_explicit(&s->sum_us, memory_order_relaxed);
            for (size_t b = 0; b < PX_METRICS_NBUCKETS; b++)
                p->buckets[b] = atomic_load_explicit(&s->buckets[b], memory_order_relaxed);
            if (mesh_buf_append(&arena, s->labels, s->labels_len) != 0) {
                pthread_mutex_unlock(&sh->lock);
                goto out;
            }
            n++;
        }
        pthread_mutex_unlock(&sh->lock);
    }
    for (size_t i = 0; i < n; i++)
        snaps[i].labels = arena.base ? arena.base + (uintptr_t)snaps[i].labels : "";
    if (n)
        qsort(snaps, n, sizeof(*snaps), snap_cmp);
    /* Merge the same series from different shards. */
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        if (w > 0 && snap_cmp(&snaps[w - 1], &snaps[i]) == 0) {
            snaps[w - 1].value += snaps[i].value;
            snaps[w - 1].sum_us += snaps[i].sum_us;
            for (size_t b = 0; b < PX_METRICS_NBUCKETS; b++)
                snaps[w - 1].buckets[b] += snaps[i].buckets[b];
            continue;
        }
        snaps[w++] = snaps[i];
    }
    for (int f = 0; f < PX_M_FAMILIES; f++) {
        if (mesh_buf_appendf(out, "# HELP %s %s\n# TYPE %s %s\n", families[f].name,
                             families[f].help, families[f].name, families[f].type))
            goto out;
        for (size_t i = 0; i < w; i++)
            if (snaps[i].fam == (px_metric_family_t)f && render_one(out, &snaps[i]))
                goto out;
    }
    if (render_process(m, out))
        goto out;
    rc = 0;
out:
    mesh_buf_free(&arena);
    mesh_free(snaps);
    return rc;
}
