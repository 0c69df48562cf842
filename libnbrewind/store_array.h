/* store_array.h - an n-d array as the caller laid it out, walked in C order
 * (private).
 *
 * Hashing and writing both need the elements in C (row-major) order, whatever
 * the caller's strides: Fortran order, negative strides, any view.  A walker
 * copies them out in that order through a caller-sized buffer, so no full
 * copy is ever made.  A box of the array (a chunk) is walked the same way,
 * as a view with its own origin and shape. */
#ifndef NBR_STORE_ARRAY_H
#define NBR_STORE_ARRAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* NumPy 1.x and HDF5 (H5S_MAX_RANK) both stop at 32. */
#define NBR_MAX_DIMS 32

typedef struct nbr_array_view {
    const char *data;         /* element [0, 0, ...] */
    size_t ndim;
    uint64_t shape[NBR_MAX_DIMS];
    int64_t strides[NBR_MAX_DIMS]; /* bytes */
    size_t itemsize;
    uint64_t count;           /* elements */
    uint64_t bytes;           /* count * itemsize */
    bool c_contiguous;        /* the C-order bytes are data[0 .. bytes) */
} nbr_array_view;

/* Fills a view from the caller's description (strides NULL = C order).
 * NBR_EINVAL, naming `what`, for too many dimensions or a size overflow. */
nbr_status nbr_array_view_init(nbr_array_view *view, const void *data, size_t ndim,
                               const uint64_t *shape, const int64_t *strides, size_t itemsize,
                               const char *what);

/* The bytes of a box of `count` items along each of `ndim` dimensions (a
 * chunk, a grid's box), for sizes already checked to fit. */
size_t nbr_box_bytes(size_t itemsize, size_t ndim, const uint64_t *count);

/* The sub-view [start, start + count) of a view. */
void nbr_array_view_box(nbr_array_view *out, const nbr_array_view *view, const uint64_t *start,
                        const uint64_t *count);

/* Copies the box [start, start + count) of a view, in C order, into
 * `buffer` (at most `capacity` bytes). */
void nbr_array_view_copy_box(void *buffer, size_t capacity, const nbr_array_view *view,
                             const uint64_t *start, const uint64_t *count);

/* Copies a view's elements out in C order. */
typedef struct nbr_array_walker {
    const nbr_array_view *view;
    uint64_t index[NBR_MAX_DIMS]; /* the next element's multi-index */
    uint64_t done;                /* elements copied so far */
} nbr_array_walker;

void nbr_array_walker_init(nbr_array_walker *walker, const nbr_array_view *view);

/* Copies the next elements into `buffer` (room for at least one element),
 * as many as fit; returns the bytes copied, 0 at the end. */
size_t nbr_array_walker_next(nbr_array_walker *walker, void *buffer, size_t capacity);

/* Feeds an object's type header into a hasher (docs/store-format.md). */
nbr_status nbr_hash_array_header(nbr_hasher *hasher, const char *dtype, size_t ndim,
                                 const uint64_t *shape);
nbr_status nbr_hash_blob_header(nbr_hasher *hasher, const char *codec);

/* The id of an array: its header, then its C-order bytes, walked through
 * `scratch` (of `scratch_size` bytes) when the view is not C-contiguous. */
nbr_status nbr_hash_array(nbr_object_id *out, const char *dtype, const nbr_array_view *view,
                          void *scratch, size_t scratch_size);

/* The normal form of a NumPy dtype string (nbr_dtype_normalize) and its
 * element size; NBR_EINVAL naming `name` (the array's) for a bad dtype.
 * *out is owned by the caller (free). */
nbr_status nbr_array_dtype(char **out, size_t *itemsize, const char *name, const char *dtype);

/* nbr_hash_array with a scratch buffer of its own (for strided views). */
nbr_status nbr_array_view_id(nbr_object_id *out, const char *dtype, const nbr_array_view *view);

/* NBR_ECHANGED for array `name` (may be NULL), put live: its bytes, as
 * read, no longer hash to the id it was put with. */
nbr_status nbr_array_changed(const char *name);

/* The HDF5 chunk shape of an array: the leading axes are cut down until a
 * chunk holds at most about `chunk_bytes` (one element at least). */
void nbr_chunk_shape(uint64_t *chunk, size_t ndim, const uint64_t *shape, size_t itemsize,
                     uint64_t chunk_bytes);

/* A walk over the chunk grid of an array in C order: box k is
 * [start, start + count).  The chunks nbr_chunk_shape makes (leading axes
 * cut first) are each one contiguous byte range of the C-order stream, at
 * `offset` elements. */
typedef struct nbr_chunk_grid {
    size_t ndim;
    const uint64_t *shape, *chunk;
    uint64_t start[NBR_MAX_DIMS], count[NBR_MAX_DIMS];
    uint64_t offset; /* elements before the box, in C order (contiguous chunks) */
    uint64_t index;  /* which box, 0-based */
} nbr_chunk_grid;

/* The number of boxes: the product of ceil(shape / chunk), 0 if an axis
 * is empty, UINT64_MAX on overflow. */
uint64_t nbr_chunk_grid_count(size_t ndim, const uint64_t *shape, const uint64_t *chunk);

/* Starts at box 0 (ndim >= 1, no empty axis). */
void nbr_chunk_grid_init(nbr_chunk_grid *g, size_t ndim, const uint64_t *shape,
                         const uint64_t *chunk);

/* Moves to the next box; false after the last. */
bool nbr_chunk_grid_next(nbr_chunk_grid *g);

/* Whether every chunk of this shape is one contiguous run in C order: at
 * most one axis is cut to less than the array's extent, and every axis
 * before it has chunk extent 1. */
bool nbr_chunk_contiguous(size_t ndim, const uint64_t *shape, const uint64_t *chunk);

/* The id of one chunk: XXH3-128 over the header `nbr-chunk\0`, dtype, `\0`,
 * ndim and the box's extents (as an array's header), then its C-order
 * bytes (`data`, contiguous). */
nbr_status nbr_hash_chunk(nbr_object_id *out, const char *dtype, size_t ndim,
                          const uint64_t *count, const void *data, size_t bytes);

#endif
