/* test_mpi_faults.c - I/O errors inside the collective commit, injected
 * through tests/store/faultshim.c (LD_PRELOAD): a non-zero rank's segment
 * fsync fails (the second vote), rank 0's rename of a segment fails
 * half-way, and rank 0's rename of the manifest fails.  Each time every rank
 * gets an error naming the failed rank and the file, nothing is visible,
 * what was moved into segments/ is taken back, tmp/ is empty, and the next
 * collective checkpoint commits. */
#include <dlfcn.h>
#include <errno.h>

#include "mpi_test.h"

#define N 30000

typedef void (*arm_fn)(const char *, const char *, long, int);

int main(int argc, char **argv)
{
    mt_init(&argc, &argv);
    arm_fn arm = (arm_fn)dlsym(RTLD_DEFAULT, "faultshim_arm");
    void (*disarm)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "faultshim_disarm");
    CHECK(arm && disarm); /* the shim must be preloaded */
    char dir[1024];
    mt_store_dir(dir, sizeof dir, argc > 1 ? argv[1] : NULL);
    nbr_store *s = mt_open(dir);
    double *x = malloc(N * sizeof *x);
    CHECK(x);
    uint64_t shape = N;
    int victim = mt_size - 1;

    nbr_checkpoint *c = NULL;
    for (int i = 0; i < N; i++) x[i] = mt_rank * 1000.0 + i; /* distinct across ranks and rounds */
    CHECK_OK(nbr_mpi_checkpoint_begin(&c, s, MPI_COMM_WORLD, "cell-1", 1, NULL));
    CHECK_OK(nbr_checkpoint_put_array(NULL, c, "x", "<f8", 1, &shape, NULL, x));
    CHECK_OK(nbr_mpi_checkpoint_commit(NULL, c));
    MPI_Barrier(MPI_COMM_WORLD);
    int segments = mt_count(dir, "segments");
    CHECK(segments == mt_size);

    static const struct {
        const char *what, *ops;
        int root; /* armed on rank 0, else on `victim` */
        long nth; /* 0: mt_size + 1 (the manifest's rename) */
        const char *expect;
    } faults[] = {
        {"a segment's fsync", "fsync", 0, 1, "Input/output error"},
        {"a segment's rename", "rename", 1, 2, "Input/output error"},
        {"the manifest's rename", "rename", 1, 0, "Input/output error"},
    };
    for (size_t f = 0; f < sizeof faults / sizeof faults[0]; f++) {
        for (int i = 0; i < N; i++) x[i] += 1;
        CHECK_OK(nbr_mpi_checkpoint_begin(&c, s, MPI_COMM_WORLD, "cell-f", 2, NULL));
        CHECK_OK(nbr_checkpoint_put_array(NULL, c, "x", "<f8", 1, &shape, NULL, x));
        int armed_here = faults[f].root ? mt_rank == 0 : mt_rank == victim;
        if (armed_here)
            arm(dir, faults[f].ops, faults[f].nth ? faults[f].nth : mt_size + 1, EIO);
        nbr_status st = nbr_mpi_checkpoint_commit(NULL, c);
        if (armed_here) disarm();
        CHECK(st != NBR_OK);
        CHECK(strstr(nbr_last_error(), faults[f].expect));
        char want[64];
        snprintf(want, sizeof want, "rank %d (NBR_EIO)", faults[f].root ? 0 : victim);
        CHECK(strstr(nbr_last_error(), want));
        if (mt_rank == 0) printf("%s failing: %s\n", faults[f].what, nbr_last_error());
        MPI_Barrier(MPI_COMM_WORLD);
        CHECK(mt_count(dir, "checkpoints") == 1);
        CHECK(mt_count(dir, "segments") == segments);
        CHECK(mt_count(dir, "tmp") == 0);
        CHECK(nbr_store_checkpoint_count(s) == 1);
        MPI_Barrier(MPI_COMM_WORLD);
    }

    /* Still usable. */
    char *id = NULL;
    CHECK_OK(nbr_mpi_checkpoint_begin(&c, s, MPI_COMM_WORLD, "cell-ok", 3, NULL));
    CHECK_OK(nbr_checkpoint_put_array(NULL, c, "x", "<f8", 1, &shape, NULL, x));
    CHECK_OK(nbr_mpi_checkpoint_commit(&id, c));
    nbr_object_id got;
    double *back = malloc(N * sizeof *back);
    CHECK(back);
    CHECK_OK(nbr_mpi_store_resolve(&got, NULL, s, id, MPI_COMM_WORLD, "x"));
    CHECK_OK(nbr_store_read_array(back, N * sizeof *back, s, &got, "<f8", 1, &shape));
    CHECK(memcmp(back, x, N * sizeof *x) == 0);
    if (mt_rank == 0) CHECK_OK(nbr_store_verify(NULL, s));
    nbr_free(id);
    free(x);
    free(back);
    nbr_store_close(s);
    MPI_Barrier(MPI_COMM_WORLD);
    if (mt_rank == 0) printf("test_mpi_faults: %d ranks passed\n", mt_size);
    mt_cleanup();
    MPI_Finalize();
    return 0;
}
