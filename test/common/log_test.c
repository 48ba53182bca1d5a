/* Logging: level filters, escaping, one line per event. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mesh/log.h"
#include "mesh/mem.h"

START_TEST(test_log_filter)
{
    ck_assert_int_eq(mesh_log_set_filter("warn,linkerd=info,linkerd_proxy=debug"), 0);
    ck_assert_int_eq(mesh_log_level, MESH_LOG_DEBUG);
    ck_assert_int_eq(mesh_log_set_filter("error"), 0);
    ck_assert_int_eq(mesh_log_level, MESH_LOG_ERROR);
    ck_assert_int_eq(mesh_log_set_filter("nonsense"), -1);
    ck_assert_int_eq(mesh_log_level, MESH_LOG_ERROR);
    ck_assert_int_eq(mesh_log_set_filter(""), -1);
}
END_TEST

START_TEST(test_log_escape)
{
    char out[64];
    mesh_log_escape(out, sizeof(out), "a\nb\x01\"c", MESH_LOG_PLAIN);
    ck_assert_str_eq(out, "a\\nb\\x01\"c");
    mesh_log_escape(out, sizeof(out), "a\nb\x01\"c\\", MESH_LOG_JSON);
    ck_assert_str_eq(out, "a\\nb\\u0001\\\"c\\\\");
    /* Truncation never splits an escape and always terminates. */
    mesh_log_escape(out, 4, "\n\n\n", MESH_LOG_PLAIN);
    ck_assert_str_eq(out, "\\n");
}
END_TEST

START_TEST(test_log_json_line)
{
    int fds[2];
    char buf[1024];
    ck_assert_int_eq(pipe(fds), 0);
    mesh_log_set_fd(fds[1]);
    mesh_log_set_format(MESH_LOG_JSON);
    mesh_log_set_filter("info");
    mesh_log_debug("t", "hidden");
    mesh_log_info("t", "hello %s", "x\ny");
    ssize_t n = read(fds[0], buf, sizeof(buf) - 1);
    ck_assert_int_gt(n, 0);
    buf[n] = 0;
    ck_assert_ptr_nonnull(strstr(buf, "\"level\":\"INFO\""));
    ck_assert_ptr_nonnull(strstr(buf, "\"message\":\"hello x\\ny\"}\n"));
    ck_assert_ptr_null(strstr(buf, "hidden"));
    ck_assert_ptr_eq(strchr(buf, '\n'), buf + n - 1);
    mesh_log_set_fd(2);
    close(fds[0]);
    close(fds[1]);
}
END_TEST

START_TEST(test_mem_fail_after)
{
    mesh_mem_fail_after(1);
    void *a = mesh_malloc(8);
    void *b = mesh_malloc(8);
    mesh_mem_fail_after(-1);
    void *c = mesh_malloc(8);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_null(b);
    ck_assert_ptr_nonnull(c);
    mesh_free(a);
    mesh_free(c);
}
END_TEST

Suite *log_suite(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_log_filter);
    tcase_add_test(tc, test_log_escape);
    tcase_add_test(tc, test_log_json_line);
    tcase_add_test(tc, test_mem_fail_after);
    suite_add_tcase(s, tc);
    return s;
}
