#include "app/notify.h"

#include "core/log.h"
#include "core/xalloc.h"

#include <curl/curl.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

void notify_sign(const char *secret, const char *body, size_t len, char out[65])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)body, len, mac, &n);
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < n && i < 32; i++) {
		out[2 * i] = hex[mac[i] >> 4];
		out[2 * i + 1] = hex[mac[i] & 15];
	}
	out[64] = '\0';
}

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
	(void)p;
	(void)ctx;
	return size * n;
}

int notify_post(const struct notify_hook *h, const char *event, const char *body, struct err *e)
{
	if (!h->url || (strncmp(h->url, "https://", 8) != 0 && strncmp(h->url, "http://", 7) != 0))
		return err_set(e, ERR_CONFIG, "[notify] webhook '%s': expected https://...",
		               h->url ? h->url : "(missing)");
	if (!h->secret || !*h->secret)
		return err_set(e, ERR_CONFIG,
		               "[notify] needs a secret (secret_file or secret_env) "
		               "to sign the webhook");
	char sig[65], hdr_sig[100], hdr_ev[120], errbuf[CURL_ERROR_SIZE];
	size_t len = strlen(body);
	notify_sign(h->secret, body, len, sig);
	snprintf(hdr_sig, sizeof hdr_sig, "X-Dmarcsift-Signature: sha256=%s", sig);
	snprintf(hdr_ev, sizeof hdr_ev, "X-Dmarcsift-Event: %s", event);
	int retries = h->retries < 0 ? 5 : h->retries;
	unsigned pause = h->backoff_ms ? h->backoff_ms : 1000;
	int rc = -1;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	for (int attempt = 0; attempt <= retries; attempt++) {
		CURL *c = curl_easy_init();
		struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: application/json");
		hd = curl_slist_append(hd, hdr_sig);
		hd = curl_slist_append(hd, hdr_ev);
		hd = curl_slist_append(hd, "User-Agent: dmarcsift");
		long code = 0;
		errbuf[0] = '\0';
		curl_easy_setopt(c, CURLOPT_URL, h->url);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hd);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
		curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
		curl_easy_setopt(c, CURLOPT_TIMEOUT, h->timeout_s > 0 ? h->timeout_s : 10L);
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
		CURLcode cc = curl_easy_perform(c);
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
		curl_slist_free_all(hd);
		curl_easy_cleanup(c);
		if (cc == CURLE_OK && code >= 200 && code < 300) {
			rc = 0;
			break;
		}
		bool transient = cc != CURLE_OK || code == 429 || code >= 500;
		if (!transient || attempt == retries) {
			if (cc != CURLE_OK)
				err_set(e, ERR_RETRY, "webhook %s: %s%s%s (after %d tries)", h->url,
				        curl_easy_strerror(cc), errbuf[0] ? ": " : "", errbuf,
				        attempt + 1);
			else
				err_set(e, transient ? ERR_RETRY : ERR_CONFIG,
				        "webhook %s answered HTTP %ld (after %d tries)", h->url,
				        code, attempt + 1);
			break;
		}
		usleep((useconds_t)pause * 1000u);
		pause *= 2;
	}
	return rc;
}

int notify_event(const struct notify_hook *h, const char *event, const char *tenant,
                 struct json_object *data, struct err *e)
{
	char now[21];
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "event", json_object_new_string(event));
	json_object_object_add(o, "sent_at", json_object_new_string(now));
	json_object_object_add(o, "tenant", tenant ? json_object_new_string(tenant) : NULL);
	json_object_object_add(o, "data", json_object_get(data));
	int rc = notify_post(h, event,
	                     json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
	                                                           JSON_C_TO_STRING_NOSLASHESCAPE),
	                     e);
	json_object_put(o);
	return rc;
}

static const char *str_field(struct json_object *o, const char *key)
{
	struct json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* Runs the posts in a grandchild, so the caller neither waits nor leaves a zombie. */
static void spawn(const struct notify_hook *h, struct json_object *const *rows, size_t n,
                  const char *event)
{
	if (!h || !h->url || n == 0)
		return;
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		log_warn("webhook: cannot start the delivery process; %zu event(s) not sent", n);
		return;
	}
	if (pid > 0) {
		int st;
		waitpid(pid, &st, 0);
		return;
	}
	if (fork() != 0)
		_exit(0);
	int failed = 0;
	for (size_t i = 0; i < n; i++) {
		struct err e = {0};
		const char *status = str_field(rows[i], "status");
		/* No fixed event: flags, opened or reopened by their status. */
		const char *ev = event                                       ? event
		                 : status && strcmp(status, "reopened") == 0 ? "flag.reopened"
		                                                             : "flag.opened";
		if (notify_event(h, ev, str_field(rows[i], "tenant"), rows[i], &e) < 0) {
			log_warn("webhook: %s", e.msg);
			failed = 1;
		}
	}
	_exit(failed);
}

void notify_flags(const struct notify_hook *h, struct json_object *const *flags, size_t n)
{
	spawn(h, flags, n, NULL);
}

void notify_escalations(const struct notify_hook *h, struct json_object *const *rows, size_t n)
{
	spawn(h, rows, n, "escalation.opened");
}

void notify_listings(const struct notify_hook *h, struct json_object *const *rows, size_t n)
{
	spawn(h, rows, n, "listing.opened");
}
