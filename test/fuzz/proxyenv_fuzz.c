/* The proxy's environment configuration: any set of NAME=VALUE lines loads
 * without crashing, and every error is reported with a message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/buf.h"
#include "px/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_VARS 32

typedef struct {
    char *name[MAX_VARS];
    char *value[MAX_VARS];
    int n;
} fenv_t;

static const char *fenv_get(void *ud, const char *name)
{
    fenv_t *e = ud;
    for (int i = 0; i < e->n; i++)
        if (strcmp(e->name[i], name) == 0)
            return e->value[i];
    return NULL;
}

static void fenv_each(void *ud, void (*fn)(void *arg, const char *name), void *arg)
{
    fenv_t *e = ud;
    for (int i = 0; i < e->n; i++)
        fn(arg, e->name[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    fenv_t env = {.n = 0};
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line && env.n < MAX_VARS;
         line = strtok_r(NULL, "\n", &save)) {
        char *eq = strchr(line, '=');
        if (eq == NULL)
            continue;
        *eq = '\0';
        env.name[env.n] = line;
        env.value[env.n] = eq + 1;
        env.n++;
    }
    px_env_t pe = {fenv_get, fenv_each, &env};
    static px_config_t cfg;
    mesh_buf_t errors = MESH_BUF_INIT, warnings = MESH_BUF_INIT;
    int n = px_config_load(&cfg, &pe, &errors, &warnings);
    if (n > 0 && errors.len == 0)
        abort(); /* an error must say what it is */
    mesh_buf_free(&errors);
    mesh_buf_free(&warnings);
    free(text);
    return 0;
}
