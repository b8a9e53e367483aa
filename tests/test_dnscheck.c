/*
 * test_dnscheck: `dmarcsift dns check`. Table tests of every finding
 * (checks/dnsfind.c's table: each code must be produced by a case here),
 * through checks/dnscheck.c with a fake DNS (and a fake HTTPS fetch for
 * MTA-STS policies); the record readers (checks/dnsrec.c, checks/spf.c)
 * case by case; then the binary against a real PostgreSQL
 * (DMARCSIFT_TEST_DB) and the local DNS server (DMARCSIFT_TEST_DNS) serving
 * fixtures/dns/records.conf, a second run against records-later.conf
 * (change events), tenant remove.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "checks/dnscheck.h"
#include "checks/dnsrec.h"
#include "checks/spf.h"
#include "core/xalloc.h"
#include "tests/support/run.h"
#include "tests/support/testdb.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char key512[] =
    "MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAN8g3ljeb380G6o4qqFFv7Wf03E9OXJ2dlj2X+f/gP1S2KlN"
    "6oA8TKDgDVWQxKpCT4pzb0byBlpway1FWglRP68CAwEAAQ==";
static const char key1024[] =
    "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC7Az89kxh94nipk7N5Zg+WstAktFtbnHCifiDUX8S9"
    "OVQeJvFaypsuZlzhn9rnfU1L6Vo2CpxK5t/nfqSINWlMtNFMbtuL8XCOvVo6SJhI79/DFCSoCpVdJPyD"
    "AYvTIe+rL25Lb/RXmoQE0ytEctGUs0GycUtG/IQKLAutOTxxpwIDAQAB";
static const char key2048[] =
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA4d+07zmDzQbKXw/ziG5hlERb0ql+rKn8S2E0"
    "d5dt8Ug1MN3DZPpMx+yphYz7E+PFaAwxKdCCMTpYfFPZGe9SoJVZtBYss0zXvUQ4pkbWZiFj1pyYlyCc"
    "OUZRucpLmWPkQXGm6/hlffrpxvi3G7W5lo/sM0K/wbHgkDjBGI/fPoKW6ZkSQ464E3ny5S6AjoL7HbG1"
    "7la5kpod0Rv0QeEon5JQVIU/9fKq3PB8CIc2NxhYeXPyd8w7xG7GSMa1TmVgo6PYcAU+lFcYcXkOGtbg"
    "Vq1D/EjPzj3u4j7fFxsNgrbv++m82pk7SPS/eDMk3lljxD7COFzIjhNJQppx4GxVdwIDAQAB";
static const char key_ed[] = "lY4Y75VsZCAIoT0bT8m5SXvHmbvZQLKtdWop10tLx5k=";

/*
 * The fake DNS: a spec of lines "TYPE NAME VALUE" (TYPE: TXT, A, AAAA, MX;
 * SERVFAIL NAME TYPE for a failing look-up; BODY URL TEXT for an MTA-STS
 * policy the fake fetch returns, "\n" written as \n). A name with records
 * of other types only is NODATA, an unknown name NXDOMAIN.
 */
struct fake {
	const char *spec;
	struct resolver_answer **kept;
	size_t nkept;
};

static enum resolver_type type_of(const char *s, size_t n)
{
	if (n == 3 && strncmp(s, "TXT", 3) == 0)
		return RESOLVER_TXT;
	if (n == 1 && s[0] == 'A')
		return RESOLVER_A;
	if (n == 4 && strncmp(s, "AAAA", 4) == 0)
		return RESOLVER_AAAA;
	if (n == 2 && strncmp(s, "MX", 2) == 0)
		return RESOLVER_MX;
	return 0;
}

static const struct resolver_answer *fake_lookup(void *ctx, const char *name,
                                                 enum resolver_type type)
{
	struct fake *f = ctx;
	struct resolver_answer *a = xcalloc(1, sizeof *a);
	a->status = RESOLVER_NXDOMAIN;
	for (const char *p = f->spec; *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char *line = xstrndup(p, len);
		p += len + (nl ? 1 : 0);
		char *sp1 = strchr(line, ' ');
		char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
		if (!sp1) {
			free(line);
			continue;
		}
		*sp1 = '\0';
		if (sp2)
			*sp2 = '\0';
		const char *lname = sp1 + 1, *value = sp2 ? sp2 + 1 : "";
		if (strcmp(line, "SERVFAIL") == 0) {
			if (strcasecmp(lname, name) == 0 && type_of(value, strlen(value)) == type)
				a->status = RESOLVER_SERVFAIL;
		} else if (strcmp(line, "BODY") != 0 && strcasecmp(lname, name) == 0) {
			if (a->status == RESOLVER_NXDOMAIN)
				a->status = RESOLVER_NODATA;
			if (type_of(line, strlen(line)) == type && a->status != RESOLVER_SERVFAIL) {
				a->status = RESOLVER_OK;
				a->values = xrealloc(a->values, (a->n + 1) * sizeof *a->values);
				a->values[a->n++] = xstrdup(value);
			}
		}
		free(line);
	}
	if (a->status == RESOLVER_SERVFAIL) {
		for (size_t i = 0; i < a->n; i++)
			free(a->values[i]);
		a->n = 0;
	}
	f->kept = xrealloc(f->kept, (f->nkept + 1) * sizeof *f->kept);
	f->kept[f->nkept++] = a;
	return a;
}

static int fake_fetch(void *ctx, const char *url, struct buf *body, struct buf *why)
{
	struct fake *f = ctx;
	char *tag = xasprintf("BODY %s ", url);
	const char *p = strstr(f->spec, tag);
	if (!p) {
		buf_printf(why, "Failed to connect to %s port 443", url + 8);
		free(tag);
		return -1;
	}
	p += strlen(tag);
	free(tag);
	for (; *p && *p != '\n'; p++) {
		if (p[0] == '\\' && (p[1] == 'n' || p[1] == 'r')) {
			buf_putc(body, p[1] == 'n' ? '\n' : '\r');
			p++;
		} else {
			buf_putc(body, *p);
		}
	}
	return 0;
}

static void fake_free(struct fake *f)
{
	for (size_t i = 0; i < f->nkept; i++) {
		for (size_t k = 0; k < f->kept[i]->n; k++)
			free(f->kept[i]->values[k]);
		free(f->kept[i]->values);
		free(f->kept[i]);
	}
	free(f->kept);
}

/* One case: the DNS spec, what the reports say, the finding wanted (with
 * its severity and a part of its sentence), and one that must not be
 * there. selector: "d/s/fail" runs the DKIM check of that selector
 * instead of the domain checks. */
struct tcase {
	const char *spec;
	const char *want, *severity, *part;
	const char *not_want;
	double rate;
	int days;
	const char *source; /* "ip/spf_pass/dkim_pass" or NULL */
	const char *selector;
	bool no_fetch;
	const char *domain; /* NULL: t.example */
	const char *tls;    /* "reports/ok/failed/top_failure/top_failed", NULL: not known */
};

#define OKDMARC "TXT _dmarc.t.example v=DMARC1; p=reject; rua=mailto:d@t.example\n"
#define OKSPF   "TXT t.example v=spf1 ip4:192.0.2.0/24 -all\n"

static const struct tcase cases[] = {
    /* DMARC */
    {"", "dmarc_missing", "error", "no DMARC record at _dmarc.t.example", NULL, -1, 0, NULL, NULL,
     false, NULL, NULL},
    {"TXT _dmarc.t.example v=DMARC1; p=none\nTXT _dmarc.t.example v=DMARC1; p=reject\n",
     "dmarc_multiple", "error", "2 DMARC records", "dmarc_enforced", -1, 0, NULL, NULL, false, NULL,
     NULL},
    {"TXT _dmarc.t.example v=DMARC1; p=bogus; adkim=x\n", "dmarc_syntax", "error",
     "p=bogus is not none, quarantine or reject; adkim=x is not r or s", NULL, -1, 0, NULL, NULL,
     false, NULL, NULL},
    {"TXT _dmarc.t.example v=DMARC1 p=none\n", "dmarc_syntax", "error",
     "does not start with v=DMARC1", "dmarc_monitoring", -1, 0, NULL, NULL, false, NULL, NULL},
    {"TXT _dmarc.t.example v=DMARC1; rua=mailto:d@t.example\n", "dmarc_syntax", "error",
     "no p= tag", NULL, -1, 0, NULL, NULL, false, NULL, NULL},
    {"TXT _dmarc.t.example v=DMARC1; p=reject; foo=1; rua=mailto:d@t.example\n",
     "dmarc_unknown_tag", "notice", "foo", "dmarc_syntax", -1, 0, NULL, NULL, false, NULL, NULL},
    {"SERVFAIL _dmarc.t.example TXT\n", "dmarc_lookup_failed", "warning", "(servfail)", NULL, -1, 0,
     NULL, NULL, false, NULL, NULL},
    {OKDMARC, "dmarc_enforced", "ok", "p=reject: reject (enforced)", "dmarc_no_rua", -1, 0, NULL,
     NULL, false, NULL, NULL},
    {"TXT _dmarc.t.example v=DMARC1; p=none; rua=mailto:d@t.example\n", "dmarc_ready_to_enforce",
     "notice", "99.5% of 1000 messages pass DMARC over 20 day(s)", "dmarc_monitoring", 0.995, 20,
     NULL, NULL, false, NULL, NULL},
    {"TXT _dmarc.t.example v=DMARC1; p=none; rua=mailto:d@t.example\n", "dmarc_monitoring",
     "notice", "p=none (monitoring only); 99.5%", "dmarc_ready_to_enforce", 0.995, 5, NULL, NULL,
     false, NULL, NULL},
    {"TXT _dmarc.t.example v=DMARC1; p=quarantine; pct=50; rua=mailto:d@t.example\n",
     "dmarc_partial", "notice", "pct=50", NULL, -1, 0, NULL, NULL, false, NULL, NULL},
    {"TXT _dmarc.t.example v=DMARC1; p=reject; t=y; rua=mailto:d@t.example\n", "dmarc_testing",
     "notice", "t=y", NULL, -1, 0, NULL, NULL, false, NULL, NULL},
    {"TXT _dmarc.t.example v=DMARC1; p=reject\n", "dmarc_no_rua", "warning", "no rua= tag", NULL,
     -1, 0, NULL, NULL, false, NULL, NULL},
    {"TXT _dmarc.t.example v=DMARC1; p=reject; rua=https://t.example/r,mailto:nohost\n",
     "dmarc_bad_uri", "error", "https://t.example/r, mailto:nohost", NULL, -1, 0, NULL, NULL, false,
     NULL, NULL},
    {"TXT _dmarc.t.example v=DMARC1; p=reject; rua=mailto:r@rep.other.example!10m\n",
     "dmarc_rua_unauthorized", "error", "t.example._report._dmarc.rep.other.example",
     "dmarc_rua_authorized", -1, 0, NULL, NULL, false, NULL, NULL},
    {"TXT _dmarc.t.example v=DMARC1; p=reject; rua=mailto:r@rep.other.example\n"
     "TXT t.example._report._dmarc.rep.other.example v=DMARC1\n",
     "dmarc_rua_authorized", "ok", "authorises reports for t.example", "dmarc_rua_unauthorized", -1,
     0, NULL, NULL, false, NULL, NULL},
    {"TXT _dmarc.t.example v=DMARC1; p=reject; rua=mailto:r@t.example; ruf=mailto:f@x.example\n"
     "SERVFAIL t.example._report._dmarc.x.example TXT\n",
     "dmarc_rua_unverified", "warning", "ruf= sends reports to x.example", NULL, -1, 0, NULL, NULL,
     false, NULL, NULL},
    /* Same organisational domain: no authorisation needed. */
    {"TXT _dmarc.t.example v=DMARC1; p=reject; rua=mailto:r@reports.t.example\n", "dmarc_enforced",
     "ok", "p=reject", "dmarc_rua_unauthorized", -1, 0, NULL, NULL, false, NULL, NULL},
    /* A subdomain without a record falls back to its organisational domain. */
    {"TXT _dmarc.t.example v=DMARC1; p=reject; rua=mailto:r@t.example\n", "dmarc_missing", "notice",
     "the organisational domain's record at _dmarc.t.example applies", NULL, -1, 0, NULL, NULL,
     false, "mail.t.example", NULL},
    /* SPF */
    {OKDMARC, "spf_missing", "error", "no SPF record at t.example", NULL, -1, 0, NULL, NULL, false,
     NULL, NULL},
    {OKDMARC OKSPF "TXT t.example v=spf1 -all\n", "spf_multiple", "error", "2 SPF records",
     "spf_ok", -1, 0, NULL, NULL, false, NULL, NULL},
    {OKDMARC "TXT t.example v=spf1 foo:bar -all\n", "spf_syntax", "error",
     "'foo:bar' is not an SPF mechanism", NULL, -1, 0, NULL, NULL, false, NULL, NULL},
    {OKDMARC "TXT t.example v=spf1 ip4:192.0.2.0/33 -all\n", "spf_syntax", "error",
     "bad prefix length", NULL, -1, 0, NULL, NULL, false, NULL, NULL},
    {OKDMARC "TXT t.example v=spf1 redirect=a.example redirect=b.example\n", "spf_syntax", "error",
     "redirect= given twice", NULL, -1, 0, NULL, NULL, false, NULL, NULL},
    {OKDMARC "TXT t.example v=spf1 include:i1.t.example include:i2.t.example "
             "include:i3.t.example include:i4.t.example include:i5.t.example "
             "include:i6.t.example include:i7.t.example include:i8.t.example "
             "include:i9.t.example include:i10.t.example include:i11.t.example -all\n"
             "TXT i1.t.example v=spf1 -all\nTXT i2.t.example v=spf1 -all\n"
             "TXT i3.t.example v=spf1 -all\nTXT i4.t.example v=spf1 -all\n"
             "TXT i5.t.example v=spf1 -all\nTXT i6.t.example v=spf1 -all\n"
             "TXT i7.t.example v=spf1 -all\nTXT i8.t.example v=spf1 -all\n"
             "TXT i9.t.example v=spf1 -all\nTXT i10.t.example v=spf1 -all\n"
             "TXT i11.t.example v=spf1 -all\n",
     "spf_too_many_lookups", "error", "needs 11 DNS lookups", "spf_ok", -1, 0, NULL, NULL, false,
     NULL, NULL},
    {OKDMARC "TXT t.example v=spf1 a mx include:i1.t.example exists:e.t.example a:h.t.example "
             "redirect=r.t.example\n"
             "A t.example 192.0.2.1\nMX t.example mx.t.example\nA mx.t.example 192.0.2.2\n"
             "TXT i1.t.example v=spf1 a:h.t.example mx:t.example ~all\n"
             "A h.t.example 192.0.2.3\nTXT r.t.example v=spf1 exists:e.t.example -all\n"
             "A e.t.example 127.0.0.2\n",
     "spf_lookups_near_limit", "warning", "needs 9 of the 10", "spf_too_many_lookups", -1, 0, NULL,
     NULL, false, NULL, NULL},
    {OKDMARC "TXT t.example v=spf1 a:n1.t.example a:n2.t.example mx:n3.t.example -all\n",
     "spf_too_many_void", "error",
     "3 look-ups find nothing (n1.t.example, n2.t.example, "
     "n3.t.example)",
     NULL, -1, 0, NULL, NULL, false, NULL, NULL},
    {OKDMARC "TXT t.example v=spf1 a:n1.t.example ip4:192.0.2.0/24 -all\n", "spf_void_lookup",
     "warning", "1 look-up(s) find nothing: n1.t.example", "spf_too_many_void", -1, 0, NULL, NULL,
     false, NULL, NULL},
    {OKDMARC "TXT t.example v=spf1 include:nospf.t.example -all\nA nospf.t.example 192.0.2.9\n",
     "spf_include_missing", "error", "nospf.t.example has no SPF record", NULL, -1, 0, NULL, NULL,
     false, NULL, NULL},
    {OKDMARC "TXT t.example v=spf1 include:loop.t.example -all\n"
             "TXT loop.t.example v=spf1 include:t.example -all\n",
     "spf_include_missing", "error", "t.example includes itself (a loop)", NULL, -1, 0, NULL, NULL,
     false, NULL, NULL},
    {OKDMARC "TXT t.example v=spf1 include:bad.t.example -all\n"
             "TXT bad.t.example v=spf1 ip4:nope -all\n",
     "spf_include_missing", "error", "the record of bad.t.example: 'ip4:nope'", NULL, -1, 0, NULL,
     NULL, false, NULL, NULL},
    {OKDMARC "TXT t.example v=spf1 ptr -all\n", "spf_ptr", "warning", "ptr", NULL, -1, 0, NULL,
     NULL, false, NULL, NULL},
    {OKDMARC "TXT t.example v=spf1 ip4:192.0.2.0/24 +all\n", "spf_pass_all", "error", "+all", NULL,
     -1, 0, NULL, NULL, false, NULL, NULL},
    {OKDMARC "TXT t.example v=spf1 ip4:192.0.2.0/24\n", "spf_no_all", "notice",
     "without all or redirect=", NULL, -1, 0, NULL, NULL, false, NULL, NULL},
    {OKDMARC "TXT t.example v=spf1 mx -all\nMX t.example m1.t.example\nMX t.example m2.t.example\n"
             "MX t.example m3.t.example\nMX t.example m4.t.example\nMX t.example m5.t.example\n"
             "MX t.example m6.t.example\nMX t.example m7.t.example\nMX t.example m8.t.example\n"
             "MX t.example m9.t.example\nMX t.example m10.t.example\n"
             "MX t.example m11.t.example\n",
     "spf_mx_too_many", "error", "more than 10 MX hosts", NULL, -1, 0, NULL, NULL, false, NULL,
     NULL},
    {OKDMARC "SERVFAIL t.example TXT\n", "spf_lookup_failed", "warning",
     "TXT records of t.example could not be read", NULL, -1, 0, NULL, NULL, false, NULL, NULL},
    {OKDMARC "TXT t.example v=spf1 include:i.t.example -all\nSERVFAIL i.t.example TXT\n",
     "spf_lookup_failed", "warning", "look-ups the record needs failed: i.t.example", NULL, -1, 0,
     NULL, NULL, false, NULL, NULL},
    {OKDMARC OKSPF, "spf_uncovered_failing", "warning",
     "1 source(s) failing DMARC in the reports (10 messages) are not covered by the SPF "
     "record: 203.0.113.5 (10 messages, fail)",
     "spf_ok", -1, 0, "203.0.113.5/0/0", NULL, false, NULL, NULL},
    {OKDMARC OKSPF, "spf_uncovered_passing", "notice", "203.0.113.5 (10 messages, fail)",
     "spf_uncovered_failing", -1, 0, "203.0.113.5/0/10", NULL, false, NULL, NULL},
    {OKDMARC "TXT t.example v=spf1 exists:%{i}._spf.t.example -all\n", "spf_macro", "notice",
     "macros", NULL, -1, 0, NULL, NULL, false, NULL, NULL},
    {OKDMARC OKSPF, "spf_ok", "ok", "0 of 10 DNS lookups, 0 void; covers 1 of the 1",
     "spf_uncovered_failing", -1, 0, "192.0.2.77/10/10", NULL, false, NULL, NULL},
    /* Coverage through include, a and mx, the ESP's IPv6 range. */
    {OKDMARC "TXT t.example v=spf1 mx include:esp.example -all\nMX t.example mx.t.example\n"
             "A mx.t.example 198.51.100.1\nTXT esp.example v=spf1 ip6:2001:db8:5::/48 ~all\n",
     "spf_ok", "ok", "covers 1 of the 1", NULL, -1, 0, "2001:db8:5::25/1/0", NULL, false, NULL,
     NULL},
    /* MTA-STS */
    {OKDMARC, "mtasts_missing", "notice", "no MTA-STS record at _mta-sts.t.example", NULL, -1, 0,
     NULL, NULL, false, NULL, NULL},
    {"TXT _mta-sts.t.example v=STSv1; id=a\nTXT _mta-sts.t.example v=STSv1; id=b\n",
     "mtasts_multiple", "error", "2 MTA-STS records", NULL, -1, 0, NULL, NULL, false, NULL, NULL},
    {"TXT _mta-sts.t.example v=STSv1; id=not-alnum!\n", "mtasts_syntax", "error",
     "is not 1 to 32 letters or digits", NULL, -1, 0, NULL, NULL, false, NULL, NULL},
    {"TXT _mta-sts.t.example v=STSv1; id=1\n", "mtasts_policy_unreachable", "warning",
     "https://mta-sts.t.example/.well-known/mta-sts.txt could not be fetched: Failed to connect",
     NULL, -1, 0, NULL, NULL, false, NULL, NULL},
    {"TXT _mta-sts.t.example v=STSv1; id=1\n"
     "BODY https://mta-sts.t.example/.well-known/mta-sts.txt version: STSv1\\nmode: sometimes\n",
     "mtasts_policy_syntax", "error", "mode: sometimes is not enforce, testing or none", NULL, -1,
     0, NULL, NULL, false, NULL, NULL},
    {"TXT _mta-sts.t.example v=STSv1; id=1\n"
     "BODY https://mta-sts.t.example/.well-known/mta-sts.txt version: STSv1\\nmode: enforce\\n"
     "max_age: 86400\n",
     "mtasts_policy_syntax", "error", "no mx: line", NULL, -1, 0, NULL, NULL, false, NULL, NULL},
    {"TXT _mta-sts.t.example v=STSv1; id=1\nMX t.example mx1.t.example\n"
     "MX t.example mail.elsewhere.example\n"
     "BODY https://mta-sts.t.example/.well-known/mta-sts.txt version: STSv1\\r\\nmode: "
     "enforce\\r\\nmx: *.t.example\\r\\nmax_age: 604800\\r\\n\n",
     "mtasts_mx_not_covered", "error", "MX host mail.elsewhere.example matches no mx:", "mtasts_ok",
     -1, 0, NULL, NULL, false, NULL, NULL},
    {"TXT _mta-sts.t.example v=STSv1; id=1\nMX t.example mx1.t.example\n"
     "BODY https://mta-sts.t.example/.well-known/mta-sts.txt version: STSv1\\nmode: "
     "testing\\nmx: mx1.t.example\\nmax_age: 86400\n",
     "mtasts_testing", "notice", "mode testing", "mtasts_mx_not_covered", -1, 0, NULL, NULL, false,
     NULL, NULL},
    {"TXT _mta-sts.t.example v=STSv1; id=1\n"
     "BODY https://mta-sts.t.example/.well-known/mta-sts.txt version: STSv1\\nmode: "
     "none\\nmax_age: 86400\n",
     "mtasts_none", "notice", "mode none", NULL, -1, 0, NULL, NULL, false, NULL, NULL},
    {"TXT _mta-sts.t.example v=STSv1; id=1\n", "mtasts_not_fetched", "notice",
     "MTA-STS record id=1; the policy at https://mta-sts.t.example/.well-known/mta-sts.txt "
     "was not fetched",
     "mtasts_policy_unreachable", -1, 0, NULL, NULL, true, NULL, NULL},
    {"SERVFAIL _mta-sts.t.example TXT\n", "mtasts_lookup_failed", "warning", "(servfail)", NULL, -1,
     0, NULL, NULL, false, NULL, NULL},
    {"TXT _mta-sts.t.example v=STSv1; id=20260301\nMX t.example mx1.t.example\n"
     "BODY https://mta-sts.t.example/.well-known/mta-sts.txt version: STSv1\\nmode: "
     "enforce\\nmx: *.t.example\\nmax_age: 86400\n",
     "mtasts_ok", "ok", "MTA-STS enforced (id=20260301, max_age 86400 s, 1 mx pattern(s))", NULL,
     -1, 0, NULL, NULL, false, NULL, NULL},
    /* TLS-RPT */
    {"", "tlsrpt_missing", "notice", "no TLS-RPT record at _smtp._tls.t.example", NULL, -1, 0, NULL,
     NULL, false, NULL, NULL},
    {"TXT _smtp._tls.t.example v=TLSRPTv1; rua=mailto:a@t.example\n"
     "TXT _smtp._tls.t.example v=TLSRPTv1; rua=mailto:b@t.example\n",
     "tlsrpt_multiple", "error", "2 TLS-RPT records", NULL, -1, 0, NULL, NULL, false, NULL, NULL},
    {"TXT _smtp._tls.t.example v=TLSRPTv1\n", "tlsrpt_syntax", "error", "no rua= tag", NULL, -1, 0,
     NULL, NULL, false, NULL, NULL},
    {"TXT _smtp._tls.t.example v=TLSRPTv1; rua=ftp://t.example\n", "tlsrpt_syntax", "error",
     "neither mailto: nor https:", NULL, -1, 0, NULL, NULL, false, NULL, NULL},
    {"SERVFAIL _smtp._tls.t.example TXT\n", "tlsrpt_lookup_failed", "warning", "(servfail)", NULL,
     -1, 0, NULL, NULL, false, NULL, NULL},
    {"TXT _smtp._tls.t.example v=TLSRPTv1; rua=mailto:a@t.example,https://r.t.example/tls\n",
     "tlsrpt_ok", "ok", "2 report destination(s)", NULL, -1, 0, NULL, NULL, false, NULL, NULL},
    {"TXT _smtp._tls.t.example v=TLSRPTv1; rua=mailto:tls@t.example\n", "tlsrpt_no_reports",
     "notice", "but no SMTP TLS report for t.example arrived", "tlsrpt_ok", -1, 0, NULL, NULL,
     false, NULL, "0/0/0//0"},
    {"TXT _smtp._tls.t.example v=TLSRPTv1; rua=mailto:tls@t.example\n", "tlsrpt_ok", "ok",
     "1 report destination(s)", "tlsrpt_failures", -1, 0, NULL, NULL, false, NULL, "3/1200/0//0"},
    {"TXT _smtp._tls.t.example v=TLSRPTv1; rua=mailto:tls@t.example\n", "tlsrpt_failures",
     "warning",
     "show 25 of 1025 sessions to t.example failing (2.4 %) in 2 report(s); most: "
     "certificate-expired (20)",
     NULL, -1, 0, NULL, NULL, false, NULL, "2/1000/25/certificate-expired/20"},
    {"", "tlsrpt_failures", "warning", "show 5 of 10 sessions", NULL, -1, 0, NULL, NULL, false,
     NULL, "1/5/5/sts-policy-fetch-error/5"},
    /* DKIM: the selector named by the reports (). */
    {"", "dkim_key_missing", "error",
     "no DKIM key at gone._domainkey.t.example: selector gone fails DKIM in the reports (5 of "
     "10 messages)",
     NULL, -1, 0, NULL, "t.example/gone/5", false, NULL, NULL},
    {"", "dkim_key_missing", "warning", "selector quiet signs 10 messages", NULL, -1, 0, NULL,
     "t.example/quiet/0", false, NULL, NULL},
    {"TXT old._domainkey.t.example v=DKIM1; k=rsa; p=\n", "dkim_key_revoked", "error",
     "revoked (empty p=); selector old fails DKIM", NULL, -1, 0, NULL, "t.example/old/3", false,
     NULL, NULL},
    {"TXT bad._domainkey.t.example v=DKIM1; k=rsa; p=!!!!\n", "dkim_syntax", "error",
     "p= is not base64", NULL, -1, 0, NULL, "t.example/bad/0", false, NULL, NULL},
    {"TXT bad._domainkey.t.example v=DKIM1; k=dsa; p=AAAA\n", "dkim_syntax", "error",
     "k=dsa is not rsa or ed25519", NULL, -1, 0, NULL, "t.example/bad/0", false, NULL, NULL},
    {"TXT bad._domainkey.t.example v=DKIM1; k=rsa; p=AAAA\n", "dkim_syntax", "error",
     "not an RSA public key", NULL, -1, 0, NULL, "t.example/bad/0", false, NULL, NULL},
    {"TXT bad._domainkey.t.example k=rsa; v=DKIM1; p=AAAA\n", "dkim_syntax", "error",
     "v= must be first", NULL, -1, 0, NULL, "t.example/bad/0", false, NULL, NULL},
    {"TXT s512._domainkey.t.example v=DKIM1; k=rsa; p=@KEY512@\n", "dkim_weak_key", "warning",
     "512-bit RSA key", NULL, -1, 0, NULL, "t.example/s512/0", false, NULL, NULL},
    {"TXT s1024._domainkey.t.example v=DKIM1; p=@KEY1024@\n", "dkim_1024_key", "notice",
     "1024-bit RSA key", NULL, -1, 0, NULL, "t.example/s1024/0", false, NULL, NULL},
    {"TXT s2048._domainkey.t.example v=DKIM1; k=rsa; p=@KEY2048@\n", "dkim_key_ok", "ok",
     "2048-bit RSA key", NULL, -1, 0, NULL, "t.example/s2048/0", false, NULL, NULL},
    {"TXT ed._domainkey.t.example v=DKIM1; k=ed25519; p=@KEYED@\n", "dkim_key_ok", "ok",
     "ed25519 key", NULL, -1, 0, NULL, "t.example/ed/0", false, NULL, NULL},
    {"TXT tst._domainkey.t.example v=DKIM1; t=y; p=@KEY2048@\n", "dkim_testing", "notice", "t=y",
     NULL, -1, 0, NULL, "t.example/tst/0", false, NULL, NULL},
    {"SERVFAIL sf._domainkey.t.example TXT\n", "dkim_lookup_failed", "warning", "(servfail)", NULL,
     -1, 0, NULL, "t.example/sf/0", false, NULL, NULL},
};

/* The case's spec with the keys put in. */
static char *expand(const char *spec)
{
	static const struct {
		const char *tag, *val;
	} keys[] = {{"@KEY512@", key512},
	            {"@KEY1024@", key1024},
	            {"@KEY2048@", key2048},
	            {"@KEYED@", key_ed}};
	char *s = xstrdup(spec);
	for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
		char *at;
		while ((at = strstr(s, keys[k].tag)) != NULL) {
			*at = '\0';
			char *n = xasprintf("%s%s%s", s, keys[k].val, at + strlen(keys[k].tag));
			free(s);
			s = n;
		}
	}
	return s;
}

static void run_case(const struct tcase *c, struct dnscheck_out *out, struct fake *f)
{
	char *spec = expand(c->spec);
	f->spec = spec;
	struct dnscheck_env env = {.lookup = fake_lookup,
	                           .ctx = f,
	                           .fetch = c->no_fetch ? NULL : fake_fetch,
	                           .fetch_ctx = f};
	if (c->selector) {
		char d[64], s[64];
		long long fail = 0;
		const char *a = strchr(c->selector, '/'), *b = strrchr(c->selector, '/');
		snprintf(d, sizeof d, "%.*s", (int)(a - c->selector), c->selector);
		snprintf(s, sizeof s, "%.*s", (int)(b - a - 1), a + 1);
		fail = strtoll(b + 1, NULL, 10);
		struct dnscheck_selector sel = {
		    .domain = d, .selector = s, .messages = 10, .pass = 10 - fail, .fail = fail};
		dnscheck_selectors(&env, &sel, 1, out);
	} else {
		struct dnscheck_source src = {0};
		char ip[64] = "";
		if (c->source) {
			const char *a = strchr(c->source, '/');
			snprintf(ip, sizeof ip, "%.*s", (int)(a - c->source), c->source);
			src.ip = ip;
			src.messages = 10;
			src.spf_pass = strtoll(a + 1, NULL, 10);
			src.dkim_pass = strtoll(strrchr(c->source, '/') + 1, NULL, 10);
		}
		struct dnscheck_domain d = {
		    .domain = c->domain ? c->domain : "t.example",
		    .messages = c->rate >= 0 && c->days ? 1000 : 0,
		    .rate = c->days ? c->rate : -1,
		    .days = c->days,
		    .sources = &src,
		    .nsources = c->source ? 1 : 0,
		};
		char top[64] = "";
		if (c->tls) {
			char *end;
			d.tls.known = true;
			d.tls.reports = strtoll(c->tls, &end, 10);
			d.tls.ok = strtoll(end + 1, &end, 10);
			d.tls.failed = strtoll(end + 1, &end, 10);
			const char *slash = strrchr(end + 1, '/');
			snprintf(top, sizeof top, "%.*s", (int)(slash - end - 1), end + 1);
			d.tls.top_failure = top;
			d.tls.top_failed = strtoll(slash + 1, NULL, 10);
		}
		dnscheck_domain(&env, &d, out);
	}
	f->spec = NULL;
	free(spec);
}

static void test_findings(void **state)
{
	(void)state;
	size_t nk;
	const struct dnsfind_kind *kinds = dnsfind_kinds(&nk);
	bool *covered = xcalloc(nk, sizeof *covered);
	int failures = 0;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct tcase *c = &cases[i];
		struct dnscheck_out out = {0};
		struct fake f = {0};
		run_case(c, &out, &f);
		const struct dnsfind *got = NULL;
		for (size_t k = 0; k < out.f.n && !got; k++)
			if (strcmp(out.f.v[k].code, c->want) == 0 &&
			    strstr(out.f.v[k].finding, c->part))
				got = &out.f.v[k];
		if (!got || strcmp(dnsfind_severity_name(got->severity), c->severity) != 0 ||
		    (c->not_want && dnsfinds_get(&out.f, c->not_want, NULL)) ||
		    (got->severity != DNSFIND_OK && (!got->fix || !*got->fix))) {
			fprintf(stderr, "case %zu: wanted %s (%s) '%s'%s%s; got:\n", i, c->want,
			        c->severity, c->part, c->not_want ? " without " : "",
			        c->not_want ? c->not_want : "");
			for (size_t k = 0; k < out.f.n; k++)
				fprintf(stderr, "  %s %s: %s | fix: %s\n", out.f.v[k].code,
				        dnsfind_severity_name(out.f.v[k].severity),
				        out.f.v[k].finding, out.f.v[k].fix ? out.f.v[k].fix : "-");
			failures++;
		}
		for (size_t k = 0; k < nk; k++)
			if (strcmp(kinds[k].code, c->want) == 0)
				covered[k] = true;
		dnscheck_out_free(&out);
		fake_free(&f);
	}
	for (size_t k = 0; k < nk; k++)
		if (!covered[k]) {
			fprintf(stderr, "finding %s has no table case\n", kinds[k].code);
			failures++;
		}
	free(covered);
	assert_int_equal(failures, 0);
}

/* The record texts kept for change events: sorted, only answered names. */
static void test_records_seen(void **state)
{
	(void)state;
	struct fake f = {0};
	struct dnscheck_out out = {0};
	struct tcase c = {.spec = "TXT t.example v=spf1 mx -all\nTXT t.example v=spf1 a -all\n"
	                          "TXT t.example verification=1\nSERVFAIL _dmarc.t.example TXT\n",
	                  .rate = -1};
	run_case(&c, &out, &f);
	bool spf = false, dmarc = false, sts = false;
	for (size_t i = 0; i < out.nrec; i++) {
		if (strcmp(out.rec[i].kind, "spf") == 0) {
			assert_string_equal(out.rec[i].text, "v=spf1 a -all\nv=spf1 mx -all");
			spf = true;
		}
		if (strcmp(out.rec[i].kind, "dmarc") == 0)
			dmarc = true;
		if (strcmp(out.rec[i].kind, "mta-sts") == 0) {
			assert_string_equal(out.rec[i].text, "");
			assert_string_equal(out.rec[i].name, "_mta-sts.t.example");
			sts = true;
		}
	}
	assert_true(spf);
	assert_false(dmarc); /* SERVFAIL: no change can be told */
	assert_true(sts);
	dnscheck_out_free(&out);
	fake_free(&f);
}

static void test_dmarc_reader(void **state)
{
	(void)state;
	struct dmarcrec r;
	struct buf why;
	buf_init(&why, 1024);
	assert_int_equal(dmarcrec_parse("v=DMARC1;p=Quarantine; sp=reject ; np=none; pct=25;"
	                                " adkim=S; aspf=r; t=n; psd=u; fo=0:d; ri=86400; rf=afrf;"
	                                " rua=mailto:a@x.example; ruf=mailto:b@x.example;",
	                                &r, &why),
	                 0);
	assert_string_equal(r.p, "quarantine");
	assert_string_equal(r.sp, "reject");
	assert_string_equal(r.np, "none");
	assert_int_equal(r.pct, 25);
	assert_int_equal(r.adkim, 's');
	assert_int_equal(r.aspf, 'r');
	assert_int_equal(r.psd, 'u');
	assert_false(r.testing);
	assert_int_equal(r.problems.len, 0);
	assert_string_equal(r.rua, "mailto:a@x.example");
	dmarcrec_free(&r);
	/* Case matters for v= (RFC 7489 6.4), a tag twice is an error. */
	assert_int_equal(dmarcrec_parse("v=dmarc1; p=none", &r, &why), -1);
	dmarcrec_free(&r);
	buf_reset(&why);
	assert_int_equal(dmarcrec_parse("v=DMARC1; p=none; p=reject", &r, &why), -1);
	assert_non_null(strstr(why.data, "tag p given twice"));
	dmarcrec_free(&r);
	buf_reset(&why);
	assert_int_equal(dmarcrec_parse("v=DMARC1; p=none; fo=2; ri=soon; rf=iodef; t=maybe; "
	                                "psd=x; pct=-1",
	                                &r, &why),
	                 0);
	assert_non_null(strstr(r.problems.data, "fo=2"));
	assert_non_null(strstr(r.problems.data, "ri=soon"));
	assert_non_null(strstr(r.problems.data, "rf=iodef"));
	assert_non_null(strstr(r.problems.data, "t=maybe"));
	assert_non_null(strstr(r.problems.data, "psd=x"));
	assert_non_null(strstr(r.problems.data, "pct=-1"));
	dmarcrec_free(&r);
	char **hosts = NULL;
	buf_reset(&why);
	size_t n = dmarc_uri_hosts(" mailto:a@X.Example!10m , mailto:b@y.example,,mailto:@z",
	                           &hosts, &why);
	assert_int_equal(n, 2);
	assert_string_equal(hosts[0], "x.example");
	assert_string_equal(hosts[1], "y.example");
	assert_string_equal(why.data, "mailto:@z");
	dnsrec_strings_free(hosts, n);
	assert_true(dnsrec_is(" v = DMARC1;p=none", "DMARC1"));
	assert_true(dnsrec_is("v=spf1", "spf1"));
	assert_false(dnsrec_is("v=spf10 -all", "spf1"));
	assert_false(dnsrec_is("spf1", "spf1"));
	buf_free(&why);
}

static void test_spf_reader(void **state)
{
	(void)state;
	struct spfrec r;
	struct buf why;
	buf_init(&why, 1024);
	assert_int_equal(
	    spfrec_parse("v=spf1 +a/24//64 -mx:m.example/28 ~ip4:192.0.2.0/24 "
	                 "?ip6:2001:db8::/32 include:_spf.example exists:%{ir}.x.example "
	                 "ptr redirect=r.example exp=explain.example -ALL",
	                 &r, &why),
	    0);
	assert_int_equal(r.n, 8);
	assert_int_equal(r.t[0].mech, SPF_A);
	assert_int_equal(r.t[0].cidr4, 24);
	assert_int_equal(r.t[0].cidr6, 64);
	assert_int_equal(r.t[1].qual, '-');
	assert_string_equal(r.t[1].arg, "m.example");
	assert_int_equal(r.t[1].cidr4, 28);
	assert_int_equal(r.t[3].cidr6, 32);
	assert_true(r.t[5].macros);
	assert_int_equal(r.t[7].mech, SPF_ALL);
	assert_string_equal(r.redirect, "r.example");
	spfrec_free(&r);
	const char *bad[] = {"v=spf2 -all",          "v=spf1 ip4",       "v=spf1 ip4:192.0.2.1//64",
	                     "v=spf1 all:x",         "v=spf1 include:",  "v=spf1 a:bad..name",
	                     "v=spf1 ip6:192.0.2.1", "v=spf1 exists:%{", "v=spf1 =x"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		buf_reset(&why);
		if (spfrec_parse(bad[i], &r, &why) != -1 || why.len == 0)
			fail_msg("'%s' was read", bad[i]);
	}
	assert_true(spf_ip_in("192.0.2.200", "192.0.2.128", 25));
	assert_false(spf_ip_in("192.0.2.100", "192.0.2.128", 25));
	assert_true(spf_ip_in("2001:db8:5::1", "2001:db8:5::", 48));
	assert_false(spf_ip_in("192.0.2.1", "2001:db8::", 0));
	assert_true(spf_ip_in("203.0.113.7", "0.0.0.0", 0));
	buf_free(&why);
}

static void test_spf_eval(void **state)
{
	(void)state;
	struct fake f = {.spec = "TXT inc.example v=spf1 ip4:198.51.100.0/24 ~all\n"
	                         "A h.example 192.0.2.5\nMX t.example mx.t.example\n"
	                         "AAAA mx.t.example 2001:db8::25\n"
	                         "TXT red.example v=spf1 -ip4:203.0.113.1 ?all\n"};
	struct spf_walk w;
	spf_walk("t.example",
	         "v=spf1 -ip4:198.51.100.7 include:inc.example a:h.example/30 mx "
	         "redirect=ignored.example ~all",
	         fake_lookup, &f, &w);
	assert_int_equal(w.lookups, 3);
	assert_int_equal(spf_eval(&w, "198.51.100.7"), SPF_R_FAIL);
	assert_int_equal(spf_eval(&w, "198.51.100.8"), SPF_R_PASS);
	assert_int_equal(spf_eval(&w, "192.0.2.6"), SPF_R_PASS);
	assert_int_equal(spf_eval(&w, "192.0.2.9"), SPF_R_SOFTFAIL);
	assert_int_equal(spf_eval(&w, "2001:db8::25"), SPF_R_PASS);
	spf_walk_free(&w);
	spf_walk("t.example", "v=spf1 ip4:192.0.2.1 redirect=red.example", fake_lookup, &f, &w);
	assert_int_equal(w.lookups, 1);
	assert_int_equal(spf_eval(&w, "192.0.2.1"), SPF_R_PASS);
	assert_int_equal(spf_eval(&w, "203.0.113.1"), SPF_R_FAIL);
	assert_int_equal(spf_eval(&w, "203.0.113.2"), SPF_R_NEUTRAL);
	spf_walk_free(&w);
	spf_walk("t.example", "v=spf1 ptr -all", fake_lookup, &f, &w);
	assert_int_equal(spf_eval(&w, "192.0.2.1"), SPF_R_UNKNOWN);
	spf_walk_free(&w);
	spf_walk("t.example", "v=spf1 include:nothing.example -all", fake_lookup, &f, &w);
	assert_int_equal(spf_eval(&w, "192.0.2.1"), SPF_R_PERMERROR);
	spf_walk_free(&w);
	fake_free(&f);
}

static void test_key_and_policy_readers(void **state)
{
	(void)state;
	struct dkimkey k;
	struct buf why;
	buf_init(&why, 1024);
	char *rec = xasprintf("v=DKIM1; h=sha256; k=rsa; s=email; t=s:y; p=%s", key2048);
	assert_int_equal(dkimkey_parse(rec, &k, &why), 0);
	assert_int_equal(k.bits, 2048);
	assert_true(k.testing);
	free(rec);
	/* Whitespace inside p= (folded TXT strings) is allowed. */
	char *spaced = xasprintf("p=%.40s \t %s", key512, key512 + 40);
	assert_int_equal(dkimkey_parse(spaced, &k, &why), 0);
	assert_int_equal(k.bits, 512);
	free(spaced);
	assert_int_equal(dkimkey_parse("v=DKIM1; k=rsa", &k, &why), -1);
	assert_non_null(strstr(why.data, "no p= tag"));
	buf_reset(&why);
	assert_int_equal(dkimkey_parse("v=DKIM1; k=ed25519; p=AAAA", &k, &why), -1);
	assert_non_null(strstr(why.data, "32 bytes"));

	char id[40];
	buf_reset(&why);
	assert_int_equal(mtasts_txt_parse("v=STSv1; id=20260301T1;", id, sizeof id, &why), 0);
	assert_string_equal(id, "20260301T1");
	assert_int_equal(mtasts_txt_parse("id=1; v=STSv1", id, sizeof id, &why), -1);
	struct mtasts_policy p;
	const char body[] = "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\n"
	                    "mx: *.backup.example.com\r\nmax_age: 604800\r\nextension: x\r\n";
	buf_reset(&why);
	assert_int_equal(mtasts_policy_parse(body, sizeof body - 1, &p, &why), 0);
	assert_string_equal(p.mode, "enforce");
	assert_int_equal(p.max_age, 604800);
	assert_int_equal(p.nmx, 2);
	assert_true(mtasts_mx_match(&p, "mail.example.com"));
	assert_true(mtasts_mx_match(&p, "MX1.backup.example.com"));
	assert_false(mtasts_mx_match(&p, "a.b.backup.example.com"));
	assert_false(mtasts_mx_match(&p, "backup.example.com"));
	mtasts_policy_free(&p);
	const char *badp[] = {"mode: enforce\nmx: a.example\nmax_age: 1\n",
	                      "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 99999999\n",
	                      "version: STSv1\nmode enforce\n", "version: STSv2\n"};
	for (size_t i = 0; i < sizeof badp / sizeof badp[0]; i++) {
		buf_reset(&why);
		if (mtasts_policy_parse(badp[i], strlen(badp[i]), &p, &why) != -1 || !why.len)
			fail_msg("policy %zu was read", i);
	}
	const char nul[] = "version: STSv1\nmode: none\0\nmax_age: 1\n";
	buf_reset(&why);
	assert_int_equal(mtasts_policy_parse(nul, sizeof nul - 1, &p, &why), -1);
	assert_non_null(strstr(why.data, "NUL"));
	buf_reset(&why);
	assert_int_equal(tlsrptrec_parse("v=TLSRPTv1;rua=mailto:a@x.example", &why), 1);
	assert_int_equal(tlsrptrec_parse("rua=mailto:a@x.example; v=TLSRPTv1", &why), -1);
	buf_free(&why);
}

/* Through the binary, against the local DNS server. */
struct ctx {
	char *conn;
	const char *dns;
};

static char *run_ok(const char *const *args)
{
	char *out = NULL;
	int rc = run_bin(args, NULL, &out);
	if (rc != 0)
		fail_msg("%s %s: exit %d\n%s", args[0], args[1] ? args[1] : "", rc, out ? out : "");
	return out;
}

static char *dns_check(struct ctx *c, const char *servers, const char *format)
{
	const char *a[] = {"dns",   "check",           "--db", c->conn,    "--dns-servers",
	                   servers, "--fetch-timeout", "2",    "--format", format,
	                   NULL};
	return run_ok(a);
}

static void expect(const char *sig, const char *line)
{
	if (!strstr(sig, line))
		fail_msg("missing '%s' in:\n%s", line, sig);
}

static const char sig_sql[] =
    "SELECT coalesce(string_agg(concat_ws('|', tenant, domain, check_name, severity, code),"
    " E'\\n' ORDER BY tenant, domain, check_name, code, severity), '') FROM"
    " dmarcsift.v_dns_checks WHERE latest";

static void test_check(void **state)
{
	struct ctx *c = *state;
	free(run_ok(
	    (const char *[]){"tenant", "add", "--db", c->conn, "dnsgood", "good.example", NULL}));
	free(
	    run_ok((const char *[]){"tenant", "add", "--db", c->conn, "dnsbroken", "broken.example",
	                            "lookups.example", "void.example", "syntax.example", NULL}));
	free(run_ok((const char *[]){"ingest", "--quiet", "--db", c->conn,
	                             FIXTURES_DIR "/dnscheck/good-2026-11-10.xml",
	                             FIXTURES_DIR "/dnscheck/broken-2026-11-10.xml",
	                             FIXTURES_DIR "/dnscheck/lookups-2026-11-10.xml",
	                             FIXTURES_DIR "/dnscheck/tls-good-2026-11-10.json", NULL}));
	char *out = dns_check(c, c->dns, "text");
	/* good.example's TLS report (Google's, of the same days) is tied to its
	 * TLS-RPT record: 25 of 1000 sessions failed, most for an expired
	 * certificate. */
	expect(out, "the SMTP TLS reports show 25 of 1000 sessions to good.example failing (2.5 %) "
	            "in 1 report(s); most: certificate-expired (20)");
	expect(out, "fix: Senders could not validate the MX certificates");
	expect(out, "dns check: 5 domain(s) and 6 DKIM selector(s) of 2 tenant(s)");
	expect(out, "0 record change(s)");
	expect(out, "dnsbroken  broken.example");
	expect(out,
	       "  warning dkim    512-bit RSA key at s512._domainkey.broken.example, under 1024 "
	       "bits");
	expect(out, "fix: Rotate to a 2048-bit RSA key");
	expect(out,
	       "no DKIM key at gone._domainkey.broken.example: selector gone fails DKIM in the "
	       "reports (60 of 60 messages)");
	free(out);
	char *sig = q_str(c->conn, sig_sql, 0, NULL);
	const char *want[] = {
	    "dnsbroken|broken.example|dkim|error|dkim_key_missing",
	    "dnsbroken|broken.example|dkim|error|dkim_key_revoked",
	    "dnsbroken|broken.example|dkim|notice|dkim_1024_key",
	    "dnsbroken|broken.example|dkim|warning|dkim_weak_key",
	    "dnsbroken|broken.example|dmarc|error|dmarc_rua_unauthorized",
	    "dnsbroken|broken.example|dmarc|notice|dmarc_monitoring",
	    "dnsbroken|broken.example|mta-sts|error|mtasts_syntax",
	    "dnsbroken|broken.example|spf|error|spf_multiple",
	    "dnsbroken|broken.example|tls-rpt|notice|tlsrpt_missing",
	    "dnsbroken|lookups.example|dmarc|error|dmarc_multiple",
	    "dnsbroken|lookups.example|spf|error|spf_too_many_lookups",
	    "dnsbroken|lookups.example|tls-rpt|error|tlsrpt_multiple",
	    "dnsbroken|syntax.example|dmarc|error|dmarc_syntax",
	    "dnsbroken|syntax.example|dmarc|notice|dmarc_unknown_tag",
	    "dnsbroken|syntax.example|mta-sts|error|mtasts_multiple",
	    "dnsbroken|syntax.example|spf|error|spf_syntax",
	    "dnsbroken|void.example|dmarc|error|dmarc_missing",
	    "dnsbroken|void.example|spf|error|spf_include_missing",
	    "dnsbroken|void.example|spf|error|spf_pass_all",
	    "dnsbroken|void.example|spf|error|spf_too_many_void",
	    "dnsbroken|void.example|spf|warning|spf_ptr",
	    "dnsbroken|void.example|tls-rpt|error|tlsrpt_syntax",
	    "dnsgood|good.example|dkim|ok|dkim_key_ok",
	    "dnsgood|good.example|dmarc|ok|dmarc_enforced",
	    "dnsgood|good.example|dmarc|ok|dmarc_rua_authorized",
	    "dnsgood|good.example|mta-sts|warning|mtasts_policy_unreachable",
	    "dnsgood|good.example|spf|notice|spf_uncovered_passing",
	    "dnsgood|good.example|spf|warning|spf_uncovered_failing",
	    "dnsgood|good.example|tls-rpt|ok|tlsrpt_ok",
	    "dnsgood|good.example|tls-rpt|warning|tlsrpt_failures",
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
		expect(sig, want[i]);
	/* Only what is wrong: lookups.example's sources are covered (mx, a:). */
	assert_null(strstr(sig, "lookups.example|spf|warning|spf_uncovered"));
	free(sig);
	char *unc = q_str(c->conn,
	                  "SELECT finding FROM dmarcsift.v_dns_checks WHERE code ="
	                  " 'spf_uncovered_failing'",
	                  0, NULL);
	expect(unc, "203.0.113.99 (40 messages, fail)");
	free(unc);
	char *rec =
	    q_str(c->conn, "SELECT record FROM dmarcsift.v_dns_checks WHERE code = 'spf_multiple'",
	          0, NULL);
	assert_string_equal(rec,
	                    "v=spf1 include:_spf.esp.example ~all\nv=spf1 ip4:192.0.2.0/24 -all");
	free(rec);

	/* JSON: one object per finding, the latest run of the tenant asked. */
	out =
	    run_ok((const char *[]){"dns", "check", "--db", c->conn, "--dns-servers", c->dns,
	                            "--no-fetch", "--tenant", "dnsgood", "--format", "json", NULL});
	expect(out,
	       "{\"tenant\":\"dnsgood\",\"domain\":\"good.example\",\"check_name\":\"mta-sts\","
	       "\"severity\":\"notice\",\"code\":\"mtasts_not_fetched\"");
	assert_null(strstr(out, "dnsbroken"));
	free(out);
	assert_int_equal(q_int(c->conn, "SELECT count(*) FROM dmarcsift.dns_check_runs", 0, NULL),
	                 3);

	/* Later: good.example's SPF record and broken.example's s512 key
	 * changed. Two change events, and the findings follow. */
	char dir[] = "/tmp/dmarcsift-dnsc-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char cmd[2048];
	snprintf(cmd, sizeof cmd,
	         "DNS_TEST_ZONE=%s/dns/zone.conf:%s/dns/records-later.conf "
	         "%s/../scripts/dns-test-server.sh start %s >%s/addr",
	         FIXTURES_DIR, FIXTURES_DIR, FIXTURES_DIR, dir, dir);
	assert_int_equal(system(cmd), 0);
	char path[256];
	snprintf(path, sizeof path, "%s/addr", dir);
	char *later = slurp(path, NULL);
	assert_non_null(later);
	later[strcspn(later, "\n")] = '\0';
	out = dns_check(c, later, "text");
	snprintf(cmd, sizeof cmd, "%s/../scripts/dns-test-server.sh stop %s; rm -rf %s",
	         FIXTURES_DIR, dir, dir);
	assert_int_equal(system(cmd), 0);
	free(later);
	expect(out, "2 record change(s)");
	free(out);
	char *chg =
	    q_str(c->conn,
	          "SELECT string_agg(concat_ws('|', tenant, domain, kind, name, old_record,"
	          " new_record), E'\\n' ORDER BY tenant, name) FROM dmarcsift.v_dns_changes",
	          0, NULL);
	expect(chg, "dnsgood|good.example|spf|good.example|v=spf1 ip4:192.0.2.0/25 "
	            "include:_spf.esp.example -all|v=spf1 ip4:192.0.2.0/25 ip4:203.0.113.96/27 "
	            "include:_spf.esp.example -all");
	expect(chg,
	       "dnsbroken|broken.example|dkim|s512._domainkey.broken.example|v=DKIM1; k=rsa; p=");
	free(chg);
	sig = q_str(c->conn, sig_sql, 0, NULL);
	assert_null(strstr(sig, "spf_uncovered_failing"));
	assert_null(strstr(sig, "dkim_weak_key"));
	free(sig);
	out = run_ok(
	    (const char *[]){"dns", "changes", "--db", c->conn, "--tenant", "dnsgood", NULL});
	expect(out, "good.example");
	assert_null(strstr(out, "broken.example"));
	free(out);

	/* Bad input gives clear errors. */
	out = NULL;
	assert_int_equal(
	    run_bin((const char *[]){"dns", "check", "--db", c->conn, "--format", "xml", NULL},
	            NULL, &out),
	    2);
	free(out);
	out = NULL;
	assert_int_equal(
	    run_bin((const char *[]){"dns", "check", "--db", c->conn, "--tenant", "nobody", NULL},
	            NULL, &out),
	    2);
	free(out);
	out = NULL;
	assert_int_equal(run_bin((const char *[]){"dns", "check", "--db", c->conn, "--dns-servers",
	                                          "not an address", NULL},
	                         NULL, &out),
	                 2);
	free(out);
	out = NULL;
	assert_int_equal(run_bin((const char *[]){"dns", "--help", NULL}, NULL, &out), 0);
	expect(out, "usage: dmarcsift dns check");
	free(out);

	/* tenant remove: the check results are derived, deleted. */
	free(run_ok((const char *[]){"tenant", "remove", "--db", c->conn, "dnsbroken", NULL}));
	assert_int_equal(q_int(c->conn,
	                       "SELECT (SELECT count(*) FROM dmarcsift.dns_findings WHERE tenant_id"
	                       " IN (0, (SELECT max(tenant_id) FROM dmarcsift.tenants)) AND domain"
	                       " = 'broken.example') + (SELECT count(*) FROM dmarcsift.dns_records"
	                       " WHERE domain = 'broken.example') + (SELECT count(*) FROM"
	                       " dmarcsift.dns_changes WHERE domain = 'broken.example')",
	                       0, NULL),
	                 0);
	assert_true(q_int(c->conn, "SELECT count(*) FROM dmarcsift.v_dns_checks", 0, NULL) > 0);
}

static int setup(void **state)
{
	struct ctx *c = xcalloc(1, sizeof *c);
	c->dns = getenv("DMARCSIFT_TEST_DNS");
	if (!c->dns || !*c->dns) {
		fprintf(stderr, "test_dnscheck: needs DMARCSIFT_TEST_DNS (scripts/test.sh)\n");
		free(c);
		return -1;
	}
	if (testdb_create(&c->conn) != 0) {
		fprintf(stderr, "test_dnscheck: needs DMARCSIFT_TEST_DB\n");
		free(c);
		return -1;
	}
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;
	if (!c)
		return 0;
	testdb_drop(c->conn);
	free(c->conn);
	free(c);
	return 0;
}

int main(void)
{
	const struct CMUnitTest pure[] = {
	    cmocka_unit_test(test_findings),     cmocka_unit_test(test_records_seen),
	    cmocka_unit_test(test_dmarc_reader), cmocka_unit_test(test_spf_reader),
	    cmocka_unit_test(test_spf_eval),     cmocka_unit_test(test_key_and_policy_readers),
	};
	const struct CMUnitTest db[] = {
	    cmocka_unit_test(test_check),
	};
	int rc = cmocka_run_group_tests(pure, NULL, NULL);
	return rc + cmocka_run_group_tests(db, setup, teardown);
}
