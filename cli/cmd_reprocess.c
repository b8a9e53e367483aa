/*
 * dmarcsift reprocess: run quarantined inputs through the pipeline again,
 * from the raw bytes stored when they first arrived.
 */
#include "app/pipeline.h"
#include "cli/cmd.h"
#include "cli/common.h"
#include "cli/opt.h"
#include "db/db.h"
#include "db/store.h"
#include "reports/rows.h"

#include <json-c/json.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { O_TENANT = OPT_KEY, O_ALL };

static const struct opt options[] = {
    {"tenant", O_TENANT, "NAME", "put every report retried into tenant NAME"},
    {"all", O_ALL, NULL, "every open quarantined input"},
    {NULL, 0, NULL, NULL},
};

struct args {
	const char *tenant;
	bool all;
};

static int on_opt(void *ctx, int key, const char *arg)
{
	struct args *a = ctx;
	if (key == O_TENANT)
		a->tenant = arg;
	else
		a->all = true;
	return 0;
}

static const struct opt_cmd cmd = {
    .name = "reprocess",
    .synopsis = "usage: dmarcsift reprocess [--tenant NAME] [--format text|json] SHA256...|--all\n",
    .about = "Retries quarantined inputs from their stored raw bytes, e.g. after adding\n"
             "a tenant or upgrading dmarcsift. SHA256 as printed by 'dmarcsift failures':\n"
             "the whole 64 hex digits or any prefix of 8 or more that names one stored\n"
             "input.\n",
    .opts = options,
    .formats = OPT_TEXT | OPT_JSON,
    .args = true,
    .epilog = "Exit: 0 when all of them now ingest, 1 otherwise.\n",
    .on_opt = on_opt,
};

/* JSON: the inputs retried, for the summary object (NULL: text). */
static json_object *results;

static int reprocess_one(struct pipeline *p, struct db *db, const char *sha, struct err *e)
{
	unsigned char *data = NULL;
	size_t len = 0;
	char *source = NULL;
	enum pipeline_outcome outcome;
	if (store_raw_get(db, sha, &data, &len, &source, e) != 0)
		return -1;
	int rc = pipeline_ingest(p, data, len, source ? source : sha, &outcome, e);
	if (rc == 0 && results) {
		static const char *const names[] = {
		    [PIPE_INGESTED] = "ingested",
		    [PIPE_DUPLICATE] = "duplicate",
		    [PIPE_QUARANTINED] = "quarantined",
		    [PIPE_DSN] = "bounce",
		};
		json_object *o = json_object_new_object();
		json_object_object_add(o, "sha256", json_object_new_string(sha));
		json_object_object_add(o, "source", source ? json_object_new_string(source) : NULL);
		json_object_object_add(o, "outcome", json_object_new_string(names[outcome]));
		json_object_object_add(o, "reason",
		                       outcome == PIPE_QUARANTINED
		                           ? json_object_new_string(pipeline_last_reason(p))
		                           : NULL);
		json_object_array_add(results, o);
	} else if (rc == 0)
		printf("%.12s  %s: %s\n", sha, source ? source : "",
		       outcome == PIPE_QUARANTINED ? pipeline_last_reason(p)
		       : outcome == PIPE_DSN       ? "bounce events stored"
		                                   : "ingested");
	free(data);
	free(source);
	return rc;
}

static void print_text(const struct pipeline_stats *st)
{
	printf("%llu input(s) retried: %llu reports (%llu records) ingested, %llu duplicates, "
	       "%llu still quarantined",
	       (unsigned long long)st->inputs, (unsigned long long)st->reports,
	       (unsigned long long)st->records, (unsigned long long)st->duplicates,
	       (unsigned long long)st->quarantined);
	if (st->replaced)
		printf(", %llu replaced", (unsigned long long)st->replaced);
	printf("\n");
}

static void print_json(const struct pipeline_stats *st, json_object *arr)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "inputs", json_object_new_int64((int64_t)st->inputs));
	json_object_object_add(o, "reports", json_object_new_int64((int64_t)st->reports));
	json_object_object_add(o, "records", json_object_new_int64((int64_t)st->records));
	json_object_object_add(o, "duplicates", json_object_new_int64((int64_t)st->duplicates));
	json_object_object_add(o, "quarantined", json_object_new_int64((int64_t)st->quarantined));
	json_object_object_add(o, "replaced", json_object_new_int64((int64_t)st->replaced));
	json_object_object_add(o, "results", json_object_get(arr));
	rows_json_print(stdout, o);
	json_object_put(o);
}

int cmd_reprocess(int argc, char **argv)
{
	struct args a = {0};
	struct opt_common co;
	int rc;
	if (!opt_parse(&cmd, argc, argv, &a, &co, &rc))
		return rc;
	const char *tenant = a.tenant;
	const char *const *shas = (const char *const *)co.args;
	size_t nsha = (size_t)co.nargs;
	if (!a.all && nsha == 0)
		return opt_usage_error(&cmd);
	struct db *db = NULL;
	rc = cli_connect(co.db, &db);
	if (rc != 0)
		return rc;
	rc = cli_check_tenant(db, tenant);
	if (rc != EXIT_OK) {
		db_close(db);
		return rc;
	}
	struct err e = {0};
	struct pipeline *p = NULL;
	struct pipeline_opts po = {
	    .tenant_override = tenant, .reprocess = true, .pinned_strict = cli_pinned_strict()};
	rc = cli_ruf_options(NULL, &po.ruf); /* the [ruf] section of the usual file */
	if (rc != 0) {
		db_close(db);
		return rc;
	}
	if (co.format == ROWS_JSON)
		results = json_object_new_array();
	pipeline_new(&p, db, &po);
	if (a.all) {
		struct store_failure *f = NULL;
		size_t n = 0;
		if (store_failures_list(db, &f, &n, &e) == 0)
			for (size_t i = 0; i < n && !err_is_set(&e); i++)
				reprocess_one(p, db, f[i].sha256, &e);
		store_failures_free(f, n);
	} else {
		for (size_t i = 0; i < nsha && !err_is_set(&e); i++) {
			char *sha = NULL;
			if (store_raw_find(db, shas[i], &sha, &e) == 0)
				reprocess_one(p, db, sha, &e);
			free(sha);
		}
	}
	const struct pipeline_stats *st = pipeline_stats(p);
	if (results)
		print_json(st, results);
	else
		print_text(st);
	if (err_is_set(&e))
		rc = cli_fail(&e);
	else
		rc = st->quarantined ? EXIT_SOME_FAILED : EXIT_OK;
	json_object_put(results);
	results = NULL;
	pipeline_free(p);
	db_close(db);
	return rc;
}
