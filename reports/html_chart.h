/*
 * html_chart: the inline SVG charts of the HTML writer. Pure drawing: no
 * script, no external reference. Each chart is an <svg> with
 * data-chart="KEY"; a line chart draws one <circle class="pt"> per row that
 * has a value, a stacked chart one <g class="bar"> per row, a bar chart one
 * <g class="bar"> per row — the HTML test counts them.
 */
#ifndef DS_REPORTS_HTML_CHART_H
#define DS_REPORTS_HTML_CHART_H

#include "core/buf.h"
#include "reports/report.h"

/* Appends the chart (a <figure>) to `out`; a chart whose table or columns
 * are missing draws nothing. */
void html_chart(struct buf *out, const struct report *r, const struct report_chart *c);
/* HTML-escapes s into out. */
void html_escape(struct buf *out, const char *s);

#endif
