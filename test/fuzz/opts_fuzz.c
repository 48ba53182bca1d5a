/* The option-table parser every daemon uses: any argv (NUL-separated words)
 * either parses or fails with one message per error; defaults always apply. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/opts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct {
    char *addr;
    uint64_t port;
    int64_t level;
    int64_t timeout;
    bool flag;
    mesh_strlist_t list;
} cfg;

static const mesh_opt_t table[] = {
    {"addr", MESH_OPT_STRING, &cfg.addr, ":8086", "listen address"},
    {"port", MESH_OPT_UINT, &cfg.port, "4143", "a port", .min = 1, .max = 65535},
    {"level", MESH_OPT_INT, &cfg.level, "-3", "an int", .min = -10, .max = 10},
    {"timeout", MESH_OPT_DURATION, &cfg.timeout, "10s", "a duration"},
    {"insecure", MESH_OPT_BOOL, &cfg.flag, "false", "a flag"},
    {"ports", MESH_OPT_LIST, &cfg.list, "25,587", "a list"},
    {NULL},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size + 1);
    char *argv[34];
    int argc = 0;

    memcpy(copy, data, size);
    copy[size] = '\0';
    argv[argc++] = "fuzz";
    for (char *p = copy; p < copy + size && argc < 33; p += strlen(p) + 1)
        argv[argc++] = p;
    argv[argc] = NULL;

    mesh_opts_errors_t errs = MESH_OPTS_ERRORS_INIT;
    if (mesh_opts_set_defaults(table, &errs) != 0)
        abort(); /* the defaults above are valid */
    int n = mesh_opts_parse_args(table, argc, argv, &errs);
    if (n == MESH_OPTS_ERR && (errs.count == 0 || errs.text.len == 0))
        abort();
    if (n >= 0 && cfg.port == 0)
        abort(); /* bounds hold */
    mesh_buf_free(&errs.text);
    mesh_opts_free(table);
    free(copy);
    return 0;
}
