/* Kubernetes Quantity -> milli-value and split weights; see dst/profile.h. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "dst/profile.h"

/* Mantissa digits we keep exactly; more cannot matter for a weight. */
#define QTY_DIGITS_MAX 18
#define QTY_MILLI_MAX (UINT64_MAX / 1000)

typedef unsigned __int128 u128;

static u128 pow10_128(int n)
{
    u128 v = 1;
    while (n-- > 0)
        v *= 10;
    return v;
}

/* value = mant / 10^fd * num / den; milli = ceil(value * 1000). */
static int finish(u128 mant, int fd, u128 num, u128 den, uint64_t *out)
{
    u128 n, d = pow10_128(fd) * den;
    if (__builtin_mul_overflow(mant, num, &n) || __builtin_mul_overflow(n, (u128)1000, &n))
        return DST_ERR_INVALID;
    u128 q = n / d + (n % d != 0);
    if (q > QTY_MILLI_MAX)
        return DST_ERR_INVALID;
    *out = (uint64_t)q;
    return DST_OK;
}

static int parse_string(const char *s, uint64_t *out)
{
    const char *p = s;
    if (*p == '+')
        p++;
    u128 mant = 0;
    int digits = 0, fd = 0, seen_dot = 0, any = 0;
    for (;; p++) {
        if (*p >= '0' && *p <= '9') {
            any = 1;
            if (digits == 0 && *p == '0' && !seen_dot)
                continue; /* leading zeros carry nothing */
            if (digits >= QTY_DIGITS_MAX)
                return DST_ERR_INVALID;
            mant = mant * 10 + (unsigned)(*p - '0');
            digits++;
            if (seen_dot)
                fd++;
        } else if (*p == '.' && !seen_dot) {
            seen_dot = 1;
        } else {
            break;
        }
    }
    if (!any)
        return DST_ERR_INVALID;
    u128 num = 1, den = 1;
    if (*p == 'e' || *p == 'E') {
        p++;
        int neg = 0;
        if (*p == '+' || *p == '-')
            neg = *p++ == '-';
        int e = 0, ed = 0;
        while (*p >= '0' && *p <= '9' && ed < 3) {
            e = e * 10 + (*p++ - '0');
            ed++;
        }
        if (ed == 0 || *p != '\0' || e > 18)
            return DST_ERR_INVALID;
        if (neg)
            den = pow10_128(e);
        else
            num = pow10_128(e);
        return finish(mant, fd, num, den, out);
    }
    static const struct { const char *sfx; int p10; int p2; } sfx[] = {
        {"n", -9, 0}, {"u", -6, 0}, {"m", -3, 0}, {"", 0, 0}, {"k", 3, 0}, {"M", 6, 0},
        {"G", 9, 0},  {"T", 12, 0}, {"P", 15, 0}, {"E", 18, 0}, {"Ki", 0, 10}, {"Mi", 0, 20},
        {"Gi", 0, 30}, {"Ti", 0, 40}, {"Pi", 0, 50}, {"Ei", 0, 60},
    };
    for (size_t i = 0; i < sizeof sfx / sizeof sfx[0]; i++) {
        if (strcmp(p, sfx[i].sfx) != 0)
            continue;
        if (sfx[i].p2)
            num = (u128)1 << sfx[i].p2;
        else if (sfx[i].p10 > 0)
            num = pow10_128(sfx[i].p10);
        else
            den = pow10_128(-sfx[i].p10);
        return finish(mant, fd, num, den, out);
    }
    return DST_ERR_INVALID;
}

int dst_quantity_milli(const json_t *q, uint64_t *out)
{
    if (json_is_integer(q)) {
        json_int_t v = json_integer_value(q);
        if (v < 0 || (uint64_t)v > QTY_MILLI_MAX)
            return DST_ERR_INVALID;
        *out = (uint64_t)v * 1000;
        return DST_OK;
    }
    if (json_is_real(q)) {
        double v = json_real_value(q) * 1000.0;
        if (!(v >= 0) || v > 1e18)
            return DST_ERR_INVALID;
        *out = (uint64_t)ceil(v);
        return DST_OK;
    }
    if (json_is_string(q))
        return parse_string(json_string_value(q), out);
    return DST_ERR_INVALID;
}

int dst_weight_from_quantity(const json_t *q, uint32_t *out)
{
    uint64_t m;
    if (dst_quantity_milli(q, &m) != DST_OK || m > UINT32_MAX / 10)
        return DST_ERR_INVALID;
    *out = (uint32_t)(m * 10);
    return DST_OK;
}
