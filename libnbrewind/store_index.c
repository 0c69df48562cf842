/* store_index.c - open-addressing table of object ids (see store_index.h). */
#include "store_index.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void nbr_object_index_init(nbr_object_index *index) { memset(index, 0, sizeof *index); }

void nbr_object_index_clear(nbr_object_index *index)
{
    free(index->slots);
    nbr_object_index_init(index);
}

static size_t slot_of(const nbr_object_id *id, size_t slot_count)
{
    uint64_t h;
    memcpy(&h, id->bytes, sizeof h);
    return (size_t)h & (slot_count - 1);
}

static nbr_index_slot *probe(nbr_index_slot *slots, size_t slot_count, const nbr_object_id *id)
{
    size_t i = slot_of(id, slot_count);
    while (slots[i].used && memcmp(slots[i].id.bytes, id->bytes, 16) != 0)
        i = (i + 1) & (slot_count - 1);
    return &slots[i];
}

static bool grow_to(nbr_object_index *index, size_t count)
{
    nbr_index_slot *slots = calloc(count, sizeof *slots);
    if (!slots) return false;
    for (size_t i = 0; i < index->slot_count; i++)
        if (index->slots[i].used) *probe(slots, count, &index->slots[i].id) = index->slots[i];
    free(index->slots);
    index->slots = slots;
    index->slot_count = count;
    return true;
}

static bool grow(nbr_object_index *index)
{
    return grow_to(index, index->slot_count ? index->slot_count * 2 : 64);
}

bool nbr_object_index_reserve(nbr_object_index *index, size_t count)
{
    size_t slots = index->slot_count ? index->slot_count : 64;
    while (count * 2 > slots) {
        if (slots > SIZE_MAX / 2 / sizeof(nbr_index_slot)) return false;
        slots *= 2;
    }
    return slots == index->slot_count || grow_to(index, slots);
}

bool nbr_object_index_add(nbr_object_index *index, const nbr_object_id *id, size_t checkpoint,
                          size_t object)
{
    return nbr_object_index_add_part(index, id, checkpoint, object, 0);
}

bool nbr_object_index_add_part(nbr_object_index *index, const nbr_object_id *id,
                               size_t checkpoint, size_t object, size_t part)
{
    if (checkpoint > UINT32_MAX || object > UINT32_MAX || part > UINT32_MAX) return false;
    /* Keep the load at most 1/2, so probes stay short. */
    if ((index->count + 1) * 2 > index->slot_count && !grow(index)) return false;
    nbr_index_slot *slot = probe(index->slots, index->slot_count, id);
    if (slot->used) return true;
    slot->id = *id;
    slot->checkpoint = (uint32_t)checkpoint;
    slot->object = (uint32_t)object;
    slot->part = (uint32_t)part;
    slot->used = true;
    index->count++;
    return true;
}

const nbr_index_slot *nbr_object_index_find(const nbr_object_index *index,
                                            const nbr_object_id *id)
{
    if (!index->slot_count) return NULL;
    const nbr_index_slot *slot = probe(index->slots, index->slot_count, id);
    return slot->used ? slot : NULL;
}
