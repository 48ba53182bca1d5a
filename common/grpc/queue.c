/*
 * Bounded FIFO of owned messages, one per server stream. The bound is the
 * back-pressure contract with the application: a stream whose client reads
 * slower than the application writes fills up, and push reports it instead
 * of growing without limit (the destination service then ends that stream).
 * Not locked: the owning stream's lock covers it.
 */
#include <string.h>

#include "internal.h"
#include "mesh/mem.h"

void mesh__grpc_msgq_init(mesh__grpc_msgq_t *q, size_t max)
{
    q->head = q->tail = NULL;
    q->count = 0;
    q->max = max;
}

int mesh__grpc_msgq_push(mesh__grpc_msgq_t *q, const void *p, size_t len, bool force)
{
    if (!force && q->count >= q->max)
        return MESH_GRPC_EFULL;
    if (len > SIZE_MAX - sizeof(mesh__grpc_msg_t))
        return MESH_GRPC_ENOMEM;
    mesh__grpc_msg_t *m = mesh_malloc(sizeof(*m) + len);
    if (m == NULL)
        return MESH_GRPC_ENOMEM;
    m->next = NULL;
    m->len = len;
    if (len)
        memcpy(m->data, p, len);
    if (q->tail)
        q->tail->next = m;
    else
        q->head = m;
    q->tail = m;
    q->count++;
    return 0;
}

mesh__grpc_msg_t *mesh__grpc_msgq_pop(mesh__grpc_msgq_t *q)
{
    mesh__grpc_msg_t *m = q->head;
    if (m == NULL)
        return NULL;
    q->head = m->next;
    if (q->head == NULL)
        q->tail = NULL;
    q->count--;
    m->next = NULL;
    return m;
}

void mesh__grpc_msgq_clear(mesh__grpc_msgq_t *q)
{
    mesh__grpc_msg_t *m;
    while ((m = mesh__grpc_msgq_pop(q)) != NULL)
        mesh_free(m);
}
