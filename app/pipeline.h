/*
 * pipeline: one input's way from raw bytes to committed rows.
 *
 *   raw bytes -> store_raw_put (kept before anything is parsed)
 *             -> message? route_message: bounce (DSN, notice, SES), ARF
 *                complaint, auto-reply -> the bounce store; failure report ->
 *                ruf_parse -> ruf_store_add; other -> quarantined;
 *                report attachments -> mime_extract : the bytes themselves
 *             -> unpack -> XML: aggr_parse -> store_report_* (one transaction
 *                each); JSON: tls_ingest (SMTP TLS report)
 *             -> on failure: store_failure_add(stage, reason), carry on
 *
 * pipeline_ingest returns 0 when the input was dealt with — ingested,
 * duplicate, quarantined, or a DSN whose bounce events were stored; *outcome says which — and
 * -1 only when the caller must stop and must not treat the input as processed
 * (the database went away: e->kind == ERR_RETRY). It lives in app/ because it
 * ties ingest/ to db/, which must not depend on each other.
 */
#ifndef DS_APP_PIPELINE_H
#define DS_APP_PIPELINE_H

#include "core/err.h"
#include "ingest/ruf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct db;
struct hostmap;
struct pipeline;

enum pipeline_outcome {
	PIPE_INGESTED = 0, /* at least one report stored, or all parts duplicates */
	PIPE_DUPLICATE,    /* every report in it was known already */
	PIPE_QUARANTINED,  /* kept raw, listed by `dmarcsift failures` */
	PIPE_DSN,          /* a bounce, ARF complaint or auto-reply: its events went to the
	                      bounce store (`dmarcsift bounces`, suppressions) */
};

struct pipeline_opts {
	const char *tenant_override; /* every report goes to this tenant */
	bool reprocess;              /* retry even bytes that were seen before */
	bool pinned_strict;          /* quarantine reports the pin contradicts */
	struct ruf_options ruf;      /* [ruf] keep_body, redact */
	const struct hostmap *hosts; /* our MTA hosts, for DSNs' sending IP (NULL: none) */
};

struct pipeline_stats {
	uint64_t inputs;
	uint64_t reports;
	uint64_t records;
	uint64_t messages;
	uint64_t duplicates;
	uint64_t replaced; /* reports that took the place of a less complete stored copy */
	uint64_t quarantined;
	uint64_t recovered;       /* reports stored with a complaint (v_reports.complaint) */
	uint64_t records_skipped; /* records without a usable source_ip or count */
	uint64_t tls_reports;     /* SMTP TLS reports stored (one per policy domain) */
	uint64_t failure_reports; /* DMARC failure reports (RUF) stored */
	uint64_t complaints;      /* ARF complaints handed to the bounce store */
	uint64_t auto_replies;    /* auto-replies handed to the bounce store */
	uint64_t other;           /* messages that were none of the kinds we read */
	uint64_t dsn;             /* bounces (DSN, notice, SES) stored as bounce events */
	uint64_t bounce_events;   /* new bounce events from those DSNs */
	uint64_t mismatched;      /* reports whose domain another tenant than the pinned
	                             one owns (stored under the owner, or quarantined) */
};

int pipeline_new(struct pipeline **out, struct db *db, const struct pipeline_opts *opts);
void pipeline_free(struct pipeline *p);
int pipeline_ingest(struct pipeline *p, const void *data, size_t len, const char *source,
                    enum pipeline_outcome *outcome, struct err *e);
/* The same for a bare report file (XML, gzip or zip; not a message) read
 * block by block from `fd`, so memory stays flat however large the file:
 * hashing, raw storage and parsing each stream it. */
int pipeline_ingest_fd(struct pipeline *p, int fd, const char *source,
                       enum pipeline_outcome *outcome, struct err *e);
/* Keeps bytes that could not be read whole (e.g. a file that shrank while it
 * was read) and quarantines them at `stage` with `reason`, without parsing:
 * counted as one quarantined input. -1 only when the database went away. */
int pipeline_quarantine(struct pipeline *p, const void *data, size_t len, const char *source,
                        enum err_stage_id stage, const char *reason, struct err *e);
/* Batches (db/db.h): the inputs between pipeline_batch_begin and
 * pipeline_batch_commit share one transaction, each report in a savepoint
 * of its own, and are durable only once the commit returned 0 (with a
 * spare connection: once the batch settled, below); abort rolls all of
 * them back. A DSN or a large file read block by block commits the
 * batch before it and opens the next after (see pipeline.c). */
int pipeline_batch_begin(struct pipeline *p, struct err *e);
int pipeline_batch_commit(struct pipeline *p, struct err *e);
void pipeline_batch_abort(struct pipeline *p);
/* A second connection to the same database for batches to take turns on
 * (see pipeline.c): the caller's, closed after pipeline_free. With it,
 * pipeline_batch_commit returns once the batch is sent, and the batch sent
 * before it has committed; pipeline_batch_settle waits for the one in
 * flight (0: committed, or none). After a failure, lost_flight says whether
 * the batch in flight was lost too (so were the counts since its start). */
void pipeline_set_spare(struct pipeline *p, struct db *spare);
int pipeline_batch_settle(struct pipeline *p, struct err *e);
bool pipeline_batch_in_flight(const struct pipeline *p);
bool pipeline_batch_lost_flight(const struct pipeline *p);
/* Speculation (app/speculate.c), off by default: in a batch, a small
 * input's statements are sent without waiting for their answers, which
 * are checked later; an input found not to be what was assumed is stored
 * again the usual way, and its outcome may then differ from the one
 * pipeline_ingest gave. Only for a caller that then takes the changes to
 * its counts, by outcome, from pipeline_take_corrections (d[outcome]). */
void pipeline_speculate(struct pipeline *p, bool on);
void pipeline_take_corrections(struct pipeline *p, int64_t d[4]);
/* How many inputs were stored so, and how many of them again; how many
 * were taken for duplicates ahead of their answers, and how many of those
 * were not. */
void pipeline_speculated(const struct pipeline *p, uint64_t *ahead, uint64_t *again,
                         uint64_t *dup_ahead, uint64_t *dup_new);

const struct pipeline_stats *pipeline_stats(const struct pipeline *p);
/* The reason of the last quarantine, for callers that report per input. */
const char *pipeline_last_reason(const struct pipeline *p);

#endif
