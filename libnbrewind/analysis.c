/* analysis.c - the public nbr_analysis API: input checks, dispatch to the
 * language analyzer, result accessors and JSON rendering. */
#include "analysis.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "buf.h"
#include "utf8.h"

/* ---- languages -------------------------------------------------------- */

nbr_status nbr_language_from_name(nbr_language *out, const char *name)
{
    if (!out) return nbr_fail(NBR_EINVAL, "nbr_language_from_name: out is NULL");
    *out = 0;
    if (!name) return nbr_fail(NBR_EINVAL, "nbr_language_from_name: name is NULL");
    if (!strcasecmp(name, "python") || !strcasecmp(name, "python3") ||
        !strcasecmp(name, "ipython")) {
        *out = NBR_LANG_PYTHON;
        return NBR_OK;
    }
    if (!strcasecmp(name, "r")) {
        *out = NBR_LANG_R;
        return NBR_OK;
    }
    return nbr_fail(NBR_EUNSUPPORTED, "unknown language '%s' (expected 'python' or 'r')", name);
}

const char *nbr_language_name(nbr_language lang)
{
    switch (lang) {
    case NBR_LANG_PYTHON: return "python";
    case NBR_LANG_R: return "r";
    default: return NULL;
    }
}

/* ---- input checks ------------------------------------------------------ */

/* The offset of the first NUL byte or invalid UTF-8 sequence, or `length`. */
static size_t first_invalid_text(const char *s, size_t length)
{
    const char *nul = memchr(s, '\0', length);
    size_t limit = nul ? (size_t)(nul - s) : length;
    size_t bad = nbr_utf8_first_invalid(s, limit);
    return bad < limit ? bad : (nul ? limit : length);
}

/* tree-sitter 0.20 corrupts its heap on inputs nested around 65536 brackets
 * deep, so such input is never handed to it.  Brackets inside strings count
 * too: an over-estimate only matters for cells no person writes. */
#define MAX_BRACKET_DEPTH 10000

static bool nested_too_deep(const char *s, size_t length)
{
    long depth = 0;
    for (size_t i = 0; i < length; i++) {
        if (s[i] == '(' || s[i] == '[' || s[i] == '{') {
            if (++depth > MAX_BRACKET_DEPTH) return true;
        } else if ((s[i] == ')' || s[i] == ']' || s[i] == '}') && depth > 0) {
            depth--;
        }
    }
    return false;
}

/* ---- builder ----------------------------------------------------------- */

#define GROW(list) NBR_RESERVE((list).items, (list).capacity, (list).count + 1)

void nbr_analysis_add_name(nbr_analysis *a, nbr_names which, const char *name, size_t length)
{
    if (!nbr_strset_add_n(&a->names[which], name, length)) a->out_of_memory = true;
}

nbr_definition *nbr_analysis_add_definition(nbr_analysis *a, nbr_definition_kind kind,
                                            const char *name, size_t length)
{
    for (size_t i = 0; i < a->definitions[kind].count; i++) {
        nbr_definition *def = &a->definitions[kind].items[i];
        if (strlen(def->name) == length && !memcmp(def->name, name, length)) return def;
    }
    char *copy = nbr_copy_n(name, length);
    if (!copy || !GROW(a->definitions[kind])) {
        free(copy);
        a->out_of_memory = true;
        return NULL;
    }
    nbr_definition *def = &a->definitions[kind].items[a->definitions[kind].count++];
    def->name = copy;
    nbr_strset_init(&def->access[0]);
    nbr_strset_init(&def->access[1]);
    return def;
}

void nbr_definition_add_access(nbr_analysis *a, nbr_definition *def, nbr_access access,
                               const char *name, size_t length)
{
    if (def && !nbr_strset_add_n(&def->access[access], name, length)) a->out_of_memory = true;
}

void nbr_analysis_add_diagnostic(nbr_analysis *a, nbr_diagnostic_kind kind, uint32_t line,
                                 uint32_t column, const char *fmt, ...)
{
    char message[512];
    va_list args;
    va_start(args, fmt);
    vsnprintf(message, sizeof message, fmt, args);
    va_end(args);
    char *copy = nbr_copy_n(message, strlen(message));
    if (!copy || !GROW(a->diagnostics[kind])) {
        free(copy);
        a->out_of_memory = true;
        return;
    }
    a->diagnostics[kind].items[a->diagnostics[kind].count++] =
        (nbr_diagnostic){.message = copy, .line = line, .column = column};
}

void nbr_analysis_add_relation(nbr_analysis *a, nbr_relation_kind kind, const char *name,
                               size_t name_length, const char *other, size_t other_length)
{
    char *n = nbr_copy_n(name, name_length), *o = nbr_copy_n(other, other_length);
    if (!n || !o || !GROW(a->relations[kind])) {
        free(n);
        free(o);
        a->out_of_memory = true;
        return;
    }
    a->relations[kind].items[a->relations[kind].count++] = (nbr_relation){.name = n, .other = o};
}

size_t nbr_analysis_relation_count(const nbr_analysis *a, nbr_relation_kind kind)
{
    return a && (unsigned)kind < NBR_RELATION_KINDS ? a->relations[kind].count : 0;
}

const nbr_relation *nbr_analysis_relation_at(const nbr_analysis *a, nbr_relation_kind kind,
                                             size_t index)
{
    return index < nbr_analysis_relation_count(a, kind) ? &a->relations[kind].items[index]
                                                        : NULL;
}

nbr_status nbr_analysis_relation(const char **name, const char **other, const nbr_analysis *a,
                                 nbr_relation_kind kind, size_t index)
{
    const nbr_relation *relation = nbr_analysis_relation_at(a, kind, index);
    if (name) *name = relation ? relation->name : NULL;
    if (other) *other = relation ? relation->other : NULL;
    if (!relation)
        return nbr_fail(NBR_EINVAL, "nbr_analysis_relation: no relation %zu of kind %d", index,
                        (int)kind);
    return NBR_OK;
}

/* ---- lifetime ---------------------------------------------------------- */

nbr_status nbr_analysis_new(nbr_analysis **out, nbr_language lang, const char *source,
                            size_t length)
{
    if (!out) return nbr_fail(NBR_EINVAL, "nbr_analysis_new: out is NULL");
    *out = NULL;
    if (!source && length) return nbr_fail(NBR_EINVAL, "nbr_analysis_new: source is NULL");
    if (!nbr_language_name(lang))
        return nbr_fail(NBR_EUNSUPPORTED, "nbr_analysis_new: unknown language %d", (int)lang);
    size_t bad = source ? first_invalid_text(source, length) : length;
    if (bad < length)
        return nbr_fail(NBR_EENCODING, "cell source is not UTF-8 text: %s at byte %zu",
                        source[bad] ? "invalid UTF-8 sequence" : "NUL byte", bad);
    nbr_analysis *a = calloc(1, sizeof *a);
    if (!a) return nbr_fail_nomem("analysing a cell");
    a->language = lang;
    nbr_status status = NBR_OK;
    if (nested_too_deep(source, length))
        nbr_analysis_add_diagnostic(a, NBR_DIAG_ERROR, 1, 1,
                                    "brackets nested deeper than %d levels: cell not analysed",
                                    MAX_BRACKET_DEPTH);
    else if (lang == NBR_LANG_PYTHON)
        status = nbr_analyze_python(a, source ? source : "", length);
    else
        status = nbr_analyze_r(a, source ? source : "", length);
    if (status == NBR_OK && a->out_of_memory) status = nbr_fail_nomem("analysing a cell");
    if (status != NBR_OK) {
        nbr_analysis_free(a);
        return status;
    }
    *out = a;
    return NBR_OK;
}

void nbr_analysis_free(nbr_analysis *a)
{
    if (!a) return;
    for (int i = 0; i < NBR_NAME_LISTS; i++) nbr_strset_clear(&a->names[i]);
    for (int k = 0; k < NBR_DEFINITION_KINDS; k++) {
        for (size_t i = 0; i < a->definitions[k].count; i++) {
            free(a->definitions[k].items[i].name);
            nbr_strset_clear(&a->definitions[k].items[i].access[0]);
            nbr_strset_clear(&a->definitions[k].items[i].access[1]);
        }
        free(a->definitions[k].items);
    }
    for (int k = 0; k < NBR_DIAGNOSTIC_KINDS; k++) {
        for (size_t i = 0; i < a->diagnostics[k].count; i++)
            free(a->diagnostics[k].items[i].message);
        free(a->diagnostics[k].items);
    }
    for (int k = 0; k < NBR_RELATION_KINDS; k++) {
        for (size_t i = 0; i < a->relations[k].count; i++) {
            free(a->relations[k].items[i].name);
            free(a->relations[k].items[i].other);
        }
        free(a->relations[k].items);
    }
    free(a);
}

/* ---- accessors --------------------------------------------------------- */

static bool valid_names(const nbr_analysis *a, nbr_names which)
{
    return a && (unsigned)which < NBR_NAME_LISTS;
}

static bool valid_kind(const nbr_analysis *a, nbr_definition_kind kind)
{
    return a && (unsigned)kind < NBR_DEFINITION_KINDS;
}

nbr_language nbr_analysis_language(const nbr_analysis *a) { return a ? a->language : 0; }

size_t nbr_analysis_name_count(const nbr_analysis *a, nbr_names which)
{
    return valid_names(a, which) ? a->names[which].count : 0;
}

const char *nbr_analysis_name(const nbr_analysis *a, nbr_names which, size_t index)
{
    if (!valid_names(a, which) || index >= a->names[which].count) return NULL;
    return a->names[which].items[index];
}

int nbr_analysis_has_name(const nbr_analysis *a, nbr_names which, const char *name)
{
    return valid_names(a, which) && name && nbr_strset_contains(&a->names[which], name);
}

size_t nbr_analysis_definition_count(const nbr_analysis *a, nbr_definition_kind kind)
{
    return valid_kind(a, kind) ? a->definitions[kind].count : 0;
}

static const nbr_definition *definition_at(const nbr_analysis *a, nbr_definition_kind kind,
                                           size_t index)
{
    if (!valid_kind(a, kind) || index >= a->definitions[kind].count) return NULL;
    return &a->definitions[kind].items[index];
}

const char *nbr_analysis_definition_name(const nbr_analysis *a, nbr_definition_kind kind,
                                         size_t index)
{
    const nbr_definition *def = definition_at(a, kind, index);
    return def ? def->name : NULL;
}

size_t nbr_analysis_definition_access_count(const nbr_analysis *a, nbr_definition_kind kind,
                                            size_t index, nbr_access access)
{
    const nbr_definition *def = definition_at(a, kind, index);
    return def && (unsigned)access < 2 ? def->access[access].count : 0;
}

const char *nbr_analysis_definition_access(const nbr_analysis *a, nbr_definition_kind kind,
                                           size_t index, nbr_access access, size_t i)
{
    const nbr_definition *def = definition_at(a, kind, index);
    if (!def || (unsigned)access >= 2 || i >= def->access[access].count) return NULL;
    return def->access[access].items[i];
}

size_t nbr_analysis_diagnostic_count(const nbr_analysis *a, nbr_diagnostic_kind kind)
{
    return a && (unsigned)kind < NBR_DIAGNOSTIC_KINDS ? a->diagnostics[kind].count : 0;
}

nbr_status nbr_analysis_diagnostic(const char **message, uint32_t *line, uint32_t *column,
                                   const nbr_analysis *a, nbr_diagnostic_kind kind,
                                   size_t index)
{
    if (message) *message = NULL;
    if (line) *line = 0;
    if (column) *column = 0;
    if (index >= nbr_analysis_diagnostic_count(a, kind))
        return nbr_fail(NBR_EINVAL, "nbr_analysis_diagnostic: no diagnostic %zu", index);
    const nbr_diagnostic *d = &a->diagnostics[kind].items[index];
    if (message) *message = d->message;
    if (line) *line = d->line;
    if (column) *column = d->column;
    return NBR_OK;
}

/* ---- JSON -------------------------------------------------------------- */

static void json_string_array(nbr_buf *out, const nbr_strset *set)
{
    nbr_buf_puts(out, "[");
    for (size_t i = 0; i < set->count; i++) {
        if (i) nbr_buf_puts(out, ", ");
        nbr_buf_json_string(out, set->items[i]);
    }
    nbr_buf_puts(out, "]");
}

static void json_definitions(nbr_buf *out, const nbr_analysis *a, nbr_definition_kind kind)
{
    nbr_buf_puts(out, "{");
    for (size_t i = 0; i < a->definitions[kind].count; i++) {
        const nbr_definition *def = &a->definitions[kind].items[i];
        if (i) nbr_buf_puts(out, ", ");
        nbr_buf_json_string(out, def->name);
        nbr_buf_puts(out, ": {\"reads\": ");
        json_string_array(out, &def->access[NBR_ACCESS_READS]);
        nbr_buf_puts(out, ", \"writes\": ");
        json_string_array(out, &def->access[NBR_ACCESS_WRITES]);
        nbr_buf_puts(out, "}");
    }
    nbr_buf_puts(out, "}");
}

static void json_diagnostics(nbr_buf *out, const nbr_analysis *a, nbr_diagnostic_kind kind)
{
    nbr_buf_puts(out, "[");
    for (size_t i = 0; i < a->diagnostics[kind].count; i++) {
        const nbr_diagnostic *d = &a->diagnostics[kind].items[i];
        if (i) nbr_buf_puts(out, ", ");
        nbr_buf_puts(out, "{\"message\": ");
        nbr_buf_json_string(out, d->message);
        nbr_buf_printf(out, ", \"line\": %u, \"column\": %u}", d->line, d->column);
    }
    nbr_buf_puts(out, "]");
}

nbr_status nbr_analysis_to_json(char **out, const nbr_analysis *a)
{
    if (!out) return nbr_fail(NBR_EINVAL, "nbr_analysis_to_json: out is NULL");
    *out = NULL;
    if (!a) return nbr_fail(NBR_EINVAL, "nbr_analysis_to_json: analysis is NULL");
    static const char *const keys[NBR_NAME_LISTS] = {"defs",    "uses",    "may_mutate",
                                                     "deletes", "imports", "assumed"};
    nbr_buf json;
    nbr_buf_init(&json);
    nbr_buf_puts(&json, "{");
    for (int i = 0; i < NBR_NAME_LISTS; i++) {
        nbr_buf_printf(&json, "\"%s\": ", keys[i]);
        json_string_array(&json, &a->names[i]);
        nbr_buf_puts(&json, ", ");
    }
    nbr_buf_puts(&json, "\"functions\": ");
    json_definitions(&json, a, NBR_DEF_FUNCTION);
    nbr_buf_puts(&json, ", \"classes\": ");
    json_definitions(&json, a, NBR_DEF_CLASS);
    nbr_buf_puts(&json, ", \"flags\": ");
    json_diagnostics(&json, a, NBR_DIAG_FLAG);
    nbr_buf_puts(&json, ", \"errors\": ");
    json_diagnostics(&json, a, NBR_DIAG_ERROR);
    nbr_buf_puts(&json, "}");
    *out = nbr_buf_take(&json);
    return *out ? NBR_OK : nbr_fail_nomem("rendering an analysis as JSON");
}
