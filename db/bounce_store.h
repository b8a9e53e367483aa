/*
 * bounce_store: normalised bounce events into PostgreSQL, and the
 * suppression list and escalations derived from them.
 *
 * One batch = one transaction: bounce_store_begin opens it, bounce_store_add
 * streams an event with its verdict (COPY into a staging table),
 * bounce_store_commit moves the batch into dmarcsift.bounces (an event seen
 * before — same tenant, source, time, recipient, queue id, status and text —
 * is skipped, so re-ingesting a log adds nothing), updates suppressions and
 * escalations, and commits. bounce_store_abort rolls back. Tenants are
 * resolved from the header-From / envelope-from domain with
 * store_tenant_resolve. Errors set `e` (stage "store"; ERR_RETRY when the
 * server went away). The caller owns the handle until commit/abort frees it.
 */
#ifndef DS_DB_BOUNCE_STORE_H
#define DS_DB_BOUNCE_STORE_H

#include "core/bounce.h"
#include "core/err.h"

#include <stdint.h>

struct db;
struct bounce_store;

struct bounce_store_stats {
	uint64_t added;      /* new events stored */
	uint64_t known;      /* events already stored before */
	uint64_t suppressed; /* addresses newly suppressed */
	uint64_t lifted;     /* suppressions lifted by a later delivery */
	uint64_t escalations_opened;
};

/* The suppression and escalation rules: the one place their defaults live
 * (bounce_rules_default). Applied by bounce_store_commit as parameters of
 * the recomputation statements. */
struct bounce_rules {
	int hard_after;         /* invalid-recipient bounces that suppress (1) */
	int soft_after;         /* consecutive soft bounces that suppress (3) */
	int soft_window_days;   /* ... within this many days (30) */
	int esc_window_hours;   /* escalation window length (24) */
	int esc_min_count;      /* volume floor of an escalation (20) */
	double esc_min_rate;    /* share of all attempts to the provider (0.05) */
	double esc_jump_factor; /* or this many times the previous window (3) */
};

void bounce_rules_default(struct bounce_rules *r);
/* Replaces the rules of an open batch (the defaults otherwise). */
void bounce_store_set_rules(struct bounce_store *s, const struct bounce_rules *r);

int bounce_store_begin(struct bounce_store **out, struct db *db, const char *tenant_override,
                       struct err *e);
int bounce_store_add(struct bounce_store *s, const struct bounce_event *ev,
                     const struct bounce_verdict *v, struct err *e);
int bounce_store_commit(struct bounce_store *s, struct bounce_store_stats *st, struct err *e);
void bounce_store_abort(struct bounce_store *s);

#endif
