/* graph.c - the notebook graph and the re-run plan made from it.
 *
 * The graph holds the audited executions in order.  Each keeps a copy of the
 * analysis of its source (two after an edit: the audited one and the new one)
 * and the host's run-time observations.  From these, resolve() derives what
 * every execution read and wrote, and which earlier execution produced each
 * value it read.  Everything is derived again from scratch after any change:
 * a notebook has at most a few thousand executions, and one pass over them is
 * cheap next to the reasoning it saves in every query.
 *
 * The plan is a dirty set computed from the graph's edits (MUST_RUN, MAY_RUN,
 * PRODUCER) that nbr_plan_next() refines cell by cell from what the host
 * reports after each re-run cell (early cutoff). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "analysis.h"
#include "error.h"
#include "strset.h"

/* Rejects a NULL argument with a message naming the function and argument. */
#define REQUIRE(arg)                                                                   \
    do {                                                                               \
        if (!(arg)) return nbr_fail(NBR_EINVAL, "%s: %s is NULL", __func__, #arg);     \
    } while (0)

#define NO_EXECUTION (-1L)

/* ======================================================================== */
/* Small containers                                                          */
/* ======================================================================== */

static bool same_string(const char *a, const char *b) { return a && b && !strcmp(a, b); }

static long find_name(const nbr_strset *set, const char *name)
{
    return nbr_strset_find_n(set, name, strlen(name));
}

/* ---- name -> number ---------------------------------------------------- */

/* Maps names to a number; used for "latest writer of each name" and "alias
 * group of each name" while the graph is resolved. */
typedef struct name_table {
    nbr_strset names;
    long *values; /* parallel to names.items */
    size_t capacity;
} name_table;

static void name_table_clear(name_table *t)
{
    nbr_strset_clear(&t->names);
    free(t->values);
    memset(t, 0, sizeof *t);
}

static long name_table_get(const name_table *t, const char *name, long missing)
{
    long at = find_name(&t->names, name);
    return at < 0 ? missing : t->values[at];
}

static bool name_table_set(name_table *t, const char *name, long value)
{
    long at = find_name(&t->names, name);
    if (at < 0) {
        if (!NBR_RESERVE(t->values, t->capacity, t->names.count + 1)) return false;
        if (!nbr_strset_add(&t->names, name)) return false;
        at = (long)t->names.count - 1;
    }
    t->values[at] = value;
    return true;
}

/* ---- name -> observed content ------------------------------------------ */

typedef struct observed_value {
    char *hash;   /* NULL when the host could not hash the value */
    bool deleted; /* the name was removed */
} observed_value;

/* What the host observed (or reported) about names: the latest word wins. */
typedef struct observations {
    nbr_strset names;
    observed_value *values; /* parallel to names.items */
    size_t capacity;
} observations;

static void observations_clear(observations *o)
{
    for (size_t i = 0; i < o->names.count; i++) free(o->values[i].hash);
    nbr_strset_clear(&o->names);
    free(o->values);
    memset(o, 0, sizeof *o);
}

static const observed_value *observations_get(const observations *o, const char *name)
{
    long at = find_name(&o->names, name);
    return at < 0 ? NULL : &o->values[at];
}

static bool observations_put(observations *o, const char *name, const char *hash, bool deleted)
{
    char *copy = NULL;
    if (hash && !deleted && !(copy = nbr_copy(hash))) return false;
    long at = find_name(&o->names, name);
    if (at < 0) {
        if (!NBR_RESERVE(o->values, o->capacity, o->names.count + 1) ||
            !nbr_strset_add(&o->names, name)) {
            free(copy);
            return false;
        }
        at = (long)o->names.count - 1;
        o->values[at].hash = NULL;
    }
    free(o->values[at].hash);
    o->values[at] = (observed_value){.hash = copy, .deleted = deleted};
    return true;
}

/* ---- pairs of names ---------------------------------------------------- */

typedef struct name_pair {
    char *name, *other;
} name_pair;

typedef struct pair_list {
    name_pair *items;
    size_t count, capacity;
} pair_list;

static void pair_list_clear(pair_list *list)
{
    for (size_t i = 0; i < list->count; i++) {
        free(list->items[i].name);
        free(list->items[i].other);
    }
    free(list->items);
    memset(list, 0, sizeof *list);
}

static bool pair_list_add(pair_list *list, const char *name, const char *other)
{
    char *n = nbr_copy(name), *o = nbr_copy(other);
    if (!n || !o || !NBR_RESERVE(list->items, list->capacity, list->count + 1)) {
        free(n);
        free(o);
        return false;
    }
    list->items[list->count++] = (name_pair){.name = n, .other = o};
    return true;
}

/* ======================================================================== */
/* What the graph keeps of an analysis                                       */
/* ======================================================================== */

/* A function or class defined at a cell's top level.  Both are treated alike:
 * calling a function and instantiating a class both run code that reads and
 * writes these globals. */
typedef struct callable {
    char *name;
    nbr_strset reads, writes;
} callable;

typedef struct facts {
    nbr_strset defs, uses, may_mutate, deletes;
    callable *callables;
    size_t callable_count;
    pair_list aliases; /* name bound to other's object */
} facts;

static void facts_free(facts *f)
{
    if (!f) return;
    nbr_strset_clear(&f->defs);
    nbr_strset_clear(&f->uses);
    nbr_strset_clear(&f->may_mutate);
    nbr_strset_clear(&f->deletes);
    for (size_t i = 0; i < f->callable_count; i++) {
        free(f->callables[i].name);
        nbr_strset_clear(&f->callables[i].reads);
        nbr_strset_clear(&f->callables[i].writes);
    }
    free(f->callables);
    pair_list_clear(&f->aliases);
    free(f);
}

static bool copy_callables(facts *f, const nbr_analysis *a)
{
    size_t total = a->definitions[NBR_DEF_FUNCTION].count + a->definitions[NBR_DEF_CLASS].count;
    if (!total) return true;
    f->callables = calloc(total, sizeof *f->callables);
    if (!f->callables) return false;
    for (int kind = 0; kind < NBR_DEFINITION_KINDS; kind++) {
        for (size_t i = 0; i < a->definitions[kind].count; i++) {
            const nbr_definition *def = &a->definitions[kind].items[i];
            callable *c = &f->callables[f->callable_count++];
            if (!(c->name = nbr_copy(def->name)) ||
                !nbr_strset_copy(&c->reads, &def->access[NBR_ACCESS_READS]) ||
                !nbr_strset_copy(&c->writes, &def->access[NBR_ACCESS_WRITES]))
                return false;
        }
    }
    return true;
}

/* Copies what the graph needs from an analysis; NULL when out of memory. */
static facts *facts_from_analysis(const nbr_analysis *a)
{
    facts *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    bool ok = nbr_strset_copy(&f->defs, &a->names[NBR_NAMES_DEFS]) &&
              nbr_strset_copy(&f->uses, &a->names[NBR_NAMES_USES]) &&
              nbr_strset_copy(&f->may_mutate, &a->names[NBR_NAMES_MAY_MUTATE]) &&
              nbr_strset_copy(&f->deletes, &a->names[NBR_NAMES_DELETES]) &&
              copy_callables(f, a);
    for (size_t i = 0; ok && i < nbr_analysis_relation_count(a, NBR_RELATION_ALIAS); i++) {
        const nbr_relation *alias = nbr_analysis_relation_at(a, NBR_RELATION_ALIAS, i);
        ok = pair_list_add(&f->aliases, alias->name, alias->other);
    }
    if (!ok) {
        facts_free(f);
        return NULL;
    }
    return f;
}

/* True if the source binds `name` itself: assigns or deletes it. */
static bool facts_bind(const facts *f, const char *name)
{
    return f && (nbr_strset_contains(&f->defs, name) || nbr_strset_contains(&f->deletes, name));
}

/* ======================================================================== */
/* The graph                                                                 */
/* ======================================================================== */

typedef struct execution {
    facts *source;  /* the analysis of the cell's current source */
    facts *audited; /* after nbr_graph_edit_cell: the audited source's; else NULL */
    bool edited;
    observations observed_reads;
    observations observed_writes; /* WRITE and DELETE observations */
    pair_list observed_aliases;
    nbr_strset unrestorable;

    /* Derived by resolve(). */
    nbr_strset reads, writes;
    long *read_producer;  /* per read: the latest earlier execution writing it */
    long *write_previous; /* per write: the latest earlier execution writing it */
} execution;

typedef struct edge {
    size_t from, to;
    const char *name; /* borrowed from the consumer's reads */
} edge;

struct nbr_graph {
    nbr_strset ids; /* cell ids; the index is the execution's position */
    execution *cells;
    size_t capacity;
    size_t live_plans; /* plans refer to the derived data: no changes meanwhile */
    bool resolved;     /* the derived data below and in each execution is current */
    edge *edges;
    size_t edge_count, edge_capacity;
};

static void execution_clear_derived(execution *e)
{
    nbr_strset_clear(&e->reads);
    nbr_strset_clear(&e->writes);
    free(e->read_producer);
    free(e->write_previous);
    e->read_producer = e->write_previous = NULL;
}

static void execution_clear(execution *e)
{
    facts_free(e->source);
    facts_free(e->audited);
    observations_clear(&e->observed_reads);
    observations_clear(&e->observed_writes);
    pair_list_clear(&e->observed_aliases);
    nbr_strset_clear(&e->unrestorable);
    execution_clear_derived(e);
}

static const char *cell_id_at(const nbr_graph *g, size_t index) { return g->ids.items[index]; }

nbr_status nbr_graph_new(nbr_graph **out)
{
    REQUIRE(out);
    *out = calloc(1, sizeof **out);
    return *out ? NBR_OK : nbr_fail_nomem("creating a graph");
}

void nbr_graph_free(nbr_graph *graph)
{
    if (!graph) return;
    for (size_t i = 0; i < graph->ids.count; i++) execution_clear(&graph->cells[i]);
    free(graph->cells);
    free(graph->edges);
    nbr_strset_clear(&graph->ids);
    free(graph);
}

static nbr_status find_cell(size_t *index, const nbr_graph *g, const char *function,
                            const char *cell_id)
{
    long at = find_name(&g->ids, cell_id);
    if (at < 0) return nbr_fail(NBR_ENOTFOUND, "%s: no cell '%s' in the graph", function, cell_id);
    *index = (size_t)at;
    return NBR_OK;
}

/* Plans borrow the derived data, so the graph stays as it is while one exists. */
static nbr_status check_modifiable(const nbr_graph *g, const char *function)
{
    if (g->live_plans)
        return nbr_fail(NBR_ESTATE, "%s: the graph has %zu live plan(s); free them first",
                        function, g->live_plans);
    return NBR_OK;
}

/* Common checks of the calls that change one execution; sets *e. */
static nbr_status modifiable_cell(execution **e, nbr_graph *g, const char *function,
                                  const char *cell_id)
{
    size_t index = 0;
    nbr_status status = check_modifiable(g, function);
    if (status == NBR_OK) status = find_cell(&index, g, function, cell_id);
    if (status != NBR_OK) return status;
    *e = &g->cells[index];
    g->resolved = false;
    return NBR_OK;
}

nbr_status nbr_graph_add_cell(nbr_graph *graph, const char *cell_id, const nbr_analysis *analysis)
{
    REQUIRE(graph);
    REQUIRE(cell_id);
    REQUIRE(analysis);
    nbr_status status = check_modifiable(graph, __func__);
    if (status != NBR_OK) return status;
    if (!*cell_id) return nbr_fail(NBR_EINVAL, "%s: cell_id is empty", __func__);
    if (find_name(&graph->ids, cell_id) >= 0)
        return nbr_fail(NBR_EEXISTS, "%s: cell '%s' is already in the graph", __func__, cell_id);
    facts *source = facts_from_analysis(analysis);
    if (!source || !NBR_RESERVE(graph->cells, graph->capacity, graph->ids.count + 1) ||
        !nbr_strset_add(&graph->ids, cell_id)) {
        facts_free(source);
        return nbr_fail_nomem("adding a cell to the graph");
    }
    execution *e = &graph->cells[graph->ids.count - 1];
    memset(e, 0, sizeof *e);
    e->source = source;
    graph->resolved = false;
    return NBR_OK;
}

size_t nbr_graph_cell_count(const nbr_graph *graph) { return graph ? graph->ids.count : 0; }

const char *nbr_graph_cell_id(const nbr_graph *graph, size_t index)
{
    return graph && index < graph->ids.count ? cell_id_at(graph, index) : NULL;
}

static bool valid_name(const char *name) { return name && *name; }

nbr_status nbr_graph_observe(nbr_graph *graph, const char *cell_id, nbr_observation what,
                             const char *name, const char *hash)
{
    REQUIRE(graph);
    REQUIRE(cell_id);
    if (!valid_name(name)) return nbr_fail(NBR_EINVAL, "%s: name is NULL or empty", __func__);
    if (what != NBR_OBSERVED_READ && what != NBR_OBSERVED_WRITE && what != NBR_OBSERVED_DELETE)
        return nbr_fail(NBR_EINVAL, "%s: unknown observation %d", __func__, (int)what);
    execution *e;
    nbr_status status = modifiable_cell(&e, graph, __func__, cell_id);
    if (status != NBR_OK) return status;
    bool ok = what == NBR_OBSERVED_READ
                  ? observations_put(&e->observed_reads, name, hash, false)
                  : observations_put(&e->observed_writes, name, hash,
                                     what == NBR_OBSERVED_DELETE);
    return ok ? NBR_OK : nbr_fail_nomem("recording an observation");
}

nbr_status nbr_graph_observe_alias(nbr_graph *graph, const char *cell_id, const char *name,
                                   const char *other)
{
    REQUIRE(graph);
    REQUIRE(cell_id);
    if (!valid_name(name)) return nbr_fail(NBR_EINVAL, "%s: name is NULL or empty", __func__);
    if (!valid_name(other)) return nbr_fail(NBR_EINVAL, "%s: other is NULL or empty", __func__);
    execution *e;
    nbr_status status = modifiable_cell(&e, graph, __func__, cell_id);
    if (status != NBR_OK) return status;
    return pair_list_add(&e->observed_aliases, name, other) ? NBR_OK
                                                           : nbr_fail_nomem("recording an alias");
}

nbr_status nbr_graph_mark_unrestorable(nbr_graph *graph, const char *cell_id, const char *name)
{
    REQUIRE(graph);
    REQUIRE(cell_id);
    if (!valid_name(name)) return nbr_fail(NBR_EINVAL, "%s: name is NULL or empty", __func__);
    execution *e;
    nbr_status status = modifiable_cell(&e, graph, __func__, cell_id);
    if (status != NBR_OK) return status;
    return nbr_strset_add(&e->unrestorable, name) ? NBR_OK
                                                  : nbr_fail_nomem("marking a value unrestorable");
}

nbr_status nbr_graph_edit_cell(nbr_graph *graph, const char *cell_id,
                               const nbr_analysis *new_analysis)
{
    REQUIRE(graph);
    REQUIRE(cell_id);
    REQUIRE(new_analysis);
    execution *e;
    nbr_status status = modifiable_cell(&e, graph, __func__, cell_id);
    if (status != NBR_OK) return status;
    facts *source = facts_from_analysis(new_analysis);
    if (!source) return nbr_fail_nomem("editing a cell");
    /* The audited analysis is the one the observations belong to; a second
     * edit replaces only the new source (the intermediate one never ran). */
    if (e->audited) facts_free(e->source);
    else e->audited = e->source;
    e->source = source;
    e->edited = true;
    return NBR_OK;
}

nbr_status nbr_graph_mark_edited(nbr_graph *graph, const char *cell_id)
{
    REQUIRE(graph);
    REQUIRE(cell_id);
    execution *e;
    nbr_status status = modifiable_cell(&e, graph, __func__, cell_id);
    if (status != NBR_OK) return status;
    e->edited = true;
    return NBR_OK;
}

/* ======================================================================== */
/* Resolving: reads, writes, producers and edges of every execution          */
/* ======================================================================== */

/* The state carried from one execution to the next while resolving. */
typedef struct resolver {
    nbr_graph *graph;
    name_table last_writer; /* name -> latest execution so far that wrote it */
    name_table alias_group; /* name -> id of the object it is bound to, 0 = none */
    long groups;            /* alias group ids handed out so far */
} resolver;

static long latest_writer(const resolver *r, const char *name)
{
    return name_table_get(&r->last_writer, name, NO_EXECUTION);
}

/* Adds the global reads and writes of `name` if its producer defined it as a
 * function or class (both analyses of an edited producer count). */
static bool add_callable_access(const execution *producer, const char *name, nbr_strset *reads,
                                nbr_strset *writes)
{
    const facts *sources[2] = {producer->source, producer->audited};
    for (int s = 0; s < 2; s++) {
        for (size_t i = 0; sources[s] && i < sources[s]->callable_count; i++) {
            const callable *c = &sources[s]->callables[i];
            if (strcmp(c->name, name) != 0) continue;
            if (!nbr_strset_add_all(reads, &c->reads) || !nbr_strset_add_all(writes, &c->writes))
                return false;
        }
    }
    return true;
}

/* Reads: the current source's uses and may-mutate names (changing an object
 * in place needs it), observed reads (pseudo-names come only from there),
 * and the globals of every notebook function or class read, transitively.
 * Iterating over the growing set resolves what a function's globals name in
 * turn, and the set's uniqueness is what stops recursion through cycles. */
static bool collect_reads(resolver *r, execution *e, nbr_strset *carried_writes)
{
    if (!nbr_strset_add_all(&e->reads, &e->source->uses) ||
        !nbr_strset_add_all(&e->reads, &e->source->may_mutate) ||
        !nbr_strset_add_all(&e->reads, &e->observed_reads.names))
        return false;
    for (size_t k = 0; k < e->reads.count; k++) {
        const char *name = e->reads.items[k]; /* the string stays put as the set grows */
        long producer = latest_writer(r, name);
        if (producer != NO_EXECUTION &&
            !add_callable_access(&r->graph->cells[producer], name, &e->reads, carried_writes))
            return false;
    }
    return true;
}

/* True if `name` is bound (assigned or deleted) by the cell's own source. */
static bool binds(const execution *e, const char *name)
{
    return facts_bind(e->source, name) || facts_bind(e->audited, name);
}

static bool may_mutate(const execution *e, const char *name)
{
    return nbr_strset_contains(&e->source->may_mutate, name) ||
           (e->audited && nbr_strset_contains(&e->audited->may_mutate, name));
}

/* "Static analysis proposes, runtime hashing confirms": a name the cell does
 * not bind itself, observed after the cell with the content hash it had after
 * its previous writer, was not changed.  Not applied to edited cells: their
 * observations describe the old source, which is not what will run. */
static bool unchanged_at_run_time(const resolver *r, const execution *e, const char *name)
{
    if (e->edited || binds(e, name)) return false;
    const observed_value *after = observations_get(&e->observed_writes, name);
    if (!after || after->deleted || !after->hash) return false;
    long previous = latest_writer(r, name);
    if (previous == NO_EXECUTION) return false;
    const observed_value *before =
        observations_get(&r->graph->cells[previous].observed_writes, name);
    return before && !before->deleted && same_string(before->hash, after->hash);
}

static bool add_write(resolver *r, execution *e, const char *name)
{
    if (unchanged_at_run_time(r, e, name)) return true;
    return nbr_strset_add(&e->writes, name);
}

static bool add_writes(resolver *r, execution *e, const nbr_strset *names)
{
    for (size_t i = 0; i < names->count; i++)
        if (!add_write(r, e, names->items[i])) return false;
    return true;
}

/* Writes: defs, deletes and may-mutate names of the current source and, after
 * an edit, of the audited one too (a name the old source wrote changes for
 * its readers even if the new one no longer binds it); observed writes and
 * deletes; the global writes of notebook functions and classes used. */
static bool collect_writes(resolver *r, execution *e, const nbr_strset *carried_writes)
{
    const facts *sources[2] = {e->source, e->audited};
    for (int s = 0; s < 2; s++) {
        const facts *f = sources[s];
        if (f && !(add_writes(r, e, &f->defs) && add_writes(r, e, &f->deletes) &&
                   add_writes(r, e, &f->may_mutate)))
            return false;
    }
    return add_writes(r, e, &e->observed_writes.names) && add_writes(r, e, carried_writes);
}

/* ---- aliases ------------------------------------------------------------ */

static long alias_group_of(const resolver *r, const char *name)
{
    return name_table_get(&r->alias_group, name, 0);
}

/* Rebinding a name takes it out of its group; the others still share. */
static void leave_alias_group(resolver *r, const char *name)
{
    long at = find_name(&r->alias_group.names, name);
    if (at >= 0) r->alias_group.values[at] = 0;
}

/* `name` is bound to the object `other` holds. */
static bool join_alias_group(resolver *r, const char *name, const char *other)
{
    long group = alias_group_of(r, other);
    if (!group && !name_table_set(&r->alias_group, other, group = ++r->groups)) return false;
    return name_table_set(&r->alias_group, name, group);
}

/* The host says both names hold one object; merging their groups is right
 * whichever of the two the cell rebound. */
static bool merge_alias_groups(resolver *r, const char *name, const char *other)
{
    long keep = alias_group_of(r, other), old = alias_group_of(r, name);
    if (!keep) return join_alias_group(r, other, name);
    if (!old) return name_table_set(&r->alias_group, name, keep);
    for (size_t i = 0; i < r->alias_group.names.count; i++)
        if (r->alias_group.values[i] == old) r->alias_group.values[i] = keep;
    return true;
}

/* Names the cell rebinds, which leave their alias groups.  After an edit only
 * names both sources rebind: keeping an alias is the cautious error (it can
 * only add writes), dropping one could lose a change.  A name the cell both
 * binds and may change in place (`x += [1]`, R's `f$x <- 1` on an
 * environment) may still share its object, so it keeps its group. */
static bool rebinds(const execution *e, const char *name)
{
    return facts_bind(e->source, name) && (!e->audited || facts_bind(e->audited, name)) &&
           !may_mutate(e, name);
}

static void leave_groups_of(resolver *r, const execution *e, const nbr_strset *names)
{
    for (size_t i = 0; i < names->count; i++)
        if (rebinds(e, names->items[i])) leave_alias_group(r, names->items[i]);
}

static bool update_alias_groups(resolver *r, const execution *e)
{
    leave_groups_of(r, e, &e->source->defs);
    leave_groups_of(r, e, &e->source->deletes);
    for (size_t i = 0; i < e->observed_writes.names.count; i++)
        if (e->observed_writes.values[i].deleted)
            leave_alias_group(r, e->observed_writes.names.items[i]);
    const facts *sources[2] = {e->source, e->audited};
    for (int s = 0; s < 2; s++)
        for (size_t i = 0; sources[s] && i < sources[s]->aliases.count; i++)
            if (!join_alias_group(r, sources[s]->aliases.items[i].name,
                                  sources[s]->aliases.items[i].other))
                return false;
    for (size_t i = 0; i < e->observed_aliases.count; i++)
        if (!merge_alias_groups(r, e->observed_aliases.items[i].name,
                                e->observed_aliases.items[i].other))
            return false;
    return true;
}

/* A write that changes the object in place rather than rebinding the name:
 * a may-mutate name, or any other write of a name the cell does not bind (an
 * observed change, a function's global write).  A deleted name is not one. */
static bool in_place_write(const execution *e, const char *name)
{
    const observed_value *seen = observations_get(&e->observed_writes, name);
    if (seen && seen->deleted) return false;
    return may_mutate(e, name) || !binds(e, name);
}

/* Every name sharing an object changed in place is changed too.  Uses the
 * groups as they are after the cell, so `b = a; b.append(1)` in one cell
 * changes a as well. */
static bool propagate_to_aliases(resolver *r, execution *e)
{
    size_t direct = e->writes.count; /* mates share the group: no need to chain */
    for (size_t w = 0; w < direct; w++) {
        const char *name = e->writes.items[w];
        long group = alias_group_of(r, name);
        if (!group || !in_place_write(e, name)) continue;
        for (size_t i = 0; i < r->alias_group.names.count; i++)
            if (r->alias_group.values[i] == group &&
                !add_write(r, e, r->alias_group.names.items[i]))
                return false;
    }
    return true;
}

/* ---- producers and edges ------------------------------------------------ */

static bool add_edge(nbr_graph *g, size_t from, size_t to, const char *name)
{
    if (!NBR_RESERVE(g->edges, g->edge_capacity, g->edge_count + 1)) return false;
    g->edges[g->edge_count++] = (edge){.from = from, .to = to, .name = name};
    return true;
}

/* For each name in `names`, the latest execution so far that wrote it. */
static bool latest_writers(const resolver *r, const nbr_strset *names, long **out)
{
    if (!names->count) return true;
    if (!(*out = malloc(names->count * sizeof **out))) return false;
    for (size_t k = 0; k < names->count; k++) (*out)[k] = latest_writer(r, names->items[k]);
    return true;
}

static bool link_producers(resolver *r, size_t index)
{
    execution *e = &r->graph->cells[index];
    if (!latest_writers(r, &e->reads, &e->read_producer) ||
        !latest_writers(r, &e->writes, &e->write_previous))
        return false;
    for (size_t k = 0; k < e->reads.count; k++)
        if (e->read_producer[k] != NO_EXECUTION &&
            !add_edge(r->graph, (size_t)e->read_producer[k], index, e->reads.items[k]))
            return false;
    for (size_t k = 0; k < e->writes.count; k++)
        if (!name_table_set(&r->last_writer, e->writes.items[k], (long)index)) return false;
    return true;
}

/* Derives one execution's reads, writes and producers from the state the
 * executions before it left. */
static bool resolve_execution(resolver *r, size_t index)
{
    execution *e = &r->graph->cells[index];
    nbr_strset carried_writes;
    nbr_strset_init(&carried_writes);
    execution_clear_derived(e);
    bool ok = collect_reads(r, e, &carried_writes) && collect_writes(r, e, &carried_writes) &&
              update_alias_groups(r, e) && propagate_to_aliases(r, e) &&
              link_producers(r, index);
    nbr_strset_clear(&carried_writes);
    return ok;
}

static nbr_status resolve(nbr_graph *g)
{
    if (g->resolved) return NBR_OK;
    resolver r = {.graph = g};
    bool ok = true;
    g->edge_count = 0;
    for (size_t i = 0; ok && i < g->ids.count; i++) ok = resolve_execution(&r, i);
    name_table_clear(&r.last_writer);
    name_table_clear(&r.alias_group);
    if (!ok) return nbr_fail_nomem("resolving the notebook graph");
    g->resolved = true;
    return NBR_OK;
}

/* Queries are const for the caller but derive lazily: the handle itself was
 * made by nbr_graph_new() and is not const, so this cast is sound. */
static nbr_status resolve_for_query(const nbr_graph *g) { return resolve((nbr_graph *)g); }

size_t nbr_graph_edge_count(const nbr_graph *graph)
{
    if (!graph || resolve_for_query(graph) != NBR_OK) return 0;
    return graph->edge_count;
}

nbr_status nbr_graph_edge(const char **from_cell, const char **to_cell, const char **name,
                          const nbr_graph *graph, size_t index)
{
    REQUIRE(from_cell);
    *from_cell = NULL;
    REQUIRE(to_cell);
    *to_cell = NULL;
    REQUIRE(name);
    *name = NULL;
    REQUIRE(graph);
    nbr_status status = resolve_for_query(graph);
    if (status != NBR_OK) return status;
    if (index >= graph->edge_count)
        return nbr_fail(NBR_EINVAL, "%s: no edge %zu (the graph has %zu)", __func__, index,
                        graph->edge_count);
    const edge *found = &graph->edges[index];
    *from_cell = cell_id_at(graph, found->from);
    *to_cell = cell_id_at(graph, found->to);
    *name = found->name;
    return NBR_OK;
}

static const nbr_strset *cell_names(const nbr_graph *g, const char *cell_id, nbr_access which)
{
    if (!g || !cell_id || (which != NBR_ACCESS_READS && which != NBR_ACCESS_WRITES)) return NULL;
    long at = find_name(&g->ids, cell_id);
    if (at < 0 || resolve_for_query(g) != NBR_OK) return NULL;
    return which == NBR_ACCESS_READS ? &g->cells[at].reads : &g->cells[at].writes;
}

size_t nbr_graph_cell_name_count(const nbr_graph *graph, const char *cell_id, nbr_access which)
{
    const nbr_strset *names = cell_names(graph, cell_id, which);
    return names ? names->count : 0;
}

const char *nbr_graph_cell_name(const nbr_graph *graph, const char *cell_id, nbr_access which,
                                size_t index)
{
    const nbr_strset *names = cell_names(graph, cell_id, which);
    return names && index < names->count ? names->items[index] : NULL;
}

/* ======================================================================== */
/* The plan                                                                  */
/* ======================================================================== */

/* What a re-run cell's report says about one of its expected writes. */
typedef enum write_outcome {
    OUTCOME_UNCHANGED = 0,  /* same content as in the audit */
    OUTCOME_CHANGED = 1,    /* different, unknown, or deleted */
    OUTCOME_NOT_WRITTEN = 2 /* the re-run left the name alone: the earlier value shows */
} write_outcome;

/* How a cell's inputs compare with the audit, from what is known so far. */
typedef enum input_change {
    INPUTS_SAME = 0,
    INPUTS_MAYBE_CHANGED = 1, /* a producer re-runs and has not finished */
    INPUTS_CHANGED = 2        /* a producer reported a change */
} input_change;

typedef struct restore_item {
    const char *name; /* borrowed from the graph */
    size_t as_of;
} restore_item;

typedef struct restore_list {
    restore_item *items;
    size_t count, capacity;
} restore_list;

typedef struct plan_cell {
    nbr_plan_state state;
    bool returned; /* handed out by nbr_plan_next: it re-runs */
    bool done;     /* nbr_plan_cell_done was called */
    observations reports;
    unsigned char *outcomes; /* per write of the execution, once done */
    nbr_strset unexpected;   /* reported writes the audit did not have, once done */
    restore_list restores;
} plan_cell;

struct nbr_plan {
    nbr_graph *graph;
    plan_cell *cells; /* one per execution */
    size_t cursor;    /* executions before it have been decided by nbr_plan_next */
    size_t *unexpected_writers; /* done cells with unexpected writes */
    size_t unexpected_count, unexpected_capacity;
};

static void restore_list_clear(restore_list *list)
{
    free(list->items);
    memset(list, 0, sizeof *list);
}

static bool restore_list_add(restore_list *list, const char *name, size_t as_of)
{
    for (size_t i = 0; i < list->count; i++)
        if (list->items[i].as_of == as_of && !strcmp(list->items[i].name, name)) return true;
    if (!NBR_RESERVE(list->items, list->capacity, list->count + 1)) return false;
    list->items[list->count++] = (restore_item){.name = name, .as_of = as_of};
    return true;
}

static size_t plan_size(const nbr_plan *plan) { return plan->graph->ids.count; }

void nbr_plan_free(nbr_plan *plan)
{
    if (!plan) return;
    for (size_t i = 0; plan->cells && i < plan_size(plan); i++) {
        observations_clear(&plan->cells[i].reports);
        free(plan->cells[i].outcomes);
        nbr_strset_clear(&plan->cells[i].unexpected);
        restore_list_clear(&plan->cells[i].restores);
    }
    free(plan->cells);
    free(plan->unexpected_writers);
    plan->graph->live_plans--;
    free(plan);
}

/* ---- the static plan ---------------------------------------------------- */

static bool reruns_statically(nbr_plan_state state) { return state != NBR_PLAN_SKIP; }

/* Edited cells must run; a cell reading what a (possibly) re-running cell
 * wrote may run.  In notebook order, so dirtiness flows forward.  Readers of
 * PRODUCER cells are not dirty yet: a producer re-creates a value, and only a
 * reported change to it dirties its readers (see nbr_plan_next). */
static void mark_dirty_cells(nbr_plan *plan)
{
    for (size_t k = 0; k < plan_size(plan); k++) {
        const execution *e = &plan->graph->cells[k];
        nbr_plan_state state = e->edited ? NBR_PLAN_MUST_RUN : NBR_PLAN_SKIP;
        for (size_t r = 0; state == NBR_PLAN_SKIP && r < e->reads.count; r++) {
            long j = e->read_producer[r];
            if (j != NO_EXECUTION && reruns_statically(plan->cells[j].state))
                state = NBR_PLAN_MAY_RUN;
        }
        plan->cells[k].state = state;
    }
}

/* A cell that will or may run and reads a value that cannot be restored needs
 * that value's producer to run: PRODUCER.  A MAY_RUN producer is promoted too,
 * as it could otherwise be dropped by early cutoff.  Producers come before
 * their readers, so one backward pass reaches the fixpoint: a new producer's
 * own inputs are examined later in the same pass. */
static void mark_producers(nbr_plan *plan)
{
    for (size_t k = plan_size(plan); k-- > 0;) {
        if (!reruns_statically(plan->cells[k].state)) continue;
        const execution *e = &plan->graph->cells[k];
        for (size_t r = 0; r < e->reads.count; r++) {
            long j = e->read_producer[r];
            if (j == NO_EXECUTION) continue;
            plan_cell *producer = &plan->cells[j];
            bool may_be_skipped =
                producer->state == NBR_PLAN_SKIP || producer->state == NBR_PLAN_MAY_RUN;
            if (may_be_skipped &&
                nbr_strset_contains(&plan->graph->cells[j].unrestorable, e->reads.items[r]))
                producer->state = NBR_PLAN_PRODUCER;
        }
    }
}

/* What a dry run lists: every value a not-SKIP cell reads from a SKIP cell,
 * assuming every MUST_RUN, MAY_RUN and PRODUCER cell re-runs. */
static bool list_static_restores(nbr_plan *plan)
{
    for (size_t k = 0; k < plan_size(plan); k++) {
        if (!reruns_statically(plan->cells[k].state)) continue;
        const execution *e = &plan->graph->cells[k];
        for (size_t r = 0; r < e->reads.count; r++) {
            long j = e->read_producer[r];
            if (j != NO_EXECUTION && !reruns_statically(plan->cells[j].state) &&
                !restore_list_add(&plan->cells[k].restores, e->reads.items[r], (size_t)j))
                return false;
        }
    }
    return true;
}

nbr_status nbr_plan_new(nbr_plan **out, const nbr_graph *graph)
{
    REQUIRE(out);
    *out = NULL;
    REQUIRE(graph);
    nbr_status status = resolve_for_query(graph);
    if (status != NBR_OK) return status;
    nbr_plan *plan = calloc(1, sizeof *plan);
    if (!plan) return nbr_fail_nomem("making a plan");
    /* The plan keeps the graph unchanged while it lives (see check_modifiable). */
    plan->graph = (nbr_graph *)graph;
    plan->graph->live_plans++;
    if (graph->ids.count && !(plan->cells = calloc(graph->ids.count, sizeof *plan->cells))) {
        nbr_plan_free(plan);
        return nbr_fail_nomem("making a plan");
    }
    mark_dirty_cells(plan);
    mark_producers(plan);
    if (!list_static_restores(plan)) {
        nbr_plan_free(plan);
        return nbr_fail_nomem("making a plan");
    }
    *out = plan;
    return NBR_OK;
}

static nbr_status find_plan_cell(size_t *index, const nbr_plan *plan, const char *function,
                                 const char *cell_id)
{
    return find_cell(index, plan->graph, function, cell_id);
}

nbr_status nbr_plan_cell_state(nbr_plan_state *out, const nbr_plan *plan, const char *cell_id)
{
    REQUIRE(out);
    *out = NBR_PLAN_SKIP;
    REQUIRE(plan);
    REQUIRE(cell_id);
    size_t k = 0;
    nbr_status status = find_plan_cell(&k, plan, __func__, cell_id);
    if (status == NBR_OK) *out = plan->cells[k].state;
    return status;
}

/* ---- following the re-run: where each input comes from ----------------- */

/* The latest done cell before `before` whose re-run wrote `name` although
 * its audit had not. */
static long latest_unexpected_writer(const nbr_plan *plan, const char *name, long before)
{
    long latest = NO_EXECUTION;
    for (size_t i = 0; i < plan->unexpected_count; i++) {
        long j = (long)plan->unexpected_writers[i];
        if (j < before && j > latest && nbr_strset_contains(&plan->cells[j].unexpected, name))
            latest = j;
    }
    return latest;
}

static long later_of(long a, long b) { return a > b ? a : b; }

/* What a done cell's report says about `name`, which it wrote (in the audit
 * or, unexpectedly, in the re-run). */
static write_outcome outcome_of(const nbr_plan *plan, long j, const char *name)
{
    const plan_cell *pc = &plan->cells[j];
    if (nbr_strset_contains(&pc->unexpected, name)) return OUTCOME_CHANGED;
    long w = find_name(&plan->graph->cells[j].writes, name);
    return w < 0 ? OUTCOME_CHANGED : (write_outcome)pc->outcomes[w];
}

/* The execution before `j` whose value of `name` shows once `j` re-ran
 * without writing it. */
static long writer_before(const nbr_plan *plan, long j, const char *name)
{
    const execution *e = &plan->graph->cells[j];
    long w = find_name(&e->writes, name);
    long previous = w < 0 ? NO_EXECUTION : e->write_previous[w];
    return later_of(previous, latest_unexpected_writer(plan, name, j));
}

/* Follows the `r`-th input of execution `k` back to where its value comes
 * from now.  Returns the execution to restore it from (one that did not
 * re-run), or NO_EXECUTION when the value is live in the kernel or has no
 * producer.  Raises *change to what the input's producers reported. */
static long input_source(const nbr_plan *plan, size_t k, size_t r, input_change *change)
{
    const execution *e = &plan->graph->cells[k];
    const char *name = e->reads.items[r];
    long j = later_of(e->read_producer[r], latest_unexpected_writer(plan, name, (long)k));
    while (j != NO_EXECUTION) {
        const plan_cell *producer = &plan->cells[j];
        if (!producer->returned) return j; /* did not re-run: its checkpoint holds it */
        if (!producer->done) {
            if (*change < INPUTS_MAYBE_CHANGED) *change = INPUTS_MAYBE_CHANGED;
            return NO_EXECUTION;
        }
        write_outcome outcome = outcome_of(plan, j, name);
        if (outcome == OUTCOME_UNCHANGED) return NO_EXECUTION;
        *change = INPUTS_CHANGED;
        if (outcome == OUTCOME_CHANGED) return NO_EXECUTION;
        j = writer_before(plan, j, name); /* not written: the earlier value shows */
    }
    return NO_EXECUTION;
}

static input_change inputs_change(const nbr_plan *plan, size_t k)
{
    input_change change = INPUTS_SAME;
    for (size_t r = 0; r < plan->graph->cells[k].reads.count; r++)
        (void)input_source(plan, k, r, &change);
    return change;
}

static bool list_restores_now(const nbr_plan *plan, size_t k, restore_list *out)
{
    const execution *e = &plan->graph->cells[k];
    input_change ignored = INPUTS_SAME;
    for (size_t r = 0; r < e->reads.count; r++) {
        long j = input_source(plan, k, r, &ignored);
        if (j != NO_EXECUTION && !restore_list_add(out, e->reads.items[r], (size_t)j))
            return false;
    }
    return true;
}

/* The state a cell re-runs with, or SKIP if early cutoff drops it.  A cell
 * not statically sure to run (MAY_RUN, or SKIP whose producer re-ran and
 * reported a change) runs when an input changed or may have changed. */
static nbr_plan_state state_to_run_with(const nbr_plan *plan, size_t k)
{
    nbr_plan_state state = plan->cells[k].state;
    if (state == NBR_PLAN_MUST_RUN || state == NBR_PLAN_PRODUCER) return state;
    switch (inputs_change(plan, k)) {
    case INPUTS_CHANGED: return NBR_PLAN_MUST_RUN;
    case INPUTS_MAYBE_CHANGED: return NBR_PLAN_MAY_RUN;
    default: return NBR_PLAN_SKIP;
    }
}

nbr_status nbr_plan_next(const char **out, nbr_plan *plan)
{
    REQUIRE(out);
    *out = NULL;
    REQUIRE(plan);
    for (; plan->cursor < plan_size(plan); plan->cursor++) {
        size_t k = plan->cursor;
        plan_cell *pc = &plan->cells[k];
        nbr_plan_state state = state_to_run_with(plan, k);
        if (state == NBR_PLAN_SKIP) {
            pc->state = NBR_PLAN_SKIP;
            restore_list_clear(&pc->restores);
            continue;
        }
        restore_list restores = {0};
        if (!list_restores_now(plan, k, &restores)) {
            restore_list_clear(&restores);
            return nbr_fail_nomem("planning the next cell");
        }
        restore_list_clear(&pc->restores);
        pc->restores = restores;
        pc->state = state;
        pc->returned = true;
        plan->cursor++;
        *out = cell_id_at(plan->graph, k);
        return NBR_OK;
    }
    return NBR_OK;
}

/* ---- reports ------------------------------------------------------------ */

/* Common checks of report and cell_done: the cell re-runs and is not done. */
static nbr_status running_cell(plan_cell **out, nbr_plan *plan, const char *function,
                               const char *cell_id)
{
    size_t k = 0;
    nbr_status status = find_plan_cell(&k, plan, function, cell_id);
    if (status != NBR_OK) return status;
    if (!plan->cells[k].returned)
        return nbr_fail(NBR_ESTATE, "%s: cell '%s' was not returned by nbr_plan_next", function,
                        cell_id);
    if (plan->cells[k].done)
        return nbr_fail(NBR_ESTATE, "%s: cell '%s' is already done", function, cell_id);
    *out = &plan->cells[k];
    return NBR_OK;
}

nbr_status nbr_plan_report(nbr_plan *plan, const char *cell_id, nbr_observation what,
                           const char *name, const char *hash)
{
    REQUIRE(plan);
    REQUIRE(cell_id);
    if (!valid_name(name)) return nbr_fail(NBR_EINVAL, "%s: name is NULL or empty", __func__);
    if (what != NBR_OBSERVED_WRITE && what != NBR_OBSERVED_DELETE)
        return nbr_fail(NBR_EINVAL, "%s: only NBR_OBSERVED_WRITE and NBR_OBSERVED_DELETE can be "
                                    "reported, not %d", __func__, (int)what);
    plan_cell *pc;
    nbr_status status = running_cell(&pc, plan, __func__, cell_id);
    if (status != NBR_OK) return status;
    return observations_put(&pc->reports, name, hash, what == NBR_OBSERVED_DELETE)
               ? NBR_OK
               : nbr_fail_nomem("recording a report");
}

/* True if the re-run left `name` as the audit recorded it after this cell. */
static bool matches_audit(const execution *e, const char *name, const observed_value *reported)
{
    const observed_value *audited = observations_get(&e->observed_writes, name);
    if (!audited) return false;
    if (reported->deleted) return audited->deleted;
    return !audited->deleted && same_string(audited->hash, reported->hash);
}

static write_outcome expected_write_outcome(const execution *e, const plan_cell *pc,
                                            const char *name)
{
    const observed_value *reported = observations_get(&pc->reports, name);
    if (!reported) /* silence says nothing: only a cell that reported something else */
        return pc->reports.names.count ? OUTCOME_NOT_WRITTEN : OUTCOME_CHANGED;
    return matches_audit(e, name, reported) ? OUTCOME_UNCHANGED : OUTCOME_CHANGED;
}

/* Reported names the audit did not expect are new writes, unless the audit
 * recorded the very same content (a may-mutate name refuted by its hash). */
static bool collect_unexpected(const execution *e, const plan_cell *pc, nbr_strset *out)
{
    for (size_t i = 0; i < pc->reports.names.count; i++) {
        const char *name = pc->reports.names.items[i];
        if (!nbr_strset_contains(&e->writes, name) &&
            !matches_audit(e, name, &pc->reports.values[i]) && !nbr_strset_add(out, name))
            return false;
    }
    return true;
}

nbr_status nbr_plan_cell_done(nbr_plan *plan, const char *cell_id)
{
    REQUIRE(plan);
    REQUIRE(cell_id);
    plan_cell *pc;
    nbr_status status = running_cell(&pc, plan, __func__, cell_id);
    if (status != NBR_OK) return status;
    size_t k = (size_t)(pc - plan->cells);
    const execution *e = &plan->graph->cells[k];
    unsigned char *outcomes = NULL;
    nbr_strset unexpected;
    nbr_strset_init(&unexpected);
    bool ok = (!e->writes.count || (outcomes = malloc(e->writes.count))) &&
              collect_unexpected(e, pc, &unexpected) &&
              (!unexpected.count || NBR_RESERVE(plan->unexpected_writers, plan->unexpected_capacity,
                                            plan->unexpected_count + 1));
    if (!ok) {
        free(outcomes);
        nbr_strset_clear(&unexpected);
        return nbr_fail_nomem("finishing a re-run cell");
    }
    for (size_t w = 0; w < e->writes.count; w++)
        outcomes[w] = (unsigned char)expected_write_outcome(e, pc, e->writes.items[w]);
    if (unexpected.count) plan->unexpected_writers[plan->unexpected_count++] = k;
    pc->outcomes = outcomes;
    pc->unexpected = unexpected;
    pc->done = true;
    pc->state = NBR_PLAN_DONE;
    return NBR_OK;
}

/* ---- restore lists ------------------------------------------------------ */

size_t nbr_plan_restore_count(const nbr_plan *plan, const char *cell_id)
{
    if (!plan || !cell_id) return 0;
    long k = find_name(&plan->graph->ids, cell_id);
    return k < 0 ? 0 : plan->cells[k].restores.count;
}

nbr_status nbr_plan_restore(const char **name, const char **as_of_cell, const nbr_plan *plan,
                            const char *cell_id, size_t index)
{
    REQUIRE(name);
    *name = NULL;
    REQUIRE(as_of_cell);
    *as_of_cell = NULL;
    REQUIRE(plan);
    REQUIRE(cell_id);
    size_t k = 0;
    nbr_status status = find_plan_cell(&k, plan, __func__, cell_id);
    if (status != NBR_OK) return status;
    const restore_list *list = &plan->cells[k].restores;
    if (index >= list->count)
        return nbr_fail(NBR_EINVAL, "%s: cell '%s' has no restore %zu (it has %zu)", __func__,
                        cell_id, index, list->count);
    *name = list->items[index].name;
    *as_of_cell = cell_id_at(plan->graph, list->items[index].as_of);
    return NBR_OK;
}
