/* test_mpi_kill_check.c <store> <ranks> - after test_mpi_kill's job was
 * aborted (no MPI here): the store opens, shows checkpoint 1 only (no
 * partial checkpoint 2), every committed checkpoint verifies and gives each
 * rank's x back, and a writer opens it again (the lock of the dead rank 0 is
 * gone), removes what the killed job left in tmp/ and segments/, and
 * commits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nbrewind.h"

#define N 50000

static int failures;
#define CHECK(cond)                                                                          \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "%s:%d: CHECK(%s) failed; last error: %s\n", __FILE__, __LINE__, \
                    #cond, nbr_last_error());                                                \
            failures++;                                                                      \
        }                                                                                    \
    } while (0)

static int count(const char *dir, const char *sub)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "ls -A '%s/%s' | wc -l", dir, sub);
    FILE *p = popen(cmd, "r");
    int n = -1;
    if (p) {
        if (fscanf(p, "%d", &n) != 1) n = -1;
        pclose(p);
    }
    return n;
}

int main(int argc, char **argv)
{
    if (argc != 3) return 2;
    const char *dir = argv[1];
    int ranks = atoi(argv[2]);
    printf("left by the killed job: %d in tmp/, %d in segments/, %d in checkpoints/\n",
           count(dir, "tmp"), count(dir, "segments"), count(dir, "checkpoints"));

    nbr_store *r = NULL;
    CHECK(nbr_store_open(&r, dir, NBR_STORE_READONLY) == NBR_OK);
    if (!r) return 1;
    CHECK(nbr_store_checkpoint_count(r) == 1);
    CHECK(count(dir, "checkpoints") == 1);
    const char *id = nbr_store_checkpoint_id(r, 0);
    double *back = malloc(N * sizeof *back);
    uint64_t shape = N;
    for (int k = 0; k < ranks; k++) {
        char name[64];
        nbr_object_id got;
        int deleted = 1;
        snprintf(name, sizeof name, "@%dof%d/x", k, ranks);
        CHECK(nbr_store_resolve(&got, &deleted, r, NULL, name) == NBR_OK && !deleted);
        CHECK(nbr_store_read_array(back, N * sizeof *back, r, &got, "<f8", 1, &shape) == NBR_OK);
        CHECK(back[0] == k * 100.0 && back[N - 1] == k * 100.0 + N - 1);
        snprintf(name, sizeof name, "@%dof%d/y", k, ranks);
        CHECK(nbr_store_resolve(NULL, NULL, r, NULL, name) == NBR_ENOTFOUND);
    }
    char *report = NULL;
    CHECK(nbr_store_verify(&report, r) == NBR_OK);
    if (report && *report) fprintf(stderr, "verify: %s\n", report);
    nbr_free(report);
    (void)id;
    nbr_store_close(r);

    /* A writer: the dead job's lock is gone; its leftovers are removed. */
    nbr_store *w = NULL;
    CHECK(nbr_store_open(&w, dir, NBR_STORE_WRITE) == NBR_OK);
    if (!w) return 1;
    CHECK(count(dir, "tmp") == 0);
    CHECK(count(dir, "segments") == ranks); /* checkpoint 1's, one per rank */
    nbr_checkpoint *c = NULL;
    double one = 1.0;
    uint64_t n1 = 1;
    char *id2 = NULL;
    CHECK(nbr_checkpoint_begin(&c, w, "after", 3, NULL) == NBR_OK);
    CHECK(nbr_checkpoint_put_array(NULL, c, "z", "<f8", 1, &n1, NULL, &one) == NBR_OK);
    CHECK(nbr_checkpoint_commit(&id2, c) == NBR_OK);
    CHECK(nbr_store_checkpoint_count(w) == 2);
    CHECK(nbr_store_verify(NULL, w) == NBR_OK);
    nbr_free(id2);
    nbr_store_close(w);
    free(back);
    printf("%s\n", failures ? "FAILED" : "store consistent after the kill");
    return failures ? 1 : 0;
}
