/*
 * pipeline_int: the pipeline's state, shared by pipeline.c and speculate.c.
 */
#ifndef DS_APP_PIPELINE_INT_H
#define DS_APP_PIPELINE_INT_H

#include "app/pipeline.h"
#include "db/db.h"
#include "ingest/aggr.h"
#include "ingest/unpack.h"

#include <stdbool.h>
#include <stdint.h>

/* Inputs stored speculatively whose answers may be unread at once. */
#define SPEC_MAX 4

struct spec_input {
	uint64_t seq;
	void *data;
	size_t len;
	char *source;
	struct pipeline_stats st;   /* the pipeline's counts before it */
	size_t n_batch_ok;          /* and its batch's inputs that ended well */
	enum pipeline_outcome told; /* what pipeline_ingest said of it */
	bool ended;                 /* pipeline_ingest returned (`told` is set) */
	bool answered, refused;     /* a duplicate taken ahead: its answer, read */
};

struct speculation {
	bool wanted;     /* pipeline_speculate */
	bool redoing;    /* storing inputs again: no speculation */
	bool in_input;   /* pipeline_ingest is at work */
	uint64_t seq;    /* the last input's number */
	unsigned streak; /* inputs stored in a row */
	struct spec_input in[SPEC_MAX + 1];
	size_t n;
	/* Inputs taken for duplicates ahead of their answers (after one). */
	unsigned dups; /* duplicates in a row */
	struct spec_input dup[SPEC_MAX + 1];
	size_t ndup;
	int64_t corr[4];       /* pipeline_take_corrections */
	uint64_t ahead, again; /* pipeline_speculated */
	uint64_t dup_ahead, dup_new;
};

struct pipeline {
	struct db *db; /* the connection of the open batch (or the only one) */
	/* A second connection (pipeline_set_spare): batches take turns on the
	 * two. A batch's end (its statuses, the move of its records, COMMIT)
	 * is sent without waiting (db_batch_send_commit) and the next batch
	 * opens on the other connection at once, so the server ends one batch
	 * while the client parses the next. A batch is sent only after the one
	 * before it has settled, so at most one is in flight, and what the
	 * summary counts never has a hole: a batch that fails to commit takes
	 * the open one back with it. */
	struct db *spare;
	bool flight;                     /* a batch was sent on `spare`, not yet settled */
	bool lost_flight;                /* the last failure took that batch with it */
	struct pipeline_stats st_flight; /* st as of the sent batch's start */
	struct pipeline_opts opts;
	struct pipeline_stats st;
	/* st as of the last batch commit (or begin): what an aborted or
	 * failed batch takes back, so the summary never counts a report the
	 * database did not keep. */
	struct pipeline_stats st_batch;
	struct unpack_limits ulim;
	struct aggr_limits alim;
	char last_reason[600];
	/* The policy domain of the input at hand, once a report header was
	 * read: a failure after that point belongs to the domain's tenant. */
	char domain[256];
	/* The inputs of the open batch that ended well: their raw messages'
	 * status is set in one statement when the batch commits
	 * (store_raw_finish_many), and the same bytes again within the batch
	 * are a duplicate without a look-up, as that status would say. */
	char (*batch_ok)[65];
	size_t n_batch_ok, cap_batch_ok;
	struct speculation spec; /* speculate.c */
};

/* pipeline.c: one input, as pipeline_ingest stores it without speculating. */
int pipeline_ingest_one(struct pipeline *p, const void *data, size_t len, const char *source,
                        enum pipeline_outcome *outcome, struct err *e);

/* pipeline.c: these bytes ended well earlier in the open batch. */
bool pipeline_batch_has_ok(const struct pipeline *p, const char *sha);

/* speculate.c */
bool spec_wanted(const struct pipeline *p, size_t len);
bool spec_dup_wanted(const struct pipeline *p, size_t len);
int spec_dup(struct pipeline *p, const void *data, size_t len, const char *source,
             enum pipeline_outcome *outcome, struct err *e);
void spec_count(struct pipeline *p, enum pipeline_outcome outcome);
int spec_ingest(struct pipeline *p, const void *data, size_t len, const char *source,
                enum pipeline_outcome *outcome, struct err *e);
int spec_settle(struct pipeline *p, struct err *e);
void spec_forget(struct pipeline *p);

#endif
