/*
 * migrate: applies the embedded migrations in order, each in its own
 * transaction under a transaction-scoped advisory lock, and records them in
 * dmarcsift.schema_migrations (bookkeeping of the database itself, so it is
 * the one table without a tenant_id).
 */
#include "db/migrate.h"

#include "db/db.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Any constant will do as long as every migrator uses the same one. */
#define MIGRATE_LOCK "SELECT pg_catalog.pg_advisory_xact_lock(7315046120923318)"

static const char create_table[] = "CREATE SCHEMA IF NOT EXISTS dmarcsift;"
                                   "CREATE TABLE IF NOT EXISTS dmarcsift.schema_migrations ("
                                   " version text PRIMARY KEY,"
                                   " applied_at timestamptz NOT NULL DEFAULT now())";

/* Fast path for every connection: are all embedded migrations recorded?
 * Returns 1 yes, 0 no, -1 error. */
static int all_applied(struct db *db, struct err *e)
{
	PGresult *res = NULL;
	int n = 0, have = 0;

	for (const struct migration *m = migrate_embedded; m->name; m++)
		n++;
	res =
	    db_query(db, "SELECT pg_catalog.to_regclass('dmarcsift.schema_migrations') IS NOT NULL",
	             0, NULL);
	if (db_check(db, res, PGRES_TUPLES_OK, "looking for the migrations table", e) < 0)
		return -1;
	bool exists = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if (!exists)
		return 0;
	res = db_query(db, "SELECT version FROM dmarcsift.schema_migrations", 0, NULL);
	if (db_check(db, res, PGRES_TUPLES_OK, "reading applied migrations", e) < 0)
		return -1;
	for (const struct migration *m = migrate_embedded; m->name; m++) {
		for (int i = 0; i < PQntuples(res); i++) {
			if (strcmp(PQgetvalue(res, i, 0), m->name) == 0) {
				have++;
				break;
			}
		}
	}
	PQclear(res);
	return have == n;
}

/* One migration, in one transaction: lock, check, apply, record. */
static int apply_one(struct db *db, const struct migration *m, bool *ran, struct err *e)
{
	PGresult *res = NULL;
	const char *params[1] = {m->name};
	int rc = -1;

	*ran = false;
	if (db_exec(db, "BEGIN", e) < 0)
		return -1;
	res = db_query(db, MIGRATE_LOCK, 0, NULL);
	if (db_check(db, res, PGRES_TUPLES_OK, "taking the migration lock", e) < 0) {
		res = NULL;
		goto out;
	}
	PQclear(res);
	res = PQexec(db_pg(db), create_table);
	if (db_check(db, res, PGRES_COMMAND_OK, "creating dmarcsift.schema_migrations", e) < 0) {
		res = NULL;
		goto out;
	}
	PQclear(res);
	res =
	    db_query(db, "SELECT 1 FROM dmarcsift.schema_migrations WHERE version = $1", 1, params);
	if (db_check(db, res, PGRES_TUPLES_OK, "reading applied migrations", e) < 0) {
		res = NULL;
		goto out;
	}
	bool done = PQntuples(res) > 0;
	PQclear(res);
	res = NULL;
	if (!done) {
		/* Several statements in one simple query: our own embedded SQL,
		 * never anything from input. */
		res = PQexec(db_pg(db), m->sql);
		if (db_check(db, res, PGRES_COMMAND_OK, m->name, e) < 0) {
			res = NULL;
			goto out;
		}
		PQclear(res);
		res = db_query(db, "INSERT INTO dmarcsift.schema_migrations (version) VALUES ($1)",
		               1, params);
		if (db_check(db, res, PGRES_COMMAND_OK, "recording a migration", e) < 0) {
			res = NULL;
			goto out;
		}
		PQclear(res);
		res = NULL;
	}
	if (db_exec(db, "COMMIT", e) < 0)
		goto out;
	*ran = !done;
	rc = 0;
out:
	PQclear(res);
	if (rc < 0 && PQstatus(db_pg(db)) == CONNECTION_OK)
		PQclear(PQexec(db_pg(db), "ROLLBACK"));
	return rc;
}

int migrate_apply(struct db *db, int *applied, struct err *e)
{
	int count = 0;

	if (applied)
		*applied = 0;
	int r = all_applied(db, e);
	if (r < 0)
		return -1;
	if (r == 1)
		return 0;
	for (const struct migration *m = migrate_embedded; m->name; m++) {
		bool ran = false;
		if (apply_one(db, m, &ran, e) < 0)
			return -1;
		count += ran;
	}
	if (applied)
		*applied = count;
	return 0;
}
