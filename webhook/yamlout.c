/* JSON values as YAML documents, written straight into a mesh_buf_t.
 *
 * The output is byte for byte what webhook/yamlemit.c gets from libyaml's
 * emitter (unicode on, no line width, two-space indent, block style, the
 * requested scalar styles), which test/webhook/yamlout_test.c checks on
 * fixtures and random trees. libyaml queues, copies and frees every event and
 * writes one character at a time; for `cmesh inject --manual` that was half
 * of the run. Only the parts of libyaml's emitter those inputs reach are
 * reproduced: no anchors, tags, flow content (empty collections are the only
 * flow nodes), canonical form or line folding. The state variables keep
 * libyaml's names and meaning, since the exact whitespace depends on them. */
#include "wh/manifest.h"

#include "internal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Same nesting limit as the libyaml path. */
#define YAML_OUT_MAX_DEPTH 512
/* libyaml writes a longer (or multi-line) key as an explicit `? key`. */
#define YAML_SIMPLE_KEY_MAX 128
/* libyaml's default indentation step. */
#define YAML_INDENT 2

typedef enum { ST_ANY, ST_PLAIN, ST_SINGLE, ST_DOUBLE, ST_LITERAL } style_t;

typedef struct yaml_out {
    mesh_buf_t *out;
    size_t line_start; /* offset of the current line in out */
    int line_ascii;    /* the current line holds ASCII only: column = bytes */
    int indent;        /* current indentation, -1 before the root node */
    int whitespace;    /* the last thing written separates what follows */
    int indention;     /* nothing but indentation written on this line */
    int open_ended;    /* 2: a `|+` scalar ended the document, so `...` follows */
} yaml_out_t;

/* What libyaml's scalar analysis concludes, for block context. */
typedef struct scalar_info {
    int multiline; /* contains a line break */
    int plain;     /* may be written plain in block context */
    int single;    /* may be single-quoted */
    int block;     /* may be a literal block scalar */
    int ascii;     /* no byte above 0x7F */
    int newline;   /* contains '\n' (the literal style is asked for) */
} scalar_info_t;

static inline int put(yaml_out_t *w, const void *p, size_t n)
{
    mesh_buf_t *b = w->out;
    if (b->cap - b->len < n || b->base == NULL)
        if (mesh_buf_reserve(b, n) < 0)
            return -1;
    memcpy(b->base + b->len, p, n);
    b->len += n;
    return 0;
}

static inline int put_c(yaml_out_t *w, char c)
{
    return put(w, &c, 1);
}

static int put_break(yaml_out_t *w)
{
    if (put_c(w, '\n') < 0)
        return -1;
    w->line_start = w->out->len;
    w->line_ascii = 1;
    return 0;
}

/* libyaml counts columns in characters, not bytes; they differ only on a
 * line where a scalar wrote non-ASCII text. */
static int column(const yaml_out_t *w)
{
    if (w->line_ascii)
        return (int)(w->out->len - w->line_start);
    const unsigned char *p = (const unsigned char *)w->out->base + w->line_start;
    const unsigned char *end = (const unsigned char *)w->out->base + w->out->len;
    int col = 0;
    for (; p < end; p++)
        col += (*p & 0xC0) != 0x80;
    return col;
}

static int write_indent(yaml_out_t *w)
{
    static const char spaces[] = "                                                                ";
    int indent = w->indent >= 0 ? w->indent : 0;
    int col = column(w);
    if (!w->indention || col > indent || (col == indent && !w->whitespace)) {
        if (put_break(w) < 0)
            return -1;
        col = 0;
    }
    while (col < indent) {
        int n = indent - col < (int)sizeof spaces - 1 ? indent - col : (int)sizeof spaces - 1;
        if (put(w, spaces, (size_t)n) < 0)
            return -1;
        col += n;
    }
    w->whitespace = 1;
    w->indention = 1;
    return 0;
}

static int write_indicator(yaml_out_t *w, const char *ind, int need_ws, int is_ws, int is_indention)
{
    if (need_ws && !w->whitespace && put_c(w, ' ') < 0)
        return -1;
    if (put(w, ind, ind[1] ? strlen(ind) : 1) < 0)
        return -1;
    w->whitespace = is_ws;
    w->indention = w->indention && is_indention;
    return 0;
}

/* ---- character classes (libyaml's IS_* macros on UTF-8) ---- */

static inline size_t utf8_width(unsigned char c)
{
    return c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
}

static inline int is_break(const unsigned char *p)
{
    return p[0] == '\r' || p[0] == '\n' || (p[0] == 0xC2 && p[1] == 0x85) ||
           (p[0] == 0xE2 && p[1] == 0x80 && (p[2] == 0xA8 || p[2] == 0xA9));
}

/* Blank, break or the terminating NUL. */
static inline int is_blankz(const unsigned char *p)
{
    return p[0] == ' ' || p[0] == '\t' || p[0] == '\0' || is_break(p);
}

static inline int is_printable(const unsigned char *p)
{
    return p[0] == 0x0A || (p[0] >= 0x20 && p[0] <= 0x7E) || (p[0] == 0xC2 && p[1] >= 0xA0) ||
           (p[0] > 0xC2 && p[0] < 0xED) || (p[0] == 0xED && p[1] < 0xA0) || p[0] == 0xEE ||
           (p[0] == 0xEF && !(p[1] == 0xBB && p[2] == 0xBF) &&
            !(p[1] == 0xBF && (p[2] == 0xBE || p[2] == 0xBF)));
}

/* The checks libyaml's yaml_scalar_event_initialize makes (a lead byte,
 * continuation bytes, no overlong form); strings from jansson always pass. */
static int utf8_valid(const unsigned char *s, size_t len)
{
    for (size_t i = 0; i < len;) {
        size_t n = utf8_width(s[i]);
        if (n == 0 || n > len - i)
            return 0;
        uint32_t v = n == 1 ? s[i] : n == 2 ? s[i] & 0x1Fu : n == 3 ? s[i] & 0x0Fu : s[i] & 0x07u;
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            v = (v << 6) | (s[i + k] & 0x3Fu);
        }
        if ((n == 2 && v < 0x80) || (n == 3 && v < 0x800) || (n == 4 && v < 0x10000))
            return 0;
        i += n;
    }
    return 1;
}

/* Bytes 0x21..0x7E that may start a plain scalar (not an indicator). */
static int plain_start(unsigned char c)
{
    switch (c) {
    case '#': case ',': case '[': case ']': case '{': case '}': case '&': case '*': case '!':
    case '|': case '>': case '\'': case '"': case '%': case '@': case '`':
        return 0;
    }
    return 1;
}

/* libyaml's yaml_emitter_analyze_scalar, block context only. -1 on invalid
 * UTF-8. */
static int analyze(const unsigned char *s, size_t len, scalar_info_t *si)
{
    if (len == 0) {
        *si = (scalar_info_t){.plain = 1, .single = 1, .ascii = 1};
        return 0;
    }
    /* Most scalars are one word of printable ASCII: then only the first and
     * last characters and the document markers matter. */
    size_t i = 0;
    while (i < len && s[i] >= 0x21 && s[i] <= 0x7E)
        i++;
    int doc_marker = (s[0] == '-' && s[1] == '-' && s[2] == '-') ||
                     (s[0] == '.' && s[1] == '.' && s[2] == '.');
    if (i == len) {
        int ind = !plain_start(s[0]) || s[len - 1] == ':' ||
                  (len == 1 && (s[0] == '?' || s[0] == '-')) || doc_marker;
        *si = (scalar_info_t){.plain = !ind, .single = 1, .block = 1, .ascii = 1};
        return 0;
    }
    int ascii = 1;
    for (size_t k = i; k < len && ascii; k++)
        ascii = s[k] < 0x80;
    if (!ascii && !utf8_valid(s, len))
        return -1;

    int block_ind = doc_marker, line_breaks = 0, special = 0, newline = 0;
    int leading_space = 0, leading_break = 0, trailing_space = 0, trailing_break = 0;
    int break_space = 0, space_break = 0, prev_space = 0, prev_break = 0;
    /* libyaml carries "preceded/followed by whitespace" along; here they are
     * looked up where they matter: the previous and the next character. */
    size_t prev = 0;
    for (i = 0; i < len;) {
        const unsigned char *p = s + i;
        if (i != 0 && p[0] >= 0x21 && p[0] <= 0x7E && p[0] != ':' && p[0] != '#') {
            prev_space = prev_break = 0;
            prev = i++;
            continue;
        }
        size_t n = utf8_width(p[0]);
        int followed_ws = is_blankz(p + n);
        if (i == 0) {
            if (p[0] >= 0x21 && p[0] <= 0x7E && !plain_start(p[0]))
                block_ind = 1;
            if ((p[0] == '?' || p[0] == ':' || p[0] == '-') && followed_ws)
                block_ind = 1;
        } else {
            if (p[0] == ':' && followed_ws)
                block_ind = 1;
            if (p[0] == '#' && is_blankz(s + prev))
                block_ind = 1;
        }
        if (!is_printable(p))
            special = 1;
        int brk = is_break(p);
        line_breaks |= brk;
        newline |= p[0] == '\n';
        if (p[0] == ' ') {
            leading_space |= i == 0;
            trailing_space |= i + n == len;
            break_space |= prev_break;
            prev_space = 1;
            prev_break = 0;
        } else if (brk) {
            leading_break |= i == 0;
            trailing_break |= i + n == len;
            space_break |= prev_space;
            prev_space = 0;
            prev_break = 1;
        } else {
            prev_space = prev_break = 0;
        }
        prev = i;
        i += n;
    }
    si->multiline = line_breaks;
    si->plain = !(leading_space || leading_break || trailing_space || trailing_break ||
                  break_space || space_break || special || line_breaks || block_ind);
    si->single = !(break_space || space_break || special);
    si->block = !(trailing_space || space_break || special);
    si->ascii = ascii;
    si->newline = newline;
    return 0;
}

/* ---- scalar writers (libyaml's, without line folding) ---- */

static int write_plain(yaml_out_t *w, const char *s, size_t len)
{
    /* A plain scalar holds no line break (analyze), so no indentation either. */
    if (!w->whitespace && len && put_c(w, ' ') < 0)
        return -1;
    if (put(w, s, len) < 0)
        return -1;
    w->whitespace = 0;
    w->indention = 0;
    return 0;
}

/* A break as libyaml's WRITE_BREAK copies it: \n through PUT_BREAK, the
 * others (\r, NEL, LS, PS) as they are; either way a new line starts. */
static int write_break(yaml_out_t *w, const unsigned char *p, size_t n)
{
    if (put(w, p, n) < 0)
        return -1;
    w->line_start = w->out->len;
    w->line_ascii = 1;
    return 0;
}

static int write_single(yaml_out_t *w, const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    int breaks = 0;
    if (write_indicator(w, "'", 1, 0, 0) < 0)
        return -1;
    for (size_t i = 0; i < len;) {
        size_t n = utf8_width(s[i]);
        if (s[i] == ' ') {
            if (put_c(w, ' ') < 0)
                return -1;
        } else if (is_break(s + i)) {
            if (!breaks && s[i] == '\n' && put_break(w) < 0)
                return -1;
            if (write_break(w, s + i, n) < 0)
                return -1;
            w->indention = 1;
            breaks = 1;
        } else {
            if (breaks && write_indent(w) < 0)
                return -1;
            if (s[i] == '\'' && put_c(w, '\'') < 0)
                return -1;
            if (put(w, s + i, n) < 0)
                return -1;
            w->indention = 0;
            breaks = 0;
        }
        i += n;
    }
    if (breaks && write_indent(w) < 0)
        return -1;
    if (write_indicator(w, "'", 0, 0, 0) < 0)
        return -1;
    w->whitespace = 0;
    w->indention = 0;
    return 0;
}

static int write_escape(yaml_out_t *w, uint32_t v)
{
    static const char hex[] = "0123456789ABCDEF";
    char e[10] = {'\\'};
    size_t n = 2;
    switch (v) {
    case 0x00: e[1] = '0'; break;
    case 0x07: e[1] = 'a'; break;
    case 0x08: e[1] = 'b'; break;
    case 0x09: e[1] = 't'; break;
    case 0x0A: e[1] = 'n'; break;
    case 0x0B: e[1] = 'v'; break;
    case 0x0C: e[1] = 'f'; break;
    case 0x0D: e[1] = 'r'; break;
    case 0x1B: e[1] = 'e'; break;
    case 0x22: e[1] = '"'; break;
    case 0x5C: e[1] = '\\'; break;
    case 0x85: e[1] = 'N'; break;
    case 0xA0: e[1] = '_'; break;
    case 0x2028: e[1] = 'L'; break;
    case 0x2029: e[1] = 'P'; break;
    default: {
        int digits = v <= 0xFF ? 2 : v <= 0xFFFF ? 4 : 8;
        e[1] = digits == 2 ? 'x' : digits == 4 ? 'u' : 'U';
        for (int k = 0; k < digits; k++)
            e[2 + k] = hex[(v >> ((digits - 1 - k) * 4)) & 0xF];
        n = 2 + (size_t)digits;
    }
    }
    return put(w, e, n);
}

static int write_double(yaml_out_t *w, const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    if (write_indicator(w, "\"", 1, 0, 0) < 0)
        return -1;
    size_t run = 0; /* start of the bytes that go out as they are */
    for (size_t i = 0; i < len;) {
        const unsigned char *p = s + i;
        size_t n = utf8_width(p[0]);
        if (!is_printable(p) || (p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF) || is_break(p) ||
            p[0] == '"' || p[0] == '\\') {
            uint32_t v = n == 1 ? p[0] : n == 2 ? p[0] & 0x1Fu : n == 3 ? p[0] & 0x0Fu : p[0] & 0x07u;
            for (size_t k = 1; k < n; k++)
                v = (v << 6) + (p[k] & 0x3Fu);
            if (put(w, s + run, i - run) < 0 || write_escape(w, v) < 0)
                return -1;
            run = i + n;
        }
        i += n;
    }
    if (put(w, s + run, len - run) < 0 || write_indicator(w, "\"", 0, 0, 0) < 0)
        return -1;
    w->whitespace = 0;
    w->indention = 0;
    return 0;
}

/* The start of the character that ends just before `end`. */
static const unsigned char *prev_char(const unsigned char *end)
{
    do
        end--;
    while ((*end & 0xC0) == 0x80);
    return end;
}

static int write_literal(yaml_out_t *w, const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    if (write_indicator(w, "|", 1, 0, 0) < 0)
        return -1;
    /* Block scalar hints: an explicit indentation when the content starts
     * with a space or a break, then how trailing breaks are kept. */
    if ((s[0] == ' ' || is_break(s)) && write_indicator(w, "2", 0, 0, 0) < 0)
        return -1;
    w->open_ended = 0;
    const char *chomp = NULL;
    const unsigned char *last = prev_char(s + len);
    if (!is_break(last)) {
        chomp = "-";
    } else if (last == s || is_break(prev_char(last))) {
        chomp = "+";
        w->open_ended = 2;
    }
    if (chomp && write_indicator(w, chomp, 0, 0, 0) < 0)
        return -1;
    if (put_break(w) < 0)
        return -1;
    w->indention = 1;
    w->whitespace = 1;
    int breaks = 1;
    size_t run = 0, i = 0;
    while (i < len) {
        size_t n = utf8_width(s[i]);
        if (is_break(s + i)) {
            if (put(w, s + run, i - run) < 0 || write_break(w, s + i, n) < 0)
                return -1;
            run = i + n;
            w->indention = 1;
            breaks = 1;
        } else {
            if (breaks) {
                if (put(w, s + run, i - run) < 0 || write_indent(w) < 0)
                    return -1;
                run = i;
            }
            w->indention = 0;
            breaks = 0;
        }
        i += n;
    }
    return put(w, s + run, len - run);
}

/* ---- nodes ---- */

/* One scalar, `si` from analyze(); libyaml's choice of style first. */
static int emit_scalar(yaml_out_t *w, const char *s, size_t len, const scalar_info_t *si,
                       style_t style, int simple_key)
{
    if (style == ST_ANY)
        style = ST_PLAIN;
    if (simple_key && si->multiline)
        style = ST_DOUBLE;
    if (style == ST_PLAIN && (!si->plain || (len == 0 && simple_key)))
        style = ST_SINGLE;
    if (style == ST_SINGLE && !si->single)
        style = ST_DOUBLE;
    if (style == ST_LITERAL && (!si->block || simple_key))
        style = ST_DOUBLE;
    int saved = w->indent;
    w->indent = saved < 0 ? YAML_INDENT : saved + YAML_INDENT;
    if (!si->ascii)
        w->line_ascii = 0;
    int rc;
    switch (style) {
    case ST_PLAIN: rc = write_plain(w, s, len); break;
    case ST_SINGLE: rc = write_single(w, s, len); break;
    case ST_LITERAL: rc = write_literal(w, s, len); break;
    default: rc = write_double(w, s, len); break;
    }
    /* A break inside the scalar started an ASCII line that may not be. */
    if (!si->ascii)
        w->line_ascii = 0;
    w->indent = saved;
    return rc;
}

/* A word YAML 1.1 reads as null or a bool (`s` has `len` bytes). kubectl
 * reads manifests with a YAML 1.1 reader, so "on" or "NO" written plain
 * would come back as a bool. */
static int special_word(const char *s, size_t len)
{
    static const char *const words[6][7] = {
        {""},
        {"~", "y", "n", "Y", "N"},
        {"no", "on", "No", "On", "NO", "ON"},
        {"yes", "off", "Yes", "Off", "YES", "OFF"},
        {"null", "Null", "NULL", "true", "True", "TRUE"},
        {"false", "False", "FALSE"},
    };
    if (len > 5)
        return 0;
    for (size_t i = 0; i < 7 && words[len][i] != NULL; i++)
        if (memcmp(s, words[len][i], len) == 0)
            return 1;
    return 0;
}

int wh__yaml11_number(const char *s)
{
    const char *p = s;
    if (*p == '+' || *p == '-')
        p++;
    if (p[0] == '0' && p[1] == 'b' && p[2] != '\0')
        return strspn(p + 2, "01_") == strlen(p + 2);
    if (*p < '0' || *p > '9')
        return 0;
    /* Sexagesimal (12:30) and underscored (1_000, 1_0.5) forms: digits,
     * '_', ':' and at most one '.', with at least one '_' or ':'. */
    size_t n = strspn(p, "0123456789_:.");
    if (p[n] != '\0' || strchr(p, '.') != strrchr(p, '.'))
        return 0;
    return strpbrk(p, "_:") != NULL && p[n - 1] != ':';
}

/* True when a plain scalar `s` (`len` bytes) would not read back as this
 * string: the rule of webhook/yamlemit.c (a null or bool word, whatever
 * strtod takes whole, a 0x/0o prefix, a leading dot), with strtod skipped
 * where its answer is known: a letter other than the start of "inf" or
 * "nan" gives it nothing, and after leading digits a character that cannot
 * continue a decimal or hex number ends it. */
static int needs_quotes(const char *s, size_t len)
{
    unsigned char c = (unsigned char)s[0];
    if (c >= '0' && c <= '9') {
        size_t j = 1;
        while (s[j] >= '0' && s[j] <= '9')
            j++;
        if (s[j] == '\0')
            return 1;
        if (s[j] == '_' || s[j] == ':' || s[j] == 'b')
            return wh__yaml11_number(s);
        if (strchr(".eExXpP", s[j]) == NULL)
            return c == '0' && (s[1] == 'x' || s[1] == 'o');
    } else if (c == 'i' || c == 'I' || c == 'n' || c == 'N') {
        if (strncasecmp(s, c == 'i' || c == 'I' ? "inf" : "nan", 3) != 0)
            return special_word(s, len);
    } else if (c == '\0' || c == 't' || c == 'T' || c == 'f' || c == 'F' || c == 'y' ||
               c == 'Y' || c == 'o' || c == 'O' || c == '~') {
        return special_word(s, len);
    } else if (c != ' ' && c != '+' && c != '-' && c != '.' && (c < '\t' || c > '\r')) {
        return 0;
    }
    if (special_word(s, len) || wh__yaml11_number(s))
        return 1;
    char *end;
    (void)strtod(s, &end);
    return *end == '\0' || (s[0] == '0' && (s[1] == 'x' || s[1] == 'o')) || s[0] == '.';
}

/* The common case in one pass: `s` is printable ASCII without spaces, so
 * libyaml would write it plain unless an indicator or a document marker
 * forbids it, and our rule does not quote it. Sets *len either way. */
static int plain_word(const char *str, size_t *len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (s[i] >= 0x21 && s[i] <= 0x7E)
        i++;
    if (s[i] != '\0') {
        *len = i + strlen(str + i);
        return 0;
    }
    *len = i;
    if (i == 0 || !plain_start(s[0]) || s[i - 1] == ':' ||
        (i == 1 && (s[0] == '?' || s[0] == '-')) ||
        (s[0] == '-' && s[1] == '-' && s[2] == '-') || (s[0] == '.' && s[1] == '.' && s[2] == '.'))
        return 0;
    return !needs_quotes(str, i);
}

static int emit_node(yaml_out_t *w, const json_t *v, int mapping_ctx, int depth);

static int emit_mapping(yaml_out_t *w, const json_t *v, int depth)
{
    if (json_object_size(v) == 0) {
        if (write_indicator(w, "{", 1, 1, 0) < 0)
            return -1;
        return write_indicator(w, "}", 0, 0, 0);
    }
    int saved = w->indent;
    w->indent = saved < 0 ? 0 : saved + YAML_INDENT;
    for (void *it = json_object_iter((json_t *)v); it; it = json_object_iter_next((json_t *)v, it)) {
        const char *k = json_object_iter_key(it);
        const json_t *x = json_object_iter_value(it);
        size_t klen;
        if (write_indent(w) < 0)
            return -1;
        if (plain_word(k, &klen) && klen <= YAML_SIMPLE_KEY_MAX) {
            /* After write_indent: no space before the key, none after ':'. */
            if (put(w, k, klen) < 0 || put_c(w, ':') < 0)
                return -1;
            w->whitespace = 0;
            w->indention = 0;
            if (emit_node(w, x, 1, depth + 1) < 0)
                return -1;
            continue;
        }
        scalar_info_t si;
        if (analyze((const unsigned char *)k, klen, &si) < 0)
            return -1;
        style_t st = needs_quotes(k, klen) ? ST_DOUBLE : ST_ANY;
        /* libyaml's check_simple_key: one line and at most 128 bytes. */
        if (!si.multiline && klen <= YAML_SIMPLE_KEY_MAX) {
            if (emit_scalar(w, k, klen, &si, st, 1) < 0 || write_indicator(w, ":", 0, 0, 0) < 0)
                return -1;
        } else if (write_indicator(w, "?", 1, 0, 1) < 0 ||
                   emit_scalar(w, k, klen, &si, st, 0) < 0 || write_indent(w) < 0 ||
                   write_indicator(w, ":", 1, 0, 1) < 0) {
            return -1;
        }
        if (emit_node(w, x, 1, depth + 1) < 0)
            return -1;
    }
    w->indent = saved;
    return 0;
}

static int emit_sequence(yaml_out_t *w, const json_t *v, int mapping_ctx, int depth)
{
    if (json_array_size(v) == 0) {
        if (write_indicator(w, "[", 1, 1, 0) < 0)
            return -1;
        return write_indicator(w, "]", 0, 0, 0);
    }
    /* A sequence that is a mapping's value starts at the key's column. */
    int indentless = mapping_ctx && !w->indention;
    int saved = w->indent;
    w->indent = saved < 0 ? 0 : indentless ? saved : saved + YAML_INDENT;
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x) {
        if (write_indent(w) < 0 || write_indicator(w, "-", 1, 0, 1) < 0 ||
            emit_node(w, x, 0, depth + 1) < 0)
            return -1;
    }
    w->indent = saved;
    return 0;
}

/* Decimal int64 without printf. */
static size_t fmt_int(char *buf, json_int_t n)
{
    char tmp[24];
    size_t len = 0, o = 0;
    uint64_t u = n < 0 ? (uint64_t)0 - (uint64_t)n : (uint64_t)n;
    do
        tmp[len++] = (char)('0' + u % 10);
    while ((u /= 10) != 0);
    if (n < 0)
        buf[o++] = '-';
    while (len)
        buf[o++] = tmp[--len];
    buf[o] = '\0';
    return o;
}

/* A scalar written as it is (numbers, booleans, null), plain if it can be. */
static int emit_word(yaml_out_t *w, const char *s, size_t len)
{
    scalar_info_t si;
    if (analyze((const unsigned char *)s, len, &si) < 0)
        return -1;
    return emit_scalar(w, s, len, &si, ST_PLAIN, 0);
}

static int emit_node(yaml_out_t *w, const json_t *v, int mapping_ctx, int depth)
{
    char buf[64];
    if (depth > YAML_OUT_MAX_DEPTH)
        return -1;
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return emit_mapping(w, v, depth);
    case JSON_ARRAY:
        return emit_sequence(w, v, mapping_ctx, depth);
    case JSON_STRING: {
        const char *s = json_string_value(v);
        size_t len;
        if (plain_word(s, &len))
            return write_plain(w, s, len);
        scalar_info_t si;
        if (analyze((const unsigned char *)s, len, &si) < 0)
            return -1;
        style_t st = needs_quotes(s, len) ? ST_DOUBLE : si.newline ? ST_LITERAL : ST_ANY;
        return emit_scalar(w, s, len, &si, st, 0);
    }
    case JSON_INTEGER:
        /* Digits with an optional minus: always plain. */
        return write_plain(w, buf, fmt_int(buf, json_integer_value(v)));
    case JSON_REAL:
        snprintf(buf, sizeof buf, "%.17g", json_real_value(v));
        if (!strpbrk(buf, ".eEn"))
            strncat(buf, ".0", sizeof buf - strlen(buf) - 1);
        return emit_word(w, buf, strlen(buf));
    case JSON_TRUE:
        return emit_word(w, "true", 4);
    case JSON_FALSE:
        return emit_word(w, "false", 5);
    case JSON_NULL:
        return emit_word(w, "null", 4);
    }
    return -1;
}

int wh_yaml_emit(const json_t *v, mesh_buf_t *out)
{
    size_t start = out->len;
    yaml_out_t w = {.out = out, .line_start = out->len, .indent = -1, .whitespace = 1,
                    .indention = 1, .line_ascii = 1};
    /* Document start (explicit), the root node, the implicit document end,
     * the stream end. */
    int rc = write_indent(&w) < 0 || write_indicator(&w, "---", 1, 0, 0) < 0 ||
             emit_node(&w, v, 0, 0) < 0 || write_indent(&w) < 0;
    if (!rc && w.open_ended == 2)
        rc = write_indicator(&w, "...", 1, 0, 0) < 0 || write_indent(&w) < 0;
    if (rc) {
        out->len = start;
        if (out->base)
            out->base[out->len] = '\0';
        return -1;
    }
    if (mesh_buf_reserve(out, 0) < 0) /* base != NULL from here on */
        return -1;
    out->base[out->len] = '\0';
    return 0;
}
