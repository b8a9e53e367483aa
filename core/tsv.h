/*
 * tsv.h: splitting one line of our data tables (data/NAME.tsv) into columns.
 * Columns are separated by tabs; a run of tabs is one separator, so the
 * tables can be aligned by eye.
 */
#ifndef DMARCSIFT_CORE_TSV_H
#define DMARCSIFT_CORE_TSV_H

/* Splits LINE in place (tabs become NULs) into at most MAX columns stored in
 * COL. Returns the number of columns, or MAX + 1 when the line holds more
 * than MAX (the last column stored then still contains the rest). */
int tsv_split(char *line, char **col, int max);

#endif
