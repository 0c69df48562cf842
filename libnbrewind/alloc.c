/* alloc.c - string copies and growable arrays. */
#include "alloc.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

char *nbr_copy_n(const char *s, size_t length)
{
    char *copy = malloc(length + 1);
    if (!copy) return NULL;
    memcpy(copy, s, length);
    copy[length] = '\0';
    return copy;
}

char *nbr_copy(const char *s) { return nbr_copy_n(s, strlen(s)); }

bool nbr_reserve(void **items, size_t *capacity, size_t needed, size_t size)
{
    if (needed <= *capacity) return true;
    size_t wanted = *capacity ? *capacity : 4;
    while (wanted < needed) {
        if (wanted > SIZE_MAX / 2) return false;
        wanted *= 2;
    }
    if (wanted > SIZE_MAX / size) return false;
    void *grown = realloc(*items, wanted * size);
    if (!grown) return false;
    *items = grown;
    *capacity = wanted;
    return true;
}

/* Large enough that a store's INDEX (tens of thousands of small strings)
 * costs a few hundred mallocs, small enough not to matter for a handful. */
#define ARENA_BLOCK ((size_t)64 << 10)
/* Pointers and 64-bit integers (what the store puts in its arena), not
 * max_align_t's 16: most pieces are short strings. */
#define ARENA_ALIGN ((size_t)8)

struct nbr_arena_block {
    struct nbr_arena_block *next;
    size_t used, size;
    max_align_t data[]; /* `size` bytes */
};

static struct nbr_arena_block *arena_grow(nbr_arena *a, size_t size)
{
    size_t room = size > ARENA_BLOCK ? size : ARENA_BLOCK;
    if (room > SIZE_MAX - sizeof(struct nbr_arena_block)) return NULL;
    struct nbr_arena_block *b = malloc(sizeof *b + room);
    if (!b) return NULL;
    b->used = 0;
    b->size = room;
    /* A piece larger than a block gets a block of its own behind the
     * current one, which keeps its room for the pieces to come. */
    if (size > ARENA_BLOCK && a->blocks) {
        b->next = a->blocks->next;
        a->blocks->next = b;
    } else {
        b->next = a->blocks;
        a->blocks = b;
    }
    return b;
}

void *nbr_arena_alloc(nbr_arena *a, size_t size)
{
    if (size > SIZE_MAX - ARENA_ALIGN) return NULL;
    size_t rounded = (size + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
    struct nbr_arena_block *b = a->blocks;
    if (!b || b->size - b->used < rounded) b = arena_grow(a, rounded);
    if (!b) return NULL;
    void *piece = (char *)b->data + b->used;
    b->used += rounded;
    return piece;
}

char *nbr_arena_copy_n(nbr_arena *a, const char *s, size_t length)
{
    if (length == SIZE_MAX) return NULL;
    char *copy = nbr_arena_alloc(a, length + 1);
    if (!copy) return NULL;
    memcpy(copy, s, length);
    copy[length] = '\0';
    return copy;
}

void nbr_arena_clear(nbr_arena *a)
{
    while (a->blocks) {
        struct nbr_arena_block *next = a->blocks->next;
        free(a->blocks);
        a->blocks = next;
    }
}
