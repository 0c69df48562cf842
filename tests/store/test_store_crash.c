/* test_store_crash.c - a child writes checkpoints in a loop and is killed
 * with SIGKILL at random instants; after every kill the store opens, every
 * committed checkpoint verifies and holds exactly what was put, no partial
 * checkpoint is visible, and the next child carries on writing. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nbr_test.h"
#include "store_test_util.h"

#define KILLS 60

static void sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

/* The content of checkpoint k (1-based), a function of k alone. */
static size_t size_of(int64_t k) { return 1000 + (size_t)(k * 7919 % 20000); }

/* The first 4 KiB chunk is the same in every checkpoint (chunk dedup: each
 * array maps it from the first segment). */
static double value_of(int64_t k, size_t i)
{
    return (i < 512 ? 0.0 : (double)k * 1e6) + (double)i * 0.5;
}

static int write_one(nbr_store *s, int64_t k)
{
    size_t n = size_of(k);
    double *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = value_of(k, i);
    uint64_t shape[1] = {n};
    char host[64], blob[64];
    snprintf(host, sizeof host, "{\"k\": %lld}", (long long)k);
    snprintf(blob, sizeof blob, "blob of checkpoint %lld", (long long)k);
    nbr_checkpoint *c = NULL;
    int st = nbr_checkpoint_begin(&c, s, "cell", k, host);
    if (st == NBR_OK) st = nbr_checkpoint_put_array(NULL, c, "x", "<f8", 1, shape, NULL, x);
    if (st == NBR_OK) st = nbr_checkpoint_put_blob(NULL, c, "b", "raw", blob, strlen(blob));
    if (st == NBR_OK && k % 3 == 0) st = nbr_checkpoint_delete(c, "gone");
    if (st == NBR_OK && k % 3 == 1) st = nbr_checkpoint_put_blob(NULL, c, "gone", "raw", "g", 1);
    if (st == NBR_OK) st = nbr_checkpoint_commit(NULL, c);
    else nbr_checkpoint_abort(c);
    free(x);
    return st;
}

static void child(const char *dir)
{
    nbr_store *s = NULL;
    int st;
    while ((st = nbr_store_open(&s, dir, NBR_STORE_WRITE)) == NBR_ELOCKED) sleep_us(1000);
    if (st != NBR_OK) {
        fprintf(stderr, "child: %s\n", nbr_last_error());
        _exit(2);
    }
    for (int64_t k = (int64_t)nbr_store_checkpoint_count(s) + 1;; k++)
        if (write_one(s, k) != NBR_OK) {
            fprintf(stderr, "child: %s\n", nbr_last_error());
            _exit(3);
        }
}

/* Checkpoint i (0-based) is the (i+1)-th commit, with exactly its content. */
static int check_checkpoint(nbr_store *s, size_t i)
{
    const char *id = nbr_store_checkpoint_id(s, i), *host;
    int64_t k = 0;
    nbr_object_id x;
    if (nbr_store_checkpoint_info(NULL, &k, NULL, NULL, &host, s, id) != NBR_OK) return 0;
    char expected[64];
    snprintf(expected, sizeof expected, "{\"k\":%lld}", (long long)k);
    if (k != (int64_t)i + 1 || strcmp(host, expected) != 0) return 0;
    if (nbr_store_resolve(&x, NULL, s, id, "x") != NBR_OK) return 0;
    size_t n = size_of(k);
    uint64_t shape[1] = {n};
    double *back = malloc(n * sizeof *back);
    int ok = nbr_store_read_array(back, n * sizeof *back, s, &x, "<f8", 1, shape) == NBR_OK;
    for (size_t j = 0; ok && j < n; j++) ok = back[j] == value_of(k, j);
    free(back);
    return ok;
}

static void test_kill_at_random_instants(void)
{
    char *dir = st_tempdir("crash");
    nbr_store *s = NULL;
    CHECK_OK(nbr_store_open(&s, dir, NBR_STORE_CREATE | NBR_STORE_WRITE));
    CHECK_OK(nbr_store_set_option(s, NBR_STORE_OPT_CHUNK_BYTES, 4096)); /* chunk dedup */
    nbr_store_close(s);
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    size_t seen = 0, checked = 0;
    for (int kill_no = 0; kill_no < KILLS && nbr_test_failures == 0; kill_no++) {
        pid_t pid = fork();
        if (pid == 0) child(dir);
        sleep_us(rand() % 60000);
        kill(pid, SIGKILL);
        int status = 0;
        waitpid(pid, &status, 0);
        CHECK(WIFSIGNALED(status)); /* it never stopped on its own (an error) */
        char *report = NULL;
        CHECK_OK(nbr_store_open(&s, dir, NBR_STORE_READONLY));
        size_t count = nbr_store_checkpoint_count(s);
        CHECK(count >= seen);
        CHECK(st_count_entries(st_path(dir, "checkpoints")) == (int)count); /* none partial */
        CHECK_OK(nbr_store_verify(&report, s));
        if (report && *report) fprintf(stderr, "after kill %d: %s", kill_no, report);
        nbr_free(report);
        for (size_t i = checked; i < count; i++) {
            if (!check_checkpoint(s, i)) {
                fprintf(stderr, "after kill %d: checkpoint %zu is wrong (%s)\n", kill_no, i,
                        nbr_last_error());
                nbr_test_failures++;
            }
        }
        checked = seen = count;
        nbr_store_close(s);
    }
    /* A writer cleans up what the last kill left, and carries on. */
    CHECK_OK(nbr_store_open(&s, dir, NBR_STORE_WRITE));
    CHECK(st_count_entries(st_path(dir, "tmp")) == 0);
    CHECK_OK(write_one(s, (int64_t)nbr_store_checkpoint_count(s) + 1));
    CHECK_OK(nbr_store_verify(NULL, s));
    printf("%d kills, %zu checkpoints committed and verified\n", KILLS, seen);
    CHECK(seen > 0);
    nbr_store_close(s);
    st_remove_tree(dir);
    free(dir);
}

NBR_TEST_MAIN(TEST(test_kill_at_random_instants))
