/* fuzz_analysis.c - libFuzzer harness for the cell analyzers.
 *
 * Input layout: the first byte picks the language, the rest is the cell.
 *   'p' or 'P'  Python          'r' or 'R'  R
 *   any other byte: its lowest bit (0 Python, 1 R), so that mutated inputs
 *   reach both analyzers.
 * The seed corpus (tests/fuzz/corpus/) follows this: Python cells start
 * with 'p', R cells with 'r'.
 *
 * Beyond "no crash, no leak, no undefined behaviour", the harness checks the
 * API's promises and abort()s when one is broken:
 *  - a cell that is valid UTF-8 without NUL bytes is analysed (NBR_OK), even
 *    when it is not valid Python or R; anything else is NBR_EENCODING with the
 *    out-parameter cleared;
 *  - every list can be walked with count + index, each entry is non-NULL and
 *    found again by nbr_analysis_has_name, and one past the end is NULL;
 *  - definitions, their accesses and the diagnostics read back consistently
 *    (lines and columns are 1-based);
 *  - nbr_analysis_to_json succeeds and yields one JSON object.
 *
 * The same function is linked into fuzz_replay (replay_main.c), which runs
 * inputs from files in any build, with or without libFuzzer. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nbrewind.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond)                                                                \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "fuzz_analysis: %s:%d: broken promise: %s\n", __FILE__, \
                    __LINE__, #cond);                                                \
            abort();                                                                 \
        }                                                                            \
    } while (0)

/* Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above
 * U+10FFFF, and (for the library's sake) no NUL. */
static int is_valid_utf8(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c == 0) return 0;
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t extra;
        uint32_t cp, min;
        if (c >= 0xC2 && c <= 0xDF) {
            extra = 1, cp = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            extra = 2, cp = c & 0x0F, min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            extra = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return 0;
        }
        if (n - i <= extra) return 0;
        for (size_t k = 1; k <= extra; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
        i += extra + 1;
    }
    return 1;
}

static void walk_names(const nbr_analysis *a, nbr_names which)
{
    size_t n = nbr_analysis_name_count(a, which);
    for (size_t i = 0; i < n; i++) {
        const char *name = nbr_analysis_name(a, which, i);
        REQUIRE(name != NULL);
        REQUIRE(nbr_analysis_has_name(a, which, name) == 1);
    }
    REQUIRE(nbr_analysis_name(a, which, n) == NULL);
}

static void walk_definitions(const nbr_analysis *a, nbr_definition_kind kind)
{
    size_t n = nbr_analysis_definition_count(a, kind);
    for (size_t i = 0; i < n; i++) {
        REQUIRE(nbr_analysis_definition_name(a, kind, i) != NULL);
        for (int acc = NBR_ACCESS_READS; acc <= NBR_ACCESS_WRITES; acc++) {
            size_t m = nbr_analysis_definition_access_count(a, kind, i, (nbr_access)acc);
            for (size_t j = 0; j < m; j++)
                REQUIRE(nbr_analysis_definition_access(a, kind, i, (nbr_access)acc, j) != NULL);
            REQUIRE(nbr_analysis_definition_access(a, kind, i, (nbr_access)acc, m) == NULL);
        }
    }
    REQUIRE(nbr_analysis_definition_name(a, kind, n) == NULL);
}

static void walk_diagnostics(const nbr_analysis *a, nbr_diagnostic_kind kind)
{
    size_t n = nbr_analysis_diagnostic_count(a, kind);
    for (size_t i = 0; i < n; i++) {
        const char *message = NULL;
        uint32_t line = 0, column = 0;
        REQUIRE(nbr_analysis_diagnostic(&message, &line, &column, a, kind, i) == NBR_OK);
        REQUIRE(message != NULL);
        REQUIRE(line >= 1 && column >= 1);
    }
    REQUIRE(nbr_analysis_diagnostic(NULL, NULL, NULL, a, kind, n) == NBR_EINVAL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    nbr_language lang;
    switch (data[0]) {
    case 'p': case 'P': lang = NBR_LANG_PYTHON; break;
    case 'r': case 'R': lang = NBR_LANG_R; break;
    default: lang = (data[0] & 1) ? NBR_LANG_R : NBR_LANG_PYTHON; break;
    }
    /* The cell is exactly size - 1 bytes, not NUL-terminated: ASan catches any
     * read past its end. */
    const char *source = (const char *)data + 1;
    size_t length = size - 1;
    int valid = is_valid_utf8(data + 1, length);

    nbr_analysis *a = (nbr_analysis *)&a; /* must be overwritten */
    nbr_status st = nbr_analysis_new(&a, lang, source, length);
    if (st == NBR_ENOMEM) return 0; /* -rss_limit / malloc_limit_mb at work */
    if (!valid) {
        REQUIRE(st == NBR_EENCODING);
        REQUIRE(a == NULL);
        REQUIRE(nbr_last_error()[0] != '\0');
        return 0;
    }
    if (st != NBR_OK) fprintf(stderr, "fuzz_analysis: %s: %s\n", nbr_status_name(st), nbr_last_error());
    REQUIRE(st == NBR_OK);
    REQUIRE(a != NULL);
    REQUIRE(nbr_analysis_language(a) == lang);

    for (int w = NBR_NAMES_DEFS; w <= NBR_NAMES_ASSUMED; w++) walk_names(a, (nbr_names)w);
    walk_definitions(a, NBR_DEF_FUNCTION);
    walk_definitions(a, NBR_DEF_CLASS);
    walk_diagnostics(a, NBR_DIAG_FLAG);
    walk_diagnostics(a, NBR_DIAG_ERROR);

    char *json = NULL;
    REQUIRE(nbr_analysis_to_json(&json, a) == NBR_OK);
    REQUIRE(json != NULL);
    size_t n = strlen(json);
    REQUIRE(n >= 2 && json[0] == '{' && json[n - 1] == '}');
    nbr_free(json);
    nbr_analysis_free(a);
    return 0;
}
