/*
 * The admission path alone, without HTTP or TLS: wh_review_handle on one
 * AdmissionReview (decode, decide, build the patch, encode the reply) with
 * the chart's default values and a namespace that opts in.
 *
 *   webhook_review REVIEWFILE ANCHORSFILE SECONDS
 * prints: reviews=N seconds=S us_per_review=X reply_bytes=B result=R
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mesh/mem.h"
#include "wh/review.h"
#include "wh/values.h"

static json_t *ns_annotations(void *ud, const char *ns)
{
    (void)ud;
    (void)ns;
    return json_pack("{s:s}", "linkerd.io/inject", "enabled");
}

static json_t *owner_metadata(void *ud, const char *kind, const char *ns, const char *name)
{
    (void)ud;
    (void)kind;
    (void)ns;
    (void)name;
    return NULL;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b == NULL || fread(b, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        free(b);
        return NULL;
    }
    fclose(f);
    b[n] = '\0';
    *len = (size_t)n;
    return b;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: webhook_review REVIEWFILE ANCHORSFILE SECONDS\n");
        return 2;
    }
    size_t blen, alen;
    char *body = slurp(argv[1], &blen), *anchors = slurp(argv[2], &alen);
    double secs = atof(argv[3]);
    if (body == NULL || anchors == NULL || secs <= 0) {
        fprintf(stderr, "webhook_review: cannot read the inputs\n");
        return 2;
    }
    wh_values_t v;
    char err[256];
    if (wh_values_load_file(&v, NULL, err, sizeof err) < 0 || wh_values_set_anchors(&v, anchors) < 0) {
        fprintf(stderr, "webhook_review: values: %s\n", err);
        return 2;
    }
    v.control_plane_ns = "linkerd";
    wh_lookup_t lk = {.ns_annotations = ns_annotations, .owner_metadata = owner_metadata};
    size_t n = 0, bytes = 0;
    const char *result = "";
    double t0 = now(), t;
    do {
        for (int i = 0; i < 100; i++) {
            wh_review_reply_t r;
            if (wh_review_handle(&v, &lk, "cmesh/proxy-injector bench", body, blen, &r) != 0) {
                fprintf(stderr, "webhook_review: out of memory\n");
                return 1;
            }
            bytes = r.body_len;
            result = wh_review_result_name(r.result);
            wh_review_reply_free(&r);
            n++;
        }
        t = now() - t0;
    } while (t < secs);
    printf("reviews=%zu seconds=%.2f us_per_review=%.1f reply_bytes=%zu result=%s\n", n, t,
           t * 1e6 / (double)n, bytes, result);
    wh_values_free(&v);
    free(body);
    free(anchors);
    return 0;
}
