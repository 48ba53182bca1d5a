/* `cmesh inject [--manual] [-o yaml|json] FILE|-` and `cmesh uninject`:
 * multi-document YAML in, the same documents out with the proxy added (or
 * removed). Everything else in the documents is kept. */
#include <stdio.h>
#include <string.h>

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
    mesh_buf_t in = MESH_BUF_INIT, res = MESH_BUF_INIT;
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
    wh_manifest_report_t rep = {0};
    char created_by[128];
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
    /* One document at a time: transformed, written into `res`, then freed
     * while it is still in cache (and its memory reused by the next one).
     * Nothing reaches the output before every document is done, so an
     * invalid workload halfway leaves no partial stream for a
     * `| kubectl apply -f -` to act on. */
    for (size_t i = 0, n = json_array_size(docs); i < n; i++) {
        json_t *d = json_array_get(docs, i);
        if (uninject) {
            wh_manifest_uninject(d, &rep);
        } else if (wh_manifest_inject(&v, d, manual, created_by, &rep, err, sizeof err) < 0) {
            fprintf(io->err, "cmesh inject: %s\n", err);
            goto out;
        }
        if (emit_doc(d, json_out, &res) < 0) {
            fprintf(io->err, "cmesh %s: cannot write the output\n", name);
            goto out;
        }
        json_array_set_new(docs, i, json_null());
    }
    if (rep.skipped)
        fprintf(io->err, "cmesh inject: %d skipped (%s)\n", rep.skipped, rep.last_skip);
    if (res.len && fwrite(res.base, 1, res.len, io->out) != res.len) {
        fprintf(io->err, "cmesh %s: cannot write the output\n", name);
        goto out;
    }
    rc = 0;
out:
    json_decref(docs);
    mesh_buf_free(&in);
    mesh_buf_free(&res);
    wh_values_free(&v);
    return rc;
}

int cli_cmd_inject(int argc, char **argv, cli_io_t *io)
{
    return cli__inject_run(argc, argv, io, 0);
}
