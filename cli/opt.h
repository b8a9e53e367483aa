/*
 * opt: the one option parser of the subcommands (getopt_long underneath).
 *
 * Every subcommand takes the common options: --db CONN, --config PATH,
 * --format F (from the set the command allows; --json is --format json),
 * -q/--quiet, -v/--verbose, --log-format journald|syslog|text and
 * -h/--help. Its own options are a table of struct opt, handed one at a time
 * to the command's callback. --help is printed from the same tables, so
 * every command describes the common options in the same words.
 *
 * Parsing also applies what is process-wide: -q/-v set the log level,
 * --log-format the log's format, --config the file that decides the
 * database (cli_set_config_path).
 *
 * Nothing stays allocated: the strings in struct opt_common point into argv.
 * Errors (an unknown option, a missing argument, a --format the command does
 * not print, an argument a command without arguments was given) are said on
 * stderr with the synopsis, and come back as exit 2.
 */
#ifndef DS_CLI_OPT_H
#define DS_CLI_OPT_H

#include "reports/rows.h"

#include <stdbool.h>
#include <stdio.h>

/* The --format values a command prints: bits of (1 << enum rows_format). */
enum {
	OPT_TEXT = 1 << ROWS_TEXT,
	OPT_CSV = 1 << ROWS_CSV,
	OPT_JSON = 1 << ROWS_JSON,
};

/* A key of a command's own option: a letter is also its short option
 * (-t for --tenant); options without one use OPT_KEY and up. */
enum { OPT_KEY = 256 };

struct opt {
	const char *name; /* the long name, without "--"; NULL ends a table */
	int key;          /* handed to the callback */
	const char *arg;  /* the argument's name in --help ("N"); NULL: a flag */
	const char *help; /* for --help; "\n" starts another line; NULL: not shown */
};

struct opt_cmd {
	const char *name;        /* "escalations", "dns": in messages */
	const char *synopsis;    /* the usage lines, each one starting "dmarcsift " */
	const char *about;       /* what the command does (NULL: nothing) */
	const struct opt *opts;  /* its own options (NULL: none) */
	unsigned formats;        /* what --format takes; OPT_TEXT at least */
	bool args;               /* takes positional arguments (else one is an error) */
	const char *epilog;      /* printed after the options (NULL: nothing) */
	const char *format_hint; /* said after a refused --format (NULL: nothing) */
	/* One of the command's own options: returns 0, or an exit code after
	 * saying what is wrong. `arg` is NULL for a flag. */
	int (*on_opt)(void *ctx, int key, const char *arg);
};

struct opt_common {
	const char *db;          /* --db CONN, else NULL */
	const char *config;      /* --config PATH, else NULL */
	enum rows_format format; /* --format (ROWS_TEXT when not given) */
	bool quiet, verbose;     /* -q, -v (the log level is set already) */
	char **args;             /* the positional arguments, in order */
	int nargs;
};

/* Parses argv[1..argc-1] (argv[0] is the command's name) into *c and the
 * command's callback. Returns true when the command should run; false when
 * it is done: *rc is then EXIT_OK after --help, or the exit code of a usage
 * error (said on stderr), or what the callback returned. */
bool opt_parse(const struct opt_cmd *cmd, int argc, char **argv, void *ctx, struct opt_common *c,
               int *rc);
/* For a command whose first word is a subcommand (dns check): -1 when
 * argv[1] is one (or an option: the command looks), else the exit code
 * after printing the usage (none given: on stderr, 2; -h/--help: 0). */
int opt_subcommand(const struct opt_cmd *cmd, int argc, char **argv);
/* The command's --help: synopsis, about, its options, the common options. */
void opt_usage(const struct opt_cmd *cmd, FILE *out);
/* Prints the synopsis to stderr and returns EXIT_USAGE: for a command's
 * own checks of its arguments after opt_parse. */
int opt_usage_error(const struct opt_cmd *cmd);

#endif
