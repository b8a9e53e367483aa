/*
 * test_migrate: migrations against a real PostgreSQL (DMARCSIFT_TEST_DB).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "db/db.h"
#include "db/migrate.h"
#include "tests/support/dbfx.h"
#include "tests/support/testdb.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Asserts success, showing the error when there is one. */
#define OK(call, e)                                                                                \
	do {                                                                                       \
		if ((call) != 0)                                                                   \
			fail_msg("%s: %s", #call, (e).msg);                                        \
	} while (0)

static int n_embedded(void)
{
	int n = 0;
	for (const struct migration *m = migrate_embedded; m->name; m++)
		n++;
	return n;
}

static int64_t scalar(struct db *db, const char *sql)
{
	PGresult *res = db_query(db, sql, 0, NULL);
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	assert_int_equal(PQntuples(res), 1);
	int64_t v = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return v;
}

static void test_embedded_in_order(void **state)
{
	(void)state;
	assert_true(n_embedded() >= 1);
	assert_string_equal(migrate_embedded[0].name, "0001_init");
	for (const struct migration *m = migrate_embedded; m->name && m[1].name; m++)
		assert_true(strcmp(m->name, m[1].name) < 0);
}

static void test_apply_reapply(void **state)
{
	(void)state;
	char *ci = NULL;
	struct db *db = NULL;
	struct err e = {0};
	int applied = -1;

	assert_int_equal(testdb_create(&ci), 0);
	OK(db_connect(&db, ci, false, &e), e);
	assert_int_equal(
	    scalar(db, "SELECT count(*) FROM pg_namespace WHERE nspname = 'dmarcsift'"), 0);

	OK(migrate_apply(db, &applied, &e), e);
	assert_int_equal(applied, n_embedded());
	/* Every embedded migration recorded, by name. */
	assert_int_equal(scalar(db, "SELECT count(*) FROM dmarcsift.schema_migrations"),
	                 n_embedded());
	for (const struct migration *m = migrate_embedded; m->name; m++) {
		const char *p[1] = {m->name};
		PGresult *res = db_query(
		    db, "SELECT count(*) FROM dmarcsift.schema_migrations WHERE version = $1", 1,
		    p);
		assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
		assert_string_equal(PQgetvalue(res, 0, 0), "1");
		PQclear(res);
	}
	/* What 0001 promises. */
	assert_int_equal(scalar(db, "SELECT count(*) FROM dmarcsift.tenants WHERE tenant_id = 0"
	                            " AND name = 'unassigned'"),
	                 1);
	assert_int_equal(scalar(db, "SELECT count(*) FROM pg_views WHERE schemaname = 'dmarcsift'"
	                            " AND viewname IN ('v_reports', 'v_records', 'v_failures')"),
	                 3);
	assert_int_equal(scalar(db, "SELECT count(*) FROM pg_roles WHERE rolname = "
	                            "'dmarcsift_reader'"),
	                 1);

	/* Again: nothing to do, nothing changes. */
	OK(migrate_apply(db, &applied, &e), e);
	assert_int_equal(applied, 0);
	assert_int_equal(scalar(db, "SELECT count(*) FROM dmarcsift.schema_migrations"),
	                 n_embedded());
	/* A new connection that migrates finds nothing to do either. */
	db_close(db);
	db = NULL;
	OK(db_connect(&db, ci, true, &e), e);
	OK(migrate_apply(db, &applied, &e), e);
	assert_int_equal(applied, 0);
	db_close(db);
	testdb_drop(ci);
	free(ci);
}

static void test_connect_migrates(void **state)
{
	(void)state;
	char *ci = NULL;
	struct db *db = NULL;
	struct err e = {0};

	assert_int_equal(testdb_create(&ci), 0);
	OK(db_connect(&db, ci, true, &e), e);
	assert_int_equal(scalar(db, "SELECT count(*) FROM dmarcsift.schema_migrations"),
	                 n_embedded());
	/* search_path is pinned to our schema. */
	PGresult *res = db_query(db, "SHOW search_path", 0, NULL);
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	assert_string_equal(PQgetvalue(res, 0, 0), "dmarcsift, pg_catalog");
	PQclear(res);
	assert_int_equal(scalar(db, "SELECT count(*) FROM tenants"), 1);
	db_close(db);
	testdb_drop(ci);
	free(ci);
}

/* A database migrated by a newer dmarcsift (a migration this binary does
 * not know) is refused as the user's setup, not written into. */
static void test_newer_schema_refused(void **state)
{
	(void)state;
	char *ci = NULL;
	struct db *db = NULL;
	struct err e = {0};
	int applied = 0;

	assert_int_equal(testdb_create(&ci), 0);
	OK(db_connect(&db, ci, true, &e), e);
	OK(db_exec(db, "INSERT INTO dmarcsift.schema_migrations VALUES ('9999_future')", &e), e);
	assert_int_equal(migrate_apply(db, &applied, &e), -1);
	assert_int_equal(e.kind, ERR_CONFIG);
	assert_non_null(strstr(e.msg, "9999_future"));
	assert_non_null(strstr(e.msg, "newer than this dmarcsift"));
	db_close(db);
	db = NULL;
	err_clear(&e);
	/* Every connection that would migrate refuses too. */
	assert_int_equal(db_connect(&db, ci, true, &e), -1);
	assert_int_equal(e.kind, ERR_CONFIG);
	testdb_drop(ci);
	free(ci);
}

/* Several processes migrating one fresh database at once (a cron poll
 * racing a manual ingest): the advisory lock lets each migration run once. */
static void test_concurrent_migrators(void **state)
{
	(void)state;
	char *ci = NULL;
	enum { K = 4 };
	pid_t pids[K];

	assert_int_equal(testdb_create(&ci), 0);
	for (int i = 0; i < K; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			struct db *db = NULL;
			struct err e = {0};
			int rc = db_connect(&db, ci, true, &e);
			if (rc != 0)
				fprintf(stderr, "migrator %d: %s\n", i, e.msg);
			db_close(db);
			_exit(rc == 0 ? 0 : 1);
		}
	}
	for (int i = 0; i < K; i++) {
		int st = 0;
		assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 0);
	}
	struct db *db = NULL;
	struct err e = {0};
	OK(db_connect(&db, ci, false, &e), e);
	assert_int_equal(scalar(db, "SELECT count(*) FROM dmarcsift.schema_migrations"),
	                 n_embedded());
	assert_int_equal(scalar(db, "SELECT count(*) FROM dmarcsift.tenants"), 1);
	db_close(db);
	testdb_drop(ci);
	free(ci);
}

static void test_unreachable_is_retry(void **state)
{
	(void)state;
	struct db *db = NULL;
	struct err e = {0};

	assert_int_equal(
	    db_connect(&db, "host=/nonexistent-dmarcsift-socket-dir dbname=x connect_timeout=2",
	               true, &e),
	    -1);
	assert_null(db);
	assert_int_equal(e.kind, ERR_RETRY);
	assert_true(strncmp(e.msg, "database unreachable: ", 22) == 0);
	assert_null(strchr(e.msg, '\n'));

	err_clear(&e);
	assert_int_equal(db_connect(&db, "this is = not a conninfo", true, &e), -1);
	assert_int_equal(e.kind, ERR_CONFIG);
	assert_non_null(strstr(e.msg, "invalid database connection string"));
}

static void test_check_maps_sqlstate(void **state)
{
	(void)state;
	char *ci = NULL;
	struct db *db = NULL;
	struct err e = {0};

	assert_int_equal(testdb_create(&ci), 0);
	OK(db_connect(&db, ci, true, &e), e);
	/* A data exception (22P02) is the input's fault. */
	PGresult *res = db_query(db, "SELECT 'nope'::inet", 0, NULL);
	assert_int_equal(db_check(db, &res, PGRES_TUPLES_OK, "casting", &e), -1);
	assert_int_equal(e.kind, ERR_INPUT);
	assert_string_equal(e.sqlstate, "22P02");
	assert_non_null(strstr(e.msg, "casting: invalid input syntax for type inet"));
	/* A serialization failure is retryable; first error wins otherwise. */
	struct err e2 = {0};
	res = db_query(db, "DO $$BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = '40001'; END$$",
	               0, NULL);
	assert_int_equal(db_check(db, &res, PGRES_COMMAND_OK, "tx", &e2), -1);
	assert_int_equal(e2.kind, ERR_RETRY);
	assert_string_equal(e2.sqlstate, "40001");
	res = db_query(db, "SELECT 1/0", 0, NULL);
	assert_int_equal(db_check(db, &res, PGRES_TUPLES_OK, "dividing", &e2), -1);
	assert_int_equal(e2.kind, ERR_RETRY);
	assert_string_equal(e2.sqlstate, "40001");
	assert_non_null(strstr(e2.msg, "conflict"));
	db_close(db);
	testdb_drop(ci);
	free(ci);
}

/* Records of one report, each failing differently: DKIM unsigned or with
 * signatures (lower-cased domain and result, selector as sent), SPF checked
 * or not, a header From missing, a count of 0. $1: the report's id. */
static const char source_fails_records[] =
    "INSERT INTO dmarcsift.records (tenant_id, report_pk, seq, source_ip, count, disposition,"
    " dkim, spf, header_from, dkim_auth, spf_auth)"
    " SELECT 0, $1::bigint, v.seq, v.ip::inet, v.n, 'none', v.dkim, v.spf, v.hf, v.da::jsonb,"
    " v.sa::jsonb FROM (VALUES"
    " (1, '192.0.2.1', 5, 'fail', 'pass', 'Example.COM',"
    "  '[{\"domain\": \"Esp.NET\", \"selector\": \"s1\", \"result\": \"pass\"},"
    "    {\"domain\": \"example.com\", \"selector\": \"Sel\", \"result\": \"FAIL\"}]', '[]'),"
    " (2, '192.0.2.1', 3, 'fail', 'fail', 'example.com', '[]',"
    "  '[{\"domain\": \"bounce.esp.net\", \"result\": \"pass\"}]'),"
    " (3, '192.0.2.1', 2, 'fail', 'pass', 'example.com',"
    "  '[{\"domain\": \"esp.net\", \"selector\": \"s1\", \"result\": \"pass\"}]', '[]'),"
    " (4, '192.0.2.2', 7, 'pass', 'pass', 'example.com', '[]', '[]'),"
    " (5, '192.0.2.3', 0, 'none', 'pass', NULL, '{}', '[]')"
    ") v(seq, ip, n, dkim, spf, hf, da, sa) WHERE v.seq BETWEEN $2::int AND $3::int";

static int64_t add_source_fails_report(struct db *db, const char *id, const char *const *seqs,
                                       int n)
{
	const char *p[1] = {id};
	PGresult *res =
	    db_query(db,
	             "INSERT INTO dmarcsift.reports (tenant_id, org_name, report_id,"
	             " policy_domain, begin_at, end_at, schema) VALUES (0, 'google.com',"
	             " $1, 'example.com', '2026-11-01', '2026-11-02', 'rfc7489')"
	             " RETURNING id",
	             1, p);
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	int64_t pk = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	char pks[24];
	snprintf(pks, sizeof pks, "%lld", (long long)pk);
	PQclear(res);
	/* One statement per range: a report's records may arrive in several. */
	for (int i = 0; i + 1 < n; i += 2) {
		const char *q[3] = {pks, seqs[i], seqs[i + 1]};
		res = db_query(db, source_fails_records, 3, q);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			fail_msg("inserting records: %s", PQresultErrorMessage(res));
		PQclear(res);
	}
	return pk;
}

/* 0030 moved the failing identifiers from record_auth_fails onto the
 * record_sources rows: what it carried over from the old table is what the
 * new trigger writes for the same records, exactly — also when a report's
 * records arrive in two statements (the arrays are merged). */
static void test_source_fails_carried_over(void **state)
{
	(void)state;
	char *ci = NULL;
	struct db *db = NULL;
	struct err e = {0};
	static const char *const whole[] = {"1", "5"}, *const split[] = {"1", "1", "2", "5"};

	assert_int_equal(testdb_create(&ci), 0);
	OK(db_connect(&db, ci, false, &e), e);
	OK(migrate_apply_before(db, "0030_source_fails", NULL, &e), e);
	assert_int_equal(scalar(db, "SELECT count(*) FROM dmarcsift.schema_migrations"
	                            " WHERE version >= '0030'"),
	                 0);
	int64_t old = add_source_fails_report(db, "before", whole, 2);
	assert_int_equal(scalar(db, "SELECT count(*) FROM dmarcsift.record_auth_fails"), 5);
	OK(migrate_apply(db, NULL, &e), e);
	assert_int_equal(scalar(db, "SELECT count(*) FROM pg_catalog.pg_class"
	                            " WHERE relname = 'record_auth_fails'"),
	                 0);
	int64_t new = add_source_fails_report(db, "after", split, 4);
	assert_true(new != old);

	/* Three sources each, the same arrays. */
	assert_int_equal(scalar(db, "SELECT count(*) FROM dmarcsift.record_sources"), 6);
	assert_int_equal(scalar(db,
	                        "SELECT count(*) FROM dmarcsift.record_sources a"
	                        " JOIN dmarcsift.record_sources b ON b.report_pk <> a.report_pk"
	                        " AND b.source_ip = a.source_ip AND b.header_from = a.header_from"
	                        " AND b.messages = a.messages"
	                        " AND b.fails IS NOT DISTINCT FROM a.fails"),
	                 6);
	/* And what they are. */
	PGresult *res = db_query(
	    db,
	    "SELECT host(source_ip) || ' ' || header_from || ' ' || coalesce(fails::text, '-')"
	    " FROM dmarcsift.record_sources WHERE report_pk = (SELECT max(report_pk)"
	    " FROM dmarcsift.record_sources) ORDER BY source_ip",
	    0, NULL);
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	assert_int_equal(PQntuples(res), 3);
	assert_string_equal(
	    PQgetvalue(res, 0, 0),
	    "192.0.2.1 example.com "
	    "[{\"kind\": \"dkim\", \"domain\": \"\", \"result\": \"none\", \"messages\": 3, "
	    "\"selector\": \"\"}, "
	    "{\"kind\": \"dkim\", \"domain\": \"esp.net\", \"result\": \"pass\", \"messages\": 7, "
	    "\"selector\": \"s1\"}, "
	    "{\"kind\": \"dkim\", \"domain\": \"example.com\", \"result\": \"fail\", \"messages\": "
	    "5, "
	    "\"selector\": \"Sel\"}, "
	    "{\"kind\": \"spf\", \"domain\": \"bounce.esp.net\", \"result\": \"pass\", "
	    "\"messages\": 3, \"selector\": \"\"}]");
	assert_string_equal(PQgetvalue(res, 1, 0), "192.0.2.2 example.com -");
	assert_string_equal(PQgetvalue(res, 2, 0),
	                    "192.0.2.3  [{\"kind\": \"dkim\", \"domain\": \"\", \"result\": "
	                    "\"none\", \"messages\": 0, \"selector\": \"\"}]");
	PQclear(res);
	db_close(db);
	testdb_drop(ci);
	free(ci);
}

/* 0031: the statement triggers that derive rows at ingest run without JIT
 * compilation (a large report's transition table made each compile its
 * plan first), every one of them: a trigger added later is held to it too. */
static void test_ingest_triggers_without_jit(void **state)
{
	struct dbfx *f = *state;
	static const char triggers[] =
	    "FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_proc p ON p.oid = t.tgfoid"
	    " WHERE t.tgrelid IN ('dmarcsift.records'::regclass, 'dmarcsift.bounces'::regclass,"
	    " 'dmarcsift.record_sources'::regclass)"
	    " AND NOT t.tgisinternal AND (t.tgtype & 1) = 0"; /* 1: FOR EACH ROW */
	char sql[512];

	snprintf(sql, sizeof sql, "SELECT count(*) %s", triggers);
	assert_true(dbfx_qint(f->db, sql, 0, NULL) >= 7);
	snprintf(sql, sizeof sql,
	         "SELECT count(*) %s AND NOT coalesce('jit=off' = ANY (p.proconfig), false)",
	         triggers);
	dbfx_assert_q(f->db, sql, NULL, "0");
}

/* 0032: a report's records and per-source sums follow it by triggers on
 * reports, without foreign keys checked per inserted row: a report moved to
 * another tenant takes them along (with its rollup rows, whose triggers run
 * before), a deleted one takes them away, another report's stay. */
static void test_report_children_follow(void **state)
{
	struct dbfx *f = *state;
	static const char *const all[] = {"1", "5"};
	/* Rows per tenant: records, record_sources (+100), rolled-up records (+200). */
	static const char per_tenant[] =
	    "SELECT string_agg(format('%s:%s', tenant_id, n), ' ' ORDER BY tenant_id) FROM ("
	    " SELECT tenant_id, count(*) AS n FROM dmarcsift.records GROUP BY 1 UNION ALL"
	    " SELECT tenant_id + 100, count(*) FROM dmarcsift.record_sources GROUP BY 1 UNION ALL"
	    " SELECT tenant_id + 200, sum(records) FROM dmarcsift.daily_rollup GROUP BY 1) x";

	dbfx_assert_q(f->db,
	              "SELECT count(*) FROM pg_catalog.pg_constraint"
	              " WHERE contype = 'f' AND confrelid = 'dmarcsift.reports'::regclass"
	              " AND conrelid IN ('dmarcsift.records'::regclass,"
	              " 'dmarcsift.record_sources'::regclass)",
	              NULL, "0");
	int64_t moved = add_source_fails_report(f->db, "moved", all, 2);
	int64_t kept = add_source_fails_report(f->db, "kept", all, 2);
	dbfx_assert_q(f->db, per_tenant, NULL, "0:10 100:6 200:10");

	char id[24], kid[24];
	snprintf(id, sizeof id, "%lld", (long long)moved);
	snprintf(kid, sizeof kid, "%lld", (long long)kept);
	const char *p[1] = {id};
	int64_t other =
	    dbfx_qint(f->db,
	              "WITH t AS (INSERT INTO dmarcsift.tenants (name) VALUES ('other')"
	              " RETURNING tenant_id), u AS (UPDATE dmarcsift.reports"
	              " SET tenant_id = (SELECT tenant_id FROM t) WHERE id = $1::bigint)"
	              " SELECT tenant_id FROM t",
	              1, p);
	char want[96];
	snprintf(want, sizeof want, "0:5 %lld:5 100:3 %lld:3 200:5 %lld:5", (long long)other,
	         (long long)other + 100, (long long)other + 200);
	dbfx_assert_q(f->db, per_tenant, NULL, want);
	dbfx_assert_q(f->db,
	              "SELECT count(*) FROM dmarcsift.records x JOIN dmarcsift.reports r"
	              " ON r.tenant_id = x.tenant_id AND r.id = x.report_pk",
	              NULL, "10");

	dbfx_assert_q(f->db,
	              "WITH d AS (DELETE FROM dmarcsift.reports WHERE id = $1::bigint RETURNING 1)"
	              " SELECT count(*) FROM d",
	              id, "1");
	dbfx_assert_q(f->db, per_tenant, NULL, "0:5 100:3 200:5");
	dbfx_assert_q(f->db,
	              "SELECT count(*) FROM dmarcsift.record_sources WHERE report_pk = $1::bigint",
	              kid, "3");
}

/* 0033: the tables the ingest's statement triggers write (records ->
 * record_sources and the two rollups, bounces -> bounce_days, both -> the
 * correlation queue) carry no foreign key: each would be checked once per
 * derived row, and their rows are derived from rows whose tenant and report
 * are known to exist. test_tenant_lifecycle checks that removing a tenant
 * still leaves none of their rows behind. */
static void test_derived_tables_unkeyed(void **state)
{
	struct dbfx *f = *state;

	dbfx_assert_q(f->db,
	              "SELECT coalesce(string_agg(conrelid::regclass::text, ' '"
	              " ORDER BY conrelid::regclass::text), 'none')"
	              " FROM pg_catalog.pg_constraint WHERE contype = 'f' AND conrelid IN ("
	              "'dmarcsift.record_sources'::regclass, 'dmarcsift.daily_rollup'::regclass,"
	              " 'dmarcsift.domain_rollup'::regclass, 'dmarcsift.bounce_days'::regclass,"
	              " 'dmarcsift.correlate_dirty'::regclass)",
	              NULL, "none");
}

/* The SQLSTATE a statement fails with, in `st` ("" when it does not fail). */
static const char *sqlstate_of(struct db *db, const char *sql, char st[8])
{
	PGresult *res = PQexec(db_pg(db), sql);
	const char *f = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	snprintf(st, 8, "%s", f ? f : "");
	PQclear(res);
	return st;
}

/* The views over reports: ours, and two of a BI schema (one over the other
 * and over ours), as a reader and a BI tool see them. */
static const char views_seen[] =
    "SELECT string_agg(format('%s.%s|%s|%s|%s|%s|%s', c.relnamespace::regnamespace, c.relname,"
    " pg_get_viewdef(c.oid), c.reloptions, pg_get_userbyid(c.relowner),"
    " obj_description(c.oid, 'pg_class'), (SELECT string_agg(format('%s %s',"
    " x.grantee::regrole, x.privilege_type), ',' ORDER BY 1) FROM aclexplode(c.relacl) x))"
    " || (SELECT string_agg(format('%s:%s:%s', a.attname, col_description(c.oid, a.attnum),"
    " a.attacl), ',' ORDER BY a.attnum) FROM pg_attribute a"
    " WHERE a.attrelid = c.oid AND a.attnum > 0), E'\\n'"
    " ORDER BY c.relnamespace::regnamespace::text, c.relname)"
    " FROM pg_class c WHERE (c.relnamespace = 'dmarcsift'::regnamespace"
    " AND c.relname IN ('v_reports', 'v_records', 'v_daily', 'v_sources'))"
    " OR c.relnamespace = 'bi'::regnamespace";

/* An installation's own views over reports and over our views. */
static const char bi_views[] =
    "CREATE SCHEMA bi;"
    "CREATE VIEW bi.small WITH (security_barrier = true) AS"
    " SELECT report_id, records, schema FROM dmarcsift.reports WHERE policy_domain LIKE '%.%';"
    "CREATE VIEW bi.both_ AS SELECT s.report_id, v.tenant, s.records"
    " FROM bi.small s JOIN dmarcsift.v_reports v USING (report_id);"
    "COMMENT ON VIEW bi.small IS 'the small ones';"
    "COMMENT ON COLUMN bi.both_.tenant IS 'whose';"
    "GRANT SELECT ON bi.both_ TO PUBLIC;"
    "GRANT SELECT (report_id) ON bi.small TO PUBLIC;"
    "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ds_test_bi') THEN"
    " CREATE ROLE ds_test_bi NOLOGIN; END IF; END $$;"
    "ALTER VIEW bi.both_ OWNER TO ds_test_bi";

/* 0036: the value checks of reports and raw_messages moved from table CHECK
 * constraints to domains refuse what they refused and allow what they
 * allowed, and the views rebuilt around the change are what they were. */
static void test_check_domains(void **state)
{
	(void)state;
	char *ci = NULL;
	struct db *db = NULL;
	struct err e = {0};
	/* Each refused before 0036 and after. */
	static const char *const refused[] = {
	    "INSERT INTO dmarcsift.raw_messages (sha256, size, data)"
	    " VALUES (repeat('A', 64), 1, 'x')",
	    "INSERT INTO dmarcsift.raw_messages (sha256, size, data)"
	    " VALUES (repeat('a', 63), 1, 'x')",
	    "INSERT INTO dmarcsift.raw_messages (sha256, size, data)"
	    " VALUES (repeat('b', 64), -1, 'x')",
	    "INSERT INTO dmarcsift.raw_messages (sha256, size, data, status)"
	    " VALUES (repeat('c', 64), 1, 'x', 'done')",
	    "INSERT INTO dmarcsift.raw_messages (sha256, size, data, encoding)"
	    " VALUES (repeat('d', 64), 1, 'x', 'gzip')",
	    "UPDATE dmarcsift.raw_messages SET status = 'lost'",
	    "INSERT INTO dmarcsift.reports (tenant_id, org_name, report_id, policy_domain, "
	    "begin_at, end_at,"
	    " schema) VALUES (0, 'o', 'r1', 'd', now(), now(), 'rfc9999')",
	    "INSERT INTO dmarcsift.reports (tenant_id, org_name, report_id, policy_domain, "
	    "begin_at, end_at,"
	    " schema, pct) VALUES (0, 'o', 'r2', 'd', now(), now(), 'rfc7489', 101)",
	    "INSERT INTO dmarcsift.reports (tenant_id, org_name, report_id, policy_domain, "
	    "begin_at, end_at,"
	    " schema, pct) VALUES (0, 'o', 'r3', 'd', now(), now(), 'rfc7489', -1)",
	    "INSERT INTO dmarcsift.reports (tenant_id, org_name, report_id, policy_domain, "
	    "begin_at, end_at,"
	    " schema, records) VALUES (0, 'o', 'r4', 'd', now(), now(), 'rfc7489', -1)",
	    "INSERT INTO dmarcsift.reports (tenant_id, org_name, report_id, policy_domain, "
	    "begin_at, end_at,"
	    " schema) VALUES (0, 'o', 'r5', 'd', now(), now() - interval '1 s', 'rfc7489')",
	    "UPDATE dmarcsift.reports SET messages = -5",
	};
	static const char allowed[] =
	    "INSERT INTO dmarcsift.raw_messages (sha256, size, data, status, encoding)"
	    " VALUES (repeat('e', 64), 0, 'x', 'dismissed', 'identity');"
	    "INSERT INTO dmarcsift.reports (tenant_id, org_name, report_id, policy_domain, "
	    "begin_at, end_at,"
	    " schema, pct, records, messages) VALUES (0, 'o', 'ok', 'd', now(), now(), 'rfc9990',"
	    " NULL, 0, 0), (0, 'o', 'ok2', 'd', now(), now(), 'rfc7489', 100, 3, 7)";

	assert_int_equal(testdb_create(&ci), 0);
	OK(db_connect(&db, ci, false, &e), e);
	OK(migrate_apply_before(db, "0036_check_domains", NULL, &e), e);
	OK(db_exec(db, bi_views, &e), e);
	char *before = dbfx_q1(db, views_seen, 0, NULL);
	assert_non_null(before);
	/* Not rewritten: raw_messages holds every raw byte ever received. */
	static const char files[] =
	    "SELECT string_agg(relfilenode::text, ' ' ORDER BY relname) FROM pg_catalog.pg_class"
	    " WHERE oid IN ('dmarcsift.raw_messages'::regclass, 'dmarcsift.reports'::regclass)";
	char *files_before = dbfx_q1(db, files, 0, NULL);
	assert_non_null(files_before);
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1) {
			OK(migrate_apply(db, NULL, &e), e);
			dbfx_assert_q(
			    db,
			    "SELECT count(*) FROM pg_catalog.pg_constraint WHERE contype = 'c'"
			    " AND conrelid IN ('dmarcsift.reports'::regclass,"
			    " 'dmarcsift.raw_messages'::regclass)",
			    NULL, "1");
			dbfx_assert_q(db, files, NULL, files_before);
		}
		char st[8];
		assert_string_equal(sqlstate_of(db, "BEGIN", st), "");
		assert_string_equal(sqlstate_of(db, allowed, st), "");
		for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
			assert_string_equal(sqlstate_of(db, "SAVEPOINT v", st), "");
			if (strcmp(sqlstate_of(db, refused[i], st), "23514") != 0)
				fail_msg("pass %d: %s: SQLSTATE '%s', not 23514", pass, refused[i],
				         st);
			assert_string_equal(sqlstate_of(db, "ROLLBACK TO SAVEPOINT v", st), "");
		}
		assert_string_equal(sqlstate_of(db, "ROLLBACK", st), "");
	}
	char *after = dbfx_q1(db, views_seen, 0, NULL);
	assert_non_null(after);
	assert_string_equal(after, before);
	free(before);
	free(after);
	free(files_before);
	db_close(db);
	testdb_drop(ci);
	free(ci);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_embedded_in_order),
	    cmocka_unit_test(test_apply_reapply),
	    cmocka_unit_test(test_connect_migrates),
	    cmocka_unit_test(test_newer_schema_refused),
	    cmocka_unit_test(test_concurrent_migrators),
	    cmocka_unit_test(test_unreachable_is_retry),
	    cmocka_unit_test(test_check_maps_sqlstate),
	    cmocka_unit_test(test_source_fails_carried_over),
	    cmocka_unit_test(test_check_domains),
	    cmocka_unit_test_setup_teardown(test_ingest_triggers_without_jit, dbfx_setup,
	                                    dbfx_teardown),
	    cmocka_unit_test_setup_teardown(test_report_children_follow, dbfx_setup, dbfx_teardown),
	    cmocka_unit_test_setup_teardown(test_derived_tables_unkeyed, dbfx_setup, dbfx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
