/* One Certify call; see id/certify.h. */
#include "id/certify.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "google/protobuf/timestamp.pb-c.h"
#include "identity.pb-c.h"
#include "id/name.h"
#include "mesh/mem.h"

static void *pb_alloc(void *data, size_t n)
{
    (void)data;
    return mesh_malloc(n);
}

static void pb_free(void *data, void *p)
{
    (void)data;
    mesh_free(p);
}

static ProtobufCAllocator pb_allocator = {pb_alloc, pb_free, NULL};

__attribute__((format(printf, 3, 4)))
static void fail(id_certify_result_t *res, id_code_t code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    res->code = code;
    vsnprintf(res->message, sizeof(res->message), fmt, ap);
    va_end(ap);
}

static int encode(const id_issuer_t *iss, const id_leaf_t *leaf, id_certify_result_t *res)
{
    size_t n = id_issuer_chain_len(iss);
    ProtobufCBinaryData chain[8];
    if (n > MESH_ARRAY_LEN(chain))
        n = MESH_ARRAY_LEN(chain);
    for (size_t i = 0; i < n; i++)
        chain[i].data = (uint8_t *)id_issuer_chain_der(iss, i, &chain[i].len);

    Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
    ts.seconds = (int64_t)leaf->not_after;
    Io__Linkerd__Proxy__Identity__CertifyResponse rsp = IO__LINKERD__PROXY__IDENTITY__CERTIFY_RESPONSE__INIT;
    rsp.leaf_certificate.data = leaf->der;
    rsp.leaf_certificate.len = leaf->der_len;
    rsp.n_intermediate_certificates = n;
    rsp.intermediate_certificates = chain;
    rsp.valid_until = &ts;

    size_t len = io__linkerd__proxy__identity__certify_response__get_packed_size(&rsp);
    res->response = mesh_malloc(len);
    if (res->response == NULL)
        return -1;
    res->response_len = io__linkerd__proxy__identity__certify_response__pack(&rsp, res->response);
    return 0;
}

void id_certify(const id_certify_config_t *cfg, const id_issuer_t *iss, const uint8_t *req,
                size_t req_len, time_t now, id_certify_result_t *res)
{
    memset(res, 0, sizeof(*res));
    Io__Linkerd__Proxy__Identity__CertifyRequest *msg = NULL;
    id_csr_key_t key;
    id_leaf_t leaf = {0};
    const char *why = NULL;

    /* A request is three bounded fields; anything far larger is not one. */
    if (req_len > ID_CSR_MAX + ID_TOKEN_MAX + ID_NAME_MAX + 64) {
        fail(res, ID_INVALID_ARGUMENT, "request too large");
        goto out;
    }
    msg = io__linkerd__proxy__identity__certify_request__unpack(&pb_allocator, req_len, req);
    if (msg == NULL) {
        fail(res, ID_INVALID_ARGUMENT, "request does not decode");
        goto out;
    }
    const char *identity = msg->identity ? msg->identity : "";
    size_t idlen = strlen(identity);
    if (idlen == 0) {
        fail(res, ID_INVALID_ARGUMENT, "missing identity");
        goto out;
    }
    if (idlen > ID_NAME_MAX) {
        fail(res, ID_INVALID_ARGUMENT, "identity longer than 253 bytes");
        goto out;
    }
    memcpy(res->identity, identity, idlen + 1);
    if (msg->token.len == 0) {
        fail(res, ID_INVALID_ARGUMENT, "missing token");
        goto out;
    }
    if (msg->token.len > ID_TOKEN_MAX) {
        fail(res, ID_INVALID_ARGUMENT, "token too large");
        goto out;
    }
    if (msg->certificate_signing_request.len == 0) {
        fail(res, ID_INVALID_ARGUMENT, "missing certificate signing request");
        goto out;
    }
    if (!id_issuer_usable(iss, now)) {
        fail(res, ID_UNAVAILABLE, "cert issuer not ready yet");
        goto out;
    }
    id_code_t code = id_csr_verify(msg->certificate_signing_request.data,
                                   msg->certificate_signing_request.len, identity, &key, &why);
    if (code != ID_OK) {
        fail(res, code, "%s", why);
        goto out;
    }

    id_review_t rv;
    memset(&rv, 0, sizeof(rv));
    code = cfg->review(cfg->review_user, msg->token.data, msg->token.len, &rv);
    if (code != ID_OK) {
        fail(res, ID_INTERNAL, "token review failed: %s", rv.error);
        goto out;
    }
    if (!rv.authenticated) {
        fail(res, ID_FAILED_PRECONDITION, "token not authenticated: %s", rv.error[0] ? rv.error : "rejected");
        goto out;
    }
    char want[ID_NAME_MAX + 1];
    rv.username[sizeof(rv.username) - 1] = '\0';
    if (id_name_from_username(want, sizeof(want), rv.username, cfg->controller_ns,
                              cfg->trust_domain) < 0) {
        fail(res, ID_FAILED_PRECONDITION, "token user %s is not a service account", rv.username);
        goto out;
    }
    if (strcmp(want, identity) != 0) {
        fail(res, ID_FAILED_PRECONDITION, "token is for identity %s, not the one requested", want);
        goto out;
    }

    code = id_ca_sign_spki(iss, key.spki, key.len, identity, now, &cfg->lifetime, &leaf);
    if (code != ID_OK) {
        fail(res, code, "cannot sign the certificate");
        goto out;
    }
    if (encode(iss, &leaf, res) != 0) {
        fail(res, ID_INTERNAL, "out of memory");
        goto out;
    }
    res->code = ID_OK;
    res->not_after = leaf.not_after;
out:
    id_leaf_free(&leaf);
    if (msg != NULL)
        io__linkerd__proxy__identity__certify_request__free_unpacked(msg, &pb_allocator);
}

void id_certify_result_free(id_certify_result_t *res)
{
    MESH_FREE(&res->response);
    res->response_len = 0;
}
