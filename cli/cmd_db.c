/*
 * dmarcsift db: the embedded cluster's life cycle, its connection string,
 * and schema migrations for whichever database is configured.
 */
#include "cli/cmd.h"
#include "cli/common.h"
#include "cli/opt.h"
#include "db/cluster.h"
#include "db/db.h"
#include "db/migrate.h"
#include "reports/rows.h"

#include <json-c/json.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct opt options[] = {
    {"force", OPT_KEY, NULL, "init: also when the data directory is missing (see init)"},
    {NULL, 0, NULL, NULL},
};

static int on_opt(void *ctx, int key, const char *arg)
{
	(void)key;
	(void)arg;
	*(bool *)ctx = true;
	return 0;
}

static const struct opt_cmd cmd = {
    .name = "db",
    .synopsis = "usage: dmarcsift db start|stop|url|migrate\n"
                "       dmarcsift db status [--format text|json]\n"
                "       dmarcsift db init [--force]\n",
    .about = "  start    create (initdb, first use only) and start the private embedded\n"
             "           cluster\n"
             "  init     the same; with --force also when the data directory is missing\n"
             "           although a cluster was created there before (pg.created beside\n"
             "           it says so): then a new, empty cluster replaces the lost one.\n"
             "           Without --force a missing data directory is refused (exit 3) by\n"
             "           every command, so nothing is stored into an empty stand-in.\n"
             "           An existing data directory is never touched\n"
             "  stop     stop the embedded cluster (only its own server is ever signalled;\n"
             "           a stale postmaster.pid naming another process is ignored)\n"
             "  status   say whether the embedded cluster is initialised and running, and\n"
             "           what the database lacks: pending migrations, reading roles and\n"
             "           grants (with the SQL a DBA must run)\n"
             "  url      print the connection string in use: psql \"$(dmarcsift db url)\"\n"
             "           (starts the embedded cluster when that is the database)\n"
             "  migrate  apply pending schema migrations (also done automatically), create\n"
             "           the roles dmarcsift_reader and dmarcsift_msp and grant them the\n"
             "           views; prints the SQL a DBA must run where it may not\n",
    .opts = options,
    .formats = OPT_TEXT | OPT_JSON,
    .args = true,
    .epilog = "The embedded cluster lives in $XDG_DATA_HOME/dmarcsift/pg (default\n"
              "~/.local/share/dmarcsift/pg) and listens on a unix socket only. --db or\n"
              "DMARCSIFT_DB (a libpq connection string or URI) select another server.\n",
    .on_opt = on_opt,
};

/* db status --format json: the one object, filled as the checks go. */
static json_object *status_json;

static void status_str(const char *key, const char *v)
{
	json_object_object_add(status_json, key, v ? json_object_new_string(v) : NULL);
}

static json_object *status_list(char **stmts, size_t n)
{
	json_object *arr = json_object_new_array();
	for (size_t i = 0; i < n; i++)
		json_object_array_add(arr, json_object_new_string(stmts[i]));
	return arr;
}

/* Prints the statements a DBA must run, as one pastable block. */
static void print_dba_sql(FILE *out, char **stmts, size_t n)
{
	fprintf(out, "-- run as a PostgreSQL superuser (or a role with CREATEROLE) in this "
	             "database:\n");
	for (size_t i = 0; i < n; i++)
		fprintf(out, "%s\n", stmts[i]);
}

/* The schema side of `db status`: pending or unknown migrations and what the
 * reading roles lack. Returns EXIT_OK when nothing is missing. */
static int schema_status(const char *conninfo)
{
	struct err e = {0};
	struct db *db = NULL;
	char **stmts = NULL;
	size_t n = 0;
	int rc = EXIT_SOME_FAILED;
	json_object *j = status_json;

	if (db_connect(&db, conninfo, false, &e) != 0) {
		if (j)
			status_str("error", e.msg);
		else
			printf("database: %s\n", e.msg);
		rc = e.kind == ERR_CONFIG ? EXIT_CONFIG : EXIT_DB;
		goto out;
	}
	if (j)
		json_object_object_add(j, "reachable", json_object_new_boolean(true));
	if (migrate_pending(db, &stmts, &n, &e) != 0) {
		if (j)
			status_str("error", e.msg);
		else
			printf("database: %s\n", e.msg);
		goto out;
	}
	if (j)
		json_object_object_add(j, "pending_migrations", status_list(stmts, n));
	for (size_t i = 0; i < n && !j; i++)
		printf("migration pending: %s\n", stmts[i]);
	if (n > 0) {
		if (!j)
			printf("schema: %zu migration(s) pending ('dmarcsift db migrate')\n", n);
		goto out;
	}
	migrate_sql_free(stmts, n);
	stmts = NULL;
	if (migrate_roles(db, false, &stmts, &n, &e) != 0) {
		if (j)
			status_str("error", e.msg);
		else
			printf("schema: %s\n", e.msg);
		goto out;
	}
	if (j)
		json_object_object_add(j, "dba_sql", status_list(stmts, n));
	rc = n == 0 ? EXIT_OK : EXIT_SOME_FAILED;
	if (j) {
		json_object_object_add(j, "up_to_date", json_object_new_boolean(n == 0));
	} else if (n == 0) {
		printf("schema: up to date; roles dmarcsift_reader and dmarcsift_msp are set up\n");
	} else {
		printf("reading roles: %zu statement(s) missing ('dmarcsift db migrate' runs what "
		       "it may)\n",
		       n);
		print_dba_sql(stdout, stmts, n);
	}
out:
	migrate_sql_free(stmts, n);
	db_close(db);
	return rc;
}

static int with_cluster(const char *verb, bool force)
{
	struct err e = {0};
	struct cluster_info ci = {0};
	int rc = EXIT_OK;
	if (cluster_info_get(&ci, &e) != 0)
		return cli_fail(&e);
	if (strcmp(verb, "start") == 0 || strcmp(verb, "init") == 0) {
		if ((verb[0] == 's' ? cluster_start(&ci, &e) : cluster_init(&ci, force, &e)) != 0)
			rc = cli_fail(&e);
		else
			printf("embedded PostgreSQL running: %s\n", ci.conninfo);
	} else if (strcmp(verb, "stop") == 0) {
		if (cluster_stop(&ci, &e) != 0)
			rc = cli_fail(&e);
		else
			printf("embedded PostgreSQL stopped (%s)\n", ci.pgdata);
	} else {
		int s = cluster_status(&ci, &e);
		static const char *const names[] = {"stopped", "running", "not initialised",
		                                    "missing"};
		if (s >= 0 && s <= 3 && status_json) {
			status_str("cluster", names[s]);
			status_str("pgdata", ci.pgdata);
		}
		if (s < 0)
			rc = cli_fail(&e);
		else if (status_json)
			;
		else if (s == 1)
			printf("running: %s (data in %s)\n", ci.conninfo, ci.pgdata);
		else if (s == 0)
			printf("stopped (data in %s)\n", ci.pgdata);
		else if (s == 2)
			printf("not initialised (would live in %s)\n", ci.pgdata);
		else
			printf(
			    "missing: the data directory %s is gone, though a cluster was created "
			    "there ('dmarcsift db init --force' starts over with an empty one)\n",
			    ci.pgdata);
		if (s == 0 || s == 2)
			rc = EXIT_SOME_FAILED;
		else if (s == 3)
			rc = EXIT_DB;
	}
	cluster_info_free(&ci);
	return rc;
}

static int migrate_cmd(const char *conninfo)
{
	struct err e = {0};
	struct db *db = NULL;
	char **stmts = NULL;
	size_t n = 0;
	int applied = 0, rc = EXIT_OK;
	if (db_connect(&db, conninfo, false, &e) != 0 || migrate_apply(db, &applied, &e) != 0 ||
	    migrate_roles(db, true, &stmts, &n, &e) != 0) {
		rc = cli_fail(&e);
	} else {
		printf("%d migration(s) applied; schema is up to date\n", applied);
		if (n > 0) {
			printf("the reading roles need a DBA: this role may not create or "
			       "grant them.\n");
			print_dba_sql(stdout, stmts, n);
		}
	}
	migrate_sql_free(stmts, n);
	db_close(db);
	return rc;
}

int cmd_db(int argc, char **argv)
{
	bool force = false;
	struct opt_common co;
	int rc;
	if (!opt_parse(&cmd, argc, argv, &force, &co, &rc))
		return rc;
	const char *db_opt = co.db, *verb = co.nargs == 1 ? co.args[0] : NULL;
	if (co.nargs > 1)
		return opt_usage_error(&cmd);
	if (!verb)
		return opt_usage_error(&cmd);
	if (force && strcmp(verb, "init") != 0) {
		fprintf(stderr, "dmarcsift db: --force goes with 'init' only\n");
		return EXIT_USAGE;
	}
	bool lifecycle =
	    strcmp(verb, "start") == 0 || strcmp(verb, "stop") == 0 || strcmp(verb, "init") == 0;
	if (!lifecycle && strcmp(verb, "status") != 0 && strcmp(verb, "url") != 0 &&
	    strcmp(verb, "migrate") != 0) {
		fprintf(stderr, "dmarcsift db: unknown action '%s'\n", verb);
		return opt_usage_error(&cmd);
	}
	if (co.format != ROWS_TEXT && strcmp(verb, "status") != 0) {
		fprintf(stderr, "dmarcsift db: --format is for status\n");
		return EXIT_USAGE;
	}

	/* Which database every other command would use, and from where. */
	struct err e = {0};
	char *conninfo = NULL, *origin = NULL, *shown = NULL;
	enum db_source src;
	rc = EXIT_OK;
	if (cli_db_resolve(db_opt, strcmp(verb, "url") == 0 || strcmp(verb, "migrate") == 0,
	                   &conninfo, &origin, &src, &e) != 0)
		return cli_fail(&e);
	shown = db_conninfo_display(conninfo);
	if (co.format == ROWS_JSON) {
		status_json = json_object_new_object();
		status_str("database", shown);
		status_str("origin", origin);
		json_object_object_add(status_json, "embedded",
		                       json_object_new_boolean(src == DB_SRC_EMBEDDED));
		status_str("cluster", NULL);
		status_str("pgdata", NULL);
		json_object_object_add(status_json, "reachable", json_object_new_boolean(false));
		status_str("error", NULL);
		json_object_object_add(status_json, "pending_migrations", NULL);
		json_object_object_add(status_json, "dba_sql", NULL);
		json_object_object_add(status_json, "up_to_date", json_object_new_boolean(false));
	} else if (src != DB_SRC_EMBEDDED && strcmp(verb, "migrate") != 0 &&
	           strcmp(verb, "url") != 0)
		printf("database: %s (from %s; not the embedded cluster)\n", shown, origin);

	if (strcmp(verb, "url") == 0) {
		/* stdout stays a pastable connection string: psql "$(dmarcsift db url)" */
		printf("%s\n", shown);
		fprintf(stderr, "dmarcsift: database from %s (a password is never shown)\n",
		        origin);
	} else if (src == DB_SRC_EMBEDDED && lifecycle) {
		rc = with_cluster(verb, force);
	} else if (src == DB_SRC_EMBEDDED && strcmp(verb, "status") == 0) {
		rc = with_cluster(verb, false);
		if (rc == EXIT_OK)
			rc = schema_status(conninfo);
	} else if (strcmp(verb, "status") == 0) {
		rc = schema_status(conninfo);
	} else if (strcmp(verb, "stop") == 0) {
		printf("nothing to stop: dmarcsift does not run that server\n");
	} else if (lifecycle) {
		/* start / init: that server is someone else's to run; say whether
		 * it can be reached, never start ours instead. */
		struct db *db = NULL;
		if (db_connect(&db, conninfo, false, &e) != 0) {
			rc = cli_fail(&e);
		} else {
			printf("reachable; nothing to start: dmarcsift does not run that server\n");
			db_close(db);
		}
	} else {
		rc = migrate_cmd(conninfo);
	}
	if (status_json) {
		rows_json_print(stdout, status_json);
		json_object_put(status_json);
		status_json = NULL;
	}
	free(shown);
	free(origin);
	free(conninfo);
	return rc;
}
