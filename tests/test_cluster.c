/*
 * test_cluster: the private PostgreSQL cluster, for real: initdb, start,
 * connect and migrate, stop, in a temporary XDG_DATA_HOME. When run as root
 * the server runs as `postgres`, so the directory is made reachable (755).
 */
#define _XOPEN_SOURCE 700
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "core/xalloc.h"
#include "db/cluster.h"
#include "db/db.h"
#include "db/migrate.h"

#include <ftw.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void test_cluster_lifecycle(void **state)
{
	(void)state;
	struct cluster_info ci;
	struct err e = {0};
	char dir[] = "/tmp/dmarcsift-cluster-XXXXXX";

	assert_non_null(mkdtemp(dir));
	assert_int_equal(chmod(dir, 0755), 0);
	setenv("XDG_DATA_HOME", dir, 1);
	unsetenv("DMARCSIFT_DB");

	assert_int_equal(cluster_info_get(&ci, &e), 0);
	char *base = xasprintf("%s/dmarcsift", dir);
	assert_string_equal(ci.base, base);
	char *pgdata = xasprintf("%s/pg", base);
	assert_string_equal(ci.pgdata, pgdata);
	char *want_conn =
	    xasprintf("host='%s/run' port=5432 dbname=dmarcsift user=dmarcsift", base);
	assert_string_equal(ci.conninfo, want_conn);
	if (geteuid() == 0)
		assert_string_equal(ci.run_as, "postgres");
	else
		assert_null(ci.run_as);

	assert_int_equal(cluster_status(&ci, &e), 2); /* not initialised */
	if (cluster_start(&ci, &e) != 0)
		fail_msg("cluster_start: %s", e.msg);
	assert_int_equal(cluster_status(&ci, &e), 1);
	if (geteuid() == 0) {
		struct stat st;
		struct passwd *pw = getpwnam("postgres");
		assert_int_equal(stat(ci.pgdata, &st), 0);
		assert_int_equal(st.st_uid, pw->pw_uid);
	}
	/* Starting a running cluster is harmless. */
	assert_int_equal(cluster_start(&ci, &e), 0);
	assert_int_equal(cluster_status(&ci, &e), 1);

	/* Connect and migrate through the connection string it gives. */
	struct db *db = NULL;
	if (db_connect(&db, ci.conninfo, true, &e) != 0)
		fail_msg("db_connect: %s", e.msg);
	PGresult *res = db_query(db, "SELECT count(*) FROM dmarcsift.schema_migrations", 0, NULL);
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	int n = 0;
	for (const struct migration *m = migrate_embedded; m->name; m++)
		n++;
	assert_int_equal(strtol(PQgetvalue(res, 0, 0), NULL, 10), n);
	PQclear(res);
	res = db_query(db, "SELECT current_user || '@' || current_database()", 0, NULL);
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	assert_string_equal(PQgetvalue(res, 0, 0), "dmarcsift@dmarcsift");
	PQclear(res);
	db_close(db);

	/* Resolution order: --db, then DMARCSIFT_DB, then the embedded one. */
	char *got = NULL;
	assert_int_equal(
	    cluster_resolve("host=/elsewhere dbname=x", "dbname=cfg", true, &got, NULL, &e), 0);
	assert_string_equal(got, "host=/elsewhere dbname=x");
	free(got);
	setenv("DMARCSIFT_DB", "postgresql:///fromenv", 1);
	assert_int_equal(cluster_resolve(NULL, NULL, true, &got, NULL, &e), 0);
	assert_string_equal(got, "postgresql:///fromenv");
	free(got);
	unsetenv("DMARCSIFT_DB");
	assert_int_equal(cluster_resolve(NULL, NULL, true, &got, NULL, &e), 0);
	assert_string_equal(got, ci.conninfo);
	free(got);

	assert_int_equal(cluster_stop(&ci, &e), 0);
	assert_int_equal(cluster_status(&ci, &e), 0);
	assert_int_equal(cluster_stop(&ci, &e), 0); /* stopping twice too */
	/* Gone: a connection now fails as unreachable. */
	assert_int_equal(db_connect(&db, ci.conninfo, false, &e), -1);
	assert_int_equal(e.kind, ERR_RETRY);
	assert_true(strncmp(e.msg, "database unreachable: ", 22) == 0);
	err_clear(&e);

	/* And comes back with its data. */
	assert_int_equal(cluster_resolve(NULL, NULL, true, &got, NULL, &e), 0);
	free(got);
	assert_int_equal(cluster_status(&ci, &e), 1);
	assert_int_equal(cluster_stop(&ci, &e), 0);

	cluster_info_free(&ci);
	free(base);
	free(pgdata);
	free(want_conn);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void test_unsafe_directory_refused(void **state)
{
	(void)state;
	struct cluster_info ci;
	struct err e = {0};

	/* A path pg_ctl would hand to its shell unquoted: refused, not run. */
	setenv("XDG_DATA_HOME", "/tmp/it's $(touch pwned)", 1);
	assert_int_equal(cluster_info_get(&ci, &e), 0);
	assert_int_equal(cluster_start(&ci, &e), -1);
	assert_int_equal(e.kind, ERR_CONFIG);
	assert_non_null(strstr(e.msg, "characters"));
	cluster_info_free(&ci);
}

static void test_root_moves_unreachable_home(void **state)
{
	(void)state;
	struct cluster_info ci;
	struct err e = {0};
	char dir[] = "/tmp/dmarcsift-private-XXXXXX";

	assert_non_null(mkdtemp(dir)); /* 0700: the postgres account cannot enter */
	setenv("XDG_DATA_HOME", dir, 1);
	assert_int_equal(cluster_info_get(&ci, &e), 0);
	char *mine = xasprintf("%s/dmarcsift", dir);
	if (geteuid() == 0)
		assert_string_equal(ci.base, "/var/lib/dmarcsift");
	else
		assert_string_equal(ci.base, mine);
	free(mine);
	cluster_info_free(&ci);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cluster_lifecycle),
	    cmocka_unit_test(test_unsafe_directory_refused),
	    cmocka_unit_test(test_root_moves_unreachable_home),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
