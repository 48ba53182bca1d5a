/*
 * mesh/grpc_reload.h - TLS server credentials whose certificate and key can
 * be replaced while the server runs, without a restart.
 *
 * grpc core asks a config fetcher for the serving certificate before every
 * new TLS handshake; this module is that fetcher. mesh_grpc_reload_set swaps
 * the PEM pair (from any thread); connections already open keep the
 * certificate they were established with and their calls are untouched, new
 * connections get the new one.
 *
 * OWNERSHIP AND LIFETIME
 *   - mesh_grpc_reload_new copies the PEM strings; so does _set.
 *   - mesh_grpc_creds_reloadable returns a new grpc_server_credentials that
 *     the caller releases (grpc_server_credentials_release) once it has been
 *     given to grpc_server_add_http2_port. It points at the holder, so the
 *     holder must be freed only after every server using those credentials
 *     has been shut down and destroyed.
 *   - One holder serves one set of credentials (one listening port): the
 *     holder remembers which generation the fetcher handed out last.
 *   - new calls grpc_init and free calls grpc_shutdown, so the holder may be
 *     made before the server and freed after it.
 */
#ifndef MESH_GRPC_RELOAD_H
#define MESH_GRPC_RELOAD_H

#include <stdint.h>

#include <grpc/grpc_security.h>

typedef struct mesh_grpc_reload mesh_grpc_reload_t;

/* A holder serving `cert_pem` (the chain, leaf first) and `key_pem`. The key
 * must be the leaf's (checked with OpenSSL, so a mismatched pair is refused
 * here instead of failing every handshake later). Returns 0,
 * MESH_GRPC_EINVAL (NULL argument), MESH_GRPC_ETLS (not PEM, or key and
 * certificate do not match) or MESH_GRPC_ENOMEM. */
int mesh_grpc_reload_new(const char *cert_pem, const char *key_pem, mesh_grpc_reload_t **out)
    __attribute__((warn_unused_result));

/* Replaces the pair; the next handshake uses it. Checked as in _new; on error
 * the current pair stays. Thread-safe. Same return codes. */
int mesh_grpc_reload_set(mesh_grpc_reload_t *r, const char *cert_pem, const char *key_pem)
    __attribute__((warn_unused_result));

/* Server credentials fetching from `r` (no client certificates requested).
 * NULL when out of memory. */
grpc_server_credentials *mesh_grpc_creds_reloadable(mesh_grpc_reload_t *r);

/* How many pairs the fetcher has handed to grpc so far (the first one at
 * add_http2_port, then one per generation seen by a new handshake). */
uint64_t mesh_grpc_reload_delivered(mesh_grpc_reload_t *r);

/* Frees the holder (see LIFETIME). NULL is a no-op. */
void mesh_grpc_reload_free(mesh_grpc_reload_t *r);

#endif
