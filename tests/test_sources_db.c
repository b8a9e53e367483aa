/*
 * test_sources_db: naming sending sources end to end — the real binary,
 * a real PostgreSQL (DMARCSIFT_TEST_DB) and a real DNS server (unbound on
 * loopback with fixtures/dns/zone.conf, DMARCSIFT_TEST_DNS, stopped and
 * started again through scripts/dns-test-server.sh): v_sources names the
 * fixtures' services, answers are cached with bounded lifetimes and asked
 * again only when stale, labels and the user's services win, tenants see
 * only their own sources, and an ingest with the DNS server stopped runs as
 * fast as with --no-resolve and says what it could not look up.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "core/xalloc.h"
#include "tests/support/testdb.h"

#include <fcntl.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DNS_SCRIPT FIXTURES_DIR "/../scripts/dns-test-server.sh"

static char *conninfo;
static char *reader_role; /* created by test_tenant_isolation; roles outlive databases */

static const char *dns_dir(void)
{
	const char *d = getenv("DMARCSIFT_TEST_DNS_DIR");
	if (!d || !*d)
		fail_msg("DMARCSIFT_TEST_DNS_DIR is not set: run scripts/test.sh");
	return d;
}

static int setup(void **state)
{
	(void)state;
	const char *dns = getenv("DMARCSIFT_TEST_DNS");
	if (!dns || !*dns) {
		fprintf(stderr, "test_sources_db: needs DMARCSIFT_TEST_DNS (scripts/test.sh starts "
		                "the DNS server)\n");
		return -1;
	}
	setenv("DMARCSIFT_DNS_SERVERS", dns, 1);
	if (testdb_create(&conninfo) != 0)
		return -1;
	setenv("DMARCSIFT_DB", conninfo, 1);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	testdb_drop(conninfo);
	free(conninfo);
	if (reader_role) {
		PGconn *c = PQconnectdb(getenv("DMARCSIFT_TEST_DB"));
		char sql[128];
		snprintf(sql, sizeof sql, "DROP ROLE IF EXISTS %s", reader_role);
		PQclear(PQexec(c, sql));
		PQfinish(c);
		free(reader_role);
	}
	return 0;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs the binary (or a script when args[0] starts with '/'); standard
 * output and error together into *out. Returns the exit code. */
static int runx(const char *const *args, char **out)
{
	int pfd[2];
	assert_int_equal(pipe(pfd), 0);
	size_t n = 0;
	while (args[n])
		n++;
	char **argv = xcalloc(n + 2, sizeof *argv);
	size_t k = 0;
	if (args[0][0] != '/')
		argv[k++] = xstrdup(DMARCSIFT_BIN);
	for (size_t i = 0; i < n; i++)
		argv[k++] = xstrdup(args[i]);
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(pfd[1], STDOUT_FILENO);
		dup2(pfd[1], STDERR_FILENO);
		close(pfd[0]);
		close(pfd[1]);
		int in = open("/dev/null", O_RDONLY);
		dup2(in, STDIN_FILENO);
		execv(argv[0], argv);
		_exit(127);
	}
	close(pfd[1]);
	size_t len = 0, cap = 4096;
	char *b = xmalloc(cap);
	ssize_t got;
	while ((got = read(pfd[0], b + len, cap - len - 1)) > 0) {
		len += (size_t)got;
		if (cap - len < 2)
			b = xrealloc(b, cap *= 2);
	}
	b[len] = '\0';
	close(pfd[0]);
	int st;
	waitpid(pid, &st, 0);
	for (size_t i = 0; i < k; i++)
		free(argv[i]);
	free(argv);
	if (out)
		*out = b;
	else
		free(b);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* The first column of the first row ("(null)" for NULL, "(none)" for no row). */
static char *q(const char *sql, const char *param)
{
	PGconn *c = PQconnectdb(conninfo);
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	PGresult *r =
	    PQexecParams(c, sql, param ? 1 : 0, NULL, param ? &param : NULL, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(c));
	char *v = xstrdup(PQntuples(r) == 0      ? "(none)"
	                  : PQgetisnull(r, 0, 0) ? "(null)"
	                                         : PQgetvalue(r, 0, 0));
	PQclear(r);
	PQfinish(c);
	return v;
}

static void expect(const char *sql, const char *param, const char *want)
{
	char *v = q(sql, param);
	if (strcmp(v, want) != 0)
		fail_msg("%s [%s]: got '%s', expected '%s'", sql, param ? param : "", v, want);
	free(v);
}

#define SRC "SELECT %s FROM dmarcsift.v_sources WHERE source_ip = $1::inet"

static void expect_source(const char *ip, const char *col, const char *want)
{
	char sql[256];
	snprintf(sql, sizeof sql, SRC, col);
	expect(sql, ip, want);
}

static void test_ingest_names_sources(void **state)
{
	(void)state;
	char *out = NULL;
	const char *a[] = {"ingest", FIXTURES_DIR "/reports", FIXTURES_DIR "/sources", NULL};
	int rc = runx(a, &out);
	if (rc != 0 && rc != 1)
		fail_msg("ingest: exit %d: %s", rc, out);
	/* Naming ran at the end of the ingest and said so. */
	assert_non_null(strstr(out, "sources: "));
	free(out);

	/* Reverse DNS confirmed forward names the service. */
	expect_source("192.0.2.1", "ptr", "mail-ot1-f41.google.com");
	expect_source("192.0.2.1", "ptr_confirmed::text", "true");
	expect_source("192.0.2.1", "org_domain", "google.com");
	expect_source("192.0.2.1", "service || '/' || service_type",
	              "Google Workspace/mailbox_provider");
	expect_source("192.0.2.1", "asn || ' ' || as_name || ' ' || country",
	              "15169 GOOGLE, US US");
	expect_source("198.51.100.7", "service", "SendGrid");
	expect_source("203.0.113.40", "service", "Amazon SES");
	/* IPv6, confirmed through AAAA. */
	expect_source("2001:db8::25", "service", "Microsoft 365");
	expect_source("2001:db8::25", "asn::text", "8075");
	/* A PTR whose name points elsewhere is shown, not trusted. */
	expect_source("198.51.100.8", "ptr || ' ' || ptr_confirmed", "mail.example.com false");
	expect_source("198.51.100.8", "coalesce(service, '-')", "-");
	expect_source("2001:db8::a", "ptr_confirmed::text", "false");
	/* NXDOMAIN: no name. */
	expect_source("198.51.100.9", "coalesce(ptr, '-')", "-");
	/* Evidence other than reverse DNS (fixtures/sources/MANIFEST.md). */
	expect_source("203.0.113.60", "service || '/' || service_type", "Mailchimp/marketing");
	expect_source("203.0.113.61", "service || '/' || service_type", "Zendesk/helpdesk");
	expect_source("203.0.113.63", "service || '/' || forwarded", "Google Groups/true");
	expect_source("203.0.113.62", "forwarded::text", "true");
	expect_source("203.0.113.66", "forwarded::text", "true");
	expect_source("203.0.113.60", "forwarded::text", "false");
	expect_source("203.0.113.64", "service || ' ' || as_name",
	              "DigitalOcean DIGITALOCEAN-ASN, US");
	expect("SELECT matched_by FROM dmarcsift.source_marks WHERE source_ip = $1::inet",
	       "203.0.113.64", "asn");
	/* Messages and the DMARC pass rate come from the records. */
	expect_source("203.0.113.62", "messages || ' ' || dmarc_pass_rate", "8 1.0000");
	expect_source("203.0.113.60", "messages || ' ' || dmarc_pass_rate", "40 0.0000");
	/* Organisational domains of record domains. */
	expect("SELECT org_domain FROM dmarcsift.org_domains WHERE domain = $1", "news.example.com",
	       "example.com");
	expect("SELECT org_domain FROM dmarcsift.org_domains WHERE domain = $1",
	       "bounce.zendesk.com", "zendesk.com");
	/* v_sources has exactly the columns. */
	expect("SELECT string_agg(column_name, ',' ORDER BY ordinal_position) FROM "
	       "information_schema.columns WHERE table_schema = 'dmarcsift' AND table_name = $1",
	       "v_sources",
	       "tenant,source_ip,ptr,ptr_confirmed,org_domain,asn,as_name,country,service,"
	       "service_type,forwarded,first_seen,last_seen,messages,dmarc_pass_rate");
}

#define LIFETIME                                                                                   \
	"SELECT extract(epoch FROM %s_expires_at - resolved_at)::bigint FROM "                     \
	"dmarcsift.source_facts WHERE ip = $1::inet"

static void expect_lifetime(const char *ip, const char *part, const char *want)
{
	char sql[256];
	snprintf(sql, sizeof sql, LIFETIME, part);
	expect(sql, ip, want);
}

static void test_cache_lifetimes(void **state)
{
	(void)state;
	/* PTR TTL 60 s -> 1 h floor; 3600 s as given; 30 days -> 7-day ceiling. */
	expect_lifetime("198.51.100.7", "ptr", "3600");
	expect_lifetime("192.0.2.1", "ptr", "3600");
	expect_lifetime("203.0.113.40", "ptr", "604800");
	/* AS names 86400 s, origins 3600 s: the smaller. */
	expect_lifetime("192.0.2.1", "asn", "3600");
	/* NXDOMAIN: the SOA's negative TTL (600 s), within [5 min, 1 h]. */
	expect_lifetime("198.51.100.9", "ptr", "600");
	/* The zone that never answers: a timeout, kept 5 minutes. */
	expect("SELECT ptr_status FROM dmarcsift.source_facts WHERE ip = $1::inet", "198.51.100.13",
	       "timeout");
	expect_lifetime("198.51.100.13", "ptr", "300");
}

static void test_cache_asks_again_only_when_stale(void **state)
{
	(void)state;
	char *out = NULL;
	const char *a[] = {"sources", "resolve", "--json", NULL};
	assert_int_equal(runx(a, &out), 0);
	/* Everything is fresh: nothing to ask. */
	assert_non_null(strstr(out, "\"stale\":0,"));
	free(out);
	char *before = q("SELECT resolved_at::text FROM dmarcsift.source_facts WHERE ip = $1::inet",
	                 "198.51.100.7");
	/* Let one answer expire. */
	PGconn *c = PQconnectdb(conninfo);
	PQclear(PQexec(c, "UPDATE dmarcsift.source_facts SET ptr_expires_at = now() - interval "
	                  "'1 second' WHERE ip = '198.51.100.7'"));
	PQfinish(c);
	assert_int_equal(runx(a, &out), 0);
	assert_non_null(strstr(out, "\"stale\":1,\"resolved\":1,"));
	free(out);
	char *after = q("SELECT resolved_at::text FROM dmarcsift.source_facts WHERE ip = $1::inet",
	                "198.51.100.7");
	assert_string_not_equal(before, after);
	expect_lifetime("198.51.100.7", "ptr", "3600");
	free(before);
	free(after);
}

static void test_labels(void **state)
{
	(void)state;
	char *out = NULL;
	const char *bad[] = {"sources",         "label",    "--tenant", "unassigned",
	                     "198.51.100.7/24", "our MTAs", NULL};
	assert_int_equal(runx(bad, &out), 2);
	assert_non_null(strstr(out, "not a network"));
	free(out);
	const char *nobody[] = {"sources",         "label", "--tenant", "nosuch",
	                        "198.51.100.0/24", "x",     NULL};
	assert_int_equal(runx(nobody, &out), 2);
	assert_non_null(strstr(out, "no tenant 'nosuch'"));
	free(out);
	const char *lab[] = {"sources",         "label",    "--tenant", "unassigned",
	                     "198.51.100.0/24", "our MTAs", NULL};
	assert_int_equal(runx(lab, NULL), 0);
	/* A label wins at once over the service (SendGrid) — no resolve needed. */
	expect_source("198.51.100.7", "service || '/' || service_type", "our MTAs/own");
	const char *narrow[] = {"sources",    "label",           "--tenant",
	                        "unassigned", "198.51.100.7/32", "the newsletter box",
	                        NULL};
	assert_int_equal(runx(narrow, NULL), 0);
	expect_source("198.51.100.7", "service", "the newsletter box");
	expect_source("198.51.100.8", "service", "our MTAs");
	const char *un1[] = {"sources",    "unlabel",         "--tenant",
	                     "unassigned", "198.51.100.7/32", NULL};
	const char *un2[] = {"sources",    "unlabel",         "--tenant",
	                     "unassigned", "198.51.100.0/24", NULL};
	assert_int_equal(runx(un1, NULL), 0);
	assert_int_equal(runx(un2, NULL), 0);
	expect_source("198.51.100.7", "service", "SendGrid");
}

static char *write_tmp(const char *name, const char *text)
{
	const char *dir = getenv("DMARCSIFT_TEST_TMP");
	char *path = xasprintf("%s/%s", dir && *dir ? dir : "/tmp", name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static void test_user_services(void **state)
{
	(void)state;
	char *bad = write_tmp("sources-bad.tsv", "Example Lists\tnewsletter\t-\t-\t-\t-\t-\n");
	char *out = NULL;
	const char *lb[] = {"sources", "load", bad, NULL};
	assert_int_equal(runx(lb, &out), 2);
	assert_non_null(strstr(out, "sources-bad.tsv:1: type 'newsletter'"));
	free(out);
	expect("SELECT count(*)::text FROM dmarcsift.user_services", NULL, "0");

	char *good = write_tmp("sources-good.tsv", "# our lists\n"
	                                           "Example Lists\tmailing_list\tlist.example.org\t"
	                                           "list.example.org\t-\t-\t-\n");
	const char *lg[] = {"sources", "load", good, NULL};
	assert_int_equal(runx(lg, NULL), 0);
	/* Loading the same file again replaces its rows. */
	assert_int_equal(runx(lg, NULL), 0);
	expect("SELECT count(*)::text FROM dmarcsift.user_services", NULL, "1");
	const char *res[] = {"sources", "resolve", "--quiet", NULL};
	assert_int_equal(runx(res, NULL), 0);
	expect_source("203.0.113.66", "service || '/' || service_type || '/' || forwarded",
	              "Example Lists/mailing_list/true");

	/* --services FILE replaces the built-in table for a try. */
	char *only = write_tmp("sources-only.tsv",
	                       "Only Google\tmailbox_provider\tgoogle.com\t-\t-\t-\t-\n");
	const char *ro[] = {"sources", "resolve", "--quiet", "--services", only, NULL};
	assert_int_equal(runx(ro, NULL), 0);
	expect_source("192.0.2.1", "service", "Only Google");
	expect_source("198.51.100.7", "coalesce(service, '-')", "-");
	assert_int_equal(runx(res, NULL), 0);
	expect_source("198.51.100.7", "service", "SendGrid");
	free(bad);
	free(good);
	free(only);
}

static void test_tenant_isolation(void **state)
{
	(void)state;
	const char *add[] = {"tenant", "add", "acme", "acme.example", NULL};
	assert_int_equal(runx(add, NULL), 0);
	char *out = NULL;
	const char *ing[] = {"ingest", "--tenant", "acme",
	                     FIXTURES_DIR "/reports/rfc7489-basic.xml", NULL};
	/* The same bytes were ingested before: a copy with other bytes. */
	char *raw = NULL;
	{
		FILE *f = fopen(FIXTURES_DIR "/reports/rfc7489-basic.xml", "r");
		assert_non_null(f);
		char buf[65536];
		size_t n = fread(buf, 1, sizeof buf - 1, f);
		fclose(f);
		buf[n] = '\0';
		raw = xasprintf("%s<!-- acme copy -->\n", buf);
	}
	char *path = write_tmp("acme-report.xml", raw);
	ing[3] = path;
	int rc = runx(ing, &out);
	if (rc != 0)
		fail_msg("ingest --tenant acme: %d %s", rc, out);
	free(out);
	char *n_acme =
	    q("SELECT count(*)::text FROM dmarcsift.v_sources WHERE tenant = $1", "acme");
	assert_string_not_equal(n_acme, "0");
	/* A reading role mapped to acme (migration 0008_1's mechanism). */
	char role[64];
	snprintf(role, sizeof role, "src_reader_%d", (int)getpid());
	const char *grant[] = {"tenant", "grant", "acme", role, NULL};
	rc = runx(grant, &out);
	if (rc != 0)
		fail_msg("tenant grant: %d %s", rc, out);
	free(out);
	reader_role = xstrdup(role);
	PGconn *c = PQconnectdb(conninfo);
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	char sql[128];
	snprintf(sql, sizeof sql, "SET ROLE %s", role);
	PGresult *r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(c));
	PQclear(r);
	r = PQexec(c, "SELECT count(*)::text, count(*) FILTER (WHERE tenant <> 'acme')::text, "
	              "count(ptr)::text FROM dmarcsift.v_sources");
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("reader: %s", PQerrorMessage(c));
	assert_string_equal(PQgetvalue(r, 0, 0), n_acme);
	assert_string_equal(PQgetvalue(r, 0, 1), "0");
	/* The facts of acme's own sources (192.0.2.1, 198.51.100.7) are visible... */
	assert_string_not_equal(PQgetvalue(r, 0, 2), "0");
	PQclear(r);
	/* ...and no other address's. */
	r = PQexec(c,
	           "SELECT count(*)::text FROM dmarcsift.source_facts WHERE ip = '203.0.113.60'");
	assert_string_equal(PQgetvalue(r, 0, 0), "0");
	PQclear(r);
	r = PQexec(c, "SELECT count(*)::text FROM dmarcsift.source_facts");
	assert_string_equal(PQgetvalue(r, 0, 0), n_acme);
	PQclear(r);
	PQfinish(c);
	free(n_acme);
	free(raw);
	free(path);
}

static void dns_ctl(const char *cmd)
{
	const char *a[] = {DNS_SCRIPT, cmd, dns_dir(), NULL};
	char *out = NULL;
	int rc = runx(a, &out);
	if (rc != 0)
		fail_msg("dns-test-server.sh %s: %s", cmd, out);
	free(out);
}

static double timed_ingest(const char *db, bool resolve, char **out)
{
	setenv("DMARCSIFT_DB", db, 1);
	const char *with[] = {"ingest", "--quiet", FIXTURES_DIR "/reports", NULL};
	const char *without[] = {"ingest", "--quiet", "--no-resolve", FIXTURES_DIR "/reports",
	                         NULL};
	double t0 = now_s();
	int rc = runx(resolve ? with : without, out);
	double t = now_s() - t0;
	setenv("DMARCSIFT_DB", conninfo, 1);
	if (rc != 0 && rc != 1)
		fail_msg("ingest: exit %d: %s", rc, *out);
	return t;
}

static void test_ingest_with_dns_stopped(void **state)
{
	(void)state;
	char *db1 = NULL, *db2 = NULL, *out = NULL;
	assert_int_equal(testdb_create(&db1), 0);
	assert_int_equal(testdb_create(&db2), 0);
	dns_ctl("stop");
	double with = timed_ingest(db1, true, &out);
	dns_ctl("resume");
	/* Said what it could not do, even with --quiet; stored nothing for it. */
	if (!strstr(out, "not looked up (DNS unreachable), left for the next run"))
		fail_msg("no DNS report in: %s", out);
	free(out);
	double without = timed_ingest(db2, false, &out);
	free(out);
	fprintf(stderr, "ingest with DNS stopped %.2f s, with --no-resolve %.2f s\n", with,
	        without);
	/* As fast: the naming step gives up at once. Slack for a busy machine. */
	assert_true(with < without * 1.5 + 1.0);
	PGconn *c = PQconnectdb(db1);
	PGresult *r = PQexec(c, "SELECT count(*)::text FROM dmarcsift.source_facts");
	assert_string_equal(PQgetvalue(r, 0, 0), "0");
	PQclear(r);
	PQfinish(c);
	/* The next run, with DNS back, looks them up. */
	setenv("DMARCSIFT_DB", db1, 1);
	const char *res[] = {"sources", "resolve", "--json", NULL};
	assert_int_equal(runx(res, &out), 0);
	setenv("DMARCSIFT_DB", conninfo, 1);
	assert_non_null(strstr(out, "\"left\":0,"));
	free(out);
	testdb_drop(db1);
	testdb_drop(db2);
	free(db1);
	free(db2);
}

static void test_usage(void **state)
{
	(void)state;
	char *out = NULL;
	const char *a[] = {"sources", "resolve", "--budget", "soon", NULL};
	assert_int_equal(runx(a, &out), 2);
	assert_non_null(strstr(out, "--budget 'soon'"));
	free(out);
	const char *b[] = {"sources", "resolve", "--dns-servers", "not a server", NULL};
	assert_int_equal(runx(b, &out), 2);
	assert_non_null(strstr(out, "DNS servers 'not a server'"));
	free(out);
	const char *d[] = {"sources", "resolve", "--since", "last tuesday-ish", NULL};
	assert_int_equal(runx(d, &out), 2);
	assert_non_null(strstr(out, "--since 'last tuesday-ish' is not a date"));
	free(out);
	const char *since[] = {"sources", "resolve", "--since", "2023-11-16", "--json", NULL};
	assert_int_equal(runx(since, &out), 0);
	free(out);
	const char *c[] = {"sources", "frobnicate", NULL};
	assert_int_equal(runx(c, NULL), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ingest_names_sources),
	    cmocka_unit_test(test_cache_lifetimes),
	    cmocka_unit_test(test_cache_asks_again_only_when_stale),
	    cmocka_unit_test(test_labels),
	    cmocka_unit_test(test_user_services),
	    cmocka_unit_test(test_tenant_isolation),
	    cmocka_unit_test(test_ingest_with_dns_stopped),
	    cmocka_unit_test(test_usage),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
