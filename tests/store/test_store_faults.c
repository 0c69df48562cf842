/* test_store_faults.c - ENOSPC, EIO and short writes at every file operation
 * of a checkpoint, injected under HDF5 and the store by faultshim.so (run
 * with LD_PRELOAD; see CMakeLists.txt).
 *
 * For each operation N of a checkpoint: fail the Nth one, then check that
 * the error names the file and the cause, nothing became visible, nothing
 * was left in tmp/, every committed checkpoint still verifies (from a fresh
 * handle, as a reader would) and the same handle commits the next one. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nbr_test.h"
#include "store_test_util.h"

#define OPS "write,pwrite,fsync,ftruncate,rename,link"

static void (*arm)(const char *, const char *, long, int);
static void (*disarm)(void);
static long (*calls)(void);

static int load_shim(void)
{
    arm = (void (*)(const char *, const char *, long, int))dlsym(RTLD_DEFAULT, "faultshim_arm");
    disarm = (void (*)(void))dlsym(RTLD_DEFAULT, "faultshim_disarm");
    calls = (long (*)(void))dlsym(RTLD_DEFAULT, "faultshim_calls");
    if (arm && disarm && calls) return 1;
    fprintf(stderr, "faultshim is not loaded: run with LD_PRELOAD=.../faultshim.so\n");
    nbr_test_failures++;
    return 0;
}

/* One checkpoint of new content (seeded): a compressible array of two
 * chunks (the first one the same in every checkpoint, so each array maps a
 * chunk of the first segment), an incompressible one, a scalar and a
 * blob. */
static int write_checkpoint(nbr_store *s, unsigned seed)
{
    size_t n = 1 << 18, m = 1 << 16;
    double *smooth = malloc(n * sizeof *smooth);
    uint64_t *noise = malloc(m * sizeof *noise), x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) smooth[i] = (i < n / 2 ? 0 : seed) + i * 1e-3;
    for (size_t i = 0; i < m; i++) x ^= x << 13, x ^= x >> 7, x ^= x << 17, noise[i] = x;
    uint64_t shape_n[1] = {n}, shape_m[2] = {m / 8, 8};
    double scalar = seed;
    char blob[100];
    snprintf(blob, sizeof blob, "blob %u", seed);
    nbr_checkpoint *c = NULL;
    int st = nbr_checkpoint_begin(&c, s, "cell", seed, "{\"seed\": 1}");
    if (st == NBR_OK)
        st = nbr_checkpoint_put_array(NULL, c, "smooth", "<f8", 1, shape_n, NULL, smooth);
    if (st == NBR_OK)
        st = nbr_checkpoint_put_array(NULL, c, "noise", "<u8", 2, shape_m, NULL, noise);
    if (st == NBR_OK)
        st = nbr_checkpoint_put_array(NULL, c, "scalar", "<f8", 0, NULL, NULL, &scalar);
    if (st == NBR_OK) st = nbr_checkpoint_put_blob(NULL, c, "blob", "raw", blob, strlen(blob));
    nbr_blob_writer *w = NULL;
    if (st == NBR_OK) st = nbr_blob_writer_begin(&w, c, "stream", "pickle5");
    for (size_t at = 0, piece; st == NBR_OK && at < m * 8; at += piece) {
        piece = m * 8 - at < 100000 ? m * 8 - at : 100000;
        st = nbr_blob_writer_write(w, (char *)noise + at, piece);
    }
    if (w) st = st == NBR_OK ? nbr_blob_writer_finish(NULL, w) : (nbr_blob_writer_abort(w), st);
    if (st == NBR_OK) st = nbr_checkpoint_commit(NULL, c);
    else nbr_checkpoint_abort(c);
    free(smooth);
    free(noise);
    return st;
}

/* Every committed checkpoint verifies, seen from a new read-only handle. */
static void check_store(const char *dir, size_t expected)
{
    nbr_store *r = NULL;
    char *report = NULL;
    CHECK_OK(nbr_store_open(&r, dir, NBR_STORE_READONLY));
    CHECK(nbr_store_checkpoint_count(r) == expected);
    CHECK_OK(nbr_store_verify(&report, r));
    if (report && *report) fprintf(stderr, "%s", report);
    nbr_free(report);
    nbr_store_close(r);
}

static void run_faults(int err, const char *cause)
{
    char *dir = st_tempdir("faults");
    nbr_store *s = NULL;
    CHECK_OK(nbr_store_open(&s, dir, NBR_STORE_CREATE | NBR_STORE_WRITE));
    unsigned seed = 1;
    CHECK_OK(write_checkpoint(s, seed++));
    const char *ops = err ? OPS : "write,pwrite"; /* only writes can be short */
    arm(dir, ops, 0, 0); /* count the operations of one checkpoint */
    CHECK_OK(write_checkpoint(s, seed++));
    disarm();
    long total = calls();
    size_t committed = 2, failures = 0;
    CHECK(total > 10);
    for (long n = 1; n <= total; n++) {
        arm(dir, ops, n, err);
        int st = write_checkpoint(s, seed++);
        disarm();
        if (err && st != NBR_OK) {
            failures++;
            if (!strstr(nbr_last_error(), dir) || !strstr(nbr_last_error(), cause)) {
                fprintf(stderr, "fault %ld (%s): unclear error: %s\n", n, cause, nbr_last_error());
                nbr_test_failures++;
            }
        } else if (st == NBR_OK) {
            committed++;
        } else {
            fprintf(stderr, "short write %ld was not retried: %s\n", n, nbr_last_error());
            nbr_test_failures++;
        }
        CHECK(nbr_store_checkpoint_count(s) == committed);
        CHECK(st_count_entries(st_path(dir, "tmp")) == 0);
        check_store(dir, committed);
        CHECK_OK(write_checkpoint(s, seed++)); /* the handle carries on */
        committed++;
    }
    if (err) CHECK(failures == (size_t)total); /* every operation matters */
    printf("%s: %ld operations, %zu failed cleanly, %zu commits\n", cause, total, failures,
           committed);
    nbr_store_close(s);
    check_store(dir, committed);
    st_remove_tree(dir);
    free(dir);
}

static void test_enospc_at_every_operation(void)
{
    if (load_shim()) run_faults(ENOSPC, "No space left on device");
}

static void test_eio_at_every_operation(void)
{
    if (load_shim()) run_faults(EIO, "Input/output error");
}

static void test_short_writes_are_retried(void)
{
    if (load_shim()) run_faults(0, "short write");
}

/* Where the file system has no hard links (link fails with EPERM, as on
 * some FUSE and object-store mounts), a checkpoint's manifest becomes a file
 * of its own, and the store reads and verifies as usual. */
static void test_no_hard_links_means_a_manifest_file(void)
{
    char *dir = st_tempdir("nolinks");
    nbr_store *s = NULL;
    CHECK_OK(nbr_store_open(&s, dir, NBR_STORE_CREATE | NBR_STORE_WRITE));
    CHECK_OK(write_checkpoint(s, 1));
    arm(dir, "link", 1, EPERM);
    CHECK_OK(write_checkpoint(s, 2));
    disarm();
    CHECK(calls() == 1);
    struct stat sb; /* the first manifest is its segment */
    CHECK(stat(st_manifest_path(dir, nbr_store_checkpoint_id(s, 0)), &sb) == 0 &&
          sb.st_nlink == 2);
    const char *last = nbr_store_checkpoint_id(s, 1);
    CHECK(last && stat(st_manifest_path(dir, last), &sb) == 0 && sb.st_nlink == 1);
    CHECK(last && st_manifest_offset(st_manifest_path(dir, last)) == 0);
    nbr_store_close(s);
    check_store(dir, 2);
    st_remove_tree(dir);
    free(dir);
}

static void test_full_disk_while_creating_the_store(void)
{
    if (!load_shim()) return;
    char *dir = st_tempdir("create-fault");
    nbr_store *s = NULL;
    for (long n = 1; n <= 4; n++) {
        arm(dir, OPS, n, ENOSPC);
        int st = nbr_store_open(&s, dir, NBR_STORE_CREATE | NBR_STORE_WRITE);
        disarm();
        if (st == NBR_OK) {
            nbr_store_close(s);
            break;
        }
        CHECK(st == NBR_EIO && strstr(nbr_last_error(), "No space left"));
        /* Nothing half-made: there is no store, or a complete one. */
        nbr_store *r = NULL;
        int ro = nbr_store_open(&r, dir, NBR_STORE_READONLY);
        CHECK(ro == NBR_ENOTFOUND || ro == NBR_OK);
        nbr_store_close(r);
    }
    CHECK_OK(nbr_store_open(&s, dir, NBR_STORE_CREATE | NBR_STORE_WRITE));
    CHECK_OK(write_checkpoint(s, 1));
    nbr_store_close(s);
    st_remove_tree(dir);
    free(dir);
}


/* ---- GC ---------------------------------------------------------------- */

#define GC_OPS "write,fsync,rename,unlink"
#define GC_KEPT 3

/* A store of 8 checkpoints with a ref on the 3rd and a pin on the 6th; the
 * snapshots of those and the newest. */
static char *gc_store(char *ids[GC_KEPT], char *snaps[GC_KEPT])
{
    char *dir = st_tempdir("gc-faults");
    nbr_store *s = NULL;
    CHECK_OK(nbr_store_open(&s, dir, NBR_STORE_CREATE | NBR_STORE_WRITE));
    CHECK_OK(nbr_store_set_option(s, NBR_STORE_OPT_CHUNK_BYTES, 4096)); /* chunk dedup */
    for (int64_t k = 1; k <= 8; k++) CHECK_OK(st_gc_checkpoint(s, k));
    static const size_t at[GC_KEPT] = {2, 5, 7};
    for (size_t i = 0; i < GC_KEPT; i++) {
        ids[i] = strdup(nbr_store_checkpoint_id(s, at[i]));
        snaps[i] = st_snapshot(s, ids[i]);
    }
    CHECK_OK(nbr_store_set_ref(s, "main", ids[0]));
    CHECK_OK(nbr_store_pin(s, ids[1]));
    nbr_store_close(s);
    return dir;
}

static void gc_compare(nbr_store *s, char *ids[GC_KEPT], char *snaps[GC_KEPT], long n)
{
    for (size_t i = 0; i < GC_KEPT; i++) {
        char *now = st_snapshot(s, ids[i]);
        if (strcmp(now, snaps[i]) != 0 || !st_gc_check(s, ids[i])) {
            fprintf(stderr, "GC fault %ld: checkpoint %s changed:\n%s---\n%s", n, ids[i],
                    snaps[i], now);
            nbr_test_failures++;
        }
        free(now);
    }
}

/* After a GC failed or was killed at operation n: the store is whole. */
static void gc_check_after(const char *dir, char *ids[GC_KEPT], char *snaps[GC_KEPT], long n)
{
    nbr_store *s = NULL;
    char *report = NULL;
    CHECK_OK(nbr_store_open(&s, dir, NBR_STORE_WRITE));
    CHECK(st_count_entries(st_path(dir, "tmp")) == 0);
    CHECK(nbr_store_checkpoint_count(s) >= GC_KEPT);
    CHECK_OK(nbr_store_verify(&report, s));
    if (report && *report) fprintf(stderr, "GC fault %ld: %s", n, report);
    nbr_free(report);
    gc_compare(s, ids, snaps, n);
    CHECK_OK(nbr_store_gc(NULL, s));
    CHECK(nbr_store_checkpoint_count(s) == GC_KEPT);
    CHECK_OK(nbr_store_verify(NULL, s));
    gc_compare(s, ids, snaps, n);
    nbr_store_close(s);
}

/* One GC with operation n failing with `err`, or (err < 0) raising -err;
 * returns 1 while operation n was reached. */
static int gc_fault(long n, int err)
{
    char *ids[GC_KEPT], *snaps[GC_KEPT];
    char *dir = gc_store(ids, snaps);
    int reached = 0;
    if (err >= 0) {
        nbr_store *s = NULL;
        CHECK_OK(nbr_store_open(&s, dir, NBR_STORE_WRITE));
        arm(dir, GC_OPS, n, err);
        int st = nbr_store_gc(NULL, s);
        disarm();
        reached = calls() >= n;
        if (st != NBR_OK && !strstr(nbr_last_error(), dir)) {
            fprintf(stderr, "GC fault %ld: unclear error: %s\n", n, nbr_last_error());
            nbr_test_failures++;
        }
        nbr_store_close(s);
    } else {
        fflush(stdout); /* or the child's exit could print it again */
        pid_t pid = fork();
        if (pid == 0) {
            nbr_store *s = NULL;
            if (nbr_store_open(&s, dir, NBR_STORE_WRITE) != NBR_OK) _exit(2);
            arm(dir, GC_OPS, n, err);
            _exit(nbr_store_gc(NULL, s) == NBR_OK ? 0 : 3);
        }
        int status = 0;
        waitpid(pid, &status, 0);
        reached = WIFSIGNALED(status);
        CHECK(reached || (WIFEXITED(status) && WEXITSTATUS(status) == 0));
    }
    gc_check_after(dir, ids, snaps, n);
    for (size_t i = 0; i < GC_KEPT; i++) free(ids[i]), free(snaps[i]);
    st_remove_tree(dir);
    free(dir);
    return reached;
}

static void test_gc_fails_at_every_operation(void)
{
    if (!load_shim()) return;
    long n = 1;
    while (gc_fault(n, EIO) && nbr_test_failures == 0 && n < 500) n++;
    printf("GC: EIO at each of %ld operations, the store whole after each\n", n - 1);
    CHECK(n > 10);
}

static void test_gc_killed_at_every_operation(void)
{
    if (!load_shim()) return;
    long n = 1;
    while (gc_fault(n, -SIGKILL) && nbr_test_failures == 0 && n < 500) n++;
    printf("GC: SIGKILL at each of %ld operations, the store whole after each\n", n - 1);
    CHECK(n > 10);
}

/* ---- the open index (INDEX) ------------------------------------------- */

/* Resolutions of every checkpoint as text, from a read-only handle. */
static char *index_dump(const char *dir)
{
    nbr_store *r = NULL;
    CHECK_OK(nbr_store_open(&r, dir, NBR_STORE_READONLY));
    size_t n = r ? nbr_store_checkpoint_count(r) : 0, used = 0, size = 1 << 16;
    char *out = calloc(1, size);
    for (size_t i = 0; i < n; i++) {
        char *snap = st_snapshot(r, nbr_store_checkpoint_id(r, i));
        while (used + strlen(snap) + 40 >= size) out = realloc(out, size *= 2);
        used += (size_t)snprintf(out + used, size - used, "%s\n%s",
                                 nbr_store_checkpoint_id(r, i), snap);
        free(snap);
    }
    nbr_store_close(r);
    return out;
}

/* A writer writes INDEX at close (20 checkpoints not in it): operation n of
 * that fails with `err`, or kills the process (err < 0).  Afterwards readers
 * see the same store, the next writer leaves no tmp file and an index that
 * readers use.  Returns 1 while operation n was reached. */
static int index_fault(const char *dir, const char *truth, long n, int err)
{
    CHECK(remove(st_path(dir, "INDEX")) == 0 || 1);
    int reached = 0;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        nbr_store *s = NULL;
        if (nbr_store_open(&s, dir, NBR_STORE_WRITE) != NBR_OK) _exit(2);
        arm(dir, GC_OPS, n, err);
        nbr_store_close(s);
        disarm();
        _exit(calls() >= n ? 10 : 0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    reached = WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) == 10);
    CHECK(reached || (WIFEXITED(status) && WEXITSTATUS(status) == 0));
    char *seen = index_dump(dir);
    if (strcmp(seen, truth) != 0) {
        fprintf(stderr, "index fault %ld (%d): the store reads differently\n", n, err);
        nbr_test_failures++;
    }
    free(seen);
    nbr_store *s = NULL;
    CHECK_OK(nbr_store_open(&s, dir, NBR_STORE_WRITE));
    CHECK(st_count_entries(st_path(dir, "tmp")) == 0);
    nbr_store_close(s);
    seen = index_dump(dir);
    CHECK_STR(truth, seen);
    free(seen);
    return reached;
}

static void test_index_write_faults(void)
{
    if (!load_shim()) return;
    char *dir = st_tempdir("index-faults");
    nbr_store *s = NULL;
    CHECK_OK(nbr_store_open(&s, dir, NBR_STORE_CREATE | NBR_STORE_WRITE));
    for (int64_t k = 1; k <= 20; k++) CHECK_OK(st_gc_checkpoint(s, k));
    nbr_store_close(s);
    char *truth = index_dump(dir);
    const int errs[] = {-SIGKILL, EIO, ENOSPC};
    for (size_t e = 0; e < sizeof errs / sizeof errs[0]; e++) {
        long n = 1;
        while (index_fault(dir, truth, n, errs[e]) && nbr_test_failures == 0 && n < 100) n++;
        printf("index write: error %d at each of %ld operations, the store whole after each\n",
               errs[e], n - 1);
        CHECK(n > 3);
    }
    CHECK(st_count_entries(st_path(dir, "tmp")) == 0);
    free(truth);
    st_remove_tree(dir);
    free(dir);
}

NBR_TEST_MAIN(TEST(test_index_write_faults), TEST(test_gc_fails_at_every_operation), TEST(test_gc_killed_at_every_operation),
              TEST(test_enospc_at_every_operation), TEST(test_eio_at_every_operation),
              TEST(test_short_writes_are_retried), TEST(test_full_disk_while_creating_the_store),
              TEST(test_no_hard_links_means_a_manifest_file))
