/*
 * ruf: the DMARC failure report reader (RFC 6591 authentication failure
 * reports, RFC 7489 section 7.3), with gmime.
 *
 * Two layouts are read: RFC 6591's multipart/report with a
 * message/feedback-report part (Feedback-Type: auth-failure), and the older
 * AFRF layout some receivers still send, with the same fields in a text/plain
 * part. The original message comes as message/rfc822 or text/rfc822-headers;
 * its From, To, Subject, Date, Message-ID and Received chain are kept, its
 * body only when opts->keep_body (privacy: off by default), and with
 * opts->redact every address's local part is hashed (ingest/redact.h).
 *
 * ruf_is_failure_report is the recogniser routing uses (ingest/route.h):
 * true when a message carries feedback fields, in either layout, with
 * Feedback-Type auth-failure. ARF complaints (abuse, fraud, virus, other)
 * are the bounce store's, recognised by bounce_mail_kind (ingest/bounce.h).
 *
 * Refused (stage "ruf"): not a message, no feedback fields, a Feedback-Type
 * other than auth-failure, no Reported-Domain and no original From domain to
 * choose a tenant by. An unreadable Arrival-Date or Source-IP costs only
 * itself (named in complaint, recovered set).
 * Returns 0 with *out set (free with ruf_free), or -1 with e set.
 */
#ifndef DS_INGEST_RUF_H
#define DS_INGEST_RUF_H

#include "core/err.h"
#include "core/ruf_model.h"

#include <stdbool.h>
#include <stddef.h>

struct ruf_options {
	bool keep_body; /* [ruf] keep_body, default false */
	bool redact;    /* [ruf] redact, default false */
};

#define RUF_MAX_BODY ((size_t)1024 * 1024) /* a kept body is cut here */

int ruf_parse(const void *data, size_t len, const struct ruf_options *opts, struct ruf_report **out,
              struct err *e);
void ruf_free(struct ruf_report *r);
/* True when the message is a DMARC failure report (either layout). */
bool ruf_is_failure_report(const void *data, size_t len);
/* The same for a message parsed already (ingest/mime.h), same answer. */
struct mime_msg;
bool ruf_msg_is_failure_report(const struct mime_msg *m, const void *data, size_t len);

#endif
