/*
 * mesh/addr.h - listen and connect addresses in "host:port" form.
 *
 * Accepted forms (as Go's net.SplitHostPort and Linkerd's env take them):
 *
 *     "127.0.0.1:4191"   "0.0.0.0:9990"   "[::1]:80"   "[::]:4143"
 *     ":9990"            (empty host: every IPv4 address, like 0.0.0.0)
 *     "localhost:8086"   (a name; only mesh_addr_resolve looks it up)
 *
 * The port is mandatory, decimal, 0..65535 (0 asks the kernel for a free
 * port when binding). An IPv6 literal must be bracketed. A host longer than
 * MESH_ADDR_HOST_MAX-1 bytes, whitespace, or an unbracketed ':' in the host
 * is rejected.
 *
 * mesh_addr_parse does no I/O; mesh_addr_resolve may query DNS for names.
 */
#ifndef MESH_ADDR_H
#define MESH_ADDR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* A DNS name is at most 253 bytes; plus the NUL. */
#define MESH_ADDR_HOST_MAX 256
/* Longest formatted address: "[" host "]:" 5 digits and the NUL. */
#define MESH_ADDR_STR_MAX (MESH_ADDR_HOST_MAX + 9)

typedef struct mesh_addr {
    char host[MESH_ADDR_HOST_MAX]; /* without brackets; "" = any address */
    uint16_t port;                 /* host byte order */
    int is_ipv6;                   /* the host was written in brackets */
} mesh_addr_t;

typedef enum {
    MESH_ADDR_ERR_SYNTAX = -1,  /* no ':' before the port, stray bracket, space... */
    MESH_ADDR_ERR_PORT = -2,    /* missing, non-numeric or > 65535 */
    MESH_ADDR_ERR_HOST = -3,    /* too long, or an IPv6 literal that is not valid */
    MESH_ADDR_ERR_RESOLVE = -4, /* mesh_addr_resolve: the name did not resolve */
} mesh_addr_err_t;

/* Splits `s` into *out. Returns 0 or a negative mesh_addr_err_t (*out is
 * then unspecified). */
int mesh_addr_parse(const char *s, mesh_addr_t *out) __attribute__((warn_unused_result));

/* Fills *ss and *len with the first address `a` resolves to (an empty host
 * gives 0.0.0.0). Numeric hosts never touch DNS. Returns 0,
 * MESH_ADDR_ERR_RESOLVE, or MESH_ADDR_ERR_HOST. Blocking. */
int mesh_addr_resolve(const mesh_addr_t *a, struct sockaddr_storage *ss, socklen_t *len)
    __attribute__((warn_unused_result));

/* Writes "host:port" ("[v6]:port", ":port" for an empty host) into out;
 * returns the length as snprintf does. */
int mesh_addr_format(const mesh_addr_t *a, char *out, size_t cap);

/* Writes a socket address as "ip:port" / "[ip6]:port"; returns the length as
 * snprintf does, or -1 for an unsupported family. */
int mesh_addr_format_sockaddr(const struct sockaddr *sa, char *out, size_t cap);

const char *mesh_addr_strerror(int err);

#endif
