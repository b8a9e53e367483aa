/*
 * dmarcsift bounces: parse bounce records (Postfix, Exim, DSN, CSV),
 * classify them with the rule table, and either explain each event
 * (classify: no database) or store them (ingest: events, suppressions,
 * escalations via db/bounce_store.h). A summary goes to stderr (classify) or
 * stdout (ingest): events by class, skipped lines, malformed lines by reason.
 * Malformed lines never fail the run; an input that cannot be read does
 * (exit 1); a database that cannot be reached is exit 3.
 */
#include "cli/autocorr.h"
#include "cli/cmd.h"
#include "cli/common.h"
#include "cli/config.h"
#include "cli/sources.h"
#include "core/bclass.h"
#include "core/buf.h"
#include "core/hostmap.h"
#include "core/provider.h"
#include "core/xalloc.h"
#include "db/bounce_store.h"
#include "db/db.h"
#include "ingest/bounce.h"

#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define MAX_CLASSES 32

struct totals {
	uint64_t events, lines, skipped, malformed;
	struct {
		const char *klass;
		uint64_t n;
	} by_class[MAX_CLASSES];
	size_t nclass;
	struct bounce_reason reasons[BOUNCE_MAX_REASONS];
	size_t nreasons;
	struct bounce_store_stats store;
};

struct run {
	const struct bclass *rules;
	const struct hostmap *hosts; /* [mta-hosts] + --mta-hosts, or NULL */
	bool json;
	struct bounce_store *store; /* ingest only */
	struct totals *tot;
};

static void count_class(struct totals *t, const char *klass)
{
	for (size_t i = 0; i < t->nclass; i++)
		if (strcmp(t->by_class[i].klass, klass) == 0) {
			t->by_class[i].n++;
			return;
		}
	if (t->nclass < MAX_CLASSES) {
		t->by_class[t->nclass].klass = klass;
		t->by_class[t->nclass++].n = 1;
	}
}

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

static void print_event(const struct run *r, const struct bounce_event *ev,
                        const struct bounce_verdict *v, const char *provider)
{
	if (r->json) {
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
		json_object_object_add(o, "at", ev->at ? json_object_new_int64(ev->at) : NULL);
		put_str(o, "remote_mta", ev->remote_mta);
		put_str(o, "mail_from", ev->mail_from);
		put_str(o, "queue_id", ev->queue_id);
		puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
		                                           JSON_C_TO_STRING_NOSLASHESCAPE));
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

static int on_event(void *ctx, const struct bounce_event *ev, struct err *e)
{
	struct run *r = ctx;
	struct bounce_verdict v;
	const char *provider = bounce_classify_event(r->rules, NULL, ev, &v);
	count_class(r->tot, v.klass);
	if (r->store)
		return bounce_store_add(r->store, ev, &v, e);
	print_event(r, ev, &v, provider);
	return 0;
}

static void add_stats(struct totals *t, const struct bounce_stats *st)
{
	t->events += st->events;
	t->lines += st->lines;
	t->skipped += st->skipped;
	t->malformed += st->malformed;
	for (size_t i = 0; i < st->nreasons; i++) {
		size_t k;
		for (k = 0; k < t->nreasons; k++)
			if (strcmp(t->reasons[k].reason, st->reasons[i].reason) == 0)
				break;
		if (k == t->nreasons) {
			if (k == BOUNCE_MAX_REASONS)
				continue;
			t->reasons[k] = st->reasons[i];
			t->reasons[k].count = 0;
			t->nreasons++;
		}
		t->reasons[k].count += st->reasons[i].count;
	}
}

static void print_summary(FILE *out, const struct totals *t, bool store)
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

/* Parses one input. Returns 0, 1 when it could not be read (said on
 * stderr), or -1 when the callback failed (e set). */
static int parse_input(const char *path, enum bounce_format fmt, struct run *r, struct err *e)
{
	FILE *f = stdin;
	struct bounce_parser *p = NULL;
	char *chunk = NULL;
	int rc = 0;
	int64_t ref = (int64_t)time(NULL);
	if (strcmp(path, "-") != 0) {
		struct stat st;
		f = fopen(path, "rb");
		if (!f || fstat(fileno(f), &st) != 0 || S_ISDIR(st.st_mode)) {
			fprintf(stderr, "dmarcsift: %s: %s\n", path,
			        f ? "is a directory" : strerror(errno));
			rc = 1;
			goto out;
		}
		/* classic syslog has no year: the file's age gives it */
		ref = (int64_t)st.st_mtime;
	}
	if (bounce_parser_new(&p, fmt, ref, on_event, r, e) < 0) {
		rc = -1;
		goto out;
	}
	bounce_parser_set_hosts(p, r->hosts);
	chunk = xmalloc(1 << 16);
	size_t n;
	while ((n = fread(chunk, 1, 1 << 16, f)) > 0) {
		if (bounce_parser_feed(p, chunk, n, e) < 0) {
			rc = -1;
			goto out;
		}
	}
	if (ferror(f)) {
		fprintf(stderr, "dmarcsift: %s: read error\n", path);
		rc = 1;
		goto out;
	}
	if (bounce_parser_finish(p, e) < 0) {
		rc = -1;
		goto out;
	}
out:
	if (p)
		add_stats(r->tot, bounce_parser_stats(p));
	bounce_parser_free(p);
	free(chunk);
	if (f && f != stdin)
		fclose(f);
	return rc;
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

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: dmarcsift bounces classify [--format text|json]\n"
	        "                 [--input-format auto|postfix|exim|dsn|csv] [--rules FILE] "
	        "PATH...|-\n"
	        "       dmarcsift bounces ingest [--format auto|postfix|exim|dsn|csv] [--db CONN]\n"
	        "                 [--tenant T] [--rules FILE] [--mta-hosts FILE] [--config PATH]\n"
	        "                 [--no-resolve] [--no-correlate] PATH...|-\n"
	        "\n"
	        "Reads SMTP outcomes from Postfix or Exim logs, RFC 3464 delivery-status\n"
	        "messages or CSV exports (header: timestamp,sending_ip,from,recipient,reply,\n"
	        "remote_mta,campaign), and classifies each recipient event by the action it\n"
	        "calls for (data/bounce-rules.tsv).\n"
	        "\n"
	        "  classify   no database: one line per event (tab-separated: recipient,\n"
	        "             reply_code, enhanced_code, class, severity, action, block,\n"
	        "             listed_on, listed_asset, rule, text) or one JSON object per line\n"
	        "  ingest     stores events with their verdicts, updates the suppression list\n"
	        "             and escalations; re-ingesting the same input adds nothing; then\n"
	        "             runs the incremental correlation (unless --no-correlate) and\n"
	        "             names the sending sources ('sources resolve', within [dns]\n"
	        "             budget) unless --no-resolve\n"
	        "\n"
	        "Our sending IP of each event comes from the log line (Exim I=[...], the CSV's\n"
	        "sending_ip), else the provider's reply text, else the host map: [mta-hosts]\n"
	        "in the config file and --mta-hosts FILE (TSV: syslog host name, IP; a header\n"
	        "line and further columns ignored), applied to the log's host field and a\n"
	        "DSN's Reporting-MTA. 'ip_source' in v_bounces says which.\n"
	        "\n"
	        "Exit codes: 0 ok (malformed lines are counted, not fatal), 1 an input could\n"
	        "not be read, 2 usage error, 3 the database cannot be reached.\n");
}

enum {
	OPT_INPUT_FORMAT = 256,
	OPT_RULES,
	OPT_DB,
	OPT_TENANT,
	OPT_MTA_HOSTS,
	OPT_CONFIG,
	OPT_NO_CORRELATE,
	OPT_NO_RESOLVE
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
	static const struct option longopts[] = {
	    {"format", required_argument, NULL, 'f'},
	    {"input-format", required_argument, NULL, OPT_INPUT_FORMAT},
	    {"rules", required_argument, NULL, OPT_RULES},
	    {"db", required_argument, NULL, OPT_DB},
	    {"tenant", required_argument, NULL, OPT_TENANT},
	    {"no-resolve", no_argument, NULL, OPT_NO_RESOLVE},
	    {"mta-hosts", required_argument, NULL, OPT_MTA_HOSTS},
	    {"config", required_argument, NULL, OPT_CONFIG},
	    {"no-correlate", no_argument, NULL, OPT_NO_CORRELATE},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *rules_path = NULL, *db_opt = NULL, *tenant = NULL, *config_opt = NULL;
	const char *hosts_path = NULL;
	bool correlate = true;
	struct config *cfg = NULL;
	enum bounce_format fmt = BOUNCE_FMT_AUTO;
	bool json = false, resolve = true;
	char started[64] = "";
	struct bclass *owned = NULL;
	struct db *db = NULL;
	struct totals tot = {0};
	struct run r = {0};
	int rc = EXIT_OK, c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (ingest ? bounce_format_parse(optarg, &fmt) < 0
			           : strcmp(optarg, "json") != 0 && strcmp(optarg, "text") != 0) {
				fprintf(stderr, "dmarcsift: unknown --format '%s'\n", optarg);
				return EXIT_USAGE;
			}
			json = !ingest && strcmp(optarg, "json") == 0;
			break;
		case OPT_INPUT_FORMAT:
			if (ingest || bounce_format_parse(optarg, &fmt) < 0) {
				fprintf(stderr, "dmarcsift: bad --input-format '%s'\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case OPT_RULES:
			rules_path = optarg;
			break;
		case OPT_NO_RESOLVE:
			resolve = false;
			break;
		case OPT_MTA_HOSTS:
			hosts_path = optarg;
			break;
		case OPT_CONFIG:
			config_opt = optarg;
			break;
		case OPT_NO_CORRELATE:
			correlate = false;
			break;
		case OPT_DB:
		case OPT_TENANT:
			if (!ingest) {
				fprintf(stderr, "dmarcsift: bounces classify uses no database\n");
				return EXIT_USAGE;
			}
			if (c == OPT_DB)
				db_opt = optarg;
			else
				tenant = optarg;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	r.json = json;
	r.tot = &tot;
	if (load_rules(rules_path, &owned, &r.rules) < 0) {
		rc = EXIT_USAGE;
		goto out;
	}
	/* The host map: the config's [mta-hosts], plus --mta-hosts FILE. */
	cfg = autocorr_config(config_opt);
	if (hosts_path && load_hosts(hosts_path, &cfg->mta_hosts) < 0) {
		rc = EXIT_USAGE;
		goto out;
	}
	r.hosts = cfg->mta_hosts;
	if (ingest) {
		rc = cli_connect(db_opt, &db);
		if (rc != 0)
			goto out;
		if (resolve)
			cli_resolve_mark_start(db, started, sizeof started);
	}
	for (int i = optind; i < argc; i++) {
		struct err e = {0};
		if (ingest && bounce_store_begin(&r.store, db, tenant, &e) < 0) {
			rc = cli_fail(&e);
			goto out;
		}
		int prc = parse_input(argv[i], fmt, &r, &e);
		if (ingest) {
			struct bounce_store_stats st = {0};
			if (prc < 0) {
				bounce_store_abort(r.store);
			} else if (bounce_store_commit(r.store, &st, &e) < 0) {
				prc = -1;
			}
			r.store = NULL;
			tot.store.added += st.added;
			tot.store.known += st.known;
			tot.store.suppressed += st.suppressed;
			tot.store.lifted += st.lifted;
			tot.store.escalations_opened += st.escalations_opened;
		}
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
	print_summary(ingest ? stdout : stderr, &tot, ingest);
	if (ingest && correlate) {
		fflush(stdout);
		int crc = autocorr_run(db, cfg, false);
		if (crc != 0 && rc == EXIT_OK)
			rc = crc;
	}
	if (ingest && resolve && tot.store.added > 0 &&
	    cli_resolve_after(db, config_opt, started, false) != 0)
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
	if (argc < 2 || cli_is_help(argv[1])) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	if (strcmp(argv[1], "classify") == 0)
		return run_cmd(argc - 1, argv + 1, false);
	if (strcmp(argv[1], "ingest") == 0)
		return run_cmd(argc - 1, argv + 1, true);
	fprintf(stderr, "dmarcsift: unknown 'bounces' command '%s' (classify, ingest)\n", argv[1]);
	return EXIT_USAGE;
}
