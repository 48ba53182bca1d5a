/*
 * dst/blob.h - an encoded message shared by every subscriber it goes to.
 *
 * The watcher encodes an update once and hands the same blob to each
 * stream's queue; the last holder frees it. Blobs are immutable once made.
 * Reference counting is atomic, so holders may live on different threads.
 */
#ifndef DST_BLOB_H
#define DST_BLOB_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

typedef struct dst_blob {
    int _refs;       /* atomic; the blob is freed when it drops to 0 */
    size_t len;      /* bytes in data */
    uint8_t data[];  /* the packed protobuf message */
} dst_blob_t;

/* A blob of `len` bytes copied from `data` (refs = 1); NULL on no memory. */
dst_blob_t *dst_blob_new(const void *data, size_t len);
/* Packs `msg` into a new blob (refs = 1); NULL on no memory. */
dst_blob_t *dst_blob_pack(const ProtobufCMessage *msg);
/* Takes one more reference; returns b. */
dst_blob_t *dst_blob_ref(dst_blob_t *b);
/* Drops one reference (NULL is a no-op). */
void dst_blob_unref(dst_blob_t *b);
/* 1 when both are non-NULL and hold the same bytes. */
int dst_blob_eq(const dst_blob_t *a, const dst_blob_t *b);

/*
 * A bump allocator for building protobuf-c message trees: every piece is
 * freed at once by dst_arena_free. Not thread-safe; one arena per build.
 */
typedef struct dst_arena_block dst_arena_block_t;
typedef struct dst_arena {
    dst_arena_block_t *head; /* newest block first */
    int failed;              /* set once an allocation failed */
} dst_arena_t;

#define DST_ARENA_INIT {NULL, 0}
#define DST_ARENA_BLOCK 4096

/* Zeroed memory from the arena, or NULL (and a->failed = 1) on no memory. */
void *dst_arena_alloc(dst_arena_t *a, size_t n);
/* A copy of s in the arena (NULL in, NULL out). */
char *dst_arena_strdup(dst_arena_t *a, const char *s);
void dst_arena_free(dst_arena_t *a);

#endif
