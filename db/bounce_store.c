/*
 * bounce_store: see bounce_store.h. The batch is COPYed into a temporary
 * staging table; commit resolves tenants per distinct From domain (in C,
 * store_tenant_resolve), moves the rows into dmarcsift.bounces with ON
 * CONFLICT DO NOTHING on (tenant_id, event_key), and recomputes the
 * suppressions and escalations of what the batch touched from the stored
 * events (window functions), all in one transaction.
 */
#include "db/bounce_store.h"

#include "core/bnorm.h"
#include "core/buf.h"
#include "core/provider.h"
#include "core/utf8.h"
#include "core/xalloc.h"
#include "db/copy.h"
#include "db/db.h"
#include "db/store.h"
#include "db/tenant_domain.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
	FLUSH_AT = 64 * 1024, /* COPY bytes buffered before PQputCopyData */
	TEXT_MAX = 8 * 1024,  /* longest reply text kept */
	FIELD_MAX = 1024,     /* longest address, host, id kept */
	PATTERN_MAX = 512,    /* longest normalised pattern */
};

struct bounce_store {
	struct db *db;
	struct bounce_rules rules;
	int override_id;
	bool has_override;
	bool in_tx;
	struct copy copy; /* open from begin to commit */
	uint64_t staged;
};

void bounce_rules_default(struct bounce_rules *r)
{
	r->hard_after = 1;
	r->soft_after = 3;
	r->soft_window_days = 30;
	r->esc_window_hours = 24;
	r->esc_min_count = 20;
	r->esc_min_rate = 0.05;
	r->esc_jump_factor = 3.0;
}

void bounce_store_set_rules(struct bounce_store *s, const struct bounce_rules *r)
{
	s->rules = *r;
}

static const char sql_staging[] =
    "CREATE TEMP TABLE bounce_staging ("
    " at bigint NOT NULL, status text NOT NULL, source text NOT NULL, sending_ip inet,"
    " remote_ip inet, mail_from text, mail_from_domain text, header_from_domain text,"
    " recipient text, recipient_domain text, provider text, remote_mta text, reply_code integer,"
    " enhanced_code text, text text, pattern text NOT NULL, queue_id text, message_id text,"
    " campaign text, class text NOT NULL, severity text NOT NULL, action text NOT NULL,"
    " is_block boolean NOT NULL, listed_on text, listed_asset text, rule text,"
    " tdomain text NOT NULL, format text, auto_reply boolean NOT NULL,"
    " feedback_type text, ip_source text NOT NULL) ON COMMIT DROP;"
    "CREATE TEMP TABLE bounce_tmap (domain text PRIMARY KEY, tenant_id integer NOT NULL,"
    " org_domain text) ON COMMIT DROP;"
    "CREATE TEMP TABLE bounce_new (tenant_id integer, address text, pkey text,"
    " at timestamptz) ON COMMIT DROP";

/* The event key: what identifies one outcome of one attempt (header). */
static const char sql_insert[] =
    "WITH ins AS ("
    " INSERT INTO dmarcsift.bounces (tenant_id, at, status, sending_ip, remote_ip, mail_from,"
    "  mail_from_domain, header_from_domain, recipient, recipient_domain, provider, reply_code,"
    "  enhanced_code, class, severity, action, is_block, listed_on, listed_asset, rule, text,"
    "  pattern, remote_mta, queue_id, message_id, campaign, source, event_key, format,"
    "  auto_reply, feedback_type, ip_source, from_org_domain)"
    " SELECT m.tenant_id, CASE WHEN s.at = 0 THEN NULL ELSE to_timestamp(s.at) END, s.status,"
    "  s.sending_ip, s.remote_ip, s.mail_from, lower(s.mail_from_domain),"
    "  lower(s.header_from_domain), s.recipient, lower(s.recipient_domain), s.provider,"
    "  s.reply_code, s.enhanced_code, s.class, s.severity, s.action, s.is_block, s.listed_on,"
    "  s.listed_asset, s.rule, s.text, s.pattern, lower(s.remote_mta), s.queue_id,"
    "  s.message_id, s.campaign, s.source,"
    "  encode(sha256(convert_to(concat_ws(chr(31), s.source, s.at::text,"
    "   coalesce(lower(s.recipient), ''), coalesce(s.queue_id, ''), s.status,"
    "   coalesce(s.reply_code::text, ''), coalesce(s.text, '')), 'UTF8')), 'hex'),"
    "  s.format, s.auto_reply, s.feedback_type,"
    "  CASE WHEN s.sending_ip IS NULL THEN 'none' ELSE s.ip_source END, m.org_domain"
    " FROM pg_temp.bounce_staging s JOIN pg_temp.bounce_tmap m ON m.domain = s.tdomain"
    " ON CONFLICT (tenant_id, event_key) DO NOTHING"
    " RETURNING tenant_id, lower(recipient), provider_key, at)"
    "INSERT INTO pg_temp.bounce_new SELECT * FROM ins";

/*
 * Suppressions of the recipients the batch touched, recomputed from their
 * whole history. $1 hard_after, $2 soft_after, $3 soft window (interval).
 *  - hard: invalid_recipient bounces (status bounced) >= $1; never lifted.
 *  - complaint: one ARF complaint (class complaint); never lifted — a
 *    recipient who reported the mail as spam is not mailed again.
 *  - soft: mailbox_issue outcomes that were not deliveries. A run is the
 *    stretch between two deliveries (`run` counts the deliveries so far);
 *    retries of one message count once per run; $2 of them within $3 in
 *    one run suppress, and the delivery that ends the run lifts it.
 *  - an address the rules no longer suppress is lifted (late data).
 * Returns (newly suppressed, lifted).
 */
static const char sql_suppress[] =
    "WITH aff AS ("
    " SELECT DISTINCT tenant_id, address FROM pg_temp.bounce_new WHERE address <> ''"
    "), ev AS ("
    " SELECT b.tenant_id, lower(b.recipient) AS address, b.id, b.at, b.text,"
    "  b.status = 'delivered' AS is_delivery,"
    "  b.class = 'mailbox_issue' AND b.status <> 'delivered' AS is_soft,"
    "  b.class = 'invalid_recipient' AND b.status = 'bounced' AS is_hard,"
    "  b.class = 'complaint' AS is_complaint,"
    "  coalesce(b.message_id, b.queue_id, b.id::text) AS msg"
    " FROM dmarcsift.bounces b"
    " JOIN aff ON aff.tenant_id = b.tenant_id AND aff.address = lower(b.recipient)"
    "), hard AS ("
    " SELECT tenant_id, address, min(at) AS first_at, max(at) AS last_at, count(*) AS n,"
    "  (array_agg(text ORDER BY at DESC NULLS LAST, id DESC))[1] AS last_text"
    " FROM ev WHERE is_hard GROUP BY tenant_id, address HAVING count(*) >= $1::integer"
    "), compl AS ("
    " SELECT tenant_id, address, min(at) AS first_at, max(at) AS last_at, count(*) AS n,"
    "  (array_agg(text ORDER BY at DESC NULLS LAST, id DESC))[1] AS last_text"
    " FROM ev WHERE is_complaint GROUP BY tenant_id, address"
    "), seq AS ("
    " SELECT ev.*, sum(is_delivery::integer)"
    "  OVER (PARTITION BY tenant_id, address ORDER BY at, id) AS run"
    " FROM ev WHERE at IS NOT NULL AND (is_delivery OR is_soft)"
    "), soft1 AS ("
    " SELECT DISTINCT ON (tenant_id, address, run, msg) * FROM seq WHERE is_soft"
    " ORDER BY tenant_id, address, run, msg, at, id"
    "), soft AS ("
    " SELECT soft1.*, count(*) OVER (PARTITION BY tenant_id, address, run ORDER BY at"
    "  RANGE BETWEEN $3::interval PRECEDING AND CURRENT ROW) AS n_win"
    " FROM soft1"
    "), trig AS ("
    " SELECT DISTINCT ON (tenant_id, address) tenant_id, address, run, at AS trig_at"
    " FROM soft WHERE n_win >= $2::integer ORDER BY tenant_id, address, at DESC"
    "), softs AS ("
    " SELECT t.tenant_id, t.address, min(s.at) AS first_at, max(s.at) AS last_at,"
    "  count(*) AS n, (array_agg(s.text ORDER BY s.at DESC, s.id DESC))[1] AS last_text,"
    "  (SELECT min(d.at) FROM seq d WHERE d.tenant_id = t.tenant_id"
    "   AND d.address = t.address AND d.is_delivery AND d.run = t.run + 1) AS lifted"
    " FROM trig t JOIN soft s ON s.tenant_id = t.tenant_id AND s.address = t.address"
    "  AND s.run = t.run AND s.at >= t.trig_at - $3::interval"
    " GROUP BY t.tenant_id, t.address, t.run"
    "), combined AS ("
    " SELECT tenant_id, address, 'invalid_recipient' AS reason, first_at, last_at, n,"
    "  last_text, NULL::timestamptz AS lifted FROM hard"
    " UNION ALL"
    " SELECT tenant_id, address, 'complaint', first_at, last_at, n, last_text,"
    "  NULL::timestamptz FROM compl c WHERE NOT EXISTS (SELECT 1 FROM hard h"
    "  WHERE h.tenant_id = c.tenant_id AND h.address = c.address)"
    " UNION ALL"
    " SELECT tenant_id, address, 'mailbox_issue', first_at, last_at, n, last_text, lifted"
    " FROM softs s WHERE NOT EXISTS (SELECT 1 FROM hard h"
    "  WHERE h.tenant_id = s.tenant_id AND h.address = s.address)"
    "  AND NOT EXISTS (SELECT 1 FROM compl c"
    "  WHERE c.tenant_id = s.tenant_id AND c.address = s.address)"
    "), prev AS ("
    " SELECT s.tenant_id, s.address, s.lifted_at IS NULL AS was_active"
    " FROM dmarcsift.suppressions s JOIN aff USING (tenant_id, address)"
    "), up AS ("
    " INSERT INTO dmarcsift.suppressions AS s (tenant_id, address, reason,"
    "  first_evidence_at, last_evidence_at, evidence_count, last_text, added_at, lifted_at)"
    " SELECT tenant_id, address, reason, first_at, last_at, n, last_text, now(), lifted"
    " FROM combined"
    " ON CONFLICT (tenant_id, address) DO UPDATE SET reason = EXCLUDED.reason,"
    "  first_evidence_at = EXCLUDED.first_evidence_at,"
    "  last_evidence_at = EXCLUDED.last_evidence_at,"
    "  evidence_count = EXCLUDED.evidence_count, last_text = EXCLUDED.last_text,"
    "  added_at = CASE WHEN s.lifted_at IS NOT NULL AND EXCLUDED.lifted_at IS NULL"
    "   THEN now() ELSE s.added_at END,"
    "  lifted_at = EXCLUDED.lifted_at"
    " RETURNING tenant_id, address, lifted_at"
    "), gone AS ("
    " UPDATE dmarcsift.suppressions s SET lifted_at = now() FROM aff"
    " WHERE s.tenant_id = aff.tenant_id AND s.address = aff.address AND s.lifted_at IS NULL"
    "  AND NOT EXISTS (SELECT 1 FROM combined c"
    "   WHERE c.tenant_id = s.tenant_id AND c.address = s.address)"
    " RETURNING s.tenant_id"
    ")"
    "SELECT (SELECT count(*) FROM up LEFT JOIN prev USING (tenant_id, address)"
    "  WHERE up.lifted_at IS NULL AND NOT coalesce(prev.was_active, false)),"
    " (SELECT count(*) FROM up JOIN prev USING (tenant_id, address)"
    "  WHERE up.lifted_at IS NOT NULL AND prev.was_active) + (SELECT count(*) FROM gone)";

/*
 * Escalations of the (tenant, provider, window) the batch touched, and of
 * the window after each (its jump is measured against this one).
 * $1 window (interval), $2 volume floor, $3 rate, $4 jump factor.
 * Candidates are rejects and deferrals that call for escalation (severity
 * escalate, or a block). A group opens when it reaches the volume floor
 * with at least two recipients AND either its share of all attempts to the
 * provider in the window reaches $3 ('volume'), or it is $4 times its count
 * in the previous window ('jump'). The provider is provider_key: a
 * corporate gateway is its own provider, so the same count spread over ten
 * gateways is ten small groups. Attempts count every outcome to the
 * provider, matched by provider_key or by one of the group's recipient
 * domains (a provider-specific rule names the provider, the deliveries to
 * the same domains may not). Returns (opened, closed).
 */
static const char sql_escalate[] =
    "WITH win AS ("
    " SELECT DISTINCT tenant_id, pkey,"
    "  date_bin($1::interval, at, timestamptz '1970-01-01 00:00:00+00') AS ws"
    " FROM pg_temp.bounce_new WHERE at IS NOT NULL"
    "), aff AS ("
    " SELECT tenant_id, pkey, ws FROM win"
    " UNION SELECT tenant_id, pkey, ws + $1::interval FROM win"
    "), cand AS ("
    " SELECT b.tenant_id, aff.pkey, aff.ws, b.class, b.code_family, b.pattern, b.at, b.id,"
    "  b.text, b.remote_mta, lower(b.recipient) AS rcpt, b.recipient_domain"
    " FROM aff JOIN dmarcsift.bounces b ON b.tenant_id = aff.tenant_id"
    "  AND b.provider_key = aff.pkey"
    "  AND b.at >= aff.ws - $1::interval AND b.at < aff.ws + $1::interval"
    " WHERE b.status <> 'delivered' AND (b.severity = 'escalate' OR b.is_block)"
    "), grp AS ("
    " SELECT tenant_id, pkey, ws, class, code_family, pattern,"
    "  count(*) FILTER (WHERE at >= ws) AS n,"
    "  count(*) FILTER (WHERE at < ws) AS prev_n,"
    "  count(DISTINCT remote_mta) FILTER (WHERE at >= ws) AS gateways,"
    "  count(DISTINCT rcpt) FILTER (WHERE at >= ws) AS recipients,"
    "  min(at) FILTER (WHERE at >= ws) AS first_seen,"
    "  max(at) FILTER (WHERE at >= ws) AS last_seen,"
    "  (array_agg(text ORDER BY at DESC, id DESC) FILTER (WHERE at >= ws))[1] AS sample,"
    "  array_agg(DISTINCT recipient_domain)"
    "   FILTER (WHERE at >= ws AND recipient_domain IS NOT NULL) AS rdoms"
    " FROM cand GROUP BY tenant_id, pkey, ws, class, code_family, pattern"
    " HAVING count(*) FILTER (WHERE at >= ws) > 0"
    "), dec AS ("
    " SELECT g.*, a.attempts, g.n::float8 / greatest(a.attempts, 1) AS rate,"
    "  CASE WHEN g.n < greatest($2::integer, 2) OR g.recipients < 2 THEN NULL"
    "   WHEN g.n::float8 / greatest(a.attempts, 1) >= $3::float8 THEN 'volume'"
    "   WHEN g.prev_n > 0 AND g.n >= $4::float8 * g.prev_n THEN 'jump' END AS reason"
    " FROM grp g CROSS JOIN LATERAL ("
    "  SELECT count(*) AS attempts FROM dmarcsift.bounces b2"
    "  WHERE b2.tenant_id = g.tenant_id AND b2.at >= g.ws AND b2.at < g.ws + $1::interval"
    "   AND (b2.provider_key = g.pkey OR b2.recipient_domain = ANY (g.rdoms))) a"
    "), prev AS ("
    " SELECT e.tenant_id, e.provider, e.class, e.code_family, e.pattern, e.window_start,"
    "  e.status FROM dmarcsift.escalations e JOIN aff ON e.tenant_id = aff.tenant_id"
    "  AND e.provider = aff.pkey AND e.window_start = aff.ws"
    "), up AS ("
    " INSERT INTO dmarcsift.escalations AS e (tenant_id, provider, class, code_family,"
    "  pattern, window_start, window_end, count, attempts, rate, prev_count, gateways,"
    "  recipients, first_seen, last_seen, sample_text, reason, status)"
    " SELECT tenant_id, pkey, class, code_family, pattern, ws, ws + $1::interval, n,"
    "  attempts, rate, prev_n, gateways, recipients, first_seen, last_seen, sample, reason,"
    "  'open' FROM dec WHERE reason IS NOT NULL"
    " ON CONFLICT (tenant_id, provider, class, code_family, pattern, window_start)"
    " DO UPDATE SET window_end = EXCLUDED.window_end, count = EXCLUDED.count,"
    "  attempts = EXCLUDED.attempts, rate = EXCLUDED.rate, prev_count = EXCLUDED.prev_count,"
    "  gateways = EXCLUDED.gateways, recipients = EXCLUDED.recipients,"
    "  first_seen = EXCLUDED.first_seen, last_seen = EXCLUDED.last_seen,"
    "  sample_text = EXCLUDED.sample_text, reason = EXCLUDED.reason, status = 'open',"
    "  notified_at = CASE WHEN e.status = 'closed' THEN NULL ELSE e.notified_at END,"
    "  updated_at = now()"
    " RETURNING tenant_id, provider, class, code_family, pattern, window_start"
    "), closed AS ("
    " UPDATE dmarcsift.escalations e SET count = d.n, attempts = d.attempts, rate = d.rate,"
    "  prev_count = d.prev_n, gateways = d.gateways, recipients = d.recipients,"
    "  last_seen = d.last_seen, status = 'closed', updated_at = now()"
    " FROM dec d WHERE d.reason IS NULL AND e.tenant_id = d.tenant_id"
    "  AND e.provider = d.pkey AND e.class = d.class AND e.code_family = d.code_family"
    "  AND e.pattern = d.pattern AND e.window_start = d.ws AND e.status = 'open'"
    " RETURNING e.id"
    ")"
    "SELECT (SELECT count(*) FROM up u LEFT JOIN prev p"
    "  ON (p.tenant_id, p.provider, p.class, p.code_family, p.pattern, p.window_start)"
    "   = (u.tenant_id, u.provider, u.class, u.code_family, u.pattern, u.window_start)"
    "  WHERE p.status IS DISTINCT FROM 'open'),"
    " (SELECT count(*) FROM closed)";

/* One field of the row and its separator. */
static void put_field(struct buf *b, const char *s, size_t max, char sep)
{
	copy_text(b, s, max);
	buf_putc(b, sep);
}

/* An IP address as PostgreSQL's inet will take it, or NULL: "[...]" and
 * Postfix's "ipv6:" prefix are stripped, anything else invalid is dropped
 * (an unparsable address must not fail the whole batch). */
static const char *clean_ip(const char *s, char *tmp, size_t tmpsz)
{
	unsigned char addr[16];
	if (!s)
		return NULL;
	size_t n = strlen(s);
	if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
		s++;
		n -= 2;
	}
	if (n > 5 && strncmp(s, "ipv6:", 5) == 0) {
		s += 5;
		n -= 5;
	}
	if (n == 0 || n >= tmpsz)
		return NULL;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	if (inet_pton(AF_INET, tmp, addr) == 1 || inet_pton(AF_INET6, tmp, addr) == 1)
		return tmp;
	return NULL;
}

/* The domain that decides the tenant: header From, else envelope From (its
 * domain field, else the part after '@' of the address), lower-cased, any
 * local part dropped; "" when none. */
static void tenant_domain(const struct bounce_event *ev, char *out, size_t outsz)
{
	const char *d = ev->header_from_domain;
	if (!d || !*d)
		d = ev->mail_from_domain;
	if ((!d || !*d) && ev->mail_from)
		d = ev->mail_from;
	/* A whole address where a domain was expected: its domain. */
	const char *at = d ? strrchr(d, '@') : NULL;
	if (at)
		d = at + 1;
	else if (d == ev->mail_from)
		d = NULL;
	size_t i = 0;
	for (; d && d[i] && i + 1 < outsz; i++)
		out[i] = (char)(d[i] >= 'A' && d[i] <= 'Z' ? d[i] + ('a' - 'A') : d[i]);
	while (i > 0 && out[i - 1] == '.')
		i--;
	out[i] = '\0';
}

static const char *status_name(enum bounce_status st)
{
	switch (st) {
	case BOUNCE_DELIVERED:
		return "delivered";
	case BOUNCE_DEFERRED:
		return "deferred";
	case BOUNCE_BOUNCED:
		return "bounced";
	}
	return NULL;
}

int bounce_store_begin(struct bounce_store **out, struct db *db, const char *tenant_override,
                       struct err *e)
{
	struct bounce_store *s = xcalloc(1, sizeof *s);
	PGresult *res = NULL;
	int rc = -1;

	s->db = db;
	bounce_rules_default(&s->rules);
	if (tenant_override) {
		/* Unknown names fail here, before anything is sent. */
		if (store_tenant_resolve(db, NULL, tenant_override, &s->override_id, e) < 0)
			goto out;
		s->has_override = true;
	}
	if (db_exec(db, "BEGIN", e) < 0)
		goto out;
	s->in_tx = true;
	res = PQexec(db_pg(db), sql_staging);
	if (db_check(db, &res, PGRES_COMMAND_OK, "creating bounce staging tables", e) < 0)
		goto out;
	PQclear(res);
	res = NULL;
	if (copy_begin(&s->copy, db, "COPY pg_temp.bounce_staging FROM STDIN", "bounce events", 0,
	               FLUSH_AT, e) < 0)
		goto out;
	*out = s;
	s = NULL;
	rc = 0;
out:
	PQclear(res);
	if (s)
		bounce_store_abort(s);
	return rc;
}

int bounce_store_add(struct bounce_store *s, const struct bounce_event *ev,
                     const struct bounce_verdict *v, struct err *e)
{
	const char *status = status_name(ev->status);
	char ip1[64], ip2[64], tdom[256], reply[16], at[32];
	char pattern[PATTERN_MAX];

	if (!status || !v)
		return err_stage(e, ERR_STAGE_STORE, ERR_INTERNAL, "bounce event without %s",
		                 v ? "a valid status" : "a verdict");
	if (!s->copy.open)
		return err_stage(e, ERR_STAGE_STORE, ERR_INTERNAL, "bounce batch is not open");
	bnorm_pattern(ev->text, pattern, sizeof pattern);
	/* The provider map names who receives for the domain / runs the MX;
	 * failing that, the provider the deciding rule was written for. */
	const char *provider =
	    provider_for(provider_map_default(), ev->recipient_domain, ev->remote_mta);
	if (!provider)
		provider = v->provider;
	tenant_domain(ev, tdom, sizeof tdom);
	snprintf(at, sizeof at, "%" PRId64, ev->at > 0 ? ev->at : (int64_t)0);
	snprintf(reply, sizeof reply, "%d", ev->reply_code);

	struct buf *b = &s->copy.buf;
	put_field(b, at, sizeof at, '\t');
	put_field(b, status, FIELD_MAX, '\t');
	put_field(b, ev->source ? ev->source : "unknown", FIELD_MAX, '\t');
	put_field(b, clean_ip(ev->sending_ip, ip1, sizeof ip1), FIELD_MAX, '\t');
	put_field(b, clean_ip(ev->remote_ip, ip2, sizeof ip2), FIELD_MAX, '\t');
	put_field(b, ev->mail_from, FIELD_MAX, '\t');
	put_field(b, ev->mail_from_domain, FIELD_MAX, '\t');
	put_field(b, ev->header_from_domain, FIELD_MAX, '\t');
	put_field(b, ev->recipient, FIELD_MAX, '\t');
	put_field(b, ev->recipient_domain, FIELD_MAX, '\t');
	put_field(b, provider, FIELD_MAX, '\t');
	put_field(b, ev->remote_mta, FIELD_MAX, '\t');
	put_field(b, ev->reply_code > 0 && ev->reply_code < 1000 ? reply : NULL, FIELD_MAX, '\t');
	put_field(b, ev->enhanced_code, FIELD_MAX, '\t');
	put_field(b, ev->text, TEXT_MAX, '\t');
	put_field(b, pattern, sizeof pattern, '\t');
	put_field(b, ev->queue_id, FIELD_MAX, '\t');
	put_field(b, ev->message_id, FIELD_MAX, '\t');
	put_field(b, ev->campaign, FIELD_MAX, '\t');
	put_field(b, v->klass ? v->klass : "unknown", FIELD_MAX, '\t');
	put_field(b, v->severity ? v->severity : "unknown", FIELD_MAX, '\t');
	put_field(b, v->action ? v->action : "unknown", FIELD_MAX, '\t');
	put_field(b, v->is_block ? "t" : "f", 1, '\t');
	put_field(b, v->listed_on, FIELD_MAX, '\t');
	put_field(b, v->listed_asset, FIELD_MAX, '\t');
	put_field(b, v->rule, FIELD_MAX, '\t');
	put_field(b, tdom, sizeof tdom, '\t');
	put_field(b, ev->format, FIELD_MAX, '\t');
	put_field(b, ev->auto_reply ? "t" : "f", 1, '\t');
	put_field(b, ev->feedback_type, FIELD_MAX, '\t');
	/* an address the log gave that inet cannot take is no address at all */
	const char *ipsrc = ev->ip_source ? ev->ip_source : ev->sending_ip ? "log" : "none";
	put_field(b, ipsrc, FIELD_MAX, '\n');
	s->staged++;
	return copy_flush(&s->copy, e);
}

/* Tenant of every distinct From domain of the batch into bounce_tmap. */
static int map_tenants(struct bounce_store *s, struct err *e)
{
	struct db *db = s->db;
	/* As for reports (store_report.c): the tenants are chosen under a lock
	 * tenant changes wait for, so an adoption cannot miss this batch. */
	if (db_exec(db, "LOCK TABLE dmarcsift.tenant_domains IN SHARE MODE", e) < 0)
		return -1;
	PGresult *res =
	    db_query(db, "SELECT DISTINCT tdomain FROM pg_temp.bounce_staging", 0, NULL);
	int rc = -1;

	if (db_check(db, &res, PGRES_TUPLES_OK, "listing bounce sender domains", e) < 0)
		return -1;
	for (int i = 0; i < PQntuples(res); i++) {
		const char *dom = PQgetvalue(res, i, 0);
		int tid = s->override_id;
		if (!s->has_override &&
		    store_tenant_resolve(db, *dom ? dom : NULL, NULL, &tid, e) < 0)
			goto out;
		char tbuf[16], org[256];
		snprintf(tbuf, sizeof tbuf, "%d", tid);
		bool has_org = *dom && tenant_domain_org(dom, org, sizeof org) == 0;
		const char *params[3] = {dom, tbuf, has_org ? org : NULL};
		PGresult *ins =
		    db_query(db,
		             "INSERT INTO pg_temp.bounce_tmap (domain, tenant_id, org_domain)"
		             " VALUES ($1, $2, $3)",
		             3, params);
		if (db_check(db, &ins, PGRES_COMMAND_OK, "mapping bounce tenants", e) < 0)
			goto out;
		PQclear(ins);
	}
	rc = 0;
out:
	PQclear(res);
	return rc;
}

static int count_field(PGresult *res, int col, uint64_t *out)
{
	char *end;
	const char *v = PQgetvalue(res, 0, col);
	unsigned long long n = strtoull(v, &end, 10);
	if (end == v || *end)
		return -1;
	*out = n;
	return 0;
}

/* Runs one of the recomputation statements; its single row holds counts. */
static int recompute(struct bounce_store *s, const char *sql, const char *what, int nparams,
                     const char *const *params, uint64_t *a, uint64_t *b, struct err *e)
{
	PGresult *res = db_query(s->db, sql, nparams, params);
	int rc = -1;
	if (db_check(s->db, &res, PGRES_TUPLES_OK, what, e) < 0)
		return -1;
	if (PQntuples(res) != 1 || PQnfields(res) != 2 || count_field(res, 0, a) < 0 ||
	    count_field(res, 1, b) < 0) {
		err_stage(e, ERR_STAGE_STORE, ERR_INTERNAL, "%s: unexpected result", what);
		goto out;
	}
	rc = 0;
out:
	PQclear(res);
	return rc;
}

int bounce_store_commit(struct bounce_store *s, struct bounce_store_stats *st, struct err *e)
{
	struct bounce_store_stats tmp = {0};
	struct db *db = s->db;
	const struct bounce_rules *r = &s->rules;
	PGresult *res = NULL;
	uint64_t closed = 0;
	char p1[32], p2[32], p3[48], p4[32];
	int rc = -1;

	if (copy_end(&s->copy, e) < 0)
		goto out;
	if (map_tenants(s, e) < 0)
		goto out;
	res = db_query(db, sql_insert, 0, NULL);
	if (db_check(db, &res, PGRES_COMMAND_OK, "storing bounce events", e) < 0)
		goto out;
	tmp.added = strtoull(PQcmdTuples(res), NULL, 10);
	tmp.known = s->staged >= tmp.added ? s->staged - tmp.added : 0;
	PQclear(res);
	res = NULL;
	/* Temporary tables have no statistics unless asked; the planner needs
	 * them for the recomputation joins of a large batch. */
	if (tmp.added > 1000 && db_exec(db, "ANALYZE pg_temp.bounce_new", e) < 0)
		goto out;
	/* The same for the bounces table when this batch is large next to what
	 * the planner knows of it: rows inserted in this transaction are
	 * invisible to autovacuum, and without statistics the escalation
	 * recomputation picks a plan that is quadratic in the batch size
	 * (tests/bench/README.md: 229 s instead of 4 s for 500k events). */
	if (tmp.added > 1000) {
		res = db_query(db,
		               "SELECT reltuples FROM pg_class"
		               " WHERE oid = 'dmarcsift.bounces'::regclass",
		               0, NULL);
		if (db_check(db, &res, PGRES_TUPLES_OK, "reading bounce statistics", e) < 0)
			goto out;
		double known_rows = PQntuples(res) ? strtod(PQgetvalue(res, 0, 0), NULL) : -1;
		PQclear(res);
		res = NULL;
		if ((known_rows < 0 || (double)tmp.added > 0.2 * known_rows) &&
		    db_exec(db, "ANALYZE dmarcsift.bounces", e) < 0)
			goto out;
	}

	if (tmp.added > 0) {
		snprintf(p1, sizeof p1, "%d", r->hard_after > 0 ? r->hard_after : 1);
		snprintf(p2, sizeof p2, "%d", r->soft_after > 0 ? r->soft_after : 1);
		snprintf(p3, sizeof p3, "%d days",
		         r->soft_window_days > 0 ? r->soft_window_days : 1);
		const char *sp[3] = {p1, p2, p3};
		if (recompute(s, sql_suppress, "updating suppressions", 3, sp, &tmp.suppressed,
		              &tmp.lifted, e) < 0)
			goto out;

		snprintf(p1, sizeof p1, "%d hours",
		         r->esc_window_hours > 0 ? r->esc_window_hours : 1);
		snprintf(p2, sizeof p2, "%d", r->esc_min_count);
		snprintf(p3, sizeof p3, "%.17g", r->esc_min_rate);
		snprintf(p4, sizeof p4, "%.17g", r->esc_jump_factor);
		const char *ep[4] = {p1, p2, p3, p4};
		if (recompute(s, sql_escalate, "updating escalations", 4, ep,
		              &tmp.escalations_opened, &closed, e) < 0)
			goto out;
	}
	if (db_exec(db, "COMMIT", e) < 0)
		goto out;
	s->in_tx = false;
	if (st)
		*st = tmp;
	rc = 0;
out:
	PQclear(res);
	bounce_store_abort(s);
	return rc;
}

void bounce_store_abort(struct bounce_store *s)
{
	if (!s)
		return;
	copy_abort(&s->copy, "bounce batch aborted");
	if (s->in_tx) {
		PGresult *res = PQexec(db_pg(s->db), "ROLLBACK");
		PQclear(res);
	}
	free(s);
}
