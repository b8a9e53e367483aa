/*
 * The TLS-RPT reader: json-c's incremental tokener over capped input, then a
 * walk over the tree that copies what RFC 8460 defines into the model.
 *
 * Field names are RFC 8460 section 4 ("organization-name", "date-range",
 * "policies", "failure-details", ...). Reporters disagree on one name: the
 * RFC's text says "failure-reason-code", some write "failure-error-code"
 * (as in the RFC's own example): both are read.
 */
#include "ingest/tlsrpt.h"

#include "core/memread.h"
#include "core/xalloc.h"
#include "ingest/complaints.h"
#include "ingest/validate.h"

#include <glib.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK       ((size_t)65536)
#define VALUE_SHOWN 80

static const char *const policy_types[] = {"sts", "tlsa", "no-policy-found", NULL};
static const char *const result_types[] = {"starttls-not-supported", "certificate-host-mismatch",
                                           "certificate-expired",    "certificate-not-trusted",
                                           "validation-failure",     "tlsa-invalid",
                                           "dnssec-invalid",         "dane-required",
                                           "sts-policy-fetch-error", "sts-policy-invalid",
                                           "sts-webpki-invalid",     NULL};

void tlsrpt_limits_default(struct tlsrpt_limits *l)
{
	l->max_bytes = (size_t)4 * 1024 * 1024;
	l->max_depth = 16;
	l->max_policies = 10000;
	l->max_failures = 100000;
}

bool tlsrpt_sniff(const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t i = 0;
	if (len >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF)
		i = 3;
	while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
		i++;
	return i < len && p[i] == '{';
}

struct walk {
	struct tlsrpt_report *r;
	const struct tlsrpt_limits *lim;
	struct complaints devs;
	size_t failures;
	struct err *e;
};

static json_object *member(json_object *o, const char *key)
{
	json_object *v = NULL;
	if (!o || !json_object_is_type(o, json_type_object))
		return NULL;
	return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

/* A copy of [s, s+n) that PostgreSQL can hold: valid UTF-8 without NUL (a
 * "\u0000" escape); glib replaces both by U+FFFD, and the change is named. */
static char *clean(struct walk *w, const char *s, size_t n, const char *where, const char *key)
{
	char *out;
	if (g_utf8_validate(s, (gssize)n, NULL)) {
		out = xstrndup(s, n);
	} else {
		gchar *v = g_utf8_make_valid(s, (gssize)n);
		out = xstrdup(v);
		g_free(v);
		char k[160];
		snprintf(k, sizeof k, "utf8\001%s", key);
		complaints_add(&w->devs, k, "%s%s holds invalid UTF-8 or NUL (replaced by U+FFFD)",
		               where, key);
	}
	return out;
}

/* A trimmed copy of a string member; NULL when absent. A member of another
 * type is a deviation: named, and read as absent. */
static char *str_member(struct walk *w, json_object *o, const char *key, const char *where)
{
	json_object *v = member(o, key);
	if (!v || json_object_is_type(v, json_type_null))
		return NULL;
	if (!json_object_is_type(v, json_type_string)) {
		char k[160];
		snprintf(k, sizeof k, "type\001%s\001%s", where, key);
		complaints_add(&w->devs, k, "%s%s is of type %s, not a string (ignored)", where,
		               key, json_type_to_name(json_object_get_type(v)));
		return NULL;
	}
	const char *s = json_object_get_string(v);
	size_t n = (size_t)json_object_get_string_len(v);
	while (n > 0 && g_ascii_isspace(*s))
		s++, n--;
	while (n > 0 && g_ascii_isspace(s[n - 1]))
		n--;
	return clean(w, s, n, where, key);
}

/* A session count: a non-negative integer that fits int64. Counts are what
 * a TLS report is for; one that is missing, of another type, negative or
 * beyond int64 (json-c saturates those at INT64_MAX) refuses the report. */
static int count_member(struct walk *w, json_object *o, const char *key, const char *where,
                        int64_t *out)
{
	json_object *v = member(o, key);
	*out = 0;
	if (!v)
		return err_stage(w->e, ERR_STAGE_VALIDATE, ERR_INPUT, "%s%s is missing", where,
		                 key);
	if (json_object_is_type(v, json_type_int)) {
		int64_t n = json_object_get_int64(v);
		if (n >= 0 && n < INT64_MAX) {
			*out = n;
			return 0;
		}
		if (n == INT64_MAX || json_object_get_uint64(v) > (uint64_t)INT64_MAX)
			return err_stage(w->e, ERR_STAGE_VALIDATE, ERR_INPUT,
			                 "%s%s is a number beyond 2^63: not a session count", where,
			                 key);
	}
	return err_stage(w->e, ERR_STAGE_VALIDATE, ERR_INPUT,
	                 "%s%s %.*s is not a session count (an integer from 0 to 2^63-2)", where,
	                 key, VALUE_SHOWN,
	                 json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
	                                                       JSON_C_TO_STRING_NOSLASHESCAPE));
}

static void lower(char *s)
{
	for (; s && *s; s++)
		*s = g_ascii_tolower(*s);
}

static void check_enum(struct walk *w, char *v, const char *const *names, const char *where,
                       const char *what)
{
	if (!v)
		return;
	lower(v);
	for (const char *const *n = names; *n; n++)
		if (strcmp(v, *n) == 0)
			return;
	char k[200];
	snprintf(k, sizeof k, "enum\001%s\001%.80s", what, v);
	complaints_add(&w->devs, k, "%s%s '%.*s' is not one of RFC 8460's", where, what,
	               VALUE_SHOWN, v);
}

/* An array of strings re-serialised by json-c; other members are named and
 * left out. */
static char *strings_json(struct walk *w, json_object *o, const char *key, const char *where)
{
	json_object *v = member(o, key);
	json_object *out = json_object_new_array();
	if (v && json_object_is_type(v, json_type_string)) {
		/* One string where a list was due: a list of one. */
		char *c = clean(w, json_object_get_string(v), (size_t)json_object_get_string_len(v),
		                where, key);
		json_object_array_add(out, json_object_new_string(c));
		free(c);
	} else if (v && json_object_is_type(v, json_type_array)) {
		size_t n = json_object_array_length(v);
		for (size_t i = 0; i < n; i++) {
			json_object *s = json_object_array_get_idx(v, i);
			if (json_object_is_type(s, json_type_string)) {
				char *c = clean(w, json_object_get_string(s),
				                (size_t)json_object_get_string_len(s), where, key);
				json_object_array_add(out, json_object_new_string(c));
				free(c);
			} else {
				char k[160];
				snprintf(k, sizeof k, "list\001%s\001%s", where, key);
				complaints_add(&w->devs, k,
				               "%s%s holds a value of type %s (left out)", where,
				               key, json_type_to_name(json_object_get_type(s)));
			}
		}
	} else if (v && !json_object_is_type(v, json_type_null)) {
		char k[160];
		snprintf(k, sizeof k, "list\001%s\001%s", where, key);
		complaints_add(&w->devs, k, "%s%s is of type %s, not a list (ignored)", where, key,
		               json_type_to_name(json_object_get_type(v)));
	}
	char *s = xstrdup(json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN |
	                                                          JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(out);
	return s;
}

static char *ip_member(struct walk *w, json_object *o, const char *key, const char *where)
{
	char *raw = str_member(w, o, key, where);
	if (!raw || !*raw) {
		free(raw);
		return NULL;
	}
	char ip[VALIDATE_IP_MAX];
	if (validate_ip(raw, ip) != 0) {
		char k[200];
		snprintf(k, sizeof k, "ip\001%s\001%.80s", key, raw);
		complaints_add(&w->devs, k, "%s%s '%.*s' is not an IP address (ignored)", where,
		               key, VALUE_SHOWN, raw);
		free(raw);
		return NULL;
	}
	free(raw);
	return xstrdup(ip);
}

static int64_t timestamp(struct walk *w, json_object *range, const char *key, int64_t *out)
{
	char *s = str_member(w, range, key, "date-range/");
	if (!s)
		return err_stage(w->e, ERR_STAGE_VALIDATE, ERR_INPUT, "date-range/%s is missing",
		                 key);
	GTimeZone *utc = g_time_zone_new_utc();
	GDateTime *t = g_date_time_new_from_iso8601(s, utc);
	g_time_zone_unref(utc);
	if (!t) {
		err_stage(w->e, ERR_STAGE_VALIDATE, ERR_INPUT,
		          "date-range/%s '%.*s' is not an RFC 3339 date-time", key, VALUE_SHOWN, s);
		free(s);
		return -1;
	}
	*out = g_date_time_to_unix(t);
	g_date_time_unref(t);
	free(s);
	return 0;
}

static int read_failure(struct walk *w, json_object *f, struct tlsrpt_failure *out,
                        const char *where)
{
	out->result_type = str_member(w, f, "result-type", where);
	if (!out->result_type || !*out->result_type) {
		free(out->result_type);
		out->result_type = xstrdup("");
		complaints_add(&w->devs, "no-result-type", "%sresult-type is missing", where);
	}
	check_enum(w, out->result_type, result_types, where, "result-type");
	out->sending_mta_ip = ip_member(w, f, "sending-mta-ip", where);
	out->receiving_mx_hostname = str_member(w, f, "receiving-mx-hostname", where);
	out->receiving_mx_helo = str_member(w, f, "receiving-mx-helo", where);
	out->receiving_ip = ip_member(w, f, "receiving-ip", where);
	out->failure_reason_code = str_member(w, f, "failure-reason-code", where);
	if (!out->failure_reason_code)
		out->failure_reason_code = str_member(w, f, "failure-error-code", where);
	out->additional_information = str_member(w, f, "additional-information", where);
	return count_member(w, f, "failed-session-count", where, &out->failed_sessions);
}

static int read_policy(struct walk *w, json_object *entry, size_t no, struct tlsrpt_policy *p,
                       bool *skip)
{
	char where[48];
	snprintf(where, sizeof where, "policy %zu: ", no);
	*skip = false;
	json_object *pol = member(entry, "policy");
	p->policy_domain = str_member(w, pol, "policy-domain", where);
	if (!p->policy_domain || !*p->policy_domain) {
		char k[32];
		snprintf(k, sizeof k, "no-domain\001%zu", no);
		complaints_add(&w->devs, k, "%spolicy-domain is missing (policy skipped)", where);
		*skip = true;
		return 0;
	}
	lower(p->policy_domain);
	p->policy_type = str_member(w, pol, "policy-type", where);
	if (!p->policy_type) {
		p->policy_type = xstrdup("");
		complaints_add(&w->devs, "no-policy-type", "%spolicy-type is missing", where);
	}
	check_enum(w, p->policy_type, policy_types, where, "policy-type");
	p->policy_strings_json = strings_json(w, pol, "policy-string", where);
	p->mx_hosts_json = strings_json(w, pol, "mx-host", where);
	json_object *sum = member(entry, "summary");
	if (count_member(w, sum, "total-successful-session-count", where,
	                 &p->successful_sessions) != 0 ||
	    count_member(w, sum, "total-failure-session-count", where, &p->failed_sessions) != 0)
		return -1;

	json_object *det = member(entry, "failure-details");
	if (!det || json_object_is_type(det, json_type_null))
		return 0;
	if (!json_object_is_type(det, json_type_array)) {
		complaints_add(&w->devs, "details-type",
		               "%sfailure-details is not a list (ignored)", where);
		return 0;
	}
	size_t n = json_object_array_length(det);
	if (n > w->lim->max_failures || w->failures > w->lim->max_failures - n)
		return err_stage(w->e, ERR_STAGE_VALIDATE, ERR_INPUT,
		                 "more than %zu failure details in one report refused",
		                 w->lim->max_failures);
	p->failures = xcalloc(n ? n : 1, sizeof *p->failures);
	for (size_t i = 0; i < n; i++) {
		json_object *f = json_object_array_get_idx(det, i);
		char fwhere[80];
		snprintf(fwhere, sizeof fwhere, "policy %zu failure %zu: ", no, i + 1);
		if (!json_object_is_type(f, json_type_object)) {
			complaints_add(&w->devs, "detail-type",
			               "%sa failure detail of type %s, not an object (skipped)",
			               fwhere, json_type_to_name(json_object_get_type(f)));
			continue;
		}
		if (read_failure(w, f, &p->failures[p->n_failures++], fwhere) != 0) {
			w->failures += p->n_failures;
			return -1;
		}
	}
	w->failures += p->n_failures;
	return 0;
}

static void free_policy(struct tlsrpt_policy *p)
{
	for (size_t i = 0; i < p->n_failures; i++) {
		struct tlsrpt_failure *f = &p->failures[i];
		free(f->result_type);
		free(f->sending_mta_ip);
		free(f->receiving_mx_hostname);
		free(f->receiving_mx_helo);
		free(f->receiving_ip);
		free(f->failure_reason_code);
		free(f->additional_information);
	}
	free(p->failures);
	free(p->policy_type);
	free(p->policy_domain);
	free(p->policy_strings_json);
	free(p->mx_hosts_json);
	memset(p, 0, sizeof *p);
}

void tlsrpt_free(struct tlsrpt_report *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_policies; i++)
		free_policy(&r->policies[i]);
	free(r->policies);
	free(r->org_name);
	free(r->report_id);
	free(r->contact_info);
	free(r);
}

static int read_report(struct walk *w, json_object *root)
{
	struct tlsrpt_report *r = w->r;
	if (!json_object_is_type(root, json_type_object))
		return err_stage(w->e, ERR_STAGE_JSON, ERR_INPUT,
		                 "not a TLS report: the JSON document is of type %s, not an object",
		                 json_type_to_name(json_object_get_type(root)));
	json_object *range = member(root, "date-range");
	json_object *pols = member(root, "policies");
	if (!range && !pols)
		return err_stage(w->e, ERR_STAGE_JSON, ERR_INPUT,
		                 "not a TLS report: no date-range and no policies");
	r->org_name = str_member(w, root, "organization-name", "");
	if (!r->org_name) {
		r->org_name = xstrdup("");
		complaints_add(&w->devs, "no-org", "organization-name is missing");
	}
	r->report_id = str_member(w, root, "report-id", "");
	if (!r->report_id || !*r->report_id) {
		free(r->report_id);
		r->report_id = xstrdup("");
		complaints_add(&w->devs, "no-id", "report-id is missing or empty");
	}
	r->contact_info = str_member(w, root, "contact-info", "");
	if (!range || !json_object_is_type(range, json_type_object))
		return err_stage(w->e, ERR_STAGE_VALIDATE, ERR_INPUT, "date-range is missing");
	if (timestamp(w, range, "start-datetime", &r->begin) != 0 ||
	    timestamp(w, range, "end-datetime", &r->end) != 0)
		return -1;
	if (r->begin > r->end)
		return err_stage(w->e, ERR_STAGE_VALIDATE, ERR_INPUT,
		                 "date-range start %lld is after end %lld", (long long)r->begin,
		                 (long long)r->end);
	if (!pols || !json_object_is_type(pols, json_type_array))
		return err_stage(w->e, ERR_STAGE_VALIDATE, ERR_INPUT,
		                 "policies is missing or not a list: no policy domain");
	size_t n = json_object_array_length(pols);
	if (n > w->lim->max_policies)
		return err_stage(w->e, ERR_STAGE_VALIDATE, ERR_INPUT,
		                 "%zu policies in one report refused (more than %zu)", n,
		                 w->lim->max_policies);
	r->policies = xcalloc(n ? n : 1, sizeof *r->policies);
	for (size_t i = 0; i < n; i++) {
		bool skip = false;
		struct tlsrpt_policy *p = &r->policies[r->n_policies];
		if (read_policy(w, json_object_array_get_idx(pols, i), i + 1, p, &skip) != 0) {
			free_policy(p);
			return -1;
		}
		if (skip)
			free_policy(p);
		else
			r->n_policies++;
	}
	if (r->n_policies == 0)
		return err_stage(w->e, ERR_STAGE_VALIDATE, ERR_INPUT,
		                 "no policy with a policy-domain (%zu policies)", n);
	return 0;
}

int tlsrpt_parse(tlsrpt_read_fn rd, void *ctx, const struct tlsrpt_limits *lim,
                 struct tlsrpt_report **out, struct err *e)
{
	struct tlsrpt_limits deflim;
	struct walk w = {.e = e};
	json_tokener *tok = NULL;
	json_object *root = NULL;
	unsigned char *buf = xmalloc(CHUNK);
	size_t total = 0;
	int rc = -1;

	*out = NULL;
	if (!lim) {
		tlsrpt_limits_default(&deflim);
		lim = &deflim;
	}
	w.lim = lim;
	complaints_init(&w.devs);
	tok = json_tokener_new_ex(lim->max_depth);
	for (;;) {
		ssize_t n = rd(ctx, buf, CHUNK, e);
		if (n < 0) {
			err_set_stage_if_empty(e, ERR_STAGE_JSON);
			goto out;
		}
		if (n == 0) {
			/* The object never closed (it ends at its '}'). */
			err_stage(e, ERR_STAGE_JSON, ERR_INPUT,
			          total ? "malformed JSON: the document ends inside a value "
			                  "(truncated?)"
			                : "the TLS report is empty (0 bytes)");
			goto out;
		}
		total += (size_t)n;
		if (total > lim->max_bytes) {
			err_stage(e, ERR_STAGE_JSON, ERR_INPUT,
			          "TLS report larger than %zu bytes refused (RFC 8460 reports are "
			          "a few kilobytes)",
			          lim->max_bytes);
			goto out;
		}
		/* Skip a UTF-8 BOM before the first byte reaches the tokener. */
		size_t skip = 0;
		if (total == (size_t)n && n >= 3 && buf[0] == 0xEF && buf[1] == 0xBB &&
		    buf[2] == 0xBF)
			skip = 3;
		root =
		    json_tokener_parse_ex(tok, (const char *)buf + skip, (int)((size_t)n - skip));
		enum json_tokener_error jerr = json_tokener_get_error(tok);
		if (jerr == json_tokener_continue)
			continue;
		if (jerr == json_tokener_error_depth) {
			err_stage(e, ERR_STAGE_JSON, ERR_INPUT,
			          "JSON nested deeper than %d levels refused (RFC 8460 needs 5)",
			          lim->max_depth);
			goto out;
		}
		if (jerr != json_tokener_success) {
			err_stage(e, ERR_STAGE_JSON, ERR_INPUT, "malformed JSON at byte %zu: %s",
			          total - (size_t)n + json_tokener_get_parse_end(tok) + skip,
			          json_tokener_error_desc(jerr));
			goto out;
		}
		/* What follows the document (padding, a newline) is not read. */
		break;
	}
	if (!root) {
		err_stage(e, ERR_STAGE_JSON, ERR_INPUT,
		          "malformed JSON: the document is empty or null");
		goto out;
	}
	w.r = xcalloc(1, sizeof *w.r);
	if (read_report(&w, root) != 0)
		goto out;
	w.r->recovered = complaints_any(&w.devs);
	snprintf(w.r->complaint, sizeof w.r->complaint, "%s", complaints_text(&w.devs));
	*out = w.r;
	w.r = NULL;
	rc = 0;
out:
	tlsrpt_free(w.r);
	if (root)
		json_object_put(root);
	json_tokener_free(tok);
	complaints_free(&w.devs);
	free(buf);
	return rc;
}

int tlsrpt_parse_mem(const void *data, size_t len, struct tlsrpt_report **out, struct err *e)
{
	struct memread m = {data, len, 0};
	return tlsrpt_parse(memread, &m, NULL, out, e);
}
