/* store_gc.c - refs, pins and garbage collection of a checkpoint store.
 *
 * Policy (docs/store-format.md, "Refs, pins and GC"): a GC keeps the
 * checkpoints named by a ref or pinned, and the newest one; everything else
 * may go.  Manifests are incremental, so a kept checkpoint with removed
 * predecessors is first rewritten as a self-contained manifest (same seq,
 * its whole namespace, an entry for every object it references).  The order
 * is what makes it crash safe: rewrites (atomic replaces) before any
 * deletion, manifests (newest first) before segments, each directory fsynced
 * before the next step.  The segment sweep is the writer's open-time cleanup,
 * so an interrupted GC is finished by the next writer or GC. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "store_internal.h"
#include "store_io.h"
#include "store_snapshot.h"

/* ---- shared checks ----------------------------------------------------- */

static nbr_status check_writer(const nbr_store *s, const char *fn)
{
    if (!s) return nbr_fail(NBR_EINVAL, "%s: store is NULL", fn);
    if (s->lock_fd < 0)
        return nbr_fail(NBR_ESTATE, "%s: %s: the store is not open for writing", fn, s->root);
    if (s->writing)
        return nbr_fail(NBR_ESTATE, "%s: %s: a checkpoint is being written", fn, s->root);
    return NBR_OK;
}

/* A ref name becomes a file name in refs/: nothing that could leave it. */
static nbr_status check_name(const char *name, const char *fn)
{
    if (!name || !*name || strlen(name) > 200)
        return nbr_fail(NBR_EINVAL, "%s: a ref name must have 1 to 200 characters", fn);
    for (const char *p = name; *p; p++)
        if (*p < 0x20 || *p > 0x7e || *p == '/')
            return nbr_fail(NBR_EINVAL, "%s: ref \"%s\": only printable ASCII, no '/'", fn, name);
    if (name[0] == '.' || strstr(name, ".."))
        return nbr_fail(NBR_EINVAL, "%s: ref \"%s\" may not start with '.' or hold \"..\"", fn,
                        name);
    return NBR_OK;
}

/* "<root>/<dir>/<name>", malloc'd. */
static char *entry_path(const nbr_store *s, const char *dir, const char *name)
{
    char *d = nbr_io_join(s->root, dir), *p = d ? nbr_io_join(d, name) : NULL;
    free(d);
    return p;
}

/* Writes refs/<name> or pins/<name> in one atomic step (tmp, fsync, rename,
 * directory fsync), so a reader or a crash sees the old content or the new. */
static nbr_status write_entry(const nbr_store *s, const char *dir, const char *name,
                              const char *text)
{
    char tmp_name[64];
    snprintf(tmp_name, sizeof tmp_name, "tmp/%s-%08" PRIx32, dir, nbr_io_random32());
    char *dpath = nbr_io_join(s->root, dir), *tmp = nbr_io_join(s->root, tmp_name);
    char *path = entry_path(s, dir, name);
    nbr_status st = dpath && tmp && path ? nbr_io_mkdir(dpath) : nbr_fail_nomem("writing a ref");
    if (st == NBR_OK) st = nbr_io_write_atomic(tmp, path, text, strlen(text));
    free(dpath);
    free(tmp);
    free(path);
    return st;
}

/* Removes refs/<name> or pins/<name> and fsyncs the directory. */
static nbr_status remove_entry(const nbr_store *s, const char *dir, const char *name)
{
    char *dpath = nbr_io_join(s->root, dir), *path = entry_path(s, dir, name);
    nbr_status st = dpath && path ? nbr_io_unlink(path) : nbr_fail_nomem("removing a ref");
    if (st == NBR_OK) st = nbr_io_fsync_dir(dpath);
    free(dpath);
    free(path);
    return st;
}

/* The checkpoint an id names, or NULL with the error set. */
static const nbr_manifest *find(const nbr_store *s, const char *checkpoint_id)
{
    long at = nbr_store_find_checkpoint(s, checkpoint_id);
    return at < 0 ? NULL : s->checkpoints[at];
}

/* ---- refs -------------------------------------------------------------- */

nbr_status nbr_store_set_ref(nbr_store *s, const char *name, const char *checkpoint_id)
{
    nbr_status st = check_writer(s, "nbr_store_set_ref");
    if (st == NBR_OK) st = check_name(name, "nbr_store_set_ref");
    if (st != NBR_OK) return st;
    const nbr_manifest *m = find(s, checkpoint_id);
    if (!m) return NBR_ENOTFOUND;
    char text[32];
    snprintf(text, sizeof text, "%s\n", m->id);
    return write_entry(s, "refs", name, text);
}

/* Reads refs/<name>: 16 digits and a newline. */
static nbr_status read_ref(char **id_out, const nbr_store *s, const char *name)
{
    char *path = entry_path(s, "refs", name), *text = NULL;
    size_t length = 0;
    if (!path) return nbr_fail_nomem("reading a ref");
    nbr_status st = nbr_io_read_file(&text, &length, path);
    if (st == NBR_ENOTFOUND) st = nbr_fail(NBR_ENOTFOUND, "%s: no ref \"%s\"", s->root, name);
    if (st == NBR_OK && length > 0 && text[length - 1] == '\n') text[--length] = '\0';
    if (st == NBR_OK && (length != 16 || strspn(text, "0123456789") != 16))
        st = nbr_fail(NBR_ECORRUPT, "%s is damaged: not a checkpoint id", path);
    free(path);
    if (st == NBR_OK) *id_out = text;
    else free(text);
    return st;
}

nbr_status nbr_store_get_ref(char **id_out, const nbr_store *s, const char *name)
{
    if (!id_out) return nbr_fail(NBR_EINVAL, "nbr_store_get_ref: id_out is NULL");
    *id_out = NULL;
    if (!s) return nbr_fail(NBR_EINVAL, "nbr_store_get_ref: store is NULL");
    nbr_status st = check_name(name, "nbr_store_get_ref");
    return st == NBR_OK ? read_ref(id_out, s, name) : st;
}

nbr_status nbr_store_delete_ref(nbr_store *s, const char *name)
{
    nbr_status st = check_writer(s, "nbr_store_delete_ref");
    if (st == NBR_OK) st = check_name(name, "nbr_store_delete_ref");
    return st == NBR_OK ? remove_entry(s, "refs", name) : st;
}

/* ---- pins -------------------------------------------------------------- */

nbr_status nbr_store_pin(nbr_store *s, const char *checkpoint_id)
{
    nbr_status st = check_writer(s, "nbr_store_pin");
    if (st != NBR_OK) return st;
    const nbr_manifest *m = find(s, checkpoint_id);
    if (!m) return NBR_ENOTFOUND;
    return write_entry(s, "pins", m->id, "");
}

nbr_status nbr_store_unpin(nbr_store *s, const char *checkpoint_id)
{
    nbr_status st = check_writer(s, "nbr_store_unpin");
    if (st != NBR_OK) return st;
    const nbr_manifest *m = find(s, checkpoint_id);
    if (!m) return NBR_ENOTFOUND;
    st = remove_entry(s, "pins", m->id);
    if (st == NBR_ENOTFOUND)
        st = nbr_fail(NBR_ENOTFOUND, "%s: checkpoint %s is not pinned", s->root, m->id);
    return st;
}

/* ---- what is retained -------------------------------------------------- */

/* Marks the checkpoint `id` kept; one a ref or pin names but the store lacks
 * stops the GC (something is wrong, and guessing could delete data). */
static nbr_status mark(bool *keep, const nbr_store *s, const char *id, const char *what)
{
    long at = nbr_store_find_checkpoint(s, id);
    if (at < 0)
        return nbr_fail(NBR_ECORRUPT, "%s: %s names checkpoint %s, which the store does not have",
                        s->root, what, id);
    keep[at] = true;
    return NBR_OK;
}

/* Every entry of refs/ (dir "refs") or pins/ (dir "pins"). */
static nbr_status mark_dir(bool *keep, const nbr_store *s, const char *dir)
{
    char *path = nbr_io_join(s->root, dir), **names = NULL;
    size_t count = 0;
    if (!path) return nbr_fail_nomem("collecting garbage");
    nbr_status st = nbr_io_list(&names, &count, path);
    if (st == NBR_ENOTFOUND) st = NBR_OK, count = 0; /* no ref or pin ever set */
    for (size_t i = 0; st == NBR_OK && i < count; i++) {
        char *id = NULL, what[300];
        snprintf(what, sizeof what, "%s/%s", dir, names[i]);
        if (!strcmp(dir, "refs")) st = read_ref(&id, s, names[i]);
        if (st == NBR_OK) st = mark(keep, s, id ? id : names[i], what);
        free(id);
    }
    nbr_io_free_list(names, count);
    free(path);
    return st;
}

static nbr_status retained(bool *keep, const nbr_store *s)
{
    for (size_t i = 0; i < s->checkpoint_count; i++)
        if (s->checkpoints[i]->damaged) /* it may name anything: refuse to guess */
            return nbr_fail(NBR_ECORRUPT, "%s: no GC while checkpoint %s is damaged: %s",
                            s->root, s->checkpoints[i]->id, s->checkpoints[i]->damaged);
    if (s->checkpoint_count) keep[s->checkpoint_count - 1] = true; /* never empty a store */
    nbr_status st = mark_dir(keep, s, "refs");
    return st == NBR_OK ? mark_dir(keep, s, "pins") : st;
}

/* ---- self-contained manifests ------------------------------------------ */

static nbr_status copy_entry(nbr_manifest *m, const nbr_object_entry *e)
{
    nbr_object_entry c;
    nbr_status st = nbr_object_entry_copy(&c, e);
    return st == NBR_OK ? nbr_manifest_add_object(m, &c) : st;
}

static nbr_status copy_header(nbr_manifest *out, const nbr_manifest *m)
{
    out->parent = m->parent;
    out->execution_count = m->execution_count;
    out->ranks = m->ranks;
    out->cell_id = nbr_copy(m->cell_id);
    out->started = nbr_copy(m->started);
    out->committed = nbr_copy(m->committed);
    out->host_json = nbr_copy(m->host_json);
    bool ok = out->cell_id && out->started && out->committed && out->host_json;
    return ok ? NBR_OK : nbr_fail_nomem("rewriting a manifest");
}

/* Every name checkpoints 0..at mention, as of `at`.  Deletions are kept:
 * until the GC ends, earlier manifests that bind those names still exist. */
static nbr_status full_bindings(nbr_manifest *out, const nbr_store *s, size_t at)
{
    for (size_t i = 0; i <= at; i++) {
        const nbr_manifest *m = s->checkpoints[i];
        for (size_t k = 0; k < m->names.count; k++) {
            nbr_status st = nbr_manifest_bind(out, m->names.items[k],
                                              m->deleted[k] ? NULL : &m->ids[k]);
            if (st != NBR_OK) return st;
        }
    }
    return NBR_OK;
}

/* Lists the versions a chained array's virtual dataset maps (its base, the
 * base's base, ...) that `out` does not list yet: their segments must stay
 * for HDF5 to read it, so they are kept as its manifest's objects. */
static nbr_status list_bases(nbr_manifest *out, nbr_object_index *listed, const nbr_store *s,
                             const nbr_object_entry *e)
{
    nbr_status st = NBR_OK;
    while (st == NBR_OK && e->chained && !nbr_object_index_find(listed, &e->base)) {
        const nbr_object_entry *base = nbr_store_find_object(s, &e->base);
        if (!base) {
            char hex[33], base_hex[33];
            nbr_object_id_to_hex(hex, &e->id);
            nbr_object_id_to_hex(base_hex, &e->base);
            return nbr_fail(NBR_ECORRUPT, "array %s is chained to %s, which no manifest lists",
                            hex, base_hex);
        }
        st = copy_entry(out, base);
        if (st == NBR_OK && !nbr_object_index_add(listed, &base->id, 0, 0))
            st = nbr_fail_nomem("rewriting a manifest");
        e = base;
    }
    return st;
}

/* The objects it first stored, then an entry for every other object it
 * binds (the same id may now be listed by several manifests), and the
 * versions chained arrays among them map. */
static nbr_status full_objects(nbr_manifest *out, const nbr_store *s, const nbr_manifest *m)
{
    nbr_object_index listed;
    nbr_object_index_init(&listed);
    nbr_status st = NBR_OK;
    for (size_t i = 0; st == NBR_OK && i < m->object_count; i++) {
        st = copy_entry(out, &m->objects[i]);
        if (st == NBR_OK && !nbr_object_index_add(&listed, &m->objects[i].id, 0, i))
            st = nbr_fail_nomem("rewriting a manifest");
    }
    for (size_t i = 0; st == NBR_OK && i < out->names.count; i++) {
        if (out->deleted[i] || nbr_object_index_find(&listed, &out->ids[i])) continue;
        const nbr_object_entry *e = nbr_store_find_object(s, &out->ids[i]);
        char hex[33];
        nbr_object_id_to_hex(hex, &out->ids[i]);
        if (!e)
            st = nbr_fail(NBR_ECORRUPT, "checkpoint %s binds \"%s\" to %s, which no manifest "
                          "lists", m->id, out->names.items[i], hex);
        if (st == NBR_OK) st = copy_entry(out, e);
        if (st == NBR_OK && !nbr_object_index_add(&listed, &out->ids[i], 0, 0))
            st = nbr_fail_nomem("rewriting a manifest");
    }
    /* out->objects grows while this runs: index, not pointer. */
    for (size_t i = 0; st == NBR_OK && i < out->object_count; i++) {
        nbr_object_entry e = out->objects[i];
        st = list_bases(out, &listed, s, &e);
    }
    nbr_object_index_clear(&listed);
    return st;
}

/* Replaces checkpoints/<seq>.json by its self-contained form, atomically. */
static nbr_status rewrite(const nbr_store *s, size_t at)
{
    const nbr_manifest *m = s->checkpoints[at];
    nbr_manifest full;
    char *text = NULL, tmp_name[64], final_name[64];
    nbr_manifest_init(&full, m->seq);
    nbr_status st = copy_header(&full, m);
    if (st == NBR_OK) st = full_bindings(&full, s, at);
    if (st == NBR_OK) st = full_objects(&full, s, m);
    /* Self-contained: a lean entry's base is in the same manifest. */
    nbr_entry_finder within = {NULL, NULL};
    if (st == NBR_OK) st = nbr_manifest_render(&text, &full, s->options.lean ? &within : NULL);
    nbr_manifest_clear(&full);
    snprintf(tmp_name, sizeof tmp_name, "tmp/gc-%s-%08" PRIx32 ".json", m->id, nbr_io_random32());
    snprintf(final_name, sizeof final_name, "checkpoints/%s.json", m->id);
    char *tmp = nbr_io_join(s->root, tmp_name), *path = nbr_io_join(s->root, final_name);
    if (st == NBR_OK && (!tmp || !path)) st = nbr_fail_nomem("rewriting a manifest");
    if (st == NBR_OK) st = nbr_io_write_atomic(tmp, path, text, strlen(text));
    free(text);
    free(tmp);
    free(path);
    return st;
}

/* ---- the collection ---------------------------------------------------- */

typedef struct gc_counts {
    size_t before, kept, rewritten, manifests, segments_before, segments_after;
    uint64_t bytes_before, bytes_after;
} gc_counts;

/* Files and bytes in segments/ and checkpoints/ (what GC frees).  A file of
 * several names in checkpoints/ is a segment carrying its manifest (version
 * 4), already counted in segments/. */
static nbr_status measure(size_t *segments, uint64_t *bytes, const nbr_store *s)
{
    static const char *const dirs[] = {"segments", "checkpoints"};
    *bytes = 0;
    nbr_status st = NBR_OK;
    for (int d = 0; st == NBR_OK && d < 2; d++) {
        char *dir = nbr_io_join(s->root, dirs[d]), **names = NULL;
        size_t count = 0;
        st = dir ? nbr_io_list(&names, &count, dir) : nbr_fail_nomem("measuring a store");
        if (d == 0) *segments = count;
        for (size_t i = 0; st == NBR_OK && i < count; i++) {
            char *path = nbr_io_join(dir, names[i]);
            uint64_t size = 0;
            bool shared = false;
            if (path && nbr_io_file_size(&size, &shared, path) == NBR_OK && !(d == 1 && shared))
                *bytes += size;
            free(path);
        }
        nbr_io_free_list(names, count);
        free(dir);
    }
    return st;
}

/* Step 2: the manifests of checkpoints not kept, newest first, so every
 * checkpoint still listed keeps all its predecessors until it goes too. */
static nbr_status remove_manifests(gc_counts *n, const nbr_store *s, const bool *keep)
{
    nbr_status st = NBR_OK;
    for (size_t i = s->checkpoint_count; st == NBR_OK && i-- > 0;) {
        if (keep[i]) continue;
        char name[64];
        snprintf(name, sizeof name, "checkpoints/%s.json", s->checkpoints[i]->id);
        char *path = nbr_io_join(s->root, name);
        st = path ? nbr_io_unlink(path) : nbr_fail_nomem("collecting garbage");
        if (st == NBR_ENOTFOUND) st = NBR_OK; /* gone already */
        else if (st == NBR_OK) n->manifests++;
        free(path);
    }
    char *dir = nbr_io_join(s->root, "checkpoints");
    if (st == NBR_OK) st = dir ? nbr_io_fsync_dir(dir) : nbr_fail_nomem("collecting garbage");
    free(dir);
    return st;
}

/* Steps 1-3 on a store whose retained checkpoints are marked in `keep`. */
static nbr_status collect(gc_counts *n, nbr_store *s, const bool *keep)
{
    size_t first_gone = s->checkpoint_count;
    for (size_t i = 0; i < s->checkpoint_count; i++) {
        if (!keep[i] && first_gone == s->checkpoint_count) first_gone = i;
        if (keep[i]) n->kept++;
    }
    /* The index describes the manifests as they are: it goes before any is
     * rewritten, and is written again at the end. */
    nbr_status st = nbr_snapshot_remove(s);
    if (st == NBR_OK) s->index_seq = 0;
    for (size_t i = first_gone + 1; st == NBR_OK && i < s->checkpoint_count; i++)
        if (keep[i] && (st = rewrite(s, i)) == NBR_OK) n->rewritten++;
    if (st == NBR_OK) st = remove_manifests(n, s, keep);
    /* Whatever happened on disk, the handle must see it as it now is. */
    nbr_status reloaded = nbr_store_reload(s);
    if (st == NBR_OK) st = reloaded;
    if (st == NBR_OK) st = nbr_store_clean_up(s); /* step 3: unreferenced segments */
    if (st == NBR_OK) nbr_store_update_index(s, 0);
    return st;
}

static char *render_report(const gc_counts *n)
{
    nbr_buf b;
    nbr_buf_init(&b);
    nbr_buf_printf(&b,
                   "kept %zu of %zu checkpoints (%zu rewritten self-contained); removed %zu "
                   "manifest(s) and %zu segment(s); %" PRIu64 " bytes freed\n",
                   n->kept, n->before, n->rewritten, n->manifests,
                   n->segments_before - (n->segments_after < n->segments_before
                                             ? n->segments_after
                                             : n->segments_before),
                   n->bytes_before > n->bytes_after ? n->bytes_before - n->bytes_after : 0);
    return nbr_buf_take(&b);
}

nbr_status nbr_store_gc(char **report_out, nbr_store *s)
{
    if (report_out) *report_out = NULL;
    nbr_status st = check_writer(s, "nbr_store_gc");
    if (st != NBR_OK) return st;
    gc_counts n;
    memset(&n, 0, sizeof n);
    n.before = s->checkpoint_count;
    bool *keep = calloc(s->checkpoint_count + 1, sizeof *keep);
    if (!keep) return nbr_fail_nomem("collecting garbage");
    st = retained(keep, s);
    if (st == NBR_OK) st = measure(&n.segments_before, &n.bytes_before, s);
    if (st == NBR_OK) st = collect(&n, s, keep);
    if (st == NBR_OK) st = measure(&n.segments_after, &n.bytes_after, s);
    free(keep);
    if (st != NBR_OK) return st;
    char *report = render_report(&n);
    if (!report) return nbr_fail_nomem("collecting garbage");
    if (report_out) *report_out = report;
    else free(report);
    return NBR_OK;
}
