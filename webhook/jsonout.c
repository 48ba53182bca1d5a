/* Compact JSON output with the bytes of json_dumps(JSON_COMPACT), faster.
 *
 * jansson's encoder checks for cycles by formatting each container's address
 * into a string and inserting it in a hash table, and hands every escaped
 * run to a callback; for a patch of a few hundred small objects that is most
 * of an admission's CPU. Our trees are built by us (no cycles), so a direct
 * walk gives the same text at a fraction of the cost. */
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "mesh/buf.h"

/* Deeper than anything jansson parses (JSON_PARSER_MAX_DEPTH, 2048) plus
 * the few levels a patch adds around it. */
#define DUMP_DEPTH_MAX 4096

/* One byte, without a call when there is room. */
static inline int put_ch(mesh_buf_t *b, char c)
{
    if (b->len < b->cap) {
        b->base[b->len++] = c;
        b->base[b->len] = '\0';
        return 0;
    }
    return mesh_buf_append(b, &c, 1);
}

/* Escapes as jansson does without JSON_ENSURE_ASCII / JSON_ESCAPE_SLASH:
 * '"' and '\\', the short forms \b \f \n \r \t, other controls as \u00XX,
 * everything else (UTF-8 included) as is. Room for the worst case (every
 * byte as \u00XX) is made first, so the loop writes without checks. */
static int put_string(mesh_buf_t *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF"; /* jansson writes upper case */
    if (n > (MESH_BUF_MAX - 2) / 6 || mesh_buf_reserve(b, 6 * n + 2) < 0)
        return -1;
    char *o = b->base + b->len;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            *o++ = (char)c;
            continue;
        }
        *o++ = '\\';
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '\b': *o++ = 'b'; break;
        case '\f': *o++ = 'f'; break;
        case '\n': *o++ = 'n'; break;
        case '\r': *o++ = 'r'; break;
        case '\t': *o++ = 't'; break;
        default:
            *o++ = 'u';
            *o++ = '0';
            *o++ = '0';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    *o++ = '"';
    b->len = (size_t)(o - b->base);
    b->base[b->len] = '\0';
    return 0;
}

static int on_jansson_chunk(const char *data, size_t size, void *ud)
{
    return mesh_buf_append(ud, data, size) < 0 ? -1 : 0;
}

static int put(mesh_buf_t *b, const json_t *j, int depth)
{
    if (depth > DUMP_DEPTH_MAX)
        return -1;
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        if (put_ch(b, '{') < 0)
            return -1;
        const char *k;
        json_t *v;
        size_t klen;
        bool first = true;
        json_object_keylen_foreach((json_t *)j, k, klen, v) {
            if ((!first && put_ch(b, ',') < 0) || put_string(b, k, klen) < 0 ||
                put_ch(b, ':') < 0 || put(b, v, depth + 1) < 0)
                return -1;
            first = false;
        }
        return put_ch(b, '}');
    }
    case JSON_ARRAY: {
        if (put_ch(b, '[') < 0)
            return -1;
        size_t n = json_array_size(j);
        for (size_t i = 0; i < n; i++)
            if ((i && put_ch(b, ',') < 0) || put(b, json_array_get(j, i), depth + 1) < 0)
                return -1;
        return put_ch(b, ']');
    }
    case JSON_STRING:
        return put_string(b, json_string_value(j), json_string_length(j));
    case JSON_INTEGER: {
        char num[32];
        int n = snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(j));
        return mesh_buf_append(b, num, (size_t)n);
    }
    case JSON_TRUE:
        return mesh_buf_append(b, "true", 4);
    case JSON_FALSE:
        return mesh_buf_append(b, "false", 5);
    case JSON_NULL:
        return mesh_buf_append(b, "null", 4);
    case JSON_REAL:
        /* Rare in pods; jansson's own formatting keeps the bytes identical. */
        return json_dump_callback(j, on_jansson_chunk, b, JSON_COMPACT | JSON_ENCODE_ANY);
    }
    return -1;
}

int wh__json_dump(const json_t *j, mesh_buf_t *out)
{
    return j != NULL && put(out, j, 0) == 0 ? 0 : -1;
}
