/* nbrewind_mpi.h - collective checkpoints over an MPI communicator.
 *
 * Present when libnbrewind was built with MPI (the CMake option NBR_WITH_MPI);
 * only programs that use it include it, so nothing else needs <mpi.h>.
 *
 * A collective checkpoint is one checkpoint of a store to which every rank of
 * a communicator contributes its own names, in its own namespace.  It is the
 * file-per-process pattern: each rank writes its new objects into a segment
 * file of its own, then one collective commit makes the whole checkpoint
 * visible in one atomic step (the rename of one manifest, by rank 0), or
 * nothing of it.  The library links serial HDF5 only: MPI just coordinates.
 * The store directory must be shared by all ranks (one filesystem).
 *
 * Use: rank 0 opens the store with NBR_STORE_WRITE (it holds the writer
 * lock); every other rank opens the same directory with NBR_STORE_RANK.  Then,
 * on every rank:
 *
 *     nbr_mpi_checkpoint_begin(&c, store, comm, cell_id, count, host_json);
 *     nbr_checkpoint_put_array(NULL, c, "x", ...);   // this rank's names
 *     ...
 *     nbr_mpi_checkpoint_commit(&id, c);             // all or nothing
 *
 * The puts are the ordinary nbr_checkpoint_put_* / nbr_blob_writer_* /
 * nbr_checkpoint_delete calls, local to each rank.  In a collective
 * checkpoint, any failed put (even NBR_EINVAL) fails the rank's part: the
 * commit then fails on every rank.  Rank r's name "x" is recorded as
 * "@<r>of<size>/x" (docs/store-format.md), so that a job of the same size
 * gets each rank's namespace back with nbr_mpi_store_resolve.  An object that
 * several ranks put in the same checkpoint is kept once (the lowest rank's
 * copy).  nbr_checkpoint_commit and nbr_checkpoint_abort must not be used on
 * a collective checkpoint (nbr_mpi_checkpoint_commit/_abort are).
 *
 * If a rank dies during a collective checkpoint, MPI aborts the job; the
 * store then holds no part of that checkpoint that a reader can see, and the
 * next writer to open it removes what was left in tmp/ and segments/. */
#ifndef NBREWIND_MPI_H
#define NBREWIND_MPI_H

#include <mpi.h>

#include "nbrewind.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Begin a collective checkpoint (collective over `comm`).  On rank 0 `store`
 * is opened with NBR_STORE_WRITE, on the others with NBR_STORE_RANK, all on
 * the same directory; the other arguments are as nbr_checkpoint_begin's, and
 * rank 0's `cell_id`, `execution_count` and `host_json` are the ones
 * recorded.  `comm` must stay valid until the commit or abort.  If any rank
 * fails its part of the begin, every rank gets an error (the failing rank its
 * own status, the others NBR_ERROR) whose message names the failed ranks and
 * why, and *out is NULL everywhere. */
NBR_API nbr_status nbr_mpi_checkpoint_begin(nbr_checkpoint **out, nbr_store *store,
                                            MPI_Comm comm, const char *cell_id,
                                            int64_t execution_count, const char *host_json);

/* Commit a collective checkpoint (collective): all or nothing.  Each rank
 * finishes and fsyncs its segment; if every rank's part is good, rank 0 moves
 * the segments into segments/ and renames the one manifest into place, and
 * every rank gets the checkpoint id in *checkpoint_id_out (owned by the
 * caller: nbr_free; may be NULL) and sees the checkpoint in its handle.  If
 * any rank's part failed (a failed put, an open blob writer, an I/O error at
 * the commit, nbr_mpi_checkpoint_abort on some rank), nothing becomes
 * visible, every rank removes what it wrote and gets an error as for
 * nbr_mpi_checkpoint_begin, and the store stays usable.  Frees `checkpoint`
 * whatever happens. */
NBR_API nbr_status nbr_mpi_checkpoint_commit(char **checkpoint_id_out, nbr_checkpoint *checkpoint);

/* Give up a collective checkpoint (collective: it is this rank's part of
 * the commit, voting no).  Every rank's nbr_mpi_checkpoint_commit (or abort)
 * then fails and nothing becomes visible.  Frees `checkpoint`.  Returns
 * NBR_ESTATE (the message naming every rank that failed or aborted). */
NBR_API nbr_status nbr_mpi_checkpoint_abort(nbr_checkpoint *checkpoint);

/* The communicator size a checkpoint was written by (0 for an ordinary
 * checkpoint) in *ranks_out.  NBR_ENOTFOUND for an unknown id, NBR_ECORRUPT
 * for a damaged manifest. */
NBR_API nbr_status nbr_mpi_store_checkpoint_ranks(int *ranks_out, const nbr_store *store,
                                                  const char *checkpoint_id);

/* Resolve this rank's `name` (as nbr_store_resolve, in the namespace of rank
 * `rank` of `comm`'s size) as of the collective checkpoint `checkpoint_id`
 * (NULL: the latest checkpoint, which must then be a collective one).  Not
 * collective.  NBR_EINVAL if the checkpoint was written by a communicator of
 * another size (the message says both sizes) or is not a collective one;
 * otherwise the errors of nbr_store_resolve. */
NBR_API nbr_status nbr_mpi_store_resolve(nbr_object_id *id_out, int *deleted_out,
                                         const nbr_store *store, const char *checkpoint_id,
                                         MPI_Comm comm, const char *name);

#ifdef __cplusplus
}
#endif

#endif
