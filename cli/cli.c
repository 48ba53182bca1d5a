/* Dispatch of `cmesh SUBCOMMAND ...` over the table in commands.c. */
#include "cli/cli.h"

#include <string.h>

const cli_cmd_t *cli_find(const char *name)
{
    for (const cli_cmd_t *c = cli_commands; c->name != NULL; c++)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

static void usage(FILE *f)
{
    fprintf(f, "cmesh: the command line of the cmesh service mesh\n\n"
               "Usage:\n  cmesh COMMAND [ARGS...]\n\nCommands:\n");
    for (const cli_cmd_t *c = cli_commands; c->name != NULL; c++)
        fprintf(f, "  %-14s %s\n", c->name, c->summary);
    fprintf(f, "\nRun 'cmesh COMMAND --help' for a command's options.\n");
}

int cli_main(int argc, char **argv, cli_io_t *io)
{
    if (argc < 2) {
        usage(io->err);
        return 2;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(io->out);
        return 0;
    }
    const cli_cmd_t *c = cli_find(argv[1]);
    if (c == NULL) {
        fprintf(io->err, "cmesh: unknown command \"%s\"\n\n", argv[1]);
        usage(io->err);
        return 2;
    }
    return c->run(argc - 1, argv + 1, io);
}
