/*
 * mesh/duration.h - Go-style durations, as Linkerd's components take them.
 *
 * Grammar (Go's time.ParseDuration, plus days as the proxy's env accepts):
 *
 *     duration = [ "-" | "+" ] ( "0" | 1*( number unit ) )
 *     number   = 1*DIGIT [ "." *DIGIT ] | "." 1*DIGIT
 *     unit     = "ns" | "us" | "µs" (U+00B5) | "μs" (U+03BC) | "ms" | "s" | "m" | "h" | "d"
 *
 * Examples: "24h0m0s", "1h30m", "10000ms", "1.5s", "300us", "365d", "0".
 * A bare number other than "0" is an error (Go's rule: "missing unit"), as is
 * whitespace anywhere. The result is a count of nanoseconds in an int64, so
 * the largest duration is about 292 years; anything beyond is
 * MESH_DURATION_ERR_OVERFLOW rather than a wrapped value. Fractions finer than
 * a nanosecond are truncated toward zero, as Go does.
 *
 * Pure functions: no allocation, no I/O, thread-safe.
 */
#ifndef MESH_DURATION_H
#define MESH_DURATION_H

#include <stddef.h>
#include <stdint.h>

#define MESH_NS_PER_US ((int64_t)1000)
#define MESH_NS_PER_MS ((int64_t)1000000)
#define MESH_NS_PER_SEC ((int64_t)1000000000)
#define MESH_NS_PER_MIN (60 * MESH_NS_PER_SEC)
#define MESH_NS_PER_HOUR (60 * MESH_NS_PER_MIN)
#define MESH_NS_PER_DAY (24 * MESH_NS_PER_HOUR)

/* Enough for any int64 duration in Go form: "-2562047h47m16.854775808s". */
#define MESH_DURATION_FMT_MAX 32

typedef enum {
    MESH_DURATION_ERR_EMPTY = -1,    /* NULL or "" (or just a sign) */
    MESH_DURATION_ERR_SYNTAX = -2,   /* a character that is not a digit, '.', or unit */
    MESH_DURATION_ERR_UNIT = -3,     /* a number with a missing or unknown unit */
    MESH_DURATION_ERR_OVERFLOW = -4, /* does not fit in int64 nanoseconds */
} mesh_duration_err_t;

/* Parses `s` into *out_ns. Returns 0, or a negative mesh_duration_err_t
 * with *out_ns left unchanged. */
int mesh_duration_parse(const char *s, int64_t *out_ns) __attribute__((warn_unused_result));

/* Writes `ns` in Go's String() form into out (cap bytes, NUL-terminated
 * when cap > 0): "0s", "1.5s", "10ms", "300µs", "42ns", "24h0m0s",
 * "-1m30s". Returns the length the full text has (like snprintf); the text
 * is cut when that is >= cap. The output always parses back to `ns`. */
size_t mesh_duration_format(int64_t ns, char *out, size_t cap);

/* A static English message for a mesh_duration_err_t. */
const char *mesh_duration_strerror(int err);

#endif
