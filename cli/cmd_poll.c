/*
 * dmarcsift poll: reads every configured mailbox (IMAP(S), Maildir, mbox),
 * feeds each message through the pipeline, and files it away only after the
 * pipeline has committed it: processed_folder when it was ingested, a
 * duplicate or a DSN; failed_folder when it was quarantined. One PostgreSQL
 * advisory lock per mailbox keeps two pollers apart (the second skips the
 * mailbox and says so). Progress (IMAP UIDVALIDITY + last UID, mbox offset)
 * is kept in dmarcsift.mailbox_state; a Maildir keeps it in its file names.
 *
 * Exit codes: 0 all well; 1 something was quarantined; 2 usage or
 * configuration error; 3 the database cannot be reached (the message in hand
 * is not moved); 4 a mailbox could not be read (IMAP server unreachable after
 * retries, login refused, Maildir/mbox missing) — the other mailboxes are
 * still polled, and nothing uncommitted is moved.
 */
#include "app/pipeline.h"
#include "cli/autocorr.h"
#include "cli/cmd.h"
#include "cli/common.h"
#include "cli/config.h"
#include "cli/sources.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "db/db.h"
#include "db/mailbox_state.h"
#include "ingest/imap.h"
#include "ingest/maildir.h"
#include "ingest/mbox.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define EXIT_MAILBOX    4
#define MAILDIR_MSG_MAX ((size_t)256 << 20)

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

struct mb_run {
	const struct config_mailbox *mb;
	struct ruf_options ruf;
	const struct hostmap *hosts; /* [mta-hosts], for DSNs */
	struct db *db;
	struct pipeline *pipe;
	int tenant_id;
	bool pinned_strict; /* [tenants] pinned = strict */
	uint64_t fetched, ingested, duplicates, quarantined, dsn, moved, move_failed, skipped;
	bool locked_out;
	struct err mailbox_err; /* this mailbox could not be read */
	struct err fatal;       /* the database went away: stop everything */
};

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: dmarcsift poll [--config PATH] [--db CONN] [--mailbox NAME]\n"
	        "                      [--once | --every INTERVAL] [--json] [--quiet]\n"
	        "                      [--no-resolve] [--no-correlate]\n"
	        "\n"
	        "Polls the mailboxes of the configuration file ([mailbox NAME] sections:\n"
	        "imaps://, imap:// with STARTTLS, maildir:, mbox:), ingests every message\n"
	        "through the same pipeline as 'dmarcsift ingest', and moves each message\n"
	        "only after the database committed it: to processed_folder (reports,\n"
	        "duplicates, DSNs) or failed_folder (quarantined, e.g. 'not a report').\n"
	        "A second poller on the same mailbox skips it (PostgreSQL advisory lock).\n"
	        "\n"
	        "  --config PATH   configuration file (default: $XDG_CONFIG_HOME/dmarcsift/\n"
	        "                  dmarcsift.conf, else /etc/dmarcsift/dmarcsift.conf)\n"
	        "  --db CONN       libpq connection string (default: $DMARCSIFT_DB, else the\n"
	        "                  file's [database] url, else the embedded cluster)\n"
	        "  --mailbox NAME  poll only this mailbox\n"
	        "  --once          poll once and exit (the default; for cron/systemd timers)\n"
	        "  --every N       poll every N (e.g. 300, 90s, 5m, 1h) until SIGTERM/SIGINT;\n"
	        "                  with [retention] older_than set, also prune once a day\n"
	        "                  ('dmarcsift prune', after the first round)\n"
	        "  --json          print each round's summary as one JSON object\n"
	        "  --quiet         no per-message warnings\n"
	        "  --no-resolve    do not name the sending sources after each round (by\n"
	        "                  default 'sources resolve' runs, within [dns] budget)\n"
	        "  --no-correlate  do not run the incremental correlation after each round\n"
	        "\n"
	        "Exit: 0 ok, 1 something quarantined, 2 usage/configuration error, 3 the\n"
	        "database cannot be reached, 4 a mailbox could not be read (IMAP server\n"
	        "unreachable after retries, login refused, Maildir/mbox missing).\n");
}

static int parse_interval(const char *s, unsigned *out)
{
	char *end = NULL;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || v <= 0)
		return -1;
	long long mult = 1;
	if (*end == 's')
		end++;
	else if (*end == 'm')
		mult = 60, end++;
	else if (*end == 'h')
		mult = 3600, end++;
	if (*end || v > 7LL * 86400 / mult)
		return -1;
	*out = (unsigned)(v * mult);
	return 0;
}

/* Feeds one message; -1 (with r->fatal) when the run must stop. */
static int feed(struct mb_run *r, const void *data, size_t len, const char *source,
                enum pipeline_outcome *outcome)
{
	r->fetched++;
	if (pipeline_ingest(r->pipe, data, len, source, outcome, &r->fatal) != 0)
		return -1;
	switch (*outcome) {
	case PIPE_INGESTED:
		r->ingested++;
		break;
	case PIPE_DUPLICATE:
		r->duplicates++;
		break;
	case PIPE_QUARANTINED:
		r->quarantined++;
		break;
	case PIPE_DSN:
		r->dsn++;
		break;
	}
	return 0;
}

static int save_state(struct mb_run *r, const struct mailbox_state *st)
{
	return mailbox_state_put(r->db, r->tenant_id, r->mb->name, st, &r->fatal);
}

/* ---- IMAP ---- */

static int poll_imap(struct mb_run *r)
{
	const struct config_mailbox *mb = r->mb;
	char *password = NULL, *bearer = NULL;
	struct imap *im = NULL;
	uint64_t *uids = NULL;
	size_t n = 0;
	struct buf msg;
	buf_init(&msg, 0);
	int rc = 0;
	struct mailbox_state st;
	uint64_t uv = 0;

	if (config_mailbox_secret(mb, &password, &bearer, &r->mailbox_err) != 0)
		goto out;
	struct imap_opts io = {
	    .url = mb->url,
	    .user = mb->user,
	    .password = password,
	    .bearer = bearer,
	    .ca_file = mb->tls_ca_file,
	    .insecure = mb->insecure_skip_verify,
	    .no_move = getenv("DMARCSIFT_IMAP_NO_MOVE") != NULL,
	};
	const char *backoff = getenv("DMARCSIFT_IMAP_BACKOFF_MS");
	if (backoff)
		io.backoff_ms = (unsigned)strtoul(backoff, NULL, 10);
	if (imap_open(&im, &io, &r->mailbox_err) != 0 || imap_connect(im, &r->mailbox_err) != 0 ||
	    imap_uidvalidity(im, &uv, &r->mailbox_err) != 0)
		goto out;
	if (mailbox_state_get(r->db, r->tenant_id, mb->name, &st, &r->fatal) != 0) {
		rc = -1;
		goto out;
	}
	if (st.uidvalidity != uv) {
		if (st.uidvalidity)
			log_warn("mailbox %s: UIDVALIDITY changed (%" PRIu64 " -> %" PRIu64
			         "): reading the folder again from the start; known reports "
			         "are recognised as duplicates",
			         mb->name, st.uidvalidity, uv);
		st.uidvalidity = uv;
		st.last_uid = 0;
	}
	if (imap_ensure_folder(im, mb->processed_folder, &r->mailbox_err) != 0 ||
	    imap_ensure_folder(im, mb->failed_folder, &r->mailbox_err) != 0 ||
	    imap_search(im, uv, st.last_uid + 1, &uids, &n, &r->mailbox_err) != 0)
		goto out;
	for (size_t i = 0; i < n && !stop_requested; i++) {
		struct err fe = {0};
		int f = imap_fetch(im, uv, uids[i], &msg, &fe);
		if (f < 0 && fe.kind != ERR_INPUT) {
			r->mailbox_err = fe;
			goto out;
		}
		if (f < 0) {
			/* This one message cannot be had (too big, refused): leave it
			 * in the folder and go on, rather than stall every run on it. */
			log_warn("mailbox %s: UID %" PRIu64 " skipped and left in place: %s",
			         mb->name, uids[i], fe.msg);
			r->skipped++;
			f = 1;
		}
		if (f == 0) {
			char source[512];
			snprintf(source, sizeof source,
			         "%s:%s;UIDVALIDITY=%" PRIu64 ";UID=%" PRIu64, mb->name,
			         imap_folder(im), uv, uids[i]);
			enum pipeline_outcome oc;
			if (feed(r, msg.data ? msg.data : "", msg.len, source, &oc) != 0) {
				rc = -1;
				goto out;
			}
			const char *to =
			    oc == PIPE_QUARANTINED ? mb->failed_folder : mb->processed_folder;
			struct err me = {0};
			if (imap_move(im, uv, uids[i], to, &me) != 0) {
				if (me.kind == ERR_RETRY) {
					r->mailbox_err = me;
					goto out;
				}
				log_warn("mailbox %s: UID %" PRIu64 " was stored but not moved: %s",
				         mb->name, uids[i], me.msg);
				r->move_failed++;
			} else {
				r->moved++;
			}
		}
		st.last_uid = uids[i];
		if (save_state(r, &st) != 0) {
			rc = -1;
			goto out;
		}
	}
	/* Remember the UIDVALIDITY even when the folder was empty. */
	if (n == 0 && save_state(r, &st) != 0)
		rc = -1;
out:
	free(uids);
	buf_free(&msg);
	imap_close(im);
	config_secret_free(password);
	config_secret_free(bearer);
	return rc;
}

/* ---- Maildir ---- */

static int read_file(const char *path, struct buf *b, struct err *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(e, ERR_INPUT, "cannot open %s: %s", path, strerror(errno));
	buf_free(b);
	buf_init(b, MAILDIR_MSG_MAX);
	char chunk[65536];
	ssize_t n;
	int rc = 0;
	while ((n = read(fd, chunk, sizeof chunk)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = err_set(e, ERR_INPUT, "cannot read %s: %s", path, strerror(errno));
			break;
		}
		if (buf_append(b, chunk, (size_t)n) != 0) {
			rc = err_set(e, ERR_INPUT, "%s is larger than %zu bytes", path,
			             MAILDIR_MSG_MAX);
			break;
		}
	}
	close(fd);
	return rc;
}

static int poll_maildir(struct mb_run *r)
{
	const struct config_mailbox *mb = r->mb;
	char **names = NULL;
	size_t n = 0;
	struct buf msg;
	buf_init(&msg, 0);
	int rc = 0;
	if (maildir_list(mb->path, &names, &n, &r->mailbox_err) != 0)
		goto out;
	for (size_t i = 0; i < n && !stop_requested; i++) {
		char *path = xasprintf("%s/%s", mb->path, names[i]);
		struct err re = {0};
		int rd = read_file(path, &msg, &re);
		free(path);
		if (rd != 0) {
			/* Gone (another reader filed it) or unreadable: leave it be. */
			log_warn("mailbox %s: %s", mb->name, re.msg);
			r->skipped++;
			continue;
		}
		char *source = xasprintf("%s:%s", mb->name, names[i]);
		enum pipeline_outcome oc;
		int fr = feed(r, msg.data ? msg.data : "", msg.len, source, &oc);
		free(source);
		if (fr != 0) {
			rc = -1;
			goto out;
		}
		const char *folder = NULL;
		if (mb->folders_configured)
			folder = oc == PIPE_QUARANTINED ? mb->failed_folder : mb->processed_folder;
		struct err me = {0};
		if (maildir_file_away(mb->path, names[i], folder, &me) != 0) {
			log_warn("mailbox %s: stored but not moved: %s", mb->name, me.msg);
			r->move_failed++;
		} else {
			r->moved++;
		}
	}
out:
	maildir_list_free(names, n);
	buf_free(&msg);
	return rc;
}

/* ---- mbox ---- */

/* Where to go on: the stored offset when the mbox still starts with the same
 * first message and is long enough, else 0 (rewritten: read it again). */
static int mbox_resume(struct mb_run *r, struct mbox *m, struct mailbox_state *st)
{
	if (st->mbox_offset == 0)
		return 0;
	struct stat sb;
	struct mbox_msg first;
	struct err e = {0};
	bool same = stat(r->mb->path, &sb) == 0 && (uint64_t)sb.st_size >= st->mbox_offset &&
	            mbox_next(m, &first, &e) == 1 &&
	            strcmp(first.sha256, st->mbox_first_sha256) == 0 &&
	            mbox_seek(m, st->mbox_offset, &e) == 0;
	if (!same) {
		log_warn("mailbox %s: the mbox was rewritten since the last run: reading it "
		         "again from the start; known reports are recognised as duplicates",
		         r->mb->name);
		st->mbox_offset = 0;
		st->mbox_first_sha256[0] = '\0';
		struct err e2 = {0};
		if (mbox_seek(m, 0, &e2) != 0)
			return err_set(&r->mailbox_err, ERR_INPUT, "%s", e2.msg);
	}
	return 0;
}

static int poll_mbox(struct mb_run *r)
{
	const struct config_mailbox *mb = r->mb;
	struct mbox *m = NULL;
	struct mailbox_state st;
	int rc = 0;
	if (mailbox_state_get(r->db, r->tenant_id, mb->name, &st, &r->fatal) != 0)
		return -1;
	if (mbox_open(&m, mb->path, &r->mailbox_err) != 0 || mbox_resume(r, m, &st) != 0)
		goto out;
	struct mbox_msg msg;
	while (!stop_requested && mbox_next(m, &msg, &r->mailbox_err) == 1) {
		if (msg.start == 0)
			memcpy(st.mbox_first_sha256, msg.sha256, sizeof st.mbox_first_sha256);
		if (msg.oversized) {
			log_warn("mailbox %s: message at offset %" PRIu64
			         " is larger than %zu bytes: skipped",
			         mb->name, msg.start, (size_t)MBOX_MESSAGE_MAX);
			r->skipped++;
		} else {
			char source[512];
			snprintf(source, sizeof source, "%s:%s@%" PRIu64, mb->name, mb->path,
			         msg.start);
			enum pipeline_outcome oc;
			if (feed(r, msg.data, msg.len, source, &oc) != 0) {
				rc = -1;
				goto out;
			}
		}
		st.mbox_offset = msg.end;
		if (save_state(r, &st) != 0) {
			rc = -1;
			goto out;
		}
	}
out:
	mbox_close(m);
	return rc;
}

/* ---- driver ---- */

static int poll_one(struct mb_run *r)
{
	const struct config_mailbox *mb = r->mb;
	bool got = false;
	/* Locked by what it reads, not by the section's name: another config
	 * (or section) naming the same mailbox must wait too. */
	char *source = config_mailbox_source(mb);
	const char *key = source ? source : mb->name;
	if (mailbox_lock_try(r->db, key, &got, &r->fatal) != 0) {
		free(source);
		return -1;
	}
	if (!got) {
		r->locked_out = true;
		free(source);
		return 0;
	}
	int rc = 0;
	struct pipeline_opts po = {.tenant_override = mb->tenant,
	                           .pinned_strict = r->pinned_strict,
	                           .ruf = r->ruf,
	                           .hosts = r->hosts};
	if (mailbox_state_tenant(r->db, mb->tenant, &r->tenant_id, &r->mailbox_err) != 0) {
		if (r->mailbox_err.kind == ERR_RETRY) {
			r->fatal = r->mailbox_err;
			rc = -1;
		}
		goto unlock;
	}
	pipeline_new(&r->pipe, r->db, &po);
	switch (mb->kind) {
	case CONFIG_MAILBOX_IMAP:
		rc = poll_imap(r);
		break;
	case CONFIG_MAILBOX_MAILDIR:
		rc = poll_maildir(r);
		break;
	case CONFIG_MAILBOX_MBOX:
		rc = poll_mbox(r);
		break;
	}
unlock:
	if (rc == 0) {
		struct err ue = {0};
		if (mailbox_lock_release(r->db, key, &ue) != 0) {
			r->fatal = ue;
			rc = -1;
		}
	}
	free(source);
	return rc;
}

static void print_line(const struct mb_run *r)
{
	const struct config_mailbox *mb = r->mb;
	if (r->locked_out) {
		printf("mailbox %s: skipped, another poller is working on it\n", mb->name);
		return;
	}
	const struct pipeline_stats *st = r->pipe ? pipeline_stats(r->pipe) : NULL;
	printf("mailbox %s: %" PRIu64 " fetched, %" PRIu64 " reports ingested (%" PRIu64
	       " records), %" PRIu64 " duplicates, %" PRIu64 " quarantined, %" PRIu64
	       " to the bounce store, %" PRIu64 " moved",
	       mb->name, r->fetched, st ? st->reports : 0, st ? st->records : 0, r->duplicates,
	       r->quarantined, r->dsn, r->moved);
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
	if (r->move_failed)
		printf(", %" PRIu64 " not moved", r->move_failed);
	if (r->skipped)
		printf(", %" PRIu64 " skipped", r->skipped);
	if (r->mailbox_err.kind != ERR_NONE)
		printf(" -- error: %s", r->mailbox_err.msg);
	else if (r->fatal.kind != ERR_NONE)
		printf(" -- stopped: %s", r->fatal.msg);
	printf("\n");
	fflush(stdout);
}

static json_object *json_line(const struct mb_run *r)
{
	json_object *o = json_object_new_object();
	const struct pipeline_stats *st = r->pipe ? pipeline_stats(r->pipe) : NULL;
	json_object_object_add(o, "mailbox", json_object_new_string(r->mb->name));
	const char *status = r->locked_out ? "locked"
	                     : r->fatal.kind != ERR_NONE
	                         ? "database"
	                         : (r->mailbox_err.kind != ERR_NONE ? "error" : "ok");
	json_object_object_add(o, "status", json_object_new_string(status));
#define ADD(k, v) json_object_object_add(o, k, json_object_new_int64((int64_t)(v)))
	ADD("fetched", r->fetched);
	ADD("reports", st ? st->reports : 0);
	ADD("records", st ? st->records : 0);
	ADD("ingested_messages", r->ingested);
	ADD("duplicates", r->duplicates);
	ADD("quarantined", r->quarantined);
	ADD("dsn", r->dsn);
	ADD("bounces", st ? st->dsn : 0);
	ADD("tls_reports", st ? st->tls_reports : 0);
	ADD("failure_reports", st ? st->failure_reports : 0);
	ADD("complaints", st ? st->complaints : 0);
	ADD("auto_replies", st ? st->auto_replies : 0);
	ADD("other", st ? st->other : 0);
	ADD("moved", r->moved);
	ADD("not_moved", r->move_failed);
	ADD("skipped", r->skipped);
#undef ADD
	const struct err *e = r->mailbox_err.kind != ERR_NONE ? &r->mailbox_err : &r->fatal;
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
		struct mb_run r = {.mb = mb,
		                   .db = db,
		                   .pinned_strict = cfg->pinned_strict,
		                   .ruf = cfg->ruf,
		                   .hosts = cfg->mta_hosts};
		int rc = poll_one(&r);
		if (json)
			json_object_array_add(arr, json_line(&r));
		else
			print_line(&r);
		if (r.locked_out)
			log_info("mailbox %s: locked by another poller, skipped", mb->name);
		if (r.mailbox_err.kind != ERR_NONE) {
			fprintf(stderr, "dmarcsift: error: mailbox %s: %s\n", mb->name,
			        r.mailbox_err.msg);
			if (code == EXIT_OK || code == EXIT_SOME_FAILED)
				code = EXIT_MAILBOX;
		}
		if (r.quarantined && code == EXIT_OK)
			code = EXIT_SOME_FAILED;
		pipeline_free(r.pipe);
		if (rc != 0) {
			fprintf(stderr,
			        "dmarcsift: error: %s (the message in hand was not moved)\n",
			        r.fatal.msg);
			code =
			    r.fatal.kind == ERR_RETRY || db_lost(db) ? EXIT_DB : cli_fail(&r.fatal);
			break;
		}
	}
	if (json) {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "mailboxes", arr);
		json_object_object_add(o, "exit", json_object_new_int(code));
		printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		fflush(stdout);
		json_object_put(o);
	}
	return code;
}

int cmd_poll(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},  {"db", required_argument, NULL, 'd'},
	    {"mailbox", required_argument, NULL, 'm'}, {"once", no_argument, NULL, 'o'},
	    {"every", required_argument, NULL, 'e'},   {"json", no_argument, NULL, 'j'},
	    {"quiet", no_argument, NULL, 'q'},         {"verbose", no_argument, NULL, 'v'},
	    {"no-resolve", no_argument, NULL, 'N'},    {"no-correlate", no_argument, NULL, 'C'},
	    {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
	};
	const char *config_opt = NULL, *db_opt = NULL, *only = NULL;
	unsigned every = 0;
	bool json = false, once = false, resolve = true, correlate = true, quiet = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:d:m:oe:jqvh", opts, NULL)) != -1) {
		switch (c) {
		case 'N':
			resolve = false;
			break;
		case 'c':
			config_opt = optarg;
			break;
		case 'd':
			db_opt = optarg;
			break;
		case 'm':
			only = optarg;
			break;
		case 'o':
			once = true;
			break;
		case 'e':
			if (parse_interval(optarg, &every) != 0) {
				fprintf(stderr,
				        "dmarcsift poll: --every '%s': expected e.g. 300, 90s, 5m, "
				        "1h\n",
				        optarg);
				return EXIT_USAGE;
			}
			break;
		case 'j':
			json = true;
			break;
		case 'q':
			log_set_level(LOG_QUIET);
			quiet = true;
			break;
		case 'C':
			correlate = false;
			break;
		case 'v':
			log_set_level(LOG_VERBOSE);
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc || (once && every)) {
		fprintf(stderr, "dmarcsift poll: %s\n",
		        optind < argc ? "unexpected argument"
		                      : "--once and --every exclude each other");
		usage(stderr);
		return EXIT_USAGE;
	}

	struct err e = {0};
	char *path = NULL;
	struct config *cfg = NULL;
	struct db *db = NULL;
	int rc = EXIT_OK;
	if (config_find(config_opt, &path, &e) != 0 || config_load(&cfg, path, &e) != 0) {
		rc = cli_fail(&e);
		goto out;
	}
	for (size_t i = 0; i < cfg->n_warnings; i++)
		fprintf(stderr, "dmarcsift: warning: %s\n", cfg->warnings[i]);
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
