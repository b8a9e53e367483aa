/*
 * test_db_lost: the database goes away in the middle of an ingest, 50 times,
 * at a different input each time and in four ways — the run's backends
 * terminated (the server says why; an ingest has two connections, its
 * batches take turns on them), one killed with SIGKILL (the socket just
 * closes, and the server restarts every backend), and the whole
 * server stopped immediately or fast: every run
 * that had not finished exits 3 (the systemd unit retries 3 and treats 1 as
 * done), nothing is ever quarantined because of it, and a final run after
 * the last restart stores every report. A throwaway server of its own, as
 * scripts/pg-test-server.sh starts it (as `postgres` when we are root).
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdbool.h>

#include "support/mailtest.h"
#include "support/run.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TRIES   50
#define REPORTS 40
#define RECORDS 50
#define PADDING (1 << 19)

static char dir[64];
static char conninfo[256];
static char bindir[256];

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Runs argv (as postgres when we are root), output to `out` or /dev/null;
 * returns the exit status. */
static int run_cmd(const char *const *argv, const char *out)
{
	char *args[24];
	size_t n = 0;
	if (geteuid() == 0) {
		args[n++] = strdup("runuser");
		args[n++] = strdup("-u");
		args[n++] = strdup("postgres");
		args[n++] = strdup("--");
	}
	for (size_t i = 0; argv[i] && n < 23; i++)
		args[n++] = strdup(argv[i]);
	args[n] = NULL;
	fflush(stdout);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(out ? out : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int in = open("/dev/null", O_RDONLY);
		if (fd < 0 || in < 0)
			_exit(126);
		dup2(in, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		execvp(args[0], args);
		_exit(127);
	}
	for (size_t i = 0; i < n; i++)
		free(args[i]);
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static void server_stop(const char *mode)
{
	char data[128], pg_ctl[300];
	snprintf(data, sizeof data, "%s/data", dir);
	snprintf(pg_ctl, sizeof pg_ctl, "%s/pg_ctl", bindir);
	const char *argv[] = {pg_ctl, "-D", data, "-m", mode, "-w", "stop", NULL};
	assert_int_equal(run_cmd(argv, NULL), 0);
}

static void server_start(void)
{
	char data[128], log[128], opts[256], pg_ctl[300];
	snprintf(data, sizeof data, "%s/data", dir);
	snprintf(log, sizeof log, "%s/server.log", dir);
	snprintf(pg_ctl, sizeof pg_ctl, "%s/pg_ctl", bindir);
	snprintf(opts, sizeof opts,
	         "-c listen_addresses='' -c unix_socket_directories='%s' -c fsync=off", dir);
	const char *argv[] = {pg_ctl, "-D", data, "-l", log,     "-w",
	                      "-t",   "60", "-o", opts, "start", NULL};
	assert_int_equal(run_cmd(argv, NULL), 0);
}

static int setup(void **state)
{
	(void)state;
	glob_t g;
	if (glob("/usr/lib/postgresql/*/bin/pg_ctl", 0, NULL, &g) != 0)
		return -1;
	snprintf(bindir, sizeof bindir, "%s", g.gl_pathv[g.gl_pathc - 1]);
	globfree(&g);
	*strrchr(bindir, '/') = '\0';
	snprintf(dir, sizeof dir, "/tmp/ds-lost-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	chmod(dir, 0755);
	/* The same script the suite uses: initdb and start. */
	char script[512], out[128];
	snprintf(script, sizeof script, "%s/../scripts/pg-test-server.sh", FIXTURES_DIR);
	snprintf(out, sizeof out, "%s.conninfo", dir);
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0)
			_exit(126);
		dup2(fd, 1);
		execl(script, script, "start", dir, (char *)NULL);
		_exit(127);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return -1;
	char *text = slurp(out, NULL);
	unlink(out);
	text[strcspn(text, "\n")] = '\0';
	snprintf(conninfo, sizeof conninfo, "%s", text);
	free(text);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char script[512];
	snprintf(script, sizeof script, "%s/../scripts/pg-test-server.sh", FIXTURES_DIR);
	pid_t pid = fork();
	if (pid == 0) {
		execl(script, script, "stop", dir, (char *)NULL);
		_exit(127);
	}
	waitpid(pid, NULL, 0);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return 0;
}

static void write_reports(const char *d)
{
	for (int r = 0; r < REPORTS; r++) {
		char path[192];
		snprintf(path, sizeof path, "%s/r%02d.xml", d, r);
		FILE *f = fopen(path, "w");
		assert_non_null(f);
		fprintf(f,
		        "<?xml version=\"1.0\"?>\n<feedback><report_metadata><org_name>example.net"
		        "</org_name><email>r@example.net</email><report_id>lost-%d</report_id>"
		        "<date_range><begin>1700000000</begin><end>1700086399</end></date_range>"
		        "</report_metadata><policy_published><domain>lost.example</domain><p>none"
		        "</p></policy_published>\n",
		        r);
		for (int i = 1; i <= RECORDS; i++)
			fprintf(
			    f,
			    "<record><row><source_ip>192.0.2.%d</source_ip><count>%d</count>"
			    "<policy_evaluated><disposition>none</disposition><dkim>pass</dkim>"
			    "<spf>pass</spf></policy_evaluated></row><identifiers><header_from>"
			    "lost.example</header_from></identifiers><auth_results><spf><domain>"
			    "lost.example</domain><result>pass</result></spf></auth_results>"
			    "</record>\n",
			    i % 250 + 1, i);
		/* Bytes that do not compress, so storing the raw input is a long
		 * write the server can vanish in the middle of. */
		fputs("<!-- ", f);
		for (int i = 0; i < PADDING; i++)
			fputc("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
			          [rand() % 64],
			      f);
		fputs(" -->\n</feedback>\n", f);
		fclose(f);
	}
}

/* Waits at most `secs` for the ingest; kills it and fails beyond. */
static int wait_bounded(pid_t pid, double secs)
{
	double end = now() + secs;
	int st = 0;
	while (waitpid(pid, &st, WNOHANG) != pid) {
		if (now() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			fail_msg("ingest still running %.0f s after the database stopped", secs);
		}
		usleep(10000);
	}
	return WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
}

/* Waits (at most 60 s) until the run has kept k raw inputs; returns the
 * pid of the run's backend. */
static long wait_raw(int k)
{
	PGconn *c = PQconnectdb(conninfo);
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	double end = now() + 60;
	long pid = -1;
	for (;;) {
		PGresult *res = PQexec(c, "SELECT (SELECT count(*) FROM dmarcsift.raw_messages),"
		                          " (SELECT max(pid) FROM pg_stat_activity WHERE"
		                          " application_name = 'dmarcsift')");
		long n = -1;
		if (PQresultStatus(res) == PGRES_TUPLES_OK) {
			n = strtol(PQgetvalue(res, 0, 0), NULL, 10);
			pid = PQgetisnull(res, 0, 1) ? -1 : strtol(PQgetvalue(res, 0, 1), NULL, 10);
		}
		PQclear(res);
		if (n >= k && pid > 0)
			break;
		if (now() > end)
			fail_msg("the run kept %ld inputs in 60 s, waiting for %d", n, k);
		usleep(2000);
	}
	PQfinish(c);
	return pid;
}

/* After a backend was killed the server restarts them all: waits for it. */
static void wait_ready(void)
{
	double end = now() + 60;
	for (;;) {
		PGconn *c = PQconnectdb(conninfo);
		bool ok = PQstatus(c) == CONNECTION_OK;
		if (ok) {
			PGresult *res = PQexec(c, "SELECT 1");
			ok = PQresultStatus(res) == PGRES_TUPLES_OK;
			PQclear(res);
		}
		PQfinish(c);
		if (ok)
			return;
		if (now() > end)
			fail_msg("the server did not come back in 60 s");
		usleep(20000);
	}
}

/* Tried in turn: ten tries cover each way twice or more. */
static const char *const modes[] = {"terminate", "SIGKILL",  "stop -m immediate", "terminate",
                                    "SIGKILL",   "SIGKILL",  "stop -m fast",      "terminate",
                                    "SIGKILL",   "terminate"};

static void lose_database(int mode, long backend)
{
	const char *m = modes[mode];
	if (strcmp(m, "terminate") == 0) {
		/* Every backend of the run (they may be gone already when the
		 * run ended first). */
		q_int(conninfo,
		      "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity"
		      " WHERE application_name = 'dmarcsift'",
		      0, NULL);
	} else if (strcmp(m, "SIGKILL") == 0) {
		kill((pid_t)backend, SIGKILL);
		/* The server notices the dead backend a moment later and only
		 * then restarts: a connection made before that proves nothing. */
		usleep(500000);
		wait_ready();
	} else {
		server_stop(strcmp(m, "stop -m fast") == 0 ? "fast" : "immediate");
		server_start();
	}
}

static void test_database_stopped_mid_input(void **state)
{
	(void)state;
	char in[128], out[128];
	snprintf(in, sizeof in, "%s/in", dir);
	snprintf(out, sizeof out, "%s/ingest.out", dir);
	assert_int_equal(mkdir(in, 0755), 0);
	write_reports(in);
	const char *args[] = {"ingest", "--db", conninfo, "--quiet", in, NULL};
	/* Once to create the schema. */
	assert_int_equal(mt_wait(mt_spawn(args, out)), 0);
	const char *reset = "TRUNCATE dmarcsift.raw_messages, dmarcsift.reports,"
	                    " dmarcsift.records, dmarcsift.failures CASCADE";
	const char *failures = "SELECT count(*) FROM dmarcsift.failures";

	int exit3 = 0, finished = 0;
	for (int i = 0; i < TRIES; i++) {
		PGconn *c = PQconnectdb(conninfo);
		assert_int_equal(PQstatus(c), CONNECTION_OK);
		PQclear(PQexec(c, reset));
		PQfinish(c);

		pid_t pid = mt_spawn(args, out);
		/* Stopped once the run has kept k raw inputs: inside the run
		 * by construction, at a different input each try and at
		 * whatever step of it the run is in by then. */
		int k = 1 + (i * 7) % (REPORTS - 10);
		int mode = i % 10;
		long backend = wait_raw(k);
		lose_database(mode, backend);
		int rc = wait_bounded(pid, 60);
		if (rc != 3 && rc != 0) {
			char *text = slurp(out, NULL);
			fail_msg("try %d (%s at input %d): exit %d, not 3:\n%s", i, modes[mode], k,
			         rc, text);
		}
		exit3 += rc == 3;
		finished += rc == 0;
		wait_ready();
		assert_int_equal(q_int(conninfo, failures, 0, NULL), 0);
	}
	print_message("%d tries: %d exit 3, %d finished before the stop\n", TRIES, exit3, finished);
	assert_true(exit3 >= TRIES * 9 / 10);

	/* And the run after the last stop stores everything. */
	assert_int_equal(mt_wait(mt_spawn(args, out)), 0);
	assert_int_equal(q_int(conninfo, "SELECT count(*) FROM dmarcsift.reports", 0, NULL),
	                 REPORTS);
	assert_int_equal(q_int(conninfo, "SELECT count(*) FROM dmarcsift.records", 0, NULL),
	                 REPORTS * RECORDS);
	assert_int_equal(q_int(conninfo, failures, 0, NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_database_stopped_mid_input),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
