/*
 * bounce_mail_int: what the readers of one bounce *message* share — the
 * RFC 3464 field reader (bounce_dsn.c), the complaint / auto-reply / SES
 * readers (bounce_arf.c) and the dispatcher that walks the MIME tree and
 * picks among them (bounce_mail.c). Private to ingest/.
 */
#ifndef DS_INGEST_BOUNCE_MAIL_INT_H
#define DS_INGEST_BOUNCE_MAIL_INT_H

#include "core/bclass.h"
#include "core/buf.h"
#include "ingest/bounce_int.h"
#include "ingest/bounce_text.h"

#include <gmime/gmime.h>
#include <stdbool.h>
#include <stdint.h>

/* What every event of one message carries: the original message's
 * identity, the message's date, and the notice read as text. */
struct mail_ctx {
	int64_t arrival;
	const char *mail_from;
	const char *header_from_domain;
	const char *message_id;
	const char *reporting_mta;  /* our MTA's name (Reporting-MTA), or NULL */
	const char *format;         /* of the events emitted next */
	const struct btext *notice; /* the human-readable part as a notice, or NULL */
	char enh[16];
	struct buf text;
	char sender_buf[512];
	char rmta_buf[256];
};

/*
 * Reads RFC 3464 per-message and per-recipient field blocks from `text`
 * (a delivery-status part, or — lenient — any text where DSN fields were
 * typed), a new recipient at each Final-Recipient. Emits one event per
 * recipient. Returns the number of recipient blocks found, or -1 when the
 * callback failed (e set).
 */
int dsn_read_fields(struct bounce_parser *p, struct mail_ctx *c, const char *text, size_t len,
                    bool lenient, struct err *e);

/* "rfc822; user@x" -> "user@x" (into out); NULL when empty or too long. */
const char *dsn_typed_value(const char *v, char *out, size_t outsz);
/* A "Name: value" block parsed by gmime's header parser (a new object). */
GMimeObject *dsn_parse_headers(const char *data, size_t len);
int64_t dsn_header_date(GMimeObject *o, const char *name);

/* ARF (RFC 5965) feedback fields: one complaint event. Returns events
 * emitted (0: not a complaint we keep, e.g. a DMARC failure report), -1 on
 * callback failure. `orig` holds the reported message's headers or NULL. */
int arf_read(struct bounce_parser *p, struct mail_ctx *c, const char *fields, size_t len,
             GMimeObject *orig, struct err *e);
/* Amazon SES notification JSON (plain or inside an SNS envelope). Returns
 * events emitted, 0 when the text is not one, -1 on callback failure. */
int ses_read(struct bounce_parser *p, struct mail_ctx *c, const char *json, size_t len,
             struct err *e);
/* Whether the message is an RFC 3834 auto-reply / out-of-office. */
bool autoreply_is(GMimeMessage *msg);

#endif
