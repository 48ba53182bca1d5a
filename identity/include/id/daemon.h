/*
 * id/daemon.h - the cmesh-identity process: options, start-up checks, the
 * gRPC server, the admin server, rotation and shutdown.
 *
 * Options (Linkerd's names, single or double dash):
 *   --addr :8080                      Certify gRPC listen address (TLS)
 *   --admin-addr :9990                /metrics, /ready, /live
 *   --identity-trust-domain cluster.local   (empty: identity disabled, exit 0)
 *   --controller-namespace cmesh
 *   --identity-scheme linkerd.io/tls  (or kubernetes.io/tls; empty: disabled)
 *   --identity-issuance-lifetime 24h
 *   --identity-clock-skew-allowance 20s
 *   --issuer /var/run/linkerd/identity/issuer
 *   --trust-anchors /var/run/linkerd/identity/trust-roots/ca-bundle.crt
 *   --service-account cmesh-identity
 *   --kubeconfig FILE                 (else in-cluster)
 *   --kube-apiclient-qps 100, --kube-apiclient-burst 200
 *   --issuer-recheck-interval 10s     periodic re-read of the issuer files
 *   --insecure                        plaintext gRPC (tests, local runs)
 *   --log-level info, --log-format plain
 *
 * Exit codes: 0 after SIGTERM/SIGINT or when identity is disabled, 1 when
 * start-up fails (issuer refused, API config, listen), 2 on bad options.
 */
#ifndef ID_DAEMON_H
#define ID_DAEMON_H

/* Runs the daemon until a shutdown signal; returns the exit code. */
int id_daemon_main(int argc, char **argv);

#endif
