/* Endpoint sets as Update messages; see dst/encode.h. */
#include "dst/encode.h"

#include <arpa/inet.h>
#include <string.h>

#include "mesh/pbnet.h"
#include "pb.h"

pb_tcp_t *dst__pb_tcp(dst_arena_t *a, const dst_endpoint_t *ep)
{
    pb_tcp_t *t = PB_NEW(a, pb_tcp_t, IO__LINKERD__PROXY__NET__TCP_ADDRESS__INIT);
    pb_ip_t *ip = PB_NEW(a, pb_ip_t, IO__LINKERD__PROXY__NET__IPADDRESS__INIT);
    if (t == NULL || ip == NULL)
        return NULL;
    t->ip = ip;
    t->port = ep->port;
    if (ep->family == AF_INET) {
        struct in_addr in;
        memcpy(&in, ep->ip, 4);
        ip->ip_case = IO__LINKERD__PROXY__NET__IPADDRESS__IP_IPV4;
        ip->ipv4 = mesh_pbnet_ipv4_to_pb(&in);
    } else {
        pb_ip6_t *v6 = PB_NEW(a, pb_ip6_t, IO__LINKERD__PROXY__NET__IPV6__INIT);
        if (v6 == NULL)
            return NULL;
        struct in6_addr in6;
        memcpy(&in6, ep->ip, 16);
        mesh_pbnet_ipv6_to_pb(&in6, v6);
        ip->ip_case = IO__LINKERD__PROXY__NET__IPADDRESS__IP_IPV6;
        ip->ipv6 = v6;
    }
    return t;
}

pb_waddr_t *dst__pb_waddr(dst_arena_t *a, const dst_endpoint_t *ep)
{
    pb_waddr_t *w = PB_NEW(a, pb_waddr_t, IO__LINKERD__PROXY__DESTINATION__WEIGHTED_ADDR__INIT);
    if (w == NULL || (w->addr = dst__pb_tcp(a, ep)) == NULL)
        return NULL;
    w->weight = ep->weight;
    if (ep->nlabels) {
        w->metric_labels = dst_arena_alloc(a, ep->nlabels * sizeof *w->metric_labels);
        if (w->metric_labels == NULL)
            return NULL;
        for (size_t i = 0; i < ep->nlabels; i++) {
            pb_label_t *l = PB_NEW(a, pb_label_t,
                                   IO__LINKERD__PROXY__DESTINATION__WEIGHTED_ADDR__METRIC_LABELS_ENTRY__INIT);
            if (l == NULL)
                return NULL;
            /* Strings are only read by pack; the endpoint outlives the build. */
            l->key = ep->labels[i].key;
            l->value = ep->labels[i].value;
            w->metric_labels[i] = l;
        }
        w->n_metric_labels = ep->nlabels;
    }
    if (ep->identity != NULL) {
        pb_tls_t *tls = PB_NEW(a, pb_tls_t, IO__LINKERD__PROXY__DESTINATION__TLS_IDENTITY__INIT);
        pb_dns_id_t *id = PB_NEW(a, pb_dns_id_t, IO__LINKERD__PROXY__DESTINATION__TLS_IDENTITY__DNS_LIKE_IDENTITY__INIT);
        pb_dns_id_t *sn = PB_NEW(a, pb_dns_id_t, IO__LINKERD__PROXY__DESTINATION__TLS_IDENTITY__DNS_LIKE_IDENTITY__INIT);
        if (tls == NULL || id == NULL || sn == NULL)
            return NULL;
        id->name = sn->name = ep->identity;
        tls->strategy_case = IO__LINKERD__PROXY__DESTINATION__TLS_IDENTITY__STRATEGY_DNS_LIKE_IDENTITY;
        tls->dns_like_identity = id;
        tls->server_name = sn;
        w->tls_identity = tls;
    }
    if (ep->hint != DST_HINT_NONE) {
        pb_hint_t *h = PB_NEW(a, pb_hint_t, IO__LINKERD__PROXY__DESTINATION__PROTOCOL_HINT__INIT);
        if (h == NULL)
            return NULL;
        if (ep->hint == DST_HINT_H2) {
            h->protocol_case = IO__LINKERD__PROXY__DESTINATION__PROTOCOL_HINT__PROTOCOL_H2;
            h->h2 = PB_NEW(a, pb_h2_t, IO__LINKERD__PROXY__DESTINATION__PROTOCOL_HINT__H2__INIT);
            if (h->h2 == NULL)
                return NULL;
        } else {
            h->protocol_case = IO__LINKERD__PROXY__DESTINATION__PROTOCOL_HINT__PROTOCOL_OPAQUE;
            h->opaque = PB_NEW(a, pb_opaque_t, IO__LINKERD__PROXY__DESTINATION__PROTOCOL_HINT__OPAQUE__INIT);
            if (h->opaque == NULL)
                return NULL;
        }
        w->protocol_hint = h;
    }
    return w;
}

dst_blob_t *dst_encode_add(const dst_endpoint_t *const *eps, size_t n, const char *svc, const char *ns)
{
    dst_arena_t a = DST_ARENA_INIT;
    dst_blob_t *b = NULL;
    pb_update_t up = IO__LINKERD__PROXY__DESTINATION__UPDATE__INIT;
    pb_waddr_set_t set = IO__LINKERD__PROXY__DESTINATION__WEIGHTED_ADDR_SET__INIT;
    pb_set_label_t l_svc = IO__LINKERD__PROXY__DESTINATION__WEIGHTED_ADDR_SET__METRIC_LABELS_ENTRY__INIT;
    pb_set_label_t l_ns = IO__LINKERD__PROXY__DESTINATION__WEIGHTED_ADDR_SET__METRIC_LABELS_ENTRY__INIT;
    /* Keys sorted, so equal sets encode to equal bytes. */
    pb_set_label_t *labels[2] = {&l_ns, &l_svc};
    l_ns.key = (char *)"namespace";
    l_ns.value = (char *)(ns ? ns : "");
    l_svc.key = (char *)"service";
    l_svc.value = (char *)(svc ? svc : "");
    set.metric_labels = labels;
    set.n_metric_labels = 2;
    if (n) {
        set.addrs = dst_arena_alloc(&a, n * sizeof *set.addrs);
        if (set.addrs == NULL)
            goto out;
        for (size_t i = 0; i < n; i++)
            if ((set.addrs[i] = dst__pb_waddr(&a, eps[i])) == NULL)
                goto out;
        set.n_addrs = n;
    }
    up.update_case = IO__LINKERD__PROXY__DESTINATION__UPDATE__UPDATE_ADD;
    up.add = &set;
    b = dst_blob_pack(&up.base);
out:
    dst_arena_free(&a);
    return b;
}

dst_blob_t *dst_encode_remove(const dst_endpoint_t *const *eps, size_t n)
{
    dst_arena_t a = DST_ARENA_INIT;
    dst_blob_t *b = NULL;
    pb_update_t up = IO__LINKERD__PROXY__DESTINATION__UPDATE__INIT;
    pb_addr_set_t set = IO__LINKERD__PROXY__DESTINATION__ADDR_SET__INIT;
    if (n) {
        set.addrs = dst_arena_alloc(&a, n * sizeof *set.addrs);
        if (set.addrs == NULL)
            goto out;
        for (size_t i = 0; i < n; i++)
            if ((set.addrs[i] = dst__pb_tcp(&a, eps[i])) == NULL)
                goto out;
        set.n_addrs = n;
    }
    up.update_case = IO__LINKERD__PROXY__DESTINATION__UPDATE__UPDATE_REMOVE;
    up.remove = &set;
    b = dst_blob_pack(&up.base);
out:
    dst_arena_free(&a);
    return b;
}

dst_blob_t *dst_encode_no_endpoints(bool exists)
{
    pb_update_t up = IO__LINKERD__PROXY__DESTINATION__UPDATE__INIT;
    pb_no_endpoints_t ne = IO__LINKERD__PROXY__DESTINATION__NO_ENDPOINTS__INIT;
    ne.exists = exists;
    up.update_case = IO__LINKERD__PROXY__DESTINATION__UPDATE__UPDATE_NO_ENDPOINTS;
    up.no_endpoints = &ne;
    return dst_blob_pack(&up.base);
}
