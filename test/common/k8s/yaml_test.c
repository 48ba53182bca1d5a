/* YAML -> jansson conversion. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/yamljson.h"

static char *conv(const char *yaml)
{
    json_t *docs;
    char err[256];
    ck_assert_msg(mesh_yaml_load_all(yaml, strlen(yaml), &docs, err, sizeof(err)) == 0, "%s", err);
    char *s = json_dumps(docs, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    json_decref(docs);
    return s;
}

#define CONV_EQ(yaml, want)                 \
    do {                                    \
        char *got_ = conv(yaml);            \
        ck_assert_str_eq(got_, want);       \
        free(got_);                         \
    } while (0)

START_TEST(test_yaml_scalar_types)
{
    CONV_EQ("a: 1\nb: -7\nc: 0x1F\nd: 0o17\ne: 1.5\nf: true\ng: False\nh: null\ni: ~\nj:\n"
            "k: '1'\nl: \"true\"\nm: yes\nn: 1.2.3\no: .inf\np: 007\n",
            "[{\"a\":1,\"b\":-7,\"c\":31,\"d\":15,\"e\":1.5,\"f\":true,\"g\":false,\"h\":null,\"i\":null,"
            "\"j\":null,\"k\":\"1\",\"l\":\"true\",\"m\":\"yes\",\"n\":\"1.2.3\",\"o\":\".inf\",\"p\":7}]");
    /* Explicit tags win; block scalars are strings. */
    CONV_EQ("a: !!str 12\nb: !!int \"12\"\nc: |\n  line1\n  line2\nd: >\n  folded\n  text\n",
            "[{\"a\":\"12\",\"b\":12,\"c\":\"line1\\nline2\\n\",\"d\":\"folded text\\n\"}]");
    /* Numeric keys stay strings; containers in flow style. */
    CONV_EQ("80: http\nlist: [1, two, {k: v}]\n", "[{\"80\":\"http\",\"list\":[1,\"two\",{\"k\":\"v\"}]}]");
}
END_TEST

START_TEST(test_yaml_multi_doc_anchors_merge)
{
    CONV_EQ("---\na: 1\n---\n# only a comment\n---\n- x\n- y\n", "[{\"a\":1},[\"x\",\"y\"]]");
    CONV_EQ("base: &b {x: 1, y: 2}\nd:\n  <<: *b\n  y: 3\nref: *b\n",
            "[{\"base\":{\"x\":1,\"y\":2},\"d\":{\"x\":1,\"y\":3},\"ref\":{\"x\":1,\"y\":2}}]");
    CONV_EQ("s: &v hello\nt: *v\n", "[{\"s\":\"hello\",\"t\":\"hello\"}]");
}
END_TEST

START_TEST(test_yaml_errors)
{
    json_t *docs;
    char err[256];
    const char *bad = "a: [1, 2\nb: 3\n";
    ck_assert_int_eq(mesh_yaml_load_all(bad, strlen(bad), &docs, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "line"));
    const char *alias = "a: *nope\n";
    ck_assert_int_eq(mesh_yaml_load_all(alias, strlen(alias), &docs, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "unknown alias"));
    const char *cplx = "? [a, b]\n: c\n";
    ck_assert_int_eq(mesh_yaml_load_all(cplx, strlen(cplx), &docs, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "key must be a scalar"));
    const char *tag = "a: !!int abc\n";
    ck_assert_int_eq(mesh_yaml_load_all(tag, strlen(tag), &docs, err, sizeof(err)), -1);
    /* Alias bomb: each level doubles; refused by the node limit. */
    char bomb[2048] = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
    for (int i = 1; i < 20; i++) {
        char line[96];
        snprintf(line, sizeof(line), "a%d: &a%d [*a%d, *a%d, *a%d, *a%d]\n", i, i, i - 1, i - 1, i - 1, i - 1);
        strcat(bomb, line);
    }
    ck_assert_int_eq(mesh_yaml_load_all(bomb, strlen(bomb), &docs, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "MESH_YAML_MAX_NODES"));
    /* The limit is per document: many documents whose nodes add up to more
     * than MESH_YAML_MAX_NODES still load. */
    {
        const char *doc = "---\n[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]\n";
        size_t dl = strlen(doc), ndocs = MESH_YAML_MAX_NODES / 20 + 10;
        char *many = malloc(dl * ndocs + 1);
        for (size_t i = 0; i < ndocs; i++)
            memcpy(many + i * dl, doc, dl);
        many[dl * ndocs] = '\0';
        ck_assert_int_eq(mesh_yaml_load_all(many, dl * ndocs, &docs, err, sizeof(err)), 0);
        ck_assert_uint_eq(json_array_size(docs), ndocs);
        json_decref(docs);
        free(many);
    }
    /* Too deep. */
    char deep[1024] = "";
    for (int i = 0; i < 200; i++)
        strcat(deep, "[");
    ck_assert_int_eq(mesh_yaml_load_all(deep, strlen(deep), &docs, err, sizeof(err)), -1);
    /* load_one wants exactly one document. */
    json_t *one;
    const char *two = "a: 1\n---\nb: 2\n";
    ck_assert_int_eq(mesh_yaml_load_one(two, strlen(two), &one, err, sizeof(err)), -1);
    ck_assert_int_eq(mesh_yaml_load_one("a: 1", 4, &one, err, sizeof(err)), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(one, "a")), 1);
    json_decref(one);
    ck_assert_int_eq(mesh_yaml_load_file("/nonexistent/x.yaml", &docs, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent/x.yaml"));
}
END_TEST

Suite *k8s_yaml_suite(void)
{
    Suite *s = suite_create("k8s_yaml");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_yaml_scalar_types);
    tcase_add_test(tc, test_yaml_multi_doc_anchors_merge);
    tcase_add_test(tc, test_yaml_errors);
    suite_add_tcase(s, tc);
    return s;
}
