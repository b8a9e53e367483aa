/*
 * test_tenant_isolation: row-level security bound to roles, on a real
 * PostgreSQL server, the way an MSP installs it: a database owned by a
 * non-superuser that ingests; `db migrate` prints the SQL its owner may not
 * run, a superuser (the DBA) applies it; `tenant grant` makes one login role
 * per client, the DBA creates an MSP login. Then each client's role tries to
 * read another client's data through every table and view of the schema —
 * plainly, after SET and set_config of the old setting, after SET ROLE and
 * RESET ROLE, and through functions — and sees none of it; the MSP role
 * sees everything the owner sees. Only the DBA's statements run as a
 * superuser.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "support/run.h"
#include "support/testdb.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct ctx {
	char *su;    /* the DBA: superuser connection to the test database */
	char *owner; /* the ingesting owner (no superuser, no CREATEROLE) */
	char sfx[64];
	char dir[64];
	char own[80], rd_a[80], rd_b[80], msp[80];
	char *conn_a, *conn_b, *conn_msp;
};

static char *as_user(const char *conninfo, const char *user)
{
	size_t n = strlen(conninfo) + strlen(user) + 16;
	char *s = malloc(n);
	assert_non_null(s);
	/* libpq: the last occurrence of a keyword wins. */
	snprintf(s, n, "%s user=%s", conninfo, user);
	return s;
}

static PGconn *connect_or_fail(const char *conninfo)
{
	PGconn *c = PQconnectdb(conninfo);
	if (PQstatus(c) != CONNECTION_OK)
		fail_msg("cannot connect: %s", PQerrorMessage(c));
	return c;
}

/* Runs sql; returns 1 when it succeeded, 0 when the server refused it. */
static int try_sql(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(r);
	PQclear(r);
	return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

static void must_sql(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(r);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(c));
	PQclear(r);
}

static long long scalar(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
		fail_msg("%s: %s", sql, PQerrorMessage(c));
	long long v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return v;
}

/* Applies every SQL line of a dmarcsift output block as the DBA. */
static int apply_dba_sql(const char *su, const char *out)
{
	PGconn *c = connect_or_fail(su);
	int n = 0;
	for (const char *l = out; l && *l;) {
		const char *e = strchr(l, '\n');
		size_t len = e ? (size_t)(e - l) : strlen(l);
		if (len > 1 && l[len - 1] == ';' &&
		    (strncmp(l, "CREATE ", 7) == 0 || strncmp(l, "GRANT ", 6) == 0 ||
		     strncmp(l, "ALTER ", 6) == 0 || strncmp(l, "REVOKE ", 7) == 0)) {
			char *stmt = strndup(l, len);
			must_sql(c, stmt);
			free(stmt);
			n++;
		}
		l = e ? e + 1 : NULL;
	}
	PQfinish(c);
	return n;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void write_report(const char *path, const char *id, const char *domain)
{
	char xml[2048];
	snprintf(xml, sizeof xml,
	         "<?xml version=\"1.0\"?>\n<feedback><report_metadata><org_name>google.com"
	         "</org_name><email>noreply@google.com</email><report_id>%s</report_id>"
	         "<date_range><begin>1700000000</begin><end>1700086399</end></date_range>"
	         "</report_metadata><policy_published><domain>%s</domain><p>none</p>"
	         "</policy_published><record><row><source_ip>192.0.2.7</source_ip><count>4"
	         "</count><policy_evaluated><disposition>none</disposition><dkim>fail</dkim>"
	         "<spf>pass</spf></policy_evaluated></row><identifiers><header_from>%s"
	         "</header_from></identifiers><auth_results><spf><domain>%s</domain><result>"
	         "pass</result></spf></auth_results></record></feedback>\n",
	         id, domain, domain, domain);
	write_file(path, xml);
}

/* Bounces from news@DOMAIN: one hard bounce (a suppression) and 24 DMARC
 * rejects at Gmail (an escalation). */
static void write_bounces(const char *path, const char *domain)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("timestamp,sending_ip,from,recipient,reply,remote_mta,campaign\n", f);
	fprintf(f,
	        "2026-11-23T08:00:00Z,198.51.100.9,news@%s,gone@example.org,"
	        "\"550 5.1.1 user unknown\",mx.example.org,c\n",
	        domain);
	for (int i = 0; i < 24; i++)
		fprintf(f,
		        "2026-11-23T08:%02d:10Z,198.51.100.9,news@%s,u%d@gmail.com,"
		        "\"550 5.7.26 Unauthenticated email from %s is not accepted due to "
		        "domain's DMARC policy. - gsmtp\",gmail-smtp-in.l.google.com,c\n",
		        i + 1, domain, i, domain);
	fclose(f);
}

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof *c);
	assert_non_null(c);
	*state = NULL;
	if (testdb_create(&c->su) != 0) {
		free(c);
		return -1;
	}
	/* Roles are cluster-wide: name ours after this run's database. */
	char *dbname = q_str(c->su, "SELECT current_database()", 0, NULL);
	snprintf(c->sfx, sizeof c->sfx, "%s", dbname);
	free(dbname);
	snprintf(c->own, sizeof c->own, "own_%s", c->sfx);
	snprintf(c->rd_a, sizeof c->rd_a, "rda_%s", c->sfx);
	snprintf(c->rd_b, sizeof c->rd_b, "rdb_%s", c->sfx);
	snprintf(c->msp, sizeof c->msp, "msp_%s", c->sfx);
	PGconn *su = connect_or_fail(c->su);
	char sql[256];
	snprintf(sql, sizeof sql, "CREATE ROLE %s LOGIN NOSUPERUSER NOCREATEROLE", c->own);
	must_sql(su, sql);
	snprintf(sql, sizeof sql, "ALTER DATABASE %s OWNER TO %s", c->sfx, c->own);
	must_sql(su, sql);
	PQfinish(su);
	c->owner = as_user(c->su, c->own);
	c->conn_a = as_user(c->su, c->rd_a);
	c->conn_b = as_user(c->su, c->rd_b);
	c->conn_msp = as_user(c->su, c->msp);
	snprintf(c->dir, sizeof c->dir, "/tmp/ds-iso-XXXXXX");
	assert_non_null(mkdtemp(c->dir));
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;
	if (!c)
		return 0;
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", c->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", c->dir);
	testdb_drop(c->su);
	PGconn *su = PQconnectdb(c->su);
	/* The database is gone; the roles are the cluster's, drop them too. */
	const char *roles[] = {c->rd_a, c->rd_b, c->msp, c->own};
	for (size_t i = 0; i < 4 && PQstatus(su) == CONNECTION_OK; i++) {
		char sql[128];
		snprintf(sql, sizeof sql, "DROP ROLE IF EXISTS %s", roles[i]);
		PQclear(PQexec(su, sql));
	}
	PQfinish(su);
	free(c->su);
	free(c->owner);
	free(c->conn_a);
	free(c->conn_b);
	free(c->conn_msp);
	free(c);
	return 0;
}

/* The tables with a tenant_id column and the views, as the owner sees them. */
struct rel {
	char name[64];
	bool view;
	bool has_tenant_id, has_tenant_col;
};

static size_t list_relations(const char *conninfo, struct rel *out, size_t max)
{
	PGconn *c = connect_or_fail(conninfo);
	PGresult *r = PQexec(c, "SELECT c.relname, c.relkind = 'v',"
	                        " EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid"
	                        "  AND a.attname = 'tenant_id' AND NOT a.attisdropped),"
	                        " EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid"
	                        "  AND a.attname = 'tenant' AND NOT a.attisdropped)"
	                        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
	                        " WHERE n.nspname = 'dmarcsift' AND c.relkind IN ('r', 'v', 'p')"
	                        " ORDER BY c.relname");
	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	size_t n = 0;
	for (int i = 0; i < PQntuples(r) && n < max; i++) {
		bool view = PQgetvalue(r, i, 1)[0] == 't';
		bool tid = PQgetvalue(r, i, 2)[0] == 't';
		if (!view && !tid)
			continue; /* schema_migrations: the database's bookkeeping */
		snprintf(out[n].name, sizeof out[n].name, "%s", PQgetvalue(r, i, 0));
		out[n].view = view;
		out[n].has_tenant_id = tid;
		out[n].has_tenant_col = PQgetvalue(r, i, 3)[0] == 't';
		n++;
	}
	PQclear(r);
	PQfinish(c);
	return n;
}

/* Rows of `rel` that do not belong to tenant (id, name) visible to conn;
 * -1 when the relation may not be read at all. Views without a tenant
 * column count every row. */
static long long foreign_rows(PGconn *c, const struct rel *rel, int tid, const char *tname)
{
	char sql[256];
	if (rel->has_tenant_id)
		snprintf(sql, sizeof sql, "SELECT count(*) FROM dmarcsift.%s WHERE tenant_id <> %d",
		         rel->name, tid);
	else if (rel->has_tenant_col)
		snprintf(sql, sizeof sql,
		         "SELECT count(*) FROM dmarcsift.%s WHERE tenant IS DISTINCT FROM '%s'",
		         rel->name, tname);
	else
		snprintf(sql, sizeof sql, "SELECT count(*) FROM dmarcsift.%s", rel->name);
	PGresult *r = PQexec(c, sql);
	long long v = -1;
	if (PQresultStatus(r) == PGRES_TUPLES_OK)
		v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return v;
}

static long long all_rows(PGconn *c, const char *rel)
{
	char sql[160];
	snprintf(sql, sizeof sql, "SELECT count(*) FROM dmarcsift.%s", rel);
	return scalar(c, sql);
}

/* Every relation, read by conn as tenant (tid, tname): nothing foreign. */
static void assert_isolated(PGconn *c, const struct rel *rels, size_t n, int tid, const char *tname,
                            const char *after)
{
	size_t readable = 0;
	for (size_t i = 0; i < n; i++) {
		long long v = foreign_rows(c, &rels[i], tid, tname);
		if (v > 0)
			fail_msg("after %s: %lld foreign row(s) visible in %s", after, v,
			         rels[i].name);
		readable += v == 0;
	}
	/* Not a vacuous pass: the views at least must be readable. */
	assert_true(readable >= 7);
}

static void test_roles_and_isolation(void **state)
{
	struct ctx *c = *state;
	char *out = NULL;

	/* 1. The owner migrates: it may not create roles, so it prints the
	 * DBA's SQL; the DBA runs it; afterwards nothing is missing. */
	const char *mig[] = {"db", "migrate", "--db", c->owner, NULL};
	assert_int_equal(run_bin(mig, NULL, &out), 0);
	char want[160];
	snprintf(want, sizeof want, "GRANT dmarcsift_reader TO %s WITH ADMIN OPTION;", c->own);
	assert_non_null(strstr(out, want));
	assert_true(apply_dba_sql(c->su, out) >= 1);
	free(out);
	const char *st[] = {"db", "status", "--db", c->owner, NULL};
	assert_int_equal(run_bin(st, NULL, &out), 0);
	assert_non_null(strstr(out, "up to date"));
	free(out);

	/* 2. Tenants, and one login role per client: the owner may not create
	 * roles, the DBA runs what `tenant grant` printed. */
	const char *t1[] = {"tenant", "add", "--db", c->owner, "acme", "a.example", NULL};
	const char *t2[] = {"tenant", "add", "--db", c->owner, "beta", "b.example", NULL};
	assert_int_equal(run_bin(t1, NULL, NULL), 0);
	assert_int_equal(run_bin(t2, NULL, NULL), 0);
	const char *g1[] = {"tenant", "grant", "--db", c->owner, "acme", c->rd_a, "--login", NULL};
	assert_int_equal(run_bin(g1, NULL, &out), 0);
	assert_true(apply_dba_sql(c->su, out) >= 1);
	free(out);
	const char *g2[] = {"tenant", "grant", "--db", c->owner, "beta", c->rd_b, "--login", NULL};
	assert_int_equal(run_bin(g2, NULL, &out), 0);
	assert_true(apply_dba_sql(c->su, out) >= 1);
	free(out);
	/* The owner itself cannot become a reader: it would see everything. */
	const char *g3[] = {"tenant", "grant", "--db", c->owner, "acme", c->own, NULL};
	assert_int_equal(run_bin(g3, NULL, NULL), 2);
	const char *g4[] = {"tenant", "grant", "--db", c->owner, "nosuch", c->rd_a, NULL};
	assert_int_equal(run_bin(g4, NULL, NULL), 2);
	PGconn *su = connect_or_fail(c->su);
	char sql[256];
	snprintf(sql, sizeof sql, "CREATE ROLE %s LOGIN IN ROLE dmarcsift_msp", c->msp);
	must_sql(su, sql);
	PQfinish(su);

	/* 3. Data for both tenants in every kind of table, ingested by the
	 * owner; and a quarantined input (the intake, tenant 0). */
	char p[160];
	snprintf(p, sizeof p, "%s/a.xml", c->dir);
	write_report(p, "iso-a", "a.example");
	snprintf(p, sizeof p, "%s/b.xml", c->dir);
	write_report(p, "iso-b", "mail.b.example");
	snprintf(p, sizeof p, "%s/u.xml", c->dir);
	write_report(p, "iso-u", "nobody.example");
	snprintf(p, sizeof p, "%s/bad.xml", c->dir);
	write_file(p, "<feedback><report_metadata>");
	const char *ing[] = {"ingest", "--quiet", "--db", c->owner, c->dir, NULL};
	assert_int_equal(run_bin(ing, NULL, NULL), 1);
	/* A quarantined input of each tenant (pinned, nothing parsed). */
	for (int t = 0; t < 2; t++) {
		char bad[160];
		snprintf(bad, sizeof bad, "%s/../%s-bad-%d.xml", c->dir, strrchr(c->dir, '/') + 1,
		         t);
		write_file(bad, t ? "<feedback><report_metadata><org_name>b"
		                  : "<feedback><report_metadata><org_name>a");
		const char *pi[] = {"ingest",   "--quiet",           "--db", c->owner,
		                    "--tenant", t ? "beta" : "acme", bad,    NULL};
		assert_int_equal(run_bin(pi, NULL, NULL), 1);
		unlink(bad);
	}
	for (int t = 0; t < 2; t++) {
		char csv[160];
		snprintf(csv, sizeof csv, "%s/bounces-%d.csv", c->dir, t);
		write_bounces(csv, t ? "b.example" : "a.example");
		const char *bi[] = {"bounces", "ingest", "--db", c->owner, csv, NULL};
		assert_int_equal(run_bin(bi, NULL, NULL), 0);
	}

	/* DNS check findings of both tenants' domains (against the test DNS
	 * server when there is one; else every look-up fails, which is a
	 * finding too). */
	const char *dns = getenv("DMARCSIFT_TEST_DNS");
	const char *dc[] = {"dns",           "check",
	                    "--db",          c->owner,
	                    "--dns-servers", dns && *dns ? dns : "127.0.0.1:1",
	                    "--no-fetch",    NULL};
	char *dcout = NULL;
	assert_int_equal(run_bin(dc, NULL, &dcout), 0);
	free(dcout);

	struct rel rels[64];
	size_t n = list_relations(c->owner, rels, 64);
	assert_true(n >= 10);
	PGconn *own = connect_or_fail(c->owner);
	int id_a = (int)scalar(own, "SELECT tenant_id FROM dmarcsift.tenants WHERE name = 'acme'");
	int id_b = (int)scalar(own, "SELECT tenant_id FROM dmarcsift.tenants WHERE name = 'beta'");
	/* A blocklist listing of each tenant's source, as blocklists check
	 * stores them. */
	char ins[640];
	snprintf(ins, sizeof ins,
	         "INSERT INTO dmarcsift.listings (tenant_id, asset, asset_kind, list, family,"
	         " answer, codes, reason, first_seen, last_seen, checked_at) VALUES"
	         " (%d, '198.51.100.9', 'ip', 'zen.spamhaus.org', 'Spamhaus', 'listed',"
	         " '{127.0.0.2}', 'SBL', now(), now(), now()), (%d, '198.51.100.9', 'ip',"
	         " 'zen.spamhaus.org', 'Spamhaus', 'listed', '{127.0.0.2}', 'SBL', now(), now(),"
	         " now())",
	         id_a, id_b);
	must_sql(own, ins);
	/* Each tenant really has rows of each kind the reader could steal. */
	const char *kinds[] = {"reports",  "records", "bounces",  "suppressions", "escalations",
	                       "failures", "flags",   "listings", "dns_findings"};
	for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
		for (int t = 0; t < 2; t++) {
			snprintf(sql, sizeof sql,
			         "SELECT count(*) FROM dmarcsift.%s WHERE tenant_id = %d", kinds[k],
			         t ? id_b : id_a);
			if (scalar(own, sql) < 1)
				fail_msg("no %s for tenant %s", kinds[k], t ? "beta" : "acme");
		}
	}
	assert_true(scalar(own, "SELECT count(*) FROM dmarcsift.failures") >= 1);

	/* 4. Each reader, every relation, every way out we know of. */
	for (int t = 0; t < 2; t++) {
		const char *conn = t ? c->conn_b : c->conn_a;
		int mine = t ? id_b : id_a, theirs = t ? id_a : id_b;
		const char *tname = t ? "beta" : "acme";
		const char *other_role = t ? c->rd_a : c->rd_b;
		PGconn *r = connect_or_fail(conn);
		assert_isolated(r, rels, n, mine, tname, "connecting");
		/* Its own rows are there. */
		snprintf(sql, sizeof sql,
		         "SELECT count(*) FROM dmarcsift.v_reports WHERE tenant = '%s'", tname);
		assert_int_equal(scalar(r, sql), 1);
		snprintf(sql, sizeof sql,
		         "SELECT count(*) FROM dmarcsift.v_failures WHERE tenant = '%s'", tname);
		assert_int_equal(scalar(r, sql), 1);
		/* Its listing and its DNS findings, and nobody else's. */
		assert_int_equal(scalar(r, "SELECT count(*) FROM dmarcsift.v_listings"), 1);
		snprintf(sql, sizeof sql,
		         "SELECT count(*) FROM dmarcsift.v_listings WHERE tenant = '%s'", tname);
		assert_int_equal(scalar(r, sql), 1);
		snprintf(sql, sizeof sql,
		         "SELECT count(*) FROM dmarcsift.v_dns_checks WHERE tenant = '%s'", tname);
		long long own_checks = scalar(r, sql);
		assert_true(own_checks > 0);
		assert_int_equal(scalar(r, "SELECT count(*) FROM dmarcsift.v_dns_checks"),
		                 own_checks);

		snprintf(sql, sizeof sql, "SET dmarcsift.tenant_id = '%d'", theirs);
		assert_true(try_sql(r, sql));
		assert_isolated(r, rels, n, mine, tname, "SET dmarcsift.tenant_id");
		assert_true(try_sql(r, "SET dmarcsift.tenant_id = '0'"));
		assert_isolated(r, rels, n, mine, tname, "SET dmarcsift.tenant_id = 0");
		snprintf(sql, sizeof sql, "SELECT set_config('dmarcsift.tenant_id', '%d', false)",
		         theirs);
		assert_true(try_sql(r, sql));
		assert_isolated(r, rels, n, mine, tname, "set_config");

		assert_false(try_sql(r, "SET ROLE dmarcsift_msp"));
		snprintf(sql, sizeof sql, "SET ROLE %s", other_role);
		assert_false(try_sql(r, sql));
		snprintf(sql, sizeof sql, "SET ROLE %s", c->own);
		assert_false(try_sql(r, sql));
		assert_isolated(r, rels, n, mine, tname, "a refused SET ROLE");
		/* A role it is a member of: dmarcsift_reader maps to no tenant. */
		assert_true(try_sql(r, "SET ROLE dmarcsift_reader"));
		assert_int_equal(all_rows(r, "reports"), 0);
		assert_int_equal(all_rows(r, "v_records"), 0);
		assert_true(try_sql(r, "RESET ROLE"));
		assert_isolated(r, rels, n, mine, tname, "RESET ROLE");
		assert_true(try_sql(r, "SET SESSION AUTHORIZATION DEFAULT"));
		assert_isolated(r, rels, n, mine, tname, "SET SESSION AUTHORIZATION DEFAULT");

		/* Functions: the policy's own helpers answer nothing about other
		 * roles, and a function of its own runs with its own rights. */
		snprintf(sql, sizeof sql, "SELECT cardinality(dmarcsift.visible_tenants('%s'))",
		         other_role);
		assert_int_equal(scalar(r, sql), 0);
		snprintf(sql, sizeof sql, "SELECT dmarcsift.sees_all_tenants('%s')::int", c->msp);
		assert_int_equal(scalar(r, sql), 0);
		must_sql(r, "CREATE FUNCTION pg_temp.peek() RETURNS bigint LANGUAGE sql"
		            " SECURITY DEFINER AS 'SELECT count(*) FROM dmarcsift.reports'");
		snprintf(sql, sizeof sql,
		         "SELECT pg_temp.peek() - (SELECT count(*) FROM"
		         " dmarcsift.reports WHERE tenant_id = %d)",
		         mine);
		assert_int_equal(scalar(r, sql), 0);
		/* Nothing to write, and the raw mail is not a reader's. */
		assert_false(try_sql(r, "SELECT count(*) FROM dmarcsift.raw_messages"));
		assert_false(try_sql(r, "DELETE FROM dmarcsift.reports"));
		assert_false(try_sql(r, "INSERT INTO dmarcsift.tenant_roles VALUES (1, 'x')"));
		assert_false(
		    try_sql(r, "ALTER TABLE dmarcsift.reports DISABLE ROW LEVEL SECURITY"));
		PQfinish(r);
	}

	/* 5. The MSP reads every tenant: what the owner sees, row for row. */
	PGconn *m = connect_or_fail(c->conn_msp);
	for (size_t i = 0; i < n; i++) {
		snprintf(sql, sizeof sql, "SELECT count(*) FROM dmarcsift.%.63s", rels[i].name);
		PGresult *res = PQexec(m, sql);
		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			PQclear(res);
			continue; /* not granted to readers (raw_messages, ...) */
		}
		long long seen = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		PQclear(res);
		if (seen != scalar(own, sql))
			fail_msg("the MSP sees %lld rows of %s, the owner %lld", seen, rels[i].name,
			         scalar(own, sql));
	}
	assert_int_equal(scalar(m, "SELECT count(DISTINCT tenant) FROM dmarcsift.v_reports"), 3);
	PQfinish(m);

	/* 6. Revoke: the reader sees nothing any more. */
	const char *rv[] = {"tenant", "revoke", "--db", c->owner, "acme", c->rd_a, NULL};
	assert_int_equal(run_bin(rv, NULL, &out), 0);
	apply_dba_sql(c->su, out);
	free(out);
	PGconn *r = PQconnectdb(c->conn_a);
	if (PQstatus(r) == CONNECTION_OK) {
		PGresult *res = PQexec(r, "SELECT count(*) FROM dmarcsift.v_reports");
		/* Either no privilege any more or no rows. */
		if (PQresultStatus(res) == PGRES_TUPLES_OK)
			assert_string_equal(PQgetvalue(res, 0, 0), "0");
		PQclear(res);
	}
	PQfinish(r);
	PQfinish(own);
}

/* Every table with a tenant_id column, now and in later migrations, has row
 * level security on and exactly the role-bound policy; no policy reads a
 * setting; every view is security_invoker. */
static void test_every_tenant_table_is_protected(void **state)
{
	struct ctx *c = *state;
	const char *mig[] = {"db", "migrate", "--db", c->su, NULL};
	assert_int_equal(run_bin(mig, NULL, NULL), 0);
	PGconn *s = connect_or_fail(c->su);
	PGresult *r = PQexec(
	    s, "SELECT c.relname, c.relrowsecurity,"
	       " (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid AND p.polpermissive),"
	       " (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid"
	       "   AND p.polname = 'tenant_by_role'"
	       "   AND pg_get_expr(p.polqual, p.polrelid) LIKE '%sees_all_tenants(CURRENT_USER)%'"
	       "   AND pg_get_expr(p.polqual, p.polrelid) LIKE '%visible_tenants(CURRENT_USER)%'),"
	       " (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid"
	       "   AND pg_get_expr(p.polqual, p.polrelid) LIKE '%current_setting%')"
	       " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
	       " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id'"
	       " WHERE n.nspname = 'dmarcsift' AND c.relkind IN ('r', 'p')");
	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	assert_true(PQntuples(r) >= 10);
	for (int i = 0; i < PQntuples(r); i++) {
		const char *t = PQgetvalue(r, i, 0);
		if (strcmp(PQgetvalue(r, i, 1), "t") != 0)
			fail_msg("%s: row level security is off", t);
		if (strcmp(PQgetvalue(r, i, 2), "1") != 0 || strcmp(PQgetvalue(r, i, 3), "1") != 0)
			fail_msg("%s: not exactly the role-bound policy", t);
		if (strcmp(PQgetvalue(r, i, 4), "0") != 0)
			fail_msg("%s: a policy reads a setting", t);
	}
	PQclear(r);
	assert_int_equal(scalar(s, "SELECT count(*) FROM pg_class c JOIN pg_namespace n"
	                           " ON n.oid = c.relnamespace WHERE n.nspname = 'dmarcsift'"
	                           " AND c.relkind = 'v' AND NOT coalesce(c.reloptions @>"
	                           " '{security_invoker=true}', false)"),
	                 0);
	PQfinish(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roles_and_isolation),
	    cmocka_unit_test(test_every_tenant_table_is_protected),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
