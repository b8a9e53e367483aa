/*
 * orgdomain: the organisational domain of a name (RFC 7489 section 3.2):
 * the registrable domain under the Public Suffix List, through libpsl with
 * Debian's list (publicsuffix package), else libpsl's built-in copy.
 */
#ifndef DS_SENDERS_ORGDOMAIN_H
#define DS_SENDERS_ORGDOMAIN_H

#include <stddef.h>

/* Lower-cases `name` (a trailing dot dropped) and writes its organisational
 * domain to out. Returns -1 when it has none (a public suffix itself, an IP
 * literal, an empty or over-long name). */
int orgdomain_of(const char *name, char *out, size_t outsz);

#endif
