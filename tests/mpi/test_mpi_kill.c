/* test_mpi_kill.c <store> <mode> - a rank killed (SIGKILL) in the middle of
 * a collective checkpoint.  Checkpoint 1 commits; checkpoint 2 is written by
 * every rank, then one rank dies:
 *
 *   rank-before-commit      the last rank, after its writes, before the
 *                           commit's first vote (the others wait in it)
 *   root-before-commit      rank 0 (the lock holder), likewise
 *   root-at-segment-rename  rank 0 inside the commit, at its second segment
 *                           rename (one segment already in segments/)
 *   root-at-manifest-rename rank 0 at the manifest's rename: every segment
 *                           is in segments/, the manifest still in tmp/
 *
 * The last two crash inside rename() through tests/store/faultshim.c
 * (LD_PRELOAD, errno -9).  Open MPI then aborts the job: this program never
 * exits 0; run_kill.sh expects mpirun to fail and then runs
 * test_mpi_kill_check, which opens the store without MPI. */
#include <dlfcn.h>
#include <signal.h>

#include "mpi_test.h"

#define N 50000

int main(int argc, char **argv)
{
    mt_init(&argc, &argv);
    CHECK(argc == 3);
    const char *mode = argv[2];
    char dir[1024];
    mt_store_dir(dir, sizeof dir, argv[1]);
    nbr_store *s = mt_open(dir);
    double *x = malloc(N * sizeof *x);
    CHECK(x);
    uint64_t shape = N;
    for (int i = 0; i < N; i++) x[i] = mt_rank * 100.0 + i;

    nbr_checkpoint *c = NULL;
    CHECK_OK(nbr_mpi_checkpoint_begin(&c, s, MPI_COMM_WORLD, "cell-1", 1, NULL));
    CHECK_OK(nbr_checkpoint_put_array(NULL, c, "x", "<f8", 1, &shape, NULL, x));
    CHECK_OK(nbr_mpi_checkpoint_commit(NULL, c));

    for (int i = 0; i < N; i++) x[i] = -x[i];
    CHECK_OK(nbr_mpi_checkpoint_begin(&c, s, MPI_COMM_WORLD, "cell-2", 2, NULL));
    CHECK_OK(nbr_checkpoint_put_array(NULL, c, "x", "<f8", 1, &shape, NULL, x));
    CHECK_OK(nbr_checkpoint_put_blob(NULL, c, "y", "raw", "abc", 3));
    MPI_Barrier(MPI_COMM_WORLD); /* every rank has written its part */

    if (!strcmp(mode, "rank-before-commit")) {
        if (mt_rank == mt_size - 1) raise(SIGKILL);
    } else if (!strcmp(mode, "root-before-commit")) {
        if (mt_rank == 0) raise(SIGKILL);
    } else if (!strcmp(mode, "root-at-segment-rename") ||
               !strcmp(mode, "root-at-manifest-rename")) {
        void (*arm)(const char *, const char *, long, int) =
            (void (*)(const char *, const char *, long, int))dlsym(RTLD_DEFAULT, "faultshim_arm");
        CHECK(arm != NULL); /* the shim must be preloaded */
        /* Rank 0 renames every rank's segment (one each here), then the
         * manifest. */
        long nth = !strcmp(mode, "root-at-segment-rename") ? 2 : mt_size + 1;
        if (mt_rank == 0) arm(dir, "rename", nth, -SIGKILL);
    } else {
        CHECK(!"unknown mode");
    }
    nbr_mpi_checkpoint_commit(NULL, c);
    /* Only reached if nobody died: the test wants a crash. */
    fprintf(stderr, "rank %d: the commit returned; nobody was killed\n", mt_rank);
    MPI_Finalize();
    return 3;
}
