/* strset.h - an insertion-ordered set of owned strings (private).
 *
 * The analysis reports names in order of first appearance and the graph keys
 * everything by name, so one small structure serves both: a growable array for
 * order plus an open-addressing index for membership. */
#ifndef NBR_STRSET_H
#define NBR_STRSET_H

#include <stdbool.h>
#include <stddef.h>

struct nbr_arena;

typedef struct nbr_strset {
    char **items;      /* owned copies, in insertion order */
    size_t count;
    size_t capacity;
    size_t *slots;     /* index + 1 into items, 0 = empty; size is a power of 2 */
    size_t slot_count;
    /* Set by the owner of an empty set: the copies are carved from this
     * arena (alloc.h) and freed with it, not one by one. */
    struct nbr_arena *arena;
} nbr_strset;

void nbr_strset_init(nbr_strset *set);
void nbr_strset_clear(nbr_strset *set);

/* Adds a copy of `name` (of `length` bytes) unless present.  Returns false only
 * when out of memory. */
bool nbr_strset_add_n(nbr_strset *set, const char *name, size_t length);
bool nbr_strset_add(nbr_strset *set, const char *name);

/* Adds every member of `other`. */
bool nbr_strset_add_all(nbr_strset *set, const nbr_strset *other);

/* The index of `name`, or -1. */
long nbr_strset_find_n(const nbr_strset *set, const char *name, size_t length);
bool nbr_strset_contains(const nbr_strset *set, const char *name);

/* Removes `name` if present (keeps the order of the others). */
void nbr_strset_remove(nbr_strset *set, const char *name);
void nbr_strset_remove_n(nbr_strset *set, const char *name, size_t length);

/* Makes `set` a copy of `other`.  Returns false when out of memory. */
bool nbr_strset_copy(nbr_strset *set, const nbr_strset *other);

/* Removes the members added after the first `count` (an undo point). */
void nbr_strset_truncate(nbr_strset *set, size_t count);

/* Keeps only the members also in `other`. */
void nbr_strset_intersect(nbr_strset *set, const nbr_strset *other);

#endif
