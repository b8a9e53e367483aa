/* utf8: the one decoder. A table of the edges (each overlong, surrogate and
 * out-of-range form next to the nearest well-formed one, and cut
 * characters), then every 1- to 3-byte sequence and every 4-byte sequence
 * with an F0..F4 lead checked against what a separate encoder produces. */
#include "core/utf8.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

static const struct {
	const char *bytes;
	size_t avail; /* 0: strlen(bytes), at least 1 */
	int want;
} cases[] = {
    {"A", 0, 1},
    {"", 1, 1}, /* NUL is a character */
    {"\x7f", 0, 1},
    /* two bytes: U+0080..U+07FF */
    {"\xc2\x80", 0, 2},
    {"\xdf\xbf", 0, 2},
    {"\xc3\xa4x", 0, 2},
    {"\xc0\x80", 0, 0}, /* overlong NUL */
    {"\xc1\xbf", 0, 0}, /* overlong U+007F */
    {"\xc3\x41", 0, 0}, /* not a continuation byte */
    {"\xc3\xc3", 0, 0},
    {"\xc3", 0, UTF8_SHORT},
    /* three bytes: U+0800..U+FFFF without the surrogates */
    {"\xe0\xa0\x80", 0, 3},
    {"\xe0\x9f\xbf", 0, 0}, /* overlong U+07FF */
    {"\xe0\x80\x80", 0, 0},
    {"\xed\x9f\xbf", 0, 3}, /* U+D7FF */
    {"\xed\xa0\x80", 0, 0}, /* U+D800, a surrogate */
    {"\xed\xbf\xbf", 0, 0}, /* U+DFFF */
    {"\xee\x80\x80", 0, 3}, /* U+E000 */
    {"\xef\xbf\xbf", 0, 3}, /* U+FFFF: well-formed UTF-8 (XML refuses it, not UTF-8) */
    {"\xe2\x82\xac", 0, 3}, /* U+20AC */
    {"\xe2\x82", 0, UTF8_SHORT},
    {"\xe2", 0, UTF8_SHORT},
    {"\xe0\x9f", 0, 0}, /* cut, but already overlong */
    {"\xed\xa0", 0, 0}, /* cut, but already a surrogate */
    {"\xe2\x82\x41", 0, 0},
    /* four bytes: U+10000..U+10FFFF */
    {"\xf0\x90\x80\x80", 0, 4},
    {"\xf0\x8f\xbf\xbf", 0, 0}, /* overlong U+FFFF */
    {"\xf4\x8f\xbf\xbf", 0, 4}, /* U+10FFFF */
    {"\xf4\x90\x80\x80", 0, 0}, /* U+110000 */
    {"\xf5\x80\x80\x80", 0, 0},
    {"\xf0\x9f\x98\x80", 0, 4}, /* U+1F600 */
    {"\xf0\x9f\x98", 0, UTF8_SHORT},
    {"\xf0\x9f\x98\x41", 0, 0},
    /* bytes that start nothing */
    {"\x80", 0, 0},
    {"\xbf", 0, 0},
    {"\xf8\x88\x80\x80\x80", 0, 0},
    {"\xfe", 0, 0},
    {"\xff", 0, 0},
};

static void test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t avail = cases[i].avail ? cases[i].avail : strlen(cases[i].bytes);
		int got = utf8_len((const unsigned char *)cases[i].bytes, avail);
		if (got != cases[i].want)
			fail_msg("case %zu: %d, want %d", i, got, cases[i].want);
	}
}

/* The reference: the one encoding of a scalar value. */
static size_t encode(uint32_t cp, unsigned char *out)
{
	if (cp < 0x80) {
		out[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (unsigned char)(0xC0 | (cp >> 6));
		out[1] = (unsigned char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (unsigned char)(0xE0 | (cp >> 12));
		out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (unsigned char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (unsigned char)(0xF0 | (cp >> 18));
	out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (unsigned char)(0x80 | (cp & 0x3F));
	return 4;
}

/* Whether the n bytes are the encoding of a scalar value (decoded the
 * long way, then encoded again). */
static int reference(const unsigned char *s, size_t n)
{
	uint32_t cp;
	if (n == 1)
		return s[0] < 0x80;
	if ((s[0] & 0xE0) == 0xC0 && n == 2)
		cp = s[0] & 0x1Fu;
	else if ((s[0] & 0xF0) == 0xE0 && n == 3)
		cp = s[0] & 0x0Fu;
	else if ((s[0] & 0xF8) == 0xF0 && n == 4)
		cp = s[0] & 0x07u;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3Fu);
	}
	if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	unsigned char again[4];
	return encode(cp, again) == n && memcmp(again, s, n) == 0;
}

/* Whether continuation bytes after the n bytes at s can complete a
 * scalar value's encoding of `len` bytes. */
static int completable(unsigned char *s, size_t n, size_t len)
{
	if (n == len)
		return reference(s, len);
	for (unsigned b = 0x80; b <= 0xBF; b++) {
		s[n] = (unsigned char)b;
		if (completable(s, n + 1, len))
			return 1;
	}
	return 0;
}

static void check(const unsigned char *s, size_t n)
{
	int got = utf8_len(s, n);
	int want = reference(s, n) ? (int)n : 0;
	if (got == want)
		return;
	/* A shorter character at the start is the right answer when it is one
	 * (its length follows from its lead byte, so it cannot be a wrong
	 * one); UTF8_SHORT when the bytes are a cut encoding. */
	if (got > 0 && (size_t)got < n && reference(s, (size_t)got))
		return;
	if (got == UTF8_SHORT) {
		unsigned char t[4];
		memcpy(t, s, n);
		for (size_t len = n + 1; len <= 4; len++)
			if (completable(t, n, len))
				return;
	}
	fail_msg("%02x %02x %02x %02x (%zu bytes): %d, want %d", s[0], n > 1 ? s[1] : 0,
	         n > 2 ? s[2] : 0, n > 3 ? s[3] : 0, n, got, want);
}

static void test_every_short_sequence(void **state)
{
	(void)state;
	unsigned char s[4];
	for (unsigned a = 0; a < 256; a++) {
		s[0] = (unsigned char)a;
		check(s, 1);
		for (unsigned b = 0; b < 256; b++) {
			s[1] = (unsigned char)b;
			check(s, 2);
			for (unsigned c = 0; c < 256; c++) {
				s[2] = (unsigned char)c;
				check(s, 3);
			}
		}
	}
}

static void test_every_four_byte_sequence(void **state)
{
	(void)state;
	unsigned char s[4];
	for (unsigned a = 0xF0; a <= 0xF7; a++)
		for (unsigned b = 0x70; b < 0xD0; b++)
			for (unsigned c = 0x70; c < 0xD0; c++)
				for (unsigned d = 0x70; d < 0xD0; d++) {
					s[0] = (unsigned char)a;
					s[1] = (unsigned char)b;
					s[2] = (unsigned char)c;
					s[3] = (unsigned char)d;
					check(s, 4);
				}
}

/* Every scalar value's encoding is one character of its own length, and
 * each of its proper prefixes is UTF8_SHORT. */
static void test_every_scalar_value(void **state)
{
	(void)state;
	for (uint32_t cp = 0; cp <= 0x10FFFF; cp++) {
		if (cp >= 0xD800 && cp <= 0xDFFF)
			continue;
		unsigned char e[4];
		size_t n = encode(cp, e);
		if (utf8_len(e, n) != (int)n)
			fail_msg("U+%04X: %d, want %zu", (unsigned)cp, utf8_len(e, n), n);
		for (size_t k = 1; k < n; k++)
			if (utf8_len(e, k) != UTF8_SHORT)
				fail_msg("U+%04X cut at %zu: %d", (unsigned)cp, k, utf8_len(e, k));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table),
	    cmocka_unit_test(test_every_short_sequence),
	    cmocka_unit_test(test_every_four_byte_sequence),
	    cmocka_unit_test(test_every_scalar_value),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
