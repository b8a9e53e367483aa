/* copy: the COPY text-format escaping of one field (the streaming half is
 * exercised by every store test against PostgreSQL). */
#include "db/copy.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

static const struct {
	const char *in;
	size_t max; /* copy_text's; 0: copy_field */
	const char *want;
} cases[] = {
    {NULL, 0, "\\N"},
    {NULL, 10, "\\N"},
    {"", 0, ""},
    {"plain text", 0, "plain text"},
    {"a\tb\nc\rd\\e", 0, "a\\tb\\nc\\rd\\\\e"},
    {"\\N", 0, "\\\\N"}, /* the text "\N" is not NULL */
    {"\t\t", 0, "\\t\\t"},
    {"\x01\x7f", 0, "\x01\x7f"}, /* other control bytes go as they are */
    /* copy_field keeps bytes as they are, copy_text repairs */
    {"caf\xc3\xa9 \xe9t\xe9", 0, "caf\xc3\xa9 \xe9t\xe9"},
    {"caf\xc3\xa9 \xe9t\xe9", 100, "caf\xc3\xa9 \xef\xbf\xbdt\xef\xbf\xbd"},
    {"\xed\xa0\x80", 100, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* a surrogate */
    {"a\\\xff\tb", 100, "a\\\\\xef\xbf\xbd\\tb"},
    /* at most max bytes; a character cut there is invalid */
    {"abcdef", 3, "abc"},
    {"ab\xc3\xa9", 3, "ab\xef\xbf\xbd"},
    {"ab\xc3\xa9", 4, "ab\xc3\xa9"},
    {"\xf0\x9f\x98\x80x", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
};

static void test_table(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 0);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		buf_reset(&b);
		int rc = cases[i].max ? copy_text(&b, cases[i].in, cases[i].max)
		                      : copy_field(&b, cases[i].in);
		assert_int_equal(rc, 0);
		if (strcmp(b.data ? b.data : "", cases[i].want) != 0)
			fail_msg("case %zu: got '%s', want '%s'", i, b.data ? b.data : "",
			         cases[i].want);
	}
	buf_free(&b);
}

/* A full buffer refuses the field instead of growing. */
static void test_cap(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 8);
	assert_int_equal(copy_field(&b, "1234567"), 0);
	assert_int_equal(copy_field(&b, "\t"), -1);
	buf_reset(&b);
	assert_int_equal(copy_field(&b, "12345678"), 0);
	assert_int_equal(copy_field(&b, "9"), -1);
	buf_reset(&b);
	assert_int_equal(copy_text(&b, "123456\xff", 100), -1);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table),
	    cmocka_unit_test(test_cap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
