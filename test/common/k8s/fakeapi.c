/* Scripted HTTP server for informer tests; see fakeapi.h. */
#include "fakeapi.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXQ 64
#define MAXREQ 256
#define HOLD_MS 20

typedef struct {
    int status;
    char *ctype;
    char *body;
} resp_t;

struct fakeapi {
    int lfd, port;
    pthread_t th;
    pthread_mutex_t mu;
    resp_t q[MAXQ];
    int qhead, qtail;
    char *reqs[MAXREQ];
    int nreq;
    volatile int hold_watches; /* watch requests never take a scripted response */
    volatile int stop;
};

static int queue_empty(fakeapi_t *f)
{
    pthread_mutex_lock(&f->mu);
    int e = f->qhead == f->qtail;
    pthread_mutex_unlock(&f->mu);
    return e;
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

static void serve(fakeapi_t *f, int fd)
{
    char buf[8192];
    size_t len = 0;
    while (len < sizeof(buf) - 1) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 2000) <= 0)
            return;
        ssize_t r = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
        if (r <= 0)
            return;
        len += (size_t)r;
        buf[len] = 0;
        if (strstr(buf, "\r\n\r\n"))
            break;
    }
    char method[16], target[4096];
    if (sscanf(buf, "%15s %4095s", method, target) != 2)
        return;
    pthread_mutex_lock(&f->mu);
    if (f->nreq < MAXREQ)
        f->reqs[f->nreq++] = strdup(target);
    pthread_mutex_unlock(&f->mu);
    /* Idle watch: hold until a response is queued or we stop. With
     * hold_watches, a watch never takes a scripted response (so concurrent
     * informers' lists cannot be taken by another informer's watch) and ends
     * cleanly after HOLD_MS, since this server answers one connection at a
     * time and the other informer's list must get its turn. */
    int hold = f->hold_watches && strstr(target, "watch=") != NULL;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (hold || queue_empty(f)) {
        const char *h = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
        write_all(fd, h, strlen(h));
        while (!f->stop && (hold || queue_empty(f))) {
            struct timespec now;
            clock_gettime(CLOCK_MONOTONIC, &now);
            if (hold && (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000 >= HOLD_MS)
                break;
            struct pollfd p = {fd, POLLIN, 0};
            if (poll(&p, 1, 5) > 0) {
                char tmp[64];
                if (recv(fd, tmp, sizeof(tmp), 0) <= 0)
                    return; /* client went away */
            }
        }
        write_all(fd, "0\r\n\r\n", 5);
        return;
    }
    pthread_mutex_lock(&f->mu);
    resp_t r = f->q[f->qhead++ % MAXQ];
    pthread_mutex_unlock(&f->mu);
    char hdr[512];
    size_t blen = strlen(r.body);
    int status = r.status == FAKE_CUT ? 200 : r.status;
    snprintf(hdr, sizeof(hdr),
             "HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n%s\r\n",
             status, r.ctype, blen + (r.status == FAKE_CUT ? 1000 : 0),
             status == 429 ? "Retry-After: 0\r\n" : "");
    write_all(fd, hdr, strlen(hdr));
    write_all(fd, r.body, blen);
    free(r.body);
    free(r.ctype);
}

static void *loop(void *arg)
{
    fakeapi_t *f = arg;
    while (!f->stop) {
        struct pollfd p = {f->lfd, POLLIN, 0};
        if (poll(&p, 1, 10) <= 0)
            continue;
        int fd = accept(f->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        serve(f, fd);
        shutdown(fd, SHUT_WR);
        close(fd);
    }
    return NULL;
}

fakeapi_t *fakeapi_start(void)
{
    fakeapi_t *f = calloc(1, sizeof(*f));
    pthread_mutex_init(&f->mu, NULL);
    f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(f->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    if (bind(f->lfd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(f->lfd, 16) != 0 ||
        getsockname(f->lfd, (struct sockaddr *)&a, &al) != 0) {
        close(f->lfd);
        free(f);
        return NULL;
    }
    f->port = ntohs(a.sin_port);
    pthread_create(&f->th, NULL, loop, f);
    return f;
}

void fakeapi_hold_watches(fakeapi_t *f)
{
    f->hold_watches = 1;
}

int fakeapi_port(fakeapi_t *f)
{
    return f->port;
}

void fakeapi_push(fakeapi_t *f, int status, const char *ctype, const char *body)
{
    pthread_mutex_lock(&f->mu);
    resp_t *r = &f->q[f->qtail++ % MAXQ];
    r->status = status;
    r->ctype = strdup(ctype ? ctype : "application/json");
    r->body = strdup(body);
    pthread_mutex_unlock(&f->mu);
}

int fakeapi_nrequests(fakeapi_t *f)
{
    pthread_mutex_lock(&f->mu);
    int n = f->nreq;
    pthread_mutex_unlock(&f->mu);
    return n;
}

int fakeapi_wait_requests(fakeapi_t *f, int n, int timeout_ms)
{
    for (int i = 0; i < timeout_ms; i += 5) {
        if (fakeapi_nrequests(f) >= n)
            return 1;
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
    return fakeapi_nrequests(f) >= n;
}

const char *fakeapi_request(fakeapi_t *f, int i)
{
    pthread_mutex_lock(&f->mu);
    const char *r = i < f->nreq ? f->reqs[i] : "";
    pthread_mutex_unlock(&f->mu);
    return r;
}

void fakeapi_stop(fakeapi_t *f)
{
    f->stop = 1;
    pthread_join(f->th, NULL);
    close(f->lfd);
    for (int i = 0; i < f->nreq; i++)
        free(f->reqs[i]);
    while (f->qhead != f->qtail) {
        resp_t *r = &f->q[f->qhead++ % MAXQ];
        free(r->body);
        free(r->ctype);
    }
    pthread_mutex_destroy(&f->mu);
    free(f);
}
