/* Parsers for the values the injection annotations carry: port lists,
 * quantities, CIDRs. Pure and allocation-free. */
#include "internal.h"

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

static bool valid_port_name(const char *s, size_t n)
{
    /* IANA_SVC_NAME: 1-15 of [a-z0-9-], at least one letter, no leading,
     * trailing or double hyphen. */
    if (n == 0 || n > 15 || s[0] == '-' || s[n - 1] == '-')
        return false;
    bool letter = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c >= 'a' && c <= 'z')
            letter = true;
        else if (!(c >= '0' && c <= '9') && c != '-')
            return false;
        if (c == '-' && i > 0 && s[i - 1] == '-')
            return false;
    }
    return letter;
}

static bool parse_port(const char *s, size_t n, int *out)
{
    if (n == 0 || n > 5)
        return false;
    int x = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return false;
        x = x * 10 + (s[i] - '0');
    }
    if (x < 1 || x > 65535)
        return false;
    *out = x;
    return true;
}

int wh__ports_parse(const char *s, bool allow_names, wh_port_item_t *items, int cap)
{
    int n = 0;
    const char *p = s;
    while (*p != '\0') {
        const char *comma = strchr(p, ',');
        const char *end = comma ? comma : p + strlen(p);
        const char *a = p, *b = end;
        while (a < b && isspace((unsigned char)*a))
            a++;
        while (b > a && isspace((unsigned char)b[-1]))
            b--;
        if (a < b) {
            if (n >= cap)
                return -1;
            wh_port_item_t *it = &items[n];
            memset(it, 0, sizeof *it);
            const char *dash = memchr(a, '-', (size_t)(b - a));
            if (parse_port(a, (size_t)(b - a), &it->lo)) {
                it->hi = it->lo;
            } else if (dash != NULL && parse_port(a, (size_t)(dash - a), &it->lo) &&
                       parse_port(dash + 1, (size_t)(b - dash - 1), &it->hi)) {
                if (it->hi < it->lo)
                    return -1;
            } else if (allow_names && valid_port_name(a, (size_t)(b - a))) {
                memcpy(it->name, a, (size_t)(b - a));
                it->name[b - a] = '\0';
            } else {
                return -1;
            }
            n++;
        }
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    return n;
}

bool wh__ports_contains(const wh_port_item_t *items, int n, int port)
{
    for (int i = 0; i < n; i++)
        if (items[i].name[0] == '\0' && port >= items[i].lo && port <= items[i].hi)
            return true;
    return false;
}

/* Splits a quantity into number and suffix; returns the suffix or NULL when
 * the number part is malformed. */
static const char *quantity_number(const char *s, double *num)
{
    const char *p = s;
    if (*p == '+' || *p == '-')
        p++;
    bool digits = false;
    while (isdigit((unsigned char)*p)) {
        p++;
        digits = true;
    }
    if (*p == '.') {
        p++;
        while (isdigit((unsigned char)*p)) {
            p++;
            digits = true;
        }
    }
    if (!digits)
        return NULL;
    char buf[64];
    size_t n = (size_t)(p - s);
    if (n >= sizeof buf)
        return NULL;
    memcpy(buf, s, n);
    buf[n] = '\0';
    *num = strtod(buf, NULL);
    return p;
}

static bool suffix_scale(const char *suf, double *scale)
{
    static const struct {
        const char *s;
        double f;
    } tab[] = {
        {"", 1},          {"m", 1e-3},      {"n", 1e-9},      {"u", 1e-6},
        {"k", 1e3},       {"M", 1e6},       {"G", 1e9},       {"T", 1e12},
        {"P", 1e15},      {"E", 1e18},      {"Ki", 1024.0},   {"Mi", 1048576.0},
        {"Gi", 1073741824.0}, {"Ti", 1099511627776.0}, {"Pi", 1125899906842624.0},
        {"Ei", 1152921504606846976.0},
    };
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++) {
        if (strcmp(suf, tab[i].s) == 0) {
            *scale = tab[i].f;
            return true;
        }
    }
    if (suf[0] == 'e' || suf[0] == 'E') {
        const char *p = suf + 1;
        if (*p == '+' || *p == '-')
            p++;
        if (!isdigit((unsigned char)*p))
            return false;
        while (isdigit((unsigned char)*p))
            p++;
        if (*p != '\0')
            return false;
        char *end;
        long e = strtol(suf + 1, &end, 10);
        if (e > 18 || e < -9)
            return false;
        double f = 1;
        for (long i = 0; i < (e < 0 ? -e : e); i++)
            f *= 10;
        *scale = e < 0 ? 1 / f : f;
        return true;
    }
    return false;
}

bool wh__quantity_valid(const char *s)
{
    double num, scale;
    if (s == NULL || s[0] == '\0' || strlen(s) > 63)
        return false;
    const char *suf = quantity_number(s, &num);
    return suf != NULL && suffix_scale(suf, &scale) && num >= 0;
}

long long wh__cpu_millis(const char *s)
{
    double num, scale;
    if (!wh__quantity_valid(s))
        return -1;
    const char *suf = quantity_number(s, &num);
    if (suf == NULL || !suffix_scale(suf, &scale))
        return -1;
    double m = num * scale * 1000.0;
    if (m > 1e15)
        return -1;
    long long r = (long long)m;
    if ((double)r < m)
        r++;
    return r;
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
