/*
 * The handler pool: a fixed number of threads taking jobs in FIFO order.
 * Jobs are intrusive (embedded in the call), so pushing cannot fail and the
 * cq thread never allocates to hand work over.
 */
#include "internal.h"
#include "mesh/log.h"
#include "mesh/mem.h"

static void *worker_main(void *arg)
{
    mesh__grpc_pool_t *p = arg;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (p->head == NULL && !p->quit)
            pthread_cond_wait(&p->cond, &p->lock);
        mesh__grpc_job_t *job = p->head;
        if (job == NULL)
            break; /* quit and drained */
        p->head = job->next;
        if (p->head == NULL)
            p->tail = NULL;
        pthread_mutex_unlock(&p->lock);
        job->fn(job);
        pthread_mutex_lock(&p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

int mesh__grpc_pool_start(mesh__grpc_pool_t *p, size_t n)
{
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    p->head = p->tail = NULL;
    p->quit = false;
    p->nthreads = 0;
    p->threads = mesh_calloc(n, sizeof(*p->threads));
    if (p->threads == NULL)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        if (pthread_create(&p->threads[i], NULL, worker_main, p) != 0) {
            mesh_log_error(MESH_GRPC_LOG, "cannot start handler thread %zu", i);
            goto fail;
        }
        p->nthreads++;
    }
    return 0;
fail:
    mesh__grpc_pool_stop(p);
    return MESH_GRPC_ENOMEM;
}

void mesh__grpc_pool_push(mesh__grpc_pool_t *p, mesh__grpc_job_t *job)
{
    job->next = NULL;
    pthread_mutex_lock(&p->lock);
    if (p->tail)
        p->tail->next = job;
    else
        p->head = job;
    p->tail = job;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

void mesh__grpc_pool_stop(mesh__grpc_pool_t *p)
{
    pthread_mutex_lock(&p->lock);
    p->quit = true;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    for (size_t i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    MESH_FREE(&p->threads);
    p->nthreads = 0;
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->lock);
}
