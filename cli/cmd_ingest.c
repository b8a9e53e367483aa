/*
 * dmarcsift ingest: files, directories (recursive) and standard input into
 * the database through the pipeline.
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
#include "ingest/mime.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <glib.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STDIN_MAX ((size_t)1 << 30)
/* Inputs read into memory whole (messages, and reports up to STREAM_ABOVE). */
#define FILE_MAX ((size_t)1 << 30)
/* Bare report files larger than this are streamed from the file. */
#define STREAM_ABOVE ((off_t)16 << 20)

struct ingest_run {
	struct pipeline *pipe;
	uint64_t unreadable;
	bool progress;
	struct timespec last_progress;
	struct err fatal;
	/* Directories entered so far, as "device:inode": a symlink to '.' or
	 * to a parent would otherwise make the walk re-read everything below
	 * it (and two such links make it exponential). */
	GHashTable *visited;
};

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: dmarcsift ingest [--db CONN] [--tenant NAME] [--json] [--quiet]\n"
	        "                        [--no-resolve] [--no-correlate] [--config PATH]\n"
	        "                        PATH...\n"
	        "\n"
	        "Ingests DMARC aggregate reports (.xml, .xml.gz, .gz, .zip), SMTP TLS reports\n"
	        "(.json, .json.gz), or the e-mails that carried them (.eml, any MIME nesting),\n"
	        "DMARC failure reports (RFC 6591 and the older text layout; [ruf] keep_body and\n"
	        "redact in the config file say what is kept), and hands bounces (DSNs and\n"
	        "notices), ARF complaints and auto-replies to the bounce store. The summary\n"
	        "counts each kind. PATH is a file, a directory (read\n"
	        "recursively; hidden files and .tsv/.md/.sh files in it are skipped), or '-'\n"
	        "for standard input. Raw bytes are stored first; an input that fails is\n"
	        "quarantined with the stage and reason (see 'dmarcsift failures') and the run\n"
	        "goes on. Identical bytes or an already stored report are duplicates.\n"
	        "\n"
	        "  --db CONN      libpq connection string or URI (default: $DMARCSIFT_DB, else\n"
	        "                 the private embedded cluster, started on demand)\n"
	        "  --tenant NAME  put every report of this run into tenant NAME\n"
	        "  --json         print the summary as one JSON object\n"
	        "  --quiet        no progress and no per-input warnings\n"
	        "  --no-resolve   do not name the sending sources afterwards (by default\n"
	        "                 'sources resolve' runs at the end, within [dns] budget,\n"
	        "                 default 30s; DNS trouble never fails or slows the ingest)\n"
	        "  --config PATH  configuration file ([ruf], [dns], [sources], [correlate],\n"
	        "                 [mta-hosts] for DSNs; default: the usual\n"
	        "                 places, see 'dmarcsift config check')\n"
	        "  --no-correlate do not run the incremental correlation at the end (what\n"
	        "                 changed stays queued for the next 'dmarcsift correlate')\n"
	        "\n"
	        "Exit: 0 nothing quarantined, 1 something quarantined or unreadable, 2 usage,\n"
	        "3 the database cannot be reached (nothing is marked processed then).\n");
}

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

/* Hands bytes to the pipeline; returns -1 only when the run must stop. */
static int feed(struct ingest_run *r, const void *data, size_t len, const char *source)
{
	enum pipeline_outcome outcome;
	if (pipeline_ingest(r->pipe, data, len, source, &outcome, &r->fatal) != 0)
		return -1;
	show_progress(r, false);
	return 0;
}

/*
 * Reads the file into memory with pread and hands it to the pipeline. Not a
 * mapping: a file truncated while mapped turns the next access into SIGBUS,
 * which would end the whole run. A file that is shorter than fstat said when
 * we reach its end shrank under us: what was read is kept and quarantined
 * (someone is still writing or rotating it), and the run goes on.
 */
static int ingest_read(struct ingest_run *r, int fd, off_t size, const char *path)
{
	struct buf b;
	buf_init(&b, FILE_MAX);
	char chunk[65536];
	off_t off = 0;
	int rc = 0;
	if ((uint64_t)size > FILE_MAX) {
		log_warn("%s: larger than %zu bytes, skipped", path, FILE_MAX);
		r->unreadable++;
		goto out;
	}
	for (;;) {
		ssize_t n = pread(fd, chunk, sizeof chunk, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log_warn("%s: cannot read: %s", path, strerror(errno));
			r->unreadable++;
			goto out;
		}
		if (n == 0)
			break;
		if (buf_append(&b, chunk, (size_t)n) != 0) {
			log_warn("%s: grew past %zu bytes while read, skipped", path, FILE_MAX);
			r->unreadable++;
			goto out;
		}
		off += n;
	}
	if (off < size) {
		char why[160];
		snprintf(why, sizeof why,
		         "the file shrank while it was read (%lld bytes when opened, %lld read)",
		         (long long)size, (long long)off);
		rc = pipeline_quarantine(r->pipe, b.data ? b.data : "", b.len, path, ERR_STAGE_READ,
		                         why, &r->fatal);
		show_progress(r, false);
		goto out;
	}
	rc = feed(r, b.data ? b.data : "", b.len, path);
out:
	buf_free(&b);
	return rc;
}

static int ingest_file(struct ingest_run *r, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		log_warn("%s: cannot open: %s", path, strerror(errno));
		r->unreadable++;
		return 0;
	}
	struct stat st;
	if (fstat(fd, &st) != 0) {
		log_warn("%s: cannot stat: %s", path, strerror(errno));
		close(fd);
		r->unreadable++;
		return 0;
	}
	int rc;
	unsigned char head[4096];
	ssize_t got = 0;
	if (st.st_size > STREAM_ABOVE)
		got = pread(fd, head, sizeof head, 0);
	if (st.st_size == 0) {
		rc = feed(r, "", 0, path);
	} else if (st.st_size > STREAM_ABOVE && got > 0 &&
	           !mime_looks_like_message(head, (size_t)got)) {
		/* A large bare report: streamed, so memory does not grow with it. */
		enum pipeline_outcome outcome;
		rc = pipeline_ingest_fd(r->pipe, fd, path, &outcome, &r->fatal);
		show_progress(r, false);
	} else {
		rc = ingest_read(r, fd, st.st_size, path);
	}
	close(fd);
	return rc;
}

static bool skipped_in_directory(const char *name)
{
	static const char *const skip_ext[] = {".tsv", ".md", ".sh", NULL};
	if (name[0] == '.')
		return true;
	size_t n = strlen(name);
	for (const char *const *ext = skip_ext; *ext; ext++) {
		size_t m = strlen(*ext);
		if (n >= m && strcmp(name + n - m, *ext) == 0)
			return true;
	}
	return false;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int ingest_path(struct ingest_run *r, const char *path, int depth);

static int ingest_dir(struct ingest_run *r, const char *path, int depth)
{
	DIR *d = opendir(path);
	if (!d) {
		log_warn("%s: cannot open directory: %s", path, strerror(errno));
		r->unreadable++;
		return 0;
	}
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (skipped_in_directory(de->d_name))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			names = xrealloc(names, cap * sizeof *names);
		}
		names[n++] = xasprintf("%s/%s", path, de->d_name);
	}
	closedir(d);
	/* Sorted, so runs are reproducible whatever the file system's order. */
	if (n)
		qsort(names, n, sizeof *names, cmp_names);
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		if (rc == 0)
			rc = ingest_path(r, names[i], depth + 1);
		free(names[i]);
	}
	free(names);
	return rc;
}

static int ingest_path(struct ingest_run *r, const char *path, int depth)
{
	struct stat st;
	if (depth > 64) {
		log_warn("%s: directories nested too deep, skipped", path);
		r->unreadable++;
		return 0;
	}
	if (stat(path, &st) != 0) {
		log_warn("%s: %s", path, strerror(errno));
		r->unreadable++;
		return 0;
	}
	if (S_ISDIR(st.st_mode)) {
		char *key = xasprintf("%llu:%llu", (unsigned long long)st.st_dev,
		                      (unsigned long long)st.st_ino);
		if (g_hash_table_contains(r->visited, key)) {
			log_info("%s: directory already read (a symlink loop?), skipped", path);
			free(key);
			return 0;
		}
		g_hash_table_add(r->visited, key);
		return ingest_dir(r, path, depth);
	}
	if (!S_ISREG(st.st_mode)) {
		log_warn("%s: not a regular file, skipped", path);
		r->unreadable++;
		return 0;
	}
	return ingest_file(r, path);
}

static int ingest_stdin(struct ingest_run *r)
{
	struct buf b;
	buf_init(&b, STDIN_MAX);
	char chunk[65536];
	ssize_t n;
	while ((n = read(STDIN_FILENO, chunk, sizeof chunk)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_warn("standard input: %s", strerror(errno));
			r->unreadable++;
			buf_free(&b);
			return 0;
		}
		if (buf_append(&b, chunk, (size_t)n) != 0) {
			log_warn("standard input: larger than %zu bytes, refused", STDIN_MAX);
			r->unreadable++;
			buf_free(&b);
			return 0;
		}
	}
	int rc = feed(r, b.data ? b.data : "", b.len, "-");
	buf_free(&b);
	return rc;
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
		printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
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
	static const struct option opts[] = {
	    {"db", required_argument, NULL, 'd'},     {"tenant", required_argument, NULL, 't'},
	    {"json", no_argument, NULL, 'j'},         {"quiet", no_argument, NULL, 'q'},
	    {"verbose", no_argument, NULL, 'v'},      {"no-resolve", no_argument, NULL, 'N'},
	    {"config", required_argument, NULL, 'c'}, {"no-correlate", no_argument, NULL, 'C'},
	    {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
	};
	const char *db_opt = NULL, *tenant = NULL, *config_opt = NULL;
	bool json = false, quiet = false, resolve = true, correlate = true;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "d:t:jqvh", opts, NULL)) != -1) {
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
		case 't':
			tenant = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'q':
			quiet = true;
			break;
		case 'v':
			log_set_level(LOG_VERBOSE);
			break;
		case 'C':
			correlate = false;
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
		fprintf(stderr, "dmarcsift ingest: no PATH given\n");
		usage(stderr);
		return EXIT_USAGE;
	}
	if (quiet)
		log_set_level(LOG_QUIET);

	struct pipeline_opts po = {.tenant_override = tenant, .pinned_strict = cli_pinned_strict()};
	/* [ruf] strictly: a failure report must not be stored unredacted
	 * because a typo elsewhere in the file hid `redact = true`. */
	int rc = cli_ruf_options(config_opt, &po.ruf);
	if (rc != 0)
		return rc;
	struct config *cfg = autocorr_config(config_opt);
	struct db *db = NULL;
	cli_set_config_path(config_opt);
	rc = cli_connect(db_opt, &db);
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
	run.visited = g_hash_table_new_full(g_str_hash, g_str_equal, free, NULL);
	pipeline_new(&run.pipe, db, &po);

	int stop = 0;
	for (int i = optind; i < argc && stop == 0; i++)
		stop =
		    strcmp(argv[i], "-") == 0 ? ingest_stdin(&run) : ingest_path(&run, argv[i], 0);
	show_progress(&run, true);

	const struct pipeline_stats *st = pipeline_stats(run.pipe);
	if (stop != 0) {
		print_summary(st, run.unreadable, json);
		rc = cli_fail(&run.fatal);
		/* A lost connection is exit 3 whatever the failed call said. */
		if (run.fatal.kind == ERR_RETRY || db_lost(db))
			rc = EXIT_DB;
	} else {
		print_summary(st, run.unreadable, json);
		rc = st->quarantined || run.unreadable ? EXIT_SOME_FAILED : EXIT_OK;
		if (rc == EXIT_SOME_FAILED && quiet) {
			/* The summary went to stdout, which cron jobs often discard. */
			fprintf(
			    stderr,
			    "dmarcsift ingest: %llu input(s) quarantined, %llu path(s) unreadable "
			    "(see 'dmarcsift failures')\n",
			    (unsigned long long)st->quarantined,
			    (unsigned long long)run.unreadable);
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
	g_hash_table_destroy(run.visited);
	db_close(db);
	config_free(cfg);
	return rc;
}
