/*
 * dnsmsg: the TTLs of a DNS response. c-ares 1.18 parses answers into
 * values but drops the TTLs of PTR and TXT records and the SOA of negative
 * answers, which caching needs. This walks the message (untrusted bytes:
 * every length checked; names skipped with c-ares' own ares_expand_name)
 * and reports the smallest TTL among answer records of `type`, and the
 * negative TTL of an answer without them (min of the SOA record's TTL and
 * its MINIMUM field, RFC 2308 section 5).
 */
#ifndef DS_SENDERS_DNSMSG_H
#define DS_SENDERS_DNSMSG_H

#include <stddef.h>
#include <stdint.h>

/* Returns 0 and sets *ttl (and *found: 1 when answer records of `type` were
 * there, 0 when the TTL is a negative one or none was found); -1 when the
 * message is malformed. */
int dnsmsg_ttl(const unsigned char *msg, size_t len, int type, uint32_t *ttl, int *found);

#endif
