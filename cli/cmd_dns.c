/*
 * dmarcsift dns: `check` checks each tenant domain's DMARC, SPF, DKIM (the
 * selectors its reports show), MTA-STS and TLS-RPT records against the
 * RFCs and against what the aggregate reports show (app/dnscheck.h), and
 * prints the findings with a fix each; `changes` prints the record changes
 * seen between runs (dmarcsift.v_dns_changes).
 */
#include "app/dnscheck.h"
#include "cli/cmd.h"
#include "cli/common.h"
#include "cli/config.h"
#include "cli/opt.h"
#include "cli/sources.h"
#include "db/db.h"
#include "db/sql.h"
#include "reports/rows.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { O_TENANT = OPT_KEY, O_DAYS, O_SERVERS, O_NO_FETCH, O_FETCH_TIMEOUT };

static const struct opt options[] = {
    {"tenant", O_TENANT, "T", "only this tenant's domains"},
    {"days", O_DAYS, "N", "check: report data used: the last N days (default 30)"},
    {"dns-servers", O_SERVERS, "L",
     "check: IP[:PORT],... (default: [dns] servers,\n"
     "$DMARCSIFT_DNS_SERVERS, else /etc/resolv.conf)"},
    {"no-fetch", O_NO_FETCH, NULL, "check: do not fetch MTA-STS policies over HTTPS"},
    {"fetch-timeout", O_FETCH_TIMEOUT, "S", "check: seconds per policy fetch (default 10)"},
    {NULL, 0, NULL, NULL},
};

struct args {
	const char *tenant, *servers;
	long days, fetch_timeout;
	bool fetch;
};

static int parse_number(const char *opt, const char *arg, long lo, long hi, long *out)
{
	char *end;
	long v = strtol(arg, &end, 10);
	if (end == arg || *end || v < lo || v > hi) {
		fprintf(stderr,
		        "dmarcsift dns: --%s '%s': expected a whole number from %ld to %ld\n", opt,
		        arg, lo, hi);
		return EXIT_USAGE;
	}
	*out = v;
	return 0;
}

static int on_opt(void *ctx, int key, const char *arg)
{
	struct args *a = ctx;
	switch (key) {
	case O_TENANT:
		a->tenant = arg;
		return 0;
	case O_DAYS:
		return parse_number("days", arg, 1, 3650, &a->days);
	case O_SERVERS:
		a->servers = arg;
		return 0;
	case O_NO_FETCH:
		a->fetch = false;
		return 0;
	default:
		return parse_number("fetch-timeout", arg, 1, 300, &a->fetch_timeout);
	}
}

static const struct opt_cmd cmd = {
    .name = "dns",
    .synopsis = "usage: dmarcsift dns check [--tenant T] [--format text|csv|json] [--days N]\n"
                "                           [--dns-servers LIST] [--no-fetch] [--fetch-timeout S]\n"
                "       dmarcsift dns changes [--tenant T] [--format text|csv|json]\n",
    .about = "check: for each domain of each tenant (or of --tenant T), reads\n"
             "  _dmarc.DOMAIN   one v=DMARC1 record, its syntax, the policy and its stage\n"
             "                  (p=none with a high pass rate in the reports: ready to\n"
             "                  enforce), rua/ruf destinations and their authorisation\n"
             "                  records (RFC 7489 section 7.1) for other organisations;\n"
             "  DOMAIN TXT      one v=spf1 record, its syntax, DNS lookups (limit 10) and\n"
             "                  void lookups (limit 2) through include/redirect/a/mx/exists/\n"
             "                  ptr, and whether each source the reports show is covered;\n"
             "  S._domainkey.D  the key of every DKIM selector (d=, s=) in the reports:\n"
             "                  present, readable, its size (under 1024 bits: warning);\n"
             "  _mta-sts.DOMAIN the MTA-STS record, and its policy over HTTPS\n"
             "                  (https://mta-sts.DOMAIN/.well-known/mta-sts.txt);\n"
             "  _smtp._tls.DOMAIN the TLS-RPT record.\n"
             "  Prints the findings (error, warning, notice, ok) with the fix in one\n"
             "  sentence; stores them per run (dmarcsift.v_dns_checks) and records whose\n"
             "  text changed since the previous run (dmarcsift.v_dns_changes). With csv\n"
             "  or json the run's summary goes to standard error.\n"
             "changes: the record changes seen, newest first.\n",
    .opts = options,
    .formats = OPT_TEXT | OPT_CSV | OPT_JSON,
    .epilog = "Exit: 0 ok (findings and DNS trouble are reported, not errors), 2 usage or\n"
              "configuration, 3 the database cannot be reached, 4 it refused the connection.\n",
    .on_opt = on_opt,
};

static void print_text(const PGresult *res)
{
	int n = PQntuples(res);
	if (n == 0) {
		printf("no findings (no tenant domains)\n");
		return;
	}
	const char *tenant = "", *domain = "";
	for (int r = 0; r < n; r++) {
		/* tenant domain check severity code finding fix record checked_at */
		const char *t = PQgetvalue(res, r, 0), *d = PQgetvalue(res, r, 1);
		if (strcmp(t, tenant) != 0 || strcmp(d, domain) != 0) {
			printf("%s%s  %s\n", r ? "\n" : "", t, d);
			tenant = t;
			domain = d;
		}
		printf("  %-7s %-7s %s [%s]\n", PQgetvalue(res, r, 3), PQgetvalue(res, r, 2),
		       PQgetvalue(res, r, 5), PQgetvalue(res, r, 4));
		if (!PQgetisnull(res, r, 6))
			printf("          fix: %s\n", PQgetvalue(res, r, 6));
	}
}

static int print_rows(struct db *db, const char *stmt, const char *tenant, enum rows_format fmt,
                      bool check)
{
	const char *p[1] = {tenant};
	struct err e = {0};
	PGresult *res = db_query(db, db_sql(stmt), 1, p);
	if (db_check(db, &res, PGRES_TUPLES_OK, "reading the DNS check results", &e) < 0)
		return cli_fail(&e);
	if (fmt != ROWS_TEXT)
		cli_rows_print(stdout, res, fmt, 0);
	else if (check)
		print_text(res);
	else if (PQntuples(res) == 0)
		printf("no record changes seen\n");
	else
		cli_rows_print(stdout, res, ROWS_TEXT, 80);
	PQclear(res);
	return fflush(stdout) == 0 ? EXIT_OK : EXIT_SOME_FAILED;
}

int cmd_dns(int argc, char **argv)
{
	int rc = opt_subcommand(&cmd, argc, argv);
	if (rc >= 0)
		return rc;
	const char *sub = argv[1];
	bool check = strcmp(sub, "check") == 0;
	if (!check && strcmp(sub, "changes") != 0) {
		fprintf(stderr, "dmarcsift dns: unknown subcommand '%s'\n", sub);
		return opt_usage_error(&cmd);
	}
	struct args a = {.fetch = true};
	struct opt_common co;
	if (!opt_parse(&cmd, argc - 1, argv + 1, &a, &co, &rc))
		return rc;
	const char *config_opt = co.config, *tenant = a.tenant, *servers = a.servers;
	long days = a.days, fetch_timeout = a.fetch_timeout;
	bool fetch = a.fetch, json = co.format != ROWS_TEXT;
	if (!check && (servers || days || !fetch || fetch_timeout)) {
		fprintf(stderr, "dmarcsift dns changes: --days, --dns-servers, --no-fetch and "
		                "--fetch-timeout belong to dns check\n");
		return EXIT_USAGE;
	}
	struct err e = {0};
	struct config *cfg = NULL;
	struct db *db = NULL;
	rc = cli_config_strict(config_opt, "dns", &cfg, NULL);
	if (rc != 0)
		goto out;
	rc = cli_connect(co.db, &db);
	if (rc != 0)
		goto out;
	rc = cli_check_tenant(db, tenant);
	if (rc != EXIT_OK)
		goto out;
	if (check) {
		struct dnscheck_opts o = {0};
		struct resolve_opts r;
		cli_sources_opts(cfg, &r);
		o.dns = r.dns;
		if (servers)
			o.dns.servers = servers;
		o.tenant = tenant;
		o.days = (int)days;
		o.fetch = fetch;
		o.fetch_timeout_ms = fetch_timeout * 1000;
		/* No run budget: each look-up has its timeout, and a manual
		 * check may take the time it needs. */
		struct dnscheck_stats st;
		if (dnscheck_run(db, &o, &st, &e) != 0) {
			rc = cli_fail(&e);
			goto out;
		}
		FILE *sum = json ? stderr : stdout;
		fprintf(sum,
		        "dns check: %zu domain(s) and %zu DKIM selector(s) of %zu tenant(s), %zu "
		        "look-ups: %zu finding(s), %zu error(s), %zu warning(s), %zu record "
		        "change(s)",
		        st.domains, st.selectors, st.tenants, st.queries, st.findings, st.errors,
		        st.warnings, st.changes);
		if (st.failed)
			fprintf(sum, "; %zu look-up(s) without an answer (timeout, SERVFAIL)",
			        st.failed);
		fprintf(sum, "\n");
		if (!json)
			printf("\n");
	}
	rc = print_rows(db, check ? "dnscheck_list" : "dnscheck_changes", tenant, co.format, check);
out:
	db_close(db);
	config_free(cfg);
	return rc;
}
