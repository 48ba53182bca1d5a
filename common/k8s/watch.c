/* Watch stream parser; see mesh/k8s_watch.h. */
#include "mesh/k8s_watch.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void mesh_k8s_watch_parser_init(mesh_k8s_watch_parser_t *p, size_t max_event)
{
    memset(p, 0, sizeof(*p));
    mesh_buf_init(&p->buf);
    p->max_event = max_event ? max_event : MESH_K8S_WATCH_EVENT_MAX;
}

void mesh_k8s_watch_parser_free(mesh_k8s_watch_parser_t *p)
{
    mesh_buf_free(&p->buf);
}

void mesh_k8s_watch_parser_reset(mesh_k8s_watch_parser_t *p)
{
    mesh_buf_reset(&p->buf);
    p->scan = 0;
    p->depth = 0;
    p->in_string = p->escape = p->skipping = 0;
    p->skip_len = 0;
}

const char *mesh_k8s_watch_error(const mesh_k8s_watch_parser_t *p)
{
    return p->last_error ? p->errmsg : NULL;
}

const char *mesh_k8s_ev_type_name(mesh_k8s_ev_type_t t)
{
    switch (t) {
    case MESH_K8S_EV_ADDED: return "ADDED";
    case MESH_K8S_EV_MODIFIED: return "MODIFIED";
    case MESH_K8S_EV_DELETED: return "DELETED";
    case MESH_K8S_EV_BOOKMARK: return "BOOKMARK";
    case MESH_K8S_EV_ERROR: return "ERROR";
    }
    return "?";
}

int mesh_k8s_status_is_expired(const json_t *st)
{
    if (!json_is_object(st))
        return 0;
    json_t *code = json_object_get(st, "code");
    const char *reason = json_string_value(json_object_get(st, "reason"));
    if (!json_is_integer(code) || json_integer_value(code) != 410)
        return 0;
    return reason == NULL || *reason == '\0' || strcmp(reason, "Expired") == 0 ||
           strcmp(reason, "Gone") == 0;
}

static int fail(mesh_k8s_watch_parser_t *p, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(mesh_k8s_watch_parser_t *p, int code, const char *fmt, ...)
{
    p->errors++;
    p->last_error = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->errmsg, sizeof(p->errmsg), fmt, ap);
    va_end(ap);
    return code;
}

static const struct {
    const char *name;
    mesh_k8s_ev_type_t type;
} TYPES[] = {
    {"ADDED", MESH_K8S_EV_ADDED},       {"MODIFIED", MESH_K8S_EV_MODIFIED},
    {"DELETED", MESH_K8S_EV_DELETED},   {"BOOKMARK", MESH_K8S_EV_BOOKMARK},
    {"ERROR", MESH_K8S_EV_ERROR},
};

/* Decodes one complete value; returns 0, an error code, or ESTOPPED. */
static int emit(mesh_k8s_watch_parser_t *p, const char *s, size_t n, mesh_k8s_watch_event_cb cb,
                void *ud)
{
    json_error_t jerr;
    json_t *v = json_loadb(s, n, JSON_REJECT_DUPLICATES, &jerr);
    if (v == NULL)
        return fail(p, MESH_K8S_WATCH_EBADJSON, "watch: bad JSON: %.100s", jerr.text);
    int rc = 0;
    const char *type = json_string_value(json_object_get(v, "type"));
    json_t *obj = json_object_get(v, "object");
    if (!json_is_object(v) || type == NULL) {
        rc = fail(p, MESH_K8S_WATCH_EBADEVENT, "watch: event without a type");
        goto out;
    }
    mesh_k8s_watch_event_t ev = {0};
    for (size_t i = 0; i < sizeof(TYPES) / sizeof(TYPES[0]); i++)
        if (strcmp(type, TYPES[i].name) == 0)
            ev.type = TYPES[i].type;
    if (ev.type == 0) {
        rc = fail(p, MESH_K8S_WATCH_EBADEVENT, "watch: unknown event type \"%.40s\"", type);
        goto out;
    }
    if (!json_is_object(obj)) {
        rc = fail(p, MESH_K8S_WATCH_EBADEVENT, "watch: %s event without an object", type);
        goto out;
    }
    ev.object = obj;
    ev.rv = json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
    p->events++;
    if (cb != NULL && cb(&ev, ud) != 0)
        rc = MESH_K8S_WATCH_ESTOPPED;
out:
    json_decref(v);
    return rc;
}

int mesh_k8s_watch_feed(mesh_k8s_watch_parser_t *p, const char *data, size_t len,
                        mesh_k8s_watch_event_cb cb, void *ud)
{
    int first_err = 0;
    size_t i = 0;
    int once = 1; /* an empty feed still scans what a stop left buffered */
    while (i < len || once) {
        once = 0;
        if (p->skipping) {
            /* Discard an oversize value (scanner still tracks its end) or a
             * garbage run (ends at newline). */
            for (; i < len; i++) {
                char c = data[i];
                p->skip_len++;
                if (p->skipping == 2 || c == '\n') {
                    if (c == '\n') {
                        i++;
                        p->skipping = 0;
                        p->depth = 0;
                        p->in_string = p->escape = 0;
                        break;
                    }
                    continue;
                }
                if (p->in_string) {
                    if (p->escape)
                        p->escape = 0;
                    else if (c == '\\')
                        p->escape = 1;
                    else if (c == '"')
                        p->in_string = 0;
                } else if (c == '"') {
                    p->in_string = 1;
                } else if (c == '{' || c == '[') {
                    p->depth++;
                } else if ((c == '}' || c == ']') && --p->depth <= 0) {
                    i++;
                    p->skipping = 0;
                    p->depth = 0;
                    break;
                }
            }
            continue;
        }
        /* Append as much as we can scan, looking for the end of a value. */
        size_t room = p->buf.len >= p->max_event ? 0 : p->max_event - p->buf.len;
        size_t take = len - i < room ? len - i : room;
        if (mesh_buf_append(&p->buf, data + i, take) != 0) {
            mesh_k8s_watch_parser_reset(p);
            return fail(p, MESH_K8S_WATCH_ENOMEM, "watch: out of memory");
        }
        i += take;
        int progress = 1;
        while (progress) {
            progress = 0;
            char *b = p->buf.base;
            size_t n = p->buf.len, j = p->scan;
            /* Leading whitespace between values is dropped. */
            if (p->depth == 0 && !p->in_string) {
                size_t k = 0;
                while (k < n && (b[k] == ' ' || b[k] == '\n' || b[k] == '\r' || b[k] == '\t'))
                    k++;
                if (k > 0) {
                    mesh_buf_consume(&p->buf, k);
                    p->scan = 0;
                    b = p->buf.base;
                    n = p->buf.len;
                    j = 0;
                }
                if (n == 0)
                    break;
                if (j == 0 && b[0] != '{' && b[0] != '[') {
                    /* Not the start of an object: garbage up to the newline. */
                    char *nl = memchr(b, '\n', n);
                    int rc = fail(p, MESH_K8S_WATCH_EBADJSON, "watch: garbage outside an event: %.40s",
                                  b);
                    if (!first_err)
                        first_err = rc;
                    if (nl != NULL) {
                        mesh_buf_consume(&p->buf, (size_t)(nl - b) + 1);
                        progress = 1;
                    } else {
                        mesh_buf_reset(&p->buf);
                        p->skipping = 2;
                    }
                    p->scan = 0;
                    continue;
                }
            }
            size_t end = 0;
            for (; j < n; j++) {
                char c = b[j];
                if (c == '\n') {
                    /* A raw newline is never inside a valid event (strings
                     * escape it and the server writes one event per line), so
                     * a malformed event costs only its own line. */
                    end = j + 1;
                    break;
                }
                if (p->in_string) {
                    if (p->escape)
                        p->escape = 0;
                    else if (c == '\\')
                        p->escape = 1;
                    else if (c == '"')
                        p->in_string = 0;
                } else if (c == '"') {
                    p->in_string = 1;
                } else if (c == '{' || c == '[') {
                    p->depth++;
                } else if (c == '}' || c == ']') {
                    if (--p->depth <= 0) {
                        end = j + 1;
                        break;
                    }
                }
            }
            if (end == 0) {
                p->scan = n;
                if (n >= p->max_event) {
                    int rc = fail(p, MESH_K8S_WATCH_ETOOBIG, "watch: event larger than %zu bytes (MESH_K8S_WATCH_EVENT_MAX)", p->max_event);
                    if (!first_err)
                        first_err = rc;
                    p->skip_len = n;
                    mesh_buf_reset(&p->buf);
                    p->scan = 0;
                    p->skipping = p->in_string || p->depth > 0 ? 1 : 2;
                }
                break;
            }
            int rc = emit(p, b, end, cb, ud);
            mesh_buf_consume(&p->buf, end);
            p->scan = 0;
            p->depth = 0;
            p->in_string = p->escape = 0;
            if (rc == MESH_K8S_WATCH_ESTOPPED) {
                /* Keep the unread tail of this chunk for the next feed. */
                if (i < len && mesh_buf_append(&p->buf, data + i, len - i) != 0)
                    return MESH_K8S_WATCH_ENOMEM;
                return rc;
            }
            if (rc != 0 && !first_err)
                first_err = rc;
            progress = 1;
        }
    }
    return first_err;
}

int mesh_k8s_watch_finish(mesh_k8s_watch_parser_t *p)
{
    size_t k = 0;
    while (k < p->buf.len && (p->buf.base[k] == ' ' || p->buf.base[k] == '\n' ||
                              p->buf.base[k] == '\r' || p->buf.base[k] == '\t'))
        k++;
    int partial = k < p->buf.len || p->skipping == 1;
    mesh_k8s_watch_parser_reset(p);
    if (partial)
        return fail(p, MESH_K8S_WATCH_EBADJSON, "watch: stream ended inside an event");
    return 0;
}
