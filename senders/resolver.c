/*
 * resolver: see resolver.h. One c-ares channel; queries beyond max_inflight
 * wait in our own FIFO so a run over 100,000 addresses never hands c-ares
 * 100,000 queries at once. The event loop polls c-ares' sockets
 * (ares_getsock) and lets it handle timeouts and retries (ares_timeout,
 * ares_process_fd).
 */
#include "senders/resolver.h"

#include "core/xalloc.h"
#include "senders/dnsmsg.h"

#include <ares.h>
#include <arpa/inet.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct query {
	struct resolver *r;
	char *name;
	enum resolver_type type;
	resolver_cb cb;
	void *arg;
	struct query *next; /* in the wait queue */
};

struct resolver {
	ares_channel ch;
	size_t max_inflight;
	size_t inflight;
	struct query *head, *tail; /* waiting to be sent */
	size_t waiting;
	bool cancelling;
};

static bool lib_ready;

int64_t resolver_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *resolver_status_name(enum resolver_status st)
{
	switch (st) {
	case RESOLVER_OK:
		return "ok";
	case RESOLVER_NODATA:
		return "nodata";
	case RESOLVER_NXDOMAIN:
		return "nxdomain";
	case RESOLVER_SERVFAIL:
		return "servfail";
	case RESOLVER_TIMEOUT:
		return "timeout";
	case RESOLVER_UNREACHABLE:
		return "unreachable";
	case RESOLVER_BADRESPONSE:
		return "badresponse";
	case RESOLVER_CANCELLED:
		return "cancelled";
	}
	return "?";
}

int resolver_new(struct resolver **out, const struct resolver_opts *o, struct err *e)
{
	*out = NULL;
	if (!lib_ready) {
		if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS)
			return err_set(e, ERR_INTERNAL, "c-ares cannot be initialised");
		lib_ready = true;
	}
	struct ares_options ao;
	memset(&ao, 0, sizeof ao);
	ao.timeout = o && o->timeout_ms > 0 ? o->timeout_ms : 2000;
	ao.tries = o && o->tries > 0 ? o->tries : 2;
	/* No search list: we only ask fully qualified names. */
	ao.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES;
	int mask = ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS;
	ares_channel ch;
	int rc = ares_init_options(&ch, &ao, mask);
	if (rc != ARES_SUCCESS)
		return err_set(e, ERR_CONFIG, "DNS resolver cannot be set up: %s",
		               ares_strerror(rc));
	if (o && o->servers && *o->servers) {
		rc = ares_set_servers_ports_csv(ch, o->servers);
		if (rc != ARES_SUCCESS) {
			ares_destroy(ch);
			return err_set(e, ERR_CONFIG,
			               "DNS servers '%s': %s (expected IP[:PORT],... e.g. "
			               "127.0.0.1:5353,[::1]:53)",
			               o->servers, ares_strerror(rc));
		}
	}
	struct resolver *r = xcalloc(1, sizeof *r);
	r->ch = ch;
	r->max_inflight = o && o->max_inflight ? o->max_inflight : 256;
	*out = r;
	return 0;
}

static void free_values(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void push(char ***v, size_t *n, char *s)
{
	*v = xrealloc(*v, (*n + 1) * sizeof **v);
	(*v)[(*n)++] = s;
}

static void push_once(char ***v, size_t *n, const char *s)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp((*v)[i], s) == 0)
			return;
	push(v, n, xstrdup(s));
}

/* The values of a successful answer, by type, with c-ares' own parsers. */
static int parse_values(enum resolver_type type, const unsigned char *buf, int len, char ***v,
                        size_t *n)
{
	if (type == RESOLVER_PTR) {
		struct hostent *h = NULL;
		/* The address arguments only fill h_addr; any will do. */
		unsigned char any[4] = {0};
		int rc = ares_parse_ptr_reply(buf, len, any, sizeof any, AF_INET, &h);
		if (rc == ARES_ENODATA)
			return 0;
		if (rc != ARES_SUCCESS)
			return -1;
		/* c-ares 1.18 lists every PTR name among the aliases and one of
		 * them again as h_name: each name once, in answer order. */
		for (char **a = h->h_aliases; a && *a; a++)
			push_once(v, n, *a);
		if (h->h_name)
			push_once(v, n, h->h_name);
		ares_free_hostent(h);
		return 0;
	}
	if (type == RESOLVER_A || type == RESOLVER_AAAA) {
		struct hostent *h = NULL;
		int rc = type == RESOLVER_A ? ares_parse_a_reply(buf, len, &h, NULL, NULL)
		                            : ares_parse_aaaa_reply(buf, len, &h, NULL, NULL);
		if (rc == ARES_ENODATA)
			return 0;
		if (rc != ARES_SUCCESS)
			return -1;
		for (char **a = h->h_addr_list; a && *a; a++) {
			char txt[INET6_ADDRSTRLEN];
			if (inet_ntop(h->h_addrtype, *a, txt, sizeof txt))
				push(v, n, xstrdup(txt));
		}
		ares_free_hostent(h);
		return 0;
	}
	if (type == RESOLVER_MX) {
		struct ares_mx_reply *mx = NULL;
		int rc = ares_parse_mx_reply(buf, len, &mx);
		if (rc == ARES_ENODATA)
			return 0;
		if (rc != ARES_SUCCESS)
			return -1;
		/* Lowest preference first (SPF's mx and MTA-STS read them in that
		 * order); c-ares gives them in answer order. */
		for (unsigned pref = 0;;) {
			unsigned next = UINT_MAX;
			for (struct ares_mx_reply *m = mx; m; m = m->next) {
				if (m->priority == pref && m->host)
					push(v, n, xstrdup(m->host));
				if (m->priority > pref && m->priority < next)
					next = m->priority;
			}
			if (next == UINT_MAX)
				break;
			pref = next;
		}
		ares_free_data(mx);
		return 0;
	}
	struct ares_txt_ext *txt = NULL;
	int rc = ares_parse_txt_reply_ext(buf, len, &txt);
	if (rc == ARES_ENODATA)
		return 0;
	if (rc != ARES_SUCCESS)
		return -1;
	/* One value per record: a record's character-strings are joined. */
	for (struct ares_txt_ext *t = txt; t; t = t->next) {
		if (t->record_start || *n == 0) {
			push(v, n, xstrndup((const char *)t->txt, t->length));
		} else {
			char *prev = (*v)[*n - 1];
			size_t pl = strlen(prev);
			char *joined = xmalloc(pl + t->length + 1);
			memcpy(joined, prev, pl);
			memcpy(joined + pl, t->txt, t->length);
			joined[pl + t->length] = '\0';
			free(prev);
			(*v)[*n - 1] = joined;
		}
	}
	ares_free_data(txt);
	return 0;
}

static void send_waiting(struct resolver *r);

static void finish(struct query *q, struct resolver_answer *a)
{
	q->cb(q->arg, q->name, q->type, a);
	free(q->name);
	free(q);
}

static void on_answer(void *arg, int status, int timeouts, unsigned char *buf, int len)
{
	(void)timeouts;
	struct query *q = arg;
	struct resolver *r = q->r;
	struct resolver_answer a = {0};
	uint32_t ttl = 0;
	int found = 0;
	r->inflight--;
	switch (status) {
	case ARES_SUCCESS:
		if (!buf || len <= 0 ||
		    dnsmsg_ttl(buf, (size_t)len, (int)q->type, &ttl, &found) != 0 ||
		    parse_values(q->type, buf, len, &a.values, &a.n) != 0) {
			a.status = RESOLVER_BADRESPONSE;
			break;
		}
		a.status = a.n ? RESOLVER_OK : RESOLVER_NODATA;
		a.ttl = ttl;
		break;
	case ARES_ENODATA:
	case ARES_ENOTFOUND:
		a.status = status == ARES_ENODATA ? RESOLVER_NODATA : RESOLVER_NXDOMAIN;
		if (buf && len > 0 && dnsmsg_ttl(buf, (size_t)len, (int)q->type, &ttl, &found) == 0)
			a.ttl = ttl;
		break;
	case ARES_ESERVFAIL:
	case ARES_EREFUSED:
		a.status = RESOLVER_SERVFAIL;
		break;
	case ARES_ETIMEOUT:
		a.status = RESOLVER_TIMEOUT;
		break;
	case ARES_ECONNREFUSED:
		a.status = RESOLVER_UNREACHABLE;
		break;
	case ARES_ECANCELLED:
	case ARES_EDESTRUCTION:
		a.status = RESOLVER_CANCELLED;
		break;
	default:
		a.status = RESOLVER_BADRESPONSE;
		break;
	}
	finish(q, &a);
	free_values(a.values, a.n);
	if (!r->cancelling)
		send_waiting(r);
}

static void send_waiting(struct resolver *r)
{
	while (r->head && r->inflight < r->max_inflight) {
		struct query *q = r->head;
		r->head = q->next;
		if (!r->head)
			r->tail = NULL;
		r->waiting--;
		r->inflight++;
		/* May call on_answer at once (e.g. a malformed name). */
		ares_query(r->ch, q->name, 1 /* C_IN */, (int)q->type, on_answer, q);
	}
}

void resolver_query(struct resolver *r, const char *name, enum resolver_type type, resolver_cb cb,
                    void *arg)
{
	struct query *q = xcalloc(1, sizeof *q);
	q->r = r;
	q->name = xstrdup(name);
	q->type = type;
	q->cb = cb;
	q->arg = arg;
	if (r->tail)
		r->tail->next = q;
	else
		r->head = q;
	r->tail = q;
	r->waiting++;
	send_waiting(r);
}

size_t resolver_pending(const struct resolver *r)
{
	return r->inflight + r->waiting;
}

size_t resolver_run(struct resolver *r, int64_t deadline_ms)
{
	while (resolver_pending(r) > 0) {
		int64_t now = resolver_now_ms();
		if (now >= deadline_ms)
			break;
		ares_socket_t socks[ARES_GETSOCK_MAXNUM];
		/* The bit tests by hand: c-ares' ARES_GETSOCK_WRITABLE shifts a
		 * signed 1 into the sign bit for the 16th socket. */
		unsigned bits = (unsigned)ares_getsock(r->ch, socks, ARES_GETSOCK_MAXNUM);
		struct pollfd pfd[ARES_GETSOCK_MAXNUM];
		nfds_t nfd = 0;
		for (int i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
			short ev = 0;
			if (bits & (1u << i))
				ev |= POLLIN;
			if (bits & (1u << (i + ARES_GETSOCK_MAXNUM)))
				ev |= POLLOUT;
			if (!ev)
				continue;
			pfd[nfd].fd = socks[i];
			pfd[nfd].events = ev;
			pfd[nfd].revents = 0;
			nfd++;
		}
		struct timeval maxtv, tv, *tvp;
		int64_t left = deadline_ms - now;
		maxtv.tv_sec = (time_t)(left / 1000);
		maxtv.tv_usec = (suseconds_t)((left % 1000) * 1000);
		tvp = ares_timeout(r->ch, &maxtv, &tv);
		int wait = (int)(tvp->tv_sec * 1000 + tvp->tv_usec / 1000);
		if (wait < 1)
			wait = 1;
		int n = poll(pfd, nfd, wait);
		if (n <= 0) {
			/* Timeouts (and retries) are handled by c-ares here. */
			ares_process_fd(r->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
			continue;
		}
		for (nfds_t i = 0; i < nfd; i++) {
			if (!pfd[i].revents)
				continue;
			ares_socket_t rd = pfd[i].revents & (POLLIN | POLLERR | POLLHUP)
			                       ? pfd[i].fd
			                       : ARES_SOCKET_BAD;
			ares_socket_t wr = pfd[i].revents & POLLOUT ? pfd[i].fd : ARES_SOCKET_BAD;
			ares_process_fd(r->ch, rd, wr);
		}
	}
	return resolver_pending(r);
}

void resolver_cancel(struct resolver *r)
{
	r->cancelling = true;
	ares_cancel(r->ch);
	while (r->head) {
		struct query *q = r->head;
		r->head = q->next;
		r->waiting--;
		struct resolver_answer a = {.status = RESOLVER_CANCELLED};
		finish(q, &a);
	}
	r->tail = NULL;
	r->cancelling = false;
}

void resolver_free(struct resolver *r)
{
	if (!r)
		return;
	resolver_cancel(r);
	ares_destroy(r->ch);
	free(r);
}

int resolver_reverse_name(const char *ip, const char *zone, char *out, size_t outsz)
{
	unsigned char a[16];
	int n;
	if (inet_pton(AF_INET, ip, a) == 1) {
		n = snprintf(out, outsz, "%u.%u.%u.%u.%s", a[3], a[2], a[1], a[0],
		             zone ? zone : "in-addr.arpa");
		return n > 0 && (size_t)n < outsz ? 0 : -1;
	}
	if (inet_pton(AF_INET6, ip, a) != 1)
		return -1;
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	if (memcmp(a, mapped, sizeof mapped) == 0) {
		n = snprintf(out, outsz, "%u.%u.%u.%u.%s", a[15], a[14], a[13], a[12],
		             zone ? zone : "in-addr.arpa");
		return n > 0 && (size_t)n < outsz ? 0 : -1;
	}
	static const char hex[] = "0123456789abcdef";
	const char *z = zone ? zone : "ip6.arpa";
	size_t zl = strlen(z);
	if (outsz < 64 + zl + 1)
		return -1;
	char *p = out;
	for (int i = 15; i >= 0; i--) {
		*p++ = hex[a[i] & 0xf];
		*p++ = '.';
		*p++ = hex[a[i] >> 4];
		*p++ = '.';
	}
	memcpy(p, z, zl + 1);
	return 0;
}

int resolver_ip_family(const char *ip)
{
	unsigned char a[16];
	if (inet_pton(AF_INET, ip, a) == 1)
		return 4;
	if (inet_pton(AF_INET6, ip, a) != 1)
		return 0;
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	return memcmp(a, mapped, sizeof mapped) == 0 ? 4 : 6;
}
