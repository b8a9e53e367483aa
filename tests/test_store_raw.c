/*
 * test_store_raw: the raw-message store (db/store_raw.c) against a real
 * PostgreSQL (DMARCSIFT_TEST_DB), each test in a database of its own: bytes
 * kept exactly, in memory and from a file, identity and zlib encodings, and
 * two writers of the same bytes at once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "core/xalloc.h"
#include "db/db.h"
#include "db/store.h"
#include "tests/support/dbfx.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SHA_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SHA_B "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void test_raw_round_trip(void **state)
{
	struct dbfx *f = *state;
	struct err e = {0};
	bool known = true, done = true;
	size_t len = 200000;
	unsigned char *data = xmalloc(len);
	/* Compressible text with binary bytes (NUL, 0xff) in it. */
	for (size_t i = 0; i < len; i++)
		data[i] =
		    (i % 997 == 0) ? (unsigned char)(i % 256) : (unsigned char)("<record/>"[i % 9]);

	const char *sha = SHA_A; /* 64 hex chars */
	assert_int_equal(store_raw_put(f->db, sha, data, len, "inbox/1.eml", &known, &e), 0);
	assert_false(known);
	assert_int_equal(store_raw_put(f->db, sha, data, len, "elsewhere", &known, &e), 0);
	assert_true(known);

	unsigned char *out = NULL;
	size_t outlen = 0;
	char *source = NULL;
	assert_int_equal(store_raw_get(f->db, sha, &out, &outlen, &source, &e), 0);
	assert_int_equal(outlen, len);
	assert_memory_equal(out, data, len);
	assert_string_equal(source, "inbox/1.eml"); /* not rewritten */
	free(out);
	free(source);

	/* Stored as received, compressed by the column, under the intake tenant. */
	const char *p[1] = {sha};
	dbfx_assert_q(f->db, "SELECT encoding FROM dmarcsift.raw_messages WHERE sha256 = $1", sha,
	              "identity");
	assert_true(dbfx_qint(f->db,
	                      "SELECT octet_length(data) FROM dmarcsift.raw_messages"
	                      " WHERE tenant_id = 0 AND sha256 = $1",
	                      1, p) == (int64_t)len);
	assert_true(dbfx_qint(f->db,
	                      "SELECT pg_column_size(data) FROM dmarcsift.raw_messages"
	                      " WHERE tenant_id = 0 AND sha256 = $1",
	                      1, p) < (int64_t)len / 4);
	assert_true(dbfx_qint(f->db, "SELECT size FROM dmarcsift.raw_messages WHERE sha256 = $1", 1,
	                      p) == (int64_t)len);

	assert_int_equal(store_raw_is_done(f->db, sha, &done, &e), 0);
	assert_false(done);
	assert_int_equal(store_raw_done(f->db, sha, &e), 0);
	assert_int_equal(store_raw_is_done(f->db, sha, &done, &e), 0);
	assert_true(done);

	/* Empty input is an input too. */
	assert_int_equal(store_raw_put(f->db, SHA_B, "", 0, NULL, &known, &e), 0);
	assert_int_equal(store_raw_get(f->db, SHA_B, &out, &outlen, NULL, &e), 0);
	assert_int_equal(outlen, 0);
	free(out);

	/* Not a SHA-256; unknown bytes. */
	assert_int_equal(store_raw_put(f->db, "ABC", data, 3, NULL, &known, &e), -1);
	assert_int_equal(e.kind, ERR_INPUT);
	err_clear(&e);
	assert_int_equal(store_raw_get(f->db,
	                               "ffffffffffffffffffffffffffffffffffffffffffffffffffff"
	                               "ffffffffffff",
	                               &out, &outlen, NULL, &e),
	                 -1);
	assert_non_null(strstr(e.msg, "no stored message"));
	assert_null(out);
	free(data);
}

/* A file as it is stored by the streaming path: the same bytes come back;
 * an input over the identity limit is deflated by the client instead and
 * comes back the same too; a row from before 0029 (zlib, the encoding's
 * default) is still read. */
static void test_raw_fd_and_encodings(void **state)
{
	struct dbfx *f = *state;
	struct err e = {0};
	bool known = true;
	size_t len = 300000;
	unsigned char *data = xmalloc(len);
	for (size_t i = 0; i < len; i++)
		data[i] = (unsigned char)((i * 2654435761u) >> 13); /* bytes of every value */
	char path[] = "/tmp/test_store_rawXXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	unlink(path);

	const char *shas[] = {SHA_A, SHA_B};
	const char *want_enc[] = {"identity", "zlib"};
	for (int k = 0; k < 2; k++) {
		store_raw_set_identity_max(k == 0 ? (size_t)512 << 20 : len - 1);
		assert_int_equal(store_raw_put_fd(f->db, shas[k], fd, len, "big.xml", &known, &e),
		                 0);
		assert_false(known);
		assert_int_equal(store_raw_put_fd(f->db, shas[k], fd, len, "big.xml", &known, &e),
		                 0);
		assert_true(known);
		dbfx_assert_q(f->db,
		              "SELECT encoding FROM dmarcsift.raw_messages WHERE sha256 = $1",
		              shas[k], want_enc[k]);
		unsigned char *out = NULL;
		size_t outlen = 0;
		char *source = NULL;
		assert_int_equal(store_raw_get(f->db, shas[k], &out, &outlen, &source, &e), 0);
		assert_int_equal(outlen, len);
		assert_memory_equal(out, data, len);
		assert_string_equal(source, "big.xml");
		free(out);
		free(source);
	}
	/* In memory, over the limit: deflated too. */
	const char *sha_c = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";
	assert_int_equal(store_raw_put(f->db, sha_c, data, len, NULL, &known, &e), 0);
	dbfx_assert_q(f->db, "SELECT encoding FROM dmarcsift.raw_messages WHERE sha256 = $1", sha_c,
	              "zlib");
	unsigned char *out = NULL;
	size_t outlen = 0;
	assert_int_equal(store_raw_get(f->db, sha_c, &out, &outlen, NULL, &e), 0);
	assert_int_equal(outlen, len);
	assert_memory_equal(out, data, len);
	free(out);
	store_raw_set_identity_max((size_t)512 << 20);

	/* A row as every version before 0029 wrote it: no encoding named. */
	const char *sha_d = "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd";
	const char *pd[1] = {sha_d};
	assert_true(dbfx_qint(f->db,
	                      "WITH i AS (INSERT INTO dmarcsift.raw_messages (sha256, size, data)"
	                      " VALUES ($1, 11, '\\x789ccb48cdc9c95728cf2fca4901001a0b045d')"
	                      " RETURNING 1) SELECT count(*) FROM i",
	                      1, pd) == 1);
	assert_int_equal(store_raw_get(f->db, sha_d, &out, &outlen, NULL, &e), 0);
	assert_int_equal(outlen, 11);
	assert_memory_equal(out, "hello world", 11);
	free(out);
	/* As received must mean whole: a short value is corruption, not data. */
	assert_true(dbfx_qint(f->db,
	                      "WITH u AS (UPDATE dmarcsift.raw_messages SET encoding = 'identity',"
	                      " data = '\\x6869' WHERE sha256 = $1 RETURNING 1)"
	                      " SELECT count(*) FROM u",
	                      1, pd) == 1);
	assert_int_equal(store_raw_get(f->db, sha_d, &out, &outlen, NULL, &e), -1);
	assert_int_equal(e.kind, ERR_INTERNAL);
	assert_null(out);
	close(fd);
	free(data);
}

/* The same bytes stored from two places at once: the one that loses the
 * race on the key learns that the bytes are known, nothing fails, and its
 * connection is usable afterwards. The other session inserts the row first
 * and commits it while this one's COPY waits on the key. */
static void test_raw_fd_race(void **state)
{
	struct dbfx *f = *state;
	struct err e = {0};
	bool known = false;
	const char *text = "<feedback>raced</feedback>\n";
	char path[] = "/tmp/test_store_raceXXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	unlink(path);

	PGconn *rival = PQconnectdb(f->conninfo);
	assert_int_equal(PQstatus(rival), CONNECTION_OK);
	assert_int_equal(
	    PQsendQuery(rival, "BEGIN;"
	                       " INSERT INTO dmarcsift.raw_messages (sha256, size, data, encoding)"
	                       " VALUES (repeat('e', 64), 5, '\\x7269766131', 'identity');"
	                       " SELECT pg_sleep(1); COMMIT"),
	    1);
	/* Until the rival's INSERT has run, this one's look-up would see nothing
	 * anyway; give it the time to get there. */
	struct timespec ts = {0, 300L * 1000 * 1000};
	nanosleep(&ts, NULL);
	const char *sha = "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee";
	assert_int_equal(store_raw_put_fd(f->db, sha, fd, strlen(text), "race.xml", &known, &e), 0);
	assert_true(known);
	PGresult *r;
	while ((r = PQgetResult(rival)) != NULL) {
		assert_true(PQresultStatus(r) == PGRES_COMMAND_OK ||
		            PQresultStatus(r) == PGRES_TUPLES_OK);
		PQclear(r);
	}
	PQfinish(rival);
	/* The rival's row is the one kept, and the connection still works. */
	unsigned char *out = NULL;
	size_t outlen = 0;
	assert_int_equal(store_raw_get(f->db, sha, &out, &outlen, NULL, &e), 0);
	assert_int_equal(outlen, 5);
	assert_memory_equal(out, "riva1", 5);
	free(out);
	close(fd);
}

/* ---- reports ---------------------------------------------------------- */

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, dbfx_setup, dbfx_teardown)
	const struct CMUnitTest tests[] = {
	    T(test_raw_round_trip),
	    T(test_raw_fd_and_encodings),
	    T(test_raw_fd_race),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
