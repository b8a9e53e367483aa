/*
 * test_aggr_guard: start tags that would reach libxml2's slow paths are
 * refused by the parser's byte path before libxml2 sees them — 200,000
 * attributes on one element (quadratic in libxml2: 105 s before the guard),
 * a huge element name, a huge attribute value — each in well under a
 * second with a reason; a report with a few hundred attributes still parses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "core/buf.h"
#include "ingest/aggr.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static const char head[] = "<?xml version=\"1.0\"?>\n";
static const char body[] =
    "<version>1.0</version><report_metadata><org_name>example.net</org_name>"
    "<email>r@example.net</email><report_id>guard-1</report_id><date_range>"
    "<begin>1700000000</begin><end>1700086399</end></date_range></report_metadata>"
    "<policy_published><domain>example.com</domain><p>none</p></policy_published>"
    "<record><row><source_ip>192.0.2.1</source_ip><count>3</count><policy_evaluated>"
    "<disposition>none</disposition><dkim>pass</dkim><spf>pass</spf></policy_evaluated>"
    "</row><identifiers><header_from>example.com</header_from></identifiers>"
    "<auth_results><spf><domain>example.com</domain><result>pass</result></spf>"
    "</auth_results></record></feedback>\n";

static int on_header(void *ctx, const struct aggr_report *r, struct err *e)
{
	(void)ctx;
	(void)r;
	(void)e;
	return 0;
}

static int on_record(void *ctx, const struct aggr_record *rec, struct err *e)
{
	(void)rec;
	(void)e;
	(*(int *)ctx)++;
	return 0;
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Parses doc strictly and in recover mode; returns the strict result. */
static int parse(const struct buf *doc, int *records, struct err *e, double *secs)
{
	struct aggr_handler h = {on_header, on_record, records, NULL};
	struct aggr_result res;
	double t0 = now();
	err_clear(e);
	int rc = aggr_parse_mem(doc->data, doc->len, false, &h, &res, e);
	struct err rec = {0};
	int rc2 = aggr_parse_mem(doc->data, doc->len, true, &h, &res, &rec);
	*secs = now() - t0;
	assert_int_equal(rc, rc2);
	if (rc != 0)
		assert_string_equal(rec.msg, e->msg);
	return rc;
}

static void feedback_with_attrs(struct buf *doc, size_t n)
{
	buf_init(doc, 0);
	buf_puts(doc, head);
	buf_puts(doc, "<feedback");
	for (size_t i = 0; i < n; i++)
		buf_printf(doc, " a%zu=\"x\"", i);
	buf_puts(doc, ">");
	buf_puts(doc, body);
}

static void test_many_attributes_refused_fast(void **state)
{
	(void)state;
	struct buf doc;
	feedback_with_attrs(&doc, 200000);
	int records = 0;
	struct err e;
	double secs;
	assert_int_equal(parse(&doc, &records, &e, &secs), -1);
	print_message("200,000 attributes (%zu bytes): %.3f s: %s\n", doc.len, secs, e.msg);
	assert_string_equal(e.stage, "xml");
	assert_int_equal(e.kind, ERR_INPUT);
	assert_non_null(strstr(e.msg, "more than 256 attributes"));
	assert_true(secs < 1.0);
	assert_int_equal(records, 0);
	buf_free(&doc);
}

static void test_some_attributes_still_parse(void **state)
{
	(void)state;
	struct buf doc;
	feedback_with_attrs(&doc, 200);
	int records = 0;
	struct err e;
	double secs;
	assert_int_equal(parse(&doc, &records, &e, &secs), 0);
	assert_int_equal(records, 2); /* one record, parsed strictly and recovered */
	buf_free(&doc);
}

static void test_huge_name_refused(void **state)
{
	(void)state;
	struct buf doc;
	buf_init(&doc, 0);
	buf_puts(&doc, head);
	buf_puts(&doc, "<feedback><x");
	for (size_t i = 0; i < 2000000; i++)
		buf_putc(&doc, 'n');
	buf_puts(&doc, "/>");
	buf_puts(&doc, body);
	int records = 0;
	struct err e;
	double secs;
	assert_int_equal(parse(&doc, &records, &e, &secs), -1);
	print_message("2 MB element name: %.3f s: %s\n", secs, e.msg);
	assert_non_null(strstr(e.msg, "start tag whose names take more than 16384 bytes"));
	assert_true(secs < 1.0);
	buf_free(&doc);
}

static void test_huge_attribute_value_refused(void **state)
{
	(void)state;
	struct buf doc;
	buf_init(&doc, 0);
	buf_puts(&doc, head);
	buf_puts(&doc, "<feedback v='");
	for (size_t i = 0; i < 5000000; i++)
		buf_putc(&doc, 'v');
	buf_puts(&doc, "'>");
	buf_puts(&doc, body);
	int records = 0;
	struct err e;
	double secs;
	assert_int_equal(parse(&doc, &records, &e, &secs), -1);
	print_message("5 MB attribute value: %.3f s: %s\n", secs, e.msg);
	assert_non_null(strstr(e.msg, "attribute value longer than 65536 bytes"));
	assert_true(secs < 1.0);
	buf_free(&doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_many_attributes_refused_fast),
	    cmocka_unit_test(test_some_attributes_still_parse),
	    cmocka_unit_test(test_huge_name_refused),
	    cmocka_unit_test(test_huge_attribute_value_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
