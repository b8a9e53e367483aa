/*
 * format: a cell's canonical text (see report.h) as people read it —
 * 3,732,049 for integers, 99.6 % for rates, +1.2 pt for rate changes,
 * "2023-11-29 00:00" for times, yes/no for booleans — shared by the text
 * and HTML writers. Also the width of UTF-8 text in terminal columns and
 * the removal of control characters (reporter names and reply texts come
 * from strangers and must not drive a terminal).
 */
#ifndef DS_REPORTS_FORMAT_H
#define DS_REPORTS_FORMAT_H

#include "core/buf.h"
#include "reports/report.h"

#include <stdbool.h>
#include <stddef.h>

/* Appends the people's form of `raw` (NULL: "-") to `out`. */
void report_fmt(struct buf *out, enum report_type type, const char *raw);
/* Numeric types are right-aligned. */
bool report_type_numeric(enum report_type type);
/* Display columns of UTF-8 text (code points; invalid bytes count one). */
size_t report_text_width(const char *s);
/* Copies s replacing control characters (C0, DEL, C1 in UTF-8) with spaces
 * and invalid UTF-8 bytes with '?'. Caller frees. */
char *report_text_clean(const char *s);
/* Byte length of the longest prefix of s that fits `cols` columns. */
size_t report_text_prefix(const char *s, size_t cols);
/* Rate text "0.9963" as a double; false when missing or not a number. */
bool report_rate_value(const char *raw, double *out);

#endif
