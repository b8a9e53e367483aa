/*
 * cymru: reading the TXT answers of the IP-to-ASN origin zones in Team
 * Cymru's format (the zones themselves are configurable):
 *   origin:  "23028 | 216.90.108.0/24 | US | arin | 1998-09-25"
 *            (several origin ASNs may share the first field: the first wins)
 *   AS name: "23028 | US | arin | 2002-01-04 | TEAMCYMRU - SAUNET, US"
 * The TXT strings are untrusted; fields are trimmed and bounded.
 */
#ifndef DS_SENDERS_CYMRU_H
#define DS_SENDERS_CYMRU_H

#include <stddef.h>
#include <stdint.h>

/* Returns 0 with *asn (> 0) and country (two upper-case letters, or "" when
 * absent or malformed); -1 when the first field holds no AS number. */
int cymru_origin(const char *txt, uint32_t *asn, char country[3]);
/* Copies the AS name (the fifth field) into out; -1 when there is none. */
int cymru_asname(const char *txt, char *out, size_t outsz);

#endif
