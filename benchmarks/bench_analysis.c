/* bench_analysis.c - time nbr_analysis_new over a corpus of cells.
 *
 * Usage: bench_analysis CORPUS LANG [PASSES]
 * CORPUS holds NUL-separated cells (benchmarks/make_corpus.py).  One untimed
 * pass warms caches and the allocator; then every cell is analysed PASSES times
 * and the per-cell mean and median are printed as one JSON object. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nbrewind.h"

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
    for (size_t i = 0; i < count; i++) /* warm-up pass, untimed */
        if (analyse(lang, cells[i], lengths[i])) {
            fprintf(stderr, "cell %zu: %s\n", i, nbr_last_error());
            return 1;
        }
    double *per_cell = malloc(count * sizeof *per_cell);
    double total = 0;
    for (size_t i = 0; i < count; i++) {
        double start = now_ns();
        for (int p = 0; p < passes; p++) analyse(lang, cells[i], lengths[i]);
        per_cell[i] = (now_ns() - start) / passes / 1000.0;
        total += per_cell[i];
    }
    qsort(per_cell, count, sizeof *per_cell, compare_doubles);
    printf("{\"cells\": %zu, \"passes\": %d, \"mean_us\": %.2f, \"median_us\": %.2f, "
           "\"p90_us\": %.2f}\n",
           count, passes, total / (double)count, per_cell[count / 2], per_cell[count * 9 / 10]);
    free(per_cell);
    free(cells);
    free(lengths);
    free(corpus);
    return 0;
}
