/* smtp_reply: a multi-line SMTP reply made one line, whether its lines come
 * as lines or already joined with spaces by the MTA. */
#include "core/smtp_reply.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

static const struct {
	const char *reply, *want;
} cases[] = {
    /* as lines, CRLF or LF */
    {"550-5.7.26 a\r\n550-5.7.26 b\n550 5.7.26 c", "550 5.7.26 a b c"},
    {"550-5.7.26 a\n\n\r\n550 5.7.26 b\r\n", "550 5.7.26 a b"},
    {"550-5.7.26\n550 5.7.26 c", "550 5.7.26 c"},
    {"550-5.7.26 a\n550-5.7.26\n550 5.7.26 c", "550 5.7.26 a c"},
    /* joined by the MTA */
    {"550-5.7.26 a 550-5.7.26 b 550 5.7.26 c", "550 5.7.26 a b c"},
    {"550-5.7.26 a\n550-5.7.26 b 550 5.7.26 c", "550 5.7.26 a b c"},
    {"550-5.7.26 a 550-5.7.26 550-5.7.26 b", "550 5.7.26 a 550-5.7.26 b"},
    {"550 5.7.26 ends with 550-5.7.26", "550 5.7.26 ends with 550-5.7.26"},
    {"550-x 550- y 550  z", "550 x y z"}, /* a code without an enhanced code */
    /* other codes are text */
    {"550-5.7.1 a\n451 4.3.0 other", "550 5.7.1 a 451 4.3.0 other"},
    {"550-5.7.26 a\r\n550-5.7.1 b", "550 5.7.26 a 550-5.7.1 b"},
    {"550-5.7.26 a 550-5.7.1 b", "550 5.7.26 a 550-5.7.1 b"},
    {"550 5.7.26 a 5500-5.7.26 b", "550 5.7.26 a 5500-5.7.26 b"},
    /* only an enhanced code, or none: nothing to drop inside lines */
    {"5.1.1 user unknown 5.1.1 again", "5.1.1 user unknown 5.1.1 again"},
    {"#5.1.1 x\n#5.1.1 y", "#5.1.1 x y"},
    {"no code here\nsecond line", "no code here second line"},
    /* the first line from its first non-space byte */
    {"   550 5.7.1 text", "550 5.7.1 text"},
    {"", ""},
    {"\r\n", ""},
};

static void test_table(void **state)
{
	(void)state;
	struct buf out;
	buf_init(&out, 0);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		smtp_reply_join(cases[i].reply, &out);
		const char *got = out.data ? out.data : "";
		if (strcmp(got, cases[i].want) != 0)
			fail_msg("case %zu: '%s' -> '%s', want '%s'", i, cases[i].reply, got,
			         cases[i].want);
	}
	buf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
