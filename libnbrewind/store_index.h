/* store_index.h - object id -> where its entry is (private).
 *
 * The store's object index is the union of all manifests' "objects"; a put
 * looks every id up in it, so it is a hash table.  Ids are already uniform
 * hashes: their first bytes are the slot. */
#ifndef NBR_STORE_INDEX_H
#define NBR_STORE_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* 32 bytes: a store's open builds one per object, so its size is the
 * memory the open touches. */
typedef struct nbr_index_slot {
    nbr_object_id id;
    uint32_t checkpoint; /* which manifest */
    uint32_t object;     /* which entry of its objects */
    uint32_t part;       /* chunk index: which of that entry's chunks */
    bool used;
} nbr_index_slot;

typedef struct nbr_object_index {
    nbr_index_slot *slots;
    size_t slot_count; /* a power of 2, or 0 */
    size_t count;
} nbr_object_index;

void nbr_object_index_init(nbr_object_index *index);
void nbr_object_index_clear(nbr_object_index *index);

/* Room for `count` ids without growing; false when out of memory. */
bool nbr_object_index_reserve(nbr_object_index *index, size_t count);

/* Adds id -> (checkpoint, object) unless the id is present (the first
 * writer of an object stays its home).  false when out of memory, or when
 * an index passes 2^32 - 1 (a store of 4 billion checkpoints, or an array
 * of 4 billion chunks: out of reach of any file system). */
bool nbr_object_index_add(nbr_object_index *index, const nbr_object_id *id, size_t checkpoint,
                          size_t object);

/* The same for a chunk, found at chunk `part` of that entry. */
bool nbr_object_index_add_part(nbr_object_index *index, const nbr_object_id *id,
                               size_t checkpoint, size_t object, size_t part);

/* The slot of `id`, or NULL. */
const nbr_index_slot *nbr_object_index_find(const nbr_object_index *index,
                                            const nbr_object_id *id);

#endif
