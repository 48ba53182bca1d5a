/*
 * mesh/log.h - one line per event, plain or JSON, to stderr (or a chosen fd).
 *
 * The level check happens in the macro, before any argument is formatted, so a
 * disabled debug line costs one load and compare. Messages are escaped: control
 * characters (and in JSON, quotes and backslashes) never reach the output raw,
 * so a client-supplied string cannot forge a log line.
 *
 * Thread-safe: each event is formatted into a local buffer and written with one
 * write(2) call; lines longer than MESH_LOG_LINE_MAX are truncated with "...".
 */
#ifndef MESH_LOG_H
#define MESH_LOG_H

#include <stdarg.h>
#include <stddef.h>

typedef enum {
    MESH_LOG_OFF = 0,
    MESH_LOG_ERROR,
    MESH_LOG_WARN,
    MESH_LOG_INFO,
    MESH_LOG_DEBUG,
    MESH_LOG_TRACE,
} mesh_log_level_t;

typedef enum {
    MESH_LOG_PLAIN = 0,
    MESH_LOG_JSON,
} mesh_log_format_t;

#define MESH_LOG_LINE_MAX 4096

/* The current threshold; read by the macros. */
extern mesh_log_level_t mesh_log_level;

/* Sets the threshold from a level name ("error", "warn", "info", "debug",
 * "trace", "off") or a tracing-style filter as Linkerd's proxy takes it
 * ("warn,linkerd=info,linkerd_proxy=debug"): the most verbose level named
 * anywhere in the filter wins, since we have one threshold. Returns 0, or -1
 * (level unchanged) when no part of the filter is a level. */
int mesh_log_set_filter(const char *filter);
/* Parses a single level name; returns -1 when unknown. */
int mesh_log_parse_level(const char *name, mesh_log_level_t *out);
/* "plain" or "json" (also Linkerd's "PLAIN"/"JSON"); -1 when unknown. */
int mesh_log_set_format_str(const char *name);
void mesh_log_set_format(mesh_log_format_t fmt);
/* The component name printed on every line (e.g. "identity"). Not copied. */
void mesh_log_set_component(const char *name);
/* Output file descriptor (default 2). */
void mesh_log_set_fd(int fd);

void mesh__log_emit(mesh_log_level_t level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void mesh__log_vemit(mesh_log_level_t level, const char *module, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

#define MESH_LOG(level, module, ...)                                  \
    do {                                                              \
        if ((level) <= mesh_log_level)                                \
            mesh__log_emit((level), (module), __VA_ARGS__);           \
    } while (0)

#define mesh_log_error(module, ...) MESH_LOG(MESH_LOG_ERROR, module, __VA_ARGS__)
#define mesh_log_warn(module, ...)  MESH_LOG(MESH_LOG_WARN, module, __VA_ARGS__)
#define mesh_log_info(module, ...)  MESH_LOG(MESH_LOG_INFO, module, __VA_ARGS__)
#define mesh_log_debug(module, ...) MESH_LOG(MESH_LOG_DEBUG, module, __VA_ARGS__)
#define mesh_log_trace(module, ...) MESH_LOG(MESH_LOG_TRACE, module, __VA_ARGS__)

/* Escapes `in` into `out` (capacity `cap`, always NUL-terminated when cap > 0)
 * for the given format; returns the length written. Exposed for tests. */
size_t mesh_log_escape(char *out, size_t cap, const char *in, mesh_log_format_t fmt);

#endif
