/* The single allocation path; see mesh/mem.h. */
#include "mesh/mem.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static atomic_long fail_countdown = -1;

void mesh_mem_fail_after(long n)
{
    atomic_store(&fail_countdown, n);
}

/* Returns 1 when this allocation must fail by injection. */
static int injected_failure(void)
{
    long n = atomic_load(&fail_countdown);
    if (n < 0)
        return 0;
    if (n == 0)
        return 1;
    atomic_fetch_sub(&fail_countdown, 1);
    return 0;
}

void *mesh_malloc(size_t n)
{
    if (injected_failure())
        return NULL;
    return malloc(n ? n : 1);
}

void *mesh_calloc(size_t nmemb, size_t size)
{
    if (injected_failure())
        return NULL;
    return calloc(nmemb ? nmemb : 1, size ? size : 1);
}

void *mesh_realloc(void *p, size_t n)
{
    if (injected_failure())
        return NULL;
    return realloc(p, n ? n : 1);
}

char *mesh_strndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *d = mesh_malloc(len + 1);
    if (d == NULL)
        return NULL;
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

char *mesh_strdup(const char *s)
{
    return mesh_strndup(s, strlen(s));
}

void mesh_free(void *p)
{
    free(p);
}

static void oom(size_t n)
{
    fprintf(stderr, "cmesh: out of memory allocating %zu bytes\n", n);
    abort();
}

void *mesh_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        oom(n);
    return p;
}

void *mesh_xcalloc(size_t nmemb, size_t size)
{
    void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
    if (p == NULL)
        oom(nmemb * size);
    return p;
}

char *mesh_xstrdup(const char *s)
{
    char *d = strdup(s);
    if (d == NULL)
        oom(strlen(s));
    return d;
}
