/* gRPC layer: our server and our client against each other, in process. */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "echo.h"
#include "mesh/grpc_client.h"
#include "mesh/grpc_server.h"
#include "mesh/mem.h"

typedef struct fixture {
    mesh_grpc_server_t *srv;
    mesh_grpc_client_t *cli;
    char target[64];
} fixture_t;

static void up(fixture_t *f, mesh_grpc_server_config_t cfg)
{
    echo_reset();
    if (cfg.listen_addr == NULL)
        cfg.listen_addr = "127.0.0.1:0";
    ck_assert_int_eq(mesh_grpc_server_new(&cfg, &f->srv), 0);
    ck_assert_int_eq(echo_register(f->srv), 0);
    ck_assert_int_eq(mesh_grpc_server_start(f->srv), 0);
    ck_assert_int_gt(mesh_grpc_server_port(f->srv), 0);
    snprintf(f->target, sizeof(f->target), "127.0.0.1:%d", mesh_grpc_server_port(f->srv));
    mesh_grpc_client_config_t cc = {.target = f->target};
    f->cli = NULL;
    if (cfg.tls_cert_file == NULL)
        ck_assert_int_eq(mesh_grpc_client_new(&cc, &f->cli), 0);
}

static void down(fixture_t *f)
{
    mesh_grpc_client_free(f->cli);
    mesh_grpc_server_free(f->srv);
    ck_assert(echo_wait("senders0", 0, 5000));
}

static mesh_grpc_result_t call(fixture_t *f, const char *method, const char *req, long timeout_ms)
{
    mesh_grpc_result_t r;
    ck_assert_int_eq(mesh_grpc_client_unary(f->cli, method, req, strlen(req), timeout_ms, &r), 0);
    return r;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

START_TEST(test_grpc_unary_echo)
{
    fixture_t f;
    up(&f, (mesh_grpc_server_config_t){0});
    mesh_grpc_result_t r = call(&f, ECHO_UNARY, "hello", 5000);
    ck_assert_int_eq(r.code, MESH_GRPC_STATUS_OK);
    ck_assert_uint_eq(r.len, 5);
    ck_assert_mem_eq(r.body, "hello", 5);
    ck_assert_str_eq(r.message, "");
    mesh_grpc_result_free(&r);

    /* An empty message is still a message. */
    ck_assert_int_eq(mesh_grpc_client_unary(f.cli, ECHO_UNARY, NULL, 0, 5000, &r), 0);
    ck_assert_int_eq(r.code, MESH_GRPC_STATUS_OK);
    ck_assert_uint_eq(r.len, 0);
    mesh_grpc_result_free(&r);

    /* The handler sees the method, the peer and the deadline. */
    r = call(&f, ECHO_UNARY, "info", 3000);
    ck_assert_int_eq(r.code, MESH_GRPC_STATUS_OK);
    ck_assert_ptr_nonnull(strstr((char *)r.body, "method=/x.Test/Echo peer=ipv4:127.0.0.1:"));
    const char *d = strstr((char *)r.body, "deadline=");
    ck_assert_ptr_nonnull(d);
    long long ms = strtoll(d + 9, NULL, 10);
    ck_assert_int_gt(ms, 1000);
    ck_assert_int_le(ms, 3100); /* grpc rounds deadlines up a little */
    mesh_grpc_result_free(&r);
    r = call(&f, ECHO_UNARY, "info", -1);
    ck_assert_ptr_nonnull(strstr((char *)r.body, "deadline=-1 "));
    mesh_grpc_result_free(&r);
    down(&f);
}
END_TEST

START_TEST(test_grpc_unknown_method)
{
    fixture_t f;
    up(&f, (mesh_grpc_server_config_t){0});
    mesh_grpc_result_t r = call(&f, "/x.Test/Nope", "x", 5000);
    ck_assert_int_eq(r.code, MESH_GRPC_STATUS_UNIMPLEMENTED);
    ck_assert_ptr_nonnull(strstr(r.message, "/x.Test/Nope"));
    ck_assert_ptr_null(r.body);
    mesh_grpc_result_free(&r);
    /* Streaming on an unknown method: no message, same status. */
    mesh_grpc_client_stream_t *st;
    ck_assert_int_eq(mesh_grpc_client_stream_open(f.cli, "/x.Other/Watch", "", 0, 5000, &st), 0);
    uint8_t *m;
    size_t n;
    ck_assert_int_eq(mesh_grpc_client_stream_next(st, 5000, &m, &n), 0);
    ck_assert_int_eq(mesh_grpc_client_stream_status(st, NULL), MESH_GRPC_STATUS_UNIMPLEMENTED);
    mesh_grpc_client_stream_free(st);
    down(&f);
}
END_TEST

START_TEST(test_grpc_handler_error)
{
    fixture_t f;
    up(&f, (mesh_grpc_server_config_t){0});
    mesh_grpc_result_t r = call(&f, ECHO_UNARY, "fail:9:precondition broken", 5000);
    ck_assert_int_eq(r.code, MESH_GRPC_STATUS_FAILED_PRECONDITION);
    ck_assert_str_eq(r.message, "precondition broken");
    ck_assert_ptr_null(r.body); /* no body with an error status */
    mesh_grpc_result_free(&r);
    /* A code outside the gRPC range becomes UNKNOWN. */
    r = call(&f, ECHO_UNARY, "fail:99:odd", 5000);
    ck_assert_int_eq(r.code, MESH_GRPC_STATUS_UNKNOWN);
    mesh_grpc_result_free(&r);
    /* A stream refused by its handler. */
    mesh_grpc_client_stream_t *st;
    ck_assert_int_eq(mesh_grpc_client_stream_open(f.cli, ECHO_STREAM, "reject:7", 8, 5000, &st), 0);
    uint8_t *m;
    size_t n;
    ck_assert_int_eq(mesh_grpc_client_stream_next(st, 5000, &m, &n), 0);
    const char *msg;
    ck_assert_int_eq(mesh_grpc_client_stream_status(st, &msg), MESH_GRPC_STATUS_PERMISSION_DENIED);
    ck_assert_str_eq(msg, "rejected");
    mesh_grpc_client_stream_free(st);
    down(&f);
}
END_TEST

typedef struct slow_arg {
    fixture_t *f;
    double took;
    int code;
} slow_arg_t;

static void *slow_call(void *p)
{
    slow_arg_t *a = p;
    double t0 = now_s();
    mesh_grpc_result_t r;
    ck_assert_int_eq(mesh_grpc_client_unary(a->f->cli, ECHO_UNARY, "sleep:800", 9, 5000, &r), 0);
    a->code = r.code;
    a->took = now_s() - t0;
    mesh_grpc_result_free(&r);
    return NULL;
}

START_TEST(test_grpc_deadline_and_slow_handler)
{
    fixture_t f;
    up(&f, (mesh_grpc_server_config_t){.workers = 2});
    double t0 = now_s();
    mesh_grpc_result_t r = call(&f, ECHO_UNARY, "sleep:1000", 200);
    ck_assert_int_eq(r.code, MESH_GRPC_STATUS_DEADLINE_EXCEEDED);
    ck_assert(now_s() - t0 < 0.9);
    mesh_grpc_result_free(&r);
    /* Let that worker go, then check a slow handler blocks only its worker. */
    usleep(900 * 1000);
    slow_arg_t a = {&f, 0, -1};
    pthread_t t;
    pthread_create(&t, NULL, slow_call, &a);
    usleep(100 * 1000);
    t0 = now_s();
    r = call(&f, ECHO_UNARY, "quick", 5000);
    double quick = now_s() - t0;
    ck_assert_int_eq(r.code, MESH_GRPC_STATUS_OK);
    mesh_grpc_result_free(&r);
    pthread_join(t, NULL);
    ck_assert_int_eq(a.code, MESH_GRPC_STATUS_OK);
    ck_assert(a.took >= 0.75);
    ck_assert_msg(quick < 0.5, "quick call waited %.3fs behind a slow handler", quick);
    down(&f);
}
END_TEST

START_TEST(test_grpc_stream_in_order)
{
    fixture_t f;
    up(&f, (mesh_grpc_server_config_t){.stream_queue_max = 8});
    mesh_grpc_client_stream_t *st;
    ck_assert_int_eq(mesh_grpc_client_stream_open(f.cli, ECHO_STREAM, "count:2000", 10, 20000, &st), 0);
    uint8_t *m;
    size_t n;
    char want[32];
    for (int i = 0; i < 2000; i++) {
        ck_assert_int_eq(mesh_grpc_client_stream_next(st, 5000, &m, &n), 1);
        snprintf(want, sizeof(want), "m%d", i);
        ck_assert_uint_eq(n, strlen(want));
        ck_assert_mem_eq(m, want, n);
        mesh_free(m);
    }
    ck_assert_int_eq(mesh_grpc_client_stream_next(st, 5000, &m, &n), 0);
    ck_assert_int_eq(mesh_grpc_client_stream_status(st, NULL), MESH_GRPC_STATUS_OK);
    mesh_grpc_client_stream_free(st);
    ck_assert(echo_wait("done", 1, 2000));
    ck_assert_int_eq(echo_stats().done_cancelled, 0);
    down(&f);
}
END_TEST

START_TEST(test_grpc_stream_queue_full)
{
    fixture_t f;
    up(&f, (mesh_grpc_server_config_t){.stream_queue_max = 4});
    mesh_grpc_client_stream_t *st;
    /* 64 KiB messages every ms and a client that does not read: flow control
     * stops grpc, the queue fills, and send must say so. */
    ck_assert_int_eq(mesh_grpc_client_stream_open(f.cli, ECHO_STREAM, "flood:65536:1000", 16, 20000, &st), 0);
    ck_assert_msg(echo_wait("flood_full", 1, 5000), "send never reported a full queue");
    echo_stats_t s = echo_stats();
    /* More than the queue went out (grpc took some), far less than 5 s worth. */
    ck_assert_int_gt(s.flood_sent, 4);
    ck_assert_int_lt(s.flood_sent, 1000);
    /* Now read: what was sent arrives, then RESOURCE_EXHAUSTED. */
    uint8_t *m;
    size_t n;
    int got = 0, rc;
    while ((rc = mesh_grpc_client_stream_next(st, 5000, &m, &n)) == 1) {
        ck_assert_uint_eq(n, 65536);
        mesh_free(m);
        got++;
    }
    ck_assert_int_eq(rc, 0);
    ck_assert_int_le(got, s.flood_sent);
    const char *msg;
    ck_assert_int_eq(mesh_grpc_client_stream_status(st, &msg), MESH_GRPC_STATUS_RESOURCE_EXHAUSTED);
    ck_assert_str_eq(msg, "send queue full");
    mesh_grpc_client_stream_free(st);
    down(&f);
}
END_TEST

START_TEST(test_grpc_stream_cancel_callback)
{
    fixture_t f;
    up(&f, (mesh_grpc_server_config_t){0});
    mesh_grpc_client_stream_t *st;
    ck_assert_int_eq(mesh_grpc_client_stream_open(f.cli, ECHO_STREAM, "hold", 4, -1, &st), 0);
    uint8_t *m;
    size_t n;
    ck_assert_int_eq(mesh_grpc_client_stream_next(st, 5000, &m, &n), 1);
    ck_assert_mem_eq(m, "ready", 5);
    mesh_free(m);
    /* Nothing more comes: next times out and stays armed. */
    ck_assert_int_eq(mesh_grpc_client_stream_next(st, 100, &m, &n), MESH_GRPC_ETIMEDOUT);
    ck_assert_int_eq(echo_stats().held, 1);
    ck_assert_int_eq(echo_stats().done, 0);
    mesh_grpc_client_stream_cancel(st);
    ck_assert_msg(echo_wait("done_cancelled", 1, 5000), "on_done(cancelled) did not fire");
    ck_assert_int_eq(echo_stats().held, 0);
    ck_assert_int_eq(mesh_grpc_client_stream_next(st, 5000, &m, &n), 0);
    ck_assert_int_eq(mesh_grpc_client_stream_status(st, NULL), MESH_GRPC_STATUS_CANCELLED);
    mesh_grpc_client_stream_free(st);

    /* A client deadline is a cancel too. */
    ck_assert_int_eq(mesh_grpc_client_stream_open(f.cli, ECHO_STREAM, "hold", 4, 300, &st), 0);
    ck_assert_msg(echo_wait("done_cancelled", 2, 5000), "deadline did not reach on_done");
    ck_assert_int_eq(mesh_grpc_client_stream_status(st, NULL), MESH_GRPC_STATUS_DEADLINE_EXCEEDED);
    mesh_grpc_client_stream_free(st);
    down(&f);
}
END_TEST

START_TEST(test_grpc_shutdown_with_open_streams)
{
    fixture_t f;
    up(&f, (mesh_grpc_server_config_t){0});
    mesh_grpc_client_stream_t *st[4];
    uint8_t *m;
    size_t n;
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(mesh_grpc_client_stream_open(f.cli, ECHO_STREAM, "hold", 4, -1, &st[i]), 0);
        ck_assert_int_eq(mesh_grpc_client_stream_next(st[i], 5000, &m, &n), 1);
        mesh_free(m);
    }
    /* One stream whose sender thread is busy when the server goes away. */
    ck_assert_int_eq(mesh_grpc_client_stream_open(f.cli, ECHO_STREAM, "count:100000000", 15, -1, &st[3]), 0);
    ck_assert_int_eq(mesh_grpc_client_stream_next(st[3], 5000, &m, &n), 1);
    mesh_free(m);
    ck_assert_int_eq(echo_stats().held, 3);
    mesh_grpc_server_free(f.srv);
    f.srv = NULL;
    echo_stats_t s = echo_stats();
    ck_assert_int_eq(s.held, 0);
    ck_assert_int_eq(s.done, 4);
    ck_assert_int_eq(s.done_cancelled, 4);
    ck_assert(echo_wait("senders0", 0, 5000));
    for (int i = 0; i < 4; i++) {
        int rc;
        while ((rc = mesh_grpc_client_stream_next(st[i], 5000, &m, &n)) == 1)
            mesh_free(m);
        ck_assert_int_eq(rc, 0);
        ck_assert_int_ne(mesh_grpc_client_stream_status(st[i], NULL), MESH_GRPC_STATUS_OK);
        mesh_grpc_client_stream_free(st[i]);
    }
    down(&f);
}
END_TEST

START_TEST(test_grpc_max_recv)
{
    fixture_t f;
    up(&f, (mesh_grpc_server_config_t){.max_recv_message = 1024});
    char big[2000];
    memset(big, 'x', sizeof(big));
    mesh_grpc_result_t r;
    ck_assert_int_eq(mesh_grpc_client_unary(f.cli, ECHO_UNARY, big, sizeof(big), 5000, &r), 0);
    ck_assert_int_eq(r.code, MESH_GRPC_STATUS_RESOURCE_EXHAUSTED);
    mesh_grpc_result_free(&r);
    ck_assert_int_eq(mesh_grpc_client_unary(f.cli, ECHO_UNARY, big, 1000, 5000, &r), 0);
    ck_assert_int_eq(r.code, MESH_GRPC_STATUS_OK);
    mesh_grpc_result_free(&r);
    down(&f);
}
END_TEST

START_TEST(test_grpc_bad_config)
{
    mesh_grpc_server_t *srv;
    ck_assert_int_eq(mesh_grpc_server_new(&(mesh_grpc_server_config_t){0}, &srv), MESH_GRPC_EINVAL);
    ck_assert_ptr_null(srv);
    mesh_grpc_server_config_t cfg = {.listen_addr = "127.0.0.1:0", .tls_cert_file = "/nonexistent.pem",
                                     .tls_key_file = "/nonexistent.key"};
    ck_assert_int_eq(mesh_grpc_server_new(&cfg, &srv), MESH_GRPC_ETLS);
    cfg = (mesh_grpc_server_config_t){.listen_addr = "127.0.0.1:0", .tls_cert_file = "/etc/hostname"};
    ck_assert_int_eq(mesh_grpc_server_new(&cfg, &srv), MESH_GRPC_EINVAL); /* key missing */
    cfg = (mesh_grpc_server_config_t){.listen_addr = "no-such-host.invalid:1"};
    ck_assert_int_eq(mesh_grpc_server_new(&cfg, &srv), MESH_GRPC_EBIND);

    cfg = (mesh_grpc_server_config_t){.listen_addr = "127.0.0.1:0"};
    ck_assert_int_eq(mesh_grpc_server_new(&cfg, &srv), 0);
    ck_assert_int_eq(echo_register(srv), 0);
    ck_assert_int_eq(echo_register(srv), MESH_GRPC_EEXIST);
    ck_assert_int_eq(mesh_grpc_server_add_unary(srv, "nope", NULL, NULL), MESH_GRPC_EINVAL);
    ck_assert_int_eq(mesh_grpc_server_add_unary(srv, "/x.Test", (mesh_grpc_unary_cb)1, NULL), MESH_GRPC_EINVAL);
    ck_assert_int_eq(mesh_grpc_server_start(srv), 0);
    ck_assert_int_eq(mesh_grpc_server_start(srv), MESH_GRPC_ESTATE);
    ck_assert_int_eq(mesh_grpc_server_add_unary(srv, "/x.Test/Late", (mesh_grpc_unary_cb)1, NULL),
                     MESH_GRPC_ESTATE);
    mesh_grpc_server_free(srv);
    /* A server that never started frees cleanly too. */
    ck_assert_int_eq(mesh_grpc_server_new(&cfg, &srv), 0);
    mesh_grpc_server_free(srv);

    mesh_grpc_client_t *c;
    ck_assert_int_eq(mesh_grpc_client_new(&(mesh_grpc_client_config_t){0}, &c), MESH_GRPC_EINVAL);
    ck_assert_int_eq(mesh_grpc_client_new(&(mesh_grpc_client_config_t){.target = "x:1", .tls_root_ca_file = "/nonexistent"}, &c),
                     MESH_GRPC_ETLS);
    /* No server: the call completes with UNAVAILABLE, not a layer error. */
    ck_assert_int_eq(mesh_grpc_client_new(&(mesh_grpc_client_config_t){.target = "127.0.0.1:1"}, &c), 0);
    mesh_grpc_result_t r;
    ck_assert_int_eq(mesh_grpc_client_unary(c, ECHO_UNARY, "x", 1, 2000, &r), 0);
    ck_assert_int_eq(r.code, MESH_GRPC_STATUS_UNAVAILABLE);
    mesh_grpc_result_free(&r);
    ck_assert_int_eq(mesh_grpc_client_unary(c, "no-slash", "x", 1, 2000, &r), MESH_GRPC_EINVAL);
    mesh_grpc_client_free(c);
    ck_assert_str_eq(mesh_grpc_status_name(8), "RESOURCE_EXHAUSTED");
    ck_assert_str_eq(mesh_grpc_status_name(17), "UNKNOWN_CODE");
    ck_assert_str_eq(mesh_grpc_strerror(MESH_GRPC_EFULL), "stream send queue full");
}
END_TEST

/* Makes a self-signed server cert for `name` in a fresh temp dir. */
static void make_cert(char *dir, size_t cap, const char *name)
{
    snprintf(dir, cap, "/tmp/cmesh-grpc-tls-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout %s/key.pem -out %s/crt.pem -days 1 -subj /CN=%s "
             "-addext subjectAltName=DNS:%s >/dev/null 2>&1",
             dir, dir, name, name);
    ck_assert_int_eq(system(cmd), 0);
}

static void rm_dir(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static int tls_call(const char *target, const char *ca, const char *name)
{
    mesh_grpc_client_t *c;
    mesh_grpc_client_config_t cc = {.target = target, .tls_root_ca_file = ca, .tls_server_name = name};
    ck_assert_int_eq(mesh_grpc_client_new(&cc, &c), 0);
    mesh_grpc_result_t r;
    ck_assert_int_eq(mesh_grpc_client_unary(c, ECHO_UNARY, "tls", 3, 5000, &r), 0);
    int code = r.code;
    if (code == 0)
        ck_assert_mem_eq(r.body, "tls", 3);
    mesh_grpc_result_free(&r);
    mesh_grpc_client_free(c);
    return code;
}

START_TEST(test_grpc_tls_names)
{
    char dir[64], crt[128], key[128];
    make_cert(dir, sizeof(dir), "server.test");
    snprintf(crt, sizeof(crt), "%s/crt.pem", dir);
    snprintf(key, sizeof(key), "%s/key.pem", dir);
    fixture_t f;
    up(&f, (mesh_grpc_server_config_t){.tls_cert_file = crt, .tls_key_file = key});
    ck_assert_int_eq(tls_call(f.target, crt, "server.test"), MESH_GRPC_STATUS_OK);
    ck_assert_int_eq(tls_call(f.target, crt, "other.test"), MESH_GRPC_STATUS_UNAVAILABLE);
    /* A plaintext client cannot talk to the TLS port. */
    mesh_grpc_client_t *c;
    ck_assert_int_eq(mesh_grpc_client_new(&(mesh_grpc_client_config_t){.target = f.target}, &c), 0);
    mesh_grpc_result_t r;
    ck_assert_int_eq(mesh_grpc_client_unary(c, ECHO_UNARY, "x", 1, 3000, &r), 0);
    ck_assert_int_eq(r.code, MESH_GRPC_STATUS_UNAVAILABLE);
    mesh_grpc_result_free(&r);
    mesh_grpc_client_free(c);
    down(&f);
    rm_dir(dir);
}
END_TEST

START_TEST(test_grpc_mtls_required)
{
    char sdir[64], cdir[64], scrt[128], skey[128], ccrt[128], ckey[128];
    make_cert(sdir, sizeof(sdir), "server.test");
    make_cert(cdir, sizeof(cdir), "client.test");
    snprintf(scrt, sizeof(scrt), "%s/crt.pem", sdir);
    snprintf(skey, sizeof(skey), "%s/key.pem", sdir);
    snprintf(ccrt, sizeof(ccrt), "%s/crt.pem", cdir);
    snprintf(ckey, sizeof(ckey), "%s/key.pem", cdir);
    fixture_t f;
    /* The client's self-signed cert is its own CA. */
    up(&f, (mesh_grpc_server_config_t){.tls_cert_file = scrt, .tls_key_file = skey,
                                       .tls_client_ca_file = ccrt, .require_client_cert = 1});
    mesh_grpc_client_t *c;
    mesh_grpc_result_t r;
    mesh_grpc_client_config_t cc = {.target = f.target, .tls_root_ca_file = scrt,
                                    .tls_server_name = "server.test",
                                    .tls_cert_file = ccrt, .tls_key_file = ckey};
    ck_assert_int_eq(mesh_grpc_client_new(&cc, &c), 0);
    ck_assert_int_eq(mesh_grpc_client_unary(c, ECHO_UNARY, "m", 1, 5000, &r), 0);
    ck_assert_int_eq(r.code, MESH_GRPC_STATUS_OK);
    mesh_grpc_result_free(&r);
    mesh_grpc_client_free(c);
    /* Without a client certificate the handshake is refused. */
    ck_assert_int_eq(tls_call(f.target, scrt, "server.test"), MESH_GRPC_STATUS_UNAVAILABLE);
    /* A client cert signed by nobody the server trusts: refused too. */
    cc.tls_cert_file = scrt;
    cc.tls_key_file = skey;
    ck_assert_int_eq(mesh_grpc_client_new(&cc, &c), 0);
    ck_assert_int_eq(mesh_grpc_client_unary(c, ECHO_UNARY, "m", 1, 5000, &r), 0);
    ck_assert_int_eq(r.code, MESH_GRPC_STATUS_UNAVAILABLE);
    mesh_grpc_result_free(&r);
    mesh_grpc_client_free(c);
    /* Half a client pair is a configuration error. */
    cc.tls_key_file = NULL;
    ck_assert_int_eq(mesh_grpc_client_new(&cc, &c), MESH_GRPC_EINVAL);
    down(&f);
    rm_dir(sdir);
    rm_dir(cdir);
}
END_TEST

START_TEST(test_grpc_inline_handlers)
{
    /* workers < 0: handlers run on the cq thread; sends from there must not
     * need the doorbell, sends from the sender threads still do. */
    fixture_t f;
    up(&f, (mesh_grpc_server_config_t){.workers = -1, .stream_queue_max = 2});
    mesh_grpc_result_t r = call(&f, ECHO_UNARY, "inline", 5000);
    ck_assert_int_eq(r.code, MESH_GRPC_STATUS_OK);
    ck_assert_mem_eq(r.body, "inline", 6);
    mesh_grpc_result_free(&r);
    mesh_grpc_client_stream_t *st;
    ck_assert_int_eq(mesh_grpc_client_stream_open(f.cli, ECHO_STREAM, "hold", 4, -1, &st), 0);
    uint8_t *m;
    size_t n;
    ck_assert_int_eq(mesh_grpc_client_stream_next(st, 5000, &m, &n), 1);
    ck_assert_mem_eq(m, "ready", 5);
    mesh_free(m);
    mesh_grpc_client_stream_free(st);
    ck_assert(echo_wait("done_cancelled", 1, 5000));
    ck_assert_int_eq(mesh_grpc_client_stream_open(f.cli, ECHO_STREAM, "count:300", 9, 10000, &st), 0);
    int got = 0, rc;
    while ((rc = mesh_grpc_client_stream_next(st, 5000, &m, &n)) == 1) {
        mesh_free(m);
        got++;
    }
    ck_assert_int_eq(got, 300);
    ck_assert_int_eq(mesh_grpc_client_stream_status(st, NULL), MESH_GRPC_STATUS_OK);
    mesh_grpc_client_stream_free(st);
    down(&f);
}
END_TEST

START_TEST(test_grpc_concurrent_streams)
{
    enum { N = 50, PER = 40 };
    fixture_t f;
    up(&f, (mesh_grpc_server_config_t){0});
    mesh_grpc_client_stream_t *st[N];
    char req[32];
    snprintf(req, sizeof(req), "count:%d", PER);
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(mesh_grpc_client_stream_open(f.cli, ECHO_STREAM, req, strlen(req), 20000, &st[i]), 0);
    uint8_t *m;
    size_t n;
    char want[32];
    for (int k = 0; k < PER; k++)
        for (int i = 0; i < N; i++) {
            ck_assert_int_eq(mesh_grpc_client_stream_next(st[i], 5000, &m, &n), 1);
            snprintf(want, sizeof(want), "m%d", k);
            ck_assert_mem_eq(m, want, strlen(want));
            mesh_free(m);
        }
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(mesh_grpc_client_stream_next(st[i], 5000, &m, &n), 0);
        ck_assert_int_eq(mesh_grpc_client_stream_status(st[i], NULL), MESH_GRPC_STATUS_OK);
        mesh_grpc_client_stream_free(st[i]);
    }
    ck_assert(echo_wait("done", N, 5000));
    down(&f);
}
END_TEST

START_TEST(test_grpc_unary_rate)
{
    fixture_t f;
    up(&f, (mesh_grpc_server_config_t){0});
    double t0 = now_s(), t;
    long calls = 0;
    while ((t = now_s() - t0) < 2.0) {
        mesh_grpc_result_t r = call(&f, ECHO_UNARY, "ping", 5000);
        ck_assert_int_eq(r.code, MESH_GRPC_STATUS_OK);
        mesh_grpc_result_free(&r);
        calls++;
    }
    printf("grpc: %ld sequential unary calls in %.2fs = %.0f calls/s\n", calls, t, calls / t);
    ck_assert_int_gt(calls, 100);
    down(&f);
}
END_TEST

Suite *grpc_layer_suite(void)
{
    Suite *s = suite_create("grpc_layer");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_grpc_unary_echo);
    tcase_add_test(tc, test_grpc_unknown_method);
    tcase_add_test(tc, test_grpc_handler_error);
    tcase_add_test(tc, test_grpc_deadline_and_slow_handler);
    tcase_add_test(tc, test_grpc_stream_in_order);
    tcase_add_test(tc, test_grpc_stream_queue_full);
    tcase_add_test(tc, test_grpc_stream_cancel_callback);
    tcase_add_test(tc, test_grpc_shutdown_with_open_streams);
    tcase_add_test(tc, test_grpc_max_recv);
    tcase_add_test(tc, test_grpc_bad_config);
    tcase_add_test(tc, test_grpc_tls_names);
    tcase_add_test(tc, test_grpc_mtls_required);
    tcase_add_test(tc, test_grpc_inline_handlers);
    tcase_add_test(tc, test_grpc_concurrent_streams);
    tcase_add_test(tc, test_grpc_unary_rate);
    suite_add_tcase(s, tc);
    return s;
}
