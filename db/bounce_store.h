/*
 * bounce_store: normalised bounce events into PostgreSQL, and the
 * suppression list and escalations derived from them.
 *
 * One batch = one transaction: bounce_store_begin opens it, bounce_store_add
 * streams an event with its verdict (COPY straight into dmarcsift.bounces,
 * in blocks under savepoints), bounce_store_commit stores the rest (an event
 * seen before — same tenant, source, time, recipient, queue id, status and
 * text — is skipped, so re-ingesting a log adds nothing: a block that meets
 * one is undone and goes, with the rest of the batch, through a staging
 * table and ON CONFLICT DO NOTHING), updates suppressions and escalations
 * of what the batch added, and commits. bounce_store_abort rolls back.
 * Tenants are resolved from the header-From / envelope-from domain with
 * store_tenant_resolve, once per domain and batch. Errors set `e` (stage
 * "store"; ERR_RETRY when the server went away). The caller owns the handle
 * until commit/abort frees it.
 */
#ifndef DS_DB_BOUNCE_STORE_H
#define DS_DB_BOUNCE_STORE_H

#include "core/bounce.h"
#include "core/buf.h"
#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The columns of dmarcsift.bounces a row of bounce_store_row fills, in its
 * order (id, ingested_at and the generated columns are the server's). */
#define BOUNCE_STORE_COLUMNS                                                                       \
	"tenant_id, at, status, sending_ip, remote_ip, mail_from, mail_from_domain, "              \
	"header_from_domain, recipient, recipient_domain, provider, reply_code, enhanced_code, "   \
	"class, severity, action, is_block, listed_on, listed_asset, rule, text, pattern, "        \
	"remote_mta, queue_id, message_id, campaign, source, event_key, format, auto_reply, "      \
	"feedback_type, ip_source, from_org_domain"

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

/* Row bytes after which a direct block ends (0: the default, 256 MiB, the
 * first 1 MiB); small blocks are for tests. A block's rows wait in an
 * unlinked file in TMPDIR (else /tmp) until it is stored. */
void bounce_store_set_block(struct bounce_store *s, size_t bytes);

/* The From domain that decides an event's tenant (header From, else
 * envelope From), lower-cased, into out; "" when there is none. */
void bounce_store_tenant_domain(const struct bounce_event *ev, char *out, size_t outsz);
/* Appends the event as one COPY text row of BOUNCE_STORE_COLUMNS to `row`
 * and, when `fresh` is not NULL, its pg_temp.bounce_new row (tenant,
 * lower(recipient), provider_key, at) to `fresh`: the very values the store
 * stores. *keyed: the row is final as it is (event key computed, every
 * lower-cased value ASCII); otherwise its event_key is NULL and lower() and
 * the key are left to SQL (bounce_insert.sql). -1 when the event has no
 * valid status or v is NULL. */
int bounce_store_row(struct buf *row, struct buf *fresh, const struct bounce_event *ev,
                     const struct bounce_verdict *v, int tenant_id, const char *org_domain,
                     bool *keyed);

int bounce_store_begin(struct bounce_store **out, struct db *db, const char *tenant_override,
                       struct err *e);
int bounce_store_add(struct bounce_store *s, const struct bounce_event *ev,
                     const struct bounce_verdict *v, struct err *e);
int bounce_store_commit(struct bounce_store *s, struct bounce_store_stats *st, struct err *e);
void bounce_store_abort(struct bounce_store *s);

#endif
