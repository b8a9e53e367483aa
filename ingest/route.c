#include "ingest/route.h"

#include "ingest/bounce.h"
#include "ingest/mime.h"
#include "ingest/ruf.h"

const char *route_kind_name(enum route_kind k)
{
	switch (k) {
	case ROUTE_REPORTS:
		return "report attachments";
	case ROUTE_FAILURE:
		return "failure report";
	case ROUTE_BOUNCE:
		return "bounce";
	case ROUTE_COMPLAINT:
		return "ARF complaint";
	case ROUTE_AUTO_REPLY:
		return "auto-reply";
	case ROUTE_OTHER:
	default:
		return "other";
	}
}

enum route_kind route_message(const void *data, size_t len)
{
	if (!mime_looks_like_message(data, len))
		return ROUTE_OTHER;
	struct err e = {0};
	struct mime_msg *m = mime_msg_parse(data, len, &e);
	enum route_kind kind = route_message_parsed(m, data, len);
	mime_msg_free(m);
	return kind;
}

enum route_kind route_message_parsed(const struct mime_msg *m, const void *data, size_t len)
{
	if (!mime_looks_like_message(data, len))
		return ROUTE_OTHER;
	/* First: a failure report carries the failing message, which may look
	 * like anything (a bounce, a report mail). */
	if (m ? ruf_msg_is_failure_report(m, data, len) : ruf_is_failure_report(data, len))
		return ROUTE_FAILURE;
	/* A DSN is never taken for report attachments (mime_classify says DSN
	 * for multipart/report; report-type=delivery-status before it looks
	 * inside), so a bounce of a mail that carried a report is a bounce.
	 * Without a parsed message mime_classify would not parse it either. */
	if (m && mime_msg_classify(m) == MIME_AGGREGATE)
		return ROUTE_REPORTS;
	switch (bounce_mail_kind(data, len)) {
	case BOUNCE_MAIL_DSN:
	case BOUNCE_MAIL_NOTICE:
	case BOUNCE_MAIL_SES:
		return ROUTE_BOUNCE;
	case BOUNCE_MAIL_COMPLAINT:
		return ROUTE_COMPLAINT;
	case BOUNCE_MAIL_AUTO_REPLY:
		return ROUTE_AUTO_REPLY;
	case BOUNCE_MAIL_NONE:
		break;
	}
	return ROUTE_OTHER;
}
