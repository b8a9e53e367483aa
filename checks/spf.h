/*
 * spf: SPF records (RFC 7208) read, followed and evaluated without doing
 * any I/O of its own: the DNS answers come from a lookup callback
 * (checks/dnscheck.h: the real resolver in app/dnscheck.c, a table in the
 * tests).
 *
 * spfrec_parse reads one record's terms (untrusted bytes). spf_walk follows
 * a domain's record through include:, redirect=, a, mx, exists and ptr the
 * way a receiver may, counting the DNS-querying terms against the limit of
 * 10 and the void look-ups against the limit of 2 (RFC 7208 section 4.6.4),
 * and resolving the addresses of a and mx; spf_eval then says what a
 * receiver would answer for a source address (check_host() without macros
 * and without ptr, which are reported, not guessed).
 */
#ifndef DS_CHECKS_SPF_H
#define DS_CHECKS_SPF_H

#include "core/buf.h"
#include "senders/resolver.h"

#include <stdbool.h>
#include <stddef.h>

enum spf_mech {
	SPF_ALL,
	SPF_INCLUDE,
	SPF_A,
	SPF_MX,
	SPF_PTR,
	SPF_IP4,
	SPF_IP6,
	SPF_EXISTS,
};

struct spf_term {
	enum spf_mech mech;
	char qual;   /* + - ~ ? */
	char *arg;   /* domain-spec or address; NULL when absent */
	int cidr4;   /* prefix length (32 when absent) */
	int cidr6;   /* prefix length (128 when absent) */
	bool macros; /* the domain-spec holds a %{...} macro */
};

struct spfrec {
	struct spf_term *t;
	size_t n;
	char *redirect; /* NULL when absent */
};

/* 0, or -1 with the first syntax problem in why. */
int spfrec_parse(const char *txt, struct spfrec *r, struct buf *why);
void spfrec_free(struct spfrec *r);

/* The answers: a pointer valid until the callback's owner frees it. */
typedef const struct resolver_answer *(*spf_lookup_fn)(void *ctx, const char *name,
                                                       enum resolver_type type);

enum spf_result {
	SPF_R_NONE,
	SPF_R_NEUTRAL,
	SPF_R_PASS,
	SPF_R_FAIL,
	SPF_R_SOFTFAIL,
	SPF_R_TEMPERROR,
	SPF_R_PERMERROR,
	SPF_R_UNKNOWN, /* depends on a macro or ptr: not evaluated */
};
const char *spf_result_name(enum spf_result r);

/* What spf_walk saw. A node per record followed. */
struct spf_node;
struct spf_walk {
	struct spf_node *root;
	int lookups;              /* DNS-querying terms, limit 10 */
	int voids;                /* empty answers, limit 2 */
	bool temperror;           /* some look-up failed: counts may be low */
	bool macros, ptr;         /* terms not evaluated */
	bool pass_all;            /* +all (or a bare all) somewhere */
	bool mx_over;             /* an mx with more than 10 hosts */
	struct buf voided;        /* the names that gave void answers, ", "-joined */
	struct buf errors;        /* permerrors found below the root: "; "-joined */
	struct buf lookup_failed; /* names whose look-up failed */
};

/* Follows the record `txt` of `domain` (already looked up by the caller).
 * Never fails; what it found is in *w (spf_walk_free). */
void spf_walk(const char *domain, const char *txt, spf_lookup_fn lookup, void *ctx,
              struct spf_walk *w);
void spf_walk_free(struct spf_walk *w);
/* What a receiver would say for `ip` (text form). */
enum spf_result spf_eval(const struct spf_walk *w, const char *ip);

/* Whether `ip` is inside net/prefix (both text addresses of one family). */
bool spf_ip_in(const char *ip, const char *net, int prefix);

#endif
