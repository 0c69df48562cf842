/* store_chunks.h - dedup below the object level (private).
 *
 * An array of more than one chunk, in a store with chunk dedup on, is kept
 * as its chunks: each chunk (a contiguous run of the C-order stream, since
 * the chunk shape cuts the leading axes first) is content-addressed by its
 * own id and stored once per store as /chunks/<chunk id>, in the segment of
 * the checkpoint that first wrote it; the array itself is an HDF5 virtual
 * dataset /objects/<id> mapping every chunk, so h5py still reads one
 * dataset.  The manifest entry lists the chunks and their segments
 * (docs/store-format.md, "Chunk dedup"). */
#ifndef NBR_STORE_CHUNKS_H
#define NBR_STORE_CHUNKS_H

#include <stdbool.h>

#include "store_array.h"
#include "store_index.h"
#include "store_manifest.h"
#include "store_segment.h"

struct nbr_store;
struct nbr_checkpoint;

/* A chunk a checkpoint wrote into its segment (exchanged as bytes between
 * the ranks of a collective checkpoint). */
typedef struct nbr_own_chunk {
    nbr_object_id id;
    uint64_t stored_bytes;
} nbr_own_chunk;

/* Whether this array is stored as chunks; `chunk` gets its chunk shape. */
bool nbr_chunks_wanted(uint64_t *chunk, const nbr_store_options *options,
                       const nbr_array_view *view);

/* Writes a new array (id not yet in the store) as chunks plus its virtual
 * dataset, and records it in the checkpoint.  Only chunks the store and the
 * checkpoint lack are written.  `name` (may be NULL) is the name it will be
 * bound to: the version the store has under that name may become the base
 * of a chained virtual dataset. */
nbr_status nbr_chunks_put(struct nbr_checkpoint *c, const nbr_object_id *id, const char *name,
                          const char *dtype, const nbr_array_view *view, const uint64_t *chunk);

/* Whether the array's first chunk is one neither the store nor the
 * checkpoint has.  Then the array is new as well (an array stored as chunks
 * keeps every one of them), so nbr_chunks_put_new can hash it in the same
 * pass as its chunks instead of in a pass of its own first. */
bool nbr_chunks_first_is_new(const struct nbr_checkpoint *c, const char *dtype,
                             const nbr_array_view *view, const uint64_t *chunk);

/* As nbr_chunks_put for an array whose id is not known yet: the id is
 * hashed along with the chunks (in grid order they are the C-order stream)
 * and given in *id.  Should the store hold that id after all (stored whole,
 * not as chunks), nothing is recorded and the chunks written meanwhile stay
 * unreferenced in the segment. */
nbr_status nbr_chunks_put_new(struct nbr_checkpoint *c, nbr_object_id *id, const char *name,
                              const char *dtype, const nbr_array_view *view,
                              const uint64_t *chunk);

/* As nbr_chunks_put for memory that may change during the call
 * (nbr_checkpoint_put_array_live): each chunk is copied before it is used,
 * and the id hashed along over the copies must be `id`, else NBR_ECHANGED
 * and nothing recorded (the chunks written meanwhile stay unreferenced). */
nbr_status nbr_chunks_put_live(struct nbr_checkpoint *c, const nbr_object_id *id,
                               const char *name, const char *dtype, const nbr_array_view *view,
                               const uint64_t *chunk);

/* Reads a chunked array into `buffer` (its logical size) straight from the
 * chunk datasets (segment files opened through the store's cache), checking
 * each chunk's id and the array's.  NBR_ECORRUPT names the file, the object
 * and the chunk. */
nbr_status nbr_chunks_read(void *buffer, struct nbr_store *s, const nbr_object_entry *e);

/* The same through a buffer of one chunk (verify). */
nbr_status nbr_chunks_check(struct nbr_store *s, const nbr_object_entry *e);

/* Collective checkpoints: points the chunks of `e` that are in this rank's
 * segment `own` and that a lower rank also wrote (`lower`: chunk id ->
 * (that rank, index into `theirs`, the chunks every rank wrote, in rank
 * order)) at the lowest such rank's copy, in its segment segments[rank];
 * sets *moved if any was. */
nbr_status nbr_chunks_move(bool *moved, nbr_object_entry *e, const char *own,
                           const nbr_object_index *lower, const nbr_own_chunk *theirs,
                           char (*segments)[64]);

/* Sets each chunked entry's stored_bytes to what the chunks it is the first
 * (in entry order) to list in segment `own` occupy: the entries' own
 * definition, after chunks moved to other ranks' segments. */
nbr_status nbr_chunks_recount(nbr_object_entry *entries, size_t count, const char *own);

/* Where a chunk the store already has lives, and its stored size; false if
 * the store lacks it. */
bool nbr_chunks_find(const char **segment, uint64_t *stored, const struct nbr_store *s,
                     const nbr_object_id *chunk_id);

#endif
