/*
 * graph.c - nbrewind._core.Graph (nbr_graph) and Plan (nbr_plan): the
 * notebook's executions with what each read and wrote, and a re-run plan made
 * from its edits.
 *
 * A Plan keeps its Graph alive (the core needs the graph to outlive its
 * plans); while a plan is open the core refuses to change the graph
 * (NBR_ESTATE), which surfaces here as Error.  Every call is fast and in
 * memory, so the GIL is held throughout: it also keeps one thread at a time
 * in a graph and its plans.
 */
#include "nbrewind_py.h"

#include <string.h>

PyTypeObject *nbrpy_GraphType;
PyTypeObject *nbrpy_PlanType;

/* ---- shared ------------------------------------------------------------- */

static PyObject *none_or_fail(nbr_status st)
{
    return st == NBR_OK ? Py_NewRef(Py_None) : nbrpy_fail(st);
}

/* A str from a string the core lends, or Error if it lent none. */
static PyObject *borrowed_str(const char *s, const char *what)
{
    return s ? PyUnicode_FromString(s) : nbrpy_fail_msg(NBR_ERROR, "the core returned no %s", what);
}

/* `text` as the index of its entry in `names` (NULL-terminated); InvalidError,
 * naming `what` and the choices (`listing`), otherwise. */
static int choice(int *out, const char *text, const char *const *names, const char *what,
                  const char *listing)
{
    for (int i = 0; names[i]; i++) {
        if (strcmp(text, names[i]) == 0) {
            *out = i;
            return 0;
        }
    }
    nbrpy_fail_msg(NBR_EINVAL, "%s must be one of %s, not \"%s\"", what, listing, text);
    return -1;
}

/* Indexed as nbr_observation and nbr_access. */
static const char *const observations[] = {"read", "write", "delete", NULL};
static const char *const accesses[] = {"reads", "writes", NULL};

static int observation(nbr_observation *out, const char *text)
{
    int i;
    if (choice(&i, text, observations, "what", "\"read\", \"write\", \"delete\"") < 0) return -1;
    *out = (nbr_observation)i;
    return 0;
}

/* ---- Graph -------------------------------------------------------------- */

static PyObject *graph_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, ":Graph", keywords)) return NULL;
    GraphObject *self = (GraphObject *)type->tp_alloc(type, 0);
    if (!self) return NULL;
    nbr_status st = nbr_graph_new(&self->graph);
    if (st != NBR_OK) {
        nbrpy_fail(st);
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

/* Its plans hold references to it, so none is left when this runs. */
static void graph_dealloc(GraphObject *self)
{
    PyTypeObject *type = Py_TYPE(self);
    nbr_graph_free(self->graph);
    type->tp_free(self);
    Py_DECREF(type);
}

/* add_cell and edit_cell: analyse the source, hand the analysis to `call`
 * (which copies what it needs), free it. */
static PyObject *with_analysis(GraphObject *self, PyObject *args, PyObject *kwargs,
                               const char *format,
                               nbr_status (*call)(nbr_graph *, const char *,
                                                  const nbr_analysis *))
{
    static char *keywords[] = {"cell_id", "source", "language", NULL};
    const char *cell_id, *source, *language = "python";
    Py_ssize_t length;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, format, keywords, &cell_id, &source, &length,
                                     &language))
        return NULL;
    nbr_analysis *analysis = NULL;
    nbr_status st = nbrpy_analysis_new(&analysis, language, source, (size_t)length);
    if (st == NBR_OK) st = call(self->graph, cell_id, analysis);
    PyObject *result = none_or_fail(st);
    nbr_analysis_free(analysis);
    return result;
}

PyDoc_STRVAR(add_cell_doc,
             "add_cell(cell_id, source, language=\"python\")\n\n"
             "Append one execution of a cell: its source is analysed (syntax errors do\n"
             "not fail; what could be analysed counts).  A cell id may appear once\n"
             "(Error NBR_EEXISTS otherwise).  Error NBR_ESTATE while a Plan of the\n"
             "graph is open, as for every call that changes the graph.");

static PyObject *graph_add_cell(GraphObject *self, PyObject *args, PyObject *kwargs)
{
    return with_analysis(self, args, kwargs, "ss#|s:add_cell", nbr_graph_add_cell);
}

PyDoc_STRVAR(edit_cell_doc,
             "edit_cell(cell_id, new_source, language=\"python\")\n\n"
             "The user edited a cell: analyse its new source and mark it edited.  Its\n"
             "writes are those of both sources; its static reads the new one's.");

static PyObject *graph_edit_cell(GraphObject *self, PyObject *args, PyObject *kwargs)
{
    return with_analysis(self, args, kwargs, "ss#|s:edit_cell", nbr_graph_edit_cell);
}

static PyObject *cell_id_item(const void *graph, size_t i)
{
    return borrowed_str(nbr_graph_cell_id(graph, i), "cell id");
}

PyDoc_STRVAR(cells_doc, "cells() -> list[str]\n\nThe cell ids of the executions, in order.");

static PyObject *graph_cells(GraphObject *self, PyObject *Py_UNUSED(ignored))
{
    return nbrpy_list_of(nbr_graph_cell_count(self->graph), cell_id_item, self->graph);
}

PyDoc_STRVAR(observe_doc,
             "observe(cell_id, what, name, hash)\n\n"
             "Attach a runtime observation to a cell's execution: what is \"read\",\n"
             "\"write\" or \"delete\"; name a variable or a pseudo-name (\"@rng:numpy\",\n"
             "\"@file:/data/in.csv\"); hash any string identifying the content (equal\n"
             "content, equal string), or None if it could not be hashed (unequal to\n"
             "everything).  A later observation of the same name and kind replaces\n"
             "an earlier one.  InvalidError for a bad `what` or an empty name,\n"
             "NotFoundError for an unknown cell.");

static PyObject *graph_observe(GraphObject *self, PyObject *args)
{
    const char *cell_id, *what, *name, *hash;
    nbr_observation kind;
    if (!PyArg_ParseTuple(args, "sssz:observe", &cell_id, &what, &name, &hash) ||
        observation(&kind, what) < 0)
        return NULL;
    return none_or_fail(nbr_graph_observe(self->graph, cell_id, kind, name, hash));
}

PyDoc_STRVAR(observe_alias_doc,
             "observe_alias(cell_id, name, other)\n\n"
             "After the cell, `name` and `other` are one object: a later in-place\n"
             "change through either changes both.  (`b = a` is found without this.)");

static PyObject *graph_observe_alias(GraphObject *self, PyObject *args)
{
    const char *cell_id, *name, *other;
    if (!PyArg_ParseTuple(args, "sss:observe_alias", &cell_id, &name, &other)) return NULL;
    return none_or_fail(nbr_graph_observe_alias(self->graph, cell_id, name, other));
}

PyDoc_STRVAR(mark_unrestorable_doc,
             "mark_unrestorable(cell_id, name)\n\n"
             "The value `name` had after the cell cannot be restored from a checkpoint\n"
             "(a client, an open file): a re-run that needs it re-runs its producer.");

static PyObject *graph_mark_unrestorable(GraphObject *self, PyObject *args)
{
    const char *cell_id, *name;
    if (!PyArg_ParseTuple(args, "ss:mark_unrestorable", &cell_id, &name)) return NULL;
    return none_or_fail(nbr_graph_mark_unrestorable(self->graph, cell_id, name));
}

PyDoc_STRVAR(mark_edited_doc,
             "mark_edited(cell_id)\n\n"
             "Mark a cell edited without a new source (its inputs changed outside the\n"
             "notebook).");

static PyObject *graph_mark_edited(GraphObject *self, PyObject *arg)
{
    const char *cell_id;
    if (nbrpy_utf8(&cell_id, arg, 0, "cell_id") < 0) return NULL;
    return none_or_fail(nbr_graph_mark_edited(self->graph, cell_id));
}

static PyObject *edge_item(const void *graph, size_t i)
{
    const char *from, *to, *name;
    nbr_status st = nbr_graph_edge(&from, &to, &name, graph, i);
    return st == NBR_OK ? Py_BuildValue("(sss)", from, to, name) : nbrpy_fail(st);
}

PyDoc_STRVAR(edges_doc,
             "edges() -> list[tuple[str, str, str]]\n\n"
             "The data-flow edges (from_cell, to_cell, name): for each execution in\n"
             "order, one per name it reads that an earlier one wrote, from the latest\n"
             "such execution.");

static PyObject *graph_edges(GraphObject *self, PyObject *Py_UNUSED(ignored))
{
    return nbrpy_list_of(nbr_graph_edge_count(self->graph), edge_item, self->graph);
}

/* 1 if the graph has the cell, 0 otherwise. */
static int has_cell(const nbr_graph *graph, const char *cell_id)
{
    for (size_t i = 0, n = nbr_graph_cell_count(graph); i < n; i++)
        if (strcmp(nbr_graph_cell_id(graph, i), cell_id) == 0) return 1;
    return 0;
}

struct cell_names {
    const nbr_graph *graph;
    const char *cell_id;
    nbr_access which;
};

static PyObject *cell_name_item(const void *ctx, size_t i)
{
    const struct cell_names *c = ctx;
    return borrowed_str(nbr_graph_cell_name(c->graph, c->cell_id, c->which, i), "name");
}

PyDoc_STRVAR(cell_names_doc,
             "cell_names(cell_id, which) -> list[str]\n\n"
             "The names the cell's execution reads (which=\"reads\") or writes\n"
             "(\"writes\"), in order of first appearance.  The writes are what to\n"
             "report after re-running the cell.  NotFoundError for an unknown cell.");

static PyObject *graph_cell_names(GraphObject *self, PyObject *args)
{
    const char *which;
    int access;
    struct cell_names c = {self->graph, NULL, NBR_ACCESS_READS};
    if (!PyArg_ParseTuple(args, "ss:cell_names", &c.cell_id, &which) ||
        choice(&access, which, accesses, "which", "\"reads\", \"writes\"") < 0)
        return NULL;
    c.which = (nbr_access)access;
    size_t n = nbr_graph_cell_name_count(self->graph, c.cell_id, c.which);
    /* The core answers 0 for an unknown cell too. */
    if (n == 0 && !has_cell(self->graph, c.cell_id))
        return nbrpy_fail_msg(NBR_ENOTFOUND, "cell_names: no cell '%s' in the graph", c.cell_id);
    return nbrpy_list_of(n, cell_name_item, &c);
}

static PyMethodDef graph_methods[] = {
    {"add_cell", (PyCFunction)(void (*)(void))graph_add_cell, METH_VARARGS | METH_KEYWORDS,
     add_cell_doc},
    {"cells", (PyCFunction)graph_cells, METH_NOARGS, cells_doc},
    {"observe", (PyCFunction)graph_observe, METH_VARARGS, observe_doc},
    {"observe_alias", (PyCFunction)graph_observe_alias, METH_VARARGS, observe_alias_doc},
    {"mark_unrestorable", (PyCFunction)graph_mark_unrestorable, METH_VARARGS,
     mark_unrestorable_doc},
    {"edit_cell", (PyCFunction)(void (*)(void))graph_edit_cell, METH_VARARGS | METH_KEYWORDS,
     edit_cell_doc},
    {"mark_edited", (PyCFunction)graph_mark_edited, METH_O, mark_edited_doc},
    {"edges", (PyCFunction)graph_edges, METH_NOARGS, edges_doc},
    {"cell_names", (PyCFunction)graph_cell_names, METH_VARARGS, cell_names_doc},
    {NULL, NULL, 0, NULL},
};

PyDoc_STRVAR(graph_doc,
             "Graph()\n\n"
             "The executions of a notebook in execution order, with what each read and\n"
             "wrote (nbr_graph): from their sources' analysis and the host's\n"
             "observations.  Plan(graph) says what an edit forces to re-run.  The\n"
             "graph cannot be changed while a Plan of it is open.");

static PyType_Slot graph_slots[] = {
    {Py_tp_new, graph_new},
    {Py_tp_dealloc, graph_dealloc},
    {Py_tp_methods, graph_methods},
    {Py_tp_doc, (void *)graph_doc},
    {0, NULL},
};

static PyType_Spec graph_spec = {
    "nbrewind.Graph", sizeof(GraphObject), 0, Py_TPFLAGS_DEFAULT, graph_slots,
};

/* ---- Plan --------------------------------------------------------------- */

/* Indexed as nbr_plan_state. */
static const char *const plan_states[] = {"skip", "may_run", "must_run", "producer", "done"};

static PyObject *plan_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"graph", NULL};
    GraphObject *graph;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!:Plan", keywords, nbrpy_GraphType, &graph))
        return NULL;
    PlanObject *self = (PlanObject *)type->tp_alloc(type, 0);
    if (!self) return NULL;
    nbr_status st = nbr_plan_new(&self->plan, graph->graph);
    if (st != NBR_OK) {
        nbrpy_fail(st);
        Py_DECREF(self);
        return NULL;
    }
    self->graph = (GraphObject *)Py_NewRef(graph);
    return (PyObject *)self;
}

/* Free the plan, then let go of the graph (which it borrowed from). */
static void plan_release(PlanObject *self)
{
    nbr_plan_free(self->plan);
    self->plan = NULL;
    Py_CLEAR(self->graph);
}

static void plan_dealloc(PlanObject *self)
{
    PyTypeObject *type = Py_TYPE(self);
    plan_release(self);
    type->tp_free(self);
    Py_DECREF(type);
}

/* Error unless the plan is open.  0, or -1 with the exception set. */
static int plan_check(PlanObject *self)
{
    if (self->plan) return 0;
    nbrpy_fail_msg(NBR_ESTATE, "the plan is closed");
    return -1;
}

PyDoc_STRVAR(plan_close_doc,
             "close()\n\n"
             "Free the plan, so that its graph can be changed again.  Closing twice\n"
             "does nothing.");

static PyObject *plan_close(PlanObject *self, PyObject *Py_UNUSED(ignored))
{
    plan_release(self);
    Py_RETURN_NONE;
}

static PyObject *plan_exit(PlanObject *self, PyObject *Py_UNUSED(args))
{
    return nbrpy_exit_result(plan_close(self, NULL));
}

PyDoc_STRVAR(state_doc,
             "state(cell_id) -> str\n\n"
             "Why the cell is in the plan, as it stands now: \"skip\" (its results stay\n"
             "valid), \"may_run\" (depends on a re-run whose outputs are not known\n"
             "yet), \"must_run\" (edited, or an input changed), \"producer\" (re-runs\n"
             "because a value it made cannot be restored) or \"done\".  NotFoundError\n"
             "for an unknown cell.");

static PyObject *plan_state(PlanObject *self, PyObject *arg)
{
    const char *cell_id;
    if (nbrpy_utf8(&cell_id, arg, 0, "cell_id") < 0 || plan_check(self) < 0) return NULL;
    nbr_plan_state state;
    nbr_status st = nbr_plan_cell_state(&state, self->plan, cell_id);
    if (st != NBR_OK) return nbrpy_fail(st);
    if ((size_t)state >= sizeof plan_states / sizeof plan_states[0])
        return nbrpy_fail_msg(NBR_ERROR, "state: unknown plan state %d", (int)state);
    return PyUnicode_FromString(plan_states[state]);
}

PyDoc_STRVAR(next_doc,
             "next() -> str | None\n\n"
             "The id of the next cell to execute, in notebook order, or None when no\n"
             "cell is left.  Each cell comes at most once; one whose inputs all turned\n"
             "out unchanged (early cutoff) is passed over.  Before executing it,\n"
             "restore restores(cell_id); after, report() each name it wrote and call\n"
             "cell_done().");

static PyObject *plan_next(PlanObject *self, PyObject *Py_UNUSED(ignored))
{
    if (plan_check(self) < 0) return NULL;
    const char *cell_id = NULL;
    nbr_status st = nbr_plan_next(&cell_id, self->plan);
    if (st != NBR_OK) return nbrpy_fail(st);
    return cell_id ? PyUnicode_FromString(cell_id) : Py_NewRef(Py_None);
}

PyDoc_STRVAR(report_doc,
             "report(cell_id, what, name, hash)\n\n"
             "What the re-run of a cell next() returned did to `name`: what \"write\"\n"
             "(hash the content's, None counting as changed) or \"delete\".  Report\n"
             "every name it wrote (Graph.cell_names(cell_id, \"writes\")), then call\n"
             "cell_done().  Error NBR_ESTATE for a cell next() has not returned or that\n"
             "is done; InvalidError for a bad `what`.");

static PyObject *plan_report(PlanObject *self, PyObject *args)
{
    const char *cell_id, *what, *name, *hash;
    nbr_observation kind;
    if (!PyArg_ParseTuple(args, "sssz:report", &cell_id, &what, &name, &hash) ||
        observation(&kind, what) < 0 || plan_check(self) < 0)
        return NULL;
    return none_or_fail(nbr_plan_report(self->plan, cell_id, kind, name, hash));
}

PyDoc_STRVAR(cell_done_doc,
             "cell_done(cell_id)\n\n"
             "The re-run cell finished: compare what it reported with the audit (an\n"
             "unchanged write lets its readers be skipped).  Its state becomes\n"
             "\"done\".  Error NBR_ESTATE for a cell next() has not returned or that is\n"
             "already done.");

static PyObject *plan_cell_done(PlanObject *self, PyObject *arg)
{
    const char *cell_id;
    if (nbrpy_utf8(&cell_id, arg, 0, "cell_id") < 0 || plan_check(self) < 0) return NULL;
    return none_or_fail(nbr_plan_cell_done(self->plan, cell_id));
}

struct restores {
    const nbr_plan *plan;
    const char *cell_id;
};

static PyObject *restore_item(const void *ctx, size_t i)
{
    const struct restores *r = ctx;
    const char *name, *as_of;
    nbr_status st = nbr_plan_restore(&name, &as_of, r->plan, r->cell_id, i);
    return st == NBR_OK ? Py_BuildValue("(ss)", name, as_of) : nbrpy_fail(st);
}

PyDoc_STRVAR(restores_doc,
             "restores(cell_id) -> list[tuple[str, str]]\n\n"
             "The values to restore before executing the cell: (name, as_of_cell), the\n"
             "checkpoint after as_of_cell holding the value wanted.  Recomputed from\n"
             "what has been reported when next() returns the cell.  NotFoundError for\n"
             "an unknown cell.");

static PyObject *plan_restores(PlanObject *self, PyObject *arg)
{
    struct restores r = {self->plan, NULL};
    nbr_plan_state state;
    if (nbrpy_utf8(&r.cell_id, arg, 0, "cell_id") < 0 || plan_check(self) < 0) return NULL;
    /* The count is 0 for an unknown cell: ask its state to tell. */
    nbr_status st = nbr_plan_cell_state(&state, r.plan, r.cell_id);
    if (st != NBR_OK) return nbrpy_fail(st);
    return nbrpy_list_of(nbr_plan_restore_count(r.plan, r.cell_id), restore_item, &r);
}

static PyMethodDef plan_methods[] = {
    {"close", (PyCFunction)plan_close, METH_NOARGS, plan_close_doc},
    {"__enter__", nbrpy_return_self, METH_NOARGS, "Return the plan."},
    {"__exit__", (PyCFunction)plan_exit, METH_VARARGS, "Close the plan."},
    {"state", (PyCFunction)plan_state, METH_O, state_doc},
    {"next", (PyCFunction)plan_next, METH_NOARGS, next_doc},
    {"report", (PyCFunction)plan_report, METH_VARARGS, report_doc},
    {"cell_done", (PyCFunction)plan_cell_done, METH_O, cell_done_doc},
    {"restores", (PyCFunction)plan_restores, METH_O, restores_doc},
    {NULL, NULL, 0, NULL},
};

PyDoc_STRVAR(plan_doc,
             "Plan(graph)\n\n"
             "A re-run plan for the graph's edits (nbr_plan), updated as re-run cells\n"
             "report what they wrote (early cutoff):\n\n"
             "    with Plan(graph) as plan:\n"
             "        while (cell := plan.next()) is not None:\n"
             "            restore plan.restores(cell); execute the cell\n"
             "            plan.report(cell, \"write\", name, hash) for each write\n"
             "            plan.cell_done(cell)\n\n"
             "It keeps the graph alive, and the graph cannot be changed (Error\n"
             "NBR_ESTATE) until every plan of it is closed or gone.");

static PyType_Slot plan_slots[] = {
    {Py_tp_new, plan_new},
    {Py_tp_dealloc, plan_dealloc},
    {Py_tp_methods, plan_methods},
    {Py_tp_doc, (void *)plan_doc},
    {0, NULL},
};

static PyType_Spec plan_spec = {
    "nbrewind.Plan", sizeof(PlanObject), 0, Py_TPFLAGS_DEFAULT, plan_slots,
};

int nbrpy_graph_types_init(PyObject *module)
{
    nbrpy_GraphType = (PyTypeObject *)PyType_FromSpec(&graph_spec);
    nbrpy_PlanType = (PyTypeObject *)PyType_FromSpec(&plan_spec);
    if (!nbrpy_GraphType || !nbrpy_PlanType) return -1;
    if (PyModule_AddObjectRef(module, "Graph", (PyObject *)nbrpy_GraphType) < 0) return -1;
    return PyModule_AddObjectRef(module, "Plan", (PyObject *)nbrpy_PlanType);
}
