/*
 * checkpoint.c - nbrewind._core.Checkpoint (nbr_checkpoint) and BlobWriter
 * (nbr_blob_writer).
 *
 * Both run every core call under their store's guard: they use its handle.
 * A Checkpoint keeps its Store alive and a BlobWriter its Checkpoint, so the
 * guard outlives them.
 */
#include "nbrewind_py.h"

PyTypeObject *nbrpy_CheckpointType;
PyTypeObject *nbrpy_BlobWriterType;

/* ---- Checkpoint --------------------------------------------------------- */

PyObject *nbrpy_checkpoint_new(StoreObject *store, nbr_checkpoint *checkpoint)
{
    CheckpointObject *self = PyObject_New(CheckpointObject, nbrpy_CheckpointType);
    if (!self) {
        nbr_checkpoint_abort(checkpoint);
        return NULL;
    }
    self->checkpoint = checkpoint;
    self->store = (StoreObject *)Py_NewRef(store);
    return (PyObject *)self;
}

void nbrpy_checkpoint_detach(CheckpointObject *self)
{
    self->checkpoint = NULL;
}

/* The checkpoint handle is gone (committed, aborted, freed by the core):
 * forget it, and let the store begin another. */
static void checkpoint_ended(CheckpointObject *self)
{
    self->checkpoint = NULL;
    if (self->store->active == self) self->store->active = NULL;
}

/* Enter the store's guard and check the checkpoint is still in progress.
 * 0, or -1 with Error raised and the guard not held. */
static int checkpoint_enter(CheckpointObject *self)
{
    nbrpy_guard_enter(&self->store->guard);
    if (self->checkpoint) return 0;
    nbrpy_guard_leave(&self->store->guard);
    nbrpy_fail_msg(NBR_ESTATE,
                   "the checkpoint is no longer in progress (committed, aborted, or its "
                   "store %U closed)",
                   self->store->path);
    return -1;
}

static void checkpoint_leave(CheckpointObject *self)
{
    nbrpy_guard_leave(&self->store->guard);
}

/* Leave the guard; the put's id as hex, or the exception. */
static PyObject *leave_with_id(CheckpointObject *self, nbr_status st, const nbr_object_id *id)
{
    PyObject *result = st == NBR_OK ? nbrpy_id_to_str(id) : nbrpy_fail(st);
    checkpoint_leave(self);
    return result;
}

static void abort_handle(CheckpointObject *self)
{
    nbr_checkpoint *checkpoint = self->checkpoint;
    checkpoint_ended(self);
    Py_BEGIN_ALLOW_THREADS
    nbr_checkpoint_abort(checkpoint);
    Py_END_ALLOW_THREADS
}

static void checkpoint_dealloc(CheckpointObject *self)
{
    PyTypeObject *type = Py_TYPE(self);
    nbrpy_guard_enter(&self->store->guard);
    if (self->checkpoint) abort_handle(self);
    nbrpy_guard_leave(&self->store->guard);
    Py_DECREF(self->store);
    PyObject_Free(self);
    Py_DECREF(type);
}

/* The optional id= of a put: NULL and 0 for None (the store hashes), the
 * parsed id and 0 for a hex string, -1 with an exception otherwise. */
static int known_id(nbr_object_id **out, nbr_object_id *storage, PyObject *hex)
{
    *out = NULL;
    if (!hex || hex == Py_None) return 0;
    if (nbrpy_id_from_str(storage, hex) < 0) return -1;
    *out = storage;
    return 0;
}

PyDoc_STRVAR(put_array_doc,
             "put_array(name, dtype, shape, strides, address, owner, *, id=None, live=False)"
             " -> str\n\n"
             "Bind `name` to an array and store it unless the store has it; returns its\n"
             "id.  Arguments as hash_array().  `id`: what hash_array() gave for these same\n"
             "bytes, if the caller has it; the store then trusts it and does not hash the\n"
             "whole array again (a wrong id is a damaged object to verify()).  `live`\n"
             "(needs `id`): another thread may change the memory meanwhile; what is stored\n"
             "is hashed again as it is written, and ChangedError (nothing bound, the\n"
             "checkpoint still usable) says it no longer matched `id`.  The GIL is\n"
             "released while hashing, compressing and writing.");

static PyObject *checkpoint_put_array(CheckpointObject *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"", "", "", "", "", "", "id", "live", NULL};
    const char *name;
    PyObject *dtype, *shape, *strides, *address, *owner, *hex = NULL;
    int live = 0;
    nbrpy_array a;
    nbr_object_id id, given, *known = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "sOOOOO|$Op:put_array", keywords, &name,
                                     &dtype, &shape, &strides, &address, &owner, &hex, &live) ||
        known_id(&known, &given, hex) < 0)
        return NULL;
    if (live && !known)
        return nbrpy_fail_msg(NBR_EINVAL, "put_array of \"%s\": live=True needs its id", name);
    if (nbrpy_array_parse(&a, dtype, shape, strides, address) < 0 || checkpoint_enter(self) < 0)
        return NULL;
    nbr_status st;
    const int64_t *steps = a.has_strides ? a.strides : NULL;
    /* `owner` stays referenced by the argument tuple until we return. */
    if (live) {
        id = *known;
        NBRPY_NOGIL(st, nbr_checkpoint_put_array_live(self->checkpoint, name, known, a.dtype,
                                                      a.ndim, a.shape, steps, a.data));
    } else if (known) {
        id = *known;
        NBRPY_NOGIL(st, nbr_checkpoint_put_array_hashed(self->checkpoint, name, known, a.dtype,
                                                        a.ndim, a.shape, steps, a.data));
    } else {
        NBRPY_NOGIL(st, nbr_checkpoint_put_array(&id, self->checkpoint, name, a.dtype, a.ndim,
                                                 a.shape, steps, a.data));
    }
    return leave_with_id(self, st, &id);
}

PyDoc_STRVAR(put_blob_doc,
             "put_blob(name, codec, data, *, id=None) -> str\n\n"
             "Bind `name` to a blob of a buffer's bytes tagged with `codec` (\"pickle5\",\n"
             "\"raw\", ...); returns its id.  `id` as for put_array (what hash_blob() gave).\n"
             "The GIL is released while writing.");

static PyObject *checkpoint_put_blob(CheckpointObject *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"", "", "", "id", NULL};
    const char *name, *codec;
    PyObject *hex = NULL;
    Py_buffer view;
    nbr_object_id id, given, *known = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "ssy*|$O:put_blob", keywords, &name, &codec,
                                     &view, &hex))
        return NULL;
    PyObject *result = NULL;
    if (known_id(&known, &given, hex) == 0 && checkpoint_enter(self) == 0) {
        nbr_status st;
        if (known) {
            id = *known;
            NBRPY_NOGIL(st, nbr_checkpoint_put_blob_hashed(self->checkpoint, name, known, codec,
                                                           view.buf, (size_t)view.len));
        } else {
            NBRPY_NOGIL(st, nbr_checkpoint_put_blob(&id, self->checkpoint, name, codec,
                                                    view.buf, (size_t)view.len));
        }
        result = leave_with_id(self, st, &id);
    }
    PyBuffer_Release(&view);
    return result;
}

static PyObject *blob_writer_new(CheckpointObject *checkpoint, nbr_blob_writer *writer);

PyDoc_STRVAR(blob_writer_doc,
             "blob_writer(name, codec) -> BlobWriter\n\n"
             "Begin a blob written in pieces (a pickle stream, say), bound to `name`\n"
             "when finished.  One at a time per checkpoint; finish or abort it before\n"
             "committing.");

static PyObject *checkpoint_blob_writer(CheckpointObject *self, PyObject *args)
{
    const char *name, *codec;
    if (!PyArg_ParseTuple(args, "ss:blob_writer", &name, &codec) || checkpoint_enter(self) < 0)
        return NULL;
    nbr_blob_writer *writer;
    nbr_status st = nbr_blob_writer_begin(&writer, self->checkpoint, name, codec);
    PyObject *result = st == NBR_OK ? blob_writer_new(self, writer) : nbrpy_fail(st);
    checkpoint_leave(self);
    return result;
}

PyDoc_STRVAR(put_ref_doc,
             "put_ref(name, id)\n\n"
             "Bind `name` to an object the store already holds (NotFoundError if not).");

static PyObject *checkpoint_put_ref(CheckpointObject *self, PyObject *args)
{
    const char *name;
    PyObject *hex;
    nbr_object_id id;
    if (!PyArg_ParseTuple(args, "sO:put_ref", &name, &hex) || nbrpy_id_from_str(&id, hex) < 0 ||
        checkpoint_enter(self) < 0)
        return NULL;
    nbr_status st;
    NBRPY_NOGIL(st, nbr_checkpoint_put_ref(self->checkpoint, name, &id));
    checkpoint_leave(self);
    return st == NBR_OK ? Py_NewRef(Py_None) : nbrpy_fail(st);
}

PyDoc_STRVAR(delete_doc, "delete(name)\n\nRecord that the cell deleted `name`.");

static PyObject *checkpoint_delete(CheckpointObject *self, PyObject *args)
{
    const char *name;
    if (!PyArg_ParseTuple(args, "s:delete", &name) || checkpoint_enter(self) < 0) return NULL;
    nbr_status st = nbr_checkpoint_delete(self->checkpoint, name);
    checkpoint_leave(self);
    return st == NBR_OK ? Py_NewRef(Py_None) : nbrpy_fail(st);
}

PyDoc_STRVAR(set_host_doc,
             "set_host(host_json: str | None)\n\n"
             "Replace the host JSON given to Store.begin (None: none), e.g. with the\n"
             "execution record once the objects' ids are known.  InvalidError if it\n"
             "is not JSON.");

static PyObject *checkpoint_set_host(CheckpointObject *self, PyObject *arg)
{
    const char *host = NULL;
    if (nbrpy_utf8(&host, arg, 1, "host_json") < 0 || checkpoint_enter(self) < 0) return NULL;
    nbr_status st = nbr_checkpoint_set_host(self->checkpoint, host);
    checkpoint_leave(self);
    return st == NBR_OK ? Py_NewRef(Py_None) : nbrpy_fail(st);
}

PyDoc_STRVAR(commit_doc,
             "commit() -> str\n\n"
             "Make the checkpoint durable and visible in one atomic step; returns its\n"
             "id.  The checkpoint is over whatever happens (on failure nothing of it\n"
             "becomes visible).  The GIL is released.");

static PyObject *checkpoint_commit(CheckpointObject *self, PyObject *Py_UNUSED(ignored))
{
    if (checkpoint_enter(self) < 0) return NULL;
    nbr_checkpoint *checkpoint = self->checkpoint;
    checkpoint_ended(self);
    char *cid = NULL;
    nbr_status st;
    NBRPY_NOGIL(st, nbr_checkpoint_commit(&cid, checkpoint));
    PyObject *result = st == NBR_OK ? nbrpy_take_string(cid) : nbrpy_fail(st);
    checkpoint_leave(self);
    return result;
}

PyDoc_STRVAR(abort_doc,
             "abort()\n\nDrop the checkpoint and what it wrote.  Aborting an ended one does "
             "nothing.");

static PyObject *checkpoint_abort(CheckpointObject *self, PyObject *Py_UNUSED(ignored))
{
    nbrpy_guard_enter(&self->store->guard);
    if (self->checkpoint) abort_handle(self);
    checkpoint_leave(self);
    Py_RETURN_NONE;
}

/* __exit__: anything not committed by the end of the block is dropped. */
static PyObject *checkpoint_exit(CheckpointObject *self, PyObject *Py_UNUSED(args))
{
    return nbrpy_exit_result(checkpoint_abort(self, NULL));
}

static PyMethodDef checkpoint_methods[] = {
    {"put_array", (PyCFunction)(void (*)(void))checkpoint_put_array,
     METH_VARARGS | METH_KEYWORDS, put_array_doc},
    {"put_blob", (PyCFunction)(void (*)(void))checkpoint_put_blob, METH_VARARGS | METH_KEYWORDS,
     put_blob_doc},
    {"blob_writer", (PyCFunction)checkpoint_blob_writer, METH_VARARGS, blob_writer_doc},
    {"put_ref", (PyCFunction)checkpoint_put_ref, METH_VARARGS, put_ref_doc},
    {"delete", (PyCFunction)checkpoint_delete, METH_VARARGS, delete_doc},
    {"set_host", (PyCFunction)checkpoint_set_host, METH_O, set_host_doc},
    {"commit", (PyCFunction)checkpoint_commit, METH_NOARGS, commit_doc},
    {"abort", (PyCFunction)checkpoint_abort, METH_NOARGS, abort_doc},
    {"__enter__", nbrpy_return_self, METH_NOARGS, "Return the checkpoint."},
    {"__exit__", (PyCFunction)checkpoint_exit, METH_VARARGS,
     "Abort the checkpoint unless it was committed."},
    {NULL, NULL, 0, NULL},
};

PyDoc_STRVAR(checkpoint_doc,
             "A checkpoint being written (Store.begin).  Nothing is visible to readers\n"
             "until commit().  As a context manager it aborts whatever was not committed\n"
             "by the end of the block; call commit() inside it.");

static PyType_Slot checkpoint_slots[] = {
    {Py_tp_dealloc, checkpoint_dealloc},
    {Py_tp_methods, checkpoint_methods},
    {Py_tp_doc, (void *)checkpoint_doc},
    {0, NULL},
};

static PyType_Spec checkpoint_spec = {
    "nbrewind.Checkpoint", sizeof(CheckpointObject), 0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION, checkpoint_slots,
};

/* ---- BlobWriter --------------------------------------------------------- */

static PyObject *blob_writer_new(CheckpointObject *checkpoint, nbr_blob_writer *writer)
{
    BlobWriterObject *self = PyObject_New(BlobWriterObject, nbrpy_BlobWriterType);
    if (!self) {
        nbr_blob_writer_abort(writer);
        return NULL;
    }
    self->writer = writer;
    self->checkpoint = (CheckpointObject *)Py_NewRef(checkpoint);
    return (PyObject *)self;
}

static nbrpy_guard *writer_guard(BlobWriterObject *self)
{
    return &self->checkpoint->store->guard;
}

/* Enter the guard and check the writer is unfinished.  If its checkpoint
 * ended first, the core itself reports that (NBR_ESTATE). */
static int writer_enter(BlobWriterObject *self)
{
    nbrpy_guard_enter(writer_guard(self));
    if (self->writer) return 0;
    nbrpy_guard_leave(writer_guard(self));
    nbrpy_fail_msg(NBR_ESTATE, "the blob writer was already finished or aborted");
    return -1;
}

static void writer_abort_handle(BlobWriterObject *self)
{
    nbr_blob_writer *writer = self->writer;
    self->writer = NULL;
    Py_BEGIN_ALLOW_THREADS
    nbr_blob_writer_abort(writer);
    Py_END_ALLOW_THREADS
}

static void blob_writer_dealloc(BlobWriterObject *self)
{
    PyTypeObject *type = Py_TYPE(self);
    nbrpy_guard_enter(writer_guard(self));
    if (self->writer) writer_abort_handle(self);
    nbrpy_guard_leave(writer_guard(self));
    Py_DECREF(self->checkpoint);
    PyObject_Free(self);
    Py_DECREF(type);
}

PyDoc_STRVAR(write_doc,
             "write(data) -> int\n\n"
             "Append a buffer's bytes; returns how many (file-like, so pickle.dump can\n"
             "write here).  The GIL is released while writing.");

static PyObject *blob_writer_write(BlobWriterObject *self, PyObject *arg)
{
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_C_CONTIGUOUS) < 0) return NULL;
    PyObject *result = NULL;
    if (writer_enter(self) == 0) {
        nbr_status st;
        NBRPY_NOGIL(st, nbr_blob_writer_write(self->writer, view.buf, (size_t)view.len));
        result = st == NBR_OK ? PyLong_FromSsize_t(view.len) : nbrpy_fail(st);
        nbrpy_guard_leave(writer_guard(self));
    }
    PyBuffer_Release(&view);
    return result;
}

PyDoc_STRVAR(finish_doc,
             "finish() -> str\n\n"
             "End the blob, bind its name and return its id (the same id as the same\n"
             "bytes put at once).  The writer is over whatever happens.");

static PyObject *blob_writer_finish(BlobWriterObject *self, PyObject *Py_UNUSED(ignored))
{
    if (writer_enter(self) < 0) return NULL;
    nbr_blob_writer *writer = self->writer;
    self->writer = NULL;
    nbr_object_id id;
    nbr_status st;
    NBRPY_NOGIL(st, nbr_blob_writer_finish(&id, writer));
    PyObject *result = st == NBR_OK ? nbrpy_id_to_str(&id) : nbrpy_fail(st);
    nbrpy_guard_leave(writer_guard(self));
    return result;
}

PyDoc_STRVAR(writer_abort_doc,
             "abort()\n\nDrop the unfinished blob.  Aborting an ended writer does nothing.");

static PyObject *blob_writer_abort(BlobWriterObject *self, PyObject *Py_UNUSED(ignored))
{
    nbrpy_guard_enter(writer_guard(self));
    if (self->writer) writer_abort_handle(self);
    nbrpy_guard_leave(writer_guard(self));
    Py_RETURN_NONE;
}

/* __exit__: a blob not finished by the end of the block is dropped. */
static PyObject *blob_writer_exit(BlobWriterObject *self, PyObject *Py_UNUSED(args))
{
    return nbrpy_exit_result(blob_writer_abort(self, NULL));
}

static PyMethodDef blob_writer_methods[] = {
    {"write", (PyCFunction)blob_writer_write, METH_O, write_doc},
    {"finish", (PyCFunction)blob_writer_finish, METH_NOARGS, finish_doc},
    {"abort", (PyCFunction)blob_writer_abort, METH_NOARGS, writer_abort_doc},
    {"__enter__", nbrpy_return_self, METH_NOARGS, "Return the writer."},
    {"__exit__", (PyCFunction)blob_writer_exit, METH_VARARGS,
     "Abort the blob unless it was finished."},
    {NULL, NULL, 0, NULL},
};

PyDoc_STRVAR(blob_writer_type_doc,
             "A blob written in pieces (Checkpoint.blob_writer), hashed as it arrives.\n"
             "As a context manager it aborts the blob unless finish() was called.");

static PyType_Slot blob_writer_slots[] = {
    {Py_tp_dealloc, blob_writer_dealloc},
    {Py_tp_methods, blob_writer_methods},
    {Py_tp_doc, (void *)blob_writer_type_doc},
    {0, NULL},
};

static PyType_Spec blob_writer_spec = {
    "nbrewind.BlobWriter", sizeof(BlobWriterObject), 0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION, blob_writer_slots,
};

int nbrpy_checkpoint_types_init(PyObject *module)
{
    nbrpy_CheckpointType = (PyTypeObject *)PyType_FromSpec(&checkpoint_spec);
    nbrpy_BlobWriterType = (PyTypeObject *)PyType_FromSpec(&blob_writer_spec);
    if (!nbrpy_CheckpointType || !nbrpy_BlobWriterType) return -1;
    if (PyModule_AddObjectRef(module, "Checkpoint", (PyObject *)nbrpy_CheckpointType) < 0)
        return -1;
    return PyModule_AddObjectRef(module, "BlobWriter", (PyObject *)nbrpy_BlobWriterType);
}
