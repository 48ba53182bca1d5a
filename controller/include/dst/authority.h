/*
 * dst/authority.h - the `path` of a GetDestination request (linkerd.md §2.1).
 *
 * Accepted forms ("DOMAIN" is the cluster domain, e.g. cluster.local):
 *
 *     svc.ns.svc.DOMAIN[:port]          a Service
 *     host.svc.ns.svc.DOMAIN[:port]     one pod of a Service by hostname
 *                                       (StatefulSet / subdomain pods)
 *     1.2.3.4[:port]  [::1][:port]      an IP (GetProfile only; Get refuses)
 *
 * One trailing dot after DOMAIN is allowed ("web.ns.svc.cluster.local.:80",
 * what proxies send for fully qualified names). A missing port means 80; a
 * port must be 1..65535, decimal, without sign or leading '+'. Labels must be
 * non-empty DNS labels ([a-z0-9-], at most 63 bytes; names are compared
 * case-insensitively and returned lower-cased). Anything else - short names,
 * other suffixes, empty labels, an unbracketed IPv6 with a port - is
 * DST_AUTH_ERR_NAME, which the gRPC layer turns into InvalidArgument.
 *
 * Pure: no allocation, no I/O, thread-safe; never logs.
 */
#ifndef DST_AUTHORITY_H
#define DST_AUTHORITY_H

#include <netinet/in.h>
#include <stdint.h>

/* A DNS label is at most 63 bytes; plus the NUL. */
#define DST_AUTH_LABEL_MAX 64
/* Longest path we look at; a longer one cannot be a valid name. */
#define DST_AUTH_PATH_MAX 512
#define DST_AUTH_DEFAULT_PORT 80

typedef enum {
    DST_AUTH_SERVICE = 1, /* svc/ns (and maybe instance) are set */
    DST_AUTH_IP = 2,      /* family/ip are set */
} dst_auth_kind_t;

typedef enum {
    DST_AUTH_OK = 0,
    DST_AUTH_ERR_EMPTY = -1,  /* NULL or empty path */
    DST_AUTH_ERR_PORT = -2,   /* port empty, not decimal, 0 or > 65535 */
    DST_AUTH_ERR_NAME = -3,   /* not svc.ns.svc.DOMAIN or host.svc.ns.svc.DOMAIN */
    DST_AUTH_ERR_LENGTH = -4, /* longer than DST_AUTH_PATH_MAX */
} dst_auth_err_t;

typedef struct dst_authority {
    dst_auth_kind_t kind;
    char svc[DST_AUTH_LABEL_MAX];      /* Service name */
    char ns[DST_AUTH_LABEL_MAX];       /* its namespace */
    char instance[DST_AUTH_LABEL_MAX]; /* pod hostname, "" when none */
    int family;                        /* AF_INET / AF_INET6 for DST_AUTH_IP */
    uint8_t ip[16];                    /* network order; 4 bytes used for IPv4 */
    uint16_t port;                     /* 1..65535 */
} dst_authority_t;

/* Parses `path` against `cluster_domain` (e.g. "cluster.local"; itself
 * without a trailing dot). Returns DST_AUTH_OK or a negative dst_auth_err_t;
 * *out is then unspecified. */
int dst_authority_parse(const char *path, const char *cluster_domain, dst_authority_t *out)
    __attribute__((warn_unused_result));

/* A static English description of a dst_auth_err_t. */
const char *dst_authority_strerror(int err);

#endif
