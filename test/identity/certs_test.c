/* `cmesh certs generate`: files, chains, names and lifetimes. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/x509v3.h>

#include "id/devpki.h"
#include "mesh/duration.h"
#include "id/ca.h"
#include "mesh/mem.h"
#include "mesh/pki.h"

static int run(id_devpki_opts_t *opts, char **out, char **err)
{
    size_t on = 0, en = 0;
    FILE *o = open_memstream(out, &on), *e = open_memstream(err, &en);
    int rc = id_devpki_generate(opts, o, e);
    fclose(o);
    fclose(e);
    return rc;
}

static X509 *load1(const char *dir, const char *name)
{
    char path[512], err[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    STACK_OF(X509) *s = mesh_pki_certs_load(path, err, sizeof(err));
    ck_assert_msg(s != NULL, "%s", err);
    X509 *c = sk_X509_shift(s);
    sk_X509_pop_free(s, X509_free);
    return c;
}

static void rm_tree(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

START_TEST(test_certs_generate)
{
    char dir[] = "/tmp/certs-test-XXXXXX", out_dir[300], path[400], err[256];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(out_dir, sizeof(out_dir), "%s/pki", dir);
    char *out, *errs;
    id_devpki_opts_t o = {out_dir, "cluster.local", "mesh", 8760 * MESH_NS_PER_HOUR,
                          48 * MESH_NS_PER_HOUR, 8760 * MESH_NS_PER_HOUR, false};
    int rc = run(&o, &out, &errs);
    ck_assert_msg(rc == 0, "rc %d: %s", rc, errs);
    ck_assert_msg(strstr(out, "lifetime 8760h") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "lifetime 48h") != NULL, "%s", out);
    free(out);
    free(errs);

    X509 *anchor = load1(out_dir, "ca-bundle.crt");
    X509 *dst = load1(out_dir, "destination/crt.pem");
    X509 *wh = load1(out_dir, "webhook/crt.pem");
    STACK_OF(X509) *anchors = sk_X509_new_null();
    sk_X509_push(anchors, anchor);
    /* The issuer loads as the identity service would load it. */
    snprintf(path, sizeof(path), "%s/issuer", out_dir);
    char bundle[400];
    snprintf(bundle, sizeof(bundle), "%s/ca-bundle.crt", out_dir);
    id_issuer_t *iss = NULL;
    ck_assert_msg(id_issuer_load(path, ID_SCHEME_LINKERD, bundle, time(NULL), &iss, err, sizeof(err)) == 0,
                  "%s", err);
    time_t now = time(NULL);
    ck_assert(labs((long)(id_issuer_not_after(iss) - (now + 48 * 3600))) < 10);
    STACK_OF(X509) *chain = sk_X509_new_null();
    sk_X509_push(chain, id_issuer_cert(iss));
    ck_assert_msg(mesh_pki_verify(dst, chain, anchors, 0, err, sizeof(err)) == 0, "%s", err);
    ck_assert_msg(mesh_pki_verify(wh, NULL, anchors, 0, err, sizeof(err)) == 0, "%s", err);
    sk_X509_free(chain);
    ck_assert_int_eq(X509_check_host(dst, "cmesh-destination.mesh.serviceaccount.identity.mesh.cluster.local", 0, 0, NULL), 1);
    ck_assert_int_eq(X509_check_host(wh, "cmesh-webhook.mesh.svc", 0, 0, NULL), 1);
    ck_assert(mesh_pki_is_ca(anchor));
    ck_assert(!mesh_pki_is_ca(dst));
    /* The serving certs are capped by the issuer's lifetime. */
    ck_assert(mesh_pki_not_after(dst) <= id_issuer_not_after(iss));
    /* Keys are private and match. */
    struct stat st;
    snprintf(path, sizeof(path), "%s/issuer/key.pem", out_dir);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    snprintf(path, sizeof(path), "%s/destination/key.pem", out_dir);
    EVP_PKEY *dk = mesh_pki_key_load(path, err, sizeof(err));
    ck_assert(mesh_pki_key_matches(dst, dk));
    ck_assert(mesh_pki_key_is_p256(dk));
    EVP_PKEY_free(dk);

    /* A second run refuses to overwrite; --force replaces. */
    ck_assert_int_eq(run(&o, &out, &errs), 1);
    ck_assert_ptr_nonnull(strstr(errs, "--force"));
    free(out);
    free(errs);
    o.force = true;
    ck_assert_int_eq(run(&o, &out, &errs), 0);
    free(out);
    free(errs);
    X509 *anchor2 = load1(out_dir, "ca-bundle.crt");
    ck_assert_int_ne(X509_cmp(anchor, anchor2), 0);
    X509_free(anchor2);

    id_issuer_unref(iss);
    sk_X509_pop_free(anchors, X509_free);
    X509_free(dst);
    X509_free(wh);
    rm_tree(dir);
}
END_TEST

Suite *certs_suite(void)
{
    Suite *s = suite_create("certs");
    TCase *tc = tcase_create("generate");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_certs_generate);
    suite_add_tcase(s, tc);
    return s;
}
