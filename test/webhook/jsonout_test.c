/* The compact JSON writer gives json_dumps(JSON_COMPACT | JSON_ENCODE_ANY)'s
 * bytes exactly: fixed documents covering every type and escape, and
 * pseudo-random trees. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "../../webhook/internal.h"
#include "mesh/buf.h"

static void same_as_jansson(const json_t *j)
{
    char *want = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    ck_assert_ptr_nonnull(want);
    mesh_buf_t b = MESH_BUF_INIT;
    ck_assert_int_eq(wh__json_dump(j, &b), 0);
    ck_assert_uint_eq(b.len, strlen(want));
    ck_assert_str_eq(b.base, want);
    mesh_buf_free(&b);
    free(want);
}

START_TEST(test_jsonout_fixed_documents)
{
    static const char *const docs[] = {
        "{}", "[]", "null", "true", "false", "0", "-9223372036854775808", "9223372036854775807",
        "\"\"", "1.5", "-0.0", "1e300", "3.141592653589793", "[1.0,2.25,1e-7]",
        "{\"a\":{\"b\":[{},[],{\"c\":null}]}}",
        "\"quote \\\" backslash \\\\ slash / tab \\t nl \\n cr \\r bs \\b ff \\f\"",
        "\"ctl \\u0001\\u001f\\u0000 end\"", "\"utf8 \\u00e9\\u4e2d\\ud83d\\ude00\"",
        "{\"k\\u007fey\":1,\"\\u00fcber\":\"x\",\"~/\":[\"~0~1\"]}",
        "{\"z\":1,\"a\":2,\"m\":3}", /* insertion order, not sorted */
        "{\"env\":[{\"name\":\"A\",\"value\":\"-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END "
        "CERTIFICATE-----\\n\"},{\"name\":\"B\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":"
        "\"metadata.name\"}}}]}",
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        json_error_t e;
        json_t *j = json_loads(docs[i], JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
        ck_assert_msg(j != NULL, "doc %zu: %s", i, e.text);
        same_as_jansson(j);
        json_decref(j);
    }
}
END_TEST

/* A small deterministic generator (no libc rand state shared with others). */
static unsigned long long rng_state;
static unsigned rnd(unsigned n)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (unsigned)((rng_state >> 33) % n);
}

static json_t *random_string(void)
{
    static const char *const pieces[] = {"a", "Z", "\"", "\\", "/", "\n", "\t", "\x01", "\x1f",
                                         "\xc3\xa9", "\xe4\xb8\xad", "~", " ", "\x7f", "0"};
    char buf[64];
    size_t n = 0, want = rnd(10);
    for (size_t i = 0; i < want; i++) {
        const char *p = pieces[rnd(sizeof pieces / sizeof pieces[0])];
        size_t l = strlen(p);
        memcpy(buf + n, p, l);
        n += l;
    }
    return json_stringn(buf, n);
}

static json_t *random_tree(int depth)
{
    unsigned kind = depth > 5 ? 2 + rnd(6) : rnd(8);
    switch (kind) {
    case 0: {
        json_t *o = json_object();
        for (unsigned i = rnd(5); i > 0; i--) {
            json_t *k = random_string();
            json_object_setn_new(o, json_string_value(k), json_string_length(k),
                                 random_tree(depth + 1));
            json_decref(k);
        }
        return o;
    }
    case 1: {
        json_t *a = json_array();
        for (unsigned i = rnd(5); i > 0; i--)
            json_array_append_new(a, random_tree(depth + 1));
        return a;
    }
    case 2: return random_string();
    case 3: return json_integer((json_int_t)rnd(1u << 31) - (json_int_t)rnd(1u << 31) * 4);
    case 4: return json_real((double)rnd(100000) / (double)(1 + rnd(1000)));
    case 5: return json_true();
    case 6: return json_false();
    default: return json_null();
    }
}

START_TEST(test_jsonout_random_trees)
{
    rng_state = 42;
    for (int i = 0; i < 2000; i++) {
        json_t *j = random_tree(0);
        ck_assert_ptr_nonnull(j);
        same_as_jansson(j);
        json_decref(j);
    }
}
END_TEST

START_TEST(test_jsonout_appends_and_refuses_null)
{
    mesh_buf_t b = MESH_BUF_INIT;
    ck_assert_int_eq(mesh_buf_append(&b, "x=", 2), 0);
    json_t *j = json_pack("{s:i}", "a", 1);
    ck_assert_int_eq(wh__json_dump(j, &b), 0);
    ck_assert_str_eq(b.base, "x={\"a\":1}");
    ck_assert_int_eq(wh__json_dump(NULL, &b), -1);
    json_decref(j);
    mesh_buf_free(&b);
}
END_TEST

START_TEST(test_jsonout_depth_limit)
{
    /* Deeper than any tree the webhook builds or parses: refused, no crash. */
    json_t *root = json_array(), *cur = root;
    for (int i = 0; i < 5000; i++) {
        json_t *next = json_array();
        json_array_append_new(cur, next);
        cur = next;
    }
    mesh_buf_t b = MESH_BUF_INIT;
    ck_assert_int_eq(wh__json_dump(root, &b), -1);
    mesh_buf_free(&b);
    json_decref(root);
}
END_TEST

Suite *jsonout_suite(void)
{
    Suite *s = suite_create("jsonout");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_jsonout_fixed_documents);
    tcase_add_test(tc, test_jsonout_random_trees);
    tcase_add_test(tc, test_jsonout_appends_and_refuses_null);
    tcase_add_test(tc, test_jsonout_depth_limit);
    suite_add_tcase(s, tc);
    return s;
}
