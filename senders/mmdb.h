/*
 * mmdb: ASN, AS name and country of an address from a MaxMind-format
 * database ([sources] mmdb = PATH) through libmaxminddb, used instead of the
 * origin TXT zones when configured. Reads the GeoLite2/DB-IP field names:
 * autonomous_system_number, autonomous_system_organization and
 * country.iso_code (an ASN-only or country-only database fills what it has).
 */
#ifndef DS_SENDERS_MMDB_H
#define DS_SENDERS_MMDB_H

#include "core/err.h"

#include <stddef.h>
#include <stdint.h>

struct senders_mmdb;

/* ERR_CONFIG naming the path and libmaxminddb's reason when it cannot be opened. */
int senders_mmdb_open(struct senders_mmdb **out, const char *path, struct err *e);
void senders_mmdb_close(struct senders_mmdb *m);
/* Returns 1 when the address is in the database (fields it lacks stay 0 /
 * ""), 0 when it is not, -1 on a malformed address or database error. */
int senders_mmdb_lookup(struct senders_mmdb *m, const char *ip, uint32_t *asn, char *as_name,
                        size_t as_name_sz, char country[3]);

#endif
