/* test_store_index.c - the open-time index (INDEX, docs/store-format.md "The
 * open index"): a store opened through it is the store opened from its
 * manifests alone, and an index that does not check out (damaged,
 * truncated, from another format, stale after a GC) is ignored and written
 * again by the next writer.  Kills while it is written: test_store_faults.c. */
#include <blosc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "nbr_test.h"
#include "store_test_util.h"

/* Everything a reader can see: each checkpoint's id and info, and every name
 * resolved as of it, read back (st_snapshot digests the bytes). */
static char *dump_store(const char *dir)
{
    nbr_store *r = NULL;
    if (nbr_store_open(&r, dir, NBR_STORE_READONLY) != NBR_OK) return strdup(nbr_last_error());
    size_t n = nbr_store_checkpoint_count(r), size = 1 << 16, used = 0;
    char *out = malloc(size);
    out[0] = 0;
    for (size_t i = 0; i < n; i++) {
        const char *id = nbr_store_checkpoint_id(r, i), *cell = "", *started = "",
                   *committed = "", *host = "";
        int64_t count = 0;
        int st = nbr_store_checkpoint_info(&cell, &count, &started, &committed, &host, r, id);
        if (st != NBR_OK) cell = started = committed = host = "-";
        char *snap = st_snapshot(r, id);
        size_t need = strlen(id) + strlen(cell) + strlen(started) + strlen(committed) +
                      strlen(host) + strlen(snap) + 100;
        while (used + need >= size) out = realloc(out, size *= 2);
        used += (size_t)snprintf(out + used, size - used, "%s %d %s %lld %s %s %s\n%s", id, st,
                                 cell, (long long)count, started, committed, host, snap);
        free(snap);
    }
    nbr_store_close(r);
    return out;
}

/* The same dump with INDEX moved aside (the manifests alone). */
static char *dump_without_index(const char *dir)
{
    char aside[4096];
    snprintf(aside, sizeof aside, "%s.aside", st_path(dir, "INDEX"));
    int moved = rename(st_path(dir, "INDEX"), aside) == 0;
    char *d = dump_store(dir);
    if (moved) rename(aside, st_path(dir, "INDEX"));
    return d;
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static char *read_all(const char *path, long *size)
{
    *size = file_size(path);
    FILE *f = fopen(path, "rb");
    if (!f || *size < 0) return f ? fclose(f), NULL : NULL;
    char *d = malloc((size_t)*size + 1);
    *size = (long)fread(d, 1, (size_t)*size, f);
    fclose(f);
    return d;
}

static void write_all(const char *path, const char *data, long size)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    fwrite(data, 1, (size_t)size, f);
    fclose(f);
}

/* INDEX's layout (docs/store-format.md): a 64-byte header whose flags (at
 * byte 12) say whether the body is a Blosc frame, the body, a 16-byte
 * checksum of everything before it. */
#define INDEX_HEADER 64
#define INDEX_FLAGS_AT 12

static uint32_t index_flags(const char *index)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v |= (uint32_t)(unsigned char)index[INDEX_FLAGS_AT + i] << (8 * i);
    return v;
}

/* Writes `header` + `body` + their checksum to `path`, with `flags`. */
static void write_index(const char *path, const char *header, const char *body, size_t body_size,
                        uint32_t flags)
{
    size_t size = INDEX_HEADER + body_size + 16;
    char *out = malloc(size);
    memcpy(out, header, INDEX_HEADER);
    for (int i = 0; i < 4; i++) out[INDEX_FLAGS_AT + i] = (char)(flags >> (8 * i));
    memcpy(out + INDEX_HEADER, body, body_size);
    nbr_object_id sum;
    CHECK_OK(nbr_hash_bytes(&sum, out, size - 16));
    memcpy(out + size - 16, sum.bytes, 16);
    write_all(path, out, (long)size);
    free(out);
}

/* The body of a compressed index, decompressed (malloc'd; *size). */
static char *index_body(const char *index, long index_size, size_t *size)
{
    const char *frame = index + INDEX_HEADER;
    size_t frame_size = (size_t)index_size - INDEX_HEADER - 16, nbytes = 0;
    CHECK(blosc_cbuffer_validate(frame, frame_size, &nbytes) == 0);
    char *body = malloc(nbytes ? nbytes : 1);
    CHECK(blosc_decompress_ctx(frame, body, nbytes, 1) == (int)nbytes);
    *size = nbytes;
    return body;
}

/* A random history: st_gc_checkpoint's bindings (new, shared, deleted,
 * aliases) with refs and pins here and there and a GC in between. */
static char *random_store(unsigned seed)
{
    char *dir = st_tempdir("index");
    nbr_store *s = NULL;
    CHECK_OK(nbr_store_open(&s, dir, NBR_STORE_CREATE | NBR_STORE_WRITE));
    srand(seed);
    int64_t k = 1;
    for (int round = 0; round < 3; round++) {
        int n = 60 + rand() % 80;
        for (int i = 0; i < n; i++) CHECK_OK(st_gc_checkpoint(s, k++));
        size_t count = nbr_store_checkpoint_count(s);
        for (int j = 0; j < 4; j++) {
            char name[32];
            snprintf(name, sizeof name, "r%d-%d", round, j);
            CHECK_OK(nbr_store_set_ref(s, name, nbr_store_checkpoint_id(s, (size_t)rand() % count)));
        }
        CHECK_OK(nbr_store_pin(s, nbr_store_checkpoint_id(s, (size_t)rand() % count)));
        if (round < 2) CHECK_OK(nbr_store_gc(NULL, s));
    }
    nbr_store_close(s);
    return dir;
}

static void test_open_with_index_equals_without(void)
{
    for (unsigned seed = 1; seed <= 3; seed++) {
        char *dir = random_store(seed);
        CHECK(file_size(st_path(dir, "INDEX")) > 0);
        char *with = dump_store(dir), *without = dump_without_index(dir);
        CHECK(strlen(with) > 1000);
        CHECK_STR(without, with);
        /* A few checkpoints past the index (a writer still open): a reader
         * takes the index plus the newer manifests. */
        nbr_store *s = NULL;
        CHECK_OK(nbr_store_open(&s, dir, NBR_STORE_WRITE));
        size_t before = nbr_store_checkpoint_count(s);
        long index_size = file_size(st_path(dir, "INDEX"));
        for (int64_t k = 1000; k < 1005; k++) CHECK_OK(st_gc_checkpoint(s, k));
        CHECK(file_size(st_path(dir, "INDEX")) == index_size); /* 5 < 256: kept */
        free(with);
        free(without);
        with = dump_store(dir);
        without = dump_without_index(dir);
        CHECK_STR(without, with);
        nbr_store *r = NULL;
        CHECK_OK(nbr_store_open(&r, dir, NBR_STORE_READONLY));
        CHECK(nbr_store_checkpoint_count(r) == before + 5);
        nbr_store_close(r);
        nbr_store_close(s); /* brings INDEX up to date */
        CHECK(file_size(st_path(dir, "INDEX")) > index_size);
        char *closed = dump_store(dir);
        CHECK_STR(with, closed);
        free(closed);
        /* And the index is what was read: a covered manifest damaged in
         * place, its name and size unchanged, is not seen through it, only
         * without it (the limit of the check: docs/store-format.md). */
        const char *first = st_find_entry(st_path(dir, "checkpoints"), "", ".json");
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", st_path(dir, "checkpoints"), first);
        /* Its first byte of JSON (a segment carries it at its end): same size, not
         * seen by the check. */
        CHECK(st_flip_byte(path, st_manifest_offset(path)) == 0);
        free(without);
        without = dump_without_index(dir);
        char *with_again = dump_store(dir);
        CHECK_STR(with, with_again);
        CHECK(strcmp(with, without) != 0);
        /* But verify (fsck) reads every manifest file again and names it. */
        nbr_store *v = NULL;
        char *report = NULL;
        CHECK_OK(nbr_store_open(&v, dir, NBR_STORE_READONLY));
        CHECK_STATUS(NBR_ECORRUPT, nbr_store_verify(&report, v));
        CHECK(report && strstr(report, first) != NULL);
        nbr_free(report);
        nbr_store_close(v);
        free(with_again);
        free(with);
        free(without);
        st_remove_tree(dir);
        free(dir);
    }
}

/* Each way an index can be wrong is ignored; the next writer replaces it. */
static void test_bad_index_is_ignored_and_rewritten(void)
{
    char *dir = random_store(7);
    const char *index = st_path(dir, "INDEX");
    long good_size = 0;
    char *good = read_all(index, &good_size);
    CHECK(good != NULL && good_size > 100);
    char *truth = dump_without_index(dir);
    CHECK(index_flags(good) == 1);
    for (int how = 0; how < 12; how++) {
        write_all(index, good, good_size);
        switch (how) {
        case 0: CHECK(st_flip_byte(index, good_size / 2) == 0); break;   /* damaged */
        case 1: CHECK(st_flip_byte(index, -1) == 0); break;              /* checksum */
        case 2: CHECK(st_truncate(index, good_size / 2) == 0); break;    /* truncated */
        case 3: CHECK(st_truncate(index, 20) == 0); break;
        case 4: CHECK(st_truncate(index, 0) == 0); break;
        case 5: CHECK(st_flip_byte(index, 8) == 0); break;               /* version */
        case 6: CHECK(st_flip_byte(index, 0) == 0); break;               /* magic */
        case 7: CHECK(st_write_text(index, "{\"not\": \"an index\"}") == 0); break;
        case 8: { /* a bad last manifest under a good checksum (the body written
                   * raw): the ones before it were loaded already, and are
                   * dropped again */
            size_t body_size = 0;
            char *body = index_body(good, good_size, &body_size);
            body[body_size - 5] = '/'; /* in the last segment name: "...h/" */
            write_index(index, good, body, body_size, 0);
            free(body);
            break;
        }
        case 9: /* a frame cut short under a good checksum (a frame whose bytes
                 * changed but still decompress is like a raw body changed:
                 * the parser's checks are what is left) */
            write_index(index, good, good + INDEX_HEADER, (size_t)good_size - INDEX_HEADER - 16 - 9,
                        1);
            break;
        case 10: /* flags this version does not know */
            write_index(index, good, good + INDEX_HEADER, (size_t)good_size - INDEX_HEADER - 16, 3);
            break;
        case 11: { /* names one manifest the store no longer has (last: it changes the store) */
            char *first = strdup(st_find_entry(st_path(dir, "checkpoints"), "", ".json"));
            char aside[4096];
            snprintf(aside, sizeof aside, "%s/%s", st_path(dir, "checkpoints"), first);
            CHECK(remove(aside) == 0);
            free(truth);
            truth = dump_without_index(dir);
            free(first);
            break;
        }
        }
        char *seen = dump_store(dir);
        if (strcmp(seen, truth) != 0) {
            fprintf(stderr, "bad index %d was trusted\n", how);
            nbr_test_failures++;
        }
        free(seen);
        /* The next writer writes it again, and then it is used. */
        nbr_store *s = NULL;
        CHECK_OK(nbr_store_open(&s, dir, NBR_STORE_WRITE));
        nbr_store_close(s);
        long size = 0;
        char *now = read_all(index, &size);
        CHECK(now != NULL && size > 100);
        if (how != 11) CHECK(size == good_size && memcmp(now, good, (size_t)size) == 0);
        free(now);
        seen = dump_store(dir);
        CHECK_STR(truth, seen);
        free(seen);
    }
    /* A stale index put back after a GC rewrote and removed manifests. */
    nbr_store *s = NULL;
    CHECK_OK(nbr_store_open(&s, dir, NBR_STORE_WRITE));
    long stale_size = 0;
    char *stale = read_all(index, &stale_size);
    for (int64_t k = 2000; k < 2040; k++) CHECK_OK(st_gc_checkpoint(s, k));
    CHECK_OK(nbr_store_set_ref(s, "last", nbr_store_checkpoint_id(s, nbr_store_checkpoint_count(s) - 1)));
    CHECK_OK(nbr_store_gc(NULL, s));
    nbr_store_close(s);
    free(truth);
    truth = dump_without_index(dir);
    write_all(index, stale, stale_size);
    char *seen = dump_store(dir);
    CHECK_STR(truth, seen);
    free(seen);
    free(stale);
    free(truth);
    free(good);
    st_remove_tree(dir);
    free(dir);
}

/* The body is compressed when that shrinks it (always, for a store of many
 * similar manifests); a body written raw (flags 0, as a writer does when
 * compression does not pay) is read the same. */
static void test_index_body_compressed_or_raw(void)
{
    char *dir = random_store(5);
    const char *index = st_path(dir, "INDEX");
    long size = 0;
    char *packed = read_all(index, &size);
    CHECK(packed != NULL && index_flags(packed) == 1);
    size_t body_size = 0;
    char *body = index_body(packed, size, &body_size);
    CHECK(body_size > 2 * (size_t)(size - INDEX_HEADER - 16)); /* 2.8x when written */
    char *with = dump_store(dir);
    write_index(index, packed, body, body_size, 0);
    char *raw = dump_store(dir);
    CHECK_STR(with, raw);
    /* ... and it is what was read: a covered manifest damaged in place (same
     * size) is seen only without the index. */
    const char *first = st_find_entry(st_path(dir, "checkpoints"), "", ".json");
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", st_path(dir, "checkpoints"), first);
    CHECK(st_flip_byte(path, st_manifest_offset(path)) == 0);
    char *again = dump_store(dir), *without = dump_without_index(dir);
    CHECK_STR(with, again);
    CHECK(strcmp(with, without) != 0);
    free(again);
    free(without);
    free(raw);
    free(with);
    free(body);
    free(packed);
    st_remove_tree(dir);
    free(dir);
}

static void put_u64_le(unsigned char *at, uint64_t v)
{
    for (int i = 0; i < 8; i++) at[i] = (unsigned char)(v >> (8 * i));
}

/* An index whose chunked entry claims more dimensions than an array may
 * have (40 > 32; its shape and chunk shape padded with 1s, so that the rest
 * of it still parses), under a good checksum, is not used: the store opens
 * as from its manifests, and reading the array walks no grid of 40
 * dimensions. */
static void test_an_entry_of_too_many_dimensions_is_refused(void)
{
    char *dir = st_tempdir("ndim");
    nbr_store *s = NULL;
    nbr_checkpoint *c = NULL;
    double a[64 * 64];
    for (int i = 0; i < 64 * 64; i++) a[i] = i * 0.5;
    const uint64_t shape[2] = {64, 64};
    CHECK_OK(nbr_store_open(&s, dir, NBR_STORE_CREATE | NBR_STORE_WRITE));
    CHECK_OK(nbr_store_set_option(s, NBR_STORE_OPT_CHUNK_BYTES, 4096)); /* 8 chunks of 8 rows */
    CHECK_OK(nbr_checkpoint_begin(&c, s, "cell", 1, NULL));
    CHECK_OK(nbr_checkpoint_put_array(NULL, c, "x", "<f8", 2, shape, NULL, a));
    CHECK_OK(nbr_checkpoint_commit(NULL, c));
    nbr_store_close(s);
    char *truth = dump_without_index(dir);
    const char *index = st_path(dir, "INDEX");
    long size = 0;
    char *good = read_all(index, &size);
    size_t body_size = 0;
    unsigned char *body = (unsigned char *)index_body(good, size, &body_size);
    /* The entry: "<f8", ndim 2, 64, 64, logical, stored, its segment (a
     * 37-byte string), its chunk count, then its chunk shape. */
    static const unsigned char entry[] = {3, 0, 0, 0, '<', 'f', '8', 2, 0, 0, 0, 0, 0, 0, 0,
                                          64, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0};
    size_t at = 0;
    while (at + sizeof entry <= body_size && memcmp(body + at, entry, sizeof entry) != 0) at++;
    CHECK(at + sizeof entry <= body_size);
    size_t ndim_at = at + 7, shape_end = at + sizeof entry;
    size_t chunk_shape_at = shape_end + 8 + 8 + 4 + 37 + 8;
    CHECK(chunk_shape_at + 16 <= body_size);
    unsigned char *out = malloc(body_size + 2 * 38 * 8), *w = out;
    memcpy(w, body, ndim_at), w += ndim_at;
    put_u64_le(w, 40), w += 8;
    for (int i = 0; i < 38; i++) put_u64_le(w, 1), w += 8; /* leading 1s */
    memcpy(w, body + ndim_at + 8, chunk_shape_at - ndim_at - 8), w += chunk_shape_at - ndim_at - 8;
    for (int i = 0; i < 38; i++) put_u64_le(w, 1), w += 8;
    memcpy(w, body + chunk_shape_at, body_size - chunk_shape_at), w += body_size - chunk_shape_at;
    write_index(index, good, (const char *)out, (size_t)(w - out), 0);
    char *seen = dump_store(dir);
    CHECK_STR(truth, seen);
    free(seen), free(out), free(body), free(good), free(truth);
    st_remove_tree(dir);
    free(dir);
}

NBR_TEST_MAIN(TEST(test_open_with_index_equals_without),
              TEST(test_bad_index_is_ignored_and_rewritten),
              TEST(test_index_body_compressed_or_raw),
              TEST(test_an_entry_of_too_many_dimensions_is_refused))
