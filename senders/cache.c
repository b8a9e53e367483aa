/*
 * cache: see cache.h.
 */
#include "senders/cache.h"

static uint32_t clamp(uint32_t v, uint32_t lo, uint32_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

uint32_t senders_cache_ttl(enum resolver_status st, uint32_t ttl)
{
	switch (st) {
	case RESOLVER_OK:
		return clamp(ttl, SENDERS_TTL_MIN, SENDERS_TTL_MAX);
	case RESOLVER_NXDOMAIN:
	case RESOLVER_NODATA:
		return clamp(ttl, SENDERS_NEG_TTL_MIN, SENDERS_NEG_TTL_MAX);
	case RESOLVER_SERVFAIL:
	case RESOLVER_TIMEOUT:
	case RESOLVER_BADRESPONSE:
		return SENDERS_FAIL_TTL;
	case RESOLVER_UNREACHABLE:
	case RESOLVER_CANCELLED:
		return 0;
	}
	return 0;
}
