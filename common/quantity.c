/* Kubernetes quantities read exactly; see mesh/quantity.h. */
#include "mesh/quantity.h"

#include <stddef.h>
#include <string.h>


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
        return -1;
    u128 q = n / d + (n % d != 0);
    if (q > MESH_QUANTITY_MILLI_MAX)
        return -1;
    *out = (uint64_t)q;
    return 0;
}

int mesh_quantity_milli(const char *s, uint64_t *out)
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
            if (digits >= MESH_QUANTITY_DIGITS_MAX)
                return -1;
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
        return -1;
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
            return -1;
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
    return -1;
}

