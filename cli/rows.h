/*
 * rows: prints a query result for people and machines — an aligned text
 * table, CSV (RFC 4180 quoting, header row) or JSON (one object per line,
 * json-c; numbers and booleans typed by the column's type, NULL as null).
 * Used by the list subcommands (suppressions, escalations). The result
 * stays the caller's. Nothing here fails except writing, which stdio
 * reports through ferror.
 */
#ifndef DS_CLI_ROWS_H
#define DS_CLI_ROWS_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdio.h>

enum rows_format { ROWS_TEXT = 0, ROWS_CSV, ROWS_JSON };

/* "text" | "csv" | "json"; returns -1 for anything else. */
int rows_format_parse(const char *s, enum rows_format *out);
/* Text cells longer than `text_width` bytes are cut (at a character) and
 * end in "..."; 0 = no limit. */
void rows_print(FILE *out, const PGresult *res, enum rows_format f, size_t text_width);

#endif
