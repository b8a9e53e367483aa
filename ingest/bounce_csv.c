/*
 * bounce_csv: ESP exports as CSV (RFC 4180: comma-separated, fields may be
 * "quoted" with "" for a quote and may span lines). The first record is the
 * header and decides the column order. Documented columns (case-insensitive;
 * aliases in parentheses):
 *   timestamp (time, date)      ISO 8601 or unix seconds
 *   sending_ip (ip, source_ip)  our sending address
 *   from (sender, mail_from)    envelope sender address
 *   recipient (to, email)       required
 *   reply (response, smtp_response, diagnostic)  "550 5.7.1 text" or text
 *   remote_mta (mx)             receiving host
 *   campaign
 * optional: header_from (address or domain), status (delivered|sent|
 * deferred|bounced|failed), reply_code, enhanced_code (dsn), message_id,
 * queue_id. Unknown columns are ignored. Without a status the reply code's
 * class decides (2xx delivered, 4xx deferred, else bounced).
 */
#include "core/xalloc.h"
#include "ingest/bounce_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_FIELDS 64
#define RECORD_MAX ((size_t)1024 * 1024)

enum col {
	C_TIMESTAMP,
	C_SENDING_IP,
	C_FROM,
	C_RECIPIENT,
	C_REPLY,
	C_REMOTE_MTA,
	C_CAMPAIGN,
	C_HEADER_FROM,
	C_STATUS,
	C_REPLY_CODE,
	C_ENHANCED,
	C_MESSAGE_ID,
	C_QUEUE_ID,
	C_NCOLS
};

static const char *const col_names[C_NCOLS][4] = {
    [C_TIMESTAMP] = {"timestamp", "time", "date", NULL},
    [C_SENDING_IP] = {"sending_ip", "ip", "source_ip", NULL},
    [C_FROM] = {"from", "sender", "mail_from", NULL},
    [C_RECIPIENT] = {"recipient", "to", "email", NULL},
    [C_REPLY] = {"reply", "response", "smtp_response", "diagnostic"},
    [C_REMOTE_MTA] = {"remote_mta", "mx", NULL, NULL},
    [C_CAMPAIGN] = {"campaign", NULL, NULL, NULL},
    [C_HEADER_FROM] = {"header_from", NULL, NULL, NULL},
    [C_STATUS] = {"status", NULL, NULL, NULL},
    [C_REPLY_CODE] = {"reply_code", NULL, NULL, NULL},
    [C_ENHANCED] = {"enhanced_code", "dsn", NULL, NULL},
    [C_MESSAGE_ID] = {"message_id", NULL, NULL, NULL},
    [C_QUEUE_ID] = {"queue_id", NULL, NULL, NULL},
};

struct cstate {
	struct buf rec;         /* field bytes, each NUL-terminated */
	size_t off[MAX_FIELDS]; /* start of each field in rec */
	size_t nf;
	bool in_quotes, at_field_start, too_many, too_big;
	bool have_header, header_bad;
	size_t ncols;     /* fields in the header */
	int map[C_NCOLS]; /* column index of each known name, -1 */
	char enh[16];
	struct buf text;
	struct buf raw; /* the record as read, for samples */
};

static int csv_init(struct bounce_parser *p)
{
	struct cstate *st = xcalloc(1, sizeof *st);
	buf_init(&st->rec, RECORD_MAX);
	buf_init(&st->text, 0);
	buf_init(&st->raw, 4096);
	st->at_field_start = true;
	for (int i = 0; i < C_NCOLS; i++)
		st->map[i] = -1;
	p->state = st;
	return 0;
}

static void csv_free(struct bounce_parser *p)
{
	struct cstate *st = p->state;
	if (!st)
		return;
	buf_free(&st->rec);
	buf_free(&st->text);
	buf_free(&st->raw);
	free(st);
	p->state = NULL;
}

static void put(struct cstate *st, char c)
{
	if (buf_putc(&st->rec, c) < 0)
		st->too_big = true;
}

static void end_field(struct cstate *st)
{
	put(st, '\0');
	if (st->nf + 1 < MAX_FIELDS)
		st->off[++st->nf] = st->rec.len;
	else
		st->too_many = true;
	st->at_field_start = true;
}

static const char *fieldv(const struct cstate *st, int c)
{
	int i = st->map[c];
	if (i < 0 || (size_t)i >= st->nf)
		return NULL;
	const char *v = st->rec.data + st->off[i];
	while (*v == ' ')
		v++;
	return *v ? v : NULL;
}

static void header(struct bounce_parser *p, struct cstate *st)
{
	st->have_header = true;
	st->ncols = st->nf;
	for (size_t i = 0; i < st->nf; i++) {
		char *name = st->rec.data + st->off[i];
		/* a BOM and blanks around the name are not part of it */
		if ((unsigned char)name[0] == 0xef && (unsigned char)name[1] == 0xbb &&
		    (unsigned char)name[2] == 0xbf)
			name += 3;
		while (*name == ' ')
			name++;
		size_t n = strlen(name);
		while (n > 0 && name[n - 1] == ' ')
			name[--n] = '\0';
		for (int c = 0; c < C_NCOLS; c++)
			for (int k = 0; k < 4 && col_names[c][k]; k++)
				if (strcasecmp(name, col_names[c][k]) == 0 && st->map[c] < 0)
					st->map[c] = (int)i;
	}
	if (st->map[C_RECIPIENT] < 0 || (st->map[C_REPLY] < 0 && st->map[C_STATUS] < 0)) {
		st->header_bad = true;
		bounce_malformed(p, "csv: header lacks recipient and reply/status",
		                 st->raw.data ? st->raw.data : "", st->raw.len);
	}
}

static bool parse_i64(const char *s, int64_t *out)
{
	char *end = NULL;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end != '\0')
		return false;
	*out = v;
	return true;
}

static int record(struct bounce_parser *p, struct cstate *st, struct err *e)
{
	const char *raw = st->raw.data ? st->raw.data : "";
	if (st->too_big || st->too_many) {
		bounce_malformed(p, st->too_big ? "csv: record too large" : "csv: too many fields",
		                 raw, st->raw.len);
		return 0;
	}
	if (st->nf == 1 && st->rec.data[st->off[0]] == '\0') {
		bounce_skip(p); /* a blank line */
		return 0;
	}
	if (!st->have_header) {
		header(p, st);
		bounce_skip(p);
		return 0;
	}
	if (st->header_bad) {
		bounce_skip(p);
		return 0;
	}
	if (st->nf != st->ncols) {
		bounce_malformed(p, "csv: field count differs from header", raw, st->raw.len);
		return 0;
	}
	struct bounce_event ev = {0};
	ev.recipient = fieldv(st, C_RECIPIENT);
	if (!ev.recipient || !strchr(ev.recipient, '@')) {
		bounce_malformed(p, "csv: no recipient address", raw, st->raw.len);
		return 0;
	}
	const char *ts = fieldv(st, C_TIMESTAMP);
	if (ts && !parse_i64(ts, &ev.at)) {
		size_t n = bounce_time_iso(ts, &ev.at);
		if (!n || ts[n] != '\0') {
			bounce_malformed(p, "csv: bad timestamp", raw, st->raw.len);
			return 0;
		}
	}
	ev.sending_ip = fieldv(st, C_SENDING_IP);
	ev.mail_from = fieldv(st, C_FROM);
	ev.remote_mta = fieldv(st, C_REMOTE_MTA);
	ev.campaign = fieldv(st, C_CAMPAIGN);
	ev.message_id = fieldv(st, C_MESSAGE_ID);
	ev.queue_id = fieldv(st, C_QUEUE_ID);
	const char *hf = fieldv(st, C_HEADER_FROM);
	ev.header_from_domain = hf && strchr(hf, '@') ? bounce_domain_of(hf) : hf;
	const char *enh = fieldv(st, C_ENHANCED);
	if (enh && strlen(enh) < sizeof st->enh) {
		memcpy(st->enh, enh, strlen(enh) + 1);
		ev.enhanced_code = st->enh;
	}
	const char *reply = fieldv(st, C_REPLY);
	if (reply)
		bounce_reply_parse(&ev, reply, st->enh, &st->text);
	const char *rc = fieldv(st, C_REPLY_CODE);
	if (rc) {
		int64_t v;
		if (!parse_i64(rc, &v) || v < 200 || v > 599) {
			bounce_malformed(p, "csv: bad reply_code", raw, st->raw.len);
			return 0;
		}
		ev.reply_code = (int)v;
	}
	const char *status = fieldv(st, C_STATUS);
	if (status) {
		if (!strcasecmp(status, "delivered") || !strcasecmp(status, "sent") ||
		    !strcasecmp(status, "delivery"))
			ev.status = BOUNCE_DELIVERED;
		else if (!strcasecmp(status, "deferred") || !strcasecmp(status, "delayed") ||
		         !strcasecmp(status, "soft_bounce") || !strcasecmp(status, "deferral"))
			ev.status = BOUNCE_DEFERRED;
		else if (!strcasecmp(status, "bounced") || !strcasecmp(status, "bounce") ||
		         !strcasecmp(status, "failed") || !strcasecmp(status, "hard_bounce") ||
		         !strcasecmp(status, "expired") || !strcasecmp(status, "rejected"))
			ev.status = BOUNCE_BOUNCED;
		else {
			bounce_malformed(p, "csv: unknown status", raw, st->raw.len);
			return 0;
		}
	} else {
		int d = ev.reply_code / 100;
		if (!d && ev.enhanced_code)
			d = ev.enhanced_code[0] - '0';
		ev.status = d == 2 ? BOUNCE_DELIVERED : d == 4 ? BOUNCE_DEFERRED : BOUNCE_BOUNCED;
	}
	return bounce_emit(p, &ev, e);
}

static void reset_record(struct cstate *st)
{
	buf_reset(&st->rec);
	buf_reset(&st->raw);
	st->nf = 0;
	st->off[0] = 0;
	st->in_quotes = false;
	st->at_field_start = true;
	st->too_big = st->too_many = false;
}

static int csv_line(struct bounce_parser *p, char *line, size_t len, struct err *e)
{
	struct cstate *st = p->state;
	if (st->raw.len > 0)
		buf_putc(&st->raw, '\n');
	buf_append(&st->raw, line, len); /* capped: only for samples */
	for (size_t i = 0; i < len; i++) {
		char c = line[i];
		if (st->in_quotes) {
			if (c == '"') {
				if (i + 1 < len && line[i + 1] == '"') {
					put(st, '"');
					i++;
				} else {
					st->in_quotes = false;
				}
			} else {
				put(st, c);
			}
		} else if (c == '"' && st->at_field_start) {
			st->in_quotes = true;
			st->at_field_start = false;
		} else if (c == ',') {
			end_field(st);
		} else {
			put(st, c);
			st->at_field_start = false;
		}
	}
	if (st->in_quotes) { /* a quoted field spans lines */
		put(st, '\n');
		p->st.lines--; /* one record, several lines */
		return 0;
	}
	put(st, '\0');
	st->nf++;
	int rc = record(p, st, e);
	reset_record(st);
	return rc;
}

static int csv_finish(struct bounce_parser *p, struct err *e)
{
	(void)e;
	struct cstate *st = p->state;
	if (st->in_quotes) {
		bounce_malformed(p, "csv: unterminated quoted field",
		                 st->raw.data ? st->raw.data : "", st->raw.len);
		reset_record(st);
	}
	return 0;
}

const struct bounce_ops bounce_csv_ops = {
    .line_based = true,
    .init = csv_init,
    .line = csv_line,
    .finish = csv_finish,
    .free = csv_free,
};
