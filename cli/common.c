#include "cli/common.h"

#include "cli/cmd.h"
#include "cli/config.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "db/cluster.h"
#include "db/db.h"
#include "db/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool failure_said;

bool cli_failure_said(void)
{
	return failure_said;
}

void cli_failure_note(void)
{
	failure_said = true;
}

const char *cli_exit_meaning(int code)
{
	switch (code) {
	case EXIT_OK:
		return "ok";
	case EXIT_SOME_FAILED:
		return "some input was quarantined or failed (see 'dmarcsift failures')";
	case EXIT_USAGE:
		return "usage error, or the configuration file is wrong";
	case EXIT_DB:
		return "the database cannot be reached (worth retrying later)";
	case EXIT_CONFIG:
		return "the database refused the connection, or (poll) a mailbox could not be read";
	default:
		return "failed";
	}
}

int cli_fail(const struct err *e)
{
	failure_said = true;
	log_error("%s", e->msg[0] ? e->msg : "unknown failure");
	switch (e->kind) {
	case ERR_RETRY:
		return EXIT_DB;
	case ERR_CONFIG:
		/* The server refused who we are or the database we named. */
		if (strncmp(e->sqlstate, "28", 2) == 0 || strcmp(e->sqlstate, "3D000") == 0 ||
		    strcmp(e->sqlstate, "42501") == 0)
			return EXIT_CONFIG;
		return EXIT_USAGE;
	default:
		return EXIT_SOME_FAILED;
	}
}

static const char *config_opt;

void cli_set_config_path(const char *path)
{
	config_opt = path;
}

int cli_db_resolve(const char *db_opt, bool autostart, char **conninfo, char **origin,
                   enum db_source *src_out, struct err *e)
{
	const char *env = getenv("DMARCSIFT_DB");
	char *path = NULL;
	struct config *cfg = NULL;
	enum db_source src;
	int rc = -1;
	*conninfo = NULL;
	if (origin)
		*origin = NULL;
	/* The configuration file is read only when it decides: a broken one
	 * does not stand in the way of --db or DMARCSIFT_DB. */
	if (!(db_opt && *db_opt) && !(env && *env)) {
		if (config_find(config_opt, &path, e) != 0)
			goto out;
		if (path && config_load(&cfg, path, e) != 0)
			goto out;
		if (path && !cfg->db_url && !config_ok(cfg)) {
			/* Its [database] url may be the line that is wrong: never
			 * fall back to another database in silence. */
			err_set(e, ERR_CONFIG,
			        "%s has %zu problem%s ('dmarcsift config check' lists them); not "
			        "choosing a database until it is fixed (or give --db or "
			        "DMARCSIFT_DB)",
			        path, cfg->n_errors, cfg->n_errors == 1 ? "" : "s");
			goto out;
		}
	}
	if (cluster_resolve(db_opt, cfg ? cfg->db_url : NULL, autostart, conninfo, &src, e) != 0)
		goto out;
	if (origin)
		*origin = src == DB_SRC_CONFIG ? xasprintf("[database] url in %s", path)
		                               : xstrdup(cluster_source_name(src));
	if (src_out)
		*src_out = src;
	rc = 0;
out:
	config_free(cfg);
	free(path);
	return rc;
}

int cli_connect(const char *db_opt, struct db **out)
{
	struct err e = {0};
	char *conninfo = NULL;
	int rc = 0;

	if (cli_db_resolve(db_opt, true, &conninfo, NULL, NULL, &e) != 0 ||
	    db_connect(out, conninfo, true, &e) != 0) {
		/* Whatever stopped us from reaching the database is exit 3;
		 * a server that refused us, or a bad setup, is not. */
		if (e.kind != ERR_CONFIG)
			e.kind = ERR_RETRY;
		rc = cli_fail(&e);
	}
	free(conninfo);
	return rc;
}

int cli_config_strict(const char *path_opt, const char *who, struct config **cfg, char **path)
{
	struct err e = {0};
	char *found = NULL;
	int rc = 0;
	*cfg = NULL;
	if (config_find(path_opt ? path_opt : config_opt, &found, &e) != 0 ||
	    config_load(cfg, found, &e) != 0) {
		rc = cli_fail(&e);
	} else if (!config_ok(*cfg)) {
		for (size_t i = 0; i < (*cfg)->n_errors; i++)
			fprintf(stderr, "%s\n", (*cfg)->errors[i]);
		fprintf(stderr, "dmarcsift%s%s: the configuration has errors (see above)\n",
		        who ? " " : "", who ? who : "");
		rc = EXIT_USAGE;
	}
	if (rc != 0) {
		config_free(*cfg);
		*cfg = NULL;
	}
	if (rc == 0 && path)
		*path = found;
	else
		free(found);
	return rc;
}

int cli_ruf_options(const char *cli_path, struct ruf_options *out)
{
	struct config *cfg = NULL;
	memset(out, 0, sizeof *out);
	int rc = cli_config_strict(cli_path, NULL, &cfg, NULL);
	if (rc == 0)
		*out = cfg->ruf;
	config_free(cfg);
	return rc;
}

int cli_check_tenant(struct db *db, const char *name)
{
	if (!name)
		return EXIT_OK;
	struct err e = {0};
	int id = -1;
	if (store_tenant_id(db, name, &id, &e) != 0)
		return cli_fail(&e); /* unknown: ERR_CONFIG, exit 2 */
	return EXIT_OK;
}

/* [tenants] pinned from the configuration file, when there is a readable
 * one (ingest and reprocess need no configuration; a broken one is `config check`'s
 * business, and the default applies). */
bool cli_pinned_strict(void)
{
	struct err e = {0};
	char *path = NULL;
	struct config *cfg = NULL;
	bool strict = false;
	if (config_find(NULL, &path, &e) == 0 && path && config_load(&cfg, path, &e) == 0 &&
	    config_ok(cfg))
		strict = cfg->pinned_strict;
	config_free(cfg);
	free(path);
	return strict;
}

/* Type OIDs from PostgreSQL's pg_type.dat (stable across versions). */
enum {
	OID_BOOL = 16,
	OID_INT8 = 20,
	OID_INT2 = 21,
	OID_INT4 = 23,
	OID_FLOAT4 = 700,
	OID_FLOAT8 = 701,
	OID_NUMERIC = 1700,
	OID_JSON = 114,
	OID_JSONB = 3802,
	OID_TIMESTAMP = 1114,
	OID_TIMESTAMPTZ = 1184
};

static const char *pg_name(const void *src, int col)
{
	return PQfname(src, col);
}

static enum rows_kind pg_kind(const void *src, int col)
{
	switch (PQftype(src, col)) {
	case OID_BOOL:
		return ROWS_KIND_BOOL;
	case OID_INT2:
	case OID_INT4:
	case OID_INT8:
		return ROWS_KIND_INT;
	case OID_FLOAT4:
	case OID_FLOAT8:
	case OID_NUMERIC:
		return ROWS_KIND_FLOAT;
	case OID_JSON:
	case OID_JSONB:
		return ROWS_KIND_JSON;
	case OID_TIMESTAMP:
	case OID_TIMESTAMPTZ:
		return ROWS_KIND_TIME;
	default:
		return ROWS_KIND_STRING;
	}
}

static const char *pg_value(const void *src, int row, int col)
{
	return PQgetvalue(src, row, col);
}

static bool pg_is_null(const void *src, int row, int col)
{
	return PQgetisnull(src, row, col) != 0;
}

void cli_rows_print(FILE *out, const PGresult *res, enum rows_format f, size_t text_width)
{
	const struct rows_table t = {
	    .src = res,
	    .ncols = PQnfields(res),
	    .nrows = PQntuples(res),
	    .name = pg_name,
	    .kind = pg_kind,
	    .value = pg_value,
	    .is_null = pg_is_null,
	};
	rows_print(out, &t, f, text_width);
}
