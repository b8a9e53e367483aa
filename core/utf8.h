/*
 * utf8: the one UTF-8 decoder, with the strictest reading (RFC 3629, and
 * what PostgreSQL accepts): the shortest form only (no overlongs), no UTF-16
 * surrogates (U+D800..U+DFFF), nothing past U+10FFFF. Every module that
 * checks or repairs UTF-8 asks this one, so bytes one of them keeps are
 * never bytes another refuses.
 *
 * Pure functions over bytes the caller owns; nothing is allocated and
 * nothing fails: the answer is the return value.
 */
#ifndef DS_CORE_UTF8_H
#define DS_CORE_UTF8_H

#include <stddef.h>

/* The bytes at s[0 .. avail) are a well-formed start cut short by `avail`:
 * more bytes may complete them. */
#define UTF8_SHORT (-1)

/* Length of the well-formed character at s, which has `avail` bytes
 * (at least 1): 1 for any byte below 0x80 (NUL included), 2 to 4 for a
 * multi-byte character, 0 when s[0] starts no well-formed character,
 * UTF8_SHORT when the bytes there are well-formed so far but end before the
 * character does. Callers that hold the whole text treat UTF8_SHORT as 0. */
int utf8_len(const unsigned char *s, size_t avail);

#endif
