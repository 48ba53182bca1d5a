/* Bounded per-subscriber queue; see dst/queue.h. */
#include "dst/queue.h"

#include <errno.h>
#include <time.h>

#include "mesh/mem.h"

int dst_queue_init(dst_queue_t *q, size_t capacity)
{
    q->_ring = capacity ? mesh_calloc(capacity, sizeof *q->_ring) : NULL;
    if (q->_ring == NULL)
        return -1;
    q->cap = capacity;
    q->_head = q->n = 0;
    q->closed = 0;
    pthread_mutex_init(&q->_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->_cv, &ca);
    pthread_condattr_destroy(&ca);
    return 0;
}

void dst_queue_destroy(dst_queue_t *q)
{
    for (size_t i = 0; i < q->n; i++)
        dst_blob_unref(q->_ring[(q->_head + i) % q->cap]);
    MESH_FREE(&q->_ring);
    q->n = 0;
    pthread_cond_destroy(&q->_cv);
    pthread_mutex_destroy(&q->_mu);
}

int dst_queue_push(dst_queue_t *q, dst_blob_t *b)
{
    int rc = -1;
    pthread_mutex_lock(&q->_mu);
    if (!q->closed && q->n < q->cap) {
        q->_ring[(q->_head + q->n) % q->cap] = dst_blob_ref(b);
        q->n++;
        rc = 0;
        pthread_cond_signal(&q->_cv);
    }
    pthread_mutex_unlock(&q->_mu);
    return rc;
}

int dst_queue_pop(dst_queue_t *q, dst_blob_t **out, int64_t timeout_ms)
{
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    if (timeout_ms > 0) {
        dl.tv_sec += timeout_ms / 1000;
        dl.tv_nsec += (timeout_ms % 1000) * 1000000;
        if (dl.tv_nsec >= 1000000000) {
            dl.tv_sec++;
            dl.tv_nsec -= 1000000000;
        }
    }
    int rc;
    pthread_mutex_lock(&q->_mu);
    while (q->n == 0 && !q->closed) {
        if (timeout_ms == 0)
            break;
        if (timeout_ms < 0)
            pthread_cond_wait(&q->_cv, &q->_mu);
        else if (pthread_cond_timedwait(&q->_cv, &q->_mu, &dl) == ETIMEDOUT)
            break;
    }
    if (q->n > 0) {
        *out = q->_ring[q->_head];
        q->_head = (q->_head + 1) % q->cap;
        q->n--;
        rc = 1;
    } else {
        rc = q->closed ? -1 : 0;
    }
    pthread_mutex_unlock(&q->_mu);
    return rc;
}

void dst_queue_close(dst_queue_t *q)
{
    pthread_mutex_lock(&q->_mu);
    q->closed = 1;
    pthread_cond_broadcast(&q->_cv);
    pthread_mutex_unlock(&q->_mu);
}

size_t dst_queue_len(dst_queue_t *q)
{
    pthread_mutex_lock(&q->_mu);
    size_t n = q->n;
    pthread_mutex_unlock(&q->_mu);
    return n;
}
