/* bnorm: the escalation text pattern. Each row is a reply text and the
 * pattern we expect; pairs of texts that differ only in what varies per
 * event must share a pattern, texts naming different causes must not. */
#include "core/bnorm.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

static const struct {
	const char *text, *want;
} cases[] = {
    {"550 5.7.1 Message rejected", "# # message rejected"},
    {"  550   5.7.1\tMessage\r\n rejected  ", "# # message rejected"},
    {"Service unavailable; Client host [203.0.113.9] blocked using zen.spamhaus.org",
     "service unavailable; client host [<ip>] blocked using zen.spamhaus.org"},
    {"see https://www.spamhaus.org/query/ip/198.51.100.23.",
     "see https://www.spamhaus.org/query/ip/<ip>."},
    {"<John.Doe@Example.COM>: Recipient address rejected: User unknown",
     "<<addr>>: recipient address rejected: user unknown"},
    {"host mx.example.net[2001:db8::25] said: 554 denied",
     "host mx.example.net[<ip>] said: # denied"},
    {"from ipv6:2001:db8::1 refused", "from ipv6:<ip> refused"},
    {"gsmtp d9443c01a7336-21f2d3ae5c8si1234567.5 - gsmtp", "gsmtp # - gsmtp"},
    {"queue id 4BzXq12Zm7z9vQw accepted", "queue id # accepted"},
    {"hex deadbeef42 and cafe01", "hex # and #"},
    {"554 5.7.9 Message not accepted for policy reasons (TSS04)",
     "# # message not accepted for policy reasons (tss04)"},
    {"part of their network is on our block list (S3150)",
     "part of their network is on our block list (s3150)"},
    {"OFR006_102 Ref", "ofr006_# ref"},
    {"IPv6:2001:DB8::1 refused", "ipv6:<ip> refused"},
    /* A broken lead byte does not swallow the ASCII after it. */
    {"\xf1"
     "F#:2 x",
     "\xf1"
     "f# x"},
    {"", ""},
    {NULL, ""},
};

static void test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char out[256];
		size_t n = bnorm_pattern(cases[i].text, out, sizeof out);
		if (strcmp(out, cases[i].want) != 0)
			fail_msg("case %zu: '%s' -> '%s', want '%s'", i,
			         cases[i].text ? cases[i].text : "(null)", out, cases[i].want);
		assert_int_equal(n, strlen(out));
	}
}

static void test_same_and_different(void **state)
{
	(void)state;
	char a[256], b[256], c[256];
	bnorm_pattern(
	    "554 5.7.1 [192.0.2.1] Message from a@x.example to b@y.example refused, id=8a7f6e5d4c",
	    a, sizeof a);
	bnorm_pattern("554 5.7.1 [198.51.100.77] Message from q@z.example to r@w.example refused, "
	              "id=0011223344aabb",
	              b, sizeof b);
	bnorm_pattern("554 5.7.1 [192.0.2.1] Message rejected as spam", c, sizeof c);
	assert_string_equal(a, b);
	assert_string_not_equal(a, c);
}

static void test_truncation(void **state)
{
	(void)state;
	char small[8];
	size_t n = bnorm_pattern("Mailbox unavailable", small, sizeof small);
	assert_int_equal(n, 7);
	assert_string_equal(small, "mailbox");
	/* A multi-byte character that does not fit is dropped whole. */
	char tiny[5];
	n = bnorm_pattern("abc\xc3\xa9z", tiny, sizeof tiny);
	assert_string_equal(tiny, "abc");
	assert_int_equal(n, 3);
	char one[1];
	assert_int_equal(bnorm_pattern("abc", one, sizeof one), 0);
	assert_string_equal(one, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table),
	    cmocka_unit_test(test_same_and_different),
	    cmocka_unit_test(test_truncation),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
