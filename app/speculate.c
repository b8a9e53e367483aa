/*
 * speculate: in a batch, small inputs stored without waiting for the
 * server's answers, checked later, and stored again where an answer was
 * not the one assumed.
 *
 * A small report's fast path is two statements: its raw bytes (known
 * already? then a duplicate, and nothing is parsed) and, after the parse,
 * its row with its records (an identity stored already? then the copies
 * are compared). Waiting for each answer left one core idle: the server
 * waited for the parse, the parse for the server. After SPEC_STREAK inputs
 * in a row stored as new, the pipeline assumes the next one is too: both
 * statements go lazily (db.h), each input inside a savepoint of its own
 * (ds_s<n>), and the answers are read while later inputs are parsed — at
 * the latest when SPEC_MAX inputs wait, when the batch ends, or when
 * anything else needs the connection. An answer that is not the one
 * assumed (the bytes were processed before, the identity is stored, a
 * statement failed) rolls back to that input's savepoint, and it and every
 * input after it are stored again the usual way, one answer at a time: the
 * result is what that way gives, counts included (an input first said
 * ingested and then found a duplicate is corrected through
 * pipeline_take_corrections). Then the streak starts again from nothing,
 * so a run of duplicates is read the usual way.
 */
#include "app/pipeline_int.h"

#include "core/xalloc.h"
#include "db/store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Inputs stored as new in a row before the next is stored speculatively. */
#define SPEC_STREAK 2

void pipeline_speculate(struct pipeline *p, bool on)
{
	p->spec.wanted = on;
}

void pipeline_take_corrections(struct pipeline *p, int64_t d[4])
{
	memcpy(d, p->spec.corr, sizeof p->spec.corr);
	memset(p->spec.corr, 0, sizeof p->spec.corr);
}

void pipeline_speculated(const struct pipeline *p, uint64_t *ahead, uint64_t *again)
{
	*ahead = p->spec.ahead;
	*again = p->spec.again;
}

bool spec_wanted(const struct pipeline *p, size_t len)
{
	const struct speculation *sp = &p->spec;
	return sp->wanted && !sp->redoing && !sp->in_input && !p->opts.reprocess &&
	       db_in_batch(p->db) && len > 0 && len <= STORE_RAW_PUT_SEEN_MAX &&
	       sp->streak >= SPEC_STREAK;
}

static void drop_first(struct speculation *sp, size_t k)
{
	for (size_t i = 0; i < k; i++) {
		free(sp->in[i].data);
		free(sp->in[i].source);
	}
	memmove(sp->in, sp->in + k, (sp->n - k) * sizeof *sp->in);
	sp->n -= k;
}

void spec_forget(struct pipeline *p)
{
	drop_first(&p->spec, p->spec.n);
}

/* The answers said no from input db_lazy_failed on: back to its savepoint,
 * and it and the inputs after it stored again, waiting for each answer.
 * `cur`: where the outcome of the input still at work goes. */
static int recover(struct pipeline *p, enum pipeline_outcome *cur, struct err *e)
{
	struct speculation *sp = &p->spec;
	uint64_t failed = db_lazy_failed(p->db);
	size_t i = 0;
	db_lazy_reset(p->db);
	while (i < sp->n && sp->in[i].seq < failed)
		i++;
	if (i == sp->n) {
		spec_forget(p);
		return err_stage(e, ERR_STAGE_STORE, ERR_INTERNAL,
		                 "an input stored ahead failed, and it is not known which");
	}
	char sql[96];
	snprintf(sql, sizeof sql,
	         "ROLLBACK TO SAVEPOINT ds_s%" PRIu64 "; RELEASE SAVEPOINT ds_s%" PRIu64,
	         sp->in[i].seq, sp->in[i].seq);
	if (db_exec(p->db, sql, e) != 0) {
		spec_forget(p);
		return -1;
	}
	p->st = sp->in[i].st;
	p->n_batch_ok = sp->in[i].n_batch_ok;
	sp->redoing = true;
	sp->streak = 0;
	int rc = 0;
	for (size_t j = i; j < sp->n && rc == 0; j++) {
		struct spec_input *in = &sp->in[j];
		enum pipeline_outcome o = PIPE_QUARANTINED;
		rc = pipeline_ingest_one(p, in->data, in->len, in->source, &o, e);
		if (rc != 0)
			break;
		sp->again++;
		if (in->ended) {
			sp->corr[in->told]--;
			sp->corr[o]++;
		} else if (cur) {
			*cur = o;
		}
	}
	sp->redoing = false;
	spec_forget(p);
	return rc;
}

int spec_settle(struct pipeline *p, struct err *e)
{
	struct speculation *sp = &p->spec;
	db_lazy_settle(p->db, UINT64_MAX);
	if (sp->redoing)
		return 0; /* nothing lazy since the recovery began */
	if (sp->in_input) {
		/* The batch ends inside an input (a transaction of its own):
		 * what it stored lazily must hold, or the input ends here and
		 * is stored again (spec_ingest). It goes on without speculating. */
		db_lazy_allow(p->db, 0);
		if (db_lazy_failed(p->db))
			return err_stage(e, ERR_STAGE_STORE, ERR_INTERNAL,
			                 "an input stored ahead failed");
		spec_forget(p);
		return 0;
	}
	if (db_lazy_failed(p->db))
		return recover(p, NULL, e);
	spec_forget(p);
	return 0;
}

int spec_ingest(struct pipeline *p, const void *data, size_t len, const char *source,
                enum pipeline_outcome *outcome, struct err *e)
{
	struct speculation *sp = &p->spec;
	struct spec_input *in = &sp->in[sp->n++];
	uint64_t seq = ++sp->seq;
	*in = (struct spec_input){.seq = seq,
	                          .data = xmalloc(len),
	                          .len = len,
	                          .source = source ? xstrdup(source) : NULL,
	                          .st = p->st,
	                          .n_batch_ok = p->n_batch_ok};
	memcpy(in->data, data, len);
	sp->ahead++;

	char sql[48];
	snprintf(sql, sizeof sql, "SAVEPOINT ds_s%" PRIu64, seq);
	db_lazy_allow(p->db, seq);
	sp->in_input = true;
	int rc = db_lazy_send(p->db, sql, 0, NULL, NULL, NULL, NULL, e);
	if (rc == 0)
		rc = pipeline_ingest_one(p, data, len, source, outcome, e);
	sp->in_input = false;
	db_lazy_allow(p->db, 0);
	if (db_lazy_failed(p->db))
		return recover(p, outcome, e);
	if (rc != 0)
		return -1;
	/* Still waiting for answers, unless a commit inside settled it. */
	if (sp->n > 0 && sp->in[sp->n - 1].seq == seq) {
		sp->in[sp->n - 1].ended = true;
		sp->in[sp->n - 1].told = *outcome;
	}
	sp->streak = *outcome == PIPE_INGESTED ? sp->streak + 1 : 0;
	if (sp->n > SPEC_MAX) {
		db_lazy_settle(p->db, sp->in[0].seq);
		if (db_lazy_failed(p->db))
			return recover(p, NULL, e);
		drop_first(sp, 1);
	}
	return 0;
}
