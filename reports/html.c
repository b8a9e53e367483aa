/*
 * The HTML writer: one self-contained page. Inline CSS and inline SVG only;
 * no script, no font, image or style from anywhere — the Content Security
 * Policy in the page forbids every fetch, so a mail client or a browser
 * shows it offline and a hostile value in the data cannot load anything.
 * Every value is escaped. Readable at phone width (tables scroll inside
 * their box), and printable: "print to PDF" gives the monthly report.
 */
#include "core/buf.h"
#include "reports/format.h"
#include "reports/html_chart.h"
#include "reports/writers.h"

#include <stdlib.h>
#include <string.h>

static const char css[] =
    ":root{--fg:#1b1f23;--mute:#5f6b76;--line:#d8dee4;--bad:#c62828;--warn:#ef6c00;"
    "--good:#2e7d32;--bg:#fff;--head:#f4f6f8}"
    "*{box-sizing:border-box}"
    "body{margin:0;padding:16px;font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,"
    "'Helvetica Neue',Arial,sans-serif;color:var(--fg);background:var(--bg)}"
    "main{max-width:1040px;margin:0 auto}"
    "h1{font-size:1.5rem;margin:0 0 4px}h2{font-size:1.15rem;margin:28px 0 6px;"
    "padding-bottom:4px;border-bottom:2px solid var(--line)}"
    ".meta{color:var(--mute);margin:0 0 12px}"
    ".notes{background:#fff8e1;border-left:4px solid var(--warn);padding:8px 12px 8px 28px;"
    "margin:12px 0}"
    ".notes li{margin:2px 0}"
    ".note{color:var(--mute);margin:4px 0 8px}"
    ".na{color:var(--mute);font-style:italic}"
    ".scroll{overflow-x:auto;-webkit-overflow-scrolling:touch}"
    "table{border-collapse:collapse;width:100%;font-size:.9rem}"
    "th,td{padding:4px 8px;border-bottom:1px solid var(--line);text-align:left;"
    "vertical-align:top}"
    "th{background:var(--head);font-weight:600;white-space:nowrap}"
    "td.n,th.n{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}"
    "td.bad{color:var(--bad);font-weight:600}td.warn{color:var(--warn)}"
    "td.good{color:var(--good)}"
    "tr.alert td{background:#fdecea}"
    "tr.detail td{border-bottom:1px solid var(--line);color:var(--mute);font-size:.85rem;"
    "padding-top:0}"
    "tr.has-detail td{border-bottom:0}"
    "dl.facts{display:grid;grid-template-columns:repeat(auto-fill,minmax(180px,1fr));gap:8px;"
    "margin:8px 0}"
    "dl.facts div{border:1px solid var(--line);border-radius:6px;padding:8px}"
    "dl.facts dt{color:var(--mute);font-size:.8rem}dl.facts dd{margin:0;font-size:1.1rem;"
    "font-weight:600;overflow-wrap:anywhere}"
    "figure.chart{margin:12px 0}figure.chart figcaption{font-weight:600;margin-bottom:4px}"
    "figure.chart svg{width:100%;height:auto;display:block}"
    "svg .grid{stroke:#e3e7eb;stroke-width:1}svg .ax,svg .lb{font-size:11px;fill:#5f6b76}"
    ".legend{font-size:.85rem;color:var(--mute);margin:4px 0}"
    ".legend i{display:inline-block;width:10px;height:10px;margin-right:4px;"
    "vertical-align:middle}"
    "footer{margin-top:32px;color:var(--mute);font-size:.8rem}"
    "@media (max-width:600px){body{padding:8px;font-size:14px}th,td{padding:3px 5px}"
    "h1{font-size:1.25rem}}"
    "@media print{body{padding:0;font-size:10pt}main{max-width:none}.scroll{overflow:visible}"
    "section{break-inside:avoid-page}h2{break-after:avoid}tr{break-inside:avoid}"
    "figure.chart{break-inside:avoid}.notes{border-left-color:#999}"
    "tr.alert td{background:none;font-weight:600}@page{margin:14mm}}";

static void esc(struct buf *b, const char *s)
{
	html_escape(b, s ? s : "");
}

static bool visible(const struct report_col *c)
{
	return !(c->flags & (REPORT_COL_DETAIL | REPORT_COL_HIDDEN));
}

static const char *rate_class(const char *raw)
{
	double v;
	if (!report_rate_value(raw, &v))
		return "";
	return v < 0.9 ? " bad" : v < 0.98 ? " warn" : " good";
}

static void cell_text(struct buf *b, const struct report_table *t, size_t r, size_t c)
{
	struct buf v;
	buf_init(&v, 0);
	report_fmt(&v, t->cols[c].type, report_cell(t, r, c));
	char *clean = report_text_clean(v.data ? v.data : "");
	esc(b, clean);
	free(clean);
	buf_free(&v);
}

static bool row_alert(const struct report_table *t, size_t r)
{
	for (size_t c = 0; c < t->ncols; c++) {
		if (!(t->cols[c].flags & REPORT_COL_ALERT))
			continue;
		const char *v = report_cell(t, r, c);
		if (v && *v && strcmp(v, "false") != 0 && strcmp(v, "f") != 0 &&
		    strcmp(v, "0") != 0)
			return true;
	}
	return false;
}

static void table_vertical(struct buf *b, const struct report_table *t)
{
	for (size_t r = 0; r < t->nrows; r++) {
		buf_puts(b, "<dl class=\"facts\">");
		for (size_t c = 0; c < t->ncols; c++) {
			if (t->cols[c].flags & REPORT_COL_HIDDEN)
				continue;
			buf_puts(b, "<div><dt>");
			esc(b, t->cols[c].label);
			buf_puts(b, "</dt><dd>");
			cell_text(b, t, r, c);
			buf_puts(b, "</dd></div>");
		}
		buf_puts(b, "</dl>");
	}
}

static void table_rows(struct buf *b, const struct report_table *t)
{
	size_t nvis = 0;
	buf_printf(b, "<div class=\"scroll\"><table data-table=\"%s\"><thead><tr>", t->key);
	for (size_t c = 0; c < t->ncols; c++) {
		if (!visible(&t->cols[c]))
			continue;
		nvis++;
		buf_printf(b, "<th%s>", report_type_numeric(t->cols[c].type) ? " class=\"n\"" : "");
		esc(b, t->cols[c].label);
		buf_puts(b, "</th>");
	}
	buf_puts(b, "</tr></thead><tbody>");
	for (size_t r = 0; r < t->nrows; r++) {
		bool detail = false;
		for (size_t c = 0; c < t->ncols; c++)
			if ((t->cols[c].flags & REPORT_COL_DETAIL) &&
			    !(t->cols[c].flags & REPORT_COL_HIDDEN) && report_cell(t, r, c))
				detail = true;
		bool alert = row_alert(t, r);
		if (alert || detail)
			buf_printf(b, "<tr class=\"%s%s%s\">", alert ? "alert" : "",
			           alert && detail ? " " : "", detail ? "has-detail" : "");
		else
			buf_puts(b, "<tr>");
		for (size_t c = 0; c < t->ncols; c++) {
			if (!visible(&t->cols[c]))
				continue;
			enum report_type ty = t->cols[c].type;
			const char *raw = report_cell(t, r, c);
			buf_printf(b, "<td class=\"%s%s\">", report_type_numeric(ty) ? "n" : "t",
			           ty == REPORT_RATE ? rate_class(raw) : "");
			cell_text(b, t, r, c);
			buf_puts(b, "</td>");
		}
		buf_puts(b, "</tr>");
		if (!detail)
			continue;
		buf_printf(b, "<tr class=\"detail%s\"><td colspan=\"%zu\">", alert ? " alert" : "",
		           nvis ? nvis : 1);
		bool first = true;
		for (size_t c = 0; c < t->ncols; c++) {
			if (!(t->cols[c].flags & REPORT_COL_DETAIL) ||
			    (t->cols[c].flags & REPORT_COL_HIDDEN) || !report_cell(t, r, c))
				continue;
			if (!first)
				buf_puts(b, "<br>");
			first = false;
			buf_puts(b, "<b>");
			esc(b, t->cols[c].label);
			buf_puts(b, ":</b> ");
			cell_text(b, t, r, c);
		}
		buf_puts(b, "</td></tr>");
	}
	buf_puts(b, "</tbody></table></div>");
}

int report_write_html(FILE *out, const struct report *r)
{
	struct buf b;
	buf_init(&b, 0);
	buf_puts(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
	             "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
	             "style-src 'unsafe-inline'; img-src data:\">\n"
	             "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	             "<meta name=\"generator\" content=\"dmarcsift\">\n<title>");
	esc(&b, r->title);
	buf_printf(&b, "</title>\n<style>%s</style>\n</head>\n<body><main>\n<header><h1>", css);
	esc(&b, r->title);
	buf_puts(&b, "</h1><p class=\"meta\">");
	if (r->since && r->until) {
		buf_puts(&b, "Period ");
		esc(&b, r->since);
		buf_puts(&b, " to ");
		esc(&b, r->until);
		buf_puts(&b, " (UTC)");
	}
	if (r->generated_at) {
		buf_puts(&b, " · generated ");
		esc(&b, r->generated_at);
	}
	buf_puts(&b, "</p></header>\n");
	if (r->nnotes) {
		buf_puts(&b, "<ul class=\"notes\">");
		for (size_t i = 0; i < r->nnotes; i++) {
			buf_puts(&b, "<li>");
			esc(&b, r->notes[i]);
			buf_puts(&b, "</li>");
		}
		buf_puts(&b, "</ul>\n");
	}
	for (size_t i = 0; i < r->ntables; i++) {
		const struct report_table *t = r->tables[i];
		buf_printf(&b, "<section id=\"%s\"><h2>", t->key);
		esc(&b, t->title);
		buf_puts(&b, "</h2>");
		if (t->unavailable) {
			buf_puts(&b, "<p class=\"na\">Not available: ");
			esc(&b, t->unavailable);
			buf_puts(&b, "</p></section>\n");
			continue;
		}
		if (t->note) {
			buf_puts(&b, "<p class=\"note\">");
			esc(&b, t->note);
			buf_puts(&b, "</p>");
		}
		for (size_t k = 0; k < r->ncharts; k++)
			if (strcmp(r->charts[k].table, t->key) == 0)
				html_chart(&b, r, &r->charts[k]);
		if (t->nrows == 0) {
			buf_puts(&b, "<p class=\"na\">");
			esc(&b, t->empty ? t->empty : "Nothing in this period.");
			buf_puts(&b, "</p>");
		} else if (t->vertical) {
			table_vertical(&b, t);
		} else {
			table_rows(&b, t);
		}
		buf_puts(&b, "</section>\n");
	}
	buf_puts(&b, "<footer>dmarcsift report");
	if (r->generated_at) {
		buf_puts(&b, ", generated ");
		esc(&b, r->generated_at);
	}
	buf_puts(&b, ".</footer>\n</main></body></html>\n");
	fwrite(b.data, 1, b.len, out);
	buf_free(&b);
	return ferror(out) ? -1 : 0;
}
