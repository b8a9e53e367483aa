/*
 * bounce: the parser object shared by every bounce format — chunked input
 * split into capped lines, format auto-detection, statistics, and the last
 * step before an event leaves (derived fields, UTF-8). See ingest/bounce.h.
 */
#include "ingest/bounce.h"

#include "core/bclass.h"
#include "core/hostmap.h"
#include "core/provider.h"
#include "core/replyip.h"
#include "core/smtp_reply.h"
#include "core/utf8.h"
#include "core/xalloc.h"
#include "ingest/bounce_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define LINE_MAX_BYTES ((size_t)64 * 1024)
#define DETECT_BYTES   4096
#define DSN_MAX_BYTES  ((size_t)16 * 1024 * 1024)

static const char *const format_names[] = {"auto", "postfix", "exim", "dsn", "csv"};

const char *bounce_format_name(enum bounce_format f)
{
	return (unsigned)f < sizeof format_names / sizeof format_names[0] ? format_names[f] : "?";
}

int bounce_format_parse(const char *name, enum bounce_format *out)
{
	for (size_t i = 0; i < sizeof format_names / sizeof format_names[0]; i++)
		if (strcmp(name, format_names[i]) == 0) {
			*out = (enum bounce_format)i;
			return 0;
		}
	return -1;
}

static const struct bounce_ops *ops_for(enum bounce_format f)
{
	switch (f) {
	case BOUNCE_FMT_POSTFIX:
		return &bounce_postfix_ops;
	case BOUNCE_FMT_EXIM:
		return &bounce_exim_ops;
	case BOUNCE_FMT_DSN:
		return &bounce_dsn_ops;
	case BOUNCE_FMT_CSV:
		return &bounce_csv_ops;
	case BOUNCE_FMT_AUTO:
		break;
	}
	return NULL;
}

static bool has(const char *s, size_t n, const char *needle)
{
	size_t k = strlen(needle);
	for (size_t i = 0; i + k <= n; i++)
		if (memcmp(s + i, needle, k) == 0)
			return true;
	return false;
}

static bool has_ci_prefix_line(const char *s, size_t n, const char *name)
{
	size_t k = strlen(name);
	for (size_t i = 0; i + k <= n; i++)
		if ((i == 0 || s[i - 1] == '\n') && strncasecmp(s + i, name, k) == 0)
			return true;
	return false;
}

enum bounce_format bounce_detect(const char *data, size_t len)
{
	if (len > DETECT_BYTES)
		len = DETECT_BYTES;
	if (has_ci_prefix_line(data, len, "content-type:") ||
	    has_ci_prefix_line(data, len, "mime-version:") ||
	    has_ci_prefix_line(data, len, "return-path:") ||
	    has_ci_prefix_line(data, len, "received:") || has_ci_prefix_line(data, len, "from ") ||
	    has(data, len, "multipart/report") ||
	    /* a mail without MIME headers: the RFC 5322 fields of its header */
	    (has_ci_prefix_line(data, len, "subject:") &&
	     (has_ci_prefix_line(data, len, "from:") || has_ci_prefix_line(data, len, "date:"))))
		return BOUNCE_FMT_DSN;
	if (has(data, len, "postfix/") || has(data, len, "postfix["))
		return BOUNCE_FMT_POSTFIX;
	/* Exim: "2026-11-23 01:52:09 1rABCD-000123-AB => " */
	for (size_t i = 0; i + 20 < len; i++) {
		if (i != 0 && data[i - 1] != '\n')
			continue;
		const char *s = data + i;
		int64_t at;
		size_t n = bounce_time_iso(s, &at);
		if (n && s[10] == ' ' &&
		    (has(s + n, len - i - n > 40 ? 40 : len - i - n, " <= ") ||
		     has(s + n, len - i - n > 40 ? 40 : len - i - n, " => ") ||
		     has(s + n, len - i - n > 40 ? 40 : len - i - n, " ** ") ||
		     has(s + n, len - i - n > 40 ? 40 : len - i - n, " == ")))
			return BOUNCE_FMT_EXIM;
	}
	/* CSV: a header line naming the documented columns */
	const char *nl = memchr(data, '\n', len);
	size_t hl = nl ? (size_t)(nl - data) : len;
	if (has(data, hl, "recipient") && has(data, hl, ",") &&
	    (has(data, hl, "reply") || has(data, hl, "timestamp")))
		return BOUNCE_FMT_CSV;
	return BOUNCE_FMT_AUTO;
}

int bounce_parser_new(struct bounce_parser **out, enum bounce_format fmt, int64_t ref_time,
                      bounce_event_fn fn, void *ctx, struct err *e)
{
	(void)e;
	struct bounce_parser *p = xcalloc(1, sizeof *p);
	p->fmt = fmt;
	p->ref_time = ref_time;
	p->fn = fn;
	p->ctx = ctx;
	buf_init(&p->line, LINE_MAX_BYTES);
	buf_init(&p->bytes, DSN_MAX_BYTES);
	for (int i = 0; i < BOUNCE_NSCRATCH; i++)
		buf_init(&p->scratch[i], 0);
	p->st.format = fmt;
	*out = p;
	return 0;
}

void bounce_parser_free(struct bounce_parser *p)
{
	if (!p)
		return;
	if (p->started && p->ops->free)
		p->ops->free(p);
	buf_free(&p->line);
	buf_free(&p->bytes);
	for (int i = 0; i < BOUNCE_NSCRATCH; i++)
		buf_free(&p->scratch[i]);
	free(p);
}

void bounce_parser_set_hosts(struct bounce_parser *p, const struct hostmap *hosts)
{
	p->hosts = hosts;
}

const struct bounce_stats *bounce_parser_stats(const struct bounce_parser *p)
{
	return &p->st;
}

void bounce_skip(struct bounce_parser *p)
{
	p->st.skipped++;
}

void bounce_malformed(struct bounce_parser *p, const char *reason, const char *line, size_t len)
{
	p->st.malformed++;
	size_t i;
	for (i = 0; i < p->st.nreasons; i++)
		if (strcmp(p->st.reasons[i].reason, reason) == 0)
			break;
	if (i == p->st.nreasons) {
		if (i == BOUNCE_MAX_REASONS)
			i--; /* the last slot collects the rest */
		else
			p->st.nreasons++;
		if (p->st.reasons[i].count == 0) {
			p->st.reasons[i].reason = reason;
			if (p->pristine_len) {
				line = p->pristine;
				len = p->pristine_len;
			}
			size_t n = len < BOUNCE_SAMPLE_MAX - 1 ? len : BOUNCE_SAMPLE_MAX - 1;
			for (size_t k = 0; k < n; k++) { /* keep the sample printable */
				unsigned char c = (unsigned char)line[k];
				char out = line[k];
				if (c == 0) /* a line some parser cut with a NUL */
					out = ' ';
				else if (c < 0x20 || c >= 0x7f)
					out = '?';
				p->st.reasons[i].sample[k] = out;
			}
			p->st.reasons[i].sample[n] = '\0';
		}
	}
	p->st.reasons[i].count++;
}

static int start(struct bounce_parser *p, struct err *e)
{
	p->ops = ops_for(p->fmt);
	if (!p->ops)
		return err_stage(e, ERR_STAGE_BOUNCE, ERR_INTERNAL, "no parser for format %d",
		                 p->fmt);
	p->st.format = p->fmt;
	p->started = true;
	return p->ops->init ? p->ops->init(p) : 0;
}

static int take_line(struct bounce_parser *p, char *s, size_t n, struct err *e)
{
	if (n > 0 && s[n - 1] == '\r')
		s[--n] = '\0';
	p->st.lines++;
	/* Parsers cut lines in place; a malformed line's sample is taken from
	 * this untouched copy of its start. */
	p->pristine_len = n < sizeof p->pristine ? n : sizeof p->pristine;
	memcpy(p->pristine, s, p->pristine_len);
	int rc = p->ops->line(p, s, n, e);
	p->pristine_len = 0;
	return rc;
}

/* Splits into lines; a line longer than the cap is counted and dropped. */
static int feed_lines(struct bounce_parser *p, const char *data, size_t len, struct err *e)
{
	while (len > 0) {
		const char *nl = memchr(data, '\n', len);
		size_t n = nl ? (size_t)(nl - data) : len;
		if (!p->line_overflow && buf_append(&p->line, data, n) < 0) {
			p->line_overflow = true;
			p->st.lines++;
			bounce_malformed(p, "line too long", p->line.data ? p->line.data : "",
			                 p->line.len);
		}
		data += n;
		len -= n;
		if (!nl)
			break;
		data++;
		len--;
		int rc = 0;
		if (!p->line_overflow)
			rc = take_line(p, p->line.data ? p->line.data : (char[]){'\0'}, p->line.len,
			               e);
		p->line_overflow = false;
		buf_reset(&p->line);
		if (rc < 0)
			return -1;
	}
	return 0;
}

int bounce_parser_feed(struct bounce_parser *p, const char *data, size_t len, struct err *e)
{
	if (!p->started && p->fmt == BOUNCE_FMT_AUTO) {
		if (buf_append(&p->bytes, data, len) < 0)
			return err_stage(e, ERR_STAGE_BOUNCE, ERR_INPUT,
			                 "input too large to detect");
		if (p->bytes.len < DETECT_BYTES)
			return 0;
		p->fmt = bounce_detect(p->bytes.data, p->bytes.len);
		if (p->fmt == BOUNCE_FMT_AUTO)
			p->fmt = BOUNCE_FMT_POSTFIX; /* lines counted as skipped, nothing lost */
		if (start(p, e) < 0)
			return -1;
		struct buf held = p->bytes;
		buf_init(&p->bytes, DSN_MAX_BYTES);
		int rc = bounce_parser_feed(p, held.data, held.len, e);
		buf_free(&held);
		return rc;
	}
	if (!p->started && start(p, e) < 0)
		return -1;
	if (p->ops->line_based)
		return feed_lines(p, data, len, e);
	if (buf_append(&p->bytes, data, len) < 0) {
		if (!p->line_overflow)
			bounce_malformed(p, "message too large", "", 0);
		p->line_overflow = true;
	}
	return 0;
}

int bounce_parser_finish(struct bounce_parser *p, struct err *e)
{
	if (!p->started) {
		if (p->fmt == BOUNCE_FMT_AUTO) {
			p->fmt = p->bytes.len ? bounce_detect(p->bytes.data, p->bytes.len)
			                      : BOUNCE_FMT_POSTFIX;
			if (p->fmt == BOUNCE_FMT_AUTO)
				p->fmt = BOUNCE_FMT_POSTFIX;
			if (start(p, e) < 0)
				return -1;
			struct buf held = p->bytes;
			buf_init(&p->bytes, DSN_MAX_BYTES);
			int rc = bounce_parser_feed(p, held.data ? held.data : "", held.len, e);
			buf_free(&held);
			if (rc < 0)
				return -1;
		} else if (start(p, e) < 0) {
			return -1;
		}
	}
	if (p->ops->line_based && (p->line.len > 0 || p->line_overflow)) {
		int rc = 0;
		if (!p->line_overflow)
			rc = take_line(p, p->line.data, p->line.len, e);
		p->line_overflow = false;
		buf_reset(&p->line);
		if (rc < 0)
			return -1;
	}
	return p->ops->finish ? p->ops->finish(p, e) : 0;
}

/* Valid UTF-8 without control characters is kept as it is; otherwise each
 * byte that does not start a valid character is read as Latin-1, and
 * control characters become spaces. */
static const char *clean(struct buf *b, const char *s)
{
	if (!s)
		return NULL;
	const unsigned char *u = (const unsigned char *)s;
	size_t n = strlen(s), i = 0;
	while (i < n) {
		int k = u[i] < 0x80 ? (u[i] >= 0x20 && u[i] < 0x7f) : utf8_len(u + i, n - i);
		if (k <= 0)
			break; /* a control character or a byte no character starts with */
		i += (size_t)k;
	}
	if (i == n)
		return s;
	buf_reset(b);
	for (i = 0; i < n;) {
		int k = u[i] < 0x80 ? 1 : utf8_len(u + i, n - i);
		if (k > 1) {
			buf_append(b, u + i, (size_t)k);
			i += (size_t)k;
		} else if (u[i] < 0x20 || u[i] == 0x7f) {
			buf_putc(b, ' ');
			i++;
		} else if (u[i] < 0x80) {
			buf_putc(b, (char)u[i]);
			i++;
		} else {
			buf_putc(b, (char)(0xc0 | (u[i] >> 6)));
			buf_putc(b, (char)(0x80 | (u[i] & 0x3f)));
			i++;
		}
	}
	return b->data;
}

const char *bounce_domain_of(const char *addr)
{
	if (!addr)
		return NULL;
	const char *at = strrchr(addr, '@');
	return at && at[1] ? at + 1 : NULL;
}

/* Where our sending IP comes from, in this order: the log line itself (the
 * parser set it), the provider's reply text, the host map applied to our
 * MTA's host name; otherwise none (the correlator then works per domain). */
static void resolve_sending_ip(struct bounce_parser *p, struct bounce_event *ev)
{
	if (ev->sending_ip && *ev->sending_ip) {
		ev->ip_source = "log";
		return;
	}
	ev->sending_ip = NULL;
	if (replyip_find(ev->text, ev->remote_ip, p->ipbuf, sizeof p->ipbuf) == 0) {
		ev->sending_ip = p->ipbuf;
		ev->ip_source = "text";
		return;
	}
	const char *ip = p->hosts && ev->mta_host
	                     ? hostmap_lookup(p->hosts, ev->mta_host, hostmap_family(ev->remote_ip))
	                     : NULL;
	if (ip) {
		ev->sending_ip = ip;
		ev->ip_source = "host_map";
		return;
	}
	ev->ip_source = "none";
}

int bounce_emit(struct bounce_parser *p, struct bounce_event *ev, struct err *e)
{
	ev->source = bounce_format_name(p->fmt);
	if (ev->mail_from && !*ev->mail_from)
		ev->mail_from = NULL; /* "<>": the null sender */
	if (!ev->format)
		ev->format = ev->source;
	if (!ev->recipient_domain)
		ev->recipient_domain = bounce_domain_of(ev->recipient);
	if (!ev->mail_from_domain)
		ev->mail_from_domain = bounce_domain_of(ev->mail_from);
	const char **f[] = {&ev->sending_ip,       &ev->mail_from,
	                    &ev->mail_from_domain, &ev->header_from_domain,
	                    &ev->recipient,        &ev->recipient_domain,
	                    &ev->remote_mta,       &ev->remote_ip,
	                    &ev->enhanced_code,    &ev->text,
	                    &ev->queue_id,         &ev->message_id,
	                    &ev->campaign,         &ev->feedback_type,
	                    &ev->mta_host};
	for (size_t i = 0; i < sizeof f / sizeof f[0] && i < BOUNCE_NSCRATCH; i++)
		*f[i] = clean(&p->scratch[i], *f[i]);
	resolve_sending_ip(p, ev);
	p->st.events++;
	return p->fn(p->ctx, ev, e);
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	/* Howard Hinnant's algorithm: no timegm/TZ dependence */
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static bool digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

static int64_t mkutc(int y, int mo, int d, int h, int mi, int s)
{
	return days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + (int64_t)h * 3600 +
	       (int64_t)mi * 60 + s;
}

size_t bounce_time_syslog(int64_t ref_time, const char *s, int64_t *at)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	int mo = 0, d = 0, h, mi, sec;
	for (int i = 0; i < 12 && !mo; i++)
		if (strncmp(s, months + (size_t)i * 3, 3) == 0)
			mo = i + 1;
	if (!mo || s[3] != ' ')
		return 0;
	const char *q = s + 4;
	if (*q == ' ')
		q++;
	if (isdigit((unsigned char)q[0]) && isdigit((unsigned char)q[1])) {
		d = (q[0] - '0') * 10 + (q[1] - '0');
		q += 2;
	} else if (isdigit((unsigned char)q[0])) {
		d = q[0] - '0';
		q++;
	} else {
		return 0;
	}
	if (*q != ' ' || !digits(q + 1, 2, &h) || q[3] != ':' || !digits(q + 4, 2, &mi) ||
	    q[6] != ':' || !digits(q + 7, 2, &sec))
		return 0;
	if (d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return 0;
	q += 9;
	/* the year: that of ref_time, or the one before when that would put the
	 * line more than a day in the future (a log read just after New Year) */
	int64_t days = ref_time / 86400 - (ref_time % 86400 < 0);
	int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	int year = (int)(yoe + era * 400) + ((mp + 2) % 12 + 1 <= 2);
	int64_t t = mkutc(year, mo, d, h, mi, sec);
	if (t > ref_time + 86400)
		t = mkutc(year - 1, mo, d, h, mi, sec);
	*at = t;
	return (size_t)(q - s);
}

size_t bounce_time_iso(const char *s, int64_t *at)
{
	int y, mo, d, h, mi, sec;
	if (!digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
	    !digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != ' ') || !digits(s + 11, 2, &h) ||
	    s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' || !digits(s + 17, 2, &sec))
		return 0;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return 0;
	const char *q = s + 19;
	if (*q == '.' || *q == ',') {
		q++;
		while (isdigit((unsigned char)*q))
			q++;
	}
	int off = 0;
	if (*q == 'Z') {
		q++;
	} else if (*q == '+' || *q == '-' || (q[0] == ' ' && (q[1] == '+' || q[1] == '-'))) {
		const char *z = *q == ' ' ? q + 1 : q;
		int oh, om;
		/* "+00:00" or "+0000"; a lone space not followed by a zone is not ours */
		if (digits(z + 1, 2, &oh) && z[3] == ':' && digits(z + 4, 2, &om)) {
			off = oh * 60 + om;
			if (*z == '-')
				off = -off;
			q = z + 6;
		} else if (digits(z + 1, 2, &oh) && digits(z + 3, 2, &om) &&
		           !isdigit((unsigned char)z[5])) {
			off = oh * 60 + om;
			if (*z == '-')
				off = -off;
			q = z + 5;
		} else if (*q != ' ') {
			return 0;
		}
	}
	*at = mkutc(y, mo, d, h, mi, sec) - (int64_t)off * 60;
	return (size_t)(q - s);
}

void bounce_reply_parse(struct bounce_event *ev, const char *reply, char *enh, struct buf *out)
{
	struct bclass_reply r;
	buf_reset(out);
	if (bclass_split_reply(reply, &r) < 0) {
		buf_puts(out, reply);
		ev->text = out->data ? out->data : "";
		if (!ev->enhanced_code && bclass_find_enhanced(reply, enh, 16) == 0)
			ev->enhanced_code = enh;
		return;
	}
	ev->reply_code = r.code;
	if (!ev->enhanced_code && r.enhanced[0]) {
		memcpy(enh, r.enhanced, sizeof r.enhanced);
		ev->enhanced_code = enh;
	}
	/* keep "550 5.7.26 text" whole, minus the repeated "550-5.7.26 " of
	 * the continuation lines an MTA joined with spaces */
	smtp_reply_join(reply, out);
	ev->text = out->data ? out->data : "";
}

const char *bounce_classify_event(const struct bclass *t, const struct provider_map *map,
                                  const struct bounce_event *ev, struct bounce_verdict *v)
{
	if (!map)
		map = provider_map_default();
	if (!t)
		t = bclass_default();
	const char *prov = provider_for(map, ev->recipient_domain, ev->remote_mta);
	if (ev->feedback_type) {
		/* the recipient complained: never mail them again (RFC 5965) */
		memset(v, 0, sizeof *v);
		v->klass = "complaint";
		v->severity = "escalate";
		v->action = "suppress";
		v->rule = "arf.complaint";
		return prov;
	}
	if (ev->auto_reply) {
		memset(v, 0, sizeof *v);
		v->klass = "accepted";
		v->severity = "accepted";
		v->action = "none";
		v->rule = "auto_reply";
		return prov;
	}
	int code = ev->reply_code;
	const char *enh = ev->enhanced_code;
	if (code == 0 && ev->status == BOUNCE_DELIVERED)
		code = 250;
	/* a notice that gives no code at all: its status is the evidence */
	if (code == 0 && !enh)
		enh = ev->status == BOUNCE_DEFERRED ? "4.0.0" : "5.0.0";
	bclass_classify(t, code, enh, ev->text, prov, v);
	return prov;
}
