#include "cli/opt.h"

#include "cli/cmd.h"
#include "cli/common.h"
#include "core/log.h"
#include "core/xalloc.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

/* Keys of the common options beyond their letters; kept clear of OPT_KEY
 * and up, which the commands' own options use. */
enum { C_DB = 200, C_CONFIG, C_FORMAT, C_JSON, C_LOG_FORMAT };

/* The common options. The letters of --db, --config, --format and --json
 * are kept for the commands that had them, unless a command's own option
 * claims the letter (sources resolve -f is --services). */
static const struct common {
	const char *name;
	int key;
	char letter;
	const char *arg;
	const char *help;
} commons[] = {
    {"format", C_FORMAT, 'f', "F", NULL /* from the command's formats */},
    {"json", C_JSON, 'j', NULL, "the same as --format json"},
    {"db", C_DB, 'd', "CONN",
     "the database: a libpq connection string or URI\n"
     "(default: $DMARCSIFT_DB, else [database] url in the\n"
     "configuration file, else the embedded cluster)"},
    {"config", C_CONFIG, 'c', "PATH",
     "the configuration file (default:\n"
     "$XDG_CONFIG_HOME/dmarcsift/dmarcsift.conf, else\n"
     "/etc/dmarcsift/dmarcsift.conf)"},
    {"quiet", 'q', 'q', NULL,
     "no progress and no per-input warnings (a failing run\n"
     "still says one line on standard error)"},
    {"verbose", 'v', 'v', NULL, "more detail on standard error"},
    {"log-format", C_LOG_FORMAT, 0, "F",
     "journald, syslog or text: how lines on standard error\n"
     "are marked (default: journald under systemd, else text)"},
    {"help", 'h', 'h', NULL, "this text"},
};
#define NCOMMON (sizeof commons / sizeof commons[0])

#define HELP_COLUMN 22

static bool is_letter(int key)
{
	return (key >= 'a' && key <= 'z') || (key >= 'A' && key <= 'Z');
}

/* A command's own option of that name replaces the common one (report
 * has its own --format: text, csv, json and html). */
static bool own_name(const struct opt_cmd *cmd, const char *name)
{
	for (const struct opt *o = cmd->opts; o && o->name; o++)
		if (strcmp(o->name, name) == 0)
			return true;
	return false;
}

static bool own_letter(const struct opt_cmd *cmd, int letter)
{
	for (const struct opt *o = cmd->opts; o && o->name; o++)
		if (o->key == letter)
			return true;
	return false;
}

/* "  -t, --tenant T    help\n" with the help's further lines aligned. */
static void print_option(FILE *out, int letter, const char *name, const char *arg, const char *help)
{
	int n = letter ? fprintf(out, "  -%c, --%s", letter, name) : fprintf(out, "  --%s", name);
	if (arg)
		n += fprintf(out, " %s", arg);
	if (n + 2 > HELP_COLUMN) {
		fputc('\n', out);
		n = 0;
	}
	for (const char *line = help; line && *line;) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		fprintf(out, "%*s%.*s\n", HELP_COLUMN - n, "", (int)len, line);
		n = 0;
		line = nl ? nl + 1 : line + len;
	}
}

static const char *const format_names[] = {"text", "csv", "json"};

/* "text (default), csv or json" from the command's set. */
static void format_list(const struct opt_cmd *cmd, char *buf, size_t size, bool deflt)
{
	size_t used = 0;
	int n = 0, total = 0;
	for (int f = ROWS_TEXT; f <= ROWS_JSON; f++)
		total += (cmd->formats & (1u << f)) != 0;
	buf[0] = '\0';
	for (int f = ROWS_TEXT; f <= ROWS_JSON && used < size; f++) {
		if (!(cmd->formats & (1u << f)))
			continue;
		n++;
		used +=
		    (size_t)snprintf(buf + used, size - used, "%s%s%s",
		                     n == 1       ? ""
		                     : n == total ? " or "
		                                  : ", ",
		                     format_names[f], deflt && f == ROWS_TEXT ? " (default)" : "");
	}
}

void opt_usage(const struct opt_cmd *cmd, FILE *out)
{
	fprintf(out, "%s", cmd->synopsis);
	if (cmd->about)
		fprintf(out, "\n%s", cmd->about);
	if (cmd->opts && cmd->opts[0].name) {
		fprintf(out, "\nOptions:\n");
		for (const struct opt *o = cmd->opts; o->name; o++)
			if (o->help)
				print_option(out, is_letter(o->key) ? o->key : 0, o->name, o->arg,
				             o->help);
	}
	fprintf(out, "\nCommon options:\n");
	for (size_t i = 0; i < NCOMMON; i++) {
		const struct common *c = &commons[i];
		if ((c->key == C_JSON && !(cmd->formats & OPT_JSON)) || own_name(cmd, c->name))
			continue;
		char formats[96], help[160];
		const char *text = c->help;
		if (c->key == C_FORMAT) {
			format_list(cmd, formats, sizeof formats, true);
			snprintf(help, sizeof help, "%s%s", formats,
			         cmd->formats & OPT_JSON ? "\n(json: fields in docs/json.md)" : "");
			text = help;
		}
		/* Only the letters every command has are shown; the others are
		 * kept for old scripts. */
		print_option(out, c->letter == c->key ? c->letter : 0, c->name, c->arg, text);
	}
	if (cmd->epilog)
		fprintf(out, "\n%s", cmd->epilog);
}

int opt_usage_error(const struct opt_cmd *cmd)
{
	fprintf(stderr, "%sRun 'dmarcsift %s --help' for the options.\n", cmd->synopsis, cmd->name);
	return EXIT_USAGE;
}

int opt_subcommand(const struct opt_cmd *cmd, int argc, char **argv)
{
	if (argc < 2)
		return opt_usage_error(cmd);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		opt_usage(cmd, stdout);
		return EXIT_OK;
	}
	return -1;
}

static int set_format(const struct opt_cmd *cmd, const char *opt, const char *value,
                      struct opt_common *c)
{
	enum rows_format f;
	if (rows_format_parse(value, &f) == 0 && (cmd->formats & (1u << f))) {
		c->format = f;
		return 0;
	}
	char formats[96];
	format_list(cmd, formats, sizeof formats, false);
	if (strcmp(opt, "json") == 0)
		fprintf(stderr, "dmarcsift %s: --json: this command prints %s\n", cmd->name,
		        formats);
	else
		fprintf(stderr, "dmarcsift %s: --format '%s': expected %s\n", cmd->name, value,
		        formats);
	if (cmd->format_hint)
		fprintf(stderr, "dmarcsift %s: %s\n", cmd->name, cmd->format_hint);
	return EXIT_USAGE;
}

bool opt_parse(const struct opt_cmd *cmd, int argc, char **argv, void *ctx, struct opt_common *c,
               int *rc)
{
	size_t nown = 0;
	while (cmd->opts && cmd->opts[nown].name)
		nown++;
	struct option *longopts = xcalloc(nown + NCOMMON + 1, sizeof *longopts);
	/* ':' first: a missing argument is told apart from an unknown option. */
	char *shorts = xcalloc(2 * (nown + NCOMMON) + 2, 1);
	size_t ns = 0, nl = 0;
	shorts[ns++] = ':';
	for (size_t i = 0; i < nown; i++) {
		const struct opt *o = &cmd->opts[i];
		longopts[nl++] = (struct option){o->name, o->arg ? required_argument : no_argument,
		                                 NULL, o->key};
		if (is_letter(o->key)) {
			shorts[ns++] = (char)o->key;
			if (o->arg)
				shorts[ns++] = ':';
		}
	}
	for (size_t i = 0; i < NCOMMON; i++) {
		const struct common *m = &commons[i];
		if (own_name(cmd, m->name))
			continue;
		longopts[nl++] = (struct option){m->name, m->arg ? required_argument : no_argument,
		                                 NULL, m->key};
		if (m->letter && !own_letter(cmd, m->letter)) {
			shorts[ns++] = m->letter;
			if (m->arg)
				shorts[ns++] = ':';
		}
	}
	memset(c, 0, sizeof *c);
	c->format = ROWS_TEXT;
	*rc = EXIT_OK;
	bool go = true;
	int ch;
	opterr = 0;
	optind = 0; /* GNU: a full re-initialisation, for a second parse in one process */
	while (go && (ch = getopt_long(argc, argv, shorts, longopts, NULL)) != -1) {
		const char *arg = optarg;
		/* A letter of a common option stands for its long name. */
		for (size_t i = 0; i < NCOMMON; i++)
			if (ch != commons[i].key && ch == commons[i].letter && !own_letter(cmd, ch))
				ch = commons[i].key;
		switch (ch) {
		case '?':
		case ':': {
			char shortopt[3] = {'-', (char)optopt, '\0'};
			const char *what = optopt && optopt < 128 ? shortopt : argv[optind - 1];
			fprintf(stderr,
			        ch == ':' ? "dmarcsift %s: %s needs an argument\n"
			                  : "dmarcsift %s: unknown option '%s'\n",
			        cmd->name, what);
			*rc = opt_usage_error(cmd);
			go = false;
			break;
		}
		case 'h':
			opt_usage(cmd, stdout);
			go = false;
			break;
		case 'q':
			c->quiet = true;
			break;
		case 'v':
			c->verbose = true;
			break;
		case C_DB:
			c->db = arg;
			break;
		case C_CONFIG:
			c->config = arg;
			break;
		case C_FORMAT:
		case C_JSON:
			*rc = set_format(cmd, ch == C_JSON ? "json" : "format", arg ? arg : "json",
			                 c);
			go = *rc == EXIT_OK;
			break;
		case C_LOG_FORMAT:
			if (log_set_format_name(arg) != 0) {
				fprintf(
				    stderr,
				    "dmarcsift %s: --log-format '%s': expected journald, syslog "
				    "or text\n",
				    cmd->name, arg);
				*rc = EXIT_USAGE;
				go = false;
			}
			break;
		default:
			*rc = cmd->on_opt ? cmd->on_opt(ctx, ch, arg) : EXIT_USAGE;
			go = *rc == EXIT_OK;
			break;
		}
	}
	free(longopts);
	free(shorts);
	if (!go)
		return false;
	c->args = argv + optind;
	c->nargs = argc - optind;
	if (c->nargs > 0 && !cmd->args) {
		fprintf(stderr, "dmarcsift %s: unexpected argument '%s'\n", cmd->name, c->args[0]);
		*rc = opt_usage_error(cmd);
		return false;
	}
	/* --config decides the database too (after --db and DMARCSIFT_DB). */
	cli_set_config_path(c->config);
	if (c->quiet)
		log_set_level(LOG_QUIET);
	else if (c->verbose)
		log_set_level(LOG_VERBOSE);
	return true;
}
