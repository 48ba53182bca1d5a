/*
 * id/tokenreview.h - who owns a ServiceAccount token, by asking the API.
 *
 * POST /apis/authentication.k8s.io/v1/tokenreviews with the token and the
 * audience ID_TOKEN_AUDIENCE. When the API refuses the audience (the review
 * comes back unauthenticated with an error about token audiences, or the
 * request itself is refused for its audiences) the review is sent once more
 * without audiences, as Linkerd does for API servers that do not issue
 * audience-bound tokens.
 *
 * The body builder and parser are pure; id_tokenreview_check does the I/O and
 * is an id_review_cb (user = the mesh_k8s_client_t), thread-safe because the
 * client is.
 */
#ifndef ID_TOKENREVIEW_H
#define ID_TOKENREVIEW_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "id/certify.h"

#define ID_TOKEN_AUDIENCE "identity.l5d.io"
#define ID_TOKENREVIEW_PATH "/apis/authentication.k8s.io/v1/tokenreviews"

/* The TokenReview object to POST (new reference), or NULL when the token is
 * not valid UTF-8 (it cannot be a JWT) or memory runs out. */
json_t *id_tokenreview_body(const uint8_t *token, size_t len, int with_audience);

/* Reads status.authenticated, status.user.username and status.error of a
 * TokenReview answer into *out. Returns 0, or -1 when the object has no
 * status (out->error says so). */
int id_tokenreview_parse(const json_t *review, id_review_t *out);

/* 1 when a review error or API message says the audience was the problem. */
int id_tokenreview_audience_problem(const char *msg);

/* The id_review_cb: `user` is a mesh_k8s_client_t *. */
id_code_t id_tokenreview_check(void *user, const uint8_t *token, size_t len, id_review_t *out);

#endif
