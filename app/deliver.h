/*
 * deliver: sends a report by mail — a multipart/alternative message built
 * with gmime (the text report as the plain part, the HTML page as the rich
 * one) and handed to the configured SMTP server with libcurl (smtps:// for
 * implicit TLS; smtp:// upgrades with STARTTLS when the server offers it).
 *
 * Transient failures (connection, 4xx replies) are retried with
 * exponential back-off (backoff_ms, doubled each time, `retries` more
 * tries); a permanent refusal (5xx) is not. Errors come back in `e`
 * (ERR_CONFIG for a setup problem, ERR_RETRY when every try failed).
 * Nothing here keeps a secret after returning; the caller owns its strings.
 */
#ifndef DS_APP_DELIVER_H
#define DS_APP_DELIVER_H

#include "core/err.h"

#include <stddef.h>

struct deliver_smtp {
	const char *url;      /* smtps://host:465 or smtp://host:25 */
	const char *from;     /* envelope and header sender */
	const char *user;     /* NULL: no authentication */
	const char *password; /* with user */
	const char *ca_file;  /* NULL: the system's CA store */
	int retries;          /* further tries after the first (default 3 when < 0) */
	unsigned backoff_ms;  /* first pause (0: 1000) */
	long timeout_s;       /* per try (0: 60) */
};

/* Builds the message (for tests and for delivery); caller frees. */
char *deliver_build_message(const char *from, const char *to, const char *subject, const char *text,
                            const char *html, size_t *len);
int deliver_mail(const struct deliver_smtp *s, const char *to, const char *subject,
                 const char *text, const char *html, struct err *e);

#endif
