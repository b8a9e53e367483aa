/*
 * dmarcsift bounces: parse bounce records (Postfix, Exim, DSN, CSV),
 * classify them with the rule table, and either explain each event
 * (classify: no database) or store them (ingest: events, suppressions,
 * escalations via db/bounce_store.h). A summary goes to stderr (classify) or
 * stdout (ingest): events by class, skipped lines, malformed lines by reason.
 * Malformed lines never fail the run; an input that cannot be read does
 * (exit 1); a database that cannot be reached is exit 3.
 */
#include "app/bounce_batch.h"
#include "cli/autocorr.h"
#include "cli/cmd.h"
#include "cli/common.h"
#include "cli/config.h"
#include "cli/opt.h"
#include "cli/sources.h"
#include "core/bclass.h"
#include "core/buf.h"
#include "core/hostmap.h"
#include "core/xalloc.h"
#include "db/db.h"
#include "ingest/bounce.h"
#include "reports/rows.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct run {
	enum rows_format format;
	bool header_done; /* csv: the header line is out */
};

static const char *dash(const char *s)
{
	return s && *s ? s : "-";
}

static const char *status_name(enum bounce_status s)
{
	return s == BOUNCE_DELIVERED ? "delivered" : s == BOUNCE_DEFERRED ? "deferred" : "bounced";
}

static void put_str(json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, v ? json_object_new_string(v) : NULL);
}

static void print_event(void *ctx, const struct bounce_event *ev, const struct bounce_verdict *v,
                        const char *provider)
{
	struct run *r = ctx;
	if (r->format != ROWS_TEXT) {
		json_object *o = json_object_new_object();
		put_str(o, "recipient", ev->recipient);
		json_object_object_add(o, "reply_code",
		                       ev->reply_code ? json_object_new_int(ev->reply_code) : NULL);
		put_str(o, "enhanced_code", ev->enhanced_code);
		put_str(o, "class", v->klass);
		put_str(o, "severity", v->severity);
		put_str(o, "action", v->action);
		json_object_object_add(o, "is_block", json_object_new_boolean(v->is_block));
		put_str(o, "listed_on", v->listed_on);
		put_str(o, "listed_asset", v->listed_asset);
		put_str(o, "rule", v->rule);
		put_str(o, "text", ev->text);
		put_str(o, "status", status_name(ev->status));
		put_str(o, "provider", provider);
		put_str(o, "source", ev->source);
		put_str(o, "format", ev->format);
		json_object_object_add(o, "auto_reply", json_object_new_boolean(ev->auto_reply));
		put_str(o, "feedback_type", ev->feedback_type);
		json_object_object_add(o, "at", ev->at ? rows_json_time((time_t)ev->at) : NULL);
		put_str(o, "remote_mta", ev->remote_mta);
		put_str(o, "mail_from", ev->mail_from);
		put_str(o, "queue_id", ev->queue_id);
		if (r->format == ROWS_CSV && !r->header_done)
			rows_csv_object(stdout, o, true);
		r->header_done = true;
		if (r->format == ROWS_CSV)
			rows_csv_object(stdout, o, false);
		else
			rows_json_print(stdout, o);
		json_object_put(o);
		return;
	}
	char code[8] = "-";
	if (ev->reply_code)
		snprintf(code, sizeof code, "%d", ev->reply_code);
	printf("%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", dash(ev->recipient), code,
	       dash(ev->enhanced_code), v->klass, v->severity, v->action,
	       v->is_block ? "block" : "-", dash(v->listed_on), dash(v->listed_asset),
	       dash(v->rule), dash(ev->text));
}

static void print_summary(FILE *out, const struct bounce_totals *t, bool store)
{
	fprintf(out, "%llu events from %llu lines", (unsigned long long)t->events,
	        (unsigned long long)t->lines);
	for (size_t i = 0; i < t->nclass; i++)
		fprintf(out, "%s %s %llu", i ? "," : ":", t->by_class[i].klass,
		        (unsigned long long)t->by_class[i].n);
	fprintf(out, "\nskipped (not delivery outcomes): %llu\nmalformed: %llu\n",
	        (unsigned long long)t->skipped, (unsigned long long)t->malformed);
	for (size_t i = 0; i < t->nreasons; i++)
		fprintf(out, "  %s: %llu (e.g. %s)\n", t->reasons[i].reason,
		        (unsigned long long)t->reasons[i].count, t->reasons[i].sample);
	if (store)
		fprintf(out,
		        "stored: %llu added, %llu already known; %llu newly suppressed, %llu "
		        "lifted; %llu escalations opened\n",
		        (unsigned long long)t->store.added, (unsigned long long)t->store.known,
		        (unsigned long long)t->store.suppressed,
		        (unsigned long long)t->store.lifted,
		        (unsigned long long)t->store.escalations_opened);
}

static void print_json_summary(const struct bounce_totals *t)
{
	json_object *o = json_object_new_object();
#define ADD(obj, k, v) json_object_object_add(obj, k, json_object_new_int64((int64_t)(v)))
	ADD(o, "events", t->events);
	ADD(o, "lines", t->lines);
	ADD(o, "skipped", t->skipped);
	ADD(o, "malformed", t->malformed);
	json_object *classes = json_object_new_array();
	for (size_t i = 0; i < t->nclass; i++) {
		json_object *c = json_object_new_object();
		json_object_object_add(c, "class", json_object_new_string(t->by_class[i].klass));
		ADD(c, "events", t->by_class[i].n);
		json_object_array_add(classes, c);
	}
	json_object_object_add(o, "classes", classes);
	json_object *reasons = json_object_new_array();
	for (size_t i = 0; i < t->nreasons; i++) {
		json_object *m = json_object_new_object();
		json_object_object_add(m, "reason", json_object_new_string(t->reasons[i].reason));
		ADD(m, "count", t->reasons[i].count);
		json_object_object_add(m, "sample", json_object_new_string(t->reasons[i].sample));
		json_object_array_add(reasons, m);
	}
	json_object_object_add(o, "malformed_reasons", reasons);
	ADD(o, "added", t->store.added);
	ADD(o, "known", t->store.known);
	ADD(o, "suppressed", t->store.suppressed);
	ADD(o, "lifted", t->store.lifted);
	ADD(o, "escalations_opened", t->store.escalations_opened);
#undef ADD
	rows_json_print(stdout, o);
	json_object_put(o);
}

static int load_rules(const char *path, struct bclass **owned, const struct bclass **out)
{
	if (!path) {
		*out = bclass_default();
		return 0;
	}
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "dmarcsift: %s: %s\n", path, strerror(errno));
		return -1;
	}
	char *text = NULL;
	size_t len = 0, cap = 0, n;
	do {
		if (len + 4096 > cap) {
			cap = cap ? cap * 2 : 65536;
			text = xrealloc(text, cap);
		}
		n = fread(text + len, 1, cap - len, f);
		len += n;
	} while (n > 0 && len < (64u << 20));
	fclose(f);
	struct err e = {0};
	int rc = bclass_load(owned, text ? text : "", len, &e);
	free(text);
	if (rc < 0) {
		fprintf(stderr, "dmarcsift: %s: %s\n", path, e.msg);
		return -1;
	}
	*out = *owned;
	return 0;
}

enum { O_INPUT_FORMAT = OPT_KEY, O_RULES, O_TENANT, O_MTA_HOSTS, O_NO_CORRELATE, O_NO_RESOLVE };

static const struct opt options[] = {
    {"input-format", O_INPUT_FORMAT, "F", "auto (default), postfix, exim, dsn or csv"},
    {"rules", O_RULES, "FILE", "the rule table (default: data/bounce-rules.tsv)"},
    {"tenant", O_TENANT, "T", "ingest: every event into tenant T"},
    {"mta-hosts", O_MTA_HOSTS, "FILE",
     "syslog host name -> our sending IP (TSV), beside\n"
     "[mta-hosts] of the configuration file"},
    {"no-resolve", O_NO_RESOLVE, NULL, "ingest: do not name the sending sources afterwards"},
    {"no-correlate", O_NO_CORRELATE, NULL, "ingest: no incremental correlation afterwards"},
    {NULL, 0, NULL, NULL},
};

struct args {
	const char *rules, *tenant, *hosts;
	enum bounce_format input;
	bool resolve, correlate;
};

static int on_opt(void *ctx, int key, const char *arg)
{
	struct args *a = ctx;
	switch (key) {
	case O_INPUT_FORMAT:
		if (bounce_format_parse(arg, &a->input) < 0) {
			fprintf(stderr, "dmarcsift: bad --input-format '%s'\n", arg);
			return EXIT_USAGE;
		}
		break;
	case O_RULES:
		a->rules = arg;
		break;
	case O_TENANT:
		a->tenant = arg;
		break;
	case O_MTA_HOSTS:
		a->hosts = arg;
		break;
	case O_NO_RESOLVE:
		a->resolve = false;
		break;
	default:
		a->correlate = false;
		break;
	}
	return 0;
}

static const struct opt_cmd cmd = {
    .name = "bounces",
    .synopsis = "usage: dmarcsift bounces classify [--format text|csv|json]\n"
                "                 [--input-format auto|postfix|exim|dsn|csv] [--rules FILE] "
                "PATH...|-\n"
                "       dmarcsift bounces ingest [--input-format auto|postfix|exim|dsn|csv]\n"
                "                 [--tenant T] [--rules FILE] [--mta-hosts FILE]\n"
                "                 [--no-resolve] [--no-correlate] [--format text|json] PATH...|-\n",
    .about = "Reads SMTP outcomes from Postfix or Exim logs, RFC 3464 delivery-status\n"
             "messages or CSV exports (header: timestamp,sending_ip,from,recipient,reply,\n"
             "remote_mta,campaign), and classifies each recipient event by the action it\n"
             "calls for (data/bounce-rules.tsv).\n"
             "\n"
             "  classify   no database: one line per event (tab-separated: recipient,\n"
             "             reply_code, enhanced_code, class, severity, action, block,\n"
             "             listed_on, listed_asset, rule, text); csv and json: every\n"
             "             field of docs/json.md (csv with a header line, json one object\n"
             "             per line); the summary goes to standard error\n"
             "  ingest     stores events with their verdicts, updates the suppression list\n"
             "             and escalations; re-ingesting the same input adds nothing; then\n"
             "             runs the incremental correlation (unless --no-correlate) and\n"
             "             names the sending sources ('sources resolve', within [dns]\n"
             "             budget) unless --no-resolve; the summary (json: one object)\n"
             "             goes to standard output\n"
             "\n"
             "Our sending IP of each event comes from the log line (Exim I=[...], the CSV's\n"
             "sending_ip), else the provider's reply text, else the host map: [mta-hosts]\n"
             "in the config file and --mta-hosts FILE (TSV: syslog host name, IP; a header\n"
             "line and further columns ignored), applied to the log's host field and a\n"
             "DSN's Reporting-MTA. 'ip_source' in v_bounces says which.\n",
    .opts = options,
    .formats = OPT_TEXT | OPT_CSV | OPT_JSON,
    .args = true,
    .epilog = "Exit codes: 0 ok (malformed lines are counted, not fatal), 1 an input could\n"
              "not be read, 2 usage error, 3 the database cannot be reached.\n",
    .format_hint = "--format is the output's; the input's is --input-format "
                   "auto|postfix|exim|dsn|csv",
    .on_opt = on_opt,
};

/* --mta-hosts FILE into the map (created when NULL). */
static int load_hosts(const char *path, struct hostmap **m)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "dmarcsift: --mta-hosts %s: %s\n", path, strerror(errno));
		return -1;
	}
	struct buf b;
	buf_init(&b, (size_t)16 << 20);
	char chunk[4096];
	size_t n;
	int rc = 0;
	while (rc == 0 && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
		rc = buf_append(&b, chunk, n);
	fclose(f);
	struct err e = {0};
	if (rc != 0) {
		fprintf(stderr, "dmarcsift: --mta-hosts %s: larger than 16 MiB\n", path);
	} else {
		if (!*m)
			*m = hostmap_new();
		rc = hostmap_load_tsv(*m, b.data ? b.data : "", b.len, path, &e);
		if (rc != 0)
			fprintf(stderr, "dmarcsift: --mta-hosts: %s\n", e.msg);
	}
	buf_free(&b);
	return rc;
}

static int run_cmd(int argc, char **argv, bool ingest)
{
	struct args a = {.input = BOUNCE_FMT_AUTO, .resolve = true, .correlate = true};
	struct opt_common co;
	int rc;
	if (!opt_parse(&cmd, argc, argv, &a, &co, &rc))
		return rc;
	if (!ingest && (co.db || a.tenant)) {
		fprintf(stderr, "dmarcsift: bounces classify uses no database\n");
		return EXIT_USAGE;
	}
	if (co.nargs == 0)
		return opt_usage_error(&cmd);
	if (ingest && co.format == ROWS_CSV) {
		fprintf(stderr, "dmarcsift bounces: --format csv is for classify (ingest prints a "
		                "summary: text or json)\n");
		return EXIT_USAGE;
	}
	const char *rules_path = a.rules, *tenant = a.tenant, *config_opt = co.config;
	const char *hosts_path = a.hosts;
	bool correlate = a.correlate, resolve = a.resolve, json = co.format == ROWS_JSON;
	enum bounce_format fmt = a.input;
	struct config *cfg = NULL;
	char started[64] = "";
	struct bclass *owned = NULL;
	struct db *db = NULL;
	struct run r = {.format = ingest ? ROWS_TEXT : co.format};
	struct bounce_batch b = {.format = fmt, .tenant = tenant, .event = print_event, .ctx = &r};
	rc = EXIT_OK;
	if (load_rules(rules_path, &owned, &b.rules) < 0) {
		rc = EXIT_USAGE;
		goto out;
	}
	/* The host map: the config's [mta-hosts], plus --mta-hosts FILE. */
	cfg = autocorr_config(config_opt);
	if (hosts_path && load_hosts(hosts_path, &cfg->mta_hosts) < 0) {
		rc = EXIT_USAGE;
		goto out;
	}
	b.hosts = cfg->mta_hosts;
	if (ingest) {
		rc = cli_connect(co.db, &db);
		if (rc != 0)
			goto out;
		b.db = db;
		if (resolve)
			cli_resolve_mark_start(db, started, sizeof started);
	}
	for (int i = 0; i < co.nargs; i++) {
		struct err e = {0};
		int prc = bounce_batch_input(&b, co.args[i], &e);
		if (prc < 0) {
			int code = cli_fail(&e);
			if (code == EXIT_DB) {
				rc = EXIT_DB;
				goto out;
			}
			rc = EXIT_SOME_FAILED;
		} else if (prc > 0) {
			rc = EXIT_SOME_FAILED;
		}
	}
	fflush(stdout);
	if (ingest && json)
		print_json_summary(&b.tot);
	else
		print_summary(ingest ? stdout : stderr, &b.tot, ingest);
	if (ingest && correlate) {
		fflush(stdout);
		int crc = autocorr_run(db, cfg, json);
		if (crc != 0 && rc == EXIT_OK)
			rc = crc;
	}
	if (ingest && resolve && b.tot.store.added > 0 &&
	    cli_resolve_after(db, config_opt, started, json) != 0)
		rc = EXIT_DB;
out:
	if (db)
		db_close(db);
	bclass_free(owned);
	config_free(cfg);
	return rc;
}

int cmd_bounces(int argc, char **argv)
{
	int rc = opt_subcommand(&cmd, argc, argv);
	if (rc >= 0)
		return rc;
	if (strcmp(argv[1], "classify") == 0)
		return run_cmd(argc - 1, argv + 1, false);
	if (strcmp(argv[1], "ingest") == 0)
		return run_cmd(argc - 1, argv + 1, true);
	fprintf(stderr, "dmarcsift: unknown 'bounces' command '%s' (classify, ingest)\n", argv[1]);
	return EXIT_USAGE;
}
