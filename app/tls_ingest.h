/*
 * tls_ingest: one SMTP TLS report (RFC 8460) from its unpacked bytes to
 * committed rows: tlsrpt_parse (ingest/) then tls_store_report (db/).
 *
 * The caller has kept the raw bytes and opened the unpacker on them (plain
 * JSON or gzip); the unpacker stays the caller's. Returns 0 with *res filled
 * (stored / duplicate rows, recovered) or -1 with e set: an input error
 * (stage json, validate, store) quarantines the input, ERR_RETRY means the
 * database went away and nothing was written.
 */
#ifndef DS_APP_TLS_INGEST_H
#define DS_APP_TLS_INGEST_H

#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>

struct db;
struct store_pin;
struct unpack;

struct tls_ingest_result {
	size_t stored;     /* (report, policy domain) rows written */
	size_t duplicates; /* rows whose identity was known */
	size_t policies;   /* policies in the report */
	bool recovered;    /* values kept despite RFC 8460 (complaint stored) */
	char complaint[1024];
};

int tls_ingest(struct db *db, struct unpack *u, const char *raw_sha256, struct store_pin *pin,
               struct tls_ingest_result *res, struct err *e);

#endif
