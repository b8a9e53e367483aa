/*
 * xmlin: the byte path from a report's reader into libxml2.
 *
 * Skips a UTF-8 BOM and leading whitespace, refuses a DOCTYPE in the prolog
 * before libxml2 sees it, and (for documents in UTF-8 or ASCII) replaces
 * invalid UTF-8 and control bytes by U+FFFD so that such reports still
 * parse. In recover mode it also escapes a raw '<' that cannot start markup.
 * It follows the element depth in the bytes, so that it can stop at the end
 * of the root element (what follows is never handed over) and pad a
 * truncated document with empty elements (libxml2's reader hands over the
 * nodes it holds only when it sees the next one). Hostile start tags (too
 * many attributes, too long) are refused before libxml2 reads them.
 *
 * The parser (aggr.c) reads the fix-ups and offsets below to say what was
 * changed and whether it lay inside the report.
 */
#ifndef DS_INGEST_XMLIN_H
#define DS_INGEST_XMLIN_H

#include "core/err.h"
#include "ingest/aggr.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define XMLIN_PAD_BYTES    16384
#define XMLIN_PAD_ELEMENT  "dmarcsift-eof" /* the empty element padding is made of */
#define XMLIN_CLOSE_DEPTHS 8               /* depths at which the first end tag is remembered */

/* The first byte of one kind that the input filter had to change. */
struct fixup {
	uint64_t out_at; /* offset in the bytes given to libxml2, +1; 0 none */
	uint64_t in_at;  /* offset in the document as received */
	unsigned char byte;
};

struct xmlin {
	aggr_read_fn fn;
	void *ctx;
	struct err *e;
	unsigned char *raw;
	size_t raw_len;
	unsigned char *out;
	size_t out_pos, out_len;
	bool eof, failed, prolog_done, utf8;
	bool recover;        /* escape a raw '<' that cannot start markup */
	const bool *done;    /* the parser saw </feedback>: no padding needed */
	size_t pad_left;     /* whitespace still to give libxml2 after the end */
	uint64_t total;      /* bytes read from the caller */
	uint64_t consumed;   /* raw bytes converted so far */
	uint64_t escaped_at; /* offset of the first escaped '<', +1; 0 none */
	/* A rough element depth from the bytes (see track), so that padding
	 * is offered only while the root element is still open. */
	bool utf16;
	long depth;
	int tstate;
	unsigned char prev, quote;
	const char *skip_end; /* what ends the construct being skipped */
	size_t skip_match;    /* bytes of skip_end matched so far */
	uint64_t out_total;   /* bytes given to libxml2 before the current chunk */
	/* Where the first end tag returning to depth d was (+1), so that bytes
	 * fixed after </feedback> (NUL padding, trailing junk) are not held
	 * against the report. */
	uint64_t close_at[XMLIN_CLOSE_DEPTHS];
	bool closing_root; /* inside the end tag of the root element */
	uint64_t root_end; /* offset just after that end tag, +1; 0 not seen */
	struct fixup bad_utf8, control, nul;
	unsigned char bom[2]; /* UTF-16 without a BOM: the one given to libxml2 */
	size_t bom_len;
	/* The start tag being read: libxml2 checks attributes against each
	 * other (quadratic in their number), so hostile tags are refused here,
	 * before the parser sees them. */
	const struct aggr_limits *lim;
	size_t attrs;     /* attribute values opened in this start tag */
	size_t tag_bytes; /* bytes of names and spaces in it, values excluded */
	size_t val_bytes; /* bytes of the attribute value being read */
	char refused[160];
};

/* XML's white space (S in the grammar). */
static inline bool xmlin_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Ready to read through fn/ctx; `done` is the parser's "</feedback> seen"
 * (no padding is offered after it). Errors go to e. */
void xmlin_init(struct xmlin *in, aggr_read_fn fn, void *ctx, bool recover, const bool *done,
                const struct aggr_limits *lim, struct err *e);
void xmlin_free(struct xmlin *in);
/* libxml2's xmlInputReadCallback: ctx is the struct xmlin. */
int xmlin_read(void *ctx, char *buf, int len);

#endif
