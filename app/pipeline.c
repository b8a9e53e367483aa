#include "app/pipeline.h"

#include "app/pipeline_int.h"
#include "app/raw_aside.h"
#include "app/tls_ingest.h"
#include "core/bclass.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "db/bounce_store.h"
#include "db/db.h"
#include "db/ruf_store.h"
#include "db/store.h"
#include "ingest/aggr.h"
#include "ingest/bounce.h"
#include "ingest/mime.h"
#include "ingest/route.h"
#include "ingest/ruf.h"
#include "ingest/sha256.h"
#include "ingest/unpack.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The bytes of one part: in memory, or a regular file read block by block. */
struct part_bytes {
	const void *data;
	size_t len;
	int fd; /* >= 0: read from this file instead of data/len */
};

/* State of one report part while it streams from the unpacker into the
 * store: one pass at a time (strict, then maybe recover; aggr_parse_twice). */
struct part_run {
	struct pipeline *p;
	const char *sha256;
	const struct part_bytes *pb;
	bool recover;
	const char *complaint; /* the strict parse's error, kept on a recovered report */
	struct unpack *u;
	struct store_tx *tx;
	enum store_outcome how;
	bool mismatch; /* a pinned tenant lost to the domain's owner (or strict refused) */
};

/* Per-input counters, folded into the run's stats only when the input ends
 * the way they describe (a report counted once its transaction commits). */
struct input_run {
	struct pipeline *p;
	const char *sha256;
	const char *source;
	uint64_t reports, records, messages, duplicates, replaced, recovered, skipped;
	uint64_t tls_reports, failure_reports;
	uint64_t parts_failed;
	struct err first_failure;
};

int pipeline_new(struct pipeline **out, struct db *db, const struct pipeline_opts *opts)
{
	struct pipeline *p = xcalloc(1, sizeof *p);
	p->db = db;
	if (opts)
		p->opts = *opts;
	unpack_limits_default(&p->ulim);
	aggr_limits_default(&p->alim);
	mime_init();
	*out = p;
	return 0;
}

void pipeline_free(struct pipeline *p)
{
	if (p) {
		spec_forget(p);
		free(p->batch_ok);
	}
	free(p);
}

const struct pipeline_stats *pipeline_stats(const struct pipeline *p)
{
	return &p->st;
}

const char *pipeline_last_reason(const struct pipeline *p)
{
	return p->last_reason;
}

static int on_header(void *ctx, const struct aggr_report *r, struct err *e)
{
	struct part_run *run = ctx;
	snprintf(run->p->domain, sizeof run->p->domain, "%s",
	         r->policy.domain ? r->policy.domain : "");
	struct store_pin pin = {.tenant = run->p->opts.tenant_override,
	                        .strict = run->p->opts.pinned_strict};
	int rc =
	    store_report_begin_pinned(&run->tx, run->p->db, r, run->sha256,
	                              pin.tenant ? &pin : NULL, run->recover, run->complaint, e);
	if (pin.mismatch && !run->mismatch) {
		run->mismatch = true;
		run->p->st.mismatched++;
		if (rc == 0)
			log_warn(
			    "report for %s: pinned to tenant %s, but tenant %s owns that domain; "
			    "stored under %s",
			    r->policy.domain, pin.tenant, pin.owner, pin.owner);
	}
	if (rc != 0)
		return -1;
	/* A stored identity is no reason to stop: the commit compares this
	 * copy's records with the stored ones (store.h). */
	return 0;
}

static int on_record(void *ctx, const struct aggr_record *rec, struct err *e)
{
	struct part_run *run = ctx;
	return store_report_record(run->tx, rec, e);
}

static ssize_t read_unpacked(void *ctx, void *buf, size_t n, struct err *e)
{
	return unpack_read(ctx, buf, n, e);
}

static int open_part(struct unpack **u, const struct pipeline *p, const struct part_bytes *pb,
                     struct err *e)
{
	return pb->fd >= 0 ? unpack_open_fd(u, pb->fd, &p->ulim, e)
	                   : unpack_open(u, pb->data, pb->len, &p->ulim, e);
}

/* aggr_parse_twice's passes: each reads the part from its first byte into
 * a transaction of its own, committed when the parser accepted the pass. */
static int pass_open(void *ctx, const struct aggr_pass *pass, aggr_read_fn *rd, void **rdctx,
                     struct err *e)
{
	struct part_run *run = ctx;
	run->recover = pass->recover;
	run->complaint = pass->strict_error;
	run->tx = NULL;
	run->how = STORE_DUPLICATE;
	if (open_part(&run->u, run->p, run->pb, e) != 0)
		return -1;
	*rd = read_unpacked;
	*rdctx = run->u;
	return 0;
}

static int pass_accept(void *ctx, const struct aggr_pass *pass, struct aggr_result *res,
                       struct err *e)
{
	struct part_run *run = ctx;
	/* Deviations kept by the parser are known only now, and the note goes
	 * in before the commit: the commit's replace rule (db/store_report.c)
	 * judges this copy by its final recovered state. In recover mode the
	 * recover parse's own complaint names the problem best. */
	if (run->tx && (pass->recover || res->recovered))
		store_report_note(run->tx, true,
		                  res->complaint[0] ? res->complaint : pass->strict_error);
	if (!run->tx)
		return 0;
	struct store_tx *tx = run->tx;
	run->tx = NULL; /* commit frees the transaction either way */
	return store_report_commit(tx, &run->how, e);
}

static void pass_close(void *ctx, bool ok)
{
	struct part_run *run = ctx;
	(void)ok;
	if (run->tx)
		store_report_abort(run->tx);
	run->tx = NULL;
	unpack_free(run->u);
	run->u = NULL;
}

/* The pin of this run (mailbox or --tenant), NULL when there is none. */
static struct store_pin *pin_of(const struct pipeline *p, struct store_pin *pin)
{
	memset(pin, 0, sizeof *pin);
	pin->tenant = p->opts.tenant_override;
	pin->strict = p->opts.pinned_strict;
	return pin->tenant ? pin : NULL;
}

/* A TLS or failure report the pin contradicted: counted and, when it was
 * stored under the owner, said (as for aggregate reports, on_header). */
static void pin_checked(struct input_run *in, const struct store_pin *pin, const char *what,
                        bool stored)
{
	if (!pin->mismatch)
		return;
	in->p->st.mismatched++;
	if (stored)
		log_warn("%s for a domain of tenant %s: pinned to tenant %s; stored under %s", what,
		         pin->owner, pin->tenant, pin->owner);
}

/* An SMTP TLS report (JSON, plain or gzip): parsed and stored whole. */
static int process_tls(struct input_run *in, struct unpack *u, struct err *e)
{
	struct tls_ingest_result res;
	struct store_pin pin;
	/* Not a report's fast path: the sent batch goes first (db.h). */
	if (db_settle_peer(in->p->db, e) != 0)
		return -1;
	int rc = tls_ingest(in->p->db, u, in->sha256, pin_of(in->p, &pin), &res, e);
	pin_checked(in, &pin, "TLS report", rc == 0);
	if (rc != 0)
		return -1;
	if (res.recovered)
		log_info("%s: kept a TLS report with deviations: %s", in->source, res.complaint);
	in->tls_reports += res.stored;
	in->duplicates += res.duplicates;
	in->recovered += res.recovered && res.stored ? 1 : 0;
	return 0;
}

/* A part: what the unpacked document is decides its reader. An aggregate
 * report gets a strict parse and, on an XML error, one more try in recover
 * mode. */
static int process_part(struct input_run *in, const struct part_bytes *pb, struct err *e)
{
	struct aggr_result res;
	struct unpack *u = NULL;

	if (open_part(&u, in->p, pb, e) != 0)
		return -1;
	if (unpack_document(u) == UNPACK_JSON) {
		int rc = process_tls(in, u, e);
		unpack_free(u);
		return rc;
	}
	unpack_free(u);

	struct part_run run = {.p = in->p, .sha256 = in->sha256, .pb = pb};
	struct aggr_handler h = {.header = on_header, .record = on_record, .ctx = &run};
	struct aggr_doc doc = {
	    .open = pass_open, .accept = pass_accept, .close = pass_close, .ctx = &run};
	if (aggr_parse_twice(&doc, &in->p->alim, &h, &res, e) != 0)
		return -1;
	if (res.salvaged)
		log_info("%s: recovered a malformed report: %s", in->source, res.strict_error);
	switch (run.how) {
	case STORE_DUPLICATE:
	case STORE_CONFLICT:
		in->duplicates++;
		return 0;
	case STORE_REPLACED:
		log_info("%s: replaced a less complete stored copy of the report", in->source);
		in->replaced++;
		break;
	case STORE_ADDED:
		in->reports++;
		break;
	}
	/* A report stored (added or replacing a copy) with a complaint counts
	 * as recovered, whether recover mode salvaged it or the strict parse
	 * kept deviations; a duplicate changed nothing and counts as neither. */
	if (res.salvaged || res.recovered) {
		if (!res.salvaged)
			log_info("%s: kept a report with deviations: %s", in->source,
			         res.complaint);
		in->recovered++;
	}
	in->skipped += res.skipped;
	in->records += res.records;
	in->messages += res.messages;
	return 0;
}

static int on_mime_part(void *ctx, const struct mime_part *part, struct err *e)
{
	struct input_run *in = ctx;
	struct err perr = {0};
	struct part_bytes pb = {.data = part->data, .len = part->len, .fd = -1};
	if (process_part(in, &pb, &perr) == 0)
		return 0;
	if (perr.kind == ERR_RETRY) {
		*e = perr;
		return -1;
	}
	/* One bad attachment does not hide the good ones beside it. */
	in->parts_failed++;
	if (in->first_failure.kind == ERR_NONE) {
		in->first_failure = perr;
		if (part->filename) {
			snprintf(in->first_failure.msg, sizeof in->first_failure.msg,
			         "attachment '%.80s': %.400s", part->filename, perr.msg);
		}
	}
	return 0;
}

static int quarantine(struct pipeline *p, const char *sha, const char *source,
                      const struct err *why, struct err *e)
{
	const char *stage = why->stage[0] ? why->stage : err_stage_name(ERR_STAGE_STORE);
	snprintf(p->last_reason, sizeof p->last_reason, "%s: %s", stage, why->msg);
	if (db_settle_peer(p->db, e) != 0)
		return -1;
	if (store_failure_add(p->db, sha, source, stage, why->msg, p->domain,
	                      p->opts.tenant_override, e) != 0)
		return -1;
	p->st.quarantined++;
	log_info("%s: quarantined at stage %s: %s", source, stage, why->msg);
	return 0;
}

struct dsn_run {
	struct bounce_store *store;
	uint64_t events;
};

static int on_bounce_event(void *ctx, const struct bounce_event *ev, struct err *e)
{
	struct dsn_run *run = ctx;
	struct bounce_verdict v;
	bounce_classify_event(bclass_default(), NULL, ev, &v);
	run->events++;
	return bounce_store_add(run->store, ev, &v, e);
}

/* A delivery-status notification goes to the bounce store: one event per
 * recipient, classified, in one transaction (re-sent DSNs add nothing). */
static int ingest_dsn(struct pipeline *p, const void *data, size_t len, struct err *perr)
{
	struct dsn_run run = {0};
	struct bounce_parser *bp = NULL;
	struct bounce_store_stats bst = {0};
	int rc = -1;

	if (bounce_store_begin(&run.store, p->db, p->opts.tenant_override, perr) != 0)
		goto out;
	if (bounce_parser_new(&bp, BOUNCE_FMT_DSN, (int64_t)time(NULL), on_bounce_event, &run,
	                      perr) != 0 ||
	    (bounce_parser_set_hosts(bp, p->opts.hosts), 0) ||
	    bounce_parser_feed(bp, data, len, perr) != 0 || bounce_parser_finish(bp, perr) != 0)
		goto out;
	if (run.events == 0) {
		err_stage(perr, ERR_STAGE_MIME, ERR_INPUT,
		          "delivery-status notification without a per-recipient status");
		goto out;
	}
	if (bounce_store_commit(run.store, &bst, perr) != 0) {
		run.store = NULL; /* commit frees the handle either way */
		goto out;
	}
	run.store = NULL;
	p->st.bounce_events += bst.added;
	rc = 0;
out:
	if (run.store)
		bounce_store_abort(run.store);
	bounce_parser_free(bp);
	err_set_stage_if_empty(perr, ERR_STAGE_STORE);
	return rc;
}

/* A DMARC failure report: parsed (headers only unless keep_body) and stored
 * in the tenant of its reported domain. */
static int ingest_ruf(struct input_run *in, const void *data, size_t len, struct err *perr)
{
	struct ruf_report *r = NULL;
	bool dup = false;
	if (ruf_parse(data, len, &in->p->opts.ruf, &r, perr) != 0)
		return -1;
	struct store_pin pin;
	if (db_settle_peer(in->p->db, perr) != 0)
		return -1;
	int rc = ruf_store_add(in->p->db, r, in->sha256, pin_of(in->p, &pin), &dup, perr);
	pin_checked(in, &pin, "failure report", rc == 0);
	if (rc == 0) {
		if (r->recovered)
			log_info("%s: kept a failure report with deviations: %s", in->source,
			         r->complaint);
		in->failure_reports += dup ? 0 : 1;
		in->duplicates += dup ? 1 : 0;
	}
	ruf_free(r);
	return rc;
}

bool pipeline_batch_has_ok(const struct pipeline *p, const char *sha)
{
	for (size_t i = 0; i < p->n_batch_ok; i++)
		if (memcmp(p->batch_ok[i], sha, 64) == 0)
			return true;
	return false;
}

/* Before anything is parsed: bytes processed before are a duplicate (unless
 * reprocessing); bytes not stored yet are kept now, so that whatever happens
 * next the input can be re-processed. A small input is stored and looked up
 * in one statement; a larger one is looked up first (a duplicate's bytes are
 * not sent). */
static int raw_first(struct pipeline *p, const char *sha, const void *data, size_t len,
                     const char *source, bool *dup, struct err *e)
{
	bool known = false, done = false;
	*dup = false;
	if (!p->opts.reprocess && pipeline_batch_has_ok(p, sha)) {
		p->st.duplicates++;
		*dup = true;
		return 0;
	}
	/* A small input goes with its look-up: one round trip instead of two
	 * (a duplicate costs its bytes on the wire, a few KiB). */
	bool small = len <= STORE_RAW_PUT_SEEN_MAX;
	if ((small ? store_raw_put_seen(p->db, sha, data, len, source, &known, &done, e)
	           : store_raw_lookup(p->db, sha, &known, &done, e)) != 0)
		return -1;
	if (done && !p->opts.reprocess) {
		p->st.duplicates++;
		*dup = true;
		return 0;
	}
	return known || small ? 0 : store_raw_put(p->db, sha, data, len, source, NULL, e);
}

/* Work that needs a transaction of its own commits the batch it would sit
 * in first and opens the next one after: the bounce store's staging tables
 * live for one transaction, and a large file's raw bytes go by one COPY
 * whose key clash (another process stored the same bytes at the same
 * moment: "already known") would otherwise abort the whole batch. */
static int unbatch(struct pipeline *p, bool *was, struct err *e)
{
	*was = db_in_batch(p->db);
	if (*was && pipeline_batch_commit(p, e) != 0)
		return -1;
	return pipeline_batch_settle(p, e);
}

static int rebatch(struct pipeline *p, bool was, struct err *e)
{
	return was ? pipeline_batch_begin(p, e) : 0;
}

int pipeline_batch_begin(struct pipeline *p, struct err *e)
{
	p->st_batch = p->st;
	if (db_batch_begin(p->db, e) != 0)
		return -1;
	if (store_report_batch_open(p->db, e) != 0) {
		db_batch_rollback(p->db);
		return -1;
	}
	return 0;
}

/* After a failure, with no batch open any more: the sent batch settles,
 * and the counts go back to where nothing after the last commit that held
 * is counted. */
static void take_back(struct pipeline *p)
{
	spec_forget(p);
	p->lost_flight = false;
	if (p->flight) {
		struct err ignored = {0};
		p->flight = false;
		if (db_batch_settle(p->spare, NULL, &ignored) != 0 || db_batch_failed(p->spare)) {
			p->st = p->st_flight;
			p->lost_flight = true;
			return;
		}
	}
	p->st = p->st_batch;
}

/* The batch's end, sent on its connection without waiting; the
 * connections swap. */
static int send_batch(struct pipeline *p, const char **shas, struct err *e)
{
	struct db *db = p->db;
	if (db_batch_send_open(db, e) != 0 || db_batch_chain_release(db, e) != 0 ||
	    store_raw_finish_many_send(db, shas, p->n_batch_ok, "ok", e) != 0 ||
	    store_report_batch_flush_send(db, e) != 0 || db_batch_send_commit(db, e) != 0)
		return -1;
	p->st_flight = p->st_batch;
	p->flight = true;
	p->db = p->spare;
	p->spare = db;
	return 0;
}

/* The batch's end on its one connection, waiting for it. */
static int end_batch(struct pipeline *p, const char **shas, struct err *e)
{
	if (db_batch_chain_release(p->db, e) != 0 ||
	    store_raw_finish_many(p->db, shas, p->n_batch_ok, "ok", e) != 0 ||
	    store_report_batch_flush(p->db, e) != 0 || db_batch_commit(p->db, e) != 0)
		return -1;
	return 0;
}

int pipeline_batch_commit(struct pipeline *p, struct err *e)
{
	if (!db_in_batch(p->db))
		return 0;
	/* Inputs stored lazily are answered (and stored again if need be);
	 * inside an input, a failure is that input's (speculate.c). */
	if (spec_settle(p, e) != 0) {
		if (!p->spec.in_input) {
			p->n_batch_ok = 0;
			db_batch_rollback(p->db);
			take_back(p);
		}
		return -1;
	}
	/* The batch before this one first: this one may only commit after it. */
	if (p->flight) {
		int rc = db_batch_settle(p->spare, p->db, e);
		if (rc == -2)
			err_stage(
			    e, ERR_STAGE_STORE, ERR_RETRY,
			    "the previous batch waits, through another transaction, on this one");
		if (rc != 0 || db_batch_failed(p->spare)) {
			if (rc == 0)
				err_stage(e, ERR_STAGE_STORE, ERR_RETRY,
				          "the previous batch did not commit");
			p->n_batch_ok = 0;
			db_batch_rollback(p->db);
			take_back(p);
			return -1;
		}
		p->flight = false;
	}
	const char **shas = xcalloc(p->n_batch_ok + 1, sizeof *shas);
	for (size_t i = 0; i < p->n_batch_ok; i++)
		shas[i] = p->batch_ok[i];
	int rc = p->spare ? send_batch(p, shas, e) : end_batch(p, shas, e);
	free(shas);
	p->n_batch_ok = 0;
	if (rc != 0) {
		db_batch_rollback(p->db);
		take_back(p);
		return -1;
	}
	p->st_batch = p->st;
	return 0;
}

int pipeline_batch_settle(struct pipeline *p, struct err *e)
{
	if (!p->flight)
		return 0;
	p->flight = false;
	if (db_batch_settle(p->spare, NULL, e) != 0 || db_batch_failed(p->spare)) {
		if (e->kind == ERR_NONE)
			err_stage(e, ERR_STAGE_STORE, ERR_RETRY, "a batch did not commit");
		p->st = p->st_flight;
		p->lost_flight = true;
		return -1;
	}
	return 0;
}

bool pipeline_batch_in_flight(const struct pipeline *p)
{
	return p->flight;
}

bool pipeline_batch_lost_flight(const struct pipeline *p)
{
	return p->lost_flight;
}

void pipeline_batch_abort(struct pipeline *p)
{
	p->n_batch_ok = 0;
	spec_forget(p);
	db_lazy_reset(p->db);
	if (!db_in_batch(p->db) && !p->flight)
		return;
	db_batch_rollback(p->db);
	take_back(p);
}

void pipeline_set_spare(struct pipeline *p, struct db *spare)
{
	p->spare = spare;
	db_set_peer(p->db, spare);
	db_set_peer(spare, p->db);
}

/* An input of the open batch ended well: its status waits for the commit. */
static void batch_ok_add(struct pipeline *p, const char *sha)
{
	if (p->n_batch_ok == p->cap_batch_ok) {
		p->cap_batch_ok = p->cap_batch_ok ? 2 * p->cap_batch_ok : 256;
		p->batch_ok = xrealloc(p->batch_ok, p->cap_batch_ok * sizeof *p->batch_ok);
	}
	memcpy(p->batch_ok[p->n_batch_ok++], sha, 65);
}

/* Folds one input's counters into the run and records how it ended. */
static int finish_input(struct pipeline *p, struct input_run *in, struct err *perr,
                        enum pipeline_outcome *outcome, struct err *e)
{
	/* Whatever the failure looked like, with the connection gone it says
	 * nothing about the input: never quarantined for that. */
	if (perr->kind != ERR_NONE && perr->kind != ERR_RETRY && db_lost(p->db)) {
		perr->kind = ERR_RETRY;
		if (strncmp(perr->msg, "database unreachable: ", 22) != 0) {
			char msg[sizeof perr->msg];
			snprintf(msg, sizeof msg, "database unreachable: %.480s", perr->msg);
			memcpy(perr->msg, msg, sizeof msg);
		}
	}
	if (perr->kind == ERR_RETRY) {
		*e = *perr;
		return -1;
	}
	p->st.reports += in->reports;
	p->st.records += in->records;
	p->st.messages += in->messages;
	p->st.duplicates += in->duplicates;
	p->st.replaced += in->replaced;
	p->st.recovered += in->recovered;
	p->st.records_skipped += in->skipped;
	p->st.tls_reports += in->tls_reports;
	p->st.failure_reports += in->failure_reports;
	if (perr->kind != ERR_NONE) {
		if (quarantine(p, in->sha256, in->source, perr, e) != 0)
			return -1;
		*outcome = PIPE_QUARANTINED;
		return 0;
	}
	if (db_in_batch(p->db))
		batch_ok_add(p, in->sha256);
	else if (store_raw_finish(p->db, in->sha256, "ok", e) != 0)
		return -1;
	*outcome = in->reports + in->replaced + in->tls_reports + in->failure_reports == 0 &&
	                   in->duplicates > 0
	               ? PIPE_DUPLICATE
	               : PIPE_INGESTED;
	return 0;
}

/* ingest_dsn, outside any batch (unbatch); *stored: the bounce store took it. */
static int dsn_outside_batch(struct pipeline *p, const void *data, size_t len, bool *stored,
                             struct err *perr, struct err *e)
{
	bool batched = false;
	if (unbatch(p, &batched, e) != 0)
		return -1;
	*stored = ingest_dsn(p, data, len, perr) == 0;
	return rebatch(p, batched, e);
}

int pipeline_ingest(struct pipeline *p, const void *data, size_t len, const char *source,
                    enum pipeline_outcome *outcome, struct err *e)
{
	if (spec_wanted(p, len))
		return spec_ingest(p, data, len, source, outcome, e);
	if (spec_dup_wanted(p, len))
		return spec_dup(p, data, len, source, outcome, e);
	/* Whatever was sent lazily is answered before this input goes on. */
	if (spec_settle(p, e) != 0 || pipeline_ingest_one(p, data, len, source, outcome, e) != 0)
		return -1;
	spec_count(p, *outcome);
	return 0;
}

int pipeline_ingest_one(struct pipeline *p, const void *data, size_t len, const char *source,
                        enum pipeline_outcome *outcome, struct err *e)
{
	char sha[65];
	bool dup = false, stored = false;
	struct input_run in = {.p = p, .sha256 = sha, .source = source};
	struct err perr = {0};

	p->st.inputs++;
	p->last_reason[0] = '\0';
	p->domain[0] = '\0';
	sha256_hex(data, len, sha);
	if (raw_first(p, sha, data, len, source, &dup, e) != 0)
		return -1;
	if (dup) {
		*outcome = PIPE_DUPLICATE;
		return 0;
	}

	if (len == 0) {
		err_stage(&perr, ERR_STAGE_UNPACK, ERR_INPUT, "empty input (0 bytes)");
	} else if (mime_looks_like_message(data, len)) {
		/* Parsed once: routing and extraction read the same tree. */
		struct err why = {0};
		struct mime_msg *mm = mime_msg_parse(data, len, &why);
		enum route_kind kind = route_message_parsed(mm, data, len);
		switch (kind) {
		case ROUTE_BOUNCE:
		case ROUTE_COMPLAINT:
		case ROUTE_AUTO_REPLY:
			/* The bounce store's: its reader, the one that recognised
			 * them, classifies what they are. */
			if (dsn_outside_batch(p, data, len, &stored, &perr, e) != 0) {
				mime_msg_free(mm);
				return -1;
			}
			if (stored) {
				mime_msg_free(mm);
				if (store_raw_finish(p->db, sha, "dsn", e) != 0)
					return -1;
				p->st.dsn += kind == ROUTE_BOUNCE;
				p->st.complaints += kind == ROUTE_COMPLAINT;
				p->st.auto_replies += kind == ROUTE_AUTO_REPLY;
				*outcome = PIPE_DSN;
				return 0;
			}
			if (kind != ROUTE_BOUNCE && perr.kind == ERR_INPUT) {
				char msg[sizeof perr.msg + 64];
				snprintf(msg, sizeof msg, "%s: %s", route_kind_name(kind),
				         perr.msg);
				snprintf(perr.msg, sizeof perr.msg, "%.*s",
				         (int)sizeof perr.msg - 1, msg);
			}
			break;
		case ROUTE_FAILURE:
			ingest_ruf(&in, data, len, &perr);
			break;
		case ROUTE_OTHER:
		case ROUTE_REPORTS: {
			size_t nparts = 0;
			/* Unparseable: the parse's own words (what mime_extract says). */
			if (!mm)
				perr = why;
			else if (mime_msg_extract(mm, on_mime_part, &in, &nparts, &perr) == 0 &&
			         in.parts_failed > 0)
				perr = in.first_failure;
			p->st.other += kind == ROUTE_OTHER && perr.kind == ERR_INPUT;
			break;
		}
		}
		mime_msg_free(mm);
	} else {
		struct part_bytes pb = {.data = data, .len = len, .fd = -1};
		process_part(&in, &pb, &perr);
	}
	return finish_input(p, &in, &perr, outcome, e);
}

int pipeline_quarantine(struct pipeline *p, const void *data, size_t len, const char *source,
                        enum err_stage_id stage, const char *reason, struct err *e)
{
	char sha[65];
	struct err why = {0};
	if (spec_settle(p, e) != 0)
		return -1;
	p->st.inputs++;
	p->last_reason[0] = '\0';
	p->domain[0] = '\0';
	sha256_hex(data, len, sha);
	if (store_raw_put(p->db, sha, data, len, source, NULL, e) != 0)
		return -1;
	err_stage(&why, stage, ERR_INPUT, "%s", reason);
	return quarantine(p, sha, source, &why, e);
}

static int sha256_fd(int fd, char out[65], struct err *e)
{
	unsigned char buf[1 << 16];
	struct sha256 *h = NULL;
	off_t off = 0;
	ssize_t n;
	sha256_new(&h);
	while ((n = pread(fd, buf, sizeof buf, off)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			sha256_free(h);
			return err_stage(e, ERR_STAGE_UNPACK, ERR_INPUT, "cannot read input: %s",
			                 strerror(errno));
		}
		sha256_update(h, buf, (size_t)n);
		off += n;
	}
	sha256_final(h, out);
	sha256_free(h);
	return 0;
}

static int ingest_fd(struct pipeline *p, int fd, const char *source, enum pipeline_outcome *outcome,
                     struct err *e)
{
	char sha[65];
	bool known = false, dup = false;
	struct input_run in = {.p = p, .sha256 = sha, .source = source};
	struct err perr = {0};
	struct stat st;

	p->st.inputs++;
	p->last_reason[0] = '\0';
	p->domain[0] = '\0';
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		return err_set(e, ERR_INTERNAL, "%s: not a regular file", source);
	if (sha256_fd(fd, sha, e) != 0)
		return -1;
	/* A big file's bytes go on the spare connection, off the records' path (raw_aside.h). */
	struct raw_aside aside;
	if (raw_aside_begin(&aside, p->db, p->spare, sha, fd, (uint64_t)st.st_size, source, &known,
	                    e) != 0)
		return -1;
	if (known && !p->opts.reprocess) {
		if (store_raw_is_done(p->db, sha, &dup, e) != 0)
			return -1;
		p->st.duplicates += dup;
	}
	if (dup) {
		*outcome = PIPE_DUPLICATE;
		return 0;
	}
	struct part_bytes pb = {.fd = fd};
	process_part(&in, &pb, &perr);
	if (raw_aside_end(&aside, p->db, e) != 0)
		return -1;
	return finish_input(p, &in, &perr, outcome, e);
}

int pipeline_ingest_fd(struct pipeline *p, int fd, const char *source,
                       enum pipeline_outcome *outcome, struct err *e)
{
	if (spec_settle(p, e) != 0)
		return -1;
	bool batched = false;
	if (unbatch(p, &batched, e) != 0)
		return -1;
	if (ingest_fd(p, fd, source, outcome, e) != 0)
		return -1;
	return rebatch(p, batched, e);
}
