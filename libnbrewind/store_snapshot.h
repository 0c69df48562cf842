/* store_snapshot.h - the open-time index (INDEX, private).
 *
 * A derived cache of every manifest up to some seq, in one binary file, so
 * that opening a store with many checkpoints reads one file instead of one
 * per checkpoint.  docs/store-format.md ("The open index") is the format.
 * Readers use it only when it checks out against the manifests actually in
 * checkpoints/ (their count and names, up to the seq it covers) and its own
 * checksum; anything else and they read the manifests as before. */
#ifndef NBR_STORE_SNAPSHOT_H
#define NBR_STORE_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct nbr_store;

/* A writer rewrites INDEX after a commit when this many checkpoints are not
 * in it; at close and after a GC whenever it differs from the manifests. */
#define NBR_INDEX_EVERY 256

/* Loads the index into an empty store if it is valid for the listed
 * manifest names (sorted, as nbr_io_list gives them).  Returns the seq it
 * covers (manifests up to it are loaded), or 0 if it was absent or ignored.
 * With `names` NULL, the fast check only: it is loaded if checkpoints/ is
 * as the writer of the index stamped it (then it holds every manifest:
 * nothing needs listing).  NBR_ENOMEM is the only error; *covered is 0 on
 * any other problem. */
nbr_status nbr_snapshot_load(uint64_t *covered, struct nbr_store *s, char **names, size_t count);

/* Writes INDEX for every manifest the writer `s` holds: tmp/, fsync,
 * rename, directory fsync.  With `if_different`, nothing is written when
 * INDEX already has exactly these bytes. */
nbr_status nbr_snapshot_write(const struct nbr_store *s, bool if_different);

/* Removes INDEX (GC, before it rewrites manifests).  ENOTFOUND is OK. */
nbr_status nbr_snapshot_remove(const struct nbr_store *s);

/* Whether `name` is a manifest file name; its seq (0 if not). */
uint64_t nbr_snapshot_manifest_seq(const char *name);

#endif
