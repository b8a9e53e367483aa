/*
 * End to end through the real binary and a real PostgreSQL: exit codes, the
 * summary, stdin, --json, reprocess after the cause is fixed, a database that
 * cannot be reached, and a run killed in the middle of a large report.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "support/run.h"
#include "support/testdb.h"

#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct ctx {
	char *db;
	char dir[64];
};

/* Writes a report of n records to path; the counts are 1..n so the
 * messages sum is n(n+1)/2. */
static void write_report(const char *path, const char *org, const char *id, const char *domain,
                         long n)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f,
	        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feedback>\n<version>1.0</version>\n"
	        "<report_metadata><org_name>%s</org_name><email>noreply@%s</email>"
	        "<report_id>%s</report_id><date_range><begin>1700000000</begin>"
	        "<end>1700086399</end></date_range></report_metadata>\n"
	        "<policy_published><domain>%s</domain><adkim>r</adkim><aspf>r</aspf><p>none</p>"
	        "<sp>none</sp><pct>100</pct></policy_published>\n",
	        org, org, id, domain);
	for (long i = 1; i <= n; i++)
		fprintf(
		    f,
		    "<record><row><source_ip>10.%ld.%ld.%ld</source_ip><count>%ld</count>"
		    "<policy_evaluated><disposition>none</disposition><dkim>pass</dkim>"
		    "<spf>fail</spf></policy_evaluated></row><identifiers><header_from>%s"
		    "</header_from></identifiers><auth_results><dkim><domain>%s</domain>"
		    "<selector>s1</selector><result>pass</result></dkim><spf><domain>%s</domain>"
		    "<result>fail</result></spf></auth_results></record>\n",
		    (i >> 16) & 255, (i >> 8) & 255, i & 255, i, domain, domain, domain);
	fputs("</feedback>\n", f);
	fclose(f);
}

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof *c);
	assert_non_null(c);
	if (testdb_create(&c->db) != 0)
		return -1;
	snprintf(c->dir, sizeof c->dir, "/tmp/ds-cli-XXXXXX");
	assert_non_null(mkdtemp(c->dir));
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", c->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", c->dir);
	testdb_drop(c->db);
	free(c->db);
	free(c);
	return 0;
}

static void test_summary_json_and_duplicates(void **state)
{
	struct ctx *c = *state;
	char path[128];
	snprintf(path, sizeof path, "%s/r1.xml", c->dir);
	write_report(path, "example.net", "json-1", "json.example", 7);

	char *out = NULL;
	const char *a1[] = {"ingest", "--db", c->db, "--json", path, NULL};
	assert_int_equal(run_bin(a1, NULL, &out), 0);
	json_object *o = json_tokener_parse(out);
	assert_non_null(o);
	json_object *v;
	assert_true(json_object_object_get_ex(o, "reports", &v));
	assert_int_equal(json_object_get_int64(v), 1);
	assert_true(json_object_object_get_ex(o, "records", &v));
	assert_int_equal(json_object_get_int64(v), 7);
	assert_true(json_object_object_get_ex(o, "messages", &v));
	assert_int_equal(json_object_get_int64(v), 28);
	json_object_put(o);
	free(out);

	/* The same bytes again: a duplicate, and the database is unchanged. */
	const char *a2[] = {"ingest", "--db", c->db, path, NULL};
	assert_int_equal(run_bin(a2, NULL, &out), 0);
	assert_non_null(strstr(out, "0 reports (0 records) ingested, 1 duplicates, 0 quarantined"));
	free(out);
	const char *p[] = {"json-1"};
	assert_int_equal(
	    q_int(c->db, "SELECT count(*) FROM dmarcsift.v_reports WHERE report_id=$1", 1, p), 1);
	assert_int_equal(
	    q_int(c->db, "SELECT sum(count) FROM dmarcsift.v_records WHERE report_id=$1", 1, p),
	    28);

	/* Other bytes, same identity (re-sent with different whitespace): duplicate. */
	FILE *f = fopen(path, "a");
	assert_non_null(f);
	fputs("\n\n", f);
	fclose(f);
	assert_int_equal(run_bin(a2, NULL, &out), 0);
	assert_non_null(strstr(out, "0 reports (0 records) ingested, 1 duplicates"));
	free(out);
	assert_int_equal(
	    q_int(c->db, "SELECT count(*) FROM dmarcsift.v_reports WHERE report_id=$1", 1, p), 1);
}

static void test_stdin(void **state)
{
	struct ctx *c = *state;
	char path[128];
	snprintf(path, sizeof path, "%s/stdin.xml", c->dir);
	write_report(path, "stdin.example", "stdin-1", "stdin.example", 3);
	const char *a[] = {"ingest", "--db", c->db, "-", NULL};
	char *out = NULL;
	assert_int_equal(run_bin(a, path, &out), 0);
	assert_non_null(strstr(out, "1 reports (3 records) ingested"));
	free(out);
	const char *p[] = {"stdin-1"};
	assert_int_equal(
	    q_int(c->db, "SELECT records FROM dmarcsift.v_reports WHERE report_id=$1", 1, p), 3);
}

static void test_reprocess_after_tenant_added(void **state)
{
	struct ctx *c = *state;
	char path[128];
	snprintf(path, sizeof path, "%s/acme.xml", c->dir);
	write_report(path, "google.com", "acme-1", "acme.example", 2);

	/* The run names a tenant that does not exist yet: a usage error (exit 2)
	 * before the input is touched — nothing stored, nothing quarantined. */
	const char *a[] = {"ingest", "--db", c->db, "--tenant", "acme", path, NULL};
	assert_int_equal(run_bin(a, NULL, NULL), 2);
	const char *src[] = {path};
	assert_int_equal(
	    q_int(c->db, "SELECT count(*) FROM dmarcsift.raw_messages WHERE source=$1", 1, src), 0);
	assert_int_equal(
	    q_int(c->db, "SELECT count(*) FROM dmarcsift.failures WHERE source=$1", 1, src), 0);

	/* Once the tenant exists, the same run stores the report there. */
	const char *t[] = {"tenant", "add", "--db", c->db, "acme", "acme.example", NULL};
	assert_int_equal(run_bin(t, NULL, NULL), 0);
	char *out = NULL;
	assert_int_equal(run_bin(a, NULL, &out), 0);
	assert_non_null(strstr(out, "1 reports (2 records) ingested"));
	free(out);
	const char *p[] = {"acme-1"};
	char *tenant =
	    q_str(c->db, "SELECT tenant FROM dmarcsift.v_reports WHERE report_id=$1", 1, p);
	assert_string_equal(tenant, "acme");
	free(tenant);
}

/* Reports for a domain nobody owns wait in 'unassigned'; once a tenant adds
 * the domain (or its organisational domain), they move to that tenant. */
static void test_unassigned_reports_move_to_new_tenant(void **state)
{
	struct ctx *c = *state;
	char path[128];
	snprintf(path, sizeof path, "%s/adopt.xml", c->dir);
	write_report(path, "yahoo.com", "adopt-1", "mail.adopt.co.uk", 4);
	const char *a[] = {"ingest", "--db", c->db, path, NULL};
	assert_int_equal(run_bin(a, NULL, NULL), 0);
	const char *p[] = {"adopt-1"};
	char *tenant =
	    q_str(c->db, "SELECT tenant FROM dmarcsift.v_reports WHERE report_id=$1", 1, p);
	assert_string_equal(tenant, "unassigned");
	free(tenant);

	char *out = NULL;
	const char *l[] = {"tenant", "list", "--db", c->db, NULL};
	assert_int_equal(run_bin(l, NULL, &out), 0);
	assert_non_null(strstr(out, "reports waiting for a tenant"));
	free(out);

	const char *t[] = {"tenant", "add", "--db", c->db, "adoptco", "adopt.co.uk", NULL};
	assert_int_equal(run_bin(t, NULL, NULL), 0);
	tenant = q_str(c->db, "SELECT tenant FROM dmarcsift.v_reports WHERE report_id=$1", 1, p);
	assert_string_equal(tenant, "adoptco");
	free(tenant);
	assert_int_equal(q_int(c->db,
	                       "SELECT count(*) FROM dmarcsift.v_records WHERE report_id=$1 AND "
	                       "tenant='adoptco'",
	                       1, p),
	                 4);
}

static void test_database_unreachable(void **state)
{
	struct ctx *c = *state;
	char path[128];
	snprintf(path, sizeof path, "%s/unreach.xml", c->dir);
	write_report(path, "x.example", "unreach-1", "x.example", 1);
	const char *a[] = {"ingest", "--db",
	                   "host=/nonexistent-dir port=1 dbname=x connect_timeout=2", path, NULL};
	assert_int_equal(run_bin(a, NULL, NULL), 3);
}

static void test_usage_errors(void **state)
{
	(void)state;
	const char *a[] = {"ingest", NULL};
	assert_int_equal(run_bin(a, NULL, NULL), 2);
	const char *b[] = {"no-such-command", NULL};
	assert_int_equal(run_bin(b, NULL, NULL), 2);
	const char *h[] = {"ingest", "--help", NULL};
	char *out = NULL;
	assert_int_equal(run_bin(h, NULL, &out), 0);
	assert_non_null(strstr(out, "usage: dmarcsift ingest"));
	free(out);
}

/* Killing the process in the middle of a large report leaves no partial
 * report behind; running again ingests it whole. */
static void test_killed_mid_report(void **state)
{
	struct ctx *c = *state;
	const long n = 300000;
	char path[128];
	snprintf(path, sizeof path, "%s/big.xml", c->dir);
	write_report(path, "big.example", "big-1", "big.example", n);

	const char *a[] = {"ingest", "--db", c->db, "--quiet", path, NULL};
	pid_t pid = run_bin_async(a);
	/* Wait until its COPY is running, then kill it without warning. */
	int seen = 0;
	for (int i = 0; i < 2000 && !seen; i++) {
		seen = q_int(c->db,
		             "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY "
		             "dmarcsift.records%'",
		             0, NULL) > 0;
		if (!seen) {
			struct timespec ts = {0, 10 * 1000 * 1000};
			nanosleep(&ts, NULL);
		}
	}
	assert_true(seen);
	struct timespec ts = {0, 200 * 1000 * 1000};
	nanosleep(&ts, NULL);
	assert_int_equal(kill(pid, SIGKILL), 0);
	int status = 0;
	waitpid(pid, &status, 0);
	assert_true(WIFSIGNALED(status));

	const char *p[] = {"big-1"};
	/* The server notices the dead client; its transaction rolls back. */
	int64_t partial = -1;
	for (int i = 0; i < 500 && partial != 0; i++) {
		partial =
		    q_int(c->db,
		          "SELECT count(*) FROM dmarcsift.records r JOIN dmarcsift.reports p "
		          "ON p.tenant_id=r.tenant_id AND p.id=r.report_pk WHERE p.report_id=$1",
		          1, p);
		if (partial != 0)
			nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
	}
	assert_int_equal(partial, 0);
	assert_int_equal(
	    q_int(c->db, "SELECT count(*) FROM dmarcsift.v_reports WHERE report_id=$1", 1, p), 0);

	char *out = NULL;
	assert_int_equal(run_bin(a, NULL, &out), 0);
	free(out);
	assert_int_equal(
	    q_int(c->db, "SELECT records FROM dmarcsift.v_reports WHERE report_id=$1", 1, p), n);
	assert_int_equal(
	    q_int(c->db, "SELECT messages FROM dmarcsift.v_reports WHERE report_id=$1", 1, p),
	    n * (n + 1) / 2);
	assert_int_equal(
	    q_int(c->db, "SELECT count(*) FROM dmarcsift.v_records WHERE report_id=$1", 1, p), n);

	/* A file this large is streamed into the raw store; what is kept is the
	 * whole file, byte for byte. */
	size_t len = 0;
	char *bytes = slurp(path, &len);
	const char *src[] = {path};
	assert_int_equal(
	    q_int(c->db, "SELECT size FROM dmarcsift.raw_messages WHERE source=$1", 1, src), len);
	char *sha =
	    q_str(c->db, "SELECT sha256 FROM dmarcsift.raw_messages WHERE source=$1", 1, src);
	char cmd[512];
	snprintf(cmd, sizeof cmd, "sha256sum '%s' | cut -c1-64 > '%s/sum'", path, c->dir);
	assert_int_equal(system(cmd), 0);
	snprintf(cmd, sizeof cmd, "%s/sum", c->dir);
	char *sum = slurp(cmd, NULL);
	sum[64] = '\0';
	assert_string_equal(sha, sum);
	/* Stored as received (the column compresses it on the server). */
	assert_int_equal(q_int(c->db,
	                       "SELECT count(*) FROM dmarcsift.raw_messages WHERE source=$1"
	                       " AND encoding = 'identity' AND length(data) = size",
	                       1, src),
	                 1);
	assert_true(q_int(c->db,
	                  "SELECT pg_column_size(data) FROM dmarcsift.raw_messages WHERE source=$1",
	                  1, src) < (int64_t)len / 4);
	free(sum);
	free(sha);
	free(bytes);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_usage_errors),
	    cmocka_unit_test(test_summary_json_and_duplicates),
	    cmocka_unit_test(test_stdin),
	    cmocka_unit_test(test_reprocess_after_tenant_added),
	    cmocka_unit_test(test_unassigned_reports_move_to_new_tenant),
	    cmocka_unit_test(test_database_unreachable),
	    cmocka_unit_test(test_killed_mid_report),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
