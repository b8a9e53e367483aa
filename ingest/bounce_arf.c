/*
 * bounce_arf: the messages at a bounce address that are not bounces —
 * ARF complaints (RFC 5965 message/feedback-report), RFC 3834 auto-replies
 * and out-of-office answers — and Amazon SES notifications delivered as
 * mail (JSON, json-c). A complaint is one event with feedback_type set
 * (class "complaint"); an auto-reply is a delivery with auto_reply set;
 * SES bounces, complaints and deliveries become the events they describe.
 * DMARC failure reports (Feedback-Type: auth-failure) are not complaints:
 * they are left to the failure-report reader and counted as skipped here.
 */
#include "core/xalloc.h"
#include "ingest/bounce_mail_int.h"

#include <ctype.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The first mailbox of an address header, into out. */
static const char *first_addr(const char *hdr, char *out, size_t outsz)
{
	if (!hdr)
		return NULL;
	InternetAddressList *l = internet_address_list_parse(NULL, hdr);
	const char *res = NULL;
	if (l && internet_address_list_length(l) > 0) {
		InternetAddress *ia = internet_address_list_get_address(l, 0);
		if (INTERNET_ADDRESS_IS_MAILBOX(ia)) {
			const char *a =
			    internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia));
			if (a && strlen(a) < outsz && strchr(a, '@')) {
				memcpy(out, a, strlen(a) + 1);
				res = out;
			}
		}
	}
	if (l)
		g_object_unref(l);
	return res;
}

int arf_read(struct bounce_parser *p, struct mail_ctx *c, const char *fields, size_t len,
             GMimeObject *orig, struct err *e)
{
	char rcpt[512], ftype[64], ip[64], mid[512];
	GMimeObject *blk = dsn_parse_headers(fields, len);
	int rc = 0;
	if (!blk) {
		bounce_malformed(p, "arf: unreadable feedback-report fields", fields, len);
		return 0;
	}
	const char *ft = g_mime_object_get_header(blk, "Feedback-Type");
	if (!ft || !dsn_typed_value(ft, ftype, sizeof ftype)) {
		bounce_malformed(p, "arf: feedback report without Feedback-Type", fields, len);
		goto out;
	}
	for (char *q = ftype; *q; q++)
		*q = (char)tolower((unsigned char)*q);
	if (strcmp(ftype, "auth-failure") == 0) {
		/* a DMARC failure report: not ours to store as a complaint */
		bounce_skip(p);
		goto out;
	}
	struct bounce_event ev = {0};
	ev.status = BOUNCE_DELIVERED;
	ev.feedback_type = ftype;
	ev.format = "arf";
	ev.recipient =
	    dsn_typed_value(g_mime_object_get_header(blk, "Original-Rcpt-To"), rcpt, sizeof rcpt);
	if (!ev.recipient && orig)
		ev.recipient = first_addr(g_mime_object_get_header(orig, "To"), rcpt, sizeof rcpt);
	if (!ev.recipient) {
		bounce_malformed(p, "arf: complaint that names no recipient", fields, len);
		goto out;
	}
	ev.sending_ip = dsn_typed_value(g_mime_object_get_header(blk, "Source-IP"), ip, sizeof ip);
	ev.mail_from = dsn_typed_value(g_mime_object_get_header(blk, "Original-Mail-From"),
	                               c->sender_buf, sizeof c->sender_buf);
	if (!ev.mail_from)
		ev.mail_from = c->mail_from;
	ev.header_from_domain = c->header_from_domain;
	ev.message_id = c->message_id;
	if (!ev.message_id && orig)
		ev.message_id =
		    dsn_typed_value(g_mime_object_get_header(orig, "Message-ID"), mid, sizeof mid);
	ev.at = dsn_header_date(blk, "Arrival-Date");
	if (!ev.at)
		ev.at = dsn_header_date(blk, "Received-Date");
	if (!ev.at)
		ev.at = c->arrival;
	buf_reset(&c->text);
	buf_printf(&c->text, "complaint (feedback type %s)", ftype);
	const char *ua = g_mime_object_get_header(blk, "User-Agent");
	if (ua)
		buf_printf(&c->text, " from %.100s", ua);
	ev.text = c->text.data;
	rc = bounce_emit(p, &ev, e) < 0 ? -1 : 1;
out:
	g_object_unref(blk);
	return rc;
}

/* RFC 3834 and the de-facto markers of vacation responders. */
bool autoreply_is(GMimeMessage *msg)
{
	GMimeObject *o = GMIME_OBJECT(msg);
	const char *as = g_mime_object_get_header(o, "Auto-Submitted");
	if (as) {
		while (*as == ' ')
			as++;
		if (g_ascii_strncasecmp(as, "auto-replied", 12) == 0)
			return true;
	}
	static const char *const marks[] = {"X-Autoreply", "X-Autorespond",
	                                    "X-Auto-Response-Suppress-Not", "X-Vacation", NULL};
	for (const char *const *m = marks; *m; m++)
		if (g_mime_object_get_header(o, *m))
			return true;
	const char *prec = g_mime_object_get_header(o, "Precedence");
	if (prec && strstr(prec, "auto_reply"))
		return true;
	const char *subj = g_mime_message_get_subject(msg);
	if (!subj)
		return false;
	static const char *const subjects[] = {"out of office",
	                                       "out of the office",
	                                       "automatic reply",
	                                       "auto reply",
	                                       "autoreply",
	                                       "auto-reply",
	                                       "auto:",
	                                       "abwesenheit",
	                                       "automatische antwort",
	                                       "réponse automatique",
	                                       "absence",
	                                       "respuesta automática",
	                                       "fuera de la oficina",
	                                       "resposta automática",
	                                       "ausente",
	                                       "автоответ",
	                                       "vacation",
	                                       "自動応答",
	                                       "不在",
	                                       NULL};
	char *low = g_utf8_strdown(subj, -1);
	bool yes = false;
	for (const char *const *s = subjects; *s && !yes; s++)
		yes = strstr(low, *s) != NULL;
	g_free(low);
	return yes;
}

static const char *jstr(json_object *o, const char *key)
{
	json_object *v = NULL;
	if (!o || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static json_object *jobj(json_object *o, const char *key)
{
	json_object *v = NULL;
	return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static int64_t jtime(const char *s)
{
	int64_t at = 0;
	return s && bounce_time_iso(s, &at) ? at : 0;
}

static int ses_emit(struct bounce_parser *p, struct mail_ctx *c, struct bounce_event *ev,
                    const char *reply, struct err *e)
{
	char enh[16];
	buf_reset(&c->text);
	if (reply) {
		/* "smtp; 550 5.1.1 ...": the type is not part of the reply */
		const char *semi = strchr(reply, ';');
		if (semi && semi - reply < 16 && g_ascii_strncasecmp(reply, "smtp", 4) == 0)
			reply = semi + 1;
		while (*reply == ' ')
			reply++;
		bounce_reply_parse(ev, reply, enh, &c->text);
	}
	ev->format = "ses";
	ev->mail_from = c->mail_from;
	ev->header_from_domain = c->header_from_domain;
	return bounce_emit(p, ev, e);
}

int ses_read(struct bounce_parser *p, struct mail_ctx *c, const char *json, size_t len,
             struct err *e)
{
	json_tokener *tok = json_tokener_new();
	json_object *root =
	    json_tokener_parse_ex(tok, json, (int)(len > INT32_MAX ? INT32_MAX : len));
	json_tokener_free(tok);
	json_object *inner = NULL;
	int n = 0;
	if (!root || !json_object_is_type(root, json_type_object))
		goto out;
	/* an SNS envelope carries the notification as a string */
	const char *msg = jstr(root, "Message");
	if (msg && jstr(root, "Type")) {
		inner = json_tokener_parse(msg);
		if (!inner || !json_object_is_type(inner, json_type_object))
			goto out;
	}
	json_object *n_obj = inner ? inner : root;
	const char *type = jstr(n_obj, "notificationType");
	if (!type)
		type = jstr(n_obj, "eventType");
	if (!type)
		goto out;
	json_object *mail = jobj(n_obj, "mail");
	char mid[512];
	const char *mid_s = jstr(mail, "messageId");
	const char *source = jstr(mail, "source");
	if (source && strlen(source) < sizeof c->sender_buf) {
		memcpy(c->sender_buf, source, strlen(source) + 1);
		c->mail_from = c->sender_buf;
	}
	if (mid_s && strlen(mid_s) < sizeof mid)
		memcpy(mid, mid_s, strlen(mid_s) + 1);
	const char *sip = jstr(mail, "sourceIp");
	if (strcasecmp(type, "Bounce") == 0) {
		json_object *b = jobj(n_obj, "bounce");
		json_object *list = jobj(b, "bouncedRecipients");
		bool transient =
		    jstr(b, "bounceType") && strcasecmp(jstr(b, "bounceType"), "Transient") == 0;
		int64_t at = jtime(jstr(b, "timestamp"));
		size_t k = list && json_object_is_type(list, json_type_array)
		               ? json_object_array_length(list)
		               : 0;
		for (size_t i = 0; i < k; i++) {
			json_object *r = json_object_array_get_idx(list, i);
			struct bounce_event ev = {0};
			ev.recipient = jstr(r, "emailAddress");
			if (!ev.recipient)
				continue;
			const char *st = jstr(r, "status");
			char enh[16] = "";
			if (st && bclass_find_enhanced(st, enh, sizeof enh) == 0)
				ev.enhanced_code = enh;
			const char *action = jstr(r, "action");
			ev.status = transient || (action && strcasecmp(action, "delayed") == 0) ||
			                    (ev.enhanced_code && enh[0] == '4')
			                ? BOUNCE_DEFERRED
			                : BOUNCE_BOUNCED;
			ev.at = at;
			ev.sending_ip = sip;
			ev.message_id = mid_s ? mid : NULL;
			const char *diag = jstr(r, "diagnosticCode");
			if (!diag)
				diag = jstr(b, "bounceSubType");
			if (ses_emit(p, c, &ev, diag, e) < 0)
				goto fail;
			n++;
		}
	} else if (strcasecmp(type, "Complaint") == 0) {
		json_object *cp = jobj(n_obj, "complaint");
		json_object *list = jobj(cp, "complainedRecipients");
		const char *ft = jstr(cp, "complaintFeedbackType");
		size_t k = list && json_object_is_type(list, json_type_array)
		               ? json_object_array_length(list)
		               : 0;
		for (size_t i = 0; i < k; i++) {
			struct bounce_event ev = {0};
			ev.recipient = jstr(json_object_array_get_idx(list, i), "emailAddress");
			if (!ev.recipient)
				continue;
			ev.status = BOUNCE_DELIVERED;
			ev.feedback_type = ft ? ft : "abuse";
			ev.at = jtime(jstr(cp, "timestamp"));
			ev.sending_ip = sip;
			ev.message_id = mid_s ? mid : NULL;
			buf_reset(&c->text);
			ev.text = "complaint reported through Amazon SES";
			if (ses_emit(p, c, &ev, NULL, e) < 0)
				goto fail;
			n++;
		}
	} else if (strcasecmp(type, "Delivery") == 0) {
		json_object *d = jobj(n_obj, "delivery");
		json_object *list = jobj(d, "recipients");
		const char *resp = jstr(d, "smtpResponse");
		size_t k = list && json_object_is_type(list, json_type_array)
		               ? json_object_array_length(list)
		               : 0;
		for (size_t i = 0; i < k; i++) {
			json_object *r = json_object_array_get_idx(list, i);
			struct bounce_event ev = {0};
			ev.recipient = json_object_is_type(r, json_type_string)
			                   ? json_object_get_string(r)
			                   : NULL;
			if (!ev.recipient)
				continue;
			ev.status = BOUNCE_DELIVERED;
			ev.at = jtime(jstr(d, "timestamp"));
			ev.sending_ip = sip;
			ev.remote_ip = jstr(d, "remoteMtaIp");
			ev.message_id = mid_s ? mid : NULL;
			if (ses_emit(p, c, &ev, resp, e) < 0)
				goto fail;
			n++;
		}
	}
out:
	if (inner)
		json_object_put(inner);
	if (root)
		json_object_put(root);
	return n;
fail:
	n = -1;
	goto out;
}
