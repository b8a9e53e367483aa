/*
 * bounce_exim: Exim main log. "<=" arrival lines give the envelope sender
 * and Message-ID of an Exim message id; "=>" / "->" (delivered), "==" (defer)
 * and "**" (bounce) lines become events:
 *   2026-11-23 01:52:09 1rABCD-000123-AB ** u@example.com R=dnslookup
 *     T=remote_smtp H=mx.example.com [192.0.2.1]: SMTP error from remote mail
 *     server after RCPT TO:<u@example.com>: 550 5.1.1 User unknown
 * An optional " +0100" zone and " [pid]" may follow the time. Arrivals are
 * kept in a bounded ring of the most recent QUEUE_MAX (the oldest is
 * overwritten), searched newest first.
 */
#include "core/xalloc.h"
#include "ingest/bounce_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define QUEUE_MAX 50000
#define RING      QUEUE_MAX

struct arrival {
	char *id, *from, *msgid;
};

struct estate {
	struct arrival *ring; /* recent arrivals, oldest overwritten once full */
	size_t cap;           /* grows to RING before the ring wraps */
	size_t next;
	char enh[16];
	struct buf text;
};

static int ex_init(struct bounce_parser *p)
{
	struct estate *st = xcalloc(1, sizeof *st);
	st->cap = 256;
	st->ring = xcalloc(st->cap, sizeof *st->ring);
	buf_init(&st->text, 0);
	p->state = st;
	return 0;
}

static void arrival_clear(struct arrival *a)
{
	free(a->id);
	free(a->from);
	free(a->msgid);
	memset(a, 0, sizeof *a);
}

static void ex_free(struct bounce_parser *p)
{
	struct estate *st = p->state;
	if (!st)
		return;
	for (size_t i = 0; i < st->cap; i++)
		arrival_clear(&st->ring[i]);
	free(st->ring);
	buf_free(&st->text);
	free(st);
	p->state = NULL;
}

/* Most recent first: a log's lines for one message are close together. */
static struct arrival *find(struct estate *st, const char *id)
{
	for (size_t k = 1; k <= st->cap; k++) {
		struct arrival *a = &st->ring[(st->next + st->cap - k) % st->cap];
		if (!a->id)
			return NULL;
		if (strcmp(a->id, id) == 0)
			return a;
		if (k > 4096) /* an id far back in the log: treat as unknown */
			return NULL;
	}
	return NULL;
}

static bool is_exim_id(const char *s, size_t n)
{
	/* 6-6-2 (classic) or 6-11-4 (Exim 4.97+) base-62 */
	if (n != 16 && n != 23)
		return false;
	for (size_t i = 0; i < n; i++) {
		bool dash = i == 6 || i == (n == 16 ? 13 : 18);
		if (dash ? s[i] != '-' : !isalnum((unsigned char)s[i]))
			return false;
	}
	return true;
}

static int outcome(struct bounce_parser *p, struct estate *st, int64_t at, const char *id,
                   char *flag, char *rest, const char *line, size_t len, struct err *e)
{
	struct bounce_event ev = {0};
	ev.at = at;
	ev.queue_id = id;
	if (flag[0] == '*')
		ev.status = BOUNCE_BOUNCED;
	else if (flag[0] == '=' && flag[1] == '=')
		ev.status = BOUNCE_DEFERRED;
	else
		ev.status = BOUNCE_DELIVERED;
	/* the recipient, possibly followed by " <parent@x>" */
	char *sp = strchr(rest, ' ');
	char *fields = sp ? sp + 1 : rest + strlen(rest);
	if (sp)
		*sp = '\0';
	if (!*rest || !strchr(rest, '@')) {
		if (ev.status == BOUNCE_BOUNCED && strchr(rest, '@') == NULL && *rest)
			bounce_malformed(p, "exim: recipient without @", line, len);
		else
			bounce_malformed(p, "exim: no recipient", line, len);
		return 0;
	}
	size_t rl = strlen(rest);
	bool bare_text = rl > 0 && rest[rl - 1] == ':'; /* "** u@x: Unrouteable address" */
	if (bare_text)
		rest[rl - 1] = '\0';
	if (rest[0] == '<') { /* "<u@x>" */
		rest++;
		char *gt = strchr(rest, '>');
		if (gt)
			*gt = '\0';
	}
	ev.recipient = rest;
	/* the error text is after "H=host [ip]: ", "defer (n): " or the
	 * last field's ": "; find it before the field values are cut */
	char *text = NULL;
	char *smtp = strstr(fields, "SMTP error from remote mail server after ");
	if (bare_text) {
		text = fields;
	} else if (smtp) {
		/* the reply starts at the first ": NNN" after the command */
		for (char *c = strstr(smtp, ": "); c; c = strstr(c + 1, ": ")) {
			if (isdigit((unsigned char)c[2]) && isdigit((unsigned char)c[3]) &&
			    isdigit((unsigned char)c[4]) && (c[5] == ' ' || c[5] == '-' || !c[5])) {
				text = c + 2;
				break;
			}
		}
		if (!text)
			text = smtp;
		if (smtp > fields)
			smtp[-1] = '\0';
	} else if (ev.status != BOUNCE_DELIVERED) {
		char *colon = strstr(fields, ": ");
		if (colon) {
			*colon = '\0';
			text = colon + 2;
		}
	}
	char *conf = NULL;
	if (ev.status == BOUNCE_DELIVERED) {
		char *c = strstr(fields, " C=\"");
		if (!c && strncmp(fields, "C=\"", 3) == 0)
			c = fields - 1;
		if (c) {
			conf = c + 4;
			char *q = strrchr(conf, '"');
			if (q)
				*q = '\0';
			*c = '\0';
		}
	}
	/* the fields are cut in place below: find them all first */
	char *iface = strstr(fields, "I=[");
	if (iface && (iface == fields || iface[-1] == ' ')) {
		char *close = strchr(iface + 3, ']');
		if (close) {
			*close = '\0';
			ev.sending_ip = iface + 3;
		}
	}
	char *h = strstr(fields, "H=");
	if (h) {
		char *br = strstr(h, " [");
		char *host = h + 2;
		if (br) {
			char *close = strchr(br, ']');
			if (close) {
				*close = '\0';
				ev.remote_ip = br + 2;
			}
			*br = '\0';
		} else {
			char *end = strchr(host, ' ');
			if (end)
				*end = '\0';
		}
		ev.remote_mta = host;
	}
	const char *reply = conf ? conf : text;
	if (reply)
		bounce_reply_parse(&ev, reply, st->enh, &st->text);
	struct arrival *a = find(st, id);
	if (a) {
		ev.mail_from = a->from;
		ev.message_id = a->msgid;
	}
	return bounce_emit(p, &ev, e);
}

static int ex_line(struct bounce_parser *p, char *line, size_t len, struct err *e)
{
	struct estate *st = p->state;
	int64_t at = 0;
	size_t n = bounce_time_iso(line, &at);
	if (!n || line[10] != ' ') {
		bounce_skip(p);
		return 0;
	}
	char *s = line + n;
	while (*s == ' ')
		s++;
	if (*s == '[') { /* "[pid]" */
		char *close = strchr(s, ']');
		if (!close) {
			bounce_skip(p);
			return 0;
		}
		s = close + 1;
		while (*s == ' ')
			s++;
	}
	size_t il = strcspn(s, " ");
	if (!is_exim_id(s, il) || s[il] != ' ') {
		bounce_skip(p); /* daemon lines, rejections, queue runs */
		return 0;
	}
	s[il] = '\0';
	const char *id = s;
	char *flag = s + il + 1;
	if (strncmp(flag, "Completed", 9) == 0) {
		bounce_skip(p);
		return 0;
	}
	if (flag[0] == '\0' || flag[1] == '\0' || flag[2] != ' ') {
		bounce_skip(p);
		return 0;
	}
	char *rest = flag + 3;
	flag[2] = '\0';
	if (strcmp(flag, "<=") == 0) {
		char *sp = strchr(rest, ' ');
		if (sp)
			*sp = '\0';
		struct arrival *a = &st->ring[st->next];
		arrival_clear(a);
		a->id = xstrdup(id);
		a->from = xstrdup(strcmp(rest, "<>") == 0 ? "" : rest);
		if (sp) {
			char *idf = strstr(sp + 1, " id=");
			if (idf) {
				char *v = idf + 4;
				char *end = strchr(v, ' ');
				if (end)
					*end = '\0';
				a->msgid = xstrdup(v);
			}
		}
		st->next++;
		if (st->next == st->cap && st->cap < RING) {
			size_t ncap = st->cap * 2 < RING ? st->cap * 2 : RING;
			st->ring = xrealloc(st->ring, ncap * sizeof *st->ring);
			memset(st->ring + st->cap, 0, (ncap - st->cap) * sizeof *st->ring);
			st->cap = ncap;
		}
		st->next %= st->cap;
		bounce_skip(p);
		return 0;
	}
	if (strcmp(flag, "=>") == 0 || strcmp(flag, "->") == 0 || strcmp(flag, "==") == 0 ||
	    strcmp(flag, "**") == 0)
		return outcome(p, st, at, id, flag, rest, line, len, e);
	bounce_skip(p); /* "*>" suppressed, "<>" etc. */
	return 0;
}

const struct bounce_ops bounce_exim_ops = {
    .line_based = true,
    .init = ex_init,
    .line = ex_line,
    .finish = NULL,
    .free = ex_free,
};
