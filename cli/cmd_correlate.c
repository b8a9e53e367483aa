/*
 * dmarcsift correlate: runs the correlator (app/correlate.h) — incremental
 * by default (what changed since the last run), everything in scope with
 * --full — and prints what it did. The flags are read with `dmarcsift flags`.
 */
#include "app/correlate.h"
#include "app/notify.h"
#include "cli/autocorr.h"
#include "cli/cmd.h"
#include "cli/common.h"
#include "cli/config.h"
#include "db/db.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: dmarcsift correlate [--db CONN] [--config PATH] [--tenant T]\n"
	        "                           [--since DATE] [--until DATE] [--full]\n"
	        "\n"
	        "Ties policy rejects (bounce classes auth_failure, policy, blocklisted,\n"
	        "reputation, content) to the DMARC aggregate data the same provider reported\n"
	        "for that sending IP and From domain (report windows overlapping the reject's\n"
	        "day +-1), and stores one flag per (tenant, provider, domain, sending IP):\n"
	        "auth_driven, not_auth_driven, mixed or no_evidence, with its evidence. See\n"
	        "them with 'dmarcsift flags'. 'ingest', 'poll' and 'bounces ingest' run this\n"
	        "incrementally at their end.\n"
	        "\n"
	        "  --db CONN      libpq connection string (default: $DMARCSIFT_DB, else the\n"
	        "                 embedded cluster)\n"
	        "  --config PATH  configuration file; [correlate] sets fail_below (90),\n"
	        "                 pass_at (98, percentages), min_messages (10), resolve_days (7);\n"
	        "                 [notify] webhook receives each new or reopened flag\n"
	        "  --tenant T     only this tenant\n"
	        "  --since DATE   only rejects on or after DATE (YYYY-MM-DD, or Nd: N days ago)\n"
	        "  --until DATE   only rejects on or before DATE\n"
	        "  --full         recompute everything in scope, not only what changed\n"
	        "\n"
	        "Exit: 0 ok, 2 usage or configuration error, 3 the database cannot be reached.\n");
}

int cmd_correlate(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"db", required_argument, NULL, 'd'},     {"config", required_argument, NULL, 'c'},
	    {"tenant", required_argument, NULL, 't'}, {"since", required_argument, NULL, 's'},
	    {"until", required_argument, NULL, 'u'},  {"full", no_argument, NULL, 'F'},
	    {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
	};
	const char *db_opt = NULL, *config_opt = NULL;
	struct correlate_scope scope = {0};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			db_opt = optarg;
			break;
		case 'c':
			config_opt = optarg;
			break;
		case 't':
			scope.tenant = optarg;
			break;
		case 's':
			scope.since = optarg;
			break;
		case 'u':
			scope.until = optarg;
			break;
		case 'F':
			scope.full = true;
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
	struct err e = {0};
	char day[16];
	if ((scope.since && correlate_day(scope.since, day, sizeof day, &e) < 0) ||
	    (scope.until && correlate_day(scope.until, day, sizeof day, &e) < 0))
		return cli_fail(&e);

	/* Here the config is judged strictly: the user asked for this run. */
	char *path = NULL, *secret = NULL;
	struct config *cfg = NULL;
	struct db *db = NULL;
	int rc;
	if (config_find(config_opt, &path, &e) != 0 || config_load(&cfg, path, &e) != 0) {
		rc = cli_fail(&e);
		goto out;
	}
	if (!config_ok(cfg)) {
		for (size_t i = 0; i < cfg->n_errors; i++)
			fprintf(stderr, "%s\n", cfg->errors[i]);
		fprintf(stderr, "dmarcsift correlate: the configuration has errors (see above)\n");
		rc = EXIT_USAGE;
		goto out;
	}
	rc = cli_connect(db_opt, &db);
	if (rc != 0)
		goto out;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct flags_stats st = {0};
	struct notify_hook hook;
	if (autocorr_hook(cfg, &hook, &secret))
		scope.notify = &hook;
	if (correlate_run(db, &cfg->correlate, &scope, &st, &e) != 0) {
		rc = cli_fail(&e);
		goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("%s: %llu groups, %llu new flags, %llu changed, %llu resolved (%.3f s)\n",
	       scope.full ? "full correlation" : "incremental correlation",
	       (unsigned long long)st.groups, (unsigned long long)st.created,
	       (unsigned long long)st.changed, (unsigned long long)st.resolved, secs);
	rc = fflush(stdout) == 0 ? EXIT_OK : EXIT_SOME_FAILED;
out:
	config_secret_free(secret);
	db_close(db);
	config_free(cfg);
	free(path);
	return rc;
}
