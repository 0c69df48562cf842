/* h5blosc.h - the Blosc HDF5 filter (id 32001), registered in-process
 * (private).
 *
 * The store compresses datasets with Blosc through the filter id and parameter
 * layout of the standard hdf5-blosc plugin, so that h5py and hdf5r (with
 * Debian's hdf5-filter-plugin-blosc-serial) read our files with no nbrewind
 * code.  The library registers its own implementation of that filter, so it
 * never depends on HDF5_PLUGIN_PATH. */
#ifndef NBR_H5BLOSC_H
#define NBR_H5BLOSC_H

#include <hdf5.h>
#include <stddef.h>

#include "error.h"

#define NBR_BLOSC_FILTER_ID 32001

/* How much longer than its data a Blosc frame can be (BLOSC_MAX_OVERHEAD). */
#define NBR_BLOSC_MAX_OVERHEAD 16

/* Blosc compressors, numbered as hdf5-blosc's cd_values[6] numbers them. */
typedef enum nbr_blosc_codec {
    NBR_BLOSC_BLOSCLZ = 0,
    NBR_BLOSC_LZ4 = 1,
    NBR_BLOSC_LZ4HC = 2,
    NBR_BLOSC_SNAPPY = 3,
    NBR_BLOSC_ZLIB = 4,
    NBR_BLOSC_ZSTD = 5
} nbr_blosc_codec;

/* Registers the filter with this process' HDF5, once (thread-safe; later
 * calls return the first call's status). */
nbr_status nbr_blosc_register(void);

/* Looks a compressor up by name ("lz4", "zstd", ...); NBR_EINVAL otherwise. */
nbr_status nbr_blosc_codec_from_name(nbr_blosc_codec *out, const char *name);
const char *nbr_blosc_codec_name(nbr_blosc_codec codec);

/* Adds the Blosc filter to a dataset creation property list (which must
 * already be chunked), with the standard cd_values layout
 * {2, 2, typesize, chunk_bytes, level, shuffle, codec}; the first four are
 * completed by the filter's set_local callback as in the reference plugin. */
nbr_status nbr_blosc_set_filter(hid_t dcpl, int level, int shuffle, nbr_blosc_codec codec);

/* Whether `data` (a sample, e.g. one chunk) is worth compressing: Blosc's
 * output with these settings is at least 10 % smaller.  Never fails: on any
 * trouble it answers "not worth it". */
int nbr_blosc_worth_compressing(const void *data, size_t size, size_t typesize, int level,
                                int shuffle, nbr_blosc_codec codec);

/* The typesize the filter's set_local records for an HDF5 type (the base
 * element size of an array type, 1 above 255); 0 on an HDF5 error. */
size_t nbr_blosc_typesize(hid_t type);

/* Compresses one chunk of `nbytes` as the filter does (the same Blosc call,
 * one thread; thread-safe) into `out` (room for nbytes): the frame's size,
 * or 0 if the chunk does not shrink (the filter then leaves it raw). */
size_t nbr_blosc_compress_chunk(void *out, const void *in, size_t nbytes, size_t typesize,
                                int level, int shuffle, nbr_blosc_codec codec);

/* Decompresses one Blosc frame of `size` bytes (thread-safe, one thread)
 * into a malloc'd buffer the caller frees: *out and *out_size.  The frame's
 * header is checked against `size` first, and frames that would expand past
 * `max_bytes` are refused.  NBR_ECORRUPT (no message set: the caller names
 * the file) for a frame that is not sound, NBR_ENOMEM. */
nbr_status nbr_blosc_decompress(void **out, size_t *out_size, const void *frame, size_t size,
                                size_t max_bytes);

/* Decompresses one Blosc frame of `size` bytes (thread-safe, one thread)
 * into `dest`, which the frame must fill exactly (`dest_size` bytes; its
 * header is checked first).  NBR_ECORRUPT (no message set) otherwise. */
nbr_status nbr_blosc_decompress_into(void *dest, size_t dest_size, const void *frame,
                                     size_t size);

/* nbr_blosc_worth_compressing's verdict on a sample of `size` bytes (whole,
 * at most 64 MiB) from its frame's size (nbr_blosc_compress_chunk, 0: did
 * not shrink): 1 or 0; -1 if the sample is too large to be judged whole. */
int nbr_blosc_worth_frame(size_t size, size_t frame);

#endif
