/*
 * Fuzz target for the SMTP TLS report reader: every input is parsed as the
 * pipeline does (from memory here), and every field of an accepted report is
 * touched so that sanitizers see any bad pointer.
 */
#include "ingest/tlsrpt.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t touch(const char *s)
{
	return s ? strlen(s) : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tlsrpt_report *r = NULL;
	struct err e;
	err_clear(&e);
	if (tlsrpt_parse_mem(data, size, &r, &e) != 0)
		return 0;
	size_t sum = touch(r->org_name) + touch(r->report_id) + touch(r->contact_info);
	for (size_t i = 0; i < r->n_policies; i++) {
		const struct tlsrpt_policy *p = &r->policies[i];
		sum += touch(p->policy_type) + touch(p->policy_domain) +
		       touch(p->policy_strings_json) + touch(p->mx_hosts_json);
		for (size_t k = 0; k < p->n_failures; k++) {
			const struct tlsrpt_failure *f = &p->failures[k];
			sum += touch(f->result_type) + touch(f->sending_mta_ip) +
			       touch(f->receiving_mx_hostname) + touch(f->receiving_mx_helo) +
			       touch(f->receiving_ip) + touch(f->failure_reason_code) +
			       touch(f->additional_information);
		}
	}
	(void)sum;
	tlsrpt_free(r);
	return 0;
}
