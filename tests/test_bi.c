/*
 * test_bi: what BI tools see. Every view and every view column carries a
 * comment (Grafana and Metabase show them); v_daily adds up to the records;
 * and every panel query of contrib/grafana/dmarcsift.json (and its template
 * variable query) runs against the fixtures' database — as the MSP role and
 * as a tenant's reader role, the way a Grafana data source would connect —
 * and the data panels return rows.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "support/run.h"
#include "support/testdb.h"

#include <json-c/json.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef SOURCE_DIR
#define SOURCE_DIR FIXTURES_DIR "/.."
#endif

struct ctx {
	char *db;
	char reader[80], msp[80];
};

static void must(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(c));
	PQclear(r);
}

static char *as_user(const char *conninfo, const char *user)
{
	size_t n = strlen(conninfo) + strlen(user) + 8;
	char *s = malloc(n);
	assert_non_null(s);
	snprintf(s, n, "%s user=%s", conninfo, user);
	return s;
}

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof *c);
	assert_non_null(c);
	*state = NULL;
	if (testdb_create(&c->db) != 0) {
		free(c);
		return -1;
	}
	char *name = q_str(c->db, "SELECT current_database()", 0, NULL);
	snprintf(c->reader, sizeof c->reader, "bird_%s", name);
	snprintf(c->msp, sizeof c->msp, "bimsp_%s", name);
	free(name);
	/* The fixtures' database: the reports and the bounce logs, and two
	 * tenants owning their domains. */
	const char *ing[] = {"ingest", "--quiet", "--db", c->db, FIXTURES_DIR "/reports", NULL};
	int rc = run_bin(ing, NULL, NULL);
	assert_true(rc == 0 || rc == 1);
	const char *bi[] = {"bounces",
	                    "ingest",
	                    "--db",
	                    c->db,
	                    FIXTURES_DIR "/bounces/postfix_spike.log",
	                    FIXTURES_DIR "/bounces/postfix.log",
	                    NULL};
	assert_int_equal(run_bin(bi, NULL, NULL), 0);
	const char *t1[] = {"tenant", "add", "--db", c->db, "fx", "example.com", NULL};
	const char *t2[] = {"tenant", "add", "--db", c->db, "news", "example.org", NULL};
	assert_int_equal(run_bin(t1, NULL, NULL), 0);
	assert_int_equal(run_bin(t2, NULL, NULL), 0);
	const char *g[] = {"tenant", "grant", "--db", c->db, "fx", c->reader, "--login", NULL};
	assert_int_equal(run_bin(g, NULL, NULL), 0);
	PGconn *su = PQconnectdb(c->db);
	char sql[200];
	snprintf(sql, sizeof sql, "CREATE ROLE %s LOGIN IN ROLE dmarcsift_msp", c->msp);
	must(su, sql);
	PQfinish(su);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;
	if (!c)
		return 0;
	testdb_drop(c->db);
	PGconn *su = PQconnectdb(c->db);
	/* testdb_drop dropped the database; the server connection string
	 * names it, so reconnect through the test server's own string. */
	PQfinish(su);
	su = PQconnectdb(getenv("DMARCSIFT_TEST_DB"));
	char sql[200];
	snprintf(sql, sizeof sql, "DROP ROLE IF EXISTS %s", c->reader);
	PQclear(PQexec(su, sql));
	snprintf(sql, sizeof sql, "DROP ROLE IF EXISTS %s", c->msp);
	PQclear(PQexec(su, sql));
	PQfinish(su);
	free(c->db);
	free(c);
	return 0;
}

static void test_every_view_column_commented(void **state)
{
	struct ctx *c = *state;
	char *missing = q_str(
	    c->db,
	    "SELECT coalesce(string_agg(x, ', '), '') FROM ("
	    " SELECT v.relname AS x FROM pg_class v JOIN pg_namespace n ON n.oid = v.relnamespace"
	    " WHERE n.nspname = 'dmarcsift' AND v.relkind IN ('v', 'm')"
	    "  AND obj_description(v.oid, 'pg_class') IS NULL"
	    " UNION ALL"
	    " SELECT v.relname || '.' || a.attname FROM pg_class v"
	    " JOIN pg_namespace n ON n.oid = v.relnamespace"
	    " JOIN pg_attribute a ON a.attrelid = v.oid AND a.attnum > 0 AND NOT a.attisdropped"
	    " WHERE n.nspname = 'dmarcsift' AND v.relkind IN ('v', 'm')"
	    "  AND col_description(v.oid, a.attnum) IS NULL) m",
	    0, NULL);
	if (*missing)
		fail_msg("views or view columns without a COMMENT: %s", missing);
	free(missing);
	/* Not vacuous: the views are there. */
	assert_true(
	    q_int(c->db,
	          "SELECT count(*) FROM pg_class v JOIN pg_namespace n ON"
	          " n.oid = v.relnamespace WHERE n.nspname = 'dmarcsift' AND v.relkind = 'v'",
	          0, NULL) >= 7);
}

static void test_daily_adds_up(void **state)
{
	struct ctx *c = *state;
	/* Computed two ways: the rollup against the raw tables. */
	int64_t daily = q_int(c->db, "SELECT sum(messages) FROM dmarcsift.v_daily", 0, NULL);
	int64_t raw = q_int(c->db, "SELECT sum(count) FROM dmarcsift.records", 0, NULL);
	assert_true(raw > 0);
	assert_int_equal(daily, raw);
	int64_t pass = q_int(c->db, "SELECT sum(dmarc_pass) FROM dmarcsift.v_daily", 0, NULL);
	int64_t raw_pass = q_int(
	    c->db, "SELECT sum(count) FROM dmarcsift.records WHERE dkim = 'pass' OR spf = 'pass'",
	    0, NULL);
	assert_int_equal(pass, raw_pass);
	assert_int_equal(q_int(c->db,
	                       "SELECT count(*) FROM (SELECT tenant, day, policy_domain, source_ip"
	                       " FROM dmarcsift.v_daily GROUP BY 1, 2, 3, 4 HAVING count(*) > 1) d",
	                       0, NULL),
	                 0);
}

/* Grafana's macros and variables, as Grafana would expand them. */
static char *expand(const char *sql)
{
	size_t cap = strlen(sql) * 4 + 256, k = 0;
	char *out = calloc(1, cap);
	assert_non_null(out);
	for (const char *p = sql; *p;) {
		if (strncmp(p, "$__timeFilter(", 14) == 0) {
			const char *e = strchr(p, ')');
			assert_non_null(e);
			k += (size_t)snprintf(out + k, cap - k,
			                      "%.*s BETWEEN '1970-01-01T00:00:00Z' AND "
			                      "'2100-01-01T00:00:00Z'",
			                      (int)(e - p - 14), p + 14);
			p = e + 1;
		} else if (strncmp(p, "${tenant:sqlstring}", 19) == 0) {
			k += (size_t)snprintf(out + k, cap - k, "'fx','news'");
			p += 19;
		} else {
			assert_true(*p != '$'); /* a macro this test does not know */
			out[k++] = *p++;
		}
		assert_true(k < cap - 1);
	}
	return out;
}

static int run_as(const char *conninfo, const char *sql, int *rows)
{
	PGconn *c = PQconnectdb(conninfo);
	if (PQstatus(c) != CONNECTION_OK)
		fail_msg("cannot connect: %s", PQerrorMessage(c));
	PGresult *r = PQexec(c, sql);
	int ok = PQresultStatus(r) == PGRES_TUPLES_OK;
	if (!ok)
		fprintf(stderr, "query failed: %s\n%s\n", PQerrorMessage(c), sql);
	*rows = ok ? PQntuples(r) : -1;
	PQclear(r);
	PQfinish(c);
	return ok;
}

static void test_grafana_panels_run(void **state)
{
	struct ctx *c = *state;
	json_object *d = json_object_from_file(SOURCE_DIR "/contrib/grafana/dmarcsift.json");
	assert_non_null(d);
	char *msp = as_user(c->db, c->msp), *reader = as_user(c->db, c->reader);
	json_object *panels = NULL, *tmpl = NULL, *list = NULL;
	assert_true(json_object_object_get_ex(d, "panels", &panels));
	size_t n = json_object_array_length(panels), queries = 0;
	assert_true(n >= 6);
	for (size_t i = 0; i < n; i++) {
		json_object *p = json_object_array_get_idx(panels, i), *targets = NULL,
		            *title = NULL;
		assert_true(json_object_object_get_ex(p, "targets", &targets));
		assert_true(json_object_object_get_ex(p, "title", &title));
		for (size_t t = 0; t < json_object_array_length(targets); t++) {
			json_object *raw = NULL;
			assert_true(json_object_object_get_ex(json_object_array_get_idx(targets, t),
			                                      "rawSql", &raw));
			char *sql = expand(json_object_get_string(raw));
			int rows_msp = 0, rows_reader = 0;
			if (!run_as(msp, sql, &rows_msp) || !run_as(reader, sql, &rows_reader))
				fail_msg("panel '%s' fails", json_object_get_string(title));
			/* Every panel shows something on the fixtures for the MSP. */
			if (rows_msp < 1)
				fail_msg("panel '%s' is empty", json_object_get_string(title));
			queries++;
			free(sql);
		}
	}
	assert_int_equal(queries, n);
	/* The tenant picker: the MSP sees both tenants, the reader its own. */
	assert_true(json_object_object_get_ex(d, "templating", &tmpl));
	assert_true(json_object_object_get_ex(tmpl, "list", &list));
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		json_object *v = json_object_array_get_idx(list, i), *q = NULL, *name = NULL;
		json_object_object_get_ex(v, "name", &name);
		if (strcmp(json_object_get_string(name), "tenant") != 0)
			continue;
		assert_true(json_object_object_get_ex(v, "query", &q));
		int rows = 0;
		assert_true(run_as(msp, json_object_get_string(q), &rows));
		assert_true(rows >= 2);
		assert_true(run_as(reader, json_object_get_string(q), &rows));
		assert_int_equal(rows, 1);
	}
	free(msp);
	free(reader);
	json_object_put(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_view_column_commented),
	    cmocka_unit_test(test_daily_adds_up),
	    cmocka_unit_test(test_grafana_panels_run),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
