/* strset.c - insertion-ordered string set with a hash index. */
#include "strset.h"

#include "alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a: tiny keys, no need for more */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

void nbr_strset_init(nbr_strset *set) { memset(set, 0, sizeof *set); }

/* Frees a copy the set made (unless the arena holds it). */
static void drop_copy(const nbr_strset *set, char *copy)
{
    if (!set->arena) free(copy);
}

void nbr_strset_clear(nbr_strset *set)
{
    for (size_t i = 0; i < set->count; i++) drop_copy(set, set->items[i]);
    free(set->items);
    free(set->slots);
    nbr_strset_init(set);
}

/* Up to this many items a set has no index: a scan of a few short strings
 * is as fast as hashing, and most sets (a cell's names, a checkpoint's
 * bindings) are that small, so each saves an allocation. */
#define SMALL 8

static bool rebuild_index(nbr_strset *set, size_t slot_count)
{
    size_t *slots = calloc(slot_count, sizeof *slots);
    if (!slots) return false;
    for (size_t i = 0; i < set->count; i++) {
        size_t mask = slot_count - 1;
        size_t at = hash_bytes(set->items[i], strlen(set->items[i])) & mask;
        while (slots[at]) at = (at + 1) & mask;
        slots[at] = i + 1;
    }
    free(set->slots);
    set->slots = slots;
    set->slot_count = slot_count;
    return true;
}

static void drop_index(nbr_strset *set)
{
    free(set->slots);
    set->slots = NULL;
    set->slot_count = 0;
}

/* After items moved: an index for the items as they are now, none for a
 * small set; if it cannot be rebuilt for lack of memory, none either
 * (lookups then fall back to a scan). */
static void reindex(nbr_strset *set)
{
    size_t slot_count = 16;
    while (set->count * 2 > slot_count) slot_count *= 2;
    if (set->count <= SMALL || !rebuild_index(set, slot_count)) drop_index(set);
}

long nbr_strset_find_n(const nbr_strset *set, const char *name, size_t length)
{
    if (!set->slot_count) { /* no index (empty, or it could not be rebuilt) */
        for (size_t i = 0; i < set->count; i++)
            if (strncmp(set->items[i], name, length) == 0 && set->items[i][length] == '\0')
                return (long)i;
        return -1;
    }
    size_t mask = set->slot_count - 1;
    size_t at = hash_bytes(name, length) & mask;
    while (set->slots[at]) {
        const char *item = set->items[set->slots[at] - 1];
        if (strncmp(item, name, length) == 0 && item[length] == '\0')
            return (long)(set->slots[at] - 1);
        at = (at + 1) & mask;
    }
    return -1;
}

bool nbr_strset_contains(const nbr_strset *set, const char *name)
{
    return nbr_strset_find_n(set, name, strlen(name)) >= 0;
}

bool nbr_strset_add_n(nbr_strset *set, const char *name, size_t length)
{
    if (nbr_strset_find_n(set, name, length) >= 0) return true;
    if (set->count == set->capacity) {
        size_t capacity = set->capacity ? set->capacity * 2 : 8;
        char **items = realloc(set->items, capacity * sizeof *items);
        if (!items) return false;
        set->items = items;
        set->capacity = capacity;
    }
    char *copy = set->arena ? nbr_arena_copy_n(set->arena, name, length) : nbr_copy_n(name, length);
    if (!copy) return false;
    set->items[set->count++] = copy;
    if (set->count <= SMALL) return true;
    /* Keep the load factor under one half so probes stay short. */
    if (set->count * 2 > set->slot_count) {
        size_t slot_count = set->slot_count ? set->slot_count * 2 : 16;
        while (set->count * 2 > slot_count) slot_count *= 2;
        if (!rebuild_index(set, slot_count)) {
            drop_copy(set, set->items[--set->count]);
            return false;
        }
        return true;
    }
    size_t mask = set->slot_count - 1;
    size_t at = hash_bytes(copy, length) & mask;
    while (set->slots[at]) at = (at + 1) & mask;
    set->slots[at] = set->count;
    return true;
}

bool nbr_strset_add(nbr_strset *set, const char *name)
{
    return nbr_strset_add_n(set, name, strlen(name));
}

bool nbr_strset_add_all(nbr_strset *set, const nbr_strset *other)
{
    for (size_t i = 0; i < other->count; i++)
        if (!nbr_strset_add(set, other->items[i])) return false;
    return true;
}

void nbr_strset_remove(nbr_strset *set, const char *name)
{
    nbr_strset_remove_n(set, name, strlen(name));
}

void nbr_strset_remove_n(nbr_strset *set, const char *name, size_t length)
{
    long at = nbr_strset_find_n(set, name, length);
    if (at < 0) return;
    drop_copy(set, set->items[at]);
    memmove(&set->items[at], &set->items[at + 1],
            (set->count - (size_t)at - 1) * sizeof *set->items);
    set->count--;
    reindex(set); /* indices above `at` moved */
}

bool nbr_strset_copy(nbr_strset *set, const nbr_strset *other)
{
    nbr_strset copy;
    nbr_strset_init(&copy);
    if (!nbr_strset_add_all(&copy, other)) {
        nbr_strset_clear(&copy);
        return false;
    }
    nbr_strset_clear(set);
    *set = copy;
    return true;
}

void nbr_strset_intersect(nbr_strset *set, const nbr_strset *other)
{
    size_t kept = 0;
    for (size_t i = 0; i < set->count; i++) {
        if (nbr_strset_contains(other, set->items[i]))
            set->items[kept++] = set->items[i];
        else
            drop_copy(set, set->items[i]);
    }
    set->count = kept;
    reindex(set);
}

void nbr_strset_truncate(nbr_strset *set, size_t count)
{
    if (count >= set->count) return;
    for (size_t i = count; i < set->count; i++) drop_copy(set, set->items[i]);
    set->count = count;
    reindex(set);
}
