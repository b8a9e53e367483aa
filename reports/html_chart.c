#include "reports/html_chart.h"

#include "reports/format.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CW   640.0 /* viewBox width */
#define CH   220.0 /* viewBox height */
#define PADL 44.0
#define PADR 12.0
#define PADT 12.0
#define PADB 28.0

static const char *const palette[] = {"#2e7d32", "#81c784", "#ffb74d",
                                      "#c62828", "#1565c0", "#6a1b9a"};

void html_escape(struct buf *out, const char *s)
{
	for (const char *p = s; *p; p++) {
		switch (*p) {
		case '&':
			buf_puts(out, "&amp;");
			break;
		case '<':
			buf_puts(out, "&lt;");
			break;
		case '>':
			buf_puts(out, "&gt;");
			break;
		case '"':
			buf_puts(out, "&quot;");
			break;
		case '\'':
			buf_puts(out, "&#39;");
			break;
		default:
			buf_putc(out, *p);
		}
	}
}

static double num(const struct report_table *t, size_t row, int col, bool *ok)
{
	double v = 0;
	*ok = col >= 0 && report_rate_value(report_cell(t, row, (size_t)col), &v);
	return *ok ? v : 0;
}

static void open_fig(struct buf *out, const struct report_chart *c, const char *cls, double h,
                     size_t n)
{
	buf_puts(out, "<figure class=\"chart\"><figcaption>");
	html_escape(out, c->title);
	buf_printf(out,
	           "</figcaption><svg class=\"%s\" data-chart=\"%s\" data-n=\"%zu\" "
	           "viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"",
	           cls, c->key, n, CW, h);
	html_escape(out, c->title);
	buf_puts(out, "\" xmlns=\"http://www.w3.org/2000/svg\">");
}

static void x_labels(struct buf *out, const struct report_table *t, int lc, double x0, double step)
{
	if (lc < 0 || t->nrows == 0)
		return;
	size_t idx[3] = {0, t->nrows / 2, t->nrows - 1};
	size_t last = (size_t)-1;
	for (int i = 0; i < 3; i++) {
		if (idx[i] == last)
			continue;
		last = idx[i];
		const char *lab = report_cell(t, idx[i], (size_t)lc);
		const char *anchor = i == 0 ? "start" : i == 2 ? "end" : "middle";
		double x = x0 + step * (double)idx[i] + (i == 0 ? 0 : i == 2 ? step : step / 2);
		if (i == 0)
			x = x0;
		buf_printf(out, "<text class=\"ax\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\">", x,
		           CH - 8, anchor);
		html_escape(out, lab ? lab : "");
		buf_puts(out, "</text>");
	}
}

/* 1250000 -> "1.25M": axis labels must fit the margin. */
static void axis_number(struct buf *out, double x, double y, double v)
{
	const char *unit = "";
	if (v >= 1e6) {
		v /= 1e6;
		unit = "M";
	} else if (v >= 1e3) {
		v /= 1e3;
		unit = "k";
	}
	buf_printf(out,
	           "<text class=\"ax\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.3g%s</text>", x,
	           y, v, unit);
}

static void y_axis(struct buf *out, double max, bool rate)
{
	for (int i = 0; i <= 4; i++) {
		double f = i / 4.0;
		double y = CH - PADB - f * (CH - PADT - PADB);
		buf_printf(out,
		           "<line class=\"grid\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>",
		           PADL, CW - PADR, y, y);
		if (rate)
			buf_printf(out,
			           "<text class=\"ax\" x=\"%.1f\" y=\"%.1f\" "
			           "text-anchor=\"end\">%.0f%%</text>",
			           PADL - 4, y + 4, f * 100);
		else
			axis_number(out, PADL - 4, y + 4, f * max);
	}
}

static void line_chart(struct buf *out, const struct report_table *t, const struct report_chart *c)
{
	int lc = report_col_index(t, c->label_col);
	size_t n = t->nrows, points = 0;
	double step = n ? (CW - PADL - PADR) / (double)n : 0;
	double plot_h = CH - PADT - PADB;
	bool ok;

	for (size_t s = 0; s < c->nseries; s++) {
		int vc = report_col_index(t, c->series[s]);
		for (size_t i = 0; i < n; i++) {
			num(t, i, vc, &ok);
			points += ok;
		}
	}
	open_fig(out, c, "line", CH, points);
	y_axis(out, 1, true);
	for (size_t s = 0; s < c->nseries; s++) {
		int vc = report_col_index(t, c->series[s]);
		const char *colour = palette[s % 6 == 0 ? 4 : s % 6];
		/* One polyline per run of consecutive days with data. */
		bool open = false;
		for (size_t i = 0; i < n; i++) {
			double v = num(t, i, vc, &ok);
			if (v < 0)
				v = 0;
			if (v > 1)
				v = 1;
			double x = PADL + step * ((double)i + 0.5), y = CH - PADB - v * plot_h;
			if (ok && !open) {
				buf_printf(out,
				           "<polyline class=\"ln\" fill=\"none\" stroke=\"%s\" "
				           "stroke-width=\"2\" points=\"",
				           colour);
				open = true;
			} else if (!ok && open) {
				buf_puts(out, "\"/>");
				open = false;
			}
			if (ok)
				buf_printf(out, "%.1f,%.1f ", x, y);
		}
		if (open)
			buf_puts(out, "\"/>");
		for (size_t i = 0; i < n; i++) {
			double v = num(t, i, vc, &ok);
			if (!ok)
				continue;
			double cv = v < 0 ? 0 : v > 1 ? 1 : v;
			double x = PADL + step * ((double)i + 0.5), y = CH - PADB - cv * plot_h;
			buf_printf(
			    out,
			    "<circle class=\"pt\" cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\">", x,
			    y, colour);
			buf_puts(out, "<title>");
			const char *lab = lc >= 0 ? report_cell(t, i, (size_t)lc) : NULL;
			html_escape(out, lab ? lab : "");
			buf_puts(out, ": ");
			html_escape(out, c->series_label[s]);
			buf_printf(out, " %.1f%%</title></circle>", v * 100);
		}
	}
	x_labels(out, t, lc, PADL, step);
	buf_puts(out, "</svg>");
	if (c->nseries > 1) {
		buf_puts(out, "<p class=\"legend\">");
		for (size_t s = 0; s < c->nseries; s++) {
			buf_printf(out, "<span><i style=\"background:%s\"></i>",
			           palette[s % 6 == 0 ? 4 : s % 6]);
			html_escape(out, c->series_label[s]);
			buf_puts(out, "</span> ");
		}
		buf_puts(out, "</p>");
	}
	buf_puts(out, "</figure>");
}

static void stacked_chart(struct buf *out, const struct report_table *t,
                          const struct report_chart *c)
{
	int lc = report_col_index(t, c->label_col);
	size_t n = t->nrows;
	double max = 0, step = n ? (CW - PADL - PADR) / (double)n : 0;
	double plot_h = CH - PADT - PADB;
	bool ok;

	for (size_t i = 0; i < n; i++) {
		double sum = 0;
		for (size_t s = 0; s < c->nseries; s++)
			sum += num(t, i, report_col_index(t, c->series[s]), &ok);
		if (sum > max)
			max = sum;
	}
	/* A round axis maximum: 1, 2 or 5 times a power of ten. */
	double top = 1;
	while (top < max) {
		if (top * 2 >= max) {
			top *= 2;
			break;
		}
		if (top * 5 >= max) {
			top *= 5;
			break;
		}
		top *= 10;
	}
	open_fig(out, c, "stacked", CH, n);
	y_axis(out, top, false);
	double bw = step * 0.8;
	if (bw < 1)
		bw = step;
	for (size_t i = 0; i < n; i++) {
		double x = PADL + step * (double)i + (step - bw) / 2, y = CH - PADB;
		buf_puts(out, "<g class=\"bar\">");
		buf_puts(out, "<title>");
		const char *lab = lc >= 0 ? report_cell(t, i, (size_t)lc) : NULL;
		html_escape(out, lab ? lab : "");
		for (size_t s = 0; s < c->nseries; s++) {
			const char *raw =
			    report_cell(t, i, (size_t)report_col_index(t, c->series[s]));
			buf_puts(out, s ? ", " : ": ");
			html_escape(out, c->series_label[s]);
			buf_putc(out, ' ');
			report_fmt(out, REPORT_INT, raw ? raw : "0");
		}
		buf_puts(out, "</title>");
		for (size_t s = 0; s < c->nseries; s++) {
			double v = num(t, i, report_col_index(t, c->series[s]), &ok);
			if (!ok || v <= 0)
				continue;
			double h = v / top * plot_h;
			y -= h;
			buf_printf(out,
			           "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
			           "fill=\"%s\"/>",
			           x, y, bw, h, palette[s % 6]);
		}
		buf_puts(out, "</g>");
	}
	x_labels(out, t, lc, PADL, step);
	buf_puts(out, "</svg><p class=\"legend\">");
	for (size_t s = 0; s < c->nseries; s++) {
		buf_printf(out, "<span><i style=\"background:%s\"></i>", palette[s % 6]);
		html_escape(out, c->series_label[s]);
		buf_puts(out, "</span> ");
	}
	buf_puts(out, "</p></figure>");
}

static void bars_chart(struct buf *out, const struct report_table *t, const struct report_chart *c)
{
	int lc = report_col_index(t, c->label_col);
	int vc = c->nseries ? report_col_index(t, c->series[0]) : -1;
	size_t n = t->nrows;
	double rowh = 22, h = PADT + rowh * (double)n + 8, lw = 180, bwmax = CW - lw - 70;
	bool ok;

	open_fig(out, c, "bars", h, n);
	for (size_t i = 0; i < n; i++) {
		double v = num(t, i, vc, &ok);
		double cv = v < 0 ? 0 : v > 1 ? 1 : v;
		double y = PADT + rowh * (double)i;
		const char *lab = lc >= 0 ? report_cell(t, i, (size_t)lc) : NULL;
		const char *colour = !ok        ? "#9e9e9e"
		                     : v < 0.9  ? "#c62828"
		                     : v < 0.98 ? "#ef6c00"
		                                : "#2e7d32";
		buf_puts(out, "<g class=\"bar\"><title>");
		html_escape(out, lab ? lab : "");
		buf_puts(out, "</title>");
		buf_printf(out, "<text class=\"lb\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">",
		           lw - 6, y + 15);
		/* Long names are cut so the bar keeps its room. */
		char *clean = report_text_clean(lab ? lab : "");
		size_t k = report_text_prefix(clean, 24);
		char save = clean[k];
		clean[k] = '\0';
		html_escape(out, clean);
		if (save)
			buf_puts(out, "…");
		free(clean);
		buf_puts(out, "</text>");
		buf_printf(
		    out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>",
		    lw, y + 3, ok ? cv * bwmax : 0, rowh - 6, colour);
		buf_printf(out, "<text class=\"lb\" x=\"%.1f\" y=\"%.1f\">",
		           lw + (ok ? cv * bwmax : 0) + 6, y + 15);
		if (ok)
			buf_printf(out, "%.1f%%", v * 100);
		else
			buf_puts(out, "no data");
		buf_puts(out, "</text></g>");
	}
	buf_puts(out, "</svg></figure>");
}

void html_chart(struct buf *out, const struct report *r, const struct report_chart *c)
{
	const struct report_table *t = report_table_find(r, c->table);
	if (!t || t->unavailable || t->nrows == 0)
		return;
	switch (c->kind) {
	case REPORT_CHART_LINE:
		line_chart(out, t, c);
		break;
	case REPORT_CHART_STACKED:
		stacked_chart(out, t, c);
		break;
	case REPORT_CHART_BARS:
		bars_chart(out, t, c);
		break;
	}
}
