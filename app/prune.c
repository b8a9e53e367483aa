/*
 * prune: see prune.h. The statements are db/sql/prune_*.sql; this file only
 * loops over tenants and batches and times the transactions.
 */
#include "app/prune.h"

#include "core/xalloc.h"
#include "db/db.h"
#include "db/sql.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_BATCH_RECORDS 50000LL
/* Reports per batch whatever their size (many empty reports). */
#define MAX_BATCH_REPORTS "5000"
/* Rows per transaction for the tables without records under them. */
#define ROW_BATCH     5000
#define ROW_BATCH_TXT "5000"

static const char *const kind_names[PRUNE_KINDS] = {
    [PRUNE_REPORTS] = "reports",
    [PRUNE_RECORDS] = "records",
    [PRUNE_TLS_REPORTS] = "tls_reports",
    [PRUNE_FAILURE_REPORTS] = "failure_reports",
    [PRUNE_BOUNCES] = "bounces",
    [PRUNE_FAILURES] = "failures",
    [PRUNE_FLAGS] = "flags",
    [PRUNE_ESCALATIONS] = "escalations",
    [PRUNE_SUPPRESSIONS] = "suppressions",
    [PRUNE_RAW_MESSAGES] = "raw_messages",
};

const char *prune_kind_name(enum prune_kind k)
{
	return k < PRUNE_KINDS ? kind_names[k] : "?";
}

struct run {
	struct db *db;
	char *cutoff; /* timestamptz text, as the database printed it */
	char tenant[24];
	bool in_tx;
	long long t0;
	struct prune_stats *st;
	struct err *e;
};

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long long cell(const PGresult *res, int col)
{
	return strtoll(PQgetvalue(res, 0, col), NULL, 10);
}

/* One statement that returns exactly one row; NULL with r->e set else. */
static PGresult *one_row(struct run *r, const char *name, int n, const char *const *p,
                         const char *what)
{
	PGresult *res = db_query(r->db, db_sql(name), n, p);
	if (db_check(r->db, &res, PGRES_TUPLES_OK, what, r->e) < 0)
		return NULL;
	if (PQntuples(res) != 1) {
		PQclear(res);
		err_set(r->e, ERR_INTERNAL, "%s: expected one row", what);
		return NULL;
	}
	return res;
}

static int begin(struct run *r)
{
	if (db_exec(r->db, "BEGIN", r->e) != 0)
		return -1;
	r->in_tx = true;
	r->t0 = now_ms();
	return 0;
}

static int commit(struct run *r)
{
	r->in_tx = false;
	if (db_exec(r->db, "COMMIT", r->e) != 0)
		return -1;
	long long ms = now_ms() - r->t0;
	r->st->transactions++;
	if (ms > r->st->longest_ms)
		r->st->longest_ms = ms;
	return 0;
}

/* After a failure inside a batch: the batch is undone, the error kept. */
static void rollback(struct run *r)
{
	if (!r->in_tx)
		return;
	struct err ignored = {0};
	db_exec(r->db, "ROLLBACK", &ignored);
	r->in_tx = false;
}

/* The raw messages `shas` (a text[] literal) that nothing kept refers to. */
static int drop_raw(struct run *r, const char *shas)
{
	if (strcmp(shas, "{}") == 0)
		return 0;
	const char *p[] = {shas};
	PGresult *res = one_row(r, "prune_raw", 1, p, "pruning raw messages");
	if (!res)
		return -1;
	r->st->n[PRUNE_RAW_MESSAGES] += cell(res, 0);
	PQclear(res);
	return 0;
}

static int prune_reports(struct run *r, const char *batch_records)
{
	for (;;) {
		const char *pick[] = {r->tenant, r->cutoff, batch_records, MAX_BATCH_REPORTS};
		PGresult *res =
		    one_row(r, "prune_reports_pick", 4, pick, "choosing reports to prune");
		if (!res)
			return -1;
		char *ids = xstrdup(PQgetvalue(res, 0, 0));
		PQclear(res);
		if (strcmp(ids, "{}") == 0) {
			free(ids);
			return 0;
		}
		const char *p[] = {r->tenant, ids};
		int rc = -1;
		if (begin(r) != 0)
			goto next;
		res = one_row(r, "prune_reports_rollup", 2, p,
		              "taking pruned reports out of the rollups");
		if (!res)
			goto next;
		PQclear(res);
		res = one_row(r, "prune_reports_records", 2, p, "pruning records");
		if (!res)
			goto next;
		r->st->n[PRUNE_RECORDS] += cell(res, 0);
		PQclear(res);
		res = one_row(r, "prune_reports_delete", 2, p, "pruning reports");
		if (!res)
			goto next;
		r->st->n[PRUNE_REPORTS] += cell(res, 0);
		char *shas = xstrdup(PQgetvalue(res, 0, 1));
		PQclear(res);
		rc = drop_raw(r, shas);
		free(shas);
		if (rc == 0)
			rc = commit(r);
	next:
		free(ids);
		if (rc != 0)
			return -1;
	}
}

/* TLS reports, failure reports, closed quarantine entries: batches of
 * ROW_BATCH, each with the raw messages it freed, until one comes short. */
static int prune_rows(struct run *r, const char *sql, enum prune_kind k, const char *what)
{
	for (;;) {
		const char *p[] = {r->tenant, r->cutoff, ROW_BATCH_TXT};
		if (begin(r) != 0)
			return -1;
		PGresult *res = one_row(r, sql, 3, p, what);
		if (!res)
			return -1;
		long long n = cell(res, 0);
		r->st->n[k] += n;
		char *shas = xstrdup(PQgetvalue(res, 0, 1));
		PQclear(res);
		int rc = drop_raw(r, shas);
		free(shas);
		if (rc != 0 || commit(r) != 0)
			return -1;
		if (n < ROW_BATCH)
			return 0;
	}
}

static int prune_bounces(struct run *r)
{
	for (;;) {
		const char *p[] = {r->tenant, r->cutoff, ROW_BATCH_TXT};
		if (begin(r) != 0)
			return -1;
		PGresult *res = one_row(r, "prune_bounces", 3, p, "pruning bounces");
		if (!res)
			return -1;
		long long n = cell(res, 0);
		r->st->n[PRUNE_BOUNCES] += n;
		PQclear(res);
		if (commit(r) != 0)
			return -1;
		if (n < ROW_BATCH)
			return 0;
	}
}

static int prune_closed(struct run *r)
{
	for (;;) {
		const char *p[] = {r->tenant, r->cutoff, ROW_BATCH_TXT};
		if (begin(r) != 0)
			return -1;
		PGresult *res =
		    one_row(r, "prune_closed", 3, p, "pruning resolved flags and escalations");
		if (!res)
			return -1;
		long long f = cell(res, 0), esc = cell(res, 1), s = cell(res, 2);
		r->st->n[PRUNE_FLAGS] += f;
		r->st->n[PRUNE_ESCALATIONS] += esc;
		r->st->n[PRUNE_SUPPRESSIONS] += s;
		PQclear(res);
		if (commit(r) != 0)
			return -1;
		if (f < ROW_BATCH && esc < ROW_BATCH && s < ROW_BATCH)
			return 0;
	}
}

/* Every tenant: raw messages received before the cutoff that nothing refers
 * to (bounce notices, inputs whose rows went earlier), walked in SHA-256
 * order so each batch starts where the last ended. */
static int prune_orphans(struct run *r)
{
	char *after = xstrdup("");
	int rc = -1;
	for (;;) {
		const char *p[] = {r->cutoff, after, "1000"};
		PGresult *res =
		    one_row(r, "prune_raw_candidates", 3, p, "finding unreferenced raw messages");
		if (!res)
			goto out;
		char *shas = xstrdup(PQgetvalue(res, 0, 0));
		free(after);
		after = xstrdup(PQgetvalue(res, 0, 1));
		PQclear(res);
		int k = begin(r) == 0 && drop_raw(r, shas) == 0 && commit(r) == 0 ? 0 : -1;
		free(shas);
		if (k != 0)
			goto out;
		if (after[0] == '\0')
			break;
	}
	rc = 0;
out:
	free(after);
	return rc;
}

static int dry_run(struct run *r, const char *tenant_id)
{
	const char *p[] = {tenant_id, r->cutoff};
	PGresult *res = one_row(r, "prune_count", 2, p, "counting what prune would delete");
	if (!res)
		return -1;
	static const enum prune_kind order[] = {
	    PRUNE_REPORTS,      PRUNE_RECORDS,     PRUNE_TLS_REPORTS, PRUNE_FAILURE_REPORTS,
	    PRUNE_BOUNCES,      PRUNE_FAILURES,    PRUNE_FLAGS,       PRUNE_ESCALATIONS,
	    PRUNE_SUPPRESSIONS, PRUNE_RAW_MESSAGES};
	for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
		r->st->n[order[i]] = cell(res, (int)i);
	PQclear(res);
	return 0;
}

int prune_run(struct db *db, const struct prune_opts *o, struct prune_stats *st, struct err *e)
{
	memset(st, 0, sizeof *st);
	struct run r = {.db = db, .st = st, .e = e};
	char window[24], batch[24];
	snprintf(window, sizeof window, "%lld", o->older_s);
	snprintf(batch, sizeof batch, "%lld",
	         o->batch_records > 0 ? o->batch_records : DEFAULT_BATCH_RECORDS);
	const char *p[] = {window, o->tenant};
	PGresult *tenants = db_query(db, db_sql("prune_setup"), 2, p);
	if (db_check(db, &tenants, PGRES_TUPLES_OK, "reading the tenants to prune", e) < 0)
		return -1;
	int rc = -1;
	int n = PQntuples(tenants);
	if (n == 0) {
		if (o->tenant)
			err_set(e, ERR_CONFIG, "unknown tenant '%s'", o->tenant);
		else
			err_set(e, ERR_INTERNAL, "no tenants at all (not even 'unassigned')");
		goto out;
	}
	r.cutoff = xstrdup(PQgetvalue(tenants, 0, 1));
	snprintf(st->cutoff, sizeof st->cutoff, "%s", PQgetvalue(tenants, 0, 2));
	if (o->dry_run) {
		rc = dry_run(&r, o->tenant ? PQgetvalue(tenants, 0, 0) : NULL);
		goto out;
	}
	for (int i = 0; i < n; i++) {
		snprintf(r.tenant, sizeof r.tenant, "%s", PQgetvalue(tenants, i, 0));
		if (prune_reports(&r, batch) != 0 ||
		    prune_rows(&r, "prune_tls", PRUNE_TLS_REPORTS, "pruning TLS reports") != 0 ||
		    prune_rows(&r, "prune_ruf", PRUNE_FAILURE_REPORTS, "pruning failure reports") !=
		        0 ||
		    prune_rows(&r, "prune_failures", PRUNE_FAILURES,
		               "pruning closed quarantine entries") != 0 ||
		    prune_bounces(&r) != 0 || prune_closed(&r) != 0)
			goto out;
	}
	if (!o->tenant && prune_orphans(&r) != 0)
		goto out;
	rc = 0;
out:
	rollback(&r);
	free(r.cutoff);
	PQclear(tenants);
	return rc;
}
