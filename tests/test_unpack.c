/* unpack: every archive fixture must yield, byte for byte, the plain XML it
 * was made from; every hostile archive must fail at stage "unpack" with the
 * reason its manifest line names; the caps trip at the limits derived from
 * the fixture sizes. */
#include "ingest/unpack.h"

#include "core/buf.h"
#include "core/xalloc.h"
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
#include <zlib.h>

#define ARCH    FIXTURES_DIR "/archives/"
#define HOSTILE FIXTURES_DIR "/hostile/"

static const struct {
	const char *input, *xml, *entry; /* entry: zip entry name, NULL otherwise */
	enum unpack_kind kind;
} valid[] = {
    {"report-plain.xml", "report-plain.xml", NULL, UNPACK_XML},
    {"report-bom.xml", "report-bom.xml", NULL, UNPACK_XML},
    {"report-gzip.xml.gz", "report-gzip.xml", NULL, UNPACK_GZIP},
    {"report-gzgz.xml.gz.gz", "report-gzgz.xml", NULL, UNPACK_GZIP},
    {"report-crlf.xml.gz", "report-crlf.xml", NULL, UNPACK_GZIP},
    {"report-garbage.xml.gz", "report-garbage.xml", NULL, UNPACK_GZIP},
    {"report-zip.zip", "report-zip.xml", "google.com!example.org!1700265600!1700351999.xml",
     UNPACK_ZIP},
    {"report-zip-macosx.zip", "report-zip-macosx.xml", "reports/report.xml", UNPACK_ZIP},
};

static char *load(const char *dir, const char *name, size_t *len)
{
	char *path = xasprintf("%s%s", dir, name);
	char *data = slurp(path, len);
	free(path);
	return data;
}

static void assert_unpacks_to(const void *in, size_t inlen, const struct unpack_limits *lim,
                              size_t chunk, const char *want, size_t wantlen, const char *label)
{
	struct err e = {0};
	struct buf out;
	buf_init(&out, 0);
	if (fx_unpack_all(in, inlen, lim, chunk, &out, &e) != 0)
		fail_msg("%s (chunk %zu): [%s] %s", label, chunk, e.stage, e.msg);
	if (out.len != wantlen || memcmp(out.data, want, wantlen) != 0)
		fail_msg("%s (chunk %zu): got %zu bytes, want the %zu bytes of the plain XML",
		         label, chunk, out.len, wantlen);
	buf_free(&out);
}

static void test_valid_fixtures(void **state)
{
	(void)state;
	static const size_t chunks[] = {65536, 4096, 7, 1};
	for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
		size_t inlen, xmllen;
		char *in = load(ARCH, valid[i].input, &inlen);
		char *xml = load(ARCH, valid[i].xml, &xmllen);
		assert_int_equal(unpack_sniff(in, inlen), valid[i].kind);
		for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++)
			assert_unpacks_to(in, inlen, NULL, chunks[c], xml, xmllen, valid[i].input);

		struct unpack *u = NULL;
		struct err e = {0};
		assert_int_equal(unpack_open(&u, in, inlen, NULL, &e), 0);
		if (valid[i].entry)
			assert_string_equal(unpack_entry_name(u), valid[i].entry);
		else
			assert_null(unpack_entry_name(u));
		unpack_free(u);
		free(in);
		free(xml);
	}
}

static void assert_fails(const void *in, size_t inlen, const struct unpack_limits *lim,
                         const char *stage, const char *reason, const char *label)
{
	struct err e = {0};
	struct buf out;
	buf_init(&out, 0);
	if (fx_unpack_all(in, inlen, lim, 65536, &out, &e) == 0)
		fail_msg("%s: unpacked %zu bytes, want failure '%s'", label, out.len, reason);
	assert_int_equal(e.kind, ERR_INPUT);
	if (strcmp(e.stage, stage) != 0 || !strstr(e.msg, reason))
		fail_msg("%s: got [%s] '%s', want [%s] containing '%s'", label, e.stage, e.msg,
		         stage, reason);
	buf_free(&out);
}

/* The archive-* lines of the manifest the end-to-end test also uses. */
static void test_hostile_manifest(void **state)
{
	(void)state;
	struct fx_row *rows;
	size_t n = fx_manifest_load(HOSTILE "MANIFEST-unpack.tsv", &rows), seen = 0;
	for (size_t i = 0; i < n; i++) {
		if (strncmp(rows[i].file, "archive-", 8) != 0)
			continue;
		size_t len;
		char *in = load(HOSTILE, rows[i].file, &len);
		assert_fails(in, len, NULL, rows[i].stage, rows[i].reason, rows[i].file);
		free(in);
		seen++;
	}
	assert_true(seen >= 10);
	fx_manifest_free(rows, n);
}

static void test_size_cap(void **state)
{
	(void)state;
	size_t inlen, xmllen;
	char *in = load(ARCH, "report-gzip.xml.gz", &inlen);
	char *xml = load(ARCH, "report-gzip.xml", &xmllen);
	struct unpack_limits lim;
	unpack_limits_default(&lim);

	lim.max_bytes = xmllen;
	assert_unpacks_to(in, inlen, &lim, 100, xml, xmllen, "max_bytes = size");
	lim.max_bytes = xmllen - 1;
	assert_fails(in, inlen, &lim, "unpack", "exceeds the cap of", "max_bytes = size - 1");
	free(in);
	free(xml);
}

static void test_ratio_cap(void **state)
{
	(void)state;
	static const char *const pairs[][2] = {
	    {"report-gzip.xml.gz", "report-gzip.xml"},
	    {"report-zip.zip", "report-zip.xml"},
	};
	for (size_t i = 0; i < 2; i++) {
		size_t inlen, xmllen;
		char *in = load(ARCH, pairs[i][0], &inlen);
		char *xml = load(ARCH, pairs[i][1], &xmllen);
		struct unpack_limits lim;
		unpack_limits_default(&lim);
		/* The smallest ratio the fixture satisfies: ceil(xml / compressed). */
		uint64_t need = (xmllen + inlen - 1) / inlen;
		assert_true(need >= 2);
		lim.max_ratio = need;
		assert_unpacks_to(in, inlen, &lim, 4096, xml, xmllen, pairs[i][0]);
		lim.max_ratio = need - 1;
		assert_fails(in, inlen, &lim, "unpack", "bomb refused: decompressed size exceeds",
		             pairs[i][0]);
		free(in);
		free(xml);
	}
}

static void test_entry_cap(void **state)
{
	(void)state;
	size_t inlen, xmllen;
	char *in = load(ARCH, "report-zip-macosx.zip", &inlen);
	char *xml = load(ARCH, "report-zip-macosx.xml", &xmllen);
	struct unpack_limits lim;
	unpack_limits_default(&lim);
	/* reports/, reports/report.xml, __MACOSX/, __MACOSX/reports/, ._report.xml */
	lim.max_entries = 5;
	assert_unpacks_to(in, inlen, &lim, 4096, xml, xmllen, "5 entries allowed");
	lim.max_entries = 4;
	assert_fails(in, inlen, &lim, "unpack", "zip holds more than 4 entries", "4 allowed");
	free(in);
	free(xml);
}

/* gzip of `xml` followed by `tail` bytes, built with zlib. */
static unsigned char *gzip_mem(const void *xml, size_t len, const void *tail, size_t taillen,
                               size_t *outlen)
{
	z_stream z = {0};
	size_t cap = deflateBound(&z, len) + 64 + taillen;
	unsigned char *out = xmalloc(cap);
	assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, 31, 9, Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = (unsigned char *)(uintptr_t)xml;
	z.avail_in = (uInt)len;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	*outlen = z.total_out;
	deflateEnd(&z);
	memcpy(out + *outlen, tail, taillen);
	*outlen += taillen;
	return out;
}

/* A bomb is stopped while streaming, near the cap, not at its end. */
static void test_ratio_stops_early(void **state)
{
	(void)state;
	size_t big = 8u << 20, gzlen;
	char *xml = xmalloc(big);
	memset(xml, ' ', big);
	memcpy(xml, "<feedback>", 10);
	unsigned char *gz = gzip_mem(xml, big, "", 0, &gzlen);
	struct unpack_limits lim;
	unpack_limits_default(&lim);
	lim.max_ratio = 50;
	struct unpack *u = NULL;
	struct err e = {0};
	char chunk[4096];
	ssize_t n;
	uint64_t total = 0;
	assert_int_equal(unpack_open(&u, gz, gzlen, &lim, &e), 0);
	while ((n = unpack_read(u, chunk, sizeof chunk, &e)) > 0)
		total += (uint64_t)n;
	assert_int_equal(n, -1);
	assert_non_null(strstr(e.msg, "gzip bomb refused: decompressed size exceeds 50x"));
	assert_true(total <= 50 * (uint64_t)gzlen);
	assert_true(total + sizeof chunk > 50 * (uint64_t)gzlen);
	/* Once failed, the handle stays failed. */
	assert_int_equal(unpack_read(u, chunk, sizeof chunk, &e), -1);
	unpack_free(u);
	free(gz);
	free(xml);
}

/* Trailing bytes after the member: CRLF, text, and even a false gzip magic. */
static void test_trailing_bytes(void **state)
{
	(void)state;
	static const struct {
		const char *tail;
		size_t len;
	} tails[] = {{"\r\n", 2}, {"\n", 1}, {"\0\0\0\0", 4}, {"\x1f\x8bjunk", 6}, {"x", 1}};
	size_t xmllen;
	char *xml = load(ARCH, "report-plain.xml", &xmllen);
	for (size_t i = 0; i < sizeof tails / sizeof tails[0]; i++) {
		size_t gzlen;
		unsigned char *gz = gzip_mem(xml, xmllen, tails[i].tail, tails[i].len, &gzlen);
		char label[32];
		snprintf(label, sizeof label, "trailing case %zu", i);
		assert_unpacks_to(gz, gzlen, NULL, 4096, xml, xmllen, label);
		free(gz);
	}
	free(xml);
}

static void test_sniff_and_refusals(void **state)
{
	(void)state;
	static const struct {
		const char *bytes;
		size_t len;
		enum unpack_kind kind;
	} cases[] = {
	    {"\x1f\x8b\x08", 3, UNPACK_GZIP},
	    {"PK\x03\x04", 4, UNPACK_ZIP},
	    {"PK\x05\x06", 4, UNPACK_ZIP},
	    {"<feedback/>", 11, UNPACK_XML},
	    {"\xef\xbb\xbf<x/>", 7, UNPACK_XML},
	    {" \r\n\t<x/>", 8, UNPACK_XML},
	    {"\xef\xbb\xbf", 3, UNPACK_UNKNOWN},
	    {"unused", 6, UNPACK_UNKNOWN},
	    {"\x1f", 1, UNPACK_UNKNOWN},
	    {"PK\x03", 3, UNPACK_UNKNOWN},
	    {"", 0, UNPACK_UNKNOWN},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		if (unpack_sniff(cases[i].bytes, cases[i].len) != cases[i].kind)
			fail_msg("sniff case %zu", i);

	assert_fails("", 0, NULL, "unpack", "empty input", "empty");
	assert_fails("unused\r\n", 8, NULL, "unpack",
	             "not a report: neither XML, gzip nor zip (starts with 'unused\\x0d\\x0a')",
	             "unused");
	/* An empty zip (only the end-of-central-directory record). */
	static const char empty_zip[22] = "PK\x05\x06";
	assert_fails(empty_zip, sizeof empty_zip, NULL, "unpack", "zip holds no XML entry",
	             "empty zip");
	/* Only the gzip magic. */
	assert_fails("\x1f\x8b", 2, NULL, "unpack", "corrupt gzip stream", "gzip magic only");
	/* gzip magic with a bad header must not be passed through raw. */
	assert_fails("\x1f\x8b\x09\x00\x00\x00\x00\x00\x00\x03<feedback/>", 21, NULL, "unpack",
	             "corrupt gzip stream", "bad gzip method");
	/* zip magic without a zip structure behind it. */
	assert_fails("PK\x03\x04<feedback/>", 15, NULL, "unpack", "corrupt zip archive",
	             "zip magic only");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_valid_fixtures), cmocka_unit_test(test_hostile_manifest),
	    cmocka_unit_test(test_size_cap),       cmocka_unit_test(test_ratio_cap),
	    cmocka_unit_test(test_entry_cap),      cmocka_unit_test(test_ratio_stops_early),
	    cmocka_unit_test(test_trailing_bytes), cmocka_unit_test(test_sniff_and_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
