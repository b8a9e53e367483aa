/*
 * orgdomain: see orgdomain.h.
 */
#include "senders/orgdomain.h"

#include <ctype.h>
#include <libpsl.h>
#include <string.h>

static const psl_ctx_t *ctx(void)
{
	static const psl_ctx_t *c;
	if (!c)
		c = psl_latest(NULL);
	if (!c)
		c = psl_builtin();
	return c;
}

int orgdomain_of(const char *name, char *out, size_t outsz)
{
	char low[256];
	size_t n = name ? strlen(name) : 0;
	if (n && name[n - 1] == '.')
		n--;
	if (n == 0 || n >= sizeof low)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		/* Names only: an address or a stray space has no org domain. */
		if (!(isalnum(c) || c == '-' || c == '_' || c == '.' || c >= 0x80))
			return -1;
		low[i] = (char)tolower(c);
	}
	low[n] = '\0';
	if (strspn(low, "0123456789.") == n)
		return -1;
	const char *reg = psl_registrable_domain(ctx(), low);
	if (!reg)
		return -1;
	size_t rl = strlen(reg);
	if (rl >= outsz)
		return -1;
	memcpy(out, reg, rl + 1);
	return 0;
}
