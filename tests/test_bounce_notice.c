/*
 * test_bounce_notice: the message reader over fixtures/bounces/notices/ —
 * one fixture per notice layout (written by us from each format), each
 * asserting every event's recipient, class, reply code, enhanced code,
 * format and status, fed whole and in small chunks; the lenient RFC 3464
 * cases; complaints and auto-replies; the routing recogniser; and the
 * plain-text reader on notices built in the test (the reason before the
 * recipient list, wrapped replies, addresses that are not recipients).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "core/xalloc.h"
#include "ingest/bounce.h"
#include "ingest/bounce_text.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NDIR FIXTURES_DIR "/bounces/notices/"

struct want {
	const char *rcpt, *klass;
	int reply;
	const char *enh; /* NULL: none */
	const char *format;
	enum bounce_status status;
};

struct got {
	char *rcpt, *klass, *enh, *format, *text, *feedback, *sending_ip, *message_id;
	int reply;
	bool auto_reply;
	enum bounce_status status;
};

struct run {
	struct got ev[16];
	size_t n;
	struct bounce_stats st;
};

static char *dup0(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static int collect(void *ctx, const struct bounce_event *e, struct err *err)
{
	(void)err;
	struct run *r = ctx;
	assert_true(r->n < 16);
	struct bounce_verdict v;
	bounce_classify_event(NULL, NULL, e, &v);
	struct got *g = &r->ev[r->n++];
	g->rcpt = dup0(e->recipient);
	g->klass = dup0(v.klass);
	g->enh = dup0(e->enhanced_code);
	g->format = dup0(e->format);
	g->text = dup0(e->text);
	g->feedback = dup0(e->feedback_type);
	g->sending_ip = dup0(e->sending_ip);
	g->message_id = dup0(e->message_id);
	g->reply = e->reply_code;
	g->auto_reply = e->auto_reply;
	g->status = e->status;
	return 0;
}

static void run_free(struct run *r)
{
	for (size_t i = 0; i < r->n; i++) {
		struct got *g = &r->ev[i];
		free(g->rcpt);
		free(g->klass);
		free(g->enh);
		free(g->format);
		free(g->text);
		free(g->feedback);
		free(g->sending_ip);
		free(g->message_id);
	}
	free(r);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s", path);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *b = xmalloc((size_t)n + 1);
	assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
	b[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return b;
}

static struct run *parse_mem(const char *data)
{
	struct run *r = xcalloc(1, sizeof *r);
	struct bounce_parser *p = NULL;
	struct err e = {0};
	assert_int_equal(bounce_parser_new(&p, BOUNCE_FMT_AUTO, 0, collect, r, &e), 0);
	assert_int_equal(bounce_parser_feed(p, data, strlen(data), &e), 0);
	assert_int_equal(bounce_parser_finish(p, &e), 0);
	r->st = *bounce_parser_stats(p);
	bounce_parser_free(p);
	return r;
}

/* chunk 0: whole; otherwise fed `chunk` bytes at a time */
static struct run *parse(const char *name, size_t chunk)
{
	char path[512];
	snprintf(path, sizeof path, NDIR "%s", name);
	size_t len;
	char *data = slurp(path, &len);
	struct run *r = xcalloc(1, sizeof *r);
	struct bounce_parser *p = NULL;
	struct err e = {0};
	assert_int_equal(bounce_parser_new(&p, BOUNCE_FMT_AUTO, 0, collect, r, &e), 0);
	size_t step = chunk ? chunk : len;
	for (size_t off = 0; off < len; off += step)
		assert_int_equal(
		    bounce_parser_feed(p, data + off, len - off < step ? len - off : step, &e), 0);
	assert_int_equal(bounce_parser_finish(p, &e), 0);
	r->st = *bounce_parser_stats(p);
	bounce_parser_free(p);
	free(data);
	return r;
}

#define D  BOUNCE_DEFERRED
#define B  BOUNCE_BOUNCED
#define OK BOUNCE_DELIVERED

static const struct {
	const char *file;
	size_t n;
	struct want w[4];
} cases[] = {
    {"exim.eml",
     3,
     {{"alice@example.org", "invalid_recipient", 550, "5.1.1", "exim", B},
      {"bob@nowhere.example", "invalid_recipient", 0, NULL, "exim", B},
      {"carol@example.com", "auth_failure", 550, "5.7.1", "exim", B}}},
    {"exim_ru.eml", 1, {{"ivan@example.ru", "mailbox_issue", 552, "5.2.2", "exim", B}}},
    {"exim_de.eml",
     2,
     {{"j\xc3\xbcrgen@example.de", "auth_failure", 550, "5.7.26", "exim", B},
      {"jens@example.de", "auth_failure", 550, "5.7.26", "exim", B}}},
    {"qmail.eml",
     3,
     {{"dave@example.org", "invalid_recipient", 550, "5.1.1", "qmail", B},
      {"erin@example.net", "invalid_recipient", 0, "5.1.1", "qmail", B},
      {"frank@yahoo.com", "invalid_recipient", 554, NULL, "qmail", B}}},
    {"sendmail.eml",
     2,
     {{"gina@example.org", "invalid_recipient", 550, "5.1.1", "sendmail", B},
      {"hank@example.com", "blocklisted", 554, "5.7.1", "sendmail", B}}},
    {"sendmail_delay.eml", 1, {{"ivy@example.org", "deferred", 0, NULL, "sendmail", D}}},
    {"dma.eml", 1, {{"jack@example.org", "invalid_recipient", 550, "5.1.1", "dma", B}}},
    {"gmail_legacy.eml", 1, {{"kate@example.org", "content", 550, "5.7.1", "gmail", B}}},
    {"gmail_delay.eml", 1, {{"liam@example.net", "deferred", 0, NULL, "gmail", D}}},
    {"exchange.eml", 1, {{"mona@example.org", "invalid_recipient", 0, "5.1.1", "exchange", B}}},
    {"office365.eml",
     1,
     {{"nina@example.org", "invalid_recipient", 550, "5.1.10", "office365", B}}},
    {"domino.eml", 1, {{"oscar@example.org", "invalid_recipient", 0, NULL, "domino", B}}},
    {"courier.eml", 1, {{"pam@example.org", "mailbox_issue", 552, "5.2.2", "courier", B}}},
    {"opensmtpd.eml",
     2,
     {{"quinn@example.org", "invalid_recipient", 550, "5.1.1", "opensmtpd", B},
      {"rita@example.org", "deferred", 421, "4.7.0", "opensmtpd", B}}},
    {"imail.eml", 1, {{"sam@example.org", "invalid_recipient", 0, NULL, "imail", B}}},
    {"zoho.eml", 1, {{"tina@example.org", "invalid_recipient", 550, "5.1.1", "zoho", B}}},
    {"oneliner.eml", 1, {{"uma@vtext.example.net", "invalid_recipient", 550, "5.1.1", "text", B}}},
    {"gateway.eml",
     2,
     {{"vera@example.org", "auth_failure", 550, "5.7.1", "gateway", B},
      {"walt@example.org", "auth_failure", 550, "5.7.1", "gateway", B}}},
    {"carrier_jp.eml",
     1,
     {{"xavier@example.jp", "invalid_recipient", 550, "5.1.1", "carrier-jp", B}}},
    {"ses_bounce.eml",
     2,
     {{"yara@example.org", "invalid_recipient", 550, "5.1.1", "ses", B},
      {"zack@example.org", "mailbox_issue", 552, "5.2.2", "ses", B}}},
    {"ses_delivery.eml", 1, {{"abby@example.org", "accepted", 250, "2.6.0", "ses", OK}}},
    {"arf.eml", 1, {{"brad@isp.example.net", "complaint", 0, NULL, "arf", OK}}},
    {"autoreply.eml", 1, {{"clara@example.org", "accepted", 0, NULL, "auto_reply", OK}}},
    {"dsn_forwarded.eml", 1, {{"dora@example.org", "invalid_recipient", 550, "5.1.1", "dsn", B}}},
    {"dsn_broken.eml",
     2,
     {{"eric@example.org", "deferred", 0, "4.4.7", "dsn-lenient", D},
      {"fay@example.org", "unknown", 0, "5.0.0", "dsn-lenient", B}}},
    {"dsn_x000.eml", 1, {{"gus@example.org", "invalid_recipient", 550, "5.1.1", "dsn", B}}},
};

static void check(const char *file, const struct run *r, size_t n, const struct want *w)
{
	if (r->n != n)
		fail_msg("%s: %zu events, want %zu", file, r->n, n);
	assert_int_equal(r->st.malformed, 0);
	for (size_t i = 0; i < n; i++) {
		const struct got *g = &r->ev[i];
		if (strcmp(g->rcpt, w[i].rcpt) != 0 || strcmp(g->klass, w[i].klass) != 0 ||
		    g->reply != w[i].reply || strcmp(g->format, w[i].format) != 0 ||
		    g->status != w[i].status ||
		    (w[i].enh ? !g->enh || strcmp(g->enh, w[i].enh) != 0 : g->enh != NULL))
			fail_msg(
			    "%s event %zu: got %s %s %d %s %s status %d (text: %s), want %s %s "
			    "%d %s %s status %d",
			    file, i, g->rcpt, g->klass, g->reply, g->enh ? g->enh : "-", g->format,
			    (int)g->status, g->text ? g->text : "", w[i].rcpt, w[i].klass,
			    w[i].reply, w[i].enh ? w[i].enh : "-", w[i].format, (int)w[i].status);
	}
}

static void test_layouts(void **state)
{
	(void)state;
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		for (size_t chunk = 0; chunk <= 7; chunk += 7) {
			struct run *r = parse(cases[k].file, chunk);
			check(cases[k].file, r, cases[k].n, cases[k].w);
			run_free(r);
		}
	}
}

/* The reason is the recipient's own, not the notice's boilerplate. */
static void test_texts(void **state)
{
	(void)state;
	struct run *r = parse("exim.eml", 0);
	/* continuation lines joined, their repeated codes dropped */
	assert_string_equal(r->ev[0].text,
	                    "550 5.1.1 The email account that you tried to reach does not exist. "
	                    "Please try double-checking the recipient's email address for typos or "
	                    "unnecessary spaces. a1si123 - gsmtp");
	assert_string_equal(r->ev[1].text, "Unrouteable address");
	run_free(r);
	r = parse("gmail_delay.eml", 0);
	assert_non_null(strstr(r->ev[0].text, "did not accept our requests to connect"));
	assert_null(strstr(r->ev[0].text, "retried")); /* the boilerplate sets the status only */
	run_free(r);
	r = parse("sendmail.eml", 0);
	assert_string_equal(r->ev[0].text, "550 5.1.1 <gina@example.org>... User unknown");
	run_free(r);
	r = parse("domino.eml", 0);
	assert_string_equal(r->ev[0].text,
	                    "User oscar (oscar@example.org) not listed in Domino Directory");
	run_free(r);
}

static void test_complaint_and_autoreply(void **state)
{
	(void)state;
	struct run *r = parse("arf.eml", 0);
	assert_string_equal(r->ev[0].feedback, "abuse");
	assert_string_equal(r->ev[0].sending_ip, "198.51.100.7");
	assert_string_equal(r->ev[0].message_id, "offer-arf@example.com");
	run_free(r);
	r = parse("autoreply.eml", 0);
	assert_true(r->ev[0].auto_reply);
	assert_null(r->ev[0].feedback);
	run_free(r);
}

static void test_mail_kind(void **state)
{
	(void)state;
	static const struct {
		const char *file;
		enum bounce_mail_kind kind;
	} k[] = {
	    {"exim.eml", BOUNCE_MAIL_NOTICE},          {"dsn_x000.eml", BOUNCE_MAIL_DSN},
	    {"dsn_broken.eml", BOUNCE_MAIL_DSN},       {"arf.eml", BOUNCE_MAIL_COMPLAINT},
	    {"autoreply.eml", BOUNCE_MAIL_AUTO_REPLY}, {"ses_bounce.eml", BOUNCE_MAIL_SES},
	};
	for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
		char path[512];
		size_t len;
		snprintf(path, sizeof path, NDIR "%s", k[i].file);
		char *data = slurp(path, &len);
		if (bounce_mail_kind(data, len) != k[i].kind)
			fail_msg("%s: kind %d, want %d", k[i].file,
			         (int)bounce_mail_kind(data, len), (int)k[i].kind);
		free(data);
	}
	const char plain[] =
	    "From: a@example.org\nTo: b@example.org\nSubject: lunch?\n\nAt noon?\n";
	assert_int_equal(bounce_mail_kind(plain, sizeof plain - 1), BOUNCE_MAIL_NONE);
	/* a DMARC failure report is not a complaint */
	const char ruf[] = "From: r@example.net\nTo: ruf@example.com\nSubject: report\n"
	                   "MIME-Version: 1.0\nContent-Type: multipart/report; "
	                   "report-type=feedback-report; boundary=\"b\"\n\n--b\n"
	                   "Content-Type: message/feedback-report\n\nFeedback-Type: auth-failure\n"
	                   "Version: 1\nOriginal-Rcpt-To: x@example.net\n\n--b--\n";
	assert_int_equal(bounce_mail_kind(ruf, sizeof ruf - 1), BOUNCE_MAIL_NONE);
}

static size_t read_text(const char *text, struct btext *bt)
{
	static const char *const skip[] = {"news@example.com", NULL};
	return btext_read(text, strlen(text), NULL, skip, bt);
}

/* The reader on notices no fixture has: it reads the layout, not a text. */
static void test_reader_generality(void **state)
{
	(void)state;
	struct btext bt;
	/* the reason before the list: both recipients take it */
	assert_int_equal(read_text("Delivery failed.\nReason: 550 5.7.1 rejected by policy\n\n"
	                           "Failed recipients:\n  one@example.org\n  two@example.org\n",
	                           &bt),
	                 2);
	assert_string_equal(bt.r[1].addr, "two@example.org");
	assert_int_equal(bt.r[0].reply_code, 550);
	assert_string_equal(bt.r[1].enhanced, "5.7.1");
	btext_free(&bt);
	/* the sender, a help address and a URL are not recipients */
	assert_int_equal(read_text("Your message from news@example.com to\n"
	                           "  three@example.org\ncould not be delivered:\n"
	                           "  Remote host said: 552 5.2.2 mailbox over quota\n"
	                           "Questions? Write to postmaster@example.net or see "
	                           "https://example.net/help?u=x@example.net\n",
	                           &bt),
	                 1);
	assert_string_equal(bt.r[0].addr, "three@example.org");
	assert_int_equal(bt.r[0].reply_code, 552);
	btext_free(&bt);
	/* a long reply wrapped onto an indented line is joined */
	assert_int_equal(
	    read_text("<four@example.org>:\n    550 5.7.1 Message rejected because the "
	              "sending IP address is listed on a\n    local blocklist of this "
	              "server\n",
	              &bt),
	    1);
	assert_non_null(strstr(bt.r[0].text, "listed on a local blocklist"));
	btext_free(&bt);
	/* the returned message's headers are not read as the notice */
	assert_int_equal(read_text("Undeliverable to five@example.org: 550 5.1.1 no such user\n\n"
	                           "Received: from x\nReturn-Path: <news@example.com>\n"
	                           "To: six@example.org\n",
	                           &bt),
	                 1);
	btext_free(&bt);
	/* nothing to read */
	assert_int_equal(read_text("", &bt), 0);
	btext_free(&bt);
	assert_true(btext_is_notice("x", 1, "Undelivered Mail Returned to Sender", NULL));
	assert_true(btext_is_notice("x", 1, NULL, "MAILER-DAEMON@example.net"));
	assert_false(btext_is_notice("Lunch at noon?", 14, "Re: lunch", "a@example.org"));
}

/* Mail without MIME headers is still mail; the MTA's X-Failed-Recipients
 * names the recipient the text does not. */
static void test_bare_mail(void **state)
{
	(void)state;
	struct run *r = parse_mem("From: MAILER-DAEMON@mx.example.net\nSubject: failure notice\n\n"
	                          "<a@example.org>:\nRemote host said: 550 5.1.1 no such user\n");
	assert_int_equal(r->st.format, BOUNCE_FMT_DSN);
	assert_int_equal(r->n, 1);
	assert_string_equal(r->ev[0].rcpt, "a@example.org");
	assert_string_equal(r->ev[0].klass, "invalid_recipient");
	run_free(r);
	r = parse_mem("From: MAILER-DAEMON@mx.example.net\nTo: news@example.com\n"
	              "Subject: failure notice\nX-Failed-Recipients: lost@example.org\n\n"
	              "Something went wrong with your message.\n");
	assert_int_equal(r->n, 1);
	assert_string_equal(r->ev[0].rcpt, "lost@example.org");
	assert_int_equal(r->ev[0].status, BOUNCE_BOUNCED);
	assert_int_equal(r->st.malformed, 0);
	run_free(r);
	/* a message that is no bounce at all says so */
	r = parse_mem("From: a@example.org\nTo: b@example.org\nSubject: lunch\n\nAt noon?\n");
	assert_int_equal(r->n, 0);
	assert_int_equal(r->st.malformed, 1);
	assert_string_equal(r->st.reasons[0].reason,
	                    "mail: no delivery status, complaint or auto-reply");
	run_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_layouts),
	    cmocka_unit_test(test_texts),
	    cmocka_unit_test(test_complaint_and_autoreply),
	    cmocka_unit_test(test_mail_kind),
	    cmocka_unit_test(test_reader_generality),
	    cmocka_unit_test(test_bare_mail),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
