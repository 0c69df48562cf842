/* store_io.h - the store's own file-system layer (private).
 *
 * Every file the store itself reads or writes (FORMAT, LOCK, manifests) and
 * every fsync, rename and directory fsync goes through here, so that crash
 * safety rests on a dozen short functions and every failure message names
 * the file and the operating system's cause the same way.  HDF5 writes the
 * segment files through its own driver; store_segment.c only fsyncs and
 * renames them through this layer. */
#ifndef NBR_STORE_IO_H
#define NBR_STORE_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* malloc'd "a/b"; NULL when out of memory. */
char *nbr_io_join(const char *dir, const char *name);

/* Reads a whole file into a malloc'd, NUL-terminated buffer.  NBR_ENOTFOUND if
 * it does not exist; NBR_EIO otherwise, naming `path`. */
nbr_status nbr_io_read_file(char **out, size_t *length, const char *path);

/* A file may end with a tail section: the data, then a 32-byte trailer: its
 * length (u64, little-endian), its XXH3-128 (as object ids) and an 8-byte
 * magic naming what it is (a segment carrying its manifest). */
#define NBR_IO_TAIL_TRAILER 32

/* Appends a tail section holding `data` to the existing file `path`.  No
 * fsync: the caller's. */
nbr_status nbr_io_append_tail(const char *path, const void *data, size_t length,
                              const char magic[8]);

/* Reads into a malloc'd, NUL-terminated buffer the data of the tail section
 * `path` ends with when its trailer has `magic` (*in_tail true), else the
 * whole file (false).  NBR_ENOTFOUND if it does not exist; NBR_ECORRUPT,
 * naming the file, when the trailer's length or checksum is wrong; NBR_EIO
 * otherwise. */
nbr_status nbr_io_read_tail_or_file(char **out, size_t *length, bool *in_tail, const char *path,
                                    const char magic[8]);

/* Creates `path` (exclusively), writes `data` and fsyncs it; on failure the
 * file is removed. */
nbr_status nbr_io_write_new(const char *path, const void *data, size_t length);

/* Writes `data` to `tmp_path` (created exclusively), fsyncs it, renames it to
 * `final_path` and fsyncs the directory of `final_path`: after NBR_OK the file
 * is durable and appeared in one step.  On failure the tmp file is removed and
 * `final_path` is untouched. */
nbr_status nbr_io_write_atomic(const char *tmp_path, const char *final_path, const void *data,
                               size_t length);

/* fsync of an existing file, whose pages then leave the page cache (a
 * segment, written once and seldom read soon) / fsync of a directory. */
nbr_status nbr_io_fsync_uncache(const char *path);
nbr_status nbr_io_fsync_dir(const char *path);

/* rename(2), naming both paths on failure. */
nbr_status nbr_io_rename(const char *from, const char *to);

/* link(2): `to` becomes a second name of the file `from`.  NBR_EUNSUPPORTED
 * where the file system has no hard links (the caller falls back to a copy),
 * NBR_EIO otherwise; both name the two paths. */
nbr_status nbr_io_link(const char *from, const char *to);

/* mkdir(2); an existing directory is not an error. */
nbr_status nbr_io_mkdir(const char *path);

/* 1 if `path` exists, 0 if not; NBR_EIO (negative) if it cannot be told. */
int nbr_io_exists(const char *path);

/* unlink(2), ignoring every error: used for cleanup only. */
void nbr_io_remove(const char *path);

/* unlink(2) reporting errors, naming the file: NBR_ENOTFOUND if it does
 * not exist, NBR_EIO otherwise (GC and refs, where a failure matters). */
nbr_status nbr_io_unlink(const char *path);

/* The size of a file in bytes, and whether it has more than one name (so
 * that a caller adding sizes can count it once). */
nbr_status nbr_io_file_size(uint64_t *out, bool *several_names, const char *path);

/* The names in a directory (no "." or ".."), sorted, malloc'd (free with
 * nbr_io_free_list). */
nbr_status nbr_io_list(char ***names, size_t *count, const char *dir);
void nbr_io_free_list(char **names, size_t count);

/* Takes the writer lock on `path` (created if missing) and writes "pid host
 * time" into it.  NBR_ELOCKED, naming the holder from the file's content, if
 * another handle or process holds it.  The lock is an open-file-description
 * lock where the system has them (a second handle in the same process is
 * refused too), and is released by nbr_io_unlock or when the process dies. */
nbr_status nbr_io_lock(int *fd_out, const char *path);
void nbr_io_unlock(int fd);

/* The current UTC time as "2026-11-25T17:30:00.123Z" into `out` (>= 32 bytes). */
void nbr_io_timestamp(char *out, size_t size);

/* 32 random bits (for segment names); never fails. */
uint32_t nbr_io_random32(void);

#endif
