/* RFC 6902 apply over jansson, for the CLI and the tests. */
#include "wh/jsonpatch.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Unescapes one reference token [s, e) into out; -1 on a bad escape. */
static int unescape(const char *s, const char *e, char *out, size_t cap)
{
    size_t n = 0;
    for (const char *p = s; p < e; p++) {
        char c = *p;
        if (c == '~') {
            if (p + 1 >= e || (p[1] != '0' && p[1] != '1'))
                return -1;
            c = p[1] == '0' ? '~' : '/';
            p++;
        }
        if (n + 1 >= cap)
            return -1;
        out[n++] = c;
    }
    out[n] = '\0';
    return 0;
}

/* Index of token in an array of `size` (size itself allowed when `end_ok`
 * and for "-"); -1 when invalid. */
static long array_index(const char *tok, size_t size, int end_ok)
{
    if (strcmp(tok, "-") == 0)
        return end_ok ? (long)size : -1;
    if (tok[0] == '\0' || (tok[0] == '0' && tok[1] != '\0'))
        return -1;
    char *end;
    long i = strtol(tok, &end, 10);
    if (*end != '\0' || i < 0 || (size_t)i > size || ((size_t)i == size && !end_ok))
        return -1;
    return i;
}

/* Walks to the parent of the last token; *last receives that token. */
static json_t *resolve_parent(json_t *doc, const char *path, char *last, size_t cap)
{
    json_t *cur = doc;
    const char *p = path + 1;
    for (;;) {
        const char *slash = strchr(p, '/');
        const char *e = slash ? slash : p + strlen(p);
        if (unescape(p, e, last, cap) < 0)
            return NULL;
        if (slash == NULL)
            return cur;
        if (json_is_object(cur)) {
            cur = json_object_get(cur, last);
        } else if (json_is_array(cur)) {
            long i = array_index(last, json_array_size(cur), 0);
            cur = i < 0 ? NULL : json_array_get(cur, (size_t)i);
        } else {
            return NULL;
        }
        if (cur == NULL)
            return NULL;
        p = slash + 1;
    }
}

static int fail(char *err, size_t errlen, size_t i, const char *what, const char *path)
{
    snprintf(err, errlen, "operation %zu: %s (path \"%.128s\")", i, what, path ? path : "");
    return -1;
}

/* The value to insert: a deep copy, or, when the caller gives the patch up
 * and nothing but the patch holds the value, the value itself. */
static json_t *take(json_t *value, bool consume)
{
    if (consume && value->refcount == 1)
        return json_incref(value);
    return json_deep_copy(value);
}

static int apply(json_t **doc, const json_t *patch, bool consume, char *err, size_t errlen)
{
    if (!json_is_array(patch))
        return fail(err, errlen, 0, "a patch must be an array", NULL);
    size_t i;
    json_t *op;
    json_array_foreach(patch, i, op) {
        const char *kind = json_string_value(json_object_get(op, "op"));
        const char *path = json_string_value(json_object_get(op, "path"));
        json_t *value = json_object_get(op, "value");
        if (kind == NULL || path == NULL)
            return fail(err, errlen, i, "missing op or path", path);
        int is_add = strcmp(kind, "add") == 0, is_rm = strcmp(kind, "remove") == 0;
        int is_rep = strcmp(kind, "replace") == 0, is_test = strcmp(kind, "test") == 0;
        if (!is_add && !is_rm && !is_rep && !is_test)
            return fail(err, errlen, i, "unsupported op", path);
        if (!is_rm && value == NULL)
            return fail(err, errlen, i, "missing value", path);
        if (path[0] == '\0') {
            if (is_test) {
                if (!json_equal(*doc, value))
                    return fail(err, errlen, i, "test failed", path);
                continue;
            }
            if (is_rm)
                return fail(err, errlen, i, "cannot remove the document", path);
            json_decref(*doc);
            *doc = take(value, consume);
            continue;
        }
        if (path[0] != '/')
            return fail(err, errlen, i, "a path must start with /", path);
        char last[1024];
        json_t *parent = resolve_parent(*doc, path, last, sizeof last);
        if (parent == NULL)
            return fail(err, errlen, i, "no such parent", path);
        if (json_is_object(parent)) {
            json_t *cur = json_object_get(parent, last);
            if ((is_rm || is_rep || is_test) && cur == NULL)
                return fail(err, errlen, i, "no such member", path);
            if (is_test) {
                if (!json_equal(cur, value))
                    return fail(err, errlen, i, "test failed", path);
            } else if (is_rm) {
                json_object_del(parent, last);
            } else if (json_object_set_new(parent, last, take(value, consume)) < 0) {
                return fail(err, errlen, i, "out of memory", path);
            }
        } else if (json_is_array(parent)) {
            long idx = array_index(last, json_array_size(parent), is_add);
            if (idx < 0)
                return fail(err, errlen, i, "bad array index", path);
            if (is_test) {
                if (!json_equal(json_array_get(parent, (size_t)idx), value))
                    return fail(err, errlen, i, "test failed", path);
            } else if (is_rm) {
                json_array_remove(parent, (size_t)idx);
            } else if (is_rep) {
                json_array_set_new(parent, (size_t)idx, take(value, consume));
            } else if (json_array_insert_new(parent, (size_t)idx, take(value, consume)) < 0) {
                return fail(err, errlen, i, "out of memory", path);
            }
        } else {
            return fail(err, errlen, i, "parent is not a container", path);
        }
    }
    return 0;
}

int wh_jsonpatch_apply(json_t **doc, const json_t *patch, char *err, size_t errlen)
{
    return apply(doc, patch, false, err, errlen);
}

int wh_jsonpatch_apply_consume(json_t **doc, json_t *patch, char *err, size_t errlen)
{
    int rc = apply(doc, patch, true, err, errlen);
    json_decref(patch);
    return rc;
}
