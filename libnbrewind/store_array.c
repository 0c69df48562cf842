/* store_array.c - arrays walked in C order, and their ids (see store_array.h). */
#include "store_array.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "dtype.h"

/* Strided views are hashed through a buffer of this size: large enough that
 * the hasher runs at full speed, small enough never to matter. */
#define HASH_BUFFER (1u << 20)
/* A transposed view is hashed through room for a tile of whole planes, up to
 * this much (a 64 x 512 x 512 Fortran array's planes are 2 MB each). */
#define HASH_TILE_MAX (16u << 20)

nbr_status nbr_array_view_init(nbr_array_view *view, const void *data, size_t ndim,
                               const uint64_t *shape, const int64_t *strides, size_t itemsize,
                               const char *what)
{
    memset(view, 0, offsetof(nbr_array_view, shape));
    if (ndim > NBR_MAX_DIMS)
        return nbr_fail(NBR_EINVAL, "%s: %zu dimensions (at most %d)", what, ndim, NBR_MAX_DIMS);
    if (ndim > 0 && !shape) return nbr_fail(NBR_EINVAL, "%s: shape is NULL", what);
    view->data = data;
    view->ndim = ndim;
    view->itemsize = itemsize;
    uint64_t count = 1;
    for (size_t i = 0; i < ndim; i++) {
        view->shape[i] = shape[i];
        if (shape[i] && count > UINT64_MAX / shape[i])
            return nbr_fail(NBR_EINVAL, "%s: the shape's size overflows", what);
        count *= shape[i];
    }
    if (itemsize && count > (uint64_t)SIZE_MAX / itemsize)
        return nbr_fail(NBR_EINVAL, "%s: the array's size in bytes overflows", what);
    view->count = count;
    view->bytes = count * itemsize;
    /* C strides, then the caller's; a dimension of extent 1 may have any
     * stride (NumPy's rule), so it does not break contiguity. */
    int64_t step = (int64_t)itemsize;
    view->c_contiguous = true;
    for (size_t i = ndim; i-- > 0;) {
        view->strides[i] = strides ? strides[i] : step;
        if (shape[i] != 1 && view->strides[i] != step) view->c_contiguous = false;
        step *= (int64_t)(shape[i] ? shape[i] : 1);
    }
    if (count && !data) return nbr_fail(NBR_EINVAL, "%s: data is NULL", what);
    return NBR_OK;
}

size_t nbr_box_bytes(size_t itemsize, size_t ndim, const uint64_t *count)
{
    size_t bytes = itemsize;
    for (size_t i = 0; i < ndim; i++) bytes *= (size_t)count[i];
    return bytes;
}

void nbr_array_view_box(nbr_array_view *out, const nbr_array_view *view, const uint64_t *start,
                        const uint64_t *count)
{
    *out = *view;
    uint64_t n = 1;
    for (size_t i = 0; i < view->ndim; i++) {
        out->data += (int64_t)start[i] * view->strides[i];
        out->shape[i] = count[i];
        n *= count[i];
    }
    out->count = n;
    out->bytes = n * view->itemsize;
    out->c_contiguous = false; /* only a hint; walking is always right */
}

void nbr_array_view_copy_box(void *buffer, size_t capacity, const nbr_array_view *view,
                             const uint64_t *start, const uint64_t *count)
{
    nbr_array_view box;
    nbr_array_walker w;
    nbr_array_view_box(&box, view, start, count);
    nbr_array_walker_init(&w, &box);
    nbr_array_walker_next(&w, buffer, capacity);
}

void nbr_array_walker_init(nbr_array_walker *walker, const nbr_array_view *view)
{
    memset(walker, 0, sizeof *walker);
    walker->view = view;
}

/* The address of the walker's next element. */
static const char *walker_at(const nbr_array_walker *w)
{
    const char *p = w->view->data;
    for (size_t i = 0; i < w->view->ndim; i++) p += (int64_t)w->index[i] * w->view->strides[i];
    return p;
}

/* Moves the multi-index `steps` elements on along the last axis, carrying. */
static void walker_advance(nbr_array_walker *w, uint64_t steps)
{
    const nbr_array_view *v = w->view;
    w->done += steps;
    if (v->ndim == 0) return;
    size_t i = v->ndim - 1;
    w->index[i] += steps;
    while (i > 0 && w->index[i] >= v->shape[i]) {
        w->index[i] = 0;
        w->index[--i]++;
    }
}

/* Planes gathered at once from a transposed layout: 16 float64 are two
 * cache lines along the contiguous axis. */
#define TILE_PLANES 16

/* The axis whose elements are adjacent in memory when it is not the last
 * one (Fortran order, `.T` of a C array, a transposed slab): the view is
 * then walked in tiles.  NBR_MAX_DIMS if there is none. */
static size_t transposed_axis(const nbr_array_view *v)
{
    if (v->ndim < 2 || v->strides[v->ndim - 1] == (int64_t)v->itemsize) return NBR_MAX_DIMS;
    for (size_t p = v->ndim - 1; p-- > 0;)
        if (v->strides[p] == (int64_t)v->itemsize && v->shape[p] > 1) return p;
    return NBR_MAX_DIMS;
}

/* Elements in one plane after axis p: one index along axes 0..p fixed. */
static uint64_t plane_size(const nbr_array_view *v, size_t p)
{
    uint64_t n = 1;
    for (size_t a = p + 1; a < v->ndim; a++) n *= v->shape[a];
    return n;
}

/* How many planes after the transposed axis p to gather at once: the walker
 * must be at the start of one, with room for two or more. */
static size_t tile_planes(const nbr_array_walker *w, size_t p, size_t room)
{
    const nbr_array_view *v = w->view;
    if (p >= v->ndim) return 0;
    for (size_t a = p + 1; a < v->ndim; a++)
        if (w->index[a] != 0) return 0;
    uint64_t plane = plane_size(v, p), n = room / plane, left = v->shape[p] - w->index[p];
    if (n > left) n = left;
    if (n > TILE_PLANES) n = TILE_PLANES;
    return plane >= 2 && n >= 2 ? (size_t)n : 0;
}

/* Copies `planes` whole planes after axis p in C order: each read takes
 * `planes` consecutive elements along p (the element-by-element walk takes
 * one cache line per element, about 1.6 GB/s on a 134 MB array), and the
 * plane itself is walked in C order, row by row along the last axis. */
static void gather_planes(char *out, const char *src, size_t planes, const nbr_array_view *v,
                          size_t p)
{
    size_t item = v->itemsize, last = v->ndim - 1;
    uint64_t plane = plane_size(v, p), cols = v->shape[last];
    int64_t col_stride = v->strides[last];
    uint64_t index[NBR_MAX_DIMS] = {0}; /* over the axes between p and the last */
    for (uint64_t q = 0; q < plane; q += cols) {
        const char *s = src;
        for (size_t a = p + 1; a < last; a++) s += (int64_t)index[a] * v->strides[a];
        for (uint64_t c = 0; c < cols; c++, s += col_stride) {
            if (item == 8) {
                for (size_t t = 0; t < planes; t++)
                    memcpy(out + ((size_t)(t * plane + q + c)) * 8, s + t * 8, 8);
            } else {
                for (size_t t = 0; t < planes; t++)
                    memcpy(out + ((size_t)(t * plane + q + c)) * item, s + t * item, item);
            }
        }
        for (size_t a = last; a-- > p + 1;) { /* the next row of the plane */
            if (++index[a] < v->shape[a]) break;
            index[a] = 0;
        }
    }
}

/* Moves the walker past `planes` whole planes after axis p, carrying. */
static void walker_skip_planes(nbr_array_walker *w, size_t p, size_t planes)
{
    const nbr_array_view *v = w->view;
    w->done += planes * plane_size(v, p);
    w->index[p] += planes;
    for (size_t a = p; a > 0 && w->index[a] >= v->shape[a]; a--) {
        w->index[a] = 0;
        w->index[a - 1]++;
    }
}

size_t nbr_array_walker_next(nbr_array_walker *w, void *buffer, size_t capacity)
{
    const nbr_array_view *v = w->view;
    size_t item = v->itemsize, room = item ? capacity / item : 0, copied = 0;
    char *out = buffer;
    size_t p = transposed_axis(v);
    while (copied < room && w->done < v->count) {
        size_t planes = tile_planes(w, p, room - copied);
        if (planes) {
            gather_planes(out + copied * item, walker_at(w), planes, v, p);
            copied += planes * (size_t)plane_size(v, p);
            walker_skip_planes(w, p, planes);
            continue;
        }
        const char *src = walker_at(w);
        /* The rest of the current row along the last axis. */
        uint64_t row = v->ndim ? v->shape[v->ndim - 1] - w->index[v->ndim - 1] : 1;
        uint64_t n = row < room - copied ? row : room - copied;
        int64_t stride = v->ndim ? v->strides[v->ndim - 1] : (int64_t)item;
        if (stride == (int64_t)item) {
            memcpy(out + copied * item, src, (size_t)n * item);
        } else {
            for (uint64_t k = 0; k < n; k++)
                memcpy(out + (copied + k) * item, src + (int64_t)k * stride, item);
        }
        copied += (size_t)n;
        walker_advance(w, n);
    }
    return copied * item;
}

static void le64(uint8_t out[8], uint64_t v)
{
    for (int i = 0; i < 8; i++) out[i] = (uint8_t)(v >> (8 * i));
}

/* An array's or a chunk's header: `magic` (with its NUL), dtype, extents. */
static nbr_status hash_header(nbr_hasher *hasher, const char *magic, size_t magic_size,
                              const char *dtype, size_t ndim, const uint64_t *shape)
{
    uint8_t word[8];
    nbr_status st = nbr_hasher_update(hasher, magic, magic_size);
    if (st == NBR_OK) st = nbr_hasher_update(hasher, dtype, strlen(dtype) + 1);
    le64(word, ndim);
    if (st == NBR_OK) st = nbr_hasher_update(hasher, word, 8);
    for (size_t i = 0; st == NBR_OK && i < ndim; i++) {
        le64(word, shape[i]);
        st = nbr_hasher_update(hasher, word, 8);
    }
    return st;
}

nbr_status nbr_hash_array_header(nbr_hasher *hasher, const char *dtype, size_t ndim,
                                 const uint64_t *shape)
{
    return hash_header(hasher, "nbr-array", sizeof "nbr-array", dtype, ndim, shape);
}

nbr_status nbr_hash_chunk(nbr_object_id *out, const char *dtype, size_t ndim,
                          const uint64_t *count, const void *data, size_t bytes)
{
    nbr_hasher *hasher;
    nbr_status st = nbr_hasher_new(&hasher);
    if (st != NBR_OK) return st;
    st = hash_header(hasher, "nbr-chunk", sizeof "nbr-chunk", dtype, ndim, count);
    if (st == NBR_OK) st = nbr_hasher_update(hasher, data, bytes);
    if (st == NBR_OK) st = nbr_hasher_digest(out, hasher);
    nbr_hasher_free(hasher);
    return st;
}

nbr_status nbr_hash_blob_header(nbr_hasher *hasher, const char *codec)
{
    nbr_status st = nbr_hasher_update(hasher, "nbr-blob", sizeof "nbr-blob");
    if (st == NBR_OK) st = nbr_hasher_update(hasher, codec, strlen(codec) + 1);
    return st;
}

nbr_status nbr_hash_array(nbr_object_id *out, const char *dtype, const nbr_array_view *view,
                          void *scratch, size_t scratch_size)
{
    nbr_hasher *hasher;
    nbr_status st = nbr_hasher_new(&hasher);
    if (st != NBR_OK) return st;
    st = nbr_hash_array_header(hasher, dtype, view->ndim, view->shape);
    if (st == NBR_OK && view->c_contiguous) {
        st = nbr_hasher_update(hasher, view->data, (size_t)view->bytes);
    } else if (st == NBR_OK) {
        nbr_array_walker w;
        nbr_array_walker_init(&w, view);
        size_t got;
        while (st == NBR_OK && (got = nbr_array_walker_next(&w, scratch, scratch_size)) > 0)
            st = nbr_hasher_update(hasher, scratch, got);
    }
    if (st == NBR_OK) st = nbr_hasher_digest(out, hasher);
    nbr_hasher_free(hasher);
    return st;
}

void nbr_chunk_shape(uint64_t *chunk, size_t ndim, const uint64_t *shape, size_t itemsize,
                     uint64_t chunk_bytes)
{
    for (size_t i = 0; i < ndim; i++) chunk[i] = shape[i] ? shape[i] : 1;
    uint64_t budget = itemsize ? chunk_bytes / itemsize : chunk_bytes;
    if (budget == 0) budget = 1;
    for (size_t i = 0; i < ndim; i++) {
        uint64_t inner = 1; /* elements in one step along axis i */
        for (size_t j = i + 1; j < ndim; j++) inner *= chunk[j];
        if (chunk[i] * inner <= budget) return;
        uint64_t fit = budget / inner;
        if (fit >= 1) {
            chunk[i] = fit;
            return;
        }
        chunk[i] = 1; /* still too big: cut the next axis as well */
    }
}

nbr_status nbr_array_dtype(char **out, size_t *itemsize, const char *name, const char *dtype)
{
    *out = NULL;
    if (!dtype) return nbr_fail(NBR_EINVAL, "array \"%s\": dtype is NULL", name);
    nbr_status st = nbr_dtype_normalize(out, dtype);
    if (st == NBR_OK) st = nbr_dtype_itemsize(itemsize, *out);
    if (st == NBR_OK || st == NBR_ENOMEM) return st;
    char *why = nbr_copy(nbr_last_error()); /* nbr_fail writes over it */
    st = nbr_fail(NBR_EINVAL, "array \"%s\": %s", name, why ? why : dtype);
    free(why);
    free(*out);
    *out = NULL;
    return st;
}

/* Scratch for hashing a view: HASH_BUFFER, or more for a tile of planes. */
static size_t hash_scratch_size(const nbr_array_view *view)
{
    size_t p = transposed_axis(view), size = HASH_BUFFER;
    if (p < view->ndim) {
        uint64_t plane_bytes = plane_size(view, p) * view->itemsize;
        if (plane_bytes > HASH_TILE_MAX / TILE_PLANES) size = HASH_TILE_MAX;
        else if (TILE_PLANES * plane_bytes > size) size = (size_t)(TILE_PLANES * plane_bytes);
    }
    return size + view->itemsize;
}

nbr_status nbr_array_view_id(nbr_object_id *out, const char *dtype, const nbr_array_view *view)
{
    size_t size = hash_scratch_size(view);
    void *scratch = view->c_contiguous ? NULL : malloc(size);
    if (!view->c_contiguous && !scratch) return nbr_fail_nomem("hashing an array");
    nbr_status st = nbr_hash_array(out, dtype, view, scratch, size);
    free(scratch);
    return st;
}

nbr_status nbr_array_changed(const char *name)
{
    return nbr_fail(NBR_ECHANGED,
                    "array \"%s\" changed while it was being stored (its bytes no longer "
                    "hash to the id it was put with): nothing was bound",
                    name ? name : "(unnamed)");
}

nbr_status nbr_array_hash(nbr_object_id *out, const char *dtype, size_t ndim,
                          const uint64_t *shape, const int64_t *strides, const void *data)
{
    char *normal = NULL;
    size_t itemsize = 0;
    nbr_array_view view;
    if (!out) return nbr_fail(NBR_EINVAL, "nbr_array_hash: out is NULL");
    memset(out, 0, sizeof *out);
    nbr_status st = nbr_array_dtype(&normal, &itemsize, "(hashed)", dtype);
    if (st == NBR_OK)
        st = nbr_array_view_init(&view, data, ndim, shape, strides, itemsize, "nbr_array_hash");
    if (st == NBR_OK) st = nbr_array_view_id(out, normal, &view);
    free(normal);
    return st;
}

nbr_status nbr_blob_hash(nbr_object_id *out, const char *codec, const void *data, size_t size)
{
    nbr_hasher *hasher = NULL;
    if (!out) return nbr_fail(NBR_EINVAL, "nbr_blob_hash: out is NULL");
    memset(out, 0, sizeof *out);
    if (!codec || !*codec) return nbr_fail(NBR_EINVAL, "nbr_blob_hash: codec is NULL or empty");
    if (!data && size) return nbr_fail(NBR_EINVAL, "nbr_blob_hash: data is NULL");
    nbr_status st = nbr_hasher_new(&hasher);
    if (st == NBR_OK) st = nbr_hash_blob_header(hasher, codec);
    if (st == NBR_OK) st = nbr_hasher_update(hasher, data, size);
    if (st == NBR_OK) st = nbr_hasher_digest(out, hasher);
    nbr_hasher_free(hasher);
    return st;
}

/* ---- chunk grids ------------------------------------------------------- */

uint64_t nbr_chunk_grid_count(size_t ndim, const uint64_t *shape, const uint64_t *chunk)
{
    uint64_t n = 1;
    for (size_t i = 0; i < ndim; i++) {
        if (shape[i] == 0 || chunk[i] == 0) return 0;
        uint64_t along = (shape[i] - 1) / chunk[i] + 1;
        if (n > UINT64_MAX / along) return UINT64_MAX;
        n *= along;
    }
    return n;
}

/* The box's extents and C-order offset from its start. */
static void grid_box(nbr_chunk_grid *g)
{
    uint64_t inner = 1;
    g->offset = 0;
    for (size_t i = g->ndim; i-- > 0;) {
        uint64_t left = g->shape[i] - g->start[i];
        g->count[i] = left < g->chunk[i] ? left : g->chunk[i];
        g->offset += g->start[i] * inner;
        inner *= g->shape[i];
    }
}

void nbr_chunk_grid_init(nbr_chunk_grid *g, size_t ndim, const uint64_t *shape,
                         const uint64_t *chunk)
{
    memset(g, 0, sizeof *g);
    g->ndim = ndim;
    g->shape = shape;
    g->chunk = chunk;
    grid_box(g);
}

bool nbr_chunk_grid_next(nbr_chunk_grid *g)
{
    size_t i = g->ndim - 1;
    while ((g->start[i] += g->chunk[i]) >= g->shape[i]) {
        g->start[i] = 0;
        if (i-- == 0) return false;
    }
    g->index++;
    grid_box(g);
    return true;
}

bool nbr_chunk_contiguous(size_t ndim, const uint64_t *shape, const uint64_t *chunk)
{
    size_t i = 0;
    while (i < ndim && chunk[i] == 1) i++;
    for (i++; i < ndim; i++) /* after the first axis not cut to 1: whole */
        if (chunk[i] != shape[i]) return false;
    return true;
}
