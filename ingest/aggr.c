/*
 * The aggregate-report parser: an xmlTextReader loop over a table of the
 * elements we know, keyed by (parent element, local name), so namespace
 * prefixes and stray wrappers around <feedback> do not matter.
 *
 * Bytes reach libxml2 through `struct input`, which skips a UTF-8 BOM and
 * leading whitespace, refuses a DOCTYPE in the prolog before libxml2 sees
 * it, and (for documents in UTF-8 or ASCII) replaces invalid UTF-8 and
 * control bytes by U+FFFD so that such reports still parse. In recover mode
 * it also escapes a raw '<' that cannot start markup. Element names are
 * compared by pointer: libxml2 interns every name in the reader's
 * dictionary, and we intern ours in the same dictionary once per parse.
 *
 * Decisions worth knowing:
 *   - parsing ends at </feedback>: whatever follows (an unclosed wrapper,
 *     trailing bytes) is never looked at.
 *   - a report without <record> is refused (stage validate, "report has no
 *     records"); the header callback is not called for it.
 *   - RFC 9990 is detected by the namespace, a version starting with "2",
 *     or np/testing/discovery_method/generator/file-level extension before
 *     the first record (the header must go out before the first record, so
 *     a human_result inside records cannot change the schema any more).
 *   - unknown elements go to extra_json under their path in the report or
 *     the record; unknown report-level elements after the first record are
 *     dropped (the header has gone out).
 *   - libxml2's reader stops at the first well-formedness error even in
 *     recover mode, so recovery here means: escape raw '<', pad the end of
 *     a truncated document so the reader hands over the nodes it holds, and
 *     keep every complete record seen before the error.
 */
#include "ingest/aggr.h"

#include "core/buf.h"
#include "core/utf8.h"
#include "core/xalloc.h"
#include "ingest/complaints.h"
#include "ingest/cp1252.h"
#include "ingest/validate.h"

#include <json-c/json.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlreader.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NS_RFC9990   "urn:ietf:params:xml:ns:dmarc-2.0"
#define RAW_CHUNK    ((size_t)65536)
#define RAW_CAP      (2 * RAW_CHUNK)
#define OUT_CAP      (4 * RAW_CAP) /* worst case: every byte becomes "&lt;" */
#define PAD_BYTES    16384
#define PAD_ELEMENT  "dmarcsift-eof"
#define ARENA_BLOCK  16384
#define VALUE_SHOWN  80              /* bytes of a bad value quoted in a message */
#define CLOSE_DEPTHS 8               /* depths at which the first end tag is remembered */
#define MS_EPOCH_MIN 1000000000000LL /* 13 digits: milliseconds since 1970 */
#define MS_EPOCH_END 10000000000000LL

enum tok {
	T_NONE = 0, /* outside <feedback>: ignored */
	T_UNKNOWN,  /* inside <feedback>, not ours: kept in extra_json */
	T_FEEDBACK,
	T_VERSION,
	T_META,
	T_ORG,
	T_EMAIL,
	T_EXTRA_CONTACT,
	T_REPORT_ID,
	T_DATE_RANGE,
	T_BEGIN,
	T_END,
	T_ERROR,
	T_GENERATOR,
	T_POLICY,
	T_P_DOMAIN,
	T_ADKIM,
	T_ASPF,
	T_P,
	T_SP,
	T_NP,
	T_PCT,
	T_FO,
	T_TESTING,
	T_DISCOVERY,
	T_RECORD,
	T_ROW,
	T_SOURCE_IP,
	T_COUNT,
	T_POLEVAL,
	T_DISPOSITION,
	T_PE_DKIM,
	T_PE_SPF,
	T_REASON,
	T_R_TYPE,
	T_R_COMMENT,
	T_IDENT,
	T_HEADER_FROM,
	T_ENV_FROM,
	T_ENV_TO,
	T_AUTH,
	T_DKIM,
	T_DKIM_DOMAIN,
	T_DKIM_SELECTOR,
	T_DKIM_RESULT,
	T_DKIM_HUMAN,
	T_SPF,
	T_SPF_DOMAIN,
	T_SPF_SCOPE,
	T_SPF_RESULT,
	T_SPF_HUMAN,
	T_COUNT_
};

struct rule {
	const char *name;
	enum tok parent;
	enum tok tok;
};

/* The elements we know: {name, parent element, token}. Order matters only
 * for speed (frequent first). */
static const struct rule rules[] = {
    {"row", T_RECORD, T_ROW},
    {"source_ip", T_ROW, T_SOURCE_IP},
    {"count", T_ROW, T_COUNT},
    {"policy_evaluated", T_ROW, T_POLEVAL},
    {"disposition", T_POLEVAL, T_DISPOSITION},
    {"dkim", T_POLEVAL, T_PE_DKIM},
    {"spf", T_POLEVAL, T_PE_SPF},
    {"reason", T_POLEVAL, T_REASON},
    {"type", T_REASON, T_R_TYPE},
    {"comment", T_REASON, T_R_COMMENT},
    {"identifiers", T_RECORD, T_IDENT},
    {"identities", T_RECORD, T_IDENT},
    {"header_from", T_IDENT, T_HEADER_FROM},
    {"envelope_from", T_IDENT, T_ENV_FROM},
    {"envelope_to", T_IDENT, T_ENV_TO},
    {"auth_results", T_RECORD, T_AUTH},
    {"dkim", T_AUTH, T_DKIM},
    {"domain", T_DKIM, T_DKIM_DOMAIN},
    {"selector", T_DKIM, T_DKIM_SELECTOR},
    {"result", T_DKIM, T_DKIM_RESULT},
    {"human_result", T_DKIM, T_DKIM_HUMAN},
    {"spf", T_AUTH, T_SPF},
    {"domain", T_SPF, T_SPF_DOMAIN},
    {"scope", T_SPF, T_SPF_SCOPE},
    {"result", T_SPF, T_SPF_RESULT},
    {"human_result", T_SPF, T_SPF_HUMAN},
    {"record", T_FEEDBACK, T_RECORD},
    {"version", T_FEEDBACK, T_VERSION},
    {"report_metadata", T_FEEDBACK, T_META},
    {"org_name", T_META, T_ORG},
    {"email", T_META, T_EMAIL},
    {"extra_contact_info", T_META, T_EXTRA_CONTACT},
    {"report_id", T_META, T_REPORT_ID},
    {"date_range", T_META, T_DATE_RANGE},
    {"begin", T_DATE_RANGE, T_BEGIN},
    {"end", T_DATE_RANGE, T_END},
    {"error", T_META, T_ERROR},
    {"generator", T_META, T_GENERATOR},
    {"policy_published", T_FEEDBACK, T_POLICY},
    {"domain", T_POLICY, T_P_DOMAIN},
    {"adkim", T_POLICY, T_ADKIM},
    {"aspf", T_POLICY, T_ASPF},
    {"p", T_POLICY, T_P},
    {"sp", T_POLICY, T_SP},
    {"np", T_POLICY, T_NP},
    {"pct", T_POLICY, T_PCT},
    {"fo", T_POLICY, T_FO},
    {"testing", T_POLICY, T_TESTING},
    {"discovery_method", T_POLICY, T_DISCOVERY},
};
#define N_RULES (sizeof rules / sizeof rules[0])
_Static_assert(N_RULES <= 255, "rule indexes are kept in unsigned char");

/* Path of each known element inside its scope (report or record), used to
 * name the unknown elements found under it in extra_json. */
static const char *const tok_path[T_COUNT_] = {
    [T_FEEDBACK] = "",
    [T_META] = "report_metadata",
    [T_DATE_RANGE] = "report_metadata/date_range",
    [T_POLICY] = "policy_published",
    [T_RECORD] = "",
    [T_ROW] = "row",
    [T_POLEVAL] = "row/policy_evaluated",
    [T_REASON] = "row/policy_evaluated/reason",
    [T_IDENT] = "identifiers",
    [T_AUTH] = "auth_results",
    [T_DKIM] = "auth_results/dkim",
    [T_SPF] = "auth_results/spf",
};

/* Elements whose text is a value. */
static bool is_leaf(enum tok t)
{
	switch (t) {
	case T_NONE:
	case T_FEEDBACK:
	case T_META:
	case T_DATE_RANGE:
	case T_POLICY:
	case T_RECORD:
	case T_ROW:
	case T_POLEVAL:
	case T_REASON:
	case T_IDENT:
	case T_AUTH:
	case T_DKIM:
	case T_SPF:
	case T_COUNT_:
		return false;
	default:
		return true;
	}
}

/* ---- per-record memory: a bump allocator reset after every record ---- */

struct ablock {
	struct ablock *next;
	size_t used, cap;
	char data[];
};

struct arena {
	struct ablock *head;  /* current block */
	struct ablock *first; /* kept across resets */
};

static char *arena_strndup(struct arena *a, const char *s, size_t n)
{
	if (!a->head || a->head->cap - a->head->used < n + 1) {
		size_t cap = n + 1 > ARENA_BLOCK ? n + 1 : ARENA_BLOCK;
		struct ablock *b = xmalloc(sizeof *b + cap);
		b->used = 0;
		b->cap = cap;
		b->next = a->head;
		a->head = b;
		if (!a->first)
			a->first = b;
	}
	char *p = a->head->data + a->head->used;
	memcpy(p, s, n);
	p[n] = '\0';
	a->head->used += n + 1;
	return p;
}

static void arena_reset(struct arena *a)
{
	while (a->head && a->head != a->first) {
		struct ablock *next = a->head->next;
		free(a->head);
		a->head = next;
	}
	if (a->first)
		a->first->used = 0;
}

static void arena_free(struct arena *a)
{
	arena_reset(a);
	free(a->first);
	a->head = a->first = NULL;
}

/* ---- the byte path into libxml2 ---- */

/* The first byte of one kind that the input filter had to change. */
struct fixup {
	uint64_t out_at; /* offset in the bytes given to libxml2, +1; 0 none */
	uint64_t in_at;  /* offset in the document as received */
	unsigned char byte;
};

struct input {
	aggr_read_fn fn;
	void *ctx;
	struct err *e;
	unsigned char *raw;
	size_t raw_len;
	unsigned char *out;
	size_t out_pos, out_len;
	bool eof, failed, prolog_done, utf8;
	bool recover;        /* escape a raw '<' that cannot start markup */
	const bool *done;    /* the parser saw </feedback>: no padding needed */
	size_t pad_left;     /* whitespace still to give libxml2 after the end */
	uint64_t total;      /* bytes read from the caller */
	uint64_t consumed;   /* raw bytes converted so far */
	uint64_t escaped_at; /* offset of the first escaped '<', +1; 0 none */
	/* A rough element depth from the bytes (see track), so that padding
	 * is offered only while the root element is still open. */
	bool utf16;
	long depth;
	int tstate;
	unsigned char prev, quote;
	const char *skip_end; /* what ends the construct being skipped */
	size_t skip_match;    /* bytes of skip_end matched so far */
	uint64_t out_total;   /* bytes given to libxml2 before the current chunk */
	/* Where the first end tag returning to depth d was (+1), so that bytes
	 * fixed after </feedback> (NUL padding, trailing junk) are not held
	 * against the report. */
	uint64_t close_at[CLOSE_DEPTHS];
	bool closing_root; /* inside the end tag of the root element */
	uint64_t root_end; /* offset just after that end tag, +1; 0 not seen */
	struct fixup bad_utf8, control, nul;
	unsigned char bom[2]; /* UTF-16 without a BOM: the one given to libxml2 */
	size_t bom_len;
	/* The start tag being read: libxml2 checks attributes against each
	 * other (quadratic in their number), so hostile tags are refused here,
	 * before the parser sees them. */
	const struct aggr_limits *lim;
	size_t attrs;     /* attribute values opened in this start tag */
	size_t tag_bytes; /* bytes of names and spaces in it, values excluded */
	size_t val_bytes; /* bytes of the attribute value being read */
	char refused[160];
};

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
static void stag_end(struct input *in, const unsigned char *p, const unsigned char *q)
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
static void track(struct input *in, const unsigned char *p, size_t n)
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
				if (in->depth >= 0 && in->depth < CLOSE_DEPTHS &&
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

static bool byte_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

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
	while (p < end && (byte_space(*p) || *p == '='))
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
static enum prolog_verdict prolog(struct input *in, size_t *skip)
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
	while (i < n && byte_space(s[i]))
		i++;
	*skip = i;
	for (;;) {
		while (i < n && byte_space(s[i]))
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
			if (memcmp(s + i, "<?xml", 5) == 0 && byte_space(s[i + 5]))
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
	return byte_space(s[i]) || s[i] == '>' || s[i] == '/';
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

static void note_fixup(struct fixup *f, const struct input *in, size_t o, size_t i, unsigned char c)
{
	if (!f->out_at) {
		f->out_at = in->out_total + o + 1;
		f->in_at = in->consumed + i;
		f->byte = c;
	}
}

/* Moves raw bytes to out, replacing what XML 1.0 in UTF-8 cannot hold. */
static void convert(struct input *in)
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

static int fill(struct input *in)
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

static int ioread(void *ctx, char *buf, int len)
{
	struct input *in = ctx;
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
			static const char pad_unit[] = "<" PAD_ELEMENT "/>";
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

/* ---- the parser ---- */

struct frame {
	enum tok tok;
	bool has_child;
	size_t path_len; /* length of p->path before this element */
	const xmlChar *name;
};

struct parser {
	xmlTextReaderPtr r;
	const struct input *in;
	const struct aggr_limits *lim;
	const struct aggr_handler *h;
	struct aggr_result *res;
	struct err *e;
	const xmlChar *names[N_RULES];
	const xmlChar *name_feedback, *name_extension, *name_pad;
	/* rules grouped by parent: by_parent[first[t] .. first[t + 1]) are the
	 * indexes into rules[] of the children of t, in table order */
	unsigned char first[T_COUNT_ + 1];
	unsigned char by_parent[N_RULES];

	struct frame *stack;
	int open_depth; /* depth of the innermost open element, -1 none */
	struct buf text;
	struct buf path;
	char first_error[400];

	bool seen_feedback, header_done, in_record, done, stopped, saw9990;
	const char *root_name;
	int feedback_depth;
	uint64_t nth;           /* position of the current record, from 1 */
	struct complaints devs; /* values kept although outside the schema */

	/* report */
	struct aggr_report rep;
	char *begin_raw, *end_raw, *pct_raw;
	struct buf errors;
	bool has_errors;
	json_object *rep_extra;
	size_t rep_extra_n;

	/* record */
	struct aggr_record rec;
	char *count_raw;
	struct arena arena;
	struct aggr_dkim *dkim;
	size_t dkim_cap;
	struct aggr_spf *spf;
	size_t spf_cap;
	struct aggr_reason *reasons;
	size_t reasons_cap;
	json_object *rec_extra;
	size_t rec_extra_n;
};

static void on_xml_error(void *ctx, xmlErrorPtr err)
{
	struct parser *p = ctx;
	if (!err || err->level < XML_ERR_ERROR || p->first_error[0])
		return;
	if (p->in && p->in->pad_left < PAD_BYTES) {
		/* The error is about our padding: the real input had ended. */
		snprintf(p->first_error, sizeof p->first_error,
		         "line %d: the document ends before its root element is closed "
		         "(truncated?)",
		         err->line);
		return;
	}
	char msg[300];
	snprintf(msg, sizeof msg, "%s", err->message ? err->message : "unknown error");
	size_t n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		msg[--n] = '\0';
	snprintf(p->first_error, sizeof p->first_error, "line %d: %s", err->line, msg);
}

static void silent_generic(void *ctx, const char *fmt, ...)
{
	(void)ctx;
	(void)fmt;
}

static uint64_t record_no(const struct parser *p)
{
	return p->nth;
}

/* Real reporters write values the schema does not allow ('none' for a
 * policy_evaluated result, 'nil' for sp). Such a value is kept as written,
 * trimmed and lower-cased, and named once among the report's complaints. */
static void ascii_lower(char *v)
{
	for (; *v; v++)
		if (*v >= 'A' && *v <= 'Z')
			*v = (char)(*v - 'A' + 'a');
}

static void deviation(struct parser *p, const char *where, const char *what, char *value,
                      enum validate_enum kind)
{
	char names[120];
	ascii_lower(value);
	validate_enum_names(kind, names, sizeof names);
	char *key = xasprintf("%s\001%s", what, value);
	complaints_add(&p->devs, key, "%s%s '%.*s' (not %s)", where, what, VALUE_SHOWN, value,
	               names);
	free(key);
}

/* Trimmed span of the collected text. */
static const char *text_span(struct parser *p, size_t *len)
{
	const char *s = p->text.data ? p->text.data : "";
	size_t n = p->text.len;
	while (n > 0 && byte_space((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n > 0 && byte_space((unsigned char)s[n - 1]))
		n--;
	*len = n;
	return s;
}

static void set_rep(char **field, const char *s, size_t n)
{
	free(*field);
	*field = xstrndup(s, n);
}

static void extra_add(json_object **obj, const char *path, const char *val, size_t len)
{
	if (!*obj)
		*obj = json_object_new_object();
	json_object *v = json_object_new_string_len(val, (int)len);
	json_object *old;
	if (!json_object_object_get_ex(*obj, path, &old)) {
		json_object_object_add(*obj, path, v);
	} else if (json_object_is_type(old, json_type_array)) {
		json_object_array_add(old, v);
	} else {
		json_object *arr = json_object_new_array();
		json_object_array_add(arr, json_object_get(old));
		json_object_array_add(arr, v);
		json_object_object_add(*obj, path, arr);
	}
}

static int handler_rc(struct parser *p, int rc)
{
	if (rc == AGGR_STOP) {
		p->stopped = true;
		p->res->stopped = true;
		return 1;
	}
	if (rc != 0) {
		err_set(p->e, ERR_INTERNAL, "the report handler failed without saying why");
		return -1;
	}
	return 0;
}

static int norm_rep_enum(struct parser *p, char **field, enum validate_enum kind, const char *what)
{
	const char *canon;
	if (validate_enum(kind, *field, &canon) != 0) {
		char full[64];
		snprintf(full, sizeof full, "policy_published %s", what);
		deviation(p, "", full, *field, kind);
		return 0;
	}
	free(*field);
	*field = canon ? xstrdup(canon) : NULL;
	return 0;
}

/* A 13-digit timestamp is milliseconds (some reporters write Java's
 * currentTimeMillis): read as seconds it would be the year 55,000. */
static int fix_millis(struct parser *p, const char *which, int64_t *t)
{
	if (*t < MS_EPOCH_MIN || *t >= MS_EPOCH_END)
		return 0;
	char key[16];
	snprintf(key, sizeof key, "ms-%s", which);
	complaints_add(&p->devs, key,
	               "date_range %s %lld is in milliseconds (read as %lld seconds)", which,
	               (long long)*t, (long long)(*t / 1000));
	*t /= 1000;
	return 0;
}

static int emit_header(struct parser *p)
{
	struct aggr_report *r = &p->rep;
	struct aggr_policy *pol = &r->policy;
	/* Without org_name or report_id the report still means something:
	 * its identity holds '' there (the store does the same). */
	if (!r->org_name) {
		r->org_name = xstrdup("");
		complaints_add(&p->devs, "org_name", "report_metadata/org_name is missing");
	}
	if (!r->report_id || !r->report_id[0])
		complaints_add(&p->devs, "report_id",
		               "report_metadata/report_id is missing or empty");
	if (!pol->domain || !pol->domain[0])
		return err_stage(p->e, ERR_STAGE_VALIDATE, ERR_INPUT,
		                 "policy_published/domain is missing or empty");
	if (!p->begin_raw || !p->end_raw)
		return err_stage(p->e, ERR_STAGE_VALIDATE, ERR_INPUT,
		                 "report_metadata/date_range needs both begin and end");
	if (validate_timestamp(p->begin_raw, &r->begin) != 0)
		return err_stage(p->e, ERR_STAGE_VALIDATE, ERR_INPUT,
		                 "date_range begin '%.*s' is not a unix timestamp", VALUE_SHOWN,
		                 p->begin_raw);
	if (validate_timestamp(p->end_raw, &r->end) != 0)
		return err_stage(p->e, ERR_STAGE_VALIDATE, ERR_INPUT,
		                 "date_range end '%.*s' is not a unix timestamp", VALUE_SHOWN,
		                 p->end_raw);
	if (fix_millis(p, "begin", &r->begin) != 0 || fix_millis(p, "end", &r->end) != 0)
		return -1;
	if (r->begin > r->end)
		return err_stage(p->e, ERR_STAGE_VALIDATE, ERR_INPUT,
		                 "date_range begin %lld is after end %lld", (long long)r->begin,
		                 (long long)r->end);
	if (norm_rep_enum(p, &pol->adkim, VALIDATE_ALIGNMENT, "adkim") != 0 ||
	    norm_rep_enum(p, &pol->aspf, VALIDATE_ALIGNMENT, "aspf") != 0 ||
	    norm_rep_enum(p, &pol->p, VALIDATE_POLICY, "p") != 0 ||
	    norm_rep_enum(p, &pol->sp, VALIDATE_POLICY, "sp") != 0 ||
	    norm_rep_enum(p, &pol->np, VALIDATE_POLICY, "np") != 0 ||
	    norm_rep_enum(p, &pol->testing, VALIDATE_TESTING, "testing") != 0 ||
	    norm_rep_enum(p, &pol->discovery_method, VALIDATE_DISCOVERY, "discovery_method") != 0)
		return -1;
	pol->pct = -1;
	if (p->pct_raw && p->pct_raw[0] && validate_pct(p->pct_raw, &pol->pct) != 0) {
		pol->pct = -1;
		complaints_add(
		    &p->devs, "pct",
		    "policy_published pct '%.*s' is not a number from 0 to 100 (ignored)",
		    VALUE_SHOWN, p->pct_raw);
	}
	if (p->has_errors)
		r->errors = xstrdup(p->errors.data ? p->errors.data : "");
	if (r->namespace_uri && strcmp(r->namespace_uri, NS_RFC9990) == 0)
		p->saw9990 = true;
	if (r->version && r->version[0] == '2')
		p->saw9990 = true;
	r->schema = p->saw9990 ? AGGR_SCHEMA_RFC9990 : AGGR_SCHEMA_RFC7489;
	if (p->rep_extra)
		r->extra_json =
		    xstrdup(json_object_to_json_string_ext(p->rep_extra, JSON_C_TO_STRING_PLAIN));
	p->header_done = true;
	if (!p->h->header)
		return 0;
	return handler_rc(p, p->h->header(p->h->ctx, r, p->e));
}

static char *rec_copy(struct parser *p, const char *s)
{
	return s ? arena_strndup(&p->arena, s, strlen(s)) : NULL;
}

static int norm_rec_enum(struct parser *p, char **field, enum validate_enum kind, const char *what,
                         bool keep_empty)
{
	const char *canon;
	if (validate_enum(kind, *field, &canon) != 0) {
		char where[40];
		snprintf(where, sizeof where, "record %llu: ", (unsigned long long)record_no(p));
		deviation(p, where, what, *field, kind);
		return 0;
	}
	if (canon)
		*field = rec_copy(p, canon);
	else if (!(keep_empty && *field))
		*field = NULL;
	else
		(*field)[0] = '\0';
	return 0;
}

static void reset_record(struct parser *p)
{
	arena_reset(&p->arena);
	memset(&p->rec, 0, sizeof p->rec);
	p->count_raw = NULL;
	if (p->rec_extra) {
		json_object_put(p->rec_extra);
		p->rec_extra = NULL;
	}
	p->rec_extra_n = 0;
}

/* `what` and `value` say which deviation this is (named once). */
static int skip_record(struct parser *p, const char *what, const char *value, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int skip_record(struct parser *p, const char *what, const char *value, const char *fmt, ...)
{
	char msg[300];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	p->res->skipped++;
	char *key = xasprintf("%s\001%s", what, value ? value : "");
	complaints_add(&p->devs, key, "%s (record skipped)", msg);
	free(key);
	reset_record(p);
	return 0;
}

static int emit_record(struct parser *p)
{
	struct aggr_record *rec = &p->rec;
	unsigned long long no = (unsigned long long)record_no(p);
	char ip[VALIDATE_IP_MAX];
	/* A record without a sender or a count says nothing: it alone is
	 * skipped (and counted), the rest of the report stays. */
	if (!rec->source_ip)
		return skip_record(p, "source_ip-missing", NULL,
		                   "record %llu: source_ip is missing", no);
	if (validate_ip(rec->source_ip, ip) != 0)
		return skip_record(p, "source_ip-bad", rec->source_ip,
		                   "record %llu: source_ip '%.*s' is not an IP address", no,
		                   VALUE_SHOWN, rec->source_ip);
	if (validate_ip_unspecified(ip))
		return skip_record(p, "source_ip-unspecified", ip,
		                   "record %llu: source_ip '%s' is the unspecified address", no,
		                   ip);
	rec->source_ip = rec_copy(p, ip);
	if (!p->count_raw)
		return skip_record(p, "count-missing", NULL, "record %llu: count is missing", no);
	if (validate_count(p->count_raw, &rec->count) != 0)
		return skip_record(p, "count-bad", p->count_raw,
		                   "record %llu: count '%.*s' is not a non-negative 64-bit integer",
		                   no, VALUE_SHOWN, p->count_raw);
	if (norm_rec_enum(p, &rec->disposition, VALIDATE_DISPOSITION, "disposition", false) ||
	    norm_rec_enum(p, &rec->dkim, VALIDATE_POLICY_RESULT, "policy_evaluated dkim", false) ||
	    norm_rec_enum(p, &rec->spf, VALIDATE_POLICY_RESULT, "policy_evaluated spf", false))
		return -1;
	for (size_t i = 0; i < rec->n_reasons; i++)
		if (norm_rec_enum(p, &p->reasons[i].type, VALIDATE_REASON_TYPE, "reason type",
		                  true))
			return -1;
	for (size_t i = 0; i < rec->n_dkim; i++)
		if (norm_rec_enum(p, &p->dkim[i].result, VALIDATE_DKIM_RESULT, "dkim result",
		                  false))
			return -1;
	for (size_t i = 0; i < rec->n_spf; i++)
		if (norm_rec_enum(p, &p->spf[i].scope, VALIDATE_SPF_SCOPE, "spf scope", false) ||
		    norm_rec_enum(p, &p->spf[i].result, VALIDATE_SPF_RESULT, "spf result", false))
			return -1;
	if (rec->header_from)
		validate_header_from(rec->header_from);
	rec->reasons = rec->n_reasons ? p->reasons : NULL;
	rec->dkim_auth = rec->n_dkim ? p->dkim : NULL;
	rec->spf_auth = rec->n_spf ? p->spf : NULL;
	if (p->rec_extra)
		rec->extra_json = rec_copy(
		    p, json_object_to_json_string_ext(p->rec_extra, JSON_C_TO_STRING_PLAIN));
	if ((uint64_t)rec->count > UINT64_MAX - p->res->messages)
		return err_stage(p->e, ERR_STAGE_VALIDATE, ERR_INPUT,
		                 "record %llu: the sum of counts overflows", no);
	int rc = p->h->record ? p->h->record(p->h->ctx, rec, p->e) : 0;
	if (rc == 0 || rc == AGGR_STOP) {
		p->res->records++;
		p->res->messages += (uint64_t)rec->count;
	}
	rc = handler_rc(p, rc);
	reset_record(p);
	return rc;
}

/* Appends a zeroed element to one of the per-record arrays. */
static void *push(void **arr, size_t *cap, size_t *n, size_t size)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 4;
		*arr = xrealloc(*arr, *cap * size);
	}
	void *slot = (char *)*arr + *n * size;
	memset(slot, 0, size);
	(*n)++;
	return slot;
}

static int start_record(struct parser *p)
{
	if (!p->header_done) {
		int rc = emit_header(p);
		if (rc != 0)
			return rc;
	}
	if (p->res->records >= p->lim->max_records)
		return err_stage(p->e, ERR_STAGE_VALIDATE, ERR_INPUT,
		                 "more than %zu records in one report", p->lim->max_records);
	reset_record(p);
	p->in_record = true;
	p->nth++;
	return 0;
}

static int check_auth(struct parser *p, size_t n, const char *what)
{
	if (n >= p->lim->max_auth)
		return err_stage(p->e, ERR_STAGE_VALIDATE, ERR_INPUT,
		                 "record %llu: more than %zu %s entries",
		                 (unsigned long long)record_no(p), p->lim->max_auth, what);
	return 0;
}

static int begin_element(struct parser *p, enum tok t)
{
	switch (t) {
	case T_FEEDBACK: {
		p->seen_feedback = true;
		p->feedback_depth = xmlTextReaderDepth(p->r);
		if (p->feedback_depth > 0)
			complaints_add(&p->devs, "wrapper", "<feedback> is inside <%.*s>",
			               VALUE_SHOWN, p->root_name ? p->root_name : "?");
		const xmlChar *ns = xmlTextReaderConstNamespaceUri(p->r);
		if (ns)
			p->rep.namespace_uri = xstrdup((const char *)ns);
		return 0;
	}
	case T_RECORD:
		return start_record(p);
	case T_DKIM:
		if (check_auth(p, p->rec.n_dkim, "dkim"))
			return -1;
		push((void **)&p->dkim, &p->dkim_cap, &p->rec.n_dkim, sizeof *p->dkim);
		return 0;
	case T_SPF:
		if (check_auth(p, p->rec.n_spf, "spf"))
			return -1;
		push((void **)&p->spf, &p->spf_cap, &p->rec.n_spf, sizeof *p->spf);
		return 0;
	case T_REASON:
		if (check_auth(p, p->rec.n_reasons, "reason"))
			return -1;
		push((void **)&p->reasons, &p->reasons_cap, &p->rec.n_reasons, sizeof *p->reasons);
		return 0;
	case T_NP:
	case T_TESTING:
	case T_DISCOVERY:
	case T_GENERATOR:
	case T_DKIM_HUMAN:
	case T_SPF_HUMAN:
		p->saw9990 = true;
		return 0;
	default:
		return 0;
	}
}

/* Stores the value of a leaf element. */
static int leaf_value(struct parser *p, enum tok t)
{
	size_t n;
	const char *s = text_span(p, &n);
	struct aggr_report *r = &p->rep;
	char *v = NULL;
	if (t >= T_RECORD) {
		if (!p->in_record)
			return 0;
		v = arena_strndup(&p->arena, s, n);
	}
	switch (t) {
	case T_VERSION:
		set_rep(&r->version, s, n);
		break;
	case T_ORG:
		set_rep(&r->org_name, s, n);
		break;
	case T_EMAIL:
		set_rep(&r->email, s, n);
		break;
	case T_EXTRA_CONTACT:
		set_rep(&r->extra_contact_info, s, n);
		break;
	case T_REPORT_ID:
		set_rep(&r->report_id, s, n);
		break;
	case T_BEGIN:
		set_rep(&p->begin_raw, s, n);
		break;
	case T_END:
		set_rep(&p->end_raw, s, n);
		break;
	case T_ERROR:
		if (p->has_errors)
			buf_putc(&p->errors, '\n');
		buf_append(&p->errors, s, n);
		p->has_errors = true;
		break;
	case T_GENERATOR:
		set_rep(&r->generator, s, n);
		break;
	case T_P_DOMAIN:
		set_rep(&r->policy.domain, s, n);
		break;
	case T_ADKIM:
		set_rep(&r->policy.adkim, s, n);
		break;
	case T_ASPF:
		set_rep(&r->policy.aspf, s, n);
		break;
	case T_P:
		set_rep(&r->policy.p, s, n);
		break;
	case T_SP:
		set_rep(&r->policy.sp, s, n);
		break;
	case T_NP:
		set_rep(&r->policy.np, s, n);
		break;
	case T_PCT:
		set_rep(&p->pct_raw, s, n);
		break;
	case T_FO:
		set_rep(&r->policy.fo, s, n);
		break;
	case T_TESTING:
		set_rep(&r->policy.testing, s, n);
		break;
	case T_DISCOVERY:
		set_rep(&r->policy.discovery_method, s, n);
		break;
	case T_SOURCE_IP:
		p->rec.source_ip = v;
		break;
	case T_COUNT:
		p->count_raw = v;
		break;
	case T_DISPOSITION:
		p->rec.disposition = v;
		break;
	case T_PE_DKIM:
		p->rec.dkim = v;
		break;
	case T_PE_SPF:
		p->rec.spf = v;
		break;
	case T_R_TYPE:
		p->reasons[p->rec.n_reasons - 1].type = v;
		break;
	case T_R_COMMENT:
		p->reasons[p->rec.n_reasons - 1].comment = v;
		break;
	case T_HEADER_FROM:
		p->rec.header_from = v;
		break;
	case T_ENV_FROM:
		p->rec.envelope_from = v;
		break;
	case T_ENV_TO:
		p->rec.envelope_to = v;
		break;
	case T_DKIM_DOMAIN:
		p->dkim[p->rec.n_dkim - 1].domain = v;
		break;
	case T_DKIM_SELECTOR:
		p->dkim[p->rec.n_dkim - 1].selector = v;
		break;
	case T_DKIM_RESULT:
		p->dkim[p->rec.n_dkim - 1].result = v;
		break;
	case T_DKIM_HUMAN:
		p->dkim[p->rec.n_dkim - 1].human_result = v;
		break;
	case T_SPF_DOMAIN:
		p->spf[p->rec.n_spf - 1].domain = v;
		break;
	case T_SPF_SCOPE:
		p->spf[p->rec.n_spf - 1].scope = v;
		break;
	case T_SPF_RESULT:
		p->spf[p->rec.n_spf - 1].result = v;
		break;
	case T_SPF_HUMAN:
		p->spf[p->rec.n_spf - 1].human_result = v;
		break;
	default:
		break;
	}
	return 0;
}

static int unknown_value(struct parser *p)
{
	size_t n;
	const char *s = text_span(p, &n);
	json_object **obj = p->in_record ? &p->rec_extra : &p->rep_extra;
	size_t *count = p->in_record ? &p->rec_extra_n : &p->rep_extra_n;
	if (!p->in_record && p->header_done)
		return 0; /* after the header went out there is nowhere to put it */
	if (++*count > p->lim->max_auth)
		return err_stage(p->e, ERR_STAGE_VALIDATE, ERR_INPUT,
		                 "more than %zu unknown elements in one %s", p->lim->max_auth,
		                 p->in_record ? "record" : "report");
	extra_add(obj, p->path.data, s, n);
	return 0;
}

static int end_element(struct parser *p, int depth)
{
	struct frame *f = &p->stack[depth];
	int rc = 0;
	if (f->tok == T_UNKNOWN) {
		if (!f->has_child)
			rc = unknown_value(p);
		p->path.len = f->path_len;
		if (p->path.data)
			p->path.data[p->path.len] = '\0';
	} else if (is_leaf(f->tok)) {
		rc = leaf_value(p, f->tok);
	} else if (f->tok == T_RECORD) {
		if (p->in_record) {
			p->in_record = false;
			rc = emit_record(p);
		}
	} else if (f->tok == T_FEEDBACK) {
		if (!p->header_done) {
			/* A receiver saying it saw nothing: stored, with 0 records. */
			complaints_add(&p->devs, "no-records", "report has no records");
			rc = emit_header(p);
		}
		if (rc == 0) {
			p->done = true;
			rc = 1;
		}
	}
	p->open_depth = depth - 1;
	buf_reset(&p->text);
	return rc;
}

static enum tok lookup(struct parser *p, enum tok parent, const xmlChar *name)
{
	if (parent == T_NONE)
		return (!p->seen_feedback && name == p->name_feedback) ? T_FEEDBACK : T_NONE;
	if (parent == T_UNKNOWN)
		return T_UNKNOWN;
	for (unsigned k = p->first[parent]; k < p->first[parent + 1]; k++) {
		unsigned i = p->by_parent[k];
		if (p->names[i] == name)
			return rules[i].tok;
	}
	return T_UNKNOWN;
}

/* Counting sort of rules[] by parent, for lookup(). */
static void index_rules(struct parser *p)
{
	unsigned count[T_COUNT_ + 1] = {0};
	for (size_t i = 0; i < N_RULES; i++)
		count[rules[i].parent + 1]++;
	for (size_t t = 0; t < T_COUNT_; t++)
		count[t + 1] += count[t];
	for (size_t t = 0; t <= T_COUNT_; t++)
		p->first[t] = (unsigned char)count[t];
	for (size_t i = 0; i < N_RULES; i++)
		p->by_parent[count[rules[i].parent]++] = (unsigned char)i;
}

static int start_element(struct parser *p)
{
	int depth = xmlTextReaderDepth(p->r);
	if (depth < 0 || (size_t)depth >= p->lim->max_depth)
		return err_stage(p->e, ERR_STAGE_XML, ERR_INPUT,
		                 "elements nested deeper than %zu levels", p->lim->max_depth);
	const xmlChar *name = xmlTextReaderConstLocalName(p->r);
	if (!name)
		return err_stage(p->e, ERR_STAGE_XML, ERR_INPUT, "an element without a name");
	if (name == p->name_pad)
		return 0;
	if (depth == 0 && !p->root_name)
		p->root_name = (const char *)name;
	enum tok parent = depth > 0 ? p->stack[depth - 1].tok : T_NONE;
	if (depth > 0)
		p->stack[depth - 1].has_child = true;
	enum tok t = lookup(p, parent, name);
	struct frame *f = &p->stack[depth];
	f->tok = t;
	f->has_child = false;
	f->name = name;
	f->path_len = p->path.len;
	if (t == T_UNKNOWN) {
		if (parent != T_UNKNOWN) {
			buf_reset(&p->path);
			const char *base = tok_path[parent] ? tok_path[parent] : "";
			if (is_leaf(parent))
				base = (const char *)p->stack[depth - 1].name;
			buf_puts(&p->path, base);
			f->path_len = 0;
			if (parent == T_FEEDBACK && name == p->name_extension)
				p->saw9990 = true;
		}
		if (p->path.len > 0)
			buf_putc(&p->path, '/');
		if (buf_puts(&p->path, (const char *)name) != 0)
			return err_stage(p->e, ERR_STAGE_XML, ERR_INPUT, "element path too long");
	}
	p->open_depth = depth;
	buf_reset(&p->text);
	int rc = begin_element(p, t);
	if (rc == 0 && xmlTextReaderIsEmptyElement(p->r))
		rc = end_element(p, depth);
	return rc;
}

static int on_text(struct parser *p)
{
	int depth = xmlTextReaderDepth(p->r);
	if (p->open_depth < 0 || depth != p->open_depth + 1)
		return 0;
	struct frame *f = &p->stack[p->open_depth];
	if (f->tok != T_UNKNOWN && !is_leaf(f->tok))
		return 0;
	const xmlChar *v = xmlTextReaderConstValue(p->r);
	if (v && buf_puts(&p->text, (const char *)v) != 0)
		return err_stage(p->e, ERR_STAGE_VALIDATE, ERR_INPUT,
		                 "the text of <%s> is longer than %zu bytes", (const char *)f->name,
		                 p->lim->max_text);
	return 0;
}

static int step(struct parser *p)
{
	/* Text first, and without xmlTextReaderNodeType: for a text node it
	 * asks whether the text is blank and whether xml:space applies, which
	 * costs more than the rest of our handling of it. Blank text between
	 * elements lands in no leaf, and a leaf's text is trimmed anyway. */
	const xmlNode *node = xmlTextReaderCurrentNode(p->r);
	if (node && (node->type == XML_TEXT_NODE || node->type == XML_CDATA_SECTION_NODE))
		return on_text(p);
	switch (xmlTextReaderNodeType(p->r)) {
	case XML_READER_TYPE_ELEMENT:
		return start_element(p);
	case XML_READER_TYPE_END_ELEMENT:
		return end_element(p, xmlTextReaderDepth(p->r));
	case XML_READER_TYPE_TEXT:
	case XML_READER_TYPE_CDATA:
		return on_text(p);
	case XML_READER_TYPE_DOCUMENT_TYPE:
		return err_stage(p->e, ERR_STAGE_XML, ERR_INPUT,
		                 "DOCTYPE declarations are not allowed in reports "
		                 "(entity expansion attack?)");
	case XML_READER_TYPE_ENTITY_REFERENCE:
	case XML_READER_TYPE_ENTITY:
		return err_stage(p->e, ERR_STAGE_XML, ERR_INPUT,
		                 "entity references are not allowed in reports (&%s;)",
		                 (const char *)xmlTextReaderConstName(p->r));
	default:
		return 0;
	}
}

void aggr_limits_default(struct aggr_limits *l)
{
	l->max_depth = 64;
	l->max_text = (size_t)64 * 1024;
	l->max_records = 50000000;
	l->max_auth = 1000;
	l->max_attrs = 256;
	l->max_tag = (size_t)16 * 1024;
}

static void free_report(struct parser *p)
{
	struct aggr_report *r = &p->rep;
	char **strs[] = {&r->namespace_uri,
	                 &r->version,
	                 &r->org_name,
	                 &r->email,
	                 &r->extra_contact_info,
	                 &r->report_id,
	                 &r->generator,
	                 &r->errors,
	                 &r->extra_json,
	                 &r->policy.domain,
	                 &r->policy.adkim,
	                 &r->policy.aspf,
	                 &r->policy.p,
	                 &r->policy.sp,
	                 &r->policy.np,
	                 &r->policy.fo,
	                 &r->policy.testing,
	                 &r->policy.discovery_method,
	                 &p->begin_raw,
	                 &p->end_raw,
	                 &p->pct_raw};
	for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
		free(*strs[i]);
		*strs[i] = NULL;
	}
}

/* After the reader stopped with ret (0 end, -1 error): decides the outcome. */
static int finish(struct parser *p, struct input *in, int ret, bool recover)
{
	if (err_is_set(p->e))
		return -1;
	if (p->stopped || p->done)
		return 0;
	if (in->failed)
		return err_stage(p->e, ERR_STAGE_XML, ERR_INTERNAL, "reading the report failed");
	if (in->total == 0)
		return err_stage(p->e, ERR_STAGE_XML, ERR_INPUT, "the report is empty (0 bytes)");
	if (recover && p->header_done && p->res->records > 0)
		return 0; /* salvaged: the record cut by the error is dropped */
	if (ret < 0 || p->first_error[0]) {
		if (p->first_error[0])
			return err_stage(p->e, ERR_STAGE_XML, ERR_INPUT, "malformed XML: %s",
			                 p->first_error);
		return err_stage(p->e, ERR_STAGE_XML, ERR_INPUT, "malformed XML");
	}
	if (!p->seen_feedback)
		return err_stage(p->e, ERR_STAGE_XML, ERR_INPUT,
		                 "not a DMARC aggregate report: no <feedback> element%s%s%s",
		                 p->root_name ? " (root element <" : "",
		                 p->root_name ? p->root_name : "", p->root_name ? ">)" : "");
	if (!p->header_done)
		return err_stage(p->e, ERR_STAGE_XML, ERR_INPUT,
		                 "the document ends before the report header is complete");
	return err_stage(p->e, ERR_STAGE_XML, ERR_INPUT, "the document ends inside <feedback>");
}

/* Whether a byte the input filter changed lies inside the report: after
 * </feedback> nothing counts (NUL padding, trailing junk). */
static bool fixup_counts(const struct parser *p, const struct input *in, const struct fixup *f)
{
	if (!f->out_at)
		return false;
	if (!p->done || p->feedback_depth < 0 || p->feedback_depth >= CLOSE_DEPTHS)
		return true;
	uint64_t end = in->close_at[p->feedback_depth];
	return !end || f->out_at < end;
}

/* The report's complaint: the parser's own (recover mode), then each
 * deviation kept; res->recovered says whether there is any. */
static void sum_up(struct parser *p, const struct input *in, bool recover)
{
	struct aggr_result *res = p->res;
	struct buf out;
	buf_init(&out, sizeof res->complaint - 1);
	if (recover && p->first_error[0])
		buf_puts(&out, p->first_error);
	else if (recover && in->escaped_at)
		buf_printf(&out, "a raw '<' in text was escaped (byte %llu)",
		           (unsigned long long)in->escaped_at);
	if (fixup_counts(p, in, &in->bad_utf8)) {
		unsigned char u[4] = {0};
		cp1252_to_utf8(in->bad_utf8.byte, u);
		complaints_add(&p->devs, "bytes-utf8",
		               "invalid UTF-8 byte 0x%02X at byte %llu read as Windows-1252 '%s'",
		               in->bad_utf8.byte, (unsigned long long)in->bad_utf8.in_at,
		               (const char *)u);
	}
	if (fixup_counts(p, in, &in->control))
		complaints_add(&p->devs, "bytes-control",
		               "control byte 0x%02X at byte %llu replaced by U+FFFD",
		               in->control.byte, (unsigned long long)in->control.in_at);
	if (fixup_counts(p, in, &in->nul))
		complaints_add(&p->devs, "bytes-nul", "NUL byte at byte %llu dropped",
		               (unsigned long long)in->nul.in_at);
	if (complaints_any(&p->devs)) {
		if (out.len)
			buf_puts(&out, "; ");
		/* Capped by the buffer: the first deviations are the ones named. */
		buf_append(&out, complaints_text(&p->devs), strlen(complaints_text(&p->devs)));
	}
	res->recovered = recover || complaints_any(&p->devs);
	snprintf(res->complaint, sizeof res->complaint, "%s", out.data ? out.data : "");
	buf_free(&out);
}

int aggr_parse(aggr_read_fn rd, void *rdctx, bool recover, const struct aggr_limits *lim,
               const struct aggr_handler *h, struct aggr_result *res, struct err *e)
{
	struct aggr_limits deflim;
	struct parser p;
	struct input in;
	int rc = -1;
	if (!lim) {
		aggr_limits_default(&deflim);
		lim = &deflim;
	}
	memset(res, 0, sizeof *res);
	res->recovered = recover;
	memset(&p, 0, sizeof p);
	memset(&in, 0, sizeof in);
	p.lim = lim;
	p.h = h;
	p.res = res;
	p.e = e;
	p.open_depth = -1;
	p.feedback_depth = -1;
	p.in = &in;
	p.rep.policy.pct = -1;
	p.stack = xcalloc(lim->max_depth + 1, sizeof *p.stack);
	buf_init(&p.text, lim->max_text);
	buf_init(&p.path, 4096);
	buf_init(&p.errors, lim->max_text);
	complaints_init(&p.devs);
	in.fn = rd;
	in.ctx = rdctx;
	in.e = e;
	in.utf8 = true;
	in.recover = recover;
	in.done = &p.done;
	in.pad_left = PAD_BYTES;
	in.lim = lim;
	in.raw = xmalloc(RAW_CAP);
	in.out = xmalloc(OUT_CAP);

	/* Nothing from libxml2 reaches stderr: errors come to on_xml_error. */
	xmlStructuredErrorFunc saved_serror = xmlStructuredError;
	void *saved_sctx = xmlStructuredErrorContext;
	xmlGenericErrorFunc saved_generic = xmlGenericError;
	void *saved_gctx = xmlGenericErrorContext;
	xmlSetStructuredErrorFunc(&p, on_xml_error);
	xmlSetGenericErrorFunc(NULL, silent_generic);

	int opts = XML_PARSE_NONET | XML_PARSE_COMPACT;
	if (recover)
		opts |= XML_PARSE_RECOVER;
	p.r = xmlReaderForIO(ioread, NULL, &in, NULL, NULL, opts);
	if (!p.r) {
		err_stage(e, ERR_STAGE_XML, ERR_INTERNAL, "cannot create the XML reader");
		goto out;
	}
	xmlTextReaderSetStructuredErrorHandler(p.r, on_xml_error, &p);
	for (size_t i = 0; i < N_RULES; i++)
		p.names[i] = xmlTextReaderConstString(p.r, (const xmlChar *)rules[i].name);
	index_rules(&p);
	p.name_feedback = xmlTextReaderConstString(p.r, (const xmlChar *)"feedback");
	p.name_extension = xmlTextReaderConstString(p.r, (const xmlChar *)"extension");
	p.name_pad = xmlTextReaderConstString(p.r, (const xmlChar *)PAD_ELEMENT);

	int ret;
	while ((ret = xmlTextReaderRead(p.r)) == 1) {
		int s = step(&p);
		if (s != 0)
			break;
	}
	rc = finish(&p, &in, ret, recover);
	if (rc == 0)
		sum_up(&p, &in, recover);
out:
	if (p.r)
		xmlFreeTextReader(p.r);
	xmlSetStructuredErrorFunc(saved_sctx, saved_serror);
	xmlSetGenericErrorFunc(saved_gctx, saved_generic);
	reset_record(&p);
	arena_free(&p.arena);
	free_report(&p);
	if (p.rep_extra)
		json_object_put(p.rep_extra);
	free(p.dkim);
	free(p.spf);
	free(p.reasons);
	free(p.stack);
	buf_free(&p.text);
	buf_free(&p.path);
	buf_free(&p.errors);
	complaints_free(&p.devs);
	free(in.raw);
	free(in.out);
	return rc;
}

struct mem_reader {
	const unsigned char *data;
	size_t len, pos;
};

static ssize_t mem_read(void *ctx, void *buf, size_t n, struct err *e)
{
	struct mem_reader *m = ctx;
	(void)e;
	size_t left = m->len - m->pos;
	if (n > left)
		n = left;
	if (n == 0)
		return 0;
	memcpy(buf, m->data + m->pos, n);
	m->pos += n;
	return (ssize_t)n;
}

int aggr_parse_mem(const void *data, size_t len, bool recover, const struct aggr_handler *h,
                   struct aggr_result *res, struct err *e)
{
	struct mem_reader m = {data, len, 0};
	return aggr_parse(mem_read, &m, recover, NULL, h, res, e);
}
