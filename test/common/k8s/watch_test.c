/* Watch stream parser: every split, garbage, oversize, 410 recognition. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/buf.h"
#include "mesh/k8s_watch.h"

static const char STREAM[] =
    "{\"type\":\"ADDED\",\"object\":{\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"101\"},"
    "\"spec\":{\"s\":\"brace } and \\\" quote { in a string\"}}}\n"
    "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"102\"},\"x\":[1,{\"y\":[]}]}}\n"
    "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"150\"}}}\n"
    "  \r\n"
    "{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"151\"}}}"
    "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,\"reason\":\"Expired\",\"message\":\"too old\"}}\n";

/* Records events as "TYPE:rv;" */
static int record(const mesh_k8s_watch_event_t *ev, void *ud)
{
    mesh_buf_t *b = ud;
    ck_assert_int_eq(mesh_buf_appendf(b, "%s:%s;", mesh_k8s_ev_type_name(ev->type), ev->rv ? ev->rv : "-"), 0);
    return 0;
}

static const char EXPECT[] = "ADDED:101;MODIFIED:102;BOOKMARK:150;DELETED:151;ERROR:-;";

static void feed_split(const char *data, size_t len, const size_t *cuts, int ncuts, mesh_buf_t *out)
{
    mesh_k8s_watch_parser_t p;
    mesh_k8s_watch_parser_init(&p, 0);
    size_t at = 0;
    for (int i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : len;
        ck_assert_int_eq(mesh_k8s_watch_feed(&p, data + at, end - at, record, out), 0);
        at = end;
    }
    ck_assert_int_eq(mesh_k8s_watch_finish(&p), 0);
    ck_assert_uint_eq(p.errors, 0);
    mesh_k8s_watch_parser_free(&p);
}

START_TEST(test_watch_every_split)
{
    size_t len = strlen(STREAM);
    mesh_buf_t whole = MESH_BUF_INIT;
    feed_split(STREAM, len, NULL, 0, &whole);
    ck_assert_str_eq(whole.base, EXPECT);
    for (size_t cut = 0; cut <= len; cut++) {
        mesh_buf_t b = MESH_BUF_INIT;
        feed_split(STREAM, len, &cut, 1, &b);
        ck_assert_msg(strcmp(b.base, EXPECT) == 0, "split at %zu: %s", cut, b.base);
        mesh_buf_free(&b);
    }
    /* Byte at a time. */
    mesh_k8s_watch_parser_t p;
    mesh_k8s_watch_parser_init(&p, 0);
    mesh_buf_t b = MESH_BUF_INIT;
    for (size_t i = 0; i < len; i++)
        ck_assert_int_eq(mesh_k8s_watch_feed(&p, STREAM + i, 1, record, &b), 0);
    ck_assert_str_eq(b.base, EXPECT);
    mesh_k8s_watch_parser_free(&p);
    mesh_buf_free(&b);
    mesh_buf_free(&whole);
}
END_TEST

START_TEST(test_watch_random_splits)
{
    size_t len = strlen(STREAM);
    srand(12345);
    for (int round = 0; round < 2000; round++) {
        size_t cuts[2];
        int n = 1 + round % 2; /* 2-way and 3-way */
        for (int i = 0; i < n; i++)
            cuts[i] = (size_t)rand() % (len + 1);
        if (n == 2 && cuts[0] > cuts[1]) {
            size_t t = cuts[0];
            cuts[0] = cuts[1];
            cuts[1] = t;
        }
        mesh_buf_t b = MESH_BUF_INIT;
        feed_split(STREAM, len, cuts, n, &b);
        ck_assert_msg(strcmp(b.base, EXPECT) == 0, "cuts %zu %zu: %s", cuts[0], cuts[1], b.base);
        mesh_buf_free(&b);
    }
}
END_TEST

START_TEST(test_watch_garbage_lines)
{
    const char *in =
        "garbage line\n"
        "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"resourceVersion\":\"1\"}}}\n"
        "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"resourceVersion\": oops}}}\n"
        "{\"type\":\"WHAT\",\"object\":{}}\n"
        "{\"type\":\"ADDED\",\"object\":[]}\n"
        "{\"object\":{}}\n"
        "[1,2]\n"
        "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"resourceVersion\":\"2\"  \n" /* cut mid-event */
        "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"resourceVersion\":\"3\"}}}\n";
    mesh_k8s_watch_parser_t p;
    mesh_k8s_watch_parser_init(&p, 0);
    mesh_buf_t b = MESH_BUF_INIT;
    int rc = mesh_k8s_watch_feed(&p, in, strlen(in), record, &b);
    ck_assert_int_eq(rc, MESH_K8S_WATCH_EBADJSON); /* the first error of the chunk */
    ck_assert_str_eq(b.base, "ADDED:1;MODIFIED:3;");
    ck_assert_uint_eq(p.errors, 7);
    ck_assert_uint_eq(p.events, 2);
    ck_assert_ptr_nonnull(mesh_k8s_watch_error(&p));
    /* A stream ending mid-event is reported. */
    ck_assert_int_eq(mesh_k8s_watch_feed(&p, "{\"type\":", 8, record, &b), 0);
    ck_assert_int_eq(mesh_k8s_watch_finish(&p), MESH_K8S_WATCH_EBADJSON);
    mesh_k8s_watch_parser_free(&p);
    mesh_buf_free(&b);
}
END_TEST

START_TEST(test_watch_oversize)
{
    mesh_k8s_watch_parser_t p;
    mesh_k8s_watch_parser_init(&p, 200);
    ck_assert_uint_eq(p.max_event, 200);
    mesh_buf_t in = MESH_BUF_INIT, b = MESH_BUF_INIT;
    ck_assert_int_eq(mesh_buf_appends(&in, "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"resourceVersion\":\"1\"},\"big\":\""), 0);
    for (int i = 0; i < 1000; i++)
        ck_assert_int_eq(mesh_buf_appends(&in, "x{}"), 0);
    ck_assert_int_eq(mesh_buf_appends(&in, "\"}}\n{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"resourceVersion\":\"2\"}}}\n"), 0);
    /* Fed in 7-byte pieces: the big event is dropped as it streams. */
    int saw_big = 0;
    for (size_t i = 0; i < in.len; i += 7) {
        size_t n = in.len - i < 7 ? in.len - i : 7;
        int rc = mesh_k8s_watch_feed(&p, in.base + i, n, record, &b);
        if (rc == MESH_K8S_WATCH_ETOOBIG)
            saw_big = 1;
        else
            ck_assert_int_eq(rc, 0);
        ck_assert_uint_le(p.buf.len, 200);
    }
    ck_assert_int_eq(saw_big, 1);
    ck_assert_ptr_nonnull(strstr(mesh_k8s_watch_error(&p), "MESH_K8S_WATCH_EVENT_MAX"));
    ck_assert_str_eq(b.base, "ADDED:2;");
    mesh_k8s_watch_parser_free(&p);
    mesh_buf_free(&in);
    mesh_buf_free(&b);
    /* The default limit is the named 16 MiB. */
    mesh_k8s_watch_parser_init(&p, 0);
    ck_assert_uint_eq(p.max_event, (size_t)16 << 20);
    mesh_k8s_watch_parser_free(&p);
}
END_TEST

static int stop_after_one(const mesh_k8s_watch_event_t *ev, void *ud)
{
    record(ev, ud);
    return 1;
}

START_TEST(test_watch_stop_keeps_rest)
{
    mesh_k8s_watch_parser_t p;
    mesh_k8s_watch_parser_init(&p, 0);
    mesh_buf_t b = MESH_BUF_INIT;
    const char *in = "{\"type\":\"ADDED\",\"object\":{}}\n{\"type\":\"DELETED\",\"object\":{}}\n";
    ck_assert_int_eq(mesh_k8s_watch_feed(&p, in, strlen(in), stop_after_one, &b), MESH_K8S_WATCH_ESTOPPED);
    ck_assert_str_eq(b.base, "ADDED:-;");
    ck_assert_int_eq(mesh_k8s_watch_feed(&p, "", 0, record, &b), 0);
    ck_assert_str_eq(b.base, "ADDED:-;DELETED:-;");
    mesh_k8s_watch_parser_free(&p);
    mesh_buf_free(&b);
}
END_TEST

START_TEST(test_watch_410_forms)
{
    const char *yes[] = {
        "{\"kind\":\"Status\",\"code\":410,\"reason\":\"Expired\",\"message\":\"too old resource version: 5 (9)\"}",
        "{\"kind\":\"Status\",\"code\":410,\"reason\":\"Gone\"}",
        "{\"kind\":\"Status\",\"code\":410}",
    };
    const char *no[] = {
        "{\"kind\":\"Status\",\"code\":500,\"reason\":\"InternalError\"}",
        "{\"kind\":\"Status\",\"code\":410,\"reason\":\"NotFound\"}",
        "{\"kind\":\"Status\",\"code\":\"410\",\"reason\":\"Expired\"}",
        "[]",
    };
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        json_t *s = json_loads(yes[i], 0, NULL);
        ck_assert_int_eq(mesh_k8s_status_is_expired(s), 1);
        json_decref(s);
    }
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        json_t *s = json_loads(no[i], JSON_DECODE_ANY, NULL);
        ck_assert_int_eq(mesh_k8s_status_is_expired(s), 0);
        json_decref(s);
    }
    ck_assert_int_eq(mesh_k8s_status_is_expired(NULL), 0);
}
END_TEST

Suite *k8s_watch_suite(void)
{
    Suite *s = suite_create("k8s_watch");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_watch_every_split);
    tcase_add_test(tc, test_watch_random_splits);
    tcase_add_test(tc, test_watch_garbage_lines);
    tcase_add_test(tc, test_watch_oversize);
    tcase_add_test(tc, test_watch_stop_keeps_rest);
    tcase_add_test(tc, test_watch_410_forms);
    suite_add_tcase(s, tc);
    return s;
}
