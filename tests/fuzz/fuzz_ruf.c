/*
 * Fuzz target for the failure report reader and the router: every input is
 * routed, then parsed as a failure report with redaction and the body kept
 * (the paths that touch the most), and every field is touched.
 */
#include "ingest/mime.h"
#include "ingest/route.h"
#include "ingest/ruf.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t touch(const char *s)
{
	return s ? strlen(s) : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ruf_options o = {.keep_body = true, .redact = true};
	struct ruf_report *r = NULL;
	struct err e;
	size_t sum = (size_t)route_message(data, size);
	/* Routing reads the tree mime parsed; the failure-report recogniser
	 * must answer as on its own parse. */
	err_clear(&e);
	struct mime_msg *m =
	    mime_looks_like_message(data, size) ? mime_msg_parse(data, size, &e) : NULL;
	if (m && ruf_msg_is_failure_report(m, data, size) != ruf_is_failure_report(data, size))
		abort();
	mime_msg_free(m);
	err_clear(&e);
	if (ruf_parse(data, size, &o, &r, &e) != 0)
		return 0;
	sum += touch(r->feedback_type) + touch(r->user_agent) + touch(r->reporter) +
	       touch(r->source_ip) + touch(r->auth_failure) + touch(r->reported_domain) +
	       touch(r->domain) + touch(r->dkim_domain) + touch(r->dkim_selector) +
	       touch(r->dkim_identity) + touch(r->spf_dns) + touch(r->delivery_result) +
	       touch(r->identity_alignment) + touch(r->original_mail_from) +
	       touch(r->original_rcpt_to) + touch(r->header_from) + touch(r->header_to) +
	       touch(r->subject) + touch(r->header_date) + touch(r->message_id) +
	       touch(r->received_json) + touch(r->body);
	(void)sum;
	ruf_free(r);
	return 0;
}
