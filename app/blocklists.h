/*
 * blocklists: the 'blocklists check' use case — are the tenant's sending
 * IPs and domains on the blocklists?
 *
 * 1. Picks each tenant's assets (db/sql/blocklists_assets.sql): own MTAs
 *    first (labelled sources, the sending IPs of its bounces), then the
 *    sources of its aggregate records above a volume floor, then its
 *    domains (tenant, bounce envelope and DKIM d= domains), over the last
 *    `days` days of its data.
 * 2. Asks every IP list about every IP and every domain list about every
 *    domain, all in flight at once on one resolver (senders/resolver),
 *    within a time budget, and reads each answer (checks/dnsbl): listed
 *    with the list's codes and their documented reasons, clear, or unknown
 *    (a refusal such as Spamhaus' 127.255.255.x "open resolver" answer:
 *    never a listing, and said so).
 * 3. Stores them (dmarcsift.listings, read through v_listings): first and
 *    last seen, delisted when a listing disappears. A look-up that failed
 *    (timeout, SERVFAIL, no server) changes nothing; it is counted.
 * Returns -1 only when the database fails (or the options are wrong:
 * ERR_CONFIG); DNS trouble is in the stats.
 */
#ifndef DS_APP_BLOCKLISTS_H
#define DS_APP_BLOCKLISTS_H

#include "core/err.h"
#include "senders/resolver.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct db;

/* The lists asked when [blocklists] names none. */
#define BLOCKLISTS_DEFAULT_IP     "zen.spamhaus.org, b.barracudacentral.org, bl.spamcop.net"
#define BLOCKLISTS_DEFAULT_DOMAIN "dbl.spamhaus.org, multi.surbl.org"

struct blocklists_opts {
	const char *tenant;       /* NULL: every tenant */
	const char *ip_lists;     /* comma-separated zones; NULL: the default */
	const char *domain_lists; /* comma-separated zones; NULL: the default */
	int days;                 /* 0: 30 */
	long long floor;          /* messages a non-own source needs; <0: 10 */
	int max_assets;           /* per tenant; 0: 500 */
	int64_t budget_ms;        /* 0: no limit */
	struct resolver_opts dns;
};

struct blocklists_stats {
	size_t tenants, assets, queries;
	size_t listed; /* listed answers */
	size_t new_listings;
	size_t unknown;  /* refusals: neither listed nor clear */
	size_t delisted; /* listed before, clear now */
	size_t failed;   /* no answer (timeout, SERVFAIL, unreachable, budget) */
};

int blocklists_run(struct db *db, const struct blocklists_opts *o, struct blocklists_stats *st,
                   struct err *e);
/* Whether some tenant was not checked for `every_s` seconds. */
int blocklists_due(struct db *db, long every_s, bool *due, struct err *e);
/* Splits and checks a list of zones ("a.example, b.example"): 0, or -1 with
 * a message naming the bad entry. */
int blocklists_check_zones(const char *zones, struct err *e);

#endif
