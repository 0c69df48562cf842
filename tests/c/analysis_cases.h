/* analysis_cases.h - table-driven analysis tests.
 *
 * Each case is one cell's source and what the analysis must report.  Name
 * lists are space-separated and compared as sets (order is not checked); NULL
 * means "not checked by this case", "" means "must be empty".
 *
 *   functions / classes: "f: r=a,b w=c; g: r= w=" - every definition with the
 *     exact globals its body reads (r=) and writes (w=).
 *   flags: "L:C L:C" - the exact positions (1-based line:column) of all flags.
 *   errors: -1 not checked, 0 none, 1 at least one syntax error.
 */
#ifndef NBR_ANALYSIS_CASES_H
#define NBR_ANALYSIS_CASES_H

#include "nbrewind.h"

typedef struct analysis_case {
    const char *name;
    const char *source;
    const char *defs;
    const char *uses;
    const char *may_mutate;
    const char *deletes;
    const char *imports;
    const char *functions;
    const char *classes;
    const char *flags;
    int errors;
} analysis_case;

/* Checks every case of a table; returns the number that failed (and prints why). */
int run_analysis_cases(nbr_language lang, const analysis_case *cases, size_t count);

#endif
