/*
 * dmarcsift failures: the quarantine — inputs that could not be ingested,
 * with the stage that failed and why.
 */
#include "cli/cmd.h"
#include "cli/common.h"
#include "cli/opt.h"
#include "core/duration.h"
#include "db/db.h"
#include "db/store.h"
#include "reports/rows.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct opt_cmd cmd = {
    .name = "failures",
    .synopsis = "usage: dmarcsift failures [--format text|csv|json]\n"
                "       dmarcsift failures dismiss [--dry-run] [--format text|json] SHA256...\n"
                "       dmarcsift failures dismiss [--dry-run] [--format text|json]\n"
                "                                  --older-than DURATION\n",
    .about = "Lists quarantined inputs still open: when, source, stage (mime, unpack,\n"
             "xml, validate, store), the reason and the SHA-256 of the raw bytes, which\n"
             "'dmarcsift reprocess' takes (whole or any unique prefix of 8+ digits), and\n"
             "the tenant it belongs to when that is known (the owner of the report's\n"
             "policy domain, else the mailbox's pinned tenant).\n"
             "\n"
             "dismiss closes entries that will never parse: the given ones (SHA-256 or a\n"
             "unique prefix), or every entry first seen longer ago than DURATION (e.g.\n"
             "30d, 12h, 2w). Their raw bytes are kept, marked dismissed (view\n"
             "v_failures_dismissed); 'dmarcsift reprocess' can still retry them, and the\n"
             "same bytes arriving again are not quarantined again. --dry-run lists what\n"
             "would be closed.\n",
    .formats = OPT_TEXT | OPT_CSV | OPT_JSON,
};

enum { O_OLDER = OPT_KEY, O_DRY_RUN };

static const struct opt dismiss_options[] = {
    {"older-than", O_OLDER, "DURATION", "every entry first seen longer ago (30d, 12h, 2w)"},
    {"dry-run", O_DRY_RUN, NULL, "only list what would be closed"},
    {NULL, 0, NULL, NULL},
};

struct dismiss_args {
	const char *older;
	bool dry_run;
};

static int on_dismiss_opt(void *ctx, int key, const char *arg)
{
	struct dismiss_args *a = ctx;
	if (key == O_OLDER)
		a->older = arg;
	else
		a->dry_run = true;
	return 0;
}

static const struct opt_cmd dismiss_cmd = {
    .name = "failures dismiss",
    .synopsis = "usage: dmarcsift failures dismiss [--dry-run] SHA256...\n"
                "       dmarcsift failures dismiss [--dry-run] --older-than DURATION\n",
    .about = "Closes quarantine entries that will never parse: the given ones (SHA-256 or\n"
             "a unique prefix of 8+ digits), or every entry first seen longer ago than\n"
             "DURATION. Their raw bytes are kept, marked dismissed (view\n"
             "v_failures_dismissed); 'dmarcsift reprocess' can still retry them, and the\n"
             "same bytes arriving again are not quarantined again.\n",
    .opts = dismiss_options,
    .formats = OPT_TEXT | OPT_JSON,
    .args = true,
    .on_opt = on_dismiss_opt,
};

/* --format json: the SHA-256s closed, for the one summary object (NULL:
 * text, said as they go). */
static json_object *closed;

/* Closes the open entry of one input, or (sha NULL) those older than
 * older_s seconds, and says which. */
static int dismiss_some(struct db *db, const char *sha, long long older_s, bool dry_run,
                        size_t *total, struct err *e)
{
	char **shas = NULL;
	size_t n = 0;
	if (store_failures_dismiss(db, sha, older_s, dry_run, &shas, &n, e) != 0)
		return -1;
	if (sha && n == 0 && !closed)
		printf("%s: no open failure (already reprocessed or dismissed)\n", sha);
	for (size_t k = 0; k < n; k++) {
		if (closed)
			json_object_array_add(closed, json_object_new_string(shas[k]));
		else
			printf("%s %s\n", dry_run ? "would dismiss" : "dismissed", shas[k]);
		free(shas[k]);
	}
	free(shas);
	*total += n;
	return 0;
}

static int dismiss(int argc, char **argv)
{
	struct dismiss_args a = {0};
	struct opt_common co;
	int rc;
	if (!opt_parse(&dismiss_cmd, argc, argv, &a, &co, &rc))
		return rc;
	const char *older = a.older;
	bool dry_run = a.dry_run;
	const char *const *args = (const char *const *)co.args;
	size_t nargs = (size_t)co.nargs;
	long long older_s = -1;
	if (older && (older_s = duration_parse(older, 100LL * 366 * 86400)) < 0) {
		fprintf(stderr,
		        "dmarcsift: --older-than '%s': expected a duration such as 30d, 12h or "
		        "2w\n",
		        older);
		return opt_usage_error(&dismiss_cmd);
	}
	if ((older != NULL) == (nargs > 0)) {
		fprintf(stderr, "dmarcsift: failures dismiss takes SHA-256s or --older-than, one "
		                "of the two\n");
		return opt_usage_error(&dismiss_cmd);
	}
	struct db *db = NULL;
	rc = cli_connect(co.db, &db);
	if (rc != 0)
		return rc;
	if (co.format == ROWS_JSON)
		closed = json_object_new_array();
	struct err e = {0};
	size_t total = 0;
	if (older)
		dismiss_some(db, NULL, older_s, dry_run, &total, &e);
	for (size_t i = 0; i < nargs && !err_is_set(&e); i++) {
		char *sha = NULL;
		if (store_raw_find(db, args[i], &sha, &e) == 0)
			dismiss_some(db, sha, -1, dry_run, &total, &e);
		free(sha);
	}
	if (!err_is_set(&e) && closed) {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "dry_run", json_object_new_boolean(dry_run));
		json_object_object_add(o, "dismissed", json_object_get(closed));
		json_object_object_add(o, "count", json_object_new_int64((int64_t)total));
		rows_json_print(stdout, o);
		json_object_put(o);
	} else if (!err_is_set(&e)) {
		printf("%zu failure(s) %s\n", total, dry_run ? "would be dismissed" : "dismissed");
	}
	json_object_put(closed);
	closed = NULL;
	rc = err_is_set(&e) ? cli_fail(&e) : EXIT_OK;
	db_close(db);
	return rc;
}

static const char *const columns[] = {"received_at", "source", "stage", "reason",
                                      "sha256",      "tenant", "domain"};

static const char *col_name(const void *src, int col)
{
	(void)src;
	return columns[col];
}

static enum rows_kind col_kind(const void *src, int col)
{
	(void)src;
	return col == 0 ? ROWS_KIND_TIME : ROWS_KIND_STRING;
}

static const char *col_value(const void *src, int row, int col)
{
	const struct store_failure *f = (const struct store_failure *)src + row;
	const char *v[] = {f->received_at, f->source, f->stage, f->reason,
	                   f->sha256,      f->tenant, f->domain};
	return v[col] ? v[col] : "";
}

static bool col_is_null(const void *src, int row, int col)
{
	return col == 6 && !((const struct store_failure *)src)[row].domain;
}

int cmd_failures(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "dismiss") == 0)
		return dismiss(argc - 1, argv + 1);
	struct opt_common co;
	int rc;
	if (!opt_parse(&cmd, argc, argv, NULL, &co, &rc))
		return rc;
	struct db *db = NULL;
	rc = cli_connect(co.db, &db);
	if (rc != 0)
		return rc;
	struct err e = {0};
	struct store_failure *f = NULL;
	size_t n = 0;
	if (store_failures_list(db, &f, &n, &e) != 0) {
		rc = cli_fail(&e);
		goto out;
	}
	if (co.format != ROWS_TEXT) {
		const struct rows_table t = {.src = f,
		                             .ncols = 7,
		                             .nrows = (int)n,
		                             .name = col_name,
		                             .kind = col_kind,
		                             .value = col_value,
		                             .is_null = col_is_null};
		rows_print(stdout, &t, co.format, 0);
	}
	for (size_t i = 0; i < n && co.format == ROWS_TEXT; i++) {
		printf("%s  %-8s %s\n    %s\n    sha256 %s\n", f[i].received_at, f[i].stage,
		       f[i].source, f[i].reason, f[i].sha256);
		if (strcmp(f[i].tenant, "unassigned") != 0 || f[i].domain)
			printf("    tenant %s%s%s\n", f[i].tenant, f[i].domain ? ", domain " : "",
			       f[i].domain ? f[i].domain : "");
	}
	if (co.format == ROWS_TEXT)
		printf("%zu open failure(s)\n", n);
	store_failures_free(f, n);
	if (fflush(stdout) != 0)
		rc = EXIT_SOME_FAILED;
out:
	db_close(db);
	return rc;
}
