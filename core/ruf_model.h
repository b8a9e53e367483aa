/*
 * ruf_model: a DMARC failure report (RUF: RFC 6591 authentication failure
 * report, RFC 7489 section 7.3) as its reader hands it to the store.
 *
 * Strings are NUL-terminated valid UTF-8, trimmed, NULL when the field was
 * absent. Field names follow RFC 6591 (Arrival-Date, Source-IP,
 * Auth-Failure, Reported-Domain, DKIM-Domain, ...) and RFC 5965 (the ARF
 * fields they extend). With redaction on, the local part of every e-mail
 * address in the fields and the original headers has been replaced by its
 * SHA-256 (hex) before the report reached this struct. The reader owns all
 * memory (ruf_free).
 */
#ifndef DS_CORE_RUF_MODEL_H
#define DS_CORE_RUF_MODEL_H

#include <stdbool.h>
#include <stdint.h>

enum ruf_layout {
	RUF_RFC6591 = 0, /* a message/feedback-report part */
	RUF_AFRF_TEXT,   /* the older layout: the fields in a text/plain part */
};

struct ruf_report {
	enum ruf_layout layout;
	char *feedback_type; /* "auth-failure" */
	char *user_agent;
	char *reporter;     /* From of the report mail */
	int64_t arrival;    /* Arrival-Date, unix seconds; -1 when absent or unreadable */
	char *source_ip;    /* normalised */
	char *auth_failure; /* dmarc, spf, dkim, adsp, bodyhash, revoked, signature */
	char *reported_domain;
	char *domain; /* the tenant's: Reported-Domain, else the original From's */
	char *dkim_domain, *dkim_selector, *dkim_identity;
	char *spf_dns;
	char *delivery_result;
	char *identity_alignment;
	char *original_mail_from, *original_rcpt_to;
	/* the original message's headers */
	char *header_from, *header_to, *subject, *header_date, *message_id;
	char *received_json; /* JSON array of the Received headers, top first */
	char *body;          /* the original body: only when asked to keep it */
	bool redacted;
	bool recovered; /* something was odd (complaint says what) */
	char complaint[1024];
};

#endif
