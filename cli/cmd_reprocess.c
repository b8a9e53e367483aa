/*
 * dmarcsift reprocess: run quarantined inputs through the pipeline again,
 * from the raw bytes stored when they first arrived.
 */
#include "app/pipeline.h"
#include "cli/cmd.h"
#include "cli/common.h"
#include "db/db.h"
#include "db/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
	fprintf(out, "usage: dmarcsift reprocess [--db CONN] [--tenant NAME] SHA256...|--all\n"
	             "\n"
	             "Retries quarantined inputs from their stored raw bytes, e.g. after adding\n"
	             "a tenant or upgrading dmarcsift. SHA256 as printed by 'dmarcsift failures':\n"
	             "the whole 64 hex digits or any prefix of 8 or more that names one stored\n"
	             "input. Exit 0 when all of them now ingest, 1 otherwise.\n");
}

static int reprocess_one(struct pipeline *p, struct db *db, const char *sha, struct err *e)
{
	unsigned char *data = NULL;
	size_t len = 0;
	char *source = NULL;
	enum pipeline_outcome outcome;
	if (store_raw_get(db, sha, &data, &len, &source, e) != 0)
		return -1;
	int rc = pipeline_ingest(p, data, len, source ? source : sha, &outcome, e);
	if (rc == 0)
		printf("%.12s  %s: %s\n", sha, source ? source : "",
		       outcome == PIPE_QUARANTINED ? pipeline_last_reason(p)
		       : outcome == PIPE_DSN       ? "bounce events stored"
		                                   : "ingested");
	free(data);
	free(source);
	return rc;
}

int cmd_reprocess(int argc, char **argv)
{
	const char *db_opt = NULL, *tenant = NULL;
	int all = 0;
	const char **shas = calloc((size_t)argc, sizeof *shas);
	size_t nsha = 0;
	if (!shas)
		abort();
	for (int i = 1; i < argc; i++) {
		if (cli_is_help(argv[i])) {
			free(shas);
			usage(stdout);
			return EXIT_OK;
		} else if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
			db_opt = argv[++i];
		} else if (strcmp(argv[i], "--tenant") == 0 && i + 1 < argc) {
			tenant = argv[++i];
		} else if (strcmp(argv[i], "--all") == 0) {
			all = 1;
		} else if (argv[i][0] == '-') {
			free(shas);
			usage(stderr);
			return EXIT_USAGE;
		} else {
			shas[nsha++] = argv[i];
		}
	}
	if (!all && nsha == 0) {
		free(shas);
		usage(stderr);
		return EXIT_USAGE;
	}
	struct db *db = NULL;
	int rc = cli_connect(db_opt, &db);
	if (rc != 0) {
		free(shas);
		return rc;
	}
	rc = cli_check_tenant(db, tenant);
	if (rc != EXIT_OK) {
		db_close(db);
		free(shas);
		return rc;
	}
	struct err e = {0};
	struct pipeline *p = NULL;
	struct pipeline_opts po = {
	    .tenant_override = tenant, .reprocess = true, .pinned_strict = cli_pinned_strict()};
	rc = cli_ruf_options(NULL, &po.ruf); /* the [ruf] section of the usual file */
	if (rc != 0) {
		db_close(db);
		free(shas);
		return rc;
	}
	pipeline_new(&p, db, &po);
	if (all) {
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
	printf("%llu input(s) retried: %llu reports (%llu records) ingested, %llu duplicates, "
	       "%llu still quarantined",
	       (unsigned long long)st->inputs, (unsigned long long)st->reports,
	       (unsigned long long)st->records, (unsigned long long)st->duplicates,
	       (unsigned long long)st->quarantined);
	if (st->replaced)
		printf(", %llu replaced", (unsigned long long)st->replaced);
	printf("\n");
	if (err_is_set(&e))
		rc = cli_fail(&e);
	else
		rc = st->quarantined ? EXIT_SOME_FAILED : EXIT_OK;
	pipeline_free(p);
	db_close(db);
	free(shas);
	return rc;
}
