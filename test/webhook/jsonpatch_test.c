/* JSON Pointer escaping (RFC 6901) and JSON Patch application (RFC 6902). */
#include <check.h>
#include <string.h>

#include "wh/inject.h"
#include "wh/jsonpatch.h"

START_TEST(test_jsonpatch_pointer_escape)
{
    char out[64];
    ck_assert_uint_eq(wh_pointer_escape(out, sizeof out, "linkerd.io/inject"), 18);
    ck_assert_str_eq(out, "linkerd.io~1inject");
    ck_assert_uint_eq(wh_pointer_escape(out, sizeof out, "a~b/c~/"), 11);
    ck_assert_str_eq(out, "a~0b~1c~0~1");
    /* ~1 must not turn into ~01 or back into '/': '~' is escaped first. */
    wh_pointer_escape(out, sizeof out, "~1");
    ck_assert_str_eq(out, "~01");
    ck_assert_uint_eq(wh_pointer_escape(out, sizeof out, ""), 0);
    ck_assert_str_eq(out, "");
    /* Too small: the needed length is returned and the output stays a string. */
    char small[5];
    ck_assert_uint_eq(wh_pointer_escape(small, sizeof small, "a/b/c/d"), 10);
    ck_assert_uint_lt(strlen(small), sizeof small);
}
END_TEST

static json_t *apply(const char *doc, const char *patch, int *rc, char *err, size_t errlen)
{
    json_t *d = json_loads(doc, JSON_DECODE_ANY, NULL);
    json_t *p = json_loads(patch, 0, NULL);
    ck_assert_ptr_nonnull(d);
    ck_assert_ptr_nonnull(p);
    *rc = wh_jsonpatch_apply(&d, p, err, errlen);
    json_decref(p);
    return d;
}

static void expect(const char *doc, const char *patch, const char *want)
{
    char err[256] = "";
    int rc;
    json_t *d = apply(doc, patch, &rc, err, sizeof err);
    ck_assert_msg(rc == 0, "%s: %s", patch, err);
    json_t *w = json_loads(want, JSON_DECODE_ANY, NULL);
    ck_assert_ptr_nonnull(w);
    char *got = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    ck_assert_msg(json_equal(d, w), "%s -> %s, want %s", patch, got, want);
    free(got);
    json_decref(w);
    json_decref(d);
}

static void expect_error(const char *doc, const char *patch, const char *needle)
{
    char err[256] = "";
    int rc;
    json_t *d = apply(doc, patch, &rc, err, sizeof err);
    ck_assert_msg(rc == -1, "%s applied", patch);
    ck_assert_msg(strstr(err, needle) != NULL, "%s: error '%s' lacks '%s'", patch, err, needle);
    json_decref(d);
}

START_TEST(test_jsonpatch_add)
{
    expect("{}", "[{\"op\":\"add\",\"path\":\"/a\",\"value\":1}]", "{\"a\":1}");
    expect("{\"a\":{}}", "[{\"op\":\"add\",\"path\":\"/a/linkerd.io~1inject\",\"value\":\"enabled\"}]",
           "{\"a\":{\"linkerd.io/inject\":\"enabled\"}}");
    expect("{\"a\":{}}", "[{\"op\":\"add\",\"path\":\"/a/x~0y\",\"value\":true}]",
           "{\"a\":{\"x~y\":true}}");
    expect("{\"l\":[1,2]}", "[{\"op\":\"add\",\"path\":\"/l/0\",\"value\":0}]", "{\"l\":[0,1,2]}");
    expect("{\"l\":[1,2]}", "[{\"op\":\"add\",\"path\":\"/l/2\",\"value\":3}]", "{\"l\":[1,2,3]}");
    expect("{\"l\":[1,2]}", "[{\"op\":\"add\",\"path\":\"/l/-\",\"value\":3}]", "{\"l\":[1,2,3]}");
    /* add replaces an existing member */
    expect("{\"a\":1}", "[{\"op\":\"add\",\"path\":\"/a\",\"value\":2}]", "{\"a\":2}");
    /* the whole document */
    expect("{\"a\":1}", "[{\"op\":\"add\",\"path\":\"\",\"value\":[1]}]", "[1]");
    /* operations see the earlier ones */
    expect("{}",
           "[{\"op\":\"add\",\"path\":\"/spec\",\"value\":{}},"
           "{\"op\":\"add\",\"path\":\"/spec/initContainers\",\"value\":[]},"
           "{\"op\":\"add\",\"path\":\"/spec/initContainers/-\",\"value\":{\"name\":\"linkerd-init\"}}]",
           "{\"spec\":{\"initContainers\":[{\"name\":\"linkerd-init\"}]}}");
}
END_TEST

START_TEST(test_jsonpatch_value_is_copied)
{
    json_t *d = json_object();
    json_t *p = json_loads("[{\"op\":\"add\",\"path\":\"/a\",\"value\":{\"b\":1}}]", 0, NULL);
    char err[128];
    ck_assert_int_eq(wh_jsonpatch_apply(&d, p, err, sizeof err), 0);
    json_object_set_new(json_object_get(d, "a"), "c", json_integer(2));
    /* the patch's own value is untouched */
    ck_assert_uint_eq(json_object_size(json_object_get(json_array_get(p, 0), "value")), 1);
    json_decref(p);
    json_decref(d);
}
END_TEST

START_TEST(test_jsonpatch_remove_replace_test)
{
    expect("{\"a\":1,\"b\":2}", "[{\"op\":\"remove\",\"path\":\"/a\"}]", "{\"b\":2}");
    expect("{\"l\":[1,2,3]}", "[{\"op\":\"remove\",\"path\":\"/l/1\"}]", "{\"l\":[1,3]}");
    expect("{\"a\":1}", "[{\"op\":\"replace\",\"path\":\"/a\",\"value\":\"x\"}]", "{\"a\":\"x\"}");
    expect("{\"l\":[1,2]}", "[{\"op\":\"replace\",\"path\":\"/l/1\",\"value\":9}]", "{\"l\":[1,9]}");
    expect("{\"a\":{\"b\":[1]}}", "[{\"op\":\"test\",\"path\":\"/a\",\"value\":{\"b\":[1]}}]",
           "{\"a\":{\"b\":[1]}}");
}
END_TEST

START_TEST(test_jsonpatch_errors)
{
    expect_error("{}", "[{\"op\":\"add\",\"path\":\"/a/b\",\"value\":1}]", "");
    expect_error("{\"l\":[1]}", "[{\"op\":\"add\",\"path\":\"/l/2\",\"value\":1}]", "");
    expect_error("{\"l\":[1]}", "[{\"op\":\"add\",\"path\":\"/l/01\",\"value\":1}]", "");
    expect_error("{\"l\":[1]}", "[{\"op\":\"add\",\"path\":\"/l/x\",\"value\":1}]", "");
    expect_error("{\"l\":[1]}", "[{\"op\":\"remove\",\"path\":\"/l/-\"}]", "");
    expect_error("{}", "[{\"op\":\"remove\",\"path\":\"/a\"}]", "");
    expect_error("{}", "[{\"op\":\"replace\",\"path\":\"/a\",\"value\":1}]", "");
    expect_error("{\"a\":1}", "[{\"op\":\"test\",\"path\":\"/a\",\"value\":2}]", "");
    expect_error("{}", "[{\"op\":\"move\",\"from\":\"/a\",\"path\":\"/b\"}]", "");
    expect_error("{}", "[{\"op\":\"add\",\"path\":\"a\",\"value\":1}]", "");
    expect_error("{}", "[{\"op\":\"add\",\"value\":1}]", "");
    expect_error("{}", "[{\"op\":\"add\",\"path\":\"/a\"}]", "");
    expect_error("{}", "[1]", "");
    /* the failing operation is named (its index) */
    expect_error("{}",
                 "[{\"op\":\"add\",\"path\":\"/a\",\"value\":1},{\"op\":\"remove\",\"path\":\"/zz\"}]",
                 "1");
}
END_TEST

START_TEST(test_jsonpatch_consume_moves_only_unshared_values)
{
    json_t *shared = json_pack("{s:s}", "k", "v");
    json_t *own = json_pack("{s:i}", "n", 1);
    json_t *patch = json_pack("[{s:s, s:s, s:O}, {s:s, s:s, s:o}, {s:s, s:s, s:i}]", "op", "add",
                              "path", "/shared", "value", shared, "op", "add", "path", "/own",
                              "value", own, "op", "add", "path", "/own/m", "value", 2);
    json_t *doc = json_object();
    char err[128];
    ck_assert_int_eq(wh_jsonpatch_apply_consume(&doc, patch, err, sizeof err), 0);
    /* the unshared value moved (same node) and later operations see it */
    ck_assert_ptr_eq(json_object_get(doc, "own"), own);
    ck_assert_int_eq(json_integer_value(json_object_get(own, "m")), 2);
    /* the shared one was copied: changing the document leaves it alone */
    ck_assert_ptr_ne(json_object_get(doc, "shared"), shared);
    json_object_set_new(json_object_get(doc, "shared"), "k", json_string("changed"));
    ck_assert_str_eq(json_string_value(json_object_get(shared, "k")), "v");
    json_decref(shared);
    json_decref(doc);
    /* errors are reported the same way, and the patch is still released */
    doc = json_object();
    patch = json_loads("[{\"op\":\"remove\",\"path\":\"/x\"}]", 0, NULL);
    ck_assert_int_eq(wh_jsonpatch_apply_consume(&doc, patch, err, sizeof err), -1);
    json_decref(doc);
}
END_TEST

Suite *jsonpatch_suite(void)
{
    Suite *s = suite_create("jsonpatch");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_jsonpatch_pointer_escape);
    tcase_add_test(tc, test_jsonpatch_add);
    tcase_add_test(tc, test_jsonpatch_value_is_copied);
    tcase_add_test(tc, test_jsonpatch_remove_replace_test);
    tcase_add_test(tc, test_jsonpatch_errors);
    tcase_add_test(tc, test_jsonpatch_consume_moves_only_unshared_values);
    suite_add_tcase(s, tc);
    return s;
}
