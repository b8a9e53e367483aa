/*
 * lookup: who is behind a list of IP addresses, asynchronously.
 *
 * For each address: the PTR names (reverse DNS), each confirmed forward
 * (the name's A or AAAA records must contain the address: ptr_confirmed),
 * and the origin ASN and country (TXT in the origin zones, then the AS name
 * in the AS-name zone, each AS asked once per run), or all three from a
 * MaxMind database when one is given. Hundreds of addresses are in flight
 * at once on one resolver.
 *
 * The callback runs once per address whose lookups all concluded before
 * the deadline (an answer, NXDOMAIN, SERVFAIL or a timeout: each part's
 * status says which); addresses still in flight at the deadline are
 * counted in stats->left and not reported. When the first `giveup_after`
 * queries to conclude all find no server (refused or timed out) the run
 * stops at once: DNS is unreachable, everything left is for the next run.
 * The fact and its strings live only during the callback.
 */
#ifndef DS_SENDERS_LOOKUP_H
#define DS_SENDERS_LOOKUP_H

#include "senders/resolver.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct senders_mmdb;

#define SENDERS_ORIGIN_ZONE  "origin.asn.cymru.com"
#define SENDERS_ORIGIN6_ZONE "origin6.asn.cymru.com"
#define SENDERS_ASNAME_ZONE  "asn.cymru.com"

struct senders_fact {
	const char *ip; /* as given */
	enum resolver_status ptr_status;
	const char *ptr; /* the confirmed name, else the first; NULL when none */
	bool ptr_confirmed;
	uint32_t ptr_ttl; /* min of the PTR answer and its confirming A/AAAA */
	enum resolver_status asn_status;
	uint32_t asn;        /* 0: unknown */
	const char *as_name; /* "" when unknown */
	const char *country; /* ISO 3166 alpha-2, "" when unknown */
	uint32_t asn_ttl;
};

struct senders_lookup_opts {
	/* NULL: the defaults above; "" turns ASN lookups through DNS off. */
	const char *origin_zone, *origin6_zone, *asname_zone;
	struct senders_mmdb *mmdb; /* when set, used instead of the zones */
	size_t max_names;          /* PTR names checked forward; 0: 3 */
	unsigned giveup_after;     /* 0: 16 */
};

struct senders_lookup_stats {
	size_t done;      /* reported through the callback */
	size_t left;      /* not concluded by the deadline, or given up */
	size_t failed;    /* reported, but a part timed out or SERVFAILed */
	bool unreachable; /* gave up: no DNS server answered */
	size_t queries;   /* DNS queries sent */
};

typedef void (*senders_fact_cb)(void *arg, const struct senders_fact *fact);

void senders_lookup(struct resolver *r, const char *const *ips, size_t n,
                    const struct senders_lookup_opts *opts, int64_t deadline_ms, senders_fact_cb cb,
                    void *arg, struct senders_lookup_stats *stats);

#endif
