/*
 * tlsrpt_model: an SMTP TLS report (RFC 8460) as its reader hands it to the
 * store.
 *
 * Strings are NUL-terminated UTF-8 (json-c validated them), trimmed, and NULL
 * when the field was absent. Enumerated values (policy type, result type) are
 * lower-cased; a value outside RFC 8460's list is kept as sent and named in
 * `complaint` (then `recovered` is true). IP addresses are normalised
 * (ingest/validate.h) or NULL. The reader owns all memory (tlsrpt_free).
 */
#ifndef DS_CORE_TLSRPT_MODEL_H
#define DS_CORE_TLSRPT_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tlsrpt_failure {
	char *result_type; /* starttls-not-supported, certificate-expired, ... */
	char *sending_mta_ip;
	char *receiving_mx_hostname;
	char *receiving_mx_helo;
	char *receiving_ip;
	char *failure_reason_code;
	char *additional_information;
	int64_t failed_sessions;
};

struct tlsrpt_policy {
	char *policy_type;         /* sts | tlsa | no-policy-found */
	char *policy_domain;       /* lower-case; the tenant is chosen by it */
	char *policy_strings_json; /* JSON array of strings, "[]" when none */
	char *mx_hosts_json;       /* JSON array of strings, "[]" when none */
	int64_t successful_sessions;
	int64_t failed_sessions;
	struct tlsrpt_failure *failures;
	size_t n_failures;
};

struct tlsrpt_report {
	char *org_name;  /* "" when absent */
	char *report_id; /* "" when absent */
	char *contact_info;
	int64_t begin, end; /* unix seconds, UTC */
	struct tlsrpt_policy *policies;
	size_t n_policies;
	bool recovered;
	char complaint[1024];
};

#endif
