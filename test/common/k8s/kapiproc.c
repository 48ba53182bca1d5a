/* The local API server as a child of a Check test; see kapiproc.h. */
#include "kapiproc.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

int kapi_proc_start(kapi_proc_t *a, const char *history, const char *bookmark_interval,
                    const char *tls_cert, const char *tls_key, const char *token)
{
    const char *root = getenv("CMESH_ROOT");
    char script[512], portfile[128];
    snprintf(script, sizeof(script), "%s/apiserver/kubeapi.py", root ? root : ".");
    if (access(script, R_OK) != 0)
        return -1;
    snprintf(a->dir, sizeof(a->dir), "/tmp/cmesh-kapi-XXXXXX");
    if (mkdtemp(a->dir) == NULL)
        return -1;
    snprintf(portfile, sizeof(portfile), "%s/port", a->dir);
    pid_t parent = getpid();
    a->pid = fork();
    if (a->pid == 0) {
        /* Dies with the test process even if an assertion kills it. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(1);
        char errpath[128];
        snprintf(errpath, sizeof(errpath), "%s/stderr", a->dir);
        if (freopen(errpath, "w", stderr) == NULL) /* the server's tracebacks on reset sockets */
            _exit(126);
        const char *log = getenv("CMESH_KAPI_LOG"); /* debugging aid: the server's request log */
        const char *argv[24] = {"python3", script, "--listen", "127.0.0.1:0", "--port-file", portfile,
                                "--history", history, "--bookmark-interval", bookmark_interval, "--log",
                                log ? log : "/dev/null"};
        int n = 12;
        if (tls_cert != NULL) {
            argv[n++] = "--tls-cert";
            argv[n++] = tls_cert;
            argv[n++] = "--tls-key";
            argv[n++] = tls_key;
        }
        if (token != NULL) {
            argv[n++] = "--token";
            argv[n++] = token;
        }
        argv[n] = NULL;
        execv("/usr/bin/python3", (char *const *)argv);
        _exit(127);
    }
    if (a->pid < 0)
        return -1;
    for (int i = 0; i < 1000; i++) {
        FILE *f = fopen(portfile, "r");
        if (f != NULL) {
            int ok = fscanf(f, "%d", &a->port) == 1;
            fclose(f);
            if (ok && a->port > 0)
                return 0;
        }
        if (waitpid(a->pid, NULL, WNOHANG) == a->pid) {
            a->pid = 0;
            return -1;
        }
        usleep(10000);
    }
    return -1;
}

void kapi_proc_stop(kapi_proc_t *a)
{
    if (a->pid > 0) {
        kill(a->pid, SIGTERM);
        for (int i = 0; i < 200 && waitpid(a->pid, NULL, WNOHANG) == 0; i++)
            usleep(10000);
        if (waitpid(a->pid, NULL, WNOHANG) == 0) {
            kill(a->pid, SIGKILL);
            waitpid(a->pid, NULL, 0);
        }
        a->pid = 0;
    }
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", a->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", a->dir);
}
