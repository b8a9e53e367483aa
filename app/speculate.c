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
 * pipeline_take_corrections). Then the streak starts again from nothing.
 *
 * Duplicates the other way round: after a duplicate, the next small input
 * is taken for one too — its raw statement is sent lazily and it is
 * counted as a duplicate without waiting, so one input's look-up overlaps
 * the reading of the next. One whose answer says otherwise (new bytes, or
 * bytes not processed yet) has its count taken back and is stored the
 * usual way as soon as the answer is read; the look-up stored its bytes
 * already, as the usual way does.
 */
#include "app/pipeline_int.h"

#include "core/xalloc.h"
#include "db/store.h"
#include "ingest/sha256.h"

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

void pipeline_speculated(const struct pipeline *p, uint64_t *ahead, uint64_t *again,
                         uint64_t *dup_ahead, uint64_t *dup_new)
{
	*ahead = p->spec.ahead;
	*again = p->spec.again;
	*dup_ahead = p->spec.dup_ahead;
	*dup_new = p->spec.dup_new;
}

void spec_count(struct pipeline *p, enum pipeline_outcome outcome)
{
	p->spec.streak = outcome == PIPE_INGESTED ? p->spec.streak + 1 : 0;
	p->spec.dups = outcome == PIPE_DUPLICATE ? p->spec.dups + 1 : 0;
}

bool spec_wanted(const struct pipeline *p, size_t len)
{
	const struct speculation *sp = &p->spec;
	return sp->wanted && !sp->redoing && !sp->in_input && !p->opts.reprocess &&
	       db_in_batch(p->db) && len > 0 && len <= STORE_RAW_PUT_SEEN_MAX &&
	       sp->streak >= SPEC_STREAK && sp->ndup == 0;
}

bool spec_dup_wanted(const struct pipeline *p, size_t len)
{
	const struct speculation *sp = &p->spec;
	return sp->wanted && !sp->redoing && !sp->in_input && !p->opts.reprocess &&
	       db_in_batch(p->db) && len > 0 && len <= STORE_RAW_PUT_SEEN_MAX && sp->dups >= 1 &&
	       sp->n == 0;
}

/* The first k of the n inputs in `in`, freed and taken out. */
static void drop(struct spec_input *in, size_t *n, size_t k)
{
	for (size_t i = 0; i < k; i++) {
		free(in[i].data);
		free(in[i].source);
	}
	memmove(in, in + k, (*n - k) * sizeof *in);
	*n -= k;
}

void spec_forget(struct pipeline *p)
{
	drop(p->spec.in, &p->spec.n, p->spec.n);
	drop(p->spec.dup, &p->spec.ndup, p->spec.ndup);
}

/* A duplicate taken ahead: its answer, once read, kept with it. */
static void take_answer(struct pipeline *p, struct spec_input *in)
{
	if (in->answered)
		return;
	in->answered = true;
	in->refused = db_lazy_take_refused(p->db, in->seq);
}

/* The answers of the duplicates taken ahead up to input `upto`, read; any
 * that was not a duplicate is stored now, the usual way. All answers are
 * read before that, since storing may end the batch and swap connections
 * (app/pipeline.c), and the answers are the connection's. */
static int dup_resolve(struct pipeline *p, uint64_t upto, struct err *e)
{
	struct speculation *sp = &p->spec;
	bool late = false;
	db_lazy_settle(p->db, upto);
	for (size_t i = 0; i < sp->ndup && sp->dup[i].seq <= upto; i++) {
		take_answer(p, &sp->dup[i]);
		late = late || sp->dup[i].refused;
	}
	if (late) {
		db_lazy_settle(p->db, UINT64_MAX);
		for (size_t i = 0; i < sp->ndup; i++)
			take_answer(p, &sp->dup[i]);
	}
	size_t k = 0;
	int rc = 0;
	sp->redoing = true;
	for (; k < sp->ndup && sp->dup[k].seq <= upto && rc == 0; k++) {
		struct spec_input *in = &sp->dup[k];
		if (!in->refused)
			continue;
		enum pipeline_outcome o = PIPE_QUARANTINED;
		p->st.inputs--;
		p->st.duplicates--;
		sp->corr[PIPE_DUPLICATE]--;
		sp->dup_new++;
		sp->dups = sp->streak = 0;
		rc = pipeline_ingest_one(p, in->data, in->len, in->source, &o, e);
		if (rc == 0)
			sp->corr[o]++;
	}
	sp->redoing = false;
	drop(sp->dup, &sp->ndup, rc == 0 ? k : sp->ndup);
	return rc;
}

int spec_dup(struct pipeline *p, const void *data, size_t len, const char *source,
             enum pipeline_outcome *outcome, struct err *e)
{
	struct speculation *sp = &p->spec;
	char sha[65];
	sha256_hex(data, len, sha);
	p->st.inputs++;
	p->st.duplicates++;
	p->last_reason[0] = '\0';
	p->domain[0] = '\0';
	*outcome = PIPE_DUPLICATE;
	if (pipeline_batch_has_ok(p, sha))
		return 0;
	struct spec_input *in = &sp->dup[sp->ndup++];
	*in = (struct spec_input){.seq = ++sp->seq,
	                          .data = xmalloc(len),
	                          .len = len,
	                          .source = source ? xstrdup(source) : NULL,
	                          .told = PIPE_DUPLICATE,
	                          .ended = true};
	memcpy(in->data, data, len);
	sp->dup_ahead++;
	db_lazy_allow(p->db, in->seq);
	int rc = store_raw_put_seen_ahead(p->db, sha, data, len, source, true, e);
	db_lazy_allow(p->db, 0);
	if (rc != 0)
		return -1;
	return sp->ndup > SPEC_MAX ? dup_resolve(p, sp->dup[0].seq, e) : 0;
}

/* The savepoint input `seq` is stored in (ds_s<n>). */
static void savepoint_name(char *out, size_t n, uint64_t seq)
{
	snprintf(out, n, "ds_s%" PRIu64, seq);
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
	char name[32], sql[128];
	savepoint_name(name, sizeof name, sp->in[i].seq);
	snprintf(sql, sizeof sql, "ROLLBACK TO SAVEPOINT %s; RELEASE SAVEPOINT %s", name, name);
	if (db_exec(p->db, sql, e) != 0) {
		spec_forget(p);
		return -1;
	}
	db_batch_chain_cut(p->db, name);
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
	if (sp->redoing) {
		db_lazy_settle(p->db, UINT64_MAX);
		return 0; /* nothing lazy since the recovery began */
	}
	if (sp->ndup > 0 && dup_resolve(p, UINT64_MAX, e) != 0)
		return -1;
	db_lazy_settle(p->db, UINT64_MAX);
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

	char name[32], sql[48];
	savepoint_name(name, sizeof name, seq);
	snprintf(sql, sizeof sql, "SAVEPOINT %s", name);
	db_lazy_allow(p->db, seq);
	sp->in_input = true;
	int rc = db_lazy_send(p->db, sql, 0, NULL, NULL, NULL, NULL, e);
	if (rc == 0) {
		db_batch_chain_note(p->db, name);
		rc = pipeline_ingest_one(p, data, len, source, outcome, e);
	}
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
	spec_count(p, *outcome);
	if (sp->n > SPEC_MAX) {
		db_lazy_settle(p->db, sp->in[0].seq);
		if (db_lazy_failed(p->db))
			return recover(p, NULL, e);
		drop(sp->in, &sp->n, 1);
	}
	return 0;
}
