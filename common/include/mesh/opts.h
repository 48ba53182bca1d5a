/*
 * mesh/opts.h - options from a table of descriptors: command line and env.
 *
 * A daemon describes its options once, as a table (redis config-table style):
 *
 *     static struct { char *addr; uint64_t port; int64_t timeout; bool verbose; } cfg;
 *     static const mesh_opt_t table[] = {
 *         {"addr", MESH_OPT_STRING, &cfg.addr, ":8086", "gRPC listen address"},
 *         {"port", MESH_OPT_UINT, &cfg.port, "4143", "inbound port", .min = 1, .max = 65535},
 *         {"timeout", MESH_OPT_DURATION, &cfg.timeout, "10s", "connect timeout"},
 *         {"verbose", MESH_OPT_BOOL, &cfg.verbose, "false", "log more"},
 *         {NULL},
 *     };
 *     int npos = mesh_opts_parse_or_exit(table, argc, argv, "cmesh-identity [options]");
 *
 * Every value, defaults included, goes through the same per-type parser, so a
 * bad default is reported like a bad argument. Parsing never stops at the
 * first problem: each error (unknown option, missing value, bad value, out of
 * range) is appended as one line to a mesh_opts_errors_t, and the caller
 * prints them all before exiting. Parsers never log.
 *
 * Types and destinations (`dest` must point to the matching C type):
 *   MESH_OPT_BOOL     bool *      true/false, 1/0, t/f, TRUE/FALSE, True/False
 *   MESH_OPT_STRING   char **     a copy owned by the table (mesh_strdup)
 *   MESH_OPT_INT      int64_t *   decimal; bounds [min, max]
 *   MESH_OPT_UINT     uint64_t *  decimal, no sign; bounds [min, max]
 *   MESH_OPT_DURATION int64_t *   nanoseconds, mesh/duration.h syntax; bounds in ns
 *   MESH_OPT_LIST     mesh_strlist_t *  comma-separated; items trimmed of
 *                                 spaces and tabs, empty items dropped
 * For INT, UINT and DURATION, min == max == 0 means "no bounds" (the full C
 * range; DURATION then still refuses negative values). A later value for the
 * same option replaces the earlier one (lists too: "a,b" is one value).
 *
 * Ownership: STRING and LIST destinations must start zeroed (NULL / {0}) or
 * hold values set by these functions; setting frees the previous value.
 * mesh_opts_free releases them all. Not thread-safe: parse at start-up.
 */
#ifndef MESH_OPTS_H
#define MESH_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mesh/buf.h"

typedef enum {
    MESH_OPT_BOOL,
    MESH_OPT_STRING,
    MESH_OPT_INT,
    MESH_OPT_UINT,
    MESH_OPT_DURATION,
    MESH_OPT_LIST,
} mesh_opt_type_t;

/* A list value: `n` strings, each owned (mesh_free). */
typedef struct mesh_strlist {
    char **items;
    size_t n;
} mesh_strlist_t;

typedef struct mesh_opt {
    const char *name;     /* "admin-addr" (no dashes); for env, the variable name */
    mesh_opt_type_t type; /* how `dest` is parsed and what it points to */
    void *dest;           /* see the type list above */
    const char *def;      /* default as text, or NULL to leave *dest as it is */
    const char *help;     /* one line for --help */
    int64_t min, max;     /* INT/UINT/DURATION bounds, inclusive; 0,0 = none */
} mesh_opt_t;

/* Collected errors: one line per error, each ending in '\n'. */
typedef struct mesh_opts_errors {
    mesh_buf_t text;
    unsigned count;
} mesh_opts_errors_t;

#define MESH_OPTS_ERRORS_INIT {MESH_BUF_INIT, 0}

/* Returned by mesh_opts_parse_args when -h, -help or --help was given. */
#define MESH_OPTS_HELP (-2)
/* Returned when at least one error was appended to `errs`. */
#define MESH_OPTS_ERR (-1)
/* Longest error message from mesh_opts_set, including the NUL. */
#define MESH_OPTS_ERR_MAX 256

/* A getenv-like lookup: returns the value of `name`, or NULL when unset. The
 * string must stay valid until the next call. */
typedef const char *(*mesh_opts_lookup_cb)(const char *name, void *ud);

/* Parses `text` into opt->dest. Returns 0, or -1 with a message (without
 * the option's name) in err[errcap]. Exposed for config files (YAML) that
 * fill the same tables. */
int mesh_opts_set(const mesh_opt_t *opt, const char *text, char *err, size_t errcap);

/* Applies every non-NULL default. Returns 0 or MESH_OPTS_ERR. */
int mesh_opts_set_defaults(const mesh_opt_t *table, mesh_opts_errors_t *errs);

/* Parses argv[1..argc-1] (does not apply defaults). Accepts --name=value,
 * --name value, --flag, --flag=true|false, and the single-dash spellings Go
 * programs use (-name=value); "--" ends the options; "-" alone is positional.
 * A BOOL never takes the next argument as its value.
 * Positional arguments are moved, in order, to argv[1..n] and n is returned.
 * Otherwise returns MESH_OPTS_HELP (help asked; takes precedence) or
 * MESH_OPTS_ERR (errors appended to errs; every argument was still looked at). */
int mesh_opts_parse_args(const mesh_opt_t *table, int argc, char **argv, mesh_opts_errors_t *errs);

/* Looks up every option's name through `lookup` and sets the ones that are
 * present and non-empty (an empty variable counts as unset, as for the
 * proxy's env). Returns 0 or MESH_OPTS_ERR. */
int mesh_opts_parse_env(const mesh_opt_t *table, mesh_opts_lookup_cb lookup, void *ud,
                        mesh_opts_errors_t *errs);

/* A mesh_opts_lookup_cb over the process environment (ud unused). */
const char *mesh_opts_getenv(const char *name, void *ud);

/* The daemon entry point: defaults, then argv. On -h prints the usage line
 * and the table to stdout and exits 0; on errors prints "<argv0>: <error>"
 * for each to stderr and exits 2. Returns the positional count. */
int mesh_opts_parse_or_exit(const mesh_opt_t *table, int argc, char **argv, const char *usage);

/* Appends the help text for `table` (one entry per option, with its type
 * and default). Returns 0 or -1 (no memory). */
int mesh_opts_help(const mesh_opt_t *table, mesh_buf_t *out) __attribute__((warn_unused_result));

/* The row named `name` (n bytes), or NULL. */
const mesh_opt_t *mesh_opts_find(const mesh_opt_t *table, const char *name, size_t n);

/* Frees the strings and lists the table's destinations own, leaving them
 * NULL / empty. */
void mesh_opts_free(const mesh_opt_t *table);
void mesh_strlist_free(mesh_strlist_t *l);

void mesh_opts_errors_free(mesh_opts_errors_t *errs);

#endif
