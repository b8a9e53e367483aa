/*
 * test_resolver: the c-ares resolver and the per-address lookup against a
 * real DNS server (unbound on loopback, started by scripts/test.sh with
 * fixtures/dns/zone.conf; its address in DMARCSIFT_TEST_DNS): PTR with
 * forward confirmation, a mismatched PTR, NXDOMAIN with its negative TTL, a
 * zone that never answers (timeout), IPv6, ASN TXT records, TTLs, a server
 * that is not there, and the give-up when no server answers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "senders/cache.h"
#include "senders/lookup.h"
#include "senders/mmdb.h"
#include "senders/resolver.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *dns(void)
{
	const char *s = getenv("DMARCSIFT_TEST_DNS");
	if (!s || !*s) {
		fprintf(stderr,
		        "DMARCSIFT_TEST_DNS is not set: run the tests through scripts/test.sh "
		        "(it starts scripts/dns-test-server.sh)\n");
		fail();
	}
	return s;
}

struct got {
	int calls;
	enum resolver_status status;
	uint32_t ttl;
	char values[8][256];
	size_t n;
};

static void on_answer(void *arg, const char *name, enum resolver_type type,
                      const struct resolver_answer *a)
{
	(void)name;
	(void)type;
	struct got *g = arg;
	g->calls++;
	g->status = a->status;
	g->ttl = a->ttl;
	g->n = a->n < 8 ? a->n : 8;
	for (size_t i = 0; i < g->n; i++)
		snprintf(g->values[i], sizeof g->values[i], "%s", a->values[i]);
}

static struct resolver *mk(const char *servers, int timeout_ms)
{
	struct resolver *r = NULL;
	struct err e = {0};
	struct resolver_opts o = {.servers = servers, .timeout_ms = timeout_ms, .tries = 1};
	assert_int_equal(resolver_new(&r, &o, &e), 0);
	return r;
}

static struct got ask(const char *name, enum resolver_type type)
{
	struct resolver *r = mk(dns(), 1000);
	struct got g = {0};
	resolver_query(r, name, type, on_answer, &g);
	assert_int_equal(resolver_run(r, resolver_now_ms() + 5000), 0);
	resolver_free(r);
	assert_int_equal(g.calls, 1);
	return g;
}

static void test_reverse_names(void **state)
{
	(void)state;
	char n[128];
	assert_int_equal(resolver_reverse_name("192.0.2.1", NULL, n, sizeof n), 0);
	assert_string_equal(n, "1.2.0.192.in-addr.arpa");
	assert_int_equal(resolver_reverse_name("192.0.2.1", "origin.asn.cymru.com", n, sizeof n),
	                 0);
	assert_string_equal(n, "1.2.0.192.origin.asn.cymru.com");
	assert_int_equal(resolver_reverse_name("2001:db8::25", NULL, n, sizeof n), 0);
	assert_string_equal(
	    n, "5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
	assert_int_equal(resolver_reverse_name("::ffff:192.0.2.33", NULL, n, sizeof n), 0);
	assert_string_equal(n, "33.2.0.192.in-addr.arpa");
	assert_int_equal(resolver_reverse_name("not-an-ip", NULL, n, sizeof n), -1);
	assert_int_equal(resolver_reverse_name("192.0.2.1", NULL, n, 10), -1);
	assert_int_equal(resolver_ip_family("::ffff:192.0.2.33"), 4);
	assert_int_equal(resolver_ip_family("2001:db8::1"), 6);
	assert_int_equal(resolver_ip_family("192.0.2.300"), 0);
}

static void test_ptr_a_txt(void **state)
{
	(void)state;
	struct got g = ask("1.2.0.192.in-addr.arpa", RESOLVER_PTR);
	assert_int_equal(g.status, RESOLVER_OK);
	assert_string_equal(g.values[0], "mail-ot1-f41.google.com");
	assert_int_equal(g.ttl, 3600);

	g = ask("o7.ptr4821.sendgrid.net", RESOLVER_A);
	assert_int_equal(g.status, RESOLVER_OK);
	assert_string_equal(g.values[0], "198.51.100.7");
	assert_int_equal(g.ttl, 86400);

	g = ask("mail-am6eur05on2025.outbound.protection.outlook.com", RESOLVER_AAAA);
	assert_int_equal(g.status, RESOLVER_OK);
	assert_string_equal(g.values[0], "2001:db8::25");

	g = ask("AS15169.asn.cymru.com", RESOLVER_TXT);
	assert_int_equal(g.status, RESOLVER_OK);
	assert_string_equal(g.values[0], "15169 | US | arin | 2000-03-30 | GOOGLE, US");

	/* A name that exists without records of the type. */
	g = ask("o7.ptr4821.sendgrid.net", RESOLVER_TXT);
	assert_int_equal(g.status, RESOLVER_NODATA);
}

static void test_nxdomain_negative_ttl(void **state)
{
	(void)state;
	struct got g = ask("9.100.51.198.in-addr.arpa", RESOLVER_PTR);
	assert_int_equal(g.status, RESOLVER_NXDOMAIN);
	/* The zone's SOA: TTL 3600, MINIMUM 600 -> 600 (RFC 2308). */
	assert_int_equal(g.ttl, 600);
	assert_int_equal(senders_cache_ttl(g.status, g.ttl), 600);
}

static void test_timeout(void **state)
{
	(void)state;
	struct resolver *r = mk(dns(), 300);
	struct got g = {0};
	int64_t t0 = resolver_now_ms();
	resolver_query(r, "13.100.51.198.in-addr.arpa", RESOLVER_PTR, on_answer, &g);
	resolver_run(r, t0 + 5000);
	int64_t took = resolver_now_ms() - t0;
	resolver_free(r);
	assert_int_equal(g.calls, 1);
	assert_int_equal(g.status, RESOLVER_TIMEOUT);
	/* One try of 300 ms (c-ares may stretch it a little), far from 5 s. */
	assert_true(took >= 250 && took < 2500);
}

static void test_deadline_cancels(void **state)
{
	(void)state;
	struct resolver *r = mk(dns(), 3000);
	struct got g = {0};
	resolver_query(r, "13.100.51.198.in-addr.arpa", RESOLVER_PTR, on_answer, &g);
	assert_int_equal(resolver_run(r, resolver_now_ms() + 200), 1);
	assert_int_equal(g.calls, 0);
	resolver_cancel(r);
	assert_int_equal(g.calls, 1);
	assert_int_equal(g.status, RESOLVER_CANCELLED);
	resolver_free(r);
}

/* A loopback port with nobody on it: connection refused. */
static int dead_port(void)
{
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
	socklen_t len = sizeof a;
	getsockname(s, (struct sockaddr *)&a, &len);
	close(s);
	return ntohs(a.sin_port);
}

static void test_unreachable(void **state)
{
	(void)state;
	char servers[64];
	snprintf(servers, sizeof servers, "127.0.0.1:%d", dead_port());
	struct resolver *r = mk(servers, 1000);
	struct got g = {0};
	int64_t t0 = resolver_now_ms();
	resolver_query(r, "1.2.0.192.in-addr.arpa", RESOLVER_PTR, on_answer, &g);
	resolver_run(r, t0 + 5000);
	resolver_free(r);
	assert_int_equal(g.calls, 1);
	assert_true(g.status == RESOLVER_UNREACHABLE || g.status == RESOLVER_TIMEOUT);
}

static void test_bad_servers(void **state)
{
	(void)state;
	struct resolver *r = NULL;
	struct err e = {0};
	struct resolver_opts o = {.servers = "not a server"};
	assert_int_equal(resolver_new(&r, &o, &e), -1);
	assert_int_equal(e.kind, ERR_CONFIG);
	assert_non_null(strstr(e.msg, "not a server"));
}

struct fact {
	char ip[64];
	enum resolver_status ptr_status, asn_status;
	char ptr[256];
	bool confirmed;
	uint32_t ptr_ttl, asn, asn_ttl;
	char as_name[128], country[3];
};

struct facts {
	size_t n;
	struct fact f[32];
};

static void on_fact(void *arg, const struct senders_fact *f)
{
	struct facts *fs = arg;
	assert_true(fs->n < 32);
	struct fact *o = &fs->f[fs->n++];
	snprintf(o->ip, sizeof o->ip, "%s", f->ip);
	o->ptr_status = f->ptr_status;
	o->asn_status = f->asn_status;
	snprintf(o->ptr, sizeof o->ptr, "%s", f->ptr ? f->ptr : "");
	o->confirmed = f->ptr_confirmed;
	o->ptr_ttl = f->ptr_ttl;
	o->asn = f->asn;
	o->asn_ttl = f->asn_ttl;
	snprintf(o->as_name, sizeof o->as_name, "%s", f->as_name);
	snprintf(o->country, sizeof o->country, "%s", f->country);
}

static int find(const struct facts *fs, const char *ip)
{
	for (size_t i = 0; i < fs->n; i++)
		if (strcmp(fs->f[i].ip, ip) == 0)
			return (int)i;
	fail_msg("no fact for %s", ip);
	return -1;
}

static void test_lookup(void **state)
{
	(void)state;
	const char *ips[] = {"192.0.2.1",    "198.51.100.7",  "203.0.113.40",
	                     "198.51.100.8", "198.51.100.9",  "2001:db8::25",
	                     "2001:db8::a",  "198.51.100.13", "192.0.2.77"};
	size_t n = sizeof ips / sizeof *ips;
	struct resolver *r = mk(dns(), 400);
	struct facts fs = {0};
	struct senders_lookup_stats st;
	senders_lookup(r, ips, n, NULL, resolver_now_ms() + 10000, on_fact, &fs, &st);
	resolver_free(r);
	assert_int_equal(st.done, n);
	assert_int_equal(st.left, 0);
	assert_false(st.unreachable);

	int i = find(&fs, "192.0.2.1");
	assert_string_equal(fs.f[i].ptr, "mail-ot1-f41.google.com");
	assert_true(fs.f[i].confirmed);
	assert_int_equal(fs.f[i].asn, 15169);
	assert_string_equal(fs.f[i].as_name, "GOOGLE, US");
	assert_string_equal(fs.f[i].country, "US");

	/* PTR TTL 60 s: cached for the 1 h floor. */
	i = find(&fs, "198.51.100.7");
	assert_true(fs.f[i].confirmed);
	assert_int_equal(fs.f[i].ptr_ttl, 60);
	assert_int_equal(senders_cache_ttl(RESOLVER_OK, fs.f[i].ptr_ttl), 3600);
	assert_int_equal(fs.f[i].asn, 11377);

	/* 30 days: the 7-day ceiling. */
	i = find(&fs, "203.0.113.40");
	assert_int_equal(fs.f[i].ptr_ttl, 2592000);
	assert_int_equal(senders_cache_ttl(RESOLVER_OK, fs.f[i].ptr_ttl), 7 * 24 * 3600);
	assert_string_equal(fs.f[i].as_name, "AMAZON-02, US");

	i = find(&fs, "198.51.100.8");
	assert_int_equal(fs.f[i].ptr_status, RESOLVER_OK);
	assert_string_equal(fs.f[i].ptr, "mail.example.com");
	assert_false(fs.f[i].confirmed);
	assert_int_equal(fs.f[i].asn, 64500);
	assert_string_equal(fs.f[i].country, "NL");

	i = find(&fs, "198.51.100.9");
	assert_int_equal(fs.f[i].ptr_status, RESOLVER_NXDOMAIN);
	assert_string_equal(fs.f[i].ptr, "");

	i = find(&fs, "2001:db8::25");
	assert_string_equal(fs.f[i].ptr, "mail-am6eur05on2025.outbound.protection.outlook.com");
	assert_true(fs.f[i].confirmed);
	assert_int_equal(fs.f[i].asn, 8075);

	i = find(&fs, "2001:db8::a");
	assert_string_equal(fs.f[i].ptr, "mx.example.org");
	assert_false(fs.f[i].confirmed);

	/* Two names: the one that resolves back wins. */
	i = find(&fs, "192.0.2.77");
	assert_string_equal(fs.f[i].ptr, "mta77.example.net");
	assert_true(fs.f[i].confirmed);

	i = find(&fs, "198.51.100.13");
	assert_int_equal(fs.f[i].ptr_status, RESOLVER_TIMEOUT);
	assert_int_equal(senders_cache_ttl(RESOLVER_TIMEOUT, 0), 300);
	assert_int_equal(st.failed, 1);
}

static void test_lookup_gives_up_without_dns(void **state)
{
	(void)state;
	char servers[64];
	snprintf(servers, sizeof servers, "127.0.0.1:%d", dead_port());
	enum { N = 300 };
	static char bufs[N][32];
	const char *ips[N];
	for (int i = 0; i < N; i++) {
		snprintf(bufs[i], sizeof bufs[i], "198.51.%d.%d", 100 + i / 250, i % 250 + 1);
		ips[i] = bufs[i];
	}
	struct resolver *r = mk(servers, 500);
	struct facts fs = {0};
	struct senders_lookup_stats st;
	int64_t t0 = resolver_now_ms();
	senders_lookup(r, ips, N, NULL, t0 + 30000, on_fact, &fs, &st);
	int64_t took = resolver_now_ms() - t0;
	resolver_free(r);
	assert_true(st.unreachable);
	assert_int_equal(st.done + st.left, N);
	assert_true(st.left > N / 2);
	/* Refused at once: far below one timeout per address. */
	assert_true(took < 3000);
}

static void test_deadline_leaves_rest(void **state)
{
	(void)state;
	/* Every lookup here waits on the zone that never answers. */
	const char *ips[] = {"198.51.100.13", "198.51.100.13", "198.51.100.13"};
	struct resolver *r = mk(dns(), 5000);
	struct facts fs = {0};
	struct senders_lookup_stats st;
	int64_t t0 = resolver_now_ms();
	senders_lookup(r, ips, 3, NULL, t0 + 300, on_fact, &fs, &st);
	assert_true(resolver_now_ms() - t0 < 2000);
	resolver_free(r);
	assert_int_equal(st.done, 0);
	assert_int_equal(st.left, 3);
}

static void test_lookup_with_mmdb(void **state)
{
	(void)state;
	struct senders_mmdb *mm = NULL;
	struct err e = {0};
	assert_int_equal(senders_mmdb_open(&mm, FIXTURES_DIR "/mmdb/asn-country.mmdb", &e), 0);
	const char *ips[] = {"198.51.100.7", "203.0.113.40"};
	struct senders_lookup_opts o = {.mmdb = mm};
	struct resolver *r = mk(dns(), 1000);
	struct facts fs = {0};
	struct senders_lookup_stats st;
	senders_lookup(r, ips, 2, &o, resolver_now_ms() + 10000, on_fact, &fs, &st);
	resolver_free(r);
	senders_mmdb_close(mm);
	assert_int_equal(st.done, 2);
	/* ASN from the database, not from the TXT zones (which say 11377)... */
	int i = find(&fs, "198.51.100.7");
	assert_int_equal(fs.f[i].asn, 64500);
	assert_string_equal(fs.f[i].as_name, "EXAMPLE-MMDB-NET");
	assert_string_equal(fs.f[i].country, "NL");
	/* ...the PTR still from DNS. */
	assert_string_equal(fs.f[i].ptr, "o7.ptr4821.sendgrid.net");
	assert_true(fs.f[i].confirmed);
	/* Not in the database: no ASN, and only the PTR queries were sent. */
	i = find(&fs, "203.0.113.40");
	assert_int_equal(fs.f[i].asn, 0);
	assert_int_equal(fs.f[i].asn_status, RESOLVER_NXDOMAIN);
	assert_int_equal(st.queries, 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reverse_names),
	    cmocka_unit_test(test_ptr_a_txt),
	    cmocka_unit_test(test_nxdomain_negative_ttl),
	    cmocka_unit_test(test_timeout),
	    cmocka_unit_test(test_deadline_cancels),
	    cmocka_unit_test(test_unreachable),
	    cmocka_unit_test(test_bad_servers),
	    cmocka_unit_test(test_lookup),
	    cmocka_unit_test(test_lookup_gives_up_without_dns),
	    cmocka_unit_test(test_deadline_leaves_rest),
	    cmocka_unit_test(test_lookup_with_mmdb),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
