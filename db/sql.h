/*
 * sql: the long statements of db/ (and of app/ use cases), kept as
 * db/sql/NAME.sql files and embedded into the binary at build time
 * (cmake/EmbedMigrations.cmake), so SQL reads as SQL and never sits in C
 * string literals. Statements take their values as $n parameters.
 */
#ifndef DS_DB_SQL_H
#define DS_DB_SQL_H

struct db_sql_text {
	const char *name; /* "correlate" for db/sql/correlate.sql */
	const char *sql;
};

/* Generated: terminated by {NULL, NULL}. */
extern const struct db_sql_text db_sql_embedded[];

/* The text of db/sql/NAME.sql. A missing name is a build mistake, not a
 * runtime condition: it aborts with the name. */
const char *db_sql(const char *name);

#endif
