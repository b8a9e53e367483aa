#include "app/drain.h"

int drain(struct source *s, struct pipeline *p, const volatile sig_atomic_t *stop,
          void (*tick)(void *ctx), void *tick_ctx, struct drain_counts *c, struct err *source_err,
          struct err *fatal)
{
	struct source_msg m;
	int got = 0;
	while (!(stop && *stop) && (got = source_next(s, &m, source_err)) == 1) {
		enum pipeline_outcome oc = PIPE_QUARANTINED;
		int rc;
		if (m.short_read)
			rc = pipeline_quarantine(p, m.data, m.len, m.name, ERR_STAGE_READ,
			                         m.short_read, fatal);
		else if (m.fd >= 0)
			rc = pipeline_ingest_fd(p, m.fd, m.name, &oc, fatal);
		else
			rc = pipeline_ingest(p, m.data, m.len, m.name, &oc, fatal);
		if (rc != 0)
			return -1;
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
		if (source_done(s, oc == PIPE_QUARANTINED ? SOURCE_QUARANTINED : SOURCE_STORED,
		                source_err) != 0)
			return 1;
		if (tick)
			tick(tick_ctx);
	}
	return stop && *stop ? 0 : got < 0 ? 1 : 0;
}
