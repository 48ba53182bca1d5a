/*
 * dst/encode.h - Destination.Get updates as encoded blobs (linkerd.md §1.2).
 *
 * Each function packs one io.linkerd.proxy.destination.Update into a new blob
 * (refs = 1) that can be queued on many streams; NULL on no memory.
 *   add:          WeightedAddrSet with set labels service=<svc>,
 *                 namespace=<ns>; each WeightedAddr has addr, weight,
 *                 the endpoint's labels, tls_identity (dns_like_identity and
 *                 server_name, both the identity) when it has one, and the
 *                 protocol hint (h2{} / opaque{}) when set.
 *   remove:       AddrSet of the endpoints' addresses.
 *   no_endpoints: NoEndpoints{exists}.
 */
#ifndef DST_ENCODE_H
#define DST_ENCODE_H

#include <stdbool.h>

#include "dst/blob.h"
#include "dst/endpoints.h"

dst_blob_t *dst_encode_add(const dst_endpoint_t *const *eps, size_t n, const char *svc, const char *ns);
dst_blob_t *dst_encode_remove(const dst_endpoint_t *const *eps, size_t n);
dst_blob_t *dst_encode_no_endpoints(bool exists);

#endif
