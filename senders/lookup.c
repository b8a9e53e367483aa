/*
 * lookup: see lookup.h. Each address is a job with a count of outstanding
 * queries; it is reported when that count drops to zero. At most
 * ACTIVE_JOBS jobs run at once, so follow-up queries (forward confirmation,
 * AS names) are never stuck behind the PTR queries of a whole list and
 * addresses conclude in the order given (the caller puts the busiest first).
 */
#include "senders/lookup.h"

#include "core/xalloc.h"
#include "senders/cymru.h"
#include "senders/mmdb.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ACTIVE_JOBS 200
#define NAME_MAX_   1025

struct run;

struct job {
	struct run *run;
	const char *ip;
	int family;
	unsigned char addr[16]; /* binary, for forward confirmation */
	int pending;
	bool cancelled;
	enum resolver_status ptr_status;
	uint32_t ptr_ttl;
	char **names;
	size_t nnames;
	uint32_t *fwd_ttl;
	int confirmed; /* index into names, -1 none */
	enum resolver_status asn_status;
	uint32_t asn, asn_ttl;
	char country[3];
	struct asn_entry *as;
};

/* One AS name lookup per AS per run, shared by every address in it. */
struct asn_entry {
	uint32_t asn;
	bool done;
	enum resolver_status status;
	uint32_t ttl;
	char name[256];
	struct job **waiters;
	size_t nwaiters;
};

struct run {
	struct resolver *r;
	const struct senders_lookup_opts *o;
	const char *origin, *origin6, *asname;
	senders_fact_cb cb;
	void *arg;
	struct senders_lookup_stats *st;
	size_t active;
	size_t concluded; /* queries concluded */
	size_t answered;  /* of which a server answered */
	bool gave_up;
	struct asn_entry **asns;
	size_t nasns;
};

enum part { P_PTR, P_FWD, P_ORIGIN, P_ASNAME };

struct qctx {
	struct job *j;
	enum part part;
	size_t idx;
	struct asn_entry *as;
};

static void query(struct run *run, struct job *j, enum part part, size_t idx, struct asn_entry *as,
                  const char *name, enum resolver_type type);

/* Arrays of pointers to our structs (all object pointers are one size on
 * POSIX systems). */
static void *grow_ptrs(void *p, size_t n)
{
	return xrealloc(p, n * sizeof(void *));
}

static uint32_t min32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

static bool failed(enum resolver_status s)
{
	return s == RESOLVER_TIMEOUT || s == RESOLVER_SERVFAIL || s == RESOLVER_BADRESPONSE ||
	       s == RESOLVER_UNREACHABLE;
}

static void report(struct job *j)
{
	struct run *run = j->run;
	run->active--;
	if (j->cancelled) {
		run->st->left++;
		return;
	}
	struct senders_fact f = {
	    .ip = j->ip,
	    .ptr_status = j->ptr_status,
	    .asn_status = j->asn_status,
	    .asn = j->asn,
	    .as_name = "",
	    .country = j->country,
	    .asn_ttl = j->asn_ttl,
	};
	if (j->nnames) {
		size_t pick = j->confirmed >= 0 ? (size_t)j->confirmed : 0;
		f.ptr = j->names[pick];
		f.ptr_confirmed = j->confirmed >= 0;
		f.ptr_ttl = f.ptr_confirmed ? min32(j->ptr_ttl, j->fwd_ttl[pick]) : j->ptr_ttl;
	} else {
		f.ptr_ttl = j->ptr_ttl;
	}
	if (j->as) {
		f.as_name = j->as->name;
		if (j->as->done && j->as->status == RESOLVER_OK)
			f.asn_ttl = min32(f.asn_ttl, j->as->ttl);
	}
	if (failed(f.ptr_status) || failed(f.asn_status))
		run->st->failed++;
	run->st->done++;
	run->cb(run->arg, &f);
}

static void job_free(struct job *j)
{
	for (size_t i = 0; i < j->nnames; i++)
		free(j->names[i]);
	free(j->names);
	free(j->fwd_ttl);
	free(j);
}

static void release(struct job *j)
{
	if (--j->pending == 0) {
		report(j);
		job_free(j);
	}
}

static void asn_attach(struct run *run, struct job *j)
{
	struct asn_entry *as = NULL;
	for (size_t i = 0; i < run->nasns; i++)
		if (run->asns[i]->asn == j->asn) {
			as = run->asns[i];
			break;
		}
	j->as = as;
	if (as && as->done)
		return;
	if (!as) {
		as = xcalloc(1, sizeof *as);
		as->asn = j->asn;
		run->asns = grow_ptrs(run->asns, run->nasns + 1);
		run->asns[run->nasns++] = as;
		j->as = as;
		char name[NAME_MAX_];
		snprintf(name, sizeof name, "AS%u.%s", (unsigned)j->asn, run->asname);
		j->pending++;
		query(run, j, P_ASNAME, 0, as, name, RESOLVER_TXT);
		return;
	}
	/* In flight for another address: wait for it. */
	as->waiters = grow_ptrs(as->waiters, as->nwaiters + 1);
	as->waiters[as->nwaiters++] = j;
	j->pending++;
}

static void on_answer(void *arg, const char *name, enum resolver_type type,
                      const struct resolver_answer *a)
{
	(void)name;
	(void)type;
	struct qctx *q = arg;
	struct job *j = q->j;
	struct run *run = j->run;
	if (a->status != RESOLVER_CANCELLED) {
		run->concluded++;
		if (a->status != RESOLVER_TIMEOUT && a->status != RESOLVER_UNREACHABLE)
			run->answered++;
	}
	switch (q->part) {
	case P_PTR:
		j->ptr_status = a->status;
		j->ptr_ttl = a->ttl;
		if (a->status == RESOLVER_OK) {
			size_t max = run->o->max_names ? run->o->max_names : 3;
			size_t n = a->n < max ? a->n : max;
			j->names = xcalloc(n, sizeof *j->names);
			j->fwd_ttl = xcalloc(n, sizeof *j->fwd_ttl);
			for (size_t i = 0; i < n; i++) {
				j->names[i] = xstrdup(a->values[i]);
				j->nnames++;
			}
			for (size_t i = 0; i < n; i++) {
				j->pending++;
				query(run, j, P_FWD, i, NULL, j->names[i],
				      j->family == 4 ? RESOLVER_A : RESOLVER_AAAA);
			}
		}
		break;
	case P_FWD:
		if (a->status == RESOLVER_OK) {
			j->fwd_ttl[q->idx] = a->ttl;
			for (size_t i = 0; i < a->n; i++) {
				unsigned char b[16];
				bool match = j->family == 4
				                 ? inet_pton(AF_INET, a->values[i], b) == 1 &&
				                       memcmp(b, j->addr, 4) == 0
				                 : inet_pton(AF_INET6, a->values[i], b) == 1 &&
				                       memcmp(b, j->addr, 16) == 0;
				if (match && (j->confirmed < 0 || (size_t)j->confirmed > q->idx))
					j->confirmed = (int)q->idx;
			}
		}
		break;
	case P_ORIGIN:
		j->asn_status = a->status;
		j->asn_ttl = a->ttl;
		if (a->status == RESOLVER_OK) {
			/* Several origin records (more-specific prefixes): the first
			 * readable one. */
			bool got = false;
			for (size_t i = 0; i < a->n && !got; i++)
				got = cymru_origin(a->values[i], &j->asn, j->country) == 0;
			if (!got)
				j->asn_status = RESOLVER_BADRESPONSE;
			else if (*run->asname)
				asn_attach(run, j);
		}
		break;
	case P_ASNAME: {
		struct asn_entry *as = q->as;
		as->done = true;
		as->status = a->status;
		as->ttl = a->ttl;
		if (a->status == RESOLVER_OK)
			for (size_t i = 0; i < a->n; i++)
				if (cymru_asname(a->values[i], as->name, sizeof as->name) == 0)
					break;
		struct job **w = as->waiters;
		size_t nw = as->nwaiters;
		as->waiters = NULL;
		as->nwaiters = 0;
		for (size_t i = 0; i < nw; i++) {
			if (a->status == RESOLVER_CANCELLED)
				w[i]->cancelled = true;
			release(w[i]);
		}
		free(w);
		break;
	}
	}
	if (a->status == RESOLVER_CANCELLED)
		j->cancelled = true;
	free(q);
	release(j);
}

static void query(struct run *run, struct job *j, enum part part, size_t idx, struct asn_entry *as,
                  const char *name, enum resolver_type type)
{
	struct qctx *q = xcalloc(1, sizeof *q);
	q->j = j;
	q->part = part;
	q->idx = idx;
	q->as = as;
	run->st->queries++;
	resolver_query(run->r, name, type, on_answer, q);
}

static void start(struct run *run, const char *ip)
{
	struct job *j = xcalloc(1, sizeof *j);
	j->run = run;
	j->ip = ip;
	j->confirmed = -1;
	j->family = resolver_ip_family(ip);
	j->ptr_status = RESOLVER_BADRESPONSE;
	j->asn_status = RESOLVER_NODATA;
	run->active++;
	if (j->family == 0) {
		/* Never stored by ingest; reported as unreadable, not looked up. */
		j->pending = 1;
		release(j);
		return;
	}
	unsigned char b[16];
	inet_pton(strchr(ip, ':') ? AF_INET6 : AF_INET, ip, b);
	if (j->family == 4 && strchr(ip, ':'))
		memcpy(j->addr, b + 12, 4);
	else
		memcpy(j->addr, b, j->family == 4 ? 4 : 16);
	char name[NAME_MAX_];
	/* A guard reference, so the job cannot complete while we queue. */
	j->pending = 1;
	if (resolver_reverse_name(ip, NULL, name, sizeof name) == 0) {
		j->pending++;
		query(run, j, P_PTR, 0, NULL, name, RESOLVER_PTR);
	}
	if (run->o->mmdb) {
		char as_name[256];
		int found = senders_mmdb_lookup(run->o->mmdb, ip, &j->asn, as_name, sizeof as_name,
		                                j->country);
		j->asn_status = found > 0 ? RESOLVER_OK : RESOLVER_NXDOMAIN;
		/* A local file: its answers are as fresh as the file. */
		j->asn_ttl = 7 * 24 * 3600;
		if (found > 0) {
			struct asn_entry *as = xcalloc(1, sizeof *as);
			as->asn = j->asn;
			as->done = true;
			as->status = RESOLVER_OK;
			as->ttl = j->asn_ttl;
			snprintf(as->name, sizeof as->name, "%s", as_name);
			run->asns = grow_ptrs(run->asns, run->nasns + 1);
			run->asns[run->nasns++] = as;
			j->as = as;
		}
	} else if (!*run->origin) {
		/* ASN lookups turned off: nothing to ask, nothing to refresh soon. */
		j->asn_ttl = 3600;
	} else {
		const char *zone = j->family == 4 ? run->origin : run->origin6;
		if (*zone && resolver_reverse_name(ip, zone, name, sizeof name) == 0) {
			j->pending++;
			query(run, j, P_ORIGIN, 0, NULL, name, RESOLVER_TXT);
		} else {
			j->asn_ttl = 3600;
		}
	}
	release(j);
}

void senders_lookup(struct resolver *r, const char *const *ips, size_t n,
                    const struct senders_lookup_opts *o, int64_t deadline_ms, senders_fact_cb cb,
                    void *arg, struct senders_lookup_stats *st)
{
	static const struct senders_lookup_opts defaults = {0};
	memset(st, 0, sizeof *st);
	struct run run = {.r = r, .o = o ? o : &defaults, .cb = cb, .arg = arg, .st = st};
	run.origin = run.o->origin_zone ? run.o->origin_zone : SENDERS_ORIGIN_ZONE;
	run.origin6 = run.o->origin6_zone ? run.o->origin6_zone : SENDERS_ORIGIN6_ZONE;
	run.asname = run.o->asname_zone ? run.o->asname_zone : SENDERS_ASNAME_ZONE;
	unsigned giveup = run.o->giveup_after ? run.o->giveup_after : 16;
	size_t next = 0;
	while (next < n || resolver_pending(r) > 0) {
		while (next < n && run.active < ACTIVE_JOBS)
			start(&run, ips[next++]);
		if (resolver_now_ms() >= deadline_ms)
			break;
		/* Short slices, so finished jobs make room for new ones. */
		int64_t slice = resolver_now_ms() + 50;
		resolver_run(r, slice < deadline_ms ? slice : deadline_ms);
		if (run.answered == 0 && run.concluded >= giveup) {
			run.gave_up = true;
			st->unreachable = true;
			break;
		}
	}
	/* Whatever is still in flight is left for the next run. */
	resolver_cancel(r);
	st->left += n - next;
	for (size_t i = 0; i < run.nasns; i++) {
		free(run.asns[i]->waiters);
		free(run.asns[i]);
	}
	free(run.asns);
}
