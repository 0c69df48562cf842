/*
 * store.c - nbrewind._core.Store over nbr_store: open/close, options,
 * checkpoints and their queries, reading objects, refs, pins, verify and GC.
 *
 * Every call into the core runs under the store's guard (one thread at a
 * time per handle) and, when it may hash or touch files, without the GIL.
 */
#include "nbrewind_py.h"

#include <string.h>

PyTypeObject *nbrpy_StoreType;

int nbrpy_store_enter(StoreObject *self)
{
    nbrpy_guard_enter(&self->guard);
    if (self->store) return 0;
    nbrpy_guard_leave(&self->guard);
    nbrpy_fail_msg(NBR_ESTATE, "the store %U is closed", self->path);
    return -1;
}

/* Leave the guard and turn `st` into None or the exception. */
static PyObject *leave_none(StoreObject *self, nbr_status st)
{
    PyObject *result = st == NBR_OK ? Py_NewRef(Py_None) : nbrpy_fail(st);
    nbrpy_guard_leave(&self->guard);
    return result;
}

/* Leave the guard and turn `st` and an owned string into a str or the exception. */
static PyObject *leave_string(StoreObject *self, nbr_status st, char *owned)
{
    PyObject *result = st == NBR_OK ? nbrpy_take_string(owned) : nbrpy_fail(st);
    if (st != NBR_OK) nbr_free(owned);
    nbrpy_guard_leave(&self->guard);
    return result;
}

/* ---- lifetime ----------------------------------------------------------- */

static int mode_flags(unsigned *flags, const char *mode)
{
    if (strcmp(mode, "r") == 0) *flags = NBR_STORE_READONLY;
    else if (strcmp(mode, "w") == 0) *flags = NBR_STORE_WRITE;
    else if (strcmp(mode, "c") == 0) *flags = NBR_STORE_WRITE | NBR_STORE_CREATE;
    else {
        PyErr_Format(PyExc_ValueError, "mode must be \"r\", \"w\" or \"c\", not \"%s\"", mode);
        return -1;
    }
    return 0;
}

static PyObject *store_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"path", "mode", NULL};
    PyObject *path = NULL;
    const char *mode = "r";
    unsigned flags;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O&|s:Store", keywords, PyUnicode_FSDecoder,
                                     &path, &mode))
        return NULL;
    StoreObject *self = NULL;
    PyObject *encoded = NULL;
    if (mode_flags(&flags, mode) < 0 || !(encoded = PyUnicode_EncodeFSDefault(path)) ||
        !(self = (StoreObject *)type->tp_alloc(type, 0)) || nbrpy_guard_init(&self->guard) < 0)
        goto fail;
    self->path = Py_NewRef(path);
    nbr_status st;
    NBRPY_NOGIL(st, nbr_store_open(&self->store, PyBytes_AS_STRING(encoded), flags));
    if (st != NBR_OK) {
        nbrpy_fail(st);
        goto fail;
    }
    Py_DECREF(encoded);
    Py_DECREF(path);
    return (PyObject *)self;
fail:
    Py_XDECREF(self);
    Py_XDECREF(encoded);
    Py_DECREF(path);
    return NULL;
}

/* Close the handle (the caller holds the guard); a checkpoint still in
 * progress is aborted by the core, so its object must forget it first. */
static void close_handle(StoreObject *self)
{
    if (self->active) nbrpy_checkpoint_detach(self->active);
    self->active = NULL;
    nbr_store *store = self->store;
    self->store = NULL;
    Py_BEGIN_ALLOW_THREADS
    nbr_store_close(store);
    Py_END_ALLOW_THREADS
}

static void store_dealloc(StoreObject *self)
{
    PyTypeObject *type = Py_TYPE(self);
    if (self->store) close_handle(self);
    nbrpy_guard_free(&self->guard);
    Py_XDECREF(self->path);
    type->tp_free(self);
    Py_DECREF(type);
}

PyDoc_STRVAR(close_doc,
             "close()\n\n"
             "Release the handle and its writer lock; a checkpoint still in progress\n"
             "is aborted.  Closing twice does nothing.");

static PyObject *store_close(StoreObject *self, PyObject *Py_UNUSED(ignored))
{
    nbrpy_guard_enter(&self->guard);
    if (self->store) close_handle(self);
    nbrpy_guard_leave(&self->guard);
    Py_RETURN_NONE;
}

static PyObject *store_exit_ctx(StoreObject *self, PyObject *Py_UNUSED(args))
{
    return nbrpy_exit_result(store_close(self, NULL));
}

PyDoc_STRVAR(refresh_doc,
             "refresh()\n\n"
             "Read the checkpoints committed by others since the store was opened or\n"
             "last refreshed.");

static PyObject *store_refresh(StoreObject *self, PyObject *Py_UNUSED(ignored))
{
    if (nbrpy_store_enter(self) < 0) return NULL;
    nbr_status st;
    NBRPY_NOGIL(st, nbr_store_refresh(self->store));
    return leave_none(self, st);
}

static PyObject *store_get_path(StoreObject *self, void *Py_UNUSED(closure))
{
    return Py_NewRef(self->path);
}

/* ---- options ------------------------------------------------------------ */

static const struct {
    const char *name;
    nbr_store_option option;
} option_names[] = {
    {"codec", NBR_STORE_OPT_CODEC},
    {"level", NBR_STORE_OPT_LEVEL},
    {"shuffle", NBR_STORE_OPT_SHUFFLE},
    {"chunk_bytes", NBR_STORE_OPT_CHUNK_BYTES},
    {"chunk_dedup", NBR_STORE_OPT_CHUNK_DEDUP},
    {"workers", NBR_STORE_OPT_WORKERS},
};

/* The Blosc compressors by the names Blosc gives them (nbr_codec). */
static const struct {
    const char *name;
    nbr_codec codec;
} codec_names[] = {
    {"blosclz", NBR_CODEC_BLOSCLZ}, {"lz4", NBR_CODEC_LZ4}, {"lz4hc", NBR_CODEC_LZ4HC},
    {"zlib", NBR_CODEC_ZLIB},       {"zstd", NBR_CODEC_ZSTD},
};

static int option_from_name(nbr_store_option *out, const char *name)
{
    for (size_t i = 0; i < sizeof option_names / sizeof option_names[0]; i++)
        if (strcmp(option_names[i].name, name) == 0) {
            *out = option_names[i].option;
            return 0;
        }
    nbrpy_fail_msg(NBR_EINVAL,
                   "unknown store option \"%s\" (codec, level, shuffle, chunk_bytes, "
                   "chunk_dedup or workers)", name);
    return -1;
}

/* An option's value: an int, or for the codec also a compressor's name. */
static int option_value(int64_t *out, nbr_store_option option, PyObject *value)
{
    if (option == NBR_STORE_OPT_CODEC && PyUnicode_Check(value)) {
        const char *name = PyUnicode_AsUTF8(value);
        if (!name) return -1;
        for (size_t i = 0; i < sizeof codec_names / sizeof codec_names[0]; i++)
            if (strcmp(codec_names[i].name, name) == 0) {
                *out = codec_names[i].codec;
                return 0;
            }
        nbrpy_fail_msg(NBR_EINVAL,
                       "unknown codec \"%s\" (blosclz, lz4, lz4hc, zlib or zstd)", name);
        return -1;
    }
    long long v = PyLong_AsLongLong(value);
    if (v == -1 && PyErr_Occurred()) return -1;
    *out = v;
    return 0;
}

PyDoc_STRVAR(set_option_doc,
             "set_option(name, value)\n\n"
             "Set \"codec\" (an nbr_codec number or \"blosclz\", \"lz4\", \"lz4hc\", \"zlib\",\n"
             "\"zstd\"), \"level\" (0-9), \"shuffle\" (0/1), \"chunk_bytes\" or \"chunk_dedup\"\n"
             "(0/1) of a store this handle has just created (mode \"c\"), before its first\n"
             "checkpoint; or \"workers\" (threads compressing new chunks: -1 = one per CPU but\n"
             "one, 0 = the writing thread only), this handle's own, between checkpoints.");

static PyObject *store_set_option(StoreObject *self, PyObject *args)
{
    const char *name;
    PyObject *value;
    nbr_store_option option;
    int64_t v;
    if (!PyArg_ParseTuple(args, "sO:set_option", &name, &value) ||
        option_from_name(&option, name) < 0 || option_value(&v, option, value) < 0 ||
        nbrpy_store_enter(self) < 0)
        return NULL;
    nbr_status st;
    NBRPY_NOGIL(st, nbr_store_set_option(self->store, option, v));
    return leave_none(self, st);
}

PyDoc_STRVAR(get_option_doc,
             "get_option(name) -> int\n\n"
             "The value of \"codec\" (as an nbr_codec number), \"level\", \"shuffle\",\n"
             "\"chunk_bytes\", \"chunk_dedup\" or \"workers\".");

static PyObject *store_get_option(StoreObject *self, PyObject *args)
{
    const char *name;
    nbr_store_option option;
    if (!PyArg_ParseTuple(args, "s:get_option", &name) || option_from_name(&option, name) < 0 ||
        nbrpy_store_enter(self) < 0)
        return NULL;
    int64_t value;
    nbr_status st = nbr_store_get_option(&value, self->store, option);
    PyObject *result = st == NBR_OK ? PyLong_FromLongLong(value) : nbrpy_fail(st);
    nbrpy_guard_leave(&self->guard);
    return result;
}

/* ---- checkpoints -------------------------------------------------------- */

PyDoc_STRVAR(begin_doc,
             "begin(cell_id, execution_count, host_json=None) -> Checkpoint\n\n"
             "Begin a checkpoint for the cell that produced it (writer handles only, one\n"
             "at a time).  host_json is JSON text kept with the checkpoint.");

static PyObject *store_begin(StoreObject *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"cell_id", "execution_count", "host_json", NULL};
    const char *cell_id, *host_json = NULL;
    long long count;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "sL|z:begin", keywords, &cell_id, &count,
                                     &host_json) ||
        nbrpy_store_enter(self) < 0)
        return NULL;
    nbr_checkpoint *checkpoint;
    nbr_status st;
    NBRPY_NOGIL(st, nbr_checkpoint_begin(&checkpoint, self->store, cell_id, count, host_json));
    PyObject *result = st == NBR_OK ? nbrpy_checkpoint_new(self, checkpoint) : nbrpy_fail(st);
    if (result) self->active = (CheckpointObject *)result;
    nbrpy_guard_leave(&self->guard);
    return result;
}

PyDoc_STRVAR(checkpoints_doc,
             "checkpoints() -> list[str]\n\n"
             "The ids of the committed checkpoints this handle knows of, oldest first.");

static PyObject *checkpoint_id_item(const void *store, size_t i)
{
    return PyUnicode_FromString(nbr_store_checkpoint_id(store, i));
}

static PyObject *store_checkpoints(StoreObject *self, PyObject *Py_UNUSED(ignored))
{
    if (nbrpy_store_enter(self) < 0) return NULL;
    PyObject *list = nbrpy_list_of(nbr_store_checkpoint_count(self->store),
                                   checkpoint_id_item, self->store);
    nbrpy_guard_leave(&self->guard);
    return list;
}

PyDoc_STRVAR(checkpoint_info_doc,
             "checkpoint_info(checkpoint_id) -> dict\n\n"
             "cell_id, execution_count, started and committed (UTC times) and host (the\n"
             "host's JSON text, \"null\" if none).  NotFoundError for an unknown id.");

static PyObject *store_checkpoint_info(StoreObject *self, PyObject *args)
{
    const char *cid, *cell_id, *started, *committed, *host;
    int64_t count;
    if (!PyArg_ParseTuple(args, "s:checkpoint_info", &cid) || nbrpy_store_enter(self) < 0)
        return NULL;
    nbr_status st;
    NBRPY_NOGIL(st, nbr_store_checkpoint_info(&cell_id, &count, &started, &committed, &host,
                                        self->store, cid));
    PyObject *result = st != NBR_OK ? nbrpy_fail(st)
                                    : Py_BuildValue("{s:s,s:L,s:s,s:s,s:s}", "cell_id", cell_id,
                                                    "execution_count", (long long)count,
                                                    "started", started, "committed", committed,
                                                    "host", host);
    nbrpy_guard_leave(&self->guard);
    return result;
}

PyDoc_STRVAR(resolve_doc,
             "resolve(name, checkpoint=None) -> str | None\n\n"
             "The id of the object `name` is bound to as of a checkpoint (None: the\n"
             "latest); None if it was deleted by then.  NotFoundError if it was never\n"
             "bound.");

static PyObject *store_resolve(StoreObject *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"name", "checkpoint", NULL};
    const char *name, *cid = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "s|z:resolve", keywords, &name, &cid) ||
        nbrpy_store_enter(self) < 0)
        return NULL;
    nbr_object_id id;
    int deleted;
    nbr_status st;
    NBRPY_NOGIL(st, nbr_store_resolve(&id, &deleted, self->store, cid, name));
    nbrpy_guard_leave(&self->guard);
    if (st != NBR_OK) return nbrpy_fail(st);
    return deleted ? Py_NewRef(Py_None) : nbrpy_id_to_str(&id);
}

/* ---- objects ------------------------------------------------------------ */

static PyObject *extent_item(const void *shape, size_t i)
{
    return PyLong_FromUnsignedLongLong(((const uint64_t *)shape)[i]);
}

static PyObject *shape_tuple(size_t ndim, const uint64_t *shape)
{
    PyObject *list = nbrpy_list_of(ndim, extent_item, shape);
    PyObject *tuple = list ? PyList_AsTuple(list) : NULL;
    Py_XDECREF(list);
    return tuple;
}

PyDoc_STRVAR(object_info_doc,
             "object_info(id) -> dict\n\n"
             "kind (\"array\" or \"blob\"), type (dtype or codec tag), shape (a tuple; a\n"
             "blob's is (size,)) and logical_bytes.  NotFoundError if the store lacks it.");

static PyObject *store_object_info(StoreObject *self, PyObject *arg)
{
    nbr_object_id id;
    if (nbrpy_id_from_str(&id, arg) < 0 || nbrpy_store_enter(self) < 0) return NULL;
    nbr_object_kind kind;
    const char *type;
    size_t ndim;
    const uint64_t *shape;
    uint64_t bytes;
    nbr_status st = nbr_store_object_info(&kind, &type, &ndim, &shape, &bytes, self->store, &id);
    PyObject *result = NULL;
    if (st != NBR_OK) nbrpy_fail(st);
    else
        result = Py_BuildValue("{s:s,s:s,s:N,s:K}", "kind",
                               kind == NBR_OBJECT_ARRAY ? "array" : "blob", "type", type,
                               "shape", shape_tuple(ndim, shape), "logical_bytes",
                               (unsigned long long)bytes);
    nbrpy_guard_leave(&self->guard);
    return result;
}

/* The logical size of a stored object, for sizing the buffer it is read into.
 * The caller holds the guard.  0, or -1 with an exception set. */
static int object_size(uint64_t *out, StoreObject *self, const nbr_object_id *id)
{
    nbr_status st = nbr_store_object_info(NULL, NULL, NULL, NULL, out, self->store, id);
    if (st == NBR_OK) return 0;
    nbrpy_fail(st);
    return -1;
}

PyDoc_STRVAR(read_array_into_doc,
             "read_array_into(id, dtype, shape, buffer)\n\n"
             "Read an array into a writable C-contiguous buffer of exactly its size\n"
             "(e.g. out.view(np.uint8)), verifying its hash.  dtype and shape must be\n"
             "the stored ones (InvalidError otherwise); CorruptError if the data is\n"
             "damaged.  The GIL is released while reading.");

static PyObject *store_read_array_into(StoreObject *self, PyObject *args)
{
    PyObject *hex, *shape_arg;
    const char *dtype;
    Py_buffer view;
    nbr_object_id id;
    uint64_t shape[NBRPY_MAX_DIMS], size;
    size_t ndim;
    if (!PyArg_ParseTuple(args, "OsOw*:read_array_into", &hex, &dtype, &shape_arg, &view))
        return NULL;
    PyObject *result = NULL;
    if (nbrpy_id_from_str(&id, hex) < 0 || nbrpy_shape_parse(shape, &ndim, shape_arg) < 0 ||
        nbrpy_store_enter(self) < 0)
        goto done;
    if (object_size(&size, self, &id) == 0) {
        if (size != (uint64_t)view.len) {
            nbrpy_fail_msg(NBR_EINVAL, "read_array_into: object %U holds %llu bytes, the buffer %zd",
                           hex, (unsigned long long)size, view.len);
        } else {
            nbr_status st;
            NBRPY_NOGIL(st, nbr_store_read_array(view.buf, (size_t)view.len, self->store, &id, dtype,
                                           ndim, shape));
            result = st == NBR_OK ? Py_NewRef(Py_None) : nbrpy_fail(st);
        }
    }
    nbrpy_guard_leave(&self->guard);
done:
    PyBuffer_Release(&view);
    return result;
}

PyDoc_STRVAR(read_blob_doc,
             "read_blob(id) -> bytes\n\n"
             "A blob's bytes, verified against its hash.  The GIL is released while\n"
             "reading.");

static PyObject *store_read_blob(StoreObject *self, PyObject *arg)
{
    nbr_object_id id;
    uint64_t size;
    if (nbrpy_id_from_str(&id, arg) < 0 || nbrpy_store_enter(self) < 0) return NULL;
    PyObject *bytes = NULL;
    if (object_size(&size, self, &id) == 0 &&
        (bytes = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)size))) {
        nbr_status st;
        NBRPY_NOGIL(st, nbr_store_read_blob(PyBytes_AS_STRING(bytes), (size_t)size, self->store, &id));
        if (st != NBR_OK) {
            Py_CLEAR(bytes);
            nbrpy_fail(st);
        }
    }
    nbrpy_guard_leave(&self->guard);
    return bytes;
}

/* ---- comparing, measuring, checking ------------------------------------- */

static const char *change_name(nbr_change change)
{
    switch (change) {
    case NBR_CHANGE_ADDED: return "added";
    case NBR_CHANGE_CHANGED: return "changed";
    default: return "deleted";
    }
}

static PyObject *diff_item(const void *diff, size_t i)
{
    const char *name;
    nbr_change change;
    nbr_diff_entry(&name, &change, diff, i);
    return Py_BuildValue("(ss)", name, change_name(change));
}

PyDoc_STRVAR(diff_doc,
             "diff(frm, to) -> list[tuple[str, str]]\n\n"
             "The names whose binding differs between checkpoint `frm` (None: the empty\n"
             "namespace before the first checkpoint) and `to`, sorted by name, each with\n"
             "\"added\", \"changed\" or \"deleted\".");

static PyObject *store_diff(StoreObject *self, PyObject *args)
{
    const char *from, *to;
    if (!PyArg_ParseTuple(args, "zs:diff", &from, &to) || nbrpy_store_enter(self) < 0)
        return NULL;
    nbr_diff *diff;
    nbr_status st;
    NBRPY_NOGIL(st, nbr_store_diff(&diff, self->store, from, to));
    nbrpy_guard_leave(&self->guard);
    if (st != NBR_OK) return nbrpy_fail(st);
    PyObject *list = nbrpy_list_of(nbr_diff_count(diff), diff_item, diff);
    nbr_diff_free(diff);
    return list;
}

PyDoc_STRVAR(stats_doc,
             "stats(checkpoint=None) -> tuple[int, int]\n\n"
             "(logical, stored) bytes of one checkpoint, or of the whole store.");

static PyObject *store_stats(StoreObject *self, PyObject *args)
{
    const char *cid = NULL;
    if (!PyArg_ParseTuple(args, "|z:stats", &cid) || nbrpy_store_enter(self) < 0) return NULL;
    uint64_t logical, stored;
    nbr_status st;
    NBRPY_NOGIL(st, nbr_store_stats(&logical, &stored, self->store, cid));
    nbrpy_guard_leave(&self->guard);
    if (st != NBR_OK) return nbrpy_fail(st);
    return Py_BuildValue("(KK)", (unsigned long long)logical, (unsigned long long)stored);
}

/* A call that hands over a text report: the report as a str.  For verify,
 * damage is the answer it exists to give (NBR_ECORRUPT), not a failure. */
static PyObject *report_call(StoreObject *self, nbr_status (*fn)(char **, nbr_store *),
                             int corrupt_is_an_answer)
{
    if (nbrpy_store_enter(self) < 0) return NULL;
    char *report = NULL;
    nbr_status st;
    NBRPY_NOGIL(st, fn(&report, self->store));
    if (corrupt_is_an_answer && st == NBR_ECORRUPT) st = NBR_OK;
    return leave_string(self, st, report);
}

PyDoc_STRVAR(verify_doc,
             "verify() -> str\n\n"
             "Re-read and re-hash every object and check every manifest.  Returns the\n"
             "report: \"\" when the store is sound, else one line per problem naming the\n"
             "object and file (damage is reported, not raised).  The GIL is released.");

static PyObject *store_verify(StoreObject *self, PyObject *Py_UNUSED(ignored))
{
    return report_call(self, nbr_store_verify, 1);
}

/* ---- refs, pins, GC ----------------------------------------------------- */

/* A call that takes the store and one string, returning nothing. */
static PyObject *string_call(StoreObject *self, PyObject *args, const char *format,
                             nbr_status (*fn)(nbr_store *, const char *))
{
    const char *text;
    if (!PyArg_ParseTuple(args, format, &text) || nbrpy_store_enter(self) < 0) return NULL;
    nbr_status st;
    NBRPY_NOGIL(st, fn(self->store, text));
    return leave_none(self, st);
}

PyDoc_STRVAR(set_ref_doc,
             "set_ref(name, checkpoint_id)\n\nPoint ref `name` at a checkpoint (writer only).");

static PyObject *store_set_ref(StoreObject *self, PyObject *args)
{
    const char *name, *cid;
    if (!PyArg_ParseTuple(args, "ss:set_ref", &name, &cid) || nbrpy_store_enter(self) < 0)
        return NULL;
    nbr_status st;
    NBRPY_NOGIL(st, nbr_store_set_ref(self->store, name, cid));
    return leave_none(self, st);
}

PyDoc_STRVAR(get_ref_doc,
             "get_ref(name) -> str\n\n"
             "The checkpoint id ref `name` points at; NotFoundError if there is none.");

static PyObject *store_get_ref(StoreObject *self, PyObject *args)
{
    const char *name;
    if (!PyArg_ParseTuple(args, "s:get_ref", &name) || nbrpy_store_enter(self) < 0)
        return NULL;
    char *cid = NULL;
    nbr_status st;
    NBRPY_NOGIL(st, nbr_store_get_ref(&cid, self->store, name));
    return leave_string(self, st, cid);
}

PyDoc_STRVAR(delete_ref_doc,
             "delete_ref(name)\n\nRemove ref `name`; NotFoundError if there is none.");

static PyObject *store_delete_ref(StoreObject *self, PyObject *args)
{
    return string_call(self, args, "s:delete_ref", nbr_store_delete_ref);
}

PyDoc_STRVAR(pin_doc, "pin(checkpoint_id)\n\nKeep a checkpoint through GC (writer only).");

static PyObject *store_pin(StoreObject *self, PyObject *args)
{
    return string_call(self, args, "s:pin", nbr_store_pin);
}

PyDoc_STRVAR(unpin_doc,
             "unpin(checkpoint_id)\n\nUnpin a checkpoint; NotFoundError if it is not pinned.");

static PyObject *store_unpin(StoreObject *self, PyObject *args)
{
    return string_call(self, args, "s:unpin", nbr_store_unpin);
}

PyDoc_STRVAR(gc_doc,
             "gc() -> str\n\n"
             "Remove every checkpoint no ref or pin retains (the newest is always kept)\n"
             "and the segments nothing references; returns the one-line report.  The GIL\n"
             "is released.");

static PyObject *store_gc(StoreObject *self, PyObject *Py_UNUSED(ignored))
{
    return report_call(self, nbr_store_gc, 0);
}

/* ---- the type ----------------------------------------------------------- */

static PyMethodDef store_methods[] = {
    {"close", (PyCFunction)store_close, METH_NOARGS, close_doc},
    {"__enter__", nbrpy_return_self, METH_NOARGS, "Return the store."},
    {"__exit__", (PyCFunction)store_exit_ctx, METH_VARARGS, "Close the store."},
    {"refresh", (PyCFunction)store_refresh, METH_NOARGS, refresh_doc},
    {"set_option", (PyCFunction)store_set_option, METH_VARARGS, set_option_doc},
    {"get_option", (PyCFunction)store_get_option, METH_VARARGS, get_option_doc},
    {"begin", (PyCFunction)(void (*)(void))store_begin, METH_VARARGS | METH_KEYWORDS, begin_doc},
    {"checkpoints", (PyCFunction)store_checkpoints, METH_NOARGS, checkpoints_doc},
    {"checkpoint_info", (PyCFunction)store_checkpoint_info, METH_VARARGS, checkpoint_info_doc},
    {"resolve", (PyCFunction)(void (*)(void))store_resolve, METH_VARARGS | METH_KEYWORDS,
     resolve_doc},
    {"object_info", (PyCFunction)store_object_info, METH_O, object_info_doc},
    {"read_array_into", (PyCFunction)store_read_array_into, METH_VARARGS, read_array_into_doc},
    {"read_blob", (PyCFunction)store_read_blob, METH_O, read_blob_doc},
    {"diff", (PyCFunction)store_diff, METH_VARARGS, diff_doc},
    {"stats", (PyCFunction)store_stats, METH_VARARGS, stats_doc},
    {"verify", (PyCFunction)store_verify, METH_NOARGS, verify_doc},
    {"set_ref", (PyCFunction)store_set_ref, METH_VARARGS, set_ref_doc},
    {"get_ref", (PyCFunction)store_get_ref, METH_VARARGS, get_ref_doc},
    {"delete_ref", (PyCFunction)store_delete_ref, METH_VARARGS, delete_ref_doc},
    {"pin", (PyCFunction)store_pin, METH_VARARGS, pin_doc},
    {"unpin", (PyCFunction)store_unpin, METH_VARARGS, unpin_doc},
    {"gc", (PyCFunction)store_gc, METH_NOARGS, gc_doc},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef store_getset[] = {
    {"path", (getter)store_get_path, NULL, "The store's directory, as given.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyDoc_STRVAR(store_doc,
             "Store(path, mode=\"r\")\n\n"
             "A checkpoint store directory (nbr_store).  mode \"r\": read only, never\n"
             "blocks; \"w\": the writer (takes the lock; LockedError names the holder);\n"
             "\"c\": create if missing, as the writer.  A context manager that closes.\n"
             "Safe to share between threads: calls on one store run one at a time.");

static PyType_Slot store_slots[] = {
    {Py_tp_new, store_new},
    {Py_tp_dealloc, store_dealloc},
    {Py_tp_methods, store_methods},
    {Py_tp_getset, store_getset},
    {Py_tp_doc, (void *)store_doc},
    {0, NULL},
};

static PyType_Spec store_spec = {
    "nbrewind.Store", sizeof(StoreObject), 0, Py_TPFLAGS_DEFAULT, store_slots,
};

int nbrpy_store_type_init(PyObject *module)
{
    nbrpy_StoreType = (PyTypeObject *)PyType_FromSpec(&store_spec);
    if (!nbrpy_StoreType) return -1;
    return PyModule_AddObjectRef(module, "Store", (PyObject *)nbrpy_StoreType);
}
