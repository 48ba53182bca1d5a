/*
 * px/list.h - intrusive doubly linked circular lists (h2o linklist, libuv queue).
 *
 * A px_list_t is both the head and the node embedded in listed objects; an
 * unlinked node points to itself, so unlinking twice is harmless.
 */
#ifndef PX_LIST_H
#define PX_LIST_H

#include <stdbool.h>
#include <stddef.h>

typedef struct px_list {
    struct px_list *next, *prev;
} px_list_t;

static inline void px_list_init(px_list_t *l) { l->next = l->prev = l; }
static inline bool px_list_empty(const px_list_t *l) { return l->next == l; }
static inline bool px_list_linked(const px_list_t *n) { return n->next != n; }

/* Inserts n before `at` (at the tail when `at` is the head). */
static inline void px_list_insert(px_list_t *at, px_list_t *n)
{
    n->prev = at->prev;
    n->next = at;
    at->prev->next = n;
    at->prev = n;
}

static inline void px_list_unlink(px_list_t *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->next = n->prev = n;
}

#endif
