/* dtype.c - NumPy dtype strings as HDF5 types and back (docs/store-format.md,
 * "dtypes").
 *
 * Accepted strings are exactly what NumPy writes, so that one dtype has one
 * spelling (the spelling is part of an object's hash):
 *   plain       dtype.str: "|b1", "|i1" "|u1", "<i2".."<i8" / ">", "<u2"..,
 *               "<f2" "<f4" "<f8", "<c8" "<c16", "|S<n>", "<U<n>" / ">U<n>",
 *               "|V<n>", "<M8" "<M8[unit]" "<M8[<k>unit]", the same with m8;
 *               a 1-byte number has order '|', wider ones '<' or '>'; no
 *               leading zeros, n >= 1.
 *   structured  dtype.descr as JSON: a list of fields [name, type] or
 *               [name, type, shape]; type is a plain string or a nested descr
 *               list; shape a list of positive ints; name a string or
 *               [title, name].  A field ["", "|V<n>"] is padding (NumPy writes
 *               gaps and trailing space that way): it advances the offset.
 *               Any JSON spacing is accepted; nbr_dtype_normalize() gives
 *               Python's json.dumps(dtype.descr) spelling, which is also what
 *               nbr_dtype_from_hdf5() writes.
 *
 * HDF5 types (what h5py reads back):
 *   |b1      enum of a signed 8-bit int, FALSE=0 TRUE=1 (h5py's bool)
 *   ints     the standard integer of that size and order
 *   <f2      IEEE half built as h5py builds it (sign 15, exp 10+5, mant 0+10,
 *            bias 15); <f4 <f8 the IEEE types
 *   <c8 <c16 compound {r: float at 0, i: float at size/2} (h5py's complex)
 *   |S<n>    fixed-length string of n bytes, NULLPAD, ASCII   (h5py: |S<n>)
 *   |V<n>    opaque of n bytes                                 (h5py: |V<n>)
 *   <U<n>    array type of n uint32 (UCS-4 code points) in the dtype's order;
 *            h5py reads a dataset of it as uint32 with a trailing axis of
 *            length n, which `.view('<U<n>')[..., 0]` turns back into text
 *   <M8[u]   64-bit signed integer (h5py: <i8; the unit is the attribute's)
 *   struct   compound of that itemsize, fields at NumPy's offsets, subarray
 *            fields as HDF5 array types (a subarray of <U<n> flattens into one
 *            array type with n as its last dimension). */
#include "dtype.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "json.h"
#include "utf8.h"

/* NumPy's own limit on an itemsize. */
#define ITEMSIZE_MAX ((size_t)INT32_MAX)
#define MAX_NESTING 64

typedef struct ctx {
    const char *whole; /* the dtype string as given, for messages */
} ctx;

static nbr_status bad(const ctx *c, nbr_status status, const char *fmt, ...) NBR_PRINTF(3, 4);

static nbr_status bad(const ctx *c, nbr_status status, const char *fmt, ...)
{
    char why[512];
    va_list args;
    va_start(args, fmt);
    vsnprintf(why, sizeof why, fmt, args);
    va_end(args);
    size_t n = strlen(c->whole);
    return nbr_fail(status, "dtype '%.*s%s': %s", n > 300 ? 300 : (int)n, c->whole,
                    n > 300 ? "..." : "", why);
}

/* ---- plain dtypes --------------------------------------------------------- */

typedef struct plain {
    char order; /* '<', '>', '|' */
    char kind;  /* b i u f c S U V M m */
    size_t itemsize;
    size_t count; /* U: code points */
} plain;

static const char *const time_units[] = {"Y",  "M",  "W",  "D",  "h",  "m", "s",
                                         "ms", "us", "ns", "ps", "fs", "as"};

/* A decimal without sign or leading zeros, at most `max`. */
static bool parse_count(const char **p, const char *end, size_t max, size_t *out)
{
    const char *s = *p;
    if (s >= end || *s < '1' || *s > '9') return false;
    size_t v = 0;
    while (s < end && *s >= '0' && *s <= '9') {
        v = v * 10 + (size_t)(*s - '0');
        if (v > max) return false;
        s++;
    }
    *p = s;
    *out = v;
    return true;
}

static nbr_status parse_plain(const ctx *c, const char *s, size_t len, plain *out)
{
    if (len == 0) return bad(c, NBR_EINVAL, "empty dtype string");
    if (memchr(s, 'O', len < 2 ? len : 2))
        return bad(c, NBR_EUNSUPPORTED,
                   "object arrays cannot be stored as typed arrays (serialize them as a blob)");
    if (len < 3) return bad(c, NBR_EINVAL, "too short for a NumPy dtype.str (like '<f8')");
    char order = s[0], kind = s[1];
    if (order != '<' && order != '>' && order != '|')
        return bad(c, NBR_EINVAL, "must start with a byte order '<', '>' or '|'");
    if (!strchr("biufcSUVMm", kind) || kind == '\0')
        return bad(c, NBR_EINVAL, "unknown dtype kind '%c'", kind);
    const char *p = s + 2, *end = s + len;
    size_t n = 0;
    if (!parse_count(&p, end, ITEMSIZE_MAX, &n))
        return bad(c, NBR_EINVAL,
                   "expected a size after '%c%c' (a positive number without leading zeros)", order,
                   kind);
    out->order = order;
    out->kind = kind;
    out->itemsize = n;
    out->count = 0;
    bool onebyte_order_ok = true;
    switch (kind) {
    case 'b':
        if (n != 1 || order != '|') return bad(c, NBR_EINVAL, "a bool is written '|b1'");
        break;
    case 'i':
    case 'u':
        if (n != 1 && n != 2 && n != 4 && n != 8)
            return bad(c, NBR_EUNSUPPORTED, "integers have 1, 2, 4 or 8 bytes");
        onebyte_order_ok = (n == 1) == (order == '|');
        break;
    case 'f':
        if (n == 16)
            return bad(c, NBR_EUNSUPPORTED,
                       "long double (float128) has no portable HDF5 type; convert to '<f8'");
        if (n != 2 && n != 4 && n != 8)
            return bad(c, NBR_EUNSUPPORTED, "floats have 2, 4 or 8 bytes");
        onebyte_order_ok = order != '|';
        break;
    case 'c':
        if (n == 32)
            return bad(c, NBR_EUNSUPPORTED,
                       "complex long double has no portable HDF5 type; convert to '<c16'");
        if (n != 8 && n != 16)
            return bad(c, NBR_EUNSUPPORTED, "complex numbers have 8 or 16 bytes");
        onebyte_order_ok = order != '|';
        break;
    case 'S':
    case 'V':
        if (order != '|')
            return bad(c, NBR_EINVAL, "bytes and void types have no byte order: write '|%c%zu'",
                       kind, n);
        break;
    case 'U':
        if (order == '|') return bad(c, NBR_EINVAL, "a unicode string needs '<' or '>'");
        if (n > ITEMSIZE_MAX / 4) return bad(c, NBR_EINVAL, "too long");
        out->count = n;
        out->itemsize = 4 * n;
        break;
    case 'M':
    case 'm':
        if (n != 8) return bad(c, NBR_EINVAL, "datetime64 and timedelta64 have 8 bytes");
        if (order == '|') return bad(c, NBR_EINVAL, "datetime64 needs '<' or '>'");
        if (p < end) {
            if (*p != '[' || end[-1] != ']')
                return bad(c, NBR_EINVAL, "expected a unit in brackets, like '[ns]'");
            p++;
            const char *unit_end = end - 1;
            size_t mult = 0;
            if (*p >= '0' && *p <= '9') {
                if (!parse_count(&p, unit_end, INT32_MAX, &mult) || mult == 1)
                    return bad(c, NBR_EINVAL,
                               "a unit multiplier is a number above 1 without leading zeros");
            }
            size_t ulen = (size_t)(unit_end - p);
            bool known = false;
            for (size_t i = 0; i < sizeof time_units / sizeof time_units[0]; i++)
                if (strlen(time_units[i]) == ulen && memcmp(time_units[i], p, ulen) == 0)
                    known = true;
            if (!known) return bad(c, NBR_EINVAL, "unknown time unit '%.*s'", (int)ulen, p);
            p = end;
        }
        break;
    default: break;
    }
    if (!onebyte_order_ok) {
        if (n == 1)
            return bad(c, NBR_EINVAL, "a 1-byte type has no byte order: NumPy writes '|%c1'", kind);
        return bad(c, NBR_EINVAL, "a %zu-byte number needs '<' or '>'", n);
    }
    if (p != end) return bad(c, NBR_EINVAL, "unexpected text after the size");
    return NBR_OK;
}

static nbr_status hdf5_fail(const ctx *c, const char *what)
{
    return bad(c, NBR_ERROR, "HDF5 failed to build %s", what);
}

static hid_t float_type(size_t size, char order)
{
    bool be = order == '>';
    if (size == 4) return H5Tcopy(be ? H5T_IEEE_F32BE : H5T_IEEE_F32LE);
    if (size == 8) return H5Tcopy(be ? H5T_IEEE_F64BE : H5T_IEEE_F64LE);
    /* IEEE 754 half, laid out as h5py lays it out. */
    hid_t t = H5Tcopy(H5T_IEEE_F32LE);
    if (t < 0) return -1;
    if (H5Tset_fields(t, 15, 10, 5, 0, 10) < 0 || H5Tset_size(t, 2) < 0 ||
        H5Tset_ebias(t, 15) < 0 || (be && H5Tset_order(t, H5T_ORDER_BE) < 0)) {
        H5Tclose(t);
        return -1;
    }
    return t;
}

static hid_t int_type(size_t size, bool is_signed, char order)
{
    bool be = order == '>';
    switch (size) {
    case 1: return H5Tcopy(is_signed ? H5T_STD_I8LE : H5T_STD_U8LE);
    case 2:
        return H5Tcopy(is_signed ? (be ? H5T_STD_I16BE : H5T_STD_I16LE)
                                 : (be ? H5T_STD_U16BE : H5T_STD_U16LE));
    case 4:
        return H5Tcopy(is_signed ? (be ? H5T_STD_I32BE : H5T_STD_I32LE)
                                 : (be ? H5T_STD_U32BE : H5T_STD_U32LE));
    default:
        return H5Tcopy(is_signed ? (be ? H5T_STD_I64BE : H5T_STD_I64LE)
                                 : (be ? H5T_STD_U64BE : H5T_STD_U64LE));
    }
}

static nbr_status plain_to_hdf5(const ctx *c, const plain *p, hid_t *out)
{
    hid_t t = -1;
    switch (p->kind) {
    case 'b': {
        t = H5Tenum_create(H5T_STD_I8LE);
        signed char no = 0, yes = 1;
        if (t >= 0 &&
            (H5Tenum_insert(t, "FALSE", &no) < 0 || H5Tenum_insert(t, "TRUE", &yes) < 0)) {
            H5Tclose(t);
            t = -1;
        }
        break;
    }
    case 'i':
    case 'u': t = int_type(p->itemsize, p->kind == 'i', p->order); break;
    case 'M':
    case 'm': t = int_type(8, true, p->order); break;
    case 'f': t = float_type(p->itemsize, p->order); break;
    case 'c': {
        size_t half = p->itemsize / 2;
        hid_t f = float_type(half, p->order);
        if (f < 0) break;
        t = H5Tcreate(H5T_COMPOUND, p->itemsize);
        if (t >= 0 && (H5Tinsert(t, "r", 0, f) < 0 || H5Tinsert(t, "i", half, f) < 0)) {
            H5Tclose(t);
            t = -1;
        }
        H5Tclose(f);
        break;
    }
    case 'S':
        t = H5Tcopy(H5T_C_S1);
        if (t >= 0 && (H5Tset_size(t, p->itemsize) < 0 || H5Tset_strpad(t, H5T_STR_NULLPAD) < 0 ||
                       H5Tset_cset(t, H5T_CSET_ASCII) < 0)) {
            H5Tclose(t);
            t = -1;
        }
        break;
    case 'V': t = H5Tcreate(H5T_OPAQUE, p->itemsize); break;
    case 'U': {
        hsize_t dims[1] = {p->count};
        t = H5Tarray_create2(p->order == '>' ? H5T_STD_U32BE : H5T_STD_U32LE, 1, dims);
        break;
    }
    default: break;
    }
    if (t < 0) return hdf5_fail(c, "the type");
    *out = t;
    return NBR_OK;
}

/* ---- structured dtypes (descr JSON) ---------------------------------------- */

typedef struct member {
    const char *name;
    hid_t type;
    size_t offset;
} member;

static nbr_status descr_to_hdf5(const ctx *c, const nbr_json *list, int depth, bool build,
                                hid_t *out, size_t *itemsize);

static bool valid_name(const nbr_json *v)
{
    return nbr_json_is_string(v) && strlen(nbr_json_string(v)) == nbr_json_string_length(v);
}

/* An array type of `shape` over `base`, an array base flattening into it. */
static hid_t subarray_type(hid_t base, const hsize_t *shape, int rank)
{
    hsize_t dims[H5S_MAX_RANK];
    memcpy(dims, shape, (size_t)rank * sizeof *dims);
    hid_t elem = base;
    bool close_elem = false;
    if (H5Tget_class(base) == H5T_ARRAY) {
        int inner = H5Tget_array_ndims(base);
        if (inner < 0 || rank + inner > H5S_MAX_RANK) return -1;
        if (H5Tget_array_dims2(base, dims + rank) < 0) return -1;
        rank += inner;
        elem = H5Tget_super(base);
        if (elem < 0) return -1;
        close_elem = true;
    }
    hid_t t = H5Tarray_create2(elem, (unsigned)rank, dims);
    if (close_elem) H5Tclose(elem);
    return t;
}

static nbr_status field_to_hdf5(const ctx *c, const nbr_json *field, size_t index, int depth,
                                bool build, member *m, size_t *size, bool *padding)
{
    *padding = false;
    size_t nparts = nbr_json_length(field);
    if (!nbr_json_is_array(field) || nparts < 2 || nparts > 3)
        return bad(c, NBR_EINVAL, "field %zu is not [name, type] or [name, type, shape]", index);
    const nbr_json *name = nbr_json_at(field, 0), *type = nbr_json_at(field, 1),
                   *shape = nbr_json_at(field, 2);
    if (nbr_json_is_array(name)) { /* [title, name] */
        if (nbr_json_length(name) != 2 || !valid_name(nbr_json_at(name, 0)) ||
            !valid_name(nbr_json_at(name, 1)))
            return bad(c, NBR_EINVAL, "field %zu: a titled name is [title, name], two strings",
                       index);
        name = nbr_json_at(name, 1);
    } else if (!valid_name(name)) {
        return bad(c, NBR_EINVAL, "field %zu: the name must be a string without NUL", index);
    }
    m->name = nbr_json_string(name);
    m->type = -1;

    size_t base_size = 0;
    hid_t base = -1;
    if (nbr_json_is_string(type)) {
        const char *ts = nbr_json_string(type);
        plain p;
        nbr_status st = parse_plain(c, ts, nbr_json_string_length(type), &p);
        if (st != NBR_OK) return st;
        if (m->name[0] == '\0') {
            if (p.kind != 'V' || shape)
                return bad(c, NBR_EINVAL,
                           "field %zu has no name (only padding ['', '|V<n>'] may be unnamed)",
                           index);
            *padding = true;
            *size = p.itemsize;
            return NBR_OK;
        }
        base_size = p.itemsize;
        if (build && (st = plain_to_hdf5(c, &p, &base)) != NBR_OK) return st;
    } else if (nbr_json_is_array(type)) {
        if (m->name[0] == '\0') return bad(c, NBR_EINVAL, "field %zu has no name", index);
        nbr_status st = descr_to_hdf5(c, type, depth + 1, build, build ? &base : NULL, &base_size);
        if (st != NBR_OK) return st;
    } else {
        return bad(c, NBR_EINVAL, "field '%s': the type must be a dtype string or a field list",
                   m->name);
    }

    size_t total = base_size;
    if (shape) {
        hsize_t dims[H5S_MAX_RANK];
        size_t rank = nbr_json_length(shape);
        if (!nbr_json_is_array(shape) || rank == 0 || rank > H5S_MAX_RANK) {
            if (base >= 0) H5Tclose(base);
            return bad(c, NBR_EINVAL, "field '%s': the shape must be a list of 1 to 32 sizes",
                       m->name);
        }
        for (size_t i = 0; i < rank; i++) {
            int64_t d = 0;
            if (!nbr_json_number_int64(nbr_json_at(shape, i), &d) || d < 1 ||
                (size_t)d > ITEMSIZE_MAX || total > ITEMSIZE_MAX / (size_t)d) {
                if (base >= 0) H5Tclose(base);
                return bad(c, NBR_EINVAL,
                           "field '%s': shape sizes are positive integers and the field must "
                           "stay under 2 GiB",
                           m->name);
            }
            dims[i] = (hsize_t)d;
            total *= (size_t)d;
        }
        if (build) {
            hid_t arr = subarray_type(base, dims, (int)rank);
            H5Tclose(base);
            base = arr;
            if (arr < 0) return hdf5_fail(c, "a subarray type");
        }
    }
    m->type = base;
    *size = total;
    return NBR_OK;
}

static nbr_status descr_to_hdf5(const ctx *c, const nbr_json *list, int depth, bool build,
                                hid_t *out, size_t *itemsize)
{
    if (depth > MAX_NESTING) return bad(c, NBR_EINVAL, "nested more than %d deep", MAX_NESTING);
    size_t n = nbr_json_length(list);
    if (!nbr_json_is_array(list) || n == 0)
        return bad(c, NBR_EINVAL, "a structured dtype is a non-empty list of fields");
    member *members = calloc(n, sizeof *members);
    if (!members) return nbr_fail_nomem("parsing a structured dtype");
    size_t used = 0, offset = 0;
    nbr_status st = NBR_OK;
    for (size_t i = 0; i < n && st == NBR_OK; i++) {
        member m;
        size_t size = 0;
        bool padding = false;
        st = field_to_hdf5(c, nbr_json_at(list, i), i, depth, build, &m, &size, &padding);
        if (st != NBR_OK) break;
        if (!padding) {
            for (size_t j = 0; j < used; j++) {
                if (strcmp(members[j].name, m.name) == 0) {
                    st = bad(c, NBR_EINVAL, "field name '%s' appears twice", m.name);
                    break;
                }
            }
            m.offset = offset;
            members[used++] = m;
            if (st != NBR_OK) break;
        }
        if (size > ITEMSIZE_MAX - offset) {
            st = bad(c, NBR_EINVAL, "the itemsize exceeds 2 GiB");
            break;
        }
        offset += size;
    }
    if (st == NBR_OK && used == 0)
        st = bad(c, NBR_EINVAL, "a structured dtype needs a named field");
    if (st == NBR_OK && offset == 0) st = bad(c, NBR_EINVAL, "a structured dtype of size 0");
    hid_t t = -1;
    if (st == NBR_OK && build) {
        t = H5Tcreate(H5T_COMPOUND, offset);
        for (size_t j = 0; t >= 0 && j < used; j++) {
            if (H5Tinsert(t, members[j].name, members[j].offset, members[j].type) < 0) {
                H5Tclose(t);
                t = -1;
            }
        }
        if (t < 0) st = hdf5_fail(c, "the compound type");
    }
    for (size_t j = 0; j < used; j++)
        if (members[j].type >= 0) H5Tclose(members[j].type);
    free(members);
    if (st != NBR_OK) return st;
    if (out) *out = t;
    *itemsize = offset;
    return NBR_OK;
}

/* ---- entry points ------------------------------------------------------------ */

static nbr_status convert(hid_t *out, size_t *itemsize, const char *dtype, nbr_json_doc **keep)
{
    if (!dtype) return nbr_fail(NBR_EINVAL, "dtype is NULL");
    ctx c = {dtype};
    size_t len = strlen(dtype);
    if (len > 0 && dtype[0] == '[') {
        nbr_json_doc *doc = NULL;
        nbr_json_error err;
        nbr_status st = nbr_json_parse(&doc, dtype, len, "dtype", NULL, &err);
        if (st == NBR_ENOMEM) return st;
        if (st != NBR_OK)
            return bad(&c, NBR_EINVAL, "not a JSON field list (%s at column %u)", err.message,
                       (unsigned)err.column);
        size_t size = 0;
        st = descr_to_hdf5(&c, nbr_json_root(doc), 0, out != NULL, out, &size);
        if (st == NBR_OK && itemsize) *itemsize = size;
        if (keep && st == NBR_OK)
            *keep = doc;
        else
            nbr_json_doc_free(doc);
        return st;
    }
    plain p;
    nbr_status st = parse_plain(&c, dtype, len, &p);
    if (st != NBR_OK) return st;
    if (out && (st = plain_to_hdf5(&c, &p, out)) != NBR_OK) return st;
    if (itemsize) *itemsize = p.itemsize;
    return NBR_OK;
}

nbr_status nbr_dtype_to_hdf5(hid_t *out, size_t *itemsize, const char *dtype)
{
    if (!out) return nbr_fail(NBR_EINVAL, "nbr_dtype_to_hdf5: out is NULL");
    *out = -1;
    size_t size = 0;
    nbr_status st = convert(out, &size, dtype, NULL);
    if (st == NBR_OK && itemsize) *itemsize = size;
    return st;
}

nbr_status nbr_dtype_itemsize(size_t *out, const char *dtype)
{
    if (!out) return nbr_fail(NBR_EINVAL, "nbr_dtype_itemsize: out is NULL");
    return convert(NULL, out, dtype, NULL);
}

/* ---- writing dtype strings -------------------------------------------------- */

/* `text` as Python's json.dumps writes it (ensure_ascii): false if not UTF-8. */
static bool put_json_string(nbr_buf *b, const char *text, size_t len)
{
    if (nbr_utf8_first_invalid(text, len) != len) return false;
    nbr_buf_puts(b, "\"");
    const unsigned char *s = (const unsigned char *)text, *end = s + len;
    while (s < end) {
        unsigned ch = *s;
        if (ch < 0x80) {
            switch (ch) {
            case '"': nbr_buf_puts(b, "\\\""); break;
            case '\\': nbr_buf_puts(b, "\\\\"); break;
            case '\n': nbr_buf_puts(b, "\\n"); break;
            case '\r': nbr_buf_puts(b, "\\r"); break;
            case '\t': nbr_buf_puts(b, "\\t"); break;
            case '\b': nbr_buf_puts(b, "\\b"); break;
            case '\f': nbr_buf_puts(b, "\\f"); break;
            default:
                if (ch < 0x20)
                    nbr_buf_printf(b, "\\u%04x", ch);
                else
                    nbr_buf_append(b, (const char *)s, 1);
            }
            s++;
            continue;
        }
        /* Valid UTF-8 (checked above): decode one code point. */
        unsigned cp;
        int extra;
        if (ch >= 0xF0)
            cp = ch & 0x07, extra = 3;
        else if (ch >= 0xE0)
            cp = ch & 0x0F, extra = 2;
        else
            cp = ch & 0x1F, extra = 1;
        for (int i = 1; i <= extra; i++) cp = (cp << 6) | (s[i] & 0x3F);
        s += 1 + extra;
        if (cp >= 0x10000) {
            cp -= 0x10000;
            nbr_buf_printf(b, "\\u%04x\\u%04x", 0xD800 + (cp >> 10), 0xDC00 + (cp & 0x3FF));
        } else {
            nbr_buf_printf(b, "\\u%04x", cp);
        }
    }
    nbr_buf_puts(b, "\"");
    return true;
}

/* The canonical spelling of a parsed (and validated) descr list. */
static bool put_descr_json(nbr_buf *b, const nbr_json *list)
{
    nbr_buf_puts(b, "[");
    for (size_t i = 0; i < nbr_json_length(list); i++) {
        const nbr_json *f = nbr_json_at(list, i);
        if (i) nbr_buf_puts(b, ", ");
        nbr_buf_puts(b, "[");
        const nbr_json *name = nbr_json_at(f, 0), *type = nbr_json_at(f, 1),
                       *shape = nbr_json_at(f, 2);
        if (nbr_json_is_array(name)) {
            const nbr_json *t = nbr_json_at(name, 0), *n = nbr_json_at(name, 1);
            nbr_buf_puts(b, "[");
            if (!put_json_string(b, nbr_json_string(t), nbr_json_string_length(t))) return false;
            nbr_buf_puts(b, ", ");
            if (!put_json_string(b, nbr_json_string(n), nbr_json_string_length(n))) return false;
            nbr_buf_puts(b, "]");
        } else if (!put_json_string(b, nbr_json_string(name), nbr_json_string_length(name))) {
            return false;
        }
        nbr_buf_puts(b, ", ");
        if (nbr_json_is_array(type)) {
            if (!put_descr_json(b, type)) return false;
        } else if (!put_json_string(b, nbr_json_string(type), nbr_json_string_length(type))) {
            return false;
        }
        if (shape) {
            nbr_buf_puts(b, ", [");
            for (size_t k = 0; k < nbr_json_length(shape); k++) {
                int64_t d = 0;
                nbr_json_number_int64(nbr_json_at(shape, k), &d);
                nbr_buf_printf(b, "%s%lld", k ? ", " : "", (long long)d);
            }
            nbr_buf_puts(b, "]");
        }
        nbr_buf_puts(b, "]");
    }
    nbr_buf_puts(b, "]");
    return true;
}

nbr_status nbr_dtype_normalize(char **out, const char *dtype)
{
    if (!out) return nbr_fail(NBR_EINVAL, "nbr_dtype_normalize: out is NULL");
    *out = NULL;
    nbr_json_doc *doc = NULL;
    size_t size = 0;
    nbr_status st = convert(NULL, &size, dtype, &doc);
    if (st != NBR_OK) return st;
    if (!doc) {
        *out = nbr_copy(dtype);
        return *out ? NBR_OK : nbr_fail_nomem("copying a dtype");
    }
    nbr_buf b;
    nbr_buf_init(&b);
    bool ok = put_descr_json(&b, nbr_json_root(doc));
    nbr_json_doc_free(doc);
    if (!ok) {
        nbr_buf_clear(&b);
        return nbr_fail(NBR_EENCODING, "dtype '%s': a field name is not UTF-8", dtype);
    }
    *out = nbr_buf_take(&b);
    return *out ? NBR_OK : nbr_fail_nomem("writing a dtype");
}

/* ---- HDF5 type -> dtype string ------------------------------------------------ */

static nbr_status from_type(nbr_buf *b, hid_t type, int depth);

static nbr_status unsupported(const char *what)
{
    return nbr_fail(NBR_EUNSUPPORTED, "HDF5 type has no NumPy dtype the store supports: %s", what);
}

static char order_char(hid_t type) { return H5Tget_order(type) == H5T_ORDER_BE ? '>' : '<'; }

static nbr_status int_string(nbr_buf *b, hid_t type, bool force_unsigned)
{
    size_t size = H5Tget_size(type);
    if (size != 1 && size != 2 && size != 4 && size != 8) return unsupported("integer of odd size");
    char kind = force_unsigned || H5Tget_sign(type) == H5T_SGN_NONE ? 'u' : 'i';
    nbr_buf_printf(b, "%c%c%zu", size == 1 ? '|' : order_char(type), kind, size);
    return NBR_OK;
}

static nbr_status float_string(nbr_buf *b, hid_t type, const char *kind, size_t size)
{
    if (size != 2 && size != 4 && size != 8)
        return unsupported("a float that is not 2, 4 or 8 bytes");
    nbr_buf_printf(b, "%c%s%zu", order_char(type), kind, *kind == 'c' ? 2 * size : size);
    return NBR_OK;
}

/* h5py's bool: an enum with exactly FALSE=0 and TRUE=1. */
static bool is_bool_enum(hid_t type)
{
    if (H5Tget_nmembers(type) != 2) return false;
    hid_t super = H5Tget_super(type);
    if (super < 0) return false;
    size_t size = H5Tget_size(super);
    bool ok = size <= 8;
    for (unsigned i = 0; ok && i < 2; i++) {
        char *name = H5Tget_member_name(type, i);
        unsigned char raw[8] = {0};
        long long value = -1;
        ok = name && H5Tget_member_value(type, i, raw) >= 0;
        if (ok) {
            ok = H5Tconvert(super, H5T_NATIVE_LLONG, 1, raw, NULL, H5P_DEFAULT) >= 0;
            memcpy(&value, raw, sizeof value);
        }
        ok = ok && ((strcmp(name, "FALSE") == 0 && value == 0) ||
                    (strcmp(name, "TRUE") == 0 && value == 1));
        if (name) H5free_memory(name);
    }
    H5Tclose(super);
    return ok;
}

/* h5py's complex: compound {r, i} of one float type, packed. */
static bool is_complex(hid_t type, hid_t *member_type, size_t *member_size)
{
    if (H5Tget_nmembers(type) != 2) return false;
    bool ok = true;
    hid_t m[2] = {-1, -1};
    const char *want[2] = {"r", "i"};
    size_t fsize = 0;
    for (unsigned i = 0; i < 2; i++) {
        char *name = H5Tget_member_name(type, i);
        ok = ok && name && strcmp(name, want[i]) == 0;
        if (name) H5free_memory(name);
        m[i] = H5Tget_member_type(type, i);
        ok = ok && m[i] >= 0 && H5Tget_class(m[i]) == H5T_FLOAT;
    }
    if (ok) {
        fsize = H5Tget_size(m[0]);
        ok = H5Tequal(m[0], m[1]) > 0 && (fsize == 4 || fsize == 8) &&
             H5Tget_member_offset(type, 0) == 0 && H5Tget_member_offset(type, 1) == fsize &&
             H5Tget_size(type) == 2 * fsize;
    }
    if (m[1] >= 0) H5Tclose(m[1]);
    if (ok) {
        *member_type = m[0];
        *member_size = fsize;
    } else if (m[0] >= 0) {
        H5Tclose(m[0]);
    }
    return ok;
}

static nbr_status member_string(nbr_buf *b, hid_t mtype, int depth)
{
    hsize_t dims[H5S_MAX_RANK];
    int rank = 0;
    hid_t elem = H5Tcopy(mtype);
    if (elem < 0) return nbr_fail(NBR_ERROR, "HDF5 could not copy a member type");
    while (H5Tget_class(elem) == H5T_ARRAY) {
        int r = H5Tget_array_ndims(elem);
        hsize_t d[H5S_MAX_RANK];
        if (r < 1 || rank + r > H5S_MAX_RANK || H5Tget_array_dims2(elem, d) < 0) {
            H5Tclose(elem);
            return unsupported("array member of too high a rank");
        }
        memcpy(dims + rank, d, (size_t)r * sizeof *d);
        rank += r;
        hid_t super = H5Tget_super(elem);
        H5Tclose(elem);
        elem = super;
        if (elem < 0) return nbr_fail(NBR_ERROR, "HDF5 could not read an array type");
    }
    nbr_buf sub;
    nbr_buf_init(&sub);
    nbr_status st = from_type(&sub, elem, depth + 1);
    H5Tclose(elem);
    if (st == NBR_OK && !sub.failed) {
        /* a plain dtype is a JSON string here (it never needs escapes); a
         * structure is already a list */
        bool list = sub.data && sub.data[0] == '[';
        if (!list) nbr_buf_puts(b, "\"");
        nbr_buf_append(b, sub.data, sub.length);
        if (!list) nbr_buf_puts(b, "\"");
    } else if (st == NBR_OK) {
        st = nbr_fail_nomem("writing a dtype");
    }
    nbr_buf_clear(&sub);
    if (st != NBR_OK) return st;
    if (rank > 0) {
        nbr_buf_puts(b, ", [");
        for (int i = 0; i < rank; i++)
            nbr_buf_printf(b, "%s%llu", i ? ", " : "", (unsigned long long)dims[i]);
        nbr_buf_puts(b, "]");
    }
    return NBR_OK;
}

/* A compound (not complex) as a descr list, padding written as NumPy does. */
static nbr_status compound_string(nbr_buf *b, hid_t type, int depth)
{
    int n = H5Tget_nmembers(type);
    if (n < 1) return unsupported("compound without members");
    size_t size = H5Tget_size(type), end = 0;
    nbr_buf_puts(b, "[");
    bool first = true;
    for (int i = 0; i < n; i++) {
        size_t offset = H5Tget_member_offset(type, (unsigned)i);
        hid_t mt = H5Tget_member_type(type, (unsigned)i);
        if (mt < 0) return nbr_fail(NBR_ERROR, "HDF5 could not read a compound member");
        size_t msize = H5Tget_size(mt);
        if (offset < end || msize > size || offset > size - msize) {
            H5Tclose(mt);
            return unsupported("compound with overlapping or out-of-order members "
                               "(NumPy's descr cannot express it)");
        }
        if (offset > end) {
            nbr_buf_printf(b, "%s[\"\", \"|V%zu\"]", first ? "" : ", ", offset - end);
            first = false;
        }
        char *name = H5Tget_member_name(type, (unsigned)i);
        nbr_status st = NBR_OK;
        if (!name || !*name) st = unsupported("compound member without a name");
        nbr_buf_puts(b, first ? "[" : ", [");
        first = false;
        if (st == NBR_OK && !put_json_string(b, name, strlen(name)))
            st = nbr_fail(NBR_EENCODING, "HDF5 compound member name is not UTF-8");
        if (name) H5free_memory(name);
        if (st == NBR_OK) {
            nbr_buf_puts(b, ", ");
            st = member_string(b, mt, depth);
        }
        H5Tclose(mt);
        if (st != NBR_OK) return st;
        nbr_buf_puts(b, "]");
        end = offset + msize;
    }
    if (size > end) nbr_buf_printf(b, ", [\"\", \"|V%zu\"]", size - end);
    nbr_buf_puts(b, "]");
    return NBR_OK;
}

static nbr_status from_type(nbr_buf *b, hid_t type, int depth)
{
    if (depth > MAX_NESTING) return unsupported("types nested too deeply");
    size_t size = H5Tget_size(type);
    if (size == 0) return nbr_fail(NBR_EINVAL, "not a valid HDF5 datatype");
    switch (H5Tget_class(type)) {
    case H5T_INTEGER: return int_string(b, type, false);
    case H5T_BITFIELD: return int_string(b, type, true);
    case H5T_FLOAT: return float_string(b, type, "f", size);
    case H5T_STRING:
        if (H5Tis_variable_str(type) > 0)
            return unsupported("variable-length string (h5py reads it as object dtype)");
        nbr_buf_printf(b, "|S%zu", size);
        return NBR_OK;
    case H5T_ENUM: {
        if (is_bool_enum(type)) {
            nbr_buf_puts(b, "|b1");
            return NBR_OK;
        }
        hid_t super = H5Tget_super(type);
        if (super < 0) return nbr_fail(NBR_ERROR, "HDF5 could not read an enum's base type");
        nbr_status st = int_string(b, super, false);
        H5Tclose(super);
        return st;
    }
    case H5T_COMPOUND: {
        hid_t ft = -1;
        size_t fsize = 0;
        if (is_complex(type, &ft, &fsize)) {
            nbr_status st = float_string(b, ft, "c", fsize);
            H5Tclose(ft);
            return st;
        }
        return compound_string(b, type, depth);
    }
    case H5T_OPAQUE: {
        char *tag = H5Tget_tag(type);
        /* h5py's opaque_dtype(): tag "NUMPY:<dtype.str>" for datetime64 etc. */
        if (tag && strlen(tag) > 8 && strncmp(tag, "NUMPY:", 6) == 0 &&
            (tag[7] == 'M' || tag[7] == 'm')) {
            ctx c = {tag + 6};
            plain p;
            nbr_status st = parse_plain(&c, tag + 6, strlen(tag + 6), &p);
            if (st == NBR_OK && p.itemsize == size) {
                nbr_buf_puts(b, tag + 6);
                H5free_memory(tag);
                return NBR_OK;
            }
        }
        if (tag) H5free_memory(tag);
        nbr_buf_printf(b, "|V%zu", size);
        return NBR_OK;
    }
    case H5T_ARRAY:
        return unsupported("array type as a whole element (h5py reads it as extra trailing "
                           "dimensions; only compound members may be arrays)");
    case H5T_TIME: return unsupported("H5T_TIME");
    case H5T_REFERENCE: return unsupported("reference");
    case H5T_VLEN: return unsupported("variable-length sequence (h5py reads it as object dtype)");
    default: return unsupported("unknown type class");
    }
}

nbr_status nbr_dtype_from_hdf5(char **out, hid_t type)
{
    if (!out) return nbr_fail(NBR_EINVAL, "nbr_dtype_from_hdf5: out is NULL");
    *out = NULL;
    if (H5Iget_type(type) != H5I_DATATYPE)
        return nbr_fail(NBR_EINVAL, "nbr_dtype_from_hdf5: not an HDF5 datatype id");
    nbr_buf b;
    nbr_buf_init(&b);
    nbr_status st = from_type(&b, type, 0);
    if (st != NBR_OK) {
        nbr_buf_clear(&b);
        return st;
    }
    *out = nbr_buf_take(&b);
    return *out ? NBR_OK : nbr_fail_nomem("writing a dtype");
}
