#include "db/report_read.h"

#include "core/xalloc.h"
#include "db/db.h"
#include "db/sql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Runs a statement expecting `want`; clears the result. */
static int run(struct db *db, const char *sql, int n, const char *const *params,
               ExecStatusType want, const char *what, struct err *e)
{
	PGresult *res = db_query(db, sql, n, params);
	if (db_check(db, &res, want, what, e) < 0)
		return -1;
	PQclear(res);
	return 0;
}

int db_report_begin(struct db *db, int tenant_id, bool *isolated, struct err *e)
{
	*isolated = false;
	if (db_exec(db, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", e) < 0)
		return -1;
	if (db_exec(db, "SET LOCAL TimeZone = 'UTC'", e) < 0)
		goto fail;
	if (tenant_id < 0)
		return 0;
	/* The tenant's own reading role (issue 9's tenant_roles): under it the
	 * row-level-security policies show this tenant's rows and no other. */
	char id[16];
	snprintf(id, sizeof id, "%d", tenant_id);
	const char *params[1] = {id};
	PGresult *res = db_query(db, db_sql("report_tenant_role"), 1, params);
	if (db_check(db, &res, PGRES_TUPLES_OK, "looking up the tenant's reading role", e) < 0)
		goto fail;
	if (PQntuples(res) == 1) {
		const char *rp[1] = {PQgetvalue(res, 0, 0)};
		int rc = run(db, "SELECT pg_catalog.set_config('role', $1, true)", 1, rp,
		             PGRES_TUPLES_OK, "switching to the tenant's reading role", e);
		PQclear(res);
		if (rc < 0)
			goto fail;
		*isolated = true;
		return 0;
	}
	PQclear(res);
	return 0;
fail:
	db_report_end(db);
	return -1;
}

void db_report_end(struct db *db)
{
	/* Read only: nothing to keep. A failure here leaves nothing behind. */
	PGresult *res = PQexec(db_pg(db), "ROLLBACK");
	PQclear(res);
}

int db_report_query(struct db *db, const char *name, int nparams, const char *const *params,
                    db_report_row_fn fn, void *ctx, struct err *e)
{
	char what[96];
	PGresult *res = NULL;
	int rc = -1;

	snprintf(what, sizeof what, "report query %s", name);
	if (db_exec(db, "SAVEPOINT report_query", e) < 0)
		return -1;
	res = db_query(db, db_sql(name), nparams, params);
	if (db_check(db, &res, PGRES_TUPLES_OK, what, e) < 0) {
		if (e->kind != ERR_RETRY) {
			struct err ignore = {0};
			db_exec(db, "ROLLBACK TO SAVEPOINT report_query", &ignore);
		}
		return -1;
	}
	int nf = PQnfields(res), nt = PQntuples(res);
	const char **names = xcalloc((size_t)nf + 1, sizeof *names);
	const char **vals = xcalloc((size_t)nf + 1, sizeof *vals);
	for (int c = 0; c < nf; c++)
		names[c] = PQfname(res, c);
	rc = 0;
	for (int r = 0; r < nt && rc == 0; r++) {
		for (int c = 0; c < nf; c++)
			vals[c] = PQgetisnull(res, r, c) ? NULL : PQgetvalue(res, r, c);
		rc = fn(ctx, nf, names, vals);
	}
	free(names);
	free(vals);
	PQclear(res);
	if (db_exec(db, "RELEASE SAVEPOINT report_query", e) < 0)
		return -1;
	return rc == 0 ? 0 : -1;
}

int db_report_has(struct db *db, const char *relname, bool *out, struct err *e)
{
	const char *params[1] = {relname};
	PGresult *res =
	    db_query(db,
	             "SELECT c.oid IS NOT NULL AND pg_catalog.has_table_privilege(c.oid, "
	             "'SELECT') FROM (SELECT pg_catalog.to_regclass($1) AS oid) c",
	             1, params);
	if (db_check(db, &res, PGRES_TUPLES_OK, "looking for a view", e) < 0)
		return -1;
	*out = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return 0;
}
