/*
 * px/await.h - `cmesh-proxy await`: wait until the proxy beside us is ready.
 *
 * The injector writes it as the proxy container's postStart hook in classic
 * (non-native-sidecar) mode:
 *
 *     cmesh-proxy await --timeout=2m --port=4191
 *
 * The kubelet runs the hook in the proxy container and starts the next
 * container only once it returns, so the application starts after the proxy
 * can carry its traffic. The command polls http://127.0.0.1:PORT/ready
 * every PX_AWAIT_INTERVAL_MS until it answers 200 (exit 0) or the timeout
 * passes (exit 1). Anything else, including a refused connection, counts as
 * "not yet". Bad arguments exit 2.
 *
 * Flags (each also as "--flag VALUE"):
 *   --timeout=DURATION  Go duration (mesh/duration.h), > 0; default 2m
 *   --port=N            the proxy's admin port, 1-65535; default 4191
 */
#ifndef PX_AWAIT_H
#define PX_AWAIT_H

#include <stddef.h>
#include <stdint.h>

#define PX_AWAIT_TIMEOUT_DEFAULT_NS ((int64_t)120 * 1000000000)
#define PX_AWAIT_PORT_DEFAULT 4191
/* Pause between two probes. */
#define PX_AWAIT_INTERVAL_MS 100
/* Limit of one probe (connect, send, first line), so a stuck peer cannot
 * hold the loop past its deadline by more than this. */
#define PX_AWAIT_PROBE_TIMEOUT_MS 1000

typedef struct px_await_opts {
    int64_t timeout_ns; /* overall deadline, from the first probe */
    uint16_t port;      /* admin port on 127.0.0.1 */
} px_await_opts_t;

/* Parses the arguments after "await" (argv[0] is "await" itself and is
 * skipped). Returns 0, or -1 with a message in err (no I/O). */
int px_await_parse(int argc, char **argv, px_await_opts_t *o, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* One GET /ready to 127.0.0.1:port, waiting at most timeout_ms. Returns the
 * HTTP status code, or -1 when there was no HTTP answer. */
int px_await_probe(uint16_t port, int timeout_ms);

/* Polls until 200 or the deadline. Returns 0 (ready) or 1 (timed out). */
int px_await_run(const px_await_opts_t *o);

/* `cmesh-proxy await ...` from main(): argv[0] is "await". Returns the
 * process exit code (0 ready, 1 timeout, 2 bad arguments). */
int px_await_main(int argc, char **argv);

#endif
