#include "cli/cmd.h"
#include "cli/common.h"
#include "core/log.h"

#include <stdio.h>
#include <string.h>

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

/* Add a subcommand: one line here, one declaration in cmd.h, one file. */
static const struct command commands[] = {
    {"ingest", cmd_ingest, "ingest aggregate reports from files, directories or stdin"},
    {"failures", cmd_failures, "list quarantined inputs and why they failed"},
    {"reprocess", cmd_reprocess, "retry quarantined inputs from their stored raw bytes"},
    {"tenant", cmd_tenant, "add and list tenants (client organisations)"},
    {"db", cmd_db, "manage the database: start|stop|status|url|migrate|init"},
    {"bounces", cmd_bounces, "parse, classify and store SMTP bounce records"},
    {"suppressions", cmd_suppressions, "list suppressed recipient addresses per tenant"},
    {"escalations", cmd_escalations, "list open bounce escalations (repeating rejects)"},
    {"report", cmd_report, "DMARC reports per tenant and MSP-wide: text, CSV, JSON, HTML"},
    {"correlate", cmd_correlate, "tie policy rejects to the providers' DMARC data (flags)"},
    {"flags", cmd_flags, "list auth-driven / not-auth-driven reject flags with evidence"},
    {"poll", cmd_poll, "poll the configured mailboxes (IMAP, Maildir, mbox) once or forever"},
    {"blocklists", cmd_blocklists, "look the tenants' sending IPs and domains up in blocklists"},
    {"dns", cmd_dns, "check the tenants' DMARC, SPF, DKIM, MTA-STS and TLS-RPT records"},
    {"sources", cmd_sources, "name sending sources: resolve, load services, label ranges"},
    {"prune", cmd_prune, "delete what is older than the retention window, in short batches"},
    {"config", cmd_config, "check the configuration file: dmarcsift config check"},
    {"version", cmd_version, "the version, git revision, libraries and database server"},
    {NULL, NULL, NULL},
};

static void usage(FILE *out)
{
	fprintf(out, "usage: dmarcsift COMMAND [OPTIONS] [ARGS]\n\ncommands:\n");
	for (const struct command *c = commands; c->name; c++)
		fprintf(out, "  %-12s %s\n", c->name, c->summary);
	fprintf(out,
	        "\nRun 'dmarcsift COMMAND --help' for the options of a command. Every command\n"
	        "takes --db CONN, --config PATH, --format text|csv|json (those it prints;\n"
	        "--json is --format json; fields in docs/json.md), -q/--quiet, -v/--verbose,\n"
	        "--log-format journald|syslog|text and -h/--help.\n"
	        "\n"
	        "The database: --db CONN, else $DMARCSIFT_DB, else [database] url in the\n"
	        "configuration file, else the embedded cluster ('dmarcsift db url' says which).\n"
	        "\n"
	        "Exit codes:\n"
	        "  0  ok\n"
	        "  1  some input was quarantined or failed (see 'dmarcsift failures')\n"
	        "  2  usage error, or the configuration file is wrong\n"
	        "  3  the database cannot be reached (worth retrying later)\n"
	        "  4  the database refused the connection: wrong password, role or\n"
	        "     database name (retrying will not help; fix the configuration);\n"
	        "     for poll also: a mailbox could not be read (the message says why)\n");
}

int cmd_main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0)
		return cmd_version(argc - 1, argv + 1);
	for (const struct command *c = commands; c->name; c++) {
		if (strcmp(argv[1], c->name) != 0)
			continue;
		int rc = c->fn(argc - 1, argv + 1);
		/* --quiet silences progress and warnings, never the fact that the
		 * run failed: cron mails what reaches stderr, so one line does. */
		if (rc != EXIT_OK && log_get_level() == LOG_QUIET && !cli_failure_said())
			log_error("%s: exit %d: %s", c->name, rc, cli_exit_meaning(rc));
		return rc;
	}
	fprintf(stderr, "dmarcsift: unknown command '%s' (try 'dmarcsift --help')\n", argv[1]);
	return EXIT_USAGE;
}
