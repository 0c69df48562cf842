/* test_graph.c - the notebook graph and re-run planning (nbr_graph_*, nbr_plan_*).
 *
 * Every notebook here is made of real Python cells analysed by the library's
 * own analyzer, plus the observations an audit kernel would attach.  Helpers
 * render edges, name lists and restore lists as short strings so that each
 * test states the expected result in one line:
 *   edges    "a->b:x a->c:x"      (producer->consumer:name, in API order)
 *   restores "x@a y@b"            (name@as-of cell, in API order)
 *   names    "x y"                (nbr_graph_cell_name order) */
#include <stdarg.h>
#include <stdbool.h>

#include "nbr_test.h"

/* ---- building notebooks ------------------------------------------------- */

static nbr_analysis *analyze(const char *source)
{
    nbr_analysis *a = NULL;
    CHECK_OK(nbr_analysis_new(&a, NBR_LANG_PYTHON, source, strlen(source)));
    return a;
}

static void add(nbr_graph *g, const char *id, const char *source)
{
    nbr_analysis *a = analyze(source);
    CHECK_OK(nbr_graph_add_cell(g, id, a));
    nbr_analysis_free(a);
}

static void edit(nbr_graph *g, const char *id, const char *source)
{
    nbr_analysis *a = analyze(source);
    CHECK_OK(nbr_graph_edit_cell(g, id, a));
    nbr_analysis_free(a);
}

static void wrote(nbr_graph *g, const char *id, const char *name, const char *hash)
{
    CHECK_OK(nbr_graph_observe(g, id, NBR_OBSERVED_WRITE, name, hash));
}

static void read_(nbr_graph *g, const char *id, const char *name, const char *hash)
{
    CHECK_OK(nbr_graph_observe(g, id, NBR_OBSERVED_READ, name, hash));
}

/* A graph of cells given as id, source, id, source, ..., NULL. */
static nbr_graph *notebook(const char *first_id, ...)
{
    nbr_graph *g = NULL;
    CHECK_OK(nbr_graph_new(&g));
    va_list args;
    va_start(args, first_id);
    for (const char *id = first_id; id; id = va_arg(args, const char *))
        add(g, id, va_arg(args, const char *));
    va_end(args);
    return g;
}

/* ---- rendering results -------------------------------------------------- */

static char rendered[4096];

static void append(const char *text)
{
    size_t used = strlen(rendered);
    snprintf(rendered + used, sizeof rendered - used, "%s%s", used ? " " : "", text);
}

static const char *edges(const nbr_graph *g)
{
    rendered[0] = '\0';
    for (size_t i = 0; i < nbr_graph_edge_count(g); i++) {
        const char *from, *to, *name;
        char item[256];
        CHECK_OK(nbr_graph_edge(&from, &to, &name, g, i));
        snprintf(item, sizeof item, "%s->%s:%s", from, to, name);
        append(item);
    }
    return rendered;
}

static const char *names(const nbr_graph *g, const char *id, nbr_access which)
{
    rendered[0] = '\0';
    for (size_t i = 0; i < nbr_graph_cell_name_count(g, id, which); i++)
        append(nbr_graph_cell_name(g, id, which, i));
    return rendered;
}

static const char *restores(const nbr_plan *p, const char *id)
{
    rendered[0] = '\0';
    for (size_t i = 0; i < nbr_plan_restore_count(p, id); i++) {
        const char *name, *as_of;
        char item[256];
        CHECK_OK(nbr_plan_restore(&name, &as_of, p, id, i));
        snprintf(item, sizeof item, "%s@%s", name, as_of);
        append(item);
    }
    return rendered;
}

static nbr_plan_state state(const nbr_plan *p, const char *id)
{
    nbr_plan_state s = NBR_PLAN_DONE;
    CHECK_OK(nbr_plan_cell_state(&s, p, id));
    return s;
}

/* The id nbr_plan_next returns ("" for none), as a string to compare. */
static const char *next(nbr_plan *p)
{
    const char *id = NULL;
    CHECK_OK(nbr_plan_next(&id, p));
    return id ? id : "";
}

static nbr_plan *plan(const nbr_graph *g)
{
    nbr_plan *p = NULL;
    CHECK_OK(nbr_plan_new(&p, g));
    return p;
}

static void report(nbr_plan *p, const char *id, const char *name, const char *hash)
{
    CHECK_OK(nbr_plan_report(p, id, NBR_OBSERVED_WRITE, name, hash));
}

static void done(nbr_plan *p, const char *id) { CHECK_OK(nbr_plan_cell_done(p, id)); }

/* ---- the graph ---------------------------------------------------------- */

static void graph_lists_cells_in_execution_order(void)
{
    nbr_graph *g = notebook("c1", "x = 1", "c2", "y = x + 1", NULL);
    CHECK(nbr_graph_cell_count(g) == 2);
    CHECK_STR("c1", nbr_graph_cell_id(g, 0));
    CHECK_STR("c2", nbr_graph_cell_id(g, 1));
    CHECK(nbr_graph_cell_id(g, 2) == NULL);
    CHECK(nbr_graph_cell_count(NULL) == 0);
    CHECK(nbr_graph_cell_id(NULL, 0) == NULL);
    nbr_graph_free(g);
}

static void linear_chain_has_one_edge_per_link(void)
{
    nbr_graph *g = notebook("a", "x = 1", "b", "y = x + 1", "c", "z = y * 2", NULL);
    CHECK_STR("a->b:x b->c:y", edges(g));
    CHECK_STR("x", names(g, "b", NBR_ACCESS_READS));
    CHECK_STR("y", names(g, "b", NBR_ACCESS_WRITES));
    nbr_graph_free(g);
}

static void edges_come_from_the_latest_writer_in_consumer_then_name_order(void)
{
    nbr_graph *g = notebook("a", "x = 1\ny = 1", "b", "x = 2", "c", "print(y, x)", NULL);
    /* print is a builtin: no producer, no edge.  y before x: the order c reads them. */
    CHECK_STR("a->c:y b->c:x", edges(g));
    nbr_graph_free(g);
}

static void diamond_joins_two_paths(void)
{
    nbr_graph *g = notebook("a", "x = 1", "b", "y = x + 1", "c", "z = x * 2", "d", "w = y + z",
                            NULL);
    CHECK_STR("a->b:x a->c:x b->d:y c->d:z", edges(g));
    edit(g, "b", "y = x + 2");
    nbr_plan *p = plan(g);
    CHECK(state(p, "a") == NBR_PLAN_SKIP);
    CHECK(state(p, "b") == NBR_PLAN_MUST_RUN);
    CHECK(state(p, "c") == NBR_PLAN_SKIP);
    CHECK(state(p, "d") == NBR_PLAN_MAY_RUN);
    CHECK_STR("x@a", restores(p, "b"));
    CHECK_STR("z@c", restores(p, "d"));
    CHECK_STR("", restores(p, "c"));
    nbr_plan_free(p);
    nbr_graph_free(g);
}

static void edit_of_first_cell_may_rerun_the_whole_chain(void)
{
    nbr_graph *g = notebook("a", "x = 1", "b", "y = x + 1", "c", "z = y * 2", NULL);
    edit(g, "a", "x = 10");
    nbr_plan *p = plan(g);
    CHECK(state(p, "a") == NBR_PLAN_MUST_RUN);
    CHECK(state(p, "b") == NBR_PLAN_MAY_RUN);
    CHECK(state(p, "c") == NBR_PLAN_MAY_RUN);
    CHECK_STR("", restores(p, "b")); /* x is live: a re-runs */
    CHECK_STR("a", next(p));
    report(p, "a", "x", "h10");
    done(p, "a");
    CHECK_STR("b", next(p));
    CHECK(state(p, "b") == NBR_PLAN_MUST_RUN); /* its input is known to have changed */
    report(p, "b", "y", "h11");
    done(p, "b");
    CHECK_STR("c", next(p));
    report(p, "c", "z", "h22");
    done(p, "c");
    CHECK_STR("", next(p));
    CHECK(state(p, "a") == NBR_PLAN_DONE && state(p, "c") == NBR_PLAN_DONE);
    nbr_plan_free(p);
    nbr_graph_free(g);
}

static void edit_of_middle_cell_restores_its_inputs(void)
{
    nbr_graph *g =
        notebook("a", "x = 1", "b", "y = x + 1", "c", "z = y * 2", "d", "w = z - 1", NULL);
    edit(g, "c", "z = y * 3");
    nbr_plan *p = plan(g);
    CHECK(state(p, "a") == NBR_PLAN_SKIP);
    CHECK(state(p, "b") == NBR_PLAN_SKIP);
    CHECK(state(p, "c") == NBR_PLAN_MUST_RUN);
    CHECK(state(p, "d") == NBR_PLAN_MAY_RUN);
    CHECK_STR("y@b", restores(p, "c"));
    CHECK_STR("c", next(p));
    CHECK_STR("y@b", restores(p, "c"));
    nbr_plan_free(p);
    nbr_graph_free(g);
}

static void edit_of_last_cell_reruns_only_it(void)
{
    nbr_graph *g = notebook("a", "x = 1", "b", "y = x + 1", "c", "print(x, y)", NULL);
    edit(g, "c", "print(y, x)");
    nbr_plan *p = plan(g);
    CHECK(state(p, "a") == NBR_PLAN_SKIP);
    CHECK(state(p, "b") == NBR_PLAN_SKIP);
    CHECK_STR("y@b x@a", restores(p, "c"));
    CHECK_STR("c", next(p));
    done(p, "c");
    CHECK_STR("", next(p));
    nbr_plan_free(p);
    nbr_graph_free(g);
}

static void edit_that_drops_a_binding_changes_it_for_readers(void)
{
    nbr_graph *g = notebook("c0", "y = 0", "c1", "x = 1\ny = 2", "c2", "print(y)", NULL);
    wrote(g, "c0", "y", "h0");
    wrote(g, "c1", "x", "h1");
    wrote(g, "c1", "y", "h2");
    edit(g, "c1", "x = 1");
    /* The old source's y still counts as written by c1. */
    CHECK_STR("x y", names(g, "c1", NBR_ACCESS_WRITES));
    CHECK_STR("c1->c2:y", edges(g));
    nbr_plan *p = plan(g);
    CHECK(state(p, "c2") == NBR_PLAN_MAY_RUN);
    CHECK_STR("c1", next(p));
    report(p, "c1", "x", "h1"); /* x as before; y not bound any more */
    done(p, "c1");
    CHECK_STR("c2", next(p));
    CHECK(state(p, "c2") == NBR_PLAN_MUST_RUN);
    CHECK_STR("y@c0", restores(p, "c2")); /* what a fresh run would see */
    nbr_plan_free(p);
    nbr_graph_free(g);
}

static void second_edit_keeps_the_audited_writes(void)
{
    nbr_graph *g = notebook("c1", "x = 1\ny = 2", "c2", "print(y)", NULL);
    edit(g, "c1", "x = 1\nz = 3");
    edit(g, "c1", "x = 1");
    CHECK_STR("x y", names(g, "c1", NBR_ACCESS_WRITES));
    nbr_graph_free(g);
}

static void mark_edited_makes_a_cell_must_run(void)
{
    nbr_graph *g = notebook("a", "x = load()", "b", "y = x + 1", NULL);
    CHECK_OK(nbr_graph_mark_edited(g, "a"));
    nbr_plan *p = plan(g);
    CHECK(state(p, "a") == NBR_PLAN_MUST_RUN);
    CHECK(state(p, "b") == NBR_PLAN_MAY_RUN);
    nbr_plan_free(p);
    nbr_graph_free(g);
}

static void no_edit_means_nothing_to_run(void)
{
    nbr_graph *g = notebook("a", "x = 1", "b", "y = x + 1", NULL);
    nbr_plan *p = plan(g);
    CHECK(state(p, "a") == NBR_PLAN_SKIP && state(p, "b") == NBR_PLAN_SKIP);
    CHECK_STR("", next(p));
    CHECK_STR("", next(p));
    nbr_plan_free(p);
    nbr_graph_free(g);
}

/* ---- may-mutate, confirmed or refuted by hashes ------------------------- */

static nbr_graph *append_notebook(const char *hash_after_append)
{
    nbr_graph *g = notebook("c1", "xs = []", "c2", "xs.append(1)", "c3", "n = len(xs)", NULL);
    wrote(g, "c1", "xs", "h1");
    wrote(g, "c2", "xs", hash_after_append);
    return g;
}

static void may_mutate_with_unchanged_hash_is_not_a_write(void)
{
    nbr_graph *g = append_notebook("h1");
    CHECK_STR("", names(g, "c2", NBR_ACCESS_WRITES));
    CHECK_STR("xs", names(g, "c2", NBR_ACCESS_READS)); /* still read */
    CHECK_STR("c1->c2:xs c1->c3:xs", edges(g));
    nbr_graph_free(g);
}

static void may_mutate_with_changed_hash_is_a_write(void)
{
    nbr_graph *g = append_notebook("h2");
    CHECK_STR("xs", names(g, "c2", NBR_ACCESS_WRITES));
    CHECK_STR("c1->c2:xs c2->c3:xs", edges(g));
    nbr_graph_free(g);
}

static void may_mutate_without_observations_is_a_write(void)
{
    nbr_graph *g = notebook("c1", "xs = []", "c2", "xs.append(1)", "c3", "n = len(xs)", NULL);
    CHECK_STR("c1->c2:xs c2->c3:xs", edges(g));
    nbr_graph_free(g);
}

static void refuted_may_mutate_restores_from_the_earlier_writer(void)
{
    nbr_graph *g = append_notebook("h1");
    edit(g, "c3", "n = len(xs) + 1");
    nbr_plan *p = plan(g);
    CHECK(state(p, "c2") == NBR_PLAN_SKIP);
    CHECK_STR("xs@c1", restores(p, "c3"));
    nbr_plan_free(p);
    nbr_graph_free(g);
}

static void edited_cell_observations_do_not_refute_may_mutate(void)
{
    nbr_graph *g = append_notebook("h1");
    edit(g, "c2", "xs.append(2)");
    CHECK_STR("xs", names(g, "c2", NBR_ACCESS_WRITES));
    CHECK_STR("c1->c2:xs c2->c3:xs", edges(g));
    nbr_graph_free(g);
}

static void marked_edited_cell_observations_do_not_refute_may_mutate(void)
{
    nbr_graph *g = append_notebook("h1");
    CHECK_OK(nbr_graph_mark_edited(g, "c2"));
    CHECK_STR("xs", names(g, "c2", NBR_ACCESS_WRITES));
    nbr_graph_free(g);
}

static void later_observation_of_a_name_replaces_the_earlier(void)
{
    nbr_graph *g = append_notebook("h2");
    wrote(g, "c2", "xs", "h1"); /* the host corrected itself: unchanged after all */
    CHECK_STR("", names(g, "c2", NBR_ACCESS_WRITES));
    CHECK_OK(nbr_graph_observe(g, "c2", NBR_OBSERVED_DELETE, "xs", NULL));
    CHECK_STR("xs", names(g, "c2", NBR_ACCESS_WRITES));
    CHECK_STR("c1->c2:xs c2->c3:xs", edges(g)); /* a deletion is a change too */
    nbr_graph_free(g);
}

/* ---- aliases ------------------------------------------------------------ */

static void static_alias_mutation_writes_both_names(void)
{
    nbr_graph *g = notebook("c1", "a = []", "c2", "b = a", "c3", "b.append(1)", "c4", "print(a)",
                            NULL);
    CHECK_STR("b a", names(g, "c3", NBR_ACCESS_WRITES));
    CHECK_STR("c1->c2:a c2->c3:b c3->c4:a", edges(g));
    nbr_graph_free(g);
}

static void alias_is_not_a_write_of_the_original(void)
{
    nbr_graph *g = notebook("c1", "a = []", "c2", "b = a", "c3", "print(a)", NULL);
    wrote(g, "c2", "b", "h1");
    CHECK_STR("b", names(g, "c2", NBR_ACCESS_WRITES));
    CHECK_STR("c1->c2:a c1->c3:a", edges(g));
    nbr_graph_free(g);
}

static void rebinding_ends_an_alias(void)
{
    nbr_graph *g = notebook("c1", "a = []", "c2", "b = a", "c3", "b = []", "c4", "b.append(1)",
                            "c5", "print(a)", NULL);
    CHECK_STR("b", names(g, "c4", NBR_ACCESS_WRITES));
    CHECK_STR("c1->c2:a c3->c4:b c1->c5:a", edges(g));
    nbr_graph_free(g);
}

static void augmented_assignment_changes_the_shared_object(void)
{
    nbr_graph *g = notebook("c1", "a = []", "c2", "b = a", "c3", "b += [1]", "c4", "print(a)", NULL);
    CHECK_STR("b a", names(g, "c3", NBR_ACCESS_WRITES));
    CHECK_STR("c1->c2:a c2->c3:b c3->c4:a", edges(g));
    nbr_graph_free(g);
}

static void r_replacement_on_an_alias_reaches_the_original(void)
{
    nbr_graph *g = NULL;
    static const char *const cells[][2] = {
        {"c1", "e <- new.env()"}, {"c2", "f <- e"}, {"c3", "f$x <- 1"}, {"c4", "print(e$x)"}};
    CHECK_OK(nbr_graph_new(&g));
    for (size_t i = 0; i < 4; i++) {
        nbr_analysis *a = NULL;
        CHECK_OK(nbr_analysis_new(&a, NBR_LANG_R, cells[i][1], strlen(cells[i][1])));
        CHECK_OK(nbr_graph_add_cell(g, cells[i][0], a));
        nbr_analysis_free(a);
    }
    CHECK(nbr_graph_cell_name_count(g, "c3", NBR_ACCESS_WRITES) >= 2);
    CHECK(strstr(edges(g), "c3->c4:e") != NULL);
    nbr_graph_free(g);
}

static void alias_in_the_same_cell_as_the_mutation(void)
{
    nbr_graph *g = notebook("c1", "a = []", "c2", "b = a\nb.append(1)", "c3", "print(a)", NULL);
    CHECK_STR("c1->c2:a c2->c3:a", edges(g));
    nbr_graph_free(g);
}

static void observed_alias_mutation_writes_both_names(void)
{
    nbr_graph *g = notebook("c1", "a = make()", "c2", "b = pick(a)", "c3", "b.append(1)", "c4",
                            "print(a)", NULL);
    CHECK_STR("b", names(g, "c3", NBR_ACCESS_WRITES));
    CHECK_OK(nbr_graph_observe_alias(g, "c2", "b", "a"));
    CHECK_STR("b a", names(g, "c3", NBR_ACCESS_WRITES));
    CHECK_STR("c1->c2:a c2->c3:b c3->c4:a", edges(g));
    nbr_graph_free(g);
}

static void observed_alias_merges_two_groups(void)
{
    nbr_graph *g = notebook("c1", "a = []\nc = {}", "c2", "b = a\nd = c", "c3", "e = pick(b, d)",
                            "c4", "d.clear()", "c5", "print(a)", NULL);
    CHECK_OK(nbr_graph_observe_alias(g, "c3", "b", "d")); /* pick made them one object */
    CHECK_STR("d a b c", names(g, "c4", NBR_ACCESS_WRITES));
    CHECK_STR("c1->c2:a c1->c2:c c2->c3:b c2->c3:d c3->c4:d c4->c5:a", edges(g));
    nbr_graph_free(g);
}

static void alias_groups_are_transitive(void)
{
    nbr_graph *g = notebook("c1", "a = []", "c2", "b = a", "c3", "c = b", "c4", "c.append(1)",
                            "c5", "print(a, b)", NULL);
    CHECK_STR("c a b", names(g, "c4", NBR_ACCESS_WRITES));
    CHECK_STR("c1->c2:a c2->c3:b c3->c4:c c4->c5:a c4->c5:b", edges(g));
    nbr_graph_free(g);
}

static void alias_mutation_refuted_by_hash_writes_neither(void)
{
    nbr_graph *g = notebook("c1", "a = []", "c2", "b = a", "c3", "b.sort()", "c4", "print(a)",
                            NULL);
    wrote(g, "c1", "a", "h1");
    wrote(g, "c2", "b", "h1");
    wrote(g, "c3", "b", "h1");
    wrote(g, "c3", "a", "h1");
    CHECK_STR("", names(g, "c3", NBR_ACCESS_WRITES));
    CHECK_STR("c1->c2:a c2->c3:b c1->c4:a", edges(g));
    nbr_graph_free(g);
}

/* ---- functions and classes ---------------------------------------------- */

static void function_global_reads_carry_into_callers(void)
{
    nbr_graph *g = notebook("c1", "g = 1", "c2", "def f():\n    return g + 1", "c3", "r = f()",
                            NULL);
    CHECK_STR("f g", names(g, "c3", NBR_ACCESS_READS));
    CHECK_STR("c1->c2:g c2->c3:f c1->c3:g", edges(g));
    edit(g, "c1", "g = 2");
    nbr_plan *p = plan(g);
    CHECK(state(p, "c3") == NBR_PLAN_MAY_RUN);
    nbr_plan_free(p);
    nbr_graph_free(g);
}

static void function_global_writes_carry_into_callers(void)
{
    nbr_graph *g = notebook("c1", "def f():\n    global h\n    h = 2", "c2", "f()", "c3",
                            "print(h)", NULL);
    CHECK_STR("f", names(g, "c2", NBR_ACCESS_READS));
    CHECK_STR("h", names(g, "c2", NBR_ACCESS_WRITES));
    CHECK_STR("c1->c2:f c2->c3:h", edges(g));
    nbr_graph_free(g);
}

static void function_access_is_transitive_through_a_cycle(void)
{
    nbr_graph *g = notebook("c1", "g = 1",
                            "c2", "def f():\n    global count\n    count += 1\n    return h() + g",
                            "c3", "def h():\n    return f()",
                            "c4", "r = h()", NULL);
    CHECK_STR("h f count g", names(g, "c4", NBR_ACCESS_READS));
    CHECK_STR("r count", names(g, "c4", NBR_ACCESS_WRITES));
    /* The analysis counts a body's free globals as uses of the defining cell,
     * so c3, which only defines h, is taken to call f: over-approximated. */
    CHECK_STR("h count", names(g, "c3", NBR_ACCESS_WRITES));
    CHECK_STR("c1->c2:g c2->c3:f c1->c3:g c3->c4:h c2->c4:f c3->c4:count c1->c4:g", edges(g));
    nbr_graph_free(g);
}

static void functions_resolve_at_the_callers_position(void)
{
    nbr_graph *g = notebook("c1", "def f():\n    return a", "c2", "r = f()", "c3",
                            "def f():\n    return b", "c4", "s = f()", NULL);
    CHECK_STR("f a", names(g, "c2", NBR_ACCESS_READS));
    CHECK_STR("f b", names(g, "c4", NBR_ACCESS_READS));
    nbr_graph_free(g);
}

static void class_instantiation_carries_its_globals(void)
{
    nbr_graph *g = notebook("c1", "k = 3", "c2", "class C:\n    def m(self):\n        return k",
                            "c3", "c = C()", NULL);
    CHECK_STR("C k", names(g, "c3", NBR_ACCESS_READS));
    CHECK_STR("c1->c2:k c2->c3:C c1->c3:k", edges(g));
    nbr_graph_free(g);
}

/* ---- pseudo-names ------------------------------------------------------- */

static void rng_pseudo_name_links_cells(void)
{
    nbr_graph *g = notebook("c1", "seed = 0", "c2", "x = draw(3)", "c3", "y = draw(3)", NULL);
    wrote(g, "c1", "@rng:numpy", "s0");
    read_(g, "c2", "@rng:numpy", "s0");
    wrote(g, "c2", "@rng:numpy", "s1");
    read_(g, "c3", "@rng:numpy", "s1");
    wrote(g, "c3", "@rng:numpy", "s2");
    CHECK_STR("c1->c2:@rng:numpy c2->c3:@rng:numpy", edges(g));
    edit(g, "c1", "seed = 1");
    nbr_plan *p = plan(g);
    CHECK(state(p, "c2") == NBR_PLAN_MAY_RUN);
    CHECK(state(p, "c3") == NBR_PLAN_MAY_RUN);
    nbr_plan_free(p);
    nbr_graph_free(g);
}

static void file_pseudo_name_written_by_one_cell_read_by_another(void)
{
    nbr_graph *g = notebook("c1", "df.to_csv('/data/x.csv')", "c2", "z = 1", "c3",
                            "d = pd.read_csv('/data/x.csv')", NULL);
    wrote(g, "c1", "@file:/data/x.csv", "f1");
    read_(g, "c3", "@file:/data/x.csv", "f1");
    CHECK_STR("c1->c3:@file:/data/x.csv", edges(g));
    edit(g, "c1", "df.to_csv('/data/x.csv', index=False)");
    nbr_plan *p = plan(g);
    CHECK(state(p, "c2") == NBR_PLAN_SKIP);
    CHECK(state(p, "c3") == NBR_PLAN_MAY_RUN);
    CHECK_STR("c1", next(p));
    CHECK_OK(nbr_plan_report(p, "c1", NBR_OBSERVED_WRITE, "@file:/data/x.csv", "f1"));
    done(p, "c1");
    CHECK_STR("", next(p)); /* the file came out the same: c3 is dropped */
    CHECK(state(p, "c3") == NBR_PLAN_SKIP);
    nbr_plan_free(p);
    nbr_graph_free(g);
}

/* ---- unrestorable values and producers ---------------------------------- */

/* c4 reads the client without changing it; c5 uses it (may change it). */
static nbr_graph *dask_notebook(void)
{
    nbr_graph *g = notebook("c1", "cluster = LocalCluster()", "c2", "client = Client(cluster)",
                            "c3", "x = 1", "c4", "info = repr(client)", "c5",
                            "y = client.submit(x)", NULL);
    CHECK_OK(nbr_graph_mark_unrestorable(g, "c1", "cluster"));
    CHECK_OK(nbr_graph_mark_unrestorable(g, "c2", "client"));
    wrote(g, "c2", "client", "k1");
    wrote(g, "c2", "cluster", "cl");
    return g;
}

static void unrestorable_inputs_make_producers_to_a_fixpoint(void)
{
    nbr_graph *g = dask_notebook();
    edit(g, "c5", "y = client.submit(x + 1)");
    nbr_plan *p = plan(g);
    CHECK(state(p, "c1") == NBR_PLAN_PRODUCER); /* c2, a producer, needs the cluster */
    CHECK(state(p, "c2") == NBR_PLAN_PRODUCER);
    CHECK(state(p, "c3") == NBR_PLAN_SKIP);
    CHECK(state(p, "c4") == NBR_PLAN_SKIP); /* reads client, but from a producer */
    CHECK(state(p, "c5") == NBR_PLAN_MUST_RUN);
    CHECK_STR("x@c3", restores(p, "c5"));
    CHECK_STR("", restores(p, "c2"));
    CHECK_STR("c1", next(p));
    done(p, "c1");
    CHECK_STR("c2", next(p));
    CHECK(state(p, "c2") == NBR_PLAN_PRODUCER);
    report(p, "c2", "client", "k1"); /* the host hashes a client by its configuration */
    report(p, "c2", "cluster", "cl");
    done(p, "c2");
    CHECK_STR("c5", next(p));
    CHECK(state(p, "c4") == NBR_PLAN_SKIP);
    CHECK_STR("x@c3", restores(p, "c5"));
    nbr_plan_free(p);
    nbr_graph_free(g);
}

static void producer_reporting_a_change_dirties_its_readers(void)
{
    nbr_graph *g = dask_notebook();
    edit(g, "c5", "y = client.submit(x + 1)");
    nbr_plan *p = plan(g);
    CHECK_STR("c1", next(p));
    done(p, "c1");
    CHECK_STR("c2", next(p));
    report(p, "c2", "client", "k2"); /* a different client */
    report(p, "c2", "cluster", "cl");
    done(p, "c2");
    CHECK_STR("c4", next(p)); /* it was SKIP: it reads the changed client */
    CHECK(state(p, "c4") == NBR_PLAN_MUST_RUN);
    CHECK_STR("", restores(p, "c4")); /* the client is live */
    nbr_plan_free(p);
    nbr_graph_free(g);
}

static void unrestorable_value_of_a_may_run_cell_makes_it_a_producer(void)
{
    nbr_graph *g = notebook("c1", "path = 'a.txt'", "c2", "f = open(path)", "c3", "n = 1", "c4",
                            "line = f.readline()", NULL);
    CHECK_OK(nbr_graph_mark_unrestorable(g, "c2", "f"));
    edit(g, "c1", "path = 'b.txt'");
    edit(g, "c4", "line = f.readline().strip()");
    nbr_plan *p = plan(g);
    /* c2 could be dropped if path came out the same, but c4 needs f. */
    CHECK(state(p, "c2") == NBR_PLAN_PRODUCER);
    nbr_plan_free(p);
    nbr_graph_free(g);
}

static void restorable_values_need_no_producer(void)
{
    nbr_graph *g = notebook("c1", "x = 1", "c2", "y = x + 1", NULL);
    edit(g, "c2", "y = x + 2");
    nbr_plan *p = plan(g);
    CHECK(state(p, "c1") == NBR_PLAN_SKIP);
    CHECK_STR("x@c1", restores(p, "c2"));
    nbr_plan_free(p);
    nbr_graph_free(g);
}

static void skipped_cells_need_no_producer(void)
{
    nbr_graph *g = dask_notebook();
    edit(g, "c3", "x = 2"); /* c5 may run and needs the client; c4 does not run */
    nbr_plan *p = plan(g);
    CHECK(state(p, "c2") == NBR_PLAN_PRODUCER);
    nbr_plan_free(p);
    nbr_graph_free(g);
    g = dask_notebook();
    CHECK_OK(nbr_graph_mark_edited(g, "c3")); /* only x: nothing reads the client */
    nbr_analysis *a = analyze("y = 5");
    CHECK_OK(nbr_graph_edit_cell(g, "c5", a));
    nbr_analysis_free(a);
    p = plan(g);
    CHECK(state(p, "c1") == NBR_PLAN_SKIP);
    CHECK(state(p, "c2") == NBR_PLAN_SKIP);
    nbr_plan_free(p);
    nbr_graph_free(g);
}

/* ---- early cutoff ------------------------------------------------------- */

static nbr_graph *chain_with_hashes(void)
{
    nbr_graph *g = notebook("c1", "x = 1", "c2", "y = x + 1", "c3", "z = y + 1", NULL);
    wrote(g, "c1", "x", "hx");
    wrote(g, "c2", "y", "hy");
    wrote(g, "c3", "z", "hz");
    edit(g, "c1", "x = 1  # same value");
    return g;
}

static void early_cutoff_unchanged_writes_drop_readers(void)
{
    nbr_graph *g = chain_with_hashes();
    nbr_plan *p = plan(g);
    CHECK_STR("c1", next(p));
    report(p, "c1", "x", "hx");
    done(p, "c1");
    CHECK_STR("", next(p));
    CHECK(state(p, "c2") == NBR_PLAN_SKIP);
    CHECK(state(p, "c3") == NBR_PLAN_SKIP);
    CHECK_STR("", restores(p, "c2"));
    nbr_plan_free(p);
    nbr_graph_free(g);
}

static void early_cutoff_changed_writes_keep_readers(void)
{
    nbr_graph *g = chain_with_hashes();
    nbr_plan *p = plan(g);
    CHECK_STR("c1", next(p));
    report(p, "c1", "x", "hx2");
    done(p, "c1");
    CHECK_STR("c2", next(p));
    report(p, "c2", "y", "hy"); /* ... but y came out the same */
    done(p, "c2");
    CHECK_STR("", next(p));
    CHECK(state(p, "c2") == NBR_PLAN_DONE);
    CHECK(state(p, "c3") == NBR_PLAN_SKIP);
    nbr_plan_free(p);
    nbr_graph_free(g);
}

static void early_cutoff_nothing_reported_counts_as_changed(void)
{
    nbr_graph *g = chain_with_hashes();
    nbr_plan *p = plan(g);
    CHECK_STR("c1", next(p));
    done(p, "c1");
    CHECK_STR("c2", next(p));
    nbr_plan_free(p);
    nbr_graph_free(g);
}

static void early_cutoff_unhashable_report_counts_as_changed(void)
{
    nbr_graph *g = chain_with_hashes();
    nbr_plan *p = plan(g);
    CHECK_STR("c1", next(p));
    CHECK_OK(nbr_plan_report(p, "c1", NBR_OBSERVED_WRITE, "x", NULL));
    done(p, "c1");
    CHECK_STR("c2", next(p));
    nbr_plan_free(p);
    nbr_graph_free(g);
}

static void early_cutoff_write_without_recorded_hash_counts_as_changed(void)
{
    nbr_graph *g = notebook("c1", "x = 1", "c2", "y = x + 1", NULL);
    edit(g, "c1", "x = 1  # same value");
    nbr_plan *p = plan(g);
    CHECK_STR("c1", next(p));
    report(p, "c1", "x", "hx");
    done(p, "c1");
    CHECK_STR("c2", next(p));
    nbr_plan_free(p);
    nbr_graph_free(g);
}

static void early_cutoff_edited_plot_cell_does_not_rerun_readers(void)
{
    nbr_graph *g = notebook("c1", "data = load()", "c2", "fig = plot(data)", "c3", "save(fig)",
                            "c4", "summary = describe(data)", NULL);
    wrote(g, "c1", "data", "d1");
    wrote(g, "c2", "fig", "f1");
    wrote(g, "c2", "data", "d1"); /* plot() did not change data */
    wrote(g, "c3", "fig", "f1");
    edit(g, "c2", "fig = plot(data, title='t')");
    nbr_plan *p = plan(g);
    CHECK(state(p, "c3") == NBR_PLAN_MAY_RUN);
    CHECK(state(p, "c4") == NBR_PLAN_MAY_RUN); /* the edited plot may change data */
    CHECK_STR("c2", next(p));
    CHECK_STR("data@c1", restores(p, "c2"));
    report(p, "c2", "fig", "f1");
    report(p, "c2", "data", "d1");
    done(p, "c2");
    CHECK_STR("", next(p));
    CHECK(state(p, "c3") == NBR_PLAN_SKIP && state(p, "c4") == NBR_PLAN_SKIP);
    nbr_plan_free(p);
    nbr_graph_free(g);
}

static void early_cutoff_dropped_cell_is_restored_from(void)
{
    nbr_graph *g = notebook("c1", "x = 1\nw = 2", "c2", "y = w + 1", "c3", "z = y + x", NULL);
    wrote(g, "c1", "x", "hx");
    wrote(g, "c1", "w", "hw");
    wrote(g, "c2", "y", "hy");
    edit(g, "c1", "x = 5\nw = 2");
    nbr_plan *p = plan(g);
    CHECK_STR("", restores(p, "c3")); /* static: y and x both re-made */
    CHECK_STR("c1", next(p));
    report(p, "c1", "x", "hx5");
    report(p, "c1", "w", "hw");
    done(p, "c1");
    CHECK_STR("c3", next(p)); /* c2 is dropped ... */
    CHECK(state(p, "c2") == NBR_PLAN_SKIP);
    CHECK_STR("y@c2", restores(p, "c3")); /* ... so y comes from its checkpoint */
    nbr_plan_free(p);
    nbr_graph_free(g);
}

static void unfinished_producer_counts_as_maybe_changed(void)
{
    nbr_graph *g = chain_with_hashes();
    nbr_plan *p = plan(g);
    CHECK_STR("c1", next(p));
    CHECK_STR("c2", next(p)); /* c1 not done yet */
    CHECK(state(p, "c2") == NBR_PLAN_MAY_RUN);
    CHECK(state(p, "c1") == NBR_PLAN_MUST_RUN);
    nbr_plan_free(p);
    nbr_graph_free(g);
}

static void unexpected_write_is_a_change_for_later_readers(void)
{
    nbr_graph *g = notebook("c0", "k = 1", "c1", "xs = []", "c2", "xs.append(k)", "c3",
                            "print(xs)", NULL);
    wrote(g, "c0", "k", "hk");
    wrote(g, "c1", "xs", "h1");
    wrote(g, "c2", "xs", "h1"); /* audit: the append did not change xs (say, a guard) */
    wrote(g, "c2", "k", "hk");
    edit(g, "c0", "k = 2");
    nbr_plan *p = plan(g);
    CHECK(state(p, "c3") == NBR_PLAN_SKIP);
    CHECK_STR("c0", next(p));
    report(p, "c0", "k", "hk2");
    done(p, "c0");
    CHECK_STR("c2", next(p));
    CHECK_STR("xs@c1", restores(p, "c2"));
    report(p, "c2", "xs", "h2"); /* now it did change xs */
    report(p, "c2", "k", "hk2");
    done(p, "c2");
    CHECK_STR("c3", next(p));
    CHECK_STR("", restores(p, "c3")); /* xs is live, not c1's */
    nbr_plan_free(p);
    nbr_graph_free(g);
}

static void reported_audit_hash_of_unexpected_name_is_no_change(void)
{
    nbr_graph *g = notebook("c0", "k = 1", "c1", "xs = []", "c2", "xs.append(k)", "c3",
                            "print(xs)", NULL);
    wrote(g, "c1", "xs", "h1");
    wrote(g, "c2", "xs", "h1");
    edit(g, "c0", "k = 2");
    nbr_plan *p = plan(g);
    CHECK_STR("c0", next(p));
    report(p, "c0", "k", "hk2");
    done(p, "c0");
    CHECK_STR("c2", next(p));
    report(p, "c2", "xs", "h1");
    done(p, "c2");
    CHECK_STR("", next(p));
    nbr_plan_free(p);
    nbr_graph_free(g);
}

static void deletion_reported_is_a_change(void)
{
    nbr_graph *g = notebook("c1", "x = 1", "c2", "y = x + 1", NULL);
    wrote(g, "c1", "x", "hx");
    edit(g, "c1", "x = 1\ndel x");
    nbr_plan *p = plan(g);
    CHECK_STR("c1", next(p));
    CHECK_OK(nbr_plan_report(p, "c1", NBR_OBSERVED_DELETE, "x", NULL));
    done(p, "c1");
    CHECK_STR("c2", next(p));
    nbr_plan_free(p);
    nbr_graph_free(g);
}

/* ---- restore lists ------------------------------------------------------ */

static void restore_as_of_two_producers_of_one_name(void)
{
    nbr_graph *g = notebook("c1", "x = 1", "c2", "a = x + 1", "c3", "x = 2", "c4", "b = x + 1",
                            NULL);
    edit(g, "c2", "a = x + 10");
    edit(g, "c4", "b = x + 10");
    nbr_plan *p = plan(g);
    CHECK_STR("x@c1", restores(p, "c2"));
    CHECK_STR("x@c3", restores(p, "c4"));
    CHECK_STR("c2", next(p));
    CHECK_STR("x@c1", restores(p, "c2"));
    done(p, "c2");
    CHECK_STR("c4", next(p));
    CHECK_STR("x@c3", restores(p, "c4"));
    nbr_plan_free(p);
    nbr_graph_free(g);
}

static void restore_skips_names_without_producer(void)
{
    nbr_graph *g = notebook("c1", "x = 1", "c2", "print(len(x), undefined_name)", NULL);
    edit(g, "c2", "print(x)");
    nbr_plan *p = plan(g);
    CHECK_STR("x@c1", restores(p, "c2"));
    CHECK(nbr_plan_restore_count(p, "nope") == 0);
    CHECK(nbr_plan_restore_count(NULL, "c2") == 0);
    nbr_plan_free(p);
    nbr_graph_free(g);
}

static void restore_includes_names_changed_in_place(void)
{
    nbr_graph *g = notebook("c1", "xs = []", "c2", "xs.append(1)", NULL);
    edit(g, "c2", "xs.append(2)");
    nbr_plan *p = plan(g);
    CHECK_STR("xs@c1", restores(p, "c2"));
    nbr_plan_free(p);
    nbr_graph_free(g);
}

/* ---- errors ------------------------------------------------------------- */

static bool error_mentions(const char *a, const char *b)
{
    return strstr(nbr_last_error(), a) && (!b || strstr(nbr_last_error(), b));
}

static void graph_rejects_null_arguments(void)
{
    nbr_graph *g = notebook("c1", "x = 1", NULL);
    nbr_analysis *a = analyze("y = 2");
    const char *s;
    CHECK_STATUS(NBR_EINVAL, nbr_graph_new(NULL));
    CHECK(error_mentions("nbr_graph_new", "out"));
    CHECK_STATUS(NBR_EINVAL, nbr_graph_add_cell(NULL, "c2", a));
    CHECK(error_mentions("nbr_graph_add_cell", "graph"));
    CHECK_STATUS(NBR_EINVAL, nbr_graph_add_cell(g, NULL, a));
    CHECK(error_mentions("nbr_graph_add_cell", "cell_id"));
    CHECK_STATUS(NBR_EINVAL, nbr_graph_add_cell(g, "c2", NULL));
    CHECK(error_mentions("nbr_graph_add_cell", "analysis"));
    CHECK_STATUS(NBR_EINVAL, nbr_graph_add_cell(g, "", a));
    CHECK_STATUS(NBR_EINVAL, nbr_graph_observe(NULL, "c1", NBR_OBSERVED_READ, "x", "h"));
    CHECK_STATUS(NBR_EINVAL, nbr_graph_observe(g, NULL, NBR_OBSERVED_READ, "x", "h"));
    CHECK_STATUS(NBR_EINVAL, nbr_graph_observe(g, "c1", NBR_OBSERVED_READ, NULL, "h"));
    CHECK(error_mentions("nbr_graph_observe", "name"));
    CHECK_STATUS(NBR_EINVAL, nbr_graph_observe(g, "c1", NBR_OBSERVED_READ, "", "h"));
    CHECK_STATUS(NBR_EINVAL, nbr_graph_observe(g, "c1", (nbr_observation)7, "x", "h"));
    CHECK_STATUS(NBR_EINVAL, nbr_graph_observe_alias(NULL, "c1", "a", "b"));
    CHECK_STATUS(NBR_EINVAL, nbr_graph_observe_alias(g, NULL, "a", "b"));
    CHECK_STATUS(NBR_EINVAL, nbr_graph_observe_alias(g, "c1", NULL, "b"));
    CHECK_STATUS(NBR_EINVAL, nbr_graph_observe_alias(g, "c1", "a", NULL));
    CHECK(error_mentions("nbr_graph_observe_alias", "other"));
    CHECK_STATUS(NBR_EINVAL, nbr_graph_mark_unrestorable(NULL, "c1", "x"));
    CHECK_STATUS(NBR_EINVAL, nbr_graph_mark_unrestorable(g, NULL, "x"));
    CHECK_STATUS(NBR_EINVAL, nbr_graph_mark_unrestorable(g, "c1", NULL));
    CHECK_STATUS(NBR_EINVAL, nbr_graph_edit_cell(NULL, "c1", a));
    CHECK_STATUS(NBR_EINVAL, nbr_graph_edit_cell(g, NULL, a));
    CHECK_STATUS(NBR_EINVAL, nbr_graph_edit_cell(g, "c1", NULL));
    CHECK(error_mentions("nbr_graph_edit_cell", "new_analysis"));
    CHECK_STATUS(NBR_EINVAL, nbr_graph_mark_edited(NULL, "c1"));
    CHECK_STATUS(NBR_EINVAL, nbr_graph_mark_edited(g, NULL));
    CHECK_STATUS(NBR_EINVAL, nbr_graph_edge(NULL, &s, &s, g, 0));
    CHECK_STATUS(NBR_EINVAL, nbr_graph_edge(&s, NULL, &s, g, 0));
    CHECK_STATUS(NBR_EINVAL, nbr_graph_edge(&s, &s, NULL, g, 0));
    CHECK_STATUS(NBR_EINVAL, nbr_graph_edge(&s, &s, &s, NULL, 0));
    CHECK(s == NULL);
    CHECK(nbr_graph_edge_count(NULL) == 0);
    CHECK(nbr_graph_cell_name_count(NULL, "c1", NBR_ACCESS_READS) == 0);
    CHECK(nbr_graph_cell_name_count(g, NULL, NBR_ACCESS_READS) == 0);
    CHECK(nbr_graph_cell_name_count(g, "c1", (nbr_access)5) == 0);
    CHECK(nbr_graph_cell_name(g, "c1", NBR_ACCESS_WRITES, 1) == NULL);
    CHECK_STR("x", nbr_graph_cell_name(g, "c1", NBR_ACCESS_WRITES, 0));
    nbr_graph_free(NULL);
    nbr_analysis_free(a);
    nbr_graph_free(g);
}

static void graph_reports_unknown_cells(void)
{
    nbr_graph *g = notebook("c1", "x = 1", NULL);
    nbr_analysis *a = analyze("y = 2");
    CHECK_STATUS(NBR_ENOTFOUND, nbr_graph_observe(g, "c9", NBR_OBSERVED_WRITE, "x", "h"));
    CHECK(error_mentions("nbr_graph_observe", "'c9'"));
    CHECK_STATUS(NBR_ENOTFOUND, nbr_graph_observe_alias(g, "c9", "a", "b"));
    CHECK_STATUS(NBR_ENOTFOUND, nbr_graph_mark_unrestorable(g, "c9", "x"));
    CHECK_STATUS(NBR_ENOTFOUND, nbr_graph_edit_cell(g, "c9", a));
    CHECK_STATUS(NBR_ENOTFOUND, nbr_graph_mark_edited(g, "c9"));
    CHECK(error_mentions("nbr_graph_mark_edited", "'c9'"));
    CHECK(nbr_graph_cell_name_count(g, "c9", NBR_ACCESS_WRITES) == 0);
    CHECK(nbr_graph_cell_name(g, "c9", NBR_ACCESS_WRITES, 0) == NULL);
    nbr_analysis_free(a);
    nbr_graph_free(g);
}

static void graph_rejects_duplicate_cell_ids(void)
{
    nbr_graph *g = notebook("c1", "x = 1", NULL);
    nbr_analysis *a = analyze("y = 2");
    CHECK_STATUS(NBR_EEXISTS, nbr_graph_add_cell(g, "c1", a));
    CHECK(error_mentions("nbr_graph_add_cell", "'c1'"));
    CHECK(nbr_graph_cell_count(g) == 1);
    nbr_analysis_free(a);
    nbr_graph_free(g);
}

static void graph_edge_index_out_of_range(void)
{
    nbr_graph *g = notebook("c1", "x = 1", "c2", "y = x", NULL);
    const char *from = "?", *to = "?", *name = "?";
    CHECK(nbr_graph_edge_count(g) == 1);
    CHECK_STATUS(NBR_EINVAL, nbr_graph_edge(&from, &to, &name, g, 1));
    CHECK(error_mentions("nbr_graph_edge", "1"));
    CHECK(from == NULL && to == NULL && name == NULL);
    nbr_graph_free(g);
}

static void graph_cannot_change_while_a_plan_exists(void)
{
    nbr_graph *g = notebook("c1", "x = 1", NULL);
    nbr_analysis *a = analyze("y = 2");
    nbr_plan *p = plan(g);
    CHECK_STATUS(NBR_ESTATE, nbr_graph_add_cell(g, "c2", a));
    CHECK(error_mentions("nbr_graph_add_cell", "plan"));
    CHECK_STATUS(NBR_ESTATE, nbr_graph_observe(g, "c1", NBR_OBSERVED_WRITE, "x", "h"));
    CHECK_STATUS(NBR_ESTATE, nbr_graph_observe_alias(g, "c1", "a", "b"));
    CHECK_STATUS(NBR_ESTATE, nbr_graph_mark_unrestorable(g, "c1", "x"));
    CHECK_STATUS(NBR_ESTATE, nbr_graph_edit_cell(g, "c1", a));
    CHECK_STATUS(NBR_ESTATE, nbr_graph_mark_edited(g, "c1"));
    nbr_plan_free(p);
    CHECK_OK(nbr_graph_add_cell(g, "c2", a));
    nbr_analysis_free(a);
    nbr_graph_free(g);
}

static void plan_rejects_null_arguments(void)
{
    nbr_graph *g = notebook("c1", "x = 1", NULL);
    nbr_plan *p = NULL;
    nbr_plan_state st;
    const char *s = "?", *t = "?";
    CHECK_STATUS(NBR_EINVAL, nbr_plan_new(NULL, g));
    CHECK(error_mentions("nbr_plan_new", "out"));
    CHECK_STATUS(NBR_EINVAL, nbr_plan_new(&p, NULL));
    CHECK(p == NULL);
    p = plan(g);
    CHECK_STATUS(NBR_EINVAL, nbr_plan_cell_state(NULL, p, "c1"));
    CHECK_STATUS(NBR_EINVAL, nbr_plan_cell_state(&st, NULL, "c1"));
    CHECK_STATUS(NBR_EINVAL, nbr_plan_cell_state(&st, p, NULL));
    CHECK_STATUS(NBR_EINVAL, nbr_plan_next(NULL, p));
    CHECK_STATUS(NBR_EINVAL, nbr_plan_next(&s, NULL));
    CHECK(s == NULL);
    CHECK_STATUS(NBR_EINVAL, nbr_plan_report(NULL, "c1", NBR_OBSERVED_WRITE, "x", "h"));
    CHECK_STATUS(NBR_EINVAL, nbr_plan_report(p, NULL, NBR_OBSERVED_WRITE, "x", "h"));
    CHECK_STATUS(NBR_EINVAL, nbr_plan_report(p, "c1", NBR_OBSERVED_WRITE, NULL, "h"));
    CHECK(error_mentions("nbr_plan_report", "name"));
    CHECK_STATUS(NBR_EINVAL, nbr_plan_report(p, "c1", NBR_OBSERVED_READ, "x", "h"));
    CHECK_STATUS(NBR_EINVAL, nbr_plan_cell_done(NULL, "c1"));
    CHECK_STATUS(NBR_EINVAL, nbr_plan_cell_done(p, NULL));
    CHECK(error_mentions("nbr_plan_cell_done", "cell_id"));
    s = "?";
    CHECK_STATUS(NBR_EINVAL, nbr_plan_restore(NULL, &t, p, "c1", 0));
    CHECK_STATUS(NBR_EINVAL, nbr_plan_restore(&s, NULL, p, "c1", 0));
    CHECK_STATUS(NBR_EINVAL, nbr_plan_restore(&s, &t, NULL, "c1", 0));
    CHECK_STATUS(NBR_EINVAL, nbr_plan_restore(&s, &t, p, NULL, 0));
    CHECK(s == NULL && t == NULL);
    nbr_plan_free(NULL);
    nbr_plan_free(p);
    nbr_graph_free(g);
}

static void plan_reports_unknown_cells(void)
{
    nbr_graph *g = notebook("c1", "x = 1", NULL);
    nbr_plan *p = plan(g);
    nbr_plan_state st;
    const char *s, *t;
    CHECK_STATUS(NBR_ENOTFOUND, nbr_plan_cell_state(&st, p, "zz"));
    CHECK(error_mentions("nbr_plan_cell_state", "'zz'"));
    CHECK_STATUS(NBR_ENOTFOUND, nbr_plan_report(p, "zz", NBR_OBSERVED_WRITE, "x", "h"));
    CHECK_STATUS(NBR_ENOTFOUND, nbr_plan_cell_done(p, "zz"));
    CHECK_STATUS(NBR_ENOTFOUND, nbr_plan_restore(&s, &t, p, "zz", 0));
    nbr_plan_free(p);
    nbr_graph_free(g);
}

static void plan_report_and_done_need_a_running_cell(void)
{
    nbr_graph *g = notebook("c1", "x = 1", "c2", "y = x", NULL);
    edit(g, "c1", "x = 2");
    nbr_plan *p = plan(g);
    CHECK_STATUS(NBR_ESTATE, nbr_plan_report(p, "c1", NBR_OBSERVED_WRITE, "x", "h"));
    CHECK(error_mentions("nbr_plan_report", "nbr_plan_next"));
    CHECK_STATUS(NBR_ESTATE, nbr_plan_cell_done(p, "c1"));
    CHECK_STR("c1", next(p));
    done(p, "c1");
    CHECK_STATUS(NBR_ESTATE, nbr_plan_cell_done(p, "c1"));
    CHECK(error_mentions("nbr_plan_cell_done", "already done"));
    CHECK_STATUS(NBR_ESTATE, nbr_plan_report(p, "c1", NBR_OBSERVED_WRITE, "x", "h"));
    nbr_plan_free(p);
    nbr_graph_free(g);
}

static void plan_restore_index_out_of_range(void)
{
    nbr_graph *g = notebook("c1", "x = 1", "c2", "y = x", NULL);
    edit(g, "c2", "y = x + 1");
    nbr_plan *p = plan(g);
    const char *s, *t;
    CHECK(nbr_plan_restore_count(p, "c2") == 1);
    CHECK_STATUS(NBR_EINVAL, nbr_plan_restore(&s, &t, p, "c2", 1));
    CHECK(error_mentions("nbr_plan_restore", "c2"));
    nbr_plan_free(p);
    nbr_graph_free(g);
}

static void next_never_returns_a_cell_twice(void)
{
    nbr_graph *g = notebook("c1", "x = 1", "c2", "y = x", NULL);
    edit(g, "c1", "x = 2");
    nbr_plan *p = plan(g);
    CHECK_STR("c1", next(p));
    CHECK_STR("c2", next(p));
    CHECK_STR("", next(p));
    CHECK_STR("", next(p));
    nbr_plan_free(p);
    nbr_graph_free(g);
}

/* ---- out of memory ------------------------------------------------------ */

/* Where the C library allows it (glibc, no sanitizer that owns malloc), the
 * test replaces malloc/calloc/realloc so that allocation number N and every
 * later one fail, and runs a whole scenario for N = 0, 1, 2, ... until it
 * passes: every call must then fail cleanly with NBR_ENOMEM (valgrind checks
 * that nothing leaks on those paths). */
#if defined(__SANITIZE_ADDRESS__)
#define NBR_NO_FAULT_INJECTION 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer)
#define NBR_NO_FAULT_INJECTION 1
#endif
#endif
#if !defined(__GLIBC__)
#define NBR_NO_FAULT_INJECTION 1
#endif

#ifndef NBR_NO_FAULT_INJECTION
#include <stdint.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *ptr, size_t size);
extern void __libc_free(void *ptr);

static long allocations_left = -1; /* -1: never fail */

static bool allocation_fails(void)
{
    if (allocations_left < 0) return false;
    if (allocations_left == 0) return true;
    allocations_left--;
    return false;
}

/* The blocks allocated while tracking is on and not freed yet: a fixed
 * open-addressing set (it must not allocate itself).  TOMBSTONE marks a
 * removed entry so that probing continues past it. */
#define TRACKED_SLOTS (1u << 16)
#define TOMBSTONE ((void *)1)
static void *tracked[TRACKED_SLOTS];
static bool tracking;
static size_t tracked_count;

static size_t slot_of(const void *ptr)
{
    return (size_t)(((uintptr_t)ptr >> 4) * 2654435761u) & (TRACKED_SLOTS - 1);
}

static void track(void *ptr)
{
    if (!tracking || !ptr) return;
    size_t at = slot_of(ptr);
    while (tracked[at] && tracked[at] != TOMBSTONE) at = (at + 1) & (TRACKED_SLOTS - 1);
    tracked[at] = ptr;
    tracked_count++;
}

static void untrack(void *ptr)
{
    if (!tracking || !ptr) return;
    for (size_t at = slot_of(ptr); tracked[at]; at = (at + 1) & (TRACKED_SLOTS - 1)) {
        if (tracked[at] == ptr) {
            tracked[at] = TOMBSTONE;
            tracked_count--;
            return;
        }
    }
}

static void start_tracking(void)
{
    memset(tracked, 0, sizeof tracked);
    tracked_count = 0;
    tracking = true;
}

void *malloc(size_t size)
{
    void *ptr = allocation_fails() ? NULL : __libc_malloc(size);
    track(ptr);
    return ptr;
}

void *calloc(size_t count, size_t size)
{
    void *ptr = allocation_fails() ? NULL : __libc_calloc(count, size);
    track(ptr);
    return ptr;
}

void *realloc(void *ptr, size_t size)
{
    if (allocation_fails()) return NULL; /* the old block stays valid */
    void *moved = __libc_realloc(ptr, size);
    if (moved || !size) untrack(ptr);
    track(moved);
    return moved;
}

void free(void *ptr)
{
    untrack(ptr);
    __libc_free(ptr);
}

typedef struct scenario {
    nbr_analysis *cells[5], *edit;
    nbr_graph *graph;
    nbr_plan *plan;
} scenario;

#define STEP(call)                          \
    do {                                    \
        nbr_status status_ = (call);        \
        if (status_ != NBR_OK) return status_; \
    } while (0)

/* Everything the graph and plan do, as one sequence of fallible calls. */
static nbr_status run_scenario(scenario *s)
{
    static const char *const ids[] = {"c1", "c2", "c3", "c4", "c5"};
    const char *id, *a, *b, *c;
    STEP(nbr_graph_new(&s->graph));
    for (int i = 0; i < 5; i++) STEP(nbr_graph_add_cell(s->graph, ids[i], s->cells[i]));
    STEP(nbr_graph_observe(s->graph, "c1", NBR_OBSERVED_WRITE, "a", "h1"));
    STEP(nbr_graph_observe(s->graph, "c2", NBR_OBSERVED_READ, "@rng", "r1"));
    STEP(nbr_graph_observe(s->graph, "c4", NBR_OBSERVED_WRITE, "a", "h1"));
    STEP(nbr_graph_observe(s->graph, "c4", NBR_OBSERVED_DELETE, "gone", NULL));
    STEP(nbr_graph_observe_alias(s->graph, "c2", "b", "a"));
    STEP(nbr_graph_mark_unrestorable(s->graph, "c1", "a"));
    STEP(nbr_graph_edit_cell(s->graph, "c5", s->edit));
    STEP(nbr_graph_edge(&a, &b, &c, s->graph, 0));
    STEP(nbr_plan_new(&s->plan, s->graph));
    while (1) {
        STEP(nbr_plan_next(&id, s->plan));
        if (!id) break;
        STEP(nbr_plan_report(s->plan, id, NBR_OBSERVED_WRITE, "a", "h2"));
        STEP(nbr_plan_report(s->plan, id, NBR_OBSERVED_WRITE, "new", "h3"));
        STEP(nbr_plan_cell_done(s->plan, id));
    }
    return NBR_OK;
}

/* Under valgrind, its own allocator replaces ours: nothing can be made to fail. */
static bool fault_injection_works(void)
{
    void *(*volatile allocate)(size_t) = malloc; /* keep the probe from being folded */
    allocations_left = 0;
    void *probe = allocate(16);
    allocations_left = -1;
    free(probe);
    return probe == NULL;
}

static void every_call_fails_cleanly_out_of_memory(void)
{
    static const char *const sources[] = {
        "a = []", "b = a\nimport random", "def f():\n    global t\n    t = a\n    return b",
        "b.append(f())", "print(a, t)"};
    if (!fault_injection_works()) {
        fprintf(stderr, "every_call_fails_cleanly_out_of_memory: skipped (malloc not ours)\n");
        return;
    }
    scenario s = {0};
    for (int i = 0; i < 5; i++) s.cells[i] = analyze(sources[i]);
    s.edit = analyze("print(t, a, b)");
    int failures_seen = 0;
    for (long n = 0; n < 100000; n++) {
        start_tracking();
        s.graph = NULL;
        s.plan = NULL;
        allocations_left = n;
        nbr_status status = run_scenario(&s);
        allocations_left = -1;
        nbr_plan_free(s.plan);
        nbr_graph_free(s.graph);
        tracking = false;
        if (tracked_count)
            fprintf(stderr, "failing allocation %ld: %zu blocks leaked\n", n, tracked_count);
        CHECK(tracked_count == 0); /* nothing leaked on this path */
        if (status == NBR_OK) break;
        CHECK_STATUS(NBR_ENOMEM, status);
        failures_seen++;
    }
    CHECK(failures_seen > 20);
    for (int i = 0; i < 5; i++) nbr_analysis_free(s.cells[i]);
    nbr_analysis_free(s.edit);
}
#else
static void every_call_fails_cleanly_out_of_memory(void)
{
    /* Not testable here: the sanitizer runtime owns malloc. */
}
#endif

NBR_TEST_MAIN(TEST(graph_lists_cells_in_execution_order),
              TEST(linear_chain_has_one_edge_per_link),
              TEST(edges_come_from_the_latest_writer_in_consumer_then_name_order),
              TEST(diamond_joins_two_paths),
              TEST(edit_of_first_cell_may_rerun_the_whole_chain),
              TEST(edit_of_middle_cell_restores_its_inputs),
              TEST(edit_of_last_cell_reruns_only_it),
              TEST(edit_that_drops_a_binding_changes_it_for_readers),
              TEST(second_edit_keeps_the_audited_writes),
              TEST(mark_edited_makes_a_cell_must_run),
              TEST(no_edit_means_nothing_to_run),
              TEST(may_mutate_with_unchanged_hash_is_not_a_write),
              TEST(may_mutate_with_changed_hash_is_a_write),
              TEST(may_mutate_without_observations_is_a_write),
              TEST(refuted_may_mutate_restores_from_the_earlier_writer),
              TEST(edited_cell_observations_do_not_refute_may_mutate),
              TEST(marked_edited_cell_observations_do_not_refute_may_mutate),
              TEST(later_observation_of_a_name_replaces_the_earlier),
              TEST(static_alias_mutation_writes_both_names),
              TEST(augmented_assignment_changes_the_shared_object),
              TEST(r_replacement_on_an_alias_reaches_the_original),
              TEST(alias_is_not_a_write_of_the_original),
              TEST(rebinding_ends_an_alias),
              TEST(alias_in_the_same_cell_as_the_mutation),
              TEST(observed_alias_mutation_writes_both_names),
              TEST(observed_alias_merges_two_groups),
              TEST(alias_groups_are_transitive),
              TEST(alias_mutation_refuted_by_hash_writes_neither),
              TEST(function_global_reads_carry_into_callers),
              TEST(function_global_writes_carry_into_callers),
              TEST(function_access_is_transitive_through_a_cycle),
              TEST(functions_resolve_at_the_callers_position),
              TEST(class_instantiation_carries_its_globals),
              TEST(rng_pseudo_name_links_cells),
              TEST(file_pseudo_name_written_by_one_cell_read_by_another),
              TEST(unrestorable_inputs_make_producers_to_a_fixpoint),
              TEST(producer_reporting_a_change_dirties_its_readers),
              TEST(unrestorable_value_of_a_may_run_cell_makes_it_a_producer),
              TEST(restorable_values_need_no_producer),
              TEST(skipped_cells_need_no_producer),
              TEST(early_cutoff_unchanged_writes_drop_readers),
              TEST(early_cutoff_changed_writes_keep_readers),
              TEST(early_cutoff_nothing_reported_counts_as_changed),
              TEST(early_cutoff_unhashable_report_counts_as_changed),
              TEST(early_cutoff_write_without_recorded_hash_counts_as_changed),
              TEST(early_cutoff_edited_plot_cell_does_not_rerun_readers),
              TEST(early_cutoff_dropped_cell_is_restored_from),
              TEST(unfinished_producer_counts_as_maybe_changed),
              TEST(unexpected_write_is_a_change_for_later_readers),
              TEST(reported_audit_hash_of_unexpected_name_is_no_change),
              TEST(deletion_reported_is_a_change),
              TEST(restore_as_of_two_producers_of_one_name),
              TEST(restore_skips_names_without_producer),
              TEST(restore_includes_names_changed_in_place),
              TEST(graph_rejects_null_arguments),
              TEST(graph_reports_unknown_cells),
              TEST(graph_rejects_duplicate_cell_ids),
              TEST(graph_edge_index_out_of_range),
              TEST(graph_cannot_change_while_a_plan_exists),
              TEST(plan_rejects_null_arguments),
              TEST(plan_reports_unknown_cells),
              TEST(plan_report_and_done_need_a_running_cell),
              TEST(plan_restore_index_out_of_range),
              TEST(next_never_returns_a_cell_twice),
              TEST(every_call_fails_cleanly_out_of_memory))
