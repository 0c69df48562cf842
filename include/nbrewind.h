/*
 * nbrewind.h - the public interface of libnbrewind.
 *
 * libnbrewind is the C core of nbrewind: data-flow analysis of notebook cells
 * (Python and R), the notebook-level graph that plans what an edit forces to
 * re-run, and (in later versions) the checkpoint store.  The Python and R
 * bindings, and any other host (a C, C++ or Fortran tool, or an FFI host such
 * as ctypes, cffi or Julia), use only what this header declares.
 *
 * Conventions, which hold for every function below:
 *
 *  - Handles are opaque.  A handle made by nbr_<noun>_new() is released by
 *    nbr_<noun>_free(); passing NULL to a _free function does nothing.
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
    NBR_EIO = -9           /* an operating-system I/O error */
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
    NBR_NAMES_IMPORTS = 4     /* modules / packages imported or referenced */
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

/* The whole analysis as one JSON object with the keys "defs", "uses",
 * "may_mutate", "deletes", "imports" (arrays of strings), "functions", "classes"
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

/* Write the id as 32 lowercase hex digits plus a NUL into `out`, which has
 * room for 33 bytes. */
NBR_API nbr_status nbr_object_id_to_hex(char *out, const nbr_object_id *id);

/* Parse 32 hex digits (either case, nothing else) into *out.  NBR_EINVAL,
 * naming the text, for anything else. */
NBR_API nbr_status nbr_object_id_from_hex(nbr_object_id *out, const char *hex);

/* 1 if the two ids are equal, 0 otherwise. */
NBR_API int nbr_object_id_equal(const nbr_object_id *a, const nbr_object_id *b);

#ifdef __cplusplus
}
#endif
#endif /* NBREWIND_H */
