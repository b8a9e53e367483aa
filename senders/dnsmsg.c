/*
 * dnsmsg: see dnsmsg.h. RFC 1035 section 4.1: a 12-byte header, then the
 * question, answer, authority and additional sections.
 */
#include "senders/dnsmsg.h"

#include <ares.h>
#include <stdlib.h>

#define T_SOA_ 6

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static unsigned get16(const unsigned char *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

/* Moves *off past the (possibly compressed) name at it. */
static int skip_name(const unsigned char *msg, size_t len, size_t *off)
{
	char *name = NULL;
	long enclen = 0;
	if (*off >= len || len > (size_t)INT32_MAX)
		return -1;
	if (ares_expand_name(msg + *off, msg, (int)len, &name, &enclen) != ARES_SUCCESS)
		return -1;
	ares_free_string(name);
	if (enclen <= 0 || (size_t)enclen > len - *off)
		return -1;
	*off += (size_t)enclen;
	return 0;
}

int dnsmsg_ttl(const unsigned char *msg, size_t len, int type, uint32_t *ttl, int *found)
{
	*ttl = 0;
	*found = 0;
	if (len < 12)
		return -1;
	unsigned qd = get16(msg + 4), an = get16(msg + 6), ns = get16(msg + 8);
	size_t off = 12;
	for (unsigned i = 0; i < qd; i++) {
		if (skip_name(msg, len, &off) != 0 || len - off < 4)
			return -1;
		off += 4;
	}
	uint32_t best = UINT32_MAX, neg = UINT32_MAX;
	for (unsigned i = 0; i < an + ns; i++) {
		if (skip_name(msg, len, &off) != 0 || len - off < 10)
			return -1;
		unsigned rtype = get16(msg + off);
		uint32_t rttl = get32(msg + off + 4);
		/* RFC 2181 section 8: a TTL with the top bit set counts as 0. */
		if (rttl > INT32_MAX)
			rttl = 0;
		size_t rdlen = get16(msg + off + 8);
		off += 10;
		if (len - off < rdlen)
			return -1;
		if (i < an && (int)rtype == type) {
			if (rttl < best)
				best = rttl;
		} else if (i >= an && rtype == T_SOA_) {
			/* MINIMUM is the last 4 bytes of the SOA RDATA. */
			if (rdlen < 22)
				return -1;
			uint32_t minimum = get32(msg + off + rdlen - 4);
			if (minimum > INT32_MAX)
				minimum = 0;
			uint32_t n = rttl < minimum ? rttl : minimum;
			if (n < neg)
				neg = n;
		}
		off += rdlen;
	}
	if (best != UINT32_MAX) {
		*ttl = best;
		*found = 1;
	} else if (neg != UINT32_MAX) {
		*ttl = neg;
	}
	return 0;
}
