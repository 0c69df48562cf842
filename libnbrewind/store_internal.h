/* store_internal.h - the store handle and a checkpoint being written, shared
 * by store.c (open, format, lock, commit) and store_query.c (reads). */
#ifndef NBR_STORE_INTERNAL_H
#define NBR_STORE_INTERNAL_H

#include <hdf5.h>
#include <stdbool.h>

#include "alloc.h"
#include "store_chunks.h"
#include "store_index.h"
#include "store_manifest.h"
#include "store_segment.h"
#include "strset.h"

/* Where one name is bound: (checkpoint index, binding index) in increasing
 * checkpoint order (nbr_store_resolve's binary search). */
typedef struct nbr_name_history {
    size_t *checkpoint;
    size_t *binding;
    size_t count, cap;
} nbr_name_history;

struct nbr_store {
    char *root;
    unsigned flags;
    int lock_fd;          /* -1 unless this handle is the writer */
    bool created;         /* this handle wrote FORMAT: options may still change */
    nbr_store_options options;
    nbr_manifest **checkpoints; /* by seq, oldest first; damaged ones included */
    nbr_arena index_strings; /* strings and shapes of the manifests loaded from INDEX */
    size_t checkpoint_count;
    size_t checkpoint_cap;
    uint64_t last_seq;    /* the highest manifest seq seen */
    nbr_object_index objects; /* id -> (checkpoint, entry) */
    nbr_object_index chunks;  /* chunk id -> (checkpoint, entry, part): chunk dedup */
    nbr_strset segment_names; /* open segment files, for reading */
    hid_t *segment_files;
    size_t segment_cap;
    nbr_checkpoint *writing; /* the checkpoint in progress, if any */
    uint64_t index_seq;   /* the seq INDEX covers as this handle last read or wrote it; 0: none */
    bool index_fresh;     /* INDEX, as loaded, holds exactly these manifests and passes the
                           * readers' fast check: nothing to rewrite at close */
    /* Per-name histories of checkpoints [0, history_upto), built by the
     * second resolve that does not find its name near the end (the first
     * walks back all the way), then kept up to date by later ones; dropped
     * with the manifests. */
    nbr_strset history_names;
    nbr_name_history *histories; /* per history_names entry */
    size_t history_cap;
    size_t *damaged_at;   /* indices of damaged manifests, increasing */
    size_t damaged_count, damaged_cap;
    size_t history_upto;
    bool history_built;
    bool history_wanted; /* a resolve walked back further than RESOLVE_WALK */
};

struct nbr_checkpoint {
    nbr_store *store;
    nbr_manifest m;       /* seq, metadata, bindings, the objects it wrote */
    nbr_object_index own; /* ids of m.objects */
    /* Chunks written into this segment: id -> (0, i), own_chunk_list[i].
     * Kept apart from the entries, so that a chunk an array wrote before its
     * put failed is still known (it is in the file). */
    nbr_object_index own_chunks;
    nbr_own_chunk *own_chunk_list;
    size_t own_chunk_count, own_chunk_cap;
    char segment[64];     /* "segments/<seq>-<rand>.h5" */
    char *tmp_path;       /* where the segment is being written */
    nbr_segment_out out;  /* out.file is -1 until the first new object */
    char *failure;        /* set when a write failed: only abort remains */
    nbr_blob_writer *writer; /* the open blob writer, if any */
    unsigned streams;     /* blob writers begun, for their temporary names */
    /* A rank's part of a collective checkpoint (mpi.c); mpi_size is 0 for an
     * ordinary checkpoint.  The communicator is kept as its Fortran handle
     * (MPI_Comm_c2f) so that this header needs no mpi.h. */
    int mpi_rank, mpi_size;
    int mpi_comm;
};

/* Begins a checkpoint with the given seq and segment name suffix (`rand`);
 * no check of the store's mode (the callers do that).  nbr_checkpoint_begin
 * and nbr_mpi_checkpoint_begin. */
nbr_status nbr_checkpoint_begin_at(nbr_checkpoint **out, nbr_store *s, const char *cell_id,
                                   int64_t execution_count, const char *host_json, uint64_t seq,
                                   uint32_t rand);
/* Frees a checkpoint (its segment must be closed or discarded already). */
void nbr_checkpoint_free(nbr_checkpoint *c);
/* Step 2 of a commit: the manifest text written to tmp/, renamed into
 * checkpoints/<id>.json, the directory fsynced. */
nbr_status nbr_store_publish_manifest(nbr_store *s, const char *id, const char *text);

/* Whether `name` is spelled like a rank's name in a collective checkpoint
 * ("@<rank>of<size>/..."): ordinary checkpoints may not bind those. */
bool nbr_mpi_name_reserved(const char *name);

/* Shared by the puts (store_checkpoint.c) and the blob writer (store_blob.c). */
nbr_status nbr_checkpoint_check_put(nbr_checkpoint *c, const char *name, const char *fn);
bool nbr_checkpoint_has_object(const nbr_checkpoint *c, const nbr_object_id *id);
/* A write failure poisons the checkpoint (its segment is in an unknown
 * state): only abort remains.  Returns `status`. */
nbr_status nbr_checkpoint_poison(nbr_checkpoint *c, nbr_status status);
/* Creates the checkpoint's segment file on first use. */
nbr_status nbr_checkpoint_open_segment(nbr_checkpoint *c);
/* Records an object just written into the segment: a complete entry (taken
 * over, also on failure). */
nbr_status nbr_checkpoint_record_entry(nbr_checkpoint *c, nbr_object_entry *e);
/* Records an object just written into the segment. */
nbr_status nbr_checkpoint_record(nbr_checkpoint *c, const nbr_object_id *id, nbr_object_kind kind,
                                 const char *type, size_t ndim, const uint64_t *shape,
                                 uint64_t logical_bytes, uint64_t stored_bytes);

/* The name a blob writer binds; and cutting a writer loose from a checkpoint
 * that is being aborted (its later calls fail with NBR_ESTATE). */
const char *nbr_blob_writer_name(const nbr_blob_writer *writer);
void nbr_blob_writer_orphan(nbr_blob_writer *writer);

/* The index of the checkpoint with this id, or -1 (with NBR_ENOTFOUND set). */
long nbr_store_find_checkpoint(const nbr_store *store, const char *checkpoint_id);

/* The object entry of `id`, or NULL. */
const nbr_object_entry *nbr_store_find_object(const nbr_store *store, const nbr_object_id *id);

/* Where lean manifests of this store find their chained arrays' bases: the
 * store's objects. */
nbr_entry_finder nbr_store_finder(const nbr_store *store);

/* The open HDF5 file of a committed segment (opened on first use, cached). */
nbr_status nbr_store_segment(hid_t *out, nbr_store *store, const char *segment);

/* Reads and parses the manifest file `path` (plain, or carried by its
 * segment), lean entries completed from the store's objects. */
nbr_status nbr_store_read_manifest(nbr_manifest *m, const nbr_store *s, const char *path);

/* Adds a parsed or just-committed manifest (taking ownership) and indexes
 * its objects. */
nbr_status nbr_store_add_manifest(nbr_store *store, nbr_manifest *manifest);

/* What a killed or failed writer (or GC) left: files in tmp/, segments that
 * no manifest names.  Writers only (store.c; also the last step of a GC). */
nbr_status nbr_store_clean_up(const nbr_store *store);

/* Forgets every manifest and open segment (their files may be gone). */
void nbr_store_forget_manifests(nbr_store *store);

/* Drops the per-name histories (store_query.c). */
void nbr_store_forget_history(nbr_store *store);

/* A writer's upkeep of INDEX: rewritten when at least `stale` checkpoints
 * are not in it; with stale 0, whenever it differs from what the writer
 * holds.  Failures are ignored (the index is only a cache). */
void nbr_store_update_index(nbr_store *store, uint64_t stale);

/* Drops every manifest and open segment and reads the manifests again (after
 * a GC rewrote and removed some); last_seq never goes back. */
nbr_status nbr_store_reload(nbr_store *store);

#endif
