/* test_store_large.c - a blob larger than 2 GiB (past every 32-bit size),
 * streamed in pieces, verified, and read back whole.  The content is a
 * synthetic, compressible pattern so the test needs little disk. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nbr_test.h"
#include "store_test_util.h"

#define PIECE (8u << 20)
#define PIECES 281 /* 2.2 GiB */

static void fill_piece(unsigned char *p, size_t piece)
{
    for (size_t i = 0; i < PIECE; i++) p[i] = (unsigned char)(piece * 31 + (i >> 12));
}

static void test_blob_over_2_gib(void)
{
    char *dir = st_tempdir("large");
    nbr_store *s = NULL;
    CHECK_OK(nbr_store_open(&s, dir, NBR_STORE_CREATE | NBR_STORE_WRITE));
    unsigned char *piece = malloc(PIECE);
    nbr_checkpoint *c = NULL;
    nbr_blob_writer *w = NULL;
    nbr_object_id id;
    CHECK_OK(nbr_checkpoint_begin(&c, s, "big", 1, NULL));
    CHECK_OK(nbr_blob_writer_begin(&w, c, "huge", "raw"));
    for (size_t k = 0; k < PIECES; k++) {
        fill_piece(piece, k);
        CHECK_OK(nbr_blob_writer_write(w, piece, PIECE));
    }
    CHECK_OK(nbr_blob_writer_finish(&id, w));
    CHECK_OK(nbr_checkpoint_commit(NULL, c));
    uint64_t logical = 0, stored = 0, total = (uint64_t)PIECE * PIECES;
    CHECK_OK(nbr_store_object_info(NULL, NULL, NULL, NULL, &logical, s, &id));
    CHECK(logical == total && total > ((uint64_t)2 << 30));
    CHECK_OK(nbr_store_stats(NULL, &stored, s, NULL));
    CHECK(stored < total / 10);
    CHECK_OK(nbr_store_verify(NULL, s));
    unsigned char *back = malloc((size_t)total);
    CHECK(back != NULL);
    if (back) {
        CHECK_OK(nbr_store_read_blob(back, (size_t)total, s, &id));
        for (size_t k = 0; k < PIECES; k++) {
            fill_piece(piece, k);
            if (memcmp(back + k * (size_t)PIECE, piece, PIECE) != 0) {
                fprintf(stderr, "piece %zu differs\n", k);
                nbr_test_failures++;
                break;
            }
        }
    }
    printf("%llu bytes stored as %llu\n", (unsigned long long)total, (unsigned long long)stored);
    free(back);
    free(piece);
    nbr_store_close(s);
    st_remove_tree(dir);
    free(dir);
}

NBR_TEST_MAIN(TEST(test_blob_over_2_gib))
