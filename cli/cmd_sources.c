/*
 * dmarcsift sources: name the sending sources (resolve), add service rows
 * (load), and label a tenant's own address ranges (label, unlabel).
 */
#include "cli/cmd.h"
#include "cli/common.h"
#include "cli/config.h"
#include "cli/opt.h"
#include "cli/sources.h"
#include "core/duration.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "db/db.h"
#include "db/sources_store.h"
#include "reports/rows.h"
#include "senders/services.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char synopsis[] =
    "usage: dmarcsift sources resolve [--tenant T] [--since DATE] [--budget DURATION]\n"
    "                                 [--dns-servers LIST] [--services FILE]\n"
    "                                 [--no-lookup] [--format text|json]\n"
    "       dmarcsift sources load FILE [--format text|json]\n"
    "       dmarcsift sources label --tenant T CIDR NAME [--format text|json]\n"
    "       dmarcsift sources unlabel --tenant T CIDR [--format text|json]\n";

static const char about[] =
    "resolve: looks up the source addresses of the stored records and bounces that\n"
    "  have no fresh answer (reverse DNS confirmed forward, ASN and country), then\n"
    "  names each tenant's sources after the known services (data/services.tsv,\n"
    "  or --services FILE, plus rows added with 'load') and marks forwarded and\n"
    "  mailing-list traffic. Results: the view dmarcsift.v_sources.\n"
    "load: adds the service rows of FILE (the data/services.tsv format), replacing\n"
    "  rows loaded from the same FILE before; they win over the built-in table.\n"
    "label: names a tenant's own range (\"our MTAs\"): it wins over every other name.\n";

static const char epilog[] = "Exit: 0 ok (DNS trouble is reported, not an error), 2 usage or "
                             "configuration,\n3 the database cannot be reached.\n";

enum { O_TENANT = 't', O_SINCE = 's', O_BUDGET = 'b', O_SERVERS = 'S', O_SERVICES = 'f' };
enum { O_NO_LOOKUP = 'n' };

static const struct opt resolve_options[] = {
    {"tenant", O_TENANT, "T", "only this tenant"},
    {"since", O_SINCE, "DATE", "only sources seen since DATE (e.g. 2026-11-01)"},
    {"budget", O_BUDGET, "D",
     "stop looking up after D (e.g. 30s, 5m); the rest waits for\n"
     "the next run (default: no limit)"},
    {"dns-servers", O_SERVERS, "L",
     "IP[:PORT],... (default: [dns] servers, $DMARCSIFT_DNS_SERVERS,\n"
     "else /etc/resolv.conf)"},
    {"services", O_SERVICES, "FILE", "the known services (default: data/services.tsv)"},
    {"no-lookup", O_NO_LOOKUP, NULL, "no DNS: only organisational domains and service marks"},
    {NULL, 0, NULL, NULL},
};

static const struct opt tenant_option[] = {
    {"tenant", O_TENANT, "T", "the tenant (label, unlabel)"},
    {NULL, 0, NULL, NULL},
};

struct args {
	const char *tenant, *since, *servers, *services;
	long long budget;
	bool no_lookup;
};

static int on_opt(void *ctx, int key, const char *arg)
{
	struct args *a = ctx;
	switch (key) {
	case O_TENANT:
		a->tenant = arg;
		break;
	case O_SINCE:
		a->since = arg;
		break;
	case O_BUDGET:
		a->budget = duration_parse_ms(arg, 86400000LL);
		if (a->budget <= 0) {
			fprintf(stderr,
			        "dmarcsift sources resolve: --budget '%s': expected e.g. 30s, 5m\n",
			        arg);
			return EXIT_USAGE;
		}
		break;
	case O_SERVERS:
		a->servers = arg;
		break;
	case O_SERVICES:
		a->services = arg;
		break;
	default:
		a->no_lookup = true;
		break;
	}
	return 0;
}

static const struct opt_cmd resolve_cmd = {
    .name = "sources resolve",
    .synopsis = synopsis,
    .about = about,
    .opts = resolve_options,
    .formats = OPT_TEXT | OPT_JSON,
    .epilog = epilog,
    .on_opt = on_opt,
};

static const struct opt_cmd other_cmd = {
    .name = "sources",
    .synopsis = synopsis,
    .about = about,
    .opts = tenant_option,
    .formats = OPT_TEXT | OPT_JSON,
    .args = true,
    .epilog = epilog,
    .on_opt = on_opt,
};

void cli_sources_opts(const struct config *cfg, struct resolve_opts *o)
{
	memset(o, 0, sizeof *o);
	const char *env = getenv("DMARCSIFT_DNS_SERVERS");
	if (env && *env)
		o->dns.servers = env;
	if (!cfg)
		return;
	if (cfg->dns.servers)
		o->dns.servers = cfg->dns.servers;
	if (env && *env)
		o->dns.servers = env; /* the environment wins: tests, setup.sh */
	o->dns.timeout_ms = cfg->dns.timeout_ms;
	o->dns.tries = cfg->dns.tries;
	o->origin_zone = cfg->dns.origin_zone;
	o->origin6_zone = cfg->dns.origin6_zone;
	o->asname_zone = cfg->dns.asname_zone;
	o->mmdb = cfg->sources_mmdb;
	o->services_file = cfg->sources_services;
}

static int load_config(const char *path_opt, struct config **cfg)
{
	return cli_config_strict(path_opt, "sources", cfg, NULL);
}

/* What the naming step could not do, in one line. */
static void describe_left(FILE *out, const struct resolve_stats *st)
{
	if (st->left == 0)
		return;
	fprintf(out, "; %zu not looked up (%s), left for the next run", st->left,
	        st->unreachable ? "DNS unreachable" : "time budget used up");
}

void cli_resolve_mark_start(struct db *db, char *out, size_t outsz)
{
	struct err e = {0};
	if (sources_store_now(db, out, outsz, &e) != 0)
		out[0] = '\0';
}

int cli_resolve_after(struct db *db, const char *config_path, const char *since, bool quiet)
{
	/* The command's own summary comes first. */
	fflush(stdout);
	struct config *cfg = NULL;
	if (load_config(config_path, &cfg) != 0) {
		/* A broken config never fails an ingest that already committed. */
		log_warn("sources not named: fix the configuration");
		return 0;
	}
	struct resolve_opts o;
	cli_sources_opts(cfg, &o);
	o.changed_since = since && *since ? since : NULL;
	o.budget_ms =
	    (int64_t)(cfg && cfg->dns.budget_s ? cfg->dns.budget_s : CLI_DNS_BUDGET_S) * 1000;
	/* After an ingest, be quick to notice a DNS that does not answer. */
	if (!o.dns.timeout_ms)
		o.dns.timeout_ms = 1000;
	struct resolve_stats st;
	struct err e = {0};
	int rc = resolve_run(db, &o, &st, &e);
	config_free(cfg);
	if (rc != 0) {
		if (e.kind == ERR_CONFIG) {
			log_warn("sources not named: %s", e.msg);
			return 0;
		}
		log_error("naming sources failed: %s", e.msg);
		return -1;
	}
	/* What could not be looked up is said even with --quiet. */
	if ((!quiet && st.stale) || st.left) {
		fprintf(stderr, "sources: %zu of %zu looked up", st.resolved, st.stale);
		if (st.failed)
			fprintf(stderr, " (%zu with a failed part, retried later)", st.failed);
		describe_left(stderr, &st);
		fprintf(stderr, "\n");
	}
	return 0;
}

struct progress {
	bool on;
	struct timespec last;
};

static void show_progress(void *arg, const struct resolve_stats *st)
{
	struct progress *p = arg;
	if (!p->on)
		return;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	long ms = (now.tv_sec - p->last.tv_sec) * 1000 + (now.tv_nsec - p->last.tv_nsec) / 1000000;
	if (ms < 200)
		return;
	p->last = now;
	fprintf(stderr, "\rlooking up sources: %zu of %zu", st->resolved, st->stale);
	fflush(stderr);
}

static void print_json(const struct resolve_stats *st)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "stale", json_object_new_int64((int64_t)st->stale));
	json_object_object_add(o, "resolved", json_object_new_int64((int64_t)st->resolved));
	json_object_object_add(o, "failed", json_object_new_int64((int64_t)st->failed));
	json_object_object_add(o, "left", json_object_new_int64((int64_t)st->left));
	json_object_object_add(o, "unreachable", json_object_new_boolean(st->unreachable));
	json_object_object_add(o, "queries", json_object_new_int64((int64_t)st->queries));
	json_object_object_add(o, "domains", json_object_new_int64((int64_t)st->domains));
	json_object_object_add(o, "marked", json_object_new_int64((int64_t)st->marked));
	json_object_object_add(o, "named", json_object_new_int64((int64_t)st->named));
	json_object_object_add(o, "forwarded", json_object_new_int64((int64_t)st->forwarded));
	json_object_object_add(o, "lookup_seconds", rows_json_rate(st->lookup_s));
	json_object_object_add(o, "mark_seconds", rows_json_rate(st->mark_s));
	rows_json_print(stdout, o);
	json_object_put(o);
}

static int cmd_resolve(int argc, char **argv)
{
	struct args a = {0};
	struct opt_common co;
	int rc;
	if (!opt_parse(&resolve_cmd, argc, argv, &a, &co, &rc))
		return rc;
	const char *config_opt = co.config, *tenant = a.tenant, *since = a.since;
	const char *servers = a.servers, *services = a.services;
	long long budget = a.budget;
	bool json = co.format == ROWS_JSON, quiet = co.quiet, no_lookup = a.no_lookup;
	struct config *cfg = NULL;
	rc = load_config(config_opt, &cfg);
	if (rc != 0)
		return rc;
	struct db *db = NULL;
	rc = cli_connect(co.db, &db);
	if (rc != 0) {
		config_free(cfg);
		return rc;
	}
	struct resolve_opts o;
	cli_sources_opts(cfg, &o);
	o.tenant = tenant;
	o.since = since;
	o.budget_ms = budget;
	o.no_lookup = no_lookup;
	if (servers)
		o.dns.servers = servers;
	if (services)
		o.services_file = services;
	struct progress p = {.on = !quiet && !json && isatty(STDERR_FILENO)};
	clock_gettime(CLOCK_MONOTONIC, &p.last);
	o.progress = show_progress;
	o.progress_arg = &p;
	struct resolve_stats st;
	struct err e = {0};
	rc = resolve_run(db, &o, &st, &e);
	if (p.on && st.stale)
		fprintf(stderr, "\r\033[K");
	if (rc != 0 && since && e.kind == ERR_INPUT && strncmp(e.sqlstate, "22", 2) == 0) {
		/* PostgreSQL read the date: its complaint is about --since. */
		fprintf(stderr, "dmarcsift sources resolve: --since '%s' is not a date (%s)\n",
		        since, e.msg);
		rc = EXIT_USAGE;
	} else if (rc != 0) {
		rc = cli_fail(&e);
	} else if (json) {
		print_json(&st);
	} else if (!quiet) {
		printf("%zu sources looked up of %zu without a fresh answer (%zu DNS queries, "
		       "%.1f s)",
		       st.resolved, st.stale, st.queries, st.lookup_s);
		if (st.failed)
			printf(", %zu with a failed part (retried in 5 min)", st.failed);
		describe_left(stdout, &st);
		printf("\n%zu sources marked: %zu named after a known service, %zu forwarded "
		       "(%.2f s); %zu new organisational domains\n",
		       st.marked, st.named, st.forwarded, st.mark_s, st.domains);
	}
	db_close(db);
	config_free(cfg);
	return rc;
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *text = NULL;
	FILE *mem = open_memstream(&text, len);
	char chunk[8192];
	size_t got;
	while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
		fwrite(chunk, 1, got, mem);
	fclose(f);
	fclose(mem);
	return text;
}

static int connect_with_config(const char *db_opt, const char *config_opt, struct db **db)
{
	struct config *cfg = NULL;
	int rc = load_config(config_opt, &cfg);
	if (rc != 0)
		return rc;
	rc = cli_connect(db_opt, db);
	config_free(cfg);
	return rc;
}

static int cmd_load(int argc, char **argv)
{
	struct args a = {0};
	struct opt_common co;
	int rc;
	if (!opt_parse(&other_cmd, argc, argv, &a, &co, &rc))
		return rc;
	const char *db_opt = co.db, *config_opt = co.config;
	if (co.nargs != 1 || a.tenant) {
		fprintf(stderr,
		        "dmarcsift sources load: expected one FILE (services are global)\n");
		return EXIT_USAGE;
	}
	const char *path = co.args[0];
	size_t len = 0;
	char *text = read_file(path, &len);
	if (!text) {
		log_error("%s: %s", path, strerror(errno));
		return EXIT_USAGE;
	}
	struct services *s = NULL;
	services_new(&s);
	char *problems = NULL;
	size_t added = services_add_text(s, text, len, path, &problems);
	services_free(s);
	if (problems) {
		fprintf(stderr, "%s", problems);
		fprintf(stderr, "dmarcsift: %s: nothing loaded (fix the lines above)\n", path);
		free(problems);
		free(text);
		return EXIT_USAGE;
	}
	/* The valid data lines, kept as written. */
	char **lines = NULL;
	size_t n = 0;
	for (char *l = text, *next; l && *l; l = next) {
		next = strchr(l, '\n');
		if (next)
			*next++ = '\0';
		size_t ll = strlen(l);
		if (ll && l[ll - 1] == '\r')
			l[--ll] = '\0';
		if (ll == 0 || l[0] == '#')
			continue;
		lines = xrealloc(lines, (n + 1) * sizeof *lines);
		lines[n++] = l;
	}
	struct db *db = NULL;
	rc = connect_with_config(db_opt, config_opt, &db);
	if (rc == 0) {
		struct err e = {0};
		if (sources_store_load_services(db, path, lines, n, &e) != 0) {
			rc = cli_fail(&e);
		} else if (co.format == ROWS_JSON) {
			json_object *o = json_object_new_object();
			json_object_object_add(o, "file", json_object_new_string(path));
			json_object_object_add(o, "services",
			                       json_object_new_int64((int64_t)added));
			rows_json_print(stdout, o);
			json_object_put(o);
		} else
			printf(
			    "%zu services loaded from %s (run 'dmarcsift sources resolve' to apply "
			    "them)\n",
			    added, path);
		db_close(db);
	}
	free(lines);
	free(text);
	return rc;
}

static int cmd_label(int argc, char **argv, bool remove)
{
	struct args a = {0};
	struct opt_common co;
	int rc;
	if (!opt_parse(&other_cmd, argc, argv, &a, &co, &rc))
		return rc;
	const char *db_opt = co.db, *config_opt = co.config, *tenant = a.tenant;
	int want = remove ? 1 : 2;
	if (!tenant || co.nargs != want) {
		fprintf(stderr, remove
		                    ? "dmarcsift sources unlabel: expected --tenant T CIDR\n"
		                    : "dmarcsift sources label: expected --tenant T CIDR NAME\n");
		return EXIT_USAGE;
	}
	const char *cidr = co.args[0];
	struct db *db = NULL;
	rc = connect_with_config(db_opt, config_opt, &db);
	if (rc != 0)
		return rc;
	struct err e = {0};
	int tid;
	bool removed = false;
	if (sources_store_tenant_id(db, tenant, &tid, &e) != 0 ||
	    (remove ? sources_store_unlabel(db, tid, cidr, &removed, &e)
	            : sources_store_label(db, tid, cidr, co.args[1], &e)) != 0) {
		if (e.kind == ERR_INPUT)
			log_error("'%s' is not a network (CIDR such as "
			          "198.51.100.0/24, host bits zero): %s",
			          cidr, e.msg);
		rc = e.kind == ERR_INPUT ? EXIT_USAGE : cli_fail(&e);
	} else if (co.format == ROWS_JSON) {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "tenant", json_object_new_string(tenant));
		json_object_object_add(o, "cidr", json_object_new_string(cidr));
		json_object_object_add(o, "label",
		                       remove ? NULL : json_object_new_string(co.args[1]));
		json_object_object_add(o, "removed", json_object_new_boolean(removed));
		rows_json_print(stdout, o);
		json_object_put(o);
	} else if (remove) {
		printf(removed ? "label of %s removed for tenant %s\n"
		               : "no label for %s in tenant %s\n",
		       cidr, tenant);
	} else {
		printf("%s labelled \"%s\" for tenant %s\n", cidr, co.args[1], tenant);
	}
	db_close(db);
	return rc;
}

int cmd_sources(int argc, char **argv)
{
	int rc = opt_subcommand(&resolve_cmd, argc, argv);
	if (rc >= 0)
		return rc;
	if (strcmp(argv[1], "resolve") == 0)
		return cmd_resolve(argc - 1, argv + 1);
	if (strcmp(argv[1], "load") == 0)
		return cmd_load(argc - 1, argv + 1);
	if (strcmp(argv[1], "label") == 0)
		return cmd_label(argc - 1, argv + 1, false);
	if (strcmp(argv[1], "unlabel") == 0)
		return cmd_label(argc - 1, argv + 1, true);
	fprintf(stderr, "dmarcsift sources: unknown subcommand '%s'\n", argv[1]);
	return opt_usage_error(&other_cmd);
}
