/* test_mpi_chunks.c - chunk dedup in collective checkpoints (mpirun -np 2
 * and -np 4), in a store with 4 KiB chunks: every rank puts "same"
 * (identical on all ranks: kept by rank 0, dropped by the others, whose
 * segments are then rewritten), "mine" (its first chunk is the first chunk
 * of "same", so a rank that drops "same" must keep that chunk for "mine")
 * and "solo" (its own).  The first chunk of "mine", new on every rank, is
 * stored once: every rank's "mine" maps rank 0's copy.  A second collective
 * checkpoint changes one chunk of
 * "solo", which then maps the other chunks from the first checkpoint's
 * segments; a GC removes the first checkpoint.  Every rank reads its arrays
 * back after each step and the store verifies. */
#include "mpi_test.h"

#define SAME 4096 /* 8 chunks of 512 float64 */
#define MINE 1024
#define SOLO 2048

static void fill(double *same, double *mine, double *solo)
{
    for (int i = 0; i < SAME; i++) same[i] = i * 0.25;
    for (int i = 0; i < MINE; i++) mine[i] = i < 512 ? same[i] : mt_rank * 1e6 + i;
    for (int i = 0; i < SOLO; i++) solo[i] = mt_rank * 1e7 + i * 3.0;
}

static int reads_as(nbr_store *s, const char *checkpoint, const char *name, const double *want,
                    uint64_t n)
{
    nbr_object_id id;
    int deleted = 1;
    double *back = malloc(n * sizeof *back);
    int ok = back &&
             nbr_mpi_store_resolve(&id, &deleted, s, checkpoint, MPI_COMM_WORLD, name) == NBR_OK &&
             !deleted && nbr_store_read_array(back, n * 8, s, &id, "<f8", 1, &n) == NBR_OK &&
             !memcmp(back, want, n * 8);
    if (!ok) fprintf(stderr, "rank %d: %s as of %s: %s\n", mt_rank, name, checkpoint,
                     nbr_last_error());
    free(back);
    return ok;
}

static void verify_on_rank0(const char *dir)
{
    MPI_Barrier(MPI_COMM_WORLD);
    if (mt_rank == 0) {
        nbr_store *r = NULL;
        char *report = NULL;
        CHECK_OK(nbr_store_open(&r, dir, NBR_STORE_READONLY));
        CHECK_OK(nbr_store_verify(&report, r));
        if (report && *report) fprintf(stderr, "%s", report);
        nbr_free(report);
        nbr_store_close(r);
        CHECK(mt_count(dir, "tmp") == 0);
    }
    MPI_Barrier(MPI_COMM_WORLD);
}

static char *commit_all(nbr_object_id *ids, nbr_store *s, const char *cell, double *same,
                        double *mine, double *solo)
{
    nbr_checkpoint *c = NULL;
    uint64_t n_same = SAME, n_mine = MINE, n_solo = SOLO;
    char *id = NULL;
    CHECK_OK(nbr_mpi_checkpoint_begin(&c, s, MPI_COMM_WORLD, cell, 1, NULL));
    CHECK_OK(nbr_checkpoint_put_array(&ids[0], c, "same", "<f8", 1, &n_same, NULL, same));
    CHECK_OK(nbr_checkpoint_put_array(&ids[1], c, "mine", "<f8", 1, &n_mine, NULL, mine));
    CHECK_OK(nbr_checkpoint_put_array(&ids[2], c, "solo", "<f8", 1, &n_solo, NULL, solo));
    CHECK_OK(nbr_mpi_checkpoint_commit(&id, c));
    return id;
}

/* Rank 0: in the manifest of checkpoint `id`, every rank's "mine" (ids
 * gathered in `mine`) lists the segment of "same" (rank 0's) among its
 * chunk segments: the first chunk, new on every rank, is stored once. */
static void check_first_chunk_shared(const char *dir, const char *id, const nbr_object_id *same,
                                     const nbr_object_id *mine)
{
    char path[1200], hex[33], pattern[100], segment[64] = "";
    snprintf(path, sizeof path, "%s/checkpoints/%s.json", dir, id);
    FILE *f = fopen(path, "rb");
    char *text = calloc(1, 1 << 20);
    CHECK(f && text && fread(text, 1, (1 << 20) - 1, f) > 0);
    if (f) fclose(f);
    nbr_object_id_to_hex(hex, same);
    snprintf(pattern, sizeof pattern, "\"%s\": {\"kind\": \"array\", \"segment\": \"", hex);
    const char *at = text ? strstr(text, pattern) : NULL;
    CHECK(at != NULL);
    if (at) snprintf(segment, sizeof segment, "%.37s", at + strlen(pattern));
    for (int r = 0; at && r < mt_size; r++) {
        nbr_object_id_to_hex(hex, &mine[r]);
        snprintf(pattern, sizeof pattern, "\"%s\": {", hex);
        const char *entry = strstr(text, pattern);
        const char *chunks = entry ? strstr(entry, "\"chunk_segments\"") : NULL;
        const char *end = chunks ? strstr(chunks, "]") : NULL;
        const char *found = chunks ? strstr(chunks, segment) : NULL;
        if (!found || found > end) fprintf(stderr, "rank %d's \"mine\" maps no %s\n", r, segment);
        CHECK(found && found < end);
    }
    free(text);
}

/* Rank 0: in the manifest of checkpoint `id`, every rank's array `now[r]`
 * is chained to that rank's own earlier version `before[r]` (the name it
 * binds is "@<rank>of<size>/solo", not "solo"). */
static void check_chained_to_own_version(const char *dir, const char *id,
                                         const nbr_object_id *now, const nbr_object_id *before)
{
    char path[1200], hex[33], pattern[100];
    snprintf(path, sizeof path, "%s/checkpoints/%s.json", dir, id);
    FILE *f = fopen(path, "rb");
    char *text = calloc(1, 1 << 20);
    CHECK(f && text && fread(text, 1, (1 << 20) - 1, f) > 0);
    if (f) fclose(f);
    for (int r = 0; text && r < mt_size; r++) {
        nbr_object_id_to_hex(hex, &now[r]);
        snprintf(pattern, sizeof pattern, "\"%s\": {", hex);
        const char *entry = strstr(text, pattern);
        const char *end = entry ? strstr(entry, "}") : NULL;
        nbr_object_id_to_hex(hex, &before[r]);
        snprintf(pattern, sizeof pattern, "\"virtual_base\": \"%s\"", hex);
        const char *base = entry ? strstr(entry, pattern) : NULL;
        if (!base || base > end) fprintf(stderr, "rank %d's \"solo\" is not chained to %s\n", r, hex);
        CHECK(base && base < end);
    }
    free(text);
}

int main(int argc, char **argv)
{
    mt_init(&argc, &argv);
    char dir[1024];
    mt_store_dir(dir, sizeof dir, argc > 1 ? argv[1] : NULL);
    nbr_store *s = NULL;
    if (mt_rank == 0) {
        CHECK_OK(nbr_store_open(&s, dir, NBR_STORE_WRITE | NBR_STORE_CREATE));
        CHECK_OK(nbr_store_set_option(s, NBR_STORE_OPT_CHUNK_BYTES, 4096));
    }
    MPI_Barrier(MPI_COMM_WORLD);
    if (mt_rank != 0) CHECK_OK(nbr_store_open(&s, dir, NBR_STORE_RANK));

    double *same = malloc(SAME * 8), *mine = malloc(MINE * 8), *solo = malloc(SOLO * 8);
    CHECK(same && mine && solo);
    fill(same, mine, solo);
    nbr_object_id ids[3], mines[64];
    char *id1 = commit_all(ids, s, "cell-1", same, mine, solo);
    MPI_Gather(&ids[1], sizeof ids[1], MPI_BYTE, mines, sizeof ids[1], MPI_BYTE, 0,
               MPI_COMM_WORLD);
    if (mt_rank == 0) check_first_chunk_shared(dir, id1, &ids[0], mines);
    CHECK(reads_as(s, id1, "same", same, SAME) && reads_as(s, id1, "mine", mine, MINE) &&
          reads_as(s, id1, "solo", solo, SOLO));
    verify_on_rank0(dir);

    /* One chunk of "solo" changes: the rest comes from checkpoint 1, and its
     * virtual dataset maps the rank's own first "solo". */
    nbr_object_id solos[2][64], solo1 = ids[2];
    MPI_Gather(&solo1, sizeof solo1, MPI_BYTE, solos[0], sizeof solo1, MPI_BYTE, 0,
               MPI_COMM_WORLD);
    for (int i = 512; i < 1024; i++) solo[i] = -1.0 * i - mt_rank;
    char *id2 = commit_all(ids, s, "cell-2", same, mine, solo);
    MPI_Gather(&ids[2], sizeof ids[2], MPI_BYTE, solos[1], sizeof ids[2], MPI_BYTE, 0,
               MPI_COMM_WORLD);
    if (mt_rank == 0) check_chained_to_own_version(dir, id2, solos[1], solos[0]);
    CHECK(reads_as(s, id2, "solo", solo, SOLO) && reads_as(s, id2, "mine", mine, MINE));
    verify_on_rank0(dir);

    /* GC drops checkpoint 1: its segments stay while checkpoint 2's arrays
     * map their chunks. */
    nbr_store_close(s);
    MPI_Barrier(MPI_COMM_WORLD);
    if (mt_rank == 0) {
        CHECK_OK(nbr_store_open(&s, dir, NBR_STORE_WRITE));
        CHECK_OK(nbr_store_gc(NULL, s));
        CHECK(nbr_store_checkpoint_count(s) == 1);
    }
    verify_on_rank0(dir);
    if (mt_rank != 0) CHECK_OK(nbr_store_open(&s, dir, NBR_STORE_RANK));
    CHECK(reads_as(s, id2, "solo", solo, SOLO) && reads_as(s, id2, "mine", mine, MINE) &&
          reads_as(s, id2, "same", same, SAME));
    nbr_free(id1);
    nbr_free(id2);
    free(same), free(mine), free(solo);
    nbr_store_close(s);
    MPI_Barrier(MPI_COMM_WORLD);
    if (mt_rank == 0) printf("test_mpi_chunks: %d ranks passed\n", mt_size);
    mt_cleanup();
    MPI_Finalize();
    return 0;
}
