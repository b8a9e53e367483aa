/* mime: every mail fixture must yield its report parts, in order, and each
 * part must unpack to the payload XML it was built from, byte for byte. The
 * classify fixtures route as DSN / failure report / other; the hostile mails
 * fail at the stage and with the reason their manifest line names. */
#include "ingest/mime.h"

#include "core/buf.h"
#include "core/xalloc.h"
#include "ingest/unpack.h"
#include "support/fixtures.h"
#include "support/run.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAIL    FIXTURES_DIR "/mail/"
#define HOSTILE FIXTURES_DIR "/hostile/"

static const struct {
	const char *eml;
	const char *payload[2]; /* under mail/payload/, in MIME order */
	const char *type0;      /* declared type of the first report part, NULL: none */
	const char *name0;      /* its file name, NULL: none */
} valid[] = {
    {"google-zip.eml",
     {"google-zip.xml"},
     "application/zip",
     "google.com!example.com!1700006400!1700092799.zip"},
    {"gzip-attachment.eml",
     {"gzip-attachment.xml"},
     "application/gzip",
     "reporter.example.net!example.com!1700092800!1700179199.xml.gz"},
    {"x-gzip.eml", {"x-gzip.xml"}, "application/x-gzip", NULL},
    {"octet-stream.eml", {"octet-stream.xml"}, "application/octet-stream", NULL},
    {"x-zip-compressed.eml", {"x-zip-compressed.xml"}, "application/x-zip-compressed", NULL},
    {"text-xml.eml", {"text-xml.xml"}, "text/xml", NULL},
    {"wrong-type.eml", {"wrong-type.xml"}, "text/plain", "report.dat"},
    {"fastmail-inline.eml", {"fastmail-inline.xml"}, "application/gzip", NULL},
    {"gz-in-gz.eml", {"gz-in-gz.xml"}, "application/gzip", "report.xml.gz.gz"},
    {"gzip-trailing-crlf.eml", {"gzip-trailing-crlf.xml"}, "application/gzip", NULL},
    {"mimecast-single-part.eml",
     {"mimecast-single-part.xml"},
     "application/gzip",
     "mimecast.org!example.com!1700870400!1700956799.xml.gz"},
    /* "ContentType:" is no Content-Type header: no type, found by content. */
    {"trustwave-contenttype.eml", {"trustwave-contenttype.xml"}, NULL, NULL},
    {"nested-mixed.eml", {"nested-mixed.xml"}, "application/gzip", "report.xml.gz"},
    {"forwarded-rfc822.eml", {"forwarded-rfc822.xml"}, "application/zip", NULL},
    {"two-reports.eml", {"two-reports-a.xml", "two-reports-b.xml"}, "application/gzip", "a.xml.gz"},
};

struct collect {
	size_t n;
	struct buf xml[4];
	char *type0, *name0;
};

static int collect_part(void *ctx, const struct mime_part *p, struct err *e)
{
	struct collect *c = ctx;
	if (c->n >= 4)
		return err_set(e, ERR_INTERNAL, "too many parts");
	if (c->n == 0) {
		c->type0 = p->content_type ? xstrdup(p->content_type) : NULL;
		c->name0 = p->filename ? xstrdup(p->filename) : NULL;
	}
	buf_init(&c->xml[c->n], 0);
	return fx_unpack_all(p->data, p->len, NULL, 4096, &c->xml[c->n++], e);
}

static void collect_free(struct collect *c)
{
	for (size_t i = 0; i < c->n; i++)
		buf_free(&c->xml[i]);
	free(c->type0);
	free(c->name0);
}

static char *load(const char *dir, const char *name, size_t *len)
{
	char *path = xasprintf("%s%s", dir, name);
	char *data = slurp(path, len);
	free(path);
	return data;
}

static void test_valid_mails(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
		size_t len, nparts = 99, want = valid[i].payload[1] ? 2 : 1;
		char *eml = load(MAIL, valid[i].eml, &len);
		struct collect c = {0};
		struct err e = {0};

		assert_true(mime_looks_like_message(eml, len));
		if (mime_extract(eml, len, collect_part, &c, &nparts, &e) != 0)
			fail_msg("%s: [%s] %s", valid[i].eml, e.stage, e.msg);
		if (nparts != want || c.n != want)
			fail_msg("%s: %zu parts (%zu callbacks), want %zu", valid[i].eml, nparts,
			         c.n, want);
		for (size_t k = 0; k < want; k++) {
			size_t xmllen;
			char *name = xasprintf("payload/%s", valid[i].payload[k]);
			char *xml = load(MAIL, name, &xmllen);
			if (c.xml[k].len != xmllen || memcmp(c.xml[k].data, xml, xmllen) != 0)
				fail_msg("%s part %zu: %zu bytes differ from %s (%zu bytes)",
				         valid[i].eml, k, c.xml[k].len, name, xmllen);
			free(xml);
			free(name);
		}
		if (valid[i].type0)
			assert_string_equal(c.type0, valid[i].type0);
		else
			assert_null(c.type0);
		if (valid[i].name0)
			assert_string_equal(c.name0, valid[i].name0);
		assert_int_equal(mime_classify(eml, len), MIME_AGGREGATE);
		collect_free(&c);
		free(eml);
	}
}

static void test_classify(void **state)
{
	(void)state;
	static const struct {
		const char *eml;
		enum mime_kind kind;
	} cases[] = {
	    {"classify/dsn.eml", MIME_DSN},
	    {"classify/failure-report.eml", MIME_FAILURE_REPORT},
	    {"classify/plain.eml", MIME_OTHER},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t len, nparts = 99;
		char *eml = load(MAIL, cases[i].eml, &len);
		struct collect c = {0};
		struct err e = {0};
		assert_true(mime_looks_like_message(eml, len));
		if (mime_classify(eml, len) != cases[i].kind)
			fail_msg("%s: classified %d, want %d", cases[i].eml,
			         mime_classify(eml, len), cases[i].kind);
		/* None of them carries an aggregate report. */
		assert_int_equal(mime_extract(eml, len, collect_part, &c, &nparts, &e), -1);
		assert_int_equal(nparts, 0);
		assert_string_equal(e.stage, "mime");
		assert_non_null(strstr(e.msg, "no report attachment found"));
		collect_free(&c);
		free(eml);
	}
	/* Bare archives and XML are reports, not messages. */
	size_t len;
	char *gz = load(FIXTURES_DIR "/archives/", "report-gzip.xml.gz", &len);
	assert_false(mime_looks_like_message(gz, len));
	assert_int_equal(mime_classify(gz, len), MIME_AGGREGATE);
	free(gz);
	assert_int_equal(mime_classify("hello world\n", 12), MIME_OTHER);
}

static void test_looks_like_message(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		bool want;
	} cases[] = {
	    {"From MAILER-DAEMON Thu Nov 30 08:00:00 2023\n", true},
	    {"Return-Path: <>\n", true},
	    {"Received: from x by y\n", true},
	    {"X-Custom-Header:value\n", true},
	    {"Delivered-To: dmarc@example.com\r\n", true},
	    {"<?xml version=\"1.0\"?><feedback/>", false},
	    {"\xef\xbb\xbf<feedback/>", false},
	    {"\x1f\x8b\x08\x00", false},
	    {"PK\x03\x04", false},
	    {"Nov 30 08:00:00 mx postfix/smtp[1]: 4BzX: to=<a@b>, status=bounced\n", false},
	    {"time,ip,from,to\n", false},
	    {": no name\n", false},
	    {"Name With Space: v\n", false},
	    {"Subject", false},
	    {"", false},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		if (mime_looks_like_message(cases[i].text, strlen(cases[i].text)) != cases[i].want)
			fail_msg("case %zu ('%s'): want %d", i, cases[i].text, cases[i].want);
}

/* The mail-* lines of the manifest: a failing part aborts with the unpacker's
 * stage, a message without a report part fails at stage "mime". */
static void test_hostile_manifest(void **state)
{
	(void)state;
	struct fx_row *rows;
	size_t n = fx_manifest_load(HOSTILE "MANIFEST-unpack.tsv", &rows), seen = 0;
	for (size_t i = 0; i < n; i++) {
		if (strncmp(rows[i].file, "mail-", 5) != 0)
			continue;
		size_t len, nparts;
		char *eml = load(HOSTILE, rows[i].file, &len);
		struct collect c = {0};
		struct err e = {0};
		assert_true(mime_looks_like_message(eml, len));
		if (mime_extract(eml, len, collect_part, &c, &nparts, &e) == 0)
			fail_msg("%s: extracted %zu parts, want failure", rows[i].file, nparts);
		assert_int_equal(e.kind, ERR_INPUT);
		if (strcmp(e.stage, rows[i].stage) != 0 || !strstr(e.msg, rows[i].reason))
			fail_msg("%s: got [%s] '%s', want [%s] containing '%s'", rows[i].file,
			         e.stage, e.msg, rows[i].stage, rows[i].reason);
		collect_free(&c);
		free(eml);
		seen++;
	}
	assert_true(seen >= 5);
	fx_manifest_free(rows, n);
}

static int fail_part(void *ctx, const struct mime_part *p, struct err *e)
{
	(void)p;
	(*(int *)ctx)++;
	return err_stage(e, ERR_STAGE_STORE, ERR_RETRY, "database went away");
}

/* A callback failure stops the walk and its error comes back untouched. */
static void test_callback_error(void **state)
{
	(void)state;
	size_t len, nparts;
	int calls = 0;
	char *eml = load(MAIL, "two-reports.eml", &len);
	struct err e = {0};
	assert_int_equal(mime_extract(eml, len, fail_part, &calls, &nparts, &e), -1);
	assert_int_equal(calls, 1);
	assert_int_equal(e.kind, ERR_RETRY);
	assert_string_equal(e.stage, "store");
	assert_string_equal(e.msg, "database went away");
	free(eml);
}

static void header(struct buf *b)
{
	buf_puts(b, "From: a@example.com\nSubject: caps\nMIME-Version: 1.0\n");
}

static void test_caps(void **state)
{
	(void)state;
	struct buf b;
	struct err e = {0};
	size_t nparts;
	struct collect c = {0};

	/* 1500 sibling parts. */
	buf_init(&b, 0);
	header(&b);
	buf_puts(&b, "Content-Type: multipart/mixed; boundary=\"b\"\n\n");
	for (int i = 0; i < 1500; i++)
		buf_puts(&b, "--b\nContent-Type: text/plain\n\nx\n");
	buf_puts(&b, "--b--\n");
	assert_int_equal(mime_extract(b.data, b.len, collect_part, &c, &nparts, &e), -1);
	assert_string_equal(e.stage, "mime");
	assert_non_null(strstr(e.msg, "more than 1000 MIME parts"));
	buf_free(&b);

	/* 100 levels of nesting, a report at the bottom. */
	err_clear(&e);
	buf_init(&b, 0);
	header(&b);
	for (int i = 0; i < 100; i++)
		buf_printf(&b, "Content-Type: multipart/mixed; boundary=\"n%d\"\n\n--n%d\n", i, i);
	buf_puts(&b, "Content-Type: text/xml\n\n<feedback/>\n");
	for (int i = 99; i >= 0; i--)
		buf_printf(&b, "--n%d--\n", i);
	assert_int_equal(mime_extract(b.data, b.len, collect_part, &c, &nparts, &e), -1);
	assert_string_equal(e.stage, "mime");
	assert_non_null(strstr(e.msg, "nesting deeper than"));
	buf_free(&b);

	/* Ten levels are fine: the report at the bottom is found. */
	err_clear(&e);
	buf_init(&b, 0);
	header(&b);
	for (int i = 0; i < 10; i++)
		buf_printf(&b, "Content-Type: multipart/mixed; boundary=\"n%d\"\n\n--n%d\n", i, i);
	buf_puts(&b, "Content-Type: text/xml\n\n<feedback/>\n");
	for (int i = 9; i >= 0; i--)
		buf_printf(&b, "--n%d--\n", i);
	if (mime_extract(b.data, b.len, collect_part, &c, &nparts, &e) != 0)
		fail_msg("10 levels: [%s] %s", e.stage, e.msg);
	assert_int_equal(nparts, 1);
	/* The line break before a boundary belongs to the boundary. */
	assert_int_equal(c.xml[0].len, strlen("<feedback/>"));
	assert_memory_equal(c.xml[0].data, "<feedback/>", c.xml[0].len);
	buf_free(&b);
	collect_free(&c);
}

/* Hostile and odd mail must not make gmime or libarchive write to stderr. */
static void test_quiet(void **state)
{
	(void)state;
	static const char *const files[] = {
	    HOSTILE "mail-bad-base64.eml",    HOSTILE "mail-base64-garbage.eml",
	    HOSTILE "mail-unused-body.eml",   HOSTILE "mail-unused-gzip.eml",
	    MAIL "trustwave-contenttype.eml", MAIL "classify/dsn.eml",
	    HOSTILE "archive-truncated.zip",  HOSTILE "archive-corrupt.xml.gz",
	};
	char path[] = "/tmp/test_mime_stderr.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	fflush(stderr);
	int saved = dup(2);
	assert_true(saved >= 0);
	assert_int_equal(dup2(fd, 2), 2);
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		size_t len, nparts;
		char *data = slurp(files[i], &len);
		struct collect c = {0};
		struct err e = {0};
		(void)mime_classify(data, len);
		(void)mime_extract(data, len, collect_part, &c, &nparts, &e);
		collect_free(&c);
		free(data);
	}
	/* Headers with broken encodings and a truncated multipart, made here. */
	static const char broken[] = "From: =?x-unknown?B?////?=\nSubject: =?utf-8?Q?=ZZ?=\n"
	                             "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
	                             "Content-Type: application/gzip; name*=x''%ff%fe.gz\n"
	                             "Content-Transfer-Encoding: quoted-printable\n\n=1F=8B=0";
	size_t nparts;
	struct err e = {0};
	struct collect c = {0};
	(void)mime_extract(broken, sizeof broken - 1, collect_part, &c, &nparts, &e);
	collect_free(&c);
	fflush(stderr);
	assert_int_equal(dup2(saved, 2), 2);
	close(saved);
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	close(fd);
	unlink(path);
	if (st.st_size != 0)
		fail_msg("%lld bytes were written to stderr", (long long)st.st_size);
	assert_string_equal(e.stage, "unpack");
}

int main(void)
{
	mime_init();
	mime_init(); /* idempotent */
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_valid_mails),
	    cmocka_unit_test(test_classify),
	    cmocka_unit_test(test_looks_like_message),
	    cmocka_unit_test(test_hostile_manifest),
	    cmocka_unit_test(test_callback_error),
	    cmocka_unit_test(test_caps),
	    cmocka_unit_test(test_quiet),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
