/*
 * bounce_dsn: RFC 3464 delivery-status fields, read leniently. The
 * per-message block and one block per recipient (Final-Recipient, Action,
 * Status, Remote-MTA, Diagnostic-Code, Last-Attempt-Date); each block's
 * fields are read by gmime's header parser (folding, encodings).
 *
 * Lenient where real DSNs are broken: a new recipient starts at each
 * Final-Recipient even without a blank line between; an Action outside the
 * RFC's five falls back to the Status class; any diagnostic-type prefix is
 * stripped, and only "smtp" diagnostics are read for a reply code
 * ("X-Unix; 255" is an exit status, not SMTP 255). When the diagnostic is
 * missing or says no more than X.0.0, the recipient's own line in the
 * human-readable part (read as a notice, c->notice) gives the reason and
 * its more specific code. In lenient mode (fields typed into a text part,
 * or a message whose MIME structure is broken) lines that are not fields
 * end a block. A block that names no recipient is counted as malformed.
 */
#include "core/xalloc.h"
#include "ingest/bounce_mail_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *dsn_typed_value(const char *v, char *out, size_t outsz)
{
	if (!v)
		return NULL;
	const char *semi = strchr(v, ';');
	const char *s = semi ? semi + 1 : v;
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	if (n == 0 || n >= outsz)
		return NULL;
	memcpy(out, s, n);
	out[n] = '\0';
	if (out[0] == '<' && out[n - 1] == '>') {
		memmove(out, out + 1, n - 2);
		out[n - 2] = '\0';
	}
	return out[0] ? out : NULL;
}

GMimeObject *dsn_parse_headers(const char *data, size_t len)
{
	GByteArray *arr = g_byte_array_new();
	g_byte_array_append(arr, (const guint8 *)data, (guint)len);
	g_byte_array_append(arr, (const guint8 *)"\n\n", 2);
	GMimeStream *mem = g_mime_stream_mem_new_with_byte_array(arr); /* owns arr */
	GMimeParser *parser = g_mime_parser_new_with_stream(mem);
	GMimeObject *obj = g_mime_parser_construct_part(parser, NULL);
	g_object_unref(parser);
	g_object_unref(mem);
	return obj;
}

int64_t dsn_header_date(GMimeObject *o, const char *name)
{
	const char *v = o ? g_mime_object_get_header(o, name) : NULL;
	if (!v)
		return 0;
	GDateTime *dt = g_mime_utils_header_decode_date(v);
	if (!dt)
		return 0;
	int64_t t = g_date_time_to_unix(dt);
	g_date_time_unref(dt);
	return t;
}

/* The notice's entry for a recipient, if the human-readable part named it. */
static const struct btext_rcpt *notice_for(const struct btext *n, const char *addr)
{
	for (size_t i = 0; n && addr && i < n->n; i++)
		if (strcasecmp(n->r[i].addr, addr) == 0)
			return &n->r[i];
	return NULL;
}

static bool generic_enh(const char *enh)
{
	return !enh || !enh[0] || strcmp(enh + 1, ".0.0") == 0;
}

static int recipient_block(struct bounce_parser *p, struct mail_ctx *c, GMimeObject *blk,
                           const char *raw, size_t rawlen, struct err *e)
{
	char rcpt[512], mta[256];
	struct bounce_event ev = {0};
	const char *fr = g_mime_object_get_header(blk, "Final-Recipient");
	if (!fr)
		fr = g_mime_object_get_header(blk, "Original-Recipient");
	ev.recipient = dsn_typed_value(fr, rcpt, sizeof rcpt);
	if (!ev.recipient) {
		bounce_malformed(p, "dsn: recipient block without Final-Recipient", raw, rawlen);
		return 0;
	}
	const char *action = g_mime_object_get_header(blk, "Action");
	const char *status = g_mime_object_get_header(blk, "Status");
	c->enh[0] = '\0';
	if (status) {
		while (*status == ' ')
			status++;
		size_t k = 0;
		while (status[k] && k < sizeof c->enh - 1 &&
		       (isdigit((unsigned char)status[k]) || status[k] == '.'))
			k++;
		memcpy(c->enh, status, k);
		c->enh[k] = '\0';
		if (k >= 5 && (c->enh[0] == '2' || c->enh[0] == '4' || c->enh[0] == '5'))
			ev.enhanced_code = c->enh;
	}
	bool known_action = false;
	if (action) {
		while (*action == ' ')
			action++;
		known_action = true;
		if (g_ascii_strncasecmp(action, "failed", 6) == 0)
			ev.status = BOUNCE_BOUNCED;
		else if (g_ascii_strncasecmp(action, "delayed", 7) == 0)
			ev.status = BOUNCE_DEFERRED;
		else if (g_ascii_strncasecmp(action, "delivered", 9) == 0 ||
		         g_ascii_strncasecmp(action, "relayed", 7) == 0 ||
		         g_ascii_strncasecmp(action, "expanded", 8) == 0)
			ev.status = BOUNCE_DELIVERED;
		else
			known_action = false; /* "expired", "deliverable" ...: the Status says */
	}
	if (!known_action) {
		if (ev.enhanced_code) {
			ev.status = c->enh[0] == '2'   ? BOUNCE_DELIVERED
			            : c->enh[0] == '4' ? BOUNCE_DEFERRED
			                               : BOUNCE_BOUNCED;
		} else if (action) {
			bounce_malformed(p, "dsn: unknown Action and no Status", raw, rawlen);
			return 0;
		} else {
			bounce_malformed(p, "dsn: recipient without Action or Status", raw, rawlen);
			return 0;
		}
	}
	ev.remote_mta =
	    dsn_typed_value(g_mime_object_get_header(blk, "Remote-MTA"), mta, sizeof mta);
	const char *diag = g_mime_object_get_header(blk, "Diagnostic-Code");
	bool diag_has_words = false;
	buf_reset(&c->text);
	if (diag) {
		/* "type; text": strip the type whatever its length; only SMTP
		 * diagnostics carry a reply code */
		const char *semi = strchr(diag, ';');
		bool smtp = true;
		if (semi) {
			const char *ty = diag;
			while (*ty == ' ')
				ty++;
			size_t tl = (size_t)(semi - ty);
			while (tl > 0 && ty[tl - 1] == ' ')
				tl--;
			if (tl > 0 && !memchr(ty, ' ', tl)) {
				smtp = tl == 4 && g_ascii_strncasecmp(ty, "smtp", 4) == 0;
				diag = semi + 1;
			}
		}
		while (*diag == ' ' || *diag == '\t')
			diag++;
		if (smtp) {
			bounce_reply_parse(&ev, diag, c->enh, &c->text);
			struct bclass_reply r;
			diag_has_words = bclass_split_reply(diag, &r) < 0 || r.text[0] != '\0';
		} else {
			buf_puts(&c->text, diag);
			ev.text = c->text.data ? c->text.data : "";
			diag_has_words = *diag != '\0';
		}
	}
	/* where the reason is: the notice's own line for this recipient */
	if (!diag_has_words || generic_enh(ev.enhanced_code)) {
		const struct btext_rcpt *nr = notice_for(c->notice, ev.recipient);
		if (nr) {
			if (!generic_enh(nr->enhanced) &&
			    (generic_enh(ev.enhanced_code) || !ev.enhanced_code)) {
				memcpy(c->enh, nr->enhanced, sizeof c->enh);
				ev.enhanced_code = c->enh;
			}
			if (!ev.reply_code && nr->reply_code &&
			    (!ev.enhanced_code ||
			     ev.enhanced_code[0] == '0' + nr->reply_code / 100))
				ev.reply_code = nr->reply_code;
			if (!diag_has_words && nr->text[0])
				ev.text = nr->text;
			if (!ev.remote_mta)
				ev.remote_mta = nr->remote_mta;
		}
	}
	ev.at = dsn_header_date(blk, "Last-Attempt-Date");
	if (!ev.at)
		ev.at = c->arrival;
	ev.mail_from = c->mail_from;
	ev.header_from_domain = c->header_from_domain;
	ev.message_id = c->message_id;
	ev.format = c->format;
	ev.mta_host = c->reporting_mta; /* for the host map: our MTA's name */
	return bounce_emit(p, &ev, e);
}

/* "Name:" at the start of a line (RFC 5322 field name). */
static size_t field_name(const char *s, const char *end)
{
	size_t i = 0;
	if (s >= end || !isalpha((unsigned char)s[0]))
		return 0;
	while (s + i < end && (isalnum((unsigned char)s[i]) || s[i] == '-'))
		i++;
	return s + i < end && s[i] == ':' ? i : 0;
}

static bool named(const char *s, size_t n, const char *name)
{
	return n == strlen(name) && g_ascii_strncasecmp(s, name, n) == 0;
}

struct fblock {
	const char *start, *end;
	bool has_final, has_orig, has_outcome;
};

static int block_done(struct bounce_parser *p, struct mail_ctx *c, struct fblock *b, int *nrcpt,
                      bool lenient, struct err *e)
{
	if (b->start == NULL || b->end <= b->start)
		return 0;
	size_t len = (size_t)(b->end - b->start);
	GMimeObject *blk = dsn_parse_headers(b->start, len);
	int rc = 0;
	if (!blk) {
		bounce_malformed(p, "dsn: unreadable field block", b->start, len);
		goto out;
	}
	bool is_rcpt = g_mime_object_get_header(blk, "Final-Recipient") ||
	               g_mime_object_get_header(blk, "Original-Recipient") ||
	               g_mime_object_get_header(blk, "Action") ||
	               (!lenient && g_mime_object_get_header(blk, "Status") &&
	                !g_mime_object_get_header(blk, "Reporting-MTA"));
	if (is_rcpt) {
		(*nrcpt)++;
		rc = recipient_block(p, c, blk, b->start, len, e);
	} else {
		int64_t arr = dsn_header_date(blk, "Arrival-Date");
		if (arr)
			c->arrival = arr;
		const char *snd = g_mime_object_get_header(blk, "X-Postfix-Sender");
		if (snd)
			c->mail_from = dsn_typed_value(snd, c->sender_buf, sizeof c->sender_buf);
		const char *rmta = g_mime_object_get_header(blk, "Reporting-MTA");
		if (rmta)
			c->reporting_mta = dsn_typed_value(rmta, c->rmta_buf, sizeof c->rmta_buf);
	}
	g_object_unref(blk);
out:
	memset(b, 0, sizeof *b);
	return rc;
}

int dsn_read_fields(struct bounce_parser *p, struct mail_ctx *c, const char *text, size_t len,
                    bool lenient, struct err *e)
{
	const char *s = text, *end = text + len;
	struct fblock b = {0};
	int nrcpt = 0;
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		const char *next = nl ? nl + 1 : end;
		const char *le = nl ? nl : end;
		if (le > s && le[-1] == '\r')
			le--;
		bool is_blank = true;
		for (const char *q = s; q < le; q++)
			if (*q != ' ' && *q != '\t')
				is_blank = false;
		size_t fn = field_name(s, le);
		bool folded = !is_blank && (*s == ' ' || *s == '\t') && b.start;
		/* a blank line ends a block; so does prose between the fields (lenient) */
		if (is_blank || (lenient && !folded && !fn)) {
			if (block_done(p, c, &b, &nrcpt, lenient, e) < 0)
				return -1;
		} else if (folded) {
			b.end = next; /* a folded continuation */
		} else if (fn) {
			bool fin = named(s, fn, "Final-Recipient");
			bool orig = named(s, fn, "Original-Recipient");
			/* a new recipient without the blank line between */
			if (b.start && ((fin && b.has_final) ||
			                (orig && (b.has_orig || (b.has_final && b.has_outcome))))) {
				if (block_done(p, c, &b, &nrcpt, lenient, e) < 0)
					return -1;
			}
			if (!b.start)
				b.start = s;
			b.end = next;
			b.has_final |= fin;
			b.has_orig |= orig;
			b.has_outcome |= named(s, fn, "Action") || named(s, fn, "Status");
		} else {
			if (!b.start)
				b.start = s;
			b.end = next;
		}
		s = next;
	}
	if (block_done(p, c, &b, &nrcpt, lenient, e) < 0)
		return -1;
	return nrcpt;
}
