/*
 * mesh/portlist.h - Linkerd port lists: "25,443,1000-2000", and in the
 * injection annotations also port names ("http, 8080-8090").
 *
 * Syntax: items separated by commas; blanks (isspace) around an item are
 * ignored; an empty item is skipped (unless MESH_PORTLIST_NO_EMPTY). An item is
 *   - a port: decimal digits only (leading zeros allowed, no sign, no blank),
 *     value 1..65535 (0..65535 with MESH_PORTLIST_ZERO);
 *   - a range "LO-HI": two ports joined by one '-' with nothing around it,
 *     LO <= HI ("20-10" is invalid; "1000:2000" is not a range);
 *   - with MESH_PORTLIST_NAMES, a port name: an IANA_SVC_NAME as Kubernetes
 *     validates container port names (1..MESH_PORTLIST_NAME_MAX of [a-z0-9-],
 *     at least one letter, no leading, trailing or double '-').
 * Anything else is an invalid item.
 *
 * The functions are pure: no allocation, no logging, no global state.
 */
#ifndef MESH_PORTLIST_H
#define MESH_PORTLIST_H

#include <stdbool.h>
#include <stdint.h>

/* Longest port name (IANA_SVC_NAME). */
#define MESH_PORTLIST_NAME_MAX 15
/* The item array size our callers use: a list with more items is refused
 * (a port list in an annotation or a flag is short; a long one is a typo or
 * an attack). */
#define MESH_PORTLIST_MAX 256
/* Bytes of a bitmap with one bit per port 0..65535 (port p is bit p & 7 of
 * byte p >> 3). */
#define MESH_PORTLIST_BITMAP_BYTES (65536 / 8)

/* Flags, or-ed together; 0 is the strict numeric form. */
/* Accept port names (the annotations; Linkerd resolves them against the
 * pod's container ports). */
#define MESH_PORTLIST_NAMES 0x1u
/* Skip an invalid item instead of failing the whole list: for lists read
 * from running pods, where one bad item must not change every port. */
#define MESH_PORTLIST_LENIENT 0x2u
/* Port 0 is a port (the proxy's environment takes any u16). */
#define MESH_PORTLIST_ZERO 0x4u
/* An empty item ("1,,2", "1,", and the empty list "") is an invalid item
 * rather than skipped (the proxy's environment has always refused them). */
#define MESH_PORTLIST_NO_EMPTY 0x8u

/* One item: the range lo..hi (lo == hi for one port, name ""), or a port
 * name (name set, lo = hi = 0), which matches nothing until resolved. */
typedef struct mesh_portlist_item {
    unsigned lo;                           /* first port of the range */
    unsigned hi;                           /* last port, inclusive */
    char name[MESH_PORTLIST_NAME_MAX + 1]; /* NUL-terminated name, or "" */
} mesh_portlist_item_t;

/*
 * Reads the next item of a list. *cursor starts at the list (NULL: an empty
 * list) and is advanced past each item; it becomes NULL when the list is
 * done. Returns 1 with *item filled, 0 at the end of the list, or -1 when the
 * item just passed is invalid (*item is then unspecified); the caller may
 * call again to go on after it. With MESH_PORTLIST_LENIENT, invalid items are
 * skipped and -1 is never returned.
 */
int mesh_portlist_next(const char **cursor, unsigned flags, mesh_portlist_item_t *item);

/*
 * Parses the list `s` (NULL: empty) into items[0..cap). Returns the number
 * of items, or -1 on the first invalid item (unless MESH_PORTLIST_LENIENT) or
 * when the list holds more than `cap` valid items (also when lenient: a list
 * that does not fit is refused as a whole, never cut). On -1 the content of
 * items is unspecified.
 */
int mesh_portlist_parse(const char *s, unsigned flags, mesh_portlist_item_t *items, int cap)
    __attribute__((warn_unused_result));

/* true when `port` falls in one of the ranges of items[0..n); named items
 * never match. n <= 0 matches nothing. */
bool mesh_portlist_contains(const mesh_portlist_item_t *items, int n, unsigned port);

/*
 * Sets the bit of every port of every range of `s` in `bitmap`
 * (MESH_PORTLIST_BITMAP_BYTES bytes; bits already set stay set; names set
 * nothing). The whole list is checked first, so on -1 (an invalid item) the
 * bitmap is untouched. bitmap may be NULL: the list is only checked. There is
 * no cap. Returns the number of items, or -1.
 */
int mesh_portlist_bitmap(const char *s, unsigned flags, uint8_t *bitmap)
    __attribute__((warn_unused_result));

/* Whether port `port` is set in a bitmap filled by mesh_portlist_bitmap. */
static inline bool mesh_portlist_bitmap_has(const uint8_t *bitmap, uint16_t port)
{
    return (bitmap[port >> 3] >> (port & 7)) & 1;
}

#endif
