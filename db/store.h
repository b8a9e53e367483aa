/*
 * store: everything ingest writes — raw messages, reports with their records,
 * quarantine entries, tenants.
 *
 * Raw bytes go in first (store_raw_put), content-addressed by SHA-256 and
 * zlib-compressed, so any input can be re-processed later. A report is one
 * transaction: store_report_begin inserts the report row, store_report_record
 * streams a record into COPY, store_report_commit ends COPY and commits (in
 * a batch, db/db.h, a small report sends nothing before its commit, which
 * then takes one round trip: db/store_report.c) and
 * says through *how whether the report was added, was a duplicate of the
 * stored one with its identity, or replaced a less complete stored copy (the
 * rule is at the top of db/store_report.c); two copies that disagree fail the
 * commit with ERR_INPUT naming both raw messages (the stored one stays).
 * store_report_abort rolls back. A killed process thus leaves no partial
 * report. The tenant is the one owning the policy domain or its
 * organisational domain (libpsl), else the built-in `unassigned` tenant,
 * unless `tenant_override` names one.
 * Errors set `e` with stage "store"; ERR_RETRY when the server went away.
 */
#ifndef DS_DB_STORE_H
#define DS_DB_STORE_H

#include "core/err.h"
#include "core/model.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct db;
struct store_tx;

/* sha256 is 64 lowercase hex chars. *known is set true when these bytes were
 * stored before (the raw row is not rewritten). */
int store_raw_put(struct db *db, const char *sha256, const void *data, size_t len,
                  const char *source, bool *known, struct err *e);
/* The same for a regular file, streamed: the file is never held in memory
 * whole (large bare reports). */
int store_raw_put_fd(struct db *db, const char *sha256, int fd, uint64_t size, const char *source,
                     bool *known, struct err *e);
/* Raw inputs up to `max` bytes are stored as received (encoding identity),
 * larger ones deflated by the client (zlib); 512 MiB unless set. For tests. */
void store_raw_set_identity_max(size_t max);
/* Fetches raw bytes as they were received, whichever way they are stored;
 * *out is the caller's (free()). */
int store_raw_get(struct db *db, const char *sha256, unsigned char **out, size_t *len,
                  char **source, struct err *e);
/* Marks raw bytes as processed (status 'ok'), used to skip them next time. */
int store_raw_done(struct db *db, const char *sha256, struct err *e);
/* Sets the status of raw bytes: new | ok | quarantined | dsn. */
int store_raw_mark(struct db *db, const char *sha256, const char *status, struct err *e);
/* Whether raw bytes were processed successfully before. */
int store_raw_is_done(struct db *db, const char *sha256, bool *done, struct err *e);
/* One indexed look-up before anything is compressed, sent or parsed:
 * *known, the bytes are stored; *done, and were processed (ok or dsn). */
int store_raw_lookup(struct db *db, const char *sha256, bool *known, bool *done, struct err *e);
/* store_raw_put and store_raw_lookup in one statement, for small inputs
 * (len <= STORE_RAW_PUT_SEEN_MAX): the bytes are stored unless known, and
 * *known / *done say what was there before. */
#define STORE_RAW_PUT_SEEN_MAX ((size_t)64 << 10)
int store_raw_put_seen(struct db *db, const char *sha256, const void *data, size_t len,
                       const char *source, bool *known, bool *done, struct err *e);
/* The same sent lazily (db.h, db_lazy_on), its answer assumed: processed
 * before (`done`) or not; one that is not refuses the input. */
int store_raw_put_seen_ahead(struct db *db, const char *sha256, const void *data, size_t len,
                             const char *source, bool done, struct err *e);
/* The input is dealt with: status `ok` or `dsn`, and its open failure (if
 * any) resolved, in one statement (store_raw_mark + store_failure_resolve). */
int store_raw_finish(struct db *db, const char *sha256, const char *status, struct err *e);
/* The same for n inputs at once (a batch's, at its end): one statement. */
int store_raw_finish_many(struct db *db, const char *const *sha256, size_t n, const char *status,
                          struct err *e);
/* The same queued on a batch being sent (db_batch_send, db/db.h). */
int store_raw_finish_many_send(struct db *db, const char *const *sha256, size_t n,
                               const char *status, struct err *e);

enum store_outcome {
	STORE_ADDED,     /* a new report */
	STORE_DUPLICATE, /* the stored copy has these records already; nothing changed */
	STORE_REPLACED,  /* this copy replaced a less complete stored one */
	STORE_CONFLICT,  /* (internal: reported as an ERR_INPUT failure) */
};

int store_report_begin(struct store_tx **out, struct db *db, const struct aggr_report *r,
                       const char *raw_sha256, const char *tenant_override, bool recovered,
                       const char *complaint, struct err *e);
/* A report delivered through a mailbox or --tenant pinned to one tenant.
 * When another tenant owns its policy domain, the report goes to that owner
 * and `mismatch` is set (the caller warns and counts it), or with `strict`
 * it is refused as ERR_INPUT (quarantined) naming both tenants. */
struct store_pin {
	const char *tenant; /* the pinned tenant's name */
	bool strict;
	bool mismatch;   /* out */
	char owner[128]; /* out: the owner's name, when mismatch */
};
/* The tenant of a report for `domain`, chosen by the rule above (pin NULL:
 * the domain's owner, else 'unassigned'). Aggregate, TLS and failure
 * reports all choose this way, under the tenant_domains SHARE lock. */
int store_tenant_choose(struct db *db, const char *domain, struct store_pin *pin, int *tenant,
                        struct err *e);
int store_report_begin_pinned(struct store_tx **out, struct db *db, const struct aggr_report *r,
                              const char *raw_sha256, struct store_pin *pin, bool recovered,
                              const char *complaint, struct err *e);
int store_report_record(struct store_tx *tx, const struct aggr_record *rec, struct err *e);
/* Marks the report recovered, with `complaint` (may be NULL: the one given
 * to store_report_begin stays), written at commit: a streaming parser knows
 * the deviations it kept only once the report has ended. Call it before
 * store_report_commit: the commit's replace rule judges the new copy by
 * this final recovered state. */
void store_report_note(struct store_tx *tx, bool recovered, const char *complaint);
int store_report_commit(struct store_tx *tx, enum store_outcome *how, struct err *e);
void store_report_abort(struct store_tx *tx);
/* In a batch (db/db.h): the small reports' records wait in a temporary
 * table of the batch's transaction (see db/store_report.c).
 * store_report_batch_open readies it after db_batch_begin;
 * store_report_batch_flush moves them into dmarcsift.records, and must run
 * before db_batch_commit (nothing to do outside a batch). */
int store_report_batch_open(struct db *db, struct err *e);
int store_report_batch_flush(struct db *db, struct err *e);
/* The same queued on a batch being sent (db_batch_send, db/db.h). */
int store_report_batch_flush_send(struct db *db, struct err *e);

/* Quarantine: one open failure per raw sha256; a newer attempt keeps the
 * first diagnosis. `domain` (the report's policy domain, when the input was
 * read that far) and `tenant` (a pinned tenant's name) may be NULL: the
 * failure belongs to the domain's owner, else the pinned tenant, else to
 * 'unassigned' — and to 'unassigned' when the two disagree, so neither sees
 * the other's name. */
int store_failure_add(struct db *db, const char *sha256, const char *source, const char *stage,
                      const char *reason, const char *domain, const char *tenant, struct err *e);
/* Closes the open failure of these bytes (after a successful reprocess). */
int store_failure_resolve(struct db *db, const char *sha256, struct err *e);

struct store_failure {
	char *received_at, *source, *stage, *reason, *sha256, *tenant, *domain;
};
/* Lists open failures of every tenant, oldest first; free with
 * store_failures_free. */
int store_failures_list(struct db *db, struct store_failure **out, size_t *n, struct err *e);
void store_failures_free(struct store_failure *f, size_t n);
/* The stored input whose SHA-256 is, or starts with, `prefix` (8 to 64
 * lowercase hex digits): *sha256 is the whole one (caller frees). No match,
 * an ambiguous prefix or a malformed one: ERR_CONFIG naming the problem. */
int store_raw_find(struct db *db, const char *prefix, char **sha256, struct err *e);
/* Closes open failures that will never parse — the one of `sha256` (full),
 * or with older_than_s >= 0 those first seen longer ago — marking them
 * dismissed; their raw bytes stay (status 'dismissed') for `reprocess`, and
 * the same bytes arriving again are not quarantined again. With dry_run
 * nothing changes. *shas (caller frees each and the array) lists the
 * entries concerned, *n of them. */
int store_failures_dismiss(struct db *db, const char *sha256, long long older_than_s, bool dry_run,
                           char ***shas, size_t *n, struct err *e);

/* Tenants (store_tenant.c). Names are trimmed and compared without case;
 * 'unassigned' (tenant 0) is reserved. Domains are normalised by
 * db/tenant_domain.h. Usage mistakes (unknown tenant, public suffix, a
 * domain owned by another tenant...) are ERR_CONFIG. */
/* The tenant owning the most specific of `domain` and its parents above the
 * public suffix, else 0 ('unassigned'). */
int store_tenant_owner(struct db *db, const char *domain, int *tenant_id, struct err *e);
/* `domain` and its parents above the public suffix, normalised, as a
 * text[] literal ("{a.b.example,b.example}"; "{}" for none): what
 * store_tenant_owner matches. The caller frees it. */
char *store_tenant_candidates(const char *domain);
/* The id of the tenant named `name`; unknown: ERR_CONFIG. */
int store_tenant_id(struct db *db, const char *name, int *tenant_id, struct err *e);
/* `override` (may be NULL) names a tenant that wins, else the owner of
 * `domain`. Used for reports and bounce events alike. */
int store_tenant_resolve(struct db *db, const char *domain, const char *override, int *tenant_id,
                         struct err *e);
/* What an adoption moved out of 'unassigned'. */
struct store_adopted {
	long long reports, bounces, suppressions, escalations, failures, flags;
	long long tls_reports, failure_reports;
};
int store_tenant_add(struct db *db, const char *name, const char *const *domains, size_t n,
                     struct err *e);
/* Adds domains to tenant `name` (created first when `create`) and adopts
 * what waited for them, in one transaction. */
int store_tenant_domain_add(struct db *db, const char *name, const char *const *domains, size_t n,
                            bool create, struct store_adopted *a, struct err *e);
/* The tenant keeps the data it has; new data of the domain goes elsewhere. */
int store_tenant_domain_remove(struct db *db, const char *name, const char *domain, struct err *e);
int store_tenant_rename(struct db *db, const char *from, const char *to, struct err *e);
/* Without purge the tenant's data returns to 'unassigned'; *rows: rows
 * moved or deleted. */
int store_tenant_remove(struct db *db, const char *name, bool purge, long long *rows,
                        struct err *e);
/* `tenant import`: (tenant, domain) pairs, all in one transaction;
 * idempotent. *new_tenants / *new_domains count what did not exist. */
int store_tenant_import(struct db *db, const char *const *tenants, const char *const *domains,
                        size_t n, long long *new_tenants, long long *new_domains,
                        struct store_adopted *a, struct err *e);
/* Maps database role `role` to tenant `tenant` (creating the role, LOGIN
 * with `login`, and granting it dmarcsift_reader when we may) / removes the
 * mapping. *dba gets the statements a DBA must still run (free with
 * migrate_sql_free from db/migrate.h). An unknown tenant, or a role that
 * would see everything (owner, superuser, BYPASSRLS), is ERR_CONFIG. */
int store_tenant_grant(struct db *db, const char *tenant, const char *role, bool login, char ***dba,
                       size_t *n, struct err *e);
int store_tenant_revoke(struct db *db, const char *tenant, const char *role, char ***dba, size_t *n,
                        struct err *e);
struct store_tenant {
	char *name;
	char *domains; /* comma-separated */
	char *roles;   /* comma-separated reading roles */
	char *created_at;
	int64_t reports;
	int64_t records;
	int64_t bounces;
	int64_t suppressions; /* active */
	int64_t escalations;  /* open */
};
int store_tenant_list(struct db *db, struct store_tenant **out, size_t *n, struct err *e);
void store_tenant_list_free(struct store_tenant *t, size_t n);

#endif
