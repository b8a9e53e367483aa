/*
 * test_blocklists: reading blocklist answers (checks/dnsbl: table tests of
 * every code we map, the refusals, answers outside 127/8), and
 * `dmarcsift blocklists check` against a real PostgreSQL (DMARCSIFT_TEST_DB)
 * and the local DNS server (DMARCSIFT_TEST_DNS) serving the lists' zones
 * with our data (fixtures/dns/zone.conf): listed, unlisted, several codes,
 * the open-resolver refusal, a domain list; impact tied to the correlator
 * scenarios' bounces; the correlator's flag cites the listing; a second
 * server with fixtures/dns/zone-later.conf delists; tenant remove deletes;
 * new listings go to the webhook once, impact rejecting first, and the
 * escalations list shows those with impact.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "checks/dnsbl.h"
#include "core/xalloc.h"
#include "tests/support/run.h"
#include "tests/support/sink.h"
#include "tests/support/testdb.h"

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define CDIR FIXTURES_DIR "/correlate/"

static void read_one(const char *zone, enum dnsbl_kind kind, const char *answers,
                     enum dnsbl_verdict want, const char *reason_part)
{
	struct dnsbl_list l;
	dnsbl_describe(zone, kind, &l);
	char buf[256];
	snprintf(buf, sizeof buf, "%s", answers);
	const char *v[8];
	size_t n = 0;
	for (char *p = buf; *p && n < 8;) {
		v[n++] = p;
		char *c = strchr(p, ',');
		if (!c)
			break;
		*c = '\0';
		p = c + 1;
	}
	struct dnsbl_result r;
	dnsbl_read(&l, v, n, &r);
	if (r.verdict != want || !strstr(r.reason, reason_part))
		fail_msg("%s %s: verdict %d reason '%s' (want %d, '%s')", zone, answers, r.verdict,
		         r.reason, want, reason_part);
}

static void test_dnsbl_codes(void **state)
{
	(void)state;
	const enum dnsbl_kind IP = DNSBL_IP, DOM = DNSBL_DOMAIN;
	read_one("zen.spamhaus.org", IP, "127.0.0.2", DNSBL_LISTED, "Spamhaus SBL:");
	read_one("zen.spamhaus.org", IP, "127.0.0.3", DNSBL_LISTED, "SBL CSS");
	for (int d = 4; d <= 7; d++) {
		char a[32];
		snprintf(a, sizeof a, "127.0.0.%d", d);
		read_one("zen.spamhaus.org", IP, a, DNSBL_LISTED, "Spamhaus XBL");
	}
	read_one("zen.spamhaus.org", IP, "127.0.0.9", DNSBL_LISTED, "DROP");
	read_one("zen.spamhaus.org", IP, "127.0.0.10", DNSBL_LISTED, "PBL");
	read_one("ZEN.spamhaus.org", IP, "127.0.0.11", DNSBL_LISTED, "PBL");
	read_one("zen.spamhaus.org", IP, "127.0.0.4,127.0.0.2", DNSBL_LISTED, "SBL: spam source");
	read_one("zen.spamhaus.org", IP, "127.0.0.4,127.0.0.2", DNSBL_LISTED, "; Spamhaus XBL");
	/* Refusals are never listings, even beside a listing code. */
	read_one("zen.spamhaus.org", IP, "127.255.255.254", DNSBL_UNKNOWN, "public/open resolver");
	read_one("zen.spamhaus.org", IP, "127.255.255.255", DNSBL_UNKNOWN, "free query limit");
	read_one("zen.spamhaus.org", IP, "127.255.255.252", DNSBL_UNKNOWN, "typo");
	read_one("zen.spamhaus.org", IP, "127.0.0.2,127.255.255.254", DNSBL_UNKNOWN,
	         "not a listing");
	read_one("dbl.spamhaus.org", DOM, "127.0.1.2", DNSBL_LISTED, "DBL: spam domain");
	read_one("dbl.spamhaus.org", DOM, "127.0.1.4", DNSBL_LISTED, "phishing");
	read_one("dbl.spamhaus.org", DOM, "127.0.1.5", DNSBL_LISTED, "malware");
	read_one("dbl.spamhaus.org", DOM, "127.0.1.6", DNSBL_LISTED, "botnet");
	read_one("dbl.spamhaus.org", DOM, "127.0.1.102", DNSBL_LISTED,
	         "abused legitimate domain (spam)");
	read_one("dbl.spamhaus.org", DOM, "127.0.1.103", DNSBL_LISTED, "redirector");
	read_one("dbl.spamhaus.org", DOM, "127.0.1.255", DNSBL_UNKNOWN, "IP address asked");
	read_one("dbl.spamhaus.org", DOM, "127.255.255.254", DNSBL_UNKNOWN, "query refused");
	read_one("b.barracudacentral.org", IP, "127.0.0.2", DNSBL_LISTED, "Barracuda: listed");
	read_one("bl.spamcop.net", IP, "127.0.0.2", DNSBL_LISTED, "SpamCop: listed");
	read_one("multi.surbl.org", DOM, "127.0.0.24", DNSBL_LISTED, "SURBL: phishing, malware");
	read_one("multi.surbl.org", DOM, "127.0.0.1", DNSBL_UNKNOWN, "refused");
	read_one("multi.uribl.com", DOM, "127.0.0.2", DNSBL_LISTED, "URIBL: black");
	read_one("multi.uribl.com", DOM, "127.0.0.1", DNSBL_UNKNOWN, "refused");
	/* A list we know nothing about: codes are listings, named by the zone. */
	read_one("bl.example.net", IP, "127.0.0.5", DNSBL_LISTED,
	         "bl.example.net: listed (code 127.0.0.5)");
	/* Outside 127/8: a wildcard or hijacked zone, never a listing. */
	read_one("zen.spamhaus.org", IP, "203.0.113.9", DNSBL_UNKNOWN, "outside 127.0.0.0/8");
	read_one("bl.example.net", IP, "not-an-ip", DNSBL_UNKNOWN, "unreadable");
	read_one("bl.example.net", IP, "", DNSBL_UNKNOWN, "empty answer");
}

static void test_dnsbl_names(void **state)
{
	(void)state;
	struct dnsbl_list ip, dom;
	dnsbl_describe("zen.spamhaus.org", DNSBL_IP, &ip);
	dnsbl_describe("dbl.spamhaus.org", DNSBL_DOMAIN, &dom);
	char n[512];
	assert_int_equal(dnsbl_query_name(&ip, "198.51.100.50", n, sizeof n), 0);
	assert_string_equal(n, "50.100.51.198.zen.spamhaus.org");
	assert_int_equal(dnsbl_query_name(&ip, "2001:db8::25", n, sizeof n), 0);
	assert_non_null(strstr(n, "5.2.0.0.0.0.0.0"));
	assert_non_null(strstr(n, ".8.b.d.0.1.0.0.2.zen.spamhaus.org"));
	assert_int_equal(dnsbl_query_name(&ip, "example.com", n, sizeof n), -1);
	assert_int_equal(dnsbl_query_name(&dom, "bravo.example", n, sizeof n), 0);
	assert_string_equal(n, "bravo.example.dbl.spamhaus.org");
	assert_int_equal(dnsbl_query_name(&dom, "bad domain", n, sizeof n), -1);
	assert_int_equal(dnsbl_query_name(&dom, "a..b", n, sizeof n), -1);
	assert_int_equal(dnsbl_query_name(&dom, "nodot", n, sizeof n), -1);
	assert_string_equal(ip.family, "Spamhaus");
	assert_string_equal(ip.used_by[0], "yahoo");
}

struct ctx {
	char *conn;
	const char *dns;
};

static void ok(int rc, const char *what)
{
	if (rc != 0)
		fail_msg("%s: exit %d", what, rc);
}

static void run_ok(const char *const *args)
{
	char *out = NULL;
	int rc = run_bin(args, NULL, &out);
	if (rc != 0)
		fail_msg("%s %s: exit %d\n%s", args[0], args[1] ? args[1] : "", rc, out ? out : "");
	free(out);
}

static char *check_conf(struct ctx *c, const char *servers, const char *conf)
{
	const char *a[] = {"blocklists",
	                   "check",
	                   "--db",
	                   c->conn,
	                   "--dns-servers",
	                   servers,
	                   conf ? "--config" : NULL,
	                   conf,
	                   NULL};
	char *out = NULL;
	int rc = run_bin(a, NULL, &out);
	if (rc != 0)
		fail_msg("blocklists check: exit %d\n%s", rc, out ? out : "");
	return out;
}

static char *check(struct ctx *c, const char *servers)
{
	return check_conf(c, servers, NULL);
}

/* The bodies of the posts of `event`, in the order received, one per line;
 * waits up to 10 s for `want` of them, then half a second for more. */
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

static const char sig_sql[] =
    "SELECT coalesce(string_agg(concat_ws('|', tenant, asset, asset_kind, list, code, status,"
    " impact, rejects), E'\\n' ORDER BY tenant, asset, list), '') FROM dmarcsift.v_listings";

static void expect_line(const char *sig, const char *line)
{
	if (!strstr(sig, line))
		fail_msg("missing listing '%s' in:\n%s", line, sig);
}

static void test_check(void **state)
{
	struct ctx *c = *state;
	const char *ten[][2] = {{"acme-co", "acme.example"},
	                        {"bravo", "bravo.example"},
	                        {"charlie", "charlie.example"},
	                        {"echo", "echo.example"}};
	for (size_t i = 0; i < 4; i++) {
		const char *a[] = {"tenant", "add", "--db", c->conn, ten[i][0], ten[i][1], NULL};
		run_ok(a);
	}
	const char *rep[] = {"ingest",
	                     "--quiet",
	                     "--no-correlate",
	                     "--db",
	                     c->conn,
	                     CDIR "s1-esp-dkim/google-2026-11-10.xml",
	                     CDIR "s2-microsoft-content/microsoft-2026-11-10.xml",
	                     CDIR "s3-yahoo-spamhaus/yahoo-2026-11-10.xml",
	                     CDIR "s4-no-reports/google-2026-11-10.xml",
	                     NULL};
	run_ok(rep);
	const char *bnc[] = {"bounces",
	                     "ingest",
	                     "--no-correlate",
	                     "--db",
	                     c->conn,
	                     CDIR "s1-esp-dkim/esp-2026-11-10.csv",
	                     CDIR "s2-microsoft-content/exim_main.log",
	                     CDIR "s3-yahoo-spamhaus/esp-2026-11-10.csv",
	                     CDIR "s4-no-reports/esp-2026-11-10.csv",
	                     NULL};
	run_ok(bnc);
	const char *corr[] = {"correlate", "--db", c->conn, NULL};
	run_ok(corr);

	/* The first check with a webhook: each new listing is posted once,
	 * those that make mail bounce first. */
	char hookdir[] = "/tmp/dmarcsift-bl-hookXXXXXX";
	assert_non_null(mkdtemp(hookdir));
	int port;
	pid_t sink = sink_start_http(hookdir, "k3y", 0, 500, &port);
	char *conf = xasprintf("%s/dmarcsift.conf", hookdir);
	char *key = xasprintf("%s/hook.key", hookdir);
	FILE *f = fopen(key, "w");
	assert_non_null(f);
	fputs("k3y\n", f);
	fclose(f);
	f = fopen(conf, "w");
	assert_non_null(f);
	fprintf(f, "[notify]\nwebhook = http://127.0.0.1:%d/\nsecret_file = %s\nretries = 0\n",
	        port, key);
	fclose(f);
	char *out = check_conf(c, c->dns, conf);
	int posted = 0;
	char *posts = posts_of(hookdir, "listing.opened", 5, &posted);
	free(check_conf(c, c->dns, conf));
	int again = 0;
	char *posts2 = posts_of(hookdir, "listing.opened", 6, &again);
	sink_stop(sink);
	if (posted != 5)
		fail_msg("%d listing posts, wanted 5:\n%s", posted, posts);
	assert_int_equal(again, 5); /* not posted again by the second check */
	assert_non_null(strstr(posts, "signature ok"));
	/* The first listing posted is the one blocklisted bounces name. */
	const char *head = strstr(posts, "\"data\":");
	assert_non_null(head);
	static const char want_first[] =
	    "\"data\":{\"tenant\":\"charlie\",\"asset\":\"198.51.100.50\","
	    "\"asset_kind\":\"ip\",\"list\":\"zen.spamhaus.org\"";
	assert_true(strncmp(head, want_first, sizeof want_first - 1) == 0);
	assert_non_null(strstr(head, "\"impact\":\"rejecting\",\"rejects\":5"));
	assert_non_null(strstr(posts, "\"tenant\":\"echo\",\"asset\":\"198.51.100.60\""));
	assert_non_null(strstr(posts, "\"impact\":\"suspected\""));
	/* The refusal is not a listing: never posted. */
	assert_null(strstr(posts, "203.0.113.7"));
	free(posts);
	free(posts2);
	char *rmdir = xasprintf("rm -rf %s", hookdir);
	assert_int_equal(system(rmdir), 0);
	free(rmdir);
	free(conf);
	free(key);

	/* escalations lists the listings with impact, rejecting first. */
	char *esc = NULL;
	assert_int_equal(
	    run_bin((const char *[]){"escalations", "--db", c->conn, NULL}, NULL, &esc), 0);
	const char *sec = strstr(esc, "blocklist listings with delivery impact (rejecting first):");
	assert_non_null(sec);
	const char *rej = strstr(sec, "rejecting"), *sus = strstr(sec, "suspected");
	assert_non_null(rej);
	assert_non_null(sus);
	assert_true(rej < sus);
	free(esc);
	/* The summary says what was refused, and the listing lines say impact. */
	assert_non_null(strstr(out, "1 unknown (refused)"));
	assert_non_null(strstr(out, "charlie  listed  ip 198.51.100.50 on zen.spamhaus.org"));
	assert_non_null(strstr(out, "impact rejecting (5 blocklisted rejects name it)"));
	assert_non_null(strstr(out, "public/open resolver"));
	free(out);
	char *sig = q_str(c->conn, sig_sql, 0, NULL);
	expect_line(
	    sig,
	    "charlie|198.51.100.50|ip|zen.spamhaus.org|127.0.0.2,127.0.0.4|listed|rejecting|5");
	expect_line(sig, "charlie|198.51.100.50|ip|b.barracudacentral.org|127.0.0.2|listed|none|0");
	expect_line(sig, "echo|198.51.100.60|ip|zen.spamhaus.org|127.0.0.10|listed|suspected|0");
	expect_line(sig, "bravo|198.51.100.30|ip|zen.spamhaus.org|127.0.0.3|listed|none|0");
	expect_line(sig, "bravo|bravo.example|domain|dbl.spamhaus.org|127.0.1.102|listed|none|0");
	/* The refusal: unknown, never listed, and no impact. */
	expect_line(sig, "acme-co|203.0.113.7|ip|zen.spamhaus.org|127.255.255.254|unknown|none|0");
	/* Unlisted assets leave no row: 6 rows exactly. */
	assert_int_equal(q_int(c->conn, "SELECT count(*) FROM dmarcsift.v_listings", 0, NULL), 6);
	char *reason =
	    q_str(c->conn, "SELECT reason FROM dmarcsift.v_listings WHERE asset = '198.51.100.30'",
	          0, NULL);
	assert_non_null(strstr(reason, "SBL CSS"));
	free(reason);
	free(sig);

	/* The correlator's blocklisted flag cites the listing. */
	char *ev = q_str(c->conn,
	                 "SELECT concat_ws('|', evidence->'listing'->>'list',"
	                 " evidence->'listing'->>'code', evidence->'listing'->>'status')"
	                 " FROM dmarcsift.v_flags WHERE domain = 'charlie.example'",
	                 0, NULL);
	assert_string_equal(ev, "zen.spamhaus.org|127.0.0.2,127.0.0.4|listed");
	free(ev);

	/* A second check changes nothing but last_seen; first_seen stays. */
	char *first = q_str(c->conn,
	                    "SELECT first_seen::text FROM dmarcsift.v_listings WHERE asset"
	                    " = '198.51.100.50' AND list = 'zen.spamhaus.org'",
	                    0, NULL);
	free(check(c, c->dns));
	char *first2 = q_str(c->conn,
	                     "SELECT first_seen::text FROM dmarcsift.v_listings WHERE asset"
	                     " = '198.51.100.50' AND list = 'zen.spamhaus.org'",
	                     0, NULL);
	assert_string_equal(first, first2);
	free(first);
	free(first2);

	/* Later: zen delisted 198.51.100.50, 203.0.113.7 answers clear. */
	char dir[] = "/tmp/dmarcsift-bl-dnsXXXXXX";
	assert_non_null(mkdtemp(dir));
	char cmd[1024];
	snprintf(cmd, sizeof cmd,
	         "DNS_TEST_ZONE=%s/dns/zone-later.conf %s/../scripts/dns-test-server.sh start %s "
	         ">%s/addr",
	         FIXTURES_DIR, FIXTURES_DIR, dir, dir);
	assert_int_equal(system(cmd), 0);
	char path[256];
	snprintf(path, sizeof path, "%s/addr", dir);
	char *later = slurp(path, NULL);
	assert_non_null(later);
	later[strcspn(later, "\n")] = '\0';
	out = check(c, later);
	assert_non_null(strstr(out, "1 delisted"));
	free(out);
	snprintf(cmd, sizeof cmd, "%s/../scripts/dns-test-server.sh stop %s; rm -rf %s",
	         FIXTURES_DIR, dir, dir);
	assert_int_equal(system(cmd), 0);
	free(later);
	sig = q_str(c->conn, sig_sql, 0, NULL);
	expect_line(
	    sig,
	    "charlie|198.51.100.50|ip|zen.spamhaus.org|127.0.0.2,127.0.0.4|delisted|rejecting|5");
	expect_line(sig, "charlie|198.51.100.50|ip|b.barracudacentral.org|127.0.0.2|listed|none|0");
	/* The refusal row is gone: the asset answered, and was never listed. */
	assert_null(strstr(sig, "203.0.113.7"));
	free(sig);
	assert_int_equal(q_int(c->conn,
	                       "SELECT count(*) FROM dmarcsift.listings WHERE delisted_at IS"
	                       " NOT NULL",
	                       0, NULL),
	                 1);

	/* tenant remove: listings are derived, deleted rather than moved. */
	const char *rm[] = {"tenant", "remove", "--db", c->conn, "charlie", NULL};
	run_ok(rm);
	assert_int_equal(
	    q_int(c->conn, "SELECT count(*) FROM dmarcsift.listings WHERE tenant_id = 0", 0, NULL),
	    0);
	assert_int_equal(q_int(c->conn,
	                       "SELECT count(*) FROM dmarcsift.v_listings WHERE asset ="
	                       " '198.51.100.50'",
	                       0, NULL),
	                 0);
	(void)ok;
}

static void test_bad_config(void **state)
{
	struct ctx *c = *state;
	char path[] = "/tmp/dmarcsift-bl-confXXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	const char conf[] = "[blocklists]\nip = zen.spamhaus.org, not a zone!\nevery = often\n";
	assert_int_equal(write(fd, conf, sizeof conf - 1), (ssize_t)(sizeof conf - 1));
	close(fd);
	const char *a[] = {"blocklists", "check", "--db", c->conn, "--config", path, NULL};
	assert_int_equal(run_bin(a, NULL, NULL), 2);
	const char *chk[] = {"config", "check", "--config", path, NULL};
	char *out = NULL;
	assert_int_equal(run_bin(chk, NULL, &out), 2);
	free(out);
	unlink(path);
}

static int setup(void **state)
{
	struct ctx *c = xcalloc(1, sizeof *c);
	c->dns = getenv("DMARCSIFT_TEST_DNS");
	if (!c->dns || !*c->dns) {
		fprintf(stderr, "test_blocklists: needs DMARCSIFT_TEST_DNS (scripts/test.sh)\n");
		free(c);
		return -1;
	}
	if (testdb_create(&c->conn) != 0) {
		fprintf(stderr, "test_blocklists: needs DMARCSIFT_TEST_DB\n");
		free(c);
		return -1;
	}
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;
	testdb_drop(c->conn);
	free(c->conn);
	free(c);
	return 0;
}

int main(void)
{
	const struct CMUnitTest pure[] = {
	    cmocka_unit_test(test_dnsbl_codes),
	    cmocka_unit_test(test_dnsbl_names),
	};
	const struct CMUnitTest db[] = {
	    cmocka_unit_test(test_check),
	    cmocka_unit_test(test_bad_config),
	};
	int rc = cmocka_run_group_tests(pure, NULL, NULL);
	return rc + cmocka_run_group_tests(db, setup, teardown);
}
