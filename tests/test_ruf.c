/*
 * Tests for ingest/ruf (failure reports in both layouts, body kept only on
 * request, local parts hashed on request), ingest/redact, and ingest/route
 * (each kind a rua=/ruf= mailbox receives, told apart by content).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "ingest/mime.h"
#include "ingest/redact.h"
#include "ingest/route.h"
#include "ingest/ruf.h"

#include "core/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *slurp(const char *rel, size_t *len)
{
	char path[1024];
	snprintf(path, sizeof path, "%s/%s", FIXTURES_DIR, rel);
	FILE *f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s", path);
	struct buf b;
	buf_init(&b, 0);
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		buf_append(&b, chunk, n);
	fclose(f);
	*len = b.len;
	return buf_steal(&b);
}

static struct ruf_report *parse(const char *rel, bool keep_body, bool redact)
{
	size_t len;
	char *data = slurp(rel, &len);
	struct ruf_options o = {.keep_body = keep_body, .redact = redact};
	struct ruf_report *r = NULL;
	struct err e;
	err_clear(&e);
	if (ruf_parse(data, len, &o, &r, &e) != 0)
		fail_msg("%s: %s: %s", rel, e.stage, e.msg);
	free(data);
	return r;
}

static void test_rfc6591_layout(void **state)
{
	(void)state;
	struct ruf_report *r = parse("ruf/rfc6591-dmarc-dkim.eml", false, false);
	assert_int_equal(r->layout, RUF_RFC6591);
	assert_string_equal(r->feedback_type, "auth-failure");
	assert_string_equal(r->user_agent, "SomeGenerator/1.0");
	assert_non_null(strstr(r->reporter, "dmarc-failures@mail-receiver.example"));
	assert_int_equal(r->arrival, 1795424101); /* Mon, 23 Nov 2026 08:55:01 +0000 */
	assert_string_equal(r->source_ip, "192.0.2.1");
	assert_string_equal(r->auth_failure, "dmarc");
	assert_string_equal(r->reported_domain, "example.com");
	assert_string_equal(r->domain, "example.com");
	assert_string_equal(r->dkim_domain, "example.com");
	assert_string_equal(r->dkim_selector, "s1");
	assert_string_equal(r->dkim_identity, "@example.com");
	assert_null(r->spf_dns);
	assert_string_equal(r->delivery_result, "reject");
	assert_string_equal(r->identity_alignment, "dkim, spf");
	assert_string_equal(r->original_mail_from, "<alice@example.com>");
	assert_string_equal(r->original_rcpt_to, "<bob@mail-receiver.example>");
	assert_string_equal(r->header_from, "Alice Example <alice@example.com>");
	assert_string_equal(r->subject, "Discount on office supplies");
	assert_string_equal(r->message_id, "<offer-0001@example.com>");
	/* the Received chain, top first, unfolded */
	assert_non_null(strstr(r->received_json, "[\"from smtp.forwarder.example"));
	assert_non_null(strstr(r->received_json, "\", \"from [198.51.100.3]") ||
	                strstr(r->received_json, "\",\"from [198.51.100.3]"));
	/* privacy by default: no body */
	assert_null(r->body);
	assert_false(r->redacted);
	assert_false(r->recovered);
	ruf_free(r);
}

static void test_afrf_text_layout(void **state)
{
	(void)state;
	struct ruf_report *r = parse("ruf/afrf-text-spf.eml", false, false);
	assert_int_equal(r->layout, RUF_AFRF_TEXT);
	assert_string_equal(r->auth_failure, "spf");
	assert_string_equal(r->source_ip, "203.0.113.9");
	assert_string_equal(r->reported_domain, "example.org");
	assert_string_equal(r->spf_dns, "txt : example.org : \"v=spf1 ip4:192.0.2.0/24 -all\"");
	assert_string_equal(r->delivery_result, "delivered");
	/* text/rfc822-headers, with an RFC 2047 subject decoded */
	assert_string_equal(r->header_from, "Example News <news@example.org>");
	assert_string_equal(r->subject, "Weekly news \xE2\x80\x93 issue 42");
	assert_string_equal(r->message_id, "<news-42@example.org>");
	ruf_free(r);
}

static void test_keep_body_and_redact(void **state)
{
	(void)state;
	struct ruf_report *r = parse("ruf/rfc6591-dmarc-dkim.eml", true, true);
	assert_non_null(r->body);
	assert_non_null(strstr(r->body, "discount code is 1234"));
	assert_true(r->redacted);
	/* sha256("alice"), computed outside the code under test */
	static const char alice[] =
	    "sha256:2bd806c97f0e00af1a1fc3328fa763a9269723c8db8fac4f93af71db186d6e90@example.com";
	assert_non_null(strstr(r->original_mail_from, alice));
	assert_non_null(strstr(r->header_from, alice));
	assert_null(strstr(r->header_from, "alice@"));
	assert_null(strstr(r->header_to, "bob@"));
	assert_null(strstr(r->received_json, "bob@"));
	assert_non_null(strstr(r->received_json, "@mail-receiver.example"));
	assert_string_equal(r->domain, "example.com"); /* the tenant's domain is kept */
	ruf_free(r);

	char *x = redact_addresses("no address here, only a @ sign");
	assert_string_equal(x, "no address here, only a @ sign");
	free(x);
	assert_null(redact_addresses(NULL));
}

static void test_refusals(void **state)
{
	(void)state;
	static const struct {
		const char *file, *reason;
	} cases[] = {
	    {"route/arf-abuse.eml", "Feedback-Type 'abuse' (auth-failure expected)"},
	    {"route/spam.eml", "no message/feedback-report part"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t len;
		char *data = slurp(cases[i].file, &len);
		struct ruf_report *r = NULL;
		struct err e;
		err_clear(&e);
		assert_int_equal(ruf_parse(data, len, NULL, &r, &e), -1);
		assert_null(r);
		assert_string_equal(e.stage, "ruf");
		if (!strstr(e.msg, cases[i].reason))
			fail_msg("%s: '%s' lacks '%s'", cases[i].file, e.msg, cases[i].reason);
		free(data);
	}
}

static void test_route(void **state)
{
	(void)state;
	static const struct {
		const char *file;
		enum route_kind kind;
	} cases[] = {
	    {"ruf/rfc6591-dmarc-dkim.eml", ROUTE_FAILURE},
	    {"ruf/afrf-text-spf.eml", ROUTE_FAILURE},
	    {"mail/classify/failure-report.eml", ROUTE_FAILURE},
	    {"route/arf-abuse.eml", ROUTE_COMPLAINT},
	    {"route/auto-reply.eml", ROUTE_AUTO_REPLY},
	    {"route/spam.eml", ROUTE_OTHER},
	    {"mail/classify/plain.eml", ROUTE_OTHER},
	    {"mail/classify/dsn.eml", ROUTE_BOUNCE},
	    {"bounces/dsn_multi.eml", ROUTE_BOUNCE},
	    {"mail/gzip-attachment.eml", ROUTE_REPORTS},
	    {"mail/google-zip.eml", ROUTE_REPORTS},
	    {"tlsrpt/mail-tlsrpt-gzip.eml", ROUTE_REPORTS},
	    /* the bounce readers' own fixtures: what they read, routing sends them */
	    {"bounces/notices/exim.eml", ROUTE_BOUNCE},
	    {"bounces/notices/dsn_broken.eml", ROUTE_BOUNCE},
	    {"bounces/notices/ses_bounce.eml", ROUTE_BOUNCE},
	    {"bounces/notices/arf.eml", ROUTE_COMPLAINT},
	    {"bounces/notices/autoreply.eml", ROUTE_AUTO_REPLY},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t len;
		char *data = slurp(cases[i].file, &len);
		enum route_kind k = route_message(data, len);
		if (k != cases[i].kind)
			fail_msg("%s: routed as %s, expected %s", cases[i].file, route_kind_name(k),
			         route_kind_name(cases[i].kind));
		/* The tree parsed once (app/pipeline.c) gives the recogniser's
		 * own answer, also behind an mbox "From " line. */
		struct err e = {0};
		struct mime_msg *m = mime_msg_parse(data, len, &e);
		assert_non_null(m);
		assert_int_equal(ruf_msg_is_failure_report(m, data, len), k == ROUTE_FAILURE);
		mime_msg_free(m);
		size_t blen = len + 64;
		char *boxed = malloc(blen + 1);
		assert_non_null(boxed);
		int hl = snprintf(boxed, blen + 1, "From a@b.example Mon Jan  1 00:00:00 2024\n");
		memcpy(boxed + hl, data, len);
		m = mime_msg_parse(boxed, (size_t)hl + len, &e);
		assert_non_null(m);
		assert_int_equal(ruf_msg_is_failure_report(m, boxed, (size_t)hl + len),
		                 ruf_is_failure_report(boxed, (size_t)hl + len));
		mime_msg_free(m);
		free(boxed);
		free(data);
	}
	assert_int_equal(route_message("", 0), ROUTE_OTHER);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rfc6591_layout),
	    cmocka_unit_test(test_afrf_text_layout),
	    cmocka_unit_test(test_keep_body_and_redact),
	    cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_route),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
