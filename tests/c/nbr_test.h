/* nbr_test.h - the few assertions the C tests share.
 *
 * A test binary is a list of test functions run by NBR_TEST_MAIN; each failed
 * CHECK prints where and why and marks the binary failed, and the binary ends
 * with a "N passed, N failed" line. */
#ifndef NBR_TEST_H
#define NBR_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nbrewind.h"

extern int nbr_test_failures;

#define CHECK(cond)                                                                 \
    do {                                                                            \
        if (!(cond)) {                                                              \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            nbr_test_failures++;                                                    \
        }                                                                           \
    } while (0)

#define CHECK_STATUS(expected, call)                                                  \
    do {                                                                              \
        int got_ = (call);                                                            \
        if (got_ != (expected)) {                                                     \
            fprintf(stderr, "%s:%d: %s returned %s, expected %s (last error: %s)\n",  \
                    __FILE__, __LINE__, #call, nbr_status_name(got_),                 \
                    nbr_status_name(expected), nbr_last_error());                     \
            nbr_test_failures++;                                                      \
        }                                                                             \
    } while (0)

#define CHECK_OK(call) CHECK_STATUS(NBR_OK, call)

#define CHECK_STR(expected, actual)                                                     \
    do {                                                                                \
        const char *e_ = (expected), *a_ = (actual);                                    \
        if (!a_ || strcmp(e_, a_) != 0) {                                               \
            fprintf(stderr, "%s:%d: expected \"%s\", got \"%s\"\n", __FILE__, __LINE__, \
                    e_, a_ ? a_ : "(null)");                                            \
            nbr_test_failures++;                                                        \
        }                                                                               \
    } while (0)

typedef struct nbr_test {
    const char *name;
    void (*run)(void);
} nbr_test;

/* Runs every test (or those whose name contains argv[1]) and prints a summary. */
#define NBR_TEST_MAIN(...)                                                         \
    int nbr_test_failures = 0;                                                     \
    int main(int argc, char **argv)                                                \
    {                                                                              \
        static const nbr_test tests[] = {__VA_ARGS__};                             \
        int passed = 0, failed = 0;                                                \
        for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {             \
            if (argc > 1 && !strstr(tests[i].name, argv[1])) continue;             \
            int before = nbr_test_failures;                                        \
            tests[i].run();                                                        \
            if (nbr_test_failures == before) passed++;                             \
            else {                                                                 \
                failed++;                                                          \
                fprintf(stderr, "FAILED: %s\n", tests[i].name);                    \
            }                                                                      \
        }                                                                          \
        printf("%d passed, %d failed\n", passed, failed);                          \
        return failed ? 1 : 0;                                                     \
    }

#define TEST(fn) {#fn, fn}

#endif
