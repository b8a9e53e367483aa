/*
 * The JSON writer (json-c): one document whose shape docs/report-json.md
 * documents. Keys are stable: tables by their key, columns by their key.
 * Integers are JSON integers, rates JSON numbers written exactly as the
 * database rounded them, booleans booleans, missing values null, JSON
 * columns embedded as JSON.
 */
#include "reports/format.h"
#include "reports/writers.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

static const char *type_name(enum report_type t)
{
	static const char *const names[] = {"text", "integer", "rate",    "rate_change",
	                                    "date", "time",    "boolean", "json"};
	return names[t];
}

static json_object *value(enum report_type type, const char *raw)
{
	double d;
	if (!raw)
		return NULL;
	switch (type) {
	case REPORT_INT: {
		char *end = NULL;
		errno = 0;
		long long v = strtoll(raw, &end, 10);
		if (errno == 0 && end != raw && *end == '\0')
			return json_object_new_int64(v);
		break;
	}
	case REPORT_RATE:
	case REPORT_PCT_POINTS:
		if (report_rate_value(raw, &d))
			return json_object_new_double_s(d, raw);
		break;
	case REPORT_BOOL:
		if (strcmp(raw, "true") == 0 || strcmp(raw, "t") == 0)
			return json_object_new_boolean(1);
		if (strcmp(raw, "false") == 0 || strcmp(raw, "f") == 0)
			return json_object_new_boolean(0);
		break;
	case REPORT_JSON: {
		json_object *j = json_tokener_parse(raw);
		if (j)
			return j;
		break;
	}
	default:
		break;
	}
	return json_object_new_string(raw);
}

static json_object *str_or_null(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

static json_object *table_json(const struct report_table *t)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "title", json_object_new_string(t->title));
	json_object_object_add(o, "available", json_object_new_boolean(t->unavailable == NULL));
	json_object_object_add(o, "reason", str_or_null(t->unavailable));
	json_object_object_add(o, "note", str_or_null(t->note));
	json_object *cols = json_object_new_array();
	for (size_t c = 0; c < t->ncols; c++) {
		json_object *col = json_object_new_object();
		json_object_object_add(col, "key", json_object_new_string(t->cols[c].key));
		json_object_object_add(col, "label", json_object_new_string(t->cols[c].label));
		json_object_object_add(col, "type",
		                       json_object_new_string(type_name(t->cols[c].type)));
		json_object_array_add(cols, col);
	}
	json_object_object_add(o, "columns", cols);
	json_object *rows = json_object_new_array();
	for (size_t r = 0; r < t->nrows; r++) {
		json_object *row = json_object_new_object();
		for (size_t c = 0; c < t->ncols; c++)
			json_object_object_add(row, t->cols[c].key,
			                       value(t->cols[c].type, report_cell(t, r, c)));
		json_object_array_add(rows, row);
	}
	json_object_object_add(o, "rows", rows);
	return o;
}

int report_write_json(FILE *out, const struct report *r)
{
	json_object *doc = json_object_new_object();
	json_object_object_add(doc, "format", json_object_new_string("dmarcsift-report"));
	json_object_object_add(doc, "version", json_object_new_int(1));
	json_object_object_add(
	    doc, "kind",
	    json_object_new_string(r->kind == REPORT_KIND_TENANT ? "tenant" : "overview"));
	json_object_object_add(doc, "title", json_object_new_string(r->title));
	json_object_object_add(doc, "tenant", str_or_null(r->tenant));
	json_object *period = json_object_new_object();
	json_object_object_add(period, "since", str_or_null(r->since));
	json_object_object_add(period, "until", str_or_null(r->until));
	json_object_object_add(doc, "period", period);
	json_object_object_add(doc, "generated_at", str_or_null(r->generated_at));
	json_object_object_add(doc, "empty", json_object_new_boolean(r->empty));
	json_object *notes = json_object_new_array();
	for (size_t i = 0; i < r->nnotes; i++)
		json_object_array_add(notes, json_object_new_string(r->notes[i]));
	json_object_object_add(doc, "notes", notes);
	json_object *tables = json_object_new_object();
	for (size_t i = 0; i < r->ntables; i++)
		json_object_object_add(tables, r->tables[i]->key, table_json(r->tables[i]));
	json_object_object_add(doc, "tables", tables);
	fputs(json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY |
	                                              JSON_C_TO_STRING_SPACED |
	                                              JSON_C_TO_STRING_NOSLASHESCAPE),
	      out);
	fputc('\n', out);
	json_object_put(doc);
	return ferror(out) ? -1 : 0;
}
