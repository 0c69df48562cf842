/* error.c - the library's version, status names and per-thread last error. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* Long enough for a message naming a file path and a cause. */
#define NBR_ERROR_CAPACITY 1024

static _Thread_local char last_error[NBR_ERROR_CAPACITY];

int nbr_version(void) { return NBR_VERSION_NUMBER; }

const char *nbr_version_string(void) { return NBR_VERSION_STRING; }

const char *nbr_last_error(void) { return last_error; }

void nbr_clear_error(void) { last_error[0] = '\0'; }

void nbr_free(void *ptr) { free(ptr); }

const char *nbr_status_name(int status)
{
    switch (status) {
    case NBR_OK: return "NBR_OK";
    case NBR_ERROR: return "NBR_ERROR";
    case NBR_EINVAL: return "NBR_EINVAL";
    case NBR_ENOMEM: return "NBR_ENOMEM";
    case NBR_ENOTFOUND: return "NBR_ENOTFOUND";
    case NBR_EEXISTS: return "NBR_EEXISTS";
    case NBR_EENCODING: return "NBR_EENCODING";
    case NBR_EUNSUPPORTED: return "NBR_EUNSUPPORTED";
    case NBR_ESTATE: return "NBR_ESTATE";
    case NBR_EIO: return "NBR_EIO";
    case NBR_ELOCKED: return "NBR_ELOCKED";
    case NBR_ECORRUPT: return "NBR_ECORRUPT";
    case NBR_ECHANGED: return "NBR_ECHANGED";
    default: return "NBR_E?";
    }
}

nbr_status (nbr_fail)(nbr_status status, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, args);
    va_end(args);
    return status;
}

nbr_status (nbr_fail_nomem)(const char *what)
{
    return nbr_fail(NBR_ENOMEM, "out of memory while %s", what);
}
