/*
 * common: what every subcommand shares — opening the database the way the
 * user asked (--db, DMARCSIFT_DB, the config file, else the embedded
 * cluster), and turning an error into a message and an exit code.
 */
#ifndef DS_CLI_COMMON_H
#define DS_CLI_COMMON_H

#include "core/err.h"

#include <stdbool.h>

struct db;

/* Connects (starting the embedded cluster when that is the database) and
 * applies pending migrations. Returns 0, or an exit code after printing why. */
int cli_connect(const char *db_opt, struct db **out);
/* --tenant NAME must name a tenant: checked before any input is touched.
 * Returns EXIT_OK, or the exit code after saying what is wrong (an unknown
 * tenant is a usage error, 2). NULL is fine. */
int cli_check_tenant(struct db *db, const char *name);
/* [tenants] pinned = strict in the configuration file, if one is readable. */
bool cli_pinned_strict(void);
/* Prints "dmarcsift: error: ..." and returns the exit code for the error. */
int cli_fail(const struct err *e);
/* True when s is "--help" or "-h". */
int cli_is_help(const char *s);

#endif
