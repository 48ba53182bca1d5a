/* Backoff with jitter (injectable clock and random source) and token bucket. */
#include <check.h>

#include "mesh/k8s_backoff.h"

typedef struct {
    uint64_t now;
    double r;
} fake_t;
static uint64_t fclock(void *ud) { return ((fake_t *)ud)->now; }
static double frand(void *ud) { return ((fake_t *)ud)->r; }

START_TEST(test_backoff_sequence_defaults)
{
    fake_t f = {.now = 1000, .r = 0.0};
    mesh_k8s_backoff_t b = {.clock = fclock, .rand = frand, .ud = &f, .jitter = 1.0};
    mesh_k8s_backoff_init(&b);
    /* Reflector numbers: 800 ms, doubling, capped at 30 s. */
    uint64_t want[] = {800, 1600, 3200, 6400, 12800, 25600, 30000, 30000};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        f.now += 10;
        ck_assert_uint_eq(mesh_k8s_backoff_next(&b), want[i]);
    }
    /* Jitter 1.0 with r close to 1 gives just under 2d. */
    mesh_k8s_backoff_success(&b);
    f.r = 0.999;
    ck_assert_uint_eq(mesh_k8s_backoff_next(&b), 800 + 799);
    f.r = 0.5;
    ck_assert_uint_eq(mesh_k8s_backoff_next(&b), 1600 + 800);
}
END_TEST

START_TEST(test_backoff_jitter_bounds_and_reset)
{
    fake_t f = {.now = 5};
    mesh_k8s_backoff_t b = {.base_ms = 10, .max_ms = 100, .jitter = 1.0, .reset_ms = 1000, .clock = fclock, .ud = &f};
    mesh_k8s_backoff_init(&b); /* default random source */
    for (int round = 0; round < 200; round++) {
        uint64_t d = 10;
        for (int i = 0; i < 6; i++) {
            uint64_t got = mesh_k8s_backoff_next(&b);
            ck_assert_uint_ge(got, d);
            ck_assert_uint_lt(got, 2 * d);
            d = d * 2 > 100 ? 100 : d * 2;
        }
        /* No failure for reset_ms: back to the base. */
        f.now += 1000;
        uint64_t got = mesh_k8s_backoff_next(&b);
        ck_assert_uint_ge(got, 10);
        ck_assert_uint_lt(got, 20);
        mesh_k8s_backoff_success(&b);
    }
    /* Failures closer than reset_ms keep growing. */
    mesh_k8s_backoff_success(&b);
    f.now += 999;
    mesh_k8s_backoff_next(&b);
    f.now += 999;
    ck_assert_uint_ge(mesh_k8s_backoff_next(&b), 20);
    /* Jitter 0: exact. */
    mesh_k8s_backoff_t z = {.base_ms = 7, .max_ms = 20, .jitter = 0, .clock = fclock, .ud = &f};
    mesh_k8s_backoff_init(&z);
    ck_assert_uint_eq(mesh_k8s_backoff_next(&z), 7);
    ck_assert_uint_eq(mesh_k8s_backoff_next(&z), 14);
    ck_assert_uint_eq(mesh_k8s_backoff_next(&z), 20);
}
END_TEST

START_TEST(test_ratelimit_bucket)
{
    mesh_k8s_ratelimit_t rl;
    mesh_k8s_ratelimit_init(&rl, 5.0, 10); /* client-go defaults */
    uint64_t t = 1000000;
    for (int i = 0; i < 10; i++)
        ck_assert_uint_eq(mesh_k8s_ratelimit_reserve(&rl, t), 0); /* the burst */
    ck_assert_uint_eq(mesh_k8s_ratelimit_reserve(&rl, t), 200000); /* 1/5 s */
    ck_assert_uint_eq(mesh_k8s_ratelimit_reserve(&rl, t), 400000); /* queued behind */
    t += 2000000; /* 2 s refill 10 tokens, 2 already owed */
    for (int i = 0; i < 8; i++)
        ck_assert_uint_eq(mesh_k8s_ratelimit_reserve(&rl, t), 0);
    ck_assert_uint_gt(mesh_k8s_ratelimit_reserve(&rl, t), 0);
    /* The bucket never holds more than burst. */
    t += 100000000;
    for (int i = 0; i < 10; i++)
        ck_assert_uint_eq(mesh_k8s_ratelimit_reserve(&rl, t), 0);
    ck_assert_uint_gt(mesh_k8s_ratelimit_reserve(&rl, t), 0);
    mesh_k8s_ratelimit_destroy(&rl);
    mesh_k8s_ratelimit_init(&rl, -1, 0); /* unlimited */
    for (int i = 0; i < 1000; i++)
        ck_assert_uint_eq(mesh_k8s_ratelimit_reserve(&rl, t), 0);
    mesh_k8s_ratelimit_destroy(&rl);
}
END_TEST

Suite *k8s_backoff_suite(void)
{
    Suite *s = suite_create("k8s_backoff");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_backoff_sequence_defaults);
    tcase_add_test(tc, test_backoff_jitter_bounds_and_reset);
    tcase_add_test(tc, test_ratelimit_bucket);
    suite_add_tcase(s, tc);
    return s;
}
