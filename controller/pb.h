/*
 * controller/pb.h - private short names for the generated destination.proto
 * types, and arena helpers for building message trees. Internal to libdst.
 */
#ifndef DST_PB_H
#define DST_PB_H

#include "destination.pb-c.h"
#include "dst/blob.h"
#include "dst/endpoints.h"

typedef Io__Linkerd__Proxy__Destination__Update pb_update_t;
typedef Io__Linkerd__Proxy__Destination__WeightedAddrSet pb_waddr_set_t;
typedef Io__Linkerd__Proxy__Destination__WeightedAddrSet__MetricLabelsEntry pb_set_label_t;
typedef Io__Linkerd__Proxy__Destination__WeightedAddr pb_waddr_t;
typedef Io__Linkerd__Proxy__Destination__WeightedAddr__MetricLabelsEntry pb_label_t;
typedef Io__Linkerd__Proxy__Destination__AddrSet pb_addr_set_t;
typedef Io__Linkerd__Proxy__Destination__NoEndpoints pb_no_endpoints_t;
typedef Io__Linkerd__Proxy__Destination__TlsIdentity pb_tls_t;
typedef Io__Linkerd__Proxy__Destination__TlsIdentity__DnsLikeIdentity pb_dns_id_t;
typedef Io__Linkerd__Proxy__Destination__ProtocolHint pb_hint_t;
typedef Io__Linkerd__Proxy__Destination__ProtocolHint__H2 pb_h2_t;
typedef Io__Linkerd__Proxy__Destination__ProtocolHint__Opaque pb_opaque_t;
typedef Io__Linkerd__Proxy__Net__TcpAddress pb_tcp_t;
typedef Io__Linkerd__Proxy__Net__IPAddress pb_ip_t;
typedef Io__Linkerd__Proxy__Net__IPv6 pb_ip6_t;
typedef Io__Linkerd__Proxy__Destination__DestinationProfile pb_profile_t;
typedef Io__Linkerd__Proxy__Destination__Route pb_route_t;
typedef Io__Linkerd__Proxy__Destination__Route__MetricsLabelsEntry pb_route_label_t;
typedef Io__Linkerd__Proxy__Destination__RetryBudget pb_budget_t;
typedef Io__Linkerd__Proxy__Destination__ResponseClass pb_rclass_t;
typedef Io__Linkerd__Proxy__Destination__RequestMatch pb_reqm_t;
typedef Io__Linkerd__Proxy__Destination__RequestMatch__Seq pb_reqm_seq_t;
typedef Io__Linkerd__Proxy__Destination__ResponseMatch pb_rspm_t;
typedef Io__Linkerd__Proxy__Destination__ResponseMatch__Seq pb_rspm_seq_t;
typedef Io__Linkerd__Proxy__Destination__PathMatch pb_path_t;
typedef Io__Linkerd__Proxy__Destination__HttpStatusRange pb_status_t;
typedef Io__Linkerd__Proxy__Destination__WeightedDst pb_wdst_t;
typedef Io__Linkerd__Proxy__HttpTypes__HttpMethod pb_method_t;
typedef Io__Linkerd__Proxy__Meta__Metadata pb_meta_t;
typedef Io__Linkerd__Proxy__Meta__Resource pb_resource_t;
typedef Google__Protobuf__Duration pb_duration_t;

/* Allocates a message of type T in arena A initialised with INIT; NULL on
 * no memory (the arena remembers the failure). */
#define PB_NEW(A, T, INIT)                                   \
    ({                                                       \
        T *p__ = dst_arena_alloc((A), sizeof(T));            \
        if (p__ != NULL) {                                   \
            T init__ = INIT;                                 \
            *p__ = init__;                                   \
        }                                                    \
        p__;                                                 \
    })

/* A WeightedAddr for `ep` built in `a` (NULL on no memory). */
pb_waddr_t *dst__pb_waddr(dst_arena_t *a, const dst_endpoint_t *ep);
/* A TcpAddress for `ep` built in `a`. */
pb_tcp_t *dst__pb_tcp(dst_arena_t *a, const dst_endpoint_t *ep);

#endif
