/*
 * bounce_int: what the bounce parsers (ingest/bounce_*.c) share with the
 * parser object in ingest/bounce.c. Private to ingest/.
 */
#ifndef DS_INGEST_BOUNCE_INT_H
#define DS_INGEST_BOUNCE_INT_H

#include "core/buf.h"
#include "ingest/bounce.h"

#include <stdbool.h>

struct bounce_parser;

struct bounce_ops {
	bool line_based; /* lines are passed to `line`; else bytes are kept for `finish` */
	int (*init)(struct bounce_parser *p);
	/* one line without its end-of-line; the parser may modify it */
	int (*line)(struct bounce_parser *p, char *line, size_t len, struct err *e);
	int (*finish)(struct bounce_parser *p, struct err *e);
	void (*free)(struct bounce_parser *p);
};

extern const struct bounce_ops bounce_postfix_ops;
extern const struct bounce_ops bounce_exim_ops;
extern const struct bounce_ops bounce_dsn_ops;
extern const struct bounce_ops bounce_csv_ops;

#define BOUNCE_NSCRATCH 16

struct bounce_parser {
	enum bounce_format fmt;
	const struct bounce_ops *ops;
	int64_t ref_time;
	bounce_event_fn fn;
	void *ctx;
	struct bounce_stats st;
	struct buf line;    /* a line not yet complete */
	bool line_overflow; /* the current line went past the cap: drop to its end */
	struct buf bytes;   /* AUTO before detection; DSN: the whole message */
	bool started;       /* ops->init ran */
	void *state;        /* the format's own */
	struct buf scratch[BOUNCE_NSCRATCH];
	char pristine[BOUNCE_SAMPLE_MAX]; /* the start of the current line, uncut */
	const struct hostmap *hosts;      /* may be NULL */
	char ipbuf[64];                   /* a sending IP found by bounce_emit */
	size_t pristine_len;
};

/* Sends one event: fills source and the derived domains, resolves the
 * sending IP (log, else reply text, else host map) and ip_source, makes
 * every string valid UTF-8, counts it. Returns the callback's result. */
int bounce_emit(struct bounce_parser *p, struct bounce_event *ev, struct err *e);
void bounce_skip(struct bounce_parser *p);
void bounce_malformed(struct bounce_parser *p, const char *reason, const char *line, size_t len);

/* "Nov 23 01:52:09" (year from ref_time); returns chars consumed or 0. */
size_t bounce_time_syslog(int64_t ref_time, const char *s, int64_t *at);
/* "2026-11-23T01:52:09[.123456][Z|+00:00]" or with a space instead of the T
 * and an optional " +0100" zone (Exim); returns chars consumed or 0. */
size_t bounce_time_iso(const char *s, int64_t *at);

/* Fills reply_code / enhanced_code (into enh, 16 bytes) / text from a reply
 * such as "550-5.7.26 a 550-5.7.26 b": repeated continuation codes are
 * dropped from the text (written to out). Keeps a preset enhanced code. */
void bounce_reply_parse(struct bounce_event *ev, const char *reply, char *enh, struct buf *out);

/* The part after the last '@', or NULL. */
const char *bounce_domain_of(const char *addr);

#endif
