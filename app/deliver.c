#include "app/deliver.h"

#include "core/xalloc.h"
#include "ingest/mime.h"

#include <curl/curl.h>
#include <gmime/gmime.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static GMimePart *text_part(const char *subtype, const char *body, GMimeContentEncoding enc)
{
	GMimePart *part = g_mime_part_new_with_type("text", subtype);
	g_mime_object_set_content_type_parameter(GMIME_OBJECT(part), "charset", "utf-8");
	GMimeStream *st = g_mime_stream_mem_new_with_buffer(body, strlen(body));
	GMimeDataWrapper *dw =
	    g_mime_data_wrapper_new_with_stream(st, GMIME_CONTENT_ENCODING_DEFAULT);
	g_mime_part_set_content(part, dw);
	g_mime_part_set_content_encoding(part, enc);
	g_object_unref(dw);
	g_object_unref(st);
	return part;
}

char *deliver_build_message(const char *from, const char *to, const char *subject, const char *text,
                            const char *html, size_t *len)
{
	mime_init();
	GMimeMessage *msg = g_mime_message_new(TRUE);
	g_mime_message_add_mailbox(msg, GMIME_ADDRESS_TYPE_FROM, NULL, from);
	g_mime_message_add_mailbox(msg, GMIME_ADDRESS_TYPE_TO, NULL, to);
	g_mime_message_set_subject(msg, subject, "utf-8");
	GDateTime *now = g_date_time_new_now_utc();
	g_mime_message_set_date(msg, now);
	g_date_time_unref(now);
	/* A Message-ID on the sender's domain, unique per message. */
	const char *at = strchr(from, '@');
	char *mid = g_mime_utils_generate_message_id(at && at[1] ? at + 1 : "dmarcsift.invalid");
	g_mime_message_set_message_id(msg, mid);
	g_free(mid);

	GMimeMultipart *alt = g_mime_multipart_new_with_subtype("alternative");
	/* Plain first, rich last: RFC 2046 says the last is preferred. */
	GMimePart *plain = text_part("plain", text, GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);
	GMimePart *rich = text_part("html", html, GMIME_CONTENT_ENCODING_BASE64);
	g_mime_multipart_add(alt, GMIME_OBJECT(plain));
	g_mime_multipart_add(alt, GMIME_OBJECT(rich));
	g_object_unref(plain);
	g_object_unref(rich);
	g_mime_message_set_mime_part(msg, GMIME_OBJECT(alt));
	g_object_unref(alt);

	GMimeStream *out = g_mime_stream_mem_new();
	GMimeFormatOptions *fo = g_mime_format_options_clone(g_mime_format_options_get_default());
	g_mime_format_options_set_newline_format(fo, GMIME_NEWLINE_FORMAT_DOS);
	g_mime_object_write_to_stream(GMIME_OBJECT(msg), fo, out);
	g_mime_format_options_free(fo);
	GByteArray *bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(out));
	char *res = xstrndup((const char *)bytes->data, bytes->len);
	*len = bytes->len;
	g_object_unref(out);
	g_object_unref(msg);
	return res;
}

struct upload {
	const char *data;
	size_t len, off;
};

static size_t read_cb(char *buf, size_t size, size_t n, void *ctx)
{
	struct upload *u = ctx;
	size_t room = size * n, left = u->len - u->off;
	size_t k = left < room ? left : room;
	memcpy(buf, u->data + u->off, k);
	u->off += k;
	return k;
}

int deliver_mail(const struct deliver_smtp *s, const char *to, const char *subject,
                 const char *text, const char *html, struct err *e)
{
	if (!s->url || (strncmp(s->url, "smtp://", 7) != 0 && strncmp(s->url, "smtps://", 8) != 0))
		return err_set(
		    e, ERR_CONFIG,
		    "[smtp] url '%s': expected smtps://HOST[:PORT] or smtp://HOST[:PORT]",
		    s->url ? s->url : "(missing)");
	if (!s->from || !strchr(s->from, '@'))
		return err_set(e, ERR_CONFIG, "[smtp] from: a sender address is needed");
	if (!to || !strchr(to, '@') || strpbrk(to, "\r\n<>"))
		return err_set(e, ERR_CONFIG, "--mail-to '%s' is not an address", to ? to : "");

	size_t len = 0;
	char *msg = deliver_build_message(s->from, to, subject, text, html, &len);
	int retries = s->retries < 0 ? 3 : s->retries;
	unsigned pause = s->backoff_ms ? s->backoff_ms : 1000;
	char errbuf[CURL_ERROR_SIZE];
	int rc = -1;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	for (int attempt = 0; attempt <= retries; attempt++) {
		CURL *c = curl_easy_init();
		struct curl_slist *rcpt = curl_slist_append(NULL, to);
		struct upload up = {msg, len, 0};
		long code = 0;
		errbuf[0] = '\0';
		curl_easy_setopt(c, CURLOPT_URL, s->url);
		curl_easy_setopt(c, CURLOPT_MAIL_FROM, s->from);
		curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
		curl_easy_setopt(c, CURLOPT_READDATA, &up);
		curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
		curl_easy_setopt(c, CURLOPT_TIMEOUT, s->timeout_s > 0 ? s->timeout_s : 60L);
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		/* Credentials never travel in clear: with a user, TLS is required. */
		curl_easy_setopt(c, CURLOPT_USE_SSL,
		                 s->user ? (long)CURLUSESSL_ALL : (long)CURLUSESSL_TRY);
		if (s->user) {
			curl_easy_setopt(c, CURLOPT_USERNAME, s->user);
			curl_easy_setopt(c, CURLOPT_PASSWORD, s->password ? s->password : "");
		}
		if (s->ca_file)
			curl_easy_setopt(c, CURLOPT_CAINFO, s->ca_file);
		CURLcode cc = curl_easy_perform(c);
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
		curl_slist_free_all(rcpt);
		curl_easy_cleanup(c);
		if (cc == CURLE_OK) {
			rc = 0;
			break;
		}
		bool permanent = code >= 500 || cc == CURLE_LOGIN_DENIED ||
		                 cc == CURLE_URL_MALFORMAT || cc == CURLE_UNSUPPORTED_PROTOCOL;
		if (permanent || attempt == retries) {
			err_set(e, permanent ? ERR_CONFIG : ERR_RETRY,
			        "mail to %s through %s failed%s: %s%s%s", to, s->url,
			        permanent ? "" : " after retries", curl_easy_strerror(cc),
			        errbuf[0] ? ": " : "", errbuf);
			break;
		}
		usleep((useconds_t)pause * 1000u);
		pause *= 2;
	}
	free(msg);
	return rc;
}
