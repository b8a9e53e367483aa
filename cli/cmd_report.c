/*
 * dmarcsift report: parses the options, asks app/ for the report(s) and
 * writes them where the user said. No SQL here.
 */
#include "app/deliver.h"
#include "app/report.h"
#include "cli/cmd.h"
#include "cli/common.h"
#include "cli/config.h"
#include "cli/opt.h"
#include "core/xalloc.h"
#include "db/db.h"
#include "reports/writers.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { O_JSON = OPT_KEY };

static const struct opt options[] = {
    {"tenant", 't', "T", "the tenant's report ('unassigned' holds unowned domains)"},
    {"all-tenants", 'a', NULL, "the overview; with --out DIR also one report per tenant"},
    {"since", 's', "DATE", "first day (YYYY-MM-DD), or 30d (the last 30 days), or 'all'"},
    {"until", 'u', "DATE",
     "last day, included (default: today, UTC)\n"
     "(default period: the last 30 days)"},
    {"format", 'f', "F",
     "text (default), csv, json (docs/report-json.md) or html\n"
     "(one self-contained page)"},
    {"json", O_JSON, NULL, "the same as --format json"},
    {"out", 'o', "PATH",
     "a file; a directory with --all-tenants, or with csv and no\n"
     "--table (one file per table); default: standard output"},
    {"table", 'T', "NAME",
     "csv: only this table (summary, daily, domains, sources,\n"
     "reporters, bounces, suppressions, escalations, flags,\n"
     "quarantine; overview: tenants)"},
    {"mail-to", 'm', "ADDR", "mail the report (text and HTML) through [smtp]"},
    {NULL, 0, NULL, NULL},
};

struct args {
	struct app_report_opts o;
	enum report_format fmt;
	const char *out, *table, *mail_to;
	bool all;
};

static int on_opt(void *ctx, int key, const char *arg)
{
	struct args *a = ctx;
	switch (key) {
	case 't':
		a->o.tenant = arg;
		break;
	case 'a':
		a->all = true;
		break;
	case 's':
		a->o.since = arg;
		break;
	case 'u':
		a->o.until = arg;
		break;
	case 'f':
	case O_JSON:
		if (report_format_parse(arg ? arg : "json", &a->fmt) < 0) {
			fprintf(stderr, "dmarcsift: unknown format '%s' (text, csv, json, html)\n",
			        arg);
			return EXIT_USAGE;
		}
		break;
	case 'o':
		a->out = arg;
		break;
	case 'T':
		a->table = arg;
		break;
	default:
		a->mail_to = arg;
		break;
	}
	return 0;
}

static const struct opt_cmd cmd = {
    .name = "report",
    .synopsis =
        "usage: dmarcsift report [--tenant T | --all-tenants] [--since DATE] [--until DATE]\n"
        "                        [--format text|csv|json|html] [--out PATH] [--table NAME]\n"
        "                        [--mail-to ADDR]\n",
    .about = "A tenant's DMARC report (--tenant): volume and pass rates over the period and per\n"
             "day, domains with their policy and advice, sending sources (most failing first),\n"
             "reporters, bounce classes by provider, suppressions, escalations, flags and\n"
             "quarantined inputs. The MSP overview (--all-tenants): one row per tenant, the\n"
             "one needing attention first.\n",
    .opts = options,
    .formats = OPT_TEXT | OPT_CSV | OPT_JSON,
    .epilog = "An empty period gives a report that says so. Progress goes to standard error\n"
              "when it is a terminal. SOURCE_DATE_EPOCH fixes the 'generated' time.\n",
    .on_opt = on_opt,
};

struct progress {
	bool on;
	const char *who;
};

static void progress(void *ctx, const char *step, int done, int total)
{
	struct progress *p = ctx;
	if (!p->on)
		return;
	fprintf(stderr, "\r\033[Kreport %s: %s (%d/%d)", p->who, step, done + 1, total);
	fflush(stderr);
}

static void progress_end(struct progress *p)
{
	if (p->on) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
	}
}

/* Tenant names become file names: keep letters, digits, dot, dash, underscore. */
static char *file_part(const char *name)
{
	char *s = xstrdup(name);
	for (char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' || *p == '_'))
			*p = '_';
	if (s[0] == '.')
		s[0] = '_';
	return s;
}

static int write_one(FILE *f, const struct report *r, enum report_format fmt,
                     const struct report_table *table)
{
	switch (fmt) {
	case REPORT_FMT_TEXT:
		return report_write_text(f, r);
	case REPORT_FMT_JSON:
		return report_write_json(f, r);
	case REPORT_FMT_HTML:
		return report_write_html(f, r);
	case REPORT_FMT_CSV:
		return report_write_csv(f, table);
	}
	return -1;
}

/* Writes to `path` through a temporary file renamed into place, so a
 * reader never sees half a report; NULL path: standard output. */
static int emit(const char *path, const struct report *r, enum report_format fmt,
                const struct report_table *table)
{
	if (!path) {
		int rc = write_one(stdout, r, fmt, table);
		return (rc < 0 || fflush(stdout) != 0) ? -1 : 0;
	}
	char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	FILE *f = fopen(tmp, "w");
	if (!f) {
		fprintf(stderr, "dmarcsift: cannot write %s: %s\n", tmp, strerror(errno));
		free(tmp);
		return -1;
	}
	int rc = write_one(f, r, fmt, table);
	if (fclose(f) != 0)
		rc = -1;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -1;
	if (rc < 0) {
		fprintf(stderr, "dmarcsift: cannot write %s: %s\n", path, strerror(errno));
		unlink(tmp);
	}
	free(tmp);
	return rc;
}

static bool is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int make_dir(const char *path)
{
	if (is_dir(path))
		return 0;
	if (mkdir(path, 0755) != 0) {
		fprintf(stderr, "dmarcsift: cannot create directory %s: %s\n", path,
		        strerror(errno));
		return -1;
	}
	return 0;
}

/* A report into DIR as BASE.EXT, or BASE-TABLE.csv per table. */
static int emit_dir(const char *dir, const char *base, const struct report *r,
                    enum report_format fmt, const char *only_table)
{
	char *b = file_part(base);
	int rc = 0;
	if (fmt != REPORT_FMT_CSV) {
		char *path = xasprintf("%s/%s.%s", dir, b, report_format_ext(fmt));
		rc = emit(path, r, fmt, NULL);
		if (rc == 0)
			printf("%s\n", path);
		free(path);
	} else {
		for (size_t i = 0; i < r->ntables && rc == 0; i++) {
			if (only_table && strcmp(only_table, r->tables[i]->key) != 0)
				continue;
			char *path = xasprintf("%s/%s-%s.csv", dir, b, r->tables[i]->key);
			rc = emit(path, r, fmt, r->tables[i]);
			if (rc == 0)
				printf("%s\n", path);
			free(path);
		}
	}
	free(b);
	return rc;
}

static int table_for(const struct report *r, const char *name, const struct report_table **t)
{
	*t = report_table_find(r, name);
	if (*t)
		return 0;
	fprintf(stderr, "dmarcsift: no table '%s' in this report; tables:", name);
	for (size_t i = 0; i < r->ntables; i++)
		fprintf(stderr, " %s", r->tables[i]->key);
	fputc('\n', stderr);
	return -1;
}

/* Renders one format into memory. */
static char *render(const struct report *r, enum report_format fmt)
{
	char *mem = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&mem, &len);
	if (!f)
		return NULL;
	int rc = write_one(f, r, fmt, NULL);
	if (fclose(f) != 0 || rc < 0) {
		free(mem);
		return NULL;
	}
	return mem;
}

/* Sends the report by mail through [smtp]; returns an exit code. */
static int mail_report(const char *config_path, const struct report *r, const char *to)
{
	struct err e = {0};
	char *path = NULL, *password = NULL, *text = NULL, *html = NULL, *subject = NULL;
	struct config *cfg = NULL;
	int rc = EXIT_OK;

	rc = cli_config_strict(config_path, "report", &cfg, &path);
	if (rc != 0)
		goto out;
	if (!cfg->smtp.url || !cfg->smtp.from) {
		fprintf(stderr,
		        "dmarcsift: --mail-to needs [smtp] url and from in the config file%s%s\n",
		        path ? " " : "", path ? path : " (none found)");
		rc = EXIT_USAGE;
		goto out;
	}
	if (config_read_secret("smtp", cfg->smtp.password_file, cfg->smtp.password_env, &password,
	                       &e) < 0) {
		rc = cli_fail(&e);
		goto out;
	}
	text = render(r, REPORT_FMT_TEXT);
	html = render(r, REPORT_FMT_HTML);
	if (!text || !html) {
		fprintf(stderr, "dmarcsift: cannot render the report for mail\n");
		rc = EXIT_SOME_FAILED;
		goto out;
	}
	subject = xasprintf("%s, %s to %s", r->title, r->since ? r->since : "?",
	                    r->until ? r->until : "?");
	struct deliver_smtp s = {
	    .url = cfg->smtp.url,
	    .from = cfg->smtp.from,
	    .user = cfg->smtp.user,
	    .password = password,
	    .ca_file = cfg->smtp.tls_ca_file,
	    .retries = -1,
	};
	if (deliver_mail(&s, to, subject, text, html, &e) < 0)
		rc = cli_fail(&e);
	else
		fprintf(stderr, "dmarcsift: report mailed to %s\n", to);
out:
	config_secret_free(password);
	free(text);
	free(html);
	free(subject);
	free(path);
	config_free(cfg);
	return rc;
}

int cmd_report(int argc, char **argv)
{
	struct args a = {.fmt = REPORT_FMT_TEXT};
	struct opt_common co;
	struct db *db = NULL;
	struct report *rep = NULL;
	struct err e = {0};
	int rc;

	if (!opt_parse(&cmd, argc, argv, &a, &co, &rc))
		return rc;
	struct app_report_opts o = a.o;
	enum report_format fmt = a.fmt;
	const char *out = a.out, *table = a.table, *mail_to = a.mail_to, *config = co.config;
	bool all = a.all;
	rc = EXIT_OK;
	if ((all && o.tenant) || (!all && !o.tenant)) {
		fprintf(stderr,
		        "dmarcsift: report needs exactly one of --tenant T and --all-tenants\n");
		return opt_usage_error(&cmd);
	}
	if (fmt == REPORT_FMT_CSV && !table && !out) {
		fprintf(stderr,
		        "dmarcsift: csv writes one table: give --table NAME, or --out DIR for "
		        "one file per table\n");
		return EXIT_USAGE;
	}
	if (table && fmt != REPORT_FMT_CSV) {
		fprintf(stderr, "dmarcsift: --table is for --format csv\n");
		return EXIT_USAGE;
	}
	/* A directory: every CSV table, or --all-tenants with an --out that is not
	 * a file named for the format (overview.html is the overview alone). */
	bool named_file = false;
	if (out && !is_dir(out)) {
		const char *dot = strrchr(out, '.');
		named_file = dot && strcmp(dot + 1, report_format_ext(fmt)) == 0;
	}
	bool to_dir = out && ((all && !named_file) || (fmt == REPORT_FMT_CSV && !table));
	if (to_dir && make_dir(out) < 0)
		return EXIT_SOME_FAILED;

	rc = cli_connect(co.db, &db);
	if (rc != 0)
		return rc;
	struct progress pg = {isatty(STDERR_FILENO) == 1, all ? "overview" : o.tenant};
	o.progress = progress;
	o.progress_ctx = &pg;

	if (all) {
		if (app_report_overview(db, &o, &rep, &e) < 0)
			goto fail;
		progress_end(&pg);
		if (mail_to)
			rc = mail_report(config, rep, mail_to);
		if (to_dir) {
			if (emit_dir(out, "overview", rep, fmt, NULL) < 0)
				rc = EXIT_SOME_FAILED;
			report_free(rep);
			rep = NULL;
			char **names = NULL;
			size_t n = 0;
			if (app_report_tenant_names(db, &names, &n, &e) < 0)
				goto fail;
			for (size_t i = 0; i < n && rc == EXIT_OK; i++) {
				struct app_report_opts to = o;
				to.tenant = names[i];
				pg.who = names[i];
				if (app_report_tenant(db, &to, &rep, &e) < 0) {
					app_report_names_free(names, n);
					goto fail;
				}
				progress_end(&pg);
				if (emit_dir(out, names[i], rep, fmt, table) < 0)
					rc = EXIT_SOME_FAILED;
				report_free(rep);
				rep = NULL;
			}
			app_report_names_free(names, n);
			goto out;
		}
	} else {
		if (app_report_tenant(db, &o, &rep, &e) < 0)
			goto fail;
		progress_end(&pg);
		if (mail_to)
			rc = mail_report(config, rep, mail_to);
		if (to_dir) {
			if (emit_dir(out, o.tenant, rep, fmt, NULL) < 0)
				rc = EXIT_SOME_FAILED;
			goto out;
		}
	}
	const struct report_table *t = NULL;
	if (fmt == REPORT_FMT_CSV && table_for(rep, table, &t) < 0) {
		rc = EXIT_USAGE;
		goto out;
	}
	/* With --mail-to and no --out, the mail is the output. */
	if ((out || !mail_to) && emit(out, rep, fmt, t) < 0)
		rc = EXIT_SOME_FAILED;
	goto out;
fail:
	progress_end(&pg);
	rc = cli_fail(&e);
out:
	report_free(rep);
	db_close(db);
	return rc;
}
