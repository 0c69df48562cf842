/* mpi.c - collective checkpoints over an MPI communicator (nbrewind_mpi.h).
 *
 * File per process, one collective commit (docs/store-format.md, "Collective
 * checkpoints"):
 *
 *   begin   rank 0 (the writer) broadcasts the seq and a segment suffix; each
 *           rank starts its part, a checkpoint of its own whose segment is
 *           tmp/<seq>-<suffix + rank>.h5; a vote (MPI_Allgather) decides.
 *   puts    local, the ordinary ones: each rank writes its new objects into
 *           its own segment.
 *   commit  vote 1: is every part still good?  Then the ids of the new objects
 *           and chunks are exchanged (MPI_Allgatherv); an object or chunk
 *           several ranks wrote is kept by the lowest of them (the others
 *           unlink the object, or map that rank's copy of the chunk).  Each rank
 *           closes and fsyncs its segment and renders its part (manifest
 *           JSON); vote 2.  Rank 0 gathers the parts, renames the segments
 *           into segments/, writes the one manifest and renames it into
 *           checkpoints/ -- the single visible step -- and broadcasts the
 *           outcome.
 *
 * Only serial HDF5 is used: each rank's segment is its own file.
 * Votes carry each rank's status and message, so that an error on any rank
 * names the failed ranks and why. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "nbrewind_mpi.h"
#include "store_chunks.h"
#include "store_internal.h"
#include "store_io.h"

/* One rank's vote: its status and, on failure, why. */
typedef struct vote {
    int status;
    char message[500];
} vote;

static MPI_Comm comm_of(const nbr_checkpoint *c)
{
    return MPI_Comm_f2c((MPI_Fint)c->mpi_comm);
}

/* Ends the whole job: the ranks cannot stay consistent when one of them
 * cannot go on in the middle of the exchanges.  MPI_Abort is not declared
 * noreturn, and the standard only asks for a best attempt: should it return,
 * this process must not carry on with what it lacks. */
static _Noreturn void abort_job(MPI_Comm comm, const char *why)
{
    fprintf(stderr, "nbrewind: %s in a collective checkpoint\n", why);
    MPI_Abort(comm, 1);
    abort();
}

/* Every rank's vote; NBR_OK if all are good, otherwise records (for
 * nbr_last_error) a message naming every failed rank, and returns this
 * rank's own failure status, or NBR_ERROR if this rank was fine. */
static nbr_status poll(MPI_Comm comm, int rank, int size, nbr_status mine, const char *what)
{
    vote v;
    memset(&v, 0, sizeof v);
    v.status = mine;
    if (mine != NBR_OK) snprintf(v.message, sizeof v.message, "%s", nbr_last_error());
    vote *all = malloc((size_t)size * sizeof *all);
    if (!all) abort_job(comm, "out of memory"); /* cannot even tell the others */
    MPI_Allgather(&v, (int)sizeof v, MPI_BYTE, all, (int)sizeof v, MPI_BYTE, comm);
    nbr_buf b;
    nbr_buf_init(&b);
    int failed = 0;
    for (int r = 0; r < size; r++) {
        if (all[r].status == NBR_OK) continue;
        nbr_buf_printf(&b, "%s rank %d (%s): %s", failed ? ";" : "", r,
                       nbr_status_name((nbr_status)all[r].status), all[r].message);
        failed++;
    }
    free(all);
    if (!failed) {
        nbr_buf_clear(&b);
        return NBR_OK;
    }
    char *text = nbr_buf_take(&b);
    nbr_status st = mine != NBR_OK ? mine : NBR_ERROR;
    nbr_fail(st, "%s: %d of %d ranks failed (rank %d speaking):%s", what, failed, size, rank,
             text ? text : " (no memory for the details)");
    free(text);
    return st;
}

/* ---- begin ------------------------------------------------------------- */

nbr_status nbr_mpi_checkpoint_begin(nbr_checkpoint **out, nbr_store *s, MPI_Comm comm,
                                    const char *cell_id, int64_t execution_count,
                                    const char *host_json)
{
    int rank = 0, size = 0;
    if (out) *out = NULL;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    nbr_status st = NBR_OK;
    if (!out || !s || !cell_id || !*cell_id)
        st = nbr_fail(NBR_EINVAL, "nbr_mpi_checkpoint_begin: out, store or cell_id is NULL or "
                      "empty");
    else if (rank == 0 && s->lock_fd < 0)
        st = nbr_fail(NBR_ESTATE, "%s: rank 0 must open the store with NBR_STORE_WRITE", s->root);
    else if (rank != 0 && !(s->flags & NBR_STORE_RANK))
        st = nbr_fail(NBR_ESTATE, "%s: ranks other than 0 must open the store with "
                      "NBR_STORE_RANK", s->root);
    else if (s->writing)
        st = nbr_fail(NBR_ESTATE, "%s: checkpoint %s is still being written", s->root,
                      s->writing->m.id);
    /* Other ranks catch up with what was committed since they opened, so
     * that their puts find the objects the store already has. */
    if (st == NBR_OK && rank != 0) st = nbr_store_refresh(s);

    /* Rank 0's seq and segment suffix. */
    uint64_t params[2] = {0, 0};
    if (rank == 0 && st == NBR_OK) {
        params[0] = s->last_seq + 1;
        params[1] = nbr_io_random32();
    }
    MPI_Bcast(params, 2, MPI_UINT64_T, 0, comm);
    if (st == NBR_OK && params[0] == 0)
        st = nbr_fail(NBR_ERROR, "rank 0 could not begin the checkpoint");
    if (st == NBR_OK && rank != 0 && s->last_seq >= params[0])
        st = nbr_fail(NBR_ESTATE, "%s: this rank's store handle has checkpoint %" PRIu64
                      " that rank 0's does not: do all ranks open the same store?", s->root,
                      s->last_seq);

    nbr_checkpoint *c = NULL;
    if (st == NBR_OK)
        st = nbr_checkpoint_begin_at(&c, s, cell_id, execution_count, host_json, params[0],
                                     (uint32_t)(params[1] + (uint64_t)rank));
    if (c) {
        c->mpi_rank = rank;
        c->mpi_size = size;
        c->mpi_comm = (int)MPI_Comm_c2f(comm);
    }
    char what[96];
    snprintf(what, sizeof what, "collective checkpoint %016" PRIu64 " not begun", params[0]);
    st = poll(comm, rank, size, st, what);
    if (st != NBR_OK) {
        if (c) nbr_checkpoint_abort(c);
        return st;
    }
    *out = c;
    return NBR_OK;
}

/* ---- commit ------------------------------------------------------------ */

/* Rewrites this rank's segment with only its first `kept` objects and the
 * chunks they map in it (the unlinked objects, and chunks now taken from
 * another rank, would otherwise still take their space in the file): the
 * segment is closed, what remains copied into a new file, which replaces
 * it. */
static nbr_status compact(nbr_checkpoint *c, size_t kept)
{
    nbr_buf b;
    nbr_buf_init(&b);
    nbr_buf_printf(&b, "%s.compact", c->tmp_path);
    char *path = nbr_buf_take(&b);
    if (!path) return nbr_fail_nomem("compacting a segment");
    nbr_segment_out to;
    memset(&to, 0, sizeof to);
    to.file = -1;
    nbr_status st = nbr_segment_finish(&c->out);
    if (st == NBR_OK) st = nbr_segment_create(&to, path);
    if (st == NBR_OK)
        st = nbr_segment_copy_objects(&to, c->tmp_path, c->m.objects, kept, c->segment);
    if (st == NBR_OK) st = nbr_segment_finish(&to);
    else nbr_segment_discard(&to);
    if (st == NBR_OK) st = nbr_io_rename(path, c->tmp_path);
    if (st != NBR_OK) nbr_io_remove(path);
    free(path);
    /* c->out is closed: finish_part has nothing more to close, the file at
     * tmp_path is what gets fsynced. */
    return st;
}

/* Every rank's `count` items of `item` bytes at `mine`, gathered on every
 * rank in rank order (MPI_Allgatherv); (*counts)[r] gets rank r's count.
 * Collective: every rank calls it, whatever its state. */
static void *allgather(int **counts_out, MPI_Comm comm, int size, const void *mine, int count,
                       size_t item)
{
    int *counts = malloc((size_t)size * sizeof *counts);
    int *bytes = malloc((size_t)size * sizeof *bytes);
    int *displs = malloc((size_t)size * sizeof *displs);
    if (!counts || !bytes || !displs) abort_job(comm, "out of memory");
    MPI_Allgather(&count, 1, MPI_INT, counts, 1, MPI_INT, comm);
    long long total = 0;
    for (int r = 0; r < size; r++) {
        displs[r] = (int)(total * (long long)item);
        bytes[r] = counts[r] * (int)item;
        total += counts[r];
    }
    char *all = malloc(total ? (size_t)total * item : 1), dummy = 0;
    if (!all) abort_job(comm, "out of memory");
    MPI_Allgatherv(count ? mine : &dummy, count * (int)item, MPI_BYTE, all, bytes, displs,
                   MPI_BYTE, comm);
    free(bytes);
    free(displs);
    *counts_out = counts;
    return all;
}

/* Drops the objects of this rank's part that a lower rank also wrote
 * (unlinked from the segment, their entries removed); *dropped says
 * whether any was. */
static nbr_status drop_objects(bool *dropped, nbr_checkpoint *c)
{
    MPI_Comm comm = comm_of(c);
    int mine = (int)c->m.object_count, *counts = NULL;
    nbr_object_id *own = malloc((size_t)(mine ? mine : 1) * sizeof *own);
    if (!own) abort_job(comm, "out of memory");
    for (int i = 0; i < mine; i++) own[i] = c->m.objects[i].id;
    nbr_object_id *ids = allgather(&counts, comm, c->mpi_size, own, mine, sizeof *own);
    free(own);

    /* The ids lower ranks wrote. */
    nbr_status st = NBR_OK;
    nbr_object_index lower;
    nbr_object_index_init(&lower);
    long long below = 0;
    for (int r = 0; r < c->mpi_rank; r++) below += counts[r];
    for (long long i = 0; st == NBR_OK && i < below; i++)
        if (!nbr_object_index_add(&lower, &ids[i], 0, 0))
            st = nbr_fail_nomem("comparing the ranks' objects");
    /* Keep the objects no lower rank has, in order. */
    size_t kept = 0;
    for (size_t i = 0; st == NBR_OK && i < c->m.object_count; i++) {
        nbr_object_entry *e = &c->m.objects[i];
        if (nbr_object_index_find(&lower, &e->id)) {
            st = nbr_segment_drop(&c->out, &e->id);
            nbr_object_entry_clear(e);
        } else {
            if (kept != i) c->m.objects[kept] = *e;
            kept++;
        }
    }
    *dropped = st == NBR_OK && kept < c->m.object_count;
    if (st == NBR_OK) c->m.object_count = kept;
    nbr_object_index_clear(&lower);
    free(ids);
    free(counts);
    return st;
}

/* Rank r's segment in this collective checkpoint: rank 0's suffix plus r
 * (nbr_mpi_checkpoint_begin), worked out from this rank's own name
 * ("segments/" + 16 digits + "-" is 26 characters). */
static void rank_segment(char out[64], const char *own, int own_rank, int r)
{
    uint32_t suffix = (uint32_t)strtoul(own + 26, NULL, 16);
    snprintf(out, 64, "%.26s%08" PRIx32 ".h5", own, (uint32_t)(suffix - (uint32_t)(own_rank - r)));
}

/* Chunks this rank wrote that a lower rank wrote too: this rank's arrays
 * map the lowest such rank's copy instead (which that rank keeps: an array
 * there that lists the chunk is kept, or a rank lower still would have
 * written the chunk).  *moved says whether any did.  Collective; a rank
 * whose part already failed (`act` false) takes part and changes nothing. */
static nbr_status share_chunks(bool *moved, nbr_checkpoint *c, bool act)
{
    MPI_Comm comm = comm_of(c);
    int rank = c->mpi_rank, *counts = NULL;
    nbr_own_chunk *all = allgather(&counts, comm, c->mpi_size, c->own_chunk_list,
                                   (int)c->own_chunk_count, sizeof *all);
    char (*segments)[64] = malloc((size_t)(rank ? rank : 1) * sizeof *segments);
    nbr_status st = segments ? NBR_OK : nbr_fail_nomem("comparing the ranks' chunks");
    nbr_object_index lower; /* chunk id -> (rank, index into all) */
    nbr_object_index_init(&lower);
    size_t at = 0;
    for (int r = 0; act && st == NBR_OK && r < rank; r++) {
        rank_segment(segments[r], c->segment, rank, r);
        for (int i = 0; st == NBR_OK && i < counts[r]; i++, at++)
            if (!nbr_object_index_add(&lower, &all[at].id, (size_t)r, at))
                st = nbr_fail_nomem("comparing the ranks' chunks");
    }
    for (size_t i = 0; act && st == NBR_OK && i < c->m.object_count; i++)
        if (c->m.objects[i].chunk_shape)
            st = nbr_chunks_move(moved, &c->m.objects[i], c->segment, &lower, all, segments);
    if (act && st == NBR_OK && *moved)
        st = nbr_chunks_recount(c->m.objects, c->m.object_count, c->segment);
    nbr_object_index_clear(&lower);
    free(segments);
    free(all);
    free(counts);
    return st;
}

/* What another rank has as well: objects are dropped, chunks shared; the
 * segment is then rewritten without what is no longer needed. */
static nbr_status drop_duplicates(nbr_checkpoint *c)
{
    bool dropped = false, moved = false;
    nbr_status st = drop_objects(&dropped, c);
    nbr_status shared = share_chunks(&moved, c, st == NBR_OK);
    if (st == NBR_OK) st = shared;
    if (st == NBR_OK && c->m.object_count > 0 && (dropped || moved))
        st = compact(c, c->m.object_count);
    return st;
}

/* Closes and fsyncs this rank's segment (removed if nothing in it is kept)
 * and renders its part. */
static nbr_status finish_part(char **text, nbr_checkpoint *c)
{
    char committed[32];
    nbr_status st = NBR_OK;
    *text = NULL;
    if (c->m.object_count == 0) {
        /* Nothing of it is kept (or nothing was written). */
        nbr_segment_discard(&c->out);
        nbr_io_remove(c->tmp_path);
    } else {
        st = nbr_segment_finish(&c->out); /* a no-op if compact() closed it */
        if (st == NBR_OK) st = nbr_io_fsync_uncache(c->tmp_path);
    }
    nbr_io_timestamp(committed, sizeof committed);
    if (st == NBR_OK && !c->m.committed && !(c->m.committed = nbr_copy(committed)))
        st = nbr_fail_nomem("committing a checkpoint");
    /* Whole chunk lists: rank 0 parses it without the store's objects. */
    if (st == NBR_OK) st = nbr_manifest_render(text, &c->m, NULL);
    return st;
}

/* Rank 0: the parts (rank 0's own first) merged into the one manifest. */
static nbr_status merge(nbr_manifest *out, nbr_checkpoint *c, nbr_manifest *parts, int size)
{
    nbr_manifest *m = out;
    nbr_manifest_init(m, c->m.seq);
    m->parent = c->m.parent;
    m->execution_count = c->m.execution_count;
    m->ranks = (uint32_t)size;
    m->cell_id = nbr_copy(c->m.cell_id);
    m->started = nbr_copy(c->m.started);
    m->committed = nbr_copy(c->m.committed);
    m->host_json = nbr_copy(c->m.host_json);
    if (!m->cell_id || !m->started || !m->committed || !m->host_json)
        return nbr_fail_nomem("merging a collective checkpoint");
    nbr_buf name;
    nbr_buf_init(&name);
    nbr_status st = NBR_OK;
    for (int r = 0; st == NBR_OK && r < size; r++) {
        nbr_manifest *p = r == 0 ? &c->m : &parts[r];
        for (size_t k = 0; st == NBR_OK && k < p->names.count; k++) {
            nbr_buf_clear(&name);
            nbr_buf_printf(&name, "@%dof%d/%s", r, size, p->names.items[k]);
            char *text = nbr_buf_take(&name);
            if (!text) st = nbr_fail_nomem("merging a collective checkpoint");
            else st = nbr_manifest_bind(m, text, p->deleted[k] ? NULL : &p->ids[k]);
            free(text);
            nbr_buf_init(&name);
        }
        /* Objects: moved (add_object takes the entry's strings). */
        for (size_t i = 0; i < p->object_count; i++) {
            nbr_object_entry e = p->objects[i];
            memset(&p->objects[i], 0, sizeof p->objects[i]);
            if (st == NBR_OK) st = nbr_manifest_add_object(m, &e);
            else nbr_object_entry_clear(&e);
        }
        p->object_count = 0;
    }
    nbr_buf_clear(&name);
    return st;
}

/* Rank 0: moves every rank's segment into segments/ (`moved` records which,
 * for the rollback), then publishes the manifest. */
static nbr_status publish(nbr_checkpoint *c, nbr_manifest *m, char **segments, int size,
                          bool *moved)
{
    nbr_store *s = c->store;
    nbr_status st = NBR_OK;
    for (int r = 0; st == NBR_OK && r < size; r++) {
        if (!segments[r]) continue;
        char tmp_name[64];
        snprintf(tmp_name, sizeof tmp_name, "tmp/%s", segments[r] + strlen("segments/"));
        char *from = nbr_io_join(s->root, tmp_name), *to = nbr_io_join(s->root, segments[r]);
        st = from && to ? nbr_io_rename(from, to) : nbr_fail_nomem("committing a checkpoint");
        if (st == NBR_OK) moved[r] = true;
        free(from);
        free(to);
    }
    char *dir = nbr_io_join(s->root, "segments");
    if (st == NBR_OK) st = dir ? nbr_io_fsync_dir(dir) : nbr_fail_nomem("committing");
    free(dir);
    char *text = NULL;
    nbr_entry_finder bases = nbr_store_finder(s);
    if (st == NBR_OK) st = nbr_manifest_render(&text, m, s->options.lean ? &bases : NULL);
    if (st == NBR_OK) st = nbr_store_publish_manifest(s, m->id, text);
    free(text);
    return st;
}

/* Rank 0: gathers the parts' texts, merges and publishes.  On failure, the
 * segments it moved are removed again (the others' tmp files are removed by
 * their ranks). */
static nbr_status commit_root(nbr_checkpoint *c, const char *own_text, int size)
{
    MPI_Comm comm = comm_of(c);
    int len = (int)strlen(own_text) + 1;
    int *lens = calloc((size_t)size, sizeof *lens), *displs = calloc((size_t)size, sizeof *displs);
    if (!lens || !displs) abort_job(comm, "out of memory");
    MPI_Gather(&len, 1, MPI_INT, lens, 1, MPI_INT, 0, comm);
    size_t total = 0;
    for (int r = 0; r < size; r++) {
        displs[r] = (int)total;
        total += (size_t)lens[r];
    }
    char *all = malloc(total);
    if (!all || total > (size_t)INT32_MAX) abort_job(comm, "cannot gather the manifests");
    MPI_Gatherv(own_text, len, MPI_CHAR, all, lens, displs, MPI_CHAR, 0, comm);

    nbr_status st = NBR_OK;
    nbr_manifest *parts = calloc((size_t)size, sizeof *parts);
    char **segments = calloc((size_t)size, sizeof *segments);
    bool *moved = calloc((size_t)size, sizeof *moved);
    if (!parts || !segments || !moved) st = nbr_fail_nomem("committing a checkpoint");
    for (int r = 0; parts && r < size; r++) nbr_manifest_init(&parts[r], c->m.seq);
    for (int r = 1; st == NBR_OK && r < size; r++) {
        char where[64];
        snprintf(where, sizeof where, "(rank %d's part)", r);
        st = nbr_manifest_parse(&parts[r], all + displs[r], (size_t)lens[r] - 1, where, NULL);
    }
    for (int r = 0; st == NBR_OK && r < size; r++) {
        nbr_manifest *p = r == 0 ? &c->m : &parts[r];
        if (p->object_count && !(segments[r] = nbr_copy(p->objects[0].segment)))
            st = nbr_fail_nomem("committing a checkpoint");
    }
    nbr_manifest *m = malloc(sizeof *m);
    if (!m && st == NBR_OK) st = nbr_fail_nomem("committing a checkpoint");
    if (m) nbr_manifest_init(m, c->m.seq);
    if (st == NBR_OK) st = merge(m, c, parts, size);
    if (st == NBR_OK) st = publish(c, m, segments, size, moved);
    for (int r = 0; st != NBR_OK && moved && r < size; r++) {
        if (!moved[r]) continue;
        char *path = nbr_io_join(c->store->root, segments[r]);
        if (path) nbr_io_remove(path);
        free(path);
    }
    if (st == NBR_OK) {
        st = nbr_store_add_manifest(c->store, m); /* takes it, also on failure */
        m = NULL;
    }
    if (m) {
        nbr_manifest_clear(m);
        free(m);
    }
    for (int r = 0; parts && r < size; r++) nbr_manifest_clear(&parts[r]);
    for (int r = 0; segments && r < size; r++) free(segments[r]);
    free(parts);
    free(segments);
    free(moved);
    free(all);
    free(lens);
    free(displs);
    return st;
}

static nbr_status collective_commit(char **id_out, nbr_checkpoint *c, bool give_up)
{
    MPI_Comm comm = comm_of(c);
    int rank = c->mpi_rank, size = c->mpi_size;
    char what[96];
    snprintf(what, sizeof what, "collective checkpoint %s not committed", c->m.id);

    /* Vote 1: every part still good? */
    nbr_status st = NBR_OK;
    if (give_up)
        st = nbr_fail(NBR_ESTATE, "nbr_mpi_checkpoint_abort was called");
    else if (c->writer)
        st = nbr_fail(NBR_ESTATE, "a blob writer (\"%s\") is still open",
                      nbr_blob_writer_name(c->writer));
    else if (c->failure)
        st = nbr_fail(NBR_ESTATE, "a put failed: %s", c->failure);
    st = poll(comm, rank, size, st, what);
    if (st != NBR_OK) return st;

    /* Identical objects stored once; segments closed and durable. */
    char *text = NULL;
    st = drop_duplicates(c);
    if (st == NBR_OK) st = finish_part(&text, c);
    st = poll(comm, rank, size, st, what);
    if (st != NBR_OK) {
        free(text);
        return st;
    }

    /* Rank 0 makes it visible; the others learn how that went. */
    vote v;
    memset(&v, 0, sizeof v);
    if (rank == 0) {
        v.status = commit_root(c, text, size);
        if (v.status != NBR_OK) snprintf(v.message, sizeof v.message, "%s", nbr_last_error());
    } else {
        int len = (int)strlen(text) + 1;
        MPI_Gather(&len, 1, MPI_INT, NULL, 1, MPI_INT, 0, comm);
        MPI_Gatherv(text, len, MPI_CHAR, NULL, NULL, NULL, MPI_CHAR, 0, comm);
    }
    free(text);
    MPI_Bcast(&v, (int)sizeof v, MPI_BYTE, 0, comm);
    if (v.status != NBR_OK)
        return nbr_fail(rank == 0 ? (nbr_status)v.status : NBR_ERROR, "%s: rank 0 (%s): %s", what,
                        nbr_status_name((nbr_status)v.status), v.message);
    /* So that this handle sees it.  A failed refresh is not reported: the
     * checkpoint is committed all the same, and the next refresh catches up. */
    if (rank != 0) (void)nbr_store_refresh(c->store);
    if (id_out && !(*id_out = nbr_copy(c->m.id))) return nbr_fail_nomem("committing");
    return NBR_OK;
}

static nbr_status finish(char **id_out, nbr_checkpoint *c, bool give_up, const char *fn)
{
    if (id_out) *id_out = NULL;
    if (!c) return nbr_fail(NBR_EINVAL, "%s: checkpoint is NULL", fn);
    if (!c->mpi_size) {
        nbr_checkpoint_abort(c);
        return nbr_fail(NBR_EINVAL, "%s: not a collective checkpoint (it is aborted)", fn);
    }
    nbr_status st = collective_commit(id_out, c, give_up);
    char *why = st != NBR_OK ? nbr_copy(nbr_last_error()) : NULL;
    if (c->writer) nbr_blob_writer_orphan(c->writer);
    nbr_segment_discard(&c->out);
    if (st != NBR_OK && c->tmp_path) nbr_io_remove(c->tmp_path);
    nbr_checkpoint_free(c);
    if (why) nbr_fail(st, "%s", why);
    free(why);
    return st;
}

nbr_status nbr_mpi_checkpoint_commit(char **checkpoint_id_out, nbr_checkpoint *c)
{
    return finish(checkpoint_id_out, c, false, "nbr_mpi_checkpoint_commit");
}

nbr_status nbr_mpi_checkpoint_abort(nbr_checkpoint *c)
{
    return finish(NULL, c, true, "nbr_mpi_checkpoint_abort");
}

/* ---- restore ----------------------------------------------------------- */

nbr_status nbr_mpi_store_checkpoint_ranks(int *ranks_out, const nbr_store *s,
                                          const char *checkpoint_id)
{
    if (ranks_out) *ranks_out = 0;
    if (!ranks_out || !s || !checkpoint_id)
        return nbr_fail(NBR_EINVAL, "nbr_mpi_store_checkpoint_ranks: NULL argument");
    long at = nbr_store_find_checkpoint(s, checkpoint_id);
    if (at < 0) return NBR_ENOTFOUND;
    const nbr_manifest *m = s->checkpoints[at];
    if (m->damaged) return nbr_fail(NBR_ECORRUPT, "checkpoint %s: %s", m->id, m->damaged);
    *ranks_out = (int)m->ranks;
    return NBR_OK;
}

nbr_status nbr_mpi_store_resolve(nbr_object_id *id_out, int *deleted_out, const nbr_store *s,
                                 const char *checkpoint_id, MPI_Comm comm, const char *name)
{
    if (id_out) memset(id_out, 0, sizeof *id_out);
    if (deleted_out) *deleted_out = 0;
    if (!s || !name || !*name)
        return nbr_fail(NBR_EINVAL, "nbr_mpi_store_resolve: store or name is NULL or empty");
    int rank = 0, size = 0;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    long at = checkpoint_id ? nbr_store_find_checkpoint(s, checkpoint_id)
                            : (long)s->checkpoint_count - 1;
    if (at < 0)
        return checkpoint_id ? NBR_ENOTFOUND
                             : nbr_fail(NBR_ENOTFOUND, "%s: the store has no checkpoints", s->root);
    const nbr_manifest *m = s->checkpoints[at];
    if (m->damaged) return nbr_fail(NBR_ECORRUPT, "checkpoint %s: %s", m->id, m->damaged);
    if (m->ranks == 0)
        return nbr_fail(NBR_EINVAL, "checkpoint %s is not a collective (MPI) checkpoint", m->id);
    if ((int)m->ranks != size)
        return nbr_fail(NBR_EINVAL, "checkpoint %s was written by %" PRIu32 " ranks; this "
                        "communicator has %d: a collective checkpoint restores onto the same "
                        "number of ranks", m->id, m->ranks, size);
    nbr_buf b;
    nbr_buf_init(&b);
    nbr_buf_printf(&b, "@%dof%d/%s", rank, size, name);
    char *full = nbr_buf_take(&b);
    if (!full) return nbr_fail_nomem("resolving a name");
    nbr_status st = nbr_store_resolve(id_out, deleted_out, s, m->id, full);
    free(full);
    return st;
}
