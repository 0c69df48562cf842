/* test_mpi_store.c - a collective checkpoint on every rank of MPI_COMM_WORLD
 * (run under mpirun -np 2 and -np 4): each rank puts arrays and a blob of its
 * own plus one array identical on all ranks, the collective commit gives one
 * checkpoint, each rank resolves and reads back its own namespace (also
 * through a later, incremental checkpoint), the identical array is stored
 * once (one object in the manifest, bytes on disk), a communicator of another
 * size gets a clear error, and the store verifies; after a GC that removes
 * the first checkpoint, each rank still reads its namespace as of the second. */
#include <inttypes.h>
#include <sys/stat.h>

#include "mpi_test.h"

#define OWN 5000
#define SHARED 200000 /* 1.6 MB, incompressible: its copies would show on disk */

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

int main(int argc, char **argv)
{
    mt_init(&argc, &argv);
    char dir[1024];
    mt_store_dir(dir, sizeof dir, argc > 1 ? argv[1] : NULL);
    nbr_store *s = mt_open(dir);

    double *own = malloc(OWN * sizeof *own);
    uint64_t *shared = malloc(SHARED * sizeof *shared);
    CHECK(own && shared);
    for (int i = 0; i < OWN; i++) own[i] = mt_rank * 1e6 + i * 0.5;
    uint64_t seed = 42;
    for (int i = 0; i < SHARED; i++) shared[i] = splitmix(&seed);
    char blob[64];
    snprintf(blob, sizeof blob, "rank %d of %d", mt_rank, mt_size);

    /* Checkpoint 1: own array, shared array, own blob. */
    nbr_checkpoint *c = NULL;
    nbr_object_id own_id, shared_id, blob_id;
    uint64_t own_shape = OWN, shared_shape = SHARED;
    CHECK_OK(nbr_mpi_checkpoint_begin(&c, s, MPI_COMM_WORLD, "cell-1", 1, "{\"ranks\": true}"));
    CHECK_OK(nbr_checkpoint_put_array(&own_id, c, "field", "<f8", 1, &own_shape, NULL, own));
    CHECK_OK(nbr_checkpoint_put_array(&shared_id, c, "params", "<u8", 1, &shared_shape, NULL,
                                      shared));
    CHECK_OK(nbr_checkpoint_put_blob(&blob_id, c, "note", "raw", blob, strlen(blob)));
    char *id1 = NULL;
    CHECK_OK(nbr_mpi_checkpoint_commit(&id1, c));
    CHECK(id1 && strlen(id1) == 16);
    char root_id[17];
    memcpy(root_id, id1, 17);
    MPI_Bcast(root_id, 17, MPI_CHAR, 0, MPI_COMM_WORLD);
    CHECK(strcmp(root_id, id1) == 0); /* the same id everywhere */
    int ranks = 0;
    CHECK_OK(nbr_mpi_store_checkpoint_ranks(&ranks, s, id1));
    CHECK(ranks == mt_size);

    /* Checkpoint 2: a new array; odd ranks delete their note. */
    double more[3] = {mt_rank, -1.0, 2.5};
    uint64_t three = 3;
    CHECK_OK(nbr_mpi_checkpoint_begin(&c, s, MPI_COMM_WORLD, "cell-2", 2, NULL));
    CHECK_OK(nbr_checkpoint_put_array(NULL, c, "more", "<f8", 1, &three, NULL, more));
    if (mt_rank % 2) CHECK_OK(nbr_checkpoint_delete(c, "note"));
    char *id2 = NULL;
    CHECK_OK(nbr_mpi_checkpoint_commit(&id2, c));
    CHECK(strcmp(id2, id1) > 0);

    /* Each rank reads its own namespace back, as of checkpoint 2. */
    nbr_object_id got;
    int deleted = -1;
    CHECK_OK(nbr_mpi_store_resolve(&got, &deleted, s, id2, MPI_COMM_WORLD, "field"));
    CHECK(!deleted && memcmp(&got, &own_id, sizeof got) == 0);
    double *back = malloc(OWN * sizeof *back);
    CHECK(back);
    CHECK_OK(nbr_store_read_array(back, OWN * sizeof *back, s, &got, "<f8", 1, &own_shape));
    CHECK(memcmp(back, own, OWN * sizeof *own) == 0);
    CHECK_OK(nbr_mpi_store_resolve(&got, &deleted, s, NULL, MPI_COMM_WORLD, "params"));
    CHECK(memcmp(&got, &shared_id, sizeof got) == 0);
    uint64_t *shared_back = malloc(SHARED * sizeof *shared_back);
    CHECK(shared_back);
    CHECK_OK(nbr_store_read_array(shared_back, SHARED * 8, s, &got, "<u8", 1, &shared_shape));
    CHECK(memcmp(shared_back, shared, SHARED * 8) == 0);
    double more_back[3];
    CHECK_OK(nbr_mpi_store_resolve(&got, &deleted, s, id2, MPI_COMM_WORLD, "more"));
    CHECK_OK(nbr_store_read_array(more_back, sizeof more_back, s, &got, "<f8", 1, &three));
    CHECK(memcmp(more_back, more, sizeof more) == 0);
    CHECK_OK(nbr_mpi_store_resolve(&got, &deleted, s, id2, MPI_COMM_WORLD, "note"));
    CHECK(deleted == (mt_rank % 2));
    CHECK_OK(nbr_mpi_store_resolve(&got, &deleted, s, id1, MPI_COMM_WORLD, "note"));
    CHECK(!deleted && memcmp(&got, &blob_id, sizeof got) == 0);
    char blob_back[64] = {0};
    CHECK_OK(nbr_store_read_blob(blob_back, sizeof blob_back, s, &got));
    CHECK(strcmp(blob_back, blob) == 0);
    /* Not in checkpoint 1 yet. */
    CHECK(nbr_mpi_store_resolve(&got, &deleted, s, id1, MPI_COMM_WORLD, "more") == NBR_ENOTFOUND);

    /* Another communicator size: a clear error. */
    if (mt_size > 1) {
        CHECK(nbr_mpi_store_resolve(&got, &deleted, s, id2, MPI_COMM_SELF, "field") == NBR_EINVAL);
        char want[128];
        snprintf(want, sizeof want, "written by %d ranks; this communicator has 1", mt_size);
        CHECK(strstr(nbr_last_error(), want) != NULL);
    }
    /* Ordinary checkpoints may not bind names in the ranks' namespaces. */
    MPI_Barrier(MPI_COMM_WORLD);
    if (mt_rank == 0) {
        nbr_checkpoint *plain = NULL;
        CHECK_OK(nbr_checkpoint_begin(&plain, s, "serial", 3, NULL));
        CHECK(nbr_checkpoint_put_array(NULL, plain, "@0of2/x", "<f8", 1, &three, NULL, more) ==
              NBR_EINVAL);
        CHECK_OK(nbr_checkpoint_put_array(NULL, plain, "@rng:numpy", "<f8", 1, &three, NULL, more));
        char *id3 = NULL;
        CHECK_OK(nbr_checkpoint_commit(&id3, plain));
        /* Resolving as of an ordinary checkpoint through the MPI call. */
        CHECK(nbr_mpi_store_resolve(&got, &deleted, s, id3, MPI_COMM_WORLD, "field") ==
              NBR_EINVAL);
        nbr_free(id3);
    }
    MPI_Barrier(MPI_COMM_WORLD);

    /* Rank 0, a reader's view: the identical array is one object, stored
     * once; every rank's names are there; everything verifies. */
    if (mt_rank == 0) {
        nbr_store *r = NULL;
        CHECK_OK(nbr_store_open(&r, dir, NBR_STORE_READONLY));
        char path[1200], *text = NULL, hex[33];
        snprintf(path, sizeof path, "%s/checkpoints/%s.json", dir, id1);
        FILE *f = fopen(path, "rb");
        CHECK(f);
        text = calloc(1, 1 << 20);
        CHECK(text && fread(text, 1, (1 << 20) - 1, f) > 0);
        fclose(f);
        nbr_object_id_to_hex(hex, &shared_id);
        int mentions = 0;
        for (const char *p = text; (p = strstr(p, hex)); p++) mentions++;
        CHECK(mentions == mt_size + 1); /* one binding per rank, one object */
        char want[64];
        snprintf(want, sizeof want, "\"ranks\": %d", mt_size);
        CHECK(strstr(text, want));
        for (int k = 0; k < mt_size; k++) {
            char name[64];
            snprintf(name, sizeof name, "@%dof%d/field", k, mt_size);
            CHECK_OK(nbr_store_resolve(&got, &deleted, r, id1, name));
            double first = 0;
            uint64_t one = 1;
            (void)one;
            CHECK_OK(nbr_store_read_array(back, OWN * sizeof *back, r, &got, "<f8", 1, &own_shape));
            first = back[0];
            CHECK(first == k * 1e6);
        }
        free(text);
        /* Bytes on disk: the segments together hold one copy of the
         * 1.6 MB array (2 MiB in 1 MiB chunks, incompressible), not one per
         * rank (4.2 MB with two). */
        long total = 0;
        int segments = 0;
        snprintf(path, sizeof path, "%s/segments", dir);
        DIR *d = opendir(path);
        CHECK(d != NULL);
        for (struct dirent *e; (e = readdir(d));) {
            if (e->d_name[0] == '.') continue;
            char full[1500];
            snprintf(full, sizeof full, "%s/%s", path, e->d_name);
            total += file_size(full);
            segments++;
        }
        closedir(d);
        printf("%d ranks: %d segment files, %ld bytes\n", mt_size, segments, total);
        CHECK(total > SHARED * 8L && total < 2 * SHARED * 8L);
        char *report = NULL;
        CHECK_OK(nbr_store_verify(&report, r));
        CHECK(report && !*report);
        nbr_free(report);
        nbr_store_close(r);
        CHECK(mt_count(dir, "tmp") == 0);
    }
    /* GC keeping the collective checkpoint 2 (pinned) and the newest: 2 is
     * rewritten self-contained (checkpoint 1 goes), and every rank still
     * resolves and reads its own namespace as of it; then a collective
     * checkpoint on top. */
    nbr_store_close(s);
    MPI_Barrier(MPI_COMM_WORLD);
    if (mt_rank == 0) {
        char *report = NULL;
        CHECK_OK(nbr_store_open(&s, dir, NBR_STORE_WRITE));
        CHECK_OK(nbr_store_pin(s, id2));
        CHECK_OK(nbr_store_gc(&report, s));
        printf("%d ranks, GC: %s", mt_size, report);
        nbr_free(report);
        CHECK(nbr_store_checkpoint_count(s) == 2);
        CHECK_OK(nbr_store_verify(NULL, s));
    }
    MPI_Barrier(MPI_COMM_WORLD);
    if (mt_rank != 0) CHECK_OK(nbr_store_open(&s, dir, NBR_STORE_RANK));
    CHECK(nbr_mpi_store_resolve(&got, &deleted, s, id1, MPI_COMM_WORLD, "field") == NBR_ENOTFOUND);
    CHECK_OK(nbr_mpi_store_resolve(&got, &deleted, s, id2, MPI_COMM_WORLD, "field"));
    CHECK(!deleted && memcmp(&got, &own_id, sizeof got) == 0);
    CHECK_OK(nbr_store_read_array(back, OWN * sizeof *back, s, &got, "<f8", 1, &own_shape));
    CHECK(memcmp(back, own, OWN * sizeof *own) == 0);
    CHECK_OK(nbr_mpi_store_resolve(&got, &deleted, s, id2, MPI_COMM_WORLD, "params"));
    CHECK_OK(nbr_store_read_array(shared_back, SHARED * 8, s, &got, "<u8", 1, &shared_shape));
    CHECK(memcmp(shared_back, shared, SHARED * 8) == 0);
    CHECK_OK(nbr_mpi_store_resolve(&got, &deleted, s, id2, MPI_COMM_WORLD, "note"));
    CHECK(deleted == (mt_rank % 2));
    CHECK_OK(nbr_mpi_checkpoint_begin(&c, s, MPI_COMM_WORLD, "cell-4", 4, NULL));
    CHECK_OK(nbr_checkpoint_put_array(NULL, c, "more", "<f8", 1, &three, NULL, more));
    char *id4 = NULL;
    CHECK_OK(nbr_mpi_checkpoint_commit(&id4, c));
    CHECK_OK(nbr_mpi_store_resolve(&got, &deleted, s, id4, MPI_COMM_WORLD, "field"));
    CHECK(!deleted && memcmp(&got, &own_id, sizeof got) == 0);
    nbr_free(id4);
    nbr_free(id1);
    nbr_free(id2);
    free(own);
    free(shared);
    free(back);
    free(shared_back);
    nbr_store_close(s);
    MPI_Barrier(MPI_COMM_WORLD);
    if (mt_rank == 0) printf("test_mpi_store: %d ranks passed\n", mt_size);
    mt_cleanup();
    MPI_Finalize();
    return 0;
}
