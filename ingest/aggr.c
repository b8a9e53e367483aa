/*
 * The aggregate-report parser: an xmlTextReader loop over a table of the
 * elements we know, keyed by (parent element, local name), so namespace
 * prefixes and stray wrappers around <feedback> do not matter.
 *
 * Bytes reach libxml2 through ingest/xmlin (BOM, DOCTYPE refusal, invalid
 * UTF-8 and control bytes, raw '<' in recover mode, padding of a truncated
 * document); core/arena holds each record's strings. Element names are
 * compared by pointer: libxml2 interns every name in the reader's
 * dictionary, and we intern ours in the same dictionary once per parse.
 *
 * Decisions worth knowing:
 *   - parsing ends at </feedback>: whatever follows (an unclosed wrapper,
 *     trailing bytes) is never looked at.
 *   - a report without <record> is refused (stage validate, "report has no
 *     records"); the header callback is not called for it.
 *   - RFC 9990 is detected by the namespace, a version starting with "2",
 *     or np/testing/discovery_method/generator/file-level extension before
 *     the first record (the header must go out before the first record, so
 *     a human_result inside records cannot change the schema any more).
 *   - unknown elements go to extra_json under their path in the report or
 *     the record; unknown report-level elements after the first record are
 *     dropped (the header has gone out).
 *   - libxml2's reader stops at the first well-formedness error even in
 *     recover mode, so recovery here means: escape raw '<', pad the end of
 *     a truncated document so the reader hands over the nodes it holds, and
 *     keep every complete record seen before the error.
 */
#include "ingest/aggr.h"
#include "ingest/aggr_int.h"

#include "core/arena.h"
#include "core/buf.h"
#include "core/xalloc.h"
#include "ingest/complaints.h"
#include "ingest/cp1252.h"
#include "ingest/validate.h"
#include "ingest/xmlin.h"

#include <json-c/json.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlreader.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rule {
	const char *name;
	enum tok parent;
	enum tok tok;
};

/* The elements we know: {name, parent element, token}. Order matters only
 * for speed (frequent first). */
static const struct rule rules[] = {
    {"row", T_RECORD, T_ROW},
    {"source_ip", T_ROW, T_SOURCE_IP},
    {"count", T_ROW, T_COUNT},
    {"policy_evaluated", T_ROW, T_POLEVAL},
    {"disposition", T_POLEVAL, T_DISPOSITION},
    {"dkim", T_POLEVAL, T_PE_DKIM},
    {"spf", T_POLEVAL, T_PE_SPF},
    {"reason", T_POLEVAL, T_REASON},
    {"type", T_REASON, T_R_TYPE},
    {"comment", T_REASON, T_R_COMMENT},
    {"identifiers", T_RECORD, T_IDENT},
    {"identities", T_RECORD, T_IDENT},
    {"header_from", T_IDENT, T_HEADER_FROM},
    {"envelope_from", T_IDENT, T_ENV_FROM},
    {"envelope_to", T_IDENT, T_ENV_TO},
    {"auth_results", T_RECORD, T_AUTH},
    {"dkim", T_AUTH, T_DKIM},
    {"domain", T_DKIM, T_DKIM_DOMAIN},
    {"selector", T_DKIM, T_DKIM_SELECTOR},
    {"result", T_DKIM, T_DKIM_RESULT},
    {"human_result", T_DKIM, T_DKIM_HUMAN},
    {"spf", T_AUTH, T_SPF},
    {"domain", T_SPF, T_SPF_DOMAIN},
    {"scope", T_SPF, T_SPF_SCOPE},
    {"result", T_SPF, T_SPF_RESULT},
    {"human_result", T_SPF, T_SPF_HUMAN},
    {"record", T_FEEDBACK, T_RECORD},
    {"version", T_FEEDBACK, T_VERSION},
    {"report_metadata", T_FEEDBACK, T_META},
    {"org_name", T_META, T_ORG},
    {"email", T_META, T_EMAIL},
    {"extra_contact_info", T_META, T_EXTRA_CONTACT},
    {"report_id", T_META, T_REPORT_ID},
    {"date_range", T_META, T_DATE_RANGE},
    {"begin", T_DATE_RANGE, T_BEGIN},
    {"end", T_DATE_RANGE, T_END},
    {"error", T_META, T_ERROR},
    {"generator", T_META, T_GENERATOR},
    {"policy_published", T_FEEDBACK, T_POLICY},
    {"domain", T_POLICY, T_P_DOMAIN},
    {"adkim", T_POLICY, T_ADKIM},
    {"aspf", T_POLICY, T_ASPF},
    {"p", T_POLICY, T_P},
    {"sp", T_POLICY, T_SP},
    {"np", T_POLICY, T_NP},
    {"pct", T_POLICY, T_PCT},
    {"fo", T_POLICY, T_FO},
    {"testing", T_POLICY, T_TESTING},
    {"discovery_method", T_POLICY, T_DISCOVERY},
};
_Static_assert(sizeof rules / sizeof rules[0] == N_RULES, "N_RULES (aggr_int.h) counts rules[]");
_Static_assert(N_RULES <= 255, "rule indexes are kept in unsigned char");

/* Path of each known element inside its scope (report or record), used to
 * name the unknown elements found under it in extra_json. */
static const char *const tok_path[T_COUNT_] = {
    [T_FEEDBACK] = "",
    [T_META] = "report_metadata",
    [T_DATE_RANGE] = "report_metadata/date_range",
    [T_POLICY] = "policy_published",
    [T_RECORD] = "",
    [T_ROW] = "row",
    [T_POLEVAL] = "row/policy_evaluated",
    [T_REASON] = "row/policy_evaluated/reason",
    [T_IDENT] = "identifiers",
    [T_AUTH] = "auth_results",
    [T_DKIM] = "auth_results/dkim",
    [T_SPF] = "auth_results/spf",
};

/* ---- the parser ---- */

/* Where each leaf element's value goes: a field of the report header or of
 * the parser (raw text checked when the header or record is complete), or
 * a field of the record or of its newest dkim/spf/reason entry (in the
 * record's arena). */
enum leaf_home {
	H_NONE,
	H_REPORT,
	H_PARSER,
	H_ERRORS,
	H_RECORD,
	H_REC_RAW,
	H_REASON,
	H_DKIM,
	H_SPF
};

static const struct {
	enum leaf_home home;
	size_t off;
} leaves[T_COUNT_] = {
#define REP(t, f)  [t] = {H_REPORT, offsetof(struct aggr_report, f)}
#define PAR(t, f)  [t] = {H_PARSER, offsetof(struct parser, f)}
#define REC(t, f)  [t] = {H_RECORD, offsetof(struct aggr_record, f)}
#define RAW(t, f)  [t] = {H_REC_RAW, offsetof(struct parser, f)}
#define RSN(t, f)  [t] = {H_REASON, offsetof(struct aggr_reason, f)}
#define DKIM(t, f) [t] = {H_DKIM, offsetof(struct aggr_dkim, f)}
#define SPF(t, f)  [t] = {H_SPF, offsetof(struct aggr_spf, f)}
    REP(T_VERSION, version),
    REP(T_ORG, org_name),
    REP(T_EMAIL, email),
    REP(T_EXTRA_CONTACT, extra_contact_info),
    REP(T_REPORT_ID, report_id),
    PAR(T_BEGIN, begin_raw),
    PAR(T_END, end_raw),
    [T_ERROR] = {H_ERRORS, 0},
    REP(T_GENERATOR, generator),
    REP(T_P_DOMAIN, policy.domain),
    REP(T_ADKIM, policy.adkim),
    REP(T_ASPF, policy.aspf),
    REP(T_P, policy.p),
    REP(T_SP, policy.sp),
    REP(T_NP, policy.np),
    PAR(T_PCT, pct_raw),
    REP(T_FO, policy.fo),
    REP(T_TESTING, policy.testing),
    REP(T_DISCOVERY, policy.discovery_method),
    REC(T_SOURCE_IP, source_ip),
    RAW(T_COUNT, count_raw),
    REC(T_DISPOSITION, disposition),
    REC(T_PE_DKIM, dkim),
    REC(T_PE_SPF, spf),
    RSN(T_R_TYPE, type),
    RSN(T_R_COMMENT, comment),
    REC(T_HEADER_FROM, header_from),
    REC(T_ENV_FROM, envelope_from),
    REC(T_ENV_TO, envelope_to),
    DKIM(T_DKIM_DOMAIN, domain),
    DKIM(T_DKIM_SELECTOR, selector),
    DKIM(T_DKIM_RESULT, result),
    DKIM(T_DKIM_HUMAN, human_result),
    SPF(T_SPF_DOMAIN, domain),
    SPF(T_SPF_SCOPE, scope),
    SPF(T_SPF_RESULT, result),
    SPF(T_SPF_HUMAN, human_result),
#undef REP
#undef PAR
#undef REC
#undef RAW
#undef RSN
#undef DKIM
#undef SPF
};

/* Elements whose text is a value. */
static bool is_leaf(enum tok t)
{
	return leaves[t].home != H_NONE;
}

static void on_xml_error(void *ctx, xmlErrorPtr err)
{
	struct parser *p = ctx;
	if (!err || err->level < XML_ERR_ERROR || p->first_error[0])
		return;
	if (p->in && p->in->pad_left < XMLIN_PAD_BYTES) {
		/* The error is about our padding: the real input had ended. */
		snprintf(p->first_error, sizeof p->first_error,
		         "line %d: the document ends before its root element is closed "
		         "(truncated?)",
		         err->line);
		return;
	}
	char msg[300];
	snprintf(msg, sizeof msg, "%s", err->message ? err->message : "unknown error");
	size_t n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		msg[--n] = '\0';
	snprintf(p->first_error, sizeof p->first_error, "line %d: %s", err->line, msg);
}

static void silent_generic(void *ctx, const char *fmt, ...)
{
	(void)ctx;
	(void)fmt;
}

/* Trimmed span of the collected text. */
static const char *text_span(struct parser *p, size_t *len)
{
	const char *s = p->text.data ? p->text.data : "";
	size_t n = p->text.len;
	while (n > 0 && xmlin_space((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n > 0 && xmlin_space((unsigned char)s[n - 1]))
		n--;
	*len = n;
	return s;
}

static void set_rep(char **field, const char *s, size_t n)
{
	free(*field);
	*field = xstrndup(s, n);
}

static void extra_add(json_object **obj, const char *path, const char *val, size_t len)
{
	if (!*obj)
		*obj = json_object_new_object();
	json_object *v = json_object_new_string_len(val, (int)len);
	json_object *old;
	if (!json_object_object_get_ex(*obj, path, &old)) {
		json_object_object_add(*obj, path, v);
	} else if (json_object_is_type(old, json_type_array)) {
		json_object_array_add(old, v);
	} else {
		json_object *arr = json_object_new_array();
		json_object_array_add(arr, json_object_get(old));
		json_object_array_add(arr, v);
		json_object_object_add(*obj, path, arr);
	}
}

/* Appends a zeroed element to one of the per-record arrays. */
static void *push(void **arr, size_t *cap, size_t *n, size_t size)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 4;
		*arr = xrealloc(*arr, *cap * size);
	}
	void *slot = (char *)*arr + *n * size;
	memset(slot, 0, size);
	(*n)++;
	return slot;
}

static int start_record(struct parser *p)
{
	if (!p->header_done) {
		int rc = aggr_emit_header(p);
		if (rc != 0)
			return rc;
	}
	if (p->res->records >= p->lim->max_records)
		return err_stage(p->e, ERR_STAGE_VALIDATE, ERR_INPUT,
		                 "more than %zu records in one report", p->lim->max_records);
	aggr_reset_record(p);
	p->in_record = true;
	p->nth++;
	return 0;
}

static int check_auth(struct parser *p, size_t n, const char *what)
{
	if (n >= p->lim->max_auth)
		return err_stage(p->e, ERR_STAGE_VALIDATE, ERR_INPUT,
		                 "record %llu: more than %zu %s entries",
		                 (unsigned long long)aggr_record_no(p), p->lim->max_auth, what);
	return 0;
}

static int begin_element(struct parser *p, enum tok t)
{
	switch (t) {
	case T_FEEDBACK: {
		p->seen_feedback = true;
		p->feedback_depth = xmlTextReaderDepth(p->r);
		if (p->feedback_depth > 0)
			complaints_add(&p->devs, "wrapper", "<feedback> is inside <%.*s>",
			               VALUE_SHOWN, p->root_name ? p->root_name : "?");
		const xmlChar *ns = xmlTextReaderConstNamespaceUri(p->r);
		if (ns)
			p->rep.namespace_uri = xstrdup((const char *)ns);
		return 0;
	}
	case T_RECORD:
		return start_record(p);
	case T_DKIM:
		if (check_auth(p, p->rec.n_dkim, "dkim"))
			return -1;
		push((void **)&p->dkim, &p->dkim_cap, &p->rec.n_dkim, sizeof *p->dkim);
		return 0;
	case T_SPF:
		if (check_auth(p, p->rec.n_spf, "spf"))
			return -1;
		push((void **)&p->spf, &p->spf_cap, &p->rec.n_spf, sizeof *p->spf);
		return 0;
	case T_REASON:
		if (check_auth(p, p->rec.n_reasons, "reason"))
			return -1;
		push((void **)&p->reasons, &p->reasons_cap, &p->rec.n_reasons, sizeof *p->reasons);
		return 0;
	case T_NP:
	case T_TESTING:
	case T_DISCOVERY:
	case T_GENERATOR:
	case T_DKIM_HUMAN:
	case T_SPF_HUMAN:
		p->saw9990 = true;
		return 0;
	default:
		return 0;
	}
}

/* Stores the value of a leaf element. */
static int leaf_value(struct parser *p, enum tok t)
{
	size_t n;
	const char *s = text_span(p, &n);
	char *base = NULL;
	switch (leaves[t].home) {
	case H_NONE:
		return 0;
	case H_REPORT:
		set_rep((char **)((char *)&p->rep + leaves[t].off), s, n);
		return 0;
	case H_PARSER:
		set_rep((char **)((char *)p + leaves[t].off), s, n);
		return 0;
	case H_ERRORS:
		if (p->has_errors)
			buf_putc(&p->errors, '\n');
		buf_append(&p->errors, s, n);
		p->has_errors = true;
		return 0;
	case H_RECORD:
		base = (char *)&p->rec;
		break;
	case H_REC_RAW:
		base = (char *)p;
		break;
	case H_REASON:
		base = (char *)&p->reasons[p->rec.n_reasons - 1];
		break;
	case H_DKIM:
		base = (char *)&p->dkim[p->rec.n_dkim - 1];
		break;
	case H_SPF:
		base = (char *)&p->spf[p->rec.n_spf - 1];
		break;
	}
	if (!p->in_record)
		return 0; /* record elements outside a record are ignored */
	*(char **)(base + leaves[t].off) = arena_strndup(&p->arena, s, n);
	return 0;
}

static int unknown_value(struct parser *p)
{
	size_t n;
	const char *s = text_span(p, &n);
	json_object **obj = p->in_record ? &p->rec_extra : &p->rep_extra;
	size_t *count = p->in_record ? &p->rec_extra_n : &p->rep_extra_n;
	if (!p->in_record && p->header_done)
		return 0; /* after the header went out there is nowhere to put it */
	if (++*count > p->lim->max_auth)
		return err_stage(p->e, ERR_STAGE_VALIDATE, ERR_INPUT,
		                 "more than %zu unknown elements in one %s", p->lim->max_auth,
		                 p->in_record ? "record" : "report");
	extra_add(obj, p->path.data, s, n);
	return 0;
}

static int end_element(struct parser *p, int depth)
{
	struct frame *f = &p->stack[depth];
	int rc = 0;
	if (f->tok == T_UNKNOWN) {
		if (!f->has_child)
			rc = unknown_value(p);
		p->path.len = f->path_len;
		if (p->path.data)
			p->path.data[p->path.len] = '\0';
	} else if (is_leaf(f->tok)) {
		rc = leaf_value(p, f->tok);
	} else if (f->tok == T_RECORD) {
		if (p->in_record) {
			p->in_record = false;
			rc = aggr_emit_record(p);
		}
	} else if (f->tok == T_FEEDBACK) {
		if (!p->header_done) {
			/* A receiver saying it saw nothing: stored, with 0 records. */
			complaints_add(&p->devs, "no-records", "report has no records");
			rc = aggr_emit_header(p);
		}
		if (rc == 0) {
			p->done = true;
			rc = 1;
		}
	}
	p->open_depth = depth - 1;
	buf_reset(&p->text);
	return rc;
}

static enum tok lookup(struct parser *p, enum tok parent, const xmlChar *name)
{
	if (parent == T_NONE)
		return (!p->seen_feedback && name == p->name_feedback) ? T_FEEDBACK : T_NONE;
	if (parent == T_UNKNOWN)
		return T_UNKNOWN;
	for (unsigned k = p->first[parent]; k < p->first[parent + 1]; k++) {
		unsigned i = p->by_parent[k];
		if (p->names[i] == name)
			return rules[i].tok;
	}
	return T_UNKNOWN;
}

/* Counting sort of rules[] by parent, for lookup(). */
static void index_rules(struct parser *p)
{
	unsigned count[T_COUNT_ + 1] = {0};
	for (size_t i = 0; i < N_RULES; i++)
		count[rules[i].parent + 1]++;
	for (size_t t = 0; t < T_COUNT_; t++)
		count[t + 1] += count[t];
	for (size_t t = 0; t <= T_COUNT_; t++)
		p->first[t] = (unsigned char)count[t];
	for (size_t i = 0; i < N_RULES; i++)
		p->by_parent[count[rules[i].parent]++] = (unsigned char)i;
}

static int start_element(struct parser *p)
{
	int depth = xmlTextReaderDepth(p->r);
	if (depth < 0 || (size_t)depth >= p->lim->max_depth)
		return err_stage(p->e, ERR_STAGE_XML, ERR_INPUT,
		                 "elements nested deeper than %zu levels", p->lim->max_depth);
	const xmlChar *name = xmlTextReaderConstLocalName(p->r);
	if (!name)
		return err_stage(p->e, ERR_STAGE_XML, ERR_INPUT, "an element without a name");
	if (name == p->name_pad)
		return 0;
	if (depth == 0 && !p->root_name)
		p->root_name = (const char *)name;
	enum tok parent = depth > 0 ? p->stack[depth - 1].tok : T_NONE;
	if (depth > 0)
		p->stack[depth - 1].has_child = true;
	enum tok t = lookup(p, parent, name);
	struct frame *f = &p->stack[depth];
	f->tok = t;
	f->has_child = false;
	f->name = name;
	f->path_len = p->path.len;
	if (t == T_UNKNOWN) {
		if (parent != T_UNKNOWN) {
			buf_reset(&p->path);
			const char *base = tok_path[parent] ? tok_path[parent] : "";
			if (is_leaf(parent))
				base = (const char *)p->stack[depth - 1].name;
			buf_puts(&p->path, base);
			f->path_len = 0;
			if (parent == T_FEEDBACK && name == p->name_extension)
				p->saw9990 = true;
		}
		if (p->path.len > 0)
			buf_putc(&p->path, '/');
		if (buf_puts(&p->path, (const char *)name) != 0)
			return err_stage(p->e, ERR_STAGE_XML, ERR_INPUT, "element path too long");
	}
	p->open_depth = depth;
	buf_reset(&p->text);
	int rc = begin_element(p, t);
	if (rc == 0 && xmlTextReaderIsEmptyElement(p->r))
		rc = end_element(p, depth);
	return rc;
}

static int on_text(struct parser *p)
{
	int depth = xmlTextReaderDepth(p->r);
	if (p->open_depth < 0 || depth != p->open_depth + 1)
		return 0;
	struct frame *f = &p->stack[p->open_depth];
	if (f->tok != T_UNKNOWN && !is_leaf(f->tok))
		return 0;
	const xmlChar *v = xmlTextReaderConstValue(p->r);
	if (v && buf_puts(&p->text, (const char *)v) != 0)
		return err_stage(p->e, ERR_STAGE_VALIDATE, ERR_INPUT,
		                 "the text of <%s> is longer than %zu bytes", (const char *)f->name,
		                 p->lim->max_text);
	return 0;
}

static int step(struct parser *p)
{
	/* Text first, and without xmlTextReaderNodeType: for a text node it
	 * asks whether the text is blank and whether xml:space applies, which
	 * costs more than the rest of our handling of it. Blank text between
	 * elements lands in no leaf, and a leaf's text is trimmed anyway. */
	const xmlNode *node = xmlTextReaderCurrentNode(p->r);
	if (node && (node->type == XML_TEXT_NODE || node->type == XML_CDATA_SECTION_NODE))
		return on_text(p);
	switch (xmlTextReaderNodeType(p->r)) {
	case XML_READER_TYPE_ELEMENT:
		return start_element(p);
	case XML_READER_TYPE_END_ELEMENT:
		return end_element(p, xmlTextReaderDepth(p->r));
	case XML_READER_TYPE_TEXT:
	case XML_READER_TYPE_CDATA:
		return on_text(p);
	case XML_READER_TYPE_DOCUMENT_TYPE:
		return err_stage(p->e, ERR_STAGE_XML, ERR_INPUT,
		                 "DOCTYPE declarations are not allowed in reports "
		                 "(entity expansion attack?)");
	case XML_READER_TYPE_ENTITY_REFERENCE:
	case XML_READER_TYPE_ENTITY:
		return err_stage(p->e, ERR_STAGE_XML, ERR_INPUT,
		                 "entity references are not allowed in reports (&%s;)",
		                 (const char *)xmlTextReaderConstName(p->r));
	default:
		return 0;
	}
}

void aggr_limits_default(struct aggr_limits *l)
{
	l->max_depth = 64;
	l->max_text = (size_t)64 * 1024;
	l->max_records = 50000000;
	l->max_auth = 1000;
	l->max_attrs = 256;
	l->max_tag = (size_t)16 * 1024;
}

static void free_report(struct parser *p)
{
	struct aggr_report *r = &p->rep;
	char **strs[] = {&r->namespace_uri,
	                 &r->version,
	                 &r->org_name,
	                 &r->email,
	                 &r->extra_contact_info,
	                 &r->report_id,
	                 &r->generator,
	                 &r->errors,
	                 &r->extra_json,
	                 &r->policy.domain,
	                 &r->policy.adkim,
	                 &r->policy.aspf,
	                 &r->policy.p,
	                 &r->policy.sp,
	                 &r->policy.np,
	                 &r->policy.fo,
	                 &r->policy.testing,
	                 &r->policy.discovery_method,
	                 &p->begin_raw,
	                 &p->end_raw,
	                 &p->pct_raw};
	for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
		free(*strs[i]);
		*strs[i] = NULL;
	}
}

/* After the reader stopped with ret (0 end, -1 error): decides the outcome. */
static int finish(struct parser *p, struct xmlin *in, int ret, bool recover)
{
	if (err_is_set(p->e))
		return -1;
	if (p->stopped || p->done)
		return 0;
	if (in->failed)
		return err_stage(p->e, ERR_STAGE_XML, ERR_INTERNAL, "reading the report failed");
	if (in->total == 0)
		return err_stage(p->e, ERR_STAGE_XML, ERR_INPUT, "the report is empty (0 bytes)");
	if (recover && p->header_done && p->res->records > 0)
		return 0; /* salvaged: the record cut by the error is dropped */
	if (ret < 0 || p->first_error[0]) {
		if (p->first_error[0])
			return err_stage(p->e, ERR_STAGE_XML, ERR_INPUT, "malformed XML: %s",
			                 p->first_error);
		return err_stage(p->e, ERR_STAGE_XML, ERR_INPUT, "malformed XML");
	}
	if (!p->seen_feedback)
		return err_stage(p->e, ERR_STAGE_XML, ERR_INPUT,
		                 "not a DMARC aggregate report: no <feedback> element%s%s%s",
		                 p->root_name ? " (root element <" : "",
		                 p->root_name ? p->root_name : "", p->root_name ? ">)" : "");
	if (!p->header_done)
		return err_stage(p->e, ERR_STAGE_XML, ERR_INPUT,
		                 "the document ends before the report header is complete");
	return err_stage(p->e, ERR_STAGE_XML, ERR_INPUT, "the document ends inside <feedback>");
}

/* Whether a byte the input filter changed lies inside the report: after
 * </feedback> nothing counts (NUL padding, trailing junk). */
static bool fixup_counts(const struct parser *p, const struct xmlin *in, const struct fixup *f)
{
	if (!f->out_at)
		return false;
	if (!p->done || p->feedback_depth < 0 || p->feedback_depth >= XMLIN_CLOSE_DEPTHS)
		return true;
	uint64_t end = in->close_at[p->feedback_depth];
	return !end || f->out_at < end;
}

/* The report's complaint: the parser's own (recover mode), then each
 * deviation kept; res->recovered says whether there is any. */
static void sum_up(struct parser *p, const struct xmlin *in, bool recover)
{
	struct aggr_result *res = p->res;
	struct buf out;
	buf_init(&out, sizeof res->complaint - 1);
	if (recover && p->first_error[0])
		buf_puts(&out, p->first_error);
	else if (recover && in->escaped_at)
		buf_printf(&out, "a raw '<' in text was escaped (byte %llu)",
		           (unsigned long long)in->escaped_at);
	if (fixup_counts(p, in, &in->bad_utf8)) {
		unsigned char u[4] = {0};
		cp1252_to_utf8(in->bad_utf8.byte, u);
		complaints_add(&p->devs, "bytes-utf8",
		               "invalid UTF-8 byte 0x%02X at byte %llu read as Windows-1252 '%s'",
		               in->bad_utf8.byte, (unsigned long long)in->bad_utf8.in_at,
		               (const char *)u);
	}
	if (fixup_counts(p, in, &in->control))
		complaints_add(&p->devs, "bytes-control",
		               "control byte 0x%02X at byte %llu replaced by U+FFFD",
		               in->control.byte, (unsigned long long)in->control.in_at);
	if (fixup_counts(p, in, &in->nul))
		complaints_add(&p->devs, "bytes-nul", "NUL byte at byte %llu dropped",
		               (unsigned long long)in->nul.in_at);
	if (complaints_any(&p->devs)) {
		if (out.len)
			buf_puts(&out, "; ");
		/* Capped by the buffer: the first deviations are the ones named. */
		buf_append(&out, complaints_text(&p->devs), strlen(complaints_text(&p->devs)));
	}
	res->recovered = recover || complaints_any(&p->devs);
	snprintf(res->complaint, sizeof res->complaint, "%s", out.data ? out.data : "");
	buf_free(&out);
}

int aggr_parse(aggr_read_fn rd, void *rdctx, bool recover, const struct aggr_limits *lim,
               const struct aggr_handler *h, struct aggr_result *res, struct err *e)
{
	struct aggr_limits deflim;
	struct parser p;
	struct xmlin in;
	int rc = -1;
	if (!lim) {
		aggr_limits_default(&deflim);
		lim = &deflim;
	}
	memset(res, 0, sizeof *res);
	res->recovered = recover;
	memset(&p, 0, sizeof p);
	p.lim = lim;
	p.h = h;
	p.res = res;
	p.e = e;
	p.open_depth = -1;
	p.feedback_depth = -1;
	p.in = &in;
	p.rep.policy.pct = -1;
	p.stack = xcalloc(lim->max_depth + 1, sizeof *p.stack);
	buf_init(&p.text, lim->max_text);
	buf_init(&p.path, 4096);
	buf_init(&p.errors, lim->max_text);
	complaints_init(&p.devs);
	xmlin_init(&in, rd, rdctx, recover, &p.done, lim, e);

	/* Nothing from libxml2 reaches stderr: errors come to on_xml_error. */
	xmlStructuredErrorFunc saved_serror = xmlStructuredError;
	void *saved_sctx = xmlStructuredErrorContext;
	xmlGenericErrorFunc saved_generic = xmlGenericError;
	void *saved_gctx = xmlGenericErrorContext;
	xmlSetStructuredErrorFunc(&p, on_xml_error);
	xmlSetGenericErrorFunc(NULL, silent_generic);

	int opts = XML_PARSE_NONET | XML_PARSE_COMPACT;
	if (recover)
		opts |= XML_PARSE_RECOVER;
	p.r = xmlReaderForIO(xmlin_read, NULL, &in, NULL, NULL, opts);
	if (!p.r) {
		err_stage(e, ERR_STAGE_XML, ERR_INTERNAL, "cannot create the XML reader");
		goto out;
	}
	xmlTextReaderSetStructuredErrorHandler(p.r, on_xml_error, &p);
	for (size_t i = 0; i < N_RULES; i++)
		p.names[i] = xmlTextReaderConstString(p.r, (const xmlChar *)rules[i].name);
	index_rules(&p);
	p.name_feedback = xmlTextReaderConstString(p.r, (const xmlChar *)"feedback");
	p.name_extension = xmlTextReaderConstString(p.r, (const xmlChar *)"extension");
	p.name_pad = xmlTextReaderConstString(p.r, (const xmlChar *)XMLIN_PAD_ELEMENT);

	int ret;
	while ((ret = xmlTextReaderRead(p.r)) == 1) {
		int s = step(&p);
		if (s != 0)
			break;
	}
	rc = finish(&p, &in, ret, recover);
	if (rc == 0)
		sum_up(&p, &in, recover);
out:
	if (p.r)
		xmlFreeTextReader(p.r);
	xmlSetStructuredErrorFunc(saved_sctx, saved_serror);
	xmlSetGenericErrorFunc(saved_gctx, saved_generic);
	aggr_reset_record(&p);
	arena_free(&p.arena);
	free_report(&p);
	if (p.rep_extra)
		json_object_put(p.rep_extra);
	free(p.dkim);
	free(p.spf);
	free(p.reasons);
	free(p.stack);
	buf_free(&p.text);
	buf_free(&p.path);
	buf_free(&p.errors);
	complaints_free(&p.devs);
	xmlin_free(&in);
	return rc;
}
