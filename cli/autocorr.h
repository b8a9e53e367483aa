/*
 * autocorr: what `ingest`, `poll` and `bounces ingest` share about the
 * correlator — reading the config file's [correlate] and [mta-hosts] for
 * them, and the incremental correlation they run at the end unless
 * --no-correlate.
 *
 * autocorr_config loads the config file (--config PATH or the usual
 * places) leniently: problems in it are printed as warnings and the rest
 * is used (these commands must not stop because, say, a mailbox section
 * is half written; `dmarcsift config check` is where a config is judged).
 * autocorr_run prints one line to stderr unless quiet and returns 0, or an
 * exit code after printing why (nothing is lost: what changed stays queued
 * for the next run).
 */
#ifndef DS_CLI_AUTOCORR_H
#define DS_CLI_AUTOCORR_H

#include <stdbool.h>

struct config;
struct db;
struct notify_hook;

struct config *autocorr_config(const char *config_opt);
int autocorr_run(struct db *db, const struct config *cfg, bool quiet);
/* The [notify] webhook of `cfg` into `h` (its secret into *secret, free
 * with config_secret_free): false when none is configured, or when its
 * secret cannot be read (said on stderr: flags are still stored, only not
 * posted). */
bool autocorr_hook(const struct config *cfg, struct notify_hook *h, char **secret);

#endif
