/* store_blob.c - blobs written in pieces (a pickle stream, say), hashed as
 * they arrive, never held whole in memory.  The id is known only at the end,
 * so the bytes go to the segment first (see nbr_segment_stream). */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "store_internal.h"

struct nbr_blob_writer {
    nbr_checkpoint *checkpoint; /* NULL once the checkpoint is gone */
    char *name;
    char *codec;
    nbr_hasher *hasher;
    nbr_segment_stream stream;
};

static void writer_free(nbr_blob_writer *w)
{
    if (w->checkpoint && w->checkpoint->writer == w) w->checkpoint->writer = NULL;
    nbr_segment_stream_clear(&w->stream);
    nbr_hasher_free(w->hasher);
    free(w->name);
    free(w->codec);
    free(w);
}

const char *nbr_blob_writer_name(const nbr_blob_writer *w) { return w->name; }

void nbr_blob_writer_orphan(nbr_blob_writer *w)
{
    nbr_segment_stream_clear(&w->stream);
    w->checkpoint->writer = NULL;
    w->checkpoint = NULL;
}

static nbr_status usable(const nbr_blob_writer *w, const char *fn)
{
    if (!w) return nbr_fail(NBR_EINVAL, "%s: writer is NULL", fn);
    if (!w->checkpoint)
        return nbr_fail(NBR_ESTATE, "%s: blob \"%s\": its checkpoint was committed or aborted", fn,
                        w->name);
    return nbr_checkpoint_check_put(w->checkpoint, w->name, fn);
}

nbr_status nbr_blob_writer_begin(nbr_blob_writer **out, nbr_checkpoint *c, const char *name,
                                 const char *codec)
{
    if (!out) return nbr_fail(NBR_EINVAL, "nbr_blob_writer_begin: out is NULL");
    *out = NULL;
    nbr_status st = nbr_checkpoint_check_put(c, name, "nbr_blob_writer_begin");
    if (st != NBR_OK) return st;
    if (!codec || !*codec) return nbr_fail(NBR_EINVAL, "blob \"%s\": codec is NULL or empty", name);
    if (c->writer)
        return nbr_fail(NBR_ESTATE, "blob \"%s\": blob \"%s\" is still being written", name,
                        c->writer->name);
    nbr_blob_writer *w = calloc(1, sizeof *w);
    if (!w) return nbr_fail_nomem("beginning a blob");
    w->stream.ds = -1;
    w->name = nbr_copy(name);
    w->codec = nbr_copy(codec);
    st = w->name && w->codec ? nbr_hasher_new(&w->hasher) : nbr_fail_nomem("beginning a blob");
    if (st == NBR_OK) st = nbr_hash_blob_header(w->hasher, codec);
    if (st == NBR_OK) st = nbr_checkpoint_open_segment(c);
    if (st == NBR_OK) st = nbr_segment_stream_begin(&w->stream, c->streams++, &c->store->options);
    if (st != NBR_OK) {
        writer_free(w);
        return st;
    }
    w->checkpoint = c;
    c->writer = w;
    *out = w;
    return NBR_OK;
}

nbr_status nbr_blob_writer_write(nbr_blob_writer *w, const void *data, size_t size)
{
    nbr_status st = usable(w, "nbr_blob_writer_write");
    if (st == NBR_OK && size && !data)
        st = nbr_fail(NBR_EINVAL, "blob \"%s\": data is NULL", w->name);
    if (st == NBR_OK) st = nbr_hasher_update(w->hasher, data, size);
    nbr_checkpoint *c = st == NBR_OK ? w->checkpoint : NULL;
    if (c) st = nbr_segment_stream_write(&w->stream, &c->out, data, size, &c->store->options);
    return c ? nbr_checkpoint_poison(c, st) : st;
}

static nbr_status finish(nbr_object_id *id, nbr_blob_writer *w)
{
    nbr_checkpoint *c = w->checkpoint;
    uint64_t stored = 0, length = w->stream.length + w->stream.fill;
    nbr_status st = nbr_hasher_digest(id, w->hasher);
    bool known = st == NBR_OK && nbr_checkpoint_has_object(c, id);
    if (st == NBR_OK)
        st = nbr_segment_stream_end(&stored, &w->stream, &c->out, known ? NULL : id, w->codec,
                                    &c->store->options);
    if (st == NBR_OK && !known)
        st = nbr_checkpoint_record(c, id, NBR_OBJECT_BLOB, w->codec, 1, &length, length, stored);
    if (st == NBR_OK) st = nbr_manifest_bind(&c->m, w->name, id);
    return nbr_checkpoint_poison(c, st);
}

nbr_status nbr_blob_writer_finish(nbr_object_id *id_out, nbr_blob_writer *w)
{
    nbr_object_id id;
    if (id_out) memset(id_out, 0, sizeof *id_out);
    nbr_status st = usable(w, "nbr_blob_writer_finish");
    if (st == NBR_OK) st = finish(&id, w);
    if (st == NBR_OK && id_out) *id_out = id;
    if (w) writer_free(w);
    return st;
}

void nbr_blob_writer_abort(nbr_blob_writer *w)
{
    if (!w) return;
    if (w->checkpoint && !w->checkpoint->failure) {
        uint64_t stored;
        /* Drop the partial dataset; a failure here only wastes its space. */
        nbr_status st = nbr_segment_stream_end(&stored, &w->stream, &w->checkpoint->out, NULL,
                                               w->codec, &w->checkpoint->store->options);
        nbr_checkpoint_poison(w->checkpoint, st);
    }
    writer_free(w);
}
