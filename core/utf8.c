/* utf8: see utf8.h. */
#include "core/utf8.h"

int utf8_len(const unsigned char *s, size_t avail)
{
	unsigned char c = s[0];
	/* The range of the second byte is where overlongs, surrogates and
	 * code points past U+10FFFF are refused (RFC 3629 section 4). */
	unsigned char lo = 0x80, hi = 0xBF;
	int need;
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF) {
		need = 1;
	} else if (c >= 0xE0 && c <= 0xEF) {
		need = 2;
		if (c == 0xE0)
			lo = 0xA0; /* shorter forms are overlong */
		else if (c == 0xED)
			hi = 0x9F; /* U+D800..U+DFFF are surrogates */
	} else if (c >= 0xF0 && c <= 0xF4) {
		need = 3;
		if (c == 0xF0)
			lo = 0x90; /* shorter forms are overlong */
		else if (c == 0xF4)
			hi = 0x8F; /* past U+10FFFF */
	} else {
		return 0; /* a continuation byte, C0/C1 (always overlong), F5..FF */
	}
	for (int k = 1; k <= need; k++) {
		if ((size_t)k >= avail)
			return UTF8_SHORT;
		unsigned char b = s[k];
		if (k == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF))
			return 0;
	}
	return need + 1;
}
