/*
 * store_report: one aggregate report = one transaction (a savepoint when
 * the caller opened a batch, db.h: then it is durable with the batch's
 * commit, and a report that fails still rolls back alone). The report row goes
 * in with INSERT ... ON CONFLICT DO NOTHING (a duplicate identity inserts
 * nothing), its records stream in through one COPY in text format, built
 * here in a 64 KiB buffer, so a report costs a handful of round trips
 * whatever its size.
 *
 * When the identity is stored already, the stored row is locked and the new
 * copy's records are staged in a temporary table instead; the commit then
 * compares the two copies. Reporters and mail systems deliver cut copies
 * before whole ones, so a copy that is more complete replaces the stored one
 * in this same transaction (its records and header; the raw bytes of both
 * stay in raw_messages, and replaced_sha256 names the older): a clean copy
 * replaces a recovered one; a copy with more records replaces one of the
 * same kind when it holds every stored record (recovered copies: when it has
 * more). The same records again are a duplicate, and so is a damaged copy
 * no longer than a clean stored one; two copies that disagree otherwise (a
 * clean copy lacking stored records included) are a conflict: the first
 * stays, and the commit fails with ERR_INPUT naming both raw messages, so
 * the caller quarantines the new copy.
 *
 * store_report_commit and store_report_abort both free the handle; after a
 * failed commit the transaction has been rolled back already. A failed
 * store_report_record leaves the handle to the caller, who aborts it.
 */
#include "core/buf.h"
#include "core/xalloc.h"
#include "db/copy.h"
#include "db/db.h"
#include "db/source_sums.h"
#include "db/sql.h"
#include "db/store.h"
#include "db/store_rows.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COPY_FLUSH  ((size_t)64 * 1024)
#define COPY_MAXROW ((size_t)64 * 1024 * 1024) /* one record line; the parser caps far below */

#define N_PARAMS 26

/* A deferred report's rows up to this size go with its row as arrays, in
 * the same round trip; beyond it the server parses arrays more slowly than
 * COPY text (measured: even at about 20 five-field records, 8 KiB), so a
 * larger one sends its row in one round trip and its rows by COPY. */
#define ARRAY_MAX ((size_t)8 * 1024)

struct store_tx {
	struct db *db;
	/* Rows go to `rows` first, as COPY text lines without their first two
	 * fields (tenant and report, the `prefix` added when they are sent). A
	 * report whose rows outgrow COPY_FLUSH opens its COPY into
	 * dmarcsift.records then and streams on; a smaller one is sent whole at
	 * commit — in a batch (db.h) into pg_temp.ds_batch_records, which
	 * store_report_batch_flush moves into dmarcsift.records in one statement
	 * for the whole batch, so the per-statement work of the records' triggers
	 * is done once per batch, not once per report. A report without records
	 * sends no rows at all. Staged copies (below) open their COPY at once.
	 *
	 * In a batch nothing is sent before the commit (`deferred`): then the
	 * savepoint, the report's row with its tenant, its records (as an array
	 * parameter, db/sql/report_add.sql) and the release go together in one
	 * round trip (db_run_in_tx). A report that outgrows COPY_FLUSH, or whose
	 * identity is stored already, goes the way above from that moment on. */
	bool deferred;
	bool in_tx;    /* this report's transaction (savepoint) is open */
	char *domains; /* deferred, not pinned: the candidates the tenant comes from */
	struct copy copy;
	struct buf rows;
	/* This copy is recovered: parsed in recover mode (store_report_begin) or
	 * kept with deviations (store_report_note, before the commit). The
	 * replace rule and the row written at commit use this final state. */
	bool recovered;
	bool begun_recovered; /* as store_report_begin was told */
	char *complaint;      /* from store_report_note; NULL: the one given to begin */
	/* The identity is stored already: records go to the staging table and
	 * the commit decides (see the top of the file). */
	bool staged;
	bool old_recovered;
	int64_t old_records;
	char old_sha[80];
	/* record_sources rows summed here (source_sums.h); claimed: this report's
	 * rows stream by COPY into records, and the trigger leaves them to us. */
	struct source_sums *sums;
	bool sums_claimed;
	char *params[N_PARAMS]; /* the INSERT's values, kept for a replacement */
	char prefix[48];        /* "tenant_id\treport_pk\t", the start of every line */
	char tenant[16];
	char report[24];
	int64_t seq;
	int64_t records;
	int64_t messages;
};

static const char copy_sql[] =
    "COPY dmarcsift.records (tenant_id, report_pk, seq, source_ip, count, disposition, dkim,"
    " spf, header_from, envelope_from, envelope_to, reasons, dkim_auth, spf_auth, extra)"
    " FROM STDIN";

static const char copy_batch_sql[] =
    "COPY pg_temp.ds_batch_records (tenant_id, report_pk, seq, source_ip, count, disposition,"
    " dkim, spf, header_from, envelope_from, envelope_to, reasons, dkim_auth, spf_auth, extra)"
    " FROM STDIN";

/* Created in each batch's transaction, outside any report's savepoint, so
 * a report that rolls back takes only its own rows with it: the records
 * and the record_sources rows summed here (report_add.sql) until the
 * batch's end moves them (dmarcsift.batch_flush, 0035). And the lock every
 * report takes (store_report_begin_pinned), taken once for the batch:
 * outside the reports' savepoints, a report that rolls back cannot release
 * it. */
static const char batch_table_sql[] =
    "CREATE TEMP TABLE IF NOT EXISTS ds_batch_records"
    " (LIKE dmarcsift.records INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
    " ON COMMIT DELETE ROWS;"
    " CREATE TEMP TABLE IF NOT EXISTS ds_batch_sources (tenant_id integer, report_pk bigint,"
    " source_ip inet, header_from text, messages bigint, dkim_pass bigint, spf_pass bigint,"
    " dmarc_pass bigint, fails jsonb) ON COMMIT DELETE ROWS;"
    " LOCK TABLE dmarcsift.tenant_domains IN SHARE MODE";

/* The batch's rows into dmarcsift.records and record_sources, and their
 * reports' counts, which their commits left to it: one statement for the
 * batch. */
static const char batch_flush_sql[] = "CALL dmarcsift.batch_flush()";

int store_report_batch_open(struct db *db, struct err *e)
{
	return db_exec(db, batch_table_sql, e);
}

int store_report_batch_flush_send(struct db *db, struct err *e)
{
	return db_batch_send(db, batch_flush_sql, 0, NULL, e);
}

int store_report_batch_flush(struct db *db, struct err *e)
{
	if (!db_in_batch(db))
		return 0;
	PGresult *res = PQexec(db_pg(db), batch_flush_sql);
	if (db_check(db, &res, PGRES_COMMAND_OK, "storing the batch's records", e) < 0)
		return -1;
	PQclear(res);
	return 0;
}

static void tx_free(struct store_tx *tx)
{
	if (!tx)
		return;
	for (size_t i = 0; i < N_PARAMS; i++)
		free(tx->params[i]);
	free(tx->complaint);
	free(tx->domains);
	buf_free(&tx->rows);
	source_sums_free(tx->sums);
	free(tx);
}

/* Ends COPY (if still in it) and rolls back what was opened; the handle is
 * freed. A deferred report sent nothing: there is nothing to roll back (and
 * no savepoint of its own to roll back to). */
static void rollback(struct store_tx *tx, const char *reason)
{
	copy_abort(&tx->copy, reason);
	if (tx->in_tx)
		db_rollback(tx->db);
	tx_free(tx);
}

static const char copy_staged_sql[] =
    "COPY pg_temp.ds_staged_records (tenant_id, report_pk, seq, source_ip, count, disposition,"
    " dkim, spf, header_from, envelope_from, envelope_to, reasons, dkim_auth, spf_auth, extra)"
    " FROM STDIN";

/* Kept for the session, emptied at every commit (and gone with a rollback
 * of the transaction that created it, hence IF NOT EXISTS each time), and
 * emptied before use: in a batch (db.h) a report's "commit" is the release
 * of a savepoint, which leaves the rows of the copy before. */
static const char staged_table_sql[] =
    "CREATE TEMP TABLE IF NOT EXISTS ds_staged_records"
    " (LIKE dmarcsift.records INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
    " ON COMMIT DELETE ROWS;"
    " DELETE FROM pg_temp.ds_staged_records";

static const char stored_sql[] =
    "SELECT id, recovered, records, coalesce(raw_sha256, '') FROM dmarcsift.reports"
    " WHERE tenant_id = $1 AND org_name = coalesce($2, '') AND report_id = coalesce($3, '')"
    " AND policy_domain = $4 AND begin_at = to_timestamp($5::bigint)"
    " AND end_at = to_timestamp($6::bigint) FOR UPDATE";

static const char insert_sql[] =
    "INSERT INTO dmarcsift.reports (tenant_id, org_name, report_id, policy_domain, begin_at,"
    " end_at, schema, namespace, version, email, extra_contact_info, generator, errors, adkim,"
    " aspf, p, sp, np, pct, fo, testing, discovery_method, extra, recovered, complaint,"
    " raw_sha256)"
    " VALUES ($1, coalesce($2, ''), coalesce($3, ''), $4, to_timestamp($5::bigint),"
    " to_timestamp($6::bigint), $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,"
    " $20, $21, $22, $23::jsonb, $24, $25, $26)"
    " ON CONFLICT DO NOTHING RETURNING id";

/* The identity is taken: locks the stored row and reads what the commit
 * compares against. *found is false when the row vanished meanwhile. */
static int lock_stored(struct store_tx *tx, const char *const *params, bool *found, struct err *e)
{
	PGresult *res = db_query(tx->db, stored_sql, 6, params);
	if (db_check(tx->db, &res, PGRES_TUPLES_OK, "looking up the stored report", e) < 0)
		return -1;
	*found = PQntuples(res) == 1;
	if (*found) {
		snprintf(tx->report, sizeof tx->report, "%s", PQgetvalue(res, 0, 0));
		tx->old_recovered = PQgetvalue(res, 0, 1)[0] == 't';
		tx->old_records = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
		snprintf(tx->old_sha, sizeof tx->old_sha, "%s",
		         *PQgetvalue(res, 0, 3) ? PQgetvalue(res, 0, 3) : "(unknown)");
	}
	PQclear(res);
	return 0;
}

int store_report_begin(struct store_tx **out, struct db *db, const struct aggr_report *r,
                       const char *raw_sha256, const char *tenant_override, bool recovered,
                       const char *complaint, struct err *e)
{
	struct store_pin pin = {.tenant = tenant_override};
	return store_report_begin_pinned(out, db, r, raw_sha256, tenant_override ? &pin : NULL,
	                                 recovered, complaint, e);
}

/* The tenant of a report: the owner of its domain, unless pinned; a pin
 * that contradicts an owner loses to it (or, strict, refuses the report). */
int store_tenant_choose(struct db *db, const char *domain, struct store_pin *pin, int *tenant,
                        struct err *e)
{
	int owner = 0, pinned = -1;
	if (store_tenant_owner(db, domain, &owner, e) < 0)
		return -1;
	if (!pin || !pin->tenant) {
		*tenant = owner;
		return 0;
	}
	if (store_tenant_id(db, pin->tenant, &pinned, e) < 0)
		return -1;
	if (owner == 0 || owner == pinned) {
		*tenant = pinned;
		return 0;
	}
	char id[16];
	snprintf(id, sizeof id, "%d", owner);
	const char *p[1] = {id};
	PGresult *res =
	    db_query(db, "SELECT name FROM dmarcsift.tenants WHERE tenant_id = $1::int", 1, p);
	if (db_check(db, &res, PGRES_TUPLES_OK, "looking up a tenant", e) < 0)
		return -1;
	snprintf(pin->owner, sizeof pin->owner, "%s", PQntuples(res) ? PQgetvalue(res, 0, 0) : "?");
	PQclear(res);
	pin->mismatch = true;
	if (pin->strict)
		return err_stage(e, ERR_STAGE_STORE, ERR_INPUT,
		                 "report for %s delivered pinned to tenant %s, but tenant %s owns "
		                 "that domain ([tenants] pinned = strict)",
		                 domain, pin->tenant, pin->owner);
	*tenant = owner;
	return 0;
}

/* The report's transaction (a savepoint in a batch) opened, its tenant
 * chosen unless known, its row inserted — or, its identity stored already,
 * the stored row locked and the staged COPY opened. On failure what was
 * opened stays for the caller's rollback(). */
static int open_tx(struct store_tx *tx, struct store_pin *pin, struct err *e)
{
	struct db *db = tx->db;
	PGresult *res = NULL;
	/* The tenant is chosen inside the report's transaction, under a lock
	 * that tenant changes (which adopt waiting reports) conflict with:
	 * otherwise a report resolved to 'unassigned' just before `tenant add`
	 * commits would be stored there after the adoption ran, and stay.
	 * SHARE mode: ingests do not wait for each other. A batch holds it
	 * from its start.
	 * Everything past a small new report's fast path may take locks that
	 * the batch sent before this one needs (rollup rows, a stored report):
	 * that batch settles first (db_settle_peer, db/db.h). */
	if (db_settle_peer(db, e) < 0 || db_begin(db, e) < 0)
		return -1;
	tx->in_tx = true;
	tx->deferred = false;
	if (!db_in_batch(db) &&
	    db_exec(db, "LOCK TABLE dmarcsift.tenant_domains IN SHARE MODE", e) < 0)
		return -1;
	if (!tx->params[0]) {
		int tenant = -1;
		if (store_tenant_choose(db, tx->params[3], pin, &tenant, e) < 0)
			return -1;
		snprintf(tx->tenant, sizeof tx->tenant, "%d", tenant);
		tx->params[0] = xstrdup(tx->tenant);
	}
	const char *const *params = (const char *const *)tx->params;

	/* Either our row goes in, or the stored one is there to lock; a row
	 * that vanishes in between (moved to another tenant) means try again. */
	for (int attempt = 0;; attempt++) {
		res = db_query_prepared(db, insert_sql, N_PARAMS, params, NULL, NULL);
		if (db_check(db, &res, PGRES_TUPLES_OK, "storing report", e) < 0)
			return -1;
		if (PQntuples(res) == 1) {
			snprintf(tx->report, sizeof tx->report, "%s", PQgetvalue(res, 0, 0));
			break;
		}
		PQclear(res);
		res = NULL;
		bool found = false;
		/* The stored copy's records and counts are what the commit
		 * compares with: those of a copy stored earlier in this batch
		 * must be where it looks (inside this report's savepoint, so a
		 * rollback undoes both). */
		if (store_report_batch_flush(db, e) < 0 || lock_stored(tx, params, &found, e) < 0)
			return -1;
		if (found) {
			tx->staged = true;
			break;
		}
		if (attempt == 3)
			return err_stage(e, ERR_STAGE_STORE, ERR_RETRY,
			                 "the stored copy of this report keeps changing under us");
	}
	snprintf(tx->prefix, sizeof tx->prefix, "%s\t%s\t", tx->tenant, tx->report);
	PQclear(res);
	if (tx->staged &&
	    (db_exec(db, staged_table_sql, e) < 0 ||
	     copy_begin(&tx->copy, db, copy_staged_sql, "records", COPY_MAXROW, COPY_FLUSH, e) < 0))
		return -1;
	return 0;
}

int store_report_begin_pinned(struct store_tx **out, struct db *db, const struct aggr_report *r,
                              const char *raw_sha256, struct store_pin *pin, bool recovered,
                              const char *complaint, struct err *e)
{
	struct store_tx *tx = NULL;
	char begin[24], end[24], pct[16];

	*out = NULL;
	if (!r->policy.domain || !*r->policy.domain)
		return err_stage(e, ERR_STAGE_STORE, ERR_INPUT, "report has no policy domain");

	tx = xcalloc(1, sizeof *tx);
	tx->db = db;
	buf_init(&tx->rows, COPY_MAXROW);
	tx->recovered = recovered;
	tx->begun_recovered = recovered;
	snprintf(begin, sizeof begin, "%" PRId64, r->begin);
	snprintf(end, sizeof end, "%" PRId64, r->end);
	snprintf(pct, sizeof pct, "%d", r->policy.pct);
	const char *params[N_PARAMS] = {
	    NULL, /* the tenant: chosen below, or by open_tx() */
	    r->org_name,
	    r->report_id,
	    r->policy.domain,
	    begin,
	    end,
	    r->schema == AGGR_SCHEMA_RFC9990 ? "rfc9990" : "rfc7489",
	    r->namespace_uri,
	    r->version,
	    r->email,
	    r->extra_contact_info,
	    r->generator,
	    r->errors,
	    r->policy.adkim,
	    r->policy.aspf,
	    r->policy.p,
	    r->policy.sp,
	    r->policy.np,
	    r->policy.pct < 0 ? NULL : pct,
	    r->policy.fo,
	    r->policy.testing,
	    r->policy.discovery_method,
	    r->extra_json,
	    recovered ? "true" : "false",
	    complaint,
	    raw_sha256,
	};
	for (size_t i = 0; i < N_PARAMS; i++)
		tx->params[i] = params[i] ? xstrdup(params[i]) : NULL;

	if (db_in_batch(db)) {
		/* Deferred: the batch holds the tenant_domains lock already, so
		 * a pinned report's tenant may be chosen now (it may be refused
		 * now, too); an unpinned one's is found by the statement that
		 * stores it. */
		if (pin && pin->tenant) {
			int tenant = -1;
			if (store_tenant_choose(db, r->policy.domain, pin, &tenant, e) < 0) {
				tx_free(tx);
				return -1;
			}
			snprintf(tx->tenant, sizeof tx->tenant, "%d", tenant);
			tx->params[0] = xstrdup(tx->tenant);
		} else {
			tx->domains = store_tenant_candidates(r->policy.domain);
		}
		tx->deferred = true;
		*out = tx;
		return 0;
	}
	if (open_tx(tx, pin, e) < 0) {
		rollback(tx, NULL);
		return -1;
	}
	*out = tx;
	return 0;
}

/* Appends the rows built so far to the open COPY, each with its prefix. */
static int move_rows(struct store_tx *tx, struct err *e)
{
	const char *p = tx->rows.data, *end = p ? p + tx->rows.len : p; /* no rows yet: NULL */
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
		if (buf_puts(&tx->copy.buf, tx->prefix) < 0 || buf_append(&tx->copy.buf, p, n) < 0)
			return err_stage(e, ERR_STAGE_STORE, ERR_INTERNAL,
			                 "records buffer overflow");
		p += n;
	}
	buf_reset(&tx->rows);
	return copy_flush(&tx->copy, e);
}

/* Starts the report's COPY into `sql`'s table with the rows built so far. */
static int open_copy(struct store_tx *tx, const char *sql, struct err *e)
{
	if (copy_begin(&tx->copy, tx->db, sql, "records", COPY_MAXROW, COPY_FLUSH, e) < 0)
		return -1;
	return move_rows(tx, e);
}

int store_report_record(struct store_tx *tx, const struct aggr_record *rec, struct err *e)
{
	struct buf *b = tx->copy.open ? &tx->copy.buf : &tx->rows;
	char num[48];
	int64_t sum;

	if (!rec->source_ip || !*rec->source_ip)
		return err_stage(e, ERR_STAGE_STORE, ERR_INPUT, "record %" PRId64 ": no source_ip",
		                 tx->seq + 1);
	if (rec->count < 0)
		return err_stage(e, ERR_STAGE_STORE, ERR_INPUT,
		                 "record %" PRId64 ": negative count %" PRId64, tx->seq + 1,
		                 rec->count);
	if (__builtin_add_overflow(tx->messages, rec->count, &sum))
		return err_stage(e, ERR_STAGE_STORE, ERR_INPUT,
		                 "record %" PRId64 ": the message counts of the report overflow"
		                 " (count %" PRId64 ")",
		                 tx->seq + 1, rec->count);
	if (tx->seq > INT32_MAX)
		return err_stage(e, ERR_STAGE_STORE, ERR_INPUT, "too many records in one report");

	size_t start = b->len;
	snprintf(num, sizeof num, "%" PRId64 "\t", tx->seq);
	/* || sequences the appends left to right and stops at the first
	 * that does not fit. */
	bool bad = (tx->copy.open && buf_puts(b, tx->prefix) < 0) || buf_puts(b, num) < 0 ||
	           copy_field(b, rec->source_ip) < 0;
	snprintf(num, sizeof num, "\t%" PRId64 "\t", rec->count);
	bad = bad || buf_puts(b, num) < 0 || copy_field(b, rec->disposition) < 0 ||
	      buf_putc(b, '\t') < 0 || copy_field(b, rec->dkim) < 0 || buf_putc(b, '\t') < 0 ||
	      copy_field(b, rec->spf) < 0 || buf_putc(b, '\t') < 0 ||
	      copy_field(b, rec->header_from) < 0 || buf_putc(b, '\t') < 0 ||
	      copy_field(b, rec->envelope_from) < 0 || buf_putc(b, '\t') < 0 ||
	      copy_field(b, rec->envelope_to) < 0 || buf_putc(b, '\t') < 0 ||
	      store_put_reasons(b, rec) < 0 || buf_putc(b, '\t') < 0 ||
	      store_put_dkim(b, rec) < 0 || buf_putc(b, '\t') < 0 || store_put_spf(b, rec) < 0 ||
	      buf_putc(b, '\t') < 0 || copy_field(b, rec->extra_json) < 0 || buf_putc(b, '\n') < 0;
	if (bad) {
		b->len = start;
		return err_stage(e, ERR_STAGE_STORE, ERR_INPUT, "record %" PRId64 " is too large",
		                 tx->seq + 1);
	}
	tx->seq++;
	tx->records++;
	tx->messages = sum;
	if (!tx->staged)
		source_sums_add(tx->sums ? tx->sums : (tx->sums = source_sums_new()), rec);
	if (tx->copy.open || tx->rows.len < COPY_FLUSH)
		return tx->copy.open ? copy_flush(&tx->copy, e) : 0;
	/* Too large to wait: the report's row goes in now (a deferred one's
	 * tenant chosen now, inside its savepoint), its rows stream. */
	if (tx->deferred && open_tx(tx, NULL, e) < 0)
		return -1;
	if (tx->copy.open)
		return move_rows(tx, e);
	if (source_sums_claim(tx->db, e) < 0)
		return -1;
	tx->sums_claimed = true;
	return open_copy(tx, copy_sql, e);
}

/* The stored records the copy lacks, and the copy's records the stored
 * report lacks. */
static int staged_diff(struct store_tx *tx, int64_t *lacking, int64_t *extra, struct err *e)
{
	const char *params[2] = {tx->tenant, tx->report};
	PGresult *res = db_query(tx->db, db_sql("report_staged_diff"), 2, params);
	if (db_check(tx->db, &res, PGRES_TUPLES_OK, "comparing the copies of a report", e) < 0)
		return -1;
	*lacking = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	*extra = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	PQclear(res);
	return 0;
}

/* The rule at the top of the file. */
static int decide(struct store_tx *tx, enum store_outcome *how, struct err *e)
{
	int64_t lacking = 0, extra = 0;
	if (tx->old_recovered) {
		*how = !tx->recovered || tx->records > tx->old_records ? STORE_REPLACED
		                                                       : STORE_DUPLICATE;
		return 0;
	}
	if (staged_diff(tx, &lacking, &extra, e) < 0)
		return -1;
	bool same = lacking == 0 && extra == 0;
	/* A damaged copy no longer than the clean stored one adds nothing. */
	bool shorter_damaged = tx->recovered && tx->records <= tx->old_records;
	if (same || shorter_damaged)
		*how = STORE_DUPLICATE;
	else if (!tx->recovered && lacking == 0)
		*how = STORE_REPLACED; /* everything stored, and more */
	else
		*how = STORE_CONFLICT;
	return 0;
}

static int replace(struct store_tx *tx, struct err *e)
{
	char records[24], messages[24];
	const char *key[2] = {tx->tenant, tx->report};
	PGresult *res = db_query(tx->db, db_sql("report_replace_forget"), 2, key);
	if (db_check(tx->db, &res, PGRES_TUPLES_OK, "taking back the stored records' sums", e) < 0)
		return -1;
	PQclear(res);
	res = db_query(tx->db,
	               "DELETE FROM dmarcsift.records WHERE tenant_id = $1"
	               " AND report_pk = $2",
	               2, key);
	if (db_check(tx->db, &res, PGRES_COMMAND_OK, "replacing the stored records", e) < 0)
		return -1;
	PQclear(res);
	snprintf(records, sizeof records, "%" PRId64, tx->records);
	snprintf(messages, sizeof messages, "%" PRId64, tx->messages);
	/* $1 tenant, $2 id, then the INSERT's values from the schema on. */
	const char *params[24];
	params[0] = tx->tenant;
	params[1] = tx->report;
	for (size_t i = 6; i < N_PARAMS; i++)
		params[i - 4] = tx->params[i];
	/* The new copy's final state (store_report_note), not the one known
	 * at begin: a copy kept with deviations is recovered. Not ORed with the
	 * stored row: the replaced copy's state goes with it. */
	params[19] = tx->recovered ? "true" : "false";
	if (tx->complaint)
		params[20] = tx->complaint;
	params[22] = records;
	params[23] = messages;
	res = db_query(tx->db, db_sql("report_replace"), 24, params);
	if (db_check(tx->db, &res, PGRES_COMMAND_OK, "replacing the stored report", e) < 0)
		return -1;
	PQclear(res);
	res = db_query(tx->db,
	               "INSERT INTO dmarcsift.records SELECT * FROM pg_temp.ds_staged_records", 0,
	               NULL);
	if (db_check(tx->db, &res, PGRES_COMMAND_OK, "storing the new copy's records", e) < 0)
		return -1;
	PQclear(res);
	return 0;
}

#define N_COLS 13 /* the fields of a row in `rows`: seq .. extra */
#define N_SUMS 7  /* those of source_sums_lines */

static bool report_added(const PGresult *res) /* as a lazy add assumes */
{
	return PQntuples(res) == 1 && !PQgetisnull(res, 0, 1);
}

/* A deferred report: savepoint, its row and (`rows_too`) its records and
 * the release in one round trip, or lazily in the input's savepoint (db.h).
 * Without its rows the savepoint stays open for their COPY. *added false:
 * its identity is stored already (nothing was written, the savepoint is
 * closed; the tenant the statement chose is kept for the comparison). */
static int add_deferred(struct store_tx *tx, bool rows_too, bool *added, struct err *e)
{
	char records[24], messages[24];
	struct buf cols[N_COLS + N_SUMS], sums;
	PGresult *res = NULL;
	int rc = -1;

	*added = false;
	for (int k = 0; k < N_COLS + N_SUMS; k++)
		buf_init(&cols[k], 4 * COPY_MAXROW);
	/* Its record_sources rows as summed here, for the batch's end (0035);
	 * none: the server derives them there. */
	buf_init(&sums, COPY_MAXROW);
	if (source_sums_lines(tx->sums, &sums) < 0)
		buf_reset(&sums);
	static const struct buf none = {0};
	if (store_lines_to_arrays(rows_too ? &tx->rows : &none, cols, N_COLS) < 0 ||
	    store_lines_to_arrays(&sums, cols + N_COLS, N_SUMS) < 0) {
		err_stage(e, ERR_STAGE_STORE, ERR_INTERNAL, "records: the column arrays overflow");
		goto out;
	}
	snprintf(records, sizeof records, "%" PRId64, tx->records);
	snprintf(messages, sizeof messages, "%" PRId64, tx->messages);
	const char *params[29 + N_COLS + N_SUMS];
	for (size_t i = 0; i < N_PARAMS; i++)
		params[i] = tx->params[i];
	/* The final state (store_report_note), written with the row. */
	params[23] = tx->recovered ? "true" : "false";
	if (tx->complaint)
		params[24] = tx->complaint;
	params[26] = tx->domains ? tx->domains : "{}";
	params[27] = records;
	params[28] = messages;
	for (int k = 0; k < N_COLS + N_SUMS; k++)
		params[29 + k] = cols[k].data;
	if (rows_too && db_lazy_on(tx->db)) {
		rc = db_lazy_send(tx->db, db_sql("report_add"), 29 + N_COLS + N_SUMS, params, NULL,
		                  NULL, report_added, e);
		*added = rc == 0;
		tx->deferred = rc != 0;
		goto out;
	}
	if (db_run_in_tx(tx->db, db_sql("report_add"), 29 + N_COLS + N_SUMS, params, NULL, NULL,
	                 rows_too, PGRES_TUPLES_OK, "storing report", &res, e) < 0)
		goto out;
	tx->in_tx = !rows_too;
	if (PQntuples(res) != 1) {
		err_stage(e, ERR_STAGE_STORE, ERR_INTERNAL, "storing report: %d rows back",
		          PQntuples(res));
		goto out;
	}
	*added = !PQgetisnull(res, 0, 1);
	snprintf(tx->tenant, sizeof tx->tenant, "%s", PQgetvalue(res, 0, 0));
	if (!tx->params[0])
		tx->params[0] = xstrdup(tx->tenant);
	if (*added) {
		snprintf(tx->report, sizeof tx->report, "%s", PQgetvalue(res, 0, 1));
		snprintf(tx->prefix, sizeof tx->prefix, "%s\t%s\t", tx->tenant, tx->report);
		tx->deferred = false;
	} else if (tx->in_tx) {
		tx->in_tx = false; /* nothing happened in it */
		if (db_commit(tx->db, e) < 0)
			goto out;
	}
	rc = 0;
out:
	PQclear(res);
	for (int k = 0; k < N_COLS + N_SUMS; k++)
		buf_free(&cols[k]);
	buf_free(&sums);
	return rc;
}

int store_report_commit(struct store_tx *tx, enum store_outcome *how, struct err *e)
{
	PGresult *res = NULL;
	char records[24], messages[24];
	enum store_outcome outcome = STORE_ADDED;
	int rc = -1;

	if (tx->deferred) {
		bool added = false, small = tx->rows.len <= ARRAY_MAX;
		if (add_deferred(tx, small, &added, e) < 0) {
			if (!tx->in_tx) {
				tx_free(tx); /* rolled back by db_run_in_tx */
				return -1;
			}
			goto out;
		}
		if (added && small) {
			if (how)
				*how = STORE_ADDED;
			tx_free(tx);
			return 0;
		}
		/* Added without its rows: they follow by COPY below, in its
		 * savepoint. Not added: the identity is stored, and this copy is
		 * compared with that one (the rule at the top of the file) in a
		 * savepoint of its own. */
		if (!added && (open_tx(tx, NULL, e) < 0 || (tx->copy.open && move_rows(tx, e) < 0)))
			goto out;
	}

	/* A report whose rows wait in the batch's table had its counts written
	 * with its row (add_deferred; the batch's end checks them, 0037); a
	 * report without rows keeps the zeros. */
	bool counted = tx->records == 0 || (!tx->copy.open && db_in_batch(tx->db));
	if (!tx->copy.open && tx->rows.len > 0 &&
	    open_copy(tx, db_in_batch(tx->db) ? copy_batch_sql : copy_sql, e) < 0)
		goto out;
	if (tx->copy.open && copy_end(&tx->copy, e) < 0)
		goto out;
	if (tx->sums_claimed && source_sums_store(tx->sums, tx->db, tx->tenant, tx->report, e) < 0)
		goto out;

	if (tx->staged) {
		if (decide(tx, &outcome, e) < 0)
			goto out;
		if (outcome == STORE_REPLACED && replace(tx, e) < 0)
			goto out;
		/* Committed, not rolled back, also when nothing changed: the
		 * staging table stays for the session and the lock goes. */
		if (db_commit(tx->db, e) < 0)
			goto out;
		if (outcome == STORE_CONFLICT) {
			err_stage(
			    e, ERR_STAGE_STORE, ERR_INPUT,
			    "conflicting copies of report '%s' from '%s' for %s: stored from raw"
			    " message %s, this copy (raw message %s, %" PRId64
			    " records) differs; the first is kept",
			    tx->params[2] ? tx->params[2] : "", tx->params[1] ? tx->params[1] : "",
			    tx->params[3], tx->old_sha,
			    tx->params[25] ? tx->params[25] : "(unknown)", tx->records);
			tx_free(tx);
			return -1;
		}
		if (how)
			*how = outcome;
		tx_free(tx);
		return 0;
	}

	if (counted && tx->recovered == tx->begun_recovered && !tx->complaint)
		goto commit; /* nothing to write to the report's row */
	snprintf(records, sizeof records, "%" PRId64, tx->records);
	snprintf(messages, sizeof messages, "%" PRId64, tx->messages);
	const char *params[6] = {
	    tx->tenant,   tx->report, records, messages, tx->recovered ? "true" : "false",
	    tx->complaint};
	res = db_query(tx->db,
	               "UPDATE dmarcsift.reports SET records = $3, messages = $4,"
	               " recovered = recovered OR $5::boolean,"
	               " complaint = coalesce($6, complaint)"
	               " WHERE tenant_id = $1 AND id = $2",
	               6, params);
	if (db_check(tx->db, &res, PGRES_COMMAND_OK, "counting records", e) < 0)
		goto out;
	PQclear(res);
	res = NULL;
commit:
	if (db_commit(tx->db, e) < 0)
		goto out;
	if (how)
		*how = STORE_ADDED;
	tx_free(tx);
	return 0;
out:
	PQclear(res);
	rollback(tx, "commit failed");
	return rc;
}

void store_report_note(struct store_tx *tx, bool recovered, const char *complaint)
{
	tx->recovered = tx->recovered || recovered;
	if (complaint && *complaint) {
		free(tx->complaint);
		tx->complaint = xstrdup(complaint);
	}
}

void store_report_abort(struct store_tx *tx)
{
	if (tx)
		rollback(tx, "aborted");
}
