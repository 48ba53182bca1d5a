/* Authority parsing for Get/GetProfile paths; see dst/authority.h. */
#include "dst/authority.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <string.h>

static int parse_port(const char *s, size_t n, uint16_t *out)
{
    if (n == 0 || n > 5)
        return DST_AUTH_ERR_PORT;
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return DST_AUTH_ERR_PORT;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v == 0 || v > 65535)
        return DST_AUTH_ERR_PORT;
    *out = (uint16_t)v;
    return DST_AUTH_OK;
}

/* Copies one DNS label lower-cased into out; 0 if it is a valid label. */
static int take_label(const char *s, size_t n, char out[DST_AUTH_LABEL_MAX])
{
    if (n == 0 || n >= DST_AUTH_LABEL_MAX)
        return -1;
    for (size_t i = 0; i < n; i++) {
        char c = (char)tolower((unsigned char)s[i]);
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return -1;
        out[i] = c;
    }
    out[n] = '\0';
    return 0;
}

static int parse_ip(const char *host, size_t n, int bracketed, dst_authority_t *out)
{
    char tmp[INET6_ADDRSTRLEN + 1];
    if (n == 0 || n >= sizeof tmp)
        return DST_AUTH_ERR_NAME;
    memcpy(tmp, host, n);
    tmp[n] = '\0';
    if (!bracketed && inet_pton(AF_INET, tmp, out->ip) == 1) {
        out->family = AF_INET;
        out->kind = DST_AUTH_IP;
        return DST_AUTH_OK;
    }
    if (inet_pton(AF_INET6, tmp, out->ip) == 1) {
        out->family = AF_INET6;
        out->kind = DST_AUTH_IP;
        return DST_AUTH_OK;
    }
    return DST_AUTH_ERR_NAME;
}

static int parse_name(const char *host, size_t n, const char *domain, dst_authority_t *out)
{
    /* One trailing dot is the fully qualified form; two is an empty label. */
    if (n > 0 && host[n - 1] == '.')
        n--;
    size_t dl = strlen(domain);
    static const char svc_sfx[] = ".svc.";
    size_t sl = sizeof svc_sfx - 1;
    if (dl == 0 || n <= sl + dl)
        return DST_AUTH_ERR_NAME;
    if (strncasecmp(host + n - dl, domain, dl) != 0 ||
        strncasecmp(host + n - dl - sl, svc_sfx, sl) != 0)
        return DST_AUTH_ERR_NAME;
    size_t pl = n - dl - sl; /* "svc.ns" or "host.svc.ns" */
    const char *dots[3];
    int ndots = 0;
    for (size_t i = 0; i < pl; i++) {
        if (host[i] == '.') {
            if (ndots == 2)
                return DST_AUTH_ERR_NAME;
            dots[ndots++] = host + i;
        }
    }
    const char *end = host + pl;
    if (ndots == 1) {
        out->instance[0] = '\0';
        if (take_label(host, (size_t)(dots[0] - host), out->svc) ||
            take_label(dots[0] + 1, (size_t)(end - dots[0] - 1), out->ns))
            return DST_AUTH_ERR_NAME;
    } else if (ndots == 2) {
        if (take_label(host, (size_t)(dots[0] - host), out->instance) ||
            take_label(dots[0] + 1, (size_t)(dots[1] - dots[0] - 1), out->svc) ||
            take_label(dots[1] + 1, (size_t)(end - dots[1] - 1), out->ns))
            return DST_AUTH_ERR_NAME;
    } else {
        return DST_AUTH_ERR_NAME;
    }
    out->kind = DST_AUTH_SERVICE;
    return DST_AUTH_OK;
}

int dst_authority_parse(const char *path, const char *cluster_domain, dst_authority_t *out)
{
    if (path == NULL || path[0] == '\0')
        return DST_AUTH_ERR_EMPTY;
    size_t n = strnlen(path, DST_AUTH_PATH_MAX + 1);
    if (n > DST_AUTH_PATH_MAX)
        return DST_AUTH_ERR_LENGTH;
    if (cluster_domain == NULL)
        return DST_AUTH_ERR_NAME;
    memset(out, 0, sizeof *out);
    out->port = DST_AUTH_DEFAULT_PORT;

    if (path[0] == '[') {
        const char *rb = memchr(path, ']', n);
        if (rb == NULL)
            return DST_AUTH_ERR_NAME;
        const char *rest = rb + 1;
        size_t rn = n - (size_t)(rest - path);
        if (rn > 0) {
            if (rest[0] != ':')
                return DST_AUTH_ERR_NAME;
            int rc = parse_port(rest + 1, rn - 1, &out->port);
            if (rc)
                return rc;
        }
        return parse_ip(path + 1, (size_t)(rb - path - 1), 1, out);
    }

    const char *colon = memchr(path, ':', n);
    if (colon != NULL && memchr(colon + 1, ':', n - (size_t)(colon + 1 - path)) != NULL) {
        /* Several colons: only a bare IPv6 literal (no port) is meaningful. */
        return parse_ip(path, n, 1, out);
    }
    size_t hn = n;
    if (colon != NULL) {
        hn = (size_t)(colon - path);
        int rc = parse_port(colon + 1, n - hn - 1, &out->port);
        if (rc)
            return rc;
    }
    if (hn == 0)
        return DST_AUTH_ERR_NAME;
    if (parse_ip(path, hn, 0, out) == DST_AUTH_OK)
        return DST_AUTH_OK;
    return parse_name(path, hn, cluster_domain, out);
}

const char *dst_authority_strerror(int err)
{
    switch (err) {
    case DST_AUTH_OK: return "ok";
    case DST_AUTH_ERR_EMPTY: return "empty authority";
    case DST_AUTH_ERR_PORT: return "invalid port";
    case DST_AUTH_ERR_NAME: return "not a service name of the form svc.ns.svc.<cluster domain>";
    case DST_AUTH_ERR_LENGTH: return "authority too long";
    default: return "unknown authority error";
    }
}
