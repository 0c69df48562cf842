/* record.c - execution records: what one run of one cell read, wrote and
 * showed (docs/notebook-format.md, "Execution records").
 *
 * The record's format belongs to the core, not to the bindings, so Python
 * and R write byte-identical records and every reader applies the same
 * rules.  A record is checked as it is built (each setter rejects a bad
 * value at once, naming the field) and once more as a whole before it is
 * rendered or after it is parsed (rules that relate fields).  Rendering is
 * canonical: fixed key order, maps sorted by key, no spaces. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "error.h"
#include "json.h"
#include "utf8.h"

#define RECORD_VERSION 1
/* nbformat's own limit on cell ids; names are bounded to keep records small. */
#define CELL_ID_MAX 64
#define NAME_MAX_BYTES 1024
#define TEXT_MAX_BYTES 65536
#define LIST_COUNT 6
#define FIELD_COUNT 8

typedef struct record_entry {
    char *key;
    char *value; /* NULL where the list allows it */
} record_entry;

typedef struct record_list {
    record_entry *items;
    size_t count;
    size_t capacity;
} record_list;

struct nbr_record {
    char *fields[FIELD_COUNT]; /* indexed by nbr_record_field - 1 */
    int64_t execution_count;   /* -1: none */
    double duration;           /* seconds; -1: not set */
    record_list lists[LIST_COUNT];
};

/* The JSON key of each field and list, in rendering order. */
static const char *const field_keys[FIELD_COUNT] = {
    "cell_id", "language", "source_hash", "status", "started", "error_name", "error_value", "host"};
static const char *const list_keys[LIST_COUNT] = {"reads",   "writes",  "deletes",
                                                  "recompute", "aliases", "outputs"};

#define REQUIRE(arg)                                                                   \
    do {                                                                               \
        if (!(arg)) return nbr_fail(NBR_EINVAL, "%s: %s is NULL", __func__, #arg);     \
    } while (0)

static bool field_valid(nbr_record_field f)
{
    return f >= NBR_RECORD_CELL_ID && f <= NBR_RECORD_HOST;
}

static bool list_valid(nbr_record_list l)
{
    return l >= NBR_RECORD_READS && l <= NBR_RECORD_OUTPUTS;
}

nbr_status nbr_record_new(nbr_record **out)
{
    REQUIRE(out);
    *out = calloc(1, sizeof **out);
    if (!*out) return nbr_fail_nomem("a record");
    (*out)->execution_count = -1;
    (*out)->duration = -1;
    return NBR_OK;
}

void nbr_record_free(nbr_record *record)
{
    if (!record) return;
    for (size_t f = 0; f < FIELD_COUNT; f++) free(record->fields[f]);
    for (size_t l = 0; l < LIST_COUNT; l++) {
        for (size_t i = 0; i < record->lists[l].count; i++) {
            free(record->lists[l].items[i].key);
            free(record->lists[l].items[i].value);
        }
        free(record->lists[l].items);
    }
    free(record);
}

/* ---- value rules --------------------------------------------------------- */

static bool is_hex_id(const char *text)
{
    nbr_object_id id;
    return strlen(text) == 32 && nbr_object_id_from_hex(&id, text) == NBR_OK;
}

static bool is_cell_id(const char *text)
{
    size_t n = strlen(text);
    if (n == 0 || n > CELL_ID_MAX) return false;
    for (size_t i = 0; i < n; i++) {
        char c = text[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_';
        if (!ok) return false;
    }
    return true;
}

/* "2026-11-25T17:30:00.123Z": UTC, milliseconds, the form the store uses. */
static bool is_timestamp(const char *text)
{
    static const char pattern[] = "dddd-dd-ddTdd:dd:dd.dddZ";
    if (strlen(text) != sizeof pattern - 1) return false;
    for (size_t i = 0; pattern[i]; i++) {
        bool ok = pattern[i] == 'd' ? (text[i] >= '0' && text[i] <= '9') : text[i] == pattern[i];
        if (!ok) return false;
    }
    return true;
}

static bool is_status(const char *text)
{
    return !strcmp(text, "ok") || !strcmp(text, "error") || !strcmp(text, "aborted");
}

static bool is_language(const char *text)
{
    return !strcmp(text, "python") || !strcmp(text, "r");
}

static bool is_text(const char *text, size_t max)
{
    size_t n = strlen(text);
    return n <= max && nbr_utf8_first_invalid(text, n) == n;
}

static nbr_status check_json_object(char **rendered, const char *text)
{
    nbr_json_doc *doc = NULL;
    nbr_json_error err;
    nbr_status st = nbr_json_parse(&doc, text, strlen(text), "host", NULL, &err);
    if (st == NBR_ENOMEM) return st;
    if (st != NBR_OK)
        return nbr_fail(NBR_EINVAL, "record field \"host\": not JSON (line %u, column %u: %s)",
                        err.line, err.column, err.message);
    if (!nbr_json_is_object(nbr_json_root(doc))) {
        nbr_json_doc_free(doc);
        return nbr_fail(NBR_EINVAL, "record field \"host\": not a JSON object");
    }
    nbr_buf b;
    nbr_buf_init(&b);
    nbr_json_render(&b, nbr_json_root(doc));
    nbr_json_doc_free(doc);
    *rendered = nbr_buf_take(&b);
    return *rendered ? NBR_OK : nbr_fail_nomem("the record's host JSON");
}

static nbr_status check_field(nbr_record_field f, const char *value)
{
    const char *key = field_keys[f - 1];
    const char *want = NULL;
    switch (f) {
    case NBR_RECORD_CELL_ID:
        if (!is_cell_id(value)) want = "1-64 letters, digits, '-' or '_' (an nbformat cell id)";
        break;
    case NBR_RECORD_LANGUAGE: if (!is_language(value)) want = "\"python\" or \"r\""; break;
    case NBR_RECORD_SOURCE_HASH:
        if (!is_hex_id(value)) want = "32 hex digits (nbr_hash_bytes of the source)";
        break;
    case NBR_RECORD_STATUS:
        if (!is_status(value)) want = "\"ok\", \"error\" or \"aborted\"";
        break;
    case NBR_RECORD_STARTED:
        if (!is_timestamp(value)) want = "a UTC time like 2026-11-25T17:30:00.123Z";
        break;
    default:
        if (!is_text(value, TEXT_MAX_BYTES)) want = "UTF-8 text of at most 64 KiB";
        break;
    }
    if (!want) return NBR_OK;
    return nbr_fail(NBR_EINVAL, "record field \"%s\": \"%.80s\" is not %s", key, value, want);
}

nbr_status nbr_record_set_text(nbr_record *record, nbr_record_field field, const char *value)
{
    REQUIRE(record);
    if (!field_valid(field)) return nbr_fail(NBR_EINVAL, "nbr_record_set_text: unknown field %d", field);
    char *copy = NULL;
    nbr_status st = NBR_OK;
    if (value && field == NBR_RECORD_HOST) {
        st = check_json_object(&copy, value);
    } else if (value) {
        st = check_field(field, value);
        if (st == NBR_OK && !(copy = nbr_copy(value))) st = nbr_fail_nomem("a record field");
    }
    if (st != NBR_OK) return st;
    free(record->fields[field - 1]);
    record->fields[field - 1] = copy;
    return NBR_OK;
}

const char *nbr_record_text(const nbr_record *record, nbr_record_field field)
{
    return record && field_valid(field) ? record->fields[field - 1] : NULL;
}

nbr_status nbr_record_set_execution_count(nbr_record *record, int64_t count)
{
    REQUIRE(record);
    record->execution_count = count < 0 ? -1 : count;
    return NBR_OK;
}

int64_t nbr_record_execution_count(const nbr_record *record)
{
    return record ? record->execution_count : -1;
}

nbr_status nbr_record_set_duration(nbr_record *record, double seconds)
{
    REQUIRE(record);
    if (!isfinite(seconds) || seconds < 0)
        return nbr_fail(NBR_EINVAL, "record field \"duration\": %g is not a number of seconds >= 0",
                        seconds);
    record->duration = seconds;
    return NBR_OK;
}

double nbr_record_duration(const nbr_record *record)
{
    return record ? record->duration : -1;
}

/* ---- lists --------------------------------------------------------------- */

static bool is_name(const char *text)
{
    return *text && is_text(text, NAME_MAX_BYTES);
}

/* Checks one entry of a list: its key and whether its value fits. */
static nbr_status check_entry(nbr_record_list list, const char *key, const char *value)
{
    const char *what = list_keys[list - 1];
    if (list == NBR_RECORD_OUTPUTS) {
        if (!is_hex_id(key))
            return nbr_fail(NBR_EINVAL, "record \"outputs\": \"%.80s\" is not an object id", key);
        if (value) return nbr_fail(NBR_EINVAL, "record \"outputs\": entries have no value");
        return NBR_OK;
    }
    if (!is_name(key))
        return nbr_fail(NBR_EINVAL, "record \"%s\": name \"%.80s\" is empty, too long or not UTF-8",
                        what, key);
    switch (list) {
    case NBR_RECORD_READS:
        if (value && !is_hex_id(value)) break;
        return NBR_OK;
    case NBR_RECORD_WRITES:
        if (!value || !is_hex_id(value)) break;
        return NBR_OK;
    case NBR_RECORD_DELETES:
        if (value) break;
        return NBR_OK;
    case NBR_RECORD_RECOMPUTE:
        if (!value || !is_text(value, TEXT_MAX_BYTES)) break;
        return NBR_OK;
    default: /* aliases */
        if (!value || !is_name(value) || !strcmp(key, value)) break;
        return NBR_OK;
    }
    static const char *const wants[LIST_COUNT] = {
        "an object id or nothing", "an object id", "no value", "a reason (UTF-8 text)",
        "another name", ""};
    return nbr_fail(NBR_EINVAL, "record \"%s\": \"%.80s\" needs %s", what, key, wants[list - 1]);
}

static long find_entry(const record_list *l, const char *key)
{
    for (size_t i = 0; i < l->count; i++)
        if (!strcmp(l->items[i].key, key)) return (long)i;
    return -1;
}

nbr_status nbr_record_add(nbr_record *record, nbr_record_list list, const char *key,
                          const char *value)
{
    REQUIRE(record);
    REQUIRE(key);
    if (!list_valid(list)) return nbr_fail(NBR_EINVAL, "nbr_record_add: unknown list %d", list);
    nbr_status st = check_entry(list, key, value);
    if (st != NBR_OK) return st;
    record_list *l = &record->lists[list - 1];
    if (list != NBR_RECORD_OUTPUTS && find_entry(l, key) >= 0)
        return nbr_fail(NBR_EINVAL, "record \"%s\": \"%.80s\" is there twice", list_keys[list - 1],
                        key);
    if (!NBR_RESERVE(l->items, l->capacity, l->count + 1)) return nbr_fail_nomem("a record entry");
    record_entry e = {nbr_copy(key), value ? nbr_copy(value) : NULL};
    if (!e.key || (value && !e.value)) {
        free(e.key);
        free(e.value);
        return nbr_fail_nomem("a record entry");
    }
    l->items[l->count++] = e;
    return NBR_OK;
}

size_t nbr_record_count(const nbr_record *record, nbr_record_list list)
{
    return record && list_valid(list) ? record->lists[list - 1].count : 0;
}

nbr_status nbr_record_entry(const char **key, const char **value, const nbr_record *record,
                            nbr_record_list list, size_t index)
{
    REQUIRE(record);
    if (!list_valid(list) || index >= record->lists[list - 1].count)
        return nbr_fail(NBR_EINVAL, "nbr_record_entry: no entry %zu in list %d", index, list);
    const record_entry *e = &record->lists[list - 1].items[index];
    if (key) *key = e->key;
    if (value) *value = e->value;
    return NBR_OK;
}

nbr_status nbr_record_lookup(const char **value, const nbr_record *record, nbr_record_list list,
                             const char *key)
{
    REQUIRE(record);
    REQUIRE(key);
    if (!list_valid(list)) return nbr_fail(NBR_EINVAL, "nbr_record_lookup: unknown list %d", list);
    long i = find_entry(&record->lists[list - 1], key);
    if (i < 0)
        return nbr_fail(NBR_ENOTFOUND, "record of cell %s: no \"%.80s\" in \"%s\"",
                        record->fields[0] ? record->fields[0] : "?", key, list_keys[list - 1]);
    if (value) *value = record->lists[list - 1].items[i].value;
    return NBR_OK;
}

/* ---- whole-record rules ---------------------------------------------------- */

static const char *in_other(const nbr_record *r, const char *name, nbr_record_list a,
                            nbr_record_list b)
{
    if (find_entry(&r->lists[a - 1], name) >= 0) return list_keys[a - 1];
    if (find_entry(&r->lists[b - 1], name) >= 0) return list_keys[b - 1];
    return NULL;
}

/* Rules between fields: what must be there, and a name that ended bound,
 * unstorable or deleted is exactly one of those. */
static nbr_status check_whole(const nbr_record *r)
{
    static const nbr_record_field required[] = {NBR_RECORD_CELL_ID, NBR_RECORD_LANGUAGE,
                                                NBR_RECORD_SOURCE_HASH, NBR_RECORD_STATUS,
                                                NBR_RECORD_STARTED};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        if (!r->fields[required[i] - 1])
            return nbr_fail(NBR_EINVAL, "record: field \"%s\" is missing",
                            field_keys[required[i] - 1]);
    const char *cell = r->fields[0];
    const record_list *writes = &r->lists[NBR_RECORD_WRITES - 1];
    for (size_t i = 0; i < writes->count; i++) {
        const char *other =
            in_other(r, writes->items[i].key, NBR_RECORD_DELETES, NBR_RECORD_RECOMPUTE);
        if (other)
            return nbr_fail(NBR_EINVAL, "record of cell %s: \"%.80s\" is in \"writes\" and \"%s\"",
                            cell, writes->items[i].key, other);
    }
    const record_list *recompute = &r->lists[NBR_RECORD_RECOMPUTE - 1];
    for (size_t i = 0; i < recompute->count; i++)
        if (find_entry(&r->lists[NBR_RECORD_DELETES - 1], recompute->items[i].key) >= 0)
            return nbr_fail(NBR_EINVAL,
                            "record of cell %s: \"%.80s\" is in \"recompute\" and \"deletes\"",
                            cell, recompute->items[i].key);
    const record_list *aliases = &r->lists[NBR_RECORD_ALIASES - 1];
    for (size_t i = 0; i < aliases->count; i++)
        if (!in_other(r, aliases->items[i].key, NBR_RECORD_WRITES, NBR_RECORD_RECOMPUTE))
            return nbr_fail(NBR_EINVAL,
                            "record of cell %s: alias \"%.80s\" is not in \"writes\" or "
                            "\"recompute\"",
                            cell, aliases->items[i].key);
    bool error = !strcmp(r->fields[NBR_RECORD_STATUS - 1], "error");
    if (!error && r->fields[NBR_RECORD_ERROR_NAME - 1])
        return nbr_fail(NBR_EINVAL, "record of cell %s: an error name on a cell that did not fail",
                        cell);
    return NBR_OK;
}

/* ---- rendering ------------------------------------------------------------ */

static int compare_entries(const void *a, const void *b)
{
    return strcmp(((const record_entry *)a)->key, ((const record_entry *)b)->key);
}

static void render_list(nbr_buf *b, const nbr_record *r, nbr_record_list list,
                        record_entry *sorted)
{
    const record_list *l = &r->lists[list - 1];
    bool keyed = list != NBR_RECORD_OUTPUTS && list != NBR_RECORD_DELETES;
    if (l->count) memcpy(sorted, l->items, l->count * sizeof *sorted); /* items may be NULL */
    if (list != NBR_RECORD_OUTPUTS) qsort(sorted, l->count, sizeof *sorted, compare_entries);
    nbr_buf_printf(b, ",\"%s\":%s", list_keys[list - 1], keyed ? "{" : "[");
    for (size_t i = 0; i < l->count; i++) {
        if (i) nbr_buf_puts(b, ",");
        nbr_buf_json_string(b, sorted[i].key);
        if (!keyed) continue;
        nbr_buf_puts(b, ":");
        if (sorted[i].value) nbr_buf_json_string(b, sorted[i].value);
        else nbr_buf_puts(b, "null");
    }
    nbr_buf_puts(b, keyed ? "}" : "]");
}

static size_t longest_list(const nbr_record *r)
{
    size_t n = 1;
    for (size_t l = 0; l < LIST_COUNT; l++)
        if (r->lists[l].count > n) n = r->lists[l].count;
    return n;
}

nbr_status nbr_record_to_json(char **out, const nbr_record *record)
{
    REQUIRE(out);
    *out = NULL;
    REQUIRE(record);
    nbr_status st = check_whole(record);
    if (st != NBR_OK) return st;
    record_entry *sorted = malloc(longest_list(record) * sizeof *sorted);
    if (!sorted) return nbr_fail_nomem("rendering a record");
    nbr_buf b;
    nbr_buf_init(&b);
    nbr_buf_printf(&b, "{\"record\":%d", RECORD_VERSION);
    for (size_t f = 0; f < FIELD_COUNT; f++) {
        const char *v = record->fields[f];
        if (!v) continue;
        nbr_buf_printf(&b, ",\"%s\":", field_keys[f]);
        if (f + 1 == NBR_RECORD_HOST) nbr_buf_puts(&b, v);
        else nbr_buf_json_string(&b, v);
    }
    if (record->execution_count >= 0)
        nbr_buf_printf(&b, ",\"execution_count\":%lld", (long long)record->execution_count);
    if (record->duration >= 0) nbr_buf_printf(&b, ",\"duration\":%.6f", record->duration);
    for (int l = NBR_RECORD_READS; l <= NBR_RECORD_OUTPUTS; l++)
        render_list(&b, record, (nbr_record_list)l, sorted);
    nbr_buf_puts(&b, "}");
    free(sorted);
    *out = nbr_buf_take(&b);
    return *out ? NBR_OK : nbr_fail_nomem("rendering a record");
}

/* ---- parsing -------------------------------------------------------------- */

/* A rule broken by a parsed record is damage, not a caller's mistake. */
static nbr_status as_corrupt(nbr_status st)
{
    if (st != NBR_EINVAL) return st;
    char *why = nbr_copy(nbr_last_error());
    st = nbr_fail(NBR_ECORRUPT, "execution record: %s", why ? why : "invalid");
    free(why);
    return st;
}

static nbr_status parse_text_field(nbr_record *r, nbr_record_field f, const nbr_json *v)
{
    if (f == NBR_RECORD_HOST) {
        if (!nbr_json_is_object(v))
            return nbr_fail(NBR_ECORRUPT, "execution record: \"host\" is not an object");
        nbr_buf b;
        nbr_buf_init(&b);
        nbr_json_render(&b, v);
        char *text = nbr_buf_take(&b);
        if (!text) return nbr_fail_nomem("parsing a record");
        free(r->fields[f - 1]);
        r->fields[f - 1] = text;
        return NBR_OK;
    }
    if (!nbr_json_is_string(v) || strlen(nbr_json_string(v)) != nbr_json_string_length(v))
        return nbr_fail(NBR_ECORRUPT, "execution record: \"%s\" is not a string",
                        field_keys[f - 1]);
    return as_corrupt(nbr_record_set_text(r, f, nbr_json_string(v)));
}

static nbr_status parse_list(nbr_record *r, nbr_record_list list, const nbr_json *v)
{
    bool keyed = list != NBR_RECORD_OUTPUTS && list != NBR_RECORD_DELETES;
    if (keyed ? !nbr_json_is_object(v) : !nbr_json_is_array(v))
        return nbr_fail(NBR_ECORRUPT, "execution record: \"%s\" is not an %s",
                        list_keys[list - 1], keyed ? "object" : "array");
    nbr_status st = NBR_OK;
    for (size_t i = 0; st == NBR_OK && i < nbr_json_length(v); i++) {
        const nbr_json *item = nbr_json_at(v, i);
        const char *key = keyed ? nbr_json_key_at(v, i) : nbr_json_string(item);
        const char *value = keyed && nbr_json_is_string(item) ? nbr_json_string(item) : NULL;
        if (!key || (keyed && !value && !nbr_json_is_null(item)))
            return nbr_fail(NBR_ECORRUPT, "execution record: entry %zu of \"%s\" is not a string",
                            i, list_keys[list - 1]);
        st = as_corrupt(nbr_record_add(r, list, key, value));
    }
    return st;
}

static nbr_status parse_count(nbr_record *r, const nbr_json *v)
{
    int64_t count;
    if (nbr_json_is_null(v)) return NBR_OK;
    if (!nbr_json_number_int64(v, &count) || count < 0)
        return nbr_fail(NBR_ECORRUPT, "execution record: \"execution_count\" is not a count");
    r->execution_count = count;
    return NBR_OK;
}

static nbr_status parse_duration(nbr_record *r, const nbr_json *v)
{
    double seconds;
    if (!nbr_json_number_double(v, &seconds))
        return nbr_fail(NBR_ECORRUPT, "execution record: \"duration\" is not a number");
    return as_corrupt(nbr_record_set_duration(r, seconds));
}

static long key_index(const char *const *keys, size_t count, const char *key)
{
    for (size_t i = 0; i < count; i++)
        if (!strcmp(keys[i], key)) return (long)i;
    return -1;
}

static nbr_status parse_member(nbr_record *r, const char *key, const nbr_json *v)
{
    long f = key_index(field_keys, FIELD_COUNT, key);
    if (f >= 0) return parse_text_field(r, (nbr_record_field)(f + 1), v);
    long l = key_index(list_keys, LIST_COUNT, key);
    if (l >= 0) return parse_list(r, (nbr_record_list)(l + 1), v);
    if (!strcmp(key, "execution_count")) return parse_count(r, v);
    if (!strcmp(key, "duration")) return parse_duration(r, v);
    if (!strcmp(key, "record")) return NBR_OK;
    return nbr_fail(NBR_ECORRUPT, "execution record: unknown key \"%.80s\"", key);
}

static nbr_status check_version(const nbr_json *root)
{
    int64_t version;
    const nbr_json *v = nbr_json_get(root, "record");
    if (!v || !nbr_json_number_int64(v, &version) || version < 1)
        return nbr_fail(NBR_ECORRUPT, "execution record: no format version (\"record\": 1)");
    if (version > RECORD_VERSION)
        return nbr_fail(NBR_EUNSUPPORTED,
                        "execution record: format version %lld is newer than this nbrewind "
                        "reads (%d): upgrade nbrewind",
                        (long long)version, RECORD_VERSION);
    return NBR_OK;
}

static nbr_status parse_root(nbr_record *r, const nbr_json *root)
{
    if (!nbr_json_is_object(root))
        return nbr_fail(NBR_ECORRUPT, "execution record: not a JSON object");
    nbr_status st = check_version(root);
    for (size_t i = 0; st == NBR_OK && i < nbr_json_length(root); i++)
        st = parse_member(r, nbr_json_key_at(root, i), nbr_json_at(root, i));
    return st == NBR_OK ? as_corrupt(check_whole(r)) : st;
}

nbr_status nbr_record_parse(nbr_record **out, const char *text, size_t length)
{
    REQUIRE(out);
    *out = NULL;
    REQUIRE(text);
    nbr_json_doc *doc = NULL;
    nbr_json_error err;
    nbr_status st = nbr_json_parse(&doc, text, length, "execution record", NULL, &err);
    if (st == NBR_ENOMEM) return st;
    if (st != NBR_OK)
        return nbr_fail(NBR_ECORRUPT, "execution record: not JSON (line %u, column %u: %s)",
                        err.line, err.column, err.message);
    nbr_record *r = NULL;
    st = nbr_record_new(&r);
    if (st == NBR_OK) st = parse_root(r, nbr_json_root(doc));
    nbr_json_doc_free(doc);
    if (st != NBR_OK) {
        nbr_record_free(r);
        return st;
    }
    *out = r;
    return NBR_OK;
}
