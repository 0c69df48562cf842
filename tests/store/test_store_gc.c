/* test_store_gc.c - refs, pins and garbage collection through the public
 * API: validation, what a GC keeps (bit for bit) and frees, GC after GC, and
 * a reader that opened before a GC.  Faults inside a GC are in
 * test_store_faults.c, kills at random instants in test_store_gc_crash.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "nbr_test.h"
#include "store_test_util.h"

static nbr_store *store_with(char **dir, const char *tag, int64_t count)
{
    nbr_store *s = NULL;
    *dir = st_tempdir(tag);
    CHECK_OK(nbr_store_open(&s, *dir, NBR_STORE_CREATE | NBR_STORE_WRITE));
    for (int64_t k = 1; k <= count; k++) CHECK_OK(st_gc_checkpoint(s, k));
    return s;
}

static void test_refs_and_pins_round_trip(void)
{
    char *dir, *id = NULL;
    nbr_store *s = store_with(&dir, "refs", 3), *r = NULL;
    const char *c1 = nbr_store_checkpoint_id(s, 0), *c2 = nbr_store_checkpoint_id(s, 1);
    CHECK_OK(nbr_store_set_ref(s, "notebook.ipynb", c1));
    CHECK_OK(nbr_store_get_ref(&id, s, "notebook.ipynb"));
    CHECK_STR(c1, id);
    nbr_free(id);
    CHECK_OK(nbr_store_set_ref(s, "notebook.ipynb", c2)); /* moves it */
    CHECK_OK(nbr_store_get_ref(&id, s, "notebook.ipynb"));
    CHECK_STR(c2, id);
    nbr_free(id);
    /* A reader sees refs; only the writer changes them. */
    CHECK_OK(nbr_store_open(&r, dir, NBR_STORE_READONLY));
    CHECK_OK(nbr_store_get_ref(&id, r, "notebook.ipynb"));
    CHECK_STR(c2, id);
    nbr_free(id);
    CHECK_STATUS(NBR_ESTATE, nbr_store_set_ref(r, "x", c1));
    CHECK_STATUS(NBR_ESTATE, nbr_store_delete_ref(r, "notebook.ipynb"));
    CHECK_STATUS(NBR_ESTATE, nbr_store_pin(r, c1));
    CHECK_STATUS(NBR_ESTATE, nbr_store_unpin(r, c1));
    CHECK_STATUS(NBR_ESTATE, nbr_store_gc(NULL, r));
    nbr_store_close(r);
    CHECK_OK(nbr_store_delete_ref(s, "notebook.ipynb"));
    CHECK_STATUS(NBR_ENOTFOUND, nbr_store_get_ref(&id, s, "notebook.ipynb"));
    CHECK(id == NULL);
    CHECK_STATUS(NBR_ENOTFOUND, nbr_store_delete_ref(s, "notebook.ipynb"));
    CHECK_STATUS(NBR_ENOTFOUND, nbr_store_set_ref(s, "x", "0000000000000099"));
    CHECK_STATUS(NBR_ENOTFOUND, nbr_store_set_ref(s, "x", "nonsense"));
    static const char *const bad[] = {"", "a/b", "..", ".", ".hidden", "a..b", "tab\there",
                                      "new\nline", "\xc3\xa9t\xc3\xa9"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_STATUS(NBR_EINVAL, nbr_store_set_ref(s, bad[i], c1));
        CHECK_STATUS(NBR_EINVAL, nbr_store_get_ref(&id, s, bad[i]));
    }
    CHECK_STATUS(NBR_EINVAL, nbr_store_set_ref(s, NULL, c1));
    CHECK_OK(nbr_store_set_ref(s, "with space & symbols!", c1));
    CHECK_OK(nbr_store_pin(s, c1));
    CHECK_OK(nbr_store_pin(s, c1)); /* twice is fine */
    CHECK_OK(nbr_store_unpin(s, c1));
    CHECK_STATUS(NBR_ENOTFOUND, nbr_store_unpin(s, c1));
    CHECK_STATUS(NBR_ENOTFOUND, nbr_store_pin(s, "0000000000000099"));
    /* A damaged ref is named, and stops a GC rather than guessing. */
    CHECK(st_write_text(st_path(dir, "refs/broken"), "12") == 0);
    CHECK_STATUS(NBR_ECORRUPT, nbr_store_get_ref(&id, s, "broken"));
    CHECK(strstr(nbr_last_error(), "refs/broken") != NULL);
    CHECK_STATUS(NBR_ECORRUPT, nbr_store_gc(NULL, s));
    CHECK(nbr_store_checkpoint_count(s) == 3);
    /* So does a ref to a checkpoint the store lacks. */
    CHECK(st_write_text(st_path(dir, "refs/broken"), "0000000000000077\n") == 0);
    CHECK_STATUS(NBR_ECORRUPT, nbr_store_gc(NULL, s));
    CHECK(strstr(nbr_last_error(), "0000000000000077") != NULL);
    CHECK(nbr_store_checkpoint_count(s) == 3);
    /* Not during a checkpoint. */
    nbr_checkpoint *c = NULL;
    CHECK_OK(nbr_checkpoint_begin(&c, s, "cell", 1, NULL));
    CHECK_STATUS(NBR_ESTATE, nbr_store_gc(NULL, s));
    CHECK_STATUS(NBR_ESTATE, nbr_store_set_ref(s, "y", c1));
    nbr_checkpoint_abort(c);
    nbr_store_close(s);
    st_remove_tree(dir);
    free(dir);
}

/* Snapshots of the checkpoints at these indexes (ids copied). */
typedef struct kept {
    char id[32];
    char *snapshot;
} kept;

static void take(kept *k, nbr_store *s, size_t index)
{
    snprintf(k->id, sizeof k->id, "%s", nbr_store_checkpoint_id(s, index));
    k->snapshot = st_snapshot(s, k->id);
}

/* Each kept checkpoint still exists, resolves and reads as before. */
static void compare(const kept *k, size_t n, nbr_store *s)
{
    for (size_t i = 0; i < n; i++) {
        char *now = st_snapshot(s, k[i].id);
        if (strcmp(now, k[i].snapshot) != 0) {
            fprintf(stderr, "checkpoint %s changed:\nbefore:\n%safter:\n%s", k[i].id,
                    k[i].snapshot, now);
            nbr_test_failures++;
        }
        CHECK(st_gc_check(s, k[i].id));
        free(now);
    }
}

static void verify_fresh(const char *dir, const kept *k, size_t n)
{
    nbr_store *r = NULL;
    char *report = NULL;
    CHECK_OK(nbr_store_open(&r, dir, NBR_STORE_READONLY));
    CHECK(nbr_store_checkpoint_count(r) == n);
    CHECK_OK(nbr_store_verify(&report, r));
    nbr_free(report);
    compare(k, n, r);
    nbr_store_close(r);
}

static void test_gc_keeps_refs_pins_and_newest(void)
{
    char *dir, *report = NULL;
    nbr_store *s = store_with(&dir, "gc", 10), *early = NULL;
    kept k[3];
    take(&k[0], s, 3);
    take(&k[1], s, 6);
    take(&k[2], s, 9); /* the newest */
    CHECK_OK(nbr_store_set_ref(s, "main", k[0].id));
    CHECK_OK(nbr_store_pin(s, k[1].id));
    uint64_t before = st_tree_bytes(dir), stored_before = 0, stored_after = 0, logical = 0;
    CHECK_OK(nbr_store_stats(NULL, &stored_before, s, NULL));
    /* A reader that opened before the GC, and has not read checkpoint 5 yet. */
    CHECK_OK(nbr_store_open(&early, dir, NBR_STORE_READONLY));
    CHECK_OK(nbr_store_gc(&report, s));
    printf("gc: %s", report);
    CHECK(report && strstr(report, "kept 3 of 10"));
    nbr_free(report);
    uint64_t after = st_tree_bytes(dir);
    printf("store: %llu bytes before, %llu after\n", (unsigned long long)before,
           (unsigned long long)after);
    CHECK(after < before);
    /* Segments kept whole: 1 ("const"), 3, 6 and 9 (the blobs "b" of the kept
     * ones were first stored there), and those of 4, 7 and 10 themselves. */
    CHECK(st_count_entries(st_path(dir, "segments")) == 7);
    CHECK(nbr_store_checkpoint_count(s) == 3);
    CHECK(st_count_entries(st_path(dir, "checkpoints")) == 3);
    /* Objects now listed by several manifests are counted once. */
    CHECK_OK(nbr_store_stats(&logical, &stored_after, s, NULL));
    CHECK(stored_after > 0 && stored_after < stored_before && logical > 0);
    for (size_t i = 0; i < 3; i++) CHECK_STR(k[i].id, nbr_store_checkpoint_id(s, i));
    compare(k, 3, s);
    CHECK_OK(nbr_store_verify(NULL, s));
    verify_fresh(dir, k, 3);
    /* The early reader: a removed segment is an error naming it, not a crash. */
    nbr_object_id x;
    double buf[4000];
    uint64_t shape[1];
    const uint64_t *sh;
    CHECK_OK(nbr_store_resolve(&x, NULL, early, nbr_store_checkpoint_id(early, 4), "x"));
    CHECK_OK(nbr_store_object_info(NULL, NULL, NULL, &sh, NULL, early, &x));
    shape[0] = sh[0];
    CHECK_STATUS(NBR_ENOTFOUND, nbr_store_read_array(buf, sizeof buf, early, &x, "<f8", 1, shape));
    CHECK(strstr(nbr_last_error(), "segments/0000000000000005-") != NULL);
    nbr_store_close(early);
    /* More checkpoints, the ref moved, the pin dropped: a second GC. */
    for (int64_t i = 11; i <= 15; i++) CHECK_OK(st_gc_checkpoint(s, i));
    kept k2[2];
    take(&k2[0], s, 4); /* checkpoint 12 */
    take(&k2[1], s, 7); /* checkpoint 15 */
    CHECK_OK(nbr_store_set_ref(s, "main", k2[0].id));
    CHECK_OK(nbr_store_unpin(s, k[1].id));
    CHECK_OK(nbr_store_gc(NULL, s));
    CHECK(nbr_store_checkpoint_count(s) == 2);
    compare(k2, 2, s);
    verify_fresh(dir, k2, 2);
    /* And it carries on: new checkpoints on top of rewritten ones. */
    CHECK_OK(st_gc_checkpoint(s, 16));
    CHECK(st_gc_check(s, nbr_store_checkpoint_id(s, 2)));
    CHECK_OK(nbr_store_gc(NULL, s)); /* keeps 12 and 16 */
    CHECK(nbr_store_checkpoint_count(s) == 2);
    compare(k2, 1, s);
    CHECK_OK(nbr_store_verify(NULL, s));
    nbr_store_close(s);
    for (size_t i = 0; i < 3; i++) free(k[i].snapshot);
    for (size_t i = 0; i < 2; i++) free(k2[i].snapshot);
    st_remove_tree(dir);
    free(dir);
}

static void test_gc_with_nothing_to_remove(void)
{
    char *dir, *report = NULL;
    nbr_store *s = NULL;
    dir = st_tempdir("gc-empty");
    CHECK_OK(nbr_store_open(&s, dir, NBR_STORE_CREATE | NBR_STORE_WRITE));
    CHECK_OK(nbr_store_gc(&report, s)); /* an empty store */
    nbr_free(report);
    CHECK_OK(st_gc_checkpoint(s, 1));
    CHECK_OK(st_gc_checkpoint(s, 2));
    CHECK_OK(nbr_store_pin(s, nbr_store_checkpoint_id(s, 0)));
    kept k[2];
    take(&k[0], s, 0);
    take(&k[1], s, 1);
    CHECK_OK(nbr_store_gc(&report, s));
    CHECK(report && strstr(report, "kept 2 of 2"));
    nbr_free(report);
    compare(k, 2, s);
    /* Only the newest is kept once the pin goes: never an empty store. */
    CHECK_OK(nbr_store_unpin(s, k[0].id));
    CHECK_OK(nbr_store_gc(NULL, s));
    CHECK(nbr_store_checkpoint_count(s) == 1);
    compare(&k[1], 1, s);
    nbr_store_close(s);
    free(k[0].snapshot);
    free(k[1].snapshot);
    st_remove_tree(dir);
    free(dir);
}

/* The report's bytes freed count a segment that is also a manifest's name
 * (version 4) once: freeing checkpoint 1 of two unrelated ones frees its
 * segment, less what the second's manifest, rewritten as a file of its own,
 * now takes. */
static void test_gc_counts_a_carried_manifest_once(void)
{
    char *dir = st_tempdir("gc-carried"), *report = NULL;
    nbr_store *s = NULL;
    CHECK_OK(nbr_store_open(&s, dir, NBR_STORE_CREATE | NBR_STORE_WRITE));
    char *k1 = st_commit_doubles(s, "c1", "a", 20000, 1.0, NULL), *k2 = NULL;
    double b[1000];
    for (int i = 0; i < 1000; i++) b[i] = i * 0.25;
    uint64_t shape[1] = {1000};
    nbr_checkpoint *c = NULL;
    CHECK_OK(nbr_checkpoint_begin(&c, s, "c2", 2, NULL));
    CHECK_OK(nbr_checkpoint_put_array(NULL, c, "b", "<f8", 1, shape, NULL, b));
    CHECK_OK(nbr_checkpoint_delete(c, "a")); /* nothing of checkpoint 1 stays */
    CHECK_OK(nbr_checkpoint_commit(&k2, c));
    struct stat one;
    CHECK(stat(st_manifest_path(dir, k1), &one) == 0 && one.st_nlink == 2);
    CHECK_OK(nbr_store_gc(&report, s));
    struct stat two;
    CHECK(stat(st_manifest_path(dir, k2), &two) == 0 && two.st_nlink == 1);
    char want[160];
    snprintf(want, sizeof want, "removed 1 manifest(s) and 1 segment(s); %lld bytes freed",
             (long long)one.st_size - (long long)two.st_size);
    CHECK(report && strstr(report, want));
    if (report && !strstr(report, want)) fprintf(stderr, "%s (wanted: %s)\n", report, want);
    nbr_free(report);
    nbr_store_close(s);
    free(k1), free(k2);
    st_remove_tree(dir);
    free(dir);
}

/* A damaged manifest rewritten by GC may name segments of any earlier seq: a
 * writer's cleanup keeps them all, and GC refuses to run. */
static void test_damaged_rewritten_manifest_keeps_segments(void)
{
    char *dir;
    nbr_store *s = store_with(&dir, "gc-damaged", 6);
    char keep[32], name[64];
    snprintf(keep, sizeof keep, "%s", nbr_store_checkpoint_id(s, 3));
    CHECK_OK(nbr_store_set_ref(s, "main", keep));
    CHECK_OK(nbr_store_gc(NULL, s));
    nbr_store_close(s);
    int segments = st_count_entries(st_path(dir, "segments"));
    snprintf(name, sizeof name, "checkpoints/%s.json", keep);
    CHECK(st_truncate(st_path(dir, name), 40) == 0);
    CHECK_OK(nbr_store_open(&s, dir, NBR_STORE_WRITE));
    CHECK(st_count_entries(st_path(dir, "segments")) == segments);
    CHECK_STATUS(NBR_ECORRUPT, nbr_store_gc(NULL, s));
    CHECK(strstr(nbr_last_error(), keep) != NULL);
    CHECK(st_count_entries(st_path(dir, "segments")) == segments);
    nbr_store_close(s);
    st_remove_tree(dir);
    free(dir);
}

NBR_TEST_MAIN(TEST(test_refs_and_pins_round_trip), TEST(test_gc_keeps_refs_pins_and_newest),
              TEST(test_gc_with_nothing_to_remove), TEST(test_gc_counts_a_carried_manifest_once),
              TEST(test_damaged_rewritten_manifest_keeps_segments))
