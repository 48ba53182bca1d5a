/* Port lists: the first byte picks the flags, the rest is the list. An
 * accepted list holds only well-formed items, the bitmap agrees with
 * contains, lenient mode keeps every item strict mode keeps, and the items
 * written back as a list parse to the same items. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/portlist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define INPUT_MAX 4096

static mesh_portlist_item_t items[MESH_PORTLIST_MAX], again[MESH_PORTLIST_MAX];
static uint8_t map[MESH_PORTLIST_BITMAP_BYTES], zero[MESH_PORTLIST_BITMAP_BYTES];

static void check_item(const mesh_portlist_item_t *it, unsigned flags)
{
    size_t nl = strnlen(it->name, sizeof(it->name));
    if (nl == sizeof(it->name))
        abort();
    if (nl > 0) {
        if (!(flags & MESH_PORTLIST_NAMES) || it->lo != 0 || it->hi != 0)
            abort();
        return;
    }
    if (it->lo > it->hi || it->hi > 65535 || (it->lo == 0 && !(flags & MESH_PORTLIST_ZERO)))
        abort();
}

static void check_port(int n, unsigned port)
{
    if (port > 65535)
        return;
    if (mesh_portlist_contains(items, n, port) != mesh_portlist_bitmap_has(map, (uint16_t)port))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char s[INPUT_MAX + 1], back[MESH_PORTLIST_MAX * 18];
    if (size == 0 || size > INPUT_MAX)
        return 0;
    unsigned flags = data[0] & (MESH_PORTLIST_NAMES | MESH_PORTLIST_LENIENT | MESH_PORTLIST_ZERO |
                                MESH_PORTLIST_NO_EMPTY);
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';

    int n = mesh_portlist_parse(s, flags, items, MESH_PORTLIST_MAX);
    memset(map, 0, sizeof(map));
    int nb = mesh_portlist_bitmap(s, flags, map);
    if (n < 0) {
        /* Refused: an invalid item (then the bitmap refuses too and stays
         * empty) or too many items (the bitmap has no cap). */
        if (nb >= 0 ? nb <= MESH_PORTLIST_MAX : memcmp(map, zero, sizeof(map)) != 0)
            abort();
        return 0;
    }
    if (nb != n)
        abort();
    for (int i = 0; i < n; i++) {
        check_item(&items[i], flags);
        check_port(n, items[i].lo);
        check_port(n, items[i].hi);
        check_port(n, items[i].lo - 1);
        check_port(n, items[i].hi + 1);
    }
    if (!(flags & MESH_PORTLIST_LENIENT) &&
        mesh_portlist_parse(s, flags | MESH_PORTLIST_LENIENT, again, MESH_PORTLIST_MAX) != n)
        abort();

    size_t len = 0;
    back[0] = '\0';
    for (int i = 0; i < n; i++) {
        const mesh_portlist_item_t *it = &items[i];
        int w = it->name[0] ? snprintf(back + len, sizeof(back) - len, "%s%s", i ? "," : "", it->name)
                            : snprintf(back + len, sizeof(back) - len, "%s%u-%u", i ? "," : "",
                                       it->lo, it->hi);
        if (w < 0 || (size_t)w >= sizeof(back) - len)
            abort();
        len += (size_t)w;
    }
    /* "" is an empty item to NO_EMPTY, so a list of none is not written back. */
    if (n > 0 || !(flags & MESH_PORTLIST_NO_EMPTY)) {
        if (mesh_portlist_parse(back, flags, again, MESH_PORTLIST_MAX) != n)
            abort();
        if (n > 0 && memcmp(items, again, (size_t)n * sizeof(items[0])) != 0)
            abort();
    }
    return 0;
}
