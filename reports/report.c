#include "reports/report.h"

#include "core/xalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

struct report *report_new(enum report_kind kind, const char *title, const char *tenant,
                          const char *since, const char *until, const char *generated_at)
{
	struct report *r = xcalloc(1, sizeof *r);
	r->kind = kind;
	r->title = xstrdup(title);
	r->tenant = dup_or_null(tenant);
	r->since = dup_or_null(since);
	r->until = dup_or_null(until);
	r->generated_at = dup_or_null(generated_at);
	return r;
}

static void table_free(struct report_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	for (size_t i = 0; i < t->ncols; i++) {
		free(t->cols[i].key);
		free(t->cols[i].label);
	}
	free(t->cols);
	free(t->key);
	free(t->title);
	free(t->note);
	free(t->empty);
	free(t->unavailable);
	free(t);
}

void report_free(struct report *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->ntables; i++)
		table_free(r->tables[i]);
	free(r->tables);
	for (size_t i = 0; i < r->nnotes; i++)
		free(r->notes[i]);
	free(r->notes);
	for (size_t i = 0; i < r->ncharts; i++) {
		struct report_chart *c = &r->charts[i];
		free(c->key);
		free(c->title);
		free(c->table);
		free(c->label_col);
		for (size_t j = 0; j < c->nseries; j++) {
			free(c->series[j]);
			free(c->series_label[j]);
		}
	}
	free(r->charts);
	free(r->title);
	free(r->tenant);
	free(r->since);
	free(r->until);
	free(r->generated_at);
	free(r);
}

__attribute__((format(printf, 1, 0))) static char *vfmt(const char *fmt, va_list ap)
{
	va_list cp;
	va_copy(cp, ap);
	int n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		n = 0;
	char *s = xmalloc((size_t)n + 1);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	return s;
}

void report_note(struct report *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = vfmt(fmt, ap);
	va_end(ap);
	r->notes = xrealloc(r->notes, (r->nnotes + 1) * sizeof *r->notes);
	r->notes[r->nnotes++] = s;
}

struct report_table *report_table_add(struct report *r, const char *key, const char *title,
                                      const struct report_col_spec *cols, size_t ncols)
{
	struct report_table *t = xcalloc(1, sizeof *t);
	t->key = xstrdup(key);
	t->title = xstrdup(title);
	t->ncols = ncols;
	t->cols = xcalloc(ncols ? ncols : 1, sizeof *t->cols);
	for (size_t i = 0; i < ncols; i++) {
		t->cols[i].key = xstrdup(cols[i].key);
		t->cols[i].label = xstrdup(cols[i].label);
		t->cols[i].type = cols[i].type;
		t->cols[i].flags = cols[i].flags;
	}
	r->tables = xrealloc(r->tables, (r->ntables + 1) * sizeof(struct report_table *));
	r->tables[r->ntables++] = t;
	return t;
}

struct report_table *report_table_find(const struct report *r, const char *key)
{
	for (size_t i = 0; i < r->ntables; i++)
		if (strcmp(r->tables[i]->key, key) == 0)
			return r->tables[i];
	return NULL;
}

size_t report_row_add(struct report_table *t)
{
	if (t->nrows == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		t->cells =
		    xrealloc(t->cells, t->cap * (t->ncols ? t->ncols : 1) * sizeof *t->cells);
	}
	for (size_t i = 0; i < t->ncols; i++)
		t->cells[t->nrows * t->ncols + i] = NULL;
	return t->nrows++;
}

int report_col_index(const struct report_table *t, const char *key)
{
	for (size_t i = 0; i < t->ncols; i++)
		if (strcmp(t->cols[i].key, key) == 0)
			return (int)i;
	return -1;
}

void report_cell_set(struct report_table *t, size_t row, const char *col, const char *val)
{
	int c = report_col_index(t, col);
	if (c < 0 || row >= t->nrows) {
		fprintf(stderr, "dmarcsift: bug: table %s has no cell %zu/%s\n", t->key, row, col);
		abort();
	}
	char **cell = &t->cells[row * t->ncols + (size_t)c];
	free(*cell);
	*cell = dup_or_null(val);
}

const char *report_cell(const struct report_table *t, size_t row, size_t col)
{
	if (row >= t->nrows || col >= t->ncols)
		return NULL;
	return t->cells[row * t->ncols + col];
}

const char *report_cell_by_key(const struct report_table *t, size_t row, const char *col)
{
	int c = report_col_index(t, col);
	return c < 0 ? NULL : report_cell(t, row, (size_t)c);
}

void report_table_note(struct report_table *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	free(t->note);
	t->note = vfmt(fmt, ap);
	va_end(ap);
}

void report_table_empty(struct report_table *t, const char *text)
{
	free(t->empty);
	t->empty = dup_or_null(text);
}

void report_table_unavailable(struct report_table *t, const char *reason)
{
	free(t->unavailable);
	t->unavailable = xstrdup(reason ? reason : "not available");
}

void report_table_reorder(struct report_table *t, const size_t *order)
{
	if (t->nrows == 0 || t->ncols == 0)
		return;
	char **cells = xmalloc(t->nrows * t->ncols * sizeof *cells);
	for (size_t i = 0; i < t->nrows; i++)
		memcpy(&cells[i * t->ncols], &t->cells[order[i] * t->ncols],
		       t->ncols * sizeof *cells);
	free(t->cells);
	t->cells = cells;
	t->cap = t->nrows;
}

void report_chart_add(struct report *r, enum report_chart_kind kind, const char *key,
                      const char *title, const char *table, const char *label_col,
                      const char *const *series, const char *const *series_label, size_t nseries)
{
	r->charts = xrealloc(r->charts, (r->ncharts + 1) * sizeof *r->charts);
	struct report_chart *c = &r->charts[r->ncharts++];
	memset(c, 0, sizeof *c);
	c->kind = kind;
	c->key = xstrdup(key);
	c->title = xstrdup(title);
	c->table = xstrdup(table);
	c->label_col = xstrdup(label_col);
	if (nseries > REPORT_CHART_MAX_SERIES)
		nseries = REPORT_CHART_MAX_SERIES;
	for (size_t i = 0; i < nseries; i++) {
		c->series[i] = xstrdup(series[i]);
		c->series_label[i] = xstrdup(series_label[i]);
	}
	c->nseries = nseries;
}
