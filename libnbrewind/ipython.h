/* ipython.h - IPython's syntax, understood without IPython (private).
 *
 * A notebook cell may contain `%magic`, `%%cell` magics, `!shell`, `x = !ls`,
 * `x = %who_ls` and `obj?`, none of which is Python.  Rather than teach the
 * grammar these forms, the analyzer rewrites them into plain Python with the
 * same meaning for data flow, keeping every line and every other byte where it
 * was so that positions in flags and errors still point into the user's cell.
 * The same table of code-running magics serves IPython's own translation
 * (`get_ipython().run_line_magic('time', 'x = f(y)')`), so a raw cell and its
 * translation give one result. */
#ifndef NBR_IPYTHON_H
#define NBR_IPYTHON_H

#include <stdbool.h>
#include <stddef.h>

/* Told where a line magic starts that runs code the analysis never sees, with
 * the user's namespace in reach (`%run`, `%debug`, `%load_ext`): `offset`
 * into the source, and the magic's name. */
typedef void (*nbr_ipython_opaque_fn)(void *ctx, size_t offset, const char *name,
                                      size_t name_length);

/* Returns a malloc'd copy of the cell, `length` bytes plus a NUL, in which every
 * IPython-only line is replaced by Python of the same length: a statement
 * magic that runs code (`%time stmt`) becomes `stmt`, other escapes become the
 * expression `0`, `x = !cmd` becomes `x = 0`, and the first line of a `%%cell`
 * magic is blanked (the whole cell, if that magic's body is not Python).
 * With `expand`, the `{expr}` and `$name` expansions IPython makes in shell
 * commands and magic arguments stay, as reads: `!cp {src} $dst` becomes
 * `0   [src] +dst` (an expansion that is plainly no expression is left out;
 * one that still does not parse is the caller's to catch, by rewriting
 * without `expand`).  `on_opaque` (may be NULL) is called for each opaque
 * magic replaced.  NULL when out of memory. */
char *nbr_ipython_rewrite(const char *source, size_t length, bool expand,
                          nbr_ipython_opaque_fn on_opaque, void *ctx);

/* Whether a line magic runs code the analysis never sees, or reads every
 * name (`%who`): either way the cell is flagged (see above). */
bool nbr_ipython_magic_is_opaque(const char *name, size_t name_length);

/* Whether an opaque magic is one that reads every name (`%who`) rather than
 * one that runs code. */
bool nbr_ipython_magic_reads_namespace(const char *name, size_t name_length);

/* Whether the magic `name` runs (part of) its argument as Python code in the
 * user's namespace.  For a line magic (`cell` false), *code_offset is where the
 * code starts within `args` (after the magic's options).  For a cell magic,
 * the body is the code; *capture and *capture_length name the variable that
 * `%%capture NAME` binds (length 0 if none). */
bool nbr_ipython_magic_runs_code(const char *name, size_t name_length, bool cell,
                                 const char *args, size_t args_length, size_t *code_offset,
                                 const char **capture, size_t *capture_length);

/* Decodes a plain Python string literal ('...', "...", with escapes, no f/b
 * prefix) into a malloc'd NUL-terminated string; NULL if it is not one (or out
 * of memory). */
char *nbr_python_string_literal(const char *literal, size_t length, size_t *out_length);

#endif
