/* store_vfd.c - a POSIX HDF5 file driver with sticky write errors (see
 * store_vfd.h).  Shaped after HDF5's sec2 driver, minus what segments never
 * need (locking, SWMR, file images). */
#define _GNU_SOURCE /* sync_file_range */
#include "store_vfd.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct vfd_config {
    int *io_errno;
} vfd_config;

typedef struct vfd_file {
    H5FD_t pub; /* HDF5's part; must come first */
    int fd;
    haddr_t eoa, eof;
    haddr_t kicked;  /* writeback started for [0, kicked) of the appended data */
    haddr_t dropped; /* [0, dropped) asked out of the page cache */
    dev_t dev;
    ino_t ino;
    int *io_errno;
} vfd_file;

static void push(const char *func, hid_t minor, const char *what, const char *name)
{
    H5Epush2(H5E_DEFAULT, __FILE__, func, __LINE__, H5E_ERR_CLS, H5E_VFL, minor, "%s %s: %s", what,
             name ? name : "", strerror(errno));
}

/* Records the first failure; HDF5 is told nothing. */
static void remember(vfd_file *f, int err)
{
    if (f->io_errno && *f->io_errno == 0) *f->io_errno = err ? err : EIO;
}

static bool failed(const vfd_file *f) { return f->io_errno && *f->io_errno != 0; }

static void *config_copy(const void *config)
{
    vfd_config *copy = malloc(sizeof *copy);
    if (copy) *copy = *(const vfd_config *)config;
    return copy;
}

static herr_t config_free(void *config)
{
    free(config);
    return 0;
}

static H5FD_t *vfd_open(const char *name, unsigned flags, hid_t fapl, haddr_t maxaddr)
{
    (void)maxaddr;
    int mode = (flags & H5F_ACC_RDWR) ? O_RDWR : O_RDONLY;
    if (flags & H5F_ACC_TRUNC) mode |= O_TRUNC;
    if (flags & H5F_ACC_CREAT) mode |= O_CREAT;
    if (flags & H5F_ACC_EXCL) mode |= O_EXCL;
    int fd = open(name, mode | O_CLOEXEC, 0644);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        push("vfd_open", H5E_CANTOPENFILE, "cannot open", name);
        if (fd >= 0) close(fd);
        return NULL;
    }
    vfd_file *f = calloc(1, sizeof *f);
    if (!f) {
        close(fd);
        return NULL;
    }
    const vfd_config *config = H5Pget_driver_info(fapl);
    f->fd = fd;
    f->eof = (haddr_t)st.st_size;
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    f->io_errno = config ? config->io_errno : NULL;
    return &f->pub;
}

static herr_t vfd_close(H5FD_t *file)
{
    vfd_file *f = (vfd_file *)file;
    if (close(f->fd) != 0) remember(f, errno); /* NFS reports write errors here */
    free(f);
    return 0;
}

static int vfd_cmp(const H5FD_t *a, const H5FD_t *b)
{
    const vfd_file *x = (const vfd_file *)a, *y = (const vfd_file *)b;
    if (x->dev != y->dev) return x->dev < y->dev ? -1 : 1;
    if (x->ino != y->ino) return x->ino < y->ino ? -1 : 1;
    return 0;
}

static herr_t vfd_query(const H5FD_t *file, unsigned long *flags)
{
    (void)file;
    *flags = H5FD_FEAT_AGGREGATE_METADATA | H5FD_FEAT_ACCUMULATE_METADATA | H5FD_FEAT_DATA_SIEVE |
             H5FD_FEAT_AGGREGATE_SMALLDATA;
    return 0;
}

static haddr_t vfd_get_eoa(const H5FD_t *file, H5FD_mem_t type)
{
    (void)type;
    return ((const vfd_file *)file)->eoa;
}

static herr_t vfd_set_eoa(H5FD_t *file, H5FD_mem_t type, haddr_t addr)
{
    (void)type;
    ((vfd_file *)file)->eoa = addr;
    return 0;
}

static haddr_t vfd_get_eof(const H5FD_t *file, H5FD_mem_t type)
{
    (void)type;
    return ((const vfd_file *)file)->eof;
}

static herr_t vfd_get_handle(H5FD_t *file, hid_t fapl, void **handle)
{
    (void)fapl;
    *handle = &((vfd_file *)file)->fd;
    return 0;
}

static herr_t vfd_read(H5FD_t *file, H5FD_mem_t type, hid_t dxpl, haddr_t addr, size_t size,
                       void *buffer)
{
    (void)type, (void)dxpl;
    vfd_file *f = (vfd_file *)file;
    char *p = buffer;
    while (size > 0) {
        ssize_t got = pread(f->fd, p, size, (off_t)addr);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            push("vfd_read", H5E_READERROR, "read failed", NULL);
            return -1;
        }
        if (got == 0) { /* past the end of the file: zeros, as sec2 does */
            memset(p, 0, size);
            break;
        }
        p += got, addr += (haddr_t)got, size -= (size_t)got;
    }
    return 0;
}

/* Segments are written once, front to back, and fsynced at commit: start the
 * writeback of every KICK bytes appended as they come (not waiting for it),
 * so that the disk works while the next chunks are compressed and the
 * commit's fsync finds little left to write.  Best effort: fsync reports
 * what fails.
 *
 * The range kicked the time before has most likely reached the disk by now:
 * its pages leave the page cache (the kernel skips any still dirty or under
 * writeback; the commit drops the rest, nbr_io_fsync_uncache).  A segment is
 * seldom read soon after it is written, and on VMs whose memory the host
 * takes back when the guest frees it (free page reporting), every page the
 * cache grows by is memory touched for the first time, several times slower
 * to write than pages reused, and the host program's own new arrays slow
 * down the same way (benchmarks/bench_page_cache.py; docs/performance.md,
 * "Writing new data"). */
#define KICK ((haddr_t)8 << 20)

static void kick_writeback(vfd_file *f, haddr_t end)
{
#ifdef SYNC_FILE_RANGE_WRITE
    if (failed(f) || end < f->kicked + KICK) return;
    if (f->kicked > f->dropped) {
        (void)posix_fadvise(f->fd, (off_t)f->dropped, (off_t)(f->kicked - f->dropped),
                            POSIX_FADV_DONTNEED);
        f->dropped = f->kicked;
    }
    (void)sync_file_range(f->fd, (off_t)f->kicked, (off_t)(end - f->kicked),
                          SYNC_FILE_RANGE_WRITE);
    f->kicked = end;
#else
    (void)f, (void)end;
#endif
}

static herr_t vfd_write(H5FD_t *file, H5FD_mem_t type, hid_t dxpl, haddr_t addr, size_t size,
                        const void *buffer)
{
    (void)type, (void)dxpl;
    vfd_file *f = (vfd_file *)file;
    const char *p = buffer;
    haddr_t end = addr + size;
    while (size > 0 && !failed(f)) {
        ssize_t put = pwrite(f->fd, p, size, (off_t)addr);
        if (put < 0 && errno == EINTR) continue;
        if (put <= 0) remember(f, put < 0 ? errno : EIO);
        else p += put, addr += (haddr_t)put, size -= (size_t)put;
    }
    if (!failed(f) && end > f->eof) f->eof = end;
    kick_writeback(f, end);
    return 0;
}

static herr_t vfd_truncate(H5FD_t *file, hid_t dxpl, hbool_t closing)
{
    (void)dxpl, (void)closing;
    vfd_file *f = (vfd_file *)file;
    if (f->eoa == f->eof || failed(f)) return 0;
    if (ftruncate(f->fd, (off_t)f->eoa) != 0) remember(f, errno);
    else f->eof = f->eoa;
    return 0;
}

static const H5FD_class_t vfd_class = {
    "nbr_segment", /* name */
    (haddr_t)INT64_MAX, /* maxaddr: what off_t can reach */
    H5F_CLOSE_WEAK,
    NULL, NULL, NULL, NULL, /* terminate, sb_size, sb_encode, sb_decode */
    sizeof(vfd_config), NULL, config_copy, config_free,
    0, NULL, NULL, /* dxpl */
    vfd_open, vfd_close, vfd_cmp, vfd_query,
    NULL, NULL, NULL, /* get_type_map, alloc, free */
    vfd_get_eoa, vfd_set_eoa, vfd_get_eof, vfd_get_handle,
    vfd_read, vfd_write,
    NULL, vfd_truncate, /* flush, truncate */
    NULL, NULL, /* lock, unlock */
    H5FD_FLMAP_DICHOTOMY};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static hid_t driver_id = -1;

static void register_driver(void) { driver_id = H5FDregister(&vfd_class); }

hid_t nbr_vfd_fapl(int *io_errno)
{
    pthread_once(&once, register_driver);
    if (driver_id < 0) return -1;
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    vfd_config config = {io_errno};
    if (fapl >= 0 && H5Pset_driver(fapl, driver_id, &config) < 0) {
        H5Pclose(fapl);
        return -1;
    }
    return fapl;
}
