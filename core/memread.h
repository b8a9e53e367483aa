/*
 * memread: bytes in memory as a read callback of the parsers' shape
 * (ingest/aggr.h aggr_read_fn, tlsrpt_parse): each call copies the next
 * bytes, 0 at the end, never an error.
 */
#ifndef DS_CORE_MEMREAD_H
#define DS_CORE_MEMREAD_H

#include "core/err.h"

#include <stddef.h>
#include <sys/types.h>

struct memread {
	const unsigned char *data;
	size_t len, pos;
};

ssize_t memread(void *ctx, void *buf, size_t n, struct err *e);

#endif
