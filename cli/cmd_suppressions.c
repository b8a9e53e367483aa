/*
 * dmarcsift suppressions: the active suppression list per tenant — address,
 * why (invalid_recipient: hard; mailbox_issue: soft, lifted by a later
 * delivery), first and last evidence — from dmarcsift.v_suppressions.
 */
#include "cli/cmd.h"
#include "cli/common.h"
#include "cli/opt.h"
#include "db/db.h"
#include "db/sql.h"
#include "db/store.h"
#include "reports/rows.h"

#include <regex.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct opt options[] = {
    {"tenant", 't', "T", "only this tenant"},
    {"since", 's', "S",
     "only suppressions added since S: a date (2026-11-01, or a\n"
     "timestamp 2026-11-01T08:00:00Z) or a duration (30m, 12h, 7d, 2w)"},
    {NULL, 0, NULL, NULL},
};

struct args {
	const char *tenant, *since;
};

static int on_opt(void *ctx, int key, const char *arg)
{
	struct args *a = ctx;
	if (key == 't')
		a->tenant = arg;
	else
		a->since = arg;
	return 0;
}

static const struct opt_cmd cmd = {
    .name = "suppressions",
    .synopsis = "usage: dmarcsift suppressions [--tenant T] [--since DATE|DURATION]\n"
                "                              [--format text|csv|json]\n",
    .about = "Lists the addresses that must not be mailed any more, per tenant: the reason\n"
             "(invalid_recipient after a hard bounce; mailbox_issue after repeated soft\n"
             "bounces, lifted again by a later delivery), the first and last evidence, how\n"
             "many bounces, and the last reply text.\n",
    .opts = options,
    .formats = OPT_TEXT | OPT_CSV | OPT_JSON,
    .on_opt = on_opt,
};

/* "7d" -> "7 days"; false when s is not a duration. */
static bool duration(const char *s, char *out, size_t outsz)
{
	char *end = NULL;
	long long n = strtoll(s, &end, 10);
	if (end == s || n < 0 || n > 1000000 || end[0] == '\0' || end[1] != '\0' || s[0] == '-' ||
	    s[0] == '+')
		return false;
	const char *unit = NULL;
	switch (end[0]) {
	case 'm':
		unit = "minutes";
		break;
	case 'h':
		unit = "hours";
		break;
	case 'd':
		unit = "days";
		break;
	case 'w':
		unit = "weeks";
		break;
	default:
		return false;
	}
	snprintf(out, outsz, "%lld %s", n, unit);
	return true;
}

static bool is_date(const char *s)
{
	regex_t re;
	if (regcomp(&re,
	            "^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2})?"
	            "(Z|[+-][0-9]{2}(:?[0-9]{2})?)?)?$",
	            REG_EXTENDED | REG_NOSUB) != 0)
		return false;
	bool ok = regexec(&re, s, 0, NULL, 0) == 0;
	regfree(&re);
	return ok;
}

int cmd_suppressions(int argc, char **argv)
{
	struct args a = {0};
	struct opt_common co;
	char interval[64], stamp[64];
	const char *params[3] = {NULL, NULL, NULL};
	struct db *db = NULL;
	PGresult *res = NULL;
	struct err e = {0};
	int rc;

	if (!opt_parse(&cmd, argc, argv, &a, &co, &rc))
		return rc;
	const char *tenant = a.tenant, *since = a.since;
	enum rows_format fmt = co.format;
	params[0] = tenant;
	if (since) {
		if (duration(since, interval, sizeof interval)) {
			params[1] = interval;
		} else if (is_date(since)) {
			/* Dates and times without a zone are UTC, as we print them. */
			size_t n = strlen(since);
			bool zoned = n > 10 && strpbrk(since + 10, "Z+-") != NULL;
			snprintf(stamp, sizeof stamp, "%s%s", since,
			         zoned ? "" : (n == 10 ? "T00:00:00Z" : "Z"));
			params[2] = stamp;
		} else {
			fprintf(stderr,
			        "dmarcsift: --since wants a date (2026-11-01) or a duration (7d), "
			        "not '%s'\n",
			        since);
			return EXIT_USAGE;
		}
	}
	rc = cli_connect(co.db, &db);
	if (rc != 0)
		return rc;
	if (tenant) {
		int id;
		if (store_tenant_resolve(db, NULL, tenant, &id, &e) < 0) {
			rc = cli_fail(&e);
			goto out;
		}
	}
	res = db_query(db, db_sql("suppressions_list"), 3, params);
	if (db_check(db, &res, PGRES_TUPLES_OK, "listing suppressions", &e) < 0) {
		/* A date PostgreSQL does not take (2026-02-30) is the user's. */
		rc = cli_fail(&e);
		if (strncmp(e.sqlstate, "22", 2) == 0)
			rc = EXIT_USAGE;
		goto out;
	}
	if (fmt == ROWS_TEXT && PQntuples(res) == 0)
		printf("no suppressed addresses\n");
	else
		cli_rows_print(stdout, res, fmt, 60);
	if (fflush(stdout) != 0)
		rc = EXIT_SOME_FAILED;
out:
	PQclear(res);
	db_close(db);
	return rc;
}
