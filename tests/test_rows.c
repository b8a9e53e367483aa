/*
 * test_rows: the JSON conventions of reports/rows — PostgreSQL timestamps
 * into RFC 3339 UTC whatever the session's zone, rates rounded to 4 places,
 * no "\/" escapes — and the three table formats over a small table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "reports/rows.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_time(void **state)
{
	(void)state;
	static const struct {
		const char *in, *want; /* want NULL: refused */
	} cases[] = {
	    {"2026-11-30 00:00:00+00", "2026-11-30T00:00:00Z"},
	    {"2026-11-30 01:00:00.123456+01", "2026-11-30T00:00:00Z"},
	    {"2026-11-30 05:30:00+05:30", "2026-11-30T00:00:00Z"},
	    {"2026-11-29 16:00:00-08", "2026-11-30T00:00:00Z"},
	    {"2026-12-31 23:59:59-01", "2027-01-01T00:59:59Z"},
	    {"2026-11-30T00:00:00Z", "2026-11-30T00:00:00Z"},
	    {"2026-11-30 00:00:00", "2026-11-30T00:00:00Z"},
	    {"2026-11-30", NULL},
	    {"2026-11-30 00:00", NULL},
	    {"2026-11-30 00:00:00+0x", NULL},
	    {"2026-11-30 00:00:00Z trailing", NULL},
	    {"", NULL},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char out[32] = "untouched";
		int rc = rows_time_rfc3339(cases[i].in, out, sizeof out);
		if (!cases[i].want) {
			if (rc != -1 || strcmp(out, "untouched") != 0)
				fail_msg("'%s' read as a time: %s", cases[i].in, out);
			continue;
		}
		if (rc != 0 || strcmp(out, cases[i].want) != 0)
			fail_msg("'%s': got %s (rc %d), want %s", cases[i].in, out, rc,
			         cases[i].want);
	}
	json_object *t = rows_json_time(1795996800);
	assert_string_equal(json_object_get_string(t), "2026-11-30T00:00:00Z");
	json_object_put(t);
}

static void test_rate(void **state)
{
	(void)state;
	static const struct {
		double in;
		const char *want;
	} cases[] = {
	    {0.98329999999999995, "0.9833"},
	    {1.0, "1"},
	    {0.5, "0.5"},
	    {0.00004, "0"},
	    {-0.00004, "0"},
	    {0.12345, "0.1235"},
	    {12.3456789, "12.3457"},
	    {0.10000001, "0.1"},
	    {0, "0"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		json_object *o = rows_json_rate(cases[i].in);
		const char *got = json_object_to_json_string(o);
		if (strcmp(got, cases[i].want) != 0)
			fail_msg("%.17g: got %s, want %s", cases[i].in, got, cases[i].want);
		json_object_put(o);
	}
}

/* A two-row table held in arrays. */
static const char *const names[] = {"path", "when", "rate", "n"};
static const char *const cells[2][4] = {
    {"a/b", "2026-11-30 01:00:00+01", "0.98329999", "3"},
    {"c, \"d\"", "2026-11-30 00:00:00+00", "1", "4"},
};

static const char *t_name(const void *src, int col)
{
	(void)src;
	return names[col];
}

static enum rows_kind t_kind(const void *src, int col)
{
	(void)src;
	static const enum rows_kind k[] = {ROWS_KIND_STRING, ROWS_KIND_TIME, ROWS_KIND_FLOAT,
	                                   ROWS_KIND_INT};
	return k[col];
}

static const char *t_value(const void *src, int row, int col)
{
	(void)src;
	return cells[row][col];
}

static bool t_null(const void *src, int row, int col)
{
	(void)src;
	(void)row;
	(void)col;
	return false;
}

static char *print(enum rows_format f)
{
	const struct rows_table t = {.ncols = 4,
	                             .nrows = 2,
	                             .name = t_name,
	                             .kind = t_kind,
	                             .value = t_value,
	                             .is_null = t_null};
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	assert_non_null(out);
	rows_print(out, &t, f, 0);
	fclose(out);
	return buf;
}

static void test_formats(void **state)
{
	(void)state;
	char *json = print(ROWS_JSON);
	assert_string_equal(json,
	                    "{\"path\":\"a/b\",\"when\":\"2026-11-30T00:00:00Z\",\"rate\":0.9833,"
	                    "\"n\":3}\n"
	                    "{\"path\":\"c, \\\"d\\\"\",\"when\":\"2026-11-30T00:00:00Z\","
	                    "\"rate\":1,\"n\":4}\n");
	free(json);
	char *csv = print(ROWS_CSV);
	assert_string_equal(csv, "path,when,rate,n\r\n"
	                         "a/b,2026-11-30 01:00:00+01,0.98329999,3\r\n"
	                         "\"c, \"\"d\"\"\",2026-11-30 00:00:00+00,1,4\r\n");
	free(csv);
	char *text = print(ROWS_TEXT);
	assert_non_null(strstr(text, "path    when"));
	assert_non_null(strstr(text, "\na/b     2026-11-30 01:00:00+01"));
	free(text);
	/* an object as CSV: names, then values (null empty, quoting as above) */
	json_object *c = json_object_new_object();
	json_object_object_add(c, "a", json_object_new_string("x, y"));
	json_object_object_add(c, "b", NULL);
	json_object_object_add(c, "c", json_object_new_int(3));
	json_object_object_add(c, "d", json_object_new_boolean(true));
	char *cb = NULL;
	size_t cl = 0;
	FILE *cf = open_memstream(&cb, &cl);
	rows_csv_object(cf, c, true);
	rows_csv_object(cf, c, false);
	fclose(cf);
	assert_string_equal(cb, "a,b,c,d\r\n\"x, y\",,3,true\r\n");
	free(cb);
	json_object_put(c);
	/* the one serialiser: no \/ */
	json_object *o = json_object_new_object();
	json_object_object_add(o, "url", json_object_new_string("https://example.com/x"));
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	rows_json_print(out, o);
	fclose(out);
	assert_string_equal(buf, "{\"url\":\"https://example.com/x\"}\n");
	free(buf);
	json_object_put(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_time),
	    cmocka_unit_test(test_rate),
	    cmocka_unit_test(test_formats),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
