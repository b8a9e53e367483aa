/*
 * test_cluster_guard: the embedded cluster never mistakes another server for
 * its own, and never replaces a lost data directory with an empty one.
 *
 * Through the real binary, with a private XDG_DATA_HOME:
 *  - a stale postmaster.pid (and socket lock file) naming the live
 *    postmaster of a second throwaway cluster (scripts/pg-test-server.sh,
 *    the same server account, as after a reboot): `db status` says stopped,
 *    `db stop` leaves the other server running, `db start` recovers;
 *  - the data directory deleted after the cluster was created, with the
 *    server stopped and with it still running: every command refuses with
 *    exit 3 naming the path and `db init --force`, nothing is created, and
 *    `db init --force` makes a new cluster that works.
 */
#define _XOPEN_SOURCE 700
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "core/xalloc.h"
#include "support/mailtest.h"
#include "support/run.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct ctx {
	char *dir;    /* the test's temporary directory */
	char *xdg;    /* XDG_DATA_HOME for the binary */
	char *pgdata; /* the embedded cluster's data directory */
	char *sockdir;
	char *other; /* the second cluster's directory, when started */
};

static int sh(const char *cmd)
{
	int st = system(cmd);
	return st == -1 ? -1 : WEXITSTATUS(st);
}

static int setup(void **state)
{
	struct ctx *c = xcalloc(1, sizeof *c);
	c->dir = mt_tmpdir("cguard");
	c->xdg = xasprintf("%s/xdg", c->dir);
	if (mkdir(c->xdg, 0755) != 0)
		abort();
	c->pgdata = xasprintf("%s/dmarcsift/pg", c->xdg);
	c->sockdir = xasprintf("%s/dmarcsift/run", c->xdg);
	setenv("XDG_DATA_HOME", c->xdg, 1);
	unsetenv("DMARCSIFT_DB");
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;
	const char *stop[] = {"db", "stop", NULL};
	mt_run(stop, NULL);
	if (c->other) {
		char *cmd =
		    xasprintf("%s/../scripts/pg-test-server.sh stop '%s'", TESTS_DIR, c->other);
		sh(cmd);
		free(cmd);
		free(c->other);
	}
	char *rm = xasprintf("rm -rf '%s'", c->dir);
	sh(rm);
	free(rm);
	free(c->dir);
	free(c->xdg);
	free(c->pgdata);
	free(c->sockdir);
	free(c);
	return 0;
}

static int db(const char *verb, const char *arg, char **out)
{
	const char *args[] = {"db", verb, arg, NULL};
	return mt_run(args, out);
}

static int db_ok(const char *verb)
{
	char *out = NULL;
	int rc = db(verb, NULL, &out);
	if (rc != 0)
		fail_msg("db %s: exit %d: %s", verb, rc, out);
	free(out);
	return rc;
}

static long pid_of(const char *pidfile)
{
	char *text = slurp(pidfile, NULL);
	long pid = strtol(text, NULL, 10);
	free(text);
	return pid;
}

/* Writes a lock file as PostgreSQL does, naming `pid`, owned like `dir`. */
static void write_lock(const char *path, long pid, const char *datadir, const char *dir)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "%ld\n%s\n%ld\n5432\n%s\n\n  5432001   1\nready   \n", pid, datadir,
	        (long)time(NULL), dir);
	assert_int_equal(fclose(f), 0);
	struct stat st;
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(chown(path, st.st_uid, st.st_gid), 0);
	assert_int_equal(chmod(path, 0600), 0);
}

static void test_stale_pidfile_names_another_server(void **state)
{
	struct ctx *c = *state;
	db_ok("start");
	db_ok("stop");

	/* A second cluster of the same server account, running. */
	c->other = xasprintf("%s/other", c->dir);
	char *cmd = xasprintf("%s/../scripts/pg-test-server.sh start '%s'", TESTS_DIR, c->other);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	char conn[512] = "";
	if (!fgets(conn, sizeof conn, p))
		conn[0] = '\0';
	assert_int_equal(pclose(p), 0);
	conn[strcspn(conn, "\n")] = '\0';
	free(cmd);
	char *other_pidfile = xasprintf("%s/data/postmaster.pid", c->other);
	long other = pid_of(other_pidfile);
	assert_true(other > 1);
	assert_int_equal(q_int(conn, "SELECT 1", 0, NULL), 1);

	/* Our cluster's lock files name it, as after a reboot. */
	char *pidfile = xasprintf("%s/postmaster.pid", c->pgdata);
	char *socklock = xasprintf("%s/.s.PGSQL.5432.lock", c->sockdir);
	write_lock(pidfile, other, c->pgdata, c->pgdata);
	write_lock(socklock, other, c->pgdata, c->sockdir);

	char *out = NULL;
	assert_int_equal(db("status", NULL, &out), 1);
	assert_null(strstr(out, "running"));
	assert_non_null(strstr(out, "stopped (data in"));
	free(out);

	assert_int_equal(db("stop", NULL, &out), 0);
	free(out);
	struct timespec ts = {0, 300 * 1000 * 1000};
	nanosleep(&ts, NULL);
	assert_int_equal(kill((pid_t)other, 0), 0);
	assert_int_equal(pid_of(other_pidfile), other);
	assert_int_equal(q_int(conn, "SELECT 1", 0, NULL), 1);

	/* Start recovers: the stale files go, our own server runs. */
	db_ok("start");
	assert_true(pid_of(pidfile) != other);
	db("status", NULL, &out); /* its exit code also says whether migrations are pending */
	assert_non_null(strstr(out, "running: "));
	free(out);
	char *url = NULL;
	assert_int_equal(run_bin((const char *[]){"db", "url", NULL}, NULL, &url), 0); /* stdout */
	url[strcspn(url, "\n")] = '\0';
	assert_int_equal(q_int(url, "SELECT 1", 0, NULL), 1);
	free(url);
	db_ok("stop");
	assert_int_equal(q_int(conn, "SELECT 1", 0, NULL), 1);

	free(pidfile);
	free(socklock);
	free(other_pidfile);
}

/* Every use of the cluster refuses, names the path and the way out, and
 * creates nothing. */
static void assert_refused(struct ctx *c)
{
	char *out = NULL;
	const char *ingest[] = {"ingest", FIXTURES_DIR "/archives/report-plain.xml", NULL};
	const char *const *cmds[] = {ingest, (const char *[]){"db", "start", NULL},
	                             (const char *[]){"db", "url", NULL},
	                             (const char *[]){"db", "init", NULL}};
	for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
		int rc = mt_run(cmds[i], &out);
		if (rc != 3)
			fail_msg("%s %s: exit %d, want 3: %s", cmds[i][0], cmds[i][1], rc, out);
		assert_non_null(strstr(out, c->pgdata));
		assert_non_null(strstr(out, "is missing"));
		assert_non_null(strstr(out, "dmarcsift db init --force"));
		free(out);
		assert_int_equal(access(c->pgdata, F_OK), -1);
	}
	assert_int_equal(db("status", NULL, &out), 3);
	assert_non_null(strstr(out, "missing"));
	assert_null(strstr(out, "running"));
	free(out);
}

static void assert_recreated(struct ctx *c)
{
	char *out = NULL;
	assert_int_equal(db("init", "--force", &out), 0);
	free(out);
	char *version = xasprintf("%s/PG_VERSION", c->pgdata);
	assert_int_equal(access(version, F_OK), 0);
	free(version);
	db("status", NULL, &out); /* its exit code also says whether migrations are pending */
	assert_non_null(strstr(out, "running: "));
	free(out);
	const char *ingest[] = {"ingest", FIXTURES_DIR "/archives/report-plain.xml", NULL};
	assert_int_equal(mt_run(ingest, NULL), 0);
	/* --force never touches a cluster that is there. */
	assert_int_equal(db("init", "--force", &out), 0);
	free(out);
	char *url = NULL;
	assert_int_equal(run_bin((const char *[]){"db", "url", NULL}, NULL, &url), 0); /* stdout */
	url[strcspn(url, "\n")] = '\0';
	assert_int_equal(q_int(url, "SELECT count(*) FROM dmarcsift.reports", 0, NULL), 1);
	free(url);
}

static void test_missing_datadir_refused(void **state)
{
	struct ctx *c = *state;
	/* First use creates it, as before. */
	db_ok("start");
	db_ok("stop");
	char *rm = xasprintf("rm -rf '%s'", c->pgdata);
	assert_int_equal(sh(rm), 0);
	free(rm);
	assert_refused(c);
	assert_recreated(c);
}

static void test_datadir_removed_under_running_server(void **state)
{
	struct ctx *c = *state;
	db_ok("start");
	char *pidfile = xasprintf("%s/postmaster.pid", c->pgdata);
	long old = pid_of(pidfile);
	/* The server may still write while it is removed: try again. */
	char *rm = xasprintf("rm -rf '%s' 2>/dev/null || rm -rf '%s'", c->pgdata, c->pgdata);
	assert_int_equal(sh(rm), 0);
	free(rm);
	assert_refused(c);
	assert_recreated(c);
	assert_true(pid_of(pidfile) != old);
	free(pidfile);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_stale_pidfile_names_another_server, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_missing_datadir_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_datadir_removed_under_running_server, setup,
	                                    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
