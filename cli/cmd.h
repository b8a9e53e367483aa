/*
 * cmd: the subcommand table and the options every subcommand shares.
 * Each cmd_NAME takes argc/argv with argv[0] = the subcommand name, handles
 * its own --help, and returns the process exit code.
 */
#ifndef DS_CLI_CMD_H
#define DS_CLI_CMD_H

/* The exit codes, listed for users in `dmarcsift --help` and the README. */
enum {
	EXIT_OK = 0,
	EXIT_SOME_FAILED = 1, /* some input was quarantined or failed */
	EXIT_USAGE = 2,       /* bad options or arguments, an unusable config file */
	EXIT_DB = 3,          /* the database cannot be reached: worth retrying */
	EXIT_CONFIG = 4,      /* the database refused us (password, role, name): fix it */
};

int cmd_main(int argc, char **argv);

/* One line per subcommand file (cli/cmd_NAME.c). */
int cmd_ingest(int argc, char **argv);
int cmd_db(int argc, char **argv);
int cmd_tenant(int argc, char **argv);
int cmd_failures(int argc, char **argv);
int cmd_reprocess(int argc, char **argv);
int cmd_bounces(int argc, char **argv);
int cmd_suppressions(int argc, char **argv);
int cmd_escalations(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_poll(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_sources(int argc, char **argv);
int cmd_correlate(int argc, char **argv);
int cmd_flags(int argc, char **argv);
int cmd_blocklists(int argc, char **argv);
int cmd_dns(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_prune(int argc, char **argv);

#endif
