/*
 * replyip: see core/replyip.h. A scan for candidate tokens (runs of hex
 * digits, '.' and ':'), each validated with inet_pton and accepted only in
 * a context that names the client.
 */
#include "core/replyip.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

static bool tokch(char c)
{
	return isxdigit((unsigned char)c) || c == '.' || c == ':';
}

/* The words that say "the address after me is the client's", lower case. */
static const char *const cues[] = {"ip address", "ip",      "host",   "from", "client",
                                   "sender",     "address", "source", NULL};

/* True when the text just before `start` (after skipping blanks and one
 * '(' or ':' or '=') ends with a cue word that starts at a word boundary. */
static bool cued(const char *text, const char *start)
{
	const char *p = start;
	while (p > text && (p[-1] == ' ' || p[-1] == '\t'))
		p--;
	if (p > text && (p[-1] == ':' || p[-1] == '(' || p[-1] == '='))
		p--;
	while (p > text && (p[-1] == ' ' || p[-1] == '\t'))
		p--;
	for (int i = 0; cues[i]; i++) {
		size_t n = strlen(cues[i]);
		if ((size_t)(p - text) < n)
			continue;
		const char *w = p - n;
		if (strncasecmp(w, cues[i], n) != 0)
			continue;
		if (w == text || !isalnum((unsigned char)w[-1]))
			return true;
	}
	return false;
}

/* "[addr]" or Gmail's "[addr      15]"; not "mx.example[addr]", the
 * host[address] notation MTAs use for the server they talked to. */
static bool bracketed(const char *text, const char *start, const char *end)
{
	if (start == text || start[-1] != '[')
		return false;
	if (start - 1 > text &&
	    (isalnum((unsigned char)start[-2]) || start[-2] == '.' || start[-2] == '-'))
		return false;
	const char *q = end;
	if (*q == ']')
		return true;
	if (*q != ' ')
		return false;
	while (*q == ' ')
		q++;
	while (isdigit((unsigned char)*q))
		q++;
	return *q == ']';
}

static bool usable(const char *addr)
{
	unsigned char b[16];
	if (inet_pton(AF_INET, addr, b) == 1)
		return b[0] != 127 && !(b[0] == 0 && b[1] == 0 && b[2] == 0 && b[3] == 0);
	if (inet_pton(AF_INET6, addr, b) == 1) {
		static const unsigned char zero[16], loop[16] = {[15] = 1};
		return memcmp(b, zero, 16) != 0 && memcmp(b, loop, 16) != 0;
	}
	return false;
}

int replyip_find(const char *text, const char *skip, char *out, size_t outsz)
{
	if (!text || !out || outsz < REPLYIP_MAX)
		return -1;
	const char *s = text;
	while (*s) {
		if (!tokch(*s) || (s > text && (isalnum((unsigned char)s[-1]) || s[-1] == '.'))) {
			s++;
			continue;
		}
		const char *e = s;
		while (tokch(*e))
			e++;
		size_t n = (size_t)(e - s);
		/* a trailing '.' or ':' ends the sentence, not the address */
		while (n > 0 && (s[n - 1] == '.' || (s[n - 1] == ':' && n > 1 && s[n - 2] != ':')))
			n--;
		if (n >= 3 && n < REPLYIP_MAX && !isalnum((unsigned char)s[n]) &&
		    (bracketed(text, s, s + n) || cued(text, s))) {
			char cand[REPLYIP_MAX];
			memcpy(cand, s, n);
			cand[n] = '\0';
			if (usable(cand) && !(skip && strcasecmp(cand, skip) == 0)) {
				memcpy(out, cand, n + 1);
				return 0;
			}
		}
		s = e > s ? e : s + 1;
	}
	return -1;
}
