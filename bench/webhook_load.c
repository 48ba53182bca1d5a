/*
 * Load client for cmesh-webhook: CONCURRENCY threads, each with one TLS
 * keep-alive connection (OpenSSL), POST the same AdmissionReview back to back
 * for SECONDS and time every answer (send to the end of the body).
 *
 *   webhook_load HOST PORT BODYFILE CONCURRENCY SECONDS
 * prints: conc=N reviews=R errors=E seconds=S rps=X p50_us=A p99_us=B max_us=C
 *
 * Built by bench/webhook_bench.sh: cc -O2 webhook_load.c -lssl -lcrypto -lpthread.
 * No certificate check: the bench measures the server, not the PKI.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define MAX_THREADS 256
#define MAX_SAMPLES_PER_THREAD 4000000
#define RESP_MAX (4 << 20)

static const char *host;
static int port;
static char *request;
static size_t request_len;
static double seconds;
static SSL_CTX *ctx;
static atomic_int stop;

typedef struct {
    uint32_t *lat_us;
    size_t n, errors;
    pthread_t tid;
} worker_t;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static SSL *dial(int *fdp)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, host, &sa.sin_addr);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        close(fd);
        return NULL;
    }
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    if (SSL_connect(ssl) != 1) {
        SSL_free(ssl);
        close(fd);
        return NULL;
    }
    *fdp = fd;
    return ssl;
}

/* Reads one response (Content-Length framed); 0 on a 200, -1 otherwise. */
static int read_response(SSL *ssl, char *buf)
{
    size_t got = 0;
    char *hend = NULL;
    while (hend == NULL) {
        int n = SSL_read(ssl, buf + got, (int)(RESP_MAX - 1 - got));
        if (n <= 0)
            return -1;
        got += (size_t)n;
        buf[got] = '\0';
        hend = strstr(buf, "\r\n\r\n");
        if (hend == NULL && got >= RESP_MAX - 1)
            return -1;
    }
    const char *cl = strcasestr(buf, "\r\nContent-Length:");
    if (cl == NULL || cl > hend)
        return -1;
    size_t want = (size_t)(hend + 4 - buf) + strtoul(cl + 17, NULL, 10);
    if (want >= RESP_MAX)
        return -1;
    while (got < want) {
        int n = SSL_read(ssl, buf + got, (int)(want - got));
        if (n <= 0)
            return -1;
        got += (size_t)n;
    }
    return strncmp(buf + 9, "200", 3) == 0 ? 0 : -1;
}

static void *run(void *arg)
{
    worker_t *w = arg;
    char *buf = malloc(RESP_MAX);
    int fd = -1;
    SSL *ssl = NULL;
    while (!atomic_load(&stop)) {
        if (ssl == NULL && (ssl = dial(&fd)) == NULL) {
            w->errors++;
            usleep(1000);
            continue;
        }
        double t0 = now();
        int ok = SSL_write(ssl, request, (int)request_len) == (int)request_len &&
                 read_response(ssl, buf) == 0;
        double dt = now() - t0;
        if (!ok) {
            w->errors++;
            SSL_free(ssl);
            close(fd);
            ssl = NULL;
            continue;
        }
        if (w->n < MAX_SAMPLES_PER_THREAD)
            w->lat_us[w->n++] = (uint32_t)(dt * 1e6);
    }
    if (ssl != NULL) {
        SSL_shutdown(ssl);
        SSL_free(ssl);
        close(fd);
    }
    free(buf);
    return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: webhook_load HOST PORT BODYFILE CONCURRENCY SECONDS\n");
        return 2;
    }
    host = argv[1];
    port = atoi(argv[2]);
    int conc = atoi(argv[4]);
    seconds = atof(argv[5]);
    if (conc < 1 || conc > MAX_THREADS || seconds <= 0) {
        fprintf(stderr, "webhook_load: bad concurrency or seconds\n");
        return 2;
    }
    FILE *f = fopen(argv[3], "rb");
    if (f == NULL) {
        perror(argv[3]);
        return 2;
    }
    fseek(f, 0, SEEK_END);
    long blen = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *body = malloc((size_t)blen);
    if (fread(body, 1, (size_t)blen, f) != (size_t)blen) {
        fprintf(stderr, "webhook_load: short read\n");
        return 2;
    }
    fclose(f);
    char head[256];
    int hl = snprintf(head, sizeof head,
                      "POST /?timeout=10s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
                      "Accept: application/json\r\nContent-Length: %ld\r\n\r\n",
                      host, port, blen);
    request_len = (size_t)hl + (size_t)blen;
    request = malloc(request_len);
    memcpy(request, head, (size_t)hl);
    memcpy(request + hl, body, (size_t)blen);

    ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    worker_t *ws = calloc((size_t)conc, sizeof *ws);
    double t0 = now();
    for (int i = 0; i < conc; i++) {
        ws[i].lat_us = malloc(sizeof(uint32_t) * MAX_SAMPLES_PER_THREAD);
        pthread_create(&ws[i].tid, NULL, run, &ws[i]);
    }
    struct timespec ts = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
    nanosleep(&ts, NULL);
    atomic_store(&stop, 1);
    size_t total = 0, errors = 0;
    for (int i = 0; i < conc; i++) {
        pthread_join(ws[i].tid, NULL);
        total += ws[i].n;
        errors += ws[i].errors;
    }
    double el = now() - t0;
    uint32_t *all = malloc(sizeof(uint32_t) * (total ? total : 1));
    size_t k = 0;
    for (int i = 0; i < conc; i++) {
        memcpy(all + k, ws[i].lat_us, ws[i].n * sizeof(uint32_t));
        k += ws[i].n;
        free(ws[i].lat_us);
    }
    qsort(all, total, sizeof(uint32_t), cmp_u32);
    uint32_t p50 = total ? all[total / 2] : 0, p99 = total ? all[(size_t)((double)total * 0.99)] : 0;
    uint32_t mx = total ? all[total - 1] : 0;
    printf("conc=%d reviews=%zu errors=%zu seconds=%.2f rps=%.0f p50_us=%u p99_us=%u max_us=%u\n",
           conc, total, errors, el, (double)total / el, p50, p99, mx);
    free(all);
    free(ws);
    free(request);
    free(body);
    SSL_CTX_free(ctx);
    return total > 0 ? 0 : 1;
}
