/* Parsers for the values the injection annotations carry: port lists,
 * quantities, CIDRs. Pure and allocation-free. */
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
