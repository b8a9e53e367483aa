#include "sources/source_int.h"

#include "core/log.h"

int source_next(struct source *s, struct source_msg *m, struct err *e)
{
	if (s->in_hand)
		panic("source_next with a message in hand (source_done first)");
	*m = (struct source_msg){.fd = -1};
	int rc = s->ops->next(s, m, e);
	if (rc == 1) {
		s->in_hand = true;
		s->counts.fetched++;
	}
	return rc;
}

int source_done(struct source *s, enum source_verdict v, struct err *e)
{
	if (!s->in_hand)
		panic("source_done without a message in hand");
	s->in_hand = false;
	return s->ops->done ? s->ops->done(s, v, e) : 0;
}

bool source_batchable(const struct source *s)
{
	return s->done_keeps_nothing;
}

const struct source_counts *source_counts(const struct source *s)
{
	return &s->counts;
}

void source_close(struct source *s)
{
	if (s)
		s->ops->close(s);
}
