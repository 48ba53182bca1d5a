/* mesh/pbnet.h: socket addresses <-> io.linkerd.proxy.net messages. */
#include <arpa/inet.h>
#include <check.h>
#include <string.h>
#include <sys/un.h>

#include "mesh/mem.h"
#include "mesh/pbnet.h"

START_TEST(test_pbnet_ipv4)
{
    struct in_addr a;
    ck_assert_int_eq(inet_pton(AF_INET, "10.1.2.3", &a), 1);
    ck_assert_uint_eq(mesh_pbnet_ipv4_to_pb(&a), 0x0A010203u);

    struct in_addr back;
    char text[INET_ADDRSTRLEN];
    mesh_pbnet_ipv4_from_pb(0x0A010203u, &back);
    ck_assert_ptr_nonnull(inet_ntop(AF_INET, &back, text, sizeof(text)));
    ck_assert_str_eq(text, "10.1.2.3");
    mesh_pbnet_ipv4_from_pb(0xC0A80001u, &back);
    ck_assert_ptr_nonnull(inet_ntop(AF_INET, &back, text, sizeof(text)));
    ck_assert_str_eq(text, "192.168.0.1");
}
END_TEST

START_TEST(test_pbnet_ipv6_roundtrip)
{
    struct in6_addr a, back;
    ck_assert_int_eq(inet_pton(AF_INET6, "2001:db8:1:2:3:4:5:6", &a), 1);
    Io__Linkerd__Proxy__Net__IPv6 v = IO__LINKERD__PROXY__NET__IPV6__INIT;
    mesh_pbnet_ipv6_to_pb(&a, &v);
    ck_assert_uint_eq(v.first, 0x20010DB800010002ull);
    ck_assert_uint_eq(v.last, 0x0003000400050006ull);
    memset(&back, 0xff, sizeof(back));
    mesh_pbnet_ipv6_from_pb(&v, &back);
    ck_assert_mem_eq(&back, &a, sizeof(a));

    char text[INET6_ADDRSTRLEN];
    Io__Linkerd__Proxy__Net__IPv6 lo = IO__LINKERD__PROXY__NET__IPV6__INIT;
    lo.last = 1;
    mesh_pbnet_ipv6_from_pb(&lo, &back);
    ck_assert_ptr_nonnull(inet_ntop(AF_INET6, &back, text, sizeof(text)));
    ck_assert_str_eq(text, "::1");
}
END_TEST

/* Packs a TcpAddress built from a sockaddr and compares with bytes worked
 * out by hand: ip (1, LEN) { ipv4 (1, I32) }, port (2, VARINT). */
START_TEST(test_pbnet_tcp_v4_port)
{
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons(8080);
    ck_assert_int_eq(inet_pton(AF_INET, "10.1.2.3", &sin.sin_addr), 1);

    mesh_pbnet_tcp_t t;
    ck_assert_int_eq(mesh_pbnet_tcp_from_sockaddr(&t, (struct sockaddr *)&sin, sizeof(sin)),
                     MESH_PBNET_OK);
    ck_assert_uint_eq(t.tcp.port, 8080);
    ck_assert_int_eq(t.ip.ip_case, IO__LINKERD__PROXY__NET__IPADDRESS__IP_IPV4);
    ck_assert_uint_eq(t.ip.ipv4, 0x0A010203u);

    static const uint8_t want[] = {0x0a, 0x05, 0x0d, 0x03, 0x02, 0x01, 0x0a, 0x10, 0x90, 0x3f};
    uint8_t out[32];
    size_t n = io__linkerd__proxy__net__tcp_address__get_packed_size(&t.tcp);
    ck_assert_uint_eq(n, sizeof(want));
    ck_assert_uint_eq(io__linkerd__proxy__net__tcp_address__pack(&t.tcp, out), n);
    ck_assert_mem_eq(out, want, sizeof(want));

    /* And back through the unpacked message. */
    Io__Linkerd__Proxy__Net__TcpAddress *u =
        io__linkerd__proxy__net__tcp_address__unpack(NULL, sizeof(want), want);
    ck_assert_ptr_nonnull(u);
    struct sockaddr_storage ss;
    socklen_t len = 0;
    ck_assert_int_eq(mesh_pbnet_tcp_to_sockaddr(u, &ss, &len), MESH_PBNET_OK);
    ck_assert_uint_eq(len, sizeof(struct sockaddr_in));
    ck_assert_mem_eq(&ss, &sin, sizeof(sin));
    io__linkerd__proxy__net__tcp_address__free_unpacked(u, NULL);
}
END_TEST

START_TEST(test_pbnet_tcp_v6_port)
{
    struct sockaddr_in6 sin6;
    memset(&sin6, 0, sizeof(sin6));
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = htons(443);
    ck_assert_int_eq(inet_pton(AF_INET6, "fd00:1:2:3:4:5:6:7", &sin6.sin6_addr), 1);

    mesh_pbnet_tcp_t t;
    ck_assert_int_eq(mesh_pbnet_tcp_from_sockaddr(&t, (struct sockaddr *)&sin6, sizeof(sin6)),
                     MESH_PBNET_OK);
    ck_assert_uint_eq(t.tcp.port, 443);
    ck_assert_ptr_eq(t.tcp.ip, &t.ip);
    ck_assert_int_eq(t.ip.ip_case, IO__LINKERD__PROXY__NET__IPADDRESS__IP_IPV6);
    ck_assert_ptr_eq(t.ip.ipv6, &t.ip6);
    ck_assert_uint_eq(t.ip6.first, 0xFD00000100020003ull);
    ck_assert_uint_eq(t.ip6.last, 0x0004000500060007ull);

    struct sockaddr_storage ss;
    socklen_t len = 0;
    ck_assert_int_eq(mesh_pbnet_tcp_to_sockaddr(&t.tcp, &ss, &len), MESH_PBNET_OK);
    ck_assert_uint_eq(len, sizeof(struct sockaddr_in6));
    ck_assert_mem_eq(&ss, &sin6, sizeof(sin6));

    /* The highest port survives; scope ids have no wire form and are dropped. */
    sin6.sin6_port = htons(65535);
    sin6.sin6_scope_id = 3;
    ck_assert_int_eq(mesh_pbnet_tcp_from_sockaddr(&t, (struct sockaddr *)&sin6, sizeof(sin6)),
                     MESH_PBNET_OK);
    ck_assert_uint_eq(t.tcp.port, 65535);
    ck_assert_int_eq(mesh_pbnet_tcp_to_sockaddr(&t.tcp, &ss, &len), MESH_PBNET_OK);
    struct sockaddr_in6 got;
    memcpy(&got, &ss, sizeof(got));
    ck_assert_uint_eq(ntohs(got.sin6_port), 65535);
    ck_assert_uint_eq(got.sin6_scope_id, 0);
}
END_TEST

START_TEST(test_pbnet_errors)
{
    mesh_pbnet_tcp_t t;
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    ck_assert_int_eq(mesh_pbnet_tcp_from_sockaddr(&t, (struct sockaddr *)&sun, sizeof(sun)),
                     MESH_PBNET_ERR_FAMILY);

    struct sockaddr_in sin;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    ck_assert_int_eq(mesh_pbnet_tcp_from_sockaddr(&t, (struct sockaddr *)&sin, sizeof(sin) - 1),
                     MESH_PBNET_ERR_LEN);
    ck_assert_int_eq(mesh_pbnet_tcp_from_sockaddr(&t, (struct sockaddr *)&sin, 1),
                     MESH_PBNET_ERR_LEN);
    struct sockaddr_in6 sin6;
    memset(&sin6, 0, sizeof(sin6));
    sin6.sin6_family = AF_INET6;
    ck_assert_int_eq(mesh_pbnet_tcp_from_sockaddr(&t, (struct sockaddr *)&sin6, sizeof(sin)),
                     MESH_PBNET_ERR_LEN);

    struct sockaddr_storage ss;
    socklen_t len = 0;
    Io__Linkerd__Proxy__Net__TcpAddress tcp = IO__LINKERD__PROXY__NET__TCP_ADDRESS__INIT;
    Io__Linkerd__Proxy__Net__IPAddress ip = IO__LINKERD__PROXY__NET__IPADDRESS__INIT;
    ck_assert_int_eq(mesh_pbnet_tcp_to_sockaddr(NULL, &ss, &len), MESH_PBNET_ERR_NO_IP);
    tcp.port = 80;
    ck_assert_int_eq(mesh_pbnet_tcp_to_sockaddr(&tcp, &ss, &len), MESH_PBNET_ERR_NO_IP);
    tcp.ip = &ip; /* oneof not set */
    ck_assert_int_eq(mesh_pbnet_tcp_to_sockaddr(&tcp, &ss, &len), MESH_PBNET_ERR_NO_IP);
    ip.ip_case = IO__LINKERD__PROXY__NET__IPADDRESS__IP_IPV6;
    ip.ipv6 = NULL;
    ck_assert_int_eq(mesh_pbnet_tcp_to_sockaddr(&tcp, &ss, &len), MESH_PBNET_ERR_NO_IP);
    ip.ip_case = IO__LINKERD__PROXY__NET__IPADDRESS__IP_IPV4;
    ip.ipv4 = 0x7F000001u;
    tcp.port = MESH_PBNET_PORT_MAX + 1;
    ck_assert_int_eq(mesh_pbnet_tcp_to_sockaddr(&tcp, &ss, &len), MESH_PBNET_ERR_PORT);
    tcp.port = MESH_PBNET_PORT_MAX;
    ck_assert_int_eq(mesh_pbnet_tcp_to_sockaddr(&tcp, &ss, &len), MESH_PBNET_OK);

    ck_assert_str_eq(mesh_pbnet_strerror(MESH_PBNET_ERR_PORT), "port out of range");
    ck_assert_str_eq(mesh_pbnet_strerror(-99), "unknown pbnet error");
}
END_TEST

Suite *pbnet_suite(void)
{
    Suite *s = suite_create("pbnet");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_pbnet_ipv4);
    tcase_add_test(tc, test_pbnet_ipv6_roundtrip);
    tcase_add_test(tc, test_pbnet_tcp_v4_port);
    tcase_add_test(tc, test_pbnet_tcp_v6_port);
    tcase_add_test(tc, test_pbnet_errors);
    suite_add_tcase(s, tc);
    return s;
}
