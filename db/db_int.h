/*
 * db_int: the connection's state, shared by db.c and lazy.c only.
 */
#ifndef DS_DB_DB_INT_H
#define DS_DB_DB_INT_H

#include "db/db.h"

#include <stdint.h>

/* Lazy statements (db.h): each one is a segment of the pipeline, the
 * statement and a sync, read in the order sent. */
#define DB_LAZY_MAX 64

struct lazy_seg {
	uint64_t input;         /* db_lazy_allow's tag when it was sent */
	db_lazy_judge_fn judge; /* NULL: any success will do */
};

struct lazy {
	uint64_t input; /* 0: statements are not sent lazily now */
	struct lazy_seg seg[DB_LAZY_MAX];
	size_t n, read; /* sent, read */
	/* The inputs whose answers were read and refused, until taken
	 * (db_lazy_take_refused); db_lazy_failed is the first of them. */
	uint64_t refused[DB_LAZY_MAX];
	size_t nrefused;
	/* An answer said the session is ending (SQLSTATE 08xxx, 57Pxx), or the
	 * connection could not leave pipeline mode: it is lost, whatever its
	 * socket says yet (db_lost). */
	bool gone;
};

/* Statements prepared on this connection (db_query_prepared), by their
 * text: each is planned once per session instead of once per call. */
#define DB_PREPARED_MAX 32

struct prepared {
	const char *sql; /* the caller's constant text */
	char name[16];
};

struct db {
	PGconn *conn;
	bool batch; /* db_batch_begin: db_begin and friends use a savepoint */
	/* The outermost of the nested savepoints the open batch's inputs were
	 * stored in ahead of their answers (db_batch_chain_*), "" for none. */
	char chain[32];
	/* db_batch_send_open .. db_batch_settle: statements queued in
	 * pipeline mode (`nsent`), `sent` once the COMMIT went. */
	bool sending, sent, failed, sent_bad;
	int nsent, nread;
	struct err sent_err; /* the first statement of the sent batch that failed */
	struct db *peer;     /* db_set_peer */
	db_gate_fn gate;     /* db_set_commit_gate */
	void *gate_arg;
	void (*copy_end_hook)(void *arg); /* db_set_copy_end_hook */
	void *copy_end_arg;
	struct prepared prep[DB_PREPARED_MAX];
	size_t n_prep;
	struct lazy lazy; /* db_lazy_*, lazy.c */
};

/* The prepared statement of `sql` (db.c). */
const struct prepared *db_prepared_for(struct db *db, const char *sql, int nparams,
                                       PGresult **failed);
bool db_has_prepared(const struct db *db, const char *sql);
/* One pipelined statement's result: the first, the rest read and dropped. */
PGresult *db_take_result(PGconn *c);

#endif
