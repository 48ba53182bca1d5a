/* The test service of echo.h, plus a stand-alone main for the Python test. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "echo.h"
#include "mesh/mem.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static echo_stats_t st;

#define HELD_MARK ((void *)&st)

void echo_reset(void)
{
    pthread_mutex_lock(&lock);
    memset(&st, 0, sizeof(st));
    pthread_mutex_unlock(&lock);
}

echo_stats_t echo_stats(void)
{
    pthread_mutex_lock(&lock);
    echo_stats_t s = st;
    pthread_mutex_unlock(&lock);
    return s;
}

static int reached(const char *which, int want)
{
    if (strcmp(which, "held") == 0)
        return st.held >= want;
    if (strcmp(which, "done") == 0)
        return st.done >= want;
    if (strcmp(which, "done_cancelled") == 0)
        return st.done_cancelled >= want;
    if (strcmp(which, "flood_full") == 0)
        return st.flood_full >= want;
    if (strcmp(which, "senders0") == 0)
        return st.senders == 0;
    return 0;
}

int echo_wait(const char *which, int want, int timeout_ms)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&lock);
    int ok;
    while (!(ok = reached(which, want)))
        if (pthread_cond_timedwait(&cond, &lock, &dl) == ETIMEDOUT) {
            ok = reached(which, want);
            break;
        }
    pthread_mutex_unlock(&lock);
    return ok;
}

static void bump(int *field, int by)
{
    pthread_mutex_lock(&lock);
    *field += by;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);
}

static int echo_unary(void *user, const mesh_grpc_call_info_t *info, const uint8_t *req,
                      size_t len, mesh_grpc_reply_t *reply)
{
    (void)user;
    char text[128];
    size_t n = len < sizeof(text) - 1 ? len : sizeof(text) - 1;
    memcpy(text, req, n);
    text[n] = 0;
    if (strncmp(text, "fail:", 5) == 0) {
        char *end;
        long code = strtol(text + 5, &end, 10);
        snprintf(reply->message, sizeof(reply->message), "%s", *end == ':' ? end + 1 : "");
        return (int)code;
    }
    if (strncmp(text, "sleep:", 6) == 0) {
        usleep((useconds_t)strtoul(text + 6, NULL, 10) * 1000);
        return mesh_buf_appends(&reply->body, "slept") ? MESH_GRPC_STATUS_RESOURCE_EXHAUSTED : 0;
    }
    if (strcmp(text, "info") == 0) {
        const char *xt = "";
        int xtlen = 0;
        for (size_t i = 0; i < info->md_count; i++)
            if (info->md[i].key_len == 6 && memcmp(info->md[i].key, "x-test", 6) == 0) {
                xt = info->md[i].value;
                xtlen = (int)info->md[i].value_len;
            }
        if (mesh_buf_appendf(&reply->body, "method=%s peer=%s deadline=%lld x-test=%.*s",
                             info->method, info->peer, info->deadline_ms, xtlen, xt))
            return MESH_GRPC_STATUS_RESOURCE_EXHAUSTED;
        return 0;
    }
    if (strncmp(text, "big:", 4) == 0) {
        size_t want = strtoul(text + 4, NULL, 10);
        if (mesh_buf_reserve(&reply->body, want))
            return MESH_GRPC_STATUS_RESOURCE_EXHAUSTED;
        memset(reply->body.base, 'b', want);
        reply->body.len = want;
        reply->body.base[want] = 0;
        return 0;
    }
    if (mesh_buf_append(&reply->body, req, len))
        return MESH_GRPC_STATUS_RESOURCE_EXHAUSTED;
    return 0;
}

typedef struct sender {
    mesh_grpc_stream_t *s;
    int flood;   /* 1: until full */
    long count;
    size_t size;
    long pace_us; /* flood: pause between successful sends */
} sender_t;

static void *sender_main(void *arg)
{
    sender_t *sd = arg;
    char *msg = mesh_xmalloc(sd->size + 32);
    if (sd->flood) {
        memset(msg, 'f', sd->size);
        int sent = 0, rc;
        while ((rc = mesh_grpc_stream_send(sd->s, msg, sd->size)) == 0) {
            sent++;
            if (sd->pace_us)
                usleep((useconds_t)sd->pace_us);
        }
        pthread_mutex_lock(&lock);
        st.flood_sent = sent;
        pthread_mutex_unlock(&lock);
        if (rc == MESH_GRPC_EFULL) {
            mesh_grpc_stream_finish(sd->s, MESH_GRPC_STATUS_RESOURCE_EXHAUSTED, "send queue full");
            bump(&st.flood_full, 1);
        }
    } else {
        int rc = 0;
        for (long i = 0; i < sd->count && rc == 0; i++) {
            int n = snprintf(msg, 32, "m%ld", i);
            size_t len = (size_t)n;
            if (sd->size > len) {
                memset(msg + len, '.', sd->size - len);
                len = sd->size;
            }
            while ((rc = mesh_grpc_stream_send(sd->s, msg, len)) == MESH_GRPC_EFULL)
                usleep(200);
        }
        if (rc == 0)
            mesh_grpc_stream_finish(sd->s, MESH_GRPC_STATUS_OK, NULL);
    }
    mesh_grpc_stream_release(sd->s);
    mesh_free(msg);
    mesh_free(sd);
    bump(&st.senders, -1);
    return NULL;
}

static void echo_stream(void *user, const mesh_grpc_call_info_t *info, const uint8_t *req,
                        size_t len, mesh_grpc_stream_t *s)
{
    (void)user;
    (void)info;
    char text[64];
    size_t n = len < sizeof(text) - 1 ? len : sizeof(text) - 1;
    memcpy(text, req, n);
    text[n] = 0;
    if (strcmp(text, "hold") == 0) {
        mesh_grpc_stream_set_data(s, HELD_MARK);
        bump(&st.held, 1);
        if (mesh_grpc_stream_send(s, "ready", 5) != 0)
            fprintf(stderr, "echo: cannot send ready\n");
        return; /* the reference is released by on_done */
    }
    if (strncmp(text, "reject:", 7) == 0) {
        mesh_grpc_stream_finish_release(s, (int)strtol(text + 7, NULL, 10), "rejected");
        return;
    }
    sender_t *sd = mesh_xmalloc(sizeof(*sd));
    memset(sd, 0, sizeof(*sd));
    sd->s = s;
    if (strncmp(text, "flood:", 6) == 0) {
        char *end;
        sd->flood = 1;
        sd->size = strtoul(text + 6, &end, 10);
        if (*end == ':')
            sd->pace_us = strtol(end + 1, NULL, 10);
    } else if (strncmp(text, "count:", 6) == 0) {
        char *end;
        sd->count = strtol(text + 6, &end, 10);
        if (*end == ':')
            sd->size = strtoul(end + 1, NULL, 10);
    } else {
        mesh_free(sd);
        mesh_grpc_stream_finish_release(s, MESH_GRPC_STATUS_INVALID_ARGUMENT, "bad stream request");
        return;
    }
    pthread_t t;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    bump(&st.senders, 1);
    if (pthread_create(&t, &a, sender_main, sd) != 0) {
        bump(&st.senders, -1);
        mesh_free(sd);
        mesh_grpc_stream_finish_release(s, MESH_GRPC_STATUS_INTERNAL, "no thread");
    }
    pthread_attr_destroy(&a);
}

static void echo_done(void *user, mesh_grpc_stream_t *s, int cancelled)
{
    (void)user;
    bool held = mesh_grpc_stream_data(s) == HELD_MARK;
    if (held)
        mesh_grpc_stream_set_data(s, NULL);
    /* One critical section, so a waiter on "done" also sees "held" updated. */
    pthread_mutex_lock(&lock);
    st.done++;
    if (cancelled)
        st.done_cancelled++;
    if (held)
        st.held--;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);
    if (held)
        mesh_grpc_stream_release(s);
}

int echo_register(mesh_grpc_server_t *srv)
{
    int rc = mesh_grpc_server_add_unary(srv, ECHO_UNARY, echo_unary, NULL);
    if (rc == 0)
        rc = mesh_grpc_server_add_stream(srv, ECHO_STREAM, echo_stream, echo_done, NULL);
    return rc;
}

#ifdef ECHO_SERVER_MAIN
#include <signal.h>

/* echo_server [QUEUE_MAX]: serves on 127.0.0.1:0, prints "PORT n", stops on
 * SIGTERM or SIGINT, exits 0 after a clean shutdown. */
int main(int argc, char **argv)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* every thread inherits it */
    mesh_grpc_server_config_t cfg = {.listen_addr = "127.0.0.1:0"};
    if (argc > 1)
        cfg.stream_queue_max = strtoul(argv[1], NULL, 10);
    mesh_grpc_server_t *srv;
    int rc = mesh_grpc_server_new(&cfg, &srv);
    if (rc) {
        fprintf(stderr, "echo_server: %s\n", mesh_grpc_strerror(rc));
        return 1;
    }
    if ((rc = echo_register(srv)) != 0 || (rc = mesh_grpc_server_start(srv)) != 0) {
        fprintf(stderr, "echo_server: %s\n", mesh_grpc_strerror(rc));
        mesh_grpc_server_free(srv);
        return 1;
    }
    printf("PORT %d\n", mesh_grpc_server_port(srv));
    fflush(stdout);
    int sig;
    sigwait(&set, &sig);
    mesh_grpc_server_free(srv);
    echo_wait("senders0", 0, 5000);
    return 0;
}
#endif
