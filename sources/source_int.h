/* source_int: what each kind of source implements (sources/ only). */
#ifndef DS_SOURCES_SOURCE_INT_H
#define DS_SOURCES_SOURCE_INT_H

#include "sources/source.h"

struct source_ops {
	/* As source_next; the counts of the message handed over are kept by
	 * source.c. */
	int (*next)(struct source *s, struct source_msg *m, struct err *e);
	/* As source_done; NULL: nothing to do. */
	int (*done)(struct source *s, enum source_verdict v, struct err *e);
	void (*close)(struct source *s);
};

/* Every kind embeds this first. */
struct source {
	const struct source_ops *ops;
	struct source_counts counts;
	bool in_hand; /* a message was handed over and is not done yet */
	/* done files nothing away and remembers nothing (files, standard
	 * input): see source_batchable. */
	bool done_keeps_nothing;
};

#endif
