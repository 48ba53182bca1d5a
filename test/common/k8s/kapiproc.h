/*
 * kapiproc.h - the local API server (apiserver/kubeapi.py) as a child process
 * of a Check test, for tests that drive our C client against it.
 *
 * The child dies with the test process (PR_SET_PDEATHSIG), writes its stderr
 * into its own temporary directory, and its request log to $CMESH_KAPI_LOG
 * when set (a debugging aid). kapi_proc_stop stops it (SIGTERM, then SIGKILL)
 * and removes the directory.
 */
#ifndef TEST_KAPIPROC_H
#define TEST_KAPIPROC_H

#include <sys/types.h>

typedef struct kapi_proc {
    pid_t pid;    /* 0 when not running */
    int port;     /* bound loopback port */
    char dir[64]; /* its temporary directory */
} kapi_proc_t;

/* Starts the server with the given --history and --bookmark-interval;
 * tls_cert/tls_key/token may be NULL. Returns 0 once it listens, -1 if it
 * could not start (or exited) within 10 s. */
int kapi_proc_start(kapi_proc_t *a, const char *history, const char *bookmark_interval,
                    const char *tls_cert, const char *tls_key, const char *token);
void kapi_proc_stop(kapi_proc_t *a);

#endif
