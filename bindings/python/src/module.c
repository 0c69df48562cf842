/*
 * module.c - nbrewind._core: module init, version, the exceptions, argument
 * conversion shared by the types, hashing and cell analysis.
 */
#include "nbrewind_py.h"

#include <stdarg.h>

static PyObject *Error, *NotFoundError, *LockedError, *CorruptError, *UnsupportedError,
    *InvalidError, *StoreIOError, *ChangedError;

/* ---- errors ------------------------------------------------------------- */

static PyObject *exception_for(int status)
{
    switch (status) {
    case NBR_ENOTFOUND: return NotFoundError;
    case NBR_ELOCKED: return LockedError;
    case NBR_ECORRUPT: return CorruptError;
    case NBR_ECHANGED: return ChangedError;
    case NBR_EUNSUPPORTED: return UnsupportedError;
    case NBR_EINVAL:
    case NBR_EENCODING: return InvalidError;
    case NBR_EIO: return StoreIOError;
    case NBR_ENOMEM: return PyExc_MemoryError;
    default: return Error;
    }
}

/* The one place a status becomes an exception: its class from the status,
 * its message from the caller, and `.status` the status' constant name. */
static PyObject *raise_status(int status, const char *message)
{
    PyObject *type = exception_for(status);
    PyObject *exc = PyObject_CallFunction(type, "s", message);
    PyObject *name = PyUnicode_FromString(nbr_status_name(status));
    if (exc && name && (type == PyExc_MemoryError ||
                        PyObject_SetAttrString(exc, "status", name) == 0))
        PyErr_SetObject(type, exc);
    Py_XDECREF(name);
    Py_XDECREF(exc);
    return NULL;
}

PyObject *nbrpy_fail(int status)
{
    return raise_status(status, nbr_last_error());
}

PyObject *nbrpy_fail_msg(int status, const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    PyObject *message = PyUnicode_FromFormatV(format, ap);
    va_end(ap);
    if (!message) return NULL;
    raise_status(status, PyUnicode_AsUTF8(message));
    Py_DECREF(message);
    return NULL;
}

/* Make exception class `name` with a class attribute `status` (what an
 * instance raised by the binding overrides).  KeyError and OSError render a
 * message oddly (quoted, or as errno fields): every nbrewind error prints as
 * the library's plain message. */
static PyObject *new_exception(PyObject *module, const char *name, PyObject *bases, int status,
                               const char *doc)
{
    char qualified[64];
    PyOS_snprintf(qualified, sizeof qualified, "nbrewind.%s", name);
    PyObject *dict = PyDict_New();
    PyObject *plain_str = PyObject_GetAttrString(PyExc_BaseException, "__str__");
    PyObject *status_name = PyUnicode_FromString(nbr_status_name(status));
    PyObject *exc = NULL;
    if (dict && plain_str && status_name &&
        PyDict_SetItemString(dict, "__str__", plain_str) == 0 &&
        PyDict_SetItemString(dict, "status", status_name) == 0)
        exc = PyErr_NewExceptionWithDoc(qualified, doc, bases, dict);
    Py_XDECREF(dict);
    Py_XDECREF(plain_str);
    Py_XDECREF(status_name);
    if (exc && PyModule_AddObjectRef(module, name, exc) < 0) Py_CLEAR(exc);
    return exc;
}

/* The subclasses of Error: which status each stands for and which built-in
 * exception it also is, so that `except KeyError` and friends work too. */
static const struct {
    PyObject **slot;
    const char *name;
    PyObject **builtin; /* NULL: Error only */
    int status;
    const char *doc;
} error_classes[] = {
    {&NotFoundError, "NotFoundError", &PyExc_KeyError, NBR_ENOTFOUND,
     "NBR_ENOTFOUND: no such object, name, ref or checkpoint."},
    {&LockedError, "LockedError", NULL, NBR_ELOCKED,
     "NBR_ELOCKED: another writer holds the store's lock."},
    {&CorruptError, "CorruptError", NULL, NBR_ECORRUPT,
     "NBR_ECORRUPT: stored data fails its checks."},
    {&UnsupportedError, "UnsupportedError", NULL, NBR_EUNSUPPORTED,
     "NBR_EUNSUPPORTED: e.g. an unknown language."},
    {&InvalidError, "InvalidError", &PyExc_ValueError, NBR_EINVAL,
     "NBR_EINVAL (or NBR_EENCODING): an invalid argument."},
    {&StoreIOError, "StoreIOError", &PyExc_OSError, NBR_EIO,
     "NBR_EIO: an operating-system I/O error."},
    {&ChangedError, "ChangedError", NULL, NBR_ECHANGED,
     "NBR_ECHANGED: memory put live changed before it was stored."},
};

static int init_exceptions(PyObject *m)
{
    Error = new_exception(m, "Error", PyExc_Exception, NBR_ERROR,
                          "A libnbrewind failure; .status is the nbr status name "
                          "(\"NBR_ENOTFOUND\", ...), the message nbr_last_error().");
    if (!Error) return -1;
    for (size_t i = 0; i < sizeof error_classes / sizeof error_classes[0]; i++) {
        PyObject **builtin = error_classes[i].builtin;
        PyObject *bases = builtin ? PyTuple_Pack(2, Error, *builtin) : PyTuple_Pack(1, Error);
        if (!bases) return -1;
        *error_classes[i].slot = new_exception(m, error_classes[i].name, bases,
                                               error_classes[i].status, error_classes[i].doc);
        Py_DECREF(bases);
        if (!*error_classes[i].slot) return -1;
    }
    return 0;
}

/* ---- argument conversion ------------------------------------------------ */

int nbrpy_utf8(const char **out, PyObject *obj, int null_ok, const char *what)
{
    if (null_ok && obj == Py_None) {
        *out = NULL;
        return 0;
    }
    if (!PyUnicode_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s must be a str%s, not %.100s", what,
                     null_ok ? " or None" : "", Py_TYPE(obj)->tp_name);
        return -1;
    }
    *out = PyUnicode_AsUTF8(obj);
    return *out ? 0 : -1;
}

/* A sequence of at most NBRPY_MAX_DIMS ints, each through `convert`. */
static int int_sequence(PyObject *seq, size_t *n, const char *what,
                        int (*convert)(PyObject *item, size_t i, void *out), void *out)
{
    PyObject *fast = PySequence_Fast(seq, "");
    if (!fast) {
        PyErr_Format(PyExc_TypeError, "%s must be a sequence of ints", what);
        return -1;
    }
    Py_ssize_t len = PySequence_Fast_GET_SIZE(fast);
    int rc = 0;
    if (len > NBRPY_MAX_DIMS) {
        nbrpy_fail_msg(NBR_EINVAL, "%s has %zd dimensions; at most %d are supported", what,
                       len, NBRPY_MAX_DIMS);
        rc = -1;
    }
    for (Py_ssize_t i = 0; rc == 0 && i < len; i++)
        rc = convert(PySequence_Fast_GET_ITEM(fast, i), (size_t)i, out);
    Py_DECREF(fast);
    *n = (size_t)len;
    return rc;
}

static int to_extent(PyObject *item, size_t i, void *out)
{
    unsigned long long v = PyLong_AsUnsignedLongLong(item);
    if (v == (unsigned long long)-1 && PyErr_Occurred()) return -1;
    ((uint64_t *)out)[i] = v;
    return 0;
}

static int to_stride(PyObject *item, size_t i, void *out)
{
    long long v = PyLong_AsLongLong(item);
    if (v == -1 && PyErr_Occurred()) return -1;
    ((int64_t *)out)[i] = v;
    return 0;
}

int nbrpy_shape_parse(uint64_t *shape, size_t *ndim, PyObject *seq)
{
    return int_sequence(seq, ndim, "shape", to_extent, shape);
}

int nbrpy_array_parse(nbrpy_array *out, PyObject *dtype, PyObject *shape, PyObject *strides,
                      PyObject *address)
{
    if (nbrpy_utf8(&out->dtype, dtype, 0, "dtype") < 0) return -1;
    if (nbrpy_shape_parse(out->shape, &out->ndim, shape) < 0) return -1;
    out->has_strides = strides != Py_None;
    if (out->has_strides) {
        size_t n;
        if (int_sequence(strides, &n, "strides", to_stride, out->strides) < 0) return -1;
        if (n != out->ndim) {
            nbrpy_fail_msg(NBR_EINVAL, "strides has %zu entries for %zu dimensions", n,
                           out->ndim);
            return -1;
        }
    }
    out->data = PyLong_AsVoidPtr(address);
    return PyErr_Occurred() ? -1 : 0;
}

int nbrpy_id_from_str(nbr_object_id *out, PyObject *hex)
{
    const char *text;
    if (nbrpy_utf8(&text, hex, 0, "object id") < 0) return -1;
    nbr_status st = nbr_object_id_from_hex(out, text);
    if (st != NBR_OK) {
        nbrpy_fail(st);
        return -1;
    }
    return 0;
}

PyObject *nbrpy_id_to_str(const nbr_object_id *id)
{
    char hex[NBR_OBJECT_ID_HEX_SIZE];
    nbr_object_id_to_hex(hex, id);
    return PyUnicode_FromString(hex);
}

PyObject *nbrpy_take_string(char *owned)
{
    PyObject *s = PyUnicode_FromString(owned ? owned : "");
    nbr_free(owned);
    return s;
}

PyObject *nbrpy_list_of(size_t n, PyObject *(*item)(const void *ctx, size_t i),
                        const void *ctx)
{
    PyObject *list = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; list && i < n; i++) {
        PyObject *v = item(ctx, i);
        if (!v) Py_CLEAR(list);
        else PyList_SET_ITEM(list, (Py_ssize_t)i, v);
    }
    return list;
}

/* ---- the guard ---------------------------------------------------------- */

int nbrpy_guard_init(nbrpy_guard *guard)
{
    guard->lock = PyThread_allocate_lock();
    guard->owner = 0;
    guard->depth = 0;
    if (!guard->lock) PyErr_NoMemory();
    return guard->lock ? 0 : -1;
}

void nbrpy_guard_free(nbrpy_guard *guard)
{
    if (guard->lock) PyThread_free_lock(guard->lock);
    guard->lock = NULL;
}

void nbrpy_guard_enter(nbrpy_guard *guard)
{
    unsigned long me = PyThread_get_thread_ident();
    if (guard->owner == me) {
        guard->depth++;
        return;
    }
    /* Never block while holding the GIL: the holder may need it to finish. */
    if (!PyThread_acquire_lock(guard->lock, NOWAIT_LOCK)) {
        Py_BEGIN_ALLOW_THREADS
        PyThread_acquire_lock(guard->lock, WAIT_LOCK);
        Py_END_ALLOW_THREADS
    }
    guard->owner = me;
    guard->depth = 1;
}

void nbrpy_guard_leave(nbrpy_guard *guard)
{
    if (--guard->depth > 0) return;
    guard->owner = 0;
    PyThread_release_lock(guard->lock);
}

/* ---- context managers -------------------------------------------------- */

PyObject *nbrpy_return_self(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    return Py_NewRef(self);
}

PyObject *nbrpy_exit_result(PyObject *result)
{
    Py_XDECREF(result);
    return result ? Py_NewRef(Py_False) : NULL;
}

/* ---- module functions --------------------------------------------------- */

PyDoc_STRVAR(version_doc,
             "version() -> str\n\n"
             "The version of the libnbrewind actually loaded, e.g. \"0.1.0\".");

static PyObject *py_version(PyObject *Py_UNUSED(module), PyObject *Py_UNUSED(ignored))
{
    return PyUnicode_FromString(nbr_version_string());
}

/* Finish a hashing call: the id as hex, or the exception. */
static PyObject *hash_result(nbr_status st, const nbr_object_id *id)
{
    return st == NBR_OK ? nbrpy_id_to_str(id) : nbrpy_fail(st);
}

PyDoc_STRVAR(hash_bytes_doc,
             "hash_bytes(data) -> str\n\n"
             "The XXH3-128 digest of a buffer's bytes as 32 hex digits (nbr_hash_bytes).\n"
             "The GIL is released while hashing.");

static PyObject *py_hash_bytes(PyObject *Py_UNUSED(module), PyObject *arg)
{
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_C_CONTIGUOUS) < 0) return NULL;
    nbr_object_id id;
    nbr_status st;
    Py_BEGIN_ALLOW_THREADS
    st = nbr_hash_bytes(&id, view.buf, (size_t)view.len);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    return hash_result(st, &id);
}

PyDoc_STRVAR(read_manifest_doc,
             "read_manifest(path) -> bytes\n\n"
             "The text of a store's manifest file checkpoints/<id>.json: the file, or\n"
             "the manifest the segment it names carries at its end (nbr_manifest_read).");

static PyObject *py_read_manifest(PyObject *Py_UNUSED(module), PyObject *arg)
{
    PyObject *encoded = NULL;
    if (!PyUnicode_FSConverter(arg, &encoded)) return NULL;
    char *text = NULL;
    size_t length = 0;
    nbr_status st;
    const char *path = PyBytes_AS_STRING(encoded);
    Py_BEGIN_ALLOW_THREADS
    st = nbr_manifest_read(&text, &length, path);
    Py_END_ALLOW_THREADS
    Py_DECREF(encoded);
    if (st != NBR_OK) return nbrpy_fail(st);
    PyObject *out = PyBytes_FromStringAndSize(text, (Py_ssize_t)length);
    nbr_free(text);
    return out;
}

PyDoc_STRVAR(hash_blob_doc,
             "hash_blob(codec, data) -> str\n\n"
             "The id a store gives a blob of these bytes tagged with `codec`, without\n"
             "storing it (nbr_blob_hash).  The GIL is released while hashing.");

static PyObject *py_hash_blob(PyObject *Py_UNUSED(module), PyObject *args)
{
    const char *codec;
    Py_buffer view;
    if (!PyArg_ParseTuple(args, "sy*:hash_blob", &codec, &view)) return NULL;
    nbr_object_id id;
    nbr_status st;
    Py_BEGIN_ALLOW_THREADS
    st = nbr_blob_hash(&id, codec, view.buf, (size_t)view.len);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    return hash_result(st, &id);
}

PyDoc_STRVAR(hash_array_doc,
             "hash_array(dtype, shape, strides, address, owner) -> str\n\n"
             "The id a store gives an array, without storing it (nbr_array_hash).\n"
             "dtype: numpy's dtype.str, or json.dumps(dtype.descr) for a structured dtype;\n"
             "shape: ints; strides: byte strides, or None for C order; address: the\n"
             "address of element [0, ...] (arr.__array_interface__['data'][0]); owner:\n"
             "the object owning that memory, kept alive for the call.  The GIL is\n"
             "released while hashing.");

static PyObject *py_hash_array(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *dtype, *shape, *strides, *address, *owner;
    if (!PyArg_ParseTuple(args, "OOOOO:hash_array", &dtype, &shape, &strides, &address,
                          &owner))
        return NULL;
    nbrpy_array a;
    if (nbrpy_array_parse(&a, dtype, shape, strides, address) < 0) return NULL;
    nbr_object_id id;
    nbr_status st;
    /* `owner` is referenced by the argument tuple until we return. */
    Py_BEGIN_ALLOW_THREADS
    st = nbr_array_hash(&id, a.dtype, a.ndim, a.shape, a.has_strides ? a.strides : NULL,
                        a.data);
    Py_END_ALLOW_THREADS
    return hash_result(st, &id);
}

/* nbr_analysis_to_json's text as a dict. */
static PyObject *json_loads(char *owned_json)
{
    PyObject *text = nbrpy_take_string(owned_json);
    PyObject *json = text ? PyImport_ImportModule("json") : NULL;
    PyObject *result = json ? PyObject_CallMethod(json, "loads", "O", text) : NULL;
    Py_XDECREF(json);
    Py_XDECREF(text);
    return result;
}

/* Sets result[key] = [(name, other), ...], the relations of that kind
 * (nbr_analysis_relation), which the JSON leaves out.  Steals `result`. */
static PyObject *with_relations(PyObject *result, const nbr_analysis *analysis,
                                nbr_relation_kind kind, const char *key)
{
    size_t count = nbr_analysis_relation_count(analysis, kind);
    PyObject *pairs = result ? PyList_New((Py_ssize_t)count) : NULL;
    for (size_t i = 0; pairs && i < count; i++) {
        const char *name = NULL, *other = NULL;
        nbr_analysis_relation(&name, &other, analysis, kind, i);
        PyObject *pair = Py_BuildValue("(ss)", name, other);
        if (!pair) Py_CLEAR(pairs);
        else PyList_SET_ITEM(pairs, (Py_ssize_t)i, pair);
    }
    if (!pairs || PyDict_SetItemString(result, key, pairs) < 0) Py_CLEAR(result);
    Py_XDECREF(pairs);
    return result;
}

nbr_status nbrpy_analysis_new(nbr_analysis **out, const char *language, const char *source,
                              size_t length)
{
    nbr_language lang;
    nbr_status st = nbr_language_from_name(&lang, language);
    return st == NBR_OK ? nbr_analysis_new(out, lang, source, length) : st;
}

PyDoc_STRVAR(analyze_doc,
             "analyze(source, language=\"python\") -> dict\n\n"
             "Analyse one cell: the names it defines, uses, may mutate, deletes and\n"
             "imports, its functions and classes with their globals, and its flags and\n"
             "syntax errors (nbr_analysis_to_json), plus \"aliases\" and \"parts\": the\n"
             "(name, other) pairs of its bindings of a name to another's object or to a\n"
             "part of it (nbr_analysis_relation).  A syntax error is reported in the\n"
             "result's \"errors\", not raised.");

static PyObject *py_analyze(PyObject *Py_UNUSED(module), PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"source", "language", NULL};
    const char *source, *language = "python";
    Py_ssize_t length;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "s#|s:analyze", keywords, &source, &length,
                                     &language))
        return NULL;
    nbr_analysis *analysis = NULL;
    char *json = NULL;
    nbr_status st;
    Py_BEGIN_ALLOW_THREADS
    st = nbrpy_analysis_new(&analysis, language, source, (size_t)length);
    if (st == NBR_OK) st = nbr_analysis_to_json(&json, analysis);
    Py_END_ALLOW_THREADS
    PyObject *result = st == NBR_OK ? json_loads(json) : nbrpy_fail(st);
    if (st == NBR_OK) result = with_relations(result, analysis, NBR_RELATION_ALIAS, "aliases");
    if (st == NBR_OK) result = with_relations(result, analysis, NBR_RELATION_PART, "parts");
    nbr_analysis_free(analysis);
    return result;
}

static PyMethodDef module_methods[] = {
    {"version", py_version, METH_NOARGS, version_doc},
    {"hash_bytes", py_hash_bytes, METH_O, hash_bytes_doc},
    {"read_manifest", py_read_manifest, METH_O, read_manifest_doc},
    {"hash_blob", py_hash_blob, METH_VARARGS, hash_blob_doc},
    {"hash_array", py_hash_array, METH_VARARGS, hash_array_doc},
    {"analyze", (PyCFunction)(void (*)(void))py_analyze, METH_VARARGS | METH_KEYWORDS,
     analyze_doc},
    {NULL, NULL, 0, NULL},
};

PyDoc_STRVAR(module_doc,
             "nbrewind._core: the CPython binding of libnbrewind (include/nbrewind.h).\n\n"
             "Arrays are passed as (dtype string, shape, strides, address, owner); the\n"
             "numpy side is done by the Python callers, so this module needs no numpy.");

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "nbrewind._core", module_doc, -1, module_methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__core(void)
{
    /* A libnbrewind.so other than the one built with this module would break
     * the ABI silently: refuse it loudly. */
    if (nbr_version() != NBR_VERSION_NUMBER) {
        PyErr_Format(PyExc_ImportError,
                     "nbrewind._core was built for libnbrewind %s but loaded %s",
                     NBR_VERSION_STRING, nbr_version_string());
        return NULL;
    }
    PyObject *m = PyModule_Create(&module_def);
    if (!m) return NULL;
    if (PyModule_AddStringConstant(m, "__version__", nbr_version_string()) < 0 ||
        init_exceptions(m) < 0 || nbrpy_store_type_init(m) < 0 ||
        nbrpy_checkpoint_types_init(m) < 0 || nbrpy_graph_types_init(m) < 0 ||
        PyModule_AddFunctions(m, nbrpy_record_methods) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
