/* `cmesh version`: the client version, and with --short only the number. */
#include "cli/cli.h"

#include <string.h>

#ifndef CMESH_VERSION
#define CMESH_VERSION "0.0.0-unknown"
#endif

int cli_cmd_version(int argc, char **argv, cli_io_t *io)
{
    int short_form = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--short") == 0) {
            short_form = 1;
        } else if (strcmp(argv[i], "--client") == 0) {
            /* Accepted for Linkerd compatibility: we only report the client. */
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fprintf(io->out, "Usage: cmesh version [--short] [--client]\n");
            return 0;
        } else {
            fprintf(io->err, "cmesh version: unknown flag \"%s\"\n", argv[i]);
            return 2;
        }
    }
    if (short_form)
        fprintf(io->out, "%s\n", CMESH_VERSION);
    else
        fprintf(io->out, "Client version: %s\n", CMESH_VERSION);
    return 0;
}
