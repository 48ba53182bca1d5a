/* Admin server on loopback: built-in endpoints, readiness, handlers, stop. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mesh/admin.h"

typedef struct {
    int status;
    char headers[2048];
    char body[8192];
} reply_t;

/* One HTTP/1.0 exchange over a raw socket; returns 0 or -1 (connect failed). */
static int http(uint16_t port, const char *method, const char *path, const char *body, reply_t *out)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
        close(fd);
        return -1;
    }
    char req[1024];
    int n = snprintf(req, sizeof(req), "%s %s HTTP/1.0\r\nHost: x\r\nContent-Length: %zu\r\n\r\n%s", method, path,
                     body ? strlen(body) : 0, body ? body : "");
    ck_assert_int_eq(write(fd, req, (size_t)n), n);
    static char raw[16384];
    size_t len = 0;
    ssize_t r;
    while (len < sizeof(raw) - 1 && (r = read(fd, raw + len, sizeof(raw) - 1 - len)) > 0)
        len += (size_t)r;
    raw[len] = '\0';
    close(fd);
    memset(out, 0, sizeof(*out));
    ck_assert_int_eq(sscanf(raw, "HTTP/1.%*d %d", &out->status), 1);
    char *sep = strstr(raw, "\r\n\r\n");
    ck_assert_ptr_nonnull(sep);
    snprintf(out->headers, sizeof(out->headers), "%.*s", (int)(sep - raw), raw);
    snprintf(out->body, sizeof(out->body), "%s", sep + 4);
    return 0;
}

static atomic_bool is_ready;

static bool on_ready(void *ud)
{
    (void)ud;
    return atomic_load(&is_ready);
}

static int on_echo(const mesh_admin_request_t *req, mesh_admin_response_t *resp, void *ud)
{
    const char *q = mesh_admin_query(req, "q");
    resp->content_type = "application/json";
    resp->status = 201;
    return mesh_buf_appendf(&resp->body, "%s %s %s q=%s body=%s local=%d", (const char *)ud, req->method,
                            req->path, q ? q : "-", req->body, mesh_admin_peer_is_loopback(req));
}

static int on_fail(const mesh_admin_request_t *req, mesh_admin_response_t *resp, void *ud)
{
    (void)req, (void)resp, (void)ud;
    return -1;
}

START_TEST(test_admin_endpoints)
{
    mesh_metrics_t *reg = mesh_metrics_new();
    mesh_metrics_inc(mesh_metrics_series(mesh_metrics_counter(reg, "hello_total", "Hellos.", NULL), NULL));
    mesh_admin_t *a = mesh_admin_new(reg);
    mesh_admin_set_ready(a, on_ready, NULL);
    ck_assert_int_eq(mesh_admin_handle(a, "/api/", on_echo, "api"), 0);
    ck_assert_int_eq(mesh_admin_handle(a, "/api/v2/", on_echo, "v2"), 0);
    ck_assert_int_eq(mesh_admin_handle(a, "/boom", on_fail, NULL), 0);
    ck_assert_int_eq(mesh_admin_start(a, "127.0.0.1:0"), 0);
    uint16_t port = mesh_admin_port(a);
    ck_assert_uint_gt(port, 0);
    ck_assert_int_eq(mesh_admin_handle(a, "/late", on_echo, NULL), MESH_ADMIN_ERR_STATE);

    reply_t r;
    ck_assert_int_eq(http(port, "GET", "/metrics", NULL, &r), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strcasestr(r.headers, "Content-Type: text/plain; version=0.0.4"));
    ck_assert_str_eq(r.body, "# HELP hello_total Hellos.\n# TYPE hello_total counter\nhello_total 1\n");

    ck_assert_int_eq(http(port, "GET", "/live", NULL, &r), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "live\n");

    atomic_store(&is_ready, false);
    ck_assert_int_eq(http(port, "GET", "/ready", NULL, &r), 0);
    ck_assert_int_eq(r.status, 503);
    ck_assert_str_eq(r.body, "not ready\n");
    atomic_store(&is_ready, true);
    ck_assert_int_eq(http(port, "GET", "/ready", NULL, &r), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "ready\n");

    ck_assert_int_eq(http(port, "GET", "/nope", NULL, &r), 0);
    ck_assert_int_eq(r.status, 404);
    ck_assert_int_eq(http(port, "GET", "/metricsx", NULL, &r), 0);
    ck_assert_int_eq(r.status, 404);
    ck_assert_int_eq(http(port, "POST", "/live", NULL, &r), 0);
    ck_assert_int_eq(r.status, 405);
    ck_assert_ptr_nonnull(strcasestr(r.headers, "Allow: GET, HEAD"));

    ck_assert_int_eq(http(port, "PUT", "/api/x?q=1", "payload", &r), 0);
    ck_assert_int_eq(r.status, 201);
    ck_assert_ptr_nonnull(strcasestr(r.headers, "Content-Type: application/json"));
    ck_assert_str_eq(r.body, "api PUT /api/x q=1 body=payload local=1");
    ck_assert_int_eq(http(port, "GET", "/api/v2/y", NULL, &r), 0);
    ck_assert_str_eq(r.body, "v2 GET /api/v2/y q=- body= local=1");
    ck_assert_int_eq(http(port, "GET", "/boom", NULL, &r), 0);
    ck_assert_int_eq(r.status, 500);

    mesh_admin_stop(a);
    ck_assert_uint_eq(mesh_admin_port(a), 0);
    ck_assert_int_eq(http(port, "GET", "/live", NULL, &r), -1);
    mesh_admin_free(a);
    mesh_metrics_free(reg);
}
END_TEST

START_TEST(test_admin_bad_addresses)
{
    mesh_admin_t *a = mesh_admin_new(NULL);
    ck_assert_int_eq(mesh_admin_start(a, "nonsense"), MESH_ADMIN_ERR_ADDR);
    ck_assert_int_eq(mesh_admin_start(a, "127.0.0.1:99999"), MESH_ADMIN_ERR_ADDR);
    ck_assert_int_eq(mesh_admin_start(a, "127.0.0.1:0"), 0);
    ck_assert_int_eq(mesh_admin_start(a, "127.0.0.1:0"), MESH_ADMIN_ERR_STATE);
    /* The same port twice: the second bind fails cleanly. */
    mesh_admin_t *b = mesh_admin_new(NULL);
    char addr[32];
    snprintf(addr, sizeof(addr), "127.0.0.1:%u", mesh_admin_port(a));
    ck_assert_int_eq(mesh_admin_start(b, addr), MESH_ADMIN_ERR_BIND);
    /* No registry: /metrics is empty but well-formed. */
    reply_t r;
    ck_assert_int_eq(http(mesh_admin_port(a), "GET", "/metrics", NULL, &r), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "");
    mesh_admin_free(b);
    mesh_admin_free(a);
}
END_TEST

START_TEST(test_admin_stop_releases_socket)
{
    /* Starting and stopping many times must not leak descriptors. */
    int before = dup(0);
    close(before);
    for (int i = 0; i < 20; i++) {
        mesh_admin_t *a = mesh_admin_new(NULL);
        ck_assert_int_eq(mesh_admin_start(a, "127.0.0.1:0"), 0);
        mesh_admin_free(a);
    }
    int after = dup(0);
    close(after);
    ck_assert_int_eq(after, before);
}
END_TEST

Suite *admin_suite(void)
{
    Suite *s = suite_create("admin");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_admin_endpoints);
    tcase_add_test(tc, test_admin_bad_addresses);
    tcase_add_test(tc, test_admin_stop_releases_socket);
    suite_add_tcase(s, tc);
    return s;
}
