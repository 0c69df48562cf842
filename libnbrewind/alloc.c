/* alloc.c - string copies and growable arrays. */
#include "alloc.h"

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
