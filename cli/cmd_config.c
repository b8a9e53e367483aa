/*
 * dmarcsift config check: finds and validates the configuration file and
 * prints what it configures (secrets are never printed: only where they come
 * from), or every problem with its file and line.
 */
#include "cli/cmd.h"
#include "cli/common.h"
#include "cli/config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
	fprintf(out, "usage: dmarcsift config check [--config PATH]\n"
	             "\n"
	             "Validates the configuration file and prints a summary of it, or each\n"
	             "problem as FILE:LINE: what is wrong. Without --config the file is\n"
	             "$XDG_CONFIG_HOME/dmarcsift/dmarcsift.conf (else ~/.config/...), else\n"
	             "/etc/dmarcsift/dmarcsift.conf. Passwords and tokens are never printed.\n"
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
	printf("%s: ok\n", cfg->path);
	printf("database: %s\n",
	       cfg->db_url ? "[database] url (not shown: it may hold a password)"
	                   : "not set ($DMARCSIFT_DB or --db, else the embedded cluster)");
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

int cmd_config(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *path_opt = NULL;
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
		printf("no configuration file (looked for $XDG_CONFIG_HOME/dmarcsift/"
		       "dmarcsift.conf and /etc/dmarcsift/dmarcsift.conf): defaults apply\n");
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
	print_summary(cfg);
out:
	config_free(cfg);
	free(path);
	return rc;
}
