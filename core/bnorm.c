#include "core/bnorm.h"

#include "core/utf8.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

struct out {
	char *p;
	size_t len, cap; /* cap excludes the NUL */
	bool full;
};

static void emit(struct out *o, const char *s, size_t n)
{
	if (o->full)
		return;
	if (n > o->cap - o->len) {
		o->full = true;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

static bool is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Characters that end a chunk besides white space: brackets, quotes and URL
 * separators, so "[1.2.3.4]" or "query/ip/1.2.3.4" expose the address. */
static bool is_delim(unsigned char c)
{
	return c != '\0' && strchr("<>()[]{}\"',;=?&/|\\", c) != NULL;
}

static bool is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static char lower(unsigned char c)
{
	return (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
}

static bool is_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* "#" unless the output already ends in "#" or "#" plus one joiner, in
 * which case the joiner goes and the placeholder is shared. */
static void emit_hash(struct out *o)
{
	if (o->full)
		return;
	if (o->len >= 1 && o->p[o->len - 1] == '#')
		return;
	if (o->len >= 2 && o->p[o->len - 2] == '#' && strchr(".:-_", o->p[o->len - 1])) {
		o->len--;
		return;
	}
	emit(o, "#", 1);
}

static bool is_ip(const char *s, size_t n)
{
	char tmp[64];
	unsigned char addr[16];
	if (n == 0 || n >= sizeof tmp)
		return false;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	return inet_pton(AF_INET, tmp, addr) == 1 || inet_pton(AF_INET6, tmp, addr) == 1;
}

static bool is_addr(const char *s, size_t n)
{
	const char *at = memchr(s, '@', n);
	return at && at > s && (size_t)(at - s) < n - 1 &&
	       memchr(at + 1, '.', n - (size_t)(at - s) - 1);
}

/* One alphanumeric run: numbers and ids become "#", words stay. */
static void emit_token(struct out *o, const char *s, size_t n)
{
	size_t digits = 0, hex = 0;
	for (size_t i = 0; i < n; i++) {
		digits += s[i] >= '0' && s[i] <= '9';
		hex += is_hex((unsigned char)s[i]);
	}
	if (digits == n || (digits && (n >= 8 || (hex == n && n >= 6)))) {
		emit_hash(o);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		char c = lower((unsigned char)s[i]);
		emit(o, &c, 1);
	}
}

static void emit_chunk(struct out *o, const char *s, size_t n)
{
	/* Trailing sentence punctuation is not part of an address. */
	size_t core = n;
	while (core > 0 && strchr(".:", s[core - 1]))
		core--;
	if (core > 5 && strncasecmp(s, "ipv6:", 5) == 0 && is_ip(s + 5, core - 5)) {
		emit(o, "ipv6:<ip>", 9);
	} else if (is_ip(s, core)) {
		emit(o, "<ip>", 4);
	} else if (is_addr(s, core)) {
		emit(o, "<addr>", 6);
	} else {
		size_t i = 0;
		while (i < n) {
			unsigned char c = (unsigned char)s[i];
			if (is_alnum(c)) {
				size_t j = i;
				while (j < n && is_alnum((unsigned char)s[j]))
					j++;
				emit_token(o, s + i, j - i);
				i = j;
			} else {
				/* A whole character, or one stray byte: never
				 * swallow the ASCII after a broken lead byte. */
				int k = utf8_len((const unsigned char *)s + i, n - i);
				if (k <= 0)
					k = 1;
				emit(o, s + i, (size_t)k);
				i += (size_t)k;
			}
		}
		return;
	}
	for (size_t i = core; i < n; i++)
		emit(o, s + i, 1);
}

size_t bnorm_pattern(const char *text, char *out, size_t outsz)
{
	struct out o = {out, 0, outsz ? outsz - 1 : 0, outsz == 0};
	if (outsz == 0)
		return 0;
	const char *s = text ? text : "";
	size_t i = 0;
	while (s[i] && !o.full) {
		unsigned char c = (unsigned char)s[i];
		if (is_space(c)) {
			if (o.len > 0 && o.p[o.len - 1] != ' ')
				emit(&o, " ", 1);
			i++;
		} else if (is_delim(c)) {
			emit(&o, s + i, 1);
			i++;
		} else {
			size_t j = i;
			while (s[j] && !is_space((unsigned char)s[j]) &&
			       !is_delim((unsigned char)s[j]))
				j++;
			emit_chunk(&o, s + i, j - i);
			i = j;
		}
	}
	while (o.len > 0 && o.p[o.len - 1] == ' ')
		o.len--;
	out[o.len] = '\0';
	return o.len;
}
