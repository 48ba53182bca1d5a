/* Backoff with jitter and a token bucket; see mesh/k8s_backoff.h. */
#include "mesh/k8s_backoff.h"

#include "mesh/k8s_config.h"

void mesh_k8s_backoff_init(mesh_k8s_backoff_t *b)
{
    if (b->base_ms == 0)
        b->base_ms = MESH_K8S_BACKOFF_BASE_MS;
    if (b->max_ms == 0)
        b->max_ms = MESH_K8S_BACKOFF_MAX_MS;
    if (b->max_ms < b->base_ms)
        b->max_ms = b->base_ms;
    if (b->reset_ms == 0)
        b->reset_ms = MESH_K8S_BACKOFF_RESET_MS;
    if (b->jitter < 0)
        b->jitter = 0;
    b->_cur_ms = 0;
    b->_last_fail_ms = 0;
    if (b->_rng == 0)
        b->_rng = (uint64_t)(uintptr_t)b ^ (mesh_k8s_now_ms() * 0x9E3779B97F4A7C15ull) ^ 1;
}

static double default_rand(mesh_k8s_backoff_t *b)
{
    uint64_t x = b->_rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    b->_rng = x;
    return (double)(x >> 11) / (double)(1ull << 53);
}

uint64_t mesh_k8s_backoff_next(mesh_k8s_backoff_t *b)
{
    uint64_t now = b->clock ? b->clock(b->ud) : mesh_k8s_now_ms();
    if (b->_last_fail_ms != 0 && now - b->_last_fail_ms >= b->reset_ms)
        b->_cur_ms = 0;
    b->_last_fail_ms = now ? now : 1;
    uint64_t d = b->_cur_ms ? b->_cur_ms : b->base_ms;
    uint64_t next = d * 2;
    b->_cur_ms = next > b->max_ms ? b->max_ms : next;
    double r = b->rand ? b->rand(b->ud) : default_rand(b);
    if (r < 0)
        r = 0;
    if (r >= 1)
        r = 0.999999;
    return d + (uint64_t)(b->jitter * r * (double)d);
}

void mesh_k8s_backoff_success(mesh_k8s_backoff_t *b)
{
    b->_cur_ms = 0;
}

void mesh_k8s_ratelimit_init(mesh_k8s_ratelimit_t *rl, double qps, int burst)
{
    rl->qps = qps;
    rl->burst = burst > 0 ? burst : 1;
    rl->_tokens = rl->burst;
    rl->_last_us = 0;
    pthread_mutex_init(&rl->_lock, NULL);
}

void mesh_k8s_ratelimit_destroy(mesh_k8s_ratelimit_t *rl)
{
    pthread_mutex_destroy(&rl->_lock);
}

uint64_t mesh_k8s_ratelimit_reserve(mesh_k8s_ratelimit_t *rl, uint64_t now_us)
{
    if (rl->qps <= 0)
        return 0;
    pthread_mutex_lock(&rl->_lock);
    if (rl->_last_us != 0 && now_us > rl->_last_us) {
        rl->_tokens += (double)(now_us - rl->_last_us) * rl->qps / 1e6;
        if (rl->_tokens > rl->burst)
            rl->_tokens = rl->burst;
    }
    if (now_us > rl->_last_us || rl->_last_us == 0)
        rl->_last_us = now_us;
    rl->_tokens -= 1;
    uint64_t wait = 0;
    if (rl->_tokens < 0)
        wait = (uint64_t)(-rl->_tokens * 1e6 / rl->qps + 0.5);
    pthread_mutex_unlock(&rl->_lock);
    return wait;
}
