/* store_chunks.c - arrays stored as deduplicated chunks (see store_chunks.h). */
#include "store_chunks.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "dtype.h"
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

/* The index of `segment` in the entry's chunk_segments, added if new. */
static nbr_status segment_index(uint32_t *out, nbr_object_entry *e, size_t *cap,
                                const char *segment)
{
    for (size_t i = 0; i < e->chunk_segment_count; i++)
        if (!strcmp(e->chunk_segments[i], segment)) {
            *out = (uint32_t)i;
            return NBR_OK;
        }
    char *copy = nbr_copy(segment);
    if (!copy || !NBR_RESERVE(e->chunk_segments, *cap, e->chunk_segment_count + 1)) {
        free(copy);
        return nbr_fail_nomem("recording a chunk");
    }
    *out = (uint32_t)e->chunk_segment_count;
    e->chunk_segments[e->chunk_segment_count++] = copy;
    return NBR_OK;
}

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

/* What put_chunk carries from one chunk of an array to the next. */
typedef struct chunk_put {
    size_t segment_cap; /* of the entry's chunk_segments */
    int compress;       /* -1 until the array's first new chunk decided */
    char *buffer;       /* one chunk, for gathering a strided view */
} chunk_put;

/* Chunk k (the grid's current box): hashed, written if new, recorded. */
static nbr_status put_chunk(nbr_checkpoint *c, nbr_object_entry *e, chunk_put *p,
                            const nbr_chunk_grid *g, const nbr_array_view *v)
{
    nbr_array_view box;
    const char *data = v->data + g->offset * v->itemsize;
    uint64_t bytes = v->itemsize;
    for (size_t i = 0; i < v->ndim; i++) bytes *= g->count[i];
    if (!v->c_contiguous) {
        nbr_array_walker w;
        nbr_array_view_box(&box, v, g->start, g->count);
        nbr_array_walker_init(&w, &box);
        nbr_array_walker_next(&w, p->buffer, (size_t)bytes);
        data = p->buffer;
    }
    nbr_chunk_ref *ref = &e->chunks[g->index];
    nbr_status st = nbr_hash_chunk(&ref->id, e->type, v->ndim, g->count, data, (size_t)bytes);
    const char *segment = st == NBR_OK ? existing_chunk(&ref->stored_bytes, c, &ref->id) : NULL;
    if (st == NBR_OK && !segment) {
        st = nbr_array_view_init(&box, data, v->ndim, g->count, NULL, v->itemsize, "a chunk");
        if (st == NBR_OK)
            st = nbr_segment_write_chunk(&ref->stored_bytes, &p->compress, &c->out, &ref->id,
                                         e->type, &box, &c->store->options);
        if (st == NBR_OK) st = own_chunk(c, &ref->id, ref->stored_bytes);
        e->stored_bytes += ref->stored_bytes; /* what this array added */
        segment = c->segment;
    }
    if (st == NBR_OK) st = segment_index(&ref->segment, e, &p->segment_cap, segment);
    return st;
}

static nbr_status put_chunks(nbr_checkpoint *c, nbr_object_entry *e, const nbr_array_view *v,
                             const uint64_t *chunk)
{
    size_t cells = 1;
    for (size_t i = 0; i < v->ndim; i++) cells *= (size_t)chunk[i];
    chunk_put p = {0, -1, v->c_contiguous ? NULL : malloc(cells * v->itemsize)};
    if (!v->c_contiguous && !p.buffer) return nbr_fail_nomem("writing an array's chunks");
    nbr_chunk_grid g;
    nbr_status st = NBR_OK;
    nbr_chunk_grid_init(&g, v->ndim, v->shape, chunk);
    do st = put_chunk(c, e, &p, &g, v);
    while (st == NBR_OK && nbr_chunk_grid_next(&g));
    free(p.buffer);
    return st;
}

nbr_status nbr_chunks_put(nbr_checkpoint *c, const nbr_object_id *id, const char *dtype,
                          const nbr_array_view *view, const uint64_t *chunk)
{
    nbr_object_entry e;
    nbr_status st = nbr_checkpoint_open_segment(c);
    if (st == NBR_OK) st = start_entry(&e, c, id, dtype, view, chunk);
    else memset(&e, 0, sizeof e);
    if (st == NBR_OK) st = put_chunks(c, &e, view, chunk);
    if (st == NBR_OK) st = nbr_segment_write_virtual(&c->out, &e, c->segment);
    if (st != NBR_OK) {
        nbr_object_entry_clear(&e);
        return nbr_checkpoint_poison(c, st);
    }
    return nbr_checkpoint_record_entry(c, &e);
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
        st = segment_index(&ref->segment, e, &cap, segment);
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

/* ---- reading ----------------------------------------------------------- */

/* Chunk k read into `dest` and checked against its id. */
static nbr_status read_chunk(void *dest, nbr_store *s, const nbr_object_entry *e,
                             const nbr_chunk_grid *g, size_t bytes)
{
    const char *segment = e->chunk_segments[e->chunks[g->index].segment];
    char *path = nbr_io_join(s->root, segment), hex[33], chunk[33];
    hid_t file = -1;
    if (!path) return nbr_fail_nomem("reading a chunk");
    nbr_object_id_to_hex(hex, &e->id);
    nbr_object_id_to_hex(chunk, &e->chunks[g->index].id);
    nbr_status st = nbr_store_segment(&file, s, segment);
    if (st != NBR_OK) {
        char *why = nbr_copy(nbr_last_error());
        st = nbr_fail(st, "object %s: chunk %s: %s", hex, chunk, why ? why : segment);
        free(why);
    }
    if (st == NBR_OK) st = nbr_segment_read_chunk(dest, file, path, e, g->index, g->count);
    nbr_object_id got;
    if (st == NBR_OK) st = nbr_hash_chunk(&got, e->type, e->ndim, g->count, dest, bytes);
    if (st == NBR_OK && !nbr_object_id_equal(&got, &e->chunks[g->index].id))
        st = nbr_fail(NBR_ECORRUPT, "%s: object %s: chunk %s: the content does not match its id",
                      path, hex, chunk);
    free(path);
    return st;
}

/* Reads every chunk, into `buffer` at its place or (buffer NULL) into
 * `scratch`, and checks the array's id over them all. */
static nbr_status walk(char *buffer, char *scratch, nbr_store *s, const nbr_object_entry *e,
                       size_t itemsize)
{
    nbr_hasher *h = NULL;
    nbr_chunk_grid g;
    nbr_status st = nbr_hasher_new(&h);
    if (st == NBR_OK) st = nbr_hash_array_header(h, e->type, e->ndim, e->shape);
    nbr_chunk_grid_init(&g, e->ndim, e->shape, e->chunk_shape);
    while (st == NBR_OK) {
        size_t bytes = itemsize;
        for (size_t i = 0; i < e->ndim; i++) bytes *= (size_t)g.count[i];
        char *dest = buffer ? buffer + g.offset * itemsize : scratch;
        st = read_chunk(dest, s, e, &g, bytes);
        if (st == NBR_OK) st = nbr_hasher_update(h, dest, bytes);
        if (!nbr_chunk_grid_next(&g)) break;
    }
    nbr_object_id got;
    if (st == NBR_OK) st = nbr_hasher_digest(&got, h);
    nbr_hasher_free(h);
    if (st == NBR_OK && !nbr_object_id_equal(&got, &e->id)) {
        char hex[33];
        nbr_object_id_to_hex(hex, &e->id);
        st = nbr_fail(NBR_ECORRUPT, "%s: object %s: its chunks do not hash to its id", e->segment,
                      hex);
    }
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
    return st == NBR_OK ? walk(buffer, NULL, s, e, itemsize) : st;
}

nbr_status nbr_chunks_check(nbr_store *s, const nbr_object_entry *e)
{
    size_t itemsize = 0, cells = 1;
    nbr_status st = entry_itemsize(&itemsize, e);
    if (st != NBR_OK) return st;
    for (size_t i = 0; i < e->ndim; i++) cells *= (size_t)e->chunk_shape[i];
    char *scratch = malloc(cells * itemsize);
    if (!scratch) return nbr_fail_nomem("verifying an array's chunks");
    st = walk(NULL, scratch, s, e, itemsize);
    free(scratch);
    return st;
}
