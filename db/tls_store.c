/*
 * tls_store: a TLS report is small (a few policies, a few failure details),
 * so its rows go in by parameterised INSERTs inside one transaction; the
 * aggregate store's COPY path is for reports with millions of records.
 */
#include "db/tls_store.h"

#include "core/xalloc.h"
#include "db/db.h"
#include "db/sql.h"
#include "db/store.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int exec_params(struct db *db, const char *sql, int n, const char *const *params,
                       const char *what, struct err *e)
{
	PGresult *res = db_query(db, sql, n, params);
	if (db_check(db, &res, PGRES_COMMAND_OK, what, e) < 0)
		return -1;
	PQclear(res);
	return 0;
}

static int put_policy(struct db *db, const char *tenant, const char *report_pk, int seq,
                      const struct tlsrpt_policy *p, struct err *e)
{
	char seqs[16], ok[24], failed[24];
	snprintf(seqs, sizeof seqs, "%d", seq);
	snprintf(ok, sizeof ok, "%" PRId64, p->successful_sessions);
	snprintf(failed, sizeof failed, "%" PRId64, p->failed_sessions);
	const char *params[8] = {tenant,
	                         report_pk,
	                         seqs,
	                         p->policy_type ? p->policy_type : "",
	                         p->policy_strings_json ? p->policy_strings_json : "[]",
	                         p->mx_hosts_json ? p->mx_hosts_json : "[]",
	                         ok,
	                         failed};
	if (exec_params(db, db_sql("tls_store_policy"), 8, params, "storing a TLS policy", e) != 0)
		return -1;
	for (size_t i = 0; i < p->n_failures; i++) {
		const struct tlsrpt_failure *f = &p->failures[i];
		char fseq[24], count[24];
		snprintf(fseq, sizeof fseq, "%zu", i);
		snprintf(count, sizeof count, "%" PRId64, f->failed_sessions);
		const char *fp[12] = {tenant,
		                      report_pk,
		                      seqs,
		                      fseq,
		                      f->result_type ? f->result_type : "",
		                      f->sending_mta_ip,
		                      f->receiving_mx_hostname,
		                      f->receiving_mx_helo,
		                      f->receiving_ip,
		                      count,
		                      f->failure_reason_code,
		                      f->additional_information};
		if (exec_params(db, db_sql("tls_store_failure"), 12, fp,
		                "storing a TLS failure detail", e) != 0)
			return -1;
	}
	return 0;
}

/* The (report, domain) row and the policies of that domain. */
static int put_domain(struct db *db, const struct tlsrpt_report *r, const char *domain,
                      const char *raw_sha256, struct store_pin *pin, bool *inserted, struct err *e)
{
	int tenant = 0;
	char tid[16], begin[24], end[24], report_pk[24];
	*inserted = false;
	if (store_tenant_choose(db, domain, pin, &tenant, e) < 0)
		return -1;
	snprintf(tid, sizeof tid, "%d", tenant);
	snprintf(begin, sizeof begin, "%" PRId64, r->begin);
	snprintf(end, sizeof end, "%" PRId64, r->end);
	const char *params[10] = {tid,
	                          r->org_name ? r->org_name : "",
	                          r->report_id ? r->report_id : "",
	                          domain,
	                          begin,
	                          end,
	                          r->contact_info,
	                          r->recovered ? "true" : "false",
	                          r->complaint[0] ? r->complaint : NULL,
	                          raw_sha256};
	PGresult *res = db_query(db, db_sql("tls_store_report"), 10, params);
	if (db_check(db, &res, PGRES_TUPLES_OK, "storing a TLS report", e) < 0)
		return -1;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return 0; /* this identity is known */
	}
	snprintf(report_pk, sizeof report_pk, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	int seq = 0;
	for (size_t i = 0; i < r->n_policies; i++) {
		if (strcmp(r->policies[i].policy_domain, domain) != 0)
			continue;
		if (put_policy(db, tid, report_pk, seq++, &r->policies[i], e) != 0)
			return -1;
	}
	*inserted = true;
	return 0;
}

int tls_store_report(struct db *db, const struct tlsrpt_report *r, const char *raw_sha256,
                     struct store_pin *pin, size_t *stored, size_t *duplicates, struct err *e)
{
	*stored = *duplicates = 0;
	/* Tenants are chosen inside the transaction under the lock tenant
	 * changes take (see store_report_begin): an adoption cannot miss it. */
	if (db_begin(db, e) < 0 ||
	    db_exec(db, "LOCK TABLE dmarcsift.tenant_domains IN SHARE MODE", e) < 0)
		goto fail;
	for (size_t i = 0; i < r->n_policies; i++) {
		const char *domain = r->policies[i].policy_domain;
		bool first = true;
		for (size_t k = 0; k < i && first; k++)
			first = strcmp(r->policies[k].policy_domain, domain) != 0;
		if (!first)
			continue; /* its row was written with the first policy of the domain */
		bool inserted = false;
		if (put_domain(db, r, domain, raw_sha256, pin, &inserted, e) != 0)
			goto fail;
		if (inserted)
			(*stored)++;
		else
			(*duplicates)++;
	}
	if (db_commit(db, e) < 0)
		goto fail;
	return 0;
fail:
	db_rollback(db);
	*stored = *duplicates = 0;
	err_set_stage_if_empty(e, ERR_STAGE_STORE);
	return -1;
}
