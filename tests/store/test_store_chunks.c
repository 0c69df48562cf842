/* test_store_chunks.c - dedup below the object level: an array of several
 * chunks is stored as shared chunks plus one virtual dataset.  Checked
 * through the public API: what a checkpoint that changes one row block
 * costs, round trips of strided arrays, stats, verify naming a damaged
 * chunk, GC keeping a chunk still used, and the option (and old stores)
 * leaving arrays as plain datasets. */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hdf5.h>

#include "nbr_test.h"
#include "store_test_util.h"

#define ROWS 64
#define COLS 1024
#define CHUNK (64 * 1024) /* 8 rows of 1024 float64 */
#define BLOCK_ROWS 8

static nbr_store *create_store(char **dir, const char *tag)
{
    nbr_store *s = NULL;
    *dir = st_tempdir(tag);
    CHECK_OK(nbr_store_open(&s, *dir, NBR_STORE_CREATE | NBR_STORE_WRITE));
    CHECK_OK(nbr_store_set_option(s, NBR_STORE_OPT_CHUNK_BYTES, CHUNK));
    return s;
}

/* Row block `block` (or every row, block < 0) of a field set to values of
 * time `t`: incompressible bytes, so each chunk's size is plain. */
static void fill(double *a, int block, unsigned t)
{
    for (size_t r = 0; r < ROWS; r++) {
        if (block >= 0 && r / BLOCK_ROWS != (size_t)block) continue;
        uint64_t x = (r + 1) * 0x9E3779B97F4A7C15ull ^ (uint64_t)t * 0xBF58476D1CE4E5B9ull;
        for (size_t c = 0; c < COLS; c++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            a[r * COLS + c] = (double)(x >> 11);
        }
    }
}

static nbr_object_id put_commit(nbr_store *s, const char *name, const double *a, char **id_out)
{
    nbr_checkpoint *c = NULL;
    nbr_object_id id = {{0}};
    uint64_t shape[2] = {ROWS, COLS};
    CHECK_OK(nbr_checkpoint_begin(&c, s, "cell", 1, NULL));
    CHECK_OK(nbr_checkpoint_put_array(&id, c, name, "<f8", 2, shape, NULL, a));
    CHECK_OK(nbr_checkpoint_commit(id_out, c));
    return id;
}

static int reads_as(nbr_store *s, const nbr_object_id *id, const double *want)
{
    uint64_t shape[2] = {ROWS, COLS};
    double *back = malloc(ROWS * COLS * 8);
    int ok = back && nbr_store_read_array(back, ROWS * COLS * 8, s, id, "<f8", 2, shape) ==
                         NBR_OK && !memcmp(back, want, ROWS * COLS * 8);
    free(back);
    return ok;
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *text = calloc(1, 1 << 20);
    if (f && text) fread(text, 1, (1 << 20) - 1, f);
    if (f) fclose(f);
    return text;
}

/* Two checkpoints of "field": `a` (every row at time 0), then `b`, the same
 * with one time step written into row block `block`. */
typedef struct two_steps {
    char *dir, *k1, *k2;
    double *a, *b;
    nbr_object_id ia, ib;
} two_steps;

/* A store of format `version` (0: what a new store is), as an older
 * nbrewind made it: its FORMAT rewritten before the first checkpoint. */
static nbr_store *create_store_of(char **dir, const char *tag, int version)
{
    nbr_store *s = create_store(dir, tag);
    if (!version) return s;
    nbr_store_close(s);
    CHECK(st_write_format(*dir, version, CHUNK) == 0);
    s = NULL;
    CHECK_OK(nbr_store_open(&s, *dir, NBR_STORE_WRITE));
    return s;
}

static nbr_store *two_steps_make_of(two_steps *t, const char *tag, int block, int version)
{
    memset(t, 0, sizeof *t);
    nbr_store *s = create_store_of(&t->dir, tag, version);
    t->a = malloc(ROWS * COLS * 8);
    t->b = malloc(ROWS * COLS * 8);
    fill(t->a, -1, 0);
    t->ia = put_commit(s, "field", t->a, &t->k1);
    memcpy(t->b, t->a, ROWS * COLS * 8);
    fill(t->b, block, 1);
    t->ib = put_commit(s, "field", t->b, &t->k2);
    return s;
}

static nbr_store *two_steps_make(two_steps *t, const char *tag, int block)
{
    return two_steps_make_of(t, tag, block, 0);
}

static void two_steps_free(two_steps *t)
{
    free(t->a), free(t->b), free(t->k1), free(t->k2);
    st_remove_tree(t->dir);
    free(t->dir);
}

/* A reader sees the second checkpoint as damaged (its error holding every
 * string of `said`, NULL-ended) and the first one's array whole. */
static void second_damaged_first_whole(const two_steps *t, const char *const *said)
{
    nbr_store *r = NULL;
    CHECK_OK(nbr_store_open(&r, t->dir, NBR_STORE_READONLY));
    CHECK_STATUS(NBR_ECORRUPT, nbr_store_checkpoint_info(NULL, NULL, NULL, NULL, NULL, r, t->k2));
    for (size_t i = 0; said && said[i]; i++) CHECK(strstr(nbr_last_error(), said[i]) != NULL);
    CHECK(reads_as(r, &t->ia, t->a));
    nbr_store_close(r);
}

/* The manifest of checkpoint `k`, read whole. */
static char *manifest_text(const char *dir, const char *k) { return st_manifest_text(dir, k); }

static void test_one_block_costs_one_chunk(void)
{
    two_steps t;
    nbr_store *s = two_steps_make(&t, "chunks", 3);
    const char *dir = t.dir, *k1 = t.k1, *k2 = t.k2;
    uint64_t first = 0, second = 0, all = 0, logical = 0;
    CHECK_OK(nbr_store_stats(NULL, &first, s, k1));
    CHECK_OK(nbr_store_stats(NULL, &second, s, k2));
    CHECK_OK(nbr_store_stats(&logical, &all, s, NULL));
    CHECK(first >= ROWS * COLS * 8 && first < ROWS * COLS * 8 + 4096);
    CHECK(second >= CHUNK && second < CHUNK + 512); /* the one new chunk */
    CHECK(all == first + second && logical == 2ull * ROWS * COLS * 8);
    CHECK(reads_as(s, &t.ia, t.a) && reads_as(s, &t.ib, t.b));
    CHECK_OK(nbr_store_verify(NULL, s));
    /* The second manifest (lean) lists only the chunk of box 3, in its own
     * segment; the other seven, in the first segment, come from the first
     * version's entry, so the first segment is not named. */
    char *text = manifest_text(dir, k2);
    CHECK(text && strstr(text, "\"chunk_shape\": [8, 1024]") &&
          strstr(text, "\"changed_chunks\": [[3, \"") && !strstr(text, "\"chunks\""));
    CHECK(text && strstr(text, k1) == NULL);
    free(text);
    /* A reader in another handle sees the same. */
    nbr_store *r = NULL;
    CHECK_OK(nbr_store_open(&r, dir, NBR_STORE_READONLY));
    CHECK(reads_as(r, &t.ib, t.b));
    nbr_store_close(r);
    nbr_store_close(s);
    two_steps_free(&t);
}

static void test_strided_and_repeated_chunks(void)
{
    char *dir;
    nbr_store *s = create_store(&dir, "chunkstride");
    /* A Fortran-order array: chunks are gathered in C order. */
    size_t rows = 300, cols = 100;
    double *f = malloc(rows * cols * 8), *c_order = malloc(rows * cols * 8);
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++) {
            f[j * rows + i] = (double)(i * 1000 + j);
            c_order[i * cols + j] = (double)(i * 1000 + j);
        }
    uint64_t shape[2] = {rows, cols};
    int64_t strides[2] = {8, (int64_t)(rows * 8)};
    /* And zeros: every chunk the same, stored once. */
    double *zeros = calloc(ROWS * COLS, 8);
    uint64_t zshape[2] = {ROWS, COLS};
    nbr_checkpoint *c = NULL;
    nbr_object_id idf, idz;
    char *k = NULL;
    CHECK_OK(nbr_checkpoint_begin(&c, s, "cell", 1, NULL));
    CHECK_OK(nbr_checkpoint_put_array(&idf, c, "f", "<f8", 2, shape, strides, f));
    CHECK_OK(nbr_checkpoint_put_array(&idz, c, "z", "<f8", 2, zshape, NULL, zeros));
    CHECK_OK(nbr_checkpoint_commit(&k, c));
    double *back = malloc(ROWS * COLS * 8);
    CHECK_OK(nbr_store_read_array(back, rows * cols * 8, s, &idf, "<f8", 2, shape));
    CHECK(!memcmp(back, c_order, rows * cols * 8));
    CHECK_OK(nbr_store_read_array(back, ROWS * COLS * 8, s, &idz, "<f8", 2, zshape));
    CHECK(!memcmp(back, zeros, ROWS * COLS * 8));
    char *text = manifest_text(dir, k);
    /* z: eight references to one chunk. */
    const char *z = text ? strstr(text, "\"chunks\": [[") : NULL;
    z = z ? strstr(z + 1, "\"chunks\": [[") : NULL;
    CHECK(z != NULL);
    if (z) {
        char first[40];
        memcpy(first, z + 13, 32);
        first[32] = '\0';
        int seen = 0;
        for (const char *p = z; (p = strstr(p, first)) && seen < 100; p++) seen++;
        CHECK(seen == 8);
    }
    CHECK_OK(nbr_store_verify(NULL, s));
    nbr_store_close(s);
    free(text), free(back), free(f), free(c_order), free(zeros), free(k);
    st_remove_tree(dir);
    free(dir);
}

/* The id of row block `block` of `a` as a chunk (docs/store-format.md). */
static void chunk_id_hex(char *hex, const double *a, int block)
{
    nbr_hasher *h = NULL;
    uint8_t word[8];
    uint64_t fields[3] = {2, BLOCK_ROWS, COLS};
    CHECK_OK(nbr_hasher_new(&h));
    CHECK_OK(nbr_hasher_update(h, "nbr-chunk", 10));
    CHECK_OK(nbr_hasher_update(h, "<f8", 4));
    for (int f = 0; f < 3; f++) {
        for (int i = 0; i < 8; i++) word[i] = (uint8_t)(fields[f] >> (8 * i));
        CHECK_OK(nbr_hasher_update(h, word, 8));
    }
    CHECK_OK(nbr_hasher_update(h, a + (size_t)block * BLOCK_ROWS * COLS, CHUNK));
    nbr_object_id id;
    CHECK_OK(nbr_hasher_digest(&id, h));
    nbr_hasher_free(h);
    nbr_object_id_to_hex(hex, &id);
}

static void test_verify_names_a_damaged_chunk(void)
{
    two_steps t;
    nbr_store *s = two_steps_make(&t, "chunkbad", 5);
    nbr_store_close(s);
    const char *dir = t.dir;
    /* The second segment holds one chunk (64 KiB of noise) and little else:
     * its middle is that chunk's data. */
    const char *name = st_find_entry(st_path(dir, "segments"), t.k2, ".h5");
    char path[700], chunk[33], object[33];
    snprintf(path, sizeof path, "%s/segments/%s", dir, name ? name : "?");
    uint64_t size = st_tree_bytes(path);
    CHECK(size > CHUNK && size < 2 * CHUNK);
    CHECK(st_flip_byte(path, (long)(size - CHUNK / 2)) == 0);
    chunk_id_hex(chunk, t.b, 5);
    nbr_object_id_to_hex(object, &t.ib);
    CHECK_OK(nbr_store_open(&s, dir, NBR_STORE_READONLY));
    char *report = NULL;
    CHECK_STATUS(NBR_ECORRUPT, nbr_store_verify(&report, s));
    CHECK(report && strstr(report, chunk) && strstr(report, object) &&
          strstr(report, strrchr(path, '/') + 1));
    if (report && !strstr(report, chunk)) fprintf(stderr, "report: %s\n", report);
    nbr_free(report);
    CHECK(!reads_as(s, &t.ib, t.b));
    CHECK(strstr(nbr_last_error(), chunk) && strstr(nbr_last_error(), object));
    CHECK(reads_as(s, &t.ia, t.a)); /* the first array shares no damaged chunk */
    nbr_store_close(s);
    two_steps_free(&t);
}

static void test_gc_keeps_a_chunk_a_later_array_uses(void)
{
    two_steps t;
    char *k3 = NULL;
    nbr_store *s = two_steps_make(&t, "chunkgc", 2);
    const char *dir = t.dir;
    double *a = t.a, *b = t.b;
    nbr_object_id ib = t.ib;
    CHECK_OK(nbr_store_set_ref(s, "keep", t.k2));
    fill(a, -1, 9); /* the newest checkpoint shares nothing, and unbinds "field" */
    nbr_checkpoint *c = NULL;
    uint64_t shape[2] = {ROWS, COLS};
    CHECK_OK(nbr_checkpoint_begin(&c, s, "cell", 3, NULL));
    CHECK_OK(nbr_checkpoint_put_array(NULL, c, "other", "<f8", 2, shape, NULL, a));
    CHECK_OK(nbr_checkpoint_delete(c, "field"));
    CHECK_OK(nbr_checkpoint_commit(&k3, c));
    char *report = NULL;
    CHECK_OK(nbr_store_gc(&report, s));
    nbr_free(report);
    CHECK(nbr_store_checkpoint_count(s) == 2);
    CHECK(st_find_entry(st_path(dir, "checkpoints"), t.k1, ".json") == NULL);
    /* The first checkpoint is gone; its segment stays for the chunks. */
    CHECK(st_find_entry(st_path(dir, "segments"), t.k1, ".h5") != NULL);
    CHECK(reads_as(s, &ib, b));
    CHECK_OK(nbr_store_verify(NULL, s));
    nbr_store_close(s);
    nbr_store *r = NULL;
    CHECK_OK(nbr_store_open(&r, dir, NBR_STORE_READONLY));
    CHECK(reads_as(r, &ib, b));
    CHECK_OK(nbr_store_verify(NULL, r));
    nbr_store_close(r);
    /* Once the ref goes, the next GC drops both. */
    CHECK_OK(nbr_store_open(&s, dir, NBR_STORE_WRITE));
    CHECK_OK(nbr_store_delete_ref(s, "keep"));
    CHECK_OK(nbr_store_gc(NULL, s));
    CHECK(st_count_entries(st_path(dir, "segments")) == 1);
    nbr_store_close(s);
    free(k3);
    two_steps_free(&t);
}

/* A version that changed one block maps the rest to the version the name
 * was bound to (a chained virtual dataset); one that changed every block, or
 * a name bound for the first time, maps every chunk. */
static void test_a_changed_block_chains_to_the_previous_version(void)
{
    two_steps t;
    nbr_clear_error();
    nbr_store *s = two_steps_make(&t, "chain", 3);
    /* Looking for a base of a name never bound is no failure to report. */
    CHECK_STR("", nbr_last_error());
    char ia[33], ib[33], *k3 = NULL, *k4 = NULL;
    nbr_object_id_to_hex(ia, &t.ia);
    nbr_object_id_to_hex(ib, &t.ib);
    char *text = manifest_text(t.dir, t.k2), want[64];
    snprintf(want, sizeof want, "\"virtual_base\": \"%s\"", ia);
    CHECK(text && strstr(text, want) != NULL);
    free(text);
    text = manifest_text(t.dir, t.k1);
    CHECK(text && strstr(text, "virtual_base") == NULL);
    free(text);
    fill(t.b, -1, 2); /* every block */
    nbr_object_id ic = put_commit(s, "field", t.b, &k3);
    text = manifest_text(t.dir, k3);
    CHECK(text && strstr(text, "virtual_base") == NULL);
    free(text);
    fill(t.b, 5, 3);
    nbr_object_id id = put_commit(s, "elsewhere", t.b, &k4); /* not bound before */
    text = manifest_text(t.dir, k4);
    CHECK(text && strstr(text, "virtual_base") == NULL);
    free(text);
    CHECK(reads_as(s, &t.ib, t.b) == 0 && reads_as(s, &id, t.b) && !nbr_object_id_equal(&ic, &id));
    CHECK_OK(nbr_store_verify(NULL, s));
    nbr_store_close(s);
    char *format = read_text(st_path(t.dir, "FORMAT"));
    CHECK(format && strstr(format, "\"version\": 4"));
    free(format);
    free(k3), free(k4);
    two_steps_free(&t);
}

/* A version-2 store (before chains) keeps its arrays flat and its version:
 * a version-2 writer's GC would not keep what a chained array maps. */
static void test_version_2_stores_do_not_chain(void)
{
    char *dir = NULL, *k1 = NULL, *k2 = NULL;
    nbr_store *s = create_store(&dir, "chainv2");
    nbr_store_close(s);
    st_write_text(st_path(dir, "FORMAT"),
                  "{\"format\": \"nbrewind-store\", \"version\": 2, \"codec\": \"lz4\", "
                  "\"level\": 5, \"shuffle\": true, \"chunk_bytes\": 65536, "
                  "\"chunk_dedup\": true}\n");
    CHECK_OK(nbr_store_open(&s, dir, NBR_STORE_WRITE));
    double *a = malloc(ROWS * COLS * 8);
    fill(a, -1, 0);
    put_commit(s, "field", a, &k1);
    fill(a, 3, 1);
    nbr_object_id id = put_commit(s, "field", a, &k2);
    char *text = manifest_text(dir, k2);
    CHECK(text && strstr(text, "\"chunks\"") && !strstr(text, "virtual_base"));
    CHECK(reads_as(s, &id, a));
    nbr_store_close(s);
    char *format = read_text(st_path(dir, "FORMAT"));
    CHECK(format && strstr(format, "\"version\": 2"));
    free(format), free(text), free(a), free(k1), free(k2);
    st_remove_tree(dir);
    free(dir);
}

/* The chain comes through INDEX (a writer that opened through it still knows
 * what a chained array maps: its GC keeps the base), and verify names a
 * chained array whose base no manifest lists. */
static void test_chain_through_the_index_and_verify(void)
{
    char ia[33], want[80];
    /* Both versions: INDEX holds the chained entry in lean form even in a
     * version-3 store, whose GC then writes it out whole. */
    for (int version = 3; version <= 4; version++) {
        two_steps t;
        nbr_store *s = two_steps_make_of(&t, "chainindex", 4, version);
        nbr_store_close(s); /* writes INDEX */
        char *k3 = NULL;
        nbr_object_id_to_hex(ia, &t.ia);
        CHECK_OK(nbr_store_open(&s, t.dir, NBR_STORE_WRITE));
        CHECK_OK(nbr_store_set_ref(s, "keep", t.k2));
        nbr_checkpoint *c = NULL;
        CHECK_OK(nbr_checkpoint_begin(&c, s, "cell", 3, NULL));
        CHECK_OK(nbr_checkpoint_delete(c, "field"));
        CHECK_OK(nbr_checkpoint_commit(&k3, c));
        CHECK_OK(nbr_store_gc(NULL, s));
        CHECK(st_find_entry(st_path(t.dir, "checkpoints"), t.k1, ".json") == NULL);
        char *text = manifest_text(t.dir, t.k2);
        snprintf(want, sizeof want, "\"%s\": {\"kind\": \"array\"", ia);
        CHECK(text && strstr(text, want) != NULL); /* the base, listed by the rewrite */
        free(text);
        CHECK(st_find_entry(st_path(t.dir, "segments"), t.k1, ".h5") != NULL);
        CHECK_OK(nbr_store_verify(NULL, s));
        nbr_store_close(s);
        /* What GC wrote reads back right without the index. */
        remove(st_path(t.dir, "INDEX"));
        nbr_store *r = NULL;
        CHECK_OK(nbr_store_open(&r, t.dir, NBR_STORE_READONLY));
        CHECK(reads_as(r, &t.ib, t.b));
        CHECK_OK(nbr_store_verify(NULL, r));
        nbr_store_close(r);
        free(k3);
        two_steps_free(&t);
    }
    /* Take the base away (the rewritten manifest, rewritten again by hand
     * without it would be the same).  In a version-3 store verify names the
     * chained array; in a lean one (version 4) the chained array's manifest,
     * which lists only its changed chunk, is damaged, naming the base. */
    two_steps u;
    for (int version = 3; version <= 4; version++) {
        nbr_store *s = two_steps_make_of(&u, "chainbroken", 4, version);
        nbr_store_close(s);
        /* Version 3 keeps whole chunk lists in manifest files of their own. */
        char *second = st_manifest_text(u.dir, u.k2);
        CHECK(second && (version == 3) == (strstr(second, "\"chunks\"") != NULL));
        CHECK((version == 3) == (st_manifest_offset(st_manifest_path(u.dir, u.k2)) == 0));
        free(second);
        CHECK(remove(st_manifest_path(u.dir, u.k1)) == 0);
        remove(st_path(u.dir, "INDEX"));
        nbr_store *r = NULL;
        char *report = NULL;
        CHECK_OK(nbr_store_open(&r, u.dir, NBR_STORE_READONLY));
        CHECK_STATUS(NBR_ECORRUPT, nbr_store_verify(&report, r));
        if (version == 3) /* the same data: the same id */
            snprintf(want, sizeof want, "is chained to %s", ia);
        else
            snprintf(want, sizeof want, "differ from %s", ia);
        CHECK(report && strstr(report, want) != NULL);
        CHECK(report && (version == 3 || strstr(report, u.k2)));
        nbr_free(report);
        nbr_store_close(r);
        if (version == 3) two_steps_free(&u);
    }
    two_steps_free(&u);
}

/* The open index (INDEX) carries the chunk lists: a reader opened through it
 * reads, counts and verifies as one that reads every manifest. */
static void test_index_carries_chunk_lists(void)
{
    two_steps t;
    nbr_store *s = two_steps_make(&t, "chunkindex", 6);
    nbr_store_close(s); /* writes INDEX */
    uint64_t stored[2] = {0, 0};
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) CHECK(rename(st_path(t.dir, "INDEX"), st_path(t.dir, "INDEX.aside")) == 0);
        nbr_store *r = NULL;
        CHECK_OK(nbr_store_open(&r, t.dir, NBR_STORE_READONLY));
        CHECK(reads_as(r, &t.ia, t.a) && reads_as(r, &t.ib, t.b));
        CHECK_OK(nbr_store_stats(NULL, &stored[pass], r, NULL));
        CHECK_OK(nbr_store_verify(NULL, r));
        nbr_store_close(r);
    }
    CHECK(stored[0] == stored[1] && stored[0] > 0);
    two_steps_free(&t);
}

/* A lean entry whose changed boxes use segments in another order than its
 * list of segments has them: the third version changes box 1 (a new chunk,
 * in its own segment) and puts box 5 back as the first version had it (a
 * chunk of the first segment), against a base whose box 5 is in the second
 * segment.  Every handle reads each version as it was put, with the index
 * and without, and verify finds nothing. */
static void test_lean_entries_keep_each_chunk_in_its_segment(void)
{
    two_steps t;
    nbr_store *s = two_steps_make(&t, "leanorder", 5);
    double *c = malloc(ROWS * COLS * 8);
    memcpy(c, t.a, ROWS * COLS * 8);
    fill(c, 1, 2);
    char *k3 = NULL;
    nbr_object_id ic = put_commit(s, "field", c, &k3);
    char *text = manifest_text(t.dir, k3);
    CHECK(text && strstr(text, "\"changed_chunks\": [[1, ") && strstr(text, "[5, "));
    free(text);
    nbr_store_close(s);
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) remove(st_path(t.dir, "INDEX"));
        nbr_store *r = NULL;
        CHECK_OK(nbr_store_open(&r, t.dir, NBR_STORE_READONLY));
        CHECK(reads_as(r, &t.ia, t.a) && reads_as(r, &t.ib, t.b) && reads_as(r, &ic, c));
        CHECK_OK(nbr_store_verify(NULL, r));
        nbr_store_close(r);
    }
    free(c), free(k3);
    two_steps_free(&t);
}

/* GC rewrites a kept checkpoint with the whole chain its array maps, each
 * version lean against the next one down, the deepest listed last: a reader
 * completes them all (base first) and reads every version back. */
static void test_gc_keeps_a_deep_chain_readable(void)
{
    char *dir = NULL, *k = NULL;
    nbr_store *s = create_store(&dir, "deepchain");
    double *a = malloc(ROWS * COLS * 8);
    fill(a, -1, 0);
    nbr_object_id ids[6];
    for (int v = 0; v < 6; v++) {
        if (v) fill(a, v, (unsigned)v);
        free(k);
        ids[v] = put_commit(s, "field", a, &k);
    }
    CHECK_OK(nbr_store_set_ref(s, "keep", k));
    CHECK_OK(nbr_store_gc(NULL, s));
    CHECK(nbr_store_checkpoint_count(s) == 1);
    nbr_store_close(s);
    remove(st_path(dir, "INDEX"));
    char *text = manifest_text(dir, k);
    size_t lean = 0;
    for (const char *p = text; p && (p = strstr(p, "changed_chunks")) != NULL; p++) lean++;
    CHECK(lean == 5); /* five chained versions, the first flat */
    free(text);
    nbr_store *r = NULL;
    CHECK_OK(nbr_store_open(&r, dir, NBR_STORE_READONLY));
    CHECK(reads_as(r, &ids[5], a));
    CHECK_OK(nbr_store_verify(NULL, r));
    nbr_store_close(r);
    free(a), free(k);
    st_remove_tree(dir);
    free(dir);
}

/* Two lean entries each naming the other as base: damaged, not a loop. */
static void test_a_cycle_of_lean_entries_is_damage(void)
{
    two_steps t;
    nbr_store *s = two_steps_make(&t, "leancycle", 1);
    nbr_store_close(s);
    remove(st_path(t.dir, "INDEX"));
    static const char entry[] =
        "\"%s\": {\"kind\": \"array\", \"segment\": \"segments/0000000000000002-00000000.h5\", "
        "\"dtype\": \"<f8\", \"shape\": [64, 1024], \"chunk_shape\": [8, 1024], "
        "\"chunk_segments\": [], \"changed_chunks\": [], \"virtual_base\": \"%s\", "
        "\"logical_bytes\": 524288, \"stored_bytes\": 0}";
    const char *x = "0123456789abcdef0123456789abcdef", *y = "00112233445566778899aabbccddeeff";
    char one[512], two[512], text[1400];
    snprintf(one, sizeof one, entry, x, y);
    snprintf(two, sizeof two, entry, y, x);
    snprintf(text, sizeof text,
             "{\"format\": 1, \"seq\": 2, \"parent\": 1, \"cell_id\": \"c\", "
             "\"execution_count\": 2, \"started\": \"x\", \"committed\": \"y\", "
             "\"host\": null, \"bindings\": {\"field\": \"%s\"}, \"objects\": {%s, %s}}",
             x, one, two);
    CHECK(st_replace_manifest(t.dir, t.k2, text) == 0);
    second_damaged_first_whole(&t, NULL);
    two_steps_free(&t);
}

/* The index is what a reader uses when a chained array is in it: a lean
 * manifest damaged in place (same size) is seen only without it. */
static void test_index_with_lean_entries_is_used(void)
{
    two_steps t;
    nbr_store *s = two_steps_make(&t, "leanindex", 2);
    nbr_store_close(s);
    const char *path = st_manifest_path(t.dir, t.k2);
    CHECK(st_flip_byte(path, st_manifest_offset(path)) == 0);
    nbr_store *r = NULL;
    CHECK_OK(nbr_store_open(&r, t.dir, NBR_STORE_READONLY));
    CHECK(reads_as(r, &t.ib, t.b));
    nbr_store_close(r);
    remove(st_path(t.dir, "INDEX"));
    CHECK_OK(nbr_store_open(&r, t.dir, NBR_STORE_READONLY));
    CHECK_STATUS(NBR_ECORRUPT, nbr_store_checkpoint_info(NULL, NULL, NULL, NULL, NULL, r, t.k2));
    nbr_store_close(r);
    two_steps_free(&t);
}

/* A manifest whose grid is enormous and whose list is short (or lean) is
 * damaged, not a reason for the store not to open: nothing of the grid's
 * size is allocated on its word. */
static void test_a_huge_grid_is_a_damaged_manifest(void)
{
    static const char *const lists[] = {"\"chunks\": []",
                                        "\"changed_chunks\": [], \"virtual_base\": "
                                        "\"00112233445566778899aabbccddeeff\""};
    for (int i = 0; i < 2; i++) {
        two_steps t;
        nbr_store *s = two_steps_make(&t, "hugegrid", 1);
        nbr_store_close(s);
        remove(st_path(t.dir, "INDEX"));
        char text[1024], ia[33];
        nbr_object_id_to_hex(ia, &t.ib);
        snprintf(text, sizeof text,
                 "{\"format\": 1, \"seq\": 2, \"parent\": 1, \"cell_id\": \"c\", "
                 "\"execution_count\": 2, \"started\": \"x\", \"committed\": \"y\", "
                 "\"host\": null, \"bindings\": {\"field\": \"%s\"}, \"objects\": {\"%s\": "
                 "{\"kind\": \"array\", \"segment\": \"segments/0000000000000002-00000000.h5\", "
                 "\"dtype\": \"<f8\", \"shape\": [100000000000000], \"chunk_shape\": [1], "
                 "\"chunk_segments\": [], %s, \"logical_bytes\": 800000000000000, "
                 "\"stored_bytes\": 0}}}",
                 ia, ia, lists[i]);
        CHECK(st_replace_manifest(t.dir, t.k2, text) == 0);
        second_damaged_first_whole(&t, NULL);
        two_steps_free(&t);
    }
}

/* A chunk list that does not fit the array's chunk grid makes the manifest
 * damaged (named), not a misread. */
static void test_wrong_chunk_list_is_a_damaged_manifest(void)
{
    two_steps t;
    nbr_store *s = two_steps_make(&t, "chunklist", 1);
    nbr_store_close(s);
    unlink(st_path(t.dir, "INDEX"));
    char *text = manifest_text(t.dir, t.k2);
    char *at = text ? strstr(text, "\"chunk_shape\": [8, 1024]") : NULL;
    CHECK(at != NULL);
    if (at) {
        memcpy(at, "\"chunk_shape\": [7, 1024]", 24); /* 10 boxes, 8 chunks listed */
        CHECK(st_replace_manifest(t.dir, t.k2, text) == 0);
    }
    const char *const said[] = {"chunk", t.k2, NULL};
    second_damaged_first_whole(&t, said);
    free(text);
    two_steps_free(&t);
}

/* With the option off, and in a store from before it (FORMAT version 1),
 * arrays stay one plain dataset each. */
static void test_option_off_and_old_stores_store_plain(void)
{
    for (int old = 0; old < 2; old++) {
        char *dir, *k = NULL;
        nbr_store *s = create_store(&dir, "chunkoff");
        int64_t on = -1;
        CHECK_OK(nbr_store_get_option(&on, s, NBR_STORE_OPT_CHUNK_DEDUP));
        CHECK(on == 1);
        if (!old) {
            CHECK_OK(nbr_store_set_option(s, NBR_STORE_OPT_CHUNK_DEDUP, 0));
        } else {
            nbr_store_close(s);
            st_write_text(st_path(dir, "FORMAT"),
                          "{\"format\": \"nbrewind-store\", \"version\": 1, \"codec\": \"lz4\", "
                          "\"level\": 5, \"shuffle\": true, \"chunk_bytes\": 65536}\n");
            CHECK_OK(nbr_store_open(&s, dir, NBR_STORE_WRITE));
            CHECK_OK(nbr_store_get_option(&on, s, NBR_STORE_OPT_CHUNK_DEDUP));
            CHECK(on == 0);
        }
        char *format = read_text(st_path(dir, "FORMAT"));
        CHECK(format && strstr(format, "\"version\": 1"));
        free(format);
        double *a = malloc(ROWS * COLS * 8);
        fill(a, -1, 0);
        nbr_object_id id = put_commit(s, "field", a, &k);
        char *text = manifest_text(dir, k);
        CHECK(text && !strstr(text, "chunks"));
        CHECK(reads_as(s, &id, a));
        nbr_store_close(s);
        free(text), free(a), free(k);
        st_remove_tree(dir);
        free(dir);
    }
}

/* Compressible rows (a ramp per row), so that chunks go through Blosc. */
static void fill_ramp(double *a)
{
    for (size_t r = 0; r < ROWS; r++)
        for (size_t c = 0; c < COLS; c++) a[r * COLS + c] = (double)r + (double)c / COLS;
}

/* WORKERS changes who compresses, never what is stored: with no worker, a
 * few or one per CPU the array gets the same id and the same stored bytes.
 * It belongs to the handle: any handle, a read-only one too (its reads
 * decompress on workers), may set it while no checkpoint is in progress,
 * and it is not persisted. */
static void test_workers_option_changes_only_who_compresses(void)
{
    static const int64_t workers[3] = {-1, 0, 3};
    double *a = malloc(ROWS * COLS * 8);
    fill_ramp(a);
    nbr_object_id ids[3];
    uint64_t stored[3];
    for (int i = 0; i < 3; i++) {
        char *dir, *k = NULL;
        nbr_store *s = create_store(&dir, "workers");
        int64_t value = 7;
        CHECK_OK(nbr_store_get_option(&value, s, NBR_STORE_OPT_WORKERS));
        CHECK(value == -1);
        CHECK_OK(nbr_store_set_option(s, NBR_STORE_OPT_WORKERS, workers[i]));
        ids[i] = put_commit(s, "field", a, &k);
        CHECK_OK(nbr_store_stats(NULL, &stored[i], s, k));
        CHECK(stored[i] < ROWS * COLS * 8 / 2); /* compressed */
        CHECK(reads_as(s, &ids[i], a));
        CHECK_OK(nbr_store_set_option(s, NBR_STORE_OPT_WORKERS, 1)); /* between checkpoints */
        CHECK(nbr_store_set_option(s, NBR_STORE_OPT_WORKERS, 17) == NBR_EINVAL);
        CHECK(nbr_store_set_option(s, NBR_STORE_OPT_WORKERS, -2) == NBR_EINVAL);
        nbr_checkpoint *c = NULL;
        CHECK_OK(nbr_checkpoint_begin(&c, s, "cell", 2, NULL));
        CHECK(nbr_store_set_option(s, NBR_STORE_OPT_WORKERS, 0) == NBR_ESTATE);
        nbr_checkpoint_abort(c);
        nbr_store_close(s);
        nbr_store *r = NULL;
        CHECK_OK(nbr_store_open(&r, dir, NBR_STORE_READONLY));
        CHECK_OK(nbr_store_get_option(&value, r, NBR_STORE_OPT_WORKERS));
        CHECK(value == -1); /* not persisted */
        CHECK(reads_as(r, &ids[i], a));
        CHECK_OK(nbr_store_set_option(r, NBR_STORE_OPT_WORKERS, workers[i]));
        CHECK_OK(nbr_store_get_option(&value, r, NBR_STORE_OPT_WORKERS));
        CHECK(value == workers[i]);
        CHECK(nbr_store_set_option(r, NBR_STORE_OPT_CHUNK_BYTES, 4096) == NBR_ESTATE);
        CHECK(reads_as(r, &ids[i], a));
        nbr_store_close(r);
        free(k);
        st_remove_tree(dir);
        free(dir);
    }
    CHECK(!memcmp(&ids[0], &ids[1], sizeof ids[0]) && !memcmp(&ids[0], &ids[2], sizeof ids[0]));
    CHECK(stored[0] == stored[1] && stored[0] == stored[2]);
    free(a);
}

/* The file offset of the n-th Blosc frame of a whole chunk in a segment
 * (frames are written in grid order): its header says version 2, typesize
 * 8 and CHUNK bytes uncompressed.  -1 if there are fewer. */
static long nth_frame(const char *path, int n)
{
    FILE *f = fopen(path, "rb");
    long found = -1;
    unsigned char *data = malloc(8u << 20);
    size_t size = f && data ? fread(data, 1, 8u << 20, f) : 0;
    for (size_t at = 0; found < 0 && at + 16 <= size; at++) {
        uint32_t nbytes = (uint32_t)data[at + 4] | (uint32_t)data[at + 5] << 8 |
                          (uint32_t)data[at + 6] << 16 | (uint32_t)data[at + 7] << 24;
        if (data[at] == 2 && data[at + 3] == 8 && nbytes == CHUNK && n-- == 0) found = (long)at;
    }
    if (f) fclose(f);
    free(data);
    return found;
}

/* Reads decompress chunks on worker threads while the calling thread
 * fetches the next ones (arrays of 1 MiB or more).  A chunk whose Blosc
 * frame is damaged, in the middle of an array, fails the read and verify
 * naming that chunk, with no worker and with several, and the store's
 * other arrays still read. */
static void test_a_damaged_frame_is_named_by_reads_and_verify(void)
{
    enum { BIG_ROWS = 4 * ROWS }; /* 2 MiB, 32 chunks */
    static const int64_t workers[2] = {0, 3};
    const uint64_t shape[2] = {BIG_ROWS, COLS};
    const size_t bytes = (size_t)BIG_ROWS * COLS * 8;
    double *a = malloc(bytes), *other = malloc(bytes), *back = malloc(bytes);
    for (size_t r = 0; r < BIG_ROWS; r++)
        for (size_t c = 0; c < COLS; c++) a[r * COLS + c] = (double)r + (double)c / COLS;
    for (size_t i = 0; i < (size_t)BIG_ROWS * COLS; i++) other[i] = a[i] + 1000.0;
    for (int w = 0; w < 2; w++) {
        char *dir, *k1 = NULL, path[700], chunk[33], object[33];
        nbr_store *s = create_store(&dir, "framebad");
        nbr_object_id ia, io;
        nbr_checkpoint *c = NULL;
        CHECK_OK(nbr_store_set_option(s, NBR_STORE_OPT_WORKERS, workers[w]));
        CHECK_OK(nbr_checkpoint_begin(&c, s, "cell", 1, NULL));
        CHECK_OK(nbr_checkpoint_put_array(&ia, c, "field", "<f8", 2, shape, NULL, a));
        CHECK_OK(nbr_checkpoint_commit(&k1, c));
        CHECK_OK(nbr_checkpoint_begin(&c, s, "cell", 2, NULL));
        CHECK_OK(nbr_checkpoint_put_array(&io, c, "other", "<f8", 2, shape, NULL, other));
        CHECK_OK(nbr_checkpoint_commit(NULL, c));
        CHECK_OK(nbr_store_read_array(back, bytes, s, &ia, "<f8", 2, shape));
        CHECK(!memcmp(back, a, bytes));
        const char *name = st_find_entry(st_path(dir, "segments"), k1, ".h5");
        snprintf(path, sizeof path, "%s/segments/%s", dir, name ? name : "?");
        long frame = nth_frame(path, 13);
        CHECK(frame > 0 && nth_frame(path, 31) > frame && nth_frame(path, 32) < 0);
        CHECK(st_flip_byte(path, frame + 5) == 0); /* its uncompressed size */
        chunk_id_hex(chunk, a, 13);
        nbr_object_id_to_hex(object, &ia);
        CHECK_STATUS(NBR_ECORRUPT, nbr_store_read_array(back, bytes, s, &ia, "<f8", 2, shape));
        CHECK(strstr(nbr_last_error(), chunk) && strstr(nbr_last_error(), object) &&
              strstr(nbr_last_error(), "Blosc frame") && strstr(nbr_last_error(), name));
        char *report = NULL;
        CHECK_STATUS(NBR_ECORRUPT, nbr_store_verify(&report, s));
        CHECK(report && strstr(report, chunk) && strstr(report, object));
        nbr_free(report);
        CHECK_OK(nbr_store_read_array(back, bytes, s, &io, "<f8", 2, shape));
        CHECK(!memcmp(back, other, bytes));
        nbr_store_close(s);
        free(k1);
        st_remove_tree(dir);
        free(dir);
    }
    free(a), free(other), free(back);
}

/* Replaces chunk `block` of `a` in the segment file `path` by a dataset
 * of the same values that another tool might have written: of file type
 * `type`, one HDF5 chunk, deflated or not. */
static void rewrite_chunk(const char *path, const double *a, int block, hid_t type, bool deflate)
{
    char hex[33], dataset[64];
    double *rows = malloc(CHUNK);
    chunk_id_hex(hex, a, block);
    snprintf(dataset, sizeof dataset, "/chunks/%s", hex);
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t ds = H5Dopen2(f, dataset, H5P_DEFAULT);
    CHECK(ds >= 0 && H5Dread(ds, H5T_IEEE_F64LE, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows) >= 0);
    H5Dclose(ds);
    CHECK(H5Ldelete(f, dataset, H5P_DEFAULT) >= 0);
    const hsize_t dims[2] = {BLOCK_ROWS, COLS};
    hid_t space = H5Screate_simple(2, dims, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE);
    CHECK(H5Pset_chunk(dcpl, 2, dims) >= 0 && (!deflate || H5Pset_deflate(dcpl, 1) >= 0));
    ds = H5Dcreate2(f, dataset, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    CHECK(ds >= 0 && H5Dwrite(ds, H5T_IEEE_F64LE, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows) >= 0);
    H5Dclose(ds), H5Pclose(dcpl), H5Sclose(space);
    CHECK(H5Fclose(f) >= 0);
    free(rows);
}

/* A chunk dataset not as the store writes it is read through HDF5, which
 * converts: rewritten by another tool with deflate for Blosc, or holding
 * the same values big-endian under a little-endian manifest (laid out as
 * the store's raw chunks are, so only its type tells). */
static void test_a_foreign_chunk_dataset_reads_through_hdf5(void)
{
    char *dir, *k = NULL, path[700];
    double *a = malloc(ROWS * COLS * 8);
    fill_ramp(a);
    nbr_store *s = create_store_of(&dir, "foreign", 3); /* manifests apart from segments */
    nbr_object_id ia = put_commit(s, "field", a, &k);
    nbr_store_close(s);
    const char *name = st_find_entry(st_path(dir, "segments"), k, ".h5");
    snprintf(path, sizeof path, "%s/segments/%s", dir, name ? name : "?");
    rewrite_chunk(path, a, 2, H5T_IEEE_F64LE, true);
    rewrite_chunk(path, a, 3, H5T_IEEE_F64BE, false);
    CHECK_OK(nbr_store_open(&s, dir, NBR_STORE_READONLY));
    CHECK(reads_as(s, &ia, a));
    CHECK_OK(nbr_store_verify(NULL, s));
    nbr_store_close(s);
    free(a), free(k);
    st_remove_tree(dir);
    free(dir);
}

/* `old`'s last four row blocks after a new block 0 (compressible, or not:
 * then the array's chunks are written raw), then two incompressible ones
 * of which block 2 repeats block 1. */
static void fill_half_new(double *a, const double *old, bool raw)
{
    memcpy(a, old, ROWS * COLS * 8);
    for (size_t i = 0; i < BLOCK_ROWS * COLS; i++) a[i] = old[i] + 1000.0;
    if (raw) fill(a, 0, 2);
    fill(a, 1, 3);
    fill(a, 3, 4);
    memcpy(a + 2 * BLOCK_ROWS * COLS, a + BLOCK_ROWS * COLS, BLOCK_ROWS * COLS * 8);
}

/* The manifest's chunk list of the checkpoint's one array (put by
 * test_chunks_found_stored_while_compressing_ahead): blocks 0-3 in its own
 * segment (index 0), block 2 the chunk of block 1, blocks 4-7 in old's
 * segment (index 1); what it stored, the three new chunks. */
static int chunks_as_expected(const char *text, uint64_t stored)
{
    const char *p = strstr(text, "\"chunks\": [");
    char ids[ROWS / BLOCK_ROWS][33];
    unsigned segment[ROWS / BLOCK_ROWS];
    unsigned long long bytes[ROWS / BLOCK_ROWS], own = 0;
    for (int k = 0; k < ROWS / BLOCK_ROWS; k++) {
        p = p ? strstr(p + 1, "[\"") : NULL;
        if (!p || sscanf(p, "[\"%32[0-9a-f]\", %u, %llu]", ids[k], &segment[k], &bytes[k]) != 3)
            return 0;
        if (segment[k] != (k < 4 ? 0u : 1u)) return 0;
        if (k < 4 && k != 2) own += bytes[k];
    }
    return !strcmp(ids[1], ids[2]) && strcmp(ids[0], ids[1]) && strcmp(ids[1], ids[3]) &&
           own == stored;
}

/* While an array's chunks come out new, each is hashed by the job that
 * compresses it and looked up only before it is written.  A chunk that
 * turns out stored, in an earlier segment or earlier in the same array
 * while both were in flight, is not written again and is recorded where
 * it is; with no worker, one, or three alike, compressed or raw. */
static void chunks_found_stored_while_compressing_ahead(bool raw)
{
    static const int64_t workers[3] = {0, 1, 3};
    double *old = malloc(ROWS * COLS * 8), *a = malloc(ROWS * COLS * 8);
    uint64_t shape[2] = {ROWS, COLS}, stored[3];
    nbr_object_id want, got[3];
    fill_ramp(old);
    fill_half_new(a, old, raw);
    CHECK_OK(nbr_array_hash(&want, "<f8", 2, shape, NULL, a));
    for (int i = 0; i < 3; i++) {
        char *dir, *k1 = NULL, *k2 = NULL;
        nbr_store *s = create_store(&dir, "ahead");
        CHECK_OK(nbr_store_set_option(s, NBR_STORE_OPT_WORKERS, workers[i]));
        put_commit(s, "old", old, &k1);
        got[i] = put_commit(s, "a", a, &k2);
        CHECK(nbr_object_id_equal(&got[i], &want));
        CHECK_OK(nbr_store_stats(NULL, &stored[i], s, k2));
        char *text = manifest_text(dir, k2);
        CHECK(text && chunks_as_expected(text, stored[i]));
        CHECK(reads_as(s, &got[i], a));
        CHECK_OK(nbr_store_verify(NULL, s));
        nbr_store_close(s);
        free(text), free(k1), free(k2);
        st_remove_tree(dir);
        free(dir);
    }
    CHECK(stored[0] == stored[1] && stored[0] == stored[2]);
    CHECK(!raw || stored[0] == 3 * CHUNK);
    free(old), free(a);
}

static void test_chunks_found_stored_while_compressing_ahead(void)
{
    chunks_found_stored_while_compressing_ahead(false);
    chunks_found_stored_while_compressing_ahead(true);
}

/* A new array (its first chunk new) is hashed in the same pass as its
 * chunks; one whose first chunk the store has is hashed first.  Either way,
 * C order or a Fortran-order view, the id is nbr_array_hash's. */
static void test_one_pass_and_two_pass_puts_give_the_same_ids(void)
{
    char *dir, *k = NULL;
    nbr_store *s = create_store(&dir, "onepass");
    double *a = malloc(ROWS * COLS * 8), *f = malloc(ROWS * COLS * 8);
    uint64_t shape[2] = {ROWS, COLS};
    int64_t f_strides[2] = {8, 8 * ROWS};
    nbr_object_id put, hashed;
    fill(a, -1, 0);
    put = put_commit(s, "a", a, &k); /* new: one pass */
    free(k);
    CHECK_OK(nbr_array_hash(&hashed, "<f8", 2, shape, NULL, a));
    CHECK(nbr_object_id_equal(&put, &hashed));
    fill(a, -1, 7); /* all new again, given in Fortran order */
    for (size_t r = 0; r < ROWS; r++)
        for (size_t c = 0; c < COLS; c++) f[c * ROWS + r] = a[r * COLS + c];
    nbr_checkpoint *c = NULL;
    CHECK_OK(nbr_checkpoint_begin(&c, s, "cell", 2, NULL));
    CHECK_OK(nbr_checkpoint_put_array(&put, c, "f", "<f8", 2, shape, f_strides, f));
    CHECK_OK(nbr_checkpoint_commit(NULL, c));
    CHECK_OK(nbr_array_hash(&hashed, "<f8", 2, shape, NULL, a));
    CHECK(nbr_object_id_equal(&put, &hashed));
    CHECK(reads_as(s, &put, a));
    fill(a, 5, 9); /* the first chunk stored already: two passes */
    uint64_t before = 0, after = 0;
    CHECK_OK(nbr_store_stats(NULL, &before, s, NULL));
    put = put_commit(s, "a", a, &k);
    CHECK_OK(nbr_store_stats(NULL, &after, s, NULL));
    CHECK_OK(nbr_array_hash(&hashed, "<f8", 2, shape, NULL, a));
    CHECK(nbr_object_id_equal(&put, &hashed));
    CHECK(after - before >= CHUNK && after - before < CHUNK + 512); /* one new chunk */
    free(k);
    put = put_commit(s, "again", a, &k); /* stored: nothing new */
    CHECK(nbr_object_id_equal(&put, &hashed));
    CHECK_OK(nbr_store_stats(NULL, &before, s, NULL));
    CHECK(before == after);
    CHECK_OK(nbr_store_verify(NULL, s));
    nbr_store_close(s);
    free(a), free(f), free(k);
    st_remove_tree(dir);
    free(dir);
}

/* Live puts (another thread may write to the memory meanwhile): chunked,
 * Fortran-order and one-dataset arrays store under the id given; an array
 * changed after it was hashed fails NBR_ECHANGED naming it, binds nothing,
 * and leaves the checkpoint's other puts and the store sound. */
static void test_live_puts_store_what_they_hash(void)
{
    char *dir, *k = NULL;
    nbr_store *s = create_store(&dir, "live");
    double *a = malloc(ROWS * COLS * 8), *f = malloc(ROWS * COLS * 8), *t = malloc(ROWS * COLS * 8);
    double row[16] = {1, 2, 3};
    uint64_t shape[2] = {ROWS, COLS}, small[2] = {1, 16};
    int64_t f_strides[2] = {8, 8 * ROWS};
    nbr_object_id ia, it, irow, irow1, got;
    fill(a, -1, 0);
    fill(t, -1, 11);
    for (size_t r = 0; r < ROWS; r++)
        for (size_t c = 0; c < COLS; c++) f[c * ROWS + r] = t[r * COLS + c];
    CHECK_OK(nbr_array_hash(&ia, "<f8", 2, shape, NULL, a));
    CHECK_OK(nbr_array_hash(&it, "<f8", 2, shape, NULL, t));
    CHECK_OK(nbr_array_hash(&irow, "<f8", 2, small, NULL, row));
    nbr_checkpoint *c = NULL;
    CHECK_OK(nbr_checkpoint_begin(&c, s, "cell", 1, NULL));
    CHECK_OK(nbr_checkpoint_put_array_live(c, "a", &ia, "<f8", 2, shape, NULL, a));
    CHECK_OK(nbr_checkpoint_put_array_live(c, "f", &it, "<f8", 2, shape, f_strides, f));
    CHECK_OK(nbr_checkpoint_put_array_live(c, "row", &irow, "<f8", 2, small, NULL, row));
    CHECK_STATUS(NBR_EINVAL, nbr_checkpoint_put_array_live(c, "x", NULL, "<f8", 2, shape, NULL, a));
    CHECK_OK(nbr_checkpoint_commit(&k, c));
    CHECK(reads_as(s, &ia, a) && reads_as(s, &it, t));
    CHECK_OK(nbr_store_resolve(&got, NULL, s, k, "row"));
    CHECK(nbr_object_id_equal(&got, &irow));
    irow1 = irow;
    free(k);
    /* Changed after hashing: the chunked array in its last row block, the
     * small one in place. */
    fill(a, -1, 3);
    CHECK_OK(nbr_array_hash(&ia, "<f8", 2, shape, NULL, a));
    fill(a, ROWS / BLOCK_ROWS - 1, 4);
    row[4] = 5; /* not stored yet (a stored id is not read at all) */
    CHECK_OK(nbr_array_hash(&irow, "<f8", 2, small, NULL, row));
    row[5] = 42;
    CHECK_OK(nbr_checkpoint_begin(&c, s, "cell", 2, NULL));
    CHECK_STATUS(NBR_ECHANGED, nbr_checkpoint_put_array_live(c, "b", &ia, "<f8", 2, shape, NULL, a));
    CHECK(strstr(nbr_last_error(), "\"b\"") && strstr(nbr_last_error(), "changed"));
    CHECK_STATUS(NBR_ECHANGED,
                 nbr_checkpoint_put_array_live(c, "row", &irow, "<f8", 2, small, NULL, row));
    CHECK(strstr(nbr_last_error(), "\"row\""));
    CHECK_OK(nbr_checkpoint_put_array(&it, c, "keep", "<f8", 2, shape, NULL, a));
    CHECK_OK(nbr_checkpoint_commit(&k, c));
    CHECK_STATUS(NBR_ENOTFOUND, nbr_store_resolve(&got, NULL, s, k, "b"));
    CHECK_OK(nbr_store_resolve(&got, NULL, s, k, "row")); /* still the first checkpoint's */
    CHECK(nbr_object_id_equal(&got, &irow1));
    CHECK(reads_as(s, &it, a));
    CHECK_OK(nbr_store_verify(NULL, s));
    nbr_store_close(s);
    free(a), free(f), free(t), free(k);
    st_remove_tree(dir);
    free(dir);
}

typedef struct scribbler {
    volatile double *data;
    size_t count;
    volatile int go, stop;
} scribbler;

/* Writes over the array from its end backwards, over and over, once told to. */
static void *scribble(void *arg)
{
    scribbler *w = arg;
    while (!w->go) continue;
    for (double v = 1e9; !w->stop; v += 1)
        for (size_t i = w->count; i-- > 0 && !w->stop;) w->data[i] = v;
    return NULL;
}

/* A live put racing a thread that overwrites the array: it either stores
 * exactly the bytes that were hashed or fails NBR_ECHANGED; the store never
 * holds other bytes under the id, whoever wins. */
static void test_a_live_put_racing_a_writer_stores_only_what_it_hashed(void)
{
    enum { BIG = ROWS * 16 };
    char *dir;
    nbr_store *s = create_store(&dir, "race");
    double *a = malloc(BIG * COLS * 8), *orig = malloc(BIG * COLS * 8);
    uint64_t shape[2] = {BIG, COLS};
    int stored = 0, changed = 0;
    for (int round = 0; round < 8; round++) {
        for (size_t i = 0; i < (size_t)BIG * COLS; i++) a[i] = (double)(i * 7 + (size_t)round);
        memcpy(orig, a, (size_t)BIG * COLS * 8);
        nbr_object_id id;
        CHECK_OK(nbr_array_hash(&id, "<f8", 2, shape, NULL, a));
        scribbler w = {.data = a, .count = (size_t)BIG * COLS};
        pthread_t thread;
        CHECK(pthread_create(&thread, NULL, scribble, &w) == 0);
        if (round % 2) w.go = 1; /* odd rounds: the writer starts with the put */
        nbr_checkpoint *c = NULL;
        CHECK_OK(nbr_checkpoint_begin(&c, s, "cell", round, NULL));
        nbr_status st = nbr_checkpoint_put_array_live(c, "a", &id, "<f8", 2, shape, NULL, a);
        w.go = 1;
        w.stop = 1;
        pthread_join(thread, NULL);
        CHECK(st == NBR_OK || st == NBR_ECHANGED);
        CHECK_OK(nbr_checkpoint_commit(NULL, c));
        if (st == NBR_OK) {
            uint64_t shape_back[2] = {BIG, COLS};
            double *back = malloc(BIG * COLS * 8);
            CHECK_OK(nbr_store_read_array(back, (size_t)BIG * COLS * 8, s, &id, "<f8", 2, shape_back));
            CHECK(!memcmp(back, orig, (size_t)BIG * COLS * 8));
            free(back);
        }
        stored += st == NBR_OK;
        changed += st == NBR_ECHANGED;
    }
    CHECK(stored >= 4); /* even rounds: nothing wrote during the put */
    CHECK_OK(nbr_store_verify(NULL, s));
    printf("  live puts racing a writer: %d stored, %d changed\n", stored, changed);
    nbr_store_close(s);
    free(a), free(orig);
    st_remove_tree(dir);
    free(dir);
}

NBR_TEST_MAIN(TEST(test_one_block_costs_one_chunk), TEST(test_strided_and_repeated_chunks),
              TEST(test_verify_names_a_damaged_chunk),
              TEST(test_gc_keeps_a_chunk_a_later_array_uses),
              TEST(test_option_off_and_old_stores_store_plain),
              TEST(test_index_carries_chunk_lists),
              TEST(test_wrong_chunk_list_is_a_damaged_manifest),
              TEST(test_workers_option_changes_only_who_compresses),
              TEST(test_a_damaged_frame_is_named_by_reads_and_verify),
              TEST(test_a_foreign_chunk_dataset_reads_through_hdf5),
              TEST(test_chunks_found_stored_while_compressing_ahead),
              TEST(test_one_pass_and_two_pass_puts_give_the_same_ids),
              TEST(test_live_puts_store_what_they_hash),
              TEST(test_a_live_put_racing_a_writer_stores_only_what_it_hashed),
              TEST(test_a_changed_block_chains_to_the_previous_version),
              TEST(test_chain_through_the_index_and_verify),
              TEST(test_version_2_stores_do_not_chain),
              TEST(test_lean_entries_keep_each_chunk_in_its_segment),
              TEST(test_index_with_lean_entries_is_used), TEST(test_a_huge_grid_is_a_damaged_manifest),
              TEST(test_gc_keeps_a_deep_chain_readable), TEST(test_a_cycle_of_lean_entries_is_damage))
