/*
 * test_correlate: the correlator against a real PostgreSQL
 * (DMARCSIFT_TEST_DB), driven through the binary the way a user drives it:
 * `ingest` the aggregate reports, `bounces ingest` the rejects, then the
 * flags in dmarcsift.v_flags must be exactly the ones each scenario of
 * fixtures/correlate/ (see its README.md) tells. Each scenario gets a
 * database of its own. Also: a re-run changes nothing, a new day extends a
 * flag, seven quiet days resolve it and returning rejects reopen it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "core/xalloc.h"
#include "tests/support/run.h"
#include "tests/support/sink.h"
#include "tests/support/testdb.h"

#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define CDIR FIXTURES_DIR "/correlate/"

/* One line per flag: tenant|provider|domain|ip|kind|confidence|cause|status|
 * rejects|dmarc_messages|dmarc_pass_rate (3 decimals). */
static const char sig_sql[] =
    "SELECT coalesce(string_agg(concat_ws('|', tenant, provider, domain,"
    " coalesce(host(source_ip), '-'), kind, confidence, coalesce(cause, '-'), status, rejects,"
    " dmarc_messages, coalesce(round(dmarc_pass_rate::numeric, 3)::text, '-')), E'\\n'"
    " ORDER BY tenant, provider, domain, source_ip), '') FROM dmarcsift.v_flags";

struct db {
	char *conn;
};

static int setup(void **state)
{
	struct db *d = xcalloc(1, sizeof *d);
	if (testdb_create(&d->conn) != 0) {
		fprintf(stderr, "test_correlate: needs DMARCSIFT_TEST_DB\n");
		free(d);
		return -1;
	}
	*state = d;
	return 0;
}

static int teardown(void **state)
{
	struct db *d = *state;
	testdb_drop(d->conn);
	free(d->conn);
	free(d);
	return 0;
}

static void ok(int rc, const char *what)
{
	if (rc != 0)
		fail_msg("%s: exit %d", what, rc);
}

static void reports(struct db *d, const char *path)
{
	const char *a[] = {"ingest", "--quiet", "--no-correlate", "--db", d->conn, path, NULL};
	ok(run_bin(a, NULL, NULL), path);
}

static void bounces(struct db *d, const char *path, const char *hosts)
{
	const char *a[] = {"bounces",
	                   "ingest",
	                   "--no-correlate",
	                   "--db",
	                   d->conn,
	                   path,
	                   hosts ? "--mta-hosts" : NULL,
	                   hosts,
	                   NULL};
	char *out = NULL;
	ok(run_bin(a, NULL, &out), path);
	free(out);
}

/* Runs `correlate` (full or incremental) and returns its summary line. */
static char *correlate(struct db *d, bool full)
{
	const char *a[] = {"correlate", "--db", d->conn, full ? "--full" : NULL, NULL};
	char *out = NULL;
	ok(run_bin(a, NULL, &out), "correlate");
	return out;
}

static char *sig(struct db *d)
{
	return q_str(d->conn, sig_sql, 0, NULL);
}

static char *evidence(struct db *d, const char *domain, const char *path)
{
	const char *p[2] = {domain, path};
	return q_str(
	    d->conn,
	    "SELECT string_agg(evidence #>> string_to_array($2, '.'), ',' ORDER BY source_ip)"
	    " FROM dmarcsift.v_flags WHERE domain = $1",
	    2, p);
}

/* The first column of the first row of `sql` must be `want`. */
static void expect_q(struct db *d, const char *sql, const char *want)
{
	char *got = q_str(d->conn, sql, 0, NULL);
	if (strcmp(got, want) != 0)
		fail_msg("%s: '%s', want '%s'", sql, got, want);
	free(got);
}

static void expect(struct db *d, const char *want)
{
	char *got = sig(d);
	if (strcmp(got, want) != 0)
		fail_msg("flags:\n%s\nwant:\n%s", got, want);
	free(got);
}

static void expect_ev(struct db *d, const char *domain, const char *path, const char *want)
{
	char *got = evidence(d, domain, path);
	if (strcmp(got, want) != 0)
		fail_msg("evidence %s of %s: '%s', want '%s'", path, domain, got, want);
	free(got);
}

/* 1: an ESP's IP sends as acme.example without aligned DKIM; Google's
 * reports show 95 % DMARC failure; Gmail rejects 550 5.7.26. */
static void s1_esp_dkim(void **state)
{
	struct db *d = *state;
	reports(d, CDIR "s1-esp-dkim/google-2026-11-10.xml");
	bounces(d, CDIR "s1-esp-dkim/esp-2026-11-10.csv", NULL);
	free(correlate(d, false));
	expect(
	    d,
	    "unassigned|google|acme.example|203.0.113.7|auth_driven|high|dkim|open|12|1000|0.050");
	expect_ev(d, "acme.example", "failing_dkim.0.selector", "s1");
	expect_ev(d, "acme.example", "failing_dkim.0.domain", "esp-mail.example");
	expect_ev(d, "acme.example", "reports.items.0.report_id", "s1-g-20261110");
	expect_ev(d, "acme.example", "samples.0.rule", "gmail.dmarc-policy");
	expect_ev(d, "acme.example", "ip_source", "log");
}

/* 1 with failure reports: Google's RUF about the ESP's IP on the day of
 * the rejects is sample evidence of the flag; one from another day,
 * another IP or another reporter is not. */
static void s1_failure_reports(void **state)
{
	struct db *d = *state;
	reports(d, CDIR "s1-esp-dkim/google-2026-11-10.xml");
	bounces(d, CDIR "s1-esp-dkim/esp-2026-11-10.csv", NULL);
	reports(d, CDIR "s1-esp-dkim/ruf");
	expect_q(d, "SELECT count(*) FROM dmarcsift.v_failure_reports", "4");
	free(correlate(d, false));
	expect(
	    d,
	    "unassigned|google|acme.example|203.0.113.7|auth_driven|high|dkim|open|12|1000|0.050");
	expect_ev(d, "acme.example", "failure_reports.count", "1");
	expect_ev(d, "acme.example", "failure_reports.items.0.arrival", "2026-11-10T09:00:03Z");
	expect_ev(d, "acme.example", "failure_reports.items.0.source_ip", "203.0.113.7");
	expect_ev(d, "acme.example", "failure_reports.items.0.dkim_selector", "s1");
	expect_ev(d, "acme.example", "failure_reports.items.0.message_id",
	          "<ruf-s1-same-day-orig@esp-mail.example>");
}

/* 2: Microsoft rejects with spam-policy text while its reports show
 * 100 % pass for that IP (Exim logs the sending IP: I=[...]). */
static void s2_microsoft_content(void **state)
{
	struct db *d = *state;
	reports(d, CDIR "s2-microsoft-content/microsoft-2026-11-10.xml");
	bounces(d, CDIR "s2-microsoft-content/exim_main.log", NULL);
	free(correlate(d, false));
	expect(d, "unassigned|microsoft|bravo.example|198.51.100.30|not_auth_driven|high|content|"
	          "open|6|400|1.000");
}

/* 3: Yahoo rejects naming a Spamhaus listing; auth passes. */
static void s3_yahoo_spamhaus(void **state)
{
	struct db *d = *state;
	reports(d, CDIR "s3-yahoo-spamhaus/yahoo-2026-11-10.xml");
	bounces(d, CDIR "s3-yahoo-spamhaus/esp-2026-11-10.csv", NULL);
	free(correlate(d, false));
	expect(d, "unassigned|yahoo|charlie.example|198.51.100.50|not_auth_driven|high|blocklisted|"
	          "open|5|300|1.000");
	expect_ev(d, "charlie.example", "listed_on", "Spamhaus");
	expect_ev(d, "charlie.example", "listed_asset", "ip");
	expect_ev(d, "charlie.example", "listed_value", "198.51.100.50");
}

/* 4: Apple rejects; Apple sent no reports for that source (Google's report
 * for it is no evidence about Apple). */
static void s4_no_reports(void **state)
{
	struct db *d = *state;
	reports(d, CDIR "s4-no-reports/google-2026-11-10.xml");
	bounces(d, CDIR "s4-no-reports/esp-2026-11-10.csv", NULL);
	free(correlate(d, false));
	expect(d, "unassigned|apple|echo.example|198.51.100.60|no_evidence|low|policy|open|4|0|-");
	char *note = evidence(d, "echo.example", "note");
	assert_non_null(strstr(note, "No aggregate data from Apple"));
	assert_non_null(strstr(note, "rua="));
	free(note);
}

/* 5: the text names SPF but the data shows pass (forwarded mail). */
static void s5_forwarder_spf(void **state)
{
	struct db *d = *state;
	reports(d, CDIR "s5-forwarder-spf/google-2026-11-10.xml");
	bounces(d, CDIR "s5-forwarder-spf/esp-2026-11-10.csv", NULL);
	free(correlate(d, false));
	expect(d, "unassigned|google|foxtrot.example|198.51.100.70|auth_driven|low|spf|open|3|200|"
	          "1.000");
	char *note = evidence(d, "foxtrot.example", "note");
	assert_non_null(strstr(note, "names SPF"));
	assert_non_null(strstr(note, "forwarder"));
	free(note);
}

/* 6: two tenants share an ESP address; each flag uses its own tenant's
 * data only (pooled, both would be "mixed" at 64 %). */
static void s6_two_tenants(void **state)
{
	struct db *d = *state;
	const char *t1[] = {"tenant", "add", "alpha", "alpha.example", "--db", d->conn, NULL};
	const char *t2[] = {"tenant", "add", "beta", "beta.example", "--db", d->conn, NULL};
	ok(run_bin(t1, NULL, NULL), "tenant add alpha");
	ok(run_bin(t2, NULL, NULL), "tenant add beta");
	reports(d, CDIR "s6-two-tenants/google-alpha-2026-11-10.xml");
	reports(d, CDIR "s6-two-tenants/google-beta-2026-11-10.xml");
	bounces(d, CDIR "s6-two-tenants/esp-2026-11-10.csv", NULL);
	free(correlate(d, false));
	expect(d,
	       "alpha|google|alpha.example|203.0.113.77|auth_driven|high|dkim|open|6|500|0.040\n"
	       "beta|google|beta.example|203.0.113.77|not_auth_driven|high|reputation|open|5|300|"
	       "1.000");
	/* A removed tenant's flags go with it (they describe only its data);
	 * its reports and bounces wait in 'unassigned', and the other tenant
	 * keeps its flag. */
	const char *rm[] = {"tenant", "remove", "alpha", "--db", d->conn, NULL};
	ok(run_bin(rm, NULL, NULL), "tenant remove alpha");
	expect(d,
	       "beta|google|beta.example|203.0.113.77|not_auth_driven|high|reputation|open|5|300|"
	       "1.000");
	expect_q(d,
	         "SELECT count(*) FROM dmarcsift.flags f WHERE NOT EXISTS"
	         " (SELECT 1 FROM dmarcsift.tenants t WHERE t.tenant_id = f.tenant_id)",
	         "0");
}

/* The tenants are correlated in two shares (tenant_id odd, even), each in
 * a transaction of its own on its own connection, at once. A share that
 * fails keeps its queue and the other's flags stand; the next run does the
 * rest. */
static void tenant_shares(void **state)
{
	struct db *d = *state;
	const char *t1[] = {"tenant", "add", "alpha", "alpha.example", "--db", d->conn, NULL};
	const char *t2[] = {"tenant", "add", "beta", "beta.example", "--db", d->conn, NULL};
	ok(run_bin(t1, NULL, NULL), "tenant add alpha");
	ok(run_bin(t2, NULL, NULL), "tenant add beta");
	expect_q(d,
	         "SELECT count(DISTINCT tenant_id % 2) FROM dmarcsift.tenants WHERE tenant_id > 0",
	         "2");
	reports(d, CDIR "s6-two-tenants/google-alpha-2026-11-10.xml");
	reports(d, CDIR "s6-two-tenants/google-beta-2026-11-10.xml");
	bounces(d, CDIR "s6-two-tenants/esp-2026-11-10.csv", NULL);
	q_exec(d->conn,
	       "CREATE TABLE public.flag_pids (pid integer, tenant_id integer);"
	       " CREATE FUNCTION public.note_pid() RETURNS trigger LANGUAGE plpgsql AS $$"
	       " BEGIN INSERT INTO public.flag_pids VALUES (pg_backend_pid(), NEW.tenant_id);"
	       " RETURN NULL; END $$;"
	       " CREATE TRIGGER note_pid AFTER INSERT ON dmarcsift.flags FOR EACH ROW"
	       " EXECUTE FUNCTION public.note_pid();"
	       " CREATE FUNCTION public.refuse_beta() RETURNS trigger LANGUAGE plpgsql AS $$"
	       " BEGIN IF NEW.tenant_id = (SELECT tenant_id FROM dmarcsift.tenants"
	       " WHERE name = 'beta') AND EXISTS (SELECT 1 FROM public.refuse) THEN"
	       " RAISE EXCEPTION 'beta refused'; END IF; RETURN NEW; END $$;"
	       " CREATE TABLE public.refuse (x integer);"
	       " CREATE TRIGGER refuse_beta BEFORE INSERT ON dmarcsift.flags FOR EACH ROW"
	       " EXECUTE FUNCTION public.refuse_beta()");
	const char *s6 =
	    "alpha|google|alpha.example|203.0.113.77|auth_driven|high|dkim|open|6|500|0.040\n"
	    "beta|google|beta.example|203.0.113.77|not_auth_driven|high|reputation|open|5|300|"
	    "1.000";
	free(correlate(d, false));
	expect(d, s6);
	/* one backend per share, both in the same run */
	expect_q(d, "SELECT count(DISTINCT pid) FROM public.flag_pids", "2");
	expect_q(d, "SELECT count(DISTINCT tenant_id % 2) FROM public.flag_pids", "2");

	/* again from scratch, beta's share failing */
	q_exec(d->conn, "DELETE FROM dmarcsift.flags; INSERT INTO public.refuse VALUES (1);"
	                " INSERT INTO dmarcsift.correlate_dirty SELECT DISTINCT tenant_id, day"
	                " FROM dmarcsift.bounce_days ON CONFLICT DO NOTHING");
	const char *a[] = {"correlate", "--db", d->conn, NULL};
	char *out = NULL;
	if (run_bin(a, NULL, &out) == 0)
		fail_msg("a failed share is not a failed run: %s", out);
	free(out);
	expect(d, "alpha|google|alpha.example|203.0.113.77|auth_driven|high|dkim|open|6|500|0.040");
	expect_q(d,
	         "SELECT count(*) > 0 FROM dmarcsift.correlate_dirty c JOIN dmarcsift.tenants t"
	         " USING (tenant_id) WHERE t.name = 'beta'",
	         "t");
	expect_q(d,
	         "SELECT count(*) FROM dmarcsift.correlate_dirty c JOIN dmarcsift.tenants t"
	         " USING (tenant_id) WHERE t.name = 'alpha'",
	         "0");
	q_exec(d->conn, "DELETE FROM public.refuse");
	free(correlate(d, false));
	expect(d, s6);
}

/* 7: report windows that overlap the rejects' day only by the +-1 day rule
 * (reports two days off are not used), reports for the organisational
 * domain golf.example while the rejects are from news.golf.example. The
 * first group's rejects stopped 9 days before the tenant's last bounce. */
static void s7_windows_orgdomain(void **state)
{
	struct db *d = *state;
	static const char *const days[] = {"11", "12", "19", "22"};
	for (int i = 0; i < 4; i++) {
		char path[256];
		snprintf(path, sizeof path, CDIR "s7-windows-orgdomain/google-2026-11-%s.xml",
		         days[i]);
		reports(d, path);
	}
	bounces(d, CDIR "s7-windows-orgdomain/esp.csv", NULL);
	free(correlate(d, false));
	expect(d,
	       "unassigned|google|news.golf.example|198.51.100.90|auth_driven|high|dkim|resolved|"
	       "4|100|0.000\n"
	       "unassigned|google|news.golf.example|198.51.100.91|auth_driven|high|dkim|open|2|60|"
	       "0.000");
	expect_ev(d, "news.golf.example", "domain_match", "organisational,organisational");
	expect_ev(d, "news.golf.example", "reports.items.0.report_id", "s7-g-1111,s7-g-1119");
}

/* 8: a Postfix log names no sending IP; the host map (--mta-hosts) gives
 * the same flags as the CSV export that has the IPs; without the map the
 * flag is domain-level, with lower confidence and ip_source none. */
static void s8_postfix_hostmap(void **state)
{
	struct db *d = *state;
	static const char want_ip[] =
	    "unassigned|google|hotel.example|198.51.100.7|auth_driven|high|dkim|open|5|900|0.000";
	reports(d, CDIR "s8-postfix-hostmap/google-2026-11-10.xml");
	bounces(d, CDIR "s8-postfix-hostmap/postfix.log", CDIR "s8-postfix-hostmap/mta-hosts.tsv");
	free(correlate(d, false));
	expect(d, want_ip);
	expect_ev(d, "hotel.example", "ip_source", "host_map");
	assert_int_equal(q_int(d->conn,
	                       "SELECT count(*) FROM dmarcsift.v_bounces"
	                       " WHERE ip_source = 'host_map' AND sending_ip = '198.51.100.7'",
	                       0, NULL),
	                 5);

	/* the same events from an export that logs the IP: the same flag */
	char *other = NULL;
	assert_int_equal(testdb_create(&other), 0);
	struct db d2 = {other};
	reports(&d2, CDIR "s8-postfix-hostmap/google-2026-11-10.xml");
	bounces(&d2, CDIR "s8-postfix-hostmap/with-ips.csv", NULL);
	free(correlate(&d2, false));
	expect(&d2, want_ip);
	testdb_drop(other);
	free(other);

	/* without the map */
	assert_int_equal(testdb_create(&other), 0);
	d2.conn = other;
	reports(&d2, CDIR "s8-postfix-hostmap/google-2026-11-10.xml");
	bounces(&d2, CDIR "s8-postfix-hostmap/postfix.log", NULL);
	free(correlate(&d2, false));
	expect(&d2, "unassigned|google|hotel.example|-|auth_driven|medium|dkim|open|5|1000|0.100");
	expect_ev(&d2, "hotel.example", "ip_source", "none");
	expect_ev(&d2, "hotel.example", "top_failing_ips.0.ip", "198.51.100.7");
	testdb_drop(other);
	free(other);
}

/* A DMARC result some receivers write as 'none' (or anything else that is
 * not 'pass') is not a pass: 950 of 1,000 pass (mixed), not 1,000 of 1,000
 * (not_auth_driven). The parser refuses such values today, so the report
 * is stored the way the store writes rows, and the rollup trigger sees it. */
static void s9_none_results(void **state)
{
	struct db *d = *state;
	bounces(d, CDIR "s9-none-results/esp-2026-11-10.csv", NULL); /* migrates too */
	int64_t n =
	    q_int(d->conn,
	          "WITH r AS (INSERT INTO dmarcsift.reports (tenant_id, org_name, report_id,"
	          " policy_domain, begin_at, end_at, schema) VALUES (0, 'google.com', 's9',"
	          " 'india.example', '2026-11-10 00:00:00+00', '2026-11-10 23:59:59+00', 'rfc7489')"
	          " RETURNING id), x AS (INSERT INTO dmarcsift.records (tenant_id, report_pk, seq,"
	          " source_ip, count, dkim, spf, header_from)"
	          " SELECT 0, r.id, v.seq, '198.51.100.110', v.n, v.res, v.res, 'india.example'"
	          " FROM r, (VALUES (0, 950, 'pass'), (1, 50, 'none')) v (seq, n, res) RETURNING 1)"
	          " SELECT count(*) FROM x",
	          0, NULL);
	assert_int_equal(n, 2);
	free(correlate(d, false));
	expect(d, "unassigned|google|india.example|198.51.100.110|mixed|low|-|open|3|1000|0.950");
}

/* Re-running changes nothing; a new day extends the flag; seven quiet days
 * resolve it; returning rejects reopen it as a new episode. The ingest
 * commands correlate on their own here (no --no-correlate). */
static void rerun_extend_resolve(void **state)
{
	struct db *d = *state;
	const char *r1[] = {
	    "ingest", "--quiet", "--db", d->conn, CDIR "s1-esp-dkim/google-2026-11-10.xml", NULL};
	ok(run_bin(r1, NULL, NULL), "ingest");
	const char *b1[] = {
	    "bounces", "ingest", "--db", d->conn, CDIR "s1-esp-dkim/esp-2026-11-10.csv", NULL};
	char *out = NULL;
	ok(run_bin(b1, NULL, &out), "bounces ingest");
	free(out);
	expect(
	    d,
	    "unassigned|google|acme.example|203.0.113.7|auth_driven|high|dkim|open|12|1000|0.050");
	char *before = q_str(d->conn, "SELECT updated_at::text FROM dmarcsift.flags", 0, NULL);

	out = correlate(d, false);
	assert_non_null(strstr(out, "0 groups, 0 new flags, 0 changed"));
	free(out);
	out = correlate(d, true);
	assert_non_null(strstr(out, "1 groups, 0 new flags, 0 changed"));
	free(out);
	char *after = q_str(d->conn, "SELECT updated_at::text FROM dmarcsift.flags", 0, NULL);
	assert_string_equal(before, after);
	free(before);
	free(after);

	/* the next day: the same flag, extended */
	reports(d, CDIR "s1-esp-dkim/day2/google-2026-11-11.xml");
	bounces(d, CDIR "s1-esp-dkim/day2/esp-2026-11-11.csv", NULL);
	out = correlate(d, false);
	assert_non_null(strstr(out, "0 new flags, 1 changed"));
	free(out);
	expect(
	    d,
	    "unassigned|google|acme.example|203.0.113.7|auth_driven|high|dkim|open|20|2000|0.025");
	expect_q(d,
	         "SELECT to_char(last_seen AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')"
	         " FROM dmarcsift.flags",
	         "2026-11-11 09:00:07");

	/* eight days with deliveries only */
	bounces(d, CDIR "s1-esp-dkim/quiet/esp-2026-11-19.csv", NULL);
	out = correlate(d, false);
	assert_non_null(strstr(out, "1 resolved"));
	free(out);
	expect(d, "unassigned|google|acme.example|203.0.113.7|auth_driven|high|dkim|resolved|20|"
	          "2000|0.025");

	/* the rejects come back: the same flag reopens, for the new episode
	 * (no reports cover it yet: text alone) */
	bounces(d, CDIR "s1-esp-dkim/reopen/esp-2026-11-25.csv", NULL);
	free(correlate(d, false));
	expect(d, "unassigned|google|acme.example|203.0.113.7|auth_driven|low|-|reopened|3|0|-");
	assert_int_equal(q_int(d->conn, "SELECT count(*) FROM dmarcsift.flags", 0, NULL), 1);
	expect_q(d, "SELECT evidence->>'episodes' FROM dmarcsift.flags", "2");
}

/* A report arriving late for a day inside a flag's episode that has no
 * rejects of its own (nor the days beside it) still changes the flag: the
 * incremental run recomputes it, as a full run would. */
static void late_report_inside_episode(void **state)
{
	struct db *d = *state;
	reports(d, CDIR "s1-esp-dkim/google-2026-11-10.xml");
	bounces(d, CDIR "s1-esp-dkim/esp-2026-11-10.csv", NULL);
	bounces(d, CDIR "s1-esp-dkim/late/esp-2026-11-14.csv", NULL);
	free(correlate(d, false));
	expect(
	    d,
	    "unassigned|google|acme.example|203.0.113.7|auth_driven|high|dkim|open|16|1000|0.050");

	reports(d, CDIR "s1-esp-dkim/late/google-2026-11-12.xml");
	char *out = correlate(d, false);
	assert_non_null(strstr(out, "1 groups, 0 new flags, 1 changed"));
	free(out);
	expect(
	    d,
	    "unassigned|google|acme.example|203.0.113.7|auth_driven|high|dkim|open|16|1500|0.033");
	expect_ev(d, "acme.example", "reports.count", "2");
	out = correlate(d, true);
	assert_non_null(strstr(out, "1 groups, 0 new flags, 0 changed"));
	free(out);
}

/* Incremental runs give what a full run gives. Two tenants, six providers,
 * reports and bounces added a day at a time (fixtures/correlate/incremental/
 * data.sql), with quiet days, an episode that ends and comes back, a day of
 * reports arriving late and late days of bounces (two and seven days late);
 * after every day's incremental run, a full run over the same data must
 * change no flag. */
/* One day of incremental/data.sql's story: the day's reports and bounce
 * events, with the late copies and late logs of days 8, 11 and 12. */
static void add_day(struct db *d, int day, long *next)
{
	char q[512];
	/* reports: every provider, but Apple's and GMX's every other day */
	snprintf(q, sizeof q, "SELECT public.inc_day_reports(%d, 'r', '{%s}')", day,
	         day % 2 ? "0,1,2,5" : "0,1,2,3,4,5");
	q_exec(d->conn, q);
	/* bounces: inc1 every day but 4 and 7; inc2 on days 0-2 and 10-13
	 * (eight quiet days: its flags resolve, then reopen) */
	if (day != 4 && day != 7) {
		snprintf(q, sizeof q, "SELECT public.inc_day_bounces(%ld, %ld, 1, %d)", *next,
		         *next + 149, day);
		q_exec(d->conn, q);
		*next += 150;
	}
	if (day <= 2 || day >= 10) {
		snprintf(q, sizeof q, "SELECT public.inc_day_bounces(%ld, %ld, 2, %d)", *next,
		         *next + 79, day);
		q_exec(d->conn, q);
		*next += 80;
	}
	if (day == 8) /* a second report of day 3 from every provider, late */
		q_exec(d->conn, "SELECT public.inc_day_reports(3, 'late', '{0,1,2,3,4,5}')");
	if (day == 11) { /* a log of day 9 read two days late */
		snprintf(q, sizeof q, "SELECT public.inc_day_bounces(%ld, %ld, 1, 9)", *next,
		         *next + 59);
		q_exec(d->conn, q);
		*next += 60;
	}
	if (day == 12) { /* a log of day 5 read seven days late */
		snprintf(q, sizeof q, "SELECT public.inc_day_bounces(%ld, %ld, 1, 5)", *next,
		         *next + 29);
		q_exec(d->conn, q);
		*next += 30;
	}
}

static void incremental_equals_full(void **state)
{
	struct db *d = *state;
	const char *mig[] = {"db", "migrate", "--db", d->conn, NULL};
	ok(run_bin(mig, NULL, NULL), "db migrate");
	char *sql = slurp(CDIR "incremental/data.sql", NULL);
	q_exec(d->conn, sql);
	free(sql);
	long next = 1;
	for (int day = 0; day < 14; day++) {
		add_day(d, day, &next);
		free(correlate(d, false));
		/* The incremental run read kept states (0038) where it could,
		 * those the previous incremental run left: the full runs below
		 * write their own, so the incremental ones are set aside and
		 * put back. A full run with states, then one summing every
		 * group from its rows alone, must both find nothing to change. */
		q_exec(d->conn, "CREATE TABLE public.kept AS SELECT * FROM dmarcsift.flag_state");
		if (day >= 3 && q_int(d->conn, "SELECT count(*) FROM public.kept", 0, NULL) == 0)
			fail_msg("day %d: the incremental run left no states", day);
		for (int pass = 0; pass < 2; pass++) {
			if (pass == 1)
				setenv("PGOPTIONS", "-c dmarcsift.correlate_states=off", 1);
			char *out = correlate(d, true);
			unsetenv("PGOPTIONS");
			if (!strstr(out, " 0 new flags, 0 changed, 0 resolved"))
				fail_msg("day %d: a full run%s after the incremental one changed "
				         "flags: %s",
				         day, pass ? " without states" : "", out);
			free(out);
		}
		q_exec(d->conn, "DELETE FROM dmarcsift.flag_state;"
		                " INSERT INTO dmarcsift.flag_state SELECT * FROM public.kept;"
		                " DROP TABLE public.kept");
	}
	/* the data made every kind of flag the scenario needs */
	assert_true(q_int(d->conn, "SELECT count(*) FROM dmarcsift.flags", 0, NULL) >= 40);
	assert_true(q_int(d->conn, "SELECT count(*) FROM dmarcsift.flags WHERE status = 'reopened'",
	                  0, NULL) > 0);
	assert_true(q_int(d->conn, "SELECT count(DISTINCT kind) FROM dmarcsift.flags", 0, NULL) >=
	            3);
}

/* Kept states (0038) go with the rows they summed: a deleted report, and
 * deleted bounces, take the states of their tenant's groups that include
 * them, and nothing queues those days, so the next incremental run must sum
 * those groups from their rows again. */
static void states_follow_deletes(void **state)
{
	struct db *d = *state;
	const char *mig[] = {"db", "migrate", "--db", d->conn, NULL};
	ok(run_bin(mig, NULL, NULL), "db migrate");
	char *sql = slurp(CDIR "incremental/data.sql", NULL);
	q_exec(d->conn, sql);
	free(sql);
	long next = 1;
	for (int day = 0; day < 7; day++) {
		add_day(d, day, &next);
		free(correlate(d, false));
	}
	const char *after_day1 = "SELECT count(*) FROM dmarcsift.flag_state"
	                         " WHERE tenant_id = $1::int AND cut > '2026-09-02'";
	const char *t1[1] = {"1"}, *t2[1] = {"2"};
	assert_true(q_int(d->conn, after_day1, 1, t1) > 0);
	long other = q_int(d->conn, after_day1, 1, t2);
	/* Google's report of day 1 about d1.inc1.example */
	q_exec(d->conn, "DELETE FROM dmarcsift.reports"
	                " WHERE tenant_id = 1 AND report_id = 'r-d1.inc1.example-0-1'");
	assert_int_equal(q_int(d->conn, after_day1, 1, t1), 0);
	assert_int_equal(q_int(d->conn, after_day1, 1, t2), other);

	/* the flags the next incremental run writes are what a full run over
	 * the same rows gives */
	add_day(d, 7, &next);
	free(correlate(d, false));
	q_exec(d->conn, "CREATE TABLE public.inc AS SELECT * FROM dmarcsift.flags"
	                " WHERE updated_at = (SELECT max(updated_at) FROM dmarcsift.flags)");
	assert_true(q_int(d->conn, "SELECT count(*) FROM public.inc", 0, NULL) > 0);
	free(correlate(d, true));
	assert_int_equal(q_int(d->conn,
	                       "SELECT count(*) FROM public.inc i JOIN dmarcsift.flags f USING"
	                       " (tenant_id, id) WHERE (i.kind, i.confidence, i.cause, i.rejects,"
	                       " i.dmarc_messages, i.evidence) IS DISTINCT FROM (f.kind,"
	                       " f.confidence, f.cause, f.rejects, f.dmarc_messages, f.evidence)",
	                       0, NULL),
	                 0);

	/* bounces of day 0 deleted: their day rows go, and the states of the
	 * groups that had one */
	q_exec(d->conn, "CREATE TABLE public.day0 AS SELECT DISTINCT tenant_id, provider, domain,"
	                " ip_key FROM dmarcsift.bounce_days WHERE day = '2026-09-01'");
	const char *kept0 = "SELECT count(*) FROM dmarcsift.flag_state s JOIN public.day0 z"
	                    " USING (tenant_id, provider, domain, ip_key)";
	assert_true(q_int(d->conn, kept0, 0, NULL) > 0);
	long all = q_int(d->conn, "SELECT count(*) FROM dmarcsift.flag_state", 0, NULL);
	q_exec(d->conn, "DELETE FROM dmarcsift.bounces WHERE at < '2026-09-02'");
	assert_int_equal(q_int(d->conn, kept0, 0, NULL), 0);
	assert_true(q_int(d->conn, "SELECT count(*) FROM dmarcsift.flag_state", 0, NULL) > 0);
	assert_true(q_int(d->conn, "SELECT count(*) FROM dmarcsift.flag_state", 0, NULL) < all);
}

/* `flags`: JSON Lines with exactly the v_flags columns; text with advice. */
static void flags_output(void **state)
{
	struct db *d = *state;
	reports(d, CDIR "s1-esp-dkim/google-2026-11-10.xml");
	reports(d, CDIR "s3-yahoo-spamhaus/yahoo-2026-11-10.xml");
	bounces(d, CDIR "s1-esp-dkim/esp-2026-11-10.csv", NULL);
	bounces(d, CDIR "s3-yahoo-spamhaus/esp-2026-11-10.csv", NULL);
	free(correlate(d, false));
	const char *j[] = {"flags", "--db", d->conn, "--format", "json", NULL};
	char *out = NULL;
	ok(run_bin(j, NULL, &out), "flags --format json");
	/* two lines, the auth-driven one first, keys in v_flags order */
	char *nl = strchr(out, '\n');
	assert_non_null(nl);
	assert_non_null(strchr(nl + 1, '\n'));
	assert_null(strchr(strchr(nl + 1, '\n') + 1, '\n'));
	static const char *const cols[] = {"tenant",
	                                   "kind",
	                                   "confidence",
	                                   "cause",
	                                   "provider",
	                                   "domain",
	                                   "source_ip",
	                                   "first_seen",
	                                   "last_seen",
	                                   "rejects",
	                                   "dmarc_messages",
	                                   "dkim_pass_rate",
	                                   "spf_pass_rate",
	                                   "dmarc_pass_rate",
	                                   "status",
	                                   "evidence",
	                                   NULL};
	const char *p = out;
	for (int i = 0; cols[i]; i++) {
		char key[64];
		snprintf(key, sizeof key, "\"%s\":", cols[i]);
		const char *hit = strstr(p, key);
		if (!hit || hit > nl)
			fail_msg("column %s missing or out of order in %s", cols[i], out);
		p = hit;
	}
	assert_non_null(strstr(out, "{\"tenant\":\"unassigned\",\"kind\":\"auth_driven\""));
	assert_int_equal(
	    q_int(d->conn,
	          "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'dmarcsift'"
	          " AND table_name = 'v_flags'",
	          0, NULL),
	    16);
	free(out);

	const char *t[] = {"flags", "--db", d->conn, NULL};
	ok(run_bin(t, NULL, &out), "flags");
	assert_non_null(strstr(out,
	                       "DKIM fails for 203.0.113.7 (sending as acme.example) at Google "
	                       "in 95 % of 1,000 messages; 12 rejects 550 5.7.26. Check the DKIM "
	                       "key and d= alignment for selector s1 at that sender"));
	assert_non_null(strstr(out,
	                       "Authentication is fine for 198.51.100.50 (sending as "
	                       "charlie.example) at Yahoo: DMARC passes in 100 % of 300 "
	                       "messages; the 5 rejects 553 5.7.1 are a blocklisting (Spamhaus, "
	                       "listed: ip 198.51.100.50). Do not change SPF/DKIM"));
	assert_true(strstr(out, "auth_driven") < strstr(out, "not_auth_driven"));
	free(out);

	const char *k[] = {"flags",           "--db",     d->conn, "--kind",
	                   "not_auth_driven", "--format", "csv",   NULL};
	ok(run_bin(k, NULL, &out), "flags --kind");
	assert_non_null(strstr(out, "tenant,kind,confidence,cause,provider,domain,source_ip"));
	assert_null(strstr(out, "acme.example"));
	assert_non_null(strstr(out, "charlie.example"));
	free(out);

	/* The tenant report lists them with their numbers and the same action
	 * (issue 12); the MSP overview counts the open ones by confidence. */
	const char *r[] = {"report",  "--db",       d->conn,   "--tenant",   "unassigned",
	                   "--since", "2026-11-01", "--until", "2026-11-30", "--format",
	                   "csv",     "--table",    "flags",   NULL};
	ok(run_bin(r, NULL, &out), "report --tenant --table flags");
	assert_non_null(strstr(out, "Check the DKIM key and d= alignment for selector s1 at that "
	                            "sender"));
	assert_non_null(strstr(out, "Do not change SPF/DKIM"));
	assert_non_null(strstr(out, "DMARC data: 1000 messages, DMARC pass 5.0 %"));
	free(out);
	const char *o[] = {"report",        "--db",       d->conn,
	                   "--all-tenants", "--since",    "2026-11-01",
	                   "--until",       "2026-11-30", NULL};
	ok(run_bin(o, NULL, &out), "report --all-tenants");
	if (!strstr(out, "2/0/0") || strstr(out, "not available"))
		fail_msg("overview without 2/0/0 flags:\n%s", out);
	free(out);
}

static void notify_new_flags(void **state)
{
	struct db *d = *state;
	const char *base = getenv("DMARCSIFT_TEST_TMP");
	char *dir = xasprintf("%s/corrhook.XXXXXX", base && *base ? base : "/tmp");
	assert_non_null(mkdtemp(dir));
	int port;
	pid_t pid = sink_start_http(dir, "k3y", 0, 500, &port);
	char *conf = xasprintf("%s/dmarcsift.conf", dir);
	char *key = xasprintf("%s/hook.key", dir);
	FILE *f = fopen(key, "w");
	assert_non_null(f);
	fputs("k3y\n", f);
	fclose(f);
	f = fopen(conf, "w");
	assert_non_null(f);
	fprintf(f, "[notify]\nwebhook = http://127.0.0.1:%d/\nsecret_file = %s\nretries = 0\n",
	        port, key);
	fclose(f);

	reports(d, CDIR "s1-esp-dkim/google-2026-11-10.xml");
	bounces(d, CDIR "s1-esp-dkim/esp-2026-11-10.csv", NULL);
	const char *a[] = {"correlate", "--db", d->conn, "--config", conf, NULL};
	char *out = NULL;
	ok(run_bin(a, NULL, &out), "correlate with a webhook");
	free(out);
	out = NULL;
	ok(run_bin((const char *[]){"correlate", "--full", "--db", d->conn, "--config", conf, NULL},
	           NULL, &out),
	   "correlate --full again");
	free(out);

	char *req1 = xasprintf("%s/1.req", dir), *req2 = xasprintf("%s/2.req", dir);
	char *body = NULL;
	for (int i = 0; i < 200 && !(body = sink_read(req1)); i++)
		usleep(50000);
	usleep(500000); /* a second post, if any, has had time to arrive */
	bool second = access(req2, F_OK) == 0;
	sink_stop(pid);
	if (!body)
		fail_msg("no flag was posted to the webhook");
	assert_non_null(strstr(body, "signature ok"));
	assert_non_null(strstr(body, "event flag.opened"));
	assert_non_null(strstr(body, "\"tenant\":\"unassigned\""));
	assert_non_null(strstr(body, "\"kind\":\"auth_driven\""));
	assert_non_null(strstr(body, "\"source_ip\":\"203.0.113.7\""));
	assert_false(second);
	free(body);
	free(req1);
	free(req2);
	free(conf);
	free(key);
	free(dir);
}

/* The bodies of the posts of event `event` the sink logged in `dir`
 * (1.req, 2.req, ...), joined; waits up to 10 s for `want` of them, then
 * half a second for any more. *n: how many. */
static char *posts_of(const char *dir, const char *event, int want, int *n)
{
	char *tag = xasprintf("event %s\n", event);
	char *all = NULL;
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 200; i++) {
			free(all);
			all = xstrdup("");
			*n = 0;
			for (int k = 1; k < 64; k++) {
				char *path = xasprintf("%s/%d.req", dir, k);
				char *body = sink_read(path);
				free(path);
				if (!body)
					break;
				if (strstr(body, tag)) {
					char *j = xasprintf("%s%s\n", all, body);
					free(all);
					all = j;
					(*n)++;
				}
				free(body);
			}
			if (*n >= want)
				break;
			usleep(50000);
		}
		if (round == 0)
			usleep(500000);
	}
	free(tag);
	return all;
}

/* Escalations go to the webhook too: the one the spike fixture opens is
 * posted once at the end of `correlate` (not again on a re-run), and again
 * after it closed and reopened. */
static void notify_new_escalations(void **state)
{
	struct db *d = *state;
	const char *base = getenv("DMARCSIFT_TEST_TMP");
	char *dir = xasprintf("%s/eschook.XXXXXX", base && *base ? base : "/tmp");
	assert_non_null(mkdtemp(dir));
	int port;
	pid_t pid = sink_start_http(dir, "k3y", 0, 500, &port);
	char *conf = xasprintf("%s/dmarcsift.conf", dir);
	char *key = xasprintf("%s/hook.key", dir);
	FILE *f = fopen(key, "w");
	assert_non_null(f);
	fputs("k3y\n", f);
	fclose(f);
	f = fopen(conf, "w");
	assert_non_null(f);
	fprintf(f, "[notify]\nwebhook = http://127.0.0.1:%d/\nsecret_file = %s\nretries = 0\n",
	        port, key);
	fclose(f);

	bounces(d, FIXTURES_DIR "/bounces/postfix_spike.log", NULL);
	const char *a[] = {"correlate", "--db", d->conn, "--config", conf, NULL};
	char *out = NULL;
	ok(run_bin(a, NULL, &out), "correlate with a webhook");
	free(out);
	out = NULL;
	ok(run_bin(a, NULL, &out), "correlate again");
	free(out);
	int n1 = 0;
	char *first = posts_of(dir, "escalation.opened", 1, &n1);

	/* Closed, then one more reject in the same window (from a log of the
	 * same age): the recomputation opens it again. */
	int closed = (int)q_int(d->conn,
	                        "WITH u AS (UPDATE dmarcsift.escalations SET status = 'closed'"
	                        " RETURNING 1) SELECT count(*) FROM u",
	                        0, NULL);
	char *spike = slurp(FIXTURES_DIR "/bounces/postfix_spike.log", NULL);
	/* The delivery line of the first message, as a new message. */
	char *r = strstr(spike, "to=<reader00@");
	char *line = r;
	while (line && line > spike && line[-1] != '\n')
		line--;
	char *nl = r ? strchr(r, '\n') : NULL;
	char *q = line ? strstr(line, "5B1C0DE001") : NULL;
	char *more = xasprintf("%s/more.log", dir);
	int reopened = -1, n2 = 0;
	char *second = NULL;
	struct stat st;
	if (nl && q && r && stat(FIXTURES_DIR "/bounces/postfix_spike.log", &st) == 0) {
		nl[1] = '\0';
		memcpy(q, "5B1C0DEFFF", 10);
		memcpy(r, "to=<reader99@", 13);
		f = fopen(more, "w");
		assert_non_null(f);
		fputs(line, f);
		fclose(f);
		struct timespec times[2] = {st.st_atim, st.st_mtim};
		assert_int_equal(utimensat(AT_FDCWD, more, times, 0), 0);
		bounces(d, more, NULL);
		reopened =
		    (int)q_int(d->conn,
		               "SELECT count(*) FROM dmarcsift.escalations WHERE status = 'open'"
		               " AND count = 25",
		               0, NULL);
		out = NULL;
		ok(run_bin(a, NULL, &out), "correlate after the reopening");
		free(out);
		second = posts_of(dir, "escalation.opened", 2, &n2);
	}
	free(spike);
	sink_stop(pid);

	if (n1 != 1)
		fail_msg("%d escalation posts after two runs, wanted 1:\n%s", n1, first);
	assert_non_null(strstr(first, "signature ok"));
	assert_non_null(strstr(first, "\"provider\":\"google\""));
	assert_non_null(strstr(first, "\"class\":\"auth_failure\""));
	assert_non_null(strstr(first, "\"count\":24"));
	assert_non_null(strstr(first, "\"first_seen\":\"2026-11-20T09:00:00Z\""));
	/* the reply text's URL as it is: no \/ escapes */
	assert_non_null(strstr(first, "https://support.google.com/mail/answer/81126"));
	assert_int_equal(closed, 1);
	assert_int_equal(reopened, 1);
	if (n2 != 2)
		fail_msg("%d escalation posts after the reopening, wanted 2", n2);
	assert_non_null(strstr(second, "\"count\":25"));
	free(first);
	free(second);
	free(more);
	free(conf);
	free(key);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(s1_esp_dkim, setup, teardown),
	    cmocka_unit_test_setup_teardown(s1_failure_reports, setup, teardown),
	    cmocka_unit_test_setup_teardown(s2_microsoft_content, setup, teardown),
	    cmocka_unit_test_setup_teardown(s3_yahoo_spamhaus, setup, teardown),
	    cmocka_unit_test_setup_teardown(s4_no_reports, setup, teardown),
	    cmocka_unit_test_setup_teardown(s5_forwarder_spf, setup, teardown),
	    cmocka_unit_test_setup_teardown(s6_two_tenants, setup, teardown),
	    cmocka_unit_test_setup_teardown(tenant_shares, setup, teardown),
	    cmocka_unit_test_setup_teardown(s7_windows_orgdomain, setup, teardown),
	    cmocka_unit_test_setup_teardown(s8_postfix_hostmap, setup, teardown),
	    cmocka_unit_test_setup_teardown(s9_none_results, setup, teardown),
	    cmocka_unit_test_setup_teardown(rerun_extend_resolve, setup, teardown),
	    cmocka_unit_test_setup_teardown(late_report_inside_episode, setup, teardown),
	    cmocka_unit_test_setup_teardown(incremental_equals_full, setup, teardown),
	    cmocka_unit_test_setup_teardown(states_follow_deletes, setup, teardown),
	    cmocka_unit_test_setup_teardown(flags_output, setup, teardown),
	    cmocka_unit_test_setup_teardown(notify_new_flags, setup, teardown),
	    cmocka_unit_test_setup_teardown(notify_new_escalations, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
