/* ipython.c - rewriting IPython's escapes into same-length plain Python. */
#include "ipython.h"

#include "utf8.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- code-running magics ----------------------------------------------- */

typedef struct code_magic {
    const char *name;
    const char *options_with_value; /* single-letter options taking an argument */
} code_magic;

/* Magics that execute their argument (or cell body) in the user's namespace. */
static const code_magic code_magics[] = {
    {"time", ""},
    {"timeit", "nrp"},
    {"prun", "lsDT"},
    {"capture", ""},
};

/* Magics that run code nobody analyses, with the user's namespace in reach
 * (a script run by %run reaches it as __main__), and magics that read every
 * name (%who lists them: its output changes when any name does). */
static const char *const opaque_magics[] = {"run", "debug", "load_ext", "reload_ext",
                                            "who", "whos", "who_ls"};
static const char *const namespace_reading_magics[] = {"who", "whos", "who_ls"};

static bool in_names(const char *const *names, size_t count, const char *name, size_t length)
{
    for (size_t i = 0; i < count; i++)
        if (strlen(names[i]) == length && !memcmp(names[i], name, length)) return true;
    return false;
}

bool nbr_ipython_magic_is_opaque(const char *name, size_t name_length)
{
    return in_names(opaque_magics, sizeof opaque_magics / sizeof opaque_magics[0], name,
                    name_length);
}

bool nbr_ipython_magic_reads_namespace(const char *name, size_t name_length)
{
    size_t count = sizeof namespace_reading_magics / sizeof namespace_reading_magics[0];
    return in_names(namespace_reading_magics, count, name, name_length);
}

static const code_magic *find_code_magic(const char *name, size_t length)
{
    for (size_t i = 0; i < sizeof code_magics / sizeof code_magics[0]; i++)
        if (strlen(code_magics[i].name) == length && !memcmp(code_magics[i].name, name, length))
            return &code_magics[i];
    return NULL;
}

static size_t skip_blanks(const char *s, size_t at, size_t length)
{
    while (at < length && (s[at] == ' ' || s[at] == '\t')) at++;
    return at;
}

static size_t skip_word(const char *s, size_t at, size_t length)
{
    while (at < length && s[at] != ' ' && s[at] != '\t') at++;
    return at;
}

/* Skips `-x`, `-x VALUE`, `-xVALUE` and `--long` options at the start of args. */
static size_t skip_options(const code_magic *magic, const char *args, size_t length)
{
    size_t at = skip_blanks(args, 0, length);
    while (at + 1 < length && args[at] == '-' && args[at + 1] != ' ') {
        bool takes_value = args[at + 1] != '-' && strchr(magic->options_with_value, args[at + 1]);
        bool value_attached = at + 2 < length && args[at + 2] != ' ' && args[at + 2] != '\t';
        at = skip_blanks(args, skip_word(args, at, length), length);
        if (takes_value && !value_attached) at = skip_blanks(args, skip_word(args, at, length), length);
    }
    return at;
}

bool nbr_ipython_magic_runs_code(const char *name, size_t name_length, bool cell,
                                 const char *args, size_t args_length, size_t *code_offset,
                                 const char **capture, size_t *capture_length)
{
    const code_magic *magic = find_code_magic(name, name_length);
    *code_offset = 0;
    *capture = NULL;
    *capture_length = 0;
    if (!magic) return false;
    bool is_capture = !strcmp(magic->name, "capture");
    if (is_capture && !cell) return false; /* %capture is a cell magic only */
    size_t at = skip_options(magic, args, args_length);
    if (is_capture && at < args_length) {
        *capture = args + at;
        *capture_length = skip_word(args, at, args_length) - at;
        while (*capture_length && isspace((unsigned char)(*capture)[*capture_length - 1]))
            (*capture_length)--;
    }
    *code_offset = at;
    return true;
}

/* ---- finding logical line starts --------------------------------------- */

/* A light Python lexer: just enough to know whether a physical line begins a
 * new statement (not inside brackets, a string or a backslash continuation),
 * because only there can an escape like `%` or `!` appear. */
typedef struct line_scanner {
    int depth;          /* open brackets */
    char quote;         /* the quote char of an open string, or 0 */
    bool triple;        /* the open string is triple-quoted */
    bool continuation;  /* the previous line ended with a backslash */
} line_scanner;

/* Advances the scanner over one physical line [start, end). */
static void scan_line(line_scanner *sc, const char *s, size_t start, size_t end)
{
    sc->continuation = false;
    for (size_t i = start; i < end; i++) {
        char c = s[i];
        if (sc->quote) {
            if (c == '\\') { i++; continue; }
            if (c != sc->quote) continue;
            if (!sc->triple) sc->quote = 0;
            else if (i + 2 < end && s[i + 1] == c && s[i + 2] == c) { sc->quote = 0; i += 2; }
            continue;
        }
        if (isalnum((unsigned char)c) || c == '_') continue;
        if (c == '#') break;
        if (c == '\'' || c == '"') {
            sc->quote = c;
            sc->triple = i + 2 < end && s[i + 1] == c && s[i + 2] == c;
            if (sc->triple) i += 2;
        } else if (strchr("([{", c)) {
            sc->depth++;
        } else if (strchr(")]}", c) && sc->depth > 0) {
            sc->depth--;
        } else if (c == '\\' && i + 1 == end) {
            sc->continuation = true;
        }
    }
    /* A single-quoted string cannot span lines; an unclosed one is a syntax
     * error the parser will report, not a reason to stop finding escapes. */
    if (sc->quote && !sc->triple) sc->quote = 0;
}

static bool at_statement_start(const line_scanner *sc)
{
    return sc->depth == 0 && !sc->quote && !sc->continuation;
}

/* ---- rewriting --------------------------------------------------------- */

static void blank(char *out, size_t start, size_t end)
{
    for (size_t i = start; i < end; i++)
        if (out[i] != '\n' && out[i] != '\r') out[i] = ' ';
}

/* Replaces [start, end) by the expression `0` padded with blanks. */
static void replace_with_zero(char *out, size_t start, size_t end)
{
    blank(out, start, end);
    if (start < end) out[start] = '0';
}

static size_t name_end(const char *s, size_t at, size_t end)
{
    while (at < end && (isalnum((unsigned char)s[at]) || s[at] == '_' || s[at] == '.')) at++;
    return at;
}

/* ---- variable expansion ------------------------------------------------
 *
 * IPython expands `{expr}` and `$name` in shell commands (`!cp {src} $dst`)
 * and in the arguments of most magics before running them: those are reads
 * of the user's names.  The escape becomes `0`; each expansion is kept where
 * it was, `{expr}` as the subscript `[expr]` and `$name` as `+name`, so that
 * `!cp {src} $dst` reads as `0    [src] +dst`.  An expansion that would not
 * be a plain expression (`{}`, awk's `{print $1}`) is left out: IPython
 * leaves such text as it is too, when evaluating it fails. */

/* Identifier characters, counting any byte of a UTF-8 sequence as one. */
static bool is_word_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || (unsigned char)c >= 0x80;
}

/* Where the `{` at `open` is closed (brackets and quotes inside balanced),
 * or `end` if it is not on this line. */
static size_t closing_brace(const char *s, size_t open, size_t end)
{
    int depth = 0;
    char quote = 0;
    for (size_t i = open + 1; i < end; i++) {
        char c = s[i];
        if (quote) {
            if (c == '\\') i++;
            else if (c == quote) quote = 0;
        } else if (c == '\'' || c == '"') {
            quote = c;
        } else if (c && strchr("([{", c)) {
            depth++;
        } else if (c && strchr(")]}", c)) {
            if (depth == 0) return c == '}' ? i : end;
            depth--;
        }
    }
    return end;
}

static bool is_identifier_start(char c)
{
    return isalpha((unsigned char)c) || c == '_' || (unsigned char)c >= 0x80;
}

/* A word starting with a digit is a number: digits, `_`, one exponent or an
 * imaginary suffix (`1e-3` arrives as `1e`, `-`, `3`), not `2x`. */
static bool plain_number(const char *s, size_t start, size_t end)
{
    int dots = 0;
    for (size_t i = start; i < end; i++) {
        if (s[i] == '.' && ++dots > 1) return false;
        if (!isdigit((unsigned char)s[i]) && !strchr("_.eEjJ", s[i])) return false;
    }
    return true;
}

/* Whether [start, end) can stand alone as an expression: it starts with an
 * operand or a unary operator and ends with an operand, holds no statement
 * characters, no format spec or conversion (`{x:>8}`, `{x!r}`, which
 * IPython's expansion does not take either), no bash brace forms (`{1..5}`,
 * `{,.bak}`, `{.}`) and no two operands side by side (`print $1`).  What
 * passes and still does not parse is caught by the caller's parse. */
static bool plain_expression(const char *s, size_t start, size_t end)
{
    bool operand = false, any = false;
    int depth = 0;
    char quote = 0;
    for (size_t i = start; i < end; i++) {
        char c = s[i];
        if (quote) {
            if (c == '\\') i++;
            else if (c == quote) quote = 0;
            continue;
        }
        if (c == ' ' || c == '\t') continue;
        if (c == '\0' || strchr(";\\`$#{}", c)) return false;
        if (!any && !is_word_char(c) && !strchr("'\"([-+~", c)) return false;
        if (depth == 0 && (c == ':' || c == '!')) return false;
        if (c == '.' && i + 1 < end && s[i + 1] == '.') return false;
        if (c == '=' && !(i + 1 < end && s[i + 1] == '=') &&
            !(i > start && strchr("=!<>", s[i - 1])))
            return false;
        bool starts_operand = is_word_char(c) || c == '\'' || c == '"';
        if (starts_operand && operand) return false;
        if (c == '\'' || c == '"') {
            quote = c;
        } else if (is_word_char(c)) {
            size_t word = i;
            while (i + 1 < end && (is_word_char(s[i + 1]) || s[i + 1] == '.')) {
                if (s[i + 1] == '.' && (i + 2 >= end || s[i + 2] == '.')) return false;
                i++;
            }
            if (isdigit((unsigned char)c) ? !plain_number(s, word, i + 1) : s[i] == '.')
                return false;
        } else if (c == '(' || c == '[') {
            depth++;
        } else if ((c == ')' || c == ']') && depth > 0) {
            depth--;
        }
        operand = starts_operand || c == ')' || c == ']';
        any = true;
    }
    return any && operand && !quote && depth == 0;
}

/* `$name`, `$name.attr` as IPython takes them; a dot not followed by a name
 * ends it (`$log.1` is `$log` and text). */
static size_t dollar_name_end(const char *s, size_t at, size_t end)
{
    while (at < end && (is_word_char(s[at]) ||
                        (s[at] == '.' && at + 1 < end && is_identifier_start(s[at + 1]))))
        at++;
    return at;
}

/* Writes the expansions of s[from, end) into `out` (already blanked there). */
static void write_expansions(char *out, const char *s, size_t from, size_t end)
{
    for (size_t i = from; i < end; i++) {
        if ((s[i] == '{' || s[i] == '$') && i + 1 < end && s[i + 1] == s[i]) {
            i++; /* `{{` and `$$` stand for themselves */
        } else if (s[i] == '{') {
            size_t close = closing_brace(s, i, end), stop = close;
            if (close == end) return;
            if (close - i > 3 && s[close - 2] == '!' && s[close - 1] && strchr("rsa", s[close - 1]))
                stop = close - 2; /* `{x!r}`: a conversion of what x gives */
            if (plain_expression(s, i + 1, stop)) {
                out[i] = '[';
                memcpy(out + i + 1, s + i + 1, stop - i - 1);
                out[close] = ']';
            }
            i = close;
        } else if (s[i] == '$' && i + 1 < end && is_identifier_start(s[i + 1])) {
            size_t stop = dollar_name_end(s, i + 1, end);
            out[i] = '+';
            memcpy(out + i + 1, s + i + 1, stop - i - 1);
            i = stop - 1;
        }
    }
}


/* `%time stmt` at [at, end): moves `stmt` to where the `%` was (keeping the
 * block's indentation) and pads the line with blanks.  Returns false if the
 * magic does not run code. */
static bool rewrite_code_magic(char *out, const char *s, size_t at, size_t end)
{
    size_t name_start = at + 1, name_stop = name_end(s, name_start, end);
    size_t offset;
    const char *capture;
    size_t capture_length;
    if (!nbr_ipython_magic_runs_code(s + name_start, name_stop - name_start, false,
                                     s + name_stop, end - name_stop, &offset, &capture,
                                     &capture_length))
        return false;
    size_t code = name_stop + offset;
    memmove(out + at, s + code, end - code);
    blank(out, at + (end - code), end);
    return true;
}

/* `x = !cmd` or `x, y = %magic args`: the escape at `escape` ends the line. */
static bool find_assigned_escape(const char *s, size_t at, size_t end, size_t *escape)
{
    size_t i = at;
    while (i < end && (isalnum((unsigned char)s[i]) || strchr("_., []()*", s[i]))) i++;
    if (i == at || i >= end || s[i] != '=' || (i + 1 < end && s[i + 1] == '=')) return false;
    i = skip_blanks(s, i + 1, end);
    if (i < end && (s[i] == '!' || s[i] == '%')) {
        *escape = i;
        return true;
    }
    return false;
}

/* `obj?`, `obj.attr??`: a help request. */
static bool is_help_request(const char *s, size_t at, size_t end)
{
    while (end > at && isspace((unsigned char)s[end - 1])) end--;
    if (end == at || s[end - 1] != '?') return false;
    size_t stop = end - 1;
    if (stop > at && s[stop - 1] == '?') stop--;
    return stop > at && name_end(s, at, stop) == stop;
}

typedef struct rewrite_options {
    bool expand;
    nbr_ipython_opaque_fn on_opaque;
    void *ctx;
} rewrite_options;

/* The shell command or magic at [escape, end), whose name (empty for `!`)
 * ends at `args`: an opaque magic is reported, the escape becomes `0`, and
 * its arguments' expansions stay when asked for. */
static void replace_escape(char *out, const char *s, size_t escape, size_t args, size_t end,
                           const rewrite_options *o)
{
    const char *name = s + escape + 1;
    size_t name_length = args - escape - 1;
    if (s[escape] == '%' && o->on_opaque && nbr_ipython_magic_is_opaque(name, name_length))
        o->on_opaque(o->ctx, escape, name, name_length);
    replace_with_zero(out, escape, end);
    if (o->expand) write_expansions(out, s, args, end);
}

static void rewrite_escape_line(char *out, const char *s, size_t at, size_t end,
                                const rewrite_options *report)
{
    size_t escape;
    if (s[at] == '%' || s[at] == '!') {
        bool line_magic = s[at] == '%' && at + 1 < end && s[at + 1] != '%';
        if (line_magic && rewrite_code_magic(out, s, at, end)) return;
        replace_escape(out, s, at, line_magic ? name_end(s, at + 1, end) : at + 1, end, report);
    } else if (s[at] == '?') { /* `?obj`: help */
        replace_with_zero(out, at, end);
    } else if (find_assigned_escape(s, at, end, &escape)) {
        size_t args = s[escape] == '%' ? name_end(s, escape + 1, end) : escape + 1;
        replace_escape(out, s, escape, args, end, report);
    } else if (is_help_request(s, at, end)) {
        replace_with_zero(out, at, end);
    }
}

static size_t line_end(const char *s, size_t at, size_t length)
{
    while (at < length && s[at] != '\n') at++;
    return at;
}

/* A `%%magic` on the cell's first non-blank line: blank that line, and the
 * whole cell if the magic's body is not Python.  `%%capture out` becomes
 * `out = 0`.  Returns where ordinary rewriting should resume. */
static size_t rewrite_cell_magic(char *out, const char *s, size_t length, bool expand)
{
    size_t at = 0;
    while (at < length) { /* IPython drops leading blank lines first */
        size_t end = line_end(s, at, length);
        if (skip_blanks(s, at, end) != end) break;
        at = end + 1;
    }
    if (at + 2 > length || s[at] != '%' || s[at + 1] != '%') return 0;
    size_t end = line_end(s, at, length);
    size_t name_start = at + 2, name_stop = name_end(s, name_start, end);
    size_t offset, capture_length;
    const char *capture;
    bool python_body = nbr_ipython_magic_runs_code(s + name_start, name_stop - name_start, true,
                                                   s + name_stop, end - name_stop, &offset,
                                                   &capture, &capture_length);
    if (!python_body) { /* `%%writefile {path}` still reads `path` */
        blank(out, 0, length);
        if (expand) {
            replace_with_zero(out, at, end);
            write_expansions(out, s, name_stop, end);
        }
        return length;
    }
    blank(out, at, end);
    if (capture_length && capture_length + 4 <= end - at) {
        memcpy(out + at, capture, capture_length);
        memcpy(out + at + capture_length, " = 0", 4);
    }
    return end;
}

/* Whether the cell has any character an IPython escape starts with; most
 * cells have none, and then there is nothing to rewrite. */
static bool may_have_escapes(const char *s, size_t length)
{
    return memchr(s, '%', length) || memchr(s, '!', length) || memchr(s, '?', length);
}

char *nbr_ipython_rewrite(const char *source, size_t length, bool expand,
                          nbr_ipython_opaque_fn on_opaque, void *ctx)
{
    const rewrite_options report = {expand, on_opaque, ctx};
    char *out = malloc(length + 1);
    if (!out) return NULL;
    memcpy(out, source, length);
    out[length] = '\0';
    if (!may_have_escapes(source, length)) return out;
    size_t at = rewrite_cell_magic(out, source, length, expand);
    if (at >= length) return out;
    if (at > 0) at++; /* past the magic line's newline */
    line_scanner sc = {0};
    while (at < length) {
        size_t end = line_end(source, at, length);
        size_t text_end = end > at && source[end - 1] == '\r' ? end - 1 : end;
        if (at_statement_start(&sc)) {
            size_t first = skip_blanks(source, at, text_end);
            if (first < text_end) rewrite_escape_line(out, source, first, text_end, &report);
        }
        scan_line(&sc, out, at, text_end);
        at = end + 1;
    }
    return out;
}

/* ---- string literals --------------------------------------------------- */

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes the escape at body[*i] (just after the backslash) into out. */
static size_t decode_escape(const char *body, size_t length, size_t *i, char *out)
{
    char c = body[*i];
    static const char simple_from[] = "\\'\"nrtabfv", simple_to[] = "\\'\"\n\r\t\a\b\f\v";
    const char *simple = strchr(simple_from, c);
    if (simple && c) {
        out[0] = simple_to[simple - simple_from];
        return 1;
    }
    if (c == '\n') return 0; /* line continuation */
    int digits = c == 'x' ? 2 : c == 'u' ? 4 : c == 'U' ? 8 : 0;
    if (digits && *i + (size_t)digits < length) {
        uint32_t cp = 0;
        for (int k = 1; k <= digits; k++) {
            int h = hex_value(body[*i + (size_t)k]);
            if (h < 0) return (size_t)-1;
            cp = cp * 16 + (uint32_t)h;
        }
        if (cp > 0x10FFFF) return (size_t)-1;
        *i += (size_t)digits;
        return nbr_utf8_encode(out, cp);
    }
    out[0] = '\\'; /* unknown escapes keep the backslash, as Python does */
    out[1] = c;
    return 2;
}

char *nbr_python_string_literal(const char *literal, size_t length, size_t *out_length)
{
    if (length < 2) return NULL;
    char quote = literal[0];
    if ((quote != '\'' && quote != '"') || literal[length - 1] != quote) return NULL;
    size_t open = length >= 6 && literal[1] == quote && literal[2] == quote ? 3 : 1;
    if (length < 2 * open) return NULL;
    const char *body = literal + open;
    size_t body_length = length - 2 * open;
    char *out = malloc(body_length * 2 + 1); /* \xhh grows at most to 2 bytes per char */
    if (!out) return NULL;
    size_t n = 0;
    for (size_t i = 0; i < body_length; i++) {
        if (body[i] != '\\' || i + 1 >= body_length) {
            out[n++] = body[i];
            continue;
        }
        i++;
        size_t wrote = decode_escape(body, body_length, &i, out + n);
        if (wrote == (size_t)-1) {
            free(out);
            return NULL;
        }
        n += wrote;
    }
    out[n] = '\0';
    *out_length = n;
    return out;
}
