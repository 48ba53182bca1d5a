/* Go-style durations; see mesh/duration.h. */
#include "mesh/duration.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Longest accepted unit name in bytes ("µs" is 3 in UTF-8). */
#define UNIT_NAME_MAX 3
/* Fraction digits kept: beyond 1e18 the scale would not fit in uint64. */
#define FRAC_SCALE_MAX 1000000000000000000ULL

static const struct {
    const char *name;
    uint64_t ns;
} units[] = {
    {"ns", 1},
    {"us", MESH_NS_PER_US},
    {"\xc2\xb5s", MESH_NS_PER_US}, /* U+00B5 micro sign */
    {"\xce\xbcs", MESH_NS_PER_US}, /* U+03BC Greek mu */
    {"ms", MESH_NS_PER_MS},
    {"s", MESH_NS_PER_SEC},
    {"m", MESH_NS_PER_MIN},
    {"h", MESH_NS_PER_HOUR},
    {"d", MESH_NS_PER_DAY},
};

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int unit_lookup(const char *p, size_t n, uint64_t *ns)
{
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strlen(units[i].name) == n && memcmp(units[i].name, p, n) == 0) {
            *ns = units[i].ns;
            return 0;
        }
    }
    return -1;
}

int mesh_duration_parse(const char *s, int64_t *out_ns)
{
    if (s == NULL)
        return MESH_DURATION_ERR_EMPTY;
    bool neg = false;
    if (*s == '-' || *s == '+')
        neg = *s++ == '-';
    if (*s == '\0')
        return MESH_DURATION_ERR_EMPTY;
    if (strcmp(s, "0") == 0) {
        *out_ns = 0;
        return 0;
    }
    /* The magnitude of INT64_MIN is one more than INT64_MAX. */
    const uint64_t limit = neg ? (uint64_t)1 << 63 : ((uint64_t)1 << 63) - 1;
    uint64_t total = 0;

    while (*s != '\0') {
        uint64_t whole = 0, frac = 0, scale = 1;
        bool any = false, overflow = false;
        for (; is_digit(*s); s++, any = true) {
            unsigned d = (unsigned)(*s - '0');
            if (whole > (UINT64_MAX - d) / 10)
                overflow = true;
            else
                whole = whole * 10 + d;
        }
        if (*s == '.') {
            s++;
            for (; is_digit(*s); s++, any = true) {
                /* Digits past nanosecond precision of the largest unit cannot
                 * change the result; drop them rather than overflow. */
                if (scale < FRAC_SCALE_MAX) {
                    frac = frac * 10 + (uint64_t)(*s - '0');
                    scale *= 10;
                }
            }
        }
        if (!any)
            return MESH_DURATION_ERR_SYNTAX;
        const char *u = s;
        while (*s != '\0' && *s != '.' && !is_digit(*s))
            s++;
        uint64_t mult;
        if (s == u || (size_t)(s - u) > UNIT_NAME_MAX || unit_lookup(u, (size_t)(s - u), &mult) != 0)
            return MESH_DURATION_ERR_UNIT;
        if (overflow)
            return MESH_DURATION_ERR_OVERFLOW;
        unsigned __int128 v = (unsigned __int128)whole * mult;
        v += (unsigned __int128)frac * mult / scale;
        if (v > limit || total > limit - (uint64_t)v)
            return MESH_DURATION_ERR_OVERFLOW;
        total += (uint64_t)v;
    }
    *out_ns = neg ? (int64_t)(0 - total) : (int64_t)total;
    return 0;
}

/* Appends "<u / unit>[.<fraction without trailing zeros>]" to out. */
static int fmt_frac(char *out, size_t cap, uint64_t u, uint64_t unit)
{
    uint64_t whole = u / unit, rest = u % unit;
    int n = snprintf(out, cap, "%llu", (unsigned long long)whole);
    if (rest == 0 || n < 0)
        return n;
    char digits[24];
    int w = 0;
    for (uint64_t d = unit / 10; d > 0; d /= 10) {
        digits[w++] = (char)('0' + rest / d);
        rest %= d;
    }
    while (w > 0 && digits[w - 1] == '0')
        w--;
    int m = snprintf(out + ((size_t)n < cap ? (size_t)n : cap), (size_t)n < cap ? cap - (size_t)n : 0,
                     ".%.*s", w, digits);
    return m < 0 ? m : n + m;
}

size_t mesh_duration_format(int64_t ns, char *out, size_t cap)
{
    char tmp[MESH_DURATION_FMT_MAX];
    size_t len = 0;
    uint64_t u = ns < 0 ? 0 - (uint64_t)ns : (uint64_t)ns;

    if (ns < 0)
        tmp[len++] = '-';
    if (u == 0) {
        len += (size_t)snprintf(tmp + len, sizeof(tmp) - len, "0s");
    } else if (u < (uint64_t)MESH_NS_PER_SEC) {
        /* Go switches to the largest sub-second unit that keeps a whole part. */
        const char *unit = "ns";
        uint64_t div = 1;
        if (u >= (uint64_t)MESH_NS_PER_MS)
            unit = "ms", div = MESH_NS_PER_MS;
        else if (u >= (uint64_t)MESH_NS_PER_US)
            unit = "\xc2\xb5s", div = MESH_NS_PER_US;
        len += (size_t)fmt_frac(tmp + len, sizeof(tmp) - len, u, div);
        len += (size_t)snprintf(tmp + len, sizeof(tmp) - len, "%s", unit);
    } else {
        uint64_t secs = u / MESH_NS_PER_SEC;
        uint64_t h = secs / 3600, m = secs / 60 % 60;
        if (h > 0)
            len += (size_t)snprintf(tmp + len, sizeof(tmp) - len, "%lluh%llum", (unsigned long long)h,
                                    (unsigned long long)m);
        else if (m > 0)
            len += (size_t)snprintf(tmp + len, sizeof(tmp) - len, "%llum", (unsigned long long)m);
        len += (size_t)fmt_frac(tmp + len, sizeof(tmp) - len, u % ((uint64_t)MESH_NS_PER_MIN),
                                MESH_NS_PER_SEC);
        len += (size_t)snprintf(tmp + len, sizeof(tmp) - len, "s");
    }
    if (cap > 0) {
        size_t n = len < cap ? len : cap - 1;
        memcpy(out, tmp, n);
        out[n] = '\0';
    }
    return len;
}

const char *mesh_duration_strerror(int err)
{
    switch (err) {
    case 0:
        return "ok";
    case MESH_DURATION_ERR_EMPTY:
        return "empty duration";
    case MESH_DURATION_ERR_SYNTAX:
        return "invalid duration (expected a number followed by a unit)";
    case MESH_DURATION_ERR_UNIT:
        return "missing or unknown unit (use ns, us, ms, s, m, h or d)";
    case MESH_DURATION_ERR_OVERFLOW:
        return "duration out of range";
    default:
        return "unknown duration error";
    }
}
