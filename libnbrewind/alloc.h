/* alloc.h - string copies and growable arrays (private).  Every container in
 * the core grows the same way; this is that one way. */
#ifndef NBR_ALLOC_H
#define NBR_ALLOC_H

#include <stdbool.h>
#include <stddef.h>

/* A malloc'd NUL-terminated copy of the first `length` bytes of `s`, or NULL. */
char *nbr_copy_n(const char *s, size_t length);

/* A malloc'd copy of the string `s`, or NULL. */
char *nbr_copy(const char *s);

/* Grows `*items` (of `*capacity` elements of `size` bytes) to hold at least
 * `needed` elements, doubling.  Returns false, leaving it as it was, when out
 * of memory or on overflow. */
bool nbr_reserve(void **items, size_t *capacity, size_t needed, size_t size);

#define NBR_RESERVE(items, capacity, needed) \
    nbr_reserve((void **)&(items), &(capacity), (needed), sizeof *(items))

/* Many small pieces allocated one after another and freed all at once:
 * blocks that never move, carved in order.  Zero-initialise; owned by
 * whoever holds the struct, which frees it with nbr_arena_clear. */
typedef struct nbr_arena {
    struct nbr_arena_block *blocks; /* newest first */
} nbr_arena;

/* `size` bytes aligned to 8 (pointers, 64-bit integers; not long double),
 * or NULL when out of memory.  Valid until nbr_arena_clear. */
void *nbr_arena_alloc(nbr_arena *arena, size_t size);

/* A NUL-terminated copy of the first `length` bytes of `s` in the arena. */
char *nbr_arena_copy_n(nbr_arena *arena, const char *s, size_t length);

/* Frees every piece. */
void nbr_arena_clear(nbr_arena *arena);

#endif
