/* test_store_gc_crash.c - a child writes checkpoints, moves refs and
 * collects garbage in a loop and is killed with SIGKILL at random instants;
 * after every kill the store opens, verifies, every checkpoint still listed
 * (retained or not yet removed) holds exactly what was put, every ref names
 * one of them, and the next child carries on (its open cleans up). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nbr_test.h"
#include "store_test_util.h"

#define KILLS 20

static void sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

static void fail_child(int code)
{
    fprintf(stderr, "child: %s\n", nbr_last_error());
    _exit(code);
}

/* Three checkpoints, a ref moved to the one before the newest, a pin now
 * and then, a GC; forever. */
static void child(const char *dir)
{
    nbr_store *s = NULL;
    int st;
    while ((st = nbr_store_open(&s, dir, NBR_STORE_WRITE)) == NBR_ELOCKED) sleep_us(1000);
    if (st != NBR_OK) fail_child(2);
    int64_t k = 0;
    size_t n = nbr_store_checkpoint_count(s);
    if (n)
        nbr_store_checkpoint_info(NULL, &k, NULL, NULL, NULL, s,
                                  nbr_store_checkpoint_id(s, n - 1));
    for (;;) {
        for (int i = 0; i < 3; i++)
            if (st_gc_checkpoint(s, ++k) != NBR_OK) fail_child(3);
        n = nbr_store_checkpoint_count(s);
        char ref[16];
        snprintf(ref, sizeof ref, "r%d", (int)(k % 2));
        if (nbr_store_set_ref(s, ref, nbr_store_checkpoint_id(s, n - 2)) != NBR_OK) fail_child(4);
        if (k % 10 < 3 && nbr_store_pin(s, nbr_store_checkpoint_id(s, n - 1)) != NBR_OK)
            fail_child(5);
        if (nbr_store_gc(NULL, s) != NBR_OK) fail_child(6);
    }
}

static void check_refs(nbr_store *s, int kill_no)
{
    for (int r = 0; r < 2; r++) {
        char name[8], *id = NULL;
        snprintf(name, sizeof name, "r%d", r);
        int st = nbr_store_get_ref(&id, s, name);
        if (st == NBR_ENOTFOUND) continue; /* not set yet */
        if (st != NBR_OK || !st_gc_check(s, id)) {
            fprintf(stderr, "after kill %d: ref %s (%s) is wrong: %s\n", kill_no, name,
                    id ? id : "-", nbr_last_error());
            nbr_test_failures++;
        }
        nbr_free(id);
    }
}

/* Everything still listed holds what was put.  Returns the newest k. */
static int64_t check_store(const char *dir, int kill_no, size_t *total)
{
    int64_t newest = 0;
    nbr_store *s = NULL;
    char *report = NULL;
    CHECK_OK(nbr_store_open(&s, dir, NBR_STORE_READONLY));
    size_t count = nbr_store_checkpoint_count(s);
    CHECK(st_count_entries(st_path(dir, "checkpoints")) == (int)count);
    CHECK_OK(nbr_store_verify(&report, s));
    if (report && *report) fprintf(stderr, "after kill %d: %s", kill_no, report);
    nbr_free(report);
    for (size_t i = 0; i < count; i++)
        if (!st_gc_check(s, nbr_store_checkpoint_id(s, i))) {
            fprintf(stderr, "after kill %d: checkpoint %s is wrong (%s)\n", kill_no,
                    nbr_store_checkpoint_id(s, i), nbr_last_error());
            nbr_test_failures++;
        }
    check_refs(s, kill_no);
    *total += count;
    if (count)
        nbr_store_checkpoint_info(NULL, &newest, NULL, NULL, NULL, s,
                                  nbr_store_checkpoint_id(s, count - 1));
    nbr_store_close(s);
    return newest;
}

static void test_gc_killed_at_random_instants(void)
{
    char *dir = st_tempdir("gc-crash");
    nbr_store *s = NULL;
    CHECK_OK(nbr_store_open(&s, dir, NBR_STORE_CREATE | NBR_STORE_WRITE));
    CHECK_OK(nbr_store_set_option(s, NBR_STORE_OPT_CHUNK_BYTES, 4096)); /* chunk dedup */
    nbr_store_close(s);
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    size_t seen = 0;
    int64_t newest = 0;
    long window = 100000; /* widened while the child makes no progress (valgrind) */
    for (int kill_no = 0; kill_no < KILLS && nbr_test_failures == 0; kill_no++) {
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) child(dir);
        sleep_us(window / 5 + rand() % window);
        kill(pid, SIGKILL);
        int status = 0;
        waitpid(pid, &status, 0);
        CHECK(WIFSIGNALED(status)); /* it never stopped on its own (an error) */
        int64_t now = check_store(dir, kill_no, &seen);
        if (now == newest && window < 4000000) window *= 2;
        newest = now;
    }
    /* A writer cleans up what the last kill left, and collects. */
    CHECK_OK(nbr_store_open(&s, dir, NBR_STORE_WRITE));
    CHECK(st_count_entries(st_path(dir, "tmp")) == 0);
    int64_t k = 0;
    size_t n = nbr_store_checkpoint_count(s);
    CHECK(n > 0);
    nbr_store_checkpoint_info(NULL, &k, NULL, NULL, NULL, s, nbr_store_checkpoint_id(s, n - 1));
    CHECK_OK(st_gc_checkpoint(s, k + 1));
    CHECK_OK(nbr_store_gc(NULL, s));
    CHECK_OK(nbr_store_verify(NULL, s));
    printf("%d kills; last writer at checkpoint %lld; %zu checkpoint checks after kills\n", KILLS,
           (long long)k, seen);
    nbr_store_close(s);
    st_remove_tree(dir);
    free(dir);
}

NBR_TEST_MAIN(TEST(test_gc_killed_at_random_instants))
