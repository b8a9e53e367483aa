/*
 * cache: how long an answer about a source stays fresh. Positive answers
 * keep their DNS TTL bounded to [1 h, 7 days], so a 60-second TTL does not
 * make every run ask again and a week-long one still gets refreshed;
 * negative answers (NXDOMAIN, no record) keep their RFC 2308 negative TTL
 * bounded to [5 min, 1 h]; failures (SERVFAIL, timeout, unreadable answer)
 * are kept 5 minutes, so a broken zone is not hammered and never cached for
 * long. An unreachable DNS or a cancelled lookup says nothing about the
 * address and is not cached at all (0).
 */
#ifndef DS_SENDERS_CACHE_H
#define DS_SENDERS_CACHE_H

#include "senders/resolver.h"

#include <stdint.h>

#define SENDERS_TTL_MIN     3600u
#define SENDERS_TTL_MAX     (7u * 24 * 3600)
#define SENDERS_NEG_TTL_MIN 300u
#define SENDERS_NEG_TTL_MAX 3600u
#define SENDERS_FAIL_TTL    300u

/* Seconds to keep an answer with status `st` and DNS TTL `ttl`; 0: do not store. */
uint32_t senders_cache_ttl(enum resolver_status st, uint32_t ttl);

#endif
