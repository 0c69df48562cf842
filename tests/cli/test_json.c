/* test_json.c - the core's private JSON reader (libnbrewind/json.h).
 *
 * Without arguments: table-driven cases (accepted documents and their
 * canonical form, rejected documents with the exact status, line, column and
 * cause), accessors, limits.  Prints "N passed, N failed".
 *
 * With --canon: reads standard input, prints the parsed document in a
 * canonical compact form (numbers exactly as written, strings with only the
 * escapes JSON requires) and exits 0, or prints the error and exits 1; the
 * differential test (json_differential.py) compares that with Python's json. */
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"

static int passed, failed;

#define CHECK(cond, ...)                                                  \
    do {                                                                  \
        if (cond) {                                                       \
            passed++;                                                     \
        } else {                                                          \
            failed++;                                                     \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                 \
            fputc('\n', stderr);                                          \
        }                                                                 \
    } while (0)

/* ---- canonical form ----------------------------------------------------- */

static void canon_string(nbr_buf *out, const char *s, size_t length)
{
    nbr_buf_puts(out, "\"");
    for (size_t i = 0; i < length; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') nbr_buf_printf(out, "\\%c", c);
        else if (c < 0x20) nbr_buf_printf(out, "\\u%04x", c);
        else nbr_buf_append(out, s + i, 1);
    }
    nbr_buf_puts(out, "\"");
}

/* Recursion is bounded by the parser's depth limit. */
static void canon(nbr_buf *out, const nbr_json *v)
{
    switch (nbr_json_type_of(v)) {
    case NBR_JSON_NULL: nbr_buf_puts(out, "null"); break;
    case NBR_JSON_BOOL: nbr_buf_puts(out, nbr_json_is_true(v) ? "true" : "false"); break;
    case NBR_JSON_NUMBER: nbr_buf_puts(out, nbr_json_number_text(v)); break;
    case NBR_JSON_STRING: canon_string(out, nbr_json_string(v), nbr_json_string_length(v)); break;
    case NBR_JSON_ARRAY:
        nbr_buf_puts(out, "[");
        for (size_t i = 0; i < nbr_json_length(v); i++) {
            if (i) nbr_buf_puts(out, ",");
            canon(out, nbr_json_at(v, i));
        }
        nbr_buf_puts(out, "]");
        break;
    case NBR_JSON_OBJECT:
        nbr_buf_puts(out, "{");
        for (size_t i = 0; i < nbr_json_length(v); i++) {
            if (i) nbr_buf_puts(out, ",");
            canon_string(out, nbr_json_key_at(v, i), nbr_json_key_length(v, i));
            nbr_buf_puts(out, ":");
            canon(out, nbr_json_at(v, i));
        }
        nbr_buf_puts(out, "}");
        break;
    default: nbr_buf_puts(out, "<absent>");
    }
}

static char *canon_text(const char *text, size_t length, nbr_status *status)
{
    nbr_json_doc *doc = NULL;
    *status = nbr_json_parse(&doc, text, length, "case", NULL, NULL);
    if (*status != NBR_OK) return NULL;
    nbr_buf out;
    nbr_buf_init(&out);
    canon(&out, nbr_json_root(doc));
    nbr_json_doc_free(doc);
    return nbr_buf_take(&out);
}

/* ---- accepted documents ------------------------------------------------- */

typedef struct valid_case {
    const char *text;
    size_t length; /* 0: strlen(text) */
    const char *canonical;
} valid_case;

static const valid_case valid_cases[] = {
    {"null", 0, "null"},
    {"true", 0, "true"},
    {"false", 0, "false"},
    {"0", 0, "0"},
    {"-0", 0, "-0"},
    {"1.5e+10", 0, "1.5e+10"},
    {"-12.25E-3", 0, "-12.25E-3"},
    {"123456789012345678901234567890", 0, "123456789012345678901234567890"},
    {" \t\r\n [ ] \n", 0, "[]"},
    {"{}", 0, "{}"},
    {"[1,[2,[3,[]]]]", 0, "[1,[2,[3,[]]]]"},
    {"{\"a\" : 1 , \"b\":[true,null,\"x\"]}", 0, "{\"a\":1,\"b\":[true,null,\"x\"]}"},
    {"{\"z\":1,\"a\":2,\"m\":3}", 0, "{\"z\":1,\"a\":2,\"m\":3}"}, /* document order */
    {"{\"a\":1,\"a\":2}", 0, "{\"a\":1,\"a\":2}"},                /* duplicates kept */
    {"\"\\u00e9\\ud83d\\ude00\\n\\/\\\\\\\"\\b\\f\\r\\t\"", 0,
     "\"\xc3\xa9\xf0\x9f\x98\x80\\u000a/\\\\\\\"\\u0008\\u000c\\u000d\\u0009\""},
    {"\"\\u0000x\"", 0, "\"\\u0000x\""},
    {"\"\\uFFFF\\u0800\\u07FF\\u0080\\u007f\"", 0, "\"\xef\xbf\xbf\xe0\xa0\x80\xdf\xbf\xc2\x80\x7f\""},
    {"\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"", 0, "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\""},
    {"\xef\xbb\xbf[1]", 0, "[1]"}, /* a leading byte order mark is skipped */
    {"\"\x7f\"", 0, "\"\x7f\""},  /* DEL is not a control character for JSON */
    {"{\"\":\"\"}", 0, "{\"\":\"\"}"},
};

static void test_valid(void)
{
    for (size_t i = 0; i < sizeof valid_cases / sizeof *valid_cases; i++) {
        const valid_case *c = &valid_cases[i];
        size_t length = c->length ? c->length : strlen(c->text);
        nbr_status status;
        char *got = canon_text(c->text, length, &status);
        CHECK(got && !strcmp(got, c->canonical), "case %zu %s: got %s (%s)", i, c->text,
              got ? got : "error", got ? "" : nbr_last_error());
        free(got);
    }
}

/* ---- rejected documents ------------------------------------------------- */

typedef struct invalid_case {
    const char *text;
    nbr_status status;
    uint32_t line, column;
    const char *cause; /* a substring of the error's message */
} invalid_case;

static const invalid_case invalid_cases[] = {
    {"", NBR_EINVAL, 1, 1, "expected a value, found end of input"},
    {"   ", NBR_EINVAL, 1, 4, "expected a value"},
    {"[1,]", NBR_EINVAL, 1, 3, "trailing comma before ']'"},
    {"{\"a\":1,}", NBR_EINVAL, 1, 7, "trailing comma before '}'"},
    {"{\"a\" 1}", NBR_EINVAL, 1, 6, "expected ':', found character '1'"},
    {"[1 2]", NBR_EINVAL, 1, 4, "expected ',' or ']'"},
    {"{\"a\":1 \"b\":2}", NBR_EINVAL, 1, 8, "expected ',' or '}'"},
    {"01", NBR_EINVAL, 1, 1, "leading zeros"},
    {"-", NBR_EINVAL, 1, 2, "expected a digit after '-'"},
    {"-a", NBR_EINVAL, 1, 2, "expected a digit after '-'"},
    {"1.", NBR_EINVAL, 1, 3, "expected a digit after '.'"},
    {"1.e5", NBR_EINVAL, 1, 3, "expected a digit after '.'"},
    {"1e", NBR_EINVAL, 1, 3, "exponent"},
    {"1e+", NBR_EINVAL, 1, 4, "exponent"},
    {"+1", NBR_EINVAL, 1, 1, "expected a value, found character '+'"},
    {".5", NBR_EINVAL, 1, 1, "expected a value"},
    {"NaN", NBR_EINVAL, 1, 1, "expected a value"},
    {"Infinity", NBR_EINVAL, 1, 1, "expected a value"},
    {"nul", NBR_EINVAL, 1, 1, "invalid literal"},
    {"True", NBR_EINVAL, 1, 1, "expected a value"},
    {"truex", NBR_EINVAL, 1, 5, "unexpected data after the JSON value"},
    {"\"abc", NBR_EINVAL, 1, 1, "unterminated string"},
    {"\"abc\\\"", NBR_EINVAL, 1, 1, "unterminated string"},
    {"\"a\tb\"", NBR_EINVAL, 1, 3, "control character 0x09"},
    {"\"a\nb\"", NBR_EINVAL, 1, 3, "control character 0x0a"},
    {"\"\\x\"", NBR_EINVAL, 1, 2, "invalid escape"},
    {"\"\\u12\"", NBR_EINVAL, 1, 2, "expected 4 hex digits"},
    {"\"\\u12G4\"", NBR_EINVAL, 1, 2, "expected 4 hex digits"},
    {"\"\\ud800\"", NBR_EINVAL, 1, 2, "high surrogate"},
    {"\"\\ud800\\u0041\"", NBR_EINVAL, 1, 2, "high surrogate"},
    {"\"\\ud800\\ud800\"", NBR_EINVAL, 1, 2, "high surrogate"},
    {"\"\\udc00\"", NBR_EINVAL, 1, 2, "low surrogate"},
    {"\xff", NBR_EENCODING, 1, 1, "invalid byte 0xff"},
    {"\"\xc0\xaf\"", NBR_EENCODING, 1, 2, "invalid byte 0xc0"},     /* overlong */
    {"\"\xed\xa0\x80\"", NBR_EENCODING, 1, 2, "invalid byte 0xed"}, /* UTF-8 surrogate */
    {"\"\xf4\x90\x80\x80\"", NBR_EENCODING, 1, 2, "invalid byte 0xf4"}, /* > U+10FFFF */
    {"\"\xe2\x82\"", NBR_EENCODING, 1, 2, "invalid byte 0xe2"},      /* truncated */
    {"[1]\n\n  x", NBR_EINVAL, 3, 3, "unexpected data after the JSON value"},
    {"{'a':1}", NBR_EINVAL, 1, 2, "expected a string key"},
    {"{,}", NBR_EINVAL, 1, 2, "expected a string key"},
    {"[", NBR_EINVAL, 1, 2, "expected a value, found end of input"},
    {"{", NBR_EINVAL, 1, 2, "expected a string key, found end of input"},
    {"{\"a\":1", NBR_EINVAL, 1, 7, "expected ',' or '}', found end of input"},
    {"[\n  1,\n  2\n  x]", NBR_EINVAL, 4, 3, "expected ',' or ']', found character 'x'"},
    {"[1] // comment", NBR_EINVAL, 1, 5, "unexpected data"},
    {"[1,\x01]", NBR_EINVAL, 1, 4, "found byte 0x01"},
    {"\xef\xbb\xbf", NBR_EINVAL, 1, 4, "expected a value"},
    {"[\"\xc3\xa9\" \xc3\xa9]", NBR_EINVAL, 1, 7, "found non-ASCII character"},
};

static void test_invalid(void)
{
    for (size_t i = 0; i < sizeof invalid_cases / sizeof *invalid_cases; i++) {
        const invalid_case *c = &invalid_cases[i];
        nbr_json_doc *doc = (nbr_json_doc *)1;
        nbr_json_error error;
        nbr_status status = nbr_json_parse(&doc, c->text, strlen(c->text), "case.json", NULL, &error);
        CHECK(status == c->status && doc == NULL, "case %zu %s: status %s", i, c->text,
              nbr_status_name(status));
        CHECK(error.line == c->line && error.column == c->column,
              "case %zu %s: at line %u, column %u, expected %u, %u (%s)", i, c->text, error.line,
              error.column, c->line, c->column, error.message);
        CHECK(strstr(error.message, c->cause) != NULL, "case %zu %s: message '%s' lacks '%s'", i,
              c->text, error.message, c->cause);
        CHECK(strstr(nbr_last_error(), error.message) && !strncmp(nbr_last_error(), "case.json: ", 11),
              "case %zu: last error '%s'", i, nbr_last_error());
    }
}

static void test_message_format(void)
{
    const char *text = "{\n  \"cells\": [],\n  \"a\" 1\n}";
    nbr_json_doc *doc;
    CHECK(nbr_json_parse(&doc, text, strlen(text), "notebook.ipynb", NULL, NULL) == NBR_EINVAL,
          "status");
    CHECK(!strcmp(nbr_last_error(),
                  "notebook.ipynb: invalid JSON at line 3, column 7: expected ':', found character '1'"),
          "got '%s'", nbr_last_error());
    CHECK(nbr_json_parse(&doc, "\"\xff\"", 3, NULL, NULL, NULL) == NBR_EENCODING, "status");
    CHECK(!strcmp(nbr_last_error(),
                  "JSON text: not UTF-8 text at line 1, column 2: invalid byte 0xff at byte offset 1"),
          "got '%s'", nbr_last_error());
    /* Not NUL-terminated: the reader must stop at `length`. */
    char unterminated[3] = {'[', '1', ']'};
    CHECK(nbr_json_parse(&doc, unterminated, 2, NULL, NULL, NULL) == NBR_EINVAL, "length");
    CHECK(nbr_json_parse(&doc, NULL, 0, NULL, NULL, NULL) == NBR_EINVAL, "empty");
    CHECK(nbr_json_parse(NULL, "1", 1, NULL, NULL, NULL) == NBR_EINVAL, "NULL out");
}

/* ---- depth ------------------------------------------------------------- */

static nbr_status parse_nested(size_t depth, unsigned max_depth)
{
    char *text = malloc(2 * depth + 1);
    memset(text, '[', depth);
    memset(text + depth, ']', depth);
    nbr_json_doc *doc = NULL;
    nbr_json_options options = {.max_depth = max_depth};
    nbr_status status = nbr_json_parse(&doc, text, 2 * depth, NULL, &options, NULL);
    nbr_json_doc_free(doc);
    free(text);
    return status;
}

static void test_depth(void)
{
    CHECK(parse_nested(NBR_JSON_DEFAULT_DEPTH, 0) == NBR_OK, "default depth");
    CHECK(parse_nested(NBR_JSON_DEFAULT_DEPTH + 1, 0) == NBR_EINVAL, "past default depth");
    CHECK(strstr(nbr_last_error(), "nesting deeper than 512 levels"), "%s", nbr_last_error());
    CHECK(parse_nested(2, 2) == NBR_OK, "depth 2 of 2");
    CHECK(parse_nested(3, 2) == NBR_EINVAL, "depth 3 of 2");
    CHECK(parse_nested(NBR_JSON_MAX_DEPTH, 100000) == NBR_OK, "cap");
    CHECK(parse_nested(NBR_JSON_MAX_DEPTH + 1, 100000) == NBR_EINVAL, "past the cap");
    CHECK(parse_nested(1000000, 0) == NBR_EINVAL, "a million levels fail cleanly");
    const char *objects = "{\"a\":{\"a\":{\"a\":1}}}";
    nbr_json_options two = {.max_depth = 2};
    nbr_json_doc *doc = NULL;
    CHECK(nbr_json_parse(&doc, objects, strlen(objects), NULL, &two, NULL) == NBR_EINVAL,
          "objects count as levels");
}

/* ---- accessors --------------------------------------------------------- */

static const nbr_json *parse_root(nbr_json_doc **doc, const char *text)
{
    *doc = NULL;
    if (nbr_json_parse(doc, text, strlen(text), NULL, NULL, NULL) != NBR_OK) {
        fprintf(stderr, "cannot parse %s: %s\n", text, nbr_last_error());
        failed++;
        return NULL;
    }
    return nbr_json_root(*doc);
}

static void test_accessors(void)
{
    nbr_json_doc *doc;
    const char *text = "{\"metadata\": {\"kernelspec\": {\"language\": \"python\"}},\n"
                       " \"cells\": [1, \"two\", null, true, false, {}],\n"
                       " \"dup\": 1, \"dup\": 2, \"nul\\u0000key\": \"a\\u0000b\"}";
    const nbr_json *root = parse_root(&doc, text);
    const char *lang =
        nbr_json_string(nbr_json_get(nbr_json_get(nbr_json_get(root, "metadata"), "kernelspec"),
                                     "language"));
    CHECK(lang && !strcmp(lang, "python"), "chained get");
    CHECK(nbr_json_get(nbr_json_get(root, "nope"), "x") == NULL, "absent chains to NULL");
    CHECK(nbr_json_type_of(NULL) == NBR_JSON_ABSENT, "NULL is absent");
    const nbr_json *cells = nbr_json_get(root, "cells");
    CHECK(nbr_json_is_array(cells) && nbr_json_length(cells) == 6, "array length");
    CHECK(nbr_json_is_number(nbr_json_at(cells, 0)), "number");
    CHECK(!strcmp(nbr_json_string(nbr_json_at(cells, 1)), "two"), "string item");
    CHECK(nbr_json_is_null(nbr_json_at(cells, 2)), "null item");
    CHECK(nbr_json_is_true(nbr_json_at(cells, 3)) && !nbr_json_is_true(nbr_json_at(cells, 4)) &&
              nbr_json_is_bool(nbr_json_at(cells, 4)),
          "booleans");
    CHECK(nbr_json_is_object(nbr_json_at(cells, 5)) && nbr_json_length(nbr_json_at(cells, 5)) == 0,
          "empty object");
    CHECK(nbr_json_at(cells, 6) == NULL && nbr_json_at(root, 99) == NULL, "out of range");
    CHECK(nbr_json_string(nbr_json_at(cells, 0)) == NULL, "a number is not a string");
    CHECK(nbr_json_get(cells, "x") == NULL, "get on an array");
    int64_t dup = 0;
    CHECK(nbr_json_number_int64(nbr_json_get(root, "dup"), &dup) && dup == 2, "last key wins");
    CHECK(nbr_json_length(root) == 5, "members kept, duplicates included");
    CHECK(!strcmp(nbr_json_key_at(root, 1), "cells") && nbr_json_key_length(root, 4) == 7,
          "keys in order, with length");
    const nbr_json *nul = nbr_json_at(root, 4);
    CHECK(nbr_json_string_length(nul) == 3 && !memcmp(nbr_json_string(nul), "a\0b", 3), "NUL inside");
    uint32_t line, column;
    nbr_json_position(&line, &column, nbr_json_at(cells, 1), text, strlen(text));
    CHECK(line == 2 && column == 15, "position %u:%u", line, column);
    nbr_json_position(&line, &column, NULL, text, strlen(text));
    CHECK(line == 0 && column == 0, "position of NULL");
    CHECK(!strcmp(nbr_json_type_name(NBR_JSON_OBJECT), "object"), "type name");
    nbr_json_doc_free(doc);
    nbr_json_doc_free(NULL);
}

static bool int64_of(const char *text, int64_t *value)
{
    nbr_json_doc *doc;
    const nbr_json *root = parse_root(&doc, text);
    bool ok = nbr_json_number_int64(root, value);
    nbr_json_doc_free(doc);
    return ok;
}

static double double_of(const char *text)
{
    nbr_json_doc *doc;
    double value = -1;
    const nbr_json *root = parse_root(&doc, text);
    if (!nbr_json_number_double(root, &value)) value = -12345;
    nbr_json_doc_free(doc);
    return value;
}

static void test_numbers(void)
{
    int64_t v = 0;
    CHECK(int64_of("9223372036854775807", &v) && v == INT64_MAX, "INT64_MAX");
    CHECK(int64_of("-9223372036854775808", &v) && v == INT64_MIN, "INT64_MIN");
    CHECK(!int64_of("9223372036854775808", &v), "INT64_MAX + 1");
    CHECK(!int64_of("-9223372036854775809", &v), "INT64_MIN - 1");
    CHECK(int64_of("-0", &v) && v == 0, "-0");
    CHECK(int64_of("4", &v) && v == 4, "4");
    CHECK(!int64_of("1.0", &v) && !int64_of("1e2", &v), "not written as an integer");
    CHECK(!int64_of("\"4\"", &v), "a string is not a number");
    CHECK(double_of("1.5") == 1.5 && double_of("-2.5e-3") == -2.5e-3 && double_of("10") == 10.0,
          "doubles");
    CHECK(double_of("1e999") > 1e308, "overflow is HUGE_VAL");
    /* A host may switch the C locale to one whose decimal point is ','. */
    const char *locales[] = {"de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "C.UTF-8"};
    for (size_t i = 0; i < sizeof locales / sizeof *locales; i++) {
        if (!setlocale(LC_NUMERIC, locales[i])) continue;
        CHECK(double_of("1.25") == 1.25, "1.25 in locale %s", locales[i]);
        setlocale(LC_NUMERIC, "C");
    }
}

static void test_large(void)
{
    /* A million values: the arena and the children stack must scale. */
    size_t count = 1000000;
    nbr_buf text;
    nbr_buf_init(&text);
    nbr_buf_puts(&text, "[");
    for (size_t i = 0; i < count; i++) nbr_buf_printf(&text, i ? ",{\"k%zu\":[%zu]}" : "{\"k%zu\":[%zu]}", i, i);
    nbr_buf_puts(&text, "]");
    nbr_json_doc *doc = NULL;
    CHECK(nbr_json_parse(&doc, text.data, text.length, NULL, NULL, NULL) == NBR_OK, "large");
    const nbr_json *last = nbr_json_at(nbr_json_root(doc), count - 1);
    int64_t v = 0;
    CHECK(nbr_json_length(nbr_json_root(doc)) == count &&
              nbr_json_number_int64(nbr_json_at(nbr_json_get(last, "k999999"), 0), &v) && v == 999999,
          "large content");
    nbr_json_doc_free(doc);
    nbr_buf_clear(&text);
}

/* ---- --canon ------------------------------------------------------------ */

static int canon_stdin(void)
{
    nbr_buf in;
    nbr_buf_init(&in);
    char chunk[65536];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, stdin)) > 0) nbr_buf_append(&in, chunk, got);
    nbr_status status;
    char *out = canon_text(in.data ? in.data : "", in.length, &status);
    nbr_buf_clear(&in);
    if (!out) {
        printf("error %s %s\n", nbr_status_name(status), nbr_last_error());
        return 1;
    }
    printf("%s\n", out);
    free(out);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--canon")) return canon_stdin();
    test_valid();
    test_invalid();
    test_message_format();
    test_depth();
    test_accessors();
    test_numbers();
    test_large();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
