/* bench_analysis.c - time nbr_analysis_new over a corpus of cells.
 *
 * Usage: bench_analysis CORPUS LANG [PASSES]
 * CORPUS holds NUL-separated cells (benchmarks/make_corpus.py).  One untimed
 * pass warms caches and the allocator; then every cell is analysed PASSES times
 * and the per-cell mean and median are printed as one JSON object.  The same
 * is measured for tree-sitter's parse alone (a new parser per cell, as the
 * analysis does), to show how much of the time is the parser's. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tree_sitter/api.h>

#include "nbrewind.h"

/* The grammars are compiled into libnbrewind; the static library lets the
 * benchmark call them directly. */
const TSLanguage *tree_sitter_python(void);
const TSLanguage *tree_sitter_r(void);

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static char *read_file(const char *path, size_t *length)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *data = malloc((size_t)size + 1);
    if (data && fread(data, 1, (size_t)size, f) != (size_t)size) {
        free(data);
        data = NULL;
    }
    fclose(f);
    if (data) data[size] = '\0';
    *length = (size_t)size;
    return data;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Analyses one cell; returns nonzero on failure. */
static int analyse(nbr_language lang, const char *cell, size_t length)
{
    nbr_analysis *a = NULL;
    if (nbr_analysis_new(&a, lang, cell, length) != NBR_OK) return 1;
    nbr_analysis_free(a);
    return 0;
}

/* Parses one cell with tree-sitter only. */
static int parse_only(nbr_language lang, const char *cell, size_t length)
{
    TSParser *parser = ts_parser_new();
    ts_parser_set_language(parser, lang == NBR_LANG_PYTHON ? tree_sitter_python() : tree_sitter_r());
    TSTree *tree = ts_parser_parse_string(parser, NULL, cell, (uint32_t)length);
    ts_tree_delete(tree);
    ts_parser_delete(parser);
    return tree == NULL;
}

/* The same with one parser kept across cells, to show what reusing a parser
 * would save (the library makes one per analysis). */
static int parse_reusing_parser(nbr_language lang, const char *cell, size_t length)
{
    static TSParser *parsers[3];
    if (!parsers[lang]) {
        parsers[lang] = ts_parser_new();
        ts_parser_set_language(parsers[lang],
                               lang == NBR_LANG_PYTHON ? tree_sitter_python() : tree_sitter_r());
    }
    TSTree *tree = ts_parser_parse_string(parsers[lang], NULL, cell, (uint32_t)length);
    ts_tree_delete(tree);
    return tree == NULL;
}

typedef int (*cell_work)(nbr_language, const char *, size_t);

/* Times `work` over every cell, PASSES times each; prints one JSON object. */
static void time_cells(const char *label, cell_work work, nbr_language lang, const char **cells,
                       const size_t *lengths, size_t count, int passes)
{
    double *per_cell = malloc(count * sizeof *per_cell);
    double total = 0;
    for (size_t i = 0; i < count; i++) {
        double start = now_ns();
        for (int p = 0; p < passes; p++) work(lang, cells[i], lengths[i]);
        per_cell[i] = (now_ns() - start) / passes / 1000.0;
        total += per_cell[i];
    }
    qsort(per_cell, count, sizeof *per_cell, compare_doubles);
    printf("\"%s\": {\"mean_us\": %.2f, \"median_us\": %.2f, \"p90_us\": %.2f}", label,
           total / (double)count, per_cell[count / 2], per_cell[count * 9 / 10]);
    free(per_cell);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s CORPUS python|r [PASSES]\n", argv[0]);
        return 2;
    }
    nbr_language lang;
    if (nbr_language_from_name(&lang, argv[2]) != NBR_OK) {
        fprintf(stderr, "%s\n", nbr_last_error());
        return 2;
    }
    int passes = argc > 3 ? atoi(argv[3]) : 20;
    size_t size;
    char *corpus = read_file(argv[1], &size);
    if (!corpus) {
        perror(argv[1]);
        return 2;
    }
    size_t count = 0, capacity = 1024;
    const char **cells = malloc(capacity * sizeof *cells);
    size_t *lengths = malloc(capacity * sizeof *lengths);
    for (size_t at = 0; at <= size;) {
        size_t length = strlen(corpus + at);
        if (count == capacity) {
            capacity *= 2;
            cells = realloc(cells, capacity * sizeof *cells);
            lengths = realloc(lengths, capacity * sizeof *lengths);
        }
        cells[count] = corpus + at;
        lengths[count++] = length;
        at += length + 1;
    }
    for (size_t i = 0; i < count; i++) { /* warm-up pass, untimed */
        if (analyse(lang, cells[i], lengths[i])) {
            fprintf(stderr, "cell %zu: %s\n", i, nbr_last_error());
            return 1;
        }
        parse_reusing_parser(lang, cells[i], lengths[i]);
    }
    printf("{\"cells\": %zu, \"passes\": %d, ", count, passes);
    time_cells("analysis", analyse, lang, cells, lengths, count, passes);
    printf(", ");
    time_cells("parse_only", parse_only, lang, cells, lengths, count, passes);
    printf(", ");
    time_cells("parse_reusing_parser", parse_reusing_parser, lang, cells, lengths, count, passes);
    printf("}\n");
    free(cells);
    free(lengths);
    free(corpus);
    return 0;
}
