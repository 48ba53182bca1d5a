/* Option tables: every argv form, defaults, collected errors, bounds, env. */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "mesh/duration.h"
#include "mesh/opts.h"

static struct {
    char *addr;
    uint64_t port;
    int64_t delta;
    int64_t timeout;
    bool verbose;
    bool tls;
    mesh_strlist_t ports;
} cfg;

static const mesh_opt_t table[] = {
    {"addr", MESH_OPT_STRING, &cfg.addr, ":8086", "gRPC listen address"},
    {"port", MESH_OPT_UINT, &cfg.port, "4143", "inbound port", .min = 1, .max = 65535},
    {"delta", MESH_OPT_INT, &cfg.delta, "-5", "signed thing", .min = -10, .max = 10},
    {"timeout", MESH_OPT_DURATION, &cfg.timeout, "10s", "connect timeout",
     .min = MESH_NS_PER_MS, .max = MESH_NS_PER_HOUR},
    {"verbose", MESH_OPT_BOOL, &cfg.verbose, "false", "log more"},
    {"tls", MESH_OPT_BOOL, &cfg.tls, "true", "use TLS"},
    {"opaque-ports", MESH_OPT_LIST, &cfg.ports, "25,587, 3306", "opaque ports"},
    {NULL},
};

static void setup(void)
{
    memset(&cfg, 0, sizeof(cfg));
}

static void teardown(void)
{
    mesh_opts_free(table);
}

START_TEST(test_opts_defaults)
{
    mesh_opts_errors_t errs = MESH_OPTS_ERRORS_INIT;
    ck_assert_int_eq(mesh_opts_set_defaults(table, &errs), 0);
    ck_assert_uint_eq(errs.count, 0);
    ck_assert_str_eq(cfg.addr, ":8086");
    ck_assert_uint_eq(cfg.port, 4143);
    ck_assert_int_eq(cfg.delta, -5);
    ck_assert_int_eq(cfg.timeout, 10 * MESH_NS_PER_SEC);
    ck_assert(!cfg.verbose);
    ck_assert(cfg.tls);
    ck_assert_uint_eq(cfg.ports.n, 3);
    ck_assert_str_eq(cfg.ports.items[0], "25");
    ck_assert_str_eq(cfg.ports.items[2], "3306");
    mesh_opts_errors_free(&errs);
}
END_TEST

START_TEST(test_opts_forms)
{
    mesh_opts_errors_t errs = MESH_OPTS_ERRORS_INIT;
    char *argv[] = {"prog", "--addr=127.0.0.1:1", "pos1", "--port", "80", "--verbose", "--tls=false",
                    "-timeout=1h", "-", "--opaque-ports=,a, b ,,", "--delta", "-10", "--", "--port=9", NULL};
    int argc = (int)(sizeof(argv) / sizeof(argv[0])) - 1;
    ck_assert_int_eq(mesh_opts_set_defaults(table, &errs), 0);
    int n = mesh_opts_parse_args(table, argc, argv, &errs);
    ck_assert_msg(n == 3, "n=%d errors: %s", n, errs.text.base ? errs.text.base : "");
    ck_assert_str_eq(argv[1], "pos1");
    ck_assert_str_eq(argv[2], "-");
    ck_assert_str_eq(argv[3], "--port=9");
    ck_assert_str_eq(cfg.addr, "127.0.0.1:1");
    ck_assert_uint_eq(cfg.port, 80);
    ck_assert(cfg.verbose);
    ck_assert(!cfg.tls);
    ck_assert_int_eq(cfg.timeout, MESH_NS_PER_HOUR);
    ck_assert_int_eq(cfg.delta, -10);
    ck_assert_uint_eq(cfg.ports.n, 2);
    ck_assert_str_eq(cfg.ports.items[0], "a");
    ck_assert_str_eq(cfg.ports.items[1], "b");

    /* A bool never eats the next argument; the last value wins. */
    char *argv2[] = {"prog", "--verbose", "false", "--addr=x:1", "--addr", "y:2", NULL};
    ck_assert_int_eq(mesh_opts_parse_args(table, 6, argv2, &errs), 1);
    ck_assert_str_eq(argv2[1], "false");
    ck_assert(cfg.verbose);
    ck_assert_str_eq(cfg.addr, "y:2");
    ck_assert_uint_eq(errs.count, 0);
    mesh_opts_errors_free(&errs);
}
END_TEST

START_TEST(test_opts_all_errors_reported)
{
    mesh_opts_errors_t errs = MESH_OPTS_ERRORS_INIT;
    char *argv[] = {"prog", "--nope=1", "--port=0", "--delta=11", "--timeout=5x", "--verbose=maybe",
                    "--port=abc", "--timeout=2h", "--port=-1", "--addr=ok:1", "--addr", NULL};
    ck_assert_int_eq(mesh_opts_set_defaults(table, &errs), 0);
    int n = mesh_opts_parse_args(table, 11, argv, &errs);
    ck_assert_int_eq(n, MESH_OPTS_ERR);
    ck_assert_uint_eq(errs.count, 9);
    const char *t = errs.text.base;
    ck_assert_ptr_nonnull(strstr(t, "unknown option --nope\n"));
    ck_assert_ptr_nonnull(strstr(t, "--port: 0 is out of range [1, 65535]\n"));
    ck_assert_ptr_nonnull(strstr(t, "--delta: 11 is out of range [-10, 10]\n"));
    ck_assert_ptr_nonnull(strstr(t, "--timeout: \"5x\": missing or unknown unit"));
    ck_assert_ptr_nonnull(strstr(t, "--verbose: \"maybe\" is not a boolean"));
    ck_assert_ptr_nonnull(strstr(t, "--port: \"abc\" is not an unsigned integer\n"));
    ck_assert_ptr_nonnull(strstr(t, "--timeout: 2h is out of range [1ms, 1h0m0s]\n"));
    ck_assert_ptr_nonnull(strstr(t, "--port: \"-1\" is not an unsigned integer\n"));
    ck_assert_ptr_nonnull(strstr(t, "--addr: missing value\n"));
    /* Good values among the bad ones are still applied. */
    ck_assert_str_eq(cfg.addr, "ok:1");
    ck_assert_uint_eq(cfg.port, 4143);
    mesh_opts_errors_free(&errs);
}
END_TEST

START_TEST(test_opts_bad_default_and_help)
{
    static int64_t v;
    static const mesh_opt_t bad[] = {
        {"limit", MESH_OPT_INT, &v, "100", "a limit", .min = 0, .max = 10},
        {"wait", MESH_OPT_DURATION, &v, "10", "a wait"},
        {NULL},
    };
    mesh_opts_errors_t errs = MESH_OPTS_ERRORS_INIT;
    ck_assert_int_eq(mesh_opts_set_defaults(bad, &errs), MESH_OPTS_ERR);
    ck_assert_uint_eq(errs.count, 2);
    ck_assert_ptr_nonnull(strstr(errs.text.base, "default of limit: 100 is out of range [0, 10]"));

    char *argv[] = {"prog", "--nope", "-h", NULL};
    ck_assert_int_eq(mesh_opts_parse_args(table, 3, argv, &errs), MESH_OPTS_HELP);
    mesh_buf_t b = MESH_BUF_INIT;
    ck_assert_int_eq(mesh_opts_help(table, &b), 0);
    ck_assert_ptr_nonnull(strstr(b.base, "  --port=<uint>\n        inbound port [1..65535] (default 4143)\n"));
    ck_assert_ptr_nonnull(strstr(b.base, "  --verbose\n        log more (default false)\n"));
    ck_assert_ptr_nonnull(strstr(b.base, "--timeout=<duration>\n        connect timeout [1ms..1h0m0s] (default 10s)"));
    mesh_buf_free(&b);
    mesh_opts_errors_free(&errs);
}
END_TEST

/* A fake environment: pairs of name, value. */
static const char *const fake_env[] = {
    "LINKERD2_PROXY_ADMIN_LISTEN_ADDR", "0.0.0.0:4191",
    "LINKERD2_PROXY_OUTBOUND_CONNECT_TIMEOUT", "1000ms",
    "LINKERD2_PROXY_INBOUND_PORTS", "80,9090",
    "LINKERD2_PROXY_INGRESS_MODE", "",
    "LINKERD2_PROXY_LOG_FORMAT_JSON", "yes",
    "LINKERD2_PROXY_OUTBOUND_DETECT_TIMEOUT", "365d",
    NULL,
};

static const char *fake_lookup(const char *name, void *ud)
{
    const char *const *env = ud;
    for (size_t i = 0; env[i] != NULL; i += 2)
        if (strcmp(env[i], name) == 0)
            return env[i + 1];
    return NULL;
}

START_TEST(test_opts_env)
{
    static struct {
        char *admin;
        int64_t connect, detect;
        mesh_strlist_t ports;
        bool ingress, json;
        char *unset;
    } e;
    const mesh_opt_t env_table[] = {
        {"LINKERD2_PROXY_ADMIN_LISTEN_ADDR", MESH_OPT_STRING, &e.admin, "127.0.0.1:4191", ""},
        {"LINKERD2_PROXY_OUTBOUND_CONNECT_TIMEOUT", MESH_OPT_DURATION, &e.connect, "1s", ""},
        {"LINKERD2_PROXY_OUTBOUND_DETECT_TIMEOUT", MESH_OPT_DURATION, &e.detect, "10s", ""},
        {"LINKERD2_PROXY_INBOUND_PORTS", MESH_OPT_LIST, &e.ports, NULL, ""},
        {"LINKERD2_PROXY_INGRESS_MODE", MESH_OPT_BOOL, &e.ingress, "false", ""},
        {"LINKERD2_PROXY_LOG_FORMAT_JSON", MESH_OPT_BOOL, &e.json, "false", ""},
        {"LINKERD2_PROXY_UNSET", MESH_OPT_STRING, &e.unset, "dflt", ""},
        {NULL},
    };
    mesh_opts_errors_t errs = MESH_OPTS_ERRORS_INIT;
    ck_assert_int_eq(mesh_opts_set_defaults(env_table, &errs), 0);
    ck_assert_int_eq(mesh_opts_parse_env(env_table, fake_lookup, (void *)fake_env, &errs), MESH_OPTS_ERR);
    ck_assert_uint_eq(errs.count, 1);
    ck_assert_str_eq(errs.text.base, "LINKERD2_PROXY_LOG_FORMAT_JSON: \"yes\" is not a boolean (true or false)\n");
    ck_assert_str_eq(e.admin, "0.0.0.0:4191");
    ck_assert_int_eq(e.connect, MESH_NS_PER_SEC);
    ck_assert_int_eq(e.detect, 365 * MESH_NS_PER_DAY);
    ck_assert_uint_eq(e.ports.n, 2);
    ck_assert_str_eq(e.ports.items[1], "9090");
    ck_assert(!e.ingress); /* empty counts as unset */
    ck_assert_str_eq(e.unset, "dflt");
    mesh_opts_free(env_table);
    ck_assert_ptr_null(e.admin);
    ck_assert_uint_eq(e.ports.n, 0);
    mesh_opts_errors_free(&errs);
}
END_TEST

Suite *opts_suite(void)
{
    Suite *s = suite_create("opts");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_opts_defaults);
    tcase_add_test(tc, test_opts_forms);
    tcase_add_test(tc, test_opts_all_errors_reported);
    tcase_add_test(tc, test_opts_bad_default_and_help);
    tcase_add_test(tc, test_opts_env);
    suite_add_tcase(s, tc);
    return s;
}
