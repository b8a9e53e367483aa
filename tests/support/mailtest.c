#include "tests/support/mailtest.h"

#include "core/buf.h"
#include "core/xalloc.h"
#include "tests/support/run.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <gmime/gmime.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

size_t mt_count(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

int64_t mt_sum_fetched(const char *out)
{
	int64_t sum = 0;
	for (const char *p = out; (p = strstr(p, " fetched")) != NULL; p++) {
		const char *q = p;
		while (q > out && q[-1] >= '0' && q[-1] <= '9')
			q--;
		if (q < p)
			sum += strtoll(q, NULL, 10);
	}
	return sum;
}

/* Sum of the <count> values of a report. */
static int64_t sum_counts(const char *xml)
{
	int64_t sum = 0;
	for (const char *p = xml; (p = strstr(p, "<count>")) != NULL; p += 7)
		sum += strtoll(p + 7, NULL, 10);
	return sum;
}

static char *gzip_bytes(const char *data, size_t len, size_t *out_len)
{
	z_stream z = {0};
	if (deflateInit2(&z, 9, Z_DEFLATED, 31, 9, Z_DEFAULT_STRATEGY) != Z_OK)
		abort();
	size_t cap = deflateBound(&z, len) + 64;
	char *out = xmalloc(cap);
	z.next_in = (Bytef *)(uintptr_t)data;
	z.avail_in = (uInt)len;
	z.next_out = (Bytef *)out;
	z.avail_out = (uInt)cap;
	if (deflate(&z, Z_FINISH) != Z_STREAM_END)
		abort();
	*out_len = z.total_out;
	deflateEnd(&z);
	return out;
}

static char *zip_bytes(const char *name, const char *data, size_t len, size_t *out_len)
{
	size_t cap = len + 4096, used = 0;
	char *out = xmalloc(cap);
	struct archive *a = archive_write_new();
	struct archive_entry *ae = archive_entry_new();
	if (archive_write_set_format_zip(a) != ARCHIVE_OK ||
	    archive_write_open_memory(a, out, cap, &used) != ARCHIVE_OK)
		abort();
	archive_entry_set_pathname(ae, name);
	archive_entry_set_size(ae, (la_int64_t)len);
	archive_entry_set_filetype(ae, AE_IFREG);
	archive_entry_set_perm(ae, 0644);
	if (archive_write_header(a, ae) != ARCHIVE_OK ||
	    archive_write_data(a, data, len) != (la_ssize_t)len ||
	    archive_write_close(a) != ARCHIVE_OK)
		abort();
	archive_entry_free(ae);
	archive_write_free(a);
	*out_len = used;
	return out;
}

/* A message with a short text part and one attachment, serialised by gmime. */
static char *mime_message(const char *subject, const char *type, const char *subtype,
                          const char *filename, const char *data, size_t len, size_t *out_len)
{
	GMimeMessage *m = g_mime_message_new(TRUE);
	g_mime_message_add_mailbox(m, GMIME_ADDRESS_TYPE_FROM, "Reporter",
	                           "noreply-dmarc@reporter.example.net");
	g_mime_message_add_mailbox(m, GMIME_ADDRESS_TYPE_TO, NULL, "rua@example.com");
	g_mime_message_set_subject(m, subject, NULL);
	g_mime_message_set_message_id(m, subject);
	GMimeMultipart *mp = g_mime_multipart_new_with_subtype("mixed");
	GMimeTextPart *text = g_mime_text_part_new_with_subtype("plain");
	g_mime_text_part_set_text(text, "This is a DMARC aggregate report.\n");
	g_mime_multipart_add(mp, GMIME_OBJECT(text));
	g_object_unref(text);
	GMimePart *part = g_mime_part_new_with_type(type, subtype);
	g_mime_part_set_filename(part, filename);
	GMimeStream *s = g_mime_stream_mem_new_with_buffer(data, len);
	GMimeDataWrapper *w =
	    g_mime_data_wrapper_new_with_stream(s, GMIME_CONTENT_ENCODING_DEFAULT);
	g_mime_part_set_content(part, w);
	g_mime_part_set_content_encoding(part, GMIME_CONTENT_ENCODING_BASE64);
	g_object_unref(w);
	g_object_unref(s);
	g_mime_multipart_add(mp, GMIME_OBJECT(part));
	g_object_unref(part);
	g_mime_message_set_mime_part(m, GMIME_OBJECT(mp));
	g_object_unref(mp);
	char *str = g_mime_object_to_string(GMIME_OBJECT(m), NULL);
	g_object_unref(m);
	char *out = xstrdup(str);
	g_free(str);
	*out_len = strlen(out);
	return out;
}

/* Prepends a header that makes the message's bytes unique. */
static char *with_header(const char *tag, size_t i, const char *data, size_t len, size_t *out_len)
{
	struct buf b;
	buf_init(&b, 0);
	buf_printf(&b, "X-Dmarcsift-Test: %s-%zu\n", tag, i);
	buf_append(&b, data, len);
	*out_len = b.len;
	return buf_steal(&b);
}

static void add(struct mt_corpus *c, char *data, size_t len, enum mt_kind kind)
{
	c->msgs = xrealloc(c->msgs, (c->n + 1) * sizeof *c->msgs);
	c->msgs[c->n++] = (struct mt_msg){.data = data, .len = len, .kind = kind};
}

void mt_corpus_build(struct mt_corpus *c, const char *tag, size_t reports, size_t broken,
                     size_t dsn, size_t unrelated)
{
	static bool gmime_ready;
	if (!gmime_ready) {
		g_mime_init();
		gmime_ready = true;
	}
	memset(c, 0, sizeof *c);
	size_t tlen, dlen, plen, flen;
	char *tmpl = slurp(FIXTURES_DIR "/archives/report-plain.xml", &tlen);
	char *dsn_eml = slurp(FIXTURES_DIR "/mail/classify/dsn.eml", &dlen);
	char *plain = slurp(FIXTURES_DIR "/mail/classify/plain.eml", &plen);
	/* Unrelated: mail that is none of the kinds we read (a failure report is
	 * read since issue 13, so spam stands in for it). */
	char *fail = slurp(FIXTURES_DIR "/route/spam.eml", &flen);
	const char *id = "<report_id>arch-plain-1</report_id>";
	char *at = strstr(tmpl, id);
	if (!at)
		abort();
	c->records_per_report = (int64_t)mt_count(tmpl, "<record>");
	c->messages_per_report = sum_counts(tmpl);
	size_t total = reports + broken + dsn + unrelated;
	size_t ri = 0, bi = 0, di = 0, ui = 0;
	/* Interleaved, so every kind shows up all through the run. */
	for (size_t i = 0; i < total; i++) {
		size_t len = 0;
		char *msg = NULL;
		size_t slot = i % 20;
		if (slot == 7 && bi < broken) {
			char subj[96];
			snprintf(subj, sizeof subj, "broken report %s-%zu", tag, bi);
			/* Cut inside a record: not a complete report, even when recovered. */
			size_t cut = (size_t)(strstr(tmpl, "<record>") - tmpl) + 20;
			msg =
			    mime_message(subj, "application", "xml", "broken.xml", tmpl, cut, &len);
			add(c, msg, len, MT_BROKEN);
			bi++;
		} else if (slot == 11 && di < dsn) {
			msg = with_header(tag, i, dsn_eml, dlen, &len);
			add(c, msg, len, MT_DSN);
			di++;
		} else if (slot == 15 && ui < unrelated) {
			msg = ui % 2 ? with_header(tag, i, fail, flen, &len)
			             : with_header(tag, i, plain, plen, &len);
			add(c, msg, len, MT_UNRELATED);
			ui++;
		} else if (ri < reports) {
			struct buf x;
			buf_init(&x, 0);
			buf_append(&x, tmpl, (size_t)(at - tmpl));
			buf_printf(&x, "<report_id>%s-%zu</report_id>", tag, ri);
			buf_puts(&x, at + strlen(id));
			char subj[96], fname[96];
			snprintf(subj, sizeof subj, "Report domain: example.com id %s-%zu", tag,
			         ri);
			size_t zl;
			char *z;
			switch (ri % 3) {
			case 0:
				snprintf(fname, sizeof fname, "reporter!example.com!%zu.xml", ri);
				msg = mime_message(subj, "text", "xml", fname, x.data, x.len, &len);
				break;
			case 1:
				snprintf(fname, sizeof fname, "reporter!example.com!%zu.xml.gz",
				         ri);
				z = gzip_bytes(x.data, x.len, &zl);
				msg = mime_message(subj, "application", "gzip", fname, z, zl, &len);
				free(z);
				break;
			default:
				snprintf(fname, sizeof fname, "reporter!example.com!%zu.zip", ri);
				z = zip_bytes("report.xml", x.data, x.len, &zl);
				msg = mime_message(subj, "application", "zip", fname, z, zl, &len);
				free(z);
				break;
			}
			buf_free(&x);
			add(c, msg, len, MT_REPORT);
			ri++;
		} else {
			total++; /* this slot's kind is used up: take another turn */
		}
	}
	c->n_reports = ri;
	c->n_broken = bi;
	c->n_dsn = di;
	c->n_unrelated = ui;
	free(tmpl);
	free(dsn_eml);
	free(plain);
	free(fail);
}

void mt_corpus_free(struct mt_corpus *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->msgs[i].data);
	free(c->msgs);
	memset(c, 0, sizeof *c);
}

pid_t mt_spawn(const char *const *args, const char *outfile)
{
	int fd = open(outfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		abort();
	pid_t pid = run_spawn(args, NULL, fd, true);
	close(fd);
	return pid;
}

int mt_wait(pid_t pid)
{
	return run_wait(pid);
}

int mt_run(const char *const *args, char **out)
{
	char path[] = "/tmp/mailtest-out.XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		abort();
	close(fd);
	int rc = mt_wait(mt_spawn(args, path));
	size_t len;
	char *text = slurp(path, &len);
	unlink(path);
	fputs(text, stdout); /* the test log shows what the binary said */
	if (out)
		*out = text;
	else
		free(text);
	return rc;
}

char *mt_write_file(const char *dir, const char *name, const char *text)
{
	char *path = xasprintf("%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0)
		abort();
	chmod(path, 0600);
	return path;
}

char *mt_tmpdir(const char *name)
{
	char *tmpl = xasprintf("/tmp/dmarcsift-%s.XXXXXX", name);
	if (!mkdtemp(tmpl))
		abort();
	chmod(tmpl, 0755);
	return tmpl;
}

int64_t mt_wait_count(const char *conninfo, const char *sql, int64_t min, double secs)
{
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	int64_t v = -1;
	PGconn *conn = PQconnectdb(conninfo);
	for (;;) {
		PGresult *res = PQexec(conn, sql);
		if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
			v = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		PQclear(res);
		clock_gettime(CLOCK_MONOTONIC, &now);
		double el = (double)(now.tv_sec - start.tv_sec) +
		            (double)(now.tv_nsec - start.tv_nsec) / 1e9;
		if (v >= min || el > secs)
			break;
		struct timespec ts = {.tv_nsec = 5000000};
		nanosleep(&ts, NULL);
	}
	PQfinish(conn);
	return v;
}

static int progress_load(void *ctx, struct source_progress *p, struct err *e)
{
	(void)e;
	*p = ((struct mt_progress *)ctx)->p;
	return 0;
}

static int progress_save(void *ctx, const struct source_progress *p, struct err *e)
{
	(void)e;
	struct mt_progress *k = ctx;
	k->p = *p;
	k->saves++;
	return 0;
}

struct source_memory mt_progress_memory(struct mt_progress *k)
{
	return (struct source_memory){progress_load, progress_save, k};
}
