/*
 * migrate: applies the embedded migrations in order, each in its own
 * transaction under a transaction-scoped advisory lock, and records them in
 * dmarcsift.schema_migrations (bookkeeping of the database itself, so it is
 * the one table without a tenant_id).
 */
#include "db/migrate.h"

#include "core/log.h"
#include "core/xalloc.h"
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

static bool embedded(const char *name)
{
	for (const struct migration *m = migrate_embedded; m->name; m++)
		if (strcmp(m->name, name) == 0)
			return true;
	return false;
}

/* Fast path for every connection: are all embedded migrations recorded?
 * Returns 1 yes, 0 no, -1 error. A recorded migration this binary does not
 * know means a newer dmarcsift migrated the database: writing into a schema
 * we do not understand could corrupt it, so that is refused (ERR_CONFIG). */
static int all_applied(struct db *db, struct err *e)
{
	PGresult *res = NULL;
	int n = 0, have = 0;

	for (const struct migration *m = migrate_embedded; m->name; m++)
		n++;
	res =
	    db_query(db, "SELECT pg_catalog.to_regclass('dmarcsift.schema_migrations') IS NOT NULL",
	             0, NULL);
	if (db_check(db, &res, PGRES_TUPLES_OK, "looking for the migrations table", e) < 0)
		return -1;
	bool exists = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if (!exists)
		return 0;
	res = db_query(db, "SELECT version FROM dmarcsift.schema_migrations", 0, NULL);
	if (db_check(db, &res, PGRES_TUPLES_OK, "reading applied migrations", e) < 0)
		return -1;
	for (int i = 0; i < PQntuples(res); i++) {
		if (embedded(PQgetvalue(res, i, 0))) {
			have++;
			continue;
		}
		err_stage(e, ERR_STAGE_STORE, ERR_CONFIG,
		          "the database schema is newer than this dmarcsift: migration %s is "
		          "unknown to it; upgrade dmarcsift",
		          PQgetvalue(res, i, 0));
		PQclear(res);
		return -1;
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
	if (db_check(db, &res, PGRES_TUPLES_OK, "taking the migration lock", e) < 0)
		goto out;
	PQclear(res);
	res = PQexec(db_pg(db), create_table);
	if (db_check(db, &res, PGRES_COMMAND_OK, "creating dmarcsift.schema_migrations", e) < 0)
		goto out;
	PQclear(res);
	res =
	    db_query(db, "SELECT 1 FROM dmarcsift.schema_migrations WHERE version = $1", 1, params);
	if (db_check(db, &res, PGRES_TUPLES_OK, "reading applied migrations", e) < 0)
		goto out;
	bool done = PQntuples(res) > 0;
	PQclear(res);
	res = NULL;
	if (!done) {
		/* Several statements in one simple query: our own embedded SQL,
		 * never anything from input. */
		res = PQexec(db_pg(db), m->sql);
		if (db_check(db, &res, PGRES_COMMAND_OK, m->name, e) < 0)
			goto out;
		PQclear(res);
		res = db_query(db, "INSERT INTO dmarcsift.schema_migrations (version) VALUES ($1)",
		               1, params);
		if (db_check(db, &res, PGRES_COMMAND_OK, "recording a migration", e) < 0)
			goto out;
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

int migrate_pending(struct db *db, char ***names, size_t *n, struct err *e)
{
	PGresult *res = NULL;

	*names = NULL;
	*n = 0;
	int r = all_applied(db, e); /* refuses a newer schema */
	if (r < 0)
		return -1;
	size_t total = 0;
	for (const struct migration *m = migrate_embedded; m->name; m++)
		total++;
	char **out = xcalloc(total + 1, sizeof *out);
	size_t k = 0;
	if (r == 0) {
		res = db_query(
		    db,
		    "SELECT CASE WHEN pg_catalog.to_regclass('dmarcsift.schema_migrations')"
		    " IS NULL THEN NULL ELSE (SELECT array_agg(version)::text"
		    " FROM dmarcsift.schema_migrations) END",
		    0, NULL);
		if (db_check(db, &res, PGRES_TUPLES_OK, "reading applied migrations", e) < 0) {
			free(out);
			return -1;
		}
		/* "{0001_init,0002_bounces}": names are [0-9a-z_], never quoted. */
		const char *have = PQgetvalue(res, 0, 0);
		for (const struct migration *m = migrate_embedded; m->name; m++) {
			size_t len = strlen(m->name);
			bool found = false;
			for (const char *p = strstr(have, m->name); p && !found;
			     p = strstr(p + 1, m->name))
				found = (p[-1] == '{' || p[-1] == ',') &&
				        (p[len] == ',' || p[len] == '}');
			if (!found)
				out[k++] = xstrdup(m->name);
		}
		PQclear(res);
	}
	*names = out;
	*n = k;
	return 0;
}

void migrate_sql_free(char **stmts, size_t n)
{
	for (size_t i = 0; stmts && i < n; i++)
		free(stmts[i]);
	free(stmts);
}

int migrate_roles(struct db *db, bool apply, char ***stmts, size_t *n, struct err *e)
{
	PGresult *res = NULL;
	int rc = -1;

	*stmts = NULL;
	*n = 0;
	if (db_exec(db, "BEGIN", e) < 0)
		return -1;
	/* Under the migrators' lock: a concurrent migration may be creating
	 * the very tables this grants on. */
	res = db_query(db, MIGRATE_LOCK, 0, NULL);
	if (db_check(db, &res, PGRES_TUPLES_OK, "taking the migration lock", e) < 0)
		goto out;
	PQclear(res);
	res = NULL;
	if (apply) {
		/* Covers tenant tables of migrations that predate (or forgot)
		 * the role-bound policy. Only when one needs it: securing takes an
		 * ACCESS EXCLUSIVE lock per table, and a second process that just
		 * migrated while the first already ingests (a report's COPY holds
		 * records and, through the rollup trigger, wants record_sources)
		 * deadlocks on them (test_poll_* two pollers on a fresh database). */
		res = db_query(
		    db,
		    "SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_class c"
		    " JOIN pg_catalog.pg_namespace s ON s.oid = c.relnamespace"
		    " JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid"
		    "  AND a.attname = 'tenant_id' AND NOT a.attisdropped"
		    " WHERE s.nspname = 'dmarcsift' AND c.relkind IN ('r', 'p')"
		    "  AND (NOT c.relrowsecurity OR EXISTS (SELECT 1 FROM pg_catalog.pg_policy p"
		    "   WHERE p.polrelid = c.oid AND p.polpermissive AND p.polname <> "
		    "'tenant_by_role')"
		    "  OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy p"
		    "   WHERE p.polrelid = c.oid AND p.polname = 'tenant_by_role')))"
		    " THEN dmarcsift.secure_tenant_tables() ELSE 0 END",
		    0, NULL);
		if (db_check(db, &res, PGRES_TUPLES_OK, "securing the tenant tables", e) < 0)
			goto out;
		PQclear(res);
	}
	const char *p[1] = {apply ? "true" : "false"};
	res = db_query(db, "SELECT s FROM dmarcsift.setup_roles($1::boolean) s", 1, p);
	if (db_check(db, &res, PGRES_TUPLES_OK, "setting up the reading roles", e) < 0)
		goto out;
	size_t rows = (size_t)PQntuples(res);
	char **out = xcalloc(rows + 1, sizeof *out);
	for (size_t i = 0; i < rows; i++)
		out[i] = xstrdup(PQgetvalue(res, (int)i, 0));
	if (db_exec(db, "COMMIT", e) < 0) {
		migrate_sql_free(out, rows);
		goto out;
	}
	*stmts = out;
	*n = rows;
	rc = 0;
out:
	PQclear(res);
	if (rc < 0 && PQstatus(db_pg(db)) == CONNECTION_OK)
		PQclear(PQexec(db_pg(db), "ROLLBACK"));
	return rc;
}

int migrate_apply(struct db *db, int *applied, struct err *e)
{
	return migrate_apply_before(db, NULL, applied, e);
}

int migrate_apply_before(struct db *db, const char *stop, int *applied, struct err *e)
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
		if (stop && strcmp(m->name, stop) >= 0)
			break;
		bool ran = false;
		if (apply_one(db, m, &ran, e) < 0)
			return -1;
		count += ran;
	}
	if (count > 0) {
		char **dba = NULL;
		size_t n = 0;
		if (migrate_roles(db, true, &dba, &n, e) < 0)
			return -1;
		if (n > 0)
			log_warn("the reading roles are not set up (%zu statement(s) need a DBA); "
			         "'dmarcsift db status' prints them",
			         n);
		migrate_sql_free(dba, n);
	}
	if (applied)
		*applied = count;
	return 0;
}
