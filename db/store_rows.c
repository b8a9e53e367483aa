/*
 * store_rows: how the store writes a record's parts (COPY text fields, JSON
 * arrays) and turns COPY lines into array parameters (db/store_report.c,
 * db/source_sums.c).
 */
#include "db/store_rows.h"

#include "db/copy.h"

#include <json-c/json.h>
#include <stdbool.h>

static void json_add(struct json_object *o, const char *key, const char *val)
{
	json_object_object_add_ex(o, key, val ? json_object_new_string(val) : NULL,
	                          JSON_C_OBJECT_ADD_KEY_IS_NEW | JSON_C_OBJECT_KEY_IS_CONSTANT);
}

/* Appends a JSON array (already serialised by json-c) as a COPY field. */
static int put_json(struct buf *b, struct json_object *arr)
{
	const char *s = json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN |
	                                                        JSON_C_TO_STRING_NOSLASHESCAPE);
	int rc = copy_field(b, s);
	json_object_put(arr);
	return rc;
}

int store_put_reasons(struct buf *b, const struct aggr_record *rec)
{
	if (rec->n_reasons == 0)
		return buf_append(b, "[]", 2);
	struct json_object *arr = json_object_new_array_ext((int)rec->n_reasons);
	for (size_t i = 0; i < rec->n_reasons; i++) {
		struct json_object *o = json_object_new_object();
		json_add(o, "type", rec->reasons[i].type);
		json_add(o, "comment", rec->reasons[i].comment);
		json_object_array_add(arr, o);
	}
	return put_json(b, arr);
}

int store_put_dkim(struct buf *b, const struct aggr_record *rec)
{
	if (rec->n_dkim == 0)
		return buf_append(b, "[]", 2);
	struct json_object *arr = json_object_new_array_ext((int)rec->n_dkim);
	for (size_t i = 0; i < rec->n_dkim; i++) {
		struct json_object *o = json_object_new_object();
		json_add(o, "domain", rec->dkim_auth[i].domain);
		json_add(o, "selector", rec->dkim_auth[i].selector);
		json_add(o, "result", rec->dkim_auth[i].result);
		json_add(o, "human_result", rec->dkim_auth[i].human_result);
		json_object_array_add(arr, o);
	}
	return put_json(b, arr);
}

int store_put_spf(struct buf *b, const struct aggr_record *rec)
{
	if (rec->n_spf == 0)
		return buf_append(b, "[]", 2);
	struct json_object *arr = json_object_new_array_ext((int)rec->n_spf);
	for (size_t i = 0; i < rec->n_spf; i++) {
		struct json_object *o = json_object_new_object();
		json_add(o, "domain", rec->spf_auth[i].domain);
		json_add(o, "scope", rec->spf_auth[i].scope);
		json_add(o, "result", rec->spf_auth[i].result);
		json_add(o, "human_result", rec->spf_auth[i].human_result);
		json_object_array_add(arr, o);
	}
	return put_json(b, arr);
}

/* The byte a COPY text escape (copy_field's: \t \n \r \\) stands for. */
static char unescape(char c)
{
	switch (c) {
	case 't':
		return '\t';
	case 'n':
		return '\n';
	case 'r':
		return '\r';
	default:
		return c;
	}
}

int store_lines_to_arrays(const struct buf *rows, struct buf *out, int ncols)
{
	const char *p = rows->data, *end = p ? p + rows->len : p; /* no rows: NULL */
	bool bad = false;
	for (int k = 0; k < ncols && !bad; k++)
		bad = buf_putc(&out[k], '{') < 0;
	for (bool first_row = true; p < end && !bad; first_row = false) {
		for (int k = 0; !bad; k++) {
			if (k == ncols)
				return -1; /* more fields than columns: not our rows */
			struct buf *o = &out[k];
			bad = !first_row && buf_putc(o, ',') < 0;
			if (end - p >= 2 && p[0] == '\\' && p[1] == 'N' &&
			    (end - p == 2 || p[2] == '\t' || p[2] == '\n')) {
				bad = bad || buf_puts(o, "NULL") < 0;
				p += 2;
			} else {
				bad = bad || buf_putc(o, '"') < 0;
				while (p < end && *p != '\t' && *p != '\n' && !bad) {
					char c = *p++;
					if (c == '\\' && p < end)
						c = unescape(*p++);
					bad = ((c == '"' || c == '\\') && buf_putc(o, '\\') < 0) ||
					      buf_putc(o, c) < 0;
				}
				bad = bad || buf_putc(o, '"') < 0;
			}
			if (p >= end || *p++ == '\n') {
				if (k != ncols - 1)
					return -1; /* fewer fields than columns */
				break;
			}
		}
	}
	for (int k = 0; k < ncols && !bad; k++)
		bad = buf_putc(&out[k], '}') < 0;
	return bad ? -1 : 0;
}
