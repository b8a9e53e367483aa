/*
 * Tests for ingest/aggr: table-driven over fixtures/reports/MANIFEST.tsv
 * (what each fixture holds, counted from its bytes), plus focused cases on
 * fields, error messages, handler control and hostile input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "ingest/aggr.h"

#include "core/buf.h"
#include "core/xalloc.h"

#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dirent.h>
#include <malloc.h>
#if defined(__SANITIZE_ADDRESS__)
#define HEAP_FROM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HEAP_FROM_ASAN 1
#endif
#endif
#ifdef HEAP_FROM_ASAN
/* From the sanitizer runtime (sanitizer/allocator_interface.h). */
size_t __sanitizer_get_current_allocated_bytes(void);
#endif

/* ---- helpers ---- */

static char *slurp(const char *rel, size_t *len)
{
	char path[1024];
	snprintf(path, sizeof path, "%s/%s", FIXTURES_DIR, rel);
	FILE *f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s", path);
	struct buf b;
	buf_init(&b, 0);
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		buf_append(&b, chunk, n);
	fclose(f);
	*len = b.len;
	return buf_steal(&b);
}

/* What the handler saw: copies, since the parser's memory is gone later. */
struct seen {
	int headers;
	int header_after_record; /* a header call came after a record call */
	int schema;
	char *org_name, *report_id, *domain, *ns, *version, *generator, *np, *testing, *discovery;
	char *p, *sp, *adkim, *aspf, *errors, *report_extra;
	int pct;
	int64_t begin, end;
	uint64_t records, messages;
	/* fields of the first few records */
	struct {
		char *ip, *disposition, *dkim, *spf, *header_from, *envelope_from, *extra;
		int64_t count;
		size_t n_dkim, n_spf, n_reasons;
		char *dkim_result[4], *dkim_selector[4], *dkim_human[4];
		char *spf_result[4], *spf_scope[4], *spf_human[4];
		char *reason_type[4], *reason_comment[4];
	} rec[8];
	int stop_header;  /* return AGGR_STOP from the header */
	uint64_t stop_at; /* return AGGR_STOP from record number N */
	uint64_t fail_at; /* return -1 from record number N */
};

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static int on_header(void *ctx, const struct aggr_report *r, struct err *e)
{
	struct seen *s = ctx;
	(void)e;
	s->headers++;
	if (s->records)
		s->header_after_record = 1;
	s->schema = (int)r->schema;
	s->org_name = dup_or_null(r->org_name);
	s->report_id = dup_or_null(r->report_id);
	s->domain = dup_or_null(r->policy.domain);
	s->ns = dup_or_null(r->namespace_uri);
	s->version = dup_or_null(r->version);
	s->generator = dup_or_null(r->generator);
	s->np = dup_or_null(r->policy.np);
	s->testing = dup_or_null(r->policy.testing);
	s->discovery = dup_or_null(r->policy.discovery_method);
	s->p = dup_or_null(r->policy.p);
	s->sp = dup_or_null(r->policy.sp);
	s->adkim = dup_or_null(r->policy.adkim);
	s->aspf = dup_or_null(r->policy.aspf);
	s->errors = dup_or_null(r->errors);
	s->report_extra = dup_or_null(r->extra_json);
	s->pct = r->policy.pct;
	s->begin = r->begin;
	s->end = r->end;
	return s->stop_header ? AGGR_STOP : 0;
}

static int on_record(void *ctx, const struct aggr_record *r, struct err *e)
{
	struct seen *s = ctx;
	uint64_t i = s->records++;
	s->messages += (uint64_t)r->count;
	if (i < 8) {
		s->rec[i].ip = dup_or_null(r->source_ip);
		s->rec[i].disposition = dup_or_null(r->disposition);
		s->rec[i].dkim = dup_or_null(r->dkim);
		s->rec[i].spf = dup_or_null(r->spf);
		s->rec[i].header_from = dup_or_null(r->header_from);
		s->rec[i].envelope_from = dup_or_null(r->envelope_from);
		s->rec[i].extra = dup_or_null(r->extra_json);
		s->rec[i].count = r->count;
		s->rec[i].n_dkim = r->n_dkim;
		s->rec[i].n_spf = r->n_spf;
		s->rec[i].n_reasons = r->n_reasons;
		for (size_t k = 0; k < r->n_dkim && k < 4; k++) {
			s->rec[i].dkim_result[k] = dup_or_null(r->dkim_auth[k].result);
			s->rec[i].dkim_selector[k] = dup_or_null(r->dkim_auth[k].selector);
			s->rec[i].dkim_human[k] = dup_or_null(r->dkim_auth[k].human_result);
		}
		for (size_t k = 0; k < r->n_spf && k < 4; k++) {
			s->rec[i].spf_result[k] = dup_or_null(r->spf_auth[k].result);
			s->rec[i].spf_scope[k] = dup_or_null(r->spf_auth[k].scope);
			s->rec[i].spf_human[k] = dup_or_null(r->spf_auth[k].human_result);
		}
		for (size_t k = 0; k < r->n_reasons && k < 4; k++) {
			s->rec[i].reason_type[k] = dup_or_null(r->reasons[k].type);
			s->rec[i].reason_comment[k] = dup_or_null(r->reasons[k].comment);
		}
	}
	if (s->fail_at && s->records == s->fail_at) {
		err_stage(e, ERR_STAGE_STORE, ERR_RETRY, "handler refused record %llu",
		          (unsigned long long)s->records);
		return -1;
	}
	if (s->stop_at && s->records == s->stop_at)
		return AGGR_STOP;
	return 0;
}

static void seen_free(struct seen *s)
{
	char **strs[] = {&s->org_name,  &s->report_id, &s->domain,      &s->ns,
	                 &s->version,   &s->generator, &s->np,          &s->testing,
	                 &s->discovery, &s->p,         &s->sp,          &s->adkim,
	                 &s->aspf,      &s->errors,    &s->report_extra};
	for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
		free(*strs[i]);
	for (int i = 0; i < 8; i++) {
		free(s->rec[i].ip);
		free(s->rec[i].disposition);
		free(s->rec[i].dkim);
		free(s->rec[i].spf);
		free(s->rec[i].header_from);
		free(s->rec[i].envelope_from);
		free(s->rec[i].extra);
		for (int k = 0; k < 4; k++) {
			free(s->rec[i].dkim_result[k]);
			free(s->rec[i].dkim_selector[k]);
			free(s->rec[i].dkim_human[k]);
			free(s->rec[i].spf_result[k]);
			free(s->rec[i].spf_scope[k]);
			free(s->rec[i].spf_human[k]);
			free(s->rec[i].reason_type[k]);
			free(s->rec[i].reason_comment[k]);
		}
	}
	memset(s, 0, sizeof *s);
}

/*
 * Parses like the pipeline: strictly, and when that fails with stage xml,
 * again in recover mode. Returns "ok", "recovered" (recover mode, or values
 * kept although outside the schema) or "fail:<stage>".
 */
static void seen_restart(void *ctx)
{
	seen_free(ctx);
}

static const char *parse_like_pipeline(const char *data, size_t len, struct seen *s,
                                       struct aggr_result *res, struct err *e)
{
	static char outcome[32];
	struct aggr_handler h = {on_header, on_record, s, seen_restart};
	err_clear(e);
	if (aggr_parse_mem_twice(data, len, &h, res, e) == 0)
		return res->salvaged || res->recovered ? "recovered" : "ok";
	snprintf(outcome, sizeof outcome, "fail:%s", e->stage);
	return outcome;
}

static void parse_file(const char *rel, bool recover, struct seen *s, struct aggr_result *res,
                       struct err *e, int expect_rc)
{
	size_t len;
	char *data = slurp(rel, &len);
	struct aggr_handler h = {on_header, on_record, s, NULL};
	err_clear(e);
	int rc = aggr_parse_mem(data, len, recover, &h, res, e);
	if (rc != expect_rc)
		fail_msg("%s: rc %d (%s: %s)", rel, rc, e->stage, e->msg);
	free(data);
}

static const char *nz(const char *s)
{
	return s ? s : "(null)";
}

/* ---- the table-driven test ---- */

static void test_manifest(void **state)
{
	(void)state;
	size_t mlen;
	char *manifest = slurp("reports/MANIFEST.tsv", &mlen);
	char *listing = xasprintf("\n%s", manifest); /* for lookups by name */
	int rows = 0, hostile = 0;
	char *next = manifest;
	while (next && *next) {
		char *line = next;
		char *nl = strchr(line, '\n');
		next = nl ? nl + 1 : NULL;
		if (nl)
			*nl = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		/* Every column is set before the count check passes; the compiler
		 * cannot see that fail_msg does not return (-O3). */
		char *col[8] = {NULL};
		int n = 0;
		char *p = line;
		while (n < 8) {
			col[n++] = p;
			char *tab = strchr(p, '\t');
			if (!tab)
				break;
			*tab = '\0';
			p = tab + 1;
		}
		if (n != 8)
			fail_msg("MANIFEST row '%s' has %d columns, not 8", line, n);
		rows++;
		if (strncmp(col[0], "hostile/", 8) == 0)
			hostile++;
		size_t len;
		char *data = slurp(col[0], &len);
		struct seen s;
		memset(&s, 0, sizeof s);
		struct aggr_result res;
		struct err e;
		const char *got = parse_like_pipeline(data, len, &s, &res, &e);
		print_message("%s: %s %s\n", col[0], got, e.msg);
		if (strcmp(got, col[1]) != 0)
			fail_msg("%s: outcome %s, manifest says %s (%s)", col[0], got, col[1],
			         e.msg);
		if (strncmp(got, "fail", 4) == 0) {
			assert_true(e.msg[0] != '\0');
			assert_int_equal(e.kind, ERR_INPUT);
		} else {
			assert_int_equal(s.headers, 1);
			assert_int_equal(s.header_after_record, 0);
			assert_int_equal(res.records, strtoull(col[2], NULL, 10));
			assert_int_equal(res.messages, strtoull(col[3], NULL, 10));
			assert_int_equal(s.records, res.records);
			assert_int_equal(s.messages, res.messages);
			assert_int_equal(res.recovered, strcmp(got, "recovered") == 0);
			if (res.recovered)
				assert_true(res.complaint[0] != '\0');
			assert_string_equal(s.schema == AGGR_SCHEMA_RFC9990 ? "rfc9990" : "rfc7489",
			                    col[4]);
			assert_string_equal(nz(s.org_name), col[5]);
			assert_string_equal(nz(s.report_id), col[6]);
			assert_string_equal(nz(s.domain), col[7]);
		}
		seen_free(&s);
		free(data);
	}
	/* Every fixture file is in the manifest. */
	static const struct {
		const char *dir, *prefix;
	} dirs[] = {{"reports", ""}, {"hostile", "xml-"}};
	int files = 0;
	for (size_t d = 0; d < 2; d++) {
		char path[1024];
		snprintf(path, sizeof path, "%s/%s", FIXTURES_DIR, dirs[d].dir);
		DIR *dh = opendir(path);
		assert_non_null(dh);
		struct dirent *de;
		while ((de = readdir(dh)) != NULL) {
			if (de->d_name[0] == '.' || strcmp(de->d_name, "MANIFEST.tsv") == 0 ||
			    strncmp(de->d_name, dirs[d].prefix, strlen(dirs[d].prefix)) != 0)
				continue;
			char want[600];
			snprintf(want, sizeof want, "\n%s/%s\t", dirs[d].dir, de->d_name);
			if (!strstr(listing, want))
				fail_msg("%s/%s is not in MANIFEST.tsv", dirs[d].dir, de->d_name);
			files++;
		}
		closedir(dh);
	}
	assert_int_equal(files, rows);
	free(listing);
	free(manifest);
	assert_true(hostile >= 11);
}

/* ---- focused cases ---- */

static void assert_json_path(const char *json, const char *key, const char *want)
{
	assert_non_null(json);
	json_object *o = json_tokener_parse(json);
	assert_non_null(o);
	json_object *v;
	if (!json_object_object_get_ex(o, key, &v))
		fail_msg("no key '%s' in %s", key, json);
	assert_string_equal(json_object_get_string(v), want);
	json_object_put(o);
}

static void test_rfc9990_extras(void **state)
{
	(void)state;
	struct seen s;
	memset(&s, 0, sizeof s);
	struct aggr_result res;
	struct err e;
	parse_file("reports/rfc9990-namespace-extensions.xml", false, &s, &res, &e, 0);
	assert_int_equal(s.schema, AGGR_SCHEMA_RFC9990);
	assert_string_equal(s.ns, "urn:ietf:params:xml:ns:dmarc-2.0");
	assert_string_equal(s.version, "1.0");
	assert_string_equal(s.generator, "ExampleReporter 2.1");
	assert_string_equal(s.np, "reject");
	assert_string_equal(s.testing, "n");
	assert_string_equal(s.discovery, "treewalk");
	assert_string_equal(s.p, "reject");
	assert_string_equal(s.sp, "quarantine");
	assert_int_equal(s.pct, -1);
	assert_json_path(s.report_extra, "extension/arc_info/sealed", "y");
	assert_string_equal(s.rec[0].dkim_human[0], "good signature");
	assert_string_equal(s.rec[0].spf_human[0], "sender is authorized");
	assert_string_equal(s.rec[0].disposition, "pass");
	assert_json_path(s.rec[0].extra, "geo/country", "DE");
	assert_string_equal(s.rec[1].ip, "2001:db8::25");
	assert_string_equal(s.rec[1].envelope_from, "");
	assert_string_equal(s.rec[1].reason_type[0], "policy_test_mode");
	assert_string_equal(s.rec[1].reason_comment[0], "testing");
	assert_int_equal(s.rec[1].n_spf, 0);
	assert_null(s.rec[1].extra);
	seen_free(&s);

	/* The same fields without the namespace still say RFC 9990. */
	parse_file("reports/rfc9990-fields-without-namespace.xml", false, &s, &res, &e, 0);
	assert_int_equal(s.schema, AGGR_SCHEMA_RFC9990);
	assert_null(s.ns);
	assert_string_equal(s.np, "none");
	assert_string_equal(s.testing, "y");
	assert_string_equal(s.discovery, "psl");
	seen_free(&s);

	parse_file("reports/rfc7489-basic.xml", false, &s, &res, &e, 0);
	assert_int_equal(s.schema, AGGR_SCHEMA_RFC7489);
	assert_null(s.np);
	assert_null(s.report_extra);
	assert_int_equal(s.pct, 100);
	seen_free(&s);
}

static void test_unknown_elements_kept(void **state)
{
	(void)state;
	struct seen s;
	memset(&s, 0, sizeof s);
	struct aggr_result res;
	struct err e;
	parse_file("reports/policy-published-extra-tags-and-errors.xml", false, &s, &res, &e, 0);
	assert_json_path(s.report_extra, "policy_published/rua", "mailto:dmarc@example.com");
	assert_json_path(s.report_extra, "policy_published/ri", "86400");
	assert_json_path(s.report_extra, "policy_published/v", "DMARC1");
	assert_string_equal(s.errors, "DNS lookup timed out for one source\nsecond problem");
	assert_null(s.sp);
	seen_free(&s);

	/* Repeated unknown elements become an array. */
	static const char doc[] =
	    "<feedback><report_metadata><org_name>o</org_name><report_id>r</report_id>"
	    "<date_range><begin>1</begin><end>2</end></date_range></report_metadata>"
	    "<policy_published><domain>example.com</domain></policy_published>"
	    "<record><row><source_ip>192.0.2.1</source_ip><count>1</count></row>"
	    "<identifiers><header_from>example.com</header_from></identifiers>"
	    "<x:tag xmlns:x=\"urn:x\">a</x:tag><x:tag xmlns:x=\"urn:x\">b</x:tag>"
	    "</record></feedback>";
	struct aggr_handler h = {on_header, on_record, &s, NULL};
	err_clear(&e);
	assert_int_equal(aggr_parse_mem(doc, sizeof doc - 1, false, &h, &res, &e), 0);
	json_object *o = json_tokener_parse(s.rec[0].extra);
	json_object *v;
	assert_true(json_object_object_get_ex(o, "tag", &v));
	assert_true(json_object_is_type(v, json_type_array));
	assert_int_equal(json_object_array_length(v), 2);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(v, 1)), "b");
	json_object_put(o);
	seen_free(&s);
}

static void test_case_folding_and_variants(void **state)
{
	(void)state;
	struct seen s;
	memset(&s, 0, sizeof s);
	struct aggr_result res;
	struct err e;
	parse_file("reports/pascal-case-enums.xml", false, &s, &res, &e, 0);
	assert_string_equal(s.p, "reject");
	assert_string_equal(s.sp, "quarantine");
	assert_string_equal(s.adkim, "r");
	assert_string_equal(s.aspf, "s");
	assert_string_equal(s.rec[0].disposition, "reject");
	assert_string_equal(s.rec[0].dkim, "fail");
	assert_string_equal(s.rec[0].spf, "pass");
	assert_string_equal(s.rec[0].dkim_result[0], "fail");
	assert_null(s.rec[0].dkim_selector[0]);
	assert_string_equal(s.rec[0].spf_scope[0], "mfrom");
	assert_string_equal(s.rec[0].spf_result[0], "pass");
	assert_string_equal(s.rec[1].disposition, "none");
	assert_string_equal(s.rec[1].spf, "fail");
	seen_free(&s);

	parse_file("reports/auth-result-variants.xml", false, &s, &res, &e, 0);
	assert_string_equal(s.rec[0].dkim_result[0], "permerror"); /* invalid */
	assert_string_equal(s.rec[0].dkim_result[1], "temperror"); /* unknown */
	assert_string_equal(s.rec[0].spf_result[0], "fail");       /* hardfail */
	assert_null(s.rec[0].spf_scope[0]);
	assert_null(s.rec[1].dkim_result[0]);                     /* "" */
	assert_string_equal(s.rec[1].spf_result[0], "temperror"); /* unknown */
	assert_string_equal(s.rec[2].spf_result[0], "permerror"); /* error */
	seen_free(&s);

	parse_file("reports/softfail-policy-evaluated-nil-disposition.xml", false, &s, &res, &e, 0);
	assert_string_equal(s.rec[0].disposition, "none");
	assert_string_equal(s.rec[0].dkim, "fail");
	assert_string_equal(s.rec[1].spf, "fail");
	seen_free(&s);

	parse_file("reports/empty-enums.xml", false, &s, &res, &e, 0);
	assert_null(s.adkim);
	assert_null(s.aspf);
	assert_null(s.sp);
	assert_null(s.rec[0].disposition);
	assert_null(s.rec[0].dkim);
	assert_null(s.rec[0].spf);
	assert_null(s.rec[0].dkim_result[0]);
	assert_null(s.rec[0].spf_scope[0]);
	seen_free(&s);

	parse_file("reports/empty-org-envelope-reason.xml", false, &s, &res, &e, 0);
	assert_string_equal(s.org_name, "");
	assert_string_equal(s.rec[0].envelope_from, "");
	assert_int_equal(s.rec[0].n_reasons, 1);
	assert_string_equal(s.rec[0].reason_type[0], "");
	assert_string_equal(s.rec[0].reason_comment[0], "");
	assert_string_equal(s.rec[1].reason_type[0], "");
	seen_free(&s);

	parse_file("reports/several-reasons.xml", false, &s, &res, &e, 0);
	assert_int_equal(s.rec[0].n_reasons, 3);
	assert_string_equal(s.rec[0].reason_type[0], "forwarded");
	assert_string_equal(s.rec[0].reason_comment[0], "arc=pass");
	assert_null(s.rec[0].reason_comment[1]);
	assert_string_equal(s.rec[0].reason_type[2], "local_policy");
	assert_int_equal(s.pct, 50);
	seen_free(&s);

	parse_file("reports/several-dkim-results.xml", false, &s, &res, &e, 0);
	assert_int_equal(s.rec[0].n_dkim, 3);
	assert_string_equal(s.rec[0].dkim_selector[1], "esp1");
	assert_string_equal(s.rec[0].dkim_result[2], "fail");
	seen_free(&s);

	parse_file("reports/spf-with-and-without-scope.xml", false, &s, &res, &e, 0);
	assert_int_equal(s.rec[0].n_spf, 2);
	assert_string_equal(s.rec[0].spf_scope[0], "helo");
	assert_string_equal(s.rec[0].spf_scope[1], "mfrom");
	assert_null(s.rec[1].spf_scope[0]);
	assert_string_equal(s.rec[1].spf_result[0], "neutral");
	seen_free(&s);
}

static void test_values(void **state)
{
	(void)state;
	struct seen s;
	memset(&s, 0, sizeof s);
	struct aggr_result res;
	struct err e;
	parse_file("reports/header-from-full-address.xml", false, &s, &res, &e, 0);
	assert_string_equal(s.rec[0].header_from, "Example.com");
	assert_string_equal(s.rec[1].header_from, "example.com");
	assert_string_equal(s.rec[2].header_from, "example.com");
	seen_free(&s);

	parse_file("reports/ipv6-sources.xml", false, &s, &res, &e, 0);
	assert_string_equal(s.rec[0].ip, "2001:db8::1");
	assert_string_equal(s.rec[1].ip, "2001:db8:0:42::1");
	assert_string_equal(s.rec[2].ip, "192.0.2.33"); /* IPv4-mapped: stored as IPv4 */
	assert_string_equal(s.rec[3].ip, "2001:db8::a");
	seen_free(&s);

	parse_file("reports/whitespace-in-integers.xml", false, &s, &res, &e, 0);
	assert_int_equal(s.begin, 1524182400);
	assert_int_equal(s.end, 1524268799);
	assert_int_equal(s.rec[0].count, 14);
	assert_int_equal(s.rec[1].count, 6);
	seen_free(&s);

	parse_file("reports/fractional-timestamps.xml", false, &s, &res, &e, 0);
	assert_int_equal(s.begin, 1524182400);
	assert_int_equal(s.end, 1524268799);
	seen_free(&s);

	parse_file("reports/multi-week-date-range.xml", false, &s, &res, &e, 0);
	assert_true(s.end - s.begin > 14 * 86400);
	seen_free(&s);

	parse_file("reports/invalid-utf8.xml", false, &s, &res, &e, 0);
	/* Bytes that are not UTF-8 are read as Windows-1252 (0xE4 'ä', 0xFF
	 * 'ÿ', 0xFE 'þ'), and the report says so. */
	assert_string_equal(s.org_name, "Empf\xC3\xA4nger GmbH");
	assert_string_equal(s.rec[0].dkim_selector[0], "s\xC3\xBF\xC3\xBE"
	                                               "1");
	assert_true(res.recovered);
	assert_non_null(strstr(res.complaint, "invalid UTF-8 byte 0xE4"));
	seen_free(&s);

	parse_file("reports/identities-not-identifiers.xml", false, &s, &res, &e, 0);
	assert_string_equal(s.rec[0].header_from, "example.com");
	assert_string_equal(s.rec[1].envelope_from, "example.com");
	seen_free(&s);
}

static void expect_failure(const char *rel, bool recover, const char *stage, const char *msg)
{
	struct seen s;
	memset(&s, 0, sizeof s);
	struct aggr_result res;
	struct err e;
	parse_file(rel, recover, &s, &res, &e, -1);
	print_message("%s: %s: %s\n", rel, e.stage, e.msg);
	assert_string_equal(e.stage, stage);
	assert_int_equal(e.kind, ERR_INPUT);
	if (!strstr(e.msg, msg))
		fail_msg("%s: message '%s' lacks '%s'", rel, e.msg, msg);
	seen_free(&s);
}

static void test_error_messages(void **state)
{
	(void)state;
	expect_failure("hostile/xml-begin-after-end.xml", false, "validate",
	               "begin 1700092799 is after end 1700006400");
	expect_failure("hostile/xml-not-a-report.xml", true, "xml",
	               "no <feedback> element (root element <note>)");
	expect_failure("hostile/xml-empty.xml", true, "xml", "empty");
	expect_failure("hostile/xml-truncated-in-metadata.xml", true, "xml", "truncated");
	expect_failure("hostile/xml-not-xml.xml", false, "xml", "line 1");
}

/* Parses a fixture that must succeed marked recovered, and checks that each
 * complaint is in res.complaint exactly once. */
static void expect_kept(const char *rel, struct seen *s, struct aggr_result *res,
                        const char *const *complaints)
{
	struct err e;
	memset(s, 0, sizeof *s);
	parse_file(rel, false, s, res, &e, 0);
	print_message("%s: %s\n", rel, res->complaint);
	assert_true(res->recovered);
	for (const char *const *c = complaints; *c; c++) {
		const char *at = strstr(res->complaint, *c);
		if (!at)
			fail_msg("%s: complaint '%s' lacks '%s'", rel, res->complaint, *c);
		if (strstr(at + 1, *c))
			fail_msg("%s: '%s' named twice in '%s'", rel, *c, res->complaint);
	}
}

/* Issue 13: a value outside the schema never costs the report. */
static void test_deviations_kept(void **state)
{
	(void)state;
	struct seen s;
	struct aggr_result res;

	expect_kept("reports/deviation-policy-evaluated-none.xml", &s, &res,
	            (const char *const[]){"record 1: policy_evaluated spf 'none' (not pass/fail)",
	                                  "record 2: policy_evaluated dkim 'none' (not pass/fail)",
	                                  NULL});
	/* spf 'none' in records 1, 2 and 3 is one deviation, named once */
	assert_null(strstr(res.complaint, "record 3"));
	assert_string_equal(s.rec[0].spf, "none");
	assert_string_equal(s.rec[1].dkim, "none");
	assert_string_equal(s.rec[1].spf, "none"); /* "NONE " trimmed, lower-cased */
	assert_string_equal(s.rec[2].spf, "none");
	seen_free(&s);

	expect_kept("reports/deviation-policy-published.xml", &s, &res,
	            (const char *const[]){"policy_published adkim 'relaxed' (not r/s)",
	                                  "policy_published sp 'nil' (not none/quarantine/reject)",
	                                  "pct 'all'", NULL});
	assert_string_equal(s.adkim, "relaxed");
	assert_string_equal(s.sp, "nil");
	assert_string_equal(s.p, "none"); /* only case: an RFC value */
	assert_int_equal(s.pct, -1);
	seen_free(&s);

	expect_kept("reports/deviation-record-enums.xml", &s, &res,
	            (const char *const[]){"record 2: disposition 'delivered'",
	                                  "record 2: dkim result 'invalid-signature'",
	                                  "record 1: spf scope 'envelope'",
	                                  "record 2: reason type 'forwarder'", NULL});
	assert_string_equal(s.rec[1].disposition, "delivered");
	assert_string_equal(s.rec[1].dkim_result[0], "invalid-signature");
	assert_string_equal(s.rec[1].spf_result[0], "softfail"); /* SoftFail: just case */
	assert_string_equal(s.rec[0].spf_scope[0], "envelope");
	assert_string_equal(s.rec[1].reason_type[0], "forwarder");
	seen_free(&s);

	expect_kept(
	    "hostile/xml-unknown-dkim-result.xml", &s, &res,
	    (const char *const[]){"record 3: dkim result 'banana' (not none/pass/fail", NULL});
	assert_int_equal(res.records, 3);
	seen_free(&s);

	/* Issue 7: 13-digit timestamps are milliseconds. */
	expect_kept("reports/deviation-millisecond-timestamps.xml", &s, &res,
	            (const char *const[]){"date_range begin 1700006400000 is in milliseconds",
	                                  "date_range end 1700092799999 is in milliseconds", NULL});
	assert_int_equal(s.begin, 1700006400);
	assert_int_equal(s.end, 1700092799);
	seen_free(&s);

	/* Records without a usable sender are skipped alone, and counted;
	 * ::ffff:a.b.c.d is the IPv4 sender. */
	expect_kept(
	    "reports/deviation-unusable-sources.xml", &s, &res,
	    (const char *const[]){"record 1: source_ip '0.0.0.0' is the unspecified address",
	                          "record 3: source_ip '::' is the unspecified address", NULL});
	assert_int_equal(res.records, 1);
	assert_int_equal(res.skipped, 2);
	assert_string_equal(s.rec[0].ip, "198.51.100.7");
	seen_free(&s);

	expect_kept("hostile/xml-invalid-ip.xml", &s, &res,
	            (const char *const[]){"record 2: source_ip '999.1.2.3' is not an IP address "
	                                  "(record skipped)",
	                                  NULL});
	assert_int_equal(res.skipped, 1);
	seen_free(&s);
	expect_kept("hostile/xml-negative-count.xml", &s, &res,
	            (const char *const[]){"record 2: count '-5' is not", NULL});
	seen_free(&s);
	expect_kept("hostile/xml-huge-count.xml", &s, &res,
	            (const char *const[]){"record 1: count '99999999999999999999' is not", NULL});
	seen_free(&s);
	expect_kept("hostile/xml-non-numeric-count.xml", &s, &res,
	            (const char *const[]){"record 1: count 'abc' is not", NULL});
	seen_free(&s);

	/* A receiver that saw nothing: the header goes out, 0 records. */
	expect_kept("hostile/xml-no-records.xml", &s, &res,
	            (const char *const[]){"report has no records", NULL});
	assert_int_equal(s.headers, 1);
	assert_int_equal(res.records, 0);
	seen_free(&s);

	expect_kept("reports/xs-schema-unclosed-wrapper.xml", &s, &res,
	            (const char *const[]){"<feedback> is inside <schema>", NULL});
	seen_free(&s);

	expect_kept("reports/deviation-no-report-id.xml", &s, &res,
	            (const char *const[]){"report_id is missing", NULL});
	seen_free(&s);
}

/* Issue 7 and 13: bytes XML in UTF-8 cannot hold. */
static void test_bytes_kept(void **state)
{
	(void)state;
	struct seen s;
	struct aggr_result res;
	struct err e;

	expect_kept("reports/deviation-windows-1252-bytes.xml", &s, &res,
	            (const char *const[]){"invalid UTF-8 byte 0xE4 at byte 113 read as "
	                                  "Windows-1252 '\xC3\xA4'",
	                                  NULL});
	assert_string_equal(s.org_name, "Empf\xC3\xA4nger \xE2\x80\x93 Postamt");
	assert_string_equal(s.rec[0].dkim_selector[0], "s\xE2\x82\xAC"
	                                               "1");
	seen_free(&s);

	expect_kept("reports/deviation-nul-inside.xml", &s, &res,
	            (const char *const[]){"NUL byte at byte 130 dropped", NULL});
	assert_string_equal(s.org_name, "mail.receiver.example");
	seen_free(&s);

	/* NUL padding after </feedback> is trailing bytes: ignored. */
	memset(&s, 0, sizeof s);
	parse_file("reports/deviation-nul-padding.xml", false, &s, &res, &e, 0);
	assert_false(res.recovered);
	assert_string_equal(res.complaint, "");
	assert_int_equal(res.records, 3);
	seen_free(&s);

	/* UTF-16BE without a byte-order mark, with and without a declaration. */
	for (int i = 0; i < 2; i++) {
		memset(&s, 0, sizeof s);
		parse_file(i ? "reports/deviation-utf16be-no-bom.xml"
		             : "reports/deviation-utf16be-no-bom-no-decl.xml",
		           false, &s, &res, &e, 0);
		assert_int_equal(res.records, 3);
		assert_int_equal(res.messages, 16);
		assert_string_equal(s.org_name, "mail.receiver.example");
		assert_string_equal(s.rec[1].ip, "198.51.100.7");
		seen_free(&s);
	}

	/* A control byte inside, junk after the end: only the first counts. */
	static const char doc[] =
	    "<feedback><report_metadata><org_name>a\x01"
	    "b</org_name><report_id>c</report_id>"
	    "<date_range><begin>1</begin><end>2</end></date_range></report_metadata>"
	    "<policy_published><domain>example.com</domain></policy_published>"
	    "<record><row><source_ip>192.0.2.1</source_ip><count>1</count></row></record>"
	    "</feedback>\n\xff\x02";
	memset(&s, 0, sizeof s);
	struct aggr_handler h = {on_header, on_record, &s, NULL};
	err_clear(&e);
	assert_int_equal(aggr_parse_mem(doc, sizeof doc - 1, false, &h, &res, &e), 0);
	assert_true(res.recovered);
	assert_non_null(strstr(res.complaint, "control byte 0x01 at byte 38"));
	assert_null(strstr(res.complaint, "UTF-8"));
	assert_string_equal(s.org_name, "a\xEF\xBF\xBD"
	                                "b");
	seen_free(&s);
}

static void test_doctype_and_entities(void **state)
{
	(void)state;
	for (int recover = 0; recover <= 1; recover++) {
		expect_failure("hostile/xml-doctype-billion-laughs.xml", recover, "xml",
		               "DOCTYPE declarations are not allowed");
		expect_failure("hostile/xml-external-entity.xml", recover, "xml",
		               "DOCTYPE declarations are not allowed");
		expect_failure("hostile/xml-undefined-entity.xml", recover, "xml", "undefined");
	}
	/* A DOCTYPE after comments and a PI in the prolog is found too. */
	static const char doc[] = "<?xml version=\"1.0\"?>\n<!-- a comment -->\n<?pi x?>\n"
	                          "<!doctype feedback SYSTEM \"http://example.com/x.dtd\">\n"
	                          "<feedback/>";
	struct seen s;
	memset(&s, 0, sizeof s);
	struct aggr_handler h = {on_header, on_record, &s, NULL};
	struct aggr_result res;
	struct err e;
	err_clear(&e);
	assert_int_equal(aggr_parse_mem(doc, sizeof doc - 1, false, &h, &res, &e), -1);
	assert_non_null(strstr(e.msg, "DOCTYPE"));
	assert_int_equal(s.headers, 0);
}

static void test_stop_and_handler_errors(void **state)
{
	(void)state;
	struct seen s;
	memset(&s, 0, sizeof s);
	struct aggr_result res;
	struct err e;
	s.stop_header = 1;
	parse_file("reports/big-multi-record.xml", false, &s, &res, &e, 0);
	assert_true(res.stopped);
	assert_int_equal(s.headers, 1);
	assert_int_equal(s.records, 0);
	assert_int_equal(res.records, 0);
	seen_free(&s);

	s.stop_at = 2;
	parse_file("reports/big-multi-record.xml", false, &s, &res, &e, 0);
	assert_true(res.stopped);
	assert_int_equal(s.records, 2);
	assert_int_equal(res.records, 2);
	assert_int_equal(res.messages, s.messages);
	seen_free(&s);

	/* The handler's own error comes back untouched. */
	s.fail_at = 3;
	parse_file("reports/big-multi-record.xml", false, &s, &res, &e, -1);
	assert_string_equal(e.stage, "store");
	assert_int_equal(e.kind, ERR_RETRY);
	assert_string_equal(e.msg, "handler refused record 3");
	assert_int_equal(s.records, 3);
	seen_free(&s);
}

/* Reads a file one byte (or a few) at a time: every chunk boundary case. */
struct trickle {
	const char *data;
	size_t len, pos, step;
};

static ssize_t trickle_read(void *ctx, void *buf, size_t n, struct err *e)
{
	struct trickle *t = ctx;
	(void)e;
	size_t k = t->len - t->pos;
	if (k > t->step)
		k = t->step;
	if (k > n)
		k = n;
	memcpy(buf, t->data + t->pos, k);
	t->pos += k;
	return (ssize_t)k;
}

static void test_trickled_input(void **state)
{
	(void)state;
	static const char *const files[] = {
	    "reports/invalid-utf8.xml", "reports/bom.xml", "reports/xs-schema-unclosed-wrapper.xml",
	    "reports/raw-lt-in-text.xml", "reports/comments-cdata-attributes-with-brackets.xml"};
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		for (size_t step = 1; step <= 7; step += 6) {
			size_t len;
			char *data = slurp(files[i], &len);
			struct trickle t = {data, len, 0, step};
			struct seen s;
			memset(&s, 0, sizeof s);
			struct aggr_handler h = {on_header, on_record, &s, NULL};
			struct aggr_result res;
			struct err e;
			bool recover = strstr(files[i], "raw-lt") != NULL;
			err_clear(&e);
			int rc = aggr_parse(trickle_read, &t, recover, NULL, &h, &res, &e);
			if (rc != 0)
				fail_msg("%s step %zu: %s", files[i], step, e.msg);
			assert_int_equal(res.records, 3);
			assert_int_equal(res.messages, 16);
			if (i == 0)
				assert_string_equal(s.org_name, "Empf\xC3\xA4nger GmbH");
			seen_free(&s);
			free(data);
		}
	}
}

static void test_truncated_records_recover(void **state)
{
	(void)state;
	size_t len;
	char *data = slurp("reports/rfc7489-basic.xml", &len);
	/* Cut inside the third record: two whole records survive. */
	const char *third =
	    strstr(strstr(strstr(data, "<record>") + 1, "<record>") + 1, "<record>");
	assert_non_null(third);
	size_t cut = (size_t)(third - data) + 60;
	struct seen s;
	memset(&s, 0, sizeof s);
	struct aggr_result res;
	struct err e;
	const char *got = parse_like_pipeline(data, cut, &s, &res, &e);
	assert_string_equal(got, "recovered");
	assert_int_equal(res.records, 2);
	assert_int_equal(res.messages, 15);
	assert_non_null(strstr(res.complaint, "truncated"));
	seen_free(&s);
	/* Cut inside the header: nothing to salvage. */
	got = parse_like_pipeline(data, 200, &s, &res, &e);
	assert_string_equal(got, "fail:xml");
	assert_int_equal(s.headers, 0);
	seen_free(&s);
	free(data);
}

struct failing_reader {
	int calls;
};

static ssize_t failing_read(void *ctx, void *buf, size_t n, struct err *e)
{
	struct failing_reader *f = ctx;
	if (f->calls++ == 0) {
		static const char head[] = "<?xml version=\"1.0\"?>\n<feedback><report_metadata>";
		size_t k = sizeof head - 1 < n ? sizeof head - 1 : n;
		memcpy(buf, head, k);
		return (ssize_t)k;
	}
	err_stage(e, ERR_STAGE_UNPACK, ERR_INPUT, "gzip stream is corrupt");
	return -1;
}

static void test_read_error_propagates(void **state)
{
	(void)state;
	struct failing_reader f = {0};
	struct seen s;
	memset(&s, 0, sizeof s);
	struct aggr_handler h = {on_header, on_record, &s, NULL};
	struct aggr_result res;
	struct err e;
	err_clear(&e);
	assert_int_equal(aggr_parse(failing_read, &f, false, NULL, &h, &res, &e), -1);
	assert_string_equal(e.stage, "unpack");
	assert_string_equal(e.msg, "gzip stream is corrupt");
}

/* 200 MB of "<a>" produced lazily: the depth cap must refuse it early. */
struct bomb {
	uint64_t produced, limit;
};

static ssize_t bomb_read(void *ctx, void *buf, size_t n, struct err *e)
{
	struct bomb *b = ctx;
	(void)e;
	if (b->produced >= b->limit)
		return 0;
	size_t k = n - n % 3;
	if (k > b->limit - b->produced)
		k = (size_t)(b->limit - b->produced);
	char *p = buf;
	for (size_t i = 0; i + 3 <= k; i += 3)
		memcpy(p + i, "<a>", 3);
	b->produced += k;
	return (ssize_t)k;
}

static void test_depth_bomb(void **state)
{
	(void)state;
	for (int recover = 0; recover <= 1; recover++) {
		struct bomb b = {0, 200ULL * 1000 * 1000};
		struct seen s;
		memset(&s, 0, sizeof s);
		struct aggr_handler h = {on_header, on_record, &s, NULL};
		struct aggr_result res;
		struct err e;
		err_clear(&e);
		assert_int_equal(aggr_parse(bomb_read, &b, recover, NULL, &h, &res, &e), -1);
		print_message("depth bomb: %s after %llu bytes\n", e.msg,
		              (unsigned long long)b.produced);
		assert_string_equal(e.stage, "xml");
		assert_non_null(strstr(e.msg, "nested deeper than 64"));
		assert_true(b.produced < 1024 * 1024);
	}
}

static void test_limits(void **state)
{
	(void)state;
	size_t len;
	char *data = slurp("reports/several-dkim-results.xml", &len);
	struct trickle t = {data, len, 0, len};
	struct aggr_limits lim;
	aggr_limits_default(&lim);
	assert_int_equal(lim.max_depth, 64);
	lim.max_auth = 2;
	struct seen s;
	memset(&s, 0, sizeof s);
	struct aggr_handler h = {on_header, on_record, &s, NULL};
	struct aggr_result res;
	struct err e;
	err_clear(&e);
	assert_int_equal(aggr_parse(trickle_read, &t, false, &lim, &h, &res, &e), -1);
	assert_string_equal(e.stage, "validate");
	assert_non_null(strstr(e.msg, "more than 2 dkim entries"));
	seen_free(&s);
	free(data);

	data = slurp("reports/big-multi-record.xml", &len);
	struct trickle t2 = {data, len, 0, len};
	aggr_limits_default(&lim);
	lim.max_records = 100;
	err_clear(&e);
	assert_int_equal(aggr_parse(trickle_read, &t2, false, &lim, &h, &res, &e), -1);
	assert_non_null(strstr(e.msg, "more than 100 records"));
	assert_int_equal(res.records, 100);
	seen_free(&s);
	free(data);
}

/* Bytes of heap in use, as the allocator in force counts them. */
static size_t heap_in_use(void)
{
#ifdef HEAP_FROM_ASAN
	return __sanitizer_get_current_allocated_bytes();
#else
	return mallinfo2().uordblks;
#endif
}

/* A report of `total` records, produced lazily. */
struct gen {
	uint64_t total, emitted;
	int phase; /* 0 head, 1 records, 2 tail, 3 done */
	struct buf pending;
	size_t pos;
};

static void gen_next(struct gen *g)
{
	buf_reset(&g->pending);
	g->pos = 0;
	if (g->phase == 0) {
		buf_puts(&g->pending, "<?xml version=\"1.0\"?>\n<feedback><report_metadata>"
		                      "<org_name>gen.example</org_name><report_id>gen-1</report_id>"
		                      "<date_range><begin>1</begin><end>2</end></date_range>"
		                      "</report_metadata><policy_published><domain>example.com"
		                      "</domain><p>none</p></policy_published>\n");
		g->phase = 1;
	} else if (g->phase == 1) {
		uint64_t i = g->emitted++;
		buf_printf(&g->pending,
		           "<record><row><source_ip>198.51.%u.%u</source_ip><count>%u</count>"
		           "<policy_evaluated><disposition>none</disposition><dkim>pass</dkim>"
		           "<spf>fail</spf><reason><type>other</type><comment>c%llu</comment>"
		           "</reason></policy_evaluated></row><identifiers><header_from>"
		           "h%llu.example.com</header_from></identifiers><auth_results><dkim>"
		           "<domain>example.com</domain><selector>s%llu</selector><result>pass"
		           "</result></dkim><spf><domain>example.com</domain><result>fail</result>"
		           "</spf></auth_results><x:ext xmlns:x=\"urn:x\">v%llu</x:ext></record>\n",
		           (unsigned)(i / 250 % 250), (unsigned)(i % 250 + 1),
		           (unsigned)(i % 7 + 1), (unsigned long long)i, (unsigned long long)i,
		           (unsigned long long)i, (unsigned long long)i);
		if (g->emitted == g->total)
			g->phase = 2;
	} else if (g->phase == 2) {
		buf_puts(&g->pending, "</feedback>\n");
		g->phase = 3;
	}
}

static ssize_t gen_read(void *ctx, void *buf, size_t n, struct err *e)
{
	struct gen *g = ctx;
	(void)e;
	size_t out = 0;
	while (out < n) {
		if (g->pos == g->pending.len) {
			if (g->phase == 3)
				break;
			gen_next(g);
		}
		size_t k = g->pending.len - g->pos;
		if (k > n - out)
			k = n - out;
		memcpy((char *)buf + out, g->pending.data + g->pos, k);
		g->pos += k;
		out += k;
	}
	return (ssize_t)out;
}

struct heap_watch {
	uint64_t n;
	size_t at_first, max_after;
};

static int watch_record(void *ctx, const struct aggr_record *r, struct err *e)
{
	struct heap_watch *w = ctx;
	(void)e;
	assert_int_equal(r->n_reasons, 1);
	assert_non_null(r->extra_json);
	w->n++;
	size_t h = heap_in_use();
	if (w->n == 1000)
		w->at_first = h;
	else if (w->n > 1000 && h > w->max_after)
		w->max_after = h;
	return 0;
}

static void test_memory_flat(void **state)
{
	(void)state;
	struct gen g = {.total = 100000};
	buf_init(&g.pending, 0);
	struct heap_watch w = {0};
	struct aggr_handler h = {NULL, watch_record, &w, NULL};
	struct aggr_result res;
	struct err e;
	err_clear(&e);
	assert_int_equal(aggr_parse(gen_read, &g, false, NULL, &h, &res, &e), 0);
	assert_int_equal(res.records, 100000);
	assert_int_equal(w.n, 100000);
	print_message("heap after 1000 records: %zu, max after: %zu\n", w.at_first, w.max_after);
	assert_true(w.at_first > 0);
	/* 99000 more records, each with strings, a reason, auth results and an
	 * unknown element: the heap stays where it was (give or take 256 KiB). */
	assert_true(w.max_after < w.at_first + 256 * 1024);
	buf_free(&g.pending);
}

static void test_long_text(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 0);
	buf_puts(&b, "<feedback><report_metadata><org_name>");
	for (int i = 0; i < 70000; i++)
		buf_putc(&b, 'x');
	buf_puts(&b, "</org_name></report_metadata></feedback>");
	struct aggr_handler h = {NULL, NULL, NULL, NULL};
	struct aggr_result res;
	struct err e;
	err_clear(&e);
	assert_int_equal(aggr_parse_mem(b.data, b.len, false, &h, &res, &e), -1);
	assert_string_equal(e.stage, "validate");
	assert_non_null(strstr(e.msg, "<org_name> is longer than 65536 bytes"));
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_manifest),
	    cmocka_unit_test(test_rfc9990_extras),
	    cmocka_unit_test(test_unknown_elements_kept),
	    cmocka_unit_test(test_case_folding_and_variants),
	    cmocka_unit_test(test_values),
	    cmocka_unit_test(test_error_messages),
	    cmocka_unit_test(test_deviations_kept),
	    cmocka_unit_test(test_bytes_kept),
	    cmocka_unit_test(test_doctype_and_entities),
	    cmocka_unit_test(test_stop_and_handler_errors),
	    cmocka_unit_test(test_trickled_input),
	    cmocka_unit_test(test_truncated_records_recover),
	    cmocka_unit_test(test_read_error_propagates),
	    cmocka_unit_test(test_depth_bomb),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_memory_flat),
	    cmocka_unit_test(test_long_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
