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
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <tree_sitter/api.h>

#include "analysis.h"
#include "flow.h"
#include "grammar.h"
#include "ipython.h"

const TSLanguage *tree_sitter_python(void);

/* Deeper syntax than this is not analysed (an error says so): it protects the
 * C stack from adversarial input, and no real cell comes near it. */
#define MAX_DEPTH 800
#define MAX_SHADOWED 32
#define MAX_LATER_NAMES 32

typedef enum scope_kind { SCOPE_CELL, SCOPE_FUNCTION, SCOPE_CLASS, SCOPE_COMPREHENSION } scope_kind;

typedef struct scope {
    scope_kind kind;
    struct scope *parent;
    nbr_strset locals;    /* function/comprehension: every name bound in it */
    nbr_strset globals;   /* declared `global` */
    nbr_strset nonlocals; /* declared `nonlocal` */
    nbr_flow flow;        /* cell/class: definitely bound so far; comprehension:
                             names its walruses bound so far */
    const char *class_name; /* class scope: its name, for private-name mangling */
    size_t class_name_length;
} scope;

/* A for loop's or a comprehension clause's target and iterable, while what
 * follows the target is walked: changing an item through the target changes
 * what the iterable holds (`for a in [u, v]: a += 1` changes u and v). */
typedef struct loop_frame {
    TSNode target, iterable;
    const struct loop_frame *outer;
} loop_frame;

typedef struct walker {
    nbr_analysis *a;
    TSParser *parser;
    const char *src;        /* the text the current tree's byte offsets index */
    uint32_t line_base;     /* added to rows: nonzero while walking magic code */
    scope *scope;
    scope *cell;
    nbr_definition *definition; /* top-level def/class being walked, or NULL */
    int deferred;               /* >0 inside a function or lambda body (runs later) */
    int deferred_lambdas;       /* how many of those are lambdas */
    nbr_flow *break_exits;      /* innermost loop: state at each break, or NULL */
    nbr_flow *continue_exits;   /* innermost loop: state at each continue, or NULL */
    TSNode with_target;         /* the as_pattern a with-item binds after its value */
    const loop_frame *loops;    /* the innermost loop whose target is bound, or NULL */
    /* Class names bound by the time nested function bodies can run. */
    const char *later[MAX_LATER_NAMES];
    size_t later_length[MAX_LATER_NAMES];
    int later_count;
    int depth;
    bool too_deep;
    uint32_t mutation_work; /* nodes walked to mark mutations (see mutate_root) */
    /* Targets of the comprehensions mutate_iterable is inside: their names
     * are the comprehension's own, not variables of the cell. */
    TSNode shadowed[MAX_SHADOWED];
    int shadowed_count;
    nbr_strset imported; /* names the cell binds by import (for setattr flags) */
} walker;

static void visit_statement(walker *w, TSNode n);
static void visit_expr(walker *w, TSNode n);
static void visit_block(walker *w, TSNode n);
static void collect_bindings(scope *s, const char *src, TSNode n, int depth);
static void collect_targets(scope *s, const char *src, TSNode t, int depth);

/* ---- node kinds and fields ------------------------------------------------ */

/* Node types and field names are looked up once per process and then compared
 * as numbers: comparing type strings at every node cost a third of the walk. */
typedef enum node_kind {
    K_OTHER = 0,
    K_ALIASED_IMPORT,
    K_ARGUMENT_LIST,
    K_AS_PATTERN,
    K_AS_PATTERN_TARGET,
    K_ASSIGNMENT,
    K_ATTRIBUTE,
    K_AUGMENTED_ASSIGNMENT,
    K_BLOCK,
    K_BOOLEAN_OPERATOR,
    K_BREAK_STATEMENT,
    K_CALL,
    K_CASE_CLAUSE,
    K_CASE_PATTERN,
    K_CLASS_DEFINITION,
    K_CLASS_PATTERN,
    K_COMMENT,
    K_CONDITIONAL_EXPRESSION,
    K_CONTINUE_STATEMENT,
    K_DECORATED_DEFINITION,
    K_DECORATOR,
    K_DEFAULT_PARAMETER,
    K_DELETE_STATEMENT,
    K_DICT_PATTERN,
    K_DICTIONARY,
    K_DICTIONARY_COMPREHENSION,
    K_DICTIONARY_SPLAT,
    K_DICTIONARY_SPLAT_PATTERN,
    K_DOTTED_NAME,
    K_ELIF_CLAUSE,
    K_ELSE_CLAUSE,
    K_EXCEPT_CLAUSE,
    K_EXCEPT_GROUP_CLAUSE,
    K_EXEC_STATEMENT,
    K_EXPRESSION_LIST,
    K_EXPRESSION_STATEMENT,
    K_FINALLY_CLAUSE,
    K_FOR_IN_CLAUSE,
    K_FOR_STATEMENT,
    K_FUNCTION_DEFINITION,
    K_FUTURE_IMPORT_STATEMENT,
    K_GENERATOR_EXPRESSION,
    K_GLOBAL_STATEMENT,
    K_IDENTIFIER,
    K_IF_CLAUSE,
    K_IF_STATEMENT,
    K_IMPORT_FROM_STATEMENT,
    K_IMPORT_STATEMENT,
    K_KEYWORD_ARGUMENT,
    K_KEYWORD_PATTERN,
    K_LAMBDA,
    K_LIST,
    K_LIST_COMPREHENSION,
    K_LIST_PATTERN,
    K_LIST_SPLAT,
    K_LIST_SPLAT_PATTERN,
    K_MATCH_STATEMENT,
    K_NAMED_EXPRESSION,
    K_NONLOCAL_STATEMENT,
    K_PARENTHESIZED_EXPRESSION,
    K_PASS_STATEMENT,
    K_PATTERN_LIST,
    K_RAISE_STATEMENT,
    K_RETURN_STATEMENT,
    K_SET,
    K_SET_COMPREHENSION,
    K_SPLAT_PATTERN,
    K_STRING,
    K_SUBSCRIPT,
    K_TRY_STATEMENT,
    K_TUPLE,
    K_TUPLE_PATTERN,
    K_TYPE_ALIAS_STATEMENT,
    K_TYPED_DEFAULT_PARAMETER,
    K_TYPED_PARAMETER,
    K_UNION_PATTERN,
    K_WHILE_STATEMENT,
    K_WILDCARD_IMPORT,
    K_WITH_CLAUSE,
    K_WITH_ITEM,
    K_WITH_STATEMENT,
    K_COMPARISON_OPERATOR,
    K_ASSERT_STATEMENT,
    K_BINARY_OPERATOR,
    K_INTEGER,
    K_FLOAT,
    K_COUNT
} node_kind;

static const char *const kind_names[K_COUNT] = {
    [K_COMPARISON_OPERATOR] = "comparison_operator",
    [K_ASSERT_STATEMENT] = "assert_statement",
    [K_BINARY_OPERATOR] = "binary_operator",
    [K_INTEGER] = "integer",
    [K_FLOAT] = "float",
    [K_ALIASED_IMPORT] = "aliased_import",
    [K_ARGUMENT_LIST] = "argument_list",
    [K_AS_PATTERN] = "as_pattern",
    [K_AS_PATTERN_TARGET] = "as_pattern_target",
    [K_ASSIGNMENT] = "assignment",
    [K_ATTRIBUTE] = "attribute",
    [K_AUGMENTED_ASSIGNMENT] = "augmented_assignment",
    [K_BLOCK] = "block",
    [K_BOOLEAN_OPERATOR] = "boolean_operator",
    [K_BREAK_STATEMENT] = "break_statement",
    [K_CALL] = "call",
    [K_CASE_CLAUSE] = "case_clause",
    [K_CASE_PATTERN] = "case_pattern",
    [K_CLASS_DEFINITION] = "class_definition",
    [K_CLASS_PATTERN] = "class_pattern",
    [K_COMMENT] = "comment",
    [K_CONDITIONAL_EXPRESSION] = "conditional_expression",
    [K_CONTINUE_STATEMENT] = "continue_statement",
    [K_DECORATED_DEFINITION] = "decorated_definition",
    [K_DECORATOR] = "decorator",
    [K_DEFAULT_PARAMETER] = "default_parameter",
    [K_DELETE_STATEMENT] = "delete_statement",
    [K_DICT_PATTERN] = "dict_pattern",
    [K_DICTIONARY] = "dictionary",
    [K_DICTIONARY_COMPREHENSION] = "dictionary_comprehension",
    [K_DICTIONARY_SPLAT] = "dictionary_splat",
    [K_DICTIONARY_SPLAT_PATTERN] = "dictionary_splat_pattern",
    [K_DOTTED_NAME] = "dotted_name",
    [K_ELIF_CLAUSE] = "elif_clause",
    [K_ELSE_CLAUSE] = "else_clause",
    [K_EXCEPT_CLAUSE] = "except_clause",
    [K_EXCEPT_GROUP_CLAUSE] = "except_group_clause",
    [K_EXEC_STATEMENT] = "exec_statement",
    [K_EXPRESSION_LIST] = "expression_list",
    [K_EXPRESSION_STATEMENT] = "expression_statement",
    [K_FINALLY_CLAUSE] = "finally_clause",
    [K_FOR_IN_CLAUSE] = "for_in_clause",
    [K_FOR_STATEMENT] = "for_statement",
    [K_FUNCTION_DEFINITION] = "function_definition",
    [K_FUTURE_IMPORT_STATEMENT] = "future_import_statement",
    [K_GENERATOR_EXPRESSION] = "generator_expression",
    [K_GLOBAL_STATEMENT] = "global_statement",
    [K_IDENTIFIER] = "identifier",
    [K_IF_CLAUSE] = "if_clause",
    [K_IF_STATEMENT] = "if_statement",
    [K_IMPORT_FROM_STATEMENT] = "import_from_statement",
    [K_IMPORT_STATEMENT] = "import_statement",
    [K_KEYWORD_ARGUMENT] = "keyword_argument",
    [K_KEYWORD_PATTERN] = "keyword_pattern",
    [K_LAMBDA] = "lambda",
    [K_LIST] = "list",
    [K_LIST_COMPREHENSION] = "list_comprehension",
    [K_LIST_PATTERN] = "list_pattern",
    [K_LIST_SPLAT] = "list_splat",
    [K_LIST_SPLAT_PATTERN] = "list_splat_pattern",
    [K_MATCH_STATEMENT] = "match_statement",
    [K_NAMED_EXPRESSION] = "named_expression",
    [K_NONLOCAL_STATEMENT] = "nonlocal_statement",
    [K_PARENTHESIZED_EXPRESSION] = "parenthesized_expression",
    [K_PASS_STATEMENT] = "pass_statement",
    [K_PATTERN_LIST] = "pattern_list",
    [K_RAISE_STATEMENT] = "raise_statement",
    [K_RETURN_STATEMENT] = "return_statement",
    [K_SET] = "set",
    [K_SET_COMPREHENSION] = "set_comprehension",
    [K_SPLAT_PATTERN] = "splat_pattern",
    [K_STRING] = "string",
    [K_SUBSCRIPT] = "subscript",
    [K_TRY_STATEMENT] = "try_statement",
    [K_TUPLE] = "tuple",
    [K_TUPLE_PATTERN] = "tuple_pattern",
    [K_TYPE_ALIAS_STATEMENT] = "type_alias_statement",
    [K_TYPED_DEFAULT_PARAMETER] = "typed_default_parameter",
    [K_TYPED_PARAMETER] = "typed_parameter",
    [K_UNION_PATTERN] = "union_pattern",
    [K_WHILE_STATEMENT] = "while_statement",
    [K_WILDCARD_IMPORT] = "wildcard_import",
    [K_WITH_CLAUSE] = "with_clause",
    [K_WITH_ITEM] = "with_item",
    [K_WITH_STATEMENT] = "with_statement"};

typedef enum field_name {
    F_OPERATOR,
    F_ALIAS,
    F_ALTERNATIVE,
    F_ARGUMENTS,
    F_ATTRIBUTE,
    F_BODY,
    F_CONDITION,
    F_CONSEQUENCE,
    F_DEFINITION,
    F_FUNCTION,
    F_GUARD,
    F_LEFT,
    F_MODULE_NAME,
    F_NAME,
    F_OBJECT,
    F_PARAMETERS,
    F_RETURN_TYPE,
    F_RIGHT,
    F_SUPERCLASSES,
    F_TYPE,
    F_VALUE,
    F_COUNT
} field_name;

static const char *const field_names[F_COUNT] = {
    [F_OPERATOR] = "operator",
    [F_ALIAS] = "alias",
    [F_ALTERNATIVE] = "alternative",
    [F_ARGUMENTS] = "arguments",
    [F_ATTRIBUTE] = "attribute",
    [F_BODY] = "body",
    [F_CONDITION] = "condition",
    [F_CONSEQUENCE] = "consequence",
    [F_DEFINITION] = "definition",
    [F_FUNCTION] = "function",
    [F_GUARD] = "guard",
    [F_LEFT] = "left",
    [F_MODULE_NAME] = "module_name",
    [F_NAME] = "name",
    [F_OBJECT] = "object",
    [F_PARAMETERS] = "parameters",
    [F_RETURN_TYPE] = "return_type",
    [F_RIGHT] = "right",
    [F_SUPERCLASSES] = "superclasses",
    [F_TYPE] = "type",
    [F_VALUE] = "value"};

static nbr_grammar python_grammar;
/* Visited as a statement inside ERROR recovery: *_statement, *_definition, block. */
static bool python_statement_like[NBR_GRAMMAR_MAX_SYMBOLS];
static pthread_once_t python_grammar_once = PTHREAD_ONCE_INIT;

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

static void load_python_grammar(void)
{
    const TSLanguage *language = tree_sitter_python();
    nbr_grammar_load(&python_grammar, language, kind_names, K_COUNT, field_names, F_COUNT);
    uint32_t count = ts_language_symbol_count(language);
    for (uint32_t symbol = 0; symbol < count && symbol < NBR_GRAMMAR_MAX_SYMBOLS; symbol++) {
        const char *name = ts_language_symbol_name(language, (TSSymbol)symbol);
        python_statement_like[symbol] = name && (ends_with(name, "_statement") ||
                                                 !strcmp(name, "block") ||
                                                 ends_with(name, "_definition"));
    }
}

static node_kind kind(TSNode n) { return (node_kind)nbr_grammar_kind(&python_grammar, n); }

static bool statement_like(TSNode n)
{
    TSSymbol symbol = ts_node_symbol(n);
    return symbol < NBR_GRAMMAR_MAX_SYMBOLS && python_statement_like[symbol];
}

static bool is_error_node(TSNode n) { return !strcmp(ts_node_type(n), "ERROR"); }

static TSNode field(TSNode n, field_name name)
{
    return ts_node_child_by_field_id(n, python_grammar.field[name]);
}

/* ---- small helpers ----------------------------------------------------- */

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
        /* A name the class body binds somewhere is read with LOAD_NAME, which
         * skips enclosing functions and falls back to the globals. */
        if (nbr_strset_find_n(&s->locals, name, length) >= 0) return RESOLVES_GLOBAL;
        s = s->parent;
    }
    for (; s->kind != SCOPE_CELL; s = s->parent) {
        if (s->kind == SCOPE_CLASS) {
            /* Methods see their class through the implicit __class__ cell. */
            if (length == 9 && !memcmp(name, "__class__", 9)) return RESOLVES_LOCAL;
            continue;
        }
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

/* Inside a class, `__x` means `_Class__x` (CPython's private-name mangling);
 * the globals see the mangled name.  Returns the name to report. */
static const char *mangled(const walker *w, const char *name, size_t *length, char *buffer,
                           size_t size)
{
    if (*length < 3 || name[0] != '_' || name[1] != '_' ||
        (name[*length - 1] == '_' && name[*length - 2] == '_'))
        return name;
    const scope *s = w->scope;
    while (s && s->kind != SCOPE_CLASS) s = s->parent;
    if (!s) return name;
    const char *cls = s->class_name;
    size_t cls_length = s->class_name_length;
    while (cls_length && *cls == '_') { cls++; cls_length--; }
    if (!cls_length || cls_length + *length + 2 > size) return name;
    buffer[0] = '_';
    memcpy(buffer + 1, cls, cls_length);
    memcpy(buffer + 1 + cls_length, name, *length);
    *length += cls_length + 1;
    return buffer;
}

/* A walrus in a comprehension binds a global, and a later read of it in the
 * same iteration reads that fresh binding, not an input of the cell. */
static bool bound_in_comprehension(const walker *w, const char *name, size_t length)
{
    for (const scope *s = w->scope; s->kind == SCOPE_COMPREHENSION; s = s->parent)
        if (nbr_flow_has(&s->flow, name, length)) return true;
    return false;
}

static void record_read(walker *w, const char *name, size_t length)
{
    /* IPython's accessor is the translation of % and ! syntax, not data. */
    if (length == 11 && !memcmp(name, "get_ipython", 11)) return;
    if (resolve(w, name, length) != RESOLVES_GLOBAL || bound_in_comprehension(w, name, length))
        return;
    char buffer[256];
    name = mangled(w, name, &length, buffer, sizeof buffer);
    if (!nbr_flow_has(&w->cell->flow, name, length) && !bound_later(w, name, length))
        nbr_analysis_add_name(w->a, NBR_NAMES_USES, name, length);
    if (w->definition) nbr_definition_add_access(w->a, w->definition, NBR_ACCESS_READS, name, length);
}

static void record_global_write(walker *w, const char *name, size_t length)
{
    char buffer[256];
    name = mangled(w, name, &length, buffer, sizeof buffer);
    if (w->definition)
        nbr_definition_add_access(w->a, w->definition, NBR_ACCESS_WRITES, name, length);
}

static void flow_bind(walker *w, nbr_flow *flow, const char *name, size_t length)
{
    if (!nbr_flow_bind(flow, name, length)) w->a->out_of_memory = true;
}

static void record_bind(walker *w, const char *name, size_t length)
{
    scope *s = w->scope;
    if (s->kind == SCOPE_CELL) {
        nbr_analysis_add_name(w->a, NBR_NAMES_DEFS, name, length);
        flow_bind(w, &s->flow, name, length);
    } else if (nbr_strset_find_n(&s->globals, name, length) >= 0) {
        record_global_write(w, name, length);
        if (s->kind == SCOPE_CLASS && s->parent == w->cell) { /* runs now, at top level */
            nbr_analysis_add_name(w->a, NBR_NAMES_DEFS, name, length);
            flow_bind(w, &w->cell->flow, name, length);
        }
    } else if (s->kind == SCOPE_CLASS) {
        flow_bind(w, &s->flow, name, length);
    }
}

/* A walrus binds in the nearest scope that is not a comprehension. */
static void record_walrus(walker *w, const char *name, size_t length)
{
    scope *s = w->scope;
    for (; s->kind == SCOPE_COMPREHENSION; s = s->parent)
        flow_bind(w, &s->flow, name, length);
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
    scope *s = w->scope;
    if (s->kind != SCOPE_CLASS) record_read(w, name, length); /* DELETE_NAME reads no global */
    if (s->kind == SCOPE_CELL) nbr_analysis_add_name(w->a, NBR_NAMES_DELETES, name, length);
    if (has_flow(s)) nbr_flow_unbind(&s->flow, name, length);
    else if (nbr_strset_find_n(&s->globals, name, length) >= 0)
        record_global_write(w, name, length);
}

static void mutate_at(walker *w, const char *name, size_t length, const loop_frame *loops);

/* Whether a target binds `name` (anywhere in a tuple/list pattern). */
static bool target_binds(const walker *w, TSNode t, const char *name, size_t length)
{
    if (kind(t) == K_IDENTIFIER) {
        size_t n;
        const char *s = text(w, t, &n);
        return n == length && memcmp(s, name, n) == 0;
    }
    for (uint32_t i = 0; i < ts_node_named_child_count(t); i++)
        if (target_binds(w, ts_node_named_child(t, i), name, length)) return true;
    return false;
}

/* Every variable an iterable reads may hold the items a loop changed; the
 * attribute names of `d.values()`, keyword names and a called function's own
 * name (`zip`, `enumerate`) are not containers of them. */
static bool mutation_work(walker *w, TSNode n);

static bool is_comprehension(TSNode n)
{
    return (kind(n) == K_LIST_COMPREHENSION) || (kind(n) == K_SET_COMPREHENSION) ||
           (kind(n) == K_DICTIONARY_COMPREHENSION) || (kind(n) == K_GENERATOR_EXPRESSION);
}

static bool is_shadowed(const walker *w, const char *name, size_t length)
{
    for (int i = 0; i < w->shadowed_count; i++)
        if (target_binds(w, w->shadowed[i], name, length)) return true;
    return false;
}

static void mutate_iterable(walker *w, TSNode n, const loop_frame *loops);

/* A comprehension's parts other than its targets, each with the targets
 * bound before it shadowed: a clause's iterable sees the earlier clauses'
 * targets (the first one only the cell's names), the element and conditions
 * all of them.  (Past MAX_SHADOWED nested targets the names count as the
 * cell's: more, never fewer.) */
static void mutate_comprehension(walker *w, TSNode n, const loop_frame *loops)
{
    int saved = w->shadowed_count;
    for (uint32_t i = 0; i < ts_node_named_child_count(n); i++) {
        TSNode clause = ts_node_named_child(n, i);
        if (!(kind(clause) == K_FOR_IN_CLAUSE)) continue;
        mutate_iterable(w, field(clause, F_RIGHT), loops);
        if (w->shadowed_count < MAX_SHADOWED) w->shadowed[w->shadowed_count++] = field(clause, F_LEFT);
    }
    for (uint32_t i = 0; i < ts_node_named_child_count(n); i++) {
        TSNode child = ts_node_named_child(n, i);
        if (!(kind(child) == K_FOR_IN_CLAUSE)) mutate_iterable(w, child, loops);
    }
    w->shadowed_count = saved;
}

static void mutate_iterable(walker *w, TSNode n, const loop_frame *loops)
{
    if (ts_node_is_null(n) || !mutation_work(w, n) || !enter(w)) return;
    if (kind(n) == K_IDENTIFIER) {
        size_t length;
        const char *name = text(w, n, &length);
        if (!is_shadowed(w, name, length)) mutate_at(w, name, length, loops);
    } else if (is_comprehension(n)) {
        mutate_comprehension(w, n, loops);
    } else {
        for (uint32_t i = 0; i < ts_node_named_child_count(n); i++) {
            TSNode child = ts_node_named_child(n, i);
            if (kind(n) == K_ATTRIBUTE && ts_node_eq(child, field(n, F_ATTRIBUTE))) continue;
            if (kind(n) == K_KEYWORD_ARGUMENT && ts_node_eq(child, field(n, F_NAME))) continue;
            if (kind(n) == K_CALL && kind(child) == K_IDENTIFIER &&
                ts_node_eq(child, field(n, F_FUNCTION)))
                continue;
            mutate_iterable(w, child, loops);
        }
    }
    leave(w);
}

/* `name` may be changed in place; through `loops`, so may the iterables
 * whose items a loop target named `name` is bound to. */
static void mutate_at(walker *w, const char *name, size_t length, const loop_frame *loops)
{
    for (const loop_frame *f = loops; f; f = f->outer) {
        if (target_binds(w, f->target, name, length)) {
            mutate_iterable(w, f->iterable, f->outer);
            break;
        }
    }
    if (resolve(w, name, length) != RESOLVES_GLOBAL) return;
    /* A lambda outside any def is most often called in the cell that wrote
     * it (`sorted(xs, key=lambda x: seen.append(x))`, a thread's target):
     * what its body changes counts as the cell's. */
    if (w->deferred == w->deferred_lambdas)
        nbr_analysis_add_name(w->a, NBR_NAMES_MAY_MUTATE, name, length);
    record_global_write(w, name, length);
}

static void record_mutation(walker *w, const char *name, size_t length)
{
    mutate_at(w, name, length, w->loops);
}

/* Marks the variable that changing `n` in place changes (defined below,
 * with the calls it sees through). */
static void mutate_root(walker *w, TSNode n);

/* ---- targets -------------------------------------------------------------- */

static bool is_target_group(TSNode n)
{
    return (kind(n) == K_PATTERN_LIST) || (kind(n) == K_TUPLE_PATTERN) || (kind(n) == K_LIST_PATTERN) ||
           (kind(n) == K_TUPLE) || (kind(n) == K_LIST) || (kind(n) == K_PARENTHESIZED_EXPRESSION) ||
           (kind(n) == K_EXPRESSION_LIST) || (kind(n) == K_LIST_SPLAT_PATTERN) || (kind(n) == K_LIST_SPLAT) ||
           (kind(n) == K_AS_PATTERN_TARGET) || (kind(n) == K_DICTIONARY_SPLAT_PATTERN);
}

/* Binds an assignment/for/with target.  Attribute and subscript targets bind
 * nothing: they read their object and change it in place. */
static void bind_target(walker *w, TSNode t)
{
    if (ts_node_is_missing(t) || !enter(w)) return;
    size_t length;
    if ((kind(t) == K_IDENTIFIER)) {
        const char *name = text(w, t, &length);
        record_bind(w, name, length);
    } else if (is_target_group(t)) {
        for (uint32_t i = 0; i < ts_node_named_child_count(t); i++)
            bind_target(w, ts_node_named_child(t, i));
    } else if ((kind(t) == K_ATTRIBUTE) || (kind(t) == K_SUBSCRIPT)) {
        for (uint32_t i = 0; i < ts_node_named_child_count(t); i++) {
            TSNode part = ts_node_named_child(t, i);
            if (!((kind(t) == K_ATTRIBUTE) && ts_node_eq(part, field(t, F_ATTRIBUTE)))) visit_expr(w, part);
        }
        mutate_root(w, t);
    } else if (!(kind(t) == K_COMMENT)) {
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

/* numpy lets a caller name an output array, which the call writes: `out=`
 * always, and positionally after the inputs (np.sqrt(a, b) writes b;
 * np.sum(a, axis, dtype, out) writes its fourth).  Functions are grouped by
 * how many leading positional arguments are only read; every later one is
 * treated as an output.  The reductions read two (the array and the axis,
 * or q for percentile); numpy 2's fft functions take out= fifth. */
static const char *const pure_reading_one[] = {
    "abs", "absolute", "sqrt", "exp", "log", "log2", "log10", "floor", "ceil", "isnan",
    "isfinite", "isinf", "sign", "square", "negative", "sin", "cos", "tan", NULL};

static const char *const pure_reading_two[] = {
    "sum", "mean", "std", "var", "min", "max", "amin", "amax", "argmin", "argmax", "median",
    "percentile", "quantile", "prod", "nansum", "nanmean", "nanstd", "nanmin", "nanmax", "any",
    "all", "cumsum", "cumprod", "round", "around", "hypot", "minimum", "maximum", "add",
    "subtract", "multiply", "divide", "power", "arctan2", "matmul", "dot", "outer", "stack",
    "concatenate", "fft", "ifft", "rfft", "irfft", "fft2", "ifft2", "rfft2", "irfft2", "fftn",
    "ifftn", "rfftn", "irfftn", NULL};

/* Functions of np, np.fft, np.linalg and math with no output argument
 * (numpy 1.24 to 2.x). */
static const char *const pure_reading_all[] = {
    "shape", "size", "ndim", "allclose", "array_equal", "isclose", "count_nonzero", "gradient",
    "corrcoef", "cov", "bincount", "histogram", "unique", "sort", "argsort", "diff", "where",
    "nonzero", "argwhere", "copy", "array", "asarray", "ravel", "reshape", "transpose",
    "zeros_like", "ones_like", "empty_like", "full_like", "meshgrid", "fftfreq", "rfftfreq",
    "fftshift", "ifftshift", "norm", "det", "inv", "pinv", "solve", "eig", "eigh",
    "eigvals", "eigvalsh", "svd", "qr", "cholesky", "lstsq", "matrix_rank", "cond", NULL};

static const char *const pure_modules[] = {"np",          "numpy",       "math",
                                           "np.fft",      "numpy.fft",   "np.linalg",
                                           "numpy.linalg", NULL};

/* Methods that leave their receiver unchanged (they return new objects or
 * views); a view changed later is the audit's concern (shared memory). */
static const char *const pure_methods[] = {
    "copy", "keys", "values", "items", "get", "count", "index", "startswith", "endswith",
    "format", "describe", "head", "tail", "sum", "mean", "std", "var", "min", "max", "ravel",
    "flatten", "reshape", "astype", "tolist", "item", "round", "any", "all", "prod", "argmin",
    "argmax", "to_numpy", "to_string", NULL};

#define READS_ALL ((uint32_t)-1)

/* The call is judged by the name it goes through: the analysis assumes
 * that name is the builtin or module it usually is, and says so.  A name
 * of the function's own (`lambda sum: sum(a, 0, None, b)`) is no such
 * thing. */
static uint32_t assume(walker *w, const char *name, size_t length, uint32_t reads)
{
    if (!reads || resolve(w, name, length) != RESOLVES_GLOBAL) return 0;
    nbr_analysis_add_name(w->a, NBR_NAMES_ASSUMED, name, length);
    return reads;
}

/* How many leading positional arguments a call to `fn` only reads (0: it
 * may change any of them).  A pure callee reads all its keyword arguments
 * except `out`. */
static uint32_t pure_positionals(walker *w, TSNode fn)
{
    size_t length, module_length;
    if ((kind(fn) == K_IDENTIFIER)) {
        const char *name = text(w, fn, &length);
        return assume(w, name, length, in_list(name, length, pure_builtins) ? READS_ALL : 0);
    }
    if (!(kind(fn) == K_ATTRIBUTE)) return 0;
    TSNode object = field(fn, F_OBJECT);
    if (!(kind(object) == K_IDENTIFIER || kind(object) == K_ATTRIBUTE)) return 0;
    const char *module = text(w, object, &module_length);
    const char *name = text(w, field(fn, F_ATTRIBUTE), &length);
    if (!in_list(module, module_length, pure_modules)) return 0;
    uint32_t reads = in_list(name, length, pure_reading_all)   ? READS_ALL
                     : in_list(name, length, pure_reading_two) ? 2
                     : in_list(name, length, pure_reading_one) ? 1
                                                               : 0;
    const char *dot = memchr(module, '.', module_length);
    return assume(w, module, dot ? (size_t)(dot - module) : module_length, reads);
}

static bool is_pure_method(const walker *w, TSNode fn)
{
    size_t length;
    const char *method = text(w, field(fn, F_ATTRIBUTE), &length);
    return in_list(method, length, pure_methods);
}

/* A call's function, out of any parentheses: `(u.reshape)()` calls u.reshape. */
static TSNode callee(TSNode call)
{
    TSNode fn = field(call, F_FUNCTION);
    while (!ts_node_is_null(fn) && (kind(fn) == K_PARENTHESIZED_EXPRESSION) &&
           ts_node_named_child_count(fn) == 1)
        fn = ts_node_named_child(fn, 0);
    return fn;
}

/* The expression an argument passes: `key=v` -> v, `*xs` -> xs, `**kw` -> kw. */
static TSNode argument_value(TSNode arg)
{
    if ((kind(arg) == K_KEYWORD_ARGUMENT)) return field(arg, F_VALUE);
    if (((kind(arg) == K_LIST_SPLAT) || (kind(arg) == K_DICTIONARY_SPLAT)) &&
        ts_node_named_child_count(arg) == 1)
        return ts_node_named_child(arg, 0);
    return arg;
}

/* Every argument of a call; a bare generator argument (`f(x for x in xs)`)
 * as it is. */
static void mutate_arguments(walker *w, TSNode args)
{
    if (!(kind(args) == K_ARGUMENT_LIST)) {
        mutate_root(w, args);
        return;
    }
    for (uint32_t i = 0; i < ts_node_named_child_count(args); i++) {
        TSNode arg = argument_value(ts_node_named_child(args, i));
        if (!ts_node_is_null(arg)) mutate_root(w, arg);
    }
}

static bool is_scalar_literal(TSNode n)
{
    node_kind k = kind(n);
    return k == K_INTEGER || k == K_FLOAT || k == K_STRING;
}

/* `a + b`, `a * 2`, `d | e`: on lists, tuples, dicts and sets the result
 * holds the operands' own elements.  With a number or string on either side
 * it cannot (`x + 1`), except a repetition's integer (`a * 2`). */
static bool shares_operand_elements(TSNode n)
{
    TSNode operator = field(n, F_OPERATOR);
    if (ts_node_is_null(operator)) return false;
    const char *op = ts_node_type(operator);
    TSNode left = field(n, F_LEFT), right = field(n, F_RIGHT);
    if (!strcmp(op, "*"))
        return kind(left) != K_FLOAT && kind(right) != K_FLOAT && kind(left) != K_STRING &&
               kind(right) != K_STRING;
    if (strcmp(op, "+") && strcmp(op, "|")) return false;
    return !is_scalar_literal(left) && !is_scalar_literal(right);
}

/* Expressions whose value may be one of the objects they read, or hold
 * them: literals (`f([a, b])`, `out=(b,)`), comprehensions and generators
 * (`f(r for r in rows)`), `a if c else b`, `a or b`, `(t := a)`, and
 * concatenations (`f(a + b)`). */
static bool yields_what_it_reads(TSNode n)
{
    switch (kind(n)) {
    case K_BINARY_OPERATOR:
        return shares_operand_elements(n);
    case K_TUPLE: case K_LIST: case K_SET: case K_DICTIONARY: case K_EXPRESSION_LIST:
    case K_PARENTHESIZED_EXPRESSION: case K_LIST_COMPREHENSION: case K_SET_COMPREHENSION:
    case K_DICTIONARY_COMPREHENSION: case K_GENERATOR_EXPRESSION:
    case K_CONDITIONAL_EXPRESSION: case K_BOOLEAN_OPERATOR: case K_NAMED_EXPRESSION:
        return true;
    default:
        return false;
    }
}

/* Past this many nodes walked for one cell (a crafted cell of deeply nested
 * calls makes the walk quadratic), the cell is flagged instead: the audit
 * then examines every name, which is always correct. */
#define MUTATION_WORK_LIMIT 2000000u

static bool mutation_work(walker *w, TSNode n)
{
    if (++w->mutation_work <= MUTATION_WORK_LIMIT) return true;
    if (w->mutation_work == MUTATION_WORK_LIMIT + 1)
        add_flag(w, n, "%.*s: too many nested calls to follow what they change", "cell", 4);
    return false;
}

/* The chain of attributes and subscripts leads to the variable (`a.b[0].c`
 * -> a).  A call known to leave its receiver or arguments unchanged does not
 * end the chain: what it returns may be part of them (`d.get(k).append(1)`,
 * `u.reshape(-1)[:5] = 0`, `sorted(xs)[0].x = 1`).  Any other call has marked
 * what it received already.  An expression that may yield what it reads
 * (yields_what_it_reads) marks every variable it reads. */
static void mutate_root(walker *w, TSNode n)
{
    if (!enter(w)) return;
    while (!ts_node_is_null(n) && mutation_work(w, n)) {
        if ((kind(n) == K_IDENTIFIER)) {
            size_t length;
            const char *name = text(w, n, &length);
            record_mutation(w, name, length);
            break;
        }
        if ((kind(n) == K_ATTRIBUTE)) n = field(n, F_OBJECT);
        else if ((kind(n) == K_SUBSCRIPT)) n = field(n, F_VALUE);
        else if ((kind(n) == K_PARENTHESIZED_EXPRESSION) && ts_node_named_child_count(n) == 1)
            n = ts_node_named_child(n, 0);
        else if ((kind(n) == K_CALL)) {
            TSNode fn = callee(n);
            if (ts_node_is_null(fn)) break;
            if (pure_positionals(w, fn)) {
                mutate_arguments(w, field(n, F_ARGUMENTS));
                break;
            }
            if (!((kind(fn) == K_ATTRIBUTE) && is_pure_method(w, fn))) break;
            n = field(fn, F_OBJECT);
        } else {
            if (yields_what_it_reads(n)) mutate_iterable(w, n, w->loops);
            break;
        }
    }
    leave(w);
}

static bool is_module_target(const walker *w, TSNode target)
{
    if ((kind(target) == K_SUBSCRIPT)) return text_is(w, field(target, F_VALUE), "sys.modules");
    size_t length;
    const char *name = text(w, target, &length);
    return (kind(target) == K_IDENTIFIER) && nbr_strset_find_n(&w->imported, name, length) >= 0;
}

/* The shell's methods that run a string or a file as code in the user's
 * namespace, other than the magics visit_magic_call reads
 * (`get_ipython().ex('x.append(1)')`). */
static bool runs_shell_code(const walker *w, TSNode fn)
{
    static const char *const methods[] = {"ex",
                                          "ev",
                                          "magic",
                                          "run_cell",
                                          "run_cell_async",
                                          "run_code",
                                          "run_ast_nodes",
                                          "safe_execfile",
                                          "safe_execfile_ipy",
                                          "safe_run_module",
                                          NULL};
    if (!(kind(fn) == K_ATTRIBUTE) || !text_is(w, field(fn, F_OBJECT), "get_ipython()"))
        return false;
    size_t length;
    const char *name = text(w, field(fn, F_ATTRIBUTE), &length);
    return in_list(name, length, methods);
}

static void flag_dynamic_call(walker *w, TSNode call, TSNode fn, TSNode args)
{
    static const char *const run_code[] = {"exec", "eval", "__import__", NULL};
    static const char *const namespaces[] = {"globals", "locals", "vars", NULL};
    static const char *const set_attributes[] = {"setattr", "delattr", NULL};
    size_t length;
    bool no_args = ts_node_named_child_count(args) == 0;
    if ((kind(fn) == K_ATTRIBUTE) && text_is(w, fn, "importlib.import_module")) {
        add_flag(w, call, "%.*s() imports a module chosen at run time", "importlib.import_module",
                 23);
        return;
    }
    if (runs_shell_code(w, fn)) {
        const char *method = text(w, field(fn, F_ATTRIBUTE), &length);
        add_flag(w, call, "get_ipython().%.*s() runs code the analysis cannot see", method,
                 length);
        return;
    }
    if (!(kind(fn) == K_IDENTIFIER)) return;
    const char *name = text(w, fn, &length);
    if (in_list(name, length, run_code))
        add_flag(w, call, "%.*s() runs code the analysis cannot see", name, length);
    else if (in_list(name, length, namespaces) && no_args)
        add_flag(w, call, "%.*s() exposes the namespace to changes the analysis cannot see", name,
                 length);
    else if (text_is(w, fn, "dir") && no_args)
        add_flag(w, call, "%.*s() reads every name", name, length);
    else if (in_list(name, length, set_attributes) && !no_args &&
             is_module_target(w, ts_node_named_child(args, 0)))
        add_flag(w, call, "%.*s() on a module changes globals the analysis cannot see", name,
                 length);
}

/* Keywords naming what a pure callee writes: numpy's `out=`, print's
 * `file=` (a StringIO is state like any other). */
static bool is_output_keyword(const walker *w, TSNode name)
{
    return text_is(w, name, "out") || text_is(w, name, "file");
}

/* np.median and friends sort their input in place when told
 * `overwrite_input` (a keyword, or a positional past the two they read). */
static bool may_overwrite_input(const walker *w, TSNode fn, TSNode args)
{
    static const char *const overwriting[] = {"median",    "percentile",    "quantile",
                                              "nanmedian", "nanpercentile", "nanquantile",
                                              NULL};
    size_t length;
    if (!(kind(fn) == K_ATTRIBUTE)) return false;
    const char *name = text(w, field(fn, F_ATTRIBUTE), &length);
    if (!in_list(name, length, overwriting) || !(kind(args) == K_ARGUMENT_LIST)) return false;
    uint32_t positionals = 0;
    for (uint32_t i = 0; i < ts_node_named_child_count(args); i++) {
        TSNode arg = ts_node_named_child(args, i);
        if ((kind(arg) == K_KEYWORD_ARGUMENT)) {
            if (text_is(w, field(arg, F_NAME), "overwrite_input")) return true;
        } else if ((kind(arg) == K_LIST_SPLAT) || (kind(arg) == K_DICTIONARY_SPLAT)) {
            return true;
        } else if (!(kind(arg) == K_COMMENT) && ++positionals > 2) {
            return true;
        }
    }
    return false;
}

/* get_ipython().run_line_magic('time', 'x = f(y)') and run_cell_magic: the
 * translation of %time and %%time.  Returns true if the call was one. */
static bool visit_magic_call(walker *w, TSNode fn, TSNode args);

/* Calling what a subscript or call gave (`ops['k'](1)`, `getattr(o, 'add')(2)`)
 * may change the object it came from, as a method call changes its
 * receiver; calling a loop's target (`for f in [a.add]: f(1)`) may change
 * what the loop went over. */
static void mutate_callee(walker *w, TSNode fn)
{
    if ((kind(fn) == K_SUBSCRIPT) || (kind(fn) == K_CALL)) {
        mutate_root(w, fn);
    } else if ((kind(fn) == K_IDENTIFIER)) {
        size_t length;
        const char *name = text(w, fn, &length);
        for (const loop_frame *f = w->loops; f; f = f->outer)
            if (target_binds(w, f->target, name, length)) {
                mutate_at(w, name, length, w->loops);
                break;
            }
    }
}

static void visit_call(walker *w, TSNode call)
{
    TSNode fn = callee(call), args = field(call, F_ARGUMENTS);
    if (ts_node_is_null(fn) || ts_node_is_null(args)) {
        for (uint32_t i = 0; i < ts_node_named_child_count(call); i++)
            visit_expr(w, ts_node_named_child(call, i));
        return;
    }
    if (visit_magic_call(w, fn, args)) return;
    flag_dynamic_call(w, call, fn, args);
    visit_expr(w, fn);
    mutate_callee(w, fn);
    uint32_t reads = pure_positionals(w, fn), position = 0;
    if (reads && may_overwrite_input(w, fn, args)) reads = 0;
    if ((kind(fn) == K_ATTRIBUTE) && !reads && !is_pure_method(w, fn))
        mutate_root(w, field(fn, F_OBJECT));
    if (!(kind(args) == K_ARGUMENT_LIST)) { /* f(x for x in xs) */
        visit_expr(w, args);
        if (reads != READS_ALL) mutate_root(w, args);
        return;
    }
    for (uint32_t i = 0; i < ts_node_named_child_count(args); i++) {
        TSNode arg = ts_node_named_child(args, i);
        if ((kind(arg) == K_COMMENT)) continue;
        bool read_only;
        if ((kind(arg) == K_KEYWORD_ARGUMENT)) {
            read_only = reads && !is_output_keyword(w, field(arg, F_NAME));
        } else if ((kind(arg) == K_LIST_SPLAT) || (kind(arg) == K_DICTIONARY_SPLAT)) {
            /* *xs may reach an output's position, **kw may hold out= */
            read_only = reads == READS_ALL;
            position = READS_ALL;
        } else {
            read_only = reads == READS_ALL || position < reads;
            if (position != READS_ALL) position++;
        }
        arg = argument_value(arg);
        if (ts_node_is_null(arg)) continue;
        visit_expr(w, arg);
        if (!read_only) mutate_root(w, arg);
    }
}

/* ---- nested scopes -------------------------------------------------------- */

/* Loops inside a nested body are that body's own: break and continue there
 * never reach a loop of the enclosing scope. */
typedef struct loop_exits {
    nbr_flow *break_exits, *continue_exits;
} loop_exits;

static loop_exits hide_loop_exits(walker *w)
{
    loop_exits saved = {w->break_exits, w->continue_exits};
    w->break_exits = w->continue_exits = NULL;
    return saved;
}

static void restore_loop_exits(walker *w, loop_exits saved)
{
    w->break_exits = saved.break_exits;
    w->continue_exits = saved.continue_exits;
}

/* Walks `body` as the body of a new function-like scope whose locals were
 * collected beforehand. */
static void walk_function_scope(walker *w, scope *fs, TSNode body, bool is_block)
{
    scope *outer = w->scope;
    loop_exits exits = hide_loop_exits(w);
    w->scope = fs;
    w->deferred++;
    if (is_block) visit_block(w, body);
    else visit_expr(w, body);
    w->deferred--;
    w->scope = outer;
    restore_loop_exits(w, exits);
}

/* Default values and annotations run at the def, in the enclosing scope;
 * parameter names become the function's locals. */
static void visit_parameters(walker *w, TSNode params, scope *fs)
{
    if (ts_node_is_null(params)) return;
    for (uint32_t i = 0; i < ts_node_named_child_count(params); i++) {
        TSNode p = ts_node_named_child(params, i);
        TSNode name = p, value = field(p, F_VALUE), type = field(p, F_TYPE);
        if (!ts_node_is_null(type)) visit_expr(w, type);
        if (!ts_node_is_null(value)) visit_expr(w, value);
        if ((kind(p) == K_DEFAULT_PARAMETER) || (kind(p) == K_TYPED_DEFAULT_PARAMETER)) name = field(p, F_NAME);
        else if ((kind(p) == K_TYPED_PARAMETER)) name = ts_node_named_child(p, 0);
        collect_targets(fs, w->src, name, 0);
    }
}

/* Whether an expression calls anything (a lambda body that calls nothing
 * changes nothing through its parameters). */
static bool contains_call(TSNode n, int depth)
{
    if (ts_node_is_null(n) || kind(n) == K_CALL || depth > MAX_DEPTH) return !ts_node_is_null(n);
    for (uint32_t i = 0; i < ts_node_named_child_count(n); i++)
        if (contains_call(ts_node_named_child(n, i), depth + 1)) return true;
    return false;
}

/* A lambda's defaults (`lambda acc=log: acc.append(1)`, `acc=(a, b)`): a
 * body that calls something may change them through its parameters. */
static void mutate_lambda_defaults(walker *w, TSNode params, TSNode body)
{
    if (ts_node_is_null(params) || w->deferred != w->deferred_lambdas) return;
    if (!contains_call(body, 0)) return;
    for (uint32_t i = 0; i < ts_node_named_child_count(params); i++) {
        TSNode value = field(ts_node_named_child(params, i), F_VALUE);
        if (!ts_node_is_null(value)) mutate_root(w, value);
    }
}

static void visit_lambda(walker *w, TSNode n)
{
    scope fs;
    scope_init(&fs, SCOPE_FUNCTION, w->scope);
    TSNode params = field(n, F_PARAMETERS), body = field(n, F_BODY);
    visit_parameters(w, params, &fs);
    mutate_lambda_defaults(w, params, body);
    if (!ts_node_is_null(body)) {
        collect_bindings(&fs, w->src, body, 0);
        w->deferred_lambdas++;
        walk_function_scope(w, &fs, body, false);
        w->deferred_lambdas--;
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
    TSNode name = field(n, F_NAME), body = field(n, F_BODY);
    scope fs;
    scope_init(&fs, SCOPE_FUNCTION, w->scope);
    visit_parameters(w, field(n, F_PARAMETERS), &fs);
    TSNode returns = field(n, F_RETURN_TYPE);
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

/* A class namespace starts with these before its body runs. */
static void seed_class_namespace(walker *w, scope *cs)
{
    static const char *const implicit[] = {"__module__", "__qualname__", "__doc__"};
    for (size_t i = 0; i < sizeof implicit / sizeof implicit[0]; i++)
        flow_bind(w, &cs->flow, implicit[i], strlen(implicit[i]));
}

static void walk_class_body(walker *w, TSNode name, TSNode body)
{
    scope cs;
    scope_init(&cs, SCOPE_CLASS, w->scope);
    cs.class_name = text(w, name, &cs.class_name_length);
    seed_class_namespace(w, &cs);
    collect_bindings(&cs, w->src, body, 0);
    nbr_definition *outer = w->definition;
    w->definition = begin_definition(w, NBR_DEF_CLASS, name);
    /* Methods of a top-level class run once the class name is bound. */
    bool pushed = w->scope == w->cell && w->later_count < MAX_LATER_NAMES;
    if (pushed) {
        w->later[w->later_count] = cs.class_name;
        w->later_length[w->later_count++] = cs.class_name_length;
    }
    scope *outer_scope = w->scope;
    loop_exits exits = hide_loop_exits(w);
    w->scope = &cs;
    visit_block(w, body);
    w->scope = outer_scope;
    restore_loop_exits(w, exits);
    if (pushed) w->later_count--;
    w->definition = outer;
    scope_clear(&cs);
}

static void visit_class(walker *w, TSNode n)
{
    TSNode name = field(n, F_NAME), body = field(n, F_BODY), bases = field(n, F_SUPERCLASSES);
    if (!ts_node_is_null(bases)) {
        for (uint32_t i = 0; i < ts_node_named_child_count(bases); i++) {
            TSNode base = ts_node_named_child(bases, i);
            visit_expr(w, (kind(base) == K_KEYWORD_ARGUMENT) ? field(base, F_VALUE) : base);
        }
    }
    if (ts_node_is_null(name)) return;
    if (!ts_node_is_null(body)) walk_class_body(w, name, body);
    bind_target(w, name);
}

static void visit_comprehension(walker *w, TSNode n)
{
    TSNode body = field(n, F_BODY);
    uint32_t count = ts_node_named_child_count(n);
    bool first_iterable_done = false;
    const loop_frame *outer_loops = w->loops;
    loop_frame frames[8]; /* one per for clause, for the clauses and body after it */
    size_t frame_count = 0;
    scope cs;
    scope_init(&cs, SCOPE_COMPREHENSION, w->scope);
    for (uint32_t i = 0; i < count; i++) {
        TSNode clause = ts_node_named_child(n, i);
        if ((kind(clause) == K_FOR_IN_CLAUSE)) collect_targets(&cs, w->src, field(clause, F_LEFT), 0);
    }
    for (uint32_t i = 0; i < count; i++) {
        TSNode clause = ts_node_named_child(n, i);
        if (!(kind(clause) == K_FOR_IN_CLAUSE) && !(kind(clause) == K_IF_CLAUSE)) continue;
        if ((kind(clause) == K_IF_CLAUSE)) {
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
            if (!ts_node_eq(part, field(clause, F_LEFT))) visit_expr(w, part);
        }
        w->scope = outer;
        first_iterable_done = true;
        if (frame_count < sizeof frames / sizeof frames[0]) {
            frames[frame_count] = (loop_frame){field(clause, F_LEFT), field(clause, F_RIGHT),
                                               w->loops};
            w->loops = &frames[frame_count++];
        }
    }
    if (!ts_node_is_null(body)) {
        scope *outer = w->scope;
        w->scope = &cs;
        visit_expr(w, body);
        w->scope = outer;
    }
    w->loops = outer_loops;
    scope_clear(&cs);
}

/* ---- expressions ------------------------------------------------------------ */

static void visit_children(walker *w, TSNode n)
{
    for (uint32_t i = 0; i < ts_node_named_child_count(n); i++) {
        TSNode child = ts_node_named_child(n, i);
        if (statement_like(child)) visit_statement(w, child);
        else visit_expr(w, child);
    }
}

/* ---- expressions that may not run ---------------------------------------------
 * Inside an expression the flow state only grows (walrus), so "what this
 * part bound" is the tail of the insertion-ordered bound set after a mark, and
 * undoing it is a truncation. */

static size_t flow_mark(walker *w)
{
    nbr_flow *f = current_flow(w);
    return f && !f->top ? f->bound.count : SIZE_MAX;
}

static void flow_undo(walker *w, size_t mark)
{
    nbr_flow *f = current_flow(w);
    if (f && !f->top && mark != SIZE_MAX) nbr_strset_truncate(&f->bound, mark);
}

/* Visits `n`, which may not be evaluated: what it binds is not definite
 * afterwards (it is while `n` itself is evaluated). */
static void visit_maybe(walker *w, TSNode n)
{
    size_t mark = flow_mark(w);
    visit_expr(w, n);
    flow_undo(w, mark);
}

/* `a if c else b`: c runs first; afterwards, what both branches bound. */
static void visit_conditional(walker *w, TSNode n)
{
    if (ts_node_named_child_count(n) != 3) {
        for (uint32_t i = 0; i < ts_node_named_child_count(n); i++)
            visit_maybe(w, ts_node_named_child(n, i));
        return;
    }
    visit_expr(w, ts_node_named_child(n, 1));
    size_t mark = flow_mark(w);
    visit_expr(w, ts_node_named_child(n, 0));
    nbr_flow *f = current_flow(w);
    nbr_strset from_first;
    nbr_strset_init(&from_first);
    for (size_t i = mark; f && mark != SIZE_MAX && i < f->bound.count; i++)
        if (!nbr_strset_add(&from_first, f->bound.items[i])) w->a->out_of_memory = true;
    flow_undo(w, mark);
    visit_expr(w, ts_node_named_child(n, 2));
    if (f && mark != SIZE_MAX) {
        nbr_strset from_second;
        nbr_strset_init(&from_second);
        for (size_t i = mark; i < f->bound.count; i++)
            if (!nbr_strset_add(&from_second, f->bound.items[i])) w->a->out_of_memory = true;
        flow_undo(w, mark);
        nbr_strset_intersect(&from_second, &from_first);
        for (size_t i = 0; i < from_second.count; i++)
            flow_bind(w, f, from_second.items[i], strlen(from_second.items[i]));
        nbr_strset_clear(&from_second);
    }
    nbr_strset_clear(&from_first);
}

/* `a and b and c`: operands after the first may not run, but each runs only
 * after the ones before it did, so a walrus in b is bound while c runs.  A
 * chain is the left-nested run of one operator (`a and b or c` is not one). */
static void visit_boolean(walker *w, TSNode n)
{
    TSNode chain[64];
    size_t count = 0;
    TSNode op = field(n, F_OPERATOR), left = n;
    while (count < 63 && kind(left) == K_BOOLEAN_OPERATOR &&
           ts_node_symbol(field(left, F_OPERATOR)) == ts_node_symbol(op)) {
        chain[count++] = field(left, F_RIGHT);
        left = field(left, F_LEFT);
    }
    visit_expr(w, left);
    size_t mark = flow_mark(w);
    while (count) visit_expr(w, chain[--count]);
    flow_undo(w, mark);
}

/* `a < b < c`: operands after the second run only if the first test held. */
static void visit_comparison(walker *w, TSNode n)
{
    size_t mark = SIZE_MAX;
    for (uint32_t i = 0; i < ts_node_named_child_count(n); i++) {
        if (i == 2) mark = flow_mark(w);
        visit_expr(w, ts_node_named_child(n, i));
    }
    flow_undo(w, mark);
}

/* `value as target`: the value is read; the target is bound by the with
 * statement (or except clause) that owns the pattern, after the value. */
static void visit_as_pattern(walker *w, TSNode n)
{
    TSNode alias = field(n, F_ALIAS);
    for (uint32_t i = 0; i < ts_node_named_child_count(n); i++) {
        TSNode child = ts_node_named_child(n, i);
        if (ts_node_is_null(alias) || !ts_node_eq(child, alias)) visit_expr(w, child);
    }
    bool owned = !ts_node_is_null(w->with_target) && ts_node_eq(n, w->with_target);
    if (!ts_node_is_null(alias) && !owned) bind_target(w, alias);
}

/* Attributes that hand out the cell's namespace: IPython's user_ns, a
 * function's __globals__, a frame's f_globals (f_locals at the top level). */
static bool exposes_namespace(const walker *w, TSNode attribute)
{
    static const char *const names[] = {"user_ns", "user_global_ns", "__globals__",
                                        "f_globals", "f_locals", NULL};
    size_t length;
    const char *name = text(w, attribute, &length);
    return in_list(name, length, names);
}

static void visit_expr(walker *w, TSNode n)
{
    /* MISSING nodes are the parser's guesses at error recovery: nothing to read. */
    if (ts_node_is_null(n) || ts_node_is_missing(n) || !enter(w)) return;
    size_t length;
    if ((kind(n) == K_IDENTIFIER)) {
        const char *name = text(w, n, &length);
        record_read(w, name, length);
    } else if ((kind(n) == K_ATTRIBUTE)) {
        visit_expr(w, field(n, F_OBJECT));
        TSNode attribute = field(n, F_ATTRIBUTE);
        if (exposes_namespace(w, attribute)) {
            const char *name = text(w, attribute, &length);
            add_flag(w, n, "%.*s exposes the namespace to changes the analysis cannot see", name,
                     length);
        }
    } else if ((kind(n) == K_CALL)) {
        visit_call(w, n);
    } else if ((kind(n) == K_LAMBDA)) {
        visit_lambda(w, n);
    } else if ((kind(n) == K_LIST_COMPREHENSION) || (kind(n) == K_SET_COMPREHENSION) ||
               (kind(n) == K_DICTIONARY_COMPREHENSION) || (kind(n) == K_GENERATOR_EXPRESSION)) {
        visit_comprehension(w, n);
    } else if ((kind(n) == K_NAMED_EXPRESSION)) {
        visit_expr(w, field(n, F_VALUE));
        TSNode name = field(n, F_NAME);
        if (!ts_node_is_null(name)) {
            const char *t = text(w, name, &length);
            record_walrus(w, t, length);
        }
    } else if ((kind(n) == K_BOOLEAN_OPERATOR)) {
        visit_boolean(w, n);
    } else if ((kind(n) == K_CONDITIONAL_EXPRESSION)) {
        visit_conditional(w, n);
    } else if ((kind(n) == K_COMPARISON_OPERATOR)) {
        visit_comparison(w, n);
    } else if ((kind(n) == K_KEYWORD_ARGUMENT)) {
        visit_expr(w, field(n, F_VALUE));
    } else if ((kind(n) == K_AS_PATTERN)) {
        visit_as_pattern(w, n);
    } else if ((kind(n) == K_ASSIGNMENT)) { /* inside ERROR recovery */
        visit_statement(w, n);
    } else if (!(kind(n) == K_COMMENT)) {
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

/* `a.b` or `a[i]` as a target: a (and i) are read. */
static void visit_target_parts(walker *w, TSNode t)
{
    TSNode attribute = kind(t) == K_ATTRIBUTE ? field(t, F_ATTRIBUTE) : (TSNode){0};
    for (uint32_t i = 0; i < ts_node_named_child_count(t); i++) {
        TSNode part = ts_node_named_child(t, i);
        if (ts_node_is_null(attribute) || !ts_node_eq(part, attribute)) visit_expr(w, part);
    }
}

static bool is_unpacking(TSNode n)
{
    node_kind k = kind(n);
    return k == K_PATTERN_LIST || k == K_TUPLE_PATTERN || k == K_LIST_PATTERN;
}

static bool is_packing(TSNode n)
{
    node_kind k = kind(n);
    return k == K_EXPRESSION_LIST || k == K_TUPLE || k == K_LIST;
}

/* 1 if an identifier among `target`'s elements is spelled like one of `value`'s:
 * `a, b = b, a` swaps, it makes no alias. */
static bool unpacking_reuses_a_name(const walker *w, TSNode target, TSNode value)
{
    for (uint32_t i = 0; i < ts_node_named_child_count(target); i++) {
        TSNode t = ts_node_named_child(target, i);
        size_t tl;
        const char *ts = text(w, t, &tl);
        for (uint32_t j = 0; j < ts_node_named_child_count(value); j++) {
            TSNode v = ts_node_named_child(value, j);
            size_t vl;
            const char *vs = text(w, v, &vl);
            if (kind(v) == K_IDENTIFIER && vl == tl && !memcmp(vs, ts, tl)) return true;
        }
    }
    return false;
}

static void add_relation(walker *w, nbr_relation_kind kind, TSNode target, TSNode other)
{
    size_t nl, ol;
    const char *name = text(w, target, &nl), *holder = text(w, other, &ol);
    nbr_analysis_add_relation(w->a, kind, name, nl, holder, ol);
}

/* The object whose part `d.get(k)`, `d.setdefault(k, v)` or `getattr(o, a)`
 * returns (d, o), or a null node for any other call. */
static TSNode part_getter_holder(const walker *w, TSNode call)
{
    TSNode fn = callee(call), args = field(call, F_ARGUMENTS);
    if (ts_node_is_null(fn)) return (TSNode){0};
    if (kind(fn) == K_ATTRIBUTE) {
        TSNode method = field(fn, F_ATTRIBUTE);
        if (text_is(w, method, "get") || text_is(w, method, "setdefault"))
            return field(fn, F_OBJECT);
    } else if (kind(fn) == K_IDENTIFIER && text_is(w, fn, "getattr") && !ts_node_is_null(args) &&
               ts_node_named_child_count(args) >= 2) {
        return ts_node_named_child(args, 0);
    }
    return (TSNode){0};
}

/* `b = d['k'][0]`, `b = cfg.solver`, `b = d.get('k')`, `b = x if c else y`,
 * `b = x or y`: b may hold (a part of) d's, cfg's, x's or y's object, and a
 * change through b changes it, whatever b holds after the cell.  `depth`
 * bounds the recursion into nested expressions. */
static void record_parts(walker *w, TSNode target, TSNode value, int depth)
{
    if (ts_node_is_null(value) || depth > 8) return;
    switch (kind(value)) {
    case K_CALL: record_parts(w, target, part_getter_holder(w, value), depth + 1); break;
    case K_IDENTIFIER:
        if (depth > 0) add_relation(w, NBR_RELATION_PART, target, value);
        break;
    case K_SUBSCRIPT: record_parts(w, target, field(value, F_VALUE), depth + 1); break;
    case K_ATTRIBUTE: record_parts(w, target, field(value, F_OBJECT), depth + 1); break;
    case K_BOOLEAN_OPERATOR:
        record_parts(w, target, field(value, F_LEFT), depth + 1);
        record_parts(w, target, field(value, F_RIGHT), depth + 1);
        break;
    case K_CONDITIONAL_EXPRESSION: /* body if condition else alternative */
        record_parts(w, target, ts_node_named_child(value, 0), depth + 1);
        record_parts(w, target, ts_node_named_child(value, 2), depth + 1);
        break;
    case K_PARENTHESIZED_EXPRESSION:
        record_parts(w, target, ts_node_named_child(value, 0), depth + 1);
        break;
    default: break;
    }
}

/* Top-level `name = other`, `a = b = other` and `x, y = p, q` leave two names
 * on one object: the audit and the graph follow a change through either.  A
 * name bound to anything else may hold a part of another's (record_parts). */
static void record_relations(walker *w, TSNode target, TSNode value)
{
    if (kind(target) == K_IDENTIFIER && kind(value) == K_IDENTIFIER) {
        add_relation(w, NBR_RELATION_ALIAS, target, value);
        return;
    }
    if (kind(target) == K_IDENTIFIER) {
        record_parts(w, target, value, 0);
        return;
    }
    uint32_t count = ts_node_named_child_count(target);
    if (!is_unpacking(target) || !is_packing(value) ||
        count != ts_node_named_child_count(value) || unpacking_reuses_a_name(w, target, value))
        return;
    for (uint32_t i = 0; i < count; i++) {
        TSNode t = ts_node_named_child(target, i), v = ts_node_named_child(value, i);
        if (kind(t) == K_IDENTIFIER && kind(v) == K_IDENTIFIER)
            add_relation(w, NBR_RELATION_ALIAS, t, v);
    }
}

static void visit_assignment(walker *w, TSNode n)
{
    /* `a = b = value`: the value first, then the targets left to right. */
    TSNode targets[64];
    size_t count = 0;
    TSNode value = n, type = field(n, F_TYPE);
    while ((kind(value) == K_ASSIGNMENT) && count < 64) {
        targets[count++] = field(value, F_LEFT);
        value = field(value, F_RIGHT);
        if (ts_node_is_null(value)) break;
    }
    if (!ts_node_is_null(value)) visit_expr(w, value);
    bool binds = !ts_node_is_null(value);
    for (size_t i = 0; i < count; i++) {
        if (ts_node_is_null(targets[i])) continue;
        if (binds) bind_target(w, targets[i]);
        else if (kind(targets[i]) != K_IDENTIFIER) visit_target_parts(w, targets[i]);
    }
    if (!ts_node_is_null(type)) visit_expr(w, type);
    if (binds && w->scope == w->cell)
        for (size_t i = 0; i < count; i++) record_relations(w, targets[i], value);
}

static void visit_augmented(walker *w, TSNode n)
{
    TSNode target = field(n, F_LEFT);
    size_t length;
    if ((kind(target) == K_IDENTIFIER)) {
        const char *name = text(w, target, &length);
        record_read(w, name, length);
        visit_expr(w, field(n, F_RIGHT));
        record_bind(w, name, length);
        record_mutation(w, name, length);
    } else {
        for (uint32_t i = 0; i < ts_node_named_child_count(target); i++) {
            TSNode part = ts_node_named_child(target, i);
            if (!((kind(target) == K_ATTRIBUTE) && ts_node_eq(part, field(target, F_ATTRIBUTE))))
                visit_expr(w, part);
        }
        mutate_root(w, target);
        visit_expr(w, field(n, F_RIGHT));
    }
}

static void delete_target(walker *w, TSNode t)
{
    size_t length;
    if ((kind(t) == K_IDENTIFIER)) {
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
    visit_expr(w, field(n, F_CONDITION));
    nbr_flow after_conditions, result;
    snapshot(w, &after_conditions);
    visit_block(w, field(n, F_CONSEQUENCE));
    snapshot(w, &result);
    bool has_else = false;
    for (uint32_t i = 0; i < ts_node_named_child_count(n); i++) {
        TSNode alt = ts_node_named_child(n, i);
        if ((kind(alt) == K_ELIF_CLAUSE)) {
            restore(w, &after_conditions);
            visit_expr(w, field(alt, F_CONDITION));
            nbr_flow_clear(&after_conditions);
            snapshot(w, &after_conditions);
            visit_block(w, field(alt, F_CONSEQUENCE));
            meet_current(w, &result);
        } else if ((kind(alt) == K_ELSE_CLAUSE)) {
            has_else = true;
            restore(w, &after_conditions);
            visit_block(w, field(alt, F_BODY));
            meet_current(w, &result);
        }
    }
    if (!has_else) nbr_flow_meet(&result, &after_conditions);
    restore(w, &result);
    nbr_flow_clear(&after_conditions);
    nbr_flow_clear(&result);
}

/* for / while.  The loop test fails before the first iteration, after any
 * iteration, or after a continue: that state runs the else clause; the state
 * after the loop is the else clause's end met with every break. */
static void visit_loop(walker *w, TSNode n)
{
    bool is_for = (kind(n) == K_FOR_STATEMENT);
    visit_expr(w, field(n, is_for ? F_RIGHT : F_CONDITION));
    nbr_flow loop_test, breaks, continues;
    snapshot(w, &loop_test);
    start_meet(&breaks);
    start_meet(&continues);
    nbr_flow *outer_breaks = w->break_exits, *outer_continues = w->continue_exits;
    w->break_exits = &breaks;
    w->continue_exits = &continues;
    loop_frame frame = {field(n, F_LEFT), field(n, F_RIGHT), w->loops};
    if (is_for) {
        bind_target(w, frame.target);
        w->loops = &frame;
    }
    visit_block(w, field(n, F_BODY));
    w->loops = frame.outer;
    w->break_exits = outer_breaks;
    w->continue_exits = outer_continues;
    meet_current(w, &loop_test);
    nbr_flow_meet(&loop_test, &continues);
    restore(w, &loop_test);
    TSNode alternative = field(n, F_ALTERNATIVE);
    if (!ts_node_is_null(alternative)) visit_block(w, field(alternative, F_BODY));
    nbr_flow *f = current_flow(w);
    if (f) nbr_flow_meet(f, &breaks);
    nbr_flow_clear(&loop_test);
    nbr_flow_clear(&breaks);
    nbr_flow_clear(&continues);
}

/* break / continue: the current state leaves for the loop's exit. */
static void visit_jump(walker *w, nbr_flow *exits)
{
    nbr_flow *f = current_flow(w);
    if (f && exits) nbr_flow_meet(exits, f);
    end_path(w);
}

/* `except E as e:` - E is read, e is bound in the handler and deleted after
 * it.  tree-sitter gives the `as` either as the clause's alias or as an
 * as_pattern value. */
static void visit_handler(walker *w, TSNode clause)
{
    TSNode alias = field(clause, F_ALIAS);
    for (uint32_t i = 0; i < ts_node_named_child_count(clause); i++) {
        TSNode child = ts_node_named_child(clause, i);
        if (kind(child) == K_BLOCK || (!ts_node_is_null(alias) && ts_node_eq(child, alias)))
            continue;
        if (kind(child) == K_AS_PATTERN) {
            alias = field(child, F_ALIAS);
            if (!ts_node_is_null(alias) && ts_node_named_child_count(alias) == 1)
                alias = ts_node_named_child(alias, 0);
            TSNode outer = w->with_target;
            w->with_target = child;
            visit_expr(w, child);
            w->with_target = outer;
        } else {
            visit_expr(w, child);
        }
    }
    size_t length = 0;
    const char *name = NULL;
    if (!ts_node_is_null(alias) && kind(alias) == K_IDENTIFIER) {
        name = text(w, alias, &length);
        record_bind(w, name, length);
    }
    for (uint32_t i = 0; i < ts_node_named_child_count(clause); i++)
        if (kind(ts_node_named_child(clause, i)) == K_BLOCK)
            visit_block(w, ts_node_named_child(clause, i));
    nbr_flow *f = current_flow(w);
    if (name && f) nbr_flow_unbind(f, name, length);
}

static void visit_try(walker *w, TSNode n)
{
    nbr_flow before, body_end, handlers, normal;
    snapshot(w, &before);
    visit_block(w, field(n, F_BODY));
    snapshot(w, &body_end);
    start_meet(&handlers);
    TSNode finally = {0};
    bool has_finally = false;
    nbr_flow_init(&normal);
    nbr_flow_copy(&normal, &body_end);
    for (uint32_t i = 0; i < ts_node_named_child_count(n); i++) {
        TSNode clause = ts_node_named_child(n, i);
        if ((kind(clause) == K_EXCEPT_CLAUSE) || (kind(clause) == K_EXCEPT_GROUP_CLAUSE)) {
            restore(w, &before);
            visit_handler(w, clause);
            meet_current(w, &handlers);
        } else if ((kind(clause) == K_ELSE_CLAUSE)) {
            restore(w, &body_end);
            visit_block(w, field(clause, F_BODY));
            nbr_flow_clear(&normal);
            snapshot(w, &normal);
        } else if ((kind(clause) == K_FINALLY_CLAUSE)) {
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
            /* The normal paths' bindings, less what the clause deleted, plus
             * what the clause bound. */
            nbr_flow result;
            nbr_flow_init(&result);
            nbr_flow_copy(&result, &normal);
            for (size_t k = 0; k < before.bound.count; k++) {
                const char *name = before.bound.items[k];
                if (!nbr_flow_has(f, name, strlen(name))) nbr_flow_unbind(&result, name, strlen(name));
            }
            for (size_t k = 0; k < f->bound.count; k++) {
                const char *name = f->bound.items[k];
                if (!nbr_flow_has(&before, name, strlen(name)))
                    nbr_flow_bind(&result, name, strlen(name));
            }
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

/* tree-sitter reads `with a if b else c as t:` as `a if b else (c as t)`:
 * the as_pattern that names the with-target is the last one on the rightmost
 * path of the item's value. */
static TSNode with_item_target(TSNode value)
{
    TSNode n = value;
    while (!ts_node_is_null(n) && kind(n) != K_AS_PATTERN) {
        uint32_t count = ts_node_named_child_count(n);
        if (!count || kind(n) == K_LAMBDA || kind(n) == K_CALL) return (TSNode){0};
        n = ts_node_named_child(n, count - 1);
    }
    return n;
}

static void visit_with_item(walker *w, TSNode value)
{
    TSNode target = with_item_target(value);
    TSNode outer = w->with_target;
    w->with_target = target;
    visit_expr(w, value);
    w->with_target = outer;
    TSNode alias = ts_node_is_null(target) ? target : field(target, F_ALIAS);
    if (!ts_node_is_null(alias)) bind_target(w, alias);
}

static void visit_with(walker *w, TSNode n)
{
    for (uint32_t i = 0; i < ts_node_named_child_count(n); i++) {
        TSNode clause = ts_node_named_child(n, i);
        if (!(kind(clause) == K_WITH_CLAUSE)) continue;
        for (uint32_t k = 0; k < ts_node_named_child_count(clause); k++) {
            TSNode item = ts_node_named_child(clause, k);
            visit_with_item(w, (kind(item) == K_WITH_ITEM) ? field(item, F_VALUE) : item);
        }
    }
    visit_block(w, field(n, F_BODY));
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
    if ((kind(p) == K_DOTTED_NAME)) {
        TSNode first = ts_node_named_child(p, 0);
        const char *name = text(w, first, &length);
        if (ts_node_named_child_count(p) > 1) record_read(w, name, length); /* Color.RED */
        else if (!(length == 1 && name[0] == '_')) record_bind(w, name, length);
    } else if ((kind(p) == K_IDENTIFIER)) { /* **rest, *rest, as-alias */
        const char *name = text(w, p, &length);
        if (!(length == 1 && name[0] == '_')) record_bind(w, name, length);
    } else if ((kind(p) == K_CLASS_PATTERN)) {
        for (uint32_t i = 0; i < ts_node_named_child_count(p); i++) {
            TSNode part = ts_node_named_child(p, i);
            if (i == 0 && (kind(part) == K_DOTTED_NAME)) visit_expr(w, ts_node_named_child(part, 0));
            else visit_pattern(w, part);
        }
    } else if ((kind(p) == K_KEYWORD_PATTERN)) {
        for (uint32_t i = 1; i < ts_node_named_child_count(p); i++)
            visit_pattern(w, ts_node_named_child(p, i));
    } else if ((kind(p) == K_AS_PATTERN)) {
        TSNode alias = field(p, F_ALIAS);
        for (uint32_t i = 0; i < ts_node_named_child_count(p); i++) {
            TSNode part = ts_node_named_child(p, i);
            if (!ts_node_eq(part, alias)) visit_pattern(w, part);
        }
        if (!ts_node_is_null(alias)) bind_target(w, alias);
    } else if ((kind(p) == K_DICT_PATTERN)) {
        for (uint32_t i = 0; i < ts_node_named_child_count(p); i++) {
            TSNode part = ts_node_named_child(p, i);
            if ((kind(part) == K_DOTTED_NAME) && ts_node_named_child_count(part) > 1)
                visit_expr(w, ts_node_named_child(part, 0)); /* a value-pattern key */
            else if (!(kind(part) == K_DOTTED_NAME)) visit_pattern(w, part);
        }
    } else if ((kind(p) == K_CASE_PATTERN) || (kind(p) == K_LIST_PATTERN) || (kind(p) == K_TUPLE_PATTERN) ||
               (kind(p) == K_UNION_PATTERN) || (kind(p) == K_SPLAT_PATTERN)) {
        visit_pattern_children(w, p);
    }
    leave(w);
}

static bool is_irrefutable(const walker *w, TSNode clause)
{
    if (!ts_node_is_null(field(clause, F_GUARD))) return false;
    uint32_t patterns = 0;
    TSNode pattern = {0};
    for (uint32_t i = 0; i < ts_node_named_child_count(clause); i++) {
        TSNode part = ts_node_named_child(clause, i);
        if ((kind(part) == K_CASE_PATTERN)) {
            patterns++;
            pattern = part;
        }
    }
    if (patterns != 1) return false;
    if (text_is(w, pattern, "_")) return true;
    if (ts_node_named_child_count(pattern) != 1) return false;
    TSNode only = ts_node_named_child(pattern, 0);
    return (kind(only) == K_DOTTED_NAME) && ts_node_named_child_count(only) == 1;
}

static void visit_match(walker *w, TSNode n)
{
    for (uint32_t i = 0; i < ts_node_named_child_count(n); i++) {
        TSNode child = ts_node_named_child(n, i);
        if (!(kind(child) == K_BLOCK)) visit_expr(w, child);
    }
    nbr_flow after_subject, result;
    snapshot(w, &after_subject);
    start_meet(&result);
    bool exhaustive = false;
    TSNode body = field(n, F_BODY);
    for (uint32_t i = 0; !ts_node_is_null(body) && i < ts_node_named_child_count(body); i++) {
        TSNode clause = ts_node_named_child(body, i);
        if (!(kind(clause) == K_CASE_CLAUSE)) continue;
        restore(w, &after_subject);
        for (uint32_t k = 0; k < ts_node_named_child_count(clause); k++) {
            TSNode part = ts_node_named_child(clause, k);
            if ((kind(part) == K_CASE_PATTERN)) visit_pattern(w, part);
        }
        TSNode guard = field(clause, F_GUARD);
        if (!ts_node_is_null(guard)) visit_expr(w, guard);
        visit_block(w, field(clause, F_CONSEQUENCE));
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
        if ((kind(item) == K_DOTTED_NAME)) {
            add_import(w, item);
            const char *first = text(w, ts_node_named_child(item, 0), &length);
            bind_import(w, first, length); /* `import a.b` binds a */
        } else if ((kind(item) == K_ALIASED_IMPORT)) {
            add_import(w, field(item, F_NAME));
            const char *alias = text(w, field(item, F_ALIAS), &length);
            bind_import(w, alias, length);
        }
    }
}

static void visit_import_from(walker *w, TSNode n)
{
    TSNode module = field(n, F_MODULE_NAME);
    size_t length;
    if ((kind(n) == K_FUTURE_IMPORT_STATEMENT)) {
        nbr_analysis_add_name(w->a, NBR_NAMES_IMPORTS, "__future__", 10);
    } else if (!ts_node_is_null(module)) {
        add_import(w, module);
    }
    for (uint32_t i = 0; i < ts_node_named_child_count(n); i++) {
        TSNode item = ts_node_named_child(n, i);
        if (!ts_node_is_null(module) && ts_node_eq(item, module)) continue;
        if ((kind(item) == K_DOTTED_NAME)) {
            const char *name = text(w, item, &length);
            bind_import(w, name, length);
        } else if ((kind(item) == K_ALIASED_IMPORT)) {
            const char *alias = text(w, field(item, F_ALIAS), &length);
            bind_import(w, alias, length);
        } else if ((kind(item) == K_WILDCARD_IMPORT)) {
            add_flag(w, n, "%.*sfrom ... import * binds names the analysis cannot know", "", 0);
        }
    }
}

/* ---- statement dispatch ----------------------------------------------------- */

static void visit_expression_statement(walker *w, TSNode n)
{
    for (uint32_t i = 0; i < ts_node_named_child_count(n); i++) {
        TSNode child = ts_node_named_child(n, i);
        if ((kind(child) == K_ASSIGNMENT)) visit_assignment(w, child);
        else if ((kind(child) == K_AUGMENTED_ASSIGNMENT)) visit_augmented(w, child);
        else visit_expr(w, child);
    }
}

static void visit_decorated(walker *w, TSNode n)
{
    TSNode definition = field(n, F_DEFINITION);
    for (uint32_t i = 0; i < ts_node_named_child_count(n); i++) {
        TSNode child = ts_node_named_child(n, i);
        if ((kind(child) == K_DECORATOR)) visit_children(w, child);
    }
    if (ts_node_is_null(definition)) return;
    if ((kind(definition) == K_CLASS_DEFINITION)) visit_class(w, definition);
    else visit_function(w, definition);
}

/* `type X = ...`.  tree-sitter also reads `type(m).x = 1` and `type[0] = 1`
 * this way; then `type` is an ordinary name and the "alias" a target. */
static void visit_type_alias(walker *w, TSNode n)
{
    TSNode left = field(n, F_LEFT);
    TSNode target = !ts_node_is_null(left) && ts_node_named_child_count(left) == 1
                        ? ts_node_named_child(left, 0)
                        : (TSNode){0};
    visit_expr(w, field(n, F_RIGHT));
    if (ts_node_is_null(target)) return;
    /* A real alias has a blank between `type` and its name. */
    bool misread = ts_node_start_byte(left) < ts_node_start_byte(n) + 5;
    if (!misread) {
        bind_target(w, kind(target) == K_IDENTIFIER ? target : ts_node_named_child(target, 0));
        return;
    }
    record_read(w, "type", 4);
    visit_expr(w, target);
    if (kind(target) == K_LIST) record_mutation(w, "type", 4);
    /* `type(o).y = 1` reads as an alias named `(o).y`: it changes o's class. */
    TSNode root = target;
    while ((kind(root) == K_ATTRIBUTE) || (kind(root) == K_SUBSCRIPT))
        root = field(root, (kind(root) == K_ATTRIBUTE) ? F_OBJECT : F_VALUE);
    if (!ts_node_eq(root, target) && (kind(root) == K_PARENTHESIZED_EXPRESSION))
        mutate_root(w, root);
}

static void visit_delete(walker *w, TSNode n)
{
    for (uint32_t i = 0; i < ts_node_named_child_count(n); i++)
        delete_target(w, ts_node_named_child(n, i));
}

static void visit_statement(walker *w, TSNode n)
{
    if (ts_node_is_null(n) || !enter(w)) return;
    if ((kind(n) == K_EXPRESSION_STATEMENT)) visit_expression_statement(w, n);
    else if ((kind(n) == K_ASSIGNMENT)) visit_assignment(w, n);
    else if ((kind(n) == K_AUGMENTED_ASSIGNMENT)) visit_augmented(w, n);
    else if ((kind(n) == K_IF_STATEMENT)) visit_if(w, n);
    else if ((kind(n) == K_FOR_STATEMENT) || (kind(n) == K_WHILE_STATEMENT)) visit_loop(w, n);
    else if ((kind(n) == K_TRY_STATEMENT)) visit_try(w, n);
    else if ((kind(n) == K_WITH_STATEMENT)) visit_with(w, n);
    else if ((kind(n) == K_MATCH_STATEMENT)) visit_match(w, n);
    else if ((kind(n) == K_FUNCTION_DEFINITION)) visit_function(w, n);
    else if ((kind(n) == K_CLASS_DEFINITION)) visit_class(w, n);
    else if ((kind(n) == K_DECORATED_DEFINITION)) visit_decorated(w, n);
    else if ((kind(n) == K_IMPORT_STATEMENT)) visit_import(w, n);
    else if ((kind(n) == K_IMPORT_FROM_STATEMENT) || (kind(n) == K_FUTURE_IMPORT_STATEMENT))
        visit_import_from(w, n);
    else if ((kind(n) == K_DELETE_STATEMENT)) visit_delete(w, n);
    else if ((kind(n) == K_RETURN_STATEMENT) || (kind(n) == K_RAISE_STATEMENT)) {
        visit_children(w, n);
        end_path(w);
    } else if ((kind(n) == K_BREAK_STATEMENT)) {
        visit_jump(w, w->break_exits);
    } else if ((kind(n) == K_CONTINUE_STATEMENT)) {
        visit_jump(w, w->continue_exits);
    } else if ((kind(n) == K_ASSERT_STATEMENT)) {
        for (uint32_t i = 0; i < ts_node_named_child_count(n); i++) /* the message runs on failure */
            if (i == 0) visit_expr(w, ts_node_named_child(n, i));
            else visit_maybe(w, ts_node_named_child(n, i));
    } else if ((kind(n) == K_GLOBAL_STATEMENT) || (kind(n) == K_NONLOCAL_STATEMENT) || (kind(n) == K_COMMENT) ||
               (kind(n) == K_PASS_STATEMENT)) {
        /* declarations were collected with the scope's bindings */
    } else if ((kind(n) == K_BLOCK)) {
        visit_block(w, n);
    } else if ((kind(n) == K_EXEC_STATEMENT)) {
        add_flag(w, n, "%.*sexec runs code the analysis cannot see", "", 0);
        visit_children(w, n);
    } else if ((kind(n) == K_TYPE_ALIAS_STATEMENT)) {
        visit_type_alias(w, n);
    } else {
        visit_children(w, n); /* assert, print, ERROR recovery, ... */
    }
    leave(w);
}

/* ---- binding collection (CPython's symbol table for one scope) --------------- */

static void add_binding(scope *s, const char *src, TSNode n)
{
    if (ts_node_is_null(n) || !(kind(n) == K_IDENTIFIER)) return;
    uint32_t start = ts_node_start_byte(n);
    nbr_strset_add_n(&s->locals, src + start, ts_node_end_byte(n) - start);
}

static void collect_targets(scope *s, const char *src, TSNode t, int depth)
{
    if (ts_node_is_null(t) || depth > MAX_DEPTH) return;
    if ((kind(t) == K_IDENTIFIER)) add_binding(s, src, t);
    else if (is_target_group(t))
        for (uint32_t i = 0; i < ts_node_named_child_count(t); i++)
            collect_targets(s, src, ts_node_named_child(t, i), depth + 1);
}

static void collect_declarations(nbr_strset *set, const char *src, TSNode n)
{
    for (uint32_t i = 0; i < ts_node_named_child_count(n); i++) {
        TSNode id = ts_node_named_child(n, i);
        if (!(kind(id) == K_IDENTIFIER)) continue;
        uint32_t start = ts_node_start_byte(id);
        nbr_strset_add_n(set, src + start, ts_node_end_byte(id) - start);
    }
}

static void collect_pattern_captures(scope *s, const char *src, TSNode p, int depth)
{
    if (ts_node_is_null(p) || depth > MAX_DEPTH) return;
    if ((kind(p) == K_DOTTED_NAME)) {
        if (ts_node_named_child_count(p) == 1) add_binding(s, src, ts_node_named_child(p, 0));
        return;
    }
    if ((kind(p) == K_IDENTIFIER)) {
        add_binding(s, src, p);
        return;
    }
    if ((kind(p) == K_AS_PATTERN_TARGET)) {
        collect_targets(s, src, ts_node_named_child(p, 0), depth + 1);
        return;
    }
    uint32_t first = (kind(p) == K_KEYWORD_PATTERN) || (kind(p) == K_CLASS_PATTERN) ? 1 : 0;
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
    if ((kind(n) == K_IDENTIFIER)) return;
    /* Nested functions, lambdas and classes have their own scope, but their
     * defaults, annotations, decorators and bases run in this one. */
    if ((kind(n) == K_FUNCTION_DEFINITION) || (kind(n) == K_CLASS_DEFINITION)) {
        add_binding(s, src, field(n, F_NAME));
        collect_bindings(s, src, field(n, F_PARAMETERS), depth + 1);
        collect_bindings(s, src, field(n, F_RETURN_TYPE), depth + 1);
        collect_bindings(s, src, field(n, F_SUPERCLASSES), depth + 1);
        return;
    }
    if ((kind(n) == K_LAMBDA)) {
        collect_bindings(s, src, field(n, F_PARAMETERS), depth + 1);
        return;
    }
    if ((kind(n) == K_GLOBAL_STATEMENT)) return collect_declarations(&s->globals, src, n);
    if ((kind(n) == K_NONLOCAL_STATEMENT)) return collect_declarations(&s->nonlocals, src, n);
    if ((kind(n) == K_ASSIGNMENT) || (kind(n) == K_AUGMENTED_ASSIGNMENT)) collect_targets(s, src, field(n, F_LEFT), depth);
    else if ((kind(n) == K_FOR_STATEMENT)) collect_targets(s, src, field(n, F_LEFT), depth);
    else if ((kind(n) == K_NAMED_EXPRESSION)) add_binding(s, src, field(n, F_NAME));
    else if ((kind(n) == K_AS_PATTERN) && !ts_node_is_null(field(n, F_ALIAS)))
        collect_targets(s, src, ts_node_named_child(field(n, F_ALIAS), 0), depth);
    else if ((kind(n) == K_EXCEPT_CLAUSE)) add_binding(s, src, field(n, F_ALIAS));
    else if ((kind(n) == K_DELETE_STATEMENT)) collect_targets(s, src, ts_node_named_child(n, 0), depth);
    else if ((kind(n) == K_CASE_PATTERN)) return collect_pattern_captures(s, src, n, depth);
    else if ((kind(n) == K_IMPORT_STATEMENT) || (kind(n) == K_IMPORT_FROM_STATEMENT) ||
             (kind(n) == K_FUTURE_IMPORT_STATEMENT)) {
        TSNode module = field(n, F_MODULE_NAME);
        for (uint32_t i = 0; i < ts_node_named_child_count(n); i++) {
            TSNode item = ts_node_named_child(n, i);
            if (!ts_node_is_null(module) && ts_node_eq(item, module)) continue;
            if ((kind(item) == K_ALIASED_IMPORT)) add_binding(s, src, field(item, F_ALIAS));
            else if ((kind(item) == K_DOTTED_NAME)) add_binding(s, src, ts_node_named_child(item, 0));
        }
        return;
    }
    for (uint32_t i = 0; i < ts_node_named_child_count(n); i++) {
        TSNode child = ts_node_named_child(n, i);
        if ((kind(n) == K_FOR_IN_CLAUSE) && ts_node_eq(child, field(n, F_LEFT))) continue;
        collect_bindings(s, src, child, depth + 1);
    }
}

/* ---- IPython magics, translated form ------------------------------------------- */

static void walk_module(walker *w, TSNode root);

/* Where opaque magics are flagged from: the text rewritten, and the line its
 * first line is in the cell. */
typedef struct magic_source {
    nbr_analysis *a;
    const char *text;
    uint32_t line_base;
} magic_source;

/* The flag of an opaque magic (nbr_ipython_magic_is_opaque), raw or
 * translated, at a 1-based line and column. */
static void flag_magic(nbr_analysis *a, uint32_t line, uint32_t column, const char *name,
                       size_t name_length)
{
    if (nbr_ipython_magic_reads_namespace(name, name_length))
        nbr_analysis_add_diagnostic(a, NBR_DIAG_FLAG, line, column, "%%%.*s reads every name",
                                    (int)name_length, name);
    else
        nbr_analysis_add_diagnostic(a, NBR_DIAG_FLAG, line, column,
                                    "%%%.*s runs code the analysis cannot see",
                                    (int)name_length, name);
}

static void flag_opaque_magic(void *ctx, size_t offset, const char *name, size_t name_length)
{
    const magic_source *m = ctx;
    uint32_t line = 1, column = 1;
    for (size_t i = 0; i < offset; i++, column++) {
        if (m->text[i] == '\n') {
            line++;
            column = 0;
        }
    }
    flag_magic(m->a, line + m->line_base, column, name, name_length);
}

/* The cell rewritten into plain Python (nbr_ipython_rewrite) and parsed
 * into *tree.  IPython's expansions in shell commands and magics are kept as
 * reads unless one of them does not parse (`!echo {2x}`): then the cell is
 * parsed without them, as it was before they were read, so that a command
 * line never costs the analysis of the statements around it.  NULL when out
 * of memory (*tree may still be NULL otherwise: the parser failed). */
static char *rewrite_and_parse(TSTree **tree, TSParser *parser, const char *source,
                               size_t length, magic_source *where)
{
    *tree = NULL;
    char *python = nbr_ipython_rewrite(source, length, true, flag_opaque_magic, where);
    if (!python) return NULL;
    *tree = ts_parser_parse_string(parser, NULL, python, (uint32_t)length);
    if (!*tree || !ts_node_has_error(ts_tree_root_node(*tree))) return python;
    char *plain = nbr_ipython_rewrite(source, length, false, NULL, NULL);
    if (!plain || !memcmp(plain, python, length)) {
        free(plain);
        return python;
    }
    TSTree *again = ts_parser_parse_string(parser, NULL, plain, (uint32_t)length);
    if (!again) {
        free(plain);
        return python;
    }
    ts_tree_delete(*tree);
    *tree = again;
    free(python);
    return plain;
}

/* Analyses `code` (the argument of %time or the body of %%time) in place of the
 * call that runs it. */
static void visit_magic_code(walker *w, const char *code, size_t length, uint32_t line)
{
    magic_source where = {w->a, code, line};
    TSTree *tree;
    char *python = rewrite_and_parse(&tree, w->parser, code, length, &where);
    if (!python) {
        w->a->out_of_memory = true;
        return;
    }
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
    if (!(kind(arg) == K_STRING)) return NULL;
    size_t raw_length;
    const char *raw = text(w, arg, &raw_length);
    return nbr_python_string_literal(raw, raw_length, length);
}

static bool visit_magic_call(walker *w, TSNode fn, TSNode args)
{
    if (!(kind(fn) == K_ATTRIBUTE) || !(kind(args) == K_ARGUMENT_LIST)) return false;
    TSNode object = field(fn, F_OBJECT);
    if (!(kind(object) == K_CALL) || !text_is(w, field(object, F_FUNCTION), "get_ipython")) return false;
    bool cell = text_is(w, field(fn, F_ATTRIBUTE), "run_cell_magic");
    if (!cell && !text_is(w, field(fn, F_ATTRIBUTE), "run_line_magic")) return false;
    size_t name_length, args_length, body_length = 0, offset, capture_length;
    const char *capture;
    char *name = string_argument(w, args, 0, &name_length);
    char *magic_args = string_argument(w, args, 1, &args_length);
    char *body = cell ? string_argument(w, args, 2, &body_length) : NULL;
    bool handled = name && magic_args && (!cell || body);
    if (!name) { /* which magic runs is known only at run time: it may be %run */
        size_t method_length;
        const char *method = text(w, field(fn, F_ATTRIBUTE), &method_length);
        add_flag(w, fn, "%.*s() of a magic chosen at run time may run code the analysis "
                 "cannot see", method, method_length);
    }
    if (handled && !cell && nbr_ipython_magic_is_opaque(name, name_length)) {
        TSPoint at = ts_node_start_point(fn);
        flag_magic(w->a, at.row + 1 + w->line_base, at.column + 1, name, name_length);
    }
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
        bool error = ts_node_is_missing(n) || is_error_node(n);
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
        if ((kind(n) == K_COMMENT) || !starts_line) continue;
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
    pthread_once(&python_grammar_once, load_python_grammar);
    magic_source where = {a, source, 0};
    TSParser *parser = ts_parser_new();
    if (!parser || !ts_parser_set_language(parser, tree_sitter_python())) {
        if (parser) ts_parser_delete(parser);
        return nbr_fail_nomem("parsing a Python cell");
    }
    TSTree *tree;
    char *python = rewrite_and_parse(&tree, parser, source, length, &where);
    if (!python || !tree) {
        if (tree) ts_tree_delete(tree);
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
