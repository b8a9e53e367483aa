/*
 * bounce_dsn: RFC 3464 delivery-status notifications, parsed with gmime.
 * The message/delivery-status part holds a per-message block and one block
 * per recipient (Final-Recipient, Action, Status, Remote-MTA,
 * Diagnostic-Code, Last-Attempt-Date); each block's fields are read by
 * gmime's header parser (folding, encodings). The original message
 * (message/rfc822 or text/rfc822-headers) gives From and Message-ID when it
 * is included. A truncated DSN yields the recipients whose Action or Status
 * survived; the rest is counted as malformed.
 */
#include "core/xalloc.h"
#include "ingest/bounce_int.h"
#include "ingest/mime.h"

#include <ctype.h>
#include <gmime/gmime.h>
#include <stdlib.h>
#include <string.h>

struct dsn_scan {
	GByteArray *status; /* the delivery-status body */
	GMimeObject *orig;  /* headers of the original message (a ref) */
};

static int dsn_init(struct bounce_parser *p)
{
	(void)p;
	mime_init();
	return 0;
}

static GByteArray *part_bytes(GMimeObject *obj)
{
	GByteArray *arr = g_byte_array_new();
	GMimeStream *mem = g_mime_stream_mem_new_with_byte_array(arr);
	g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(mem), FALSE);
	if (GMIME_IS_PART(obj)) {
		GMimeDataWrapper *w = g_mime_part_get_content(GMIME_PART(obj));
		if (w)
			g_mime_data_wrapper_write_to_stream(w, mem);
	} else if (GMIME_IS_MESSAGE_PART(obj)) {
		/* gmime may read message/delivery-status as an embedded message:
		 * its first block became the headers; write it back out whole */
		GMimeMessage *m = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
		if (m)
			g_mime_object_write_to_stream(GMIME_OBJECT(m), NULL, mem);
	}
	g_object_unref(mem);
	return arr;
}

/* Parses a block of "Name: value" lines into a gmime object with headers. */
static GMimeObject *parse_headers(const char *data, size_t len)
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

static void scan_part(GMimeObject *parent, GMimeObject *part, gpointer data)
{
	(void)parent;
	struct dsn_scan *sc = data;
	GMimeContentType *ct = g_mime_object_get_content_type(part);
	if (!ct)
		return;
	if (!sc->status && (g_mime_content_type_is_type(ct, "message", "delivery-status") ||
	                    g_mime_content_type_is_type(ct, "message", "global-delivery-status"))) {
		sc->status = part_bytes(part);
	} else if (!sc->orig && GMIME_IS_MESSAGE_PART(part) &&
	           (g_mime_content_type_is_type(ct, "message", "rfc822") ||
	            g_mime_content_type_is_type(ct, "message", "global"))) {
		GMimeMessage *m = g_mime_message_part_get_message(GMIME_MESSAGE_PART(part));
		if (m)
			sc->orig = g_object_ref(GMIME_OBJECT(m));
	} else if (!sc->orig && g_mime_content_type_is_type(ct, "text", "rfc822-headers")) {
		GByteArray *b = part_bytes(part);
		sc->orig = parse_headers((const char *)b->data, b->len);
		g_byte_array_free(b, TRUE);
	}
}

/* "rfc822; user@x" -> "user@x" (into out). */
static const char *typed_value(const char *v, char *out, size_t outsz)
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
	return out;
}

static int64_t header_date(GMimeObject *o, const char *name)
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

struct dsn_ctx {
	int64_t arrival;
	const char *mail_from;
	const char *header_from_domain;
	const char *message_id;
	char enh[16];
	struct buf text;
};

static int recipient_block(struct bounce_parser *p, struct dsn_ctx *c, GMimeObject *blk,
                           const char *raw, size_t rawlen, struct err *e)
{
	char rcpt[512], mta[256], diag_type[16];
	struct bounce_event ev = {0};
	const char *fr = g_mime_object_get_header(blk, "Final-Recipient");
	if (!fr)
		fr = g_mime_object_get_header(blk, "Original-Recipient");
	ev.recipient = typed_value(fr, rcpt, sizeof rcpt);
	if (!ev.recipient) {
		bounce_malformed(p, "dsn: recipient block without Final-Recipient", raw, rawlen);
		return 0;
	}
	const char *action = g_mime_object_get_header(blk, "Action");
	const char *status = g_mime_object_get_header(blk, "Status");
	if (status) {
		while (*status == ' ')
			status++;
		size_t k = 0;
		while (status[k] && k < sizeof c->enh - 1 &&
		       (isdigit((unsigned char)status[k]) || status[k] == '.'))
			k++;
		memcpy(c->enh, status, k);
		c->enh[k] = '\0';
		if (k >= 5)
			ev.enhanced_code = c->enh;
	}
	if (action) {
		while (*action == ' ')
			action++;
		if (g_ascii_strncasecmp(action, "failed", 6) == 0)
			ev.status = BOUNCE_BOUNCED;
		else if (g_ascii_strncasecmp(action, "delayed", 7) == 0)
			ev.status = BOUNCE_DEFERRED;
		else if (g_ascii_strncasecmp(action, "delivered", 9) == 0 ||
		         g_ascii_strncasecmp(action, "relayed", 7) == 0 ||
		         g_ascii_strncasecmp(action, "expanded", 8) == 0)
			ev.status = BOUNCE_DELIVERED;
		else {
			bounce_malformed(p, "dsn: unknown Action", raw, rawlen);
			return 0;
		}
	} else if (ev.enhanced_code) { /* truncated after Status: the class says */
		ev.status = c->enh[0] == '2'   ? BOUNCE_DELIVERED
		            : c->enh[0] == '4' ? BOUNCE_DEFERRED
		                               : BOUNCE_BOUNCED;
	} else {
		bounce_malformed(p, "dsn: recipient without Action or Status", raw, rawlen);
		return 0;
	}
	ev.remote_mta = typed_value(g_mime_object_get_header(blk, "Remote-MTA"), mta, sizeof mta);
	const char *diag = g_mime_object_get_header(blk, "Diagnostic-Code");
	if (diag) {
		const char *semi = strchr(diag, ';');
		size_t tl = semi ? (size_t)(semi - diag) : 0;
		if (semi && tl < sizeof diag_type) {
			diag = semi + 1;
			while (*diag == ' ' || *diag == '\t')
				diag++;
		}
		bounce_reply_parse(&ev, diag, c->enh, &c->text);
	}
	ev.at = header_date(blk, "Last-Attempt-Date");
	if (!ev.at)
		ev.at = c->arrival;
	ev.mail_from = c->mail_from;
	ev.header_from_domain = c->header_from_domain;
	ev.message_id = c->message_id;
	return bounce_emit(p, &ev, e);
}

static int dsn_finish(struct bounce_parser *p, struct err *e)
{
	int rc = 0;
	struct dsn_scan sc = {0};
	struct dsn_ctx c = {0};
	char from_buf[512], mid_buf[512], sender_buf[512];
	GMimeMessage *msg = NULL;
	GMimeParser *parser = NULL;
	GMimeStream *mem = NULL;
	buf_init(&c.text, 0);
	if (p->bytes.len == 0)
		goto out;
	p->st.lines++;
	mem = g_mime_stream_mem_new_with_buffer(p->bytes.data, p->bytes.len);
	parser = g_mime_parser_new_with_stream(mem);
	msg = g_mime_parser_construct_message(parser, NULL);
	if (!msg) {
		bounce_malformed(p, "dsn: not a MIME message", p->bytes.data, p->bytes.len);
		goto out;
	}
	g_mime_message_foreach(msg, scan_part, &sc);
	if (!sc.status || sc.status->len == 0) {
		bounce_malformed(p,
		                 sc.status ? "dsn: empty delivery-status part"
		                           : "dsn: no delivery-status part",
		                 p->bytes.data, p->bytes.len);
		goto out;
	}
	/* the original message's identity, when it came along */
	if (sc.orig) {
		const char *from = g_mime_object_get_header(sc.orig, "From");
		InternetAddressList *l = from ? internet_address_list_parse(NULL, from) : NULL;
		if (l && internet_address_list_length(l) > 0) {
			InternetAddress *ia = internet_address_list_get_address(l, 0);
			if (INTERNET_ADDRESS_IS_MAILBOX(ia)) {
				const char *addr =
				    internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia));
				const char *d = addr ? strrchr(addr, '@') : NULL;
				if (d && strlen(d + 1) < sizeof from_buf) {
					memcpy(from_buf, d + 1, strlen(d + 1) + 1);
					c.header_from_domain = from_buf;
				}
			}
		}
		if (l)
			g_object_unref(l);
		c.message_id = typed_value(g_mime_object_get_header(sc.orig, "Message-ID"), mid_buf,
		                           sizeof mid_buf);
		if (!c.mail_from)
			c.mail_from = typed_value(g_mime_object_get_header(sc.orig, "Return-Path"),
			                          sender_buf, sizeof sender_buf);
	}
	/* blocks separated by blank lines; the first is per-message */
	const char *s = (const char *)sc.status->data, *end = s + sc.status->len;
	c.arrival = header_date(GMIME_OBJECT(msg), "Date");
	bool first = true;
	int nrcpt = 0;
	while (s < end) {
		while (s < end && (*s == '\n' || *s == '\r'))
			s++;
		if (s >= end)
			break;
		const char *b = s;
		while (s < end) {
			const char *nl = memchr(s, '\n', (size_t)(end - s));
			if (!nl) {
				s = end;
				break;
			}
			s = nl + 1;
			if (s < end && (*s == '\n' || (*s == '\r' && s + 1 < end && s[1] == '\n')))
				break;
		}
		GMimeObject *blk = parse_headers(b, (size_t)(s - b));
		if (!blk) {
			bounce_malformed(p, "dsn: unreadable field block", b, (size_t)(s - b));
			continue;
		}
		bool is_rcpt = g_mime_object_get_header(blk, "Final-Recipient") ||
		               g_mime_object_get_header(blk, "Original-Recipient") ||
		               g_mime_object_get_header(blk, "Action");
		if (first && !is_rcpt) {
			int64_t arr = header_date(blk, "Arrival-Date");
			if (arr)
				c.arrival = arr;
			const char *snd = g_mime_object_get_header(blk, "X-Postfix-Sender");
			if (snd)
				c.mail_from = typed_value(snd, sender_buf, sizeof sender_buf);
		} else {
			nrcpt++;
			rc = recipient_block(p, &c, blk, b, (size_t)(s - b), e);
		}
		first = false;
		g_object_unref(blk);
		if (rc < 0)
			goto out;
	}
	if (nrcpt == 0)
		bounce_malformed(p, "dsn: no recipient blocks", p->bytes.data, p->bytes.len);
out:
	if (sc.status)
		g_byte_array_free(sc.status, TRUE);
	if (sc.orig)
		g_object_unref(sc.orig);
	if (msg)
		g_object_unref(msg);
	if (parser)
		g_object_unref(parser);
	if (mem)
		g_object_unref(mem);
	buf_free(&c.text);
	return rc;
}

const struct bounce_ops bounce_dsn_ops = {
    .line_based = false,
    .init = dsn_init,
    .line = NULL,
    .finish = dsn_finish,
    .free = NULL,
};
