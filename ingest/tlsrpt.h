/*
 * tlsrpt: the SMTP TLS report reader (RFC 8460 JSON, json-c).
 *
 * Reads the JSON document through a caller-supplied read function (the
 * unpacker: plain or gzip), feeding json-c's incremental tokener, with caps
 * on the document size and the nesting depth so that hostile input is
 * refused with a reason and bounded memory: a TLS report is a few kilobytes,
 * so the whole tree is held, never more than `max_bytes` of JSON.
 *
 * Refused (stage "json" for syntax and caps, "validate" for meaning): not
 * JSON, not an object, too large, too deep, no usable date range, begin after
 * end, no policy with a policy-domain, a session count that is not an integer
 * from 0 to 2^63-2 (the counts are what the report is for). Any other
 * deviation costs only itself: an unknown policy or result type is kept as
 * sent, a policy without a domain or a failure detail of the wrong shape is
 * skipped alone, a string of the wrong type or an invalid IP is left out,
 * invalid UTF-8 is replaced; each is named once in r->complaint and sets
 * r->recovered.
 *
 * Returns 0 with *out set (free with tlsrpt_free), or -1 with e set.
 */
#ifndef DS_INGEST_TLSRPT_H
#define DS_INGEST_TLSRPT_H

#include "core/err.h"
#include "core/tlsrpt_model.h"

#include <stddef.h>
#include <sys/types.h>

/* Reads up to n bytes into buf; returns the count, 0 at end, -1 with e set. */
typedef ssize_t (*tlsrpt_read_fn)(void *ctx, void *buf, size_t n, struct err *e);

struct tlsrpt_limits {
	size_t max_bytes;    /* JSON bytes, default 4 MiB */
	int max_depth;       /* nesting, default 16 (RFC 8460 needs 5) */
	size_t max_policies; /* default 10,000 */
	size_t max_failures; /* failure details in the report, default 100,000 */
};

void tlsrpt_limits_default(struct tlsrpt_limits *l);
int tlsrpt_parse(tlsrpt_read_fn rd, void *ctx, const struct tlsrpt_limits *lim,
                 struct tlsrpt_report **out, struct err *e);
/* Convenience for tests and fuzzing. */
int tlsrpt_parse_mem(const void *data, size_t len, struct tlsrpt_report **out, struct err *e);
void tlsrpt_free(struct tlsrpt_report *r);
/* Whether these bytes (after BOM and blanks) start a JSON object. */
bool tlsrpt_sniff(const void *data, size_t len);

#endif
