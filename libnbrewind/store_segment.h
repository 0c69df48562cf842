/* store_segment.h - objects in HDF5 segment files (private).
 *
 * A segment is one HDF5 file per checkpoint holding each new object as the
 * dataset /objects/<id> (docs/store-format.md, "In a segment").  This file is
 * the only part of the store that talks to HDF5; HDF5's own error printing is
 * off inside it, and its innermost error (the errno text of a failed write,
 * say) is put into our messages. */
#ifndef NBR_STORE_SEGMENT_H
#define NBR_STORE_SEGMENT_H

#include <hdf5.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "h5blosc.h"
#include "store_array.h"
#include "store_manifest.h"

typedef struct nbr_store_options {
    nbr_blosc_codec codec;
    int level;
    int shuffle;
    uint64_t chunk_bytes;
    int chunk_dedup; /* arrays of several chunks stored as shared chunks */
    int workers;     /* compression threads, -1 = one per CPU; not persisted */
    int chain;       /* chained virtual datasets (format version 3); not an option */
    int lean;        /* manifests list a chained array's changed chunks only and ride
                      * at the end of their segment (format version 4); not an option */
} nbr_store_options;

/* A segment being written.  `io_errno` is where the file driver records the
 * first write error (see store_vfd.h); it must stay at one address while the
 * file is open. */
typedef struct nbr_segment_out {
    hid_t file;
    int io_errno;
    const char *path; /* borrowed */
} nbr_segment_out;

/* Creates a new segment file (exclusively) with its /objects group. */
nbr_status nbr_segment_create(nbr_segment_out *seg, const char *path);

/* Writes one object as /objects/<hex id>.  `type` is the dtype (arrays) or
 * codec (blobs; the view is then 1-D "|u1").  *stored_bytes gets the
 * dataset's storage size.  NBR_EIO naming the file, object and cause. */
nbr_status nbr_segment_write(uint64_t *stored_bytes, nbr_segment_out *seg,
                             const nbr_object_id *id, nbr_object_kind kind, const char *type,
                             const nbr_array_view *view, const nbr_store_options *options);

/* Writes one chunk of an array as /chunks/<chunk id> (creating /chunks on
 * first use): `box` is the chunk's C-contiguous view; one HDF5 chunk holds
 * it whole.  *compress: -1 for an array's first new chunk, which decides, as
 * the sample chunk of a plain dataset does, whether Blosc is worth it (and
 * *compress gets that decision, 0 or 1, for the array's other chunks: one
 * trial compression per array, not per chunk).  Attributes nbr_kind
 * "chunk", nbr_dtype, nbr_logical_bytes. */
nbr_status nbr_segment_write_chunk(uint64_t *stored_bytes, int *compress, nbr_segment_out *seg,
                                   const nbr_object_id *chunk_id, const char *dtype,
                                   const nbr_array_view *box, const nbr_store_options *options);

/* The typesize the Blosc filter records for a dataset of `dtype` (what
 * nbr_blosc_compress_chunk needs for a frame the filter would make); 0 if
 * the dtype is not valid. */
size_t nbr_segment_blosc_typesize(const char *dtype);

/* The same for a chunk compressed ahead (nbr_blosc_compress_chunk, with the
 * store's options) when *compress is 1: `frame` (frame_size bytes) is
 * written as the dataset's one HDF5 chunk by H5Dwrite_chunk, the Blosc
 * filter in its pipeline as always; frame_size 0 (the chunk did not shrink)
 * writes the raw box with the filter marked skipped, as HDF5 does when the
 * filter declines.  The file reads as nbr_segment_write_chunk's would.
 * *compress 0 or -1: as nbr_segment_write_chunk (the frame is not used). */
nbr_status nbr_segment_write_chunk_frame(uint64_t *stored_bytes, int *compress,
                                         nbr_segment_out *seg, const nbr_object_id *chunk_id,
                                         const char *dtype, const nbr_array_view *box,
                                         const nbr_store_options *options, const void *frame,
                                         size_t frame_size);

/* Writes a chunk-deduplicated array (`entry`, its chunk list filled in) as
 * the HDF5 virtual dataset /objects/<id>: mapping k selects box k of the
 * chunk grid from the whole of /chunks/<chunk k>, in this file (".") when
 * the chunk's segment is `own_segment`, else in the segment's file name,
 * relative (HDF5 looks for it beside this file). */
nbr_status nbr_segment_write_virtual(nbr_segment_out *seg, const nbr_object_entry *entry,
                                     const char *own_segment);

/* Unlinks /objects/<id> from a segment being written (a collective
 * checkpoint's duplicate of another rank's object).  HDF5 may keep the space
 * inside the file. */
nbr_status nbr_segment_drop(nbr_segment_out *seg, const nbr_object_id *id);

/* Copies the objects /objects/<id> of the (closed) segment file `from_path`
 * into a segment being written, chunks as they are: a collective
 * checkpoint's segment rewritten without the objects another rank keeps.
 * The /chunks/ datasets of those objects that are in `own_segment` (the
 * segment's name in the store) are copied too, each once, and the virtual
 * datasets of chunked arrays are written anew from their entries (which may
 * now map chunks in other segments). */
nbr_status nbr_segment_copy_objects(nbr_segment_out *to, const char *from_path,
                                    const nbr_object_entry *objects, size_t count,
                                    const char *own_segment);

/* Closes a segment being written; NBR_EIO if any write of it failed. */
nbr_status nbr_segment_finish(nbr_segment_out *seg);

/* Closes a segment being written without caring for its content (abort);
 * never fails, whatever failed before. */
void nbr_segment_discard(nbr_segment_out *seg);

/* A blob written in pieces of unknown total size: an extendible 1-D uint8
 * dataset under a temporary name, renamed to /objects/<id> when its id is
 * known (or deleted if the store already has that id: its space is then
 * wasted in the segment, the price of not buffering the stream). */
typedef struct nbr_segment_stream {
    hid_t ds;
    char name[64];  /* the temporary name */
    char *chunk;    /* one chunk being filled */
    size_t chunk_size;
    size_t fill;
    uint64_t length; /* bytes already in the dataset */
} nbr_segment_stream;

nbr_status nbr_segment_stream_begin(nbr_segment_stream *stream, unsigned serial,
                                    const nbr_store_options *options);
nbr_status nbr_segment_stream_write(nbr_segment_stream *stream, nbr_segment_out *seg,
                                    const void *data, size_t size,
                                    const nbr_store_options *options);
/* Keeps the blob as /objects/<id> (`id` non-NULL: *stored_bytes gets its
 * storage size) or drops it (NULL). */
nbr_status nbr_segment_stream_end(uint64_t *stored_bytes, nbr_segment_stream *stream,
                                  nbr_segment_out *seg, const nbr_object_id *id,
                                  const char *codec, const nbr_store_options *options);
/* Releases the stream's memory and dataset handle (after end, or instead). */
void nbr_segment_stream_clear(nbr_segment_stream *stream);

/* Opens a committed segment for reading.  NBR_ECORRUPT if it is missing or
 * not an HDF5 file. */
nbr_status nbr_segment_open(hid_t *out, const char *path);

/* Closes a segment opened for reading. */
void nbr_segment_close(hid_t file);

/* Reads a whole object into `buffer` (its logical size, C order) and checks
 * its hash.  NBR_ECORRUPT naming the object and file when either fails. */
nbr_status nbr_segment_read(void *buffer, hid_t file, const char *path,
                            const nbr_object_entry *object);

/* A chunk's stored bytes, as nbr_segment_fetch_chunk leaves them: `size`
 * bytes at `data`, in memory that grows to `capacity` and is reused from one
 * chunk to the next (zero-initialise; the caller frees `data`). */
typedef struct nbr_chunk_frame {
    void *data;
    size_t size, capacity;
} nbr_chunk_frame;

/* Reads chunk k of a chunk-deduplicated array (/chunks/<id>, whose extents
 * must be `count`).  A chunk stored as the store writes it is read as
 * stored: a Blosc frame is left in `frame` (*framed true) for the caller to
 * decompress into `buffer` (nbr_blosc_decompress_into, on any thread), a raw
 * chunk goes straight into `buffer`.  Any other chunk is read into `buffer`
 * through HDF5's filters.  The caller checks the hash.  NBR_ECORRUPT naming
 * the file, the object and the chunk. */
nbr_status nbr_segment_fetch_chunk(bool *framed, void *buffer, nbr_chunk_frame *frame,
                                   hid_t file, const char *path, const nbr_object_entry *object,
                                   size_t k, const uint64_t *count);

/* Re-reads an object through a bounded buffer and checks its hash (verify). */
nbr_status nbr_segment_check(hid_t file, const char *path, const nbr_object_entry *object);

#endif
