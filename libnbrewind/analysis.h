/* analysis.h - the analysis result and the builder the language analyzers fill
 * (private).  analysis.c owns the result; analysis_python.c and analysis_r.c
 * each turn one language's syntax tree into calls on this builder. */
#ifndef NBR_ANALYSIS_H
#define NBR_ANALYSIS_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "strset.h"

#define NBR_NAME_LISTS 6
#define NBR_DEFINITION_KINDS 2
#define NBR_DIAGNOSTIC_KINDS 2
#define NBR_RELATION_KINDS 2

typedef struct nbr_definition {
    char *name;
    nbr_strset access[2]; /* indexed by nbr_access */
} nbr_definition;

typedef struct nbr_diagnostic {
    char *message;
    uint32_t line;
    uint32_t column;
} nbr_diagnostic;

typedef struct nbr_relation {
    char *name;  /* bound by the cell ... */
    char *other; /* ... to (a part of) the object this name held */
} nbr_relation;

struct nbr_analysis {
    nbr_language language;
    nbr_strset names[NBR_NAME_LISTS];
    struct {
        nbr_definition *items;
        size_t count, capacity;
    } definitions[NBR_DEFINITION_KINDS];
    struct {
        nbr_diagnostic *items;
        size_t count, capacity;
    } diagnostics[NBR_DIAGNOSTIC_KINDS];
    struct {
        nbr_relation *items;
        size_t count, capacity;
    } relations[NBR_RELATION_KINDS];
    bool out_of_memory; /* a builder call failed; nbr_analysis_new reports it */
};

/* Builder calls.  None fails visibly: running out of memory sets
 * out_of_memory, which nbr_analysis_new turns into NBR_ENOMEM. */
void nbr_analysis_add_name(nbr_analysis *a, nbr_names which, const char *name, size_t length);

/* Returns the definition named `name` of that kind, adding it if new (a cell
 * that defines f twice reports one f with the union of both bodies' globals).
 * NULL only when out of memory. */
nbr_definition *nbr_analysis_add_definition(nbr_analysis *a, nbr_definition_kind kind,
                                            const char *name, size_t length);
void nbr_definition_add_access(nbr_analysis *a, nbr_definition *def, nbr_access access,
                               const char *name, size_t length);

void nbr_analysis_add_diagnostic(nbr_analysis *a, nbr_diagnostic_kind kind, uint32_t line,
                                 uint32_t column, const char *fmt, ...) NBR_PRINTF(5, 6);

/* Records a top-level binding of `name` to (a part of) `other`'s object. */
void nbr_analysis_add_relation(nbr_analysis *a, nbr_relation_kind kind, const char *name,
                               size_t name_length, const char *other, size_t other_length);

const nbr_relation *nbr_analysis_relation_at(const nbr_analysis *a, nbr_relation_kind kind,
                                             size_t index);

/* The language analyzers.  Each fills `a` from one cell's source; they fail
 * only for lack of memory (syntax errors are diagnostics). */
nbr_status nbr_analyze_python(nbr_analysis *a, const char *source, size_t length);
nbr_status nbr_analyze_r(nbr_analysis *a, const char *source, size_t length);

#endif
