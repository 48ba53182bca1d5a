/* cmesh-proxy: the sidecar data plane. Configuration comes from the
 * environment (px/config.h); all logic lives in libpx. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mesh/buf.h"
#include "mesh/log.h"
#include "px/await.h"
#include "px/config.h"
#include "px/proxy.h"

/* Poll interval while waiting for workers to drain. */
#define DRAIN_POLL_MS 50

static px_config_t cfg;

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "await") == 0)
        return px_await_main(argc - 1, argv + 1);
    mesh_log_set_component("proxy");
    mesh_buf_t errors = MESH_BUF_INIT, warnings = MESH_BUF_INIT;
    int nerr = px_config_load(&cfg, &px_env_process, &errors, &warnings);
    mesh_log_level = cfg.log_level;
    mesh_log_set_format(cfg.log_format);
    if (warnings.len)
        mesh_log_warn("config", "%s", warnings.base);
    if (nerr) {
        fprintf(stderr, "cmesh-proxy: %d configuration error(s):\n%s", nerr, errors.base);
        mesh_buf_free(&errors);
        mesh_buf_free(&warnings);
        return 1;
    }
    mesh_buf_free(&errors);
    mesh_buf_free(&warnings);

    /* Signals are taken synchronously by this thread only; workers inherit
     * the mask and never see them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    char eb[256] = "";
    int err = 0;
    px_proxy_t *p = px_proxy_new(&cfg, &err, eb, sizeof(eb));
    if (p == NULL) {
        mesh_log_error("proxy", "cannot start: %s", eb);
        return 1;
    }
    if (px_proxy_start(p) != 0) {
        mesh_log_error("proxy", "cannot start worker threads");
        px_proxy_free(p);
        return 1;
    }
    char in[80], out[80], adm[80];
    px_addr_format((const struct sockaddr *)&px_proxy_listen_addr(p, PX_DIR_INBOUND)->sa, in, sizeof(in));
    px_addr_format((const struct sockaddr *)&px_proxy_listen_addr(p, PX_DIR_OUTBOUND)->sa, out, sizeof(out));
    px_addr_format((const struct sockaddr *)&px_proxy_admin_addr(p)->sa, adm, sizeof(adm));
    mesh_log_info("proxy", "listening: inbound %s, outbound %s, admin %s, %u worker(s)", in, out,
                  adm, cfg.cores);

    bool draining = false;
    struct timespec poll = {0, DRAIN_POLL_MS * 1000000L};
    uint64_t waited = 0;
    while (px_proxy_running(p) > 0) {
        int sig = draining ? sigtimedwait(&set, NULL, &poll) : sigwaitinfo(&set, NULL);
        if (sig > 0 && draining) {
            mesh_log_info("proxy", "second signal: stopping now");
            break;
        }
        if (sig > 0) {
            mesh_log_info("proxy", "signal %d: draining (grace %llums)", sig,
                          (unsigned long long)cfg.shutdown_grace_ms);
            px_proxy_shutdown(p);
            draining = true;
            continue;
        }
        if (draining) {
            waited += DRAIN_POLL_MS;
            if (waited >= cfg.shutdown_grace_ms) {
                mesh_log_warn("proxy", "shutdown grace period over with connections open");
                break;
            }
        }
    }
    px_proxy_stop_now(p);
    px_proxy_free(p);
    mesh_log_info("proxy", "stopped");
    return 0;
}
