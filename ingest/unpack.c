/*
 * unpack: plain XML passes through untouched; gzip and zip go through
 * libarchive, restricted to the gzip filter and the zip and raw formats.
 *
 * gzip: the raw format reads the decompressed stream as one entry. libarchive
 * stacks filters by itself, so a gzip inside a gzip is unwrapped by a second
 * gzip filter; we only cap how deep that goes. Bytes after the end of the
 * last gzip member that do not start another member end the stream cleanly.
 *
 * zip: read from memory, so libarchive uses the central directory. A first
 * pass over the headers counts entries, refuses encrypted ones and picks the
 * one XML entry; a second pass re-opens the archive and streams that entry.
 *
 * Every byte handed out is counted against the size and ratio caps as it is
 * produced, so a bomb stops at the cap instead of at the end of the data.
 */
#include "ingest/unpack.h"

#include "core/xalloc.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define STAGE    ERR_STAGE_UNPACK
#define PEEK_CAP 4096
/* gzip filters libarchive may stack: the report's own plus two wrappers. */
#define MAX_GZIP_DEPTH 3

struct unpack {
	enum unpack_kind kind;
	enum unpack_kind doc;      /* what the document is: UNPACK_XML or UNPACK_JSON */
	const unsigned char *data; /* NULL when reading from fd */
	int fd;                    /* -1 when reading from memory */
	size_t len;
	struct unpack_limits lim;
	struct archive *a;
	char *entry_name;
	const char *what; /* "gzip" or "zip", for messages */
	size_t pos;       /* pass-through position (UNPACK_XML) */
	unsigned char peek[PEEK_CAP];
	size_t peek_len, peek_pos;
	uint64_t total;
	bool eof;
	bool failed;
};

void unpack_limits_default(struct unpack_limits *l)
{
	l->max_bytes = UINT64_C(512) * 1024 * 1024;
	l->max_ratio = 1000;
	l->max_entries = 16;
}

static size_t skip_bom_space(const unsigned char *p, size_t len)
{
	size_t i = 0;
	if (len >= 3 && p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf)
		i = 3;
	while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
		i++;
	return i;
}

enum unpack_kind unpack_sniff(const void *data, size_t len)
{
	const unsigned char *p = data;
	if (len >= 2 && p[0] == 0x1f && p[1] == 0x8b)
		return UNPACK_GZIP;
	/* A local file header, or the end record of an empty archive. */
	if (len >= 4 && p[0] == 'P' && p[1] == 'K' &&
	    ((p[2] == 3 && p[3] == 4) || (p[2] == 5 && p[3] == 6)))
		return UNPACK_ZIP;
	size_t i = skip_bom_space(p, len);
	if (i < len && p[i] == '<')
		return UNPACK_XML;
	/* UTF-16, with its byte-order mark or starting '<' in either byte order:
	 * libxml2 decodes it; some Windows-based reporters send it. */
	if (len >= 2 && ((p[0] == 0xff && p[1] == 0xfe) || (p[0] == 0xfe && p[1] == 0xff) ||
	                 (p[0] == '<' && p[1] == 0) || (p[0] == 0 && p[1] == '<')))
		return UNPACK_XML;
	/* A JSON object: an SMTP TLS report (RFC 8460). */
	if (i < len && p[i] == '{')
		return UNPACK_JSON;
	return UNPACK_UNKNOWN;
}

/* Untrusted bytes made printable for a one-line message, at most `max` of them. */
static void printable(char *out, size_t outsz, const void *src, size_t len, size_t max)
{
	const unsigned char *p = src;
	size_t o = 0;
	if (len > max)
		len = max;
	for (size_t i = 0; i < len && o + 5 < outsz; i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\'' && p[i] != '\\') {
			out[o++] = (char)p[i];
		} else {
			int n = snprintf(out + o, outsz - o, "\\x%02x", p[i]);
			if (n < 0 || (size_t)n >= outsz - o)
				break;
			o += (size_t)n;
		}
	}
	out[o] = '\0';
}

static void set_name(struct unpack *u, const char *name)
{
	free(u->entry_name);
	u->entry_name = xstrdup(name ? name : "");
}

static int archive_fail(struct unpack *u, struct err *e)
{
	const char *s = archive_error_string(u->a);
	return err_stage(e, STAGE, ERR_INPUT, "corrupt %s %s: %s", u->what,
	                 u->kind == UNPACK_ZIP ? "archive" : "stream", s ? s : "unknown error");
}

/* Counts produced bytes against the caps. */
static int account(struct unpack *u, size_t n, struct err *e)
{
	u->total += n;
	if (u->lim.max_bytes && u->total > u->lim.max_bytes)
		return err_stage(e, STAGE, ERR_INPUT,
		                 "%s bomb refused: decompressed size exceeds the cap of %" PRIu64
		                 " bytes",
		                 u->what, u->lim.max_bytes);
	/* total > ratio * len, without the multiplication overflowing. */
	if (u->lim.max_ratio && u->len && (u->total - 1) / u->len >= u->lim.max_ratio)
		return err_stage(e, STAGE, ERR_INPUT,
		                 "%s bomb refused: decompressed size exceeds %" PRIu64
		                 "x the compressed size",
		                 u->what, u->lim.max_ratio);
	return 0;
}

static int open_archive(struct unpack *u, struct err *e)
{
	archive_read_free(u->a);
	u->a = archive_read_new();
	if (archive_read_support_filter_gzip(u->a) != ARCHIVE_OK ||
	    archive_read_support_format_zip(u->a) != ARCHIVE_OK ||
	    archive_read_support_format_raw(u->a) != ARCHIVE_OK)
		return err_stage(e, STAGE, ERR_INTERNAL, "libarchive lacks gzip/zip support: %s",
		                 archive_error_string(u->a));
	int rc;
	if (u->fd >= 0) {
		if (lseek(u->fd, 0, SEEK_SET) != 0)
			return err_stage(e, STAGE, ERR_INTERNAL, "cannot rewind input: %s",
			                 strerror(errno));
		rc = archive_read_open_fd(u->a, u->fd, 65536);
	} else {
		rc = archive_read_open_memory(u->a, u->data, u->len);
	}
	if (rc != ARCHIVE_OK)
		return archive_fail(u, e);
	return 0;
}

static bool is_zip_format(struct archive *a)
{
	return (archive_format(a) & ARCHIVE_FORMAT_BASE_MASK) == ARCHIVE_FORMAT_ZIP;
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

/* Directories and the resource-fork litter some zip tools add; `name` is
 * the entry's pathname (NULL when it has none). */
static bool is_junk(struct archive_entry *ent, const char *name)
{
	if (!name || archive_entry_filetype(ent) == AE_IFDIR || has_suffix(name, "/"))
		return true;
	const char *base = strrchr(name, '/');
	base = base ? base + 1 : name;
	return strncmp(name, "__MACOSX/", 9) == 0 || strncmp(base, "._", 2) == 0 ||
	       strcmp(base, ".DS_Store") == 0;
}

/* First pass over a zip: returns the index of the entry to read. */
static int choose_zip_entry(struct unpack *u, int *chosen, bool *named_xml, struct err *e)
{
	struct archive_entry *ent;
	unsigned count = 0, nxml = 0, nregular = 0;
	int xml_idx = -1, regular_idx = -1, r;
	char name[256];

	while ((r = archive_read_next_header(u->a, &ent)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
		/* libarchive falls back to the raw format when no zip structure parses. */
		if (!is_zip_format(u->a))
			return err_stage(e, STAGE, ERR_INPUT,
			                 "corrupt zip archive: no zip structure found");
		if (++count > u->lim.max_entries)
			return err_stage(e, STAGE, ERR_INPUT,
			                 "zip holds more than %u entries; refused",
			                 u->lim.max_entries);
		const char *path = archive_entry_pathname(ent);
		printable(name, sizeof name, path ? path : "", path ? strlen(path) : 0, 80);
		if (archive_entry_is_encrypted(ent))
			return err_stage(e, STAGE, ERR_INPUT, "encrypted zip entry '%s' refused",
			                 name);
		if (is_junk(ent, path))
			continue;
		/* The central directory declares sizes: refuse a bomb before inflating. */
		uint64_t sz =
		    archive_entry_size_is_set(ent) ? (uint64_t)archive_entry_size(ent) : 0;
		if (u->lim.max_ratio && sz && (sz - 1) / u->len >= u->lim.max_ratio)
			return err_stage(e, STAGE, ERR_INPUT,
			                 "zip bomb refused: decompressed size exceeds %" PRIu64
			                 "x the compressed size (entry '%s' declares %" PRIu64
			                 " bytes from %zu)",
			                 u->lim.max_ratio, name, sz, u->len);
		if (u->lim.max_bytes && sz > u->lim.max_bytes)
			return err_stage(e, STAGE, ERR_INPUT,
			                 "zip bomb refused: entry '%s' declares %" PRIu64
			                 " bytes, above the cap of %" PRIu64 " bytes",
			                 name, sz, u->lim.max_bytes);
		nregular++;
		regular_idx = (int)count - 1;
		if (has_suffix(path, ".xml")) {
			nxml++;
			xml_idx = (int)count - 1;
		}
	}
	if (r != ARCHIVE_EOF)
		return archive_fail(u, e);
	if (nxml > 1)
		return err_stage(e, STAGE, ERR_INPUT, "zip holds %u XML entries; one expected",
		                 nxml);
	if (nxml == 1) {
		*chosen = xml_idx;
		*named_xml = true;
		return 0;
	}
	/* No *.xml name: a single file may still be the report; the peek decides. */
	if (nregular == 1) {
		*chosen = regular_idx;
		*named_xml = false;
		return 0;
	}
	return err_stage(e, STAGE, ERR_INPUT, "zip holds no XML entry (%u files)", nregular);
}

static int open_zip(struct unpack *u, bool *named_xml, struct err *e)
{
	struct archive_entry *ent = NULL;
	int chosen = -1;

	if (open_archive(u, e) != 0 || choose_zip_entry(u, &chosen, named_xml, e) != 0)
		return -1;
	/* Second pass: re-open and skip to the chosen entry (no decompression). */
	if (open_archive(u, e) != 0)
		return -1;
	for (int i = 0; i <= chosen; i++) {
		int r = archive_read_next_header(u->a, &ent);
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
			return archive_fail(u, e);
	}
	set_name(u, archive_entry_pathname(ent));
	return 0;
}

static int open_gzip(struct unpack *u, struct err *e)
{
	struct archive_entry *ent;

	if (open_archive(u, e) != 0)
		return -1;
	int r = archive_read_next_header(u->a, &ent);
	if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
		return archive_fail(u, e);
	if (is_zip_format(u->a))
		return err_stage(e, STAGE, ERR_INPUT, "zip archive inside gzip refused");
	/* Filters are gzip layers plus the bottom "none" reader. */
	int depth = archive_filter_count(u->a) - 1;
	/* gzip magic that libarchive would not take as gzip: it read the bytes raw. */
	if (depth < 1)
		return err_stage(e, STAGE, ERR_INPUT, "corrupt gzip stream: invalid gzip header");
	if (depth > MAX_GZIP_DEPTH)
		return err_stage(e, STAGE, ERR_INPUT, "gzip nested %d levels deep refused (max %d)",
		                 depth, MAX_GZIP_DEPTH);
	return 0;
}

/* Reads the first bytes of the document so a non-XML payload is named at once. */
static int peek_document(struct unpack *u, bool named_xml, struct err *e)
{
	char start[128], name[128];

	while (u->peek_len < PEEK_CAP) {
		la_ssize_t n =
		    archive_read_data(u->a, u->peek + u->peek_len, PEEK_CAP - u->peek_len);
		if (n < 0)
			return archive_fail(u, e);
		if (n == 0) {
			u->eof = true;
			break;
		}
		if (account(u, (size_t)n, e) != 0)
			return -1;
		u->peek_len += (size_t)n;
		if (skip_bom_space(u->peek, u->peek_len) < u->peek_len)
			break;
	}
	u->doc = unpack_sniff(u->peek, u->peek_len);
	if (u->doc == UNPACK_XML || u->doc == UNPACK_JSON)
		return 0;
	size_t i = skip_bom_space(u->peek, u->peek_len);
	printable(start, sizeof start, u->peek + i, u->peek_len - i, 24);
	if (u->kind == UNPACK_GZIP)
		return err_stage(e, STAGE, ERR_INPUT, "gzip content is not XML (%s'%s')",
		                 i == u->peek_len ? "empty: " : "starts with ", start);
	printable(name, sizeof name, u->entry_name, strlen(u->entry_name), 80);
	if (!named_xml)
		return err_stage(e, STAGE, ERR_INPUT,
		                 "zip holds no XML entry ('%s' starts with '%s')", name, start);
	return err_stage(e, STAGE, ERR_INPUT, "zip entry '%s' is not XML (%s'%s')", name,
	                 i == u->peek_len ? "empty: " : "starts with ", start);
}

/* Shared by both openers: `head` holds the first bytes of the input. */
static int open_common(struct unpack *u, const unsigned char *head, size_t headlen,
                       const struct unpack_limits *lim, struct err *e)
{
	char start[128];
	bool named_xml = true;

	if (lim)
		u->lim = *lim;
	else
		unpack_limits_default(&u->lim);
	if (u->len == 0)
		return err_stage(e, STAGE, ERR_INPUT, "not a report: empty input");
	u->kind = unpack_sniff(head, headlen);
	u->doc = u->kind;
	switch (u->kind) {
	case UNPACK_XML:
	case UNPACK_JSON:
		if (u->fd >= 0 && lseek(u->fd, 0, SEEK_SET) != 0)
			return err_stage(e, STAGE, ERR_INTERNAL, "cannot rewind input: %s",
			                 strerror(errno));
		return 0;
	case UNPACK_GZIP:
		u->what = "gzip";
		if (open_gzip(u, e) != 0)
			return -1;
		break;
	case UNPACK_ZIP:
		u->what = "zip";
		if (open_zip(u, &named_xml, e) != 0)
			return -1;
		break;
	case UNPACK_UNKNOWN:
	default:
		printable(start, sizeof start, head, headlen, 24);
		return err_stage(e, STAGE, ERR_INPUT,
		                 "not a report: neither XML, gzip nor zip (starts with '%s')",
		                 start);
	}
	return peek_document(u, named_xml, e);
}

int unpack_open(struct unpack **out, const void *data, size_t len, const struct unpack_limits *lim,
                struct err *e)
{
	struct unpack *u = xcalloc(1, sizeof *u);
	*out = NULL;
	u->data = data;
	u->fd = -1;
	u->len = len;
	if (open_common(u, data, len, lim, e) != 0) {
		unpack_free(u);
		return -1;
	}
	*out = u;
	return 0;
}

int unpack_open_fd(struct unpack **out, int fd, const struct unpack_limits *lim, struct err *e)
{
	struct unpack *u = xcalloc(1, sizeof *u);
	unsigned char head[PEEK_CAP];
	struct stat st;
	ssize_t got = 0;

	*out = NULL;
	u->fd = fd;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		err_stage(e, STAGE, ERR_INTERNAL, "input is not a readable regular file");
		goto fail;
	}
	u->len = (size_t)st.st_size;
	do
		got = pread(fd, head, sizeof head, 0);
	while (got < 0 && errno == EINTR);
	if (got < 0) {
		err_stage(e, STAGE, ERR_INTERNAL, "cannot read input: %s", strerror(errno));
		goto fail;
	}
	if (open_common(u, head, (size_t)got, lim, e) != 0)
		goto fail;
	*out = u;
	return 0;
fail:
	unpack_free(u);
	return -1;
}

ssize_t unpack_read(struct unpack *u, void *buf, size_t n, struct err *e)
{
	if (u->failed)
		return err_stage(e, STAGE, ERR_INPUT, "read after an unpack failure");
	if (n == 0)
		return 0;
	bool passthrough = u->kind == UNPACK_XML || u->kind == UNPACK_JSON;
	if (passthrough && u->fd >= 0) {
		ssize_t r;
		do
			r = read(u->fd, buf, n);
		while (r < 0 && errno == EINTR);
		if (r < 0) {
			u->failed = true;
			return err_stage(e, STAGE, ERR_INTERNAL, "cannot read input: %s",
			                 strerror(errno));
		}
		return r;
	}
	if (passthrough) {
		size_t left = u->len - u->pos;
		if (n > left)
			n = left;
		memcpy(buf, u->data + u->pos, n);
		u->pos += n;
		return (ssize_t)n;
	}
	if (u->peek_pos < u->peek_len) {
		size_t left = u->peek_len - u->peek_pos;
		if (n > left)
			n = left;
		memcpy(buf, u->peek + u->peek_pos, n);
		u->peek_pos += n;
		return (ssize_t)n;
	}
	if (u->eof)
		return 0;
	la_ssize_t r = archive_read_data(u->a, buf, n);
	if (r < 0) {
		u->failed = true;
		return archive_fail(u, e);
	}
	if (r == 0) {
		u->eof = true;
		return 0;
	}
	if (account(u, (size_t)r, e) != 0) {
		u->failed = true;
		return -1;
	}
	return (ssize_t)r;
}

enum unpack_kind unpack_document(const struct unpack *u)
{
	return u->doc;
}

const char *unpack_entry_name(const struct unpack *u)
{
	return u && u->kind == UNPACK_ZIP ? u->entry_name : NULL;
}

void unpack_free(struct unpack *u)
{
	if (!u)
		return;
	archive_read_free(u->a);
	free(u->entry_name);
	free(u);
}
