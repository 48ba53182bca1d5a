/*
 * mesh/k8s_backoff.h - retry pacing for the Kubernetes client: exponential
 * backoff with jitter (the reflector's) and a token-bucket rate limiter.
 *
 * Both are pure: time comes in as an argument or through an injectable clock,
 * and neither sleeps, so tests drive them without waiting.
 */
#ifndef MESH_K8S_BACKOFF_H
#define MESH_K8S_BACKOFF_H

#include <pthread.h>
#include <stdint.h>

/* client-go reflector defaults (kubernetes-api.md §11). */
#define MESH_K8S_BACKOFF_BASE_MS 800
#define MESH_K8S_BACKOFF_MAX_MS 30000
#define MESH_K8S_BACKOFF_JITTER 1.0
#define MESH_K8S_BACKOFF_RESET_MS 120000

typedef uint64_t (*mesh_k8s_clock_fn)(void *ud); /* monotonic ms */
typedef double (*mesh_k8s_rand_fn)(void *ud);    /* uniform in [0, 1) */

/*
 * Delay n (0-based) after the last reset is d_n = min(base * 2^n, max), and
 * the value returned is d_n + jitter * r * d_n with r from rand(): with jitter
 * 1.0 it lies in [d_n, 2 d_n). The step goes back to 0 when reset_ms passed
 * since the previous failure (the reflector's rule) or on
 * mesh_k8s_backoff_success(). Not thread-safe; one per retry loop.
 */
typedef struct {
    uint64_t base_ms, max_ms, reset_ms;
    double jitter;
    mesh_k8s_clock_fn clock; /* NULL = mesh_k8s_now_ms */
    mesh_k8s_rand_fn rand;   /* NULL = a per-backoff xorshift generator */
    void *ud;                /* for clock and rand */
    uint64_t _cur_ms;        /* d_n for the next failure; 0 = base */
    uint64_t _last_fail_ms;  /* clock at the previous failure; 0 = none */
    uint64_t _rng;           /* state of the default generator */
} mesh_k8s_backoff_t;

/* Zero fields in `b` get the reflector defaults above. */
void mesh_k8s_backoff_init(mesh_k8s_backoff_t *b);
/* Records a failure and returns how long to wait before the next attempt. */
uint64_t mesh_k8s_backoff_next(mesh_k8s_backoff_t *b);
/* An attempt made progress: the next failure waits the base delay again. */
void mesh_k8s_backoff_success(mesh_k8s_backoff_t *b);

/* Token bucket: `burst` tokens, refilled at `qps` per second. Thread-safe. */
#define MESH_K8S_QPS_DEFAULT 5.0
#define MESH_K8S_BURST_DEFAULT 10
typedef struct {
    double qps;      /* <= 0: unlimited */
    double burst;
    double _tokens;  /* may go negative: reservations already handed out */
    uint64_t _last_us;
    pthread_mutex_t _lock;
} mesh_k8s_ratelimit_t;

void mesh_k8s_ratelimit_init(mesh_k8s_ratelimit_t *rl, double qps, int burst);
void mesh_k8s_ratelimit_destroy(mesh_k8s_ratelimit_t *rl);
/* Takes one token at time now_us (monotonic microseconds) and returns how many
 * microseconds the caller must wait before using it (0 = go now). Waiting
 * callers queue in order: each reservation pushes the next one later. */
uint64_t mesh_k8s_ratelimit_reserve(mesh_k8s_ratelimit_t *rl, uint64_t now_us);

#endif
