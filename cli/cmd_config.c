/*
 * dmarcsift config check: finds and validates the configuration file and
 * prints what it configures (secrets are never printed: only where they come
 * from), or every problem with its file and line.
 */
#include "cli/cmd.h"
#include "cli/common.h"
#include "cli/config.h"
#include "cli/opt.h"
#include "core/xalloc.h"
#include "db/db.h"
#include "db/store.h"
#include "reports/rows.h"

#include <errno.h>
#include <json-c/json.h>
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct opt_cmd cmd = {
    .name = "config check",
    .synopsis = "usage: dmarcsift config check [--config PATH] [--format text|json]\n",
    .about = "Validates the configuration file and prints a summary of it, or each\n"
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
             "where that came from, without its password. With --format json the\n"
             "problems and warnings are in the object, and also on standard error.\n",
    .formats = OPT_TEXT | OPT_JSON,
    .epilog = "Exit: 0 valid (or no file), 2 problems found or the file cannot be read.\n",
};

/* --format json: the one object, filled as the checks go (NULL: text). */
static json_object *out;

static void put_str(json_object *o, const char *key, const char *v)
{
	json_object_object_add(o, key, v ? json_object_new_string(v) : NULL);
}

/* A problem or warning line: on stderr always, and into the object. */
static void note(const char *list, const char *line)
{
	fprintf(stderr, "%s\n", line);
	json_object *arr;
	if (out && json_object_object_get_ex(out, list, &arr))
		json_object_array_add(arr, json_object_new_string(line));
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

static void mailboxes_json(const struct config *cfg)
{
	json_object *arr = json_object_new_array();
	for (size_t i = 0; i < cfg->n_mailboxes; i++) {
		const struct config_mailbox *mb = &cfg->mailboxes[i];
		char src[300];
		bool folders = mb->kind == CONFIG_MAILBOX_IMAP ||
		               (mb->kind == CONFIG_MAILBOX_MAILDIR && mb->folders_configured);
		json_object *o = json_object_new_object();
		put_str(o, "name", mb->name);
		put_str(o, "kind", config_mailbox_kind_name(mb->kind));
		put_str(o, "url", mb->url);
		put_str(o, "user", mb->kind == CONFIG_MAILBOX_IMAP ? mb->user : NULL);
		put_str(o, "credentials",
		        mb->kind == CONFIG_MAILBOX_IMAP ? secret_source(mb, src, sizeof src)
		                                        : NULL);
		put_str(o, "tenant", mb->tenant);
		put_str(o, "processed_folder", folders ? mb->processed_folder : NULL);
		put_str(o, "failed_folder", folders ? mb->failed_folder : NULL);
		put_str(o, "ca_file", mb->tls_ca_file);
		json_object_object_add(o, "insecure_skip_verify",
		                       json_object_new_boolean(mb->insecure_skip_verify));
		json_object_array_add(arr, o);
	}
	json_object_object_add(out, "mailboxes", arr);
}

static void print_summary(const struct config *cfg)
{
	if (out) {
		mailboxes_json(cfg);
		return;
	}
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
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	int k = snprintf(msg, sizeof msg, "%s:%d: ", path, line);
	if (k >= 0 && (size_t)k < sizeof msg)
		vsnprintf(msg + k, sizeof msg - (size_t)k, fmt, ap);
	va_end(ap);
	note("problems", msg);
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
		if (mb->password_env && !getenv(mb->password_env)) {
			char *w = xasprintf("dmarcsift: warning: [mailbox %s]: $%s is not set here "
			                    "(it must be where poll runs)",
			                    mb->name, mb->password_env);
			note("warnings", w);
			free(w);
		}
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
		if (out)
			put_str(out, "database_error", e.msg);
		else
			printf("database: none usable (%s)\n", e.msg);
		return 0;
	}
	char *shown = db_conninfo_display(conninfo);
	if (out) {
		put_str(out, "database", shown);
		put_str(out, "database_origin", origin ? origin : cluster_source_name(src));
	} else {
		printf("database: %s (from %s)\n", shown,
		       origin ? origin : cluster_source_name(src));
	}
	free(shown);
	bool pinned = false;
	for (size_t i = 0; i < cfg->n_mailboxes; i++)
		pinned = pinned || cfg->mailboxes[i].tenant;
	struct db *db = NULL;
	if (pinned && db_connect(&db, conninfo, false, &e) != 0) {
		if (out)
			put_str(out, "tenants_error", e.msg);
		else
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
			else if (out)
				put_str(out, "tenants_error", te.msg);
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
	if (st.st_mode & (S_IRGRP | S_IROTH)) {
		char *w = xasprintf("dmarcsift: warning: %s holds a database password and is "
		                    "readable by %s (chmod 600 it, or move the password to "
		                    "~/.pgpass)",
		                    cfg->path, st.st_mode & S_IROTH ? "every user" : "its group");
		note("warnings", w);
		free(w);
	}
}

/* The object's members in their documented order, filled in later. */
static void json_start(void)
{
	out = json_object_new_object();
	put_str(out, "file", NULL);
	json_object_object_add(out, "ok", json_object_new_boolean(false));
	json_object_object_add(out, "problems", json_object_new_array());
	json_object_object_add(out, "warnings", json_object_new_array());
	json_object_object_add(out, "mailboxes", json_object_new_array());
	put_str(out, "database", NULL);
	put_str(out, "database_origin", NULL);
	put_str(out, "database_error", NULL);
	put_str(out, "tenants_error", NULL);
}

static int check(const char *path_opt, const char *db_opt)
{
	struct err e = {0};
	char *path = NULL;
	struct config *cfg = NULL;
	int rc = EXIT_OK;
	if (config_find(path_opt, &path, &e) != 0 || config_load(&cfg, path, &e) != 0) {
		rc = cli_fail(&e);
		if (out)
			note("problems", e.msg);
		goto out;
	}
	if (!path) {
		char *user = config_user_path();
		if (!user)
			user = xstrdup("$XDG_CONFIG_HOME/dmarcsift/dmarcsift.conf");
		if (!out)
			printf("no configuration file (looked for %s and "
			       "/etc/dmarcsift/dmarcsift.conf): defaults apply\n",
			       user);
		free(user);
		check_database(cfg, db_opt);
		goto out;
	}
	if (out)
		put_str(out, "file", path);
	for (size_t i = 0; i < cfg->n_warnings; i++) {
		char *w = xasprintf("dmarcsift: warning: %s", cfg->warnings[i]);
		note("warnings", w);
		free(w);
	}
	if (!config_ok(cfg)) {
		for (size_t i = 0; i < cfg->n_errors; i++)
			note("problems", cfg->errors[i]);
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
	} else if (!out) {
		printf("%s: ok\n", path);
	}
out:
	config_free(cfg);
	free(path);
	return rc;
}

int cmd_config(int argc, char **argv)
{
	int rc = opt_subcommand(&cmd, argc, argv);
	if (rc >= 0)
		return rc;
	if (strcmp(argv[1], "check") != 0) {
		fprintf(stderr, "dmarcsift config: unknown action '%s'\n", argv[1]);
		return opt_usage_error(&cmd);
	}
	struct opt_common co;
	if (!opt_parse(&cmd, argc - 1, argv + 1, NULL, &co, &rc))
		return rc;
	if (co.format == ROWS_JSON)
		json_start();
	rc = check(co.config, co.db);
	if (out) {
		json_object_object_add(out, "ok", json_object_new_boolean(rc == EXIT_OK));
		rows_json_print(stdout, out);
		json_object_put(out);
		out = NULL;
	}
	return rc;
}
