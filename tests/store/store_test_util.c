/* store_test_util.c - helpers of the store tests (see store_test_util.h). */
#define _XOPEN_SOURCE 700 /* nftw */
#include "store_test_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *st_tempdir(const char *tag)
{
    const char *base = getenv("TMPDIR");
    char tmpl[512];
    snprintf(tmpl, sizeof tmpl, "%s/nbr-store-%s-XXXXXX", base && *base ? base : "/tmp", tag);
    if (!mkdtemp(tmpl)) return NULL;
    return strdup(tmpl);
}

static int remove_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    chmod(path, 0755);
    remove(path);
    return 0;
}

void st_remove_tree(const char *path)
{
    if (path) nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

const char *st_path(const char *dir, const char *name)
{
    static char buffers[8][1024];
    static int next;
    char *out = buffers[next++ % 8];
    snprintf(out, 1024, "%s/%s", dir, name);
    return out;
}

static uint64_t tree_total;
static int add_size(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)path, (void)ftw;
    if (flag == FTW_F) tree_total += (uint64_t)sb->st_size;
    return 0;
}

uint64_t st_tree_bytes(const char *dir)
{
    tree_total = 0;
    nftw(dir, add_size, 16, FTW_PHYS);
    return tree_total;
}

int st_count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

const char *st_find_entry(const char *dir, const char *prefix, const char *suffix)
{
    static char found[512];
    DIR *d = opendir(dir);
    if (!d) return NULL;
    struct dirent *e;
    const char *result = NULL;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name), k = strlen(suffix);
        if (n >= k && !strcmp(e->d_name + n - k, suffix) &&
            !strncmp(e->d_name, prefix, strlen(prefix)) && strcmp(e->d_name, ".") &&
            strcmp(e->d_name, "..")) {
            snprintf(found, sizeof found, "%s", e->d_name);
            result = found;
            break;
        }
    }
    closedir(d);
    return result;
}

int st_flip_byte(const char *path, long offset)
{
    int fd = open(path, O_RDWR);
    if (fd < 0) return -1;
    struct stat sb;
    fstat(fd, &sb);
    off_t at = offset >= 0 ? offset : sb.st_size + offset;
    unsigned char c;
    int rc = -1;
    if (pread(fd, &c, 1, at) == 1) {
        c ^= 0x5a;
        rc = pwrite(fd, &c, 1, at) == 1 ? 0 : -1;
    }
    close(fd);
    return rc;
}

int st_truncate(const char *path, long size) { return truncate(path, size); }

int st_write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fputs(text, f);
    return fclose(f);
}

const char *st_manifest_path(const char *dir, const char *id)
{
    char name[64];
    snprintf(name, sizeof name, "checkpoints/%s.json", id);
    return st_path(dir, name);
}

/* The trailer of a segment carrying its manifest (docs/store-format.md):
 * u64 length, 16-byte checksum, "NBRMANIF".  Sets *n to the manifest's
 * length if `fd` ends with one. */
static bool carries_manifest(uint64_t *n, int fd, uint64_t size)
{
    unsigned char trailer[32];
    if (size < 32 || pread(fd, trailer, 32, (off_t)(size - 32)) != 32 ||
        memcmp(trailer + 24, "NBRMANIF", 8) != 0)
        return false;
    *n = 0;
    for (int i = 7; i >= 0; i--) *n = *n << 8 | trailer[i];
    return *n <= size - 32;
}

/* Where the JSON text is in the file and how long it is. */
static bool locate(long *at, size_t *length, int fd)
{
    struct stat sb;
    uint64_t n = 0;
    if (fstat(fd, &sb) != 0) return false;
    uint64_t size = (uint64_t)sb.st_size;
    bool carried = carries_manifest(&n, fd, size);
    *at = carried ? (long)(size - 32 - n) : 0;
    *length = carried ? (size_t)n : (size_t)size;
    return true;
}

long st_manifest_offset(const char *path)
{
    int fd = open(path, O_RDONLY);
    long at = -1;
    size_t length = 0;
    if (fd >= 0 && !locate(&at, &length, fd)) at = -1;
    if (fd >= 0) close(fd);
    return at;
}

char *st_manifest_text(const char *dir, const char *id)
{
    int fd = open(st_manifest_path(dir, id), O_RDONLY);
    long at = 0;
    size_t n = 0;
    char *text = NULL;
    if (fd >= 0 && locate(&at, &n, fd) && (text = malloc(n + 1)) != NULL) {
        if (pread(fd, text, n, at) == (ssize_t)n) text[n] = '\0';
        else free(text), text = NULL;
    }
    if (fd >= 0) close(fd);
    return text;
}

int st_write_format(const char *dir, int version, long chunk_bytes)
{
    char format[256];
    snprintf(format, sizeof format,
             "{\"format\": \"nbrewind-store\", \"version\": %d, \"codec\": \"lz4\", "
             "\"level\": 5, \"shuffle\": true, \"chunk_bytes\": %ld, \"chunk_dedup\": %s}\n",
             version, chunk_bytes, version > 1 ? "true" : "false");
    return st_write_text(st_path(dir, "FORMAT"), format);
}

int st_replace_manifest(const char *dir, const char *id, const char *text)
{
    const char *path = st_manifest_path(dir, id);
    return unlink(path) == 0 ? st_write_text(path, text) : -1;
}

char *st_commit_doubles(nbr_store *store, const char *cell, const char *name, size_t count,
                        double seed, nbr_object_id *id_out)
{
    double *values = malloc((count ? count : 1) * sizeof *values);
    for (size_t i = 0; i < count; i++) values[i] = seed + (double)i;
    uint64_t shape[1] = {count};
    nbr_checkpoint *c = NULL;
    char *id = NULL;
    if (nbr_checkpoint_begin(&c, store, cell, 1, NULL) == NBR_OK &&
        nbr_checkpoint_put_array(id_out, c, name, "<f8", 1, shape, NULL, values) == NBR_OK)
        nbr_checkpoint_commit(&id, c);
    else if (c)
        nbr_checkpoint_abort(c);
    free(values);
    return id;
}

/* ---- GC tests: a history with dedup, deletions and incremental bindings -- */

/* Only one block of 512 values (and the tail) depends on k, so that in a
 * store with small chunks (4 KiB) "x" shares most chunks with earlier
 * checkpoints' (chunk dedup: GC must keep them). */
static double gc_value(int64_t k, size_t i)
{
    return (i / 512 == (size_t)(k % 4) || i >= 2048 ? (double)k * 1e6 : 0.0) + (double)i * 0.5;
}

static size_t gc_size(int64_t k) { return 2000 + (size_t)(k * 37 % 500); }

int st_gc_checkpoint(nbr_store *s, int64_t k)
{
    size_t n = gc_size(k), nc = 1000;
    double *x = malloc(n * sizeof *x), *c1 = malloc(nc * sizeof *c1);
    for (size_t i = 0; i < n; i++) x[i] = gc_value(k, i);
    for (size_t i = 0; i < nc; i++) c1[i] = 42.0 + (double)i;
    uint64_t shape[1] = {n}, shape_c[1] = {nc};
    char host[64], blob[64], g[64];
    snprintf(host, sizeof host, "{\"k\": %lld}", (long long)k);
    snprintf(blob, sizeof blob, "blob %lld", (long long)(k / 3)); /* shared by 3 in a row */
    snprintf(g, sizeof g, "g%lld", (long long)k);
    nbr_checkpoint *c = NULL;
    nbr_object_id cid;
    int st = nbr_checkpoint_begin(&c, s, "cell", k, host);
    if (st == NBR_OK) st = nbr_checkpoint_put_array(NULL, c, "x", "<f8", 1, shape, NULL, x);
    if (st == NBR_OK) st = nbr_checkpoint_put_blob(NULL, c, "b", "raw", blob, strlen(blob));
    /* "const" is bound once, by the first checkpoint, and "alias" refers to it
     * from later ones: both need objects stored only by checkpoint 1. */
    if (st == NBR_OK && k == 1)
        st = nbr_checkpoint_put_array(NULL, c, "const", "<f8", 1, shape_c, NULL, c1);
    if (st == NBR_OK && k % 4 == 2 && nbr_store_resolve(&cid, NULL, s, NULL, "const") == NBR_OK)
        st = nbr_checkpoint_put_ref(c, "alias", &cid);
    if (st == NBR_OK && k % 3 == 0) st = nbr_checkpoint_delete(c, "gone");
    if (st == NBR_OK && k % 3 == 1)
        st = nbr_checkpoint_put_blob(NULL, c, "gone", "raw", g, strlen(g));
    if (st == NBR_OK) st = nbr_checkpoint_commit(NULL, c);
    else nbr_checkpoint_abort(c);
    free(x);
    free(c1);
    return st;
}

int st_gc_check(nbr_store *s, const char *id)
{
    int64_t k = 0;
    nbr_object_id x;
    if (nbr_store_checkpoint_info(NULL, &k, NULL, NULL, NULL, s, id) != NBR_OK) return 0;
    if (nbr_store_resolve(&x, NULL, s, id, "x") != NBR_OK) return 0;
    size_t n = gc_size(k);
    uint64_t shape[1] = {n};
    double *back = malloc(n * sizeof *back);
    int ok = nbr_store_read_array(back, n * sizeof *back, s, &x, "<f8", 1, shape) == NBR_OK;
    for (size_t j = 0; ok && j < n; j++) ok = back[j] == gc_value(k, j);
    free(back);
    double c1[1000];
    uint64_t shape_c[1] = {1000};
    ok = ok && nbr_store_resolve(&x, NULL, s, id, "const") == NBR_OK &&
         nbr_store_read_array(c1, sizeof c1, s, &x, "<f8", 1, shape_c) == NBR_OK;
    for (size_t j = 0; ok && j < 1000; j++) ok = c1[j] == 42.0 + (double)j;
    return ok;
}

/* FNV-1a of an object's content, or 0 if it cannot be read. */
static uint64_t object_digest(nbr_store *s, const nbr_object_id *id)
{
    nbr_object_kind kind;
    const char *type;
    size_t ndim;
    const uint64_t *shape;
    uint64_t bytes, h = 1469598103934665603ull;
    if (nbr_store_object_info(&kind, &type, &ndim, &shape, &bytes, s, id) != NBR_OK) return 0;
    unsigned char *buf = malloc(bytes ? bytes : 1);
    int st = kind == NBR_OBJECT_ARRAY
                 ? nbr_store_read_array(buf, bytes, s, id, type, ndim, shape)
                 : nbr_store_read_blob(buf, bytes, s, id);
    for (uint64_t i = 0; st == NBR_OK && i < bytes; i++) h = (h ^ buf[i]) * 1099511628211ull;
    free(buf);
    return st == NBR_OK ? h : 0;
}

char *st_snapshot(nbr_store *s, const char *id)
{
    static const char *const names[] = {"x", "b", "const", "alias", "gone", "never"};
    size_t size = 4096, used = 0;
    char *out = calloc(1, size);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        nbr_object_id oid;
        int deleted = 0;
        char hex[33] = "";
        int st = nbr_store_resolve(&oid, &deleted, s, id, names[i]);
        uint64_t digest = 0;
        if (st == NBR_OK && !deleted) {
            nbr_object_id_to_hex(hex, &oid);
            digest = object_digest(s, &oid);
        }
        used += (size_t)snprintf(out + used, size - used, "%s: %d %d %s %016llx\n", names[i], st,
                                 deleted, hex, (unsigned long long)digest);
    }
    return out;
}
