/* HTTP/2 core: reset bucket, header accounting, forwarded fields, and the
 * SETTINGS / limits a session of ours starts with, checked by feeding its
 * bytes to a plain nghttp2 peer (mem_send / mem_recv, no sockets). */
#include <check.h>
#include <string.h>

#include "px/h2.h"

START_TEST(test_h2_rate_burst_then_refill)
{
    px_h2_rate_t r;
    px_h2_rate_init(&r, 5, 10, 1000);
    for (int i = 0; i < 5; i++)
        ck_assert(px_h2_rate_take(&r, 1000));
    ck_assert(!px_h2_rate_take(&r, 1000));
    ck_assert(!px_h2_rate_take(&r, 1050)); /* half a token after 50 ms at 10/s */
    ck_assert(px_h2_rate_take(&r, 1100));
    ck_assert(!px_h2_rate_take(&r, 1100));
    /* Refill is capped at the burst. */
    for (int i = 0; i < 5; i++)
        ck_assert(px_h2_rate_take(&r, 100000));
    ck_assert(!px_h2_rate_take(&r, 100000));
}
END_TEST

START_TEST(test_h2_header_accounting)
{
    px_h2_hdr_acct_t a;
    px_h2_hdr_acct_reset(&a);
    for (int i = 0; i < PX_H2_MAX_HEADER_FIELDS; i++)
        ck_assert_int_eq(px_h2_hdr_acct_add(&a, 6, 1), 0); /* cookie crumbs count one each */
    ck_assert_int_eq(px_h2_hdr_acct_add(&a, 6, 1), -1);
    px_h2_hdr_acct_reset(&a);
    ck_assert_int_eq(px_h2_hdr_acct_add(&a, 10, PX_H2_MAX_HEADER_BYTES - 10 - PX_H2_FIELD_OVERHEAD), 0);
    ck_assert_int_eq(px_h2_hdr_acct_add(&a, 0, 0), -1); /* overhead alone tips it */
}
END_TEST

START_TEST(test_h2_forward_fields)
{
    ck_assert(px_h2_forward_field((const uint8_t *)"te", 2));
    ck_assert(px_h2_forward_field((const uint8_t *)"grpc-timeout", 12));
    ck_assert(!px_h2_forward_field((const uint8_t *)"connection", 10));
    ck_assert(!px_h2_forward_field((const uint8_t *)"transfer-encoding", 17));
    ck_assert(!px_h2_forward_field((const uint8_t *)"keep-alive", 10));
}
END_TEST

/* Moves everything `from` wants to send into `to`. */
static void pipe_bytes(nghttp2_session *from, nghttp2_session *to)
{
    const uint8_t *d;
    ssize_t n;
    while ((n = nghttp2_session_mem_send(from, &d)) > 0)
        ck_assert_int_eq(nghttp2_session_mem_recv(to, d, (size_t)n), n);
}

static nghttp2_session *plain(bool server)
{
    nghttp2_session_callbacks *cb;
    nghttp2_session *s;
    ck_assert_int_eq(nghttp2_session_callbacks_new(&cb), 0);
    ck_assert_int_eq(server ? nghttp2_session_server_new(&s, cb, NULL) : nghttp2_session_client_new(&s, cb, NULL), 0);
    nghttp2_session_callbacks_del(cb);
    return s;
}

START_TEST(test_h2_server_settings)
{
    nghttp2_session_callbacks *cb;
    ck_assert_int_eq(nghttp2_session_callbacks_new(&cb), 0);
    nghttp2_session *srv, *cli = plain(false);
    ck_assert_int_eq(px_h2_session_new(&srv, true, cb, NULL), 0);
    ck_assert_int_eq(nghttp2_submit_settings(cli, NGHTTP2_FLAG_NONE, NULL, 0), 0);
    pipe_bytes(cli, srv);
    pipe_bytes(srv, cli);
    ck_assert_uint_eq(nghttp2_session_get_remote_settings(cli, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS),
                      PX_H2_MAX_CONCURRENT_STREAMS);
    ck_assert_uint_eq(nghttp2_session_get_remote_settings(cli, NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE),
                      PX_H2_MAX_HEADER_BYTES);
    ck_assert_uint_eq(nghttp2_session_get_remote_settings(cli, NGHTTP2_SETTINGS_ENABLE_PUSH), 0);
    ck_assert_int_eq(nghttp2_session_get_remote_window_size(cli), PX_H2_CONN_WINDOW);
    nghttp2_session_del(srv);
    nghttp2_session_del(cli);
    nghttp2_session_callbacks_del(cb);
}
END_TEST

static void frame_hdr(uint8_t *p, size_t len, uint8_t type, uint8_t flags, uint32_t sid)
{
    p[0] = (uint8_t)(len >> 16);
    p[1] = (uint8_t)(len >> 8);
    p[2] = (uint8_t)len;
    p[3] = type;
    p[4] = flags;
    p[5] = (uint8_t)(sid >> 24);
    p[6] = (uint8_t)(sid >> 16);
    p[7] = (uint8_t)(sid >> 8);
    p[8] = (uint8_t)sid;
}

START_TEST(test_h2_continuation_flood_ends_session)
{
    nghttp2_session_callbacks *cb;
    ck_assert_int_eq(nghttp2_session_callbacks_new(&cb), 0);
    nghttp2_session *srv;
    ck_assert_int_eq(px_h2_session_new(&srv, true, cb, NULL), 0);
    uint8_t buf[64];
    ck_assert_int_eq(nghttp2_session_mem_recv(srv, (const uint8_t *)NGHTTP2_CLIENT_MAGIC, NGHTTP2_CLIENT_MAGIC_LEN),
                     NGHTTP2_CLIENT_MAGIC_LEN);
    frame_hdr(buf, 0, NGHTTP2_SETTINGS, 0, 0);
    ck_assert_int_eq(nghttp2_session_mem_recv(srv, buf, 9), 9);
    static const uint8_t hpack[] = {0x82, 0x84, 0x86}; /* GET / http */
    frame_hdr(buf, sizeof(hpack), NGHTTP2_HEADERS, 0, 1);
    memcpy(buf + 9, hpack, sizeof(hpack));
    ck_assert_int_eq(nghttp2_session_mem_recv(srv, buf, 9 + sizeof(hpack)), (ssize_t)(9 + sizeof(hpack)));
    int accepted = 0;
    ssize_t rv = 0;
    static const uint8_t field[] = {0x40, 0x01, 'x', 0x01, 'y'};
    for (int i = 0; i < 100; i++) {
        frame_hdr(buf, sizeof(field), NGHTTP2_CONTINUATION, 0, 1);
        memcpy(buf + 9, field, sizeof(field));
        rv = nghttp2_session_mem_recv(srv, buf, 9 + sizeof(field));
        if (rv < 0)
            break;
        accepted++;
    }
    ck_assert_int_lt(rv, 0);
    ck_assert_int_le(accepted, PX_H2_MAX_CONTINUATIONS);
    nghttp2_session_del(srv);
    nghttp2_session_callbacks_del(cb);
}
END_TEST

Suite *h2_suite(void)
{
    Suite *s = suite_create("h2");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_h2_rate_burst_then_refill);
    tcase_add_test(tc, test_h2_header_accounting);
    tcase_add_test(tc, test_h2_forward_fields);
    tcase_add_test(tc, test_h2_server_settings);
    tcase_add_test(tc, test_h2_continuation_flood_ends_session);
    suite_add_tcase(s, tc);
    return s;
}
