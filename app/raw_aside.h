/*
 * raw_aside: a big file's raw bytes, stored on a second connection by a
 * thread of their own once the file's records' COPY has been sent.
 *
 * Storing them first, as for any other input, kept the server busy
 * compressing them (lz4, 0029) before the first record was sent: 1.2 s of
 * a plain 171 MB .xml report. Started at once, they took a core from the
 * parse and the COPY; started when the COPY's data is all sent
 * (db_set_copy_end_hook), they are stored while the server runs the
 * records' triggers on one core and the client waits. The order that
 * matters is kept: no transaction on the main connection commits before
 * the raw bytes have (its commit gate, db.h, which stores them there if no
 * COPY started them), and raw_aside_end waits for them before the input's
 * end (its status, or the quarantine), so a stored report always has its
 * raw bytes and a failed input is kept. A kill before that leaves what a
 * kill during the store always left: nothing, and the file to ingest
 * again.
 */
#ifndef DS_APP_RAW_ASIDE_H
#define DS_APP_RAW_ASIDE_H

#include "core/err.h"
#include "db/db.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* Smaller files are stored at once, on the main connection. The file source
 * hands over by descriptor only files over 16 MiB (STREAM_ABOVE,
 * sources/from_files.c; smaller ones are read whole and stored before they
 * are parsed), so in practice every descriptor goes aside. */
#define RAW_ASIDE_MIN ((uint64_t)4 << 20)

/* The caller's, on its stack, from raw_aside_begin to raw_aside_end. */
struct raw_aside {
	pthread_t thread;
	bool pending;  /* to store, not started */
	bool running;  /* the thread started, not joined */
	struct db *db; /* the connection the bytes go through */
	const char *sha256, *source;
	int fd;
	uint64_t size;
	int rc;
	struct err err;
};

/* The raw bytes of the regular file fd (size bytes, SHA-256 sha256): with
 * a spare connection and RAW_ASIDE_MIN bytes or more, looked up on db and,
 * unless *known, left to store on spare later (db's copy-end hook and
 * commit gate are set); else stored on db now, as store_raw_put_fd. sha256
 * and source must outlive r. */
int raw_aside_begin(struct raw_aside *r, struct db *db, struct db *spare, const char *sha256,
                    int fd, uint64_t size, const char *source, bool *known, struct err *e);
/* db's hook and gate cleared, and the bytes stored if they are not yet:
 * 0 when they are (or there were none to store). */
int raw_aside_end(struct raw_aside *r, struct db *db, struct err *e);

#endif
