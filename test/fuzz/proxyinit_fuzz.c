/* cmesh-proxy-init's flag parser and plan builder: any argv (NUL-separated
 * words) either fails with errors or yields a plan that formats. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/buf.h"
#include "px/init.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size + 1);
    char *argv[34];
    int argc = 0;
    static px_init_plan_t plan;

    memcpy(copy, data, size);
    copy[size] = '\0';
    argv[argc++] = "cmesh-proxy-init";
    for (char *p = copy; p < copy + size && argc < 33; p += strlen(p) + 1)
        argv[argc++] = p;
    argv[argc] = NULL;

    px_init_config_t cfg;
    mesh_buf_t err = MESH_BUF_INIT;
    px_init_config_init(&cfg);
    FILE *devnull = fopen("/dev/null", "w");
    int n = px_init_parse_args(&cfg, argc, argv, &err, devnull);
    fclose(devnull);
    if (n == 0) {
        for (int v6 = 0; v6 <= 1; v6++) {
            mesh_buf_t out = MESH_BUF_INIT;
            if (px_init_build(&cfg, v6, &plan) == 0 && px_init_plan_format(&plan, &out) != 0)
                abort();
            px_init_plan_free(&plan);
            mesh_buf_free(&out);
        }
    } else if (n > 0 && err.len == 0) {
        abort(); /* an error must say what it is */
    }
    mesh_buf_free(&err);
    px_init_config_free(&cfg);
    free(copy);
    return 0;
}
