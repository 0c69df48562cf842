/* store_manifest.c - manifests to and from JSON (see store_manifest.h). */
#include "store_manifest.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "store_array.h"
#include "store_index.h"
#include "store_io.h"

void nbr_manifest_init(nbr_manifest *m, uint64_t seq)
{
    memset(m, 0, sizeof *m);
    m->seq = seq;
    /* "%016" PRIu64 by hand: opening a store inits one per checkpoint. */
    uint64_t v = seq;
    int n = 0;
    char digits[24];
    do digits[n++] = (char)('0' + v % 10), v /= 10;
    while (v);
    int width = n > 16 ? n : 16;
    for (int i = 0; i < width; i++) m->id[i] = i < width - n ? '0' : digits[width - 1 - i];
    m->id[width] = '\0';
    nbr_strset_init(&m->names);
}

void nbr_object_entry_clear(nbr_object_entry *e)
{
    if (!e->borrowed) {
        free(e->type);
        free(e->shape);
        free(e->segment);
    }
    free(e->chunk_shape);
    free(e->chunks);
    for (size_t i = 0; i < e->chunk_segment_count; i++) free(e->chunk_segments[i]);
    free(e->chunk_segments);
    free(e->base_segment);
    free(e->base_shared);
    free(e->changed_boxes);
    free(e->changed);
    memset(e, 0, sizeof *e);
}

static void *copy_of(const void *from, size_t count, size_t size)
{
    void *to = malloc((count ? count : 1) * size);
    if (to && count) memcpy(to, from, count * size);
    return to;
}

/* The chunk fields of a deep copy (the rest is already copied). */
static bool copy_chunks(nbr_object_entry *c, const nbr_object_entry *e)
{
    c->chunk_shape = copy_of(e->chunk_shape, e->ndim, sizeof *e->chunk_shape);
    c->chunks = copy_of(e->chunks, e->chunk_count, sizeof *e->chunks);
    c->chunk_segments = calloc(e->chunk_segment_count + 1, sizeof *c->chunk_segments);
    if (!c->chunk_shape || !c->chunks || !c->chunk_segments) return false;
    for (size_t i = 0; i < e->chunk_segment_count; i++) {
        if (!(c->chunk_segments[i] = nbr_copy(e->chunk_segments[i]))) return false;
        c->chunk_segment_count = i + 1;
    }
    return true;
}

nbr_status nbr_object_entry_copy(nbr_object_entry *out, const nbr_object_entry *e)
{
    if (e->base_pending) return nbr_fail(NBR_ESTATE, "copying an entry not completed yet");
    nbr_object_entry c = *e;
    c.borrowed = false;
    c.type = nbr_copy(e->type);
    c.segment = nbr_copy(e->segment);
    c.shape = copy_of(e->shape, e->ndim, sizeof *e->shape);
    c.chunk_shape = NULL;
    c.chunks = NULL;
    c.chunk_segments = NULL;
    c.chunk_segment_count = 0;
    c.base_segment = e->base_segment ? nbr_copy(e->base_segment) : NULL;
    c.base_shared = e->base_shared ? copy_of(e->base_shared, e->chunk_count, 1) : NULL;
    bool ok = c.type && c.segment && c.shape && (!e->chunk_shape || copy_chunks(&c, e)) &&
              (!e->base_segment || c.base_segment) && (!e->base_shared || c.base_shared);
    if (!ok) {
        nbr_object_entry_clear(&c);
        return nbr_fail_nomem("copying an object entry");
    }
    *out = c;
    return NBR_OK;
}

bool nbr_object_entry_uses_segment(const nbr_object_entry *e, const char *segment)
{
    if (!strcmp(e->segment, segment)) return true;
    for (size_t i = 0; i < e->chunk_segment_count; i++)
        if (!strcmp(e->chunk_segments[i], segment)) return true;
    return false;
}

void nbr_manifest_clear(nbr_manifest *m)
{
    if (!m->borrowed) {
        free(m->cell_id);
        free(m->started);
        free(m->committed);
        free(m->host_json);
    }
    nbr_strset_clear(&m->names);
    for (size_t i = 0; i < m->object_count; i++) nbr_object_entry_clear(&m->objects[i]);
    if (!m->borrowed) {
        free(m->ids);
        free(m->deleted);
        free(m->objects);
    }
    free(m->damaged);
    nbr_manifest_init(m, m->seq);
}

nbr_status nbr_manifest_borrow_bindings(nbr_manifest *m, nbr_arena *arena, size_t names)
{
    m->borrowed = true;
    m->names.arena = arena;
    if (!names) return NBR_OK;
    m->ids = nbr_arena_alloc(arena, names * sizeof *m->ids);
    m->deleted = nbr_arena_alloc(arena, names * sizeof *m->deleted);
    if (!m->ids || !m->deleted) return nbr_fail_nomem("loading the store index");
    m->binding_cap = names;
    return NBR_OK;
}

nbr_status nbr_manifest_borrow_objects(nbr_manifest *m, nbr_arena *arena, size_t objects)
{
    if (!objects) return NBR_OK;
    m->objects = nbr_arena_alloc(arena, objects * sizeof *m->objects);
    if (!m->objects) return nbr_fail_nomem("loading the store index");
    m->object_cap = objects;
    return NBR_OK;
}

nbr_status nbr_manifest_bind(nbr_manifest *m, const char *name, const nbr_object_id *id)
{
    return nbr_manifest_bind_n(m, name, strlen(name), id);
}

nbr_status nbr_manifest_bind_n(nbr_manifest *m, const char *name, size_t length,
                               const nbr_object_id *id)
{
    long at = nbr_strset_find_n(&m->names, name, length);
    if (at < 0 && m->borrowed && m->names.count == m->binding_cap)
        return nbr_fail(NBR_ESTATE, "checkpoint %s: a manifest loaded from INDEX is not "
                        "bound again", m->id);
    if (at < 0) {
        size_t n = m->names.count, cap = m->binding_cap;
        if (!NBR_RESERVE(m->ids, cap, n + 1)) return nbr_fail_nomem("binding a name");
        cap = m->binding_cap;
        if (!NBR_RESERVE(m->deleted, cap, n + 1)) return nbr_fail_nomem("binding a name");
        m->binding_cap = cap;
        if (!nbr_strset_add_n(&m->names, name, length)) return nbr_fail_nomem("binding a name");
        at = (long)n;
    }
    memset(&m->ids[at], 0, sizeof m->ids[at]);
    if (id) m->ids[at] = *id;
    m->deleted[at] = id == NULL;
    return NBR_OK;
}

nbr_status nbr_manifest_add_object(nbr_manifest *m, nbr_object_entry *entry)
{
    if (m->borrowed && m->object_count == m->object_cap) {
        nbr_object_entry_clear(entry);
        return nbr_fail(NBR_ESTATE, "checkpoint %s: a manifest loaded from INDEX takes no "
                        "more objects", m->id);
    }
    if (!NBR_RESERVE(m->objects, m->object_cap, m->object_count + 1)) {
        nbr_object_entry_clear(entry);
        return nbr_fail_nomem("recording an object");
    }
    m->objects[m->object_count++] = *entry;
    memset(entry, 0, sizeof *entry);
    return NBR_OK;
}

/* ---- rendering --------------------------------------------------------- */

static void render_sizes(nbr_buf *b, size_t n, const uint64_t *sizes)
{
    nbr_buf_puts(b, "[");
    for (size_t i = 0; i < n; i++) nbr_buf_printf(b, "%s%" PRIu64, i ? ", " : "", sizes[i]);
    nbr_buf_puts(b, "]");
}

bool nbr_entry_same_chunk(const nbr_object_entry *e, const nbr_object_entry *base, size_t k)
{
    const nbr_chunk_ref *a = &e->chunks[k], *b = &base->chunks[k];
    return nbr_object_id_equal(&a->id, &b->id) &&
           !strcmp(e->chunk_segments[a->segment], base->chunk_segments[b->segment]);
}

static bool same_grid(const nbr_object_entry *e, const nbr_object_entry *base)
{
    return base->chunk_shape && !base->base_pending && base->ndim == e->ndim &&
           base->chunk_count == e->chunk_count &&
           !memcmp(base->shape, e->shape, e->ndim * sizeof *e->shape) &&
           !memcmp(base->chunk_shape, e->chunk_shape, e->ndim * sizeof *e->chunk_shape);
}

uint32_t nbr_entry_listed_segments(uint32_t *used, const nbr_object_entry *e,
                                   const nbr_object_entry *base)
{
    uint32_t listed = 0;
    for (size_t i = 0; i < e->chunk_segment_count; i++) used[i] = UINT32_MAX;
    for (size_t k = 0; k < e->chunk_count; k++)
        if (!base || !nbr_entry_same_chunk(e, base, k)) used[e->chunks[k].segment] = 0;
    /* Numbered in the order the segments are written out (theirs), which
     * need not be the order the chunks first use them. */
    for (size_t i = 0; i < e->chunk_segment_count; i++)
        if (used[i] != UINT32_MAX) used[i] = listed++;
    return listed;
}

/* The chunks `b` lists: all of them (base NULL), as [id, segment index,
 * stored bytes] in grid order; or those that differ from base's, as [box,
 * id, segment index, stored bytes], with segment indices into the segments
 * those alone use (`used`: scratch, chunk_segment_count entries). */
static void render_chunk_list(nbr_buf *b, const nbr_object_entry *e, const nbr_object_entry *base,
                              uint32_t *used)
{
    nbr_entry_listed_segments(used, e, base);
    nbr_buf_puts(b, ", \"chunk_segments\": [");
    for (size_t i = 0, n = 0; i < e->chunk_segment_count; i++) {
        if (used[i] == UINT32_MAX) continue;
        if (n++) nbr_buf_puts(b, ", ");
        nbr_buf_json_string(b, e->chunk_segments[i]);
    }
    nbr_buf_puts(b, base ? "], \"changed_chunks\": [" : "], \"chunks\": [");
    for (size_t k = 0, n = 0; k < e->chunk_count; k++) {
        if (base && nbr_entry_same_chunk(e, base, k)) continue;
        char hex[33];
        nbr_object_id_to_hex(hex, &e->chunks[k].id);
        nbr_buf_puts(b, n++ ? ", [" : "[");
        if (base) nbr_buf_printf(b, "%zu, ", k);
        nbr_buf_printf(b, "\"%s\", %" PRIu32 ", %" PRIu64 "]", hex, used[e->chunks[k].segment],
                       e->chunks[k].stored_bytes);
    }
    nbr_buf_puts(b, "]");
}

/* The entry of `id` in `m` or where `lean` finds it. */
static const nbr_object_entry *find_entry(const nbr_manifest *m, const nbr_entry_finder *lean,
                                          const nbr_object_id *id)
{
    for (size_t i = 0; i < m->object_count; i++)
        if (nbr_object_id_equal(&m->objects[i].id, id)) return &m->objects[i];
    return lean->find ? lean->find(lean->context, id) : NULL;
}

const nbr_object_entry *nbr_manifest_lean_base(const nbr_manifest *m, const nbr_object_entry *e,
                                               const nbr_entry_finder *lean)
{
    const nbr_object_entry *base = e->chained && lean ? find_entry(m, lean, &e->base) : NULL;
    return base && same_grid(e, base) ? base : NULL;
}

/* "chunk_shape", the chunk list and "virtual_base"; false when out of
 * memory. */
static bool render_chunks(nbr_buf *b, const nbr_object_entry *e, const nbr_manifest *m,
                          const nbr_entry_finder *lean)
{
    const nbr_object_entry *base = nbr_manifest_lean_base(m, e, lean);
    uint32_t *used = malloc((e->chunk_segment_count + 1) * sizeof *used);
    if (!used) return false;
    nbr_buf_puts(b, ", \"chunk_shape\": ");
    render_sizes(b, e->ndim, e->chunk_shape);
    render_chunk_list(b, e, base, used);
    free(used);
    if (e->chained) {
        char hex[33];
        nbr_object_id_to_hex(hex, &e->base);
        nbr_buf_printf(b, ", \"virtual_base\": \"%s\"", hex);
    }
    return true;
}

static bool render_object(nbr_buf *b, const nbr_object_entry *e, const nbr_manifest *m,
                          const nbr_entry_finder *lean)
{
    char hex[33];
    nbr_object_id_to_hex(hex, &e->id);
    nbr_buf_printf(b, "\n  \"%s\": {\"kind\": \"%s\", \"segment\": ", hex,
                   e->kind == NBR_OBJECT_ARRAY ? "array" : "blob");
    nbr_buf_json_string(b, e->segment);
    nbr_buf_puts(b, e->kind == NBR_OBJECT_ARRAY ? ", \"dtype\": " : ", \"codec\": ");
    nbr_buf_json_string(b, e->type);
    if (e->kind == NBR_OBJECT_ARRAY) {
        nbr_buf_puts(b, ", \"shape\": ");
        render_sizes(b, e->ndim, e->shape);
    }
    if (e->chunk_shape && !render_chunks(b, e, m, lean)) return false;
    nbr_buf_printf(b, ", \"logical_bytes\": %" PRIu64 ", \"stored_bytes\": %" PRIu64 "}",
                   e->logical_bytes, e->stored_bytes);
    return true;
}

nbr_status nbr_manifest_render(char **out, const nbr_manifest *m, const nbr_entry_finder *lean)
{
    nbr_buf b;
    nbr_buf_init(&b);
    nbr_buf_printf(&b, "{\"format\": 1, \"seq\": %" PRIu64 ", \"parent\": %" PRIu64 ",\n",
                   m->seq, m->parent);
    nbr_buf_puts(&b, " \"cell_id\": ");
    nbr_buf_json_string(&b, m->cell_id);
    nbr_buf_printf(&b, ", \"execution_count\": %" PRId64 ",\n \"started\": ", m->execution_count);
    nbr_buf_json_string(&b, m->started);
    nbr_buf_puts(&b, ", \"committed\": ");
    nbr_buf_json_string(&b, m->committed);
    if (m->ranks) nbr_buf_printf(&b, ",\n \"ranks\": %" PRIu32, m->ranks);
    nbr_buf_printf(&b, ",\n \"host\": %s,\n \"bindings\": {", m->host_json);
    for (size_t i = 0; i < m->names.count; i++) {
        char hex[33];
        nbr_buf_puts(&b, i ? ",\n  " : "\n  ");
        nbr_buf_json_string(&b, m->names.items[i]);
        nbr_object_id_to_hex(hex, &m->ids[i]);
        if (m->deleted[i]) nbr_buf_puts(&b, ": null");
        else nbr_buf_printf(&b, ": \"%s\"", hex);
    }
    nbr_buf_puts(&b, "},\n \"objects\": {");
    bool ok = true;
    for (size_t i = 0; ok && i < m->object_count; i++) {
        if (i) nbr_buf_puts(&b, ",");
        ok = render_object(&b, &m->objects[i], m, lean);
    }
    nbr_buf_puts(&b, "}}\n");
    *out = nbr_buf_take(&b);
    if (!ok) {
        free(*out);
        *out = NULL;
    }
    return *out ? NBR_OK : nbr_fail_nomem("rendering a manifest");
}

/* ---- parsing ----------------------------------------------------------- */

static nbr_status bad(const char *path, const char *fmt, ...) NBR_PRINTF(2, 3);
static nbr_status bad(const char *path, const char *fmt, ...)
{
    char why[512];
    va_list args;
    va_start(args, fmt);
    vsnprintf(why, sizeof why, fmt, args);
    va_end(args);
    return nbr_fail(NBR_ECORRUPT, "manifest %s is damaged: %s", path, why);
}

static bool get_u64(const nbr_json *v, uint64_t *out)
{
    int64_t n;
    if (!nbr_json_number_int64(v, &n) || n < 0) return false;
    *out = (uint64_t)n;
    return true;
}

/* A string member, copied; NULL if missing or not a string. */
static char *get_string(const nbr_json *obj, const char *key)
{
    const char *s = nbr_json_string(nbr_json_get(obj, key));
    return s ? nbr_copy(s) : NULL;
}

bool nbr_segment_name_valid(const char *s)
{
    /* "segments/" + 16 digits + "-" + 8 hex digits + ".h5", checked in
     * order so that no byte past a NUL is read (an open checks one per
     * object). */
    if (strncmp(s, "segments/", 9) != 0) return false;
    for (int i = 9; i < 25; i++)
        if (s[i] < '0' || s[i] > '9') return false;
    if (s[25] != '-') return false;
    for (int i = 26; i < 34; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
    return s[34] == '.' && s[35] == 'h' && s[36] == '5' && s[37] == '\0';
}

static nbr_status parse_shape(nbr_object_entry *e, const nbr_json *shape, const char *path,
                              const char *hex)
{
    if (!nbr_json_is_array(shape) || nbr_json_length(shape) > 32)
        return bad(path, "object %s: \"shape\" is not an array of at most 32 sizes", hex);
    e->ndim = nbr_json_length(shape);
    e->shape = calloc(e->ndim ? e->ndim : 1, sizeof *e->shape);
    if (!e->shape) return nbr_fail_nomem("reading a manifest");
    for (size_t i = 0; i < e->ndim; i++)
        if (!get_u64(nbr_json_at(shape, i), &e->shape[i]))
            return bad(path, "object %s: shape[%zu] is not a size", hex, i);
    return NBR_OK;
}

static nbr_status parse_chunk_segments(nbr_object_entry *e, const nbr_json *list,
                                       const char *path, const char *hex, bool lean)
{
    size_t n = nbr_json_length(list);
    if (!nbr_json_is_array(list) || (n == 0 && !lean) || n > UINT32_MAX)
        return bad(path, "object %s: \"chunk_segments\" is not a list of segments", hex);
    e->chunk_segments = calloc(n + 1, sizeof *e->chunk_segments);
    if (!e->chunk_segments) return nbr_fail_nomem("reading a manifest");
    for (size_t i = 0; i < n; i++) {
        const char *name = nbr_json_string(nbr_json_at(list, i));
        if (!name || !nbr_segment_name_valid(name))
            return bad(path, "object %s: chunk_segments[%zu] is not a segment file name", hex, i);
        if (!(e->chunk_segments[i] = nbr_copy(name))) return nbr_fail_nomem("reading a manifest");
        e->chunk_segment_count = i + 1;
    }
    return NBR_OK;
}

/* The last three items of `v`: id, segment index, stored bytes. */
static bool parse_chunk_tail(nbr_chunk_ref *c, const nbr_json *v, size_t segments)
{
    size_t at = nbr_json_length(v) - 3;
    uint64_t segment = 0;
    const char *id = nbr_json_string(nbr_json_at(v, at));
    if (!id || nbr_object_id_from_hex(&c->id, id) != NBR_OK) return false;
    if (!get_u64(nbr_json_at(v, at + 1), &segment) || segment >= segments) return false;
    c->segment = (uint32_t)segment;
    return get_u64(nbr_json_at(v, at + 2), &c->stored_bytes);
}

/* One [id, segment index, stored bytes] of "chunks". */
static bool parse_chunk(nbr_chunk_ref *c, const nbr_json *v, size_t segments)
{
    return nbr_json_is_array(v) && nbr_json_length(v) == 3 && parse_chunk_tail(c, v, segments);
}

/* "chunks": one [id, segment index, stored bytes] per box of the grid. */
static nbr_status parse_all_chunks(nbr_object_entry *e, const nbr_json *list, const char *path,
                                   const char *hex)
{
    if (nbr_json_length(list) != e->chunk_count)
        return bad(path, "object %s: \"chunks\" does not list one chunk per chunk of the grid",
                   hex);
    for (size_t i = 0; i < e->chunk_count; i++)
        if (!parse_chunk(&e->chunks[i], nbr_json_at(list, i), e->chunk_segment_count))
            return bad(path, "object %s: chunks[%zu] is not [id, segment index, stored bytes]",
                       hex, i);
    return NBR_OK;
}

bool nbr_entry_set_changed(nbr_object_entry *e, uint64_t *boxes, nbr_chunk_ref *chunks,
                           size_t count)
{
    e->changed_boxes = boxes;
    e->changed = chunks;
    e->changed_count = count;
    e->base_pending = true;
    for (size_t i = 0; i < count; i++)
        if (boxes[i] >= e->chunk_count || (i > 0 && boxes[i] <= boxes[i - 1])) return false;
    return true;
}

/* "changed_chunks" (lean): [box, id, segment index, stored bytes] for the
 * boxes whose chunk is not the base's, in increasing box order; the list is
 * completed from the base's entry (nbr_manifest_complete). */
static nbr_status parse_changed_chunks(nbr_object_entry *e, const nbr_json *list, const char *path,
                                       const char *hex)
{
    size_t n = nbr_json_length(list);
    uint64_t *boxes = malloc((n + 1) * sizeof *boxes);
    nbr_chunk_ref *chunks = calloc(n + 1, sizeof *chunks);
    if (!boxes || !chunks) {
        free(boxes);
        free(chunks);
        return nbr_fail_nomem("reading a manifest");
    }
    size_t i = 0;
    for (; i < n; i++) {
        const nbr_json *v = nbr_json_at(list, i);
        if (!nbr_json_is_array(v) || nbr_json_length(v) != 4 ||
            !get_u64(nbr_json_at(v, 0), &boxes[i]) ||
            !parse_chunk_tail(&chunks[i], v, e->chunk_segment_count))
            break;
    }
    if (!nbr_entry_set_changed(e, boxes, chunks, n) || i < n)
        return bad(path, "object %s: \"changed_chunks\" is not a list of [box, id, segment "
                   "index, stored bytes] in increasing box order, each box in the grid", hex);
    return NBR_OK;
}

/* An array stored as chunks: its chunk shape must make contiguous chunks,
 * and it lists every chunk, or (lean, chained) the chunks that differ from
 * its base's. */
static nbr_status parse_chunks(nbr_object_entry *e, const nbr_json *o, const char *path,
                               const char *hex)
{
    const nbr_json *shape = nbr_json_get(o, "chunk_shape"), *all = nbr_json_get(o, "chunks");
    const nbr_json *changed = nbr_json_get(o, "changed_chunks"), *base = nbr_json_get(o, "virtual_base");
    if (e->kind != NBR_OBJECT_ARRAY || !nbr_json_is_array(shape) ||
        nbr_json_length(shape) != e->ndim || e->ndim == 0)
        return bad(path, "object %s: \"chunk_shape\" does not fit the array", hex);
    e->chunk_shape = calloc(e->ndim, sizeof *e->chunk_shape);
    if (!e->chunk_shape) return nbr_fail_nomem("reading a manifest");
    for (size_t i = 0; i < e->ndim; i++)
        if (!get_u64(nbr_json_at(shape, i), &e->chunk_shape[i]) || !e->chunk_shape[i] ||
            e->chunk_shape[i] > e->shape[i])
            return bad(path, "object %s: chunk_shape[%zu] is not a chunk extent", hex, i);
    uint64_t n = nbr_chunk_grid_count(e->ndim, e->shape, e->chunk_shape);
    if (!nbr_chunk_contiguous(e->ndim, e->shape, e->chunk_shape) || n > SIZE_MAX / sizeof *e->chunks)
        return bad(path, "object %s: \"chunk_shape\" does not cut the array into contiguous "
                   "chunks", hex);
    if (!!all == !!changed || (changed && !base) || !nbr_json_is_array(all ? all : changed))
        return bad(path, "object %s: neither \"chunks\" nor, with \"virtual_base\", "
                   "\"changed_chunks\" lists its chunks", hex);
    if (all && nbr_json_length(all) != n)
        return bad(path, "object %s: \"chunks\" does not list one chunk per chunk of the grid",
                   hex);
    nbr_status st = parse_chunk_segments(e, nbr_json_get(o, "chunk_segments"), path, hex, changed);
    if (st != NBR_OK) return st;
    e->chunk_count = (size_t)n;
    if (changed) {
        st = parse_changed_chunks(e, changed, path, hex);
    } else {
        e->chunks = calloc((size_t)n + 1, sizeof *e->chunks);
        if (!e->chunks) return nbr_fail_nomem("reading a manifest");
        st = parse_all_chunks(e, all, path, hex);
    }
    if (st != NBR_OK || !base) return st;
    const char *base_hex = nbr_json_string(base);
    if (!base_hex || nbr_object_id_from_hex(&e->base, base_hex) != NBR_OK ||
        nbr_object_id_equal(&e->base, &e->id))
        return bad(path, "object %s: \"virtual_base\" is not another object's id", hex);
    e->chained = true;
    return NBR_OK;
}

static nbr_status parse_object(nbr_object_entry *e, const char *hex, const nbr_json *o,
                               const char *path)
{
    if (nbr_object_id_from_hex(&e->id, hex) != NBR_OK)
        return bad(path, "\"%s\" in \"objects\" is not an object id", hex);
    const char *kind = nbr_json_string(nbr_json_get(o, "kind"));
    bool array = kind && !strcmp(kind, "array");
    if (!kind || (!array && strcmp(kind, "blob") != 0))
        return bad(path, "object %s: \"kind\" is not \"array\" or \"blob\"", hex);
    e->kind = array ? NBR_OBJECT_ARRAY : NBR_OBJECT_BLOB;
    e->type = get_string(o, array ? "dtype" : "codec");
    e->segment = get_string(o, "segment");
    if (!e->type || !e->segment) return bad(path, "object %s: a string field is missing", hex);
    if (!nbr_segment_name_valid(e->segment))
        return bad(path, "object %s: \"%s\" is not a segment file name", hex, e->segment);
    if (!get_u64(nbr_json_get(o, "logical_bytes"), &e->logical_bytes) ||
        !get_u64(nbr_json_get(o, "stored_bytes"), &e->stored_bytes))
        return bad(path, "object %s: logical_bytes/stored_bytes missing", hex);
    if (!array) {
        e->ndim = 1;
        e->shape = malloc(sizeof *e->shape);
        if (!e->shape) return nbr_fail_nomem("reading a manifest");
        e->shape[0] = e->logical_bytes;
        return NBR_OK;
    }
    nbr_status st = parse_shape(e, nbr_json_get(o, "shape"), path, hex);
    if (st == NBR_OK && (nbr_json_get(o, "chunks") || nbr_json_get(o, "changed_chunks")))
        st = parse_chunks(e, o, path, hex);
    return st;
}

static nbr_status parse_bindings(nbr_manifest *m, const nbr_json *b, const char *path)
{
    if (!nbr_json_is_object(b)) return bad(path, "\"bindings\" is not an object");
    for (size_t i = 0; i < nbr_json_length(b); i++) {
        const char *name = nbr_json_key_at(b, i);
        const nbr_json *v = nbr_json_at(b, i);
        nbr_object_id id;
        if (strlen(name) != nbr_json_key_length(b, i) || !*name)
            return bad(path, "binding %zu has an empty name or one with a NUL", i);
        if (!nbr_json_is_null(v) && (!nbr_json_string(v) ||
                                     nbr_object_id_from_hex(&id, nbr_json_string(v)) != NBR_OK))
            return bad(path, "binding \"%s\" is neither an object id nor null", name);
        nbr_status st = nbr_manifest_bind(m, name, nbr_json_is_null(v) ? NULL : &id);
        if (st != NBR_OK) return st;
    }
    return NBR_OK;
}

static nbr_status parse_header(nbr_manifest *m, const nbr_json *root, const char *path)
{
    uint64_t format = 0, seq = 0;
    if (!nbr_json_is_object(root)) return bad(path, "not a JSON object");
    if (!get_u64(nbr_json_get(root, "format"), &format) || format != 1)
        return bad(path, "\"format\" is not 1");
    if (!get_u64(nbr_json_get(root, "seq"), &seq) || seq != m->seq)
        return bad(path, "\"seq\" does not match the file name (%s)", m->id);
    if (!get_u64(nbr_json_get(root, "parent"), &m->parent)) return bad(path, "no \"parent\"");
    if (!nbr_json_number_int64(nbr_json_get(root, "execution_count"), &m->execution_count))
        return bad(path, "no \"execution_count\"");
    const nbr_json *ranks = nbr_json_get(root, "ranks");
    uint64_t nranks = 0;
    if (ranks && (!get_u64(ranks, &nranks) || nranks < 1 || nranks > UINT32_MAX))
        return bad(path, "\"ranks\" is not a positive number of ranks");
    m->ranks = (uint32_t)nranks;
    m->cell_id = get_string(root, "cell_id");
    m->started = get_string(root, "started");
    m->committed = get_string(root, "committed");
    if (!m->cell_id || !m->started || !m->committed)
        return bad(path, "\"cell_id\", \"started\" or \"committed\" is missing");
    nbr_buf b;
    nbr_buf_init(&b);
    const nbr_json *host = nbr_json_get(root, "host");
    if (host) nbr_json_render(&b, host);
    else nbr_buf_puts(&b, "null");
    m->host_json = nbr_buf_take(&b);
    return m->host_json ? NBR_OK : nbr_fail_nomem("reading a manifest");
}

static nbr_status parse_root(nbr_manifest *m, const nbr_json *root, const char *path)
{
    nbr_status st = parse_header(m, root, path);
    if (st == NBR_OK) st = parse_bindings(m, nbr_json_get(root, "bindings"), path);
    const nbr_json *objects = nbr_json_get(root, "objects");
    if (st == NBR_OK && !nbr_json_is_object(objects))
        st = bad(path, "\"objects\" is not an object");
    for (size_t i = 0; st == NBR_OK && i < nbr_json_length(objects); i++) {
        nbr_object_entry e;
        memset(&e, 0, sizeof e);
        st = parse_object(&e, nbr_json_key_at(objects, i), nbr_json_at(objects, i), path);
        if (st == NBR_OK) st = nbr_manifest_add_object(m, &e);
        else nbr_object_entry_clear(&e);
    }
    return st;
}

nbr_status nbr_manifest_read_file(char **text, size_t *length, const char *path)
{
    static const char hdf5_signature[8] = "\x89HDF\r\n\x1a\n";
    bool in_segment = false;
    nbr_status st =
        nbr_io_read_tail_or_file(text, length, &in_segment, path, NBR_MANIFEST_TAIL_MAGIC);
    if (st != NBR_OK || in_segment || *length < 8 || memcmp(*text, hdf5_signature, 8) != 0)
        return st;
    free(*text);
    *text = NULL;
    *length = 0;
    return bad(path, "a segment without the manifest it carries at its end (the file is "
               "truncated or damaged)");
}

/* ---- lean entries ------------------------------------------------------ */

nbr_status nbr_entry_segment_index(uint32_t *out, nbr_object_entry *e, size_t *cap,
                                   const char *segment)
{
    for (size_t i = 0; i < e->chunk_segment_count; i++)
        if (!strcmp(e->chunk_segments[i], segment)) {
            *out = (uint32_t)i;
            return NBR_OK;
        }
    char *copy = nbr_copy(segment);
    if (!copy || !NBR_RESERVE(e->chunk_segments, *cap, e->chunk_segment_count + 1)) {
        free(copy);
        return nbr_fail_nomem("recording a chunk");
    }
    *out = (uint32_t)e->chunk_segment_count;
    e->chunk_segments[e->chunk_segment_count++] = copy;
    return NBR_OK;
}

/* The whole chunk list: base's (same grid, complete, so its list bounds
 * the allocation), its segments mapped into e's (`map`: base's index ->
 * e's, looked up once per segment), with e's changed boxes laid over it. */
static nbr_status complete_from_base(nbr_object_entry *e, const nbr_object_entry *base)
{
    uint32_t *map = malloc((base->chunk_segment_count + 1) * sizeof *map);
    nbr_chunk_ref *chunks = calloc(base->chunk_count + 1, sizeof *chunks);
    nbr_status st = map && chunks ? NBR_OK : nbr_fail_nomem("reading a manifest");
    size_t cap = e->chunk_segment_count; /* at least what was allocated */
    for (size_t i = 0; st == NBR_OK && i < base->chunk_segment_count; i++)
        map[i] = UINT32_MAX;
    for (size_t k = 0; st == NBR_OK && k < base->chunk_count; k++) {
        uint32_t b = base->chunks[k].segment;
        if (map[b] == UINT32_MAX)
            st = nbr_entry_segment_index(&map[b], e, &cap, base->chunk_segments[b]);
        chunks[k] = base->chunks[k];
        chunks[k].segment = map[b];
    }
    /* e's own segments keep their indices: new ones are only appended. */
    for (size_t i = 0; st == NBR_OK && i < e->changed_count; i++)
        chunks[e->changed_boxes[i]] = e->changed[i];
    free(map);
    if (st != NBR_OK) {
        free(chunks);
        return st;
    }
    e->chunks = chunks;
    free(e->changed_boxes);
    free(e->changed);
    e->changed_boxes = NULL;
    e->changed = NULL;
    e->changed_count = 0;
    e->base_pending = false;
    return NBR_OK;
}

/* How deep a chain a manifest may list below one entry: a writer chains at
 * most 64 deep, so anything deeper (or a cycle) is not ours. */
#define LEAN_DEPTH_MAX 128

/* Completes entry i of m, its base first when the base is a pending entry
 * of m too (GC lists whole chains, in any order).  NBR_ECORRUPT (no
 * message) when its base is nowhere, on another grid, or too deep. */
static nbr_status complete_entry(nbr_manifest *m, size_t i, const nbr_object_index *own,
                                 const nbr_entry_finder *lean, int depth)
{
    nbr_object_entry *e = &m->objects[i];
    if (!e->base_pending) return NBR_OK;
    if (depth > LEAN_DEPTH_MAX) return NBR_ECORRUPT;
    const nbr_index_slot *slot = nbr_object_index_find(own, &e->base);
    const nbr_object_entry *base = NULL;
    if (slot) {
        nbr_status st = complete_entry(m, slot->object, own, lean, depth + 1);
        if (st != NBR_OK) return st;
        base = &m->objects[slot->object];
    } else if (lean && lean->find) {
        base = lean->find(lean->context, &e->base);
    }
    if (!base || !same_grid(e, base)) return NBR_ECORRUPT;
    return complete_from_base(e, base);
}

static nbr_status index_own(nbr_object_index *own, const nbr_manifest *m)
{
    for (size_t i = 0; i < m->object_count; i++)
        if (!nbr_object_index_add(own, &m->objects[i].id, 0, i))
            return nbr_fail_nomem("reading a manifest");
    return NBR_OK;
}

nbr_status nbr_manifest_complete(nbr_manifest *m, const nbr_entry_finder *lean, const char *path)
{
    size_t pending = 0;
    for (size_t i = 0; i < m->object_count; i++) pending += m->objects[i].base_pending;
    if (!pending) return NBR_OK;
    nbr_object_index own;
    nbr_object_index_init(&own);
    nbr_status st = index_own(&own, m);
    size_t at = 0;
    for (; st == NBR_OK && at < m->object_count; at++)
        st = complete_entry(m, at, &own, lean, 0);
    nbr_object_index_clear(&own);
    if (st != NBR_ECORRUPT) return st;
    const nbr_object_entry *e = &m->objects[at - 1];
    char hex[33], base_hex[33];
    nbr_object_id_to_hex(hex, &e->id);
    nbr_object_id_to_hex(base_hex, &e->base);
    return bad(path, "object %s lists only the chunks that differ from %s, whose entry "
               "is on another grid or in no manifest before it (or its chain is deeper than "
               "any writer makes)", hex, base_hex);
}

nbr_status nbr_manifest_parse(nbr_manifest *m, const char *text, size_t length, const char *path,
                              const nbr_entry_finder *lean)
{
    nbr_json_doc *doc;
    nbr_json_error err;
    nbr_status st = nbr_json_parse(&doc, text, length, path, NULL, &err);
    if (st == NBR_ENOMEM) return st;
    if (st != NBR_OK)
        return bad(path, "invalid JSON at line %u, column %u: %s", err.line, err.column,
                   err.message);
    st = parse_root(m, nbr_json_root(doc), path);
    nbr_json_doc_free(doc);
    return st == NBR_OK ? nbr_manifest_complete(m, lean, path) : st;
}
