/*
 * id/certify.h - one Certify call, bytes in, bytes out.
 *
 * Decodes an io.linkerd.proxy.identity.CertifyRequest, validates it, asks the
 * token reviewer who the caller is, signs the CSR with the issuer given and
 * encodes the CertifyResponse. No I/O of its own: the token check is a
 * callback, the clock a parameter, so the whole path is unit-tested and
 * fuzzed as is.
 *
 * Order of checks (first failure wins):
 *   1. request decodes; identity, token and CSR are non-empty and within
 *      ID_NAME_MAX / ID_TOKEN_MAX / ID_CSR_MAX         -> InvalidArgument
 *   2. an issuer is present and usable at `now`        -> Unavailable
 *   3. id_csr_verify (parse + signature: InvalidArgument; names, key type,
 *      CA request: FailedPrecondition)
 *   4. token review: API error -> Internal; not authenticated ->
 *      FailedPrecondition; username that does not map to exactly the
 *      requested identity -> FailedPrecondition
 *   5. signing -> Internal on failure.
 */
#ifndef ID_CERTIFY_H
#define ID_CERTIFY_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "id/ca.h"

/* What the token reviewer reports. */
typedef struct id_review {
    int authenticated;   /* 1 when the API accepted the token */
    char username[256];  /* status.user.username when authenticated */
    char error[200];     /* why not, for the log and the status message */
} id_review_t;

/*
 * Checks a token. Returns ID_OK when the API answered (authenticated or
 * not, in *out), or ID_INTERNAL when it could not be asked (out->error
 * says why). Must be safe to call from several threads when the server
 * is.
 */
typedef id_code_t (*id_review_cb)(void *user, const uint8_t *token, size_t len, id_review_t *out);

typedef struct id_certify_config {
    const char *controller_ns; /* CPNS */
    const char *trust_domain;  /* TRUSTDOMAIN */
    id_lifetime_t lifetime;
    id_review_cb review;
    void *review_user;
} id_certify_config_t;

/* Result of one call. */
typedef struct id_certify_result {
    id_code_t code;
    char message[256];       /* status message for the client (no secrets) */
    uint8_t *response;       /* packed CertifyResponse on ID_OK (mesh_free) */
    size_t response_len;
    char identity[ID_NAME_MAX + 1]; /* the requested identity, when it decoded */
    time_t not_after;        /* leaf expiry on ID_OK */
} id_certify_result_t;

/* Runs the checks above. `iss` may be NULL (no issuer loaded yet). Always
 * fills *res; free it with id_certify_result_free. */
void id_certify(const id_certify_config_t *cfg, const id_issuer_t *iss, const uint8_t *req,
                size_t req_len, time_t now, id_certify_result_t *res);

void id_certify_result_free(id_certify_result_t *res);

#endif
