/* Option tables for argv and env; see mesh/opts.h. */
#include "mesh/opts.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/duration.h"
#include "mesh/mem.h"

static const char *const type_names[] = {"bool", "string", "int", "uint", "duration", "list"};

static void add_error(mesh_opts_errors_t *errs, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add_error(mesh_opts_errors_t *errs, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    /* If even the message cannot be stored, the count still makes the
     * caller fail; the text is best effort. */
    int rc = mesh_buf_vappendf(&errs->text, fmt, ap);
    if (rc == 0)
        rc = mesh_buf_appends(&errs->text, "\n");
    (void)rc;
    va_end(ap);
    errs->count++;
}

static int parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"1", "t", "T", "true", "TRUE", "True"};
    static const char *const no[] = {"0", "f", "F", "false", "FALSE", "False"};
    for (size_t i = 0; i < MESH_ARRAY_LEN(yes); i++) {
        if (strcmp(s, yes[i]) == 0)
            return *out = true, 0;
        if (strcmp(s, no[i]) == 0)
            return *out = false, 0;
    }
    return -1;
}

static int split_list(const char *s, mesh_strlist_t *out)
{
    mesh_strlist_t l = {NULL, 0};
    size_t cap = 0;
    while (*s != '\0') {
        const char *end = strchr(s, ',');
        if (end == NULL)
            end = s + strlen(s);
        const char *b = s, *e = end;
        while (b < e && (*b == ' ' || *b == '\t'))
            b++;
        while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (e > b) {
            if (l.n == cap) {
                cap = cap ? cap * 2 : 4;
                char **items = mesh_realloc(l.items, cap * sizeof(*items));
                if (items == NULL)
                    goto fail;
                l.items = items;
            }
            if ((l.items[l.n] = mesh_strndup(b, (size_t)(e - b))) == NULL)
                goto fail;
            l.n++;
        }
        s = *end == ',' ? end + 1 : end;
    }
    *out = l;
    return 0;
fail:
    mesh_strlist_free(&l);
    return -1;
}

int mesh_opts_set(const mesh_opt_t *opt, const char *text, char *err, size_t errcap)
{
    bool bounded = opt->min != 0 || opt->max != 0;
    char *end;

    switch (opt->type) {
    case MESH_OPT_BOOL:
        if (parse_bool(text, opt->dest) != 0)
            return snprintf(err, errcap, "\"%s\" is not a boolean (true or false)", text), -1;
        return 0;
    case MESH_OPT_STRING: {
        char *copy = mesh_strdup(text);
        if (copy == NULL)
            return snprintf(err, errcap, "out of memory"), -1;
        mesh_free(*(char **)opt->dest);
        *(char **)opt->dest = copy;
        return 0;
    }
    case MESH_OPT_INT: {
        errno = 0;
        long long v = strtoll(text, &end, 10);
        if (end == text || *end != '\0')
            return snprintf(err, errcap, "\"%s\" is not an integer", text), -1;
        if (errno == ERANGE || (bounded && (v < opt->min || v > opt->max)))
            return snprintf(err, errcap, "%s is out of range [%" PRId64 ", %" PRId64 "]", text,
                            bounded ? opt->min : INT64_MIN, bounded ? opt->max : INT64_MAX), -1;
        *(int64_t *)opt->dest = v;
        return 0;
    }
    case MESH_OPT_UINT: {
        errno = 0;
        /* strtoull would silently negate "-1". */
        unsigned long long v = text[0] == '-' ? 0 : strtoull(text, &end, 10);
        if (text[0] == '-' || end == text || *end != '\0')
            return snprintf(err, errcap, "\"%s\" is not an unsigned integer", text), -1;
        if (errno == ERANGE || (bounded && (v < (uint64_t)opt->min || v > (uint64_t)opt->max))) {
            if (bounded)
                return snprintf(err, errcap, "%s is out of range [%" PRId64 ", %" PRId64 "]", text,
                                opt->min, opt->max), -1;
            return snprintf(err, errcap, "%s is out of range [0, %" PRIu64 "]", text, UINT64_MAX), -1;
        }
        *(uint64_t *)opt->dest = v;
        return 0;
    }
    case MESH_OPT_DURATION: {
        int64_t ns;
        int rc = mesh_duration_parse(text, &ns);
        if (rc != 0)
            return snprintf(err, errcap, "\"%s\": %s", text, mesh_duration_strerror(rc)), -1;
        int64_t lo = bounded ? opt->min : 0, hi = bounded ? opt->max : INT64_MAX;
        if (ns < lo || ns > hi) {
            char a[MESH_DURATION_FMT_MAX], b[MESH_DURATION_FMT_MAX];
            mesh_duration_format(lo, a, sizeof(a));
            mesh_duration_format(hi, b, sizeof(b));
            return snprintf(err, errcap, "%s is out of range [%s, %s]", text, a, b), -1;
        }
        *(int64_t *)opt->dest = ns;
        return 0;
    }
    case MESH_OPT_LIST: {
        mesh_strlist_t l;
        if (split_list(text, &l) != 0)
            return snprintf(err, errcap, "out of memory"), -1;
        mesh_strlist_free(opt->dest);
        *(mesh_strlist_t *)opt->dest = l;
        return 0;
    }
    }
    return snprintf(err, errcap, "unknown option type %d", (int)opt->type), -1;
}

/* Sets one value and records a failure as "<origin>: <message>". */
static int set_value(const mesh_opt_t *opt, const char *origin, const char *text, mesh_opts_errors_t *errs)
{
    char msg[MESH_OPTS_ERR_MAX];
    if (mesh_opts_set(opt, text, msg, sizeof(msg)) == 0)
        return 0;
    add_error(errs, "%s: %s", origin, msg);
    return -1;
}

const mesh_opt_t *mesh_opts_find(const mesh_opt_t *table, const char *name, size_t n)
{
    for (const mesh_opt_t *o = table; o->name != NULL; o++)
        if (strlen(o->name) == n && memcmp(o->name, name, n) == 0)
            return o;
    return NULL;
}

int mesh_opts_set_defaults(const mesh_opt_t *table, mesh_opts_errors_t *errs)
{
    unsigned before = errs->count;
    char origin[MESH_OPTS_ERR_MAX];
    for (const mesh_opt_t *o = table; o->name != NULL; o++) {
        if (o->def == NULL)
            continue;
        snprintf(origin, sizeof(origin), "default of %s", o->name);
        set_value(o, origin, o->def, errs);
    }
    return errs->count == before ? 0 : MESH_OPTS_ERR;
}

int mesh_opts_parse_args(const mesh_opt_t *table, int argc, char **argv, mesh_opts_errors_t *errs)
{
    unsigned before = errs->count;
    bool help = false, done = false;
    int npos = 0;

    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        if (!done && strcmp(a, "--") == 0) {
            done = true;
            continue;
        }
        if (done || a[0] != '-' || a[1] == '\0') {
            argv[1 + npos++] = a; /* never ahead of i, so nothing unread is lost */
            continue;
        }
        const char *name = a + (a[1] == '-' ? 2 : 1);
        const char *eq = strchr(name, '=');
        size_t n = eq ? (size_t)(eq - name) : strlen(name);
        if (eq == NULL && (strcmp(name, "h") == 0 || strcmp(name, "help") == 0)) {
            help = true;
            continue;
        }
        const mesh_opt_t *o = mesh_opts_find(table, name, n);
        if (o == NULL) {
            add_error(errs, "unknown option %.*s", (int)(name - a + (ptrdiff_t)n), a);
            continue;
        }
        const char *value;
        if (eq != NULL)
            value = eq + 1;
        else if (o->type == MESH_OPT_BOOL)
            value = "true";
        else if (i + 1 < argc)
            value = argv[++i];
        else {
            add_error(errs, "%s: missing value", a);
            continue;
        }
        char origin[MESH_OPTS_ERR_MAX];
        snprintf(origin, sizeof(origin), "%.*s", (int)(name - a + (ptrdiff_t)n), a);
        set_value(o, origin, value, errs);
    }
    if (help)
        return MESH_OPTS_HELP;
    return errs->count == before ? npos : MESH_OPTS_ERR;
}

int mesh_opts_parse_env(const mesh_opt_t *table, mesh_opts_lookup_cb lookup, void *ud,
                        mesh_opts_errors_t *errs)
{
    unsigned before = errs->count;
    for (const mesh_opt_t *o = table; o->name != NULL; o++) {
        const char *v = lookup(o->name, ud);
        if (v != NULL && v[0] != '\0')
            set_value(o, o->name, v, errs);
    }
    return errs->count == before ? 0 : MESH_OPTS_ERR;
}

const char *mesh_opts_getenv(const char *name, void *ud)
{
    (void)ud;
    return getenv(name);
}

int mesh_opts_help(const mesh_opt_t *table, mesh_buf_t *out)
{
    int rc = mesh_buf_appends(out, "Options:\n");
    for (const mesh_opt_t *o = table; rc == 0 && o->name != NULL; o++) {
        rc |= mesh_buf_appendf(out, "  --%s", o->name);
        if (o->type != MESH_OPT_BOOL)
            rc |= mesh_buf_appendf(out, "=<%s>", type_names[o->type]);
        rc |= mesh_buf_appendf(out, "\n        %s", o->help ? o->help : "");
        if (o->min != 0 || o->max != 0) {
            if (o->type == MESH_OPT_DURATION) {
                char a[MESH_DURATION_FMT_MAX], b[MESH_DURATION_FMT_MAX];
                mesh_duration_format(o->min, a, sizeof(a));
                mesh_duration_format(o->max, b, sizeof(b));
                rc |= mesh_buf_appendf(out, " [%s..%s]", a, b);
            } else {
                rc |= mesh_buf_appendf(out, " [%" PRId64 "..%" PRId64 "]", o->min, o->max);
            }
        }
        if (o->def != NULL && o->def[0] != '\0')
            rc |= mesh_buf_appendf(out, " (default %s)", o->def);
        rc |= mesh_buf_appends(out, "\n");
    }
    return rc == 0 ? 0 : -1;
}

int mesh_opts_parse_or_exit(const mesh_opt_t *table, int argc, char **argv, const char *usage)
{
    mesh_opts_errors_t errs = MESH_OPTS_ERRORS_INIT;
    mesh_opts_set_defaults(table, &errs);
    int rc = mesh_opts_parse_args(table, argc, argv, &errs);
    if (rc == MESH_OPTS_HELP) {
        mesh_buf_t b = MESH_BUF_INIT;
        if (mesh_opts_help(table, &b) == 0)
            printf("Usage: %s\n\n%s", usage ? usage : argv[0], b.base);
        mesh_buf_free(&b);
        mesh_opts_errors_free(&errs);
        mesh_opts_free(table);
        exit(0);
    }
    if (errs.count > 0) {
        const char *prog = argc > 0 ? argv[0] : "cmesh";
        for (const char *line = errs.text.base; line != NULL && *line != '\0';) {
            const char *nl = strchr(line, '\n');
            size_t n = nl ? (size_t)(nl - line) : strlen(line);
            fprintf(stderr, "%s: %.*s\n", prog, (int)n, line);
            line += n + (nl != NULL);
        }
        fprintf(stderr, "%s: %u error%s; see --help\n", prog, errs.count, errs.count == 1 ? "" : "s");
        mesh_opts_errors_free(&errs);
        mesh_opts_free(table);
        exit(2);
    }
    mesh_opts_errors_free(&errs);
    return rc;
}

void mesh_strlist_free(mesh_strlist_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        mesh_free(l->items[i]);
    MESH_FREE(&l->items);
    l->n = 0;
}

void mesh_opts_free(const mesh_opt_t *table)
{
    for (const mesh_opt_t *o = table; o->name != NULL; o++) {
        if (o->type == MESH_OPT_STRING)
            MESH_FREE((char **)o->dest);
        else if (o->type == MESH_OPT_LIST)
            mesh_strlist_free(o->dest);
    }
}

void mesh_opts_errors_free(mesh_opts_errors_t *errs)
{
    mesh_buf_free(&errs->text);
    errs->count = 0;
}
