/* buf.h - a growable byte buffer with JSON string escaping (private). */
#ifndef NBR_BUF_H
#define NBR_BUF_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

typedef struct nbr_buf {
    char *data; /* always NUL-terminated when non-NULL */
    size_t length;
    size_t capacity;
    bool failed; /* an append ran out of memory; later appends do nothing */
} nbr_buf;

void nbr_buf_init(nbr_buf *buf);
void nbr_buf_clear(nbr_buf *buf);
void nbr_buf_append(nbr_buf *buf, const char *bytes, size_t length);
void nbr_buf_puts(nbr_buf *buf, const char *text);
void nbr_buf_printf(nbr_buf *buf, const char *fmt, ...) NBR_PRINTF(2, 3);

/* Appends `text` as a JSON string literal, quotes included. */
void nbr_buf_json_string(nbr_buf *buf, const char *text);

/* The same for `length` bytes, which may hold NULs (from "\u0000"). */
void nbr_buf_json_string_n(nbr_buf *buf, const char *text, size_t length);

/* Hands the contents to the caller (free() them) and resets the buffer; NULL if
 * an append had failed. */
char *nbr_buf_take(nbr_buf *buf);

#endif
