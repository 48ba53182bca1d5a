/* Targets named by the request (outbound, no original destination); see
 * px_conn_target_from_authority in px/conn.h. */
#include <netdb.h>
#include <stdio.h>
#include <string.h>

#include "px/conn.h"

static int parse_authority(const char *a, size_t n, px_addr_t *out)
{
    char host[256], port[8] = "80";
    const char *colon = NULL;
    if (n == 0 || n >= sizeof(host))
        return -1;
    if (a[0] == '[') {
        const char *rb = memchr(a, ']', n);
        if (rb == NULL)
            return -1;
        if ((size_t)(rb - a) + 1 < n)
            colon = rb + 1;
    } else {
        colon = memchr(a, ':', n);
    }
    size_t hn = colon ? (size_t)(colon - a) : n;
    if (colon) {
        size_t pn = n - hn - 1;
        if (*colon != ':' || pn == 0 || pn >= sizeof(port))
            return -1;
        memcpy(port, colon + 1, pn);
        port[pn] = 0;
    }
    memcpy(host, a, hn);
    host[hn] = 0;
    char lit[300];
    snprintf(lit, sizeof(lit), "%s:%s", strcmp(host, "localhost") == 0 ? "127.0.0.1" : host, port);
    if (px_parse_addr(lit, out) == 0)
        return 0;
    /* A name: resolved synchronously. This mode exists for `make run` and
     * benchmarks without iptables, not for production traffic. */
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    if (host[0] == '[' || getaddrinfo(host, port, &hints, &res) != 0 || res == NULL)
        return -1;
    memset(out, 0, sizeof(*out));
    memcpy(&out->sa, res->ai_addr, res->ai_addrlen);
    out->len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static bool same_addr(const px_addr_t *a, const px_addr_t *b)
{
    return a->len == b->len && memcmp(&a->sa, &b->sa, a->len) == 0;
}

int px_conn_target_from_authority(const px_conn_t *conn, const char *authority, size_t n,
                                  px_addr_t *out)
{
    px_worker_t *w = conn->w;
    if (conn->dir != PX_DIR_OUTBOUND || !w->cfg->outbound_target_from_host)
        return -1;
    if (parse_authority(authority, n, out) != 0)
        return -1;
    /* The proxy never dials itself (a request naming the listener would loop). */
    return same_addr(out, &w->listeners[PX_DIR_OUTBOUND].addr) ? -1 : 0;
}
