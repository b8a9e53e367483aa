/*
 * test_bounce_ip: where a bounce event's sending IP comes from, in order —
 * the log line (Exim I=[...], the CSV column), the provider's reply text,
 * the host map applied to the log's host field or a DSN's Reporting-MTA,
 * otherwise none — and that ip_source says which.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "core/hostmap.h"
#include "core/xalloc.h"
#include "ingest/bounce.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REF 1795435200 /* 2026-11-23T12:00:00Z */

struct got {
	char ip[8][64], src[8][16];
	int n;
};

static int collect(void *ctx, const struct bounce_event *ev, struct err *e)
{
	(void)e;
	struct got *g = ctx;
	assert_true(g->n < 8);
	snprintf(g->ip[g->n], sizeof g->ip[0], "%s", ev->sending_ip ? ev->sending_ip : "-");
	snprintf(g->src[g->n], sizeof g->src[0], "%s", ev->ip_source ? ev->ip_source : "?");
	g->n++;
	return 0;
}

static void parse(enum bounce_format fmt, const char *text, const struct hostmap *hosts,
                  struct got *g)
{
	struct bounce_parser *p = NULL;
	struct err e = {0};
	memset(g, 0, sizeof *g);
	assert_int_equal(bounce_parser_new(&p, fmt, REF, collect, g, &e), 0);
	bounce_parser_set_hosts(p, hosts);
	assert_int_equal(bounce_parser_feed(p, text, strlen(text), &e), 0);
	assert_int_equal(bounce_parser_finish(p, &e), 0);
	bounce_parser_free(p);
}

static struct hostmap *map(void)
{
	struct err e = {0};
	struct hostmap *m = hostmap_new();
	assert_int_equal(hostmap_add(m, "mail1.example.net", "198.51.100.7, 2001:db8::7", &e), 0);
	return m;
}

static const char postfix[] =
    "Nov 23 01:52:01 mail1 postfix/qmgr[1]: 4HqA1b2C3d: from=<a@example.net>, size=1, nrcpt=2\n"
    "Nov 23 01:52:03 mail1 postfix/smtp[2]: 4HqA1b2C3d: to=<x@gmail.com>, "
    "relay=gmail-smtp-in.l.google.com[142.250.27.26]:25, dsn=5.7.26, status=bounced (host "
    "gmail-smtp-in.l.google.com[142.250.27.26] said: 550-5.7.26 Unauthenticated email - gsmtp "
    "(in reply to end of DATA command))\n"
    "Nov 23 01:52:04 mail1 postfix/smtp[2]: 4HqA1b2C3d: to=<y@outlook.com>, "
    "relay=x.olc.protection.outlook.com[2603:1026::1]:25, dsn=5.7.1, status=bounced (host "
    "x said: 550 5.7.1 Service unavailable, Client host [198.51.100.99] blocked using "
    "Spamhaus (in reply to RCPT TO command))\n"
    "Nov 23 01:52:05 mail1 postfix/smtp[2]: 4HqA1b2C3d: to=<z@outlook.com>, "
    "relay=x.olc.protection.outlook.com[2603:1026::1]:25, dsn=5.7.1, status=bounced (host "
    "x said: 550 5.7.1 no (in reply to RCPT TO command))\n";

static void test_postfix_order(void **state)
{
	(void)state;
	struct hostmap *m = map();
	struct got g;
	parse(BOUNCE_FMT_POSTFIX, postfix, m, &g);
	assert_int_equal(g.n, 3);
	/* no IP in the log or the text: the host map, IPv4 like the relay */
	assert_string_equal(g.ip[0], "198.51.100.7");
	assert_string_equal(g.src[0], "host_map");
	/* the reply names the client: the text wins over the map */
	assert_string_equal(g.ip[1], "198.51.100.99");
	assert_string_equal(g.src[1], "text");
	/* an IPv6 relay: the host's IPv6 address */
	assert_string_equal(g.ip[2], "2001:db8::7");
	assert_string_equal(g.src[2], "host_map");
	/* without a map: none */
	parse(BOUNCE_FMT_POSTFIX, postfix, NULL, &g);
	assert_string_equal(g.ip[0], "-");
	assert_string_equal(g.src[0], "none");
	assert_string_equal(g.src[1], "text");
	hostmap_free(m);
}

static void test_log_first(void **state)
{
	(void)state;
	struct hostmap *m = map();
	struct got g;
	static const char exim[] =
	    "2026-11-23 01:00:05 1vBcDe-000AbC-Xy <= news@example.net H=app [198.51.100.8] S=1\n"
	    "2026-11-23 01:00:07 1vBcDe-000AbC-Xy ** q@gmail.com R=dnslookup T=remote_smtp "
	    "H=gmail-smtp-in.l.google.com [142.250.27.27] I=[198.51.100.30]:41235: SMTP error "
	    "from remote mail server after end of data: 550 5.7.1 Client host [198.51.100.99] "
	    "blocked\n";
	parse(BOUNCE_FMT_EXIM, exim, m, &g);
	assert_int_equal(g.n, 1);
	assert_string_equal(g.ip[0], "198.51.100.30");
	assert_string_equal(g.src[0], "log");
	static const char csv[] = "timestamp,sending_ip,from,recipient,reply\n"
	                          "2026-11-23T08:00:00Z,198.51.100.50,a@shop.example,b@outlook.com,"
	                          "550 5.7.1 Client host [198.51.100.99] blocked\n"
	                          "2026-11-23T08:00:01Z,,a@shop.example,c@outlook.com,"
	                          "550 5.7.1 Client host [198.51.100.99] blocked\n";
	parse(BOUNCE_FMT_CSV, csv, m, &g);
	assert_int_equal(g.n, 2);
	assert_string_equal(g.ip[0], "198.51.100.50");
	assert_string_equal(g.src[0], "log");
	assert_string_equal(g.ip[1], "198.51.100.99");
	assert_string_equal(g.src[1], "text");
	hostmap_free(m);
}

static void test_dsn_reporting_mta(void **state)
{
	(void)state;
	struct hostmap *m = map();
	struct got g;
	static const char dsn[] =
	    "From: MAILER-DAEMON@mail1.example.net\r\n"
	    "To: a@example.net\r\n"
	    "Subject: Undelivered\r\n"
	    "Date: Mon, 23 Nov 2026 01:52:09 +0000\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n"
	    "\r\n"
	    "--b\r\n"
	    "Content-Type: text/plain\r\n"
	    "\r\n"
	    "failed\r\n"
	    "--b\r\n"
	    "Content-Type: message/delivery-status\r\n"
	    "\r\n"
	    "Reporting-MTA: dns; mail1.example.net\r\n"
	    "\r\n"
	    "Final-Recipient: rfc822; x@gmail.com\r\n"
	    "Action: failed\r\n"
	    "Status: 5.7.26\r\n"
	    "Remote-MTA: dns; gmail-smtp-in.l.google.com\r\n"
	    "Diagnostic-Code: smtp; 550 5.7.26 Unauthenticated email - gsmtp\r\n"
	    "\r\n"
	    "--b--\r\n";
	parse(BOUNCE_FMT_DSN, dsn, m, &g);
	assert_int_equal(g.n, 1);
	assert_string_equal(g.ip[0], "198.51.100.7");
	assert_string_equal(g.src[0], "host_map");
	hostmap_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_postfix_order),
	    cmocka_unit_test(test_log_first),
	    cmocka_unit_test(test_dsn_reporting_mta),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
