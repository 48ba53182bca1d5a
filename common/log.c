/* Line-per-event logging; see mesh/log.h. */
#include "mesh/log.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

mesh_log_level_t mesh_log_level = MESH_LOG_INFO;
static mesh_log_format_t log_format = MESH_LOG_PLAIN;
static const char *log_component = "cmesh";
static int log_fd = 2;

static const char *const level_names[] = {"OFF", "ERROR", "WARN", "INFO", "DEBUG", "TRACE"};

int mesh_log_parse_level(const char *name, mesh_log_level_t *out)
{
    static const char *const lower[] = {"off", "error", "warn", "info", "debug", "trace"};
    for (size_t i = 0; i < sizeof(lower) / sizeof(lower[0]); i++) {
        if (strcasecmp(name, lower[i]) == 0) {
            *out = (mesh_log_level_t)i;
            return 0;
        }
    }
    if (strcasecmp(name, "warning") == 0) {
        *out = MESH_LOG_WARN;
        return 0;
    }
    return -1;
}

int mesh_log_set_filter(const char *filter)
{
    char buf[512];
    int found = 0;
    mesh_log_level_t best = MESH_LOG_OFF;

    if (filter == NULL || strlen(filter) >= sizeof(buf))
        return -1;
    memcpy(buf, filter, strlen(filter) + 1);
    /* Directives are comma-separated; each is LEVEL or TARGET=LEVEL. */
    char *save = NULL;
    for (char *d = strtok_r(buf, ",", &save); d != NULL; d = strtok_r(NULL, ",", &save)) {
        while (*d == ' ')
            d++;
        char *eq = strrchr(d, '=');
        const char *lvl = eq ? eq + 1 : d;
        mesh_log_level_t l;
        if (mesh_log_parse_level(lvl, &l) == 0) {
            found = 1;
            if (l > best)
                best = l;
        }
    }
    if (!found)
        return -1;
    mesh_log_level = best;
    return 0;
}

int mesh_log_set_format_str(const char *name)
{
    if (strcasecmp(name, "plain") == 0)
        log_format = MESH_LOG_PLAIN;
    else if (strcasecmp(name, "json") == 0)
        log_format = MESH_LOG_JSON;
    else
        return -1;
    return 0;
}

void mesh_log_set_format(mesh_log_format_t fmt)
{
    log_format = fmt;
}

void mesh_log_set_component(const char *name)
{
    log_component = name;
}

void mesh_log_set_fd(int fd)
{
    log_fd = fd;
}

size_t mesh_log_escape(char *out, size_t cap, const char *in, mesh_log_format_t fmt)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;

    if (cap == 0)
        return 0;
    for (const unsigned char *p = (const unsigned char *)in; *p != '\0'; p++) {
        char tmp[7];
        size_t n = 0;
        unsigned char c = *p;
        if (c == '\n') {
            tmp[n++] = '\\';
            tmp[n++] = 'n';
        } else if (c == '\r') {
            tmp[n++] = '\\';
            tmp[n++] = 'r';
        } else if (c == '\t') {
            tmp[n++] = '\\';
            tmp[n++] = 't';
        } else if (c < 0x20 || c == 0x7f) {
            if (fmt == MESH_LOG_JSON) {
                memcpy(tmp, "\\u00", 4);
                n = 4;
            } else {
                tmp[n++] = '\\';
                tmp[n++] = 'x';
            }
            tmp[n++] = hex[c >> 4];
            tmp[n++] = hex[c & 15];
        } else if (fmt == MESH_LOG_JSON && (c == '"' || c == '\\')) {
            tmp[n++] = '\\';
            tmp[n++] = (char)c;
        } else {
            tmp[n++] = (char)c;
        }
        if (o + n >= cap)
            break;
        memcpy(out + o, tmp, n);
        o += n;
    }
    out[o] = '\0';
    return o;
}

void mesh__log_vemit(mesh_log_level_t level, const char *module, const char *fmt, va_list ap)
{
    char msg[MESH_LOG_LINE_MAX];
    char esc[MESH_LOG_LINE_MAX];
    char line[MESH_LOG_LINE_MAX + 256];
    char ts[64];
    struct timespec now;
    struct tm tm;
    int n;

    if (level <= MESH_LOG_OFF || level > MESH_LOG_TRACE)
        return;
    n = vsnprintf(msg, sizeof(msg), fmt, ap);
    if (n >= (int)sizeof(msg))
        memcpy(msg + sizeof(msg) - 4, "...", 4);
    mesh_log_escape(esc, sizeof(esc), msg, log_format);

    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, now.tv_nsec / 1000);
    if (module == NULL)
        module = "";
    if (log_format == MESH_LOG_JSON)
        n = snprintf(line, sizeof(line),
                     "{\"timestamp\":\"%s\",\"level\":\"%s\",\"component\":\"%s\","
                     "\"module\":\"%s\",\"message\":\"%s\"}\n",
                     ts, level_names[level], log_component, module, esc);
    else
        n = snprintf(line, sizeof(line), "%s %-5s %s[%s]: %s\n", ts, level_names[level],
                     log_component, module, esc);
    if (n < 0)
        return;
    if (n >= (int)sizeof(line)) {
        n = (int)sizeof(line) - 1;
        line[n - 1] = '\n';
    }
    /* One write per line keeps concurrent lines whole. */
    ssize_t w = write(log_fd, line, (size_t)n);
    (void)w;
}

void mesh__log_emit(mesh_log_level_t level, const char *module, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mesh__log_vemit(level, module, fmt, ap);
    va_end(ap);
}
