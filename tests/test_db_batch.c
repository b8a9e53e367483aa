/*
 * test_db_batch: a batch ended without waiting (db/db.h: db_batch_send_open,
 * db_batch_send, db_batch_send_commit, db_batch_settle, db_settle_peer),
 * against a real server: what settles is what the server did, a failure
 * anywhere in the sent batch (a statement, the COMMIT itself) loses all of
 * it and leaves the connection usable, and the one wait that would hang
 * (the sent batch waiting, through a third transaction, on the open batch
 * of the other connection) is found and reported instead.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "core/buf.h"
#include "db/copy.h"
#include "db/db.h"
#include "tests/support/dbfx.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char count_sql[] = "SELECT count(*) FROM public.batch_t";

static struct db *second(struct dbfx *f)
{
	struct db *db = NULL;
	struct err e = {0};
	if (db_connect(&db, f->conninfo, false, &e) != 0)
		fail_msg("second connection: %s", e.msg);
	return db;
}

static void table(struct dbfx *f)
{
	struct err e = {0};
	assert_int_equal(db_exec(f->db,
	                         "DROP TABLE IF EXISTS public.batch_t;"
	                         " CREATE TABLE public.batch_t (k integer PRIMARY KEY, v text)",
	                         &e),
	                 0);
}

static int send_one(struct db *db, const char *sql, struct err *e)
{
	if (db_batch_send_open(db, e) != 0 || db_batch_send(db, sql, 0, NULL, e) != 0)
		return -1;
	return db_batch_send_commit(db, e);
}

/* Sent, then settled: the statements and the COMMIT went through, and the
 * connection takes ordinary statements again. */
static void test_sent_batch_commits(void **state)
{
	struct dbfx *f = *state;
	struct err e = {0};
	table(f);
	assert_int_equal(db_batch_begin(f->db, &e), 0);
	assert_int_equal(db_exec(f->db, "INSERT INTO public.batch_t VALUES (1, 'open')", &e), 0);
	const char *p[] = {"2", "sent"};
	assert_int_equal(db_batch_send_open(f->db, &e), 0);
	assert_int_equal(
	    db_batch_send(f->db, "INSERT INTO public.batch_t VALUES ($1::integer, $2)", 2, p, &e),
	    0);
	assert_int_equal(db_batch_send_commit(f->db, &e), 0);
	assert_true(db_batch_sent(f->db));
	assert_false(db_in_batch(f->db));
	assert_int_equal(db_batch_settle(f->db, NULL, &e), 0);
	assert_false(db_batch_sent(f->db));
	assert_false(db_batch_failed(f->db));
	struct db *other = second(f);
	assert_int_equal(dbfx_qint(other, count_sql, 0, NULL), 2);
	db_close(other);
	assert_int_equal(
	    dbfx_qint(f->db, "SELECT count(*) FROM public.batch_t WHERE v = 'sent'", 0, NULL), 1);
	/* Nothing in flight: settling again is nothing. */
	assert_int_equal(db_batch_settle(f->db, NULL, &e), 0);
}

/* A statement of the sent batch fails: the whole batch is lost, the error
 * is the server's, and the connection is out of the aborted transaction. */
static void test_sent_statement_fails(void **state)
{
	struct dbfx *f = *state;
	struct err e = {0};
	table(f);
	assert_int_equal(db_batch_begin(f->db, &e), 0);
	assert_int_equal(db_exec(f->db, "INSERT INTO public.batch_t VALUES (1, 'open')", &e), 0);
	assert_int_equal(send_one(f->db, "INSERT INTO public.batch_t VALUES (1, 'again')", &e), 0);
	assert_int_equal(db_batch_settle(f->db, NULL, &e), -1);
	assert_true(db_batch_failed(f->db));
	if (!strstr(e.msg, "duplicate key"))
		fail_msg("not the server's words: %s", e.msg);
	assert_int_equal(dbfx_qint(f->db, count_sql, 0, NULL), 0);
	/* The next batch on it starts afresh. */
	memset(&e, 0, sizeof e);
	assert_int_equal(db_batch_begin(f->db, &e), 0);
	assert_int_equal(send_one(f->db, "INSERT INTO public.batch_t VALUES (3, 'next')", &e), 0);
	assert_int_equal(db_batch_settle(f->db, NULL, &e), 0);
	assert_false(db_batch_failed(f->db));
	assert_int_equal(dbfx_qint(f->db, count_sql, 0, NULL), 1);
}

/* The COMMIT itself fails (a deferred constraint): nothing is kept. */
static void test_sent_commit_fails(void **state)
{
	struct dbfx *f = *state;
	struct err e = {0};
	table(f);
	assert_int_equal(
	    db_exec(f->db,
	            "CREATE FUNCTION public.batch_no() RETURNS trigger LANGUAGE plpgsql"
	            " AS $$ BEGIN IF NEW.v = 'poison' THEN RAISE EXCEPTION"
	            " 'poisoned at commit'; END IF; RETURN NULL; END $$;"
	            " CREATE CONSTRAINT TRIGGER batch_no AFTER INSERT ON public.batch_t"
	            " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW"
	            " EXECUTE FUNCTION public.batch_no()",
	            &e),
	    0);
	assert_int_equal(db_batch_begin(f->db, &e), 0);
	assert_int_equal(db_exec(f->db, "INSERT INTO public.batch_t VALUES (1, 'poison')", &e), 0);
	assert_int_equal(send_one(f->db, "INSERT INTO public.batch_t VALUES (2, 'fine')", &e), 0);
	assert_int_equal(db_batch_settle(f->db, NULL, &e), -1);
	if (!strstr(e.msg, "poisoned at commit"))
		fail_msg("not the server's words: %s", e.msg);
	assert_int_equal(dbfx_qint(f->db, count_sql, 0, NULL), 0);
	assert_int_equal(
	    db_exec(f->db, "DROP TABLE public.batch_t; DROP FUNCTION public.batch_no()", &e), 0);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The wait that would hang: the sent batch (a) waits for a row a third
 * transaction (x) holds, and x waits for a row of the open batch (b) on
 * the other connection, idle while its client waits for a. The server sees
 * no deadlock; settling with b named as the open batch says so (-2) within
 * a second or so, then b rolls back, x goes on, and a settles. And
 * db_settle_peer reports the same wait as a retryable error. */
static void test_wait_through_a_third(void **state)
{
	struct dbfx *f = *state;
	struct err e = {0};
	table(f);
	struct db *b = second(f);
	PGconn *x = PQconnectdb(f->conninfo);
	assert_int_equal(PQstatus(x), CONNECTION_OK);

	PQclear(PQexec(x, "BEGIN"));
	PGresult *r = PQexec(x, "INSERT INTO public.batch_t VALUES (1, 'x')");
	assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
	assert_int_equal(db_batch_begin(b, &e), 0);
	assert_int_equal(db_exec(b, "INSERT INTO public.batch_t VALUES (2, 'b')", &e), 0);
	/* x now waits for b's row 2 */
	assert_int_equal(PQsendQuery(x, "INSERT INTO public.batch_t VALUES (2, 'x')"), 1);
	/* and a, sent, waits for x's row 1 */
	assert_int_equal(db_batch_begin(f->db, &e), 0);
	assert_int_equal(send_one(f->db, "INSERT INTO public.batch_t VALUES (1, 'a')", &e), 0);

	double t0 = now_s();
	assert_int_equal(db_batch_settle(f->db, b, &e), -2);
	assert_true(now_s() - t0 < 10);
	assert_true(db_batch_sent(f->db)); /* nothing read: still to settle */
	/* The same through the peer link: retryable, naming the wait. */
	db_set_peer(b, f->db);
	memset(&e, 0, sizeof e);
	assert_int_equal(db_settle_peer(b, &e), -1);
	assert_int_equal(e.kind, ERR_RETRY);
	assert_non_null(strstr(e.msg, "waits"));

	db_batch_rollback(b); /* x gets row 2 */
	while ((r = PQgetResult(x)) != NULL) {
		assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
		PQclear(r);
	}
	PQclear(PQexec(x, "ROLLBACK")); /* and a gets row 1 */
	memset(&e, 0, sizeof e);
	assert_int_equal(db_batch_settle(f->db, NULL, &e), 0);
	assert_int_equal(dbfx_qint(b, "SELECT count(*) FROM public.batch_t WHERE v = 'a'", 0, NULL),
	                 1);
	assert_int_equal(dbfx_qint(b, count_sql, 0, NULL), 1);
	PQfinish(x);
	db_close(b);
}

/* db_settle_peer: the peer's sent batch settles before the caller goes on;
 * when it failed, the caller gets a retryable error that names it, not one
 * that would blame the input at hand. */
static void test_settle_peer(void **state)
{
	struct dbfx *f = *state;
	struct err e = {0};
	table(f);
	struct db *b = second(f);
	db_set_peer(b, f->db);
	assert_int_equal(db_settle_peer(b, &e), 0); /* nothing sent */

	assert_int_equal(db_batch_begin(f->db, &e), 0);
	assert_int_equal(send_one(f->db, "INSERT INTO public.batch_t VALUES (1, 'a')", &e), 0);
	assert_int_equal(db_settle_peer(b, &e), 0);
	assert_false(db_batch_sent(f->db));
	assert_int_equal(dbfx_qint(b, count_sql, 0, NULL), 1);

	assert_int_equal(db_batch_begin(f->db, &e), 0);
	assert_int_equal(send_one(f->db, "INSERT INTO public.batch_t VALUES (1, 'again')", &e), 0);
	assert_int_equal(db_settle_peer(b, &e), -1);
	assert_int_equal(e.kind, ERR_RETRY);
	if (!strstr(e.msg, "the previous batch did not commit") || !strstr(e.msg, "duplicate key"))
		fail_msg("%s", e.msg);
	assert_true(db_batch_failed(f->db));
	db_close(b);
}

/* The commit gate (db_set_commit_gate): run once, right before the COMMIT
 * of db_commit, db_run_in_tx and db_batch_commit; a gate that fails keeps
 * the COMMIT from being sent, with its own error, and what the transaction
 * wrote is rolled back by the caller as after any failed commit. */
struct gate {
	int calls;
	int rc;
	int64_t seen; /* rows another connection saw when the gate ran */
	struct dbfx *f;
};

static int gate_fn(void *arg, struct err *e)
{
	struct gate *g = arg;
	g->calls++;
	struct db *other = second(g->f);
	g->seen = dbfx_qint(other, count_sql, 0, NULL);
	db_close(other);
	if (g->rc != 0)
		err_set(e, ERR_INTERNAL, "the gate says no");
	return g->rc;
}

static void test_commit_gate(void **state)
{
	struct dbfx *f = *state;
	struct err e = {0};
	struct gate g = {.f = f};
	table(f);

	/* Before the COMMIT (nothing visible yet), once. */
	db_set_commit_gate(f->db, gate_fn, &g);
	assert_int_equal(db_begin(f->db, &e), 0);
	assert_int_equal(db_exec(f->db, "INSERT INTO public.batch_t VALUES (1, 'a')", &e), 0);
	assert_int_equal(g.calls, 0);
	assert_int_equal(db_commit(f->db, &e), 0);
	assert_int_equal(g.calls, 1);
	assert_int_equal(g.seen, 0);
	assert_int_equal(db_begin(f->db, &e), 0);
	assert_int_equal(db_exec(f->db, "INSERT INTO public.batch_t VALUES (2, 'b')", &e), 0);
	assert_int_equal(db_commit(f->db, &e), 0);
	assert_int_equal(g.calls, 1);

	/* A gate that fails: no COMMIT, its error, the caller rolls back. */
	g.rc = -1;
	db_set_commit_gate(f->db, gate_fn, &g);
	assert_int_equal(db_begin(f->db, &e), 0);
	assert_int_equal(db_exec(f->db, "INSERT INTO public.batch_t VALUES (3, 'c')", &e), 0);
	assert_int_equal(db_commit(f->db, &e), -1);
	assert_string_equal(e.msg, "the gate says no");
	db_rollback(f->db);
	assert_int_equal(dbfx_qint(f->db, count_sql, 0, NULL), 2);

	/* db_run_in_tx with its commit: the same. */
	db_set_commit_gate(f->db, gate_fn, &g);
	PGresult *res = NULL;
	assert_int_equal(db_run_in_tx(f->db, "INSERT INTO public.batch_t VALUES (4, 'd')", 0, NULL,
	                              NULL, NULL, true, PGRES_COMMAND_OK, "inserting", &res, &e),
	                 -1);
	assert_null(res);
	assert_int_equal(g.calls, 3);
	assert_int_equal(dbfx_qint(f->db, count_sql, 0, NULL), 2);
	g.rc = 0;
	db_set_commit_gate(f->db, gate_fn, &g);
	assert_int_equal(db_run_in_tx(f->db, "INSERT INTO public.batch_t VALUES (4, 'd')", 0, NULL,
	                              NULL, NULL, true, PGRES_COMMAND_OK, "inserting", &res, &e),
	                 0);
	PQclear(res);
	assert_int_equal(g.calls, 4);
	assert_int_equal(g.seen, 2);

	/* A batch: its savepoints are not the commit; db_batch_commit is. */
	db_set_commit_gate(f->db, gate_fn, &g);
	assert_int_equal(db_batch_begin(f->db, &e), 0);
	assert_int_equal(db_begin(f->db, &e), 0);
	assert_int_equal(db_exec(f->db, "INSERT INTO public.batch_t VALUES (5, 'e')", &e), 0);
	assert_int_equal(db_commit(f->db, &e), 0);
	assert_int_equal(g.calls, 4);
	assert_int_equal(db_batch_commit(f->db, &e), 0);
	assert_int_equal(g.calls, 5);
	assert_int_equal(g.seen, 3);
	assert_int_equal(dbfx_qint(f->db, count_sql, 0, NULL), 4);

	/* Cleared: nothing runs. */
	db_set_commit_gate(f->db, gate_fn, &g);
	db_set_commit_gate(f->db, NULL, NULL);
	assert_int_equal(db_begin(f->db, &e), 0);
	assert_int_equal(db_commit(f->db, &e), 0);
	assert_int_equal(g.calls, 5);
}

/* The copy-end hook (db_set_copy_end_hook): run once, when copy_end has
 * sent the end of a COPY — before its statement triggers have finished: a
 * trigger waiting on an advisory lock the hook's own connection holds is
 * let go by the hook. A COPY given up (copy_abort) does not run it. */
struct hook {
	int calls;
	struct db *other;
};

static void hook_fn(void *arg)
{
	struct hook *h = arg;
	h->calls++;
	/* The COPY's rows are in; its trigger is waiting on this lock. */
	struct err e = {0};
	assert_int_equal(
	    db_exec(h->other, "DO $$ BEGIN PERFORM pg_advisory_unlock(4242); END $$", &e), 0);
}

static void test_copy_end_hook(void **state)
{
	struct dbfx *f = *state;
	struct err e = {0};
	struct hook h = {.other = second(f)};
	table(f);
	assert_int_equal(
	    db_exec(f->db,
	            "CREATE FUNCTION public.batch_wait() RETURNS trigger LANGUAGE plpgsql"
	            " SET lock_timeout = '5s'"
	            " AS $$ BEGIN PERFORM pg_advisory_lock(4242);"
	            " PERFORM pg_advisory_unlock(4242); RETURN NULL; END $$;"
	            " CREATE TRIGGER batch_wait AFTER INSERT ON public.batch_t"
	            " FOR EACH STATEMENT EXECUTE FUNCTION public.batch_wait()",
	            &e),
	    0);
	assert_int_equal(db_exec(h.other, "DO $$ BEGIN PERFORM pg_advisory_lock(4242); END $$", &e),
	                 0);

	struct copy c = {0};
	db_set_copy_end_hook(f->db, hook_fn, &h);
	assert_int_equal(
	    copy_begin(&c, f->db, "COPY public.batch_t FROM STDIN", "rows", 0, 1 << 16, &e), 0);
	buf_append(&c.buf, "1\tone\n", 6);
	assert_int_equal(h.calls, 0);
	/* Run after the statement's result, the hook would come too late:
	 * the trigger gives up waiting after 5 s, and the COPY with it. */
	assert_int_equal(copy_end(&c, &e), 0);
	assert_int_equal(h.calls, 1);
	assert_int_equal(dbfx_qint(f->db, count_sql, 0, NULL), 1);

	/* Once; and a COPY given up does not run it. */
	assert_int_equal(db_exec(h.other, "DO $$ BEGIN PERFORM pg_advisory_lock(4242); END $$", &e),
	                 0);
	assert_int_equal(
	    db_exec(h.other, "DO $$ BEGIN PERFORM pg_advisory_unlock(4242); END $$", &e), 0);
	db_set_copy_end_hook(f->db, hook_fn, &h);
	assert_int_equal(
	    copy_begin(&c, f->db, "COPY public.batch_t FROM STDIN", "rows", 0, 1 << 16, &e), 0);
	buf_append(&c.buf, "2\ttwo\n", 6);
	copy_abort(&c, "given up");
	assert_int_equal(h.calls, 1);
	assert_int_equal(
	    copy_begin(&c, f->db, "COPY public.batch_t FROM STDIN", "rows", 0, 1 << 16, &e), 0);
	buf_append(&c.buf, "3\tthree\n", 8);
	assert_int_equal(copy_end(&c, &e), 0);
	assert_int_equal(h.calls, 2);
	assert_int_equal(
	    copy_begin(&c, f->db, "COPY public.batch_t FROM STDIN", "rows", 0, 1 << 16, &e), 0);
	buf_append(&c.buf, "4\tfour\n", 7);
	assert_int_equal(copy_end(&c, &e), 0);
	assert_int_equal(h.calls, 2);
	assert_int_equal(dbfx_qint(f->db, count_sql, 0, NULL), 3);
	db_close(h.other);
}

/* The connection lost while lazy answers are unread (db.h): what comes
 * next on it fails as a lost database (retry later), not as a bug, and the
 * inputs those answers belonged to count as failed. */
static void test_lazy_connection_lost(void **state)
{
	struct dbfx *f = *state;
	struct err e = {0};
	assert_int_equal(db_batch_begin(f->db, &e), 0);
	db_lazy_allow(f->db, 7);
	assert_int_equal(db_lazy_send(f->db, "SELECT pg_terminate_backend(pg_backend_pid())", 0,
	                              NULL, NULL, NULL, NULL, &e),
	                 0);
	db_lazy_allow(f->db, 8);
	assert_int_equal(db_lazy_send(f->db, "SELECT 1", 0, NULL, NULL, NULL, NULL, &e), 0);
	db_lazy_allow(f->db, 0);
	struct timespec ts = {0, 200 * 1000 * 1000};
	nanosleep(&ts, NULL); /* the backend is gone before anything is read */
	assert_int_equal(db_exec(f->db, "SELECT 1", &e), -1);
	if (e.kind != ERR_RETRY)
		fail_msg("not taken for a lost database: %s", e.msg);
	assert_true(db_lost(f->db));
	assert_int_equal(db_lazy_failed(f->db), 7);
}

/* An answer read lazily says the session is ending (SQLSTATE 57P01, here
 * raised while the socket stays open, as it does for a moment when the
 * server terminates a backend): the connection counts as lost from then
 * on, so the next failure is a lost database, not a bug (exit 3, not 1). */
static void test_lazy_session_ending(void **state)
{
	struct dbfx *f = *state;
	struct err e = {0};
	assert_int_equal(db_batch_begin(f->db, &e), 0);
	db_lazy_allow(f->db, 3);
	assert_int_equal(db_lazy_send(f->db,
	                              "DO $$ BEGIN RAISE EXCEPTION 'going' USING ERRCODE ="
	                              " 'admin_shutdown'; END $$",
	                              0, NULL, NULL, NULL, NULL, &e),
	                 0);
	db_lazy_allow(f->db, 0);
	db_lazy_settle(f->db, UINT64_MAX);
	assert_int_equal(db_lazy_failed(f->db), 3);
	assert_true(db_lost(f->db));
	assert_int_equal(db_exec(f->db, "SELECT 1", &e), -1);
	if (e.kind != ERR_RETRY)
		fail_msg("not taken for a lost database: %s", e.msg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_sent_batch_commits, dbfx_setup, dbfx_teardown),
	    cmocka_unit_test_setup_teardown(test_sent_statement_fails, dbfx_setup, dbfx_teardown),
	    cmocka_unit_test_setup_teardown(test_sent_commit_fails, dbfx_setup, dbfx_teardown),
	    cmocka_unit_test_setup_teardown(test_wait_through_a_third, dbfx_setup, dbfx_teardown),
	    cmocka_unit_test_setup_teardown(test_settle_peer, dbfx_setup, dbfx_teardown),
	    cmocka_unit_test_setup_teardown(test_commit_gate, dbfx_setup, dbfx_teardown),
	    cmocka_unit_test_setup_teardown(test_copy_end_hook, dbfx_setup, dbfx_teardown),
	    cmocka_unit_test_setup_teardown(test_lazy_connection_lost, dbfx_setup, dbfx_teardown),
	    cmocka_unit_test_setup_teardown(test_lazy_session_ending, dbfx_setup, dbfx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
