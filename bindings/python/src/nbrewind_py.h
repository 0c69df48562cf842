/*
 * nbrewind_py.h - what the files of the nbrewind._core extension share.
 *
 * module.c owns the module, the exceptions (one place turns an nbr_status into
 * a Python exception), the argument converters and the guard; store.c the
 * Store type; checkpoint.c the Checkpoint and BlobWriter types; graph.c the
 * Graph and Plan types.
 */
#ifndef NBREWIND_PY_H
#define NBREWIND_PY_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pythread.h>

#include <nbrewind.h>

/* The largest number of dimensions an array argument may have (NumPy 2's limit). */
#define NBRPY_MAX_DIMS 64

/* Run `call`, an nbr_ call that hashes, compresses or does I/O, without the
 * GIL, and put its status in `st`.  nbr_last_error() stays valid: it belongs
 * to this OS thread, which is the same before and after. */
#define NBRPY_NOGIL(st, call) \
    do { Py_BEGIN_ALLOW_THREADS (st) = (call); Py_END_ALLOW_THREADS } while (0)

/* ---- errors (module.c) -------------------------------------------------- */

/* Raise the exception for `status` with nbr_last_error() as its message, and
 * return NULL.  Read the message right after the failing call, before any
 * other nbr_ call on this thread replaces it. */
PyObject *nbrpy_fail(int status);

/* Raise the exception for `status` with a message of the binding's own. */
PyObject *nbrpy_fail_msg(int status, const char *format, ...);

/* ---- argument conversion (module.c) ------------------------------------- */

/* An array as the core wants it: dtype string, shape, optional byte strides
 * and the address of element [0, ...]. */
typedef struct nbrpy_array {
    const char *dtype;               /* borrowed from the dtype argument */
    size_t ndim;
    uint64_t shape[NBRPY_MAX_DIMS];
    int64_t strides[NBRPY_MAX_DIMS];
    int has_strides;                 /* 0: C order (strides argument None) */
    const void *data;
} nbrpy_array;

/* Fill `out` from the Python arguments (str, sequence of int, sequence of int
 * or None, int).  Returns 0, or -1 with an exception set. */
int nbrpy_array_parse(nbrpy_array *out, PyObject *dtype, PyObject *shape, PyObject *strides,
                      PyObject *address);

/* Sequence of non-negative ints -> uint64 array.  Returns 0, or -1 with an
 * exception set. */
int nbrpy_shape_parse(uint64_t *shape, size_t *ndim, PyObject *seq);

/* An object id from / to its 32 hex digits.  from_str: 0, or -1 with an
 * exception set. */
int nbrpy_id_from_str(nbr_object_id *out, PyObject *hex);
PyObject *nbrpy_id_to_str(const nbr_object_id *id);

/* Turn a `char *` the core handed over into a str and nbr_free it. */
PyObject *nbrpy_take_string(char *owned);

/* A str (or None, when `null_ok`) as UTF-8, borrowed from the object.
 * Returns 0, or -1 with an exception set. */
int nbrpy_utf8(const char **out, PyObject *obj, int null_ok, const char *what);

/* A list of `n` items made by item(ctx, i), or NULL with an exception set. */
PyObject *nbrpy_list_of(size_t n, PyObject *(*item)(const void *ctx, size_t i),
                        const void *ctx);

/* Analyse `source` in the language named `language` ("python", "r"):
 * nbr_language_from_name then nbr_analysis_new.  Needs no GIL. */
nbr_status nbrpy_analysis_new(nbr_analysis **out, const char *language, const char *source,
                              size_t length);

/* ---- context managers (module.c) --------------------------------------- */

/* __enter__ of every type here: the object itself. */
PyObject *nbrpy_return_self(PyObject *self, PyObject *ignored);

/* What __exit__ returns after the close or abort call that returned `result`
 * (stolen): False, so that exceptions propagate, or NULL if the call failed. */
PyObject *nbrpy_exit_result(PyObject *result);

/* ---- the guard: one thread at a time per store (module.c) --------------- */

/* A store handle and everything made from it (checkpoint, blob writer) may be
 * used by one thread at a time (nbrewind.h), so every call into the core
 * through them runs under the store's guard.  The guard is re-entrant for
 * the thread that holds it: a finalizer run by the garbage collector while
 * that thread builds a result may abort a checkpoint of the same store. */
typedef struct nbrpy_guard {
    PyThread_type_lock lock;
    unsigned long owner; /* thread ident of the holder, 0 when free; GIL-protected */
    int depth;
} nbrpy_guard;

int nbrpy_guard_init(nbrpy_guard *guard);
void nbrpy_guard_free(nbrpy_guard *guard);
/* Acquire, releasing the GIL while waiting so that the holder can finish. */
void nbrpy_guard_enter(nbrpy_guard *guard);
void nbrpy_guard_leave(nbrpy_guard *guard);

/* ---- the types ---------------------------------------------------------- */

typedef struct CheckpointObject CheckpointObject;

typedef struct StoreObject {
    PyObject_HEAD
    nbr_store *store;             /* NULL once closed */
    PyObject *path;               /* str */
    nbrpy_guard guard;
    CheckpointObject *active;     /* borrowed: the checkpoint in progress, if any */
} StoreObject;

struct CheckpointObject {
    PyObject_HEAD
    nbr_checkpoint *checkpoint;   /* NULL once committed, aborted or its store closed */
    StoreObject *store;           /* strong: keeps the handle alive */
};

typedef struct BlobWriterObject {
    PyObject_HEAD
    nbr_blob_writer *writer;      /* NULL once finished or aborted */
    CheckpointObject *checkpoint; /* strong */
} BlobWriterObject;

typedef struct GraphObject {
    PyObject_HEAD
    nbr_graph *graph;             /* never NULL; freed with the object */
} GraphObject;

typedef struct PlanObject {
    PyObject_HEAD
    nbr_plan *plan;               /* NULL once closed */
    GraphObject *graph;           /* strong while open: the plan borrows from it */
} PlanObject;

extern PyTypeObject *nbrpy_StoreType;
extern PyTypeObject *nbrpy_CheckpointType;
extern PyTypeObject *nbrpy_BlobWriterType;
extern PyTypeObject *nbrpy_GraphType;
extern PyTypeObject *nbrpy_PlanType;

/* Create each type and add it to the module.  0, or -1 with an exception set. */
int nbrpy_store_type_init(PyObject *module);
int nbrpy_checkpoint_types_init(PyObject *module);
int nbrpy_graph_types_init(PyObject *module);

/* store.c: enter the store's guard and check it is open (Error otherwise).
 * 0, or -1 with an exception set and the guard not held. */
int nbrpy_store_enter(StoreObject *self);

/* checkpoint.c: a new Checkpoint object over `checkpoint` (taken over). */
PyObject *nbrpy_checkpoint_new(StoreObject *store, nbr_checkpoint *checkpoint);

/* checkpoint.c: the store is closing: forget the checkpoint handle it frees. */
void nbrpy_checkpoint_detach(CheckpointObject *self);

/* record.c: record_render and record_parse, added to the module. */
extern PyMethodDef nbrpy_record_methods[];

#endif /* NBREWIND_PY_H */
