/*
 * Failure reports and routing through the real binary into a real
 * PostgreSQL: both RUF layouts land in v_failure_reports in the tenant of
 * their reported domain, `[ruf] redact` hashes local parts and `keep_body`
 * keeps the body, ARF complaints and auto-replies go to the bounce path,
 * spam is "other", the summary counts each kind, and a rerun changes
 * nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "support/run.h"
#include "support/testdb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *db;

static int setup(void **state)
{
	(void)state;
	return testdb_create(&db);
}

static int teardown(void **state)
{
	(void)state;
	testdb_drop(db);
	free(db);
	return 0;
}

static const char *fingerprint_sql =
    "SELECT md5(coalesce(string_agg(x, '|' ORDER BY x), '')) FROM ("
    " SELECT concat_ws(',', tenant, arrival_at, source_ip, auth_failure, reported_domain,"
    " header_from, header_to, subject, message_id, received::text, body, layout, redacted)"
    " AS x FROM dmarcsift.v_failure_reports) s";

static void test_failure_reports(void **state)
{
	(void)state;
	char *out = NULL;
	const char *add[] = {"tenant", "add", "--db", db, "acme", "example.com", NULL};
	assert_int_equal(run_bin(add, NULL, &out), 0);
	free(out);

	char conf[512];
	const char *tmp = getenv("DMARCSIFT_TEST_TMP");
	snprintf(conf, sizeof conf, "%s/ruf-e2e.conf", tmp ? tmp : "/tmp");
	FILE *f = fopen(conf, "w");
	assert_non_null(f);
	fputs("[ruf]\nkeep_body = true\nredact = true\n", f);
	fclose(f);

	const char *a[] = {
	    "ingest", "--db", db, "--config", conf, FIXTURES_DIR "/ruf", FIXTURES_DIR "/route",
	    NULL};
	assert_int_equal(run_bin(a, NULL, &out), 1); /* the spam is quarantined */
	printf("%s", out);
	assert_non_null(strstr(out, ", 1 quarantined"));
	assert_non_null(strstr(out, ", 2 failure reports, 1 ARF complaints, 1 auto-replies"
	                            " (2 new bounce events), 1 other messages"));
	free(out);

	assert_int_equal(q_int(db, "SELECT count(*) FROM dmarcsift.v_failure_reports", 0, NULL), 2);
	/* per tenant by reported domain */
	assert_int_equal(q_int(db,
	                       "SELECT count(*) FROM dmarcsift.v_failure_reports WHERE tenant ="
	                       " 'acme' AND reported_domain = 'example.com' AND layout = 'rfc6591'"
	                       " AND auth_failure = 'dmarc' AND source_ip = '192.0.2.1'"
	                       " AND dkim_selector = 's1' AND delivery_result = 'reject'",
	                       0, NULL),
	                 1);
	assert_int_equal(q_int(db,
	                       "SELECT count(*) FROM dmarcsift.v_failure_reports WHERE tenant ="
	                       " 'unassigned' AND reported_domain = 'example.org' AND layout ="
	                       " 'afrf-text' AND auth_failure = 'spf' AND spf_dns LIKE 'txt : %'",
	                       0, NULL),
	                 1);
	/* redacted: no readable local part anywhere, the hash of 'alice' instead */
	assert_int_equal(q_int(db,
	                       "SELECT count(*) FROM dmarcsift.v_failure_reports WHERE redacted"
	                       " AND header_from LIKE '%sha256:2bd806c97f0e00af1a1fc3328fa763a9269"
	                       "723c8db8fac4f93af71db186d6e90@example.com%'"
	                       " AND position('alice@' in concat(original_mail_from, header_from,"
	                       " received::text, body)) = 0"
	                       " AND position('bob@' in concat(original_rcpt_to, header_to,"
	                       " received::text)) = 0",
	                       0, NULL),
	                 1);
	assert_int_equal(q_int(db,
	                       "SELECT count(*) FROM dmarcsift.v_failure_reports WHERE body LIKE"
	                       " '%discount code is 1234%'",
	                       0, NULL),
	                 1);
	/* The complaint and the auto-reply went the bounce store's way, read by
	 * its ARF and auto-reply readers. */
	static const char *const bounce_way[] = {"arf-abuse.eml", "auto-reply.eml"};
	for (size_t i = 0; i < 2; i++) {
		char like[200];
		snprintf(like, sizeof like, "%%/route/%s", bounce_way[i]);
		const char *p[] = {like};
		assert_int_equal(q_int(db,
		                       "SELECT count(*) FROM dmarcsift.raw_messages r WHERE"
		                       " r.source LIKE $1 AND r.status = 'dsn'",
		                       1, p),
		                 1);
	}
	assert_int_equal(q_int(db,
	                       "SELECT count(*) FROM dmarcsift.v_bounces WHERE format = 'arf'"
	                       " AND class = 'complaint' AND feedback_type = 'abuse'",
	                       0, NULL),
	                 1);
	assert_int_equal(q_int(db,
	                       "SELECT count(*) FROM dmarcsift.v_bounces WHERE format ="
	                       " 'auto_reply' AND auto_reply AND class = 'accepted'",
	                       0, NULL),
	                 1);
	assert_int_equal(q_int(db,
	                       "SELECT count(*) FROM dmarcsift.v_failures WHERE source LIKE"
	                       " '%/route/spam.eml' AND reason LIKE 'no report attachment found%'",
	                       0, NULL),
	                 1);

	/* Again: nothing changes. */
	char *before = q_str(db, fingerprint_sql, 0, NULL);
	assert_int_equal(run_bin(a, NULL, &out), 1);
	assert_null(strstr(out, "failure reports"));
	free(out);
	char *after = q_str(db, fingerprint_sql, 0, NULL);
	assert_string_equal(before, after);
	assert_int_equal(q_int(db, "SELECT count(*) FROM dmarcsift.v_failure_reports", 0, NULL), 2);
	free(before);
	free(after);

	/* A tenant added later adopts the failure reports waiting for it. */
	const char *add2[] = {"tenant", "add", "--db", db, "orgco", "example.org", NULL};
	assert_int_equal(run_bin(add2, NULL, &out), 0);
	free(out);
	assert_int_equal(q_int(db,
	                       "SELECT count(*) FROM dmarcsift.v_failure_reports WHERE tenant ="
	                       " 'orgco' AND reported_domain = 'example.org'",
	                       0, NULL),
	                 1);
	/* tenant remove: back to 'unassigned'; with --purge, deleted. */
	const char *rm[] = {"tenant", "remove", "--db", db, "orgco", NULL};
	assert_int_equal(run_bin(rm, NULL, &out), 0);
	free(out);
	assert_int_equal(q_int(db,
	                       "SELECT count(*) FROM dmarcsift.v_failure_reports WHERE tenant ="
	                       " 'unassigned' AND reported_domain = 'example.org'",
	                       0, NULL),
	                 1);
	const char *purge[] = {"tenant", "remove", "--db", db, "--purge", "acme", NULL};
	assert_int_equal(run_bin(purge, NULL, &out), 0);
	free(out);
	assert_int_equal(q_int(db,
	                       "SELECT count(*) FROM dmarcsift.failure_reports WHERE domain ="
	                       " 'example.com'",
	                       0, NULL),
	                 0);

	/* A broken config is refused rather than storing unredacted samples. */
	f = fopen(conf, "w");
	assert_non_null(f);
	fputs("[ruf]\nredact = maybe\n", f);
	fclose(f);
	assert_int_equal(run_bin(a, NULL, &out), 2);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_failure_reports),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
