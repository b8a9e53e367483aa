/*
 * validate: pure value checks for the aggregate-report parser.
 *
 * Every function looks at one value as the report sent it and either accepts
 * it (normalising it: trimmed integers, inet_ntop-normalised addresses,
 * enums case-folded to the RFC spelling) or refuses it. Nothing here
 * allocates, logs or knows about XML; the caller owns every buffer and turns
 * a refusal (-1) into an error naming the field and the value.
 *
 * Enum mappings for values real reporters send (documented in one place,
 * the tables in validate.c):
 *   - every enum: surrounding whitespace is ignored and case is folded
 *     ("Pass" -> "pass"); an empty value maps to NULL (absent).
 *   - SPF result: hardfail -> fail, unknown -> temperror, error -> permerror.
 *   - DKIM result: invalid -> permerror (the signature could not be
 *     verified because of an unrecoverable error), unknown -> temperror,
 *     error -> permerror, hardfail -> fail; "" -> NULL.
 *   - policy_evaluated dkim/spf: softfail and hardfail -> fail.
 *   - disposition: nil -> none.
 *   - SPF scope: mailfrom -> mfrom.
 */
#ifndef DS_INGEST_VALIDATE_H
#define DS_INGEST_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VALIDATE_IP_MAX 46 /* INET6_ADDRSTRLEN */

enum validate_enum {
	VALIDATE_DISPOSITION,   /* none pass quarantine reject */
	VALIDATE_POLICY_RESULT, /* policy_evaluated dkim/spf: pass fail */
	VALIDATE_DKIM_RESULT,   /* none pass fail policy neutral temperror permerror */
	VALIDATE_SPF_RESULT,    /* none neutral pass fail softfail temperror permerror policy */
	VALIDATE_SPF_SCOPE,     /* helo mfrom */
	VALIDATE_REASON_TYPE,   /* PolicyOverrideType of both RFCs */
	VALIDATE_ALIGNMENT,     /* adkim/aspf: r s */
	VALIDATE_POLICY,        /* p/sp/np: none quarantine reject */
	VALIDATE_TESTING,       /* n y */
	VALIDATE_DISCOVERY,     /* psl treewalk */
};

/*
 * Maps `value` (may be NULL) to its RFC spelling. Returns 0 with *out set to
 * a static string, or to NULL when the value is NULL or empty; returns -1
 * when the value maps to nothing.
 */
int validate_enum(enum validate_enum kind, const char *value, const char **out);
/* What a value of this kind is, for messages: "a DKIM result". */
const char *validate_enum_what(enum validate_enum kind);

/* A non-negative decimal that fits int64; whitespace around it is allowed. */
int validate_count(const char *s, int64_t *out);
/* Unix seconds, optionally with a fraction ("1524268800.000", truncated);
 * whitespace around it is allowed; negative values are refused. */
int validate_timestamp(const char *s, int64_t *out);
/* 0..100 with whitespace allowed (policy_published/pct). */
int validate_pct(const char *s, int *out);
/* An IPv4 or IPv6 address (whitespace around it allowed), written to `out`
 * (VALIDATE_IP_MAX bytes) in inet_ntop's normal form; an IPv4-mapped IPv6
 * address (::ffff:a.b.c.d) is written as the IPv4 address. */
int validate_ip(const char *s, char *out);
/* The unspecified addresses (0.0.0.0, ::): no sender; the record is skipped. */
bool validate_ip_unspecified(const char *normalised);
/* The RFC spellings of an enum joined by '/' ("pass/fail"), for messages. */
void validate_enum_names(enum validate_enum kind, char *out, size_t n);
/* Reduces a header_from that holds a full address ("Name <u@example.com>")
 * or several ("a@x.example, b@y.example", "x.example y.example") to the
 * first domain, in place. Returns s (trimmed, possibly empty). */
char *validate_header_from(char *s);

#endif
