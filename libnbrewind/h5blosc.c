/* h5blosc.c - the Blosc HDF5 filter (id 32001), our own implementation of the
 * hdf5-blosc plugin's format, registered in-process.
 *
 * Format (what makes files interchangeable with the reference plugin, e.g.
 * Debian's hdf5-filter-plugin-blosc-serial, and with hdf5plugin.Blosc):
 *   cd_values[0] filter revision (2)        set by set_local
 *   cd_values[1] Blosc format version (2)   set by set_local
 *   cd_values[2] typesize                   set by set_local: the element size,
 *                                           the base element size for an HDF5
 *                                           array type, 1 if above 255
 *   cd_values[3] uncompressed chunk bytes   set by set_local
 *   cd_values[4] level 0-9, [5] shuffle (0 none, 1 byte, 2 bit),
 *   [6] compressor code (0 blosclz, 1 lz4, 2 lz4hc, 3 snappy, 4 zlib, 5 zstd)
 * Each chunk is one Blosc frame (16-byte header + data).  Decompression takes
 * the sizes from the frame header, as the reference plugin does.
 *
 * Differences from the reference plugin, none visible in the files:
 *  - blosc_compress_ctx / blosc_decompress_ctx, no global Blosc state (the
 *    reference calls blosc_set_compressor, which is process-global);
 *  - a frame is validated against the bytes HDF5 gave us before it is read;
 *  - buffers come from H5allocate_memory / H5free_memory, HDF5's own
 *    allocator for filter buffers;
 *  - Blosc's internal threads: 1, or BLOSC_NTHREADS from the environment
 *    (read once, the variable Blosc's own non-ctx API honours);
 *  - a level above 9 in cd_values is taken as 9 (the reference passes it to
 *    Blosc, which refuses, so that chunk is stored uncompressed).
 *
 * Registration replaces any filter 32001 already registered in the process
 * (H5Zregister overwrites an entry with the same id and never fails for it),
 * e.g. the plugin h5py loaded first: both speak the same format. */
#include "h5blosc.h"

#include <blosc.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(NBR_BLOSC_MAX_OVERHEAD == BLOSC_MAX_OVERHEAD, "h5blosc.h disagrees with blosc.h");

#define FILTER_REVISION 2
#define CD_NVALUES 7

static pthread_once_t register_once = PTHREAD_ONCE_INIT;
static nbr_status register_status = NBR_ERROR;
static char register_message[256];
static int blosc_threads = 1;

static void push_error(const char *func, const char *message)
{
    H5Epush2(H5E_DEFAULT, __FILE__, func, __LINE__, H5E_ERR_CLS, H5E_PLINE, H5E_CALLBACK, "%s",
             message);
}

size_t nbr_blosc_typesize(hid_t type)
{
    size_t basesize = H5Tget_size(type);
    if (basesize == 0) return 0;
    if (H5Tget_class(type) == H5T_ARRAY) {
        hid_t super = H5Tget_super(type);
        if (super < 0) return 0;
        basesize = H5Tget_size(super);
        H5Tclose(super);
        if (basesize == 0) return 0;
    }
    return basesize > BLOSC_MAX_TYPESIZE ? 1 : basesize;
}

/* ---- set_local: fill cd_values[0..3] from the dataset ------------------- */

static herr_t blosc_set_local(hid_t dcpl, hid_t type, hid_t space)
{
    (void)space;
    unsigned flags = 0;
    size_t nvalues = 8;
    unsigned values[8] = {0};
    if (H5Pget_filter_by_id2(dcpl, NBR_BLOSC_FILTER_ID, &flags, &nvalues, values, 0, NULL, NULL) <
        0)
        return -1;
    if (nvalues > 8) nvalues = 8; /* H5P reports the stored count, fills at most 8 */
    if (nvalues < 4) nvalues = 4;
    values[0] = FILTER_REVISION;
    values[1] = BLOSC_VERSION_FORMAT;

    hsize_t dims[H5S_MAX_RANK];
    int rank = H5Pget_chunk(dcpl, H5S_MAX_RANK, dims);
    if (rank < 0) return -1;
    if (rank > H5S_MAX_RANK) {
        push_error("blosc_set_local", "chunk rank exceeds 32");
        return -1;
    }
    size_t typesize = H5Tget_size(type), basesize = nbr_blosc_typesize(type);
    if (typesize == 0 || basesize == 0) return -1;
    values[2] = (unsigned)basesize;

    /* HDF5 limits a chunk to 4 GiB - 1, so the product fits 32 bits; the
     * reference plugin computes it in an unsigned int as well. */
    unsigned long long bytes = typesize;
    for (int i = 0; i < rank; i++) {
        bytes *= dims[i];
        if (bytes > UINT_MAX) {
            push_error("blosc_set_local", "chunk larger than 4 GiB");
            return -1;
        }
    }
    values[3] = (unsigned)bytes;
    if (H5Pmodify_filter(dcpl, NBR_BLOSC_FILTER_ID, flags, nvalues, values) < 0) return -1;
    return 1;
}

/* ---- the filter ----------------------------------------------------------- */

/* One chunk as one Blosc frame into `out` (room for nbytes): the frame's
 * size, 0 if it does not shrink, negative on a Blosc error.  The filter and
 * nbr_blosc_compress_chunk both compress here, so that a chunk compressed
 * ahead of HDF5 (H5Dwrite_chunk) is the frame the filter would make. */
static int frame_compress(void *out, const void *in, size_t nbytes, size_t typesize, int level,
                          int shuffle, const char *compressor, int threads)
{
    if (level > 9) level = 9;
    if (typesize == 0 || typesize > BLOSC_MAX_TYPESIZE) typesize = 1;
    return blosc_compress_ctx(level, shuffle, typesize, nbytes, in, out, nbytes, compressor, 0,
                              threads);
}

static size_t filter_compress(size_t cd_nelmts, const unsigned cd_values[], size_t nbytes,
                              size_t *buf_size, void **buf)
{
    if (cd_nelmts < 4) {
        push_error("blosc_filter", "Blosc filter parameters incomplete (set_local not run)");
        return 0;
    }
    size_t typesize = cd_values[2];
    int level = cd_nelmts >= 5 ? (int)cd_values[4] : 5;
    int shuffle = cd_nelmts >= 6 ? (int)cd_values[5] : BLOSC_SHUFFLE;
    int code = cd_nelmts >= 7 ? (int)cd_values[6] : BLOSC_BLOSCLZ;
    const char *compressor = NULL;
    if (blosc_compcode_to_compname(code, &compressor) < 0 || !compressor) {
        push_error("blosc_filter", "this Blosc library has no such compressor");
        return 0;
    }
    /* Too small or too large for one frame: leave the chunk unfiltered (the
     * filter is optional, so HDF5 stores it as is and records that). */
    if (nbytes == 0 || nbytes > (size_t)BLOSC_MAX_BUFFERSIZE) return 0;

    /* Output no larger than the input: a chunk that does not shrink is not
     * worth a filter, and returning 0 makes HDF5 store it raw. */
    void *out = H5allocate_memory(nbytes, 0);
    if (!out) {
        push_error("blosc_filter", "out of memory for the compression buffer");
        return 0;
    }
    int n = frame_compress(out, *buf, nbytes, typesize, level, shuffle, compressor, blosc_threads);
    if (n <= 0) {
        if (n < 0) push_error("blosc_filter", "Blosc compression error");
        H5free_memory(out);
        return 0;
    }
    H5free_memory(*buf);
    *buf = out;
    *buf_size = nbytes;
    return (size_t)n;
}

static size_t filter_decompress(size_t nbytes, size_t *buf_size, void **buf)
{
    if (nbytes < BLOSC_MIN_HEADER_LENGTH || nbytes > *buf_size) {
        push_error("blosc_filter", "Blosc frame shorter than its header");
        return 0;
    }
    size_t raw = 0, cbytes = 0, blocksize = 0;
    blosc_cbuffer_sizes(*buf, &raw, &cbytes, &blocksize);
    if (cbytes < BLOSC_MIN_HEADER_LENGTH || cbytes > nbytes) {
        push_error("blosc_filter", "Blosc frame header claims more bytes than the chunk holds");
        return 0;
    }
    size_t checked = 0;
    if (blosc_cbuffer_validate(*buf, cbytes, &checked) < 0 || checked != raw) {
        push_error("blosc_filter", "invalid Blosc frame header");
        return 0;
    }
    if (raw == 0) {
        /* An empty frame: nothing to decompress (never written by HDF5). */
        push_error("blosc_filter", "empty Blosc frame");
        return 0;
    }
    void *out = H5allocate_memory(raw, 0);
    if (!out) {
        push_error("blosc_filter", "out of memory for the decompression buffer");
        return 0;
    }
    int n = blosc_decompress_ctx(*buf, out, raw, blosc_threads);
    if (n <= 0 || (size_t)n != raw) {
        push_error("blosc_filter", "Blosc decompression error (corrupt chunk)");
        H5free_memory(out);
        return 0;
    }
    H5free_memory(*buf);
    *buf = out;
    *buf_size = raw;
    return raw;
}

static size_t blosc_filter(unsigned flags, size_t cd_nelmts, const unsigned cd_values[],
                           size_t nbytes, size_t *buf_size, void **buf)
{
    if (!buf || !*buf || !buf_size) return 0;
    if (flags & H5Z_FLAG_REVERSE) return filter_decompress(nbytes, buf_size, buf);
    return filter_compress(cd_nelmts, cd_values, nbytes, buf_size, buf);
}

static const H5Z_class2_t blosc_class = {
    H5Z_CLASS_T_VERS, (H5Z_filter_t)NBR_BLOSC_FILTER_ID, 1, 1, "blosc", NULL, blosc_set_local,
    blosc_filter,
};

/* ---- registration ----------------------------------------------------- */

static void register_filter(void)
{
    const char *env = getenv("BLOSC_NTHREADS");
    if (env && *env) {
        char *end = NULL;
        long n = strtol(env, &end, 10);
        if (end && *end == '\0' && n >= 1 && n <= 64) blosc_threads = (int)n;
    }
    if (H5Zregister(&blosc_class) < 0) {
        register_status = NBR_ERROR;
        snprintf(register_message, sizeof register_message,
                 "could not register the Blosc HDF5 filter (id %d) with HDF5", NBR_BLOSC_FILTER_ID);
        return;
    }
    register_status = NBR_OK;
}

nbr_status nbr_blosc_register(void)
{
    pthread_once(&register_once, register_filter);
    if (register_status != NBR_OK) return nbr_fail(register_status, "%s", register_message);
    return NBR_OK;
}

/* ---- codecs ----------------------------------------------------------- */

static const char *const codec_names[] = {"blosclz", "lz4", "lz4hc", "snappy", "zlib", "zstd"};
#define N_CODECS (sizeof codec_names / sizeof codec_names[0])

nbr_status nbr_blosc_codec_from_name(nbr_blosc_codec *out, const char *name)
{
    if (!out) return nbr_fail(NBR_EINVAL, "nbr_blosc_codec_from_name: out is NULL");
    if (!name) return nbr_fail(NBR_EINVAL, "Blosc compressor name is NULL");
    for (size_t i = 0; i < N_CODECS; i++) {
        if (strcmp(name, codec_names[i]) == 0) {
            *out = (nbr_blosc_codec)i;
            return NBR_OK;
        }
    }
    return nbr_fail(
        NBR_EINVAL,
        "unknown Blosc compressor '%s' (known: blosclz, lz4, lz4hc, snappy, zlib, zstd)", name);
}

/* The codec's name, or NULL for a value outside the enum. */
const char *nbr_blosc_codec_name(nbr_blosc_codec codec)
{
    if ((unsigned)codec >= N_CODECS) return NULL;
    return codec_names[codec];
}

/* Whether this Blosc library was built with `codec`. */
static int codec_supported(nbr_blosc_codec codec)
{
    const char *name = NULL;
    return (unsigned)codec < N_CODECS && blosc_compcode_to_compname((int)codec, &name) >= 0 &&
           name != NULL;
}

nbr_status nbr_blosc_set_filter(hid_t dcpl, int level, int shuffle, nbr_blosc_codec codec)
{
    if (level < 0 || level > 9)
        return nbr_fail(NBR_EINVAL, "Blosc level %d out of range 0-9", level);
    if (shuffle < 0 || shuffle > 2)
        return nbr_fail(NBR_EINVAL, "Blosc shuffle %d out of range (0 none, 1 byte, 2 bit)",
                        shuffle);
    if ((unsigned)codec >= N_CODECS)
        return nbr_fail(NBR_EINVAL, "Blosc compressor code %d out of range 0-5", (int)codec);
    if (!codec_supported(codec))
        return nbr_fail(NBR_EUNSUPPORTED, "this Blosc library has no '%s' compressor (it has %s)",
                        codec_names[codec], blosc_list_compressors());
    nbr_status st = nbr_blosc_register();
    if (st != NBR_OK) return st;
    if (H5Pget_layout(dcpl) != H5D_CHUNKED)
        return nbr_fail(NBR_EINVAL,
                        "the Blosc filter needs a chunked dataset creation property list");
    const unsigned values[CD_NVALUES] = {
        FILTER_REVISION,   BLOSC_VERSION_FORMAT, 0, 0, (unsigned)level,
        (unsigned)shuffle, (unsigned)codec};
    if (H5Pset_filter(dcpl, NBR_BLOSC_FILTER_ID, H5Z_FLAG_OPTIONAL, CD_NVALUES, values) < 0)
        return nbr_fail(NBR_ERROR, "HDF5 refused the Blosc filter (id %d) on a property list",
                        NBR_BLOSC_FILTER_ID);
    return NBR_OK;
}

/* The largest sample compressed whole; a longer one is judged by its prefix. */
#define SAMPLE_MAX ((size_t)64 << 20)

int nbr_blosc_worth_compressing(const void *data, size_t size, size_t typesize, int level,
                                int shuffle, nbr_blosc_codec codec)
{
    if (!data || size == 0 || level < 0 || level > 9 || shuffle < 0 || shuffle > 2) return 0;
    if (!codec_supported(codec)) return 0;
    if (typesize == 0 || typesize > BLOSC_MAX_TYPESIZE) typesize = 1;
    if (size > SAMPLE_MAX) size = SAMPLE_MAX - SAMPLE_MAX % typesize;
    /* At least 10 % smaller: the frame must fit in 90 % of the input. */
    size_t limit = size - size / 10 - (size % 10 != 0);
    if (limit < BLOSC_MIN_HEADER_LENGTH + 1) return 0;
    void *out = malloc(limit);
    if (!out) return 0;
    int n = blosc_compress_ctx(level, shuffle, typesize, size, data, out, limit, codec_names[codec],
                               0, 1);
    free(out);
    return n > 0 && (size_t)n <= limit;
}

size_t nbr_blosc_compress_chunk(void *out, const void *in, size_t nbytes, size_t typesize,
                                int level, int shuffle, nbr_blosc_codec codec)
{
    const char *compressor = NULL;
    if (nbytes == 0 || nbytes > (size_t)BLOSC_MAX_BUFFERSIZE) return 0;
    if (blosc_compcode_to_compname((int)codec, &compressor) < 0 || !compressor) return 0;
    int n = frame_compress(out, in, nbytes, typesize, level, shuffle, compressor, 1);
    return n > 0 ? (size_t)n : 0;
}

nbr_status nbr_blosc_decompress_into(void *dest, size_t dest_size, const void *frame, size_t size)
{
    size_t nbytes = 0;
    if (size < BLOSC_MIN_HEADER_LENGTH || blosc_cbuffer_validate(frame, size, &nbytes) != 0 ||
        nbytes != dest_size || nbytes > (size_t)BLOSC_MAX_BUFFERSIZE)
        return NBR_ECORRUPT;
    int n = blosc_decompress_ctx(frame, dest, nbytes, 1);
    return n >= 0 && (size_t)n == nbytes ? NBR_OK : NBR_ECORRUPT;
}

nbr_status nbr_blosc_decompress(void **out, size_t *out_size, const void *frame, size_t size,
                                size_t max_bytes)
{
    size_t nbytes = 0;
    *out = NULL;
    *out_size = 0;
    if (size < BLOSC_MIN_HEADER_LENGTH || blosc_cbuffer_validate(frame, size, &nbytes) != 0 ||
        nbytes > max_bytes)
        return NBR_ECORRUPT;
    void *data = malloc(nbytes ? nbytes : 1);
    if (!data) return nbr_fail_nomem("decompressing");
    nbr_status st = nbr_blosc_decompress_into(data, nbytes, frame, size);
    if (st != NBR_OK) {
        free(data);
        return st;
    }
    *out = data;
    *out_size = nbytes;
    return NBR_OK;
}

int nbr_blosc_worth_frame(size_t size, size_t frame)
{
    if (size == 0 || size > SAMPLE_MAX) return -1;
    size_t limit = size - size / 10 - (size % 10 != 0);
    return limit >= BLOSC_MIN_HEADER_LENGTH + 1 && frame > 0 && frame <= limit;
}
