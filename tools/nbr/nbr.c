/* nbr - the nbrewind command-line tool.
 *
 * A thin front end to libnbrewind for people and scripts: `nbr analyze`
 * reports what a cell, or every code cell of a notebook, reads and writes,
 * and how the cells of a notebook depend on each other.  It links the static
 * library so that it can read notebooks with the core's private JSON reader.
 *
 * Exit status: 0 success, 1 the input was analysed but has syntax errors (the
 * result is still printed), 2 nbr could not do what it was asked (usage
 * error, unreadable or malformed input, out of memory, output failure). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "json.h"
#include "utf8.h"
#include "nbrewind.h"
#include "strset.h"

enum { EXIT_SYNTAX_ERRORS = 1, EXIT_USAGE = 2 };

/* Big enough for any real notebook (outputs included), small enough that a
 * mistaken argument (a disk image, /dev/zero) fails fast with a clear reason. */
#define INPUT_LIMIT ((size_t)256 << 20)

/* ---- messages ---------------------------------------------------------- */

static const char main_usage[] =
    "usage: nbr [--version] [--help] <command> [<args>]\n";

static const char main_help[] =
    "usage: nbr [--version] [--help] <command> [<args>]\n"
    "\n"
    "nbr is the command-line front end of libnbrewind, the core of nbrewind\n"
    "(incremental, checkpointed re-execution of Jupyter notebooks).\n"
    "\n"
    "Commands:\n"
    "   analyze    Report what a cell, or each cell of a notebook, reads and writes\n"
    "   help       Show help for nbr or for a command\n"
    "\n"
    "Options:\n"
    "   --version  Print nbr's version and exit\n"
    "   -h, --help Print this help and exit\n"
    "\n"
    "Exit status: 0 success; 1 syntax errors in the analysed code (the result is\n"
    "still printed); 2 usage error or unusable input.\n"
    "\n"
    "See 'nbr help <command>' for more about a command.\n";

static const char analyze_usage[] =
    "usage: nbr analyze [--lang python|r] [--format json|text] [FILE | -]\n"
    "   or: nbr analyze --notebook NOTEBOOK.ipynb [--lang python|r] [--format json|text]\n";

static const char analyze_help[] =
    "usage: nbr analyze [--lang python|r] [--format json|text] [FILE | -]\n"
    "   or: nbr analyze --notebook NOTEBOOK.ipynb [--lang python|r] [--format json|text]\n"
    "\n"
    "Analyse the data flow of one cell (FILE, or standard input for '-') or of\n"
    "every code cell of a Jupyter notebook (nbformat 4).\n"
    "\n"
    "For one cell, print one JSON object with the keys defs, uses, may_mutate,\n"
    "deletes, imports (lists of names), functions, classes (name -> {\"reads\",\n"
    "\"writes\"}), flags and errors (lists of {\"message\", \"line\", \"column\"}).\n"
    "\n"
    "For a notebook, print {\"language\", \"cells\": [{\"id\", \"index\", \"analysis\"}],\n"
    "\"edges\": [{\"from\", \"to\", \"name\"}]}: each code cell's analysis, in notebook\n"
    "order, and the data-flow edges between cells (cell ids; index is the cell's\n"
    "1-based position among all cells of the notebook).\n"
    "\n"
    "Options:\n"
    "   -l, --lang LANG        python or r.  Required for a cell unless FILE ends in\n"
    "                          .py, .ipy or .r/.R; for a notebook it overrides the\n"
    "                          language in the notebook's metadata\n"
    "   -n, --notebook FILE    analyse the notebook FILE ('-': standard input); a FILE\n"
    "                          argument ending in .ipynb is read as a notebook too\n"
    "   -f, --format FORMAT    json (default) or text, a table for people\n"
    "   -h, --help             print this help and exit\n"
    "\n"
    "Exit status: 0 success; 1 the code has syntax errors (the partial result is\n"
    "still printed); 2 usage error or unusable input (a one-line message on\n"
    "standard error names the input and the cause).\n";

/* Prints "nbr: <message>" on stderr: every failure is one line naming its input. */
static void vcomplain(const char *fmt, va_list args)
{
    fputs("nbr: ", stderr);
    vfprintf(stderr, fmt, args);
    fputc('\n', stderr);
}

static void complain(const char *fmt, ...) NBR_PRINTF(1, 2);

static void complain(const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    vcomplain(fmt, args);
    va_end(args);
}

/* A usage error: the cause, then the usage lines, as git does. */
static int usage_error(const char *usage, const char *fmt, ...) NBR_PRINTF(2, 3);

static int usage_error(const char *usage, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    vcomplain(fmt, args);
    va_end(args);
    fputs(usage, stderr);
    return EXIT_USAGE;
}

/* ---- reading input ----------------------------------------------------- */

typedef struct input {
    const char *name; /* as the user wrote it, or "<stdin>" */
    char *data;       /* NUL-terminated for convenience; may contain NULs */
    size_t length;
} input;

static void input_free(input *in)
{
    free(in->data);
    in->data = NULL;
    in->length = 0;
}

static bool report_too_large(const char *name)
{
    complain("%s: too large (nbr reads at most %zu MiB)", name, INPUT_LIMIT >> 20);
    return false;
}

/* Reads all of fd into a buffer, up to INPUT_LIMIT bytes. */
static bool read_all(input *in, int fd)
{
    size_t capacity = 64 * 1024, length = 0;
    char *data = malloc(capacity + 1);
    if (!data) {
        complain("%s: out of memory", in->name);
        return false;
    }
    for (;;) {
        if (length == capacity) {
            if (capacity > INPUT_LIMIT) {
                free(data);
                return report_too_large(in->name);
            }
            /* One byte past the limit is enough to tell that it was passed. */
            capacity = capacity * 2 <= INPUT_LIMIT ? capacity * 2 : INPUT_LIMIT + 1;
            char *grown = realloc(data, capacity + 1);
            if (!grown) {
                free(data);
                complain("%s: out of memory", in->name);
                return false;
            }
            data = grown;
        }
        ssize_t got = read(fd, data + length, capacity - length);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            int cause = errno;
            free(data);
            complain("%s: cannot read: %s", in->name, strerror(cause));
            return false;
        }
        if (got == 0) break;
        length += (size_t)got;
    }
    if (length > INPUT_LIMIT) {
        free(data);
        return report_too_large(in->name);
    }
    data[length] = '\0';
    in->data = data;
    in->length = length;
    return true;
}

/* Opens `path` ("-" for stdin) and reads it in full.  Prints the reason and
 * returns false if it cannot. */
static bool read_input(input *in, const char *path)
{
    memset(in, 0, sizeof *in);
    bool from_stdin = !strcmp(path, "-");
    in->name = from_stdin ? "<stdin>" : path;
    int fd = from_stdin ? STDIN_FILENO : open(path, O_RDONLY);
    if (fd < 0) {
        complain("%s: cannot open: %s", path, strerror(errno));
        return false;
    }
    struct stat st;
    bool ok = true;
    if (fstat(fd, &st) != 0) {
        complain("%s: cannot read: %s", in->name, strerror(errno));
        ok = false;
    } else if (S_ISDIR(st.st_mode)) {
        complain("%s: is a directory, not a file", in->name);
        ok = false;
    } else if (S_ISREG(st.st_mode) && (unsigned long long)st.st_size > INPUT_LIMIT) {
        ok = report_too_large(in->name);
    }
    if (ok) ok = read_all(in, fd);
    if (!from_stdin) close(fd);
    return ok;
}

/* Text means UTF-8 without NUL bytes.  A NUL anywhere says "binary file"
 * (as for git and grep), UTF-16 is named for what it is, and any other
 * invalid byte says "wrong encoding" (Latin-1, Windows-1252, ...). */
static bool check_text(const input *in)
{
    const unsigned char *bytes = (const unsigned char *)in->data;
    if (in->length >= 2 && ((bytes[0] == 0xFF && bytes[1] == 0xFE) ||
                            (bytes[0] == 0xFE && bytes[1] == 0xFF))) {
        complain("%s: UTF-16 text, not UTF-8 (convert it, e.g. iconv -f UTF-16 -t UTF-8)",
                 in->name);
        return false;
    }
    const char *nul = memchr(in->data, '\0', in->length);
    if (nul) {
        complain("%s: binary data, not text (NUL byte at offset %zu)", in->name,
                 (size_t)(nul - in->data));
        return false;
    }
    size_t bad = nbr_utf8_first_invalid(in->data, in->length);
    if (bad < in->length) {
        complain("%s: not UTF-8 text (invalid byte 0x%02x at offset %zu)", in->name,
                 bytes[bad], bad);
        return false;
    }
    return true;
}

/* ---- output ------------------------------------------------------------ */

typedef enum output_format { FORMAT_JSON, FORMAT_TEXT } output_format;

/* Standard output may be a full disk or a closed pipe: say so and fail
 * rather than exit 0 with the output lost. */
static bool flush_output(void)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        complain("cannot write the output: %s", strerror(errno));
        return false;
    }
    return true;
}

/* Writes the finished output.  Output is built in memory first so that a
 * failure half-way never leaves half a JSON document on stdout. */
static bool emit(const nbr_buf *out)
{
    if (out->failed) {
        complain("out of memory while formatting the output");
        return false;
    }
    if (out->length) fwrite(out->data, 1, out->length, stdout);
    return flush_output();
}

/* "a, b, c" or "-" */
static void text_names(nbr_buf *out, const nbr_analysis *a, nbr_names which)
{
    size_t count = nbr_analysis_name_count(a, which);
    if (!count) nbr_buf_puts(out, "-");
    for (size_t i = 0; i < count; i++) {
        if (i) nbr_buf_puts(out, ", ");
        nbr_buf_puts(out, nbr_analysis_name(a, which, i));
    }
}

/* The cell's outputs: what it binds, then (distinctly) what it may change in
 * place and what it deletes, since a reader must treat the three differently. */
static void text_outputs(nbr_buf *out, const nbr_analysis *a)
{
    nbr_buf_puts(out, "  outputs:    ");
    text_names(out, a, NBR_NAMES_DEFS);
    if (nbr_analysis_name_count(a, NBR_NAMES_MAY_MUTATE)) {
        nbr_buf_puts(out, "; may mutate: ");
        text_names(out, a, NBR_NAMES_MAY_MUTATE);
    }
    if (nbr_analysis_name_count(a, NBR_NAMES_DELETES)) {
        nbr_buf_puts(out, "; deletes: ");
        text_names(out, a, NBR_NAMES_DELETES);
    }
    nbr_buf_puts(out, "\n");
}

static void text_access(nbr_buf *out, const nbr_analysis *a, nbr_definition_kind kind,
                        size_t index, nbr_access access)
{
    size_t count = nbr_analysis_definition_access_count(a, kind, index, access);
    if (!count) nbr_buf_puts(out, "-");
    for (size_t i = 0; i < count; i++)
        nbr_buf_printf(out, "%s%s", i ? ", " : "",
                       nbr_analysis_definition_access(a, kind, index, access, i));
}

static void text_definitions(nbr_buf *out, const nbr_analysis *a, nbr_definition_kind kind,
                             const char *label)
{
    size_t count = nbr_analysis_definition_count(a, kind);
    for (size_t i = 0; i < count; i++) {
        nbr_buf_printf(out, "  %-12s%s (reads: ", i ? "" : label,
                       nbr_analysis_definition_name(a, kind, i));
        text_access(out, a, kind, i, NBR_ACCESS_READS);
        nbr_buf_puts(out, "; writes: ");
        text_access(out, a, kind, i, NBR_ACCESS_WRITES);
        nbr_buf_puts(out, ")\n");
    }
}

static void text_diagnostics(nbr_buf *out, const nbr_analysis *a, nbr_diagnostic_kind kind,
                             const char *label)
{
    size_t count = nbr_analysis_diagnostic_count(a, kind);
    for (size_t i = 0; i < count; i++) {
        const char *message;
        uint32_t line, column;
        if (nbr_analysis_diagnostic(&message, &line, &column, a, kind, i) != NBR_OK) continue;
        nbr_buf_printf(out, "  %-12sline %u, column %u: %s\n", i ? "" : label, line, column,
                       message);
    }
}

/* One cell as a few labelled lines; empty sections other than inputs and
 * outputs are left out so the table stays short. */
static void text_analysis(nbr_buf *out, const nbr_analysis *a)
{
    nbr_buf_puts(out, "  inputs:     ");
    text_names(out, a, NBR_NAMES_USES);
    nbr_buf_puts(out, "\n");
    text_outputs(out, a);
    if (nbr_analysis_name_count(a, NBR_NAMES_IMPORTS)) {
        nbr_buf_puts(out, "  imports:    ");
        text_names(out, a, NBR_NAMES_IMPORTS);
        nbr_buf_puts(out, "\n");
    }
    text_definitions(out, a, NBR_DEF_FUNCTION, "functions:");
    text_definitions(out, a, NBR_DEF_CLASS, "classes:");
    text_diagnostics(out, a, NBR_DIAG_FLAG, "flags:");
    text_diagnostics(out, a, NBR_DIAG_ERROR, "errors:");
}

static bool append_analysis_json(nbr_buf *out, const nbr_analysis *a)
{
    char *json = NULL;
    if (nbr_analysis_to_json(&json, a) != NBR_OK) {
        complain("cannot format the analysis: %s", nbr_last_error());
        return false;
    }
    nbr_buf_puts(out, json);
    nbr_free(json);
    return true;
}

/* ---- nbr analyze: options ---------------------------------------------- */

typedef struct analyze_options {
    const char *lang;     /* --lang, or NULL */
    const char *notebook; /* --notebook, or NULL */
    const char *file;     /* the positional FILE, or NULL */
    output_format format;
    bool help;
} analyze_options;

/* Matches `arg` against -s / --long / --long=VALUE; takes the value from the
 * next argument when not attached.  Returns 1 matched, 0 not this option,
 * -1 usage error (already reported). */
static int option_value(const char **value, int argc, char **argv, int *i, const char *s,
                        const char *l)
{
    const char *arg = argv[*i];
    size_t n = strlen(l);
    if (!strncmp(arg, l, n) && arg[n] == '=') {
        *value = arg + n + 1;
        return 1;
    }
    if (strcmp(arg, s) && strcmp(arg, l)) return 0;
    if (*i + 1 >= argc) {
        usage_error(analyze_usage, "analyze: option %s needs a value", l);
        return -1;
    }
    *value = argv[++*i];
    return 1;
}

static int parse_format(output_format *format, const char *name)
{
    if (!strcmp(name, "json")) *format = FORMAT_JSON;
    else if (!strcmp(name, "text")) *format = FORMAT_TEXT;
    else
        return usage_error(analyze_usage, "analyze: unknown format '%s' (expected json or text)",
                           name);
    return 0;
}

/* One argument; returns 0 to go on or the exit status of a usage error. */
static int parse_analyze_argument(analyze_options *o, int argc, char **argv, int *i,
                                  bool *options_done)
{
    const char *arg = argv[*i], *value = NULL;
    int matched;
    if (*options_done || arg[0] != '-' || !strcmp(arg, "-")) {
        if (o->file)
            return usage_error(analyze_usage, "analyze: more than one input ('%s' and '%s')",
                               o->file, arg);
        o->file = arg;
        return 0;
    }
    if (!strcmp(arg, "--")) {
        *options_done = true;
        return 0;
    }
    if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
        o->help = true;
        return 0;
    }
    if ((matched = option_value(&value, argc, argv, i, "-l", "--lang")) != 0) {
        o->lang = value;
        return matched < 0 ? EXIT_USAGE : 0;
    }
    if ((matched = option_value(&value, argc, argv, i, "-n", "--notebook")) != 0) {
        if (matched > 0 && o->notebook)
            return usage_error(analyze_usage, "analyze: --notebook given twice");
        o->notebook = value;
        return matched < 0 ? EXIT_USAGE : 0;
    }
    if ((matched = option_value(&value, argc, argv, i, "-f", "--format")) != 0)
        return matched < 0 ? EXIT_USAGE : parse_format(&o->format, value);
    return usage_error(analyze_usage, "analyze: unknown option '%s'", arg);
}

/* "an object", "a string", "null": for messages about the wrong JSON type. */
static const char *json_kind(const nbr_json *value)
{
    switch (nbr_json_type_of(value)) {
    case NBR_JSON_NULL: return "null";
    case NBR_JSON_BOOL: return "a boolean";
    case NBR_JSON_NUMBER: return "a number";
    case NBR_JSON_STRING: return "a string";
    case NBR_JSON_ARRAY: return "an array";
    case NBR_JSON_OBJECT: return "an object";
    default: return "missing";
    }
}

static bool has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcasecmp(s + n - m, suffix);
}

/* ---- nbr analyze: one cell --------------------------------------------- */

/* The language named by --lang, or by the extension of `path`; NULL if
 * neither says. */
static const char *cell_language_name(const analyze_options *o, const char *path)
{
    if (o->lang) return o->lang;
    if (has_suffix(path, ".py") || has_suffix(path, ".ipy")) return "python";
    if (has_suffix(path, ".r")) return "r";
    return NULL;
}

/* --lang is checked before any input is read, so that a typo fails at once
 * rather than after (or while waiting for) standard input. */
static bool check_lang_option(const analyze_options *o)
{
    nbr_language ignored;
    if (!o->lang || nbr_language_from_name(&ignored, o->lang) == NBR_OK) return true;
    complain("unknown language '%s' (nbr analyses python and r)", o->lang);
    return false;
}

/* Analyses the cell in `in` and prints the result; returns the exit status. */
static int analyze_cell_input(const analyze_options *o, const input *in, nbr_language lang)
{
    /* A UTF-8 byte order mark is an editor's artefact, not Python or R. */
    size_t skip = in->length >= 3 && !memcmp(in->data, "\xEF\xBB\xBF", 3) ? 3 : 0;
    nbr_analysis *a = NULL;
    if (nbr_analysis_new(&a, lang, in->data + skip, in->length - skip) != NBR_OK) {
        complain("%s: cannot analyse: %s", in->name, nbr_last_error());
        return EXIT_USAGE;
    }
    nbr_buf out;
    nbr_buf_init(&out);
    bool ok = true;
    if (o->format == FORMAT_TEXT) text_analysis(&out, a);
    else ok = append_analysis_json(&out, a) && (nbr_buf_puts(&out, "\n"), true);
    ok = ok && emit(&out);
    bool has_errors = nbr_analysis_diagnostic_count(a, NBR_DIAG_ERROR) > 0;
    nbr_buf_clear(&out);
    nbr_analysis_free(a);
    if (!ok) return EXIT_USAGE;
    return has_errors ? EXIT_SYNTAX_ERRORS : 0;
}

static int analyze_cell(const analyze_options *o)
{
    const char *path = o->file ? o->file : "-";
    if (!check_lang_option(o)) return EXIT_USAGE;
    const char *lang_name = cell_language_name(o, path);
    if (!lang_name && strcmp(path, "-")) {
        /* Say what is wrong with an unusable file before asking for --lang. */
        struct stat st;
        if (stat(path, &st) != 0 || S_ISDIR(st.st_mode)) {
            input unreadable;
            read_input(&unreadable, path);
            input_free(&unreadable);
            return EXIT_USAGE;
        }
    }
    if (!lang_name)
        return usage_error(analyze_usage,
                           "analyze: which language is %s? Pass --lang python or --lang r",
                           strcmp(path, "-") ? path : "standard input");
    nbr_language lang;
    nbr_language_from_name(&lang, lang_name); /* checked above, or one of ours */
    input in;
    if (!read_input(&in, path)) return EXIT_USAGE;
    int status = check_text(&in) ? analyze_cell_input(o, &in, lang) : EXIT_USAGE;
    input_free(&in);
    return status;
}

/* ---- nbr analyze: a notebook ------------------------------------------- */

typedef struct code_cell {
    char *id;               /* the nbformat id, or "cell-<index>" */
    size_t index;           /* 1-based position among all cells */
    nbr_analysis *analysis; /* owned */
} code_cell;

typedef struct notebook {
    const input *in;
    const nbr_json *root;
    nbr_language language;
    size_t cell_total; /* all cells, markdown and raw included */
    code_cell *cells;  /* the code cells, in notebook order */
    size_t count;
    nbr_strset ids;      /* every cell id seen, for duplicates and made-up ids */
    nbr_strset code_ids; /* the code cells' ids, in the order of `cells` */
    nbr_graph *graph;
} notebook;

static void notebook_free(notebook *nb)
{
    for (size_t i = 0; i < nb->count; i++) {
        free(nb->cells[i].id);
        nbr_analysis_free(nb->cells[i].analysis);
    }
    free(nb->cells);
    nbr_strset_clear(&nb->ids);
    nbr_strset_clear(&nb->code_ids);
    nbr_graph_free(nb->graph);
}

/* A complaint about a well-formed notebook of the wrong shape, pointing at
 * the offending value so that the user can find it in an editor. */
static bool notebook_problem(const notebook *nb, const nbr_json *where, const char *fmt, ...)
    NBR_PRINTF(3, 4);

static bool notebook_problem(const notebook *nb, const nbr_json *where, const char *fmt, ...)
{
    char message[512];
    va_list args;
    va_start(args, fmt);
    vsnprintf(message, sizeof message, fmt, args);
    va_end(args);
    uint32_t line = 0, column = 0;
    nbr_json_position(&line, &column, where, nb->in->data, nb->in->length);
    if (line) complain("%s: line %u, column %u: %s", nb->in->name, line, column, message);
    else complain("%s: %s", nb->in->name, message);
    return false;
}

static bool check_nbformat(notebook *nb)
{
    const nbr_json *version = nbr_json_get(nb->root, "nbformat");
    int64_t major = 0;
    if (!version) return true; /* required by the schema, but nothing else depends on it */
    if (!nbr_json_number_int64(version, &major))
        return notebook_problem(nb, version, "\"nbformat\" is not an integer");
    if (major != 4)
        return notebook_problem(nb, version,
                                "nbformat %lld notebooks are not supported (nbr reads nbformat "
                                "4; convert with 'jupyter nbconvert --to notebook')",
                                (long long)major);
    return true;
}

/* The notebook's language: --lang, else the kernelspec's, else language_info's. */
static bool notebook_language(notebook *nb, const char *override)
{
    const nbr_json *metadata = nbr_json_get(nb->root, "metadata");
    const char *name = override;
    const nbr_json *where = NULL;
    if (!name) {
        where = nbr_json_get(nbr_json_get(metadata, "kernelspec"), "language");
        if (!nbr_json_is_string(where))
            where = nbr_json_get(nbr_json_get(metadata, "language_info"), "name");
        name = nbr_json_string(where);
    }
    if (!name)
        return notebook_problem(nb, NULL,
                                "cannot tell the notebook's language (no "
                                "metadata.kernelspec.language or metadata.language_info.name); "
                                "pass --lang python or --lang r");
    if (nbr_language_from_name(&nb->language, name) != NBR_OK)
        return notebook_problem(nb, where, "unsupported language '%s' (nbr analyses python and r)",
                                name);
    return true;
}

/* A cell's source: a string, or a list of strings to concatenate (nbformat
 * allows both).  Strings may hold "\u0000", hence the explicit lengths. */
static bool cell_source(const notebook *nb, const nbr_json *cell, size_t index, nbr_buf *source)
{
    const nbr_json *src = nbr_json_get(cell, "source");
    if (nbr_json_is_string(src)) {
        nbr_buf_append(source, nbr_json_string(src), nbr_json_string_length(src));
        return true;
    }
    if (!nbr_json_is_array(src))
        return notebook_problem(nb, src ? src : cell,
                                "cell %zu: \"source\" is %s, not a string or a list of strings",
                                index, json_kind(src));
    for (size_t i = 0; i < nbr_json_length(src); i++) {
        const nbr_json *line = nbr_json_at(src, i);
        if (!nbr_json_is_string(line))
            return notebook_problem(nb, line, "cell %zu: \"source\" item %zu is %s, not a string",
                                    index, i + 1, json_kind(line));
        nbr_buf_append(source, nbr_json_string(line), nbr_json_string_length(line));
    }
    return true;
}

/* The cell's nbformat id, or "cell-<index>" (made unique) for notebooks
 * older than nbformat 4.5, whose cells have none. */
static char *cell_id(notebook *nb, const nbr_json *cell, size_t index)
{
    const nbr_json *id = nbr_json_get(cell, "id");
    nbr_buf name;
    nbr_buf_init(&name);
    if (id) {
        const char *text = nbr_json_string(id);
        if (!text || !*text || strlen(text) != nbr_json_string_length(id)) {
            notebook_problem(nb, id, "cell %zu: \"id\" is not a non-empty string", index);
            return NULL;
        }
        if (nbr_strset_contains(&nb->ids, text)) {
            notebook_problem(nb, id, "cell %zu: duplicate cell id '%s'", index, text);
            return NULL;
        }
        nbr_buf_puts(&name, text);
    } else {
        nbr_buf_printf(&name, "cell-%zu", index);
        for (int n = 2; name.data && nbr_strset_contains(&nb->ids, name.data); n++) {
            name.length = 0;
            nbr_buf_printf(&name, "cell-%zu-%d", index, n);
        }
    }
    char *taken = nbr_buf_take(&name);
    if (!taken || !nbr_strset_add(&nb->ids, taken)) {
        free(taken);
        complain("%s: out of memory", nb->in->name);
        return NULL;
    }
    return taken;
}

/* Analyses one code cell and appends it (and to the graph). */
static bool add_code_cell(notebook *nb, const nbr_json *cell, size_t index, char *id)
{
    nbr_buf source;
    nbr_buf_init(&source);
    nbr_analysis *a = NULL;
    bool ok = cell_source(nb, cell, index, &source);
    if (ok && source.failed) ok = notebook_problem(nb, NULL, "out of memory");
    if (ok && nbr_analysis_new(&a, nb->language, source.data ? source.data : "", source.length))
        ok = notebook_problem(nb, cell, "cell %zu (id %s): cannot analyse: %s", index, id,
                              nbr_last_error());
    nbr_buf_clear(&source);
    if (ok && nbr_graph_add_cell(nb->graph, id, a) != NBR_OK)
        ok = notebook_problem(nb, cell, "cell %zu (id %s): %s", index, id, nbr_last_error());
    code_cell *grown = ok ? realloc(nb->cells, (nb->count + 1) * sizeof *grown) : NULL;
    if (grown) nb->cells = grown;
    if (ok && (!grown || !nbr_strset_add(&nb->code_ids, id)))
        ok = notebook_problem(nb, NULL, "out of memory");
    if (!ok) {
        nbr_analysis_free(a);
        free(id);
        return false;
    }
    nb->cells[nb->count++] = (code_cell){id, index, a};
    return true;
}

/* Code cells are analysed; markdown and raw cells take part only in the
 * numbering, so "cell 4" means the fourth cell the user sees. */
static bool load_cell(notebook *nb, const nbr_json *cell, size_t index)
{
    if (!nbr_json_is_object(cell))
        return notebook_problem(nb, cell, "cell %zu is %s, not an object", index,
                                json_kind(cell));
    const char *type = nbr_json_string(nbr_json_get(cell, "cell_type"));
    if (!type) return notebook_problem(nb, cell, "cell %zu has no \"cell_type\"", index);
    char *id = cell_id(nb, cell, index);
    if (!id) return false;
    if (strcmp(type, "code")) {
        free(id); /* the id stays in nb->ids so that made-up ids avoid it */
        return true;
    }
    return add_code_cell(nb, cell, index, id);
}

static bool load_notebook(notebook *nb, const input *in, const nbr_json *root,
                          const char *lang_override)
{
    memset(nb, 0, sizeof *nb);
    nb->in = in;
    nb->root = root;
    nbr_strset_init(&nb->ids);
    nbr_strset_init(&nb->code_ids);
    const nbr_json *cells = nbr_json_get(root, "cells");
    if (!nbr_json_is_object(root))
        return notebook_problem(nb, NULL, "not a Jupyter notebook (the top level is %s, not an "
                                "object)", json_kind(root));
    if (!nbr_json_is_array(cells))
        return notebook_problem(nb, NULL, "not a Jupyter notebook (no \"cells\" list)");
    if (!check_nbformat(nb) || !notebook_language(nb, lang_override)) return false;
    if (nbr_graph_new(&nb->graph) != NBR_OK)
        return notebook_problem(nb, NULL, "%s", nbr_last_error());
    nb->cell_total = nbr_json_length(cells);
    for (size_t i = 0; i < nb->cell_total; i++)
        if (!load_cell(nb, nbr_json_at(cells, i), i + 1)) return false;
    return true;
}

/* The 1-based notebook position of the code cell with this id (0 if none). */
static size_t index_of_cell(const notebook *nb, const char *id)
{
    long at = nbr_strset_find_n(&nb->code_ids, id, strlen(id));
    return at < 0 ? 0 : nb->cells[at].index;
}

static bool notebook_json(nbr_buf *out, const notebook *nb)
{
    nbr_buf_puts(out, "{\"language\": ");
    nbr_buf_json_string(out, nbr_language_name(nb->language));
    nbr_buf_puts(out, ",\n \"cells\": [");
    for (size_t i = 0; i < nb->count; i++) {
        nbr_buf_puts(out, i ? ",\n  {\"id\": " : "\n  {\"id\": ");
        nbr_buf_json_string(out, nb->cells[i].id);
        nbr_buf_printf(out, ", \"index\": %zu, \"analysis\": ", nb->cells[i].index);
        if (!append_analysis_json(out, nb->cells[i].analysis)) return false;
        nbr_buf_puts(out, "}");
    }
    nbr_buf_puts(out, "],\n \"edges\": [");
    size_t edges = nbr_graph_edge_count(nb->graph);
    for (size_t i = 0; i < edges; i++) {
        const char *from, *to, *name;
        if (nbr_graph_edge(&from, &to, &name, nb->graph, i) != NBR_OK) continue;
        nbr_buf_puts(out, i ? ",\n  {\"from\": " : "\n  {\"from\": ");
        nbr_buf_json_string(out, from);
        nbr_buf_puts(out, ", \"to\": ");
        nbr_buf_json_string(out, to);
        nbr_buf_puts(out, ", \"name\": ");
        nbr_buf_json_string(out, name);
        nbr_buf_puts(out, "}");
    }
    nbr_buf_puts(out, "]}\n");
    return true;
}

/* One edge, with the notebook positions of its cells, for the text table. */
typedef struct text_edge {
    size_t from, to, order;
    const char *name;
} text_edge;

/* By consumer, then producer, then the graph's own order: a reader follows
 * the notebook top to bottom. */
static int compare_edges(const void *a, const void *b)
{
    const text_edge *x = a, *y = b;
    if (x->to != y->to) return x->to < y->to ? -1 : 1;
    if (x->from != y->from) return x->from < y->from ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* "cell 5 -> cell 7 via seed, n": one line per pair of cells. */
static void text_edges(nbr_buf *out, const notebook *nb)
{
    size_t count = nbr_graph_edge_count(nb->graph), used = 0;
    text_edge *edges = calloc(count ? count : 1, sizeof *edges);
    if (!edges) {
        out->failed = true;
        return;
    }
    for (size_t i = 0; i < count; i++) {
        const char *from, *to, *name;
        if (nbr_graph_edge(&from, &to, &name, nb->graph, i) != NBR_OK) continue;
        edges[used++] = (text_edge){index_of_cell(nb, from), index_of_cell(nb, to), i, name};
    }
    qsort(edges, used, sizeof *edges, compare_edges);
    nbr_buf_puts(out, used ? "\nedges (producer -> consumer via names):\n" : "\nno edges\n");
    for (size_t i = 0; i < used; i++) {
        bool same_pair = i && edges[i].from == edges[i - 1].from && edges[i].to == edges[i - 1].to;
        if (same_pair) nbr_buf_printf(out, ", %s", edges[i].name);
        else
            nbr_buf_printf(out, "%s  cell %zu -> cell %zu via %s", i ? "\n" : "", edges[i].from,
                           edges[i].to, edges[i].name);
    }
    if (used) nbr_buf_puts(out, "\n");
    free(edges);
}

static void notebook_text(nbr_buf *out, const notebook *nb)
{
    nbr_buf_printf(out, "%s: %s notebook, %zu cells, %zu code cells, %zu edges\n", nb->in->name,
                   nbr_language_name(nb->language), nb->cell_total, nb->count,
                   nbr_graph_edge_count(nb->graph));
    nbr_buf_puts(out, "(inputs: names read before the cell binds them; outputs: names it binds,\n"
                      " may change in place, or deletes)\n");
    for (size_t i = 0; i < nb->count; i++) {
        nbr_buf_printf(out, "\ncell %zu  (id %s)\n", nb->cells[i].index, nb->cells[i].id);
        text_analysis(out, nb->cells[i].analysis);
    }
    text_edges(out, nb);
}

static bool notebook_has_errors(const notebook *nb)
{
    for (size_t i = 0; i < nb->count; i++)
        if (nbr_analysis_diagnostic_count(nb->cells[i].analysis, NBR_DIAG_ERROR)) return true;
    return false;
}

static int print_notebook(const notebook *nb, output_format format)
{
    nbr_buf out;
    nbr_buf_init(&out);
    bool ok = true;
    if (format == FORMAT_TEXT) notebook_text(&out, nb);
    else ok = notebook_json(&out, nb);
    ok = ok && emit(&out);
    nbr_buf_clear(&out);
    if (!ok) return EXIT_USAGE;
    return notebook_has_errors(nb) ? EXIT_SYNTAX_ERRORS : 0;
}

static int analyze_notebook(const analyze_options *o, const char *path)
{
    if (!check_lang_option(o)) return EXIT_USAGE;
    input in;
    if (!read_input(&in, path)) return EXIT_USAGE;
    nbr_json_doc *doc = NULL;
    int status = EXIT_USAGE;
    if (check_text(&in)) {
        if (nbr_json_parse(&doc, in.data, in.length, in.name, NULL, NULL) != NBR_OK)
            complain("%s", nbr_last_error());
    }
    if (doc) {
        notebook nb;
        if (load_notebook(&nb, &in, nbr_json_root(doc), o->lang))
            status = print_notebook(&nb, o->format);
        notebook_free(&nb);
        nbr_json_doc_free(doc);
    }
    input_free(&in);
    return status;
}

static int cmd_analyze(int argc, char **argv)
{
    analyze_options o = {0};
    bool options_done = false;
    for (int i = 1; i < argc; i++) {
        int status = parse_analyze_argument(&o, argc, argv, &i, &options_done);
        if (status) return status;
    }
    if (o.help) {
        fputs(analyze_help, stdout);
        return flush_output() ? 0 : EXIT_USAGE;
    }
    if (o.notebook && o.file)
        return usage_error(analyze_usage, "analyze: give either --notebook or FILE, not both");
    if (o.notebook) return analyze_notebook(&o, o.notebook);
    if (o.file && has_suffix(o.file, ".ipynb")) return analyze_notebook(&o, o.file);
    if (!o.file && isatty(STDIN_FILENO))
        return usage_error(analyze_usage, "analyze: no input (give FILE, or '-' for standard "
                                          "input)");
    return analyze_cell(&o);
}

/* ---- main -------------------------------------------------------------- */

static int cmd_help(int argc, char **argv)
{
    if (argc < 2) {
        fputs(main_help, stdout);
        return flush_output() ? 0 : EXIT_USAGE;
    }
    if (!strcmp(argv[1], "analyze")) {
        fputs(analyze_help, stdout);
        return flush_output() ? 0 : EXIT_USAGE;
    }
    if (!strcmp(argv[1], "help")) {
        fputs(main_help, stdout);
        return flush_output() ? 0 : EXIT_USAGE;
    }
    complain("no help for '%s': not an nbr command (see 'nbr --help')", argv[1]);
    return EXIT_USAGE;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(main_usage, stderr);
        fputs("See 'nbr --help'.\n", stderr);
        return EXIT_USAGE;
    }
    const char *command = argv[1];
    if (!strcmp(command, "--version") || !strcmp(command, "version")) {
        printf("nbr %s\n", nbr_version_string());
        return flush_output() ? 0 : EXIT_USAGE;
    }
    if (!strcmp(command, "-h") || !strcmp(command, "--help")) return cmd_help(1, argv + 1);
    if (!strcmp(command, "help")) return cmd_help(argc - 1, argv + 1);
    if (!strcmp(command, "analyze") || !strcmp(command, "analyse"))
        return cmd_analyze(argc - 1, argv + 1);
    if (command[0] == '-')
        return usage_error(main_usage, "unknown option '%s'", command);
    complain("'%s' is not an nbr command. See 'nbr --help'.", command);
    return EXIT_USAGE;
}
