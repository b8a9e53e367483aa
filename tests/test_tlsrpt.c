/*
 * Tests for ingest/tlsrpt: RFC 8460's own example (plain and gzip, through
 * the unpacker as the pipeline reads it), deviations kept with a complaint,
 * and hostile JSON refused with a reason in bounded memory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "ingest/tlsrpt.h"

#include "core/buf.h"
#include "ingest/unpack.h"

#include <json-c/json.h>
#include <stdint.h>
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

static ssize_t read_unpacked(void *ctx, void *buf, size_t n, struct err *e)
{
	return unpack_read(ctx, buf, n, e);
}

/* Reads a fixture the way the pipeline does: unpacker, then the reader. */
static int parse_fixture(const char *rel, struct tlsrpt_report **r, struct err *e)
{
	size_t len;
	char *data = slurp(rel, &len);
	struct unpack *u = NULL;
	err_clear(e);
	int rc = unpack_open(&u, data, len, NULL, e);
	if (rc == 0) {
		assert_int_equal(unpack_document(u), UNPACK_JSON);
		rc = tlsrpt_parse(read_unpacked, u, NULL, r, e);
	}
	unpack_free(u);
	free(data);
	return rc;
}

static size_t json_len(const char *json)
{
	json_object *o = json_tokener_parse(json);
	assert_non_null(o);
	assert_true(json_object_is_type(o, json_type_array));
	size_t n = json_object_array_length(o);
	json_object_put(o);
	return n;
}

static void check_rfc8460_example(const struct tlsrpt_report *r)
{
	assert_string_equal(r->org_name, "Company-X");
	assert_string_equal(r->report_id, "5065427c-23d3-47ca-b6e0-946ea0e8c4be");
	assert_string_equal(r->contact_info, "sts-reporting@company-x.example");
	assert_int_equal(r->begin, 1459468800); /* 2016-04-01T00:00:00Z */
	assert_int_equal(r->end, 1459555199);
	assert_false(r->recovered);
	assert_string_equal(r->complaint, "");
	assert_int_equal(r->n_policies, 1);
	const struct tlsrpt_policy *p = &r->policies[0];
	assert_string_equal(p->policy_type, "sts");
	assert_string_equal(p->policy_domain, "company-y.example");
	assert_int_equal(json_len(p->policy_strings_json), 4);
	assert_non_null(strstr(p->policy_strings_json, "\"mode: testing\""));
	assert_string_equal(p->mx_hosts_json, "[\"*.mail.company-y.example\"]");
	assert_int_equal(p->successful_sessions, 5326);
	assert_int_equal(p->failed_sessions, 303);
	assert_int_equal(p->n_failures, 3);
	assert_string_equal(p->failures[0].result_type, "certificate-expired");
	assert_string_equal(p->failures[0].sending_mta_ip, "2001:db8:abcd:12::1");
	assert_string_equal(p->failures[0].receiving_mx_hostname, "mx1.mail.company-y.example");
	assert_null(p->failures[0].receiving_ip);
	assert_int_equal(p->failures[0].failed_sessions, 100);
	assert_string_equal(p->failures[1].result_type, "starttls-not-supported");
	assert_string_equal(p->failures[1].receiving_ip, "203.0.113.56");
	assert_non_null(strstr(p->failures[1].additional_information, "StarttlsNotSupported"));
	assert_int_equal(p->failures[1].failed_sessions, 200);
	assert_string_equal(p->failures[2].result_type, "validation-failure");
	assert_string_equal(p->failures[2].sending_mta_ip, "198.51.100.62");
	/* the example's "failure-error-code" spelling is read too */
	assert_string_equal(p->failures[2].failure_reason_code,
	                    "X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED");
	/* the failure details add up to the summary */
	int64_t sum = 0;
	for (size_t i = 0; i < p->n_failures; i++)
		sum += p->failures[i].failed_sessions;
	assert_int_equal(sum, p->failed_sessions);
}

static void test_rfc8460_example(void **state)
{
	(void)state;
	const char *files[] = {"tlsrpt/rfc8460-example.json", "tlsrpt/rfc8460-example.json.gz"};
	for (size_t i = 0; i < 2; i++) {
		struct tlsrpt_report *r = NULL;
		struct err e;
		if (parse_fixture(files[i], &r, &e) != 0)
			fail_msg("%s: %s: %s", files[i], e.stage, e.msg);
		check_rfc8460_example(r);
		tlsrpt_free(r);
	}
}

static void test_two_policies_gzip(void **state)
{
	(void)state;
	struct tlsrpt_report *r = NULL;
	struct err e;
	assert_int_equal(parse_fixture("tlsrpt/google-two-policies.json.gz", &r, &e), 0);
	assert_int_equal(r->n_policies, 2);
	assert_string_equal(r->policies[0].policy_domain, "example.com");
	assert_string_equal(r->policies[0].failures[0].failure_reason_code, "hostname mismatch");
	assert_string_equal(r->policies[1].policy_type, "no-policy-found");
	assert_string_equal(r->policies[1].policy_domain, "example.org");
	assert_int_equal(r->policies[1].n_failures, 0);
	assert_string_equal(r->policies[1].policy_strings_json, "[]");
	tlsrpt_free(r);
}

static void test_deviations_kept(void **state)
{
	(void)state;
	struct tlsrpt_report *r = NULL;
	struct err e;
	assert_int_equal(parse_fixture("tlsrpt/wrong-types.json", &r, &e), 0);
	print_message("%s\n", r->complaint);
	assert_true(r->recovered);
	static const char *const said[] = {
	    "policy 1: mx-host holds a value of type int (left out)",
	    "policy 1 failure 1: result-type 'tls-version-too-old' is not one of RFC 8460's",
	    "policy 1 failure 1: sending-mta-ip 'not-an-ip' is not an IP address",
	    "policy 1 failure 2: a failure detail of type string",
	    "policy 2: policy-domain is missing (policy skipped)",
	};
	for (size_t i = 0; i < sizeof said / sizeof said[0]; i++)
		if (!strstr(r->complaint, said[i]))
			fail_msg("complaint '%s' lacks '%s'", r->complaint, said[i]);
	assert_int_equal(r->begin, 1795215600); /* +01:00 offset applied */
	assert_int_equal(r->n_policies, 1);
	const struct tlsrpt_policy *p = &r->policies[0];
	assert_string_equal(p->policy_domain, "example.com"); /* lower-cased */
	assert_string_equal(p->policy_type, "sts");
	assert_string_equal(p->policy_strings_json, "[\"version: STSv1\"]"); /* one string */
	assert_string_equal(p->mx_hosts_json, "[\"mx1.example.com\"]");
	assert_int_equal(p->n_failures, 1);
	assert_string_equal(p->failures[0].result_type, "tls-version-too-old");
	assert_null(p->failures[0].sending_mta_ip);
	tlsrpt_free(r);

	/* invalid UTF-8 and \u0000 in strings: kept readable for PostgreSQL */
	size_t len;
	char *data = slurp("../tests/fuzz/corpus/tlsrpt/nul-and-bad-utf8.json", &len);
	assert_int_equal(tlsrpt_parse_mem(data, len, &r, &e), 0);
	assert_true(r->recovered);
	assert_string_equal(r->org_name, "x\xEF\xBF\xBD");
	assert_string_equal(r->report_id, "a\xEF\xBF\xBD"
	                                  "b");
	assert_non_null(strstr(r->complaint, "organization-name holds invalid UTF-8"));
	assert_non_null(strstr(r->complaint, "report-id holds invalid UTF-8 or NUL"));
	tlsrpt_free(r);
	free(data);
}

static void test_hostile(void **state)
{
	(void)state;
	static const struct {
		const char *file, *stage, *reason;
	} cases[] = {
	    {"tlsrpt/hostile-huge-numbers.json", "validate",
	     "total-successful-session-count is a number beyond 2^63"},
	    {"tlsrpt/hostile-count-is-a-string.json", "validate",
	     "total-successful-session-count \"12\" is not a session count"},
	    {"tlsrpt/hostile-deep-nesting.json", "json", "nested deeper than 16 levels"},
	    {"tlsrpt/hostile-truncated.json", "json", "ends inside a value (truncated?)"},
	    {"tlsrpt/hostile-no-policy-domain.json", "validate", "no policy with a policy-domain"},
	    {"tlsrpt/hostile-bad-dates.json", "validate",
	     "start-datetime 'yesterday' is not an RFC 3339 date-time"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct tlsrpt_report *r = NULL;
		struct err e;
		assert_int_equal(parse_fixture(cases[i].file, &r, &e), -1);
		print_message("%s: %s: %s\n", cases[i].file, e.stage, e.msg);
		assert_null(r);
		assert_int_equal(e.kind, ERR_INPUT);
		assert_string_equal(e.stage, cases[i].stage);
		if (!strstr(e.msg, cases[i].reason))
			fail_msg("%s: '%s' lacks '%s'", cases[i].file, e.msg, cases[i].reason);
	}
	/* a JSON array is not a report: the reader says so (the unpacker does
	 * not even take it for JSON) */
	struct tlsrpt_report *r = NULL;
	struct err e;
	err_clear(&e);
	assert_int_equal(tlsrpt_parse_mem("[1, 2]", 6, &r, &e), -1);
	assert_non_null(strstr(e.msg, "not an object"));
	err_clear(&e);
	assert_int_equal(tlsrpt_parse_mem("", 0, &r, &e), -1);
	assert_non_null(strstr(e.msg, "empty"));
}

/* 100 MB of JSON that never ends: refused once the cap is passed, having
 * read no more than the cap and one chunk (memory bounded by the cap). */
struct endless {
	size_t given;
};

static ssize_t endless_read(void *ctx, void *buf, size_t n, struct err *e)
{
	struct endless *s = ctx;
	(void)e;
	static const char head[] = "{\"policies\":[";
	static const char item[] = "{\"policy\":{\"policy-domain\":\"x.example\"}},";
	if (s->given >= (size_t)100 * 1024 * 1024)
		return 0;
	size_t o = 0;
	if (s->given == 0) {
		memcpy(buf, head, sizeof head - 1);
		o = sizeof head - 1;
	}
	while (o + sizeof item - 1 <= n) {
		memcpy((char *)buf + o, item, sizeof item - 1);
		o += sizeof item - 1;
	}
	s->given += o;
	return (ssize_t)o;
}

static void test_100mb_refused_bounded(void **state)
{
	(void)state;
	struct endless s = {0};
	struct tlsrpt_limits lim;
	tlsrpt_limits_default(&lim);
	struct tlsrpt_report *r = NULL;
	struct err e;
	err_clear(&e);
	assert_int_equal(tlsrpt_parse(endless_read, &s, &lim, &r, &e), -1);
	print_message("%s (read %zu bytes)\n", e.msg, s.given);
	assert_string_equal(e.stage, "json");
	assert_non_null(strstr(e.msg, "larger than 4194304 bytes refused"));
	assert_true(s.given <= lim.max_bytes + 65536);
}

static void test_sniff(void **state)
{
	(void)state;
	assert_true(tlsrpt_sniff("\xEF\xBB\xBF \n{\"a\":1}", 12));
	assert_false(tlsrpt_sniff("<feedback/>", 11));
	assert_false(tlsrpt_sniff("  ", 2));
	assert_int_equal(unpack_sniff(" {", 2), UNPACK_JSON);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rfc8460_example),       cmocka_unit_test(test_two_policies_gzip),
	    cmocka_unit_test(test_deviations_kept),       cmocka_unit_test(test_hostile),
	    cmocka_unit_test(test_100mb_refused_bounded), cmocka_unit_test(test_sniff),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
