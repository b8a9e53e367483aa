/*
 * bclass: the classifier over a rule table (core/bclass_rules.c loads it),
 * and the readers of reply texts. See core/bclass.h.
 *
 * Speed matters (a log is classified at more than a million lines a second):
 * rules are sorted by priority once, bucketed by the class digit of the reply
 * so a 250 never looks at a 5xx rule, the cheap code checks run before any
 * regex, and each regex carries the literal strings one of which must occur
 * in any match, so most regexes are skipped by a strstr on the lower-cased
 * text.
 */
#include "core/bclass_int.h"

#include "core/log.h"
#include "core/tsv.h"
#include "core/xalloc.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <regex.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* "5.7.26" → parts; returns 0 when well-formed. */
static int parse_enh(const char *s, int part[3])
{
	if (!s)
		return -1;
	for (int i = 0; i < 3; i++) {
		int v = 0, nd = 0;
		while (isdigit((unsigned char)*s) && nd < 4) {
			v = v * 10 + (*s - '0');
			s++;
			nd++;
		}
		if (nd == 0 || (i < 2 && *s != '.') || (i == 2 && isdigit((unsigned char)*s)))
			return -1;
		part[i] = v;
		if (i < 2)
			s++;
	}
	return 0;
}

static bool match_codes(const struct rule *r, int code, bool have_enh, const int enh[3])
{
	if (r->n_reply > 0) {
		bool ok = false;
		for (int k = 0; k < r->n_reply && !ok; k++) {
			const struct range *g = &r->reply[k];
			if (code != 0)
				ok = code >= g->lo && code <= g->hi;
			else if (have_enh) /* no reply code: a whole-hundred pattern may match */
				ok = g->lo <= enh[0] * 100 && g->hi >= enh[0] * 100 + 99;
		}
		if (!ok)
			return false;
	}
	if (r->enh_mode == 1)
		return !have_enh;
	if (r->enh_mode == 2) {
		if (!have_enh)
			return r->enh_or_none;
		for (int k = 0; k < r->n_enh; k++) {
			bool ok = true;
			for (int i = 0; i < 3 && ok; i++) {
				const struct range *g = &r->enh[k].part[i];
				ok = g->lo < 0 || (enh[i] >= g->lo && enh[i] <= g->hi);
			}
			if (ok)
				return true;
		}
		return false;
	}
	return true;
}

void bclass_classify(const struct bclass *t, int reply_code, const char *enhanced_code,
                     const char *text, const char *provider, struct bounce_verdict *out)
{
	int enh[3] = {0, 0, 0};
	bool have_enh = parse_enh(enhanced_code, enh) == 0;
	if (reply_code < 100 || reply_code > 999)
		reply_code = 0;
	/* RFC 3463: the classes must agree; trust the reply code for temp/perm */
	if (have_enh && reply_code >= 200 && reply_code < 600)
		enh[0] = reply_code / 100;
	int digit = reply_code ? reply_code / 100 : have_enh && enh[0] < 10 ? enh[0] : 0;
	if (!text)
		text = "";
	/* runs of blanks (an unfolded header, a re-wrapped notice) match as one
	 * space, so rules can spell phrases with single spaces */
	char squeezed[LOWER_MAX];
	bool runs = false;
	for (const char *q = text; *q && !runs; q++)
		runs = (*q == ' ' && q[1] == ' ') || *q == '\t' || *q == '\n' || *q == '\r';
	size_t tl = strlen(text);
	if (runs && tl < sizeof squeezed) {
		size_t o = 0;
		for (const char *q = text; *q; q++) {
			char c = *q;
			if (c == '\t' || c == '\n' || c == '\r')
				c = ' ';
			if (c == ' ' && o > 0 && squeezed[o - 1] == ' ')
				continue;
			squeezed[o++] = c;
		}
		squeezed[o] = '\0';
		text = squeezed;
		tl = o;
	}
	/* lower-cased on first need: most lines are decided before any regex */
	char lower[LOWER_MAX];
	bool can_prefilter = tl < sizeof lower, lowered = false;
	uint64_t mask[4] = {0, 0, 0, 0};
	memset(out, 0, sizeof *out);
	out->klass = "unknown";
	out->severity = "watch";
	out->action = "investigate";
	for (size_t k = 0; k < t->nbucket[digit]; k++) {
		const struct rule *r = t->bucket[digit][k];
		if (r->provider && (!provider || strcasecmp(r->provider, provider) != 0))
			continue;
		if (!match_codes(r, reply_code, have_enh, enh))
			continue;
		if (r->has_re) {
			if (can_prefilter && r->n_lit > 0) {
				if (!lowered) {
					for (size_t i = 0; i < tl; i++)
						lower[i] = (char)tolower((unsigned char)text[i]);
					lower[tl] = '\0';
					bclass_bigrams(lower, tl, mask);
					lowered = true;
				}
				bool hit = false;
				for (int i = 0; i < r->n_lit && !hit; i++) {
					const uint64_t *m = r->litmask[i];
					if ((m[0] & ~mask[0]) | (m[1] & ~mask[1]) |
					    (m[2] & ~mask[2]) | (m[3] & ~mask[3]))
						continue;
					hit = strstr(lower, r->lit[i]) != NULL;
				}
				if (!hit)
					continue;
			}
			if (regexec(&r->re, text, 0, NULL, 0) != 0)
				continue;
		}
		out->klass = r->klass;
		out->severity = digit == 4 ? r->sev_temp : r->sev_perm;
		out->action = r->action;
		/* a temporary failure is retried, never a reason to suppress */
		if (digit == 4 && strcmp(r->action, "suppress") == 0)
			out->action = "retry";
		out->is_block = r->is_block;
		out->listed_on = r->listed_on;
		out->listed_asset = r->listed_asset;
		out->rule = r->id;
		out->provider = r->provider;
		return;
	}
}

/* Reads "D.D{1,3}.D{1,3}" at s; returns its length or 0. */
static size_t enh_at(const char *s)
{
	size_t i = 0;
	if (!(s[0] == '2' || s[0] == '4' || s[0] == '5') || s[1] != '.')
		return 0;
	i = 2;
	for (int part = 0; part < 2; part++) {
		size_t nd = 0;
		while (isdigit((unsigned char)s[i]) && nd < 3) {
			i++;
			nd++;
		}
		if (nd == 0)
			return 0;
		if (part == 0) {
			if (s[i] != '.')
				return 0;
			i++;
		}
	}
	if (isdigit((unsigned char)s[i]) || (s[i] == '.' && isdigit((unsigned char)s[i + 1])))
		return 0;
	return i;
}

int bclass_find_enhanced(const char *text, char *out, size_t outsz)
{
	for (const char *p = text; *p; p++) {
		if (p != text && (isalnum((unsigned char)p[-1]) || p[-1] == '.'))
			continue;
		size_t n = enh_at(p);
		if (n && n < outsz) {
			memcpy(out, p, n);
			out[n] = '\0';
			return 0;
		}
	}
	return -1;
}

int bclass_split_reply(const char *line, struct bclass_reply *r)
{
	const char *p = line;
	r->code = 0;
	r->enhanced[0] = '\0';
	r->text = line;
	while (*p == ' ' || *p == '\t')
		p++;
	if (isdigit((unsigned char)p[0]) && isdigit((unsigned char)p[1]) &&
	    isdigit((unsigned char)p[2]) && !isdigit((unsigned char)p[3]) && p[3] != '.') {
		r->code = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
		p += 3;
		if (*p == '-' || *p == ' ')
			p++;
		while (*p == ' ')
			p++;
	}
	if (*p == '#')
		p++;
	size_t n = enh_at(p);
	if (n && n < sizeof r->enhanced) {
		memcpy(r->enhanced, p, n);
		r->enhanced[n] = '\0';
		p += n;
	}
	if (r->code == 0 && r->enhanced[0] == '\0')
		return -1;
	while (*p == ' ' || *p == '\t')
		p++;
	r->text = p;
	return 0;
}

/* Case-insensitive strstr. */
static const char *find_ci(const char *hay, const char *needle)
{
	size_t n = strlen(needle);
	for (; *hay; hay++)
		if (strncasecmp(hay, needle, n) == 0)
			return hay;
	return NULL;
}

/* The verdict word at s (after blanks): "pass" vs anything else that is a
 * result ("fail", "did not pass", "softfail", "none", "temperror" ...). */
static enum bclass_auth verdict_at(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	if (strncasecmp(s, "pass", 4) == 0 && !isalpha((unsigned char)s[4]))
		return BCLASS_AUTH_PASS;
	static const char *const fails[] = {"did not pass", "didn't pass", "fail",
	                                    "softfail",     "none",        "neutral",
	                                    "temperror",    "permerror",   NULL};
	for (const char *const *f = fails; *f; f++)
		if (strncasecmp(s, *f, strlen(*f)) == 0)
			return BCLASS_AUTH_FAIL;
	return BCLASS_AUTH_UNKNOWN;
}

/* The first "=" after `key` (within a short distance), then its verdict. */
static enum bclass_auth keyed(const char *text, const char *key, size_t reach)
{
	for (const char *k = find_ci(text, key); k; k = find_ci(k + 1, key)) {
		const char *s = k + strlen(key);
		for (size_t i = 0; s[i] && i < reach; i++) {
			/* another mechanism first: this key has no verdict here */
			if (strncasecmp(s + i, "spf", 3) == 0 ||
			    strncasecmp(s + i, "dkim", 4) == 0 ||
			    strncasecmp(s + i, "dmarc", 5) == 0)
				break;
			if (s[i] == '=') {
				enum bclass_auth v = verdict_at(s + i + 1);
				if (v != BCLASS_AUTH_UNKNOWN)
					return v;
				break;
			}
		}
	}
	return BCLASS_AUTH_UNKNOWN;
}

int bclass_auth_evidence(const char *text, struct bclass_auth_evidence *out)
{
	memset(out, 0, sizeof *out);
	if (!text)
		return 0;
	const char *results = find_ci(text, "authentication results");
	if (results) /* Gmail names the mechanisms before it, without verdicts */
		text = results;
	/* "SPF result = x" first: in "SPF domain = d" the "=" holds no verdict;
	 * Gmail's "SPF [d] with ip: [ip] = x" needs a longer reach */
	out->spf = keyed(text, "spf result", 8);
	if (out->spf == BCLASS_AUTH_UNKNOWN)
		out->spf = keyed(text, "spf", 120);
	out->dkim = keyed(text, "dkim", 8);
	out->dmarc = keyed(text, "dmarc", 8);
	return (out->spf != BCLASS_AUTH_UNKNOWN) + (out->dkim != BCLASS_AUTH_UNKNOWN) +
	       (out->dmarc != BCLASS_AUTH_UNKNOWN);
}
