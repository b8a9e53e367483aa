/*
 * The text writer: a report for the terminal and for the plain part of a
 * mail, every line at most 80 columns.
 */
#include "core/buf.h"
#include "core/xalloc.h"
#include "reports/format.h"
#include "reports/writers.h"

#include <stdlib.h>
#include <string.h>

#define WIDTH 80
#define GAP   2

int report_format_parse(const char *s, enum report_format *out)
{
	static const char *const names[] = {"text", "csv", "json", "html"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = (enum report_format)i;
			return 0;
		}
	}
	return -1;
}

const char *report_format_ext(enum report_format f)
{
	static const char *const ext[] = {"txt", "csv", "json", "html"};
	return ext[f];
}

/* A cell as people read it, cleaned of control characters. */
static char *shown(const struct report_table *t, size_t row, size_t col)
{
	struct buf b;
	buf_init(&b, 0);
	report_fmt(&b, t->cols[col].type, report_cell(t, row, col));
	char *s = report_text_clean(b.data ? b.data : "");
	buf_free(&b);
	return s;
}

static void put_fit(FILE *out, const char *s, size_t width, bool right)
{
	size_t w = report_text_width(s);
	if (w > width) {
		/* Cut at a character and mark the cut. */
		size_t n = width > 0 ? report_text_prefix(s, width - 1) : 0;
		fwrite(s, 1, n, out);
		if (width > 0)
			fputs("~", out);
		return;
	}
	if (right)
		fprintf(out, "%*s", (int)(width - w), "");
	fputs(s, out);
	if (!right)
		fprintf(out, "%*s", (int)(width - w), "");
}

/* Words of s wrapped at WIDTH, each line starting with `indent`. */
static void put_wrapped(FILE *out, const char *indent, const char *s)
{
	size_t ind = strlen(indent), col = 0;
	const char *p = s;
	while (*p) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		size_t n = strcspn(p, " ");
		char *word = xstrndup(p, n);
		size_t w = report_text_width(word);
		if (col > 0 && col + 1 + w > WIDTH) {
			fputc('\n', out);
			col = 0;
		}
		if (col == 0) {
			fputs(indent, out);
			col = ind;
		} else {
			fputc(' ', out);
			col++;
		}
		if (col + w > WIDTH) {
			/* A word longer than the line: cut it into pieces. */
			const char *q = word;
			while (*q) {
				size_t room = WIDTH - col, k = report_text_prefix(q, room);
				fwrite(q, 1, k, out);
				q += k;
				if (*q) {
					fprintf(out, "\n%s", indent);
					col = ind;
				} else {
					col += report_text_width(q - k);
				}
			}
		} else {
			fputs(word, out);
			col += w;
		}
		free(word);
		p += n;
	}
	if (col > 0)
		fputc('\n', out);
}

static void put_title(FILE *out, const char *title, char underline)
{
	char *t = report_text_clean(title);
	size_t n = report_text_prefix(t, WIDTH);
	fprintf(out, "%.*s\n", (int)n, t);
	size_t w = report_text_width(t);
	for (size_t i = 0; i < w && i < WIDTH; i++)
		fputc(underline, out);
	fputc('\n', out);
	free(t);
}

static bool visible(const struct report_col *c)
{
	return !(c->flags & (REPORT_COL_DETAIL | REPORT_COL_HIDDEN));
}

static void write_vertical(FILE *out, const struct report_table *t)
{
	size_t lw = 0;
	for (size_t c = 0; c < t->ncols; c++)
		if (!(t->cols[c].flags & REPORT_COL_HIDDEN) && strlen(t->cols[c].label) > lw)
			lw = strlen(t->cols[c].label);
	if (lw > 30)
		lw = 30;
	for (size_t r = 0; r < t->nrows; r++) {
		if (r > 0)
			fputc('\n', out);
		for (size_t c = 0; c < t->ncols; c++) {
			if (t->cols[c].flags & REPORT_COL_HIDDEN)
				continue;
			char *v = shown(t, r, c);
			char *indent = xasprintf("  %-*.*s  ", (int)lw, (int)lw, t->cols[c].label);
			/* The value continues under itself when it wraps. */
			fputs(indent, out);
			size_t room = WIDTH - strlen(indent);
			if (report_text_width(v) <= room) {
				fprintf(out, "%s\n", v);
			} else {
				char *pad = xasprintf("%*s", (int)strlen(indent), "");
				fputc('\n', out);
				put_wrapped(out, pad, v);
				free(pad);
			}
			free(indent);
			free(v);
		}
	}
}

static void write_rows(FILE *out, const struct report_table *t)
{
	size_t n = t->ncols;
	size_t *w = xcalloc(n ? n : 1, sizeof *w);
	size_t total = 0, nvis = 0;

	for (size_t c = 0; c < n; c++) {
		if (!visible(&t->cols[c]))
			continue;
		w[c] = report_text_width(t->cols[c].label);
		for (size_t r = 0; r < t->nrows; r++) {
			char *v = shown(t, r, c);
			size_t vw = report_text_width(v);
			if (vw > w[c])
				w[c] = vw;
			free(v);
		}
		total += w[c];
		nvis++;
	}
	if (nvis > 1)
		total += GAP * (nvis - 1);
	/* Too wide: narrow the widest text column first, then anything. */
	while (total > WIDTH) {
		size_t best = n;
		for (int pass = 0; pass < 2 && best == n; pass++) {
			for (size_t c = 0; c < n; c++) {
				if (!visible(&t->cols[c]))
					continue;
				bool text = !report_type_numeric(t->cols[c].type);
				size_t floor = pass == 0 ? 10 : 3;
				if ((pass == 0 && !text) || w[c] <= floor)
					continue;
				if (best == n || w[c] > w[best])
					best = c;
			}
		}
		if (best == n)
			break;
		w[best]--;
		total--;
	}
	bool first = true;
	size_t lastvis = 0;
	for (size_t c = 0; c < n; c++)
		if (visible(&t->cols[c]))
			lastvis = c;
	for (size_t c = 0; c < n; c++) {
		if (!visible(&t->cols[c]))
			continue;
		if (!first)
			fprintf(out, "%*s", GAP, "");
		first = false;
		bool right = report_type_numeric(t->cols[c].type);
		if (c == lastvis && !right && report_text_width(t->cols[c].label) <= w[c])
			fputs(t->cols[c].label, out); /* no trailing blanks */
		else
			put_fit(out, t->cols[c].label, w[c], right);
	}
	fputc('\n', out);
	for (size_t r = 0; r < t->nrows; r++) {
		first = true;
		for (size_t c = 0; c < n; c++) {
			if (!visible(&t->cols[c]))
				continue;
			if (!first)
				fprintf(out, "%*s", GAP, "");
			first = false;
			char *v = shown(t, r, c);
			bool last = true;
			for (size_t d = c + 1; d < n; d++)
				if (visible(&t->cols[d]))
					last = false;
			if (last && !report_type_numeric(t->cols[c].type) &&
			    report_text_width(v) <= w[c])
				fputs(v, out); /* no trailing blanks */
			else
				put_fit(out, v, w[c], report_type_numeric(t->cols[c].type));
			free(v);
		}
		fputc('\n', out);
		for (size_t c = 0; c < n; c++) {
			if (!(t->cols[c].flags & REPORT_COL_DETAIL) ||
			    (t->cols[c].flags & REPORT_COL_HIDDEN) || !report_cell(t, r, c))
				continue;
			char *v = shown(t, r, c);
			char *line = xasprintf("%s: %s", t->cols[c].label, v);
			put_wrapped(out, "    ", line);
			free(line);
			free(v);
		}
	}
	free(w);
}

int report_write_text(FILE *out, const struct report *r)
{
	put_title(out, r->title, '=');
	if (r->since && r->until)
		fprintf(out, "Period %s to %s (UTC)\n", r->since, r->until);
	if (r->generated_at)
		fprintf(out, "Generated %s\n", r->generated_at);
	if (r->nnotes)
		fputc('\n', out);
	for (size_t i = 0; i < r->nnotes; i++) {
		char *s = report_text_clean(r->notes[i]);
		put_wrapped(out, "* ", s);
		free(s);
	}
	for (size_t i = 0; i < r->ntables; i++) {
		const struct report_table *t = r->tables[i];
		fputc('\n', out);
		put_title(out, t->title, '-');
		if (t->unavailable) {
			char *s = report_text_clean(t->unavailable);
			char *line = xasprintf("Not available: %s", s);
			put_wrapped(out, "", line);
			free(line);
			free(s);
			continue;
		}
		if (t->note) {
			char *s = report_text_clean(t->note);
			put_wrapped(out, "", s);
			free(s);
		}
		if (t->nrows == 0) {
			put_wrapped(out, "", t->empty ? t->empty : "Nothing in this period.");
			continue;
		}
		if (t->vertical)
			write_vertical(out, t);
		else
			write_rows(out, t);
	}
	return ferror(out) ? -1 : 0;
}
