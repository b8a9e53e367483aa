/*
 * dmarcsift failures: the quarantine — inputs that could not be ingested,
 * with the stage that failed and why.
 */
#include "cli/cmd.h"
#include "cli/common.h"
#include "core/duration.h"
#include "db/db.h"
#include "db/store.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: dmarcsift failures [--db CONN] [--json]\n"
	        "       dmarcsift failures dismiss [--db CONN] [--dry-run] SHA256...\n"
	        "       dmarcsift failures dismiss [--db CONN] [--dry-run] --older-than DURATION\n"
	        "\n"
	        "Lists quarantined inputs still open: when, source, stage (mime, unpack,\n"
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
	        "would be closed.\n");
}

/* Closes the open entry of one input, or (sha NULL) those older than
 * older_s seconds, and says which. */
static int dismiss_some(struct db *db, const char *sha, long long older_s, bool dry_run,
                        size_t *total, struct err *e)
{
	char **shas = NULL;
	size_t n = 0;
	if (store_failures_dismiss(db, sha, older_s, dry_run, &shas, &n, e) != 0)
		return -1;
	if (sha && n == 0)
		printf("%s: no open failure (already reprocessed or dismissed)\n", sha);
	for (size_t k = 0; k < n; k++) {
		printf("%s %s\n", dry_run ? "would dismiss" : "dismissed", shas[k]);
		free(shas[k]);
	}
	free(shas);
	*total += n;
	return 0;
}

static int dismiss(int argc, char **argv)
{
	const char *db_opt = NULL, *older = NULL;
	bool dry_run = false;
	const char **args = calloc((size_t)argc, sizeof *args);
	size_t nargs = 0;
	if (!args)
		abort();
	int rc = EXIT_OK;
	for (int i = 1; i < argc && rc == EXIT_OK; i++) {
		if (cli_is_help(argv[i])) {
			usage(stdout);
			free(args);
			return EXIT_OK;
		} else if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
			db_opt = argv[++i];
		} else if (strcmp(argv[i], "--older-than") == 0 && i + 1 < argc) {
			older = argv[++i];
		} else if (strcmp(argv[i], "--dry-run") == 0) {
			dry_run = true;
		} else if (argv[i][0] == '-') {
			rc = EXIT_USAGE;
		} else {
			args[nargs++] = argv[i];
		}
	}
	long long older_s = -1;
	if (rc == EXIT_OK && older && (older_s = duration_parse(older, 100LL * 366 * 86400)) < 0) {
		fprintf(stderr,
		        "dmarcsift: --older-than '%s': expected a duration such as 30d, 12h or "
		        "2w\n",
		        older);
		rc = EXIT_USAGE;
	} else if (rc == EXIT_OK && (older != NULL) == (nargs > 0)) {
		fprintf(stderr, "dmarcsift: failures dismiss takes SHA-256s or --older-than, one "
		                "of the two\n");
		rc = EXIT_USAGE;
	}
	if (rc != EXIT_OK) {
		usage(stderr);
		free(args);
		return rc;
	}
	struct db *db = NULL;
	rc = cli_connect(db_opt, &db);
	if (rc != 0) {
		free(args);
		return rc;
	}
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
	if (!err_is_set(&e))
		printf("%zu failure(s) %s\n", total, dry_run ? "would be dismissed" : "dismissed");
	rc = err_is_set(&e) ? cli_fail(&e) : EXIT_OK;
	db_close(db);
	free(args);
	return rc;
}

int cmd_failures(int argc, char **argv)
{
	const char *db_opt = NULL;
	int json = 0;
	if (argc > 1 && strcmp(argv[1], "dismiss") == 0)
		return dismiss(argc - 1, argv + 1);
	for (int i = 1; i < argc; i++) {
		if (cli_is_help(argv[i])) {
			usage(stdout);
			return EXIT_OK;
		} else if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
			db_opt = argv[++i];
		} else if (strcmp(argv[i], "--json") == 0) {
			json = 1;
		} else {
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	struct db *db = NULL;
	int rc = cli_connect(db_opt, &db);
	if (rc != 0)
		return rc;
	struct err e = {0};
	struct store_failure *f = NULL;
	size_t n = 0;
	if (store_failures_list(db, &f, &n, &e) != 0) {
		rc = cli_fail(&e);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (json) {
			json_object *o = json_object_new_object();
			json_object_object_add(o, "received_at",
			                       json_object_new_string(f[i].received_at));
			json_object_object_add(o, "source", json_object_new_string(f[i].source));
			json_object_object_add(o, "stage", json_object_new_string(f[i].stage));
			json_object_object_add(o, "reason", json_object_new_string(f[i].reason));
			json_object_object_add(o, "sha256", json_object_new_string(f[i].sha256));
			json_object_object_add(o, "tenant", json_object_new_string(f[i].tenant));
			json_object_object_add(
			    o, "domain", f[i].domain ? json_object_new_string(f[i].domain) : NULL);
			printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
			json_object_put(o);
		} else {
			printf("%s  %-8s %s\n    %s\n    sha256 %s\n", f[i].received_at, f[i].stage,
			       f[i].source, f[i].reason, f[i].sha256);
			if (strcmp(f[i].tenant, "unassigned") != 0 || f[i].domain)
				printf("    tenant %s%s%s\n", f[i].tenant,
				       f[i].domain ? ", domain " : "",
				       f[i].domain ? f[i].domain : "");
		}
	}
	if (!json)
		printf("%zu open failure(s)\n", n);
	store_failures_free(f, n);
out:
	db_close(db);
	return rc;
}
