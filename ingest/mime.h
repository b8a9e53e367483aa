/*
 * mime: find the report-carrying parts of an RFC 5322 message (gmime 3).
 *
 * Walks every MIME part, however nested (multipart/mixed, multipart/report,
 * message/rfc822), and calls `fn` for each part that carries a report,
 * decided by content (unpack_sniff) as well as by file name and media type,
 * whatever the declared type (application/octet-stream, text/xml, ...). A
 * message that is one single application/gzip part counts, as does an
 * inline part. The decoded bytes are valid only during the callback.
 *
 * mime_classify tells what a message is for routing: an aggregate report, a
 * DSN (multipart/report; report-type=delivery-status), a failure report
 * (report-type=feedback-report), or something else.
 * Errors set `e` with stage "mime", kind ERR_INPUT.
 */
#ifndef DS_INGEST_MIME_H
#define DS_INGEST_MIME_H

#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>

enum mime_kind { MIME_OTHER = 0, MIME_AGGREGATE, MIME_DSN, MIME_FAILURE_REPORT };

struct mime_part {
	const char *filename;      /* may be NULL */
	const char *content_type;  /* "type/subtype" as declared, may be NULL */
	const unsigned char *data; /* decoded (base64/quoted-printable undone) */
	size_t len;
};

typedef int (*mime_part_fn)(void *ctx, const struct mime_part *p, struct err *e);

/* Once per process; safe to call more than once. */
void mime_init(void);
/* True when the bytes start like RFC 5322 headers rather than XML or an archive. */
bool mime_looks_like_message(const void *data, size_t len);
/* Calls fn for each report part; *nparts gets how many. Returns 0, or -1 with
 * e set (unparseable message, or fn failed). A message with no report part
 * returns -1 with "no report attachment found" (stage mime). */
int mime_extract(const void *data, size_t len, mime_part_fn fn, void *ctx, size_t *nparts,
                 struct err *e);
enum mime_kind mime_classify(const void *data, size_t len);

/* The same on a message parsed once (routing, then extraction, read the
 * one tree; app/pipeline.c). mime_msg_parse returns NULL with e set as
 * mime_extract would (too large, too many parts, no header block). */
struct mime_msg;
struct mime_msg *mime_msg_parse(const void *data, size_t len, struct err *e);
void mime_msg_free(struct mime_msg *m);
enum mime_kind mime_msg_classify(const struct mime_msg *m);
int mime_msg_extract(const struct mime_msg *m, mime_part_fn fn, void *ctx, size_t *nparts,
                     struct err *e);

#endif
