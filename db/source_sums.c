/* source_sums: see source_sums.h. The rules are those of
 * record_sources_sql (migrations 0030, 0034):
 *   key       source address, lower(coalesce(header_from, ''))
 *   messages  sum(count); dkim_pass / spf_pass the counts whose
 *             policy-evaluated result lower-cases to 'pass'; dmarc_pass
 *             either of them
 *   fails     for a record whose DKIM (SPF) result is not 'pass': each
 *             signature (check) as (kind, lower(domain or ''), selector or
 *             '', lower(result or 'none')); none at all as ('', '',
 *             'none'); summed per identifier, ordered, NULL when none. */
#include "db/source_sums.h"

#include "core/arena.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "db/copy.h"
#include "db/db.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COPY_FLUSH ((size_t)64 * 1024)

static size_t sums_max = (size_t)1 << 18;
/* With the rest of a big ingest (~20-31 MiB) under the 64 MiB the whole
 * process may use. */
static const size_t bytes_max = (size_t)26 << 20;
#define KEY_BLOCK 4096
#define KEY_FIRST 16
static size_t copied, sent;

size_t source_sums_copied(void)
{
	return copied;
}

void source_sums_set_max(size_t max)
{
	sums_max = max;
}

/* A failing identifier, kept once per report however many records name it. */
struct ident {
	const char *kind, *domain, *selector, *result;
	uint32_t hash;
};

/* One identifier's messages under one key. */
struct fail {
	int64_t n;
	uint32_t ident;
	uint32_t next; /* the key's next fail + 1; 0: none */
};

/* 72 bytes: a big report has one per source (and From) it names. */
struct key {
	int64_t messages, dkim, spf, dmarc;
	const char *hf;
	uint32_t hash;
	uint32_t fails;       /* first fail + 1 */
	unsigned char ip[17]; /* family (4 or 6), then the address */
};

struct source_sums {
	struct arena arena;
	/* KEY_BLOCK keys each, growing never copies them; but the first starts
	 * at KEY_FIRST and doubles, so that a small report's sums do not clear
	 * 288 KiB (measured: 3 % of a small report's client time). */
	struct key **blocks;
	size_t n, nblocks, capblocks, cap0;
	size_t bytes;    /* what the sums hold, against bytes_max */
	uint32_t *slots; /* key + 1; 0: empty */
	size_t nslots;
	struct fail *fails;
	size_t nfails, capfails;
	struct ident *ids;
	size_t nids, capids;
	uint32_t *idslots; /* ident + 1; 0: empty */
	size_t nidslots;
	const char *server; /* why the server derives this report's rows; NULL: it does not */
};

struct source_sums *source_sums_new(void)
{
	return xcalloc(1, sizeof(struct source_sums));
}

static void release(struct source_sums *s)
{
	arena_free(&s->arena);
	for (size_t b = 0; b < s->nblocks; b++)
		free(s->blocks[b]);
	free(s->blocks);
	free(s->slots);
	free(s->fails);
	free(s->ids);
	free(s->idslots);
	s->blocks = NULL;
	s->slots = NULL;
	s->fails = NULL;
	s->ids = NULL;
	s->idslots = NULL;
	s->n = s->nblocks = s->capblocks = s->cap0 = s->bytes = s->nslots = s->nfails =
	    s->capfails = 0;
	s->nids = s->capids = s->nidslots = 0;
}

void source_sums_free(struct source_sums *s)
{
	if (!s)
		return;
	release(s);
	free(s);
}

static void give_up(struct source_sums *s, const char *why)
{
	release(s);
	s->server = why;
}

/* lower(v) into out (NULL: dflt), for ASCII v shorter than LOWER_MAX only:
 * false otherwise. */
#define LOWER_MAX 256
static bool lower_ascii(const char *v, const char *dflt, char out[LOWER_MAX])
{
	if (!v)
		v = dflt;
	size_t i = 0;
	for (; v[i]; i++) {
		unsigned char b = (unsigned char)v[i];
		if (b >= 0x80 || i + 1 == LOWER_MAX)
			return false;
		out[i] = (char)(b >= 'A' && b <= 'Z' ? b + ('a' - 'A') : b);
	}
	out[i] = '\0';
	return true;
}

/* Takes `more` bytes from the budget: false when they do not fit. */
static bool take(struct source_sums *s, size_t more)
{
	if (s->bytes + more > bytes_max)
		return false;
	s->bytes += more;
	return true;
}

/* Room for element n of *p (*cap of `elem` bytes each); a growth counts
 * the old and the new array, both held while it copies. */
static bool room(struct source_sums *s, void **p, size_t *cap, size_t n, size_t elem)
{
	if (n < *cap)
		return true;
	size_t want = *cap ? *cap + *cap / 2 : 64;
	if (!take(s, want * elem))
		return false;
	*p = xrealloc(*p, want * elem);
	s->bytes -= *cap * elem;
	*cap = want;
	return true;
}

/* A copy of v that lives as long as the sums; NULL past the budget. */
static const char *keep(struct source_sums *s, const char *v)
{
	size_t n = strlen(v);
	return take(s, n + 1) ? arena_strndup(&s->arena, v, n) : NULL;
}

static struct key *key_at(const struct source_sums *s, size_t i)
{
	return &s->blocks[i / KEY_BLOCK][i % KEY_BLOCK];
}

/* lower(v) = 'pass': only ASCII text lower-cases to it (no other character
 * lower-cases to p, a or s). */
static bool is_pass(const char *v)
{
	if (!v || strlen(v) != 4)
		return false;
	for (int i = 0; i < 4; i++)
		if ((v[i] | 0x20) != "pass"[i])
			return false;
	return true;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211u;
	return h;
}

static uint32_t key_hash(const unsigned char ip[17], const char *hf)
{
	return (uint32_t)fnv(fnv(14695981039346656037u, ip, 17), hf, strlen(hf));
}

static uint32_t key_hash_at(const struct source_sums *s, size_t k)
{
	return key_at(s, k)->hash;
}

static uint32_t ident_hash_at(const struct source_sums *s, size_t k)
{
	return s->ids[k].hash;
}

/* An open-addressing table of `count` entries (index + 1; 0: empty) at
 * twice its size, or `first`; false past the budget. */
static bool grow_table(struct source_sums *s, uint32_t **table, size_t *size, size_t first,
                       size_t count, uint32_t (*hash_at)(const struct source_sums *, size_t))
{
	size_t n = *size ? *size * 2 : first;
	if (!take(s, n * sizeof **table))
		return false;
	uint32_t *slots = xcalloc(n, sizeof *slots);
	for (size_t k = 0; k < count; k++) {
		size_t i = hash_at(s, k) & (n - 1);
		while (slots[i])
			i = (i + 1) & (n - 1);
		slots[i] = (uint32_t)k + 1;
	}
	free(*table);
	s->bytes -= *size * sizeof **table;
	*table = slots;
	*size = n;
	return true;
}

/* The key's sums, a new key when first seen; NULL past the limits. */
static struct key *find(struct source_sums *s, const unsigned char ip[17], const char *hf)
{
	uint32_t h = key_hash(ip, hf);
	if (s->n + 1 > s->nslots / 2 &&
	    !grow_table(s, &s->slots, &s->nslots, 32, s->n, key_hash_at))
		return NULL;
	size_t i = h & (s->nslots - 1);
	for (; s->slots[i]; i = (i + 1) & (s->nslots - 1)) {
		struct key *k = key_at(s, s->slots[i] - 1);
		if (k->hash == h && memcmp(k->ip, ip, 17) == 0 && strcmp(k->hf, hf) == 0)
			return k;
	}
	if (s->n >= sums_max)
		return NULL;
	if (s->n % KEY_BLOCK == 0) {
		size_t cap = s->n == 0 ? KEY_FIRST : KEY_BLOCK;
		if (!room(s, (void **)&s->blocks, &s->capblocks, s->nblocks,
		          sizeof(struct key *)) ||
		    !take(s, cap * sizeof(struct key)))
			return NULL;
		s->blocks[s->nblocks++] = xcalloc(cap, sizeof(struct key));
		if (s->n == 0)
			s->cap0 = cap;
	} else if (s->n == s->cap0) { /* the first block, full: twice its size */
		if (!take(s, s->cap0 * sizeof(struct key)))
			return NULL;
		s->blocks[0] = xrealloc(s->blocks[0], 2 * s->cap0 * sizeof(struct key));
		s->cap0 *= 2;
	}
	const char *kept = keep(s, hf);
	if (!kept)
		return NULL;
	struct key *k = key_at(s, s->n);
	*k = (struct key){.hf = kept, .hash = h};
	memcpy(k->ip, ip, 17);
	s->slots[i] = (uint32_t)++s->n;
	return k;
}

/* The identifier's index + 1; 0 when the sums hold as many as they may. */
static uint32_t ident(struct source_sums *s, const char *kind, const char *domain,
                      const char *selector, const char *result)
{
	uint64_t h = 14695981039346656037u;
	h = fnv(fnv(h, kind, strlen(kind) + 1), domain, strlen(domain) + 1);
	h = fnv(fnv(h, selector, strlen(selector) + 1), result, strlen(result));
	if (s->nids + 1 > s->nidslots / 2 &&
	    !grow_table(s, &s->idslots, &s->nidslots, 64, s->nids, ident_hash_at))
		return 0;
	size_t i = (uint32_t)h & (s->nidslots - 1);
	for (; s->idslots[i]; i = (i + 1) & (s->nidslots - 1)) {
		const struct ident *x = &s->ids[s->idslots[i] - 1];
		if (x->hash == (uint32_t)h && x->kind == kind && strcmp(x->domain, domain) == 0 &&
		    strcmp(x->selector, selector) == 0 && strcmp(x->result, result) == 0)
			return s->idslots[i];
	}
	if (s->nids >= sums_max)
		return 0;
	struct ident x = {.kind = kind,
	                  .domain = keep(s, domain),
	                  .selector = keep(s, selector),
	                  .result = keep(s, result),
	                  .hash = (uint32_t)h};
	if (!x.domain || !x.selector || !x.result ||
	    !room(s, (void **)&s->ids, &s->capids, s->nids, sizeof *s->ids))
		return 0;
	s->ids[s->nids] = x;
	s->idslots[i] = (uint32_t)++s->nids;
	return s->idslots[i];
}

/* false when the sums hold as many identifiers as they may. */
static bool add_fail(struct source_sums *s, struct key *k, const char *kind, const char *domain,
                     const char *selector, const char *result, int64_t n)
{
	uint32_t id = ident(s, kind, domain, selector, result);
	if (id == 0)
		return false;
	for (uint32_t f = k->fails; f; f = s->fails[f - 1].next)
		if (s->fails[f - 1].ident == id - 1) {
			s->fails[f - 1].n += n;
			return true;
		}
	if (s->nfails >= 4 * sums_max)
		return false;
	if (!room(s, (void **)&s->fails, &s->capfails, s->nfails, sizeof *s->fails))
		return false;
	s->fails[s->nfails] = (struct fail){.n = n, .ident = id - 1, .next = k->fails};
	k->fails = (uint32_t)++s->nfails;
	return true;
}

static const char KIND_DKIM[] = "dkim", KIND_SPF[] = "spf";

void source_sums_add(struct source_sums *s, const struct aggr_record *rec)
{
	if (s->server)
		return;
	unsigned char ip[17] = {0};
	char hf[LOWER_MAX], d[LOWER_MAX], r[LOWER_MAX];
	bool v6 = rec->source_ip && strchr(rec->source_ip, ':');
	ip[0] = v6 ? 6 : 4;
	/* inet compares addresses, not their text: keyed by the bytes. */
	struct key *k = NULL;
	const char *why = NULL;
	if (!rec->source_ip || inet_pton(v6 ? AF_INET6 : AF_INET, rec->source_ip, ip + 1) != 1)
		why = "a source address it cannot read";
	else if (!lower_ascii(rec->header_from, "", hf))
		why = "a header From that is not ASCII";
	else if (!(k = find(s, ip, hf)))
		why = "more sources than it keeps";
	if (why) {
		give_up(s, why);
		return;
	}
	bool dkim = is_pass(rec->dkim), spf = is_pass(rec->spf);
	k->messages += rec->count;
	k->dkim += dkim ? rec->count : 0;
	k->spf += spf ? rec->count : 0;
	k->dmarc += dkim || spf ? rec->count : 0;
	bool ok = true;
	if (!dkim) {
		for (size_t i = 0; ok && i < rec->n_dkim; i++) {
			const struct aggr_dkim *a = &rec->dkim_auth[i];
			ok = lower_ascii(a->domain, "", d) && lower_ascii(a->result, "none", r) &&
			     add_fail(s, k, KIND_DKIM, d, a->selector ? a->selector : "", r,
			              rec->count);
		}
		if (ok && rec->n_dkim == 0)
			ok = add_fail(s, k, KIND_DKIM, "", "", "none", rec->count);
	}
	if (!spf) {
		for (size_t i = 0; ok && i < rec->n_spf; i++) {
			const struct aggr_spf *a = &rec->spf_auth[i];
			ok = lower_ascii(a->domain, "", d) && lower_ascii(a->result, "none", r) &&
			     add_fail(s, k, KIND_SPF, d, "", r, rec->count);
		}
		if (ok && rec->n_spf == 0)
			ok = add_fail(s, k, KIND_SPF, "", "", "none", rec->count);
	}
	if (!ok)
		give_up(s, "failing identifiers that are not ASCII, or more than it keeps");
}

int source_sums_claim(struct db *db, struct err *e)
{
	PGresult *res =
	    db_query(db, "SELECT set_config('dmarcsift.record_sources', 'client', true)", 0, NULL);
	if (db_check(db, &res, PGRES_TUPLES_OK, "claiming the report's sources", e) < 0)
		return -1;
	PQclear(res);
	return 0;
}

static int cmp_ident(const void *a, const void *b)
{
	const struct ident *x = *(const struct ident *const *)a,
	                   *y = *(const struct ident *const *)b;
	int c = strcmp(x->kind, y->kind);
	c = c ? c : strcmp(x->domain, y->domain);
	c = c ? c : strcmp(x->selector, y->selector);
	return c ? c : strcmp(x->result, y->result);
}

/* The key's fails as the JSON array the trigger builds (NULL: none); tmp
 * holds a pointer per identifier. */
static int put_fails(struct buf *b, const struct source_sums *s, const struct key *k,
                     const struct ident **tmp, int64_t *n_of)
{
	size_t n = 0;
	for (uint32_t f = k->fails; f; f = s->fails[f - 1].next) {
		const struct fail *x = &s->fails[f - 1];
		tmp[n++] = &s->ids[x->ident];
		n_of[x->ident] = x->n;
	}
	if (n == 0)
		return copy_field(b, NULL);
	qsort((void *)tmp, n, sizeof(const struct ident *), cmp_ident);
	struct json_object *arr = json_object_new_array_ext((int)n);
	for (size_t i = 0; i < n; i++) {
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "kind", json_object_new_string(tmp[i]->kind));
		json_object_object_add(o, "domain", json_object_new_string(tmp[i]->domain));
		json_object_object_add(o, "selector", json_object_new_string(tmp[i]->selector));
		json_object_object_add(o, "result", json_object_new_string(tmp[i]->result));
		json_object_object_add(o, "messages", json_object_new_int64(n_of[tmp[i] - s->ids]));
		json_object_array_add(arr, o);
	}
	int rc = copy_field(b, json_object_to_json_string_ext(
	                           arr, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(arr);
	return rc;
}

/* Scratch for put_fails, sized for the sums' identifiers. */
struct scratch {
	const struct ident **tmp;
	int64_t *n_of;
};

static struct scratch scratch_new(const struct source_sums *s)
{
	return (struct scratch){xcalloc(s->nids + 1, sizeof(const struct ident *)),
	                        xcalloc(s->nids + 1, sizeof(int64_t))};
}

static void scratch_free(struct scratch *x)
{
	free(x->tmp);
	free(x->n_of);
}

/* One key's row as a COPY line: `lead` (the columns before the address),
 * the address and From, `mid` (the columns between From and the sums), the
 * sums and the failing identifiers. */
static int put_key(struct buf *b, const struct source_sums *s, const struct key *k,
                   const char *lead, const struct buf *mid, struct scratch *x)
{
	char ip[INET6_ADDRSTRLEN], num[96];
	inet_ntop(k->ip[0] == 6 ? AF_INET6 : AF_INET, k->ip + 1, ip, sizeof ip);
	snprintf(num, sizeof num, "\t%" PRId64 "\t%" PRId64 "\t%" PRId64 "\t%" PRId64 "\t",
	         k->messages, k->dkim, k->spf, k->dmarc);
	bool bad = buf_puts(b, lead) < 0 || buf_puts(b, ip) < 0 || buf_putc(b, '\t') < 0 ||
	           copy_field(b, k->hf) < 0 || (mid && buf_append(b, mid->data, mid->len) < 0) ||
	           buf_puts(b, num) < 0 || put_fails(b, s, k, x->tmp, x->n_of) < 0 ||
	           buf_putc(b, '\n') < 0;
	return bad ? -1 : 0;
}

/* The rows by COPY, with the report's own columns as the server gives them. */
static int copy_rows(struct source_sums *s, struct db *db, const char *const params[2],
                     struct err *e)
{
	PGresult *res = db_query(db,
	                         "SELECT set_config('dmarcsift.record_sources', '', true),"
	                         " lower(org_name), policy_domain, begin_at, end_at"
	                         " FROM dmarcsift.reports WHERE tenant_id = $1 AND id = $2",
	                         2, params);
	if (db_check(db, &res, PGRES_TUPLES_OK, "reading the report's row", e) < 0)
		return -1;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return err_stage(e, ERR_STAGE_STORE, ERR_INTERNAL, "report %s of tenant %s is gone",
		                 params[1], params[0]);
	}
	struct buf head;
	buf_init(&head, 0);
	for (int c = 1; c <= 4; c++) {
		buf_putc(&head, '\t');
		copy_field(&head, PQgetvalue(res, 0, c));
	}
	PQclear(res);

	struct copy c = {0};
	struct scratch x = scratch_new(s);
	char lead[64];
	snprintf(lead, sizeof lead, "%s\t%s\t", params[0], params[1]);
	int rc = -1;
	if (copy_begin(
	        &c, db,
	        "COPY dmarcsift.record_sources (tenant_id, report_pk, source_ip, header_from,"
	        " org_name, policy_domain, begin_at, end_at, messages, dkim_pass, spf_pass,"
	        " dmarc_pass, fails) FROM STDIN",
	        "record sources", 0, COPY_FLUSH, e) < 0)
		goto out;
	for (size_t i = 0; i < s->n; i++) {
		if (put_key(&c.buf, s, key_at(s, i), lead, &head, &x) < 0) {
			err_stage(e, ERR_STAGE_STORE, ERR_INTERNAL,
			          "record sources: a row too large");
			goto out;
		}
		if (copy_flush(&c, e) < 0)
			goto out;
	}
	rc = copy_end(&c, e);
	copied += rc == 0;
out:
	copy_abort(&c, "aborted");
	scratch_free(&x);
	buf_free(&head);
	return rc;
}

int source_sums_lines(const struct source_sums *s, struct buf *out)
{
	if (!s || s->server)
		return -1;
	struct scratch x = scratch_new(s);
	int rc = 0;
	for (size_t i = 0; i < s->n && rc == 0; i++)
		rc = put_key(out, s, key_at(s, i), "", NULL, &x);
	scratch_free(&x);
	sent += rc == 0;
	return rc;
}

size_t source_sums_sent(void)
{
	return sent;
}

int source_sums_store(struct source_sums *s, struct db *db, const char *tenant, const char *report,
                      struct err *e)
{
	const char *params[2] = {tenant, report};
	if (s && !s->server)
		return copy_rows(s, db, params, e);
	log_debug("report %s: its sources summed by the server (%s)", report,
	          s ? s->server : "nothing summed");
	PGresult *res = db_query(db,
	                         "SELECT set_config('dmarcsift.record_sources', '', true),"
	                         " dmarcsift.record_sources_of_report($1, $2)",
	                         2, params);
	if (db_check(db, &res, PGRES_TUPLES_OK, "deriving the report's sources", e) < 0)
		return -1;
	PQclear(res);
	return 0;
}
