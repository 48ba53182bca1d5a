/* Authority parsing (linkerd.md §2.1): accepted names, IPs, ports, refusals. */
#include <arpa/inet.h>
#include <check.h>
#include <string.h>

#include "dst/authority.h"

#define DOM "cluster.local"

static dst_authority_t ok(const char *path)
{
    dst_authority_t a;
    int rc = dst_authority_parse(path, DOM, &a);
    ck_assert_msg(rc == DST_AUTH_OK, "%s: %s", path, dst_authority_strerror(rc));
    return a;
}

START_TEST(test_authority_service)
{
    dst_authority_t a = ok("web.emojivoto.svc.cluster.local:8080");
    ck_assert_int_eq(a.kind, DST_AUTH_SERVICE);
    ck_assert_str_eq(a.svc, "web");
    ck_assert_str_eq(a.ns, "emojivoto");
    ck_assert_str_eq(a.instance, "");
    ck_assert_uint_eq(a.port, 8080);

    a = ok("web.emojivoto.svc.cluster.local");
    ck_assert_uint_eq(a.port, 80);
    a = ok("web.emojivoto.svc.cluster.local.:443");
    ck_assert_uint_eq(a.port, 443);
    ck_assert_str_eq(a.svc, "web");
    a = ok("Web.EMOJIVOTO.svc.Cluster.Local:1");
    ck_assert_str_eq(a.svc, "web");
    ck_assert_str_eq(a.ns, "emojivoto");
    ck_assert_uint_eq(a.port, 1);
    a = ok("web-0.web.ns.svc.cluster.local:65535");
    ck_assert_str_eq(a.instance, "web-0");
    ck_assert_str_eq(a.svc, "web");
    ck_assert_str_eq(a.ns, "ns");
    ck_assert_uint_eq(a.port, 65535);
}
END_TEST

START_TEST(test_authority_ip)
{
    dst_authority_t a = ok("10.1.2.3:8080");
    ck_assert_int_eq(a.kind, DST_AUTH_IP);
    ck_assert_int_eq(a.family, AF_INET);
    ck_assert_int_eq(memcmp(a.ip, "\x0a\x01\x02\x03", 4), 0);
    ck_assert_uint_eq(a.port, 8080);
    a = ok("[fd00::1]:9000");
    ck_assert_int_eq(a.family, AF_INET6);
    ck_assert_uint_eq(a.ip[0], 0xfd);
    ck_assert_uint_eq(a.ip[15], 1);
    ck_assert_uint_eq(a.port, 9000);
    a = ok("[::1]");
    ck_assert_uint_eq(a.port, 80);
    a = ok("fd00::2");
    ck_assert_int_eq(a.family, AF_INET6);
    ck_assert_uint_eq(a.port, 80);
}
END_TEST

START_TEST(test_authority_bad)
{
    static const struct { const char *p; int err; } bad[] = {
        {"", DST_AUTH_ERR_EMPTY},
        {"web.ns.svc.cluster.local:0", DST_AUTH_ERR_PORT},
        {"web.ns.svc.cluster.local:65536", DST_AUTH_ERR_PORT},
        {"web.ns.svc.cluster.local:", DST_AUTH_ERR_PORT},
        {"web.ns.svc.cluster.local:+80", DST_AUTH_ERR_PORT},
        {"web.ns.svc.cluster.local:8o", DST_AUTH_ERR_PORT},
        {"web.ns.svc.cluster.local:123456", DST_AUTH_ERR_PORT},
        {"web", DST_AUTH_ERR_NAME},
        {"web:80", DST_AUTH_ERR_NAME},
        {"web.ns", DST_AUTH_ERR_NAME},
        {"web.ns.svc", DST_AUTH_ERR_NAME},
        {"web.ns.svc.cluster", DST_AUTH_ERR_NAME},
        {"web.ns.svc.example.org:80", DST_AUTH_ERR_NAME},
        {"ns.svc.cluster.local:80", DST_AUTH_ERR_NAME},
        {"a.b.c.d.svc.cluster.local:80", DST_AUTH_ERR_NAME},
        {"web..svc.cluster.local", DST_AUTH_ERR_NAME},
        {"web.ns.svc.cluster.local..", DST_AUTH_ERR_NAME},
        {".web.ns.svc.cluster.local", DST_AUTH_ERR_NAME},
        {"we_b.ns.svc.cluster.local", DST_AUTH_ERR_NAME},
        {"web.ns.pod.cluster.local", DST_AUTH_ERR_NAME},
        {":80", DST_AUTH_ERR_NAME},
        {"[fd00::1", DST_AUTH_ERR_NAME},
        {"[fd00::1]x", DST_AUTH_ERR_NAME},
        {"[10.0.0.1]:80", DST_AUTH_ERR_NAME},
        {"fd00::1:80:zz", DST_AUTH_ERR_NAME},
        {"300.1.1.1:80", DST_AUTH_ERR_NAME},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        dst_authority_t a;
        int rc = dst_authority_parse(bad[i].p, DOM, &a);
        ck_assert_msg(rc == bad[i].err, "\"%s\": got %d want %d", bad[i].p, rc, bad[i].err);
    }
    char longp[DST_AUTH_PATH_MAX + 10];
    memset(longp, 'a', sizeof longp - 1);
    longp[sizeof longp - 1] = '\0';
    dst_authority_t a;
    ck_assert_int_eq(dst_authority_parse(longp, DOM, &a), DST_AUTH_ERR_LENGTH);
    ck_assert_int_eq(dst_authority_parse(NULL, DOM, &a), DST_AUTH_ERR_EMPTY);
    char lab[100];
    memset(lab, 'x', 64);
    memcpy(lab + 64, ".ns.svc.cluster.local", 22);
    ck_assert_int_eq(dst_authority_parse(lab, DOM, &a), DST_AUTH_ERR_NAME);
}
END_TEST

START_TEST(test_authority_other_domain)
{
    dst_authority_t a;
    ck_assert_int_eq(dst_authority_parse("web.ns.svc.example.org:80", "example.org", &a), DST_AUTH_OK);
    ck_assert_int_eq(dst_authority_parse("web.ns.svc.cluster.local:80", "example.org", &a), DST_AUTH_ERR_NAME);
}
END_TEST

Suite *dst_authority_suite(void)
{
    Suite *s = suite_create("dst_authority");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_authority_service);
    tcase_add_test(tc, test_authority_ip);
    tcase_add_test(tc, test_authority_bad);
    tcase_add_test(tc, test_authority_other_domain);
    suite_add_tcase(s, tc);
    return s;
}
