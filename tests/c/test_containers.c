/* test_containers.c - the core's private containers: the arena
 * (libnbrewind/alloc.c), the string set around its small-set threshold
 * (strset.c) and the ordered pipeline of jobs on worker threads (pool.c). */
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>

#include "alloc.h"
#include "nbr_test.h"
#include "pool.h"
#include "strset.h"

/* Pieces keep their bytes while later ones are carved, are aligned for
 * pointers and 64-bit integers, and a piece larger than a block gets one of its own without
 * wasting the current block's room. */
static void test_arena_pieces_stay_put(void)
{
    nbr_arena a = {0};
    char *pieces[300];
    for (int i = 0; i < 300; i++) {
        char text[16];
        int n = snprintf(text, sizeof text, "piece %d", i);
        pieces[i] = nbr_arena_copy_n(&a, text, (size_t)n);
        CHECK(pieces[i] && (uintptr_t)pieces[i] % 8 == 0 && (uintptr_t)pieces[i] % alignof(uint64_t) == 0);
    }
    char *big = nbr_arena_alloc(&a, (size_t)200 << 10); /* more than a block */
    CHECK(big != NULL);
    if (big) memset(big, 0xab, (size_t)200 << 10);
    char *after = nbr_arena_copy_n(&a, "after", 5);
    /* The small piece after the big one comes from the block before it. */
    CHECK(after && after > pieces[299] && after - pieces[299] < 64);
    for (int i = 0; i < 300; i++) {
        char text[16];
        snprintf(text, sizeof text, "piece %d", i);
        CHECK_STR(text, pieces[i]);
    }
    CHECK_STR("after", after);
    CHECK(nbr_arena_copy_n(&a, "", 0) && !*nbr_arena_copy_n(&a, "x", 0));
    nbr_arena_clear(&a);
    CHECK(a.blocks == NULL);
    nbr_arena_clear(&a); /* twice is harmless */
}

/* Up to 8 names a set scans, beyond it hashes: finding, removing,
 * truncating and intersecting give the same answers on both sides. */
static void test_strset_across_its_index_threshold(void)
{
    nbr_strset set, odd;
    nbr_strset_init(&set);
    nbr_strset_init(&odd);
    char name[16];
    for (int i = 0; i < 40; i++) {
        snprintf(name, sizeof name, "n%d", i);
        CHECK(nbr_strset_add(&set, name));
        CHECK(nbr_strset_add(&set, name)); /* again: no change */
        CHECK(set.count == (size_t)i + 1);
        CHECK(i < 8 ? set.slot_count == 0 : set.slot_count >= 2 * set.count);
        if (i % 2) CHECK(nbr_strset_add(&odd, name));
        for (int j = 0; j <= i; j++) {
            snprintf(name, sizeof name, "n%d", j);
            CHECK(nbr_strset_find_n(&set, name, strlen(name)) == j);
        }
    }
    CHECK(!nbr_strset_contains(&set, "n40") && !nbr_strset_contains(&set, "n"));
    CHECK(nbr_strset_find_n(&set, "n12x", 3) == 12); /* a prefix of the bytes */
    nbr_strset_remove(&set, "n0");
    CHECK(nbr_strset_find_n(&set, "n1", 2) == 0 && !nbr_strset_contains(&set, "n0"));
    nbr_strset_intersect(&set, &odd); /* 20 odd names stay, in order */
    CHECK(set.count == 20 && nbr_strset_find_n(&set, "n39", 3) == 19);
    nbr_strset_truncate(&set, 5); /* back under the threshold */
    CHECK(set.count == 5 && set.slot_count == 0);
    CHECK(nbr_strset_contains(&set, "n9") && !nbr_strset_contains(&set, "n11"));
    for (int i = 100; i < 120; i++) { /* and over it again */
        snprintf(name, sizeof name, "n%d", i);
        CHECK(nbr_strset_add(&set, name));
    }
    CHECK(set.count == 25 && set.slot_count >= 50);
    CHECK(nbr_strset_find_n(&set, "n119", 4) == 24 && nbr_strset_contains(&set, "n1"));
    nbr_strset_clear(&set);
    nbr_strset_clear(&odd);
}

/* A set whose copies live in an arena answers as one that mallocs them,
 * and its clear, removals and truncation free none of them one by one
 * (ASan would call that an invalid free). */
static void test_strset_with_copies_in_an_arena(void)
{
    nbr_arena a = {0};
    nbr_strset set;
    nbr_strset_init(&set);
    set.arena = &a;
    char name[16];
    for (int i = 0; i < 12; i++) {
        snprintf(name, sizeof name, "x%d", i);
        CHECK(nbr_strset_add(&set, name));
    }
    CHECK(set.count == 12 && nbr_strset_find_n(&set, "x11", 3) == 11);
    nbr_strset_remove(&set, "x3");
    nbr_strset_truncate(&set, 6);
    CHECK(set.count == 6 && !nbr_strset_contains(&set, "x3") && nbr_strset_contains(&set, "x6"));
    nbr_strset_clear(&set);
    CHECK(set.arena == NULL && set.count == 0);
    nbr_arena_clear(&a);
}

typedef struct square_job {
    uint64_t in, out, noise;
    int *buffer; /* what the job left in its slot, freed by release */
} square_job;

static void square(const void *context, void *job)
{
    square_job *j = job;
    const uint64_t *spin = context;
    uint64_t x = j->in;
    for (uint64_t i = 0; i < *spin; i++) x = x * 6364136223846793005u + 1; /* takes a while */
    j->noise = x;
    j->out = j->in * j->in;
}

static int releases;

static void release_square(void *job)
{
    square_job *j = job;
    free(j->buffer);
    j->buffer = NULL;
    releases++;
}

/* Jobs come back in the order they were queued with no worker, one and
 * several, whoever runs them; a full ring refuses another job until the
 * oldest is retired; stopping with jobs queued lets them finish and
 * releases every slot. */
static void test_pool_returns_jobs_in_order(void)
{
    static const long workers[4] = {0, 1, 3, NBR_POOL_MAX_WORKERS + 5};
    const uint64_t spin = 2000;
    for (int w = 0; w < 4; w++) {
        nbr_pool *pool = NULL;
        CHECK_OK(nbr_pool_start(&pool, workers[w], 5, sizeof(square_job), square, &spin));
        if (!pool) continue;
        uint64_t next_in = 0, next_out = 0;
        while (next_out < 1000) {
            square_job *j = next_in < 1000 ? nbr_pool_next(pool) : NULL;
            if (j) {
                if (!j->buffer) j->buffer = malloc(16);
                j->in = next_in++;
                nbr_pool_queue(pool);
                continue;
            }
            CHECK(next_in == 1000 || nbr_pool_in_flight(pool) == 5);
            square_job *done = nbr_pool_oldest(pool);
            CHECK(done && done->out == next_out * next_out);
            square_job *first = nbr_pool_in_flight_job(pool, 0);
            CHECK(first == done);
            nbr_pool_retire(pool);
            next_out++;
        }
        CHECK(nbr_pool_oldest(pool) == NULL && nbr_pool_in_flight(pool) == 0);
        for (int i = 0; i < 3; i++) { /* left queued at the stop */
            square_job *j = nbr_pool_next(pool);
            j->in = 7;
            nbr_pool_queue(pool);
        }
        releases = 0;
        nbr_pool_stop(pool, release_square);
        CHECK(releases == 5);
    }
    nbr_pool *none = NULL;
    CHECK_STATUS(NBR_EINVAL, nbr_pool_start(&none, 1, 0, sizeof(square_job), square, &spin));
    CHECK(none == NULL);
    nbr_pool_stop(NULL, release_square);
}

NBR_TEST_MAIN(TEST(test_arena_pieces_stay_put), TEST(test_strset_across_its_index_threshold),
              TEST(test_strset_with_copies_in_an_arena),
              TEST(test_pool_returns_jobs_in_order))
