/*
 * dbfx: see dbfx.h.
 */
#include "tests/support/dbfx.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "core/xalloc.h"
#include "tests/support/testdb.h"

#include <stdio.h>
#include <stdlib.h>

int dbfx_setup(void **state)
{
	struct dbfx *f = xcalloc(1, sizeof *f);
	struct err e = {0};
	*state = f;
	if (testdb_create(&f->conninfo) < 0)
		return -1;
	if (db_connect(&f->db, f->conninfo, true, &e) < 0) {
		fprintf(stderr, "connect: %s\n", e.msg);
		return -1;
	}
	return 0;
}

int dbfx_teardown(void **state)
{
	struct dbfx *f = *state;
	db_close(f->db);
	testdb_drop(f->conninfo);
	free(f->conninfo);
	free(f);
	return 0;
}

char *dbfx_q1(struct db *db, const char *sql, int n, const char *const *params)
{
	PGresult *res = db_query(db, sql, n, params);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQresultErrorMessage(res));
	assert_int_equal(PQntuples(res), 1);
	char *v = PQgetisnull(res, 0, 0) ? NULL : xstrdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

int64_t dbfx_qint(struct db *db, const char *sql, int n, const char *const *params)
{
	char *v = dbfx_q1(db, sql, n, params);
	assert_non_null(v);
	int64_t x = strtoll(v, NULL, 10);
	free(v);
	return x;
}

void dbfx_assert_q(struct db *db, const char *sql, const char *param, const char *want)
{
	const char *p[1] = {param};
	char *v = dbfx_q1(db, sql, param ? 1 : 0, p);
	if (!want)
		assert_null(v);
	else {
		assert_non_null(v);
		assert_string_equal(v, want);
	}
	free(v);
}
