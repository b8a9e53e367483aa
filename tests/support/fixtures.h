/*
 * fixtures: helpers for the table-driven unpack and MIME tests.
 *
 * fx_manifest_load reads a fixtures/hostile/MANIFEST-*.tsv file (lines of
 * `file<TAB>stage<TAB>reason substring`, '#' comments) into rows the caller
 * frees with fx_manifest_free; it fails the test on a malformed line.
 * fx_unpack_all runs the unpacker over one attachment and collects the whole
 * document into `out` (caller-owned, buf_free), reading `chunk` bytes at a
 * time; it returns 0, or -1 with `e` set by the unpacker.
 */
#ifndef DS_TESTS_FIXTURES_H
#define DS_TESTS_FIXTURES_H

#include "core/buf.h"
#include "core/err.h"
#include "ingest/unpack.h"

#include <stddef.h>

struct fx_row {
	char *file;
	char *stage;
	char *reason;
};

size_t fx_manifest_load(const char *path, struct fx_row **rows);
void fx_manifest_free(struct fx_row *rows, size_t n);
int fx_unpack_all(const void *data, size_t len, const struct unpack_limits *lim, size_t chunk,
                  struct buf *out, struct err *e);

#endif
