/* store_chunks.c - arrays stored as deduplicated chunks (see store_chunks.h). */
#include "store_chunks.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "dtype.h"
#include "pool.h"
#include "store_internal.h"
#include "store_io.h"

bool nbr_chunks_wanted(uint64_t *chunk, const nbr_store_options *o, const nbr_array_view *v)
{
    if (!o->chunk_dedup || v->ndim == 0 || v->count == 0) return false;
    nbr_chunk_shape(chunk, v->ndim, v->shape, v->itemsize, o->chunk_bytes);
    /* One chunk: nothing to share below the object, so a plain dataset. */
    return nbr_chunk_grid_count(v->ndim, v->shape, chunk) > 1 &&
           nbr_chunk_contiguous(v->ndim, v->shape, chunk);
}

bool nbr_chunks_find(const char **segment, uint64_t *stored, const nbr_store *s,
                     const nbr_object_id *chunk_id)
{
    const nbr_index_slot *slot = nbr_object_index_find(&s->chunks, chunk_id);
    if (!slot) return false;
    const nbr_object_entry *e = &s->checkpoints[slot->checkpoint]->objects[slot->object];
    *segment = e->chunk_segments[e->chunks[slot->part].segment];
    *stored = e->chunks[slot->part].stored_bytes;
    return true;
}

/* ---- writing ----------------------------------------------------------- */

/* The entry being built: what nbr_checkpoint_record_entry will take. */
static nbr_status start_entry(nbr_object_entry *e, nbr_checkpoint *c, const nbr_object_id *id,
                              const char *dtype, const nbr_array_view *v, const uint64_t *chunk)
{
    memset(e, 0, sizeof *e);
    e->id = *id;
    e->kind = NBR_OBJECT_ARRAY;
    e->ndim = v->ndim;
    e->logical_bytes = v->bytes;
    e->type = nbr_copy(dtype);
    e->segment = nbr_copy(c->segment);
    e->shape = malloc(v->ndim * sizeof *e->shape);
    e->chunk_shape = malloc(v->ndim * sizeof *e->chunk_shape);
    e->chunk_count = (size_t)nbr_chunk_grid_count(v->ndim, v->shape, chunk);
    e->chunks = calloc(e->chunk_count, sizeof *e->chunks);
    if (!e->type || !e->segment || !e->shape || !e->chunk_shape || !e->chunks)
        return nbr_fail_nomem("writing an array's chunks");
    memcpy(e->shape, v->shape, v->ndim * sizeof *e->shape);
    memcpy(e->chunk_shape, chunk, v->ndim * sizeof *e->chunk_shape);
    return NBR_OK;
}

/* Where chunk `cid` already is (this checkpoint's segment, or the store's),
 * or NULL: it must be written. */
static const char *existing_chunk(uint64_t *stored, const nbr_checkpoint *c,
                                  const nbr_object_id *cid)
{
    const nbr_index_slot *slot = nbr_object_index_find(&c->own_chunks, cid);
    if (slot) {
        *stored = c->own_chunk_list[slot->object].stored_bytes;
        return c->segment;
    }
    const char *segment = NULL;
    return nbr_chunks_find(&segment, stored, c->store, cid) ? segment : NULL;
}

/* Remembers a chunk just written into this checkpoint's segment. */
static nbr_status own_chunk(nbr_checkpoint *c, const nbr_object_id *cid, uint64_t stored)
{
    size_t at = c->own_chunk_count;
    if (!NBR_RESERVE(c->own_chunk_list, c->own_chunk_cap, at + 1) ||
        !nbr_object_index_add(&c->own_chunks, cid, 0, at))
        return nbr_fail_nomem("recording a chunk");
    c->own_chunk_list[at].id = *cid;
    c->own_chunk_list[at].stored_bytes = stored;
    c->own_chunk_count++;
    return NBR_OK;
}

/* ---- compressing ahead ---------------------------------------------------
 *
 * A new chunk's Blosc compression is the cost of a write: it runs on a few
 * threads (one per online CPU but one, or NBR_STORE_OPT_WORKERS) while the
 * calling thread hands the compressed chunks, in grid order, to HDF5
 * (H5Dwrite_chunk, through nbr_segment_write_chunk_frame: the same frames,
 * filter and file as the filter would make).  Only the calling thread
 * talks to HDF5 and the store's tables; the workers only hash and call
 * Blosc's context API.  While an array's chunks are new, each is hashed by
 * the job that compresses it (one read from memory, not two on two cores)
 * and looked up before it is written; from its first chunk already stored
 * on, the calling thread hashes and looks up each chunk before any
 * compression is spent on it.  An array's first new chunk decides whether
 * Blosc is worth it (its frame is the trial compression), before any other
 * of its chunks is handed out; when it is not, the jobs of the array's
 * next chunks only hash them, and the chunks are written raw. */

#define BLOSC_MAX_TYPESIZE_ 255 /* blosc.h's BLOSC_MAX_TYPESIZE */

typedef struct zjob {
    const char *data;   /* the chunk (the view's bytes, or `gathered`) */
    char *gathered;     /* one chunk, for gathering a strided view */
    char *frame;        /* room for one chunk */
    size_t bytes, frame_size;
    size_t index;       /* in the grid */
    uint64_t count[NBR_MAX_DIMS];
    bool hashes;        /* hashed with its compression: checked before it is written */
    bool compresses;    /* else only hashed: the array's chunks are written raw */
    nbr_status hashed;  /* how that hashing went */
    nbr_object_id id;   /* the chunk's, when `hashes` */
} zjob;

typedef struct zpool {
    nbr_pool *jobs;
    size_t typesize; /* Blosc's, as the filter's set_local finds it */
    size_t itemsize; /* the dtype's, clamped as Blosc's typesize is */
    const char *dtype; /* the array's, for the chunk ids jobs compute */
    size_t ndim;
    size_t chunk_bytes; /* of a whole chunk: each job's frame has that room */
    const nbr_store_options *o;
} zpool;

static void compress_job(const void *context, void *job)
{
    const zpool *z = context;
    zjob *j = job;
    /* Hashed on the thread that compresses it, the chunk is read from
     * memory once: Blosc finds it in this core's cache. */
    if (j->hashes) j->hashed = nbr_hash_chunk(&j->id, z->dtype, z->ndim, j->count, j->data, j->bytes);
    if (!j->compresses) {
        j->frame_size = 0;
        return;
    }
    j->frame_size = nbr_blosc_compress_chunk(j->frame, j->data, j->bytes, z->typesize,
                                             z->o->level, z->o->shuffle, z->o->codec);
}

static long workers_wanted(const nbr_store_options *o)
{
    return o->workers < 0 ? nbr_pool_default_workers() : o->workers;
}

static void release_zjob(void *job)
{
    zjob *j = job;
    free(j->gathered);
    free(j->frame);
}

static void pool_stop(zpool *z)
{
    nbr_pool_stop(z->jobs, release_zjob);
    z->jobs = NULL;
}

/* Slots for jobs in flight and the workers (none if threads cannot be had:
 * the calling thread then compresses each job as it is queued). */
static nbr_status pool_start(zpool *z, const nbr_store_options *o, size_t typesize,
                             size_t itemsize, size_t chunk_bytes)
{
    memset(z, 0, sizeof *z);
    long workers = workers_wanted(o);
    z->o = o;
    z->typesize = typesize;
    z->itemsize = itemsize > BLOSC_MAX_TYPESIZE_ ? 1 : itemsize;
    z->chunk_bytes = chunk_bytes;
    return nbr_pool_start(&z->jobs, workers, 2 * (size_t)workers + 2, sizeof(zjob), compress_job,
                          z);
}

/* What put_chunk carries from one chunk of an array to the next. */
typedef struct chunk_put {
    size_t segment_cap; /* of the entry's chunk_segments */
    int compress;       /* -1 until the array's first new chunk decided */
    char *buffer;       /* one chunk, for gathering a strided view */
    size_t chunk_bytes; /* of a whole chunk (the edges' are smaller) */
    bool pooled;        /* `pool` started (at the array's first new chunk) */
    zpool pool;
    nbr_hasher *whole;  /* the array's id, hashed along (NULL: known already) */
    bool speculate;     /* new chunks expected: each hashed by the job compressing it */
    bool gather;        /* each chunk copied into `buffer` first */
} chunk_put;

/* Writes a job's chunk, new to the store, and records it; the array's first
 * new chunk decides whether Blosc is worth it (its frame is the trial). */
static nbr_status write_job(nbr_checkpoint *c, nbr_object_entry *e, chunk_put *p, zjob *j,
                            nbr_chunk_ref *ref)
{
    zpool *z = &p->pool;
    const nbr_store_options *o = z->o;
    nbr_array_view box;
    if (p->compress < 0) {
        int worth = z->typesize == z->itemsize ? nbr_blosc_worth_frame(j->bytes, j->frame_size)
                                               : -1;
        p->compress = worth >= 0 ? worth
                                 : nbr_blosc_worth_compressing(j->data, j->bytes, z->itemsize,
                                                               o->level, o->shuffle, o->codec);
    }
    nbr_status st =
        nbr_array_view_init(&box, j->data, e->ndim, j->count, NULL, z->itemsize, "a chunk");
    if (st == NBR_OK)
        st = nbr_segment_write_chunk_frame(&ref->stored_bytes, &p->compress, &c->out, &ref->id,
                                           e->type, &box, o, j->frame, j->frame_size);
    if (st == NBR_OK) st = own_chunk(c, &ref->id, ref->stored_bytes);
    e->stored_bytes += ref->stored_bytes; /* what this array added */
    return st;
}

/* For a job that hashed its chunk: the id recorded, and the segment that
 * already holds the chunk, or NULL (it must be written).  A chunk already
 * stored says the array repeats earlier content: its next chunks are
 * hashed first, so that no compression is spent on the ones stored. */
static nbr_status look_up_hashed(const char **segment, nbr_checkpoint *c, nbr_chunk_ref *ref,
                                 chunk_put *p, const zjob *j)
{
    *segment = NULL;
    if (j->hashed != NBR_OK) return nbr_fail_nomem("hashing an array's chunk"); /* its only failure */
    ref->id = j->id;
    *segment = existing_chunk(&ref->stored_bytes, c, &ref->id);
    if (*segment) p->speculate = false;
    return NBR_OK;
}

/* Writes the oldest job in flight, unless its chunk turned out stored. */
static nbr_status write_oldest(nbr_checkpoint *c, nbr_object_entry *e, chunk_put *p)
{
    zpool *z = &p->pool;
    zjob *j = nbr_pool_oldest(z->jobs);
    nbr_chunk_ref *ref = &e->chunks[j->index];
    const char *segment = NULL;
    nbr_status st = j->hashes ? look_up_hashed(&segment, c, ref, p, j) : NBR_OK;
    if (st == NBR_OK && !segment) st = write_job(c, e, p, j, ref);
    if (st == NBR_OK && j->hashes)
        st = nbr_entry_segment_index(&ref->segment, e, &p->segment_cap, segment ? segment : c->segment);
    nbr_pool_retire(z->jobs);
    return st;
}

static nbr_status drain(nbr_checkpoint *c, nbr_object_entry *e, chunk_put *p)
{
    nbr_status st = NBR_OK;
    while (st == NBR_OK && p->pooled && nbr_pool_in_flight(p->pool.jobs))
        st = write_oldest(c, e, p);
    return st;
}

/* Whether a chunk with this id may be in flight (a chunk that repeats one
 * still being compressed waits for it to be written).  A job that hashes its
 * chunk may hold any id until it is looked up. */
static bool in_flight(const chunk_put *p, const nbr_object_entry *e, const nbr_object_id *id)
{
    nbr_pool *jobs = p->pool.jobs;
    for (size_t i = 0; p->pooled && i < nbr_pool_in_flight(jobs); i++) {
        const zjob *j = nbr_pool_in_flight_job(jobs, i);
        if (j->hashes || nbr_object_id_equal(&e->chunks[j->index].id, id)) return true;
    }
    return false;
}

/* A chunk (`data`, in p->buffer if gathered) queued for compression, new
 * or, if the job `hashes` it, probably new; the array's first is written
 * before any other is queued (it decides). */
static nbr_status queue_chunk(nbr_checkpoint *c, nbr_object_entry *e, chunk_put *p,
                              const nbr_chunk_grid *g, const nbr_array_view *v, const char *data,
                              size_t bytes, bool hashes)
{
    zpool *z = &p->pool;
    nbr_status st = NBR_OK;
    if (!p->pooled) {
        size_t typesize = nbr_segment_blosc_typesize(e->type);
        st = typesize ? pool_start(z, &c->store->options, typesize, v->itemsize, p->chunk_bytes)
                      : nbr_fail(NBR_EINVAL, "%s: not a dtype HDF5 takes", e->type);
        if (st != NBR_OK) return st;
        p->pooled = true;
        z->dtype = e->type;
        z->ndim = v->ndim;
    }
    zjob *j = NULL;
    while (st == NBR_OK && !(j = nbr_pool_next(z->jobs))) st = write_oldest(c, e, p);
    if (st != NBR_OK) return st;
    if (!j->frame && !(j->frame = malloc(z->chunk_bytes)))
        return nbr_fail_nomem("compressing an array's chunks");
    if (data == p->buffer) { /* the gathered chunk goes with the job */
        char *spare = j->gathered ? j->gathered : malloc(p->chunk_bytes);
        if (!spare) return nbr_fail_nomem("compressing an array's chunks");
        j->gathered = p->buffer;
        p->buffer = spare;
    }
    j->data = data;
    j->bytes = bytes;
    j->index = g->index;
    j->hashes = hashes;
    j->hashed = NBR_OK;
    j->compresses = p->compress != 0;
    memcpy(j->count, g->count, v->ndim * sizeof *j->count);
    nbr_pool_queue(z->jobs);
    return p->compress < 0 ? drain(c, e, p) : NBR_OK;
}

/* Chunk k's C-order bytes copied into `buffer`: a strided view's elements
 * gathered, or live memory read once, so that the chunk's hash, its
 * compression and the array's id all see the same bytes however the memory
 * changes meanwhile. */
static const char *gather_chunk(char *buffer, const nbr_chunk_grid *g, const nbr_array_view *v,
                                const char *data, size_t bytes)
{
    if (v->c_contiguous)
        memcpy(buffer, data, bytes);
    else
        nbr_array_view_copy_box(buffer, bytes, v, g->start, g->count);
    return buffer;
}

/* Chunk k (the grid's current box): hashed, written if new (or queued for
 * compression), recorded; or queued to be hashed, looked up and recorded
 * with its compression (p->speculate). */
static nbr_status put_chunk(nbr_checkpoint *c, nbr_object_entry *e, chunk_put *p,
                            const nbr_chunk_grid *g, const nbr_array_view *v)
{
    nbr_array_view box;
    const char *data = v->data + g->offset * v->itemsize;
    size_t bytes = nbr_box_bytes(v->itemsize, v->ndim, g->count);
    if (p->gather) data = gather_chunk(p->buffer, g, v, data, bytes);
    nbr_chunk_ref *ref = &e->chunks[g->index];
    /* Chunks come in grid order, which is C order: together they are the
     * array's own byte stream. */
    nbr_status st = p->whole ? nbr_hasher_update(p->whole, data, bytes) : NBR_OK;
    if (st == NBR_OK && p->speculate)
        return queue_chunk(c, e, p, g, v, data, bytes, true);
    if (st == NBR_OK)
        st = nbr_hash_chunk(&ref->id, e->type, v->ndim, g->count, data, bytes);
    const char *segment = st == NBR_OK ? existing_chunk(&ref->stored_bytes, c, &ref->id) : NULL;
    if (st == NBR_OK && !segment && in_flight(p, e, &ref->id)) {
        st = drain(c, e, p);
        if (st == NBR_OK) segment = existing_chunk(&ref->stored_bytes, c, &ref->id);
    }
    if (st == NBR_OK && !segment && p->compress != 0) {
        st = queue_chunk(c, e, p, g, v, data, bytes, false);
        segment = c->segment;
    } else if (st == NBR_OK && !segment) { /* not worth compressing: as it is */
        st = nbr_array_view_init(&box, data, v->ndim, g->count, NULL, v->itemsize, "a chunk");
        if (st == NBR_OK)
            st = nbr_segment_write_chunk(&ref->stored_bytes, &p->compress, &c->out, &ref->id,
                                         e->type, &box, &c->store->options);
        if (st == NBR_OK) st = own_chunk(c, &ref->id, ref->stored_bytes);
        e->stored_bytes += ref->stored_bytes; /* what this array added */
        segment = c->segment;
    }
    if (st == NBR_OK) st = nbr_entry_segment_index(&ref->segment, e, &p->segment_cap, segment);
    return st;
}

/* `live`: the memory may change meanwhile (nbr_checkpoint_put_array_live). */
static nbr_status put_chunks(nbr_checkpoint *c, nbr_object_entry *e, const nbr_array_view *v,
                             const uint64_t *chunk, nbr_hasher *whole, bool live)
{
    size_t chunk_bytes = nbr_box_bytes(v->itemsize, v->ndim, chunk);
    bool gather = live || !v->c_contiguous;
    chunk_put p = {.compress = -1,
                   .speculate = true,
                   .buffer = gather ? malloc(chunk_bytes) : NULL,
                   .chunk_bytes = chunk_bytes,
                   .whole = whole,
                   .gather = gather};
    if (gather && !p.buffer) return nbr_fail_nomem("writing an array's chunks");
    nbr_chunk_grid g;
    nbr_status st = NBR_OK;
    nbr_chunk_grid_init(&g, v->ndim, v->shape, chunk);
    do st = put_chunk(c, e, &p, &g, v);
    while (st == NBR_OK && nbr_chunk_grid_next(&g));
    if (st == NBR_OK) st = drain(c, e, &p);
    if (p.pooled) pool_stop(&p.pool);
    free(p.buffer);
    return st;
}

/* ---- chained virtual datasets ------------------------------------------
 *
 * An array that changed in a few boxes since the version `name` was bound
 * to maps all its unchanged boxes to that version's virtual dataset (one
 * mapping) instead of mapping every box to its chunk
 * (docs/store-format.md, "Chained virtual datasets"). */

/* How long a chain may grow: HDF5 opens every file along it when the newest
 * version is read. */
#define CHAIN_MAX 64

/* Whether `b` has the grid of `e` (dtype, shape, chunk shape) and its boxes
 * are whole rows of the trailing axes, so that a run of boxes is one
 * hyperslab. */
static bool same_rows(const nbr_object_entry *e, const nbr_object_entry *b)
{
    if (!b->chunk_shape || b->ndim != e->ndim || strcmp(b->type, e->type) != 0 ||
        b->chunk_count != e->chunk_count)
        return false;
    for (size_t i = 0; i < e->ndim; i++)
        if (b->shape[i] != e->shape[i] || b->chunk_shape[i] != e->chunk_shape[i] ||
            (i > 0 && e->chunk_shape[i] != e->shape[i]))
            return false;
    return true;
}

static bool same_box(const nbr_object_entry *e, const nbr_object_entry *b, size_t k)
{
    return nbr_object_id_equal(&e->chunks[k].id, &b->chunks[k].id);
}

/* The boxes of `e` whose chunk differs from `b`'s at the same box. */
static size_t changed_boxes(const nbr_object_entry *e, const nbr_object_entry *b)
{
    size_t n = 0;
    for (size_t k = 0; k < e->chunk_count; k++) n += !same_box(e, b, k);
    return n;
}

/* The chain below `b`: how deep, and how many boxes changed along it (what
 * its segments hold that a newer version may no longer use, and GC keeps
 * while the newest is kept).  false if it cannot be followed. */
static bool chain_of(size_t *depth, size_t *changed, const nbr_store *s, const nbr_object_entry *b)
{
    *depth = *changed = 0;
    while (b->chained) {
        const nbr_object_entry *next = nbr_store_find_object(s, &b->base);
        if (!next || !same_rows(b, next) || ++*depth >= CHAIN_MAX) return false;
        *changed += changed_boxes(b, next);
        b = next;
    }
    return true;
}

/* The name as the store binds it: a rank's part of a collective checkpoint
 * binds "@<rank>of<size>/<name>" (malloc'd; NULL when out of memory). */
static char *bound_name(const nbr_checkpoint *c, const char *name)
{
    if (!c->mpi_size) return nbr_copy(name);
    nbr_buf b;
    nbr_buf_init(&b);
    nbr_buf_printf(&b, "@%dof%d/%s", c->mpi_rank, c->mpi_size, name);
    return nbr_buf_take(&b);
}

/* The current value of `name` in the store, if it is an array entry. */
static const nbr_object_entry *current_version(nbr_object_id *id, const nbr_checkpoint *c,
                                               const char *name)
{
    int deleted = 0;
    char *full = name ? bound_name(c, name) : NULL;
    nbr_status st = full ? nbr_store_resolve(id, &deleted, c->store, NULL, full) : NBR_ENOTFOUND;
    free(full);
    if (st != NBR_OK) nbr_clear_error(); /* a name never bound is no failure of the put */
    return st == NBR_OK && !deleted ? nbr_store_find_object(c->store, id) : NULL;
}

/* Chains `e` to the array `name` is bound to in the store, when that is an
 * earlier version of it on the same grid, the chain stays short, what its
 * older segments hold stays under one array's worth of chunks, and the two
 * share at least 2 boxes (else one mapping to the base saves nothing).  All
 * the shared boxes map to the base through one mapping (one selection of
 * several blocks of rows): HDF5 1.10 opens a source dataset once per mapping
 * that names it, so two mappings to the base at every level would make
 * reading the newest version take time exponential in the chain's depth.
 * Otherwise `e` stays flat. */
static nbr_status choose_base(nbr_checkpoint *c, nbr_object_entry *e, const char *name)
{
    nbr_object_id id;
    size_t depth = 0, changed = 0;
    if (!c->store->options.chain) return NBR_OK;
    const nbr_object_entry *b = current_version(&id, c, name);
    if (!b || !same_rows(e, b) || !chain_of(&depth, &changed, c->store, b)) return NBR_OK;
    size_t differ = changed_boxes(e, b);
    if (depth + 1 >= CHAIN_MAX || changed + differ > e->chunk_count ||
        e->chunk_count - differ < 2)
        return NBR_OK;
    e->base_segment = nbr_copy(b->segment);
    e->base_shared = malloc(e->chunk_count);
    if (!e->base_segment || !e->base_shared) return nbr_fail_nomem("chaining an array");
    for (size_t k = 0; k < e->chunk_count; k++) e->base_shared[k] = same_box(e, b, k);
    e->chained = true;
    e->base = id;
    return NBR_OK;
}

/* Puts the chunks, hashing the whole array along if `whole` (its id then
 * goes to e->id), then its virtual dataset, and records it; nothing is
 * recorded if the id hashed along turns out to be stored already, or is not
 * `expected` (given when the memory is live: the array changed meanwhile,
 * which leaves the checkpoint usable). */
static nbr_status put_entry(nbr_checkpoint *c, nbr_object_entry *e, const char *name,
                            const nbr_array_view *view, const uint64_t *chunk, nbr_hasher *whole,
                            const nbr_object_id *expected)
{
    nbr_status st = put_chunks(c, e, view, chunk, whole, expected != NULL);
    if (st == NBR_OK && whole) st = nbr_hasher_digest(&e->id, whole);
    if (st == NBR_OK && expected && !nbr_object_id_equal(&e->id, expected)) {
        nbr_object_entry_clear(e);
        return nbr_array_changed(name);
    }
    if (st == NBR_OK && whole && nbr_checkpoint_has_object(c, &e->id)) {
        /* Only an array stored whole (not as chunks) under the same id gets
         * here, which a store with chunk dedup does not make: equal ids mean
         * equal dtype, shape and so chunk grid.  Its chunks stay, listed as
         * the checkpoint's own but referenced by nothing. */
        nbr_object_entry_clear(e);
        return NBR_OK;
    }
    if (st == NBR_OK) st = choose_base(c, e, name);
    if (st == NBR_OK) st = nbr_segment_write_virtual(&c->out, e, c->segment);
    if (st != NBR_OK) {
        nbr_object_entry_clear(e);
        return nbr_checkpoint_poison(c, st);
    }
    return nbr_checkpoint_record_entry(c, e);
}

nbr_status nbr_chunks_put(nbr_checkpoint *c, const nbr_object_id *id, const char *name,
                          const char *dtype, const nbr_array_view *view, const uint64_t *chunk)
{
    nbr_object_entry e;
    memset(&e, 0, sizeof e);
    nbr_status st = nbr_checkpoint_open_segment(c);
    if (st == NBR_OK) st = start_entry(&e, c, id, dtype, view, chunk);
    if (st != NBR_OK) {
        nbr_object_entry_clear(&e);
        return nbr_checkpoint_poison(c, st);
    }
    return put_entry(c, &e, name, view, chunk, NULL, NULL);
}

/* nbr_chunks_put_new and nbr_chunks_put_live: the id hashed along into *id,
 * and compared with `expected` when that is given. */
static nbr_status put_hashing_along(nbr_checkpoint *c, nbr_object_id *id,
                                    const nbr_object_id *expected, const char *name,
                                    const char *dtype, const nbr_array_view *view,
                                    const uint64_t *chunk)
{
    nbr_object_entry e;
    nbr_hasher *whole = NULL;
    memset(id, 0, sizeof *id);
    memset(&e, 0, sizeof e);
    nbr_status st = nbr_hasher_new(&whole);
    if (st == NBR_OK) st = nbr_hash_array_header(whole, dtype, view->ndim, view->shape);
    if (st == NBR_OK) st = nbr_checkpoint_open_segment(c);
    if (st == NBR_OK) st = start_entry(&e, c, id, dtype, view, chunk);
    if (st != NBR_OK) {
        nbr_hasher_free(whole);
        nbr_object_entry_clear(&e);
        return nbr_checkpoint_poison(c, st);
    }
    st = put_entry(c, &e, name, view, chunk, whole, expected);
    if (st == NBR_OK) st = nbr_hasher_digest(id, whole); /* e may be cleared: ask again */
    nbr_hasher_free(whole);
    return st;
}

nbr_status nbr_chunks_put_new(nbr_checkpoint *c, nbr_object_id *id, const char *name,
                              const char *dtype, const nbr_array_view *view,
                              const uint64_t *chunk)
{
    return put_hashing_along(c, id, NULL, name, dtype, view, chunk);
}

nbr_status nbr_chunks_put_live(nbr_checkpoint *c, const nbr_object_id *id, const char *name,
                               const char *dtype, const nbr_array_view *view,
                               const uint64_t *chunk)
{
    nbr_object_id got;
    return put_hashing_along(c, &got, id, name, dtype, view, chunk);
}

bool nbr_chunks_first_is_new(const nbr_checkpoint *c, const char *dtype,
                             const nbr_array_view *view, const uint64_t *chunk)
{
    nbr_chunk_grid g;
    nbr_object_id id;
    uint64_t stored = 0;
    nbr_chunk_grid_init(&g, view->ndim, view->shape, chunk);
    size_t bytes = nbr_box_bytes(view->itemsize, view->ndim, g.count);
    char *gathered = view->c_contiguous ? NULL : malloc(bytes);
    const char *data = view->c_contiguous ? view->data : gathered;
    if (!data) return false; /* no memory: the two-pass path will say so */
    if (gathered) nbr_array_view_copy_box(gathered, bytes, view, g.start, g.count);
    bool is_new = nbr_hash_chunk(&id, dtype, view->ndim, g.count, data, bytes) == NBR_OK &&
                  !existing_chunk(&stored, c, &id);
    free(gathered);
    return is_new;
}

/* ---- collective checkpoints -------------------------------------------- */

nbr_status nbr_chunks_move(bool *moved, nbr_object_entry *e, const char *own,
                           const nbr_object_index *lower, const nbr_own_chunk *theirs,
                           char (*segments)[64])
{
    char **old = e->chunk_segments;
    size_t old_count = e->chunk_segment_count, cap = 0;
    nbr_status st = NBR_OK;
    e->chunk_segments = NULL;
    e->chunk_segment_count = 0;
    for (size_t k = 0; st == NBR_OK && k < e->chunk_count; k++) {
        nbr_chunk_ref *ref = &e->chunks[k];
        const char *segment = old[ref->segment];
        const nbr_index_slot *slot =
            strcmp(segment, own) ? NULL : nbr_object_index_find(lower, &ref->id);
        if (slot) { /* a lower rank's copy: (rank, index into theirs) */
            segment = segments[slot->checkpoint];
            ref->stored_bytes = theirs[slot->object].stored_bytes;
            *moved = true;
        }
        st = nbr_entry_segment_index(&ref->segment, e, &cap, segment);
    }
    for (size_t i = 0; i < old_count; i++) free(old[i]);
    free(old);
    return st;
}

nbr_status nbr_chunks_recount(nbr_object_entry *entries, size_t count, const char *own)
{
    nbr_object_index seen;
    nbr_status st = NBR_OK;
    nbr_object_index_init(&seen);
    for (size_t i = 0; i < count; i++) {
        nbr_object_entry *e = &entries[i];
        if (!e->chunk_shape) continue;
        e->stored_bytes = 0;
        for (size_t k = 0; st == NBR_OK && k < e->chunk_count; k++) {
            const nbr_chunk_ref *ref = &e->chunks[k];
            if (strcmp(e->chunk_segments[ref->segment], own) != 0 ||
                nbr_object_index_find(&seen, &ref->id))
                continue;
            if (!nbr_object_index_add(&seen, &ref->id, 0, 0))
                st = nbr_fail_nomem("counting an array's chunks");
            e->stored_bytes += ref->stored_bytes;
        }
    }
    nbr_object_index_clear(&seen);
    return st;
}

/* ---- reading -----------------------------------------------------------
 *
 * Reading an array splits as writing does: the calling thread asks HDF5 for
 * each chunk's stored bytes (H5Dread_chunk) and hashes the chunks, in grid
 * order, into the array's id; worker threads (as many as compress on
 * writes) decompress them.  Blosc decompresses into a buffer of the job's,
 * which stays in the core's cache, and that is copied to the chunk's place:
 * its unshuffle writing straight into memory not in cache was measured
 * slower than decompressing in cache and copying.  Reading into the
 * caller's buffer checks only the array's id (it covers every byte), and
 * each chunk's only when that fails, to name the bad one; verifying checks
 * every chunk's. */

/* The least an array must hold for its read to start worker threads: a
 * thread's start and join cost about what reading some 100 KB does (an
 * estimate, not a measurement). */
#define PARALLEL_READ_BYTES ((uint64_t)1 << 20)

typedef struct rjob {
    char *dest;            /* where the chunk goes: the caller's buffer, or `plain` */
    char *plain;           /* room for one chunk */
    size_t bytes;
    nbr_chunk_grid box;    /* which chunk */
    bool framed;           /* `frame` holds it, to decompress */
    nbr_chunk_frame frame;
    nbr_status unpacked;   /* how decompressing went (no message: not this thread's) */
} rjob;

static void unpack_job(const void *context, void *job)
{
    (void)context;
    rjob *j = job;
    j->unpacked = NBR_OK;
    if (!j->framed) return;
    j->unpacked = nbr_blosc_decompress_into(j->plain, j->bytes, j->frame.data, j->frame.size);
    if (j->unpacked == NBR_OK && j->dest != j->plain) memcpy(j->dest, j->plain, j->bytes);
}

static nbr_status chunk_fail(nbr_status status, const nbr_store *s, const nbr_object_entry *e,
                             size_t k, const char *why)
{
    const char *segment = e->chunk_segments[e->chunks[k].segment];
    char hex[33], chunk[33];
    nbr_object_id_to_hex(hex, &e->id);
    nbr_object_id_to_hex(chunk, &e->chunks[k].id);
    return nbr_fail(status, "%s/%s: object %s: chunk %s: %s", s->root, segment, hex, chunk, why);
}

/* Fetches a job's chunk from its segment (see nbr_segment_fetch_chunk). */
static nbr_status fetch_chunk(rjob *j, nbr_store *s, const nbr_object_entry *e)
{
    const char *segment = e->chunk_segments[e->chunks[j->box.index].segment];
    char *path = nbr_io_join(s->root, segment);
    hid_t file = -1;
    if (!path) return nbr_fail_nomem("reading a chunk");
    nbr_status st = nbr_store_segment(&file, s, segment);
    if (st != NBR_OK) {
        char hex[33], chunk[33], *why = nbr_copy(nbr_last_error());
        nbr_object_id_to_hex(hex, &e->id);
        nbr_object_id_to_hex(chunk, &e->chunks[j->box.index].id);
        st = nbr_fail(st, "object %s: chunk %s: %s", hex, chunk, why ? why : segment);
        free(why);
    }
    if (st == NBR_OK)
        st = nbr_segment_fetch_chunk(&j->framed, j->dest, &j->frame, file, path, e, j->box.index,
                                     j->box.count);
    free(path);
    return st;
}

/* Checks chunk k (`bytes` at `data`) against its id. */
static nbr_status check_chunk(const nbr_store *s, const nbr_object_entry *e,
                              const nbr_chunk_grid *g, const void *data, size_t bytes)
{
    nbr_object_id got;
    nbr_status st = nbr_hash_chunk(&got, e->type, e->ndim, g->count, data, bytes);
    if (st != NBR_OK || nbr_object_id_equal(&got, &e->chunks[g->index].id)) return st;
    return chunk_fail(NBR_ECORRUPT, s, e, g->index, "the content does not match its id");
}

/* What a read carries from one chunk to the next. */
typedef struct chunk_read {
    nbr_store *s;
    const nbr_object_entry *e;
    bool verifying;   /* no caller's buffer: each chunk checked, then dropped */
    nbr_hasher *whole; /* the array's id, over the chunks in grid order */
    nbr_pool *jobs;
} chunk_read;

/* Takes the oldest chunk in flight back, once decompressed, into the hash. */
static nbr_status finish_oldest(chunk_read *r)
{
    rjob *j = nbr_pool_oldest(r->jobs);
    nbr_status st = j->unpacked;
    if (st != NBR_OK) st = chunk_fail(st, r->s, r->e, j->box.index, "its Blosc frame is damaged");
    if (st == NBR_OK && r->verifying) st = check_chunk(r->s, r->e, &j->box, j->dest, j->bytes);
    if (st == NBR_OK) st = nbr_hasher_update(r->whole, j->dest, j->bytes);
    nbr_pool_retire(r->jobs);
    return st;
}

static nbr_status queue_read(chunk_read *r, char *buffer, const nbr_chunk_grid *g,
                             size_t itemsize, size_t chunk_bytes)
{
    rjob *j = NULL;
    nbr_status st = NBR_OK;
    while (st == NBR_OK && !(j = nbr_pool_next(r->jobs))) st = finish_oldest(r);
    if (st != NBR_OK) return st;
    if (!j->plain && !(j->plain = malloc(chunk_bytes ? chunk_bytes : 1)))
        return nbr_fail_nomem("reading an array's chunks");
    j->box = *g;
    j->bytes = nbr_box_bytes(itemsize, r->e->ndim, g->count);
    j->dest = buffer ? buffer + g->offset * itemsize : j->plain;
    st = fetch_chunk(j, r->s, r->e);
    if (st == NBR_OK) nbr_pool_queue(r->jobs);
    return st;
}

/* Every chunk is sound, yet together they are not the array: the entry's
 * list of chunks is wrong. */
static nbr_status chunks_do_not_add_up(const nbr_store *s, const nbr_object_entry *e)
{
    char hex[33];
    nbr_object_id_to_hex(hex, &e->id);
    return nbr_fail(NBR_ECORRUPT, "%s/%s: object %s: its chunks do not hash to its id", s->root,
                    e->segment, hex);
}

/* After an array read into `buffer` failed its hash: the first chunk whose
 * bytes there fail theirs, or (all sound) the entry's list of chunks. */
static nbr_status name_bad_chunk(const nbr_store *s, const nbr_object_entry *e,
                                 const char *buffer, size_t itemsize)
{
    nbr_chunk_grid g;
    nbr_chunk_grid_init(&g, e->ndim, e->shape, e->chunk_shape);
    do {
        nbr_status st = check_chunk(s, e, &g, buffer + g.offset * itemsize,
                                    nbr_box_bytes(itemsize, e->ndim, g.count));
        if (st != NBR_OK) return st;
    } while (nbr_chunk_grid_next(&g));
    return chunks_do_not_add_up(s, e);
}

static void release_rjob(void *job)
{
    rjob *j = job;
    free(j->plain);
    free(j->frame.data);
}

/* Reads every chunk, into `buffer` at its place or (buffer NULL: verifying)
 * into the jobs' own memory, and checks the array's id over them all. */
static nbr_status walk(char *buffer, nbr_store *s, const nbr_object_entry *e, size_t itemsize)
{
    chunk_read r = {.s = s, .e = e, .verifying = buffer == NULL};
    size_t chunk_bytes = nbr_box_bytes(itemsize, e->ndim, e->chunk_shape);
    long workers = e->chunk_count > 2 && e->logical_bytes >= PARALLEL_READ_BYTES
                       ? workers_wanted(&s->options)
                       : 0;
    nbr_status st = nbr_hasher_new(&r.whole);
    if (st == NBR_OK) st = nbr_hash_array_header(r.whole, e->type, e->ndim, e->shape);
    if (st == NBR_OK)
        st = nbr_pool_start(&r.jobs, workers, 2 * (size_t)workers + 2, sizeof(rjob), unpack_job,
                            NULL);
    nbr_chunk_grid g;
    nbr_chunk_grid_init(&g, e->ndim, e->shape, e->chunk_shape);
    if (st == NBR_OK) do st = queue_read(&r, buffer, &g, itemsize, chunk_bytes);
        while (st == NBR_OK && nbr_chunk_grid_next(&g));
    while (st == NBR_OK && nbr_pool_in_flight(r.jobs)) st = finish_oldest(&r);
    nbr_object_id got;
    if (st == NBR_OK) st = nbr_hasher_digest(&got, r.whole);
    bool bad = st == NBR_OK && !nbr_object_id_equal(&got, &e->id);
    if (bad && buffer) st = name_bad_chunk(s, e, buffer, itemsize);
    nbr_pool_stop(r.jobs, release_rjob); /* the jobs still queued finish first */
    nbr_hasher_free(r.whole);
    if (bad && !buffer) st = chunks_do_not_add_up(s, e);
    return st;
}

/* The element size, checked against the entry's byte count. */
static nbr_status entry_itemsize(size_t *itemsize, const nbr_object_entry *e)
{
    uint64_t count = 1;
    char hex[33];
    for (size_t i = 0; i < e->ndim; i++) count *= e->shape[i];
    if (nbr_dtype_itemsize(itemsize, e->type) == NBR_OK && count * *itemsize == e->logical_bytes)
        return NBR_OK;
    nbr_object_id_to_hex(hex, &e->id);
    return nbr_fail(NBR_ECORRUPT, "%s: object %s: logical_bytes disagrees with dtype and shape",
                    e->segment, hex);
}

nbr_status nbr_chunks_read(void *buffer, nbr_store *s, const nbr_object_entry *e)
{
    size_t itemsize = 0;
    nbr_status st = entry_itemsize(&itemsize, e);
    return st == NBR_OK ? walk(buffer, s, e, itemsize) : st;
}

nbr_status nbr_chunks_check(nbr_store *s, const nbr_object_entry *e)
{
    size_t itemsize = 0;
    nbr_status st = entry_itemsize(&itemsize, e);
    return st == NBR_OK ? walk(NULL, s, e, itemsize) : st;
}
