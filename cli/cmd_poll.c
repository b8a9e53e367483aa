/*
 * dmarcsift poll: the options, the rounds (--every), and what is printed.
 * Each configured mailbox is read by app/poll.c (lock, tenant, source,
 * drain): every message goes through the pipeline and is filed away only
 * after the pipeline committed it — processed_folder when it was ingested,
 * a duplicate or a DSN; failed_folder when it was quarantined.
 *
 * Exit codes: 0 all well; 1 something was quarantined; 2 usage or
 * configuration error; 3 the database cannot be reached (the message in hand
 * is not moved); 4 a mailbox could not be read (IMAP server unreachable after
 * retries, login refused, Maildir/mbox missing) — the other mailboxes are
 * still polled, and nothing uncommitted is moved.
 */
#include "app/pipeline.h"
#include "app/poll.h"
#include "cli/autocorr.h"
#include "cli/cmd.h"
#include "cli/common.h"
#include "cli/config.h"
#include "cli/opt.h"
#include "cli/sources.h"
#include "core/duration.h"
#include "core/log.h"
#include "db/db.h"
#include "reports/rows.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define EXIT_MAILBOX 4

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

struct mb_run {
	const struct config_mailbox *mb;
	struct poll_result res;
};

enum { O_MAILBOX = 'm', O_ONCE = 'o', O_EVERY = 'e' };
enum { O_NO_RESOLVE = OPT_KEY, O_NO_CORRELATE };

static const struct opt options[] = {
    {"mailbox", O_MAILBOX, "NAME", "poll only this mailbox"},
    {"once", O_ONCE, NULL, "poll once and exit (the default; for cron/systemd timers)"},
    {"every", O_EVERY, "N",
     "poll every N (e.g. 300, 90s, 5m, 1h) until SIGTERM/SIGINT;\n"
     "with [retention] older_than set, also prune once a day\n"
     "('dmarcsift prune', after the first round)"},
    {"no-resolve", O_NO_RESOLVE, NULL,
     "do not name the sending sources after each round (by\n"
     "default 'sources resolve' runs, within [dns] budget)"},
    {"no-correlate", O_NO_CORRELATE, NULL,
     "do not run the incremental correlation after each round"},
    {NULL, 0, NULL, NULL},
};

struct args {
	const char *only;
	unsigned every;
	bool once, resolve, correlate;
};

static int on_opt(void *ctx, int key, const char *arg)
{
	struct args *a = ctx;
	switch (key) {
	case O_MAILBOX:
		a->only = arg;
		break;
	case O_ONCE:
		a->once = true;
		break;
	case O_EVERY: {
		long long every = duration_parse(arg, 7LL * 86400);
		if (every < 0) {
			fprintf(stderr,
			        "dmarcsift poll: --every '%s': expected e.g. 300, 90s, 5m, 1h\n",
			        arg);
			return EXIT_USAGE;
		}
		a->every = (unsigned)every;
		break;
	}
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
    .name = "poll",
    .synopsis = "usage: dmarcsift poll [--mailbox NAME] [--once | --every INTERVAL]\n"
                "                      [--no-resolve] [--no-correlate] [--format text|json]\n",
    .about = "Polls the mailboxes of the configuration file ([mailbox NAME] sections:\n"
             "imaps://, imap:// with STARTTLS, maildir:, mbox:), ingests every message\n"
             "through the same pipeline as 'dmarcsift ingest', and moves each message\n"
             "only after the database committed it: to processed_folder (reports,\n"
             "duplicates, DSNs) or failed_folder (quarantined, e.g. 'not a report').\n"
             "A second poller on the same mailbox skips it (PostgreSQL advisory lock).\n"
             "With --format json each round is one JSON object.\n",
    .opts = options,
    .formats = OPT_TEXT | OPT_JSON,
    .epilog = "Exit: 0 ok, 1 something quarantined, 2 usage/configuration error, 3 the\n"
              "database cannot be reached, 4 a mailbox could not be read (IMAP server\n"
              "unreachable after retries, login refused, Maildir/mbox missing).\n",
    .on_opt = on_opt,
};

static void to_source_mailbox(const struct config_mailbox *mb, struct source_mailbox *box)
{
	*box = (struct source_mailbox){
	    .name = mb->name,
	    .url = mb->url,
	    .path = mb->path,
	    .user = mb->user,
	    .ca_file = mb->tls_ca_file,
	    .insecure = mb->insecure_skip_verify,
	    .backoff_ms = mb->backoff_ms,
	    .processed_folder = mb->processed_folder,
	    .failed_folder = mb->failed_folder,
	    .folders_configured = mb->folders_configured,
	};
}

/* One mailbox: its secret, then app/poll. -1 when the run must stop. */
static int poll_one(struct mb_run *r, struct db *db, const struct config *cfg)
{
	const struct config_mailbox *mb = r->mb;
	char *password = NULL, *bearer = NULL;
	static const enum poll_kind kinds[] = {[CONFIG_MAILBOX_IMAP] = POLL_IMAP,
	                                       [CONFIG_MAILBOX_MAILDIR] = POLL_MAILDIR,
	                                       [CONFIG_MAILBOX_MBOX] = POLL_MBOX};
	struct poll_mailbox pm = {.kind = kinds[mb->kind],
	                          .opts = {.tenant_override = mb->tenant,
	                                   .pinned_strict = cfg->pinned_strict,
	                                   .ruf = cfg->ruf,
	                                   .hosts = cfg->mta_hosts}};
	to_source_mailbox(mb, &pm.box);
	if (mb->kind == CONFIG_MAILBOX_IMAP &&
	    config_mailbox_secret(mb, &password, &bearer, &r->res.mailbox_err) != 0)
		return 0;
	pm.box.password = password;
	pm.box.bearer = bearer;
	/* Locked by what it reads, not by the section's name: another config
	 * (or section) naming the same mailbox must wait too. */
	char *key = config_mailbox_source(mb);
	pm.lock_key = key;
	int rc = poll_mailbox(db, &pm, &stop_requested, &r->res);
	free(key);
	config_secret_free(password);
	config_secret_free(bearer);
	return rc;
}

static void print_line(const struct mb_run *r)
{
	const struct config_mailbox *mb = r->mb;
	if (r->res.locked_out) {
		printf("mailbox %s: skipped, another poller is working on it\n", mb->name);
		return;
	}
	const struct pipeline_stats *st = &r->res.st;
	printf("mailbox %s: %" PRIu64 " fetched, %" PRIu64 " reports ingested (%" PRIu64
	       " records), %" PRIu64 " duplicates, %" PRIu64 " quarantined, %" PRIu64
	       " to the bounce store, %" PRIu64 " moved",
	       mb->name, r->res.sc.fetched, st ? st->reports : 0, st ? st->records : 0,
	       r->res.c.duplicates, r->res.c.quarantined, r->res.c.dsn, r->res.sc.moved);
	/* the other kinds a rua=/ruf= mailbox receives, when there were any */
	if (st && st->tls_reports)
		printf(", %" PRIu64 " TLS reports", st->tls_reports);
	if (st && st->failure_reports)
		printf(", %" PRIu64 " failure reports", st->failure_reports);
	if (st && st->complaints)
		printf(", %" PRIu64 " ARF complaints", st->complaints);
	if (st && st->auto_replies)
		printf(", %" PRIu64 " auto-replies", st->auto_replies);
	if (st && st->other)
		printf(", %" PRIu64 " other messages", st->other);
	if (r->res.sc.not_moved)
		printf(", %" PRIu64 " not moved", r->res.sc.not_moved);
	if (r->res.sc.skipped)
		printf(", %" PRIu64 " skipped", r->res.sc.skipped);
	if (r->res.mailbox_err.kind != ERR_NONE)
		printf(" -- error: %s", r->res.mailbox_err.msg);
	else if (r->res.fatal.kind != ERR_NONE)
		printf(" -- stopped: %s", r->res.fatal.msg);
	printf("\n");
	fflush(stdout);
}

static json_object *json_line(const struct mb_run *r)
{
	json_object *o = json_object_new_object();
	const struct pipeline_stats *st = &r->res.st;
	json_object_object_add(o, "mailbox", json_object_new_string(r->mb->name));
	const char *status = r->res.locked_out ? "locked"
	                     : r->res.fatal.kind != ERR_NONE
	                         ? "database"
	                         : (r->res.mailbox_err.kind != ERR_NONE ? "error" : "ok");
	json_object_object_add(o, "status", json_object_new_string(status));
#define ADD(k, v) json_object_object_add(o, k, json_object_new_int64((int64_t)(v)))
	ADD("fetched", r->res.sc.fetched);
	ADD("reports", st ? st->reports : 0);
	ADD("records", st ? st->records : 0);
	ADD("ingested_messages", r->res.c.ingested);
	ADD("duplicates", r->res.c.duplicates);
	ADD("quarantined", r->res.c.quarantined);
	ADD("dsn", r->res.c.dsn);
	ADD("bounces", st ? st->dsn : 0);
	ADD("tls_reports", st ? st->tls_reports : 0);
	ADD("failure_reports", st ? st->failure_reports : 0);
	ADD("complaints", st ? st->complaints : 0);
	ADD("auto_replies", st ? st->auto_replies : 0);
	ADD("other", st ? st->other : 0);
	ADD("moved", r->res.sc.moved);
	ADD("not_moved", r->res.sc.not_moved);
	ADD("skipped", r->res.sc.skipped);
#undef ADD
	const struct err *e =
	    r->res.mailbox_err.kind != ERR_NONE ? &r->res.mailbox_err : &r->res.fatal;
	if (e->kind != ERR_NONE)
		json_object_object_add(o, "error", json_object_new_string(e->msg));
	return o;
}

/* One round over the mailboxes; returns the exit code. */
static int poll_round(struct config *cfg, struct db *db, const char *only, bool json)
{
	int code = EXIT_OK;
	json_object *arr = json ? json_object_new_array() : NULL;
	for (size_t i = 0; i < cfg->n_mailboxes && !stop_requested; i++) {
		const struct config_mailbox *mb = &cfg->mailboxes[i];
		if (only && strcmp(mb->name, only) != 0)
			continue;
		struct mb_run r = {.mb = mb};
		int rc = poll_one(&r, db, cfg);
		if (json)
			json_object_array_add(arr, json_line(&r));
		else
			print_line(&r);
		if (r.res.locked_out)
			log_info("mailbox %s: locked by another poller, skipped", mb->name);
		if (r.res.mailbox_err.kind != ERR_NONE) {
			log_error("mailbox %s: %s", mb->name, r.res.mailbox_err.msg);
			if (code == EXIT_OK || code == EXIT_SOME_FAILED)
				code = EXIT_MAILBOX;
		}
		if (r.res.c.quarantined && code == EXIT_OK)
			code = EXIT_SOME_FAILED;
		if (rc != 0) {
			log_error("%s (the message in hand was not moved)", r.res.fatal.msg);
			code = r.res.fatal.kind == ERR_RETRY || db_lost(db)
			           ? EXIT_DB
			           : cli_fail(&r.res.fatal);
			break;
		}
	}
	if (json) {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "mailboxes", arr);
		json_object_object_add(o, "exit", json_object_new_int(code));
		rows_json_print(stdout, o);
		fflush(stdout);
		json_object_put(o);
	}
	return code;
}

int cmd_poll(int argc, char **argv)
{
	struct args a = {.resolve = true, .correlate = true};
	struct opt_common co;
	int rc;
	if (!opt_parse(&cmd, argc, argv, &a, &co, &rc))
		return rc;
	if (a.once && a.every) {
		fprintf(stderr, "dmarcsift poll: --once and --every exclude each other\n");
		return opt_usage_error(&cmd);
	}
	const char *config_opt = co.config, *db_opt = co.db, *only = a.only;
	unsigned every = a.every;
	bool json = co.format == ROWS_JSON, resolve = a.resolve, correlate = a.correlate,
	     quiet = co.quiet;

	struct err e = {0};
	char *path = NULL;
	struct config *cfg = NULL;
	struct db *db = NULL;
	rc = EXIT_OK;
	if (config_find(config_opt, &path, &e) != 0 || config_load(&cfg, path, &e) != 0) {
		rc = cli_fail(&e);
		goto out;
	}
	for (size_t i = 0; i < cfg->n_warnings; i++)
		log_warn("%s", cfg->warnings[i]);
	if (!config_ok(cfg)) {
		for (size_t i = 0; i < cfg->n_errors; i++)
			fprintf(stderr, "%s\n", cfg->errors[i]);
		fprintf(stderr, "dmarcsift poll: the configuration has errors (see above)\n");
		rc = EXIT_USAGE;
		goto out;
	}
	if (cfg->n_mailboxes == 0) {
		fprintf(stderr, "dmarcsift poll: no [mailbox NAME] configured%s%s\n",
		        path ? " in " : " (no configuration file found)", path ? path : "");
		rc = EXIT_USAGE;
		goto out;
	}
	if (only && !config_mailbox_find(cfg, only)) {
		fprintf(stderr, "dmarcsift poll: no [mailbox %s] in %s\n", only, path);
		rc = EXIT_USAGE;
		goto out;
	}
	cli_set_config_path(path); /* its [database] url, after --db and DMARCSIFT_DB */

	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	long long last_prune = 0;
	for (;;) {
		if (!db) {
			rc = cli_connect(db_opt, &db);
			if (rc != 0) {
				db = NULL;
				if (!every)
					goto out;
			}
		}
		char started[64] = "";
		if (db && resolve)
			cli_resolve_mark_start(db, started, sizeof started);
		if (db)
			rc = poll_round(cfg, db, only, json);
		if (db && correlate && rc != EXIT_DB) {
			int crc = autocorr_run(db, cfg, quiet || json);
			if (crc != 0 && rc == EXIT_OK)
				rc = crc;
		}
		if (db && resolve && rc != EXIT_DB &&
		    cli_resolve_after(db, path, started, json) != 0)
			rc = EXIT_DB;
		/* Last, after everything ingested is committed: never blocks ingest. */
		if (db && rc != EXIT_DB && cli_blocklists_after_poll(db, cfg, quiet || json) != 0)
			rc = EXIT_DB;
		/* A long-running poller keeps the retention too (once a day); a
		 * --once from a timer leaves it to a scheduled `dmarcsift prune`. */
		if (db && every && rc != EXIT_DB &&
		    cli_prune_after_poll(db, cfg, &last_prune, quiet || json) != 0)
			rc = EXIT_DB;
		if (rc == EXIT_DB) {
			db_close(db);
			db = NULL;
		}
		if (!every || stop_requested)
			break;
		struct timespec ts = {.tv_sec = every};
		while (!stop_requested && nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
		if (stop_requested)
			break;
	}
out:
	db_close(db);
	config_free(cfg);
	free(path);
	return rc;
}
