/*
 * dbfx: the fixture of the store tests that work through db/db.h: a
 * database of its own per test (testdb.h), connected and migrated, and
 * one-value queries on that connection that fail the test on any error.
 */
#ifndef DS_TESTS_DBFX_H
#define DS_TESTS_DBFX_H

#include "db/db.h"

#include <stdint.h>

struct dbfx {
	char *conninfo;
	struct db *db;
};

/* cmocka setup/teardown: *state is a struct dbfx. */
int dbfx_setup(void **state);
int dbfx_teardown(void **state);
/* The one value of a one-row query (NULL for SQL NULL); the caller frees. */
char *dbfx_q1(struct db *db, const char *sql, int n, const char *const *params);
/* The same as a number; a NULL fails the test. */
int64_t dbfx_qint(struct db *db, const char *sql, int n, const char *const *params);
/* The value of a query with at most one parameter is `want` (NULL: SQL NULL). */
void dbfx_assert_q(struct db *db, const char *sql, const char *param, const char *want);

#endif
