/* test_ffi.c - the public API called the way FFI hosts (ctypes, cffi, Julia's
 * ccall) call it: the shared library is dlopen()ed at run time and every
 * function is looked up by name and called through libffi's ffi_prep_cif /
 * ffi_call, with argument and return types spelled out by hand.  Nothing here
 * links against libnbrewind; the header is included only for its constants
 * (status codes, enum values, version macros), which also checks that the
 * header and the loaded library agree.
 *
 * Usage: test_ffi path/to/libnbrewind.so
 * Prints "N passed, N failed" and exits non-zero if any test failed. */
#include <dlfcn.h>
#include <ffi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nbrewind.h"

static void *lib;
static int failures;

#define CHECK(cond)                                                                 \
    do {                                                                            \
        if (!(cond)) {                                                              \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                             \
        }                                                                           \
    } while (0)

/* size_t as libffi sees it. */
#define FFI_SIZE_T (sizeof(size_t) == 8 ? &ffi_type_uint64 : &ffi_type_uint32)

/* Looks `name` up in the library and calls it with the given argument types and
 * values; the result is stored in *ret (which must be at least ffi_arg wide for
 * integer results, as libffi requires).  Returns 0, or -1 (and counts a
 * failure) if the symbol is missing or the call cannot be prepared. */
static int ffi_invoke(const char *name, ffi_type *rtype, void *ret, unsigned nargs,
                      ffi_type **atypes, void **avalues)
{
    void *fn = dlsym(lib, name);
    if (!fn) {
        fprintf(stderr, "dlsym(%s): %s\n", name, dlerror());
        failures++;
        return -1;
    }
    ffi_cif cif;
    ffi_status st = ffi_prep_cif(&cif, FFI_DEFAULT_ABI, nargs, rtype, atypes);
    if (st != FFI_OK) {
        fprintf(stderr, "ffi_prep_cif(%s) failed: %d\n", name, (int)st);
        failures++;
        return -1;
    }
    ffi_call(&cif, FFI_FN(fn), ret, avalues);
    return 0;
}

/* ---- thin typed wrappers, one per signature shape ------------------------ */

/* int f(void) */
static int call_int_void(const char *name)
{
    ffi_arg r = 0;
    ffi_invoke(name, &ffi_type_sint, &r, 0, NULL, NULL);
    return (int)r;
}

/* const char *f(void) */
static const char *call_str_void(const char *name)
{
    void *r = NULL;
    ffi_invoke(name, &ffi_type_pointer, &r, 0, NULL, NULL);
    return r;
}

/* void f(void) */
static void call_void_void(const char *name)
{
    ffi_invoke(name, &ffi_type_void, NULL, 0, NULL, NULL);
}

/* void f(void *) */
static void call_void_ptr(const char *name, void *p)
{
    ffi_type *t[] = {&ffi_type_pointer};
    void *v[] = {&p};
    ffi_invoke(name, &ffi_type_void, NULL, 1, t, v);
}

static const char *last_error(void) { return call_str_void("nbr_last_error"); }

/* const char *nbr_status_name(int) */
static const char *status_name(int status)
{
    ffi_type *t[] = {&ffi_type_sint};
    void *v[] = {&status};
    void *r = NULL;
    ffi_invoke("nbr_status_name", &ffi_type_pointer, &r, 1, t, v);
    return r;
}

/* nbr_status nbr_language_from_name(nbr_language *out, const char *name) */
static int language_from_name(int *out, const char *name)
{
    ffi_type *t[] = {&ffi_type_pointer, &ffi_type_pointer};
    void *v[] = {&out, &name};
    ffi_arg r = 0;
    ffi_invoke("nbr_language_from_name", &ffi_type_sint, &r, 2, t, v);
    return (int)r;
}

/* nbr_status nbr_analysis_new(nbr_analysis **out, nbr_language lang,
 *                             const char *source, size_t length) */
static int analysis_new(void **out, int lang, const char *source, size_t length)
{
    ffi_type *t[] = {&ffi_type_pointer, &ffi_type_sint, &ffi_type_pointer, FFI_SIZE_T};
    void *v[] = {&out, &lang, &source, &length};
    ffi_arg r = 0;
    ffi_invoke("nbr_analysis_new", &ffi_type_sint, &r, 4, t, v);
    return (int)r;
}

/* size_t nbr_analysis_name_count(const nbr_analysis *, nbr_names) */
static size_t name_count(void *a, int which)
{
    ffi_type *t[] = {&ffi_type_pointer, &ffi_type_sint};
    void *v[] = {&a, &which};
    size_t r = 0; /* size_t is as wide as ffi_arg on LP64 and ILP32 */
    ffi_invoke("nbr_analysis_name_count", FFI_SIZE_T, &r, 2, t, v);
    return r;
}

/* const char *nbr_analysis_name(const nbr_analysis *, nbr_names, size_t) */
static const char *name_at(void *a, int which, size_t index)
{
    ffi_type *t[] = {&ffi_type_pointer, &ffi_type_sint, FFI_SIZE_T};
    void *v[] = {&a, &which, &index};
    void *r = NULL;
    ffi_invoke("nbr_analysis_name", &ffi_type_pointer, &r, 3, t, v);
    return r;
}

/* int nbr_analysis_has_name(const nbr_analysis *, nbr_names, const char *) */
static int has_name(void *a, int which, const char *name)
{
    ffi_type *t[] = {&ffi_type_pointer, &ffi_type_sint, &ffi_type_pointer};
    void *v[] = {&a, &which, &name};
    ffi_arg r = 0;
    ffi_invoke("nbr_analysis_has_name", &ffi_type_sint, &r, 3, t, v);
    return (int)r;
}

/* Is `name` among the names the list enumerates (walked with count + name,
 * as a host that builds its own list would)? */
static int listed(void *a, int which, const char *name)
{
    size_t n = name_count(a, which);
    for (size_t i = 0; i < n; i++) {
        const char *s = name_at(a, which, i);
        if (s && !strcmp(s, name)) return 1;
    }
    return 0;
}

/* nbr_status nbr_analysis_to_json(char **out, const nbr_analysis *) */
static int to_json(char **out, void *a)
{
    ffi_type *t[] = {&ffi_type_pointer, &ffi_type_pointer};
    void *v[] = {&out, &a};
    ffi_arg r = 0;
    ffi_invoke("nbr_analysis_to_json", &ffi_type_sint, &r, 2, t, v);
    return (int)r;
}

/* size_t nbr_analysis_diagnostic_count(const nbr_analysis *, nbr_diagnostic_kind) */
static size_t diagnostic_count(void *a, int kind)
{
    ffi_type *t[] = {&ffi_type_pointer, &ffi_type_sint};
    void *v[] = {&a, &kind};
    size_t r = 0;
    ffi_invoke("nbr_analysis_diagnostic_count", FFI_SIZE_T, &r, 2, t, v);
    return r;
}

/* nbr_status nbr_analysis_diagnostic(const char **message, uint32_t *line,
 *     uint32_t *column, const nbr_analysis *, nbr_diagnostic_kind, size_t) */
static int diagnostic(const char **message, uint32_t *line, uint32_t *column, void *a,
                      int kind, size_t index)
{
    ffi_type *t[] = {&ffi_type_pointer, &ffi_type_pointer, &ffi_type_pointer,
                     &ffi_type_pointer, &ffi_type_sint,    FFI_SIZE_T};
    void *v[] = {&message, &line, &column, &a, &kind, &index};
    ffi_arg r = 0;
    ffi_invoke("nbr_analysis_diagnostic", &ffi_type_sint, &r, 6, t, v);
    return (int)r;
}

/* nbr_status nbr_graph_new(nbr_graph **out) */
static int graph_new(void **out)
{
    ffi_type *t[] = {&ffi_type_pointer};
    void *v[] = {&out};
    ffi_arg r = 0;
    ffi_invoke("nbr_graph_new", &ffi_type_sint, &r, 1, t, v);
    return (int)r;
}

/* nbr_status nbr_graph_add_cell(nbr_graph *, const char *cell_id,
 *                               const nbr_analysis *) */
static int graph_add_cell(void *g, const char *cell_id, void *a)
{
    ffi_type *t[] = {&ffi_type_pointer, &ffi_type_pointer, &ffi_type_pointer};
    void *v[] = {&g, &cell_id, &a};
    ffi_arg r = 0;
    ffi_invoke("nbr_graph_add_cell", &ffi_type_sint, &r, 3, t, v);
    return (int)r;
}

/* size_t nbr_graph_edge_count(const nbr_graph *) */
static size_t graph_edge_count(void *g)
{
    ffi_type *t[] = {&ffi_type_pointer};
    void *v[] = {&g};
    size_t r = 0;
    ffi_invoke("nbr_graph_edge_count", FFI_SIZE_T, &r, 1, t, v);
    return r;
}

/* nbr_status nbr_graph_edge(const char **from, const char **to,
 *                           const char **name, const nbr_graph *, size_t) */
static int graph_edge(const char **from, const char **to, const char **name, void *g,
                      size_t index)
{
    ffi_type *t[] = {&ffi_type_pointer, &ffi_type_pointer, &ffi_type_pointer,
                     &ffi_type_pointer, FFI_SIZE_T};
    void *v[] = {&from, &to, &name, &g, &index};
    ffi_arg r = 0;
    ffi_invoke("nbr_graph_edge", &ffi_type_sint, &r, 5, t, v);
    return (int)r;
}

/* ---- the tests ------------------------------------------------------------ */

static void test_version_matches_header(void)
{
    CHECK(call_int_void("nbr_version") == NBR_VERSION_NUMBER);
    const char *s = call_str_void("nbr_version_string");
    CHECK(s && !strcmp(s, NBR_VERSION_STRING));
}

static void test_language_from_name_fills_out_parameter(void)
{
    int lang = -1;
    CHECK(language_from_name(&lang, "python") == NBR_OK);
    CHECK(lang == NBR_LANG_PYTHON);
    lang = -1;
    CHECK(language_from_name(&lang, "R") == NBR_OK);
    CHECK(lang == NBR_LANG_R);
}

static void test_unknown_language_sets_last_error(void)
{
    call_void_void("nbr_clear_error");
    const char *e = last_error();
    CHECK(e && e[0] == '\0');
    int lang = -1;
    int st = language_from_name(&lang, "cobol");
    CHECK(st == NBR_EUNSUPPORTED);
    CHECK(lang == 0); /* out-parameters are cleared on failure */
    e = last_error();
    CHECK(e && strstr(e, "cobol"));
    const char *sn = status_name(st);
    CHECK(sn && !strcmp(sn, "NBR_EUNSUPPORTED"));
}

static void test_python_cell_defs_and_uses(void)
{
    static const char cell[] = "y = x + 1\n";
    void *a = NULL;
    int st = analysis_new(&a, NBR_LANG_PYTHON, cell, strlen(cell));
    CHECK(st == NBR_OK);
    if (!a) return;
    CHECK(name_count(a, NBR_NAMES_DEFS) == 1);
    CHECK(listed(a, NBR_NAMES_DEFS, "y"));
    CHECK(listed(a, NBR_NAMES_USES, "x"));
    CHECK(!listed(a, NBR_NAMES_USES, "y"));
    CHECK(has_name(a, NBR_NAMES_DEFS, "y") == 1);
    CHECK(has_name(a, NBR_NAMES_DEFS, "x") == 0);
    /* Out of range: NULL, not a crash. */
    CHECK(name_at(a, NBR_NAMES_DEFS, 1000) == NULL);

    char *json = NULL;
    CHECK(to_json(&json, a) == NBR_OK);
    CHECK(json && json[0] == '{');
    CHECK(json && strstr(json, "\"defs\"") && strstr(json, "\"y\""));
    CHECK(json && strstr(json, "\"uses\"") && strstr(json, "\"x\""));
    call_void_ptr("nbr_free", json);
    call_void_ptr("nbr_analysis_free", a);
}

static void test_r_cell_defs_and_uses(void)
{
    static const char cell[] = "total <- sum(values)\n";
    void *a = NULL;
    CHECK(analysis_new(&a, NBR_LANG_R, cell, strlen(cell)) == NBR_OK);
    if (!a) return;
    CHECK(listed(a, NBR_NAMES_DEFS, "total"));
    CHECK(listed(a, NBR_NAMES_USES, "values"));
    call_void_ptr("nbr_analysis_free", a);
}

static void test_syntax_error_is_a_diagnostic_not_a_failure(void)
{
    static const char cell[] = "a = 1\ndef broken(:\n    pass\n";
    void *a = NULL;
    CHECK(analysis_new(&a, NBR_LANG_PYTHON, cell, strlen(cell)) == NBR_OK);
    if (!a) return;
    CHECK(diagnostic_count(a, NBR_DIAG_ERROR) >= 1);
    const char *message = NULL;
    uint32_t line = 0, column = 0;
    if (diagnostic_count(a, NBR_DIAG_ERROR) >= 1) {
        CHECK(diagnostic(&message, &line, &column, a, NBR_DIAG_ERROR, 0) == NBR_OK);
        CHECK(message && message[0]);
        CHECK(line == 2);
        CHECK(column >= 1);
    }
    /* Index out of range: a status, with the out-parameters left usable. */
    CHECK(diagnostic(&message, &line, &column, a, NBR_DIAG_ERROR, 999) == NBR_EINVAL);
    call_void_ptr("nbr_analysis_free", a);
}

static void test_invalid_utf8_is_an_encoding_error(void)
{
    static const char cell[] = "x = '\xff\xfe'\n";
    void *a = (void *)&a; /* must be reset to NULL */
    CHECK(analysis_new(&a, NBR_LANG_PYTHON, cell, strlen(cell)) == NBR_EENCODING);
    CHECK(a == NULL);
    const char *e = last_error();
    CHECK(e && e[0]);
    /* Freeing NULL is allowed. */
    call_void_ptr("nbr_analysis_free", NULL);
    call_void_ptr("nbr_free", NULL);
}

static void test_graph_edge_between_two_cells(void)
{
    static const char c1[] = "x = 1\n", c2[] = "y = x + 1\n";
    void *a1 = NULL, *a2 = NULL, *g = NULL;
    CHECK(analysis_new(&a1, NBR_LANG_PYTHON, c1, strlen(c1)) == NBR_OK);
    CHECK(analysis_new(&a2, NBR_LANG_PYTHON, c2, strlen(c2)) == NBR_OK);
    CHECK(graph_new(&g) == NBR_OK);
    if (a1 && a2 && g) {
        CHECK(graph_add_cell(g, "c1", a1) == NBR_OK);
        CHECK(graph_add_cell(g, "c2", a2) == NBR_OK);
        CHECK(graph_add_cell(g, "c2", a2) == NBR_EEXISTS);
        CHECK(graph_edge_count(g) == 1);
        const char *from = NULL, *to = NULL, *name = NULL;
        if (graph_edge_count(g) >= 1) {
            CHECK(graph_edge(&from, &to, &name, g, 0) == NBR_OK);
            CHECK(from && !strcmp(from, "c1"));
            CHECK(to && !strcmp(to, "c2"));
            CHECK(name && !strcmp(name, "x"));
        }
    }
    /* The graph copied what it needed: the analyses may go first. */
    call_void_ptr("nbr_analysis_free", a1);
    call_void_ptr("nbr_analysis_free", a2);
    call_void_ptr("nbr_graph_free", g);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s path/to/libnbrewind.so\n", argv[0]);
        return 2;
    }
    lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "dlopen(%s): %s\n", argv[1], dlerror());
        printf("0 passed, 1 failed\n");
        return 1;
    }
    static const struct {
        const char *name;
        void (*run)(void);
    } tests[] = {
#define T(fn) {#fn, fn}
        T(test_version_matches_header),
        T(test_language_from_name_fills_out_parameter),
        T(test_unknown_language_sets_last_error),
        T(test_python_cell_defs_and_uses),
        T(test_r_cell_defs_and_uses),
        T(test_syntax_error_is_a_diagnostic_not_a_failure),
        T(test_invalid_utf8_is_an_encoding_error),
        T(test_graph_edge_between_two_cells),
#undef T
    };
    int passed = 0, failed = 0;
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        int before = failures;
        tests[i].run();
        if (failures == before) passed++;
        else {
            failed++;
            fprintf(stderr, "FAILED: %s\n", tests[i].name);
        }
    }
    /* No dlclose(): FFI hosts keep the library loaded, and LeakSanitizer can
     * only name the frames of a leak in a library that is still mapped. */
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
