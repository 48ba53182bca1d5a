/* `cmesh inject [--manual] [-o yaml|json] FILE|-` and `cmesh uninject`:
 * multi-document YAML in, the same documents out with the proxy added (or
 * removed). Everything else in the documents is kept. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "mesh/buf.h"
#include "mesh/mem.h"
#include "mesh/yamljson.h"
#include "wh/manifest.h"
#include "wh/values.h"

#ifndef CMESH_VERSION
#define CMESH_VERSION "0.0.0-unknown"
#endif

#define INPUT_MAX ((size_t)256 << 20)
/* Documents are independent, so up to this many threads transform and write
 * contiguous slices of them (never more than the CPUs online), each slice at
 * least INJECT_SLICE_MIN documents so small inputs stay on one thread. */
#define INJECT_THREADS_MAX 4
#define INJECT_SLICE_MIN 64

static int read_all(FILE *f, mesh_buf_t *b)
{
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (b->len + n > INPUT_MAX || mesh_buf_append(b, chunk, n) < 0)
            return -1;
    return ferror(f) ? -1 : 0;
}

static int on_json_chunk(const char *p, size_t n, void *data)
{
    return mesh_buf_append(data, p, n);
}

/* Appends one document as YAML or as indented JSON and a newline. A
 * document may be a bare scalar (`--- text`), hence JSON_ENCODE_ANY. */
static int emit_doc(const json_t *d, int json_out, mesh_buf_t *out)
{
    if (!json_out)
        return wh_yaml_emit(d, out);
    if (json_dump_callback(d, on_json_chunk, out,
                           JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY) < 0)
        return -1;
    return mesh_buf_append(out, "\n", 1);
}

/* One slice of the documents and what became of it. */
typedef struct inject_job {
    const wh_values_t *values; /* shared, read only (wh/inject.h: thread-safe) */
    const char *created_by;
    int uninject, manual, json_out;
    json_t **docs;             /* owned references; each is released (and
                                  set NULL) once written */
    size_t begin, end;         /* the slice: docs[begin, end) */
    mesh_buf_t out;            /* the slice's output */
    wh_manifest_report_t rep;  /* the slice's counts */
    size_t failed_at;          /* first document that failed, or SIZE_MAX */
    int write_failed;          /* it failed in the writer (else: err) */
    char err[512];
} inject_job_t;

static void *run_job(void *arg)
{
    inject_job_t *j = arg;
    for (size_t i = j->begin; i < j->end; i++) {
        json_t *d = j->docs[i];
        if (j->uninject) {
            wh_manifest_uninject(d, &j->rep);
        } else if (wh_manifest_inject(j->values, d, j->manual, j->created_by, &j->rep, j->err,
                                      sizeof j->err) < 0) {
            j->failed_at = i;
            return NULL;
        }
        if (emit_doc(d, j->json_out, &j->out) < 0) {
            j->failed_at = i;
            j->write_failed = 1;
            return NULL;
        }
        /* Freed while still in cache, and its memory reused by the next. */
        json_decref(d);
        j->docs[i] = NULL;
    }
    return NULL;
}

/* Transforms and writes every document into jobs[0..*njobs) (in order).
 * 0, or -1 when a thread could not start. */
static int run_jobs(inject_job_t *jobs, size_t *njobs, const inject_job_t *proto, json_t **docs,
                    size_t n)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    size_t k = n / INJECT_SLICE_MIN;
    if (k > INJECT_THREADS_MAX)
        k = INJECT_THREADS_MAX;
    if (cpus > 0 && k > (size_t)cpus)
        k = (size_t)cpus;
    if (k == 0)
        k = 1;
    pthread_t tid[INJECT_THREADS_MAX];
    size_t started = 0;
    int rc = 0;
    for (size_t t = 0; t < k; t++) {
        jobs[t] = *proto;
        jobs[t].docs = docs;
        jobs[t].begin = n * t / k;
        jobs[t].end = n * (t + 1) / k;
    }
    /* The calling thread takes the first slice. */
    for (size_t t = 1; t < k; t++, started++)
        if (pthread_create(&tid[t], NULL, run_job, &jobs[t]) != 0) {
            rc = -1;
            break;
        }
    run_job(&jobs[0]);
    for (size_t t = 1; t <= started; t++)
        pthread_join(tid[t], NULL);
    *njobs = rc == 0 ? k : 1 + started;
    return rc;
}

int cli__inject_run(int argc, char **argv, cli_io_t *io, int uninject);
int cli__inject_run(int argc, char **argv, cli_io_t *io, int uninject)
{
    const char *name = uninject ? "uninject" : "inject";
    const char *file = NULL, *config = NULL, *anchors = NULL, *ns = "linkerd";
    int manual = 0, json_out = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--manual") == 0 && !uninject) {
            manual = 1;
        } else if ((strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) && i + 1 < argc) {
            const char *o = argv[++i];
            if (strcmp(o, "json") == 0)
                json_out = 1;
            else if (strcmp(o, "yaml") != 0) {
                fprintf(io->err, "cmesh %s: -o must be yaml or json\n", name);
                return 2;
            }
        } else if (strcmp(a, "--config") == 0 && i + 1 < argc && !uninject) {
            config = argv[++i];
        } else if (strcmp(a, "--identity-trust-anchors-file") == 0 && i + 1 < argc && !uninject) {
            anchors = argv[++i];
        } else if (strcmp(a, "--linkerd-namespace") == 0 && i + 1 < argc && !uninject) {
            ns = argv[++i];
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fprintf(io->out, uninject ? "Usage: cmesh uninject [-o yaml|json] FILE|-\n"
                                      : "Usage: cmesh inject [--manual] [--config VALUES] "
                                        "[--identity-trust-anchors-file PEM] [-o yaml|json] FILE|-\n");
            return 0;
        } else if (file == NULL && (a[0] != '-' || strcmp(a, "-") == 0)) {
            file = a;
        } else {
            fprintf(io->err, "cmesh %s: unexpected argument \"%s\"\n", name, a);
            return 2;
        }
    }
    if (file == NULL) {
        fprintf(io->err, "cmesh %s: give a file or - for stdin\n", name);
        return 2;
    }
    int rc = 1;
    char err[512];
    wh_values_t v = {0};
    json_t *docs = NULL;
    mesh_buf_t in = MESH_BUF_INIT;
    json_t **items = NULL;
    size_t n = 0, njobs = 0;
    inject_job_t jobs[INJECT_THREADS_MAX];
    FILE *f = strcmp(file, "-") == 0 ? io->in : fopen(file, "rb");
    if (f == NULL) {
        fprintf(io->err, "cmesh %s: cannot open %s\n", name, file);
        return 1;
    }
    int rd = read_all(f, &in);
    if (f != io->in)
        fclose(f);
    if (rd < 0) {
        fprintf(io->err, "cmesh %s: cannot read %s\n", name, file);
        goto out;
    }
    if (mesh_yaml_load_all(in.base ? in.base : "", in.len, &docs, err, sizeof err) < 0) {
        fprintf(io->err, "cmesh %s: error converting YAML to JSON: %s\n", name, err);
        goto out;
    }
    char created_by[128] = "";
    if (!uninject) {
        if (wh_values_load_file(&v, config, err, sizeof err) < 0) {
            fprintf(io->err, "cmesh inject: %s\n", err);
            goto out;
        }
        v.control_plane_ns = ns;
        if (anchors != NULL) {
            FILE *af = fopen(anchors, "rb");
            mesh_buf_t ab = MESH_BUF_INIT;
            int ok = af != NULL && read_all(af, &ab) == 0 &&
                     wh_values_set_anchors(&v, ab.base ? ab.base : "") == 0;
            if (af)
                fclose(af);
            mesh_buf_free(&ab);
            if (!ok) {
                fprintf(io->err, "cmesh inject: cannot read %s\n", anchors);
                goto out;
            }
        }
        if (manual && v.trust_anchors_pem[0] == '\0') {
            fprintf(io->err, "cmesh inject: --manual needs trust anchors "
                             "(--identity-trust-anchors-file or identityTrustAnchorsPEM in --config)\n");
            goto out;
        }
        snprintf(created_by, sizeof created_by, "cmesh/cli %s", CMESH_VERSION);
    }
    /* Nothing reaches the output before every document is done, so an
     * invalid workload halfway leaves no partial stream for a
     * `| kubectl apply -f -` to act on. */
    n = json_array_size(docs);
    items = mesh_calloc(n ? n : 1, sizeof *items);
    if (items == NULL) {
        fprintf(io->err, "cmesh %s: out of memory\n", name);
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        items[i] = json_incref(json_array_get(docs, i));
    json_array_clear(docs);
    inject_job_t proto = {.values = &v, .created_by = created_by, .uninject = uninject,
                          .manual = manual, .json_out = json_out, .failed_at = SIZE_MAX};
    if (run_jobs(jobs, &njobs, &proto, items, n) < 0) {
        fprintf(io->err, "cmesh %s: cannot start a thread\n", name);
        goto out;
    }
    wh_manifest_report_t rep = {0};
    const inject_job_t *failed = NULL;
    for (size_t t = 0; t < njobs; t++) {
        if (jobs[t].failed_at != SIZE_MAX && (failed == NULL || jobs[t].failed_at < failed->failed_at))
            failed = &jobs[t];
        rep.injected += jobs[t].rep.injected;
        rep.skipped += jobs[t].rep.skipped;
        rep.unchanged += jobs[t].rep.unchanged;
        if (jobs[t].rep.skipped)
            memcpy(rep.last_skip, jobs[t].rep.last_skip, sizeof rep.last_skip);
    }
    if (failed != NULL) {
        if (failed->write_failed)
            fprintf(io->err, "cmesh %s: cannot write the output\n", name);
        else
            fprintf(io->err, "cmesh inject: %s\n", failed->err);
        goto out;
    }
    if (rep.skipped)
        fprintf(io->err, "cmesh inject: %d skipped (%s)\n", rep.skipped, rep.last_skip);
    for (size_t t = 0; t < njobs; t++) {
        const mesh_buf_t *b = &jobs[t].out;
        if (b->len && fwrite(b->base, 1, b->len, io->out) != b->len) {
            fprintf(io->err, "cmesh %s: cannot write the output\n", name);
            goto out;
        }
    }
    rc = 0;
out:
    for (size_t i = 0; items != NULL && i < n; i++)
        json_decref(items[i]);
    mesh_free(items);
    for (size_t t = 0; t < njobs; t++)
        mesh_buf_free(&jobs[t].out);
    json_decref(docs);
    mesh_buf_free(&in);
    wh_values_free(&v);
    return rc;
}

int cli_cmd_inject(int argc, char **argv, cli_io_t *io)
{
    return cli__inject_run(argc, argv, io, 0);
}
