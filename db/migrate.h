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

struct db;

struct migration {
	const char *name; /* "0001_init" */
	const char *sql;
};

/* Generated: terminated by {NULL, NULL}. */
extern const struct migration migrate_embedded[];

/* Applies pending migrations; *applied (may be NULL) gets how many ran. */
int migrate_apply(struct db *db, int *applied, struct err *e);

#endif
