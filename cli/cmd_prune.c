/*
 * dmarcsift prune: retention — deletes what is older than a window
 * (app/prune.h says what goes and what stays) and says what it freed.
 */
#include "app/prune.h"
#include "cli/cmd.h"
#include "cli/common.h"
#include "cli/config.h"
#include "cli/opt.h"
#include "cli/sources.h"
#include "core/duration.h"
#include "core/log.h"
#include "db/db.h"
#include "reports/rows.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The longest window: a century, as [retention] older_than. */
#define WINDOW_MAX_S (100LL * 366 * 86400)

enum { O_OLDER = OPT_KEY, O_TENANT, O_DRY_RUN, O_BATCH };

static const struct opt options[] = {
    {"older-than", O_OLDER, "D", "the window; overrides [retention] older_than"},
    {"tenant", O_TENANT, "T", "only this tenant's rows; no other tenant is touched"},
    {"dry-run", O_DRY_RUN, NULL, "count what would be deleted; change nothing"},
    /* Not in --help: for measuring (tests/bench/bench_prune.sh). */
    {"batch-records", O_BATCH, "N", NULL},
    {NULL, 0, NULL, NULL},
};

struct args {
	const char *older;
	struct prune_opts po;
};

static int on_opt(void *ctx, int key, const char *arg)
{
	struct args *a = ctx;
	char *end;
	switch (key) {
	case O_OLDER:
		a->older = arg;
		break;
	case O_TENANT:
		a->po.tenant = arg;
		break;
	case O_DRY_RUN:
		a->po.dry_run = true;
		break;
	default:
		a->po.batch_records = strtoll(arg, &end, 10);
		if (end == arg || *end || a->po.batch_records < 1) {
			fprintf(
			    stderr,
			    "dmarcsift prune: --batch-records '%s': expected a whole number of at "
			    "least 1\n",
			    arg);
			return EXIT_USAGE;
		}
		break;
	}
	return 0;
}

static const struct opt_cmd cmd = {
    .name = "prune",
    .synopsis = "usage: dmarcsift prune [--older-than DURATION] [--tenant T] [--dry-run]\n"
                "                       [--format text|json]\n",
    .about = "Deletes what is older than the window (DURATION, e.g. 400d or 57w; default:\n"
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
             "--quiet prints no summary (errors are still said on standard error).\n",
    .opts = options,
    .formats = OPT_TEXT | OPT_JSON,
    .epilog = "Exit: 0 ok, 2 usage or configuration error (no window given at all, an\n"
              "unknown tenant), 3 the database cannot be reached, 4 it refused the\n"
              "connection.\n",
    .on_opt = on_opt,
};

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
	rows_json_print(stdout, o);
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
		log_error("prune failed: %s", e.msg);
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
	struct args a = {0};
	struct opt_common co;
	int rc;
	if (!opt_parse(&cmd, argc, argv, &a, &co, &rc))
		return rc;
	const char *older = a.older, *config_opt = co.config;
	struct prune_opts po = a.po;
	bool json = co.format == ROWS_JSON, quiet = co.quiet;
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
	rc = cli_config_strict(config_opt, "prune", &cfg, &path);
	if (rc != 0)
		goto out;
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
	rc = cli_connect(co.db, &db);
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
