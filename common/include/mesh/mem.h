/*
 * mesh/mem.h - the one allocation path of cmesh.
 *
 * Every allocation in our code goes through these functions so that tests can
 * make the Nth allocation fail (mesh_mem_fail_after) and check that each error
 * path releases what it took. Libraries we link (grpc, jansson, OpenSSL) keep
 * their own allocators.
 *
 * Contract: mesh_malloc/mesh_calloc/mesh_realloc return NULL on failure (and on
 * an injected failure); they never abort. mesh_strdup/mesh_strndup likewise.
 * mesh_free(NULL) is a no-op. mesh_xmalloc and friends abort with a message on
 * failure and are meant only for start-up code where no recovery is possible.
 */
#ifndef MESH_MEM_H
#define MESH_MEM_H

#include <stddef.h>

void *mesh_malloc(size_t n) __attribute__((warn_unused_result, malloc));
void *mesh_calloc(size_t nmemb, size_t size) __attribute__((warn_unused_result, malloc));
void *mesh_realloc(void *p, size_t n) __attribute__((warn_unused_result));
char *mesh_strdup(const char *s) __attribute__((warn_unused_result, malloc));
char *mesh_strndup(const char *s, size_t n) __attribute__((warn_unused_result, malloc));
void mesh_free(void *p);

void *mesh_xmalloc(size_t n) __attribute__((returns_nonnull, malloc));
void *mesh_xcalloc(size_t nmemb, size_t size) __attribute__((returns_nonnull, malloc));
char *mesh_xstrdup(const char *s) __attribute__((returns_nonnull, malloc));

/* Test hook: the allocation after `n` more successful ones fails, and every
 * one after it, until reset with n < 0. Thread-global; tests only. */
void mesh_mem_fail_after(long n);

/* Frees *pp and sets it to NULL. */
#define MESH_FREE(pp) do { mesh_free(*(pp)); *(pp) = NULL; } while (0)

#define MESH_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define MESH_CONTAINER_OF(ptr, type, member) \
    ((type *)((char *)(ptr) - offsetof(type, member)))

#endif
