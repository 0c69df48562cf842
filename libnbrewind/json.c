/* json.c - a strict JSON reader producing a read-only tree (see json.h).
 *
 * Layout: every value, array, member list and string of a document lives in
 * one arena that the document owns, so a notebook of a million values costs a
 * handful of large allocations and one free.  While a container is being
 * read its children wait on a shared, growable stack; when it closes they are
 * copied into the arena in one piece, so arrays and objects are contiguous
 * and never reallocated.
 *
 * The reader is recursive descent, one C call per nesting level, bounded by
 * the depth limit of the options. */
#include "json.h"
#include "utf8.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the tree ---------------------------------------------------------- */

typedef struct nbr_json_member nbr_json_member;

struct nbr_json {
    nbr_json_type type;
    size_t offset; /* where the value starts in the text, for messages */
    union {
        bool boolean;
        struct {
            const char *bytes; /* NUL-terminated copy */
            size_t length;
        } text; /* strings (decoded) and numbers (as written) */
        struct {
            nbr_json *items;
            size_t count;
        } array;
        struct {
            nbr_json_member *members;
            size_t count;
        } object;
    } as;
};

struct nbr_json_member {
    const char *key; /* NULL while an array's item waits on the stack */
    size_t key_length;
    nbr_json value;
};

/* ---- arena ------------------------------------------------------------- */

typedef struct arena_chunk {
    struct arena_chunk *next;
    size_t used;
    size_t size;
    max_align_t data[]; /* max_align_t elements make the data suitably aligned */
} arena_chunk;

/* Chunks start small (a tiny record should not cost a megabyte) and double,
 * so a large notebook needs few of them. */
#define ARENA_FIRST_CHUNK ((size_t)4096)
#define ARENA_LARGEST_CHUNK ((size_t)4 << 20)

typedef struct arena {
    arena_chunk *head;
    size_t next_size;
} arena;

static void arena_free(arena *a)
{
    arena_chunk *chunk = a->head;
    while (chunk) {
        arena_chunk *next = chunk->next;
        free(chunk);
        chunk = next;
    }
    a->head = NULL;
}

static arena_chunk *arena_add_chunk(arena *a, size_t at_least)
{
    size_t size = a->next_size ? a->next_size : ARENA_FIRST_CHUNK;
    if (size < ARENA_LARGEST_CHUNK) a->next_size = size * 2;
    if (size < at_least) size = at_least;
    if (size > SIZE_MAX - sizeof(arena_chunk)) return NULL;
    arena_chunk *chunk = malloc(sizeof(arena_chunk) + size);
    if (!chunk) return NULL;
    chunk->used = 0;
    chunk->size = size;
    chunk->next = a->head;
    a->head = chunk;
    return chunk;
}

/* `align` is 1 for bytes or _Alignof(max_align_t) for structures. */
static void *arena_alloc(arena *a, size_t size, size_t align)
{
    arena_chunk *chunk = a->head;
    size_t start = 0;
    if (chunk) start = (chunk->used + align - 1) & ~(align - 1);
    if (!chunk || start > chunk->size || chunk->size - start < size) {
        if (size > SIZE_MAX - align) return NULL;
        chunk = arena_add_chunk(a, size + align);
        if (!chunk) return NULL;
        start = 0;
    }
    chunk->used = start + size;
    return (char *)chunk->data + start;
}

struct nbr_json_doc {
    arena arena;
    nbr_json *root;
};

/* ---- parser state and errors ------------------------------------------- */

typedef struct parser {
    const unsigned char *text;
    size_t length;
    size_t pos;
    unsigned depth;
    unsigned max_depth;
    arena *arena;
    nbr_json_member *stack; /* children of the containers being read */
    size_t stack_count;
    size_t stack_capacity;
    bool failed;
    nbr_status status;
    size_t error_offset;
    char error[160];
} parser;

/* Records the first error only: later ones are consequences of it. */
static bool fail_at(parser *p, nbr_status status, size_t offset, const char *fmt, ...)
    NBR_PRINTF(4, 5);

static bool fail_at(parser *p, nbr_status status, size_t offset, const char *fmt, ...)
{
    if (p->failed) return false;
    p->failed = true;
    p->status = status;
    p->error_offset = offset;
    va_list args;
    va_start(args, fmt);
    vsnprintf(p->error, sizeof p->error, fmt, args);
    va_end(args);
    return false;
}

static bool fail_nomem(parser *p)
{
    return fail_at(p, NBR_ENOMEM, p->pos, "out of memory");
}

/* Describes the byte at `pos` for "unexpected ..." messages. */
static void describe_byte(char *out, size_t size, const parser *p, size_t pos)
{
    if (pos >= p->length) {
        snprintf(out, size, "end of input");
        return;
    }
    unsigned char c = p->text[pos];
    if (c >= 0x21 && c < 0x7F) snprintf(out, size, "character '%c'", c);
    else if (c >= 0x80) snprintf(out, size, "non-ASCII character");
    else snprintf(out, size, "byte 0x%02x", c);
}

/* "expected X" when the input ends or has something else at `pos`. */
static bool fail_expected(parser *p, size_t pos, const char *what)
{
    char found[32];
    describe_byte(found, sizeof found, p, pos);
    return fail_at(p, NBR_EINVAL, pos, "expected %s, found %s", what, found);
}

static void skip_whitespace(parser *p)
{
    while (p->pos < p->length) {
        unsigned char c = p->text[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return;
        p->pos++;
    }
}

/* `c` unsigned like the text, so that any byte compares as itself. */
static bool at(const parser *p, unsigned char c)
{
    return p->pos < p->length && p->text[p->pos] == c;
}

/* ---- the children stack ------------------------------------------------ */

static bool push_child(parser *p, const char *key, size_t key_length, const nbr_json *value)
{
    if (p->stack_count == p->stack_capacity) {
        size_t capacity = p->stack_capacity ? p->stack_capacity * 2 : 64;
        if (capacity > SIZE_MAX / sizeof *p->stack) return fail_nomem(p);
        nbr_json_member *grown = realloc(p->stack, capacity * sizeof *p->stack);
        if (!grown) return fail_nomem(p);
        p->stack = grown;
        p->stack_capacity = capacity;
    }
    p->stack[p->stack_count++] = (nbr_json_member){key, key_length, *value};
    return true;
}

/* ---- scalars ----------------------------------------------------------- */

static bool parse_literal(parser *p, nbr_json *out)
{
    static const struct {
        const char *word;
        nbr_json_type type;
        bool value;
    } literals[] = {{"true", NBR_JSON_BOOL, true},
                    {"false", NBR_JSON_BOOL, false},
                    {"null", NBR_JSON_NULL, false}};
    for (size_t i = 0; i < sizeof literals / sizeof *literals; i++) {
        size_t n = strlen(literals[i].word);
        if (p->length - p->pos >= n && !memcmp(p->text + p->pos, literals[i].word, n)) {
            out->type = literals[i].type;
            out->as.boolean = literals[i].value;
            p->pos += n;
            return true;
        }
    }
    return fail_at(p, NBR_EINVAL, p->pos, "invalid literal (expected true, false or null)");
}

static bool is_digit(const parser *p, size_t pos)
{
    return pos < p->length && p->text[pos] >= '0' && p->text[pos] <= '9';
}

/* Advances past one or more digits; false (with an error) if there is none. */
static bool expect_digits(parser *p, const char *after)
{
    if (!is_digit(p, p->pos))
        return fail_at(p, NBR_EINVAL, p->pos, "invalid number: expected a digit after %s",
                       after);
    while (is_digit(p, p->pos)) p->pos++;
    return true;
}

static bool copy_text(parser *p, nbr_json *out, size_t start, size_t length)
{
    char *copy = arena_alloc(p->arena, length + 1, 1);
    if (!copy) return fail_nomem(p);
    memcpy(copy, p->text + start, length);
    copy[length] = '\0';
    out->as.text.bytes = copy;
    out->as.text.length = length;
    return true;
}

/* number = [ "-" ] ( "0" / 1-9 *DIGIT ) [ "." 1*DIGIT ] [ ("e"/"E") ["+"/"-"] 1*DIGIT ] */
static bool parse_number(parser *p, nbr_json *out)
{
    size_t start = p->pos;
    if (at(p, '-')) p->pos++;
    if (at(p, '0')) {
        p->pos++;
        if (is_digit(p, p->pos))
            return fail_at(p, NBR_EINVAL, start, "invalid number: leading zeros are not allowed");
    } else if (!expect_digits(p, start == p->pos ? "the start" : "'-'")) {
        return false;
    }
    if (at(p, '.')) {
        p->pos++;
        if (!expect_digits(p, "'.'")) return false;
    }
    if (at(p, 'e') || at(p, 'E')) {
        p->pos++;
        if (at(p, '+') || at(p, '-')) p->pos++;
        if (!expect_digits(p, "the exponent mark")) return false;
    }
    out->type = NBR_JSON_NUMBER;
    return copy_text(p, out, start, p->pos - start);
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Reads the 4 hex digits of a \u escape whose backslash is at `pos`. */
static bool read_hex4(parser *p, size_t pos, uint32_t *out)
{
    uint32_t value = 0;
    for (size_t k = 2; k < 6; k++) {
        int digit = pos + k < p->length ? hex_value(p->text[pos + k]) : -1;
        if (digit < 0)
            return fail_at(p, NBR_EINVAL, pos, "invalid \\u escape: expected 4 hex digits");
        value = value << 4 | (uint32_t)digit;
    }
    *out = value;
    return true;
}

/* Decodes the \u escape (or surrogate pair of them) at *pos into *cp. */
static bool decode_unicode_escape(parser *p, size_t *pos, uint32_t *cp)
{
    size_t start = *pos;
    uint32_t unit = 0;
    if (!read_hex4(p, start, &unit)) return false;
    *pos = start + 6;
    if (unit >= 0xDC00 && unit <= 0xDFFF)
        return fail_at(p, NBR_EINVAL, start,
                       "invalid \\u escape: unpaired low surrogate \\u%04X", unit);
    if (unit < 0xD800 || unit > 0xDBFF) {
        *cp = unit;
        return true;
    }
    uint32_t low = 0;
    bool has_low = *pos + 1 < p->length && p->text[*pos] == '\\' && p->text[*pos + 1] == 'u';
    if (has_low && !read_hex4(p, *pos, &low)) return false;
    if (!has_low || low < 0xDC00 || low > 0xDFFF)
        return fail_at(p, NBR_EINVAL, start,
                       "invalid \\u escape: high surrogate \\u%04X is not followed by a low "
                       "surrogate", unit);
    *pos += 6;
    *cp = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
    return true;
}

/* Decodes the escape whose backslash is at *pos, appending to out+*used. */
static bool decode_escape(parser *p, size_t *pos, char *out, size_t *used)
{
    unsigned char c = *pos + 1 < p->length ? p->text[*pos + 1] : 0;
    char simple = 0;
    switch (c) {
    case '"': simple = '"'; break;
    case '\\': simple = '\\'; break;
    case '/': simple = '/'; break;
    case 'b': simple = '\b'; break;
    case 'f': simple = '\f'; break;
    case 'n': simple = '\n'; break;
    case 'r': simple = '\r'; break;
    case 't': simple = '\t'; break;
    case 'u': {
        uint32_t cp = 0;
        if (!decode_unicode_escape(p, pos, &cp)) return false;
        *used += nbr_utf8_encode(out + *used, cp);
        return true;
    }
    default: {
        char found[32];
        describe_byte(found, sizeof found, p, *pos + 1);
        return fail_at(p, NBR_EINVAL, *pos, "invalid escape: backslash followed by %s", found);
    }
    }
    out[(*used)++] = simple;
    *pos += 2;
    return true;
}

/* Finds the closing quote of the string whose opening quote is at p->pos;
 * rejects raw control characters.  Sets *has_escapes. */
static bool find_string_end(parser *p, size_t *end, bool *has_escapes)
{
    size_t i = p->pos + 1;
    *has_escapes = false;
    while (i < p->length) {
        unsigned char c = p->text[i];
        if (c == '"') {
            *end = i;
            return true;
        }
        if (c == '\\') {
            *has_escapes = true;
            i += 2;
            continue;
        }
        if (c < 0x20)
            return fail_at(p, NBR_EINVAL, i,
                           "control character 0x%02x in a string (write it as \\u%04x)", c, c);
        i++;
    }
    return fail_at(p, NBR_EINVAL, p->pos, "unterminated string");
}

/* Reads the string at p->pos into the arena.  The decoded form is never
 * longer than the escaped one (\uXXXX is 6 bytes for at most 3, a pair 12 for
 * 4), so one allocation of the raw length suffices. */
static bool parse_string_bytes(parser *p, const char **bytes, size_t *length)
{
    size_t end = 0;
    bool has_escapes;
    if (!find_string_end(p, &end, &has_escapes)) return false;
    size_t start = p->pos + 1, raw_length = end - start;
    char *out = arena_alloc(p->arena, raw_length + 1, 1);
    if (!out) return fail_nomem(p);
    size_t used = 0;
    if (!has_escapes) {
        memcpy(out, p->text + start, raw_length);
        used = raw_length;
    } else {
        size_t i = start;
        while (i < end) {
            if (p->text[i] != '\\') out[used++] = (char)p->text[i++];
            else if (!decode_escape(p, &i, out, &used)) return false;
        }
    }
    out[used] = '\0';
    *bytes = out;
    *length = used;
    p->pos = end + 1;
    return true;
}

static bool parse_string(parser *p, nbr_json *out)
{
    out->type = NBR_JSON_STRING;
    return parse_string_bytes(p, &out->as.text.bytes, &out->as.text.length);
}

/* ---- containers -------------------------------------------------------- */

static bool parse_value(parser *p, nbr_json *out);

static bool enter_container(parser *p)
{
    if (p->depth >= p->max_depth)
        return fail_at(p, NBR_EINVAL, p->pos, "nesting deeper than %u levels", p->max_depth);
    p->depth++;
    p->pos++; /* the '[' or '{' */
    skip_whitespace(p);
    return true;
}

/* After a member or item: true with *more set, or an error naming `close`. */
static bool after_element(parser *p, char close, bool *more)
{
    skip_whitespace(p);
    if (at(p, ',')) {
        size_t comma = p->pos++;
        skip_whitespace(p);
        if (at(p, close))
            return fail_at(p, NBR_EINVAL, comma, "trailing comma before '%c'", close);
        *more = true;
        return true;
    }
    if (at(p, close)) {
        p->pos++;
        *more = false;
        return true;
    }
    char what[16];
    snprintf(what, sizeof what, "',' or '%c'", close);
    return fail_expected(p, p->pos, what);
}

/* Moves the children pushed since `base` into one arena block. */
static bool collect_array(parser *p, nbr_json *out, size_t base)
{
    size_t count = p->stack_count - base;
    nbr_json *items = NULL;
    if (count) {
        items = arena_alloc(p->arena, count * sizeof *items, _Alignof(max_align_t));
        if (!items) return fail_nomem(p);
        for (size_t i = 0; i < count; i++) items[i] = p->stack[base + i].value;
    }
    out->type = NBR_JSON_ARRAY;
    out->as.array.items = items;
    out->as.array.count = count;
    p->stack_count = base;
    return true;
}

static bool collect_object(parser *p, nbr_json *out, size_t base)
{
    size_t count = p->stack_count - base;
    nbr_json_member *members = NULL;
    if (count) {
        members = arena_alloc(p->arena, count * sizeof *members, _Alignof(max_align_t));
        if (!members) return fail_nomem(p);
        memcpy(members, p->stack + base, count * sizeof *members);
    }
    out->type = NBR_JSON_OBJECT;
    out->as.object.members = members;
    out->as.object.count = count;
    p->stack_count = base;
    return true;
}

static bool parse_array(parser *p, nbr_json *out)
{
    size_t base = p->stack_count;
    if (!enter_container(p)) return false;
    bool more = !at(p, ']');
    if (!more) p->pos++;
    while (more) {
        nbr_json item;
        if (!parse_value(p, &item) || !push_child(p, NULL, 0, &item)) return false;
        if (!after_element(p, ']', &more)) return false;
    }
    p->depth--;
    return collect_array(p, out, base);
}

static bool parse_member(parser *p)
{
    if (!at(p, '"')) return fail_expected(p, p->pos, "a string key");
    const char *key;
    size_t key_length;
    if (!parse_string_bytes(p, &key, &key_length)) return false;
    skip_whitespace(p);
    if (!at(p, ':')) return fail_expected(p, p->pos, "':'");
    p->pos++;
    nbr_json value;
    if (!parse_value(p, &value)) return false;
    return push_child(p, key, key_length, &value);
}

static bool parse_object(parser *p, nbr_json *out)
{
    size_t base = p->stack_count;
    if (!enter_container(p)) return false;
    bool more = !at(p, '}');
    if (!more) p->pos++;
    while (more) {
        if (!parse_member(p) || !after_element(p, '}', &more)) return false;
    }
    p->depth--;
    return collect_object(p, out, base);
}

static bool parse_value(parser *p, nbr_json *out)
{
    skip_whitespace(p);
    memset(out, 0, sizeof *out);
    out->offset = p->pos;
    if (p->pos >= p->length) return fail_expected(p, p->pos, "a value");
    switch (p->text[p->pos]) {
    case '{': return parse_object(p, out);
    case '[': return parse_array(p, out);
    case '"': return parse_string(p, out);
    case 't':
    case 'f':
    case 'n': return parse_literal(p, out);
    case '-':
    case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9': return parse_number(p, out);
    default: return fail_expected(p, p->pos, "a value");
    }
}

/* ---- entry point ------------------------------------------------------- */

/* Line and column (1-based, bytes) of `offset`; only \n ends a line, so CRLF
 * text counts like LF text. */
static void line_and_column(uint32_t *line, uint32_t *column, const char *text, size_t length,
                            size_t offset)
{
    if (offset > length) offset = length;
    uint32_t l = 1;
    size_t line_start = 0;
    for (size_t i = 0; i < offset; i++) {
        if (text[i] == '\n') {
            l++;
            line_start = i + 1;
        }
    }
    *line = l;
    *column = (uint32_t)(offset - line_start + 1);
}

static nbr_status report_failure(const parser *p, const char *text, size_t length,
                                 const char *source_name, nbr_json_error *error)
{
    uint32_t line, column;
    line_and_column(&line, &column, text, length, p->error_offset);
    if (error) {
        error->offset = p->error_offset;
        error->line = line;
        error->column = column;
        snprintf(error->message, sizeof error->message, "%s", p->error);
    }
    const char *name = source_name ? source_name : "JSON text";
    if (p->status == NBR_ENOMEM) return nbr_fail(NBR_ENOMEM, "%s: out of memory reading JSON", name);
    const char *what = p->status == NBR_EENCODING ? "not UTF-8 text" : "invalid JSON";
    return nbr_fail(p->status, "%s: %s at line %u, column %u: %s", name, what, line, column,
                    p->error);
}

static bool check_encoding(parser *p)
{
    size_t bad = nbr_utf8_first_invalid((const char *)p->text, p->length);
    if (bad == p->length) return true;
    return fail_at(p, NBR_EENCODING, bad, "invalid byte 0x%02x at byte offset %zu",
                   p->text[bad], bad);
}

static bool parse_document(parser *p, nbr_json *root)
{
    if (!check_encoding(p)) return false;
    static const unsigned char bom[3] = {0xEF, 0xBB, 0xBF};
    if (p->length >= 3 && !memcmp(p->text, bom, 3)) p->pos = 3;
    if (!parse_value(p, root)) return false;
    skip_whitespace(p);
    if (p->pos < p->length)
        return fail_at(p, NBR_EINVAL, p->pos, "unexpected data after the JSON value");
    return true;
}

nbr_status nbr_json_parse(nbr_json_doc **out, const char *text, size_t length,
                          const char *source_name, const nbr_json_options *options,
                          nbr_json_error *error)
{
    if (error) memset(error, 0, sizeof *error);
    if (!out) return nbr_fail(NBR_EINVAL, "nbr_json_parse: out is NULL");
    *out = NULL;
    if (!text && length) return nbr_fail(NBR_EINVAL, "nbr_json_parse: text is NULL");
    if (!text) text = "";
    nbr_json_doc *doc = calloc(1, sizeof *doc);
    if (!doc) return nbr_fail_nomem("reading JSON");
    unsigned depth = options && options->max_depth ? options->max_depth : NBR_JSON_DEFAULT_DEPTH;
    parser p = {.text = (const unsigned char *)text,
                .length = length,
                .max_depth = depth < NBR_JSON_MAX_DEPTH ? depth : NBR_JSON_MAX_DEPTH,
                .arena = &doc->arena};
    nbr_json root;
    bool ok = parse_document(&p, &root) &&
              (doc->root = arena_alloc(&doc->arena, sizeof root, _Alignof(max_align_t)));
    if (ok) *doc->root = root;
    else if (!p.failed) fail_nomem(&p);
    free(p.stack);
    if (!ok) {
        nbr_json_doc_free(doc);
        return report_failure(&p, text, length, source_name, error);
    }
    *out = doc;
    return NBR_OK;
}

void nbr_json_doc_free(nbr_json_doc *doc)
{
    if (!doc) return;
    arena_free(&doc->arena);
    free(doc);
}

const nbr_json *nbr_json_root(const nbr_json_doc *doc) { return doc ? doc->root : NULL; }

void nbr_json_position(uint32_t *line, uint32_t *column, const nbr_json *value,
                       const char *text, size_t length)
{
    uint32_t l = 0, c = 0;
    if (value && text) line_and_column(&l, &c, text, length, value->offset);
    if (line) *line = l;
    if (column) *column = c;
}

/* ---- accessors --------------------------------------------------------- */

nbr_json_type nbr_json_type_of(const nbr_json *v) { return v ? v->type : NBR_JSON_ABSENT; }

const char *nbr_json_type_name(nbr_json_type type)
{
    switch (type) {
    case NBR_JSON_NULL: return "null";
    case NBR_JSON_BOOL: return "boolean";
    case NBR_JSON_NUMBER: return "number";
    case NBR_JSON_STRING: return "string";
    case NBR_JSON_ARRAY: return "array";
    case NBR_JSON_OBJECT: return "object";
    default: return "absent";
    }
}

bool nbr_json_is_null(const nbr_json *v) { return nbr_json_type_of(v) == NBR_JSON_NULL; }
bool nbr_json_is_bool(const nbr_json *v) { return nbr_json_type_of(v) == NBR_JSON_BOOL; }
bool nbr_json_is_number(const nbr_json *v) { return nbr_json_type_of(v) == NBR_JSON_NUMBER; }
bool nbr_json_is_string(const nbr_json *v) { return nbr_json_type_of(v) == NBR_JSON_STRING; }
bool nbr_json_is_array(const nbr_json *v) { return nbr_json_type_of(v) == NBR_JSON_ARRAY; }
bool nbr_json_is_object(const nbr_json *v) { return nbr_json_type_of(v) == NBR_JSON_OBJECT; }

bool nbr_json_is_true(const nbr_json *v) { return nbr_json_is_bool(v) && v->as.boolean; }

const char *nbr_json_string(const nbr_json *v)
{
    return nbr_json_is_string(v) ? v->as.text.bytes : NULL;
}

size_t nbr_json_string_length(const nbr_json *v)
{
    return nbr_json_is_string(v) ? v->as.text.length : 0;
}

const char *nbr_json_number_text(const nbr_json *v)
{
    return nbr_json_is_number(v) ? v->as.text.bytes : NULL;
}

bool nbr_json_number_int64(const nbr_json *v, int64_t *out)
{
    const char *s = nbr_json_number_text(v);
    if (!s || strpbrk(s, ".eE")) return false;
    bool negative = *s == '-';
    if (negative) s++;
    /* Accumulate as a negative number: INT64_MIN has no positive twin. */
    int64_t value = 0;
    for (; *s; s++) {
        int digit = *s - '0';
        if (value < (INT64_MIN + digit) / 10) return false;
        value = value * 10 - digit;
    }
    if (!negative && value == INT64_MIN) return false;
    if (out) *out = negative ? value : -value;
    return true;
}

/* strtod reads the decimal point of the current C locale, which a host (R, a
 * GUI) may have set to ','; so the JSON '.' is swapped for whatever the
 * locale prints between "1" and "5" in 1.5.  snprintf is thread-safe where
 * localeconv() is not. */
bool nbr_json_number_double(const nbr_json *v, double *out)
{
    const char *s = nbr_json_number_text(v);
    if (!s) return false;
    char point[8];
    snprintf(point, sizeof point, "%.1f", 1.5);
    const char *dot = strchr(s, '.');
    if (!dot || !strcmp(point, "1.5")) {
        if (out) *out = strtod(s, NULL); /* out of range: +-HUGE_VAL, as documented */
        return true;
    }
    size_t point_length = strlen(point) - 2, before = (size_t)(dot - s);
    char small[128];
    size_t size = strlen(s) + point_length;
    char *local = size <= sizeof small ? small : malloc(size);
    if (!local) return false;
    memcpy(local, s, before);
    memcpy(local + before, point + 1, point_length);
    strcpy(local + before + point_length, dot + 1);
    if (out) *out = strtod(local, NULL);
    if (local != small) free(local);
    return true;
}

size_t nbr_json_length(const nbr_json *v)
{
    if (nbr_json_is_array(v)) return v->as.array.count;
    if (nbr_json_is_object(v)) return v->as.object.count;
    return 0;
}

const nbr_json *nbr_json_at(const nbr_json *v, size_t index)
{
    if (index >= nbr_json_length(v)) return NULL;
    return v->type == NBR_JSON_ARRAY ? &v->as.array.items[index]
                                     : &v->as.object.members[index].value;
}

const char *nbr_json_key_at(const nbr_json *object, size_t index)
{
    if (!nbr_json_is_object(object) || index >= object->as.object.count) return NULL;
    return object->as.object.members[index].key;
}

size_t nbr_json_key_length(const nbr_json *object, size_t index)
{
    if (!nbr_json_is_object(object) || index >= object->as.object.count) return 0;
    return object->as.object.members[index].key_length;
}

const nbr_json *nbr_json_get(const nbr_json *object, const char *key)
{
    if (!nbr_json_is_object(object) || !key) return NULL;
    size_t key_length = strlen(key);
    /* From the end: the last of repeated keys wins. */
    for (size_t i = object->as.object.count; i-- > 0;) {
        const nbr_json_member *m = &object->as.object.members[i];
        if (m->key_length == key_length && !memcmp(m->key, key, key_length)) return &m->value;
    }
    return NULL;
}

/* ---- rendering ---------------------------------------------------------- */

void nbr_json_render(nbr_buf *buf, const nbr_json *v)
{
    size_t n = nbr_json_length(v);
    switch (nbr_json_type_of(v)) {
    case NBR_JSON_BOOL: nbr_buf_puts(buf, nbr_json_is_true(v) ? "true" : "false"); break;
    case NBR_JSON_NUMBER: nbr_buf_puts(buf, nbr_json_number_text(v)); break;
    case NBR_JSON_STRING: nbr_buf_json_string_n(buf, nbr_json_string(v), nbr_json_string_length(v)); break;
    case NBR_JSON_ARRAY:
        nbr_buf_puts(buf, "[");
        for (size_t i = 0; i < n; i++) {
            if (i) nbr_buf_puts(buf, ",");
            nbr_json_render(buf, nbr_json_at(v, i));
        }
        nbr_buf_puts(buf, "]");
        break;
    case NBR_JSON_OBJECT:
        nbr_buf_puts(buf, "{");
        for (size_t i = 0; i < n; i++) {
            if (i) nbr_buf_puts(buf, ",");
            nbr_buf_json_string_n(buf, nbr_json_key_at(v, i), nbr_json_key_length(v, i));
            nbr_buf_puts(buf, ":");
            nbr_json_render(buf, nbr_json_at(v, i));
        }
        nbr_buf_puts(buf, "}");
        break;
    default: nbr_buf_puts(buf, "null"); break;
    }
}
