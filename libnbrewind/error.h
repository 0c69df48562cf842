/* error.h - status codes plus the thread-local last-error message (private). */
#ifndef NBR_ERROR_H
#define NBR_ERROR_H

#include "nbrewind.h"

#if defined(__GNUC__)
#define NBR_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define NBR_PRINTF(fmt, args)
#endif

/* Record a message for nbr_last_error() and return `status`, so that a failure
 * reads `return nbr_fail(NBR_EINVAL, "cell %s: ...", id);`. */
nbr_status nbr_fail(nbr_status status, const char *fmt, ...) NBR_PRINTF(2, 3);

/* The common out-of-memory failure. */
nbr_status nbr_fail_nomem(const char *what);

#ifdef __clang_analyzer__
/* The analyzer does not look into error.c, so it would follow paths on which
 * a failure returned NBR_OK; these say what the calls return.  (error.c
 * defines the functions with their names in parentheses.) */
#define nbr_fail(status, ...) (nbr_fail((status), __VA_ARGS__), (status))
#define nbr_fail_nomem(what) (nbr_fail_nomem(what), NBR_ENOMEM)
#endif

#endif
