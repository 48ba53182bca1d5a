/* host:port parsing, resolution of numeric hosts, formatting. */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <string.h>

#include "mesh/addr.h"

START_TEST(test_addr_parse_good)
{
    mesh_addr_t a;
    ck_assert_int_eq(mesh_addr_parse("127.0.0.1:4191", &a), 0);
    ck_assert_str_eq(a.host, "127.0.0.1");
    ck_assert_uint_eq(a.port, 4191);
    ck_assert_int_eq(mesh_addr_parse(":9990", &a), 0);
    ck_assert_str_eq(a.host, "");
    ck_assert_uint_eq(a.port, 9990);
    ck_assert_int_eq(mesh_addr_parse("[::1]:80", &a), 0);
    ck_assert_str_eq(a.host, "::1");
    ck_assert_int_eq(a.is_ipv6, 1);
    ck_assert_int_eq(mesh_addr_parse("linkerd-dst-headless.linkerd.svc.cluster.local.:8086", &a), 0);
    ck_assert_str_eq(a.host, "linkerd-dst-headless.linkerd.svc.cluster.local.");
    ck_assert_int_eq(mesh_addr_parse("0.0.0.0:0", &a), 0);
    ck_assert_uint_eq(a.port, 0);
    ck_assert_int_eq(mesh_addr_parse("x:65535", &a), 0);
    ck_assert_uint_eq(a.port, 65535);
}
END_TEST

START_TEST(test_addr_parse_bad)
{
    static const struct {
        const char *in;
        int err;
    } cases[] = {
        {"", MESH_ADDR_ERR_SYNTAX},          {"9990", MESH_ADDR_ERR_SYNTAX},
        {"::1:80", MESH_ADDR_ERR_SYNTAX},    {"[::1]80", MESH_ADDR_ERR_SYNTAX},
        {"[::1:80", MESH_ADDR_ERR_SYNTAX},   {"a b:80", MESH_ADDR_ERR_SYNTAX},
        {"host:", MESH_ADDR_ERR_PORT},       {"host:65536", MESH_ADDR_ERR_PORT},
        {"host:-1", MESH_ADDR_ERR_PORT},     {"host:80x", MESH_ADDR_ERR_PORT},
        {"[nothex]:80", MESH_ADDR_ERR_HOST}, {"[1.2.3.4]:80", MESH_ADDR_ERR_HOST},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        mesh_addr_t a;
        int rc = mesh_addr_parse(cases[i].in, &a);
        ck_assert_msg(rc == cases[i].err, "\"%s\": got %d want %d", cases[i].in, rc, cases[i].err);
    }
    char long_host[MESH_ADDR_HOST_MAX + 8];
    memset(long_host, 'a', MESH_ADDR_HOST_MAX);
    memcpy(long_host + MESH_ADDR_HOST_MAX, ":80", 4);
    mesh_addr_t a;
    ck_assert_int_eq(mesh_addr_parse(long_host, &a), MESH_ADDR_ERR_HOST);
}
END_TEST

START_TEST(test_addr_resolve_format)
{
    mesh_addr_t a;
    struct sockaddr_storage ss;
    socklen_t len;
    char out[MESH_ADDR_STR_MAX];

    ck_assert_int_eq(mesh_addr_parse(":9990", &a), 0);
    ck_assert_int_eq(mesh_addr_resolve(&a, &ss, &len), 0);
    ck_assert_int_eq(ss.ss_family, AF_INET);
    ck_assert_uint_eq(len, sizeof(struct sockaddr_in));
    ck_assert_uint_eq(((struct sockaddr_in *)&ss)->sin_addr.s_addr, htonl(INADDR_ANY));
    mesh_addr_format_sockaddr((struct sockaddr *)&ss, out, sizeof(out));
    ck_assert_str_eq(out, "0.0.0.0:9990");
    mesh_addr_format(&a, out, sizeof(out));
    ck_assert_str_eq(out, ":9990");

    ck_assert_int_eq(mesh_addr_parse("[::1]:4143", &a), 0);
    ck_assert_int_eq(mesh_addr_resolve(&a, &ss, &len), 0);
    ck_assert_int_eq(ss.ss_family, AF_INET6);
    mesh_addr_format_sockaddr((struct sockaddr *)&ss, out, sizeof(out));
    ck_assert_str_eq(out, "[::1]:4143");
    mesh_addr_format(&a, out, sizeof(out));
    ck_assert_str_eq(out, "[::1]:4143");

    ck_assert_int_eq(mesh_addr_parse("localhost:1", &a), 0);
    ck_assert_int_eq(mesh_addr_resolve(&a, &ss, &len), 0);
    ck_assert_uint_eq(ntohs(((struct sockaddr_in *)&ss)->sin_port), 1);
}
END_TEST

Suite *addr_suite(void)
{
    Suite *s = suite_create("addr");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_addr_parse_good);
    tcase_add_test(tc, test_addr_parse_bad);
    tcase_add_test(tc, test_addr_resolve_format);
    suite_add_tcase(s, tc);
    return s;
}
