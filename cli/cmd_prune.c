/*
 * dmarcsift prune: retention — deletes what is older than a window
 * (app/prune.h says what goes and what stays) and says what it freed.
 */
#include "app/prune.h"
#include "cli/cmd.h"
#include "cli/common.h"
#include "cli/config.h"
#include "cli/sources.h"
#include "core/duration.h"
#include "core/log.h"
#include "db/db.h"

#include <getopt.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The longest window: a century, as [retention] older_than. */
#define WINDOW_MAX_S (100LL * 366 * 86400)

static void usage(FILE *out)
{
	fprintf(out, "usage: dmarcsift prune [--older-than DURATION] [--tenant T] [--dry-run]\n"
	             "                       [--json] [--quiet] [--db CONN] [--config PATH]\n"
	             "\n"
	             "Deletes what is older than the window (DURATION, e.g. 400d or 57w; default:\n"
	             "[retention] older_than in the configuration file), in short batches, each\n"
	             "its own transaction:\n"
	             "  aggregate reports whose period ended before it, with their records (taken\n"
	             "  out of the daily and per-domain rollups and the correlator's sums first);\n"
	             "  TLS reports, failure reports (RUF), bounce events and their per-day rows;\n"
	             "  quarantine entries closed (dismissed or reprocessed) before it; resolved\n"
	             "  flags, closed escalations and lifted suppressions last seen before it;\n"
	             "  raw messages nothing kept refers to any more.\n"
	             "Open quarantine entries (and their raw bytes), open or reopened flags, open\n"
	             "escalations and active suppressions are never pruned, however old.\n"
	             "\n"
	             "  --older-than D   the window; overrides [retention] older_than\n"
	             "  --tenant T       only this tenant's rows; no other tenant is touched\n"
	             "  --dry-run        count what would be deleted; change nothing\n"
	             "  --json           one JSON object instead of the text summary\n"
	             "  --quiet          no summary (errors are still said on standard error)\n"
	             "  --db CONN        libpq connection string (default: $DMARCSIFT_DB, then\n"
	             "                   [database] url, else the embedded cluster)\n"
	             "  --config PATH    configuration file ([retention], [database])\n"
	             "\n"
	             "Exit: 0 ok, 2 usage or configuration error (no window given at all, an\n"
	             "unknown tenant), 3 the database cannot be reached, 4 it refused the\n"
	             "connection.\n");
}

static void print_text(const struct prune_stats *st, bool dry_run, const char *tenant)
{
	printf("%s older than %s%s%s:\n", dry_run ? "would delete" : "deleted", st->cutoff,
	       tenant ? " of tenant " : "", tenant ? tenant : "");
	for (int k = 0; k < PRUNE_KINDS; k++)
		printf("  %-16s %lld\n", prune_kind_name((enum prune_kind)k), st->n[k]);
	if (!dry_run)
		printf("%lld transaction(s), the longest %lld ms\n", st->transactions,
		       st->longest_ms);
}

static void print_json(const struct prune_stats *st, bool dry_run, const char *tenant)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "dry_run", json_object_new_boolean(dry_run));
	json_object_object_add(o, "tenant", tenant ? json_object_new_string(tenant) : NULL);
	json_object_object_add(o, "cutoff", json_object_new_string(st->cutoff));
	json_object *n = json_object_new_object();
	for (int k = 0; k < PRUNE_KINDS; k++)
		json_object_object_add(n, prune_kind_name((enum prune_kind)k),
		                       json_object_new_int64(st->n[k]));
	/* One shape for both: with dry_run, what would be deleted. */
	json_object_object_add(o, "deleted", n);
	json_object_object_add(o, "transactions", json_object_new_int64(st->transactions));
	char secs[32];
	snprintf(secs, sizeof secs, "%.3f", (double)st->longest_ms / 1000);
	json_object_object_add(o, "longest_transaction_seconds",
	                       json_object_new_double_s((double)st->longest_ms / 1000, secs));
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
	                                                     JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

/* How often `poll --every` prunes. */
#define POLL_PRUNE_EVERY_S 86400LL

int cli_prune_after_poll(struct db *db, const struct config *cfg, long long *last, bool quiet)
{
	if (!cfg || cfg->retention.older_s <= 0)
		return 0;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	long long t = (long long)now.tv_sec + 1; /* never 0: 0 means "not yet" */
	if (*last && t - *last < POLL_PRUNE_EVERY_S)
		return 0;
	*last = t;
	struct prune_opts po = {.older_s = cfg->retention.older_s};
	struct prune_stats st;
	struct err e = {0};
	if (prune_run(db, &po, &st, &e) != 0) {
		fprintf(stderr, "dmarcsift: prune failed: %s\n", e.msg);
		if (e.kind == ERR_RETRY || db_lost(db)) {
			*last = 0;
			return -1;
		}
		return 0;
	}
	if (!quiet) {
		fprintf(stderr, "prune (older than %s):", st.cutoff);
		for (int k = 0; k < PRUNE_KINDS; k++)
			fprintf(stderr, "%s %lld %s", k ? "," : "", st.n[k],
			        prune_kind_name((enum prune_kind)k));
		fprintf(stderr, "; the longest transaction %lld ms\n", st.longest_ms);
	}
	return 0;
}

int cmd_prune(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"older-than", required_argument, NULL, 'o'},
	    {"tenant", required_argument, NULL, 't'},
	    {"dry-run", no_argument, NULL, 'n'},
	    {"json", no_argument, NULL, 'j'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"db", required_argument, NULL, 'd'},
	    {"config", required_argument, NULL, 'c'},
	    {"batch-records", required_argument, NULL, 'b'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *older = NULL, *db_opt = NULL, *config_opt = NULL;
	struct prune_opts po = {0};
	bool json = false, quiet = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			older = optarg;
			break;
		case 't':
			po.tenant = optarg;
			break;
		case 'n':
			po.dry_run = true;
			break;
		case 'j':
			json = true;
			break;
		case 'q':
			quiet = true;
			log_set_level(LOG_QUIET);
			break;
		case 'd':
			db_opt = optarg;
			break;
		case 'c':
			config_opt = optarg;
			break;
		case 'b': {
			/* Not in --help: for measuring (tests/bench/bench_prune.sh). */
			char *end;
			po.batch_records = strtoll(optarg, &end, 10);
			if (end == optarg || *end || po.batch_records < 1) {
				fprintf(stderr,
				        "dmarcsift prune: --batch-records '%s': expected a "
				        "whole number of at least 1\n",
				        optarg);
				return EXIT_USAGE;
			}
			break;
		}
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "dmarcsift prune: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (older && (po.older_s = duration_parse(older, WINDOW_MAX_S)) <= 0) {
		fprintf(stderr,
		        "dmarcsift prune: --older-than '%s': expected a duration such as 400d or "
		        "57w\n",
		        older);
		return EXIT_USAGE;
	}

	struct err e = {0};
	char *path = NULL;
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
		fprintf(stderr, "dmarcsift prune: the configuration has errors (see above)\n");
		rc = EXIT_USAGE;
		goto out;
	}
	if (!older)
		po.older_s = cfg->retention.older_s;
	if (po.older_s <= 0) {
		fprintf(stderr,
		        "dmarcsift prune: no window: give --older-than DURATION or set "
		        "[retention] older_than in the configuration file (%s)\n",
		        path ? path : "none found");
		rc = EXIT_USAGE;
		goto out;
	}
	cli_set_config_path(path);
	rc = cli_connect(db_opt, &db);
	if (rc != 0)
		goto out;
	rc = cli_check_tenant(db, po.tenant);
	if (rc != EXIT_OK)
		goto out;
	struct prune_stats st;
	if (prune_run(db, &po, &st, &e) != 0) {
		rc = cli_fail(&e);
		goto out;
	}
	if (json)
		print_json(&st, po.dry_run, po.tenant);
	else if (!quiet)
		print_text(&st, po.dry_run, po.tenant);
	rc = fflush(stdout) == 0 ? EXIT_OK : EXIT_SOME_FAILED;
out:
	db_close(db);
	config_free(cfg);
	free(path);
	return rc;
}
