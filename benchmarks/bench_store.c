/* bench_store.c - figures for the checkpoint store (issue 3, "Figures").
 *
 * Usage: bench_store write  DIR [ARRAYS] [REPS]   1 GiB write / re-put / read
 *        bench_store write-lz4 DIR [ARRAYS] [TRIALS] the lz4 write and its baseline only
 *        bench_store open   DIR [CHECKPOINTS]     open a store with many checkpoints
 *        bench_store blocks DIR [CHECKPOINTS]     size of row-block overwrites
 * Each prints one JSON object on stdout (progress goes to stderr).  DIR is a
 * scratch directory that the program fills; benchmarks/run.sh makes it and
 * runs benchmarks/bench_store_h5py.py on the same files for h5py's baselines.
 *
 * "write-lz4" is the default store's write against fwrite + fsync alone,
 * TRIALS times taking turns, and beside them the same store with
 * NBR_STORE_OPT_WORKERS set to one worker per online CPU (the default
 * before 069a353: the calling thread then competes with the workers) and
 * to 0 (the calling thread compresses alone, as the audit's background
 * writer does).
 *
 * "write" generates ARRAYS (default 8) float64 fields of 4096 x 4096 (128 MiB
 * each): smooth sin/cos products of a grid plus noise of 1e-3, as a
 * simulation's state looks.  They are generated once and so warm (touched)
 * before anything is timed.  Measured, in this order, each after a sync():
 *   - warm-up: a scratch file 5x the data's size (a trial writes the raw
 *     bytes and four stores, ~4.3x) is written, fsynced and
 *     deleted, so that the page cache of the timed writes is memory already
 *     touched (first-touch memory runs at ~250 MiB/s on these VMs);
 *   - REPS trials, each replacing the files of the one before, of:
 *     baseline: fwrite of the raw bytes to DIR/raw.bin + fsync;
 *     a new store (default options: lz4 + shuffle, level 5, 1 MiB chunks):
 *     begin, put every array, commit (which fsyncs);
 *     the same with codec zstd (level 5, the default), and zstd level 1, and
 *     lz4 with chunk dedup off (NBR_STORE_OPT_CHUNK_DEDUP 0: one plain dataset
 *     per array, as before chunk dedup; the default stores each 128 MiB array
 *     as 128 chunk datasets under a virtual dataset);
 *   - re-putting the same arrays into the lz4 store (objects exist: hashing
 *     only), REPS times; baseline: memcpy of the same bytes into a warm
 *     128 MiB buffer, and XXH3-128 alone (nbr_hash_bytes), REPS times;
 *   - for the breakdown: Blosc alone (lz4 + shuffle, level 5, on the store's
 *     1 MiB chunks) on 1 and on 2 threads, REPS times;
 *   - nbr_store_read_array of every array into a warm buffer (page cache
 *     warm: the segment was just written; one untimed pass first), REPS times,
 *     from the lz4, zstd and lz4-without-chunk-dedup stores.
 * The raw file and the stores are left in DIR for the h5py baselines.
 *
 * "open" commits CHECKPOINTS (default 10000) small checkpoints: each binds
 * "step" (a new int64 scalar) and "x<k % 50>" (a new float64[16]); the first
 * also binds "params" (a 64-byte blob) that no later one rebinds.  Then, 7
 * times after one untimed pass: open read-only, resolve "step" as of the
 * latest checkpoint (its binding is in the last manifest), resolve "params"
 * (in the first), close; then open as the writer (timed) and close.  The
 * same again with INDEX moved aside before each open.
 *
 * "blocks" makes a 100 MB float64 array and commits CHECKPOINTS (default
 * 100) checkpoints of it; before checkpoint k, the k-th row block of 1 % of
 * the rows is overwritten with the next time step.  Two cases: "aligned"
 * (12800 x 1024, 128-row blocks, the store's 1 MiB chunks are 128 rows) and
 * "unaligned" (10000 x 1250, 100-row blocks, chunks of 104 rows: most blocks
 * straddle two chunks).  Reports the bytes on disk of each store against the
 * compressed size of one version of the array (what the first checkpoint
 * stored).  Then the aligned case's last array is read back (warm page cache,
 * one untimed pass, 7 timed, the ways taking turns): by nbr_store_read_array
 * from its chunks (through one handle, and with a handle opened each time), and by
 * HDF5's C API through its virtual dataset (open, read, close), against the
 * same array in a store with chunk dedup off (one plain dataset); the two
 * stores stay in DIR for bench_store_h5py.py blocks. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <blosc.h>
#include <hdf5.h>

#include "nbrewind.h"

#define ROWS 4096
#define COLS 4096
#define ARRAY_BYTES ((size_t)ROWS * COLS * sizeof(double))
#define MAX_ARRAYS 64
#define MAX_REPS 16

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *what, nbr_status st)
{
    fprintf(stderr, "bench_store: %s: %s: %s\n", what, nbr_status_name(st), nbr_last_error());
    exit(1);
}

#define CHECK(call, what)                      \
    do {                                       \
        nbr_status st_ = (call);               \
        if (st_ != NBR_OK) die((what), st_);   \
    } while (0)

static void die_errno(const char *what, const char *path)
{
    fprintf(stderr, "bench_store: %s %s: %s\n", what, path, strerror(errno));
    exit(1);
}

static void *xmalloc(size_t size)
{
    void *p = malloc(size);
    if (!p) {
        fprintf(stderr, "bench_store: out of memory (%zu bytes)\n", size);
        exit(1);
    }
    memset(p, 0x5a, size); /* touch every page: first-touch memory is slow here
                            * (not 0: the compiler may turn malloc + memset 0
                            * into calloc, which touches nothing) */
    return p;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static double noise(void) /* uniform in [-0.5, 0.5) */
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) * 0x1.0p-53 - 0.5;
}

/* A smooth field sin(a x + t) cos(b y - t) + 1e-3 noise on rows [r0, r1) of a
 * rows x cols grid. */
static void fill_field(double *a, size_t rows, size_t cols, size_t r0, size_t r1, double t)
{
    double *cy = malloc(cols * sizeof *cy);
    if (!cy) exit(1);
    for (size_t j = 0; j < cols; j++) cy[j] = cos(2.0 * M_PI * 3.0 * (double)j / (double)cols - t);
    for (size_t i = r0; i < r1; i++) {
        double sx = sin(2.0 * M_PI * 2.0 * (double)i / (double)rows + t);
        double *row = a + i * cols;
        for (size_t j = 0; j < cols; j++) row[j] = sx * cy[j] + 1e-3 * noise();
    }
    free(cy);
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    double s[MAX_REPS];
    memcpy(s, v, (size_t)n * sizeof *v);
    qsort(s, (size_t)n, sizeof *s, compare_doubles);
    return n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

static void print_list(const char *key, const double *v, int n, int digits)
{
    printf("\"%s\": [", key);
    for (int i = 0; i < n; i++) printf("%s%.*f", i ? ", " : "", digits, v[i]);
    printf("]");
}

/* Bytes under a directory: allocated (st_blocks) and apparent (st_size),
 * each file once however many names it has (as du counts: a segment that
 * carries its manifest is also checkpoints/<seq>.json). */
static uint64_t du_allocated, du_apparent;
static ino_t *du_seen;
static size_t du_seen_count;

static bool du_first_visit(const struct stat *sb)
{
    if (sb->st_nlink < 2) return true;
    for (size_t i = 0; i < du_seen_count; i++)
        if (du_seen[i] == sb->st_ino) return false;
    ino_t *grown = realloc(du_seen, (du_seen_count + 1) * sizeof *grown);
    if (!grown) die_errno("remembering", "an inode");
    du_seen = grown;
    du_seen[du_seen_count++] = sb->st_ino;
    return true;
}

static int du_visit(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)path, (void)ftw;
    if (type == FTW_F && du_first_visit(sb)) {
        du_allocated += (uint64_t)sb->st_blocks * 512;
        du_apparent += (uint64_t)sb->st_size;
    }
    return 0;
}

static void du(const char *dir, uint64_t *allocated, uint64_t *apparent)
{
    du_allocated = du_apparent = 0;
    du_seen_count = 0;
    if (nftw(dir, du_visit, 32, FTW_PHYS) != 0) die_errno("walking", dir);
    *allocated = du_allocated;
    *apparent = du_apparent;
}

/* The manifests of a store: their JSON bytes (with the 32-byte trailer of a
 * manifest carried at the end of its segment), and how many are carried. */
static void manifest_bytes(const char *store, uint64_t *bytes, uint64_t *carried,
                           uint64_t *carried_bytes)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/checkpoints", store);
    DIR *d = opendir(dir);
    if (!d) die_errno("listing", dir);
    *bytes = *carried = *carried_bytes = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.') continue;
        int fd = openat(dirfd(d), e->d_name, O_RDONLY);
        struct stat sb;
        unsigned char trailer[32];
        if (fd < 0 || fstat(fd, &sb) != 0) die_errno("reading", e->d_name);
        bool tail = sb.st_size >= 32 && pread(fd, trailer, 32, sb.st_size - 32) == 32 &&
                    !memcmp(trailer + 24, "NBRMANIF", 8);
        uint64_t n = 0;
        for (int i = 7; tail && i >= 0; i--) n = n << 8 | trailer[i];
        *bytes += tail ? n + 32 : (uint64_t)sb.st_size;
        *carried += tail;
        *carried_bytes += tail ? n + 32 : 0;
        close(fd);
    }
    closedir(d);
}

static nbr_store *create_store(const char *path, int codec, int level)
{
    nbr_store *s = NULL;
    CHECK(nbr_store_open(&s, path, NBR_STORE_CREATE | NBR_STORE_WRITE), path);
    if (codec >= 0) CHECK(nbr_store_set_option(s, NBR_STORE_OPT_CODEC, codec), "set codec");
    if (level >= 0) CHECK(nbr_store_set_option(s, NBR_STORE_OPT_LEVEL, level), "set level");
    return s;
}

static int rm_visit(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb, (void)type, (void)ftw;
    return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

static void rm_rf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) return;
    if (nftw(path, rm_visit, 32, FTW_DEPTH | FTW_PHYS) != 0) die_errno("removing", path);
}

/* ---- write ------------------------------------------------------------ */

/* Blosc alone (lz4, shuffle, level 5, as the store's default) on the same
 * 1 MiB chunks the store makes (32 rows of 4096), into a warm buffer: seconds
 * for all arrays. */
static double blosc_alone(double **arrays, int n, int threads, char *out, size_t out_size)
{
    const size_t chunk = 32 * COLS * sizeof(double);
    double t0 = now_s();
    for (int i = 0; i < n; i++)
        for (size_t off = 0; off < ARRAY_BYTES; off += chunk)
            if (blosc_compress_ctx(5, BLOSC_SHUFFLE, sizeof(double), chunk, (char *)arrays[i] + off,
                                   out, out_size, "lz4", 0, threads) <= 0) {
                fprintf(stderr, "bench_store: blosc_compress_ctx failed\n");
                exit(1);
            }
    return now_s() - t0;
}

typedef struct write_result {
    double put_s, commit_s, total_s;
    uint64_t stored, logical;
} write_result;

/* dedup: 0 turns chunk dedup off (one plain dataset per array), -1 leaves
 * the default (on). */
static write_result store_write(const char *path, int codec, int level, int dedup, int workers,
                                double **arrays, int n, nbr_object_id *ids)
{
    write_result r = {0};
    rm_rf(path);
    nbr_store *s = create_store(path, codec, level);
    if (dedup >= 0) CHECK(nbr_store_set_option(s, NBR_STORE_OPT_CHUNK_DEDUP, dedup), "dedup");
    CHECK(nbr_store_set_option(s, NBR_STORE_OPT_WORKERS, workers), "workers");
    const uint64_t shape[2] = {ROWS, COLS};
    char name[16];
    sync();
    double t0 = now_s();
    nbr_checkpoint *c = NULL;
    CHECK(nbr_checkpoint_begin(&c, s, "write", 1, NULL), "begin");
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof name, "u%d", i);
        CHECK(nbr_checkpoint_put_array(&ids[i], c, name, "<f8", 2, shape, NULL, arrays[i]), "put");
    }
    double t1 = now_s();
    char *id = NULL;
    CHECK(nbr_checkpoint_commit(&id, c), "commit");
    double t2 = now_s();
    r.put_s = t1 - t0;
    r.commit_s = t2 - t1;
    r.total_s = t2 - t0;
    CHECK(nbr_store_stats(&r.logical, &r.stored, s, id), "stats");
    nbr_free(id);
    nbr_store_close(s);
    return r;
}

static double fwrite_fsync(const char *path, double **arrays, int n, int copies)
{
    unlink(path);
    sync();
    double t0 = now_s();
    FILE *f = fopen(path, "wb");
    if (!f) die_errno("creating", path);
    for (int k = 0; k < copies; k++)
        for (int i = 0; i < n; i++)
            if (fwrite(arrays[i], 1, ARRAY_BYTES, f) != ARRAY_BYTES) die_errno("writing", path);
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) die_errno("flushing", path);
    if (fclose(f) != 0) die_errno("closing", path);
    return now_s() - t0;
}

/* The trial with the median time, and every trial's rate. */
static void print_write(const char *key, const write_result *r, int trials, double gb)
{
    double t[MAX_REPS], rates[MAX_REPS];
    for (int i = 0; i < trials; i++) t[i] = r[i].total_s, rates[i] = gb / r[i].total_s;
    double m = median(t, trials);
    int k = 0;
    for (int i = 0; i < trials; i++)
        if (fabs(t[i] - m) < fabs(t[k] - m)) k = i;
    printf("  \"%s\": {\"seconds\": %.4f, \"put_seconds\": %.4f, \"commit_seconds\": %.4f, "
           "\"gb_per_s\": %.3f, ",
           key, r[k].total_s, r[k].put_s, r[k].commit_s, gb / r[k].total_s);
    print_list("gb_per_s_each", rates, trials, 3);
    printf(", \"logical_bytes\": %llu, \"stored_bytes\": %llu, \"compression_ratio\": %.3f},\n",
           (unsigned long long)r[k].logical, (unsigned long long)r[k].stored,
           (double)r[k].logical / (double)r[k].stored);
}

/* Reads every array REPS times (after an untimed pass); returns seconds per
 * pass in times[]. */
static void store_read(double *times, int reps, const char *path, const nbr_object_id *ids,
                       int n, double *buffer, double **expect)
{
    nbr_store *s = NULL;
    const uint64_t shape[2] = {ROWS, COLS};
    CHECK(nbr_store_open(&s, path, NBR_STORE_READONLY), path);
    for (int i = 0; i < n; i++) {
        CHECK(nbr_store_read_array(buffer, ARRAY_BYTES, s, &ids[i], "<f8", 2, shape), "read");
        if (memcmp(buffer, expect[i], ARRAY_BYTES) != 0) {
            fprintf(stderr, "bench_store: array %d read back differs\n", i);
            exit(1);
        }
    }
    for (int r = 0; r < reps; r++) {
        double t0 = now_s();
        for (int i = 0; i < n; i++)
            CHECK(nbr_store_read_array(buffer, ARRAY_BYTES, s, &ids[i], "<f8", 2, shape), "read");
        times[r] = now_s() - t0;
    }
    nbr_store_close(s);
}

static void print_rate(const char *key, const double *times, int reps, double gb, const char *end)
{
    double rates[MAX_REPS];
    for (int r = 0; r < reps; r++) rates[r] = gb / times[r];
    printf("  \"%s\": {\"gb_per_s\": %.3f, ", key, median(rates, reps));
    print_list("gb_per_s_each", rates, reps, 3);
    printf("}%s\n", end);
}

static int bench_write(const char *dir, int n, int reps, int trials)
{
    char path[4096];
    double *arrays[MAX_ARRAYS];
    nbr_object_id ids[MAX_ARRAYS], ids_zstd[MAX_ARRAYS], again[MAX_ARRAYS];
    const double gb = (double)n * (double)ARRAY_BYTES / 1e9;
    const uint64_t shape[2] = {ROWS, COLS};

    fprintf(stderr, "bench_store write: generating %d x 128 MiB\n", n);
    for (int i = 0; i < n; i++) {
        arrays[i] = xmalloc(ARRAY_BYTES);
        fill_field(arrays[i], ROWS, COLS, 0, ROWS, 0.1 * i);
    }
    double *buffer = xmalloc(ARRAY_BYTES);

    /* Page-cache pages are guest memory too: the first write through pages
     * never touched before runs at first-touch speed.  Write (and delete) a
     * scratch file bigger than all one trial writes (raw bytes and four
     * stores, ~4.3x the data), so that every timed write gets pages already
     * touched. */
    enum { WARMUP_COPIES = 5 };
    fprintf(stderr, "bench_store write: warming the page cache (%d GiB scratch file)\n",
            WARMUP_COPIES * n / 8);
    snprintf(path, sizeof path, "%s/warmup.bin", dir);
    double warmup_s = fwrite_fsync(path, arrays, n, WARMUP_COPIES);
    unlink(path);

    write_result lz4[MAX_REPS], zstd[MAX_REPS], zstd1[MAX_REPS], plain[MAX_REPS];
    double raw[MAX_REPS];
    for (int t = 0; t < trials; t++) { /* later trials replace the files of earlier ones */
        fprintf(stderr, "bench_store write: trial %d: fwrite + fsync, store lz4, zstd, zstd level 1,"
                " lz4 without chunk dedup\n", t + 1);
        snprintf(path, sizeof path, "%s/raw.bin", dir);
        raw[t] = fwrite_fsync(path, arrays, n, 1);
        snprintf(path, sizeof path, "%s/store-lz4", dir);
        lz4[t] = store_write(path, -1, -1, -1, -1, arrays, n, ids);
        snprintf(path, sizeof path, "%s/store-zstd", dir);
        zstd[t] = store_write(path, NBR_CODEC_ZSTD, -1, -1, -1, arrays, n, ids_zstd);
        snprintf(path, sizeof path, "%s/store-zstd1", dir);
        zstd1[t] = store_write(path, NBR_CODEC_ZSTD, 1, -1, -1, arrays, n, again);
        snprintf(path, sizeof path, "%s/store-lz4-plain", dir);
        plain[t] = store_write(path, -1, -1, 0, -1, arrays, n, again);
    }

    fprintf(stderr, "bench_store write: re-put (objects exist), memcpy, hash\n");
    double reput[MAX_REPS], commit_after_reput[MAX_REPS], copy[MAX_REPS], hash[MAX_REPS];
    snprintf(path, sizeof path, "%s/store-lz4", dir);
    nbr_store *s = NULL;
    CHECK(nbr_store_open(&s, path, NBR_STORE_WRITE), path);
    uint64_t stored_before = 0, stored_after = 0;
    CHECK(nbr_store_stats(NULL, &stored_before, s, NULL), "stats");
    for (int r = 0; r < reps; r++) {
        char name[16];
        nbr_checkpoint *c = NULL;
        CHECK(nbr_checkpoint_begin(&c, s, "again", 2 + r, NULL), "begin");
        double t0 = now_s();
        for (int i = 0; i < n; i++) {
            snprintf(name, sizeof name, "u%d", i);
            CHECK(nbr_checkpoint_put_array(&again[i], c, name, "<f8", 2, shape, NULL, arrays[i]),
                  "re-put");
        }
        double t1 = now_s();
        CHECK(nbr_checkpoint_commit(NULL, c), "commit");
        reput[r] = t1 - t0;
        commit_after_reput[r] = now_s() - t1;
        for (int i = 0; i < n; i++)
            if (!nbr_object_id_equal(&again[i], &ids[i])) {
                fprintf(stderr, "bench_store: re-put gave a different id\n");
                return 1;
            }
    }
    CHECK(nbr_store_stats(NULL, &stored_after, s, NULL), "stats");
    nbr_store_close(s);
    for (int r = 0; r < reps; r++) {
        double t0 = now_s();
        for (int i = 0; i < n; i++) memcpy(buffer, arrays[i], ARRAY_BYTES);
        copy[r] = now_s() - t0;
        nbr_object_id h;
        t0 = now_s();
        for (int i = 0; i < n; i++) CHECK(nbr_hash_bytes(&h, arrays[i], ARRAY_BYTES), "hash");
        hash[r] = now_s() - t0;
    }

    double blosc1[MAX_REPS], blosc2[MAX_REPS];
    for (int r = 0; r < reps; r++) {
        blosc1[r] = blosc_alone(arrays, n, 1, (char *)buffer, ARRAY_BYTES);
        blosc2[r] = blosc_alone(arrays, n, 2, (char *)buffer, ARRAY_BYTES);
    }

    fprintf(stderr, "bench_store write: read back\n");
    double read_lz4[MAX_REPS], read_zstd[MAX_REPS], read_plain[MAX_REPS];
    snprintf(path, sizeof path, "%s/store-lz4", dir);
    store_read(read_lz4, reps, path, ids, n, buffer, arrays);
    snprintf(path, sizeof path, "%s/store-lz4-plain", dir);
    store_read(read_plain, reps, path, ids, n, buffer, arrays);
    snprintf(path, sizeof path, "%s/store-zstd", dir);
    store_read(read_zstd, reps, path, ids_zstd, n, buffer, arrays);

    printf("{\n  \"arrays\": %d, \"shape\": [%d, %d], \"dtype\": \"<f8\", \"bytes\": %.0f, "
           "\"reps\": %d,\n",
           n, ROWS, COLS, (double)n * (double)ARRAY_BYTES, reps);
    printf("  \"trials\": %d, \"warmup_gb_per_s\": %.3f,\n", trials, WARMUP_COPIES * gb / warmup_s);
    double raw_rates[MAX_REPS];
    for (int t = 0; t < trials; t++) raw_rates[t] = gb / raw[t];
    printf("  \"fwrite_fsync\": {\"seconds\": %.4f, \"gb_per_s\": %.3f, ", median(raw, trials),
           gb / median(raw, trials));
    print_list("gb_per_s_each", raw_rates, trials, 3);
    printf("},\n");
    print_write("store_write_lz4", lz4, trials, gb);
    print_write("store_write_zstd", zstd, trials, gb);
    print_write("store_write_zstd_level1", zstd1, trials, gb);
    print_write("store_write_lz4_no_chunk_dedup", plain, trials, gb);
    print_rate("reput_existing", reput, reps, gb, ",");
    printf("  \"reput_commit_ms\": %.2f, \"reput_stored_bytes_added\": %llu,\n",
           1e3 * median(commit_after_reput, reps),
           (unsigned long long)(stored_after - stored_before));
    print_rate("memcpy", copy, reps, gb, ",");
    print_rate("xxh3_128_alone", hash, reps, gb, ",");
    print_rate("blosc_lz4_shuffle_alone_1_thread", blosc1, reps, gb, ",");
    print_rate("blosc_lz4_shuffle_alone_2_threads", blosc2, reps, gb, ",");
    print_rate("store_read_lz4", read_lz4, reps, gb, ",");
    print_rate("store_read_lz4_no_chunk_dedup", read_plain, reps, gb, ",");
    print_rate("store_read_zstd", read_zstd, reps, gb, "");
    printf("}\n");
    for (int i = 0; i < n; i++) free(arrays[i]);
    free(buffer);
    return 0;
}

/* "write-lz4": the fwrite + fsync baseline and the lz4 store write only, for
 * a second run under another environment (BLOSC_NTHREADS=2). */
static int bench_write_lz4(const char *dir, int n, int trials)
{
    char path[4096];
    double *arrays[MAX_ARRAYS], raw[MAX_REPS], raw_rates[MAX_REPS];
    nbr_object_id ids[MAX_ARRAYS];
    write_result lz4[MAX_REPS], per_cpu[MAX_REPS], none[MAX_REPS];
    const double gb = (double)n * (double)ARRAY_BYTES / 1e9;
    const int cpus = (int)sysconf(_SC_NPROCESSORS_ONLN);
    fprintf(stderr, "bench_store write-lz4: generating %d x 128 MiB\n", n);
    for (int i = 0; i < n; i++) {
        arrays[i] = xmalloc(ARRAY_BYTES);
        fill_field(arrays[i], ROWS, COLS, 0, ROWS, 0.1 * i);
    }
    snprintf(path, sizeof path, "%s/warmup.bin", dir);
    fwrite_fsync(path, arrays, n, 2);
    unlink(path);
    for (int t = 0; t < trials; t++) {
        fprintf(stderr, "bench_store write-lz4: trial %d\n", t + 1);
        snprintf(path, sizeof path, "%s/raw-threads.bin", dir);
        raw[t] = fwrite_fsync(path, arrays, n, 1);
        raw_rates[t] = gb / raw[t];
        snprintf(path, sizeof path, "%s/store-lz4-threads", dir);
        lz4[t] = store_write(path, -1, -1, -1, -1, arrays, n, ids);
        per_cpu[t] = store_write(path, -1, -1, -1, cpus, arrays, n, ids);
        none[t] = store_write(path, -1, -1, -1, 0, arrays, n, ids);
    }
    snprintf(path, sizeof path, "%s/raw-threads.bin", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/store-lz4-threads", dir);
    rm_rf(path);
    const char *threads = getenv("BLOSC_NTHREADS");
    printf("{\n  \"blosc_nthreads\": \"%s\", \"arrays\": %d, \"trials\": %d,\n",
           threads ? threads : "", n, trials);
    printf("  \"fwrite_fsync\": {\"seconds\": %.4f, \"gb_per_s\": %.3f, ", median(raw, trials),
           gb / median(raw, trials));
    print_list("gb_per_s_each", raw_rates, trials, 3);
    printf("},\n");
    print_write("store_write_lz4", lz4, trials, gb);
    printf("  \"online_cpus\": %d,\n", cpus);
    print_write("store_write_lz4_workers_one_per_cpu", per_cpu, trials, gb);
    print_write("store_write_lz4_workers_0", none, trials, gb);
    printf("  \"end\": null\n}\n");
    for (int i = 0; i < n; i++) free(arrays[i]);
    return 0;
}

/* ---- open ------------------------------------------------------------- */

enum { REPS = 7 };

/* Opens `path` read-only REPS times (after one untimed pass) and resolves
 * the latest and the first binding, then opens it as the writer (timed)
 * and closes it; 1 on a failure.  With `index`, that file is renamed to
 * `aside` before each open (a writer's close writes INDEX again). */
static int time_open(const char *path, int n, const char *index, const char *aside,
                     double *open_ms, double *latest_ms, double *first_ms, double *total_ms,
                     double *writer_ms)
{
    nbr_store *s = NULL;
    for (int r = -1; r < REPS; r++) { /* r = -1: untimed, warms the page cache */
        nbr_object_id id;
        int deleted = 0;
        if (index) rename(index, aside);
        double a = now_s();
        CHECK(nbr_store_open(&s, path, NBR_STORE_READONLY), path);
        double b = now_s();
        CHECK(nbr_store_resolve(&id, &deleted, s, NULL, "step"), "resolve step");
        double c = now_s();
        CHECK(nbr_store_resolve(&id, &deleted, s, NULL, "params"), "resolve params");
        double d = now_s();
        if (r == -1 && nbr_store_checkpoint_count(s) != (size_t)n) {
            fprintf(stderr, "bench_store: %zu checkpoints, expected %d\n",
                    nbr_store_checkpoint_count(s), n);
            return 1;
        }
        nbr_store_close(s);
        if (index) rename(index, aside);
        double e = now_s();
        CHECK(nbr_store_open(&s, path, NBR_STORE_WRITE), path);
        double f = now_s();
        nbr_store_close(s);
        if (r < 0) continue;
        writer_ms[r] = 1e3 * (f - e);
        open_ms[r] = 1e3 * (b - a);
        latest_ms[r] = 1e3 * (c - b);
        first_ms[r] = 1e3 * (d - c);
        total_ms[r] = 1e3 * (c - a);
    }
    return 0;
}

static int bench_open(const char *dir, int n)
{
    char path[4096], name[16];
    snprintf(path, sizeof path, "%s/store-many", dir);
    fprintf(stderr, "bench_store open: committing %d checkpoints\n", n);
    nbr_store *s = create_store(path, -1, -1);
    double small[16];
    unsigned char params[64];
    memset(params, 7, sizeof params);
    const uint64_t shape16[1] = {16};
    double t0 = now_s();
    for (int k = 1; k <= n; k++) {
        nbr_checkpoint *c = NULL;
        int64_t step = k;
        char cell[32];
        snprintf(cell, sizeof cell, "cell-%d", k % 20);
        CHECK(nbr_checkpoint_begin(&c, s, cell, k, "{\"kernel\": \"bench\"}"), "begin");
        CHECK(nbr_checkpoint_put_array(NULL, c, "step", "<i8", 0, NULL, NULL, &step), "put step");
        for (int i = 0; i < 16; i++) small[i] = k + 0.5 * i;
        snprintf(name, sizeof name, "x%d", k % 50);
        CHECK(nbr_checkpoint_put_array(NULL, c, name, "<f8", 1, shape16, NULL, small), "put x");
        if (k == 1)
            CHECK(nbr_checkpoint_put_blob(NULL, c, "params", "raw", params, sizeof params),
                  "put params");
        CHECK(nbr_checkpoint_commit(NULL, c), "commit");
    }
    double build_s = now_s() - t0;
    nbr_store_close(s);
    /* The manifests' own bytes (most are carried at the end of a segment). */
    uint64_t manifests_bytes, carried, carried_bytes;
    snprintf(path, sizeof path, "%s/store-many", dir);
    manifest_bytes(path, &manifests_bytes, &carried, &carried_bytes);

    double open_ms[REPS], latest_ms[REPS], first_ms[REPS], total_ms[REPS], writer_ms[REPS];
    double open_no[REPS], latest_no[REPS], first_no[REPS], total_no[REPS], writer_no[REPS];
    if (time_open(path, n, NULL, NULL, open_ms, latest_ms, first_ms, total_ms, writer_ms))
        return 1;
    /* The same store with its open index (INDEX) moved aside: every manifest
     * read, as before the index existed. */
    char index[4200], aside[4200];
    snprintf(index, sizeof index, "%s/INDEX", path);
    snprintf(aside, sizeof aside, "%s/INDEX.aside", path);
    int had_index = rename(index, aside) == 0;
    if (time_open(path, n, index, aside, open_no, latest_no, first_no, total_no, writer_no))
        return 1;
    if (had_index) rename(aside, index);
    printf("{\n  \"checkpoints\": %d, \"names_per_checkpoint\": 2, \"reps\": %d,\n", n, REPS);
    printf("  \"build_seconds\": %.2f, \"commit_ms_mean\": %.3f,\n", build_s, 1e3 * build_s / n);
    printf("  \"manifest_bytes\": %llu, \"manifests_carried\": %llu,\n",
           (unsigned long long)manifests_bytes, (unsigned long long)carried);
    printf("  \"open_ms\": %.3f, ", median(open_ms, REPS));
    print_list("open_ms_each", open_ms, REPS, 3);
    printf(",\n  \"resolve_latest_binding_ms\": %.4f, \"resolve_first_checkpoint_binding_ms\": %.4f,\n",
           median(latest_ms, REPS), median(first_ms, REPS));
    printf("  \"open_and_resolve_ms\": %.3f,\n", median(total_ms, REPS));
    printf("  \"writer_open_ms\": %.3f, ", median(writer_ms, REPS));
    print_list("writer_open_ms_each", writer_ms, REPS, 3);
    printf(",\n");
    printf("  \"index_present\": %s,\n", had_index ? "true" : "false");
    printf("  \"without_index_open_ms\": %.3f, ", median(open_no, REPS));
    print_list("without_index_open_ms_each", open_no, REPS, 3);
    printf(",\n  \"without_index_resolve_first_checkpoint_binding_ms\": %.4f,\n",
           median(first_no, REPS));
    printf("  \"without_index_open_and_resolve_ms\": %.3f,\n", median(total_no, REPS));
    printf("  \"without_index_writer_open_ms\": %.3f\n}\n", median(writer_no, REPS));
    return 0;
}

/* ---- blocks ----------------------------------------------------------- */

typedef struct blocks_case {
    const char *name;
    size_t rows, cols, block; /* block: rows overwritten per checkpoint */
} blocks_case;

typedef struct blocks_result {
    uint64_t first_stored, logical, stored, allocated, apparent;
    uint64_t segments, manifests, index; /* apparent bytes of each part */
    uint64_t carried, carried_bytes; /* manifests at the end of their segments (and so
                                      * in `segments`): how many, their bytes */
    double seconds;
    nbr_object_id last; /* the array as of the last checkpoint */
} blocks_result;

/* n checkpoints of a rows x cols field into a new store at `path`; before
 * checkpoint k, rows [block * k, + block) (wrapping) get the next time step. */
static void blocks_run(blocks_result *r, const char *path, const blocks_case *bc, int n,
                       double *a)
{
    const uint64_t shape[2] = {bc->rows, bc->cols};
    fill_field(a, bc->rows, bc->cols, 0, bc->rows, 0.0);
    nbr_store *s = create_store(path, -1, -1);
    double t0 = now_s();
    for (int k = 0; k < n; k++) {
        size_t r0 = (size_t)k * bc->block % bc->rows;
        fill_field(a, bc->rows, bc->cols, r0, r0 + bc->block, 0.01 * (k + 1));
        nbr_checkpoint *c = NULL;
        char *id = NULL;
        CHECK(nbr_checkpoint_begin(&c, s, "step", k + 1, NULL), "begin");
        CHECK(nbr_checkpoint_put_array(&r->last, c, "field", "<f8", 2, shape, NULL, a), "put");
        CHECK(nbr_checkpoint_commit(&id, c), "commit");
        if (k == 0) CHECK(nbr_store_stats(NULL, &r->first_stored, s, id), "stats");
        nbr_free(id);
    }
    r->seconds = now_s() - t0;
    CHECK(nbr_store_stats(&r->logical, &r->stored, s, NULL), "stats");
    nbr_store_close(s);
    du(path, &r->allocated, &r->apparent);
    const char *parts[2] = {"segments", "INDEX"};
    uint64_t *sizes[2] = {&r->segments, &r->index}, ignored;
    manifest_bytes(path, &r->manifests, &r->carried, &r->carried_bytes);
    for (int i = 0; i < 2; i++) {
        char part[4200];
        snprintf(part, sizeof part, "%s/%s", path, parts[i]);
        du(part, &ignored, sizes[i]);
    }
}

static void print_blocks(const blocks_case *bc, const blocks_result *r, int n, const char *end)
{
    size_t bytes = bc->rows * bc->cols * sizeof(double);
    size_t chunk_rows = (1u << 20) / (bc->cols * sizeof(double));
    printf("  \"%s\": {\"checkpoints\": %d, \"shape\": [%zu, %zu], \"array_bytes\": %zu, "
           "\"block_rows\": %zu, \"chunk_rows\": %zu,\n",
           bc->name, n, bc->rows, bc->cols, bytes, bc->block, chunk_rows);
    printf("    \"seconds\": %.2f, \"seconds_per_checkpoint\": %.4f,\n", r->seconds,
           r->seconds / n);
    printf("    \"array_compressed_bytes\": %llu,\n", (unsigned long long)r->first_stored);
    printf("    \"store_stats_logical_bytes\": %llu, \"store_stats_stored_bytes\": %llu,\n",
           (unsigned long long)r->logical, (unsigned long long)r->stored);
    printf("    \"disk_allocated_bytes\": %llu, \"disk_apparent_bytes\": %llu,\n",
           (unsigned long long)r->allocated, (unsigned long long)r->apparent);
    /* What is not chunk data, by part (apparent bytes): HDF5's own in the
     * segments, the manifests (those carried at the end of their segments
     * are counted here, not in the segments' metadata), INDEX. */
    printf("    \"segments_apparent_bytes\": %llu, \"segments_metadata_bytes\": %llu, "
           "\"manifests_bytes\": %llu, \"manifests_carried\": %llu, \"index_bytes\": %llu,\n",
           (unsigned long long)r->segments,
           (unsigned long long)(r->segments - r->stored - r->carried_bytes),
           (unsigned long long)r->manifests, (unsigned long long)r->carried,
           (unsigned long long)r->index);
    printf("    \"ratio_disk_to_compressed_array\": %.4f}%s\n",
           (double)r->allocated / (double)r->first_stored, end);
}

#define READ_REPS 7

/* One read of the array `id` of a store: through `handle`, or (handle
 * NULL) with a handle opened and closed around it, so that every segment
 * file is opened again as HDF5 does for a virtual dataset.  Seconds. */
static double store_read_once(nbr_store *handle, const char *path, const nbr_object_id *id,
                              const uint64_t *shape, double *a, size_t bytes)
{
    nbr_store *s = handle;
    double t0 = now_s();
    if (!handle) CHECK(nbr_store_open(&s, path, NBR_STORE_READONLY), path);
    CHECK(nbr_store_read_array(a, bytes, s, id, "<f8", 2, shape), "read");
    if (!handle) nbr_store_close(s);
    return now_s() - t0;
}

/* The newest segment of a store (where its last array's dataset is). */
static void newest_segment(char *out, size_t size, const char *store)
{
    char cmd[4200], name[64];
    snprintf(cmd, sizeof cmd, "ls %s/segments | tail -1", store);
    FILE *p = popen(cmd, "r");
    if (!p || !fgets(name, sizeof name, p)) die_errno("listing segments of", store);
    pclose(p);
    name[strcspn(name, "\n")] = '\0';
    snprintf(out, size, "%s/segments/%s", store, name);
}

/* HDF5's own read of /objects/<id> (a virtual dataset or a plain one), as a
 * C program without nbrewind would: open, read, close (a virtual dataset
 * keeps its source datasets, and their chunk caches, open while it is open:
 * reading it again would be a copy out of those caches).  Seconds. */
static double hdf5_read_once(const char *segment, const nbr_object_id *id, double *a)
{
    char name[64], hex[33];
    nbr_object_id_to_hex(hex, id);
    snprintf(name, sizeof name, "/objects/%s", hex);
    double t0 = now_s();
    hid_t f = H5Fopen(segment, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t ds = f < 0 ? -1 : H5Dopen2(f, name, H5P_DEFAULT);
    if (ds < 0 || H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, a) < 0)
        die_errno("reading with HDF5", segment);
    H5Dclose(ds);
    H5Fclose(f);
    return now_s() - t0;
}

static void print_gbs(const char *key, const double *seconds, size_t bytes, const char *end)
{
    double gbs[READ_REPS];
    for (int i = 0; i < READ_REPS; i++) gbs[i] = (double)bytes / 1e9 / seconds[i];
    printf("    \"%s\": {\"gb_per_s\": %.3f, ", key, median(gbs, READ_REPS));
    print_list("gb_per_s_each", gbs, READ_REPS, 3);
    printf("}%s\n", end);
}

/* Puts `want` into a new store with chunk dedup off (one plain dataset);
 * checks that it gets the same id as `last`. */
static void store_plain(const char *plain, const double *want, const uint64_t *shape,
                        const nbr_object_id *last)
{
    nbr_store *s = create_store(plain, -1, -1);
    CHECK(nbr_store_set_option(s, NBR_STORE_OPT_CHUNK_DEDUP, 0), "set chunk dedup");
    nbr_checkpoint *c = NULL;
    nbr_object_id id;
    CHECK(nbr_checkpoint_begin(&c, s, "plain", 1, NULL), "begin");
    CHECK(nbr_checkpoint_put_array(&id, c, "field", "<f8", 2, shape, NULL, want), "put");
    CHECK(nbr_checkpoint_commit(NULL, c), "commit");
    nbr_store_close(s);
    if (!nbr_object_id_equal(&id, last)) die("same array, other id", NBR_ERROR);
}

enum { READ_OURS_CHUNKED, READ_OURS_PLAIN, READ_HDF5_VIRTUAL, READ_HDF5_PLAIN,
       READ_FRESH_CHUNKED, READ_FRESH_PLAIN, READ_WAYS };

/* One rep of every way of reading, into seconds[way][rep] (rep < 0: not
 * kept).  A handle read (the first two ways) is timed on the handle's
 * second read, its segment files opened by the first; the handles are
 * closed before HDF5 opens the files itself (HDF5 refuses to open a file
 * again with other file-locking flags while it is open). */
static void read_rep(double seconds[][READ_REPS], int rep, char path[2][4096],
                     char segment[2][4200], const nbr_object_id *last, const uint64_t *shape,
                     double *a, const double *want, size_t bytes)
{
    nbr_store *s[2] = {NULL, NULL};
    double t[READ_WAYS];
    for (int k = 0; k < 2; k++) {
        CHECK(nbr_store_open(&s[k], path[k], NBR_STORE_READONLY), path[k]);
        store_read_once(s[k], path[k], last, shape, a, bytes);
        if (memcmp(a, want, bytes) != 0) die("read back", NBR_ERROR);
    }
    for (int k = 0; k < 2; k++) t[k] = store_read_once(s[k], path[k], last, shape, a, bytes);
    for (int k = 0; k < 2; k++) nbr_store_close(s[k]);
    for (int k = 0; k < 2; k++) {
        t[2 + k] = hdf5_read_once(segment[k], last, a);
        if (rep < 0 && memcmp(a, want, bytes) != 0) die("HDF5 read back", NBR_ERROR);
    }
    for (int k = 0; k < 2; k++) t[4 + k] = store_read_once(NULL, path[k], last, shape, a, bytes);
    for (int way = 0; rep >= 0 && way < READ_WAYS; way++) seconds[way][rep] = t[way];
}

/* The aligned case's last array, read back: from its chunks (our reader),
 * through its virtual dataset (HDF5), and the same array stored plain (a
 * store with chunk dedup off) both ways.  The ways take turns, rep by rep,
 * so that other load on the machine falls on all of them alike; one
 * untimed rep first (which checks the bytes).  The stores stay in DIR for
 * bench_store_h5py.py blocks. */
static void blocks_reads(const char *dir, const blocks_case *bc, const nbr_object_id *last,
                         const double *want)
{
    size_t bytes = bc->rows * bc->cols * sizeof(double);
    const uint64_t shape[2] = {bc->rows, bc->cols};
    char path[2][4096], segment[2][4200];
    snprintf(path[0], sizeof path[0], "%s/store-blocks", dir);
    snprintf(path[1], sizeof path[1], "%s/store-blocks-plain", dir);
    store_plain(path[1], want, shape, last);
    for (int k = 0; k < 2; k++) newest_segment(segment[k], sizeof segment[k], path[k]);
    double *a = xmalloc(bytes), seconds[READ_WAYS][READ_REPS];
    sync();
    for (int rep = -1; rep < READ_REPS; rep++)
        read_rep(seconds, rep, path, segment, last, shape, a, want, bytes);
    char hex[33];
    nbr_object_id_to_hex(hex, last);
    printf("  \"read\": {\"array_bytes\": %zu, \"object\": \"%s\", \"reps\": %d,\n", bytes, hex,
           READ_REPS);
    static const char *const keys[READ_WAYS] = {
        "nbr_read_chunked", "nbr_read_plain", "hdf5_c_read_virtual", "hdf5_c_read_plain",
        "nbr_open_read_close_chunked", "nbr_open_read_close_plain"};
    for (int way = 0; way < READ_WAYS; way++) print_gbs(keys[way], seconds[way], bytes, ",");
    double m[READ_WAYS];
    for (int way = 0; way < READ_WAYS; way++) m[way] = median(seconds[way], READ_REPS);
    printf("    \"ratio_nbr_chunked_vs_plain\": %.3f, \"ratio_hdf5_virtual_vs_plain\": %.3f, "
           "\"ratio_nbr_chunked_vs_hdf5_virtual\": %.3f}",
           m[READ_OURS_PLAIN] / m[READ_OURS_CHUNKED], m[READ_HDF5_PLAIN] / m[READ_HDF5_VIRTUAL],
           m[READ_HDF5_VIRTUAL] / m[READ_OURS_CHUNKED]);
    free(a);
}

/* The figure: 100 checkpoints of a 100 MB array, each overwriting
 * one contiguous 1 % row block.  "aligned": 12800 x 1024, 1 MiB chunks of
 * 128 rows, blocks of 128 rows (each checkpoint changes one chunk);
 * "unaligned": 10000 x 1250, chunks of 104 rows, blocks of 100 rows (most
 * blocks straddle two chunks).  Then the read cost of the aligned case's
 * last array, chunked and plain. */
static int bench_blocks(const char *dir, int n)
{
    static const blocks_case cases[2] = {{"aligned", 12800, 1024, 128},
                                         {"unaligned", 10000, 1250, 100}};
    blocks_result r[2];
    double *a = xmalloc(cases[0].rows * cases[0].cols * sizeof(double));
    printf("{\n");
    for (int i = 0; i < 2; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/store-blocks%s", dir, i ? "-unaligned" : "");
        fprintf(stderr, "bench_store blocks: %s\n", cases[i].name);
        blocks_run(&r[i], path, &cases[i], n, a);
        print_blocks(&cases[i], &r[i], n, i == 0 ? "," : "");
        if (i == 0) {
            blocks_reads(dir, &cases[0], &r[0].last, a);
            printf(",\n");
        } else {
            rm_rf(path);
        }
    }
    printf("}\n");
    free(a);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_store write|write-lz4|open|blocks DIR [N] [REPS]\n");
        return 2;
    }
    const char *what = argv[1], *dir = argv[2];
    int n = argc > 3 ? atoi(argv[3]) : 0;
    if (strcmp(what, "write") == 0) {
        int reps = argc > 4 ? atoi(argv[4]) : 3;
        if (n <= 0) n = 8;
        if (n > MAX_ARRAYS || reps < 1 || reps > MAX_REPS) return 2;
        return bench_write(dir, n, reps, reps);
    }
    if (strcmp(what, "write-lz4") == 0) {
        int trials = argc > 4 ? atoi(argv[4]) : 3;
        if (n <= 0) n = 8;
        if (n > MAX_ARRAYS || trials < 1 || trials > MAX_REPS) return 2;
        return bench_write_lz4(dir, n, trials);
    }
    if (strcmp(what, "open") == 0) return bench_open(dir, n > 0 ? n : 10000);
    if (strcmp(what, "blocks") == 0) return bench_blocks(dir, n > 0 ? n : 100);
    fprintf(stderr, "bench_store: unknown benchmark %s\n", what);
    return 2;
}
