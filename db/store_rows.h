/*
 * store_rows: a record's parts as the store writes them, and COPY lines as
 * array parameters (internal to db/).
 */
#ifndef DS_DB_STORE_ROWS_H
#define DS_DB_STORE_ROWS_H

#include "core/buf.h"
#include "core/model.h"

/* The record's reasons, DKIM and SPF results as JSON arrays, appended as
 * COPY text fields ("[]" when there are none). */
int store_put_reasons(struct buf *b, const struct aggr_record *rec);
int store_put_dkim(struct buf *b, const struct aggr_record *rec);
int store_put_spf(struct buf *b, const struct aggr_record *rec);

/* COPY text lines of `ncols` fields as one array literal per column, in
 * out[0..ncols-1] (appended to): {"0","1",...}. \N becomes NULL, the COPY
 * escapes are undone and the array's own (\" and \\) applied. A column
 * each, not one two-dimensional array: the server takes a column array
 * apart in one pass (unnest), while subscripting a[i][k] walks the array
 * from its start each time. -1 when a line has more or fewer fields, or
 * the arrays overflow. */
int store_lines_to_arrays(const struct buf *rows, struct buf *out, int ncols);

#endif
