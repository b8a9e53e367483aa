/*
 * flags: see db/flags.h. The statements live in db/sql/correlate_*.sql;
 * this file runs them in order inside one transaction:
 *   setup (scratch tables) -> params and provider orgs -> keys (full or
 *   from the dirty queue) -> the kept states (0038): which are used, and a
 *   pass of groups and match over the days before each new cut, written as
 *   new states -> groups (bounce side) -> match (aggregate side) -> flags
 *   (verdicts, upsert) -> status (resolve / reopen).
 * The scratch tables are ANALYZEd between steps: they are created in the
 * transaction, so the planner would otherwise guess their sizes.
 */
#include "db/flags.h"

#include "core/provider.h"
#include "core/xalloc.h"
#include "db/db.h"
#include "db/sql.h"
#include "db/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Any constant all runs agree on, and the share: one correlation of a
 * share of the tenants at a time. */
#define CORRELATE_LOCK "SELECT pg_advisory_xact_lock(424242, $1::integer)"

static int run_counts(struct db *db, const char *sql, const char *what, uint64_t *out, int n,
                      struct err *e)
{
	PGresult *res = db_query(db, sql, 0, NULL);
	if (db_check(db, &res, PGRES_TUPLES_OK, what, e) < 0)
		return -1;
	int rc = 0;
	if (PQntuples(res) != 1 || PQnfields(res) < n) {
		rc = err_stage(e, ERR_STAGE_CORRELATE, ERR_INTERNAL, "%s: unexpected result", what);
	} else {
		for (int i = 0; i < n; i++)
			out[i] = strtoull(PQgetvalue(res, 0, i), NULL, 10);
	}
	PQclear(res);
	return rc;
}

static int run_cmd(struct db *db, const char *sql, const char *what, struct err *e)
{
	PGresult *res = db_query(db, sql, 0, NULL);
	if (db_check(db, &res, PGRES_COMMAND_OK, what, e) < 0)
		return -1;
	PQclear(res);
	return 0;
}

static int analyze(struct db *db, const char *table, struct err *e)
{
	char sql[128];
	snprintf(sql, sizeof sql, "ANALYZE pg_temp.%s", table);
	return db_exec(db, sql, e);
}

static int put_params(struct db *db, const struct flags_params *p, struct err *e)
{
	char fb[32], pa[32], mm[32], rs[32], tid[16];
	int tenant_id = 0;
	if (p->tenant && store_tenant_resolve(db, NULL, p->tenant, &tenant_id, e) < 0)
		return -1;
	snprintf(fb, sizeof fb, "%.17g", p->fail_below);
	snprintf(pa, sizeof pa, "%.17g", p->pass_at);
	snprintf(mm, sizeof mm, "%ld", p->min_messages);
	snprintf(rs, sizeof rs, "%d days", p->resolve_days);
	snprintf(tid, sizeof tid, "%d", tenant_id);
	char part[16], parts[16];
	snprintf(part, sizeof part, "%d", p->parts > 1 ? p->part : 0);
	snprintf(parts, sizeof parts, "%d", p->parts > 1 ? p->parts : 1);
	const char *v[10] = {fb,       pa,       mm,   rs,    p->tenant ? tid : NULL,
	                     p->since, p->until, part, parts, p->full ? "true" : "false"};
	PGresult *res = db_query(db,
	                         "INSERT INTO pg_temp.corr_params VALUES ($1, $2, $3, $4::interval,"
	                         " $5, $6::date, $7::date, $8::integer, $9::integer, $10::boolean)",
	                         10, v);
	if (db_check(db, &res, PGRES_COMMAND_OK, "correlation settings", e) < 0)
		return -1;
	PQclear(res);

	const struct provider_map *map = p->map ? p->map : provider_map_default();
	for (size_t i = 0; i < provider_map_org_count(map); i++) {
		const char *pv[2];
		provider_map_org_at(map, i, &pv[0], &pv[1]);
		res = db_query(
		    db, "INSERT INTO pg_temp.corr_orgs VALUES ($1, $2) ON CONFLICT DO NOTHING", 2,
		    pv);
		if (db_check(db, &res, PGRES_COMMAND_OK, "provider org names", e) < 0)
			return -1;
		PQclear(res);
	}
	return 0;
}

static int read_events(struct db *db, struct flags_stats *st, struct err *e)
{
	PGresult *res = db_query(db, db_sql("correlate_events"), 0, NULL);
	if (db_check(db, &res, PGRES_TUPLES_OK, "reading the new flags", e) < 0)
		return -1;
	size_t n = (size_t)PQntuples(res);
	st->events = n ? xcalloc(n, sizeof *st->events) : NULL;
	for (size_t i = 0; i < n; i++)
		st->events[i] = xstrdup(PQgetvalue(res, (int)i, 0));
	st->nevents = n;
	PQclear(res);
	return 0;
}

void flags_stats_free(struct flags_stats *st)
{
	for (size_t i = 0; st && i < st->nevents; i++)
		free(st->events[i]);
	if (st) {
		free(st->events);
		st->events = NULL;
		st->nevents = 0;
	}
}

/* The bounce side and the aggregate side of corr_keys' groups as they stand
 * (corr_grp, corr_match): the days [lo, hi) of each, with its kept state. */
static int groups_and_match(struct db *db, struct err *e)
{
	/* corr_grp's keys alone: its jsonb maps and samples are only carried */
	if (run_cmd(db, db_sql("correlate_groups"), "grouping rejects", e) < 0 ||
	    analyze(db, "corr_grp (gid, tenant_id, provider, domain, ip_key, ip, org, st_used)",
	            e) < 0 ||
	    run_cmd(db, db_sql("correlate_match"), "matching aggregate data", e) < 0)
		return -1;
	/* the group numbers alone: statistics of the jsonb column cost more
	 * than the statements they would plan */
	return analyze(db, "corr_match (gid)", e);
}

/* The kept states: which groups use theirs, and new ones written (a pass
 * of groups and match over the days before each new cut) where there is
 * none or it lags. Leaves corr_keys set for the run proper. */
static int states(struct db *db, struct err *e)
{
	uint64_t n = 0;
	if (run_counts(db, db_sql("correlate_state_plan"), "planning kept states", &n, 1, e) < 0)
		return -1;
	if (n > 0 && (groups_and_match(db, e) < 0 ||
	              run_cmd(db, db_sql("correlate_state_write"), "keeping states", e) < 0 ||
	              db_exec(db, "DROP TABLE pg_temp.corr_grp, pg_temp.corr_match", e) < 0))
		return -1;
	return run_cmd(db, db_sql("correlate_state_ready"), "reading kept states", e);
}

static int lock_share(struct db *db, const struct flags_params *p, struct err *e)
{
	char part[16];
	snprintf(part, sizeof part, "%d", p->parts > 1 ? p->part : 0);
	const char *v[1] = {part};
	PGresult *res = db_query(db, CORRELATE_LOCK, 1, v);
	if (db_check(db, &res, PGRES_TUPLES_OK, "waiting for another correlation", e) < 0)
		return -1;
	PQclear(res);
	return 0;
}

int flags_recompute(struct db *db, const struct flags_params *p, struct flags_stats *st,
                    struct err *e)
{
	struct flags_stats tmp = {0};
	uint64_t c[3] = {0};
	int rc = -1;

	if (db_exec(db, "BEGIN", e) < 0)
		return -1;
	/* Days are UTC days, and nothing below may depend on the session. JIT
	 * compilation costs seconds on these wide expressions and buys nothing
	 * on the row counts a correlation touches. */
	if (db_exec(db, "SET LOCAL TimeZone = 'UTC'", e) < 0 ||
	    db_exec(db, "SET LOCAL jit = off", e) < 0 || lock_share(db, p, e) < 0 ||
	    db_exec(db, db_sql("correlate_setup"), e) < 0 || put_params(db, p, e) < 0)
		goto out;
	if (run_cmd(db, db_sql(p->full ? "correlate_keys_full" : "correlate_keys_dirty"),
	            "finding what changed", e) < 0 ||
	    analyze(db, "corr_keys", e) < 0)
		goto out;
	if (states(db, e) < 0 || groups_and_match(db, e) < 0 ||
	    run_cmd(db, db_sql("correlate_agg"), "summing aggregate data", e) < 0 ||
	    run_cmd(db, db_sql("correlate_agg_index"), "indexing aggregate sums", e) < 0 ||
	    analyze(db, "corr_agg", e) < 0)
		goto out;
	if (run_counts(db, db_sql("correlate_flags"), "writing flags", c, 3, e) < 0)
		goto out;
	tmp.created = c[0];
	tmp.changed = c[1];
	tmp.groups = c[2];
	if (run_counts(db, db_sql("correlate_status"), "resolving quiet flags", c, 2, e) < 0)
		goto out;
	tmp.resolved = c[0];
	tmp.changed += c[1];
	if (p->want_events && read_events(db, &tmp, e) < 0)
		goto out;
	if (db_exec(db, "COMMIT", e) < 0)
		goto out;
	if (st)
		*st = tmp;
	else
		flags_stats_free(&tmp);
	return 0;
out:
	flags_stats_free(&tmp);
	err_set_stage_if_empty(e, ERR_STAGE_CORRELATE);
	PGresult *res = PQexec(db_pg(db), "ROLLBACK");
	PQclear(res);
	return rc;
}

int flags_list(struct db *db, const struct flags_filter *f, PGresult **out, struct err *e)
{
	*out = NULL;
	if (f->tenant) {
		int id;
		if (store_tenant_resolve(db, NULL, f->tenant, &id, e) < 0)
			return -1;
	}
	const char *v[4] = {f->tenant, f->kind, f->since, f->all ? "true" : "false"};
	PGresult *res = db_query(db, db_sql("flags_list"), 4, v);
	if (db_check(db, &res, PGRES_TUPLES_OK, "listing flags", e) < 0)
		return -1;
	*out = res;
	return 0;
}
