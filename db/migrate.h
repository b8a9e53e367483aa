/*
 * migrate: versioned schema migrations. db/migrations/NNNN_name.sql are
 * embedded into the binary at build time (cmake/EmbedMigrations.cmake) and
 * applied in order, each inside its own transaction, recorded in
 * dmarcsift.schema_migrations. An advisory lock serialises concurrent
 * migrators. Applying is idempotent.
 */
#ifndef DS_DB_MIGRATE_H
#define DS_DB_MIGRATE_H

#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>

struct db;

struct migration {
	const char *name; /* "0001_init" */
	const char *sql;
};

/* Generated: terminated by {NULL, NULL}. */
extern const struct migration migrate_embedded[];

/* Applies pending migrations; *applied (may be NULL) gets how many ran. */
int migrate_apply(struct db *db, int *applied, struct err *e);
/* The same, only those whose names sort before stop (NULL: all): a schema
 * as an older dmarcsift left it, for tests of a migration's changes to data
 * stored before it. */
int migrate_apply_before(struct db *db, const char *stop, int *applied, struct err *e);

/* The reading roles (dmarcsift_reader, dmarcsift_msp; see
 * 0008_1_tenant_roles.sql). With apply, secures every tenant table and
 * creates/grants what the current role may; *stmts gets the SQL statements
 * still missing (those a DBA must run), in order; free with
 * migrate_sql_free. Needs the schema migrated. */
int migrate_roles(struct db *db, bool apply, char ***stmts, size_t *n, struct err *e);
void migrate_sql_free(char **stmts, size_t n);
/* The embedded migrations not applied yet (names, free with
 * migrate_sql_free); fails with ERR_CONFIG on a schema newer than us. */
int migrate_pending(struct db *db, char ***names, size_t *n, struct err *e);

#endif
