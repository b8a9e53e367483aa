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
#include "cli/sources.h"
#include "db/db.h"
#include "db/sql.h"
#include "reports/rows.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: dmarcsift dns check [--tenant T] [--format text|json] [--days N]\n"
	        "                           [--dns-servers LIST] [--no-fetch] [--fetch-timeout S]\n"
	        "       dmarcsift dns changes [--tenant T] [--format text|json]\n"
	        "   (each also takes --db CONN and --config PATH)\n"
	        "\n"
	        "check: for each domain of each tenant (or of --tenant T), reads\n"
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
	        "  text changed since the previous run (dmarcsift.v_dns_changes).\n"
	        "  --days N          report data used: the last N days (default 30)\n"
	        "  --dns-servers L   IP[:PORT],... (default: [dns] servers,\n"
	        "                    $DMARCSIFT_DNS_SERVERS, else /etc/resolv.conf)\n"
	        "  --no-fetch        do not fetch MTA-STS policies over HTTPS\n"
	        "  --fetch-timeout S seconds per policy fetch (default 10)\n"
	        "changes: the record changes seen, newest first.\n"
	        "  --format F        text (default) or json (one object per line)\n"
	        "\n"
	        "Exit: 0 ok (findings and DNS trouble are reported, not errors), 2 usage or\n"
	        "configuration, 3 the database cannot be reached, 4 it refused the connection.\n");
}

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

static int print_rows(struct db *db, const char *stmt, const char *tenant, bool json, bool check)
{
	const char *p[1] = {tenant};
	struct err e = {0};
	PGresult *res = db_query(db, db_sql(stmt), 1, p);
	if (db_check(db, &res, PGRES_TUPLES_OK, "reading the DNS check results", &e) < 0)
		return cli_fail(&e);
	if (json)
		cli_rows_print(stdout, res, ROWS_JSON, 0);
	else if (check)
		print_text(res);
	else if (PQntuples(res) == 0)
		printf("no record changes seen\n");
	else
		cli_rows_print(stdout, res, ROWS_TEXT, 80);
	PQclear(res);
	return fflush(stdout) == 0 ? EXIT_OK : EXIT_SOME_FAILED;
}

static int parse_number(const char *opt, const char *arg, long lo, long hi, long *out)
{
	char *end;
	long v = strtol(arg, &end, 10);
	if (end == arg || *end || v < lo || v > hi) {
		fprintf(stderr,
		        "dmarcsift dns: --%s '%s': expected a whole number from %ld to %ld\n", opt,
		        arg, lo, hi);
		return -1;
	}
	*out = v;
	return 0;
}

int cmd_dns(int argc, char **argv)
{
	if (argc < 2 || cli_is_help(argv[1])) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	const char *sub = argv[1];
	bool check = strcmp(sub, "check") == 0;
	if (!check && strcmp(sub, "changes") != 0) {
		fprintf(stderr, "dmarcsift dns: unknown subcommand '%s'\n", sub);
		usage(stderr);
		return EXIT_USAGE;
	}
	static const struct option opts[] = {
	    {"db", required_argument, NULL, 'd'},
	    {"config", required_argument, NULL, 'c'},
	    {"tenant", required_argument, NULL, 't'},
	    {"format", required_argument, NULL, 'F'},
	    {"days", required_argument, NULL, 'D'},
	    {"dns-servers", required_argument, NULL, 's'},
	    {"no-fetch", no_argument, NULL, 'n'},
	    {"fetch-timeout", required_argument, NULL, 'T'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *db_opt = NULL, *config_opt = NULL, *tenant = NULL, *servers = NULL;
	long days = 0, fetch_timeout = 0;
	bool json = false, fetch = true;
	int c;
	optind = 2;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			db_opt = optarg;
			break;
		case 'c':
			config_opt = optarg;
			break;
		case 't':
			tenant = optarg;
			break;
		case 's':
			servers = optarg;
			break;
		case 'n':
			fetch = false;
			break;
		case 'F':
			if (strcmp(optarg, "json") == 0) {
				json = true;
			} else if (strcmp(optarg, "text") != 0) {
				fprintf(stderr,
				        "dmarcsift dns: --format '%s': expected text or json\n",
				        optarg);
				return EXIT_USAGE;
			}
			break;
		case 'D':
			if (parse_number("days", optarg, 1, 3650, &days) != 0)
				return EXIT_USAGE;
			break;
		case 'T':
			if (parse_number("fetch-timeout", optarg, 1, 300, &fetch_timeout) != 0)
				return EXIT_USAGE;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "dmarcsift dns: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!check && (servers || days || !fetch || fetch_timeout)) {
		fprintf(stderr, "dmarcsift dns changes: --days, --dns-servers, --no-fetch and "
		                "--fetch-timeout belong to dns check\n");
		return EXIT_USAGE;
	}
	struct err e = {0};
	char *path = NULL;
	struct config *cfg = NULL;
	struct db *db = NULL;
	int rc;
	if (config_find(config_opt, &path, &e) != 0 || config_load(&cfg, path, &e) != 0) {
		rc = cli_fail(&e);
		goto out;
	}
	if (!config_ok(cfg)) {
		for (size_t i = 0; i < cfg->n_errors; i++)
			fprintf(stderr, "%s\n", cfg->errors[i]);
		fprintf(stderr, "dmarcsift dns: the configuration has errors (see above)\n");
		rc = EXIT_USAGE;
		goto out;
	}
	cli_set_config_path(config_opt);
	rc = cli_connect(db_opt, &db);
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
	rc = print_rows(db, check ? "dnscheck_list" : "dnscheck_changes", tenant, json, check);
out:
	db_close(db);
	config_free(cfg);
	free(path);
	return rc;
}
