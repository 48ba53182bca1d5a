/* The subcommand table and `cmesh version`. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static int run_capture(int argc, char **argv, char **out, char **err)
{
    size_t on = 0, en = 0;
    FILE *o = open_memstream(out, &on);
    FILE *e = open_memstream(err, &en);
    cli_io_t io = {stdin, o, e};
    int rc = cli_main(argc, argv, &io);
    fclose(o);
    fclose(e);
    return rc;
}

START_TEST(test_cli_version)
{
    char *out, *err;
    char *argv[] = {"cmesh", "version", NULL};
    ck_assert_int_eq(run_capture(2, argv, &out, &err), 0);
    ck_assert_msg(strncmp(out, "Client version: ", 16) == 0, "got %s", out);
    free(out);
    free(err);
    char *argv2[] = {"cmesh", "version", "--short", NULL};
    ck_assert_int_eq(run_capture(3, argv2, &out, &err), 0);
    ck_assert_str_eq(out, CMESH_VERSION "\n");
    free(out);
    free(err);
}
END_TEST

START_TEST(test_cli_unknown)
{
    char *out, *err;
    char *argv[] = {"cmesh", "nosuch", NULL};
    ck_assert_int_eq(run_capture(2, argv, &out, &err), 2);
    ck_assert_ptr_nonnull(strstr(err, "unknown command \"nosuch\""));
    ck_assert_ptr_nonnull(strstr(err, "version"));
    free(out);
    free(err);
    char *argv2[] = {"cmesh", "version", "--bogus", NULL};
    ck_assert_int_eq(run_capture(3, argv2, &out, &err), 2);
    free(out);
    free(err);
}
END_TEST

START_TEST(test_cli_table_unique)
{
    for (const cli_cmd_t *a = cli_commands; a->name; a++) {
        ck_assert_ptr_nonnull(a->run);
        ck_assert_ptr_eq(cli_find(a->name), a);
    }
}
END_TEST

Suite *cli_suite(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_cli_version);
    tcase_add_test(tc, test_cli_unknown);
    tcase_add_test(tc, test_cli_table_unique);
    suite_add_tcase(s, tc);
    return s;
}
