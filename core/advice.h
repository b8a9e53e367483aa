/*
 * advice: the sentences a report adds to the numbers — a domain's DMARC
 * enforcement status and a one-line policy advice where the data supports
 * one, the recommended action for a correlator flag, and why a tenant needs
 * attention first in the MSP overview. Pure functions over values; the
 * thresholds are here, in one place, and documented in the README.
 * Returned strings are the caller's to free (NULL: nothing to say).
 */
#ifndef DS_CORE_ADVICE_H
#define DS_CORE_ADVICE_H

#include <stdbool.h>

/* A rate at or above this, with enough days of data, is ready to enforce. */
#define ADVICE_READY_RATE  0.98
#define ADVICE_REJECT_RATE 0.99
#define ADVICE_MIN_DAYS    14
#define ADVICE_LOW_RATE    0.90
#define ADVICE_SILENT_DAYS 3

struct advice_policy {
	const char *p, *sp, *np, *testing; /* as published (any case), NULL unknown */
	int pct;                           /* -1 unknown (means 100) */
	double rate;                       /* DMARC pass rate, < 0 unknown */
	long long messages;
	int days_with_data;
};

/* "reject (enforced)", "quarantine, pct 50 (partial)", "none (monitoring)",
 * "unknown" (no report said). */
char *advice_enforcement(const struct advice_policy *a);
/* A one-line advice, or NULL when the data supports none. */
char *advice_policy_line(const struct advice_policy *a, const char *domain);

struct advice_tenant {
	long long messages;
	double rate;   /* < 0 unknown */
	double change; /* rate change against the previous period; valid when has_change */
	bool has_change;
	long flags_high, flags_medium, flags_low, escalations, quarantined;
	bool silent;
	bool never; /* no report ever received */
	long enforced, policy_domains;
};

/* Attention score (higher first) and a "; "-joined list of reasons
 * (*reasons NULL when there is none). */
long advice_attention(const struct advice_tenant *t, char **reasons);

#endif
