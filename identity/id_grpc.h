/*
 * identity/id_grpc.h (private) - the Certify endpoint on mesh/grpc_server.h.
 *
 * The grpc layer takes TLS material as PEM files read when a server is
 * created, so the service's own certificate lives in a private 0700 temporary
 * directory, and a renewal starts a second server on the same address (grpc
 * core binds with SO_REUSEPORT) before stopping the first. Calls still in
 * flight on the first server at that moment are cancelled by its stop; this
 * happens once per serving-certificate renewal (70% of the issuance lifetime),
 * never on issuer rotation.
 */
#ifndef ID_GRPC_H
#define ID_GRPC_H

#include <stdbool.h>
#include <stddef.h>

#include "id/service.h"

#define ID_CERTIFY_PATH "/io.linkerd.proxy.identity.Identity/Certify"
/* Handler threads: one per CPU (signing is CPU-bound; a TokenReview waits on
 * the API for about a millisecond), within these bounds. Each thread costs
 * stack and allocator memory, so a small machine keeps few. */
#define ID_GRPC_MIN_WORKERS 2
#define ID_GRPC_MAX_WORKERS 8

typedef struct id_grpc id_grpc_t;

/* NULL when out of memory or the temporary directory cannot be made. */
id_grpc_t *id_grpc_new(id_service_t *svc, bool insecure);
/* Installs a serving certificate chain + key (PEM). Before start it is used
 * by start; after start the server is replaced as described above. 0 or -1. */
int id_grpc_set_tls(id_grpc_t *g, const char *cert_pem, const char *key_pem);
/* Binds `addr` (":8080", "127.0.0.1:0", "[::]:8080") and serves. 0 or -1. */
int id_grpc_start(id_grpc_t *g, const char *addr, char *err, size_t errlen);
/* The bound port, 0 before start. */
int id_grpc_port(const id_grpc_t *g);
/* Stops, removes the temporary files. NULL ok. */
void id_grpc_free(id_grpc_t *g);

#endif
