/* test_h5blosc.c - the in-process Blosc HDF5 filter (libnbrewind/h5blosc.c).
 *
 * Real HDF5 files in a scratch directory: chunked datasets written through the
 * filter with every codec and shuffle mode and read back bit for bit, the
 * cd_values set_local leaves in the file, raw chunks written by Blosc itself
 * (not by our filter) decoded by our filter, incompressible chunks stored
 * unfiltered, and corrupt chunks reported as read errors. */
#include <blosc.h>
#include <hdf5.h>
#include <pthread.h>
#include <stdint.h>
#include <unistd.h>

#include "dtype.h"
#include "h5blosc.h"
#include "nbr_test.h"

static char path[256];

static hid_t new_file(const char *name)
{
    snprintf(path, sizeof path, "test_h5blosc_%ld_%s.h5", (long)getpid(), name);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(f >= 0);
    return f;
}

static void drop_file(hid_t f)
{
    H5Fclose(f);
    unlink(path);
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t next_random(void)
{
    /* splitmix64 */
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Smooth float64 data: compresses well with shuffle. */
static double *smooth(size_t n)
{
    double *d = malloc(n * sizeof *d);
    for (size_t i = 0; i < n; i++) d[i] = (double)(i % 1000) * 0.25 + (double)(i / 1000);
    return d;
}

static hid_t blosc_dcpl(int rank, const hsize_t *chunk, int level, int shuffle,
                        nbr_blosc_codec codec)
{
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    CHECK(H5Pset_chunk(dcpl, rank, chunk) >= 0);
    CHECK_OK(nbr_blosc_set_filter(dcpl, level, shuffle, codec));
    return dcpl;
}

/* The Blosc cd_values stored with a dataset. */
static size_t stored_values(hid_t dset, unsigned values[8], unsigned *flags)
{
    hid_t dcpl = H5Dget_create_plist(dset);
    size_t n = 8;
    memset(values, 0, 8 * sizeof *values);
    CHECK(H5Pget_filter_by_id2(dcpl, NBR_BLOSC_FILTER_ID, flags, &n, values, 0, NULL, NULL) >= 0);
    H5Pclose(dcpl);
    return n;
}

static void test_codec_names(void)
{
    const char *names[] = {"blosclz", "lz4", "lz4hc", "snappy", "zlib", "zstd"};
    for (int i = 0; i < 6; i++) {
        nbr_blosc_codec c = NBR_BLOSC_ZSTD;
        CHECK_OK(nbr_blosc_codec_from_name(&c, names[i]));
        CHECK((int)c == i);
        CHECK_STR(names[i], nbr_blosc_codec_name(c));
    }
    nbr_blosc_codec c;
    CHECK_STATUS(NBR_EINVAL, nbr_blosc_codec_from_name(&c, "LZ4"));
    CHECK(strstr(nbr_last_error(), "'LZ4'") != NULL);
    CHECK_STATUS(NBR_EINVAL, nbr_blosc_codec_from_name(&c, NULL));
    CHECK(nbr_blosc_codec_name((nbr_blosc_codec)6) == NULL);
    /* the numbering is hdf5-blosc's */
    CHECK(NBR_BLOSC_BLOSCLZ == BLOSC_BLOSCLZ && NBR_BLOSC_LZ4 == BLOSC_LZ4 &&
          NBR_BLOSC_LZ4HC == BLOSC_LZ4HC && NBR_BLOSC_SNAPPY == BLOSC_SNAPPY &&
          NBR_BLOSC_ZLIB == BLOSC_ZLIB && NBR_BLOSC_ZSTD == BLOSC_ZSTD);
}

/* Runs first: when Debian's plugin is installed, HDF5 loads it for 32001
 * (as it does in a process where h5py read a Blosc dataset first); our
 * registration then replaces it without failing. */
static void test_register_over_plugin(void)
{
    int loaded_before = H5Zfilter_avail(NBR_BLOSC_FILTER_ID) > 0;
    FILE *maps = fopen("/proc/self/maps", "r");
    char line[4096];
    int plugin_mapped = 0;
    while (maps && fgets(line, sizeof line, maps))
        if (strstr(line, "/plugins/") && strstr(line, "blosc")) plugin_mapped = 1;
    if (maps) fclose(maps);
    CHECK(loaded_before == plugin_mapped);
    if (!plugin_mapped) printf("(no Blosc plugin installed: registering over it not tested)\n");
    CHECK_OK(nbr_blosc_register());
    CHECK(H5Zfilter_avail(NBR_BLOSC_FILTER_ID) > 0);

    /* Ours is the one in use now.  Telling them apart: level 10 (beyond
     * Blosc's 9) makes the reference plugin's blosc_compress fail, so its
     * chunk is stored raw (mask 1); ours clamps to 9 and compresses. */
    hid_t f = H5Fcreate("test_h5blosc_plugin.h5", H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t dims[1] = {4096};
    hid_t space = H5Screate_simple(1, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 1, dims);
    const unsigned values[7] = {2, 2, 0, 0, 10, 1, NBR_BLOSC_LZ4};
    H5Pset_filter(dcpl, NBR_BLOSC_FILTER_ID, H5Z_FLAG_OPTIONAL, 7, values);
    hid_t d = H5Dcreate2(f, "x", H5T_NATIVE_INT, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    int *data = calloc(4096, sizeof *data);
    CHECK(H5Dwrite(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0);
    H5Dflush(d);
    unsigned mask = 9;
    haddr_t addr;
    hsize_t size, off[1];
    CHECK(H5Dget_chunk_info(d, space, 0, off, &mask, &addr, &size) >= 0);
    CHECK(mask == 0 && size < 4096);
    free(data);
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(space);
    H5Fclose(f);
    unlink("test_h5blosc_plugin.h5");
}

static void *register_in_thread(void *arg)
{
    *(int *)arg = nbr_blosc_register();
    return NULL;
}

static void test_register(void)
{
    pthread_t threads[4];
    int status[4] = {-99, -99, -99, -99};
    for (int i = 0; i < 4; i++) pthread_create(&threads[i], NULL, register_in_thread, &status[i]);
    for (int i = 0; i < 4; i++) {
        pthread_join(threads[i], NULL);
        CHECK(status[i] == NBR_OK);
    }
    CHECK_OK(nbr_blosc_register());
    CHECK_OK(nbr_blosc_register());
    CHECK(H5Zfilter_avail(NBR_BLOSC_FILTER_ID) > 0);
    unsigned config = 0;
    CHECK(H5Zget_filter_info(NBR_BLOSC_FILTER_ID, &config) >= 0);
    CHECK(config & H5Z_FILTER_CONFIG_ENCODE_ENABLED);
    CHECK(config & H5Z_FILTER_CONFIG_DECODE_ENABLED);
}

static void test_set_filter_errors(void)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    /* not chunked */
    CHECK_STATUS(NBR_EINVAL, nbr_blosc_set_filter(dcpl, 5, 1, NBR_BLOSC_LZ4));
    hsize_t chunk[1] = {16};
    H5Pset_chunk(dcpl, 1, chunk);
    CHECK_STATUS(NBR_EINVAL, nbr_blosc_set_filter(dcpl, 10, 1, NBR_BLOSC_LZ4));
    CHECK_STATUS(NBR_EINVAL, nbr_blosc_set_filter(dcpl, -1, 1, NBR_BLOSC_LZ4));
    CHECK_STATUS(NBR_EINVAL, nbr_blosc_set_filter(dcpl, 5, 3, NBR_BLOSC_LZ4));
    CHECK_STATUS(NBR_EINVAL, nbr_blosc_set_filter(dcpl, 5, 1, (nbr_blosc_codec)9));
    CHECK(H5Pget_nfilters(dcpl) == 0);
    CHECK_OK(nbr_blosc_set_filter(dcpl, 5, 1, NBR_BLOSC_ZSTD));
    CHECK(H5Pget_nfilters(dcpl) == 1);
    unsigned flags = 0, values[8];
    size_t n = 8;
    CHECK(H5Pget_filter_by_id2(dcpl, NBR_BLOSC_FILTER_ID, &flags, &n, values, 0, NULL, NULL) >= 0);
    CHECK(n == 7 && values[0] == 2 && values[1] == 2 && values[4] == 5 && values[5] == 1 &&
          values[6] == 5);
    CHECK(flags & H5Z_FLAG_OPTIONAL);
    H5Pclose(dcpl);
}

/* Write `data` (rows x cols float64, chunked) through the filter, check the
 * stored parameters and size, read it back and compare bytes. */
static void write_read(nbr_blosc_codec codec, int shuffle, int level)
{
    enum { ROWS = 1000, COLS = 37, CROWS = 128 };
    double *data = smooth((size_t)ROWS * COLS);
    hid_t f = new_file(nbr_blosc_codec_name(codec));
    hsize_t dims[2] = {ROWS, COLS}, chunk[2] = {CROWS, COLS};
    hid_t space = H5Screate_simple(2, dims, NULL);
    hid_t dcpl = blosc_dcpl(2, chunk, level, shuffle, codec);
    hid_t d = H5Dcreate2(f, "x", H5T_IEEE_F64LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    CHECK(d >= 0);
    CHECK(H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0);

    unsigned values[8], flags = 0;
    size_t n = stored_values(d, values, &flags);
    CHECK(n == 7);
    CHECK(values[0] == 2 && values[1] == 2);
    CHECK(values[2] == 8);
    CHECK(values[3] == CROWS * COLS * 8);
    CHECK((int)values[4] == level && (int)values[5] == shuffle && values[6] == (unsigned)codec);
    hsize_t stored = H5Dget_storage_size(d);
    if (level > 0 && stored >= (hsize_t)ROWS * COLS * 8) {
        fprintf(stderr, "%s shuffle %d: stored %llu bytes, not compressed\n",
                nbr_blosc_codec_name(codec), shuffle, (unsigned long long)stored);
        nbr_test_failures++;
    }
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(space);
    H5Fclose(f);

    /* reopen: the pipeline comes from the file */
    f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    d = H5Dopen2(f, "x", H5P_DEFAULT);
    double *back = calloc((size_t)ROWS * COLS, sizeof *back);
    CHECK(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, back) >= 0);
    if (memcmp(back, data, (size_t)ROWS * COLS * sizeof *data) != 0) {
        fprintf(stderr, "%s shuffle %d level %d: data differs after the round trip\n",
                nbr_blosc_codec_name(codec), shuffle, level);
        nbr_test_failures++;
    }
    /* one hyperslab crossing chunk boundaries */
    hsize_t start[2] = {100, 3}, count[2] = {300, 5};
    hid_t fs = H5Dget_space(d);
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
    hid_t ms = H5Screate_simple(2, count, NULL);
    double part[300 * 5];
    CHECK(H5Dread(d, H5T_NATIVE_DOUBLE, ms, fs, H5P_DEFAULT, part) >= 0);
    int same = 1;
    for (int r = 0; r < 300; r++)
        for (int c = 0; c < 5; c++)
            if (part[r * 5 + c] != data[(size_t)(100 + r) * COLS + 3 + (size_t)c]) same = 0;
    CHECK(same);
    H5Sclose(ms);
    H5Sclose(fs);
    H5Dclose(d);
    drop_file(f);
    free(back);
    free(data);
}

static void test_every_codec_and_shuffle(void)
{
    const nbr_blosc_codec codecs[] = {NBR_BLOSC_BLOSCLZ, NBR_BLOSC_LZ4, NBR_BLOSC_LZ4HC,
                                      NBR_BLOSC_ZLIB, NBR_BLOSC_ZSTD};
    for (size_t i = 0; i < sizeof codecs / sizeof codecs[0]; i++)
        for (int shuffle = 0; shuffle <= 2; shuffle++) write_read(codecs[i], shuffle, 5);
    write_read(NBR_BLOSC_LZ4, 1, 1);
    write_read(NBR_BLOSC_ZSTD, 1, 9);
}

/* set_local: typesize of an array type is its base's; over 255 becomes 1. */
static void check_typesize(const char *dtype, unsigned want_typesize)
{
    hid_t type = -1;
    size_t itemsize = 0;
    CHECK_OK(nbr_dtype_to_hdf5(&type, &itemsize, dtype));
    hid_t f = new_file("typesize");
    hsize_t dims[1] = {100}, chunk[1] = {10};
    hid_t space = H5Screate_simple(1, dims, NULL);
    hid_t dcpl = blosc_dcpl(1, chunk, 5, 1, NBR_BLOSC_LZ4);
    hid_t d = H5Dcreate2(f, "x", type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    CHECK(d >= 0);
    unsigned char *data = calloc(100, itemsize);
    for (size_t i = 0; i < 100 * itemsize; i++) data[i] = (unsigned char)(i % 7 == 0 ? i : 0);
    CHECK(H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0);
    unsigned values[8], flags;
    stored_values(d, values, &flags);
    if (values[2] != want_typesize || values[3] != 10 * itemsize) {
        fprintf(stderr, "%s: typesize %u (want %u), chunk bytes %u (want %zu)\n", dtype, values[2],
                want_typesize, values[3], 10 * itemsize);
        nbr_test_failures++;
    }
    unsigned char *back = calloc(100, itemsize);
    CHECK(H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, back) >= 0);
    CHECK(memcmp(back, data, 100 * itemsize) == 0);
    free(back);
    free(data);
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(space);
    H5Tclose(type);
    drop_file(f);
}

static void test_set_local_typesize(void)
{
    check_typesize("<U5", 4);
    check_typesize("<c16", 16);
    check_typesize("|S300", 1);
    check_typesize("|b1", 1);
    check_typesize("[[\"a\", \"<i4\"], [\"b\", \"<f8\", [3]]]", 28);
}

static void test_incompressible(void)
{
    enum { N = 1 << 16 };
    unsigned char *noise = malloc(N);
    for (size_t i = 0; i < N; i += 8) {
        uint64_t r = next_random();
        memcpy(noise + i, &r, 8);
    }
    double *good = smooth(N / 8);
    for (nbr_blosc_codec c = NBR_BLOSC_BLOSCLZ; c <= NBR_BLOSC_ZSTD; c++) {
        if (c == NBR_BLOSC_SNAPPY) continue;
        CHECK(nbr_blosc_worth_compressing(noise, N, 8, 5, 1, c) == 0);
        CHECK(nbr_blosc_worth_compressing(good, N, 8, 5, 1, c) == 1);
    }
    CHECK(nbr_blosc_worth_compressing(good, N, 8, 0, 1, NBR_BLOSC_LZ4) == 0); /* level 0 copies */
    CHECK(nbr_blosc_worth_compressing(NULL, N, 8, 5, 1, NBR_BLOSC_LZ4) == 0);
    CHECK(nbr_blosc_worth_compressing(good, 0, 8, 5, 1, NBR_BLOSC_LZ4) == 0);
    CHECK(nbr_blosc_worth_compressing(good, 10, 8, 5, 1, NBR_BLOSC_LZ4) == 0);
    CHECK(nbr_blosc_worth_compressing(good, N, 8, 11, 1, NBR_BLOSC_LZ4) == 0);
    CHECK(nbr_blosc_worth_compressing(good, N, 8, 5, 1, (nbr_blosc_codec)42) == 0);
    CHECK(nbr_blosc_worth_compressing(good, N, 1000, 5, 1, NBR_BLOSC_LZ4) == 1);
    /* 9 % smaller is not enough: half noise, a bit of zeros */
    unsigned char *mixed = malloc(N);
    memcpy(mixed, noise, N);
    memset(mixed, 0, N / 20); /* 5 % compressible */
    CHECK(nbr_blosc_worth_compressing(mixed, N, 1, 5, 0, NBR_BLOSC_LZ4) == 0);
    memset(mixed, 0, N / 4); /* 25 % */
    CHECK(nbr_blosc_worth_compressing(mixed, N, 1, 5, 0, NBR_BLOSC_LZ4) == 1);
    free(mixed);

    /* Through HDF5: noise chunks are stored raw (filter skipped in the mask),
     * the smooth chunk compressed, and all of it reads back. */
    hid_t f = new_file("noise");
    hsize_t dims[1] = {N / 8 * 2}, chunk[1] = {N / 8};
    hid_t space = H5Screate_simple(1, dims, NULL);
    hid_t dcpl = blosc_dcpl(1, chunk, 5, 1, NBR_BLOSC_LZ4);
    hid_t d = H5Dcreate2(f, "x", H5T_IEEE_F64LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    unsigned char *both = malloc(2 * N);
    memcpy(both, noise, N);
    memcpy(both + N, good, N);
    CHECK(H5Dwrite(d, H5T_IEEE_F64LE, H5S_ALL, H5S_ALL, H5P_DEFAULT, both) >= 0);
    CHECK(H5Dflush(d) >= 0);
    unsigned mask = 0;
    haddr_t addr;
    hsize_t size = 0, off[1] = {0};
    hid_t fspace = H5Dget_space(d);
    CHECK(H5Dget_chunk_info(d, fspace, 0, off, &mask, &addr, &size) >= 0);
    CHECK(mask == 1 && size == N); /* filter 0 skipped, stored as is */
    CHECK(H5Dget_chunk_info(d, fspace, 1, off, &mask, &addr, &size) >= 0);
    CHECK(mask == 0 && size < N / 2);
    H5Sclose(fspace);
    unsigned char *back = malloc(2 * N);
    CHECK(H5Dread(d, H5T_IEEE_F64LE, H5S_ALL, H5S_ALL, H5P_DEFAULT, back) >= 0);
    CHECK(memcmp(back, both, 2 * N) == 0);
    free(back);
    free(both);
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(space);
    drop_file(f);
    free(good);
    free(noise);
}

/* Chunks written as raw bytes: a frame Blosc made itself decodes through our
 * filter; corrupt frames fail the read without crashing. */
static void test_foreign_and_corrupt_chunks(void)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    enum { N = 4096 };
    double *data = smooth(N);
    hid_t f = new_file("raw");
    hsize_t dims[1] = {N}, chunk[1] = {N};
    hid_t space = H5Screate_simple(1, dims, NULL);
    hid_t dcpl = blosc_dcpl(1, chunk, 5, 1, NBR_BLOSC_ZSTD);
    hid_t d = H5Dcreate2(f, "x", H5T_IEEE_F64LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    size_t cap = N * 8 + BLOSC_MAX_OVERHEAD;
    unsigned char *frame = malloc(cap);
    /* a frame from the plain global API, zlib with bit shuffle: the reader
     * must go by the frame header, not by the dataset's cd_values */
    int csize = blosc_compress_ctx(3, BLOSC_BITSHUFFLE, 8, N * 8, data, frame, cap, "zlib", 0, 1);
    CHECK(csize > 0);
    hsize_t off[1] = {0};
    CHECK(H5Dwrite_chunk(d, H5P_DEFAULT, 0, off, (size_t)csize, frame) >= 0);
    double *back = calloc(N, 8);
    CHECK(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, back) >= 0);
    CHECK(memcmp(back, data, N * 8) == 0);

    /* truncated: the header claims more bytes than the chunk holds */
    CHECK(H5Dwrite_chunk(d, H5P_DEFAULT, 0, off, (size_t)csize / 2, frame) >= 0);
    CHECK(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, back) < 0);
    /* shorter than a header */
    CHECK(H5Dwrite_chunk(d, H5P_DEFAULT, 0, off, 10, frame) >= 0);
    CHECK(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, back) < 0);
    /* garbage */
    unsigned char junk[256];
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (unsigned char)next_random();
    CHECK(H5Dwrite_chunk(d, H5P_DEFAULT, 0, off, sizeof junk, junk) >= 0);
    CHECK(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, back) < 0);
    /* a header that promises more output than the dataset's chunk */
    memcpy(junk, frame, 16);
    uint32_t huge = 0x7fff0000u;
    memcpy(junk + 4, &huge, 4);
    CHECK(H5Dwrite_chunk(d, H5P_DEFAULT, 0, off, sizeof junk, junk) >= 0);
    CHECK(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, back) < 0);
    /* corrupt payload, intact header */
    memcpy(junk, frame, 16);
    uint32_t cb = sizeof junk;
    memcpy(junk + 12, &cb, 4);
    CHECK(H5Dwrite_chunk(d, H5P_DEFAULT, 0, off, sizeof junk, junk) >= 0);
    CHECK(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, back) < 0);
    /* and a good frame again */
    CHECK(H5Dwrite_chunk(d, H5P_DEFAULT, 0, off, (size_t)csize, frame) >= 0);
    memset(back, 0, N * 8);
    CHECK(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, back) >= 0);
    CHECK(memcmp(back, data, N * 8) == 0);

    free(back);
    free(frame);
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(space);
    drop_file(f);
    free(data);
}

/* A dataset whose cd_values lack the optional slots (as an old writer may
 * leave them) still writes with the reference plugin's defaults. */
static void test_short_cd_values(void)
{
    CHECK_OK(nbr_blosc_register());
    enum { N = 2048 };
    double *data = smooth(N);
    hid_t f = new_file("short");
    hsize_t dims[1] = {N}, chunk[1] = {512};
    hid_t space = H5Screate_simple(1, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 1, chunk);
    unsigned none[1] = {0};
    CHECK(H5Pset_filter(dcpl, NBR_BLOSC_FILTER_ID, H5Z_FLAG_OPTIONAL, 0, none) >= 0);
    hid_t d = H5Dcreate2(f, "x", H5T_IEEE_F64LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    CHECK(d >= 0);
    CHECK(H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0);
    unsigned values[8], flags;
    CHECK(stored_values(d, values, &flags) == 4);
    CHECK(values[0] == 2 && values[1] == 2 && values[2] == 8 && values[3] == 512 * 8);
    CHECK(H5Dget_storage_size(d) < N * 8);
    double *back = calloc(N, 8);
    CHECK(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, back) >= 0);
    CHECK(memcmp(back, data, N * 8) == 0);
    free(back);
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(space);
    drop_file(f);
    free(data);
}

NBR_TEST_MAIN(TEST(test_register_over_plugin), TEST(test_codec_names), TEST(test_register),
              TEST(test_set_filter_errors), TEST(test_every_codec_and_shuffle),
              TEST(test_set_local_typesize), TEST(test_incompressible),
              TEST(test_foreign_and_corrupt_chunks), TEST(test_short_cd_values))
