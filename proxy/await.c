/* `cmesh-proxy await`: poll the proxy's /ready until it answers 200. */
#include "px/await.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "mesh/duration.h"

#define USAGE "usage: cmesh-proxy await [--timeout=DURATION] [--port=N]"
/* Enough for the status line and then some. */
#define STATUS_READ_MAX 256

static const char REQUEST[] = "GET /ready HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                              "User-Agent: cmesh-proxy-await\r\nConnection: close\r\n\r\n";

/* "--name=value" or "--name" "value"; returns the value and advances *i. */
static const char *flag_value(int argc, char **argv, int *i, const char *name)
{
    size_t n = strlen(name);
    const char *a = argv[*i];
    if (strncmp(a, name, n) != 0)
        return NULL;
    if (a[n] == '=')
        return a + n + 1;
    if (a[n] == '\0' && *i + 1 < argc)
        return argv[++*i];
    return NULL;
}

int px_await_parse(int argc, char **argv, px_await_opts_t *o, char *err, size_t errlen)
{
    o->timeout_ns = PX_AWAIT_TIMEOUT_DEFAULT_NS;
    o->port = PX_AWAIT_PORT_DEFAULT;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if ((v = flag_value(argc, argv, &i, "--timeout")) != NULL) {
            int64_t ns;
            int rc = mesh_duration_parse(v, &ns);
            if (rc < 0) {
                snprintf(err, errlen, "--timeout=%s: %s", v, mesh_duration_strerror(rc));
                return -1;
            }
            if (ns <= 0) {
                snprintf(err, errlen, "--timeout=%s: must be positive", v);
                return -1;
            }
            o->timeout_ns = ns;
        } else if ((v = flag_value(argc, argv, &i, "--port")) != NULL) {
            char *end;
            errno = 0;
            long p = strtol(v, &end, 10);
            if (errno || end == v || *end || p < 1 || p > 65535) {
                snprintf(err, errlen, "--port=%s: not a port (1-65535)", v);
                return -1;
            }
            o->port = (uint16_t)p;
        } else {
            snprintf(err, errlen, "unknown argument '%s'", argv[i]);
            return -1;
        }
    }
    return 0;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for `events` on fd until the absolute deadline; 1 ready, 0 not. */
static int wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - now_ms();
        if (left <= 0)
            return 0;
        struct pollfd p = {.fd = fd, .events = events};
        int rc = poll(&p, 1, (int)left);
        if (rc > 0)
            return 1;
        if (rc == 0 || errno != EINTR)
            return 0;
    }
}

/* Parses "HTTP/1.x NNN" at the start of buf; -1 when it is not that. */
static int status_code(const char *buf, size_t len)
{
    if (len < 12 || strncmp(buf, "HTTP/1.", 7) != 0 || buf[8] != ' ')
        return -1;
    int code = 0;
    for (int i = 9; i < 12; i++) {
        if (buf[i] < '0' || buf[i] > '9')
            return -1;
        code = code * 10 + (buf[i] - '0');
    }
    return code;
}

int px_await_probe(uint16_t port, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int code = -1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        if (errno != EINPROGRESS || !wait_fd(fd, POLLOUT, deadline))
            goto out;
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr != 0)
            goto out;
    }
    size_t sent = 0;
    while (sent < sizeof REQUEST - 1) {
        ssize_t n = send(fd, REQUEST + sent, sizeof REQUEST - 1 - sent, MSG_NOSIGNAL);
        if (n > 0) {
            sent += (size_t)n;
        } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (!wait_fd(fd, POLLOUT, deadline))
                goto out;
        } else {
            goto out;
        }
    }
    char buf[STATUS_READ_MAX];
    size_t got = 0;
    while (got < 12) {
        ssize_t n = recv(fd, buf + got, sizeof buf - got, 0);
        if (n > 0) {
            got += (size_t)n;
        } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (!wait_fd(fd, POLLIN, deadline))
                goto out;
        } else {
            break;
        }
    }
    code = status_code(buf, got);
out:
    close(fd);
    return code;
}

int px_await_run(const px_await_opts_t *o)
{
    int64_t deadline = now_ms() + o->timeout_ns / 1000000;
    for (;;) {
        int64_t left = deadline - now_ms();
        if (left <= 0)
            return 1;
        int probe_ms = left < PX_AWAIT_PROBE_TIMEOUT_MS ? (int)left : PX_AWAIT_PROBE_TIMEOUT_MS;
        if (px_await_probe(o->port, probe_ms) == 200)
            return 0;
        left = deadline - now_ms();
        if (left <= 0)
            return 1;
        int64_t pause = left < PX_AWAIT_INTERVAL_MS ? left : PX_AWAIT_INTERVAL_MS;
        struct timespec ts = {0, (long)pause * 1000000L};
        nanosleep(&ts, NULL);
    }
}

int px_await_main(int argc, char **argv)
{
    px_await_opts_t o;
    char err[256];
    if (px_await_parse(argc, argv, &o, err, sizeof err) < 0) {
        fprintf(stderr, "cmesh-proxy await: %s\n%s\n", err, USAGE);
        return 2;
    }
    int rc = px_await_run(&o);
    if (rc != 0) {
        char d[MESH_DURATION_FMT_MAX];
        mesh_duration_format(o.timeout_ns, d, sizeof d);
        fprintf(stderr, "cmesh-proxy await: http://127.0.0.1:%u/ready not ready after %s\n",
                o.port, d);
    }
    return rc;
}
