/* Hex golden files for the protobuf tests (see golden.h). */
#include "golden.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/mem.h"

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

uint8_t *golden_parse(const char *text, size_t *len, const char **err)
{
    size_t cap = strlen(text) / 2 + 1;
    uint8_t *out = mesh_malloc(cap);
    if (out == NULL) {
        *err = "out of memory";
        return NULL;
    }
    size_t n = 0;
    const char *p = text;
    while (*p) {
        if (*p == '#') {
            while (*p && *p != '\n')
                p++;
            continue;
        }
        if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
            p++;
            continue;
        }
        int hi = hexval(p[0]);
        if (hi < 0) {
            *err = "not a hex digit";
            goto fail;
        }
        int lo = hexval(p[1]);
        if (lo < 0) {
            *err = "hex digits must come in pairs";
            goto fail;
        }
        out[n++] = (uint8_t)(hi << 4 | lo);
        p += 2;
    }
    *len = n;
    return out;
fail:
    mesh_free(out);
    return NULL;
}

uint8_t *golden_load(const char *name, size_t *len, const char **err)
{
    const char *root = getenv("CMESH_ROOT");
    char path[4096];
    int w = snprintf(path, sizeof(path), "%s/test/proto/golden/%s", root ? root : ".", name);
    if (w < 0 || (size_t)w >= sizeof(path)) {
        *err = "path too long";
        return NULL;
    }
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        *err = "cannot open golden file";
        return NULL;
    }
    char *text = mesh_malloc(GOLDEN_TEXT_MAX + 1);
    if (text == NULL) {
        fclose(f);
        *err = "out of memory";
        return NULL;
    }
    size_t got = fread(text, 1, GOLDEN_TEXT_MAX + 1, f);
    int bad = ferror(f);
    fclose(f);
    uint8_t *out = NULL;
    if (bad)
        *err = "read error";
    else if (got > GOLDEN_TEXT_MAX)
        *err = "golden file too large";
    else {
        text[got] = '\0';
        out = golden_parse(text, len, err);
    }
    mesh_free(text);
    return out;
}
