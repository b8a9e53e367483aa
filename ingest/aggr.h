/*
 * aggr: the streaming aggregate-report parser (libxml2 xmlTextReader).
 *
 * Reads XML bytes through a caller-supplied read function, never holding the
 * document in memory, and calls the handler once with the report header
 * (metadata + policy_published, complete before the first <record>) and once
 * per record. Both RFC 7489 Appendix C and RFC 9990 are accepted, with the
 * real-world deviations of design.md; unknown elements land in extra_json.
 * DOCTYPE and entity references are refused (stage "xml"); invalid values
 * fail with stage "validate" naming the field and the value.
 *
 * Handler callbacks return 0 to go on, AGGR_STOP to end parsing early without
 * an error (e.g. the store found a duplicate), or -1 with `e` set.
 * aggr_parse returns 0 on success (also after AGGR_STOP; res->stopped says
 * so), -1 with `e` set otherwise. With `recover` true the parser runs
 * libxml2's recover mode and salvages what it can: success then requires a
 * complete header and at least one record.
 *
 * A deviation in one value never costs the report: a value outside its
 * enumeration is kept as written (trimmed, lower-cased), a record without a
 * usable source_ip or count is skipped alone (res->skipped), a report without
 * records, a wrapper around <feedback>, a 13-digit (millisecond) timestamp,
 * bytes that are not UTF-8 (read as Windows-1252), control and NUL bytes all
 * parse. Each such deviation is named once in res->complaint and sets
 * res->recovered; the header callback comes before the records' deviations
 * are known, so a store marks the report when parsing has ended. Only a
 * missing policy domain or date range (or begin after end) refuses the
 * report.
 */
#ifndef DS_INGEST_AGGR_H
#define DS_INGEST_AGGR_H

#include "core/err.h"
#include "core/model.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define AGGR_STOP 1

/* Reads up to n bytes into buf; returns the count, 0 at end, -1 with e set. */
typedef ssize_t (*aggr_read_fn)(void *ctx, void *buf, size_t n, struct err *e);

struct aggr_handler {
	int (*header)(void *ctx, const struct aggr_report *r, struct err *e);
	int (*record)(void *ctx, const struct aggr_record *rec, struct err *e);
	void *ctx;
	/* aggr_parse_twice: what the callbacks saw in the strict pass is void,
	 * the document is parsed again in recover mode (may be NULL). */
	void (*restart)(void *ctx);
};

struct aggr_limits {
	size_t max_depth;   /* nesting depth, default 64 */
	size_t max_text;    /* bytes of one element's text, default 64 KiB */
	size_t max_records; /* records in one report, default 50 million */
	size_t max_auth;    /* dkim/spf/reason entries per record, default 1000 */
	size_t max_attrs;   /* attributes of one element, default 256 */
	size_t max_tag;     /* bytes of one start tag outside attribute values,
	                       default 16 KiB (attribute values: max_text) */
};

struct aggr_result {
	uint64_t records;
	uint64_t messages;    /* sum of counts */
	uint64_t skipped;     /* records skipped (no usable source_ip or count) */
	bool stopped;         /* a handler returned AGGR_STOP */
	bool recovered;       /* recover mode, or values kept despite the schema */
	char complaint[1024]; /* what was wrong, each deviation named once */
	/* aggr_parse_twice: the strict pass failed on the XML and the recover
	 * pass salvaged the report; strict_error says why the first failed. */
	bool salvaged;
	char strict_error[600];
};

void aggr_limits_default(struct aggr_limits *l);
int aggr_parse(aggr_read_fn rd, void *rdctx, bool recover, const struct aggr_limits *lim,
               const struct aggr_handler *h, struct aggr_result *res, struct err *e);
/*
 * Strict, then recover: the rule every caller follows. The document is
 * parsed strictly; when that fails at the XML stage (not on a lost
 * database, not on a value), it is parsed once more in recover mode, after
 * h->restart. On success res->salvaged says whether the second pass was
 * needed. When both fail, e is the strict pass's error (it names the real
 * problem), unless the second failed with ERR_RETRY.
 *
 * The document is opened once per pass through `doc`: open sets the reader
 * from the first byte; accept (may be NULL) runs after a pass the parser
 * accepted, before it counts (a store commits there): 0, or -1 with e set;
 * close runs after every opened pass, `ok` saying whether it counted.
 */
struct aggr_pass {
	bool recover;
	const char *strict_error; /* on the recover pass: why the strict one failed */
};

struct aggr_doc {
	int (*open)(void *ctx, const struct aggr_pass *pass, aggr_read_fn *rd, void **rdctx,
	            struct err *e);
	int (*accept)(void *ctx, const struct aggr_pass *pass, struct aggr_result *res,
	              struct err *e);
	void (*close)(void *ctx, bool ok);
	void *ctx;
};

int aggr_parse_twice(const struct aggr_doc *doc, const struct aggr_limits *lim,
                     const struct aggr_handler *h, struct aggr_result *res, struct err *e);

/* Convenience for tests and fuzzing: parse from memory, in one mode or
 * (aggr_parse_mem_twice) strict then recover. */
int aggr_parse_mem(const void *data, size_t len, bool recover, const struct aggr_handler *h,
                   struct aggr_result *res, struct err *e);
int aggr_parse_mem_twice(const void *data, size_t len, const struct aggr_handler *h,
                         struct aggr_result *res, struct err *e);

#endif
