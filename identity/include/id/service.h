/*
 * id/service.h - the identity service's state: the current issuer, its
 * rotation, its metrics, and the service's own serving certificate.
 *
 * The current issuer sits in one slot guarded by a mutex held only to copy
 * or swap the pointer. A Certify call takes a reference (id_issuer_ref) and
 * signs outside the lock, so a rotation never waits for signing and never
 * fails a request in flight: that request finishes with the issuer it
 * started with, and the old issuer is freed by whichever side drops the
 * last reference.
 *
 * Rotation: id_service_watch_start watches the issuer directory and the
 * anchors' directory (mesh/fswatch.h: inotify on the directory, so the
 * kubelet's "..data" symlink swap is seen, plus a periodic re-check). On a
 * change the whole issuer is loaded and validated again (CA, key match,
 * chain to the anchors, validity); a good one replaces the current one, a
 * bad one is logged and counted and the current one stays.
 *
 * Metrics (when a registry is given):
 *   identity_certify_requests_total{grpc_code}   Certify calls by result
 *   identity_issuer_reloads_total{result}        "ok" / "refused"
 *   issuer_cert_ttl_seconds                      seconds left on the issuer
 *                                                (its earliest chain NotAfter)
 */
#ifndef ID_SERVICE_H
#define ID_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "id/ca.h"
#include "id/certify.h"
#include "mesh/metrics.h"

typedef struct id_service_config {
    const char *issuer_dir;      /* directory holding the issuer Secret's files */
    id_scheme_t scheme;          /* file names inside issuer_dir */
    const char *anchors_path;    /* ca-bundle.crt */
    const char *controller_ns;   /* CPNS */
    const char *trust_domain;
    const char *service_account; /* the service's own SA, for its serving name */
    id_lifetime_t lifetime;
    id_review_cb review;         /* token reviewer */
    void *review_user;
    mesh_metrics_t *metrics;     /* may be NULL; not owned */
    int recheck_ms;              /* periodic re-check of the files; <= 0: default */
} id_service_config_t;

typedef struct id_service id_service_t;

/* Loads and validates the issuer. NULL with the reason in err when it is
 * missing or invalid (the daemon exits on this). The config's strings are
 * borrowed and must outlive the service. */
id_service_t *id_service_new(const id_service_config_t *cfg, char *err, size_t errlen);

/* Starts watching the issuer and anchors directories. 0 or -1. */
int id_service_watch_start(id_service_t *svc);

/* Loads the issuer again now. Returns 0 when a good issuer was installed,
 * -1 when it was refused (logged; the current one stays). Thread-safe. */
int id_service_reload(id_service_t *svc);

/* One Certify call on the current issuer (see id/certify.h); counts it. */
void id_service_certify(id_service_t *svc, const uint8_t *req, size_t len, id_certify_result_t *res);

/* A new reference to the current issuer (never NULL after new). */
id_issuer_t *id_service_issuer(id_service_t *svc);

/* Refreshes issuer_cert_ttl_seconds; true while the issuer is usable. */
bool id_service_ready(id_service_t *svc);

/* The service's own name: SA.CPNS.serviceaccount.identity.CPNS.TRUSTDOMAIN. */
const char *id_service_name(const id_service_t *svc);

/* Issues the service a serving certificate for id_service_name() from the
 * current issuer: a fresh P-256 key, the leaf followed by the issuer chain
 * as PEM (cert_pem), the key as PEM (key_pem), both mesh_malloc'd, and the
 * leaf's NotAfter. 0 or -1. */
int id_service_serving_cert(id_service_t *svc, char **cert_pem, char **key_pem, time_t *not_after,
                            uint64_t *issuer_generation);

/* Increments on every installed issuer; lets a caller see a rotation. */
uint64_t id_service_generation(id_service_t *svc);

/* Stops the watchers and frees everything. NULL ok. */
void id_service_free(id_service_t *svc);

#endif
