/*
 * test_bounce_parse: each bounce parser over the fixtures in
 * fixtures/bounces/ — exact event counts, the fields of specific events,
 * skipped and malformed counts — fed whole and in small chunks, plus format
 * detection.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "core/bclass.h"
#include "core/buf.h"
#include "core/xalloc.h"
#include "ingest/bounce.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 2026-11-23T12:00:00Z: the reference time for classic syslog years */
#define REF 1795435200

struct ev {
	int64_t at;
	enum bounce_status status;
	char *source, *sending_ip, *mail_from, *mail_from_domain, *header_from_domain;
	char *recipient, *recipient_domain, *remote_mta, *remote_ip, *enhanced_code, *text;
	char *queue_id, *message_id, *campaign;
	int reply_code;
};

struct run {
	struct ev ev[64];
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
	assert_true(r->n < 64);
	struct ev *x = &r->ev[r->n++];
	x->at = e->at;
	x->status = e->status;
	x->source = dup0(e->source);
	x->sending_ip = dup0(e->sending_ip);
	x->mail_from = dup0(e->mail_from);
	x->mail_from_domain = dup0(e->mail_from_domain);
	x->header_from_domain = dup0(e->header_from_domain);
	x->recipient = dup0(e->recipient);
	x->recipient_domain = dup0(e->recipient_domain);
	x->remote_mta = dup0(e->remote_mta);
	x->remote_ip = dup0(e->remote_ip);
	x->enhanced_code = dup0(e->enhanced_code);
	x->text = dup0(e->text);
	x->queue_id = dup0(e->queue_id);
	x->message_id = dup0(e->message_id);
	x->campaign = dup0(e->campaign);
	x->reply_code = e->reply_code;
	return 0;
}

static void run_free(struct run *r)
{
	for (size_t i = 0; i < r->n; i++) {
		struct ev *x = &r->ev[i];
		char *f[] = {x->source,
		             x->sending_ip,
		             x->mail_from,
		             x->mail_from_domain,
		             x->header_from_domain,
		             x->recipient,
		             x->recipient_domain,
		             x->remote_mta,
		             x->remote_ip,
		             x->enhanced_code,
		             x->text,
		             x->queue_id,
		             x->message_id,
		             x->campaign};
		for (size_t k = 0; k < sizeof f / sizeof f[0]; k++)
			free(f[k]);
	}
	free(r);
}

static char *slurp(const char *name, size_t *len)
{
	char path[512];
	snprintf(path, sizeof path, "%s/bounces/%s", FIXTURES_DIR, name);
	FILE *f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s", path);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *b = xmalloc((size_t)n + 1);
	assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	b[n] = '\0';
	*len = (size_t)n;
	return b;
}

/* Parses a fixture, fed in chunks of `chunk` bytes (0 = all at once). */
static struct run *parse(const char *name, enum bounce_format fmt, size_t chunk)
{
	size_t len;
	char *data = slurp(name, &len);
	struct run *r = xcalloc(1, sizeof *r);
	struct bounce_parser *p = NULL;
	struct err e = {0};
	assert_int_equal(bounce_parser_new(&p, fmt, REF, collect, r, &e), 0);
	if (chunk == 0)
		chunk = len ? len : 1;
	for (size_t off = 0; off < len; off += chunk) {
		size_t n = len - off < chunk ? len - off : chunk;
		assert_int_equal(bounce_parser_feed(p, data + off, n, &e), 0);
	}
	assert_int_equal(bounce_parser_finish(p, &e), 0);
	r->st = *bounce_parser_stats(p);
	bounce_parser_free(p);
	free(data);
	return r;
}

static const struct ev *by_rcpt(const struct run *r, const char *rcpt, int nth)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->ev[i].recipient && strcmp(r->ev[i].recipient, rcpt) == 0 && nth-- == 0)
			return &r->ev[i];
	fail_msg("no event %d for %s", nth, rcpt);
	return NULL;
}

static uint64_t reason(const struct run *r, const char *why)
{
	for (size_t i = 0; i < r->st.nreasons; i++)
		if (strcmp(r->st.reasons[i].reason, why) == 0)
			return r->st.reasons[i].count;
	return 0;
}

static const char *klass(const struct ev *x)
{
	struct bounce_event e = {0};
	e.status = x->status;
	e.reply_code = x->reply_code;
	e.enhanced_code = x->enhanced_code;
	e.text = x->text;
	e.recipient_domain = x->recipient_domain;
	e.remote_mta = x->remote_mta;
	struct bounce_verdict v;
	bounce_classify_event(NULL, NULL, &e, &v);
	return v.klass;
}

static void check_postfix(struct run *r)
{
	assert_int_equal(r->st.format, BOUNCE_FMT_POSTFIX);
	assert_int_equal(r->n, 13);
	assert_int_equal(r->st.events, 13);
	assert_int_equal(r->st.lines, 34);
	assert_int_equal(r->st.malformed, 4);
	assert_int_equal(r->st.skipped, 34 - 13 - 4);
	assert_int_equal(reason(r, "postfix: unterminated to=<"), 1);
	assert_int_equal(reason(r, "postfix: delivery line without status="), 1);
	assert_int_equal(reason(r, "postfix: bad timestamp"), 1);
	assert_int_equal(reason(r, "postfix: unknown status"), 1);

	const struct ev *a = by_rcpt(r, "alice@gmail.com", 0);
	assert_int_equal(a->status, BOUNCE_DELIVERED);
	assert_int_equal(a->reply_code, 250);
	assert_string_equal(a->mail_from, "bounces+123@example.org");

	/* joined with qmgr (from) and cleanup (message-id) of the same queue id */
	const struct ev *b = by_rcpt(r, "bob@gmail.com", 0);
	assert_int_equal(b->status, BOUNCE_BOUNCED);
	assert_int_equal(b->at, 1795398723); /* Nov 23 01:52:03 2026 UTC */
	assert_string_equal(b->source, "postfix");
	assert_string_equal(b->queue_id, "4HqA1b2C3d");
	assert_string_equal(b->mail_from, "bounces+123@example.org");
	assert_string_equal(b->mail_from_domain, "example.org");
	assert_string_equal(b->message_id, "20261123015201.A1@example.org");
	assert_string_equal(b->recipient_domain, "gmail.com");
	assert_string_equal(b->remote_mta, "gmail-smtp-in.l.google.com");
	assert_string_equal(b->remote_ip, "142.250.27.26");
	assert_int_equal(b->reply_code, 550);
	assert_string_equal(b->enhanced_code, "5.7.26");
	/* the continuation codes are gone, the text is whole, the
	 * "(in reply to ...)" trailer is not part of the reply */
	assert_non_null(strstr(b->text, "550 5.7.26 This email has been blocked"));
	assert_non_null(strstr(b->text, "unauthenticated. Gmail requires"));
	assert_null(strstr(b->text, "550-5.7.26"));
	assert_null(strstr(b->text, "in reply to"));
	assert_string_equal(klass(b), "auth_failure");

	/* multi-attempt: two deferrals then a delivery, in order */
	const struct ev *c0 = by_rcpt(r, "carol@outlook.com", 0);
	const struct ev *c1 = by_rcpt(r, "carol@outlook.com", 1);
	const struct ev *c2 = by_rcpt(r, "carol@outlook.com", 2);
	assert_int_equal(c0->status, BOUNCE_DEFERRED);
	assert_int_equal(c1->status, BOUNCE_DEFERRED);
	assert_int_equal(c2->status, BOUNCE_DELIVERED);
	assert_string_equal(c0->enhanced_code, "4.7.650");
	assert_string_equal(c1->remote_ip, "52.101.10.2");
	assert_string_equal(c2->message_id, "news-77@example.org");
	assert_string_equal(klass(c0), "reputation");
	assert_string_equal(klass(c2), "accepted");

	/* no qmgr line seen: no sender, still an event */
	const struct ev *d = by_rcpt(r, "dave@yahoo.com", 0);
	assert_null(d->mail_from);
	assert_string_equal(klass(d), "reputation");

	/* a connection failure: no reply code, the text kept, relay=none */
	const struct ev *er = by_rcpt(r, "erin@corp.example", 0);
	assert_int_equal(er->reply_code, 0);
	assert_null(er->remote_mta);
	assert_string_equal(er->enhanced_code, "4.4.1");
	assert_non_null(strstr(er->text, "Connection timed out"));
	assert_string_equal(klass(er), "deferred");

	/* a Latin-1 byte in the reply comes out as UTF-8 */
	const struct ev *f = by_rcpt(r, "frank@corp.example", 0);
	assert_non_null(strstr(f->text, "refus\xc3\xa9"
	                                "e"));
	assert_string_equal(klass(f), "invalid_recipient");

	/* Dec 31 seen on Nov 23: last year's */
	const struct ev *k = by_rcpt(r, "kim@icloud.com", 0);
	assert_int_equal(k->at, 1767225598); /* 2025-12-31T23:59:58Z */
	assert_string_equal(klass(k), "policy");

	/* ISO timestamps (with zone), lmtp */
	const struct ev *l = by_rcpt(r, "leo@example.org", 0);
	assert_int_equal(l->at, 1795410601); /* 2026-11-23T05:10:01Z */
	assert_string_equal(l->message_id, "iso-1@example.org");
	assert_string_equal(l->remote_ip, "private/dovecot-lmtp");
	const struct ev *m = by_rcpt(r, "mia@comcast.net", 0);
	assert_int_equal(m->at, 1795410601); /* 06:10:01.5+01:00 */
	assert_string_equal(m->mail_from, "ops@example.org");
	struct bounce_event me = {.status = m->status,
	                          .reply_code = m->reply_code,
	                          .enhanced_code = m->enhanced_code,
	                          .text = m->text,
	                          .recipient_domain = m->recipient_domain,
	                          .remote_mta = m->remote_mta};
	struct bounce_verdict v;
	assert_string_equal(bounce_classify_event(NULL, NULL, &me, &v), "comcast");
	assert_string_equal(v.klass, "blocklisted");
	assert_string_equal(v.listed_on, "Spamhaus ZEN");

	/* RFC 5424 */
	const struct ev *n = by_rcpt(r, "noah@web.de", 0);
	assert_int_equal(n->at, 1795411200); /* 2026-11-23T05:20:00Z */
	assert_string_equal(klass(n), "blocklisted");

	/* another postfix instance (postfix-out/smtp) */
	const struct ev *o = by_rcpt(r, "olga@corp2.example", 0);
	assert_string_equal(o->enhanced_code, "5.7.606");
	assert_string_equal(klass(o), "blocklisted");
}

static void test_postfix(void **state)
{
	(void)state;
	struct run *r = parse("postfix.log", BOUNCE_FMT_POSTFIX, 0);
	check_postfix(r);
	run_free(r);
	/* fed 7 bytes at a time, format detected: the same result */
	r = parse("postfix.log", BOUNCE_FMT_AUTO, 7);
	check_postfix(r);
	run_free(r);
}

static void check_exim(struct run *r)
{
	assert_int_equal(r->st.format, BOUNCE_FMT_EXIM);
	assert_int_equal(r->n, 10);
	assert_int_equal(r->st.lines, 18);
	assert_int_equal(r->st.malformed, 1);
	assert_int_equal(reason(r, "exim: recipient without @"), 1);
	assert_int_equal(r->st.skipped, 7);

	const struct ev *p = by_rcpt(r, "pat@gmail.com", 0);
	assert_int_equal(p->status, BOUNCE_DELIVERED);
	assert_int_equal(p->reply_code, 250);
	assert_string_equal(p->sending_ip, "198.51.100.30");
	assert_string_equal(p->mail_from, "news@example.net");
	assert_string_equal(p->message_id, "20261123010005.77@example.net");

	const struct ev *q = by_rcpt(r, "quinn@gmail.com", 0);
	assert_int_equal(q->status, BOUNCE_BOUNCED);
	assert_int_equal(q->at, 1795395607); /* 2026-11-23 01:00:07 */
	assert_string_equal(q->source, "exim");
	assert_string_equal(q->queue_id, "1vBcDe-000AbC-Xy");
	assert_string_equal(q->remote_mta, "gmail-smtp-in.l.google.com");
	assert_string_equal(q->remote_ip, "142.250.27.27");
	assert_int_equal(q->reply_code, 550);
	assert_string_equal(q->enhanced_code, "5.7.26");
	assert_null(strstr(q->text, "550-5.7.26"));
	assert_non_null(strstr(q->text, "DMARC policy"));
	assert_string_equal(klass(q), "auth_failure");

	const struct ev *r0 = by_rcpt(r, "rita@corp.example", 0);
	const struct ev *r1 = by_rcpt(r, "rita@corp.example", 1);
	const struct ev *r2 = by_rcpt(r, "rita@corp.example", 2);
	assert_int_equal(r0->status, BOUNCE_DEFERRED);
	assert_int_equal(r0->reply_code, 451);
	assert_string_equal(klass(r0), "deferred");
	assert_int_equal(r1->status, BOUNCE_DEFERRED);
	assert_string_equal(r1->text, "Connection refused");
	assert_int_equal(r2->status, BOUNCE_DELIVERED);
	assert_int_equal(r2->at, 1795395608); /* 02:00:08 +0100 */

	const struct ev *s = by_rcpt(r, "steve@nowhere.example", 0);
	assert_string_equal(s->text, "Unrouteable address");
	assert_int_equal(s->reply_code, 0); /* no code at all: the text decides */
	assert_string_equal(klass(s), "invalid_recipient");
	assert_null(s->mail_from); /* the null sender of a bounce */

	const struct ev *t = by_rcpt(r, "tina@aol.com", 0);
	assert_int_equal(t->reply_code, 554);
	assert_string_equal(klass(t), "mailbox_issue");

	const struct ev *v = by_rcpt(r, "victor@web.de", 0);
	assert_non_null(strstr(v->text, "F\xc3\xbcr Erkl\xc3\xa4rung"));
	assert_string_equal(klass(v), "reputation");

	const struct ev *x = by_rcpt(r, "xena@outlook.com", 0);
	assert_string_equal(x->queue_id, "1vBcDl-00000000Ab6-Mnop");
	assert_string_equal(klass(x), "blocklisted");
}

static void test_exim(void **state)
{
	(void)state;
	struct run *r = parse("exim_main.log", BOUNCE_FMT_EXIM, 0);
	check_exim(r);
	run_free(r);
	r = parse("exim_main.log", BOUNCE_FMT_AUTO, 5);
	check_exim(r);
	run_free(r);
}

static void test_dsn(void **state)
{
	(void)state;
	struct run *r = parse("dsn_postfix_headers.eml", BOUNCE_FMT_AUTO, 0);
	assert_int_equal(r->st.format, BOUNCE_FMT_DSN);
	assert_int_equal(r->n, 1);
	assert_int_equal(r->st.malformed, 0);
	const struct ev *b = &r->ev[0];
	assert_string_equal(b->source, "dsn");
	assert_string_equal(b->recipient, "bob@gmail.com");
	assert_int_equal(b->status, BOUNCE_BOUNCED);
	assert_string_equal(b->enhanced_code, "5.7.26");
	assert_int_equal(b->reply_code, 550);
	assert_string_equal(b->remote_mta, "gmail-smtp-in.l.google.com");
	assert_string_equal(b->mail_from, "bounces+123@example.org");
	assert_string_equal(b->header_from_domain, "news.example.org");
	assert_string_equal(b->message_id, "20261123015201.A1@example.org");
	assert_int_equal(b->at, 1795398721); /* Arrival-Date 01:52:01 */
	assert_non_null(strstr(b->text, "Gmail requires all senders"));
	assert_null(strstr(b->text, "550-5.7.26"));
	assert_string_equal(klass(b), "auth_failure");
	run_free(r);

	r = parse("dsn_multi.eml", BOUNCE_FMT_DSN, 100);
	assert_int_equal(r->n, 3);
	assert_int_equal(r->st.malformed, 0);
	const struct ev *g = by_rcpt(r, "ghost@corp.example", 0);
	assert_int_equal(g->status, BOUNCE_BOUNCED);
	assert_int_equal(g->at, 1795507260); /* 2026-11-24T09:01:00+01:00 */
	assert_string_equal(g->header_from_domain, "mail.shop.example");
	assert_string_equal(g->message_id, "bf-2026-1@mail.shop.example");
	assert_string_equal(g->mail_from, "campaigns@shop.example");
	assert_string_equal(klass(g), "invalid_recipient");
	const struct ev *y = by_rcpt(r, "busy@yahoo.com", 0);
	assert_int_equal(y->status, BOUNCE_DEFERRED);
	assert_int_equal(y->reply_code, 421);
	assert_string_equal(klass(y), "reputation");
	const struct ev *l = by_rcpt(r, "listed@corp3.example", 0);
	assert_int_equal(l->at, 1795507200); /* no Last-Attempt-Date: Arrival-Date */
	assert_string_equal(klass(l), "blocklisted");
	run_free(r);

	/* truncated inside the second recipient: the first survives */
	r = parse("dsn_truncated.eml", BOUNCE_FMT_DSN, 0);
	assert_int_equal(r->n, 1);
	assert_string_equal(r->ev[0].recipient, "first@partner.example");
	assert_int_equal(r->ev[0].reply_code, 552);
	assert_string_equal(klass(&r->ev[0]), "mailbox_issue");
	assert_int_equal(r->st.malformed, 1);
	assert_int_equal(reason(r, "dsn: recipient without Action or Status"), 1);
	run_free(r);

	r = parse("dsn_not_a_report.eml", BOUNCE_FMT_DSN, 0);
	assert_int_equal(r->n, 0);
	assert_int_equal(reason(r, "mail: no delivery status, complaint or auto-reply"), 1);
	run_free(r);
}

static void check_csv(struct run *r)
{
	assert_int_equal(r->st.format, BOUNCE_FMT_CSV);
	assert_int_equal(r->n, 6);
	assert_int_equal(r->st.lines, 11);
	assert_int_equal(r->st.malformed, 3);
	assert_int_equal(reason(r, "csv: bad timestamp"), 1);
	assert_int_equal(reason(r, "csv: no recipient address"), 1);
	assert_int_equal(reason(r, "csv: field count differs from header"), 1);
	assert_int_equal(r->st.skipped, 2);
	const struct ev *a = by_rcpt(r, "ann@gmail.com", 0);
	assert_string_equal(a->source, "csv");
	assert_int_equal(a->at, 1795420800);
	assert_string_equal(a->campaign, "nov-promo");
	assert_string_equal(a->sending_ip, "198.51.100.50");
	assert_string_equal(a->mail_from_domain, "esp.shop.example");
	assert_int_equal(a->reply_code, 550);
	assert_string_equal(a->enhanced_code, "5.7.26");
	assert_int_equal(a->status, BOUNCE_BOUNCED);
	assert_string_equal(klass(a), "auth_failure");
	assert_string_equal(klass(by_rcpt(r, "ben@outlook.com", 0)), "blocklisted");
	const struct ev *c = by_rcpt(r, "cat@yahoo.com", 0);
	assert_int_equal(c->at, 1795420802);
	assert_int_equal(c->status, BOUNCE_DEFERRED);
	const struct ev *d = by_rcpt(r, "dan@corp.example", 0);
	assert_non_null(strstr(d->text, "says \"no\""));
	assert_non_null(strstr(d->text, "spans two lines"));
	assert_null(strstr(d->text, "550-5.7.1"));
	const struct ev *e = by_rcpt(r, "eve@icloud.com", 0);
	assert_int_equal(e->status, BOUNCE_DELIVERED);
	assert_string_equal(klass(by_rcpt(r, "hal@web.de", 0)), "mailbox_issue");
}

static void test_csv(void **state)
{
	(void)state;
	struct run *r = parse("esp_export.csv", BOUNCE_FMT_CSV, 0);
	check_csv(r);
	run_free(r);
	r = parse("esp_export.csv", BOUNCE_FMT_AUTO, 3);
	check_csv(r);
	run_free(r);
}

static int fail_cb(void *ctx, const struct bounce_event *ev, struct err *e)
{
	(void)ctx;
	(void)ev;
	return err_set(e, ERR_RETRY, "store went away");
}

static void test_callback_failure_and_limits(void **state)
{
	(void)state;
	/* the callback's failure stops the run and comes back */
	struct bounce_parser *p = NULL;
	struct err e = {0};
	assert_int_equal(bounce_parser_new(&p, BOUNCE_FMT_POSTFIX, REF, fail_cb, NULL, &e), 0);
	const char *line = "Nov 23 01:52:03 mail postfix/smtp[1]: ABCDE12345: to=<a@b.example>, "
	                   "relay=none, dsn=4.4.1, status=deferred (connect failed)\n";
	assert_int_equal(bounce_parser_feed(p, line, strlen(line), &e), -1);
	assert_int_equal(e.kind, ERR_RETRY);
	bounce_parser_free(p);

	/* an endless line is counted once and dropped, the next one parsed */
	struct run *r = xcalloc(1, sizeof *r);
	p = NULL;
	err_clear(&e);
	assert_int_equal(bounce_parser_new(&p, BOUNCE_FMT_POSTFIX, REF, collect, r, &e), 0);
	char *big = xmalloc(200000);
	memset(big, 'x', 200000);
	assert_int_equal(bounce_parser_feed(p, big, 200000, &e), 0);
	assert_int_equal(bounce_parser_feed(p, "\n", 1, &e), 0);
	assert_int_equal(bounce_parser_feed(p, line, strlen(line), &e), 0);
	assert_int_equal(bounce_parser_finish(p, &e), 0);
	const struct bounce_stats *st = bounce_parser_stats(p);
	assert_int_equal(st->malformed, 1);
	assert_string_equal(st->reasons[0].reason, "line too long");
	assert_int_equal(st->events, 1);
	assert_int_equal(r->n, 1);
	bounce_parser_free(p);
	free(big);
	run_free(r);
}

static struct run *parse_mem(const char *data, size_t len, enum bounce_format fmt)
{
	struct run *r = xcalloc(1, sizeof *r);
	struct bounce_parser *p = NULL;
	struct err e = {0};
	assert_int_equal(bounce_parser_new(&p, fmt, REF, collect, r, &e), 0);
	assert_int_equal(bounce_parser_feed(p, data, len, &e), 0);
	assert_int_equal(bounce_parser_finish(p, &e), 0);
	r->st = *bounce_parser_stats(p);
	bounce_parser_free(p);
	return r;
}

static void test_queue_state_bounds(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 0);
	/* Postfix: 50001 queue ids, the first one is evicted; "removed" drops */
	for (int i = 0; i <= 50000; i++)
		buf_printf(&b,
		           "Nov 23 01:00:00 h postfix/qmgr[1]: Q%08d: from=<s%d@x.example>, "
		           "size=1, nrcpt=1 (queue active)\n",
		           i, i);
	buf_printf(&b, "Nov 23 01:00:01 h postfix/qmgr[1]: Q%08d: removed\n", 49999);
	for (int i = 0; i <= 50000; i += 49999)
		buf_printf(&b,
		           "Nov 23 01:00:02 h postfix/smtp[2]: Q%08d: to=<r%d@y.example>, "
		           "relay=none, dsn=4.4.1, status=deferred (connect failed)\n",
		           i, i);
	buf_printf(&b,
	           "Nov 23 01:00:02 h postfix/smtp[2]: Q%08d: to=<r%d@y.example>, "
	           "relay=none, dsn=4.4.1, status=deferred (connect failed)\n",
	           50000, 50000);
	struct run *r = parse_mem(b.data, b.len, BOUNCE_FMT_POSTFIX);
	assert_int_equal(r->n, 3);
	assert_null(by_rcpt(r, "r0@y.example", 0)->mail_from);     /* evicted */
	assert_null(by_rcpt(r, "r49999@y.example", 0)->mail_from); /* removed */
	assert_string_equal(by_rcpt(r, "r50000@y.example", 0)->mail_from, "s50000@x.example");
	run_free(r);

	/* Exim: 600 arrivals before their deliveries, all still joined */
	buf_reset(&b);
	for (int i = 0; i < 600; i++)
		buf_printf(&b,
		           "2026-11-23 01:00:00 1vAAAA-%06d-AA <= s%d@x.example P=esmtp S=1 "
		           "id=m%d@x.example\n",
		           i, i, i);
	for (int i = 0; i < 600; i += 599)
		buf_printf(&b,
		           "2026-11-23 01:00:01 1vAAAA-%06d-AA ** r%d@y.example: Unrouteable "
		           "address\n",
		           i, i);
	r = parse_mem(b.data, b.len, BOUNCE_FMT_EXIM);
	assert_int_equal(r->n, 2);
	assert_string_equal(by_rcpt(r, "r0@y.example", 0)->mail_from, "s0@x.example");
	assert_string_equal(by_rcpt(r, "r599@y.example", 0)->message_id, "m599@x.example");
	run_free(r);
	buf_free(&b);
}

static void test_detect(void **state)
{
	(void)state;
	const char *names[] = {"postfix.log", "exim_main.log", "dsn_multi.eml", "esp_export.csv"};
	enum bounce_format want[] = {BOUNCE_FMT_POSTFIX, BOUNCE_FMT_EXIM, BOUNCE_FMT_DSN,
	                             BOUNCE_FMT_CSV};
	for (size_t i = 0; i < 4; i++) {
		size_t len;
		char *d = slurp(names[i], &len);
		assert_int_equal(bounce_detect(d, len), want[i]);
		free(d);
	}
	assert_int_equal(bounce_detect("hello\nworld\n", 12), BOUNCE_FMT_AUTO);
	enum bounce_format f;
	assert_int_equal(bounce_format_parse("exim", &f), 0);
	assert_int_equal(f, BOUNCE_FMT_EXIM);
	assert_int_equal(bounce_format_parse("sendmail", &f), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_postfix),
	    cmocka_unit_test(test_exim),
	    cmocka_unit_test(test_dsn),
	    cmocka_unit_test(test_csv),
	    cmocka_unit_test(test_callback_failure_and_limits),
	    cmocka_unit_test(test_queue_state_bounds),
	    cmocka_unit_test(test_detect),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
