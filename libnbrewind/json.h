/* json.h - a strict JSON reader producing a read-only tree (private).
 *
 * Used to read notebooks (.ipynb) and, later, the execution record that
 * travels in notebook metadata.  Writing JSON is buf.h's nbr_buf_json_string.
 *
 * What "strict" means here (RFC 8259):
 *  - the text must be UTF-8; one leading byte order mark is skipped (the RFC
 *    allows a reader to ignore it), any other invalid byte is an error;
 *  - no comments, trailing commas, single quotes, NaN/Infinity, leading '+'
 *    or leading zeros; only space, tab, CR and LF count as whitespace;
 *  - \uXXXX escapes are decoded to UTF-8; a surrogate pair becomes one code
 *    point and an unpaired surrogate is an error (it has no UTF-8 form);
 *    "\u0000" is allowed and yields a NUL byte inside the string, which is why
 *    every string also has a length;
 *  - objects keep their members in document order.  Duplicate keys are kept
 *    too; nbr_json_get() returns the last one, as Python's json and
 *    JavaScript's JSON.parse do, so nbr reads a notebook the way Jupyter does;
 *  - nesting deeper than a limit (NBR_JSON_DEFAULT_DEPTH unless the options
 *    say otherwise) is an error, so hostile input cannot exhaust the stack.
 *
 * Every accessor accepts NULL and answers "absent" (NULL, 0, false), so that
 * lookups chain without a check at each step:
 *     nbr_json_string(nbr_json_get(nbr_json_get(root, "metadata"), "kernelspec"))
 */
#ifndef NBR_JSON_H
#define NBR_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"

/* Deep enough for any notebook or record; shallow enough for a small stack. */
#define NBR_JSON_DEFAULT_DEPTH 512
/* The largest limit the options may ask for: the reader recurses once per
 * level, so this bounds its stack use to well under a megabyte. */
#define NBR_JSON_MAX_DEPTH 4096

typedef enum nbr_json_type {
    NBR_JSON_ABSENT = 0, /* what a NULL value reports: "no such value" */
    NBR_JSON_NULL,
    NBR_JSON_BOOL,
    NBR_JSON_NUMBER,
    NBR_JSON_STRING,
    NBR_JSON_ARRAY,
    NBR_JSON_OBJECT
} nbr_json_type;

/* A parsed document: owns every value and string reachable from its root. */
typedef struct nbr_json_doc nbr_json_doc;

/* One value inside a document.  Borrowed: valid until the document is freed. */
typedef struct nbr_json nbr_json;

typedef struct nbr_json_options {
    unsigned max_depth; /* 0 means NBR_JSON_DEFAULT_DEPTH; capped at NBR_JSON_MAX_DEPTH */
} nbr_json_options;

/* Where and why a parse failed.  `message` is the cause alone ("expected ':'");
 * the full sentence goes to nbr_last_error(). */
typedef struct nbr_json_error {
    size_t offset;   /* byte offset of the offending input */
    uint32_t line;   /* 1-based */
    uint32_t column; /* 1-based, in bytes, like every column in nbrewind */
    char message[160];
} nbr_json_error;

/* Parse `length` bytes of JSON text (need not be NUL-terminated; not retained).
 *
 * `source_name` names the input in the error message, e.g. "notebook.ipynb:
 * invalid JSON at line 3, column 7: expected ':'"; NULL means "JSON text".
 * `options` and `error` may be NULL.
 *
 * Returns NBR_OK and a new document in *out (free it with nbr_json_doc_free),
 * NBR_EENCODING if the text is not UTF-8, NBR_EINVAL if it is not JSON or
 * nests too deeply, NBR_ENOMEM.  On failure *out is NULL and `error`, if
 * given, says where. */
nbr_status nbr_json_parse(nbr_json_doc **out, const char *text, size_t length,
                          const char *source_name, const nbr_json_options *options,
                          nbr_json_error *error);

/* Release a document and every value borrowed from it.  NULL is ignored. */
void nbr_json_doc_free(nbr_json_doc *doc);

/* The top-level value.  Never NULL for a parsed document. */
const nbr_json *nbr_json_root(const nbr_json_doc *doc);

/* The 1-based line and column where `value` starts in the parsed text, for
 * messages about well-formed JSON that has the wrong shape.  Both 0 if value
 * is NULL.  Costs a scan of the text up to the value, so use it for errors
 * only.  The document keeps no copy of the text: pass the same text again. */
void nbr_json_position(uint32_t *line, uint32_t *column, const nbr_json *value,
                       const char *text, size_t length);

/* ---- type checks ------------------------------------------------------- */

nbr_json_type nbr_json_type_of(const nbr_json *value);
const char *nbr_json_type_name(nbr_json_type type); /* "null", "string", ... */
bool nbr_json_is_null(const nbr_json *value);
bool nbr_json_is_bool(const nbr_json *value);
bool nbr_json_is_number(const nbr_json *value);
bool nbr_json_is_string(const nbr_json *value);
bool nbr_json_is_array(const nbr_json *value);
bool nbr_json_is_object(const nbr_json *value);

/* ---- scalars ----------------------------------------------------------- */

/* true only for the JSON literal `true`. */
bool nbr_json_is_true(const nbr_json *value);

/* A string's decoded UTF-8 bytes, NUL-terminated, or NULL if value is not a
 * string.  The string itself may contain NUL bytes ("\u0000"); compare
 * nbr_json_string_length() with strlen() when that matters. */
const char *nbr_json_string(const nbr_json *value);
size_t nbr_json_string_length(const nbr_json *value);

/* A number exactly as written in the document ("-1.5e3"), or NULL. */
const char *nbr_json_number_text(const nbr_json *value);

/* A number that is an integer written without fraction or exponent and fits
 * in int64_t ("42", "-7"): true and *out set; otherwise false. */
bool nbr_json_number_int64(const nbr_json *value, int64_t *out);

/* Any number as the nearest double (independent of the C locale); numbers
 * beyond double's range become +-HUGE_VAL.  false if value is not a number
 * (or, for a number longer than 127 bytes in a ',' locale, out of memory). */
bool nbr_json_number_double(const nbr_json *value, double *out);

/* ---- arrays and objects ------------------------------------------------ */

/* The number of items of an array or members of an object; 0 otherwise. */
size_t nbr_json_length(const nbr_json *value);

/* The index-th item of an array or the index-th member's value of an object
 * (document order), or NULL if out of range or not a container. */
const nbr_json *nbr_json_at(const nbr_json *value, size_t index);

/* The index-th member's key of an object, or NULL.  nbr_json_key_length()
 * gives its length in bytes (keys may contain "\u0000" too). */
const char *nbr_json_key_at(const nbr_json *object, size_t index);
size_t nbr_json_key_length(const nbr_json *object, size_t index);

/* The value of the member named `key` (the last one if the key repeats), or
 * NULL if there is none or `object` is not an object.  Linear in the number
 * of members. */
const nbr_json *nbr_json_get(const nbr_json *object, const char *key);

/* ---- UTF-8 ------------------------------------------------------------- */


/* Appends `value` as compact JSON text (no spaces), strings re-escaped. */
void nbr_json_render(nbr_buf *buf, const nbr_json *value);

#endif
