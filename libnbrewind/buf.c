/* buf.c - growable byte buffer. */
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void nbr_buf_init(nbr_buf *buf) { memset(buf, 0, sizeof *buf); }

void nbr_buf_clear(nbr_buf *buf)
{
    free(buf->data);
    nbr_buf_init(buf);
}

static bool reserve(nbr_buf *buf, size_t extra)
{
    if (buf->failed) return false;
    if (buf->length + extra + 1 <= buf->capacity) return true;
    size_t capacity = buf->capacity ? buf->capacity : 64;
    while (capacity < buf->length + extra + 1) capacity *= 2;
    char *data = realloc(buf->data, capacity);
    if (!data) {
        buf->failed = true;
        return false;
    }
    buf->data = data;
    buf->capacity = capacity;
    return true;
}

void nbr_buf_append(nbr_buf *buf, const char *bytes, size_t length)
{
    if (!reserve(buf, length)) return;
    memcpy(buf->data + buf->length, bytes, length);
    buf->length += length;
    buf->data[buf->length] = '\0';
}

void nbr_buf_puts(nbr_buf *buf, const char *text) { nbr_buf_append(buf, text, strlen(text)); }

void nbr_buf_printf(nbr_buf *buf, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    int needed = vsnprintf(NULL, 0, fmt, args);
    va_end(args);
    if (needed < 0 || !reserve(buf, (size_t)needed)) return;
    va_start(args, fmt);
    vsnprintf(buf->data + buf->length, (size_t)needed + 1, fmt, args);
    va_end(args);
    buf->length += (size_t)needed;
}

void nbr_buf_json_string_n(nbr_buf *buf, const char *text, size_t length)
{
    nbr_buf_puts(buf, "\"");
    for (size_t i = 0; i < length; i++) {
        unsigned char c = (unsigned char)text[i];
        switch (c) {
        case '"': nbr_buf_puts(buf, "\\\""); break;
        case '\\': nbr_buf_puts(buf, "\\\\"); break;
        case '\n': nbr_buf_puts(buf, "\\n"); break;
        case '\r': nbr_buf_puts(buf, "\\r"); break;
        case '\t': nbr_buf_puts(buf, "\\t"); break;
        default:
            if (c < 0x20)
                nbr_buf_printf(buf, "\\u%04x", c);
            else
                nbr_buf_append(buf, (const char *)&c, 1);
        }
    }
    nbr_buf_puts(buf, "\"");
}

void nbr_buf_json_string(nbr_buf *buf, const char *text)
{
    nbr_buf_json_string_n(buf, text, strlen(text));
}

char *nbr_buf_take(nbr_buf *buf)
{
    if (buf->failed) {
        nbr_buf_clear(buf);
        return NULL;
    }
    char *data = buf->data;
    if (!data) data = calloc(1, 1);
    nbr_buf_init(buf);
    return data;
}
