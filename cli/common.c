#include "cli/common.h"

#include "cli/cmd.h"
#include "core/xalloc.h"
#include "db/cluster.h"
#include "db/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_fail(const struct err *e)
{
	fprintf(stderr, "dmarcsift: error: %s\n", e->msg[0] ? e->msg : "unknown failure");
	switch (e->kind) {
	case ERR_RETRY:
		return EXIT_DB;
	case ERR_CONFIG:
		return EXIT_USAGE;
	default:
		return EXIT_SOME_FAILED;
	}
}

int cli_connect(const char *db_opt, struct db **out)
{
	struct err e = {0};
	char *conninfo = NULL;
	int rc = 0;

	if (cluster_resolve(db_opt, true, &conninfo, &e) != 0 ||
	    db_connect(out, conninfo, true, &e) != 0) {
		/* Whatever stopped us from reaching the database is exit 3. */
		if (e.kind != ERR_CONFIG)
			e.kind = ERR_RETRY;
		rc = cli_fail(&e);
	}
	free(conninfo);
	return rc;
}

int cli_is_help(const char *s)
{
	return s && (strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0);
}
