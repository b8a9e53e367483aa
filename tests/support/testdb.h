/*
 * testdb: a fresh, uniquely named database per test run, on the PostgreSQL
 * server named by DMARCSIFT_TEST_DB (a libpq connection string where we may
 * CREATE DATABASE; scripts/test.sh starts one and sets it).
 *
 * testdb_create fails loudly (message on stderr, -1) when the variable is
 * unset or the server refuses; *conninfo_out is the caller's to free().
 * testdb_drop removes the database again (forcing other sessions out).
 */
#ifndef DS_TESTS_TESTDB_H
#define DS_TESTS_TESTDB_H

int testdb_create(char **conninfo_out);
void testdb_drop(const char *conninfo);

#endif
