/*
 * unpack: turn one attachment's bytes into the XML document it carries,
 * streaming (libarchive: exactly the gzip filter and the zip and raw formats).
 *
 * Accepts plain XML or JSON (TLS reports), gzip (also gzip inside gzip, and
 * gzip followed by trailing bytes), and zip with exactly one XML entry. Caps: decompressed
 * bytes, compression ratio, entry count; encrypted entries are refused.
 * Failures set `e` with stage "unpack" and kind ERR_INPUT, naming the problem
 * ("zip bomb: ratio above 1000:1", "encrypted zip entry 'x.xml'", ...).
 * The caller owns the handle (unpack_free accepts NULL); `data` must outlive it.
 */
#ifndef DS_INGEST_UNPACK_H
#define DS_INGEST_UNPACK_H

#include "core/err.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum unpack_kind { UNPACK_UNKNOWN = 0, UNPACK_XML, UNPACK_GZIP, UNPACK_ZIP, UNPACK_JSON };

struct unpack_limits {
	uint64_t max_bytes;   /* decompressed bytes, default 512 MiB */
	uint64_t max_ratio;   /* decompressed/compressed, default 1000 */
	unsigned max_entries; /* zip entries, default 16 */
};

struct unpack;

void unpack_limits_default(struct unpack_limits *l);
/* Magic-byte sniffing (gzip 1f8b, zip PK\3\4, XML by '<' after BOM/space,
 * JSON by '{': an SMTP TLS report). */
enum unpack_kind unpack_sniff(const void *data, size_t len);
int unpack_open(struct unpack **out, const void *data, size_t len, const struct unpack_limits *lim,
                struct err *e);
/* The same over a regular file, read in blocks so that memory does not grow
 * with the file's size; the fd must stay open (and is not closed) until
 * unpack_free. */
int unpack_open_fd(struct unpack **out, int fd, const struct unpack_limits *lim, struct err *e);
/* Returns bytes read, 0 at the end of the document, -1 with e set. */
ssize_t unpack_read(struct unpack *u, void *buf, size_t n, struct err *e);
/* What the (decompressed) document is: UNPACK_XML (an aggregate report) or
 * UNPACK_JSON (an SMTP TLS report); known once unpack_open succeeded. */
enum unpack_kind unpack_document(const struct unpack *u);
/* The entry name inside a zip, or NULL. */
const char *unpack_entry_name(const struct unpack *u);
void unpack_free(struct unpack *u);

#endif
