/*
 * ingest/aggr internals shared by its two files: aggr.c (the reader loop,
 * the element table, where each value goes) and aggr_emit.c (the report
 * header and each record made whole: checks, values outside the schema
 * kept as sent and named, the handler called). Not for other modules.
 */
#ifndef DS_INGEST_AGGR_INT_H
#define DS_INGEST_AGGR_INT_H

#include "core/arena.h"
#include "core/buf.h"
#include "ingest/aggr.h"
#include "ingest/complaints.h"
#include "ingest/xmlin.h"

#include <json-c/json.h>
#include <libxml/xmlreader.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NS_RFC9990   "urn:ietf:params:xml:ns:dmarc-2.0"
#define VALUE_SHOWN  80              /* bytes of a bad value quoted in a message */
#define MS_EPOCH_MIN 1000000000000LL /* 13 digits: milliseconds since 1970 */
#define MS_EPOCH_END 10000000000000LL

enum tok {
	T_NONE = 0, /* outside <feedback>: ignored */
	T_UNKNOWN,  /* inside <feedback>, not ours: kept in extra_json */
	T_FEEDBACK,
	T_VERSION,
	T_META,
	T_ORG,
	T_EMAIL,
	T_EXTRA_CONTACT,
	T_REPORT_ID,
	T_DATE_RANGE,
	T_BEGIN,
	T_END,
	T_ERROR,
	T_GENERATOR,
	T_POLICY,
	T_P_DOMAIN,
	T_ADKIM,
	T_ASPF,
	T_P,
	T_SP,
	T_NP,
	T_PCT,
	T_FO,
	T_TESTING,
	T_DISCOVERY,
	T_RECORD,
	T_ROW,
	T_SOURCE_IP,
	T_COUNT,
	T_POLEVAL,
	T_DISPOSITION,
	T_PE_DKIM,
	T_PE_SPF,
	T_REASON,
	T_R_TYPE,
	T_R_COMMENT,
	T_IDENT,
	T_HEADER_FROM,
	T_ENV_FROM,
	T_ENV_TO,
	T_AUTH,
	T_DKIM,
	T_DKIM_DOMAIN,
	T_DKIM_SELECTOR,
	T_DKIM_RESULT,
	T_DKIM_HUMAN,
	T_SPF,
	T_SPF_DOMAIN,
	T_SPF_SCOPE,
	T_SPF_RESULT,
	T_SPF_HUMAN,
	T_COUNT_
};

/* The number of entries of aggr.c's element table (rules[]). */
#define N_RULES 49

struct frame {
	enum tok tok;
	bool has_child;
	size_t path_len; /* length of p->path before this element */
	const xmlChar *name;
};

struct parser {
	xmlTextReaderPtr r;
	const struct xmlin *in;
	const struct aggr_limits *lim;
	const struct aggr_handler *h;
	struct aggr_result *res;
	struct err *e;
	const xmlChar *names[N_RULES];
	const xmlChar *name_feedback, *name_extension, *name_pad;
	/* rules grouped by parent: by_parent[first[t] .. first[t + 1]) are the
	 * indexes into rules[] of the children of t, in table order */
	unsigned char first[T_COUNT_ + 1];
	unsigned char by_parent[N_RULES];

	struct frame *stack;
	int open_depth; /* depth of the innermost open element, -1 none */
	struct buf text;
	struct buf path;
	char first_error[400];

	bool seen_feedback, header_done, in_record, done, stopped, saw9990;
	const char *root_name;
	int feedback_depth;
	uint64_t nth;           /* position of the current record, from 1 */
	struct complaints devs; /* values kept although outside the schema */

	/* report */
	struct aggr_report rep;
	char *begin_raw, *end_raw, *pct_raw;
	struct buf errors;
	bool has_errors;
	json_object *rep_extra;
	size_t rep_extra_n;

	/* record */
	struct aggr_record rec;
	char *count_raw;
	struct arena arena;
	struct aggr_dkim *dkim;
	size_t dkim_cap;
	struct aggr_spf *spf;
	size_t spf_cap;
	struct aggr_reason *reasons;
	size_t reasons_cap;
	json_object *rec_extra;
	size_t rec_extra_n;
};

/* aggr_emit.c */
/* The position of the record being read, from 1. */
uint64_t aggr_record_no(const struct parser *p);
/* Checks the header and calls the handler's header callback: 0, 1 when
 * the handler said stop, -1 with p->e set. Called once, before the first
 * record. */
int aggr_emit_header(struct parser *p);
/* Forgets the record being read (its arena, its extra elements). */
void aggr_reset_record(struct parser *p);
/* Checks the record just closed and hands it over (or skips it alone):
 * as aggr_emit_header; the record is reset either way. */
int aggr_emit_record(struct parser *p);

#endif
