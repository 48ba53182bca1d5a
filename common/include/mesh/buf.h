/*
 * mesh/buf.h - a growable byte buffer.
 *
 * Owns `base` (allocated with mesh_malloc). Appends grow the buffer
 * geometrically; consume drops bytes from the front (memmove, so keep it for
 * small leftovers such as a partial line). The byte after `len` is always
 * kept NUL when base != NULL, so text can be read as a C string.
 *
 * Growth is capped at MESH_BUF_MAX (1 GiB): past it, appends fail with -1 and
 * the buffer is unchanged. Every fallible call returns 0 or -1 (no memory).
 */
#ifndef MESH_BUF_H
#define MESH_BUF_H

#include <stdarg.h>
#include <stddef.h>

#define MESH_BUF_MAX ((size_t)1 << 30)

typedef struct mesh_buf {
    char *base; /* the bytes; NULL until the first append */
    size_t len; /* bytes in use */
    size_t cap; /* bytes allocated, not counting the NUL slot */
} mesh_buf_t;

#define MESH_BUF_INIT {NULL, 0, 0}

void mesh_buf_init(mesh_buf_t *b);
/* Makes room for `extra` more bytes without changing len. */
int mesh_buf_reserve(mesh_buf_t *b, size_t extra) __attribute__((warn_unused_result));
int mesh_buf_append(mesh_buf_t *b, const void *p, size_t n) __attribute__((warn_unused_result));
int mesh_buf_appends(mesh_buf_t *b, const char *s) __attribute__((warn_unused_result));
/* The printf forms may be used without checking where a short result is
 * acceptable (error messages collected for display). */
int mesh_buf_appendf(mesh_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int mesh_buf_vappendf(mesh_buf_t *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* Drops the first n bytes (all of them when n >= len). */
void mesh_buf_consume(mesh_buf_t *b, size_t n);
/* len = 0, memory kept. */
void mesh_buf_reset(mesh_buf_t *b);
/* Frees the memory; the buffer is empty and reusable afterwards. */
void mesh_buf_free(mesh_buf_t *b);
/* Hands the bytes (NUL-terminated, or a fresh "" when empty) to the caller,
 * who frees them with mesh_free; the buffer is left empty. NULL on no memory. */
char *mesh_buf_steal(mesh_buf_t *b);

#endif
