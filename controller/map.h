/*
 * controller/map.h - a string-keyed hash map of pointers (private to libdst).
 * Keys are copied; values are borrowed. Not thread-safe.
 */
#ifndef DST_MAP_H
#define DST_MAP_H

#include <stddef.h>

typedef struct dst_map_entry dst_map_entry_t;
typedef struct dst_map {
    dst_map_entry_t **buckets;
    size_t nbuckets, n;
} dst_map_t;

#define DST_MAP_INIT {NULL, 0, 0}

void *dst_map_get(const dst_map_t *m, const char *key);
/* Sets key -> val (replacing); 0, or -1 on no memory. */
int dst_map_put(dst_map_t *m, const char *key, void *val) __attribute__((warn_unused_result));
/* Removes key; returns its value or NULL. */
void *dst_map_del(dst_map_t *m, const char *key);
/* Calls fn for each entry; fn must not change the map. */
void dst_map_foreach(const dst_map_t *m, void (*fn)(const char *key, void *val, void *ud), void *ud);
void dst_map_free(dst_map_t *m);

#endif
