/*
 * route: what an incoming message is, from its content, so that each kind
 * reaches its reader. A rua=/ruf= mailbox receives aggregate reports, SMTP
 * TLS reports, failure reports, bounces of our own mail, complaints and
 * auto-replies, and spam.
 *
 * Each kind has one recogniser, the one its reader uses, and routing only
 * asks them in turn:
 *
 *   ROUTE_FAILURE   ruf_is_failure_report (ingest/ruf.h): a DMARC failure
 *                   report (Feedback-Type: auth-failure, RFC 6591, or the
 *                   older AFRF text/plain layout)
 *   ROUTE_REPORTS   mime_classify (ingest/mime.h): report attachments,
 *                   aggregate XML or TLS-RPT JSON (each part's reader is
 *                   chosen by its unpacked content)
 *   ROUTE_BOUNCE    bounce_mail_kind (ingest/bounce.h): a DSN (RFC 3464,
 *                   strict or lenient), a plain-text bounce notice, an
 *                   Amazon SES notification
 *   ROUTE_COMPLAINT bounce_mail_kind: an ARF feedback report of another
 *                   type (abuse, fraud, virus, other; RFC 5965)
 *   ROUTE_AUTO_REPLY bounce_mail_kind: an automatic reply (RFC 3834) or
 *                   out-of-office answer
 *   ROUTE_OTHER     none of these
 * The last three are the bounce store's. Pure: no database, no side
 * effects; never fails (unparseable is OTHER).
 */
#ifndef DS_INGEST_ROUTE_H
#define DS_INGEST_ROUTE_H

#include <stddef.h>

enum route_kind {
	ROUTE_OTHER = 0,
	ROUTE_REPORTS,
	ROUTE_FAILURE,
	ROUTE_BOUNCE,
	ROUTE_COMPLAINT,
	ROUTE_AUTO_REPLY,
};

enum route_kind route_message(const void *data, size_t len);
/* The same for a message parsed once already (ingest/mime.h), or NULL when
 * mime_msg_parse refused it: the answer route_message gives. */
struct mime_msg;
enum route_kind route_message_parsed(const struct mime_msg *m, const void *data, size_t len);
const char *route_kind_name(enum route_kind k);

#endif
