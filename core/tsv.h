/*
 * tsv.h: splitting one line of our data tables (data/NAME.tsv) into columns.
 * Columns are separated by tabs; a run of tabs is one separator, so the
 * tables can be aligned by eye.
 */
#ifndef DMARCSIFT_CORE_TSV_H
#define DMARCSIFT_CORE_TSV_H

#include <stdbool.h>
#include <stddef.h>

/* Splits LINE in place (tabs become NULs) into at most MAX columns stored in
 * COL. Returns the number of columns, or MAX + 1 when the line holds more
 * than MAX (the last column stored then still contains the rest). */
int tsv_split(char *line, char **col, int max);

/* The next line of TEXT[0..LEN) from *OFF, for the readers of line-based
 * tables (rules, providers, services, host maps): *LINE points at it (not
 * NUL-terminated), *N is its length without the newline and a trailing CR,
 * and *OFF moves past its newline. False at the end of the text. */
bool tsv_next_line(const char *text, size_t len, size_t *off, const char **line, size_t *n);

#endif
