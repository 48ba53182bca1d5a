/* host:port addresses; see mesh/addr.h. */
#include "mesh/addr.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

static int parse_port(const char *p, uint16_t *out)
{
    unsigned v = 0;
    if (*p == '\0')
        return MESH_ADDR_ERR_PORT;
    for (; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return MESH_ADDR_ERR_PORT;
        v = v * 10 + (unsigned)(*p - '0');
        if (v > 65535)
            return MESH_ADDR_ERR_PORT;
    }
    *out = (uint16_t)v;
    return 0;
}

int mesh_addr_parse(const char *s, mesh_addr_t *out)
{
    const char *host, *host_end, *colon;

    if (s == NULL)
        return MESH_ADDR_ERR_SYNTAX;
    memset(out, 0, sizeof(*out));
    if (*s == '[') {
        host = s + 1;
        host_end = strchr(host, ']');
        if (host_end == NULL || host_end[1] != ':')
            return MESH_ADDR_ERR_SYNTAX;
        colon = host_end + 1;
        out->is_ipv6 = 1;
    } else {
        host = s;
        colon = strrchr(s, ':');
        if (colon == NULL)
            return MESH_ADDR_ERR_SYNTAX;
        host_end = colon;
        /* An IPv6 literal must be bracketed, so any other ':' is an error. */
        if (memchr(host, ':', (size_t)(host_end - host)) != NULL)
            return MESH_ADDR_ERR_SYNTAX;
    }
    size_t n = (size_t)(host_end - host);
    if (n >= MESH_ADDR_HOST_MAX)
        return MESH_ADDR_ERR_HOST;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)host[i];
        if (c <= ' ' || c == '[' || c == ']' || c == '/' || c >= 0x7f)
            return MESH_ADDR_ERR_SYNTAX;
    }
    memcpy(out->host, host, n);
    out->host[n] = '\0';
    if (out->is_ipv6) {
        struct in6_addr a6;
        if (inet_pton(AF_INET6, out->host, &a6) != 1)
            return MESH_ADDR_ERR_HOST;
    }
    return parse_port(colon + 1, &out->port);
}

int mesh_addr_resolve(const mesh_addr_t *a, struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
    if (a->host[0] == '\0' || inet_pton(AF_INET, a->host, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons(a->port);
        *len = sizeof(*sin);
        return 0;
    }
    if (inet_pton(AF_INET6, a->host, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(a->port);
        *len = sizeof(*sin6);
        return 0;
    }
    if (a->is_ipv6)
        return MESH_ADDR_ERR_HOST;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    if (getaddrinfo(a->host, NULL, &hints, &res) != 0 || res == NULL)
        return MESH_ADDR_ERR_RESOLVE;
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    if (ss->ss_family == AF_INET6)
        sin6->sin6_port = htons(a->port);
    else
        sin->sin_port = htons(a->port);
    return 0;
}

int mesh_addr_format(const mesh_addr_t *a, char *out, size_t cap)
{
    if (a->is_ipv6 || strchr(a->host, ':') != NULL)
        return snprintf(out, cap, "[%s]:%u", a->host, a->port);
    return snprintf(out, cap, "%s:%u", a->host, a->port);
}

int mesh_addr_format_sockaddr(const struct sockaddr *sa, char *out, size_t cap)
{
    char ip[INET6_ADDRSTRLEN];
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
        return snprintf(out, cap, "%s:%u", ip, ntohs(sin->sin_port));
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip));
        return snprintf(out, cap, "[%s]:%u", ip, ntohs(sin6->sin6_port));
    }
    return -1;
}

const char *mesh_addr_strerror(int err)
{
    switch (err) {
    case 0:
        return "ok";
    case MESH_ADDR_ERR_SYNTAX:
        return "invalid address (expected host:port, [ipv6]:port or :port)";
    case MESH_ADDR_ERR_PORT:
        return "invalid port (expected 0-65535)";
    case MESH_ADDR_ERR_HOST:
        return "invalid host";
    case MESH_ADDR_ERR_RESOLVE:
        return "host name did not resolve";
    default:
        return "unknown address error";
    }
}
