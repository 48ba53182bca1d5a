/* Port lists: every form, names, bounds, caps, flags, bitmap, iterator. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "mesh/portlist.h"

#define N_ITEMS 8

/* Parses `s` and renders the items back as "lo-hi" / "name" joined by ','
 * into out; returns parse's result. */
static int render(const char *s, unsigned flags, char *out, size_t cap)
{
    mesh_portlist_item_t it[N_ITEMS];
    int n = mesh_portlist_parse(s, flags, it, N_ITEMS);
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        int w = it[i].name[0] ? snprintf(out + len, cap - len, "%s%s", i ? "," : "", it[i].name)
                              : snprintf(out + len, cap - len, "%s%u-%u", i ? "," : "", it[i].lo,
                                         it[i].hi);
        ck_assert(w > 0 && (size_t)w < cap - len);
        len += (size_t)w;
    }
    return n;
}

START_TEST(test_portlist_forms)
{
    static const struct {
        const char *s;
        unsigned flags;
        int n;
        const char *items;
    } ok[] = {
        {"25,443,1000-2000", 0, 3, "25-25,443-443,1000-2000"},
        {" 25 ,\t443\n, 1000-2000 ", 0, 3, "25-25,443-443,1000-2000"},
        {"", 0, 0, ""},
        {" , ,,", 0, 0, ""},
        {"1,,2,", 0, 2, "1-1,2-2"},
        {"1", 0, 1, "1-1"},
        {"65535", 0, 1, "65535-65535"},
        {"1-65535", 0, 1, "1-65535"},
        {"7-7", 0, 1, "7-7"},
        {"0080", 0, 1, "80-80"},
        {"000000000000443", 0, 1, "443-443"},
        {"0", MESH_PORTLIST_ZERO, 1, "0-0"},
        {"0-10", MESH_PORTLIST_ZERO, 1, "0-10"},
        {"http, 8080-8090,admin-http", MESH_PORTLIST_NAMES, 3, "http,8080-8090,admin-http"},
        {"a1,1a,z", MESH_PORTLIST_NAMES, 3, "a1,1a,z"},
        {"abcdefghijklmno", MESH_PORTLIST_NAMES, 1, "abcdefghijklmno"},
        {"1-a", MESH_PORTLIST_NAMES, 1, "1-a"},
    };
    char out[256];
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        int n = render(ok[i].s, ok[i].flags, out, sizeof(out));
        ck_assert_msg(n == ok[i].n, "\"%s\": %d items, want %d", ok[i].s, n, ok[i].n);
        ck_assert_msg(strcmp(out, ok[i].items) == 0, "\"%s\": got %s want %s", ok[i].s, out,
                      ok[i].items);
    }
    mesh_portlist_item_t it[1];
    ck_assert_int_eq(mesh_portlist_parse(NULL, 0, it, 1), 0);
}
END_TEST

START_TEST(test_portlist_invalid)
{
    static const struct {
        const char *s;
        unsigned flags;
    } bad[] = {
        {"0", 0},
        {"0-5", 0},
        {"65536", 0},
        {"65536", MESH_PORTLIST_ZERO},
        {"1-65536", 0},
        {"99999999999999999999", 0},
        {"20-10", 0},
        {"20-10", MESH_PORTLIST_NAMES},
        {"1000:2000", 0},
        {"1000:2000", MESH_PORTLIST_NAMES},
        {"-5", 0},
        {"5-", 0},
        {"-", 0},
        {"1-2-3", 0},
        {"+5", 0},
        {"1 - 2", 0},
        {"1- 2", 0},
        {"80x", 0},
        {"8 0", 0},
        {"25,http", 0},
        {"http", 0},
        {"25,abc,443", 0},
        {"Http", MESH_PORTLIST_NAMES},
        {"-http", MESH_PORTLIST_NAMES},
        {"http-", MESH_PORTLIST_NAMES},
        {"ht--tp", MESH_PORTLIST_NAMES},
        {"1-2-3", MESH_PORTLIST_NAMES},
        {"abcdefghijklmnop", MESH_PORTLIST_NAMES},
        {"my_port", MESH_PORTLIST_NAMES},
        {"h.t", MESH_PORTLIST_NAMES},
        {"", MESH_PORTLIST_NO_EMPTY},
        {"1,,2", MESH_PORTLIST_NO_EMPTY},
        {"1,", MESH_PORTLIST_NO_EMPTY},
        {" ,1", MESH_PORTLIST_NO_EMPTY},
    };
    mesh_portlist_item_t it[N_ITEMS];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(mesh_portlist_parse(bad[i].s, bad[i].flags, it, N_ITEMS) == -1,
                      "\"%s\" (flags %u) accepted", bad[i].s, bad[i].flags);
    }
    /* Digits only: "1-2-3" is no name either, it has no letter. */
    ck_assert_int_eq(mesh_portlist_parse("1-2-3x", MESH_PORTLIST_NAMES, it, N_ITEMS), 1);
    ck_assert_str_eq(it[0].name, "1-2-3x");
    /* NO_EMPTY still trims blanks around a real item. */
    ck_assert_int_eq(mesh_portlist_parse(" 1 , 2 ", MESH_PORTLIST_NO_EMPTY, it, N_ITEMS), 2);
}
END_TEST

START_TEST(test_portlist_cap)
{
    mesh_portlist_item_t it[3];
    ck_assert_int_eq(mesh_portlist_parse("1,2,3", 0, it, 3), 3);
    ck_assert_int_eq(mesh_portlist_parse("1,2,3,4", 0, it, 3), -1);
    /* Empty and (lenient) skipped items do not count against the cap. */
    ck_assert_int_eq(mesh_portlist_parse("1,,2,,3,,", 0, it, 3), 3);
    ck_assert_int_eq(mesh_portlist_parse("1,x,2,y,3", MESH_PORTLIST_LENIENT, it, 3), 3);
    /* ... but a lenient list that does not fit is refused, not cut. */
    ck_assert_int_eq(mesh_portlist_parse("1,2,3,4", MESH_PORTLIST_LENIENT, it, 3), -1);
    ck_assert_int_eq(mesh_portlist_parse("", 0, it, 0), 0);
    ck_assert_int_eq(mesh_portlist_parse("1", 0, it, 0), -1);

    /* The named cap holds exactly MESH_PORTLIST_MAX items. */
    static mesh_portlist_item_t big[MESH_PORTLIST_MAX];
    char list[MESH_PORTLIST_MAX * 7 + 16];
    size_t len = 0;
    for (int i = 1; i <= MESH_PORTLIST_MAX; i++)
        len += (size_t)snprintf(list + len, sizeof(list) - len, "%d,", i);
    ck_assert_int_eq(mesh_portlist_parse(list, 0, big, MESH_PORTLIST_MAX), MESH_PORTLIST_MAX);
    ck_assert_uint_eq(big[MESH_PORTLIST_MAX - 1].lo, MESH_PORTLIST_MAX);
    snprintf(list + len, sizeof(list) - len, "9999");
    ck_assert_int_eq(mesh_portlist_parse(list, 0, big, MESH_PORTLIST_MAX), -1);
}
END_TEST

START_TEST(test_portlist_lenient)
{
    mesh_portlist_item_t it[N_ITEMS];
    char out[256];
    const unsigned L = MESH_PORTLIST_LENIENT;
    ck_assert_int_eq(render("25,abc,0,65536,20-10,1000:2000,443", L, out, sizeof(out)), 2);
    ck_assert_str_eq(out, "25-25,443-443");
    ck_assert_int_eq(render("http, bad_name ,9-10", L | MESH_PORTLIST_NAMES, out, sizeof(out)), 2);
    ck_assert_str_eq(out, "http,9-10");
    ck_assert_int_eq(mesh_portlist_parse("x,y", L, it, N_ITEMS), 0);
    /* Lenient and NO_EMPTY: the empty item is skipped like any bad one. */
    ck_assert_int_eq(mesh_portlist_parse("1,,2", L | MESH_PORTLIST_NO_EMPTY, it, N_ITEMS), 2);
}
END_TEST

START_TEST(test_portlist_next)
{
    mesh_portlist_item_t it;
    const char *cur = "5, bad ,7-8";
    ck_assert_int_eq(mesh_portlist_next(&cur, 0, &it), 1);
    ck_assert_uint_eq(it.lo, 5);
    ck_assert_int_eq(mesh_portlist_next(&cur, 0, &it), -1); /* " bad " */
    ck_assert_int_eq(mesh_portlist_next(&cur, 0, &it), 1);  /* goes on after it */
    ck_assert_uint_eq(it.lo, 7);
    ck_assert_uint_eq(it.hi, 8);
    ck_assert_ptr_null(cur);
    ck_assert_int_eq(mesh_portlist_next(&cur, 0, &it), 0);
    ck_assert_int_eq(mesh_portlist_next(&cur, 0, &it), 0);

    /* The trailing empty item is seen (and refused) only with NO_EMPTY. */
    cur = "1,";
    ck_assert_int_eq(mesh_portlist_next(&cur, MESH_PORTLIST_NO_EMPTY, &it), 1);
    ck_assert_int_eq(mesh_portlist_next(&cur, MESH_PORTLIST_NO_EMPTY, &it), -1);
    ck_assert_int_eq(mesh_portlist_next(&cur, MESH_PORTLIST_NO_EMPTY, &it), 0);
    cur = "1,";
    ck_assert_int_eq(mesh_portlist_next(&cur, 0, &it), 1);
    ck_assert_int_eq(mesh_portlist_next(&cur, 0, &it), 0);
}
END_TEST

START_TEST(test_portlist_contains)
{
    mesh_portlist_item_t it[N_ITEMS];
    int n = mesh_portlist_parse("25, http ,1000-2000,65535", MESH_PORTLIST_NAMES, it, N_ITEMS);
    ck_assert_int_eq(n, 4);
    ck_assert(mesh_portlist_contains(it, n, 25));
    ck_assert(!mesh_portlist_contains(it, n, 24));
    ck_assert(!mesh_portlist_contains(it, n, 26));
    ck_assert(mesh_portlist_contains(it, n, 1000));
    ck_assert(mesh_portlist_contains(it, n, 1500));
    ck_assert(mesh_portlist_contains(it, n, 2000));
    ck_assert(!mesh_portlist_contains(it, n, 2001));
    ck_assert(mesh_portlist_contains(it, n, 65535));
    /* A name is unresolved: its lo = hi = 0 never matches port 0. */
    ck_assert(!mesh_portlist_contains(it, n, 0));
    ck_assert(!mesh_portlist_contains(it, n, 65536));
    ck_assert(!mesh_portlist_contains(it, 0, 25));
    ck_assert(!mesh_portlist_contains(it, -1, 25));
}
END_TEST

START_TEST(test_portlist_bitmap)
{
    static uint8_t map[MESH_PORTLIST_BITMAP_BYTES];
    memset(map, 0, sizeof(map));
    ck_assert_int_eq(mesh_portlist_bitmap("25,443,1000-2000", 0, map), 3);
    ck_assert(mesh_portlist_bitmap_has(map, 25));
    ck_assert(mesh_portlist_bitmap_has(map, 443));
    ck_assert(mesh_portlist_bitmap_has(map, 1000));
    ck_assert(mesh_portlist_bitmap_has(map, 1500));
    ck_assert(mesh_portlist_bitmap_has(map, 2000));
    ck_assert(!mesh_portlist_bitmap_has(map, 2001));
    ck_assert(!mesh_portlist_bitmap_has(map, 24));
    ck_assert(!mesh_portlist_bitmap_has(map, 0));
    /* Bits accumulate; an invalid list leaves the map as it was. */
    ck_assert_int_eq(mesh_portlist_bitmap("7,9-3", 0, map), -1);
    ck_assert(!mesh_portlist_bitmap_has(map, 7));
    ck_assert_int_eq(mesh_portlist_bitmap("7", 0, map), 1);
    ck_assert(mesh_portlist_bitmap_has(map, 7));
    ck_assert(mesh_portlist_bitmap_has(map, 25));
    /* Names set nothing; the whole range and port 0 on request. */
    memset(map, 0, sizeof(map));
    ck_assert_int_eq(mesh_portlist_bitmap("http", MESH_PORTLIST_NAMES, map), 1);
    for (size_t i = 0; i < sizeof(map); i++)
        ck_assert_uint_eq(map[i], 0);
    ck_assert_int_eq(mesh_portlist_bitmap("0-65535", MESH_PORTLIST_ZERO, map), 1);
    for (size_t i = 0; i < sizeof(map); i++)
        ck_assert_uint_eq(map[i], 0xff);
    /* No cap on bitmap lists. */
    static char list[MESH_PORTLIST_MAX * 4 * 6];
    size_t len = 0;
    for (int i = 1; i <= MESH_PORTLIST_MAX * 4; i++)
        len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%d", i > 1 ? "," : "", i);
    ck_assert_int_eq(mesh_portlist_bitmap(list, 0, map), MESH_PORTLIST_MAX * 4);
    /* Without a bitmap, only the check. */
    ck_assert_int_eq(mesh_portlist_bitmap("1,2-3,http", MESH_PORTLIST_NAMES, NULL), 3);
    ck_assert_int_eq(mesh_portlist_bitmap("1,x", 0, NULL), -1);
}
END_TEST

Suite *portlist_suite(void)
{
    Suite *s = suite_create("portlist");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_portlist_forms);
    tcase_add_test(tc, test_portlist_invalid);
    tcase_add_test(tc, test_portlist_cap);
    tcase_add_test(tc, test_portlist_lenient);
    tcase_add_test(tc, test_portlist_next);
    tcase_add_test(tc, test_portlist_contains);
    tcase_add_test(tc, test_portlist_bitmap);
    suite_add_tcase(s, tc);
    return s;
}
