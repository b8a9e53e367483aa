/*
 * The aggregate report's header and each record made whole (see
 * aggr_int.h): required values checked, values outside the schema kept as
 * sent, lower-cased and named once among the report's complaints, a record
 * without a sender or a count skipped alone, then the handler called.
 */
#include "ingest/aggr_int.h"

#include "core/xalloc.h"
#include "ingest/validate.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t aggr_record_no(const struct parser *p)
{
	return p->nth;
}

/* Real reporters write values the schema does not allow ('none' for a
 * policy_evaluated result, 'nil' for sp). Such a value is kept as written,
 * trimmed and lower-cased, and named once among the report's complaints. */
static void ascii_lower(char *v)
{
	for (; *v; v++)
		if (*v >= 'A' && *v <= 'Z')
			*v = (char)(*v - 'A' + 'a');
}

static void deviation(struct parser *p, const char *where, const char *what, char *value,
                      enum validate_enum kind)
{
	char names[120];
	ascii_lower(value);
	validate_enum_names(kind, names, sizeof names);
	char *key = xasprintf("%s\001%s", what, value);
	complaints_add(&p->devs, key, "%s%s '%.*s' (not %s)", where, what, VALUE_SHOWN, value,
	               names);
	free(key);
}

static int handler_rc(struct parser *p, int rc)
{
	if (rc == AGGR_STOP) {
		p->stopped = true;
		p->res->stopped = true;
		return 1;
	}
	if (rc != 0) {
		err_set(p->e, ERR_INTERNAL, "the report handler failed without saying why");
		return -1;
	}
	return 0;
}

static int norm_rep_enum(struct parser *p, char **field, enum validate_enum kind, const char *what)
{
	const char *canon;
	if (validate_enum(kind, *field, &canon) != 0) {
		char full[64];
		snprintf(full, sizeof full, "policy_published %s", what);
		deviation(p, "", full, *field, kind);
		return 0;
	}
	free(*field);
	*field = canon ? xstrdup(canon) : NULL;
	return 0;
}

/* A 13-digit timestamp is milliseconds (some reporters write Java's
 * currentTimeMillis): read as seconds it would be the year 55,000. */
static int fix_millis(struct parser *p, const char *which, int64_t *t)
{
	if (*t < MS_EPOCH_MIN || *t >= MS_EPOCH_END)
		return 0;
	char key[16];
	snprintf(key, sizeof key, "ms-%s", which);
	complaints_add(&p->devs, key,
	               "date_range %s %lld is in milliseconds (read as %lld seconds)", which,
	               (long long)*t, (long long)(*t / 1000));
	*t /= 1000;
	return 0;
}

int aggr_emit_header(struct parser *p)
{
	struct aggr_report *r = &p->rep;
	struct aggr_policy *pol = &r->policy;
	/* Without org_name or report_id the report still means something:
	 * its identity holds '' there (the store does the same). */
	if (!r->org_name) {
		r->org_name = xstrdup("");
		complaints_add(&p->devs, "org_name", "report_metadata/org_name is missing");
	}
	if (!r->report_id || !r->report_id[0])
		complaints_add(&p->devs, "report_id",
		               "report_metadata/report_id is missing or empty");
	if (!pol->domain || !pol->domain[0])
		return err_stage(p->e, ERR_STAGE_VALIDATE, ERR_INPUT,
		                 "policy_published/domain is missing or empty");
	if (!p->begin_raw || !p->end_raw)
		return err_stage(p->e, ERR_STAGE_VALIDATE, ERR_INPUT,
		                 "report_metadata/date_range needs both begin and end");
	if (validate_timestamp(p->begin_raw, &r->begin) != 0)
		return err_stage(p->e, ERR_STAGE_VALIDATE, ERR_INPUT,
		                 "date_range begin '%.*s' is not a unix timestamp", VALUE_SHOWN,
		                 p->begin_raw);
	if (validate_timestamp(p->end_raw, &r->end) != 0)
		return err_stage(p->e, ERR_STAGE_VALIDATE, ERR_INPUT,
		                 "date_range end '%.*s' is not a unix timestamp", VALUE_SHOWN,
		                 p->end_raw);
	if (fix_millis(p, "begin", &r->begin) != 0 || fix_millis(p, "end", &r->end) != 0)
		return -1;
	if (r->begin > r->end)
		return err_stage(p->e, ERR_STAGE_VALIDATE, ERR_INPUT,
		                 "date_range begin %lld is after end %lld", (long long)r->begin,
		                 (long long)r->end);
	if (norm_rep_enum(p, &pol->adkim, VALIDATE_ALIGNMENT, "adkim") != 0 ||
	    norm_rep_enum(p, &pol->aspf, VALIDATE_ALIGNMENT, "aspf") != 0 ||
	    norm_rep_enum(p, &pol->p, VALIDATE_POLICY, "p") != 0 ||
	    norm_rep_enum(p, &pol->sp, VALIDATE_POLICY, "sp") != 0 ||
	    norm_rep_enum(p, &pol->np, VALIDATE_POLICY, "np") != 0 ||
	    norm_rep_enum(p, &pol->testing, VALIDATE_TESTING, "testing") != 0 ||
	    norm_rep_enum(p, &pol->discovery_method, VALIDATE_DISCOVERY, "discovery_method") != 0)
		return -1;
	pol->pct = -1;
	if (p->pct_raw && p->pct_raw[0] && validate_pct(p->pct_raw, &pol->pct) != 0) {
		pol->pct = -1;
		complaints_add(
		    &p->devs, "pct",
		    "policy_published pct '%.*s' is not a number from 0 to 100 (ignored)",
		    VALUE_SHOWN, p->pct_raw);
	}
	if (p->has_errors)
		r->errors = xstrdup(p->errors.data ? p->errors.data : "");
	if (r->namespace_uri && strcmp(r->namespace_uri, NS_RFC9990) == 0)
		p->saw9990 = true;
	if (r->version && r->version[0] == '2')
		p->saw9990 = true;
	r->schema = p->saw9990 ? AGGR_SCHEMA_RFC9990 : AGGR_SCHEMA_RFC7489;
	if (p->rep_extra)
		r->extra_json = xstrdup(json_object_to_json_string_ext(
		    p->rep_extra, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	p->header_done = true;
	if (!p->h->header)
		return 0;
	return handler_rc(p, p->h->header(p->h->ctx, r, p->e));
}

static char *rec_copy(struct parser *p, const char *s)
{
	return s ? arena_strndup(&p->arena, s, strlen(s)) : NULL;
}

static int norm_rec_enum(struct parser *p, char **field, enum validate_enum kind, const char *what,
                         bool keep_empty)
{
	const char *canon;
	if (validate_enum(kind, *field, &canon) != 0) {
		char where[40];
		snprintf(where, sizeof where,
		         "record %llu: ", (unsigned long long)aggr_record_no(p));
		deviation(p, where, what, *field, kind);
		return 0;
	}
	if (canon)
		*field = rec_copy(p, canon);
	else if (!(keep_empty && *field))
		*field = NULL;
	else
		(*field)[0] = '\0';
	return 0;
}

void aggr_reset_record(struct parser *p)
{
	arena_reset(&p->arena);
	memset(&p->rec, 0, sizeof p->rec);
	p->count_raw = NULL;
	if (p->rec_extra) {
		json_object_put(p->rec_extra);
		p->rec_extra = NULL;
	}
	p->rec_extra_n = 0;
}

/* `what` and `value` say which deviation this is (named once). */
static int skip_record(struct parser *p, const char *what, const char *value, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int skip_record(struct parser *p, const char *what, const char *value, const char *fmt, ...)
{
	char msg[300];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	p->res->skipped++;
	char *key = xasprintf("%s\001%s", what, value ? value : "");
	complaints_add(&p->devs, key, "%s (record skipped)", msg);
	free(key);
	aggr_reset_record(p);
	return 0;
}

int aggr_emit_record(struct parser *p)
{
	struct aggr_record *rec = &p->rec;
	unsigned long long no = (unsigned long long)aggr_record_no(p);
	char ip[VALIDATE_IP_MAX];
	/* A record without a sender or a count says nothing: it alone is
	 * skipped (and counted), the rest of the report stays. */
	if (!rec->source_ip)
		return skip_record(p, "source_ip-missing", NULL,
		                   "record %llu: source_ip is missing", no);
	if (validate_ip(rec->source_ip, ip) != 0)
		return skip_record(p, "source_ip-bad", rec->source_ip,
		                   "record %llu: source_ip '%.*s' is not an IP address", no,
		                   VALUE_SHOWN, rec->source_ip);
	if (validate_ip_unspecified(ip))
		return skip_record(p, "source_ip-unspecified", ip,
		                   "record %llu: source_ip '%s' is the unspecified address", no,
		                   ip);
	rec->source_ip = rec_copy(p, ip);
	if (!p->count_raw)
		return skip_record(p, "count-missing", NULL, "record %llu: count is missing", no);
	if (validate_count(p->count_raw, &rec->count) != 0)
		return skip_record(p, "count-bad", p->count_raw,
		                   "record %llu: count '%.*s' is not a non-negative 64-bit integer",
		                   no, VALUE_SHOWN, p->count_raw);
	if (norm_rec_enum(p, &rec->disposition, VALIDATE_DISPOSITION, "disposition", false) ||
	    norm_rec_enum(p, &rec->dkim, VALIDATE_POLICY_RESULT, "policy_evaluated dkim", false) ||
	    norm_rec_enum(p, &rec->spf, VALIDATE_POLICY_RESULT, "policy_evaluated spf", false))
		return -1;
	for (size_t i = 0; i < rec->n_reasons; i++)
		if (norm_rec_enum(p, &p->reasons[i].type, VALIDATE_REASON_TYPE, "reason type",
		                  true))
			return -1;
	for (size_t i = 0; i < rec->n_dkim; i++)
		if (norm_rec_enum(p, &p->dkim[i].result, VALIDATE_DKIM_RESULT, "dkim result",
		                  false))
			return -1;
	for (size_t i = 0; i < rec->n_spf; i++)
		if (norm_rec_enum(p, &p->spf[i].scope, VALIDATE_SPF_SCOPE, "spf scope", false) ||
		    norm_rec_enum(p, &p->spf[i].result, VALIDATE_SPF_RESULT, "spf result", false))
			return -1;
	if (rec->header_from)
		validate_header_from(rec->header_from);
	rec->reasons = rec->n_reasons ? p->reasons : NULL;
	rec->dkim_auth = rec->n_dkim ? p->dkim : NULL;
	rec->spf_auth = rec->n_spf ? p->spf : NULL;
	if (p->rec_extra)
		rec->extra_json = rec_copy(
		    p, json_object_to_json_string_ext(
		           p->rec_extra, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	if ((uint64_t)rec->count > UINT64_MAX - p->res->messages)
		return err_stage(p->e, ERR_STAGE_VALIDATE, ERR_INPUT,
		                 "record %llu: the sum of counts overflows", no);
	int rc = p->h->record ? p->h->record(p->h->ctx, rec, p->e) : 0;
	if (rc == 0 || rc == AGGR_STOP) {
		p->res->records++;
		p->res->messages += (uint64_t)rec->count;
	}
	rc = handler_rc(p, rc);
	aggr_reset_record(p);
	return rc;
}
