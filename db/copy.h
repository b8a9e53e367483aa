/*
 * copy: rows into a `COPY ... FROM STDIN` in PostgreSQL's text format, the
 * one place that escapes a field and streams rows. Rows are built in
 * c->buf and go to the server with PQputCopyData in blocks of about
 * `flush_at` bytes, so a batch costs a handful of round trips whatever its
 * size.
 *
 * copy_field and copy_text append one field to a buffer: NULL as \N, the
 * backslash, tab, newline and carriage return escaped. The caller appends
 * the separators ('\t' between fields, '\n' after a row) and anything that
 * needs no escaping (numbers, a hex bytea literal) to c->buf with buf_*,
 * then calls copy_flush to send what has piled up.
 *
 * The caller owns `struct copy` (it is usually a member); copy_end and
 * copy_abort release its buffer. Errors come back in `e` (stage "store"):
 * ERR_RETRY "database unreachable: ..." when the connection is gone,
 * else as db_check maps the server's answer; messages name `what` ("starting
 * COPY of records", "sending records", "loading records").
 */
#ifndef DS_DB_COPY_H
#define DS_DB_COPY_H

#include "core/buf.h"
#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>

struct db;

struct copy {
	struct db *db;
	struct buf buf; /* rows built and not sent yet */
	size_t flush_at;
	const char *what; /* what the rows are, for messages; static */
	bool open;        /* in COPY: copy_end or copy_abort still to come */
};

/* Runs `sql` (a COPY ... FROM STDIN) and readies c. `max_buffered` caps
 * c->buf (0: no cap), which with flush_at caps one row; `what` must
 * outlive c. On failure nothing is open and c needs no copy_abort. */
int copy_begin(struct copy *c, struct db *db, const char *sql, const char *what,
               size_t max_buffered, size_t flush_at, struct err *e);
/* Appends s as one field, bytes as they are. -1 when b's cap is reached
 * (b then holds part of the field). */
int copy_field(struct buf *b, const char *s);
/* The same for text from outside: at most `max` bytes of s, and each byte
 * that starts no valid UTF-8 character (utf8.h; a character cut at `max`
 * included) replaced by U+FFFD, so PostgreSQL never refuses the row. */
int copy_text(struct buf *b, const char *s, size_t max);
/* Sends c->buf when it holds flush_at bytes or more. */
int copy_flush(struct copy *c, struct err *e);
/* Sends the rest, ends the COPY and checks its result (with the line the
 * server refused, when it says). c is closed afterwards, also on failure. */
int copy_end(struct copy *c, struct err *e);
/* Ends the COPY, if still open, with `reason` (the server discards every
 * row) and drains the results; releases the buffer. Takes a closed c. */
void copy_abort(struct copy *c, const char *reason);

#endif
