/*
 * bounce_text: see bounce_text.h. The layout knowledge is in the pattern
 * tables at the top (signatures per family, recipient labels and lead-in
 * phrases, where the returned message starts, delay wording); the engine
 * below them is the same for every family.
 */
#include "ingest/bounce_text.h"

#include "core/bclass.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/smtp_reply.h"
#include "core/xalloc.h"

#include <ctype.h>
#include <glib.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define TEXT_MAX   ((size_t)256 * 1024) /* a notice's preface is short; the rest is the copy */
#define LINES_MAX  4000
#define RCPT_MAX   200
#define REASON_MAX 1000

#include "ingest/bounce_text_int.h"

struct line {
	char *s; /* NUL-terminated, right-trimmed */
	size_t indent;
};

/* ------------------------------------------------------------------ */
/* addresses */

static bool local_char(unsigned char c)
{
	/* bytes >= 0x80: UTF-8 local parts (RFC 6531) */
	return isalnum(c) || c >= 0x80 || c == '.' || c == '_' || c == '%' || c == '+' ||
	       c == '-' || c == '=';
}

static bool domain_char(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '.';
}

/* The next address in s at or after *pos: its start and length. */
static bool next_addr(const char *s, size_t *pos, size_t *as, size_t *al)
{
	for (const char *at = strchr(s + *pos, '@'); at; at = strchr(at + 1, '@')) {
		size_t a = (size_t)(at - s), b = a;
		while (b > *pos && local_char((unsigned char)s[b - 1]))
			b--;
		while (b < a && s[b] == '.')
			b++;
		size_t e = a + 1;
		while (domain_char((unsigned char)s[e]))
			e++;
		while (e > a + 1 && (s[e - 1] == '.' || s[e - 1] == '-'))
			e--;
		if (b == a || e == a + 1)
			continue;
		/* a domain with a dot and an alphabetic top-level label */
		const char *dot = NULL;
		for (size_t k = a + 1; k < e; k++)
			if (s[k] == '.')
				dot = s + k;
		if (!dot || dot == at + 1 || (size_t)(s + e - dot - 1) < 2)
			continue;
		bool alpha = true;
		for (const char *k = dot + 1; k < s + e; k++)
			if (!isalpha((unsigned char)*k) && *k != '-')
				alpha = false;
		if (!alpha || strstr(s + a, "..") == s + a)
			continue;
		*as = b;
		*al = e - b;
		*pos = e;
		return true;
	}
	return false;
}

static bool role_address(const char *addr)
{
	static const char *const roles[] = {"postmaster@", "mailer-daemon@", "hostmaster@",
	                                    "abuse@",      "noreply@",       "no-reply@",
	                                    "webmaster@",  "mail-daemon@",   NULL};
	for (const char *const *r = roles; *r; r++)
		if (strncasecmp(addr, *r, strlen(*r)) == 0)
			return true;
	return false;
}

static bool skipped(const char *addr, size_t n, const char *const *skip)
{
	for (; skip && *skip; skip++)
		if (strlen(*skip) == n && strncasecmp(*skip, addr, n) == 0)
			return true;
	return false;
}

/*
 * Whether the address at s[a..a+n) stands where notices put a recipient:
 * alone (indented, bracketed, with ':' / " on DATE" / a reason after it),
 * after a recipient label or a delivery lead-in, or before Sendmail's
 * "...".
 */
static bool is_anchor(const char *s, size_t a, size_t n)
{
	size_t e = a + n;
	while (s[e] == '>')
		e++;
	if (strncmp(s + e, "...", 3) == 0)
		return true;
	/* what stands before it, without brackets, quotes and "mailto:" */
	size_t b = a;
	while (b > 0 && (s[b - 1] == '<' || s[b - 1] == '"' || s[b - 1] == '\'' ||
	                 s[b - 1] == ' ' || s[b - 1] == '\t' || s[b - 1] == '(' ||
	                 s[b - 1] == '[' || s[b - 1] == '*' || s[b - 1] == '-' || s[b - 1] == 0x7f))
		b--;
	if (b >= 7 && strncasecmp(s + b - 7, "mailto:", 7) == 0)
		return false; /* the second half of "addr<mailto:addr>" */
	if (b == 0)
		return true;
	char tail[72];
	size_t from = b > 64 ? b - 64 : 0, k = 0;
	for (size_t i = from; i < b && k + 1 < sizeof tail; i++)
		tail[k++] = (char)tolower((unsigned char)s[i]);
	tail[k] = '\0';
	/* the sender, never a recipient */
	if (strstr(tail, "mail from") || strstr(tail, "return-path") || strstr(tail, "sender"))
		return false;
	if (regexec(&btext_re_label, tail, 0, NULL, 0) == 0)
		return true;
	return regexec(&btext_re_lead, tail, 0, NULL, 0) == 0;
}

/* ------------------------------------------------------------------ */
/* reply codes */

static bool word_before(const char *t, size_t j, const char *w)
{
	size_t n = strlen(w);
	return j + 1 >= n && strncasecmp(t + j + 1 - n, w, n) == 0 &&
	       (j + 1 == n || !isalpha((unsigned char)t[j - n]));
}

/* Where an SMTP reply starts in t: a 2xx/4xx/5xx code standing where
 * replies stand (line start, after ':', '(', quotes, "<<<", "said",
 * "returned", "#"), or an enhanced code at the line start. -1 if none. */
static long reply_at(const char *t)
{
	size_t st = 0;
	while (t[st] == ' ' || t[st] == '\t')
		st++;
	if (t[st] == '#')
		st++;
	char enh[16];
	if (bclass_find_enhanced(t + st, enh, sizeof enh) == 0 &&
	    strncmp(t + st, enh, strlen(enh)) == 0)
		return (long)st;
	for (size_t i = 0; t[i]; i++) {
		const char *c = t + i;
		if (!(c[0] == '2' || c[0] == '4' || c[0] == '5') || c[1] < '0' || c[1] > '5' ||
		    !isdigit((unsigned char)c[2]))
			continue;
		if (i > 0 && (isalnum((unsigned char)t[i - 1]) || t[i - 1] == '.' ||
		              t[i - 1] == '-' || t[i - 1] == '/' || t[i - 1] == '_'))
			continue;
		char nx = c[3];
		if (!(nx == ' ' || nx == '-' || nx == ',' || nx == ')' || nx == '\'' || nx == '"' ||
		      nx == '\0' || nx == '\t'))
			continue;
		if (nx == '-' && !isdigit((unsigned char)c[4]) && c[4] != ' ')
			continue;
		long j = (long)i - 1;
		while (j >= 0 && (t[j] == ' ' || t[j] == '\t'))
			j--;
		bool sentence_end = j >= 0 && t[j] == '.' && (size_t)j + 1 < i && t[j + 1] == ' ';
		if (j < 0 || strchr(":('\"<>[#=", t[j]) || sentence_end ||
		    word_before(t, (size_t)j, "said") || word_before(t, (size_t)j, "returned") ||
		    word_before(t, (size_t)j, "reply") || word_before(t, (size_t)j, "response") ||
		    word_before(t, (size_t)j, "error") || word_before(t, (size_t)j, "code") ||
		    word_before(t, (size_t)j, "status") || word_before(t, (size_t)j, "was"))
			return (long)i;
	}
	return -1;
}

static bool blank(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return *s == '\0';
}

static const char *skip_ws(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

/* The dialogue markers and labels a reply line may carry before its code. */
static const char *strip_marks(const char *s)
{
	s = skip_ws(s);
	static const char *const marks[] = {"Received >>>", "In >>>", "<<<", ">>>", NULL};
	for (const char *const *m = marks; *m; m++)
		if (strncasecmp(s, *m, strlen(*m)) == 0)
			return skip_ws(s + strlen(*m));
	return s;
}

static bool our_command(const char *s)
{
	s = skip_ws(s);
	return strncasecmp(s, "Sent <<<", 8) == 0 || strncasecmp(s, "Out <<<", 7) == 0 ||
	       strncmp(s, ">>>", 3) == 0;
}

static bool separator(const char *s)
{
	s = skip_ws(s);
	size_t n = 0;
	while (s[n] == '-' || s[n] == '=' || s[n] == '_' || s[n] == '*')
		n++;
	return n >= 3;
}

/* Lines that are the notice's own words after a reply, not a wrapped part of it. */
static bool boilerplate(const char *s)
{
	static const char *const lead[] = {"giving up on",
	                                   "i'm not going to try again",
	                                   "this is a permanent error",
	                                   "please ",
	                                   "for more ",
	                                   "for further ",
	                                   "to learn more",
	                                   "learn more",
	                                   "if you ",
	                                   "you can ",
	                                   "the mail system",
	                                   "your message",
	                                   "message will be retried",
	                                   "warning: message",
	                                   "will keep trying",
	                                   "this is a warning",
	                                   "note:",
	                                   NULL};
	s = skip_ws(s);
	for (const char *const *l = lead; *l; l++)
		if (strncasecmp(s, *l, strlen(*l)) == 0)
			return true;
	return false;
}

/* A label on a line of its own ("because:", "Reason:"), not a reason. */
static bool label_only(const char *s)
{
	s = skip_ws(s);
	size_t n = strlen(s);
	if (n == 0 || s[n - 1] != ':' || n > 48)
		return false;
	int words = 1;
	for (size_t i = 0; i < n; i++)
		if (s[i] == ' ')
			words++;
	return words <= 6;
}

struct reason {
	int code;
	char enh[16];
	char *text;  /* owned; NULL when none */
	int score;   /* 3 code+enh, 2 code, 1 enhanced, 0 text only, -1 nothing */
	size_t line; /* where the reply stands */
};

static void reason_free(struct reason *r)
{
	free(r->text);
	memset(r, 0, sizeof *r);
	r->score = -1;
}

/* Collapses runs of blanks into one space and trims. */
static void collapse(char *s)
{
	size_t o = 0;
	bool sp = true;
	for (size_t i = 0; s[i]; i++) {
		char c = s[i];
		if (c == '\t' || c == '\r' || c == '\n')
			c = ' ';
		if (c == ' ' && sp)
			continue;
		sp = c == ' ';
		s[o++] = c;
	}
	while (o > 0 && s[o - 1] == ' ')
		o--;
	s[o] = '\0';
	if (o > REASON_MAX)
		s[REASON_MAX] = '\0';
}

/* Prefers a specific enhanced code found anywhere in the block over a
 * missing one or an X.0.0. */
static void better_enhanced(struct reason *r, struct line *L, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++) {
		const char *p = L[i].s;
		char enh[16];
		while (bclass_find_enhanced(p, enh, sizeof enh) == 0) {
			bool generic = strcmp(enh + 1, ".0.0") == 0;
			if (!r->enh[0] || (strcmp(r->enh + 1, ".0.0") == 0 && !generic)) {
				if (!r->code || enh[0] == '0' + r->code / 100 || !r->enh[0])
					memcpy(r->enh, enh, sizeof enh);
			}
			const char *hit = strstr(p, enh);
			p = hit ? hit + strlen(enh) : p + strlen(p);
		}
	}
}

/*
 * The reason in lines [from, to): the first SMTP reply with its
 * continuation ("550-" lines, wrapped lines), else the first paragraph
 * that is not a label.
 */
static void block_reason(struct line *L, size_t from, size_t to, size_t anchor_line,
                         const char *anchor_rest, struct reason *r)
{
	reason_free(r);
	/* a failing reply first: a quoted dialogue has 250s before it */
	size_t pick = to;
	for (int pass = 0; pass < 2 && pick == to; pass++)
		for (size_t i = from; i < to && pick == to; i++) {
			if (our_command(L[i].s))
				continue;
			const char *t = strip_marks(L[i].s);
			long at = reply_at(t);
			if (at >= 0 && (pass == 1 || t[at] == '4' || t[at] == '5'))
				pick = i;
		}
	for (size_t i = pick; i < to; i++) {
		const char *t = strip_marks(L[i].s);
		long at = reply_at(t);
		if (at < 0)
			continue;
		struct buf b;
		buf_init(&b, 0);
		const char *start = t + at;
		char quote = '\0';
		if (at > 0 && (t[at - 1] == '\'' || t[at - 1] == '('))
			quote = t[at - 1];
		buf_puts(&b, start);
		struct bclass_reply first;
		bclass_split_reply(start, &first);
		size_t prev_len = strlen(L[i].s);
		for (size_t k = i + 1; k < to; k++) {
			const char *u = L[k].s;
			if (blank(u) || our_command(u) || separator(u) || boilerplate(u))
				break;
			const char *v = strip_marks(u);
			struct bclass_reply cur;
			bool coded = reply_at(v) == 0 && bclass_split_reply(v, &cur) == 0;
			if (coded && first.code && cur.code == first.code &&
			    (v[3] == '-' || v[3] == ' ' || first.text[0] == '\0')) {
				buf_putc(&b, '\n');
				buf_puts(&b, v);
				prev_len = strlen(u);
				continue;
			}
			if (coded || prev_len < 60 || L[k].indent < L[i].indent || label_only(u))
				break;
			/* a long line followed by one as indented: wrapped */
			buf_putc(&b, ' ');
			buf_puts(&b, skip_ws(u));
			prev_len = strlen(u);
		}
		struct buf j;
		buf_init(&j, 0);
		smtp_reply_join(b.data ? b.data : "", &j);
		buf_free(&b);
		char *joined = buf_steal(&j);
		size_t jl = strlen(joined);
		if (quote && jl > 0 && joined[jl - 1] == (quote == '(' ? ')' : quote))
			joined[jl - 1] = '\0';
		/* Zoho's "550, ERROR_CODE :5.1.1 text": the labels are not text */
		for (char *lab; (lab = strstr(joined, "ERROR_CODE :")) != NULL;) {
			char *from_ = lab;
			while (from_ > joined && (from_[-1] == ' ' || from_[-1] == ','))
				from_--;
			char *to_ = lab + strlen("ERROR_CODE :");
			memmove(from_ + 1, to_, strlen(to_) + 1);
			*from_ = ' ';
		}
		collapse(joined);
		int depth = 0;
		for (const char *c = joined; *c; c++)
			depth += *c == '(' ? 1 : *c == ')' ? -1 : 0;
		size_t jn = strlen(joined);
		if (depth < 0 && jn > 0 && joined[jn - 1] == ')')
			joined[jn - 1] = '\0'; /* "(reason: 550 ...)": the closing one */
		struct bclass_reply sp;
		if (bclass_split_reply(joined, &sp) == 0) {
			r->code = sp.code;
			memcpy(r->enh, sp.enhanced, sizeof r->enh);
		}
		r->text = joined;
		r->line = i;
		better_enhanced(r, L, from, to);
		r->score = r->code && r->enh[0] ? 3 : r->code ? 2 : r->enh[0] ? 1 : 0;
		/* a 250 quoted from the dialogue says nothing about the failure */
		if (r->code >= 200 && r->code < 300)
			r->score = -1;
		return;
	}
	/* no reply: the first paragraph of words */
	struct buf b;
	buf_init(&b, 0);
	for (size_t i = from; i < to; i++) {
		const char *t = i == anchor_line ? anchor_rest : L[i].s;
		if (!t || blank(t)) {
			if (b.len)
				break;
			continue;
		}
		if (label_only(t) || our_command(t) || separator(t) || boilerplate(t))
			continue;
		while (*t == ' ' || *t == '.' || *t == ':' || *t == ',')
			t++; /* what stood between the address and its reason */
		if (b.len)
			buf_putc(&b, ' ');
		buf_puts(&b, skip_ws(t));
		if (b.len > REASON_MAX)
			break;
	}
	if (b.len) {
		r->text = xstrdup(b.data);
		collapse(r->text);
		better_enhanced(r, L, from, to);
		r->score = r->enh[0] ? 1 : 0;
	}
	buf_free(&b);
}

/* The receiving host the block names: on the line that introduces the
 * block ("... while talking to mx.example.org.:"), or between the
 * recipient and its reply — never one further on, which introduces the
 * next recipient's dialogue. */
static void block_host(struct line *L, size_t from, size_t to, size_t upto, char **mta, char **ip)
{
	size_t first = from;
	if (from > 0) {
		size_t l = strlen(L[from - 1].s);
		if (l > 0 && L[from - 1].s[l - 1] == ':')
			first = from - 1;
	}
	if (upto < to)
		to = upto + 1;
	for (size_t i = first; i < to; i++) {
		regmatch_t m[5];
		const char *s = L[i].s;
		if (regexec(&btext_re_host, s, 5, m, 0) != 0 || m[2].rm_so < 0)
			continue;
		size_t n = (size_t)(m[2].rm_eo - m[2].rm_so);
		const char *h = s + m[2].rm_so;
		if (!memchr(h, '.', n) || isdigit((unsigned char)h[n - 1]))
			continue; /* a bare word or an IP, not a host name */
		*mta = xstrndup(h, n);
		if (m[4].rm_so >= 0)
			*ip = xstrndup(s + m[4].rm_so, (size_t)(m[4].rm_eo - m[4].rm_so));
		return;
	}
}

/* ------------------------------------------------------------------ */

struct rcpt_acc {
	char *addr;
	struct reason best;
	size_t first_line;
	bool delayed;
	bool empty; /* every block of it held nothing but the address */
	char *mta, *ip;
};

static const char *family_of(const char *text)
{
	/* hiragana / katakana: a Japanese carrier's notice, whatever reply
	 * style it quotes after its preface */
	for (const unsigned char *u = (const unsigned char *)text; *u; u++)
		if (u[0] == 0xe3 && (u[1] == 0x81 || u[1] == 0x82 || u[1] == 0x83))
			return "carrier-jp";
	for (size_t i = 0; i < btext_nfamilies; i++)
		if (regexec(&btext_re_fam[i], text, 0, NULL, 0) == 0)
			return btext_families[i].name;
	return NULL;
}

bool btext_is_notice(const char *text, size_t len, const char *subject, const char *from)
{
	btext_init_patterns();
	if (from) {
		const char *at = strchr(from, '@');
		size_t n = at ? (size_t)(at - from) : strlen(from);
		static const char *const daemons[] = {"mailer-daemon", "postmaster", "mail-daemon",
		                                      "mailerdaemon", NULL};
		for (const char *const *d = daemons; *d; d++)
			if (n == strlen(*d) && strncasecmp(from, *d, n) == 0)
				return true;
	}
	if (subject && regexec(&btext_re_notice, subject, 0, NULL, 0) == 0)
		return true;
	char *t = xstrndup(text, len > TEXT_MAX ? TEXT_MAX : len);
	bool yes = family_of(t) != NULL || regexec(&btext_re_notice, t, 0, NULL, 0) == 0;
	free(t);
	return yes;
}

/* Splits text into lines, cut where the returned message starts. */
static size_t split_lines(char *t, struct line *L)
{
	size_t n = 0, hdr_run = 0;
	char *p = t;
	while (*p && n < LINES_MAX) {
		char *nl = strchr(p, '\n');
		if (nl)
			*nl = '\0';
		size_t l = strlen(p);
		while (l > 0 && (p[l - 1] == '\r' || p[l - 1] == ' ' || p[l - 1] == '\t'))
			p[--l] = '\0';
		if (regexec(&btext_re_cut, p, 0, NULL, 0) == 0)
			break;
		/* a run of header fields at the margin: the copy began without a marker */
		bool hdr = false;
		static const char *const names[] = {
		    "Received:",       "Return-Path:",  "Message-ID:",
		    "DKIM-Signature:", "MIME-Version:", NULL};
		for (const char *const *h = names; *h; h++)
			if (strncasecmp(p, *h, strlen(*h)) == 0)
				hdr = true;
		hdr_run = hdr ? hdr_run + 1 : 0;
		if (hdr_run >= 2) {
			n--; /* the first of the run */
			break;
		}
		L[n].s = p;
		L[n].indent = (size_t)(skip_ws(p) - p);
		n++;
		if (!nl)
			break;
		p = nl + 1;
	}
	return n;
}

static struct rcpt_acc *find_rcpt(struct rcpt_acc *R, size_t nr, const char *a, size_t n)
{
	for (size_t i = 0; i < nr; i++)
		if (strlen(R[i].addr) == n && strncasecmp(R[i].addr, a, n) == 0)
			return &R[i];
	return NULL;
}

size_t btext_read(const char *text, size_t len, const char *subject, const char *const *skip,
                  struct btext *out)
{
	btext_init_patterns();
	memset(out, 0, sizeof *out);
	out->format = "text";
	if (len > TEXT_MAX)
		len = TEXT_MAX;
	char *t = xstrndup(text, len);
	const char *fam = family_of(t);
	bool final = regexec(&btext_re_final, t, 0, NULL, 0) == 0;
	out->delayed = (regexec(&btext_re_delay, t, 0, NULL, 0) == 0 ||
	                (subject && regexec(&btext_re_delay, subject, 0, NULL, 0) == 0)) &&
	               !final;
	if (fam)
		out->format = fam;

	struct line *L = xcalloc(LINES_MAX, sizeof *L);
	size_t nl = split_lines(t, L);
	struct rcpt_acc *R = xcalloc(RCPT_MAX, sizeof *R);
	size_t nr = 0;
	/* the blocks: [start, end) per anchor, the recipient each belongs to */
	struct blk {
		size_t rcpt, start, end, anchor_line;
		size_t rest_from, rest_to; /* the anchor line without the address */
		bool sec_delay;
	} *B = xcalloc(LINES_MAX, sizeof *B);
	size_t nb = 0, first_anchor = nl;
	int section = 0; /* 1 transient, 2 permanent */
	for (size_t i = 0; i < nl; i++) {
		if (regexec(&btext_re_sec_delay, L[i].s, 0, NULL, 0) == 0)
			section = 1;
		else if (regexec(&btext_re_sec_perm, L[i].s, 0, NULL, 0) == 0)
			section = 2;
		size_t pos = 0, a, n;
		while (next_addr(L[i].s, &pos, &a, &n)) {
			if (skipped(L[i].s + a, n, skip) || !is_anchor(L[i].s, a, n))
				continue;
			struct rcpt_acc *r = find_rcpt(R, nr, L[i].s + a, n);
			if (!r) {
				if (nr == RCPT_MAX)
					continue;
				r = &R[nr++];
				r->addr = xstrndup(L[i].s + a, n);
				r->first_line = i;
				r->empty = true;
				reason_free(&r->best);
			}
			size_t ri = (size_t)(r - R);
			if (first_anchor == nl)
				first_anchor = i;
			/* the same recipient again: its block goes on */
			if (nb > 0 && B[nb - 1].rcpt == ri)
				break;
			if (nb > 0)
				B[nb - 1].end = i;
			B[nb].rcpt = ri;
			B[nb].start = i;
			B[nb].end = nl;
			B[nb].anchor_line = i;
			B[nb].rest_from = a;
			B[nb].rest_to = a + n;
			B[nb].sec_delay = section == 1;
			nb++;
			break; /* one recipient per line starts a block */
		}
		if (nb == LINES_MAX)
			break;
	}

	/* each recipient's best block */
	for (size_t k = 0; k < nb; k++) {
		struct rcpt_acc *r = &R[B[k].rcpt];
		const char *line = L[B[k].anchor_line].s;
		/* the anchor line without its address: "Unknown user:" is a reason */
		size_t ll = strlen(line);
		char *rs = xmalloc(ll + 1);
		memcpy(rs, line, B[k].rest_from);
		memcpy(rs + B[k].rest_from, line + B[k].rest_to, ll - B[k].rest_to + 1);
		for (char *c = rs; *c; c++)
			if (*c == '<' || *c == '>' || *c == '"')
				*c = ' ';
		/* neutral labels say nothing */
		const char *rr = skip_ws(rs);
		static const char *const neutral[] = {"recipient",
		                                      "failed recipient",
		                                      "address",
		                                      "original-recipient",
		                                      "final-recipient",
		                                      "rcpt to",
		                                      "sent <<< rcpt to",
		                                      "to",
		                                      NULL};
		for (const char *const *nn = neutral; *nn; nn++) {
			size_t l = strlen(*nn);
			if (strncasecmp(rr, *nn, l) == 0 &&
			    (rr[l] == ':' || rr[l] == 's' || !rr[l]))
				rr = "";
		}
		/* " on DATE" (Exchange) and "mailto:" halves are not reasons */
		if (strncasecmp(skip_ws(rr), "on ", 3) == 0)
			rr = "";
		struct reason cur = {0};
		cur.score = -1;
		/* the block proper starts after the anchor line for the paragraph
		 * search; the anchor line itself is searched for a reply */
		block_reason(L, B[k].start, B[k].end, B[k].anchor_line, rr, &cur);
		bool has_words = cur.score >= 0;
		if (has_words)
			r->empty = false;
		if (cur.score > r->best.score) {
			reason_free(&r->best);
			r->best = cur;
			if (!r->mta)
				block_host(L, B[k].start, B[k].end,
				           r->best.score >= 1 ? r->best.line : B[k].end, &r->mta,
				           &r->ip);
		} else {
			if (!r->mta && cur.score >= 1)
				block_host(L, B[k].start, B[k].end, cur.line, &r->mta, &r->ip);
			reason_free(&cur);
		}
		if (B[k].sec_delay)
			r->delayed = true;
		free(rs);
	}

	/* the reason written outside the blocks: before the first recipient */
	struct reason global = {0};
	reason_free(&global);
	block_reason(L, 0, first_anchor, (size_t)-1, NULL, &global);
	if (global.score < 2 || global.code < 400) {
		/* none before the list: the first failing reply anywhere (a
		 * gateway quotes the dialogue, then lists the recipients) */
		reason_free(&global);
		block_reason(L, 0, nl, (size_t)-1, NULL, &global);
		if (global.code && global.code < 400)
			reason_free(&global);
	}
	if (global.score <= 0) {
		/* no reply there: a "Reason: ..." line */
		reason_free(&global);
		for (size_t i = 0; i < first_anchor; i++) {
			regmatch_t m[1];
			if (regexec(&btext_re_lead_label, L[i].s, 1, m, 0) == 0 &&
			    L[i].s[m[0].rm_eo]) {
				global.text = xstrdup(L[i].s + m[0].rm_eo);
				collapse(global.text);
				global.score = 0;
				break;
			}
		}
	}
	if (global.score >= 0) {
		out->global_code = global.code;
		memcpy(out->global_enhanced, global.enh, sizeof global.enh);
		out->global_text = global.text ? xstrdup(global.text) : NULL;
	}

	out->r = xcalloc(nr ? nr : 1, sizeof *out->r);
	for (size_t i = 0; i < nr; i++) {
		struct rcpt_acc *r = &R[i];
		struct reason *use = &r->best;
		/* a bare list entry takes the reason written once for the list:
		 * the next recipient's, or the one before the list */
		if (r->empty || r->best.score < 1) {
			struct reason *sib = NULL;
			for (size_t j = i + 1; r->empty && j < nr && !sib; j++)
				if (R[j].best.score >= 1)
					sib = &R[j].best;
			if (sib && sib->score > use->score)
				use = sib;
			if ((r->empty || use->score < 0) && global.score > use->score)
				use = &global;
		}
		/* role addresses only count with a reply of their own */
		if (role_address(r->addr) && use->score < 1)
			continue;
		struct btext_rcpt *o = &out->r[out->n++];
		o->addr = r->addr;
		r->addr = NULL;
		o->reply_code = use->code;
		memcpy(o->enhanced, use->enh, sizeof o->enhanced);
		o->text = xstrdup(use->text ? use->text : "");
		o->remote_mta = r->mta;
		o->remote_ip = r->ip;
		r->mta = r->ip = NULL;
		o->delayed = out->delayed || r->delayed;
	}
	for (size_t i = 0; i < nr; i++) {
		free(R[i].addr);
		free(R[i].mta);
		free(R[i].ip);
		reason_free(&R[i].best);
	}
	reason_free(&global);
	free(R);
	free(B);
	free(L);
	free(t);
	return out->n;
}

void btext_free(struct btext *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n; i++) {
		free(b->r[i].addr);
		free(b->r[i].text);
		free(b->r[i].remote_mta);
		free(b->r[i].remote_ip);
	}
	free(b->r);
	free(b->global_text);
	memset(b, 0, sizeof *b);
}
