/*
 * test_report: `dmarcsift report` on the bundled fixtures against a real
 * PostgreSQL (DMARCSIFT_TEST_DB).
 *
 *  - golden files: every format for the demo tenant and the MSP overview,
 *    compared byte for byte with fixtures/expected/ (refresh:
 *    DMARCSIFT_UPDATE_GOLDEN=1, see fixtures/expected/README.md);
 *  - the daily rollup equals the records it sums, also after a report moved
 *    tenant (`tenant add` after ingest);
 *  - a tenant's read scope sees only that tenant's rows, whatever the query;
 *  - text stays within 80 columns; the HTML charts hold one point per day
 *    with a rate and one bar per day (counted against the JSON output);
 *  - an empty period is a report that says so, with exit code 0.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "core/xalloc.h"
#include "db/db.h"
#include "db/report_read.h"
#include "reports/format.h"
#include "tests/support/run.h"
#include "tests/support/testdb.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FX       FIXTURES_DIR "/"
#define EXPECTED FIXTURES_DIR "/expected/"
#define SINCE    "2023-11-01"
#define UNTIL    "2026-11-30"
#define EPOCH    "1796083200" /* 2026-12-01T00:00:00Z */

static char *conninfo;

static void must_run(const char *const *args, char **out)
{
	int rc = run_bin(args, NULL, out);
	if (rc != 0)
		fail_msg("dmarcsift %s %s: exit %d", args[0], args[1] ? args[1] : "", rc);
}

static int setup(void **state)
{
	(void)state;
	if (testdb_create(&conninfo) != 0) {
		fprintf(stderr, "test_report: needs DMARCSIFT_TEST_DB\n");
		return -1;
	}
	setenv("SOURCE_DATE_EPOCH", EPOCH, 1);
	const char *t1[] = {"tenant",       "add",  "demo",   "example.com", "example.org",
	                    "shop.example", "--db", conninfo, NULL};
	const char *t2[] = {"tenant", "add", "quiet", "quiet.example", "--db", conninfo, NULL};
	/* demo's reading role: its report reads as it (roles are server-wide). */
	char role[64];
	snprintf(role, sizeof role, "dmarcsift_test_demo_%ld", (long)getpid());
	const char *g[] = {"tenant", "grant", "demo", role, "--db", conninfo, NULL};
	/* A fixed list, so fixtures added for other purposes do not move the goldens. */
	const char *ing[] = {"ingest",
	                     "--quiet",
	                     "--db",
	                     conninfo,
	                     FX "reports/rfc7489-basic.xml",
	                     FX "reports/rfc9990-namespace-extensions.xml",
	                     FX "reports/several-dkim-results.xml",
	                     FX "reports/softfail-policy-evaluated-nil-disposition.xml",
	                     FX "reports/ipv6-sources.xml",
	                     FX "reports/multi-week-date-range.xml",
	                     FX "reports/pascal-case-enums.xml",
	                     FX "mail/two-reports.eml",
	                     FX "mail/forwarded-rfc822.eml",
	                     FX "hostile/xml-begin-after-end.xml",
	                     NULL};
	const char *bn[] = {"bounces",
	                    "ingest",
	                    "--db",
	                    conninfo,
	                    FX "bounces/postfix.log",
	                    FX "bounces/postfix_spike.log",
	                    FX "bounces/exim_main.log",
	                    FX "bounces/dsn_multi.eml",
	                    FX "bounces/esp_export.csv",
	                    NULL};
	/* example.net's reports arrive before their tenant: they move. */
	const char *t3[] = {"tenant", "add", "late", "example.net", "--db", conninfo, NULL};
	char *out = NULL;
	if (run_bin(t1, NULL, &out) != 0 || (free(out), run_bin(t2, NULL, &out)) != 0 ||
	    (free(out), run_bin(g, NULL, &out)) != 0 ||
	    (free(out), run_bin(ing, NULL, &out)) != 1 || /* 1: the hostile input is quarantined */
	    (free(out), run_bin(bn, NULL, &out)) != 0 ||
	    (free(out), run_bin(t3, NULL, &out)) != 0) {
		free(out);
		return -1;
	}
	free(out);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	testdb_drop(conninfo);
	free(conninfo);
	return 0;
}

static void golden(const char *name, const char *got)
{
	char *path = xasprintf("%s%s", EXPECTED, name);
	const char *upd = getenv("DMARCSIFT_UPDATE_GOLDEN");
	if (upd && *upd == '1') {
		FILE *f = fopen(path, "w");
		assert_non_null(f);
		fputs(got, f);
		assert_int_equal(fclose(f), 0);
		fprintf(stderr, "test_report: wrote %s\n", path);
		free(path);
		return;
	}
	FILE *f = fopen(path, "r");
	if (!f)
		fail_msg("missing golden file %s (DMARCSIFT_UPDATE_GOLDEN=1 writes it)", path);
	fclose(f);
	char *want = slurp(path, NULL);
	if (strcmp(want, got) != 0) {
		/* Show the first differing line: that is what a reviewer needs. */
		const char *a = want, *b = got;
		int line = 1;
		while (*a && *a == *b) {
			if (*a == '\n')
				line++;
			a++;
			b++;
		}
		fail_msg("%s differs at line %d:\n  want: %.120s\n  got:  %.120s\n(refresh with "
		         "DMARCSIFT_UPDATE_GOLDEN=1 if the change is intended)",
		         path, line, a, b);
	}
	free(want);
	free(path);
}

static char *report(const char *who, const char *fmt, const char *table)
{
	const char *args[16];
	int n = 0;
	args[n++] = "report";
	if (strcmp(who, "--all-tenants") == 0) {
		args[n++] = "--all-tenants";
	} else {
		args[n++] = "--tenant";
		args[n++] = who;
	}
	args[n++] = "--since";
	args[n++] = SINCE;
	args[n++] = "--until";
	args[n++] = UNTIL;
	args[n++] = "--format";
	args[n++] = fmt;
	if (table) {
		args[n++] = "--table";
		args[n++] = table;
	}
	args[n++] = "--db";
	args[n++] = conninfo;
	args[n] = NULL;
	char *out = NULL;
	must_run(args, &out);
	return out;
}

static void test_golden_tenant(void **state)
{
	(void)state;
	static const char *const fmts[][3] = {{"text", NULL, "report-demo.txt"},
	                                      {"json", NULL, "report-demo.json"},
	                                      {"html", NULL, "report-demo.html"},
	                                      {"csv", "sources", "report-demo-sources.csv"},
	                                      {"csv", "daily", "report-demo-daily.csv"}};
	for (size_t i = 0; i < sizeof fmts / sizeof fmts[0]; i++) {
		char *out = report("demo", fmts[i][0], fmts[i][1]);
		golden(fmts[i][2], out);
		free(out);
	}
}

static void test_golden_overview(void **state)
{
	(void)state;
	static const char *const fmts[][3] = {{"text", NULL, "report-overview.txt"},
	                                      {"json", NULL, "report-overview.json"},
	                                      {"html", NULL, "report-overview.html"},
	                                      {"csv", "tenants", "report-overview-tenants.csv"}};
	for (size_t i = 0; i < sizeof fmts / sizeof fmts[0]; i++) {
		char *out = report("--all-tenants", fmts[i][0], fmts[i][1]);
		golden(fmts[i][2], out);
		free(out);
	}
}

static void test_rollup_matches_records(void **state)
{
	(void)state;
	/* Per tenant and day, the rollup holds exactly what the records sum to. */
	int64_t diff =
	    q_int(conninfo,
	          "SELECT count(*) FROM ("
	          " SELECT r.tenant_id, (r.begin_at AT TIME ZONE 'UTC')::date AS day,"
	          "        sum(x.count) AS m, count(*) AS n"
	          " FROM dmarcsift.records x JOIN dmarcsift.reports r"
	          "   ON r.tenant_id = x.tenant_id AND r.id = x.report_pk GROUP BY 1, 2) a"
	          " FULL JOIN (SELECT tenant_id, day, sum(messages) AS m, sum(records) AS n"
	          "   FROM dmarcsift.daily_rollup GROUP BY 1, 2) b USING (tenant_id, day)"
	          " WHERE a.m IS DISTINCT FROM b.m OR a.n IS DISTINCT FROM b.n",
	          0, NULL);
	assert_int_equal(diff, 0);
	/* The per-domain rollup (0026) holds daily_rollup's sums without the
	 * source address, row for row. */
	diff = q_int(conninfo,
	             "SELECT count(*) FROM ("
	             " SELECT tenant_id, day, policy_domain, dkim_pass, spf_pass,"
	             "        sum(messages) AS m, sum(records) AS n"
	             " FROM dmarcsift.daily_rollup GROUP BY 1, 2, 3, 4, 5) a"
	             " FULL JOIN dmarcsift.domain_rollup b"
	             "   USING (tenant_id, day, policy_domain, dkim_pass, spf_pass)"
	             " WHERE a.m IS DISTINCT FROM b.messages OR a.n IS DISTINCT FROM b.records",
	             0, NULL);
	assert_int_equal(diff, 0);
	/* The moved reports are counted under their new tenant only. */
	int64_t late = q_int(conninfo,
	                     "SELECT coalesce(sum(messages), 0) FROM dmarcsift.daily_rollup d"
	                     " JOIN dmarcsift.tenants t USING (tenant_id) WHERE t.name = 'late'",
	                     0, NULL);
	int64_t late_records = q_int(conninfo,
	                             "SELECT coalesce(sum(messages), 0) FROM dmarcsift.v_reports"
	                             " WHERE tenant = 'late'",
	                             0, NULL);
	assert_true(late > 0);
	assert_int_equal(late, late_records);
	assert_int_equal(
	    q_int(conninfo,
	          "SELECT count(*) FROM dmarcsift.daily_rollup d JOIN dmarcsift.tenants "
	          "t USING (tenant_id) WHERE t.name = 'unassigned' AND d.policy_domain "
	          "= 'example.net'",
	          0, NULL),
	    0);
}

static void test_tenant_scope_sees_only_its_rows(void **state)
{
	(void)state;
	struct db *db = NULL;
	struct err e = {0};
	bool isolated = false;
	assert_int_equal(db_connect(&db, conninfo, false, &e), 0);
	int64_t demo_id =
	    q_int(conninfo, "SELECT tenant_id FROM dmarcsift.tenants WHERE name = 'demo'", 0, NULL);
	int64_t demo_rows =
	    q_int(conninfo,
	          "SELECT count(*) FROM dmarcsift.records r JOIN dmarcsift.tenants t"
	          " USING (tenant_id) WHERE t.name = 'demo'",
	          0, NULL);
	int64_t all_rows = q_int(conninfo, "SELECT count(*) FROM dmarcsift.records", 0, NULL);
	assert_true(all_rows > demo_rows);
	/* A query without any tenant filter, as a buggy section would write it. */
	assert_int_equal(db_report_begin(db, (int)demo_id, &isolated, &e), 0);
	assert_true(isolated);
	PGresult *res = db_query(db, "SELECT count(*) FROM dmarcsift.records", 0, NULL);
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	assert_int_equal(strtoll(PQgetvalue(res, 0, 0), NULL, 10), demo_rows);
	PQclear(res);
	res = db_query(db, "SELECT count(DISTINCT tenant_id) FROM dmarcsift.daily_rollup", 0, NULL);
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	assert_string_equal(PQgetvalue(res, 0, 0), "1");
	PQclear(res);
	db_report_end(db);
	/* The scope ends with the report: the owner sees everything again. */
	res = db_query(db, "SELECT count(*) FROM dmarcsift.records", 0, NULL);
	assert_int_equal(strtoll(PQgetvalue(res, 0, 0), NULL, 10), all_rows);
	PQclear(res);
	db_close(db);
}

static void test_text_fits_80_columns(void **state)
{
	(void)state;
	const char *who[] = {"demo", "--all-tenants", "late", "quiet"};
	for (size_t i = 0; i < 4; i++) {
		char *out = report(who[i], "text", NULL);
		int line = 1;
		for (char *p = out; *p;) {
			char *nl = strchr(p, '\n');
			size_t n = nl ? (size_t)(nl - p) : strlen(p);
			char *l = xstrndup(p, n);
			if (report_text_width(l) > 80)
				fail_msg("%s: line %d is %zu columns: %s", who[i], line,
				         report_text_width(l), l);
			free(l);
			line++;
			p += n + (nl ? 1 : 0);
		}
		free(out);
	}
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

static void test_html_charts_match_the_data(void **state)
{
	(void)state;
	char *json = report("demo", "json", NULL);
	char *html = report("demo", "html", NULL);
	json_object *doc = json_tokener_parse(json);
	assert_non_null(doc);
	json_object *tables, *daily, *rows;
	assert_true(json_object_object_get_ex(doc, "tables", &tables));
	assert_true(json_object_object_get_ex(tables, "daily", &daily));
	assert_true(json_object_object_get_ex(daily, "rows", &rows));
	size_t days = json_object_array_length(rows), points = 0;
	static const char *const rates[] = {"dmarc_pass_rate", "dkim_pass_rate", "spf_pass_rate"};
	for (size_t i = 0; i < days; i++) {
		json_object *row = json_object_array_get_idx(rows, i), *v;
		for (size_t k = 0; k < 3; k++)
			if (json_object_object_get_ex(row, rates[k], &v) && v)
				points++;
	}
	assert_true(days > 0);
	assert_int_equal(count(html, "<circle class=\"pt\""), points);
	assert_int_equal(count(html, "<g class=\"bar\">"), days);
	assert_non_null(strstr(html, "content=\"default-src 'none'; style-src 'unsafe-inline'; "
	                             "img-src data:\""));
	assert_null(strstr(html, "<script"));
	assert_null(strstr(html, "http://www.w3.org/2000/svg\" href"));
	assert_non_null(strstr(html, "@media print"));
	json_object_put(doc);
	free(json);
	free(html);
}

static void test_empty_period_says_so(void **state)
{
	(void)state;
	const char *args[] = {"report",  "--tenant",   "demo", "--since", "2020-01-01",
	                      "--until", "2020-01-31", "--db", conninfo,  NULL};
	char *out = NULL;
	assert_int_equal(run_bin(args, NULL, &out), 0);
	assert_non_null(strstr(out, "No DMARC aggregate data for this tenant in this period."));
	free(out);
	const char *jargs[] = {"report", "--tenant", "quiet",  "--format",
	                       "json",   "--db",     conninfo, NULL};
	assert_int_equal(run_bin(jargs, NULL, &out), 0);
	json_object *doc = json_tokener_parse(out), *empty;
	assert_non_null(doc);
	assert_true(json_object_object_get_ex(doc, "empty", &empty));
	assert_true(json_object_get_boolean(empty));
	json_object_put(doc);
	free(out);
}

static void test_bad_options(void **state)
{
	(void)state;
	char *out = NULL;
	const char *a1[] = {"report", "--db", conninfo, NULL};
	assert_int_equal(run_bin(a1, NULL, &out), 2);
	free(out);
	const char *a2[] = {"report",     "--tenant", "demo",   "--since",
	                    "2023-02-30", "--db",     conninfo, NULL};
	assert_int_equal(run_bin(a2, NULL, &out), 2);
	free(out);
	const char *a3[] = {"report", "--tenant", "nobody", "--db", conninfo, NULL};
	assert_int_equal(run_bin(a3, NULL, &out), 2);
	free(out);
	const char *a4[] = {"report", "--tenant", "demo",   "--format",
	                    "csv",    "--db",     conninfo, NULL};
	assert_int_equal(run_bin(a4, NULL, &out), 2);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_golden_tenant),
	    cmocka_unit_test(test_golden_overview),
	    cmocka_unit_test(test_rollup_matches_records),
	    cmocka_unit_test(test_tenant_scope_sees_only_its_rows),
	    cmocka_unit_test(test_text_fits_80_columns),
	    cmocka_unit_test(test_html_charts_match_the_data),
	    cmocka_unit_test(test_empty_period_says_so),
	    cmocka_unit_test(test_bad_options),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
