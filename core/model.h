/*
 * model: the shared data model of an aggregate (RUA) report, as the parser
 * hands it to the store.
 *
 * Every string is NUL-terminated UTF-8 (invalid bytes were replaced by the
 * parser with U+FFFD), already trimmed, and NULL when the element was absent.
 * An element that was present but empty is "" (RFC 9990 allows an empty
 * envelope_from; real reporters send empty org_name and reason). Enumerated
 * values are case-folded to the RFC spelling by the parser (see validate.h).
 * The parser owns all memory; a struct is valid only during the callback it
 * is passed to.
 */
#ifndef DS_CORE_MODEL_H
#define DS_CORE_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum aggr_schema {
	AGGR_SCHEMA_RFC7489 = 0, /* <feedback> without namespace, version 1.0 or absent */
	AGGR_SCHEMA_RFC9990 = 1, /* dmarc-2.0 namespace, or its elements without it */
};

struct aggr_policy {
	char *domain;           /* required */
	char *adkim, *aspf;     /* r | s */
	char *p, *sp, *np;      /* none | quarantine | reject */
	int pct;                /* 0..100, -1 when absent (removed in RFC 9990) */
	char *fo;               /* as sent */
	char *testing;          /* n | y (RFC 9990) */
	char *discovery_method; /* psl | treewalk (RFC 9990) */
};

struct aggr_report {
	enum aggr_schema schema;
	char *namespace_uri; /* NULL when the document declared none */
	char *version;       /* as sent, NULL when absent */
	char *org_name;
	char *email;
	char *extra_contact_info;
	char *report_id;
	char *generator; /* RFC 9990 */
	int64_t begin;   /* unix seconds, UTC */
	int64_t end;
	char *errors; /* <error> elements joined by '\n', NULL when none */
	struct aggr_policy policy;
	/* Elements we do not know, kept as a JSON object (text) mapping the
	 * element path to its text or an array of texts; NULL when none. This
	 * covers the file-level <extension> of RFC 9990 too. */
	char *extra_json;
};

struct aggr_reason {
	char *type; /* local_policy, mailing_list, forwarded, ... or "" */
	char *comment;
};

struct aggr_dkim {
	char *domain;
	char *selector;
	char *result; /* none pass fail policy neutral temperror permerror */
	char *human_result;
};

struct aggr_spf {
	char *domain;
	char *scope;  /* helo | mfrom | NULL */
	char *result; /* none neutral pass fail softfail temperror permerror policy */
	char *human_result;
};

struct aggr_record {
	char *source_ip;   /* validated IPv4 or IPv6 text, normalised by inet_ntop */
	int64_t count;     /* 0 .. INT64_MAX, validated */
	char *disposition; /* none | pass | quarantine | reject */
	char *dkim;        /* policy_evaluated: pass | fail */
	char *spf;         /* policy_evaluated: pass | fail */
	struct aggr_reason *reasons;
	size_t n_reasons;
	char *header_from; /* a domain; a full address is reduced to its domain */
	char *envelope_from;
	char *envelope_to;
	struct aggr_dkim *dkim_auth;
	size_t n_dkim;
	struct aggr_spf *spf_auth;
	size_t n_spf;
	char *extra_json; /* unknown record-level elements, as for the report */
};

#endif
