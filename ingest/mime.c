/*
 * mime: gmime parses the message; we walk the tree (multipart, message/rfc822)
 * ourselves so nesting is capped, decode each leaf with gmime's data wrapper,
 * and decide per leaf whether it carries a report: content first (gzip, zip,
 * or XML that mentions <feedback>), then file name, then declared media type.
 * A part that claims to be a report but is not (base64 garbage named
 * report.xml.gz) is still handed to the callback, so the unpacker can say
 * what is wrong with it instead of the message being dropped silently.
 */
#include "ingest/mime.h"
#include "ingest/mime_int.h"

#include "core/buf.h"
#include "ingest/unpack.h"

#include <gmime/gmime.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#define STAGE ERR_STAGE_MIME
/* Bigger than any report mail we know of (receivers cap at ~10 MB of XML). */
#define MAX_MESSAGE_BYTES ((size_t)128 * 1024 * 1024)
#define MAX_PARTS         1000
#define MAX_DEPTH         32
/* How far into an XML part we look for the <feedback> root. */
#define FEEDBACK_WINDOW 65536
/* A body this short is quoted in the "no report" message ("unused"). */
#define SHORT_BODY 64

struct walk {
	mime_part_fn fn; /* NULL: only count report parts */
	void *ctx;
	size_t nreports;
	size_t nvisited;
	struct buf types; /* media types seen, for the "no report" message */
	struct buf body;  /* first short text body, trimmed */
	bool body_set;
};

static bool initialised;

static void quiet_log(const gchar *domain, GLogLevelFlags level, const gchar *msg, gpointer data)
{
	(void)domain;
	(void)level;
	(void)msg;
	(void)data;
}

static void quiet_warning(gint64 offset, GMimeParserWarning code, const gchar *item, gpointer data)
{
	(void)offset;
	(void)code;
	(void)item;
	(void)data;
}

void mime_init(void)
{
	if (initialised)
		return;
	g_mime_init();
	/* Hostile mail must not make a library chatter on our stderr. */
	g_log_set_handler("gmime", G_LOG_LEVEL_MASK | G_LOG_FLAG_FATAL | G_LOG_FLAG_RECURSION,
	                  quiet_log, NULL);
	initialised = true;
}

static bool has_suffix_ci(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

static bool report_filename(const char *name)
{
	static const char *const suffixes[] = {".xml", ".gz", ".gzip", ".zip", ".json"};
	if (!name)
		return false;
	for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++)
		if (has_suffix_ci(name, suffixes[i]))
			return true;
	return false;
}

static bool report_media_type(const char *type)
{
	static const char *const types[] = {
	    "application/gzip",
	    "application/x-gzip",
	    "application/gzip-compressed",
	    "application/x-gzip-compressed",
	    "application/zip",
	    "application/x-zip",
	    "application/x-zip-compressed",
	    "text/xml",
	    "application/xml",
	    "application/tlsrpt+json", /* RFC 8460 */
	    "application/tlsrpt+gzip",
	};
	if (!type)
		return false;
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
		if (strcasecmp(type, types[i]) == 0)
			return true;
	return false;
}

static bool mentions_feedback(const unsigned char *data, size_t len)
{
	static const char needle[] = "feedback";
	size_t m = sizeof needle - 1;
	if (len > FEEDBACK_WINDOW)
		len = FEEDBACK_WINDOW;
	for (size_t i = 0; i + m <= len; i++)
		if (memcmp(data + i, needle, m) == 0 && i > 0 &&
		    (data[i - 1] == '<' || data[i - 1] == ':'))
			return true;
	return false;
}

/* A JSON object naming RFC 8460's top-level members. */
static bool mentions_tlsrpt(const unsigned char *data, size_t len)
{
	static const char *const needles[] = {"\"policies\"", "\"organization-name\""};
	if (len > FEEDBACK_WINDOW)
		len = FEEDBACK_WINDOW;
	for (size_t k = 0; k < 2; k++) {
		size_t m = strlen(needles[k]);
		for (size_t i = 0; i + m <= len; i++)
			if (memcmp(data + i, needles[k], m) == 0)
				return true;
	}
	return false;
}

/* Content decides first; name and declared type catch what content cannot. */
static bool carries_report(const unsigned char *data, size_t len, const char *filename,
                           const char *type)
{
	switch (unpack_sniff(data, len)) {
	case UNPACK_GZIP:
	case UNPACK_ZIP:
		return true;
	case UNPACK_XML:
		if (mentions_feedback(data, len))
			return true;
		break;
	case UNPACK_JSON:
		if (mentions_tlsrpt(data, len))
			return true;
		break;
	case UNPACK_UNKNOWN:
	default:
		break;
	}
	return report_filename(filename) || report_media_type(type);
}

static void note_type(struct walk *w, const char *type)
{
	if (w->types.len > 200)
		return;
	if (w->types.len)
		buf_puts(&w->types, ", ");
	buf_puts(&w->types, type ? type : "(no type)");
}

/* Keeps the first short text body so "no report" can quote it ("unused"). */
static void note_body(struct walk *w, const unsigned char *p, size_t len, const char *type)
{
	if (w->body_set || (type && strncasecmp(type, "text/", 5) != 0))
		return;
	while (len && (p[0] == ' ' || p[0] == '\t' || p[0] == '\r' || p[0] == '\n'))
		p++, len--;
	while (len && (p[len - 1] == ' ' || p[len - 1] == '\t' || p[len - 1] == '\r' ||
	               p[len - 1] == '\n'))
		len--;
	w->body_set = true;
	if (len == 0 || len > SHORT_BODY)
		return;
	for (size_t i = 0; i < len; i++)
		if (p[i] < 0x20 || p[i] >= 0x7f || p[i] == '\'')
			return;
	buf_append(&w->body, p, len);
}

static int walk_leaf(struct walk *w, GMimePart *part, struct err *e)
{
	GMimeObject *obj = GMIME_OBJECT(part);
	GMimeStream *mem = NULL;
	char *type = NULL;
	int rc = -1;

	/* NULL when the part has no Content-Type header (gmime would say text/plain). */
	if (g_mime_object_get_header(obj, "Content-Type"))
		type = g_mime_content_type_get_mime_type(g_mime_object_get_content_type(obj));
	note_type(w, type);

	GMimeDataWrapper *content = g_mime_part_get_content(part);
	mem = g_mime_stream_mem_new();
	if (content && g_mime_data_wrapper_write_to_stream(content, mem) < 0) {
		err_stage(e, STAGE, ERR_INPUT, "cannot decode MIME part (%s)",
		          type ? type : "no type");
		goto out;
	}
	GByteArray *arr = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
	const unsigned char *data = arr->len ? arr->data : (const unsigned char *)"";
	const char *filename = g_mime_part_get_filename(part);

	if (!carries_report(data, arr->len, filename, type)) {
		note_body(w, data, arr->len, type);
		rc = 0;
		goto out;
	}
	w->nreports++;
	if (w->fn) {
		struct mime_part p = {
		    .filename = filename, .content_type = type, .data = data, .len = arr->len};
		if (w->fn(w->ctx, &p, e) != 0) {
			if (!err_is_set(e))
				err_stage(e, STAGE, ERR_INTERNAL, "report part handler failed");
			goto out;
		}
	}
	rc = 0;
out:
	if (mem)
		g_object_unref(mem);
	g_free(type);
	return rc;
}

static int walk_object(struct walk *w, GMimeObject *obj, int depth, struct err *e)
{
	if (!obj)
		return 0;
	if (depth > MAX_DEPTH)
		return err_stage(e, STAGE, ERR_INPUT, "MIME nesting deeper than %d levels refused",
		                 MAX_DEPTH);
	if (++w->nvisited > MAX_PARTS)
		return err_stage(e, STAGE, ERR_INPUT,
		                 "message has more than %d MIME parts; refused", MAX_PARTS);
	if (GMIME_IS_MULTIPART(obj)) {
		GMimeMultipart *mp = GMIME_MULTIPART(obj);
		int n = g_mime_multipart_get_count(mp);
		for (int i = 0; i < n; i++)
			if (walk_object(w, g_mime_multipart_get_part(mp, i), depth + 1, e) != 0)
				return -1;
		return 0;
	}
	if (GMIME_IS_MESSAGE_PART(obj)) {
		GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
		if (!inner)
			return 0;
		return walk_object(w, g_mime_message_get_mime_part(inner), depth + 1, e);
	}
	if (GMIME_IS_PART(obj))
		return walk_leaf(w, GMIME_PART(obj), e);
	return 0;
}

/* Counts "Content-Type:" header lines (any case, blanks before the colon as
 * gmime allows); gmime's own parser recurses once per nesting level, so an
 * absurd number of entities is refused before gmime sees it. */
static size_t count_content_types(const unsigned char *p, size_t len)
{
	static const char name[] = "content-type";
	size_t m = sizeof name - 1, n = 0;
	for (size_t i = 0; i + m < len; i++) {
		if ((i > 0 && p[i - 1] != '\n') || strncasecmp((const char *)p + i, name, m) != 0)
			continue;
		size_t j = i + m;
		while (j < len && (p[j] == ' ' || p[j] == '\t'))
			j++;
		if (j < len && p[j] == ':')
			n++;
	}
	return n;
}

static GMimeMessage *parse(const void *data, size_t len, struct err *e)
{
	const char *p = data;
	GMimeParserOptions *opts = NULL;
	GMimeStream *stream = NULL;
	GMimeParser *parser = NULL;
	GMimeMessage *msg = NULL;

	mime_init();
	if (len > MAX_MESSAGE_BYTES) {
		err_stage(e, STAGE, ERR_INPUT, "message of %zu bytes exceeds the cap of %zu bytes",
		          len, MAX_MESSAGE_BYTES);
		goto out;
	}
	if (count_content_types(data, len) > MAX_PARTS) {
		err_stage(e, STAGE, ERR_INPUT, "message has more than %d MIME parts; refused",
		          MAX_PARTS);
		goto out;
	}
	/* An mbox "From " separator line is not a header: skip it. */
	if (len >= 5 && memcmp(p, "From ", 5) == 0) {
		const char *nl = memchr(p, '\n', len);
		size_t skip = nl ? (size_t)(nl - p) + 1 : len;
		p += skip;
		len -= skip;
	}
	opts = g_mime_parser_options_new();
	g_mime_parser_options_set_warning_callback(opts, quiet_warning, NULL);
	stream = g_mime_stream_mem_new_with_buffer(p, len);
	parser = g_mime_parser_new_with_stream(stream);
	msg = g_mime_parser_construct_message(parser, opts);
	if (!msg)
		err_stage(e, STAGE, ERR_INPUT, "unparseable message: no RFC 5322 header block");
out:
	if (parser)
		g_object_unref(parser);
	if (stream)
		g_object_unref(stream);
	if (opts)
		g_mime_parser_options_free(opts);
	return msg;
}

bool mime_looks_like_message(const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t i = 0;

	if (len == 0 || unpack_sniff(data, len) != UNPACK_UNKNOWN)
		return false;
	if (len >= 5 && memcmp(p, "From ", 5) == 0)
		return true;
	/* field-name = 1*ftext (printable ASCII except ':'), then ':' (RFC 5322 2.2). */
	while (i < len && i < 78 && p[i] > 0x20 && p[i] < 0x7f && p[i] != ':')
		i++;
	return i > 0 && i < len && p[i] == ':';
}

struct mime_msg {
	GMimeMessage *msg;
	bool mbox_line; /* the bytes began with an mbox "From " line */
};

struct mime_msg *mime_msg_parse(const void *data, size_t len, struct err *e)
{
	GMimeMessage *msg = parse(data, len, e);
	if (!msg)
		return NULL;
	struct mime_msg *m = g_new0(struct mime_msg, 1);
	m->msg = msg;
	m->mbox_line = len >= 5 && memcmp(data, "From ", 5) == 0;
	return m;
}

void mime_msg_free(struct mime_msg *m)
{
	if (!m)
		return;
	g_object_unref(m->msg);
	g_free(m);
}

GMimeMessage *mime_msg_gmime(const struct mime_msg *m, bool *mbox_line)
{
	if (mbox_line)
		*mbox_line = m->mbox_line;
	return m->msg;
}

int mime_msg_extract(const struct mime_msg *m, mime_part_fn fn, void *ctx, size_t *nparts,
                     struct err *e)
{
	struct walk w = {.fn = fn, .ctx = ctx};
	int rc = -1;

	buf_init(&w.types, 4096);
	buf_init(&w.body, SHORT_BODY + 1);
	if (walk_object(&w, g_mime_message_get_mime_part(m->msg), 0, e) != 0)
		goto out;
	if (w.nreports == 0) {
		if (w.body.len)
			err_stage(e, STAGE, ERR_INPUT, "no report attachment found (body is '%s')",
			          w.body.data);
		else
			err_stage(e, STAGE, ERR_INPUT, "no report attachment found (parts: %s)",
			          w.types.len ? w.types.data : "none");
		goto out;
	}
	rc = 0;
out:
	if (nparts)
		*nparts = w.nreports;
	buf_free(&w.types);
	buf_free(&w.body);
	return rc;
}

int mime_extract(const void *data, size_t len, mime_part_fn fn, void *ctx, size_t *nparts,
                 struct err *e)
{
	if (nparts)
		*nparts = 0;
	struct mime_msg *m = mime_msg_parse(data, len, e);
	if (!m)
		return -1;
	int rc = mime_msg_extract(m, fn, ctx, nparts, e);
	mime_msg_free(m);
	return rc;
}

enum mime_kind mime_msg_classify(const struct mime_msg *m)
{
	struct err e = {0};
	struct walk w = {0};
	enum mime_kind kind = MIME_OTHER;

	GMimeObject *root = g_mime_message_get_mime_part(m->msg);
	if (root) {
		GMimeContentType *ct = g_mime_object_get_content_type(root);
		if (g_mime_content_type_is_type(ct, "multipart", "report")) {
			const char *rt = g_mime_content_type_get_parameter(ct, "report-type");
			if (rt && strcasecmp(rt, "delivery-status") == 0)
				return MIME_DSN;
			if (rt && strcasecmp(rt, "feedback-report") == 0)
				return MIME_FAILURE_REPORT;
		}
	}
	buf_init(&w.types, 4096);
	buf_init(&w.body, SHORT_BODY + 1);
	if (walk_object(&w, root, 0, &e) == 0 && w.nreports > 0)
		kind = MIME_AGGREGATE;
	buf_free(&w.types);
	buf_free(&w.body);
	return kind;
}

enum mime_kind mime_classify(const void *data, size_t len)
{
	struct err e = {0};
	if (!mime_looks_like_message(data, len))
		return unpack_sniff(data, len) != UNPACK_UNKNOWN ? MIME_AGGREGATE : MIME_OTHER;
	struct mime_msg *m = mime_msg_parse(data, len, &e);
	if (!m)
		return MIME_OTHER;
	enum mime_kind kind = mime_msg_classify(m);
	mime_msg_free(m);
	return kind;
}
