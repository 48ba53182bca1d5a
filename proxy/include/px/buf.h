/*
 * px/buf.h - the proxy's byte buffer: a window [off, off+len) into `base`.
 *
 * Unlike mesh_buf_t, consuming from the front is O(1) (it moves `off`); the
 * bytes are slid back to the start only when px_buf_reserve needs the room.
 * So a parser may consume a header block, then a body chunk, then the next
 * pipelined request without copying the remainder each time.
 *
 * Pointers into the buffer (parser output) stay valid until the next reserve,
 * which may move the bytes (h2o passes its buffer as `**` for this reason; we
 * keep the struct in place and say it here instead).
 *
 * Memory comes from mesh_malloc; px_buf_reserve returns 0 or -1 (no memory, or
 * the buffer would exceed `max`, in which case it is unchanged).
 */
#ifndef PX_BUF_H
#define PX_BUF_H

#include <stddef.h>

typedef struct px_buf {
    char *base; /* allocation, NULL until the first reserve */
    size_t off; /* start of the live bytes */
    size_t len; /* number of live bytes */
    size_t cap; /* size of the allocation */
} px_buf_t;

#define PX_BUF_INIT {NULL, 0, 0, 0}

/* Start of the live bytes (NULL when never reserved). */
static inline char *px_buf_data(const px_buf_t *b) { return b->base ? b->base + b->off : NULL; }
/* Free space after the live bytes, without moving anything. */
static inline size_t px_buf_tail_room(const px_buf_t *b) { return b->cap - b->off - b->len; }
static inline char *px_buf_tail(const px_buf_t *b) { return b->base + b->off + b->len; }

/* Makes at least `extra` bytes writable at px_buf_tail() while the buffer
 * stays within `max` bytes in total (live + extra). May move the live bytes. */
int px_buf_reserve(px_buf_t *b, size_t extra, size_t max) __attribute__((warn_unused_result));
/* Appends n bytes (reserve + copy); -1 as px_buf_reserve. */
int px_buf_append(px_buf_t *b, const void *p, size_t n, size_t max) __attribute__((warn_unused_result));
/* Marks n bytes written at the tail as live. */
static inline void px_buf_commit(px_buf_t *b, size_t n) { b->len += n; }
/* Drops n bytes from the front (n <= len). Resets off when it empties. */
void px_buf_consume(px_buf_t *b, size_t n);
/* Releases the memory; the buffer is empty and reusable. */
void px_buf_free(px_buf_t *b);
/* Bytes of buffer memory released by the calling thread since the last
 * call (the worker uses it to decide when to hand free pages back to the
 * kernel: malloc keeps freed 16 KiB buffers otherwise). */
size_t px_buf_freed_take(void);

#endif
