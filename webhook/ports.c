/* Parsers for the values the injection annotations carry: integers,
 * quantities, CIDRs (port lists are mesh/portlist.h's). Pure and
 * allocation-free. */
#include "internal.h"

#include "mesh/quantity.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

bool wh__parse_int(const char *s, long long lo, long long hi, long long *out)
{
    if (s == NULL || !isdigit((unsigned char)s[0]))
        return false;
    errno = 0;
    char *end;
    long long x = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || x < lo || x > hi)
        return false;
    *out = x;
    return true;
}

/* Resource quantities are read exactly by mesh/quantity.h; a CPU quantity's
 * milli-value is its millicores. */
bool wh__quantity_valid(const char *s)
{
    uint64_t m;
    return s != NULL && mesh_quantity_milli(s, &m) == 0;
}

long long wh__cpu_millis(const char *s)
{
    uint64_t m;
    if (s == NULL || mesh_quantity_milli(s, &m) != 0 || m > (uint64_t)1e15)
        return -1;
    return (long long)m;
}

bool wh__cidrs_valid(const char *s)
{
    const char *p = s;
    int count = 0;
    while (*p != '\0') {
        const char *comma = strchr(p, ',');
        const char *end = comma ? comma : p + strlen(p);
        const char *a = p, *b = end;
        while (a < b && isspace((unsigned char)*a))
            a++;
        while (b > a && isspace((unsigned char)b[-1]))
            b--;
        if (a < b) {
            char buf[64];
            size_t n = (size_t)(b - a);
            if (n >= sizeof buf)
                return false;
            memcpy(buf, a, n);
            buf[n] = '\0';
            char *slash = strchr(buf, '/');
            if (slash == NULL)
                return false;
            *slash = '\0';
            unsigned char addr[16];
            long long bits;
            if (inet_pton(AF_INET, buf, addr) == 1) {
                if (!wh__parse_int(slash + 1, 0, 32, &bits))
                    return false;
            } else if (inet_pton(AF_INET6, buf, addr) == 1) {
                if (!wh__parse_int(slash + 1, 0, 128, &bits))
                    return false;
            } else {
                return false;
            }
            count++;
        }
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    return count > 0;
}
