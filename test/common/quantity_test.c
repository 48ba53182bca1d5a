/* Kubernetes quantities: exact milli-values, rounding up, limits. */
#include <check.h>
#include <stdint.h>

#include "mesh/quantity.h"

START_TEST(test_quantity_values)
{
    static const struct {
        const char *s;
        uint64_t milli;
    } ok[] = {
        {"0", 0},          {"1", 1000},          {"900m", 900},     {"100m", 100},
        {"1.5", 1500},     {"0.0001", 1},        {"1n", 1},         {"1500u", 2},
        {"2k", 2000000},   {"64Mi", 67108864000}, {"1e3", 1000000}, {"1E-3", 1},
        {"+5", 5000},      {"007", 7000},        {".5", 500},       {"10Gi", 10737418240000},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        uint64_t m = 12345;
        ck_assert_msg(mesh_quantity_milli(ok[i].s, &m) == 0, "%s refused", ok[i].s);
        ck_assert_msg(m == ok[i].milli, "%s: got %llu want %llu", ok[i].s, (unsigned long long)m,
                      (unsigned long long)ok[i].milli);
    }
}
END_TEST

START_TEST(test_quantity_refused)
{
    static const char *const bad[] = {"", "-1", "m", "1x", "1.2.3", "1e", "1e19", "1 m",
                                      "1Ki ", "1234567890123456789", "20Ei", "abc", "1e+"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint64_t m;
        ck_assert_msg(mesh_quantity_milli(bad[i], &m) == -1, "\"%s\" accepted", bad[i]);
    }
}
END_TEST

Suite *quantity_suite(void)
{
    Suite *s = suite_create("quantity");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_quantity_values);
    tcase_add_test(tc, test_quantity_refused);
    suite_add_tcase(s, tc);
    return s;
}
