/*
 * dmarcsift tenant: the client organisations of an install, the domains each
 * one owns, and the database roles that read each one.
 */
#include "cli/cmd.h"
#include "cli/common.h"
#include "cli/opt.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "db/db.h"
#include "db/migrate.h"
#include "db/store.h"
#include "reports/rows.h"

#include <json-c/json.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { O_LOGIN = OPT_KEY, O_PURGE };

static const struct opt options[] = {
    {"login", O_LOGIN, NULL, "grant: the role may log in (created LOGIN)"},
    {"purge", O_PURGE, NULL, "remove: delete the tenant's data too"},
    {NULL, 0, NULL, NULL},
};

struct args {
	bool login, purge;
};

static int on_opt(void *ctx, int key, const char *arg)
{
	struct args *a = ctx;
	(void)arg;
	if (key == O_LOGIN)
		a->login = true;
	else
		a->purge = true;
	return 0;
}

static const struct opt_cmd cmd = {
    .name = "tenant",
    .synopsis = "usage: dmarcsift tenant add NAME DOMAIN...\n"
                "       dmarcsift tenant list | show NAME   [--format text|csv|json]\n"
                "       dmarcsift tenant domain add|remove NAME DOMAIN...\n"
                "       dmarcsift tenant rename NAME NEWNAME\n"
                "       dmarcsift tenant remove NAME [--purge]\n"
                "       dmarcsift tenant import FILE               (CSV lines: tenant,domain)\n"
                "       dmarcsift tenant grant NAME ROLE [--login] | revoke NAME ROLE\n",
    .about = "A report (or bounce) belongs to the tenant owning the most specific of its\n"
             "domain and that domain's parents (a.sub.example.com: the owner of\n"
             "sub.example.com before the owner of example.com); what nobody owns waits in\n"
             "the built-in tenant 'unassigned', and adding a domain adopts it. Domains are\n"
             "stored as IDNA 2008 A-labels in lower case; public suffixes and wildcards are\n"
             "refused. Names are trimmed and unique without regard to case.\n"
             "remove returns the tenant's data to 'unassigned' (--purge deletes it).\n"
             "import adds every pair of FILE in one transaction; running it again changes\n"
             "nothing. grant lets database role ROLE read tenant NAME through the views\n"
             "(creating ROLE, LOGIN with --login, when this role may; else it prints the\n"
             "SQL a DBA must run); revoke takes that away.\n",
    .opts = options,
    .formats = OPT_TEXT | OPT_CSV | OPT_JSON,
    .args = true,
    .on_opt = on_opt,
};

static void print_dba(char **dba, size_t n)
{
	if (n == 0)
		return;
	printf("this role may not change roles; a DBA must run:\n");
	for (size_t i = 0; i < n; i++)
		printf("%s\n", dba[i]);
}

static void print_adopted(const struct store_adopted *a)
{
	printf("adopted from 'unassigned': %lld report(s), %lld bounce(s), %lld suppression(s), "
	       "%lld escalation(s), %lld quarantined input(s), %lld flag(s), %lld TLS report(s), "
	       "%lld failure report(s)\n",
	       a->reports, a->bounces, a->suppressions, a->escalations, a->failures, a->flags,
	       a->tls_reports, a->failure_reports);
}

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
	print_dba(dba, n);
	migrate_sql_free(dba, n);
	return EXIT_OK;
}

/* "a,b" as a JSON array of strings. */
static json_object *json_list(const char *csv)
{
	json_object *arr = json_object_new_array();
	for (const char *p = csv; *p;) {
		size_t n = strcspn(p, ",");
		json_object_array_add(arr, json_object_new_string_len(p, (int)n));
		p += n;
		if (*p == ',')
			p++;
	}
	return arr;
}

static json_object *tenant_json(const struct store_tenant *t)
{
	json_object *o = json_object_new_object();
	char when[32];
	json_object_object_add(o, "tenant", json_object_new_string(t->name));
	json_object_object_add(o, "created_at",
	                       rows_time_rfc3339(t->created_at, when, sizeof when) == 0
	                           ? json_object_new_string(when)
	                           : NULL);
	json_object_object_add(o, "domains", json_list(t->domains));
	json_object_object_add(o, "reports", json_object_new_int64(t->reports));
	json_object_object_add(o, "records", json_object_new_int64(t->records));
	json_object_object_add(o, "bounces", json_object_new_int64(t->bounces));
	json_object_object_add(o, "suppressions", json_object_new_int64(t->suppressions));
	json_object_object_add(o, "escalations", json_object_new_int64(t->escalations));
	json_object_object_add(o, "roles", json_list(t->roles));
	return o;
}

/* CSV: the JSON fields, lists joined with spaces. */
static const char *const csv_columns[] = {"tenant",       "created_at",  "domains",
                                          "reports",      "records",     "bounces",
                                          "suppressions", "escalations", "roles"};

static const char *csv_name(const void *src, int col)
{
	(void)src;
	return csv_columns[col];
}

static enum rows_kind csv_kind(const void *src, int col)
{
	(void)src;
	(void)col;
	return ROWS_KIND_STRING;
}

static const char *csv_value(const void *src, int row, int col)
{
	const struct store_tenant *t = (const struct store_tenant *)src + row;
	static char num[32];
	const int64_t counts[] = {t->reports, t->records, t->bounces, t->suppressions,
	                          t->escalations};
	switch (col) {
	case 0:
		return t->name;
	case 1:
		return t->created_at;
	case 2:
		return t->domains;
	case 8:
		return t->roles;
	default:
		snprintf(num, sizeof num, "%lld", (long long)counts[col - 3]);
		return num;
	}
}

static bool csv_is_null(const void *src, int row, int col)
{
	(void)src;
	(void)row;
	(void)col;
	return false;
}

static int list_or_show(struct db *db, const char *name, enum rows_format fmt)
{
	struct err e = {0};
	struct store_tenant *t = NULL;
	size_t n = 0;
	int id = -1;
	if ((name && store_tenant_id(db, name, &id, &e) != 0) ||
	    store_tenant_list(db, &t, &n, &e) != 0)
		return cli_fail(&e);
	if (fmt == ROWS_CSV) {
		size_t first = 0, count = n;
		for (size_t i = 0; name && i < n; i++)
			if (strcasecmp(t[i].name, name) == 0)
				first = i, count = 1;
		const struct rows_table tab = {.src = t + first,
		                               .ncols = 9,
		                               .nrows = (int)count,
		                               .name = csv_name,
		                               .kind = csv_kind,
		                               .value = csv_value,
		                               .is_null = csv_is_null};
		rows_print(stdout, &tab, ROWS_CSV, 0);
		store_tenant_list_free(t, n);
		return EXIT_OK;
	}
	if (!name && fmt == ROWS_TEXT)
		printf("%-24s %10s %12s  %s\n", "TENANT", "REPORTS", "RECORDS", "DOMAINS");
	for (size_t i = 0; i < n; i++) {
		if (name && strcasecmp(t[i].name, name) != 0)
			continue;
		if (fmt == ROWS_JSON) {
			json_object *o = tenant_json(&t[i]);
			rows_json_print(stdout, o);
			json_object_put(o);
			continue;
		}
		if (!name) {
			printf("%-24s %10lld %12lld  %s%s\n", t[i].name, (long long)t[i].reports,
			       (long long)t[i].records, t[i].domains,
			       i == 0 && t[i].reports > 0 ? "(reports waiting for a tenant)" : "");
			continue;
		}
		printf("tenant:        %s\ncreated:       %s\ndomains:       %s\n"
		       "reports:       %lld (%lld records)\nbounces:       %lld\n"
		       "suppressions:  %lld active\nescalations:   %lld open\n"
		       "reading roles: %s\n",
		       t[i].name, t[i].created_at, *t[i].domains ? t[i].domains : "(none)",
		       (long long)t[i].reports, (long long)t[i].records, (long long)t[i].bounces,
		       (long long)t[i].suppressions, (long long)t[i].escalations,
		       *t[i].roles ? t[i].roles : "(none)");
	}
	store_tenant_list_free(t, n);
	return EXIT_OK;
}

/* Trims blanks at both ends in place. */
static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

/* FILE: one `tenant,domain` pair a line; blank lines, '#' comments and a
 * `tenant,domain` header are skipped. Quoting is not supported (neither
 * field needs a comma), and is refused rather than misread. */
static int import(struct db *db, const char *path)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	if (!f) {
		log_error("cannot open %s", path);
		return EXIT_USAGE;
	}
	char *line = NULL;
	size_t cap = 0, n = 0, alloc = 0, lineno = 0;
	char **tenants = NULL, **domains = NULL;
	int rc = EXIT_OK;
	while (getline(&line, &cap, f) > 0) {
		lineno++;
		line[strcspn(line, "\n")] = '\0';
		char *s = trim(line);
		if (*s == '\0' || *s == '#')
			continue;
		char *comma = strchr(s, ',');
		if (!comma || strchr(comma + 1, ',') || strchr(s, '"')) {
			fprintf(
			    stderr,
			    "dmarcsift: error: %s:%zu: expected 'tenant,domain' (no quotes), got "
			    "'%s'\n",
			    path, lineno, s);
			rc = EXIT_USAGE;
			break;
		}
		*comma = '\0';
		char *t = trim(s), *d = trim(comma + 1);
		if (lineno == 1 && strcasecmp(t, "tenant") == 0 && strcasecmp(d, "domain") == 0)
			continue;
		if (n == alloc) {
			alloc = alloc ? alloc * 2 : 64;
			tenants = xrealloc(tenants, alloc * sizeof *tenants);
			domains = xrealloc(domains, alloc * sizeof *domains);
		}
		tenants[n] = xstrdup(t);
		domains[n] = xstrdup(d);
		n++;
	}
	free(line);
	if (f != stdin)
		fclose(f);
	if (rc == EXIT_OK) {
		struct err e = {0};
		struct store_adopted a = {0};
		long long nt = 0, nd = 0;
		if (store_tenant_import(db, (const char *const *)tenants,
		                        (const char *const *)domains, n, &nt, &nd, &a, &e) != 0) {
			rc = cli_fail(&e);
		} else {
			printf("%zu pair(s) read: %lld new tenant(s), %lld new domain(s)\n", n, nt,
			       nd);
			print_adopted(&a);
		}
	}
	for (size_t i = 0; i < n; i++) {
		free(tenants[i]);
		free(domains[i]);
	}
	free(tenants);
	free(domains);
	return rc;
}

/* Checks the positional arguments against the action before connecting. */
static bool args_ok(const char *const *a, size_t n, bool login, bool purge)
{
	const char *v = a[0];
	if (login && strcmp(v, "grant") != 0)
		return false;
	if (purge && strcmp(v, "remove") != 0)
		return false;
	if (strcmp(v, "add") == 0)
		return n >= 3;
	if (strcmp(v, "list") == 0)
		return n == 1;
	if (strcmp(v, "show") == 0 || strcmp(v, "remove") == 0 || strcmp(v, "import") == 0)
		return n == 2;
	if (strcmp(v, "rename") == 0 || strcmp(v, "grant") == 0 || strcmp(v, "revoke") == 0)
		return n == 3;
	if (strcmp(v, "domain") == 0)
		return n >= 4 && (strcmp(a[1], "add") == 0 || (strcmp(a[1], "remove") == 0));
	return false;
}

int cmd_tenant(int argc, char **argv)
{
	struct args o = {0};
	struct opt_common co;
	int rc;
	if (!opt_parse(&cmd, argc, argv, &o, &co, &rc))
		return rc;
	const char *const *args = (const char *const *)co.args;
	size_t nargs = (size_t)co.nargs;
	bool login = o.login, purge = o.purge;
	if (nargs == 0 || !args_ok(args, nargs, login, purge))
		return opt_usage_error(&cmd);
	if (co.format != ROWS_TEXT && strcmp(args[0], "list") != 0 &&
	    strcmp(args[0], "show") != 0) {
		fprintf(stderr, "dmarcsift tenant: --format is for list and show\n");
		return EXIT_USAGE;
	}

	struct db *db = NULL;
	rc = cli_connect(co.db, &db);
	if (rc != 0)
		return rc;
	struct err e = {0};
	struct store_adopted a = {0};
	const char *v = args[0];
	if (strcmp(v, "grant") == 0 || strcmp(v, "revoke") == 0) {
		rc = grant_revoke(db, strcmp(v, "grant") == 0, args[1], args[2], login);
	} else if (strcmp(v, "list") == 0 || strcmp(v, "show") == 0) {
		rc = list_or_show(db, nargs > 1 ? args[1] : NULL, co.format);
	} else if (strcmp(v, "import") == 0) {
		rc = import(db, args[1]);
	} else if (strcmp(v, "add") == 0 ||
	           (strcmp(v, "domain") == 0 && strcmp(args[1], "add") == 0)) {
		bool create = strcmp(v, "add") == 0;
		const char *name = create ? args[1] : args[2];
		size_t first = create ? 2 : 3;
		if (store_tenant_domain_add(db, name, args + first, nargs - first, create, &a,
		                            &e) != 0) {
			rc = cli_fail(&e);
		} else {
			printf("tenant %s owns %zu more domain(s)\n", name, nargs - first);
			print_adopted(&a);
		}
	} else if (strcmp(v, "domain") == 0) {
		for (size_t i = 3; i < nargs && rc == EXIT_OK; i++) {
			if (store_tenant_domain_remove(db, args[2], args[i], &e) != 0)
				rc = cli_fail(&e);
			else
				printf("tenant %s no longer owns %s (its data stays with it)\n",
				       args[2], args[i]);
		}
	} else if (strcmp(v, "rename") == 0) {
		if (store_tenant_rename(db, args[1], args[2], &e) != 0)
			rc = cli_fail(&e);
		else
			printf("tenant %s is now %s\n", args[1], args[2]);
	} else {
		long long rows = 0;
		if (store_tenant_remove(db, args[1], purge, &rows, &e) != 0)
			rc = cli_fail(&e);
		else
			printf("tenant %s removed; %lld row(s) %s\n", args[1], rows,
			       purge ? "deleted" : "returned to 'unassigned'");
	}
	db_close(db);
	return rc;
}
