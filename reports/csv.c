/*
 * The CSV writer: one table, RFC 4180 (CRLF line ends, fields quoted when
 * they hold a comma, quote or line break), a header of the column keys,
 * canonical values (rates as fractions, booleans true/false). Text cells
 * that a spreadsheet would take for a formula (= + - @ at the start) get a
 * leading apostrophe: reporter names and reply texts come from strangers.
 */
#include "reports/writers.h"

#include <string.h>

static void field(FILE *out, const char *s, bool text)
{
	if (!s)
		return;
	bool formula = text && strchr("=+-@", s[0]) && s[0] != '\0';
	bool quote = formula || strpbrk(s, ",\"\r\n") != NULL;
	if (!quote) {
		fputs(s, out);
		return;
	}
	fputc('"', out);
	if (formula)
		fputc('\'', out);
	for (const char *p = s; *p; p++) {
		if (*p == '"')
			fputc('"', out);
		fputc(*p, out);
	}
	fputc('"', out);
}

int report_write_csv(FILE *out, const struct report_table *t)
{
	for (size_t c = 0; c < t->ncols; c++) {
		if (c)
			fputc(',', out);
		field(out, t->cols[c].key, false);
	}
	fputs("\r\n", out);
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++) {
			if (c)
				fputc(',', out);
			bool text = t->cols[c].type == REPORT_TEXT;
			field(out, report_cell(t, r, c), text);
		}
		fputs("\r\n", out);
	}
	return ferror(out) ? -1 : 0;
}
