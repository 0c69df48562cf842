/* store.c - opening a checkpoint store: FORMAT, the writer lock, loading the
 * manifests, cleaning up after a failed writer, options.
 *
 * Writing checkpoints is store_checkpoint.c, reading them store_query.c; the
 * format is docs/store-format.md. */
#include <inttypes.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "json.h"
#include "store_internal.h"
#include "store_io.h"
#include "store_snapshot.h"

#define FORMAT_NAME "nbrewind-store"
/* Version 2 adds chunk dedup (arrays whose data lies in other segments'
 * /chunks/): a version-1 writer would collect those segments as unused.
 * Version 3 adds chained virtual datasets (an array's virtual dataset maps
 * an earlier version's): a version-2 writer's GC would keep the array but
 * not the versions it maps, whose rows HDF5 would then read as zeros.  A
 * store without chunk dedup is written as version 1, which every reader
 * reads; a version-2 store stays version 2, its arrays not chained.
 * Version 4 adds lean manifests (a chained array's entry lists only the
 * chunks that differ from its base's, and a manifest may be the tail of its
 * segment, hard-linked into checkpoints/): a version-3 reader would take the
 * short chunk list for damage and a segment for a manifest it cannot parse.
 * A version-3 store stays version 3 and its manifests stay plain. */
#define FORMAT_VERSION 4

static const nbr_store_options default_options = {NBR_BLOSC_LZ4, 5, 1, 1u << 20, 1, -1, 1, 1};

static int format_version(const nbr_store_options *o)
{
    return !o->chunk_dedup ? 1 : !o->chain ? 2 : o->lean ? 4 : 3;
}

/* ---- FORMAT ------------------------------------------------------------ */

static nbr_status render_format(char **out, const nbr_store_options *o)
{
    nbr_buf b;
    nbr_buf_init(&b);
    nbr_buf_printf(&b,
                   "{\"format\": \"%s\", \"version\": %d,\n \"codec\": \"%s\", \"level\": %d, "
                   "\"shuffle\": %s, \"chunk_bytes\": %" PRIu64 ", \"chunk_dedup\": %s}\n",
                   FORMAT_NAME, format_version(o), nbr_blosc_codec_name(o->codec), o->level,
                   o->shuffle ? "true" : "false", o->chunk_bytes,
                   o->chunk_dedup ? "true" : "false");
    *out = nbr_buf_take(&b);
    return *out ? NBR_OK : nbr_fail_nomem("writing FORMAT");
}

static nbr_status parse_options(nbr_store_options *o, const nbr_json *root, const char *path,
                                int64_t version)
{
    int64_t level = -1, chunk = 0;
    const char *codec = nbr_json_string(nbr_json_get(root, "codec"));
    const nbr_json *shuffle = nbr_json_get(root, "shuffle");
    if (!codec || nbr_blosc_codec_from_name(&o->codec, codec) != NBR_OK)
        return nbr_fail(NBR_ECORRUPT, "%s: \"codec\" is not a Blosc compressor name", path);
    if (!nbr_json_number_int64(nbr_json_get(root, "level"), &level) || level < 0 || level > 9)
        return nbr_fail(NBR_ECORRUPT, "%s: \"level\" is not 0-9", path);
    if (!nbr_json_is_bool(shuffle))
        return nbr_fail(NBR_ECORRUPT, "%s: \"shuffle\" is not true or false", path);
    if (!nbr_json_number_int64(nbr_json_get(root, "chunk_bytes"), &chunk) || chunk < 1)
        return nbr_fail(NBR_ECORRUPT, "%s: \"chunk_bytes\" is not a positive size", path);
    /* Absent in version 1 stores: no chunk dedup there. */
    const nbr_json *dedup = nbr_json_get(root, "chunk_dedup");
    if (dedup && !nbr_json_is_bool(dedup))
        return nbr_fail(NBR_ECORRUPT, "%s: \"chunk_dedup\" is not true or false", path);
    o->chunk_dedup = nbr_json_is_true(dedup);
    o->chain = version >= 3;
    o->lean = version >= 4;
    o->level = (int)level;
    o->shuffle = nbr_json_is_true(shuffle);
    o->chunk_bytes = (uint64_t)chunk;
    return NBR_OK;
}

static nbr_status check_format(nbr_store_options *o, const nbr_json *root, const char *path)
{
    const char *name = nbr_json_string(nbr_json_get(root, "format"));
    int64_t version = 0;
    if (!nbr_json_is_object(root) || !name || strcmp(name, FORMAT_NAME) != 0)
        return nbr_fail(NBR_ECORRUPT, "%s: not an nbrewind store (\"format\" is not \"%s\")",
                        path, FORMAT_NAME);
    if (!nbr_json_number_int64(nbr_json_get(root, "version"), &version) || version < 1)
        return nbr_fail(NBR_ECORRUPT, "%s: \"version\" is not a positive integer", path);
    if (version > FORMAT_VERSION)
        return nbr_fail(NBR_EUNSUPPORTED,
                        "%s: the store has format version %" PRId64
                        ", newer than this library reads (version %d): upgrade nbrewind",
                        path, version, FORMAT_VERSION);
    return parse_options(o, root, path, version);
}

/* Reads FORMAT into the options.  NBR_ENOTFOUND if there is none. */
static nbr_status read_format(nbr_store *s)
{
    char *path = nbr_io_join(s->root, "FORMAT"), *text = NULL;
    size_t length = 0;
    if (!path) return nbr_fail_nomem("opening a store");
    nbr_status st = nbr_io_read_file(&text, &length, path);
    if (st == NBR_ENOTFOUND)
        st = nbr_fail(NBR_ENOTFOUND, "%s: no checkpoint store here (no FORMAT file)", s->root);
    nbr_json_doc *doc = NULL;
    nbr_json_error err;
    if (st == NBR_OK && nbr_json_parse(&doc, text, length, path, NULL, &err) != NBR_OK)
        st = nbr_fail(NBR_ECORRUPT, "%s is damaged (truncated or not JSON: %s at line %u)", path,
                      err.message, err.line);
    if (st == NBR_OK) st = check_format(&s->options, nbr_json_root(doc), path);
    nbr_json_doc_free(doc);
    free(text);
    free(path);
    return st;
}

static nbr_status write_format(const nbr_store *s)
{
    char *text = NULL, tmp_name[64];
    snprintf(tmp_name, sizeof tmp_name, "tmp/FORMAT-%08" PRIx32, nbr_io_random32());
    char *tmp = nbr_io_join(s->root, tmp_name), *path = nbr_io_join(s->root, "FORMAT");
    nbr_status st = tmp && path ? render_format(&text, &s->options)
                                : nbr_fail_nomem("writing FORMAT");
    if (st == NBR_OK) st = nbr_io_write_atomic(tmp, path, text, strlen(text));
    free(text);
    free(tmp);
    free(path);
    return st;
}

/* ---- the directory ----------------------------------------------------- */

static nbr_status make_dirs(const nbr_store *s)
{
    static const char *const dirs[] = {"segments", "checkpoints", "tmp"};
    nbr_status st = nbr_io_mkdir(s->root);
    for (size_t i = 0; st == NBR_OK && i < sizeof dirs / sizeof dirs[0]; i++) {
        char *path = nbr_io_join(s->root, dirs[i]);
        st = path ? nbr_io_mkdir(path) : nbr_fail_nomem("creating a store");
        free(path);
    }
    return st;
}

static nbr_status take_lock(nbr_store *s)
{
    char *path = nbr_io_join(s->root, "LOCK");
    if (!path) return nbr_fail_nomem("locking a store");
    nbr_status st = nbr_io_lock(&s->lock_fd, path);
    free(path);
    return st;
}

/* Removes every file in a store subdirectory for which `keep` says no;
 * *removed counts them. */
static nbr_status sweep(const nbr_store *s, const char *sub,
                        bool (*keep)(const void *, const char *), const void *context,
                        size_t *removed)
{
    char *dir = nbr_io_join(s->root, sub), **names = NULL;
    size_t count = 0;
    if (!dir) return nbr_fail_nomem("cleaning a store");
    nbr_status st = nbr_io_list(&names, &count, dir);
    for (size_t i = 0; st == NBR_OK && i < count; i++) {
        if (keep && keep(context, names[i])) continue;
        char *path = nbr_io_join(dir, names[i]);
        if (path) nbr_io_remove(path);
        free(path);
        (*removed)++;
    }
    nbr_io_free_list(names, count);
    free(dir);
    return st;
}

/* The segments the manifests name, and the highest seq of a damaged one. */
typedef struct segment_usage {
    nbr_strset named;
    uint64_t damaged_seq;
} segment_usage;

static nbr_status collect_usage(segment_usage *u, const nbr_store *s)
{
    nbr_strset_init(&u->named);
    u->damaged_seq = 0;
    for (size_t i = 0; i < s->checkpoint_count; i++) {
        const nbr_manifest *m = s->checkpoints[i];
        if (m->damaged && m->seq > u->damaged_seq) u->damaged_seq = m->seq;
        for (size_t k = 0; k < m->object_count; k++) {
            const nbr_object_entry *e = &m->objects[k];
            bool ok = nbr_strset_add(&u->named, e->segment);
            for (size_t j = 0; ok && j < e->chunk_segment_count; j++)
                ok = nbr_strset_add(&u->named, e->chunk_segments[j]);
            if (!ok) return nbr_fail_nomem("cleaning a store");
        }
    }
    return NBR_OK;
}

/* A segment stays if a readable manifest names it, or if a damaged manifest
 * of its seq or a later one exists: we cannot tell what that one names, and
 * a manifest rewritten by GC names segments of earlier seqs. */
static bool segment_in_use(const void *context, const char *name)
{
    const segment_usage *u = context;
    char rel[64];
    snprintf(rel, sizeof rel, "segments/%s", name);
    if (!nbr_segment_name_valid(rel)) return true; /* not ours: leave it */
    uint64_t seq = strtoull(name, NULL, 10);
    return u->damaged_seq >= seq || nbr_strset_contains(&u->named, rel);
}

/* What a killed or failed writer left: files in tmp/, segments that no
 * manifest names (renamed in, but the manifest's rename never happened). */
nbr_status nbr_store_clean_up(const nbr_store *s)
{
    segment_usage u;
    size_t removed = 0, unused = 0;
    nbr_status st = collect_usage(&u, s);
    if (st == NBR_OK) st = sweep(s, "tmp", NULL, NULL, &removed);
    if (st == NBR_OK) st = sweep(s, "segments", segment_in_use, &u, &unused);
    nbr_strset_clear(&u.named);
    /* The removals made durable (a segment a manifest names was made durable
     * by its commit before the manifest: with none removed, no fsync). */
    if (st == NBR_OK && unused > 0) {
        char *dir = nbr_io_join(s->root, "segments");
        st = dir ? nbr_io_fsync_dir(dir) : nbr_fail_nomem("cleaning a store");
        free(dir);
    }
    return st;
}

/* ---- manifests --------------------------------------------------------- */

nbr_status nbr_store_add_manifest(nbr_store *s, nbr_manifest *m)
{
    if (!NBR_RESERVE(s->checkpoints, s->checkpoint_cap, s->checkpoint_count + 1)) {
        nbr_manifest_clear(m);
        free(m);
        return nbr_fail_nomem("loading a manifest");
    }
    size_t at = s->checkpoint_count++;
    s->checkpoints[at] = m;
    if (m->seq > s->last_seq) s->last_seq = m->seq;
    /* The object index holds 32-bit positions (store_index.h). */
    if (at > UINT32_MAX || m->object_count > UINT32_MAX)
        return nbr_fail(NBR_EUNSUPPORTED, "%s: checkpoint %s: more than 2^32 - 1 checkpoints or "
                        "objects", s->root, m->id);
    for (size_t i = 0; i < m->object_count; i++) {
        const nbr_object_entry *e = &m->objects[i];
        if (e->chunk_count > UINT32_MAX)
            return nbr_fail(NBR_EUNSUPPORTED, "%s: checkpoint %s: an array of more than 2^32 - 1 "
                            "chunks", s->root, m->id);
        if (!nbr_object_index_add(&s->objects, &e->id, at, i))
            return nbr_fail_nomem("indexing objects");
        for (size_t k = 0; k < e->chunk_count; k++)
            if (!nbr_object_index_add_part(&s->chunks, &e->chunks[k].id, at, i, k))
                return nbr_fail_nomem("indexing chunks");
    }
    return NBR_OK;
}

nbr_status nbr_store_read_manifest(nbr_manifest *m, const nbr_store *s, const char *path)
{
    char *text = NULL;
    size_t length = 0;
    nbr_entry_finder bases = nbr_store_finder(s);
    nbr_status st = nbr_manifest_read_file(&text, &length, path);
    if (st == NBR_OK) st = nbr_manifest_parse(m, text, length, path, &bases);
    free(text);
    return st;
}

/* Reads one manifest; a damaged one is kept, marked with why, so that its
 * seq is never reused and queries that need it say so. */
static nbr_status load_manifest(nbr_store *s, const char *dir, const char *name, uint64_t seq)
{
    char *path = nbr_io_join(dir, name);
    nbr_manifest *m = malloc(sizeof *m);
    if (!path || !m) {
        free(path);
        free(m);
        return nbr_fail_nomem("loading a manifest");
    }
    nbr_manifest_init(m, seq);
    nbr_status st = nbr_store_read_manifest(m, s, path);
    free(path);
    if (st == NBR_ENOTFOUND) { /* removed since the listing (a GC): not damaged */
        nbr_manifest_clear(m);
        free(m);
        return NBR_OK;
    }
    if (st == NBR_ENOMEM) {
        nbr_manifest_clear(m);
        free(m);
        return st;
    }
    if (st != NBR_OK) {
        char *why = nbr_copy(nbr_last_error());
        nbr_manifest_clear(m); /* drop what was half read */
        m->damaged = why ? why : nbr_copy("damaged");
    }
    return nbr_store_add_manifest(s, m);
}

/* "<16 digits>.json" -> seq, or 0 for any other name. */
static uint64_t manifest_seq(const char *name)
{
    if (strlen(name) != 21 || strcmp(name + 16, ".json") != 0) return 0;
    for (int i = 0; i < 16; i++)
        if (name[i] < '0' || name[i] > '9') return 0;
    return strtoull(name, NULL, 10);
}

nbr_status nbr_store_refresh(nbr_store *s)
{
    if (!s) return nbr_fail(NBR_EINVAL, "nbr_store_refresh: store is NULL");
    /* A fresh handle starts from the index if it checks out.  A reader
     * tries the fast check first (checkpoints/ unchanged since the index was
     * written: nothing to list); a writer, whose cleanup and GC act on what
     * it holds, always takes the full check against the listing (it sees a
     * manifest damaged in place unless its size is unchanged). */
    bool fresh = s->checkpoint_count == 0 && s->last_seq == 0;
    uint64_t covered = 0;
    nbr_status st = fresh && s->lock_fd < 0 ? nbr_snapshot_load(&covered, s, NULL, 0) : NBR_OK;
    if (st != NBR_OK || covered > 0) return st;
    char *dir = nbr_io_join(s->root, "checkpoints"), **names = NULL;
    size_t count = 0;
    if (!dir) return nbr_fail_nomem("reading manifests");
    st = nbr_io_list(&names, &count, dir);
    if (st == NBR_ENOTFOUND)
        st = nbr_fail(NBR_ECORRUPT, "%s: the store has no checkpoints directory", dir);
    if (st == NBR_OK && fresh) st = nbr_snapshot_load(&covered, s, names, count);
    /* Sorted names: sequence numbers in increasing order. */
    for (size_t i = 0; st == NBR_OK && i < count; i++) {
        uint64_t seq = manifest_seq(names[i]);
        if (seq > s->last_seq) st = load_manifest(s, dir, names[i], seq);
    }
    nbr_io_free_list(names, count);
    free(dir);
    return st;
}

/* ---- open / close ------------------------------------------------------ */

static nbr_status check_flags(unsigned flags)
{
    unsigned known = NBR_STORE_READONLY | NBR_STORE_WRITE | NBR_STORE_CREATE | NBR_STORE_RANK;
    if (flags & ~known) return nbr_fail(NBR_EINVAL, "nbr_store_open: unknown flags 0x%x", flags);
    if ((flags & NBR_STORE_RANK) && flags != NBR_STORE_RANK)
        return nbr_fail(NBR_EINVAL, "nbr_store_open: RANK goes with no other flag");
    if ((flags & NBR_STORE_READONLY) && (flags & NBR_STORE_WRITE))
        return nbr_fail(NBR_EINVAL, "nbr_store_open: READONLY and WRITE together");
    if ((flags & NBR_STORE_CREATE) && !(flags & NBR_STORE_WRITE))
        return nbr_fail(NBR_EINVAL, "nbr_store_open: CREATE needs WRITE");
    return NBR_OK;
}

/* A writer: lock first, so that creating, cleaning and the next seq are ours. */
static nbr_status open_writer(nbr_store *s)
{
    nbr_status st = NBR_OK;
    if (s->flags & NBR_STORE_CREATE) st = make_dirs(s);
    if (st == NBR_OK) st = read_format(s);
    if (st == NBR_ENOTFOUND && (s->flags & NBR_STORE_CREATE)) st = NBR_OK, s->created = true;
    if (st == NBR_OK) st = make_dirs(s);
    if (st == NBR_OK) st = take_lock(s);
    if (st == NBR_OK && s->created) {
        /* Another creator may have won the race before we took the lock. */
        st = read_format(s);
        if (st == NBR_OK) s->created = false;
        else if (st == NBR_ENOTFOUND) st = write_format(s);
    }
    if (st == NBR_OK) st = nbr_store_refresh(s);
    /* INDEX is taken as current (close brings it up to date): the next
     * rewrite comes NBR_INDEX_EVERY commits from now, or at close. */
    s->index_seq = s->last_seq;
    if (st == NBR_OK) st = nbr_store_clean_up(s);
    return st;
}

nbr_status nbr_store_open(nbr_store **out, const char *path, unsigned flags)
{
    if (!out) return nbr_fail(NBR_EINVAL, "nbr_store_open: out is NULL");
    *out = NULL;
    if (!path || !*path) return nbr_fail(NBR_EINVAL, "nbr_store_open: path is NULL or empty");
    nbr_status st = check_flags(flags);
    if (st == NBR_OK) st = nbr_blosc_register();
    if (st != NBR_OK) return st;
    nbr_store *s = calloc(1, sizeof *s);
    if (!s || !(s->root = nbr_copy(path))) {
        free(s);
        return nbr_fail_nomem("opening a store");
    }
    s->flags = flags;
    s->lock_fd = -1;
    s->options = default_options;
    nbr_object_index_init(&s->objects);
    nbr_object_index_init(&s->chunks);
    nbr_strset_init(&s->segment_names);
    nbr_strset_init(&s->history_names);
    if (flags & NBR_STORE_WRITE) st = open_writer(s);
    else st = read_format(s);
    if (st == NBR_OK && !(flags & NBR_STORE_WRITE)) st = nbr_store_refresh(s);
    if (st != NBR_OK) {
        char *why = nbr_copy(nbr_last_error());
        nbr_store_close(s);
        if (why) nbr_fail(st, "%s", why);
        free(why);
        return st;
    }
    *out = s;
    return NBR_OK;
}

/* Forgets every manifest and open segment (their files may be gone). */
void nbr_store_forget_manifests(nbr_store *s)
{
    for (size_t i = 0; i < s->segment_names.count; i++)
        nbr_segment_close(s->segment_files[i]);
    free(s->segment_files);
    s->segment_files = NULL;
    s->segment_cap = 0;
    nbr_strset_clear(&s->segment_names);
    for (size_t i = 0; i < s->checkpoint_count; i++) {
        nbr_manifest_clear(s->checkpoints[i]);
        free(s->checkpoints[i]);
    }
    free(s->checkpoints);
    s->checkpoints = NULL;
    s->checkpoint_count = s->checkpoint_cap = 0;
    nbr_arena_clear(&s->index_strings); /* the last manifests pointing into it are gone */
    nbr_object_index_clear(&s->objects);
    nbr_object_index_clear(&s->chunks);
    nbr_store_forget_history(s);
    s->index_fresh = false;
}

nbr_status nbr_store_reload(nbr_store *s)
{
    uint64_t last = s->last_seq;
    nbr_store_forget_manifests(s);
    s->last_seq = 0;
    nbr_status st = nbr_store_refresh(s);
    /* A seq once used is never reused, whatever was removed. */
    if (s->last_seq < last) s->last_seq = last;
    return st;
}

void nbr_store_update_index(nbr_store *s, uint64_t stale)
{
    if (s->lock_fd < 0 || s->checkpoint_count == 0) return;
    if (stale && s->last_seq - s->index_seq < stale) return;
    /* Loaded from an INDEX with a current stamp, nothing committed since. */
    if (s->index_fresh && s->index_seq == s->last_seq) return;
    char *why = nbr_copy(nbr_last_error()); /* the caller's error stays */
    if (nbr_snapshot_write(s, stale == 0) == NBR_OK) s->index_seq = s->last_seq;
    if (why) nbr_fail(NBR_OK, "%s", why);
    free(why);
}

void nbr_store_close(nbr_store *s)
{
    if (!s) return;
    if (s->writing) nbr_checkpoint_abort(s->writing);
    nbr_store_update_index(s, 0);
    nbr_store_forget_manifests(s);
    nbr_io_unlock(s->lock_fd);
    free(s->root);
    free(s);
}

nbr_status nbr_store_segment(hid_t *out, nbr_store *s, const char *segment)
{
    long at = nbr_strset_find_n(&s->segment_names, segment, strlen(segment));
    if (at >= 0) {
        *out = s->segment_files[at];
        return NBR_OK;
    }
    char *path = nbr_io_join(s->root, segment);
    if (!path) return nbr_fail_nomem("opening a segment");
    hid_t file = -1;
    nbr_status st = NBR_OK;
    /* A GC since this handle read the manifests may have removed it. */
    if (nbr_io_exists(path) == 0)
        st = nbr_fail(NBR_ENOTFOUND, "%s: the segment file is gone (removed by a GC after this "
                      "handle opened the store? reopen it)", path);
    if (st == NBR_OK) st = nbr_segment_open(&file, path);
    free(path);
    if (st != NBR_OK) return st;
    size_t n = s->segment_names.count, cap = s->segment_cap;
    if (!NBR_RESERVE(s->segment_files, cap, n + 1) || !nbr_strset_add(&s->segment_names, segment)) {
        nbr_segment_close(file);
        return nbr_fail_nomem("opening a segment");
    }
    s->segment_cap = cap;
    s->segment_files[n] = file;
    *out = file;
    return NBR_OK;
}

/* ---- options ----------------------------------------------------------- */

static nbr_status apply_option(nbr_store_options *o, nbr_store_option option, int64_t value)
{
    nbr_blosc_codec codec = (nbr_blosc_codec)value;
    switch (option) {
    case NBR_STORE_OPT_CODEC:
        if (value < 0 || value > 5 || value == NBR_BLOSC_SNAPPY || !nbr_blosc_codec_name(codec))
            return nbr_fail(NBR_EINVAL, "store option CODEC: %" PRId64 " is not an nbr_codec",
                            value);
        o->codec = codec;
        return NBR_OK;
    case NBR_STORE_OPT_LEVEL:
        if (value < 0 || value > 9)
            return nbr_fail(NBR_EINVAL, "store option LEVEL: %" PRId64 " is not 0-9", value);
        o->level = (int)value;
        return NBR_OK;
    case NBR_STORE_OPT_SHUFFLE:
        if (value != 0 && value != 1)
            return nbr_fail(NBR_EINVAL, "store option SHUFFLE: %" PRId64 " is not 0 or 1", value);
        o->shuffle = (int)value;
        return NBR_OK;
    case NBR_STORE_OPT_CHUNK_BYTES:
        if (value < 4096 || value > (1 << 30))
            return nbr_fail(NBR_EINVAL, "store option CHUNK_BYTES: %" PRId64
                            " is not between 4 KiB and 1 GiB", value);
        o->chunk_bytes = (uint64_t)value;
        return NBR_OK;
    case NBR_STORE_OPT_CHUNK_DEDUP:
        if (value != 0 && value != 1)
            return nbr_fail(NBR_EINVAL, "store option CHUNK_DEDUP: %" PRId64 " is not 0 or 1",
                            value);
        /* Chains and lean manifests come with chunk dedup: a store without
         * it is written as version 1, which every reader reads. */
        o->chunk_dedup = o->chain = o->lean = (int)value;
        return NBR_OK;
    case NBR_STORE_OPT_WORKERS:
        if (value < -1 || value > 16)
            return nbr_fail(NBR_EINVAL, "store option WORKERS: %" PRId64 " is not -1 to 16",
                            value);
        o->workers = (int)value;
        return NBR_OK;
    }
    return nbr_fail(NBR_EINVAL, "unknown store option %d", (int)option);
}

/* WORKERS belongs to the handle: nothing to persist, any handle may set it
 * (readers decompress on workers too), but not while a checkpoint's jobs
 * may be running. */
static nbr_status set_workers(nbr_store *s, int64_t value)
{
    if (s->writing)
        return nbr_fail(NBR_ESTATE, "%s: WORKERS cannot be set while a checkpoint is being "
                        "written", s->root);
    return apply_option(&s->options, NBR_STORE_OPT_WORKERS, value);
}

nbr_status nbr_store_set_option(nbr_store *s, nbr_store_option option, int64_t value)
{
    if (!s) return nbr_fail(NBR_EINVAL, "nbr_store_set_option: store is NULL");
    if (option == NBR_STORE_OPT_WORKERS) return set_workers(s, value);
    if (!s->created || s->checkpoint_count || s->writing)
        return nbr_fail(NBR_ESTATE, "%s: options can be set only by the handle that created the "
                        "store, before its first checkpoint", s->root);
    nbr_store_options o = s->options;
    nbr_status st = apply_option(&o, option, value);
    if (st != NBR_OK) return st;
    nbr_store_options before = s->options;
    s->options = o;
    st = write_format(s);
    if (st != NBR_OK) s->options = before;
    return st;
}

nbr_status nbr_store_get_option(int64_t *out, const nbr_store *s, nbr_store_option option)
{
    if (!out || !s) return nbr_fail(NBR_EINVAL, "nbr_store_get_option: NULL argument");
    *out = 0;
    switch (option) {
    case NBR_STORE_OPT_CODEC: *out = s->options.codec; return NBR_OK;
    case NBR_STORE_OPT_LEVEL: *out = s->options.level; return NBR_OK;
    case NBR_STORE_OPT_SHUFFLE: *out = s->options.shuffle; return NBR_OK;
    case NBR_STORE_OPT_CHUNK_BYTES: *out = (int64_t)s->options.chunk_bytes; return NBR_OK;
    case NBR_STORE_OPT_CHUNK_DEDUP: *out = s->options.chunk_dedup; return NBR_OK;
    case NBR_STORE_OPT_WORKERS: *out = s->options.workers; return NBR_OK;
    }
    return nbr_fail(NBR_EINVAL, "unknown store option %d", (int)option);
}
