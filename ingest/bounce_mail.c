/*
 * bounce_mail: one message that arrived at a bounce address, whatever it
 * is. gmime parses it once; the MIME tree is walked (into message/rfc822
 * too, so a forwarded DSN is found) for the delivery-status part, the
 * feedback report, the returned message's headers and the human-readable
 * text (charset and transfer encoding undone by gmime). Then, in order:
 * an RFC 3464 delivery-status part; an ARF complaint; an Amazon SES
 * notification; DSN fields outside a well-formed status part (lenient);
 * a plain-text notice (bounce_text.c); an auto-reply. What is none of
 * these is counted as malformed with the reason, never dropped unsaid.
 * A DMARC failure report, in either layout, is not a bounce: the failure
 * report reader's own recogniser (ruf_is_failure_report) says so, and it is
 * counted as skipped.
 */
#include "core/xalloc.h"
#include "ingest/bounce_mail_int.h"
#include "ingest/mime.h"
#include "ingest/ruf.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define WALK_DEPTH 8

struct scan {
	GByteArray *status; /* the delivery-status body */
	int status_depth;
	GByteArray *feedback; /* the feedback-report body */
	GMimeObject *orig;    /* headers of the returned message (a ref) */
	char *notice;         /* the first human-readable text part (UTF-8) */
	char *prologue;       /* text before a broken multipart's first boundary */
};

static int mail_init(struct bounce_parser *p)
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

static void walk(struct scan *sc, GMimeObject *obj, int depth, bool returned)
{
	if (!obj || depth > WALK_DEPTH)
		return;
	GMimeContentType *ct = g_mime_object_get_content_type(obj);
	if (GMIME_IS_MULTIPART(obj)) {
		GMimeMultipart *mp = GMIME_MULTIPART(obj);
		int n = g_mime_multipart_get_count(mp);
		const char *pro = g_mime_multipart_get_prologue(mp);
		if (n == 0 && pro && !sc->prologue && !returned)
			sc->prologue = xstrdup(pro);
		for (int i = 0; i < n; i++)
			walk(sc, g_mime_multipart_get_part(mp, i), depth + 1, returned);
		return;
	}
	bool status_type =
	    ct && (g_mime_content_type_is_type(ct, "message", "delivery-status") ||
	           g_mime_content_type_is_type(ct, "message", "global-delivery-status"));
	if (status_type) {
		if (!sc->status || depth < sc->status_depth) {
			if (sc->status)
				g_byte_array_free(sc->status, TRUE);
			sc->status = part_bytes(obj);
			sc->status_depth = depth;
		}
		return;
	}
	if (ct && g_mime_content_type_is_type(ct, "message", "feedback-report")) {
		if (!sc->feedback)
			sc->feedback = part_bytes(obj);
		return;
	}
	if (GMIME_IS_MESSAGE_PART(obj)) {
		GMimeMessage *m = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
		if (!m)
			return;
		if (!sc->orig)
			sc->orig = g_object_ref(GMIME_OBJECT(m));
		/* a DSN forwarded as an attachment is inside */
		walk(sc, g_mime_message_get_mime_part(m), depth + 1, true);
		return;
	}
	if (ct && g_mime_content_type_is_type(ct, "text", "rfc822-headers")) {
		if (!sc->orig) {
			GByteArray *b = part_bytes(obj);
			sc->orig = dsn_parse_headers((const char *)b->data, b->len);
			g_byte_array_free(b, TRUE);
		}
		return;
	}
	if (!returned && !sc->notice && GMIME_IS_TEXT_PART(obj) && ct &&
	    (g_mime_content_type_is_type(ct, "text", "plain") ||
	     g_mime_content_type_is_type(ct, "application", "json"))) {
		char *t = g_mime_text_part_get_text(GMIME_TEXT_PART(obj));
		if (t) {
			sc->notice = xstrdup(t);
			g_free(t);
		}
	}
}

static void scan_free(struct scan *sc)
{
	if (sc->status)
		g_byte_array_free(sc->status, TRUE);
	if (sc->feedback)
		g_byte_array_free(sc->feedback, TRUE);
	if (sc->orig)
		g_object_unref(sc->orig);
	free(sc->notice);
	free(sc->prologue);
}

/* The original message's identity, when it came along. */
static void orig_identity(struct mail_ctx *c, GMimeObject *orig, char *from_buf, size_t fbsz,
                          char *mid_buf, size_t mbsz)
{
	if (!orig)
		return;
	const char *from = g_mime_object_get_header(orig, "From");
	InternetAddressList *l = from ? internet_address_list_parse(NULL, from) : NULL;
	if (l && internet_address_list_length(l) > 0) {
		InternetAddress *ia = internet_address_list_get_address(l, 0);
		if (INTERNET_ADDRESS_IS_MAILBOX(ia)) {
			const char *addr =
			    internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia));
			const char *d = addr ? strrchr(addr, '@') : NULL;
			if (d && strlen(d + 1) < fbsz) {
				memcpy(from_buf, d + 1, strlen(d + 1) + 1);
				c->header_from_domain = from_buf;
			}
		}
	}
	if (l)
		g_object_unref(l);
	c->message_id =
	    dsn_typed_value(g_mime_object_get_header(orig, "Message-ID"), mid_buf, mbsz);
	if (!c->mail_from)
		c->mail_from = dsn_typed_value(g_mime_object_get_header(orig, "Return-Path"),
		                               c->sender_buf, sizeof c->sender_buf);
}

/* Addresses of one header into a NULL-terminated list (g_free'd strings). */
static void header_addrs(GMimeObject *o, const char *name, GPtrArray *out)
{
	const char *v = o ? g_mime_object_get_header(o, name) : NULL;
	InternetAddressList *l = v ? internet_address_list_parse(NULL, v) : NULL;
	for (int i = 0; l && i < internet_address_list_length(l); i++) {
		InternetAddress *ia = internet_address_list_get_address(l, i);
		if (INTERNET_ADDRESS_IS_MAILBOX(ia)) {
			const char *a =
			    internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia));
			if (a && strchr(a, '@'))
				g_ptr_array_add(out, g_strdup(a));
		}
	}
	if (l)
		g_object_unref(l);
}

static int emit_notice_rcpt(struct bounce_parser *p, struct mail_ctx *c, const char *addr, int code,
                            const char *enh, const char *text, const char *mta, const char *ip,
                            bool delayed, const char *format, struct err *e)
{
	struct bounce_event ev = {0};
	ev.recipient = addr;
	ev.reply_code = code;
	if (enh && enh[0]) {
		memcpy(c->enh, enh, sizeof c->enh);
		ev.enhanced_code = c->enh;
	}
	ev.text = text;
	ev.remote_mta = mta;
	ev.remote_ip = ip;
	/* a failure notice reports what the MTA gave up on, even a 4xx (the
	 * class says temporary); a warning reports what it still retries */
	ev.status = code >= 200 && code < 300 ? BOUNCE_DELIVERED
	            : delayed                 ? BOUNCE_DEFERRED
	                                      : BOUNCE_BOUNCED;
	ev.at = c->arrival;
	ev.mail_from = c->mail_from;
	ev.header_from_domain = c->header_from_domain;
	ev.message_id = c->message_id;
	ev.format = format;
	return bounce_emit(p, &ev, e);
}

/* A plain-text notice: one event per recipient it names; with none named
 * in the text, X-Failed-Recipients, else the returned message's only To. */
static int read_notice(struct bounce_parser *p, struct mail_ctx *c, const struct btext *bt,
                       GMimeMessage *msg, GMimeObject *orig, struct err *e)
{
	int n = 0;
	for (size_t i = 0; i < bt->n; i++) {
		const struct btext_rcpt *r = &bt->r[i];
		if (emit_notice_rcpt(p, c, r->addr, r->reply_code, r->enhanced, r->text,
		                     r->remote_mta, r->remote_ip, r->delayed, bt->format, e) < 0)
			return -1;
		n++;
	}
	if (n > 0)
		return n;
	/* the MTA's own header names them even when the text does not; the
	 * returned message's single To only when the notice gives a reason */
	GPtrArray *a = g_ptr_array_new_with_free_func(g_free);
	header_addrs(msg ? GMIME_OBJECT(msg) : NULL, "X-Failed-Recipients", a);
	if (a->len == 0 && (bt->global_text || bt->global_code)) {
		header_addrs(orig, "To", a);
		if (a->len != 1)
			g_ptr_array_set_size(a, 0);
	}
	for (guint i = 0; i < a->len; i++) {
		if (emit_notice_rcpt(p, c, g_ptr_array_index(a, i), bt->global_code,
		                     bt->global_enhanced, bt->global_text ? bt->global_text : "",
		                     NULL, NULL, bt->delayed, bt->format, e) < 0) {
			n = -1;
			break;
		}
		n++;
	}
	g_ptr_array_free(a, TRUE);
	return n;
}

static int read_autoreply(struct bounce_parser *p, struct mail_ctx *c, GMimeMessage *msg,
                          struct err *e)
{
	GPtrArray *a = g_ptr_array_new_with_free_func(g_free);
	header_addrs(GMIME_OBJECT(msg), "From", a);
	int rc = 0;
	if (a->len > 0) {
		struct bounce_event ev = {0};
		ev.recipient = g_ptr_array_index(a, 0);
		ev.status = BOUNCE_DELIVERED;
		ev.auto_reply = true;
		ev.format = "auto_reply";
		const char *subj = g_mime_message_get_subject(msg);
		ev.text = subj ? subj : "auto-reply";
		ev.at = c->arrival;
		ev.header_from_domain = c->header_from_domain;
		ev.message_id = c->message_id;
		rc = bounce_emit(p, &ev, e) < 0 ? -1 : 1;
	}
	g_ptr_array_free(a, TRUE);
	return rc;
}

static bool contains_ci(const char *s, size_t n, const char *needle)
{
	size_t k = strlen(needle);
	for (size_t i = 0; i + k <= n; i++)
		if (g_ascii_strncasecmp(s + i, needle, k) == 0)
			return true;
	return false;
}

/* The body of a message whose MIME structure gmime could not use. */
static const char *raw_body(const char *data, size_t len, size_t *blen)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (data[i] == '\n' &&
		    (data[i + 1] == '\n' ||
		     (data[i + 1] == '\r' && i + 2 < len && data[i + 2] == '\n'))) {
			*blen = len - i - 1;
			return data + i + 1;
		}
	}
	*blen = len;
	return data;
}

static int mail_finish(struct bounce_parser *p, struct err *e)
{
	int rc = 0, n = 0;
	struct scan sc = {0};
	struct mail_ctx c = {0};
	struct btext bt = {0};
	char from_buf[512], mid_buf[512];
	GMimeMessage *msg = NULL;
	GMimeParser *parser = NULL;
	GMimeStream *mem = NULL;
	GPtrArray *skip = g_ptr_array_new_with_free_func(g_free);
	buf_init(&c.text, 0);
	if (p->bytes.len == 0)
		goto out;
	p->st.lines++;
	const char *data = p->bytes.data;
	size_t len = p->bytes.len;
	if (ruf_is_failure_report(data, len)) {
		bounce_skip(p); /* the failure report reader's (ingest/ruf.h) */
		goto out;
	}
	mem = g_mime_stream_mem_new_with_buffer(data, len);
	parser = g_mime_parser_new_with_stream(mem);
	msg = g_mime_parser_construct_message(parser, NULL);
	const char *subject = NULL, *from = NULL;
	if (msg) {
		walk(&sc, g_mime_message_get_mime_part(msg), 0, false);
		c.arrival = dsn_header_date(GMIME_OBJECT(msg), "Date");
		subject = g_mime_message_get_subject(msg);
		header_addrs(GMIME_OBJECT(msg), "From", skip);
		if (skip->len > 0)
			from = g_ptr_array_index(skip, 0);
		header_addrs(GMIME_OBJECT(msg), "To", skip);
	}
	orig_identity(&c, sc.orig, from_buf, sizeof from_buf, mid_buf, sizeof mid_buf);
	/* the notice text: the first text part, else a broken multipart's
	 * prologue, else the raw body */
	const char *ntext = sc.notice ? sc.notice : sc.prologue;
	size_t nlen = ntext ? strlen(ntext) : 0;
	if (!ntext)
		ntext = raw_body(data, len, &nlen);
	g_ptr_array_add(skip, NULL);
	btext_read(ntext, nlen, subject, (const char *const *)skip->pdata, &bt);
	c.notice = &bt;

	if (sc.status && sc.status->len > 0) {
		c.format = "dsn";
		n = dsn_read_fields(p, &c, (const char *)sc.status->data, sc.status->len, false, e);
		if (n != 0)
			goto done;
	}
	if (sc.feedback) {
		n = arf_read(p, &c, (const char *)sc.feedback->data, sc.feedback->len, sc.orig, e);
		if (n < 0)
			goto done;
		n = 1; /* handled, whether kept or skipped */
		goto done;
	}
	{
		const char *j = ntext;
		while (j < ntext + nlen && isspace((unsigned char)*j))
			j++;
		if (j < ntext + nlen && *j == '{') {
			n = ses_read(p, &c, j, nlen - (size_t)(j - ntext), e);
			if (n != 0)
				goto done;
		}
	}
	if (contains_ci(data, len, "Final-Recipient:")) {
		c.format = "dsn-lenient";
		n = dsn_read_fields(p, &c, ntext, nlen, true, e);
		if (n == 0)
			n = dsn_read_fields(p, &c, data, len, true, e);
		if (n != 0)
			goto done;
	}
	bool notice = btext_is_notice(ntext, nlen, subject, from);
	bool auto_reply = msg && autoreply_is(msg);
	if (notice && !(auto_reply && bt.n == 0 && !bt.global_code)) {
		n = read_notice(p, &c, &bt, msg, sc.orig, e);
		if (n != 0)
			goto done;
	}
	if (auto_reply) {
		n = read_autoreply(p, &c, msg, e);
		if (n != 0)
			goto done;
	}
	if (!msg)
		bounce_malformed(p, "mail: not a MIME message", data, len);
	else if (notice)
		bounce_malformed(p, "mail: bounce notice that names no recipient", data, len);
	else
		bounce_malformed(p, "mail: no delivery status, complaint or auto-reply", data, len);
	goto out;
done:
	if (n < 0)
		rc = -1;
	else if (n == 0)
		bounce_malformed(p, "dsn: no recipient blocks", data, len);
out:
	btext_free(&bt);
	scan_free(&sc);
	g_ptr_array_free(skip, TRUE);
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
    .init = mail_init,
    .line = NULL,
    .finish = mail_finish,
    .free = NULL,
};

struct kind_probe {
	enum bounce_mail_kind kind;
};

static int probe_event(void *ctx, const struct bounce_event *ev, struct err *e)
{
	(void)e;
	struct kind_probe *k = ctx;
	if (k->kind != BOUNCE_MAIL_NONE)
		return 0;
	if (ev->feedback_type)
		k->kind = BOUNCE_MAIL_COMPLAINT;
	else if (ev->auto_reply)
		k->kind = BOUNCE_MAIL_AUTO_REPLY;
	else if (ev->format && strncmp(ev->format, "dsn", 3) == 0)
		k->kind = BOUNCE_MAIL_DSN;
	else if (ev->format && strcmp(ev->format, "ses") == 0)
		k->kind = BOUNCE_MAIL_SES;
	else
		k->kind = BOUNCE_MAIL_NOTICE;
	return 0;
}

enum bounce_mail_kind bounce_mail_kind(const void *data, size_t len)
{
	struct kind_probe k = {BOUNCE_MAIL_NONE};
	struct bounce_parser *p = NULL;
	struct err e = {0};
	if (bounce_parser_new(&p, BOUNCE_FMT_DSN, 0, probe_event, &k, &e) == 0 &&
	    bounce_parser_feed(p, data, len, &e) == 0)
		bounce_parser_finish(p, &e);
	bounce_parser_free(p);
	return k.kind;
}
