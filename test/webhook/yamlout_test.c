/* wh_yaml_emit (our writer) gives the bytes wh_yaml_emit_libyaml (libyaml's
 * emitter, what `cmesh inject` wrote before) gives: fixed scalars that reach
 * every quoting and block rule, pseudo-random trees, every YAML and JSON
 * fixture of the repository's tests as it is and after `cmesh inject` with
 * and without --manual. The output also reads back, through libyaml's parser,
 * as the tree it came from. */
#include <check.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/buf.h"
#include "mesh/yamljson.h"
#include "wh/manifest.h"
#include "wh/values.h"

static void roundtrip(const json_t *j, const mesh_buf_t *b, const char *what)
{
    json_t *back = NULL;
    char err[256];
    ck_assert_msg(mesh_yaml_load_all(b->base, b->len, &back, err, sizeof err) == 0, "%s: %s\n%s",
                  what, err, b->base);
    /* Our loader drops a document that is only `null`, as kubectl does. */
    json_t *want = json_is_null(j) ? json_array() : json_pack("[O]", j);
    ck_assert_msg(json_equal(want, back), "%s: reads back differently:\n%s", what, b->base);
    json_decref(want);
    json_decref(back);
}

/* Both writers, byte equality; `rt`: also parse the output back. */
static void same_as_libyaml(const json_t *j, int rt, const char *what)
{
    mesh_buf_t want = MESH_BUF_INIT, got = MESH_BUF_INIT;
    ck_assert_msg(wh_yaml_emit_libyaml(j, &want) == 0, "%s: libyaml failed", what);
    ck_assert_msg(wh_yaml_emit(j, &got) == 0, "%s: wh_yaml_emit failed", what);
    ck_assert_msg(got.len == want.len && memcmp(got.base, want.base, got.len) == 0,
                  "%s differs.\n--- libyaml (%zu bytes):\n%s\n--- ours (%zu bytes):\n%s", what,
                  want.len, want.base, got.len, got.base);
    ck_assert_int_eq(got.base[got.len], '\0');
    if (rt)
        roundtrip(j, &got, what);
    mesh_buf_free(&want);
    mesh_buf_free(&got);
}

/* Strings that reach each of libyaml's rules: indicators first, inside and
 * last, document markers, leading/trailing spaces and breaks, space-break
 * and break-space, every break kind, non-printable and non-ASCII
 * characters, and the words and numbers our quoting rule catches. */
static const char *const tricky[] = {
    "", "a", "web", "linkerd.io/inject", "100m", "4143", "0", "-1", "1.5", "1e3", ".5", ".inf",
    "0x1F", "0o17", "0b1", "+1", "~", "null", "Null", "NULL", "true", "True", "TRUE", "false",
    "yes", "no", "on", "off", "y", "n", "Yes", "No", "On", "Off", "nan", "Inf", "ok", "tRue",
    "inf", "INF", "infinity", "-inf", "+Infinity", "NaN", "nAn", "nanx", "nan(1)", "inx", "nax",
    "i", "N", "Y", "O", "T", "F", "~x", "x~", " 1", "\t1", "\n1", "1 ", "0x", "0o", "0xg",
    "0x1p3", "1_000", "1e", "1e+", "0.", "+.5", "-.", "..", "1.2.3", "08", "0b", "12:30",
    "-", "--", "---", "---x", "----", "...", "..x", "....", "?", "?x", "? x", ":", ":x", ": x",
    "x:", "x:y", "x: y", "x :", "a#b", "a #b", "#a", "a#", ",a", "a,b", "[a]", "a[0]", "{a}",
    "a{b}", "&a", "a&b", "*a", "a*", "!a", "a!", "|a", "a|", ">a", "a>b", "'a", "a'b", "a'",
    "\"a", "a\"b", "%a", "a%", "@a", "a@b", "`a", "a`", "-a", "- a", "-\ta", "a-",
    " a", "a ", " ", "  ", "a  b", "a b c", "a\tb", "\ta", "a\t",
    "a\nb", "a\n", "a\n\n", "\n", "\n\n", "\na", "\n a", " \na", "a \nb", "a\n b", "a\n\nb",
    "a\r", "a\rb", "\r\n", "a\r\nb", "a\xc2\x85" "b", "a\xe2\x80\xa8" "b", "a\xe2\x80\xa9" "b",
    "a\xe2\x80\xa8", "\xe2\x80\xa9", "a\n\xe2\x80\xa8",
    "\x01", "a\x1b" "b", "\x7f", "\x08\x0b\x0c\x07", "caf\xc3\xa9", "\xc2\xa0", "a\xc2\xa0",
    "\xc2\x80", "\xc2\x9f", "\xe4\xb8\xad\xe6\x96\x87", "\xf0\x9f\x98\x80", "a\xf0\x9f\x98\x80\n",
    "\xef\xbb\xbf", "a\xef\xbb\xbf" "b", "\xef\xbf\xbe", "\xef\xbf\xbd", "\xee\x80\x80",
    "\xed\x9f\xbf", "a\\b", "\\", "a\"\n", "it's", "'quoted'", "\"dq\"",
    "{\"ns\":\"$(_pod_ns)\", \"pod\":\"$(_pod_name)\"}", "$(_pod_sa).$(_pod_ns).svc",
    "warn,linkerd=info,[{headers}]=off", "10.0.0.0/8,fd00::/8", "127.0.0.1:4140", "[::1]:80",
    "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
    "line one\n  indented\n\ttab\n", "trailing space \nx", "x\n \n", "#!/bin/sh\nexit 0\n",
};

static json_t *str(const char *s)
{
    json_t *j = json_string(s);
    ck_assert_ptr_nonnull(j);
    return j;
}

START_TEST(test_yamlout_scalars_every_position)
{
    char what[96];
    for (size_t i = 0; i < sizeof tricky / sizeof tricky[0]; i++) {
        const char *s = tricky[i];
        snprintf(what, sizeof what, "tricky[%zu]", i);
        json_t *docs[] = {
            str(s),                                          /* root scalar */
            json_pack("{s:o}", "k", str(s)),                 /* mapping value */
            json_pack("{s:i}", s, 1),                        /* key */
            json_pack("{s:{s:o}}", s, s, str(s)),            /* key over a mapping */
            json_pack("{s:[o,o]}", s, str(s), str(s)),       /* key over a sequence */
            json_pack("[o,[o,{s:o}],{}]", str(s), str(s), s, str(s)), /* items */
            json_pack("{s:[[o]],s:{}}", "a", str(s), "b"),
            json_pack("[{s:o,s:o}]", s, str(s), "z", str(s)),
        };
        for (size_t d = 0; d < sizeof docs / sizeof docs[0]; d++) {
            ck_assert_ptr_nonnull(docs[d]);
            snprintf(what, sizeof what, "tricky[%zu] in shape %zu", i, d);
            same_as_libyaml(docs[d], 1, what);
            json_decref(docs[d]);
        }
    }
}
END_TEST

START_TEST(test_yamlout_long_keys_and_numbers)
{
    /* libyaml writes keys over 128 bytes, and keys with line breaks, as
     * explicit `? key` entries; check the boundary and every value kind
     * under such keys. */
    char key[300];
    for (size_t n = 120; n <= 140; n++) {
        memset(key, 'k', n);
        key[n] = '\0';
        json_t *j = json_pack("{s:s,s:{s:i},s:[s,s],s:{},s:s}", key, "v", "x", key, 1, "y", "a",
                              key, key, "\xc3\xa9", "z", key);
        same_as_libyaml(j, 1, "long key");
        json_decref(j);
        key[n / 2] = ' ';
        j = json_pack("{s:[i],s:s}", key, 7, "b", "a\nb");
        same_as_libyaml(j, 1, "long key with space");
        json_decref(j);
    }
    json_t *j = json_pack("{s:s,s:[i,i,f,f,f,f,b,b,n],s:{s:n},s:[[[]]],s:[{}]}", "a\nkey", "v", "n",
                          (json_int_t)-9223372036854775807LL - 1, (json_int_t)9223372036854775807LL,
                          0.1, -0.0, 1e300, 123456789.0, 1, 0, "k\r", "x", "e", "f");
    same_as_libyaml(j, 1, "numbers");
    json_decref(j);
    /* Empty collections at the root. */
    json_t *e[] = {json_object(), json_array(), json_integer(5), json_true(), json_null(),
                   json_real(2.5)};
    for (size_t i = 0; i < sizeof e / sizeof e[0]; i++) {
        same_as_libyaml(e[i], 1, "root");
        json_decref(e[i]);
    }
}
END_TEST

static unsigned long long rng_state;
static unsigned rnd(unsigned n)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (unsigned)((rng_state >> 33) % n);
}

static json_t *random_string(void)
{
    static const char *const pieces[] = {
        "a", "Z", "0", "1", ".", "-", "--", "?", ":", "#", ",", "[", "]", "{", "}", "&", "*",
        "!", "|", ">", "'", "\"", "%", "@", "`", "\\", "/", "~", " ", "  ", "\n", "\r", "\t",
        "\x01", "\x7f", "\xc3\xa9", "\xe4\xb8\xad", "\xf0\x9f\x98\x80", "\xc2\x85",
        "\xe2\x80\xa8", "\xe2\x80\xa9", "\xef\xbb\xbf", "\xc2\xa0", "\xef\xbf\xbe", "true",
        "null", "yes", "0x", "e5", "linkerd.io/", "---", "...",
    };
    char buf[400];
    size_t n = 0, want = rnd(8) == 0 ? 30 + rnd(60) : rnd(7);
    for (size_t i = 0; i < want; i++) {
        const char *p = pieces[rnd(sizeof pieces / sizeof pieces[0])];
        size_t l = strlen(p);
        memcpy(buf + n, p, l);
        n += l;
    }
    buf[n] = '\0';
    return json_string(buf);
}

static json_t *random_tree(int depth)
{
    unsigned kind = depth > 6 ? 2 + rnd(6) : rnd(9);
    switch (kind) {
    case 0:
    case 8: {
        json_t *o = json_object();
        for (unsigned i = rnd(5); i > 0; i--) {
            json_t *k = random_string();
            json_object_set_new(o, json_string_value(k), random_tree(depth + 1));
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
    case 2:
    case 3: return random_string();
    case 4: return json_integer((json_int_t)rnd(1u << 31) - (json_int_t)rnd(1u << 31) * 4);
    case 5: return json_real((double)rnd(100000) / (double)(1 + rnd(1000)));
    case 6: return rnd(2) ? json_true() : json_false();
    default: return json_null();
    }
}

START_TEST(test_yamlout_random_trees)
{
    rng_state = 5;
    char what[64];
    for (int i = 0; i < 4000; i++) {
        json_t *j = random_tree(0);
        ck_assert_ptr_nonnull(j);
        snprintf(what, sizeof what, "random tree %d", i);
        same_as_libyaml(j, 1, what);
        json_decref(j);
    }
}
END_TEST

/* Every document of every YAML and JSON file the tests keep, as it is and
 * after `cmesh inject` (annotation and --manual). */
static void emit_docs_of(const char *path, wh_values_t *v, int *ndocs)
{
    json_t *docs = NULL;
    char err[256], what[512];
    if (mesh_yaml_load_file(path, &docs, err, sizeof err) < 0)
        return; /* templates and invalid inputs on purpose */
    size_t i;
    json_t *d;
    json_array_foreach(docs, i, d) {
        snprintf(what, sizeof what, "%s doc %zu", path, i);
        same_as_libyaml(d, 1, what);
        (*ndocs)++;
        /* Fixture files hold pods under cases[].object; inject those too. */
        json_t *objs = json_array();
        json_array_append(objs, d);
        size_t k;
        json_t *c;
        json_array_foreach(json_object_get(d, "cases"), k, c) {
            if (json_object_get(c, "object"))
                json_array_append(objs, json_object_get(c, "object"));
        }
        json_t *o;
        json_array_foreach(objs, k, o) {
            for (int manual = 0; manual < 2; manual++) {
                json_t *copy = json_deep_copy(o);
                wh_manifest_report_t rep = {0};
                if (wh_manifest_inject(v, copy, manual, "cmesh/cli test", &rep, err, sizeof err) == 0) {
                    snprintf(what, sizeof what, "%s doc %zu object %zu injected (manual=%d)", path,
                             i, k, manual);
                    same_as_libyaml(copy, 1, what);
                    (*ndocs)++;
                }
                json_decref(copy);
            }
        }
        json_decref(objs);
    }
    json_decref(docs);
}

START_TEST(test_yamlout_fixtures)
{
    const char *root = getenv("CMESH_ROOT");
    char pat[4096], err[256];
    wh_values_t v = {0};
    ck_assert_int_eq(wh_values_load_file(&v, NULL, err, sizeof err), 0);
    v.control_plane_ns = "linkerd";
    ck_assert_int_eq(wh_values_set_anchors(&v, "-----BEGIN CERTIFICATE-----\nMIIB\n"
                                               "-----END CERTIFICATE-----\n"), 0);
    static const char *const globs[] = {"test/*/*.yaml", "test/*/*/*.yaml", "test/*/*.json",
                                        "test/*/*/*.json", "charts/*/*.yaml"};
    int files = 0, ndocs = 0;
    for (size_t g = 0; g < sizeof globs / sizeof globs[0]; g++) {
        snprintf(pat, sizeof pat, "%s/%s", root ? root : ".", globs[g]);
        glob_t gl;
        if (glob(pat, 0, NULL, &gl) != 0)
            continue;
        for (size_t i = 0; i < gl.gl_pathc; i++, files++)
            emit_docs_of(gl.gl_pathv[i], &v, &ndocs);
        globfree(&gl);
    }
    wh_values_free(&v);
    /* The webhook fixtures alone are more than this; fewer means the files
     * were not found and the test would prove nothing. */
    ck_assert_msg(files >= 10 && ndocs >= 100, "only %d files, %d documents", files, ndocs);
}
END_TEST

START_TEST(test_yamlout_appends_and_fails_cleanly)
{
    mesh_buf_t b = MESH_BUF_INIT;
    ck_assert_int_eq(mesh_buf_append(&b, "x: 1\n", 5), 0);
    json_t *j = json_pack("{s:[s,s]}", "a", "b", "c\nd");
    ck_assert_int_eq(wh_yaml_emit(j, &b), 0);
    ck_assert_str_eq(b.base, "x: 1\n---\na:\n- b\n- |-\n  c\n  d\n");
    json_decref(j);
    /* Invalid UTF-8 (only possible through jansson's unchecked setters) is
     * refused, as libyaml refuses it, and the buffer is left as it was. */
    size_t before = b.len;
    j = json_pack("{s:o}", "k", json_stringn_nocheck("a\xff", 2));
    ck_assert_int_eq(wh_yaml_emit(j, &b), -1);
    mesh_buf_t ref = MESH_BUF_INIT;
    ck_assert_int_eq(wh_yaml_emit_libyaml(j, &ref), -1);
    mesh_buf_free(&ref);
    ck_assert_uint_eq(b.len, before);
    json_decref(j);
    j = json_pack("[o]", json_stringn_nocheck("\xc0\x80", 2)); /* overlong NUL */
    ck_assert_int_eq(wh_yaml_emit(j, &b), -1);
    json_decref(j);
    /* Nesting deeper than the limit: refused, no crash. */
    json_t *root = json_array(), *cur = root;
    for (int i = 0; i < 600; i++) {
        json_t *next = json_array();
        json_array_append_new(cur, next);
        cur = next;
    }
    json_array_append_new(cur, json_integer(1));
    ck_assert_int_eq(wh_yaml_emit(root, &b), -1);
    ck_assert_uint_eq(b.len, before);
    json_decref(root);
    mesh_buf_free(&b);
}
END_TEST

Suite *yamlout_suite(void)
{
    Suite *s = suite_create("yamlout");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_yamlout_scalars_every_position);
    tcase_add_test(tc, test_yamlout_long_keys_and_numbers);
    tcase_add_test(tc, test_yamlout_random_trees);
    tcase_add_test(tc, test_yamlout_fixtures);
    tcase_add_test(tc, test_yamlout_appends_and_fails_cleanly);
    suite_add_tcase(s, tc);
    return s;
}
