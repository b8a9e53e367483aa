#include "db/ruf_store.h"

#include "db/db.h"
#include "db/sql.h"
#include "db/store.h"

#include <inttypes.h>
#include <stdio.h>

int ruf_store_add(struct db *db, const struct ruf_report *r, const char *raw_sha256,
                  struct store_pin *pin, bool *duplicate, struct err *e)
{
	int tenant = 0;
	char tid[16], arrival[24];
	*duplicate = false;
	/* The tenant is chosen inside the transaction under the lock tenant
	 * changes take (see store_report_begin): an adoption cannot miss it. */
	if (db_begin(db, e) < 0 ||
	    db_exec(db, "LOCK TABLE dmarcsift.tenant_domains IN SHARE MODE", e) < 0 ||
	    store_tenant_choose(db, r->domain, pin, &tenant, e) < 0)
		goto fail;
	snprintf(tid, sizeof tid, "%d", tenant);
	snprintf(arrival, sizeof arrival, "%" PRId64, r->arrival);
	const char *params[29] = {
	    tid,
	    raw_sha256,
	    r->domain,
	    r->layout == RUF_AFRF_TEXT ? "afrf-text" : "rfc6591",
	    r->arrival >= 0 ? arrival : NULL,
	    r->reporter,
	    r->user_agent,
	    r->feedback_type,
	    r->source_ip,
	    r->auth_failure,
	    r->reported_domain,
	    r->dkim_domain,
	    r->dkim_selector,
	    r->dkim_identity,
	    r->spf_dns,
	    r->delivery_result,
	    r->identity_alignment,
	    r->original_mail_from,
	    r->original_rcpt_to,
	    r->header_from,
	    r->header_to,
	    r->subject,
	    r->header_date,
	    r->message_id,
	    r->received_json ? r->received_json : "[]",
	    r->body,
	    r->redacted ? "true" : "false",
	    r->recovered ? "true" : "false",
	    r->complaint[0] ? r->complaint : NULL,
	};
	PGresult *res = db_query(db, db_sql("ruf_store_add"), 29, params);
	if (db_check(db, &res, PGRES_TUPLES_OK, "storing a failure report", e) < 0)
		goto fail;
	*duplicate = PQntuples(res) == 0;
	PQclear(res);
	if (db_commit(db, e) < 0)
		goto fail;
	return 0;
fail:
	db_rollback(db);
	err_set_stage_if_empty(e, ERR_STAGE_STORE);
	return -1;
}
