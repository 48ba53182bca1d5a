/* The subcommand table: add a line here and a cli/cmd_NAME.c for each command. */
#include "cli/cli.h"

#include <stddef.h>

const cli_cmd_t cli_commands[] = {
    {"version", "Print the client and build versions", cli_cmd_version},
    {"certs", "Generate a development PKI (trust anchor, issuer, serving certs)", cli_cmd_certs},
    {"inject", "Add the cmesh proxy (or the inject annotation) to Kubernetes manifests", cli_cmd_inject},
    {"uninject", "Remove the cmesh proxy from Kubernetes manifests", cli_cmd_uninject},
    {"diagnostics", "Show what the destination service answers (endpoints, profile)", cli_cmd_diagnostics},
    {NULL, NULL, NULL},
};
