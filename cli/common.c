#include "cli/common.h"

#include "cli/cmd.h"
#include "cli/config.h"
#include "core/xalloc.h"
#include "db/cluster.h"
#include "db/db.h"
#include "db/store.h"

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

int cli_check_tenant(struct db *db, const char *name)
{
	if (!name)
		return EXIT_OK;
	struct err e = {0};
	int id = -1;
	if (store_tenant_id(db, name, &id, &e) != 0)
		return cli_fail(&e); /* unknown: ERR_CONFIG, exit 2 */
	return EXIT_OK;
}

/* [tenants] pinned from the configuration file, when there is a readable
 * one (ingest and reprocess need no configuration; a broken one is `config check`'s
 * business, and the default applies). */
bool cli_pinned_strict(void)
{
	struct err e = {0};
	char *path = NULL;
	struct config *cfg = NULL;
	bool strict = false;
	if (config_find(NULL, &path, &e) == 0 && path && config_load(&cfg, path, &e) == 0 &&
	    config_ok(cfg))
		strict = cfg->pinned_strict;
	config_free(cfg);
	free(path);
	return strict;
}
