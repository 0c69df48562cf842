/* analysis_cases.c - checks one table of analysis cases against the library. */
#include "analysis_cases.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Splits `list` on `seps` into at most 64 tokens written into `storage`. */
static size_t split(char *storage, size_t size, const char *list, const char *seps,
                    char **tokens)
{
    snprintf(storage, size, "%s", list);
    size_t n = 0;
    for (char *save = NULL, *t = strtok_r(storage, seps, &save); t && n < 64;
         t = strtok_r(NULL, seps, &save))
        tokens[n++] = t;
    return n;
}

static bool same_names(const char *expected, size_t count, const char *(*get)(size_t, const void *),
                       const void *ctx, const char *case_name, const char *what)
{
    char storage[4096], *tokens[64];
    size_t n = split(storage, sizeof storage, expected, " ", tokens);
    bool ok = n == count;
    for (size_t i = 0; ok && i < n; i++) {
        bool found = false;
        for (size_t j = 0; j < count && !found; j++) found = !strcmp(tokens[i], get(j, ctx));
        ok = found;
    }
    if (!ok) {
        fprintf(stderr, "case '%s': %s: expected [%s], got [", case_name, what, expected);
        for (size_t j = 0; j < count; j++) fprintf(stderr, "%s%s", j ? " " : "", get(j, ctx));
        fprintf(stderr, "]\n");
    }
    return ok;
}

typedef struct names_ctx {
    const nbr_analysis *a;
    nbr_names which;
} names_ctx;

static const char *get_name(size_t i, const void *ctx)
{
    const names_ctx *c = ctx;
    return nbr_analysis_name(c->a, c->which, i);
}

typedef struct access_ctx {
    const nbr_analysis *a;
    nbr_definition_kind kind;
    size_t index;
    nbr_access access;
} access_ctx;

static const char *get_access(size_t i, const void *ctx)
{
    const access_ctx *c = ctx;
    return nbr_analysis_definition_access(c->a, c->kind, c->index, c->access, i);
}

static long find_definition(const nbr_analysis *a, nbr_definition_kind kind, const char *name)
{
    for (size_t i = 0; i < nbr_analysis_definition_count(a, kind); i++)
        if (!strcmp(nbr_analysis_definition_name(a, kind, i), name)) return (long)i;
    return -1;
}

/* Copies the comma-separated value after `key` in `entry` as a space-separated
 * list ("r=a,b w=c" with key "r=" gives "a b"). */
static void copy_field(char *out, size_t size, const char *entry, const char *key)
{
    const char *at = strstr(entry, key);
    snprintf(out, size, "%s", at ? at + strlen(key) : "");
    out[strcspn(out, " ")] = '\0';
    for (char *c = out; *c; c++)
        if (*c == ',') *c = ' ';
}

/* expected: "f: r=a,b w=c; g: r= w=" */
static bool same_definitions(const nbr_analysis *a, nbr_definition_kind kind,
                             const char *expected, const char *case_name)
{
    char storage[4096], *entries[64];
    size_t n = split(storage, sizeof storage, expected, ";", entries);
    bool ok = true;
    if (n != nbr_analysis_definition_count(a, kind)) {
        fprintf(stderr, "case '%s': expected %zu %s, got %zu\n", case_name, n,
                kind == NBR_DEF_FUNCTION ? "functions" : "classes",
                nbr_analysis_definition_count(a, kind));
        ok = false;
    }
    for (size_t e = 0; e < n; e++) {
        char name[128], reads[1024], writes[1024];
        if (sscanf(entries[e], " %127[^:]", name) != 1) {
            fprintf(stderr, "case '%s': bad expectation '%s'\n", case_name, entries[e]);
            return false;
        }
        copy_field(reads, sizeof reads, entries[e], "r=");
        copy_field(writes, sizeof writes, entries[e], "w=");
        long index = find_definition(a, kind, name);
        if (index < 0) {
            fprintf(stderr, "case '%s': definition '%s' missing\n", case_name, name);
            ok = false;
            continue;
        }
        for (int acc = 0; acc < 2; acc++) {
            access_ctx ctx = {a, kind, (size_t)index, acc};
            char what[160];
            snprintf(what, sizeof what, "%s %s", name, acc ? "writes" : "reads");
            ok &= same_names(acc ? writes : reads,
                             nbr_analysis_definition_access_count(a, kind, (size_t)index, acc),
                             get_access, &ctx, case_name, what);
        }
    }
    return ok;
}

static bool same_flags(const nbr_analysis *a, const char *expected, const char *case_name)
{
    char storage[1024], *tokens[64];
    size_t n = split(storage, sizeof storage, expected, " ", tokens);
    size_t count = nbr_analysis_diagnostic_count(a, NBR_DIAG_FLAG);
    bool ok = n == count;
    for (size_t i = 0; ok && i < n; i++) {
        unsigned line, column;
        bool found = false;
        if (sscanf(tokens[i], "%u:%u", &line, &column) != 2) return false;
        for (size_t j = 0; j < count && !found; j++) {
            uint32_t l, c;
            nbr_analysis_diagnostic(NULL, &l, &c, a, NBR_DIAG_FLAG, j);
            found = l == line && c == column;
        }
        ok = found;
    }
    if (!ok) {
        fprintf(stderr, "case '%s': flags: expected [%s], got [", case_name, expected);
        for (size_t j = 0; j < count; j++) {
            const char *m;
            uint32_t l, c;
            nbr_analysis_diagnostic(&m, &l, &c, a, NBR_DIAG_FLAG, j);
            fprintf(stderr, "%s%u:%u (%s)", j ? " " : "", l, c, m);
        }
        fprintf(stderr, "]\n");
    }
    return ok;
}

static bool check_case(nbr_language lang, const analysis_case *tc)
{
    nbr_analysis *a = NULL;
    if (nbr_analysis_new(&a, lang, tc->source, strlen(tc->source)) != NBR_OK) {
        fprintf(stderr, "case '%s': analysis failed: %s\n", tc->name, nbr_last_error());
        return false;
    }
    static const char *const what[] = {"defs", "uses", "may_mutate", "deletes", "imports"};
    const char *expected[] = {tc->defs, tc->uses, tc->may_mutate, tc->deletes, tc->imports};
    bool ok = true;
    for (int k = 0; k < 5; k++) {
        if (!expected[k]) continue;
        names_ctx ctx = {a, (nbr_names)k};
        ok &= same_names(expected[k], nbr_analysis_name_count(a, k), get_name, &ctx, tc->name,
                         what[k]);
    }
    if (tc->functions) ok &= same_definitions(a, NBR_DEF_FUNCTION, tc->functions, tc->name);
    if (tc->classes) ok &= same_definitions(a, NBR_DEF_CLASS, tc->classes, tc->name);
    if (tc->flags) ok &= same_flags(a, tc->flags, tc->name);
    size_t errors = nbr_analysis_diagnostic_count(a, NBR_DIAG_ERROR);
    if (tc->errors >= 0 && (tc->errors == 0) != (errors == 0)) {
        fprintf(stderr, "case '%s': expected %s syntax errors, got %zu\n", tc->name,
                tc->errors ? "some" : "no", errors);
        ok = false;
    }
    nbr_analysis_free(a);
    return ok;
}

int run_analysis_cases(nbr_language lang, const analysis_case *cases, size_t count)
{
    int failed = 0;
    for (size_t i = 0; i < count; i++) failed += !check_case(lang, &cases[i]);
    printf("%s analysis cases: %zu run, %d failed\n", nbr_language_name(lang), count, failed);
    return failed;
}
