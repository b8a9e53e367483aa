/*
 * bclass: rule table parsing and the classifier. See core/bclass.h.
 *
 * Speed matters (a log is classified at more than a million lines a second):
 * rules are sorted by priority once, bucketed by the class digit of the reply
 * so a 250 never looks at a 5xx rule, the cheap code checks run before any
 * regex, and each regex carries the literal strings one of which must occur
 * in any match, so most regexes are skipped by a strstr on the lower-cased
 * text.
 */
#include "core/bclass.h"

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

extern const char bclass_rules_embedded[];
extern const size_t bclass_rules_embedded_len;

#define MAX_ALTS  12
#define MAX_LITS  16
#define MIN_LIT   3
#define LOWER_MAX 4096

struct range {
	int lo, hi;
};

struct enh_alt {
	struct range part[3]; /* lo = -1: any */
};

struct rule {
	char *id;
	char *provider; /* NULL: any */
	int n_reply;    /* 0: any */
	struct range reply[MAX_ALTS];
	int enh_mode;     /* 0 any, 1 must be absent, 2 listed alternatives */
	bool enh_or_none; /* mode 2: "-" was one of the alternatives */
	int n_enh;
	struct enh_alt enh[MAX_ALTS];
	bool has_re;
	regex_t re;
	int n_lit; /* 0: no prefilter */
	char *lit[MAX_LITS];
	uint64_t litmask[MAX_LITS][4]; /* the bigrams of each literal, hashed */
	char *klass, *sev_temp, *sev_perm, *action, *listed_on, *listed_asset;
	bool is_block;
	long priority;
	size_t line;
};

struct bclass {
	size_t n;
	struct rule *rules;       /* sorted: priority desc, then file order */
	struct rule **bucket[10]; /* by class digit; [0] = no code known */
	size_t nbucket[10];
};

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
static void bigrams(const char *s, size_t n, uint64_t mask[4])
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
			bigrams(lit, strlen(lit), r->litmask[r->n_lit]);
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
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		lineno++;
		free(line);
		line = xstrndup(p, n);
		p += n + (nl ? 1 : 0);
		size_t l = strlen(line);
		if (l != n) {
			err_set(e, ERR_CONFIG, "bounce rules line %zu: NUL byte", lineno);
			goto out;
		}
		if (l > 0 && line[l - 1] == '\r')
			line[--l] = '\0';
		if (l == 0 || line[0] == '#')
			continue;
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
					bigrams(lower, tl, mask);
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
