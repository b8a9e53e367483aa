/*
 * store_raw: raw message bytes and the quarantine.
 *
 * Both belong to the intake, i.e. to the built-in `unassigned` tenant
 * (tenant_id 0): which tenant a message concerns is only known once it has
 * been parsed, and one message may carry reports for several tenants.
 *
 * Raw bytes are stored as received (encoding 'identity'): the column
 * compresses them on the server (lz4 where PostgreSQL has it, migration
 * 0029), so the client spends nothing on them before the first record and
 * gzip or zip inputs are not compressed twice. Inputs over identity_max
 * (bigger than one bytea value may safely be) are deflated by the client as
 * before (encoding 'zlib', also what every row from before 0029 holds).
 */
#include "core/buf.h"
#include "core/xalloc.h"
#include "db/copy.h"
#include "db/db.h"
#include "db/sql.h"
#include "db/store.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

/* bytea values travel in one protocol message, which PostgreSQL caps at 1 GiB. */
#define RAW_MAX_COMPRESSED ((size_t)1000 * 1000 * 1000)
#define RAW_FLUSH          ((size_t)1 << 18) /* COPY bytes buffered before they are sent */

/* Stored as received up to this size; larger ones deflated (store.h). */
static size_t identity_max = (size_t)512 << 20;

void store_raw_set_identity_max(size_t max)
{
	identity_max = max;
}

/* How many lowercase hex digits S is made of, or 0 when it holds anything
 * else: a whole SHA-256 is 64, a prefix fewer. */
static size_t lower_hex_len(const char *s)
{
	size_t i;
	if (!s)
		return 0;
	for (i = 0; s[i]; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return i;
}

static bool sha256_ok(const char *s)
{
	return lower_hex_len(s) == 64;
}

static int check_sha(const char *sha256, struct err *e)
{
	if (sha256_ok(sha256))
		return 0;
	return err_stage(e, ERR_STAGE_STORE, ERR_INPUT,
	                 "not a SHA-256 (64 lowercase hex digits): '%.80s'",
	                 sha256 ? sha256 : "(null)");
}

int store_raw_put(struct db *db, const char *sha256, const void *data, size_t len,
                  const char *source, bool *known, struct err *e)
{
	unsigned char *z = NULL;
	PGresult *res = NULL;
	char size[24];
	int rc = -1;
	const char *encoding = "identity";
	const char *bytes = data;
	uLongf zlen = (uLongf)len;

	if (known)
		*known = false;
	if (check_sha(sha256, e) < 0)
		goto out;
	if (len > identity_max) {
		zlen = compressBound((uLong)len);
		z = xmalloc(zlen);
		int zr = compress2(z, &zlen, data, (uLong)len, Z_BEST_SPEED);
		if (zr != Z_OK) {
			err_stage(e, ERR_STAGE_STORE, ERR_INTERNAL,
			          "compressing %zu raw bytes failed (zlib %d)", len, zr);
			goto out;
		}
		if (zlen > RAW_MAX_COMPRESSED) {
			err_stage(e, ERR_STAGE_STORE, ERR_INPUT,
			          "raw message too large to store: %zu bytes (%lu compressed)", len,
			          (unsigned long)zlen);
			goto out;
		}
		encoding = "zlib";
		bytes = (const char *)z;
	}
	snprintf(size, sizeof size, "%zu", len);
	const char *params[5] = {sha256, source, size, bytes, encoding};
	const int lengths[5] = {0, 0, 0, (int)zlen, 0};
	const int formats[5] = {0, 0, 0, 1, 0};
	res =
	    db_query_prepared(db,
	                      "INSERT INTO dmarcsift.raw_messages"
	                      " (tenant_id, sha256, source, size, data, encoding)"
	                      " VALUES (0, $1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING 1",
	                      5, params, lengths, formats);
	if (db_check(db, &res, PGRES_TUPLES_OK, "storing raw message", e) < 0)
		goto out;
	if (known)
		*known = PQntuples(res) == 0;
	rc = 0;
out:
	PQclear(res);
	free(z);
	return rc;
}

int store_raw_get(struct db *db, const char *sha256, unsigned char **out, size_t *len,
                  char **source, struct err *e)
{
	PGresult *res = NULL;
	unsigned char *buf = NULL;
	int rc = -1;

	*out = NULL;
	*len = 0;
	if (source)
		*source = NULL;
	if (check_sha(sha256, e) < 0)
		goto out;
	const char *params[1] = {sha256};
	/* Binary results so the bytea arrives as bytes, not hex text. */
	res = PQexecParams(db_pg(db),
	                   "SELECT data, size::text, source, encoding FROM dmarcsift.raw_messages"
	                   " WHERE tenant_id = 0 AND sha256 = $1",
	                   1, NULL, params, NULL, NULL, 1);
	if (db_check(db, &res, PGRES_TUPLES_OK, "reading raw message", e) < 0)
		goto out;
	if (PQntuples(res) != 1) {
		err_stage(e, ERR_STAGE_STORE, ERR_INPUT, "no stored message with SHA-256 %s",
		          sha256);
		goto out;
	}
	char *end = NULL;
	unsigned long long size = strtoull(PQgetvalue(res, 0, 1), &end, 10);
	if (!end || *end != '\0' || size > SIZE_MAX - 1) {
		err_stage(e, ERR_STAGE_STORE, ERR_INTERNAL, "raw message %s has a bad size",
		          sha256);
		goto out;
	}
	buf = xmalloc((size_t)size + 1);
	const char *encoding = PQgetvalue(res, 0, 3);
	if (strcmp(encoding, "identity") == 0) {
		if ((unsigned long long)PQgetlength(res, 0, 0) != size) {
			err_stage(e, ERR_STAGE_STORE, ERR_INTERNAL,
			          "raw message %s is corrupt (%d of %llu bytes)", sha256,
			          PQgetlength(res, 0, 0), size);
			goto out;
		}
		memcpy(buf, PQgetvalue(res, 0, 0), (size_t)size);
	} else if (strcmp(encoding, "zlib") != 0) {
		err_stage(e, ERR_STAGE_STORE, ERR_INTERNAL,
		          "raw message %s has an unknown encoding '%.20s'", sha256, encoding);
		goto out;
	}
	uLongf dlen = (uLongf)size;
	int zr = *encoding == 'z' ? uncompress(buf, &dlen, (const Bytef *)PQgetvalue(res, 0, 0),
	                                       (uLong)PQgetlength(res, 0, 0))
	                          : Z_OK;
	if (zr != Z_OK || dlen != size) {
		err_stage(e, ERR_STAGE_STORE, ERR_INTERNAL,
		          "raw message %s is corrupt (zlib %d, %lu of %llu bytes)", sha256, zr,
		          (unsigned long)dlen, size);
		goto out;
	}
	buf[size] = '\0';
	if (source && !PQgetisnull(res, 0, 2))
		*source = xstrdup(PQgetvalue(res, 0, 2));
	*out = buf;
	*len = (size_t)size;
	buf = NULL;
	rc = 0;
out:
	free(buf);
	PQclear(res);
	return rc;
}

int store_raw_done(struct db *db, const char *sha256, struct err *e)
{
	return store_raw_mark(db, sha256, "ok", e);
}

int store_raw_is_done(struct db *db, const char *sha256, bool *done, struct err *e)
{
	*done = false;
	if (check_sha(sha256, e) < 0)
		return -1;
	const char *params[1] = {sha256};
	PGresult *res = db_query(db,
	                         "SELECT 1 FROM dmarcsift.raw_messages"
	                         " WHERE tenant_id = 0 AND sha256 = $1 AND status IN ('ok', 'dsn')",
	                         1, params);
	if (db_check(db, &res, PGRES_TUPLES_OK, "reading raw message status", e) < 0)
		return -1;
	*done = PQntuples(res) > 0;
	PQclear(res);
	return 0;
}

/* Whose failure this is (see store.h). */
static int failure_tenant(struct db *db, const char *domain, const char *tenant, int *tid,
                          struct err *e)
{
	int owner = 0, pinned = 0;
	*tid = 0;
	if (domain && *domain && store_tenant_owner(db, domain, &owner, e) < 0)
		return -1;
	if (tenant && *tenant) {
		struct err ignore = {0};
		/* A pinned tenant removed meanwhile is no reason to lose the entry. */
		if (store_tenant_id(db, tenant, &pinned, &ignore) < 0) {
			if (ignore.kind == ERR_RETRY) {
				*e = ignore;
				return -1;
			}
			pinned = 0;
		}
	}
	if (owner != 0 && pinned != 0 && owner != pinned)
		return 0;
	*tid = owner != 0 ? owner : pinned;
	return 0;
}

int store_failure_add(struct db *db, const char *sha256, const char *source, const char *stage,
                      const char *reason, const char *domain, const char *tenant, struct err *e)
{
	if (check_sha(sha256, e) < 0)
		return -1;
	int tid = 0;
	if (failure_tenant(db, domain, tenant, &tid, e) < 0)
		return -1;
	char tbuf[16];
	snprintf(tbuf, sizeof tbuf, "%d", tid);
	const char *params[6] = {sha256,
	                         source,
	                         stage && *stage ? stage : "unknown",
	                         reason && *reason ? reason : "(no reason given)",
	                         tbuf,
	                         domain && *domain ? domain : NULL};
	PGresult *res = db_query(db, db_sql("failure_add"), 6, params);
	if (db_check(db, &res, PGRES_COMMAND_OK, "recording a failure", e) < 0)
		return -1;
	PQclear(res);
	return 0;
}

int store_failure_resolve(struct db *db, const char *sha256, struct err *e)
{
	if (check_sha(sha256, e) < 0)
		return -1;
	const char *params[1] = {sha256};
	PGresult *res = db_query(db,
	                         "UPDATE dmarcsift.failures SET resolved_at = now()"
	                         " WHERE sha256 = $1 AND resolved_at IS NULL",
	                         1, params);
	if (db_check(db, &res, PGRES_COMMAND_OK, "resolving a failure", e) < 0)
		return -1;
	PQclear(res);
	return 0;
}

static char *dup_value(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : xstrdup(PQgetvalue(res, row, col));
}

int store_failures_list(struct db *db, struct store_failure **out, size_t *n, struct err *e)
{
	*out = NULL;
	*n = 0;
	PGresult *res = db_query(
	    db,
	    "SELECT to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
	    " f.source, f.stage, f.reason, f.sha256, t.name, f.domain"
	    " FROM dmarcsift.failures f JOIN dmarcsift.tenants t ON t.tenant_id = f.tenant_id"
	    " WHERE f.resolved_at IS NULL ORDER BY f.received_at, f.id",
	    0, NULL);
	if (db_check(db, &res, PGRES_TUPLES_OK, "listing failures", e) < 0)
		return -1;
	size_t rows = (size_t)PQntuples(res);
	struct store_failure *f = xcalloc(rows ? rows : 1, sizeof *f);
	for (size_t i = 0; i < rows; i++) {
		f[i].received_at = dup_value(res, (int)i, 0);
		f[i].source = dup_value(res, (int)i, 1);
		f[i].stage = dup_value(res, (int)i, 2);
		f[i].reason = dup_value(res, (int)i, 3);
		f[i].sha256 = dup_value(res, (int)i, 4);
		f[i].tenant = dup_value(res, (int)i, 5);
		f[i].domain = dup_value(res, (int)i, 6);
	}
	PQclear(res);
	*out = f;
	*n = rows;
	return 0;
}

void store_failures_free(struct store_failure *f, size_t n)
{
	if (!f)
		return;
	for (size_t i = 0; i < n; i++) {
		free(f[i].received_at);
		free(f[i].source);
		free(f[i].stage);
		free(f[i].reason);
		free(f[i].sha256);
		free(f[i].tenant);
		free(f[i].domain);
	}
	free(f);
}

int store_raw_mark(struct db *db, const char *sha256, const char *status, struct err *e)
{
	static const char *const statuses[] = {"new", "ok", "quarantined", "dsn", NULL};
	bool known = false;
	for (const char *const *s = statuses; *s && status; s++)
		known = known || strcmp(*s, status) == 0;
	if (!known)
		return err_stage(e, ERR_STAGE_STORE, ERR_INTERNAL,
		                 "unknown raw message status '%s'", status ? status : "(null)");
	if (check_sha(sha256, e) < 0)
		return -1;
	const char *params[2] = {sha256, status};
	PGresult *res = db_query(db,
	                         "UPDATE dmarcsift.raw_messages SET status = $2"
	                         " WHERE tenant_id = 0 AND sha256 = $1",
	                         2, params);
	if (db_check(db, &res, PGRES_COMMAND_OK, "setting raw message status", e) < 0)
		return -1;
	PQclear(res);
	return 0;
}

/* Deflates the file into the COPY stream as a hex bytea literal, block by
 * block, so neither the file nor its compressed form is ever held whole. */
static int stream_file(struct copy *c, int fd, struct err *e)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char in[1 << 16], out[1 << 16];
	z_stream zs;
	memset(&zs, 0, sizeof zs);
	if (deflateInit(&zs, Z_BEST_SPEED) != Z_OK)
		return err_stage(e, ERR_STAGE_STORE, ERR_INTERNAL, "zlib deflateInit failed");
	int rc = -1, flush = Z_NO_FLUSH;
	off_t off = 0;
	uint64_t zbytes = 0;
	struct buf *b = &c->buf;
	buf_puts(b, "\\\\x");
	while (flush != Z_FINISH) {
		ssize_t n;
		do
			n = pread(fd, in, sizeof in, off);
		while (n < 0 && errno == EINTR);
		if (n < 0) {
			err_stage(e, ERR_STAGE_STORE, ERR_INTERNAL, "reading input: %s",
			          strerror(errno));
			goto out;
		}
		off += n;
		flush = n == 0 ? Z_FINISH : Z_NO_FLUSH;
		zs.next_in = in;
		zs.avail_in = (uInt)n;
		do {
			zs.next_out = out;
			zs.avail_out = sizeof out;
			deflate(&zs, flush);
			size_t have = sizeof out - zs.avail_out;
			zbytes += have;
			for (size_t i = 0; i < have; i++) {
				char h[2] = {hex[out[i] >> 4], hex[out[i] & 15]};
				buf_append(b, h, 2);
			}
			if (copy_flush(c, e) != 0)
				goto out;
		} while (zs.avail_out == 0);
		/* The hex literal of one COPY field must stay under PostgreSQL's 1 GB. */
		if (zbytes > RAW_MAX_COMPRESSED / 2) {
			err_stage(e, ERR_STAGE_STORE, ERR_INPUT,
			          "raw input too large to store: over %zu bytes compressed",
			          RAW_MAX_COMPRESSED / 2);
			goto out;
		}
	}
	rc = 0;
out:
	deflateEnd(&zs);
	return rc;
}

/* Larger than one bytea may be as received: deflated by the client into a
 * text COPY, through a temporary table (ON CONFLICT needs an INSERT). */
static int put_fd_zlib(struct db *db, const char *sha256, int fd, uint64_t size, const char *source,
                       bool *known, struct err *e)
{
	PGresult *res = NULL;
	struct copy c = {0};
	bool in_tx = false;
	int rc = -1;
	char sizetxt[24];

	if (db_exec(db, "BEGIN", e) < 0)
		goto out;
	in_tx = true;
	if (db_exec(db,
	            "CREATE TEMP TABLE raw_in (sha256 text, source text, size bigint, data bytea)"
	            " ON COMMIT DROP",
	            e) < 0)
		goto out;
	/* One row, sent in blocks as the deflated file grows. */
	if (copy_begin(&c, db, "COPY raw_in (sha256, source, size, data) FROM STDIN", "raw message",
	               0, RAW_FLUSH, e) < 0)
		goto out;
	snprintf(sizetxt, sizeof sizetxt, "%" PRIu64, size);
	buf_puts(&c.buf, sha256);
	buf_putc(&c.buf, '\t');
	copy_field(&c.buf, source ? source : "");
	buf_putc(&c.buf, '\t');
	buf_puts(&c.buf, sizetxt);
	buf_putc(&c.buf, '\t');
	if (stream_file(&c, fd, e) != 0)
		goto out;
	buf_putc(&c.buf, '\n');
	if (copy_end(&c, e) != 0)
		goto out;
	res = PQexec(db_pg(db), "INSERT INTO dmarcsift.raw_messages"
	                        " (tenant_id, sha256, source, size, data, encoding)"
	                        " SELECT 0, sha256, source, size, data, 'zlib' FROM raw_in"
	                        " ON CONFLICT DO NOTHING RETURNING 1");
	if (db_check(db, &res, PGRES_TUPLES_OK, "storing raw message", e) < 0)
		goto out;
	if (known)
		*known = PQntuples(res) == 0;
	if (db_exec(db, "COMMIT", e) < 0)
		goto out;
	in_tx = false;
	rc = 0;
out:
	PQclear(res);
	copy_abort(&c, "aborted");
	if (in_tx) {
		struct err ignore = {0};
		db_exec(db, "ROLLBACK", &ignore);
	}
	return rc;
}

static void put_be(struct buf *b, uint64_t v, int bytes)
{
	unsigned char o[8];
	for (int i = 0; i < bytes; i++)
		o[i] = (unsigned char)(v >> (8 * (bytes - 1 - i)));
	buf_append(b, o, (size_t)bytes);
}

/* One binary-COPY field: its length, then its bytes. */
static void put_field(struct buf *b, const void *p, size_t n)
{
	put_be(b, n, 4);
	buf_append(b, p, n);
}

/* As received: one binary COPY row straight into raw_messages, the file's
 * bytes sent as they are read (no hex, no deflate; the column compresses).
 * Another process storing the same bytes meanwhile makes the key collide:
 * then they are known, and nothing was written. */
static int put_fd_identity(struct db *db, const char *sha256, int fd, uint64_t size,
                           const char *source, bool *known, struct err *e)
{
	static const char sig[] = "PGCOPY\n\377\r\n";
	struct copy c = {0};
	struct err ce = {0};
	unsigned char in[1 << 16];
	uint64_t off = 0;
	int rc = -1;

	if (copy_begin(&c, db,
	               "COPY dmarcsift.raw_messages (sha256, source, size, data, encoding)"
	               " FROM STDIN (FORMAT binary)",
	               "raw message", 0, RAW_FLUSH, e) < 0)
		return -1;
	buf_append(&c.buf, sig, sizeof sig); /* with its NUL: 11 bytes */
	put_be(&c.buf, 0, 4);                /* flags */
	put_be(&c.buf, 0, 4);                /* header extension */
	put_be(&c.buf, 5, 2);                /* fields in the row */
	put_field(&c.buf, sha256, strlen(sha256));
	if (source)
		put_field(&c.buf, source, strlen(source));
	else
		put_be(&c.buf, UINT32_MAX, 4); /* NULL */
	put_be(&c.buf, 8, 4);
	put_be(&c.buf, size, 8);
	put_be(&c.buf, size, 4);
	while (off < size) {
		size_t want = size - off < sizeof in ? (size_t)(size - off) : sizeof in;
		ssize_t n = pread(fd, in, want, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err_stage(e, ERR_STAGE_STORE, ERR_INTERNAL, "reading input: %s",
			          n < 0 ? strerror(errno) : "the file shrank while it was stored");
			goto out;
		}
		buf_append(&c.buf, in, (size_t)n);
		off += (uint64_t)n;
		if (copy_flush(&c, e) != 0)
			goto out;
	}
	put_field(&c.buf, "identity", 8);
	put_be(&c.buf, UINT16_MAX, 2); /* trailer: -1 */
	if (copy_end(&c, &ce) != 0) {
		if (strcmp(ce.sqlstate, "23505") == 0) {
			if (known)
				*known = true;
			rc = 0;
			goto out;
		}
		*e = ce;
		goto out;
	}
	rc = 0;
out:
	copy_abort(&c, "aborted");
	return rc;
}

int store_raw_put_fd(struct db *db, const char *sha256, int fd, uint64_t size, const char *source,
                     bool *known, struct err *e)
{
	PGresult *res = NULL;
	int rc = -1;

	if (known)
		*known = false;
	if (check_sha(sha256, e) < 0)
		goto out;
	/* Content-addressed: bytes already kept need not travel again. */
	const char *p1[1] = {sha256};
	res = PQexecParams(
	    db_pg(db), "SELECT 1 FROM dmarcsift.raw_messages WHERE tenant_id = 0 AND sha256 = $1",
	    1, NULL, p1, NULL, NULL, 0);
	if (db_check(db, &res, PGRES_TUPLES_OK, "looking up raw message", e) < 0)
		goto out;
	if (PQntuples(res) > 0) {
		if (known)
			*known = true;
		rc = 0;
		goto out;
	}
	PQclear(res);
	res = NULL;
	if (size > identity_max)
		rc = put_fd_zlib(db, sha256, fd, size, source, known, e);
	else
		rc = put_fd_identity(db, sha256, fd, size, source, known, e);
out:
	PQclear(res);
	return rc;
}

int store_raw_find(struct db *db, const char *prefix, char **sha256, struct err *e)
{
	*sha256 = NULL;
	size_t n = lower_hex_len(prefix);
	bool hex = n >= 8 && n <= 64;
	if (!hex)
		return err_stage(e, ERR_STAGE_STORE, ERR_CONFIG,
		                 "'%.80s' is not a SHA-256 or a prefix of one (8 to 64 lowercase "
		                 "hex digits, as 'dmarcsift failures' prints them)",
		                 prefix ? prefix : "");
	const char *params[1] = {prefix};
	PGresult *res = db_query(db, db_sql("raw_find"), 1, params);
	if (db_check(db, &res, PGRES_TUPLES_OK, "finding a stored input", e) < 0)
		return -1;
	int rows = PQntuples(res);
	if (rows == 1)
		*sha256 = xstrdup(PQgetvalue(res, 0, 0));
	else if (rows == 0)
		err_stage(e, ERR_STAGE_STORE, ERR_CONFIG,
		          "no stored input has a SHA-256 starting with %s", prefix);
	else
		err_stage(e, ERR_STAGE_STORE, ERR_CONFIG,
		          "%s is ambiguous: it starts %s and %s (and maybe more); give more digits",
		          prefix, PQgetvalue(res, 0, 0), PQgetvalue(res, 1, 0));
	PQclear(res);
	return *sha256 ? 0 : -1;
}

int store_failures_dismiss(struct db *db, const char *sha256, long long older_than_s, bool dry_run,
                           char ***shas, size_t *n, struct err *e)
{
	*shas = NULL;
	*n = 0;
	char secs[24];
	if (older_than_s >= 0)
		snprintf(secs, sizeof secs, "%lld", older_than_s);
	const char *params[3] = {sha256, older_than_s >= 0 ? secs : NULL,
	                         dry_run ? "count" : "apply"};
	PGresult *res = db_query(db, db_sql("failure_dismiss"), 3, params);
	if (db_check(db, &res, PGRES_TUPLES_OK, "dismissing failures", e) < 0)
		return -1;
	size_t rows = (size_t)PQntuples(res);
	*shas = xcalloc(rows ? rows : 1, sizeof **shas);
	for (size_t i = 0; i < rows; i++)
		(*shas)[i] = xstrdup(PQgetvalue(res, (int)i, 0));
	*n = rows;
	PQclear(res);
	return 0;
}

int store_raw_lookup(struct db *db, const char *sha256, bool *known, bool *done, struct err *e)
{
	*known = *done = false;
	if (check_sha(sha256, e) < 0)
		return -1;
	const char *params[1] = {sha256};
	PGresult *res =
	    db_query_prepared(db,
	                      "SELECT status IN ('ok', 'dsn') FROM dmarcsift.raw_messages"
	                      " WHERE tenant_id = 0 AND sha256 = $1",
	                      1, params, NULL, NULL);
	if (db_check(db, &res, PGRES_TUPLES_OK, "looking up raw message", e) < 0)
		return -1;
	*known = PQntuples(res) > 0;
	*done = *known && PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	return 0;
}

int store_raw_finish(struct db *db, const char *sha256, const char *status, struct err *e)
{
	if (strcmp(status, "ok") != 0 && strcmp(status, "dsn") != 0)
		return err_stage(e, ERR_STAGE_STORE, ERR_INTERNAL,
		                 "store_raw_finish: status '%s' is not ok or dsn", status);
	if (check_sha(sha256, e) < 0)
		return -1;
	const char *params[2] = {sha256, status};
	PGresult *res = db_query_prepared(db, db_sql("raw_finish"), 2, params, NULL, NULL);
	if (db_check(db, &res, PGRES_COMMAND_OK, "setting raw message status", e) < 0)
		return -1;
	PQclear(res);
	return 0;
}

/* "{a,b,...}" of checked SHA-256s (lowercase hex needs no quoting); NULL
 * with e set when one is not a SHA-256 or the status is not a final one. */
static char *finish_many_array(const char *const *sha256, size_t n, const char *status,
                               struct err *e)
{
	if (strcmp(status, "ok") != 0 && strcmp(status, "dsn") != 0) {
		err_stage(e, ERR_STAGE_STORE, ERR_INTERNAL,
		          "store_raw_finish_many: status '%s' is not ok or dsn", status);
		return NULL;
	}
	char *arr = xmalloc(n * 65 + 2);
	size_t k = 0;
	arr[k++] = '{';
	for (size_t i = 0; i < n; i++) {
		if (check_sha(sha256[i], e) < 0) {
			free(arr);
			return NULL;
		}
		if (i > 0)
			arr[k++] = ',';
		memcpy(arr + k, sha256[i], 64);
		k += 64;
	}
	arr[k++] = '}';
	arr[k] = '\0';
	return arr;
}

/* At once (send false) or queued on a batch being sent (db_batch_send). */
static int finish_many(struct db *db, const char *const *sha256, size_t n, const char *status,
                       bool send, struct err *e)
{
	if (n == 0)
		return 0;
	char *arr = finish_many_array(sha256, n, status, e);
	if (!arr)
		return -1;
	const char *params[2] = {arr, status};
	int rc = 0;
	if (send) {
		rc = db_batch_send(db, db_sql("raw_finish_many"), 2, params, e);
	} else {
		PGresult *res =
		    db_query_prepared(db, db_sql("raw_finish_many"), 2, params, NULL, NULL);
		rc = db_check(db, &res, PGRES_COMMAND_OK, "setting the raw messages' status", e);
		PQclear(res);
	}
	free(arr);
	return rc < 0 ? -1 : 0;
}

int store_raw_finish_many(struct db *db, const char *const *sha256, size_t n, const char *status,
                          struct err *e)
{
	return finish_many(db, sha256, n, status, false, e);
}

int store_raw_finish_many_send(struct db *db, const char *const *sha256, size_t n,
                               const char *status, struct err *e)
{
	return finish_many(db, sha256, n, status, true, e);
}

/* The sub-select reads the statement's snapshot: it sees a row stored
 * before, never the one this statement adds. */
static const char put_seen_sql[] =
    "WITH ins AS (INSERT INTO dmarcsift.raw_messages"
    " (tenant_id, sha256, source, size, data, encoding)"
    " VALUES (0, $1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING 1)"
    " SELECT EXISTS (SELECT 1 FROM ins),"
    " (SELECT status IN ('ok', 'dsn') FROM dmarcsift.raw_messages"
    "  WHERE tenant_id = 0 AND sha256 = $1)";

/* A lazy put_seen's answer as the caller assumed it: processed before
 * (known and done), or not. */
static bool put_seen_done(const PGresult *res)
{
	return PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] != 't' &&
	       PQgetvalue(res, 0, 1)[0] == 't';
}

static bool put_seen_new(const PGresult *res)
{
	return PQntuples(res) == 1 && !put_seen_done(res);
}

/* put_seen's statement: sent lazily with `judge` (db.h), or answered now. */
static int put_seen(struct db *db, const char *sha256, const void *data, size_t len,
                    const char *source, db_lazy_judge_fn judge, bool *known, bool *done,
                    struct err *e)
{
	if (check_sha(sha256, e) < 0)
		return -1;
	if (len > STORE_RAW_PUT_SEEN_MAX || len > identity_max)
		return err_stage(e, ERR_STAGE_STORE, ERR_INTERNAL,
		                 "store_raw_put_seen: %zu bytes is not a small input", len);
	char size[24];
	snprintf(size, sizeof size, "%zu", len);
	const char *params[5] = {sha256, source, size, data, "identity"};
	const int lengths[5] = {0, 0, 0, (int)len, 0};
	const int formats[5] = {0, 0, 0, 1, 0};
	if (judge)
		return db_lazy_send(db, put_seen_sql, 5, params, lengths, formats, judge, e);
	PGresult *res = db_query_prepared(db, put_seen_sql, 5, params, lengths, formats);
	if (db_check(db, &res, PGRES_TUPLES_OK, "storing raw message", e) < 0)
		return -1;
	*known = PQgetvalue(res, 0, 0)[0] != 't';
	*done = *known && PQgetvalue(res, 0, 1)[0] == 't';
	PQclear(res);
	return 0;
}

int store_raw_put_seen(struct db *db, const char *sha256, const void *data, size_t len,
                       const char *source, bool *known, bool *done, struct err *e)
{
	*known = *done = false;
	/* Lazily (db.h): taken for new bytes; the judge refuses a duplicate. */
	return put_seen(db, sha256, data, len, source, db_lazy_on(db) ? put_seen_new : NULL, known,
	                done, e);
}

int store_raw_put_seen_ahead(struct db *db, const char *sha256, const void *data, size_t len,
                             const char *source, bool done, struct err *e)
{
	bool k = false, d = false;
	return put_seen(db, sha256, data, len, source, done ? put_seen_done : put_seen_new, &k, &d,
	                e);
}
