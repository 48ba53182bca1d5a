/* Kubeconfig and in-cluster configuration, token refresh. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mesh/k8s_config.h"
#include "mesh/mem.h"

static char dir[64];

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/cmesh-k8scfg-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static void put(const char *name, const char *text)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static mesh_k8s_config_t *load(const char *text, char *err, size_t errlen)
{
    put("config", text);
    char p[256];
    snprintf(p, sizeof(p), "%s/config", dir);
    mesh_k8s_config_t *c = NULL;
    if (mesh_k8s_config_from_kubeconfig(p, NULL, &c, err, errlen) != 0)
        return NULL;
    return c;
}

#define KC_HEAD                                                                          \
    "apiVersion: v1\nkind: Config\ncurrent-context: dev\n"                               \
    "contexts:\n- name: other\n  context: {cluster: c2, user: u2}\n"                     \
    "- name: dev\n  context:\n    cluster: c1\n    user: u1\n    namespace: team\n"

START_TEST(test_config_kubeconfig_token_and_ca_data)
{
    char err[512];
    /* "-----BEGIN CERTIFICATE-----\n" in base64 */
    mesh_k8s_config_t *c = load(KC_HEAD
                                "clusters:\n- name: c1\n  cluster:\n    server: https://10.0.0.1:6443/\n"
                                "    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==\n"
                                "users:\n- name: u1\n  user:\n    token: abc.def\n",
                                err, sizeof(err));
    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_str_eq(c->server, "https://10.0.0.1:6443");
    ck_assert_str_eq(c->ns, "team");
    ck_assert_str_eq(c->ca_pem, "-----BEGIN CERTIFICATE-----\n");
    ck_assert_uint_eq(c->ca_pem_len, 28);
    ck_assert_int_eq(c->insecure, 0);
    char *tok;
    ck_assert_int_eq(mesh_k8s_config_token(c, &tok, err, sizeof(err)), 0);
    ck_assert_str_eq(tok, "abc.def");
    mesh_free(tok);
    mesh_k8s_config_free(c);
}
END_TEST

START_TEST(test_config_kubeconfig_files_and_certs)
{
    char err[512];
    put("tok", "from-file\n");
    mesh_k8s_config_t *c = load(KC_HEAD
                                "clusters:\n- name: c1\n  cluster:\n    server: https://h:1\n"
                                "    certificate-authority: ca.pem\n"
                                "users:\n- name: u1\n  user:\n    token: static\n    tokenFile: tok\n"
                                "    client-certificate: /abs/cert.pem\n"
                                "    client-key-data: a2V5\n",
                                err, sizeof(err));
    ck_assert_msg(c != NULL, "%s", err);
    char want[256];
    snprintf(want, sizeof(want), "%s/ca.pem", dir); /* relative to the kubeconfig */
    ck_assert_str_eq(c->ca_file, want);
    ck_assert_str_eq(c->client_cert_file, "/abs/cert.pem");
    ck_assert_str_eq(c->client_key_pem, "key");
    char *tok;
    ck_assert_int_eq(mesh_k8s_config_token(c, &tok, err, sizeof(err)), 0);
    ck_assert_str_eq(tok, "from-file"); /* tokenFile wins over token */
    mesh_free(tok);
    /* Cached: a new file content is not seen until the period passes or a 401. */
    put("tok", "rotated\n");
    ck_assert_int_eq(mesh_k8s_config_token(c, &tok, err, sizeof(err)), 0);
    ck_assert_str_eq(tok, "from-file");
    mesh_free(tok);
    mesh_k8s_config_token_invalidate(c);
    ck_assert_int_eq(mesh_k8s_config_token(c, &tok, err, sizeof(err)), 0);
    ck_assert_str_eq(tok, "rotated");
    mesh_free(tok);
    put("tok", "third\n");
    c->token_refresh_ms = 1; /* the period elapses */
    usleep(5000);
    ck_assert_int_eq(mesh_k8s_config_token(c, &tok, err, sizeof(err)), 0);
    ck_assert_str_eq(tok, "third");
    mesh_free(tok);
    /* A vanished file keeps the last good token. */
    char p[256];
    snprintf(p, sizeof(p), "%s/tok", dir);
    unlink(p);
    usleep(5000);
    ck_assert_int_eq(mesh_k8s_config_token(c, &tok, err, sizeof(err)), 0);
    ck_assert_str_eq(tok, "third");
    mesh_free(tok);
    mesh_k8s_config_free(c);
}
END_TEST

START_TEST(test_config_kubeconfig_errors)
{
    char err[512];
    ck_assert_ptr_null(load("apiVersion: v1\nclusters: []\n", err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "current-context"));
    ck_assert_ptr_null(load("current-context: x\ncontexts: []\n", err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "context \"x\" not found"));
    ck_assert_ptr_null(load(KC_HEAD "clusters: []\n", err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "cluster \"c1\" not found"));
    ck_assert_ptr_null(load(KC_HEAD "clusters:\n- name: c1\n  cluster: {insecure-skip-tls-verify: true}\n", err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "has no server"));
    ck_assert_ptr_null(load(KC_HEAD "clusters:\n- name: c1\n  cluster: {server: 'https://x', insecure-skip-tls-verify: true, "
                                    "certificate-authority: ca}\n", err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "cannot be combined"));
    ck_assert_ptr_null(load(KC_HEAD "clusters:\n- name: c1\n  cluster: {server: 'https://x', certificate-authority-data: '***'}\n",
                            err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "certificate-authority-data is not valid base64"));
    ck_assert_ptr_null(load(KC_HEAD "clusters:\n- name: c1\n  cluster: {server: 'https://x'}\nusers: []\n", err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "user \"u1\" not found"));
    ck_assert_ptr_null(load(KC_HEAD "clusters:\n- name: c1\n  cluster: {server: 'https://x'}\n"
                                    "users:\n- name: u1\n  user: {exec: {command: aws}}\n", err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "exec is not supported"));
    ck_assert_ptr_null(load(KC_HEAD "clusters:\n- name: c1\n  cluster: {server: 'https://x'}\n"
                                    "users:\n- name: u1\n  user: {client-certificate: c.pem}\n", err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "client-certificate without client-key"));
    ck_assert_ptr_null(load("a: [unclosed\n", err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "line"));
    ck_assert_ptr_null(load("- just\n- a list\n", err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "not a YAML mapping"));
    /* An explicit context overrides current-context. */
    put("config", KC_HEAD "clusters:\n- name: c2\n  cluster: {server: 'http://other:8080'}\n"
                  "users:\n- name: u2\n  user: {}\n");
    char p[256];
    snprintf(p, sizeof(p), "%s/config", dir);
    mesh_k8s_config_t *c = NULL;
    ck_assert_int_eq(mesh_k8s_config_from_kubeconfig(p, "other", &c, err, sizeof(err)), 0);
    ck_assert_str_eq(c->server, "http://other:8080");
    ck_assert_str_eq(c->ns, "default");
    mesh_k8s_config_free(c);
}
END_TEST

START_TEST(test_config_in_cluster)
{
    char err[512];
    mesh_k8s_config_t *c = NULL;
    mesh_k8s_incluster_opts_t o = {.sa_dir = dir, .host = "10.96.0.1", .port = "443"};
    ck_assert_int_eq(mesh_k8s_config_in_cluster(&o, &c, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "/token")); /* names the missing file */
    put("token", "sa-token\n");
    ck_assert_int_eq(mesh_k8s_config_in_cluster(&o, &c, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "ca.crt"));
    put("ca.crt", "PEM");
    put("namespace", "linkerd\n");
    unsetenv("POD_NAMESPACE");
    ck_assert_int_eq(mesh_k8s_config_in_cluster(&o, &c, err, sizeof(err)), 0);
    ck_assert_str_eq(c->server, "https://10.96.0.1:443");
    ck_assert_str_eq(c->ns, "linkerd");
    char want[256];
    snprintf(want, sizeof(want), "%s/ca.crt", dir);
    ck_assert_str_eq(c->ca_file, want);
    char *tok;
    ck_assert_int_eq(mesh_k8s_config_token(c, &tok, err, sizeof(err)), 0);
    ck_assert_str_eq(tok, "sa-token");
    mesh_free(tok);
    ck_assert_uint_eq(c->token_refresh_ms, MESH_K8S_TOKEN_REFRESH_MS);
    mesh_k8s_config_free(c);
    mesh_k8s_incluster_opts_t v6 = {.sa_dir = dir, .host = "fd00::1", .port = "6443"};
    ck_assert_int_eq(mesh_k8s_config_in_cluster(&v6, &c, err, sizeof(err)), 0);
    ck_assert_str_eq(c->server, "https://[fd00::1]:6443");
    mesh_k8s_config_free(c);
    /* Without the service env: not in a cluster. */
    unsetenv("KUBERNETES_SERVICE_HOST");
    mesh_k8s_incluster_opts_t none = {.sa_dir = dir, .port = "443"};
    ck_assert_int_eq(mesh_k8s_config_in_cluster(&none, &c, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "not running in a cluster"));
}
END_TEST

START_TEST(test_config_base64)
{
    char *out;
    size_t n;
    ck_assert_int_eq(mesh_k8s_base64_decode("aGVsbG8=", &out, &n), 0);
    ck_assert_str_eq(out, "hello");
    ck_assert_uint_eq(n, 5);
    mesh_free(out);
    ck_assert_int_eq(mesh_k8s_base64_decode("aGVs\nbG8", &out, &n), 0); /* no padding, newline */
    ck_assert_str_eq(out, "hello");
    mesh_free(out);
    ck_assert_int_eq(mesh_k8s_base64_decode("aGVsbG8=x", &out, &n), -1);
    ck_assert_int_eq(mesh_k8s_base64_decode("a", &out, &n), -1);
    ck_assert_int_eq(mesh_k8s_base64_decode("a$b=", &out, &n), -1);
}
END_TEST

Suite *k8s_config_suite(void)
{
    Suite *s = suite_create("k8s_config");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_config_kubeconfig_token_and_ca_data);
    tcase_add_test(tc, test_config_kubeconfig_files_and_certs);
    tcase_add_test(tc, test_config_kubeconfig_errors);
    tcase_add_test(tc, test_config_in_cluster);
    tcase_add_test(tc, test_config_base64);
    suite_add_tcase(s, tc);
    return s;
}
