/* pool.c - an ordered pipeline of jobs on worker threads (see pool.h). */
#define _GNU_SOURCE /* sched_getaffinity */
#include "pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

enum { FREE, QUEUED, TAKEN, DONE };

struct nbr_pool {
    pthread_mutex_t lock;
    pthread_cond_t work, done;
    pthread_t threads[NBR_POOL_MAX_WORKERS];
    int workers, stop;
    char *jobs;
    int *states;
    size_t job_size, slots;
    size_t head, tail; /* jobs [head, tail) in flight, modulo slots */
    size_t taken;      /* the next queued job to run */
    nbr_pool_run run;
    const void *context;
};

static void *job_at(const nbr_pool *p, size_t n)
{
    return p->jobs + (n % p->slots) * p->job_size;
}

/* Runs the next queued job, for a worker or for the calling thread alike.
 * Called with the lock held, which it releases while the job runs. */
static void run_next(nbr_pool *p)
{
    size_t n = p->taken++;
    p->states[n % p->slots] = TAKEN;
    pthread_mutex_unlock(&p->lock);
    p->run(p->context, job_at(p, n));
    pthread_mutex_lock(&p->lock);
    p->states[n % p->slots] = DONE;
    pthread_cond_broadcast(&p->done);
}

static void *worker(void *arg)
{
    nbr_pool *p = arg;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->stop && p->taken == p->tail) pthread_cond_wait(&p->work, &p->lock);
        if (p->taken == p->tail) break; /* stopping, nothing left */
        run_next(p);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* The CPUs this thread may run on (taskset, Slurm, containers narrow them),
 * else the machine's. */
static long usable_cpus(void)
{
#ifdef CPU_COUNT
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
#endif
    return sysconf(_SC_NPROCESSORS_ONLN);
}

/* One per CPU was slower on 2 cores (2.18 against 2.68 GB/s for 1 GiB of
 * new float64, benchmarks/results/store-write-lz4-workers.json): three
 * threads taking turns on two; on one CPU a worker only takes turns with
 * the calling thread. */
long nbr_pool_default_workers(void)
{
    long n = usable_cpus() - 1;
    return n < 0 ? 0 : n > NBR_POOL_MAX_WORKERS ? NBR_POOL_MAX_WORKERS : n;
}

nbr_status nbr_pool_start(nbr_pool **out, long workers, size_t slots, size_t job_size,
                          nbr_pool_run run, const void *context)
{
    *out = NULL;
    if (slots == 0 || job_size == 0) return nbr_fail(NBR_EINVAL, "a pool needs room for jobs");
    nbr_pool *p = calloc(1, sizeof *p);
    if (p) {
        p->jobs = calloc(slots, job_size);
        p->states = calloc(slots, sizeof *p->states);
    }
    if (!p || !p->jobs || !p->states) {
        if (p) free(p->jobs), free(p->states);
        free(p);
        return nbr_fail_nomem("starting worker threads");
    }
    bool lock = pthread_mutex_init(&p->lock, NULL) == 0;
    bool work = lock && pthread_cond_init(&p->work, NULL) == 0;
    bool done = work && pthread_cond_init(&p->done, NULL) == 0;
    if (!done) { /* not seen with default attributes on Linux */
        if (work) pthread_cond_destroy(&p->work);
        if (lock) pthread_mutex_destroy(&p->lock);
        free(p->jobs);
        free(p->states);
        free(p);
        return nbr_fail(NBR_ERROR, "starting worker threads: no lock or condition variable");
    }
    p->job_size = job_size;
    p->slots = slots;
    p->run = run;
    p->context = context;
    if (workers > NBR_POOL_MAX_WORKERS) workers = NBR_POOL_MAX_WORKERS;
    for (long i = 0; i < workers; i++) {
        if (pthread_create(&p->threads[p->workers], NULL, worker, p) != 0) break;
        p->workers++;
    }
    *out = p;
    return NBR_OK;
}

void *nbr_pool_next(nbr_pool *p)
{
    return p->tail - p->head < p->slots ? job_at(p, p->tail) : NULL;
}

void nbr_pool_queue(nbr_pool *p)
{
    size_t n = p->tail;
    if (p->workers == 0) {
        p->run(p->context, job_at(p, n));
        p->states[n % p->slots] = DONE;
        p->taken = p->tail = n + 1;
        return;
    }
    pthread_mutex_lock(&p->lock);
    p->states[n % p->slots] = QUEUED;
    p->tail = n + 1;
    pthread_cond_signal(&p->work);
    pthread_mutex_unlock(&p->lock);
}

void *nbr_pool_oldest(nbr_pool *p)
{
    if (p->head == p->tail) return NULL;
    int *state = &p->states[p->head % p->slots];
    pthread_mutex_lock(&p->lock);
    /* Rather than wait, run queued jobs here: this thread has done its own
     * part and has time the workers need. */
    while (*state != DONE) {
        if (p->taken == p->tail)
            pthread_cond_wait(&p->done, &p->lock);
        else
            run_next(p);
    }
    pthread_mutex_unlock(&p->lock);
    return job_at(p, p->head);
}

void nbr_pool_retire(nbr_pool *p)
{
    p->states[p->head % p->slots] = FREE;
    p->head++;
}

size_t nbr_pool_in_flight(const nbr_pool *p)
{
    return p->tail - p->head;
}

void *nbr_pool_in_flight_job(nbr_pool *p, size_t i)
{
    return job_at(p, p->head + i);
}

void nbr_pool_stop(nbr_pool *p, void (*release)(void *job))
{
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    p->stop = 1;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->workers; i++) pthread_join(p->threads[i], NULL);
    for (size_t i = 0; release && i < p->slots; i++) release(p->jobs + i * p->job_size);
    pthread_cond_destroy(&p->done);
    pthread_cond_destroy(&p->work);
    pthread_mutex_destroy(&p->lock);
    free(p->states);
    free(p->jobs);
    free(p);
}
