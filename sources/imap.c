#include "sources/imap.h"

#include "core/log.h"
#include "core/xalloc.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define DEFAULT_MESSAGE_MAX ((size_t)256 << 20)
#define LISTING_MAX         ((size_t)64 << 20)

struct imap {
	struct imap_opts o;
	CURL *curl;
	char *base;   /* imaps://host:port/ */
	char *host;   /* for messages */
	char *folder; /* decoded, e.g. INBOX */
	char delim;   /* server's hierarchy delimiter, '\0' = flat */
	bool connected, has_move, has_uidplus;
	char errbuf[CURL_ERROR_SIZE];
	char last_resp[300]; /* the server's last response line (never our commands) */
	struct buf *sink;    /* where the body of the current request goes */
	const char *up;      /* APPEND upload */
	size_t up_len, up_off;
};

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct imap *im = ud;
	size_t n = size * nmemb;
	if (!im->sink || buf_append(im->sink, ptr, n) != 0)
		return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
	return n;
}

static size_t on_read(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct imap *im = ud;
	size_t n = size * nmemb;
	if (n > im->up_len - im->up_off)
		n = im->up_len - im->up_off;
	memcpy(ptr, im->up + im->up_off, n);
	im->up_off += n;
	return n;
}

/* Keeps the server's last response line for error messages. Only incoming
 * lines: what we send (LOGIN, AUTHENTICATE) is never looked at. */
static int on_debug(CURL *c, curl_infotype type, char *data, size_t size, void *ud)
{
	(void)c;
	struct imap *im = ud;
	if (type != CURLINFO_HEADER_IN)
		return 0;
	while (size && (data[size - 1] == '\n' || data[size - 1] == '\r'))
		size--;
	if (size >= sizeof im->last_resp)
		size = sizeof im->last_resp - 1;
	memcpy(im->last_resp, data, size);
	im->last_resp[size] = '\0';
	return 0;
}

static char *url_part(CURLU *u, CURLUPart part, unsigned flags)
{
	char *v = NULL;
	if (curl_url_get(u, part, &v, flags) != CURLUE_OK)
		return NULL;
	char *r = xstrdup(v);
	curl_free(v);
	return r;
}

int imap_open(struct imap **out, const struct imap_opts *o, struct err *e)
{
	static bool global_done;
	*out = NULL;
	if (!global_done) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		global_done = true;
	}
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;
	int rc = -1;
	if (curl_url_set(u, CURLUPART_URL, o->url, 0) != CURLUE_OK) {
		err_stage(e, ERR_STAGE_IMAP, ERR_CONFIG, "'%s' is not a valid URL", o->url);
		goto out;
	}
	scheme = url_part(u, CURLUPART_SCHEME, 0);
	host = url_part(u, CURLUPART_HOST, 0);
	port = url_part(u, CURLUPART_PORT, 0);
	path = url_part(u, CURLUPART_PATH, CURLU_URLDECODE);
	if (!scheme || !host || (strcmp(scheme, "imaps") != 0 && strcmp(scheme, "imap") != 0)) {
		err_stage(e, ERR_STAGE_IMAP, ERR_CONFIG, "'%s' is not an imap:// or imaps:// URL",
		          o->url);
		goto out;
	}
	struct imap *im = xcalloc(1, sizeof *im);
	im->o = *o;
	if (!im->o.retries)
		im->o.retries = 3;
	if (!im->o.backoff_ms)
		im->o.backoff_ms = 1000;
	if (!im->o.timeout_s)
		im->o.timeout_s = 30;
	if (!im->o.message_max)
		im->o.message_max = DEFAULT_MESSAGE_MAX;
	im->host = port ? xasprintf("%s:%s", host, port) : xstrdup(host);
	im->base = xasprintf("%s://%s/", scheme, im->host);
	const char *f = path ? path : "";
	while (*f == '/')
		f++;
	im->folder = xstrdup(*f ? f : "INBOX");
	size_t fl = strlen(im->folder);
	while (fl && im->folder[fl - 1] == '/')
		im->folder[--fl] = '\0';
	im->curl = curl_easy_init();
	CURL *c = im->curl;
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, im->errbuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, im);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(c, CURLOPT_READDATA, im);
	curl_easy_setopt(c, CURLOPT_DEBUGFUNCTION, on_debug);
	curl_easy_setopt(c, CURLOPT_DEBUGDATA, im);
	curl_easy_setopt(c, CURLOPT_VERBOSE, 1L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_USERNAME, o->user ? o->user : "");
	if (o->bearer)
		curl_easy_setopt(c, CURLOPT_XOAUTH2_BEARER, o->bearer);
	else if (o->password)
		curl_easy_setopt(c, CURLOPT_PASSWORD, o->password);
	/* imap:// must upgrade: no credentials over plain text. */
	curl_easy_setopt(c, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
	if (o->ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, o->ca_file);
	if (o->insecure) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, im->o.timeout_s);
	/* A stalled server, not a slow big message, is a time-out. */
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, im->o.timeout_s);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	*out = im;
	rc = 0;
out:
	curl_url_cleanup(u);
	free(scheme);
	free(host);
	free(port);
	free(path);
	return rc;
}

void imap_close(struct imap *im)
{
	if (!im)
		return;
	if (im->curl)
		curl_easy_cleanup(im->curl);
	free(im->base);
	free(im->host);
	free(im->folder);
	free(im);
}

const char *imap_folder(const struct imap *im)
{
	return im->folder;
}

bool imap_has_move(const struct imap *im)
{
	return im->has_move && !im->o.no_move;
}

static bool transient(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_WEIRD_SERVER_REPLY:
		return true;
	default:
		return false;
	}
}

/* Server names in a command: a quoted string with '/' as our separator
 * turned into the server's delimiter. */
static char *quoted(const struct imap *im, const char *name)
{
	struct buf b;
	buf_init(&b, 0);
	buf_putc(&b, '"');
	for (const char *p = name; *p; p++) {
		char ch = *p;
		if (ch == '/' && im->delim)
			ch = im->delim;
		if (ch == '"' || ch == '\\')
			buf_putc(&b, '\\');
		buf_putc(&b, ch);
	}
	buf_putc(&b, '"');
	return buf_steal(&b);
}

/* URL of the configured folder, with its UIDVALIDITY when known. */
static char *folder_url(const struct imap *im, const char *folder, uint64_t uidvalidity,
                        uint64_t uid)
{
	struct buf b;
	buf_init(&b, 0);
	buf_puts(&b, im->base);
	char *esc = curl_easy_escape(im->curl, folder, 0);
	buf_puts(&b, esc);
	curl_free(esc);
	if (uidvalidity)
		buf_printf(&b, ";UIDVALIDITY=%" PRIu64, uidvalidity);
	if (uid)
		buf_printf(&b, "/;UID=%" PRIu64, uid);
	return buf_steal(&b);
}

/*
 * One libcurl request with the retry policy: transient failures are retried
 * with doubling back-off; the rest are mapped to an error right away.
 * `what` names the operation for messages. Returns 0, 1 when the server said
 * the folder or message does not exist (`missing_ok`), or -1.
 */
static int perform(struct imap *im, const char *url, const char *custom, struct buf *sink,
                   const char *what, bool missing_ok, struct err *e)
{
	CURL *c = im->curl;
	unsigned delay = im->o.backoff_ms;
	CURLcode rc = CURLE_OK;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, custom);
	for (int attempt = 0;; attempt++) {
		if (sink)
			buf_reset(sink);
		im->sink = sink;
		im->up_off = 0;
		im->errbuf[0] = '\0';
		im->last_resp[0] = '\0';
		rc = curl_easy_perform(c);
		im->sink = NULL;
		if (rc == CURLE_OK)
			return 0;
		if (!transient(rc) || attempt >= im->o.retries)
			break;
		log_warn("IMAP server %s, %s: %s; retrying in %.1f s", im->host,
		         strcmp(what, "login") == 0 ? "connecting" : what,
		         im->errbuf[0] ? im->errbuf : curl_easy_strerror(rc), delay / 1000.0);
		struct timespec ts = {.tv_sec = delay / 1000,
		                      .tv_nsec = (long)(delay % 1000) * 1000000L};
		nanosleep(&ts, NULL);
		delay *= 2;
	}
	const char *why = im->errbuf[0] ? im->errbuf : curl_easy_strerror(rc);
	switch (rc) {
	case CURLE_LOGIN_DENIED:
		if (strstr(im->last_resp, "[UNAVAILABLE]"))
			return err_stage(e, ERR_STAGE_IMAP, ERR_RETRY,
			                 "IMAP server %s cannot log anybody in right now (its "
			                 "authentication service is unavailable); server said: %s",
			                 im->host, im->last_resp);
		return err_stage(
		    e, ERR_STAGE_IMAP, ERR_CONFIG, "IMAP login failed for user %s at %s (%s)%s%s",
		    im->o.user ? im->o.user : "", im->host,
		    im->o.bearer ? "token expired or not accepted?" : "wrong password?",
		    im->last_resp[0] ? "; server said: " : "", im->last_resp);
	case CURLE_PEER_FAILED_VERIFICATION:
		return err_stage(e, ERR_STAGE_IMAP, ERR_CONFIG,
		                 "the TLS certificate of IMAP server %s could not be verified: %s "
		                 "(for a private CA set tls_ca_file)",
		                 im->host, why);
	case CURLE_USE_SSL_FAILED:
		return err_stage(e, ERR_STAGE_IMAP, ERR_CONFIG,
		                 "IMAP server %s does not offer STARTTLS (use imaps://)", im->host);
	case CURLE_REMOTE_FILE_NOT_FOUND:
		if (missing_ok)
			return 1;
		return err_stage(e, ERR_STAGE_IMAP, ERR_INPUT, "IMAP %s at %s: %s%s%s", what,
		                 im->host, why, im->last_resp[0] ? "; server said: " : "",
		                 im->last_resp);
	case CURLE_WRITE_ERROR:
		return err_stage(e, ERR_STAGE_IMAP, ERR_INPUT,
		                 "IMAP %s at %s: the response is larger than the limit", what,
		                 im->host);
	case CURLE_COULDNT_CONNECT:
		/* Refused or timed out before a word was exchanged: nothing to do
		 * with the login, and worth saying so. */
		return err_stage(e, ERR_STAGE_IMAP, ERR_RETRY,
		                 "cannot reach IMAP server %s: the connection was refused or timed "
		                 "out (%d attempts; is the server running, and are the url's host "
		                 "and port right?): %s",
		                 im->host, im->o.retries + 1, why);
	case CURLE_COULDNT_RESOLVE_HOST:
		return err_stage(e, ERR_STAGE_IMAP, ERR_RETRY,
		                 "cannot reach IMAP server %s: its name does not resolve (%d "
		                 "attempts): %s",
		                 im->host, im->o.retries + 1, why);
	case CURLE_SSL_CONNECT_ERROR:
		return err_stage(
		    e, ERR_STAGE_IMAP, ERR_RETRY,
		    "cannot reach IMAP server %s: the TLS handshake failed (%d attempts; "
		    "imaps:// on a port that speaks plain IMAP, or the reverse?): %s",
		    im->host, im->o.retries + 1, why);
	default:
		if (transient(rc))
			return err_stage(
			    e, ERR_STAGE_IMAP, ERR_RETRY,
			    "cannot reach IMAP server %s: the connection broke %s%s (%d "
			    "attempts): %s",
			    im->host, strcmp(what, "login") == 0 ? "while logging in" : "during ",
			    strcmp(what, "login") == 0 ? "" : what, im->o.retries + 1, why);
		return err_stage(e, ERR_STAGE_IMAP, ERR_INPUT, "IMAP %s at %s failed: %s%s%s", what,
		                 im->host, why, im->last_resp[0] ? "; server said: " : "",
		                 im->last_resp);
	}
}

/* Lines of an untagged listing that start with "* WORD". */
static const char *next_line(const char **p)
{
	const char *s = *p;
	if (!*s)
		return NULL;
	const char *nl = strchr(s, '\n');
	*p = nl ? nl + 1 : s + strlen(s);
	return s;
}

int imap_connect(struct imap *im, struct err *e)
{
	struct buf b;
	buf_init(&b, LISTING_MAX);
	int rc = -1;
	if (perform(im, im->base, "CAPABILITY", &b, "login", false, e) != 0)
		goto out;
	const char *p = b.data ? b.data : "", *line;
	while ((line = next_line(&p)) != NULL) {
		if (strncasecmp(line, "* CAPABILITY ", 13) != 0)
			continue;
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		for (size_t i = 13; i < len;) {
			size_t t = strcspn(line + i, " \r\n");
			if (t > len - i)
				t = len - i;
			if (t == 4 && strncasecmp(line + i, "MOVE", 4) == 0)
				im->has_move = true;
			else if (t == 7 && strncasecmp(line + i, "UIDPLUS", 7) == 0)
				im->has_uidplus = true;
			i += t + 1;
		}
	}
	if (perform(im, im->base, "LIST \"\" \"\"", &b, "LIST", false, e) != 0)
		goto out;
	/* * LIST (\Noselect) "/" "" -- the delimiter is the quoted char, or NIL. */
	p = b.data ? b.data : "";
	while ((line = next_line(&p)) != NULL) {
		if (strncasecmp(line, "* LIST ", 7) != 0)
			continue;
		const char *q = strchr(line, ')');
		if (q && q[1] == ' ' && q[2] == '"') {
			if (q[3] == '\\')
				im->delim = q[4];
			else
				im->delim = q[3];
		}
		break;
	}
	im->connected = true;
	rc = 0;
out:
	buf_free(&b);
	return rc;
}

static int ensure_connected(struct imap *im, struct err *e)
{
	return im->connected ? 0 : imap_connect(im, e);
}

static int parse_u64(const char *s, const char **end, uint64_t *out)
{
	uint64_t v = 0;
	const char *p = s;
	while (*p >= '0' && *p <= '9') {
		if (v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
		p++;
	}
	if (p == s)
		return -1;
	*end = p;
	*out = v;
	return 0;
}

int imap_uidvalidity(struct imap *im, uint64_t *uidvalidity, struct err *e)
{
	struct buf b;
	buf_init(&b, LISTING_MAX);
	int rc = -1;
	if (ensure_connected(im, e) != 0)
		goto out;
	char *q = quoted(im, im->folder);
	char *cmd = xasprintf("STATUS %s (UIDVALIDITY)", q);
	free(q);
	int r = perform(im, im->base, cmd, &b, "STATUS", false, e);
	free(cmd);
	if (r != 0)
		goto out;
	const char *s = b.data ? strstr(b.data, "UIDVALIDITY ") : NULL;
	const char *end;
	if (!s || parse_u64(s + 12, &end, uidvalidity) != 0 || *uidvalidity == 0) {
		err_stage(e, ERR_STAGE_IMAP, ERR_INPUT, "IMAP server %s sent no UIDVALIDITY for %s",
		          im->host, im->folder);
		goto out;
	}
	rc = 0;
out:
	buf_free(&b);
	return rc;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int imap_search(struct imap *im, uint64_t uidvalidity, uint64_t from_uid, uint64_t **uids,
                size_t *n, struct err *e)
{
	struct buf b;
	buf_init(&b, LISTING_MAX);
	uint64_t *out = NULL;
	size_t cnt = 0, cap = 0;
	int rc = -1;
	*uids = NULL;
	*n = 0;
	if (from_uid == 0)
		from_uid = 1;
	if (ensure_connected(im, e) != 0)
		goto out;
	char *url = folder_url(im, im->folder, uidvalidity, 0);
	char *cmd = xasprintf("UID SEARCH UID %" PRIu64 ":*", from_uid);
	int r = perform(im, url, cmd, &b, "SEARCH", false, e);
	free(url);
	free(cmd);
	if (r != 0)
		goto out;
	const char *p = b.data ? b.data : "", *line;
	while ((line = next_line(&p)) != NULL) {
		if (strncasecmp(line, "* SEARCH", 8) != 0)
			continue;
		const char *s = line + 8;
		for (;;) {
			while (*s == ' ')
				s++;
			uint64_t v;
			const char *end;
			if (parse_u64(s, &end, &v) != 0)
				break;
			s = end;
			/* "n:*" also matches the highest UID when it is below n. */
			if (v < from_uid)
				continue;
			if (cnt == cap) {
				cap = cap ? cap * 2 : 256;
				out = xrealloc(out, cap * sizeof *out);
			}
			out[cnt++] = v;
		}
	}
	if (cnt)
		qsort(out, cnt, sizeof *out, cmp_u64);
	*uids = out;
	*n = cnt;
	out = NULL;
	rc = 0;
out:
	free(out);
	buf_free(&b);
	return rc;
}

int imap_fetch(struct imap *im, uint64_t uidvalidity, uint64_t uid, struct buf *out, struct err *e)
{
	if (ensure_connected(im, e) != 0)
		return -1;
	buf_free(out);
	buf_init(out, im->o.message_max);
	char *url = folder_url(im, im->folder, uidvalidity, uid);
	char what[64];
	snprintf(what, sizeof what, "FETCH of UID %" PRIu64, uid);
	int r = perform(im, url, NULL, out, what, true, e);
	free(url);
	if (r == 0 && out->len == 0)
		r = 1; /* no FETCH response: expunged meanwhile */
	return r;
}

int imap_ensure_folder(struct imap *im, const char *folder, struct err *e)
{
	struct buf b;
	buf_init(&b, LISTING_MAX);
	char *q = quoted(im, folder), *cmd = NULL;
	int rc = -1;
	if (ensure_connected(im, e) != 0)
		goto out;
	cmd = xasprintf("LIST \"\" %s", q);
	if (perform(im, im->base, cmd, &b, "LIST", false, e) != 0)
		goto out;
	if (b.data && strstr(b.data, "* LIST")) {
		rc = 0;
		goto out;
	}
	free(cmd);
	cmd = xasprintf("CREATE %s", q);
	if (perform(im, im->base, cmd, NULL, "CREATE", false, e) != 0) {
		/* Another poller may just have created it. */
		struct err e2 = {0};
		free(cmd);
		cmd = xasprintf("LIST \"\" %s", q);
		if (perform(im, im->base, cmd, &b, "LIST", false, &e2) == 0 && b.data &&
		    strstr(b.data, "* LIST")) {
			err_clear(e);
			rc = 0;
		}
		goto out;
	}
	free(cmd);
	/* So that mail clients show it; a server without subscriptions is fine. */
	cmd = xasprintf("SUBSCRIBE %s", q);
	struct err ignored = {0};
	perform(im, im->base, cmd, NULL, "SUBSCRIBE", false, &ignored);
	rc = 0;
out:
	free(q);
	free(cmd);
	buf_free(&b);
	return rc;
}

int imap_move(struct imap *im, uint64_t uidvalidity, uint64_t uid, const char *folder,
              struct err *e)
{
	struct buf b;
	buf_init(&b, LISTING_MAX);
	char *url = NULL, *q = quoted(im, folder), *cmd = NULL;
	int rc = -1;
	if (ensure_connected(im, e) != 0)
		goto out;
	url = folder_url(im, im->folder, uidvalidity, 0);
	if (imap_has_move(im)) {
		cmd = xasprintf("UID MOVE %" PRIu64 " %s", uid, q);
		rc = perform(im, url, cmd, &b, "MOVE", false, e) == 0 ? 0 : -1;
		goto out;
	}
	cmd = xasprintf("UID COPY %" PRIu64 " %s", uid, q);
	if (perform(im, url, cmd, &b, "COPY", false, e) != 0)
		goto out;
	free(cmd);
	cmd = xasprintf("UID STORE %" PRIu64 " +FLAGS.SILENT (\\Deleted)", uid);
	if (perform(im, url, cmd, &b, "STORE", false, e) != 0)
		goto out;
	free(cmd);
	/* Without UIDPLUS a plain EXPUNGE also removes other \Deleted messages. */
	cmd = im->has_uidplus ? xasprintf("UID EXPUNGE %" PRIu64, uid) : xstrdup("EXPUNGE");
	if (perform(im, url, cmd, &b, "EXPUNGE", false, e) != 0)
		goto out;
	rc = 0;
out:
	free(url);
	free(q);
	free(cmd);
	buf_free(&b);
	return rc;
}

int imap_append(struct imap *im, const char *folder, const void *data, size_t len, struct err *e)
{
	if (ensure_connected(im, e) != 0 || imap_ensure_folder(im, folder, e) != 0)
		return -1;
	char *url = folder_url(im, folder, 0, 0);
	im->up = data;
	im->up_len = len;
	curl_easy_setopt(im->curl, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(im->curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
	int rc = perform(im, url, NULL, NULL, "APPEND", false, e);
	curl_easy_setopt(im->curl, CURLOPT_UPLOAD, 0L);
	im->up = NULL;
	free(url);
	return rc;
}
