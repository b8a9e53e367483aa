/*
 * prune: the `dmarcsift prune` use case — retention. Deletes what is older
 * than a window, of one tenant or of all, in batches that are each their own
 * short transaction (nothing holds a lock for long; an interrupted run
 * leaves whole batches done and the next run goes on):
 *
 *   aggregate reports whose period ended before the cutoff, with their
 *     records; their records are first taken out of daily_rollup and
 *     domain_rollup in one statement, then record_sources (with the failing
 *     identifiers on its rows) goes, so nothing derived counts deleted data;
 *   TLS reports (by period end) and DMARC failure reports (by arrival);
 *   bounce events (by their time), the per-day bounce rows following them;
 *   closed quarantine entries (dismissed or reprocessed) closed before the
 *     cutoff; resolved flags, closed escalations and lifted suppressions
 *     last seen before it. Open ones are never pruned, however old;
 *   raw messages nothing kept refers to any more: those the deleted rows
 *     were read from, and (for every tenant only) any other received before
 *     the cutoff. The bytes of kept reports and of every open quarantine
 *     entry stay.
 *
 * With a tenant, rows of other tenants are never touched (raw messages are
 * the intake's: only those the tenant's deleted rows referred to, and that
 * nothing else refers to, go). A dry run counts the same things with one
 * read-only statement and changes nothing.
 *
 * prune_run returns 0, or -1 with `e` set (ERR_CONFIG for an unknown
 * tenant; database errors as db_check maps them). The batch that failed is
 * rolled back; those before it stay done.
 */
#ifndef DS_APP_PRUNE_H
#define DS_APP_PRUNE_H

#include "core/err.h"

#include <stdbool.h>

struct db;

enum prune_kind {
	PRUNE_REPORTS,
	PRUNE_RECORDS,
	PRUNE_TLS_REPORTS,
	PRUNE_FAILURE_REPORTS,
	PRUNE_BOUNCES,
	PRUNE_FAILURES,
	PRUNE_FLAGS,
	PRUNE_ESCALATIONS,
	PRUNE_SUPPRESSIONS,
	PRUNE_RAW_MESSAGES,
	PRUNE_KINDS
};

struct prune_opts {
	const char *tenant;      /* NULL: every tenant */
	long long older_s;       /* the window, seconds (> 0) */
	bool dry_run;            /* count only */
	long long batch_records; /* records per report batch; 0: 50,000 */
};

struct prune_stats {
	long long n[PRUNE_KINDS]; /* deleted (dry run: would be) */
	char cutoff[32];          /* where the window ends, RFC 3339 UTC */
	long long transactions;   /* batches committed */
	long long longest_ms;     /* the longest of them */
};

/* The kind's name as summaries print it ("reports", "raw_messages", ...). */
const char *prune_kind_name(enum prune_kind k);

int prune_run(struct db *db, const struct prune_opts *o, struct prune_stats *st, struct err *e);

#endif
