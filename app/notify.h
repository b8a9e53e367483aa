/*
 * notify: posts events (new or reopened correlator flags, escalations) to
 * the configured webhook as JSON, signed: the header
 *   X-Dmarcsift-Signature: sha256=HEX
 * carries HMAC-SHA256 (OpenSSL libcrypto) of the exact body bytes under
 * the configured secret, so the receiver can check the sender and that the
 * body was not changed. X-Dmarcsift-Event names the event.
 *
 * Body: {"event": "flag.opened" | "flag.reopened" | "escalation.opened" |
 *                  "listing.opened",
 *        "sent_at": "...Z", "tenant": NAME,
 *        "data": {the v_flags / v_escalations / v_listings row}}
 *
 * Delivery is retried on connection failures, 429 and 5xx with exponential
 * back-off (backoff_ms doubled each time, `retries` further tries); other
 * 4xx replies are final. notify_spawn runs the deliveries in a detached
 * child process, so the run that found the events (ingest, correlate)
 * never waits for a slow or dead receiver.
 */
#ifndef DS_APP_NOTIFY_H
#define DS_APP_NOTIFY_H

#include "core/err.h"

#include <stddef.h>

struct json_object;

struct notify_hook {
	const char *url;    /* https://... (http:// allowed for loopback tests) */
	const char *secret; /* HMAC key; NULL or "" refuses to send unsigned */
	int retries;        /* further tries after the first (< 0: 5) */
	unsigned backoff_ms;
	long timeout_s;
};

/* Lowercase hex HMAC-SHA256 of body under secret (65 bytes with NUL). */
void notify_sign(const char *secret, const char *body, size_t len, char out[65]);
/* Posts one body; 0 on a 2xx reply. */
int notify_post(const struct notify_hook *h, const char *event, const char *body, struct err *e);
/* Wraps `data` (not consumed) as an event body and posts it. */
int notify_event(const struct notify_hook *h, const char *event, const char *tenant,
                 struct json_object *data, struct err *e);
/*
 * What the correlator calls at the end of a run: each flag (a JSON object
 * with the v_flags columns; "status" 'reopened' gives flag.reopened, else
 * flag.opened) posted in a detached child. Returns at once; failures are
 * logged by the child. Nothing happens when h->url is NULL.
 */
void notify_flags(const struct notify_hook *h, struct json_object *const *flags, size_t n);
/* The same for escalations (v_escalations rows): escalation.opened. */
void notify_escalations(const struct notify_hook *h, struct json_object *const *rows, size_t n);
/* The same for new blocklist listings (v_listings rows, impact rejecting
 * first): listing.opened. */
void notify_listings(const struct notify_hook *h, struct json_object *const *rows, size_t n);

#endif
