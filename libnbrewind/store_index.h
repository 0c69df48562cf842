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

typedef struct nbr_index_slot {
    nbr_object_id id;
    size_t checkpoint; /* which manifest */
    size_t object;     /* which entry of its objects */
    size_t part;       /* chunk index: which of that entry's chunks */
    bool used;
} nbr_index_slot;

typedef struct nbr_object_index {
    nbr_index_slot *slots;
    size_t slot_count; /* a power of 2, or 0 */
    size_t count;
} nbr_object_index;

void nbr_object_index_init(nbr_object_index *index);
void nbr_object_index_clear(nbr_object_index *index);

/* Adds id -> (checkpoint, object) unless the id is present (the first
 * writer of an object stays its home).  false only when out of memory. */
bool nbr_object_index_add(nbr_object_index *index, const nbr_object_id *id, size_t checkpoint,
                          size_t object);

/* The same for a chunk, found at chunk `part` of that entry. */
bool nbr_object_index_add_part(nbr_object_index *index, const nbr_object_id *id,
                               size_t checkpoint, size_t object, size_t part);

/* The slot of `id`, or NULL. */
const nbr_index_slot *nbr_object_index_find(const nbr_object_index *index,
                                            const nbr_object_id *id);

#endif
