/*
 * PEM files into grpc credentials, plus the small helpers both sides share
 * (error text, status names, deadlines).
 *
 * grpc core copies the PEM strings it is given, so ours are freed as soon as
 * the credentials object exists.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <grpc/support/time.h>

#include "internal.h"
#include "mesh/log.h"
#include "mesh/mem.h"

const char *mesh_grpc_strerror(int err)
{
    switch (err) {
    case 0: return "success";
    case MESH_GRPC_EINVAL: return "invalid argument";
    case MESH_GRPC_ENOMEM: return "out of memory";
    case MESH_GRPC_EFULL: return "stream send queue full";
    case MESH_GRPC_ECLOSED: return "stream or call has ended";
    case MESH_GRPC_EBIND: return "cannot bind listen address";
    case MESH_GRPC_ETLS: return "bad TLS certificate or key file";
    case MESH_GRPC_ETIMEDOUT: return "timed out";
    case MESH_GRPC_ESTATE: return "operation not allowed in this state";
    case MESH_GRPC_EEXIST: return "method already registered";
    case MESH_GRPC_ECALL: return "grpc core refused the operation";
    default: return "unknown error";
    }
}

const char *mesh_grpc_status_name(int code)
{
    static const char *const names[] = {
        "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
        "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
        "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
    };
    if (code < 0 || (size_t)code >= MESH_ARRAY_LEN(names))
        return "UNKNOWN_CODE";
    return names[code];
}

gpr_timespec mesh__grpc_deadline(long timeout_ms)
{
    if (timeout_ms < 0)
        return gpr_inf_future(GPR_CLOCK_MONOTONIC);
    return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                        gpr_time_from_millis(timeout_ms, GPR_TIMESPAN));
}

int mesh__grpc_read_pem(const char *path, char **out)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        mesh_log_error(MESH_GRPC_LOG, "cannot open %s: %s", path, strerror(errno));
        return MESH_GRPC_ETLS;
    }
    char *s = mesh_malloc(MESH_GRPC_PEM_MAX + 1);
    if (s == NULL) {
        fclose(f);
        return MESH_GRPC_ENOMEM;
    }
    size_t n = fread(s, 1, MESH_GRPC_PEM_MAX + 1, f);
    int rd_err = ferror(f);
    fclose(f);
    if (rd_err || n > MESH_GRPC_PEM_MAX) {
        mesh_log_error(MESH_GRPC_LOG, "%s: %s", path, rd_err ? "read error" : "larger than 1 MiB");
        mesh_free(s);
        return MESH_GRPC_ETLS;
    }
    s[n] = '\0';
    if (memchr(s, '\0', n) != NULL || strstr(s, "-----BEGIN ") == NULL) {
        mesh_log_error(MESH_GRPC_LOG, "%s: not a PEM file", path);
        mesh_free(s);
        return MESH_GRPC_ETLS;
    }
    *out = s;
    return 0;
}

int mesh__grpc_server_creds(const mesh_grpc_server_config_t *cfg, grpc_server_credentials **out)
{
    *out = NULL;
    if (cfg->tls_cert_file == NULL && cfg->tls_key_file == NULL) {
        if (cfg->tls_client_ca_file != NULL)
            return MESH_GRPC_EINVAL; /* a client CA without TLS means nothing */
        *out = grpc_insecure_server_credentials_create();
        return 0;
    }
    if (cfg->tls_cert_file == NULL || cfg->tls_key_file == NULL)
        return MESH_GRPC_EINVAL;
    char *cert = NULL, *key = NULL, *ca = NULL;
    int rc = mesh__grpc_read_pem(cfg->tls_cert_file, &cert);
    if (rc)
        goto fail;
    if ((rc = mesh__grpc_read_pem(cfg->tls_key_file, &key)) != 0)
        goto fail;
    if (cfg->tls_client_ca_file && (rc = mesh__grpc_read_pem(cfg->tls_client_ca_file, &ca)) != 0)
        goto fail;
    grpc_ssl_pem_key_cert_pair pair = {.private_key = key, .cert_chain = cert};
    grpc_ssl_client_certificate_request_type req = GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE;
    if (ca)
        req = cfg->require_client_cert ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                                       : GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY;
    *out = grpc_ssl_server_credentials_create_ex(ca, &pair, 1, req, NULL);
    rc = *out ? 0 : MESH_GRPC_ETLS;
fail:
    mesh_free(ca);
    if (key) /* scrub the private key before it goes back to the heap */
        memset(key, 0, strlen(key));
    mesh_free(key);
    mesh_free(cert);
    return rc;
}

int mesh__grpc_channel_creds(const mesh_grpc_client_config_t *cfg, grpc_channel_credentials **out)
{
    *out = NULL;
    if (cfg->tls_root_ca_file == NULL) {
        if (cfg->tls_cert_file || cfg->tls_key_file || cfg->tls_server_name)
            return MESH_GRPC_EINVAL;
        *out = grpc_insecure_credentials_create();
        return 0;
    }
    if ((cfg->tls_cert_file == NULL) != (cfg->tls_key_file == NULL))
        return MESH_GRPC_EINVAL;
    char *ca = NULL, *cert = NULL, *key = NULL;
    int rc = mesh__grpc_read_pem(cfg->tls_root_ca_file, &ca);
    if (rc)
        goto fail;
    if (cfg->tls_cert_file) {
        if ((rc = mesh__grpc_read_pem(cfg->tls_cert_file, &cert)) != 0)
            goto fail;
        if ((rc = mesh__grpc_read_pem(cfg->tls_key_file, &key)) != 0)
            goto fail;
    }
    grpc_ssl_pem_key_cert_pair pair = {.private_key = key, .cert_chain = cert};
    *out = grpc_ssl_credentials_create(ca, cert ? &pair : NULL, NULL, NULL);
    rc = *out ? 0 : MESH_GRPC_ETLS;
fail:
    if (key)
        memset(key, 0, strlen(key));
    mesh_free(key);
    mesh_free(cert);
    mesh_free(ca);
    return rc;
}
