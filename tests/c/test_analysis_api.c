/* test_analysis_api.c - the promises of the analysis API itself, apart from
 * what it finds in cells: argument checks, accessors, ownership, JSON, errors. */
#include <pthread.h>
#include <stdlib.h>

#include "nbr_test.h"

static nbr_analysis *analyse(nbr_language lang, const char *source)
{
    nbr_analysis *a = NULL;
    CHECK_OK(nbr_analysis_new(&a, lang, source, strlen(source)));
    return a;
}

static void version_matches_header(void)
{
    CHECK(nbr_version() == NBR_VERSION_NUMBER);
    CHECK_STR(NBR_VERSION_STRING, nbr_version_string());
}

static void language_names_round_trip(void)
{
    nbr_language lang = 0;
    CHECK_OK(nbr_language_from_name(&lang, "Python3"));
    CHECK(lang == NBR_LANG_PYTHON);
    CHECK_OK(nbr_language_from_name(&lang, "R"));
    CHECK(lang == NBR_LANG_R);
    CHECK_STR("python", nbr_language_name(NBR_LANG_PYTHON));
    CHECK_STR("r", nbr_language_name(NBR_LANG_R));
    CHECK(nbr_language_name((nbr_language)99) == NULL);
}

static void unknown_language_is_named_in_the_error(void)
{
    nbr_language lang = NBR_LANG_R;
    CHECK_STATUS(NBR_EUNSUPPORTED, nbr_language_from_name(&lang, "julia"));
    CHECK(lang == 0);
    CHECK(strstr(nbr_last_error(), "'julia'") != NULL);
    nbr_analysis *a = (nbr_analysis *)&lang;
    CHECK_STATUS(NBR_EUNSUPPORTED, nbr_analysis_new(&a, (nbr_language)7, "x", 1));
    CHECK(a == NULL);
}

static void null_arguments_are_rejected(void)
{
    CHECK_STATUS(NBR_EINVAL, nbr_analysis_new(NULL, NBR_LANG_PYTHON, "x", 1));
    nbr_analysis *a = NULL;
    CHECK_STATUS(NBR_EINVAL, nbr_analysis_new(&a, NBR_LANG_PYTHON, NULL, 3));
    CHECK(strstr(nbr_last_error(), "source") != NULL);
    CHECK_STATUS(NBR_EINVAL, nbr_language_from_name(NULL, "r"));
    char *json = (char *)1;
    CHECK_STATUS(NBR_EINVAL, nbr_analysis_to_json(&json, NULL));
    CHECK(json == NULL);
    nbr_analysis_free(NULL); /* must be a no-op */
}

static void empty_source_may_be_null(void)
{
    nbr_analysis *a = NULL;
    CHECK_OK(nbr_analysis_new(&a, NBR_LANG_R, NULL, 0));
    CHECK(nbr_analysis_name_count(a, NBR_NAMES_DEFS) == 0);
    CHECK(nbr_analysis_language(a) == NBR_LANG_R);
    nbr_analysis_free(a);
}

static void accessors_out_of_range_return_nothing(void)
{
    nbr_analysis *a = analyse(NBR_LANG_PYTHON, "x = y\n");
    CHECK(nbr_analysis_name(a, NBR_NAMES_DEFS, 1) == NULL);
    CHECK(nbr_analysis_name(a, (nbr_names)42, 0) == NULL);
    CHECK(nbr_analysis_name_count(a, (nbr_names)42) == 0);
    CHECK(nbr_analysis_name_count(NULL, NBR_NAMES_DEFS) == 0);
    CHECK(nbr_analysis_definition_name(a, NBR_DEF_FUNCTION, 0) == NULL);
    CHECK(nbr_analysis_definition_access_count(a, NBR_DEF_CLASS, 3, NBR_ACCESS_READS) == 0);
    CHECK(nbr_analysis_definition_access(a, NBR_DEF_FUNCTION, 0, NBR_ACCESS_WRITES, 0) == NULL);
    CHECK(!nbr_analysis_has_name(a, NBR_NAMES_USES, NULL));
    const char *message = "untouched";
    uint32_t line = 7;
    CHECK_STATUS(NBR_EINVAL, nbr_analysis_diagnostic(&message, &line, NULL, a, NBR_DIAG_ERROR, 0));
    CHECK(message == NULL && line == 0);
    nbr_analysis_free(a);
}

static void names_come_in_order_of_first_appearance(void)
{
    nbr_analysis *a = analyse(NBR_LANG_PYTHON, "c = b + a\nd = a + e + b\n");
    CHECK_STR("b", nbr_analysis_name(a, NBR_NAMES_USES, 0));
    CHECK_STR("a", nbr_analysis_name(a, NBR_NAMES_USES, 1));
    CHECK_STR("e", nbr_analysis_name(a, NBR_NAMES_USES, 2));
    CHECK(nbr_analysis_name_count(a, NBR_NAMES_USES) == 3);
    CHECK(nbr_analysis_has_name(a, NBR_NAMES_DEFS, "d"));
    nbr_analysis_free(a);
}

/* Calls judged read-only by the name they go through say which names the
 * judgement took for granted; other calls assume nothing. */
static void assumed_names_list_the_read_only_calls_relied_on(void)
{
    nbr_analysis *a = analyse(NBR_LANG_PYTHON,
                              "n = len(xs)\nm = np.linalg.norm(u)\nf(v)\nv.append(1)\n"
                              "def g(w):\n    return sorted(w)\n");
    CHECK(nbr_analysis_name_count(a, NBR_NAMES_ASSUMED) == 3);
    CHECK_STR("len", nbr_analysis_name(a, NBR_NAMES_ASSUMED, 0));
    CHECK_STR("np", nbr_analysis_name(a, NBR_NAMES_ASSUMED, 1));
    CHECK_STR("sorted", nbr_analysis_name(a, NBR_NAMES_ASSUMED, 2));
    nbr_analysis_free(a);
    a = analyse(NBR_LANG_PYTHON, "f(x)\nx.append(1)\n");
    CHECK(nbr_analysis_name_count(a, NBR_NAMES_ASSUMED) == 0);
    nbr_analysis_free(a);
}

static void definitions_are_readable_by_index(void)
{
    nbr_analysis *a = analyse(NBR_LANG_PYTHON, "def f():\n    global g\n    g = h\n");
    CHECK(nbr_analysis_definition_count(a, NBR_DEF_FUNCTION) == 1);
    CHECK_STR("f", nbr_analysis_definition_name(a, NBR_DEF_FUNCTION, 0));
    CHECK_STR("h", nbr_analysis_definition_access(a, NBR_DEF_FUNCTION, 0, NBR_ACCESS_READS, 0));
    CHECK_STR("g", nbr_analysis_definition_access(a, NBR_DEF_FUNCTION, 0, NBR_ACCESS_WRITES, 0));
    nbr_analysis_free(a);
}

static void diagnostics_accept_null_out_parameters(void)
{
    nbr_analysis *a = analyse(NBR_LANG_PYTHON, "exec(s)\n");
    CHECK(nbr_analysis_diagnostic_count(a, NBR_DIAG_FLAG) == 1);
    CHECK_OK(nbr_analysis_diagnostic(NULL, NULL, NULL, a, NBR_DIAG_FLAG, 0));
    const char *message = NULL;
    CHECK_OK(nbr_analysis_diagnostic(&message, NULL, NULL, a, NBR_DIAG_FLAG, 0));
    CHECK(message && strstr(message, "exec") != NULL);
    nbr_analysis_free(a);
}

static void aliases_are_listed_in_the_cells_order(void)
{
    nbr_analysis *a = analyse(NBR_LANG_PYTHON, "b = a\nb.append(1)\nc = b\nb = [5]\nd = f(a)\n");
    CHECK(nbr_analysis_relation_count(a, NBR_RELATION_ALIAS) == 2);
    const char *name = NULL, *other = NULL;
    CHECK_OK(nbr_analysis_relation(&name, &other, a, NBR_RELATION_ALIAS, 0));
    CHECK_STR("b", name);
    CHECK_STR("a", other);
    CHECK_OK(nbr_analysis_relation(&name, NULL, a, NBR_RELATION_ALIAS, 1));
    CHECK_STR("c", name);
    CHECK(nbr_analysis_relation(&name, &other, a, NBR_RELATION_ALIAS, 2) == NBR_EINVAL);
    CHECK(name == NULL && other == NULL);
    CHECK(strstr(nbr_last_error(), "relation 2") != NULL);
    CHECK(nbr_analysis_relation_count(a, (nbr_relation_kind)7) == 0);
    CHECK(nbr_analysis_relation(NULL, NULL, a, (nbr_relation_kind)7, 0) == NBR_EINVAL);
    nbr_analysis_free(a);
    a = analyse(NBR_LANG_R, "e2 <- e1\nx <- 1\n");
    CHECK(nbr_analysis_relation_count(a, NBR_RELATION_ALIAS) == 1);
    CHECK_OK(nbr_analysis_relation(NULL, &other, a, NBR_RELATION_ALIAS, 0));
    CHECK_STR("e1", other);
    nbr_analysis_free(a);
    CHECK(nbr_analysis_relation_count(NULL, NBR_RELATION_ALIAS) == 0);
}

/* Reads the relations of one kind as "name=other name=other ". */
static void relations_of(char *out, size_t size, nbr_relation_kind kind, const char *source)
{
    nbr_analysis *a = analyse(NBR_LANG_PYTHON, source);
    out[0] = '\0';
    for (size_t i = 0; i < nbr_analysis_relation_count(a, kind); i++) {
        const char *name = NULL, *other = NULL;
        CHECK_OK(nbr_analysis_relation(&name, &other, a, kind, i));
        size_t used = strlen(out);
        snprintf(out + used, size - used, "%s=%s ", name, other);
    }
    nbr_analysis_free(a);
}

static void chained_and_unpacked_bindings_are_aliases(void)
{
    char got[256];
    relations_of(got, sizeof got, NBR_RELATION_ALIAS, "p = q = r\n");
    CHECK_STR("p=r q=r ", got);
    relations_of(got, sizeof got, NBR_RELATION_ALIAS, "x, y = a, b\n(m, n) = [c, d]\n");
    CHECK_STR("x=a y=b m=c n=d ", got);
    relations_of(got, sizeof got, NBR_RELATION_ALIAS, "x, y = a, f(b)\n");
    CHECK_STR("x=a ", got);
    relations_of(got, sizeof got, NBR_RELATION_ALIAS, "a, *b = c, d\n"); /* b is a new list */
    CHECK_STR("a=c ", got);
    /* A swap, counts that differ, a nested function: none. */
    relations_of(got, sizeof got, NBR_RELATION_ALIAS,
                 "x, y = y, x\na, b = c, d, e\ndef f():\n    g = h\n");
    CHECK_STR("", got);
}

static void parts_name_the_holders_a_value_may_come_from(void)
{
    char got[256];
    relations_of(got, sizeof got, NBR_RELATION_PART,
                 "b = d['k'][0]\nc = cfg.solver.opts\ne = x if cond else (y or z)\n");
    CHECK_STR("b=d c=cfg e=x e=y e=z ", got);
    relations_of(got, sizeof got, NBR_RELATION_PART,
                 "b = d.get('k')\nc = cfg.setdefault('s', {})\ne = getattr(o, 'x')\n");
    CHECK_STR("b=d c=cfg e=o ", got);
    /* Other calls, literals, plain aliases and nested scopes: none. */
    relations_of(got, sizeof got, NBR_RELATION_PART,
                 "b = f(d)['k']\nc = [d]\ne = x\nk = d.copy()\nm = getattr(o)\n"
                 "def g():\n    h = d['k']\n");
    CHECK_STR("", got);
    relations_of(got, sizeof got, NBR_RELATION_ALIAS, "b = d['k']\n");
    CHECK_STR("", got);
}

static void json_escapes_what_needs_escaping(void)
{
    nbr_analysis *a = analyse(NBR_LANG_R, "`we\"ird\\name` <- 1\nπ <- 2\n");
    char *json = NULL;
    CHECK_OK(nbr_analysis_to_json(&json, a));
    CHECK(json && strstr(json, "\"we\\\"ird") != NULL);
    CHECK(json && strstr(json, "\"π\"") != NULL);
    CHECK(json && strncmp(json, "{\"defs\": [", 10) == 0);
    nbr_free(json);
    nbr_analysis_free(a);
}

static void status_names_cover_every_code(void)
{
    CHECK_STR("NBR_OK", nbr_status_name(NBR_OK));
    CHECK_STR("NBR_EENCODING", nbr_status_name(NBR_EENCODING));
    CHECK_STR("NBR_EIO", nbr_status_name(NBR_EIO));
    CHECK_STR("NBR_ELOCKED", nbr_status_name(NBR_ELOCKED));
    CHECK_STR("NBR_ECORRUPT", nbr_status_name(NBR_ECORRUPT));
    CHECK_STR("NBR_E?", nbr_status_name(-12345));
}

static void clear_error_forgets_the_message(void)
{
    nbr_language lang;
    nbr_language_from_name(&lang, "cobol");
    CHECK(nbr_last_error()[0] != '\0');
    nbr_clear_error();
    CHECK_STR("", nbr_last_error());
}

static void *fail_with_own_message(void *name)
{
    nbr_language lang;
    for (int i = 0; i < 1000; i++) {
        nbr_language_from_name(&lang, name);
        if (!strstr(nbr_last_error(), name)) return (void *)1;
    }
    return NULL;
}

/* The last error is per thread: two threads failing at once each read their own. */
static void last_error_is_per_thread(void)
{
    pthread_t a, b;
    void *ra = (void *)1, *rb = (void *)1;
    CHECK(pthread_create(&a, NULL, fail_with_own_message, "fortran") == 0);
    CHECK(pthread_create(&b, NULL, fail_with_own_message, "haskell") == 0);
    pthread_join(a, &ra);
    pthread_join(b, &rb);
    CHECK(ra == NULL && rb == NULL);
}

NBR_TEST_MAIN(TEST(version_matches_header), TEST(language_names_round_trip),
              TEST(unknown_language_is_named_in_the_error), TEST(null_arguments_are_rejected),
              TEST(empty_source_may_be_null), TEST(accessors_out_of_range_return_nothing),
              TEST(names_come_in_order_of_first_appearance),
              TEST(assumed_names_list_the_read_only_calls_relied_on),
              TEST(definitions_are_readable_by_index),
              TEST(diagnostics_accept_null_out_parameters),
              TEST(aliases_are_listed_in_the_cells_order),
              TEST(chained_and_unpacked_bindings_are_aliases),
              TEST(parts_name_the_holders_a_value_may_come_from),
              TEST(json_escapes_what_needs_escaping), TEST(status_names_cover_every_code),
              TEST(clear_error_forgets_the_message), TEST(last_error_is_per_thread))
