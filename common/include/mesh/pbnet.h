/*
 * mesh/pbnet.h - converting socket addresses to and from net.proto messages.
 *
 * The wire form (io.linkerd.proxy.net) carries addresses as numbers:
 *   - IPv4: fixed32 whose value is the address read big-endian, i.e.
 *     ntohl(sin_addr.s_addr); 10.1.2.3 is 0x0A010203.
 *   - IPv6: two fixed64, `first` = big-endian uint64 of bytes 0-7 and `last`
 *     = big-endian uint64 of bytes 8-15.
 *   - port: uint32; only 0..MESH_PBNET_PORT_MAX can be a TCP port.
 *
 * Nothing here allocates or does I/O. Encoding fills caller-owned storage;
 * decoding reads a message (e.g. one returned by protobuf-c's unpack) and
 * writes a sockaddr. The IPv6 scope id and flow label have no wire form: they
 * are dropped on encode and zero on decode.
 *
 * Fallible functions return MESH_PBNET_OK (0) or a negative MESH_PBNET_ERR_*,
 * and leave their output unspecified on error.
 */
#ifndef MESH_PBNET_H
#define MESH_PBNET_H

#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>

#include "net.pb-c.h"

/* The largest value of TcpAddress.port that is a TCP port. */
#define MESH_PBNET_PORT_MAX 65535u

typedef enum {
    MESH_PBNET_OK = 0,
    MESH_PBNET_ERR_FAMILY = -1, /* sockaddr family is neither AF_INET nor AF_INET6 */
    MESH_PBNET_ERR_LEN = -2,    /* sockaddr length too short for its family */
    MESH_PBNET_ERR_NO_IP = -3,  /* message has no address: ip absent, oneof unset,
                                   or the ipv6 member NULL */
    MESH_PBNET_ERR_PORT = -4,   /* port above MESH_PBNET_PORT_MAX */
} mesh_pbnet_err_t;

/* A static English description of an error code (also of unknown codes). */
const char *mesh_pbnet_strerror(int err);

/* IPv4: the fixed32 value of `a` (ntohl(a->s_addr)), and back. */
uint32_t mesh_pbnet_ipv4_to_pb(const struct in_addr *a);
void mesh_pbnet_ipv4_from_pb(uint32_t v, struct in_addr *out);

/* IPv6: sets out->first and out->last from `a` (other members untouched,
 * so `out` should be initialised with IO__LINKERD__PROXY__NET__IPV6__INIT),
 * and back. */
void mesh_pbnet_ipv6_to_pb(const struct in6_addr *a, Io__Linkerd__Proxy__Net__IPv6 *out);
void mesh_pbnet_ipv6_from_pb(const Io__Linkerd__Proxy__Net__IPv6 *v, struct in6_addr *out);

/*
 * A TcpAddress built without allocation: `tcp` is the message to pack, and
 * its pointers lead to `ip` and (for IPv6) `ip6` inside the same struct. The
 * struct is therefore not copyable by value; build it where it is used.
 */
typedef struct mesh_pbnet_tcp {
    Io__Linkerd__Proxy__Net__TcpAddress tcp; /* tcp.ip == &ip */
    Io__Linkerd__Proxy__Net__IPAddress ip;   /* ip.ipv6 == &ip6 when IPv6 */
    Io__Linkerd__Proxy__Net__IPv6 ip6;       /* used only for IPv6 */
} mesh_pbnet_tcp_t;

/*
 * Initialises *out from an AF_INET or AF_INET6 socket address of `len` bytes.
 * Errors: MESH_PBNET_ERR_FAMILY, MESH_PBNET_ERR_LEN.
 */
int mesh_pbnet_tcp_from_sockaddr(mesh_pbnet_tcp_t *out, const struct sockaddr *sa,
                                 socklen_t len) __attribute__((warn_unused_result));

/*
 * Writes `ip` with `port` as a sockaddr_in or sockaddr_in6 into *out (zeroed
 * first) and its length into *len.
 * Errors: MESH_PBNET_ERR_NO_IP.
 */
int mesh_pbnet_ip_to_sockaddr(const Io__Linkerd__Proxy__Net__IPAddress *ip, uint16_t port,
                              struct sockaddr_storage *out, socklen_t *len)
    __attribute__((warn_unused_result));

/*
 * Writes a TcpAddress as a sockaddr, as mesh_pbnet_ip_to_sockaddr does.
 * Errors: MESH_PBNET_ERR_NO_IP (tcp NULL, or no usable ip), MESH_PBNET_ERR_PORT.
 */
int mesh_pbnet_tcp_to_sockaddr(const Io__Linkerd__Proxy__Net__TcpAddress *tcp,
                               struct sockaddr_storage *out, socklen_t *len)
    __attribute__((warn_unused_result));

#endif
