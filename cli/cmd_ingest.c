/*
 * dmarcsift ingest: files, directories (recursive) and standard input into
 * the database through the pipeline.
 */
#include "app/drain.h"
#include "app/pipeline.h"
#include "cli/autocorr.h"
#include "cli/cmd.h"
#include "cli/common.h"
#include "cli/config.h"
#include "cli/opt.h"
#include "cli/sources.h"
#include "core/log.h"
#include "db/db.h"
#include "reports/rows.h"
#include "sources/source.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct ingest_run {
	struct pipeline *pipe;
	bool progress;
	struct timespec last_progress;
};

enum { O_TENANT = 't', O_NO_RESOLVE = OPT_KEY, O_NO_CORRELATE };

static const struct opt options[] = {
    {"tenant", O_TENANT, "NAME", "put every report of this run into tenant NAME"},
    {"no-resolve", O_NO_RESOLVE, NULL,
     "do not name the sending sources afterwards (by default\n"
     "'sources resolve' runs at the end, within [dns] budget,\n"
     "default 30s; DNS trouble never fails or slows the ingest)"},
    {"no-correlate", O_NO_CORRELATE, NULL,
     "do not run the incremental correlation at the end (what\n"
     "changed stays queued for the next 'dmarcsift correlate')"},
    {NULL, 0, NULL, NULL},
};

struct args {
	const char *tenant;
	bool resolve, correlate;
};

static int on_opt(void *ctx, int key, const char *arg)
{
	struct args *a = ctx;
	if (key == O_TENANT)
		a->tenant = arg;
	else if (key == O_NO_RESOLVE)
		a->resolve = false;
	else
		a->correlate = false;
	return 0;
}

static const struct opt_cmd cmd = {
    .name = "ingest",
    .synopsis = "usage: dmarcsift ingest [--tenant NAME] [--no-resolve] [--no-correlate]\n"
                "                        [--format text|json] PATH...\n",
    .about = "Ingests DMARC aggregate reports (.xml, .xml.gz, .gz, .zip), SMTP TLS reports\n"
             "(.json, .json.gz), or the e-mails that carried them (.eml, any MIME nesting),\n"
             "DMARC failure reports (RFC 6591 and the older text layout; [ruf] keep_body and\n"
             "redact in the config file say what is kept), and hands bounces (DSNs and\n"
             "notices), ARF complaints and auto-replies to the bounce store. The summary\n"
             "counts each kind (json: one object). PATH is a file, a directory (read\n"
             "recursively; hidden files and .tsv/.md/.sh files in it are skipped), or '-'\n"
             "for standard input. Raw bytes are stored first; an input that fails is\n"
             "quarantined with the stage and reason (see 'dmarcsift failures') and the run\n"
             "goes on. Identical bytes or an already stored report are duplicates. The\n"
             "configuration file gives [ruf], [dns], [sources], [correlate] and\n"
             "[mta-hosts] (for DSNs).\n",
    .opts = options,
    .formats = OPT_TEXT | OPT_JSON,
    .args = true,
    .epilog = "Exit: 0 nothing quarantined, 1 something quarantined or unreadable, 2 usage,\n"
              "3 the database cannot be reached (nothing is marked processed then).\n",
    .on_opt = on_opt,
};

static void show_progress(struct ingest_run *r, bool final)
{
	if (!r->progress)
		return;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	long ms = (now.tv_sec - r->last_progress.tv_sec) * 1000 +
	          (now.tv_nsec - r->last_progress.tv_nsec) / 1000000;
	if (!final && ms < 250)
		return;
	r->last_progress = now;
	const struct pipeline_stats *st = pipeline_stats(r->pipe);
	fprintf(stderr,
	        "\r%llu inputs: %llu reports, %llu records, %llu duplicates, %llu quarantined%s",
	        (unsigned long long)st->inputs, (unsigned long long)st->reports,
	        (unsigned long long)st->records, (unsigned long long)st->duplicates,
	        (unsigned long long)st->quarantined, final ? "\n" : "");
	fflush(stderr);
}

static void tick(void *ctx)
{
	show_progress(ctx, false);
}

static void print_summary(const struct pipeline_stats *st, uint64_t unreadable, bool json)
{
	if (json) {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "inputs", json_object_new_int64((int64_t)st->inputs));
		json_object_object_add(o, "reports", json_object_new_int64((int64_t)st->reports));
		json_object_object_add(o, "records", json_object_new_int64((int64_t)st->records));
		json_object_object_add(o, "messages", json_object_new_int64((int64_t)st->messages));
		json_object_object_add(o, "duplicates",
		                       json_object_new_int64((int64_t)st->duplicates));
		json_object_object_add(o, "replaced", json_object_new_int64((int64_t)st->replaced));
		json_object_object_add(o, "quarantined",
		                       json_object_new_int64((int64_t)st->quarantined));
		json_object_object_add(o, "recovered",
		                       json_object_new_int64((int64_t)st->recovered));
		json_object_object_add(o, "records_skipped",
		                       json_object_new_int64((int64_t)st->records_skipped));
		json_object_object_add(o, "tls_reports",
		                       json_object_new_int64((int64_t)st->tls_reports));
		json_object_object_add(o, "failure_reports",
		                       json_object_new_int64((int64_t)st->failure_reports));
		json_object_object_add(o, "complaints",
		                       json_object_new_int64((int64_t)st->complaints));
		json_object_object_add(o, "auto_replies",
		                       json_object_new_int64((int64_t)st->auto_replies));
		json_object_object_add(o, "other", json_object_new_int64((int64_t)st->other));
		json_object_object_add(o, "dsn", json_object_new_int64((int64_t)st->dsn));
		json_object_object_add(o, "bounce_events",
		                       json_object_new_int64((int64_t)st->bounce_events));
		json_object_object_add(o, "unreadable", json_object_new_int64((int64_t)unreadable));
		json_object_object_add(o, "tenant_mismatches",
		                       json_object_new_int64((int64_t)st->mismatched));
		rows_json_print(stdout, o);
		json_object_put(o);
		return;
	}
	printf("%llu reports (%llu records) ingested, %llu duplicates, %llu quarantined",
	       (unsigned long long)st->reports, (unsigned long long)st->records,
	       (unsigned long long)st->duplicates, (unsigned long long)st->quarantined);
	if (st->replaced)
		printf(", %llu replaced", (unsigned long long)st->replaced);
	if (st->recovered)
		printf(", %llu recovered (see the views' complaint column)",
		       (unsigned long long)st->recovered);
	if (st->records_skipped)
		printf(", %llu records skipped", (unsigned long long)st->records_skipped);
	if (st->tls_reports)
		printf(", %llu TLS reports", (unsigned long long)st->tls_reports);
	if (st->failure_reports)
		printf(", %llu failure reports", (unsigned long long)st->failure_reports);
	if (st->dsn)
		printf(", %llu bounces", (unsigned long long)st->dsn);
	if (st->complaints)
		printf(", %llu ARF complaints", (unsigned long long)st->complaints);
	if (st->auto_replies)
		printf(", %llu auto-replies", (unsigned long long)st->auto_replies);
	if (st->dsn || st->complaints || st->auto_replies)
		printf(" (%llu new bounce events)", (unsigned long long)st->bounce_events);
	if (st->other)
		printf(", %llu other messages", (unsigned long long)st->other);
	if (st->mismatched)
		printf(", %llu for another tenant than --tenant",
		       (unsigned long long)st->mismatched);
	if (unreadable)
		printf(", %llu unreadable", (unsigned long long)unreadable);
	printf("\n");
}

int cmd_ingest(int argc, char **argv)
{
	struct args a = {.resolve = true, .correlate = true};
	struct opt_common co;
	int rc;
	if (!opt_parse(&cmd, argc, argv, &a, &co, &rc))
		return rc;
	if (co.nargs == 0) {
		fprintf(stderr, "dmarcsift ingest: no PATH given\n");
		return opt_usage_error(&cmd);
	}
	const char *tenant = a.tenant, *config_opt = co.config;
	bool json = co.format == ROWS_JSON, quiet = co.quiet, resolve = a.resolve,
	     correlate = a.correlate;

	struct pipeline_opts po = {.tenant_override = tenant, .pinned_strict = cli_pinned_strict()};
	/* [ruf] strictly: a failure report must not be stored unredacted
	 * because a typo elsewhere in the file hid `redact = true`. */
	rc = cli_ruf_options(config_opt, &po.ruf);
	if (rc != 0)
		return rc;
	struct config *cfg = autocorr_config(config_opt);
	struct db *db = NULL;
	rc = cli_connect(co.db, &db);
	if (rc != 0) {
		config_free(cfg);
		return rc;
	}
	rc = cli_check_tenant(db, tenant);
	if (rc != EXIT_OK) {
		db_close(db);
		config_free(cfg);
		return rc;
	}
	char started[64] = "";
	if (resolve)
		cli_resolve_mark_start(db, started, sizeof started);
	po.hosts = cfg->mta_hosts;
	struct ingest_run run = {.progress = !quiet && !json && isatty(STDERR_FILENO)};
	clock_gettime(CLOCK_MONOTONIC, &run.last_progress);
	pipeline_new(&run.pipe, db, &po);
	/* A second connection lets one batch's end run on the server while the
	 * next is parsed (app/pipeline.c); without it, batches take turns on
	 * the one connection as before. */
	struct db *spare = NULL;
	struct err serr = {0};
	if (db_connect_again(&spare, db, &serr) == 0)
		pipeline_set_spare(run.pipe, spare);
	else
		log_debug("no second connection, batches take turns on one: %s", serr.msg);

	/* Files, directories and "-" (standard input): one source, drained
	 * like a mailbox. */
	struct source *src = NULL;
	source_files_open(&src, co.args, (size_t)co.nargs);
	struct drain_counts dc = {0};
	struct err fatal = {0}, unused = {0};
	int stop = drain(src, run.pipe, NULL, tick, &run, &dc, &unused, &fatal);
	uint64_t unreadable = source_counts(src)->unreadable;
	source_close(src);
	show_progress(&run, true);

	const struct pipeline_stats *st = pipeline_stats(run.pipe);
	uint64_t ahead = 0, again = 0, dup_ahead = 0, dup_new = 0;
	pipeline_speculated(run.pipe, &ahead, &again, &dup_ahead, &dup_new);
	if (ahead > 0)
		log_debug(
		    "%llu input(s) stored ahead of the server's answers, %llu of them stored again",
		    (unsigned long long)ahead, (unsigned long long)again);
	if (dup_ahead > 0)
		log_debug(
		    "%llu input(s) taken for duplicates ahead of the server's answers, %llu of "
		    "them not",
		    (unsigned long long)dup_ahead, (unsigned long long)dup_new);
	if (stop != 0) {
		print_summary(st, unreadable, json);
		rc = cli_fail(&fatal);
		/* A lost connection is exit 3 whatever the failed call said. */
		if (fatal.kind == ERR_RETRY || db_lost(db) || (spare && db_lost(spare)))
			rc = EXIT_DB;
	} else {
		print_summary(st, unreadable, json);
		rc = st->quarantined || unreadable ? EXIT_SOME_FAILED : EXIT_OK;
		if (rc == EXIT_SOME_FAILED && quiet) {
			/* The summary went to stdout, which cron jobs often discard. */
			fprintf(
			    stderr,
			    "dmarcsift ingest: %llu input(s) quarantined, %llu path(s) unreadable "
			    "(see 'dmarcsift failures')\n",
			    (unsigned long long)st->quarantined, (unsigned long long)unreadable);
			cli_failure_note();
		}
		if (correlate) {
			int crc = autocorr_run(db, cfg, quiet || json);
			if (crc != 0 && rc == EXIT_OK)
				rc = crc;
		}
		/* Stored first, named after: DNS never decides how fast ingest runs. */
		if (resolve && st->records > 0 &&
		    cli_resolve_after(db, config_opt, started, quiet || json) != 0)
			rc = EXIT_DB;
	}
	pipeline_free(run.pipe);
	db_close(spare);
	db_close(db);
	config_free(cfg);
	return rc;
}
