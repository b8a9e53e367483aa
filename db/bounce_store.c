/*
 * bounce_store: see bounce_store.h. Each row is built whole in C: the
 * tenant of its From domain (resolved once per domain through the
 * connection, between two COPYs, under the tenant_domains lock), the event
 * key (SHA-256 through libcrypto) and the lower-casing. Rows stream in
 * blocks, each block a COPY straight into dmarcsift.bounces under a
 * savepoint, its rows also written to an unlinked spool file; a block that
 * clashes with a stored event (unique_violation on (tenant_id, event_key):
 * a re-ingest, or the same event twice) is rolled back to its savepoint and
 * resent from the spool, with every row after it, into a temporary staging
 * table, which commit moves into bounces with ON CONFLICT DO NOTHING. The same rows either way: the
 * direct path takes only rows whose lower-casing and key C computes as PostgreSQL does (ASCII where
 * lower() applies, values stored as they are); the staging INSERT applies
 * lower() and computes the key of the others in SQL. The new events go to
 * bounce_new (a direct block's from its own rows, the staging path's through
 * RETURNING), from which commit recomputes the suppressions and escalations
 * of what the batch touched, all in one transaction.
 */
#include "db/bounce_store.h"

#include "core/bnorm.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/provider.h"
#include "core/utf8.h"
#include "core/xalloc.h"
#include "db/copy.h"
#include "db/db.h"
#include "db/sql.h"
#include "db/store.h"
#include "db/tenant_domain.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum {
	FLUSH_AT = 64 * 1024, /* COPY bytes buffered before PQputCopyData */
	TEXT_MAX = 8 * 1024,  /* longest reply text kept */
	FIELD_MAX = 1024,     /* longest address, host, id kept */
	PATTERN_MAX = 512,    /* longest normalised pattern */
	/* Row bytes of a direct block (kept in a spool file for its fallback):
	 * the first is small, so that a re-ingest finds its clash early; the
	 * others large (~600,000 events at ~450 bytes a row), as the statement
	 * triggers on bounces see one block at a time (bounce_days: each block
	 * recomputes the days it touches, so more blocks read them more often). */
	FIRST_BLOCK = 1024 * 1024,
	BLOCK_MAX = 256 * 1024 * 1024,
	SPOOL_CHUNK = 64 * 1024,
};

/* The tenant of one From domain (see tenant_domain), resolved once. */
struct tenant_ent {
	char *domain;
	char *org; /* its organisational domain, or NULL */
	int id;
};

struct bounce_store {
	struct db *db;
	struct bounce_rules rules;
	int override_id;
	bool has_override;
	bool in_tx;
	bool locked;      /* tenant_domains locked: the first resolution took it */
	bool staging;     /* rows go to the staging table: a block clashed */
	bool in_block;    /* a direct block is open: its savepoint and its COPY */
	size_t block_max; /* row bytes after which a direct block ends */
	struct copy copy; /* the open COPY: a direct block's, or the staging table's */
	FILE *spool;      /* the open direct block's rows, resent on a clash */
	FILE *fspool;     /* the same rows as bounce_new rows */
	uint64_t block_bytes;
	uint64_t blocks; /* direct blocks stored */
	struct buf row;  /* the row being built */
	struct buf frow; /* and its bounce_new row */
	uint64_t block_rows;
	uint64_t rows;              /* events handed to bounce_store_add */
	uint64_t direct;            /* events stored by direct blocks */
	struct tenant_ent *tenants; /* open addressing, size tcap (a power of 2) */
	size_t ntenants, tcap;
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

void bounce_store_set_block(struct bounce_store *s, size_t bytes)
{
	s->block_max = bytes > 0 ? bytes : BLOCK_MAX;
}

/* One field of the row and its separator. */
static void put_field(struct buf *b, const char *s, size_t max, char sep)
{
	copy_text(b, s, max);
	buf_putc(b, sep);
}

/* The same, ASCII letters lower-cased (what lower() does to ASCII; the
 * escapes copy_text writes are lower case already). */
static void put_lower(struct buf *b, const char *s, size_t max, char sep)
{
	if (!s) { /* "\N" is no letter to lower */
		put_field(b, NULL, max, sep);
		return;
	}
	size_t from = b->len;
	copy_text(b, s, max);
	for (size_t i = from; i < b->len; i++)
		if (b->data[i] >= 'A' && b->data[i] <= 'Z')
			b->data[i] = (char)(b->data[i] + ('a' - 'A'));
	buf_putc(b, sep);
}

static bool is_ascii(const char *s)
{
	for (; s && *s; s++)
		if ((unsigned char)*s >= 0x80)
			return false;
	return true;
}

/* Whether copy_text stores s unchanged: no longer than max, valid UTF-8. */
static bool stored_as_is(const char *s, size_t max)
{
	if (!s)
		return true;
	size_t n = strlen(s);
	if (n > max)
		return false;
	for (size_t i = 0; i < n;) {
		if ((unsigned char)s[i] < 0x80) {
			i++;
			continue;
		}
		int k = utf8_len((const unsigned char *)s + i, n - i);
		if (k <= 0)
			return false;
		i += (size_t)k;
	}
	return true;
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

void bounce_store_tenant_domain(const struct bounce_event *ev, char *out, size_t outsz)
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

/* The event key as bounce_insert.sql computes it: the hex SHA-256 of
 * source, time (unix seconds), lower(recipient), queue id, status, reply
 * code and text, joined by U+001F, NULLs as "". False (no key: SQL computes
 * it) unless every value is stored as it is and the recipient is ASCII, so
 * that C lower-cases it as lower() does whatever the database's locale. */
static bool event_key(const struct bounce_event *ev, const char *source, const char *at,
                      const char *status, const char *reply, struct buf *scratch, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0;
	if (!is_ascii(ev->recipient) || !stored_as_is(ev->recipient, FIELD_MAX) ||
	    !stored_as_is(source, FIELD_MAX) || !stored_as_is(ev->queue_id, FIELD_MAX) ||
	    !stored_as_is(ev->text, TEXT_MAX))
		return false;
	buf_reset(scratch);
	buf_puts(scratch, source);
	buf_putc(scratch, '\x1f');
	buf_puts(scratch, at);
	buf_putc(scratch, '\x1f');
	for (const char *r = ev->recipient ? ev->recipient : ""; *r; r++)
		buf_putc(scratch, (char)(*r >= 'A' && *r <= 'Z' ? *r + ('a' - 'A') : *r));
	buf_putc(scratch, '\x1f');
	buf_puts(scratch, ev->queue_id ? ev->queue_id : "");
	buf_putc(scratch, '\x1f');
	buf_puts(scratch, status);
	buf_putc(scratch, '\x1f');
	buf_puts(scratch, reply ? reply : "");
	buf_putc(scratch, '\x1f');
	buf_puts(scratch, ev->text ? ev->text : "");
	if (EVP_Digest(scratch->data, scratch->len, md, &n, EVP_sha256(), NULL) != 1 || n != 32)
		return false;
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
	return true;
}

int bounce_store_row(struct buf *row, struct buf *fresh, const struct bounce_event *ev,
                     const struct bounce_verdict *v, int tenant_id, const char *org_domain,
                     bool *keyed)
{
	const char *status = ev ? status_name(ev->status) : NULL;
	char ip1[64], ip2[64], reply[16], at[32], atsec[32], tid[16], key[65];
	char pattern[PATTERN_MAX];
	struct buf scratch;

	*keyed = false;
	if (!status || !v)
		return -1;
	bnorm_pattern(ev->text, pattern, sizeof pattern);
	/* The provider map names who receives for the domain / runs the MX;
	 * failing that, the provider the deciding rule was written for. */
	const char *provider =
	    provider_for(provider_map_default(), ev->recipient_domain, ev->remote_mta);
	if (!provider)
		provider = v->provider;
	int64_t sec = ev->at > 0 ? ev->at : 0;
	snprintf(atsec, sizeof atsec, "%" PRId64, sec);
	at[0] = '\0';
	if (sec > 0) {
		/* to_timestamp(sec), spelt out: UTC, whole seconds */
		time_t tt = (time_t)sec;
		struct tm tm;
		if (gmtime_r(&tt, &tm))
			strftime(at, sizeof at, "%Y-%m-%d %H:%M:%S+00", &tm);
	}
	const char *code = NULL;
	if (ev->reply_code > 0 && ev->reply_code < 1000) {
		snprintf(reply, sizeof reply, "%d", ev->reply_code);
		code = reply;
	}
	snprintf(tid, sizeof tid, "%d", tenant_id);
	const char *source = ev->source ? ev->source : "unknown";
	const char *sip = clean_ip(ev->sending_ip, ip1, sizeof ip1);
	/* an address the log gave that inet cannot take is no address at all */
	const char *ipsrc = !sip ? "none" : ev->ip_source ? ev->ip_source : "log";

	buf_init(&scratch, 0);
	bool has_key = event_key(ev, source, atsec, status, code, &scratch, key);
	buf_free(&scratch);
	/* lower() of these is C's only where they are ASCII */
	*keyed = has_key && (sec == 0 || at[0]) && is_ascii(ev->mail_from_domain) &&
	         is_ascii(ev->header_from_domain) && is_ascii(ev->recipient_domain) &&
	         is_ascii(ev->remote_mta);

	struct buf *b = row;
	put_field(b, tid, sizeof tid, '\t');
	put_field(b, at[0] ? at : NULL, sizeof at, '\t');
	put_field(b, status, FIELD_MAX, '\t');
	put_field(b, sip, FIELD_MAX, '\t');
	put_field(b, clean_ip(ev->remote_ip, ip2, sizeof ip2), FIELD_MAX, '\t');
	put_field(b, ev->mail_from, FIELD_MAX, '\t');
	put_lower(b, ev->mail_from_domain, FIELD_MAX, '\t');
	put_lower(b, ev->header_from_domain, FIELD_MAX, '\t');
	put_field(b, ev->recipient, FIELD_MAX, '\t');
	put_lower(b, ev->recipient_domain, FIELD_MAX, '\t');
	put_field(b, provider, FIELD_MAX, '\t');
	put_field(b, code, FIELD_MAX, '\t');
	put_field(b, ev->enhanced_code, FIELD_MAX, '\t');
	put_field(b, v->klass ? v->klass : "unknown", FIELD_MAX, '\t');
	put_field(b, v->severity ? v->severity : "unknown", FIELD_MAX, '\t');
	put_field(b, v->action ? v->action : "unknown", FIELD_MAX, '\t');
	put_field(b, v->is_block ? "t" : "f", 1, '\t');
	put_field(b, v->listed_on, FIELD_MAX, '\t');
	put_field(b, v->listed_asset, FIELD_MAX, '\t');
	put_field(b, v->rule, FIELD_MAX, '\t');
	put_field(b, ev->text, TEXT_MAX, '\t');
	put_field(b, pattern, sizeof pattern, '\t');
	put_lower(b, ev->remote_mta, FIELD_MAX, '\t');
	put_field(b, ev->queue_id, FIELD_MAX, '\t');
	put_field(b, ev->message_id, FIELD_MAX, '\t');
	put_field(b, ev->campaign, FIELD_MAX, '\t');
	put_field(b, source, FIELD_MAX, '\t');
	put_field(b, has_key ? key : NULL, sizeof key, '\t');
	put_field(b, ev->format, FIELD_MAX, '\t');
	put_field(b, ev->auto_reply ? "t" : "f", 1, '\t');
	put_field(b, ev->feedback_type, FIELD_MAX, '\t');
	put_field(b, ipsrc, FIELD_MAX, '\t');
	put_field(b, org_domain, FIELD_MAX, '\n');

	if (fresh) {
		/* bounce_new: tenant, lower(recipient), provider_key, at */
		put_field(fresh, tid, sizeof tid, '\t');
		put_lower(fresh, ev->recipient, FIELD_MAX, '\t');
		if (provider)
			put_field(fresh, provider, FIELD_MAX, '\t');
		else
			put_lower(fresh, ev->recipient_domain ? ev->recipient_domain : "",
			          FIELD_MAX, '\t');
		put_field(fresh, at[0] ? at : NULL, sizeof at, '\n');
	}
	return 0;
}

static size_t str_hash(const char *s)
{
	size_t h = 14695981039346656037u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211u;
	return h;
}

static struct tenant_ent *tenant_find(struct bounce_store *s, const char *dom)
{
	if (s->tcap == 0)
		return NULL;
	for (size_t i = str_hash(dom) & (s->tcap - 1);; i = (i + 1) & (s->tcap - 1)) {
		struct tenant_ent *t = &s->tenants[i];
		if (!t->domain)
			return NULL;
		if (strcmp(t->domain, dom) == 0)
			return t;
	}
}

static struct tenant_ent *tenant_put(struct bounce_store *s, const char *dom, int id,
                                     const char *org)
{
	if (2 * (s->ntenants + 1) > s->tcap) {
		struct tenant_ent *old = s->tenants;
		size_t oldcap = s->tcap;
		s->tcap = oldcap ? 2 * oldcap : 16;
		s->tenants = xcalloc(s->tcap, sizeof *s->tenants);
		for (size_t i = 0; i < oldcap; i++) {
			if (!old[i].domain)
				continue;
			size_t k = str_hash(old[i].domain) & (s->tcap - 1);
			while (s->tenants[k].domain)
				k = (k + 1) & (s->tcap - 1);
			s->tenants[k] = old[i];
		}
		free(old);
	}
	size_t k = str_hash(dom) & (s->tcap - 1);
	while (s->tenants[k].domain)
		k = (k + 1) & (s->tcap - 1);
	s->tenants[k].domain = xstrdup(dom);
	s->tenants[k].org = org ? xstrdup(org) : NULL;
	s->tenants[k].id = id;
	s->ntenants++;
	return &s->tenants[k];
}

/* The tenant of From domain `dom` ("" when none), asked once per batch. The
 * connection must be free (no COPY open). */
static int resolve_tenant(struct bounce_store *s, const char *dom, struct tenant_ent **out,
                          struct err *e)
{
	/* As for reports (store_report.c): the tenants are chosen under a lock
	 * tenant changes wait for, so an adoption cannot miss this batch. */
	if (!s->locked) {
		if (db_exec(s->db, "LOCK TABLE dmarcsift.tenant_domains IN SHARE MODE", e) < 0)
			return -1;
		s->locked = true;
	}
	int id = s->override_id;
	if (!s->has_override && store_tenant_resolve(s->db, *dom ? dom : NULL, NULL, &id, e) < 0)
		return -1;
	char org[256];
	bool has_org = *dom && tenant_domain_org(dom, org, sizeof org) == 0;
	*out = tenant_put(s, dom, id, has_org ? org : NULL);
	return 0;
}

int bounce_store_begin(struct bounce_store **out, struct db *db, const char *tenant_override,
                       struct err *e)
{
	struct bounce_store *s = xcalloc(1, sizeof *s);
	PGresult *res = NULL;
	int rc = -1;

	s->db = db;
	s->block_max = BLOCK_MAX;
	buf_init(&s->row, 0);
	buf_init(&s->frow, 0);
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
	res = PQexec(db_pg(db), db_sql("bounce_staging"));
	if (db_check(db, &res, PGRES_COMMAND_OK, "creating bounce staging tables", e) < 0)
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

static const char COPY_STAGING[] =
    "COPY pg_temp.bounce_staging (" BOUNCE_STORE_COLUMNS ") FROM STDIN";
static const char COPY_DIRECT[] = "COPY dmarcsift.bounces (" BOUNCE_STORE_COLUMNS ") FROM STDIN";

/* An unlinked temporary file (TMPDIR, else /tmp), or NULL with e set. */
static FILE *spool_new(struct err *e)
{
	const char *dir = getenv("TMPDIR");
	char path[4096];
	if (!dir || !*dir)
		dir = "/tmp";
	snprintf(path, sizeof path, "%s/dmarcsift-bounce.XXXXXX", dir);
	int fd = mkstemp(path);
	FILE *f = fd >= 0 ? fdopen(fd, "w+") : NULL;
	if (!f) {
		err_stage(e, ERR_STAGE_STORE, ERR_CONFIG, "cannot create a spool file in %s: %s",
		          dir, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	unlink(path);
	return f;
}

static int spool_failed(struct err *e)
{
	return err_stage(e, ERR_STAGE_STORE, ERR_INTERNAL, "bounce spool file: %s",
	                 strerror(errno));
}

/* Empties spool f. */
static int spool_clear(FILE *f, struct err *e)
{
	if (fflush(f) != 0 || fseek(f, 0, SEEK_SET) != 0 || ftruncate(fileno(f), 0) != 0)
		return spool_failed(e);
	return 0;
}

/* Sends what spool f holds into the open COPY and empties f. */
static int send_spool(struct bounce_store *s, FILE *f, struct err *e)
{
	char chunk[SPOOL_CHUNK];
	size_t n;
	if (fflush(f) != 0 || fseek(f, 0, SEEK_SET) != 0)
		return spool_failed(e);
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
		buf_append(&s->copy.buf, chunk, n);
		if (copy_flush(&s->copy, e) < 0)
			return -1;
	}
	if (ferror(f))
		return spool_failed(e);
	return spool_clear(f, e);
}

/* From here on, rows go to the staging table: the COPY into it is opened
 * and the open block's rows (rolled back already) are its first. */
static int to_staging(struct bounce_store *s, struct err *e)
{
	s->staging = true;
	/* (its bounce_new rows are not wanted: RETURNING gives them) */
	if (copy_begin(&s->copy, s->db, COPY_STAGING, "bounce events", 0, FLUSH_AT, e) < 0 ||
	    send_spool(s, s->spool, e) < 0 || spool_clear(s->fspool, e) < 0)
		return -1;
	s->block_rows = 0;
	s->block_bytes = 0;
	return 0;
}

/* Undoes the open block (its COPY, if still open, and its savepoint). */
static int undo_block(struct bounce_store *s, struct err *e)
{
	copy_abort(&s->copy, "bounce block goes to staging");
	s->in_block = false;
	return db_exec(s->db, "ROLLBACK TO SAVEPOINT bounce_block; RELEASE SAVEPOINT bounce_block",
	               e);
}

/* Opens the COPY the next rows go to: a direct block (savepoint, COPY into
 * bounces) or, after a clash, the staging table. */
static int open_copy(struct bounce_store *s, struct err *e)
{
	if (s->staging)
		return copy_begin(&s->copy, s->db, COPY_STAGING, "bounce events", 0, FLUSH_AT, e);
	/* Without spool files (TMPDIR unwritable) there are no direct blocks:
	 * slower, the same rows. */
	struct err se = {0};
	if ((!s->spool && !(s->spool = spool_new(&se))) ||
	    (!s->fspool && !(s->fspool = spool_new(&se)))) {
		log_warn("%s; bounce events go through the staging table", se.msg);
		s->staging = true;
		return copy_begin(&s->copy, s->db, COPY_STAGING, "bounce events", 0, FLUSH_AT, e);
	}
	if (db_exec(s->db, "SAVEPOINT bounce_block", e) < 0)
		return -1;
	struct err ce = {0};
	if (copy_begin(&s->copy, s->db, COPY_DIRECT, "bounce events", 0, FLUSH_AT, &ce) < 0) {
		/* A table this role may not COPY into (row security applies to
		 * it): the staging path inserts instead. */
		if (strcmp(ce.sqlstate, "0A000") != 0 && strcmp(ce.sqlstate, "42501") != 0) {
			if (!err_is_set(e))
				*e = ce;
			return -1;
		}
		if (db_exec(s->db,
		            "ROLLBACK TO SAVEPOINT bounce_block; RELEASE SAVEPOINT bounce_block",
		            e) < 0)
			return -1;
		return to_staging(s, e);
	}
	s->in_block = true;
	return 0;
}

/* Ends the open direct block: its rows are stored and go to bounce_new;
 * or, when one of them was stored before (unique_violation), the block is
 * undone and its rows go to staging with the rest of the batch. */
static int end_block(struct bounce_store *s, struct err *e)
{
	struct err ce = {0};
	s->in_block = false;
	if (copy_end(&s->copy, &ce) < 0) {
		if (strcmp(ce.sqlstate, "23505") != 0) {
			if (!err_is_set(e))
				*e = ce;
			return -1;
		}
		if (undo_block(s, e) < 0)
			return -1;
		return to_staging(s, e);
	}
	if (copy_begin(&s->copy, s->db, "COPY pg_temp.bounce_new FROM STDIN", "new bounce events",
	               0, FLUSH_AT, e) < 0 ||
	    send_spool(s, s->fspool, e) < 0 || copy_end(&s->copy, e) < 0)
		return -1;
	if (spool_clear(s->spool, e) < 0 || db_exec(s->db, "RELEASE SAVEPOINT bounce_block", e) < 0)
		return -1;
	s->direct += s->block_rows;
	s->block_rows = 0;
	s->block_bytes = 0;
	s->blocks++;
	return 0;
}

/* Ends whatever COPY is open, so the connection is free (a block that
 * clashed leaves the staging COPY open). */
static int close_copy(struct bounce_store *s, struct err *e)
{
	if (s->in_block && end_block(s, e) < 0)
		return -1;
	if (s->copy.open)
		return copy_end(&s->copy, e);
	return 0;
}

int bounce_store_add(struct bounce_store *s, const struct bounce_event *ev,
                     const struct bounce_verdict *v, struct err *e)
{
	char tdom[256];
	bool keyed = false;

	if (!v || !status_name(ev->status))
		return err_stage(e, ERR_STAGE_STORE, ERR_INTERNAL, "bounce event without %s",
		                 v ? "a valid status" : "a verdict");
	if (!s->in_tx)
		return err_stage(e, ERR_STAGE_STORE, ERR_INTERNAL, "bounce batch is not open");
	bounce_store_tenant_domain(ev, tdom, sizeof tdom);
	struct tenant_ent *t = tenant_find(s, tdom);
	if (!t && (close_copy(s, e) < 0 || resolve_tenant(s, tdom, &t, e) < 0))
		return -1;
	buf_reset(&s->row);
	buf_reset(&s->frow);
	if (bounce_store_row(&s->row, &s->frow, ev, v, t->id, t->org, &keyed) < 0)
		return err_stage(e, ERR_STAGE_STORE, ERR_INTERNAL, "bounce row too large");
	if (!s->copy.open && open_copy(s, e) < 0)
		return -1;
	if (s->in_block && !keyed) {
		/* SQL has to finish this row: the block goes to staging. */
		if (undo_block(s, e) < 0 || to_staging(s, e) < 0)
			return -1;
	}
	/* (staging: RETURNING fills bounce_new) */
	if (s->in_block) {
		if (fwrite(s->row.data, 1, s->row.len, s->spool) != s->row.len ||
		    fwrite(s->frow.data, 1, s->frow.len, s->fspool) != s->frow.len)
			return spool_failed(e);
		s->block_rows++;
		s->block_bytes += s->row.len;
	}
	buf_append(&s->copy.buf, s->row.data, s->row.len);
	s->rows++;
	if (copy_flush(&s->copy, e) < 0)
		return -1;
	if (s->in_block &&
	    s->block_bytes >=
	        (s->blocks == 0 && s->block_max > FIRST_BLOCK ? FIRST_BLOCK : s->block_max))
		return end_block(s, e);
	return 0;
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

	if (close_copy(s, e) < 0)
		goto out;
	tmp.added = s->direct;
	if (s->staging) {
		res = db_query(db, db_sql("bounce_insert"), 0, NULL);
		if (db_check(db, &res, PGRES_COMMAND_OK, "storing bounce events", e) < 0)
			goto out;
		tmp.added += strtoull(PQcmdTuples(res), NULL, 10);
		PQclear(res);
		res = NULL;
	}
	tmp.known = s->rows >= tmp.added ? s->rows - tmp.added : 0;
	/* Temporary tables have no statistics unless asked; the planner needs
	 * them for the recomputation joins of a large batch. The recomputations
	 * of a large batch also sort and hash more than the default 4 MB of
	 * work_mem, and spill to disk: for this transaction only, at least 32 MB
	 * (500k events: 4.6 s -> 3.0 s; tests/bench/README.md). */
	if (tmp.added > 1000) {
		if (db_exec(db, "ANALYZE pg_temp.bounce_new", e) < 0)
			goto out;
		res = db_query(
		    db,
		    "SELECT set_config('work_mem', '32MB', true) FROM pg_catalog.pg_settings"
		    " WHERE name = 'work_mem' AND setting::bigint < 32768",
		    0, NULL);
		if (db_check(db, &res, PGRES_TUPLES_OK, "raising work_mem", e) < 0)
			goto out;
		PQclear(res);
		res = NULL;
	}
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
		/* Only the columns the recomputations filter and join on: a third
		 * of the time of every column (the texts are the wide ones), and
		 * autovacuum still analyzes the whole table after the commit (a
		 * column list leaves its count of changed rows as it is). */
		if ((known_rows < 0 || (double)tmp.added > 0.2 * known_rows) &&
		    db_exec(db,
		            "ANALYZE dmarcsift.bounces (tenant_id, at, status, class, severity,"
		            " is_block, provider_key, recipient_domain)",
		            e) < 0)
			goto out;
	}

	if (tmp.added > 0) {
		snprintf(p1, sizeof p1, "%d", r->hard_after > 0 ? r->hard_after : 1);
		snprintf(p2, sizeof p2, "%d", r->soft_after > 0 ? r->soft_after : 1);
		snprintf(p3, sizeof p3, "%d days",
		         r->soft_window_days > 0 ? r->soft_window_days : 1);
		const char *sp[3] = {p1, p2, p3};
		if (recompute(s, db_sql("bounce_suppress"), "updating suppressions", 3, sp,
		              &tmp.suppressed, &tmp.lifted, e) < 0)
			goto out;

		snprintf(p1, sizeof p1, "%d hours",
		         r->esc_window_hours > 0 ? r->esc_window_hours : 1);
		snprintf(p2, sizeof p2, "%d", r->esc_min_count);
		snprintf(p3, sizeof p3, "%.17g", r->esc_min_rate);
		snprintf(p4, sizeof p4, "%.17g", r->esc_jump_factor);
		const char *ep[4] = {p1, p2, p3, p4};
		if (recompute(s, db_sql("bounce_escalate"), "updating escalations", 4, ep,
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
	for (size_t i = 0; i < s->tcap; i++) {
		free(s->tenants[i].domain);
		free(s->tenants[i].org);
	}
	free(s->tenants);
	if (s->spool)
		fclose(s->spool);
	if (s->fspool)
		fclose(s->fspool);
	buf_free(&s->row);
	buf_free(&s->frow);
	free(s);
}
