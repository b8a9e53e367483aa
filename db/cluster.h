/*
 * cluster: where the database is, and the private PostgreSQL cluster that is
 * the zero-configuration default.
 *
 * cluster_resolve picks the connection string: the --db option, else
 * DMARCSIFT_DB, else the config file's [database] url (read by the caller,
 * cli/common.c, and handed in as `config_db`), else the embedded cluster,
 * which it starts (initdb on first use) when `autostart`. Every subcommand
 * goes through it, so they all use one database.
 * First use means no data directory and no record that a cluster was ever
 * created: the record is .../dmarcsift/pg.created, beside the data directory.
 * When the record exists and the data directory does not (deleted, or a disk
 * not mounted), nothing is created until `cluster_init(force)`: an empty
 * cluster in its place would swallow what is stored next. A PID in a lock
 * file (postmaster.pid, the socket's .lock) is trusted only after
 * /proc/PID says it is this cluster's postmaster: a stale one, left by a
 * crash or reboot and naming someone else's live process, is removed before
 * a start and never signalled.
 * The embedded cluster lives in $XDG_DATA_HOME/dmarcsift/pg (fallback
 * ~/.local/share/dmarcsift/pg), listens on a unix socket only (in
 * .../dmarcsift/run), and is run with initdb + pg_ctl from the installed
 * server. PostgreSQL refuses to run as root, so when we are root the server
 * runs as the unprivileged `postgres` account (and the cluster moves to
 * /var/lib/dmarcsift/pg when the data home is not reachable by that user);
 * we say so on stderr. Strings returned are the caller's to free.
 */
#ifndef DS_DB_CLUSTER_H
#define DS_DB_CLUSTER_H

#include "core/err.h"

#include <stdbool.h>

struct cluster_info {
	char *base;     /* .../dmarcsift */
	char *pgdata;   /* .../dmarcsift/pg */
	char *sockdir;  /* .../dmarcsift/run */
	char *logfile;  /* .../dmarcsift/pg.log */
	char *bindir;   /* directory with initdb, pg_ctl, postgres */
	char *run_as;   /* NULL, or the account the server runs as */
	char *conninfo; /* host=<sockdir> port=... dbname=dmarcsift user=dmarcsift */
};

int cluster_info_get(struct cluster_info *ci, struct err *e);
void cluster_info_free(struct cluster_info *ci);
/* initdb on first use, then start. Quiet when already running. A data
 * directory that is missing after a cluster was created: ERR_RETRY saying
 * to run `dmarcsift db init --force`. */
int cluster_start(const struct cluster_info *ci, struct err *e);
/* cluster_start, and with `force` also when the data directory is missing
 * after a cluster was created (a server still running on the removed
 * directory is stopped first). Never touches an existing data directory. */
int cluster_init(const struct cluster_info *ci, bool force, struct err *e);
/* Stops this cluster's postmaster, if one runs; nothing else is signalled. */
int cluster_stop(const struct cluster_info *ci, struct err *e);
/* 1 running, 0 stopped, 2 not initialised (first use), 3 the data directory
 * is missing although a cluster was created; -1 on error. */
int cluster_status(const struct cluster_info *ci, struct err *e);
/* Where the connection string came from. */
enum db_source { DB_SRC_FLAG, DB_SRC_ENV, DB_SRC_CONFIG, DB_SRC_EMBEDDED };
const char *cluster_source_name(enum db_source src);
/* Resolution order as above; *out is the caller's. `cli_db` and `config_db`
 * may be NULL; `src` (may be NULL) says which one was used. */
int cluster_resolve(const char *cli_db, const char *config_db, bool autostart, char **out,
                    enum db_source *src, struct err *e);

#endif
