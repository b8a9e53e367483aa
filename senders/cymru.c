/*
 * cymru: see cymru.h.
 */
#include "senders/cymru.h"

#include <ctype.h>
#include <string.h>

/* Field `idx` (0-based) of a '|'-separated line, trimmed: start and length. */
static int field(const char *s, int idx, const char **start, size_t *len)
{
	for (int i = 0; i < idx; i++) {
		s = strchr(s, '|');
		if (!s)
			return -1;
		s++;
	}
	const char *end = strchr(s, '|');
	if (!end)
		end = s + strlen(s);
	while (s < end && isspace((unsigned char)*s))
		s++;
	while (end > s && isspace((unsigned char)end[-1]))
		end--;
	*start = s;
	*len = (size_t)(end - s);
	return 0;
}

int cymru_origin(const char *txt, uint32_t *asn, char country[3])
{
	const char *f;
	size_t n;
	*asn = 0;
	country[0] = '\0';
	if (field(txt, 0, &f, &n) != 0 || n == 0 || !isdigit((unsigned char)*f))
		return -1;
	uint64_t v = 0;
	for (size_t i = 0; i < n && isdigit((unsigned char)f[i]); i++) {
		v = v * 10 + (uint64_t)(f[i] - '0');
		if (v > UINT32_MAX)
			return -1;
	}
	if (v == 0)
		return -1;
	*asn = (uint32_t)v;
	if (field(txt, 2, &f, &n) == 0 && n == 2 && isalpha((unsigned char)f[0]) &&
	    isalpha((unsigned char)f[1])) {
		country[0] = (char)toupper((unsigned char)f[0]);
		country[1] = (char)toupper((unsigned char)f[1]);
		country[2] = '\0';
	}
	return 0;
}

int cymru_asname(const char *txt, char *out, size_t outsz)
{
	const char *f;
	size_t n;
	if (outsz == 0 || field(txt, 4, &f, &n) != 0 || n == 0)
		return -1;
	if (n >= outsz)
		n = outsz - 1;
	size_t o = 0;
	/* Control bytes never reach a terminal or a report. */
	for (size_t i = 0; i < n; i++) {
		char c = f[i];
		if ((unsigned char)c < 0x20 || c == 0x7f)
			c = '?';
		out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}
