/* utf8.h - validating and encoding UTF-8 (private). */
#ifndef NBR_UTF8_H
#define NBR_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* The byte offset of the first byte that does not start a well-formed UTF-8
 * sequence (overlong forms, surrogates and code points past U+10FFFF are
 * ill-formed), or `length` if all of it is UTF-8.  NUL bytes are valid UTF-8
 * here; callers that want text without NULs check for them themselves. */
size_t nbr_utf8_first_invalid(const char *text, size_t length);

/* Writes the UTF-8 encoding of code point `cp` (at most U+10FFFF) to out, which
 * has room for 4 bytes; returns the number of bytes written. */
size_t nbr_utf8_encode(char *out, uint32_t cp);

#endif
