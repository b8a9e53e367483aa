/*
 * aggr_twice: the one rule "parse strictly; when that fails at the XML
 * stage, parse once more in recover mode" (aggr_parse_twice), and the
 * in-memory conveniences tests and fuzz targets use. See ingest/aggr.h.
 */
#include "ingest/aggr.h"

#include "core/memread.h"

#include <stdio.h>
#include <string.h>

int aggr_parse_mem(const void *data, size_t len, bool recover, const struct aggr_handler *h,
                   struct aggr_result *res, struct err *e)
{
	struct memread m = {data, len, 0};
	return aggr_parse(memread, &m, recover, NULL, h, res, e);
}

static int one_pass(const struct aggr_doc *doc, const struct aggr_pass *pass,
                    const struct aggr_limits *lim, const struct aggr_handler *h,
                    struct aggr_result *res, struct err *e)
{
	aggr_read_fn rd = NULL;
	void *rdctx = NULL;
	if (doc->open(doc->ctx, pass, &rd, &rdctx, e) != 0)
		return -1;
	int rc = aggr_parse(rd, rdctx, pass->recover, lim, h, res, e);
	if (rc == 0 && doc->accept)
		rc = doc->accept(doc->ctx, pass, res, e);
	if (doc->close)
		doc->close(doc->ctx, rc == 0);
	return rc;
}

int aggr_parse_twice(const struct aggr_doc *doc, const struct aggr_limits *lim,
                     const struct aggr_handler *h, struct aggr_result *res, struct err *e)
{
	struct err strict = {0};
	struct aggr_pass pass = {.recover = false};
	if (one_pass(doc, &pass, lim, h, res, &strict) == 0)
		return 0;
	if (strict.kind == ERR_RETRY || strcmp(strict.stage, err_stage_name(ERR_STAGE_XML)) != 0) {
		*e = strict;
		return -1;
	}
	char why[sizeof res->strict_error];
	snprintf(why, sizeof why, "%s", strict.msg);
	if (h->restart)
		h->restart(h->ctx);
	pass.recover = true;
	pass.strict_error = why;
	struct err rec = {0};
	if (one_pass(doc, &pass, lim, h, res, &rec) != 0) {
		*e = rec.kind == ERR_RETRY ? rec : strict;
		return -1;
	}
	res->salvaged = true;
	memcpy(res->strict_error, why, sizeof why);
	return 0;
}

static int mem_open(void *ctx, const struct aggr_pass *pass, aggr_read_fn *rd, void **rdctx,
                    struct err *e)
{
	struct memread *m = ctx;
	(void)pass;
	(void)e;
	m->pos = 0;
	*rd = memread;
	*rdctx = m;
	return 0;
}

int aggr_parse_mem_twice(const void *data, size_t len, const struct aggr_handler *h,
                         struct aggr_result *res, struct err *e)
{
	struct memread m = {data, len, 0};
	struct aggr_doc doc = {.open = mem_open, .ctx = &m};
	return aggr_parse_twice(&doc, NULL, h, res, e);
}
