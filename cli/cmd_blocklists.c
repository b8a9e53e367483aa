/*
 * dmarcsift blocklists: `check` looks the tenants' sending IPs and domains
 * up in the configured blocklists (app/blocklists.h) and prints the
 * listings; `list` prints what is stored (dmarcsift.v_listings). Also the
 * step `poll` runs at its end on the [blocklists] every schedule.
 */
#include "app/blocklists.h"
#include "cli/autocorr.h"
#include "cli/cmd.h"
#include "cli/common.h"
#include "cli/config.h"
#include "cli/opt.h"
#include "cli/sources.h"
#include "core/log.h"
#include "db/db.h"
#include "db/sql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { O_TENANT = OPT_KEY, O_DAYS, O_FLOOR, O_SERVERS, O_NO_CORRELATE };

static const struct opt options[] = {
    {"tenant", O_TENANT, "T", "only this tenant"},
    {"days", O_DAYS, "N", "check: the last N days of data (default 30)"},
    {"floor", O_FLOOR, "N", "check: other sources from N messages (default 10)"},
    {"dns-servers", O_SERVERS, "L",
     "check: IP[:PORT],... (default: [dns] servers,\n"
     "$DMARCSIFT_DNS_SERVERS, else /etc/resolv.conf)"},
    {"no-correlate", O_NO_CORRELATE, NULL, "check: no incremental correlation afterwards"},
    {NULL, 0, NULL, NULL},
};

struct args {
	const char *tenant, *servers;
	long days, floor;
	bool correlate;
};

static int on_opt(void *ctx, int key, const char *arg)
{
	struct args *a = ctx;
	char *end;
	switch (key) {
	case O_TENANT:
		a->tenant = arg;
		return 0;
	case O_SERVERS:
		a->servers = arg;
		return 0;
	case O_NO_CORRELATE:
		a->correlate = false;
		return 0;
	default:
		if (key == O_DAYS)
			a->days = strtol(arg, &end, 10);
		else
			a->floor = strtol(arg, &end, 10);
		if (end == arg || *end ||
		    (key == O_DAYS ? a->days < 1 || a->days > 3650 : a->floor < 0)) {
			fprintf(stderr,
			        "dmarcsift blocklists: --%s '%s': expected a whole number%s\n",
			        key == O_DAYS ? "days" : "floor", arg,
			        key == O_DAYS ? " from 1 to 3650" : "");
			return EXIT_USAGE;
		}
		return 0;
	}
}

static const struct opt_cmd cmd = {
    .name = "blocklists",
    .synopsis = "usage: dmarcsift blocklists check [--tenant T] [--days N] [--floor N]\n"
                "                                  [--dns-servers LIST] [--no-correlate]\n"
                "                                  [--format text|csv|json]\n"
                "       dmarcsift blocklists list [--tenant T] [--format text|csv|json]\n",
    .about = "check: looks up each tenant's own MTAs (labelled sources and the sending IPs\n"
             "  of its bounces) first, then the other sources of its aggregate reports with\n"
             "  at least --floor messages (default 10), in the IP lists ([blocklists] ip,\n"
             "  default " BLOCKLISTS_DEFAULT_IP "),\n"
             "  and its domains (tenant, bounce envelope and DKIM d= domains) in the domain\n"
             "  lists ([blocklists] domain, default " BLOCKLISTS_DEFAULT_DOMAIN "),\n"
             "  over the last --days days of its data (default 30). Answers the list\n"
             "  documents as refusals (e.g. Spamhaus 127.255.255.254: query through a public\n"
             "  resolver) are 'unknown', never 'listed'. Then prints the listings with their\n"
             "  impact: rejecting (blocklisted bounces name the list for that asset),\n"
             "  suspected (policy/reputation rejects at providers known to use it), none;\n"
             "  and runs the incremental correlation (its flags cite the listings). With\n"
             "  csv or json the check's summary goes to standard error.\n"
             "list: prints the stored listings (dmarcsift.v_listings).\n",
    .opts = options,
    .formats = OPT_TEXT | OPT_CSV | OPT_JSON,
    .epilog = "Exit: 0 ok (DNS trouble is reported, not an error), 2 usage or configuration,\n"
              "3 the database cannot be reached, 4 it refused the connection (password, role, "
              "name).\n",
    .on_opt = on_opt,
};

static void fill_opts(const struct config *cfg, struct blocklists_opts *o)
{
	memset(o, 0, sizeof *o);
	o->floor = -1;
	struct resolve_opts r;
	cli_sources_opts(cfg, &r);
	o->dns = r.dns;
	if (!cfg)
		return;
	o->ip_lists = cfg->blocklists.ip;
	o->domain_lists = cfg->blocklists.domain;
	o->days = cfg->blocklists.days;
	o->floor = cfg->blocklists.floor;
}

static void print_stats(FILE *out, const struct blocklists_stats *st)
{
	fprintf(out,
	        "blocklists: %zu assets of %zu tenant(s), %zu look-ups: %zu listed (%zu new), "
	        "%zu unknown (refused), %zu delisted",
	        st->assets, st->tenants, st->queries, st->listed, st->new_listings, st->unknown,
	        st->delisted);
	if (st->failed)
		fprintf(out,
		        "; %zu without an answer (timeout, SERVFAIL or time budget), "
		        "unchanged until the next check",
		        st->failed);
	fprintf(out, "\n");
}

static int print_listings(struct db *db, const char *tenant, enum rows_format fmt)
{
	const char *p[1] = {tenant};
	struct err e = {0};
	PGresult *res = db_query(db, db_sql("blocklists_list"), 1, p);
	if (db_check(db, &res, PGRES_TUPLES_OK, "reading the listings", &e) < 0)
		return cli_fail(&e);
	int n = PQntuples(res);
	if (fmt != ROWS_TEXT) {
		cli_rows_print(stdout, res, fmt, 0);
		n = 0;
	} else if (n == 0) {
		printf("no listings\n");
	}
	for (int r = 0; r < n; r++) {
		/* tenant asset kind list code reason first last status impact rejects */
		const char *status = PQgetvalue(res, r, 8);
		printf("%s  %-7s %s %s on %s", PQgetvalue(res, r, 0), status, PQgetvalue(res, r, 2),
		       PQgetvalue(res, r, 1), PQgetvalue(res, r, 3));
		printf(" [%s] %s", PQgetvalue(res, r, 4), PQgetvalue(res, r, 5));
		if (strcmp(status, "unknown") != 0) {
			printf("; seen %s .. %s; impact %s", PQgetvalue(res, r, 6),
			       PQgetvalue(res, r, 7), PQgetvalue(res, r, 9));
			if (strcmp(PQgetvalue(res, r, 10), "0") != 0)
				printf(" (%s blocklisted rejects name it)", PQgetvalue(res, r, 10));
		}
		printf("\n");
	}
	PQclear(res);
	return fflush(stdout) == 0 ? EXIT_OK : EXIT_SOME_FAILED;
}

int cli_blocklists_after_poll(struct db *db, const struct config *cfg, bool quiet)
{
	struct err e = {0};
	bool due = false;
	long every = cfg ? cfg->blocklists.every_s : 6L * 3600;
	if (blocklists_due(db, every, &due, &e) != 0) {
		log_warn("blocklist schedule not read: %s", e.msg);
		return db_lost(db) ? -1 : 0;
	}
	if (!due)
		return 0;
	struct blocklists_opts o;
	fill_opts(cfg, &o);
	o.budget_ms = (int64_t)(cfg && cfg->blocklists.budget_s ? cfg->blocklists.budget_s
	                                                        : CLI_DNS_BUDGET_S) *
	              1000;
	if (!o.dns.timeout_ms)
		o.dns.timeout_ms = 1000;
	struct blocklists_stats st;
	if (blocklists_run(db, &o, &st, &e) != 0) {
		log_error("blocklist check failed: %s", e.msg);
		return e.kind == ERR_RETRY || db_lost(db) ? -1 : 0;
	}
	if (!quiet || st.new_listings || st.failed)
		print_stats(stderr, &st);
	return 0;
}

int cmd_blocklists(int argc, char **argv)
{
	int rc = opt_subcommand(&cmd, argc, argv);
	if (rc >= 0)
		return rc;
	const char *sub = argv[1];
	bool check = strcmp(sub, "check") == 0;
	if (!check && strcmp(sub, "list") != 0) {
		fprintf(stderr, "dmarcsift blocklists: unknown subcommand '%s'\n", sub);
		return opt_usage_error(&cmd);
	}
	struct args a = {.floor = -1, .correlate = true};
	struct opt_common co;
	if (!opt_parse(&cmd, argc - 1, argv + 1, &a, &co, &rc))
		return rc;
	const char *config_opt = co.config, *tenant = a.tenant, *servers = a.servers;
	long days = a.days, floor = a.floor;
	bool correlate = a.correlate;
	struct err e = {0};
	struct config *cfg = NULL;
	struct db *db = NULL;
	rc = cli_config_strict(config_opt, "blocklists", &cfg, NULL);
	if (rc != 0)
		goto out;
	rc = cli_connect(co.db, &db);
	if (rc != 0)
		goto out;
	rc = cli_check_tenant(db, tenant);
	if (rc != EXIT_OK)
		goto out;
	if (check) {
		struct blocklists_opts o;
		fill_opts(cfg, &o);
		o.tenant = tenant;
		if (servers)
			o.dns.servers = servers;
		if (days)
			o.days = (int)days;
		if (floor >= 0)
			o.floor = floor;
		struct blocklists_stats st;
		if (blocklists_run(db, &o, &st, &e) != 0) {
			rc = cli_fail(&e);
			goto out;
		}
		print_stats(co.format == ROWS_TEXT ? stdout : stderr, &st);
		if (correlate) {
			int crc = autocorr_run(db, cfg, true);
			if (crc != 0) {
				rc = crc;
				goto out;
			}
		}
	}
	rc = print_listings(db, tenant, co.format);
out:
	db_close(db);
	config_free(cfg);
	return rc;
}
