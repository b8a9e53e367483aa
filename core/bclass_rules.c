/*
 * bclass_rules: the rule table — parsing data/bounce-rules.tsv (or a file
 * given with --rules) into rules sorted by priority and bucketed by the
 * reply's class digit, and each regex's prefilter: the literal strings one
 * of which must occur in any match, with their bigram masks. See
 * core/bclass.h; the classifier is core/bclass.c.
 */
#include "core/bclass_int.h"

#include "core/log.h"
#include "core/tsv.h"
#include "core/xalloc.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

extern const char bclass_rules_embedded[];
extern const size_t bclass_rules_embedded_len;

static const char *const classes[] = {"accepted",
                                      "deferred",
                                      "invalid_recipient",
                                      "mailbox_issue",
                                      "routing",
                                      "protocol",
                                      "size",
                                      "content",
                                      "auth_failure",
                                      "blocklisted",
                                      "reputation",
                                      "rate",
                                      "policy",
                                      "unknown",
                                      "complaint",
                                      NULL};
static const char *const severities[] = {"accepted", "watch", "clean", "escalate", NULL};
static const char *const actions[] = {"none",
                                      "retry",
                                      "suppress",
                                      "retry_then_suppress",
                                      "investigate_config",
                                      "investigate_content",
                                      "investigate_auth",
                                      "check_listing",
                                      "slow_down",
                                      "investigate",
                                      NULL};
static const char *const assets[] = {"ip",          "network",    "from_domain", "bounce_domain",
                                     "helo_domain", "url_domain", "domain",      NULL};

static bool in_vocab(const char *const *v, const char *s)
{
	for (; *v; v++)
		if (strcmp(*v, s) == 0)
			return true;
	return false;
}

static int parse_int(const char *s, size_t n, int *out)
{
	char tmp[16];
	if (n == 0 || n >= sizeof tmp)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return -1;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	errno = 0;
	long v = strtol(tmp, NULL, 10);
	if (errno || v < 0 || v > 99999)
		return -1;
	*out = (int)v;
	return 0;
}

/* "550", "5xx", "55x", "421,450" */
static int parse_reply_pat(struct rule *r, const char *s)
{
	if (strcmp(s, "*") == 0)
		return 0;
	const char *p = s;
	while (*p) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		if (n != 3 || r->n_reply == MAX_ALTS || !isdigit((unsigned char)p[0]))
			return -1;
		int lo = 0, hi = 0;
		for (int i = 0; i < 3; i++) {
			int mul = i == 0 ? 100 : i == 1 ? 10 : 1;
			if (isdigit((unsigned char)p[i])) {
				lo += (p[i] - '0') * mul;
				hi += (p[i] - '0') * mul;
			} else if (p[i] == 'x' || p[i] == 'X') {
				hi += 9 * mul;
			} else {
				return -1;
			}
		}
		r->reply[r->n_reply].lo = lo;
		r->reply[r->n_reply].hi = hi;
		r->n_reply++;
		p += n;
		if (*p == ',')
			p++;
	}
	return r->n_reply > 0 ? 0 : -1;
}

/* one part: "*", "7", "606-649" */
static int parse_part(const char *s, size_t n, struct range *out)
{
	if (n == 1 && s[0] == '*') {
		out->lo = out->hi = -1;
		return 0;
	}
	const char *dash = memchr(s, '-', n);
	if (!dash) {
		if (parse_int(s, n, &out->lo) < 0)
			return -1;
		out->hi = out->lo;
		return 0;
	}
	if (parse_int(s, (size_t)(dash - s), &out->lo) < 0 ||
	    parse_int(dash + 1, n - (size_t)(dash - s) - 1, &out->hi) < 0 || out->hi < out->lo)
		return -1;
	return 0;
}

/* "*", "-", "5.7.26", "*.7.26", "5.7.*", "5.7.606-649,4.7.26" */
static int parse_enh_pat(struct rule *r, const char *s)
{
	if (strcmp(s, "*") == 0) {
		r->enh_mode = 0;
		return 0;
	}
	if (strcmp(s, "-") == 0) {
		r->enh_mode = 1;
		return 0;
	}
	r->enh_mode = 2;
	const char *p = s;
	while (*p) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		if (n == 1 && p[0] == '-') {
			r->enh_or_none = true;
			p += n + (p[n] == ',');
			continue;
		}
		if (r->n_enh == MAX_ALTS)
			return -1;
		struct enh_alt *a = &r->enh[r->n_enh];
		const char *q = p;
		for (int i = 0; i < 3; i++) {
			const char *stop = q;
			while (stop < p + n && *stop != '.')
				stop++;
			if ((i < 2 && stop == p + n) || (i == 2 && stop != p + n))
				return -1;
			if (parse_part(q, (size_t)(stop - q), &a->part[i]) < 0)
				return -1;
			q = stop + 1;
		}
		r->n_enh++;
		p += n;
		if (*p == ',')
			p++;
	}
	return r->n_enh > 0 || r->enh_or_none ? 0 : -1;
}

/* Sets the bit of every (hashed) pair of adjacent bytes of s[0..n). A
 * literal can only occur in a text whose mask has all of its bits. */
void bclass_bigrams(const char *s, size_t n, uint64_t mask[4])
{
	for (size_t i = 0; i + 1 < n; i++) {
		unsigned h = ((unsigned char)s[i] * 31u + (unsigned char)s[i + 1]) & 255u;
		mask[h >> 6] |= (uint64_t)1 << (h & 63);
	}
}

/* Skips a bracket expression starting at s[i] == '['; returns the index after it. */
static size_t skip_bracket(const char *s, size_t i)
{
	i++;
	if (s[i] == '^')
		i++;
	if (s[i] == ']')
		i++;
	while (s[i] && s[i] != ']') {
		if (s[i] == '[' && (s[i + 1] == ':' || s[i + 1] == '.' || s[i + 1] == '=')) {
			char close = s[i + 1];
			i += 2;
			while (s[i] && !(s[i] == close && s[i + 1] == ']'))
				i++;
			if (s[i])
				i += 2;
			continue;
		}
		i++;
	}
	return s[i] ? i + 1 : i;
}

static size_t skip_group(const char *s, size_t i)
{
	int depth = 0;
	while (s[i]) {
		if (s[i] == '\\' && s[i + 1]) {
			i += 2;
			continue;
		}
		if (s[i] == '[') {
			i = skip_bracket(s, i);
			continue;
		}
		if (s[i] == '(')
			depth++;
		else if (s[i] == ')' && --depth == 0)
			return i + 1;
		i++;
	}
	return i;
}

/*
 * The longest run of plain characters in one top-level alternative of an
 * ERE that every match must contain (lower-cased). Groups, brackets and
 * anything quantified break a run; a quantified character is dropped.
 */
static char *alt_literal(const char *s, size_t n)
{
	char *alt = xstrndup(s, n);
	char best[256] = "", cur[256] = "";
	size_t blen = 0, clen = 0, i = 0;
#define FLUSH()                                                                                    \
	do {                                                                                       \
		if (clen > blen) {                                                                 \
			memcpy(best, cur, clen);                                                   \
			blen = clen;                                                               \
		}                                                                                  \
		clen = 0;                                                                          \
	} while (0)
	while (alt[i]) {
		unsigned char c = (unsigned char)alt[i];
		if (c == '(') {
			FLUSH();
			i = skip_group(alt, i);
		} else if (c == '[') {
			FLUSH();
			i = skip_bracket(alt, i);
		} else if (c == '*' || c == '?' || c == '{' || c == '+') {
			if (c != '+' && clen > 0)
				clen--;
			FLUSH();
			if (c == '{') {
				while (alt[i] && alt[i] != '}')
					i++;
			}
			if (alt[i])
				i++;
			continue;
		} else if (c == '.' || c == '^' || c == '$' || c >= 0x80) {
			FLUSH();
			i++;
		} else if (c == '\\') {
			unsigned char d = (unsigned char)alt[i + 1];
			if (d && !isalnum(d) && d < 0x80) {
				if (clen + 1 < sizeof cur)
					cur[clen++] = (char)d;
				i += 2;
			} else {
				FLUSH();
				i += d ? 2 : 1;
			}
			continue;
		} else {
			if (clen + 1 < sizeof cur)
				cur[clen++] = (char)tolower(c);
			i++;
			continue;
		}
		/* a quantifier after a group or bracket applies to it: skip it */
		if (alt[i] == '*' || alt[i] == '?' || alt[i] == '+')
			i++;
		else if (alt[i] == '{') {
			while (alt[i] && alt[i] != '}')
				i++;
			if (alt[i])
				i++;
		}
	}
	FLUSH();
#undef FLUSH
	free(alt);
	return blen >= MIN_LIT ? xstrndup(best, blen) : NULL;
}

static void build_literals(struct rule *r, const char *re)
{
	size_t start = 0, i = 0;
	int depth = 0;
	for (;; i++) {
		char c = re[i];
		if (c == '\\' && re[i + 1]) {
			i++;
			continue;
		}
		if (c == '[') {
			i = skip_bracket(re, i) - 1;
			continue;
		}
		if (c == '(')
			depth++;
		else if (c == ')')
			depth--;
		if (c == '\0' || (c == '|' && depth == 0)) {
			char *lit = r->n_lit < MAX_LITS ? alt_literal(re + start, i - start) : NULL;
			if (!lit) {
				/* one alternative without a literal: no prefilter */
				for (int k = 0; k < r->n_lit; k++)
					free(r->lit[k]);
				r->n_lit = 0;
				return;
			}
			memset(r->litmask[r->n_lit], 0, sizeof r->litmask[r->n_lit]);
			bclass_bigrams(lit, strlen(lit), r->litmask[r->n_lit]);
			r->lit[r->n_lit++] = lit;
			if (c == '\0')
				return;
			start = i + 1;
		}
	}
}

static void rule_free(struct rule *r)
{
	free(r->id);
	free(r->provider);
	if (r->has_re)
		regfree(&r->re);
	for (int k = 0; k < r->n_lit; k++)
		free(r->lit[k]);
	free(r->klass);
	free(r->sev_temp);
	free(r->sev_perm);
	free(r->action);
	free(r->listed_on);
	free(r->listed_asset);
}

void bclass_free(struct bclass *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++)
		rule_free(&t->rules[i]);
	free(t->rules);
	for (int d = 0; d < 10; d++)
		free(t->bucket[d]);
	free(t);
}

static char *opt_field(const char *s)
{
	return strcmp(s, "-") == 0 ? NULL : xstrdup(s);
}

#define NCOLS 12

static int parse_line(struct rule *r, char *line, size_t lineno, struct err *e)
{
	char *col[NCOLS];
	int n = tsv_split(line, col, NCOLS);
	memset(r, 0, sizeof *r);
	if (n != NCOLS)
		return err_set(e, ERR_CONFIG,
		               "bounce rules line %zu: want %d tab-separated columns", lineno,
		               NCOLS);
	r->line = lineno;
	r->id = xstrdup(col[0]);
	r->provider = strcmp(col[1], "*") == 0 ? NULL : xstrdup(col[1]);
	if (parse_reply_pat(r, col[2]) < 0)
		return err_set(e, ERR_CONFIG, "bounce rules line %zu (%s): bad reply pattern '%s'",
		               lineno, col[0], col[2]);
	if (parse_enh_pat(r, col[3]) < 0)
		return err_set(e, ERR_CONFIG,
		               "bounce rules line %zu (%s): bad enhanced-code pattern '%s'", lineno,
		               col[0], col[3]);
	if (strcmp(col[4], "*") != 0 && strcmp(col[4], "-") != 0) {
		int rc = regcomp(&r->re, col[4], REG_EXTENDED | REG_ICASE | REG_NOSUB);
		if (rc != 0) {
			char msg[128];
			regerror(rc, &r->re, msg, sizeof msg);
			return err_set(e, ERR_CONFIG, "bounce rules line %zu (%s): regex: %s",
			               lineno, col[0], msg);
		}
		r->has_re = true;
		build_literals(r, col[4]);
	}
	char *slash = strchr(col[6], '/');
	if (slash)
		*slash = '\0';
	const char *perm = slash ? slash + 1 : col[6];
	if (!in_vocab(classes, col[5]) || !in_vocab(severities, col[6]) ||
	    !in_vocab(severities, perm) || !in_vocab(actions, col[7]))
		return err_set(
		    e, ERR_CONFIG,
		    "bounce rules line %zu (%s): unknown class/severity/action '%s/%s/%s'", lineno,
		    col[0], col[5], col[6], col[7]);
	r->klass = xstrdup(col[5]);
	r->sev_temp = xstrdup(col[6]);
	r->sev_perm = xstrdup(perm);
	r->action = xstrdup(col[7]);
	if (strcmp(col[8], "yes") == 0)
		r->is_block = true;
	else if (strcmp(col[8], "no") != 0)
		return err_set(e, ERR_CONFIG, "bounce rules line %zu (%s): is_block must be yes|no",
		               lineno, col[0]);
	r->listed_on = opt_field(col[9]);
	r->listed_asset = opt_field(col[10]);
	if (r->listed_asset && !in_vocab(assets, r->listed_asset))
		return err_set(e, ERR_CONFIG, "bounce rules line %zu (%s): unknown asset '%s'",
		               lineno, col[0], r->listed_asset);
	char *end = NULL;
	errno = 0;
	r->priority = strtol(col[11], &end, 10);
	if (errno || end == col[11] || *end != '\0')
		return err_set(e, ERR_CONFIG, "bounce rules line %zu (%s): bad priority '%s'",
		               lineno, col[0], col[11]);
	return 0;
}

static int cmp_rule(const void *a, const void *b)
{
	const struct rule *x = a, *y = b;
	if (x->priority != y->priority)
		return x->priority > y->priority ? -1 : 1;
	return x->line < y->line ? -1 : x->line > y->line;
}

static bool reply_in_digit(const struct rule *r, int d)
{
	if (r->n_reply == 0)
		return true;
	if (d == 0)
		return false;
	for (int k = 0; k < r->n_reply; k++)
		if (r->reply[k].lo <= d * 100 + 99 && r->reply[k].hi >= d * 100)
			return true;
	return false;
}

int bclass_load(struct bclass **out, const char *text, size_t len, struct err *e)
{
	struct bclass *t = xcalloc(1, sizeof *t);
	size_t cap = 0, lineno = 0;
	char *line = NULL;
	int rc = -1;
	size_t off = 0, n;
	const char *s;
	while (tsv_next_line(text, len, &off, &s, &n)) {
		lineno++;
		if (memchr(s, '\0', n)) {
			err_set(e, ERR_CONFIG, "bounce rules line %zu: NUL byte", lineno);
			goto out;
		}
		if (n == 0 || s[0] == '#')
			continue;
		free(line);
		line = xstrndup(s, n);
		if (t->n == cap) {
			cap = cap ? cap * 2 : 64;
			t->rules = xrealloc(t->rules, cap * sizeof *t->rules);
		}
		if (parse_line(&t->rules[t->n], line, lineno, e) < 0) {
			t->n++; /* so bclass_free releases what was parsed */
			goto out;
		}
		for (size_t k = 0; k < t->n; k++)
			if (strcmp(t->rules[k].id, t->rules[t->n].id) == 0) {
				t->n++;
				err_set(e, ERR_CONFIG, "bounce rules line %zu: duplicate id '%s'",
				        lineno, t->rules[t->n - 1].id);
				goto out;
			}
		t->n++;
	}
	if (t->n == 0) {
		err_set(e, ERR_CONFIG, "bounce rules: no rules");
		goto out;
	}
	qsort(t->rules, t->n, sizeof *t->rules, cmp_rule);
	for (int d = 0; d < 10; d++) {
		t->bucket[d] = xcalloc(t->n, sizeof(struct rule *));
		for (size_t k = 0; k < t->n; k++)
			if (reply_in_digit(&t->rules[k], d))
				t->bucket[d][t->nbucket[d]++] = &t->rules[k];
	}
	*out = t;
	t = NULL;
	rc = 0;
out:
	free(line);
	bclass_free(t);
	return rc;
}

size_t bclass_rule_count(const struct bclass *t)
{
	return t->n;
}

const char *bclass_rule_id(const struct bclass *t, size_t i)
{
	return i < t->n ? t->rules[i].id : NULL;
}

static struct bclass *default_table;

const struct bclass *bclass_default(void)
{
	if (!default_table) {
		struct err e = {0};
		if (bclass_load(&default_table, bclass_rules_embedded, bclass_rules_embedded_len,
		                &e) < 0)
			panic("embedded bounce rules: %s", e.msg);
	}
	return default_table;
}
