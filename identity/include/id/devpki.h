/*
 * id/devpki.h - a development PKI, as `cmesh certs generate --out DIR` writes it.
 *
 * Under DIR:
 *   ca-bundle.crt, ca.key            the trust anchor (self-signed, pathlen 1)
 *   issuer/crt.pem, issuer/key.pem   the identity issuer (linkerd.io/tls names),
 *                                    CN identity.NS.TD, signed by the anchor
 *   destination/crt.pem, key.pem     cmesh-destination.NS.serviceaccount.identity.NS.TD,
 *                                    signed by the issuer
 *   webhook/crt.pem, key.pem         cmesh-webhook.NS.svc (+ cmesh-webhook,
 *                                    localhost), signed by the anchor
 * Keys are ECDSA P-256 (PKCS#8 PEM, mode 0600); files are written through a
 * temporary name and rename(2). The issuer never outlives the anchor, nor a
 * serving certificate the issuer. An existing DIR/ca-bundle.crt is kept
 * (return 1) unless `force`.
 */
#ifndef ID_DEVPKI_H
#define ID_DEVPKI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct id_devpki_opts {
    char *out;            /* DIR */
    char *trust_domain;   /* e.g. "cluster.local" */
    char *ns;             /* control-plane namespace, e.g. "cmesh" */
    int64_t anchor_life;  /* nanoseconds */
    int64_t issuer_life;
    int64_t serving_life;
    bool force;
} id_devpki_opts_t;

/* Writes the PKI and prints one line per certificate (name, CN, lifetime,
 * NotAfter) to `out`; errors go to `err`. Returns 0, or 1 on failure. */
int id_devpki_generate(const id_devpki_opts_t *o, FILE *out, FILE *err);

#endif
