/*
 * Fuzz target for the aggregate-report parser: every input is parsed
 * strictly and, when that fails at the XML stage, in recover mode, as the
 * pipeline does. The handlers touch every field so that sanitizers see any
 * bad pointer the parser hands out.
 */
#include "ingest/aggr.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t touch(const char *s)
{
	return s ? strlen(s) : 0;
}

static int on_header(void *ctx, const struct aggr_report *r, struct err *e)
{
	size_t *sum = ctx;
	(void)e;
	*sum += touch(r->org_name) + touch(r->report_id) + touch(r->policy.domain) +
	        touch(r->extra_json) + touch(r->errors) + touch(r->namespace_uri) +
	        touch(r->policy.p) + touch(r->policy.np);
	return 0;
}

static int on_record(void *ctx, const struct aggr_record *r, struct err *e)
{
	size_t *sum = ctx;
	(void)e;
	*sum += touch(r->source_ip) + touch(r->disposition) + touch(r->header_from) +
	        touch(r->envelope_from) + touch(r->extra_json) + touch(r->dkim) + touch(r->spf);
	for (size_t i = 0; i < r->n_dkim; i++)
		*sum += touch(r->dkim_auth[i].domain) + touch(r->dkim_auth[i].result);
	for (size_t i = 0; i < r->n_spf; i++)
		*sum += touch(r->spf_auth[i].scope) + touch(r->spf_auth[i].result);
	for (size_t i = 0; i < r->n_reasons; i++)
		*sum += touch(r->reasons[i].type) + touch(r->reasons[i].comment);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t sum = 0;
	struct aggr_handler h = {on_header, on_record, &sum, NULL};
	struct aggr_result res;
	struct err e;
	err_clear(&e);
	aggr_parse_mem_twice(data, size, &h, &res, &e);
	return 0;
}
