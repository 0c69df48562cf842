/* test_hash.c - content ids: XXH3-128 one-shot and streaming, hex form.
 *
 * The expected digests are not computed by the code under test:
 *  - the "sanity buffer" vectors are xxHash's own (cli/xsum_sanity_check.c,
 *    XSUM_XXH128_testdata, seed 0), given there as {low64, high64} and written
 *    here in the canonical order the header promises (high 64 bits first,
 *    big-endian); one per length class of XXH3's code paths;
 *  - "abc", the 1 MiB pattern and the 3 GiB stream were computed with Debian's
 *    python3-xxhash 3.2.0 (xxhash.xxh3_128_hexdigest / xxh3_128().update), after
 *    checking that it reproduces every upstream vector above.  The test itself
 *    needs neither Python nor that package. */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/resource.h>
#include <time.h>

#include "nbr_test.h"

#define MIB ((size_t)1 << 20)

static const char EMPTY_HEX[] = "99aa06d3014798d86001c324468d497f";
static const char ABC_HEX[] = "06b05ab6733a618578af5f94892f3950";
static const char PATTERN_MIB_HEX[] = "08d183d36768405074690650c1f4ebbf";
static const char PATTERN_3GIB_HEX[] = "25f668598a3359ee6a4e9ab8481f854c";

static const struct {
    size_t length;
    const char *hex;
} upstream[] = {
    {0, "99aa06d3014798d86001c324468d497f"},    {1, "a6cd5e9392000f6ac44bdff4074eecdb"},
    {6, "082afe0b8162d12a3e7039bdda43cfc6"},    {12, "6e3efd8fc7802b18061a192713f69ad9"},
    {24, "0ce966e4678d37611e7044d28b1b901d"},   {48, "a002ac4e5478227ef942219aed80f67b"},
    {81, "4952f58181ab00425e8bafb9f95fb803"},   {222, "337e09641b948717f1aebd597cec6b3a"},
    {403, "1b6de21e332dd73dcdeb804d65c6dea4"},  {512, "18d2d110dcc9bca1617e49599013cb6b"},
    {2048, "f736557fd47073a5dd59e2c3a5f038e0"}, {2240, "ccb134fbfa7ce49d6e73a90539cf2948"},
    {2367, "e89c0f6ff369b427cb37aeb9e5d361ed"},
};

/* xxHash's sanity buffer (XSUM_fillTestBuffer). */
static void fill_sanity_buffer(uint8_t *buffer, size_t length)
{
    uint64_t gen = 2654435761U;
    for (size_t i = 0; i < length; i++) {
        buffer[i] = (uint8_t)(gen >> 56);
        gen *= 11400714785074694797ULL;
    }
}

/* The 1 MiB pattern the Python side computed: byte i = (7 i + i / 1024) mod 256. */
static uint8_t *pattern_mib(void)
{
    uint8_t *buffer = malloc(MIB);
    if (!buffer) abort();
    for (size_t i = 0; i < MIB; i++) buffer[i] = (uint8_t)((i * 7 + (i >> 10)) & 0xff);
    return buffer;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t next_random(void)
{
    /* xorshift64*: reproducible, good enough for piece sizes and bytes */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}

static double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static long max_rss_kib(void)
{
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_maxrss;
}

/* The hex of an id, in a static buffer good until the next call. */
static const char *hex_of(const nbr_object_id *id)
{
    static char hex[2][33];
    static int which;
    which ^= 1;
    if (nbr_object_id_to_hex(hex[which], id) != NBR_OK) return "(to_hex failed)";
    return hex[which];
}

static nbr_object_id one_shot(const void *data, size_t size)
{
    nbr_object_id id;
    CHECK_OK(nbr_hash_bytes(&id, data, size));
    return id;
}

static int is_zero(const nbr_object_id *id)
{
    static const nbr_object_id zero;
    return memcmp(id, &zero, sizeof zero) == 0;
}

/* Each thread hashes long inputs one-shot and streamed with its own hasher;
 * run first, so that the two threads' calls are the process's first ones. */
static void *hash_in_thread(void *arg)
{
    const uint8_t *pattern = arg;
    int *bad = calloc(1, sizeof *bad);
    if (!bad) abort();
    nbr_hasher *h = NULL;
    if (nbr_hasher_new(&h) != NBR_OK) abort();
    for (int round = 0; round < 16; round++) {
        nbr_object_id id, streamed;
        char hex[33];
        if (nbr_hash_bytes(&id, pattern, MIB) != NBR_OK) ++*bad;
        nbr_object_id_to_hex(hex, &id);
        if (strcmp(hex, PATTERN_MIB_HEX) != 0) ++*bad;
        nbr_hasher_reset(h);
        for (size_t at = 0; at < MIB; at += 4096) nbr_hasher_update(h, pattern + at, 4096);
        nbr_hasher_digest(&streamed, h);
        if (!nbr_object_id_equal(&id, &streamed)) ++*bad;
    }
    nbr_hasher_free(h);
    return bad;
}

static void test_threads(void)
{
    uint8_t *pattern = pattern_mib();
    pthread_t threads[4];
    for (int i = 0; i < 4; i++)
        CHECK(pthread_create(&threads[i], NULL, hash_in_thread, pattern) == 0);
    for (int i = 0; i < 4; i++) {
        void *result = NULL;
        CHECK(pthread_join(threads[i], &result) == 0);
        CHECK(result && *(int *)result == 0);
        free(result);
    }
    free(pattern);
}

static void test_upstream_vectors(void)
{
    uint8_t buffer[2367];
    fill_sanity_buffer(buffer, sizeof buffer);
    nbr_hasher *h = NULL;
    CHECK_OK(nbr_hasher_new(&h));
    for (size_t v = 0; v < sizeof upstream / sizeof upstream[0]; v++) {
        size_t n = upstream[v].length;
        nbr_object_id id = one_shot(buffer, n);
        CHECK_STR(upstream[v].hex, hex_of(&id));

        /* the same through the hasher: at once, then byte by byte */
        CHECK_OK(nbr_hasher_reset(h));
        CHECK_OK(nbr_hasher_update(h, buffer, n));
        CHECK_OK(nbr_hasher_digest(&id, h));
        CHECK_STR(upstream[v].hex, hex_of(&id));
        CHECK_OK(nbr_hasher_reset(h));
        for (size_t i = 0; i < n; i++) CHECK_OK(nbr_hasher_update(h, buffer + i, 1));
        CHECK_OK(nbr_hasher_digest(&id, h));
        CHECK_STR(upstream[v].hex, hex_of(&id));
    }
    nbr_hasher_free(h);
}

static void test_known_answers(void)
{
    nbr_object_id id = one_shot(NULL, 0);
    CHECK_STR(EMPTY_HEX, hex_of(&id));
    id = one_shot("", 0);
    CHECK_STR(EMPTY_HEX, hex_of(&id));
    /* the canonical order byte by byte: high 64 bits first, big-endian */
    CHECK(id.bytes[0] == 0x99 && id.bytes[7] == 0xd8 && id.bytes[8] == 0x60 &&
          id.bytes[15] == 0x7f);

    id = one_shot("abc", 3);
    CHECK_STR(ABC_HEX, hex_of(&id));

    uint8_t *pattern = pattern_mib();
    id = one_shot(pattern, MIB);
    CHECK_STR(PATTERN_MIB_HEX, hex_of(&id));

    nbr_hasher *h = NULL;
    CHECK_OK(nbr_hasher_new(&h));
    CHECK_OK(nbr_hasher_digest(&id, h)); /* nothing fed */
    CHECK_STR(EMPTY_HEX, hex_of(&id));
    CHECK_OK(nbr_hasher_update(h, NULL, 0));
    CHECK_OK(nbr_hasher_update(h, "a", 1));
    CHECK_OK(nbr_hasher_update(h, "", 0));
    CHECK_OK(nbr_hasher_update(h, "bc", 2));
    CHECK_OK(nbr_hasher_digest(&id, h));
    CHECK_STR(ABC_HEX, hex_of(&id));
    CHECK_OK(nbr_hasher_reset(h));
    CHECK_OK(nbr_hasher_update(h, pattern, MIB / 2));
    CHECK_OK(nbr_hasher_update(h, pattern + MIB / 2, MIB / 2));
    CHECK_OK(nbr_hasher_digest(&id, h));
    CHECK_STR(PATTERN_MIB_HEX, hex_of(&id));
    nbr_hasher_free(h);
    free(pattern);
}

/* Feeds `data` in random pieces: mostly small (around xxHash's 64-byte stripes
 * and 1 KiB blocks, where its buffering has edge cases), some empty, some
 * large. */
static void feed_randomly(nbr_hasher *h, const uint8_t *data, size_t size)
{
    size_t at = 0;
    while (at < size) {
        uint64_t r = next_random();
        size_t piece;
        switch (r % 8) {
        case 0: piece = 0; break;
        case 1: piece = 1; break;
        case 2: piece = (size_t)(r >> 8) % 64 + 1; break;
        case 3: piece = 64 * ((size_t)(r >> 8) % 20) + (size_t)(r >> 20) % 3; break;
        case 4: piece = (size_t)(r >> 8) % 4096; break;
        case 5: piece = 1024 - (size_t)(r >> 8) % 3; break;
        case 6: piece = (size_t)(r >> 8) % 65536; break;
        default: piece = (size_t)(r >> 8) % (size - at + 1); break;
        }
        if (piece > size - at) piece = size - at;
        CHECK_OK(nbr_hasher_update(h, data + at, piece));
        at += piece;
    }
}

static void test_streaming_equals_one_shot(void)
{
    size_t size = 3 * MIB + 12345;
    uint8_t *data = malloc(size);
    if (!data) abort();
    for (size_t i = 0; i < size; i++) data[i] = (uint8_t)(next_random() >> 56);
    nbr_hasher *h = NULL;
    CHECK_OK(nbr_hasher_new(&h));
    /* lengths around every size class of XXH3, and big ones */
    const size_t lengths[] = {0,    1,    3,    4,    8,         9,     16,  17,
                              128,  129,  240,  241,  1023,      1024,  1025, 1088,
                              4096, 4097, 8191, 65536, 1000003, size};
    for (size_t k = 0; k < sizeof lengths / sizeof lengths[0]; k++) {
        for (int round = 0; round < 4; round++) {
            size_t n = lengths[k];
            nbr_object_id expected = one_shot(data, n), got;
            CHECK_OK(nbr_hasher_reset(h));
            feed_randomly(h, data, n);
            CHECK_OK(nbr_hasher_digest(&got, h));
            if (!nbr_object_id_equal(&expected, &got)) {
                fprintf(stderr, "length %zu, round %d: streamed %s, one-shot %s\n", n, round,
                        hex_of(&got), hex_of(&expected));
                nbr_test_failures++;
            }
        }
    }
    nbr_hasher_free(h);
    free(data);
}

static void test_digest_mid_stream(void)
{
    uint8_t data[5000];
    fill_sanity_buffer(data, sizeof data);
    nbr_hasher *h = NULL;
    CHECK_OK(nbr_hasher_new(&h));
    /* read the digest after every piece: always the digest of the prefix, and
     * reading it changes nothing that follows */
    size_t at = 0;
    const size_t pieces[] = {0, 1, 2, 13, 48, 64, 100, 256, 1000, 1024, 1, 2491};
    for (size_t k = 0; k < sizeof pieces / sizeof pieces[0]; k++) {
        CHECK_OK(nbr_hasher_update(h, data + at, pieces[k]));
        at += pieces[k];
        nbr_object_id mid, again, expected = one_shot(data, at);
        CHECK_OK(nbr_hasher_digest(&mid, h));
        CHECK_OK(nbr_hasher_digest(&again, h));
        CHECK(nbr_object_id_equal(&mid, &expected));
        CHECK(nbr_object_id_equal(&mid, &again));
    }
    CHECK(at == sizeof data);
    nbr_object_id id;
    CHECK_OK(nbr_hasher_digest(&id, h));
    nbr_object_id whole = one_shot(data, sizeof data);
    CHECK(nbr_object_id_equal(&id, &whole));
    nbr_hasher_free(h);
}

static void test_reset(void)
{
    nbr_hasher *h = NULL;
    CHECK_OK(nbr_hasher_new(&h));
    uint8_t junk[3000];
    fill_sanity_buffer(junk, sizeof junk);
    CHECK_OK(nbr_hasher_update(h, junk, sizeof junk));
    CHECK_OK(nbr_hasher_reset(h));
    nbr_object_id id;
    CHECK_OK(nbr_hasher_digest(&id, h));
    CHECK_STR(EMPTY_HEX, hex_of(&id));
    CHECK_OK(nbr_hasher_update(h, "abc", 3));
    CHECK_OK(nbr_hasher_digest(&id, h));
    CHECK_STR(ABC_HEX, hex_of(&id));
    /* reset twice, and on a hasher with a partial block buffered */
    CHECK_OK(nbr_hasher_update(h, junk, 100));
    CHECK_OK(nbr_hasher_reset(h));
    CHECK_OK(nbr_hasher_reset(h));
    CHECK_OK(nbr_hasher_update(h, "abc", 3));
    CHECK_OK(nbr_hasher_digest(&id, h));
    CHECK_STR(ABC_HEX, hex_of(&id));
    nbr_hasher_free(h);
}

/* `text` is rejected with NBR_EINVAL, *out is zeroed, and the message names the
 * function and contains `in_message`. */
static void check_bad_hex(const char *text, const char *in_message, int line)
{
    nbr_object_id id;
    memset(&id, 0xab, sizeof id);
    nbr_status status = nbr_object_id_from_hex(&id, text);
    const char *message = nbr_last_error();
    if (status != NBR_EINVAL || !is_zero(&id) || !strstr(message, "nbr_object_id_from_hex") ||
        !strstr(message, in_message)) {
        fprintf(stderr, "%s:%d: from_hex(\"%s\") gave %s, message \"%s\" (wanted \"%s\" in it)\n",
                __FILE__, line, text ? text : "(NULL)", nbr_status_name(status), message,
                in_message);
        nbr_test_failures++;
    }
}
#define CHECK_BAD_HEX(text, in_message) check_bad_hex(text, in_message, __LINE__)

static void test_hex(void)
{
    nbr_object_id id = one_shot("abc", 3), back;
    char hex[33];
    memset(hex, 'x', sizeof hex);
    CHECK_OK(nbr_object_id_to_hex(hex, &id));
    CHECK_STR(ABC_HEX, hex);
    CHECK(strlen(hex) == 32);
    CHECK_OK(nbr_object_id_from_hex(&back, hex));
    CHECK(nbr_object_id_equal(&id, &back));

    /* every byte value survives the round trip */
    for (int b = 0; b < 256; b += 16) {
        nbr_object_id all;
        for (int i = 0; i < 16; i++) all.bytes[i] = (uint8_t)(b + i);
        CHECK_OK(nbr_object_id_to_hex(hex, &all));
        CHECK_OK(nbr_object_id_from_hex(&back, hex));
        CHECK(nbr_object_id_equal(&all, &back));
    }

    /* upper and mixed case are accepted */
    CHECK_OK(nbr_object_id_from_hex(&back, "06B05AB6733A618578AF5F94892F3950"));
    CHECK(nbr_object_id_equal(&id, &back));
    CHECK_OK(nbr_object_id_from_hex(&back, "06b05AB6733a618578Af5f94892F3950"));
    CHECK(nbr_object_id_equal(&id, &back));

    /* anything but exactly 32 hex digits is rejected, naming the text */
    CHECK_BAD_HEX("06b05ab6733a618578af5f94892f395", "\"06b05ab6733a618578af5f94892f395\"");
    CHECK_BAD_HEX("06b05ab6733a618578af5f94892f395", "31 characters");
    CHECK_BAD_HEX("06b05ab6733a618578af5f94892f39500", "\"06b05ab6733a618578af5f94892f39500\"");
    CHECK_BAD_HEX("06b05ab6733a618578af5f94892f39500", "33 characters");
    CHECK_BAD_HEX("", "\"\"");
    CHECK_BAD_HEX("06b05ab6733a618578af5f94892g3950", "'g' at offset 27");
    CHECK_BAD_HEX("06b05ab6733a618578af5f94892g3950", "\"06b05ab6733a618578af5f94892g3950\"");
    CHECK_BAD_HEX(" 06b05ab6733a618578af5f94892f3950", "' ' at offset 0");
    CHECK_BAD_HEX("06b05ab6733a618578af5f94892f3950\n",
                  "\"06b05ab6733a618578af5f94892f3950\\x0a\"");
    CHECK_BAD_HEX("0x06b05ab6733a618578af5f94892f39", "'x' at offset 1");
    CHECK_BAD_HEX("06b05ab6733a618578af5f94892f395\xc3\xa9", "byte 0xc3 at offset 31");
    CHECK_BAD_HEX("06b05ab6733a618578af5f94892f395\xc3\xa9", "\\xc3\\xa9");
    /* a long text is named by its start */
    char long_text[200];
    memset(long_text, 'a', sizeof long_text - 1);
    long_text[sizeof long_text - 1] = '\0';
    CHECK_BAD_HEX(long_text, "aaaaaaaa...\"");
    CHECK_BAD_HEX(long_text, "199 characters");

    nbr_object_id untouched;
    memset(&untouched, 0xab, sizeof untouched);
    CHECK_STATUS(NBR_EINVAL, nbr_object_id_from_hex(&untouched, NULL));
    CHECK(is_zero(&untouched));
    CHECK(strstr(nbr_last_error(), "nbr_object_id_from_hex") && strstr(nbr_last_error(), "hex"));
}

static void test_equal(void)
{
    nbr_object_id a = one_shot("abc", 3), b = a;
    CHECK(nbr_object_id_equal(&a, &b) == 1);
    CHECK(nbr_object_id_equal(&a, &a) == 1);
    b.bytes[15] ^= 1;
    CHECK(nbr_object_id_equal(&a, &b) == 0);
    b = a;
    b.bytes[0] ^= 0x80;
    CHECK(nbr_object_id_equal(&a, &b) == 0);
    nbr_object_id c = one_shot("abd", 3);
    CHECK(nbr_object_id_equal(&a, &c) == 0);
    CHECK(nbr_object_id_equal(&a, NULL) == 0);
    CHECK(nbr_object_id_equal(NULL, &a) == 0);
    CHECK(nbr_object_id_equal(NULL, NULL) == 0);
}

/* `call` failed with NBR_EINVAL and a message naming `function` and `arg`. */
#define CHECK_NULL_ARG(call, function, arg)                                               \
    do {                                                                                  \
        CHECK_STATUS(NBR_EINVAL, call);                                                   \
        if (!strstr(nbr_last_error(), function) || !strstr(nbr_last_error(), arg)) {      \
            fprintf(stderr, "%s:%d: message \"%s\" does not name %s and %s\n", __FILE__, \
                    __LINE__, nbr_last_error(), function, arg);                           \
            nbr_test_failures++;                                                          \
        }                                                                                 \
    } while (0)

static void test_null_arguments(void)
{
    nbr_hasher *h = NULL;
    nbr_object_id id;
    char hex[33];

    CHECK_NULL_ARG(nbr_hasher_new(NULL), "nbr_hasher_new", "out is NULL");
    CHECK_NULL_ARG(nbr_hasher_update(NULL, "abc", 3), "nbr_hasher_update", "hasher is NULL");
    CHECK_NULL_ARG(nbr_hasher_update(NULL, NULL, 0), "nbr_hasher_update", "hasher is NULL");
    CHECK_NULL_ARG(nbr_hasher_reset(NULL), "nbr_hasher_reset", "hasher is NULL");
    memset(&id, 0xab, sizeof id);
    CHECK_NULL_ARG(nbr_hasher_digest(&id, NULL), "nbr_hasher_digest", "hasher is NULL");
    CHECK(is_zero(&id));
    CHECK_OK(nbr_hasher_new(&h));
    CHECK_NULL_ARG(nbr_hasher_digest(NULL, h), "nbr_hasher_digest", "out is NULL");
    CHECK_NULL_ARG(nbr_hasher_update(h, NULL, 5), "nbr_hasher_update", "data is NULL");
    CHECK(strstr(nbr_last_error(), "size is 5") != NULL);
    /* the failed update fed nothing */
    CHECK_OK(nbr_hasher_digest(&id, h));
    CHECK_STR(EMPTY_HEX, hex_of(&id));
    nbr_hasher_free(h);
    nbr_hasher_free(NULL);

    CHECK_NULL_ARG(nbr_hash_bytes(NULL, "abc", 3), "nbr_hash_bytes", "out is NULL");
    memset(&id, 0xab, sizeof id);
    CHECK_NULL_ARG(nbr_hash_bytes(&id, NULL, 1), "nbr_hash_bytes", "data is NULL");
    CHECK(is_zero(&id));

    nbr_object_id abc = one_shot("abc", 3);
    CHECK_NULL_ARG(nbr_object_id_to_hex(NULL, &abc), "nbr_object_id_to_hex", "out is NULL");
    memset(hex, 'x', sizeof hex);
    CHECK_NULL_ARG(nbr_object_id_to_hex(hex, NULL), "nbr_object_id_to_hex", "id is NULL");
    CHECK(hex[0] == '\0');
    CHECK_NULL_ARG(nbr_object_id_from_hex(NULL, ABC_HEX), "nbr_object_id_from_hex",
                   "out is NULL");
    CHECK_NULL_ARG(nbr_object_id_from_hex(&id, NULL), "nbr_object_id_from_hex", "hex is NULL");
}

/* Streaming at scale: a 3 GiB logical stream fed from one 1 MiB buffer, so the
 * hasher cannot be holding on to the input; its digest is a known answer and
 * the process grows by no more than a few MiB meanwhile. */
static void test_three_gib_stream(void)
{
    uint8_t *pattern = pattern_mib();
    nbr_hasher *h = NULL;
    CHECK_OK(nbr_hasher_new(&h));
    CHECK_OK(nbr_hasher_update(h, pattern, MIB)); /* warm up, then start over */
    CHECK_OK(nbr_hasher_reset(h));

    long rss_before = max_rss_kib();
    const size_t pieces = 3072;
    double start = now_seconds();
    for (size_t i = 0; i < pieces; i++) CHECK_OK(nbr_hasher_update(h, pattern, MIB));
    nbr_object_id id;
    CHECK_OK(nbr_hasher_digest(&id, h));
    double streamed = now_seconds() - start;
    long rss_growth = max_rss_kib() - rss_before;
    CHECK_STR(PATTERN_3GIB_HEX, hex_of(&id));
    CHECK(rss_growth < 8 * 1024);

    /* one-shot speed, on the same warm 1 MiB (in cache) */
    const int repeats = 1024;
    start = now_seconds();
    for (int i = 0; i < repeats; i++) CHECK_OK(nbr_hash_bytes(&id, pattern, MIB));
    double cached = now_seconds() - start;
    CHECK_STR(PATTERN_MIB_HEX, hex_of(&id));
    free(pattern);

    /* and on 256 MiB, bigger than any cache: memory bandwidth */
    size_t big_size = 256 * MIB;
    uint8_t *big = malloc(big_size);
    if (!big) abort();
    memset(big, 0x5a, big_size); /* touch every page before timing */
    nbr_hash_bytes(&id, big, big_size);
    start = now_seconds();
    for (int i = 0; i < 4; i++) CHECK_OK(nbr_hash_bytes(&id, big, big_size));
    double uncached = now_seconds() - start;
    free(big);

    double gb = 1e9;
    printf("hash speed (GB = 1e9 bytes): stream 3 GiB from a 1 MiB buffer %.1f GB/s (%.3f s, "
           "max RSS +%ld KiB); one-shot 1 MiB in cache %.1f GB/s; one-shot 256 MiB %.1f GB/s\n",
           (double)pieces * MIB / streamed / gb, streamed, rss_growth,
           (double)repeats * MIB / cached / gb, 4.0 * (double)big_size / uncached / gb);
    nbr_hasher_free(h);
}

NBR_TEST_MAIN(TEST(test_threads), TEST(test_upstream_vectors), TEST(test_known_answers),
              TEST(test_streaming_equals_one_shot), TEST(test_digest_mid_stream),
              TEST(test_reset), TEST(test_hex), TEST(test_equal), TEST(test_null_arguments),
              TEST(test_three_gib_stream))
