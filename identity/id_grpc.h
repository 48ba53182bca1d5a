/*
 * identity/id_grpc.h (private) - the Certify endpoint on mesh/grpc_server.h.
 *
 * The serving certificate sits in a mesh/grpc_reload.h holder: a renewal
 * swaps it in place, new TLS handshakes get the new certificate, and
 * connections and calls already in flight are not touched.
 */
#ifndef ID_GRPC_H
#define ID_GRPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "id/service.h"

#define ID_CERTIFY_PATH "/io.linkerd.proxy.identity.Identity/Certify"
/* Handler threads: one per CPU (signing is CPU-bound; a TokenReview waits on
 * the API for about a millisecond), within these bounds. Each thread costs
 * stack and allocator memory, so a small machine keeps few. */
#define ID_GRPC_MIN_WORKERS 2
#define ID_GRPC_MAX_WORKERS 8

typedef struct id_grpc id_grpc_t;

/* NULL when out of memory. */
id_grpc_t *id_grpc_new(id_service_t *svc, bool insecure);
/* Installs a serving certificate chain + key (PEM): before start, the one
 * start serves; after start, swapped in for the next handshakes. A pair whose
 * key is not the certificate's is refused (logged) and the current one
 * stays. 0 or -1. */
int id_grpc_set_tls(id_grpc_t *g, const char *cert_pem, const char *key_pem);
/* Serving certificates handed to TLS handshakes so far (see
 * mesh_grpc_reload_delivered). */
uint64_t id_grpc_tls_delivered(id_grpc_t *g);
/* Binds `addr` (":8080", "127.0.0.1:0", "[::]:8080") and serves. 0 or -1. */
int id_grpc_start(id_grpc_t *g, const char *addr, char *err, size_t errlen);
/* The bound port, 0 before start. */
int id_grpc_port(const id_grpc_t *g);
/* Stops and frees. NULL ok. */
void id_grpc_free(id_grpc_t *g);

#endif
