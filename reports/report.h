/*
 * report: the report model every writer reads — a report is a title, a
 * period and an ordered list of tables (sections); a table has typed
 * columns and rows of text cells. The model knows nothing of the database:
 * app/ fills it from queries, reports/ writes it as text, CSV, JSON or HTML.
 *
 * Cells hold the canonical text of a value (integers as digits, rates as a
 * decimal fraction "0.9963", dates "YYYY-MM-DD", times
 * "YYYY-MM-DDTHH:MM:SSZ", booleans "true"/"false", JSON as JSON text), or
 * NULL when the value is missing; each writer formats them for its readers.
 * A table that could not be produced (a view not installed yet, a query
 * that failed) is kept with `unavailable` set to the reason, so one missing
 * section never costs the whole report.
 *
 * The caller owns a report and frees it with report_free (NULL is fine);
 * every string passed in is copied.
 */
#ifndef DS_REPORTS_REPORT_H
#define DS_REPORTS_REPORT_H

#include <stdbool.h>
#include <stddef.h>

enum report_type {
	REPORT_TEXT = 0,
	REPORT_INT,
	REPORT_RATE,       /* a fraction 0..1, shown as a percentage */
	REPORT_PCT_POINTS, /* a difference of rates, shown as +1.2 pt */
	REPORT_DATE,
	REPORT_TIME,
	REPORT_BOOL,
	REPORT_JSON,
};

/* Column flags. */
#define REPORT_COL_DETAIL 1u /* long text: text output prints it under the row */
#define REPORT_COL_HIDDEN 2u /* machine formats only (CSV, JSON) */
#define REPORT_COL_ALERT  4u /* a true / non-empty value marks the row for attention */

struct report_col {
	char *key;   /* stable machine name (JSON key, CSV header) */
	char *label; /* for people */
	enum report_type type;
	unsigned flags;
};

struct report_table {
	char *key;   /* stable machine name: "sources" */
	char *title; /* "Sending sources" */
	size_t ncols;
	struct report_col *cols;
	size_t nrows, cap;
	char **cells;      /* nrows * ncols, row-major; NULL = missing */
	char *note;        /* a line under the title, or NULL */
	char *empty;       /* what to say when there are no rows */
	char *unavailable; /* non-NULL: not produced, and why */
	bool vertical;     /* one record: text and HTML show label/value lines */
};

enum report_chart_kind {
	REPORT_CHART_LINE,    /* one point per row: a rate over time */
	REPORT_CHART_STACKED, /* one bar per row, stacked from several columns */
	REPORT_CHART_BARS,    /* one horizontal bar per row: a rate per label */
};

#define REPORT_CHART_MAX_SERIES 6

struct report_chart {
	enum report_chart_kind kind;
	char *key; /* "pass_rate" */
	char *title;
	char *table;                                 /* the table it draws */
	char *label_col;                             /* x axis (LINE, STACKED) or bar label */
	char *series[REPORT_CHART_MAX_SERIES];       /* value columns */
	char *series_label[REPORT_CHART_MAX_SERIES]; /* legend */
	size_t nseries;
};

enum report_kind { REPORT_KIND_TENANT, REPORT_KIND_OVERVIEW };

struct report {
	enum report_kind kind;
	char *title;
	char *tenant; /* NULL for the overview */
	char *since;  /* first day, YYYY-MM-DD */
	char *until;  /* last day (included), YYYY-MM-DD */
	char *generated_at;
	bool empty; /* no aggregate data in the period */
	size_t nnotes;
	char **notes; /* headline sentences */
	size_t ntables;
	struct report_table **tables;
	size_t ncharts;
	struct report_chart *charts;
};

struct report *report_new(enum report_kind kind, const char *title, const char *tenant,
                          const char *since, const char *until, const char *generated_at);
void report_free(struct report *r);
void report_note(struct report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Column specs for report_table_add: {key, label, type, flags}. */
struct report_col_spec {
	const char *key;
	const char *label;
	enum report_type type;
	unsigned flags;
};

struct report_table *report_table_add(struct report *r, const char *key, const char *title,
                                      const struct report_col_spec *cols, size_t ncols);
struct report_table *report_table_find(const struct report *r, const char *key);
/* Appends an empty row (all cells NULL); returns its index. */
size_t report_row_add(struct report_table *t);
/* Sets a cell (copied; NULL clears). An unknown column key is a bug: aborts. */
void report_cell_set(struct report_table *t, size_t row, const char *col, const char *val);
const char *report_cell(const struct report_table *t, size_t row, size_t col);
const char *report_cell_by_key(const struct report_table *t, size_t row, const char *col);
/* Index of a column, or -1. */
int report_col_index(const struct report_table *t, const char *key);
void report_table_note(struct report_table *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void report_table_empty(struct report_table *t, const char *text);
void report_table_unavailable(struct report_table *t, const char *reason);
/* Reorders the rows: order[i] is the old index of new row i (a permutation). */
void report_table_reorder(struct report_table *t, const size_t *order);

void report_chart_add(struct report *r, enum report_chart_kind kind, const char *key,
                      const char *title, const char *table, const char *label_col,
                      const char *const *series, const char *const *series_label, size_t nseries);

#endif
