/* faultshim.c - an LD_PRELOAD library that makes the Nth file operation on
 * a given directory fail, the way SQLite's test VFS fails the Nth write.
 *
 * It intercepts write, pwrite, pwrite64, fsync, fdatasync, ftruncate, rename,
 * link (a manifest carried by its segment) and unlink (what a GC does), both
 * the store's own calls and HDF5's.  A call
 * counts when its file (found through /proc/self/fd) or path lies under the
 * armed prefix and its
 * operation is in the armed list.  The Nth counted call fails with the armed
 * errno (ENOSPC, EIO, EFBIG, ...), or, with errno 0, writes only half of its
 * bytes (a short write, which callers must retry); with a negative errno
 * -SIG, the process raises SIG (-9: SIGKILL) instead, a crash at exactly
 * that call.  N = 0 only counts.
 *
 * Arm it from the test through dlsym(RTLD_DEFAULT, "faultshim_arm"), or for
 * a whole process through NBR_FAULT_PATH, NBR_FAULT_OPS, NBR_FAULT_NTH and
 * NBR_FAULT_ERRNO (a number). */
#define _GNU_SOURCE
#include <signal.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

static char armed_prefix[1024];
static char armed_ops[256];
static long armed_nth;
static int armed_errno;
static long counted;
static int armed;
static int in_shim; /* readlink etc. must not count themselves */

void faultshim_arm(const char *prefix, const char *ops, long nth, int err);
void faultshim_disarm(void);
long faultshim_calls(void);

void faultshim_arm(const char *prefix, const char *ops, long nth, int err)
{
    snprintf(armed_prefix, sizeof armed_prefix, "%s", prefix);
    snprintf(armed_ops, sizeof armed_ops, ",%s,", ops);
    armed_nth = nth;
    armed_errno = err;
    counted = 0;
    armed = 1;
}

void faultshim_disarm(void) { armed = 0; }

long faultshim_calls(void) { return counted; }

__attribute__((constructor)) static void arm_from_environment(void)
{
    const char *path = getenv("NBR_FAULT_PATH"), *ops = getenv("NBR_FAULT_OPS");
    const char *nth = getenv("NBR_FAULT_NTH"), *err = getenv("NBR_FAULT_ERRNO");
    if (path && ops && nth) faultshim_arm(path, ops, atol(nth), err ? atoi(err) : ENOSPC);
}

static int path_matches(const char *path)
{
    return strncmp(path, armed_prefix, strlen(armed_prefix)) == 0;
}

static int fd_matches(int fd)
{
    char link[64], target[1024];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n <= 0) return 0;
    target[n] = '\0';
    return path_matches(target);
}

/* 1 if this call is the one to fail. */
static int hit(const char *op, int fd, const char *path)
{
    if (!armed || in_shim) return 0;
    char key[40];
    snprintf(key, sizeof key, ",%s,", op);
    if (!strstr(armed_ops, key)) return 0;
    in_shim = 1;
    int match = path ? path_matches(path) : fd_matches(fd);
    in_shim = 0;
    if (!match) return 0;
    if (++counted != armed_nth) return 0;
    if (armed_errno < 0) raise(-armed_errno); /* a crash right there (tests/mpi) */
    return 1;
}

#define REAL(name)                          \
    static __typeof__(&name) real_##name;   \
    if (!real_##name) real_##name = (__typeof__(&name))dlsym(RTLD_NEXT, #name)

ssize_t write(int fd, const void *buf, size_t n)
{
    REAL(write);
    if (hit("write", fd, NULL)) {
        if (armed_errno) return errno = armed_errno, -1;
        return real_write(fd, buf, n > 1 ? n / 2 : n);
    }
    return real_write(fd, buf, n);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t at)
{
    REAL(pwrite);
    if (hit("pwrite", fd, NULL)) {
        if (armed_errno) return errno = armed_errno, -1;
        return real_pwrite(fd, buf, n > 1 ? n / 2 : n, at);
    }
    return real_pwrite(fd, buf, n, at);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t at)
{
    REAL(pwrite64);
    if (hit("pwrite", fd, NULL)) {
        if (armed_errno) return errno = armed_errno, -1;
        return real_pwrite64(fd, buf, n > 1 ? n / 2 : n, at);
    }
    return real_pwrite64(fd, buf, n, at);
}

int fsync(int fd)
{
    REAL(fsync);
    if (hit("fsync", fd, NULL)) return errno = armed_errno ? armed_errno : EIO, -1;
    return real_fsync(fd);
}

int fdatasync(int fd)
{
    REAL(fdatasync);
    if (hit("fsync", fd, NULL)) return errno = armed_errno ? armed_errno : EIO, -1;
    return real_fdatasync(fd);
}

int ftruncate(int fd, off_t length)
{
    REAL(ftruncate);
    if (hit("ftruncate", fd, NULL)) return errno = armed_errno ? armed_errno : EIO, -1;
    return real_ftruncate(fd, length);
}

int rename(const char *from, const char *to)
{
    REAL(rename);
    if (hit("rename", -1, to)) return errno = armed_errno ? armed_errno : EIO, -1;
    return real_rename(from, to);
}

int link(const char *from, const char *to)
{
    REAL(link);
    if (hit("link", -1, to)) return errno = armed_errno ? armed_errno : EIO, -1;
    return real_link(from, to);
}

int unlink(const char *path)
{
    REAL(unlink);
    if (hit("unlink", -1, path)) return errno = armed_errno ? armed_errno : EIO, -1;
    return real_unlink(path);
}
