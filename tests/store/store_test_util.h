/* store_test_util.h - what the store tests share: scratch directories, file
 * pokes, and a one-call checkpoint. */
#ifndef NBR_STORE_TEST_UTIL_H
#define NBR_STORE_TEST_UTIL_H

#include <stdint.h>
#include <stddef.h>

#include "nbrewind.h"

/* A fresh empty directory under $TMPDIR (or /tmp); malloc'd path. */
char *st_tempdir(const char *tag);

/* rm -rf. */
void st_remove_tree(const char *path);

/* "<dir>/<name>" in a static rotating buffer (valid for 8 calls). */
const char *st_path(const char *dir, const char *name);

/* Total bytes of regular files under `dir`. */
uint64_t st_tree_bytes(const char *dir);

/* Number of entries in a directory (no . and ..), -1 if missing. */
int st_count_entries(const char *dir);

/* The first entry of a directory whose name starts with `prefix` and ends
 * with `suffix`, or NULL (static buffer). */
const char *st_find_entry(const char *dir, const char *prefix, const char *suffix);

/* XOR one byte of a file at `offset` (negative: from the end). */
int st_flip_byte(const char *path, long offset);

/* Truncate a file to `size` bytes / write `text` over it. */
int st_truncate(const char *path, long size);
int st_write_text(const char *path, const char *text);

/* Checkpoint `id`'s manifest in store `dir`: its file (checkpoints/<id>.json,
 * a plain manifest or a segment carrying one at its end), the offset of the
 * JSON text in it (-1 if unreadable), the text itself (malloc'd, or NULL). */
const char *st_manifest_path(const char *dir, const char *id);
long st_manifest_offset(const char *path);
char *st_manifest_text(const char *dir, const char *id);

/* Rewrites FORMAT as an older nbrewind would have written it: `version`,
 * lz4 level 5 with shuffle, `chunk_bytes`, chunk dedup from version 2 on
 * (before the first checkpoint: the store then is a store of that version). */
int st_write_format(const char *dir, int version, long chunk_bytes);

/* Replaces checkpoint `id`'s manifest by a plain one holding `text` (a new
 * file: a segment that carried the old one is left as it was). */
int st_replace_manifest(const char *dir, const char *id, const char *text);

/* Store with one checkpoint binding `name` to `count` float64 values
 * value[i] = seed + i; returns the checkpoint id (malloc'd) or NULL. */
char *st_commit_doubles(nbr_store *store, const char *cell, const char *name, size_t count,
                        double seed, nbr_object_id *id_out);

/* GC tests.  Checkpoint k of a history with every kind of binding: "x" new
 * each time (in a store with 4 KiB chunks, most of its chunks shared with
 * earlier checkpoints), "b" shared by three in a row, "const" bound by checkpoint 1
 * only, "alias" a put_ref to it, "gone" bound and deleted in turn. */
int st_gc_checkpoint(nbr_store *store, int64_t k);

/* 1 if checkpoint `id` holds exactly what st_gc_checkpoint put ("x" of its k,
 * and "const"), read back in full. */
int st_gc_check(nbr_store *store, const char *id);

/* Every name's resolution as of `id` (status, deleted, object id, a digest of
 * the bytes read back), as text to compare (malloc'd). */
char *st_snapshot(nbr_store *store, const char *id);

#endif
