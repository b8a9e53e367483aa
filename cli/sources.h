/*
 * sources (cli side): turning the configuration ([dns], [sources], the
 * DMARCSIFT_DNS_SERVERS environment variable) into resolve options, and the
 * naming step that ingest, poll and bounces ingest run at their end unless
 * --no-resolve: bounded by [dns] budget (default 30 s), it never fails the
 * command — DNS trouble is one line on standard error saying what was left
 * for the next run.
 */
#ifndef DS_CLI_SOURCES_H
#define DS_CLI_SOURCES_H

#include "app/resolve.h"

#include <stdbool.h>

struct config;
struct db;

#define CLI_DNS_BUDGET_S 30

/* Fills `o` from the configuration (cfg may be NULL: defaults). */
void cli_sources_opts(const struct config *cfg, struct resolve_opts *o);
/* When the command started, on the database's clock (out: "" on failure),
 * so the naming step afterwards re-marks only what changed. */
void cli_resolve_mark_start(struct db *db, char *out, size_t outsz);
/* Runs the naming step after an ingest; `config_path` as the command's
 * --config (NULL: the usual places); `since` from cli_resolve_mark_start.
 * Returns 0, or -1 when the database failed (printed). */
int cli_resolve_after(struct db *db, const char *config_path, const char *since, bool quiet);
/* The blocklist check poll runs at its end when [blocklists] every says it
 * is due (cli/cmd_blocklists.c): bounded by [blocklists] budget, it never
 * fails the poll. Returns 0, or -1 when the database failed. */
int cli_blocklists_after_poll(struct db *db, const struct config *cfg, bool quiet);
/* The retention `poll --every` runs after a round (cli/cmd_prune.c): when
 * [retention] older_than is set, a prune of every tenant at the first round
 * and then once a day (*last: monotonic seconds of the last run, 0 at
 * first). It never fails the poll; its summary goes to standard error unless
 * quiet. Returns 0, or -1 when the database failed (then it is tried again
 * after the next round). */
int cli_prune_after_poll(struct db *db, const struct config *cfg, long long *last, bool quiet);

#endif
