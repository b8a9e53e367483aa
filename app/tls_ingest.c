#include "app/tls_ingest.h"

#include "db/tls_store.h"
#include "ingest/tlsrpt.h"
#include "ingest/unpack.h"

#include <stdio.h>
#include <string.h>

static ssize_t read_unpacked(void *ctx, void *buf, size_t n, struct err *e)
{
	return unpack_read(ctx, buf, n, e);
}

int tls_ingest(struct db *db, struct unpack *u, const char *raw_sha256, struct store_pin *pin,
               struct tls_ingest_result *res, struct err *e)
{
	struct tlsrpt_report *r = NULL;
	memset(res, 0, sizeof *res);
	if (tlsrpt_parse(read_unpacked, u, NULL, &r, e) != 0)
		return -1;
	res->policies = r->n_policies;
	res->recovered = r->recovered;
	snprintf(res->complaint, sizeof res->complaint, "%s", r->complaint);
	int rc = tls_store_report(db, r, raw_sha256, pin, &res->stored, &res->duplicates, e);
	tlsrpt_free(r);
	return rc;
}
