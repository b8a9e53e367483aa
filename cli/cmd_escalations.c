/*
 * dmarcsift escalations: the open escalations — the same reject (provider,
 * class, enhanced-code family, normalised text) repeating at volume in a
 * window, or jumping against the previous window — from
 * dmarcsift.v_escalations (db/sql/escalations_list.sql).
 */
#include "cli/cmd.h"
#include "cli/common.h"
#include "db/db.h"
#include "db/sql.h"
#include "db/store.h"
#include "reports/rows.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: dmarcsift escalations [--db CONN] [--tenant T] [--all]\n"
	        "                             [--format text|csv|json]\n"
	        "\n"
	        "Lists open escalations, newest first: the provider, bounce class and\n"
	        "enhanced-code family, the normalised reply pattern, how many events in the\n"
	        "window, of how many attempts to that provider (rate), first and last seen,\n"
	        "and a sample reply text. The text format then lists the blocklist listings\n"
	        "with delivery impact (dmarcsift blocklists check), those with rejects naming\n"
	        "them (impact rejecting) first.\n"
	        "\n"
	        "  --db CONN       libpq connection string (default: DMARCSIFT_DB, the config\n"
	        "                  file, else the embedded cluster)\n"
	        "  --tenant T      only this tenant\n"
	        "  --all           closed escalations too (with a status column)\n"
	        "  --format F      text (default), csv, or json (one object per line)\n");
}

int cmd_escalations(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"db", required_argument, NULL, 'd'}, {"tenant", required_argument, NULL, 't'},
	    {"all", no_argument, NULL, 'a'},      {"format", required_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},     {NULL, 0, NULL, 0},
	};
	const char *db_opt = NULL, *tenant = NULL;
	bool all = false;
	enum rows_format fmt = ROWS_TEXT;
	struct db *db = NULL;
	PGresult *res = NULL;
	struct err e = {0};
	int c, rc;

	optind = 0; /* GNU: full re-initialisation */
	while ((c = getopt_long(argc, argv, "d:t:af:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			db_opt = optarg;
			break;
		case 't':
			tenant = optarg;
			break;
		case 'a':
			all = true;
			break;
		case 'f':
			if (rows_format_parse(optarg, &fmt) < 0) {
				fprintf(stderr, "dmarcsift: unknown format '%s'\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	rc = cli_connect(db_opt, &db);
	if (rc != 0)
		return rc;
	if (tenant) {
		int id;
		if (store_tenant_resolve(db, NULL, tenant, &id, &e) < 0) {
			rc = cli_fail(&e);
			goto out;
		}
	}
	const char *params[2] = {tenant, all ? "true" : "false"};
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
