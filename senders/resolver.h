/*
 * resolver: asynchronous DNS queries (c-ares) for PTR, A, AAAA, MX and TXT
 * records, with many queries in flight, a per-query timeout and retries.
 * General on purpose: source naming uses it for reverse DNS, forward
 * confirmation and the ASN TXT zones; blocklist (DNSBL) lookups can use it
 * the same way.
 *
 * resolver_query queues a question; resolver_run drives the event loop until
 * nothing is pending or the deadline passes. Each query's callback runs
 * exactly once (from resolver_run, resolver_cancel or resolver_free) with a
 * status, the answer's values as text and a TTL. Callbacks may queue further
 * queries. The answer and its strings belong to the resolver and live only
 * for the duration of the callback.
 *
 * Servers: "IP[:PORT],..." ("[v6]:PORT" for IPv6 with a port), or NULL for
 * /etc/resolv.conf. resolver_new returns ERR_CONFIG for a bad server list.
 */
#ifndef DS_SENDERS_RESOLVER_H
#define DS_SENDERS_RESOLVER_H

#include "core/err.h"

#include <stddef.h>
#include <stdint.h>

enum resolver_type {
	RESOLVER_A = 1,
	RESOLVER_PTR = 12,
	RESOLVER_MX = 15,
	RESOLVER_TXT = 16,
	RESOLVER_AAAA = 28,
};

enum resolver_status {
	RESOLVER_OK,          /* values holds at least one answer */
	RESOLVER_NODATA,      /* the name exists, no record of this type */
	RESOLVER_NXDOMAIN,    /* no such name */
	RESOLVER_SERVFAIL,    /* the server failed (or refused) to answer */
	RESOLVER_TIMEOUT,     /* no answer within timeout x tries */
	RESOLVER_UNREACHABLE, /* no server could be reached (connection refused) */
	RESOLVER_BADRESPONSE, /* an answer we could not read */
	RESOLVER_CANCELLED,   /* resolver_cancel / resolver_free before an answer */
};

struct resolver_answer {
	enum resolver_status status;
	/* OK: the smallest TTL of the answer records; NXDOMAIN / NODATA: the
	 * negative-caching TTL from the SOA (RFC 2308), 0 when none; else 0. */
	uint32_t ttl;
	size_t n;
	/* PTR: host names (no trailing dot); A/AAAA: addresses in text form;
	 * MX: exchange host names, lowest preference first (no trailing dot);
	 * TXT: one string per record, its character-strings concatenated. */
	char **values;
};

typedef void (*resolver_cb)(void *arg, const char *name, enum resolver_type type,
                            const struct resolver_answer *answer);

struct resolver_opts {
	const char *servers; /* NULL: /etc/resolv.conf */
	int timeout_ms;      /* per try; 0: 2000 */
	int tries;           /* 0: 2 */
	size_t max_inflight; /* queries handed to c-ares at once; 0: 256 */
};

struct resolver;

int resolver_new(struct resolver **out, const struct resolver_opts *opts, struct err *e);
/* Cancels what is pending (callbacks run with RESOLVER_CANCELLED). NULL ok. */
void resolver_free(struct resolver *r);
void resolver_query(struct resolver *r, const char *name, enum resolver_type type, resolver_cb cb,
                    void *arg);
/* Queries queued or in flight. */
size_t resolver_pending(const struct resolver *r);
/* Processes answers until nothing is pending or CLOCK_MONOTONIC passes
 * deadline_ms (resolver_now_ms() based). Returns what is still pending. */
size_t resolver_run(struct resolver *r, int64_t deadline_ms);
/* Every pending query's callback runs with RESOLVER_CANCELLED. */
void resolver_cancel(struct resolver *r);
int64_t resolver_now_ms(void);

/* "192.0.2.1" -> "1.2.0.192.in-addr.arpa"; IPv6 -> nibbles under ip6.arpa;
 * an IPv4-mapped IPv6 address is treated as the IPv4 address. With `zone`
 * not NULL the reversed address is put under that zone instead (DNSBL and
 * ASN origin zones). Returns -1 when `ip` is not an address. */
int resolver_reverse_name(const char *ip, const char *zone, char *out, size_t outsz);
const char *resolver_status_name(enum resolver_status st);
/* 4 or 6 (an IPv4-mapped IPv6 address is 4), 0 when `ip` is no address. */
int resolver_ip_family(const char *ip);

#endif
