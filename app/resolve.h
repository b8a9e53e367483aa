/*
 * resolve: the 'sources resolve' use case — name the sending sources.
 *
 * 1. Looks up the distinct source addresses (aggregate records and bounces,
 *    of one tenant or all, optionally since a date) that lack fresh facts,
 *    busiest first, asynchronously (senders/lookup), within a time budget,
 *    and stores each answer with its bounded lifetime. What the budget or
 *    an unreachable DNS leaves undone is counted and left for the next run;
 *    nothing is stored for it.
 * 2. Stores the organisational domain of every record domain not yet known.
 * 3. Marks each (tenant, source): the known service (IP range, confirmed
 *    PTR, DKIM d=, SPF domain, AS number; data/services.tsv or --services
 *    FILE, plus the user's rows) and whether it is forwarded / mailing-list
 *    traffic.
 * Steps 2 and 3 need no DNS and always run. resolve_run returns -1 only
 * when the database fails (or the configuration is wrong: ERR_CONFIG);
 * DNS trouble is reported in the stats, never as an error.
 */
#ifndef DS_APP_RESOLVE_H
#define DS_APP_RESOLVE_H

#include "core/err.h"
#include "senders/resolver.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct db;

struct resolve_stats {
	size_t stale;     /* addresses that needed a lookup */
	size_t resolved;  /* looked up and stored */
	size_t failed;    /* of those, a part failed (SERVFAIL, timeout): kept briefly */
	size_t left;      /* not looked up: budget over or DNS unreachable */
	bool unreachable; /* no DNS server answered */
	size_t queries;   /* DNS queries sent */
	size_t domains;   /* organisational domains stored */
	size_t marked;    /* (tenant, source) pairs marked */
	size_t named;     /* of which a service was found for */
	size_t forwarded; /* of which forwarded */
	double lookup_s, mark_s;
};

struct resolve_opts {
	const char *tenant; /* NULL: every tenant */
	const char *since;  /* a timestamptz text, NULL: all time */
	int64_t budget_ms;  /* lookups stop after this; 0: no limit */
	struct resolver_opts dns;
	const char *origin_zone, *origin6_zone, *asname_zone; /* NULL: defaults */
	const char *mmdb;          /* a MaxMind database instead of the zones */
	const char *services_file; /* replaces the built-in services table */
	bool no_lookup;            /* marking only */
	/* NULL: mark every source. Else (after an ingest: when it started, on
	 * the database's clock) only sources with new reports or new facts. */
	const char *changed_since;
	/* Called after each stored answer (the CLI's progress line). */
	void (*progress)(void *arg, const struct resolve_stats *st);
	void *progress_arg;
};

int resolve_run(struct db *db, const struct resolve_opts *o, struct resolve_stats *st,
                struct err *e);
/* Step 3 alone (benchmarks, 'sources load', 'sources label'). tenant_id < 0: all. */
int resolve_mark(struct db *db, int tenant_id, const char *services_file, const char *changed_since,
                 struct resolve_stats *st, struct err *e);

#endif
