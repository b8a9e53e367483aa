/*
 * bounce: the normalised SMTP outcome every bounce parser produces and the
 * classifier's verdict on it.
 *
 * Parsers (ingest/bounce_*.c) fill a struct bounce_event per recipient per
 * attempt; strings are owned by the parser and valid during the callback
 * only; absent values are NULL (times are unix seconds, 0 = unknown).
 * The classifier (core/bclass.h) is a pure function of reply code, enhanced
 * code, text and provider, and fills a struct bounce_verdict whose strings
 * point into the loaded rule table (valid while the table lives).
 */
#ifndef DS_CORE_BOUNCE_H
#define DS_CORE_BOUNCE_H

#include <stdbool.h>
#include <stdint.h>

enum bounce_status {
	BOUNCE_DELIVERED = 0, /* status=sent, Exim =>, DSN Action: delivered/relayed */
	BOUNCE_DEFERRED,      /* status=deferred, Exim ==, Action: delayed */
	BOUNCE_BOUNCED,       /* status=bounced/expired, Exim **, Action: failed */
};

struct bounce_event {
	int64_t at;
	enum bounce_status status;
	const char *source;     /* postfix | exim | dsn | csv */
	const char *sending_ip; /* our side: the log's, else resolved by bounce_emit */
	const char *ip_source;  /* how sending_ip was learnt: log | text | host_map | none
	                           (set by bounce_emit, the one place events are
	                           normalised) */
	const char *mta_host;   /* our MTA: syslog host field, DSN Reporting-MTA */
	const char *mail_from;  /* envelope sender address */
	const char *mail_from_domain;
	const char *header_from_domain;
	const char *recipient;
	const char *recipient_domain;
	const char *remote_mta; /* host name of the receiving MX */
	const char *remote_ip;
	int reply_code;            /* 0 when unknown */
	const char *enhanced_code; /* "5.7.26" or NULL */
	const char *text;          /* the whole reply / diagnostic text */
	const char *queue_id;
	const char *message_id;
	const char *campaign;
	/* The layout the event was read from: the log format (postfix, exim,
	 * csv), "dsn" (RFC 3464), "dsn-lenient" (DSN fields outside a
	 * well-formed delivery-status part), a plain-text notice family
	 * (exim, qmail, sendmail, dma, gmail, exchange, office365, domino,
	 * courier, opensmtpd, imail, zoho, gateway, carrier-jp, text), "ses",
	 * "arf" or "auto_reply"; NULL = the source's name. */
	const char *format;
	bool auto_reply;           /* RFC 3834 auto-reply / out of office: delivered */
	const char *feedback_type; /* ARF Feedback-Type ("abuse"...): a complaint */
};

struct bounce_verdict {
	const char *klass;    /* accepted deferred invalid_recipient mailbox_issue routing
	                         protocol size content auth_failure blocklisted reputation
	                         policy unknown, and complaint for an ARF report */
	const char *severity; /* accepted | watch | clean | escalate */
	const char *action;   /* none | retry | suppress | retry_then_suppress |
	                         investigate_config | investigate_content |
	                         investigate_auth | check_listing | slow_down | investigate */
	bool is_block;
	const char *listed_on;    /* blocklist name or NULL */
	const char *listed_asset; /* ip | network | from_domain | bounce_domain |
	                             helo_domain | url_domain | domain | NULL:
	                             network = a netblock/ASN listing (UCEPROTECT
	                             L2/L3, "part of their network"); helo_domain =
	                             the HELO name (MS S8001); domain = a domain list
	                             (DBL) whose position the text does not say */
	const char *rule;         /* id of the table row that decided */
	const char *provider;     /* provider the rule was specific to, or NULL */
};

#endif
