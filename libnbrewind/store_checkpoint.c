/* store_checkpoint.c - writing a checkpoint: puts into a temporary segment,
 * then the commit protocol of docs/store-format.md ("Writing a checkpoint"):
 * segment flushed, fsynced and renamed into segments/, then the manifest
 * written to tmp/, fsynced and renamed into checkpoints/ -- that last rename
 * is the one step that makes the checkpoint visible. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "dtype.h"
#include "store_chunks.h"
#include "store_internal.h"
#include "store_io.h"
#include "store_snapshot.h"

static nbr_status host_text(char **out, const char *host_json)
{
    nbr_json_doc *doc = NULL;
    nbr_json_error err;
    *out = NULL;
    if (!host_json) return (*out = nbr_copy("null")) ? NBR_OK : nbr_fail_nomem("copying host JSON");
    nbr_status st = nbr_json_parse(&doc, host_json, strlen(host_json), "host_json", NULL, &err);
    if (st == NBR_ENOMEM) return st;
    if (st != NBR_OK)
        return nbr_fail(NBR_EINVAL, "host_json is not JSON (line %u, "
                        "column %u: %s)", err.line, err.column, err.message);
    nbr_buf b;
    nbr_buf_init(&b);
    nbr_json_render(&b, nbr_json_root(doc));
    nbr_json_doc_free(doc);
    *out = nbr_buf_take(&b);
    return *out ? NBR_OK : nbr_fail_nomem("copying host JSON");
}

void nbr_checkpoint_free(nbr_checkpoint *c)
{
    if (c->store && c->store->writing == c) c->store->writing = NULL;
    nbr_manifest_clear(&c->m);
    nbr_object_index_clear(&c->own);
    nbr_object_index_clear(&c->own_chunks);
    free(c->own_chunk_list);
    free(c->tmp_path);
    free(c->failure);
    free(c);
}

nbr_status nbr_checkpoint_begin_at(nbr_checkpoint **out, nbr_store *s, const char *cell_id,
                                   int64_t execution_count, const char *host_json, uint64_t seq,
                                   uint32_t rand)
{
    *out = NULL;
    nbr_checkpoint *c = calloc(1, sizeof *c);
    if (!c) return nbr_fail_nomem("beginning a checkpoint");
    c->store = s;
    c->out.file = -1;
    nbr_manifest_init(&c->m, seq);
    nbr_object_index_init(&c->own);
    nbr_object_index_init(&c->own_chunks);
    c->m.parent = s->last_seq;
    c->m.execution_count = execution_count;
    char started[32], name[64];
    nbr_io_timestamp(started, sizeof started);
    snprintf(c->segment, sizeof c->segment, "segments/%016" PRIu64 "-%08" PRIx32 ".h5", c->m.seq,
             rand);
    snprintf(name, sizeof name, "tmp/%016" PRIu64 "-%08" PRIx32 ".h5", c->m.seq, rand);
    nbr_status st = host_text(&c->m.host_json, host_json);
    c->m.cell_id = nbr_copy(cell_id);
    c->m.started = nbr_copy(started);
    c->tmp_path = nbr_io_join(s->root, name);
    if (st == NBR_OK && (!c->m.cell_id || !c->m.started || !c->tmp_path))
        st = nbr_fail_nomem("beginning a checkpoint");
    if (st != NBR_OK) {
        nbr_checkpoint_free(c);
        return st;
    }
    s->writing = c;
    *out = c;
    return NBR_OK;
}

nbr_status nbr_checkpoint_begin(nbr_checkpoint **out, nbr_store *s, const char *cell_id,
                                int64_t execution_count, const char *host_json)
{
    if (!out) return nbr_fail(NBR_EINVAL, "nbr_checkpoint_begin: out is NULL");
    *out = NULL;
    if (!s || !cell_id || !*cell_id)
        return nbr_fail(NBR_EINVAL, "nbr_checkpoint_begin: store or cell_id is NULL or empty");
    if (s->lock_fd < 0)
        return nbr_fail(NBR_ESTATE, "%s: the store was not opened with NBR_STORE_WRITE", s->root);
    if (s->writing)
        return nbr_fail(NBR_ESTATE, "%s: checkpoint %s is still being written", s->root,
                        s->writing->m.id);
    return nbr_checkpoint_begin_at(out, s, cell_id, execution_count, host_json, s->last_seq + 1,
                                   nbr_io_random32());
}

/* ---- puts -------------------------------------------------------------- */

nbr_status nbr_checkpoint_check_put(nbr_checkpoint *c, const char *name, const char *fn)
{
    if (!c) return nbr_fail(NBR_EINVAL, "%s: checkpoint is NULL", fn);
    if (!name || !*name) return nbr_fail(NBR_EINVAL, "%s: name is NULL or empty", fn);
    if (!c->mpi_size && nbr_mpi_name_reserved(name))
        return nbr_fail(NBR_EINVAL, "%s: \"%s\": names \"@<rank>of<size>/...\" are reserved for "
                        "the ranks of collective (MPI) checkpoints", fn, name);
    if (c->failure)
        return nbr_fail(NBR_ESTATE, "%s: checkpoint %s can only be aborted: %s", fn, c->m.id,
                        c->failure);
    return NBR_OK;
}

bool nbr_checkpoint_has_object(const nbr_checkpoint *c, const nbr_object_id *id)
{
    return nbr_store_find_object(c->store, id) || nbr_object_index_find(&c->own, id);
}

nbr_status nbr_checkpoint_poison(nbr_checkpoint *c, nbr_status st)
{
    /* In a collective checkpoint any failed put fails the rank's part: the
     * commit then fails on every rank (all or nothing). */
    if (st != NBR_OK && (c->mpi_size || (st != NBR_EINVAL && st != NBR_ENOMEM)) && !c->failure)
        c->failure = nbr_copy(nbr_last_error());
    return st;
}

nbr_status nbr_checkpoint_open_segment(nbr_checkpoint *c)
{
    if (c->out.file >= 0) return NBR_OK;
    return nbr_checkpoint_poison(c, nbr_segment_create(&c->out, c->tmp_path));
}

nbr_status nbr_checkpoint_record(nbr_checkpoint *c, const nbr_object_id *id, nbr_object_kind kind,
                                 const char *type, size_t ndim, const uint64_t *shape,
                                 uint64_t logical_bytes, uint64_t stored_bytes)
{
    nbr_object_entry e;
    memset(&e, 0, sizeof e);
    e.id = *id;
    e.kind = kind;
    e.logical_bytes = logical_bytes;
    e.stored_bytes = stored_bytes;
    e.ndim = ndim;
    e.type = nbr_copy(type);
    e.segment = nbr_copy(c->segment);
    e.shape = malloc((ndim ? ndim : 1) * sizeof *e.shape);
    if (!e.type || !e.segment || !e.shape) {
        nbr_object_entry_clear(&e);
        return nbr_checkpoint_poison(c, nbr_fail_nomem("recording an object"));
    }
    memcpy(e.shape, shape, ndim * sizeof *e.shape);
    return nbr_checkpoint_record_entry(c, &e);
}

nbr_status nbr_checkpoint_record_entry(nbr_checkpoint *c, nbr_object_entry *e)
{
    size_t at = c->m.object_count;
    nbr_object_id id = e->id;
    nbr_status st = nbr_manifest_add_object(&c->m, e);
    if (st == NBR_OK && !nbr_object_index_add(&c->own, &id, 0, at))
        st = nbr_fail_nomem("recording an object");
    return st == NBR_OK ? st : nbr_checkpoint_poison(c, st);
}

/* Writes a new object into the segment (created on first use) and records it. */
static nbr_status store_object(nbr_checkpoint *c, const nbr_object_id *id, nbr_object_kind kind,
                               const char *type, const nbr_array_view *view)
{
    uint64_t stored = 0;
    nbr_status st = nbr_checkpoint_open_segment(c);
    if (st == NBR_OK)
        st = nbr_segment_write(&stored, &c->out, id, kind, type, view, &c->store->options);
    if (st != NBR_OK) return nbr_checkpoint_poison(c, st);
    return nbr_checkpoint_record(c, id, kind, type, view->ndim, view->shape, view->bytes, stored);
}

/* For nbr_checkpoint_put_array_live, an array stored as one dataset:
 * copied whole, hashed and written from the copy (it is at most one chunk
 * big, unless the store keeps no chunks). */
static nbr_status store_live_copy(nbr_checkpoint *c, const nbr_object_id *id, const char *name,
                                  const char *dtype, const nbr_array_view *view)
{
    nbr_array_view copy;
    nbr_array_walker w;
    nbr_object_id got;
    char *bytes = malloc(view->bytes ? view->bytes : 1);
    if (!bytes) return nbr_checkpoint_poison(c, nbr_fail_nomem("copying an array to store"));
    nbr_array_walker_init(&w, view);
    nbr_array_walker_next(&w, bytes, view->bytes);
    nbr_status st =
        nbr_array_view_init(&copy, bytes, view->ndim, view->shape, NULL, view->itemsize, name);
    if (st == NBR_OK) st = nbr_array_view_id(&got, dtype, &copy);
    if (st == NBR_OK)
        st = nbr_object_id_equal(&got, id) ? store_object(c, id, NBR_OBJECT_ARRAY, dtype, &copy)
                                           : nbr_array_changed(name);
    free(bytes);
    return st;
}

/* Stores the array unless the store has it, and binds `name`.  `known`:
 * the id the caller already computed over these bytes (trusted, so the
 * array is not hashed as a whole again), or NULL to compute it here.
 * `live`: the memory may change during the call (known is then given). */
static nbr_status put_array(nbr_object_id *id, nbr_checkpoint *c, const char *name,
                            const char *dtype, size_t itemsize, size_t ndim,
                            const uint64_t *shape, const int64_t *strides, const void *data,
                            const nbr_object_id *known, bool live)
{
    nbr_array_view view;
    char what[300];
    snprintf(what, sizeof what, "array \"%s\"", name);
    nbr_status st = nbr_array_view_init(&view, data, ndim, shape, strides, itemsize, what);
    if (st != NBR_OK) return st;
    uint64_t chunk[NBR_MAX_DIMS];
    bool chunked = nbr_chunks_wanted(chunk, &c->store->options, &view);
    if (known && live) {
        *id = *known;
        if (!nbr_checkpoint_has_object(c, id))
            st = chunked ? nbr_chunks_put_live(c, id, name, dtype, &view, chunk)
                         : store_live_copy(c, id, name, dtype, &view);
        return st == NBR_OK ? nbr_manifest_bind(&c->m, name, id) : st;
    } else if (known) {
        *id = *known;
    } else if (chunked && nbr_chunks_first_is_new(c, dtype, &view, chunk)) {
        /* New for sure: hashed in the same pass as its chunks, not before. */
        st = nbr_chunks_put_new(c, id, name, dtype, &view, chunk);
        return st == NBR_OK ? nbr_manifest_bind(&c->m, name, id) : st;
    } else {
        st = nbr_array_view_id(id, dtype, &view);
    }
    if (st == NBR_OK && !nbr_checkpoint_has_object(c, id))
        st = chunked ? nbr_chunks_put(c, id, name, dtype, &view, chunk)
                     : store_object(c, id, NBR_OBJECT_ARRAY, dtype, &view);
    if (st == NBR_OK) st = nbr_manifest_bind(&c->m, name, id);
    return st;
}

/* A collective checkpoint whose rank failed a put commits nothing. */
static nbr_status poison_if_collective(nbr_checkpoint *c, nbr_status st)
{
    return c && c->mpi_size ? nbr_checkpoint_poison(c, st) : st;
}

/* put_array_* and put_blob_*: the checks, the dtype in its one spelling (so
 * that equal arrays get equal ids), and the poisoning of collective
 * checkpoints, around put_array and put_blob. */
static nbr_status put_array_checked(nbr_object_id *id_out, nbr_checkpoint *c, const char *name,
                                    const char *dtype, size_t ndim, const uint64_t *shape,
                                    const int64_t *strides, const void *data,
                                    const nbr_object_id *known, bool live, const char *fn)
{
    nbr_object_id id;
    char *normal = NULL;
    size_t itemsize = 0;
    if (id_out) memset(id_out, 0, sizeof *id_out);
    nbr_status st = nbr_checkpoint_check_put(c, name, fn);
    if (st == NBR_OK) st = nbr_array_dtype(&normal, &itemsize, name, dtype);
    if (st == NBR_OK)
        st = put_array(&id, c, name, normal, itemsize, ndim, shape, strides, data, known, live);
    free(normal);
    if (st == NBR_OK && id_out) *id_out = id;
    return poison_if_collective(c, st);
}

nbr_status nbr_checkpoint_put_array(nbr_object_id *id_out, nbr_checkpoint *c, const char *name,
                                    const char *dtype, size_t ndim, const uint64_t *shape,
                                    const int64_t *strides, const void *data)
{
    return put_array_checked(id_out, c, name, dtype, ndim, shape, strides, data, NULL, false,
                             "nbr_checkpoint_put_array");
}

nbr_status nbr_checkpoint_put_array_hashed(nbr_checkpoint *c, const char *name,
                                           const nbr_object_id *id, const char *dtype,
                                           size_t ndim, const uint64_t *shape,
                                           const int64_t *strides, const void *data)
{
    if (!id) /* a failed put fails a rank's part of a collective checkpoint too */
        return poison_if_collective(
            c, nbr_fail(NBR_EINVAL, "nbr_checkpoint_put_array_hashed: id is NULL"));
    return put_array_checked(NULL, c, name, dtype, ndim, shape, strides, data, id, false,
                             "nbr_checkpoint_put_array_hashed");
}

nbr_status nbr_checkpoint_put_array_live(nbr_checkpoint *c, const char *name,
                                         const nbr_object_id *id, const char *dtype, size_t ndim,
                                         const uint64_t *shape, const int64_t *strides,
                                         const void *data)
{
    if (!id)
        return poison_if_collective(
            c, nbr_fail(NBR_EINVAL, "nbr_checkpoint_put_array_live: id is NULL"));
    return put_array_checked(NULL, c, name, dtype, ndim, shape, strides, data, id, true,
                             "nbr_checkpoint_put_array_live");
}

static nbr_status put_blob(nbr_object_id *id_out, nbr_checkpoint *c, const char *name,
                           const char *codec, const void *data, size_t size,
                           const nbr_object_id *known, const char *fn)
{
    nbr_object_id id;
    nbr_array_view view;
    if (id_out) memset(id_out, 0, sizeof *id_out);
    nbr_status st = nbr_checkpoint_check_put(c, name, fn);
    if (st == NBR_OK && (!codec || !*codec))
        st = nbr_fail(NBR_EINVAL, "blob \"%s\": codec is NULL or empty", name);
    uint64_t length = size;
    if (st == NBR_OK) st = nbr_array_view_init(&view, data, 1, &length, NULL, 1, name);
    if (st == NBR_OK && known)
        id = *known;
    else if (st == NBR_OK)
        st = nbr_blob_hash(&id, codec, data, size);
    if (st == NBR_OK && !nbr_checkpoint_has_object(c, &id))
        st = store_object(c, &id, NBR_OBJECT_BLOB, codec, &view);
    if (st == NBR_OK) st = nbr_manifest_bind(&c->m, name, &id);
    if (st == NBR_OK && id_out) *id_out = id;
    return poison_if_collective(c, st);
}

nbr_status nbr_checkpoint_put_blob(nbr_object_id *id_out, nbr_checkpoint *c, const char *name,
                                   const char *codec, const void *data, size_t size)
{
    return put_blob(id_out, c, name, codec, data, size, NULL, "nbr_checkpoint_put_blob");
}

nbr_status nbr_checkpoint_put_blob_hashed(nbr_checkpoint *c, const char *name,
                                          const nbr_object_id *id, const char *codec,
                                          const void *data, size_t size)
{
    if (!id)
        return poison_if_collective(
            c, nbr_fail(NBR_EINVAL, "nbr_checkpoint_put_blob_hashed: id is NULL"));
    return put_blob(NULL, c, name, codec, data, size, id, "nbr_checkpoint_put_blob_hashed");
}

nbr_status nbr_checkpoint_set_host(nbr_checkpoint *c, const char *host_json)
{
    if (!c) return nbr_fail(NBR_EINVAL, "nbr_checkpoint_set_host: checkpoint is NULL");
    char *text = NULL;
    nbr_status st = host_text(&text, host_json);
    if (st != NBR_OK) return st;
    free(c->m.host_json);
    c->m.host_json = text;
    return NBR_OK;
}

nbr_status nbr_checkpoint_put_ref(nbr_checkpoint *c, const char *name, const nbr_object_id *id)
{
    nbr_status st = nbr_checkpoint_check_put(c, name, "nbr_checkpoint_put_ref");
    if (st == NBR_OK && !id) st = nbr_fail(NBR_EINVAL, "nbr_checkpoint_put_ref: id is NULL");
    if (st == NBR_OK && !nbr_checkpoint_has_object(c, id)) {
        char hex[33];
        nbr_object_id_to_hex(hex, id);
        st = nbr_fail(NBR_ENOTFOUND, "%s: \"%s\": the store has no object %s", c->store->root,
                      name, hex);
    }
    if (st == NBR_OK) st = nbr_manifest_bind(&c->m, name, id);
    return poison_if_collective(c, st);
}

nbr_status nbr_checkpoint_delete(nbr_checkpoint *c, const char *name)
{
    nbr_status st = nbr_checkpoint_check_put(c, name, "nbr_checkpoint_delete");
    if (st == NBR_OK) st = nbr_manifest_bind(&c->m, name, NULL);
    return poison_if_collective(c, st);
}

/* ---- commit ------------------------------------------------------------ */

/* Step 1: the segment closed, durable, and in segments/. */
/* Step 1: the segment closed (with the manifest at its end when `tail` is
 * not NULL), fsynced and renamed into segments/. */
static nbr_status publish_segment(nbr_checkpoint *c, const char *tail, char **final_path)
{
    nbr_store *s = c->store;
    nbr_status st = nbr_segment_finish(&c->out);
    if (st == NBR_OK && tail)
        st = nbr_io_append_tail(c->tmp_path, tail, strlen(tail), NBR_MANIFEST_TAIL_MAGIC);
    if (st == NBR_OK) st = nbr_io_fsync_uncache(c->tmp_path);
    *final_path = nbr_io_join(s->root, c->segment);
    char *dir = nbr_io_join(s->root, "segments");
    if (st == NBR_OK && (!*final_path || !dir)) st = nbr_fail_nomem("committing a checkpoint");
    if (st == NBR_OK) st = nbr_io_rename(c->tmp_path, *final_path);
    if (st == NBR_OK) st = nbr_io_fsync_dir(dir);
    free(dir);
    return st;
}

/* The end of step 2: checkpoints/ fsynced.  If that fails, the manifest is
 * visible but perhaps not durable: it is taken back, so that what the caller
 * is told (failure) is what readers and a crash will see. */
static nbr_status make_durable(const char *path, const char *dir)
{
    nbr_status st = nbr_io_fsync_dir(dir);
    if (st != NBR_OK) {
        nbr_io_remove(path);
        (void)nbr_io_fsync_dir(dir);
    }
    return st;
}

/* Step 2: the manifest, written to tmp/ and renamed into checkpoints/. */
nbr_status nbr_store_publish_manifest(nbr_store *s, const char *id, const char *text)
{
    char tmp_name[64], final_name[64];
    snprintf(tmp_name, sizeof tmp_name, "tmp/%s-%08" PRIx32 ".json", id, nbr_io_random32());
    snprintf(final_name, sizeof final_name, "checkpoints/%s.json", id);
    char *tmp = nbr_io_join(s->root, tmp_name), *path = nbr_io_join(s->root, final_name);
    char *dir = nbr_io_join(s->root, "checkpoints");
    nbr_status st = tmp && path && dir ? nbr_io_write_new(tmp, text, strlen(text))
                                       : nbr_fail_nomem("committing a checkpoint");
    if (st == NBR_OK) st = nbr_io_rename(tmp, path);
    if (st != NBR_OK && tmp) nbr_io_remove(tmp);
    if (st == NBR_OK) st = make_durable(path, dir);
    free(tmp);
    free(path);
    free(dir);
    return st;
}

/* Step 2 when the segment carries the manifest: checkpoints/<id>.json
 * becomes a second name of the segment (link(2) is as atomic as rename and
 * fails rather than replace).  NBR_EUNSUPPORTED, nothing done, where the
 * file system has no hard links. */
static nbr_status link_manifest(nbr_store *s, const char *id, const char *segment_path)
{
    char final_name[64];
    snprintf(final_name, sizeof final_name, "checkpoints/%s.json", id);
    char *path = nbr_io_join(s->root, final_name), *dir = nbr_io_join(s->root, "checkpoints");
    nbr_status st = path && dir ? nbr_io_link(segment_path, path)
                                : nbr_fail_nomem("committing a checkpoint");
    if (st == NBR_OK) st = make_durable(path, dir);
    free(path);
    free(dir);
    return st;
}

/* Hands the committed manifest to the store, so that this handle sees it. */
static nbr_status adopt(nbr_checkpoint *c)
{
    nbr_manifest *m = malloc(sizeof *m);
    if (!m) return nbr_fail_nomem("recording a committed checkpoint");
    *m = c->m;
    nbr_manifest_init(&c->m, m->seq); /* c no longer owns it */
    return nbr_store_add_manifest(c->store, m);
}

static nbr_status commit(char **id_out, nbr_checkpoint *c)
{
    char committed[32], *text = NULL, *segment_path = NULL;
    if (c->writer)
        return nbr_fail(NBR_ESTATE, "checkpoint %s was not committed: a blob writer (\"%s\") is "
                        "still open", c->m.id, nbr_blob_writer_name(c->writer));
    if (c->failure)
        return nbr_fail(NBR_ESTATE, "checkpoint %s was not committed: an earlier put failed: %s",
                        c->m.id, c->failure);
    if (c->mpi_size)
        return nbr_fail(NBR_ESTATE, "checkpoint %s is a rank's part of a collective checkpoint: "
                        "commit it with nbr_mpi_checkpoint_commit", c->m.id);
    nbr_io_timestamp(committed, sizeof committed);
    c->m.committed = nbr_copy(committed);
    nbr_entry_finder bases = nbr_store_finder(c->store);
    const nbr_entry_finder *lean = c->store->options.lean ? &bases : NULL;
    nbr_status st = c->m.committed ? nbr_manifest_render(&text, &c->m, lean)
                                   : nbr_fail_nomem("committing a checkpoint");
    char *id = st == NBR_OK ? nbr_copy(c->m.id) : NULL;
    if (st == NBR_OK && !id) st = nbr_fail_nomem("committing a checkpoint");
    /* Lean stores (version 4) keep a checkpoint that wrote objects in one
     * file: a manifest of its own would cost at least a disk block. */
    bool carried = c->out.file >= 0 && c->store->options.lean;
    if (st == NBR_OK && c->out.file >= 0)
        st = publish_segment(c, carried ? text : NULL, &segment_path);
    if (st == NBR_OK && carried &&
        (st = link_manifest(c->store, c->m.id, segment_path)) == NBR_EUNSUPPORTED) {
        nbr_clear_error();
        carried = false; /* no hard links here: the manifest is a file */
        st = NBR_OK;
    }
    if (st == NBR_OK && !carried) st = nbr_store_publish_manifest(c->store, c->m.id, text);
    if (st != NBR_OK && segment_path) nbr_io_remove(segment_path);
    if (st == NBR_OK) st = adopt(c);
    if (st == NBR_OK) nbr_store_update_index(c->store, NBR_INDEX_EVERY);
    free(segment_path);
    free(text);
    if (st == NBR_OK && id_out) *id_out = id;
    else free(id);
    return st;
}

nbr_status nbr_checkpoint_commit(char **checkpoint_id_out, nbr_checkpoint *c)
{
    if (checkpoint_id_out) *checkpoint_id_out = NULL;
    if (!c) return nbr_fail(NBR_EINVAL, "nbr_checkpoint_commit: checkpoint is NULL");
    nbr_status st = commit(checkpoint_id_out, c);
    if (st != NBR_OK) {
        char *why = nbr_copy(nbr_last_error());
        nbr_checkpoint_abort(c);
        if (why) nbr_fail(st, "%s", why);
        free(why);
        return st;
    }
    nbr_checkpoint_free(c);
    return NBR_OK;
}

bool nbr_mpi_name_reserved(const char *name)
{
    const char *p = name;
    if (*p++ != '@') return false;
    if (*p < '0' || *p > '9') return false;
    while (*p >= '0' && *p <= '9') p++;
    if (strncmp(p, "of", 2) != 0) return false;
    p += 2;
    if (*p < '0' || *p > '9') return false;
    while (*p >= '0' && *p <= '9') p++;
    return *p == '/';
}

void nbr_checkpoint_abort(nbr_checkpoint *c)
{
    if (!c) return;
    if (c->writer) nbr_blob_writer_orphan(c->writer);
    nbr_segment_discard(&c->out);
    if (c->tmp_path) nbr_io_remove(c->tmp_path);
    nbr_checkpoint_free(c);
}
