/* Growable byte buffer; see mesh/buf.h. */
#include "mesh/buf.h"

#include <stdio.h>
#include <string.h>

#include "mesh/mem.h"

void mesh_buf_init(mesh_buf_t *b)
{
    b->base = NULL;
    b->len = 0;
    b->cap = 0;
}

int mesh_buf_reserve(mesh_buf_t *b, size_t extra)
{
    if (extra > MESH_BUF_MAX - b->len)
        return -1;
    size_t need = b->len + extra;
    if (need <= b->cap && b->base != NULL)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    if (cap > MESH_BUF_MAX)
        cap = MESH_BUF_MAX;
    char *p = mesh_realloc(b->base, cap + 1);
    if (p == NULL)
        return -1;
    b->base = p;
    b->cap = cap;
    b->base[b->len] = '\0';
    return 0;
}

int mesh_buf_append(mesh_buf_t *b, const void *p, size_t n)
{
    if (mesh_buf_reserve(b, n) != 0)
        return -1;
    if (n > 0)
        memcpy(b->base + b->len, p, n);
    b->len += n;
    b->base[b->len] = '\0';
    return 0;
}

int mesh_buf_appends(mesh_buf_t *b, const char *s)
{
    return mesh_buf_append(b, s, strlen(s));
}

int mesh_buf_vappendf(mesh_buf_t *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    char small[256];
    int n = vsnprintf(small, sizeof(small), fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return -1;
    if ((size_t)n < sizeof(small))
        return mesh_buf_append(b, small, (size_t)n);
    if (mesh_buf_reserve(b, (size_t)n) != 0)
        return -1;
    vsnprintf(b->base + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int mesh_buf_appendf(mesh_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = mesh_buf_vappendf(b, fmt, ap);
    va_end(ap);
    return rc;
}

void mesh_buf_consume(mesh_buf_t *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
    } else {
        memmove(b->base, b->base + n, b->len - n);
        b->len -= n;
    }
    if (b->base != NULL)
        b->base[b->len] = '\0';
}

void mesh_buf_reset(mesh_buf_t *b)
{
    b->len = 0;
    if (b->base != NULL)
        b->base[0] = '\0';
}

void mesh_buf_free(mesh_buf_t *b)
{
    mesh_free(b->base);
    mesh_buf_init(b);
}

char *mesh_buf_steal(mesh_buf_t *b)
{
    char *p = b->base;
    if (p == NULL)
        return mesh_strdup("");
    mesh_buf_init(b);
    return p;
}
