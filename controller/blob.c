/* Shared encoded messages and the message-building arena; see dst/blob.h. */
#include "dst/blob.h"

#include <string.h>

#include "mesh/mem.h"

dst_blob_t *dst_blob_new(const void *data, size_t len)
{
    dst_blob_t *b = mesh_malloc(sizeof *b + len);
    if (b == NULL)
        return NULL;
    b->_refs = 1;
    b->len = len;
    if (len)
        memcpy(b->data, data, len);
    return b;
}

dst_blob_t *dst_blob_pack(const ProtobufCMessage *msg)
{
    size_t len = protobuf_c_message_get_packed_size(msg);
    dst_blob_t *b = mesh_malloc(sizeof *b + len);
    if (b == NULL)
        return NULL;
    b->_refs = 1;
    b->len = protobuf_c_message_pack(msg, b->data);
    return b;
}

dst_blob_t *dst_blob_ref(dst_blob_t *b)
{
    __atomic_add_fetch(&b->_refs, 1, __ATOMIC_RELAXED);
    return b;
}

void dst_blob_unref(dst_blob_t *b)
{
    if (b == NULL)
        return;
    if (__atomic_sub_fetch(&b->_refs, 1, __ATOMIC_ACQ_REL) == 0)
        mesh_free(b);
}

int dst_blob_eq(const dst_blob_t *a, const dst_blob_t *b)
{
    return a != NULL && b != NULL && a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}

struct dst_arena_block {
    dst_arena_block_t *next;
    size_t used, cap;
    max_align_t data[];
};

void *dst_arena_alloc(dst_arena_t *a, size_t n)
{
    n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    dst_arena_block_t *b = a->head;
    if (b == NULL || b->cap - b->used < n) {
        size_t cap = n > DST_ARENA_BLOCK ? n : DST_ARENA_BLOCK;
        b = mesh_malloc(sizeof *b + cap);
        if (b == NULL) {
            a->failed = 1;
            return NULL;
        }
        b->used = 0;
        b->cap = cap;
        b->next = a->head;
        a->head = b;
    }
    void *p = (char *)b->data + b->used;
    b->used += n;
    memset(p, 0, n);
    return p;
}

char *dst_arena_strdup(dst_arena_t *a, const char *s)
{
    if (s == NULL)
        return NULL;
    size_t n = strlen(s) + 1;
    char *p = dst_arena_alloc(a, n);
    if (p != NULL)
        memcpy(p, s, n);
    return p;
}

void dst_arena_free(dst_arena_t *a)
{
    while (a->head != NULL) {
        dst_arena_block_t *n = a->head->next;
        mesh_free(a->head);
        a->head = n;
    }
    a->failed = 0;
}
