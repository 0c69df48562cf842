/* analysis_r.c - data-flow analysis of one R cell, on tree-sitter.
 *
 * The cell is parsed with the tree-sitter R grammar and walked once, in R's
 * evaluation order.  Each scope (the cell, a function body, the body of
 * local()/with()) keeps the names that are *definitely bound* at the current
 * point; a read of a name outside that set is an input of the scope.
 *
 * Function bodies run later, when called, so what they read and change is not
 * decided where it appears: a function scope collects its unresolved reads and
 * writes, resolves the ones its nested functions hand it against every name it
 * binds anywhere (R looks a free name up in the enclosing frame at call time),
 * and hands the rest outwards.  What reaches the cell becomes the function's
 * globals and, if not bound at the point of definition, the cell's uses.
 *
 * The walk recurses, but never deeper than MAX_DEPTH: a deeper subtree is
 * scanned flat with an explicit stack (see walk_flat), so hostile input cannot
 * overflow the C stack.  What R semantics this implements, and where it is
 * approximate, is written down in docs/analysis-r.md. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tree_sitter/api.h>

#include "alloc.h"
#include "analysis.h"
#include "flow.h"
#include "grammar.h"

const TSLanguage *tree_sitter_r(void);

enum {
    /* Recursion levels of the walk before it falls back to a flat scan.  Real
     * cells stay far below (a nested call or block costs one or two levels);
     * at this bound the walk needs well under 200 KB of stack. */
    MAX_DEPTH = 256,
    /* A garbage cell can have an error every few bytes; the first ones say
     * enough. */
    MAX_ERRORS = 50,
    /* Bytes of source quoted in a syntax-error message. */
    EXCERPT_BYTES = 24
};

/* The walk recurses through a handful of functions; keeping the big ones out
 * of line keeps each recursion level's stack frames small. */
#if defined(__GNUC__)
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE
#endif

/* ---- the syntax tree ---------------------------------------------------- */

typedef enum node_kind {
    N_OTHER, /* literals, keywords, comments, punctuation, ... */
    N_IDENTIFIER,
    N_STRING,
    N_BINARY,
    N_UNARY,
    N_EXTRACT,   /* x$a, x@a */
    N_NAMESPACE, /* pkg::f, pkg:::f */
    N_CALL,
    N_SUBSET,  /* x[i] */
    N_SUBSET2, /* x[[i]] */
    N_PAREN,
    N_BRACE,
    N_IF,
    N_FOR,
    N_WHILE,
    N_REPEAT,
    N_FUNCTION,
    N_RETURN,
    N_BREAK,
    N_NEXT,
    N_ERROR,
    N_ARGUMENT,
    N_ARGUMENTS
} node_kind;

typedef enum op_kind {
    OP_PLAIN,         /* evaluates both operands, left to right */
    OP_ASSIGN,        /* <-  = */
    OP_SUPER_ASSIGN,  /* <<- */
    OP_RIGHT_ASSIGN,  /* -> */
    OP_SUPER_RIGHT,   /* ->> */
    OP_WALRUS,        /* := (data.table, rlang) */
    OP_SHORT_CIRCUIT, /* && || : the right operand may not run */
    OP_ASSIGN_PIPE,   /* %<>% (magrittr): x %<>% f() is x <- x %>% f() */
    OP_HELP           /* ? : nothing is evaluated */
} op_kind;

/* Field ids of the grammar, looked up once per process. */
typedef struct fields {
    TSFieldId lhs, rhs, op, function, arguments, name, value, body, condition, consequence,
        alternative, variable, sequence, parameters, parameter, default_value, content;
} fields;

static void load_fields(fields *f, const TSLanguage *lang)
{
#define FIELD(member, text) f->member = ts_language_field_id_for_name(lang, text, sizeof(text) - 1)
    FIELD(lhs, "lhs");
    FIELD(rhs, "rhs");
    FIELD(op, "operator");
    FIELD(function, "function");
    FIELD(arguments, "arguments");
    FIELD(name, "name");
    FIELD(value, "value");
    FIELD(body, "body");
    FIELD(condition, "condition");
    FIELD(consequence, "consequence");
    FIELD(alternative, "alternative");
    FIELD(variable, "variable");
    FIELD(sequence, "sequence");
    FIELD(parameters, "parameters");
    FIELD(parameter, "parameter");
    FIELD(default_value, "default");
    FIELD(content, "content");
#undef FIELD
}

static const char *const kind_names[] = {
    [N_IDENTIFIER] = "identifier",
    [N_STRING] = "string",
    [N_BINARY] = "binary_operator",
    [N_UNARY] = "unary_operator",
    [N_EXTRACT] = "extract_operator",
    [N_NAMESPACE] = "namespace_operator",
    [N_CALL] = "call",
    [N_SUBSET] = "subset",
    [N_SUBSET2] = "subset2",
    [N_PAREN] = "parenthesized_expression",
    [N_BRACE] = "braced_expression",
    [N_IF] = "if_statement",
    [N_FOR] = "for_statement",
    [N_WHILE] = "while_statement",
    [N_REPEAT] = "repeat_statement",
    [N_FUNCTION] = "function_definition",
    [N_RETURN] = "return",
    [N_BREAK] = "break",
    [N_NEXT] = "next",
    [N_ARGUMENT] = "argument",
    [N_ARGUMENTS] = "arguments",
};

static nbr_grammar r_grammar;
static fields r_fields;
static pthread_once_t r_grammar_once = PTHREAD_ONCE_INIT;

static void load_r_grammar(void)
{
    const TSLanguage *language = tree_sitter_r();
    nbr_grammar_load(&r_grammar, language, kind_names, sizeof kind_names / sizeof kind_names[0],
                     NULL, 0);
    load_fields(&r_fields, language);
}

static node_kind kind_of(TSNode n)
{
    node_kind k = (node_kind)nbr_grammar_kind(&r_grammar, n);
    /* ERROR is a builtin symbol outside the grammar's own table. */
    if (k == N_OTHER && !ts_node_is_null(n) && ts_node_symbol(n) == (TSSymbol)-1) return N_ERROR;
    return k;
}

static TSNode child(TSNode n, TSFieldId id) { return ts_node_child_by_field_id(n, id); }

static op_kind op_of(const fields *f, const char *src, TSNode binary)
{
    TSNode op = child(binary, f->op);
    if (ts_node_is_null(op)) return OP_PLAIN;
    const char *t = ts_node_type(op);
    if (!strcmp(t, "<-") || !strcmp(t, "=")) return OP_ASSIGN;
    if (!strcmp(t, "<<-")) return OP_SUPER_ASSIGN;
    if (!strcmp(t, "->")) return OP_RIGHT_ASSIGN;
    if (!strcmp(t, "->>")) return OP_SUPER_RIGHT;
    if (!strcmp(t, ":=")) return OP_WALRUS;
    if (!strcmp(t, "&&") || !strcmp(t, "||")) return OP_SHORT_CIRCUIT;
    if (!strcmp(t, "?")) return OP_HELP;
    if (!strcmp(t, "special") && ts_node_end_byte(op) - ts_node_start_byte(op) == 4 &&
        !memcmp(src + ts_node_start_byte(op), "%<>%", 4))
        return OP_ASSIGN_PIPE;
    return OP_PLAIN;
}

static bool is_operator(const fields *f, TSNode n, const char *op)
{
    TSNode o = child(n, f->op);
    return !ts_node_is_null(o) && !strcmp(ts_node_type(o), op);
}

/* ---- scopes ------------------------------------------------------------- */

typedef enum scope_kind {
    SCOPE_CELL,     /* the cell's top level: the global environment */
    SCOPE_FUNCTION, /* a function body: runs later, when called */
    SCOPE_IMMEDIATE /* local() / with() bodies: a new environment, run at once */
} scope_kind;

/* What a scope hands outwards: names it reads, names it rebinds with <<-
 * (looked up from the enclosing frame on), and names whose object it may
 * change in place (replacement roots, method-call receivers). */
enum { OUT_READS, OUT_REBINDS, OUT_IN_PLACE, OUT_KINDS };

typedef struct scope {
    scope_kind kind;
    struct scope *parent;
    nbr_flow flow;                 /* definitely bound here (top: the path ended) */
    nbr_strset locals;             /* bound anywhere so far (parameters too) */
    nbr_strset own[OUT_KINDS];     /* not resolved in this scope */
    nbr_strset pending[OUT_KINDS]; /* from nested scopes: resolved against locals at the end */
    nbr_strset global_writes;      /* assign(envir = .GlobalEnv), rm(envir = .GlobalEnv) */
} scope;

/* ---- the walker --------------------------------------------------------- */

typedef struct call_arg {
    TSNode name;  /* null when the argument is positional */
    TSNode value; /* null for `f(x = )` */
    int formal;   /* index of the matched formal argument, -1 for none or `...` */
} call_arg;

/* Where the flat scan of a too-deep subtree is: one entry per open node. */
typedef struct flat_frame {
    node_kind kind;
    op_kind op;
} flat_frame;

typedef struct walker {
    nbr_analysis *a;
    const char *src;
    size_t length;
    fields f;
    scope *scope;
    unsigned depth;
    bool depth_flagged;
    unsigned class_generators; /* R6Class() / setRefClass() calls being walked */
    struct {
        TSNode *items;
        size_t count, capacity;
    } operands; /* right operands of a left-deep operator chain, see walk_operator_chain */
    struct {
        call_arg *items;
        size_t count, capacity;
    } args; /* arguments of the calls being walked, innermost last */
    struct {
        flat_frame *items;
        size_t count, capacity;
    } flat;
} walker;

static void out_of_memory(walker *w) { w->a->out_of_memory = true; }

/* Pushes onto one of the walker's stacks (operands, args, flat); false when
 * out of memory. */
#define PUSH(w, stack, item)                                                                       \
    (NBR_RESERVE((w)->stack.items, (w)->stack.capacity, (w)->stack.count + 1)                      \
         ? ((w)->stack.items[(w)->stack.count++] = (item), true)                                   \
         : (out_of_memory(w), false))

static void set_add(walker *w, nbr_strset *set, const char *s, size_t n)
{
    if (!nbr_strset_add_n(set, s, n)) out_of_memory(w);
}

static void set_add_all(walker *w, nbr_strset *set, const nbr_strset *other)
{
    if (!nbr_strset_add_all(set, other)) out_of_memory(w);
}

static bool in_cell(const walker *w) { return w->scope->kind == SCOPE_CELL; }

static uint32_t line_of(TSNode n) { return ts_node_start_point(n).row + 1; }
static uint32_t column_of(TSNode n) { return ts_node_start_point(n).column + 1; }

/* Flags what defeats the analysis, at the node's position.  A macro so that
 * no message buffer sits in the frames of the recursive walk. */
#define FLAG(w, at, ...)                                                                           \
    nbr_analysis_add_diagnostic((w)->a, NBR_DIAG_FLAG, line_of(at), column_of(at), __VA_ARGS__)

/* ---- names -------------------------------------------------------------- */

/* A name read from the source: points into the source, or into `owned` when
 * it had to be decoded (backquotes with escapes, string escapes). */
typedef struct rname {
    const char *s;
    size_t n;
    char *owned;
} rname;

static void rname_free(rname *name)
{
    free(name->owned);
    name->owned = NULL;
}

static bool rname_is(const rname *name, const char *text)
{
    return name->n == strlen(text) && !memcmp(name->s, text, name->n);
}

static const char *text_of(const walker *w, TSNode n, size_t *length)
{
    uint32_t start = ts_node_start_byte(n), end = ts_node_end_byte(n);
    if (end > w->length) end = (uint32_t)w->length;
    if (start > end) start = end;
    *length = end - start;
    return w->src + start;
}

/* Copies `s` into name->owned, dropping the backslash of each escape pair.
 * Used for `a\`b` identifiers; string escapes go through decode_string. */
static bool unescape_simple(walker *w, const char *s, size_t n, rname *name)
{
    char *out = malloc(n + 1);
    if (!out) {
        out_of_memory(w);
        return false;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\' && i + 1 < n) i++;
        out[k++] = s[i];
    }
    out[k] = '\0';
    if (k == 0) {
        free(out);
        return false;
    }
    *name = (rname){out, k, out};
    return true;
}

/* `else` and `in` are reserved words of R, but outside `if` and `for` the
 * grammar lexes them as identifiers: they are syntax errors, not names. */
static bool is_stray_keyword(const char *s, size_t len)
{
    return (len == 4 && !memcmp(s, "else", 4)) || (len == 2 && !memcmp(s, "in", 2));
}

static bool identifier_name(walker *w, TSNode n, rname *name)
{
    size_t len;
    const char *s = text_of(w, n, &len);
    if (is_stray_keyword(s, len)) return false;
    if (len >= 2 && s[0] == '`' && s[len - 1] == '`') {
        s++;
        len -= 2;
        if (memchr(s, '\\', len)) return unescape_simple(w, s, len, name);
    }
    *name = (rname){s, len, NULL};
    return len > 0;
}

/* A raw string r"(...)", R'[...]', r"--{...}--": returns its contents. */
static bool raw_string_contents(const char *s, size_t n, rname *name)
{
    if (n < 5 || (s[0] != 'r' && s[0] != 'R')) return false;
    size_t dashes = 0;
    while (2 + dashes < n && s[2 + dashes] == '-') dashes++;
    size_t open = 2 + dashes, overhead = 2 * (dashes + 2) + 1;
    if (n < overhead || !strchr("([{", s[open]) || s[n - 1] != s[1]) return false;
    *name = (rname){s + open + 1, n - overhead, NULL};
    return name->n > 0;
}

/* The character an escape `\c` stands for, or -1 for the numeric escapes
 * (\x, \u, \U, octal): a name spelled with those is vanishingly rare and is
 * treated as not literal. */
static int unescaped(char c)
{
    switch (c) {
    case 'n': return '\n';
    case 't': return '\t';
    case 'r': return '\r';
    case 'a': return '\a';
    case 'b': return '\b';
    case 'f': return '\f';
    case 'v': return '\v';
    case 'x':
    case 'u':
    case 'U':
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7': return -1;
    default: return (unsigned char)c; /* \" \' \\ \` and the like */
    }
}

static bool decode_string(walker *w, const char *s, size_t n, rname *name)
{
    char *out = malloc(n + 1);
    if (!out) {
        out_of_memory(w);
        return false;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '\\' && i + 1 < n) c = unescaped(s[++i]);
        if (c < 0) {
            free(out);
            return false;
        }
        out[k++] = (char)c;
    }
    out[k] = '\0';
    if (k == 0) {
        free(out);
        return false;
    }
    *name = (rname){out, k, out};
    return true;
}

static bool string_name(walker *w, TSNode n, rname *name)
{
    TSNode content = child(n, w->f.content);
    size_t len;
    const char *s;
    if (ts_node_is_null(content)) { /* a raw string, or "" */
        s = text_of(w, n, &len);
        return raw_string_contents(s, len, name);
    }
    if (ts_node_has_error(n)) return false; /* unterminated */
    s = text_of(w, content, &len);
    if (ts_node_named_child_count(content) == 0) { /* no escape sequences */
        *name = (rname){s, len, NULL};
        return len > 0;
    }
    return decode_string(w, s, len, name);
}

/* The name an identifier or a string literal spells (`"x" <- 1` binds x). */
static bool literal_name(walker *w, TSNode n, rname *name)
{
    *name = (rname){NULL, 0, NULL};
    if (ts_node_is_null(n) || ts_node_is_missing(n)) return false;
    switch (kind_of(n)) {
    case N_IDENTIFIER: return identifier_name(w, n, name);
    case N_STRING: return string_name(w, n, name);
    default: return false;
    }
}

static bool string_literal(walker *w, TSNode n, rname *name)
{
    *name = (rname){NULL, 0, NULL};
    return kind_of(n) == N_STRING && string_name(w, n, name);
}

/* ---- what the cell does with a name ------------------------------------- */

static void read_name(walker *w, const char *s, size_t n)
{
    scope *sc = w->scope;
    if (n == 0 || nbr_flow_has(&sc->flow, s, n)) return;
    /* `_` is the placeholder of the native pipe, not a variable. */
    if (n == 1 && s[0] == '_') return;
    if (sc->kind == SCOPE_CELL)
        nbr_analysis_add_name(w->a, NBR_NAMES_USES, s, n);
    else
        set_add(w, &sc->own[OUT_READS], s, n);
}

static void read_rname(walker *w, const rname *name) { read_name(w, name->s, name->n); }

static void bind_local(walker *w, const char *s, size_t n)
{
    scope *sc = w->scope;
    if (n == 0) return;
    if (!nbr_flow_bind(&sc->flow, s, n)) out_of_memory(w);
    set_add(w, &sc->locals, s, n);
    if (sc->kind == SCOPE_CELL) nbr_analysis_add_name(w->a, NBR_NAMES_DEFS, s, n);
}

/* x <<- v: in the cell it binds the global x; in a function it rebinds x in
 * the first enclosing frame that has it (else the global one). */
static void bind_super(walker *w, const char *s, size_t n)
{
    if (n == 0) return;
    if (in_cell(w))
        bind_local(w, s, n);
    else
        set_add(w, &w->scope->own[OUT_REBINDS], s, n);
}

/* The object bound to `s` may change in place (an environment, R5/R6 object or
 * data.table: R's other values are copied on modification). */
static void mutate_name(walker *w, const char *s, size_t n)
{
    scope *sc = w->scope;
    if (n == 0) return;
    if (sc->kind == SCOPE_CELL)
        nbr_analysis_add_name(w->a, NBR_NAMES_MAY_MUTATE, s, n);
    else if (!nbr_flow_has(&sc->flow, s, n))
        set_add(w, &sc->own[OUT_IN_PLACE], s, n);
}

static void unbind(walker *w, const char *s, size_t n) { nbr_flow_unbind(&w->scope->flow, s, n); }

static void import_rname(walker *w, const rname *name)
{
    if (name->n) nbr_analysis_add_name(w->a, NBR_NAMES_IMPORTS, name->s, name->n);
}

/* pkg::f and pkg:::f read nothing from the cell's environment; pkg is an import. */
static void import_namespace(walker *w, TSNode ns)
{
    rname pkg = {NULL, 0, NULL};
    if (literal_name(w, child(ns, w->f.lhs), &pkg)) import_rname(w, &pkg);
    rname_free(&pkg);
}

/* After return, break, next or stop() nothing runs on this path: it never
 * weakens the meet of two branches. */
static void end_path(walker *w) { nbr_flow_end_path(&w->scope->flow); }

/* ---- branches ----------------------------------------------------------- */

static void flow_save(walker *w, nbr_flow *saved)
{
    nbr_flow_init(saved);
    if (!nbr_flow_copy(saved, &w->scope->flow)) out_of_memory(w);
}

static void flow_swap(walker *w, nbr_flow *other)
{
    nbr_flow current = w->scope->flow;
    w->scope->flow = *other;
    *other = current;
}

/* Makes `saved` the current state again (what a branch bound is forgotten). */
static void flow_restore(walker *w, nbr_flow *saved)
{
    nbr_flow_clear(&w->scope->flow);
    w->scope->flow = *saved;
}

/* current := the names bound on both paths; consumes `other`. */
static void flow_meet(walker *w, nbr_flow *other)
{
    nbr_flow_meet(&w->scope->flow, other);
    nbr_flow_clear(other);
}

/* ---- forward declarations of the walk ----------------------------------- */

static void walk(walker *w, TSNode n);
static void walk_flat(walker *w, TSNode n);

/* Walks `n` as code that may or may not run (a loop body, the right operand
 * of &&): its reads count, its bindings are not definite afterwards. */
static NOINLINE void walk_maybe(walker *w, TSNode n)
{
    nbr_flow before;
    flow_save(w, &before);
    walk(w, n);
    flow_restore(w, &before);
}

/* Walks every named child (the statements of a block or of the cell, the
 * pieces of an ERROR node).  A cursor keeps this linear in the child count. */
static NOINLINE void walk_children(walker *w, TSNode n)
{
    TSTreeCursor c = ts_tree_cursor_new(n);
    if (ts_tree_cursor_goto_first_child(&c)) {
        do {
            TSNode each = ts_tree_cursor_current_node(&c);
            if (ts_node_is_named(each)) walk(w, each);
        } while (ts_tree_cursor_goto_next_sibling(&c));
    }
    ts_tree_cursor_delete(&c);
}

/* ---- scopes: enter, resolve, hand outwards ------------------------------ */

static scope *scope_enter(walker *w, scope_kind kind)
{
    scope *s = calloc(1, sizeof *s);
    if (!s) {
        out_of_memory(w);
        return NULL;
    }
    nbr_flow_init(&s->flow);
    s->kind = kind;
    s->parent = w->scope;
    w->scope = s;
    return s;
}

static void scope_clear(scope *s)
{
    nbr_flow_clear(&s->flow);
    nbr_strset_clear(&s->locals);
    for (int k = 0; k < OUT_KINDS; k++) {
        nbr_strset_clear(&s->own[k]);
        nbr_strset_clear(&s->pending[k]);
    }
    nbr_strset_clear(&s->global_writes);
}

static void scope_free(scope *s)
{
    if (!s) return;
    scope_clear(s);
    free(s);
}

/* Leaves the scope: what nested scopes handed in and the scope itself binds
 * somewhere is resolved here (R finds it in this frame at call time); the rest
 * joins what the scope hands outwards. */
static void scope_leave(walker *w, scope *s)
{
    for (int k = 0; k < OUT_KINDS; k++)
        for (size_t i = 0; i < s->pending[k].count; i++)
            if (!nbr_strset_contains(&s->locals, s->pending[k].items[i]))
                set_add(w, &s->own[k], s->pending[k].items[i], strlen(s->pending[k].items[i]));
    w->scope = s->parent;
}

static void hand_to_enclosing_function(walker *w, const scope *inner)
{
    scope *outer = w->scope;
    for (int k = 0; k < OUT_KINDS; k++) set_add_all(w, &outer->pending[k], &inner->own[k]);
    set_add_all(w, &outer->global_writes, &inner->global_writes);
}

static void add_names(walker *w, nbr_names which, const nbr_strset *set)
{
    for (size_t i = 0; i < set->count; i++)
        nbr_analysis_add_name(w->a, which, set->items[i], strlen(set->items[i]));
}

/* A function created in the cell: its globals go to its definition (if it is
 * assigned to a name) and its free reads become uses unless already bound;
 * a function that is never named is assumed to be called (lapply(xs,
 * function(x) total <<- total + x)), so its writes are the cell's. */
static void hand_function_to_cell(walker *w, const scope *fn, const rname *self)
{
    nbr_definition *def =
        self ? nbr_analysis_add_definition(w->a, NBR_DEF_FUNCTION, self->s, self->n) : NULL;
    const nbr_strset *reads = &fn->own[OUT_READS];
    for (size_t i = 0; i < reads->count; i++) {
        const char *name = reads->items[i];
        size_t n = strlen(name);
        if (def) nbr_definition_add_access(w->a, def, NBR_ACCESS_READS, name, n);
        bool recursion = self && self->n == n && !memcmp(self->s, name, n);
        if (!recursion) read_name(w, name, n);
    }
    const nbr_strset *writes[] = {&fn->own[OUT_REBINDS], &fn->own[OUT_IN_PLACE],
                                  &fn->global_writes};
    for (size_t k = 0; k < 3; k++) {
        for (size_t i = 0; def && i < writes[k]->count; i++)
            nbr_definition_add_access(w->a, def, NBR_ACCESS_WRITES, writes[k]->items[i],
                                      strlen(writes[k]->items[i]));
    }
    if (!def) {
        add_names(w, NBR_NAMES_DEFS, &fn->own[OUT_REBINDS]);
        add_names(w, NBR_NAMES_DEFS, &fn->global_writes);
        add_names(w, NBR_NAMES_MAY_MUTATE, &fn->own[OUT_IN_PLACE]);
    }
}

/* local() and with() bodies run at once: what they read is read at this
 * point of the enclosing scope. */
static void hand_immediate_to_enclosing(walker *w, const scope *inner)
{
    const nbr_strset *reads = &inner->own[OUT_READS], *changed = &inner->own[OUT_IN_PLACE];
    for (size_t i = 0; i < reads->count; i++)
        read_name(w, reads->items[i], strlen(reads->items[i]));
    for (size_t i = 0; i < changed->count; i++)
        mutate_name(w, changed->items[i], strlen(changed->items[i]));
    if (in_cell(w)) {
        add_names(w, NBR_NAMES_DEFS, &inner->own[OUT_REBINDS]);
        add_names(w, NBR_NAMES_DEFS, &inner->global_writes);
        return;
    }
    /* x <<- v inside local() starts looking for x in the enclosing frame. */
    set_add_all(w, &w->scope->pending[OUT_REBINDS], &inner->own[OUT_REBINDS]);
    set_add_all(w, &w->scope->global_writes, &inner->global_writes);
}

/* ---- function definitions ----------------------------------------------- */

static void walk_parameters(walker *w, TSNode params)
{
    if (ts_node_is_null(params)) return;
    TSTreeCursor c = ts_tree_cursor_new(params);
    /* Bind every parameter first: defaults are evaluated in the function's
     * frame, so `function(a, b = a)` reads the parameter a. */
    for (int pass = 0; pass < 2; pass++) {
        if (!ts_tree_cursor_goto_first_child(&c)) break;
        do {
            if (ts_tree_cursor_current_field_id(&c) != w->f.parameter) continue;
            TSNode p = ts_tree_cursor_current_node(&c);
            if (pass == 0) {
                rname name = {NULL, 0, NULL};
                if (kind_of(child(p, w->f.name)) == N_IDENTIFIER &&
                    literal_name(w, child(p, w->f.name), &name))
                    bind_local(w, name.s, name.n);
                rname_free(&name);
            } else {
                walk(w, child(p, w->f.default_value));
            }
        } while (ts_tree_cursor_goto_next_sibling(&c));
        ts_tree_cursor_reset(&c, params);
    }
    ts_tree_cursor_delete(&c);
}

/* A method of an R6 or reference class sees its object as self / private /
 * super (R6) or .self (RefClass). */
static void bind_object_names(walker *w)
{
    static const char *const names[] = {"self", "private", "super", ".self"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        bind_local(w, names[i], strlen(names[i]));
}

/* What a method rebinds with <<- (a RefClass field) or changes in place is
 * part of its object, not a global. */
static void forget_object_writes(scope *s)
{
    nbr_strset_clear(&s->own[OUT_REBINDS]);
    nbr_strset_clear(&s->own[OUT_IN_PLACE]);
}

/* `self`: the name the function is assigned to at the cell's top level (its
 * definition entry), or NULL. */
static NOINLINE void walk_function(walker *w, TSNode fn, const rname *self)
{
    scope *s = scope_enter(w, SCOPE_FUNCTION);
    if (!s) return;
    bool method = w->class_generators > 0;
    if (method) bind_object_names(w);
    walk_parameters(w, child(fn, w->f.parameters));
    walk(w, child(fn, w->f.body));
    scope_leave(w, s);
    if (method) forget_object_writes(s);
    if (in_cell(w))
        hand_function_to_cell(w, s, self);
    else
        hand_to_enclosing_function(w, s);
    scope_free(s);
}

static NOINLINE void walk_in_new_environment(walker *w, TSNode body)
{
    scope *s = scope_enter(w, SCOPE_IMMEDIATE);
    if (!s) return;
    walk(w, body);
    scope_leave(w, s);
    hand_immediate_to_enclosing(w, s);
    scope_free(s);
}

static TSNode unwrap_parens(const walker *w, TSNode n)
{
    while (kind_of(n) == N_PAREN) n = child(n, w->f.body);
    return n;
}

/* Walks the value of an assignment to `name` (NULL if the target is not a
 * plain name): a function assigned at the cell's top level gets an entry. */
static void walk_value(walker *w, TSNode value, const rname *name)
{
    TSNode v = unwrap_parens(w, value);
    if (kind_of(v) == N_FUNCTION && w->depth < MAX_DEPTH) {
        w->depth++;
        walk_function(w, v, in_cell(w) ? name : NULL);
        w->depth--;
        return;
    }
    walk(w, value);
}

/* ---- assignment --------------------------------------------------------- */

typedef enum assign_kind { ASSIGN_LOCAL, ASSIGN_SUPER } assign_kind;

static void bind(walker *w, const rname *name, assign_kind kind)
{
    if (kind == ASSIGN_LOCAL)
        bind_local(w, name->s, name->n);
    else
        bind_super(w, name->s, name->n);
}

/* The variable at the bottom of an extract/subset chain: df$a[[1]]$b -> df. */
static TSNode value_root(const walker *w, TSNode n)
{
    for (;;) {
        switch (kind_of(n)) {
        case N_IDENTIFIER: return n;
        case N_EXTRACT: n = child(n, w->f.lhs); break;
        case N_SUBSET:
        case N_SUBSET2:
        case N_CALL: n = child(n, w->f.function); break;
        case N_PAREN: n = child(n, w->f.body); break;
        default: return (TSNode){0};
        }
    }
}

static void mutate_root(walker *w, TSNode n)
{
    rname name = {NULL, 0, NULL};
    TSNode root = value_root(w, n);
    if (!ts_node_is_null(root) && literal_name(w, root, &name)) mutate_name(w, name.s, name.n);
    rname_free(&name);
}

static void walk_arguments(walker *w, TSNode args);

/* Reads `name<-` (or `name` too, when `inner`): a function the cell may
 * have defined. */
static void read_replacement_function(walker *w, const rname *name, bool inner)
{
    char *replacement = malloc(name->n + 3);
    if (!replacement) {
        out_of_memory(w);
        return;
    }
    memcpy(replacement, name->s, name->n);
    memcpy(replacement + name->n, "<-", 3);
    read_name(w, replacement, name->n + 2);
    free(replacement);
    if (inner) read_rname(w, name);
}

/* `f(x, i) <- v` calls `f<-`(x, i, value = v); nested in a bigger target, as
 * in `f(x)[1] <- v`, it also calls f(x) to get the part to change.  Reads
 * those functions and the extra arguments, and returns the first argument:
 * the next target down. */
static TSNode replacement_call_target(walker *w, TSNode call, bool inner)
{
    TSNode fn = child(call, w->f.function);
    rname name = {NULL, 0, NULL};
    if (kind_of(fn) == N_NAMESPACE)
        import_namespace(w, fn);
    else if (literal_name(w, fn, &name))
        read_replacement_function(w, &name, inner);
    else
        walk(w, fn);
    rname_free(&name);
    TSNode target = {0};
    TSNode args = child(call, w->f.arguments);
    if (ts_node_is_null(args)) return target;
    TSTreeCursor c = ts_tree_cursor_new(args);
    if (ts_tree_cursor_goto_first_child(&c)) {
        do {
            TSNode arg = ts_tree_cursor_current_node(&c);
            if (kind_of(arg) != N_ARGUMENT) continue;
            TSNode value = child(arg, w->f.value);
            if (ts_node_is_null(target))
                target = value;
            else
                walk(w, value);
        } while (ts_tree_cursor_goto_next_sibling(&c));
    }
    ts_tree_cursor_delete(&c);
    return target;
}

/* Finds the variable a complex assignment changes (names(x)[2] <- v changes
 * x), reading every index and extra argument on the way down.  Returns a
 * null node when the target is not a variable. */
static TSNode replacement_root(walker *w, TSNode target)
{
    TSNode n = target;
    while (!ts_node_is_null(n)) {
        switch (kind_of(n)) {
        case N_IDENTIFIER: return n;
        case N_EXTRACT: n = child(n, w->f.lhs); break;
        case N_SUBSET:
        case N_SUBSET2:
            walk_arguments(w, child(n, w->f.arguments));
            n = child(n, w->f.function);
            break;
        case N_CALL: n = replacement_call_target(w, n, !ts_node_eq(n, target)); break;
        default: walk(w, n); return (TSNode){0};
        }
    }
    return n;
}

/* x$a <- v, names(x) <- v, x[i] <- v: reads x, changes it in place (for an
 * environment or R6 object the change is visible through every reference)
 * and leaves x bound. */
static NOINLINE void assign_replacement(walker *w, TSNode target, assign_kind kind)
{
    rname name = {NULL, 0, NULL};
    TSNode root = replacement_root(w, target);
    if (ts_node_is_null(root)) return;
    if (!literal_name(w, root, &name)) { /* `else <- 1`: walking reports the error */
        walk(w, root);
        return;
    }
    read_rname(w, &name);
    mutate_name(w, name.s, name.n);
    bind(w, &name, kind);
    rname_free(&name);
}

/* The plain name an assignment binds (`b` in `b <- v` or `v -> b`), else a
 * null node. */
static TSNode assigned_name(const walker *w, TSNode n)
{
    if (kind_of(n) != N_BINARY) return (TSNode){0};
    switch (op_of(&w->f, w->src, n)) {
    case OP_ASSIGN:
    case OP_SUPER_ASSIGN: return child(n, w->f.lhs);
    case OP_RIGHT_ASSIGN:
    case OP_SUPER_RIGHT: return child(n, w->f.rhs);
    default: return (TSNode){0};
    }
}

/* b <- a and a <- b <- new.env() leave two names on one object: an in-place
 * change through one is a change through the other. */
static void record_alias(walker *w, const rname *name, TSNode value)
{
    rname other = {NULL, 0, NULL};
    TSNode v = unwrap_parens(w, value);
    if (kind_of(v) == N_BINARY) v = assigned_name(w, v);
    if (in_cell(w) && kind_of(v) == N_IDENTIFIER && literal_name(w, v, &other) &&
        !(other.n == name->n && !memcmp(other.s, name->s, name->n)))
        nbr_analysis_add_relation(w->a, NBR_RELATION_ALIAS, name->s, name->n, other.s, other.n);
    rname_free(&other);
}

/* R evaluates the value first, then binds (or calls the replacement
 * function on) the target. */
static NOINLINE void walk_assignment(walker *w, TSNode target, TSNode value, assign_kind kind,
                                     TSNode op)
{
    if (kind == ASSIGN_SUPER && in_cell(w))
        FLAG(w, op,
             "'%s' at the top level assigns in the global environment, or in an "
             "attached environment that already has the name",
             ts_node_type(op));
    rname name = {NULL, 0, NULL};
    bool plain = literal_name(w, target, &name);
    walk_value(w, value, plain ? &name : NULL);
    if (plain) {
        bind(w, &name, kind);
        record_alias(w, &name, value);
    } else {
        assign_replacement(w, target, kind);
    }
    rname_free(&name);
}

/* a := b (data.table, rlang): a is a column name, not a variable. */
static void walk_walrus(walker *w, TSNode n)
{
    TSNode lhs = child(n, w->f.lhs);
    if (kind_of(lhs) != N_IDENTIFIER) walk(w, lhs);
    walk(w, child(n, w->f.rhs));
}

/* x %<>% f() pipes x into f() and assigns the result back to x. */
static void walk_assign_pipe(walker *w, TSNode target, TSNode pipeline)
{
    rname name = {NULL, 0, NULL};
    if (literal_name(w, target, &name)) {
        read_rname(w, &name);
        walk(w, pipeline);
        bind_local(w, name.s, name.n);
    } else {
        walk(w, pipeline);
        assign_replacement(w, target, ASSIGN_LOCAL);
    }
    rname_free(&name);
}

/* ---- operators ---------------------------------------------------------- */

/* a + b + c + ... nests to the left, one level per operand: walk the chain
 * with an explicit list of right operands instead of recursing down it. */
static NOINLINE void walk_operator_chain(walker *w, TSNode n)
{
    size_t base = w->operands.count;
    while (kind_of(n) == N_BINARY && op_of(&w->f, w->src, n) == OP_PLAIN) {
        if (!PUSH(w, operands, child(n, w->f.rhs))) break;
        n = child(n, w->f.lhs);
    }
    walk(w, n);
    for (size_t i = w->operands.count; i > base; i--) {
        TSNode operand = w->operands.items[i - 1]; /* copy: walk may grow the list */
        walk(w, operand);
    }
    w->operands.count = base;
}

static NOINLINE void walk_binary(walker *w, TSNode n)
{
    TSNode lhs = child(n, w->f.lhs), rhs = child(n, w->f.rhs);
    TSNode op = child(n, w->f.op);
    switch (op_of(&w->f, w->src, n)) {
    case OP_ASSIGN: walk_assignment(w, lhs, rhs, ASSIGN_LOCAL, op); break;
    case OP_SUPER_ASSIGN: walk_assignment(w, lhs, rhs, ASSIGN_SUPER, op); break;
    case OP_RIGHT_ASSIGN: walk_assignment(w, rhs, lhs, ASSIGN_LOCAL, op); break;
    case OP_SUPER_RIGHT: walk_assignment(w, rhs, lhs, ASSIGN_SUPER, op); break;
    case OP_WALRUS: walk_walrus(w, n); break;
    case OP_ASSIGN_PIPE: walk_assign_pipe(w, lhs, rhs); break;
    case OP_SHORT_CIRCUIT:
        walk(w, lhs);
        walk_maybe(w, rhs);
        break;
    case OP_HELP: break;
    case OP_PLAIN: walk_operator_chain(w, n); break;
    }
}

static void walk_unary(walker *w, TSNode n)
{
    if (is_operator(&w->f, n, "?")) return; /* ?topic opens help, reads nothing */
    walk(w, child(n, w->f.rhs));
}

/* ---- control flow ------------------------------------------------------- */

static NOINLINE void walk_if(walker *w, TSNode n)
{
    walk(w, child(n, w->f.condition));
    nbr_flow other;
    flow_save(w, &other);
    walk(w, child(n, w->f.consequence));
    flow_swap(w, &other); /* back to the state after the condition */
    TSNode alternative = child(n, w->f.alternative);
    if (!ts_node_is_null(alternative)) walk(w, alternative);
    flow_meet(w, &other);
}

/* R binds the loop variable before the first iteration (to NULL when the
 * sequence is empty), so it is definite after the loop; the body may run zero
 * times, so nothing it binds is. */
static NOINLINE void walk_for(walker *w, TSNode n)
{
    walk(w, child(n, w->f.sequence));
    rname var = {NULL, 0, NULL};
    if (literal_name(w, child(n, w->f.variable), &var)) bind_local(w, var.s, var.n);
    rname_free(&var);
    walk_maybe(w, child(n, w->f.body));
}

static void walk_while(walker *w, TSNode n)
{
    walk(w, child(n, w->f.condition));
    walk_maybe(w, child(n, w->f.body));
}

/* ---- calls -------------------------------------------------------------- */

typedef struct special special;
typedef void special_handler(walker *w, TSNode call, const special *sp, size_t base, size_t count);

/* A function the analysis knows by name. */
struct special {
    const char *name;
    special_handler *handle;
    const char *const *formals; /* R's formal arguments, NULL-terminated */
    const char *env_formal;     /* the argument naming an environment written to */
    const char *flag;           /* flag message whenever it is called, or NULL */
    bool opaque_by_name;        /* do.call("name", ...) defeats the analysis */
};

/* Pushes the arguments of a call (or subset) onto w->args; returns the index
 * of the first.  Names are kept to match R's formals. */
static size_t collect_arguments(walker *w, TSNode args, size_t *count)
{
    size_t base = w->args.count;
    if (!ts_node_is_null(args)) {
        TSTreeCursor c = ts_tree_cursor_new(args);
        if (ts_tree_cursor_goto_first_child(&c)) {
            do {
                TSNode arg = ts_tree_cursor_current_node(&c);
                call_arg item = {.formal = -1};
                node_kind k = kind_of(arg);
                if (k == N_ARGUMENT) {
                    item.name = child(arg, w->f.name);
                    item.value = child(arg, w->f.value);
                } else if (k == N_ERROR) {
                    item.value = arg;
                } else {
                    continue;
                }
                if (!PUSH(w, args, item)) break;
            } while (ts_tree_cursor_goto_next_sibling(&c));
        }
        ts_tree_cursor_delete(&c);
    }
    *count = w->args.count - base;
    return base;
}

static int formal_index(const char *const *formals, const rname *name)
{
    for (int i = 0; formals && formals[i]; i++)
        if (rname_is(name, formals[i])) return i;
    return -1;
}

/* R's argument matching, minus partial names: exact names first, then the
 * positional arguments fill the remaining formals up to `...`. */
static void match_formals(walker *w, size_t base, size_t count, const char *const *formals)
{
    bool taken[32] = {false};
    for (size_t i = 0; i < count; i++) {
        call_arg *arg = &w->args.items[base + i];
        rname name = {NULL, 0, NULL};
        if (ts_node_is_null(arg->name) || !literal_name(w, arg->name, &name)) continue;
        int f = formal_index(formals, &name);
        rname_free(&name);
        if (f >= 0 && f < 32 && !taken[f] && strcmp(formals[f], "...") != 0) {
            arg->formal = f;
            taken[f] = true;
        }
    }
    int next = 0;
    for (size_t i = 0; formals && i < count; i++) {
        call_arg *arg = &w->args.items[base + i];
        if (!ts_node_is_null(arg->name)) continue;
        while (next < 32 && formals[next] && taken[next]) next++;
        if (next >= 32 || !formals[next] || !strcmp(formals[next], "...")) break;
        arg->formal = next;
        taken[next++] = true;
    }
}

/* The index of the argument matched to formal `formal`, or -1. */
static long argument_for(const walker *w, size_t base, size_t count, const special *sp,
                         const char *formal)
{
    if (!formal) return -1;
    for (size_t i = 0; i < count; i++) {
        int f = w->args.items[base + i].formal;
        if (f >= 0 && !strcmp(sp->formals[f], formal)) return (long)i;
    }
    return -1;
}

static TSNode argument_value(const walker *w, size_t base, long index)
{
    return index < 0 ? (TSNode){0} : w->args.items[base + (size_t)index].value;
}

/* Walks the values of arguments [base, base + count) except `skip` ones. */
static void walk_argument_values(walker *w, size_t base, size_t count, long skip1, long skip2)
{
    for (size_t i = 0; i < count; i++) {
        if ((long)i == skip1 || (long)i == skip2) continue;
        TSNode value = w->args.items[base + i].value; /* copy: walk may grow args */
        walk(w, value);
    }
}

static void walk_arguments(walker *w, TSNode args)
{
    size_t count, base = collect_arguments(w, args, &count);
    walk_argument_values(w, base, count, -1, -1);
    w->args.count = base;
}

/* Where an envir = / pos = argument points. */
typedef enum env_kind { ENV_CURRENT, ENV_GLOBAL, ENV_NAMED, ENV_UNKNOWN } env_kind;

static bool call_to(walker *w, TSNode n, const char *name, bool without_arguments)
{
    rname callee = {NULL, 0, NULL};
    if (kind_of(n) != N_CALL || !literal_name(w, child(n, w->f.function), &callee)) return false;
    bool is = rname_is(&callee, name);
    rname_free(&callee);
    TSNode args = child(n, w->f.arguments);
    return is &&
           (!without_arguments || ts_node_is_null(args) || ts_node_named_child_count(args) == 0);
}

/* Reads nothing; `name` is set for ENV_NAMED. */
static env_kind env_of(walker *w, TSNode n, rname *name)
{
    *name = (rname){NULL, 0, NULL};
    if (ts_node_is_null(n)) return ENV_CURRENT;
    if (kind_of(n) == N_IDENTIFIER && literal_name(w, n, name)) {
        if (rname_is(name, ".GlobalEnv")) {
            rname_free(name);
            return ENV_GLOBAL;
        }
        return ENV_NAMED;
    }
    if (call_to(w, n, "globalenv", true)) return ENV_GLOBAL;
    if (call_to(w, n, "environment", true)) return ENV_CURRENT;
    size_t len;
    const char *text = text_of(w, n, &len);
    if (len == 1 && text[0] == '1') return ENV_GLOBAL; /* pos = 1 */
    return ENV_UNKNOWN;
}

/* Reads an environment argument; a named environment is changed in place. */
static env_kind walk_env_target(walker *w, TSNode call, const special *sp, TSNode env, bool written)
{
    rname name = {NULL, 0, NULL};
    env_kind kind = env_of(w, env, &name);
    if (kind == ENV_NAMED) {
        read_rname(w, &name);
        if (written) mutate_name(w, name.s, name.n);
    } else if (kind == ENV_UNKNOWN) {
        walk(w, env);
        if (written)
            FLAG(w, call, "%s() writes to an environment the analysis cannot identify", sp->name);
    }
    rname_free(&name);
    return kind;
}

/* quote(x), expression(x), substitute(x), alist(x): nothing is evaluated. */
static NOINLINE void handle_unevaluated(walker *w, TSNode call, const special *sp, size_t base,
                                        size_t count)
{
}

static bool is_unquote(walker *w, TSNode n)
{
    return call_to(w, n, ".", false) || call_to(w, n, "..", false);
}

/* Walks the .(x) and ..(x) parts of a bquote() template, the only parts it
 * evaluates.  The template is scanned with a cursor, not by recursion. */
static void walk_unquoted(walker *w, TSNode template)
{
    if (ts_node_is_null(template)) return;
    TSTreeCursor c = ts_tree_cursor_new(template);
    for (;;) {
        TSNode n = ts_tree_cursor_current_node(&c);
        bool unquote = is_unquote(w, n);
        if (unquote) walk_arguments(w, child(n, w->f.arguments));
        if (!unquote && ts_tree_cursor_goto_first_child(&c)) continue;
        bool done = false;
        while (!done && !ts_tree_cursor_goto_next_sibling(&c))
            done = !ts_tree_cursor_goto_parent(&c);
        if (done) break;
    }
    ts_tree_cursor_delete(&c);
}

static NOINLINE void handle_bquote(walker *w, TSNode call, const special *sp, size_t base,
                                   size_t count)
{
    long expr = argument_for(w, base, count, sp, "expr");
    walk_unquoted(w, argument_value(w, base, expr));
    walk_argument_values(w, base, count, expr, -1);
}

typedef enum tristate { NO, YES, MAYBE } tristate;

static tristate truth_of(walker *w, TSNode n)
{
    if (ts_node_is_null(n)) return NO;
    size_t len;
    const char *t = text_of(w, n, &len);
    if ((len == 4 && !memcmp(t, "TRUE", 4)) || (len == 1 && t[0] == 'T')) return YES;
    if ((len == 5 && !memcmp(t, "FALSE", 5)) || (len == 1 && t[0] == 'F')) return NO;
    return MAYBE;
}

/* library(pkg) takes the package name unevaluated, unless
 * character.only = TRUE makes it an expression. */
static NOINLINE void handle_library(walker *w, TSNode call, const special *sp, size_t base,
                                    size_t count)
{
    long package = argument_for(w, base, count, sp, "package");
    long help = argument_for(w, base, count, sp, "help");
    long char_only = argument_for(w, base, count, sp, "character.only");
    tristate by_value = truth_of(w, argument_value(w, base, char_only));
    walk_argument_values(w, base, count, package, help);
    TSNode pkg = argument_value(w, base, package);
    if (ts_node_is_null(pkg)) return;
    rname name = {NULL, 0, NULL};
    node_kind k = kind_of(pkg);
    if (k == N_STRING && string_literal(w, pkg, &name)) {
        import_rname(w, &name);
    } else if (k == N_IDENTIFIER && by_value == NO && literal_name(w, pkg, &name)) {
        import_rname(w, &name);
    } else {
        walk(w, pkg);
        FLAG(w, call, "%s(..., character.only = TRUE) loads a package named at run time", sp->name);
    }
    rname_free(&name);
}

/* requireNamespace("pkg"), loadNamespace("pkg"): the name is evaluated. */
static NOINLINE void handle_namespace_load(walker *w, TSNode call, const special *sp, size_t base,
                                           size_t count)
{
    long package = argument_for(w, base, count, sp, "package");
    walk_argument_values(w, base, count, package, -1);
    TSNode pkg = argument_value(w, base, package);
    rname name = {NULL, 0, NULL};
    if (string_literal(w, pkg, &name)) {
        import_rname(w, &name);
    } else if (!ts_node_is_null(pkg)) {
        walk(w, pkg);
        FLAG(w, call, "%s() loads a package named at run time", sp->name);
    }
    rname_free(&name);
}

static void delete_name(walker *w, const rname *name, env_kind env)
{
    if (env == ENV_CURRENT || (env == ENV_GLOBAL && in_cell(w))) {
        if (in_cell(w)) nbr_analysis_add_name(w->a, NBR_NAMES_DELETES, name->s, name->n);
        unbind(w, name->s, name->n);
    } else if (env == ENV_GLOBAL) {
        set_add(w, &w->scope->global_writes, name->s, name->n);
    }
}

/* rm(list = "a"), rm(list = c("a", "b")): the literal names, if that is all. */
static bool delete_listed(walker *w, TSNode list, env_kind env)
{
    rname name = {NULL, 0, NULL};
    if (string_literal(w, list, &name)) {
        delete_name(w, &name, env);
        rname_free(&name);
        return true;
    }
    if (!call_to(w, list, "c", false)) return false;
    read_name(w, "c", 1);
    size_t count, base = collect_arguments(w, child(list, w->f.arguments), &count);
    bool literal = count > 0;
    for (size_t i = 0; literal && i < count; i++) {
        literal = ts_node_is_null(w->args.items[base + i].name) &&
                  kind_of(w->args.items[base + i].value) == N_STRING;
    }
    for (size_t i = 0; literal && i < count; i++) {
        if (string_literal(w, w->args.items[base + i].value, &name)) delete_name(w, &name, env);
        rname_free(&name);
    }
    w->args.count = base;
    return literal;
}

/* rm(x, "y", list = c("a", "b"), envir = e) */
static NOINLINE void handle_rm(walker *w, TSNode call, const special *sp, size_t base, size_t count)
{
    long list = argument_for(w, base, count, sp, "list");
    long envir = argument_for(w, base, count, sp, "envir");
    env_kind env = walk_env_target(w, call, sp, argument_value(w, base, envir), true);
    for (size_t i = 0; i < count; i++) {
        call_arg arg = w->args.items[base + i];
        if ((long)i == envir) continue;
        if ((long)i == list) {
            if (!delete_listed(w, arg.value, env)) {
                walk(w, arg.value);
                FLAG(w, call, "%s(list = ...) removes names computed at run time", sp->name);
            }
            continue;
        }
        rname name = {NULL, 0, NULL};
        node_kind k = kind_of(arg.value);
        if (arg.formal < 0 && (k == N_IDENTIFIER || k == N_STRING) &&
            literal_name(w, arg.value, &name)) {
            delete_name(w, &name, env);
        } else if (arg.formal < 0) {
            walk(w, arg.value);
            FLAG(w, call, "%s() of an expression removes a name the analysis cannot see", sp->name);
        } else {
            walk(w, arg.value);
        }
        rname_free(&name);
    }
}

static void assign_into(walker *w, const rname *name, env_kind env)
{
    if (env == ENV_CURRENT || (env == ENV_GLOBAL && in_cell(w)))
        bind_local(w, name->s, name->n);
    else if (env == ENV_GLOBAL)
        set_add(w, &w->scope->global_writes, name->s, name->n);
}

/* assign("x", v, envir = e), delayedAssign("x", v), makeActiveBinding("x", f, e) */
static NOINLINE void handle_assign(walker *w, TSNode call, const special *sp, size_t base,
                                   size_t count)
{
    long target = argument_for(w, base, count, sp, sp->formals[0]);
    long value = argument_for(w, base, count, sp, sp->formals[1]);
    long envir = argument_for(w, base, count, sp, sp->env_formal);
    if (envir < 0) envir = argument_for(w, base, count, sp, "pos");
    rname name = {NULL, 0, NULL};
    bool literal = string_literal(w, argument_value(w, base, target), &name);
    if (!literal) {
        walk(w, argument_value(w, base, target));
        FLAG(w, call, "%s() binds a name computed at run time", sp->name);
    }
    walk_value(w, argument_value(w, base, value), literal ? &name : NULL);
    for (size_t i = 0; i < count; i++) {
        if ((long)i == target || (long)i == value || (long)i == envir) continue;
        TSNode other = w->args.items[base + i].value;
        walk(w, other);
    }
    env_kind env = walk_env_target(w, call, sp, argument_value(w, base, envir), true);
    if (literal) assign_into(w, &name, env);
    rname_free(&name);
}

/* mget(c("a", "b")): reads the literal names; false if any is computed. */
static bool read_listed(walker *w, TSNode list)
{
    rname name = {NULL, 0, NULL};
    if (string_literal(w, list, &name)) {
        read_rname(w, &name);
        rname_free(&name);
        return true;
    }
    if (!call_to(w, list, "c", false)) return false;
    read_name(w, "c", 1);
    size_t count, base = collect_arguments(w, child(list, w->f.arguments), &count);
    bool literal = count > 0;
    for (size_t i = 0; literal && i < count; i++)
        literal = kind_of(w->args.items[base + i].value) == N_STRING;
    for (size_t i = 0; literal && i < count; i++) {
        if (string_literal(w, w->args.items[base + i].value, &name)) read_rname(w, &name);
        rname_free(&name);
    }
    w->args.count = base;
    return literal;
}

/* get("x"), get0, mget, exists: a literal name is read like the variable. */
static NOINLINE void handle_get(walker *w, TSNode call, const special *sp, size_t base,
                                size_t count)
{
    long target = argument_for(w, base, count, sp, "x");
    walk_argument_values(w, base, count, target, -1);
    TSNode x = argument_value(w, base, target);
    bool literal = !ts_node_is_null(x) && read_listed(w, x);
    if (!literal) walk(w, x);
    if (sp->flag)
        FLAG(w, call, "%s", sp->flag);
    else if (!literal)
        FLAG(w, call, "%s() looks up a variable chosen at run time", sp->name);
}

/* eval, parse, source, attach, load, ...: flagged, arguments read. */
static NOINLINE void handle_flagged(walker *w, TSNode call, const special *sp, size_t base,
                                    size_t count)
{
    long envir = argument_for(w, base, count, sp, sp->env_formal);
    walk_argument_values(w, base, count, envir, -1);
    FLAG(w, call, "%s", sp->flag);
    rname name = {NULL, 0, NULL};
    TSNode env = argument_value(w, base, envir);
    env_kind kind = env_of(w, env, &name);
    if (kind == ENV_NAMED) {
        read_rname(w, &name);
        mutate_name(w, name.s, name.n);
    } else if (kind == ENV_UNKNOWN) {
        walk(w, env); /* already flagged */
    }
    rname_free(&name);
}

/* local(expr) runs expr at once in a new environment; local(expr, envir = e)
 * runs it in e, which the analysis does not follow. */
static NOINLINE void handle_local(walker *w, TSNode call, const special *sp, size_t base,
                                  size_t count)
{
    long expr = argument_for(w, base, count, sp, "expr");
    long envir = argument_for(w, base, count, sp, "envir");
    walk_argument_values(w, base, count, expr, envir);
    TSNode env = argument_value(w, base, envir);
    if (!ts_node_is_null(env) && !call_to(w, env, "new.env", false)) {
        rname name = {NULL, 0, NULL};
        if (env_of(w, env, &name) == ENV_NAMED) {
            read_rname(w, &name);
            mutate_name(w, name.s, name.n);
        } else {
            walk(w, env);
        }
        rname_free(&name);
        FLAG(w, call, "%s",
             "local(..., envir = ) runs code in an environment the analysis does not follow");
    } else {
        walk(w, env); /* local(expr, envir = new.env()) is the default */
    }
    walk_in_new_environment(w, argument_value(w, base, expr));
}

/* with(data, expr), within(data, expr): expr runs in an environment made
 * from data, whose columns the analysis cannot know. */
static NOINLINE void handle_with(walker *w, TSNode call, const special *sp, size_t base,
                                 size_t count)
{
    long data = argument_for(w, base, count, sp, "data");
    long expr = argument_for(w, base, count, sp, "expr");
    walk(w, argument_value(w, base, data));
    walk_in_new_environment(w, argument_value(w, base, expr));
    walk_argument_values(w, base, count, data, expr);
}

static const special *find_special(const rname *name);

/* do.call("f", args) calls f: a read of f, and a flag if f is one of the
 * functions that only work on names the analysis then cannot see. */
static NOINLINE void handle_do_call(walker *w, TSNode call, const special *sp, size_t base,
                                    size_t count)
{
    long what = argument_for(w, base, count, sp, "what");
    rname name = {NULL, 0, NULL};
    if (string_literal(w, argument_value(w, base, what), &name)) {
        read_rname(w, &name);
        const special *callee = find_special(&name);
        if (callee && callee->opaque_by_name)
            FLAG(w, call, "do.call() calls %s() with arguments the analysis cannot see",
                 callee->name);
    } else {
        walk(w, argument_value(w, base, what));
    }
    rname_free(&name);
    walk_argument_values(w, base, count, what, -1);
}

/* switch(EXPR, a = ..., b = ...): at most one alternative runs. */
static NOINLINE void handle_switch(walker *w, TSNode call, const special *sp, size_t base,
                                   size_t count)
{
    long expr = argument_for(w, base, count, sp, "EXPR");
    walk(w, argument_value(w, base, expr));
    for (size_t i = 0; i < count; i++) {
        if ((long)i == expr) continue;
        TSNode value = w->args.items[base + i].value;
        walk_maybe(w, value);
    }
}

/* try(expr), tryCatch(expr, ..., finally = f): expr may stop half-way. */
static NOINLINE void handle_try(walker *w, TSNode call, const special *sp, size_t base,
                                size_t count)
{
    long finally = argument_for(w, base, count, sp, "finally");
    for (size_t i = 0; i < count; i++) {
        if ((long)i == finally) continue;
        TSNode value = w->args.items[base + i].value;
        walk_maybe(w, value);
    }
    walk(w, argument_value(w, base, finally));
}

static NOINLINE void handle_stop(walker *w, TSNode call, const special *sp, size_t base,
                                 size_t count)
{
    walk_argument_values(w, base, count, -1, -1);
    end_path(w);
}

/* R6Class(...), setRefClass(...): the functions in the arguments are methods. */
static NOINLINE void handle_class_generator(walker *w, TSNode call, const special *sp, size_t base,
                                            size_t count)
{
    w->class_generators++;
    walk_argument_values(w, base, count, -1, -1);
    w->class_generators--;
}

/* data.table's set* functions change their first argument by reference. */
static NOINLINE void handle_in_place(walker *w, TSNode call, const special *sp, size_t base,
                                     size_t count)
{
    walk_argument_values(w, base, count, -1, -1);
    mutate_root(w, argument_value(w, base, argument_for(w, base, count, sp, "x")));
}

static const char *const F_LIBRARY[] = {
    "package",        "help",           "pos",     "lib.loc", "character.only",
    "logical.return", "warn.conflicts", "quietly", "verbose", NULL};
static const char *const F_REQUIRE[] = {"package",        "lib.loc",        "quietly",
                                        "warn.conflicts", "character.only", NULL};
static const char *const F_NAMESPACE[] = {"package", "...", NULL};
static const char *const F_RM[] = {"...", "list", "pos", "envir", "inherits", NULL};
static const char *const F_ASSIGN[] = {"x", "value", "pos", "envir", "inherits", "immediate", NULL};
static const char *const F_DELAYED[] = {"x", "value", "eval.env", "assign.env", NULL};
static const char *const F_ACTIVE[] = {"sym", "fun", "env", NULL};
static const char *const F_GET[] = {"x", "pos", "envir", "mode", "inherits", NULL};
static const char *const F_GET0[] = {"x", "envir", "mode", "inherits", "ifnotfound", NULL};
static const char *const F_MGET[] = {"x", "envir", "mode", "ifnotfound", "inherits", NULL};
static const char *const F_EXISTS[] = {"x", "where", "envir", "frame", "mode", "inherits", NULL};
static const char *const F_EVAL[] = {"expr", "envir", "enclos", NULL};
static const char *const F_FILE_ENV[] = {"file", "envir", NULL};
static const char *const F_LIST2ENV[] = {"x", "envir", "parent", "hash", "size", NULL};
static const char *const F_LOCAL[] = {"expr", "envir", NULL};
static const char *const F_WITH[] = {"data", "expr", "...", NULL};
static const char *const F_DO_CALL[] = {"what", "args", "quote", "envir", NULL};
static const char *const F_SWITCH[] = {"EXPR", "...", NULL};
static const char *const F_TRY[] = {"expr", "...", "finally", NULL};
static const char *const F_FIRST[] = {"x", "...", NULL};
static const char *const F_DOTS[] = {"...", NULL};
static const char *const F_BQUOTE[] = {"expr", "where", "splice", NULL};

static const special SPECIALS[] = {
    {"quote", handle_unevaluated, F_DOTS, NULL, NULL, false},
    {"bquote", handle_bquote, F_BQUOTE, NULL, NULL, false},
    {"expression", handle_unevaluated, F_DOTS, NULL, NULL, false},
    {"substitute", handle_unevaluated, F_DOTS, NULL, NULL, false},
    {"alist", handle_unevaluated, F_DOTS, NULL, NULL, false},
    {"library", handle_library, F_LIBRARY, NULL, NULL, true},
    {"require", handle_library, F_REQUIRE, NULL, NULL, true},
    {"requireNamespace", handle_namespace_load, F_NAMESPACE, NULL, NULL, true},
    {"loadNamespace", handle_namespace_load, F_NAMESPACE, NULL, NULL, true},
    {"rm", handle_rm, F_RM, "envir", NULL, true},
    {"remove", handle_rm, F_RM, "envir", NULL, true},
    {"assign", handle_assign, F_ASSIGN, "envir", NULL, true},
    {"delayedAssign", handle_assign, F_DELAYED, "assign.env", NULL, true},
    {"makeActiveBinding", handle_assign, F_ACTIVE, "env", NULL, true},
    {"get", handle_get, F_GET, NULL, "get() reads a variable chosen by name at run time", true},
    {"get0", handle_get, F_GET0, NULL, "get0() reads a variable chosen by name at run time", true},
    {"mget", handle_get, F_MGET, NULL, "mget() reads variables chosen by name at run time", true},
    {"exists", handle_get, F_EXISTS, NULL, NULL, true},
    {"eval", handle_flagged, F_EVAL, "envir", "eval() runs code the analysis cannot see", true},
    {"evalq", handle_flagged, F_EVAL, "envir", "evalq() runs code the analysis cannot follow",
     true},
    {"parse", handle_flagged, NULL, NULL, "parse() turns text into code the analysis cannot see",
     true},
    {"str2lang", handle_flagged, NULL, NULL,
     "str2lang() turns text into code the analysis cannot see", true},
    {"str2expression", handle_flagged, NULL, NULL,
     "str2expression() turns text into code the analysis cannot see", true},
    {"source", handle_flagged, NULL, NULL, "source() runs code from a file the analysis cannot see",
     true},
    {"sys.source", handle_flagged, F_FILE_ENV, "envir",
     "sys.source() runs code from a file the analysis cannot see", true},
    {"attach", handle_flagged, NULL, NULL,
     "attach() puts names the analysis cannot see on the search path", true},
    {"load", handle_flagged, F_FILE_ENV, "envir",
     "load() binds the names saved in a file, which the analysis cannot see", true},
    {"list2env", handle_flagged, F_LIST2ENV, "envir", "list2env() binds names computed at run time",
     true},
    {"sys.function", handle_flagged, NULL, NULL,
     "sys.function() reaches the running function at run time", true},
    {"local", handle_local, F_LOCAL, "envir", NULL, true},
    {"with", handle_with, F_WITH, NULL, NULL, false},
    {"within", handle_with, F_WITH, NULL, NULL, false},
    {"do.call", handle_do_call, F_DO_CALL, NULL, NULL, true},
    {"switch", handle_switch, F_SWITCH, NULL, NULL, false},
    {"try", handle_try, F_TRY, NULL, NULL, false},
    {"tryCatch", handle_try, F_TRY, NULL, NULL, false},
    {"stop", handle_stop, F_DOTS, NULL, NULL, false},
    {"R6Class", handle_class_generator, F_DOTS, NULL, NULL, false},
    {"setRefClass", handle_class_generator, F_DOTS, NULL, NULL, false},
    {"set", handle_in_place, F_FIRST, NULL, NULL, false},
    {"setDT", handle_in_place, F_FIRST, NULL, NULL, false},
    {"setDF", handle_in_place, F_FIRST, NULL, NULL, false},
    {"setnames", handle_in_place, F_FIRST, NULL, NULL, false},
    {"setkey", handle_in_place, F_FIRST, NULL, NULL, false},
    {"setkeyv", handle_in_place, F_FIRST, NULL, NULL, false},
    {"setattr", handle_in_place, F_FIRST, NULL, NULL, false},
    {"setorder", handle_in_place, F_FIRST, NULL, NULL, false},
    {"setorderv", handle_in_place, F_FIRST, NULL, NULL, false},
    {"setcolorder", handle_in_place, F_FIRST, NULL, NULL, false},
    {"setindex", handle_in_place, F_FIRST, NULL, NULL, false},
    {"setindexv", handle_in_place, F_FIRST, NULL, NULL, false},
};

static const special *find_special(const rname *name)
{
    for (size_t i = 0; i < sizeof SPECIALS / sizeof SPECIALS[0]; i++)
        if (rname_is(name, SPECIALS[i].name)) return &SPECIALS[i];
    return NULL;
}

/* The special function a call's callee names (`rm`, `base::rm`), reading
 * the callee as it goes; NULL for any other callee. */
static const special *walk_callee(walker *w, TSNode fn)
{
    const special *sp = NULL;
    rname name = {NULL, 0, NULL};
    switch (kind_of(fn)) {
    case N_IDENTIFIER:
    case N_STRING: /* "f"(x) calls f */
        if (literal_name(w, fn, &name)) {
            read_rname(w, &name);
            sp = find_special(&name);
        }
        break;
    case N_NAMESPACE:
        import_namespace(w, fn);
        if (literal_name(w, child(fn, w->f.rhs), &name)) sp = find_special(&name);
        break;
    default: walk(w, fn); break;
    }
    rname_free(&name);
    return sp;
}

/* obj$method(...) may change obj: R5 reference classes, R6 objects and
 * environments have reference semantics. */
static bool is_method_call(const walker *w, TSNode fn)
{
    return kind_of(fn) == N_EXTRACT && is_operator(&w->f, fn, "$");
}

static NOINLINE void walk_call(walker *w, TSNode call)
{
    TSNode fn = child(call, w->f.function);
    TSNode args = child(call, w->f.arguments);
    if (kind_of(fn) == N_RETURN) {
        walk_arguments(w, args);
        end_path(w);
        return;
    }
    const special *sp = walk_callee(w, fn);
    size_t count, base = collect_arguments(w, args, &count);
    if (sp) {
        match_formals(w, base, count, sp->formals);
        sp->handle(w, call, sp, base, count);
    } else {
        walk_argument_values(w, base, count, -1, -1);
    }
    w->args.count = base;
    if (is_method_call(w, fn)) mutate_root(w, child(fn, w->f.lhs));
}

/* DT[i, a := v] changes DT by reference (data.table). */
static bool is_walrus(walker *w, TSNode value)
{
    if (kind_of(value) == N_BINARY) return op_of(&w->f, w->src, value) == OP_WALRUS;
    return call_to(w, value, ":=", false);
}

static NOINLINE void walk_subset(walker *w, TSNode n)
{
    TSNode fn = child(n, w->f.function);
    walk(w, fn);
    size_t count, base = collect_arguments(w, child(n, w->f.arguments), &count);
    bool by_reference = false;
    for (size_t i = 0; i < count; i++) {
        TSNode value = w->args.items[base + i].value;
        by_reference |= is_walrus(w, value);
        walk(w, value);
    }
    w->args.count = base;
    if (by_reference) mutate_root(w, fn);
}

/* ---- the walk ----------------------------------------------------------- */

static NOINLINE void walk_identifier(walker *w, TSNode n)
{
    rname name = {NULL, 0, NULL};
    size_t len;
    const char *text = text_of(w, n, &len);
    if (is_stray_keyword(text, len))
        nbr_analysis_add_diagnostic(w->a, NBR_DIAG_ERROR, line_of(n), column_of(n),
                                    "syntax error: unexpected '%.*s'", (int)len, text);
    else if (literal_name(w, n, &name))
        read_rname(w, &name);
    rname_free(&name);
}

static void walk_node(walker *w, TSNode n)
{
    switch (kind_of(n)) {
    case N_IDENTIFIER: walk_identifier(w, n); break;
    case N_BINARY: walk_binary(w, n); break;
    case N_UNARY: walk_unary(w, n); break;
    case N_EXTRACT: walk(w, child(n, w->f.lhs)); break; /* x$name reads x only */
    case N_NAMESPACE: import_namespace(w, n); break;
    case N_CALL: walk_call(w, n); break;
    case N_SUBSET:
    case N_SUBSET2: walk_subset(w, n); break;
    case N_PAREN: walk(w, child(n, w->f.body)); break;
    case N_BRACE:
    case N_ERROR:
    case N_ARGUMENTS: walk_children(w, n); break;
    case N_ARGUMENT: walk(w, child(n, w->f.value)); break;
    case N_IF: walk_if(w, n); break;
    case N_FOR: walk_for(w, n); break;
    case N_WHILE: walk_while(w, n); break;
    case N_REPEAT: walk_maybe(w, child(n, w->f.body)); break;
    case N_FUNCTION: walk_function(w, n, NULL); break;
    case N_BREAK:
    case N_NEXT: end_path(w); break;
    default: break; /* literals, keywords, comments, ... */
    }
}

static void walk(walker *w, TSNode n)
{
    if (ts_node_is_null(n) || ts_node_is_missing(n)) return;
    if (w->depth >= MAX_DEPTH) {
        walk_flat(w, n);
        return;
    }
    w->depth++;
    walk_node(w, n);
    w->depth--;
}

/* ---- too deep: a flat, conservative scan -------------------------------- */

/* What an identifier met by the flat scan is, given its parent. */
static void flat_identifier(walker *w, TSNode n, TSFieldId field, const flat_frame *parent)
{
    rname name = {NULL, 0, NULL};
    if (!literal_name(w, n, &name)) return;
    node_kind pk = parent ? parent->kind : N_OTHER;
    if (pk == N_NAMESPACE) {
        if (field == w->f.lhs) import_rname(w, &name);
    } else if (field == w->f.name || (pk == N_EXTRACT && field == w->f.rhs)) {
        /* an argument or parameter name, or x$name: not a variable */
    } else {
        read_rname(w, &name);
        bool assigned = pk == N_BINARY && ((field == w->f.lhs && parent->op == OP_ASSIGN) ||
                                           (field == w->f.rhs && parent->op == OP_RIGHT_ASSIGN));
        if (assigned) bind_local(w, name.s, name.n);
    }
    rname_free(&name);
}

/* Past MAX_DEPTH the structure is ignored: every variable in the subtree is
 * read, plain assignment targets are bound, and the cell is flagged.  An
 * explicit stack bounds the C stack whatever the nesting. */
static NOINLINE void walk_flat(walker *w, TSNode n)
{
    if (!w->depth_flagged) {
        w->depth_flagged = true;
        FLAG(w, n, "%s", "code nested this deeply is analysed approximately");
    }
    size_t base = w->flat.count;
    TSTreeCursor c = ts_tree_cursor_new(n);
    for (;;) {
        TSNode each = ts_tree_cursor_current_node(&c);
        node_kind k = kind_of(each);
        const flat_frame *parent = w->flat.count > base ? &w->flat.items[w->flat.count - 1] : NULL;
        if (k == N_IDENTIFIER)
            flat_identifier(w, each, ts_tree_cursor_current_field_id(&c), parent);
        flat_frame frame = {k, k == N_BINARY ? op_of(&w->f, w->src, each) : OP_PLAIN};
        if (ts_tree_cursor_goto_first_child(&c)) {
            if (!PUSH(w, flat, frame)) break;
            continue;
        }
        bool done = false;
        while (!ts_tree_cursor_goto_next_sibling(&c)) {
            if (w->flat.count == base || !ts_tree_cursor_goto_parent(&c)) {
                done = true;
                break;
            }
            w->flat.count--;
        }
        if (done) break;
    }
    w->flat.count = base;
    ts_tree_cursor_delete(&c);
}

/* ---- syntax errors ------------------------------------------------------ */

/* Up to EXCERPT_BYTES of the node's text, stopping at a line end and never
 * cutting a UTF-8 sequence. */
static size_t excerpt(const walker *w, TSNode n, char *out, size_t size)
{
    size_t len;
    const char *s = text_of(w, n, &len);
    size_t k = 0;
    while (k < len && k + 1 < size && k < EXCERPT_BYTES && s[k] != '\n' && s[k] != '\r') k++;
    while (k > 0 && k < len && ((unsigned char)s[k] & 0xC0) == 0x80) k--;
    memcpy(out, s, k);
    while (k > 0 && (out[k - 1] == ' ' || out[k - 1] == '\t')) k--;
    out[k] = '\0';
    return k;
}

/* True if nothing but white space and comments follows the node. */
static bool runs_to_end(const walker *w, TSNode n)
{
    for (size_t i = ts_node_end_byte(n); i < w->length; i++) {
        char c = w->src[i];
        if (c == '#')
            while (i + 1 < w->length && w->src[i + 1] != '\n') i++;
        else if (c != ' ' && c != '\t' && c != '\r' && c != '\n')
            return false;
    }
    return true;
}

static void report_error_node(walker *w, TSNode n)
{
    char text[EXCERPT_BYTES + 1];
    TSPoint p = ts_node_start_point(n);
    uint32_t line = p.row + 1, column = p.column + 1;
    if (excerpt(w, n, text, sizeof text) == 0)
        nbr_analysis_add_diagnostic(w->a, NBR_DIAG_ERROR, line, column,
                                    "syntax error: unexpected end of input");
    else if (runs_to_end(w, n))
        nbr_analysis_add_diagnostic(w->a, NBR_DIAG_ERROR, line, column,
                                    "syntax error: incomplete code at '%s'", text);
    else
        nbr_analysis_add_diagnostic(w->a, NBR_DIAG_ERROR, line, column,
                                    "syntax error: unexpected '%s'", text);
}

static void report_missing_node(walker *w, TSNode n)
{
    const char *type = ts_node_type(n);
    if (!strcmp(type, "\"") || !strcmp(type, "'")) {
        /* Reported where the string starts: the end of input says little. */
        TSNode string = ts_node_parent(n);
        for (int up = 0; up < 3 && !ts_node_is_null(string) && kind_of(string) != N_STRING; up++)
            string = ts_node_parent(string);
        TSPoint p = ts_node_start_point(ts_node_is_null(string) ? n : string);
        nbr_analysis_add_diagnostic(w->a, NBR_DIAG_ERROR, p.row + 1, p.column + 1,
                                    "syntax error: unterminated string (no closing %s)", type);
        return;
    }
    TSPoint p = ts_node_start_point(n);
    nbr_analysis_add_diagnostic(
        w->a, NBR_DIAG_ERROR, p.row + 1, p.column + 1,
        ts_node_is_named(n) ? "syntax error: missing %s" : "syntax error: missing '%s'", type);
}

/* Every ERROR (outermost only) and MISSING node, in source order.  Only
 * subtrees that contain an error are entered. */
static void report_syntax_errors(walker *w, TSNode root)
{
    if (!ts_node_has_error(root)) return;
    TSTreeCursor c = ts_tree_cursor_new(root);
    size_t reported = 0;
    for (;;) {
        TSNode n = ts_tree_cursor_current_node(&c);
        bool enter = false;
        if (ts_node_is_missing(n)) {
            report_missing_node(w, n);
            reported++;
        } else if (ts_node_symbol(n) == (TSSymbol)-1) { /* ERROR */
            report_error_node(w, n);
            reported++;
        } else {
            enter = ts_node_has_error(n);
        }
        if (reported >= MAX_ERRORS) break;
        if (enter && ts_tree_cursor_goto_first_child(&c)) continue;
        bool done = false;
        while (!ts_tree_cursor_goto_next_sibling(&c)) {
            if (!ts_tree_cursor_goto_parent(&c)) {
                done = true;
                break;
            }
        }
        if (done) break;
    }
    ts_tree_cursor_delete(&c);
}

/* ---- entry point -------------------------------------------------------- */

static void walker_free(walker *w)
{
    free(w->operands.items);
    free(w->args.items);
    free(w->flat.items);
}

static nbr_status parse_cell(TSTree **out, const char *source, size_t length)
{
    *out = NULL;
    if (length > UINT32_MAX) /* tree-sitter counts bytes in 32 bits */
        return nbr_fail(NBR_EINVAL, "R cell of %zu bytes is too large", length);
    const TSLanguage *lang = tree_sitter_r();
    TSParser *parser = ts_parser_new();
    if (!parser) return nbr_fail_nomem("creating the R parser");
    if (!ts_parser_set_language(parser, lang)) {
        ts_parser_delete(parser);
        return nbr_fail(NBR_ERROR, "the R grammar (ABI %u) does not load into this tree-sitter",
                        ts_language_version(lang));
    }
    *out = ts_parser_parse_string(parser, NULL, source, (uint32_t)length);
    ts_parser_delete(parser);
    return *out ? NBR_OK : nbr_fail(NBR_ERROR, "tree-sitter could not parse the R cell");
}

nbr_status nbr_analyze_r(nbr_analysis *a, const char *source, size_t length)
{
    pthread_once(&r_grammar_once, load_r_grammar);
    TSTree *tree;
    nbr_status status = parse_cell(&tree, source, length);
    if (status != NBR_OK) return status;

    walker w = {.a = a, .src = source, .length = length, .f = r_fields};
    scope cell = {.kind = SCOPE_CELL};
    nbr_flow_init(&cell.flow);
    w.scope = &cell;
    TSNode root = ts_tree_root_node(tree);
    report_syntax_errors(&w, root);
    walk_children(&w, root);

    scope_clear(&cell);
    walker_free(&w);
    ts_tree_delete(tree);
    return NBR_OK;
}
