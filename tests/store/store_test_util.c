/* store_test_util.c - helpers of the store tests (see store_test_util.h). */
#define _XOPEN_SOURCE 700 /* nftw */
#include "store_test_util.h"

#include <dirent.h>
#include <fcntl.h>
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
