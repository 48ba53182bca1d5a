/* cmesh-proxy-init: flag parsing and the iptables plan. The expected rules are
 * written by hand from the linkerd-init program (linkerd.md §4.4). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/buf.h"
#include "px/init.h"

/* The injector's default arguments (linkerd.md §4.4). */
static char *default_args[] = {
    "cmesh-proxy-init", "--firewall-bin-path", "iptables-nft", "--firewall-save-bin-path",
    "iptables-nft-save", "--ipv6=false", "--incoming-proxy-port", "4143",
    "--outgoing-proxy-port", "4140", "--proxy-uid", "2102", "--inbound-ports-to-ignore",
    "4190,4191,4567,4568", "--outbound-ports-to-ignore", "4567,4568", NULL};

static char *plan_text(px_init_config_t *cfg, int v6)
{
    px_init_plan_t *plan = calloc(1, sizeof(*plan));
    mesh_buf_t out = MESH_BUF_INIT;
    ck_assert_int_eq(px_init_build(cfg, v6, plan), 0);
    ck_assert_int_eq(px_init_plan_format(plan, &out), 0);
    px_init_plan_free(plan);
    free(plan);
    return mesh_buf_steal(&out);
}

START_TEST(test_init_default_plan)
{
    px_init_config_t cfg;
    mesh_buf_t err = MESH_BUF_INIT;
    px_init_config_init(&cfg);
    ck_assert_int_eq(px_init_parse_args(&cfg, 16, default_args, &err, stdout), 0);
    char *t = plan_text(&cfg, 0);
    const char *want =
        "iptables-nft -t nat -N PROXY_INIT_REDIRECT\n"
        "iptables-nft -t nat -F PROXY_INIT_REDIRECT\n"
        "iptables-nft -t nat -D PREROUTING -j PROXY_INIT_REDIRECT -m comment --comment proxy-init/install-proxy-init-prerouting\n"
        "iptables-nft -t nat -N PROXY_INIT_OUTPUT\n"
        "iptables-nft -t nat -F PROXY_INIT_OUTPUT\n"
        "iptables-nft -t nat -D OUTPUT -j PROXY_INIT_OUTPUT -m comment --comment proxy-init/install-proxy-init-output\n"
        "iptables-nft -t nat -A PROXY_INIT_REDIRECT -p tcp --match multiport --dports 4190,4191,4567,4568 -j RETURN -m comment --comment proxy-init/ignore-port-4190,4191,4567,4568\n"
        "iptables-nft -t nat -A PROXY_INIT_REDIRECT -p tcp -j REDIRECT --to-port 4143 -m comment --comment proxy-init/redirect-all-incoming-to-proxy-port\n"
        "iptables-nft -t nat -A PREROUTING -j PROXY_INIT_REDIRECT -m comment --comment proxy-init/install-proxy-init-prerouting\n"
        "iptables-nft -t nat -A PROXY_INIT_OUTPUT -m owner --uid-owner 2102 -j RETURN -m comment --comment proxy-init/ignore-proxy-user-id\n"
        "iptables-nft -t nat -A PROXY_INIT_OUTPUT -o lo -j RETURN -m comment --comment proxy-init/ignore-loopback\n"
        "iptables-nft -t nat -A PROXY_INIT_OUTPUT -p tcp --match multiport --dports 4567,4568 -j RETURN -m comment --comment proxy-init/ignore-port-4567,4568\n"
        "iptables-nft -t nat -A PROXY_INIT_OUTPUT -p tcp -j REDIRECT --to-port 4140 -m comment --comment proxy-init/redirect-all-outgoing-to-proxy-port\n"
        "iptables-nft -t nat -A OUTPUT -j PROXY_INIT_OUTPUT -m comment --comment proxy-init/install-proxy-init-output\n";
    ck_assert_str_eq(t, want);
    free(t);
    mesh_buf_free(&err);
    px_init_config_free(&cfg);
}
END_TEST

/* One port-list flag through the argument parser: its error count, and the
 * ranges kept in *ports. */
static int parse_ports_flag(const char *list, px_init_ports_t *ports)
{
    px_init_config_t cfg;
    mesh_buf_t err = MESH_BUF_INIT;
    px_init_config_init(&cfg);
    char *argv[] = {"x", "--inbound-ports-to-ignore", (char *)list, NULL};
    int rc = px_init_parse_args(&cfg, 3, argv, &err, stdout);
    if (rc > 0)
        ck_assert_ptr_nonnull(strstr(err.base, "--inbound-ports-to-ignore"));
    *ports = cfg.inbound_ignore;
    mesh_buf_free(&err);
    px_init_config_free(&cfg);
    return rc;
}

START_TEST(test_init_ports_ranges_and_chunks)
{
    static px_init_ports_t p;
    ck_assert_int_eq(parse_ports_flag("25, 443,1000-2000,,3000-3001", &p), 0);
    ck_assert_int_eq(p.n, 4);
    ck_assert_uint_eq(p.r[0].lo, 25);
    ck_assert_uint_eq(p.r[0].hi, 25);
    ck_assert_uint_eq(p.r[2].lo, 1000);
    ck_assert_uint_eq(p.r[2].hi, 2000);
    ck_assert_uint_eq(p.r[3].hi, 3001);
    /* Linkerd's proxy-init has no "1000:2000" form; names are the injector's. */
    static const char *const bad[] = {"0", "65536", "20-10", "abc", "-5", "3000:3001", "http"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(parse_ports_flag(bad[i], &p) == 1, "\"%s\" accepted", bad[i]);
        ck_assert_int_eq(p.n, 0);
    }
    /* At most PX_INIT_MAX_PORTS items. */
    static char list[PX_INIT_MAX_PORTS * 7 + 8];
    size_t len = 0;
    for (int i = 1; i <= PX_INIT_MAX_PORTS; i++)
        len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%d", i > 1 ? "," : "", i);
    ck_assert_int_eq(parse_ports_flag(list, &p), 0);
    ck_assert_int_eq(p.n, PX_INIT_MAX_PORTS);
    snprintf(list + len, sizeof(list) - len, ",9999");
    ck_assert_int_eq(parse_ports_flag(list, &p), 1);

    /* 20 single ports split into rules of at most 15 multiport slots. */
    px_init_config_t cfg;
    mesh_buf_t err = MESH_BUF_INIT;
    px_init_config_init(&cfg);
    char *argv[] = {"x", "--outbound-ports-to-ignore",
                    "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20", "--iptables-mode",
                    "legacy", NULL};
    ck_assert_int_eq(px_init_parse_args(&cfg, 5, argv, &err, stdout), 0);
    char *t = plan_text(&cfg, 0);
    ck_assert_ptr_nonnull(strstr(t, "iptables-legacy -t nat -A PROXY_INIT_OUTPUT -p tcp --match multiport --dports 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15 -j RETURN"));
    ck_assert_ptr_nonnull(strstr(t, "--dports 16,17,18,19,20 -j RETURN"));
    /* No uid rule when no --proxy-uid. */
    ck_assert_ptr_null(strstr(t, "uid-owner"));
    free(t);
    mesh_buf_free(&err);
    px_init_config_free(&cfg);
}
END_TEST

START_TEST(test_init_subnets_gid_wait_ipv6)
{
    px_init_config_t cfg;
    mesh_buf_t err = MESH_BUF_INIT;
    px_init_config_init(&cfg);
    char *argv[] = {"x", "-w", "-g", "2103", "--subnets-to-ignore", "10.0.0.0/8,fd00::/8,192.168.1.1",
                    "--ipv6", "-r", "8080,9090", "-p", "5000", NULL};
    ck_assert_int_eq(px_init_parse_args(&cfg, 11, argv, &err, stdout), 0);
    char *v4 = plan_text(&cfg, 0);
    ck_assert_ptr_nonnull(strstr(v4, "iptables-nft -w -t nat -A PROXY_INIT_REDIRECT -p tcp -s 10.0.0.0/8 -j RETURN"));
    ck_assert_ptr_nonnull(strstr(v4, "-s 192.168.1.1/32 -j RETURN"));
    ck_assert_ptr_nonnull(strstr(v4, "-A PROXY_INIT_OUTPUT -p tcp -d 10.0.0.0/8 -j RETURN"));
    ck_assert_ptr_null(strstr(v4, "fd00::"));
    ck_assert_ptr_nonnull(strstr(v4, "--dports 8080,9090 -j REDIRECT --to-port 5000"));
    ck_assert_ptr_null(strstr(v4, "redirect-all-incoming"));
    ck_assert_ptr_nonnull(strstr(v4, "--gid-owner 2103 -j RETURN"));
    char *v6 = plan_text(&cfg, 1);
    ck_assert_ptr_nonnull(strstr(v6, "ip6tables-nft -w -t nat -A PROXY_INIT_REDIRECT -p tcp -s fd00::/8 -j RETURN"));
    ck_assert_ptr_null(strstr(v6, "10.0.0.0"));
    free(v4);
    free(v6);
    mesh_buf_free(&err);
    px_init_config_free(&cfg);
}
END_TEST

START_TEST(test_init_errors_reported_together)
{
    px_init_config_t cfg;
    mesh_buf_t err = MESH_BUF_INIT;
    px_init_config_init(&cfg);
    char *argv[] = {"x", "--incoming-proxy-port", "99999", "--bogus", "--subnets-to-ignore",
                    "10.0.0.0/33", "--iptables-mode", "iptables", "--proxy-uid", NULL};
    int n = px_init_parse_args(&cfg, 9, argv, &err, stdout);
    ck_assert_int_eq(n, 5);
    ck_assert_ptr_nonnull(strstr(err.base, "invalid value \"99999\" for --incoming-proxy-port"));
    ck_assert_ptr_nonnull(strstr(err.base, "unknown flag \"--bogus\""));
    ck_assert_ptr_nonnull(strstr(err.base, "--subnets-to-ignore"));
    ck_assert_ptr_nonnull(strstr(err.base, "--iptables-mode"));
    ck_assert_ptr_nonnull(strstr(err.base, "--proxy-uid needs a value"));
    mesh_buf_free(&err);
    px_init_config_free(&cfg);

    px_init_config_init(&cfg);
    char *same[] = {"x", "-p", "4140", NULL};
    ck_assert_int_eq(px_init_parse_args(&cfg, 3, same, &err, stdout), 1);
    mesh_buf_free(&err);
    px_init_config_free(&cfg);
}
END_TEST

Suite *proxy_init_suite(void)
{
    Suite *s = suite_create("proxy_init");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_init_default_plan);
    tcase_add_test(tc, test_init_ports_ranges_and_chunks);
    tcase_add_test(tc, test_init_subnets_gid_wait_ipv6);
    tcase_add_test(tc, test_init_errors_reported_together);
    suite_add_tcase(s, tc);
    return s;
}
