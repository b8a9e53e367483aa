/*
 * bounce_postfix: Postfix logs. Delivery lines of smtp/lmtp
 * ("QID: to=<r>, relay=host[ip]:port, ..., dsn=5.7.26, status=bounced (host
 * X[ip] said: 550 5.7.26 ... (in reply to end of DATA command))") become
 * events, joined by queue id with the qmgr line (from=<sender>) and the
 * cleanup line (message-id=<id>) seen before them. Per-queue-id state is
 * bounded: "QID: removed" drops an id, and past QUEUE_MAX ids the oldest
 * goes. Classic syslog ("Nov 23 01:52:09 host postfix/smtp[1]:"), ISO
 * ("2026-11-23T01:52:09.123+00:00 host postfix/smtp[1]:") and RFC 5424
 * ("<22>1 2026-11-23T01:52:09Z host postfix/smtp 1 - - QID: ...") headers.
 */
#include "core/xalloc.h"
#include "ingest/bounce_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define QUEUE_MAX 50000
#define NBUCKETS  4096

struct qent {
	char *id, *from, *msgid;
	struct qent *hnext;       /* hash chain */
	struct qent *prev, *next; /* age list, oldest first */
};

struct pstate {
	struct qent *bucket[NBUCKETS];
	struct qent *oldest, *newest;
	size_t n;
	char enh[16];
	struct buf text;
};

static unsigned hash(const char *s)
{
	unsigned h = 5381;
	for (; *s; s++)
		h = h * 33 + (unsigned char)*s;
	return h % NBUCKETS;
}

static struct qent *q_find(struct pstate *st, const char *id)
{
	for (struct qent *q = st->bucket[hash(id)]; q; q = q->hnext)
		if (strcmp(q->id, id) == 0)
			return q;
	return NULL;
}

static void q_free(struct qent *q)
{
	free(q->id);
	free(q->from);
	free(q->msgid);
	free(q);
}

static void q_drop(struct pstate *st, struct qent *q)
{
	struct qent **pp = &st->bucket[hash(q->id)];
	while (*pp != q)
		pp = &(*pp)->hnext;
	*pp = q->hnext;
	if (q->prev)
		q->prev->next = q->next;
	else
		st->oldest = q->next;
	if (q->next)
		q->next->prev = q->prev;
	else
		st->newest = q->prev;
	st->n--;
	q_free(q);
}

static struct qent *q_get(struct pstate *st, const char *id)
{
	struct qent *q = q_find(st, id);
	if (q)
		return q;
	if (st->n >= QUEUE_MAX)
		q_drop(st, st->oldest);
	q = xcalloc(1, sizeof *q);
	q->id = xstrdup(id);
	unsigned h = hash(id);
	q->hnext = st->bucket[h];
	st->bucket[h] = q;
	q->prev = st->newest;
	if (st->newest)
		st->newest->next = q;
	else
		st->oldest = q;
	st->newest = q;
	st->n++;
	return q;
}

static int pf_init(struct bounce_parser *p)
{
	struct pstate *st = xcalloc(1, sizeof *st);
	buf_init(&st->text, 0);
	p->state = st;
	return 0;
}

static void pf_free(struct bounce_parser *p)
{
	struct pstate *st = p->state;
	if (!st)
		return;
	/* Everything goes: no need to unlink one by one. */
	for (struct qent *q = st->oldest, *next; q; q = next) {
		next = q->next;
		q_free(q);
	}
	buf_free(&st->text);
	free(st);
	p->state = NULL;
}

/* The value of "key=<...>" in s (NUL-terminates it in place), or NULL. */
static char *angle_value(char *s, const char *key, bool *unterminated)
{
	char *v = strstr(s, key);
	if (!v)
		return NULL;
	v += strlen(key);
	char *end = strchr(v, '>');
	if (!end) {
		*unterminated = true;
		return NULL;
	}
	*end = '\0';
	return v;
}

/* The value of ", key=" up to the next ", " (NUL-terminated in place). */
static char *field(char *s, const char *key)
{
	char *v = strstr(s, key);
	if (!v)
		return NULL;
	v += strlen(key);
	char *end = strstr(v, ", ");
	if (end)
		*end = '\0';
	return v;
}

static int delivery(struct bounce_parser *p, struct pstate *st, int64_t at, const char *host,
                    const char *qid, char *msg, const char *line, size_t len, struct err *e)
{
	struct bounce_event ev = {0};
	ev.at = at;
	ev.mta_host = host; /* Postfix never logs its own address: the host map may know it */
	ev.queue_id = qid;
	/* status and its text first: the text may contain anything */
	char *status = strstr(msg, ", status=");
	if (!status) {
		bounce_malformed(p, "postfix: delivery line without status=", line, len);
		return 0;
	}
	*status = '\0';
	status += strlen(", status=");
	char *text = NULL;
	char *sp = strchr(status, ' ');
	if (sp) {
		*sp = '\0';
		text = sp + 1;
		if (*text == '(') {
			text++;
			size_t tl = strlen(text);
			if (tl > 0 && text[tl - 1] == ')')
				text[tl - 1] = '\0';
		}
	}
	if (strcmp(status, "sent") == 0 || strcmp(status, "delivered") == 0)
		ev.status = BOUNCE_DELIVERED;
	else if (strcmp(status, "deferred") == 0)
		ev.status = BOUNCE_DEFERRED;
	else if (strcmp(status, "bounced") == 0 || strcmp(status, "expired") == 0)
		ev.status = BOUNCE_BOUNCED;
	else {
		bounce_malformed(p, "postfix: unknown status", line, len);
		return 0;
	}
	bool unterminated = false;
	char *to = angle_value(msg, "to=<", &unterminated);
	if (!to) {
		bounce_malformed(
		    p, unterminated ? "postfix: unterminated to=<" : "postfix: no to=<", line, len);
		return 0;
	}
	char *rest = to + strlen(to) + 1;
	ev.recipient = to;
	char *dsn = field(rest, "dsn=");
	char *relay = field(rest, "relay=");
	if (dsn) {
		size_t k = 0;
		while (dsn[k] && k < sizeof st->enh - 1 &&
		       (isdigit((unsigned char)dsn[k]) || dsn[k] == '.'))
			k++;
		memcpy(st->enh, dsn, k);
		st->enh[k] = '\0';
		if (k >= 5)
			ev.enhanced_code = st->enh;
	}
	if (relay && strcmp(relay, "none") != 0) {
		char *br = strchr(relay, '[');
		if (br) {
			char *close = strchr(br, ']');
			if (!close) {
				bounce_malformed(p, "postfix: bad relay=", line, len);
				return 0;
			}
			*br = '\0';
			*close = '\0';
			ev.remote_ip = br + 1;
		} else {
			char *colon = strchr(relay, ':');
			if (colon)
				*colon = '\0';
		}
		ev.remote_mta = relay;
	}
	if (text) {
		char *said = strstr(text, " said: ");
		char *reply = said ? said + strlen(" said: ") : text;
		char *inreply = strstr(reply, " (in reply to ");
		if (inreply)
			*inreply = '\0';
		bounce_reply_parse(&ev, reply, st->enh, &st->text);
	}
	struct qent *q = q_find(st, qid);
	if (q) {
		ev.mail_from = q->from;
		ev.message_id = q->msgid;
	}
	return bounce_emit(p, &ev, e);
}

static int pf_line(struct bounce_parser *p, char *line, size_t len, struct err *e)
{
	struct pstate *st = p->state;
	char *s = line;
	bool rfc5424 = false;
	if (*s == '<') { /* "<22>1 " priority and version */
		char *gt = strchr(s, '>');
		if (!gt || gt - s > 4) {
			bounce_skip(p);
			return 0;
		}
		s = gt + 1;
		if (s[0] == '1' && s[1] == ' ') {
			s += 2;
			rfc5424 = true;
		}
	}
	int64_t at = 0;
	size_t n = bounce_time_iso(s, &at);
	if (!n)
		n = bounce_time_syslog(p->ref_time, s, &at);
	if (!n) {
		if (strstr(line, "postfix") && strstr(line, "status="))
			bounce_malformed(p, "postfix: bad timestamp", line, len);
		else
			bounce_skip(p);
		return 0;
	}
	s += n;
	while (*s == ' ')
		s++;
	char *host_end = strchr(s, ' '); /* the host name */
	if (!host_end) {
		bounce_skip(p);
		return 0;
	}
	char *tag = host_end + 1;
	*host_end = '\0';
	const char *host = s;
	size_t tl = strcspn(tag, "[: ");
	if (tl == 0 || tag[tl] == '\0') {
		bounce_skip(p);
		return 0;
	}
	char *after = tag + tl;
	char sep = *after;
	*after = '\0';
	if (!strstr(tag, "postfix")) {
		bounce_skip(p);
		return 0;
	}
	const char *prog = strrchr(tag, '/');
	prog = prog ? prog + 1 : tag;
	char *msg;
	if (sep == '[') {
		char *close = strchr(after + 1, ']');
		if (!close || close[1] != ':') {
			bounce_skip(p);
			return 0;
		}
		msg = close + 2;
	} else if (sep == ':') {
		msg = after + 1;
	} else if (rfc5424) { /* "postfix/smtp 123 - - msg": procid msgid sd */
		msg = after + 1;
		for (int k = 0; k < 3 && msg; k++) {
			msg = strchr(msg, ' ');
			if (msg)
				msg++;
		}
		if (!msg) {
			bounce_skip(p);
			return 0;
		}
	} else {
		bounce_skip(p);
		return 0;
	}
	while (*msg == ' ')
		msg++;
	size_t ql = 0;
	while (isalnum((unsigned char)msg[ql]))
		ql++;
	if (ql < 5 || ql > 20 || msg[ql] != ':') {
		bounce_skip(p); /* warnings, connect lines, statistics */
		return 0;
	}
	msg[ql] = '\0';
	const char *qid = msg;
	char *rest = msg + ql + 1;
	while (*rest == ' ')
		rest++;
	if (strcmp(prog, "smtp") == 0 || strcmp(prog, "lmtp") == 0) {
		if (strncmp(rest, "to=<", 4) != 0 && !strstr(rest, ", to=<")) {
			bounce_skip(p); /* "host x refused to talk", TLS notes */
			return 0;
		}
		return delivery(p, st, at, host, qid, rest, line, len, e);
	}
	if (strcmp(prog, "qmgr") == 0) {
		bool unterminated = false;
		if (strcmp(rest, "removed") == 0) {
			struct qent *q = q_find(st, qid);
			if (q)
				q_drop(st, q);
		} else if (strncmp(rest, "from=<", 6) == 0 && !strstr(rest, "status=expired")) {
			char *from = angle_value(rest, "from=<", &unterminated);
			if (!from) {
				bounce_malformed(p, "postfix: unterminated from=<", line, len);
				return 0;
			}
			struct qent *q = q_get(st, qid);
			free(q->from);
			q->from = xstrdup(from);
		}
		bounce_skip(p);
		return 0;
	}
	if (strcmp(prog, "cleanup") == 0 && strncmp(rest, "message-id=", 11) == 0) {
		char *id = rest + 11;
		if (*id == '<') {
			id++;
			char *gt = strchr(id, '>');
			if (gt)
				*gt = '\0';
		}
		struct qent *q = q_get(st, qid);
		free(q->msgid);
		q->msgid = xstrdup(id);
	}
	bounce_skip(p);
	return 0;
}

const struct bounce_ops bounce_postfix_ops = {
    .line_based = true,
    .init = pf_init,
    .line = pf_line,
    .finish = NULL,
    .free = pf_free,
};
