/*
 * lazy: statements sent in pipeline mode and answered later (db.h).
 *
 * Each statement goes with a sync of its own: after a failure the server
 * skips to the next sync, and the statements after it then fail on the
 * aborted transaction, so every input from the first failure on is
 * recorded as failed by the order alone. Nothing here reports an error:
 * the caller stores those inputs again, one answer at a time, and the
 * error then comes with its own words.
 */
#include "db/db.h"
#include "db/db_int.h"

#include <string.h>

void db_lazy_allow(struct db *db, uint64_t input)
{
	db->lazy.input = input;
}

bool db_lazy_on(const struct db *db)
{
	return db->lazy.input != 0 && db->batch && !db->sending && !db->sent;
}

uint64_t db_lazy_failed(const struct db *db)
{
	uint64_t first = 0;
	for (size_t i = 0; i < db->lazy.nrefused; i++)
		if (first == 0 || db->lazy.refused[i] < first)
			first = db->lazy.refused[i];
	return first;
}

size_t db_lazy_unread(const struct db *db)
{
	return db->lazy.n - db->lazy.read;
}

static void fail(struct lazy *l, uint64_t input)
{
	for (size_t i = 0; i < l->nrefused; i++)
		if (l->refused[i] == input)
			return;
	if (l->nrefused < DB_LAZY_MAX)
		l->refused[l->nrefused++] = input;
}

bool db_lazy_take_refused(struct db *db, uint64_t input)
{
	struct lazy *l = &db->lazy;
	for (size_t i = 0; i < l->nrefused; i++)
		if (l->refused[i] == input) {
			l->refused[i] = l->refused[--l->nrefused];
			return true;
		}
	return false;
}

/* Reads the oldest unread segment's answer and judges it. */
static void read_one(struct db *db)
{
	struct lazy *l = &db->lazy;
	struct lazy_seg *s = &l->seg[l->read++];
	PGconn *c = db->conn;
	PGresult *res = db_take_result(c);
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	if (state && (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0))
		l->gone = true;
	bool ok = (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) && (!s->judge || s->judge(res));
	PQclear(res);
	PGresult *sync = PQstatus(c) == CONNECTION_OK ? PQgetResult(c) : NULL;
	if (!sync || PQresultStatus(sync) != PGRES_PIPELINE_SYNC)
		ok = false;
	PQclear(sync);
	if (!ok)
		fail(l, s->input);
}

/* Drops what was read; out of pipeline mode once nothing is left. */
static void all_read(struct db *db)
{
	struct lazy *l = &db->lazy;
	if (l->read > 0 && l->read < l->n) {
		memmove(l->seg, l->seg + l->read, (l->n - l->read) * sizeof *l->seg);
		l->n -= l->read;
		l->read = 0;
	}
	if (l->n == 0 || l->read < l->n)
		return;
	uint64_t first = l->seg[0].input;
	l->n = l->read = 0;
	if (PQexitPipelineMode(db->conn) != 1) {
		fail(l, first); /* something is left: nothing of these is trusted */
		l->gone = true;
	}
}

void db_lazy_settle(struct db *db, uint64_t upto)
{
	struct lazy *l = &db->lazy;
	while (l->read < l->n && l->seg[l->read].input <= upto) {
		if (PQstatus(db->conn) != CONNECTION_OK) {
			l->gone = true;
			fail(l, l->seg[l->read].input);
			l->n = l->read = 0;
			return;
		}
		read_one(db);
	}
	all_read(db);
}

void db_lazy_reset(struct db *db)
{
	struct lazy *l = &db->lazy;
	db_lazy_settle(db, UINT64_MAX);
	if (l->n > 0) { /* the connection went: nothing more to read */
		l->n = l->read = 0;
		PQexitPipelineMode(db->conn);
	}
	l->nrefused = 0;
	l->input = 0;
}

int db_lazy_send(struct db *db, const char *sql, int nparams, const char *const *params,
                 const int *lengths, const int *formats, db_lazy_judge_fn judge, struct err *e)
{
	struct lazy *l = &db->lazy;
	PGconn *c = db->conn;
	if (!db_lazy_on(db))
		return err_stage(e, ERR_STAGE_STORE, ERR_INTERNAL, "db_lazy_send: not allowed now");
	/* Preparing waits for its answer: only outside pipeline mode. A
	 * statement without parameters (a savepoint) is not prepared. */
	bool plain = nparams == 0;
	if (!plain && !db_has_prepared(db, sql))
		db_lazy_settle(db, UINT64_MAX);
	if (l->n == DB_LAZY_MAX)
		db_lazy_settle(db, l->seg[0].input);
	if (l->n == DB_LAZY_MAX) /* one input's own: all of them */
		db_lazy_settle(db, UINT64_MAX);
	PGresult *failed = NULL;
	const struct prepared *p = plain ? NULL : db_prepared_for(db, sql, nparams, &failed);
	if (failed)
		return db_check(db, &failed, PGRES_COMMAND_OK, "preparing a statement", e);
	if (PQpipelineStatus(c) == PQ_PIPELINE_OFF && PQenterPipelineMode(c) != 1)
		return db_check(db, NULL, PGRES_COMMAND_OK, "sending a statement", e);
	bool sent =
	    (p ? PQsendQueryPrepared(c, p->name, nparams, params, lengths, formats, 0)
	       : PQsendQueryParams(c, sql, nparams, NULL, params, lengths, formats, 0)) == 1 &&
	    PQpipelineSync(c) == 1;
	if (!sent) {
		/* What went may have a sync or not: nothing of it is trusted. */
		fail(l, l->input);
		return db_check(db, NULL, PGRES_COMMAND_OK, "sending a statement", e);
	}
	l->seg[l->n++] = (struct lazy_seg){.input = l->input, .judge = judge};
	return 0;
}
