/* The proxy's byte buffer; see px/buf.h. */
#include "px/buf.h"

#include <string.h>

#include "mesh/mem.h"

/* Bytes of buffer memory this thread released (see px_buf_freed_take). */
static _Thread_local size_t freed_bytes;

size_t px_buf_freed_take(void)
{
    size_t n = freed_bytes;
    freed_bytes = 0;
    return n;
}

/* Smallest allocation: one typical socket read. */
#define PX_BUF_MIN_CAP 4096

int px_buf_reserve(px_buf_t *b, size_t extra, size_t max)
{
    if (extra > max || b->len > max - extra)
        return -1;
    if (px_buf_tail_room(b) >= extra)
        return 0;
    /* Sliding is cheaper than growing when the front holds consumed bytes. */
    if (b->off > 0 && b->cap - b->len >= extra) {
        memmove(b->base, b->base + b->off, b->len);
        b->off = 0;
        return 0;
    }
    size_t need = b->len + extra, cap = b->cap ? b->cap : PX_BUF_MIN_CAP;
    while (cap < need)
        cap *= 2;
    if (cap > max)
        cap = max;
    char *n = mesh_malloc(cap);
    if (n == NULL)
        return -1;
    if (b->len)
        memcpy(n, b->base + b->off, b->len);
    freed_bytes += b->cap;
    mesh_free(b->base);
    b->base = n;
    b->off = 0;
    b->cap = cap;
    return 0;
}

int px_buf_append(px_buf_t *b, const void *p, size_t n, size_t max)
{
    if (n == 0)
        return 0;
    if (px_buf_reserve(b, n, max) != 0)
        return -1;
    memcpy(px_buf_tail(b), p, n);
    b->len += n;
    return 0;
}

void px_buf_consume(px_buf_t *b, size_t n)
{
    if (n >= b->len) {
        b->off = 0;
        b->len = 0;
        return;
    }
    b->off += n;
    b->len -= n;
}

void px_buf_free(px_buf_t *b)
{
    freed_bytes += b->cap;
    MESH_FREE(&b->base);
    b->off = b->len = b->cap = 0;
}
