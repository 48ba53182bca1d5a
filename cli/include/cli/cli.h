/*
 * cli/cli.h - the `cmesh` command: a table of subcommands, one file each.
 *
 * A subcommand is a cli_cmd_t: its name, a one-line summary, and its entry
 * point, which receives argv starting at the subcommand's own name and
 * returns the process exit code (0 success, 1 failure, 2 usage error).
 * Output goes to the FILE pointers given so tests can capture it.
 */
#ifndef CLI_CLI_H
#define CLI_CLI_H

#include <stdio.h>

typedef struct cli_io {
    FILE *in;
    FILE *out;
    FILE *err;
} cli_io_t;

typedef int (*cli_cmd_cb)(int argc, char **argv, cli_io_t *io);

typedef struct cli_cmd {
    const char *name;
    const char *summary;
    cli_cmd_cb run;
} cli_cmd_t;

/* The table, terminated by a zeroed entry (cli/commands.c). */
extern const cli_cmd_t cli_commands[];

/* Runs `cmesh ARGS...`: argv[0] is the program name. */
int cli_main(int argc, char **argv, cli_io_t *io);

/* Looks up a subcommand by name; NULL when unknown. */
const cli_cmd_t *cli_find(const char *name);

/* Subcommand entry points, one file each (cli/cmd_NAME.c). */
int cli_cmd_version(int argc, char **argv, cli_io_t *io);
int cli_cmd_certs(int argc, char **argv, cli_io_t *io);
int cli_cmd_inject(int argc, char **argv, cli_io_t *io);
int cli_cmd_uninject(int argc, char **argv, cli_io_t *io);
int cli_cmd_diagnostics(int argc, char **argv, cli_io_t *io);

#endif
