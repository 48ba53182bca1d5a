/* YAML to jansson; see mesh/yamljson.h. */
#include "mesh/yamljson.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "mesh/mem.h"

typedef struct {
    json_t *node;       /* the object or array being filled */
    char *key;          /* mapping: key waiting for its value, NULL otherwise */
    int key_is_merge;   /* the pending key is a plain `<<` */
    json_t *merges;     /* mapping: values of `<<` keys, applied at the end */
    char *anchor;       /* anchor of this container, registered when it closes */
    size_t start_nodes; /* node count when the container opened */
} frame_t;

typedef struct {
    char *name;
    json_t *value;
    size_t nodes; /* nodes in the anchored subtree, charged again per alias */
} anchor_t;

typedef struct {
    frame_t stack[MESH_YAML_MAX_DEPTH];
    int depth;
    anchor_t *anchors;
    size_t nanchors, capanchors;
    size_t nodes;
    json_t *doc; /* the finished root of the current document */
    char *err;
    size_t errlen;
} builder_t;

static void seterr(builder_t *b, const yaml_mark_t *m, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void seterr(builder_t *b, const yaml_mark_t *m, const char *fmt, ...)
{
    if (b->errlen == 0)
        return;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (m != NULL)
        snprintf(b->err, b->errlen, "yaml: line %zu column %zu: %s", m->line + 1, m->column + 1, msg);
    else
        snprintf(b->err, b->errlen, "yaml: %s", msg);
}

static int match_any(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(s, *list) == 0)
            return 1;
    return 0;
}

static const char *const NULLS[] = {"", "~", "null", "Null", "NULL", NULL};
static const char *const TRUES[] = {"true", "True", "TRUE", NULL};
static const char *const FALSES[] = {"false", "False", "FALSE", NULL};

/* Integer per the YAML 1.2 core schema: [-+]?[0-9]+ | 0o[0-7]+ | 0x[0-9a-fA-F]+. */
static int parse_int(const char *s, json_int_t *out)
{
    int base = 10;
    const char *digits = s;
    if (s[0] == '0' && s[1] == 'x') {
        base = 16;
        digits = s + 2;
    } else if (s[0] == '0' && s[1] == 'o') {
        base = 8;
        digits = s + 2;
    } else if (s[0] == '-' || s[0] == '+') {
        digits = s + 1;
    }
    if (*digits == '\0')
        return -1;
    for (const char *p = digits; *p; p++) {
        int ok = base == 16 ? (p[0] >= '0' && p[0] <= '9') || (p[0] >= 'a' && p[0] <= 'f') ||
                                  (p[0] >= 'A' && p[0] <= 'F')
                 : base == 8 ? (*p >= '0' && *p <= '7')
                             : (*p >= '0' && *p <= '9');
        if (!ok)
            return -1;
    }
    errno = 0;
    char *end;
    long long v = base == 10 ? strtoll(s, &end, 10) : strtoll(digits, &end, base);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = (json_int_t)v;
    return 0;
}

/* Float per the core schema, excluding .inf/.nan (JSON has no spelling for them). */
static int parse_float(const char *s, double *out)
{
    const char *p = s;
    if (*p == '-' || *p == '+')
        p++;
    int digits = 0, dot = 0;
    while ((*p >= '0' && *p <= '9') || *p == '.') {
        if (*p == '.')
            dot++;
        else
            digits++;
        p++;
    }
    if (digits == 0 || dot > 1)
        return -1;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '-' || *p == '+')
            p++;
        if (!(*p >= '0' && *p <= '9'))
            return -1;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p != '\0')
        return -1;
    char *end;
    double v = strtod(s, &end);
    if (*end != '\0' || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

static json_t *scalar_value(builder_t *b, const yaml_event_t *ev)
{
    const char *s = (const char *)ev->data.scalar.value;
    const char *tag = (const char *)ev->data.scalar.tag;
    int plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    json_int_t i;
    double d;
    if (tag != NULL && strcmp(tag, "!") != 0) {
        if (strcmp(tag, YAML_STR_TAG) == 0)
            return json_stringn(s, ev->data.scalar.length);
        if (strcmp(tag, YAML_INT_TAG) == 0 && parse_int(s, &i) == 0)
            return json_integer(i);
        if (strcmp(tag, YAML_FLOAT_TAG) == 0 && parse_float(s, &d) == 0)
            return json_real(d);
        if (strcmp(tag, YAML_BOOL_TAG) == 0 && match_any(s, TRUES))
            return json_true();
        if (strcmp(tag, YAML_BOOL_TAG) == 0 && match_any(s, FALSES))
            return json_false();
        if (strcmp(tag, YAML_NULL_TAG) == 0 && match_any(s, NULLS))
            return json_null();
        if (strcmp(tag, YAML_INT_TAG) == 0 || strcmp(tag, YAML_FLOAT_TAG) == 0 ||
            strcmp(tag, YAML_BOOL_TAG) == 0 || strcmp(tag, YAML_NULL_TAG) == 0) {
            seterr(b, &ev->start_mark, "value \"%.40s\" does not match its tag %s", s, tag);
            return NULL;
        }
        /* Unknown (application) tags: keep the text. */
        return json_stringn(s, ev->data.scalar.length);
    }
    if (!plain || (tag != NULL && strcmp(tag, "!") == 0))
        return json_stringn(s, ev->data.scalar.length);
    if (match_any(s, NULLS))
        return json_null();
    if (match_any(s, TRUES))
        return json_true();
    if (match_any(s, FALSES))
        return json_false();
    if (parse_int(s, &i) == 0)
        return json_integer(i);
    if (parse_float(s, &d) == 0)
        return json_real(d);
    return json_stringn(s, ev->data.scalar.length);
}

static int count_nodes(builder_t *b, size_t n, const yaml_mark_t *m)
{
    if (n > MESH_YAML_MAX_NODES - b->nodes) {
        seterr(b, m, "more than %d nodes (MESH_YAML_MAX_NODES), counting alias expansions",
               MESH_YAML_MAX_NODES);
        return -1;
    }
    b->nodes += n;
    return 0;
}

static int add_anchor(builder_t *b, const char *name, json_t *v, size_t nodes)
{
    for (size_t i = 0; i < b->nanchors; i++) {
        if (strcmp(b->anchors[i].name, name) == 0) { /* redefinition: the later one wins */
            json_decref(b->anchors[i].value);
            b->anchors[i].value = json_incref(v);
            b->anchors[i].nodes = nodes;
            return 0;
        }
    }
    if (b->nanchors == b->capanchors) {
        size_t cap = b->capanchors ? b->capanchors * 2 : 8;
        anchor_t *a = mesh_realloc(b->anchors, cap * sizeof(*a));
        if (a == NULL)
            return -1;
        b->anchors = a;
        b->capanchors = cap;
    }
    char *n = mesh_strdup(name);
    if (n == NULL)
        return -1;
    b->anchors[b->nanchors].name = n;
    b->anchors[b->nanchors].value = json_incref(v);
    b->anchors[b->nanchors].nodes = nodes;
    b->nanchors++;
    return 0;
}

static void clear_anchors(builder_t *b)
{
    for (size_t i = 0; i < b->nanchors; i++) {
        mesh_free(b->anchors[i].name);
        json_decref(b->anchors[i].value);
    }
    b->nanchors = 0;
}

/* Places a finished value (steals the reference) in the current container. */
static int place(builder_t *b, json_t *v, int plain_merge_key, const yaml_mark_t *m)
{
    if (b->depth == 0) {
        b->doc = v;
        return 0;
    }
    frame_t *f = &b->stack[b->depth - 1];
    if (json_is_array(f->node))
        return json_array_append_new(f->node, v) == 0 ? 0 : -1;
    if (f->key == NULL) {
        if (json_is_string(v)) {
            f->key = mesh_strdup(json_string_value(v));
        } else if (json_is_integer(v) || json_is_real(v) || json_is_boolean(v) || json_is_null(v)) {
            /* A plain scalar key keeps its text; re-render it. */
            char *txt = json_dumps(v, JSON_ENCODE_ANY);
            f->key = txt ? mesh_strdup(json_is_null(v) ? "null" : txt) : NULL;
            free(txt);
        } else {
            json_decref(v);
            seterr(b, m, "a mapping key must be a scalar");
            return -1;
        }
        f->key_is_merge = plain_merge_key;
        json_decref(v);
        return f->key ? 0 : -1;
    }
    int rc = 0;
    if (f->key_is_merge) {
        if (json_is_object(v)) {
            rc = json_array_append(f->merges, v);
        } else if (json_is_array(v)) {
            size_t i;
            json_t *e;
            json_array_foreach(v, i, e) {
                if (!json_is_object(e)) {
                    seterr(b, m, "merge key << needs mappings");
                    rc = -1;
                    break;
                }
                rc |= json_array_append(f->merges, e);
            }
        } else {
            seterr(b, m, "merge key << needs a mapping or a sequence of mappings");
            rc = -1;
        }
        json_decref(v);
    } else {
        rc = json_object_set_new(f->node, f->key, v);
    }
    MESH_FREE(&f->key);
    f->key_is_merge = 0;
    return rc;
}

static int open_container(builder_t *b, json_t *node, const char *anchor, const yaml_mark_t *m)
{
    if (node == NULL)
        return -1;
    if (b->depth >= MESH_YAML_MAX_DEPTH) {
        json_decref(node);
        seterr(b, m, "nesting deeper than %d (MESH_YAML_MAX_DEPTH)", MESH_YAML_MAX_DEPTH);
        return -1;
    }
    if (b->depth > 0) {
        frame_t *p = &b->stack[b->depth - 1];
        if (json_is_object(p->node) && p->key == NULL) {
            json_decref(node);
            seterr(b, m, "a mapping key must be a scalar");
            return -1;
        }
    }
    frame_t *f = &b->stack[b->depth];
    memset(f, 0, sizeof(*f));
    f->node = node;
    f->start_nodes = b->nodes;
    if (json_is_object(node) && (f->merges = json_array()) == NULL) {
        json_decref(node);
        return -1;
    }
    if (anchor != NULL && (f->anchor = mesh_strdup(anchor)) == NULL) {
        json_decref(f->merges);
        json_decref(node);
        return -1;
    }
    b->depth++;
    return count_nodes(b, 1, m);
}

static int close_container(builder_t *b, const yaml_mark_t *m)
{
    frame_t *f = &b->stack[--b->depth];
    json_t *node = f->node;
    int rc = 0;
    if (f->merges != NULL) {
        size_t i;
        json_t *e;
        json_array_foreach(f->merges, i, e) rc |= json_object_update_missing(node, e);
        json_decref(f->merges);
    }
    if (f->key != NULL) /* libyaml never closes a mapping on a key, but be safe */
        MESH_FREE(&f->key);
    if (rc == 0 && f->anchor != NULL)
        rc = add_anchor(b, f->anchor, node, b->nodes - f->start_nodes);
    mesh_free(f->anchor);
    if (rc != 0) {
        json_decref(node);
        return -1;
    }
    return place(b, node, 0, m);
}

static void unwind(builder_t *b)
{
    while (b->depth > 0) {
        frame_t *f = &b->stack[--b->depth];
        json_decref(f->node);
        json_decref(f->merges);
        mesh_free(f->key);
        mesh_free(f->anchor);
    }
    json_decref(b->doc);
    b->doc = NULL;
}

static int handle_event(builder_t *b, yaml_event_t *ev, json_t *docs)
{
    const yaml_mark_t *m = &ev->start_mark;
    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        /* The node limit guards against alias expansion, which cannot cross
         * documents; without aliases a stream's size is bounded by its bytes.
         * So it counts per document, and a long multi-document file loads. */
        b->doc = NULL;
        b->nodes = 0;
        return 0;
    case YAML_DOCUMENT_END_EVENT:
        clear_anchors(b); /* anchors are per document */
        if (b->doc != NULL && !json_is_null(b->doc))
            return json_array_append_new(docs, b->doc) == 0 ? (b->doc = NULL, 0) : -1;
        json_decref(b->doc);
        b->doc = NULL;
        return 0;
    case YAML_MAPPING_START_EVENT:
        return open_container(b, json_object(), (const char *)ev->data.mapping_start.anchor, m);
    case YAML_SEQUENCE_START_EVENT:
        return open_container(b, json_array(), (const char *)ev->data.sequence_start.anchor, m);
    case YAML_MAPPING_END_EVENT:
    case YAML_SEQUENCE_END_EVENT:
        return close_container(b, m);
    case YAML_SCALAR_EVENT: {
        json_t *v = scalar_value(b, ev);
        if (v == NULL)
            return -1;
        if (count_nodes(b, 1, m) != 0 ||
            (ev->data.scalar.anchor != NULL &&
             add_anchor(b, (const char *)ev->data.scalar.anchor, v, 1) != 0)) {
            json_decref(v);
            return -1;
        }
        int merge = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && ev->data.scalar.tag == NULL &&
                    strcmp((const char *)ev->data.scalar.value, "<<") == 0;
        return place(b, v, merge, m);
    }
    case YAML_ALIAS_EVENT: {
        const char *name = (const char *)ev->data.alias.anchor;
        for (size_t i = b->nanchors; i-- > 0;) {
            if (strcmp(b->anchors[i].name, name) == 0) {
                if (count_nodes(b, b->anchors[i].nodes, m) != 0)
                    return -1;
                return place(b, json_incref(b->anchors[i].value), 0, m);
            }
        }
        seterr(b, m, "unknown alias *%.60s", name);
        return -1;
    }
    default:
        return 0;
    }
}

int mesh_yaml_load_all(const char *data, size_t len, json_t **out, char *err, size_t errlen)
{
    builder_t b;
    memset(&b, 0, sizeof(b));
    b.err = err;
    b.errlen = errlen;
    if (errlen > 0)
        err[0] = '\0';
    json_t *docs = json_array();
    if (docs == NULL)
        return -1;
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        json_decref(docs);
        seterr(&b, NULL, "out of memory");
        return -1;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
    int rc = 0, done = 0;
    while (!done) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            seterr(&b, &parser.problem_mark, "%s%s%s", parser.problem ? parser.problem : "parse error",
                   parser.context ? " " : "", parser.context ? parser.context : "");
            rc = -1;
            break;
        }
        done = ev.type == YAML_STREAM_END_EVENT;
        if (handle_event(&b, &ev, docs) != 0) {
            if (b.errlen > 0 && b.err[0] == '\0')
                seterr(&b, &ev.start_mark, "out of memory");
            rc = -1;
            done = 1;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    unwind(&b);
    clear_anchors(&b);
    mesh_free(b.anchors);
    if (rc != 0) {
        json_decref(docs);
        return -1;
    }
    *out = docs;
    return 0;
}

int mesh_yaml_load_one(const char *data, size_t len, json_t **out, char *err, size_t errlen)
{
    json_t *docs;
    if (mesh_yaml_load_all(data, len, &docs, err, errlen) != 0)
        return -1;
    if (json_array_size(docs) != 1) {
        if (errlen > 0)
            snprintf(err, errlen, "yaml: expected one document, found %zu", json_array_size(docs));
        json_decref(docs);
        return -1;
    }
    *out = json_incref(json_array_get(docs, 0));
    json_decref(docs);
    return 0;
}

int mesh_yaml_load_file(const char *path, json_t **out, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        if (errlen > 0)
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char *data = NULL;
    size_t len = 0, cap = 0;
    int rc = -1;
    for (;;) {
        if (len == cap) {
            if (cap >= MESH_YAML_MAX_FILE) {
                if (errlen > 0)
                    snprintf(err, errlen, "%s: larger than %zu bytes (MESH_YAML_MAX_FILE)", path,
                             MESH_YAML_MAX_FILE);
                goto out;
            }
            cap = cap ? cap * 2 : 4096;
            char *p = mesh_realloc(data, cap);
            if (p == NULL) {
                if (errlen > 0)
                    snprintf(err, errlen, "%s: out of memory", path);
                goto out;
            }
            data = p;
        }
        size_t n = fread(data + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    if (ferror(f)) {
        if (errlen > 0)
            snprintf(err, errlen, "%s: read error", path);
        goto out;
    }
    rc = mesh_yaml_load_all(data ? data : "", len, out, err, errlen);
    if (rc != 0 && errlen > 0) {
        char tmp[512];
        snprintf(tmp, sizeof(tmp), "%s: %s", path, err);
        snprintf(err, errlen, "%s", tmp);
    }
out:
    mesh_free(data);
    fclose(f);
    return rc;
}
