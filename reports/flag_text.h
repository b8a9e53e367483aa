/*
 * flag_text: one sentence of what to do about a correlator flag, with its
 * numbers, for people (dmarcsift flags, reports), e.g.
 *   "DKIM fails for 203.0.113.7 (sending as example.com) at Google in 96 %
 *    of 4,210 messages; 312 rejects 550 5.7.26. Check the DKIM key and d=
 *    alignment for selector s1 at that sender."
 * Pure: reads the struct (strings may be NULL; evidence is the flag's
 * evidence object as json-c parsed it, or NULL) and appends to `out`.
 */
#ifndef DS_REPORTS_FLAG_TEXT_H
#define DS_REPORTS_FLAG_TEXT_H

#include "core/buf.h"

#include <json-c/json.h>
#include <stdbool.h>

struct flag_view {
	const char *tenant, *kind, *confidence, *cause, *provider, *domain, *source_ip, *status;
	long long rejects, dmarc_messages;
	bool has_rates;
	double dkim_pass_rate, spf_pass_rate, dmarc_pass_rate;
	json_object *evidence;
};

void flag_text_advice(const struct flag_view *f, struct buf *out);
/* "4,210" */
void flag_text_count(long long n, struct buf *out);
/* "Google" for "google" */
void flag_text_provider(const char *provider, struct buf *out);

#endif
