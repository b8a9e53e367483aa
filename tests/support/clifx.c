#include "tests/support/clifx.h"

#include "tests/support/run.h"
#include "tests/support/testdb.h"

#include <stdio.h>
#include <stdlib.h>

int clifx_setup(void **state)
{
	*state = NULL;
	struct clifx *c = calloc(1, sizeof *c);
	if (!c || testdb_create(&c->db) != 0) {
		free(c);
		return -1;
	}
	snprintf(c->dir, sizeof c->dir, "/tmp/ds-test-XXXXXX");
	if (!mkdtemp(c->dir)) {
		testdb_drop(c->db);
		free(c->db);
		free(c);
		return -1;
	}
	*state = c;
	return 0;
}

int clifx_setup_migrated(void **state)
{
	if (clifx_setup(state) != 0)
		return -1;
	struct clifx *c = *state;
	const char *mig[] = {"db", "migrate", "--db", c->db, NULL};
	if (run_bin(mig, NULL, NULL) != 0) {
		clifx_teardown(state);
		return -1;
	}
	return 0;
}

int clifx_teardown(void **state)
{
	struct clifx *c = *state;
	if (!c)
		return 0;
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", c->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", c->dir);
	testdb_drop(c->db);
	free(c->db);
	free(c);
	return 0;
}
