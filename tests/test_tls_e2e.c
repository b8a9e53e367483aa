/*
 * SMTP TLS reports (RFC 8460) through the real binary into a real
 * PostgreSQL: the bundled fixtures (plain, gzip, mailed) land in v_tls per
 * tenant by policy domain, the same report in another wrapping is a
 * duplicate, hostile JSON is quarantined with a reason, and a second run
 * changes nothing.
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
#include <time.h>
#include <unistd.h>

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
    " SELECT concat_ws(',', tenant, org_name, report_id, policy_domain, begin_at, end_at,"
    " policy_type, policy_strings::text, mx_hosts::text, successful_sessions,"
    " failed_sessions, failures::text, recovered, complaint) AS x FROM dmarcsift.v_tls) s";

static void test_tls_reports(void **state)
{
	(void)state;
	char *out = NULL;
	const char *add[] = {"tenant", "add", "--db", db, "acme", "example.com", NULL};
	assert_int_equal(run_bin(add, NULL, &out), 0);
	free(out);

	const char *a[] = {"ingest", "--db", db, FIXTURES_DIR "/tlsrpt", NULL};
	assert_int_equal(run_bin(a, NULL, &out), 1); /* the hostile ones are quarantined */
	printf("%s", out);
	/* rfc8460-example (its .gz twin is a duplicate), google (two domains),
	 * wrong-types, the mailed one */
	assert_non_null(strstr(out, "1 duplicates, 7 quarantined, 1 recovered (see the views' "
	                            "complaint column), 5 TLS reports"));
	free(out);

	assert_int_equal(q_int(db, "SELECT count(*) FROM dmarcsift.v_tls", 0, NULL), 5);
	/* RFC 8460's example: summary, and the details adding up to it */
	assert_int_equal(q_int(db,
	                       "SELECT successful_sessions * 1000 + failed_sessions FROM "
	                       "dmarcsift.v_tls WHERE policy_domain = 'company-y.example'",
	                       0, NULL),
	                 5326303);
	assert_int_equal(q_int(db,
	                       "SELECT sum((f->>'failed_sessions')::bigint) FROM dmarcsift.v_tls,"
	                       " jsonb_array_elements(failures) f"
	                       " WHERE policy_domain = 'company-y.example'",
	                       0, NULL),
	                 303);
	char *ip = q_str(db,
	                 "SELECT failures->2->>'sending_mta_ip' FROM dmarcsift.v_tls"
	                 " WHERE policy_domain = 'company-y.example'",
	                 0, NULL);
	assert_string_equal(ip, "198.51.100.62");
	free(ip);
	/* per tenant by policy domain: Google's report is split */
	assert_int_equal(q_int(db,
	                       "SELECT count(*) FROM dmarcsift.v_tls WHERE tenant = 'acme'"
	                       " AND policy_domain = 'example.com'",
	                       0, NULL),
	                 2);
	assert_int_equal(q_int(db,
	                       "SELECT count(*) FROM dmarcsift.v_tls WHERE tenant = 'unassigned'"
	                       " AND policy_domain = 'example.org' AND org_name = 'Google Inc.'",
	                       0, NULL),
	                 1);
	/* the mailed one (application/tlsrpt+gzip) */
	assert_int_equal(q_int(db,
	                       "SELECT count(*) FROM dmarcsift.v_tls WHERE policy_domain ="
	                       " 'example.net' AND policy_type = 'tlsa'"
	                       " AND failures->0->>'result_type' = 'tlsa-invalid'",
	                       0, NULL),
	                 1);
	/* deviations kept, and said */
	assert_int_equal(q_int(db,
	                       "SELECT count(*) FROM dmarcsift.v_tls WHERE recovered AND"
	                       " complaint LIKE '%tls-version-too-old%'",
	                       0, NULL),
	                 1);
	/* hostile JSON: quarantined, each with its reason */
	static const struct {
		const char *file, *stage, *reason;
	} hostile[] = {
	    {"hostile-huge-numbers.json", "validate", "beyond 2^63"},
	    {"hostile-count-is-a-string.json", "validate", "is not a session count"},
	    {"hostile-deep-nesting.json", "json", "nested deeper than"},
	    {"hostile-truncated.json", "json", "truncated"},
	    {"hostile-no-policy-domain.json", "validate", "no policy with a policy-domain"},
	    {"hostile-bad-dates.json", "validate", "not an RFC 3339 date-time"},
	    {"hostile-not-an-object.json", "unpack", "not a report"},
	};
	for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
		char pattern[300];
		snprintf(pattern, sizeof pattern, "%%/%s", hostile[i].file);
		char like[300];
		snprintf(like, sizeof like, "%%%s%%", hostile[i].reason);
		const char *p[] = {pattern, hostile[i].stage, like};
		printf("checking %s\n", hostile[i].file);
		assert_int_equal(q_int(db,
		                       "SELECT count(*) FROM dmarcsift.v_failures WHERE source LIKE"
		                       " $1 AND stage = $2 AND reason LIKE $3",
		                       3, p),
		                 1);
	}

	/* Again: nothing changes. */
	char *before = q_str(db, fingerprint_sql, 0, NULL);
	assert_int_equal(run_bin(a, NULL, &out), 1);
	assert_non_null(strstr(out, "0 reports (0 records) ingested, 5 duplicates, 7 quarantined"));
	assert_null(strstr(out, "TLS reports"));
	free(out);
	char *after = q_str(db, fingerprint_sql, 0, NULL);
	assert_string_equal(before, after);
	assert_int_equal(q_int(db, "SELECT count(*) FROM dmarcsift.v_failures", 0, NULL), 7);
	free(before);
	free(after);

	/* A tenant added later adopts the TLS reports waiting for it, with
	 * their policies and failure details. */
	const char *add2[] = {"tenant", "add", "--db", db, "netco", "example.net", NULL};
	assert_int_equal(run_bin(add2, NULL, &out), 0);
	free(out);
	assert_int_equal(q_int(db,
	                       "SELECT count(*) FROM dmarcsift.v_tls WHERE tenant = 'netco'"
	                       " AND policy_domain = 'example.net'"
	                       " AND jsonb_array_length(failures) = 1",
	                       0, NULL),
	                 1);

	/* tenant remove: the report, its policy and failure detail go back to
	 * 'unassigned' together (children after their parent), and --purge
	 * deletes all three. */
	const char *rm[] = {"tenant", "remove", "--db", db, "netco", NULL};
	assert_int_equal(run_bin(rm, NULL, &out), 0);
	free(out);
	assert_int_equal(q_int(db,
	                       "SELECT count(*) FROM dmarcsift.v_tls WHERE tenant = 'unassigned'"
	                       " AND policy_domain = 'example.net'"
	                       " AND jsonb_array_length(failures) = 1",
	                       0, NULL),
	                 1);
	const char *add3[] = {"tenant", "add", "--db", db, "netco2", "example.net", NULL};
	assert_int_equal(run_bin(add3, NULL, &out), 0);
	free(out);
	const char *tid_sql = "SELECT tenant_id FROM dmarcsift.tenants WHERE name = 'netco2'";
	char *tid = q_str(db, tid_sql, 0, NULL);
	const char *tp[] = {tid};
	assert_int_equal(q_int(db,
	                       "SELECT (SELECT count(*) FROM dmarcsift.tls_reports WHERE"
	                       " tenant_id = $1::int) * 100 + (SELECT count(*) FROM"
	                       " dmarcsift.tls_policies WHERE tenant_id = $1::int) * 10 +"
	                       " (SELECT count(*) FROM dmarcsift.tls_failures WHERE"
	                       " tenant_id = $1::int)",
	                       1, tp),
	                 111);
	const char *purge[] = {"tenant", "remove", "--db", db, "--purge", "netco2", NULL};
	assert_int_equal(run_bin(purge, NULL, &out), 0);
	free(out);
	assert_int_equal(q_int(db,
	                       "SELECT (SELECT count(*) FROM dmarcsift.tls_reports WHERE"
	                       " tenant_id = $1::int) + (SELECT count(*) FROM"
	                       " dmarcsift.tls_policies WHERE tenant_id = $1::int) +"
	                       " (SELECT count(*) FROM dmarcsift.tls_failures WHERE"
	                       " tenant_id = $1::int)",
	                       1, tp),
	                 0);
	assert_int_equal(q_int(db,
	                       "SELECT count(*) FROM dmarcsift.v_tls WHERE policy_domain ="
	                       " 'example.net'",
	                       0, NULL),
	                 0);
	free(tid);
}

/* A pinned run (--tenant) puts a TLS report of a domain another tenant
 * owns under that owner, says so and counts it, as for aggregate reports. */
static void test_pinned(void **state)
{
	(void)state;
	char *out = NULL;
	const char *add[] = {"tenant", "add", "--db", db, "pinco", "pinned.example", NULL};
	assert_int_equal(run_bin(add, NULL, &out), 0);
	free(out);
	const char *add2[] = {"tenant", "add", "--db", db, "otherco", "other.example", NULL};
	assert_int_equal(run_bin(add2, NULL, &out), 0);
	free(out);
	char path[512];
	const char *tmp = getenv("DMARCSIFT_TEST_TMP");
	snprintf(path, sizeof path, "%s/tls-pinned.json", tmp ? tmp : "/tmp");
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("{\"organization-name\":\"Pin Test\",\"report-id\":\"pin-1\","
	      "\"date-range\":{\"start-datetime\":\"2026-03-01T00:00:00Z\","
	      "\"end-datetime\":\"2026-03-01T23:59:59Z\"},\"policies\":[{\"policy\":"
	      "{\"policy-type\":\"no-policy-found\",\"policy-domain\":\"other.example\"},"
	      "\"summary\":{\"total-successful-session-count\":3,"
	      "\"total-failure-session-count\":0}}]}",
	      f);
	fclose(f);
	const char *a[] = {"ingest", "--db", db, "--tenant", "pinco", path, NULL};
	assert_int_equal(run_bin(a, NULL, &out), 0);
	printf("%s", out);
	assert_non_null(strstr(out, "1 TLS reports, 1 for another tenant than --tenant"));
	free(out);
	assert_int_equal(q_int(db,
	                       "SELECT count(*) FROM dmarcsift.v_tls WHERE tenant = 'otherco'"
	                       " AND report_id = 'pin-1'",
	                       0, NULL),
	                 1);
}

/* 100 MB of JSON through the binary: refused quickly, with the reason,
 * the raw bytes kept (nothing lost). */
static void test_100mb_file(void **state)
{
	(void)state;
	char path[512];
	const char *tmp = getenv("DMARCSIFT_TEST_TMP");
	snprintf(path, sizeof path, "%s/tls-100mb.json", tmp ? tmp : "/tmp");
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	static const char item[] = "{\"policy\":{\"policy-domain\":\"x.example\"}},";
	fputs("{\"organization-name\":\"Big\",\"policies\":[", f);
	for (size_t n = 0; n < (size_t)100 * 1024 * 1024; n += sizeof item - 1)
		fputs(item, f);
	fputs("{}]}", f);
	fclose(f);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	char *out = NULL;
	const char *a[] = {"ingest", "--db", db, "--no-resolve", path, NULL};
	assert_int_equal(run_bin(a, NULL, &out), 1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("%s100 MB TLS report refused in %.1f s\n", out, secs);
	free(out);
	assert_true(secs < 60.0);
	assert_int_equal(q_int(db,
	                       "SELECT count(*) FROM dmarcsift.v_failures WHERE source LIKE"
	                       " '%/tls-100mb.json' AND stage = 'json' AND reason LIKE"
	                       " '%larger than 4194304 bytes refused%'",
	                       0, NULL),
	                 1);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tls_reports),
	    cmocka_unit_test(test_pinned),
	    cmocka_unit_test(test_100mb_file),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
