/*
 * common: what every subcommand shares — opening the database the way the
 * user asked (--db, DMARCSIFT_DB, the config file, else the embedded
 * cluster), and turning an error into a message and an exit code.
 */
#ifndef DS_CLI_COMMON_H
#define DS_CLI_COMMON_H

#include "core/err.h"
#include "db/cluster.h"
#include "reports/rows.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>

struct db;
struct ruf_options;
struct config;

/* The configuration file that decides the database when neither --db nor
 * DMARCSIFT_DB does: a command's --config PATH (NULL: the usual places). */
void cli_set_config_path(const char *path);
/* The one resolution order of every subcommand: --db, DMARCSIFT_DB, the
 * configuration file's [database] url, the embedded cluster (started when
 * `autostart`). *origin (may be NULL) says which, for people; both strings
 * are the caller's. A configuration file that cannot be read, or has
 * problems and no url, is ERR_CONFIG rather than a silent fallback. */
int cli_db_resolve(const char *db_opt, bool autostart, char **conninfo, char **origin,
                   enum db_source *src, struct err *e);
/* Connects (starting the embedded cluster when that is the database) and
 * applies pending migrations. Returns 0, or an exit code after printing why. */
int cli_connect(const char *db_opt, struct db **out);
/* --tenant NAME must name a tenant: checked before any input is touched.
 * Returns EXIT_OK, or the exit code after saying what is wrong (an unknown
 * tenant is a usage error, 2). NULL is fine. */
int cli_check_tenant(struct db *db, const char *name);
/* [tenants] pinned = strict in the configuration file, if one is readable. */
bool cli_pinned_strict(void);
/* The configuration file for a command that needs it right: path_opt (NULL:
 * the one cli_set_config_path gave, else the usual places; none found: the
 * defaults). A file that cannot be read, or has problems, is said on stderr
 * (each problem, then one line naming `who`, which may be NULL) and comes
 * back as the exit code, *cfg NULL. Else 0: *cfg and *path (may be NULL;
 * NULL when no file was found) are the caller's. */
int cli_config_strict(const char *path_opt, const char *who, struct config **cfg, char **path);
/* The [ruf] options of the config file (cli_path, else the one
 * cli_set_config_path gave, else the usual
 * places; none: the defaults, nothing kept beyond the headers). Returns 0, or
 * an exit code after printing the file's errors: a failure report must not be
 * stored unredacted because a typo elsewhere hid `redact = true`. */
int cli_ruf_options(const char *cli_path, struct ruf_options *out);
/* rows_print over a query result (which stays the caller's): JSON types
 * booleans, integers, floats and numerics (rounded to 4 places), json/jsonb
 * by the column's type, and timestamps as RFC 3339 UTC strings. */
void cli_rows_print(FILE *out, const PGresult *res, enum rows_format f, size_t text_width);
/* Prints "dmarcsift: error: ..." and returns the exit code for the error. */
int cli_fail(const struct err *e);
/* Whether this run has already said on stderr why it fails (cli_fail or
 * cli_failure_note): then --quiet needs no line of its own. */
bool cli_failure_said(void);
void cli_failure_note(void);
/* One line for an exit code, as `dmarcsift --help` lists them. */
const char *cli_exit_meaning(int code);

#endif
