/*
 * dmarcsift tenant: the client organisations of an install and the domains
 * each one owns.
 */
#include "cli/cmd.h"
#include "cli/common.h"
#include "db/db.h"
#include "db/migrate.h"
#include "db/store.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: dmarcsift tenant add NAME DOMAIN... [--db CONN]\n"
	        "       dmarcsift tenant list [--db CONN]\n"
	        "       dmarcsift tenant grant NAME ROLE [--login] [--db CONN]\n"
	        "       dmarcsift tenant revoke NAME ROLE [--db CONN]\n"
	        "\n"
	        "A report belongs to the tenant owning its policy domain or that domain's\n"
	        "organisational domain (public suffix list); reports for domains nobody\n"
	        "owns wait in the built-in tenant 'unassigned' ('tenant list' counts them).\n"
	        "After adding a tenant, 'dmarcsift reprocess --all' retries quarantined input.\n"
	        "\n"
	        "grant lets database role ROLE read tenant NAME through the views (creating\n"
	        "ROLE, a LOGIN role with --login, when this role may; else it prints the SQL\n"
	        "a DBA must run); revoke takes that away. Isolation is bound to the role:\n"
	        "no setting a reader can change shows it another tenant.\n");
}

/* grant / revoke: the statements we could not run go to the DBA. */
static int grant_revoke(struct db *db, bool grant, const char *tenant, const char *role, bool login)
{
	struct err e = {0};
	char **dba = NULL;
	size_t n = 0;
	int rc = grant ? store_tenant_grant(db, tenant, role, login, &dba, &n, &e)
	               : store_tenant_revoke(db, tenant, role, &dba, &n, &e);
	if (rc != 0)
		return cli_fail(&e);
	printf(grant ? "role %s reads tenant %s\n" : "role %s no longer reads tenant %s\n", role,
	       tenant);
	if (n > 0) {
		printf("this role may not change roles; a DBA must run:\n");
		for (size_t i = 0; i < n; i++)
			printf("%s\n", dba[i]);
	}
	migrate_sql_free(dba, n);
	return EXIT_OK;
}

int cmd_tenant(int argc, char **argv)
{
	const char *db_opt = NULL;
	bool login = false;
	const char *args[256] = {0};
	size_t nargs = 0;
	for (int i = 1; i < argc; i++) {
		if (cli_is_help(argv[i])) {
			usage(stdout);
			return EXIT_OK;
		} else if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
			db_opt = argv[++i];
		} else if (strcmp(argv[i], "--login") == 0) {
			login = true;
		} else if (argv[i][0] == '-' || nargs == sizeof args / sizeof args[0]) {
			usage(stderr);
			return EXIT_USAGE;
		} else {
			args[nargs++] = argv[i];
		}
	}
	bool is_grant = nargs > 0 && strcmp(args[0], "grant") == 0;
	bool is_revoke = nargs > 0 && strcmp(args[0], "revoke") == 0;
	if (nargs == 0 || (strcmp(args[0], "add") == 0 && nargs < 3) ||
	    ((is_grant || is_revoke) && nargs != 3) || (login && !is_grant) ||
	    (strcmp(args[0], "add") != 0 && strcmp(args[0], "list") != 0 && !is_grant &&
	     !is_revoke)) {
		usage(stderr);
		return EXIT_USAGE;
	}

	struct db *db = NULL;
	int rc = cli_connect(db_opt, &db);
	if (rc != 0)
		return rc;
	struct err e = {0};
	if (is_grant || is_revoke) {
		rc = grant_revoke(db, is_grant, args[1], args[2], login);
	} else if (strcmp(args[0], "add") == 0) {
		if (store_tenant_add(db, args[1], args + 2, nargs - 2, &e) != 0)
			rc = cli_fail(&e);
		else
			printf("tenant %s owns %zu domain(s)\n", args[1], nargs - 2);
	} else {
		struct store_tenant *t = NULL;
		size_t n = 0;
		if (store_tenant_list(db, &t, &n, &e) != 0) {
			rc = cli_fail(&e);
		} else {
			printf("%-24s %10s %12s  %s\n", "TENANT", "REPORTS", "RECORDS", "DOMAINS");
			for (size_t i = 0; i < n; i++)
				printf("%-24s %10lld %12lld  %s%s\n", t[i].name,
				       (long long)t[i].reports, (long long)t[i].records,
				       t[i].domains ? t[i].domains : "",
				       strcmp(t[i].name, "unassigned") == 0 && t[i].reports > 0
				           ? "(reports waiting for a tenant)"
				           : "");
			store_tenant_list_free(t, n);
		}
	}
	db_close(db);
	return rc;
}
