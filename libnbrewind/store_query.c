/* store_query.c - reading a store: the checkpoint list, name resolution,
 * objects, diffs, byte counts and verification.  Readers take no lock: they
 * read only manifests (complete once renamed into place) and the segments
 * those name (immutable). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "dtype.h"
#include "store_chunks.h"
#include "store_internal.h"
#include "store_io.h"

long nbr_store_find_checkpoint(const nbr_store *s, const char *checkpoint_id)
{
    char *end = NULL;
    if (checkpoint_id && *checkpoint_id) {
        uint64_t seq = strtoull(checkpoint_id, &end, 10);
        size_t lo = 0, hi = s->checkpoint_count;
        while (*end == '\0' && lo < hi) { /* binary search: sorted by seq */
            size_t mid = lo + (hi - lo) / 2;
            if (s->checkpoints[mid]->seq == seq) return (long)mid;
            if (s->checkpoints[mid]->seq < seq) lo = mid + 1;
            else hi = mid;
        }
    }
    nbr_fail(NBR_ENOTFOUND, "%s: no checkpoint \"%s\"", s->root,
             checkpoint_id ? checkpoint_id : "(null)");
    return -1;
}

const nbr_object_entry *nbr_store_find_object(const nbr_store *s, const nbr_object_id *id)
{
    const nbr_index_slot *slot = nbr_object_index_find(&s->objects, id);
    return slot ? &s->checkpoints[slot->checkpoint]->objects[slot->object] : NULL;
}

static const nbr_object_entry *find_in_store(const void *store, const nbr_object_id *id)
{
    return nbr_store_find_object(store, id);
}

nbr_entry_finder nbr_store_finder(const nbr_store *s)
{
    nbr_entry_finder f = {find_in_store, s};
    return f;
}

static nbr_status unknown_object(const nbr_store *s, const nbr_object_id *id)
{
    char hex[33];
    nbr_object_id_to_hex(hex, id);
    return nbr_fail(NBR_ENOTFOUND, "%s: the store has no object %s", s->root, hex);
}

static nbr_status damaged(const nbr_manifest *m)
{
    return nbr_fail(NBR_ECORRUPT, "checkpoint %s: %s", m->id, m->damaged);
}

/* ---- checkpoints ------------------------------------------------------- */

size_t nbr_store_checkpoint_count(const nbr_store *s) { return s ? s->checkpoint_count : 0; }

const char *nbr_store_checkpoint_id(const nbr_store *s, size_t index)
{
    return s && index < s->checkpoint_count ? s->checkpoints[index]->id : NULL;
}

nbr_status nbr_store_checkpoint_info(const char **cell_id, int64_t *execution_count,
                                     const char **started, const char **committed,
                                     const char **host_json, const nbr_store *s,
                                     const char *checkpoint_id)
{
    if (cell_id) *cell_id = NULL;
    if (execution_count) *execution_count = 0;
    if (started) *started = NULL;
    if (committed) *committed = NULL;
    if (host_json) *host_json = NULL;
    if (!s) return nbr_fail(NBR_EINVAL, "nbr_store_checkpoint_info: store is NULL");
    long at = nbr_store_find_checkpoint(s, checkpoint_id);
    if (at < 0) return NBR_ENOTFOUND;
    const nbr_manifest *m = s->checkpoints[at];
    if (m->damaged) return damaged(m);
    if (cell_id) *cell_id = m->cell_id;
    if (execution_count) *execution_count = m->execution_count;
    if (started) *started = m->started;
    if (committed) *committed = m->committed;
    if (host_json) *host_json = m->host_json;
    return NBR_OK;
}

/* The index of `checkpoint_id`, or of the latest checkpoint for NULL. */
static long as_of(const nbr_store *s, const char *checkpoint_id)
{
    if (checkpoint_id) return nbr_store_find_checkpoint(s, checkpoint_id);
    if (s->checkpoint_count) return (long)s->checkpoint_count - 1;
    nbr_fail(NBR_ENOTFOUND, "%s: the store has no checkpoints", s->root);
    return -1;
}

void nbr_store_forget_history(nbr_store *s)
{
    for (size_t i = 0; i < s->history_names.count; i++) {
        free(s->histories[i].checkpoint);
        free(s->histories[i].binding);
    }
    free(s->histories);
    s->histories = NULL;
    s->history_cap = 0;
    nbr_strset_clear(&s->history_names);
    free(s->damaged_at);
    s->damaged_at = NULL;
    s->damaged_count = s->damaged_cap = 0;
    s->history_upto = 0;
    s->history_built = s->history_wanted = false;
}

/* Brings the histories up to every checkpoint the handle holds (they are
 * only ever appended to, in increasing order, until forgotten). */
static nbr_status update_history(nbr_store *s)
{
    for (; s->history_upto < s->checkpoint_count; s->history_upto++) {
        size_t i = s->history_upto;
        const nbr_manifest *m = s->checkpoints[i];
        if (m->damaged) {
            if (!NBR_RESERVE(s->damaged_at, s->damaged_cap, s->damaged_count + 1))
                return nbr_fail_nomem("indexing names");
            s->damaged_at[s->damaged_count++] = i;
            continue;
        }
        for (size_t k = 0; k < m->names.count; k++) {
            const char *name = m->names.items[k];
            size_t length = strlen(name);
            long j = nbr_strset_find_n(&s->history_names, name, length);
            if (j < 0) {
                size_t n = s->history_names.count;
                if (!NBR_RESERVE(s->histories, s->history_cap, n + 1))
                    return nbr_fail_nomem("indexing names");
                memset(&s->histories[n], 0, sizeof s->histories[n]);
                if (!nbr_strset_add_n(&s->history_names, name, length))
                    return nbr_fail_nomem("indexing names");
                j = (long)n;
            }
            nbr_name_history *h = &s->histories[j];
            if (h->count == h->cap) {
                size_t cap = h->cap ? 2 * h->cap : 4;
                size_t *c = realloc(h->checkpoint, cap * sizeof *c);
                if (c) h->checkpoint = c;
                size_t *b = c ? realloc(h->binding, cap * sizeof *b) : NULL;
                if (b) h->binding = b;
                if (!c || !b) return nbr_fail_nomem("indexing names");
                h->cap = cap;
            }
            h->checkpoint[h->count] = i;
            h->binding[h->count++] = k;
        }
    }
    return NBR_OK;
}

/* The number of entries of `v` (increasing) that are <= at. */
static size_t count_upto(const size_t *v, size_t n, size_t at)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid] <= at) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* How far back a resolve walks before it uses the per-name histories: a
 * name rebound by a recent checkpoint needs none. */
#define RESOLVE_WALK 32

nbr_status nbr_store_resolve(nbr_object_id *id_out, int *deleted_out, const nbr_store *store,
                             const char *checkpoint_id, const char *name)
{
    if (id_out) memset(id_out, 0, sizeof *id_out);
    if (deleted_out) *deleted_out = 0;
    if (!store || !name) return nbr_fail(NBR_EINVAL, "nbr_store_resolve: store or name is NULL");
    /* The histories are a cache of what the handle holds (a handle is used
     * from one thread at a time). */
    nbr_store *s = (nbr_store *)store;
    long at = as_of(s, checkpoint_id);
    if (at < 0) return NBR_ENOTFOUND;
    size_t length = strlen(name);
    const nbr_manifest *bound = NULL, *damaged = NULL;
    long k = -1;
    /* The first resolve that goes further back walks all the way (as cheap
     * as building the histories); the next one builds them. */
    long stop = s->history_built ? at + 1
                : at < RESOLVE_WALK || !s->history_wanted ? 0
                : at + 1 - RESOLVE_WALK;
    long i = at;
    for (; i >= stop && !bound && !damaged; i--) {
        const nbr_manifest *m = s->checkpoints[i];
        if (m->damaged) damaged = m;
        else if ((k = nbr_strset_find_n(&m->names, name, length)) >= 0) bound = m;
    }
    if (!s->history_built && at - i > RESOLVE_WALK) s->history_wanted = true;
    if (!bound && !damaged && stop > 0) {
        /* Further back: binary search in the name's history. */
        nbr_status st = update_history(s);
        if (st != NBR_OK) return st;
        s->history_built = true;
        size_t below = (size_t)stop; /* checkpoints [stop, at] were walked */
        size_t d = count_upto(s->damaged_at, s->damaged_count, below - 1);
        long j = nbr_strset_find_n(&s->history_names, name, length);
        const nbr_name_history *h = j >= 0 ? &s->histories[j] : NULL;
        size_t b = h ? count_upto(h->checkpoint, h->count, below - 1) : 0;
        if (d > 0 && (b == 0 || s->damaged_at[d - 1] > h->checkpoint[b - 1]))
            damaged = s->checkpoints[s->damaged_at[d - 1]];
        else if (b > 0) {
            bound = s->checkpoints[h->checkpoint[b - 1]];
            k = (long)h->binding[b - 1];
        }
    }
    if (damaged)
        return nbr_fail(NBR_ECORRUPT, "\"%s\" cannot be resolved: checkpoint %s on the way: %s",
                        name, damaged->id, damaged->damaged);
    if (bound) {
        if (id_out) *id_out = bound->ids[k];
        if (deleted_out) *deleted_out = bound->deleted[k];
        return NBR_OK;
    }
    return nbr_fail(NBR_ENOTFOUND, "\"%s\" is not bound as of checkpoint %s", name,
                    s->checkpoints[at]->id);
}

/* ---- objects ----------------------------------------------------------- */

nbr_status nbr_store_object_info(nbr_object_kind *kind, const char **type, size_t *ndim,
                                 const uint64_t **shape, uint64_t *logical_bytes,
                                 const nbr_store *s, const nbr_object_id *id)
{
    if (kind) *kind = 0;
    if (type) *type = NULL;
    if (ndim) *ndim = 0;
    if (shape) *shape = NULL;
    if (logical_bytes) *logical_bytes = 0;
    if (!s || !id) return nbr_fail(NBR_EINVAL, "nbr_store_object_info: store or id is NULL");
    const nbr_object_entry *e = nbr_store_find_object(s, id);
    if (!e) return unknown_object(s, id);
    if (kind) *kind = e->kind;
    if (type) *type = e->type;
    if (ndim) *ndim = e->ndim;
    if (shape) *shape = e->shape;
    if (logical_bytes) *logical_bytes = e->logical_bytes;
    return NBR_OK;
}

static void describe_shape(char *out, size_t size, size_t ndim, const uint64_t *shape)
{
    size_t used = (size_t)snprintf(out, size, "(");
    for (size_t i = 0; i < ndim && used < size; i++)
        used += (size_t)snprintf(out + used, size - used, "%s%" PRIu64, i ? ", " : "", shape[i]);
    if (used < size) snprintf(out + used, size - used, ndim == 1 ? ",)" : ")");
}

static nbr_status wrong_request(const nbr_object_entry *e, const char *dtype, size_t ndim,
                                const uint64_t *shape, size_t buffer_size)
{
    char hex[33], have[256], want[256];
    nbr_object_id_to_hex(hex, &e->id);
    describe_shape(have, sizeof have, e->ndim, e->shape);
    describe_shape(want, sizeof want, ndim, shape ? shape : e->shape);
    return nbr_fail(NBR_EINVAL,
                    "object %s is an array of dtype %s and shape %s (%" PRIu64
                    " bytes); asked for dtype %s, shape %s into %zu bytes",
                    hex, e->type, have, e->logical_bytes, dtype ? dtype : "(null)", want,
                    buffer_size);
}

/* Reads an object's content through its (cached) segment, or a chunked
 * array straight from its chunks (faster than through its virtual dataset:
 * docs/performance.md). */
static nbr_status read_object(void *buffer, nbr_store *s, const nbr_object_entry *e)
{
    if (e->chunk_shape) return nbr_chunks_read(buffer, s, e);
    hid_t file = -1;
    nbr_status st = nbr_store_segment(&file, s, e->segment);
    if (st != NBR_OK) {
        char hex[33], *why = nbr_copy(nbr_last_error());
        nbr_object_id_to_hex(hex, &e->id);
        st = nbr_fail(st, "object %s: %s", hex, why ? why : e->segment);
        free(why);
        return st;
    }
    char *path = nbr_io_join(s->root, e->segment);
    if (!path) return nbr_fail_nomem("reading an object");
    st = nbr_segment_read(buffer, file, path, e);
    free(path);
    return st;
}

nbr_status nbr_store_read_array(void *buffer, size_t buffer_size, nbr_store *s,
                                const nbr_object_id *id, const char *expected_dtype, size_t ndim,
                                const uint64_t *shape)
{
    if (!s || !id) return nbr_fail(NBR_EINVAL, "nbr_store_read_array: store or id is NULL");
    const nbr_object_entry *e = nbr_store_find_object(s, id);
    if (!e) return unknown_object(s, id);
    if (e->kind != NBR_OBJECT_ARRAY) {
        char hex[33];
        nbr_object_id_to_hex(hex, id);
        return nbr_fail(NBR_EINVAL, "object %s is a blob (codec %s), not an array", hex, e->type);
    }
    char *normal = NULL; /* "[[\"a\",\"<i4\"]]" asks for what '[["a", "<i4"]]' stored */
    if (expected_dtype && nbr_dtype_normalize(&normal, expected_dtype) == NBR_ENOMEM)
        return NBR_ENOMEM;
    bool same = normal && !strcmp(normal, e->type) && ndim == e->ndim &&
                (ndim == 0 || (shape && !memcmp(shape, e->shape, ndim * sizeof *shape)));
    free(normal);
    if (!same || buffer_size < e->logical_bytes || (!buffer && e->logical_bytes))
        return wrong_request(e, expected_dtype, ndim, shape, buffer_size);
    return read_object(buffer, s, e);
}

nbr_status nbr_store_read_blob(void *buffer, size_t buffer_size, nbr_store *s,
                               const nbr_object_id *id)
{
    if (!s || !id) return nbr_fail(NBR_EINVAL, "nbr_store_read_blob: store or id is NULL");
    const nbr_object_entry *e = nbr_store_find_object(s, id);
    if (!e) return unknown_object(s, id);
    char hex[33];
    nbr_object_id_to_hex(hex, id);
    if (e->kind != NBR_OBJECT_BLOB)
        return nbr_fail(NBR_EINVAL, "object %s is an array (dtype %s), not a blob", hex, e->type);
    if (buffer_size < e->logical_bytes || (!buffer && e->logical_bytes))
        return nbr_fail(NBR_EINVAL, "object %s is a blob of %" PRIu64 " bytes; the buffer has %zu",
                        hex, e->logical_bytes, buffer_size);
    return read_object(buffer, s, e);
}

/* ---- diff -------------------------------------------------------------- */

struct nbr_diff {
    char **names;
    nbr_change *changes;
    size_t count;
};

/* The namespace as of checkpoint index `at` (-1: empty), as a manifest's
 * bindings: each name's latest binding. */
static nbr_status namespace_at(nbr_manifest *ns, const nbr_store *s, long at)
{
    nbr_manifest_init(ns, 0);
    for (long i = 0; i <= at; i++) {
        const nbr_manifest *m = s->checkpoints[i];
        if (m->damaged) return damaged(m);
        for (size_t k = 0; k < m->names.count; k++) {
            const nbr_object_id *id = m->deleted[k] ? NULL : &m->ids[k];
            nbr_status st = nbr_manifest_bind(ns, m->names.items[k], id);
            if (st != NBR_OK) return st;
        }
    }
    return NBR_OK;
}

/* How `name` changed from `a` to `b`, or 0. */
static nbr_change compare(const nbr_manifest *a, const nbr_manifest *b, const char *name)
{
    long i = nbr_strset_find_n(&a->names, name, strlen(name));
    long k = nbr_strset_find_n(&b->names, name, strlen(name));
    bool in_a = i >= 0 && !a->deleted[i], in_b = k >= 0 && !b->deleted[k];
    if (!in_a && in_b) return NBR_CHANGE_ADDED;
    if (in_a && !in_b) return NBR_CHANGE_DELETED;
    if (in_a && in_b && !nbr_object_id_equal(&a->ids[i], &b->ids[k])) return NBR_CHANGE_CHANGED;
    return 0;
}

static nbr_status diff_add(nbr_diff *d, size_t *cap, const char *name, nbr_change change)
{
    size_t cap2 = *cap;
    char *copy = nbr_copy(name);
    if (!copy || !NBR_RESERVE(d->names, *cap, d->count + 1) ||
        !NBR_RESERVE(d->changes, cap2, d->count + 1)) {
        free(copy);
        return nbr_fail_nomem("diffing checkpoints");
    }
    d->names[d->count] = copy;
    d->changes[d->count++] = change;
    return NBR_OK;
}

static nbr_status diff_fill(nbr_diff *d, const nbr_manifest *a, const nbr_manifest *b)
{
    size_t cap = 0;
    for (int side = 0; side < 2; side++) {
        const nbr_manifest *m = side ? a : b;
        for (size_t i = 0; i < m->names.count; i++) {
            const char *name = m->names.items[i];
            if (side && nbr_strset_find_n(&b->names, name, strlen(name)) >= 0) continue;
            nbr_change change = compare(a, b, name);
            nbr_status st = change ? diff_add(d, &cap, name, change) : NBR_OK;
            if (st != NBR_OK) return st;
        }
    }
    return NBR_OK;
}

static void sort_diff(nbr_diff *d)
{
    for (size_t i = 1; i < d->count; i++) /* insertion sort: diffs are small */
        for (size_t k = i; k > 0 && strcmp(d->names[k - 1], d->names[k]) > 0; k--) {
            char *n = d->names[k];
            nbr_change c = d->changes[k];
            d->names[k] = d->names[k - 1];
            d->changes[k] = d->changes[k - 1];
            d->names[k - 1] = n;
            d->changes[k - 1] = c;
        }
}

nbr_status nbr_store_diff(nbr_diff **out, const nbr_store *s, const char *from, const char *to)
{
    if (!out) return nbr_fail(NBR_EINVAL, "nbr_store_diff: out is NULL");
    *out = NULL;
    if (!s) return nbr_fail(NBR_EINVAL, "nbr_store_diff: store is NULL");
    long a = from ? nbr_store_find_checkpoint(s, from) : -1;
    long b = as_of(s, to);
    if ((from && a < 0) || b < 0) return NBR_ENOTFOUND;
    nbr_manifest ns_a, ns_b;
    nbr_diff *d = calloc(1, sizeof *d);
    nbr_status st = namespace_at(&ns_a, s, a);
    if (st == NBR_OK) st = namespace_at(&ns_b, s, b);
    else nbr_manifest_init(&ns_b, 0);
    if (st == NBR_OK && !d) st = nbr_fail_nomem("diffing checkpoints");
    if (st == NBR_OK) st = diff_fill(d, &ns_a, &ns_b);
    nbr_manifest_clear(&ns_a);
    nbr_manifest_clear(&ns_b);
    if (st != NBR_OK) {
        nbr_diff_free(d);
        return st;
    }
    sort_diff(d);
    *out = d;
    return NBR_OK;
}

size_t nbr_diff_count(const nbr_diff *d) { return d ? d->count : 0; }

nbr_status nbr_diff_entry(const char **name, nbr_change *change, const nbr_diff *d, size_t index)
{
    if (name) *name = NULL;
    if (change) *change = 0;
    if (!d || index >= d->count)
        return nbr_fail(NBR_EINVAL, "nbr_diff_entry: index %zu out of range", index);
    if (name) *name = d->names[index];
    if (change) *change = d->changes[index];
    return NBR_OK;
}

void nbr_diff_free(nbr_diff *d)
{
    if (!d) return;
    for (size_t i = 0; i < d->count; i++) free(d->names[i]);
    free(d->names);
    free(d->changes);
    free(d);
}

/* ---- stats ------------------------------------------------------------- */

/* A chunked array's stored bytes: its chunks whose home (first listing, in
 * the chunk index) is this entry, so each chunk counts once per store. */
static uint64_t chunks_at_home(const nbr_store *s, const nbr_object_entry *e, size_t at, size_t i)
{
    uint64_t bytes = 0;
    for (size_t k = 0; k < e->chunk_count; k++) {
        const nbr_index_slot *slot = nbr_object_index_find(&s->chunks, &e->chunks[k].id);
        if (slot && slot->checkpoint == at && slot->object == i && slot->part == k)
            bytes += e->chunks[k].stored_bytes;
    }
    return bytes;
}

static void checkpoint_bytes(uint64_t *logical, uint64_t *stored, const nbr_store *s,
                             size_t at)
{
    const nbr_manifest *m = s->checkpoints[at];
    for (size_t i = 0; i < m->names.count; i++) {
        const nbr_object_entry *e = m->deleted[i] ? NULL : nbr_store_find_object(s, &m->ids[i]);
        if (e) *logical += e->logical_bytes;
    }
    /* After a GC an object may be listed by several manifests: count it
     * where the index has its home (the first one) only. */
    for (size_t i = 0; i < m->object_count; i++) {
        const nbr_index_slot *slot = nbr_object_index_find(&s->objects, &m->objects[i].id);
        if (!slot || slot->checkpoint != at || slot->object != i) continue;
        const nbr_object_entry *e = &m->objects[i];
        *stored += e->chunk_shape ? chunks_at_home(s, e, at, i) : e->stored_bytes;
    }
}

nbr_status nbr_store_stats(uint64_t *logical_bytes, uint64_t *stored_bytes, const nbr_store *s,
                           const char *checkpoint_id)
{
    uint64_t logical = 0, stored = 0;
    if (logical_bytes) *logical_bytes = 0;
    if (stored_bytes) *stored_bytes = 0;
    if (!s) return nbr_fail(NBR_EINVAL, "nbr_store_stats: store is NULL");
    if (checkpoint_id) {
        long at = nbr_store_find_checkpoint(s, checkpoint_id);
        if (at < 0) return NBR_ENOTFOUND;
        checkpoint_bytes(&logical, &stored, s, (size_t)at);
    } else {
        for (size_t i = 0; i < s->checkpoint_count; i++)
            checkpoint_bytes(&logical, &stored, s, i);
    }
    if (logical_bytes) *logical_bytes = logical;
    if (stored_bytes) *stored_bytes = stored;
    return NBR_OK;
}

/* ---- verify ------------------------------------------------------------ */

/* What h5py reads of an array stored as chunks is its virtual dataset: the
 * segment holding it must open, and the version it is chained to must be in
 * the store (HDF5 would read the rows it maps as zeros, without an error). */
static nbr_status check_virtual(nbr_store *s, const nbr_object_entry *e)
{
    hid_t file = -1;
    nbr_status st = nbr_store_segment(&file, s, e->segment);
    if (st != NBR_OK || !e->chained || nbr_store_find_object(s, &e->base)) return st;
    char hex[33], base[33];
    nbr_object_id_to_hex(hex, &e->id);
    nbr_object_id_to_hex(base, &e->base);
    return nbr_fail(NBR_ECORRUPT, "%s: array %s is chained to %s, which no manifest lists",
                    e->segment, hex, base);
}

static nbr_status check_object(nbr_store *s, const nbr_object_entry *e)
{
    if (e->chunk_shape) {
        nbr_status st = nbr_chunks_check(s, e);
        return st == NBR_OK ? check_virtual(s, e) : st;
    }
    hid_t file = -1;
    char *path = nbr_io_join(s->root, e->segment);
    if (!path) return nbr_fail_nomem("verifying an object");
    nbr_status st = nbr_store_segment(&file, s, e->segment);
    if (st == NBR_OK) st = nbr_segment_check(file, path, e);
    free(path);
    return st;
}

/* Whether two entries of one object say the same: where it is, and each
 * chunk's id and segment. */
static bool entries_agree(const nbr_object_entry *a, const nbr_object_entry *b)
{
    if (!nbr_object_id_equal(&a->id, &b->id) || strcmp(a->segment, b->segment) != 0 ||
        a->chunk_count != b->chunk_count || a->chained != b->chained)
        return false;
    for (size_t k = 0; k < a->chunk_count; k++)
        if (!nbr_entry_same_chunk(a, b, k)) return false;
    return true;
}

/* The first object of the file's manifest that the handle holds otherwise,
 * or -1. */
static long first_disagreement(const nbr_manifest *file, const nbr_manifest *held)
{
    for (size_t i = 0; i < file->object_count; i++)
        if (!entries_agree(&file->objects[i], &held->objects[i])) return (long)i;
    return -1;
}

/* The handle may have taken a manifest from INDEX (which is checked against
 * the directory, not against each file's bytes), so verify reads every
 * manifest file again: damage made in place must not go unnoticed. */
static nbr_status check_manifest_file(char **why, const nbr_manifest *m, const nbr_store *s)
{
    char name[64];
    *why = NULL;
    snprintf(name, sizeof name, "checkpoints/%s.json", m->id);
    char *path = nbr_io_join(s->root, name);
    if (!path) return nbr_fail_nomem("verifying a manifest");
    nbr_manifest again;
    nbr_manifest_init(&again, m->seq);
    nbr_status st = nbr_store_read_manifest(&again, s, path);
    if (st == NBR_OK && again.object_count != m->object_count)
        st = nbr_fail(NBR_ECORRUPT, "%s: lists %zu objects, the open index %zu", path,
                      again.object_count, m->object_count);
    long differs = st == NBR_OK ? first_disagreement(&again, m) : -1;
    if (differs >= 0) {
        char hex[33];
        nbr_object_id_to_hex(hex, &again.objects[differs].id);
        st = nbr_fail(NBR_ECORRUPT, "%s: object %s is not where the open index has it", path,
                      hex);
    }
    nbr_manifest_clear(&again);
    free(path);
    if (st == NBR_ENOMEM) return st;
    if (st != NBR_OK && !(*why = nbr_copy(nbr_last_error()))) return nbr_fail_nomem("verifying");
    return NBR_OK;
}

nbr_status nbr_manifest_read(char **text_out, size_t *length_out, const char *path)
{
    if (text_out) *text_out = NULL;
    if (length_out) *length_out = 0;
    if (!text_out || !length_out || !path)
        return nbr_fail(NBR_EINVAL, "nbr_manifest_read: text_out, length_out or path is NULL");
    return nbr_manifest_read_file(text_out, length_out, path);
}

nbr_status nbr_store_verify(char **report_out, nbr_store *s)
{
    if (report_out) *report_out = NULL;
    if (!s) return nbr_fail(NBR_EINVAL, "nbr_store_verify: store is NULL");
    nbr_buf report;
    nbr_buf_init(&report);
    size_t bad = 0;
    for (size_t i = 0; i < s->checkpoint_count; i++) {
        const nbr_manifest *m = s->checkpoints[i];
        char *why = NULL;
        nbr_status file_st = m->damaged ? NBR_OK : check_manifest_file(&why, m, s);
        if (file_st == NBR_ENOMEM) {
            nbr_buf_clear(&report);
            return file_st;
        }
        if (m->damaged || why) {
            nbr_buf_printf(&report, "checkpoint %s: %s\n", m->id, m->damaged ? m->damaged : why);
            bad++;
            free(why);
            if (!m->damaged) continue; /* what the handle holds may not match the file */
        }
        for (size_t k = 0; k < m->object_count; k++) {
            nbr_status st = check_object(s, &m->objects[k]);
            if (st == NBR_ENOMEM) {
                nbr_buf_clear(&report);
                return st;
            }
            if (st == NBR_OK) continue;
            char hex[33];
            nbr_object_id_to_hex(hex, &m->objects[k].id);
            nbr_buf_printf(&report, "object %s in %s (checkpoint %s): %s\n", hex,
                           m->objects[k].segment, m->id, nbr_last_error());
            bad++;
        }
    }
    char *text = nbr_buf_take(&report);
    if (!text) return nbr_fail_nomem("verifying a store");
    nbr_status st = NBR_OK;
    if (bad) st = nbr_fail(NBR_ECORRUPT, "%s: %zu problem(s) found:\n%s", s->root, bad, text);
    if (report_out) *report_out = text;
    else free(text);
    return st;
}
