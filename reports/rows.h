/*
 * rows: prints a query result for people and machines — an aligned text
 * table, CSV (RFC 4180 quoting, header row) or JSON (one object per line,
 * json-c; numbers and booleans typed by the column's type, NULL as null).
 * Used by the list subcommands (suppressions, escalations, flags, dns).
 * Also the JSON conventions of every subcommand (docs/json.md): one line
 * per object, no "\/" escapes, times as RFC 3339 UTC strings, rates as
 * decimals rounded to 4 places.
 * No libpq here: the caller hands in a struct rows_table whose callbacks
 * read its own result (cli_rows_print in cli/common.c adapts a PGresult).
 * The table and what it reads stay the caller's. Nothing here fails except
 * writing, which stdio reports through ferror.
 */
#ifndef DS_REPORTS_ROWS_H
#define DS_REPORTS_ROWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

struct json_object;

enum rows_format { ROWS_TEXT = 0, ROWS_CSV, ROWS_JSON };

/* How JSON types a column's values (text and CSV print them as they are);
 * a value that does not read as its kind is a JSON string. */
enum rows_kind {
	ROWS_KIND_STRING = 0,
	ROWS_KIND_BOOL,
	ROWS_KIND_INT,
	ROWS_KIND_FLOAT,
	ROWS_KIND_JSON,
	ROWS_KIND_TIME /* a PostgreSQL timestamp: RFC 3339 UTC in JSON */
};

struct rows_table {
	const void *src;
	int ncols, nrows;
	const char *(*name)(const void *src, int col);
	enum rows_kind (*kind)(const void *src, int col);
	/* Never NULL: a NULL cell reads as "" here, and true from is_null. */
	const char *(*value)(const void *src, int row, int col);
	bool (*is_null)(const void *src, int row, int col);
};

/* "text" | "csv" | "json"; returns -1 for anything else. */
int rows_format_parse(const char *s, enum rows_format *out);
/* Text cells longer than `text_width` bytes are cut (at a character) and
 * end in "..."; 0 = no limit. */
void rows_print(FILE *out, const struct rows_table *t, enum rows_format f, size_t text_width);

/* Writes `o` as one line of JSON (no "\/" escapes) and a newline. */
void rows_json_print(FILE *out, struct json_object *o);
/* One CSV line of an object's members, in order: their names when
 * `header`, else their values (strings as they are, null as nothing,
 * anything else as its JSON text), RFC 4180 quoted as rows_print does. */
void rows_csv_object(FILE *out, struct json_object *o, bool header);
/* A rate (or any fraction) as a JSON number rounded to 4 places. */
struct json_object *rows_json_rate(double v);
/* A time as an RFC 3339 UTC string ("2026-11-30T00:00:00Z"). */
struct json_object *rows_json_time(time_t t);
/* PostgreSQL's text of a timestamp ("2026-11-30 01:00:00.5+01", or
 * already "2026-11-30T00:00:00Z") into RFC 3339 UTC, whole seconds, in
 * out[21+]. Returns 0, or -1 when it does not read as one (out untouched). */
int rows_time_rfc3339(const char *pg, char *out, size_t outsz);

#endif
