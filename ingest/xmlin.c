/* xmlin: see xmlin.h. */
#include "ingest/xmlin.h"

#include "core/utf8.h"
#include "core/xalloc.h"
#include "ingest/cp1252.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define RAW_CHUNK ((size_t)65536)
#define RAW_CAP   (2 * RAW_CHUNK)
#define OUT_CAP   (4 * RAW_CAP) /* worst case: every byte becomes "&lt;" */

static bool name_start(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
	       c >= 0x80;
}

static bool name_char(unsigned char c)
{
	return name_start(c) || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

enum {
	TRACK_OUT,   /* in text: looking for '<' */
	TRACK_LT,    /* after '<' */
	TRACK_BANG,  /* after "<!" */
	TRACK_STAG,  /* inside a start tag: looking for '>' or a quote */
	TRACK_QUOTE, /* inside a quoted attribute value */
	TRACK_SKIP,  /* inside a comment, CDATA section, PI or declaration */
};

/* Where the '>' at q ends a start tag: before it, '/' makes it empty. */
static void stag_end(struct xmlin *in, const unsigned char *p, const unsigned char *q)
{
	if ((q > p ? q[-1] : in->prev) == '/')
		in->depth--;
	in->tstate = TRACK_OUT;
}

/*
 * Follows '<name', '</' and '/>' in the bytes handed to libxml2, skipping
 * comments, CDATA sections, processing instructions and quoted attribute
 * values. It only decides whether to pad the end of input (see ioread),
 * never what a report contains.
 */
static void track(struct xmlin *in, const unsigned char *p, size_t n)
{
	const unsigned char *end = p + n, *q;
	while (p < end) {
		switch (in->tstate) {
		case TRACK_OUT:
			if (in->closing_root) {
				q = memchr(p, '>', (size_t)(end - p));
				if (!q)
					return;
				in->root_end = in->out_total + (uint64_t)(q - in->out) + 2;
				in->closing_root = false;
				return;
			}
			q = memchr(p, '<', (size_t)(end - p));
			if (!q)
				return;
			in->tstate = TRACK_LT;
			p = q + 1;
			break;
		case TRACK_LT:
			in->tstate = TRACK_OUT;
			if (*p == '/') {
				in->depth--;
				if (in->depth >= 0 && in->depth < XMLIN_CLOSE_DEPTHS &&
				    !in->close_at[in->depth])
					in->close_at[in->depth] =
					    in->out_total + (uint64_t)(p - in->out) + 1;
				if (in->depth == 0)
					in->closing_root = true;
			} else if (*p == '?') {
				in->tstate = TRACK_SKIP;
				in->skip_end = "?>";
				in->skip_match = 0;
			} else if (*p == '!') {
				in->tstate = TRACK_BANG;
			} else if (name_start(*p)) {
				in->depth++;
				in->tstate = TRACK_STAG;
				in->prev = *p;
				in->attrs = 0;
				in->tag_bytes = 0;
			}
			p++;
			break;
		case TRACK_BANG:
			in->tstate = TRACK_SKIP;
			in->skip_end = *p == '-' ? "-->" : *p == '[' ? "]]>" : ">";
			in->skip_match = 0;
			p++;
			break;
		case TRACK_SKIP:
			while (p < end) {
				unsigned char c = *p++;
				if (c == (unsigned char)in->skip_end[in->skip_match]) {
					if (in->skip_end[++in->skip_match] == '\0') {
						in->tstate = TRACK_OUT;
						break;
					}
				} else if (!(in->skip_match == 2 &&
				             in->skip_end[0] == in->skip_end[1] &&
				             c == (unsigned char)in->skip_end[0])) {
					/* ("--->" and "]]]>" still end at their '>') */
					in->skip_match =
					    c == (unsigned char)in->skip_end[0] ? 1 : 0;
				}
			}
			break;
		case TRACK_QUOTE:
			q = memchr(p, in->quote, (size_t)(end - p));
			in->val_bytes += (size_t)((q ? q : end) - p);
			if (in->val_bytes > in->lim->max_text) {
				snprintf(in->refused, sizeof in->refused,
				         "an attribute value longer than %zu bytes",
				         in->lim->max_text);
				return;
			}
			if (!q)
				return;
			in->tstate = TRACK_STAG;
			in->prev = *q;
			p = q + 1;
			break;
		default: {
			q = memchr(p, '>', (size_t)(end - p));
			const unsigned char *stop = q ? q : end;
			const unsigned char *dq = memchr(p, '"', (size_t)(stop - p));
			const unsigned char *sq = memchr(p, '\'', (size_t)(stop - p));
			const unsigned char *qt = dq && (!sq || dq < sq) ? dq : sq;
			in->tag_bytes += (size_t)((qt ? qt : stop) - p);
			if (qt && ++in->attrs > in->lim->max_attrs) {
				snprintf(in->refused, sizeof in->refused,
				         "an element with more than %zu attributes",
				         in->lim->max_attrs);
				return;
			}
			if (in->tag_bytes > in->lim->max_tag) {
				snprintf(in->refused, sizeof in->refused,
				         "a start tag whose names take more than %zu bytes",
				         in->lim->max_tag);
				return;
			}
			if (qt) {
				in->tstate = TRACK_QUOTE;
				in->quote = *qt;
				in->val_bytes = 0;
				p = qt + 1;
			} else if (q) {
				stag_end(in, p, q);
				p = q + 1;
			} else {
				in->prev = end[-1];
				return;
			}
			break;
		}
		}
	}
}

enum prolog_verdict { PROLOG_DONE, PROLOG_NEED, PROLOG_DOCTYPE };

static const unsigned char *find(const unsigned char *s, size_t n, const char *needle)
{
	size_t k = strlen(needle);
	for (size_t i = 0; i + k <= n; i++)
		if (s[i] == (unsigned char)needle[0] && memcmp(s + i, needle, k) == 0)
			return s + i;
	return NULL;
}

/* Reads encoding="..." in the XML declaration [s, s+n). */
static bool decl_is_utf8(const unsigned char *s, size_t n)
{
	const unsigned char *p = find(s, n, "encoding");
	if (!p)
		return true;
	const unsigned char *end = s + n;
	p += strlen("encoding");
	while (p < end && (xmlin_space(*p) || *p == '='))
		p++;
	if (p >= end || (*p != '"' && *p != '\''))
		return true;
	unsigned char q = *p++;
	const unsigned char *v = p;
	while (p < end && *p != q)
		p++;
	size_t len = (size_t)(p - v);
	static const char *const utf8_names[] = {"utf-8", "utf8", "us-ascii", "ascii"};
	for (size_t i = 0; i < sizeof utf8_names / sizeof utf8_names[0]; i++)
		if (strlen(utf8_names[i]) == len &&
		    strncasecmp((const char *)v, utf8_names[i], len) == 0)
			return true;
	return false;
}

/*
 * Looks at the prolog: a BOM, whitespace, the XML declaration, comments and
 * processing instructions, up to the first element. Sets *skip to the bytes
 * to drop (BOM and leading whitespace).
 */
static enum prolog_verdict prolog(struct xmlin *in, size_t *skip)
{
	const unsigned char *s = in->raw;
	size_t n = in->raw_len, i = 0;
	*skip = 0;
	if (n < 4 && !in->eof)
		return PROLOG_NEED;
	if (n >= 2 && ((s[0] == 0xFE && s[1] == 0xFF) || (s[0] == 0xFF && s[1] == 0xFE))) {
		in->utf8 = false; /* UTF-16: libxml2 decodes it, we pass it through */
		in->utf16 = true;
		return PROLOG_DONE;
	}
	/* UTF-16 without a byte-order mark (XML requires one): ASCII markup
	 * shows as every other byte zero. libxml2 recognises only
	 * "<?xml" that way, so it gets the mark it would have needed. */
	if (n >= 4 && s[0] == 0 && s[1] != 0 && s[2] == 0 && s[3] != 0) {
		in->utf8 = false;
		in->utf16 = true;
		in->bom[0] = 0xFE;
		in->bom[1] = 0xFF;
		in->bom_len = 2;
		return PROLOG_DONE;
	}
	if (n >= 4 && s[0] != 0 && s[1] == 0 && s[2] != 0 && s[3] == 0) {
		in->utf8 = false;
		in->utf16 = true;
		in->bom[0] = 0xFF;
		in->bom[1] = 0xFE;
		in->bom_len = 2;
		return PROLOG_DONE;
	}
	if (n >= 3 && s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF)
		i = 3;
	while (i < n && xmlin_space(s[i]))
		i++;
	*skip = i;
	for (;;) {
		while (i < n && xmlin_space(s[i]))
			i++;
		if (i + 9 > n)
			return PROLOG_NEED;
		if (s[i] != '<')
			return PROLOG_DONE;
		if (s[i + 1] == '?') {
			const unsigned char *e = find(s + i, n - i, "?>");
			if (!e)
				return PROLOG_NEED;
			size_t len = (size_t)(e - (s + i));
			if (memcmp(s + i, "<?xml", 5) == 0 && xmlin_space(s[i + 5]))
				in->utf8 = decl_is_utf8(s + i, len);
			i += len + 2;
		} else if (memcmp(s + i, "<!--", 4) == 0) {
			const unsigned char *e = find(s + i + 4, n - i - 4, "-->");
			if (!e)
				return PROLOG_NEED;
			i = (size_t)(e - s) + 3;
		} else if (strncasecmp((const char *)s + i, "<!DOCTYPE", 9) == 0) {
			return PROLOG_DOCTYPE;
		} else {
			return PROLOG_DONE;
		}
	}
}

static size_t put_fffd(unsigned char *d)
{
	d[0] = 0xEF;
	d[1] = 0xBF;
	d[2] = 0xBD;
	return 3;
}

/* Length of the UTF-8 character at s (lead byte >= 0x80) that XML 1.0 can
 * hold, 0 when invalid, UTF8_SHORT when it may be valid but is cut at the
 * end of the data. */
static int seq_len(const unsigned char *s, size_t avail)
{
	int len = utf8_len(s, avail);
	/* U+FFFE and U+FFFF are UTF-8 but not XML characters. */
	if (len == 3 && s[0] == 0xEF && s[1] == 0xBF && (s[2] == 0xBE || s[2] == 0xBF))
		return 0;
	return len;
}

#define TAG_LOOKAHEAD 256

/*
 * Recover mode: whether the '<' at s[0] can start markup. Reporters put raw
 * '<' in text ("<email><bad@x></email>", "a < b"); such a '<' is followed by
 * something that is not a name, or by a name ended by a character that
 * cannot end one. -1 when more bytes are needed to decide.
 */
static int starts_markup(const unsigned char *s, size_t avail, bool eof)
{
	size_t i = 1;
	if (i >= avail)
		return eof ? 0 : -1;
	if (s[i] == '?' || s[i] == '!')
		return 1;
	if (s[i] == '/')
		i++;
	if (i >= avail)
		return eof ? 0 : -1;
	if (!name_start(s[i]))
		return 0;
	while (i < avail && i < TAG_LOOKAHEAD && name_char(s[i]))
		i++;
	if (i == TAG_LOOKAHEAD)
		return 1;
	if (i >= avail)
		return eof ? 0 : -1;
	return xmlin_space(s[i]) || s[i] == '>' || s[i] == '/';
}

/* Bytes that pass through unchanged: printable ASCII, tab, CR, LF. */
static inline bool plain(unsigned char c)
{
	return (unsigned)(c - 0x20) < 0x60u || c == '\n' || c == '\t' || c == '\r';
}

/* Eight bytes at a time while no byte is >= 0x80 or < 0x20; bytewise
 * through the word that has one (usually a newline). */
static size_t plain_run(const unsigned char *s, size_t i, size_t n)
{
	const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
	for (;;) {
		while (i + 8 <= n) {
			uint64_t w;
			memcpy(&w, s + i, 8);
			if ((((w - 0x20 * ones) & ~w) | w) & high)
				break;
			i += 8;
		}
		size_t stop = i + 8 < n ? i + 8 : n;
		while (i < stop && plain(s[i]))
			i++;
		if (i < stop || i == n)
			return i;
	}
}

static void note_fixup(struct fixup *f, const struct xmlin *in, size_t o, size_t i, unsigned char c)
{
	if (!f->out_at) {
		f->out_at = in->out_total + o + 1;
		f->in_at = in->consumed + i;
		f->byte = c;
	}
}

/* Moves raw bytes to out, replacing what XML 1.0 in UTF-8 cannot hold. */
static void convert(struct xmlin *in)
{
	const unsigned char *s = in->raw;
	unsigned char *d = in->out;
	size_t n = in->raw_len, i = 0, o = 0;
	if (!in->utf8) {
		if (in->bom_len) {
			memcpy(d, in->bom, in->bom_len);
			d += in->bom_len;
			o = in->bom_len;
			in->bom_len = 0;
		}
		memcpy(d, s, n);
		in->out_len = n + o;
		in->out_pos = 0;
		in->raw_len = 0;
		in->consumed += n;
		return;
	}
	while (i < n) {
		/* Runs of plain bytes go in one copy ('<' needs a look in
		 * recover mode). */
		size_t run = i;
		if (in->recover)
			while (run < n && plain(s[run]) && s[run] != '<')
				run++;
		else
			run = plain_run(s, run, n);
		if (run > i) {
			memcpy(d + o, s + i, run - i);
			o += run - i;
			i = run;
			if (i == n)
				break;
		}
		unsigned char c = s[i];
		if (c == '<' && in->recover) {
			int m = starts_markup(s + i, n - i, in->eof);
			if (m < 0)
				break; /* decided with the next read */
			if (m == 0) {
				static const unsigned char lt[] = {'&', 'l', 't', ';'};
				memcpy(d + o, lt, sizeof lt);
				o += sizeof lt;
				i++;
				if (!in->escaped_at)
					in->escaped_at = in->consumed + i;
				continue;
			}
			d[o++] = c;
			i++;
		} else if (c >= 0x20 && c < 0x80) {
			d[o++] = c;
			i++;
		} else if (c < 0x20) {
			if (c == '\t' || c == '\n' || c == '\r') {
				d[o++] = c;
			} else if (c == 0) {
				/* Dropped: NUL padding is common after the end. */
				note_fixup(&in->nul, in, o, i, c);
			} else {
				note_fixup(&in->control, in, o, i, c);
				o += put_fffd(d + o);
			}
			i++;
		} else {
			int len = seq_len(s + i, n - i);
			if (len < 0 && !in->eof)
				break; /* completed by the next read */
			if (len <= 0) {
				/* Not UTF-8: almost always Windows-1252 text. */
				note_fixup(&in->bad_utf8, in, o, i, c);
				o += cp1252_to_utf8(c, d + o);
				i++;
			} else {
				memcpy(d + o, s + i, (size_t)len);
				o += (size_t)len;
				i += (size_t)len;
			}
		}
	}
	memmove(in->raw, in->raw + i, n - i);
	in->raw_len = n - i;
	in->consumed += i;
	in->out_len = o;
	in->out_pos = 0;
}

static int fill(struct xmlin *in)
{
	if (!in->eof) {
		size_t room = RAW_CAP - in->raw_len;
		if (room > RAW_CHUNK)
			room = RAW_CHUNK;
		ssize_t r = in->fn(in->ctx, in->raw + in->raw_len, room, in->e);
		if (r < 0) {
			err_stage(in->e, ERR_STAGE_XML, ERR_INTERNAL, "reading the report failed");
			return -1;
		}
		if (r == 0)
			in->eof = true;
		in->raw_len += (size_t)r;
		in->total += (uint64_t)r;
	}
	if (!in->prolog_done) {
		size_t skip;
		enum prolog_verdict v = prolog(in, &skip);
		if (v == PROLOG_DOCTYPE)
			return err_stage(in->e, ERR_STAGE_XML, ERR_INPUT,
			                 "DOCTYPE declarations are not allowed in reports "
			                 "(entity expansion attack?)");
		if (v == PROLOG_NEED && !in->eof && in->raw_len < RAW_CAP)
			return 0;
		memmove(in->raw, in->raw + skip, in->raw_len - skip);
		in->raw_len -= skip;
		in->prolog_done = true;
	}
	convert(in);
	if (!in->utf16 && !in->root_end) {
		track(in, in->out, in->out_len);
		if (in->root_end) {
			/* The root element is closed: what follows (NUL padding,
			 * junk, a second document) is not part of the report, and
			 * libxml2 would refuse the document for it. */
			in->out_len = (size_t)(in->root_end - 1 - in->out_total);
			in->raw_len = 0;
			in->eof = true;
		}
	}
	in->out_total += in->out_len;
	if (in->refused[0])
		return err_stage(in->e, ERR_STAGE_XML, ERR_INPUT,
		                 "refused before parsing: %s (reports need almost none)",
		                 in->refused);
	return 0;
}

int xmlin_read(void *ctx, char *buf, int len)
{
	struct xmlin *in = ctx;
	while (in->out_pos == in->out_len) {
		if (in->failed)
			return -1;
		if (in->eof && in->raw_len == 0) {
			/*
			 * libxml2's reader drops the nodes it still holds when
			 * the end of input raises an error (an unclosed wrapper
			 * around <feedback>, a truncated report), and it holds
			 * an element's end until it has seen the next element.
			 * Trailing empty elements (skipped by start_element) let
			 * it hand them over first; we stop at </feedback> and
			 * never look at what follows.
			 */
			if (*in->done || in->pad_left == 0 || in->total == 0 || len <= 0 ||
			    in->utf16 || in->depth <= 0)
				return 0;
			static const char pad_unit[] = "<" XMLIN_PAD_ELEMENT "/>";
			size_t unit = sizeof pad_unit - 1;
			if ((size_t)len < unit)
				return 0;
			size_t pad = 0;
			while (pad + unit <= (size_t)len && in->pad_left >= unit) {
				memcpy(buf + pad, pad_unit, unit);
				pad += unit;
				in->pad_left -= unit;
			}
			return (int)pad;
		}
		if (fill(in) != 0) {
			in->failed = true;
			return -1;
		}
	}
	size_t n = in->out_len - in->out_pos;
	if (len >= 0 && n > (size_t)len)
		n = (size_t)len;
	memcpy(buf, in->out + in->out_pos, n);
	in->out_pos += n;
	return (int)n;
}

void xmlin_init(struct xmlin *in, aggr_read_fn fn, void *ctx, bool recover, const bool *done,
                const struct aggr_limits *lim, struct err *e)
{
	memset(in, 0, sizeof *in);
	in->fn = fn;
	in->ctx = ctx;
	in->e = e;
	in->utf8 = true;
	in->recover = recover;
	in->done = done;
	in->pad_left = XMLIN_PAD_BYTES;
	in->lim = lim;
	in->raw = xmalloc(RAW_CAP);
	in->out = xmalloc(OUT_CAP);
}

void xmlin_free(struct xmlin *in)
{
	free(in->raw);
	free(in->out);
	in->raw = in->out = NULL;
}
