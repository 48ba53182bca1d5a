/* String-keyed pointer map; see map.h. */
#include "map.h"

#include <string.h>

#include "mesh/mem.h"

struct dst_map_entry {
    dst_map_entry_t *next;
    size_t hash;
    void *val;
    char key[];
};

static size_t hash_str(const char *s)
{
    size_t h = 1469598103934665603ull; /* FNV-1a */
    while (*s)
        h = (h ^ (unsigned char)*s++) * 1099511628211ull;
    return h;
}

static dst_map_entry_t **slot(const dst_map_t *m, const char *key, size_t h)
{
    dst_map_entry_t **pp = &m->buckets[h % m->nbuckets];
    while (*pp && ((*pp)->hash != h || strcmp((*pp)->key, key) != 0))
        pp = &(*pp)->next;
    return pp;
}

void *dst_map_get(const dst_map_t *m, const char *key)
{
    if (m->n == 0)
        return NULL;
    dst_map_entry_t *e = *slot(m, key, hash_str(key));
    return e ? e->val : NULL;
}

static int grow(dst_map_t *m)
{
    size_t nb = m->nbuckets ? m->nbuckets * 2 : 16;
    dst_map_entry_t **b = mesh_calloc(nb, sizeof *b);
    if (b == NULL)
        return -1;
    for (size_t i = 0; i < m->nbuckets; i++) {
        dst_map_entry_t *e = m->buckets[i];
        while (e) {
            dst_map_entry_t *n = e->next;
            e->next = b[e->hash % nb];
            b[e->hash % nb] = e;
            e = n;
        }
    }
    mesh_free(m->buckets);
    m->buckets = b;
    m->nbuckets = nb;
    return 0;
}

int dst_map_put(dst_map_t *m, const char *key, void *val)
{
    if (m->n >= m->nbuckets && grow(m) != 0)
        return -1;
    size_t h = hash_str(key);
    dst_map_entry_t **pp = slot(m, key, h);
    if (*pp) {
        (*pp)->val = val;
        return 0;
    }
    size_t kl = strlen(key) + 1;
    dst_map_entry_t *e = mesh_malloc(sizeof *e + kl);
    if (e == NULL)
        return -1;
    memcpy(e->key, key, kl);
    e->hash = h;
    e->val = val;
    e->next = NULL;
    *pp = e;
    m->n++;
    return 0;
}

void *dst_map_del(dst_map_t *m, const char *key)
{
    if (m->n == 0)
        return NULL;
    dst_map_entry_t **pp = slot(m, key, hash_str(key));
    dst_map_entry_t *e = *pp;
    if (e == NULL)
        return NULL;
    void *v = e->val;
    *pp = e->next;
    mesh_free(e);
    m->n--;
    return v;
}

void dst_map_foreach(const dst_map_t *m, void (*fn)(const char *key, void *val, void *ud), void *ud)
{
    for (size_t i = 0; i < m->nbuckets; i++)
        for (dst_map_entry_t *e = m->buckets[i]; e; e = e->next)
            fn(e->key, e->val, ud);
}

void dst_map_free(dst_map_t *m)
{
    for (size_t i = 0; i < m->nbuckets; i++) {
        dst_map_entry_t *e = m->buckets[i];
        while (e) {
            dst_map_entry_t *n = e->next;
            mesh_free(e);
            e = n;
        }
    }
    mesh_free(m->buckets);
    m->buckets = NULL;
    m->nbuckets = m->n = 0;
}
