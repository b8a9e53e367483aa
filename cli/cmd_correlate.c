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
#include "cli/opt.h"
#include "db/db.h"
#include "reports/rows.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { O_TENANT = OPT_KEY, O_SINCE, O_UNTIL, O_FULL };

static const struct opt options[] = {
    {"tenant", O_TENANT, "T", "only this tenant"},
    {"since", O_SINCE, "DATE", "only rejects on or after DATE (YYYY-MM-DD, or Nd: N days ago)"},
    {"until", O_UNTIL, "DATE", "only rejects on or before DATE"},
    {"full", O_FULL, NULL, "recompute everything in scope, not only what changed"},
    {NULL, 0, NULL, NULL},
};

static int on_opt(void *ctx, int key, const char *arg)
{
	struct correlate_scope *scope = ctx;
	if (key == O_TENANT)
		scope->tenant = arg;
	else if (key == O_SINCE)
		scope->since = arg;
	else if (key == O_UNTIL)
		scope->until = arg;
	else
		scope->full = true;
	return 0;
}

static const struct opt_cmd cmd = {
    .name = "correlate",
    .synopsis = "usage: dmarcsift correlate [--tenant T] [--since DATE] [--until DATE] [--full]\n"
                "                           [--format text|json]\n",
    .about = "Ties policy rejects (bounce classes auth_failure, policy, blocklisted,\n"
             "reputation, content) to the DMARC aggregate data the same provider reported\n"
             "for that sending IP and From domain (report windows overlapping the reject's\n"
             "day +-1), and stores one flag per (tenant, provider, domain, sending IP):\n"
             "auth_driven, not_auth_driven, mixed or no_evidence, with its evidence. See\n"
             "them with 'dmarcsift flags'. 'ingest', 'poll' and 'bounces ingest' run this\n"
             "incrementally at their end. The configuration's [correlate] sets fail_below\n"
             "(90), pass_at (98, percentages), min_messages (10), resolve_days (7);\n"
             "[notify] webhook receives each new or reopened flag.\n",
    .opts = options,
    .formats = OPT_TEXT | OPT_JSON,
    .epilog = "Exit: 0 ok, 2 usage or configuration error, 3 the database cannot be reached.\n",
    .on_opt = on_opt,
};

static void print_json(const struct correlate_scope *scope, const struct flags_stats *st,
                       double secs)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "mode",
	                       json_object_new_string(scope->full ? "full" : "incremental"));
	json_object_object_add(o, "groups", json_object_new_int64((int64_t)st->groups));
	json_object_object_add(o, "created", json_object_new_int64((int64_t)st->created));
	json_object_object_add(o, "changed", json_object_new_int64((int64_t)st->changed));
	json_object_object_add(o, "resolved", json_object_new_int64((int64_t)st->resolved));
	json_object_object_add(o, "seconds", rows_json_rate(secs));
	rows_json_print(stdout, o);
	json_object_put(o);
}

int cmd_correlate(int argc, char **argv)
{
	struct correlate_scope scope = {0};
	struct opt_common co;
	int rc;
	if (!opt_parse(&cmd, argc, argv, &scope, &co, &rc))
		return rc;
	const char *config_opt = co.config;
	struct err e = {0};
	char day[16];
	if ((scope.since && correlate_day(scope.since, day, sizeof day, &e) < 0) ||
	    (scope.until && correlate_day(scope.until, day, sizeof day, &e) < 0))
		return cli_fail(&e);

	/* Here the config is judged strictly: the user asked for this run. */
	char *secret = NULL;
	struct config *cfg = NULL;
	struct db *db = NULL;
	rc = cli_config_strict(config_opt, "correlate", &cfg, NULL);
	if (rc != 0)
		goto out;
	rc = cli_connect(co.db, &db);
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
	if (co.format == ROWS_JSON)
		print_json(&scope, &st, secs);
	else
		printf("%s: %llu groups, %llu new flags, %llu changed, %llu resolved (%.3f s)\n",
		       scope.full ? "full correlation" : "incremental correlation",
		       (unsigned long long)st.groups, (unsigned long long)st.created,
		       (unsigned long long)st.changed, (unsigned long long)st.resolved, secs);
	rc = fflush(stdout) == 0 ? EXIT_OK : EXIT_SOME_FAILED;
out:
	config_secret_free(secret);
	db_close(db);
	config_free(cfg);
	return rc;
}
