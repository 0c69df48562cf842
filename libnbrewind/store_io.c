/* store_io.c - the store's file-system layer (see store_io.h). */
#define _GNU_SOURCE /* F_OFD_SETLK, gethostname */
#include "store_io.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "nbrewind.h"

static nbr_status io_fail(const char *what, const char *path)
{
    int err = errno;
    return nbr_fail(NBR_EIO, "%s: %s failed: %s", path, what, strerror(err));
}

char *nbr_io_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *out = malloc(a + b + 2);
    if (!out) return NULL;
    memcpy(out, dir, a);
    out[a] = '/';
    memcpy(out + a + 1, name, b + 1);
    return out;
}

static nbr_status read_fd(char **out, size_t *length, int fd, const char *path)
{
    size_t cap = 4096, len = 0;
    char *data = malloc(cap);
    if (!data) return nbr_fail_nomem("reading a file");
    for (;;) {
        if (len + 1 >= cap) {
            char *grown = realloc(data, cap * 2);
            if (!grown) {
                free(data);
                return nbr_fail_nomem("reading a file");
            }
            data = grown;
            cap *= 2;
        }
        ssize_t got = read(fd, data + len, cap - len - 1);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            free(data);
            return io_fail("read", path);
        }
        if (got == 0) break;
        len += (size_t)got;
    }
    data[len] = '\0';
    *out = data;
    *length = len;
    return NBR_OK;
}

nbr_status nbr_io_read_file(char **out, size_t *length, const char *path)
{
    *out = NULL;
    *length = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return nbr_fail(NBR_ENOTFOUND, "%s: no such file", path);
        return io_fail("open", path);
    }
    nbr_status st = read_fd(out, length, fd, path);
    close(fd);
    return st;
}

/* write(2) until everything is written: a short write is retried, so only a
 * real error (ENOSPC, EIO, EFBIG, ...) fails. */
static nbr_status write_all(int fd, const void *data, size_t length, const char *path)
{
    const char *p = data;
    while (length > 0) {
        ssize_t put = write(fd, p, length);
        if (put < 0 && errno == EINTR) continue;
        if (put < 0) return io_fail("write", path);
        if (put == 0) {
            errno = EIO;
            return io_fail("write (no progress)", path);
        }
        p += put;
        length -= (size_t)put;
    }
    return NBR_OK;
}

/* ---- tail sections ------------------------------------------------------ */

static void put_u64le(unsigned char *at, uint64_t v)
{
    for (int i = 0; i < 8; i++) at[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_u64le(const unsigned char *at)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | at[i];
    return v;
}

static nbr_status checksum(nbr_object_id *out, const void *data, size_t length)
{
    nbr_hasher *h = NULL;
    nbr_status st = nbr_hasher_new(&h);
    if (st == NBR_OK) st = nbr_hasher_update(h, data, length);
    if (st == NBR_OK) st = nbr_hasher_digest(out, h);
    nbr_hasher_free(h);
    return st;
}

nbr_status nbr_io_append_tail(const char *path, const void *data, size_t length,
                              const char magic[8])
{
    unsigned char trailer[NBR_IO_TAIL_TRAILER];
    nbr_object_id sum;
    nbr_status st = checksum(&sum, data, length);
    if (st != NBR_OK) return st;
    put_u64le(trailer, length);
    memcpy(trailer + 8, sum.bytes, 16);
    memcpy(trailer + 24, magic, 8);
    int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0) return io_fail("open for appending", path);
    st = write_all(fd, data, length, path);
    if (st == NBR_OK) st = write_all(fd, trailer, sizeof trailer, path);
    if (close(fd) != 0 && st == NBR_OK) st = io_fail("close", path);
    return st;
}

/* pread(2) of exactly `length` bytes at `offset`. */
static nbr_status read_at(int fd, void *into, size_t length, uint64_t offset, const char *path)
{
    char *p = into;
    while (length > 0) {
        ssize_t got = pread(fd, p, length, (off_t)offset);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) return io_fail("read", path);
        if (got == 0) return nbr_fail(NBR_ECORRUPT, "%s: shorter than it says", path);
        p += got;
        offset += (uint64_t)got;
        length -= (size_t)got;
    }
    return NBR_OK;
}

/* The tail's data, its trailer already read and bearing the magic. */
static nbr_status read_tail(char **out, size_t *length, int fd, uint64_t size,
                            const unsigned char *trailer, const char *path)
{
    uint64_t n = get_u64le(trailer);
    if (n > size - NBR_IO_TAIL_TRAILER || n >= SIZE_MAX)
        return nbr_fail(NBR_ECORRUPT, "%s: its tail section says %" PRIu64 " bytes, more than "
                        "the file holds", path, n);
    char *data = malloc((size_t)n + 1);
    if (!data) return nbr_fail_nomem("reading a file's tail");
    nbr_object_id want, got;
    memcpy(want.bytes, trailer + 8, 16);
    nbr_status st = read_at(fd, data, (size_t)n, size - NBR_IO_TAIL_TRAILER - n, path);
    if (st == NBR_OK) st = checksum(&got, data, (size_t)n);
    if (st == NBR_OK && !nbr_object_id_equal(&got, &want))
        st = nbr_fail(NBR_ECORRUPT, "%s: its tail section does not match its checksum", path);
    if (st != NBR_OK) {
        free(data);
        return st;
    }
    data[n] = '\0';
    *out = data;
    *length = (size_t)n;
    return NBR_OK;
}

nbr_status nbr_io_read_tail_or_file(char **out, size_t *length, bool *in_tail, const char *path,
                                    const char magic[8])
{
    *out = NULL;
    *length = 0;
    *in_tail = false;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return nbr_fail(NBR_ENOTFOUND, "%s: no such file", path);
        return io_fail("open", path);
    }
    struct stat info;
    unsigned char trailer[NBR_IO_TAIL_TRAILER];
    nbr_status st = fstat(fd, &info) == 0 ? NBR_OK : io_fail("stat", path);
    uint64_t size = st == NBR_OK ? (uint64_t)info.st_size : 0;
    if (st == NBR_OK && size >= sizeof trailer)
        st = read_at(fd, trailer, sizeof trailer, size - sizeof trailer, path);
    *in_tail = st == NBR_OK && size >= sizeof trailer && !memcmp(trailer + 24, magic, 8);
    if (st == NBR_OK) st = *in_tail ? read_tail(out, length, fd, size, trailer, path)
                                    : read_fd(out, length, fd, path);
    close(fd);
    return st;
}

/* The directory part of `path` (malloc'd), "." if it has none. */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash) return nbr_copy(".");
    if (slash == path) return nbr_copy("/");
    return nbr_copy_n(path, (size_t)(slash - path));
}

nbr_status nbr_io_write_new(const char *path, const void *data, size_t length)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return io_fail("create", path);
    nbr_status st = write_all(fd, data, length, path);
    if (st == NBR_OK && fsync(fd) != 0) st = io_fail("fsync", path);
    if (close(fd) != 0 && st == NBR_OK) st = io_fail("close", path);
    if (st != NBR_OK) nbr_io_remove(path);
    return st;
}

nbr_status nbr_io_write_atomic(const char *tmp_path, const char *final_path, const void *data,
                               size_t length)
{
    nbr_status st = nbr_io_write_new(tmp_path, data, length);
    if (st == NBR_OK) st = nbr_io_rename(tmp_path, final_path);
    if (st != NBR_OK) {
        nbr_io_remove(tmp_path);
        return st;
    }
    char *dir = dir_of(final_path);
    if (!dir) return nbr_fail_nomem("syncing a directory");
    st = nbr_io_fsync_dir(dir);
    free(dir);
    return st;
}

nbr_status nbr_io_fsync_uncache(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return io_fail("open for fsync", path);
    nbr_status st = NBR_OK;
    if (fsync(fd) != 0) st = io_fail("fsync", path);
    /* Clean now: the pages can go (why: store_vfd.c, kick_writeback). */
    if (st == NBR_OK) (void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    close(fd);
    return st;
}

nbr_status nbr_io_fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return io_fail("open directory for fsync", path);
    nbr_status st = NBR_OK;
    /* Some filesystems cannot fsync a directory (EINVAL): nothing to wait for. */
    if (fsync(fd) != 0 && errno != EINVAL) st = io_fail("fsync of directory", path);
    close(fd);
    return st;
}

nbr_status nbr_io_rename(const char *from, const char *to)
{
    if (rename(from, to) == 0) return NBR_OK;
    int err = errno;
    return nbr_fail(NBR_EIO, "%s: rename to %s failed: %s", from, to, strerror(err));
}

nbr_status nbr_io_link(const char *from, const char *to)
{
    if (link(from, to) == 0) return NBR_OK;
    int err = errno;
    bool unsupported = err == EPERM || err == EOPNOTSUPP || err == EXDEV || err == EMLINK ||
                       err == ENOSYS;
    return nbr_fail(unsupported ? NBR_EUNSUPPORTED : NBR_EIO, "%s: link as %s failed: %s", from,
                    to, strerror(err));
}

nbr_status nbr_io_mkdir(const char *path)
{
    if (mkdir(path, 0755) == 0) return NBR_OK;
    if (errno == EEXIST) {
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return NBR_OK;
        return nbr_fail(NBR_EIO, "%s: exists and is not a directory", path);
    }
    return io_fail("mkdir", path);
}

int nbr_io_exists(const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0) return 1;
    if (errno == ENOENT || errno == ENOTDIR) return 0;
    return io_fail("stat", path);
}

void nbr_io_remove(const char *path)
{
    int saved = errno;
    (void)unlink(path);
    errno = saved;
}

nbr_status nbr_io_unlink(const char *path)
{
    if (unlink(path) == 0) return NBR_OK;
    if (errno == ENOENT) return nbr_fail(NBR_ENOTFOUND, "%s: no such file", path);
    return nbr_fail(NBR_EIO, "%s: cannot remove: %s", path, strerror(errno));
}

nbr_status nbr_io_file_size(uint64_t *out, bool *several_names, const char *path)
{
    struct stat st;
    *out = 0;
    *several_names = false;
    if (stat(path, &st) != 0) return io_fail("stat", path);
    *out = (uint64_t)st.st_size;
    *several_names = st.st_nlink > 1;
    return NBR_OK;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void nbr_io_free_list(char **names, size_t count)
{
    for (size_t i = 0; i < count; i++) free(names[i]);
    free(names);
}

nbr_status nbr_io_list(char ***names, size_t *count, const char *dir)
{
    *names = NULL;
    *count = 0;
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT) return nbr_fail(NBR_ENOTFOUND, "%s: no such directory", dir);
        return io_fail("opendir", dir);
    }
    char **items = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char *copy = nbr_copy(e->d_name);
        if (!copy || !NBR_RESERVE(items, cap, n + 1)) {
            free(copy);
            closedir(d);
            nbr_io_free_list(items, n);
            return nbr_fail_nomem("listing a directory");
        }
        items[n++] = copy;
    }
    closedir(d);
    if (n) qsort(items, n, sizeof *items, compare_names);
    *names = items;
    *count = n;
    return NBR_OK;
}

static int try_lock(int fd)
{
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
#ifdef F_OFD_SETLK
    if (fcntl(fd, F_OFD_SETLK, &fl) == 0) return 0;
    if (errno != EINVAL) return -1;
#endif
    return fcntl(fd, F_SETLK, &fl);
}

/* The error a second writer gets: who holds the lock, from the file. */
static nbr_status locked_by_other(int fd, const char *path)
{
    char holder[256] = "";
    ssize_t got = pread(fd, holder, sizeof holder - 1, 0);
    if (got > 0) holder[got] = '\0';
    size_t n = strlen(holder);
    while (n && (holder[n - 1] == '\n' || holder[n - 1] == ' ')) holder[--n] = '\0';
    close(fd);
    return nbr_fail(NBR_ELOCKED, "%s: the store is locked by another writer (pid host time: %s)",
                    path, n ? holder : "unknown");
}

nbr_status nbr_io_lock(int *fd_out, const char *path)
{
    *fd_out = -1;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return io_fail("open of the lock file", path);
    if (try_lock(fd) != 0) {
        if (errno == EAGAIN || errno == EACCES) return locked_by_other(fd, path);
        nbr_status st = io_fail("fcntl lock", path);
        close(fd);
        return st;
    }
    char host[128] = "unknown", when[32], text[256];
    if (gethostname(host, sizeof host) != 0) strcpy(host, "unknown");
    host[sizeof host - 1] = '\0';
    nbr_io_timestamp(when, sizeof when);
    int n = snprintf(text, sizeof text, "%ld %s %s\n", (long)getpid(), host, when);
    /* The holder's name is informative only: a failure to write it (a full
     * disk) must not keep the writer out. */
    if (ftruncate(fd, 0) == 0 && n > 0) (void)!pwrite(fd, text, (size_t)n, 0);
    *fd_out = fd;
    return NBR_OK;
}

void nbr_io_unlock(int fd)
{
    if (fd >= 0) close(fd); /* closing the description releases the lock */
}

void nbr_io_timestamp(char *out, size_t size)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}

uint32_t nbr_io_random32(void)
{
    uint32_t value = 0;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t got = read(fd, &value, sizeof value);
        close(fd);
        if (got == (ssize_t)sizeof value) return value;
    }
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint32_t)ts.tv_nsec ^ ((uint32_t)getpid() << 16);
}
