/* Linkerd port lists; see mesh/portlist.h. */
#include "mesh/portlist.h"

#include <ctype.h>
#include <string.h>

/* [s, s+n) as a port: digits only, no more than 65535. */
static bool parse_port(const char *s, size_t n, unsigned flags, unsigned *out)
{
    unsigned v = 0;
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
        /* Checked at each digit, so leading zeros are fine and v never wraps. */
        if (v > 65535)
            return false;
    }
    if (v == 0 && !(flags & MESH_PORTLIST_ZERO))
        return false;
    *out = v;
    return true;
}

/* IANA_SVC_NAME (RFC 6335 §5.1), the rule Kubernetes applies to container
 * port names, so a name we accept is one a pod can carry. */
static bool valid_name(const char *s, size_t n)
{
    bool letter = false;
    if (n == 0 || n > MESH_PORTLIST_NAME_MAX || s[0] == '-' || s[n - 1] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c >= 'a' && c <= 'z')
            letter = true;
        else if (!(c >= '0' && c <= '9') && c != '-')
            return false;
        if (c == '-' && s[i - 1] == '-')
            return false;
    }
    return letter;
}

/* One trimmed, non-empty item [a, a+n). */
static bool parse_item(const char *a, size_t n, unsigned flags, mesh_portlist_item_t *it)
{
    const char *dash = memchr(a, '-', n);
    /* Whole item zeroed: items compare with memcmp. */
    memset(it, 0, sizeof(*it));
    if (parse_port(a, n, flags, &it->lo)) {
        it->hi = it->lo;
        return true;
    }
    if (dash != NULL && parse_port(a, (size_t)(dash - a), flags, &it->lo) &&
        parse_port(dash + 1, n - (size_t)(dash - a) - 1, flags, &it->hi))
        return it->lo <= it->hi;
    if ((flags & MESH_PORTLIST_NAMES) && valid_name(a, n)) {
        it->lo = it->hi = 0;
        memcpy(it->name, a, n);
        return true;
    }
    return false;
}

int mesh_portlist_next(const char **cursor, unsigned flags, mesh_portlist_item_t *item)
{
    while (*cursor != NULL) {
        const char *a = *cursor;
        const char *comma = strchr(a, ',');
        const char *b = comma != NULL ? comma : a + strlen(a);
        /* NULL after the last item tells "done" apart from an empty last
         * item ("1," has two items, the second empty). */
        *cursor = comma != NULL ? comma + 1 : NULL;
        while (a < b && isspace((unsigned char)*a))
            a++;
        while (b > a && isspace((unsigned char)b[-1]))
            b--;
        if (a < b && parse_item(a, (size_t)(b - a), flags, item))
            return 1;
        if ((a < b || (flags & MESH_PORTLIST_NO_EMPTY)) && !(flags & MESH_PORTLIST_LENIENT))
            return -1;
    }
    return 0;
}

int mesh_portlist_parse(const char *s, unsigned flags, mesh_portlist_item_t *items, int cap)
{
    mesh_portlist_item_t it;
    const char *cur = s;
    int n = 0, r;
    while ((r = mesh_portlist_next(&cur, flags, &it)) != 0) {
        if (r < 0 || n >= cap)
            return -1;
        items[n++] = it;
    }
    return n;
}

bool mesh_portlist_contains(const mesh_portlist_item_t *items, int n, unsigned port)
{
    for (int i = 0; i < n; i++)
        if (items[i].name[0] == '\0' && port >= items[i].lo && port <= items[i].hi)
            return true;
    return false;
}

int mesh_portlist_bitmap(const char *s, unsigned flags, uint8_t *bitmap)
{
    mesh_portlist_item_t it;
    const char *cur = s;
    int n = 0, r;
    /* Two passes instead of a copy: the list has no cap here. */
    while ((r = mesh_portlist_next(&cur, flags, &it)) != 0) {
        if (r < 0)
            return -1;
        n++;
    }
    cur = s;
    while (bitmap != NULL && mesh_portlist_next(&cur, flags, &it) > 0)
        if (it.name[0] == '\0')
            for (unsigned p = it.lo; p <= it.hi; p++)
                bitmap[p >> 3] |= (uint8_t)(1u << (p & 7));
    return n;
}
