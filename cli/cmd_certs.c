/* `cmesh certs generate --out DIR`: options here, the PKI in id/devpki.h. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "id/devpki.h"
#include "mesh/duration.h"
#include "mesh/opts.h"

int cli_cmd_certs(int argc, char **argv, cli_io_t *io)
{
    if (argc < 2 || strcmp(argv[1], "generate") != 0) {
        fprintf(io->err, "usage: cmesh certs generate --out DIR [--identity-trust-domain TD] "
                         "[--namespace NS] [--anchor-lifetime D] [--issuer-lifetime D] [--force]\n");
        return 2;
    }
    id_devpki_opts_t o = {0};
    const mesh_opt_t table[] = {
        {"out", MESH_OPT_STRING, &o.out, NULL, "directory to write the PKI into (required)"},
        {"identity-trust-domain", MESH_OPT_STRING, &o.trust_domain, "cluster.local", "trust domain"},
        {"namespace", MESH_OPT_STRING, &o.ns, "cmesh", "control-plane namespace"},
        {"anchor-lifetime", MESH_OPT_DURATION, &o.anchor_life, "8760h", "trust anchor lifetime",
         MESH_NS_PER_MIN, 100 * 365 * MESH_NS_PER_DAY},
        {"issuer-lifetime", MESH_OPT_DURATION, &o.issuer_life, "8760h", "issuer lifetime",
         MESH_NS_PER_MIN, 100 * 365 * MESH_NS_PER_DAY},
        {"serving-lifetime", MESH_OPT_DURATION, &o.serving_life, "8760h",
         "destination/webhook serving certificate lifetime", MESH_NS_PER_MIN, 100 * 365 * MESH_NS_PER_DAY},
        {"force", MESH_OPT_BOOL, &o.force, "false", "replace an existing PKI"},
        {NULL},
    };
    mesh_opts_errors_t errs = MESH_OPTS_ERRORS_INIT;
    int rc = 2;
    mesh_opts_set_defaults(table, &errs);
    int n = mesh_opts_parse_args(table, argc - 1, argv + 1, &errs);
    if (n == MESH_OPTS_HELP) {
        mesh_buf_t b = MESH_BUF_INIT;
        if (mesh_opts_help(table, &b) == 0)
            fprintf(io->out, "usage: cmesh certs generate --out DIR [options]\n%s", b.base ? b.base : "");
        mesh_buf_free(&b);
        rc = 0;
        goto out;
    }
    if (n == MESH_OPTS_ERR || errs.count > 0) {
        fprintf(io->err, "%s", errs.text.base ? errs.text.base : "");
        goto out;
    }
    if (n > 0) {
        fprintf(io->err, "certs generate: unexpected argument \"%s\"\n", argv[2]);
        goto out;
    }
    if (o.out == NULL || o.out[0] == '\0') {
        fprintf(io->err, "certs generate: --out DIR is required\n");
        goto out;
    }
    rc = id_devpki_generate(&o, io->out, io->err);
out:
    mesh_opts_errors_free(&errs);
    mesh_opts_free(table);
    return rc;
}
