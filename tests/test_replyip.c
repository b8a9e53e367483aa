/*
 * test_replyip: the connecting IP a provider's reply text names
 * (core/replyip.h) — table-driven over real wordings — and the host map
 * (core/hostmap.h): config lines, the --mta-hosts TSV, lookups by full and
 * short name and by address family, and the errors that name the problem.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "core/hostmap.h"
#include "core/replyip.h"

#include <string.h>

static const struct {
	const char *text, *skip, *want; /* want NULL: none */
} cases[] = {
    {"421-4.7.28 [203.0.113.7      15] Our system has detected an unusual rate of "
     "unsolicited mail originating from your IP address.",
     NULL, "203.0.113.7"},
    {"550 5.7.1 Service unavailable, Client host [198.51.100.50] blocked using Spamhaus.", NULL,
     "198.51.100.50"},
    {"550 5.7.606 Access denied, banned sending IP [203.0.113.8]. To request removal", NULL,
     "203.0.113.8"},
    {"421 4.7.0 [TSS04] Messages from 198.51.100.50 temporarily deferred due to unexpected "
     "volume or user complaints - 4.16.55.1, see https://postmaster.yahooinc.com",
     NULL, "198.51.100.50"},
    {"554 5.7.1 rejected (IP: 192.0.2.44) see https://example.net/bl", NULL, "192.0.2.44"},
    {"550 5.7.1 Connection refused from client 2001:db8::25 by policy", NULL, "2001:db8::25"},
    {"550-5.7.26 Unauthenticated email from acme.example is not accepted due to domain's "
     "DMARC policy.",
     NULL, NULL},
    /* a version number, an enhanced code, a date: not addresses */
    {"421 4.7.0 [TS01] deferred - 4.16.55.1 see help", NULL, NULL},
    {"550 5.7.1 blocked 2026-11-10", NULL, NULL},
    /* host[address] is the server we talked to, not our address */
    {"connect to mx.example.net[203.0.113.10]:25: Connection timed out", NULL, NULL},
    /* the receiving server's own address is skipped */
    {"550 5.7.1 [203.0.113.10] says no; client host [198.51.100.9] listed", "203.0.113.10",
     "198.51.100.9"},
    {"550 rejected from 127.0.0.1", NULL, NULL},
    {"550 5.7.1 [999.1.2.3] is not an address", NULL, NULL},
    {"ends with the address from 192.0.2.7.", NULL, "192.0.2.7"},
    {"", NULL, NULL},
};

static void test_replyip_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char out[REPLYIP_MAX];
		int rc = replyip_find(cases[i].text, cases[i].skip, out, sizeof out);
		if (cases[i].want) {
			if (rc != 0 || strcmp(out, cases[i].want) != 0)
				fail_msg("case %zu: got %s, want %s", i, rc ? "none" : out,
				         cases[i].want);
		} else if (rc == 0) {
			fail_msg("case %zu: got %s, want none", i, out);
		}
	}
	char small[8];
	assert_int_equal(replyip_find("from 192.0.2.7", NULL, small, sizeof small), -1);
	assert_int_equal(replyip_find(NULL, NULL, small, sizeof small), -1);
}

static void test_hostmap(void **state)
{
	(void)state;
	struct err e = {0};
	struct hostmap *m = hostmap_new();
	assert_int_equal(hostmap_add(m, "Mail1.Example.NET.", "198.51.100.7, 2001:db8::7", &e), 0);
	static const char tsv[] = "host\tip\tnote\n"
	                          "# a comment\n"
	                          "\n"
	                          "mail2.example.net\t198.51.100.8\tstandby\r\n"
	                          "relay\t2001:db8::9\n";
	assert_int_equal(hostmap_load_tsv(m, tsv, sizeof tsv - 1, "hosts.tsv", &e), 0);
	assert_int_equal(hostmap_count(m), 3);
	assert_string_equal(hostmap_lookup(m, "mail1.example.net", 0), "198.51.100.7");
	assert_string_equal(hostmap_lookup(m, "mail1.example.net", 6), "2001:db8::7");
	assert_string_equal(hostmap_lookup(m, "MAIL1", 4), "198.51.100.7"); /* syslog short name */
	assert_string_equal(hostmap_lookup(m, "mail2", 0), "198.51.100.8");
	assert_string_equal(hostmap_lookup(m, "relay.example.net", 4), "2001:db8::9");
	assert_null(hostmap_lookup(m, "mail3", 0));
	assert_null(hostmap_lookup(NULL, "mail1", 0));
	/* two entries with the same first label: a short name is ambiguous */
	assert_int_equal(hostmap_add(m, "mail1.example.org", "192.0.2.1", &e), 0);
	assert_null(hostmap_lookup(m, "mail1", 0));
	assert_string_equal(hostmap_lookup(m, "mail1.example.org", 0), "192.0.2.1");
	hostmap_free(m);
	hostmap_free(NULL);
}

static void test_hostmap_errors(void **state)
{
	(void)state;
	struct hostmap *m = hostmap_new();
	struct err e = {0};
	assert_int_equal(hostmap_add(m, "mail1", "198.51.100.777", &e), -1);
	assert_non_null(strstr(e.msg, "'198.51.100.777' is not an IP address"));
	err_clear(&e);
	assert_int_equal(hostmap_add(m, "mail 1", "198.51.100.7", &e), -1);
	assert_non_null(strstr(e.msg, "not a host name"));
	err_clear(&e);
	assert_int_equal(hostmap_add(m, "mail1", " , ", &e), -1);
	assert_non_null(strstr(e.msg, "no IP address"));
	err_clear(&e);
	static const char bad[] = "host\tip\nmail1\t198.51.100.7\nmail2\tnot-an-ip\n";
	assert_int_equal(hostmap_load_tsv(m, bad, sizeof bad - 1, "h.tsv", &e), -1);
	assert_non_null(strstr(e.msg, "h.tsv:3: 'not-an-ip' is not an IP address"));
	err_clear(&e);
	static const char notab[] = "mail1 198.51.100.7\n";
	assert_int_equal(hostmap_load_tsv(m, notab, sizeof notab - 1, "h.tsv", &e), -1);
	assert_non_null(strstr(e.msg, "h.tsv:1: expected HOST<TAB>IP"));
	assert_int_equal(hostmap_family("2001:db8::1"), 6);
	assert_int_equal(hostmap_family("192.0.2.1"), 4);
	assert_int_equal(hostmap_family("x"), 0);
	hostmap_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_replyip_table),
	    cmocka_unit_test(test_hostmap),
	    cmocka_unit_test(test_hostmap_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
