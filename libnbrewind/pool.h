/* pool.h - an ordered pipeline of jobs on worker threads (private).
 *
 * The calling thread fills jobs in order (nbr_pool_next, nbr_pool_queue);
 * worker threads run them, several at once and in any order; the calling
 * thread takes them back in the order it queued them (nbr_pool_oldest,
 * nbr_pool_retire), running queued jobs itself rather than wait.  Jobs are
 * the caller's structs, `job_size` bytes each, in a fixed ring of slots that
 * start zeroed and keep whatever a retired job left in them (buffers to
 * reuse).  Only the calling thread touches the pool; the run callback gets
 * its own job and the shared, read-only context, so it must not call
 * anything that sets the thread's last error. */
#ifndef NBR_POOL_H
#define NBR_POOL_H

#include <stddef.h>

#include "error.h"

#define NBR_POOL_MAX_WORKERS 16

typedef struct nbr_pool nbr_pool;

typedef void (*nbr_pool_run)(const void *context, void *job);

/* Threads that would run jobs beside the calling thread, which has work of
 * its own: one per CPU this thread may use but one (at most
 * NBR_POOL_MAX_WORKERS). */
long nbr_pool_default_workers(void);

/* A pool of `slots` jobs and up to `workers` threads (fewer if threads
 * cannot be had; with none, nbr_pool_queue runs each job at once).  The
 * caller owns *out and frees it with nbr_pool_stop. */
nbr_status nbr_pool_start(nbr_pool **out, long workers, size_t slots, size_t job_size,
                          nbr_pool_run run, const void *context);

/* The slot for the next job, or NULL while every slot is in flight (retire
 * the oldest first). */
void *nbr_pool_next(nbr_pool *pool);

/* Hands the job nbr_pool_next gave to the workers. */
void nbr_pool_queue(nbr_pool *pool);

/* The oldest job in flight once it has run, or NULL if none is in flight. */
void *nbr_pool_oldest(nbr_pool *pool);

/* Frees the oldest job's slot (after nbr_pool_oldest returned it). */
void nbr_pool_retire(nbr_pool *pool);

/* How many jobs are in flight, and the i-th oldest of them (queued or run). */
size_t nbr_pool_in_flight(const nbr_pool *pool);
void *nbr_pool_in_flight_job(nbr_pool *pool, size_t i);

/* Lets the workers finish the jobs queued and joins them, then passes every
 * slot to `release` (may be NULL) to free what its job left there, and frees
 * the pool.  NULL is a no-op. */
void nbr_pool_stop(nbr_pool *pool, void (*release)(void *job));

#endif
