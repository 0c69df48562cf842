/* fuzz_store.c - libFuzzer harness for the store's readers of untrusted
 * files: FORMAT and manifests (a store may come from another site).
 *
 * Input: the first byte chooses the file (even: the manifest of checkpoint 1
 * beside a valid FORMAT; 'I': the open index INDEX beside a valid FORMAT and
 * a manifest of checkpoint 1 that the index stands for, the harness fixing up
 * the index's names hash and checksum so that its parser is reached; other
 * odd: FORMAT, with no manifest); the rest is its content.  The store is then opened read-only and every query run on what
 * opened.  Any crash, leak or sanitizer report is a failure; every status is
 * fine.  fuzz_store_replay runs the seeds of fuzz_corpus/ in every build. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nbrewind.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char format_text[] =
    "{\"format\": \"nbrewind-store\", \"version\": 1, \"codec\": \"lz4\", \"level\": 5, "
    "\"shuffle\": true, \"chunk_bytes\": 1048576}";

static char root[256];

static void write_file(const char *name, const void *data, size_t size)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", root, name);
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (size) fwrite(data, 1, size, f);
    fclose(f);
}

static void remove_root(void)
{
    static const char *const names[] = {"checkpoints/0000000000000001.json", "checkpoints",
                                        "FORMAT", "INDEX", ""};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", root, names[i]);
        remove(path);
    }
}

static void make_root(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(root, sizeof root, "%s/nbr-fuzz-store-%ld", base && *base ? base : "/tmp",
             (long)getpid());
    char path[512];
    mkdir(root, 0755);
    snprintf(path, sizeof path, "%s/checkpoints", root);
    mkdir(path, 0755);
    atexit(remove_root);
}

static void query(nbr_store *s)
{
    char *report = NULL;
    for (size_t i = 0; i < nbr_store_checkpoint_count(s); i++) {
        const char *id = nbr_store_checkpoint_id(s, i), *cell, *host;
        int64_t count;
        nbr_object_id x;
        int deleted;
        nbr_diff *d = NULL;
        uint64_t logical, stored;
        nbr_store_checkpoint_info(&cell, &count, NULL, NULL, &host, s, id);
        if (nbr_store_resolve(&x, &deleted, s, id, "x") == NBR_OK && !deleted)
            nbr_store_object_info(NULL, NULL, NULL, NULL, NULL, s, &x);
        if (nbr_store_diff(&d, s, NULL, id) == NBR_OK)
            for (size_t k = 0; k < nbr_diff_count(d); k++) nbr_diff_entry(NULL, NULL, d, k);
        nbr_diff_free(d);
        nbr_store_stats(&logical, &stored, s, id);
    }
    nbr_store_verify(&report, s);
    nbr_free(report);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!root[0]) make_root();
    if (size == 0) return 0;
    char manifest[64];
    snprintf(manifest, sizeof manifest, "checkpoints/%016d.json", 1);
    char index_path[512];
    snprintf(index_path, sizeof index_path, "%s/INDEX", root);
    remove(index_path);
    if (data[0] == 'I') {
        /* The manifest's bytes do not matter while the index is used: only
         * its name and size, which the names hash covers. */
        static const char stand_in[] = "{}";
        write_file("FORMAT", format_text, sizeof format_text - 1);
        write_file(manifest, stand_in, sizeof stand_in - 1);
        size_t n = size - 1;
        uint8_t *index = malloc(n ? n : 1);
        if (!index) abort();
        if (n) memcpy(index, data + 1, n);
        if (n >= 56) {
            uint64_t h = 0xcbf29ce484222325ull;
            unsigned char bytes[29];
            memcpy(bytes, manifest + 12, 21); /* "0000000000000001.json" */
            for (int k = 0; k < 8; k++)
                bytes[21 + k] = (unsigned char)((uint64_t)(sizeof stand_in - 1) >> (8 * k));
            for (size_t k = 0; k < sizeof bytes; k++) h = (h ^ bytes[k]) * 0x100000001b3ull;
            for (int k = 0; k < 8; k++) index[32 + k] = (uint8_t)(h >> (8 * k));
            nbr_object_id sum;
            nbr_hash_bytes(&sum, index, n - 16);
            memcpy(index + n - 16, sum.bytes, 16);
        }
        write_file("INDEX", index, n);
        free(index);
    } else if (data[0] & 1) {
        write_file("FORMAT", data + 1, size - 1);
        char path[512];
        snprintf(path, sizeof path, "%s/%s", root, manifest);
        remove(path);
    } else {
        write_file("FORMAT", format_text, sizeof format_text - 1);
        write_file(manifest, data + 1, size - 1);
    }
    nbr_store *s = NULL;
    if (nbr_store_open(&s, root, NBR_STORE_READONLY) == NBR_OK) query(s);
    nbr_store_close(s);
    return 0;
}
