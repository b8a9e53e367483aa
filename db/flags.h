/*
 * flags: the correlator's storage side — recomputing the auth-driven-reject
 * flags from the stored bounces and aggregate data (set-based SQL in
 * db/sql/correlate_*.sql, one transaction), and listing them.
 *
 * flags_recompute runs one correlation: incremental (the (tenant, day)s the
 * ingest triggers queued since the last run) or full (everything in the
 * scope). It holds a transaction-level advisory lock, so concurrent runs
 * (an ingest and a poll finishing together) take turns. The provider map
 * ties org names to providers; the thresholds are the caller's (app/
 * correlate.c reads them from the config). Errors come back in `e` (stage
 * "correlate"; ERR_RETRY when the server went away, ERR_CONFIG for an
 * unknown tenant).
 */
#ifndef DS_DB_FLAGS_H
#define DS_DB_FLAGS_H

#include "core/err.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

struct db;
struct provider_map;

struct flags_params {
	double fail_below;              /* DMARC pass rate below this: auth-driven (0.90) */
	double pass_at;                 /* at or above this: authentication is fine (0.98) */
	long min_messages;              /* aggregate messages a data verdict needs (10) */
	int resolve_days;               /* quiet days that resolve a flag (7) */
	const char *tenant;             /* tenant name, NULL for all */
	const char *since;              /* "YYYY-MM-DD" (UTC day, inclusive) or NULL */
	const char *until;              /* "YYYY-MM-DD" (inclusive) or NULL */
	bool full;                      /* recompute everything in scope, not only what changed */
	bool want_events;               /* fill flags_stats.events */
	const struct provider_map *map; /* NULL: the embedded one */
	/* This run's share of the tenants, those with tenant_id % parts =
	 * part (parts 0: all of them). Shares are disjoint work: each has its
	 * own lock, its own part of the queue and its own transaction, so two
	 * run at once on two connections (app/correlate.c). */
	int part, parts;
};

struct flags_stats {
	uint64_t groups;   /* groups (tenant, provider, domain, IP) examined */
	uint64_t created;  /* new flags */
	uint64_t changed;  /* flags whose values changed */
	uint64_t resolved; /* flags that became resolved */
	/* With want_events: the flags this run opened or reopened, each a JSON
	 * object (text) with exactly the v_flags columns. flags_stats_free. */
	char **events;
	size_t nevents;
};

int flags_recompute(struct db *db, const struct flags_params *p, struct flags_stats *st,
                    struct err *e);
void flags_stats_free(struct flags_stats *st);

struct flags_filter {
	const char *tenant; /* name or NULL */
	const char *kind;   /* auth_driven | not_auth_driven | no_evidence | mixed | NULL */
	const char *since;  /* flags seen on or after this day, or NULL */
	bool all;           /* resolved flags too */
};

/* The v_flags rows (exactly its columns) matching `f`, most severe first:
 * open before resolved, auth_driven, not_auth_driven, mixed, no_evidence,
 * then confidence, then rejects. The result is the caller's (PQclear). */
int flags_list(struct db *db, const struct flags_filter *f, PGresult **out, struct err *e);

#endif
