/*
 * test_failures_cli: the quarantine as an operator handles it, through the
 * real binary and a real PostgreSQL — `failures` prints whole SHA-256s,
 * `reprocess` takes any unique prefix of 8+ digits, and `failures dismiss`
 * closes entries that will never parse while keeping their raw bytes, by
 * SHA-256 or by age, without reopening them when the same bytes come back.
 * Also the one duration parser behind --older-than and [blocklists] every.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "core/duration.h"
#include "support/mailtest.h"
#include "support/run.h"
#include "support/testdb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct ctx {
	char *db;
	char *dir;
	char *bad1, *bad2; /* two inputs that never parse */
};

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof *c);
	assert_non_null(c);
	if (testdb_create(&c->db) != 0)
		return -1;
	c->dir = mt_tmpdir("ds-failures");
	c->bad1 = mt_write_file(c->dir, "truncated.xml",
	                        "<?xml version=\"1.0\"?>\n<feedback><report_metadata><org_name>"
	                        "x</org_name>");
	c->bad2 = mt_write_file(c->dir, "not-a-report.txt", "hello, this is not a report\n");
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;
	char cmd[256];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", c->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", c->dir);
	testdb_drop(c->db);
	free(c->db);
	free(c->dir);
	free(c->bad1);
	free(c->bad2);
	free(c);
	return 0;
}

static int64_t count(struct ctx *c, const char *sql)
{
	return q_int(c->db, sql, 0, NULL);
}

static char *sha_of(struct ctx *c, const char *path)
{
	const char *p[1] = {path};
	return q_str(c->db, "SELECT sha256 FROM dmarcsift.v_failures WHERE source = $1", 1, p);
}

static void test_duration(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		long long want;
	} cases[] = {
	    {"90", 90},         {"90s", 90},     {"30m", 1800},     {"6h", 21600},
	    {"400d", 34560000}, {"2w", 1209600}, {"0", -1},         {"-5d", -1},
	    {"", -1},           {"d", -1},       {"5x", -1},        {"5 d", -1},
	    {"1.5h", -1},       {"401d", -1},    {"57w", 34473600}, {"99999999999999999999", -1},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		if (duration_parse(cases[i].in, 400LL * 86400) != cases[i].want)
			fail_msg("duration_parse('%s') = %lld, want %lld", cases[i].in,
			         duration_parse(cases[i].in, 400LL * 86400), cases[i].want);
	assert_int_equal(duration_parse(NULL, 100), -1);
	/* "500ms" is no span in seconds; in milliseconds every unit is */
	assert_int_equal(duration_parse("500ms", 400LL * 86400), -1);
	static const struct {
		const char *in;
		long long want;
	} ms[] = {{"500ms", 500},  {"2", 2000},      {"2s", 2000},  {"5m", 300000},
	          {"1h", 3600000}, {"1d", 86400000}, {"2d", -1},    {"0ms", -1},
	          {"ms", -1},      {"1.5s", -1},     {"10 ms", -1}, {"-1s", -1}};
	for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++)
		if (duration_parse_ms(ms[i].in, 86400000LL) != ms[i].want)
			fail_msg("duration_parse_ms('%s') = %lld, want %lld", ms[i].in,
			         duration_parse_ms(ms[i].in, 86400000LL), ms[i].want);
}

static void test_whole_sha_and_prefix(void **state)
{
	struct ctx *c = *state;
	const char *in[] = {"ingest", "--db", c->db, "--no-correlate", c->bad1, c->bad2, NULL};
	assert_int_equal(run_bin(in, NULL, NULL), 1);
	assert_int_equal(count(c, "SELECT count(*) FROM dmarcsift.v_failures"), 2);
	char *sha1 = sha_of(c, c->bad1);
	assert_int_equal(strlen(sha1), 64);

	/* The list prints the whole SHA-256: what reprocess and dismiss take. */
	char *out = NULL;
	const char *ls[] = {"failures", "--db", c->db, NULL};
	assert_int_equal(run_bin(ls, NULL, &out), 0);
	char line[80];
	snprintf(line, sizeof line, "sha256 %s\n", sha1);
	if (!strstr(out, line))
		fail_msg("'failures' does not print the whole SHA-256 %s:\n%s", sha1, out);
	free(out);

	/* A prefix of 8 digits names the input: it is retried (and fails again). */
	char prefix[9];
	memcpy(prefix, sha1, 8);
	prefix[8] = '\0';
	const char *rp[] = {"reprocess", "--db", c->db, prefix, NULL};
	assert_int_equal(run_bin(rp, NULL, NULL), 1);
	const char *p[1] = {sha1};
	assert_int_equal(
	    q_int(c->db, "SELECT attempts FROM dmarcsift.v_failures WHERE sha256 = $1", 1, p), 2);

	/* Too short, not hex, unknown, ambiguous: a usage error naming the problem. */
	assert_int_equal(count(c,
	                       "WITH i AS (INSERT INTO dmarcsift.raw_messages (sha256, size, data)"
	                       " VALUES (rpad('0badcafe1', 64, '1'), 1, '\\x00'),"
	                       " (rpad('0badcafe2', 64, '2'), 1, '\\x00') RETURNING 1)"
	                       " SELECT count(*) FROM i"),
	                 2);
	static const struct {
		const char *arg, *says;
	} bad[] = {
	    {"0badcaf", "not a SHA-256 or a prefix"},
	    {"0badcafeZ", "not a SHA-256 or a prefix"},
	    {"0BADCAFE", "not a SHA-256 or a prefix"},
	    {"ffffffffffff", "no stored input has a SHA-256 starting with ffffffffffff"},
	    {"0badcafe", "0badcafe is ambiguous"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		const char *a[] = {"reprocess", "--db", c->db, bad[i].arg, NULL};
		char *o = NULL;
		assert_int_equal(mt_run(a, &o), 2);
		if (!strstr(o, bad[i].says))
			fail_msg("reprocess %s: wanted '%s' in:\n%s", bad[i].arg, bad[i].says, o);
		free(o);
	}
	/* A longer prefix that is unique names it (stored, but never failed). */
	const char *ok[] = {"failures", "dismiss", "--db", c->db, "--dry-run", "0badcafe2", NULL};
	assert_int_equal(run_bin(ok, NULL, &out), 0);
	if (!strstr(out, "0badcafe22222222222222222222222222222222222222222222222222222222: no "
	                 "open failure"))
		fail_msg("dismiss 0badcafe2: wanted the whole SHA-256 named in:\n%s", out);
	free(out);
	free(sha1);
}

static void test_dismiss(void **state)
{
	struct ctx *c = *state;
	const char *in[] = {"ingest", "--db", c->db, "--no-correlate", c->bad1, c->bad2, NULL};
	assert_int_equal(run_bin(in, NULL, NULL), 1);
	char *sha1 = sha_of(c, c->bad1), *sha2 = sha_of(c, c->bad2);
	char prefix[13];
	memcpy(prefix, sha1, 12);
	prefix[12] = '\0';

	/* A dry run says what it would close, and closes nothing. */
	char *out = NULL;
	const char *dry[] = {"failures", "dismiss", "--db", c->db, "--dry-run", prefix, NULL};
	assert_int_equal(run_bin(dry, NULL, &out), 0);
	char want[100];
	snprintf(want, sizeof want, "would dismiss %s\n", sha1);
	if (!strstr(out, want))
		fail_msg("dry run: wanted '%s' in:\n%s", want, out);
	free(out);
	assert_int_equal(count(c, "SELECT count(*) FROM dmarcsift.v_failures"), 2);

	/* Dismissed: gone from the open list, raw bytes kept and marked. */
	const char *dis[] = {"failures", "dismiss", "--db", c->db, prefix, NULL};
	assert_int_equal(run_bin(dis, NULL, &out), 0);
	assert_non_null(strstr(out, "1 failure(s) dismissed"));
	free(out);
	const char *p1[1] = {sha1};
	assert_int_equal(
	    q_int(c->db, "SELECT count(*) FROM dmarcsift.v_failures WHERE sha256 = $1", 1, p1), 0);
	assert_int_equal(
	    q_int(c->db, "SELECT count(*) FROM dmarcsift.v_failures_dismissed WHERE sha256 = $1", 1,
	          p1),
	    1);
	char *st =
	    q_str(c->db, "SELECT status FROM dmarcsift.raw_messages WHERE sha256 = $1", 1, p1);
	assert_string_equal(st, "dismissed");
	free(st);
	assert_int_equal(q_int(c->db,
	                       "SELECT count(*) FROM dmarcsift.raw_messages WHERE sha256 = $1"
	                       " AND length(data) > 0",
	                       1, p1),
	                 1);

	/* The same bytes again: not quarantined again. */
	const char *again[] = {"ingest", "--db", c->db, "--no-correlate", c->bad1, NULL};
	run_bin(again, NULL, NULL);
	assert_int_equal(
	    q_int(c->db, "SELECT count(*) FROM dmarcsift.v_failures WHERE sha256 = $1", 1, p1), 0);
	st = q_str(c->db, "SELECT status FROM dmarcsift.raw_messages WHERE sha256 = $1", 1, p1);
	assert_string_equal(st, "dismissed");
	free(st);
	/* Dismissing it twice says so and closes nothing. */
	assert_int_equal(run_bin(dis, NULL, &out), 0);
	assert_non_null(strstr(out, "no open failure"));
	assert_non_null(strstr(out, "0 failure(s) dismissed"));
	free(out);

	/* By age: nothing is older than a day, until the other entry is. */
	const char *old[] = {"failures", "dismiss", "--db", c->db, "--older-than", "1d", NULL};
	assert_int_equal(run_bin(old, NULL, &out), 0);
	assert_non_null(strstr(out, "0 failure(s) dismissed"));
	free(out);
	const char *p2[1] = {sha2};
	assert_int_equal(q_int(c->db,
	                       "WITH u AS (UPDATE dmarcsift.failures SET received_at = now() -"
	                       " interval '2 days' WHERE sha256 = $1 RETURNING 1)"
	                       " SELECT count(*) FROM u",
	                       1, p2),
	                 1);
	assert_int_equal(run_bin(old, NULL, &out), 0);
	snprintf(want, sizeof want, "dismissed %s\n", sha2);
	if (!strstr(out, want))
		fail_msg("--older-than 1d: wanted '%s' in:\n%s", want, out);
	free(out);
	assert_int_equal(count(c, "SELECT count(*) FROM dmarcsift.v_failures"), 0);
	assert_int_equal(count(c, "SELECT count(*) FROM dmarcsift.v_failures_dismissed"), 2);

	/* reprocess still reads dismissed bytes. */
	const char *rp[] = {"reprocess", "--db", c->db, sha2, NULL};
	assert_int_equal(run_bin(rp, NULL, NULL), 1);
	assert_int_equal(count(c, "SELECT count(*) FROM dmarcsift.v_failures"), 0);

	/* Usage mistakes. */
	const char *const *usage[] = {
	    (const char *[]){"failures", "dismiss", "--db", c->db, NULL},
	    (const char *[]){"failures", "dismiss", "--db", c->db, "--older-than", "1d", sha1,
	                     NULL},
	    (const char *[]){"failures", "dismiss", "--db", c->db, "--older-than", "5x", NULL},
	    (const char *[]){"failures", "dismiss", "--db", c->db, "--bogus", NULL},
	};
	for (size_t i = 0; i < sizeof usage / sizeof usage[0]; i++)
		assert_int_equal(run_bin(usage[i], NULL, NULL), 2);
	const char *help[] = {"failures", "dismiss", "--help", NULL};
	assert_int_equal(run_bin(help, NULL, &out), 0);
	assert_non_null(strstr(out, "--older-than DURATION"));
	free(out);
	free(sha1);
	free(sha2);
}

/* Runs the binary with standard output thrown away, as a cron job often
 * does, and returns the exit code; *err gets standard error. */
static int run_cron(const char *args, char **err)
{
	char path[] = "/tmp/ds-quiet-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	char cmd[1024];
	snprintf(cmd, sizeof cmd, "'%s' %s >/dev/null 2>'%s'", DMARCSIFT_BIN, args, path);
	int st = system(cmd);
	*err = slurp(path, NULL);
	unlink(path);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_quiet_still_says_it_failed(void **state)
{
	struct ctx *c = *state;
	char args[512], *err = NULL;
	/* Quarantined input: one line, with the count, instead of the warning. */
	snprintf(args, sizeof args, "ingest --quiet --no-correlate --db '%s' '%s'", c->db, c->bad1);
	assert_int_equal(run_cron(args, &err), 1);
	if (strcmp(err, "dmarcsift ingest: 1 input(s) quarantined, 0 path(s) unreadable (see "
	                "'dmarcsift failures')\n") != 0)
		fail_msg("want one line on stderr, got:\n%s", err);
	free(err);
	/* A path that is not there is named, and counted in the last line. */
	snprintf(args, sizeof args, "ingest --quiet --no-correlate --db '%s' /nonexistent/x",
	         c->db);
	assert_int_equal(run_cron(args, &err), 1);
	if (!strstr(err, "/nonexistent/x: No such file or directory\n"
	                 "dmarcsift ingest: 0 input(s) quarantined, 1 path(s) unreadable"))
		fail_msg("want the path and the count on stderr, got:\n%s", err);
	free(err);
	/* A database that is not there: the error line, and nothing repeated. */
	snprintf(args, sizeof args,
	         "ingest --quiet --db 'host=/nonexistent-dir dbname=x connect_timeout=2' '%s'",
	         c->bad1);
	assert_int_equal(run_cron(args, &err), 3);
	if (mt_count(err, "\n") != 1 || !strstr(err, "dmarcsift: error: "))
		fail_msg("want one error line on stderr, got:\n%s", err);
	free(err);
	/* Without --quiet nothing changes: the summary is on stdout. */
	snprintf(args, sizeof args, "ingest --no-correlate --db '%s' '%s'", c->db, c->bad1);
	assert_int_equal(run_cron(args, &err), 1);
	assert_null(strstr(err, "path(s) unreadable"));
	free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_duration),
	    cmocka_unit_test_setup_teardown(test_whole_sha_and_prefix, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dismiss, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_quiet_still_says_it_failed, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
