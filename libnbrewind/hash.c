/* hash.c - content ids: XXH3-128 over bytes, one-shot or streaming, and the
 * ids' hex form.
 *
 * Everything hashes through libxxhash (the system library; on x86, through its
 * run-time dispatch to AVX2 / AVX-512 where it has one), never through a copy
 * of the input: a
 * hasher holds only xxHash's fixed-size state, so a stream of any length costs
 * the same memory.  The id is xxHash's canonical form of the 128-bit digest
 * (XXH128_canonicalFromHash: high 64 bits first, each big-endian), which is
 * also what `xxhsum -H2` and python-xxhash's hexdigest() print. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "error.h"

/* On x86, a libxxhash built with DISPATCH=1 (Debian's is; it then installs
 * xxh_x86dispatch.h) also has entry points that pick AVX2 or AVX-512 at run
 * time, where the plain ones use SSE2: about 4x faster on data in cache, the
 * same once memory bandwidth is the limit.  Same digests either way.  They are
 * referenced weakly, so a libxxhash without them (libxxhash.a has no dispatch
 * code, say, for a fully static link) leaves them NULL and the plain ones run.
 * The dispatcher picks its code path lazily, on a function's first call, and
 * stores it in a static pointer without synchronisation: a first call from two
 * threads at once is a data race (harmless on x86 in practice, undefined in
 * C11, and what a race detector would report in an instrumented build).  So
 * the first use in the process makes that choice under pthread_once, and every
 * later call only reads it. */
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__) && defined(__ELF__) && \
    defined(__has_include)
#if __has_include(<xxh_x86dispatch.h>)
#define XXH_DISPATCH_DISABLE_REPLACE
#include <pthread.h>
#include <xxh_x86dispatch.h>
#define NBR_XXH_DISPATCH 1
XXH128_hash_t XXH3_128bits_dispatch(const void *input, size_t length) __attribute__((weak));
XXH_errorcode XXH3_128bits_update_dispatch(XXH3_state_t *state, const void *input,
                                           size_t length) __attribute__((weak));
#endif
#endif

#ifdef NBR_XXH_DISPATCH
static pthread_once_t dispatch_once = PTHREAD_ONCE_INIT;

/* Takes every path that makes the dispatcher choose: a long one-shot input
 * (over 240 bytes) and a streaming update of more than a block. */
static void choose_dispatch(void)
{
    static const unsigned char zeros[4096];
    if (XXH3_128bits_dispatch) (void)XXH3_128bits_dispatch(zeros, sizeof zeros);
    if (XXH3_128bits_update_dispatch) {
        XXH3_state_t *state = XXH3_createState();
        if (state && XXH3_128bits_reset(state) == XXH_OK)
            (void)XXH3_128bits_update_dispatch(state, zeros, sizeof zeros);
        XXH3_freeState(state);
    }
}
#endif

static XXH128_hash_t hash_once(const void *data, size_t size)
{
#ifdef NBR_XXH_DISPATCH
    if (XXH3_128bits_dispatch) {
        pthread_once(&dispatch_once, choose_dispatch);
        return XXH3_128bits_dispatch(data, size);
    }
#endif
    return XXH3_128bits(data, size);
}

static XXH_errorcode hash_more(XXH3_state_t *state, const void *data, size_t size)
{
#ifdef NBR_XXH_DISPATCH
    if (XXH3_128bits_update_dispatch) {
        pthread_once(&dispatch_once, choose_dispatch);
        return XXH3_128bits_update_dispatch(state, data, size);
    }
#endif
    return XXH3_128bits_update(state, data, size);
}

_Static_assert(sizeof(nbr_object_id) == 16, "nbr_object_id is 16 bytes, no padding");
_Static_assert(sizeof(XXH128_canonical_t) == sizeof(nbr_object_id),
               "XXH128 canonical form fills an nbr_object_id");

/* Rejects a NULL argument with a message naming the function and argument. */
#define REQUIRE(arg)                                                               \
    do {                                                                           \
        if (!(arg)) return nbr_fail(NBR_EINVAL, "%s: %s is NULL", __func__, #arg); \
    } while (0)

/* xxHash allocates (and aligns) its own state: its layout is not part of
 * libxxhash's ABI, so it is never embedded here. */
struct nbr_hasher {
    XXH3_state_t *state;
};

static void id_from_hash(nbr_object_id *out, XXH128_hash_t hash)
{
    XXH128_canonical_t canonical;
    XXH128_canonicalFromHash(&canonical, hash);
    memcpy(out->bytes, canonical.digest, sizeof out->bytes);
}

nbr_status nbr_hasher_new(nbr_hasher **out)
{
    REQUIRE(out);
    *out = NULL;
    nbr_hasher *hasher = malloc(sizeof *hasher);
    if (!hasher) return nbr_fail_nomem("making a hasher");
    hasher->state = XXH3_createState();
    if (!hasher->state) {
        free(hasher);
        return nbr_fail_nomem("making a hasher");
    }
    if (XXH3_128bits_reset(hasher->state) != XXH_OK) {
        XXH3_freeState(hasher->state);
        free(hasher);
        return nbr_fail(NBR_ERROR, "%s: xxHash could not initialise its state", __func__);
    }
    *out = hasher;
    return NBR_OK;
}

nbr_status nbr_hasher_update(nbr_hasher *hasher, const void *data, size_t size)
{
    REQUIRE(hasher);
    if (size == 0) return NBR_OK;
    if (!data)
        return nbr_fail(NBR_EINVAL, "%s: data is NULL but size is %zu", __func__, size);
    /* Any length at once: xxHash consumes it in place, block by block. */
    if (hash_more(hasher->state, data, size) != XXH_OK)
        return nbr_fail(NBR_ERROR, "%s: xxHash rejected %zu bytes", __func__, size);
    return NBR_OK;
}

nbr_status nbr_hasher_digest(nbr_object_id *out, const nbr_hasher *hasher)
{
    REQUIRE(out);
    memset(out, 0, sizeof *out);
    REQUIRE(hasher);
    /* Reads the state without changing it: feeding may go on. */
    id_from_hash(out, XXH3_128bits_digest(hasher->state));
    return NBR_OK;
}

nbr_status nbr_hasher_reset(nbr_hasher *hasher)
{
    REQUIRE(hasher);
    if (XXH3_128bits_reset(hasher->state) != XXH_OK)
        return nbr_fail(NBR_ERROR, "%s: xxHash could not reset its state", __func__);
    return NBR_OK;
}

void nbr_hasher_free(nbr_hasher *hasher)
{
    if (!hasher) return;
    XXH3_freeState(hasher->state);
    free(hasher);
}

nbr_status nbr_hash_bytes(nbr_object_id *out, const void *data, size_t size)
{
    REQUIRE(out);
    memset(out, 0, sizeof *out);
    if (!data && size)
        return nbr_fail(NBR_EINVAL, "%s: data is NULL but size is %zu", __func__, size);
    id_from_hash(out, hash_once(size ? data : "", size));
    return NBR_OK;
}

nbr_status nbr_object_id_to_hex(char *out, const nbr_object_id *id)
{
    static const char digits[] = "0123456789abcdef";
    REQUIRE(out);
    out[0] = '\0';
    REQUIRE(id);
    for (size_t i = 0; i < sizeof id->bytes; i++) {
        out[2 * i] = digits[id->bytes[i] >> 4];
        out[2 * i + 1] = digits[id->bytes[i] & 0xf];
    }
    out[2 * sizeof id->bytes] = '\0';
    return NBR_OK;
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Writes `text` into `out` (of `capacity` bytes) as a C string literal without
 * the quotes: control bytes, bytes >= 0x80, quotes and backslashes escaped, and
 * cut with "..." after the first 64 bytes, so that a message naming rejected
 * text stays one readable line whatever the text is. */
static void quote_text(char *out, size_t capacity, const char *text)
{
    size_t at = 0, i = 0;
    for (; text[i] && i < 64; i++) {
        unsigned char c = (unsigned char)text[i];
        char piece[5];
        if (c == '"' || c == '\\') snprintf(piece, sizeof piece, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f) snprintf(piece, sizeof piece, "\\x%02x", c);
        else snprintf(piece, sizeof piece, "%c", c);
        size_t n = strlen(piece);
        if (at + n + 4 > capacity) break; /* room for "..." and the NUL */
        memcpy(out + at, piece, n);
        at += n;
    }
    if (text[i]) {
        memcpy(out + at, "...", 3);
        at += 3;
    }
    out[at] = '\0';
}

nbr_status nbr_object_id_from_hex(nbr_object_id *out, const char *hex)
{
    REQUIRE(out);
    memset(out, 0, sizeof *out);
    REQUIRE(hex);
    enum { DIGITS = 2 * sizeof out->bytes };
    nbr_object_id id;
    size_t i = 0;
    for (; i < DIGITS && hex[i]; i++) {
        int v = hex_value((unsigned char)hex[i]);
        if (v < 0) {
            char quoted[64 * 4 + 4];
            quote_text(quoted, sizeof quoted, hex);
            unsigned char c = (unsigned char)hex[i];
            if (c >= 0x20 && c < 0x7f)
                return nbr_fail(NBR_EINVAL,
                                "%s: \"%s\" is not an object id: '%c' at offset %zu is not a "
                                "hex digit",
                                __func__, quoted, c, i);
            return nbr_fail(NBR_EINVAL,
                            "%s: \"%s\" is not an object id: byte 0x%02x at offset %zu is not "
                            "a hex digit",
                            __func__, quoted, c, i);
        }
        if (i % 2 == 0) id.bytes[i / 2] = (uint8_t)(v << 4);
        else id.bytes[i / 2] |= (uint8_t)v;
    }
    if (i < DIGITS || hex[DIGITS]) {
        char quoted[64 * 4 + 4];
        quote_text(quoted, sizeof quoted, hex);
        size_t length = i < DIGITS ? i : DIGITS + strlen(hex + DIGITS);
        return nbr_fail(NBR_EINVAL,
                        "%s: \"%s\" is not an object id: %zu characters, expected %d hex "
                        "digits",
                        __func__, quoted, length, (int)DIGITS);
    }
    *out = id;
    return NBR_OK;
}

int nbr_object_id_equal(const nbr_object_id *a, const nbr_object_id *b)
{
    /* Like a NULL hash in the graph, a missing id equals nothing. */
    if (!a || !b) return 0;
    return memcmp(a->bytes, b->bytes, sizeof a->bytes) == 0;
}
