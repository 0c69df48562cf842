/* store_segment.c - objects as HDF5 datasets (see store_segment.h). */
#include "store_segment.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtype.h"
#include "store_vfd.h"

/* Large enough that re-hashing streams at memory speed, small enough to
 * allocate for every object checked. */
#define CHECK_BUFFER (4u << 20)

/* HDF5 prints its error stack to stderr unless told not to; a library must
 * not print, so every HDF5 call runs inside QUIET. */
#define QUIET(...)                       \
    do {                                 \
        H5E_BEGIN_TRY { __VA_ARGS__; }   \
        H5E_END_TRY;                     \
    } while (0)

static herr_t innermost(unsigned n, const H5E_error2_t *err, void *data)
{
    if (n == 0 && err->desc) snprintf(data, 320, "%s", err->desc);
    return 0;
}

/* Fails with `status`, naming the file, the object (if any), the step and
 * HDF5's most specific error (which carries errno's text for I/O). */
static nbr_status h5_fail(nbr_status status, const char *path, const nbr_object_id *id,
                          const char *what)
{
    char cause[320] = "", hex[33] = "";
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, innermost, cause);
    if (id) nbr_object_id_to_hex(hex, id);
    return nbr_fail(status, "%s%s%s: %s failed%s%s", path, id ? ": object " : "", hex, what,
                    *cause ? ": " : "", cause);
}

static void dataset_name(char *out, size_t size, const nbr_object_id *id)
{
    char hex[33];
    nbr_object_id_to_hex(hex, id);
    snprintf(out, size, "/objects/%s", hex);
}

static void chunk_name(char *out, size_t size, const nbr_object_id *id)
{
    char hex[33];
    nbr_object_id_to_hex(hex, id);
    snprintf(out, size, "/chunks/%s", hex);
}

/* /chunks exists only in segments that hold chunks: made on first use. */
static herr_t ensure_chunks_group(hid_t file)
{
    htri_t exists = H5Lexists(file, "chunks", H5P_DEFAULT);
    if (exists != 0) return exists < 0 ? -1 : 0;
    hid_t group = H5Gcreate2(file, "chunks", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    return group < 0 ? -1 : H5Gclose(group);
}

/* The first write error the driver recorded, as a failure naming the file,
 * the object (if any) and the step. */
static nbr_status io_failed(const nbr_segment_out *seg, const nbr_object_id *id, const char *what)
{
    char hex[33] = "";
    if (id) nbr_object_id_to_hex(hex, id);
    return nbr_fail(NBR_EIO, "%s%s%s: %s failed: %s", seg->path, id ? ": object " : "", hex, what,
                    strerror(seg->io_errno));
}

static nbr_status create_impl(nbr_segment_out *seg)
{
    hid_t fapl = nbr_vfd_fapl(&seg->io_errno);
    if (fapl >= 0) H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
    /* The 1.10 file format: groups live in their object headers and a
     * dataset of one chunk (each shared chunk) needs no B-tree, which cuts a
     * segment's metadata several times over (docs/store-format.md). */
    if (fapl >= 0) H5Pset_libver_bounds(fapl, H5F_LIBVER_V110, H5F_LIBVER_V110);
    /* HDF5 sets metadata space aside 2 KiB at a time by default; a segment of
     * one new chunk has far less metadata besides its virtual dataset's
     * heap, so most of such a block stayed empty in each file.  Without the
     * aggregation (block size 0) each piece of metadata takes what it needs
     * (docs/performance.md, "Store size under small overwrites").  Segments
     * are written once and read whole, so where the pieces lie does not
     * matter. */
    if (fapl >= 0) H5Pset_meta_block_size(fapl, 0);
    hid_t file = fapl < 0 ? -1 : H5Fcreate(seg->path, H5F_ACC_EXCL, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (file < 0) return h5_fail(NBR_EIO, seg->path, NULL, "creating the segment");
    hid_t group = H5Gcreate2(file, "objects", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (group >= 0) H5Gclose(group);
    seg->file = file;
    if (group < 0) return h5_fail(NBR_EIO, seg->path, NULL, "creating /objects");
    return seg->io_errno ? io_failed(seg, NULL, "creating the segment") : NBR_OK;
}

nbr_status nbr_segment_create(nbr_segment_out *seg, const char *path)
{
    nbr_status st = NBR_OK;
    seg->file = -1;
    seg->io_errno = 0;
    seg->path = path;
    QUIET(st = create_impl(seg));
    if (st != NBR_OK) nbr_segment_discard(seg);
    return st;
}

nbr_status nbr_segment_open(hid_t *out, const char *path)
{
    nbr_status st = NBR_OK;
    hid_t file = -1;
    QUIET({
        hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
        /* Segments are immutable and the store has its own lock: HDF5's
         * flock adds nothing and fails on some NFS and Lustre mounts. */
        if (fapl >= 0) H5Pset_file_locking(fapl, 0, 1);
        file = fapl < 0 ? -1 : H5Fopen(path, H5F_ACC_RDONLY, fapl);
        H5Pclose(fapl);
        if (file < 0) st = h5_fail(NBR_ECORRUPT, path, NULL, "opening the segment");
    });
    *out = file;
    return st;
}

void nbr_segment_close(hid_t file)
{
    if (file >= 0) QUIET(H5Fclose(file));
}

nbr_status nbr_segment_finish(nbr_segment_out *seg)
{
    nbr_status st = NBR_OK;
    if (seg->file < 0) return NBR_OK;
    QUIET({
        if (H5Fclose(seg->file) < 0) st = h5_fail(NBR_EIO, seg->path, NULL, "closing the segment");
    });
    seg->file = -1;
    if (st == NBR_OK && seg->io_errno) st = io_failed(seg, NULL, "writing the segment");
    return st;
}

void nbr_segment_discard(nbr_segment_out *seg)
{
    /* The driver drops every write after the first failure, and reports
     * none to HDF5, so closing cannot fail here. */
    if (seg->io_errno == 0) seg->io_errno = ECANCELED;
    nbr_segment_close(seg->file);
    seg->file = -1;
}

/* ---- writing ----------------------------------------------------------- */

static herr_t put_string_attr(hid_t ds, const char *name, const char *value)
{
    hid_t type = H5Tcopy(H5T_C_S1), space = H5Screate(H5S_SCALAR);
    size_t len = strlen(value);
    H5Tset_size(type, len ? len : 1);
    H5Tset_strpad(type, H5T_STR_NULLPAD);
    hid_t attr = H5Acreate2(ds, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = attr < 0 ? -1 : H5Awrite(attr, type, value);
    if (attr >= 0) H5Aclose(attr);
    H5Sclose(space);
    H5Tclose(type);
    return rc;
}

/* `kind_name`: "array", "blob" or "chunk" (a chunk's type is a dtype). */
static herr_t put_attributes(hid_t ds, const char *kind_name, const char *type, uint64_t logical)
{
    bool blob = !strcmp(kind_name, "blob");
    herr_t rc = put_string_attr(ds, "nbr_kind", kind_name);
    if (rc >= 0) rc = put_string_attr(ds, blob ? "nbr_codec" : "nbr_dtype", type);
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t attr =
        H5Acreate2(ds, "nbr_logical_bytes", H5T_STD_U64LE, space, H5P_DEFAULT, H5P_DEFAULT);
    if (rc >= 0) rc = attr < 0 ? -1 : H5Awrite(attr, H5T_NATIVE_UINT64, &logical);
    if (attr >= 0) H5Aclose(attr);
    H5Sclose(space);
    return rc;
}

static hid_t make_space(const nbr_array_view *v)
{
    if (v->ndim == 0) return H5Screate(H5S_SCALAR);
    hsize_t dims[NBR_MAX_DIMS];
    for (size_t i = 0; i < v->ndim; i++) dims[i] = v->shape[i];
    return H5Screate_simple((int)v->ndim, dims, NULL);
}

/* Chunking and (if a sample chunk compresses) the Blosc filter.  Fills
 * `chunk`; `buffer` (one chunk) holds the sample when the view is strided.
 * *compress: -1 = the sample decides (and *compress gets the decision), else
 * decided already (the chunks of one array, which the first one decides). */
static nbr_status layout(hid_t dcpl, uint64_t *chunk, const nbr_array_view *v, void *buffer,
                         size_t chunk_size, const nbr_store_options *o, int *compress)
{
    hsize_t dims[NBR_MAX_DIMS];
    nbr_chunk_shape(chunk, v->ndim, v->shape, v->itemsize, o->chunk_bytes);
    for (size_t i = 0; i < v->ndim; i++) dims[i] = chunk[i];
    if (H5Pset_chunk(dcpl, (int)v->ndim, dims) < 0) return NBR_EIO;
    if (*compress >= 0)
        return *compress ? nbr_blosc_set_filter(dcpl, o->level, o->shuffle, o->codec) : NBR_OK;
    const void *sample = v->data;
    size_t sample_size = v->bytes < chunk_size ? (size_t)v->bytes : chunk_size;
    if (!v->c_contiguous) {
        nbr_array_walker w;
        nbr_array_walker_init(&w, v);
        sample_size = nbr_array_walker_next(&w, buffer, chunk_size);
        sample = buffer;
    }
    *compress = nbr_blosc_worth_compressing(sample, sample_size, v->itemsize, o->level,
                                            o->shuffle, o->codec);
    return *compress ? nbr_blosc_set_filter(dcpl, o->level, o->shuffle, o->codec) : NBR_OK;
}

/* Writes a strided view chunk by chunk, each gathered into `buffer`. */
static herr_t write_chunks(hid_t ds, hid_t type, hid_t space, const nbr_array_view *v,
                           const uint64_t *chunk, void *buffer, size_t buffer_size)
{
    hsize_t hstart[NBR_MAX_DIMS], hcount[NBR_MAX_DIMS];
    nbr_chunk_grid g;
    nbr_chunk_grid_init(&g, v->ndim, v->shape, chunk);
    do {
        for (size_t i = 0; i < v->ndim; i++) {
            hstart[i] = g.start[i];
            hcount[i] = g.count[i];
        }
        nbr_array_view_copy_box(buffer, buffer_size, v, g.start, g.count);
        hid_t mem = H5Screate_simple((int)v->ndim, hcount, NULL);
        herr_t rc = H5Sselect_hyperslab(space, H5S_SELECT_SET, hstart, NULL, hcount, NULL);
        if (rc >= 0) rc = H5Dwrite(ds, type, mem, space, H5P_DEFAULT, buffer);
        H5Sclose(mem);
        if (rc < 0) return rc;
    } while (nbr_chunk_grid_next(&g));
    return 0;
}

typedef struct write_job {
    const char *name;      /* the dataset's path in the file */
    const char *kind_name; /* its nbr_kind */
    int compress;          /* -1: a sample decides; else 0/1 (see layout) */
    hid_t type, space, dcpl, ds;
    void *buffer;
    size_t buffer_size;
    uint64_t chunk[NBR_MAX_DIMS];
    /* A chunk compressed ahead (the whole dataset is one HDF5 chunk): its
     * bytes, written as they are by H5Dwrite_chunk with `mask` (bit 0: the
     * Blosc filter skipped, as HDF5 records a chunk the filter left raw). */
    const void *frame;
    size_t frame_size;
    unsigned mask;
} write_job;

/* Closes what a job opened; a failed close of the dataset fails it. */
static void close_job(write_job *j, nbr_status *st, const char *path, const nbr_object_id *id)
{
    if (j->ds >= 0 && H5Dclose(j->ds) < 0 && *st == NBR_OK)
        *st = h5_fail(NBR_EIO, path, id, "closing the dataset");
    if (j->dcpl >= 0) H5Pclose(j->dcpl);
    if (j->space >= 0) H5Sclose(j->space);
    if (j->type >= 0) H5Tclose(j->type);
}

static nbr_status write_data(write_job *j, const nbr_array_view *v, const char *path,
                             const nbr_object_id *id)
{
    herr_t rc = 0;
    if (v->count == 0) return NBR_OK;
    if (j->frame) {
        const hsize_t origin[NBR_MAX_DIMS] = {0};
        rc = H5Dwrite_chunk(j->ds, H5P_DEFAULT, j->mask, origin, j->frame_size, j->frame);
    } else if (v->c_contiguous || v->ndim == 0)
        rc = H5Dwrite(j->ds, j->type, H5S_ALL, H5S_ALL, H5P_DEFAULT, v->data);
    else
        rc = write_chunks(j->ds, j->type, j->space, v, j->chunk, j->buffer, j->buffer_size);
    return rc < 0 ? h5_fail(NBR_EIO, path, id, "writing the data") : NBR_OK;
}

static nbr_status write_impl(uint64_t *stored, hid_t file, const char *path,
                             const nbr_object_id *id, nbr_object_kind kind, const char *type,
                             const nbr_array_view *v, const nbr_store_options *o, write_job *j)
{
    size_t itemsize;
    nbr_status st = nbr_dtype_to_hdf5(&j->type, &itemsize, kind == NBR_OBJECT_ARRAY ? type : "|u1");
    if (st != NBR_OK) return st;
    j->space = make_space(v);
    j->dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (j->space < 0 || j->dcpl < 0) return h5_fail(NBR_EIO, path, id, "preparing a dataset");
    H5Pset_obj_track_times(j->dcpl, 0); /* same content, same bytes */
    H5Pset_fill_time(j->dcpl, H5D_FILL_TIME_NEVER);
    /* A lean store's chunk datasets (format version 4) have no attributes:
     * their type and extents say all three, and without them HDF5 gives the
     * dataset an object header of what it holds, not of 256 bytes or more. */
    bool bare = o->lean && !strcmp(j->kind_name, "chunk");
    if (bare) H5Pset_dset_no_attrs_hint(j->dcpl, 1);
    if (v->count > 0 && v->ndim > 0) {
        uint64_t cells = 1;
        nbr_chunk_shape(j->chunk, v->ndim, v->shape, v->itemsize, o->chunk_bytes);
        for (size_t i = 0; i < v->ndim; i++) cells *= j->chunk[i];
        j->buffer_size = (size_t)(cells * v->itemsize);
        if (!v->c_contiguous && !(j->buffer = malloc(j->buffer_size)))
            return nbr_fail_nomem("writing an array");
        if (layout(j->dcpl, j->chunk, v, j->buffer, j->buffer_size, o, &j->compress) != NBR_OK)
            return h5_fail(NBR_EIO, path, id, "setting the chunk layout");
    }
    j->ds = H5Dcreate2(file, j->name, j->type, j->space, H5P_DEFAULT, j->dcpl, H5P_DEFAULT);
    if (j->ds < 0) return h5_fail(NBR_EIO, path, id, "creating the dataset");
    st = write_data(j, v, path, id);
    if (st == NBR_OK && !bare && put_attributes(j->ds, j->kind_name, type, v->bytes) < 0)
        st = h5_fail(NBR_EIO, path, id, "writing the attributes");
    /* Flush now, so that a write error is this object's (see store_vfd.h). */
    if (st == NBR_OK && H5Dflush(j->ds) < 0) st = h5_fail(NBR_EIO, path, id, "flushing the data");
    if (st == NBR_OK) {
        *stored = H5Dget_storage_size(j->ds);
        if (*stored == 0 && v->count > 0) st = h5_fail(NBR_EIO, path, id, "measuring the data");
    }
    return st;
}

/* Writes one dataset (`j` names it) and closes what it opened. */
static nbr_status write_dataset(uint64_t *stored_bytes, nbr_segment_out *seg,
                                const nbr_object_id *id, nbr_object_kind kind, const char *type,
                                const nbr_array_view *view, const nbr_store_options *options,
                                write_job *job)
{
    nbr_status st = NBR_OK;
    const char *path = seg->path;
    *stored_bytes = 0;
    QUIET({
        st = write_impl(stored_bytes, seg->file, path, id, kind, type, view, options, job);
        close_job(job, &st, path, id);
    });
    free(job->buffer);
    /* A write error outranks whatever HDF5 made of the data it never got. */
    if (seg->io_errno) st = io_failed(seg, id, "writing the data");
    return st;
}

nbr_status nbr_segment_write(uint64_t *stored_bytes, nbr_segment_out *seg,
                             const nbr_object_id *id, nbr_object_kind kind, const char *type,
                             const nbr_array_view *view, const nbr_store_options *options)
{
    char name[64];
    dataset_name(name, sizeof name, id);
    write_job j = {name, kind == NBR_OBJECT_ARRAY ? "array" : "blob", -1, -1, -1, -1, -1, NULL,
                   0, {0}, NULL, 0, 0};
    return write_dataset(stored_bytes, seg, id, kind, type, view, options, &j);
}

nbr_status nbr_segment_write_chunk(uint64_t *stored_bytes, int *compress, nbr_segment_out *seg,
                                   const nbr_object_id *chunk_id, const char *dtype,
                                   const nbr_array_view *box, const nbr_store_options *options)
{
    return nbr_segment_write_chunk_frame(stored_bytes, compress, seg, chunk_id, dtype, box,
                                         options, NULL, 0);
}

nbr_status nbr_segment_write_chunk_frame(uint64_t *stored_bytes, int *compress,
                                         nbr_segment_out *seg, const nbr_object_id *chunk_id,
                                         const char *dtype, const nbr_array_view *box,
                                         const nbr_store_options *options, const void *frame,
                                         size_t frame_size)
{
    char name[64];
    herr_t rc = 0;
    chunk_name(name, sizeof name, chunk_id);
    QUIET(rc = ensure_chunks_group(seg->file));
    if (rc < 0 || seg->io_errno) {
        *stored_bytes = 0;
        return seg->io_errno ? io_failed(seg, chunk_id, "creating /chunks")
                             : h5_fail(NBR_EIO, seg->path, chunk_id, "creating /chunks");
    }
    /* One HDF5 chunk holds the whole chunk dataset. */
    nbr_store_options whole = *options;
    whole.chunk_bytes = box->bytes ? box->bytes : 1;
    write_job j = {name, "chunk", *compress, -1, -1, -1, -1, NULL, 0, {0}, NULL, 0, 0};
    /* Every chunk goes in whole with H5Dwrite_chunk, raw ones too: H5Dwrite
     * would have HDF5 clear and copy it through a buffer of its own first. */
    if (*compress >= 0 && box->count > 0 && box->ndim > 0 && box->c_contiguous) {
        bool framed = *compress == 1 && frame_size; /* else raw (a trial frame unused) */
        j.frame = framed ? frame : box->data;
        j.frame_size = framed ? frame_size : (size_t)box->bytes;
        j.mask = *compress == 1 && !framed; /* the filter skipped, as HDF5 records it */
    }
    nbr_status st =
        write_dataset(stored_bytes, seg, chunk_id, NBR_OBJECT_ARRAY, dtype, box, &whole, &j);
    *compress = j.compress;
    return st;
}

size_t nbr_segment_blosc_typesize(const char *dtype)
{
    size_t itemsize = 0, typesize = 0;
    hid_t type = -1;
    if (nbr_dtype_to_hdf5(&type, &itemsize, dtype) != NBR_OK) return 0;
    QUIET(typesize = nbr_blosc_typesize(type); H5Tclose(type));
    return typesize;
}

/* ---- virtual datasets (chunk dedup) ------------------------------------ */

/* Adds mapping k: box k of the grid <- the whole of chunk k's dataset. */
static herr_t map_chunk(hid_t dcpl, hid_t vspace, const nbr_chunk_grid *g, const char *source,
                        const nbr_object_id *chunk_id)
{
    hsize_t start[NBR_MAX_DIMS], count[NBR_MAX_DIMS];
    char name[64];
    for (size_t i = 0; i < g->ndim; i++) {
        start[i] = g->start[i];
        count[i] = g->count[i];
    }
    chunk_name(name, sizeof name, chunk_id);
    hid_t src = H5Screate_simple((int)g->ndim, count, NULL);
    herr_t rc = src < 0 ? -1 : H5Sselect_hyperslab(vspace, H5S_SELECT_SET, start, NULL, count, NULL);
    if (rc >= 0) rc = H5Pset_virtual(dcpl, vspace, source, name, src);
    if (src >= 0) H5Sclose(src);
    return rc;
}

/* The source file of a chunk: "." (this file) for the segment being
 * written, else the segment's file name, which HDF5 looks for in the
 * directory of the file holding the virtual dataset (all segments are in
 * one directory). */
static const char *chunk_source(const nbr_object_entry *e, size_t k, const char *own)
{
    const char *segment = e->chunk_segments[e->chunks[k].segment];
    return !strcmp(segment, own) ? "." : segment + strlen("segments/");
}

/* Selects, in a space of the array's shape, the rows of the boxes shared
 * with the base (its boxes are whole rows of the trailing axes), one block
 * of rows per run of consecutive shared boxes. */
static herr_t select_shared_rows(hid_t space, const nbr_object_entry *e)
{
    hsize_t start[NBR_MAX_DIMS] = {0}, count[NBR_MAX_DIMS];
    for (size_t i = 0; i < e->ndim; i++) count[i] = e->shape[i];
    H5S_seloper_t op = H5S_SELECT_SET;
    herr_t rc = 0;
    for (size_t k = 0; rc >= 0 && k < e->chunk_count; k++) {
        if (!e->base_shared[k]) continue;
        size_t end = k;
        while (end < e->chunk_count && e->base_shared[end]) end++;
        uint64_t last_row = (uint64_t)end * e->chunk_shape[0];
        start[0] = (uint64_t)k * e->chunk_shape[0];
        count[0] = (last_row < e->shape[0] ? last_row : e->shape[0]) - start[0];
        rc = H5Sselect_hyperslab(space, op, start, NULL, count, NULL);
        op = H5S_SELECT_OR;
        k = end;
    }
    return rc;
}

/* Adds the mapping of a chained layout: the rows of every box shared with
 * the base <- the same rows of the base's virtual dataset, in the base's
 * segment.  One mapping, however many runs, so that HDF5 opens the base
 * once per level of the chain. */
static herr_t map_base_rows(hid_t dcpl, hid_t vspace, const nbr_object_entry *e)
{
    hsize_t dims[NBR_MAX_DIMS];
    char name[64];
    for (size_t i = 0; i < e->ndim; i++) dims[i] = e->shape[i];
    dataset_name(name, sizeof name, &e->base);
    hid_t src = H5Screate_simple((int)e->ndim, dims, NULL);
    herr_t rc = src < 0 ? -1 : select_shared_rows(src, e);
    if (rc >= 0) rc = select_shared_rows(vspace, e);
    if (rc >= 0)
        rc = H5Pset_virtual(dcpl, vspace, e->base_segment + strlen("segments/"), name, src);
    if (src >= 0) H5Sclose(src);
    return rc;
}

/* Each box mapped to its chunk, except, when the array is chained, the
 * boxes it shares with its base (one mapping to the base's rows). */
static herr_t virtual_layout(hid_t dcpl, hid_t vspace, const nbr_object_entry *e, const char *own)
{
    nbr_chunk_grid g;
    herr_t rc = H5Pset_obj_track_times(dcpl, 0);
    const unsigned char *shared = e->chained && e->base_segment ? e->base_shared : NULL;
    if (rc >= 0 && shared) rc = map_base_rows(dcpl, vspace, e);
    nbr_chunk_grid_init(&g, e->ndim, e->shape, e->chunk_shape);
    do {
        if (rc >= 0 && !(shared && shared[g.index]))
            rc = map_chunk(dcpl, vspace, &g, chunk_source(e, g.index, own), &e->chunks[g.index].id);
    } while (rc >= 0 && nbr_chunk_grid_next(&g));
    return rc < 0 ? rc : H5Sselect_all(vspace);
}

static nbr_status virtual_impl(hid_t file, const char *path, const nbr_object_entry *e,
                               const char *own, write_job *j)
{
    size_t itemsize;
    nbr_status st = nbr_dtype_to_hdf5(&j->type, &itemsize, e->type);
    if (st != NBR_OK) return st;
    hsize_t dims[NBR_MAX_DIMS];
    for (size_t i = 0; i < e->ndim; i++) dims[i] = e->shape[i];
    j->space = H5Screate_simple((int)e->ndim, dims, NULL);
    j->dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (j->space < 0 || j->dcpl < 0 || virtual_layout(j->dcpl, j->space, e, own) < 0)
        return h5_fail(NBR_EIO, path, &e->id, "mapping the chunks");
    j->ds = H5Dcreate2(file, j->name, j->type, j->space, H5P_DEFAULT, j->dcpl, H5P_DEFAULT);
    if (j->ds < 0) return h5_fail(NBR_EIO, path, &e->id, "creating the virtual dataset");
    if (put_attributes(j->ds, "array", e->type, e->logical_bytes) < 0)
        return h5_fail(NBR_EIO, path, &e->id, "writing the attributes");
    if (H5Dflush(j->ds) < 0) return h5_fail(NBR_EIO, path, &e->id, "flushing the dataset");
    return NBR_OK;
}

nbr_status nbr_segment_write_virtual(nbr_segment_out *seg, const nbr_object_entry *entry,
                                     const char *own_segment)
{
    char name[64];
    dataset_name(name, sizeof name, &entry->id);
    write_job j = {name, "array", -1, -1, -1, -1, -1, NULL, 0, {0}, NULL, 0, 0};
    nbr_status st = NBR_OK;
    QUIET({
        st = virtual_impl(seg->file, seg->path, entry, own_segment, &j);
        close_job(&j, &st, seg->path, &entry->id);
    });
    if (seg->io_errno) st = io_failed(seg, &entry->id, "writing the virtual dataset");
    return st;
}

/* ---- streams ----------------------------------------------------------- */

nbr_status nbr_segment_stream_begin(nbr_segment_stream *st, unsigned serial,
                                    const nbr_store_options *o)
{
    memset(st, 0, sizeof *st);
    st->ds = -1;
    snprintf(st->name, sizeof st->name, "/objects/partial-%u", serial);
    st->chunk_size = (size_t)o->chunk_bytes;
    st->chunk = malloc(st->chunk_size);
    return st->chunk ? NBR_OK : nbr_fail_nomem("beginning a blob stream");
}

/* The dataset, made when the first chunk is full (it is the sample that
 * decides compression) or the stream ends. */
static herr_t stream_create(nbr_segment_stream *st, hid_t file, const nbr_store_options *o)
{
    hsize_t zero = 0, unlimited = H5S_UNLIMITED, chunk = st->chunk_size;
    hid_t space = H5Screate_simple(1, &zero, &unlimited);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    herr_t rc = space < 0 || dcpl < 0 ? -1 : H5Pset_chunk(dcpl, 1, &chunk);
    H5Pset_obj_track_times(dcpl, 0);
    if (rc >= 0 &&
        nbr_blosc_worth_compressing(st->chunk, st->fill, 1, o->level, o->shuffle, o->codec))
        rc = nbr_blosc_set_filter(dcpl, o->level, o->shuffle, o->codec) == NBR_OK ? 0 : -1;
    if (rc >= 0) st->ds = H5Dcreate2(file, st->name, H5T_NATIVE_UINT8, space, H5P_DEFAULT, dcpl,
                                     H5P_DEFAULT);
    if (dcpl >= 0) H5Pclose(dcpl);
    if (space >= 0) H5Sclose(space);
    return rc < 0 || st->ds < 0 ? -1 : 0;
}

/* Appends the filled part of the chunk buffer to the dataset. */
static herr_t stream_flush(nbr_segment_stream *st, hid_t file, const nbr_store_options *o)
{
    if (st->ds < 0 && stream_create(st, file, o) < 0) return -1;
    if (st->fill == 0) return 0;
    hsize_t start = st->length, count = st->fill, size = st->length + st->fill;
    if (H5Dset_extent(st->ds, &size) < 0) return -1;
    hid_t space = H5Dget_space(st->ds), mem = H5Screate_simple(1, &count, NULL);
    herr_t rc = -1;
    if (space >= 0 && mem >= 0)
        rc = H5Sselect_hyperslab(space, H5S_SELECT_SET, &start, NULL, &count, NULL);
    if (rc >= 0) rc = H5Dwrite(st->ds, H5T_NATIVE_UINT8, mem, space, H5P_DEFAULT, st->chunk);
    if (mem >= 0) H5Sclose(mem);
    if (space >= 0) H5Sclose(space);
    st->length += st->fill;
    st->fill = 0;
    return rc;
}

nbr_status nbr_segment_stream_write(nbr_segment_stream *st, nbr_segment_out *seg,
                                    const void *data, size_t size, const nbr_store_options *o)
{
    const char *p = data;
    nbr_status status = NBR_OK;
    QUIET({
        while (size > 0 && status == NBR_OK) {
            size_t n = st->chunk_size - st->fill < size ? st->chunk_size - st->fill : size;
            memcpy(st->chunk + st->fill, p, n);
            st->fill += n, p += n, size -= n;
            if (st->fill == st->chunk_size && stream_flush(st, seg->file, o) < 0)
                status = h5_fail(NBR_EIO, seg->path, NULL, "writing a blob stream");
        }
    });
    if (seg->io_errno) status = io_failed(seg, NULL, "writing a blob stream");
    return status;
}

static herr_t stream_keep(uint64_t *stored, nbr_segment_stream *st, hid_t file,
                          const nbr_object_id *id, const char *codec)
{
    char final[64];
    herr_t rc = put_attributes(st->ds, "blob", codec, st->length);
    if (rc >= 0) rc = H5Dflush(st->ds);
    if (rc >= 0) *stored = H5Dget_storage_size(st->ds);
    if (H5Dclose(st->ds) < 0) rc = -1;
    st->ds = -1;
    dataset_name(final, sizeof final, id);
    if (rc >= 0) rc = H5Lmove(file, st->name, file, final, H5P_DEFAULT, H5P_DEFAULT);
    return rc;
}

nbr_status nbr_segment_stream_end(uint64_t *stored, nbr_segment_stream *st, nbr_segment_out *seg,
                                  const nbr_object_id *id, const char *codec,
                                  const nbr_store_options *o)
{
    nbr_status status = NBR_OK;
    *stored = 0;
    QUIET({
        herr_t rc = stream_flush(st, seg->file, o);
        if (rc >= 0 && id) {
            rc = stream_keep(stored, st, seg->file, id, codec);
        } else if (rc >= 0) {
            H5Dclose(st->ds);
            st->ds = -1;
            rc = H5Ldelete(seg->file, st->name, H5P_DEFAULT);
        }
        if (rc < 0) status = h5_fail(NBR_EIO, seg->path, id, "finishing a blob stream");
    });
    if (seg->io_errno) status = io_failed(seg, id, "writing a blob stream");
    return status;
}

nbr_status nbr_segment_drop(nbr_segment_out *seg, const nbr_object_id *id)
{
    char name[64];
    nbr_status status = NBR_OK;
    dataset_name(name, sizeof name, id);
    QUIET({
        if (H5Ldelete(seg->file, name, H5P_DEFAULT) < 0)
            status = h5_fail(NBR_EIO, seg->path, id, "dropping an object");
    });
    if (status == NBR_OK && seg->io_errno) status = io_failed(seg, id, "dropping an object");
    return status;
}

/* Copies one dataset `name` from `from` unless `to` has it already (a chunk
 * shared by several objects). */
static nbr_status copy_dataset(nbr_segment_out *to, hid_t from, const char *name,
                               const nbr_object_id *id)
{
    nbr_status status = NBR_OK;
    QUIET({
        htri_t exists = H5Lexists(to->file, name, H5P_DEFAULT);
        /* Raw chunks are copied as they are: no decompression. */
        if (exists < 0 || (exists == 0 &&
                           H5Ocopy(from, name, to->file, name, H5P_DEFAULT, H5P_DEFAULT) < 0))
            status = h5_fail(NBR_EIO, to->path, id, "copying an object");
    });
    if (status == NBR_OK && to->io_errno) status = io_failed(to, id, "copying an object");
    return status;
}

/* The chunks of `e` that live in `own_segment` (the others stay where they
 * are, in earlier segments). */
static nbr_status copy_chunks(nbr_segment_out *to, hid_t from, const nbr_object_entry *e,
                              const char *own_segment)
{
    herr_t rc = 0;
    nbr_status status = NBR_OK;
    for (size_t k = 0; status == NBR_OK && k < e->chunk_count; k++) {
        if (strcmp(e->chunk_segments[e->chunks[k].segment], own_segment) != 0) continue;
        char name[64];
        chunk_name(name, sizeof name, &e->chunks[k].id);
        QUIET(rc = ensure_chunks_group(to->file));
        status = rc < 0 ? h5_fail(NBR_EIO, to->path, &e->id, "creating /chunks")
                        : copy_dataset(to, from, name, &e->id);
    }
    return status;
}

nbr_status nbr_segment_copy_objects(nbr_segment_out *to, const char *from_path,
                                    const nbr_object_entry *objects, size_t count,
                                    const char *own_segment)
{
    hid_t from = -1;
    nbr_status status = nbr_segment_open(&from, from_path);
    for (size_t i = 0; status == NBR_OK && i < count; i++) {
        char name[64];
        dataset_name(name, sizeof name, &objects[i].id);
        status = copy_chunks(to, from, &objects[i], own_segment);
        /* A virtual dataset is made anew: its chunks may have moved to
         * another rank's segment since it was written. */
        if (status == NBR_OK)
            status = objects[i].chunk_shape
                         ? nbr_segment_write_virtual(to, &objects[i], own_segment)
                         : copy_dataset(to, from, name, &objects[i].id);
    }
    nbr_segment_close(from);
    return status;
}

void nbr_segment_stream_clear(nbr_segment_stream *st)
{
    if (st->ds >= 0) QUIET(H5Dclose(st->ds));
    st->ds = -1;
    free(st->chunk);
    st->chunk = NULL;
}

/* ---- reading ----------------------------------------------------------- */

static nbr_status corrupt(const char *path, const nbr_object_entry *e, const char *why)
{
    char hex[33];
    nbr_object_id_to_hex(hex, &e->id);
    return nbr_fail(NBR_ECORRUPT, "%s: object %s: %s", path, hex, why);
}

/* Opens the object's dataset and checks that its shape is the manifest's. */
static nbr_status open_object(hid_t *ds, hid_t *type, size_t *itemsize, hid_t file,
                              const char *path, const nbr_object_entry *e)
{
    char name[64];
    hsize_t dims[NBR_MAX_DIMS];
    dataset_name(name, sizeof name, &e->id);
    *ds = H5Dopen2(file, name, H5P_DEFAULT);
    if (*ds < 0) return h5_fail(NBR_ECORRUPT, path, &e->id, "opening the dataset");
    hid_t space = H5Dget_space(*ds);
    int rank = space < 0 ? -1 : H5Sget_simple_extent_ndims(space);
    int ok = rank == (int)(e->kind == NBR_OBJECT_ARRAY ? e->ndim : 1) && rank <= NBR_MAX_DIMS;
    if (ok && rank > 0) H5Sget_simple_extent_dims(space, dims, NULL);
    for (int i = 0; ok && i < rank; i++) ok = dims[i] == e->shape[i];
    if (space >= 0) H5Sclose(space);
    if (!ok) return corrupt(path, e, "the dataset's shape is not the manifest's");
    const char *dtype = e->kind == NBR_OBJECT_ARRAY ? e->type : "|u1";
    nbr_status st = nbr_dtype_to_hdf5(type, itemsize, dtype);
    if (st != NBR_OK) return corrupt(path, e, "the manifest's dtype is not valid");
    return NBR_OK;
}

/* Opens chunk k of an entry and checks that it has the box's extents.
 * `what` gets "chunk <id>" for the caller's messages. */
static nbr_status open_chunk(hid_t *ds, char *what, hid_t file, const char *path,
                             const nbr_object_entry *e, size_t k, const uint64_t *count)
{
    char name[64], why[160];
    hsize_t dims[NBR_MAX_DIMS];
    chunk_name(name, sizeof name, &e->chunks[k].id);
    snprintf(what, 64, "chunk %s", name + strlen("/chunks/"));
    snprintf(why, sizeof why, "opening %s", what);
    *ds = H5Dopen2(file, name, H5P_DEFAULT);
    if (*ds < 0) return h5_fail(NBR_ECORRUPT, path, &e->id, why);
    hid_t space = H5Dget_space(*ds);
    int ok = space >= 0 && H5Sget_simple_extent_ndims(space) == (int)e->ndim;
    if (ok) H5Sget_simple_extent_dims(space, dims, NULL);
    for (size_t i = 0; ok && i < e->ndim; i++) ok = dims[i] == count[i];
    if (space >= 0) H5Sclose(space);
    if (ok) return NBR_OK;
    snprintf(why, sizeof why, "%s: the dataset's shape is not the chunk's", what);
    return corrupt(path, e, why);
}

static void *frame_room(nbr_chunk_frame *frame, size_t size)
{
    if (size <= frame->capacity) return frame->data;
    void *grown = realloc(frame->data, size);
    if (!grown) return NULL;
    frame->data = grown;
    frame->capacity = size;
    return grown;
}

/* Whether a chunk dataset is as the store writes it: of the manifest's
 * dtype (`type`, so that HDF5 would convert nothing), one HDF5 chunk of its
 * whole extent (`count`), filtered by Blosc alone (*filtered) or not at all.
 * Only then are its stored bytes the chunk's frame or its raw bytes. */
static bool one_frame(bool *filtered, hid_t ds, hid_t type, size_t ndim, const uint64_t *count)
{
    hsize_t dims[NBR_MAX_DIMS];
    unsigned flags = 0, config = 0;
    size_t nvalues = 0;
    *filtered = false;
    hid_t stored = H5Dget_type(ds);
    bool same = stored >= 0 && H5Tequal(stored, type) > 0;
    if (stored >= 0) H5Tclose(stored);
    if (!same) return false;
    hid_t dcpl = H5Dget_create_plist(ds);
    bool ok = dcpl >= 0 && H5Pget_layout(dcpl) == H5D_CHUNKED &&
              H5Pget_chunk(dcpl, NBR_MAX_DIMS, dims) == (int)ndim;
    for (size_t i = 0; ok && i < ndim; i++) ok = dims[i] == count[i];
    int filters = ok ? H5Pget_nfilters(dcpl) : -1;
    *filtered = filters == 1;
    ok = filters == 0 || (filters == 1 && H5Pget_filter2(dcpl, 0, &flags, &nvalues, NULL, 0, NULL,
                                                         &config) == NBR_BLOSC_FILTER_ID);
    if (dcpl >= 0) H5Pclose(dcpl);
    return ok;
}

/* Reads a chunk's stored bytes as they are (H5Dread_chunk): a raw chunk
 * straight into `buffer` (`bytes`), a Blosc frame into `frame`. */
static nbr_status read_stored(bool *framed, void *buffer, size_t bytes, nbr_chunk_frame *frame,
                              hid_t ds, bool filtered, const char *path,
                              const nbr_object_entry *e, const char *what)
{
    const hsize_t origin[NBR_MAX_DIMS] = {0};
    hsize_t size = 0;
    uint32_t mask = 0;
    char why[160];
    snprintf(why, sizeof why, "reading %s", what);
    if (H5Dget_chunk_storage_size(ds, origin, &size) < 0)
        return h5_fail(NBR_ECORRUPT, path, &e->id, why);
    if (size > bytes + NBR_BLOSC_MAX_OVERHEAD || (size != bytes && !filtered)) {
        snprintf(why, sizeof why, "%s: %llu bytes stored for %zu", what, (unsigned long long)size,
                 bytes);
        return corrupt(path, e, why);
    }
    void *into = size == bytes ? buffer : frame_room(frame, size ? (size_t)size : 1);
    if (!into) return nbr_fail_nomem("reading a chunk");
    if (H5Dread_chunk(ds, H5P_DEFAULT, origin, &mask, into) < 0)
        return h5_fail(NBR_ECORRUPT, path, &e->id, why);
    *framed = filtered && !(mask & 1); /* bit 0: the filter left it raw */
    frame->size = (size_t)size;
    if (!*framed && size != bytes) {
        snprintf(why, sizeof why, "%s: raw, but %llu bytes for %zu", what,
                 (unsigned long long)size, bytes);
        return corrupt(path, e, why);
    }
    if (*framed && into == buffer) { /* a frame exactly as long as the chunk */
        if (!frame_room(frame, bytes)) return nbr_fail_nomem("reading a chunk");
        memcpy(frame->data, buffer, bytes);
    }
    return NBR_OK;
}

nbr_status nbr_segment_fetch_chunk(bool *framed, void *buffer, nbr_chunk_frame *frame,
                                   hid_t file, const char *path, const nbr_object_entry *object,
                                   size_t k, const uint64_t *count)
{
    nbr_status st = NBR_OK;
    *framed = false;
    QUIET({
        hid_t ds = -1, type = -1;
        size_t itemsize = 0;
        bool filtered = false;
        char what[64], why[96];
        st = open_chunk(&ds, what, file, path, object, k, count);
        if (st == NBR_OK && nbr_dtype_to_hdf5(&type, &itemsize, object->type) != NBR_OK)
            st = corrupt(path, object, "the manifest's dtype is not valid");
        size_t bytes = nbr_box_bytes(itemsize, object->ndim, count);
        snprintf(why, sizeof why, "reading %s", what);
        if (st == NBR_OK && one_frame(&filtered, ds, type, object->ndim, count))
            st = read_stored(framed, buffer, bytes, frame, ds, filtered, path, object, what);
        else if (st == NBR_OK && H5Dread(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer) < 0)
            st = h5_fail(NBR_ECORRUPT, path, &object->id, why);
        if (type >= 0) H5Tclose(type);
        if (ds >= 0) H5Dclose(ds);
    });
    return st;
}

static nbr_status start_hash(nbr_hasher **h, const nbr_object_entry *e)
{
    nbr_status st = nbr_hasher_new(h);
    if (st != NBR_OK) return st;
    if (e->kind == NBR_OBJECT_ARRAY) return nbr_hash_array_header(*h, e->type, e->ndim, e->shape);
    return nbr_hash_blob_header(*h, e->type);
}

static nbr_status finish_hash(nbr_hasher *h, const char *path, const nbr_object_entry *e)
{
    nbr_object_id got;
    nbr_status st = nbr_hasher_digest(&got, h);
    if (st != NBR_OK) return st;
    if (nbr_object_id_equal(&got, &e->id)) return NBR_OK;
    char hex[33];
    nbr_object_id_to_hex(hex, &got);
    char why[96];
    snprintf(why, sizeof why, "the content does not match its id (it hashes to %s)", hex);
    return corrupt(path, e, why);
}

static nbr_status read_impl(void *buffer, hid_t ds, hid_t type, size_t itemsize,
                            const char *path, const nbr_object_entry *e)
{
    uint64_t count = 1;
    for (size_t i = 0; i < e->ndim; i++) count *= e->shape[i];
    if (count * itemsize != e->logical_bytes)
        return corrupt(path, e, "logical_bytes disagrees with dtype and shape");
    if (count && H5Dread(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer) < 0)
        return h5_fail(NBR_ECORRUPT, path, &e->id, "reading the data");
    nbr_hasher *h = NULL;
    nbr_status st = start_hash(&h, e);
    if (st == NBR_OK) st = nbr_hasher_update(h, buffer, (size_t)e->logical_bytes);
    if (st == NBR_OK) st = finish_hash(h, path, e);
    nbr_hasher_free(h);
    return st;
}

nbr_status nbr_segment_read(void *buffer, hid_t file, const char *path,
                            const nbr_object_entry *object)
{
    nbr_status st = NBR_OK;
    QUIET({
        hid_t ds = -1, type = -1;
        size_t itemsize = 0;
        st = open_object(&ds, &type, &itemsize, file, path, object);
        if (st == NBR_OK) st = read_impl(buffer, ds, type, itemsize, path, object);
        if (type >= 0) H5Tclose(type);
        if (ds >= 0) H5Dclose(ds);
    });
    return st;
}

/* Reads the dataset in C-order blocks of at most `size` bytes (a run of
 * whole sub-arrays along one axis) and feeds them to the hasher. */
static nbr_status hash_blocks(nbr_hasher *h, hid_t ds, hid_t type, size_t itemsize,
                              const char *path, const nbr_object_entry *e, char *buf, size_t size)
{
    size_t n = e->ndim, d = n - 1;
    uint64_t inner = 1, start[NBR_MAX_DIMS] = {0};
    hsize_t hstart[NBR_MAX_DIMS], hcount[NBR_MAX_DIMS];
    /* d: the outermost axis along which one step (a sub-array of the axes
     * after it) still fits in the buffer. */
    while (d > 0 && inner * e->shape[d] * itemsize <= size) inner *= e->shape[d--];
    uint64_t step = size / (inner * itemsize);
    hid_t space = H5Dget_space(ds);
    nbr_status st = NBR_OK;
    for (;;) {
        for (size_t i = 0; i < n; i++) {
            hstart[i] = start[i];
            uint64_t left = e->shape[i] - start[i];
            hcount[i] = i < d ? 1 : i > d ? e->shape[i] : left < step ? left : step;
        }
        hid_t mem = H5Screate_simple((int)n, hcount, NULL);
        herr_t rc = H5Sselect_hyperslab(space, H5S_SELECT_SET, hstart, NULL, hcount, NULL);
        if (rc >= 0) rc = H5Dread(ds, type, mem, space, H5P_DEFAULT, buf);
        H5Sclose(mem);
        if (rc < 0) {
            st = h5_fail(NBR_ECORRUPT, path, &e->id, "reading the data");
            break;
        }
        st = nbr_hasher_update(h, buf, (size_t)(hcount[d] * inner * itemsize));
        size_t i = d;
        uint64_t inc = step;
        while (st == NBR_OK && (start[i] += inc) >= e->shape[i]) {
            start[i] = 0;
            inc = 1;
            if (i-- == 0) goto done;
        }
        if (st != NBR_OK) break;
    }
done:
    H5Sclose(space);
    return st;
}

static nbr_status check_impl(hid_t ds, hid_t type, size_t itemsize, const char *path,
                             const nbr_object_entry *e)
{
    uint64_t count = 1;
    for (size_t i = 0; i < e->ndim; i++) count *= e->shape[i];
    if (count * itemsize != e->logical_bytes)
        return corrupt(path, e, "logical_bytes disagrees with dtype and shape");
    size_t size = itemsize > CHECK_BUFFER ? itemsize : CHECK_BUFFER;
    char *buf = malloc(size);
    if (!buf) return nbr_fail_nomem("verifying an object");
    nbr_hasher *h = NULL;
    nbr_status st = start_hash(&h, e);
    if (st == NBR_OK && count && e->ndim == 0) {
        if (H5Dread(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
            st = h5_fail(NBR_ECORRUPT, path, &e->id, "reading the data");
        else
            st = nbr_hasher_update(h, buf, itemsize);
    } else if (st == NBR_OK && count) {
        st = hash_blocks(h, ds, type, itemsize, path, e, buf, size);
    }
    if (st == NBR_OK) st = finish_hash(h, path, e);
    nbr_hasher_free(h);
    free(buf);
    return st;
}

nbr_status nbr_segment_check(hid_t file, const char *path, const nbr_object_entry *object)
{
    nbr_status st = NBR_OK;
    QUIET({
        hid_t ds = -1, type = -1;
        size_t itemsize = 0;
        st = open_object(&ds, &type, &itemsize, file, path, object);
        if (st == NBR_OK) st = check_impl(ds, type, itemsize, path, object);
        if (type >= 0) H5Tclose(type);
        if (ds >= 0) H5Dclose(ds);
    });
    return st;
}
