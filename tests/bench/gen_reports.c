/*
 * gen_reports: the benchmark corpus generator (tests/bench/bench_ingest.sh).
 *
 *   gen_reports small DIR N ROWS.tsv
 *       N small reports (1..50 records each) in DIR, one in three each as
 *       .xml, .xml.gz and .zip, some in the RFC 9990 namespace;
 *   gen_reports big OUT.xml OUT.xml.gz ROWS.tsv NRECORDS
 *       one report of NRECORDS records, plain and gzip-compressed;
 *   gen_reports fixed GZDIR EMLDIR N NRECORDS ROWS.tsv
 *       N reports of exactly NRECORDS records each (tests/bench/bench_small.sh):
 *       each as a .xml.gz file in GZDIR and as the same .xml.gz attached
 *       (base64) to an .eml message in EMLDIR, as a reporter mails it.
 *
 * Records are realistic and varied: IPv4 and IPv6 sources, zero to three
 * DKIM results and one or two SPF results per record, some policy override
 * reasons, optional envelope_from/envelope_to. The output is deterministic
 * (a fixed-seed PRNG), so runs are comparable.
 *
 * ROWS.tsv holds the same rows in the COPY text format of dmarcsift.records
 * (tenant_id, report_pk, seq, source_ip, count, disposition, dkim, spf,
 * header_from, envelope_from, envelope_to, reasons, dkim_auth, spf_auth,
 * extra) with the JSON arrays spelled as the store spells them, for the bare
 * COPY baseline. tenant_id is 0 (the `unassigned` tenant) and report_pk is
 * the 1-based report number.
 *
 * A benchmark tool, not part of dmarcsift: errors print a message and exit 1.
 */
#include <archive.h>
#include <archive_entry.h>
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* Where the XML goes: a stdio stream, a gzip stream, or both. */
struct out {
	FILE *xml;
	gzFile gz;
};

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

/* xorshift64*: fast, deterministic, good enough for test data. */
static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717u;
}

static unsigned pick(unsigned n)
{
	return (unsigned)(rnd() % n);
}

static bool chance(unsigned percent)
{
	return pick(100) < percent;
}

static void die(const char *what)
{
	fprintf(stderr, "gen_reports: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void emit(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void emit(struct out *o, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof line) {
		fprintf(stderr, "gen_reports: line too long\n");
		exit(1);
	}
	if (o->xml && fwrite(line, 1, (size_t)n, o->xml) != (size_t)n)
		die("write");
	if (o->gz && gzwrite(o->gz, line, (unsigned)n) != n) {
		fprintf(stderr, "gen_reports: gzwrite failed\n");
		exit(1);
	}
}

static const char *const selectors[] = {"s1",        "s2", "google", "selector1",
                                        "selector2", "k1", "mail",   "dkim2024"};
static const char *const services[] = {"sendgrid.net",
                                       "amazonses.com",
                                       "mailchimp.example",
                                       "mktomail.example",
                                       "outbound.protection.example",
                                       "mailgun.example"};
static const char *const reason_types[] = {"forwarded", "local_policy", "mailing_list",
                                           "sampled_out", "trusted_forwarder"};
static const char *const dkim_results[] = {"pass",    "pass",      "pass", "fail",
                                           "neutral", "temperror", "none", "policy"};
static const char *const spf_results[] = {"pass",     "pass",    "pass", "fail",
                                          "softfail", "neutral", "none", "temperror"};

/* One record's values, shared by the XML and the TSV writer. */
struct rec {
	char ip[INET6_ADDRSTRLEN];
	unsigned count;
	const char *disposition, *dkim, *spf;
	const char *reason_type;
	bool reason_comment;
	char header_from[96];
	char envelope_from[128];
	bool has_envelope_from, has_envelope_to;
	unsigned n_dkim, n_spf;
	char dkim_domain[3][128];
	const char *dkim_selector[3], *dkim_result[3];
	bool dkim_human[3];
	char spf_domain[2][128];
	const char *spf_scope[2], *spf_result[2];
};

static void make_ip(char *out)
{
	if (chance(75)) {
		unsigned char a[4];
		/* Several provider-like /16s plus scattered addresses. */
		static const unsigned char nets[][2] = {{198, 51}, {203, 0},  {192, 0},
		                                        {209, 85}, {40, 107}, {52, 100}};
		if (chance(60)) {
			const unsigned char *n = nets[pick(6)];
			a[0] = n[0];
			a[1] = n[1];
		} else {
			a[0] = (unsigned char)(1 + pick(223));
			a[1] = (unsigned char)pick(256);
		}
		a[2] = (unsigned char)pick(256);
		a[3] = (unsigned char)(1 + pick(254));
		inet_ntop(AF_INET, a, out, INET6_ADDRSTRLEN);
	} else {
		unsigned char a[16] = {0x20, 0x01, 0x0d, 0xb8};
		a[4] = (unsigned char)pick(4);
		a[5] = (unsigned char)pick(256);
		/* Mostly sparse interface ids, as mail servers use, so inet_ntop
		 * gets to write "::" runs. */
		if (chance(50)) {
			a[14] = (unsigned char)pick(256);
			a[15] = (unsigned char)(1 + pick(255));
		} else {
			for (int i = 8; i < 16; i++)
				a[i] = (unsigned char)pick(256);
		}
		inet_ntop(AF_INET6, a, out, INET6_ADDRSTRLEN);
	}
}

static void make_rec(struct rec *r, const char *domain)
{
	make_ip(r->ip);
	r->count = chance(70) ? 1 + pick(5) : 1 + pick(5000);
	r->dkim = chance(80) ? "pass" : "fail";
	r->spf = chance(75) ? "pass" : "fail";
	bool aligned = !strcmp(r->dkim, "pass") || !strcmp(r->spf, "pass");
	r->disposition = aligned ? "none" : (chance(50) ? "reject" : "quarantine");
	r->reason_type = chance(8) ? reason_types[pick(5)] : NULL;
	r->reason_comment = r->reason_type && chance(50);
	if (chance(70))
		snprintf(r->header_from, sizeof r->header_from, "%s", domain);
	else
		snprintf(r->header_from, sizeof r->header_from, "news.%s", domain);
	const char *svc = services[pick(6)];
	r->has_envelope_from = chance(80);
	if (chance(50))
		snprintf(r->envelope_from, sizeof r->envelope_from, "bounce.%s", domain);
	else
		snprintf(r->envelope_from, sizeof r->envelope_from, "em%u.%s", pick(1000), svc);
	r->has_envelope_to = chance(30);
	r->n_dkim = chance(10) ? 0 : 1 + pick(3);
	for (unsigned i = 0; i < r->n_dkim; i++) {
		if (i == 0)
			snprintf(r->dkim_domain[i], sizeof r->dkim_domain[i], "%s", domain);
		else
			snprintf(r->dkim_domain[i], sizeof r->dkim_domain[i], "%s", svc);
		r->dkim_selector[i] = selectors[pick(8)];
		r->dkim_result[i] = i == 0 ? r->dkim : dkim_results[pick(8)];
		r->dkim_human[i] = chance(5);
	}
	r->n_spf = chance(80) ? 1 : 2;
	for (unsigned i = 0; i < r->n_spf; i++) {
		snprintf(r->spf_domain[i], sizeof r->spf_domain[i], "%s", r->envelope_from);
		r->spf_scope[i] = i == 1 ? "helo" : (chance(85) ? "mfrom" : NULL);
		r->spf_result[i] = i == 0 ? r->spf : spf_results[pick(8)];
	}
}

static void write_rec_xml(struct out *o, const struct rec *r)
{
	emit(o,
	     "  <record>\n    <row>\n      <source_ip>%s</source_ip>\n      <count>%u</count>\n"
	     "      <policy_evaluated>\n        <disposition>%s</disposition>\n"
	     "        <dkim>%s</dkim>\n        <spf>%s</spf>\n",
	     r->ip, r->count, r->disposition, r->dkim, r->spf);
	if (r->reason_type) {
		if (r->reason_comment)
			emit(o,
			     "        <reason>\n          <type>%s</type>\n"
			     "          <comment>arc=pass as.%s</comment>\n        </reason>\n",
			     r->reason_type, r->envelope_from);
		else
			emit(o, "        <reason>\n          <type>%s</type>\n        </reason>\n",
			     r->reason_type);
	}
	emit(o, "      </policy_evaluated>\n    </row>\n    <identifiers>\n");
	if (r->has_envelope_to)
		emit(o, "      <envelope_to>%s</envelope_to>\n", "mx.recipient.example");
	if (r->has_envelope_from)
		emit(o, "      <envelope_from>%s</envelope_from>\n", r->envelope_from);
	emit(o, "      <header_from>%s</header_from>\n    </identifiers>\n    <auth_results>\n",
	     r->header_from);
	for (unsigned i = 0; i < r->n_dkim; i++) {
		emit(o,
		     "      <dkim>\n        <domain>%s</domain>\n        <selector>%s</selector>\n"
		     "        <result>%s</result>\n",
		     r->dkim_domain[i], r->dkim_selector[i], r->dkim_result[i]);
		if (r->dkim_human[i])
			emit(o, "        <human_result>signature verified</human_result>\n");
		emit(o, "      </dkim>\n");
	}
	for (unsigned i = 0; i < r->n_spf; i++) {
		emit(o, "      <spf>\n        <domain>%s</domain>\n", r->spf_domain[i]);
		if (r->spf_scope[i])
			emit(o, "        <scope>%s</scope>\n", r->spf_scope[i]);
		emit(o, "        <result>%s</result>\n      </spf>\n", r->spf_result[i]);
	}
	emit(o, "    </auth_results>\n  </record>\n");
}

/* JSON string or null, as json-c prints it (our values need no escaping). */
static void jstr(FILE *f, const char *key, const char *v, bool last)
{
	if (v)
		fprintf(f, "\"%s\":\"%s\"%s", key, v, last ? "" : ",");
	else
		fprintf(f, "\"%s\":null%s", key, last ? "" : ",");
}

static void write_rec_tsv(FILE *f, const struct rec *r, unsigned report_pk, unsigned seq)
{
	char comment[192];
	fprintf(f, "0\t%u\t%u\t%s\t%u\t%s\t%s\t%s\t%s\t%s\t%s\t[", report_pk, seq, r->ip, r->count,
	        r->disposition, r->dkim, r->spf, r->header_from,
	        r->has_envelope_from ? r->envelope_from : "\\N",
	        r->has_envelope_to ? "mx.recipient.example" : "\\N");
	if (r->reason_type) {
		snprintf(comment, sizeof comment, "arc=pass as.%s", r->envelope_from);
		fputc('{', f);
		jstr(f, "type", r->reason_type, false);
		jstr(f, "comment", r->reason_comment ? comment : NULL, true);
		fputc('}', f);
	}
	fputs("]\t[", f);
	for (unsigned i = 0; i < r->n_dkim; i++) {
		fputs(i ? ",{" : "{", f);
		jstr(f, "domain", r->dkim_domain[i], false);
		jstr(f, "selector", r->dkim_selector[i], false);
		jstr(f, "result", r->dkim_result[i], false);
		jstr(f, "human_result", r->dkim_human[i] ? "signature verified" : NULL, true);
		fputc('}', f);
	}
	fputs("]\t[", f);
	for (unsigned i = 0; i < r->n_spf; i++) {
		fputs(i ? ",{" : "{", f);
		jstr(f, "domain", r->spf_domain[i], false);
		jstr(f, "scope", r->spf_scope[i], false);
		jstr(f, "result", r->spf_result[i], false);
		jstr(f, "human_result", NULL, true);
		fputc('}', f);
	}
	fputs("]\t\\N\n", f);
}

static void write_header(struct out *o, unsigned n, const char *domain, bool rfc9990, int64_t begin)
{
	emit(o, "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n");
	if (rfc9990)
		emit(o, "<feedback xmlns=\"urn:ietf:params:xml:ns:dmarc-2.0\">\n"
		        "  <version>1.0</version>\n");
	else
		emit(o, "<feedback>\n  <version>1.0</version>\n");
	emit(o,
	     "  <report_metadata>\n    <org_name>reporter%u.example</org_name>\n"
	     "    <email>noreply-dmarc-support@reporter%u.example</email>\n"
	     "    <extra_contact_info>https://reporter%u.example/dmarc</extra_contact_info>\n"
	     "    <report_id>%" PRIu64 "</report_id>\n",
	     n % 17, n % 17, n % 17, (uint64_t)begin * 1000 + n);
	if (rfc9990)
		emit(o, "    <generator>bench-gen 1.0</generator>\n");
	emit(o,
	     "    <date_range>\n      <begin>%" PRId64 "</begin>\n      <end>%" PRId64 "</end>\n"
	     "    </date_range>\n  </report_metadata>\n  <policy_published>\n"
	     "    <domain>%s</domain>\n    <adkim>r</adkim>\n    <aspf>r</aspf>\n"
	     "    <p>%s</p>\n    <sp>none</sp>\n",
	     begin, begin + 86399, domain, n % 3 == 0 ? "reject" : "none");
	if (rfc9990)
		emit(o, "    <np>reject</np>\n    <testing>n</testing>\n"
		        "    <discovery_method>treewalk</discovery_method>\n");
	else
		emit(o, "    <pct>100</pct>\n");
	emit(o, "    <fo>1</fo>\n  </policy_published>\n");
}

static void write_report(struct out *o, FILE *tsv, unsigned n, unsigned nrec, bool rfc9990)
{
	char domain[64];
	struct rec r;
	snprintf(domain, sizeof domain, "client%u.example", n % 250);
	write_header(o, n, domain, rfc9990, 1767225600 + (int64_t)(n / 250) * 86400);
	for (unsigned i = 0; i < nrec; i++) {
		make_rec(&r, domain);
		write_rec_xml(o, &r);
		write_rec_tsv(tsv, &r, n, i);
	}
	emit(o, "</feedback>\n");
}

/* A zip holding one XML entry, written with libarchive. */
static void write_zip(const char *path, const char *entry, const char *data, size_t len)
{
	struct archive *a = archive_write_new();
	struct archive_entry *ae = archive_entry_new();
	if (archive_write_set_format_zip(a) != ARCHIVE_OK ||
	    archive_write_open_filename(a, path) != ARCHIVE_OK)
		goto fail;
	archive_entry_set_pathname(ae, entry);
	archive_entry_set_filetype(ae, AE_IFREG);
	archive_entry_set_perm(ae, 0644);
	archive_entry_set_size(ae, (la_int64_t)len);
	if (archive_write_header(a, ae) != ARCHIVE_OK ||
	    archive_write_data(a, data, len) != (la_ssize_t)len ||
	    archive_write_close(a) != ARCHIVE_OK)
		goto fail;
	archive_entry_free(ae);
	archive_write_free(a);
	return;
fail:
	fprintf(stderr, "gen_reports: %s: %s\n", path, archive_error_string(a));
	exit(1);
}

static int gen_small(const char *dir, unsigned count, const char *tsv_path)
{
	FILE *tsv = fopen(tsv_path, "w");
	char path[4096], entry[128];
	uint64_t records = 0;
	if (!tsv)
		die(tsv_path);
	for (unsigned n = 1; n <= count; n++) {
		unsigned nrec = 1 + pick(50);
		bool rfc9990 = n % 5 == 0;
		struct out o = {0};
		char *mem = NULL;
		size_t memlen = 0;
		switch (n % 3) {
		case 0:
			snprintf(path, sizeof path, "%s/report-%05u.xml", dir, n);
			if (!(o.xml = fopen(path, "w")))
				die(path);
			break;
		case 1:
			snprintf(path, sizeof path, "%s/report-%05u.xml.gz", dir, n);
			if (!(o.gz = gzopen(path, "wb6")))
				die(path);
			break;
		default:
			snprintf(path, sizeof path, "%s/report-%05u.zip", dir, n);
			if (!(o.xml = open_memstream(&mem, &memlen)))
				die("open_memstream");
			break;
		}
		write_report(&o, tsv, n, nrec, rfc9990);
		if (o.xml && fclose(o.xml) != 0)
			die(path);
		if (o.gz && gzclose(o.gz) != Z_OK)
			die(path);
		if (mem) {
			snprintf(entry, sizeof entry,
			         "reporter%u.example!client%u.example!%05u.xml", n % 17, n % 250,
			         n);
			write_zip(path, entry, mem, memlen);
			free(mem);
		}
		records += nrec;
	}
	if (fclose(tsv) != 0)
		die(tsv_path);
	printf("reports %u\nrecords %" PRIu64 "\n", count, records);
	return 0;
}

static int gen_big(const char *xml_path, const char *gz_path, const char *tsv_path, unsigned nrec)
{
	struct out o = {0};
	static char xbuf[1 << 20], tbuf[1 << 20];
	FILE *tsv = fopen(tsv_path, "w");
	if (!tsv)
		die(tsv_path);
	if (!(o.xml = fopen(xml_path, "w")))
		die(xml_path);
	if (!(o.gz = gzopen(gz_path, "wb6")))
		die(gz_path);
	setvbuf(o.xml, xbuf, _IOFBF, sizeof xbuf);
	setvbuf(tsv, tbuf, _IOFBF, sizeof tbuf);
	gzbuffer(o.gz, 1 << 18);
	write_report(&o, tsv, 1, nrec, false);
	if (fclose(o.xml) != 0)
		die(xml_path);
	if (gzclose(o.gz) != Z_OK)
		die(gz_path);
	if (fclose(tsv) != 0)
		die(tsv_path);
	printf("reports 1\nrecords %u\n", nrec);
	return 0;
}

static void base64_lines(FILE *f, const unsigned char *d, size_t n)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t col = 0;
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)d[i] << 16;
		if (i + 1 < n)
			v |= (unsigned)d[i + 1] << 8;
		if (i + 2 < n)
			v |= d[i + 2];
		char q[4] = {tab[(v >> 18) & 63], tab[(v >> 12) & 63],
		             i + 1 < n ? tab[(v >> 6) & 63] : '=', i + 2 < n ? tab[v & 63] : '='};
		fwrite(q, 1, 4, f);
		if ((col += 4) >= 76) {
			fputs("\r\n", f);
			col = 0;
		}
	}
	if (col)
		fputs("\r\n", f);
}

static int gen_fixed(const char *gzdir, const char *emldir, unsigned count, unsigned nrec,
                     const char *tsv_path)
{
	FILE *tsv = fopen(tsv_path, "w");
	char path[4096];
	if (!tsv)
		die(tsv_path);
	for (unsigned n = 1; n <= count; n++) {
		char *mem = NULL;
		size_t memlen = 0;
		struct out o = {0};
		if (!(o.xml = open_memstream(&mem, &memlen)))
			die("open_memstream");
		write_report(&o, tsv, n, nrec, n % 5 == 0);
		if (fclose(o.xml) != 0)
			die("open_memstream");
		/* gzip (not zlib) framing, as reporters send .xml.gz. */
		z_stream zs;
		memset(&zs, 0, sizeof zs);
		if (deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
			die("deflateInit2");
		uLong cap = deflateBound(&zs, (uLong)memlen) + 64;
		unsigned char *gz = malloc(cap);
		if (!gz)
			die("malloc");
		zs.next_in = (Bytef *)mem;
		zs.avail_in = (uInt)memlen;
		zs.next_out = gz;
		zs.avail_out = (uInt)cap;
		if (deflate(&zs, Z_FINISH) != Z_STREAM_END)
			die("deflate");
		size_t gzlen = cap - zs.avail_out;
		deflateEnd(&zs);

		char name[160];
		snprintf(name, sizeof name, "reporter%u.example!client%u.example!%u!%u.xml.gz",
		         n % 17, n % 250, 1700000000u + n, 1700086400u + n);
		snprintf(path, sizeof path, "%s/report-%05u.xml.gz", gzdir, n);
		FILE *f = fopen(path, "w");
		if (!f || fwrite(gz, 1, gzlen, f) != gzlen || fclose(f) != 0)
			die(path);
		snprintf(path, sizeof path, "%s/report-%05u.eml", emldir, n);
		if (!(f = fopen(path, "w")))
			die(path);
		fprintf(f,
		        "From: noreply-dmarc@reporter%u.example\r\n"
		        "To: dmarc@client%u.example\r\n"
		        "Subject: Report Domain: client%u.example Submitter: reporter%u.example"
		        " Report-ID: <%u>\r\n"
		        "Date: Tue, 14 Nov 2023 00:00:00 +0000\r\n"
		        "Message-ID: <bench-%u@reporter%u.example>\r\n"
		        "MIME-Version: 1.0\r\n"
		        "Content-Type: multipart/mixed; boundary=\"b%u\"\r\n\r\n"
		        "--b%u\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
		        "This is an aggregate report.\r\n\r\n"
		        "--b%u\r\nContent-Type: application/gzip; name=\"%s\"\r\n"
		        "Content-Disposition: attachment; filename=\"%s\"\r\n"
		        "Content-Transfer-Encoding: base64\r\n\r\n",
		        n % 17, n % 250, n % 250, n % 17, n, n, n % 17, n, n, n, name, name);
		base64_lines(f, gz, gzlen);
		fprintf(f, "\r\n--b%u--\r\n", n);
		if (fclose(f) != 0)
			die(path);
		free(gz);
		free(mem);
	}
	if (fclose(tsv) != 0)
		die(tsv_path);
	printf("reports %u\nrecords %" PRIu64 "\n", count, (uint64_t)count * nrec);
	return 0;
}

static unsigned parse_count(const char *s)
{
	char *end = NULL;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < 1 || v > 100000000) {
		fprintf(stderr, "gen_reports: bad count '%s'\n", s);
		exit(2);
	}
	return (unsigned)v;
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "small"))
		return gen_small(argv[2], parse_count(argv[3]), argv[4]);
	if (argc == 6 && !strcmp(argv[1], "big"))
		return gen_big(argv[2], argv[3], argv[4], parse_count(argv[5]));
	if (argc == 7 && !strcmp(argv[1], "fixed"))
		return gen_fixed(argv[2], argv[3], parse_count(argv[4]), parse_count(argv[5]),
		                 argv[6]);
	fprintf(stderr, "usage: gen_reports small DIR N ROWS.tsv\n"
	                "       gen_reports big OUT.xml OUT.xml.gz ROWS.tsv NRECORDS\n"
	                "       gen_reports fixed GZDIR EMLDIR N NRECORDS ROWS.tsv\n");
	return 2;
}
