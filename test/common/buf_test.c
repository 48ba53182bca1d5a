/* Growable buffer: append, printf, consume, steal, failure paths. */
#include <check.h>
#include <string.h>

#include "mesh/buf.h"
#include "mesh/mem.h"

START_TEST(test_buf_append_consume)
{
    mesh_buf_t b = MESH_BUF_INIT;
    for (int i = 0; i < 1000; i++)
        ck_assert_int_eq(mesh_buf_appendf(&b, "%d,", i), 0);
    ck_assert_int_eq(strncmp(b.base, "0,1,2,", 6), 0);
    ck_assert_uint_eq(strlen(b.base), b.len);
    mesh_buf_consume(&b, 4);
    ck_assert_int_eq(strncmp(b.base, "2,3,", 4), 0);
    char big[600];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    mesh_buf_reset(&b);
    ck_assert_int_eq(mesh_buf_appendf(&b, "<%s>", big), 0);
    ck_assert_uint_eq(b.len, 601);
    ck_assert_int_eq(b.base[600], '>');
    char *s = mesh_buf_steal(&b);
    ck_assert_ptr_null(b.base);
    ck_assert_uint_eq(strlen(s), 601);
    mesh_free(s);
    mesh_buf_free(&b);
}
END_TEST

START_TEST(test_buf_oom_keeps_contents)
{
    mesh_buf_t b = MESH_BUF_INIT;
    ck_assert_int_eq(mesh_buf_appends(&b, "keep"), 0);
    mesh_mem_fail_after(0);
    char big[1000] = {0};
    ck_assert_int_eq(mesh_buf_append(&b, big, sizeof(big)), -1);
    mesh_mem_fail_after(-1);
    ck_assert_str_eq(b.base, "keep");
    ck_assert_int_eq(mesh_buf_reserve(&b, MESH_BUF_MAX), -1);
    mesh_buf_free(&b);
}
END_TEST

Suite *buf_suite(void)
{
    Suite *s = suite_create("buf");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_buf_append_consume);
    tcase_add_test(tc, test_buf_oom_keeps_contents);
    suite_add_tcase(s, tc);
    return s;
}
