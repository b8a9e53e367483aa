#include "reports/rows.h"

#include "core/xalloc.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int rows_format_parse(const char *s, enum rows_format *out)
{
	if (strcmp(s, "text") == 0)
		*out = ROWS_TEXT;
	else if (strcmp(s, "csv") == 0)
		*out = ROWS_CSV;
	else if (strcmp(s, "json") == 0)
		*out = ROWS_JSON;
	else
		return -1;
	return 0;
}

void rows_json_print(FILE *out, json_object *o)
{
	fputs(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
	                                            JSON_C_TO_STRING_NOSLASHESCAPE),
	      out);
	fputc('\n', out);
}

json_object *rows_json_rate(double v)
{
	char s[32];
	snprintf(s, sizeof s, "%.4f", v);
	/* "0.9000" reads better as 0.9; the value is the rounded one. */
	size_t n = strlen(s);
	while (n > 0 && s[n - 1] == '0' && strchr(s, '.'))
		s[--n] = '\0';
	if (n > 0 && s[n - 1] == '.')
		s[--n] = '\0';
	if (strcmp(s, "-0") == 0)
		memmove(s, s + 1, 2);
	return json_object_new_double_s(strtod(s, NULL), s);
}

json_object *rows_json_time(time_t t)
{
	struct tm tm;
	char s[32];
	if (!gmtime_r(&t, &tm) || strftime(s, sizeof s, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return NULL;
	return json_object_new_string(s);
}

/* n digits at *p into *v; moves *p only on success. */
static bool digits(const char **p, int n, int *v)
{
	int x = 0;
	for (int i = 0; i < n; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return false;
		x = x * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*v = x;
	return true;
}

static bool lit(const char **p, const char *chars)
{
	if (**p && strchr(chars, **p)) {
		(*p)++;
		return true;
	}
	return false;
}

int rows_time_rfc3339(const char *pg, char *out, size_t outsz)
{
	const char *p = pg;
	int y, mo, d, h, mi, sec, oh = 0, om = 0, os = 0, sign = 0;
	if (!digits(&p, 4, &y) || !lit(&p, "-") || !digits(&p, 2, &mo) || !lit(&p, "-") ||
	    !digits(&p, 2, &d) || !lit(&p, " T") || !digits(&p, 2, &h) || !lit(&p, ":") ||
	    !digits(&p, 2, &mi) || !lit(&p, ":") || !digits(&p, 2, &sec))
		return -1;
	if (lit(&p, "."))
		while (*p >= '0' && *p <= '9')
			p++;
	if (lit(&p, "Z")) {
		sign = 0;
	} else if (*p == '+' || *p == '-') {
		sign = *p++ == '-' ? -1 : 1;
		if (!digits(&p, 2, &oh))
			return -1;
		if (lit(&p, ":") && !digits(&p, 2, &om))
			return -1;
		if (lit(&p, ":") && !digits(&p, 2, &os))
			return -1;
	}
	/* A timestamp without a zone is UTC, as the queries write them. */
	if (*p)
		return -1;
	struct tm tm = {.tm_year = y - 1900,
	                .tm_mon = mo - 1,
	                .tm_mday = d,
	                .tm_hour = h,
	                .tm_min = mi,
	                .tm_sec = sec};
	time_t t = timegm(&tm) - (time_t)sign * (oh * 3600 + om * 60 + os);
	struct tm u;
	if (!gmtime_r(&t, &u) || strftime(out, outsz, "%Y-%m-%dT%H:%M:%SZ", &u) == 0)
		return -1;
	return 0;
}

/* Display width in characters (UTF-8 continuation bytes do not count). */
static size_t width(const char *s, size_t n)
{
	size_t w = 0;
	for (size_t i = 0; i < n; i++)
		w += ((unsigned char)s[i] & 0xc0) != 0x80;
	return w;
}

/* Bytes of s that fit `max` characters. */
static size_t fit(const char *s, size_t max)
{
	size_t w = 0, i = 0;
	for (; s[i]; i++) {
		if (((unsigned char)s[i] & 0xc0) != 0x80) {
			if (w == max)
				break;
			w++;
		}
	}
	return i;
}

/* A cell on one line: control characters (line breaks in reply texts)
 * would break the table. */
static void put_clean(FILE *out, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fputc((unsigned char)s[i] < 0x20 ? ' ' : s[i], out);
}

static void print_text(FILE *out, const struct rows_table *t, size_t limit)
{
	int nf = t->ncols, nt = t->nrows;
	size_t *w = xcalloc((size_t)nf, sizeof *w);
	for (int c = 0; c < nf; c++) {
		const char *name = t->name(t->src, c);
		w[c] = width(name, strlen(name));
		for (int r = 0; r < nt; r++) {
			const char *v = t->value(t->src, r, c);
			size_t cw = width(v, strlen(v));
			if (limit && cw > limit)
				cw = limit;
			if (cw > w[c])
				w[c] = cw;
		}
	}
	for (int r = -1; r < nt; r++) {
		for (int c = 0; c < nf; c++) {
			const char *v = r < 0 ? t->name(t->src, c) : t->value(t->src, r, c);
			size_t n = strlen(v), cw = width(v, n);
			bool cut = limit && cw > limit;
			if (cut) {
				n = fit(v, limit - 3);
				cw = limit;
			}
			put_clean(out, v, n);
			if (cut)
				fputs("...", out);
			if (c + 1 < nf)
				fprintf(out, "%*s", (int)(w[c] - cw + 2), "");
		}
		fputc('\n', out);
	}
	free(w);
}

static void csv_field(FILE *out, const char *s)
{
	if (strpbrk(s, ",\"\r\n") == NULL && s[0] != ' ' && (!*s || s[strlen(s) - 1] != ' ')) {
		fputs(s, out);
		return;
	}
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', out);
		fputc(*s, out);
	}
	fputc('"', out);
}

void rows_csv_object(FILE *out, json_object *o, bool header)
{
	bool first = true;
	json_object_object_foreach(o, key, val)
	{
		if (!first)
			fputc(',', out);
		first = false;
		if (header)
			csv_field(out, key);
		else if (val && json_object_is_type(val, json_type_string))
			csv_field(out, json_object_get_string(val));
		else if (val)
			csv_field(
			    out, json_object_to_json_string_ext(
			             val, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	}
	fputs("\r\n", out);
}

static void print_csv(FILE *out, const struct rows_table *t)
{
	int nf = t->ncols, nt = t->nrows;
	for (int r = -1; r < nt; r++) {
		for (int c = 0; c < nf; c++) {
			if (c)
				fputc(',', out);
			csv_field(out, r < 0 ? t->name(t->src, c) : t->value(t->src, r, c));
		}
		fputs("\r\n", out);
	}
}

static json_object *json_value(const struct rows_table *t, int r, int c)
{
	if (t->is_null(t->src, r, c))
		return NULL;
	const char *v = t->value(t->src, r, c);
	char *end = NULL;
	errno = 0;
	switch (t->kind(t->src, c)) {
	case ROWS_KIND_BOOL:
		return json_object_new_boolean(v[0] == 't');
	case ROWS_KIND_INT: {
		long long n = strtoll(v, &end, 10);
		if (end != v && !*end && errno == 0)
			return json_object_new_int64(n);
		break;
	}
	case ROWS_KIND_JSON: {
		/* nested, not a string holding JSON */
		json_object *o = json_tokener_parse(v);
		if (o || strcmp(v, "null") == 0)
			return o;
		break;
	}
	case ROWS_KIND_FLOAT: {
		double d = strtod(v, &end);
		if (end != v && !*end && errno == 0)
			return rows_json_rate(d);
		break;
	}
	case ROWS_KIND_TIME: {
		char when[32];
		if (rows_time_rfc3339(v, when, sizeof when) == 0)
			return json_object_new_string(when);
		break;
	}
	case ROWS_KIND_STRING:
		break;
	}
	return json_object_new_string(v);
}

static void print_json(FILE *out, const struct rows_table *t)
{
	int nf = t->ncols, nt = t->nrows;
	for (int r = 0; r < nt; r++) {
		json_object *o = json_object_new_object();
		for (int c = 0; c < nf; c++)
			json_object_object_add(o, t->name(t->src, c), json_value(t, r, c));
		rows_json_print(out, o);
		json_object_put(o);
	}
}

void rows_print(FILE *out, const struct rows_table *t, enum rows_format f, size_t text_width)
{
	switch (f) {
	case ROWS_TEXT:
		print_text(out, t, text_width < 4 && text_width ? 4 : text_width);
		break;
	case ROWS_CSV:
		print_csv(out, t);
		break;
	case ROWS_JSON:
		print_json(out, t);
		break;
	}
}
