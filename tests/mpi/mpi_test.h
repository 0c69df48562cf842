/* mpi_test.h - what the MPI tests share: checks that name the rank and take
 * the whole job down (mpirun then fails), and a store directory every rank
 * agrees on. */
#ifndef NBR_MPI_TEST_H
#define NBR_MPI_TEST_H

#include <dirent.h>
#include <ftw.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nbrewind_mpi.h"

static int mt_rank, mt_size;
static char mt_made[1024]; /* the directory mt_store_dir made, if any */

#define CHECK(cond)                                                                          \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "rank %d: %s:%d: CHECK(%s) failed; last error: %s\n", mt_rank,   \
                    __FILE__, __LINE__, #cond, nbr_last_error());                            \
            fflush(stderr);                                                                  \
            MPI_Abort(MPI_COMM_WORLD, 1);                                                    \
        }                                                                                    \
    } while (0)
#define CHECK_OK(call) CHECK((call) == NBR_OK)

static inline void mt_init(int *argc, char ***argv)
{
    MPI_Init(argc, argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &mt_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &mt_size);
}

/* `dir` (from argv) if given, else a fresh directory made by rank 0; the
 * same path on every rank. */
static inline void mt_store_dir(char *out, size_t size, const char *dir)
{
    if (mt_rank == 0) {
        if (dir) {
            snprintf(out, size, "%s", dir);
        } else {
            const char *tmp = getenv("TMPDIR");
            snprintf(out, size, "%s/nbr-mpi-XXXXXX", tmp && *tmp ? tmp : "/tmp");
            CHECK(mkdtemp(out) != NULL);
            snprintf(mt_made, sizeof mt_made, "%s", out);
            strncat(out, "/store", size - strlen(out) - 1);
        }
    }
    MPI_Bcast(out, (int)size, MPI_CHAR, 0, MPI_COMM_WORLD);
}

static int mt_unlink(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Rank 0 removes the directory mt_store_dir made (after the others are done
 * with it). */
static inline void mt_cleanup(void)
{
    MPI_Barrier(MPI_COMM_WORLD);
    if (mt_rank == 0 && mt_made[0]) nftw(mt_made, mt_unlink, 16, FTW_DEPTH | FTW_PHYS);
}

/* Rank 0 creates (or opens) the store as the writer; then the others open
 * it for their part. */
static inline nbr_store *mt_open(const char *dir)
{
    nbr_store *s = NULL;
    if (mt_rank == 0) CHECK_OK(nbr_store_open(&s, dir, NBR_STORE_WRITE | NBR_STORE_CREATE));
    MPI_Barrier(MPI_COMM_WORLD);
    if (mt_rank != 0) CHECK_OK(nbr_store_open(&s, dir, NBR_STORE_RANK));
    return s;
}

/* Entries of `dir`/`sub` (no . and ..), -1 if it cannot be read.  No
 * popen: a shell would inherit the fault shim's LD_PRELOAD. */
static inline int mt_count(const char *dir, const char *sub)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, sub);
    DIR *d = opendir(path);
    if (!d) return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

#endif
