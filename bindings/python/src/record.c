/*
 * record.c - execution records between Python dicts and the core's nbr_record.
 *
 * The format and its rules live in the core (nbr_record_*); this file only
 * moves the fields across: record_render(dict) builds an nbr_record with the
 * core's checked setters and returns its canonical JSON, record_parse(text)
 * gives the fields of a parsed record back as a dict.
 */
#include "nbrewind_py.h"

/* The dict keys of the text fields and lists, in the core's numbering. */
static const struct {
    const char *key;
    nbr_record_field field;
} text_fields[] = {
    {"cell_id", NBR_RECORD_CELL_ID},       {"language", NBR_RECORD_LANGUAGE},
    {"source_hash", NBR_RECORD_SOURCE_HASH}, {"status", NBR_RECORD_STATUS},
    {"started", NBR_RECORD_STARTED},       {"error_name", NBR_RECORD_ERROR_NAME},
    {"error_value", NBR_RECORD_ERROR_VALUE}, {"host", NBR_RECORD_HOST},
};

static const struct {
    const char *key;
    nbr_record_list list;
    int keyed; /* a dict name -> value (else a list of keys) */
} lists[] = {
    {"reads", NBR_RECORD_READS, 1},       {"writes", NBR_RECORD_WRITES, 1},
    {"deletes", NBR_RECORD_DELETES, 0},   {"recompute", NBR_RECORD_RECOMPUTE, 1},
    {"aliases", NBR_RECORD_ALIASES, 1},   {"outputs", NBR_RECORD_OUTPUTS, 0},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- dict -> record ------------------------------------------------------ */

static int set_text_fields(nbr_record *rec, PyObject *fields)
{
    for (size_t i = 0; i < COUNT(text_fields); i++) {
        PyObject *value = PyDict_GetItemString(fields, text_fields[i].key); /* borrowed */
        const char *text = NULL;
        if (!value) continue;
        if (nbrpy_utf8(&text, value, 1, text_fields[i].key) < 0) return -1;
        int st = nbr_record_set_text(rec, text_fields[i].field, text);
        if (st != NBR_OK) return nbrpy_fail(st), -1;
    }
    return 0;
}

static int set_numbers(nbr_record *rec, PyObject *fields)
{
    PyObject *count = PyDict_GetItemString(fields, "execution_count");
    PyObject *duration = PyDict_GetItemString(fields, "duration");
    int st = NBR_OK;
    if (count && count != Py_None) {
        long long n = PyLong_AsLongLong(count);
        if (n == -1 && PyErr_Occurred()) return -1;
        st = nbr_record_set_execution_count(rec, n);
    }
    if (st == NBR_OK && duration && duration != Py_None) {
        double seconds = PyFloat_AsDouble(duration);
        if (seconds == -1.0 && PyErr_Occurred()) return -1;
        st = nbr_record_set_duration(rec, seconds);
    }
    return st == NBR_OK ? 0 : (nbrpy_fail(st), -1);
}

static int add_entry(nbr_record *rec, nbr_record_list list, PyObject *key, PyObject *value,
                     const char *what)
{
    const char *k = NULL, *v = NULL;
    if (nbrpy_utf8(&k, key, 0, what) < 0) return -1;
    if (value && nbrpy_utf8(&v, value, 1, what) < 0) return -1;
    int st = nbr_record_add(rec, list, k, v);
    return st == NBR_OK ? 0 : (nbrpy_fail(st), -1);
}

static int add_list(nbr_record *rec, PyObject *fields, size_t i)
{
    PyObject *items = PyDict_GetItemString(fields, lists[i].key);
    if (!items || items == Py_None) return 0;
    if (lists[i].keyed) {
        if (!PyDict_Check(items))
            return PyErr_Format(PyExc_TypeError, "record \"%s\" must be a dict", lists[i].key),
                   -1;
        Py_ssize_t pos = 0;
        PyObject *key, *value;
        while (PyDict_Next(items, &pos, &key, &value))
            if (add_entry(rec, lists[i].list, key, value, lists[i].key) < 0) return -1;
        return 0;
    }
    PyObject *seq = PySequence_Fast(items, "record lists must be sequences");
    if (!seq) return -1;
    int rc = 0;
    for (Py_ssize_t j = 0; rc == 0 && j < PySequence_Fast_GET_SIZE(seq); j++)
        rc = add_entry(rec, lists[i].list, PySequence_Fast_GET_ITEM(seq, j), NULL,
                       lists[i].key);
    Py_DECREF(seq);
    return rc;
}

PyDoc_STRVAR(record_render_doc,
"record_render(fields: dict) -> str\n\n"
"Build an execution record from `fields` (cell_id, language, source_hash,\n"
"status, started, error_name, error_value, host (JSON text), execution_count,\n"
"duration, and the dicts/lists reads, writes, deletes, recompute, aliases,\n"
"outputs) and return the core's canonical JSON.  InvalidError naming the\n"
"field and the rule for anything the format does not allow.");

PyObject *nbrpy_record_render(PyObject *module, PyObject *fields)
{
    (void)module;
    if (!PyDict_Check(fields)) return PyErr_Format(PyExc_TypeError, "fields must be a dict");
    nbr_record *rec = NULL;
    int st = nbr_record_new(&rec);
    if (st != NBR_OK) return nbrpy_fail(st);
    PyObject *result = NULL;
    int rc = set_text_fields(rec, fields);
    if (rc == 0) rc = set_numbers(rec, fields);
    for (size_t i = 0; rc == 0 && i < COUNT(lists); i++) rc = add_list(rec, fields, i);
    if (rc == 0) {
        char *json = NULL;
        st = nbr_record_to_json(&json, rec);
        result = st == NBR_OK ? nbrpy_take_string(json) : nbrpy_fail(st);
    }
    nbr_record_free(rec);
    return result;
}

/* ---- record -> dict ------------------------------------------------------ */

static PyObject *optional_str(const char *text)
{
    if (!text) Py_RETURN_NONE;
    return PyUnicode_FromString(text);
}

static int put(PyObject *dict, const char *key, PyObject *value)
{
    if (!value) return -1;
    int rc = PyDict_SetItemString(dict, key, value);
    Py_DECREF(value);
    return rc;
}

static PyObject *list_value(const nbr_record *rec, size_t i)
{
    size_t n = nbr_record_count(rec, lists[i].list);
    PyObject *out = lists[i].keyed ? PyDict_New() : PyList_New((Py_ssize_t)n);
    for (size_t j = 0; out && j < n; j++) {
        const char *key = NULL, *value = NULL;
        nbr_record_entry(&key, &value, rec, lists[i].list, j);
        PyObject *k = PyUnicode_FromString(key);
        if (!k) return Py_DECREF(out), NULL;
        if (!lists[i].keyed) {
            PyList_SET_ITEM(out, (Py_ssize_t)j, k);
            continue;
        }
        PyObject *v = optional_str(value);
        int rc = v ? PyDict_SetItem(out, k, v) : -1;
        Py_DECREF(k);
        Py_XDECREF(v);
        if (rc < 0) return Py_DECREF(out), NULL;
    }
    return out;
}

static PyObject *record_dict(const nbr_record *rec)
{
    PyObject *d = PyDict_New();
    int rc = d ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < COUNT(text_fields); i++)
        rc = put(d, text_fields[i].key, optional_str(nbr_record_text(rec, text_fields[i].field)));
    int64_t count = nbr_record_execution_count(rec);
    double duration = nbr_record_duration(rec);
    if (rc == 0)
        rc = count < 0 ? PyDict_SetItemString(d, "execution_count", Py_None)
                       : put(d, "execution_count", PyLong_FromLongLong(count));
    if (rc == 0)
        rc = duration < 0 ? PyDict_SetItemString(d, "duration", Py_None)
                          : put(d, "duration", PyFloat_FromDouble(duration));
    for (size_t i = 0; rc == 0 && i < COUNT(lists); i++) rc = put(d, lists[i].key, list_value(rec, i));
    if (rc < 0) Py_CLEAR(d);
    return d;
}

PyDoc_STRVAR(record_parse_doc,
"record_parse(text: str) -> dict\n\n"
"Parse and check an execution record's JSON; return its fields as\n"
"record_render takes them (host as JSON text).  CorruptError naming the\n"
"broken rule; UnsupportedError for a newer format version.");

PyObject *nbrpy_record_parse(PyObject *module, PyObject *text)
{
    (void)module;
    Py_ssize_t length = 0;
    const char *utf8 = PyUnicode_Check(text) ? PyUnicode_AsUTF8AndSize(text, &length) : NULL;
    if (!utf8) {
        if (!PyErr_Occurred()) PyErr_Format(PyExc_TypeError, "text must be a str");
        return NULL;
    }
    nbr_record *rec = NULL;
    int st = nbr_record_parse(&rec, utf8, (size_t)length);
    if (st != NBR_OK) return nbrpy_fail(st);
    PyObject *d = record_dict(rec);
    nbr_record_free(rec);
    return d;
}

PyMethodDef nbrpy_record_methods[] = {
    {"record_render", nbrpy_record_render, METH_O, record_render_doc},
    {"record_parse", nbrpy_record_parse, METH_O, record_parse_doc},
    {NULL, NULL, 0, NULL},
};
