/*
 * writers: a report (report.h) in each output format.
 *
 *   text  tables that fit 80 columns, long cells printed under their row
 *   csv   one table, RFC 4180, a header of column keys, canonical values
 *   json  one document; the shape is documented in docs/report-json.md
 *   html  one self-contained page: inline CSS, inline SVG charts, no script,
 *         nothing fetched (a CSP meta tag forbids it), phone-width and
 *         print styles
 *
 * Each returns 0, or -1 when writing to `out` failed (ferror).
 */
#ifndef DS_REPORTS_WRITERS_H
#define DS_REPORTS_WRITERS_H

#include "reports/report.h"

#include <stdio.h>

enum report_format { REPORT_FMT_TEXT, REPORT_FMT_CSV, REPORT_FMT_JSON, REPORT_FMT_HTML };

/* "text" | "csv" | "json" | "html"; -1 for anything else. */
int report_format_parse(const char *s, enum report_format *out);
const char *report_format_ext(enum report_format f);

int report_write_text(FILE *out, const struct report *r);
int report_write_csv(FILE *out, const struct report_table *t);
int report_write_json(FILE *out, const struct report *r);
int report_write_html(FILE *out, const struct report *r);

#endif
