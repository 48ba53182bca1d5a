/* Protocol detection on first bytes. */
#include <check.h>
#include <string.h>

#include "px/detect.h"

static px_proto_t d(const char *s) { return px_detect(s, strlen(s)); }

START_TEST(test_detect_cases)
{
    ck_assert_int_eq(d("GET / HTTP/1.1\r\n"), PX_PROTO_H1);
    ck_assert_int_eq(d("GET "), PX_PROTO_H1);
    ck_assert_int_eq(d("PROPFIND /x HTTP/1.1\r\n"), PX_PROTO_H1);
    ck_assert_int_eq(d("PROPFIND /x HTTP/1.1\r"), PX_PROTO_NEED_MORE);
    ck_assert_int_eq(d("PROPFIND /x HTTP/1.1\r\r"), PX_PROTO_OPAQUE);
    ck_assert_int_eq(d("PROPFIND /x HTTP/2.0\r\n"), PX_PROTO_OPAQUE);
    ck_assert_int_eq(d("GE"), PX_PROTO_NEED_MORE);
    ck_assert_int_eq(d(""), PX_PROTO_NEED_MORE);
    ck_assert_int_eq(d(PX_H2_PREFACE), PX_PROTO_H2);
    ck_assert_int_eq(d("PRI * HTTP/2.0\r\n"), PX_PROTO_NEED_MORE);
    ck_assert_int_eq(d("PRI * HTTP/2.0\r\n\r\nXX"), PX_PROTO_OPAQUE);
    ck_assert_int_eq(d("\x16\x03\x01\x02\x00"), PX_PROTO_OPAQUE); /* TLS ClientHello */
    ck_assert_int_eq(d("SSH-2.0-OpenSSH_9.2\r\n"), PX_PROTO_OPAQUE);
    ck_assert_int_eq(d("*1\r\n$4\r\nPING\r\n"), PX_PROTO_OPAQUE); /* redis */
    ck_assert_int_eq(d("HELLO"), PX_PROTO_NEED_MORE);
    ck_assert_int_eq(d("HELLO\r\n"), PX_PROTO_OPAQUE);
}
END_TEST

START_TEST(test_detect_limits)
{
    static char buf[PX_DETECT_MAX + 10];
    memset(buf, 'A', sizeof(buf));
    ck_assert_int_eq(px_detect(buf, 20), PX_PROTO_NEED_MORE);
    ck_assert_int_eq(px_detect(buf, 40), PX_PROTO_OPAQUE); /* no method is that long */
    memcpy(buf, "FOO /", 5);
    memset(buf + 5, 'a', sizeof(buf) - 5);
    ck_assert_int_eq(px_detect(buf, 100), PX_PROTO_NEED_MORE);
    ck_assert_int_eq(px_detect(buf, sizeof(buf)), PX_PROTO_OPAQUE);
}
END_TEST

Suite *px_detect_suite(void)
{
    Suite *s = suite_create("px_detect");
    TCase *tc = tcase_create("detect");
    tcase_add_test(tc, test_detect_cases);
    tcase_add_test(tc, test_detect_limits);
    suite_add_tcase(s, tc);
    return s;
}
