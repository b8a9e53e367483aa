/*
 * bounce: streaming parsers for bounce records — Postfix and Exim logs,
 * RFC 3464 delivery-status messages (gmime) and CSV exports — that turn each
 * recipient outcome into a struct bounce_event (core/bounce.h).
 *
 * A parser is created for one input with bounce_parser_new, fed bytes in
 * chunks of any size with bounce_parser_feed, and closed with
 * bounce_parser_finish; it calls `fn` once per recipient event. The event's
 * strings are the parser's and valid only during the callback; they are
 * valid UTF-8 (bytes that are not are read as Latin-1). Lines that are not
 * delivery outcomes are counted as skipped; broken ones are counted per
 * reason with the first line kept as a sample (bounce_parser_stats); neither
 * stops the run. Only the callback's failure (its return value and `e`)
 * aborts feed/finish. BOUNCE_FMT_AUTO decides from the first bytes.
 * The caller owns the parser and frees it with bounce_parser_free.
 */
#ifndef DS_INGEST_BOUNCE_H
#define DS_INGEST_BOUNCE_H

#include "core/bounce.h"
#include "core/err.h"

#include <stddef.h>
#include <stdint.h>

struct bclass;
struct hostmap;
struct provider_map;

enum bounce_format {
	BOUNCE_FMT_AUTO = 0,
	BOUNCE_FMT_POSTFIX,
	BOUNCE_FMT_EXIM,
	BOUNCE_FMT_DSN,
	BOUNCE_FMT_CSV,
};

typedef int (*bounce_event_fn)(void *ctx, const struct bounce_event *ev, struct err *e);

#define BOUNCE_MAX_REASONS 16
#define BOUNCE_SAMPLE_MAX  160

struct bounce_reason {
	const char *reason; /* static text */
	uint64_t count;
	char sample[BOUNCE_SAMPLE_MAX]; /* the first offending line, cut */
};

struct bounce_stats {
	enum bounce_format format; /* the one used (after auto-detection) */
	uint64_t lines;            /* lines (CSV: records) read */
	uint64_t events;           /* events passed to the callback */
	uint64_t skipped;          /* lines that are not delivery outcomes */
	uint64_t malformed;        /* sum over reasons */
	size_t nreasons;
	struct bounce_reason reasons[BOUNCE_MAX_REASONS];
};

struct bounce_parser;

/*
 * `ref_time` (unix seconds) gives the year of classic syslog timestamps,
 * which have none: the latest date not more than a day after ref_time.
 */
int bounce_parser_new(struct bounce_parser **out, enum bounce_format fmt, int64_t ref_time,
                      bounce_event_fn fn, void *ctx, struct err *e);
/* Our MTA hosts and their addresses (core/hostmap.h), for events whose log
 * line and reply text name no sending IP; the map must outlive the parser. */
void bounce_parser_set_hosts(struct bounce_parser *p, const struct hostmap *hosts);
int bounce_parser_feed(struct bounce_parser *p, const char *data, size_t len, struct err *e);
int bounce_parser_finish(struct bounce_parser *p, struct err *e);
const struct bounce_stats *bounce_parser_stats(const struct bounce_parser *p);
void bounce_parser_free(struct bounce_parser *p);

/* Guesses the format from the first bytes of an input; AUTO when unsure. */
enum bounce_format bounce_detect(const char *data, size_t len);
const char *bounce_format_name(enum bounce_format f);
/* "auto" | "postfix" | "exim" | "dsn" | "csv"; -1 when unknown. */
int bounce_format_parse(const char *name, enum bounce_format *out);

/*
 * What a message at a bounce address is, for routing (app/pipeline.c):
 * a DSN (RFC 3464, strict or lenient), a plain-text bounce notice, an ARF
 * complaint, an auto-reply, an Amazon SES notification, or none of these
 * (a DMARC failure report is NONE here: it is not a bounce). Runs the
 * message reader; nothing is kept.
 */
enum bounce_mail_kind {
	BOUNCE_MAIL_NONE = 0,
	BOUNCE_MAIL_DSN,
	BOUNCE_MAIL_NOTICE,
	BOUNCE_MAIL_COMPLAINT,
	BOUNCE_MAIL_AUTO_REPLY,
	BOUNCE_MAIL_SES,
};
enum bounce_mail_kind bounce_mail_kind(const void *data, size_t len);

/*
 * Classifies an event: provider from the recipient domain and remote MTA
 * (map may be NULL: the embedded one), a delivery without a logged reply
 * counts as 250; a complaint (feedback_type) is class "complaint" (action
 * suppress), an auto-reply "accepted"; a notice without any code is
 * classified as X.0.0 of its status (4 for a delay, 5 for a failure). Returns the provider name
 * (owned by the map) or NULL.
 */
const char *bounce_classify_event(const struct bclass *t, const struct provider_map *map,
                                  const struct bounce_event *ev, struct bounce_verdict *v);

#endif
