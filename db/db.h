/*
 * db: one PostgreSQL connection (libpq), with the error mapping every db
 * module shares.
 *
 * db_connect resolves nothing: it takes a libpq connection string or URI
 * (see cluster.h for where that string comes from), connects, pins
 * search_path to dmarcsift, and applies pending migrations unless told not
 * to. A server that cannot be reached gives ERR_RETRY ("database
 * unreachable: ..."), so the CLI exits 3; a server that refuses us (wrong
 * password, unknown role or database, no pg_hba.conf entry) gives ERR_CONFIG
 * with the SQLSTATE it stands for (28P01, 28000, 3D000, 42501), and the CLI
 * exits 4. db_check maps a PGresult to our
 * error (SQLSTATE kept; 40001/40P01/08xxx are ERR_RETRY). The caller owns
 * the handle; db_close accepts NULL.
 */
#ifndef DS_DB_DB_H
#define DS_DB_DB_H

#include "core/err.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct db;

/* Whether libpq can parse `conninfo`; if not, `why` names the part that is
 * wrong without ever echoing the string (it may hold a password). */
int db_conninfo_check(const char *conninfo, char *why, size_t n);
/* The connection string as key=value pairs without the password (for
 * `db url`, `db status`, `config check`); always a new string. */
char *db_conninfo_display(const char *conninfo);
int db_connect(struct db **out, const char *conninfo, bool migrate, struct err *e);
/* One more connection with the settings `like` was made with (its
 * password included), migrations not applied: for work split over two
 * connections. */
int db_connect_again(struct db **out, struct db *like, struct err *e);
void db_close(struct db *db);
PGconn *db_pg(struct db *db);
/* Whether the connection is gone (status, socket, or a read that fails):
 * what decides ERR_RETRY when a call failed without a SQLSTATE. */
bool db_lost(struct db *db);
/* Returns 0 when PQresultStatus(*res) is `want` (the result stays the
 * caller's); else sets e, clears the result and sets *res to NULL, then -1.
 * So the caller's one cleanup path (PQclear(res) at `out:`) is right after
 * either, and an early `return -1` leaks nothing. res may be NULL or point
 * to NULL (libpq gave no result). */
int db_check(struct db *db, PGresult **res, ExecStatusType want, const char *what, struct err *e);
/* Runs a parameter-free statement (BEGIN, COMMIT, ...) expecting PGRES_COMMAND_OK. */
int db_exec(struct db *db, const char *sql, struct err *e);
/* PQexecParams with text parameters; the result is the caller's to PQclear. */
PGresult *db_query(struct db *db, const char *sql, int nparams, const char *const *params);
/* The same for the statements every input runs (the raw look-up and
 * insert, the tenant of a domain, a report's row, its status): prepared on
 * the connection the first time `sql` is seen, then only executed, so the
 * server plans each once per session. `sql` must be a constant text (a
 * literal or db_sql()); lengths/formats as PQexecParams' (may be NULL). */
PGresult *db_query_prepared(struct db *db, const char *sql, int nparams, const char *const *params,
                            const int *lengths, const int *formats);
/* `sql` in a transaction of its own (a savepoint in a batch) in one round
 * trip: db_begin, the statement (prepared as db_query_prepared does) and,
 * with `commit`, db_commit go to the server together (libpq's pipeline
 * mode), their results are read after. 0: the statement's result is
 * `want`, *res is it (the caller's to PQclear), and the transaction is
 * committed (`commit`) or left open for the caller's db_commit or
 * db_rollback. -1: e is set as db_check sets it (naming `what` for the
 * statement), *res is NULL and whatever was opened is rolled back. */
int db_run_in_tx(struct db *db, const char *sql, int nparams, const char *const *params,
                 const int *lengths, const int *formats, bool commit, ExecStatusType want,
                 const char *what, PGresult **res, struct err *e);

/*
 * Batches: many small inputs in one transaction, so that they share one
 * commit (one WAL flush). db_batch_begin opens it; until db_batch_commit (or
 * db_batch_rollback) db_begin, db_commit and db_rollback work on a savepoint
 * inside it instead of a transaction of their own, so a unit that fails
 * rolls back alone and the batch goes on. Nothing of the batch is durable
 * before db_batch_commit returns 0; a commit the server turned into a
 * rollback is an error. A statement that fails outside a savepoint spoils
 * the whole batch: callers treat such failures as fatal already.
 */
int db_batch_begin(struct db *db, struct err *e);
/* Inputs stored ahead of their answers (app/speculate.c) nest a savepoint
 * each, and every check of a row's visibility against the transaction
 * walks the nesting. db_batch_chain_note names a savepoint opened in the
 * batch (the first one named is the outermost), db_batch_chain_cut one
 * that was rolled back to and released (the chain is gone when it is the
 * outermost), and db_batch_chain_release releases the outermost, and with
 * it every savepoint inside it, once no answer can undo them: before the
 * batch's end moves its rows. Sent with the batch's end when it is being
 * sent (db_batch_send_open). */
void db_batch_chain_note(struct db *db, const char *savepoint);
void db_batch_chain_cut(struct db *db, const char *savepoint);
int db_batch_chain_release(struct db *db, struct err *e);
int db_batch_commit(struct db *db, struct err *e); /* 0 with no batch open */
void db_batch_rollback(struct db *db);             /* no batch open: nothing */
bool db_in_batch(const struct db *db);
/* A function run once, right before the next COMMIT of this connection
 * (db_commit or db_run_in_tx outside a batch, db_batch_commit,
 * db_batch_send_commit), then forgotten. When it fails (non-zero, e set),
 * the COMMIT is not sent and the call fails with its error: the caller's
 * error path rolls back. What app/raw_aside.c uses to keep a report from
 * committing before its raw bytes, stored meanwhile on the other
 * connection, have. NULL clears it. */
typedef int (*db_gate_fn)(void *arg, struct err *e);
void db_set_commit_gate(struct db *db, db_gate_fn gate, void *arg);
/* A function run once right after this connection has sent the end of a
 * COPY (copy_end, db/copy.h), before it waits for the server to finish the
 * statement (the table's statement triggers): for work to start elsewhere
 * meanwhile. NULL clears it. */
void db_set_copy_end_hook(struct db *db, void (*hook)(void *arg), void *arg);
void db_run_copy_end_hook(struct db *db); /* runs and clears it: copy.c */
/* BEGIN / COMMIT / ROLLBACK, or SAVEPOINT / RELEASE / ROLLBACK TO in a batch.
 * db_rollback does nothing when the connection is gone. */
int db_begin(struct db *db, struct err *e);
int db_commit(struct db *db, struct err *e);
void db_rollback(struct db *db);

/*
 * Ending a batch without waiting for it, so that the server's end of one
 * batch (its last statements, the move of its records, the COMMIT and its
 * WAL flush) runs while the caller fills the next batch on a second
 * connection (app/pipeline.c). db_batch_send_open puts the batch's
 * connection in pipeline mode; db_batch_send queues a statement (text
 * parameters); db_batch_send_commit adds COMMIT and returns at once: the
 * batch is "sent" and the connection takes nothing else until
 * db_batch_settle has read the outcome — 0 when every statement and the
 * COMMIT went through, -1 otherwise (the batch is then rolled back and
 * lost, e says why). A failure while sending leaves the batch open for
 * db_batch_rollback.
 *
 * The two connections must never wait on each other through the caller:
 * the sent batch may wait for a lock that a third transaction holds while
 * that one waits for the open batch, which is idle while the caller waits
 * for the sent one. So db_batch_settle, given the open batch's connection,
 * looks every half second whether the sent batch's backend waits, directly
 * or through others, on the open one's; if so it returns -2 with nothing
 * read, and the caller rolls the open batch back (freeing the others) and
 * settles again with `open` NULL.
 *
 * db_set_peer links a connection to the one whose batch may be in flight:
 * db_settle_peer (called by the store before any work that may take locks
 * the sent batch needs, i.e. anything but a report's fast path) settles it
 * first. Its outcome stays readable by db_batch_failed.
 */
int db_batch_send_open(struct db *db, struct err *e);
int db_batch_send(struct db *db, const char *sql, int nparams, const char *const *params,
                  struct err *e);
int db_batch_send_commit(struct db *db, struct err *e);
bool db_batch_sent(const struct db *db);
int db_batch_settle(struct db *db, struct db *open, struct err *e);
/* The last settled batch of this connection failed (and nothing was sent since). */
bool db_batch_failed(const struct db *db);
void db_set_peer(struct db *db, struct db *peer);
int db_settle_peer(struct db *db, struct err *e);

/*
 * Lazy statements: in a batch, a report's fast path (its raw bytes, its
 * row and records) sent without waiting for the answer, so that the
 * server stores one input while the caller parses the next
 * (app/speculate.c). db_lazy_allow(db, input) tags what follows with
 * `input` (non-zero; 0 stops it); while it is on, store_raw_put_seen and a
 * batched report's commit send their statement with db_lazy_send and
 * assume the usual answer (new bytes, a report added). Each statement is a
 * segment of libpq's pipeline with its own sync, so a failure spoils only
 * what follows it. Answers are read, in order, by db_lazy_settle, and by
 * every other use of the connection before it goes on (db_pg included):
 * a statement that failed, or whose `judge` refused its answer, records
 * its input in db_lazy_failed — the caller then rolls back to that input's
 * savepoint and stores it and everything after it again, waiting for each
 * answer (app/speculate.c). db_lazy_reset reads and drops whatever is
 * outstanding and forgets the failure.
 */
typedef bool (*db_lazy_judge_fn)(const PGresult *res);
void db_lazy_allow(struct db *db, uint64_t input);
bool db_lazy_on(const struct db *db);
int db_lazy_send(struct db *db, const char *sql, int nparams, const char *const *params,
                 const int *lengths, const int *formats, db_lazy_judge_fn judge, struct err *e);
void db_lazy_settle(struct db *db, uint64_t upto); /* the answers of inputs <= upto */
uint64_t db_lazy_failed(const struct db *db);
/* Whether input's answers were read and one of them refused; the input is
 * forgotten (db_lazy_failed then names the first of the others). */
bool db_lazy_take_refused(struct db *db, uint64_t input);
size_t db_lazy_unread(const struct db *db);
void db_lazy_reset(struct db *db);

#endif
