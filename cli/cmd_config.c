/*
 * dmarcsift config check: finds and validates the configuration file and
 * prints what it configures (secrets are never printed: only where they come
 * from), or every problem with its file and line.
 */
#include "cli/cmd.h"
#include "cli/common.h"
#include "cli/config.h"
#include "core/xalloc.h"
#include "db/db.h"
#include "db/store.h"

#include <errno.h>
#include <getopt.h>
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void usage(FILE *out)
{
	fprintf(out, "usage: dmarcsift config check [--config PATH] [--db CONN]\n"
	             "\n"
	             "Validates the configuration file and prints a summary of it, or each\n"
	             "problem as FILE:LINE: what is wrong. Without --config the file is\n"
	             "$XDG_CONFIG_HOME/dmarcsift/dmarcsift.conf (else ~/.config/...), else\n"
	             "/etc/dmarcsift/dmarcsift.conf. Passwords and tokens are never printed.\n"
	             "\n"
	             "Beyond the syntax it finds what 'poll' would fail on: Maildir and mbox\n"
	             "paths that are not there, password and token files it cannot read,\n"
	             "mailboxes pinned to tenants the database does not know (when the\n"
	             "database can be reached); it warns when a file holding a password is\n"
	             "readable by other users, and shows the database every command would\n"
	             "use (--db, $DMARCSIFT_DB, [database] url or the embedded cluster) and\n"
	             "where that came from, without its password.\n"
	             "\n"
	             "Exit: 0 valid (or no file), 2 problems found or the file cannot be read.\n");
}

static const char *secret_source(const struct config_mailbox *mb, char *buf, size_t n)
{
	if (mb->password_file)
		snprintf(buf, n, "password from file %s", mb->password_file);
	else if (mb->password_env)
		snprintf(buf, n, "password from $%s", mb->password_env);
	else if (mb->oauth2_token_file)
		snprintf(buf, n, "XOAUTH2 token from file %s", mb->oauth2_token_file);
	else if (mb->oauth2_token_command)
		snprintf(buf, n, "XOAUTH2 token from command");
	else
		snprintf(buf, n, "no credentials");
	return buf;
}

static void print_summary(const struct config *cfg)
{
	printf("%zu mailbox%s\n", cfg->n_mailboxes, cfg->n_mailboxes == 1 ? "" : "es");
	for (size_t i = 0; i < cfg->n_mailboxes; i++) {
		const struct config_mailbox *mb = &cfg->mailboxes[i];
		char src[300];
		printf("  [mailbox %s] %s %s\n", mb->name, config_mailbox_kind_name(mb->kind),
		       mb->url);
		if (mb->kind == CONFIG_MAILBOX_IMAP)
			printf("    user %s, %s, password ********\n", mb->user,
			       secret_source(mb, src, sizeof src));
		printf("    tenant: %s\n", mb->tenant ? mb->tenant : "(by policy domain)");
		if (mb->kind == CONFIG_MAILBOX_IMAP ||
		    (mb->kind == CONFIG_MAILBOX_MAILDIR && mb->folders_configured))
			printf("    processed -> %s, failed -> %s\n", mb->processed_folder,
			       mb->failed_folder);
		else if (mb->kind == CONFIG_MAILBOX_MAILDIR)
			printf("    processed and failed -> cur/ with the seen flag\n");
		else
			printf("    read only; progress kept in the database\n");
		if (mb->tls_ca_file)
			printf("    CA file %s\n", mb->tls_ca_file);
		if (mb->insecure_skip_verify)
			printf("    WARNING: TLS certificate verification is OFF\n");
	}
}

/* A finding of the checks below: printed as FILE:LINE: text, like the
 * parser's problems. */
static void finding(size_t *n, const char *path, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void finding(size_t *n, const char *path, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "%s:%d: ", path, line);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	(*n)++;
}

/* What `poll` would stumble on in each mailbox, found now. */
static size_t check_mailboxes(const struct config *cfg)
{
	size_t n = 0;
	for (size_t i = 0; i < cfg->n_mailboxes; i++) {
		const struct config_mailbox *mb = &cfg->mailboxes[i];
		int line = mb->url_line ? mb->url_line : mb->line;
		struct stat st;
		if (mb->kind == CONFIG_MAILBOX_MAILDIR && mb->path) {
			char *cur = xasprintf("%s/cur", mb->path);
			char *nw = xasprintf("%s/new", mb->path);
			if (stat(mb->path, &st) != 0 || !S_ISDIR(st.st_mode))
				finding(&n, cfg->path, line,
				        "[mailbox %s] Maildir %s is not a directory", mb->name,
				        mb->path);
			else if (access(cur, R_OK | X_OK) != 0 || access(nw, R_OK | X_OK) != 0)
				finding(&n, cfg->path, line,
				        "[mailbox %s] %s is not a Maildir (no cur/ and new/)",
				        mb->name, mb->path);
			free(cur);
			free(nw);
		} else if (mb->kind == CONFIG_MAILBOX_MBOX && mb->path) {
			if (stat(mb->path, &st) != 0 || !S_ISREG(st.st_mode))
				finding(&n, cfg->path, line,
				        "[mailbox %s] mbox file %s is not there", mb->name,
				        mb->path);
			else if (access(mb->path, R_OK) != 0)
				finding(&n, cfg->path, line,
				        "[mailbox %s] mbox file %s cannot be read", mb->name,
				        mb->path);
		}
		if (mb->password_env && !getenv(mb->password_env))
			fprintf(stderr,
			        "dmarcsift: warning: [mailbox %s]: $%s is not set here (it must be "
			        "where poll runs)\n",
			        mb->name, mb->password_env);
	}
	return n;
}

/* Whether the [database] url carries a password. */
static bool url_has_password(const char *url)
{
	if (!url)
		return false;
	PQconninfoOption *opts = PQconninfoParse(url, NULL);
	bool has = false;
	for (PQconninfoOption *o = opts; o && o->keyword; o++)
		if (strcmp(o->keyword, "password") == 0 && o->val && *o->val)
			has = true;
	PQconninfoFree(opts);
	return has;
}

/* The database every command would use, and (when it can be reached
 * without starting anything) whether the pinned tenants exist. */
static size_t check_database(const struct config *cfg, const char *db_opt)
{
	size_t n = 0;
	char *conninfo = NULL, *origin = NULL;
	enum db_source src;
	struct err e = {0};
	if (cli_db_resolve(db_opt, false, &conninfo, &origin, &src, &e) != 0) {
		printf("database: none usable (%s)\n", e.msg);
		return 0;
	}
	char *shown = db_conninfo_display(conninfo);
	printf("database: %s (from %s)\n", shown, origin ? origin : cluster_source_name(src));
	free(shown);
	bool pinned = false;
	for (size_t i = 0; i < cfg->n_mailboxes; i++)
		pinned = pinned || cfg->mailboxes[i].tenant;
	struct db *db = NULL;
	if (pinned && db_connect(&db, conninfo, false, &e) != 0) {
		printf("tenants: not checked (%s)\n", e.msg);
		db = NULL;
	}
	for (size_t i = 0; db && i < cfg->n_mailboxes; i++) {
		const struct config_mailbox *mb = &cfg->mailboxes[i];
		int tid;
		struct err te = {0};
		if (mb->tenant && store_tenant_id(db, mb->tenant, &tid, &te) != 0) {
			if (te.kind == ERR_CONFIG)
				finding(&n, cfg->path, mb->line,
				        "[mailbox %s] tenant '%s' is not in the database "
				        "(dmarcsift tenant "
				        "add)",
				        mb->name, mb->tenant);
			else
				printf("tenants: not checked (%s)\n", te.msg);
		}
	}
	db_close(db);
	free(conninfo);
	free(origin);
	return n;
}

/* A file holding a password that others may read: said, not refused. */
static void check_permissions(const struct config *cfg)
{
	struct stat st;
	if (!url_has_password(cfg->db_url) || stat(cfg->path, &st) != 0)
		return;
	if (st.st_mode & (S_IRGRP | S_IROTH))
		fprintf(stderr,
		        "dmarcsift: warning: %s holds a database password and is readable by "
		        "%s (chmod 600 it, or move the password to ~/.pgpass)\n",
		        cfg->path, st.st_mode & S_IROTH ? "every user" : "its group");
}

int cmd_config(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"db", required_argument, NULL, 'd'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *path_opt = NULL, *db_opt = NULL;
	int c;
	optind = 1;
	if (argc < 2 || cli_is_help(argv[1])) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	if (strcmp(argv[1], "check") != 0) {
		fprintf(stderr, "dmarcsift config: unknown action '%s'\n", argv[1]);
		usage(stderr);
		return EXIT_USAGE;
	}
	argc--;
	argv++;
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path_opt = optarg;
			break;
		case 'd':
			db_opt = optarg;
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
		fprintf(stderr, "dmarcsift config check: unexpected argument '%s'\n", argv[optind]);
		return EXIT_USAGE;
	}
	struct err e = {0};
	char *path = NULL;
	struct config *cfg = NULL;
	int rc = EXIT_OK;
	if (config_find(path_opt, &path, &e) != 0 || config_load(&cfg, path, &e) != 0) {
		rc = cli_fail(&e);
		goto out;
	}
	if (!path) {
		char *user = config_user_path();
		if (!user)
			user = xstrdup("$XDG_CONFIG_HOME/dmarcsift/dmarcsift.conf");
		printf("no configuration file (looked for %s and /etc/dmarcsift/dmarcsift.conf): "
		       "defaults apply\n",
		       user);
		free(user);
		check_database(cfg, db_opt);
		goto out;
	}
	for (size_t i = 0; i < cfg->n_warnings; i++)
		fprintf(stderr, "dmarcsift: warning: %s\n", cfg->warnings[i]);
	if (!config_ok(cfg)) {
		for (size_t i = 0; i < cfg->n_errors; i++)
			fprintf(stderr, "%s\n", cfg->errors[i]);
		fprintf(stderr, "%s: %zu problem%s\n", path, cfg->n_errors,
		        cfg->n_errors == 1 ? "" : "s");
		rc = EXIT_USAGE;
		goto out;
	}
	cli_set_config_path(path);
	check_permissions(cfg);
	print_summary(cfg);
	size_t found = check_mailboxes(cfg);
	found += check_database(cfg, db_opt);
	if (found) {
		fprintf(stderr, "%s: %zu problem%s that poll would fail on\n", path, found,
		        found == 1 ? "" : "s");
		rc = EXIT_USAGE;
	} else {
		printf("%s: ok\n", path);
	}
out:
	config_free(cfg);
	free(path);
	return rc;
}
