/*
 * test_tenant_lifecycle: tenants through the real binary on a real
 * PostgreSQL: adoption of everything waiting in 'unassigned' (reports,
 * records, bounces, suppressions, escalations), the most specific owner,
 * IDNA (U-label and A-label are one domain), public suffixes, wildcards and
 * reserved names refused, remove with and without --purge, rename, and
 * import of 500 tenants twice (the second time changes nothing) or not at
 * all when one line is wrong.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "support/clifx.h"
#include "support/run.h"
#include "support/testdb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *path_in(struct clifx *c, const char *name)
{
	size_t n = strlen(c->dir) + strlen(name) + 2;
	char *p = malloc(n);
	assert_non_null(p);
	snprintf(p, n, "%s/%s", c->dir, name);
	return p;
}

static void write_report(struct clifx *c, const char *file, const char *id, const char *domain)
{
	char *p = path_in(c, file);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fprintf(f,
	        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feedback><report_metadata>"
	        "<org_name>google.com</org_name><email>noreply@google.com</email>"
	        "<report_id>%s</report_id><date_range><begin>1700000000</begin>"
	        "<end>1700086399</end></date_range></report_metadata><policy_published>"
	        "<domain>%s</domain><p>none</p></policy_published><record><row><source_ip>"
	        "192.0.2.3</source_ip><count>2</count><policy_evaluated><disposition>none"
	        "</disposition><dkim>pass</dkim><spf>pass</spf></policy_evaluated></row>"
	        "<identifiers><header_from>%s</header_from></identifiers><auth_results><spf>"
	        "<domain>%s</domain><result>pass</result></spf></auth_results></record>"
	        "</feedback>\n",
	        id, domain, domain, domain);
	fclose(f);
	free(p);
}

static int ingest(struct clifx *c, const char *file)
{
	char *p = path_in(c, file);
	const char *a[] = {"ingest", "--quiet", "--db", c->db, p, NULL};
	int rc = run_bin(a, NULL, NULL);
	free(p);
	return rc;
}

static int tenant(struct clifx *c, const char *a1, const char *a2, const char *a3, const char *a4,
                  char **out)
{
	const char *a[] = {"tenant", "--db", c->db, a1, a2, a3, a4, NULL};
	return run_bin(a, NULL, out);
}

static int64_t count(struct clifx *c, const char *sql, const char *param)
{
	const char *p[1] = {param};
	return q_int(c->db, sql, param ? 1 : 0, p);
}

#define TENANT_OF_REPORT                                                                           \
	"SELECT t.name FROM dmarcsift.reports r JOIN dmarcsift.tenants t USING (tenant_id)"        \
	" WHERE r.report_id = $1"

static void assert_owner(struct clifx *c, const char *report_id, const char *want)
{
	const char *p[1] = {report_id};
	char *got = q_str(c->db, TENANT_OF_REPORT, 1, p);
	if (strcmp(got, want) != 0)
		fail_msg("report %s: tenant %s, wanted %s", report_id, got, want);
	free(got);
}

/* The rollups hold exactly what the stored records sum to, per tenant, and
 * nothing under a tenant that is gone (they have no foreign key to tenants
 * since 0033: remove_tenant itself moves or deletes their rows). */
static void assert_rollups_whole(struct clifx *c)
{
	static const char *const rollups[] = {"daily_rollup", "domain_rollup"};
	char sql[640];

	for (size_t i = 0; i < sizeof rollups / sizeof *rollups; i++) {
		snprintf(
		    sql, sizeof sql,
		    "SELECT count(*) FROM ((SELECT tenant_id, sum(records), sum(messages)"
		    " FROM dmarcsift.%s GROUP BY 1 EXCEPT SELECT tenant_id, count(*), sum(count)"
		    " FROM dmarcsift.records GROUP BY 1) UNION ALL (SELECT tenant_id, count(*),"
		    " sum(count) FROM dmarcsift.records GROUP BY 1 EXCEPT SELECT tenant_id,"
		    " sum(records), sum(messages) FROM dmarcsift.%s GROUP BY 1)) d",
		    rollups[i], rollups[i]);
		if (count(c, sql, NULL) != 0)
			fail_msg("%s does not sum to the stored records per tenant", rollups[i]);
		snprintf(sql, sizeof sql,
		         "SELECT count(*) FROM dmarcsift.%s d WHERE NOT EXISTS"
		         " (SELECT 1 FROM dmarcsift.tenants t WHERE t.tenant_id = d.tenant_id)",
		         rollups[i]);
		if (count(c, sql, NULL) != 0)
			fail_msg("%s keeps rows of a removed tenant", rollups[i]);
	}
}

static void test_adopt_everything_and_most_specific(void **state)
{
	struct clifx *c = *state;
	/* Before any tenant: everything waits in 'unassigned'. */
	write_report(c, "r1.xml", "life-1", "example.com");
	write_report(c, "r2.xml", "life-2", "a.sub.example.com");
	write_report(c, "r3.xml", "life-3", "nobody.example");
	assert_int_equal(ingest(c, "r1.xml"), 0);
	assert_int_equal(ingest(c, "r2.xml"), 0);
	assert_int_equal(ingest(c, "r3.xml"), 0);
	/* A second clean copy of life-1 with other records: a conflict,
	 * quarantined; its policy domain is known, so it waits for the owner
	 * of example.com like the report does. */
	write_report(c, "r1b.xml", "life-1", "example.com");
	char *r1b = path_in(c, "r1b.xml");
	char *text = slurp(r1b, NULL);
	char *cnt = strstr(text, "<count>2</count>");
	assert_non_null(cnt);
	cnt[7] = '7';
	FILE *w = fopen(r1b, "w");
	assert_non_null(w);
	fputs(text, w);
	fclose(w);
	free(text);
	free(r1b);
	assert_int_equal(ingest(c, "r1b.xml"), 1);
	assert_int_equal(
	    count(c,
	          "SELECT count(*) FROM dmarcsift.v_failures WHERE tenant = 'unassigned'"
	          " AND domain = 'example.com'",
	          NULL),
	    1);
	char *csv = path_in(c, "b.csv");
	FILE *f = fopen(csv, "w");
	assert_non_null(f);
	fputs("timestamp,sending_ip,from,recipient,reply,remote_mta,campaign\n", f);
	fputs("2026-11-23T08:00:00Z,198.51.100.9,news@example.com,gone@example.org,"
	      "\"550 5.1.1 user unknown\",mx.example.org,c\n",
	      f);
	for (int i = 0; i < 24; i++)
		fprintf(
		    f,
		    "2026-11-23T08:%02d:10Z,198.51.100.9,news@example.com,u%d@gmail.com,"
		    "\"550 5.7.26 Unauthenticated email from example.com is not accepted due to "
		    "domain's DMARC policy. - gsmtp\",gmail-smtp-in.l.google.com,c\n",
		    i + 1, i);
	fclose(f);
	const char *bi[] = {"bounces", "ingest", "--db", c->db, csv, NULL};
	assert_int_equal(run_bin(bi, NULL, NULL), 0);
	free(csv);
	const char *kinds[] = {"reports", "records", "bounces", "suppressions", "escalations"};
	char sql[160];
	for (size_t k = 0; k < 5; k++) {
		snprintf(sql, sizeof sql, "SELECT count(*) FROM dmarcsift.%s WHERE tenant_id <> 0",
		         kinds[k]);
		assert_int_equal(count(c, sql, NULL), 0);
	}
	assert_int_equal(count(c, "SELECT count(*) FROM dmarcsift.suppressions", NULL), 1);
	assert_int_equal(count(c, "SELECT count(*) FROM dmarcsift.escalations", NULL), 1);

	/* Adding the domain adopts all of it, subdomains included; what
	 * belongs to nobody stays. */
	char *out = NULL;
	assert_int_equal(tenant(c, "add", "acme", "Example.COM.", NULL, &out), 0);
	assert_non_null(strstr(out, "2 report(s), 25 bounce(s), 1 suppression(s), 1 escalation(s), "
	                            "1 quarantined input(s), 1 flag(s)"));
	free(out);
	for (size_t k = 0; k < 5; k++) {
		snprintf(sql, sizeof sql, "SELECT count(*) FROM dmarcsift.%s WHERE tenant_id = 0",
		         kinds[k]);
		assert_int_equal(count(c, sql, NULL), k < 2 ? 1 : 0); /* nobody.example */
	}
	assert_owner(c, "life-1", "acme");
	assert_owner(c, "life-2", "acme");
	assert_owner(c, "life-3", "unassigned");
	assert_int_equal(
	    count(c, "SELECT count(*) FROM dmarcsift.v_failures WHERE tenant = $1", "acme"), 1);
	/* The flag the bounce ingest's correlation raised moved too, and the
	 * next correlation recomputes it for acme instead of adding another. */
	assert_int_equal(count(c, "SELECT count(*) FROM dmarcsift.flags WHERE tenant_id = 0", NULL),
	                 0);
	const char *co[] = {"correlate", "--db", c->db, NULL};
	assert_int_equal(run_bin(co, NULL, NULL), 0);
	assert_int_equal(
	    count(c, "SELECT count(*) FROM dmarcsift.v_flags WHERE tenant = $1", "acme"), 1);
	assert_int_equal(count(c, "SELECT count(*) FROM dmarcsift.flags", NULL), 1);
	char *fl = NULL;
	const char *fa[] = {"failures", "--json", "--db", c->db, NULL};
	assert_int_equal(run_bin(fa, NULL, &fl), 0);
	assert_non_null(strstr(fl, "\"tenant\":\"acme\",\"domain\":\"example.com\""));
	free(fl);

	/* The most specific registered domain owns a report. */
	assert_int_equal(tenant(c, "add", "subco", "sub.example.com", NULL, NULL), 0);
	write_report(c, "r4.xml", "life-4", "a.sub.example.com");
	write_report(c, "r5.xml", "life-5", "b.example.com");
	write_report(c, "r6.xml", "life-6", "SUB.example.com");
	assert_int_equal(ingest(c, "r4.xml"), 0);
	assert_int_equal(ingest(c, "r5.xml"), 0);
	assert_int_equal(ingest(c, "r6.xml"), 0);
	assert_owner(c, "life-4", "subco");
	assert_owner(c, "life-5", "acme");
	assert_owner(c, "life-6", "subco");
	/* A domain belongs to one tenant. */
	assert_int_equal(tenant(c, "add", "thief", "example.com", NULL, NULL), 2);
	assert_int_equal(tenant(c, "domain", "add", "subco", "EXAMPLE.com", NULL), 2);

	/* Remove without purge: the data returns to 'unassigned', except what
	 * another tenant owns now (a.sub.example.com: subco); adding the domain
	 * again adopts the rest again. */
	int64_t acme_reports =
	    count(c, "SELECT count(*) FROM dmarcsift.v_reports WHERE tenant = $1", "acme");
	assert_int_equal(acme_reports, 3);
	assert_int_equal(tenant(c, "remove", "ACME", NULL, NULL, NULL), 0);
	assert_int_equal(count(c, "SELECT count(*) FROM dmarcsift.tenants WHERE name = $1", "acme"),
	                 0);
	assert_int_equal(
	    count(c, "SELECT count(*) FROM dmarcsift.reports WHERE tenant_id = 0", NULL), 3);
	assert_owner(c, "life-2", "subco");
	assert_int_equal(
	    count(c, "SELECT count(*) FROM dmarcsift.bounces WHERE tenant_id = 0", NULL), 25);
	assert_int_equal(
	    count(c, "SELECT count(*) FROM dmarcsift.suppressions WHERE tenant_id = 0", NULL), 1);
	assert_int_equal(
	    count(c, "SELECT count(*) FROM dmarcsift.failures WHERE tenant_id = 0", NULL), 1);
	/* ... and what is listed in tenant_derived_tables goes either way:
	 * the flag acme adopted is about acme's mail, and is deleted. */
	assert_int_equal(count(c, "SELECT count(*) FROM dmarcsift.flags", NULL), 0);
	assert_int_equal(count(c,
	                       "SELECT count(*) FROM dmarcsift.tenant_derived_tables"
	                       " WHERE relname = $1",
	                       "flags"),
	                 1);
	assert_rollups_whole(c);
	assert_int_equal(tenant(c, "add", "acme2", "example.com", NULL, NULL), 0);
	assert_int_equal(
	    count(c, "SELECT count(*) FROM dmarcsift.v_failures WHERE tenant = $1", "acme2"), 1);
	assert_int_equal(
	    count(c, "SELECT count(*) FROM dmarcsift.v_reports WHERE tenant = $1", "acme2"), 2);
	assert_int_equal(
	    count(c, "SELECT count(*) FROM dmarcsift.v_bounces WHERE tenant = $1", "acme2"), 25);

	/* Rename; names are unique without regard to case or blanks. */
	assert_int_equal(tenant(c, "rename", "acme2", "Acme Corp", NULL, NULL), 0);
	assert_int_equal(tenant(c, "rename", "subco", " acme corp ", NULL, NULL), 2);
	assert_int_equal(tenant(c, "rename", "unassigned", "x", NULL, NULL), 2);
	assert_int_equal(tenant(c, "rename", "subco", "UNASSIGNED", NULL, NULL), 2);
	assert_int_equal(
	    count(c, "SELECT count(*) FROM dmarcsift.v_records WHERE tenant = $1", "Acme Corp"), 2);

	/* Remove with purge: the rows are gone, not moved. */
	assert_int_equal(tenant(c, "remove", "acme corp", "--purge", NULL, NULL), 0);
	assert_int_equal(count(c,
	                       "SELECT count(*) FROM dmarcsift.reports WHERE policy_domain"
	                       " IN ('example.com', 'b.example.com')",
	                       NULL),
	                 0);
	assert_int_equal(count(c, "SELECT count(*) FROM dmarcsift.bounces", NULL), 0);
	assert_int_equal(count(c, "SELECT count(*) FROM dmarcsift.suppressions", NULL), 0);
	assert_int_equal(count(c, "SELECT count(*) FROM dmarcsift.escalations", NULL), 0);
	assert_int_equal(count(c, "SELECT count(*) FROM dmarcsift.failures", NULL), 0);
	assert_rollups_whole(c);
	assert_int_equal(tenant(c, "remove", "unassigned", NULL, NULL, NULL), 2);
	assert_int_equal(tenant(c, "remove", "nosuch", NULL, NULL, NULL), 2);
	/* subco's data was never touched. */
	assert_int_equal(
	    count(c, "SELECT count(*) FROM dmarcsift.v_reports WHERE tenant = $1", "subco"), 3);
}

static void test_names_and_domains(void **state)
{
	struct clifx *c = *state;
	/* Public suffixes, wildcards, non-domains and reserved names. */
	const char *bad_domains[] = {"com",     "co.uk",       "*.example.net",
	                             "example", "a b.example", "x@example.org"};
	for (size_t i = 0; i < sizeof bad_domains / sizeof *bad_domains; i++)
		if (tenant(c, "add", "badco", bad_domains[i], NULL, NULL) != 2)
			fail_msg("domain '%s' was accepted", bad_domains[i]);
	const char *bad_names[] = {"unassigned", "UNASSIGNED", " unassigned ", "", "   "};
	for (size_t i = 0; i < sizeof bad_names / sizeof *bad_names; i++)
		if (tenant(c, "add", bad_names[i], "names.example", NULL, NULL) != 2)
			fail_msg("name '%s' was accepted", bad_names[i]);
	assert_int_equal(count(c, "SELECT count(*) FROM dmarcsift.tenants", NULL), 1);

	/* U-label and A-label are one domain, stored as the A-label. */
	assert_int_equal(tenant(c, "add", "books", "BÜCHER.example.", NULL, NULL), 0);
	assert_int_equal(count(c, "SELECT count(*) FROM dmarcsift.tenant_domains WHERE domain = $1",
	                       "xn--bcher-kva.example"),
	                 1);
	assert_int_equal(tenant(c, "add", "books2", "xn--bcher-kva.example", NULL, NULL), 2);
	assert_int_equal(tenant(c, "add", "books3", "bücher.example", NULL, NULL), 2);
	write_report(c, "u1.xml", "idn-1", "bücher.example");
	write_report(c, "u2.xml", "idn-2", "XN--BCHER-KVA.example");
	assert_int_equal(ingest(c, "u1.xml"), 0);
	assert_int_equal(ingest(c, "u2.xml"), 0);
	assert_owner(c, "idn-1", "books");
	assert_owner(c, "idn-2", "books");
	/* 'Books ' is the same tenant as 'books': no second tenant. */
	assert_int_equal(tenant(c, "domain", "add", "Books ", "more.example", NULL), 0);
	assert_int_equal(count(c, "SELECT count(*) FROM dmarcsift.tenants", NULL), 2);
	assert_int_equal(tenant(c, "domain", "remove", "books", "MORE.example", NULL), 0);
	assert_int_equal(tenant(c, "domain", "remove", "books", "more.example", NULL), 2);
	assert_int_equal(tenant(c, "show", "BOOKS", NULL, NULL, NULL), 0);
	assert_int_equal(tenant(c, "show", "nosuch", NULL, NULL, NULL), 2);
}

static void test_import_500_twice(void **state)
{
	struct clifx *c = *state;
	char *csv = path_in(c, "tenants.csv");
	FILE *f = fopen(csv, "w");
	assert_non_null(f);
	fputs("tenant,domain\n", f);
	for (int i = 1; i <= 500; i++) {
		fprintf(f, "client%03d,client%03d.example\n", i, i);
		if (i % 100 == 0) /* some tenants own two domains */
			fprintf(f, "client%03d , www.client%03d-alt.example\n", i, i);
	}
	fclose(f);
	write_report(c, "w.xml", "imp-1", "client250.example");
	assert_int_equal(ingest(c, "w.xml"), 0);
	int64_t before = count(c, "SELECT count(*) FROM dmarcsift.tenants", NULL);

	char *out = NULL;
	assert_int_equal(tenant(c, "import", csv, NULL, NULL, &out), 0);
	assert_non_null(strstr(out, "505 pair(s) read: 500 new tenant(s), 505 new domain(s)"));
	assert_non_null(strstr(out, "1 report(s)"));
	free(out);
	assert_int_equal(count(c, "SELECT count(*) FROM dmarcsift.tenants", NULL), before + 500);
	assert_owner(c, "imp-1", "client250");
	char *snap1 = q_str(c->db,
	                    "SELECT md5(string_agg(t.tenant_id || t.name || d.domain, ','"
	                    " ORDER BY d.domain)) FROM dmarcsift.tenants t JOIN"
	                    " dmarcsift.tenant_domains d USING (tenant_id)",
	                    0, NULL);
	assert_int_equal(tenant(c, "import", csv, NULL, NULL, &out), 0);
	assert_non_null(strstr(out, "505 pair(s) read: 0 new tenant(s), 0 new domain(s)"));
	free(out);
	char *snap2 = q_str(c->db,
	                    "SELECT md5(string_agg(t.tenant_id || t.name || d.domain, ','"
	                    " ORDER BY d.domain)) FROM dmarcsift.tenants t JOIN"
	                    " dmarcsift.tenant_domains d USING (tenant_id)",
	                    0, NULL);
	assert_string_equal(snap1, snap2);
	free(snap1);
	free(snap2);

	/* One wrong line: nothing of the file is applied. */
	f = fopen(csv, "w");
	assert_non_null(f);
	fputs("fresh1,fresh1.example\nfresh2,co.uk\nfresh3,fresh3.example\n", f);
	fclose(f);
	assert_int_equal(tenant(c, "import", csv, NULL, NULL, NULL), 2);
	assert_int_equal(
	    count(c, "SELECT count(*) FROM dmarcsift.tenants WHERE name LIKE 'fresh%'", NULL), 0);
	free(csv);
}

static void test_pinned_mismatch_unknown_tenant_reprocess(void **state)
{
	struct clifx *c = *state;
	assert_int_equal(tenant(c, "add", "acme", "a.example", NULL, NULL), 0);
	assert_int_equal(tenant(c, "add", "beta", "b.example", NULL, NULL), 0);
	/* No configuration file of the machine may decide this test. */
	char *xdg = path_in(c, "config");
	assert_int_equal(mkdir(xdg, 0755), 0);
	setenv("XDG_CONFIG_HOME", xdg, 1);

	/* --tenant naming an unknown tenant: exit 2 before any input is read
	 * (not even stored raw). */
	write_report(c, "p0.xml", "pin-0", "a.example");
	char *p0 = path_in(c, "p0.xml");
	const char *unk[] = {"ingest", "--db", c->db, "--tenant", "nosuch", p0, NULL};
	assert_int_equal(run_bin(unk, NULL, NULL), 2);
	assert_int_equal(count(c, "SELECT count(*) FROM dmarcsift.raw_messages", NULL), 0);
	const char *unk2[] = {"reprocess", "--db", c->db, "--tenant", "NoSuch", "--all", NULL};
	assert_int_equal(run_bin(unk2, NULL, NULL), 2);
	/* Case and blanks do not matter in a tenant name. */
	const char *ok[] = {"ingest", "--quiet", "--db", c->db, "--tenant", " ACME", p0, NULL};
	assert_int_equal(run_bin(ok, NULL, NULL), 0);
	assert_owner(c, "pin-0", "acme");
	free(p0);

	/* Pinned to acme, a report for beta's domain: stored under beta, with
	 * a warning, counted in the summary. Unowned domains follow the pin. */
	write_report(c, "p1.xml", "pin-1", "mail.b.example");
	write_report(c, "p2.xml", "pin-2", "nobody.example");
	char *p1 = path_in(c, "p1.xml"), *p2 = path_in(c, "p2.xml");
	char *out = NULL;
	const char *pin[] = {"ingest", "--db", c->db, "--tenant", "acme", p1, p2, NULL};
	assert_int_equal(run_bin(pin, NULL, &out), 0);
	assert_non_null(strstr(out, "1 for another tenant than --tenant"));
	free(out);
	assert_owner(c, "pin-1", "beta");
	assert_owner(c, "pin-2", "acme");

	/* [tenants] pinned = strict: quarantined instead, and counted. */
	char *cfgdir = path_in(c, "config/dmarcsift");
	assert_int_equal(mkdir(cfgdir, 0755), 0);
	char *cfg = path_in(c, "config/dmarcsift/dmarcsift.conf");
	FILE *f = fopen(cfg, "w");
	assert_non_null(f);
	fputs("[tenants]\npinned = strict\n", f);
	fclose(f);
	write_report(c, "p3.xml", "pin-3", "b.example");
	char *p3 = path_in(c, "p3.xml");
	const char *strict[] = {"ingest", "--json", "--db", c->db, "--tenant", "acme", p3, NULL};
	assert_int_equal(run_bin(strict, NULL, &out), 1);
	assert_non_null(strstr(out, "\"tenant_mismatches\":1"));
	free(out);
	assert_int_equal(
	    count(c, "SELECT count(*) FROM dmarcsift.reports WHERE report_id = $1", "pin-3"), 0);
	assert_int_equal(count(c,
	                       "SELECT count(*) FROM dmarcsift.v_failures WHERE reason LIKE"
	                       " '%pinned to tenant acme, but tenant beta owns%'"
	                       " AND tenant = 'unassigned' AND domain = 'b.example'",
	                       NULL),
	                 1);
	/* Pinned, with no domain to go by: the pinned tenant's. */
	char *bad = path_in(c, "bad.xml");
	FILE *bf = fopen(bad, "w");
	assert_non_null(bf);
	fputs("<feedback><report_metadata>", bf);
	fclose(bf);
	const char *pb[] = {"ingest", "--quiet", "--db", c->db, "--tenant", "beta", bad, NULL};
	assert_int_equal(run_bin(pb, NULL, NULL), 1);
	assert_int_equal(count(c,
	                       "SELECT count(*) FROM dmarcsift.v_failures WHERE tenant = 'beta'"
	                       " AND domain IS NULL",
	                       NULL),
	                 1);
	const char *rb[] = {"failures", "--db", c->db, NULL};
	assert_int_equal(run_bin(rb, NULL, &out), 0);
	assert_non_null(strstr(out, "    tenant beta\n"));
	free(out);
	assert_int_equal(q_int(c->db,
	                       "WITH d AS (DELETE FROM dmarcsift.failures WHERE tenant_id <> 0"
	                       " RETURNING 1) SELECT count(*) FROM d",
	                       0, NULL),
	                 1);
	free(bad);

	/* reprocess keeps the original reason and the first received_at. */
	char *first =
	    q_str(c->db, "SELECT received_at::text || reason FROM dmarcsift.failures", 0, NULL);
	const char *re[] = {"reprocess", "--db", c->db, "--tenant", "acme", "--all", NULL};
	assert_int_equal(run_bin(re, NULL, NULL), 1);
	char *again =
	    q_str(c->db, "SELECT received_at::text || reason FROM dmarcsift.failures", 0, NULL);
	assert_string_equal(first, again);
	assert_int_equal(count(c, "SELECT attempts FROM dmarcsift.failures", NULL), 2);
	free(first);
	free(again);
	/* Without the pin, the report goes to its owner and the entry closes. */
	const char *re2[] = {"reprocess", "--db", c->db, "--all", NULL};
	assert_int_equal(run_bin(re2, NULL, NULL), 0);
	assert_owner(c, "pin-3", "beta");
	assert_int_equal(count(c, "SELECT count(*) FROM dmarcsift.v_failures", NULL), 0);

	unlink(cfg);
	rmdir(cfgdir);
	unsetenv("XDG_CONFIG_HOME");
	free(cfg);
	free(cfgdir);
	free(xdg);
	free(p1);
	free(p2);
	free(p3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_adopt_everything_and_most_specific, clifx_setup,
	                                    clifx_teardown),
	    cmocka_unit_test_setup_teardown(test_names_and_domains, clifx_setup, clifx_teardown),
	    cmocka_unit_test_setup_teardown(test_import_500_twice, clifx_setup, clifx_teardown),
	    cmocka_unit_test_setup_teardown(test_pinned_mismatch_unknown_tenant_reprocess,
	                                    clifx_setup, clifx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
