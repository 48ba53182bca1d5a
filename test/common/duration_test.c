/* Go-style durations: accepted and rejected forms, overflow, formatting. */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "mesh/duration.h"

static int64_t parse_ok(const char *s)
{
    int64_t ns = -12345;
    int rc = mesh_duration_parse(s, &ns);
    ck_assert_msg(rc == 0, "\"%s\": %s", s, mesh_duration_strerror(rc));
    return ns;
}

START_TEST(test_duration_good)
{
    ck_assert_int_eq(parse_ok("0"), 0);
    ck_assert_int_eq(parse_ok("0s"), 0);
    ck_assert_int_eq(parse_ok("24h0m0s"), 24 * MESH_NS_PER_HOUR);
    ck_assert_int_eq(parse_ok("1h30m"), 90 * MESH_NS_PER_MIN);
    ck_assert_int_eq(parse_ok("10000ms"), 10 * MESH_NS_PER_SEC);
    ck_assert_int_eq(parse_ok("1.5s"), 1500 * MESH_NS_PER_MS);
    ck_assert_int_eq(parse_ok("300us"), 300 * MESH_NS_PER_US);
    ck_assert_int_eq(parse_ok("300\xc2\xb5s"), 300 * MESH_NS_PER_US);
    ck_assert_int_eq(parse_ok("300\xce\xbcs"), 300 * MESH_NS_PER_US);
    ck_assert_int_eq(parse_ok("42ns"), 42);
    ck_assert_int_eq(parse_ok("365d"), 365 * MESH_NS_PER_DAY);
    ck_assert_int_eq(parse_ok(".5m"), 30 * MESH_NS_PER_SEC);
    ck_assert_int_eq(parse_ok("5.s"), 5 * MESH_NS_PER_SEC);
    ck_assert_int_eq(parse_ok("-1m30s"), -90 * MESH_NS_PER_SEC);
    ck_assert_int_eq(parse_ok("+2h"), 2 * MESH_NS_PER_HOUR);
    ck_assert_int_eq(parse_ok("1.0000000019s"), 1000000001); /* finer than 1ns: truncated */
    ck_assert_int_eq(parse_ok("2562047h47m16.854775807s"), INT64_MAX);
    ck_assert_int_eq(parse_ok("-2562047h47m16.854775808s"), INT64_MIN);
}
END_TEST

START_TEST(test_duration_bad)
{
    static const struct {
        const char *in;
        int err;
    } cases[] = {
        {"", MESH_DURATION_ERR_EMPTY},
        {"-", MESH_DURATION_ERR_EMPTY},
        {"10", MESH_DURATION_ERR_UNIT},
        {"1h30", MESH_DURATION_ERR_UNIT},
        {"5x", MESH_DURATION_ERR_UNIT},
        {"5 s", MESH_DURATION_ERR_UNIT},
        {"5sec", MESH_DURATION_ERR_UNIT},
        {"1.2.3s", MESH_DURATION_ERR_UNIT},
        {"s", MESH_DURATION_ERR_SYNTAX},
        {".s", MESH_DURATION_ERR_SYNTAX},
        {" 1s", MESH_DURATION_ERR_SYNTAX},
        {"--1s", MESH_DURATION_ERR_SYNTAX},
        {"2562047h47m16.854775808s", MESH_DURATION_ERR_OVERFLOW},
        {"106752d", MESH_DURATION_ERR_OVERFLOW},
        {"9223372036854775808ns", MESH_DURATION_ERR_OVERFLOW},
        {"99999999999999999999999s", MESH_DURATION_ERR_OVERFLOW},
        {"2562047h2562047h", MESH_DURATION_ERR_OVERFLOW},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t ns = 77;
        int rc = mesh_duration_parse(cases[i].in, &ns);
        ck_assert_msg(rc == cases[i].err, "\"%s\": got %d want %d", cases[i].in, rc, cases[i].err);
        ck_assert_int_eq(ns, 77);
    }
    int64_t ns;
    ck_assert_int_eq(mesh_duration_parse(NULL, &ns), MESH_DURATION_ERR_EMPTY);
    ck_assert_str_ne(mesh_duration_strerror(MESH_DURATION_ERR_OVERFLOW), mesh_duration_strerror(MESH_DURATION_ERR_UNIT));
}
END_TEST

START_TEST(test_duration_format)
{
    static const struct {
        int64_t ns;
        const char *out;
    } cases[] = {
        {0, "0s"},
        {1, "1ns"},
        {1500, "1.5\xc2\xb5s"},
        {10 * MESH_NS_PER_MS, "10ms"},
        {1500 * MESH_NS_PER_MS, "1.5s"},
        {90 * MESH_NS_PER_SEC, "1m30s"},
        {24 * MESH_NS_PER_HOUR, "24h0m0s"},
        {MESH_NS_PER_HOUR + 1, "1h0m0.000000001s"},
        {-90 * MESH_NS_PER_SEC, "-1m30s"},
        {INT64_MAX, "2562047h47m16.854775807s"},
        {INT64_MIN, "-2562047h47m16.854775808s"},
    };
    char buf[MESH_DURATION_FMT_MAX];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = mesh_duration_format(cases[i].ns, buf, sizeof(buf));
        ck_assert_str_eq(buf, cases[i].out);
        ck_assert_uint_eq(n, strlen(cases[i].out));
    }
    /* Truncation keeps the terminator and reports the full length. */
    char small[4];
    ck_assert_uint_eq(mesh_duration_format(24 * MESH_NS_PER_HOUR, small, sizeof(small)), 7);
    ck_assert_str_eq(small, "24h");
}
END_TEST

START_TEST(test_duration_round_trip)
{
    /* A spread of values across every unit range, including odd remainders. */
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    char buf[MESH_DURATION_FMT_MAX];
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int64_t v = (int64_t)(x >> (i % 63));
        if (i & 1)
            v = -v;
        mesh_duration_format(v, buf, sizeof(buf));
        int64_t back = 0;
        ck_assert_msg(mesh_duration_parse(buf, &back) == 0, "%s", buf);
        ck_assert_msg(back == v, "%lld -> %s -> %lld", (long long)v, buf, (long long)back);
    }
}
END_TEST

Suite *duration_suite(void)
{
    Suite *s = suite_create("duration");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_duration_good);
    tcase_add_test(tc, test_duration_bad);
    tcase_add_test(tc, test_duration_format);
    tcase_add_test(tc, test_duration_round_trip);
    suite_add_tcase(s, tc);
    return s;
}
