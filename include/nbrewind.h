/*
 * nbrewind.h - the public interface of libnbrewind.
 *
 * libnbrewind is the C core of nbrewind: data-flow analysis of notebook cells
 * (Python and R), the notebook-level graph that plans what an edit forces to
 * re-run, content hashing, and the checkpoint store.  The Python and R
 * bindings, and any other host (a C, C++ or Fortran tool, or an FFI host such
 * as ctypes, cffi or Julia), use only what this header declares.
 *
 * Conventions, which hold for every function below:
 *
 *  - Handles are opaque.  A handle made by nbr_<noun>_new() is released by
 *    nbr_<noun>_free(), one made by nbr_<noun>_open() by nbr_<noun>_close(),
 *    one made by nbr_<noun>_begin() by the call that ends it (commit, finish)
 *    or by nbr_<noun>_abort(); passing NULL to a _free, _close or _abort
 *    function does nothing.
 *  - Every call that can fail returns an nbr_status: NBR_OK (0) on success or a
 *    negative NBR_E* code.  After a failure, nbr_last_error() returns a message
 *    that names the object and the cause.  The message is per thread.
 *  - Out-parameters come first.  On failure they are set to NULL / 0.
 *  - Strings are NUL-terminated UTF-8.  A `const char *` returned by a query is
 *    borrowed: it stays valid until the handle it came from is freed (or, where
 *    stated, modified).  A `char *` returned through an out-parameter is owned by
 *    the caller and is released with nbr_free().
 *  - A handle may be used from one thread at a time; different handles may be
 *    used from different threads at once.  The library has no other global
 *    mutable state.
 *  - Lines and columns are 1-based; columns count bytes of UTF-8.
 */
#ifndef NBREWIND_H
#define NBREWIND_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32) && defined(NBR_BUILDING_SHARED)
#define NBR_API __declspec(dllexport)
#elif defined(__GNUC__) && __GNUC__ >= 4
#define NBR_API __attribute__((visibility("default")))
#else
#define NBR_API
#endif

/* ------------------------------------------------------------------------ */
/* Version                                                                   */
/* ------------------------------------------------------------------------ */

#define NBR_VERSION_MAJOR 0
#define NBR_VERSION_MINOR 1
#define NBR_VERSION_PATCH 0
#define NBR_VERSION_NUMBER \
    (NBR_VERSION_MAJOR * 10000 + NBR_VERSION_MINOR * 100 + NBR_VERSION_PATCH)
#define NBR_VERSION_STRING "0.1.0"

/* The version of the library actually loaded, as NBR_VERSION_NUMBER computes it.
 * Compare with NBR_VERSION_NUMBER to detect a header/library mismatch. */
NBR_API int nbr_version(void);

/* The same as a string, e.g. "0.1.0".  Static storage; never free it. */
NBR_API const char *nbr_version_string(void);

/* ------------------------------------------------------------------------ */
/* Status codes and errors                                                   */
/* ------------------------------------------------------------------------ */

/* What every fallible call returns: NBR_OK, or a negative code whose details
 * nbr_last_error() describes.  New codes may be added; treat unknown negative
 * values as NBR_ERROR. */
typedef enum nbr_status {
    NBR_OK = 0,
    NBR_ERROR = -1,        /* a failure with no more specific code */
    NBR_EINVAL = -2,       /* an argument is invalid (NULL, out of range, ...) */
    NBR_ENOMEM = -3,       /* out of memory */
    NBR_ENOTFOUND = -4,    /* a named object (cell, name, ...) does not exist */
    NBR_EEXISTS = -5,      /* the object already exists */
    NBR_EENCODING = -6,    /* input is not valid UTF-8 or contains NUL bytes */
    NBR_EUNSUPPORTED = -7, /* e.g. an unknown language */
    NBR_ESTATE = -8,       /* the call is not valid in the handle's state */
    NBR_EIO = -9,          /* an operating-system I/O error */
    NBR_ELOCKED = -10,     /* another writer holds the store's lock */
    NBR_ECORRUPT = -11,    /* stored data fails its checks (hash, format, ...) */
    NBR_ECHANGED = -12     /* data changed while it was being read (put_array_live) */
} nbr_status;

/* The message describing the last failure of an nbr_ call on this thread, or ""
 * if there was none.  Borrowed: valid until the next failing nbr_ call on this
 * thread.  Never NULL. */
NBR_API const char *nbr_last_error(void);

/* Forget this thread's last error. */
NBR_API void nbr_clear_error(void);

/* A short constant name for a status code ("NBR_EINVAL", ...).  Never NULL. */
NBR_API const char *nbr_status_name(int status);

/* Release memory that the library handed to the caller through a `char **`
 * out-parameter.  NULL is ignored. */
NBR_API void nbr_free(void *ptr);

/* ------------------------------------------------------------------------ */
/* Analysis of one cell                                                      */
/* ------------------------------------------------------------------------ */

typedef enum nbr_language {
    NBR_LANG_PYTHON = 1, /* Python 3, with IPython's %, %%, ! and ? syntax */
    NBR_LANG_R = 2
} nbr_language;

/* Look a language up by name: "python" (also "python3", "ipython") or "r"
 * (case-insensitive).  NBR_EUNSUPPORTED for any other name. */
NBR_API nbr_status nbr_language_from_name(nbr_language *out, const char *name);

/* The canonical name of a language ("python", "r"), or NULL if unknown. */
NBR_API const char *nbr_language_name(nbr_language lang);

/* What one cell reads, binds, may change in place, deletes and imports. */
typedef struct nbr_analysis nbr_analysis;

/* Which list of names to read from an analysis. */
typedef enum nbr_names {
    NBR_NAMES_DEFS = 0,       /* names bound at the cell's top level */
    NBR_NAMES_USES = 1,       /* names that may be read before being bound */
    NBR_NAMES_MAY_MUTATE = 2, /* names whose object may change in place */
    NBR_NAMES_DELETES = 3,    /* names removed (del x, rm(x)) */
    NBR_NAMES_IMPORTS = 4,    /* modules / packages imported or referenced */
    /* Names the analysis took to be what they usually are when it judged a
     * call through them to leave its arguments unchanged (Python: the
     * builtins `len`, `sorted`, ..., and the modules `np`, `numpy`, `math`).
     * A host whose namespace binds one of them to something else (after
     * `from numpy import *`, `sum` is numpy's) must not trust
     * NBR_NAMES_MAY_MUTATE for the calls through it. */
    NBR_NAMES_ASSUMED = 5
} nbr_names;

/* Which definitions to read from an analysis. */
typedef enum nbr_definition_kind {
    NBR_DEF_FUNCTION = 0, /* functions defined at the cell's top level */
    NBR_DEF_CLASS = 1     /* classes (Python) defined at the top level */
} nbr_definition_kind;

/* Which globals of a definition to read. */
typedef enum nbr_access {
    NBR_ACCESS_READS = 0, /* globals the body may read */
    NBR_ACCESS_WRITES = 1 /* globals the body may rebind or change in place */
} nbr_access;

/* Which diagnostics to read from an analysis. */
typedef enum nbr_diagnostic_kind {
    NBR_DIAG_FLAG = 0, /* a construct that defeats static analysis */
    NBR_DIAG_ERROR = 1 /* a syntax error */
} nbr_diagnostic_kind;

/* Which relations between names to read from an analysis. */
typedef enum nbr_relation_kind {
    /* `name = other`, `a = b = other`, `x, y = other, c` (R: `name <- other`,
     * which shares the object only when it is an environment or another
     * reference object): both names hold one object. */
    NBR_RELATION_ALIAS = 0,
    /* `name = other[k]`, `name = other.attr`, `name = other.get(k)` (also
     * `setdefault`, `getattr(other, a)`), `name = x if c else other`,
     * `name = x or other`: name may hold other's object or a part of it
     * (Python only). */
    NBR_RELATION_PART = 1
} nbr_relation_kind;

/* Analyse one cell.
 *
 * `source` holds `length` bytes of UTF-8 (it need not be NUL-terminated and is
 * not retained).  A cell with syntax errors is not a failure: the result holds
 * what could be analysed plus the errors (see nbr_analysis_diagnostic).
 * Fails with NBR_EENCODING if the source is not UTF-8 or contains a NUL byte,
 * NBR_EUNSUPPORTED for an unknown language, NBR_ENOMEM.
 * On success *out is a new handle owned by the caller: free it with
 * nbr_analysis_free(). */
NBR_API nbr_status nbr_analysis_new(nbr_analysis **out, nbr_language lang,
                                    const char *source, size_t length);

/* Release an analysis and every string borrowed from it.  NULL is ignored. */
NBR_API void nbr_analysis_free(nbr_analysis *analysis);

/* The language the analysis was made for. */
NBR_API nbr_language nbr_analysis_language(const nbr_analysis *analysis);

/* The number of names in one of the analysis' name lists. */
NBR_API size_t nbr_analysis_name_count(const nbr_analysis *analysis, nbr_names which);

/* The index-th name of a list, in order of first appearance in the cell, or NULL
 * if index is out of range.  Borrowed from the analysis. */
NBR_API const char *nbr_analysis_name(const nbr_analysis *analysis, nbr_names which,
                                      size_t index);

/* 1 if `name` is in the list, 0 otherwise. */
NBR_API int nbr_analysis_has_name(const nbr_analysis *analysis, nbr_names which,
                                  const char *name);

/* The number of functions or classes defined at the top level. */
NBR_API size_t nbr_analysis_definition_count(const nbr_analysis *analysis,
                                             nbr_definition_kind kind);

/* The name of the index-th function or class, or NULL if out of range.
 * Borrowed from the analysis. */
NBR_API const char *nbr_analysis_definition_name(const nbr_analysis *analysis,
                                                 nbr_definition_kind kind, size_t index);

/* The number of globals that the index-th definition reads or writes
 * (0 if index is out of range). */
NBR_API size_t nbr_analysis_definition_access_count(const nbr_analysis *analysis,
                                                    nbr_definition_kind kind,
                                                    size_t index, nbr_access access);

/* The i-th global the index-th definition reads or writes, or NULL if out of
 * range.  Borrowed from the analysis. */
NBR_API const char *nbr_analysis_definition_access(const nbr_analysis *analysis,
                                                   nbr_definition_kind kind, size_t index,
                                                   nbr_access access, size_t i);

/* The number of flags or syntax errors. */
NBR_API size_t nbr_analysis_diagnostic_count(const nbr_analysis *analysis,
                                             nbr_diagnostic_kind kind);

/* Read the index-th flag or syntax error.  *message is borrowed from the
 * analysis; *line and *column are 1-based.  Any out-parameter may be NULL.
 * NBR_EINVAL if index is out of range. */
NBR_API nbr_status nbr_analysis_diagnostic(const char **message, uint32_t *line,
                                           uint32_t *column, const nbr_analysis *analysis,
                                           nbr_diagnostic_kind kind, size_t index);

/* The number of top-level bindings of that kind of relation the cell makes,
 * listed in the cell's order; a name rebound later in the cell is still
 * listed, since what it did to the object before that counts. */
NBR_API size_t nbr_analysis_relation_count(const nbr_analysis *analysis,
                                           nbr_relation_kind kind);

/* Read the index-th relation of that kind: `*name` was bound to (a part of)
 * the object `*other` held.  Both strings are borrowed from the analysis;
 * either out-parameter may be NULL.  NBR_EINVAL if index is out of range. */
NBR_API nbr_status nbr_analysis_relation(const char **name, const char **other,
                                         const nbr_analysis *analysis,
                                         nbr_relation_kind kind, size_t index);

/* The whole analysis as one JSON object with the keys "defs", "uses",
 * "may_mutate", "deletes", "imports", "assumed" (arrays of strings), "functions", "classes"
 * (objects: name -> {"reads": [...], "writes": [...]}), "flags" and "errors"
 * (arrays of {"message", "line", "column"}).  *out is owned by the caller: free
 * it with nbr_free(). */
NBR_API nbr_status nbr_analysis_to_json(char **out, const nbr_analysis *analysis);

/* ------------------------------------------------------------------------ */
/* The notebook graph and re-run planning                                    */
/* ------------------------------------------------------------------------ */

/* The executions of a notebook, in execution order, with what each read and
 * wrote; answers which cells an edit forces to re-run and what to restore.
 *
 * What an execution reads and writes is derived from its analysis and the
 * host's observations (see nbr_graph_cell_name):
 *  - reads: the analysis' uses and may-mutate names (changing an object in
 *    place needs it), names observed read, and the global reads of every
 *    notebook function or class it reads (below);
 *  - writes: defs, deletes and may-mutate names, names observed written or
 *    deleted, and the global writes of the functions and classes it reads;
 *  - a name the cell does not bind itself (a may-mutate name, a function's
 *    global write) whose observed WRITE hash equals the WRITE hash observed
 *    after its previous writer was not changed: it is not a write (it stays a
 *    read).  Not applied to edited cells, whose observations describe the
 *    old source;
 *  - functions and classes: when a cell reads f and the latest earlier
 *    execution writing f defined f as a function or class, the cell also
 *    reads f's global reads and writes f's global writes; transitively, each
 *    name resolved at the reading cell's position;
 *  - aliases: after `b = a` (found by the analysis) or nbr_graph_observe_alias,
 *    an in-place change of a or b is a write of both, until the cell that
 *    rebinds one of them.  Alias groups are transitive.
 * The producer of a value a cell reads is the latest earlier execution that
 * writes the name.  Pseudo-names ("@rng:numpy", "@file:/x") are ordinary
 * names that come only from observations. */
typedef struct nbr_graph nbr_graph;

/* Make an empty graph.  *out is owned by the caller: nbr_graph_free(). */
NBR_API nbr_status nbr_graph_new(nbr_graph **out);

/* Release a graph.  Plans made from it must be freed first.  NULL is ignored. */
NBR_API void nbr_graph_free(nbr_graph *graph);

/* Append one execution of cell `cell_id` (an nbformat cell id, not empty) with
 * its analysis.  The graph copies what it needs from `analysis`, which stays
 * the caller's.  A cell id may appear once; NBR_EEXISTS if it is already in
 * the graph.  Runtime observations for this execution are added with
 * nbr_graph_observe().  This call and every other one that changes the graph
 * fail with NBR_ESTATE while a plan made from the graph exists. */
NBR_API nbr_status nbr_graph_add_cell(nbr_graph *graph, const char *cell_id,
                                      const nbr_analysis *analysis);

/* The number of executions in the graph. */
NBR_API size_t nbr_graph_cell_count(const nbr_graph *graph);

/* The id of the index-th execution, or NULL.  Borrowed from the graph. */
NBR_API const char *nbr_graph_cell_id(const nbr_graph *graph, size_t index);

/* What a runtime observation says about a name. */
typedef enum nbr_observation {
    NBR_OBSERVED_READ = 0,   /* the cell read the name's value (hash as read) */
    NBR_OBSERVED_WRITE = 1,  /* the cell left the name with this content hash */
    NBR_OBSERVED_DELETE = 2  /* the cell removed the name (hash is ignored) */
} nbr_observation;

/* Attach a runtime observation to the audited execution of `cell_id`.  `name`
 * is a variable, or a pseudo-name for state that is not a variable; by
 * convention pseudo-names start with '@' ("@rng:numpy", "@file:/data/in.csv").
 * `hash` identifies the content (any string; equal content, equal string); it
 * may be NULL when the value could not be hashed, which makes it compare
 * unequal to everything.  A later observation of the same name and kind
 * replaces an earlier one (WRITE and DELETE are one kind).
 *
 * Observations refine the static analysis: names observed read are inputs;
 * names observed written or deleted are writes even if the analysis missed
 * them; a name the cell does not bind itself (a may-mutate name, say) whose
 * WRITE hash equals the one observed after its previous writer was not
 * changed (see nbr_graph).  The WRITE hashes are also
 * what re-run cells are compared with (nbr_plan_cell_done).
 * NBR_EINVAL for a NULL or empty name or an unknown `what`; NBR_ENOTFOUND if
 * the cell is not in the graph. */
NBR_API nbr_status nbr_graph_observe(nbr_graph *graph, const char *cell_id,
                                     nbr_observation what, const char *name,
                                     const char *hash);

/* Declare that after the execution of `cell_id`, `name` and `other` are bound to
 * one and the same object, so that a later in-place change through either is a
 * change to both (their alias groups merge).  Plain `b = a` in a cell is
 * detected without this call. */
NBR_API nbr_status nbr_graph_observe_alias(nbr_graph *graph, const char *cell_id,
                                           const char *name, const char *other);

/* Declare that the value `name` had after `cell_id` cannot be restored from a
 * checkpoint (a Dask client, an open file, ...): a re-run that needs it must
 * re-run the producing cell (NBR_PLAN_PRODUCER). */
NBR_API nbr_status nbr_graph_mark_unrestorable(nbr_graph *graph, const char *cell_id,
                                               const char *name);

/* Give a cell whose source the user edited its new analysis, and mark it
 * edited.  The audited analysis is kept too: the cell's writes are the union
 * of both (a name the old source wrote and the new one does not still changes
 * for the cell's readers); its static reads are the new source's (observed
 * reads are kept: pseudo-names come only from there).  Editing a cell again
 * replaces only the new analysis. */
NBR_API nbr_status nbr_graph_edit_cell(nbr_graph *graph, const char *cell_id,
                                       const nbr_analysis *new_analysis);

/* Mark a cell edited without a new analysis (e.g. its inputs changed outside
 * the notebook).  Its observations no longer refute may-mutate writes. */
NBR_API nbr_status nbr_graph_mark_edited(nbr_graph *graph, const char *cell_id);

/* Number of data-flow edges: producer cell -> consumer cell, through a name.
 * 0 if the graph is NULL (or, rarely, if memory ran out deriving the edges:
 * nbr_graph_edge then reports NBR_ENOMEM). */
NBR_API size_t nbr_graph_edge_count(const nbr_graph *graph);

/* Read the index-th edge: for each execution in order (the consumer), one
 * edge per name it reads that an earlier execution wrote, from the latest
 * such execution, in the order of the consumer's reads.  Strings are borrowed
 * from the graph and stay valid until the graph is modified or freed.
 * NBR_EINVAL if out of range. */
NBR_API nbr_status nbr_graph_edge(const char **from_cell, const char **to_cell,
                                  const char **name, const nbr_graph *graph, size_t index);

/* The number of names the execution of `cell_id` reads (NBR_ACCESS_READS) or
 * writes (NBR_ACCESS_WRITES) as derived above; 0 for an unknown cell.  The
 * writes are the names a host should report after re-running the cell, plus
 * the analysis' may-mutate names (a may-mutate name refuted by its hash in the
 * audit is not a write, but a re-run may change it). */
NBR_API size_t nbr_graph_cell_name_count(const nbr_graph *graph, const char *cell_id,
                                         nbr_access which);

/* The index-th of those names, in order of first appearance, or NULL if out of
 * range or the cell is unknown.  Borrowed from the graph; valid until the
 * graph is modified or freed. */
NBR_API const char *nbr_graph_cell_name(const nbr_graph *graph, const char *cell_id,
                                        nbr_access which, size_t index);

/* A re-run plan made from a graph and its edited cells; updated cell by cell
 * as the host reports what re-run cells wrote (early cutoff).  Typical use:
 *
 *     while (nbr_plan_next(&id, plan) == NBR_OK && id) {
 *         restore each nbr_plan_restore(&name, &as_of, plan, id, i);
 *         execute the cell;
 *         nbr_plan_report(plan, id, NBR_OBSERVED_WRITE, name, hash) per write;
 *         nbr_plan_cell_done(plan, id);
 *     }
 */
typedef struct nbr_plan nbr_plan;

/* Why a cell is in a plan. */
typedef enum nbr_plan_state {
    NBR_PLAN_SKIP = 0,     /* its recorded results stay valid */
    NBR_PLAN_MAY_RUN = 1,  /* depends on a re-run cell whose outputs are not known yet */
    NBR_PLAN_MUST_RUN = 2, /* edited, or an input is known to have changed */
    NBR_PLAN_PRODUCER = 3, /* re-runs because a value it made cannot be restored */
    NBR_PLAN_DONE = 4      /* has been re-run and reported with nbr_plan_cell_done */
} nbr_plan_state;

/* Make a plan for the graph's current edits.  The plan refers to the graph,
 * which must outlive it and cannot be modified while it exists.
 *
 * The initial states, in notebook order: edited cells are MUST_RUN; a cell
 * reading a value whose producer is MUST_RUN or MAY_RUN is MAY_RUN; the rest
 * SKIP.  Then every cell that will or may run and reads a value marked
 * unrestorable whose producer is SKIP or MAY_RUN makes that producer a
 * PRODUCER (which always runs), to a fixpoint.  A PRODUCER does not make its
 * readers MAY_RUN: only a reported change to what it wrote does (see
 * nbr_plan_next).  *out is owned by the caller: nbr_plan_free(). */
NBR_API nbr_status nbr_plan_new(nbr_plan **out, const nbr_graph *graph);

/* Release a plan.  NULL is ignored. */
NBR_API void nbr_plan_free(nbr_plan *plan);

/* The state of a cell in the plan (it changes as nbr_plan_next and
 * nbr_plan_cell_done proceed).  NBR_ENOTFOUND for an unknown cell. */
NBR_API nbr_status nbr_plan_cell_state(nbr_plan_state *out, const nbr_plan *plan,
                                       const char *cell_id);

/* The id of the next cell to execute, in notebook order, or NULL in *out when no
 * cell is left to run.  Each cell is returned at most once.  MUST_RUN and
 * PRODUCER cells are always returned.  Any other cell is returned if one of
 * its inputs may have changed: its producer was returned and reported the
 * name changed, or has not called nbr_plan_cell_done yet; its state becomes
 * MUST_RUN (a change was reported) or MAY_RUN (not known yet).  A cell whose
 * inputs all turned out unchanged becomes SKIP and is passed over.  Borrowed
 * from the graph. */
NBR_API nbr_status nbr_plan_next(const char **out, nbr_plan *plan);

/* Report the content hash a re-run cell left `name` with (NBR_OBSERVED_WRITE;
 * a NULL hash counts as changed), or that it removed it (NBR_OBSERVED_DELETE).
 * Call for every name the cell wrote (see nbr_graph_cell_name), then
 * nbr_plan_cell_done().  NBR_ESTATE unless nbr_plan_next returned the cell and
 * it is not done yet; NBR_EINVAL for NBR_OBSERVED_READ. */
NBR_API nbr_status nbr_plan_report(nbr_plan *plan, const char *cell_id,
                                   nbr_observation what, const char *name,
                                   const char *hash);

/* Declare a re-run cell finished and compare what it reported with the audit.
 * Each name the cell was expected to write (its writes in the graph) is
 * unchanged if its reported hash equals the WRITE hash observed in the audit
 * (or it was deleted both times), and changed otherwise: a different hash, no
 * recorded hash, or not reported at all (if the host reported nothing at all
 * for the cell, every expected write is changed; if it reported other names,
 * an unreported one was not written by the re-run, so its readers see the
 * earlier value, a change too).  Reported names that were not expected are
 * new writes, hence changes, unless the audit observed the same hash for them.
 * The cell's state becomes NBR_PLAN_DONE.  NBR_ESTATE unless nbr_plan_next
 * returned the cell and it is not done yet. */
NBR_API nbr_status nbr_plan_cell_done(nbr_plan *plan, const char *cell_id);

/* The number of values to restore before executing `cell_id` (0 for an
 * unknown cell).  From nbr_plan_new on, every cell that will or may run has
 * the list a dry run shows (assuming every MUST_RUN, MAY_RUN and PRODUCER
 * cell re-runs); when nbr_plan_next returns a cell, its list is recomputed
 * from what has been reported.  For each name the cell reads whose producer
 * did not re-run (SKIP, or dropped by early cutoff): that name as of that
 * producer.  Values a re-run cell left in the kernel, and names no execution
 * wrote (builtins, outside state), are not restored. */
NBR_API size_t nbr_plan_restore_count(const nbr_plan *plan, const char *cell_id);

/* The index-th value to restore before `cell_id`: the name and the cell after
 * whose execution its checkpointed value is wanted.  Borrowed strings.
 * NBR_EINVAL if out of range, NBR_ENOTFOUND for an unknown cell. */
NBR_API nbr_status nbr_plan_restore(const char **name, const char **as_of_cell,
                                    const nbr_plan *plan, const char *cell_id,
                                    size_t index);

/* ------------------------------------------------------------------------ */
/* Content hashing                                                           */
/* ------------------------------------------------------------------------ */

/* The identity of stored content: the XXH3-128 hash of its bytes (plus, for
 * store objects, their type metadata).  A plain 16-byte value, passed by
 * value or pointer; its layout is fixed for good. */
typedef struct nbr_object_id {
    uint8_t bytes[16]; /* the XXH3-128 digest, high 64 bits first, big-endian */
} nbr_object_id;

/* A streaming XXH3-128 hasher: feed bytes in any number of pieces, read the
 * digest at any point. */
typedef struct nbr_hasher nbr_hasher;

/* Make a hasher with nothing fed yet.  *out is owned by the caller:
 * nbr_hasher_free(). */
NBR_API nbr_status nbr_hasher_new(nbr_hasher **out);

/* Feed `size` bytes (data may be NULL when size is 0).  The bytes are not
 * retained. */
NBR_API nbr_status nbr_hasher_update(nbr_hasher *hasher, const void *data, size_t size);

/* The digest of everything fed since the hasher was made or reset; feeding
 * may continue afterwards. */
NBR_API nbr_status nbr_hasher_digest(nbr_object_id *out, const nbr_hasher *hasher);

/* Forget everything fed, as if the hasher were new. */
NBR_API nbr_status nbr_hasher_reset(nbr_hasher *hasher);

/* Release a hasher.  NULL is ignored. */
NBR_API void nbr_hasher_free(nbr_hasher *hasher);

/* One-shot: the digest of `size` bytes. */
NBR_API nbr_status nbr_hash_bytes(nbr_object_id *out, const void *data, size_t size);

/* The size of a buffer that holds an id in hex: 32 digits and a NUL. */
#define NBR_OBJECT_ID_HEX_SIZE 33

/* Write the id as 32 lowercase hex digits plus a NUL into `out`, which has
 * room for NBR_OBJECT_ID_HEX_SIZE bytes. */
NBR_API nbr_status nbr_object_id_to_hex(char *out, const nbr_object_id *id);

/* Parse 32 hex digits (either case, nothing else) into *out.  NBR_EINVAL,
 * naming the text, for anything else. */
NBR_API nbr_status nbr_object_id_from_hex(nbr_object_id *out, const char *hex);

/* 1 if the two ids are equal, 0 otherwise (also when either is NULL, as two
 * unknown contents are never known to be equal). */
NBR_API int nbr_object_id_equal(const nbr_object_id *a, const nbr_object_id *b);

/* The id the store gives an array (docs/store-format.md, "Objects"), without
 * storing it: how a host tells whether a value changed since its last
 * checkpoint.  Arguments as nbr_checkpoint_put_array (`dtype` a NumPy dtype
 * string, `strides` NULL for C order, any strides otherwise); the data is read
 * during the call only, in place (a strided view is walked through a bounded
 * buffer, never copied whole).  NBR_EINVAL for a bad dtype or shape. */
NBR_API nbr_status nbr_array_hash(nbr_object_id *out, const char *dtype, size_t ndim,
                                  const uint64_t *shape, const int64_t *strides,
                                  const void *data);

/* The id the store gives a blob of `size` bytes tagged with `codec` (not
 * empty), without storing it.  NBR_EINVAL for a missing codec. */
NBR_API nbr_status nbr_blob_hash(nbr_object_id *out, const char *codec, const void *data,
                                 size_t size);

/* ------------------------------------------------------------------------ */
/* Checkpoint store                                                          */
/* ------------------------------------------------------------------------ */

/* A content-addressed checkpoint store: a directory of HDF5 segment files and
 * JSON manifests (docs/store-format.md).  Objects are typed n-d arrays (native
 * HDF5 datasets that h5py reads) and opaque blobs; a checkpoint maps names to
 * object ids.  One writer at a time holds the store's lock; any number of
 * readers, in any process, never block and see only committed checkpoints.
 * A handle caches what it read of the store: it sees checkpoints committed by
 * others after nbr_store_refresh(). */
typedef struct nbr_store nbr_store;

/* How nbr_store_open opens a store (OR them together). */
typedef enum nbr_store_flags {
    NBR_STORE_READONLY = 1, /* read only: never takes the lock, never writes */
    NBR_STORE_WRITE = 2,    /* take the writer lock at open, allow checkpoints */
    NBR_STORE_CREATE = 4,   /* create the directory and FORMAT if missing (needs WRITE) */
    NBR_STORE_RANK = 8      /* a rank other than 0 of a collective (MPI) checkpoint: reads,
                             * never takes the lock, writes only its own files in tmp/
                             * (nbrewind_mpi.h); alone, no other flag */
} nbr_store_flags;

/* Open the store at directory `path`.  `flags` is NBR_STORE_READONLY (0 means
 * the same) or NBR_STORE_WRITE, optionally with NBR_STORE_CREATE, or
 * NBR_STORE_RANK.
 *
 * A writer removes what a failed or killed earlier writer left behind (files
 * in tmp/, segments no manifest names).  Fails with NBR_ENOTFOUND if there is
 * no store at `path` (and CREATE was not given), NBR_ELOCKED if another
 * handle or process holds the writer lock (the message names the holder's
 * pid, host and start time and the LOCK file), NBR_ECORRUPT for a damaged
 * FORMAT, NBR_EUNSUPPORTED for a store written by a newer format version,
 * NBR_EIO for an operating-system error (naming the file).  A damaged
 * manifest does not fail the open: see nbr_store_checkpoint_info.  *out is
 * owned by the caller: nbr_store_close(). */
NBR_API nbr_status nbr_store_open(nbr_store **out, const char *path, unsigned flags);

/* Release a store handle and its lock.  A checkpoint still open on it is
 * aborted.  NULL is ignored. */
NBR_API void nbr_store_close(nbr_store *store);

/* Read manifests committed since the handle was opened or last refreshed, so
 * that the queries below see them.  Borrowed strings stay valid. */
NBR_API nbr_status nbr_store_refresh(nbr_store *store);

/* Blosc compressors a store can use (numbered as hdf5-blosc numbers them). */
typedef enum nbr_codec {
    NBR_CODEC_BLOSCLZ = 0,
    NBR_CODEC_LZ4 = 1, /* the default */
    NBR_CODEC_LZ4HC = 2,
    NBR_CODEC_ZLIB = 4,
    NBR_CODEC_ZSTD = 5
} nbr_codec;

/* Store options.  All but NBR_STORE_OPT_WORKERS are persisted in FORMAT. */
typedef enum nbr_store_option {
    NBR_STORE_OPT_CODEC = 1,      /* an nbr_codec; default NBR_CODEC_LZ4 */
    NBR_STORE_OPT_LEVEL = 2,      /* Blosc level 0-9; default 5 */
    NBR_STORE_OPT_SHUFFLE = 3,    /* 1 = byte shuffle by element size (default), 0 = none */
    NBR_STORE_OPT_CHUNK_BYTES = 4, /* target HDF5 chunk size, 4 KiB - 1 GiB; default 1 MiB */
    /* 1 (default) = an array of more than one chunk is stored as its chunks,
     * each kept once per store, under one HDF5 virtual dataset (FORMAT
     * version 3: the virtual dataset of a new version of an array may map
     * the unchanged rows to the previous version's; a version-2 store keeps
     * mapping every chunk); 0 = one plain dataset per array (FORMAT version
     * 1, which older nbrewind reads too).  Stores made before this option
     * have it 0. */
    NBR_STORE_OPT_CHUNK_DEDUP = 5,
    /* Threads that hash and Blosc-compress an array's new chunks while the
     * calling thread writes them, and that decompress an array's chunks
     * while the calling thread reads the next ones and hashes them: -1
     * (default) = one per online CPU but one (the calling thread's), 0 =
     * none (the calling thread does it all), up to 16.  A property of this
     * handle, not of the store: it is not persisted, and any handle, a
     * read-only one too, may set it while it is not writing a checkpoint.
     * A host that writes in the background while its user computes (the
     * audit kernel) sets 0 so that the writes take at most one core. */
    NBR_STORE_OPT_WORKERS = 6
} nbr_store_option;

/* Set an option of a store this handle has just created (opened with
 * NBR_STORE_CREATE | NBR_STORE_WRITE, FORMAT missing before, no checkpoint
 * begun yet); the FORMAT file is rewritten.  NBR_ESTATE on any other handle,
 * NBR_EINVAL for an unknown option or a value out of range.
 * NBR_STORE_OPT_WORKERS is the exception: it applies to this handle only and
 * may be set on any handle (read-only too) while no checkpoint is being
 * written (NBR_ESTATE otherwise). */
NBR_API nbr_status nbr_store_set_option(nbr_store *store, nbr_store_option option, int64_t value);

/* The current value of an option.  NBR_EINVAL for an unknown option. */
NBR_API nbr_status nbr_store_get_option(int64_t *out, const nbr_store *store,
                                        nbr_store_option option);

/* A checkpoint being written.  Objects put into it are written to a
 * temporary segment file at once; nothing becomes visible to readers until
 * nbr_checkpoint_commit. */
typedef struct nbr_checkpoint nbr_checkpoint;

/* Begin a checkpoint on a store opened with NBR_STORE_WRITE; one at a time
 * per store (NBR_ESTATE otherwise).  `cell_id` (not empty) and
 * `execution_count` describe the cell that produced it.  `host_json` is any
 * JSON text the host wants kept with it (NULL for none; NBR_EINVAL if it is
 * not JSON).  Arguments are copied.  *out is owned by the caller until it is
 * passed to nbr_checkpoint_commit or nbr_checkpoint_abort, which free it. */
NBR_API nbr_status nbr_checkpoint_begin(nbr_checkpoint **out, nbr_store *store,
                                        const char *cell_id, int64_t execution_count,
                                        const char *host_json);

/* Bind `name` to an n-d array and store it unless the store (or this
 * checkpoint) already has it.
 *
 * `dtype` is a NumPy dtype string ("<f8", "|b1", "<U8", "<M8[ns]", or a
 * structured dtype's descr as JSON); `shape` has `ndim` dimensions (ndim 0 is
 * a scalar; shape may be NULL then).  `strides` gives the byte step of each
 * dimension (negative allowed), or NULL for C order; Fortran order and any
 * strided view are stored as their C-order copy, without making one.  `data`
 * points at element [0, 0, ...]; it may be NULL if the array is empty.  The
 * data is read during the call only.
 *
 * The id (hash of dtype, shape and C-order bytes) goes to *id_out (may be
 * NULL).  An array the store already has costs only its hashing.  NBR_EINVAL
 * for a bad dtype, shape or name; NBR_EIO for a write failure (naming the
 * segment file): the checkpoint can then only be aborted.  The name binding
 * replaces an earlier one in the same checkpoint.  Names spelled
 * "@<rank>of<size>/..." belong to the ranks of collective checkpoints
 * (nbrewind_mpi.h): any other checkpoint gets NBR_EINVAL for them. */
NBR_API nbr_status nbr_checkpoint_put_array(nbr_object_id *id_out, nbr_checkpoint *checkpoint,
                                            const char *name, const char *dtype, size_t ndim,
                                            const uint64_t *shape, const int64_t *strides,
                                            const void *data);

/* Bind `name` to an opaque blob of `size` bytes tagged with `codec` (how the
 * host encoded it: "pickle5", "rds", "raw", ...; not empty).  `data` may be
 * NULL when size is 0.  Otherwise as nbr_checkpoint_put_array. */
NBR_API nbr_status nbr_checkpoint_put_blob(nbr_object_id *id_out, nbr_checkpoint *checkpoint,
                                           const char *name, const char *codec,
                                           const void *data, size_t size);

/* As nbr_checkpoint_put_array and nbr_checkpoint_put_blob, for a host that
 * has already hashed the value (nbr_array_hash / nbr_blob_hash over the same
 * bytes, dtype, shape and codec), to see whether it changed, and would
 * otherwise pay for hashing it twice: `id` is taken as the object's id
 * without hashing the whole value again (a new array's chunks are still
 * hashed, for chunk dedup).  The store trusts `id`: a wrong one files the
 * bytes under a false name, which nbr_store_verify then reports as damaged,
 * and a value already stored under `id` is not read at all.  `id` is read
 * during the call only; NBR_EINVAL if it is NULL. */
NBR_API nbr_status nbr_checkpoint_put_array_hashed(nbr_checkpoint *checkpoint, const char *name,
                                                   const nbr_object_id *id, const char *dtype,
                                                   size_t ndim, const uint64_t *shape,
                                                   const int64_t *strides, const void *data);

/* As nbr_checkpoint_put_array_hashed, for memory another thread may be
 * changing during the call (a host writing in the background while its user's
 * code runs on).  Every chunk is copied before it is hashed, compressed and
 * written (into a chunk-sized buffer that stays in the cache; an array the
 * store keeps as one dataset, small or in a store without chunk dedup, is
 * copied whole), and the array's id is hashed again over those copies: what
 * is stored is exactly what was hashed.  When that id is not `id`, the data
 * changed after the host hashed it: nothing is bound and the call fails with
 * NBR_ECHANGED naming the array.  The checkpoint stays usable, but for a
 * rank's part of a collective checkpoint, which any failed put fails; the
 * chunks already written stay in its segment, referenced by nothing, for as
 * long as the checkpoint is kept.  A value the store already has under `id`
 * is not read at all. */
NBR_API nbr_status nbr_checkpoint_put_array_live(nbr_checkpoint *checkpoint, const char *name,
                                                 const nbr_object_id *id, const char *dtype,
                                                 size_t ndim, const uint64_t *shape,
                                                 const int64_t *strides, const void *data);

/* The blob counterpart of nbr_checkpoint_put_array_hashed: `id` is what
 * nbr_blob_hash gave for the same codec and bytes. */
NBR_API nbr_status nbr_checkpoint_put_blob_hashed(nbr_checkpoint *checkpoint, const char *name,
                                                  const nbr_object_id *id, const char *codec,
                                                  const void *data, size_t size);

/* A blob written in pieces (a pickle stream, an R serialization), hashed as
 * it arrives and never held whole in memory. */
typedef struct nbr_blob_writer nbr_blob_writer;

/* Begin a blob to be bound to `name` in `checkpoint`, tagged with `codec` (as
 * nbr_checkpoint_put_blob).  One writer at a time per checkpoint
 * (NBR_ESTATE otherwise); other puts may go on meanwhile.  The bytes are
 * written to the checkpoint's segment as they come; if the finished blob
 * turns out to be one the store already has, it is bound to that object and
 * the bytes written stay unreferenced in the segment.  *out is owned by the
 * caller until nbr_blob_writer_finish or nbr_blob_writer_abort frees it; it
 * must be one of them before the checkpoint is committed (the commit fails
 * with NBR_ESTATE otherwise).  If the checkpoint is aborted first, the
 * writer's calls fail with NBR_ESTATE and it must still be freed. */
NBR_API nbr_status nbr_blob_writer_begin(nbr_blob_writer **out, nbr_checkpoint *checkpoint,
                                         const char *name, const char *codec);

/* Append `size` bytes (`data` may be NULL when size is 0); not retained.
 * NBR_EIO naming the segment on a write failure (the checkpoint can then
 * only be aborted). */
NBR_API nbr_status nbr_blob_writer_write(nbr_blob_writer *writer, const void *data, size_t size);

/* End the blob, bind the name, give its id in *id_out (may be NULL), and
 * free the writer whatever happens. */
NBR_API nbr_status nbr_blob_writer_finish(nbr_object_id *id_out, nbr_blob_writer *writer);

/* Drop an unfinished blob and free the writer.  NULL is ignored. */
NBR_API void nbr_blob_writer_abort(nbr_blob_writer *writer);

/* Replace the host JSON given to nbr_checkpoint_begin (NULL: none), for a
 * host that knows what to say about a checkpoint only once its objects are
 * in (the execution record of the cell, with their ids).  Copied.
 * NBR_EINVAL if it is not JSON. */
NBR_API nbr_status nbr_checkpoint_set_host(nbr_checkpoint *checkpoint, const char *host_json);

/* Bind `name` to an object the store already holds (committed, or put
 * earlier in this checkpoint).  NBR_ENOTFOUND if it holds no such object. */
NBR_API nbr_status nbr_checkpoint_put_ref(nbr_checkpoint *checkpoint, const char *name,
                                          const nbr_object_id *id);

/* Record that `name` was deleted by this checkpoint's cell. */
NBR_API nbr_status nbr_checkpoint_delete(nbr_checkpoint *checkpoint, const char *name);

/* Make the checkpoint durable and visible in one atomic step (the rename of
 * its manifest), and give its id (16 decimal digits) in *checkpoint_id_out,
 * owned by the caller (nbr_free; the argument may be NULL).  Frees
 * `checkpoint` whatever happens.  On failure (NBR_EIO naming the file, ...)
 * nothing of it becomes visible, what it wrote is removed (or left in tmp/
 * for the next writer to remove), and the store stays usable. */
NBR_API nbr_status nbr_checkpoint_commit(char **checkpoint_id_out, nbr_checkpoint *checkpoint);

/* Drop a checkpoint and everything it wrote, and free it.  NULL is ignored. */
NBR_API void nbr_checkpoint_abort(nbr_checkpoint *checkpoint);

/* The number of committed checkpoints the handle knows of. */
NBR_API size_t nbr_store_checkpoint_count(const nbr_store *store);

/* The id of the index-th checkpoint, oldest first, or NULL if out of range.
 * Borrowed from the store handle (valid until it is closed). */
NBR_API const char *nbr_store_checkpoint_id(const nbr_store *store, size_t index);

/* What a checkpoint records.  Every out-parameter may be NULL; strings are
 * borrowed from the handle: `cell_id`, `started` and `committed` (UTC times
 * as "2026-11-25T17:30:00.123Z") and `host_json` (compact JSON, "null" if the
 * host gave none).  NBR_ENOTFOUND for an unknown id; NBR_ECORRUPT, naming the
 * file, if the checkpoint's manifest is damaged. */
NBR_API nbr_status nbr_store_checkpoint_info(const char **cell_id, int64_t *execution_count,
                                             const char **started, const char **committed,
                                             const char **host_json, const nbr_store *store,
                                             const char *checkpoint_id);

/* The object `name` is bound to as of `checkpoint_id` (NULL: the latest):
 * its binding in the latest checkpoint at or before it that mentions it.
 * *deleted_out (may be NULL) is 1 if that binding is a deletion, and *id_out
 * is then all zeros.  NBR_ENOTFOUND if the name was never bound by then (or
 * the checkpoint is unknown); NBR_ECORRUPT if a damaged manifest on the way
 * may hold the answer.  Cost: a walk back through at most 32 checkpoints,
 * then a binary search in the name's history (the first resolve that goes
 * further back walks all the way; the second builds the handle's histories
 * of all names, linear in the bindings it holds). */
NBR_API nbr_status nbr_store_resolve(nbr_object_id *id_out, int *deleted_out,
                                     const nbr_store *store, const char *checkpoint_id,
                                     const char *name);

/* The two kinds of stored object. */
typedef enum nbr_object_kind {
    NBR_OBJECT_ARRAY = 1,
    NBR_OBJECT_BLOB = 2
} nbr_object_kind;

/* Describe a stored object.  Every out-parameter may be NULL.  `type` is the
 * dtype of an array or the codec tag of a blob; `shape` has `ndim` entries
 * (blobs: ndim 1, shape = {size}); `logical_bytes` is the content's size.
 * Borrowed from the store handle.  NBR_ENOTFOUND if the store lacks it. */
NBR_API nbr_status nbr_store_object_info(nbr_object_kind *kind, const char **type, size_t *ndim,
                                         const uint64_t **shape, uint64_t *logical_bytes,
                                         const nbr_store *store, const nbr_object_id *id);

/* Read an array straight into `buffer` (C order, `buffer_size` bytes at least
 * its logical size), verifying its content hash.  `expected_dtype`, `ndim`
 * and `shape` must match the stored array: otherwise NBR_EINVAL naming the
 * object, what it is and what was asked.  NBR_ENOTFOUND for an unknown id,
 * NBR_ECORRUPT (naming the object and segment file, and the chunk of a
 * chunked array) if the data is damaged or fails its hash; the buffer's
 * content is then unspecified.  An array of more than two chunks and at
 * least 1 MiB is decompressed on the handle's worker threads
 * (NBR_STORE_OPT_WORKERS), started and joined within the call. */
NBR_API nbr_status nbr_store_read_array(void *buffer, size_t buffer_size, nbr_store *store,
                                        const nbr_object_id *id, const char *expected_dtype,
                                        size_t ndim, const uint64_t *shape);

/* Read a blob's bytes into `buffer` (at least its size, from
 * nbr_store_object_info), verifying its hash; errors as nbr_store_read_array. */
NBR_API nbr_status nbr_store_read_blob(void *buffer, size_t buffer_size, nbr_store *store,
                                       const nbr_object_id *id);

/* How a name differs between two checkpoints. */
typedef enum nbr_change {
    NBR_CHANGE_ADDED = 1,   /* bound in `to`, unbound or deleted in `from` */
    NBR_CHANGE_CHANGED = 2, /* bound to different objects */
    NBR_CHANGE_DELETED = 3  /* bound in `from`, deleted in `to` */
} nbr_change;

/* The names that differ between two checkpoints' namespaces. */
typedef struct nbr_diff nbr_diff;

/* Compare the namespace as of checkpoint `from` (NULL: before the first
 * checkpoint, i.e. empty) with the one as of `to`.  NBR_ENOTFOUND for an
 * unknown id, NBR_ECORRUPT if a damaged manifest lies at or before `to`.
 * *out is owned by the caller: nbr_diff_free(). */
NBR_API nbr_status nbr_store_diff(nbr_diff **out, const nbr_store *store, const char *from,
                                  const char *to);

/* The number of names in a diff. */
NBR_API size_t nbr_diff_count(const nbr_diff *diff);

/* The index-th differing name (sorted by name) and how it changed.  The name
 * is borrowed from the diff.  NBR_EINVAL if out of range. */
NBR_API nbr_status nbr_diff_entry(const char **name, nbr_change *change, const nbr_diff *diff,
                                  size_t index);

/* Release a diff.  NULL is ignored. */
NBR_API void nbr_diff_free(nbr_diff *diff);

/* Byte counts of one checkpoint (`checkpoint_id`) or of the whole store
 * (NULL).  logical: the uncompressed size of the objects the checkpoint's
 * bindings name (whole store: the sum over checkpoints); stored: what the
 * objects first written by it occupy in their segment (HDF5 dataset storage;
 * file metadata not counted); an array stored as shared chunks (store option
 * NBR_STORE_OPT_CHUNK_DEDUP) counts only the chunks it first stored, so the
 * store's total counts each chunk once.  Either out-parameter may be NULL.
 * NBR_ENOTFOUND for an unknown id. */
NBR_API nbr_status nbr_store_stats(uint64_t *logical_bytes, uint64_t *stored_bytes,
                                   const nbr_store *store, const char *checkpoint_id);

/* Re-read and re-hash every object of every committed checkpoint, and check
 * every manifest.  *report_out (may be NULL) gets a text report, one line per
 * problem naming the object id, its segment file and the cause (for an array
 * stored as shared chunks, also the bad chunk's id and its segment file), or
 * the damaged manifest; "" when all is well; owned by the caller (nbr_free).
 * NBR_ECORRUPT if anything is bad; NBR_OK otherwise. */
NBR_API nbr_status nbr_store_verify(char **report_out, nbr_store *store);

/* The text of the manifest file `path` (a store's checkpoints/<id>.json):
 * the file itself, or, for a checkpoint that wrote objects in a store of
 * format version 4, the manifest its segment carries at its end (the file
 * is a second name of the segment; docs/store-format.md).  No store handle
 * is needed: this is what a tool that hashes or signs manifests reads.
 * *text_out (NUL-terminated, *length_out bytes without the NUL) is owned by
 * the caller (nbr_free).  NBR_ENOTFOUND if there is no such file;
 * NBR_ECORRUPT, naming the file, when a carried manifest is cut off or does
 * not match its checksum; NBR_EIO otherwise. */
NBR_API nbr_status nbr_manifest_read(char **text_out, size_t *length_out, const char *path);

/* Refs, pins and garbage collection (docs/store-format.md, "Refs, pins and
 * GC").  A ref is a named pointer to a checkpoint (refs/<name>), e.g. the
 * latest record of each notebook using the store; a pin marks a checkpoint
 * to keep (pins/<id>).  Each is written in one atomic step.  Ref names are
 * 1-200 printable ASCII characters, without '/', not starting with '.' and
 * without ".." (NBR_EINVAL otherwise).  Setting, deleting, pinning,
 * unpinning and GC need the writer handle and no checkpoint in progress
 * (NBR_ESTATE otherwise); NBR_ENOTFOUND for an unknown checkpoint id. */

/* Points ref `name` at `checkpoint_id` (replacing what it pointed at). */
NBR_API nbr_status nbr_store_set_ref(nbr_store *store, const char *name,
                                     const char *checkpoint_id);

/* The checkpoint id ref `name` points at; *id_out is owned by the caller
 * (nbr_free).  Any handle.  NBR_ENOTFOUND if there is no such ref,
 * NBR_ECORRUPT if its file is damaged. */
NBR_API nbr_status nbr_store_get_ref(char **id_out, const nbr_store *store, const char *name);

/* Removes ref `name` (the checkpoint stays until a GC).  NBR_ENOTFOUND if
 * there is no such ref. */
NBR_API nbr_status nbr_store_delete_ref(nbr_store *store, const char *name);

/* Pins a checkpoint: a GC keeps pinned checkpoints.  Pinning twice is not
 * an error. */
NBR_API nbr_status nbr_store_pin(nbr_store *store, const char *checkpoint_id);

/* Unpins a checkpoint (a later GC may remove it).  NBR_ENOTFOUND if it is
 * not pinned. */
NBR_API nbr_status nbr_store_unpin(nbr_store *store, const char *checkpoint_id);

/* Garbage collection.  Retained: the checkpoints a ref names or that are
 * pinned, and the newest checkpoint (so a store is never emptied by
 * accident).  Each retained checkpoint resolves every name exactly as
 * before and stays readable; every other checkpoint is removed, and every
 * segment file no remaining checkpoint references.  A retained checkpoint
 * whose predecessors go is first rewritten as a self-contained manifest.
 * Segments holding live and dead objects are kept whole (no compaction).
 * Crash safe: a GC interrupted anywhere leaves a consistent store, and the
 * next writer or GC finishes the cleanup.  A reader opened before a GC may
 * find a segment gone: its read then fails naming the file (reopen it).
 * *report_out (may be NULL) gets one line saying what was kept, removed and
 * freed; owned by the caller (nbr_free).  NBR_ECORRUPT (nothing removed) if a
 * manifest is damaged or a ref or pin names a checkpoint the store lacks. */
NBR_API nbr_status nbr_store_gc(char **report_out, nbr_store *store);

/* ------------------------------------------------------------------------ */
/* Execution records                                                         */
/* ------------------------------------------------------------------------ */

/* What one execution of one cell read, wrote and showed: the unit of the
 * audit log (docs/notebook-format.md, "Execution records").  The format
 * belongs to the core, so every binding writes the same bytes: a record is
 * built with the setters below (each rejects a bad value at once with
 * NBR_EINVAL naming the field), rendered by nbr_record_to_json, and read back
 * by nbr_record_parse, which applies the same rules. */
typedef struct nbr_record nbr_record;

/* The text fields of a record. */
typedef enum nbr_record_field {
    NBR_RECORD_CELL_ID = 1,     /* required: the nbformat cell id (1-64 of [A-Za-z0-9_-]) */
    NBR_RECORD_LANGUAGE = 2,    /* required: "python" or "r" */
    NBR_RECORD_SOURCE_HASH = 3, /* required: nbr_hash_bytes of the cell's UTF-8 source, in hex */
    NBR_RECORD_STATUS = 4,      /* required: "ok", "error" (the cell raised) or "aborted" */
    NBR_RECORD_STARTED = 5,     /* required: UTC start, "2026-11-25T17:30:00.123Z" */
    NBR_RECORD_ERROR_NAME = 6,  /* the exception's type (status "error" only) */
    NBR_RECORD_ERROR_VALUE = 7, /* the exception's message */
    NBR_RECORD_HOST = 8         /* a JSON object the host keeps with the record (re-rendered
                                 * compactly) */
} nbr_record_field;

/* The name lists of a record.  Names are 1-1024 bytes of UTF-8; the host's
 * pseudo-names ("@rng:numpy", "@file:data/in.csv") are names like any other. */
typedef enum nbr_record_list {
    NBR_RECORD_READS = 1,     /* name -> the object id it had when read, or NULL (unknown) */
    NBR_RECORD_WRITES = 2,    /* name -> the object id it is bound to after the cell */
    NBR_RECORD_DELETES = 3,   /* name (no value): unbound by the cell */
    NBR_RECORD_RECOMPUTE = 4, /* name -> why its value was not stored ("recompute") */
    NBR_RECORD_ALIASES = 5,   /* name -> another name bound to the same object after the
                               * cell; the name is in WRITES or RECOMPUTE */
    NBR_RECORD_OUTPUTS = 6    /* object id (no value) of each displayed output, in order;
                               * the only list that may repeat a key */
} nbr_record_list;

/* An empty record.  *out is owned by the caller: nbr_record_free(). */
NBR_API nbr_status nbr_record_new(nbr_record **out);

/* Release a record.  NULL is ignored. */
NBR_API void nbr_record_free(nbr_record *record);

/* Set a text field (copied), or clear it with NULL.  NBR_EINVAL, naming the
 * field and the rule, for a value the format does not allow. */
NBR_API nbr_status nbr_record_set_text(nbr_record *record, nbr_record_field field,
                                       const char *value);

/* A text field, borrowed from the record, or NULL if it is not set. */
NBR_API const char *nbr_record_text(const nbr_record *record, nbr_record_field field);

/* Set the cell's execution count; a negative count means none. */
NBR_API nbr_status nbr_record_set_execution_count(nbr_record *record, int64_t count);

/* The execution count, or -1 if none. */
NBR_API int64_t nbr_record_execution_count(const nbr_record *record);

/* Set how long the cell ran, in seconds (finite, >= 0; NBR_EINVAL otherwise). */
NBR_API nbr_status nbr_record_set_duration(nbr_record *record, double seconds);

/* The duration in seconds, or -1 if not set. */
NBR_API double nbr_record_duration(const nbr_record *record);

/* Append an entry to a list (both strings copied).  NBR_EINVAL, naming the
 * list and the entry, for a key or value the list does not allow or a key
 * already in the list (except NBR_RECORD_OUTPUTS). */
NBR_API nbr_status nbr_record_add(nbr_record *record, nbr_record_list list, const char *key,
                                  const char *value);

/* The number of entries in a list. */
NBR_API size_t nbr_record_count(const nbr_record *record, nbr_record_list list);

/* The index-th entry of a list, in the order added (a parsed record: the
 * order of its JSON).  *key and *value (NULL where the entry has none) are
 * borrowed from the record; either pointer may be NULL.  NBR_EINVAL if out
 * of range. */
NBR_API nbr_status nbr_record_entry(const char **key, const char **value,
                                    const nbr_record *record, nbr_record_list list,
                                    size_t index);

/* The value of the entry `key` of a list (borrowed; NULL if it has none).
 * NBR_ENOTFOUND if the list has no such key. */
NBR_API nbr_status nbr_record_lookup(const char **value, const nbr_record *record,
                                     nbr_record_list list, const char *key);

/* Render the record as canonical JSON (fixed key order, maps sorted by key,
 * no spaces, the format version first), after checking the rules between
 * fields: the required fields are set; a name in WRITES is not also in
 * DELETES or RECOMPUTE, nor one in RECOMPUTE in DELETES; an alias names a
 * written or recomputed name; an error name only on status "error".
 * NBR_EINVAL naming the rule broken.  *out is owned by the caller (nbr_free). */
NBR_API nbr_status nbr_record_to_json(char **out, const nbr_record *record);

/* Parse `length` bytes of a record's JSON (need not be NUL-terminated; not
 * retained), applying every rule of the setters and of nbr_record_to_json.
 * NBR_ECORRUPT naming the broken rule, NBR_EUNSUPPORTED for a record of a
 * newer format version.  *out is owned by the caller: nbr_record_free(). */
NBR_API nbr_status nbr_record_parse(nbr_record **out, const char *text, size_t length);

#ifdef __cplusplus
}
#endif
#endif /* NBREWIND_H */
