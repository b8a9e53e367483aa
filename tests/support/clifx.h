/*
 * clifx: the fixture of the tests that drive the real binary: a database of
 * its own per test (testdb.h) and a scratch directory, both removed after.
 */
#ifndef DS_TESTS_CLIFX_H
#define DS_TESTS_CLIFX_H

struct clifx {
	char *db;     /* its connection string */
	char dir[64]; /* the scratch directory */
};

/* cmocka setup/teardown: *state is a struct clifx. clifx_setup_migrated
 * also runs `dmarcsift db migrate` on the database. */
int clifx_setup(void **state);
int clifx_setup_migrated(void **state);
int clifx_teardown(void **state);

#endif
