/* h5interop.c - our HDF5 files against an independent reader, and theirs
 * against ours.
 *
 *   h5interop write FILE   one dataset per dtype under /nbr/, seeded data,
 *                          C-contiguous, chunked along the first axis with our
 *                          Blosc filter (every codec and shuffle mode in turn),
 *                          attribute nbr_dtype; every chunk must have gone
 *                          through Blosc.  /raw/<name>: the same data
 *                          unfiltered (check_hdf5r.R compares the two).  test_h5py_reads_ours.py
 * then reads it with h5py and Debian's plugin only. h5interop read FILE    the file write_theirs.py
 * made with h5py and Debian's plugin: every /h5py/<name> must decode through our filter to the
 * bytes of /raw/<name> (an unfiltered copy), its chunks must all be Blosc frames, and
 * nbr_dtype_from_hdf5 must give the attribute numpy_dtype (h5py's dtype of it).
 *
 * The data generator (gen.py has its twin): a splitmix64 byte stream seeded
 * per dataset; element e takes the (e / 8)-th random element (runs of 8, so
 * that every chunk compresses); each byte is then shaped by the element's
 * layout, derived from the HDF5 type: 'a' any byte, 'b' bool (v & 1), 's'
 * printable ASCII, 'z' zero (padding, the top of a UCS-4 code point), 'h' the
 * second byte of a code point (< 0xD0, so never a surrogate).  4-byte
 * unsigned integers are laid out as UCS-4 code points. */
#include <hdf5.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtype.h"
#include "h5blosc.h"

static int failures = 0;

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
        failures++;                                                                                \
    } while (0)

/* ---- the generator ---------------------------------------------------------- */

typedef struct rng {
    uint64_t state;
    unsigned char out[8];
    int left;
} rng;

static unsigned char next_byte(rng *r)
{
    if (r->left == 0) {
        uint64_t z = (r->state += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        for (int i = 0; i < 8; i++) r->out[i] = (unsigned char)(z >> (8 * i));
        r->left = 8;
    }
    return r->out[8 - r->left--];
}

/* The layout string of one element of `type`, written into mask[0..size). */
static int layout(char *mask, hid_t type)
{
    size_t size = H5Tget_size(type);
    switch (H5Tget_class(type)) {
    case H5T_ENUM: memset(mask, 'b', size); return 0; /* only bools here */
    case H5T_STRING: memset(mask, 's', size); return 0;
    case H5T_INTEGER:
        if (size == 4 && H5Tget_sign(type) == H5T_SGN_NONE) {
            memcpy(mask, H5Tget_order(type) == H5T_ORDER_BE ? "zzha" : "ahzz", 4);
            return 0;
        }
        memset(mask, 'a', size);
        return 0;
    case H5T_ARRAY: {
        hid_t super = H5Tget_super(type);
        size_t bsize = H5Tget_size(super);
        int rc = layout(mask, super);
        H5Tclose(super);
        for (size_t off = bsize; rc == 0 && off < size; off += bsize)
            memcpy(mask + off, mask, bsize);
        return rc;
    }
    case H5T_COMPOUND: {
        memset(mask, 'z', size);
        int n = H5Tget_nmembers(type);
        for (int i = 0; i < n; i++) {
            hid_t m = H5Tget_member_type(type, (unsigned)i);
            int rc = layout(mask + H5Tget_member_offset(type, (unsigned)i), m);
            H5Tclose(m);
            if (rc) return rc;
        }
        return 0;
    }
    default: memset(mask, 'a', size); return 0; /* floats, opaque */
    }
}

static unsigned char shape_byte(char kind, unsigned char v)
{
    switch (kind) {
    case 'b': return v & 1;
    case 's': return (unsigned char)(0x20 + v % 95);
    case 'z': return 0;
    case 'h': return (unsigned char)(v % 0xD0);
    default: return v;
    }
}

static unsigned char *generate(hid_t type, size_t count, uint64_t seed)
{
    size_t size = H5Tget_size(type);
    char *mask = malloc(size);
    unsigned char *data = malloc(count * size > 0 ? count * size : 1);
    if (!mask || !data || layout(mask, type) != 0) {
        free(mask);
        free(data);
        return NULL;
    }
    rng r = {seed, {0}, 0};
    for (size_t e = 0; e < count; e++) {
        unsigned char *el = data + e * size;
        if (e % 8) {
            memcpy(el, el - size, size);
            continue;
        }
        for (size_t b = 0; b < size; b++) el[b] = shape_byte(mask[b], next_byte(&r));
    }
    free(mask);
    return data;
}

/* ---- writing our file --------------------------------------------------------- */

typedef struct spec {
    const char *name;
    const char *dtype;
    int rank;
    hsize_t dims[3];
    hsize_t chunk_rows;
} spec;

static const spec specs[] = {
    {"bool", "|b1", 1, {4000}, 1024},
    {"int8", "|i1", 1, {3000}, 1000},
    {"uint8", "|u1", 2, {50, 30}, 16},
    {"int16", "<i2", 1, {777}, 128},
    {"int16_be", ">i2", 1, {777}, 128},
    {"uint16", "<u2", 1, {2000}, 512},
    {"int32", "<i4", 2, {100, 7}, 10},
    {"uint32_be", ">u4", 1, {300}, 64},
    {"int64", "<i8", 3, {20, 5, 3}, 4},
    {"uint64", "<u8", 1, {333}, 40},
    {"int64_be", ">i8", 1, {300}, 50},
    {"float16", "<f2", 1, {1000}, 256},
    {"float16_be", ">f2", 1, {1000}, 256},
    {"float32", "<f4", 2, {64, 9}, 8},
    {"float64", "<f8", 2, {100, 12}, 16},
    {"float64_be", ">f8", 1, {500}, 64},
    {"complex64", "<c8", 1, {400}, 64},
    {"complex128", "<c16", 2, {30, 11}, 8},
    {"complex128_be", ">c16", 1, {200}, 32},
    {"bytes1", "|S1", 1, {900}, 128},
    {"bytes7", "|S7", 2, {40, 5}, 8},
    {"void5", "|V5", 1, {300}, 64},
    {"unicode1", "<U1", 1, {500}, 64},
    {"unicode6", "<U6", 2, {30, 4}, 8},
    {"unicode4_be", ">U4", 1, {200}, 32},
    {"datetime_ns", "<M8[ns]", 1, {300}, 64},
    {"datetime_D", "<M8[D]", 1, {300}, 64},
    {"datetime_10s_be", ">M8[10s]", 1, {200}, 64},
    {"timedelta_us", "<m8[us]", 1, {300}, 64},
    {"timedelta_generic", "<m8", 1, {100}, 64},
    {"struct_flat", "[[\"a\", \"<i4\"], [\"b\", \"<f8\"], [\"c\", \"|b1\"]]", 1, {300}, 32},
    {"struct_nested",
     "[[\"id\", \"<u8\"], [\"pos\", [[\"x\", \"<f4\"], [\"y\", \"<f4\"], [\"z\", \"<f4\"]]], "
     "[\"m\", \"<f8\", [2, 2]], [\"tag\", \"|S3\"], [\"z\", \"<c8\"]]",
     2,
     {40, 3},
     8},
    {"struct_padded",
     "[[\"a\", \"|i1\"], [\"\", \"|V7\"], [\"b\", \"<f8\"], [\"c\", \">i2\"], [\"\", \"|V6\"]]",
     1,
     {300},
     32},
    {"struct_text_time",
     "[[\"name\", \"<U5\"], [\"when\", \"<M8[ms]\"], [\"codes\", \"<U2\", [3]], [\"f\", \"<f2\"]]",
     1,
     {200},
     32},
    {"struct_of_structs",
     "[[\"p\", [[\"q\", \"<i2\"], [\"r\", [[\"s\", \"|u1\"], [\"t\", \">f4\"]], [2]]], [3]], "
     "[\"\\u00e9t\\u00e9\", \"<i4\"]]",
     1,
     {100},
     16},
};
#define N_SPECS (sizeof specs / sizeof specs[0])

static const nbr_blosc_codec codecs[] = {NBR_BLOSC_BLOSCLZ, NBR_BLOSC_LZ4, NBR_BLOSC_LZ4HC,
                                         NBR_BLOSC_ZLIB, NBR_BLOSC_ZSTD};

static int write_string_attr(hid_t obj, const char *name, const char *value)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    hid_t s = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, t, s, H5P_DEFAULT, H5P_DEFAULT);
    int rc = a >= 0 && H5Awrite(a, t, &value) >= 0 ? 0 : -1;
    if (a >= 0) H5Aclose(a);
    H5Sclose(s);
    H5Tclose(t);
    return rc;
}

/* Every chunk of `d` went through the Blosc filter (mask 0). */
static void check_all_chunks_filtered(hid_t d, const char *name)
{
    hid_t fs = H5Dget_space(d);
    hsize_t n = 0;
    H5Dget_num_chunks(d, fs, &n);
    if (n == 0) FAIL("%s: no chunks", name);
    for (hsize_t i = 0; i < n; i++) {
        hsize_t off[H5S_MAX_RANK];
        unsigned mask = 99;
        haddr_t addr;
        hsize_t size;
        if (H5Dget_chunk_info(d, fs, i, off, &mask, &addr, &size) < 0 || mask != 0) {
            FAIL("%s: chunk %llu not Blosc-compressed (filter mask %u)", name,
                 (unsigned long long)i, mask);
            break;
        }
    }
    H5Sclose(fs);
}

static int write_file(const char *path)
{
    if (nbr_blosc_register() != NBR_OK) {
        FAIL("register: %s", nbr_last_error());
        return 1;
    }
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) {
        FAIL("cannot create %s", path);
        return 1;
    }
    hid_t g = H5Gcreate2(f, "nbr", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hid_t raw = H5Gcreate2(f, "raw", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    for (size_t i = 0; i < N_SPECS; i++) {
        const spec *s = &specs[i];
        hid_t type = -1;
        size_t itemsize = 0;
        if (nbr_dtype_to_hdf5(&type, &itemsize, s->dtype) != NBR_OK) {
            FAIL("%s: %s", s->name, nbr_last_error());
            continue;
        }
        size_t count = 1;
        for (int k = 0; k < s->rank; k++) count *= s->dims[k];
        unsigned char *data = generate(type, count, 1000 + i);
        hsize_t chunk[3];
        memcpy(chunk, s->dims, sizeof chunk);
        chunk[0] = s->chunk_rows;
        hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
        H5Pset_chunk(dcpl, s->rank, chunk);
        nbr_blosc_codec codec = codecs[i % 5];
        int shuffle = (int)(i % 3), level = 1 + (int)(i % 9);
        if (nbr_blosc_set_filter(dcpl, level, shuffle, codec) != NBR_OK)
            FAIL("%s: %s", s->name, nbr_last_error());
        hid_t space = H5Screate_simple(s->rank, s->dims, NULL);
        hid_t d = H5Dcreate2(g, s->name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        if (d < 0 || !data || H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) {
            FAIL("%s: cannot write the dataset", s->name);
        } else {
            if (write_string_attr(d, "nbr_dtype", s->dtype) < 0)
                FAIL("%s: cannot write nbr_dtype", s->name);
            /* for the checker: seed, codec, shuffle, level */
            long long params[4] = {1000 + (long long)i, codec, shuffle, level};
            hsize_t four[1] = {4};
            hid_t ps = H5Screate_simple(1, four, NULL);
            hid_t pa = H5Acreate2(d, "test_params", H5T_STD_I64LE, ps, H5P_DEFAULT, H5P_DEFAULT);
            if (pa < 0 || H5Awrite(pa, H5T_NATIVE_LLONG, params) < 0)
                FAIL("%s: cannot write test_params", s->name);
            if (pa >= 0) H5Aclose(pa);
            H5Sclose(ps);
            H5Dflush(d);
            check_all_chunks_filtered(d, s->name);
            unsigned char *back = malloc(count * itemsize);
            if (!back || H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, back) < 0 ||
                memcmp(back, data, count * itemsize) != 0)
                FAIL("%s: does not read back", s->name);
            free(back);
            /* the same data unfiltered, for readers that cannot regenerate it */
            hid_t rd = H5Dcreate2(raw, s->name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
            if (rd < 0 || H5Dwrite(rd, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
                FAIL("%s: cannot write the raw copy", s->name);
            if (rd >= 0) H5Dclose(rd);
            printf("wrote /nbr/%s %s (%s, shuffle %d, level %d)\n", s->name, s->dtype,
                   nbr_blosc_codec_name(codec), shuffle, level);
        }
        if (d >= 0) H5Dclose(d);
        H5Sclose(space);
        H5Pclose(dcpl);
        H5Tclose(type);
        free(data);
    }
    H5Gclose(raw);
    H5Gclose(g);
    H5Fclose(f);
    return failures ? 1 : 0;
}

/* ---- reading h5py's file ---------------------------------------------------- */

static char *read_string_attr(hid_t obj, const char *name)
{
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return NULL;
    hid_t ft = H5Aget_type(a);
    char *out = NULL;
    if (H5Tis_variable_str(ft) > 0) {
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, H5T_VARIABLE);
        H5Tset_cset(mt, H5Tget_cset(ft));
        char *v = NULL;
        if (H5Aread(a, mt, &v) >= 0 && v) {
            out = strdup(v);
            H5free_memory(v);
        }
        H5Tclose(mt);
    } else {
        size_t n = H5Tget_size(ft);
        out = calloc(n + 1, 1);
        if (out && H5Aread(a, ft, out) < 0) {
            free(out);
            out = NULL;
        }
    }
    H5Tclose(ft);
    H5Aclose(a);
    return out;
}

static unsigned char *read_all(hid_t d, hid_t memtype, size_t *bytes)
{
    hid_t fs = H5Dget_space(d);
    hssize_t n = H5Sget_simple_extent_npoints(fs);
    H5Sclose(fs);
    size_t total = (size_t)n * H5Tget_size(memtype);
    unsigned char *buf = calloc(total ? total : 1, 1);
    if (buf && H5Dread(d, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
        free(buf);
        buf = NULL;
    }
    *bytes = total;
    return buf;
}

static herr_t check_one(hid_t group, const char *name, const H5L_info_t *info, void *raw_group)
{
    (void)info;
    hid_t d = H5Dopen2(group, name, H5P_DEFAULT);
    hid_t r = H5Dopen2(*(hid_t *)raw_group, name, H5P_DEFAULT);
    if (d < 0 || r < 0) {
        FAIL("%s: missing dataset or its raw copy", name);
        return 0;
    }
    /* the pipeline is Blosc, with the parameters the plugin's set_local left */
    hid_t dcpl = H5Dget_create_plist(d);
    unsigned flags = 0, values[8] = {0};
    size_t nv = 8;
    if (H5Pget_filter_by_id2(dcpl, NBR_BLOSC_FILTER_ID, &flags, &nv, values, 0, NULL, NULL) < 0)
        FAIL("%s: not Blosc-filtered", name);
    else if (nv < 4 || values[0] != 2 || values[1] != 2 || values[2] == 0 || values[3] == 0)
        FAIL("%s: unexpected cd_values %u %u %u %u (n %zu)", name, values[0], values[1], values[2],
             values[3], nv);
    H5Pclose(dcpl);
    check_all_chunks_filtered(d, name);

    hid_t ft = H5Dget_type(d);
    char *want = read_string_attr(d, "numpy_dtype");
    char *got = NULL;
    if (nbr_dtype_from_hdf5(&got, ft) != NBR_OK)
        FAIL("%s: %s", name, nbr_last_error());
    else if (!want || strcmp(want, got) != 0)
        FAIL("%s: nbr_dtype_from_hdf5 gives %s, h5py's dtype is %s", name, got,
             want ? want : "(no attribute)");

    size_t nd = 0, nr = 0;
    unsigned char *dd = read_all(d, ft, &nd), *rr = read_all(r, ft, &nr);
    if (!dd || !rr)
        FAIL("%s: read failed", name);
    else if (nd != nr || memcmp(dd, rr, nd) != 0)
        FAIL("%s: data differs from the raw copy", name);

    /* read through the type our dtype string maps to: the same bytes */
    hid_t ours = -1;
    if (got && got[1] != 'M' && got[1] != 'm' && nbr_dtype_to_hdf5(&ours, NULL, got) == NBR_OK) {
        size_t no = 0;
        unsigned char *oo = read_all(d, ours, &no);
        if (!oo || no != nd || (dd && memcmp(oo, dd, nd) != 0))
            FAIL("%s: reading as our type for %s gives other bytes", name, got);
        free(oo);
        H5Tclose(ours);
    }
    printf("read /h5py/%s %s (cd_values %u %u %u %u %u %u %u)\n", name, got ? got : "?", values[0],
           values[1], values[2], values[3], values[4], values[5], values[6]);
    free(dd);
    free(rr);
    free(want);
    free(got);
    H5Tclose(ft);
    H5Dclose(d);
    H5Dclose(r);
    return 0;
}

static int read_file(const char *path)
{
    if (nbr_blosc_register() != NBR_OK) {
        FAIL("register: %s", nbr_last_error());
        return 1;
    }
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        FAIL("cannot open %s", path);
        return 1;
    }
    hid_t g = H5Gopen2(f, "h5py", H5P_DEFAULT), raw = H5Gopen2(f, "raw", H5P_DEFAULT);
    hsize_t idx = 0;
    H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, &idx, check_one, &raw);
    if (idx < 10) FAIL("only %llu datasets in /h5py", (unsigned long long)idx);
    /* our filter decoded all of it: HDF5 never loaded a plugin */
    FILE *maps = fopen("/proc/self/maps", "r");
    char line[4096];
    while (maps && fgets(line, sizeof line, maps))
        if (strstr(line, "/plugins/") && strstr(line, ".so"))
            FAIL("a filter plugin was loaded: %s", line);
    if (maps) fclose(maps);
    H5Gclose(g);
    H5Gclose(raw);
    H5Fclose(f);
    return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc != 3 || (strcmp(argv[1], "write") != 0 && strcmp(argv[1], "read") != 0)) {
        fprintf(stderr, "usage: h5interop write|read FILE\n");
        return 2;
    }
    int rc = strcmp(argv[1], "write") == 0 ? write_file(argv[2]) : read_file(argv[2]);
    printf("%s\n", rc ? "FAILED" : "ok");
    if (rc) fprintf(stderr, "%d failures\n", failures);
    return rc;
}
