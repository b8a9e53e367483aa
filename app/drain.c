#include "app/drain.h"

#include <time.h>

/* A batch commits after this many inputs or this long after it opened,
 * whichever comes first: the commit's WAL flush is shared by up to
 * BATCH_INPUTS inputs, and a slow source (stdin) never holds work back
 * for long. */
#define BATCH_INPUTS 200
#define BATCH_MS     500

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Inputs the pipeline stored again after their outcome was counted
 * (pipeline_speculate) move to their final outcome. */
static void corrected(struct pipeline *p, struct drain_counts *c)
{
	int64_t d[4];
	pipeline_take_corrections(p, d);
	c->ingested += (uint64_t)d[PIPE_INGESTED];
	c->duplicates += (uint64_t)d[PIPE_DUPLICATE];
	c->quarantined += (uint64_t)d[PIPE_QUARANTINED];
	c->dsn += (uint64_t)d[PIPE_DSN];
}

/* A batch that did not commit: its inputs are not counted, nor those of
 * the batch after it when the one in flight was lost (pipeline.h). */
static int lost(struct pipeline *p, struct drain_counts *c, const struct drain_counts *at,
                const struct drain_counts *at_flight)
{
	*c = pipeline_batch_lost_flight(p) ? *at_flight : *at;
	return -1;
}

/* The open batch committed and the one in flight settled: everything
 * counted is kept. */
static int finish(struct pipeline *p, unsigned pending, struct drain_counts *c,
                  const struct drain_counts *at, const struct drain_counts *at_flight,
                  struct err *fatal)
{
	int rc = pending > 0 ? pipeline_batch_commit(p, fatal) : 0;
	corrected(p, c);
	if (rc != 0 || pipeline_batch_settle(p, fatal) != 0)
		return lost(p, c, at, at_flight);
	return 0;
}

int drain(struct source *s, struct pipeline *p, const volatile sig_atomic_t *stop,
          void (*tick)(void *ctx), void *tick_ctx, struct drain_counts *c, struct err *source_err,
          struct err *fatal)
{
	struct source_msg m;
	int got = 0;
	bool batch = source_batchable(s);
	unsigned pending = 0;
	int64_t opened = 0;
	/* The counts as of the open batch's start, and of the batch in flight:
	 * a batch that fails takes its inputs back (nothing of it was kept; the
	 * next run redoes them). */
	struct drain_counts at = *c, at_flight = *c;
	pipeline_speculate(p, batch);
	while (!(stop && *stop) && (got = source_next(s, &m, source_err)) == 1) {
		enum pipeline_outcome oc = PIPE_QUARANTINED;
		int rc;
		if (batch && pending == 0) {
			at = *c;
			if (pipeline_batch_begin(p, fatal) != 0) {
				pipeline_batch_abort(p);
				return lost(p, c, &at, &at_flight);
			}
			opened = now_ms();
		}
		if (m.short_read)
			rc = pipeline_quarantine(p, m.data, m.len, m.name, ERR_STAGE_READ,
			                         m.short_read, fatal);
		else if (m.fd >= 0)
			rc = pipeline_ingest_fd(p, m.fd, m.name, &oc, fatal);
		else
			rc = pipeline_ingest(p, m.data, m.len, m.name, &oc, fatal);
		corrected(p, c);
		if (rc != 0) {
			pipeline_batch_abort(p);
			return batch ? lost(p, c, &at, &at_flight) : -1;
		}
		switch (oc) {
		case PIPE_INGESTED:
			c->ingested++;
			break;
		case PIPE_DUPLICATE:
			c->duplicates++;
			break;
		case PIPE_QUARANTINED:
			c->quarantined++;
			break;
		case PIPE_DSN:
			c->dsn++;
			break;
		}
		/* Batched: done keeps nothing (source_batchable), so it may come
		 * before the commit. */
		if (batch && (++pending >= BATCH_INPUTS || now_ms() - opened >= BATCH_MS)) {
			pending = 0;
			int brc = pipeline_batch_commit(p, fatal);
			corrected(p, c);
			if (brc != 0)
				return lost(p, c, &at, &at_flight);
			if (pipeline_batch_in_flight(p))
				at_flight = at;
		}
		if (source_done(s, oc == PIPE_QUARANTINED ? SOURCE_QUARANTINED : SOURCE_STORED,
		                source_err) != 0)
			return finish(p, pending, c, &at, &at_flight, fatal) != 0 ? -1 : 1;
		if (tick)
			tick(tick_ctx);
	}
	if (finish(p, pending, c, &at, &at_flight, fatal) != 0)
		return -1;
	return stop && *stop ? 0 : got < 0 ? 1 : 0;
}
