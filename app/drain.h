/*
 * drain: the one loop of `ingest` and `poll` — every message of a source
 * through the pipeline, each handed back to the source (filed away,
 * progress remembered) only after the pipeline committed it.
 *
 * From a source that keeps nothing (files, standard input:
 * source_batchable) the inputs are stored in batches: up to 200 inputs, or
 * what came within 500 ms, share one transaction (each report in a
 * savepoint of its own, so a bad one rolls back alone) and one commit. A
 * mailbox's messages each get their own commit before they are filed away.
 */
#ifndef DS_APP_DRAIN_H
#define DS_APP_DRAIN_H

#include "app/pipeline.h"
#include "core/err.h"
#include "sources/source.h"

#include <signal.h>
#include <stdint.h>

/* What became of the messages, by the pipeline's outcome. */
struct drain_counts {
	uint64_t ingested, duplicates, quarantined, dsn;
};

/*
 * Drains s into p until the source ends or *stop is set (checked before
 * each message). Returns 0 then; 1 when the source failed (*source_err
 * says why; what came before was stored and filed away); -1 when the run
 * must stop (*fatal: the database went away; the message in hand is
 * neither filed away nor remembered, and the open batch, if any, is rolled
 * back: its inputs are stored again by the next run). `tick` (may be NULL) is called after
 * each message, for progress displays.
 */
int drain(struct source *s, struct pipeline *p, const volatile sig_atomic_t *stop,
          void (*tick)(void *ctx), void *tick_ctx, struct drain_counts *c, struct err *source_err,
          struct err *fatal);

#endif
