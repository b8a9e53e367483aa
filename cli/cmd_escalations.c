/*
 * dmarcsift escalations: the open escalations — the same reject (provider,
 * class, enhanced-code family, normalised text) repeating at volume in a
 * window, or jumping against the previous window — from
 * dmarcsift.v_escalations (db/sql/escalations_list.sql).
 */
#include "cli/cmd.h"
#include "cli/common.h"
#include "cli/opt.h"
#include "db/db.h"
#include "db/sql.h"
#include "db/store.h"
#include "reports/rows.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const struct opt options[] = {
    {"tenant", 't', "T", "only this tenant"},
    {"all", 'a', NULL, "closed escalations too (with a status column)"},
    {NULL, 0, NULL, NULL},
};

struct args {
	const char *tenant;
	bool all;
};

static int on_opt(void *ctx, int key, const char *arg)
{
	struct args *a = ctx;
	if (key == 't')
		a->tenant = arg;
	else
		a->all = true;
	return 0;
}

static const struct opt_cmd cmd = {
    .name = "escalations",
    .synopsis = "usage: dmarcsift escalations [--tenant T] [--all] [--format text|csv|json]\n",
    .about = "Lists open escalations, newest first: the provider, bounce class and\n"
             "enhanced-code family, the normalised reply pattern, how many events in the\n"
             "window, of how many attempts to that provider (rate), first and last seen,\n"
             "and a sample reply text. The text format then lists the blocklist listings\n"
             "with delivery impact (dmarcsift blocklists check), those with rejects naming\n"
             "them (impact rejecting) first.\n",
    .opts = options,
    .formats = OPT_TEXT | OPT_CSV | OPT_JSON,
    .on_opt = on_opt,
};

int cmd_escalations(int argc, char **argv)
{
	struct args a = {0};
	struct opt_common co;
	struct db *db = NULL;
	PGresult *res = NULL;
	struct err e = {0};
	int rc;

	if (!opt_parse(&cmd, argc, argv, &a, &co, &rc))
		return rc;
	const char *tenant = a.tenant;
	enum rows_format fmt = co.format;
	rc = cli_connect(co.db, &db);
	if (rc != 0)
		return rc;
	if (tenant) {
		int id;
		if (store_tenant_resolve(db, NULL, tenant, &id, &e) < 0) {
			rc = cli_fail(&e);
			goto out;
		}
	}
	const char *params[2] = {tenant, a.all ? "true" : "false"};
	res = db_query(db, db_sql("escalations_list"), 2, params);
	if (db_check(db, &res, PGRES_TUPLES_OK, "listing escalations", &e) < 0) {
		rc = cli_fail(&e);
		goto out;
	}
	if (fmt == ROWS_TEXT && PQntuples(res) == 0)
		printf("no open escalations\n");
	else
		cli_rows_print(stdout, res, fmt, 60);
	if (fmt == ROWS_TEXT) {
		PQclear(res);
		res = db_query(db, db_sql("escalations_listings"), 1, params);
		if (db_check(db, &res, PGRES_TUPLES_OK, "listing blocklist listings", &e) < 0) {
			rc = cli_fail(&e);
			goto out;
		}
		if (PQntuples(res) > 0) {
			printf("\nblocklist listings with delivery impact (rejecting first):\n");
			cli_rows_print(stdout, res, fmt, 60);
		}
	}
	if (fflush(stdout) != 0)
		rc = EXIT_SOME_FAILED;
out:
	PQclear(res);
	db_close(db);
	return rc;
}
