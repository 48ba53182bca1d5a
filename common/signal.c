/* Shutdown signals through a self-pipe; see mesh/signal.h. */
#include "mesh/signal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>

/* pipe[0] is handed out; pipe[1] is written by the handler. Set once at
 * install, before any signal can arrive, so plain ints suffice. */
static int pipe_fds[2] = {-1, -1};
static atomic_bool requested;
static atomic_int signo;

static void notify(int sig)
{
    int saved = errno;
    atomic_store(&signo, sig);
    atomic_store(&requested, true);
    /* Non-blocking: once the pipe holds a byte, more bytes add nothing, and
     * a full pipe (EAGAIN) is just as readable. */
    ssize_t rc = write(pipe_fds[1], "x", 1);
    (void)rc;
    errno = saved;
}

static void on_signal(int sig)
{
    notify(sig);
}

int mesh_signal_install(void)
{
    if (pipe_fds[0] >= 0)
        return 0;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0)
        return -1;
    pipe_fds[0] = fds[0];
    pipe_fds[1] = fds[1];

    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    /* Blocking calls in other threads restart; shutdown is seen through the fd. */
    sa.sa_flags = SA_RESTART;
    struct sigaction ign = {0};
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0 ||
        sigaction(SIGPIPE, &ign, NULL) != 0)
        return -1;
    return 0;
}

int mesh_signal_fd(void)
{
    return pipe_fds[0];
}

bool mesh_signal_requested(void)
{
    return atomic_load(&requested);
}

int mesh_signal_number(void)
{
    return atomic_load(&signo);
}

void mesh_signal_trigger(void)
{
    if (pipe_fds[1] >= 0)
        notify(0);
    else
        atomic_store(&requested, true);
}

int mesh_signal_wait(int timeout_ms)
{
    if (pipe_fds[0] < 0)
        return -1;
    struct pollfd p = {.fd = pipe_fds[0], .events = POLLIN};
    int rc;
    do {
        rc = poll(&p, 1, timeout_ms);
    } while (rc < 0 && errno == EINTR && !mesh_signal_requested());
    return mesh_signal_requested() || rc > 0 ? 1 : 0;
}

void mesh_signal_reset(void)
{
    char buf[64];
    atomic_store(&requested, false);
    atomic_store(&signo, 0);
    if (pipe_fds[0] >= 0)
        while (read(pipe_fds[0], buf, sizeof(buf)) > 0)
            ;
}
