/*
 * test_bclass: every row of fixtures/bounces/replies.tsv through the embedded
 * rule table (class, action, listed_on, listed_asset), precedence cases, the
 * reply splitter, and rule-file errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "core/bclass.h"
#include "core/smtp_reply.h"
#include "core/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s", path);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *b = xmalloc((size_t)n + 1);
	if (fread(b, 1, (size_t)n, f) != (size_t)n)
		fail_msg("short read %s", path);
	b[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return b;
}

/* "\n" in the fixture stands for a line break of a multi-line reply. */
static char *unescape(const char *s)
{
	char *out = xmalloc(strlen(s) + 1), *o = out;
	for (; *s; s++) {
		if (s[0] == '\\' && s[1] == 'n') {
			*o++ = '\n';
			s++;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
	return out;
}

static void classify_line(const struct bclass *t, const char *provider, const char *line,
                          struct bounce_verdict *v)
{
	struct buf joined;
	buf_init(&joined, 0);
	smtp_reply_join(line, &joined);
	struct bclass_reply r;
	bclass_split_reply(joined.data ? joined.data : "", &r);
	bclass_classify(t, r.code, r.enhanced[0] ? r.enhanced : NULL, r.text, provider, v);
	buf_free(&joined);
}

static int same(const char *want, const char *got)
{
	if (strcmp(want, "-") == 0)
		return got == NULL;
	return got && strcmp(want, got) == 0;
}

static void test_replies_table(void **state)
{
	(void)state;
	size_t len;
	char *text = read_file(FIXTURES_DIR "/bounces/replies.tsv", &len);
	const struct bclass *t = bclass_default();
	int rows = 0, bad = 0;
	/* which rules decided a row: every rule of the table must, so a rule
	 * cannot be added (or shadowed by another) without a test line */
	size_t nrules = bclass_rule_count(t);
	char *used = xcalloc(nrules, 1);
	char *save = text;
	for (char *line = text; line && *line; line = save) {
		char *nl = strchr(line, '\n');
		save = nl ? nl + 1 : NULL;
		if (nl)
			*nl = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		/* Set before the count check passes; the compiler cannot see that
		 * a failed assert does not return (-O3). */
		char *col[6] = {NULL};
		int n = 0;
		for (char *p = line; n < 6; n++) {
			col[n] = p;
			char *tab = strchr(p, '\t');
			if (!tab) {
				n++;
				break;
			}
			*tab = '\0';
			p = tab + 1;
		}
		assert_int_equal(n, 6);
		char *reply = unescape(col[1]);
		struct bounce_verdict v;
		classify_line(t, strcmp(col[0], "-") == 0 ? NULL : col[0], reply, &v);
		rows++;
		for (size_t k = 0; v.rule && k < nrules; k++)
			if (strcmp(bclass_rule_id(t, k), v.rule) == 0)
				used[k] = 1;
		if (strcmp(v.klass, col[2]) != 0 || strcmp(v.action, col[3]) != 0 ||
		    !same(col[4], v.listed_on) || !same(col[5], v.listed_asset)) {
			bad++;
			fprintf(stderr,
			        "MISMATCH [%s] %s\n  want %s/%s/%s/%s got %s/%s/%s/%s (rule %s)\n",
			        col[0], col[1], col[2], col[3], col[4], col[5], v.klass, v.action,
			        v.listed_on ? v.listed_on : "-",
			        v.listed_asset ? v.listed_asset : "-", v.rule ? v.rule : "(none)");
		}
		free(reply);
	}
	free(text);
	int unused = 0;
	for (size_t k = 0; k < nrules; k++)
		if (!used[k]) {
			fprintf(stderr, "rule %s decides no row of replies.tsv\n",
			        bclass_rule_id(t, k));
			unused++;
		}
	free(used);
	fprintf(stderr, "%d rows, %d mismatches, %d of %zu rules unused\n", rows, bad, unused,
	        nrules);
	assert_int_equal(unused, 0);
	assert_true(rows >= 200);
	assert_int_equal(bad, 0);
}

static const char *klass_of(const char *provider, const char *line)
{
	struct bounce_verdict v;
	classify_line(bclass_default(), provider, line, &v);
	return v.klass;
}

static void test_precedence(void **state)
{
	(void)state;
	/* provider-keyed meaning of a reused IANA code beats the registry */
	assert_string_equal(klass_of("google", "421 4.7.29 - gsmtp"), "protocol");
	assert_string_equal(klass_of(NULL, "421 4.7.29 ARC validation failure"), "auth_failure");
	assert_string_equal(klass_of("microsoft", "550 5.1.10 not found"), "invalid_recipient");
	assert_string_equal(klass_of("yahoo", "554 5.7.9 nope"), "policy");
	assert_string_equal(klass_of(NULL, "554 5.7.9 nope"), "protocol");
	/* the enhanced code beats the 3-digit code */
	assert_string_equal(klass_of(NULL, "550 5.1.1 whatever"), "invalid_recipient");
	assert_string_equal(klass_of(NULL, "550 5.2.2 whatever"), "mailbox_issue");
	assert_string_equal(klass_of(NULL, "554 5.3.4 whatever"), "size");
	/* text refines both */
	assert_string_equal(klass_of(NULL, "550 5.1.1 blocked using zen.spamhaus.org"),
	                    "blocklisted");
	assert_string_equal(klass_of(NULL, "550 5.7.1 rejected by DMARC policy"), "auth_failure");
	/* vague wording does not override a specific enhanced code */
	assert_string_equal(klass_of(NULL, "550 5.1.1 rejected"), "invalid_recipient");
	/* class digits that disagree: the reply code decides temp/perm */
	struct bounce_verdict v;
	bclass_classify(bclass_default(), 421, "5.7.32", "x", "google", &v);
	assert_string_equal(v.klass, "auth_failure");
	assert_string_equal(v.severity, "watch");
	bclass_classify(bclass_default(), 550, "5.7.32", "x", "google", &v);
	assert_string_equal(v.severity, "escalate");
	/* no reply code, only the enhanced code (DSN Status:) */
	bclass_classify(bclass_default(), 0, "5.1.1", NULL, NULL, &v);
	assert_string_equal(v.klass, "invalid_recipient");
	assert_string_equal(v.severity, "clean");
	/* a delivery is a delivery whatever the text says */
	assert_string_equal(klass_of(NULL, "250 2.0.0 OK spam blocked dmarc"), "accepted");
	/* nothing known */
	bclass_classify(bclass_default(), 0, NULL, "", NULL, &v);
	assert_string_equal(v.klass, "unknown");
	assert_null(v.rule);
	/* the deciding rule and its provider are reported */
	bclass_classify(bclass_default(), 421, "4.7.23", "x", "google", &v);
	assert_string_equal(v.rule, "gmail.4.7.23.ptr");
	assert_string_equal(v.provider, "google");
}

static void test_rule_file(void **state)
{
	(void)state;
	const char *rules = "# comment\n"
	                    "generic\t*\t5xx\t*\t*\tpolicy\tescalate\tinvestigate\tyes\t-\t-\t10\n"
	                    "acme\tacme\t550\t5.7.1\tacme says no\tauth_failure\twatch/escalate\t"
	                    "investigate_auth\tyes\t-\t-\t900\n"
	                    "acme.code\t*\t*\t5.7.606-649,-\tfoo\tblocklisted\tescalate\t"
	                    "check_listing\tyes\tAcme BL\tip\t800\n";
	struct bclass *t = NULL;
	struct err e = {0};
	assert_int_equal(bclass_load(&t, rules, strlen(rules), &e), 0);
	assert_int_equal(bclass_rule_count(t), 3);
	struct bounce_verdict v;
	bclass_classify(t, 550, "5.7.1", "ACME SAYS NO today", "acme", &v);
	assert_string_equal(v.rule, "acme");
	bclass_classify(t, 550, "5.7.1", "acme says no", "other", &v);
	assert_string_equal(v.rule, "generic");
	bclass_classify(t, 550, "5.7.640", "foo", NULL, &v);
	assert_string_equal(v.rule, "acme.code");
	assert_string_equal(v.listed_on, "Acme BL");
	bclass_classify(t, 550, NULL, "foo", NULL, &v);
	assert_string_equal(v.rule, "acme.code");
	bclass_classify(t, 550, "5.7.650", "foo", NULL, &v);
	assert_string_equal(v.rule, "generic");
	bclass_free(t);

	const char *bad[] = {
	    "x\t*\t5xx\t*\t*\tpolicy\tescalate\tinvestigate\tyes\t-\t-\n",      /* 11 cols */
	    "x\t*\t5x\t*\t*\tpolicy\tescalate\tinvestigate\tyes\t-\t-\t1\n",    /* reply */
	    "x\t*\t5xx\t5.7\t*\tpolicy\tescalate\tinvestigate\tyes\t-\t-\t1\n", /* enh */
	    "x\t*\t5xx\t*\t(\tpolicy\tescalate\tinvestigate\tyes\t-\t-\t1\n",   /* regex */
	    "x\t*\t5xx\t*\t*\tpolicyy\tescalate\tinvestigate\tyes\t-\t-\t1\n",  /* class */
	    "x\t*\t5xx\t*\t*\tpolicy\tescalate\tinvestigate\tmaybe\t-\t-\t1\n", /* bool */
	    "x\t*\t5xx\t*\t*\tpolicy\tescalate\tinvestigate\tyes\t-\tcow\t1\n", /* asset */
	    "x\t*\t5xx\t*\t*\tpolicy\tescalate\tinvestigate\tyes\t-\t-\t1x\n",  /* prio */
	    "x\t*\t5xx\t*\t*\tpolicy\tescalate\tinvestigate\tyes\t-\t-\t1\n"
	    "x\t*\t5xx\t*\t*\tpolicy\tescalate\tinvestigate\tyes\t-\t-\t1\n", /* dup */
	    "# nothing\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct err e2 = {0};
		t = NULL;
		assert_int_equal(bclass_load(&t, bad[i], strlen(bad[i]), &e2), -1);
		assert_null(t);
		assert_int_equal(e2.kind, ERR_CONFIG);
	}
}

static void test_split_reply(void **state)
{
	(void)state;
	struct bclass_reply r;
	assert_int_equal(bclass_split_reply("550 5.7.26 text here", &r), 0);
	assert_int_equal(r.code, 550);
	assert_string_equal(r.enhanced, "5.7.26");
	assert_string_equal(r.text, "text here");
	assert_int_equal(bclass_split_reply("421-4.7.0 more", &r), 0);
	assert_int_equal(r.code, 421);
	assert_string_equal(r.enhanced, "4.7.0");
	assert_int_equal(bclass_split_reply("550 no enhanced", &r), 0);
	assert_string_equal(r.enhanced, "");
	assert_string_equal(r.text, "no enhanced");
	assert_int_equal(bclass_split_reply("5.1.1 bare", &r), 0);
	assert_int_equal(r.code, 0);
	assert_string_equal(r.enhanced, "5.1.1");
	assert_int_equal(bclass_split_reply("hello", &r), -1);
	assert_int_equal(bclass_split_reply("5500 x", &r), -1);
	char enh[16];
	assert_int_equal(bclass_find_enhanced("host said: 550 5.7.26 blah", enh, sizeof enh), 0);
	assert_string_equal(enh, "5.7.26");
	assert_int_equal(bclass_find_enhanced("version 1.2.3.4 only", enh, sizeof enh), -1);
	assert_int_equal(bclass_find_enhanced("(#5.7.1)", enh, sizeof enh), 0);
	assert_string_equal(enh, "5.7.1");
	struct buf j;
	buf_init(&j, 0);
	smtp_reply_join("550-5.7.26 a\r\n550-5.7.26 b\n550 5.7.26 c", &j);
	assert_string_equal(j.data, "550 5.7.26 a b c");
	buf_free(&j);
}

static void test_auth_evidence(void **state)
{
	(void)state;
	struct bclass_auth_evidence a;
	const char *gmail = "550 5.7.26 This email has been blocked because the sender is "
	                    "unauthenticated. Authentication results: DKIM = did not pass SPF "
	                    "[example.com] with ip: [192.0.2.10] = did not pass - gsmtp";
	assert_int_equal(bclass_auth_evidence(gmail, &a), 2);
	assert_int_equal(a.dkim, BCLASS_AUTH_FAIL);
	assert_int_equal(a.spf, BCLASS_AUTH_FAIL);
	assert_int_equal(a.dmarc, BCLASS_AUTH_UNKNOWN);
	const char *bulk = "421 4.7.27 ... Authentication results: SPF domain = example.com, "
	                   "SPF result = Did not pass - gsmtp";
	assert_int_equal(bclass_auth_evidence(bulk, &a), 1);
	assert_int_equal(a.spf, BCLASS_AUTH_FAIL);
	const char *ms = "550 5.7.515 Access denied, sending domain [EXAMPLE.COM] does not meet "
	                 "the required authentication level. Spf= Fail , Dkim= Pass , DMARC= Pass";
	assert_int_equal(bclass_auth_evidence(ms, &a), 3);
	assert_int_equal(a.spf, BCLASS_AUTH_FAIL);
	assert_int_equal(a.dkim, BCLASS_AUTH_PASS);
	assert_int_equal(a.dmarc, BCLASS_AUTH_PASS);
	const char *dkimpass =
	    "Gmail requires all senders to authenticate with either SPF or DKIM. "
	    "Authentication results: DKIM = pass SPF [x.example] with ip: "
	    "[192.0.2.1] = did not pass";
	assert_int_equal(bclass_auth_evidence(dkimpass, &a), 2);
	assert_int_equal(a.dkim, BCLASS_AUTH_PASS);
	assert_int_equal(a.spf, BCLASS_AUTH_FAIL);
	/* naming a mechanism is not a verdict */
	assert_int_equal(bclass_auth_evidence("550 5.7.1 Email rejected per DMARC policy for "
	                                      "example.com",
	                                      &a),
	                 0);
	assert_int_equal(bclass_auth_evidence("550 SPF Sender Invalid - envelope rejected", &a), 0);
	assert_int_equal(bclass_auth_evidence(NULL, &a), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_replies_table), cmocka_unit_test(test_precedence),
	    cmocka_unit_test(test_rule_file),     cmocka_unit_test(test_split_reply),
	    cmocka_unit_test(test_auth_evidence),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
