/*
 * nbrewind_py.h - what the files of the nbrewind._core extension share.
 *
 * module.c owns the module, the exceptions (one place turns an nbr_status into
 * a Python exception) and the argument converters.
 */
#ifndef NBREWIND_PY_H
#define NBREWIND_PY_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

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

#endif /* NBREWIND_PY_H */
