/*
 * The failure report reader: gmime parses the message, we walk the tree
 * (capped like mime.c) for the feedback fields and the original message, and
 * let gmime parse the field block too (it is a header block: folding,
 * repeated names and odd spacing are gmime's business, not ours).
 */
#include "ingest/ruf.h"

#include "core/xalloc.h"
#include "ingest/complaints.h"
#include "ingest/mime.h"
#include "ingest/mime_int.h"
#include "ingest/redact.h"
#include "ingest/validate.h"

#include <gmime/gmime.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define STAGE       ERR_STAGE_RUF
#define MAX_MESSAGE ((size_t)64 * 1024 * 1024)
#define MAX_PARTS   1000
#define MAX_DEPTH   32
#define TEXT_WINDOW 16384 /* how far into a text/plain part the fields may start */
#define VALUE_SHOWN 80

struct found {
	GByteArray *fields;     /* the feedback field block (a copy) */
	bool text_layout;       /* found in text/plain (older AFRF) */
	GMimeObject *original;  /* the original's header carrier (ref held) */
	GMimeObject *orig_body; /* its body, when it came as message/rfc822 */
	size_t visited;
};

static void quiet_warning(gint64 offset, GMimeParserWarning code, const gchar *item, gpointer data)
{
	(void)offset;
	(void)code;
	(void)item;
	(void)data;
}

static GMimeMessage *parse_message(const void *data, size_t len)
{
	mime_init();
	GMimeParserOptions *opts = g_mime_parser_options_new();
	g_mime_parser_options_set_warning_callback(opts, quiet_warning, NULL);
	GMimeStream *stream = g_mime_stream_mem_new_with_buffer(data, len);
	GMimeParser *parser = g_mime_parser_new_with_stream(stream);
	GMimeMessage *msg = g_mime_parser_construct_message(parser, opts);
	g_object_unref(parser);
	g_object_unref(stream);
	g_mime_parser_options_free(opts);
	return msg;
}

static GByteArray *leaf_bytes(GMimePart *part)
{
	GMimeDataWrapper *content = g_mime_part_get_content(part);
	GMimeStream *mem = g_mime_stream_mem_new();
	GByteArray *copy = g_byte_array_new();
	if (content && g_mime_data_wrapper_write_to_stream(content, mem) >= 0) {
		GByteArray *arr = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
		g_byte_array_append(copy, arr->data, arr->len);
	}
	g_object_unref(mem);
	return copy;
}

/* Where "Feedback-Type:" starts a line in the first TEXT_WINDOW bytes. */
static const guint8 *fields_start(const GByteArray *b)
{
	static const char name[] = "feedback-type:";
	size_t n = b->len < TEXT_WINDOW ? b->len : TEXT_WINDOW, m = sizeof name - 1;
	for (size_t i = 0; i + m <= n; i++)
		if ((i == 0 || b->data[i - 1] == '\n') &&
		    strncasecmp((const char *)b->data + i, name, m) == 0)
			return b->data + i;
	return NULL;
}

static void walk(struct found *f, GMimeObject *obj, int depth)
{
	if (!obj || depth > MAX_DEPTH || ++f->visited > MAX_PARTS)
		return;
	if (GMIME_IS_MULTIPART(obj)) {
		GMimeMultipart *mp = GMIME_MULTIPART(obj);
		int n = g_mime_multipart_get_count(mp);
		for (int i = 0; i < n; i++)
			walk(f, g_mime_multipart_get_part(mp, i), depth + 1);
		return;
	}
	if (GMIME_IS_MESSAGE_PART(obj)) {
		GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
		if (inner && !f->original) {
			f->original = g_object_ref(GMIME_OBJECT(inner));
			f->orig_body = g_mime_message_get_mime_part(inner);
		}
		return;
	}
	if (!GMIME_IS_PART(obj))
		return;
	GMimeContentType *ct = g_mime_object_get_content_type(obj);
	if (!f->fields && g_mime_content_type_is_type(ct, "message", "feedback-report")) {
		f->fields = leaf_bytes(GMIME_PART(obj));
		f->text_layout = false;
	} else if (!f->original && g_mime_content_type_is_type(ct, "text", "rfc822-headers")) {
		GByteArray *b = leaf_bytes(GMIME_PART(obj));
		g_byte_array_append(b, (const guint8 *)"\n\n", 2);
		GMimeMessage *m = parse_message(b->data, b->len);
		g_byte_array_unref(b);
		if (m)
			f->original = GMIME_OBJECT(m);
	} else if (!f->fields && g_mime_content_type_is_type(ct, "text", "plain")) {
		GByteArray *b = leaf_bytes(GMIME_PART(obj));
		const guint8 *at = fields_start(b);
		if (at) {
			f->fields = g_byte_array_new();
			g_byte_array_append(f->fields, at,
			                    (guint)(b->len - (size_t)(at - b->data)));
			f->text_layout = true;
		}
		g_byte_array_unref(b);
	}
}

static void found_free(struct found *f)
{
	if (f->fields)
		g_byte_array_unref(f->fields);
	if (f->original)
		g_object_unref(f->original);
}

/* The field block as a header list (parsed by gmime as a message). */
static GMimeMessage *parse_fields(GByteArray *fields)
{
	g_byte_array_append(fields, (const guint8 *)"\n\n", 2);
	return parse_message(fields->data, fields->len);
}

/* A header's value, unfolded, decoded (RFC 2047), trimmed, valid UTF-8. */
static char *value_of(GMimeObject *o, const char *name)
{
	const char *v = o ? g_mime_object_get_header(o, name) : NULL;
	if (!v)
		return NULL;
	char *dec = g_mime_utils_header_decode_text(NULL, v);
	gchar *valid = g_utf8_make_valid(dec ? dec : v, -1);
	g_free(dec);
	g_strstrip(valid);
	char *out = xstrdup(valid);
	g_free(valid);
	return out;
}

static char *lower_value(GMimeObject *o, const char *name)
{
	char *v = value_of(o, name);
	for (char *p = v; p && *p; p++)
		*p = g_ascii_tolower(*p);
	return v;
}

static char *feedback_type_of(GMimeMessage *msg)
{
	struct found f = {0};
	char *type = NULL;
	walk(&f, g_mime_message_get_mime_part(msg), 0);
	if (f.fields) {
		GMimeMessage *fm = parse_fields(f.fields);
		if (fm) {
			type = lower_value(GMIME_OBJECT(fm), "Feedback-Type");
			g_object_unref(fm);
		}
	}
	found_free(&f);
	return type;
}

static bool is_auth_failure(GMimeMessage *msg)
{
	char *type = feedback_type_of(msg);
	bool yes = type && strcmp(type, "auth-failure") == 0;
	free(type);
	return yes;
}

bool ruf_is_failure_report(const void *data, size_t len)
{
	if (len > MAX_MESSAGE)
		return false;
	GMimeMessage *msg = parse_message(data, len);
	if (!msg)
		return false;
	bool yes = is_auth_failure(msg);
	g_object_unref(msg);
	return yes;
}

bool ruf_msg_is_failure_report(const struct mime_msg *m, const void *data, size_t len)
{
	bool mbox_line = false;
	GMimeMessage *msg = mime_msg_gmime(m, &mbox_line);
	/* This reader's own parse keeps an mbox "From " line: the same answer
	 * as ruf_is_failure_report, always. */
	if (mbox_line)
		return ruf_is_failure_report(data, len);
	return len <= MAX_MESSAGE && is_auth_failure(msg);
}

static char *received_json(GMimeObject *o)
{
	json_object *arr = json_object_new_array();
	GMimeHeaderList *list = o ? g_mime_object_get_header_list(o) : NULL;
	int n = list ? g_mime_header_list_get_count(list) : 0;
	for (int i = 0; i < n; i++) {
		GMimeHeader *h = g_mime_header_list_get_header_at(list, i);
		if (g_ascii_strcasecmp(g_mime_header_get_name(h), "Received") != 0)
			continue;
		const char *v = g_mime_header_get_value(h);
		gchar *valid = g_utf8_make_valid(v ? v : "", -1);
		g_strstrip(valid);
		json_object_array_add(arr, json_object_new_string(valid));
		g_free(valid);
	}
	char *s = xstrdup(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN |
	                                                          JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(arr);
	return s;
}

static char *body_of(GMimeObject *body)
{
	if (!body)
		return NULL;
	GByteArray *b = NULL;
	if (GMIME_IS_PART(body)) {
		b = leaf_bytes(GMIME_PART(body));
	} else {
		char *s = g_mime_object_to_string(body, NULL);
		b = g_byte_array_new();
		g_byte_array_append(b, (const guint8 *)s, (guint)strlen(s));
		g_free(s);
	}
	size_t n = b->len > RUF_MAX_BODY ? RUF_MAX_BODY : b->len;
	/* An empty part has no data at all (NULL), which GLib refuses. */
	gchar *valid = g_utf8_make_valid(n ? (const char *)b->data : "", (gssize)n);
	g_byte_array_unref(b);
	char *out = xstrdup(valid);
	g_free(valid);
	return out;
}

static void redact(char **field)
{
	if (!*field)
		return;
	char *r = redact_addresses(*field);
	free(*field);
	*field = r;
}

/* The domain a tenant is chosen by: Reported-Domain, else the original
 * From's domain (validate_header_from reduces "Name <u@x>" to x). */
static char *tenant_domain(const struct ruf_report *r)
{
	if (r->reported_domain && *r->reported_domain)
		return xstrdup(r->reported_domain);
	if (!r->header_from)
		return NULL;
	char *d = xstrdup(r->header_from);
	validate_header_from(d);
	for (char *p = d; *p; p++)
		*p = g_ascii_tolower(*p);
	if (!*d) {
		free(d);
		return NULL;
	}
	return d;
}

int ruf_parse(const void *data, size_t len, const struct ruf_options *opts, struct ruf_report **out,
              struct err *e)
{
	static const struct ruf_options defaults = {false, false};
	struct found f = {0};
	struct complaints devs;
	GMimeMessage *msg = NULL, *fm = NULL;
	struct ruf_report *r = NULL;
	int rc = -1;

	*out = NULL;
	if (!opts)
		opts = &defaults;
	complaints_init(&devs);
	if (len > MAX_MESSAGE) {
		err_stage(e, STAGE, ERR_INPUT, "failure report of %zu bytes exceeds the cap of %zu",
		          len, MAX_MESSAGE);
		goto out;
	}
	msg = parse_message(data, len);
	if (!msg) {
		err_stage(e, STAGE, ERR_INPUT, "unparseable message: no RFC 5322 header block");
		goto out;
	}
	walk(&f, g_mime_message_get_mime_part(msg), 0);
	if (!f.fields || !(fm = parse_fields(f.fields))) {
		err_stage(e, STAGE, ERR_INPUT,
		          "not a failure report: no message/feedback-report part and no "
		          "Feedback-Type field in a text part");
		goto out;
	}
	GMimeObject *fo = GMIME_OBJECT(fm);
	r = xcalloc(1, sizeof *r);
	r->arrival = -1;
	r->layout = f.text_layout ? RUF_AFRF_TEXT : RUF_RFC6591;
	r->feedback_type = lower_value(fo, "Feedback-Type");
	if (!r->feedback_type || strcmp(r->feedback_type, "auth-failure") != 0) {
		err_stage(e, STAGE, ERR_INPUT,
		          "not a failure report: Feedback-Type '%.*s' (auth-failure expected)",
		          VALUE_SHOWN, r->feedback_type ? r->feedback_type : "");
		goto out;
	}
	r->user_agent = value_of(fo, "User-Agent");
	r->reporter = value_of(GMIME_OBJECT(msg), "From");
	r->auth_failure = lower_value(fo, "Auth-Failure");
	r->reported_domain = lower_value(fo, "Reported-Domain");
	r->dkim_domain = lower_value(fo, "DKIM-Domain");
	r->dkim_selector = value_of(fo, "DKIM-Selector");
	r->dkim_identity = value_of(fo, "DKIM-Identity");
	r->spf_dns = value_of(fo, "SPF-DNS");
	r->delivery_result = lower_value(fo, "Delivery-Result");
	r->identity_alignment = lower_value(fo, "Identity-Alignment");
	r->original_mail_from = value_of(fo, "Original-Mail-From");
	r->original_rcpt_to = value_of(fo, "Original-Rcpt-To");

	char *arrival = value_of(fo, "Arrival-Date");
	if (!arrival)
		arrival = value_of(fo, "Received-Date"); /* RFC 5965's older name */
	if (arrival) {
		GDateTime *t = g_mime_utils_header_decode_date(arrival);
		if (t) {
			r->arrival = g_date_time_to_unix(t);
			g_date_time_unref(t);
		} else {
			complaints_add(&devs, "arrival", "Arrival-Date '%.*s' is not a date",
			               VALUE_SHOWN, arrival);
		}
		free(arrival);
	}
	char *ip = value_of(fo, "Source-IP");
	if (ip) {
		char norm[VALIDATE_IP_MAX];
		if (validate_ip(ip, norm) == 0)
			r->source_ip = xstrdup(norm);
		else
			complaints_add(&devs, "ip", "Source-IP '%.*s' is not an IP address",
			               VALUE_SHOWN, ip);
		free(ip);
	}

	GMimeObject *orig = f.original;
	if (!orig)
		complaints_add(&devs, "no-original", "the original message's headers are missing");
	r->header_from = value_of(orig, "From");
	r->header_to = value_of(orig, "To");
	r->subject = value_of(orig, "Subject");
	r->header_date = value_of(orig, "Date");
	r->message_id = value_of(orig, "Message-ID");
	r->received_json = received_json(orig);
	if (opts->keep_body)
		r->body = body_of(f.orig_body);
	r->domain = tenant_domain(r);
	if (!r->domain) {
		err_stage(e, STAGE, ERR_INPUT,
		          "failure report without Reported-Domain or an original From domain");
		goto out;
	}
	if (opts->redact) {
		char **fields[] = {&r->original_mail_from,
		                   &r->original_rcpt_to,
		                   &r->dkim_identity,
		                   &r->header_from,
		                   &r->header_to,
		                   &r->received_json,
		                   &r->body};
		for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
			redact(fields[i]);
		r->redacted = true;
	}
	r->recovered = complaints_any(&devs);
	snprintf(r->complaint, sizeof r->complaint, "%s", complaints_text(&devs));
	*out = r;
	r = NULL;
	rc = 0;
out:
	ruf_free(r);
	if (fm)
		g_object_unref(fm);
	found_free(&f);
	if (msg)
		g_object_unref(msg);
	complaints_free(&devs);
	return rc;
}

void ruf_free(struct ruf_report *r)
{
	if (!r)
		return;
	char *fields[] = {r->feedback_type,
	                  r->user_agent,
	                  r->reporter,
	                  r->source_ip,
	                  r->auth_failure,
	                  r->reported_domain,
	                  r->dkim_domain,
	                  r->dkim_selector,
	                  r->dkim_identity,
	                  r->spf_dns,
	                  r->delivery_result,
	                  r->identity_alignment,
	                  r->original_mail_from,
	                  r->original_rcpt_to,
	                  r->header_from,
	                  r->header_to,
	                  r->subject,
	                  r->header_date,
	                  r->message_id,
	                  r->received_json,
	                  r->body,
	                  r->domain};
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
		free(fields[i]);
	free(r);
}
