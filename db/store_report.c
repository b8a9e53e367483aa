/*
 * store_report: one aggregate report = one transaction. The report row goes
 * in with INSERT ... ON CONFLICT DO NOTHING (a duplicate identity inserts
 * nothing), its records stream in through one COPY in text format, built
 * here in a 64 KiB buffer, so a report costs a handful of round trips
 * whatever its size.
 *
 * store_report_commit and store_report_abort both free the handle; after a
 * failed commit the transaction has been rolled back already. A failed
 * store_report_record leaves the handle to the caller, who aborts it.
 */
#include "core/buf.h"
#include "core/xalloc.h"
#include "db/db.h"
#include "db/store.h"

#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COPY_FLUSH  ((size_t)64 * 1024)
#define COPY_MAXROW ((size_t)64 * 1024 * 1024) /* one record line; the parser caps far below */

struct store_tx {
	struct db *db;
	bool in_copy;
	char prefix[48]; /* "tenant_id\treport_pk\t", the start of every line */
	char tenant[16];
	char report[24];
	int64_t seq;
	int64_t records;
	int64_t messages;
	bool recovered;
	char *complaint;
	struct buf line;
};

static const char copy_sql[] =
    "COPY dmarcsift.records (tenant_id, report_pk, seq, source_ip, count, disposition, dkim,"
    " spf, header_from, envelope_from, envelope_to, reasons, dkim_auth, spf_auth, extra)"
    " FROM STDIN";

/* COPY text format: backslash, tab, newline and CR are escaped; NULL is \N.
 * Runs of ordinary bytes are appended in one go. */
static int put_field(struct buf *b, const char *s)
{
	if (!s)
		return buf_append(b, "\\N", 2);
	const char *run = s;
	for (; *s; s++) {
		const char *esc;
		switch (*s) {
		case '\\':
			esc = "\\\\";
			break;
		case '\t':
			esc = "\\t";
			break;
		case '\n':
			esc = "\\n";
			break;
		case '\r':
			esc = "\\r";
			break;
		default:
			continue;
		}
		if (buf_append(b, run, (size_t)(s - run)) < 0 || buf_append(b, esc, 2) < 0)
			return -1;
		run = s + 1;
	}
	return buf_append(b, run, (size_t)(s - run));
}

static void json_add(struct json_object *o, const char *key, const char *val)
{
	json_object_object_add_ex(o, key, val ? json_object_new_string(val) : NULL,
	                          JSON_C_OBJECT_ADD_KEY_IS_NEW | JSON_C_OBJECT_KEY_IS_CONSTANT);
}

/* Appends a JSON array (already serialised by json-c) as a COPY field. */
static int put_json(struct buf *b, struct json_object *arr)
{
	const char *s = json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN |
	                                                        JSON_C_TO_STRING_NOSLASHESCAPE);
	int rc = put_field(b, s);
	json_object_put(arr);
	return rc;
}

static int put_reasons(struct buf *b, const struct aggr_record *rec)
{
	if (rec->n_reasons == 0)
		return buf_append(b, "[]", 2);
	struct json_object *arr = json_object_new_array_ext((int)rec->n_reasons);
	for (size_t i = 0; i < rec->n_reasons; i++) {
		struct json_object *o = json_object_new_object();
		json_add(o, "type", rec->reasons[i].type);
		json_add(o, "comment", rec->reasons[i].comment);
		json_object_array_add(arr, o);
	}
	return put_json(b, arr);
}

static int put_dkim(struct buf *b, const struct aggr_record *rec)
{
	if (rec->n_dkim == 0)
		return buf_append(b, "[]", 2);
	struct json_object *arr = json_object_new_array_ext((int)rec->n_dkim);
	for (size_t i = 0; i < rec->n_dkim; i++) {
		struct json_object *o = json_object_new_object();
		json_add(o, "domain", rec->dkim_auth[i].domain);
		json_add(o, "selector", rec->dkim_auth[i].selector);
		json_add(o, "result", rec->dkim_auth[i].result);
		json_add(o, "human_result", rec->dkim_auth[i].human_result);
		json_object_array_add(arr, o);
	}
	return put_json(b, arr);
}

static int put_spf(struct buf *b, const struct aggr_record *rec)
{
	if (rec->n_spf == 0)
		return buf_append(b, "[]", 2);
	struct json_object *arr = json_object_new_array_ext((int)rec->n_spf);
	for (size_t i = 0; i < rec->n_spf; i++) {
		struct json_object *o = json_object_new_object();
		json_add(o, "domain", rec->spf_auth[i].domain);
		json_add(o, "scope", rec->spf_auth[i].scope);
		json_add(o, "result", rec->spf_auth[i].result);
		json_add(o, "human_result", rec->spf_auth[i].human_result);
		json_object_array_add(arr, o);
	}
	return put_json(b, arr);
}

/* Maps a failure while talking COPY to our error. */
static int copy_failed(struct store_tx *tx, const char *what, struct err *e)
{
	const char *msg = PQerrorMessage(db_pg(tx->db));
	size_t n = strcspn(msg, "\n");
	if (PQstatus(db_pg(tx->db)) == CONNECTION_BAD)
		return err_stage(e, "store", ERR_RETRY, "database unreachable: %s: %.*s", what,
		                 (int)n, msg);
	return err_stage(e, "store", ERR_INTERNAL, "%s: %.*s", what, (int)n, msg);
}

static int flush(struct store_tx *tx, struct err *e)
{
	if (tx->line.len == 0)
		return 0;
	if (PQputCopyData(db_pg(tx->db), tx->line.data, (int)tx->line.len) != 1)
		return copy_failed(tx, "sending records", e);
	buf_reset(&tx->line);
	return 0;
}

static void tx_free(struct store_tx *tx)
{
	if (!tx)
		return;
	buf_free(&tx->line);
	free(tx->complaint);
	free(tx);
}

/* Ends COPY (if still in it) and rolls back; the handle is freed. */
static void rollback(struct store_tx *tx, const char *reason)
{
	PGconn *conn = db_pg(tx->db);
	if (PQstatus(conn) == CONNECTION_OK) {
		if (tx->in_copy) {
			PQputCopyEnd(conn, reason);
			PGresult *res;
			while ((res = PQgetResult(conn)) != NULL)
				PQclear(res);
			tx->in_copy = false;
		}
		PQclear(PQexec(conn, "ROLLBACK"));
	}
	tx_free(tx);
}

static const char insert_sql[] =
    "INSERT INTO dmarcsift.reports (tenant_id, org_name, report_id, policy_domain, begin_at,"
    " end_at, schema, namespace, version, email, extra_contact_info, generator, errors, adkim,"
    " aspf, p, sp, np, pct, fo, testing, discovery_method, extra, recovered, complaint,"
    " raw_sha256)"
    " VALUES ($1, coalesce($2, ''), coalesce($3, ''), $4, to_timestamp($5::bigint),"
    " to_timestamp($6::bigint), $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,"
    " $20, $21, $22, $23::jsonb, $24, $25, $26)"
    " ON CONFLICT DO NOTHING RETURNING id";

int store_report_begin(struct store_tx **out, struct db *db, const struct aggr_report *r,
                       const char *raw_sha256, const char *tenant_override, bool recovered,
                       const char *complaint, bool *duplicate, struct err *e)
{
	struct store_pin pin = {.tenant = tenant_override};
	return store_report_begin_pinned(out, db, r, raw_sha256, tenant_override ? &pin : NULL,
	                                 recovered, complaint, duplicate, e);
}

/* The tenant of a report: the owner of its domain, unless pinned; a pin
 * that contradicts an owner loses to it (or, strict, refuses the report). */
static int choose_tenant(struct db *db, const char *domain, struct store_pin *pin, int *tenant,
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
	if (db_check(db, res, PGRES_TUPLES_OK, "looking up a tenant", e) < 0)
		return -1;
	snprintf(pin->owner, sizeof pin->owner, "%s", PQntuples(res) ? PQgetvalue(res, 0, 0) : "?");
	PQclear(res);
	pin->mismatch = true;
	if (pin->strict)
		return err_stage(e, "store", ERR_INPUT,
		                 "report for %s delivered pinned to tenant %s, but tenant %s owns "
		                 "that domain ([tenants] pinned = strict)",
		                 domain, pin->tenant, pin->owner);
	*tenant = owner;
	return 0;
}

int store_report_begin_pinned(struct store_tx **out, struct db *db, const struct aggr_report *r,
                              const char *raw_sha256, struct store_pin *pin, bool recovered,
                              const char *complaint, bool *duplicate, struct err *e)
{
	struct store_tx *tx = NULL;
	PGresult *res = NULL;
	int tenant = -1;
	char begin[24], end[24], pct[16];
	bool in_tx = false;
	int rc = -1;

	*out = NULL;
	if (duplicate)
		*duplicate = false;
	if (!r->policy.domain || !*r->policy.domain) {
		err_stage(e, "store", ERR_INPUT, "report has no policy domain");
		goto out;
	}
	/* The tenant is chosen inside the report's transaction, under a lock
	 * that tenant changes (which adopt waiting reports) conflict with:
	 * otherwise a report resolved to 'unassigned' just before `tenant add`
	 * commits would be stored there after the adoption ran, and stay.
	 * SHARE mode: ingests do not wait for each other. */
	if (db_exec(db, "BEGIN", e) < 0)
		goto out;
	in_tx = true;
	if (db_exec(db, "LOCK TABLE dmarcsift.tenant_domains IN SHARE MODE", e) < 0)
		goto out;
	if (choose_tenant(db, r->policy.domain, pin, &tenant, e) < 0)
		goto out;

	tx = xcalloc(1, sizeof *tx);
	tx->db = db;
	buf_init(&tx->line, COPY_MAXROW);
	snprintf(tx->tenant, sizeof tx->tenant, "%d", tenant);
	snprintf(begin, sizeof begin, "%" PRId64, r->begin);
	snprintf(end, sizeof end, "%" PRId64, r->end);
	snprintf(pct, sizeof pct, "%d", r->policy.pct);
	const char *params[26] = {
	    tx->tenant,
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

	res = db_query(db, insert_sql, 26, params);
	if (db_check(db, res, PGRES_TUPLES_OK, "storing report", e) < 0) {
		res = NULL;
		goto out;
	}
	if (PQntuples(res) == 0) {
		/* The identity exists: nothing was written, nothing to keep. */
		if (duplicate)
			*duplicate = true;
		rc = 0;
		goto out;
	}
	snprintf(tx->report, sizeof tx->report, "%s", PQgetvalue(res, 0, 0));
	snprintf(tx->prefix, sizeof tx->prefix, "%s\t%s\t", tx->tenant, tx->report);
	PQclear(res);
	res = PQexec(db_pg(db), copy_sql);
	if (db_check(db, res, PGRES_COPY_IN, "starting COPY of records", e) < 0) {
		res = NULL;
		goto out;
	}
	tx->in_copy = true;
	*out = tx;
	tx = NULL;
	in_tx = false;
	rc = 0;
out:
	PQclear(res);
	if (tx)
		rollback(tx, NULL);
	else if (in_tx && PQstatus(db_pg(db)) == CONNECTION_OK)
		PQclear(PQexec(db_pg(db), "ROLLBACK"));
	return rc;
}

int store_report_record(struct store_tx *tx, const struct aggr_record *rec, struct err *e)
{
	struct buf *b = &tx->line;
	char num[48];
	int64_t sum;

	if (!tx->in_copy)
		return err_stage(e, "store", ERR_INTERNAL, "store_report_record outside COPY");
	if (!rec->source_ip || !*rec->source_ip)
		return err_stage(e, "store", ERR_INPUT, "record %" PRId64 ": no source_ip",
		                 tx->seq + 1);
	if (rec->count < 0)
		return err_stage(e, "store", ERR_INPUT,
		                 "record %" PRId64 ": negative count %" PRId64, tx->seq + 1,
		                 rec->count);
	if (__builtin_add_overflow(tx->messages, rec->count, &sum))
		return err_stage(e, "store", ERR_INPUT,
		                 "record %" PRId64 ": the message counts of the report overflow"
		                 " (count %" PRId64 ")",
		                 tx->seq + 1, rec->count);
	if (tx->seq > INT32_MAX)
		return err_stage(e, "store", ERR_INPUT, "too many records in one report");

	size_t start = b->len;
	snprintf(num, sizeof num, "%" PRId64 "\t", tx->seq);
	/* || sequences the appends left to right and stops at the first
	 * that does not fit. */
	bool bad =
	    buf_puts(b, tx->prefix) < 0 || buf_puts(b, num) < 0 || put_field(b, rec->source_ip) < 0;
	snprintf(num, sizeof num, "\t%" PRId64 "\t", rec->count);
	bad = bad || buf_puts(b, num) < 0 || put_field(b, rec->disposition) < 0 ||
	      buf_putc(b, '\t') < 0 || put_field(b, rec->dkim) < 0 || buf_putc(b, '\t') < 0 ||
	      put_field(b, rec->spf) < 0 || buf_putc(b, '\t') < 0 ||
	      put_field(b, rec->header_from) < 0 || buf_putc(b, '\t') < 0 ||
	      put_field(b, rec->envelope_from) < 0 || buf_putc(b, '\t') < 0 ||
	      put_field(b, rec->envelope_to) < 0 || buf_putc(b, '\t') < 0 ||
	      put_reasons(b, rec) < 0 || buf_putc(b, '\t') < 0 || put_dkim(b, rec) < 0 ||
	      buf_putc(b, '\t') < 0 || put_spf(b, rec) < 0 || buf_putc(b, '\t') < 0 ||
	      put_field(b, rec->extra_json) < 0 || buf_putc(b, '\n') < 0;
	if (bad) {
		b->len = start;
		return err_stage(e, "store", ERR_INPUT, "record %" PRId64 " is too large",
		                 tx->seq + 1);
	}
	tx->seq++;
	tx->records++;
	tx->messages = sum;
	if (b->len >= COPY_FLUSH)
		return flush(tx, e);
	return 0;
}

int store_report_commit(struct store_tx *tx, struct err *e)
{
	PGconn *conn = db_pg(tx->db);
	PGresult *res = NULL;
	char records[24], messages[24];
	int rc = -1;

	if (flush(tx, e) < 0)
		goto out;
	if (PQputCopyEnd(conn, NULL) != 1) {
		copy_failed(tx, "ending COPY of records", e);
		goto out;
	}
	tx->in_copy = false;
	/* The COPY's own result, then NULL; anything else is drained. */
	res = PQgetResult(conn);
	if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
		/* Which line and column the server choked on, copied before
		 * db_check clears the result. */
		const char *c = res ? PQresultErrorField(res, PG_DIAG_CONTEXT) : NULL;
		char ctx[200] = "";
		if (c)
			snprintf(ctx, sizeof ctx, " [%.*s]", (int)strcspn(c, "\n"), c);
		bool fresh = !err_is_set(e);
		db_check(tx->db, res, PGRES_COMMAND_OK, "loading records", e);
		res = NULL;
		if (fresh && e) {
			size_t n = strlen(e->msg);
			snprintf(e->msg + n, sizeof e->msg - n, "%s", ctx);
		}
		goto drain;
	}
	PQclear(res);
	res = NULL;
	while ((res = PQgetResult(conn)) != NULL)
		PQclear(res);

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
	if (db_check(tx->db, res, PGRES_COMMAND_OK, "counting records", e) < 0) {
		res = NULL;
		goto out;
	}
	PQclear(res);
	res = NULL;
	if (db_exec(tx->db, "COMMIT", e) < 0)
		goto out;
	tx_free(tx);
	return 0;
drain:
	while ((res = PQgetResult(conn)) != NULL)
		PQclear(res);
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
