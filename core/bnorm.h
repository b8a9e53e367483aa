/*
 * bnorm: the normalised text pattern of a bounce reply, the key that groups
 * "the same reject" for escalations.
 *
 * bnorm_pattern lower-cases the text and replaces what varies from one
 * event to the next by placeholders: e-mail addresses become "<addr>", IPv4
 * and IPv6 addresses "<ip>", numbers "#", and ids (tokens of eight or more
 * characters containing a digit, hex runs of six or more) "#" too; runs of
 * placeholders joined by punctuation ("#.#.#") collapse into one, and
 * whitespace collapses into single spaces. Short provider codes such as
 * "TSS04" or "S3150" are kept: they tell rejects apart. Pure function; the
 * caller owns `out` (at least 1 byte), which is always NUL-terminated and
 * truncated at a character boundary when too small.
 */
#ifndef DS_CORE_BNORM_H
#define DS_CORE_BNORM_H

#include <stddef.h>

/* Returns the length written (without the NUL). `text` may be NULL. */
size_t bnorm_pattern(const char *text, char *out, size_t outsz);

#endif
