/* store_snapshot.c - the open-time index, INDEX (see store_snapshot.h and
 * docs/store-format.md, "The open index").
 *
 * Layout, all integers little-endian:
 *   "NBRINDEX" u32 version (5) u32 flags (bit 0: the body is a Blosc frame)
 *   u64 covered_seq  u64 manifest_count  u64 names_hash
 *   u64 dir_ino  u64 dir_mtime_ns  u64 dir_ctime_ns   (checkpoints/; zeros: none)
 *   body: manifest_count x manifest, or a Blosc frame of them
 *   16 bytes: the XXH3-128 hash of every byte before them (nbr_hash_bytes)
 * A string is u32 length + bytes, 0xffffffff for none. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "h5blosc.h"
#include "store_array.h"
#include "store_internal.h"
#include "store_io.h"
#include "store_snapshot.h"

#define MAGIC "NBRINDEX"
/* 2: object entries end with their chunk list (chunk dedup).  3: the header
 * records checkpoints/'s stat (the fast check).  4: the body may be
 * compressed (flags).  5: a chunk list ends with the virtual base.  6: a
 * chained array's list may hold only the chunks that differ from its base's
 * (as a lean manifest).  An index of another version is ignored (and
 * rewritten by the next writer). */
#define VERSION 6u
#define FLAG_BLOSC 1u
/* The body is compressed with lz4 (fast to undo at open: the store's open
 * figure), bytes unshuffled: consecutive manifests repeat most of an
 * array's chunk list and segment names, so a store of many small overwrites
 * keeps an index of about a twentieth of the raw size. */
#define BODY_CODEC NBR_BLOSC_LZ4
#define BODY_LEVEL 5
/* What a reader agrees to expand a compressed body to: at most what lz4
 * can make of the frame (under 256 times its size), and 2 GiB.  A frame
 * that claims more is not ours, and must not make an open run out of
 * memory: the index is only a cache. */
#define BODY_MAX ((size_t)1 << 31)
#define BODY_EXPANSION 256u
#define HEADER_BYTES 64
#define NO_STRING 0xffffffffu
/* About what an object entry and its share of its manifest take in the
 * body, rounded down: an entry alone takes ~100 bytes (id, kind, dtype,
 * sizes, segment name). */
#define ENTRY_TYPICAL_BYTES 128u
#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull

static uint64_t fnv(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * FNV_PRIME;
    return h;
}

/* checkpoints/'s inode, mtime and ctime (ns): what changes when a manifest
 * is added, removed or renamed over.  false if it cannot be stat'ed. */
typedef struct dir_stamp {
    uint64_t ino, mtime_ns, ctime_ns;
} dir_stamp;

static uint64_t ns_of(const struct timespec *t)
{
    return (uint64_t)t->tv_sec * 1000000000u + (uint64_t)t->tv_nsec;
}

static bool stamp_dir(dir_stamp *out, const char *root)
{
    memset(out, 0, sizeof *out);
    char *dir = nbr_io_join(root, "checkpoints");
    struct stat sb;
    bool ok = dir && stat(dir, &sb) == 0;
    free(dir);
    if (!ok) return false;
    out->ino = (uint64_t)sb.st_ino;
    out->mtime_ns = ns_of(&sb.st_mtim);
    out->ctime_ns = ns_of(&sb.st_ctim);
    return out->ctime_ns != 0;
}

uint64_t nbr_snapshot_manifest_seq(const char *name)
{
    if (strlen(name) != 21 || strcmp(name + 16, ".json") != 0) return 0;
    for (int i = 0; i < 16; i++)
        if (name[i] < '0' || name[i] > '9') return 0;
    return strtoull(name, NULL, 10);
}

/* Count and hash of the names and sizes of the manifests in `dir` with
 * seq <= covered.  false if one cannot be stat'ed (gone since the listing). */
static bool hash_names(uint64_t *count, uint64_t *hash, const char *root, char **names, size_t n,
                       uint64_t covered)
{
    uint64_t h = FNV_OFFSET, c = 0;
    char *dir = nbr_io_join(root, "checkpoints");
    int fd = dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    free(dir);
    if (fd < 0) return false;
    bool ok = true;
    for (size_t i = 0; ok && i < n; i++) {
        uint64_t seq = nbr_snapshot_manifest_seq(names[i]);
        if (seq == 0 || seq > covered) continue;
        struct stat sb;
        if (fstatat(fd, names[i], &sb, 0) != 0) {
            ok = false;
            break;
        }
        unsigned char size[8];
        for (int k = 0; k < 8; k++) size[k] = (unsigned char)((uint64_t)sb.st_size >> (8 * k));
        h = fnv(h, names[i], 21);
        h = fnv(h, size, 8);
        c++;
    }
    close(fd);
    *count = c;
    *hash = h;
    return ok;
}

/* ---- writing ----------------------------------------------------------- */

static void put_u64(nbr_buf *b, uint64_t v)
{
    unsigned char x[8];
    for (int i = 0; i < 8; i++) x[i] = (unsigned char)(v >> (8 * i));
    nbr_buf_append(b, (const char *)x, 8);
}

static void put_u32(nbr_buf *b, uint32_t v)
{
    unsigned char x[4];
    for (int i = 0; i < 4; i++) x[i] = (unsigned char)(v >> (8 * i));
    nbr_buf_append(b, (const char *)x, 4);
}

static void put_str(nbr_buf *b, const char *s)
{
    if (!s) {
        put_u32(b, NO_STRING);
        return;
    }
    size_t n = strlen(s);
    put_u32(b, (uint32_t)n);
    nbr_buf_append(b, s, n);
}

/* One chunk: (id, segment index, stored bytes). */
static void put_chunk(nbr_buf *b, const nbr_chunk_ref *c, uint32_t segment)
{
    nbr_buf_append(b, (const char *)c->id.bytes, 16);
    put_u32(b, segment);
    put_u64(b, c->stored_bytes);
}

/* u64 chunk count (0: a plain dataset), then chunk shape, u8 form, the
 * segments the listed chunks use, and either (form 0) every chunk, or
 * (form 1, a chained array whose base's entry `base` is) u64 n and n x (u64
 * box, chunk) for the boxes that differ from the base's; then the virtual
 * base.  `used`: scratch of chunk_segment_count entries. */
static void put_chunks(nbr_buf *b, const nbr_object_entry *e, const nbr_object_entry *base,
                       uint32_t *used)
{
    put_u64(b, e->chunk_count);
    if (!e->chunk_shape) return;
    for (size_t k = 0; k < e->ndim; k++) put_u64(b, e->chunk_shape[k]);
    nbr_buf_append(b, base ? "\1" : "\0", 1);
    put_u32(b, nbr_entry_listed_segments(used, e, base));
    for (size_t k = 0; k < e->chunk_segment_count; k++)
        if (used[k] != UINT32_MAX) put_str(b, e->chunk_segments[k]);
    size_t listed = 0;
    for (size_t k = 0; base && k < e->chunk_count; k++) listed += !nbr_entry_same_chunk(e, base, k);
    if (base) put_u64(b, listed);
    for (size_t k = 0; k < e->chunk_count; k++) {
        if (base && nbr_entry_same_chunk(e, base, k)) continue;
        if (base) put_u64(b, k);
        put_chunk(b, &e->chunks[k], used[e->chunks[k].segment]);
    }
    nbr_buf_append(b, e->chained ? "\1" : "\0", 1);
    if (e->chained) nbr_buf_append(b, (const char *)e->base.bytes, 16);
}

/* false when out of memory. */
static bool put_manifest(nbr_buf *b, const nbr_manifest *m, const nbr_entry_finder *bases)
{
    put_u64(b, m->seq);
    put_str(b, m->damaged);
    if (m->damaged) return true;
    put_u64(b, m->parent);
    put_str(b, m->cell_id);
    put_u64(b, (uint64_t)m->execution_count);
    put_str(b, m->started);
    put_str(b, m->committed);
    put_str(b, m->host_json);
    put_u32(b, m->ranks);
    put_u64(b, m->names.count);
    for (size_t i = 0; i < m->names.count; i++) {
        put_str(b, m->names.items[i]);
        nbr_buf_append(b, m->deleted[i] ? "\1" : "\0", 1);
        nbr_buf_append(b, (const char *)m->ids[i].bytes, 16);
    }
    put_u64(b, m->object_count);
    for (size_t i = 0; i < m->object_count; i++) {
        const nbr_object_entry *e = &m->objects[i];
        nbr_buf_append(b, (const char *)e->id.bytes, 16);
        put_u32(b, (uint32_t)e->kind);
        put_str(b, e->type);
        put_u64(b, e->ndim);
        for (size_t k = 0; k < e->ndim; k++) put_u64(b, e->shape[k]);
        put_u64(b, e->logical_bytes);
        put_u64(b, e->stored_bytes);
        put_str(b, e->segment);
        uint32_t *used = malloc((e->chunk_segment_count + 1) * sizeof *used);
        if (!used) return false;
        put_chunks(b, e, nbr_manifest_lean_base(m, e, bases), used);
        free(used);
    }
    return true;
}

nbr_status nbr_snapshot_write(const nbr_store *s, bool if_different)
{
    uint64_t covered = 0, h = 0, listed = 0;
    for (size_t i = 0; i < s->checkpoint_count; i++)
        if (s->checkpoints[i]->seq > covered) covered = s->checkpoints[i]->seq;
    /* checkpoints/ as it is now, for the readers' fast check: recorded only
     * when it holds exactly the manifests this writer holds (checked below)
     * and nothing changed it meanwhile. */
    dir_stamp stamp;
    bool stamped = stamp_dir(&stamp, s->root);
    /* The names and sizes as they are on disk: they must be the manifests
     * this writer holds (a reader checks the same). */
    char **names = malloc((s->checkpoint_count + 1) * sizeof *names);
    if (!names) return nbr_fail_nomem("writing the store index");
    for (size_t i = 0; i < s->checkpoint_count; i++) {
        names[i] = malloc(32);
        if (names[i]) snprintf(names[i], 32, "%s.json", s->checkpoints[i]->id);
        else {
            for (size_t k = 0; k < i; k++) free(names[k]);
            free(names);
            return nbr_fail_nomem("writing the store index");
        }
    }
    bool hashed = hash_names(&listed, &h, s->root, names, s->checkpoint_count, covered);
    for (size_t i = 0; i < s->checkpoint_count; i++) free(names[i]);
    free(names);
    if (!hashed || listed != s->checkpoint_count)
        return nbr_fail(NBR_EIO, "%s: the manifests changed while the index was written", s->root);
    if (stamped) {
        /* No manifest past the ones held (a reader on the fast check lists
         * nothing), and the directory as stamped. */
        char *dir = nbr_io_join(s->root, "checkpoints"), **all = NULL;
        size_t n = 0, manifests = 0;
        if (!dir || nbr_io_list(&all, &n, dir) != NBR_OK) stamped = false;
        for (size_t i = 0; i < n; i++)
            if (nbr_snapshot_manifest_seq(all[i])) manifests++;
        nbr_io_free_list(all, n);
        free(dir);
        dir_stamp again;
        if (manifests != s->checkpoint_count || !stamp_dir(&again, s->root) ||
            memcmp(&again, &stamp, sizeof stamp) != 0)
            stamped = false;
    }
    if (!stamped) memset(&stamp, 0, sizeof stamp);
    nbr_buf body;
    nbr_buf_init(&body);
    nbr_entry_finder bases = nbr_store_finder(s);
    bool ok = true;
    for (size_t i = 0; ok && i < s->checkpoint_count; i++)
        ok = put_manifest(&body, s->checkpoints[i], &bases);
    char *frame = body.failed || !ok ? NULL : malloc(body.length ? body.length : 1);
    size_t frame_size = frame ? nbr_blosc_compress_chunk(frame, body.data, body.length, 1,
                                                         BODY_LEVEL, 0, BODY_CODEC)
                              : 0;
    nbr_buf b;
    nbr_buf_init(&b);
    nbr_buf_append(&b, MAGIC, 8);
    put_u32(&b, VERSION);
    put_u32(&b, frame_size ? FLAG_BLOSC : 0);
    put_u64(&b, covered);
    put_u64(&b, s->checkpoint_count);
    put_u64(&b, h);
    put_u64(&b, stamp.ino);
    put_u64(&b, stamp.mtime_ns);
    put_u64(&b, stamp.ctime_ns);
    if (frame_size) nbr_buf_append(&b, frame, frame_size);
    else if (body.length) nbr_buf_append(&b, body.data, body.length);
    free(frame);
    nbr_status st = NBR_OK;
    bool failed = b.failed || body.failed || !ok;
    nbr_buf_clear(&body);
    if (failed) st = nbr_fail_nomem("writing the store index");
    else {
        nbr_object_id sum;
        st = nbr_hash_bytes(&sum, b.data, b.length);
        nbr_buf_append(&b, (const char *)sum.bytes, 16);
    }
    if (st == NBR_OK && b.failed) st = nbr_fail_nomem("writing the store index");
    char tmp_name[64];
    snprintf(tmp_name, sizeof tmp_name, "tmp/INDEX-%08" PRIx32, nbr_io_random32());
    char *tmp = nbr_io_join(s->root, tmp_name), *path = nbr_io_join(s->root, "INDEX");
    if (st == NBR_OK && (!tmp || !path)) st = nbr_fail_nomem("writing the store index");
    bool same = false;
    if (st == NBR_OK && if_different) {
        char *old = NULL;
        size_t old_length = 0;
        if (nbr_io_read_file(&old, &old_length, path) == NBR_OK)
            same = old_length == b.length && memcmp(old, b.data, b.length) == 0;
        free(old);
    }
    if (st == NBR_OK && !same) st = nbr_io_write_atomic(tmp, path, b.data, b.length);
    free(tmp);
    free(path);
    nbr_buf_clear(&b);
    return st;
}

nbr_status nbr_snapshot_remove(const nbr_store *s)
{
    char *path = nbr_io_join(s->root, "INDEX");
    if (!path) return nbr_fail_nomem("removing the store index");
    nbr_status st = nbr_io_unlink(path);
    free(path);
    if (st == NBR_ENOTFOUND) return NBR_OK;
    if (st == NBR_OK) st = nbr_io_fsync_dir(s->root);
    return st;
}

/* ---- reading ----------------------------------------------------------- */

typedef struct reader {
    const unsigned char *p, *end;
    bool bad;
} reader;

static uint64_t get_u64(reader *r)
{
    if (r->bad || r->end - r->p < 8) return r->bad = true, 0;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)r->p[i] << (8 * i);
    r->p += 8;
    return v;
}

static uint32_t get_u32(reader *r)
{
    if (r->bad || r->end - r->p < 4) return r->bad = true, 0;
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v |= (uint32_t)r->p[i] << (8 * i);
    r->p += 4;
    return v;
}

static const unsigned char *get_bytes(reader *r, size_t n)
{
    if (r->bad || (size_t)(r->end - r->p) < n) return r->bad = true, NULL;
    const unsigned char *at = r->p;
    r->p += n;
    return at;
}

/* A string's bytes where they lie, and its length; NULL for none (or when
 * bad). */
static const char *view_str(reader *r, size_t *length)
{
    uint32_t n = get_u32(r);
    *length = 0;
    if (r->bad || n == NO_STRING) return NULL;
    const unsigned char *at = get_bytes(r, n);
    if (!at) return NULL;
    if (memchr(at, 0, n)) return r->bad = true, NULL;
    *length = n;
    return (const char *)at;
}

/* A copy in `arena`, or malloc'd when `arena` is NULL; NULL for none (or
 * when bad; *nomem on ENOMEM). */
static char *get_str(reader *r, nbr_arena *arena, bool *nomem)
{
    size_t n = 0;
    const char *at = view_str(r, &n);
    char *s = !at ? NULL : arena ? nbr_arena_copy_n(arena, at, n) : nbr_copy_n(at, n);
    if (at && !s) *nomem = true;
    return s;
}

/* The chunk shape, checked as the manifest parser checks it. */
static void get_chunk_shape(reader *r, nbr_object_entry *e, uint64_t count, bool *nomem)
{
    if (e->kind != NBR_OBJECT_ARRAY || e->ndim == 0) r->bad = true;
    if (!r->bad && !(e->chunk_shape = calloc(e->ndim, sizeof *e->chunk_shape))) *nomem = true;
    for (size_t k = 0; !r->bad && !*nomem && k < e->ndim; k++) {
        e->chunk_shape[k] = get_u64(r);
        if (e->chunk_shape[k] == 0 || e->chunk_shape[k] > e->shape[k]) r->bad = true;
    }
    if (!r->bad && !*nomem &&
        (nbr_chunk_grid_count(e->ndim, e->shape, e->chunk_shape) != count ||
         !nbr_chunk_contiguous(e->ndim, e->shape, e->chunk_shape) ||
         count > SIZE_MAX / sizeof *e->chunks))
        r->bad = true;
}

/* The segments the listed chunks use. */
static void get_chunk_segments(reader *r, nbr_object_entry *e, bool lean, bool *nomem)
{
    uint32_t segments = get_u32(r);
    if (!r->bad && ((segments == 0 && !lean) || segments > (uint64_t)(r->end - r->p) / 4))
        r->bad = true;
    if (!r->bad && !(e->chunk_segments = calloc((size_t)segments + 1, sizeof(char *))))
        *nomem = true;
    for (uint32_t k = 0; !r->bad && !*nomem && k < segments; k++) {
        e->chunk_segments[k] = get_str(r, NULL, nomem);
        if (e->chunk_segments[k]) e->chunk_segment_count = k + 1;
        if (!r->bad && !*nomem && (!e->chunk_segments[k] ||
                                   !nbr_segment_name_valid(e->chunk_segments[k])))
            r->bad = true;
    }
}

/* One (id, segment index, stored bytes) into `c`. */
static void get_chunk(reader *r, nbr_chunk_ref *c, const nbr_object_entry *e)
{
    const unsigned char *id = get_bytes(r, 16);
    if (id) memcpy(c->id.bytes, id, 16);
    c->segment = get_u32(r);
    c->stored_bytes = get_u64(r);
    if (c->segment >= e->chunk_segment_count) r->bad = true;
}

/* Form 1: the boxes that differ from the base's, in increasing order, kept
 * aside until the base's entry completes the list (nothing of the grid's
 * size is allocated on this entry's word). */
static void get_changed_chunks(reader *r, nbr_object_entry *e, bool *nomem)
{
    uint64_t n = get_u64(r);
    if (!r->bad && n > (uint64_t)(r->end - r->p) / 36) r->bad = true;
    if (r->bad) return;
    uint64_t *boxes = malloc(((size_t)n + 1) * sizeof *boxes);
    nbr_chunk_ref *chunks = calloc((size_t)n + 1, sizeof *chunks);
    if (!boxes || !chunks) {
        free(boxes);
        free(chunks);
        *nomem = true;
        return;
    }
    for (uint64_t i = 0; !r->bad && i < n; i++) {
        boxes[i] = get_u64(r);
        get_chunk(r, &chunks[i], e);
    }
    if (!nbr_entry_set_changed(e, boxes, chunks, (size_t)n)) r->bad = true;
}

/* An entry's chunk list (put_chunks); sets r->bad or *nomem on failure. */
static void get_chunks(reader *r, nbr_object_entry *e, bool *nomem)
{
    uint64_t count = get_u64(r);
    if (r->bad || count == 0) return;
    get_chunk_shape(r, e, count, nomem);
    const unsigned char *form = r->bad || *nomem ? NULL : get_bytes(r, 1);
    if (!r->bad && !*nomem && (!form || *form > 1)) r->bad = true;
    bool lean = form && *form == 1;
    if (!r->bad && !*nomem) get_chunk_segments(r, e, lean, nomem);
    /* A whole list (form 0) is in the bytes that remain. */
    if (!r->bad && !*nomem && !lean && count > (uint64_t)(r->end - r->p) / 28) r->bad = true;
    if (!r->bad && !*nomem) e->chunk_count = (size_t)count;
    if (!r->bad && !*nomem && lean) get_changed_chunks(r, e, nomem);
    if (!r->bad && !*nomem && !lean && !(e->chunks = calloc((size_t)count, sizeof *e->chunks)))
        *nomem = true;
    for (uint64_t k = 0; !r->bad && !*nomem && !lean && k < count; k++)
        get_chunk(r, &e->chunks[k], e);
    const unsigned char *chained = r->bad || *nomem ? NULL : get_bytes(r, 1);
    if (r->bad || *nomem || !chained || *chained > 1 || (lean && !*chained)) {
        r->bad = true;
        return;
    }
    const unsigned char *base = *chained ? get_bytes(r, 16) : NULL;
    if (base) memcpy(e->base.bytes, base, 16);
    e->chained = base != NULL;
    if (e->chained && nbr_object_id_equal(&e->base, &e->id)) r->bad = true; /* as the parser */
}

/* One manifest; false if bad or out of memory (then `m` is cleared). */
/* One manifest's bindings. */
static void get_bindings(reader *r, nbr_manifest *m, nbr_arena *arena, bool *nomem)
{
    uint64_t names = get_u64(r);
    if (names > (uint64_t)(r->end - r->p) / 21) r->bad = true;
    if (!r->bad && nbr_manifest_borrow_bindings(m, arena, (size_t)names) != NBR_OK) *nomem = true;
    for (uint64_t i = 0; !r->bad && !*nomem && i < names; i++) {
        size_t length = 0;
        const char *name = view_str(r, &length);
        const unsigned char *del = get_bytes(r, 1), *id = get_bytes(r, 16);
        if (!name || !del || !id || *del > 1) {
            r->bad = true;
            break;
        }
        nbr_object_id oid;
        memcpy(oid.bytes, id, 16);
        /* A name twice would be a different manifest: refuse it (binding it
         * again would not add a name). */
        size_t before = m->names.count;
        if (nbr_manifest_bind_n(m, name, length, *del ? NULL : &oid) != NBR_OK) *nomem = true;
        else if (m->names.count == before) r->bad = true;
    }
}

/* One object entry, its strings and shape in `arena`; false when bad or
 * out of memory (`e` cleared). */
static bool get_entry(reader *r, nbr_object_entry *e, nbr_arena *arena, bool *nomem)
{
    memset(e, 0, sizeof *e);
    e->borrowed = true;
    const unsigned char *id = get_bytes(r, 16);
    if (id) memcpy(e->id.bytes, id, 16);
    uint32_t kind = get_u32(r);
    e->kind = (nbr_object_kind)kind;
    e->type = get_str(r, arena, nomem);
    e->ndim = (size_t)get_u64(r);
    if (!r->bad && (kind < 1 || kind > 2 || e->ndim > NBR_MAX_DIMS || !e->type)) r->bad = true;
    /* Never NULL, 0-d too, as the parser makes it. */
    if (!r->bad && !*nomem && !(e->shape = nbr_arena_alloc(arena, (e->ndim ? e->ndim : 1) *
                                                                      sizeof *e->shape)))
        *nomem = true;
    for (size_t k = 0; !r->bad && !*nomem && k < e->ndim; k++) e->shape[k] = get_u64(r);
    e->logical_bytes = get_u64(r);
    e->stored_bytes = get_u64(r);
    e->segment = get_str(r, arena, nomem);
    if (!r->bad && !*nomem && (!e->segment || !nbr_segment_name_valid(e->segment)))
        r->bad = true;
    if (!r->bad && !*nomem) get_chunks(r, e, nomem);
    if (!r->bad && !*nomem) return true;
    nbr_object_entry_clear(e);
    return false;
}

static bool get_manifest(reader *r, nbr_manifest *m, nbr_arena *arena, bool *nomem)
{
    m->damaged = get_str(r, NULL, nomem);
    if (r->bad || *nomem) return false;
    if (m->damaged) return true;
    m->borrowed = true; /* its strings go into the arena, from the first */
    m->parent = get_u64(r);
    m->cell_id = get_str(r, arena, nomem);
    m->execution_count = (int64_t)get_u64(r);
    m->started = get_str(r, arena, nomem);
    m->committed = get_str(r, arena, nomem);
    m->host_json = get_str(r, arena, nomem);
    m->ranks = get_u32(r);
    if (!r->bad && !*nomem) get_bindings(r, m, arena, nomem);
    uint64_t objects = r->bad || *nomem ? 0 : get_u64(r);
    if (objects > (uint64_t)(r->end - r->p) / 40) r->bad = true;
    if (!r->bad && !*nomem && nbr_manifest_borrow_objects(m, arena, (size_t)objects) != NBR_OK)
        *nomem = true;
    /* Each entry is read in its place: entries are large (~200 bytes) and
     * an open reads tens of thousands. */
    for (uint64_t i = 0; !r->bad && !*nomem && i < objects; i++) {
        if (!get_entry(r, &m->objects[i], arena, nomem)) break;
        m->object_count++;
    }
    if (!r->bad && !*nomem && (!m->cell_id || !m->started || !m->committed || !m->host_json))
        r->bad = true;
    if (r->bad || *nomem) {
        nbr_manifest_clear(m);
        return false;
    }
    return true;
}

/* Completes the entries listed in lean form from their bases, which the
 * manifests loaded before it or itself hold; false (`m` cleared) if one
 * cannot be: the index is then not used. */
static bool complete_lean_entries(nbr_manifest *m, const nbr_store *s, bool *nomem)
{
    nbr_entry_finder bases = nbr_store_finder(s);
    nbr_status st = nbr_manifest_complete(m, &bases, "INDEX");
    if (st == NBR_OK) return true;
    if (st == NBR_ENOMEM) *nomem = true;
    else nbr_clear_error();
    nbr_manifest_clear(m);
    return false;
}

/* INDEX's bytes and the ctime of the file they were read from. */
static nbr_status read_index(char **text, size_t *length, uint64_t *ctime_ns, const char *path)
{
    *text = NULL;
    *length = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? NBR_ENOTFOUND : NBR_EIO;
    struct stat sb;
    nbr_status st = fstat(fd, &sb) == 0 ? NBR_OK : NBR_EIO;
    size_t want = st == NBR_OK ? (size_t)sb.st_size : 0, got = 0;
    char *data = st == NBR_OK ? malloc(want + 1) : NULL;
    if (st == NBR_OK && !data) st = nbr_fail_nomem("reading the store index");
    while (st == NBR_OK && got < want) {
        ssize_t n = read(fd, data + got, want - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) st = NBR_EIO;
        else got += (size_t)n;
    }
    close(fd);
    if (st != NBR_OK) {
        free(data);
        return st;
    }
    *text = data;
    *length = want;
    *ctime_ns = ns_of(&sb.st_ctim);
    return NBR_OK;
}

nbr_status nbr_snapshot_load(uint64_t *covered_out, nbr_store *s, char **names, size_t count)
{
    *covered_out = 0;
    char *path = nbr_io_join(s->root, "INDEX"), *text = NULL;
    size_t length = 0;
    uint64_t index_ctime = 0;
    if (!path) return nbr_fail_nomem("reading the store index");
    nbr_status st = read_index(&text, &length, &index_ctime, path);
    free(path);
    if (st == NBR_ENOMEM) return st;
    if (st != NBR_OK) return NBR_OK; /* absent or unreadable: read the manifests */
    bool nomem = false;
    reader r = {(const unsigned char *)text, (const unsigned char *)text + length, false};
    const unsigned char *magic = get_bytes(&r, 8);
    uint32_t version = get_u32(&r), flags = get_u32(&r);
    uint64_t covered = get_u64(&r), n = get_u64(&r), h = get_u64(&r);
    dir_stamp recorded, now;
    recorded.ino = get_u64(&r);
    recorded.mtime_ns = get_u64(&r);
    recorded.ctime_ns = get_u64(&r);
    /* The fast check: checkpoints/ is as the writer stamped it, and the
     * stamp is older than INDEX itself (a change in the same clock tick as
     * the stamp would not show: then the full check). */
    bool stamp_ok = !r.bad && recorded.ctime_ns != 0 && recorded.ctime_ns < index_ctime &&
                    stamp_dir(&now, s->root) && memcmp(&now, &recorded, sizeof now) == 0;
    bool fresh = false;
    if (!names && !r.bad) {
        fresh = stamp_ok;
        if (!fresh) {
            free(text);
            return NBR_OK;
        }
    }
    nbr_object_id sum;
    memset(&sum, 0, sizeof sum);
    if (!r.bad && nbr_hash_bytes(&sum, text, length - 16) != NBR_OK) r.bad = true;
    uint64_t listed = 0, lh = 0;
    if (!r.bad && !fresh && covered > 0 &&
        !hash_names(&listed, &lh, s->root, names, count, covered))
        r.bad = true;
    bool ok = !r.bad && length >= HEADER_BYTES + 16 && memcmp(magic, MAGIC, 8) == 0 &&
              version == VERSION && (flags & ~FLAG_BLOSC) == 0 &&
              memcmp(sum.bytes, text + length - 16, 16) == 0 && covered > 0 &&
              (fresh || (n == listed && h == lh));
    if (ok) r.end = (const unsigned char *)text + length - 16;
    void *body = NULL;
    if (ok && (flags & FLAG_BLOSC)) {
        size_t body_size = 0, frame_size = (size_t)(r.end - r.p);
        size_t most = frame_size < BODY_MAX / BODY_EXPANSION ? frame_size * BODY_EXPANSION
                                                              : BODY_MAX;
        /* Out of memory here is no reason to fail the open: the manifests
         * are read instead. */
        ok = nbr_blosc_decompress(&body, &body_size, r.p, frame_size, most) == NBR_OK;
        if (!ok) nbr_clear_error();
        if (ok) {
            r.p = body;
            r.end = (const unsigned char *)body + body_size;
        }
    }
    /* Room for about as many ids as the body can hold entries spares the
     * object index its growing; an optimisation only (a failure here is
     * left to the growing to meet). */
    if (ok) (void)nbr_object_index_reserve(&s->objects, (size_t)(r.end - r.p) / ENTRY_TYPICAL_BYTES);
    uint64_t prev = 0;
    for (uint64_t i = 0; ok && i < n; i++) {
        nbr_manifest *m = malloc(sizeof *m);
        if (!m) {
            nomem = true;
            break;
        }
        nbr_manifest_init(m, get_u64(&r));
        if (r.bad || m->seq <= prev || m->seq > covered || !get_manifest(&r, m, &s->index_strings, &nomem) ||
            !complete_lean_entries(m, s, &nomem)) {
            free(m);
            ok = false;
            break;
        }
        prev = m->seq;
        if (nbr_store_add_manifest(s, m) != NBR_OK) nomem = true;
    }
    if (ok && !nomem && (r.p != r.end || prev != covered)) ok = false;
    free(body);
    free(text);
    if (nomem || !ok) {
        /* Forget whatever was loaded: the manifests are read instead. */
        nbr_store_forget_manifests(s);
        s->last_seq = 0; /* as on entry: every manifest is read next */
        if (nomem) return nbr_fail_nomem("reading the store index");
        return NBR_OK;
    }
    *covered_out = covered;
    s->index_seq = covered;
    s->index_fresh = stamp_ok;
    return NBR_OK;
}
