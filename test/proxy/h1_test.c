/* HTTP/1 parser: requests, responses, framing, smuggling cases, chunked
 * decoding split at every byte, head rewriting. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "mesh/mem.h"
#include "px/h1.h"

static px_h1_msg_t m;

static int req(const char *s) { return px_h1_parse_request(s, strlen(s), &m); }

/* Parse + framing: 0 when accepted, else the status. */
static int req_status(const char *s)
{
    int r = req(s);
    if (r == PX_H1_ERR_LARGE)
        return 431;
    if (r < 0)
        return 400;
    ck_assert_int_eq((size_t)r, strlen(s));
    px_h1_framing_t f;
    return px_h1_request_framing(&m, &f);
}

START_TEST(test_h1_request_basic)
{
    const char *s = "GET /a?b=c HTTP/1.1\r\nHost: example.com\r\nX-Empty:\r\nX-Sp:  v  \r\n\r\nrest";
    int r = req(s);
    ck_assert_int_eq(r, (int)(strlen(s) - 4));
    ck_assert_int_eq((int)m.method_len, 3);
    ck_assert_int_eq(strncmp(m.target, "/a?b=c", m.target_len), 0);
    ck_assert_int_eq(m.minor_version, 1);
    ck_assert_uint_eq(m.nheaders, 3);
    ck_assert_uint_eq(m.headers[1].value_len, 0);
    ck_assert_int_eq(strncmp(m.headers[2].value, "v", m.headers[2].value_len), 0);
    ck_assert_uint_eq(m.headers[2].value_len, 1);
    /* Every proper prefix is incomplete. */
    for (size_t i = 0; i < strlen(s) - 4; i++)
        ck_assert_int_eq(px_h1_parse_request(s, i, &m), PX_H1_INCOMPLETE);
}
END_TEST

START_TEST(test_h1_request_framing)
{
    px_h1_framing_t f;
    ck_assert_int_gt(req("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 12\r\nExpect: 100-continue\r\n\r\n"), 0);
    ck_assert_int_eq(px_h1_request_framing(&m, &f), 0);
    ck_assert_int_eq(f.body, PX_H1_BODY_LENGTH);
    ck_assert_uint_eq(f.length, 12);
    ck_assert(f.expect_continue);
    ck_assert(f.keep_alive);
    ck_assert_int_eq(strncmp(f.authority, "h", f.authority_len), 0);

    ck_assert_int_gt(req("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"), 0);
    ck_assert_int_eq(px_h1_request_framing(&m, &f), 0);
    ck_assert_int_eq(f.body, PX_H1_BODY_CHUNKED);
    ck_assert(!f.keep_alive);

    ck_assert_int_gt(req("GET / HTTP/1.0\r\n\r\n"), 0);
    ck_assert_int_eq(px_h1_request_framing(&m, &f), 0);
    ck_assert(!f.keep_alive);
    ck_assert_int_eq(f.body, PX_H1_BODY_NONE);

    ck_assert_int_gt(req("GET /chat HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"), 0);
    ck_assert_int_eq(px_h1_request_framing(&m, &f), 0);
    ck_assert(f.upgrade);

    ck_assert_int_eq(req_status("GET http://h:80/x HTTP/1.1\r\nHost: h:80\r\n\r\n"), 0);
}
END_TEST

/* Each case: what it is, the request, the status expected. */
static const struct {
    const char *what, *req;
    int status;
} smuggling[] = {
    {"CL and TE", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
    {"TE and CL", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n", 400},
    {"two CL differing", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\n", 400},
    {"two CL same", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\n", 400},
    {"CL list", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4, 4\r\n\r\n", 400},
    {"CL sign", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +4\r\n\r\n", 400},
    {"CL hex", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x4\r\n\r\n", 400},
    {"CL overflow", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999\r\n\r\n", 400},
    {"TE gzip", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
    {"TE chunked twice", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400},
    {"TE identity,chunked", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity, chunked\r\n\r\n", 400},
    {"TE empty", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \r\n\r\n", 400},
    {"TE on 1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
    {"space before colon", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding : chunked\r\n\r\n", 400},
    {"tab before colon", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length\t: 4\r\n\r\n", 400},
    {"obs-fold", "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\n b\r\n\r\n", 400},
    {"obs-fold tab", "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\n\tb\r\n\r\n", 400},
    {"bare CR in value", "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\rb\r\n\r\n", 400},
    {"bare LF header end", "GET / HTTP/1.1\r\nHost: h\nX-A: b\r\n\r\n", 400},
    {"bare LF request line", "GET / HTTP/1.1\nHost: h\r\n\r\n", 400},
    {"bare LF final", "GET / HTTP/1.1\r\nHost: h\r\n\n", 400},
    {"NUL in value", "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\0b\r\n\r\n", 400},
    {"invalid name char", "GET / HTTP/1.1\r\nHost: h\r\nX(A): b\r\n\r\n", 400},
    {"empty name", "GET / HTTP/1.1\r\nHost: h\r\n: b\r\n\r\n", 400},
    {"two Host", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
    {"no Host 1.1", "GET / HTTP/1.1\r\n\r\n", 400},
    {"Host with space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400},
    {"Host with slash", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400},
    {"absolute-form mismatch", "GET http://a/ HTTP/1.1\r\nHost: b\r\n\r\n", 400},
    {"bad version", "GET / HTTP/1.2\r\nHost: h\r\n\r\n", 400},
    {"HTTP/2 version", "GET / HTTP/2.0\r\nHost: h\r\n\r\n", 400},
    {"two spaces", "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
    {"target not origin-form", "GET a HTTP/1.1\r\nHost: h\r\n\r\n", 400},
    {"CONNECT", "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n", 501},
};

START_TEST(test_h1_smuggling_case)
{
    int i = _i;
    int st = px_h1_parse_request(smuggling[i].req, strlen(smuggling[i].req) +
                                 (strstr(smuggling[i].what, "NUL") ? 6 : 0), &m);
    if (st >= 0) {
        px_h1_framing_t f;
        st = px_h1_request_framing(&m, &f);
    } else {
        st = st == PX_H1_ERR_LARGE ? 431 : 400;
    }
    ck_assert_msg(st == smuggling[i].status, "%s: got %d want %d", smuggling[i].what, st,
                  smuggling[i].status);
}
END_TEST

START_TEST(test_h1_limits)
{
    /* 101 headers: 431; 100: fine. */
    char buf[8192];
    size_t n = (size_t)snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: h\r\n");
    for (int i = 0; i < 99; i++)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "X-%d: v\r\n", i);
    memcpy(buf + n, "\r\n", 3);
    ck_assert_int_eq(req_status(buf), 0);
    n += (size_t)snprintf(buf + n, sizeof(buf) - n, "X-last: v\r\n\r\n");
    ck_assert_int_eq(req(buf), PX_H1_ERR_LARGE);
    /* A head over 64 KiB: 431, whether complete or not. */
    size_t big = PX_H1_MAX_HEAD + 100;
    char *b = mesh_malloc(big + 64);
    ck_assert_ptr_nonnull(b);
    n = (size_t)snprintf(b, 64, "GET / HTTP/1.1\r\nHost: h\r\nX: ");
    memset(b + n, 'a', big - n);
    ck_assert_int_eq(px_h1_parse_request(b, big, &m), PX_H1_ERR_LARGE);
    memcpy(b + big, "\r\n\r\n", 4);
    ck_assert_int_eq(px_h1_parse_request(b, big + 4, &m), PX_H1_ERR_LARGE);
    mesh_free(b);
}
END_TEST

START_TEST(test_h1_response)
{
    px_h1_framing_t f;
    const char *s = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\ngrpc-status: 14\r\n\r\nhello";
    ck_assert_int_eq(px_h1_parse_response(s, strlen(s), &m), (int)strlen(s) - 5);
    ck_assert_int_eq(m.status, 200);
    ck_assert_int_eq(px_h1_response_framing(&m, false, &f), 0);
    ck_assert_int_eq(f.body, PX_H1_BODY_LENGTH);
    ck_assert_int_eq(f.grpc_status, 14);
    /* HEAD, 204, 304, 1xx have no body whatever the headers say. */
    ck_assert_int_eq(px_h1_response_framing(&m, true, &f), 0);
    ck_assert_int_eq(f.body, PX_H1_BODY_NONE);
    s = "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n";
    ck_assert_int_gt(px_h1_parse_response(s, strlen(s), &m), 0);
    ck_assert_int_eq(px_h1_response_framing(&m, false, &f), 0);
    ck_assert_int_eq(f.body, PX_H1_BODY_NONE);
    s = "HTTP/1.1 204\r\n\r\n";
    ck_assert_int_gt(px_h1_parse_response(s, strlen(s), &m), 0);
    ck_assert_int_eq(m.status, 204);
    /* No framing: close-delimited, and not reusable. */
    s = "HTTP/1.0 200 OK\r\n\r\n";
    ck_assert_int_gt(px_h1_parse_response(s, strlen(s), &m), 0);
    ck_assert_int_eq(px_h1_response_framing(&m, false, &f), 0);
    ck_assert_int_eq(f.body, PX_H1_BODY_CLOSE);
    ck_assert(!f.keep_alive);
    s = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n";
    ck_assert_int_gt(px_h1_parse_response(s, strlen(s), &m), 0);
    ck_assert_int_eq(px_h1_response_framing(&m, false, &f), 502);
    s = "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n";
    ck_assert_int_gt(px_h1_parse_response(s, strlen(s), &m), 0);
    ck_assert_int_eq(px_h1_response_framing(&m, false, &f), 0);
    ck_assert(f.upgrade);
    ck_assert_int_eq(px_h1_parse_response("HTTP/1.1 20 OK\r\n\r\n", 18, &m), PX_H1_ERR_BAD);
    ck_assert_int_eq(px_h1_parse_response("HTTP/1.1 200 OK\n\r\n", 18, &m), PX_H1_ERR_BAD);
}
END_TEST

START_TEST(test_h1_write_head_strips_hop_by_hop)
{
    const char *s = "GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, X-Secret\r\nKeep-Alive: 5\r\n"
                    "X-Secret: s\r\nTE: trailers\r\nProxy-Connection: x\r\nUpgrade: foo\r\nX-Keep: k\r\n\r\n";
    ck_assert_int_gt(req(s), 0);
    px_buf_t out = PX_BUF_INIT;
    ck_assert_int_eq(px_h1_write_head(&out, 1 << 20, &m, true, false, true, false), 0);
    ck_assert_int_eq(px_buf_append(&out, "", 1, 1 << 20), 0);
    const char *o = px_buf_data(&out);
    ck_assert_str_eq(o, "GET / HTTP/1.1\r\nHost: h\r\nX-Keep: k\r\nConnection: close\r\n\r\n");
    px_buf_free(&out);
}
END_TEST

/* Decodes `in` fed in two parts split at `split`, appending data to out. */
static int decode_split(const char *in, size_t n, size_t split, char *out, size_t *outn)
{
    px_h1_chunked_t d = {0};
    char buf[512];
    size_t have = 0, pos = 0;
    bool done = false;
    *outn = 0;
    size_t feeds[2] = {split, n};
    for (int k = 0; k < 2 && !done; k++) {
        memcpy(buf + have, in + pos, feeds[k] - pos);
        have += feeds[k] - pos;
        pos = feeds[k];
        for (;;) {
            const char *data;
            size_t dl;
            long c = px_h1_chunked_decode(&d, buf, have, &data, &dl, &done);
            if (c < 0)
                return -1;
            if (dl)
                memcpy(out + *outn, data, dl);
            *outn += dl;
            memmove(buf, buf + c, have - (size_t)c);
            have -= (size_t)c;
            if (done || (c == 0 && dl == 0))
                break;
        }
    }
    return done ? (int)(have + (n - pos)) : -2;
}

START_TEST(test_h1_chunked_every_split)
{
    const char *in = "5\r\nhello\r\nA;ext=1\r\n0123456789\r\n1\r\n!\r\n0\r\nTrailer: t\r\n\r\nNEXT";
    size_t n = strlen(in);
    for (size_t split = 0; split <= n; split++) {
        char out[64];
        size_t on;
        int left = decode_split(in, n, split, out, &on);
        ck_assert_msg(left == 4, "split %zu: %d", split, left);
        ck_assert_uint_eq(on, 16);
        ck_assert_int_eq(memcmp(out, "hello0123456789!", 16), 0);
    }
}
END_TEST

START_TEST(test_h1_chunked_invalid)
{
    static const char *const bad[] = {
        "x\r\n", "5 \r\nhello\r\n0\r\n\r\n", " 5\r\nhello\r\n0\r\n\r\n", "-5\r\n",
        "0x5\r\nhello\r\n", "5\nhello\r\n", "5\r\nhelloXX0\r\n\r\n", "5\r\nhello\n0\r\n\r\n",
        "fffffffffffffffff\r\n", "5\r\nhello\r\n0\r\n bad\r\n\r\n", "\r\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char out[64];
        size_t on;
        ck_assert_msg(decode_split(bad[i], strlen(bad[i]), 0, out, &on) == -1, "accepted %s", bad[i]);
    }
}
END_TEST

START_TEST(test_h1_chunked_keep_trailers)
{
    const char *in = "3\r\nabc\r\n0;x=1\r\nX-Sum: 9\r\nHost: evil\r\nConnection: x-drop\r\n"
                     "X-Drop: 1\r\n\r\nNEXT";
    size_t n = strlen(in), pos = 0;
    px_h1_chunked_t d = {0};
    d.keep_trailers = true;
    const char *data;
    size_t dl;
    bool done = false;
    /* Decoding stops before the trailer section, without completing. */
    while (!px_h1_chunked_at_trailers(&d)) {
        long c = px_h1_chunked_decode(&d, in + pos, n - pos, &data, &dl, &done);
        ck_assert_int_ge(c, 0);
        ck_assert(!done);
        pos += (size_t)c;
    }
    ck_assert_str_eq(in + pos, "X-Sum: 9\r\nHost: evil\r\nConnection: x-drop\r\nX-Drop: 1\r\n\r\nNEXT");
    px_h1_msg_t tm;
    ck_assert_int_eq(px_h1_parse_trailers(in + pos, 10, &tm), PX_H1_INCOMPLETE);
    int r = px_h1_parse_trailers(in + pos, n - pos, &tm);
    ck_assert_int_eq(r, (int)(n - pos - 4));
    ck_assert_uint_eq(tm.nheaders, 4);
    px_buf_t out = PX_BUF_INIT;
    ck_assert_int_eq(px_h1_write_trailers(&out, 4096, &tm), 0);
    /* Host never comes late; Connection and what it lists are hop-by-hop. */
    ck_assert_uint_eq(out.len, strlen("0\r\nX-Sum: 9\r\n\r\n"));
    ck_assert_int_eq(memcmp(px_buf_data(&out), "0\r\nX-Sum: 9\r\n\r\n", out.len), 0);
    px_buf_consume(&out, out.len);
    ck_assert_int_eq(px_h1_write_trailers(&out, 4096, NULL), 0);
    ck_assert_int_eq(memcmp(px_buf_data(&out), "0\r\n\r\n", 5), 0);
    px_buf_free(&out);
    px_h1_chunked_finish(&d);
    ck_assert_int_eq(px_h1_chunked_decode(&d, "NEXT", 4, &data, &dl, &done), 0);
    ck_assert(done);
    /* Malformed or oversized sections. */
    ck_assert_int_eq(px_h1_parse_trailers("Bad Name: x\r\n\r\n", 16, &tm), PX_H1_ERR_BAD);
    ck_assert_int_eq(px_h1_parse_trailers("X: a\nY: b\r\n\r\n", 15, &tm), PX_H1_ERR_BAD);
    static char big[PX_H1_MAX_TRAILERS + 100];
    memset(big, 'a', sizeof(big));
    memcpy(big, "X: ", 3);
    ck_assert_int_eq(px_h1_parse_trailers(big, sizeof(big), &tm), PX_H1_ERR_LARGE);
}
END_TEST

Suite *px_h1_suite(void)
{
    Suite *s = suite_create("px_h1");
    TCase *tc = tcase_create("h1");
    tcase_add_test(tc, test_h1_request_basic);
    tcase_add_test(tc, test_h1_request_framing);
    tcase_add_loop_test(tc, test_h1_smuggling_case, 0, (int)(sizeof(smuggling) / sizeof(smuggling[0])));
    tcase_add_test(tc, test_h1_limits);
    tcase_add_test(tc, test_h1_response);
    tcase_add_test(tc, test_h1_write_head_strips_hop_by_hop);
    tcase_add_test(tc, test_h1_chunked_every_split);
    tcase_add_test(tc, test_h1_chunked_invalid);
    tcase_add_test(tc, test_h1_chunked_keep_trailers);
    suite_add_tcase(s, tc);
    return s;
}
