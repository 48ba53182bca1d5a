/* Socket addresses <-> io.linkerd.proxy.net messages (see mesh/pbnet.h). */
#include "mesh/pbnet.h"

#include <arpa/inet.h>
#include <string.h>

const char *mesh_pbnet_strerror(int err)
{
    switch (err) {
    case MESH_PBNET_OK: return "success";
    case MESH_PBNET_ERR_FAMILY: return "address family is not IPv4 or IPv6";
    case MESH_PBNET_ERR_LEN: return "socket address too short for its family";
    case MESH_PBNET_ERR_NO_IP: return "address message has no IP";
    case MESH_PBNET_ERR_PORT: return "port out of range";
    }
    return "unknown pbnet error";
}

uint32_t mesh_pbnet_ipv4_to_pb(const struct in_addr *a)
{
    return ntohl(a->s_addr);
}

void mesh_pbnet_ipv4_from_pb(uint32_t v, struct in_addr *out)
{
    out->s_addr = htonl(v);
}

static uint64_t be64_load(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static void be64_store(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

void mesh_pbnet_ipv6_to_pb(const struct in6_addr *a, Io__Linkerd__Proxy__Net__IPv6 *out)
{
    out->first = be64_load(a->s6_addr);
    out->last = be64_load(a->s6_addr + 8);
}

void mesh_pbnet_ipv6_from_pb(const Io__Linkerd__Proxy__Net__IPv6 *v, struct in6_addr *out)
{
    be64_store(out->s6_addr, v->first);
    be64_store(out->s6_addr + 8, v->last);
}

int mesh_pbnet_tcp_from_sockaddr(mesh_pbnet_tcp_t *out, const struct sockaddr *sa, socklen_t len)
{
    static const Io__Linkerd__Proxy__Net__TcpAddress tcp_init =
        IO__LINKERD__PROXY__NET__TCP_ADDRESS__INIT;
    static const Io__Linkerd__Proxy__Net__IPAddress ip_init =
        IO__LINKERD__PROXY__NET__IPADDRESS__INIT;
    static const Io__Linkerd__Proxy__Net__IPv6 ip6_init = IO__LINKERD__PROXY__NET__IPV6__INIT;

    if (len < (socklen_t)sizeof(sa_family_t))
        return MESH_PBNET_ERR_LEN;
    out->tcp = tcp_init;
    out->ip = ip_init;
    out->ip6 = ip6_init;
    out->tcp.ip = &out->ip;
    /* memcpy rather than casts: the caller's buffer need not be aligned for
     * the family's struct. */
    if (sa->sa_family == AF_INET) {
        struct sockaddr_in sin;
        if (len < (socklen_t)sizeof(sin))
            return MESH_PBNET_ERR_LEN;
        memcpy(&sin, sa, sizeof(sin));
        out->ip.ip_case = IO__LINKERD__PROXY__NET__IPADDRESS__IP_IPV4;
        out->ip.ipv4 = mesh_pbnet_ipv4_to_pb(&sin.sin_addr);
        out->tcp.port = ntohs(sin.sin_port);
        return MESH_PBNET_OK;
    }
    if (sa->sa_family == AF_INET6) {
        struct sockaddr_in6 sin6;
        if (len < (socklen_t)sizeof(sin6))
            return MESH_PBNET_ERR_LEN;
        memcpy(&sin6, sa, sizeof(sin6));
        mesh_pbnet_ipv6_to_pb(&sin6.sin6_addr, &out->ip6);
        out->ip.ip_case = IO__LINKERD__PROXY__NET__IPADDRESS__IP_IPV6;
        out->ip.ipv6 = &out->ip6;
        out->tcp.port = ntohs(sin6.sin6_port);
        return MESH_PBNET_OK;
    }
    return MESH_PBNET_ERR_FAMILY;
}

int mesh_pbnet_ip_to_sockaddr(const Io__Linkerd__Proxy__Net__IPAddress *ip, uint16_t port,
                              struct sockaddr_storage *out, socklen_t *len)
{
    if (ip == NULL)
        return MESH_PBNET_ERR_NO_IP;
    memset(out, 0, sizeof(*out));
    switch (ip->ip_case) {
    case IO__LINKERD__PROXY__NET__IPADDRESS__IP_IPV4: {
        struct sockaddr_in sin;
        memset(&sin, 0, sizeof(sin));
        sin.sin_family = AF_INET;
        sin.sin_port = htons(port);
        mesh_pbnet_ipv4_from_pb(ip->ipv4, &sin.sin_addr);
        memcpy(out, &sin, sizeof(sin));
        *len = sizeof(sin);
        return MESH_PBNET_OK;
    }
    case IO__LINKERD__PROXY__NET__IPADDRESS__IP_IPV6: {
        if (ip->ipv6 == NULL)
            return MESH_PBNET_ERR_NO_IP;
        struct sockaddr_in6 sin6;
        memset(&sin6, 0, sizeof(sin6));
        sin6.sin6_family = AF_INET6;
        sin6.sin6_port = htons(port);
        mesh_pbnet_ipv6_from_pb(ip->ipv6, &sin6.sin6_addr);
        memcpy(out, &sin6, sizeof(sin6));
        *len = sizeof(sin6);
        return MESH_PBNET_OK;
    }
    default:
        return MESH_PBNET_ERR_NO_IP;
    }
}

int mesh_pbnet_tcp_to_sockaddr(const Io__Linkerd__Proxy__Net__TcpAddress *tcp,
                               struct sockaddr_storage *out, socklen_t *len)
{
    if (tcp == NULL)
        return MESH_PBNET_ERR_NO_IP;
    if (tcp->port > MESH_PBNET_PORT_MAX)
        return MESH_PBNET_ERR_PORT;
    return mesh_pbnet_ip_to_sockaddr(tcp->ip, (uint16_t)tcp->port, out, len);
}
