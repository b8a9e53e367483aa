/*
 * dmarcsift failures: the quarantine — inputs that could not be ingested,
 * with the stage that failed and why.
 */
#include "cli/cmd.h"
#include "cli/common.h"
#include "db/db.h"
#include "db/store.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
	fprintf(out, "usage: dmarcsift failures [--db CONN] [--json]\n"
	             "\n"
	             "Lists quarantined inputs still open: when, source, stage (mime, unpack,\n"
	             "xml, validate, store), the reason and the SHA-256 of the raw bytes, which\n"
	             "'dmarcsift reprocess SHA256' takes, and the tenant it belongs to when\n"
	             "that is known (the owner of the report's policy domain, else the\n"
	             "mailbox's pinned tenant).\n");
}

int cmd_failures(int argc, char **argv)
{
	const char *db_opt = NULL;
	int json = 0;
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
			printf("%s  %-8s %.12s  %s\n    %s\n", f[i].received_at, f[i].stage,
			       f[i].sha256, f[i].source, f[i].reason);
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
