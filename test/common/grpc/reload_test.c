/*
 * mesh/grpc_reload.h: a TLS server whose certificate is swapped while a call
 * is in flight. The server here is a minimal grpc core loop (one call at a
 * time) so the test depends only on the credentials under test.
 */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <grpc/byte_buffer.h>
#include <grpc/grpc.h>
#include <grpc/support/time.h>

#include "mesh/grpc_client.h"
#include "mesh/grpc_common.h"
#include "mesh/grpc_reload.h"
#include "mesh/mem.h"
#include "mesh/pki.h"

#define SLOW_MS 600

enum { TAG_NEW = 1, TAG_BATCH, TAG_SHUT };

typedef struct tserver {
    grpc_server *srv;
    grpc_completion_queue *cq;
    pthread_t th;
    atomic_int stop;
    atomic_int served;
    atomic_int shut_seen; /* TAG_SHUT already taken off the queue */
    int port;
} tserver_t;

/* Waits for `tag` (every other event is a stale one of ours); 0 or -1. */
static int wait_tag(tserver_t *s, intptr_t tag, int *ok)
{
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(s->cq, gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                                                    gpr_time_from_millis(100, GPR_TIMESPAN)), NULL);
        if (ev.type == GRPC_OP_COMPLETE && (intptr_t)ev.tag == tag) {
            *ok = ev.success;
            return 0;
        }
        if (ev.type == GRPC_OP_COMPLETE && (intptr_t)ev.tag == TAG_SHUT)
            atomic_store(&s->shut_seen, 1);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            return -1;
        if (ev.type == GRPC_QUEUE_TIMEOUT && atomic_load(&s->stop) && tag == TAG_NEW)
            return -1;
    }
}

/* Serves calls one at a time: "/t.T/Slow" answers after SLOW_MS. */
static void *serve(void *arg)
{
    tserver_t *s = arg;
    for (;;) {
        grpc_call *call = NULL;
        grpc_call_details d;
        grpc_metadata_array md;
        grpc_call_details_init(&d);
        grpc_metadata_array_init(&md);
        int ok = 0;
        ck_assert_int_eq(grpc_server_request_call(s->srv, &call, &d, &md, s->cq, s->cq, (void *)TAG_NEW),
                         GRPC_CALL_OK);
        if (wait_tag(s, TAG_NEW, &ok) != 0 || !ok) {
            grpc_call_details_destroy(&d);
            grpc_metadata_array_destroy(&md);
            if (call != NULL)
                grpc_call_unref(call);
            return NULL; /* shutting down: the shutdown path drains the rest */
        }
        int slow = grpc_slice_str_cmp(d.method, "/t.T/Slow") == 0;
        grpc_byte_buffer *in = NULL;
        grpc_op ops1[2] = {{.op = GRPC_OP_SEND_INITIAL_METADATA}, {.op = GRPC_OP_RECV_MESSAGE}};
        ops1[1].data.recv_message.recv_message = &in;
        ck_assert_int_eq(grpc_call_start_batch(call, ops1, 2, (void *)TAG_BATCH, NULL), GRPC_CALL_OK);
        wait_tag(s, TAG_BATCH, &ok);
        grpc_byte_buffer_destroy(in);
        if (slow)
            usleep(SLOW_MS * 1000);
        grpc_slice body = grpc_slice_from_static_string("ok");
        grpc_byte_buffer *out = grpc_raw_byte_buffer_create(&body, 1);
        int cancelled = 0;
        grpc_op ops2[3] = {{.op = GRPC_OP_SEND_MESSAGE}, {.op = GRPC_OP_SEND_STATUS_FROM_SERVER},
                           {.op = GRPC_OP_RECV_CLOSE_ON_SERVER}};
        ops2[0].data.send_message.send_message = out;
        ops2[1].data.send_status_from_server.status = GRPC_STATUS_OK;
        ops2[2].data.recv_close_on_server.cancelled = &cancelled;
        ck_assert_int_eq(grpc_call_start_batch(call, ops2, 3, (void *)TAG_BATCH, NULL), GRPC_CALL_OK);
        wait_tag(s, TAG_BATCH, &ok);
        grpc_byte_buffer_destroy(out);
        grpc_call_unref(call);
        grpc_call_details_destroy(&d);
        grpc_metadata_array_destroy(&md);
        atomic_fetch_add(&s->served, 1);
    }
}

static void server_start(tserver_t *s, grpc_server_credentials *creds)
{
    memset(s, 0, sizeof(*s));
    grpc_init();
    s->cq = grpc_completion_queue_create_for_next(NULL);
    s->srv = grpc_server_create(NULL, NULL);
    grpc_server_register_completion_queue(s->srv, s->cq, NULL);
    s->port = grpc_server_add_http2_port(s->srv, "127.0.0.1:0", creds);
    ck_assert_int_gt(s->port, 0);
    grpc_server_start(s->srv);
    ck_assert_int_eq(pthread_create(&s->th, NULL, serve, s), 0);
}

static void server_stop(tserver_t *s)
{
    atomic_store(&s->stop, 1);
    grpc_server_shutdown_and_notify(s->srv, s->cq, (void *)TAG_SHUT);
    grpc_server_cancel_all_calls(s->srv);
    pthread_join(s->th, NULL);
    int ok;
    if (!atomic_load(&s->shut_seen))
        wait_tag(s, TAG_SHUT, &ok);
    grpc_server_destroy(s->srv);
    grpc_completion_queue_shutdown(s->cq);
    while (grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type != GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(s->cq);
    grpc_shutdown();
}

/* A CA and two serving certificates, for a.test and b.test. */
typedef struct pki {
    char *ca_path;
    char *cert[2], *key[2];
} pki_t;

static void pki_make(pki_t *p, char *dir)
{
    char err[256];
    time_t now = time(NULL);
    EVP_PKEY *ck = mesh_pki_key_generate_p256();
    mesh_pki_cert_spec_t cs = {"test root", NULL, 0, 1, -1, now - 60, now + 3600};
    X509 *ca = mesh_pki_cert_make(&cs, ck, NULL, ck, err, sizeof(err));
    ck_assert_ptr_nonnull(ca);
    static const char *const names[2][1] = {{"a.test"}, {"b.test"}};
    for (int i = 0; i < 2; i++) {
        EVP_PKEY *k = mesh_pki_key_generate_p256();
        mesh_pki_cert_spec_t ls = {names[i][0], names[i], 1, 0, -1, now - 60, now + 3600};
        X509 *c = mesh_pki_cert_make(&ls, k, ca, ck, err, sizeof(err));
        ck_assert_ptr_nonnull(c);
        p->cert[i] = mesh_pki_cert_pem(c, NULL);
        p->key[i] = mesh_pki_key_pem(k, NULL);
        X509_free(c);
        EVP_PKEY_free(k);
    }
    char *ca_pem = mesh_pki_cert_pem(ca, NULL);
    size_t n = strlen(dir) + 16;
    p->ca_path = mesh_malloc(n);
    snprintf(p->ca_path, n, "%s/ca.pem", dir);
    ck_assert_int_eq(mesh_pki_write_file(p->ca_path, ca_pem, strlen(ca_pem), 0600), 0);
    mesh_free(ca_pem);
    X509_free(ca);
    EVP_PKEY_free(ck);
}

static void pki_free(pki_t *p)
{
    unlink(p->ca_path);
    mesh_free(p->ca_path);
    for (int i = 0; i < 2; i++) {
        mesh_free(p->cert[i]);
        mesh_free(p->key[i]);
    }
}

static mesh_grpc_client_t *client(const pki_t *p, int port, const char *name)
{
    char target[64];
    snprintf(target, sizeof(target), "127.0.0.1:%d", port);
    mesh_grpc_client_config_t cfg = {.target = target, .tls_root_ca_file = p->ca_path, .tls_server_name = name};
    mesh_grpc_client_t *c = NULL;
    ck_assert_int_eq(mesh_grpc_client_new(&cfg, &c), 0);
    return c;
}

static int call(mesh_grpc_client_t *c, const char *method)
{
    mesh_grpc_result_t res;
    int rc = mesh_grpc_client_unary(c, method, "x", 1, 5000, &res);
    if (rc != 0)
        return -1000 + rc;
    int code = res.code;
    if (code == 0 && (res.len != 2 || memcmp(res.body, "ok", 2) != 0))
        code = -1;
    mesh_grpc_result_free(&res);
    return code;
}

typedef struct slow_call {
    mesh_grpc_client_t *c;
    int code;
} slow_call_t;

static void *run_slow(void *arg)
{
    slow_call_t *sc = arg;
    sc->code = call(sc->c, "/t.T/Slow");
    return NULL;
}

START_TEST(test_reload_swaps_without_restart)
{
    char dir[] = "/tmp/reload-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    pki_t p;
    pki_make(&p, dir);
    mesh_grpc_reload_t *r = NULL;
    ck_assert_int_eq(mesh_grpc_reload_new(p.cert[0], p.key[0], &r), 0);
    grpc_server_credentials *creds = mesh_grpc_creds_reloadable(r);
    ck_assert_ptr_nonnull(creds);
    tserver_t s;
    server_start(&s, creds);
    grpc_server_credentials_release(creds);
    ck_assert_uint_eq(mesh_grpc_reload_delivered(r), 1);

    mesh_grpc_client_t *a = client(&p, s.port, "a.test");
    ck_assert_int_eq(call(a, "/t.T/Fast"), 0);
    /* Before the swap, b.test is not the server's name. */
    mesh_grpc_client_t *b0 = client(&p, s.port, "b.test");
    ck_assert_int_ne(call(b0, "/t.T/Fast"), 0);
    mesh_grpc_client_free(b0);

    /* A call in flight on the a.test connection while the pair is swapped. */
    slow_call_t sc = {a, -99};
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, run_slow, &sc), 0);
    usleep(SLOW_MS * 1000 / 3);
    /* A mismatched pair is refused and changes nothing. */
    ck_assert_int_eq(mesh_grpc_reload_set(r, p.cert[1], p.key[0]), MESH_GRPC_ETLS);
    ck_assert_int_eq(mesh_grpc_reload_set(r, "not pem", p.key[1]), MESH_GRPC_ETLS);
    ck_assert_int_eq(mesh_grpc_reload_set(r, p.cert[1], p.key[1]), 0);
    pthread_join(th, NULL);
    ck_assert_int_eq(sc.code, 0);
    /* The established connection keeps working... */
    ck_assert_int_eq(call(a, "/t.T/Fast"), 0);
    /* ...and a new one is served the new certificate. */
    mesh_grpc_client_t *b = client(&p, s.port, "b.test");
    ck_assert_int_eq(call(b, "/t.T/Fast"), 0);
    ck_assert_uint_eq(mesh_grpc_reload_delivered(r), 2);

    mesh_grpc_client_free(a);
    mesh_grpc_client_free(b);
    server_stop(&s);
    mesh_grpc_reload_free(r);
    pki_free(&p);
    rmdir(dir);
}
END_TEST

START_TEST(test_reload_refuses_bad_input)
{
    mesh_grpc_reload_t *r = (mesh_grpc_reload_t *)1;
    ck_assert_int_eq(mesh_grpc_reload_new(NULL, "x", &r), MESH_GRPC_EINVAL);
    ck_assert_ptr_null(r);
    ck_assert_int_eq(mesh_grpc_reload_new("x", "y", &r), MESH_GRPC_ETLS);
    ck_assert_ptr_null(r);
    ck_assert_int_eq(mesh_grpc_reload_set(NULL, "x", "y"), MESH_GRPC_EINVAL);
    ck_assert_ptr_null(mesh_grpc_creds_reloadable(NULL));
    mesh_grpc_reload_free(NULL);
}
END_TEST

Suite *grpc_reload_suite(void)
{
    Suite *s = suite_create("grpc_reload");
    TCase *tc = tcase_create("reload");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_reload_swaps_without_restart);
    tcase_add_test(tc, test_reload_refuses_bad_input);
    suite_add_tcase(s, tc);
    return s;
}
