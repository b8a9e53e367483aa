/*
 * bounce_batch: the use case behind `dmarcsift bounces classify|ingest` —
 * one input (a log, a CSV export, a DSN; a path or "-" for standard input)
 * read by the bounce parsers, each event classified with the rule table,
 * then handed to a callback (classify: no database) or stored (ingest: one
 * transaction per input through db/bounce_store, suppressions and
 * escalations updated at its commit). Totals add up over the inputs.
 */
#ifndef DS_APP_BOUNCE_BATCH_H
#define DS_APP_BOUNCE_BATCH_H

#include "core/bounce.h"
#include "core/err.h"
#include "db/bounce_store.h"
#include "ingest/bounce.h"

#include <stddef.h>
#include <stdint.h>

struct bclass;
struct db;
struct hostmap;

#define BOUNCE_BATCH_CLASSES 32

struct bounce_totals {
	uint64_t events, lines, skipped, malformed;
	struct {
		const char *klass;
		uint64_t n;
	} by_class[BOUNCE_BATCH_CLASSES];
	size_t nclass;
	struct bounce_reason reasons[BOUNCE_MAX_REASONS];
	size_t nreasons;
	struct bounce_store_stats store; /* ingest */
};

struct bounce_batch {
	const struct bclass *rules;
	const struct hostmap *hosts; /* [mta-hosts] + --mta-hosts, or NULL */
	enum bounce_format format;
	struct db *db;      /* ingest; NULL: classify */
	const char *tenant; /* ingest: every event to this tenant (NULL: by domain) */
	/* classify: each event with its verdict and provider (may be NULL) */
	void (*event)(void *ctx, const struct bounce_event *ev, const struct bounce_verdict *v,
	              const char *provider);
	void *ctx;
	struct bounce_totals tot;
};

/* One input: 0; 1 when it could not be read (said with log_error; what
 * was read before a read error is stored); -1 with e set when the parser or the store failed
 * (e.kind ERR_RETRY: the database went away). */
int bounce_batch_input(struct bounce_batch *b, const char *path, struct err *e);

#endif
