/* test_mpi_fail.c - a rank whose part fails in the middle of a collective
 * checkpoint (a put with a wrong dtype, between good puts on every rank):
 * every rank's commit fails, naming that rank; nothing is visible after
 * (no manifest, no segment, tmp/ empty); the store stays usable and the next
 * collective checkpoint commits.  Then the same through
 * nbr_mpi_checkpoint_abort on one rank, and a begin refused on one rank. */
#include "mpi_test.h"

#define N 20000

static int manifests(const char *dir) { return mt_count(dir, "checkpoints"); }

int main(int argc, char **argv)
{
    mt_init(&argc, &argv);
    char dir[1024];
    mt_store_dir(dir, sizeof dir, argc > 1 ? argv[1] : NULL);
    nbr_store *s = mt_open(dir);
    int bad = mt_size - 1; /* the failing rank */
    double *x = malloc(N * sizeof *x);
    CHECK(x);
    for (int i = 0; i < N; i++) x[i] = mt_rank + i * 1e-3;
    uint64_t shape = N;

    /* 1: a good collective checkpoint. */
    nbr_checkpoint *c = NULL;
    char *id1 = NULL;
    CHECK_OK(nbr_mpi_checkpoint_begin(&c, s, MPI_COMM_WORLD, "cell-1", 1, NULL));
    CHECK_OK(nbr_checkpoint_put_array(NULL, c, "x", "<f8", 1, &shape, NULL, x));
    CHECK_OK(nbr_mpi_checkpoint_commit(&id1, c));
    MPI_Barrier(MPI_COMM_WORLD);
    int segments_after_1 = mt_count(dir, "segments");
    CHECK(manifests(dir) == 1 && segments_after_1 == mt_size);

    /* 2: rank `bad` puts a wrong dtype in the middle of good puts. */
    for (int i = 0; i < N; i++) x[i] += 1;
    CHECK_OK(nbr_mpi_checkpoint_begin(&c, s, MPI_COMM_WORLD, "cell-2", 2, NULL));
    CHECK_OK(nbr_checkpoint_put_array(NULL, c, "x", "<f8", 1, &shape, NULL, x));
    if (mt_rank == bad) {
        CHECK(nbr_checkpoint_put_array(NULL, c, "y", "<q9", 1, &shape, NULL, x) == NBR_EINVAL);
        /* Later puts of the failed part are refused. */
        CHECK(nbr_checkpoint_put_blob(NULL, c, "z", "raw", "z", 1) == NBR_ESTATE);
    } else {
        CHECK_OK(nbr_checkpoint_put_blob(NULL, c, "z", "raw", "z", 1));
    }
    /* The segments are being written in tmp/ right now. */
    MPI_Barrier(MPI_COMM_WORLD);
    if (mt_rank == 0) CHECK(mt_count(dir, "tmp") == mt_size);
    MPI_Barrier(MPI_COMM_WORLD);
    char *id2 = (char *)"unchanged";
    nbr_status st = nbr_mpi_checkpoint_commit(&id2, c);
    CHECK(st != NBR_OK && id2 == NULL);
    CHECK(st == (mt_rank == bad ? NBR_ESTATE : NBR_ERROR));
    char want[64];
    snprintf(want, sizeof want, "1 of %d ranks failed", mt_size);
    CHECK(strstr(nbr_last_error(), want));
    snprintf(want, sizeof want, "rank %d (NBR_ESTATE)", bad);
    CHECK(strstr(nbr_last_error(), want));
    CHECK(strstr(nbr_last_error(), "<q9"));
    if (mt_rank == 0) printf("rank 0 was told: %s\n", nbr_last_error());
    MPI_Barrier(MPI_COMM_WORLD);
    /* Nothing visible, nothing left. */
    CHECK(manifests(dir) == 1 && mt_count(dir, "segments") == segments_after_1);
    CHECK(mt_count(dir, "tmp") == 0);
    CHECK(nbr_store_checkpoint_count(s) == 1);
    nbr_object_id got;
    int deleted = 0;
    CHECK(nbr_mpi_store_resolve(&got, &deleted, s, NULL, MPI_COMM_WORLD, "z") == NBR_ENOTFOUND);

    /* 3: one rank gives up with nbr_mpi_checkpoint_abort. */
    CHECK_OK(nbr_mpi_checkpoint_begin(&c, s, MPI_COMM_WORLD, "cell-3", 3, NULL));
    CHECK_OK(nbr_checkpoint_put_array(NULL, c, "x", "<f8", 1, &shape, NULL, x));
    if (mt_rank == 0) st = nbr_mpi_checkpoint_abort(c);
    else st = nbr_mpi_checkpoint_commit(NULL, c);
    CHECK(st == (mt_rank == 0 ? NBR_ESTATE : NBR_ERROR));
    CHECK(strstr(nbr_last_error(), "nbr_mpi_checkpoint_abort was called"));
    MPI_Barrier(MPI_COMM_WORLD);
    CHECK(manifests(dir) == 1 && mt_count(dir, "tmp") == 0);

    /* 4: a begin refused on one rank (an empty cell id there) fails on
     * every rank, and no checkpoint is left open anywhere. */
    c = (nbr_checkpoint *)&st; /* overwritten with NULL */
    st = nbr_mpi_checkpoint_begin(&c, s, MPI_COMM_WORLD, mt_rank == bad ? "" : "cell-4", 4, NULL);
    CHECK(st == (mt_rank == bad ? NBR_EINVAL : NBR_ERROR) && c == NULL);
    snprintf(want, sizeof want, "rank %d (NBR_EINVAL)", bad);
    CHECK(strstr(nbr_last_error(), want));

    /* 5: the store is still usable: the next collective checkpoint commits
     * and each rank gets its new x back. */
    char *id5 = NULL;
    CHECK_OK(nbr_mpi_checkpoint_begin(&c, s, MPI_COMM_WORLD, "cell-5", 5, NULL));
    CHECK_OK(nbr_checkpoint_put_array(NULL, c, "x", "<f8", 1, &shape, NULL, x));
    CHECK_OK(nbr_mpi_checkpoint_commit(&id5, c));
    double *back = malloc(N * sizeof *back);
    CHECK(back);
    CHECK_OK(nbr_mpi_store_resolve(&got, &deleted, s, id5, MPI_COMM_WORLD, "x"));
    CHECK_OK(nbr_store_read_array(back, N * sizeof *back, s, &got, "<f8", 1, &shape));
    CHECK(memcmp(back, x, N * sizeof *x) == 0);
    CHECK_OK(nbr_mpi_store_resolve(&got, &deleted, s, id1, MPI_COMM_WORLD, "x"));
    CHECK_OK(nbr_store_read_array(back, N * sizeof *back, s, &got, "<f8", 1, &shape));
    CHECK(back[0] == mt_rank);
    MPI_Barrier(MPI_COMM_WORLD);
    CHECK(manifests(dir) == 2);
    if (mt_rank == 0) {
        char *report = NULL;
        CHECK_OK(nbr_store_verify(&report, s));
        nbr_free(report);
    }
    nbr_free(id1);
    nbr_free(id5);
    free(x);
    free(back);
    nbr_store_close(s);
    MPI_Barrier(MPI_COMM_WORLD);
    if (mt_rank == 0) printf("test_mpi_fail: %d ranks passed\n", mt_size);
    mt_cleanup();
    MPI_Finalize();
    return 0;
}
