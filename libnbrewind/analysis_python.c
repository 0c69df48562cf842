/* analysis_python.c - data flow of one Python cell, on tree-sitter.
 *
 * The cell is walked once, in Python's evaluation order.  Three things are
 * tracked along the way:
 *   - the scope chain (cell, function, class, comprehension), so that each
 *     name read resolves the way CPython's symbol table resolves it;
 *   - for the cell and for class bodies, the names definitely bound so far
 *     (nbr_flow), so that a read outside that set is an input of the cell;
 *   - the top-level def/class whose body is being walked, which collects the
 *     globals that body reads and writes.
 * docs/analysis.md is the specification this file implements. */
#include <stdlib.h>
#include <string.h>
#include <tree_sitter/api.h>

#include "analysis.h"
#include "flow.h"
#include "ipython.h"

const TSLanguage *tree_sitter_python(void);

/* Deeper syntax than this is not analysed (an error says so): it protects the
 * C stack from adversarial input, and no real cell comes near it. */
#define MAX_DEPTH 800
#define MAX_LATER_NAMES 32

typedef enum scope_kind { SCOPE_CELL, SCOPE_FUNCTION, SCOPE_CLASS, SCOPE_COMPREHENSION } scope_kind;

typedef struct scope {
    scope_kind kind;
    struct scope *parent;
    nbr_strset locals;    /* function/comprehension: every name bound in it */
    nbr_strset globals;   /* declared `global` */
    nbr_strset nonlocals; /* declared `nonlocal` */
    nbr_flow flow;        /* cell/class: definitely bound so far */
} scope;

typedef struct walker {
    nbr_analysis *a;
    TSParser *parser;
    const char *src;        /* the text the current tree's byte offsets index */
    uint32_t line_base;     /* added to rows: nonzero while walking magic code */
    scope *scope;
    scope *cell;
    nbr_definition *definition; /* top-level def/class being walked, or NULL */
    int deferred;               /* >0 inside a function or lambda body (runs later) */
    int conditional;            /* >0 where a walrus binding is not definite */
    /* Class names bound by the time nested function bodies can run. */
    const char *later[MAX_LATER_NAMES];
    size_t later_length[MAX_LATER_NAMES];
    int later_count;
    int depth;
    bool too_deep;
    nbr_strset imported; /* names the cell binds by import (for setattr flags) */
} walker;

static void visit_statement(walker *w, TSNode n);
static void visit_expr(walker *w, TSNode n);
static void visit_block(walker *w, TSNode n);
static void collect_bindings(scope *s, const char *src, TSNode n, int depth);
static void collect_targets(scope *s, const char *src, TSNode t, int depth);

/* ---- small helpers ----------------------------------------------------- */

static bool is(TSNode n, const char *type) { return !strcmp(ts_node_type(n), type); }

static TSNode field(TSNode n, const char *name)
{
    return ts_node_child_by_field_name(n, name, (uint32_t)strlen(name));
}

static const char *text(const walker *w, TSNode n, size_t *length)
{
    *length = ts_node_end_byte(n) - ts_node_start_byte(n);
    return w->src + ts_node_start_byte(n);
}

static bool text_is(const walker *w, TSNode n, const char *expected)
{
    size_t length;
    const char *t = text(w, n, &length);
    return length == strlen(expected) && !memcmp(t, expected, length);
}

static bool in_list(const char *name, size_t length, const char *const *list)
{
    for (; *list; list++)
        if (strlen(*list) == length && !memcmp(*list, name, length)) return true;
    return false;
}

static void add_flag(walker *w, TSNode n, const char *message, const char *name, size_t length)
{
    TSPoint at = ts_node_start_point(n);
    nbr_analysis_add_diagnostic(w->a, NBR_DIAG_FLAG, at.row + 1 + w->line_base, at.column + 1,
                                message, (int)length, name);
}

static bool enter(walker *w)
{
    if (w->depth >= MAX_DEPTH) {
        if (!w->too_deep)
            nbr_analysis_add_diagnostic(w->a, NBR_DIAG_ERROR, 1, 1,
                                        "nesting deeper than %d levels: not analysed", MAX_DEPTH);
        w->too_deep = true;
        return false;
    }
    w->depth++;
    return true;
}

static void leave(walker *w) { w->depth--; }

/* ---- scopes and flow ---------------------------------------------------- */

static void scope_init(scope *s, scope_kind kind, scope *parent)
{
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->parent = parent;
    nbr_flow_init(&s->flow);
}

static void scope_clear(scope *s)
{
    nbr_strset_clear(&s->locals);
    nbr_strset_clear(&s->globals);
    nbr_strset_clear(&s->nonlocals);
    nbr_flow_clear(&s->flow);
}

static bool has_flow(const scope *s) { return s->kind == SCOPE_CELL || s->kind == SCOPE_CLASS; }

/* The flow state of the current scope, or NULL in function bodies, where
 * Python decides locality for the whole body at once. */
static nbr_flow *current_flow(walker *w) { return has_flow(w->scope) ? &w->scope->flow : NULL; }

static void snapshot(walker *w, nbr_flow *out)
{
    nbr_flow_init(out);
    nbr_flow *f = current_flow(w);
    if (f && !nbr_flow_copy(out, f)) w->a->out_of_memory = true;
}

static void restore(walker *w, const nbr_flow *from)
{
    nbr_flow *f = current_flow(w);
    if (f && !nbr_flow_copy(f, from)) w->a->out_of_memory = true;
}

static void meet_current(walker *w, nbr_flow *acc)
{
    nbr_flow *f = current_flow(w);
    if (f) nbr_flow_meet(acc, f);
}

static void end_path(walker *w)
{
    nbr_flow *f = current_flow(w);
    if (f) nbr_flow_end_path(f);
}

/* An accumulator for a meet over branches starts as "top" (unreachable). */
static void start_meet(nbr_flow *acc)
{
    nbr_flow_init(acc);
    acc->top = true;
}

typedef enum resolution { RESOLVES_LOCAL, RESOLVES_GLOBAL } resolution;

/* Resolves a name used in the current scope the way CPython does: function
 * scopes decide from their own bindings, class bodies from what they have bound
 * so far, and free names go outwards past class scopes to the globals. */
static resolution resolve(const walker *w, const char *name, size_t length)
{
    const scope *s = w->scope;
    if (s->kind == SCOPE_CLASS) {
        if (nbr_flow_has(&s->flow, name, length)) return RESOLVES_LOCAL;
        s = s->parent;
    }
    for (; s->kind != SCOPE_CELL; s = s->parent) {
        if (s->kind == SCOPE_CLASS) continue;
        if (nbr_strset_find_n(&s->globals, name, length) >= 0) return RESOLVES_GLOBAL;
        if (nbr_strset_find_n(&s->locals, name, length) >= 0 ||
            nbr_strset_find_n(&s->nonlocals, name, length) >= 0)
            return RESOLVES_LOCAL;
    }
    return RESOLVES_GLOBAL;
}

static bool bound_later(const walker *w, const char *name, size_t length)
{
    if (!w->deferred) return false;
    for (int i = 0; i < w->later_count; i++)
        if (w->later_length[i] == length && !memcmp(w->later[i], name, length)) return true;
    return false;
}

/* ---- recording reads, binds, deletes and mutations ---------------------- */

static void record_read(walker *w, const char *name, size_t length)
{
    /* IPython's accessor is the translation of % and ! syntax, not data. */
    if (length == 11 && !memcmp(name, "get_ipython", 11)) return;
    if (resolve(w, name, length) != RESOLVES_GLOBAL) return;
    if (!nbr_flow_has(&w->cell->flow, name, length) && !bound_later(w, name, length))
        nbr_analysis_add_name(w->a, NBR_NAMES_USES, name, length);
    if (w->definition) nbr_definition_add_access(w->a, w->definition, NBR_ACCESS_READS, name, length);
}

static void record_global_write(walker *w, const char *name, size_t length)
{
    if (w->definition)
        nbr_definition_add_access(w->a, w->definition, NBR_ACCESS_WRITES, name, length);
}

static void flow_bind(walker *w, nbr_flow *flow, const char *name, size_t length)
{
    if (!w->conditional && !nbr_flow_bind(flow, name, length)) w->a->out_of_memory = true;
}

static void record_bind(walker *w, const char *name, size_t length)
{
    scope *s = w->scope;
    if (s->kind == SCOPE_CELL) {
        nbr_analysis_add_name(w->a, NBR_NAMES_DEFS, name, length);
        flow_bind(w, &s->flow, name, length);
    } else if (s->kind == SCOPE_CLASS) {
        flow_bind(w, &s->flow, name, length);
    } else if (nbr_strset_find_n(&s->globals, name, length) >= 0) {
        record_global_write(w, name, length);
    }
}

/* A walrus binds in the nearest scope that is not a comprehension. */
static void record_walrus(walker *w, const char *name, size_t length)
{
    scope *s = w->scope;
    while (s->kind == SCOPE_COMPREHENSION) s = s->parent;
    if (s == w->scope) {
        record_bind(w, name, length);
    } else if (s->kind == SCOPE_CELL) {
        nbr_analysis_add_name(w->a, NBR_NAMES_DEFS, name, length); /* never definite */
    } else if (nbr_strset_find_n(&s->globals, name, length) >= 0) {
        record_global_write(w, name, length);
    }
}

static void record_delete(walker *w, const char *name, size_t length)
{
    record_read(w, name, length);
    scope *s = w->scope;
    if (s->kind == SCOPE_CELL) nbr_analysis_add_name(w->a, NBR_NAMES_DELETES, name, length);
    if (has_flow(s)) nbr_flow_unbind(&s->flow, name, length);
    else if (nbr_strset_find_n(&s->globals, name, length) >= 0)
        record_global_write(w, name, length);
}

static void record_mutation(walker *w, const char *name, size_t length)
{
    if (resolve(w, name, length) != RESOLVES_GLOBAL) return;
    if (!w->deferred) nbr_analysis_add_name(w->a, NBR_NAMES_MAY_MUTATE, name, length);
    record_global_write(w, name, length);
}

/* The variable an attribute/subscript chain starts from: `a.b[0].c` -> a.
 * Calls end the chain: what `f(x).append` changes is a new object. */
static bool root_name(TSNode n, TSNode *root)
{
    for (;;) {
        if (is(n, "identifier")) {
            *root = n;
            return true;
        }
        if (is(n, "attribute")) n = field(n, "object");
        else if (is(n, "subscript")) n = field(n, "value");
        else if (is(n, "parenthesized_expression") && ts_node_named_child_count(n) == 1)
            n = ts_node_named_child(n, 0);
        else return false;
        if (ts_node_is_null(n)) return false;
    }
}

static void mutate_root(walker *w, TSNode n)
{
    TSNode root;
    size_t length;
    if (root_name(n, &root)) {
        const char *name = text(w, root, &length);
        record_mutation(w, name, length);
    }
}

/* ---- targets -------------------------------------------------------------- */

static bool is_target_group(TSNode n)
{
    return is(n, "pattern_list") || is(n, "tuple_pattern") || is(n, "list_pattern") ||
           is(n, "tuple") || is(n, "list") || is(n, "parenthesized_expression") ||
           is(n, "expression_list") || is(n, "list_splat_pattern") || is(n, "list_splat") ||
           is(n, "as_pattern_target");
}

/* Binds an assignment/for/with target.  Attribute and subscript targets bind
 * nothing: they read their object and change it in place. */
static void bind_target(walker *w, TSNode t)
{
    if (ts_node_is_missing(t) || !enter(w)) return;
    size_t length;
    if (is(t, "identifier")) {
        const char *name = text(w, t, &length);
        record_bind(w, name, length);
    } else if (is_target_group(t)) {
        for (uint32_t i = 0; i < ts_node_named_child_count(t); i++)
            bind_target(w, ts_node_named_child(t, i));
    } else if (is(t, "attribute") || is(t, "subscript")) {
        for (uint32_t i = 0; i < ts_node_named_child_count(t); i++) {
            TSNode part = ts_node_named_child(t, i);
            if (!(is(t, "attribute") && ts_node_eq(part, field(t, "attribute")))) visit_expr(w, part);
        }
        mutate_root(w, t);
    } else if (!is(t, "comment")) {
        visit_expr(w, t);
    }
    leave(w);
}

/* ---- calls ------------------------------------------------------------------ */

static const char *const pure_builtins[] = {
    "print", "len", "repr", "str", "int", "float", "complex", "bool", "bytes", "isinstance",
    "issubclass", "type", "id", "hash", "sorted", "sum", "min", "max", "abs", "any", "all",
    "round", "format", "hex", "oct", "bin", "chr", "ord", "divmod", "callable", "getattr",
    "hasattr", "range", "enumerate", "zip", "reversed", "list", "tuple", "set", "frozenset",
    "dict", "open", NULL};

static const char *const pure_module_functions[] = {
    "sum", "mean", "std", "var", "min", "max", "argmin", "argmax", "median", "percentile",
    "quantile", "prod", "shape", "size", "ndim", "isnan", "isfinite", "isinf", "allclose",
    "array_equal", "nansum", "nanmean", "nanstd", "nanmin", "nanmax", "count_nonzero", "any",
    "all", "abs", "sqrt", "exp", "log", "floor", "ceil", NULL};

static const char *const pure_modules[] = {"np", "numpy", "math", NULL};

static const char *const pure_methods[] = {
    "copy", "keys", "values", "items", "get", "count", "index", "startswith", "endswith",
    "format", "describe", "head", "tail", "sum", "mean", "std", "var", "min", "max", NULL};

/* Whether a call to `fn` leaves its arguments unchanged (docs/analysis.md). */
static bool is_pure_callee(const walker *w, TSNode fn)
{
    size_t length, module_length;
    if (is(fn, "identifier")) {
        const char *name = text(w, fn, &length);
        return in_list(name, length, pure_builtins);
    }
    if (!is(fn, "attribute")) return false;
    TSNode object = field(fn, "object");
    if (!is(object, "identifier")) return false;
    const char *module = text(w, object, &module_length);
    const char *name = text(w, field(fn, "attribute"), &length);
    return in_list(module, module_length, pure_modules) &&
           in_list(name, length, pure_module_functions);
}

static bool is_module_target(const walker *w, TSNode target)
{
    if (is(target, "subscript")) return text_is(w, field(target, "value"), "sys.modules");
    size_t length;
    const char *name = text(w, target, &length);
    return is(target, "identifier") && nbr_strset_find_n(&w->imported, name, length) >= 0;
}

static void flag_dynamic_call(walker *w, TSNode call, TSNode fn, TSNode args)
{
    static const char *const run_code[] = {"exec", "eval", "__import__", NULL};
    static const char *const namespaces[] = {"globals", "locals", "vars", NULL};
    static const char *const set_attributes[] = {"setattr", "delattr", NULL};
    size_t length;
    bool no_args = ts_node_named_child_count(args) == 0;
    if (is(fn, "attribute") && text_is(w, fn, "importlib.import_module")) {
        add_flag(w, call, "%.*s() imports a module chosen at run time", "importlib.import_module",
                 23);
        return;
    }
    if (!is(fn, "identifier")) return;
    const char *name = text(w, fn, &length);
    if (in_list(name, length, run_code))
        add_flag(w, call, "%.*s() runs code the analysis cannot see", name, length);
    else if (in_list(name, length, namespaces) && no_args)
        add_flag(w, call, "%.*s() exposes the namespace to changes the analysis cannot see", name,
                 length);
    else if (in_list(name, length, set_attributes) && !no_args &&
             is_module_target(w, ts_node_named_child(args, 0)))
        add_flag(w, call, "%.*s() on a module changes globals the analysis cannot see", name,
                 length);
}

/* get_ipython().run_line_magic('time', 'x = f(y)') and run_cell_magic: the
 * translation of %time and %%time.  Returns true if the call was one. */
static bool visit_magic_call(walker *w, TSNode fn, TSNode args);

static void visit_call(walker *w, TSNode call)
{
    TSNode fn = field(call, "function"), args = field(call, "arguments");
    if (ts_node_is_null(fn) || ts_node_is_null(args)) {
        for (uint32_t i = 0; i < ts_node_named_child_count(call); i++)
            visit_expr(w, ts_node_named_child(call, i));
        return;
    }
    if (visit_magic_call(w, fn, args)) return;
    flag_dynamic_call(w, call, fn, args);
    visit_expr(w, fn);
    if (is(fn, "attribute")) {
        size_t length;
        const char *method = text(w, field(fn, "attribute"), &length);
        if (!in_list(method, length, pure_methods)) mutate_root(w, field(fn, "object"));
    }
    if (!is(args, "argument_list")) { /* f(x for x in xs) */
        visit_expr(w, args);
        return;
    }
    bool pure = is_pure_callee(w, fn);
    for (uint32_t i = 0; i < ts_node_named_child_count(args); i++) {
        TSNode arg = ts_node_named_child(args, i);
        if (is(arg, "keyword_argument")) arg = field(arg, "value");
        else if ((is(arg, "list_splat") || is(arg, "dictionary_splat")) &&
                 ts_node_named_child_count(arg) == 1)
            arg = ts_node_named_child(arg, 0);
        if (ts_node_is_null(arg) || is(arg, "comment")) continue;
        visit_expr(w, arg);
        if (!pure) mutate_root(w, arg);
    }
}

/* ---- nested scopes -------------------------------------------------------- */

/* Walks `body` as the body of a new function-like scope whose locals were
 * collected beforehand. */
static void walk_function_scope(walker *w, scope *fs, TSNode body, bool is_block)
{
    scope *outer = w->scope;
    w->scope = fs;
    w->deferred++;
    if (is_block) visit_block(w, body);
    else visit_expr(w, body);
    w->deferred--;
    w->scope = outer;
}

/* Default values and annotations run at the def, in the enclosing scope;
 * parameter names become the function's locals. */
static void visit_parameters(walker *w, TSNode params, scope *fs)
{
    if (ts_node_is_null(params)) return;
    for (uint32_t i = 0; i < ts_node_named_child_count(params); i++) {
        TSNode p = ts_node_named_child(params, i);
        TSNode name = p, value = field(p, "value"), type = field(p, "type");
        if (!ts_node_is_null(type)) visit_expr(w, type);
        if (!ts_node_is_null(value)) visit_expr(w, value);
        if (is(p, "default_parameter") || is(p, "typed_default_parameter")) name = field(p, "name");
        else if (is(p, "typed_parameter")) name = ts_node_named_child(p, 0);
        collect_bindings(fs, w->src, name, 0);
        if (is(name, "list_splat_pattern") || is(name, "dictionary_splat_pattern"))
            collect_bindings(fs, w->src, ts_node_named_child(name, 0), 0);
    }
}

static void visit_lambda(walker *w, TSNode n)
{
    scope fs;
    scope_init(&fs, SCOPE_FUNCTION, w->scope);
    visit_parameters(w, field(n, "parameters"), &fs);
    TSNode body = field(n, "body");
    if (!ts_node_is_null(body)) {
        collect_bindings(&fs, w->src, body, 0);
        walk_function_scope(w, &fs, body, false);
    }
    scope_clear(&fs);
}

static nbr_definition *begin_definition(walker *w, nbr_definition_kind kind, TSNode name)
{
    if (w->scope != w->cell) return w->definition;
    size_t length;
    const char *n = text(w, name, &length);
    return nbr_analysis_add_definition(w->a, kind, n, length);
}

static void visit_function(walker *w, TSNode n)
{
    TSNode name = field(n, "name"), body = field(n, "body");
    scope fs;
    scope_init(&fs, SCOPE_FUNCTION, w->scope);
    visit_parameters(w, field(n, "parameters"), &fs);
    TSNode returns = field(n, "return_type");
    if (!ts_node_is_null(returns)) visit_expr(w, returns);
    if (!ts_node_is_null(name)) bind_target(w, name);
    if (!ts_node_is_null(body) && !ts_node_is_null(name)) {
        nbr_definition *outer = w->definition;
        w->definition = begin_definition(w, NBR_DEF_FUNCTION, name);
        collect_bindings(&fs, w->src, body, 0);
        walk_function_scope(w, &fs, body, true);
        w->definition = outer;
    }
    scope_clear(&fs);
}

static void visit_class(walker *w, TSNode n)
{
    TSNode name = field(n, "name"), body = field(n, "body"), bases = field(n, "superclasses");
    if (!ts_node_is_null(bases)) {
        for (uint32_t i = 0; i < ts_node_named_child_count(bases); i++) {
            TSNode base = ts_node_named_child(bases, i);
            visit_expr(w, is(base, "keyword_argument") ? field(base, "value") : base);
        }
    }
    if (ts_node_is_null(name)) return;
    if (!ts_node_is_null(body)) {
        scope cs;
        scope_init(&cs, SCOPE_CLASS, w->scope);
        nbr_definition *outer = w->definition;
        w->definition = begin_definition(w, NBR_DEF_CLASS, name);
        bool pushed = w->later_count < MAX_LATER_NAMES;
        if (pushed) { /* methods run once the class name is bound */
            w->later[w->later_count] = text(w, name, &w->later_length[w->later_count]);
            w->later_count++;
        }
        scope *outer_scope = w->scope;
        w->scope = &cs;
        visit_block(w, body);
        w->scope = outer_scope;
        if (pushed) w->later_count--;
        w->definition = outer;
        scope_clear(&cs);
    }
    bind_target(w, name);
}

static void visit_comprehension(walker *w, TSNode n)
{
    TSNode body = field(n, "body");
    uint32_t count = ts_node_named_child_count(n);
    bool first_iterable_done = false;
    scope cs;
    scope_init(&cs, SCOPE_COMPREHENSION, w->scope);
    for (uint32_t i = 0; i < count; i++) {
        TSNode clause = ts_node_named_child(n, i);
        if (is(clause, "for_in_clause")) collect_targets(&cs, w->src, field(clause, "left"), 0);
    }
    for (uint32_t i = 0; i < count; i++) {
        TSNode clause = ts_node_named_child(n, i);
        if (!is(clause, "for_in_clause") && !is(clause, "if_clause")) continue;
        if (is(clause, "if_clause")) {
            scope *outer = w->scope;
            w->scope = &cs;
            visit_expr(w, ts_node_named_child(clause, 0));
            w->scope = outer;
            continue;
        }
        /* The first iterable is evaluated in the enclosing scope. */
        scope *outer = w->scope;
        if (first_iterable_done) w->scope = &cs;
        for (uint32_t k = 0; k < ts_node_named_child_count(clause); k++) {
            TSNode part = ts_node_named_child(clause, k);
            if (!ts_node_eq(part, field(clause, "left"))) visit_expr(w, part);
        }
        w->scope = outer;
        first_iterable_done = true;
    }
    if (!ts_node_is_null(body)) {
        scope *outer = w->scope;
        w->scope = &cs;
        visit_expr(w, body);
        w->scope = outer;
    }
    scope_clear(&cs);
}

/* ---- expressions ------------------------------------------------------------ */

static void visit_children(walker *w, TSNode n)
{
    for (uint32_t i = 0; i < ts_node_named_child_count(n); i++) {
        TSNode child = ts_node_named_child(n, i);
        const char *type = ts_node_type(child);
        size_t length = strlen(type);
        bool statement = (length > 10 && !strcmp(type + length - 10, "_statement")) ||
                         is(child, "block") || is(child, "function_definition") ||
                         is(child, "class_definition") || is(child, "decorated_definition");
        if (statement) visit_statement(w, child);
        else visit_expr(w, child);
    }
}

static void visit_conditional(walker *w, TSNode n)
{
    /* `a if c else b`: c runs first; bindings in a or b are not definite. */
    uint32_t count = ts_node_named_child_count(n);
    if (count == 3) visit_expr(w, ts_node_named_child(n, 1));
    w->conditional++;
    for (uint32_t i = 0; i < count; i++)
        if (count != 3 || i != 1) visit_expr(w, ts_node_named_child(n, i));
    w->conditional--;
}

static void visit_as_pattern(walker *w, TSNode n)
{
    TSNode alias = field(n, "alias");
    for (uint32_t i = 0; i < ts_node_named_child_count(n); i++) {
        TSNode child = ts_node_named_child(n, i);
        if (!ts_node_eq(child, alias)) visit_expr(w, child);
    }
    if (!ts_node_is_null(alias)) bind_target(w, alias);
}

static void visit_expr(walker *w, TSNode n)
{
    /* MISSING nodes are the parser's guesses at error recovery: nothing to read. */
    if (ts_node_is_null(n) || ts_node_is_missing(n) || !enter(w)) return;
    size_t length;
    if (is(n, "identifier")) {
        const char *name = text(w, n, &length);
        record_read(w, name, length);
    } else if (is(n, "attribute")) {
        visit_expr(w, field(n, "object"));
    } else if (is(n, "call")) {
        visit_call(w, n);
    } else if (is(n, "lambda")) {
        visit_lambda(w, n);
    } else if (is(n, "list_comprehension") || is(n, "set_comprehension") ||
               is(n, "dictionary_comprehension") || is(n, "generator_expression")) {
        visit_comprehension(w, n);
    } else if (is(n, "named_expression")) {
        visit_expr(w, field(n, "value"));
        TSNode name = field(n, "name");
        if (!ts_node_is_null(name)) {
            const char *t = text(w, name, &length);
            record_walrus(w, t, length);
        }
    } else if (is(n, "boolean_operator")) {
        visit_expr(w, field(n, "left"));
        w->conditional++;
        visit_expr(w, field(n, "right"));
        w->conditional--;
    } else if (is(n, "conditional_expression")) {
        visit_conditional(w, n);
    } else if (is(n, "keyword_argument")) {
        visit_expr(w, field(n, "value"));
    } else if (is(n, "as_pattern")) {
        visit_as_pattern(w, n);
    } else if (is(n, "assignment")) { /* inside ERROR recovery */
        visit_statement(w, n);
    } else if (!is(n, "comment")) {
        visit_children(w, n);
    }
    leave(w);
}

/* ---- statements ------------------------------------------------------------- */

static void visit_block(walker *w, TSNode n)
{
    if (ts_node_is_null(n)) return;
    for (uint32_t i = 0; i < ts_node_named_child_count(n); i++)
        visit_statement(w, ts_node_named_child(n, i));
}

static void visit_assignment(walker *w, TSNode n)
{
    /* `a = b = value`: the value first, then the targets left to right. */
    TSNode targets[64];
    size_t count = 0;
    TSNode value = n, type = field(n, "type");
    while (is(value, "assignment") && count < 64) {
        targets[count++] = field(value, "left");
        value = field(value, "right");
        if (ts_node_is_null(value)) break;
    }
    if (!ts_node_is_null(value)) visit_expr(w, value);
    bool binds = !ts_node_is_null(value);
    for (size_t i = 0; i < count && binds; i++)
        if (!ts_node_is_null(targets[i])) bind_target(w, targets[i]);
    if (!ts_node_is_null(type)) visit_expr(w, type);
    if (binds && count == 1 && w->scope == w->cell && is(targets[0], "identifier") &&
        is(value, "identifier")) {
        size_t nl, vl;
        const char *name = text(w, targets[0], &nl), *other = text(w, value, &vl);
        nbr_analysis_add_alias(w->a, name, nl, other, vl);
    }
}

static void visit_augmented(walker *w, TSNode n)
{
    TSNode target = field(n, "left");
    size_t length;
    if (is(target, "identifier")) {
        const char *name = text(w, target, &length);
        record_read(w, name, length);
        visit_expr(w, field(n, "right"));
        record_bind(w, name, length);
        record_mutation(w, name, length);
    } else {
        for (uint32_t i = 0; i < ts_node_named_child_count(target); i++) {
            TSNode part = ts_node_named_child(target, i);
            if (!(is(target, "attribute") && ts_node_eq(part, field(target, "attribute"))))
                visit_expr(w, part);
        }
        mutate_root(w, target);
        visit_expr(w, field(n, "right"));
    }
}

static void delete_target(walker *w, TSNode t)
{
    size_t length;
    if (is(t, "identifier")) {
        const char *name = text(w, t, &length);
        record_delete(w, name, length);
    } else if (is_target_group(t)) {
        for (uint32_t i = 0; i < ts_node_named_child_count(t); i++)
            delete_target(w, ts_node_named_child(t, i));
    } else {
        bind_target(w, t); /* attribute/subscript: reads and changes its root */
    }
}

static void visit_if(walker *w, TSNode n)
{
    visit_expr(w, field(n, "condition"));
    nbr_flow after_conditions, result;
    snapshot(w, &after_conditions);
    visit_block(w, field(n, "consequence"));
    snapshot(w, &result);
    bool has_else = false;
    for (uint32_t i = 0; i < ts_node_named_child_count(n); i++) {
        TSNode alt = ts_node_named_child(n, i);
        if (is(alt, "elif_clause")) {
            restore(w, &after_conditions);
            visit_expr(w, field(alt, "condition"));
            nbr_flow_clear(&after_conditions);
            snapshot(w, &after_conditions);
            visit_block(w, field(alt, "consequence"));
            meet_current(w, &result);
        } else if (is(alt, "else_clause")) {
            has_else = true;
            restore(w, &after_conditions);
            visit_block(w, field(alt, "body"));
            meet_current(w, &result);
        }
    }
    if (!has_else) nbr_flow_meet(&result, &after_conditions);
    restore(w, &result);
    nbr_flow_clear(&after_conditions);
    nbr_flow_clear(&result);
}

/* for / while: the body may not run; nothing it binds is definite after. */
static void visit_loop(walker *w, TSNode n)
{
    bool is_for = is(n, "for_statement");
    visit_expr(w, field(n, is_for ? "right" : "condition"));
    nbr_flow before, result;
    snapshot(w, &before);
    snapshot(w, &result);
    if (is_for) bind_target(w, field(n, "left"));
    visit_block(w, field(n, "body"));
    meet_current(w, &result);
    TSNode alternative = field(n, "alternative");
    if (!ts_node_is_null(alternative)) {
        restore(w, &before);
        visit_block(w, field(alternative, "body"));
        meet_current(w, &result);
    }
    restore(w, &result);
    nbr_flow_clear(&before);
    nbr_flow_clear(&result);
}

/* `except E as e:` - E is read, e is bound in the handler and deleted after it. */
static void visit_handler(walker *w, TSNode clause)
{
    TSNode alias = field(clause, "alias");
    for (uint32_t i = 0; i < ts_node_named_child_count(clause); i++) {
        TSNode child = ts_node_named_child(clause, i);
        if (!is(child, "block") && !(!ts_node_is_null(alias) && ts_node_eq(child, alias)))
            visit_expr(w, child); /* except* E as e arrives as an as_pattern */
    }
    size_t length = 0;
    const char *name = NULL;
    if (!ts_node_is_null(alias) && is(alias, "identifier")) {
        name = text(w, alias, &length);
        record_bind(w, name, length);
    }
    for (uint32_t i = 0; i < ts_node_named_child_count(clause); i++)
        if (is(ts_node_named_child(clause, i), "block")) visit_block(w, ts_node_named_child(clause, i));
    nbr_flow *f = current_flow(w);
    if (name && f) nbr_flow_unbind(f, name, length);
}

static void visit_try(walker *w, TSNode n)
{
    nbr_flow before, body_end, handlers, normal;
    snapshot(w, &before);
    visit_block(w, field(n, "body"));
    snapshot(w, &body_end);
    start_meet(&handlers);
    TSNode finally = {0};
    bool has_finally = false;
    nbr_flow_init(&normal);
    nbr_flow_copy(&normal, &body_end);
    for (uint32_t i = 0; i < ts_node_named_child_count(n); i++) {
        TSNode clause = ts_node_named_child(n, i);
        if (is(clause, "except_clause") || is(clause, "except_group_clause")) {
            restore(w, &before);
            visit_handler(w, clause);
            meet_current(w, &handlers);
        } else if (is(clause, "else_clause")) {
            restore(w, &body_end);
            visit_block(w, field(clause, "body"));
            nbr_flow_clear(&normal);
            snapshot(w, &normal);
        } else if (is(clause, "finally_clause")) {
            finally = clause;
            has_finally = true;
        }
    }
    nbr_flow_meet(&normal, &handlers);
    restore(w, &normal);
    if (has_finally) {
        /* The finally clause may start anywhere: analyse it from `before`.
         * Afterwards: what both the normal paths and the clause left bound,
         * plus what the clause itself bound. */
        restore(w, &before);
        for (uint32_t i = 0; i < ts_node_named_child_count(finally); i++)
            visit_block(w, ts_node_named_child(finally, i));
        nbr_flow *f = current_flow(w);
        if (f && !f->top && !normal.top) {
            nbr_flow result;
            nbr_flow_init(&result);
            nbr_flow_copy(&result, &normal);
            nbr_flow_meet(&result, f);
            for (size_t k = 0; k < f->bound.count; k++)
                if (!nbr_flow_has(&before, f->bound.items[k], strlen(f->bound.items[k])))
                    nbr_flow_bind(&result, f->bound.items[k], strlen(f->bound.items[k]));
            restore(w, &result);
            nbr_flow_clear(&result);
        } else if (f && normal.top) {
            restore(w, &normal);
        }
    }
    nbr_flow_clear(&before);
    nbr_flow_clear(&body_end);
    nbr_flow_clear(&handlers);
    nbr_flow_clear(&normal);
}

static void visit_with(walker *w, TSNode n)
{
    for (uint32_t i = 0; i < ts_node_named_child_count(n); i++) {
        TSNode clause = ts_node_named_child(n, i);
        if (!is(clause, "with_clause")) continue;
        for (uint32_t k = 0; k < ts_node_named_child_count(clause); k++) {
            TSNode item = ts_node_named_child(clause, k);
            visit_expr(w, is(item, "with_item") ? field(item, "value") : item);
        }
    }
    visit_block(w, field(n, "body"));
}

/* ---- match ------------------------------------------------------------------ */

static void visit_pattern(walker *w, TSNode p);

static void visit_pattern_children(walker *w, TSNode p)
{
    for (uint32_t i = 0; i < ts_node_named_child_count(p); i++)
        visit_pattern(w, ts_node_named_child(p, i));
}

static void visit_pattern(walker *w, TSNode p)
{
    if (!enter(w)) return;
    size_t length;
    if (is(p, "dotted_name")) {
        TSNode first = ts_node_named_child(p, 0);
        const char *name = text(w, first, &length);
        if (ts_node_named_child_count(p) > 1) record_read(w, name, length); /* Color.RED */
        else if (!(length == 1 && name[0] == '_')) record_bind(w, name, length);
    } else if (is(p, "identifier")) { /* **rest, *rest, as-alias */
        const char *name = text(w, p, &length);
        if (!(length == 1 && name[0] == '_')) record_bind(w, name, length);
    } else if (is(p, "class_pattern")) {
        for (uint32_t i = 0; i < ts_node_named_child_count(p); i++) {
            TSNode part = ts_node_named_child(p, i);
            if (i == 0 && is(part, "dotted_name")) visit_expr(w, ts_node_named_child(part, 0));
            else visit_pattern(w, part);
        }
    } else if (is(p, "keyword_pattern")) {
        for (uint32_t i = 1; i < ts_node_named_child_count(p); i++)
            visit_pattern(w, ts_node_named_child(p, i));
    } else if (is(p, "as_pattern")) {
        TSNode alias = field(p, "alias");
        for (uint32_t i = 0; i < ts_node_named_child_count(p); i++) {
            TSNode part = ts_node_named_child(p, i);
            if (!ts_node_eq(part, alias)) visit_pattern(w, part);
        }
        if (!ts_node_is_null(alias)) bind_target(w, alias);
    } else if (is(p, "dict_pattern")) {
        for (uint32_t i = 0; i < ts_node_named_child_count(p); i++) {
            TSNode part = ts_node_named_child(p, i);
            if (is(part, "dotted_name") && ts_node_named_child_count(part) > 1)
                visit_expr(w, ts_node_named_child(part, 0)); /* a value-pattern key */
            else if (!is(part, "dotted_name")) visit_pattern(w, part);
        }
    } else if (is(p, "case_pattern") || is(p, "list_pattern") || is(p, "tuple_pattern") ||
               is(p, "union_pattern") || is(p, "splat_pattern")) {
        visit_pattern_children(w, p);
    }
    leave(w);
}

static bool is_irrefutable(const walker *w, TSNode clause)
{
    if (!ts_node_is_null(field(clause, "guard"))) return false;
    uint32_t patterns = 0;
    TSNode pattern = {0};
    for (uint32_t i = 0; i < ts_node_named_child_count(clause); i++) {
        TSNode part = ts_node_named_child(clause, i);
        if (is(part, "case_pattern")) {
            patterns++;
            pattern = part;
        }
    }
    if (patterns != 1) return false;
    if (text_is(w, pattern, "_")) return true;
    if (ts_node_named_child_count(pattern) != 1) return false;
    TSNode only = ts_node_named_child(pattern, 0);
    return is(only, "dotted_name") && ts_node_named_child_count(only) == 1;
}

static void visit_match(walker *w, TSNode n)
{
    for (uint32_t i = 0; i < ts_node_named_child_count(n); i++) {
        TSNode child = ts_node_named_child(n, i);
        if (!is(child, "block")) visit_expr(w, child);
    }
    nbr_flow after_subject, result;
    snapshot(w, &after_subject);
    start_meet(&result);
    bool exhaustive = false;
    TSNode body = field(n, "body");
    for (uint32_t i = 0; !ts_node_is_null(body) && i < ts_node_named_child_count(body); i++) {
        TSNode clause = ts_node_named_child(body, i);
        if (!is(clause, "case_clause")) continue;
        restore(w, &after_subject);
        for (uint32_t k = 0; k < ts_node_named_child_count(clause); k++) {
            TSNode part = ts_node_named_child(clause, k);
            if (is(part, "case_pattern")) visit_pattern(w, part);
        }
        TSNode guard = field(clause, "guard");
        if (!ts_node_is_null(guard)) visit_expr(w, guard);
        visit_block(w, field(clause, "consequence"));
        meet_current(w, &result);
        exhaustive |= is_irrefutable(w, clause);
    }
    if (!exhaustive) nbr_flow_meet(&result, &after_subject);
    restore(w, &result);
    nbr_flow_clear(&after_subject);
    nbr_flow_clear(&result);
}

/* ---- imports ---------------------------------------------------------------- */

static void bind_import(walker *w, const char *name, size_t length)
{
    record_bind(w, name, length);
    if (w->scope == w->cell && !nbr_strset_add_n(&w->imported, name, length))
        w->a->out_of_memory = true;
}

/* Adds a module name to `imports`, without the blanks `from . import` allows. */
static void add_import(walker *w, TSNode module)
{
    size_t length;
    const char *t = text(w, module, &length);
    char compact[512];
    size_t n = 0;
    for (size_t i = 0; i < length && n < sizeof compact; i++)
        if (t[i] != ' ' && t[i] != '\t' && t[i] != '\\' && t[i] != '\n') compact[n++] = t[i];
    nbr_analysis_add_name(w->a, NBR_NAMES_IMPORTS, compact, n);
    if ((n == 9 && !memcmp(compact, "importlib", 9)) || (n > 9 && !memcmp(compact, "importlib.", 10)))
        add_flag(w, module, "import of %.*s: imports modules chosen at run time", compact, n);
}

static void visit_import(walker *w, TSNode n)
{
    size_t length;
    for (uint32_t i = 0; i < ts_node_named_child_count(n); i++) {
        TSNode item = ts_node_named_child(n, i);
        if (is(item, "dotted_name")) {
            add_import(w, item);
            const char *first = text(w, ts_node_named_child(item, 0), &length);
            bind_import(w, first, length); /* `import a.b` binds a */
        } else if (is(item, "aliased_import")) {
            add_import(w, field(item, "name"));
            const char *alias = text(w, field(item, "alias"), &length);
            bind_import(w, alias, length);
        }
    }
}

static void visit_import_from(walker *w, TSNode n)
{
    TSNode module = field(n, "module_name");
    size_t length;
    if (is(n, "future_import_statement")) {
        nbr_analysis_add_name(w->a, NBR_NAMES_IMPORTS, "__future__", 10);
    } else if (!ts_node_is_null(module)) {
        add_import(w, module);
    }
    for (uint32_t i = 0; i < ts_node_named_child_count(n); i++) {
        TSNode item = ts_node_named_child(n, i);
        if (!ts_node_is_null(module) && ts_node_eq(item, module)) continue;
        if (is(item, "dotted_name")) {
            const char *name = text(w, item, &length);
            bind_import(w, name, length);
        } else if (is(item, "aliased_import")) {
            const char *alias = text(w, field(item, "alias"), &length);
            bind_import(w, alias, length);
        } else if (is(item, "wildcard_import")) {
            add_flag(w, n, "%.*sfrom ... import * binds names the analysis cannot know", "", 0);
        }
    }
}

/* ---- statement dispatch ----------------------------------------------------- */

static void visit_expression_statement(walker *w, TSNode n)
{
    for (uint32_t i = 0; i < ts_node_named_child_count(n); i++) {
        TSNode child = ts_node_named_child(n, i);
        if (is(child, "assignment")) visit_assignment(w, child);
        else if (is(child, "augmented_assignment")) visit_augmented(w, child);
        else visit_expr(w, child);
    }
}

static void visit_decorated(walker *w, TSNode n)
{
    TSNode definition = field(n, "definition");
    for (uint32_t i = 0; i < ts_node_named_child_count(n); i++) {
        TSNode child = ts_node_named_child(n, i);
        if (is(child, "decorator")) visit_children(w, child);
    }
    if (ts_node_is_null(definition)) return;
    if (is(definition, "class_definition")) visit_class(w, definition);
    else visit_function(w, definition);
}

static void visit_delete(walker *w, TSNode n)
{
    for (uint32_t i = 0; i < ts_node_named_child_count(n); i++)
        delete_target(w, ts_node_named_child(n, i));
}

static void visit_statement(walker *w, TSNode n)
{
    if (ts_node_is_null(n) || !enter(w)) return;
    if (is(n, "expression_statement")) visit_expression_statement(w, n);
    else if (is(n, "assignment")) visit_assignment(w, n);
    else if (is(n, "augmented_assignment")) visit_augmented(w, n);
    else if (is(n, "if_statement")) visit_if(w, n);
    else if (is(n, "for_statement") || is(n, "while_statement")) visit_loop(w, n);
    else if (is(n, "try_statement")) visit_try(w, n);
    else if (is(n, "with_statement")) visit_with(w, n);
    else if (is(n, "match_statement")) visit_match(w, n);
    else if (is(n, "function_definition")) visit_function(w, n);
    else if (is(n, "class_definition")) visit_class(w, n);
    else if (is(n, "decorated_definition")) visit_decorated(w, n);
    else if (is(n, "import_statement")) visit_import(w, n);
    else if (is(n, "import_from_statement") || is(n, "future_import_statement"))
        visit_import_from(w, n);
    else if (is(n, "delete_statement")) visit_delete(w, n);
    else if (is(n, "return_statement") || is(n, "raise_statement")) {
        visit_children(w, n);
        end_path(w);
    } else if (is(n, "break_statement") || is(n, "continue_statement")) {
        end_path(w);
    } else if (is(n, "global_statement") || is(n, "nonlocal_statement") || is(n, "comment") ||
               is(n, "pass_statement")) {
        /* declarations were collected with the scope's bindings */
    } else if (is(n, "block")) {
        visit_block(w, n);
    } else if (is(n, "exec_statement")) {
        add_flag(w, n, "%.*sexec runs code the analysis cannot see", "", 0);
        visit_children(w, n);
    } else if (is(n, "type_alias_statement")) {
        TSNode left = field(n, "left");
        visit_expr(w, field(n, "right"));
        if (!ts_node_is_null(left) && ts_node_named_child_count(left) > 0)
            bind_target(w, ts_node_named_child(left, 0));
    } else {
        visit_children(w, n); /* assert, print, ERROR recovery, ... */
    }
    leave(w);
}

/* ---- binding collection (CPython's symbol table for one scope) --------------- */

static void add_binding(scope *s, const char *src, TSNode n)
{
    if (ts_node_is_null(n) || !is(n, "identifier")) return;
    uint32_t start = ts_node_start_byte(n);
    nbr_strset_add_n(&s->locals, src + start, ts_node_end_byte(n) - start);
}

static void collect_targets(scope *s, const char *src, TSNode t, int depth)
{
    if (ts_node_is_null(t) || depth > MAX_DEPTH) return;
    if (is(t, "identifier")) add_binding(s, src, t);
    else if (is_target_group(t))
        for (uint32_t i = 0; i < ts_node_named_child_count(t); i++)
            collect_targets(s, src, ts_node_named_child(t, i), depth + 1);
}

static void collect_declarations(nbr_strset *set, const char *src, TSNode n)
{
    for (uint32_t i = 0; i < ts_node_named_child_count(n); i++) {
        TSNode id = ts_node_named_child(n, i);
        if (!is(id, "identifier")) continue;
        uint32_t start = ts_node_start_byte(id);
        nbr_strset_add_n(set, src + start, ts_node_end_byte(id) - start);
    }
}

static void collect_pattern_captures(scope *s, const char *src, TSNode p, int depth)
{
    if (ts_node_is_null(p) || depth > MAX_DEPTH) return;
    if (is(p, "dotted_name")) {
        if (ts_node_named_child_count(p) == 1) add_binding(s, src, ts_node_named_child(p, 0));
        return;
    }
    if (is(p, "identifier")) {
        add_binding(s, src, p);
        return;
    }
    if (is(p, "as_pattern_target")) {
        collect_targets(s, src, ts_node_named_child(p, 0), depth + 1);
        return;
    }
    uint32_t first = is(p, "keyword_pattern") || is(p, "class_pattern") ? 1 : 0;
    for (uint32_t i = first; i < ts_node_named_child_count(p); i++)
        collect_pattern_captures(s, src, ts_node_named_child(p, i), depth + 1);
}

/* Collects every name bound in a function body (or lambda body), its `global`
 * and `nonlocal` declarations, and walrus targets of its comprehensions; it
 * does not enter nested functions, lambdas or classes, whose names only are
 * bound here. */
static void collect_bindings(scope *s, const char *src, TSNode n, int depth)
{
    if (ts_node_is_null(n) || depth > MAX_DEPTH) return;
    if (is(n, "identifier")) {
        if (depth == 0) add_binding(s, src, n); /* a parameter */
        return;
    }
    if (is(n, "function_definition") || is(n, "class_definition")) {
        add_binding(s, src, field(n, "name"));
        return;
    }
    if (is(n, "lambda")) return;
    if (is(n, "global_statement")) return collect_declarations(&s->globals, src, n);
    if (is(n, "nonlocal_statement")) return collect_declarations(&s->nonlocals, src, n);
    if (is(n, "assignment") || is(n, "augmented_assignment")) collect_targets(s, src, field(n, "left"), depth);
    else if (is(n, "for_statement")) collect_targets(s, src, field(n, "left"), depth);
    else if (is(n, "named_expression")) add_binding(s, src, field(n, "name"));
    else if (is(n, "as_pattern") && !ts_node_is_null(field(n, "alias")))
        collect_targets(s, src, ts_node_named_child(field(n, "alias"), 0), depth);
    else if (is(n, "except_clause")) add_binding(s, src, field(n, "alias"));
    else if (is(n, "delete_statement")) collect_targets(s, src, ts_node_named_child(n, 0), depth);
    else if (is(n, "case_pattern")) return collect_pattern_captures(s, src, n, depth);
    else if (is(n, "import_statement") || is(n, "import_from_statement") ||
             is(n, "future_import_statement")) {
        TSNode module = field(n, "module_name");
        for (uint32_t i = 0; i < ts_node_named_child_count(n); i++) {
            TSNode item = ts_node_named_child(n, i);
            if (!ts_node_is_null(module) && ts_node_eq(item, module)) continue;
            if (is(item, "aliased_import")) add_binding(s, src, field(item, "alias"));
            else if (is(item, "dotted_name")) add_binding(s, src, ts_node_named_child(item, 0));
        }
        return;
    }
    for (uint32_t i = 0; i < ts_node_named_child_count(n); i++) {
        TSNode child = ts_node_named_child(n, i);
        if (is(n, "for_in_clause") && ts_node_eq(child, field(n, "left"))) continue;
        collect_bindings(s, src, child, depth + 1);
    }
}

/* ---- IPython magics, translated form ------------------------------------------- */

static void walk_module(walker *w, TSNode root);

/* Analyses `code` (the argument of %time or the body of %%time) in place of the
 * call that runs it. */
static void visit_magic_code(walker *w, const char *code, size_t length, uint32_t line)
{
    char *python = nbr_ipython_rewrite(code, length);
    if (!python) {
        w->a->out_of_memory = true;
        return;
    }
    TSTree *tree = ts_parser_parse_string(w->parser, NULL, python, (uint32_t)length);
    if (tree) {
        const char *outer_src = w->src;
        uint32_t outer_base = w->line_base;
        w->src = python;
        w->line_base = line;
        walk_module(w, ts_tree_root_node(tree));
        w->src = outer_src;
        w->line_base = outer_base;
        ts_tree_delete(tree);
    }
    free(python);
}

static char *string_argument(const walker *w, TSNode args, uint32_t index, size_t *length)
{
    if (index >= ts_node_named_child_count(args)) return NULL;
    TSNode arg = ts_node_named_child(args, index);
    if (!is(arg, "string")) return NULL;
    size_t raw_length;
    const char *raw = text(w, arg, &raw_length);
    return nbr_python_string_literal(raw, raw_length, length);
}

static bool visit_magic_call(walker *w, TSNode fn, TSNode args)
{
    if (!is(fn, "attribute") || !is(args, "argument_list")) return false;
    TSNode object = field(fn, "object");
    if (!is(object, "call") || !text_is(w, field(object, "function"), "get_ipython")) return false;
    bool cell = text_is(w, field(fn, "attribute"), "run_cell_magic");
    if (!cell && !text_is(w, field(fn, "attribute"), "run_line_magic")) return false;
    size_t name_length, args_length, body_length = 0, offset, capture_length;
    const char *capture;
    char *name = string_argument(w, args, 0, &name_length);
    char *magic_args = string_argument(w, args, 1, &args_length);
    char *body = cell ? string_argument(w, args, 2, &body_length) : NULL;
    bool handled = name && magic_args && (!cell || body);
    if (handled &&
        nbr_ipython_magic_runs_code(name, name_length, cell, magic_args, args_length, &offset,
                                    &capture, &capture_length)) {
        uint32_t line = ts_node_start_point(fn).row + w->line_base;
        if (cell) visit_magic_code(w, body, body_length, line);
        else visit_magic_code(w, magic_args + offset, args_length - offset, line);
        if (capture_length) record_bind(w, capture, capture_length);
    }
    free(name);
    free(magic_args);
    free(body);
    return handled;
}

/* ---- syntax errors ------------------------------------------------------------ */

static void report_error_node(walker *w, TSNode n)
{
    TSPoint at = ts_node_start_point(n);
    if (ts_node_is_missing(n)) {
        nbr_analysis_add_diagnostic(w->a, NBR_DIAG_ERROR, at.row + 1 + w->line_base, at.column + 1,
                                    "syntax error: missing %s", ts_node_type(n));
        return;
    }
    size_t length;
    const char *t = text(w, n, &length);
    size_t shown = 0;
    while (shown < length && shown < 20 && t[shown] != '\n') shown++;
    nbr_analysis_add_diagnostic(w->a, NBR_DIAG_ERROR, at.row + 1 + w->line_base, at.column + 1,
                                "syntax error: unexpected '%.*s%s'", (int)shown, t,
                                shown < length ? "..." : "");
}

/* Reports each ERROR and MISSING node once, without recursion. */
static void collect_errors(walker *w, TSNode root)
{
    if (!ts_node_has_error(root)) return;
    TSTreeCursor cursor = ts_tree_cursor_new(root);
    for (;;) {
        TSNode n = ts_tree_cursor_current_node(&cursor);
        bool error = ts_node_is_missing(n) || is(n, "ERROR");
        if (error) report_error_node(w, n);
        if (!error && ts_node_has_error(n) && ts_tree_cursor_goto_first_child(&cursor)) continue;
        while (!ts_tree_cursor_goto_next_sibling(&cursor)) {
            if (!ts_tree_cursor_goto_parent(&cursor)) {
                ts_tree_cursor_delete(&cursor);
                return;
            }
        }
    }
}

/* tree-sitter accepts a top-level statement indented deeper than the first
 * one; Python (after IPython strips the first line's indentation from every
 * line) does not. */
static void check_top_level_indent(walker *w, TSNode root)
{
    uint32_t base = UINT32_MAX;
    for (uint32_t i = 0; i < ts_node_named_child_count(root); i++) {
        TSNode n = ts_node_named_child(root, i);
        uint32_t start = ts_node_start_byte(n), column = ts_node_start_point(n).column;
        bool starts_line = true;
        for (uint32_t k = start - column; k < start; k++)
            starts_line &= w->src[k] == ' ' || w->src[k] == '\t';
        if (is(n, "comment") || !starts_line) continue;
        if (base == UINT32_MAX) base = column;
        else if (column != base) {
            TSPoint at = ts_node_start_point(n);
            nbr_analysis_add_diagnostic(w->a, NBR_DIAG_ERROR, at.row + 1 + w->line_base,
                                        at.column + 1, "syntax error: unexpected indent");
        }
    }
}

static void walk_module(walker *w, TSNode root)
{
    for (uint32_t i = 0; i < ts_node_named_child_count(root); i++)
        visit_statement(w, ts_node_named_child(root, i));
    collect_errors(w, root);
    check_top_level_indent(w, root);
}

/* ---- entry point ------------------------------------------------------------- */

nbr_status nbr_analyze_python(nbr_analysis *a, const char *source, size_t length)
{
    if (length > UINT32_MAX) return nbr_fail(NBR_EINVAL, "cell source is larger than 4 GiB");
    char *python = nbr_ipython_rewrite(source, length);
    TSParser *parser = ts_parser_new();
    if (!python || !parser || !ts_parser_set_language(parser, tree_sitter_python())) {
        free(python);
        if (parser) ts_parser_delete(parser);
        return nbr_fail_nomem("parsing a Python cell");
    }
    TSTree *tree = ts_parser_parse_string(parser, NULL, python, (uint32_t)length);
    if (!tree) {
        free(python);
        ts_parser_delete(parser);
        return nbr_fail_nomem("parsing a Python cell");
    }
    scope cell;
    scope_init(&cell, SCOPE_CELL, NULL);
    walker w = {.a = a, .parser = parser, .src = python, .scope = &cell, .cell = &cell};
    nbr_strset_init(&w.imported);
    walk_module(&w, ts_tree_root_node(tree));
    nbr_strset_clear(&w.imported);
    scope_clear(&cell);
    ts_tree_delete(tree);
    ts_parser_delete(parser);
    free(python);
    return NBR_OK;
}
