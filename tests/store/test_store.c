/* test_store.c - the checkpoint store through its public API: round trips,
 * dedup, resolution, diffs, locking, readers, verification and damaged
 * input.  I/O faults are test_store_faults.c, kills test_store_crash.c. */
#define _DEFAULT_SOURCE /* mincore */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nbr_test.h"
#include "store_test_util.h"

static nbr_store *create_store(char **dir, const char *tag)
{
    nbr_store *s = NULL;
    *dir = st_tempdir(tag);
    CHECK_OK(nbr_store_open(&s, *dir, NBR_STORE_CREATE | NBR_STORE_WRITE));
    return s;
}

static void fill_random(void *data, size_t size, unsigned seed)
{
    unsigned char *p = data;
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < size; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        p[i] = (unsigned char)x;
    }
}

/* put -> commit -> read back, bit for bit; returns the id. */
static nbr_object_id round_trip(nbr_store *s, const char *dtype, size_t ndim,
                                const uint64_t *shape, const int64_t *strides, const void *data,
                                const void *c_order, size_t bytes)
{
    nbr_checkpoint *c = NULL;
    nbr_object_id id = {{0}};
    CHECK_OK(nbr_checkpoint_begin(&c, s, "cell", 1, NULL));
    CHECK_OK(nbr_checkpoint_put_array(&id, c, "a", dtype, ndim, shape, strides, data));
    CHECK_OK(nbr_checkpoint_commit(NULL, c));
    void *back = malloc(bytes ? bytes : 1);
    CHECK_OK(nbr_store_read_array(back, bytes, s, &id, dtype, ndim, shape));
    if (bytes && memcmp(back, c_order, bytes) != 0) {
        fprintf(stderr, "dtype %s: data differs after the round trip\n", dtype);
        nbr_test_failures++;
    }
    nbr_object_kind kind;
    const char *type;
    size_t nd;
    uint64_t logical;
    CHECK_OK(nbr_store_object_info(&kind, &type, &nd, NULL, &logical, s, &id));
    CHECK(kind == NBR_OBJECT_ARRAY && nd == ndim && logical == bytes);
    CHECK_STR(dtype, type);
    free(back);
    return id;
}

static void test_create_reopen_and_missing(void)
{
    char *dir;
    nbr_store *s = create_store(&dir, "create");
    CHECK(st_count_entries(st_path(dir, "checkpoints")) == 0);
    CHECK(nbr_store_checkpoint_count(s) == 0);
    nbr_store_close(s);
    CHECK_OK(nbr_store_open(&s, dir, NBR_STORE_READONLY));
    CHECK(nbr_store_checkpoint_count(s) == 0);
    nbr_store_close(s);
    CHECK_STATUS(NBR_ENOTFOUND, nbr_store_open(&s, st_path(dir, "nothing"), NBR_STORE_READONLY));
    CHECK(s == NULL);
    CHECK(strstr(nbr_last_error(), "nothing") != NULL);
    CHECK_STATUS(NBR_EINVAL, nbr_store_open(&s, dir, NBR_STORE_READONLY | NBR_STORE_WRITE));
    CHECK_STATUS(NBR_EINVAL, nbr_store_open(&s, dir, NBR_STORE_CREATE));
    st_remove_tree(dir);
    free(dir);
}

static void test_options_only_on_a_new_store(void)
{
    char *dir;
    int64_t v;
    nbr_store *s = create_store(&dir, "options");
    CHECK_OK(nbr_store_set_option(s, NBR_STORE_OPT_CODEC, NBR_CODEC_ZSTD));
    CHECK_OK(nbr_store_set_option(s, NBR_STORE_OPT_LEVEL, 3));
    CHECK_OK(nbr_store_set_option(s, NBR_STORE_OPT_CHUNK_BYTES, 65536));
    CHECK_OK(nbr_store_set_option(s, NBR_STORE_OPT_SHUFFLE, 0));
    CHECK_STATUS(NBR_EINVAL, nbr_store_set_option(s, NBR_STORE_OPT_LEVEL, 10));
    CHECK_STATUS(NBR_EINVAL, nbr_store_set_option(s, NBR_STORE_OPT_CODEC, 3));
    free(st_commit_doubles(s, "c1", "x", 100000, 0.5, NULL));
    CHECK_STATUS(NBR_ESTATE, nbr_store_set_option(s, NBR_STORE_OPT_LEVEL, 1));
    nbr_store_close(s);
    CHECK_OK(nbr_store_open(&s, dir, NBR_STORE_WRITE));
    CHECK_STATUS(NBR_ESTATE, nbr_store_set_option(s, NBR_STORE_OPT_LEVEL, 1));
    CHECK_OK(nbr_store_get_option(&v, s, NBR_STORE_OPT_CODEC));
    CHECK(v == NBR_CODEC_ZSTD);
    CHECK_OK(nbr_store_get_option(&v, s, NBR_STORE_OPT_CHUNK_BYTES));
    CHECK(v == 65536);
    CHECK_OK(nbr_store_get_option(&v, s, NBR_STORE_OPT_SHUFFLE));
    CHECK(v == 0);
    CHECK_OK(nbr_store_verify(NULL, s));
    nbr_store_close(s);
    st_remove_tree(dir);
    free(dir);
}

static void test_every_dtype_round_trips(void)
{
    static const struct {
        const char *dtype;
        size_t itemsize;
    } types[] = {{"|b1", 1},      {"|i1", 1},      {"|u1", 1},     {"<i2", 2},   {"<i4", 4},
                 {"<i8", 8},      {"<u2", 2},      {"<u4", 4},     {"<u8", 8},   {">i4", 4},
                 {">f8", 8},      {"<f2", 2},      {"<f4", 4},     {"<f8", 8},   {"<c8", 8},
                 {"<c16", 16},    {"|S5", 5},      {"<U3", 12},    {"<M8[ns]", 8},
                 {"<m8[s]", 8},   {"[[\"a\", \"<i4\"], [\"b\", \"<f8\"]]", 12}};
    char *dir;
    nbr_store *s = create_store(&dir, "dtypes");
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        uint64_t shape[2] = {7, 5};
        size_t bytes = 35 * types[t].itemsize;
        unsigned char *data = malloc(bytes);
        fill_random(data, bytes, (unsigned)t);
        if (!strcmp(types[t].dtype, "|b1"))
            for (size_t i = 0; i < bytes; i++) data[i] &= 1;
        round_trip(s, types[t].dtype, 2, shape, NULL, data, data, bytes);
        free(data);
    }
    /* One structured dtype, two spellings: one object. */
    int32_t rec[3] = {1, 2, 3};
    uint64_t three[1] = {3};
    nbr_checkpoint *c = NULL;
    nbr_object_id a, b;
    CHECK_OK(nbr_checkpoint_begin(&c, s, "cell", 1, NULL));
    CHECK_OK(nbr_checkpoint_put_array(&a, c, "r1", "[[\"a\", \"<i4\"]]", 1, three, NULL, rec));
    CHECK_OK(nbr_checkpoint_put_array(&b, c, "r2", "[ [\"a\",\"<i4\"] ]", 1, three, NULL, rec));
    CHECK_OK(nbr_checkpoint_commit(NULL, c));
    CHECK(nbr_object_id_equal(&a, &b));
    CHECK_OK(nbr_store_read_array(rec, sizeof rec, s, &a, "[[\"a\",\"<i4\"]]", 1, three));
    CHECK_OK(nbr_store_verify(NULL, s));
    nbr_store_close(s);
    st_remove_tree(dir);
    free(dir);
}

static void test_shapes_scalar_empty_and_large(void)
{
    char *dir;
    nbr_store *s = create_store(&dir, "shapes");
    double scalar = 3.25;
    round_trip(s, "<f8", 0, NULL, NULL, &scalar, &scalar, 8);
    uint64_t empty1[2] = {0, 3}, empty2[2] = {3, 0};
    round_trip(s, "<f8", 2, empty1, NULL, NULL, NULL, 0);
    nbr_object_id a = round_trip(s, "<f8", 2, empty2, NULL, NULL, NULL, 0);
    nbr_object_id b = round_trip(s, "<f8", 2, empty1, NULL, NULL, NULL, 0);
    CHECK(!nbr_object_id_equal(&a, &b)); /* the shape is part of the id */
    size_t n = 3u << 20;                 /* 24 MiB: many chunks */
    double *big = malloc(n * sizeof *big);
    for (size_t i = 0; i < n; i++) big[i] = (double)i * 0.001;
    uint64_t shape3[3] = {256, 3, 4096};
    round_trip(s, "<f8", 3, shape3, NULL, big, big, n * 8);
    fill_random(big, n * 8, 7); /* incompressible: stored without the filter */
    uint64_t shape1[1] = {n};
    round_trip(s, "<f8", 1, shape1, NULL, big, big, n * 8);
    free(big);
    CHECK_OK(nbr_store_verify(NULL, s));
    nbr_store_close(s);
    st_remove_tree(dir);
    free(dir);
}

static void test_fortran_and_strided_views_store_as_c_order(void)
{
    char *dir;
    nbr_store *s = create_store(&dir, "strides");
    CHECK_OK(nbr_store_set_option(s, NBR_STORE_OPT_CHUNK_BYTES, 4096)); /* many chunks */
    enum { R = 300, C = 7 };
    double c_order[R][C], fortran[C][R];
    for (int i = 0; i < R; i++)
        for (int j = 0; j < C; j++) c_order[i][j] = fortran[j][i] = i * 100.0 + j;
    uint64_t shape[2] = {R, C};
    int64_t f_strides[2] = {8, 8 * R};
    nbr_object_id id_c = round_trip(s, "<f8", 2, shape, NULL, c_order, c_order, sizeof c_order);
    nbr_object_id id_f =
        round_trip(s, "<f8", 2, shape, f_strides, fortran, c_order, sizeof c_order);
    CHECK(nbr_object_id_equal(&id_c, &id_f));
    /* Reversed rows and columns: strides negative, data at the last element. */
    double reversed[R][C];
    for (int i = 0; i < R; i++)
        for (int j = 0; j < C; j++) reversed[i][j] = c_order[R - 1 - i][C - 1 - j];
    int64_t neg[2] = {-8 * C, -8};
    round_trip(s, "<f8", 2, shape, neg, &c_order[R - 1][C - 1], reversed, sizeof reversed);
    /* Every other row and column 1..5 step 2 of a 3-D view. */
    static int32_t cube[40][6][10];
    int32_t sliced[20][3][5];
    for (int i = 0; i < 40; i++)
        for (int j = 0; j < 6; j++)
            for (int k = 0; k < 10; k++) cube[i][j][k] = i * 10000 + j * 100 + k;
    for (int i = 0; i < 20; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 5; k++) sliced[i][j][k] = cube[2 * i][2 * j + 1][2 * k];
    uint64_t shape3[3] = {20, 3, 5};
    int64_t strides3[3] = {2 * 6 * 10 * 4, 2 * 10 * 4, 2 * 4};
    round_trip(s, "<i4", 3, shape3, strides3, &cube[0][1][0], sliced, sizeof sliced);
    CHECK_OK(nbr_store_verify(NULL, s));
    nbr_store_close(s);
    st_remove_tree(dir);
    free(dir);
}

static void test_ids_computed_without_storing_match_the_store(void)
{
    char *dir;
    nbr_store *s = create_store(&dir, "hashonly");
    enum { R = 50, C = 3 };
    double c_order[R][C], fortran[C][R];
    for (int i = 0; i < R; i++)
        for (int j = 0; j < C; j++) c_order[i][j] = fortran[j][i] = i * 0.5 - j;
    uint64_t shape[2] = {R, C};
    int64_t f_strides[2] = {8, 8 * R};
    nbr_object_id stored, hashed, blob_stored, blob_hashed;
    nbr_checkpoint *c = NULL;
    CHECK_OK(nbr_checkpoint_begin(&c, s, "cell", 1, NULL));
    CHECK_OK(nbr_checkpoint_put_array(&stored, c, "a", "<f8", 2, shape, NULL, c_order));
    CHECK_OK(nbr_checkpoint_put_blob(&blob_stored, c, "b", "pickle5", "xyz", 3));
    CHECK_OK(nbr_checkpoint_commit(NULL, c));
    CHECK_OK(nbr_array_hash(&hashed, "<f8", 2, shape, NULL, c_order));
    CHECK(nbr_object_id_equal(&stored, &hashed));
    CHECK_OK(nbr_array_hash(&hashed, "<f8", 2, shape, f_strides, fortran));
    CHECK(nbr_object_id_equal(&stored, &hashed));
    CHECK_OK(nbr_blob_hash(&blob_hashed, "pickle5", "xyz", 3));
    CHECK(nbr_object_id_equal(&blob_stored, &blob_hashed));
    CHECK_OK(nbr_blob_hash(&blob_hashed, "raw", "xyz", 3)); /* the codec is part of the id */
    CHECK(!nbr_object_id_equal(&blob_stored, &blob_hashed));
    /* A structured dtype hashes by its one normal spelling. */
    int32_t pairs[4] = {1, 2, 3, 4};
    uint64_t two = 2;
    nbr_object_id spaced, tight;
    CHECK_OK(nbr_array_hash(&spaced, "[[\"x\", \"<i4\"], [\"y\", \"<i4\"]]", 1, &two, NULL, pairs));
    CHECK_OK(nbr_array_hash(&tight, "[[\"x\",\"<i4\"],[\"y\",\"<i4\"]]", 1, &two, NULL, pairs));
    CHECK(nbr_object_id_equal(&spaced, &tight));
    CHECK_STATUS(NBR_EINVAL, nbr_array_hash(&hashed, "<q9", 2, shape, NULL, c_order));
    CHECK(strstr(nbr_last_error(), "<q9") != NULL);
    CHECK_STATUS(NBR_EINVAL, nbr_blob_hash(&hashed, "", "x", 1));
    nbr_store_close(s);
    st_remove_tree(dir);
    free(dir);
}

/* A put given the id the host already computed stores what a plain put
 * stores, under that id, for arrays (chunked or not) and blobs; a wrong id
 * is trusted, and verify then names the object as damaged. */
static void test_hashed_puts_store_under_the_given_id(void)
{
    char *dir;
    nbr_store *s = create_store(&dir, "hashedput");
    CHECK_OK(nbr_store_set_option(s, NBR_STORE_OPT_CHUNK_BYTES, 4096));
    enum { N = 5000 }; /* ten chunks of 4 KiB */
    double *a = malloc(N * 8), *back = malloc(N * 8);
    for (int i = 0; i < N; i++) a[i] = i * 0.25;
    uint64_t shape[1] = {N};
    nbr_object_id id, blob_id, wrong, plain;
    CHECK_OK(nbr_array_hash(&id, "<f8", 1, shape, NULL, a));
    CHECK_OK(nbr_blob_hash(&blob_id, "raw", "hello", 5));
    nbr_checkpoint *c = NULL;
    CHECK_OK(nbr_checkpoint_begin(&c, s, "cell", 1, NULL));
    CHECK_OK(nbr_checkpoint_put_array_hashed(c, "a", &id, "<f8", 1, shape, NULL, a));
    CHECK_OK(nbr_checkpoint_put_blob_hashed(c, "b", &blob_id, "raw", "hello", 5));
    CHECK_STATUS(NBR_EINVAL, nbr_checkpoint_put_array_hashed(c, "x", NULL, "<f8", 1, shape,
                                                             NULL, a));
    CHECK_STATUS(NBR_EINVAL, nbr_checkpoint_put_blob_hashed(c, "y", NULL, "raw", "x", 1));
    /* The same array put plainly is found stored: same id, no new bytes. */
    CHECK_OK(nbr_checkpoint_put_array(&plain, c, "a2", "<f8", 1, shape, NULL, a));
    CHECK(nbr_object_id_equal(&plain, &id));
    char *k1 = NULL;
    CHECK_OK(nbr_checkpoint_commit(&k1, c));
    nbr_object_id got;
    int deleted = 0;
    CHECK_OK(nbr_store_resolve(&got, &deleted, s, k1, "a"));
    CHECK(nbr_object_id_equal(&got, &id));
    CHECK_OK(nbr_store_read_array(back, N * 8, s, &id, "<f8", 1, shape));
    CHECK(!memcmp(back, a, N * 8));
    CHECK_OK(nbr_store_verify(NULL, s));
    /* A false id is taken as given; verify names it. */
    memset(&wrong, 0x5a, sizeof wrong);
    char hex[33];
    nbr_object_id_to_hex(hex, &wrong);
    a[7] = -1.0;
    CHECK_OK(nbr_checkpoint_begin(&c, s, "cell", 2, NULL));
    CHECK_OK(nbr_checkpoint_put_array_hashed(c, "a", &wrong, "<f8", 1, shape, NULL, a));
    CHECK_OK(nbr_checkpoint_commit(NULL, c));
    char *report = NULL;
    CHECK_STATUS(NBR_ECORRUPT, nbr_store_verify(&report, s));
    CHECK(report && strstr(report, hex));
    nbr_free(report);
    nbr_store_close(s);
    free(a), free(back), free(k1);
    st_remove_tree(dir);
    free(dir);
}

/* Views whose last two axes are transposed (Fortran order, `.T`, a
 * transposed slab of a 3-d array, the last axis reversed) are gathered in
 * tiles of rows; each hashes as its C-order copy, for items of 1, 4, 8 and
 * 16 bytes, row counts that are and are not multiples of the tile. */
static void test_transposed_views_hash_as_their_c_order_copy(void)
{
    static const struct {
        const char *dtype;
        size_t item;
        uint64_t shape[3];
        size_t ndim;
    } cases[] = {{"<f8", 8, {37, 53}, 2},  {"<f8", 8, {64, 1000}, 2}, {"<i4", 4, {19, 17}, 2},
                 {"|u1", 1, {40, 33}, 2},  {"<c16", 16, {18, 5}, 2},  {"<f8", 8, {4, 37, 53}, 3},
                 {"<f8", 8, {1, 2}, 2},    {"<f8", 8, {33, 1}, 2}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        size_t nd = cases[k].ndim, item = cases[k].item, n = 1;
        const uint64_t *shape = cases[k].shape;
        for (size_t i = 0; i < nd; i++) n *= (size_t)shape[i];
        uint64_t rows = shape[nd - 2], cols = shape[nd - 1];
        unsigned char *c_order = malloc(n * item), *moved = malloc(n * item);
        fill_random(c_order, n * item, (unsigned)k + 1);
        /* `moved` holds each slab with its last two axes swapped in memory. */
        size_t slab = (size_t)(rows * cols);
        for (size_t s0 = 0; s0 < n / slab; s0++)
            for (uint64_t r = 0; r < rows; r++)
                for (uint64_t c = 0; c < cols; c++)
                    memcpy(moved + (s0 * slab + c * rows + r) * item,
                           c_order + (s0 * slab + r * cols + c) * item, item);
        int64_t strides[3];
        if (nd == 3) strides[0] = (int64_t)(slab * item);
        strides[nd - 2] = (int64_t)item;
        strides[nd - 1] = (int64_t)(rows * item);
        nbr_object_id want, got;
        CHECK_OK(nbr_array_hash(&want, cases[k].dtype, nd, shape, NULL, c_order));
        CHECK_OK(nbr_array_hash(&got, cases[k].dtype, nd, shape, strides, moved));
        CHECK(nbr_object_id_equal(&want, &got));
        /* The last axis reversed: start at its last column, step back. */
        unsigned char *reversed = malloc(n * item);
        for (size_t s0 = 0; s0 < n / slab; s0++)
            for (uint64_t r = 0; r < rows; r++)
                for (uint64_t c = 0; c < cols; c++)
                    memcpy(reversed + (s0 * slab + (cols - 1 - c) * rows + r) * item,
                           c_order + (s0 * slab + r * cols + c) * item, item);
        strides[nd - 1] = -(int64_t)(rows * item);
        CHECK_OK(nbr_array_hash(&got, cases[k].dtype, nd, shape, strides,
                                reversed + (cols - 1) * rows * item));
        CHECK(nbr_object_id_equal(&want, &got));
        free(c_order), free(moved), free(reversed);
    }
}

/* Fortran order in 3 and 4 dimensions (all axes reversed in memory) is
 * gathered in tiles of whole planes; planes too big for the scratch fall
 * back to the element walk.  Each hashes as its C-order copy. */
static void test_fortran_order_in_more_dimensions_hashes_as_c_order(void)
{
    static const struct {
        const char *dtype;
        size_t item, ndim;
        uint64_t shape[4];
    } cases[] = {{"<f8", 8, 3, {37, 5, 11}}, {"<f8", 8, 3, {64, 64, 40}},
                 {"<i2", 2, 4, {3, 7, 5, 9}}, {"<c16", 16, 3, {17, 3, 2}},
                 {"<f8", 8, 3, {3, 400, 700}}, {"|u1", 1, 3, {1, 33, 65}}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        size_t nd = cases[k].ndim, item = cases[k].item, n = 1;
        const uint64_t *shape = cases[k].shape;
        for (size_t i = 0; i < nd; i++) n *= (size_t)shape[i];
        unsigned char *c_order = malloc(n * item), *fortran = malloc(n * item);
        fill_random(c_order, n * item, (unsigned)k + 11);
        int64_t strides[4];
        size_t step = item;
        for (size_t a = 0; a < nd; a++, step *= (size_t)shape[a - 1]) strides[a] = (int64_t)step;
        for (size_t e = 0; e < n; e++) { /* element e in C order goes to its F place */
            size_t rest = e, offset = 0;
            for (size_t a = nd; a-- > 0;) {
                offset += (rest % (size_t)shape[a]) * (size_t)strides[a];
                rest /= (size_t)shape[a];
            }
            memcpy(fortran + offset, c_order + e * item, item);
        }
        nbr_object_id want, got;
        CHECK_OK(nbr_array_hash(&want, cases[k].dtype, nd, shape, NULL, c_order));
        CHECK_OK(nbr_array_hash(&got, cases[k].dtype, nd, shape, strides, fortran));
        CHECK(nbr_object_id_equal(&want, &got));
        free(c_order), free(fortran);
    }
}

static void test_host_json_can_be_replaced_before_commit(void)
{
    char *dir;
    nbr_store *s = create_store(&dir, "sethost");
    nbr_checkpoint *c = NULL;
    char *id = NULL;
    const char *host = NULL;
    CHECK_OK(nbr_checkpoint_begin(&c, s, "cell", 1, "{\"first\": 1}"));
    CHECK_STATUS(NBR_EINVAL, nbr_checkpoint_set_host(c, "{oops"));
    CHECK(strstr(nbr_last_error(), "not JSON") != NULL);
    CHECK_OK(nbr_checkpoint_set_host(c, "{\"record\": [1, 2]}"));
    CHECK_OK(nbr_checkpoint_commit(&id, c));
    CHECK_OK(nbr_store_checkpoint_info(NULL, NULL, NULL, NULL, &host, s, id));
    CHECK_STR("{\"record\":[1,2]}", host);
    nbr_free(id);
    CHECK_OK(nbr_checkpoint_begin(&c, s, "cell", 2, "{\"first\": 1}"));
    CHECK_OK(nbr_checkpoint_set_host(c, NULL));
    CHECK_OK(nbr_checkpoint_commit(&id, c));
    CHECK_OK(nbr_store_checkpoint_info(NULL, NULL, NULL, NULL, &host, s, id));
    CHECK_STR("null", host);
    nbr_free(id);
    nbr_store_close(s);
    st_remove_tree(dir);
    free(dir);
}

static void blob_round_trip(nbr_store *s, const void *data, size_t size)
{
    nbr_checkpoint *c = NULL;
    nbr_object_id id;
    CHECK_OK(nbr_checkpoint_begin(&c, s, "cell", 2, "{\"kernel\": \"python3\"}"));
    CHECK_OK(nbr_checkpoint_put_blob(&id, c, "obj", "pickle5", data, size));
    CHECK_OK(nbr_checkpoint_commit(NULL, c));
    unsigned char *back = malloc(size + 1);
    uint64_t logical = 99;
    const char *codec = NULL;
    nbr_object_kind kind = 0;
    CHECK_OK(nbr_store_object_info(&kind, &codec, NULL, NULL, &logical, s, &id));
    CHECK(kind == NBR_OBJECT_BLOB && logical == size);
    CHECK_STR("pickle5", codec);
    CHECK_OK(nbr_store_read_blob(back, size, s, &id));
    CHECK(size == 0 || memcmp(back, data, size) == 0);
    if (size) CHECK_STATUS(NBR_EINVAL, nbr_store_read_blob(back, size - 1, s, &id));
    free(back);
}

static void test_blobs_from_empty_to_megabytes(void)
{
    char *dir;
    nbr_store *s = create_store(&dir, "blobs");
    size_t sizes[] = {0, 1, 4095, 5u << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        unsigned char *data = malloc(sizes[i] + 1);
        fill_random(data, sizes[i], (unsigned)i);
        blob_round_trip(s, data, sizes[i]);
        memset(data, 'z', sizes[i]); /* compressible */
        blob_round_trip(s, data, sizes[i]);
        free(data);
    }
    CHECK_OK(nbr_store_verify(NULL, s));
    nbr_store_close(s);
    st_remove_tree(dir);
    free(dir);
}

static void test_blob_writer_streams_pieces(void)
{
    char *dir;
    nbr_store *s = create_store(&dir, "stream");
    CHECK_OK(nbr_store_set_option(s, NBR_STORE_OPT_CHUNK_BYTES, 4096));
    size_t size = 100000;
    unsigned char *data = malloc(size);
    fill_random(data, size, 11);
    nbr_object_id whole, streamed, again, empty_id;
    nbr_checkpoint *c = NULL;
    nbr_blob_writer *w = NULL;
    CHECK_OK(nbr_checkpoint_begin(&c, s, "c1", 1, NULL));
    CHECK_OK(nbr_blob_writer_begin(&w, c, "pickled", "pickle5"));
    CHECK_STATUS(NBR_ESTATE, nbr_blob_writer_begin(&(nbr_blob_writer *){NULL}, c, "y", "raw"));
    for (size_t at = 0, piece = 1; at < size; at += piece, piece = piece * 3 + 1)
        CHECK_OK(nbr_blob_writer_write(w, data + at, at + piece > size ? size - at : piece));
    double v = 1; /* other puts may go on while a blob is being written */
    CHECK_OK(nbr_checkpoint_put_array(NULL, c, "v", "<f8", 0, NULL, NULL, &v));
    CHECK_OK(nbr_blob_writer_finish(&streamed, w));
    CHECK_OK(nbr_blob_writer_begin(&w, c, "nothing", "raw"));
    CHECK_OK(nbr_blob_writer_finish(&empty_id, w));
    CHECK_OK(nbr_checkpoint_commit(NULL, c));
    CHECK_OK(nbr_checkpoint_begin(&c, s, "c2", 2, NULL));
    CHECK_OK(nbr_checkpoint_put_blob(&whole, c, "same", "pickle5", data, size));
    CHECK(nbr_object_id_equal(&whole, &streamed)); /* pieces or whole: one id */
    CHECK_OK(nbr_blob_writer_begin(&w, c, "again", "pickle5"));
    CHECK_OK(nbr_blob_writer_write(w, data, size));
    CHECK_OK(nbr_blob_writer_finish(&again, w));
    CHECK(nbr_object_id_equal(&again, &streamed));
    CHECK_OK(nbr_blob_writer_begin(&w, c, "left open", "raw"));
    CHECK_STATUS(NBR_ESTATE, nbr_checkpoint_commit(NULL, c)); /* and c is gone */
    CHECK_STATUS(NBR_ESTATE, nbr_blob_writer_write(w, data, 10));
    nbr_blob_writer_abort(w);
    unsigned char *back = malloc(size);
    CHECK_OK(nbr_store_read_blob(back, size, s, &streamed));
    CHECK(memcmp(back, data, size) == 0);
    uint64_t logical = 1;
    CHECK_OK(nbr_store_object_info(NULL, NULL, NULL, NULL, &logical, s, &empty_id));
    CHECK(logical == 0);
    CHECK_OK(nbr_store_read_blob(back, 0, s, &empty_id));
    CHECK(nbr_store_checkpoint_count(s) == 1);
    CHECK_OK(nbr_store_verify(NULL, s));
    nbr_store_close(s);
    free(back), free(data);
    st_remove_tree(dir);
    free(dir);
}

static void test_same_array_twice_costs_no_bytes(void)
{
    char *dir;
    nbr_store *s = create_store(&dir, "dedup");
    nbr_object_id first, second, third;
    char *c1 = st_commit_doubles(s, "c1", "x", 1 << 18, 1.0, &first);
    uint64_t before = st_tree_bytes(st_path(dir, "segments"));
    int segments = st_count_entries(st_path(dir, "segments"));
    char *c2 = st_commit_doubles(s, "c2", "y", 1 << 18, 1.0, &second);
    CHECK(nbr_object_id_equal(&first, &second));
    CHECK(st_tree_bytes(st_path(dir, "segments")) == before);
    CHECK(st_count_entries(st_path(dir, "segments")) == segments);
    /* Within one checkpoint: two names, one object. */
    nbr_checkpoint *c = NULL;
    double v[4] = {1, 2, 3, 4};
    uint64_t shape[1] = {4};
    CHECK_OK(nbr_checkpoint_begin(&c, s, "c3", 3, NULL));
    CHECK_OK(nbr_checkpoint_put_array(&first, c, "p", "<f8", 1, shape, NULL, v));
    CHECK_OK(nbr_checkpoint_put_array(&third, c, "q", "<f8", 1, shape, NULL, v));
    char *c3 = NULL;
    CHECK_OK(nbr_checkpoint_commit(&c3, c));
    CHECK(nbr_object_id_equal(&first, &third));
    uint64_t logical, stored;
    CHECK_OK(nbr_store_stats(&logical, &stored, s, c2));
    CHECK(logical == (1u << 18) * 8 && stored == 0);
    CHECK_OK(nbr_store_stats(&logical, &stored, s, c3));
    CHECK(logical == 64 && stored > 0 && stored <= 32);
    CHECK_OK(nbr_store_stats(&logical, &stored, s, NULL));
    CHECK(logical == 2 * (1u << 18) * 8 + 64 && stored < (1u << 18) * 8);
    /* Dedup survives reopening: the object index is rebuilt from manifests. */
    nbr_store_close(s);
    CHECK_OK(nbr_store_open(&s, dir, NBR_STORE_WRITE));
    before = st_tree_bytes(st_path(dir, "segments"));
    free(st_commit_doubles(s, "c4", "z", 1 << 18, 1.0, NULL));
    CHECK(st_tree_bytes(st_path(dir, "segments")) == before);
    nbr_store_close(s);
    free(c1), free(c2), free(c3);
    st_remove_tree(dir);
    free(dir);
}

static void test_resolve_as_of_and_deletes(void)
{
    char *dir;
    nbr_store *s = create_store(&dir, "resolve");
    nbr_object_id a, b, c, got;
    int deleted = -1;
    char *k1 = st_commit_doubles(s, "c1", "x", 10, 1.0, &a);
    nbr_checkpoint *cp = NULL;
    double v = 5;
    CHECK_OK(nbr_checkpoint_begin(&cp, s, "c2", 2, "{\"step\": [1, 2.5, null, \"s\\u00e9\"]}"));
    CHECK_OK(nbr_checkpoint_put_array(&b, cp, "x", "<f8", 0, NULL, NULL, &v));
    CHECK_OK(nbr_checkpoint_put_ref(cp, "y", &a));
    char *k2 = NULL;
    CHECK_OK(nbr_checkpoint_commit(&k2, cp));
    CHECK_OK(nbr_checkpoint_begin(&cp, s, "c3", 3, NULL));
    CHECK_OK(nbr_checkpoint_delete(cp, "x"));
    CHECK_STATUS(NBR_ENOTFOUND, nbr_checkpoint_put_ref(cp, "w", &(nbr_object_id){{1, 2, 3}}));
    nbr_object_id fresh;
    CHECK_OK(nbr_checkpoint_put_blob(&fresh, cp, "tmp", "raw", "abc", 3));
    CHECK_OK(nbr_checkpoint_put_ref(cp, "alias", &fresh)); /* put earlier in this checkpoint */
    char *k3 = NULL;
    CHECK_OK(nbr_checkpoint_commit(&k3, cp));
    c = a;

    CHECK_OK(nbr_store_resolve(&got, &deleted, s, k1, "x"));
    CHECK(nbr_object_id_equal(&got, &a) && deleted == 0);
    CHECK_OK(nbr_store_resolve(&got, &deleted, s, k2, "x"));
    CHECK(nbr_object_id_equal(&got, &b) && deleted == 0);
    CHECK_OK(nbr_store_resolve(&got, &deleted, s, k3, "x"));
    CHECK(deleted == 1);
    CHECK_OK(nbr_store_resolve(&got, &deleted, s, NULL, "y"));
    CHECK(nbr_object_id_equal(&got, &c) && deleted == 0);
    CHECK_STATUS(NBR_ENOTFOUND, nbr_store_resolve(&got, &deleted, s, k1, "y"));
    CHECK_STATUS(NBR_ENOTFOUND, nbr_store_resolve(&got, &deleted, s, "0000000000000099", "x"));

    CHECK(nbr_store_checkpoint_count(s) == 3);
    CHECK_STR(k1, nbr_store_checkpoint_id(s, 0));
    CHECK_STR(k3, nbr_store_checkpoint_id(s, 2));
    CHECK(nbr_store_checkpoint_id(s, 3) == NULL);
    const char *cell, *started, *committed, *host;
    int64_t count;
    CHECK_OK(nbr_store_checkpoint_info(&cell, &count, &started, &committed, &host, s, k2));
    CHECK_STR("c2", cell);
    CHECK(count == 2);
    CHECK_STR("{\"step\":[1,2.5,null,\"s\xc3\xa9\"]}", host);
    CHECK(started && committed && strcmp(started, committed) <= 0 && strlen(committed) == 24);
    CHECK_OK(nbr_store_checkpoint_info(NULL, NULL, NULL, NULL, &host, s, k1));
    CHECK_STR("null", host);

    /* Diffs: from nothing, and between checkpoints. */
    nbr_diff *d = NULL;
    const char *name;
    nbr_change change;
    CHECK_OK(nbr_store_diff(&d, s, NULL, k2));
    CHECK(nbr_diff_count(d) == 2);
    CHECK_OK(nbr_diff_entry(&name, &change, d, 0));
    CHECK_STR("x", name);
    CHECK(change == NBR_CHANGE_ADDED);
    nbr_diff_free(d);
    CHECK_OK(nbr_store_diff(&d, s, k1, k3));
    CHECK(nbr_diff_count(d) == 4); /* sorted by name */
    static const char *const names[] = {"alias", "tmp", "x", "y"};
    static const nbr_change changes[] = {NBR_CHANGE_ADDED, NBR_CHANGE_ADDED, NBR_CHANGE_DELETED,
                                         NBR_CHANGE_ADDED};
    for (size_t i = 0; i < 4; i++) {
        CHECK_OK(nbr_diff_entry(&name, &change, d, i));
        CHECK_STR(names[i], name);
        CHECK(change == changes[i]);
    }
    CHECK_STATUS(NBR_EINVAL, nbr_diff_entry(&name, &change, d, 4));
    nbr_diff_free(d);
    CHECK_OK(nbr_store_diff(&d, s, k1, k2));
    CHECK_OK(nbr_diff_entry(&name, &change, d, 0));
    CHECK(change == NBR_CHANGE_CHANGED);
    nbr_diff_free(d);

    /* The same answers from another handle, read-only. */
    nbr_store *r = NULL;
    CHECK_OK(nbr_store_open(&r, dir, NBR_STORE_READONLY));
    CHECK_OK(nbr_store_resolve(&got, &deleted, r, k2, "x"));
    CHECK(nbr_object_id_equal(&got, &b));
    double back = 0;
    CHECK_OK(nbr_store_read_array(&back, sizeof back, r, &got, "<f8", 0, NULL));
    CHECK(back == 5);
    nbr_store_close(r);
    nbr_store_close(s);
    free(k1), free(k2), free(k3);
    st_remove_tree(dir);
    free(dir);
}

static void test_second_writer_is_refused_naming_the_holder(void)
{
    char *dir;
    nbr_store *s = create_store(&dir, "lock"), *t = NULL;
    CHECK_STATUS(NBR_ELOCKED, nbr_store_open(&t, dir, NBR_STORE_WRITE));
    char pid[32];
    snprintf(pid, sizeof pid, "%ld ", (long)getpid());
    CHECK(strstr(nbr_last_error(), "LOCK") != NULL);
    CHECK(strstr(nbr_last_error(), pid) != NULL);
    /* Readers are not blocked. */
    CHECK_OK(nbr_store_open(&t, dir, NBR_STORE_READONLY));
    nbr_store_close(t);
    /* Another process is refused too. */
    pid_t child = fork();
    if (child == 0) {
        nbr_store *u = NULL;
        int st = nbr_store_open(&u, dir, NBR_STORE_WRITE);
        int ok = st == NBR_ELOCKED && strstr(nbr_last_error(), pid);
        /* The child's copy of the parent's handle: freeing it closes only the
         * child's descriptor, and the lock stays with the parent's. */
        nbr_store_close(s);
        _exit(ok ? 0 : 1);
    }
    int status = -1;
    waitpid(child, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK_STATUS(NBR_ELOCKED, nbr_store_open(&t, dir, NBR_STORE_WRITE)); /* still held */
    nbr_store_close(s);
    CHECK_OK(nbr_store_open(&t, dir, NBR_STORE_WRITE)); /* released on close */
    nbr_store_close(t);
    st_remove_tree(dir);
    free(dir);
}

static void test_readers_see_only_committed_checkpoints(void)
{
    char *dir;
    nbr_store *s = create_store(&dir, "readers"), *r = NULL;
    free(st_commit_doubles(s, "c1", "x", 100, 1.0, NULL));
    CHECK_OK(nbr_store_open(&r, dir, NBR_STORE_READONLY));
    CHECK(nbr_store_checkpoint_count(r) == 1);
    nbr_checkpoint *c = NULL;
    nbr_object_id id;
    double v[1000];
    for (int i = 0; i < 1000; i++) v[i] = i;
    uint64_t shape[1] = {1000};
    CHECK_OK(nbr_checkpoint_begin(&c, s, "c2", 2, NULL));
    CHECK_OK(nbr_checkpoint_put_array(&id, c, "x", "<f8", 1, shape, NULL, v));
    CHECK_OK(nbr_store_refresh(r));
    CHECK(nbr_store_checkpoint_count(r) == 1);
    CHECK_STATUS(NBR_ENOTFOUND, nbr_store_object_info(NULL, NULL, NULL, NULL, NULL, r, &id));
    CHECK_OK(nbr_checkpoint_commit(NULL, c));
    CHECK(nbr_store_checkpoint_count(r) == 1); /* until refreshed */
    CHECK_OK(nbr_store_refresh(r));
    CHECK(nbr_store_checkpoint_count(r) == 2);
    double back[1000];
    CHECK_OK(nbr_store_read_array(back, sizeof back, r, &id, "<f8", 1, shape));
    CHECK(memcmp(back, v, sizeof v) == 0);
    nbr_store_close(r);
    nbr_store_close(s);
    st_remove_tree(dir);
    free(dir);
}

static void test_abort_and_leftovers_leave_nothing(void)
{
    char *dir;
    nbr_store *s = create_store(&dir, "abort");
    nbr_checkpoint *c = NULL;
    double v[3] = {1, 2, 3};
    uint64_t shape[1] = {3};
    CHECK_OK(nbr_checkpoint_begin(&c, s, "c1", 1, NULL));
    CHECK_STATUS(NBR_ESTATE, nbr_checkpoint_begin(&(nbr_checkpoint *){NULL}, s, "c2", 1, NULL));
    CHECK_OK(nbr_checkpoint_put_array(NULL, c, "x", "<f8", 1, shape, NULL, v));
    CHECK(st_count_entries(st_path(dir, "tmp")) == 1);
    nbr_checkpoint_abort(c);
    CHECK(st_count_entries(st_path(dir, "tmp")) == 0);
    CHECK(nbr_store_checkpoint_count(s) == 0);
    free(st_commit_doubles(s, "c1", "x", 10, 1.0, NULL));
    nbr_store_close(s);
    /* What a killed writer leaves: a tmp file and a segment no manifest names. */
    st_write_text(st_path(dir, "tmp/0000000000000002-01234567.h5"), "partial");
    st_write_text(st_path(dir, "segments/0000000000000002-89abcdef.h5"), "orphan");
    CHECK(st_count_entries(st_path(dir, "segments")) == 2);
    CHECK_OK(nbr_store_open(&s, dir, NBR_STORE_READONLY)); /* readers leave them */
    nbr_store_close(s);
    CHECK(st_count_entries(st_path(dir, "segments")) == 2);
    CHECK_OK(nbr_store_open(&s, dir, NBR_STORE_WRITE));
    CHECK(st_count_entries(st_path(dir, "tmp")) == 0);
    CHECK(st_count_entries(st_path(dir, "segments")) == 1);
    CHECK_OK(nbr_store_verify(NULL, s));
    nbr_store_close(s);
    st_remove_tree(dir);
    free(dir);
}

static void test_verify_names_a_flipped_byte(void)
{
    char *dir;
    nbr_store *s = create_store(&dir, "verify");
    nbr_object_id good, bad;
    char *k1 = st_commit_doubles(s, "c1", "good", 1000, 1.0, &good);
    nbr_checkpoint *c = NULL;
    size_t n = 1 << 17;
    double *noise = malloc(n * 8);
    fill_random(noise, n * 8, 3);
    uint64_t shape[1] = {n};
    CHECK_OK(nbr_checkpoint_begin(&c, s, "c2", 2, NULL));
    CHECK_OK(nbr_checkpoint_put_array(&bad, c, "noise", "<f8", 1, shape, NULL, noise));
    CHECK_OK(nbr_checkpoint_commit(NULL, c));
    nbr_store_close(s);
    char hex[33], segment[600];
    nbr_object_id_to_hex(hex, &bad);
    /* The bigger segment holds the noise; flip a byte in its middle. */
    uint64_t biggest = 0;
    {
        char cmd[700];
        snprintf(cmd, sizeof cmd, "ls -S %s/segments | head -1", dir);
        FILE *p = popen(cmd, "r");
        char line[300] = "";
        if (p && fgets(line, sizeof line, p)) line[strcspn(line, "\n")] = '\0';
        if (p) pclose(p);
        snprintf(segment, sizeof segment, "%s/segments/%s", dir, line);
        biggest = st_tree_bytes(segment);
    }
    CHECK(biggest > n * 8);
    CHECK(st_flip_byte(segment, (long)(biggest / 2)) == 0);
    CHECK_OK(nbr_store_open(&s, dir, NBR_STORE_READONLY));
    char *report = NULL;
    CHECK_STATUS(NBR_ECORRUPT, nbr_store_verify(&report, s));
    CHECK(report && strstr(report, hex) && strstr(report, strrchr(segment, '/') + 1));
    CHECK(report && strstr(report, "does not match"));
    nbr_free(report);
    double *back = malloc(n * 8);
    CHECK_STATUS(NBR_ECORRUPT, nbr_store_read_array(back, n * 8, s, &bad, "<f8", 1, shape));
    CHECK(strstr(nbr_last_error(), hex) && strstr(nbr_last_error(), strrchr(segment, '/') + 1));
    /* Everything else still reads. */
    uint64_t shape_good[1] = {1000};
    CHECK_OK(nbr_store_read_array(back, 8000, s, &good, "<f8", 1, shape_good));
    CHECK(back[999] == 1000.0);
    nbr_store_close(s);
    free(back), free(noise), free(k1);
    st_remove_tree(dir);
    free(dir);
}

/* A version-3 store's segment holds objects only: cut in half, its objects
 * are named with the file.  A version-4 segment also carries its
 * checkpoint's manifest: cut, that checkpoint is damaged, named with the
 * file.  Either way the other checkpoint reads. */
static void test_truncated_segment_is_named_and_the_rest_reads(void)
{
    for (int version = 3; version <= 4; version++) {
        char *dir;
        nbr_store *s = create_store(&dir, "truncseg");
        if (version == 3) {
            nbr_store_close(s);
            CHECK(st_write_format(dir, 3, 1 << 20) == 0);
            CHECK_OK(nbr_store_open(&s, dir, NBR_STORE_WRITE));
        }
        nbr_object_id a, b;
        char *k1 = st_commit_doubles(s, "c1", "x", 50000, 1.0, &a);
        char *k2 = st_commit_doubles(s, "c2", "y", 50000, 9.0, &b);
        nbr_store_close(s);
        const char *seg = st_find_entry(st_path(dir, "segments"), k2, ".h5");
        char path[700], hex[33];
        snprintf(path, sizeof path, "%s/segments/%s", dir, seg);
        CHECK(st_truncate(path, (long)st_tree_bytes(path) / 2) == 0);
        remove(st_path(dir, "INDEX"));
        nbr_object_id_to_hex(hex, &b);
        CHECK_OK(nbr_store_open(&s, dir, NBR_STORE_READONLY));
        char *report = NULL;
        const char *named = version == 3 ? strrchr(path, '/') + 1 : k2;
        CHECK_STATUS(NBR_ECORRUPT, nbr_store_verify(&report, s));
        CHECK(report && strstr(report, version == 3 ? hex : "truncated") && strstr(report, named));
        nbr_free(report);
        double *back = malloc(50000 * 8);
        uint64_t shape[1] = {50000};
        if (version == 3) {
            CHECK_STATUS(NBR_ECORRUPT,
                         nbr_store_read_array(back, 50000 * 8, s, &b, "<f8", 1, shape));
            CHECK(strstr(nbr_last_error(), hex) && strstr(nbr_last_error(), named));
        } else {
            nbr_object_id y;
            int deleted = 0;
            CHECK_STATUS(NBR_ECORRUPT, nbr_store_resolve(&y, &deleted, s, k2, "y"));
            CHECK(strstr(nbr_last_error(), named) && strstr(nbr_last_error(), "truncated"));
        }
        CHECK_OK(nbr_store_read_array(back, 50000 * 8, s, &a, "<f8", 1, shape));
        CHECK(back[49999] == 50000.0);
        nbr_store_close(s);
        free(back), free(k1), free(k2);
        st_remove_tree(dir);
        free(dir);
    }
}

static void test_wrong_requests_name_object_and_request(void)
{
    char *dir;
    nbr_store *s = create_store(&dir, "wrong");
    nbr_object_id id;
    free(st_commit_doubles(s, "c1", "x", 10, 1.0, &id));
    double buf[20] = {0};
    char hex[33];
    nbr_object_id_to_hex(hex, &id);
    uint64_t ten[1] = {10}, eleven[1] = {11}, two[2] = {2, 5};
    CHECK_STATUS(NBR_EINVAL, nbr_store_read_array(buf, sizeof buf, s, &id, "<f4", 1, ten));
    CHECK(strstr(nbr_last_error(), hex) && strstr(nbr_last_error(), "<f8") &&
          strstr(nbr_last_error(), "<f4"));
    CHECK_STATUS(NBR_EINVAL, nbr_store_read_array(buf, sizeof buf, s, &id, "<f8", 1, eleven));
    CHECK(strstr(nbr_last_error(), "(10,)") && strstr(nbr_last_error(), "(11,)"));
    CHECK_STATUS(NBR_EINVAL, nbr_store_read_array(buf, sizeof buf, s, &id, "<f8", 2, two));
    CHECK_STATUS(NBR_EINVAL, nbr_store_read_array(buf, 79, s, &id, "<f8", 1, ten));
    CHECK_STATUS(NBR_EINVAL, nbr_store_read_blob(buf, sizeof buf, s, &id));
    nbr_object_id none = {{0}};
    CHECK_STATUS(NBR_ENOTFOUND, nbr_store_read_array(buf, sizeof buf, s, &none, "<f8", 1, ten));

    nbr_checkpoint *c = NULL;
    CHECK_STATUS(NBR_EINVAL, nbr_checkpoint_begin(&c, s, "c", 1, "{not json"));
    CHECK_STATUS(NBR_EINVAL, nbr_checkpoint_begin(&c, s, "", 1, NULL));
    CHECK_OK(nbr_checkpoint_begin(&c, s, "c", 1, NULL));
    CHECK_STATUS(NBR_EINVAL, nbr_checkpoint_put_array(NULL, c, "o", "|O", 1, ten, NULL, buf));
    CHECK(strstr(nbr_last_error(), "\"o\"") != NULL);
    CHECK_STATUS(NBR_EINVAL, nbr_checkpoint_put_array(NULL, c, "", "<f8", 1, ten, NULL, buf));
    CHECK_STATUS(NBR_EINVAL, nbr_checkpoint_put_array(NULL, c, "n", "<f8", 1, ten, NULL, NULL));
    CHECK_STATUS(NBR_EINVAL, nbr_checkpoint_put_blob(NULL, c, "b", "", buf, 8));
    /* Bad input does not spoil the checkpoint. */
    CHECK_OK(nbr_checkpoint_put_array(NULL, c, "ok", "<f8", 1, ten, NULL, buf));
    CHECK_OK(nbr_checkpoint_commit(NULL, c));
    nbr_store *r = NULL;
    CHECK_OK(nbr_store_open(&r, dir, NBR_STORE_READONLY));
    CHECK_STATUS(NBR_ESTATE, nbr_checkpoint_begin(&c, r, "c", 1, NULL));
    nbr_store_close(r);
    nbr_store_close(s);
    st_remove_tree(dir);
    free(dir);
}

static void test_damaged_or_newer_format_is_refused(void)
{
    char *dir;
    nbr_store *s = create_store(&dir, "format");
    nbr_store_close(s);
    const char *format = st_path(dir, "FORMAT");
    st_truncate(format, 20);
    CHECK_STATUS(NBR_ECORRUPT, nbr_store_open(&s, dir, NBR_STORE_READONLY));
    CHECK(strstr(nbr_last_error(), "FORMAT") != NULL);
    CHECK_STATUS(NBR_ECORRUPT, nbr_store_open(&s, dir, NBR_STORE_WRITE));
    st_write_text(format, "{\"format\": \"nbrewind-store\", \"version\": 7, \"codec\": \"lz4\", "
                          "\"level\": 5, \"shuffle\": true, \"chunk_bytes\": 1048576}");
    CHECK_STATUS(NBR_EUNSUPPORTED, nbr_store_open(&s, dir, NBR_STORE_READONLY));
    CHECK(strstr(nbr_last_error(), "version 7") && strstr(nbr_last_error(), "version 4"));
    st_write_text(format, "{\"format\": \"something-else\", \"version\": 1}");
    CHECK_STATUS(NBR_ECORRUPT, nbr_store_open(&s, dir, NBR_STORE_READONLY));
    st_write_text(format, "{\"format\": \"nbrewind-store\", \"version\": 1, \"codec\": \"lz5\", "
                          "\"level\": 5, \"shuffle\": true, \"chunk_bytes\": 1048576}");
    CHECK_STATUS(NBR_ECORRUPT, nbr_store_open(&s, dir, NBR_STORE_READONLY));
    CHECK(strstr(nbr_last_error(), "codec") != NULL);
    unlink(format);
    CHECK_STATUS(NBR_ENOTFOUND, nbr_store_open(&s, dir, NBR_STORE_READONLY));
    CHECK(strstr(nbr_last_error(), "FORMAT") != NULL);
    st_remove_tree(dir);
    free(dir);
}

/* Resolving far back (past the short walk, through the per-name histories)
 * answers as walking back through every checkpoint would: rebinding,
 * deletion, names bound once long ago, a damaged manifest on the way, and
 * histories extended by later commits on the same handle. */
enum { HIST_N = 90, HIST_NAMES = 4 };
static const char *const hist_names[HIST_NAMES] = {"every", "third", "rare", "gone"};

/* What checkpoint k (1-based) does to name j: 1 bind, -1 delete, 0 nothing. */
static int hist_action(int k, int j)
{
    switch (j) {
    case 0: return 1;
    case 1: return k % 3 == 0 ? 1 : k % 10 == 5 ? -1 : 0;
    case 2: return k == 1 ? 1 : 0;
    default: return k == 2 ? 1 : k == 40 ? -1 : 0;
    }
}

/* Expected as of checkpoint k: the binding checkpoint (0: none) and whether
 * it was a deletion. */
static int hist_expected(int k, int j, int *deleted)
{
    for (int i = k; i >= 1; i--)
        if (hist_action(i, j)) {
            *deleted = hist_action(i, j) < 0;
            return i;
        }
    return 0;
}

static void hist_check(nbr_store *s, int upto, const nbr_object_id *ids, int damaged)
{
    for (int pass = 0; pass < 2; pass++) /* latest first, then as of each */
        for (int k = upto; k >= 1; k--)
            for (int j = 0; j < HIST_NAMES; j++) {
                const char *cid = pass == 0 && k == upto ? NULL : nbr_store_checkpoint_id(s, (size_t)k - 1);
                nbr_object_id got;
                int deleted = -1, want_deleted = 0;
                int want = hist_expected(k, j, &want_deleted);
                nbr_status st = nbr_store_resolve(&got, &deleted, s, cid, hist_names[j]);
                if (damaged && damaged <= k && want <= damaged) {
                    CHECK_STATUS(NBR_ECORRUPT, st);
                } else if (!want) {
                    CHECK_STATUS(NBR_ENOTFOUND, st);
                } else {
                    CHECK_OK(st);
                    CHECK(deleted == want_deleted);
                    if (!want_deleted) CHECK(nbr_object_id_equal(&got, &ids[want * HIST_NAMES + j]));
                }
            }
}

static void test_resolve_far_back_through_histories(void)
{
    char *dir;
    nbr_store *s = create_store(&dir, "history");
    nbr_object_id ids[(HIST_N + 1) * HIST_NAMES];
    memset(ids, 0, sizeof ids);
    for (int k = 1; k <= HIST_N; k++) {
        nbr_checkpoint *c = NULL;
        CHECK_OK(nbr_checkpoint_begin(&c, s, "cell", k, NULL));
        for (int j = 0; j < HIST_NAMES; j++) {
            double v = k * 10.0 + j;
            if (hist_action(k, j) > 0)
                CHECK_OK(nbr_checkpoint_put_array(&ids[k * HIST_NAMES + j], c, hist_names[j],
                                                  "<f8", 0, NULL, NULL, &v));
            else if (hist_action(k, j) < 0)
                CHECK_OK(nbr_checkpoint_delete(c, hist_names[j]));
        }
        CHECK_OK(nbr_checkpoint_commit(NULL, c));
        if (k == 50 || k == HIST_N) hist_check(s, k, ids, 0); /* built at 50, extended after */
    }
    nbr_store_close(s);
    nbr_store *r = NULL;
    CHECK_OK(nbr_store_open(&r, dir, NBR_STORE_READONLY));
    hist_check(r, HIST_N, ids, 0);
    nbr_store_close(r);
    /* A damaged manifest on the way (read without INDEX, which would answer
     * as the manifest was). */
    unlink(st_path(dir, "INDEX"));
    char name[64];
    snprintf(name, sizeof name, "checkpoints/%016d.json", 20);
    CHECK(st_truncate(st_path(dir, name), 40) == 0);
    CHECK_OK(nbr_store_open(&r, dir, NBR_STORE_READONLY));
    hist_check(r, HIST_N, ids, 20);
    nbr_store_close(r);
    st_remove_tree(dir);
    free(dir);
}

static void test_damaged_manifest_is_named_and_the_rest_reads(void)
{
    char *dir;
    nbr_store *s = create_store(&dir, "manifest");
    nbr_object_id a, b, c;
    char *k1 = st_commit_doubles(s, "c1", "x", 10, 1.0, &a);
    char *k2 = st_commit_doubles(s, "c2", "y", 10, 2.0, &b);
    char *k3 = st_commit_doubles(s, "c3", "x", 10, 3.0, &c);
    nbr_store_close(s);
    char name[64];
    snprintf(name, sizeof name, "checkpoints/%s.json", k2);
    /* Damage in place (no crash does this: manifests are renamed in) is not
     * seen by a reader's fast check of INDEX, which answers as the manifest
     * was; without INDEX it is read. */
    unlink(st_path(dir, "INDEX"));
    st_truncate(st_path(dir, name), 40);
    CHECK_OK(nbr_store_open(&s, dir, NBR_STORE_READONLY));
    CHECK(nbr_store_checkpoint_count(s) == 3);
    CHECK_STATUS(NBR_ECORRUPT, nbr_store_checkpoint_info(NULL, NULL, NULL, NULL, NULL, s, k2));
    CHECK(strstr(nbr_last_error(), name) != NULL);
    nbr_object_id got;
    CHECK_OK(nbr_store_resolve(&got, NULL, s, k3, "x")); /* bound after the damage */
    CHECK(nbr_object_id_equal(&got, &c));
    CHECK_STATUS(NBR_ECORRUPT, nbr_store_resolve(&got, NULL, s, k3, "y"));
    CHECK_OK(nbr_store_resolve(&got, NULL, s, k1, "x"));
    char *report = NULL;
    CHECK_STATUS(NBR_ECORRUPT, nbr_store_verify(&report, s));
    CHECK(report && strstr(report, name));
    nbr_free(report);
    nbr_store_close(s);
    /* A writer keeps the damaged checkpoint's files and carries on after it. */
    CHECK_OK(nbr_store_open(&s, dir, NBR_STORE_WRITE));
    CHECK(st_count_entries(st_path(dir, "segments")) == 3);
    char *k4 = st_commit_doubles(s, "c4", "z", 10, 4.0, NULL);
    CHECK(k4 && strcmp(k4, k3) > 0);
    nbr_store_close(s);
    /* A missing segment: its objects fail, naming the file; others read. */
    snprintf(name, sizeof name, "checkpoints/%s.json", k2);
    unlink(st_path(dir, name));
    const char *seg = st_find_entry(st_path(dir, "segments"), k1, ".h5");
    char segpath[700];
    snprintf(segpath, sizeof segpath, "%s/segments/%s", dir, seg);
    unlink(segpath);
    CHECK_OK(nbr_store_open(&s, dir, NBR_STORE_READONLY));
    CHECK_STATUS(NBR_ECORRUPT, nbr_store_verify(&report, s));
    CHECK(report && strstr(report, strrchr(segpath, '/') + 1));
    nbr_free(report);
    nbr_store_close(s);
    free(k1), free(k2), free(k3), free(k4);
    st_remove_tree(dir);
    free(dir);
}

static void test_file_size_limit_fails_cleanly(void)
{
    char *dir;
    nbr_store *s = create_store(&dir, "efbig");
    char *k1 = st_commit_doubles(s, "c1", "x", 10, 1.0, NULL);
    struct rlimit old, small;
    getrlimit(RLIMIT_FSIZE, &old);
    small = old;
    small.rlim_cur = 256 * 1024;
    signal(SIGXFSZ, SIG_IGN);
    setrlimit(RLIMIT_FSIZE, &small);
    size_t n = 1 << 17;
    double *noise = malloc(n * 8);
    fill_random(noise, n * 8, 5);
    uint64_t shape[1] = {n};
    nbr_checkpoint *c = NULL;
    CHECK_OK(nbr_checkpoint_begin(&c, s, "c2", 2, NULL));
    int st = nbr_checkpoint_put_array(NULL, c, "noise", "<f8", 1, shape, NULL, noise);
    if (st == NBR_OK) st = nbr_checkpoint_commit(NULL, c);
    else {
        CHECK(strstr(nbr_last_error(), "File too large") && strstr(nbr_last_error(), "tmp/"));
        CHECK_STATUS(NBR_ESTATE, nbr_checkpoint_commit(NULL, c));
    }
    CHECK(st == NBR_EIO);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, SIG_DFL);
    CHECK(nbr_store_checkpoint_count(s) == 1);
    CHECK(st_count_entries(st_path(dir, "tmp")) == 0);
    free(st_commit_doubles(s, "c3", "y", 10, 2.0, NULL)); /* still usable */
    CHECK(nbr_store_checkpoint_count(s) == 2);
    CHECK_OK(nbr_store_verify(NULL, s));
    nbr_store_close(s);
    free(noise), free(k1);
    st_remove_tree(dir);
    free(dir);
}

static void test_read_only_directory(void)
{
    char *dir;
    nbr_store *s = create_store(&dir, "rodir");
    nbr_object_id id;
    free(st_commit_doubles(s, "c1", "x", 10, 1.0, &id));
    nbr_store_close(s);
    chmod(dir, 0755);
    pid_t child = fork();
    if (child == 0) {
        /* root ignores permissions: drop to nobody first. */
        if (geteuid() == 0 && setuid(65534) != 0) _exit(3);
        nbr_store *w = NULL, *r = NULL;
        int st = nbr_store_open(&w, dir, NBR_STORE_WRITE);
        if (st != NBR_EIO || !strstr(nbr_last_error(), dir)) _exit(4);
        fprintf(stderr, "(expected) %s\n", nbr_last_error());
        if (nbr_store_open(&r, dir, NBR_STORE_READONLY) != NBR_OK) _exit(5);
        double back[10];
        uint64_t shape[1] = {10};
        if (nbr_store_read_array(back, sizeof back, r, &id, "<f8", 1, shape) != NBR_OK) _exit(6);
        if (nbr_store_verify(NULL, r) != NBR_OK) _exit(7);
        nbr_store_close(r);
        _exit(back[9] == 10.0 ? 0 : 8);
    }
    /* Not root: make it read-only for ourselves. */
    if (geteuid() != 0) {
        chmod(st_path(dir, "tmp"), 0555);
        chmod(dir, 0555);
    }
    int status = -1;
    waitpid(child, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status)) fprintf(stderr, "child status %d\n", status);
    st_remove_tree(dir);
    free(dir);
}

/* Pages of `path` resident in the page cache, and its pages in all. */
static void resident_pages(size_t *resident, size_t *pages, const char *path)
{
    *resident = *pages = 0;
    int fd = open(path, O_RDONLY);
    struct stat sb;
    CHECK(fd >= 0 && fstat(fd, &sb) == 0 && sb.st_size > 0);
    if (fd < 0) return;
    size_t page = (size_t)sysconf(_SC_PAGESIZE), size = (size_t)sb.st_size;
    void *map = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
    unsigned char *in = calloc(size / page + 1, 1);
    CHECK(map != MAP_FAILED && in && mincore(map, size, in) == 0);
    *pages = (size + page - 1) / page;
    for (size_t i = 0; in && i < *pages; i++) *resident += in[i] & 1;
    if (map != MAP_FAILED) munmap(map, size);
    free(in);
    close(fd);
}

/* A committed segment is on disk and out of the page cache: written once and
 * seldom read soon, it should not crowd out the host's memory (on some VMs a
 * growing cache also takes memory that is slow to touch; docs/performance.md,
 * "Writing new data").  Reading it back afterwards still works. */
static void test_committed_segments_leave_the_page_cache(void)
{
    char *dir = NULL;
    nbr_store *s = create_store(&dir, "uncache");
    struct statfs fs;
    CHECK(statfs(dir, &fs) == 0);
    const size_t size = 24u << 20; /* three of the file driver's 8 MiB kicks */
    unsigned char *data = malloc(size), *back = malloc(size);
    CHECK(data && back);
    fill_random(data, size, 7); /* incompressible: the segment is as big */
    uint64_t shape[1] = {size};
    nbr_checkpoint *c = NULL;
    nbr_object_id id;
    CHECK_OK(nbr_checkpoint_begin(&c, s, "cell", 1, NULL));
    CHECK_OK(nbr_checkpoint_put_array(&id, c, "x", "|u1", 1, shape, NULL, data));
    CHECK_OK(nbr_checkpoint_commit(NULL, c));
    char segments[4200];
    snprintf(segments, sizeof segments, "%s/segments", dir);
    const char *name = st_find_entry(segments, "", ".h5");
    CHECK(name != NULL);
    size_t resident = 0, pages = 0;
    if (name) resident_pages(&resident, &pages, st_path(segments, name));
    CHECK(pages >= size / 4096);
    /* tmpfs and ramfs keep files in the page cache: nothing can leave it. */
    if (fs.f_type != 0x01021994 && fs.f_type != 0x858458f6) CHECK(resident * 10 < pages);
    CHECK_OK(nbr_store_read_array(back, size, s, &id, "|u1", 1, shape));
    CHECK(memcmp(back, data, size) == 0);
    nbr_store_close(s);
    st_remove_tree(dir);
    free(dir), free(data), free(back);
}

NBR_TEST_MAIN(TEST(test_create_reopen_and_missing), TEST(test_options_only_on_a_new_store),
              TEST(test_every_dtype_round_trips), TEST(test_shapes_scalar_empty_and_large),
              TEST(test_fortran_and_strided_views_store_as_c_order),
              TEST(test_ids_computed_without_storing_match_the_store),
              TEST(test_hashed_puts_store_under_the_given_id),
              TEST(test_transposed_views_hash_as_their_c_order_copy),
              TEST(test_fortran_order_in_more_dimensions_hashes_as_c_order),
              TEST(test_host_json_can_be_replaced_before_commit), TEST(test_blobs_from_empty_to_megabytes), TEST(test_blob_writer_streams_pieces),
              TEST(test_same_array_twice_costs_no_bytes),
              TEST(test_resolve_as_of_and_deletes),
              TEST(test_second_writer_is_refused_naming_the_holder),
              TEST(test_readers_see_only_committed_checkpoints),
              TEST(test_abort_and_leftovers_leave_nothing), TEST(test_verify_names_a_flipped_byte),
              TEST(test_truncated_segment_is_named_and_the_rest_reads),
              TEST(test_wrong_requests_name_object_and_request),
              TEST(test_damaged_or_newer_format_is_refused),
              TEST(test_damaged_manifest_is_named_and_the_rest_reads),
              TEST(test_resolve_far_back_through_histories),
              TEST(test_file_size_limit_fails_cleanly), TEST(test_read_only_directory),
              TEST(test_committed_segments_leave_the_page_cache))
