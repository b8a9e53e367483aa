/*
 * test_reliability: faults an unlucky operator meets, through the real binary
 * and a real PostgreSQL — a truncated copy of a report before the whole one,
 * conflicting copies, a file truncated while it is read, symlink loops in a
 * directory walk, a malformed connection string holding a password.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "support/clifx.h"
#include "support/mailtest.h"
#include "support/run.h"
#include "support/testdb.h"

#include <json-c/json.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* A report of n records (counts 1..n); `id` makes it unique. */
static void write_report(const char *path, const char *id, long n)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f,
	        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feedback>\n<version>1.0</version>\n"
	        "<report_metadata><org_name>example.net</org_name><email>r@example.net</email>"
	        "<report_id>%s</report_id><date_range><begin>1700000000</begin>"
	        "<end>1700086399</end></date_range></report_metadata>\n"
	        "<policy_published><domain>rel.example</domain><adkim>r</adkim><aspf>r</aspf>"
	        "<p>none</p><sp>none</sp><pct>100</pct></policy_published>\n",
	        id);
	for (long i = 1; i <= n; i++)
		fprintf(f,
		        "<record><row><source_ip>10.%ld.%ld.%ld</source_ip><count>%ld</count>"
		        "<policy_evaluated><disposition>none</disposition><dkim>pass</dkim>"
		        "<spf>fail</spf></policy_evaluated></row><identifiers><header_from>"
		        "rel.example</header_from></identifiers><auth_results><spf><domain>"
		        "rel.example</domain><result>fail</result></spf></auth_results></record>\n",
		        (i >> 16) & 255, (i >> 8) & 255, i & 255, i);
	fputs("</feedback>\n", f);
	fclose(f);
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Waits for pid at most `secs`; kills it and fails the test when it takes
 * longer. Returns the exit code (128+signal when it died of one). */
static int wait_bounded(pid_t pid, double secs, const char *what)
{
	double end = now() + secs;
	int status = 0;
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			break;
		if (now() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			fail_msg("%s: still running after %.0f s, killed", what, secs);
		}
		usleep(20000);
	}
	return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

static int64_t json_int(const char *text, const char *key)
{
	const char *brace = strrchr(text, '{');
	assert_non_null(brace);
	json_object *o = json_tokener_parse(brace);
	assert_non_null(o);
	json_object *v;
	assert_true(json_object_object_get_ex(o, key, &v));
	int64_t n = json_object_get_int64(v);
	json_object_put(o);
	return n;
}

/* Copies the first half of `src` to `dst`: a copy cut in transit. */
static void head_copy(const char *src, const char *dst)
{
	size_t len;
	char *data = slurp(src, &len);
	size_t n = len / 2;
	FILE *f = fopen(dst, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, n, f), n);
	fclose(f);
	free(data);
}

static char *raw_sha(const char *db, const char *path)
{
	const char *p[] = {path};
	return q_str(db, "SELECT sha256 FROM dmarcsift.raw_messages WHERE source = $1", 1, p);
}

static int ingest_json(const char *db, const char *path, char **out)
{
	const char *args[] = {"ingest", "--db", db, "--json", path, NULL};
	return run_bin(args, NULL, out);
}

/*
 * The first half of a 43-record report arrives first (stored recovered, with
 * the records before the cut), then the whole report: the whole one takes
 * its place in the same transaction, counted as replaced, and the raw bytes
 * of both stay. It used to count as a duplicate, losing the rest for good.
 */
static void test_truncated_then_complete(void **state)
{
	struct clifx *c = *state;
	char whole[128], cut[128];
	snprintf(whole, sizeof whole, "%s/whole.xml", c->dir);
	snprintf(cut, sizeof cut, "%s/cut.xml", c->dir);
	write_report(whole, "cut-then-whole", 43);
	head_copy(whole, cut);
	const char *id[] = {"cut-then-whole"};
	const char *recs = "SELECT count(*) FROM dmarcsift.v_records WHERE report_id = $1";

	char *out = NULL;
	assert_int_equal(ingest_json(c->db, cut, &out), 0);
	assert_int_equal(json_int(out, "reports"), 1);
	assert_int_equal(json_int(out, "recovered"), 1);
	free(out);
	int64_t first = q_int(c->db, recs, 1, id);
	print_message("the cut copy gave %lld records\n", (long long)first);
	assert_true(first > 0 && first < 43);

	assert_int_equal(ingest_json(c->db, whole, &out), 0);
	assert_int_equal(json_int(out, "replaced"), 1);
	assert_int_equal(json_int(out, "duplicates"), 0);
	assert_int_equal(json_int(out, "reports"), 0);
	assert_int_equal(json_int(out, "records"), 43);
	free(out);
	assert_int_equal(q_int(c->db, recs, 1, id), 43);
	assert_int_equal(
	    q_int(c->db, "SELECT sum(count) FROM dmarcsift.v_records WHERE report_id = $1", 1, id),
	    43 * 44 / 2);
	assert_int_equal(q_int(c->db,
	                       "SELECT count(*) FROM dmarcsift.v_reports WHERE report_id = $1"
	                       " AND NOT recovered AND records = 43",
	                       1, id),
	                 1);
	/* What is derived from the records counts the new copy once, not the
	 * replaced copy's records as well: the daily and per-domain rollups
	 * (reports, dashboards), the correlator's per-source sums and failing
	 * identifiers. (The DELETE of the old records had no trigger, so they
	 * stayed in all four.) */
	static const char *const derived[] = {
	    "SELECT sum(messages) FROM dmarcsift.daily_rollup",
	    "SELECT sum(messages) FROM dmarcsift.domain_rollup",
	    "SELECT sum(messages) FROM dmarcsift.record_sources",
	    "SELECT sum((f ->> 'messages')::bigint) FROM dmarcsift.record_sources,"
	    " jsonb_array_elements(fails) f WHERE f ->> 'kind' = 'spf'",
	};
	for (size_t i = 0; i < sizeof derived / sizeof derived[0]; i++)
		if (q_int(c->db, derived[i], 0, NULL) != 43 * 44 / 2)
			fail_msg("%s: %lld, want %d", derived[i],
			         (long long)q_int(c->db, derived[i], 0, NULL), 43 * 44 / 2);
	assert_int_equal(q_int(c->db, "SELECT sum(records) FROM dmarcsift.daily_rollup", 0, NULL),
	                 43);
	/* Both raw copies kept, and the report row names both. */
	char *sha_whole = raw_sha(c->db, whole), *sha_cut = raw_sha(c->db, cut);
	assert_int_equal(strlen(sha_whole), 64);
	assert_int_equal(strlen(sha_cut), 64);
	char *pair = q_str(c->db,
	                   "SELECT raw_sha256 || ' ' || replaced_sha256 FROM dmarcsift.reports"
	                   " WHERE report_id = $1",
	                   1, id);
	char want[140];
	snprintf(want, sizeof want, "%s %s", sha_whole, sha_cut);
	assert_string_equal(pair, want);
	free(pair);

	/* The text summary says so too; the cut copy again changes nothing. */
	const char *again[] = {"ingest", "--db", c->db, cut, NULL};
	assert_int_equal(run_bin(again, NULL, &out), 0);
	assert_non_null(strstr(out, "1 duplicates"));
	free(out);
	assert_int_equal(q_int(c->db, recs, 1, id), 43);
	free(sha_whole);
	free(sha_cut);
}

/* The whole report first, a cut copy later: a duplicate, nothing changes. */
static void test_complete_then_truncated(void **state)
{
	struct clifx *c = *state;
	char whole[128], cut[128];
	snprintf(whole, sizeof whole, "%s/whole.xml", c->dir);
	snprintf(cut, sizeof cut, "%s/cut.xml", c->dir);
	write_report(whole, "whole-then-cut", 43);
	head_copy(whole, cut);
	const char *id[] = {"whole-then-cut"};
	char *out = NULL;
	assert_int_equal(ingest_json(c->db, whole, &out), 0);
	free(out);
	assert_int_equal(ingest_json(c->db, cut, &out), 0);
	assert_int_equal(json_int(out, "duplicates"), 1);
	assert_int_equal(json_int(out, "replaced"), 0);
	free(out);
	assert_int_equal(q_int(c->db,
	                       "SELECT count(*) FROM dmarcsift.v_reports WHERE report_id = $1"
	                       " AND NOT recovered AND records = 43",
	                       1, id),
	                 1);
}

/*
 * Clean copies under one identity: the same records in other bytes are a
 * duplicate; more records that include all stored ones replace it; records
 * that disagree are a conflict — the first copy stays and the new one is
 * quarantined with a reason naming both raw messages.
 */
static void test_clean_copies(void **state)
{
	struct clifx *c = *state;
	char a[128], b[128], d[128], x[128];
	snprintf(a, sizeof a, "%s/a.xml", c->dir);
	snprintf(b, sizeof b, "%s/b.xml", c->dir);
	snprintf(d, sizeof d, "%s/d.xml", c->dir);
	snprintf(x, sizeof x, "%s/x.xml", c->dir);
	write_report(a, "clean-copies", 5);
	write_report(b, "clean-copies", 5);
	FILE *f = fopen(b, "a"); /* other bytes, same report */
	assert_non_null(f);
	fputs("\n\n", f);
	fclose(f);
	write_report(d, "clean-copies", 8); /* the five, and three more */
	write_report(x, "clean-copies", 3); /* fewer... */
	size_t len;
	char *text = slurp(x, &len); /* ... and one of them different */
	char *at = strstr(text, "<count>2</count>");
	assert_non_null(at);
	at[7] = '7';
	f = fopen(x, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	free(text);
	const char *id[] = {"clean-copies"};
	const char *recs = "SELECT count(*) FROM dmarcsift.v_records WHERE report_id = $1";

	char *out = NULL;
	assert_int_equal(ingest_json(c->db, a, &out), 0);
	free(out);
	assert_int_equal(ingest_json(c->db, b, &out), 0);
	assert_int_equal(json_int(out, "duplicates"), 1);
	free(out);
	assert_int_equal(q_int(c->db, recs, 1, id), 5);
	assert_int_equal(ingest_json(c->db, d, &out), 0);
	assert_int_equal(json_int(out, "replaced"), 1);
	free(out);
	assert_int_equal(q_int(c->db, recs, 1, id), 8);

	assert_int_equal(ingest_json(c->db, x, &out), 1);
	assert_int_equal(json_int(out, "quarantined"), 1);
	assert_int_equal(json_int(out, "replaced"), 0);
	free(out);
	assert_int_equal(q_int(c->db, recs, 1, id), 8);
	char *sha_d = raw_sha(c->db, d), *sha_x = raw_sha(c->db, x);
	const char *p[] = {sha_x};
	char *reason = q_str(
	    c->db, "SELECT stage || ': ' || reason FROM dmarcsift.v_failures WHERE sha256 = $1", 1,
	    p);
	print_message("conflict: %s\n", reason);
	assert_non_null(strstr(reason, "conflicting copies"));
	assert_non_null(strstr(reason, sha_d));
	assert_non_null(strstr(reason, sha_x));
	free(reason);
	free(sha_d);
	free(sha_x);
}

/*
 * A file truncated while the run holds it: the ingest is held on a table
 * lock right after it has read the file, the file is cut to 10 bytes, the
 * lock is released. With the file mapped, the parse then touched pages that
 * no longer exist: SIGBUS (exit 135) and the rest of the run lost.
 */
static void test_file_truncated_under_reader(void **state)
{
	struct clifx *c = *state;
	char big[128], small[128], out[128];
	snprintf(big, sizeof big, "%s/big.xml", c->dir);
	snprintf(small, sizeof small, "%s/small.xml", c->dir);
	snprintf(out, sizeof out, "%s/out.txt", c->dir);
	write_report(big, "trunc-big", 8000);
	write_report(small, "trunc-small", 3);

	const char *mig[] = {"db", "migrate", "--db", c->db, NULL};
	assert_int_equal(run_bin(mig, NULL, NULL), 0);

	PGconn *lock = PQconnectdb(c->db);
	assert_int_equal(PQstatus(lock), CONNECTION_OK);
	PQclear(PQexec(lock, "BEGIN"));
	PGresult *res = PQexec(lock, "LOCK TABLE dmarcsift.raw_messages IN ACCESS EXCLUSIVE MODE");
	assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);

	const char *args[] = {"ingest", "--db", c->db, "--json", big, small, NULL};
	pid_t pid = mt_spawn(args, out);
	/* Held on the lock: the file has been read (or mapped) by now. */
	const char *waiting = "SELECT count(*) FROM pg_stat_activity WHERE datname ="
	                      " current_database() AND application_name = 'dmarcsift'"
	                      " AND wait_event_type = 'Lock'";
	int64_t n = mt_wait_count(c->db, waiting, 1, 60);
	assert_int_equal(n, 1);
	assert_int_equal(truncate(big, 10), 0);
	PQclear(PQexec(lock, "ROLLBACK"));
	PQfinish(lock);

	int rc = wait_bounded(pid, 120, "ingest of a truncated file");
	char *text = slurp(out, NULL);
	fputs(text, stdout);
	assert_int_equal(rc, 0);
	/* Both reports stored whole: the bytes read are what counts. */
	assert_int_equal(json_int(text, "reports"), 2);
	assert_int_equal(json_int(text, "records"), 8003);
	free(text);
}

/* Two links to '.', and one from a subdirectory back up: each directory and
 * each file is read once, and the walk ends (it was exponential). */
static void test_symlink_loops(void **state)
{
	struct clifx *c = *state;
	char d[128], p[192], out[128];
	snprintf(d, sizeof d, "%s/tree", c->dir);
	snprintf(out, sizeof out, "%s/loops.txt", c->dir);
	assert_int_equal(mkdir(d, 0755), 0);
	snprintf(p, sizeof p, "%s/sub", d);
	assert_int_equal(mkdir(p, 0755), 0);
	for (int i = 0; i < 3; i++) {
		char id[32];
		snprintf(id, sizeof id, "loop-%d", i);
		snprintf(p, sizeof p, "%s/%sr%d.xml", d, i == 2 ? "sub/" : "", i);
		write_report(p, id, 2);
	}
	snprintf(p, sizeof p, "%s/loop1", d);
	assert_int_equal(symlink(".", p), 0);
	snprintf(p, sizeof p, "%s/loop2", d);
	assert_int_equal(symlink(".", p), 0);
	snprintf(p, sizeof p, "%s/sub/up", d);
	assert_int_equal(symlink("..", p), 0);

	const char *args[] = {"ingest", "--db", c->db, "--json", d, NULL};
	int rc = wait_bounded(mt_spawn(args, out), 60, "ingest of a directory with loops");
	char *text = slurp(out, NULL);
	fputs(text, stdout);
	assert_int_equal(rc, 0);
	assert_int_equal(json_int(text, "inputs"), 3);
	assert_int_equal(json_int(text, "reports"), 3);
	assert_int_equal(json_int(text, "duplicates"), 0);
	free(text);
}

/* A malformed connection string with a password in it: refused naming the
 * part that is wrong, and the password never printed — from --db, from
 * DMARCSIFT_DB's place in the config file, and by `config check`. */
static void test_malformed_url_not_echoed(void **state)
{
	struct clifx *c = *state;
	const char *bad = "postgresql://u:S3cretPW@[::1/db";
	char *out = NULL;
	const char *a1[] = {"ingest", "--db", bad, "/dev/null", NULL};
	assert_int_equal(mt_run(a1, &out), 2);
	assert_null(strstr(out, "S3cretPW"));
	assert_non_null(strstr(out, "host"));
	free(out);

	char *conf = mt_write_file(c->dir, "bad.conf",
	                           "[database]\nurl = postgresql://u:S3cretPW@[::1/db\n");
	const char *a2[] = {"config", "check", "--config", conf, NULL};
	int rc = mt_run(a2, &out);
	assert_int_not_equal(rc, 0);
	assert_null(strstr(out, "S3cretPW"));
	assert_non_null(strstr(out, "host"));
	assert_null(strstr(out, ": ok"));
	free(out);
	free(conf);

	conf = mt_write_file(c->dir, "badimap.conf",
	                     "[mailbox m]\nurl = imaps://u:S3cretPW@exa mple.com:99999/INBOX\n"
	                     "user = u\npassword = x\n");
	const char *a3[] = {"config", "check", "--config", conf, NULL};
	assert_int_not_equal(mt_run(a3, &out), 0);
	assert_null(strstr(out, "S3cretPW"));
	free(out);
	free(conf);
}

/* Two sections pointing at one Maildir (once through a symlink, with other
 * tenants): refused by `config check` and by `poll` — they raced each other
 * for the messages and stored reports twice. */
static void test_two_sections_one_maildir(void **state)
{
	struct clifx *c = *state;
	char md[128], link[128], sub[160];
	snprintf(md, sizeof md, "%s/Maildir", c->dir);
	snprintf(link, sizeof link, "%s/alias", c->dir);
	assert_int_equal(mkdir(md, 0755), 0);
	const char *subs[] = {"new", "cur", "tmp"};
	for (int i = 0; i < 3; i++) {
		snprintf(sub, sizeof sub, "%s/%s", md, subs[i]);
		assert_int_equal(mkdir(sub, 0755), 0);
	}
	assert_int_equal(symlink(md, link), 0);
	char text[600];
	snprintf(text, sizeof text,
	         "[mailbox a]\nurl = maildir:%s\ntenant = one\n\n"
	         "[mailbox b]\nurl = maildir:%s/\ntenant = two\n",
	         md, link);
	char *conf = mt_write_file(c->dir, "two.conf", text);
	char *out = NULL;
	const char *a1[] = {"config", "check", "--config", conf, NULL};
	assert_int_not_equal(mt_run(a1, &out), 0);
	assert_non_null(strstr(out, "[mailbox b] reads the same mailbox as [mailbox a]"));
	free(out);
	const char *a2[] = {"poll", "--config", conf, "--db", c->db, NULL};
	assert_int_not_equal(mt_run(a2, &out), 0);
	assert_non_null(strstr(out, "same mailbox"));
	free(out);
	free(conf);

	/* Two IMAP sections for one folder, written differently. */
	conf = mt_write_file(c->dir, "imap.conf",
	                     "[mailbox a]\nurl = imaps://Mail.Example.com/INBOX\nuser = rua\n"
	                     "password_env = X\n\n"
	                     "[mailbox b]\nurl = imaps://mail.example.com:993/INBOX\nuser = rua\n"
	                     "password_env = X\n");
	const char *a3[] = {"config", "check", "--config", conf, NULL};
	assert_int_not_equal(mt_run(a3, &out), 0);
	assert_non_null(strstr(out, "[mailbox b] reads the same mailbox as [mailbox a]"));
	free(out);
	free(conf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_truncated_then_complete, clifx_setup,
	                                    clifx_teardown),
	    cmocka_unit_test_setup_teardown(test_complete_then_truncated, clifx_setup,
	                                    clifx_teardown),
	    cmocka_unit_test_setup_teardown(test_clean_copies, clifx_setup, clifx_teardown),
	    cmocka_unit_test_setup_teardown(test_file_truncated_under_reader, clifx_setup,
	                                    clifx_teardown),
	    cmocka_unit_test_setup_teardown(test_symlink_loops, clifx_setup, clifx_teardown),
	    cmocka_unit_test_setup_teardown(test_malformed_url_not_echoed, clifx_setup,
	                                    clifx_teardown),
	    cmocka_unit_test_setup_teardown(test_two_sections_one_maildir, clifx_setup,
	                                    clifx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
