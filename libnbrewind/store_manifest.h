/* store_manifest.h - a checkpoint's manifest in memory, and its JSON form
 * (private).  docs/store-format.md ("Manifests") is the format. */
#ifndef NBR_STORE_MANIFEST_H
#define NBR_STORE_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alloc.h"
#include "buf.h"
#include "json.h"
#include "strset.h"

/* One chunk of a chunk-deduplicated array: the dataset /chunks/<id> of the
 * segment chunk_segments[segment] of its entry. */
typedef struct nbr_chunk_ref {
    nbr_object_id id;
    uint32_t segment;      /* index into the entry's chunk_segments */
    uint64_t stored_bytes; /* the chunk dataset's storage size */
} nbr_chunk_ref;

/* One object a checkpoint first stored. */
typedef struct nbr_object_entry {
    nbr_object_id id;
    nbr_object_kind kind;
    char *type;      /* dtype (arrays) or codec (blobs) */
    size_t ndim;
    uint64_t *shape; /* ndim entries; blobs: {size} */
    uint64_t logical_bytes;
    uint64_t stored_bytes;
    char *segment;   /* "segments/<seq>-<rand>.h5", relative to the store */
    /* type, shape and segment lie in the store's arena (an entry loaded from
     * INDEX): not freed with the entry. */
    bool borrowed;
    /* Chunk dedup (arrays only; chunk_shape NULL: one plain dataset).  The
     * array's chunks in C order of the chunk grid, and the distinct
     * segments that hold them. */
    uint64_t *chunk_shape;  /* ndim entries */
    nbr_chunk_ref *chunks;
    size_t chunk_count;
    char **chunk_segments;
    size_t chunk_segment_count;
    /* Chained (chunk dedup): the virtual dataset maps a run of boxes this
     * array shares with the array `base` (an earlier version of it) to
     * base's virtual dataset rather than to the chunks, so its segment
     * depends on base's segment and whatever base depends on. */
    bool chained;
    nbr_object_id base;
    /* While written: where base's virtual dataset is, and which boxes map
     * to it (chunk_count flags, 1 where this array's chunk is base's). */
    char *base_segment;
    unsigned char *base_shared;
    /* Read in lean form and not completed yet (base_pending): `chunks` is
     * NULL, and the boxes whose chunk differs from base's wait here, in
     * increasing box order, to be laid over a copy of base's list (whose
     * size, not this entry's claims, then bounds what is allocated). */
    bool base_pending;
    uint64_t *changed_boxes;
    nbr_chunk_ref *changed;
    size_t changed_count;
} nbr_object_entry;

/* Where a lean manifest's chained arrays find their bases' entries: first
 * the manifest itself, then `find` (NULL: nowhere else), called with
 * `context`. */
typedef struct nbr_entry_finder {
    const nbr_object_entry *(*find)(const void *context, const nbr_object_id *id);
    const void *context;
} nbr_entry_finder;

typedef struct nbr_manifest {
    uint64_t seq;
    uint64_t parent;
    char id[24];     /* seq as 16 digits: the checkpoint id */
    char *cell_id;
    int64_t execution_count;
    char *started;
    char *committed;
    char *host_json; /* compact JSON text, "null" if none */
    nbr_strset names;        /* bound or deleted names, in order */
    nbr_object_id *ids;      /* per name; zeros when deleted */
    bool *deleted;           /* per name */
    size_t binding_cap;
    nbr_object_entry *objects;
    size_t object_count;
    size_t object_cap;
    uint32_t ranks;  /* a collective checkpoint's communicator size; 0 otherwise */
    char *damaged;   /* non-NULL: the manifest could not be read; why */
    /* cell_id, started, committed, host_json, the names and the arrays ids,
     * deleted and objects (exactly as long as needed) lie in the store's arena (a
     * manifest loaded from INDEX, nbr_manifest_borrow): not freed with the
     * manifest, and the manifest takes no more bindings or objects. */
    bool borrowed;
} nbr_manifest;

void nbr_manifest_init(nbr_manifest *m, uint64_t seq);
void nbr_manifest_clear(nbr_manifest *m);
void nbr_object_entry_clear(nbr_object_entry *e);

/* A deep copy of an entry (GC's self-contained manifests). */
nbr_status nbr_object_entry_copy(nbr_object_entry *out, const nbr_object_entry *e);

/* The index of `segment` in the entry's chunk_segments, appended if new
 * (`cap`: the list's capacity, grown as NBR_RESERVE grows it). */
nbr_status nbr_entry_segment_index(uint32_t *out, nbr_object_entry *e, size_t *cap,
                                   const char *segment);

/* Whether the entry's data lies (wholly or in part) in `segment`. */
bool nbr_object_entry_uses_segment(const nbr_object_entry *e, const char *segment);

/* Make a new manifest a borrowed one (see `borrowed`): room in `arena` for
 * exactly `names` bindings, then (the second, once they are bound) for
 * exactly `objects` objects, which the caller fills in place
 * (objects[object_count++]).  The caller puts its strings in the arena too. */
nbr_status nbr_manifest_borrow_bindings(nbr_manifest *m, nbr_arena *arena, size_t names);
nbr_status nbr_manifest_borrow_objects(nbr_manifest *m, nbr_arena *arena, size_t objects);

/* Binds `name` to `id`, or records its deletion (id NULL); a later binding of
 * the same name replaces the earlier one. */
nbr_status nbr_manifest_bind(nbr_manifest *m, const char *name, const nbr_object_id *id);
/* The same for the first `length` bytes of `name`. */
nbr_status nbr_manifest_bind_n(nbr_manifest *m, const char *name, size_t length,
                               const nbr_object_id *id);

/* Appends an object; takes ownership of the entry's strings and shape (also
 * on failure). */
nbr_status nbr_manifest_add_object(nbr_manifest *m, nbr_object_entry *entry);

/* The manifest as JSON text, malloc'd.  With `lean` (format version 4), a
 * chained array whose base's entry `lean` finds on the same grid lists only
 * the boxes whose chunk differs from the base's ("changed_chunks"); without,
 * every entry lists all its chunks. */
nbr_status nbr_manifest_render(char **out, const nbr_manifest *m, const nbr_entry_finder *lean);

/* Reads a manifest's JSON text (`path` names it in errors) and completes a
 * lean entry's chunk list from its base's entry, which `lean` must find
 * (NULL: a lean entry is an error).  NBR_ECORRUPT with a message naming the
 * file and what is wrong. */
nbr_status nbr_manifest_parse(nbr_manifest *m, const char *text, size_t length, const char *path,
                              const nbr_entry_finder *lean);

/* The magic of the tail section in which a segment carries its checkpoint's
 * manifest (format version 4; store_io.h, "tail section"). */
#define NBR_MANIFEST_TAIL_MAGIC "NBRMANIF"

/* The lean form of a chained entry (a manifest's "changed_chunks", the
 * open index's): the base's entry its chunks are listed against, if `lean`
 * finds it (in `m` first) on the same grid; else NULL (all are listed). */
const nbr_object_entry *nbr_manifest_lean_base(const nbr_manifest *m, const nbr_object_entry *e,
                                               const nbr_entry_finder *lean);

/* Whether box k of `e` holds the same chunk, in the same segment, as box k of
 * `base` (an entry on the same grid): such a box is not listed. */
bool nbr_entry_same_chunk(const nbr_object_entry *e, const nbr_object_entry *base, size_t k);

/* The segments the listed chunks of `e` use (all of them if base is NULL):
 * used[i] is the index segment i has among them, UINT32_MAX if unused
 * (`used` has chunk_segment_count entries).  Returns how many. */
uint32_t nbr_entry_listed_segments(uint32_t *used, const nbr_object_entry *e,
                                   const nbr_object_entry *base);

/* Completes, from their bases' entries, the entries read in lean form
 * (base_pending), each one's base first when it is in `m` too (a manifest
 * GC rewrote lists whole chains, in any order).  An entry whose base is
 * neither in `m` nor where `lean` finds it, or is on another grid, or a
 * chain in `m` that loops or runs deeper than any writer makes:
 * NBR_ECORRUPT naming `path`. */
nbr_status nbr_manifest_complete(nbr_manifest *m, const nbr_entry_finder *lean, const char *path);

/* Takes a lean entry's changed boxes (strictly increasing, each < the
 * entry's chunk_count) and chunks (malloc'd, taken over also on failure):
 * the entry becomes base_pending.  false if a box is out of order. */
bool nbr_entry_set_changed(nbr_object_entry *e, uint64_t *boxes, nbr_chunk_ref *chunks,
                           size_t count);

/* Reads the manifest text of checkpoints/<id>.json at `path`: the file, or
 * the tail of the segment it is.  NBR_ENOTFOUND if it is gone; NBR_ECORRUPT
 * naming the file when its tail is damaged or a segment has none. */
nbr_status nbr_manifest_read_file(char **text, size_t *length, const char *path);

/* Whether `text` is a segment path this format allows (no path escapes). */
bool nbr_segment_name_valid(const char *text);

#endif
