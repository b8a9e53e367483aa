/* Tests for ingest/validate: the pure value checks of the report parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "ingest/validate.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

struct int_case {
	const char *in;
	int rc;
	int64_t out;
};

static void test_count(void **state)
{
	(void)state;
	static const struct int_case cases[] = {
	    {"0", 0, 0},
	    {"17", 0, 17},
	    {" 14 ", 0, 14},
	    {"\n\t6\n  ", 0, 6},
	    {"9223372036854775807", 0, INT64_MAX},
	    {"9223372036854775808", -1, 0},
	    {"99999999999999999999", -1, 0},
	    {"-5", -1, 0},
	    {"+5", -1, 0},
	    {"abc", -1, 0},
	    {"12abc", -1, 0},
	    {"1 2", -1, 0},
	    {"", -1, 0},
	    {"   ", -1, 0},
	    {"1.5", -1, 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int64_t v = -42;
		int rc = validate_count(cases[i].in, &v);
		print_message("count '%s'\n", cases[i].in);
		assert_int_equal(rc, cases[i].rc);
		if (rc == 0)
			assert_int_equal(v, cases[i].out);
	}
	int64_t v;
	assert_int_equal(validate_count(NULL, &v), -1);
}

static void test_timestamp(void **state)
{
	(void)state;
	static const struct int_case cases[] = {
	    {"1524268800", 0, 1524268800},
	    {"1524268800.000", 0, 1524268800},
	    {"1524268799.999", 0, 1524268799},
	    {" 1524268799 ", 0, 1524268799},
	    {"1524268800.", 0, 1524268800},
	    {"-1", -1, 0},
	    {"1524268800.0x", -1, 0},
	    {"2018-04-21", -1, 0},
	    {"", -1, 0},
	    {".5", -1, 0},
	    {"99999999999999999999", -1, 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int64_t v = -42;
		int rc = validate_timestamp(cases[i].in, &v);
		print_message("timestamp '%s'\n", cases[i].in);
		assert_int_equal(rc, cases[i].rc);
		if (rc == 0)
			assert_int_equal(v, cases[i].out);
	}
}

static void test_pct(void **state)
{
	(void)state;
	int v;
	assert_int_equal(validate_pct("100", &v), 0);
	assert_int_equal(v, 100);
	assert_int_equal(validate_pct(" 0 ", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(validate_pct("101", &v), -1);
	assert_int_equal(validate_pct("-1", &v), -1);
	assert_int_equal(validate_pct("half", &v), -1);
}

static void test_ip(void **state)
{
	(void)state;
	static const struct {
		const char *in, *out;
	} ok[] = {
	    {"192.0.2.1", "192.0.2.1"},
	    {" 198.51.100.7\n", "198.51.100.7"},
	    {"2001:DB8:0:0:0:0:0:1", "2001:db8::1"},
	    {"2001:db8:0000:0042::0001", "2001:db8:0:42::1"},
	    /* IPv4-mapped: the IPv4 sender, stored as IPv4 (issue 7) */
	    {"::ffff:192.0.2.33", "192.0.2.33"},
	    {"::FFFF:c000:0221", "192.0.2.33"},
	    {"::ffff:0:192.0.2.33", "::ffff:0:c000:221"}, /* IPv4-translated: not mapped */
	    {"::1", "::1"},
	};
	static const char *const bad[] = {"999.1.2.3",
	                                  "192.0.2",
	                                  "192.0.2.1.5",
	                                  "abc",
	                                  "",
	                                  "2001:db8::1::2",
	                                  "fe80::1%eth0",
	                                  "192.0.2.1/24",
	                                  "192.0.02.1", /* not canonical: refused, not rewritten */
	                                  "0x7f.0.0.1",
	                                  "127.1",
	                                  "2001:db8:0000:0000:0000:0000:0000:0000:0001"};
	char out[VALIDATE_IP_MAX];
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		print_message("ip '%s'\n", ok[i].in);
		assert_int_equal(validate_ip(ok[i].in, out), 0);
		assert_string_equal(out, ok[i].out);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		print_message("bad ip '%s'\n", bad[i]);
		assert_int_equal(validate_ip(bad[i], out), -1);
	}
	/* the unspecified addresses parse, and are recognised as no sender */
	assert_int_equal(validate_ip(" 0.0.0.0 ", out), 0);
	assert_true(validate_ip_unspecified(out));
	assert_int_equal(validate_ip("0:0::0", out), 0);
	assert_true(validate_ip_unspecified(out));
	assert_int_equal(validate_ip("::1", out), 0);
	assert_false(validate_ip_unspecified(out));
	/* every octet value, in every position: the dotted quad comes back */
	for (unsigned v = 0; v < 256; v++) {
		char in[32];
		snprintf(in, sizeof in, "%u.%u.%u.%u", v, 255 - v, (v * 7) % 256, v / 2);
		assert_int_equal(validate_ip(in, out), 0);
		assert_string_equal(out, in);
	}
}

static void test_enum(void **state)
{
	(void)state;
	static const struct {
		enum validate_enum kind;
		const char *in;
		int rc;
		const char *out; /* NULL: maps to absent */
	} cases[] = {
	    {VALIDATE_DISPOSITION, "none", 0, "none"},
	    {VALIDATE_DISPOSITION, "Reject", 0, "reject"},
	    {VALIDATE_DISPOSITION, "QUARANTINE", 0, "quarantine"},
	    {VALIDATE_DISPOSITION, "pass", 0, "pass"},
	    {VALIDATE_DISPOSITION, "nil", 0, "none"},
	    {VALIDATE_DISPOSITION, "", 0, NULL},
	    {VALIDATE_DISPOSITION, "  ", 0, NULL},
	    {VALIDATE_DISPOSITION, "deliver", -1, NULL},
	    {VALIDATE_POLICY_RESULT, "Pass", 0, "pass"},
	    {VALIDATE_POLICY_RESULT, "softfail", 0, "fail"},
	    {VALIDATE_POLICY_RESULT, "neutral", -1, NULL},
	    {VALIDATE_DKIM_RESULT, "pass", 0, "pass"},
	    {VALIDATE_DKIM_RESULT, " TempError ", 0, "temperror"},
	    {VALIDATE_DKIM_RESULT, "invalid", 0, "permerror"},
	    {VALIDATE_DKIM_RESULT, "unknown", 0, "temperror"},
	    {VALIDATE_DKIM_RESULT, "", 0, NULL},
	    {VALIDATE_DKIM_RESULT, "softfail", -1, NULL},
	    {VALIDATE_DKIM_RESULT, "banana", -1, NULL},
	    {VALIDATE_SPF_RESULT, "hardfail", 0, "fail"},
	    {VALIDATE_SPF_RESULT, "unknown", 0, "temperror"},
	    {VALIDATE_SPF_RESULT, "error", 0, "permerror"},
	    {VALIDATE_SPF_RESULT, "SoftFail", 0, "softfail"},
	    {VALIDATE_SPF_RESULT, "policy", 0, "policy"},
	    {VALIDATE_SPF_RESULT, "invalid", -1, NULL},
	    {VALIDATE_SPF_SCOPE, "MFROM", 0, "mfrom"},
	    {VALIDATE_SPF_SCOPE, "helo", 0, "helo"},
	    {VALIDATE_SPF_SCOPE, "mailfrom", 0, "mfrom"},
	    {VALIDATE_SPF_SCOPE, "pra", -1, NULL},
	    {VALIDATE_REASON_TYPE, "policy_test_mode", 0, "policy_test_mode"},
	    {VALIDATE_REASON_TYPE, "Local_Policy", 0, "local_policy"},
	    {VALIDATE_REASON_TYPE, "because", -1, NULL},
	    {VALIDATE_ALIGNMENT, "R", 0, "r"},
	    {VALIDATE_ALIGNMENT, "relaxed", -1, NULL},
	    {VALIDATE_POLICY, "Reject", 0, "reject"},
	    {VALIDATE_POLICY, "pass", -1, NULL},
	    {VALIDATE_TESTING, "Y", 0, "y"},
	    {VALIDATE_DISCOVERY, "treewalk", 0, "treewalk"},
	    {VALIDATE_DISCOVERY, "dns", -1, NULL},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *out = "unset";
		print_message("enum %d '%s'\n", (int)cases[i].kind, cases[i].in);
		int rc = validate_enum(cases[i].kind, cases[i].in, &out);
		assert_int_equal(rc, cases[i].rc);
		if (rc == 0 && cases[i].out)
			assert_string_equal(out, cases[i].out);
		else if (rc == 0)
			assert_null(out);
	}
	const char *out = "unset";
	assert_int_equal(validate_enum(VALIDATE_DKIM_RESULT, NULL, &out), 0);
	assert_null(out);
	assert_string_equal(validate_enum_what(VALIDATE_DKIM_RESULT), "a DKIM result");
}

static void test_header_from(void **state)
{
	(void)state;
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"example.com", "example.com"},
	    {"  example.com\n", "example.com"},
	    {"alice@example.com", "example.com"},
	    {"Alice Example <alice@Example.com>", "Example.com"},
	    {"\"Doe, John\" <j@example.org>", "example.org"},
	    {"bob@example.com, carol@example.org", "example.com"},
	    {"example.com example.org", "example.com"},
	    {"example.com;example.org", "example.com"},
	    {"", ""},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char buf[128];
		snprintf(buf, sizeof buf, "%s", cases[i].in);
		print_message("header_from '%s'\n", cases[i].in);
		assert_string_equal(validate_header_from(buf), cases[i].out);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_count), cmocka_unit_test(test_timestamp),
	    cmocka_unit_test(test_pct),   cmocka_unit_test(test_ip),
	    cmocka_unit_test(test_enum),  cmocka_unit_test(test_header_from),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
