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

/* A batch that did not commit: its inputs are not counted. */
static int lost(struct drain_counts *c, const struct drain_counts *at)
{
	*c = *at;
	return -1;
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
	/* The counts as of the open batch's start: a batch that fails takes
	 * its inputs back (nothing of it was kept; the next run redoes them). */
	struct drain_counts at = *c;
	while (!(stop && *stop) && (got = source_next(s, &m, source_err)) == 1) {
		enum pipeline_outcome oc = PIPE_QUARANTINED;
		int rc;
		if (batch && pending == 0) {
			at = *c;
			if (pipeline_batch_begin(p, fatal) != 0)
				return -1;
			opened = now_ms();
		}
		if (m.short_read)
			rc = pipeline_quarantine(p, m.data, m.len, m.name, ERR_STAGE_READ,
			                         m.short_read, fatal);
		else if (m.fd >= 0)
			rc = pipeline_ingest_fd(p, m.fd, m.name, &oc, fatal);
		else
			rc = pipeline_ingest(p, m.data, m.len, m.name, &oc, fatal);
		if (rc != 0) {
			pipeline_batch_abort(p);
			return batch ? lost(c, &at) : -1;
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
		if (batch && ++pending >= BATCH_INPUTS) {
			pending = 0;
			if (pipeline_batch_commit(p, fatal) != 0)
				return lost(c, &at);
		}
		if (source_done(s, oc == PIPE_QUARANTINED ? SOURCE_QUARANTINED : SOURCE_STORED,
		                source_err) != 0) {
			if (pending > 0 && pipeline_batch_commit(p, fatal) != 0)
				return lost(c, &at);
			return 1;
		}
		if (batch && pending > 0 && now_ms() - opened >= BATCH_MS) {
			pending = 0;
			if (pipeline_batch_commit(p, fatal) != 0)
				return lost(c, &at);
		}
		if (tick)
			tick(tick_ctx);
	}
	if (pending > 0 && pipeline_batch_commit(p, fatal) != 0)
		return lost(c, &at);
	return stop && *stop ? 0 : got < 0 ? 1 : 0;
}
