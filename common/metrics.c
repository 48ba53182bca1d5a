/* Prometheus registry and text rendering; see mesh/metrics.h. */
#include "mesh/metrics.h"

#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "mesh/mem.h"

/* Hash buckets per family for lock-free series lookup. */
#define SERIES_HASH 256

struct mesh_metric {
    mesh_metric_family_t *family;        /* owner; kind and bounds live there */
    _Atomic(mesh_metric_t *) hnext;      /* hash chain, read without the lock */
    mesh_metric_t *next;                 /* creation order, under family->lock */
    char **values;                       /* nlabels owned copies; NULL for the sink */
    _Atomic uint64_t value;              /* counter count, or gauge double bits */
    _Atomic uint64_t sum_bits;           /* histogram: double bits of the sum */
    _Atomic uint64_t buckets[];          /* histogram: nbounds + 1 counts (last is +Inf) */
};

struct mesh_metric_family {
    mesh_metric_kind_t kind;
    char *name;                          /* owned */
    char *help;                          /* owned */
    char **labels;                       /* nlabels owned names */
    size_t nlabels;
    double *bounds;                      /* histogram upper bounds, strictly increasing */
    size_t nbounds;
    pthread_mutex_t lock;                /* creation of series and render */
    _Atomic(mesh_metric_t *) hash[SERIES_HASH];
    mesh_metric_t *first, **tail;        /* creation order */
    size_t nseries, max_series;
    _Atomic uint64_t overflow;           /* refused series creations */
    mesh_metric_t *sink;                 /* absorbs updates past the cap */
    mesh_metric_family_t *next;          /* registration order */
};

struct mesh_metrics {
    pthread_mutex_t lock;                /* family list */
    mesh_metric_family_t *first, **tail;
    atomic_bool process;                 /* render process_* */
};

static uint64_t dbits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof(u));
    return u;
}

static double bitsd(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof(d));
    return d;
}

mesh_metrics_t *mesh_metrics_new(void)
{
    mesh_metrics_t *r = mesh_calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    pthread_mutex_init(&r->lock, NULL);
    r->tail = &r->first;
    return r;
}

static void series_free(mesh_metric_t *m, size_t nlabels)
{
    if (m == NULL)
        return;
    for (size_t i = 0; m->values != NULL && i < nlabels; i++)
        mesh_free(m->values[i]);
    mesh_free(m->values);
    mesh_free(m);
}

static void family_free(mesh_metric_family_t *f)
{
    for (mesh_metric_t *m = f->first, *next; m != NULL; m = next) {
        next = m->next;
        series_free(m, f->nlabels);
    }
    series_free(f->sink, f->nlabels);
    for (size_t i = 0; i < f->nlabels; i++)
        mesh_free(f->labels[i]);
    mesh_free(f->labels);
    mesh_free(f->bounds);
    mesh_free(f->name);
    mesh_free(f->help);
    pthread_mutex_destroy(&f->lock);
    mesh_free(f);
}

void mesh_metrics_free(mesh_metrics_t *r)
{
    if (r == NULL)
        return;
    for (mesh_metric_family_t *f = r->first, *next; f != NULL; f = next) {
        next = f->next;
        family_free(f);
    }
    pthread_mutex_destroy(&r->lock);
    mesh_free(r);
}

void mesh_metrics_enable_process(mesh_metrics_t *r, bool on)
{
    atomic_store(&r->process, on);
}

static bool valid_name(const char *s, bool colon)
{
    if (s == NULL || *s == '\0' || (*s >= '0' && *s <= '9'))
        return false;
    for (; *s != '\0'; s++) {
        char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              (colon && c == ':')))
            return false;
    }
    return true;
}

static mesh_metric_t *series_alloc(const mesh_metric_family_t *f)
{
    size_t nb = f->kind == MESH_METRIC_HISTOGRAM ? f->nbounds + 1 : 0;
    return mesh_calloc(1, sizeof(mesh_metric_t) + nb * sizeof(_Atomic uint64_t));
}

static mesh_metric_family_t *family_add(mesh_metrics_t *r, mesh_metric_kind_t kind, const char *name,
                                        const char *help, const char *const *labels,
                                        const double *bounds, size_t nbounds)
{
    size_t nl = 0;
    if (!valid_name(name, true) || nbounds > MESH_METRICS_BUCKETS_MAX)
        return NULL;
    for (; labels != NULL && labels[nl] != NULL; nl++) {
        if (nl == MESH_METRICS_LABELS_MAX || !valid_name(labels[nl], false) ||
            strncmp(labels[nl], "__", 2) == 0 ||
            (kind == MESH_METRIC_HISTOGRAM && strcmp(labels[nl], "le") == 0))
            return NULL;
    }
    for (size_t i = 1; i < nbounds; i++)
        if (!(bounds[i] > bounds[i - 1]))
            return NULL;

    mesh_metric_family_t *f = mesh_calloc(1, sizeof(*f));
    if (f == NULL)
        return NULL;
    pthread_mutex_init(&f->lock, NULL);
    f->kind = kind;
    f->tail = &f->first;
    f->max_series = MESH_METRICS_SERIES_MAX;
    f->name = mesh_strdup(name);
    f->help = mesh_strdup(help ? help : "");
    f->labels = mesh_calloc(nl + 1, sizeof(char *));
    f->bounds = mesh_calloc(nbounds + 1, sizeof(double));
    if (f->name == NULL || f->help == NULL || f->labels == NULL || f->bounds == NULL)
        goto fail;
    for (; f->nlabels < nl; f->nlabels++)
        if ((f->labels[f->nlabels] = mesh_strdup(labels[f->nlabels])) == NULL)
            goto fail;
    if (nbounds > 0)
        memcpy(f->bounds, bounds, nbounds * sizeof(double));
    f->nbounds = nbounds;
    if ((f->sink = series_alloc(f)) == NULL)
        goto fail;
    f->sink->family = f;

    pthread_mutex_lock(&r->lock);
    for (mesh_metric_family_t *g = r->first; g != NULL; g = g->next) {
        if (strcmp(g->name, name) == 0) {
            pthread_mutex_unlock(&r->lock);
            goto fail;
        }
    }
    *r->tail = f;
    r->tail = &f->next;
    pthread_mutex_unlock(&r->lock);
    return f;
fail:
    family_free(f);
    return NULL;
}

mesh_metric_family_t *mesh_metrics_counter(mesh_metrics_t *r, const char *name, const char *help,
                                           const char *const *labels)
{
    return family_add(r, MESH_METRIC_COUNTER, name, help, labels, NULL, 0);
}

mesh_metric_family_t *mesh_metrics_gauge(mesh_metrics_t *r, const char *name, const char *help,
                                         const char *const *labels)
{
    return family_add(r, MESH_METRIC_GAUGE, name, help, labels, NULL, 0);
}

mesh_metric_family_t *mesh_metrics_histogram(mesh_metrics_t *r, const char *name, const char *help,
                                             const char *const *labels, const double *bounds,
                                             size_t nbounds)
{
    return family_add(r, MESH_METRIC_HISTOGRAM, name, help, labels, bounds, nbounds);
}

void mesh_metrics_set_series_max(mesh_metric_family_t *f, size_t max)
{
    pthread_mutex_lock(&f->lock);
    f->max_series = max;
    pthread_mutex_unlock(&f->lock);
}

uint64_t mesh_metrics_overflow(const mesh_metric_family_t *f)
{
    return atomic_load(&f->overflow);
}

static size_t value_len(const char *v)
{
    size_t n = strnlen(v, MESH_METRICS_VALUE_MAX);
    return n;
}

/* The i-th label value; a NULL array or entry reads as "". */
static const char *value_at(const char *const *values, size_t i)
{
    return values != NULL && values[i] != NULL ? values[i] : "";
}

static uint64_t hash_values(const mesh_metric_family_t *f, const char *const *values)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < f->nlabels; i++) {
        const char *v = value_at(values, i);
        for (size_t j = 0, n = value_len(v); j < n; j++)
            h = (h ^ (unsigned char)v[j]) * 1099511628211ULL;
        h = (h ^ 0xff) * 1099511628211ULL; /* separator: ("a","b") != ("ab","") */
    }
    return h;
}

static bool same_values(const mesh_metric_family_t *f, const mesh_metric_t *m, const char *const *values)
{
    for (size_t i = 0; i < f->nlabels; i++) {
        const char *v = value_at(values, i);
        size_t n = value_len(v);
        if (strlen(m->values[i]) != n || memcmp(m->values[i], v, n) != 0)
            return false;
    }
    return true;
}

static mesh_metric_t *find(mesh_metric_family_t *f, size_t slot, const char *const *values)
{
    for (mesh_metric_t *m = atomic_load_explicit(&f->hash[slot], memory_order_acquire); m != NULL;
         m = atomic_load_explicit(&m->hnext, memory_order_acquire))
        if (same_values(f, m, values))
            return m;
    return NULL;
}

mesh_metric_t *mesh_metrics_series(mesh_metric_family_t *f, const char *const *values)
{
    size_t slot = f->nlabels ? hash_values(f, values) % SERIES_HASH : 0;
    mesh_metric_t *m = find(f, slot, values);
    if (m != NULL)
        return m;

    pthread_mutex_lock(&f->lock);
    if ((m = find(f, slot, values)) != NULL)
        goto out; /* another thread created it meanwhile */
    if (f->nseries >= f->max_series || (m = series_alloc(f)) == NULL)
        goto overflow;
    m->family = f;
    if ((m->values = mesh_calloc(f->nlabels + 1, sizeof(char *))) == NULL)
        goto overflow;
    for (size_t i = 0; i < f->nlabels; i++) {
        const char *v = value_at(values, i);
        if ((m->values[i] = mesh_strndup(v, value_len(v))) == NULL)
            goto overflow;
    }
    atomic_store_explicit(&m->hnext, atomic_load_explicit(&f->hash[slot], memory_order_relaxed),
                          memory_order_relaxed);
    /* Release: a lock-free reader that sees m also sees its values. */
    atomic_store_explicit(&f->hash[slot], m, memory_order_release);
    *f->tail = m;
    f->tail = &m->next;
    f->nseries++;
out:
    pthread_mutex_unlock(&f->lock);
    return m;
overflow:
    series_free(m, f->nlabels);
    atomic_fetch_add(&f->overflow, 1);
    pthread_mutex_unlock(&f->lock);
    return f->sink;
}

void mesh_metrics_add(mesh_metric_t *m, uint64_t n)
{
    if (m->family->kind == MESH_METRIC_COUNTER)
        atomic_fetch_add_explicit(&m->value, n, memory_order_relaxed);
}

void mesh_metrics_inc(mesh_metric_t *m)
{
    mesh_metrics_add(m, 1);
}

void mesh_metrics_set(mesh_metric_t *m, double v)
{
    if (m->family->kind == MESH_METRIC_GAUGE)
        atomic_store_explicit(&m->value, dbits(v), memory_order_relaxed);
}

static void add_double(_Atomic uint64_t *slot, double d)
{
    uint64_t old = atomic_load_explicit(slot, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(slot, &old, dbits(bitsd(old) + d), memory_order_relaxed,
                                                  memory_order_relaxed))
        ;
}

void mesh_metrics_gauge_add(mesh_metric_t *m, double d)
{
    if (m->family->kind == MESH_METRIC_GAUGE)
        add_double(&m->value, d);
}

void mesh_metrics_observe(mesh_metric_t *m, double v)
{
    const mesh_metric_family_t *f = m->family;
    if (f->kind != MESH_METRIC_HISTOGRAM)
        return;
    size_t lo = 0, hi = f->nbounds; /* first bound >= v; nbounds is +Inf */
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (v <= f->bounds[mid])
            hi = mid;
        else
            lo = mid + 1;
    }
    atomic_fetch_add_explicit(&m->buckets[lo], 1, memory_order_relaxed);
    add_double(&m->sum_bits, v);
}

uint64_t mesh_metrics_counter_value(const mesh_metric_t *m)
{
    return m->family->kind == MESH_METRIC_COUNTER ? atomic_load(&m->value) : 0;
}

double mesh_metrics_gauge_value(const mesh_metric_t *m)
{
    return m->family->kind == MESH_METRIC_GAUGE ? bitsd(atomic_load(&m->value)) : 0;
}

uint64_t mesh_metrics_histogram_count(const mesh_metric_t *m)
{
    uint64_t n = 0;
    for (size_t i = 0; m->family->kind == MESH_METRIC_HISTOGRAM && i <= m->family->nbounds; i++)
        n += atomic_load(&m->buckets[i]);
    return n;
}

/* --- rendering -------------------------------------------------------------- */

/* Shortest text that reads back as the same double; Prometheus spellings
 * for the special values. */
static void fmt_double(char *out, size_t cap, double v)
{
    if (isnan(v))
        snprintf(out, cap, "NaN");
    else if (isinf(v))
        snprintf(out, cap, v > 0 ? "+Inf" : "-Inf");
    else {
        snprintf(out, cap, "%.15g", v);
        if (strtod(out, NULL) != v)
            snprintf(out, cap, "%.17g", v);
    }
}

static int append_escaped(mesh_buf_t *out, const char *s, bool quote)
{
    int rc = 0;
    for (const char *p = s; rc == 0 && *p != '\0'; p++) {
        if (*p == '\\')
            rc = mesh_buf_appends(out, "\\\\");
        else if (*p == '\n')
            rc = mesh_buf_appends(out, "\\n");
        else if (*p == '"' && quote)
            rc = mesh_buf_appends(out, "\\\"");
        else
            rc = mesh_buf_append(out, p, 1);
    }
    return rc;
}

/* name{l1="v1",...[,le="x"]} value\n */
static int render_line(mesh_buf_t *out, const mesh_metric_family_t *f, const char *suffix,
                       const mesh_metric_t *m, const char *le, const char *value)
{
    int rc = mesh_buf_appendf(out, "%s%s", f->name, suffix);
    if (f->nlabels > 0 || le != NULL) {
        rc |= mesh_buf_appends(out, "{");
        for (size_t i = 0; i < f->nlabels; i++) {
            rc |= mesh_buf_appendf(out, "%s%s=\"", i ? "," : "", f->labels[i]);
            rc |= append_escaped(out, m->values[i], true);
            rc |= mesh_buf_appends(out, "\"");
        }
        if (le != NULL)
            rc |= mesh_buf_appendf(out, "%sle=\"%s\"", f->nlabels ? "," : "", le);
        rc |= mesh_buf_appends(out, "}");
    }
    rc |= mesh_buf_appendf(out, " %s\n", value);
    return rc ? -1 : 0;
}

static int render_series(mesh_buf_t *out, const mesh_metric_family_t *f, const mesh_metric_t *m)
{
    char v[64], le[64];
    if (f->kind == MESH_METRIC_COUNTER) {
        snprintf(v, sizeof(v), "%llu", (unsigned long long)atomic_load_explicit(&m->value, memory_order_relaxed));
        return render_line(out, f, "", m, NULL, v);
    }
    if (f->kind == MESH_METRIC_GAUGE) {
        fmt_double(v, sizeof(v), bitsd(atomic_load_explicit(&m->value, memory_order_relaxed)));
        return render_line(out, f, "", m, NULL, v);
    }
    uint64_t cum = 0;
    int rc = 0;
    for (size_t i = 0; i <= f->nbounds; i++) {
        cum += atomic_load_explicit(&m->buckets[i], memory_order_relaxed);
        fmt_double(le, sizeof(le), i < f->nbounds ? f->bounds[i] : INFINITY);
        snprintf(v, sizeof(v), "%llu", (unsigned long long)cum);
        rc |= render_line(out, f, "_bucket", m, le, v);
    }
    fmt_double(v, sizeof(v), bitsd(atomic_load_explicit(&m->sum_bits, memory_order_relaxed)));
    rc |= render_line(out, f, "_sum", m, NULL, v);
    snprintf(v, sizeof(v), "%llu", (unsigned long long)cum);
    rc |= render_line(out, f, "_count", m, NULL, v);
    return rc ? -1 : 0;
}

static int render_header(mesh_buf_t *out, const char *name, const char *help, const char *type)
{
    int rc = mesh_buf_appendf(out, "# HELP %s ", name);
    rc |= append_escaped(out, help, false);
    rc |= mesh_buf_appendf(out, "\n# TYPE %s %s\n", name, type);
    return rc ? -1 : 0;
}

/* Fields of /proc/self/stat we use, numbered as in proc(5). */
#define STAT_UTIME 14
#define STAT_STIME 15
#define STAT_STARTTIME 22
#define STAT_VSIZE 23
#define STAT_RSS 24

static int render_process(mesh_buf_t *out)
{
    char buf[1024];
    unsigned long long field[STAT_RSS + 1] = {0};
    FILE *fp = fopen("/proc/self/stat", "re");
    if (fp == NULL)
        return 0; /* not Linux, or /proc not mounted: nothing to add */
    size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    /* The command name (field 2) may contain spaces; fields resume after the last ')'. */
    char *p = strrchr(buf, ')');
    for (int i = 3; p != NULL && i <= STAT_RSS; i++) {
        p = strchr(p + 1, ' ');
        if (p != NULL && i != 3)
            field[i] = strtoull(p + 1, NULL, 10);
    }
    double ticks = (double)sysconf(_SC_CLK_TCK);
    unsigned long long btime = 0;
    if ((fp = fopen("/proc/stat", "re")) != NULL) {
        while (fgets(buf, sizeof(buf), fp) != NULL)
            if (sscanf(buf, "btime %llu", &btime) == 1)
                break;
        fclose(fp);
    }
    long open_fds = 0;
    DIR *d = opendir("/proc/self/fd");
    if (d != NULL) {
        for (struct dirent *e; (e = readdir(d)) != NULL;)
            if (e->d_name[0] != '.')
                open_fds++;
        open_fds--; /* the directory stream's own descriptor */
        closedir(d);
    }
    struct rlimit rl = {0};
    getrlimit(RLIMIT_NOFILE, &rl);

    int rc = 0;
    rc |= render_header(out, "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", "counter");
    rc |= mesh_buf_appendf(out, "process_cpu_seconds_total %.2f\n", (double)(field[STAT_UTIME] + field[STAT_STIME]) / ticks);
    rc |= render_header(out, "process_resident_memory_bytes", "Resident memory size in bytes.", "gauge");
    rc |= mesh_buf_appendf(out, "process_resident_memory_bytes %llu\n", field[STAT_RSS] * (unsigned long long)sysconf(_SC_PAGESIZE));
    rc |= render_header(out, "process_virtual_memory_bytes", "Virtual memory size in bytes.", "gauge");
    rc |= mesh_buf_appendf(out, "process_virtual_memory_bytes %llu\n", field[STAT_VSIZE]);
    rc |= render_header(out, "process_open_fds", "Number of open file descriptors.", "gauge");
    rc |= mesh_buf_appendf(out, "process_open_fds %ld\n", open_fds);
    rc |= render_header(out, "process_max_fds", "Maximum number of open file descriptors.", "gauge");
    rc |= mesh_buf_appendf(out, "process_max_fds %llu\n", (unsigned long long)rl.rlim_cur);
    rc |= render_header(out, "process_start_time_seconds", "Start time of the process since unix epoch in seconds.", "gauge");
    rc |= mesh_buf_appendf(out, "process_start_time_seconds %.2f\n", (double)btime + (double)field[STAT_STARTTIME] / ticks);
    return rc ? -1 : 0;
}

int mesh_metrics_render(mesh_metrics_t *r, mesh_buf_t *out)
{
    static const char *const types[] = {"counter", "gauge", "histogram"};
    int rc = 0;
    bool overflowed = false;

    pthread_mutex_lock(&r->lock);
    for (mesh_metric_family_t *f = r->first; rc == 0 && f != NULL; f = f->next) {
        rc = render_header(out, f->name, f->help, types[f->kind]);
        pthread_mutex_lock(&f->lock);
        for (mesh_metric_t *m = f->first; rc == 0 && m != NULL; m = m->next)
            rc = render_series(out, f, m);
        pthread_mutex_unlock(&f->lock);
        overflowed |= atomic_load(&f->overflow) > 0;
    }
    if (rc == 0 && atomic_load(&r->process))
        rc = render_process(out);
    if (rc == 0 && overflowed) {
        rc = render_header(out, "cmesh_metrics_series_overflow_total",
                           "Series not created because the family reached its series cap.", "counter");
        for (mesh_metric_family_t *f = r->first; rc == 0 && f != NULL; f = f->next) {
            uint64_t n = atomic_load(&f->overflow);
            if (n > 0)
                rc = mesh_buf_appendf(out, "cmesh_metrics_series_overflow_total{family=\"%s\"} %llu\n", f->name,
                                      (unsigned long long)n);
        }
    }
    pthread_mutex_unlock(&r->lock);
    return rc;
}
